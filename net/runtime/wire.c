/* The wire framing of net/'s batches and replies (docs/net.md, "Batch layout"): one
 * ciphertext-batch object of format.md per plaintext modulus, back to back, each holding
 * the same number of ciphertexts; shared by the client and the server. */
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "runtime.h"

void cn_ctvec_clear(cn_ctvec_t *v)
{
    if (v->ct)
        cn_io_free_ciphertexts(v->ct, v->len);
    v->ct = NULL;
    v->len = 0;
}

int cn_nthreads(int threads)
{
#ifdef _OPENMP
    return threads > 0 ? threads : omp_get_max_threads();
#else
    (void)threads;
    return 1;
#endif
}

int cn_plan_needs_relin(const cn_plan_t *p)
{
    for (size_t i = 0; i < p->nops; i++)
        if (p->ops[i].kind == CN_OP_RELIN)
            return 1;
    return 0;
}

cn_status cn_wire_find_part(size_t *off, size_t *plen, const uint8_t *buf, size_t len,
                            size_t nt, size_t ti, cn_net_diag_t *diag)
{
    size_t o = 0;
    for (size_t i = 0; i < nt; i++) {
        cn_io_header_t h;
        if (len - o < CN_IO_HEADER_BYTES) {
            cn_diag_set(diag,
                        "batch: %zu bytes hold %zu of the %zu parts (one per plaintext "
                        "modulus) the plan needs",
                        len, i, nt);
            return CN_ERR_TRUNCATED;
        }
        cn_status st = cn_io_peek_header(&h, buf + o, len - o);
        if (st != CN_OK) {
            cn_diag_set(diag, "batch part %zu of %zu (byte %zu): %s", i + 1, nt, o,
                        cn_strerror(st));
            return st;
        }
        if (h.type != CN_IO_CIPHERTEXT_BATCH) {
            cn_diag_set(diag,
                        "batch part %zu of %zu: an object of type %u, not a ciphertext "
                        "batch",
                        i + 1, nt, (unsigned)h.type);
            return CN_ERR_FORMAT;
        }
        if (h.total_length > len - o || h.total_length < CN_IO_HEADER_BYTES) {
            cn_diag_set(diag, "batch part %zu of %zu: declares %llu bytes, %zu remain", i + 1,
                        nt, (unsigned long long)h.total_length, len - o);
            return h.total_length > len - o ? CN_ERR_TRUNCATED : CN_ERR_FORMAT;
        }
        if (i == ti) {
            *off = o;
            *plen = (size_t)h.total_length;
        }
        o += (size_t)h.total_length;
    }
    if (o != len) {
        cn_diag_set(diag,
                    "batch: %zu bytes after the %zu parts the plan has (one per "
                    "plaintext modulus)",
                    len - o, nt);
        return CN_ERR_FORMAT;
    }
    return CN_OK;
}

