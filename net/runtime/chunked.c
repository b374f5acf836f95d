/* The first segment of a batched plan in chunks (docs/net.md, "Chunked evaluation"; the
 * schedule in net/plan/segment.c): for each chunk of L1's outputs, the records of the
 * inputs it reads first are decoded from the request at their offsets, L1's rows of the
 * chunk run on that window, the inputs no later chunk reads go back to the pool, the
 * element-wise ops run on the chunk, and L2's terms over the chunk are added into L2's
 * outputs. Every residue is an exact sum mod q_j reduced into [0, q_j), so the outputs are
 * the same bytes as layer by layer (tests/net/test_chunked.c compares them); L2's biases are
 * added once, at the end. Peak memory: the window, one chunk and L2's outputs
 * (cn_segment_peak) instead of every input beside every output of L1. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "runtime.h"

/* coefficients per task of the partial sums: a multiple of the kernels' block (64 words,
 * 512 bytes: an aligned block stays aligned) */
#define CN_CHUNK_TILE 64

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

cn_status cn_server_set_chunks(cn_server_t *s, size_t chunks)
{
    cn_segment_t sg = {0};
    if (chunks) {
        cn_status st = cn_segment_init(&sg, s->plan->ops, s->plan->nops, s->plan->nin, chunks);
        if (st != CN_OK)
            return st;
    }
    cn_segment_clear(&s->seg);
    s->seg = sg;
    return CN_OK;
}

/* sub = the rows rows[0..nr) of lin with each column c mapped to pos[c] (terms whose
 * pos is SIZE_MAX dropped), on nin columns; biases kept (bias) or zero; partitioned for the
 * kernels (cn_lin_partition). */
static cn_status sub_lin(cn_lin_t *sub, const cn_lin_t *lin, const size_t *rows, size_t nr,
                         const size_t *pos, size_t nin, int bias)
{
    memset(sub, 0, sizeof *sub);
    size_t nnz = 0;
    for (size_t a = 0; a < nr; a++) {
        const size_t j = rows ? rows[a] : a;
        for (size_t k = lin->row[j]; k < lin->row[j + 1]; k++)
            nnz += pos[lin->col[k]] != SIZE_MAX;
    }
    sub->nin = nin;
    sub->nout = nr;
    sub->row = malloc((nr + 1) * sizeof *sub->row);
    sub->col = malloc((nnz ? nnz : 1) * sizeof *sub->col);
    sub->w = malloc((nnz ? nnz : 1) * sizeof *sub->w);
    sub->bias = calloc(nr ? nr : 1, sizeof *sub->bias);
    if (!sub->row || !sub->col || !sub->w || !sub->bias)
        return CN_ERR_NO_MEMORY;
    size_t o = 0;
    for (size_t a = 0; a < nr; a++) {
        const size_t j = rows ? rows[a] : a;
        sub->row[a] = o;
        for (size_t k = lin->row[j]; k < lin->row[j + 1]; k++)
            if (pos[lin->col[k]] != SIZE_MAX) {
                sub->col[o] = (uint32_t)pos[lin->col[k]];
                sub->w[o++] = lin->w[k];
            }
        if (bias)
            sub->bias[a] = lin->bias[j];
    }
    sub->row[nr] = o;
    return cn_lin_partition(sub);
}

/* acc[j] += lin(in)[j] without biases (lin's terms: in's ciphertexts, one chunk), every
 * residue reduced: per tile of coefficients the kernel reads a contiguous copy of the
 * inputs' tiles and writes the chunk's sums into a scratch of the thread, which is added
 * into acc's rows (no block of the pool). */
