/* Plan bytes: a compiled plan written field by field and read back with full validation,
 * so a client and a server can agree on one plan (docs/net.md, "Plan format"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../net_internal.h"

#define PLAN_MAGIC "CNPL"
#define PLAN_MAJOR 1
/* 1.1: packed plans' layout section; 1.2: it records the first layer's blocks and the
 * diagonal layers' baby steps (packed plans are written as 1.2, batched plans as 1.0) */
#define PLAN_MINOR 3

cn_status cn_plan_to_bytes(uint8_t **buf, size_t *len, const cn_plan_t *p)
{
    cn_io_writer_t b;
    cn_io_writer_init(&b);
    cn_io_writer_frame_begin(&b);
    cn_io_put_bytes(&b, PLAN_MAGIC, 4);
    cn_io_put_u16(&b, PLAN_MAJOR);
    /* the lowest version that reads it */
    cn_io_put_u16(&b, !p->packed ? 0 : p->pforced.late_first ? 3 : 2);
    /* the parameters as lib/io writes them, after their length, saved in place */
    const size_t psz = cn_io_size_params(&p->prm);
    cn_io_put_u64(&b, psz);
    uint8_t *pb = cn_io_put_reserve(&b, psz);
    size_t pw = 0;
    if (!pb || cn_io_save_params(pb, psz, &pw, &p->prm) != CN_OK || pw != psz) {
        cn_io_writer_clear(&b);
        return CN_ERR_NO_MEMORY;
    }
    cn_io_put_u64(&b, p->nin);
    cn_io_put_u64(&b, p->nout);
    cn_io_put_u64(&b, (uint64_t)p->in_min);
    cn_io_put_u64(&b, (uint64_t)p->in_max);
    cn_io_put_u64(&b, p->weight_bits);
    cn_io_put_u64(&b, p->calib_mismatch);
    cn_io_put_u64(&b, (uint64_t)p->wraps);
    cn_io_put_f64(&b, p->out_bound_bits);
    cn_io_put_f64(&b, p->out_scale);
    cn_io_put_f64(&b, p->budget);
    cn_io_put_f64(&b, p->cost);
    cn_io_put_u64(&b, p->nops);
    for (size_t i = 0; i < p->nops; i++) {
        const cn_op_t *op = &p->ops[i];
        cn_io_put_u64(&b, (uint64_t)op->kind);
        cn_io_put_u64(&b, op->drop);
        cn_io_put_u64(&b, op->width);
        cn_io_put_u64(&b, op->level);
        cn_io_put_u64(&b, op->size);
        cn_io_put_f64(&b, op->range_bits);
        cn_io_put_f64(&b, op->noise_bits);
        if (op->kind != CN_OP_LINEAR)
            continue;
        const cn_lin_t *l = &op->lin;
        cn_io_put_u64(&b, l->nin);
        cn_io_put_u64(&b, l->nout);
        for (size_t j = 0; j < l->nout; j++) {
            cn_io_put_u64(&b, l->row[j + 1] - l->row[j]);
            for (size_t k = l->row[j]; k < l->row[j + 1]; k++) {
                cn_io_put_u64(&b, l->col[k]);
                cn_io_put_u64(&b, (uint64_t)l->w[k]);
            }
            const unsigned __int128 u = (unsigned __int128)l->bias[j];
            cn_io_put_u64(&b, (uint64_t)u);
            cn_io_put_u64(&b, (uint64_t)(u >> 64));
        }
    }
    if (p->packed)
        cn_plan_layout_write(&b, p);
    cn_io_writer_frame_seal(&b, CN_NET_PLAN_TYPE, 1, 0);
    return cn_io_writer_release(buf, len, &b); /* CN_ERR_NO_MEMORY if a growth failed */
}

/* Checks that the ops form a runnable chain for the parameters: widths match, sizes and
 * levels follow from the ops, and every count is within bounds. */
