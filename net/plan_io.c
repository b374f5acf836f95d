/* Plan bytes: a compiled plan written field by field and read back with full validation,
 * so a client and a server can agree on one plan (docs/net.md, "Plan format"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

#define PLAN_MAGIC "CNPL"
#define PLAN_MAJOR 1
#define PLAN_MINOR 0
#define PLAN_MAX_OPS 64

typedef struct {
    uint8_t *p;
    size_t len, cap;
    int oom;
} wb_t;

static void put(wb_t *b, const void *src, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 4096;
        while (nc < b->len + n)
            nc *= 2;
        uint8_t *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_u64(wb_t *b, uint64_t v)
{
    uint8_t t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    put(b, t, 8);
}

static void put_f64(wb_t *b, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    put_u64(b, v);
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

cn_status cn_plan_to_bytes(uint8_t **buf, size_t *len, const cn_plan_t *p)
{
    wb_t b = {0};
    put(&b, PLAN_MAGIC, 4);
    const uint8_t ver[4] = {PLAN_MAJOR, 0, PLAN_MINOR, 0};
    put(&b, ver, 4);
    const size_t psz = cn_io_size_params(&p->prm);
    uint8_t *pb = malloc(psz);
    size_t pw = 0;
    if (!pb || cn_io_save_params(pb, psz, &pw, &p->prm) != CN_OK) {
        free(pb);
        free(b.p);
        return CN_ERR_NO_MEMORY;
    }
    put_u64(&b, pw);
    put(&b, pb, pw);
    free(pb);
    put_u64(&b, p->nin);
    put_u64(&b, p->nout);
    put_u64(&b, (uint64_t)p->in_min);
    put_u64(&b, (uint64_t)p->in_max);
    put_u64(&b, p->weight_bits);
    put_u64(&b, p->calib_mismatch);
    put_u64(&b, (uint64_t)p->wraps);
    put_f64(&b, p->out_bound_bits);
    put_f64(&b, p->budget);
    put_f64(&b, p->cost);
    put_u64(&b, p->nops);
    for (size_t i = 0; i < p->nops; i++) {
        const cn_op_t *op = &p->ops[i];
        put_u64(&b, (uint64_t)op->kind);
        put_u64(&b, op->drop);
        put_u64(&b, op->width);
        put_u64(&b, op->level);
        put_u64(&b, op->size);
        put_f64(&b, op->range_bits);
        put_f64(&b, op->noise_bits);
        if (op->kind != CN_OP_LINEAR)
            continue;
        const cn_lin_t *l = &op->lin;
        put_u64(&b, l->nin);
        put_u64(&b, l->nout);
        for (size_t j = 0; j < l->nout; j++) {
            put_u64(&b, l->row[j + 1] - l->row[j]);
            for (size_t k = l->row[j]; k < l->row[j + 1]; k++) {
                put_u64(&b, l->col[k]);
                put_u64(&b, (uint64_t)l->w[k]);
            }
            const unsigned __int128 u = (unsigned __int128)l->bias[j];
            put_u64(&b, (uint64_t)u);
            put_u64(&b, (uint64_t)(u >> 64));
        }
    }
    if (!b.oom)
        put_u64(&b, fnv1a(b.p, b.len));
    if (b.oom) {
        free(b.p);
        return CN_ERR_NO_MEMORY;
    }
    *buf = b.p;
    *len = b.len;
    return CN_OK;
}

typedef struct {
    const uint8_t *p;
    size_t len, pos;
    int bad;
} rb_t;

static uint64_t get_u64(rb_t *r)
{
    if (r->bad || r->len - r->pos < 8) {
        r->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | r->p[r->pos + (size_t)i];
    r->pos += 8;
    return v;
}

static double get_f64(rb_t *r)
{
    const uint64_t v = get_u64(r);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

/* Checks that the ops form a runnable chain for the parameters: widths match, sizes and
 * levels follow from the ops, and every count is within bounds. */