static cn_status accumulate(cn_bfv_ciphertext_t *acc, const cn_bfv_ciphertext_t *in,
                            const cn_lin_t *lin, const cn_server_t *s)
{
    const cn_bfv_context_t *ctx = s->ctx;
    const size_t size = in[0].size, level = in[0].level, n = cn_bfv_context_params(ctx)->n;
    const size_t nin = lin->nin, nout = lin->nout, nnz = lin->row[nout];
    const cn_mod_t *qm = cn_bfv_context_level_primes(ctx, level, NULL);
    uint64_t *wmod = malloc((nnz ? nnz : 1) * sizeof *wmod);
    if (!wmod)
        return CN_ERR_NO_MEMORY;
    cn_status st = CN_OK;
    for (size_t r = 0; r < level && st == CN_OK; r++) {
        const cn_mod_t m = qm[r];
        const cn_lin_kernel_fn kern = cn_lin_kernel(m.p, NULL);
        for (size_t k = 0; k < nnz; k++)
            wmod[k] = cn_mod_from_int64(lin->w[k], m);
        for (size_t c = 0; c < size && st == CN_OK; c++) {
            const long nblk = (long)((n + CN_CHUNK_TILE - 1) / CN_CHUNK_TILE);
#pragma omp parallel num_threads(cn_nthreads(s->threads))
            {
                /* the tile of every input in a contiguous copy (cn_lin_tiles_t) */
                const uint64_t **xr = malloc((nin ? nin : 1) * sizeof *xr);
                cn_lin_tiles_t tl = {0};
                cn_status e =
                    xr ? cn_lin_tiles_init(&tl, nin, nout, CN_CHUNK_TILE) : CN_ERR_NO_MEMORY;
                for (size_t i = 0; e == CN_OK && i < nin; i++)
                    xr[i] = in[i].c[c].data + r * n;
#pragma omp for schedule(dynamic, 1)
                for (long b = 0; b < nblk; b++) {
                    if (e != CN_OK)
                        continue;
                    const size_t cs = (size_t)b * CN_CHUNK_TILE;
                    const size_t len = cs + CN_CHUNK_TILE < n ? CN_CHUNK_TILE : n - cs;
                    cn_lin_tiles_load(&tl, xr, cs, len);
                    kern(tl.os, (const uint64_t *const *)tl.xs, lin, wmod, 0, nout, 0, len, m);
                    for (size_t j = 0; j < nout; j++) {
                        uint64_t *a = acc[j].c[c].data + r * n + cs;
                        const uint64_t *p = tl.os[j];
                        for (size_t t = 0; t < len; t++) {
                            const uint64_t v = a[t] + p[t]; /* both below p < 2^61 */
                            a[t] = v >= m.p ? v - m.p : v;
                        }
                    }
                }
                free(xr);
                cn_lin_tiles_clear(&tl);
                CN_OMP_COLLECT(st, e);
            }
        }
    }
    free(wmod);
    return st;
}

/* dst[0..len) = src[0..len) with streaming (non-temporal) stores where the target allows
 * them: a chunk's L1 outputs are read again only after the whole chunk (far more than the
 * caches hold), so their lines go to memory without first being read (no read for
 * ownership) and without evicting the inputs' tiles. The same words as memcpy. */
static void store_stream(uint64_t *dst, const uint64_t *src, size_t len)
{
#ifdef __SSE2__
    if (((uintptr_t)dst & 15) == 0 && len % 2 == 0) {
        for (size_t t = 0; t < len; t += 2)
            _mm_stream_si128((__m128i *)(dst + t), _mm_load_si128((const __m128i *)(src + t)));
        return;
    }
#endif
    memcpy(dst, src, len * sizeof *dst);
}

/* out[0..nout) = lin(in) with biases (plaintext modulus ti), the residues of
 * cn_linear_layer in one pass over the outputs: per tile of coefficients the kernel's sums
 * (cn_lin_tiles_t), the bias added in the tile of coefficient 0 of c0, the tile streamed
 * out (store_stream). cn_linear_bias adds Delta b_j by cn_bfv_add_plain of the constant
 * plaintext b_j mod t, a second pass over every output's c0 that changes only
 * coefficient 0 of each row r: by (b_j mod t) Delta_r mod q_r, Delta_r the residue that
 * add_plain adds for the plaintext 1 (read here from a zero ciphertext); the same sum
 * mod q_r. */