cn_status cn_wire_load_part(cn_ctvec_t *v, const uint8_t *buf, size_t len, size_t nt, size_t ti,
                            size_t count, const cn_bfv_context_t *ctx, cn_pool_t *pool,
                            int threads, cn_net_diag_t *diag)
{
    (void)threads; /* read by the OpenMP pragmas only */
    size_t off = 0, plen = 0;
    v->ct = NULL;
    v->len = 0;
    cn_status st = cn_wire_find_part(&off, &plen, buf, len, nt, ti, diag);
    if (st != CN_OK)
        return st;
    /* the record offsets first (their headers only), then every record decoded where it
     * lies, on every thread, while one thread takes the checksum (iteration -1) */
    cn_io_batch_reader_t rd;
    st = cn_io_batch_reader_init(&rd, buf + off, plen, ctx);
    const size_t cnt = st == CN_OK ? rd.count : 0;
    if (st == CN_OK && !(v->ct = calloc(cnt ? cnt : 1, sizeof *v->ct)))
        st = CN_ERR_NO_MEMORY;
    if (st == CN_OK) {
        v->len = cnt;
        cn_bfv_ciphertext_t *c = v->ct;
#pragma omp parallel for schedule(dynamic, 8) num_threads(cn_nthreads(threads))
        for (long i = -1; i < (long)cnt; i++) {
            if (i < 0) {
                CN_OMP_COLLECT(st, cn_io_batch_reader_check(&rd));
                continue;
            }
            /* the record's own shape from the pool: the reader then only fills it */
            cn_io_batch_shape_t sh;
            cn_status e = cn_io_batch_reader_info(&sh, NULL, &rd, (size_t)i);
            if (e == CN_OK)
                e = cn_pool_shape(pool, &c[i], sh.size, sh.level, ctx);
            if (e == CN_OK)
                e = cn_io_batch_reader_get(&rd, (size_t)i, &c[i]);
            CN_OMP_COLLECT(st, e);
        }
    }
    if (st != CN_OK)
        cn_diag_set(diag, "batch part %zu of %zu: %s", ti + 1, nt, cn_strerror(st));
    if (st == CN_OK && cnt != count) {
        cn_diag_set(diag, "batch part %zu of %zu holds %zu ciphertexts; the plan expects %zu",
                    ti + 1, nt, cnt, count);
        st = CN_ERR_SHAPE_MISMATCH;
    }
    for (size_t i = 0; st == CN_OK && i < cnt; i++)
        if (v->ct[i].t_index != ti) {
            cn_diag_set(diag,
                        "batch part %zu of %zu: ciphertext %zu is for plaintext modulus "
                        "%u, not %zu (parts out of order?)",
                        ti + 1, nt, i + 1, (unsigned)v->ct[i].t_index + 1, ti + 1);
            st = CN_ERR_SHAPE_MISMATCH;
        }
    cn_io_batch_reader_clear(&rd);
    if (st != CN_OK)
        cn_pool_put_vec(pool, v);
    return st;
}

cn_status cn_wire_load_all(cn_ctvec_t *v, const uint8_t *buf, size_t len, size_t nt,
                           size_t count, const cn_bfv_context_t *ctx, cn_net_diag_t *diag)
{
    cn_status st = CN_OK;
    for (size_t ti = 0; ti < nt; ti++)
        v[ti] = (cn_ctvec_t){0};
    for (size_t ti = 0; st == CN_OK && ti < nt; ti++)
        st = cn_wire_load_part(&v[ti], buf, len, nt, ti, count, ctx, NULL, 0, diag);
    if (st != CN_OK)
        for (size_t ti = 0; ti < nt; ti++)
            cn_ctvec_clear(&v[ti]);
    return st;
}

cn_status cn_wire_save(uint8_t **buf, size_t *len, const cn_ctvec_t *v, size_t nt,
                       const cn_bfv_context_t *ctx, int threads)
{
    (void)threads; /* read by the OpenMP pragmas only */
    const size_t count = nt ? v[0].len : 0;
    for (size_t ti = 1; ti < nt; ti++)
        if (v[ti].len != count)
            return CN_ERR_SHAPE_MISMATCH;
    const unsigned fl = CN_IO_ALLOW_TRANSPARENT;
    cn_io_batch_shape_t shape;
    size_t total = 0;
    for (size_t ti = 0; ti < nt; ti++) {
        cn_io_batch_shape_of(&shape, v[ti].ct, fl, ctx);
        total += cn_io_batch_writer_size(count, &shape, ctx);
    }
    uint8_t *out = malloc(total ? total : 1);
    if (!out)
        return CN_ERR_NO_MEMORY;
    size_t o = 0;
    cn_status st = CN_OK;
    for (size_t ti = 0; st == CN_OK && ti < nt; ti++) {
        cn_io_batch_writer_t w;
        cn_io_batch_shape_of(&shape, v[ti].ct, fl, ctx);
        st = cn_io_batch_writer_init(&w, out + o, total - o, count, &shape, fl, ctx);
        if (st == CN_OK) {
#pragma omp parallel for schedule(dynamic, 8) num_threads(cn_nthreads(threads))
            for (long i = 0; i < (long)count; i++) {
                CN_OMP_COLLECT(st, cn_io_batch_writer_put(&w, (size_t)i, &v[ti].ct[i]));
            }
        }
        if (st == CN_OK)
            st = cn_io_batch_writer_final(&w, NULL);
        o += w.total;
        cn_io_batch_writer_clear(&w);
    }
    if (st != CN_OK) {
        free(out);
        return st;
    }
    *buf = out;
    *len = o;
    return CN_OK;
}
