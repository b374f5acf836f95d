/* The client (docs/net.md): keys from the OS (or a seed, for tests), encryption of a
 * batch straight into its bytes, decryption with CRT decoding over the plaintext moduli,
 * and the client's state as a file (secret key and the plan it belongs to). */
#define _GNU_SOURCE /* mremap */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"

void cn_client_free(cn_client_t *c)
{
    if (!c)
        return;
    if (c->has_rk)
        cn_bfv_relin_key_clear(&c->rk);
    if (c->has_gk)
        cn_bfv_galois_keys_clear(&c->gk);
    cn_bfv_secret_key_clear(&c->sk);
    cn_rng_clear(&c->rng);
    cn_bfv_context_free(c->ctx);
    free(c);
}

void cn_client_set_threads(cn_client_t *c, int threads)
{
    c->threads = threads < 0 ? 0 : threads;
}

/* A client for plan with its context and generator (OS randomness, or rng_seed for tests),
 * no keys yet. */
static cn_status client_new(cn_client_t **out, const cn_plan_t *plan, const uint8_t *rng_seed,
                            uint64_t ack)
{
    *out = NULL;
    if (plan->packed) /* the packed client's (cn_plan_packed says so in its diag) */
        return CN_ERR_UNSUPPORTED;
    cn_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return CN_ERR_NO_MEMORY;
    c->plan = plan;
    cn_status st = cn_bfv_context_create(&c->ctx, &plan->prm);
    if (st == CN_OK)
        st = rng_seed ? cn_rng_init_insecure_deterministic(&c->rng, rng_seed, ack)
                      : cn_rng_init(&c->rng);
    if (st != CN_OK) {
        cn_client_free(c);
        return st;
    }
    *out = c;
    return CN_OK;
}

/* The relinearization key, when the plan has a relinearization op, and the Galois keys
 * of the plan's rotations, when it has any. */
static cn_status client_relin_key(cn_client_t *c)
{
    cn_status st = CN_OK;
    if (cn_plan_needs_relin(c->plan)) {
        st = cn_bfv_keygen_relin(&c->rk, &c->sk, c->ctx, &c->rng);
        c->has_rk = st == CN_OK;
    }
    return st == CN_OK ? cn_client_make_galois(c) : st;
}

cn_status cn_client_create(cn_client_t **out, const cn_plan_t *plan, const uint8_t *rng_seed,
                           uint64_t ack)
{
    cn_client_t *c;
    cn_status st = client_new(&c, plan, rng_seed, ack);
    if (st != CN_OK)
        return st;
    st = cn_bfv_keygen_secret(&c->sk, c->ctx, &c->rng);
    if (st == CN_OK)
        st = client_relin_key(c);
    if (st != CN_OK) {
        cn_client_free(c);
        return st;
    }
    *out = c;
    return CN_OK;
}

/* The evaluation keys: a relinearization key, or an empty batch when none is needed
 * (so the server still checks the parameters' fingerprint), then the Galois keys of the
 * plan's rotations if it has any (evalkeys.c). */
cn_status cn_client_eval_keys(uint8_t **buf, size_t *len, cn_client_t *c)
{
    return cn_evalkeys_save(buf, len, c);
}

/* A buffer of len bytes for a batch (hundreds of MB; the caller releases it with free),
 * its pages made present up front, in slices over the threads (MADV_POPULATE_WRITE, Linux
 * 5.14): one call per slice instead of one page fault per 4 KiB page as the records are
 * written. Where the kernel refuses, the pages fault in as before. */
