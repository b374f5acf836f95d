/* The server's polynomial buffers (docs/net.md, "Memory"): one arena of equal blocks, each
 * a polynomial of L rows of n residues, sized from the plan, that every layer and batch
 * reuses. A one-shot process pays for fresh memory in page faults (3-4 s per GiB on the
 * project's VM, where touching a page again costs 0.03 s per GiB); the arena is kept by
 * the server, so the faults are paid by its first batch only, whatever malloc does with
 * freed memory. Measured and not taken: MADV_HUGEPAGE (first touch 15-18 s per GiB on
 * this VM, 4-5x worse) and MAP_POPULATE (3 s per GiB at creation on one thread, no less
 * than the first batch's faults on two). Polynomials are handed to the library's
 * functions with exactly the shape their outputs take, so the library never frees or
 * reallocates a block (a modulus switch's result included: it is written into blocks of
 * its shape); a polynomial malloc gave (the arena empty) is freed when it comes back. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "runtime.h"

/* words between the starts of two blocks beyond the block's own: five cache lines. Blocks
 * exactly 2^k bytes apart (256 KiB at n = 8192, L = 4) put the same coefficients of every
 * ciphertext in the same cache sets, and a linear layer reads a tile of all its inputs at
 * one offset (docs/net.md, "Linear kernel"): 784 tiles in 8 sets of L2. Measured on the
 * MNIST plan's two linear layers (a /tmp program, 3 interleaved runs, loaded machine;
 * seconds per plaintext modulus, conv / dense): 256 KiB apart 0.87-1.11 / 1.64-1.97,
 * malloc's spacing 1.06-1.18 / 1.09-1.27, one line more 1.02-1.08 / 1.08-1.10, five
 * lines more 0.83-0.89 / 0.89-1.09 (3 to 13 lines alike within the noise). */
#define CN_POOL_PAD 40

cn_status cn_pool_init(cn_pool_t *p, size_t blocks, size_t n, size_t L)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    p->L = L;
    p->words = n * L + CN_POOL_PAD;
    if (blocks == 0 || p->words > SIZE_MAX / sizeof(uint64_t) / blocks)
        return CN_OK; /* no arena: every block from malloc */
    p->free_ = malloc(blocks * sizeof *p->free_);
    if (!p->free_)
        return CN_ERR_NO_MEMORY;
    const size_t bytes = blocks * p->words * sizeof(uint64_t);
    /* reserved, not touched: pages are faulted in as blocks are first used */
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        free(p->free_);
        p->free_ = NULL;
        return CN_OK; /* no arena: every block from malloc */
    }
    p->base = m;
    p->cap = blocks;
    /* a stack whose top is the lowest block: the pages in use stay contiguous */
    for (size_t b = 0; b < blocks; b++)
        p->free_[b] = p->base + (blocks - 1 - b) * p->words;
    p->nfree = blocks;
    return CN_OK;
}

void cn_pool_clear(cn_pool_t *p)
{
    if (p->base)
        munmap(p->base, p->cap * p->words * sizeof *p->base);
    free(p->free_);
    memset(p, 0, sizeof *p);
}

/* ptr is a block of p's arena */
static int owns(const cn_pool_t *p, const uint64_t *ptr)
{
    return p && p->base && ptr >= p->base && ptr < p->base + p->cap * p->words;
}

/* a block of L rows: from the arena, or (arena empty or absent) from malloc */
static uint64_t *take(cn_pool_t *p, size_t n, size_t L)
{
    uint64_t *b = NULL;
    if (p) {
#pragma omp critical(cn_pool)
        {
            if (p->nfree)
                b = p->free_[--p->nfree];
            else
                p->misses++;
        }
    }
    if (!b)
        b = aligned_alloc(64, n * L * sizeof *b);
    return b;
}

/* poly's memory back to the arena, or to malloc when it is not the arena's */
static void give(cn_pool_t *p, cn_poly_t *poly)
{
    uint64_t *d = poly->data;
    memset(poly, 0, sizeof *poly);
    if (!d)
        return;
    if (!owns(p, d)) {
        free(d);
        return;
    }
#pragma omp critical(cn_pool)
    p->free_[p->nfree++] = d;
}

cn_status cn_pool_shape(cn_pool_t *p, cn_bfv_ciphertext_t *ct, size_t size, size_t level,
                        const cn_bfv_context_t *ctx)
{
    const cn_bfv_params_t *prm = cn_bfv_context_params(ctx);
    const size_t n = prm->n, L = prm->nq;
    if (size < 2 || size > 3 || level < 1 || level > L || (p && (p->n != n || p->L != L)))
        return CN_ERR_INVALID_ARG;
    cn_status st = CN_OK;
    for (size_t i = 0; i < 3; i++) {
        cn_poly_t *c = &ct->c[i];
        if (i >= size) {
            give(p, c);
            continue;
        }
        /* an arena block holds any level; another buffer is kept at its own level */
        if (c->data && !owns(p, c->data) && (c->k != level || c->n != n))
            give(p, c);
        if (!c->data && !(c->data = take(p, n, L))) {
            st = CN_ERR_NO_MEMORY;
            continue;
        }
        c->n = n;
        c->k = level;
        c->form = CN_FORM_COEFF;
    }
    ct->size = size;
    ct->level = level;
    ct->fingerprint = cn_bfv_context_fingerprint(ctx);
    ct->has_seed = 0;
    return st;
}

void cn_pool_put(cn_pool_t *p, cn_bfv_ciphertext_t *ct)
{
    for (size_t i = 0; i < 3; i++)
        give(p, &ct->c[i]);
    memset(ct, 0, sizeof *ct);
}

void cn_pool_put_vec(cn_pool_t *p, cn_ctvec_t *v)
{
    if (v->ct)
        for (size_t i = 0; i < v->len; i++)
            cn_pool_put(p, &v->ct[i]);
    free(v->ct);
    v->ct = NULL;
    v->len = 0;
}

size_t cn_pool_blocks(const cn_plan_t *plan, int threads)
{
    /* one plaintext modulus at a time: the polynomials alive at once, op by op (a square
     * or relinearization holds one output beside its input per thread), with the first
     * segment in the chunks the server takes (net/plan/segment.c) */
    return cn_plan_peak_blocks(plan->ops, plan->nops, plan->nin, plan->prm.nt,
                               (size_t)cn_nthreads(threads),
                               cn_plan_chunks(plan->ops, plan->nops, plan->nin, &plan->prm));
}