cn_status cn_plan_check(const cn_plan_t *p, cn_net_diag_t *diag)
{
    size_t width = p->nin, size = 2, level = p->prm.nq;
    if (p->nin == 0 || p->nin > CN_MODEL_MAX_VALUES || p->in_min > p->in_max ||
        p->in_min < -((int64_t)1 << 40) || p->in_max > ((int64_t)1 << 40)) {
        cn_diag_set(diag, "plan: %zu inputs or input range invalid", p->nin);
        return CN_ERR_FORMAT;
    }
    for (size_t i = 0; i < p->nops; i++) {
        const cn_op_t *op = &p->ops[i];
        switch (op->kind) {
        case CN_OP_LINEAR: {
            const cn_lin_t *l = &op->lin;
            if (l->nin != width || l->nout == 0 || l->nout > CN_MODEL_MAX_VALUES) {
                cn_diag_set(diag, "plan op %zu: linear layer of %zu inputs after %zu values",
                            i + 1, l->nin, width);
                return CN_ERR_FORMAT;
            }
            for (size_t k = 0; k < l->row[l->nout]; k++)
                if (l->col[k] >= l->nin || l->w[k] <= -((int64_t)1 << 31) ||
                    l->w[k] >= ((int64_t)1 << 31)) {
                    cn_diag_set(diag, "plan op %zu: column or weight out of range", i + 1);
                    return CN_ERR_FORMAT;
                }
            width = l->nout;
            break;
        }
        case CN_OP_SQUARE:
            if (size != 2) {
                cn_diag_set(diag, "plan op %zu: square of a size-3 ciphertext", i + 1);
                return CN_ERR_FORMAT;
            }
            size = 3;
            break;
        case CN_OP_RELIN:
            if (size != 3 || !p->prm.p) {
                cn_diag_set(diag, "plan op %zu: relinearization of size %zu", i + 1, size);
                return CN_ERR_FORMAT;
            }
            size = 2;
            break;
        case CN_OP_MODSWITCH:
            if (op->drop == 0 || op->drop >= level) {
                cn_diag_set(diag, "plan op %zu: dropping %zu of %zu primes", i + 1, op->drop,
                            level);
                return CN_ERR_FORMAT;
            }
            level -= op->drop;
            break;
        default:
            cn_diag_set(diag, "plan op %zu: unknown kind %d", i + 1, (int)op->kind);
            return CN_ERR_FORMAT;
        }
        if (op->width != width || op->size != size || op->level != level) {
            cn_diag_set(diag, "plan op %zu: recorded shape disagrees with the ops", i + 1);
            return CN_ERR_FORMAT;
        }
    }
    if (width != p->nout) {
        cn_diag_set(diag, "plan: %zu outputs recorded, the ops give %zu", p->nout, width);
        return CN_ERR_FORMAT;
    }
    return CN_OK;
}