static void *batch_alloc(size_t len, int threads)
{
    (void)threads; /* read by the OpenMP pragma only, and only with MADV_POPULATE_WRITE */
    uint8_t *p = malloc(len);
#ifdef MADV_POPULATE_WRITE
    const size_t page = 4096, slice = (size_t)16 << 20;
    if (p && len >= slice) {
        const uintptr_t lo = ((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1);
        const uintptr_t hi = ((uintptr_t)p + len) & ~(uintptr_t)(page - 1);
        const long ns = (long)((hi - lo + slice - 1) / slice);
#pragma omp parallel for num_threads(cn_nthreads(threads)) schedule(dynamic, 1)
        for (long i = 0; i < ns; i++) {
            const uintptr_t a = lo + (uintptr_t)i * slice, e = a + slice < hi ? a + slice : hi;
            (void)madvise((void *)a, e - a, MADV_POPULATE_WRITE); /* advice only */
        }
    }
#endif
    return p;
}

/* --- the window of cn_client_encrypt_window ---------------------------------------------
 * The batch's whole address range is reserved (PROT_NONE), and only a window of W bytes
 * of it is memory: [lo, lo + W), at first [0, W), its pages made present once. As the
 * writer moves on, the window's first chunk of WINDOW_CHUNK bytes, whose bytes the reader
 * no longer needs, is moved W bytes on with mremap (page tables moved, not rebuilt),
 * MREMAP_DONTUNMAP leaving an empty private mapping in its place, so no hole ever opens in
 * the range for another mapping to land in. The writer's code, which puts each record at
 * its offset, is unchanged. Why moved and not fresh: on the project's VM, a fresh page
 * costs about 5 us (1 GiB: 2.6 s of faults, 1.3 s with MADV_POPULATE_WRITE), and a page
 * moved by mremap about 0.3 us (docs/benchmarks.md, round 8 of the service's overhead).
 * Where the kernel has no MREMAP_DONTUNMAP (before Linux 5.7), the chunk's pages are freed
 * (MADV_DONTNEED) and fresh ones mapped at its new place. The page before the batch keeps
 * the reservation's address and length for cn_client_batch_free. */

#define WINDOW_CHUNK ((size_t)2 << 20) /* a multiple of the page size; a PMD's reach */

static int window_fresh; /* cn_client_window_fresh_pages */

void cn_client_window_fresh_pages(int on)
{
    window_fresh = on != 0;
}

typedef struct {
    uint8_t *start; /* the batch's first byte (a multiple of WINDOW_CHUNK) */
    size_t W;       /* the window's bytes, a multiple of WINDOW_CHUNK */
    size_t lo;      /* memory is [lo, lo + W) of the batch (under cn_client_window) */
} window_t;

static size_t page_bytes(void)
{
    const long pg = sysconf(_SC_PAGESIZE);
    return pg > 0 ? (size_t)pg : 4096;
}

/* The window over a batch of len bytes (W a multiple of WINDOW_CHUNK) into *win; the
 * batch's start, or NULL when out of memory. */
static uint8_t *window_alloc(window_t *win, size_t len, size_t W)
{
    const size_t pg = page_bytes(), C = WINDOW_CHUNK;
    if (len > SIZE_MAX - W - 2 * C)
        return NULL;
    const size_t range = (len + C - 1) / C * C, mem = W < range ? W : range;
    const size_t total = (range > W ? range : W) + 2 * C; /* room to align, and a page */
    uint8_t *raw =
        mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    uint8_t *start = (uint8_t *)(((uintptr_t)raw + pg + C - 1) & ~(uintptr_t)(C - 1));
    if (mprotect(start - pg, pg, PROT_READ | PROT_WRITE) != 0 ||
        mmap(start, mem, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
             0) == MAP_FAILED) {
        munmap(raw, total);
        return NULL;
    }
    memcpy(start - pg, &raw, sizeof raw);
    memcpy(start - pg + sizeof raw, &total, sizeof total);
#ifdef MADV_POPULATE_WRITE
    (void)madvise(start, mem, MADV_POPULATE_WRITE); /* advice only */
#endif
    *win = (window_t){.start = start, .W = W, .lo = 0};
    return start;
}

/* Moves the window on until it reaches byte e of the batch. The caller's room callback
 * has said that the bytes before e - W, rounded up to WINDOW_CHUNK, are no longer needed,
 * so every chunk moved is one the reader is done with. CN_ERR_NO_MEMORY if the kernel
 * refuses. Called inside critical(cn_client_window). */
static cn_status window_reach(window_t *win, size_t e)
{
    const size_t C = WINDOW_CHUNK;
    while (win->lo + win->W < e) {
        uint8_t *from = win->start + win->lo, *to = from + win->W;
        void *r = MAP_FAILED;
#ifdef MREMAP_DONTUNMAP
        if (!window_fresh)
            r = mremap(from, C, C, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, to);
#endif
        if (r == MAP_FAILED && /* an older kernel: fresh pages there */
            mmap(to, C, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
                 0) == MAP_FAILED)
            return CN_ERR_NO_MEMORY;
        /* what is left behind (the empty mapping MREMAP_DONTUNMAP leaves, or the old
         * pages) becomes reserved address space again: its memory and commit charge go
         * back, and a stray read of it faults instead of reading zeros. Our own mapping
         * is replaced, so no other mapping can land there meanwhile. */
        if (mmap(from, C, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
                 -1, 0) == MAP_FAILED)
            (void)madvise(from, C, MADV_DONTNEED); /* advice only: the memory back */
        win->lo += C;
    }
    return CN_OK;
}

void cn_client_batch_free(uint8_t *buf)
{
    if (!buf)
        return;
    uint8_t *raw;
    size_t total;
    memcpy(&raw, buf - page_bytes(), sizeof raw);
    memcpy(&total, buf - page_bytes() + sizeof raw, sizeof total);
    munmap(raw, total);
}

/* inputs gathered and encrypted together by one thread: one 64-byte cache line of each
 * input row */
#define GATHER 32
#define PREFETCH 16

/* The batch's shape: one seeded ciphertext batch of nin records per plaintext modulus. */
static cn_io_batch_shape_t batch_shape(const cn_client_t *c)
{
    return (cn_io_batch_shape_t){.size = 2,
                                 .level = cn_bfv_context_params(c->ctx)->nq,
                                 .seeded = 1}; /* sk encryptions */
}

/* The window of cn_client_encrypt_window: room for the work items of every thread and
 * two more (an item: GATHER records, with a part's header and checksum), so that the
 * threads rarely wait for the reader, rounded up to WINDOW_CHUNK, and one chunk more, the
 * one the reader may be in the middle of (chunks move whole). */
static size_t window_size(const cn_client_t *c)
{
    const cn_io_batch_shape_t shape = batch_shape(c);
    const size_t rec =
        cn_io_batch_writer_size(1, &shape, c->ctx) - CN_IO_HEADER_BYTES - CN_IO_TRAILER_BYTES;
    const size_t item = GATHER * rec + 2 * CN_IO_HEADER_BYTES + CN_IO_TRAILER_BYTES;
    const size_t w = ((size_t)cn_nthreads(c->threads) + 2) * item, C = WINDOW_CHUNK;
    return (w + C - 1) / C * C + C;
}

size_t cn_client_batch_bytes(const cn_client_t *c)
{
    const cn_io_batch_shape_t shape = batch_shape(c);
    const size_t part = cn_io_batch_writer_size(c->plan->nin, &shape, c->ctx);
    return part && c->plan->prm.nt <= SIZE_MAX / part ? c->plan->prm.nt * part : 0;
}

/* The streamed encryption's progress (cn_client_encrypt_stream): which work items (GATHER
 * inputs of one part) are in and which parts are sealed, and the final prefix of the
 * batch told to the caller. Only touched inside the critical section cn_client_stream. */
typedef struct {
    cn_client_ready_fn ready;
    void *arg;
    const uint8_t *buf;
    size_t nin, nblk, nitems, part, record_bytes;
    uint8_t *item_done; /* [nitems] */
    uint8_t *sealed;    /* [nt] */
    size_t front;       /* items before it are in, and their parts' completed prefix told */
    size_t told;        /* bytes told */
    cn_io_batch_writer_t *wr; /* the window's: each part hashed as it is told, then sealed */
    size_t nt;
    int failure_told; /* ready(arg, NULL, 0) was called (through a window) */
} stream_progress_t;

/* stream_advance through a window: the bytes told are hashed first (the caller may
 * overwrite them once told), and a part is sealed (checksum, then the next part's
 * header) once its last item is in, here, in order, instead of by the thread that put
 * its last record. */
static cn_status window_advance(stream_progress_t *g)
{
    size_t end = g->told;
    cn_status st = CN_OK;
    while (st == CN_OK && g->front < g->nitems && g->item_done[g->front]) {
        const size_t ti = g->front / g->nblk, k = g->front % g->nblk;
        const size_t recs = (k + 1) * GATHER < g->nin ? (k + 1) * GATHER : g->nin;
        g->front++;
        end = ti * g->part + CN_IO_HEADER_BYTES + recs * g->record_bytes;
        st = cn_io_batch_writer_absorb(&g->wr[ti], end - ti * g->part);
        if (st != CN_OK || k + 1 < g->nblk)
            continue;
        st = cn_io_batch_writer_final(&g->wr[ti], NULL);
        end = (ti + 1) * g->part;
        if (st == CN_OK && ti + 1 < g->nt) {
            /* hashed before it is told: once told, the reader may be done with it and
             * its chunk moved on before the part's first item is absorbed */
            st = cn_io_batch_writer_head(&g->wr[ti + 1]);
            if (st == CN_OK)
                st = cn_io_batch_writer_absorb(&g->wr[ti + 1], CN_IO_HEADER_BYTES);
            end += CN_IO_HEADER_BYTES;
        }
    }
    if (end > g->told) {
        g->told = end;
        g->ready(g->arg, g->buf, end);
    }
    return st;
}

/* Advances the final prefix past every item in, in order, and tells the caller when it
 * grew. A part's last bytes (its checksum) are final once the part is sealed; the next
 * part's header was written before the first record. */
static void stream_advance(stream_progress_t *g)
{
    size_t end = g->told;
    while (g->front < g->nitems && g->item_done[g->front]) {
        const size_t ti = g->front / g->nblk, k = g->front % g->nblk;
        if (k + 1 == g->nblk && !g->sealed[ti]) { /* every record, not yet the checksum */
            end = ti * g->part + CN_IO_HEADER_BYTES + g->nin * g->record_bytes;
            break;
        }
        g->front++;
        if (k + 1 < g->nblk)
            end = ti * g->part + CN_IO_HEADER_BYTES + (k + 1) * GATHER * g->record_bytes;
        else if (g->front < g->nitems)
            end = (ti + 1) * g->part + CN_IO_HEADER_BYTES;
        else
            end = (ti + 1) * g->part;
    }
    if (end > g->told) {
        g->told = end;
        g->ready(g->arg, g->buf, end);
    }
}

/* Work item b of encrypt_batch (GATHER inputs of one part): through a window, room
 * asked and the window moved on first; then the inputs gathered, encrypted and put in
 * their records, the part sealed by its last item (without a window), and the progress
 * told (with ready). v: a GATHER x ld scratch block; pt, ct: the thread's. */
static cn_status encrypt_item(stream_progress_t *g, window_t *win, long b, size_t nblk,
                              size_t W, cn_io_batch_writer_t *wr, size_t *left,
                              const cn_client_t *c, const int64_t *x, size_t count, int64_t *v,
                              size_t ld, cn_bfv_plaintext_t *pt, cn_bfv_ciphertext_t *ct,
                              cn_rng_t *rngs, cn_client_room_fn room, void *arg)
{
    const size_t nin = g->nin, nt = g->nt, part = g->part;
    const size_t ti = (size_t)b / nblk, g0 = (size_t)b % nblk * GATHER;
    const size_t gn = nin - g0 < GATHER ? nin - g0 : GATHER;
    cn_status e = CN_OK;
    if (room) {
        /* the window must hold what the item writes: its records, and for a part's last
         * item the checksum and the next part's header */
        size_t e_b = ti * part + CN_IO_HEADER_BYTES + (g0 + gn) * g->record_bytes;
        if (g0 + gn == nin)
            e_b += CN_IO_TRAILER_BYTES + (ti + 1 < nt ? CN_IO_HEADER_BYTES : 0);
        /* the reader done with every chunk the window leaves behind */
        const size_t need =
            e_b > W ? (e_b - W + WINDOW_CHUNK - 1) / WINDOW_CHUNK * WINDOW_CHUNK : 0;
        if (room(arg, need) != 0)
            return CN_ERR_IO;
#pragma omp critical(cn_client_window)
        e = window_reach(win, e_b);
        if (e != CN_OK)
            return e;
    }
    /* the gn inputs' columns in one pass over the rows (one piece of each row instead of
     * gn strided reads), the piece PREFETCH rows ahead requested early: the rows are far
     * apart, so each is a miss the hardware does not foresee */
    for (size_t s = 0; s < count; s++) {
        if (s + PREFETCH < count)
            for (size_t k = 0; k < gn; k += 8)
                __builtin_prefetch(&x[(s + PREFETCH) * nin + g0 + k]);
        for (size_t k = 0; k < gn; k++)
            v[k * ld + s] = x[s * nin + g0 + k];
    }
    if (pt->t_index != ti || !pt->coeffs) {
        cn_bfv_plaintext_clear(pt);
        e = cn_bfv_plaintext_init(pt, c->ctx, ti);
    }
    for (size_t k = 0; k < gn && e == CN_OK; k++) {
        e = cn_bfv_encode_batch(pt, v + k * ld, count, c->ctx);
        if (e == CN_OK)
            e = cn_bfv_encrypt_symmetric(ct, pt, &c->sk, c->ctx, &rngs[ti * nin + g0 + k]);
        if (e == CN_OK)
            e = cn_io_batch_writer_put(&wr[ti], g0 + k, ct);
    }
    if (e != CN_OK)
        return e;
    size_t now;
#pragma omp atomic capture seq_cst
    now = left[ti] -= gn;
    if (now == 0 && !room) /* every record of part ti is in (seq_cst: and visible); through
                            * a window, sealed in order */
        e = cn_io_batch_writer_final(&wr[ti], NULL);
    if (g->ready && e == CN_OK) {
#pragma omp critical(cn_client_stream)
        {
            g->item_done[b] = 1;
            if (now == 0)
                g->sealed[ti] = 1;
            if (room)
                e = window_advance(g);
            else
                stream_advance(g);
        }
    }
    return e;
}

/* cn_client_encrypt, and cn_client_encrypt_stream with ready (NULL: none), drawing the
 * encryption's randomness from parent (the client's generator, or one keyed by a seed). */
static cn_status encrypt_batch(uint8_t **buf, size_t *len, cn_client_t *c, const int64_t *x,
                               size_t count, cn_client_ready_fn ready, cn_client_room_fn room,
                               void *arg, cn_rng_t *parent, cn_net_diag_t *diag)
{
    const cn_plan_t *p = c->plan;
    const size_t n = p->prm.n, nt = p->prm.nt, nin = p->nin;
    if (diag)
        diag->msg[0] = 0;
    if (count == 0 || count > n) {
        cn_diag_set(diag, "count %zu: a batch holds 1 to n = %zu inputs", count, n);
        return CN_ERR_INVALID_ARG;
    }
    cn_status rst = cn_net_check_inputs(x, count, nin, p->in_min, p->in_max, "input", diag);
    if (rst != CN_OK)
        return rst;
    /* one batch object per plaintext modulus, all of equal size: each ciphertext is
     * streamed into its record as soon as it is encrypted (no batch of ciphertexts is
     * held: a thread reuses one), and each part is sealed (header, checksum) by the
     * thread that puts its last record, while the others go on with the next part */
    const cn_io_batch_shape_t shape = batch_shape(c);
    const size_t part = cn_io_batch_writer_size(nin, &shape, c->ctx);
    cn_rng_t *rngs = calloc(nt * nin, sizeof *rngs);
    cn_io_batch_writer_t *wr = calloc(nt, sizeof *wr);
    size_t *left = calloc(nt, sizeof *left);
    const size_t W = room ? window_size(c) : 0;
    window_t win = {0};
    uint8_t *out = !part || nt > SIZE_MAX / part ? NULL
                   : room                        ? window_alloc(&win, nt * part, W)
                                                 : batch_alloc(nt * part, c->threads);
    cn_status st = (rngs && wr && left && out) ? CN_OK : CN_ERR_NO_MEMORY;
    /* one generator per ciphertext, forked in order: the bytes are the same for any
     * number of threads */
    for (size_t i = 0; st == CN_OK && i < nt * nin; i++)
        cn_rng_fork(&rngs[i], parent);
    for (size_t ti = 0; st == CN_OK && ti < nt; ti++) {
        st = cn_io_batch_writer_init(&wr[ti], out + ti * part, part, nin, &shape, 0, c->ctx);
        /* the headers first: the batch is read as it is written (through a window, the
         * later parts' once the part before is sealed: they lie further on) */
        if (st == CN_OK && ready && (!room || ti == 0))
            st = cn_io_batch_writer_head(&wr[ti]);
        if (st == CN_OK && room && ti == 0) /* hashed before told, as window_advance does */
            st = cn_io_batch_writer_absorb(&wr[0], CN_IO_HEADER_BYTES);
        left[ti] = nin;
    }
    /* work items: GATHER inputs of one plaintext modulus, part after part */
    const size_t nblk = (nin + GATHER - 1) / GATHER;
    stream_progress_t g = {.ready = ready,
                           .arg = arg,
                           .buf = out,
                           .nin = nin,
                           .nblk = nblk,
                           .nitems = nt * nblk,
                           .part = part,
                           .record_bytes = st == CN_OK ? wr[0].record_bytes : 0,
                           .wr = room ? wr : NULL,
                           .nt = nt};
    if (st == CN_OK && ready) {
        g.item_done = calloc(nt * nblk, 1);
        g.sealed = calloc(nt, 1);
        if (!g.item_done || !g.sealed) {
            st = CN_ERR_NO_MEMORY;
        } else {
            g.told = CN_IO_HEADER_BYTES; /* the first part's header */
            ready(arg, out, g.told);
        }
    }
    /* columns of the gathered block one cache line more apart than count: with a stride
     * of a power of two bytes, the GATHER stores of a row would fall in one cache set */
    const size_t ld = count + 8;
    int failed = 0; /* an item failed: the others are not taken */
    if (st == CN_OK) {
#pragma omp parallel num_threads(cn_nthreads(c->threads))
        {
            int64_t *v = malloc(GATHER * ld * sizeof *v);
            cn_bfv_plaintext_t pt = {0};
            cn_bfv_ciphertext_t ct = {0};
            cn_status e = v ? CN_OK : CN_ERR_NO_MEMORY;
            int failed_here = 0;
#pragma omp for schedule(dynamic, 1)
            for (long b = 0; b < (long)(nt * nblk); b++) {
                int f;
#pragma omp atomic read
                f = failed;
                if (e == CN_OK && !f)
                    e = encrypt_item(&g, &win, b, nblk, W, wr, left, c, x, count, v, ld, &pt,
                                     &ct, rngs, room, arg);
                if (e != CN_OK && !failed_here) {
                    /* the other threads take no more items; and since the bytes of this
                     * item will never come, a room waiting in another thread is told so
                     * through ready(arg, NULL, 0) */
                    failed_here = 1;
#pragma omp atomic write
                    failed = 1;
                    if (room) {
#pragma omp critical(cn_client_stream)
                        if (!g.failure_told) {
                            g.failure_told = 1;
                            ready(arg, NULL, 0);
                        }
                    }
                }
            }
            /* the first error that is not a stop the failure itself caused (CN_ERR_IO from
             * a room told of it) */
            if (e != CN_OK) {
#pragma omp critical(cn_omp_collect)
                if (st == CN_OK || st == CN_ERR_IO)
                    st = e;
            }
            cn_bfv_ciphertext_clear(&ct);
            cn_bfv_plaintext_clear(&pt);
            free(v);
        }
    }
    if (wr)
        for (size_t ti = 0; ti < nt; ti++)
            cn_io_batch_writer_clear(&wr[ti]);
    free(wr);
    free(left);
    free(g.item_done);
    free(g.sealed);
    if (rngs)
        for (size_t i = 0; i < nt * nin; i++)
            cn_rng_clear(&rngs[i]);
    free(rngs);
    if (st == CN_ERR_IO && room)
        cn_diag_set(diag, "the batch's reader stopped (the room callback said so)");
    else if (st == CN_ERR_NO_MEMORY && room)
        cn_diag_set(diag,
                    "out of memory: the encryption's window (%zu bytes, moved on with "
                    "mremap) or a buffer could not be had",
                    W);
    if (st != CN_OK && ready && g.told) { /* the caller may still be reading it */
        *buf = out;
        *len = 0;
        return st;
    }
    if (st != CN_OK) {
        if (room)
            cn_client_batch_free(out);
        else
            free(out);
        return st;
    }
    *buf = out;
    *len = nt * part;
    return CN_OK;
}

cn_status cn_client_encrypt(uint8_t **buf, size_t *len, cn_client_t *c, const int64_t *x,
                            size_t count, cn_net_diag_t *diag)
{
    return encrypt_batch(buf, len, c, x, count, NULL, NULL, NULL, &c->rng, diag);
}

cn_status cn_client_encrypt_stream(uint8_t **buf, size_t *len, cn_client_t *c, const int64_t *x,
                                   size_t count, cn_client_ready_fn ready, void *arg,
                                   cn_net_diag_t *diag)
{
    if (!ready)
        return CN_ERR_INVALID_ARG;
    return encrypt_batch(buf, len, c, x, count, ready, NULL, arg, &c->rng, diag);
}

/* The domain (ChaCha20 nonce) of a batch seed's stream: distinct from the public seeds'
 * (0x6331 "c1" in lib/bfv/encrypt.c, 0x6b31 | digit << 32 in lib/bfv/keys.c) and from
 * lib/rand's own (-1 insecure, -2 forks), so the same 32 bytes used elsewhere would still
 * give another stream. */
#define BATCH_SEED_DOMAIN 0x6273ULL /* "bs" */

/* The generator is the library's keyed ChaCha20 (cryptonets/rand.h), keyed with the
 * caller's seed through cn_rng_init_public_seed, the one entry that keys it from given
 * bytes: the construction is the same for secret and public keys (a generator's kind only
 * tells insecure ones apart), and what makes this one secret is that the seed is, which
 * the caller's contract in net.h says. Then the batch is encrypted exactly as from the
 * client's generator: one child per ciphertext, forked in order. */
cn_status cn_client_encrypt_seeded(uint8_t **buf, size_t *len, cn_client_t *c, const int64_t *x,
                                   size_t count, const uint8_t seed[CN_SEED_BYTES],
                                   cn_client_ready_fn ready, void *arg, cn_net_diag_t *diag)
{
    if (!seed)
        return CN_ERR_INVALID_ARG;
    cn_rng_t r;
    cn_rng_init_public_seed(&r, seed, BATCH_SEED_DOMAIN);
    const cn_status st = encrypt_batch(buf, len, c, x, count, ready, NULL, arg, &r, diag);
    cn_rng_clear(&r);
    return st;
}

size_t cn_client_window_bytes(const cn_client_t *c)
{
    return window_size(c);
}

cn_status cn_client_encrypt_window(uint8_t **buf, size_t *len, cn_client_t *c, const int64_t *x,
                                   size_t count, const uint8_t seed[CN_SEED_BYTES],
                                   cn_client_ready_fn ready, cn_client_room_fn room, void *arg,
                                   cn_net_diag_t *diag)
{
    if (!seed || !ready || !room)
        return CN_ERR_INVALID_ARG;
    cn_rng_t r;
    cn_rng_init_public_seed(&r, seed, BATCH_SEED_DOMAIN);
    const cn_status st = encrypt_batch(buf, len, c, x, count, ready, room, arg, &r, diag);
    cn_rng_clear(&r);
    return st;
}

cn_status cn_client_decrypt_outputs(cn_int128 *out, cn_client_t *c, const cn_ctvec_t *v,
                                    size_t count)
{
    const cn_plan_t *p = c->plan;
    const size_t n = p->prm.n, nt = p->prm.nt, nout = p->nout;
    uint64_t *res = malloc(nt * nout * n * sizeof *res);
    cn_int128 *col = malloc((count ? count : 1) * sizeof *col);
    cn_plain_crt_t crt = {0};
    cn_status st = res && col ? cn_plain_crt_init(&crt, p->prm.t, nt) : CN_ERR_NO_MEMORY;
    /* the nt x nout ciphertexts on the client's threads (30 for MNIST: 0.10 s on one
     * core in a new process, against 0.05 s on two) */
    if (st == CN_OK) {
        long first = -1; /* the first ciphertext, in order, that failed: its error */
#pragma omp parallel num_threads(cn_nthreads(c->threads))
        {
            cn_bfv_plaintext_t pt = {0};
#pragma omp for schedule(dynamic, 1)
            for (long q = 0; q < (long)(nt * nout); q++) {
                const size_t ti = (size_t)q / nout, j = (size_t)q % nout;
                cn_status e = cn_bfv_decrypt_checked(&pt, &v[ti].ct[j], &c->sk, c->ctx);
                if (e == CN_OK)
                    e = cn_bfv_decode_batch_u64(res + (size_t)q * n, &pt, c->ctx);
                if (e != CN_OK) {
#pragma omp critical(cn_client_decrypt)
                    if (first < 0 || q < first) {
                        first = q;
                        st = e;
                    }
                }
            }
            cn_bfv_plaintext_clear(&pt);
        }
    }
    /* output j of every slot: its residues mod t_0 .. t_{nt-1}, joined by lib/encode's CRT */
    for (size_t j = 0; st == CN_OK && j < nout; j++) {
        const uint64_t *r[CN_BFV_MAX_T];
        for (size_t ti = 0; ti < nt; ti++)
            r[ti] = res + (ti * nout + j) * n;
        st = cn_plain_crt_join_i128(col, r, count, &crt);
        for (size_t s = 0; st == CN_OK && s < count; s++)
            out[s * nout + j] = col[s];
    }
    if (crt.base.k)
        cn_plain_crt_clear(&crt);
    free(res);
    free(col);
    return st;
}

cn_status cn_client_decrypt(cn_int128 *out, cn_client_t *c, const uint8_t *buf, size_t len,
                            size_t count, cn_net_diag_t *diag)
{
    if (diag)
        diag->msg[0] = 0;
    if (count > c->plan->prm.n) {
        cn_diag_set(diag, "count %zu: a reply holds at most n = %zu results", count,
                    c->plan->prm.n);
        return CN_ERR_INVALID_ARG;
    }
    const size_t nt = c->plan->prm.nt;
    cn_ctvec_t v[CN_BFV_MAX_T];
    cn_status st = cn_wire_load_all(v, buf, len, nt, c->plan->nout, c->ctx, diag);
    if (st != CN_OK)
        return st;
    st = cn_client_decrypt_outputs(out, c, v, count);
    if (st == CN_ERR_NOISE_EXHAUSTED)
        cn_diag_set(diag, "reply: a result's noise budget is exhausted (wrong key, another "
                          "plan, or a damaged reply): its decryption cannot be trusted");
    else if (st != CN_OK)
        cn_diag_set(diag, "reply: %s", cn_strerror(st));
    for (size_t ti = 0; ti < nt; ti++)
        cn_ctvec_clear(&v[ti]);
    return st;
}

cn_status cn_client_reply_budget(int *bits, cn_client_t *c, const uint8_t *buf, size_t len,
                                 cn_net_diag_t *diag)
{
    if (diag)
        diag->msg[0] = 0;
    const size_t nt = c->plan->prm.nt;
    cn_ctvec_t v[CN_BFV_MAX_T];
    cn_status st = cn_wire_load_all(v, buf, len, nt, c->plan->nout, c->ctx, diag);
    if (st != CN_OK)
        return st;
    *bits = 1 << 20;
    for (size_t ti = 0; ti < nt; ti++)
        for (size_t i = 0; st == CN_OK && i < v[ti].len; i++) {
            int b;
            st = cn_bfv_noise_budget(&b, &v[ti].ct[i], &c->sk, c->ctx);
            if (st == CN_OK && b < *bits)
                *bits = b;
        }
    for (size_t ti = 0; ti < nt; ti++)
        cn_ctvec_clear(&v[ti]);
    return st;
}

/* --- the client's state (docs/cli.md, "Client state format") -------------------------
 * a lib/io frame of type 0x102 (docs/format.md, "Framing": the common header and
 * checksum) around the body: magic "CNCS", u16 major 1, u16 minor 0, the SHA-256 of the
 * plan bytes (32 bytes), u64 length of the secret key object, the secret key object
 * (lib/io, its own header, fingerprint and checksum). The bytes are built in one
 * exactly sized buffer (no realloc leaves a copy of the key behind) and wiped before
 * they are released; files are read and written with read(2)/write(2), not stdio, whose
 * buffers would keep copies. */

#define STATE_MAGIC "CNCS"
#define STATE_MAJOR 1
#define STATE_MINOR 0
#define STATE_DIGEST 32 /* crypto_hash_sha256_BYTES */
#define STATE_HEAD (8 + STATE_DIGEST + 8)
/* Largest state a loader reads: a secret key of n = 2^17 ternary coefficients and a
 * header is far below it. */
#define STATE_MAX_BYTES ((size_t)1 << 20)

/* d = SHA-256 (FIPS 180-4, libsodium) of the plan's bytes: what identifies a plan. */
static cn_status plan_digest(uint8_t d[STATE_DIGEST], const cn_plan_t *plan)
{
    uint8_t *b;
    size_t len;
    cn_status st = cn_plan_to_bytes(&b, &len, plan);
    if (st != CN_OK)
        return st;
    crypto_hash_sha256(d, b, len);
    free(b);
    return CN_OK;
}

void cn_client_state_free(uint8_t *buf, size_t len)
{
    if (!buf)
        return;
    sodium_memzero(buf, len);
    free(buf);
}

cn_status cn_client_to_bytes(uint8_t **buf, size_t *len, const cn_client_t *c)
{
    return cn_state_to_bytes(buf, len, c->plan, &c->sk, c->ctx);
}

cn_status cn_state_to_bytes(uint8_t **buf, size_t *len, const cn_plan_t *plan,
                            const cn_bfv_secret_key_t *sk, const cn_bfv_context_t *ctx)
{
    const size_t sksz = cn_io_size_secret_key(sk, ctx);
    const size_t total = CN_IO_HEADER_BYTES + STATE_HEAD + sksz + CN_IO_TRAILER_BYTES;
    uint8_t *const f = malloc(total);
    if (!f)
        return CN_ERR_NO_MEMORY;
    /* a fixed writer: the key is written once, in place, and never copied */
    cn_io_writer_t w;
    cn_io_writer_init_fixed(&w, f, total);
    cn_io_writer_frame_begin(&w);
    cn_io_put_bytes(&w, STATE_MAGIC, 4);
    cn_io_put_u16(&w, STATE_MAJOR);
    cn_io_put_u16(&w, STATE_MINOR);
    uint8_t *const digest = cn_io_put_reserve(&w, STATE_DIGEST);
    cn_io_put_u64(&w, sksz);
    uint8_t *const key = cn_io_put_reserve(&w, sksz);
    cn_status st = w.status != CN_OK ? w.status : plan_digest(digest, plan);
    size_t kw = 0;
    if (st == CN_OK)
        st = cn_io_save_secret_key(key, sksz, &kw, sk, ctx);
    if (st == CN_OK && kw != sksz)
        st = CN_ERR_FORMAT;
    if (st == CN_OK) { /* the header and checksum, over the digest and key filled in */
        cn_io_writer_frame_seal(&w, CN_NET_STATE_TYPE, 1, 0);
        st = w.status;
    }
    if (st != CN_OK) {
        cn_client_state_free(f, total);
        return st;
    }
    *buf = f;
    *len = total;
    return CN_OK;
}

/* The secret key object in client-state bytes made for plan (their digest checked). */
cn_status cn_state_open(const uint8_t **key, size_t *klen, const cn_plan_t *plan,
                        const uint8_t *frame, size_t flen, cn_net_diag_t *diag)
{
    *key = NULL;
    *klen = 0;
    cn_io_reader_t r;
    unsigned minor;
    const cn_status fst = cn_net_body_open(&r, &minor, frame, flen, CN_NET_STATE_TYPE,
                                           STATE_MAGIC, STATE_MAJOR, 0, diag);
    if (fst != CN_OK)
        return fst;
    const uint8_t *const recorded = cn_io_get_view(&r, STATE_DIGEST);
    const uint64_t sksz = cn_io_get_u64(&r);
    if (r.status != CN_OK) {
        cn_diag_set(diag, "client state: truncated (%zu bytes)", r.len);
        return CN_ERR_TRUNCATED;
    }
    const size_t left = cn_io_reader_remaining(&r);
    if (sksz != left) {
        cn_diag_set(diag, "client state: a body of %zu bytes, but its key length says %llu",
                    r.len, (unsigned long long)(sksz + STATE_HEAD));
        return sksz > left ? CN_ERR_TRUNCATED : CN_ERR_FORMAT;
    }
    uint8_t d[STATE_DIGEST];
    const cn_status st = plan_digest(d, plan);
    if (st != CN_OK)
        return st;
    if (sodium_memcmp(d, recorded, STATE_DIGEST) != 0) {
        cn_diag_set(diag, "this key was made for another plan (the plan's SHA-256 differs "
                          "from the one the client state records)");
        return CN_ERR_CONTEXT_MISMATCH;
    }
    *key = cn_io_get_view(&r, left);
    *klen = left;
    return CN_OK;
}

cn_status cn_client_from_bytes(cn_client_t **out, const cn_plan_t *plan, const uint8_t *frame,
                               size_t flen, cn_net_diag_t *diag)
{
    *out = NULL;
    if (diag)
        diag->msg[0] = 0;
    const uint8_t *key;
    size_t left;
    cn_status st = cn_state_open(&key, &left, plan, frame, flen, diag);
    if (st != CN_OK)
        return st;
    cn_client_t *c;
    st = client_new(&c, plan, NULL, 0);
    if (st == CN_ERR_UNSUPPORTED)
        cn_diag_set(diag, "this plan uses the packed layout: a batched client state does not "
                          "apply (use the packed client)");
    if (st != CN_OK)
        return st;
    st = cn_io_load_secret_key(&c->sk, key, left, c->ctx);
    if (st != CN_OK)
        cn_diag_set(diag, "client state: secret key refused: %s", cn_strerror(st));
    if (st == CN_OK) {
        st = client_relin_key(c);
        if (st != CN_OK)
            cn_diag_set(diag, "client state: relinearization key: %s", cn_strerror(st));
    }
    if (st != CN_OK) {
        cn_client_free(c);
        return st;
    }
    *out = c;
    return CN_OK;
}

cn_status cn_client_save(const cn_client_t *c, const char *path, cn_net_diag_t *diag)
{
    if (diag)
        diag->msg[0] = 0;
    uint8_t *b;
    size_t len;
    cn_status st = cn_client_to_bytes(&b, &len, c);
    if (st != CN_OK) {
        cn_diag_set(diag, "%s: %s", path, cn_strerror(st));
        return st;
    }
    st = cn_state_save(b, len, path, diag);
    cn_client_state_free(b, len);
    return st;
}

cn_status cn_state_save(const uint8_t *b, size_t len, const char *path, cn_net_diag_t *diag)
{
    /* written whole to PATH.partial-PID (a new file of mode 0600), then renamed over path:
     * a failure at any point leaves path as it was (an older key is not lost) */
    const size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp)
        return CN_ERR_NO_MEMORY;
    snprintf(tmp, plen + 32, "%s.partial-%ld", path, (long)getpid());
    const int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) { /* named by the path asked for: the temporary name is ours */
        cn_diag_set(diag, "%s: cannot create: %s", path, strerror(errno));
        free(tmp);
        return CN_ERR_IO;
    }
    const char *what = NULL;
    int err = 0;
    if (fchmod(fd, 0600) != 0) {
        what = "cannot set mode 0600";
        err = errno;
    }
    for (size_t off = 0; !what && off < len;) {
        const ssize_t k = write(fd, b + off, len - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            what = "write failed";
            err = k < 0 ? errno : EIO;
            break;
        }
        off += (size_t)k;
    }
    if (!what && fsync(fd) != 0) {
        what = "write failed";
        err = errno;
    }
    if (close(fd) != 0 && !what) {
        what = "write failed";
        err = errno;
    }
    if (!what && rename(tmp, path) != 0) {
        what = "cannot rename the new key into place";
        err = errno;
    }
    if (what) {
        unlink(tmp); /* no partial key file is left; path is untouched */
        cn_diag_set(diag, "%s: %s: %s", path, what, strerror(err));
        free(tmp);
        return CN_ERR_IO;
    }
    free(tmp);
    return CN_OK;
}

