/* A linear layer on ciphertexts (docs/net.md, "Linear kernel"): out_j = sum_k w_k in_col(k)
 * + Delta b_j, computed either by the blocked kernels (tiles of coefficients of every
 * input, all outputs per tile, lazy reduction, SIMD kernels picked by cn_lin_kernel) or,
 * as the benchmark's baseline, one ciphertext product and addition at a time through the
 * public BFV API. Both give the same residues. */
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

/* coefficients per task of the linear layers: a multiple of the kernels' block */
#define CN_LIN_TILE 64

/* The rows of a ciphertext are n words apart (128 KiB at n = 16384) and the pool's blocks
 * 512 KiB, so the same tile of every input row falls into the same few sets of the L1 and
 * L2 caches (set-associative caches index by the low address bits: a stride that is a
 * multiple of 4 KiB (L1) or 128 KiB (a 1 MiB 8-way L2) maps every row to one set); the
 * kernels re-read each input tile for every output that uses it, which then comes from
 * memory each time. So each tile of the inputs is first copied into one contiguous
 * scratch of the thread, the kernel works there, and its outputs are copied out: the same
 * words, in cache (docs/net.md, "Linear kernel"). */
cn_status cn_lin_tiles_init(cn_lin_tiles_t *t, size_t nin, size_t nout, size_t tile)
{
    t->nin = nin;
    t->nout = nout;
    t->buf = aligned_alloc(64, (nin + nout) * tile * sizeof *t->buf);
    t->xs = malloc((nin ? nin : 1) * sizeof *t->xs);
    t->os = malloc((nout ? nout : 1) * sizeof *t->os);
    if (!t->buf || !t->xs || !t->os) {
        cn_lin_tiles_clear(t);
        return CN_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < nin; i++)
        t->xs[i] = t->buf + i * tile;
    for (size_t j = 0; j < nout; j++)
        t->os[j] = t->buf + (nin + j) * tile;
    return CN_OK;
}

void cn_lin_tiles_clear(cn_lin_tiles_t *t)
{
    free(t->buf);
    free(t->xs);
    free(t->os);
    t->buf = NULL;
    t->xs = t->os = NULL;
}

void cn_lin_tiles_load(cn_lin_tiles_t *t, const uint64_t *const *x, size_t cs, size_t len)
{
    for (size_t i = 0; i < t->nin; i++)
        memcpy(t->xs[i], x[i] + cs, len * sizeof *t->xs[i]);
}

void cn_lin_tiles_store(uint64_t *const *out, const cn_lin_tiles_t *t, size_t cs, size_t len)
{
    for (size_t j = 0; j < t->nout; j++)
        memcpy(out[j] + cs, t->os[j], len * sizeof *t->os[j]);
}

/* out[0..nout) = lin(in[0..nin)) without biases, for ciphertexts of plaintext modulus
 * ti: the blocked kernels (docs/net.md, "Linear kernel"). */
static cn_status eval_linear_blocked(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *in,
                                     const cn_lin_t *lin, size_t ti, const cn_server_t *s)
{
    const cn_bfv_context_t *ctx = s->ctx;
    const size_t size = in[0].size, level = in[0].level, n = cn_bfv_context_params(ctx)->n;
    const cn_mod_t *qm = cn_bfv_context_level_primes(ctx, level, NULL);
    cn_status st = CN_OK;
    for (size_t j = 0; j < lin->nout && st == CN_OK; j++) {
        st = cn_bfv_ciphertext_reshape(&out[j], size, level, CN_BFV_NO_ZERO_FILL,
                                       ctx); /* the kernel writes all */
        out[j].t_index = ti;
        out[j].transparent = 0;
        out[j].has_seed = 0;
    }
    const uint64_t **xr = malloc(lin->nin * sizeof *xr);
    uint64_t **orow = malloc(lin->nout * sizeof *orow);
    const size_t nnz = lin->row[lin->nout];
    uint64_t *wmod = malloc((nnz ? nnz : 1) * sizeof *wmod);
    if (!xr || !orow || !wmod)
        st = CN_ERR_NO_MEMORY;
    for (size_t r = 0; st == CN_OK && r < level; r++)
        for (size_t c = 0; c < size; c++) {
            for (size_t i = 0; i < lin->nin; i++)
                xr[i] = in[i].c[c].data + r * n;
            for (size_t j = 0; j < lin->nout; j++)
                orow[j] = out[j].c[c].data + r * n;
            const cn_mod_t m = qm[r];
            const cn_lin_kernel_fn kern = cn_lin_kernel(m.p, NULL);
            if (c == 0)
                for (size_t k = 0; k < nnz; k++)
                    wmod[k] = cn_mod_from_int64(lin->w[k], m);
            /* coefficient blocks over the threads, every output in each: a block of the
             * inputs stays in cache while the outputs sweep it */
            const long nblk = (long)((n + CN_LIN_TILE - 1) / CN_LIN_TILE);
#pragma omp parallel num_threads(cn_nthreads(s->threads))
            {
                cn_lin_tiles_t tl;
                cn_status e = cn_lin_tiles_init(&tl, lin->nin, lin->nout, CN_LIN_TILE);
#pragma omp for schedule(dynamic, 1)
                for (long b = 0; b < nblk; b++) {
                    if (e != CN_OK)
                        continue;
                    const size_t cs = (size_t)b * CN_LIN_TILE;
                    const size_t len = cs + CN_LIN_TILE < n ? CN_LIN_TILE : n - cs;
                    cn_lin_tiles_load(&tl, xr, cs, len);
                    kern(tl.os, (const uint64_t *const *)tl.xs, lin, wmod, 0, lin->nout, 0, len,
                         m);
                    cn_lin_tiles_store(orow, &tl, cs, len);
                }
                cn_lin_tiles_clear(&tl);
                CN_OMP_COLLECT(st, e);
            }
        }
    free(xr);
    free(orow);
    free(wmod);
    return st;
}