cn_status cn_plan_check(const cn_plan_t *p, cn_net_diag_t *diag)
{
    size_t width = p->nin, size = 2, level = p->prm.nq;
    if (p->nin == 0 || p->nin > CN_MODEL_MAX_VALUES || p->in_min > p->in_max) {
        cn_diag_set(diag, "plan: %zu inputs or input range invalid", p->nin);
        return CN_ERR_FORMAT;
    }
    for (size_t i = 0; i < p->nops; i++) {
        const cn_op_t *op = &p->ops[i];
        switch (op->kind) {
        case CN_OP_LINEAR: {
            const cn_lin_t *l = &op->lin;
            if (l->nin != width || l->nout == 0 || l->nout > CN_MODEL_MAX_VALUES) {
                cn_diag_set(diag, "plan op %zu: linear layer of %zu inputs after %zu values", i + 1,
                            l->nin, width);
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
    if (len < 8 + 8) {
        cn_diag_set(diag, "plan: truncated (%zu bytes)", len);
        return CN_ERR_TRUNCATED;
    }
    if (memcmp(buf, PLAN_MAGIC, 4) != 0) {
        cn_diag_set(diag, "not a cryptonets plan (bad magic)");
        return CN_ERR_FORMAT;
    }
    const unsigned major = buf[4] | buf[5] << 8;
    if (major != PLAN_MAJOR) {
        cn_diag_set(diag, "plan format version %u; this library reads %d.x", major, PLAN_MAJOR);
        return major > PLAN_MAJOR ? CN_ERR_VERSION : CN_ERR_FORMAT;
    }
    uint64_t sum = 0;
    for (int i = 7; i >= 0; i--)
        sum = sum << 8 | buf[len - 8 + (size_t)i];
    if (fnv1a(buf, len - 8) != sum) {
        cn_diag_set(diag, "plan: checksum mismatch (truncated or damaged)");
        return CN_ERR_FORMAT;
    }
    rb_t r = {.p = buf, .len = len - 8, .pos = 8};
    cn_plan_t *p = calloc(1, sizeof *p);
    if (!p)
        return CN_ERR_NO_MEMORY;
    cn_status st = CN_OK;
    const uint64_t psz = get_u64(&r);
    if (r.bad || psz > r.len - r.pos) {
        st = CN_ERR_FORMAT;
    } else {
        st = cn_io_load_params(&p->prm, r.p + r.pos, (size_t)psz, allow_insecure);
        r.pos += (size_t)psz;
    }
    if (st != CN_OK) {
        cn_diag_set(diag, "plan: parameters refused: %s", cn_strerror(st));
        free(p);
        return st;
    }
    p->nin = (size_t)get_u64(&r);
    p->nout = (size_t)get_u64(&r);
    p->in_min = (int64_t)get_u64(&r);
    p->in_max = (int64_t)get_u64(&r);
    p->weight_bits = (unsigned)get_u64(&r);
    p->calib_mismatch = (size_t)get_u64(&r);
    p->wraps = get_u64(&r) != 0;
    p->out_bound_bits = get_f64(&r);
    p->budget = get_f64(&r);
    p->cost = get_f64(&r);
    const uint64_t nops = get_u64(&r);
    if (r.bad || nops == 0 || nops > PLAN_MAX_OPS || p->nin > CN_MODEL_MAX_VALUES ||
        p->nout > CN_MODEL_MAX_VALUES) {
        cn_diag_set(diag, "plan: header fields out of range");
        free(p);
        return CN_ERR_FORMAT;
    }
    p->ops = calloc((size_t)nops, sizeof *p->ops);
    if (!p->ops) {
        free(p);
        return CN_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < nops && st == CN_OK && !r.bad; i++) {
        cn_op_t *op = &p->ops[i];
        p->nops = i + 1;
        op->kind = (cn_op_kind)get_u64(&r);
        op->drop = (size_t)get_u64(&r);
        op->width = (size_t)get_u64(&r);
        op->level = (size_t)get_u64(&r);
        op->size = (size_t)get_u64(&r);
        op->range_bits = get_f64(&r);
        op->noise_bits = get_f64(&r);
        if (op->kind != CN_OP_LINEAR)
            continue;
        cn_lin_t *l = &op->lin;
        l->nin = (size_t)get_u64(&r);
        l->nout = (size_t)get_u64(&r);
        if (r.bad || l->nin == 0 || l->nin > CN_MODEL_MAX_VALUES || l->nout == 0 ||
            l->nout > CN_MODEL_MAX_VALUES) {
            l->nout = 0;
            st = CN_ERR_FORMAT;
            break;
        }
        /* every term is 16 bytes: the bytes left bound the allocation */
        size_t cap = (r.len - r.pos) / 16 + 1;
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
        for (size_t j = 0; j < l->nout && !r.bad; j++) {
            const uint64_t cnt = get_u64(&r);
            if (cnt > l->nin || cnt > cap - k) {
                r.bad = 1;
                break;
            }
            l->row[j] = k;
            for (uint64_t c = 0; c < cnt; c++) {
                const uint64_t col = get_u64(&r), w = get_u64(&r);
                l->col[k] = (uint32_t)(col < l->nin ? col : l->nin); /* checked below */
                l->w[k++] = (int64_t)w;
                if (col >= l->nin)
                    r.bad = 1;
            }
            const uint64_t lo = get_u64(&r), hi = get_u64(&r);
            l->bias[j] = (cn_int128)(((unsigned __int128)hi << 64) | lo);
        }
        l->row[l->nout] = k;
        if (!r.bad)
            st = cn_lin_partition(l);
    }
    if (st == CN_OK && (r.bad || r.pos != r.len)) {
        cn_diag_set(diag, "plan: malformed or trailing bytes");
        st = CN_ERR_FORMAT;
    }
    if (st == CN_OK)
        st = cn_plan_check(p, diag);
    if (st != CN_OK) {
        if (diag && !diag->msg[0])
            cn_diag_set(diag, "plan: %s", cn_strerror(st));
        cn_plan_free(p);
        return st;
    }
    *out = p;
    return CN_OK;
}