cn_status cn_plan_from_bytes(cn_plan_t **out, const uint8_t *buf, size_t len,
                             int allow_insecure, cn_net_diag_t *diag)
{
    *out = NULL;
    if (diag)
        diag->msg[0] = 0;
    cn_io_reader_t r;
    unsigned minor;
    const cn_status fst = cn_net_body_open(&r, &minor, buf, len, CN_NET_PLAN_TYPE, PLAN_MAGIC,
                                           PLAN_MAJOR, 1, diag);
    if (fst != CN_OK)
        return fst;
    if (minor > PLAN_MINOR) {
        cn_diag_set(diag,
                    "plan format version 1.%u is newer than this library's (it reads up "
                    "to 1.%d): update cryptonets to load it",
                    minor, PLAN_MINOR);
        return CN_ERR_VERSION;
    }
    cn_plan_t *p = calloc(1, sizeof *p);
    if (!p)
        return CN_ERR_NO_MEMORY;
    cn_status st = CN_OK;
    const uint64_t psz = cn_io_get_u64(&r);
    if (r.status != CN_OK || psz > cn_io_reader_remaining(&r))
        st = CN_ERR_FORMAT;
    else
        st = cn_io_load_params(&p->prm, cn_io_get_view(&r, (size_t)psz), (size_t)psz,
                               allow_insecure);
    if (st != CN_OK) {
        cn_diag_set(diag, "plan: parameters refused: %s", cn_strerror(st));
        free(p);
        return st;
    }
    p->nin = (size_t)cn_io_get_u64(&r);
    p->nout = (size_t)cn_io_get_u64(&r);
    p->in_min = (int64_t)cn_io_get_u64(&r);
    p->in_max = (int64_t)cn_io_get_u64(&r);
    p->weight_bits = (unsigned)cn_io_get_u64(&r);
    p->calib_mismatch = (size_t)cn_io_get_u64(&r);
    const uint64_t wraps = cn_io_get_u64(&r);
    p->wraps = wraps == 1;
    p->out_bound_bits = cn_io_get_f64(&r);
    p->out_scale = cn_io_get_f64(&r);
    p->budget = cn_io_get_f64(&r);
    p->cost = cn_io_get_f64(&r);
    const uint64_t nops = cn_io_get_u64(&r);
    if (r.status != CN_OK || nops == 0 || nops > CN_PLAN_MAX_OPS || !(p->out_scale > 0) ||
        !isfinite(p->out_scale) || p->nin > CN_MODEL_MAX_VALUES ||
        p->nout > CN_MODEL_MAX_VALUES || wraps > 1 || p->weight_bits > 30 || !(p->cost >= 0) ||
        !isfinite(p->cost)) {
        cn_diag_set(diag,
                    "plan: header fields out of range (%llu ops, %zu inputs, %zu "
                    "outputs, output scale %g, wraps %llu, weight bits %u, cost %g)",
                    (unsigned long long)nops, p->nin, p->nout, p->out_scale,
                    (unsigned long long)wraps, p->weight_bits, p->cost);
        free(p);
        return CN_ERR_FORMAT;
    }
    p->ops = calloc((size_t)nops, sizeof *p->ops);
    if (!p->ops) {
        free(p);
        return CN_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < nops && st == CN_OK && r.status == CN_OK; i++) {
        cn_op_t *op = &p->ops[i];
        p->nops = i + 1;
        op->kind = (cn_op_kind)cn_io_get_u64(&r);
        op->drop = (size_t)cn_io_get_u64(&r);
        op->width = (size_t)cn_io_get_u64(&r);
        op->level = (size_t)cn_io_get_u64(&r);
        op->size = (size_t)cn_io_get_u64(&r);
        op->range_bits = cn_io_get_f64(&r);
        op->noise_bits = cn_io_get_f64(&r);
        if (op->drop != 0 && op->kind != CN_OP_MODSWITCH) {
            cn_diag_set(diag, "plan op %zu: a prime count to drop on an op that drops none",
                        i + 1);
            st = CN_ERR_FORMAT;
            break;
        }
        if (op->kind != CN_OP_LINEAR)
            continue;
        cn_lin_t *l = &op->lin;
        l->nin = (size_t)cn_io_get_u64(&r);
        l->nout = (size_t)cn_io_get_u64(&r);
        if (r.status != CN_OK || l->nin == 0 || l->nin > CN_MODEL_MAX_VALUES || l->nout == 0 ||
            l->nout > CN_MODEL_MAX_VALUES) {
            cn_diag_set(diag,
                        "plan op %zu: linear layer of %zu inputs and %zu outputs (1..%zu "
                        "each)",
                        i + 1, l->nin, l->nout, CN_MODEL_MAX_VALUES);
            l->nout = 0;
            st = CN_ERR_FORMAT;
            break;
        }
        /* every term is 16 bytes: the bytes left bound the allocation */
        size_t cap = cn_io_reader_remaining(&r) / 16 + 1;
        if (cap > CN_MODEL_MAX_WEIGHTS)
            cap = CN_MODEL_MAX_WEIGHTS;
        l->row = calloc(l->nout + 1, sizeof *l->row);
        l->bias = calloc(l->nout, sizeof *l->bias);
        l->col = malloc(cap * sizeof *l->col);
        l->w = malloc(cap * sizeof *l->w);
        if (!l->row || !l->bias || !l->col || !l->w) {
            st = CN_ERR_NO_MEMORY;
            break;
        }
        size_t k = 0;
        for (size_t j = 0; j < l->nout && r.status == CN_OK; j++) {
            const uint64_t cnt = cn_io_get_u64(&r);
            if (cnt > l->nin || cnt > cap - k) {
                cn_io_reader_fail(&r, CN_ERR_FORMAT);
                break;
            }
            l->row[j] = k;
            for (uint64_t c = 0; c < cnt; c++) {
                const uint64_t col = cn_io_get_u64(&r), w = cn_io_get_u64(&r);
                /* columns and |w| < 2^31 checked before anything computes with them */
                const int64_t ws = (int64_t)w;
                l->col[k] = (uint32_t)(col < l->nin ? col : 0);
                l->w[k++] = ws > -((int64_t)1 << 31) && ws < ((int64_t)1 << 31) ? ws : 0;
                if (col >= l->nin || ws <= -((int64_t)1 << 31) || ws >= ((int64_t)1 << 31))
                    cn_io_reader_fail(&r, CN_ERR_FORMAT);
            }
            const uint64_t lo = cn_io_get_u64(&r), hi = cn_io_get_u64(&r);
            l->bias[j] = (cn_int128)(((unsigned __int128)hi << 64) | lo);
        }
        l->row[l->nout] = k;
        if (r.status == CN_OK)
            st = cn_lin_partition(l);
    }
    if (st == CN_OK && r.status == CN_OK && minor >= 1)
        st = cn_plan_layout_read(p, &r, minor, diag);
    if (st == CN_OK && (r.status != CN_OK || cn_io_reader_remaining(&r) != 0)) {
        cn_diag_set(diag, "plan: malformed or trailing bytes");
        st = CN_ERR_FORMAT;
    }
    if (st == CN_OK)
        st = cn_plan_check(p, diag);
    /* what the loader can recompute is recomputed, not trusted: the ranges (the reference
     * run relies on them), whether the plaintext moduli carry the outputs, and the noise
     * estimate */
    if (st == CN_OK)
        st = cn_plan_ranges(p, diag);
    if (st == CN_OK && !p->wraps &&
        !cn_plan_moduli_fit(p->prm.t, p->prm.nt, p->out_bound_bits)) {
        double lt = 0;
        for (size_t i = 0; i < p->prm.nt; i++)
            lt += log2((double)p->prm.t[i]);
        cn_diag_set(diag,
                    "plan: outputs reach 2^%.1f but the plaintext moduli carry 2^%.1f "
                    "(the plan does not declare that its outputs wrap)",
                    p->out_bound_bits, lt - 1);
        st = CN_ERR_OUT_OF_RANGE;
    }
    if (st == CN_OK) {
        const double stated = p->budget;
        p->budget = -cn_plan_noise(p->ops, p->nops, &p->prm) - 1;
        if (p->budget < 0 && !allow_insecure) {
            cn_diag_set(diag,
                        "plan: its noise estimate leaves %.1f bits of noise budget (the "
                        "plan states %.1f): its outputs would not decrypt",
                        p->budget, stated);
            st = CN_ERR_NOISE_EXHAUSTED;
        }
    }
    if (st == CN_OK)
        st = cn_plan_layout_load(p, allow_insecure, diag);
    if (st != CN_OK) {
        if (diag && !diag->msg[0])
            cn_diag_set(diag, "plan: %s", cn_strerror(st));
        cn_plan_free(p);
        return st;
    }
    *out = p;
    return CN_OK;
}