/* The same linear layer one ciphertext at a time, through the public BFV API (for each
 * output, a scalar product and an addition per term over whole ciphertexts, as an
 * application of a general-purpose HE library writes it): the baseline of the blocked
 * kernels in bench/throughput. The residues equal the blocked kernels' (both compute
 * sum w x mod p exactly; |w| < t/2, so mul_scalar's centered w mod t is w). */
static cn_status eval_linear_per_ct(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *in,
                                    const cn_lin_t *lin, size_t ti, const cn_server_t *s)
{
    const cn_bfv_context_t *ctx = s->ctx;
    cn_status st = CN_OK;
#pragma omp parallel num_threads(cn_nthreads(s->threads))
    {
        cn_bfv_ciphertext_t tmp = {0};
#pragma omp for schedule(dynamic, 1)
        for (long jj = 0; jj < (long)lin->nout; jj++) {
            const size_t j = (size_t)jj;
            /* the sum starts at zero */
            cn_status e = cn_bfv_ciphertext_reshape(&out[j], in[0].size, in[0].level, 0, ctx);
            if (e == CN_OK) {
                out[j].t_index = ti;
                out[j].has_seed = 0;
            }
            for (size_t k = lin->row[j]; e == CN_OK && k < lin->row[j + 1]; k++) {
                e = cn_bfv_mul_scalar(&tmp, &in[lin->col[k]], lin->w[k], ctx);
                if (e == CN_OK)
                    e = cn_bfv_add(&out[j], &out[j], &tmp, ctx);
            }
            out[j].transparent = 0;
            CN_OMP_COLLECT(st, e);
        }
        cn_bfv_ciphertext_clear(&tmp);
    }
    return st;
}

cn_status cn_linear_layer(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *in,
                          const cn_lin_t *lin, size_t ti, const cn_server_t *s)
{
    cn_status st = s->linear_mode == CN_LINEAR_PER_CIPHERTEXT
                       ? eval_linear_per_ct(out, in, lin, ti, s)
                       : eval_linear_blocked(out, in, lin, ti, s);
    return st == CN_OK ? cn_linear_bias(out, lin, ti, s) : st;
}

cn_status cn_linear_bias(cn_bfv_ciphertext_t *out, const cn_lin_t *lin, size_t ti,
                         const cn_server_t *s)
{
    const cn_bfv_context_t *ctx = s->ctx;
    cn_status st = CN_OK;
    /* biases: Delta b on the constant coefficient (a constant plaintext), over the
     * threads (each output's addition is a pass over its c0) */
    const cn_mod_t tm = cn_bfv_context_plain_moduli(ctx, NULL)[ti];
    {
#pragma omp parallel num_threads(cn_nthreads(s->threads))
        {
            cn_bfv_plaintext_t pt = {0};
            cn_status e = cn_bfv_plaintext_init(&pt, ctx, ti);
#pragma omp for schedule(dynamic, 8)
            for (long jj = 0; jj < (long)lin->nout; jj++) {
                const cn_int128 b = lin->bias[jj];
                const unsigned __int128 ub =
                    b < 0 ? -(unsigned __int128)b : (unsigned __int128)b;
                uint64_t bm = (uint64_t)(ub % tm.p);
                if (b < 0)
                    bm = cn_mod_neg(bm, tm);
                if (bm == 0 || e != CN_OK)
                    continue;
                pt.coeffs[0] = bm;
                e = cn_bfv_add_plain(&out[jj], &out[jj], &pt, ctx);
            }
            CN_OMP_COLLECT(st, e);
            cn_bfv_plaintext_clear(&pt);
        }
    }
    return st;
}