cn_status cn_client_load(cn_client_t **out, const cn_plan_t *plan, const char *path,
                         cn_net_diag_t *diag)
{
    *out = NULL;
    if (diag)
        diag->msg[0] = 0;
    uint8_t *b;
    size_t len;
    cn_status st = cn_state_load(&b, &len, path, diag);
    if (st != CN_OK)
        return st;
    cn_net_diag_t d = {{0}};
    st = cn_client_from_bytes(out, plan, b, len, &d);
    if (st != CN_OK)
        cn_diag_set(diag, "%s: %s", path, d.msg);
    cn_client_state_free(b, len ? len : 1);
    return st;
}

cn_status cn_state_load(uint8_t **out, size_t *outlen, const char *path, cn_net_diag_t *diag)
{
    *out = NULL;
    *outlen = 0;
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cn_diag_set(diag, "%s: %s", path, strerror(errno));
        return CN_ERR_IO;
    }
    struct stat sb;
    const int stat_ok = fstat(fd, &sb) == 0;
    if (!stat_ok || !S_ISREG(sb.st_mode)) {
        cn_diag_set(diag, "%s: %s", path,
                    !stat_ok              ? strerror(errno)
                    : S_ISDIR(sb.st_mode) ? "is a directory"
                                          : "not a regular file");
        close(fd);
        return CN_ERR_IO;
    }
    if ((uint64_t)sb.st_size > STATE_MAX_BYTES) {
        cn_diag_set(diag, "%s: %lld bytes, larger than any client state", path,
                    (long long)sb.st_size);
        close(fd);
        return CN_ERR_FORMAT;
    }
    const size_t len = (size_t)sb.st_size;
    uint8_t *b = malloc(len ? len : 1);
    if (!b) {
        close(fd);
        return CN_ERR_NO_MEMORY;
    }
    size_t got = 0;
    cn_status st = CN_OK;
    while (got < len) {
        const ssize_t k = read(fd, b + got, len - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            cn_diag_set(diag, "%s: read error: %s", path, strerror(errno));
            st = CN_ERR_IO;
            break;
        }
        if (k == 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (st != CN_OK) {
        cn_client_state_free(b, len ? len : 1);
        return st;
    }
    *out = b;
    *outlen = got; /* the bytes past got were never filled */
    return CN_OK;
}