static cn_status conv_chunk(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *in,
                            const cn_lin_t *lin, size_t ti, const cn_server_t *s)
{
    const cn_bfv_context_t *ctx = s->ctx;
    const size_t size = in[0].size, level = in[0].level, n = cn_bfv_context_params(ctx)->n;
    const size_t nin = lin->nin, nout = lin->nout, nnz = lin->row[nout];
    const cn_mod_t *qm = cn_bfv_context_level_primes(ctx, level, NULL);
    const cn_mod_t tm = cn_bfv_context_plain_moduli(ctx, NULL)[ti];
    cn_status st = CN_OK;
    for (size_t j = 0; j < nout && st == CN_OK; j++) {
        st = cn_bfv_ciphertext_reshape(&out[j], size, level, CN_BFV_NO_ZERO_FILL, ctx);
        out[j].t_index = ti;
        out[j].transparent = 0;
        out[j].has_seed = 0;
    }
    /* Delta_r for the plaintext 1: add_plain on the transparent zero, in blocks of the
     * pool given back at once (no memory beside the chunk) */
    cn_bfv_ciphertext_t z = {0};
    cn_bfv_plaintext_t one = {0};
    uint64_t delta[CN_BFV_MAX_Q] = {0};
    uint64_t *wmod = malloc((nnz ? nnz : 1) * sizeof *wmod);
    uint64_t *bt = malloc((nout ? nout : 1) * sizeof *bt);
    uint64_t *badd = malloc((nout ? nout : 1) * sizeof *badd);
    const uint64_t **xr = malloc((nin ? nin : 1) * sizeof *xr);
    if (st == CN_OK && (!wmod || !bt || !badd || !xr))
        st = CN_ERR_NO_MEMORY;
    if (st == CN_OK && (st = cn_pool_shape(s->pool, &z, 2, level, ctx)) == CN_OK &&
        (st = cn_bfv_ciphertext_reshape(&z, 2, level, 0, ctx)) == CN_OK)
        z.t_index = ti;
    if (st == CN_OK && (st = cn_bfv_plaintext_init(&one, ctx, ti)) == CN_OK) {
        one.coeffs[0] = 1;
        st = cn_bfv_add_plain(&z, &z, &one, ctx);
    }
    for (size_t r = 0; st == CN_OK && r < level; r++)
        delta[r] = z.c[0].data[r * n]; /* in [0, q_r) */
    cn_pool_put(s->pool, &z);
    cn_bfv_plaintext_clear(&one);
    /* b_j mod t, as cn_linear_bias reduces it */
    for (size_t j = 0; st == CN_OK && j < nout; j++) {
        const cn_int128 b = lin->bias[j];
        const unsigned __int128 ub = b < 0 ? -(unsigned __int128)b : (unsigned __int128)b;
        bt[j] = (uint64_t)(ub % tm.p);
        if (b < 0)
            bt[j] = cn_mod_neg(bt[j], tm);
    }
    for (size_t r = 0; st == CN_OK && r < level; r++) {
        const cn_mod_t m = qm[r];
        const cn_lin_kernel_fn kern = cn_lin_kernel(m.p, NULL);
        for (size_t k = 0; k < nnz; k++)
            wmod[k] = cn_mod_from_int64(lin->w[k], m);
        for (size_t j = 0; j < nout; j++)
            badd[j] = cn_mod_mul(cn_mod_reduce_u64(bt[j], m), delta[r], m);
        for (size_t c = 0; c < size && st == CN_OK; c++) {
            const long nblk = (long)((n + CN_CHUNK_TILE - 1) / CN_CHUNK_TILE);
            for (size_t i = 0; i < nin; i++)
                xr[i] = in[i].c[c].data + r * n;
#pragma omp parallel num_threads(cn_nthreads(s->threads))
            {
                cn_lin_tiles_t tl = {0};
                cn_status e = cn_lin_tiles_init(&tl, nin, nout, CN_CHUNK_TILE);
#pragma omp for schedule(dynamic, 1)
                for (long b = 0; b < nblk; b++) {
                    if (e != CN_OK)
                        continue;
                    const size_t cs = (size_t)b * CN_CHUNK_TILE;
                    const size_t len = cs + CN_CHUNK_TILE < n ? CN_CHUNK_TILE : n - cs;
                    cn_lin_tiles_load(&tl, xr, cs, len);
                    kern(tl.os, (const uint64_t *const *)tl.xs, lin, wmod, 0, nout, 0, len, m);
                    for (size_t j = 0; j < nout; j++) {
                        if (c == 0 && cs == 0) /* both in [0, q_r) */
                            tl.os[j][0] = cn_mod_add(tl.os[j][0], badd[j], m);
                        store_stream(out[j].c[c].data + r * n + cs, tl.os[j], len);
                    }
                }
#ifdef __SSE2__
                _mm_sfence(); /* the streamed lines before the region's barrier */
#endif
                cn_lin_tiles_clear(&tl);
                CN_OMP_COLLECT(st, e);
            }
        }
    }
    free(xr);
    free(wmod);
    free(bt);
    free(badd);
    return st;
}

/* the records of inputs idx[0..cnt) decoded into ins[] from blocks of the pool, on the
 * server's threads; with check, the batch's checksum beside them; scratch records (drop)
 * go back to the pool at once */
static cn_status decode(cn_bfv_ciphertext_t *ins, const size_t *idx, size_t cnt, int drop,
                        int check, const cn_io_batch_reader_t *rd, const cn_server_t *s)
{
    cn_status st = CN_OK;
#pragma omp parallel for schedule(dynamic, 8) num_threads(cn_nthreads(s->threads))
    for (long a = check ? -1 : 0; a < (long)cnt; a++) {
        if (a < 0) {
            CN_OMP_COLLECT(st, cn_io_batch_reader_check(rd));
            continue;
        }
        const size_t i = idx[a];
        cn_bfv_ciphertext_t tmp = {0}, *ct = drop ? &tmp : &ins[i];
        cn_io_batch_shape_t sh;
        cn_status e = cn_io_batch_reader_info(&sh, NULL, rd, i);
        if (e == CN_OK)
            e = cn_pool_shape(s->pool, ct, sh.size, sh.level, s->ctx);
        if (e == CN_OK)
            e = cn_io_batch_reader_get(rd, i, ct);
        if (drop)
            cn_pool_put(s->pool, ct);
        CN_OMP_COLLECT(st, e);
    }
    return st;
}

cn_status cn_chunked_part(cn_ctvec_t *v, const uint8_t *in, size_t len, size_t ti,
                          const cn_server_t *s, double *seconds, cn_net_diag_t *diag)
{
    const cn_plan_t *p = s->plan;
    const cn_segment_t *sg = &s->seg;
    const cn_op_t *ops = p->ops;
    const cn_lin_t *l1 = &ops[0].lin, *l2 = &ops[sg->end].lin;
    const size_t nt = p->prm.nt, nin = p->nin, L = cn_bfv_context_params(s->ctx)->nq;
    v->ct = NULL;
    v->len = 0;
    double ts = now_s();
    size_t off = 0, plen = 0;
    cn_status st = cn_wire_find_part(&off, &plen, in, len, nt, ti, diag);
    if (st != CN_OK)
        return st;
    cn_io_batch_reader_t rd = {0};
    st = cn_io_batch_reader_init(&rd, in + off, plen, s->ctx);
    if (st != CN_OK) {
        cn_diag_set(diag, "batch part %zu of %zu: %s", ti + 1, nt, cn_strerror(st));
        return st;
    }
    if (rd.count != nin) {
        cn_diag_set(diag, "batch part %zu of %zu holds %zu ciphertexts; the plan expects %zu",
                    ti + 1, nt, rd.count, nin);
        cn_io_batch_reader_clear(&rd);
        return CN_ERR_SHAPE_MISMATCH;
    }
    /* every record's shape and plaintext modulus from its header, before any work */
    for (size_t i = 0; i < nin && st == CN_OK; i++) {
        cn_io_batch_shape_t sh;
        size_t t = 0;
        st = cn_io_batch_reader_info(&sh, &t, &rd, i);
        if (st == CN_OK && t != ti) {
            cn_diag_set(diag,
                        "batch part %zu of %zu: ciphertext %zu is for plaintext modulus "
                        "%zu, not %zu (parts out of order?)",
                        ti + 1, nt, i + 1, t + 1, ti + 1);
            st = CN_ERR_SHAPE_MISMATCH;
        } else if (st == CN_OK && (sh.size != 2 || sh.level != L)) {
            cn_diag_set(diag,
                        "batch part %zu, ciphertext %zu: size %u at level %u; the "
                        "server takes fresh ciphertexts (size 2, all %zu primes)",
                        ti + 1, i + 1, (unsigned)sh.size, (unsigned)sh.level, L);
            st = CN_ERR_SHAPE_MISMATCH;
        }
    }
    const size_t m = sg->nout1, nout2 = l2->nout;
    cn_bfv_ciphertext_t *ins = calloc(nin ? nin : 1, sizeof *ins);
    cn_bfv_ciphertext_t *cin = calloc(nin ? nin : 1, sizeof *cin);
    size_t *idx = malloc((nin ? nin : 1) * sizeof *idx);
    size_t *pos = malloc((nin > m ? nin : m) * sizeof *pos);
    cn_ctvec_t acc = {calloc(nout2, sizeof *acc.ct), nout2}, ch = {0};
    if (st == CN_OK && (!ins || !cin || !idx || !pos || !acc.ct))
        st = CN_ERR_NO_MEMORY;
    /* the records no chunk reads: decoded (so that the bytes are checked as layer by
     * layer) into blocks that go back at once, beside the checksum */
    size_t cnt = 0;
    for (size_t i = 0; st == CN_OK && i < nin; i++)
        if (sg->first[i] == SIZE_MAX)
            idx[cnt++] = i;
    if (st == CN_OK)
        st = decode(ins, idx, cnt, 1, 1, &rd, s);
    if (seconds)
        seconds[0] += now_s() - ts;
    for (size_t c = 0; st == CN_OK && c < sg->nchunks; c++) {
        const size_t *rows = sg->order + sg->cstart[c], nr = sg->cstart[c + 1] - sg->cstart[c];
        /* the window: the inputs this chunk reads first */
        ts = now_s();
        cnt = 0;
        for (size_t i = 0; i < nin; i++)
            if (sg->first[i] == c)
                idx[cnt++] = i;
        st = decode(ins, idx, cnt, 0, 0, &rd, s);
        if (seconds)
            seconds[0] += now_s() - ts;
        /* L1's rows of the chunk on the inputs they read (ascending: local columns) */
        ts = now_s();
        for (size_t i = 0; i < nin; i++)
            pos[i] = SIZE_MAX;
        for (size_t a = 0; a < nr; a++)
            for (size_t k = l1->row[rows[a]]; k < l1->row[rows[a] + 1]; k++)
                pos[l1->col[k]] = 0;
        size_t nc = 0;
        for (size_t i = 0; i < nin; i++)
            if (pos[i] != SIZE_MAX) {
                pos[i] = nc;
                cin[nc++] = ins[i]; /* borrowed: read only */
            }
        cn_lin_t sub = {0};
        if (st == CN_OK)
            st = sub_lin(&sub, l1, rows, nr, pos, nc, 1);
        if (st == CN_OK && !(ch.ct = calloc(nr, sizeof *ch.ct)))
            st = CN_ERR_NO_MEMORY;
        ch.len = ch.ct ? nr : 0;
        for (size_t a = 0; st == CN_OK && a < nr; a++)
            st = cn_pool_shape(s->pool, &ch.ct[a], 2, L, s->ctx);
        if (st == CN_OK)
            st = s->linear_mode == CN_LINEAR_PER_CIPHERTEXT
                     ? cn_linear_layer(ch.ct, cin, &sub, ti, s)
                     : conv_chunk(ch.ct, cin, &sub, ti, s);
        cn_lin_clear(&sub);
        /* the inputs no later chunk reads */
        for (size_t i = 0; i < nin; i++)
            if (sg->last[i] == c)
                cn_pool_put(s->pool, &ins[i]);
        if (seconds)
            seconds[1] += now_s() - ts;
        /* the element-wise ops on the chunk, fused: each ciphertext squared and switched
         * while its rows are in cache */
        if (st == CN_OK && sg->end > 1)
            st = cn_server_steps_fused(&ch, &ops[1], sg->end - 1, s,
                                       seconds ? seconds + 2 : NULL);
        /* L2's terms over the chunk, into its outputs (the first chunk writes them) */
        ts = now_s();
        for (size_t j = 0; j < m; j++)
            pos[j] = SIZE_MAX;
        for (size_t a = 0; a < nr; a++)
            pos[rows[a]] = a;
        if (st == CN_OK)
            st = sub_lin(&sub, l2, NULL, nout2, pos, nr, 0);
        if (st == CN_OK && c == 0) {
            for (size_t j = 0; st == CN_OK && j < nout2; j++)
                st = cn_pool_shape(s->pool, &acc.ct[j], ch.ct[0].size, ch.ct[0].level, s->ctx);
            if (st == CN_OK)
                st = cn_linear_layer(acc.ct, ch.ct, &sub, ti, s); /* no biases in sub */
        } else if (st == CN_OK) {
            st = accumulate(acc.ct, ch.ct, &sub, s);
        }
        cn_lin_clear(&sub);
        cn_pool_put_vec(s->pool, &ch);
        if (seconds)
            seconds[1 + sg->end] += now_s() - ts;
    }
    if (st == CN_OK) {
        ts = now_s();
        st = cn_linear_bias(acc.ct, l2, ti, s);
        if (seconds)
            seconds[1 + sg->end] += now_s() - ts;
    }
    if (st != CN_OK && diag && !diag->msg[0])
        cn_diag_set(diag, "batch part %zu of %zu (in chunks): %s", ti + 1, nt, cn_strerror(st));
    for (size_t i = 0; ins && i < nin; i++)
        cn_pool_put(s->pool, &ins[i]);
    cn_pool_put_vec(s->pool, &ch);
    free(ins);
    free(cin);
    free(idx);
    free(pos);
    cn_io_batch_reader_clear(&rd);
    if (st != CN_OK) {
        cn_pool_put_vec(s->pool, &acc);
        return st;
    }
    *v = acc;
    return CN_OK;
}
