/* The network compiler: folding, quantization, exact range analysis, noise estimate,
 * parameter choice and schedule (docs/net.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <flint/fmpz.h>
#include <flint/fmpz_vec.h>

#include "net_internal.h"

/* --- float linear maps (CSR) --------------------------------------------------------- */

typedef struct {
    size_t nin, nout;
    size_t *row;
    uint32_t *col;
    double *w;
    double *b;
} flin_t;

static void flin_clear(flin_t *f)
{
    free(f->row);
    free(f->col);
    free(f->w);
    free(f->b);
    memset(f, 0, sizeof *f);
}

static cn_status flin_alloc(flin_t *f, size_t nin, size_t nout, size_t nnz)
{
    memset(f, 0, sizeof *f);
    f->nin = nin;
    f->nout = nout;
    f->row = calloc(nout + 1, sizeof *f->row);
    f->col = malloc((nnz ? nnz : 1) * sizeof *f->col);
    f->w = malloc((nnz ? nnz : 1) * sizeof *f->w);
    f->b = calloc(nout ? nout : 1, sizeof *f->b);
    if (!f->row || !f->col || !f->w || !f->b) {
        flin_clear(f);
        return CN_ERR_NO_MEMORY;
    }
    return CN_OK;
}

/* conv2d and pool as a sparse matrix */
static cn_status flin_window(flin_t *f, const cn_layer_t *l)
{
    const int pool = l->kind == CN_LAYER_POOL;
    const size_t nin = l->in_c * l->in_h * l->in_w, nout = l->out_c * l->out_h * l->out_w;
    const size_t taps = (pool ? 1 : l->in_c) * l->kh * l->kw;
    cn_status st = flin_alloc(f, nin, nout, nout * taps);
    if (st != CN_OK)
        return st;
    size_t k = 0;
    for (size_t oc = 0; oc < l->out_c; oc++)
        for (size_t oy = 0; oy < l->out_h; oy++)
            for (size_t ox = 0; ox < l->out_w; ox++) {
                const size_t j = (oc * l->out_h + oy) * l->out_w + ox;
                f->row[j] = k;
                f->b[j] = pool ? 0 : l->b[oc];
                const size_t c0 = pool ? oc : 0, c1 = pool ? oc + 1 : l->in_c;
                for (size_t ic = c0; ic < c1; ic++)
                    for (size_t ky = 0; ky < l->kh; ky++)
                        for (size_t kx = 0; kx < l->kw; kx++) {
                            const size_t y = oy * l->stride + ky, x = ox * l->stride + kx;
                            if (y < l->pad || x < l->pad || y - l->pad >= l->in_h ||
                                x - l->pad >= l->in_w)
                                continue;
                            const double wt =
                                pool ? l->scale
                                     : l->w[((oc * l->in_c + ic) * l->kh + ky) * l->kw + kx];
                            f->col[k] = (uint32_t)((ic * l->in_h + y - l->pad) * l->in_w + x -
                                                   l->pad);
                            f->w[k++] = wt;
                        }
            }
    f->row[nout] = k;
    return CN_OK;
}

static cn_status flin_dense(flin_t *f, const cn_layer_t *l)
{
    const size_t nin = l->in_c * l->in_h * l->in_w, nout = l->maps;
    cn_status st = flin_alloc(f, nin, nout, nin * nout);
    if (st != CN_OK)
        return st;
    for (size_t j = 0; j < nout; j++) {
        f->row[j] = j * nin;
        f->b[j] = l->b[j];
        for (size_t i = 0; i < nin; i++) {
            f->col[j * nin + i] = (uint32_t)i;
            f->w[j * nin + i] = l->w[j * nin + i];
        }
    }
    f->row[nout] = nin * nout;
    return CN_OK;
}

/* c = a o b (apply b, then a), in *c; the nonzero count of the product in *nnz. */
static cn_status flin_compose(flin_t *c, const flin_t *a, const flin_t *b)
{
    memset(c, 0, sizeof *c);
    double *acc = calloc(b->nin ? b->nin : 1, sizeof *acc);
    uint8_t *mark = calloc(b->nin ? b->nin : 1, 1);
    uint32_t *list = malloc((b->nin ? b->nin : 1) * sizeof *list);
    size_t cap = a->row[a->nout] + b->row[b->nout] + 16, nnz = 0;
    cn_status st = (acc && mark && list) ? flin_alloc(c, b->nin, a->nout, cap) : CN_ERR_NO_MEMORY;
    for (size_t j = 0; st == CN_OK && j < a->nout; j++) {
        size_t cnt = 0;
        double bias = a->b[j];
        for (size_t k = a->row[j]; k < a->row[j + 1]; k++) {
            const size_t mid = a->col[k];
            const double wa = a->w[k];
            bias += wa * b->b[mid];
            for (size_t kk = b->row[mid]; kk < b->row[mid + 1]; kk++) {
                const uint32_t i = b->col[kk];
                if (!mark[i]) {
                    mark[i] = 1;
                    list[cnt++] = i;
                }
                acc[i] += wa * b->w[kk];
            }
        }
        /* columns in increasing order keep the dense layout recognisable */
        if (cnt == b->nin) {
            for (size_t i = 0; i < cnt; i++)
                list[i] = (uint32_t)i;
        } else {
            for (size_t x = 1; x < cnt; x++) { /* insertion sort: rows are short here */
                uint32_t v = list[x];
                size_t y = x;
                while (y > 0 && list[y - 1] > v) {
                    list[y] = list[y - 1];
                    y--;
                }
                list[y] = v;
            }
        }
        if (nnz + cnt > cap) {
            size_t ncap = (nnz + cnt) * 2;
            uint32_t *nc = realloc(c->col, ncap * sizeof *nc);
            double *nw = nc ? realloc(c->w, ncap * sizeof *nw) : NULL;
            if (nc)
                c->col = nc;
            if (nw)
                c->w = nw;
            if (!nc || !nw) {
                st = CN_ERR_NO_MEMORY;
                break;
            }
            cap = ncap;
        }
        c->row[j] = nnz;
        c->b[j] = bias;
        for (size_t x = 0; x < cnt; x++) {
            c->col[nnz] = list[x];
            c->w[nnz++] = acc[list[x]];
            acc[list[x]] = 0;
            mark[list[x]] = 0;
        }
    }
    if (st == CN_OK)
        c->row[a->nout] = nnz;
    else if (c->row)
        flin_clear(c);
    free(acc);
    free(mark);
    free(list);
    return st;
}

/* --- integer linear layers ---------------------------------------------------------- */

void cn_lin_clear(cn_lin_t *l)
{
    free(l->woff);
    free(l->rneg);
    free(l->row);
    free(l->col);
    free(l->w);
    free(l->bias);
    memset(l, 0, sizeof *l);
}

cn_status cn_lin_partition(cn_lin_t *l)
{
    free(l->rneg);
    free(l->woff);
    l->rneg = NULL;
    l->woff = NULL;
    l->l1max = 0;
    for (size_t j = 0; j < l->nout; j++) {
        double sum = 0;
        for (size_t k = l->row[j]; k < l->row[j + 1]; k++)
            sum += fabs((double)l->w[k]);
        if (sum > l->l1max)
            l->l1max = sum;
    }
    l->dense = l->row[l->nout] == l->nin * l->nout;
    if (l->dense) {
        l->wmax = 0;
        for (size_t k = 0; k < l->row[l->nout]; k++) {
            const uint64_t a = l->w[k] < 0 ? 0 - (uint64_t)l->w[k] : (uint64_t)l->w[k];
            if (a > l->wmax)
                l->wmax = a;
            if (l->col[k] != k % l->nin) /* not in column order: treat as sparse */
                l->dense = 0;
        }
    }
    if (l->dense) {
        const size_t nnz = l->row[l->nout];
        l->woff = malloc((nnz ? nnz : 1) * sizeof *l->woff);
        if (!l->woff)
            return CN_ERR_NO_MEMORY;
        for (size_t k = 0; k < nnz; k++) /* wrapping: exact for |w| <= wmax < 2^63 */
            l->woff[k] = (uint64_t)l->w[k] + l->wmax;
        return CN_OK;
    }
    l->rneg = malloc((l->nout ? l->nout : 1) * sizeof *l->rneg);
    const size_t nnz = l->row[l->nout];
    uint32_t *tc = malloc((nnz ? nnz : 1) * sizeof *tc);
    int64_t *tw = malloc((nnz ? nnz : 1) * sizeof *tw);
    if (!l->rneg || !tc || !tw) {
        free(tc);
        free(tw);
        return CN_ERR_NO_MEMORY;
    }
    l->wmax = 0;
    for (size_t j = 0; j < l->nout; j++) {
        size_t o = l->row[j];
        for (int neg = 0; neg < 2; neg++) {
            if (neg)
                l->rneg[j] = o;
            for (size_t k = l->row[j]; k < l->row[j + 1]; k++)
                if ((l->w[k] < 0) == neg) {
                    tc[o] = l->col[k];
                    tw[o++] = l->w[k];
                }
        }
        for (size_t k = l->row[j]; k < l->row[j + 1]; k++) {
            const uint64_t a = l->w[k] < 0 ? 0 - (uint64_t)l->w[k] : (uint64_t)l->w[k];
            if (a > l->wmax)
                l->wmax = a;
        }
    }
    memcpy(l->col, tc, nnz * sizeof *tc);
    memcpy(l->w, tw, nnz * sizeof *tw);
    free(tc);
    free(tw);
    return CN_OK;
}

/* round half away from zero, documented in docs/net.md */
static int64_t round_w(double x) { return (int64_t)llround(x); }

static cn_int128 round_i128(double x)
{
    return x < 0 ? -(cn_int128)(-x + 0.5) : (cn_int128)(x + 0.5);
}

/* Quantizes f with weight scale s and output scale so (bias = round(b * so)). */
static cn_status quantize(cn_lin_t *l, const flin_t *f, double s, double so)
{
    memset(l, 0, sizeof *l);
    const size_t nnz = f->row[f->nout];
    l->nin = f->nin;
    l->nout = f->nout;
    l->row = calloc(f->nout + 1, sizeof *l->row);
    l->col = malloc((nnz ? nnz : 1) * sizeof *l->col);
    l->w = malloc((nnz ? nnz : 1) * sizeof *l->w);
    l->bias = malloc((f->nout ? f->nout : 1) * sizeof *l->bias);
    if (!l->row || !l->col || !l->w || !l->bias) {
        cn_lin_clear(l);
        return CN_ERR_NO_MEMORY;
    }
    l->dense = nnz == f->nin * f->nout;
    size_t k = 0;
    for (size_t j = 0; j < f->nout; j++) {
        l->row[j] = k;
        for (size_t x = f->row[j]; x < f->row[j + 1]; x++) {
            const int64_t w = round_w(f->w[x] * s);
            if (w == 0 && !l->dense)
                continue;
            l->col[k] = f->col[x];
            l->w[k++] = w;
            const uint64_t a = (uint64_t)(w < 0 ? -w : w);
            if (a > l->wmax)
                l->wmax = a;
        }
        l->bias[j] = round_i128(f->b[j] * so);
    }
    l->row[f->nout] = k;
    return cn_lin_partition(l);
}

/* --- integer reference network -------------------------------------------------------- */

void cn_op_eval_plain(cn_int128 *b, const cn_int128 *a, size_t win, const cn_op_t *op,
                      size_t count)
{
    if (op->kind == CN_OP_LINEAR) {
        const cn_lin_t *l = &op->lin;
        for (size_t s = 0; s < count; s++)
            for (size_t j = 0; j < l->nout; j++) {
                cn_int128 acc = l->bias[j];
                for (size_t k = l->row[j]; k < l->row[j + 1]; k++)
                    acc += (cn_int128)l->w[k] * a[s * win + l->col[k]];
                b[s * l->nout + j] = acc;
            }
    } else {
        for (size_t i = 0; i < count * win; i++)
            b[i] = op->kind == CN_OP_SQUARE ? a[i] * a[i] : a[i];
    }
}

cn_status cn_plan_eval_plain(cn_int128 *out, const cn_plan_t *plan, const int64_t *x,
                             size_t count)
{
    size_t maxw = plan->nin;
    for (size_t i = 0; i < plan->nops; i++)
        if (plan->ops[i].width > maxw)
            maxw = plan->ops[i].width;
    cn_int128 *a = malloc(maxw * sizeof *a), *b = malloc(maxw * sizeof *b);
    if (!a || !b) {
        free(a);
        free(b);
        return CN_ERR_NO_MEMORY;
    }
    for (size_t s = 0; s < count; s++) {
        size_t width = plan->nin;
        for (size_t i = 0; i < width; i++)
            a[i] = x[s * plan->nin + i];
        for (size_t o = 0; o < plan->nops; o++) {
            cn_op_eval_plain(b, a, width, &plan->ops[o], 1);
            cn_int128 *t = a;
            a = b;
            b = t;
            width = plan->ops[o].width;
        }
        memcpy(out + s * plan->nout, a, plan->nout * sizeof *a);
    }
    free(a);
    free(b);
    return CN_OK;
}

/* --- range analysis (exact, big integers) ---------------------------------------------- */

static const char *op_name(const cn_op_t *op)
{
    switch (op->kind) {
    case CN_OP_LINEAR: return op->lin.dense ? "dense" : "sparse";
    case CN_OP_SQUARE: return "square";
    case CN_OP_RELIN: return "relin";
    case CN_OP_MODSWITCH: return "modswitch";
    }
    return "?";
}

static double fmpz_log2(const fmpz_t x) { return fmpz_is_zero(x) ? 0 : fmpz_dlog(x) / log(2.0); }

static void fmpz_set_i128(fmpz_t x, cn_int128 v)
{
    const unsigned __int128 u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
    fmpz_set_ui(x, (uint64_t)(u >> 64));
    fmpz_mul_2exp(x, x, 64);
    fmpz_add_ui(x, x, (uint64_t)u);
    if (v < 0)
        fmpz_neg(x, x);
}

/* Exact interval analysis (big integers): propagates [lo, hi] of every value through
 * the ops and sets each op's range_bits (log2 of its largest |value|) and the plan's
 * out_bound_bits. The 128-bit reference run must stay exact: CN_ERR_OUT_OF_RANGE, with
 * the op and the quantity in diag, when a value, or a partial sum of a linear layer
 * (|bias| + sum |w| max|x|, whatever the order of the terms), reaches 2^126. */
static cn_status ranges(cn_plan_t *p, cn_net_diag_t *diag)
{
    size_t maxw = p->nin;
    for (size_t i = 0; i < p->nops; i++)
        if (p->ops[i].width > maxw)
            maxw = p->ops[i].width;
    fmpz *lo = _fmpz_vec_init(maxw), *hi = _fmpz_vec_init(maxw);
    fmpz *nlo = _fmpz_vec_init(maxw), *nhi = _fmpz_vec_init(maxw);
    fmpz *mag = _fmpz_vec_init(maxw); /* max(|lo|, |hi|) of the op's inputs */
    fmpz_t t, psum, vmax, pmax, lim;
    fmpz_init(t);
    fmpz_init(psum);
    fmpz_init(vmax);
    fmpz_init(pmax);
    fmpz_init(lim);
    fmpz_one(lim);
    fmpz_mul_2exp(lim, lim, 126);
    cn_status st = CN_OK;
    size_t width = p->nin;
    for (size_t i = 0; i < width; i++) {
        fmpz_set_si(lo + i, p->in_min);
        fmpz_set_si(hi + i, p->in_max);
    }
    fmpz_zero(vmax);
    for (size_t i = 0; i < width; i++)
        if (fmpz_cmpabs(lo + i, vmax) > 0 || fmpz_cmpabs(hi + i, vmax) > 0)
            fmpz_abs(vmax, fmpz_cmpabs(lo + i, hi + i) > 0 ? lo + i : hi + i);
    double in_bits = fmpz_log2(vmax);
    for (size_t o = 0; o < p->nops && st == CN_OK; o++) {
        cn_op_t *op = &p->ops[o];
        for (size_t i = 0; i < width; i++)
            fmpz_abs(mag + i, fmpz_cmpabs(lo + i, hi + i) > 0 ? lo + i : hi + i);
        fmpz_zero(pmax);
        if (op->kind == CN_OP_LINEAR) {
            const cn_lin_t *l = &op->lin;
            for (size_t j = 0; j < l->nout; j++) {
                fmpz_set_i128(t, l->bias[j]);
                fmpz_set(nlo + j, t);
                fmpz_set(nhi + j, t);
                fmpz_abs(psum, t);
                for (size_t k = l->row[j]; k < l->row[j + 1]; k++) {
                    const int64_t w = l->w[k];
                    const uint32_t i = l->col[k];
                    if (w > 0) {
                        fmpz_addmul_ui(nlo + j, lo + i, (uint64_t)w);
                        fmpz_addmul_ui(nhi + j, hi + i, (uint64_t)w);
                        fmpz_addmul_ui(psum, mag + i, (uint64_t)w);
                    } else if (w < 0) {
                        fmpz_submul_ui(nlo + j, hi + i, (uint64_t)-w);
                        fmpz_submul_ui(nhi + j, lo + i, (uint64_t)-w);
                        fmpz_addmul_ui(psum, mag + i, (uint64_t)-w);
                    }
                }
                if (fmpz_cmp(psum, pmax) > 0)
                    fmpz_set(pmax, psum);
            }
            width = l->nout;
        } else if (op->kind == CN_OP_SQUARE) {
            for (size_t i = 0; i < width; i++) {
                fmpz_mul(nhi + i, mag + i, mag + i);
                if (fmpz_sgn(lo + i) > 0)
                    fmpz_mul(nlo + i, lo + i, lo + i);
                else if (fmpz_sgn(hi + i) < 0)
                    fmpz_mul(nlo + i, hi + i, hi + i);
                else
                    fmpz_zero(nlo + i);
            }
        } else {
            for (size_t i = 0; i < width; i++) {
                fmpz_set(nlo + i, lo + i);
                fmpz_set(nhi + i, hi + i);
            }
        }
        fmpz_zero(vmax);
        for (size_t i = 0; i < width; i++) {
            if (fmpz_cmpabs(nlo + i, vmax) > 0)
                fmpz_abs(vmax, nlo + i);
            if (fmpz_cmpabs(nhi + i, vmax) > 0)
                fmpz_abs(vmax, nhi + i);
        }
        op->range_bits = fmpz_log2(vmax);
        if (fmpz_cmp(vmax, lim) >= 0 || fmpz_cmp(pmax, lim) >= 0) {
            const int sums = fmpz_cmp(pmax, vmax) > 0;
            cn_diag_set(diag, "op %zu (%s): %s reach 2^%.1f, more than the 126 bits the "
                        "integer reference carries (lower the weight bits or the input range)",
                        o + 1, op_name(op), sums ? "partial sums of its outputs" : "values",
                        fmpz_log2(sums ? pmax : vmax));
            st = CN_ERR_OUT_OF_RANGE;
        }
        fmpz *sw;
        sw = lo, lo = nlo, nlo = sw;
        sw = hi, hi = nhi, nhi = sw;
    }
    if (st == CN_OK)
        p->out_bound_bits = p->nops ? p->ops[p->nops - 1].range_bits : in_bits;
    _fmpz_vec_clear(lo, maxw);
    _fmpz_vec_clear(hi, maxw);
    _fmpz_vec_clear(nlo, maxw);
    _fmpz_vec_clear(nhi, maxw);
    _fmpz_vec_clear(mag, maxw);
    fmpz_clear(t);
    fmpz_clear(psum);
    fmpz_clear(vmax);
    fmpz_clear(pmax);
    fmpz_clear(lim);
    return st;
}

cn_status cn_plan_ranges(cn_plan_t *p, cn_net_diag_t *diag) { return ranges(p, diag); }

/* --- noise estimate ------------------------------------------------------------------- */
/* Invariant noise v (Fan-Vercauteren, ePrint 2012/144; the BFV of SEAL's "noise
 * budget"): (t/Q)(c0 + c1 s + c2 s^2) = m + v + tA, decryption correct while
 * ||v|| < 1/2, budget = -log2(2 ||v||). All in log2. Sources of each term in docs/net.md. */

static double lg_add(double a, double b)
{
    const double m = a > b ? a : b;
    return m + log2(exp2(a - m) + exp2(b - m));
}

typedef struct {
    double log_n, log_t;
    double log_q_prefix[CN_BFV_MAX_Q + 1]; /* log2 of q_1 ... q_l */
    double log_p, log_qmax;
    size_t L;
} nctx_t;

/* The estimate is per plaintext modulus; it grows with t, so the largest t bounds all. */
static void nctx_init(nctx_t *c, const cn_bfv_params_t *prm)
{
    size_t tmax = 0;
    for (size_t x = 1; x < prm->nt; x++)
        if (prm->t[x] > prm->t[tmax])
            tmax = x;
    c->log_n = log2((double)prm->n);
    c->log_t = log2((double)prm->t[tmax]);
    c->L = prm->nq;
    c->log_q_prefix[0] = 0;
    c->log_qmax = 0;
    for (size_t i = 0; i < prm->nq; i++) {
        const double lq = log2((double)prm->q[i]);
        c->log_q_prefix[i + 1] = c->log_q_prefix[i] + lq;
        if (lq > c->log_qmax)
            c->log_qmax = lq;
    }
    c->log_p = prm->p ? log2((double)prm->p) : 0;
}

/* Runs the noise estimate through the ops; returns the final log2 ||v|| and stores each
 * op's noise, level and size. */
static double noise_run(cn_op_t *ops, size_t nops, const nctx_t *c)
{
    /* fresh secret-key encryption: (t/Q)(e + Delta m) = m + (t e - r m) / Q with Delta =
     * floor(Q/t), r = Q mod t < t, |e| <= eta (CBD) and m in [0, t) as encoded (not
     * centered): |t e - r m| < t eta + t^2 */
    double v = log2(exp2(c->log_t) * CN_CBD_ETA + exp2(2 * c->log_t)) - c->log_q_prefix[c->L];
    size_t level = c->L, size = 2;
    for (size_t o = 0; o < nops; o++) {
        cn_op_t *op = &ops[o];
        const double lq = c->log_q_prefix[level];
        switch (op->kind) {
        case CN_OP_LINEAR: {
            /* worst case: ||sum w_i v_i|| <= (sum |w_i|) max ||v_i||; the bias b in [0, t)
             * added as Delta b adds r b / Q < t^2 / Q (r = Q mod t, as at encryption) */
            const double l1max = op->lin.l1max;
            v = (l1max > 0 ? v + log2(l1max) : -1e9);
            v = lg_add(v, 2 * c->log_t - lq);
            break;
        }
        case CN_OP_SQUARE:
            /* v' = 2 m v + t (A v + v A) + v^2 + rounding: with ||m|| <= t/2, ||A|| about
             * the expansion of c1 s, and the heuristic expansion factor 2 sqrt(n) of a
             * product (canonical embedding), ||v'|| <= 4 t n ||v||; rounding of the
             * tensor t/Q (1 + ||s|| + ||s^2||)/2 <= t n^2 / Q */
            v = lg_add(v + 2 + c->log_t + c->log_n, c->log_t + 2 * c->log_n - lq);
            size = 3;
            break;
        case CN_OP_RELIN:
            /* key switching: sum of l digits d_i e_i over P (|d_i| < q_i, |e| <= eta),
             * worst case l n q_max eta / P, plus the rounding by P (n/2); times t/Q */
            v = lg_add(v, c->log_t + log2((double)level * exp2(c->log_n) * CN_CBD_ETA *
                                              exp2(c->log_qmax - c->log_p) +
                                          exp2(c->log_n - 1)) -
                              lq);
            size = 2;
            break;
        case CN_OP_MODSWITCH: {
            /* rounding to Q': t/Q' (eps0 + eps1 s (+ eps2 s^2)), |eps| <= 1/2, worst case */
            level -= op->drop;
            const double lq2 = c->log_q_prefix[level];
            const double e = size == 3 ? log2(1 + exp2(c->log_n) + exp2(2 * c->log_n))
                                       : log2(1 + exp2(c->log_n));
            v = lg_add(v, c->log_t + e - 1 - lq2);
            break;
        }
        }
        op->level = level;
        op->size = size;
        op->noise_bits = v;
    }
    return v;
}

/* --- schedule: relinearizations and modulus switches ---------------------------------- */

/* Builds the full op list from the linear/square skeleton: a relinearization before
 * every square whose input has size 3 (lazy: the linear layer between two squares runs
 * on size-3 ciphertexts, usually fewer than the square's outputs), or right after every
 * square when eager (the benchmark's baseline, docs/net.md), and modulus switches (greedy, docs/net.md): before
 * each square and before each linear layer that follows a square, drop as many primes
 * as keep the noise within half a bit of what it was and the final budget >= margin. */
static cn_status schedule(cn_op_t **out, size_t *nout, const cn_op_t *sk, size_t nsk,
                          size_t nin, const cn_bfv_params_t *prm, double margin, int no_ms,
                          int eager, double *final_v)
{
    nctx_t cx;
    nctx_init(&cx, prm);
    const nctx_t *c = &cx;
    cn_op_t *ops = calloc(3 * nsk + 2, sizeof *ops);
    if (!ops)
        return CN_ERR_NO_MEMORY;
    size_t n = 0, size = 2;
    for (size_t i = 0; i < nsk; i++) {
        if (sk[i].kind == CN_OP_SQUARE) {
            if (!no_ms)
                ops[n++] = (cn_op_t){.kind = CN_OP_MODSWITCH, .drop = 0};
            if (size == 3)
                ops[n++] = (cn_op_t){.kind = CN_OP_RELIN};
            size = 3;
        } else if (sk[i].kind == CN_OP_LINEAR && i > 0 && !no_ms) {
            ops[n++] = (cn_op_t){.kind = CN_OP_MODSWITCH, .drop = 0};
        }
        ops[n++] = sk[i];
        if (eager && sk[i].kind == CN_OP_SQUARE) {
            ops[n++] = (cn_op_t){.kind = CN_OP_RELIN};
            size = 2;
        }
    }
    /* greedy: each switch point in order takes the most drops that keep the estimate */
    for (size_t i = 0; i < n; i++) {
        if (ops[i].kind != CN_OP_MODSWITCH)
            continue;
        noise_run(ops, n, c);
        const size_t lvl = i > 0 ? ops[i - 1].level : c->L;
        const double before = i > 0 ? ops[i - 1].noise_bits : ops[i].noise_bits;
        while (ops[i].drop + 1 < lvl) {
            ops[i].drop++;
            const double v = noise_run(ops, n, c);
            if (v > -1 - margin || ops[i].noise_bits > before + 0.5) {
                ops[i].drop--;
                break;
            }
        }
    }
    /* remove empty switches */
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (ops[i].kind != CN_OP_MODSWITCH || ops[i].drop > 0)
            ops[m++] = ops[i];
    *final_v = noise_run(ops, m, c);
    size_t w = nin;
    for (size_t i = 0; i < m; i++) {
        if (ops[i].kind == CN_OP_LINEAR)
            w = ops[i].lin.nout;
        ops[i].width = w;
    }
    *out = ops;
    *nout = m;
    return CN_OK;
}

/* --- cost model ------------------------------------------------------------------------- */
/* Seconds on one core of this project's machine (measured with bench/throughput at
 * n = 8192, docs/net.md), scaled by n and the number of primes l. "fast" means the
 * AVX-512 IFMA kernels apply: the CPU has IFMA and every ciphertext prime is below 2^50;
 * without them the HPS multiplication runs about six times slower. Per ciphertext:
 * square 0.3 ms l (fast) or 1.7 ms l; relinearization 0.05 ms l (l + 1) (fast) or
 * 0.11 ms l (l + 1); modulus switch 0.05 ms l (size / 2); encryption 0.8 ms l; loading
 * at the server 0.17 ms l; decryption 0.1 ms l. Linear layers: per multiply-add
 * 1 / 20e9 s and per output coefficient 4 ns with the IFMA small-weight kernels
 * (|w| p < 2^52), else 1 / 5e9 s and 25 ns. */
typedef struct {
    int ifma;     /* the CPU has AVX-512 IFMA */
    double qmax;  /* largest ciphertext prime */
} costctx_t;

/* n log n, and a measured factor 2.3 per coefficient above n = 8192 (mnist_private on this
 * machine: the same network ran 2.3 times slower per slot at n = 16384, its polynomials
 * no longer fitting the caches) */
static double ring_scale(double n)
{
    return n / 8192.0 * log2(n) / 13.0 * (n > 8192 ? 2.3 : 1.0);
}

static double op_cost(const cn_op_t *op, size_t level_before, size_t size_before, double n,
                      size_t width_before, const costctx_t *cc)
{
    const double sc = ring_scale(n);
    const double l = (double)level_before, w = (double)width_before;
    const int fast = cc->ifma && cc->qmax < 0x1p50;
    switch (op->kind) {
    case CN_OP_LINEAR: {
        const int small = fast && (double)op->lin.wmax * 2 * cc->qmax < 0x1p52;
        const double coeffs = (double)size_before * l * n;
        return (double)op->lin.row[op->lin.nout] * coeffs / (small ? 20e9 : 5e9) +
               (double)op->lin.nout * coeffs * (small ? 4e-9 : 25e-9);
    }
    case CN_OP_SQUARE: return w * sc * l * (fast ? 0.3e-3 : 1.7e-3);
    case CN_OP_RELIN: return w * sc * l * (l + 1) * (fast ? 0.05e-3 : 0.11e-3);
    case CN_OP_MODSWITCH: return w * sc * l * 0.05e-3 * (double)size_before / 2;
    }
    return 0;
}

/* Fresh memory: the first touch of a page costs far more than the arithmetic on it on
 * this project's virtual machines (2.9 s per GiB measured, 0.05 s to touch it again), so
 * a batch pays for the largest amount of ciphertext memory alive at once (inputs and
 * outputs of an op), counted at 2.5 s per GiB. */
static double plan_cost(const cn_op_t *ops, size_t nops, size_t nin, size_t L, double n,
                        const costctx_t *cc)
{
    const double sc = ring_scale(n);
    double cost = (double)nin * sc * (double)L * (0.8e-3 + 0.17e-3);
    size_t level = L, size = 2, width = nin;
    double peak = 0;
    for (size_t i = 0; i < nops; i++) {
        cost += op_cost(&ops[i], level, size, n, width, cc);
        const double in_bytes = (double)width * (double)size * (double)level * n * 8;
        const double out_bytes = (double)ops[i].width * (double)ops[i].size *
                                 (double)ops[i].level * n * 8;
        const double live = ops[i].kind == CN_OP_LINEAR ? in_bytes + out_bytes
                                                        : fmax(in_bytes, out_bytes);
        if (live > peak)
            peak = live;
        level = ops[i].level;
        size = ops[i].size;
        width = ops[i].width;
    }
    return cost + (double)width * 0.1e-3 * sc * (double)level + peak / 0x1p30 * 2.5;
}

double cn_plan_cost(const cn_op_t *ops, size_t nops, size_t nin, const cn_bfv_params_t *prm)
{
    costctx_t cc = {.ifma = cn_cpu_features() & CN_CPU_AVX512IFMA ? 1 : 0,
                    .qmax = (double)prm->q[0]};
    for (size_t x = 1; x < prm->nq; x++)
        if ((double)prm->q[x] > cc.qmax)
            cc.qmax = (double)prm->q[x];
    return plan_cost(ops, nops, nin, prm->nq, (double)prm->n, &cc);
}

double cn_plan_noise(cn_op_t *ops, size_t nops, const cn_bfv_params_t *prm)
{
    nctx_t c;
    nctx_init(&c, prm);
    return noise_run(ops, nops, &c);
}

int cn_plan_moduli_fit(const uint64_t *t, size_t k, double out_bits)
{
    double lt = 0;
    for (size_t x = 0; x < k; x++)
        lt += log2((double)t[x]);
    /* T > 2 B + 1 with a bit to spare: decoding in (-T/2, T/2] is exact */
    return lt > out_bits + 2 + 1e-9;
}

/* --- the compiler ------------------------------------------------------------------------- */

void cn_plan_free(cn_plan_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nops; i++)
        if (p->ops[i].kind == CN_OP_LINEAR)
            cn_lin_clear(&p->ops[i].lin);
    free(p->ops);
    free(p);
}

/* The model folded into a skeleton of float linear maps and squares (docs/net.md, "The
 * compiler", stage 1); first[i]..last[i] are the model layers (1-based) that item i
 * came from, for messages. */
typedef struct {
    size_t cnt;
    flin_t *lin;  /* [cnt]: the map of a linear item (empty for a square) */
    int *is_sq;   /* [cnt] */
    size_t *first, *last;
} folded_t;

static void folded_clear(folded_t *f)
{
    for (size_t i = 0; f->lin && i < f->cnt; i++)
        flin_clear(&f->lin[i]);
    free(f->lin);
    free(f->is_sq);
    free(f->first);
    free(f->last);
    memset(f, 0, sizeof *f);
}

static void folded_push(folded_t *f, flin_t *lin, int is_sq, size_t first, size_t last)
{
    if (lin)
        f->lin[f->cnt] = *lin;
    else
        memset(&f->lin[f->cnt], 0, sizeof f->lin[f->cnt]);
    f->is_sq[f->cnt] = is_sq;
    f->first[f->cnt] = first;
    f->last[f->cnt++] = last;
}

static int flin_finite(const flin_t *f)
{
    for (size_t k = 0; k < f->row[f->nout]; k++)
        if (!isfinite(f->w[k]))
            return 0;
    for (size_t j = 0; j < f->nout; j++)
        if (!isfinite(f->b[j]))
            return 0;
    return 1;
}

/* Folds model m: flatten layers vanish, a pool is always folded into the next linear
 * layer (one quantization, one layer fewer, as CryptoNets did), and any two adjacent
 * linear layers whose product costs no more than the two apart are composed. */
static cn_status fold(folded_t *out, const cn_model_t *m, cn_net_diag_t *diag)
{
    folded_t f = {0};
    f.lin = calloc(m->nlayers, sizeof *f.lin);
    f.is_sq = calloc(m->nlayers, sizeof *f.is_sq);
    f.first = calloc(m->nlayers, sizeof *f.first);
    f.last = calloc(m->nlayers, sizeof *f.last);
    cn_status st = f.lin && f.is_sq && f.first && f.last ? CN_OK : CN_ERR_NO_MEMORY;
    flin_t pend = {0};
    int have = 0, pend_pool = 0;
    size_t pend_first = 0;
    for (size_t i = 0; i < m->nlayers && st == CN_OK; i++) {
        const cn_layer_t *l = &m->layers[i];
        if (l->kind == CN_LAYER_FLATTEN)
            continue;
        if (l->kind == CN_LAYER_SQUARE) {
            if (have)
                folded_push(&f, &pend, 0, pend_first, i);
            have = 0;
            folded_push(&f, NULL, 1, i + 1, i + 1);
            continue;
        }
        flin_t fl;
        st = l->kind == CN_LAYER_DENSE ? flin_dense(&fl, l) : flin_window(&fl, l);
        if (st != CN_OK)
            break;
        if (!have) {
            pend = fl;
            have = 1;
            pend_pool = l->kind == CN_LAYER_POOL;
            pend_first = i + 1;
            continue;
        }
        flin_t c;
        st = flin_compose(&c, &fl, &pend);
        if (st != CN_OK) {
            flin_clear(&fl);
            break;
        }
        if (pend_pool || c.row[c.nout] <= fl.row[fl.nout] + pend.row[pend.nout]) {
            flin_clear(&fl);
            flin_clear(&pend);
            pend = c;
        } else {
            flin_clear(&c);
            folded_push(&f, &pend, 0, pend_first, i);
            pend = fl;
            pend_first = i + 1;
        }
        pend_pool = l->kind == CN_LAYER_POOL;
    }
    if (have && st == CN_OK)
        folded_push(&f, &pend, 0, pend_first, m->nlayers);
    else if (have)
        flin_clear(&pend);
    for (size_t i = 0; st == CN_OK && i < f.cnt; i++)
        if (!f.is_sq[i] && !flin_finite(&f.lin[i])) {
            cn_diag_set(diag, "model layers %zu-%zu fold into one linear map whose weights or "
                        "biases exceed the range of a double", f.first[i], f.last[i]);
            st = CN_ERR_OUT_OF_RANGE;
        }
    if (st == CN_OK && f.cnt == 0) {
        cn_diag_set(diag, "the model computes nothing (only flatten layers): no linear, pool "
                    "or square layer to evaluate");
        st = CN_ERR_INVALID_ARG;
    }
    if (st != CN_OK)
        folded_clear(&f);
    *out = f;
    return st;
}

static size_t argmax_d(const double *v, size_t n)
{
    size_t b = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[b])
            b = i;
    return b;
}

static size_t argmax_i(const cn_int128 *v, size_t n)
{
    size_t b = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[b])
            b = i;
    return b;
}

/* *miss = calibration inputs whose argmax differs between the float outputs fo and the
 * integer network of p (whose ranges must already be checked); io is scratch. */
static cn_status calib_misses(size_t *miss, const cn_plan_t *p, const double *fo, cn_int128 *io,
                              const cn_compile_opts_t *opts)
{
    cn_status st = cn_plan_eval_plain(io, p, opts->calib, opts->ncalib);
    *miss = 0;
    for (size_t s = 0; st == CN_OK && s < opts->ncalib; s++)
        *miss += argmax_d(fo + s * p->nout, p->nout) != argmax_i(io + s * p->nout, p->nout);
    return st;
}

static void free_skeleton(cn_op_t *sk, size_t cnt)
{
    for (size_t i = 0; i < cnt; i++)
        if (sk[i].kind == CN_OP_LINEAR)
            cn_lin_clear(&sk[i].lin);
}

/* A scale is usable when it is a positive normal double. */
static int scale_ok(double s) { return isnormal(s) && s > 0; }

/* The integer skeleton (stage 2, quantization) at weight_bits wb: the integer value of
 * every quantity is its float value times a scale S, 1 / input_scale at the input,
 * squared by a square and multiplied by s at a linear layer, where s makes the largest
 * |weight| 2^wb - 1 (or, for a layer with no nonzero weight, the largest |bias|: its
 * outputs get the same precision). Every scale and scaled bias is checked before it is
 * converted: CN_ERR_OUT_OF_RANGE names the layers and the cause. sk has f->cnt items;
 * on error the ones made are freed. */
static cn_status quantize_all(cn_op_t *sk, const folded_t *f, double in_scale, unsigned wb,
                              double *out_scale, cn_net_diag_t *diag)
{
    const double top = exp2(wb) - 1;
    double S = 1.0 / in_scale;
    size_t width = 0;
    cn_status st = CN_OK;
    memset(sk, 0, f->cnt * sizeof *sk);
    if (!scale_ok(S)) {
        cn_diag_set(diag, "input scale %g: its inverse %g is not a usable scale", in_scale, S);
        return CN_ERR_OUT_OF_RANGE;
    }
    for (size_t i = 0; i < f->cnt && st == CN_OK; i++) {
        if (f->is_sq[i]) {
            sk[i].kind = CN_OP_SQUARE;
            sk[i].width = width;
            if (!scale_ok(S * S)) {
                cn_diag_set(diag, "model layer %zu (square): the integer scale %g squared "
                            "is out of the range of a double (input scale %g); rescale the "
                            "inputs or the weights", f->first[i], S, in_scale);
                st = CN_ERR_OUT_OF_RANGE;
            }
            S = S * S;
            continue;
        }
        const flin_t *fl = &f->lin[i];
        double mx = 0, bmx = 0;
        for (size_t k = 0; k < fl->row[fl->nout]; k++)
            mx = fmax(mx, fabs(fl->w[k]));
        for (size_t j = 0; j < fl->nout; j++)
            bmx = fmax(bmx, fabs(fl->b[j]));
        const double s = mx > 0 ? top / mx : bmx > 0 ? top / (bmx * S) : 1;
        const double so = s * S;
        if (!scale_ok(s) || !scale_ok(so)) {
            cn_diag_set(diag, "model layers %zu-%zu: no usable integer scale (largest |weight| "
                        "%g, largest |bias| %g, incoming scale %g, input scale %g): the "
                        "weights are too small or the scales too extreme for %u-bit weights",
                        f->first[i], f->last[i], mx, bmx, S, in_scale, wb);
            st = CN_ERR_OUT_OF_RANGE;
            break;
        }
        if (bmx * so >= 0x1p126) {
            cn_diag_set(diag, "model layers %zu-%zu: biases scaled to integers reach 2^%.1f, "
                        "more than the 126 bits carried (largest |bias| %g, largest |weight| "
                        "%g, output scale %g, input scale %g): the weights are tiny next to "
                        "the biases or the input scale is extreme; rescale the layer",
                        f->first[i], f->last[i], log2(bmx * so), bmx, mx, so, in_scale);
            st = CN_ERR_OUT_OF_RANGE;
            break;
        }
        sk[i].kind = CN_OP_LINEAR;
        st = quantize(&sk[i].lin, fl, s, so);
        S = so;
        width = sk[i].width = fl->nout;
    }
    if (st != CN_OK) {
        free_skeleton(sk, f->cnt);
        return st;
    }
    if (out_scale)
        *out_scale = S;
    return CN_OK;
}

/* Stage 2's search: the smallest weight width in [2, 16] for which the integer network
 * predicts (argmax) as the float network on the calibration inputs within the tolerance,
 * or the one with the fewest differences (*miss). Stops where the values pass 126 bits. */
static cn_status search_weight_bits(unsigned *wb, size_t *miss, cn_plan_t *p,
                                    const folded_t *f, const cn_model_t *m,
                                    const cn_compile_opts_t *opts, cn_net_diag_t *diag)
{
    double *fo = malloc(opts->ncalib * p->nout * sizeof *fo);
    cn_int128 *io = malloc(opts->ncalib * p->nout * sizeof *io);
    cn_op_t *sk = calloc(f->cnt, sizeof *sk);
    cn_status st = fo && io && sk ? CN_OK : CN_ERR_NO_MEMORY;
    /* the float network's outputs on the calibration inputs, once */
    for (size_t s = 0; st == CN_OK && s < opts->ncalib; s++)
        st = cn_model_forward(fo + s * p->nout, m, opts->calib + s * p->nin);
    size_t best = (size_t)-1;
    unsigned best_wb = 0;
    for (unsigned b = 2; st == CN_OK && b <= 16; b++) {
        st = quantize_all(sk, f, m->input_scale, b, NULL, diag);
        if (st != CN_OK)
            break;
        p->ops = sk;
        p->nops = f->cnt;
        size_t mb = 0;
        const cn_status rs = ranges(p, NULL);
        if (rs == CN_OK)
            st = calib_misses(&mb, p, fo, io, opts);
        free_skeleton(sk, f->cnt);
        p->ops = NULL;
        p->nops = 0;
        if (rs == CN_ERR_OUT_OF_RANGE)
            break; /* wider weights only widen the values */
        if (st == CN_OK && mb < best) {
            best = mb;
            best_wb = b;
        }
        if ((double)mb <= opts->calib_tolerance * (double)opts->ncalib)
            break; /* the smallest width within the tolerance */
    }
    free(fo);
    free(io);
    free(sk);
    if (st == CN_OK && best_wb == 0) {
        cn_diag_set(diag, "no weight width from 2 bits keeps the values within 126 bits");
        st = CN_ERR_OUT_OF_RANGE;
    }
    *wb = best_wb;
    *miss = best;
    return st;
}

/* What the parameter search saw, to explain a failure. */
typedef struct {
    size_t secure;      /* candidates (n, t bits, q bits, chain) that passed security */
    size_t noise_tried; /* candidates whose noise was estimated */
    size_t too_long;    /* schedules with more than CN_PLAN_MAX_OPS ops */
    double best_budget; /* largest budget estimated (bits) */
    size_t best_n, best_nq;
    double best_logq;
} search_log_t;

/* Stage 6: every candidate (n, t bits, q bits, chain length) that the options allow; the
 * cheapest per input, by the cost model, whose schedule (stage 5) and noise estimate
 * (stage 4) leave the margin. sk (cnt items) is the quantized skeleton. On success the
 * plan gets the ops (owning shallow copies of sk's layers), parameters and estimates. */
static cn_status search_params(cn_plan_t *p, const cn_op_t *sk, size_t cnt,
                               const cn_compile_opts_t *opts, search_log_t *lg)
{
    const double margin = opts->margin_bits ? opts->margin_bits : 10;
    const cn_security sec = opts->security;
    double best_cost = INFINITY;
    cn_op_t *best_ops = NULL;
    size_t best_n = 0;
    double best_v = 0;
    static const size_t ns[] = {2048, 4096, 8192, 16384, 32768};
    const size_t *nlist = opts->n ? &opts->n : ns;
    const size_t nn = opts->n ? 1 : sizeof ns / sizeof ns[0];
    cn_status st = CN_OK;
    lg->best_budget = -INFINITY;
    for (size_t ni = 0; st == CN_OK && ni < nn; ni++) {
        const size_t n = nlist[ni];
        if (sec != CN_SEC_NONE_INSECURE && cn_security_max_log_q(n, sec) == 0)
            continue;
        for (unsigned tb = 14; st == CN_OK && tb <= 60; tb++) {
            if (opts->t_bits && opts->t_bits != tb)
                continue;
            if (!opts->t_bits && tb % 2)
                continue; /* a coarser grid is enough for the search */
            /* plaintext moduli: enough tb-bit primes for 2 B + 1 (they depend on n and tb
             * only: found once for every ciphertext chain below) */
            size_t nt = 0;
            uint64_t tp[CN_BFV_MAX_T];
            for (size_t k = 1; k <= CN_BFV_MAX_T; k++) {
                if (cn_primes_ntt(tp, k, tb, n, NULL, 0, 0) != CN_OK)
                    break;
                if (cn_plan_moduli_fit(tp, k, p->out_bound_bits)) {
                    nt = k;
                    break;
                }
            }
            int wraps = 0;
            if (opts->nt && nt != opts->nt) {
                /* forced: more moduli than needed, or fewer (outputs then wrap mod T, as
                 * in other libraries' one-modulus benchmarks) */
                wraps = nt == 0 || opts->nt < nt;
                nt = opts->nt;
                if (nt > CN_BFV_MAX_T || cn_primes_ntt(tp, nt, tb, n, NULL, 0, 0) != CN_OK)
                    continue;
            }
            if (!nt)
                continue;
            for (unsigned qb = 30; st == CN_OK && qb <= 60; qb++) {
                if (opts->q_bits && opts->q_bits != qb)
                    continue;
                if (!opts->q_bits && qb % 2 && qb != 43 && qb != 49)
                    continue; /* even sizes, and the largest below 2^44 and 2^50 */
                size_t nq_max = opts->nq;
                if (!nq_max) {
                    nq_max = sec == CN_SEC_NONE_INSECURE
                                 ? 12
                                 : cn_bfv_params_max_primes(n, qb, qb + 1, sec);
                    if (nq_max > CN_BFV_MAX_Q)
                        nq_max = CN_BFV_MAX_Q;
                }
                for (size_t nq = opts->nq ? opts->nq : 1; st == CN_OK && nq <= nq_max; nq++) {
                    cn_bfv_params_t prm;
                    if (cn_bfv_params_default(&prm, n, nq, qb, qb + 1, nt, tb, sec) != CN_OK)
                        continue;
                    lg->secure++;
                    cn_op_t *ops;
                    size_t nops;
                    double v;
                    if (schedule(&ops, &nops, sk, cnt, p->nin, &prm, margin,
                                 opts->no_mod_switch, opts->eager_relin, &v) != CN_OK) {
                        st = CN_ERR_NO_MEMORY;
                        break;
                    }
                    const double budget = -v - 1;
                    lg->noise_tried++;
                    if (budget > lg->best_budget) {
                        lg->best_budget = budget;
                        lg->best_n = n;
                        lg->best_nq = nq;
                        lg->best_logq = cn_bfv_params_log_qp(&prm);
                    }
                    const double cost = (double)nt * cn_plan_cost(ops, nops, p->nin, &prm);
                    if (nops > CN_PLAN_MAX_OPS) {
                        lg->too_long++;
                        free(ops);
                    } else if ((budget >= margin || opts->allow_undersized) &&
                               cost / (double)n <
                                   best_cost / (double)(best_n ? best_n : 1)) {
                        free(best_ops);
                        best_ops = ops;
                        best_cost = cost;
                        best_n = n;
                        best_v = v;
                        p->nops = nops;
                        p->prm = prm;
                        p->wraps = wraps;
                    } else {
                        free(ops);
                    }
                }
            }
        }
    }
    if (st != CN_OK || !best_ops) {
        free(best_ops);
        return st;
    }
    p->ops = best_ops;
    p->budget = -best_v - 1;
    p->cost = best_cost;
    return CN_OK;
}

/* Explains why search_params found nothing. */
static cn_status search_failure(const search_log_t *lg, const cn_plan_t *p,
                                const cn_compile_opts_t *opts, cn_net_diag_t *diag)
{
    const double margin = opts->margin_bits ? opts->margin_bits : 10;
    const char *sec = opts->security == CN_SEC_NONE_INSECURE ? "no"
                      : opts->security == CN_SEC_192         ? "192-bit"
                      : opts->security == CN_SEC_256         ? "256-bit"
                                                             : "128-bit";
    if (lg->too_long && lg->too_long == lg->noise_tried) {
        cn_diag_set(diag, "the network needs more than %d ops after scheduling (squares, "
                    "relinearizations and modulus switches included): too deep for a plan",
                    CN_PLAN_MAX_OPS);
        return CN_ERR_UNSUPPORTED;
    }
    if (lg->noise_tried > 0) {
        cn_diag_set(diag, "no parameters leave the %.0f-bit noise budget margin: the best "
                    "candidate (n = %zu, %zu ciphertext primes, log2 qP = %.0f, %s security) "
                    "leaves an estimated %.1f bits of noise budget for outputs of 2^%.1f; "
                    "allow more primes or a larger n, or lower the weight bits",
                    margin, lg->best_n, lg->best_nq, lg->best_logq, sec, lg->best_budget,
                    p->out_bound_bits);
        return CN_ERR_NOISE_EXHAUSTED;
    }
    if (opts->security != CN_SEC_NONE_INSECURE && lg->secure == 0) {
        cn_diag_set(diag, "no ring degree%s and prime sizes the options allow meet %s "
                    "security (HomomorphicEncryption.org table); allow a larger n",
                    opts->n ? " (n forced)" : "", sec);
        return CN_ERR_INSECURE;
    }
    cn_diag_set(diag, "no parameters exist for the forced options (n %zu, t bits %u, %zu "
                "plaintext moduli, q bits %u, %zu primes): not enough NTT-friendly primes of "
                "these sizes for this n, or a plaintext modulus too large for the ciphertext "
                "modulus", opts->n, opts->t_bits, opts->nt, opts->q_bits, opts->nq);
    return CN_ERR_NOT_ENOUGH_PRIMES;
}

/* Checks the options a caller can get wrong (each named in diag). */
static cn_status check_opts(const cn_compile_opts_t *o, cn_net_diag_t *diag)
{
    if (o->weight_bits > 30) {
        cn_diag_set(diag, "weight_bits %u: at most 30", o->weight_bits);
        return CN_ERR_INVALID_ARG;
    }
    if (o->n && (o->n < CN_BFV_MIN_N || o->n > CN_BFV_MAX_N || (o->n & (o->n - 1)))) {
        cn_diag_set(diag, "n = %zu: the ring degree must be a power of two in [%d, %d]",
                    o->n, CN_BFV_MIN_N, CN_BFV_MAX_N);
        return CN_ERR_NOT_POWER_OF_TWO;
    }
    if ((o->t_bits && (o->t_bits < 14 || o->t_bits > 60)) ||
        (o->q_bits && (o->q_bits < 30 || o->q_bits > 60))) {
        cn_diag_set(diag, "t_bits %u or q_bits %u out of range (t: 14..60, q: 30..60)",
                    o->t_bits, o->q_bits);
        return CN_ERR_INVALID_ARG;
    }
    if (o->nt > CN_BFV_MAX_T || o->nq > CN_BFV_MAX_Q) {
        cn_diag_set(diag, "%zu plaintext moduli or %zu ciphertext primes: at most %d and %d",
                    o->nt, o->nq, CN_BFV_MAX_T, CN_BFV_MAX_Q);
        return CN_ERR_INVALID_ARG;
    }
    if (o->ncalib && !o->calib) {
        cn_diag_set(diag, "ncalib %zu with no calibration inputs", o->ncalib);
        return CN_ERR_INVALID_ARG;
    }
    if (!(o->calib_tolerance >= 0 && o->calib_tolerance <= 1)) {
        cn_diag_set(diag, "calib_tolerance %g: must be in [0, 1]", o->calib_tolerance);
        return CN_ERR_INVALID_ARG;
    }
    if (o->security != CN_SEC_128 && o->security != CN_SEC_192 &&
        o->security != CN_SEC_256 && o->security != CN_SEC_NONE_INSECURE) {
        cn_diag_set(diag, "unknown security level %d", (int)o->security);
        return CN_ERR_INVALID_ARG;
    }
    return CN_OK;
}

/* The compiler (docs/net.md, "The compiler"): fold, quantize (with the weight-width
 * search), exact ranges, then the parameter search, which runs the noise estimate and
 * the schedule for every candidate and keeps the cheapest. */
cn_status cn_plan_compile(cn_plan_t **out, const cn_model_t *m, const cn_compile_opts_t *opts,
                          cn_net_diag_t *diag)
{
    static const cn_compile_opts_t defaults = {0};
    if (!opts)
        opts = &defaults;
    if (diag)
        diag->msg[0] = 0;
    *out = NULL;
    if (!m || m->in_c == 0 || m->in_h == 0 || m->in_w == 0 || (m->nlayers && !m->layers)) {
        cn_diag_set(diag, "model: not initialised");
        return CN_ERR_INVALID_ARG;
    }
    if (m->nlayers == 0) {
        cn_diag_set(diag, "the model has no layers");
        return CN_ERR_INVALID_ARG;
    }
    cn_status st = check_opts(opts, diag);
    if (st != CN_OK)
        return st;
    folded_t f = {0};
    cn_plan_t *p = calloc(1, sizeof *p);
    cn_op_t *sk = NULL;
    if (!p)
        return CN_ERR_NO_MEMORY;
    p->nin = cn_model_inputs(m);
    p->nout = cn_model_outputs(m);
    p->in_min = m->input_min;
    p->in_max = m->input_max;
    st = fold(&f, m, diag);
    if (st == CN_OK && !(sk = calloc(f.cnt, sizeof *sk)))
        st = CN_ERR_NO_MEMORY;
    /* quantization: fixed, or the smallest weight_bits that predicts as the float net */
    unsigned wb = opts->weight_bits;
    size_t miss = 0;
    const int search = st == CN_OK && wb == 0 && opts->ncalib > 0;
    if (search)
        st = search_weight_bits(&wb, &miss, p, &f, m, opts, diag);
    else if (wb == 0)
        wb = 2;
    p->weight_bits = wb;
    if (st == CN_OK)
        st = quantize_all(sk, &f, m->input_scale, wb, &p->out_scale, diag);
    const size_t cnt = f.cnt;
    folded_clear(&f);
    /* exact ranges of the skeleton, then the calibration count at the chosen width */
    if (st == CN_OK) {
        p->ops = sk;
        p->nops = cnt;
        st = ranges(p, diag);
        if (st == CN_OK && opts->ncalib > 0 && search)
            p->calib_mismatch = miss;
        else if (st == CN_OK && opts->ncalib > 0) {
            double *fo = malloc(opts->ncalib * p->nout * sizeof *fo);
            cn_int128 *io = malloc(opts->ncalib * p->nout * sizeof *io);
            st = fo && io ? CN_OK : CN_ERR_NO_MEMORY;
            for (size_t s = 0; st == CN_OK && s < opts->ncalib; s++)
                st = cn_model_forward(fo + s * p->nout, m, opts->calib + s * p->nin);
            if (st == CN_OK)
                st = calib_misses(&p->calib_mismatch, p, fo, io, opts);
            free(fo);
            free(io);
        }
        p->ops = NULL;
        p->nops = 0;
    }
    search_log_t lg = {0};
    if (st == CN_OK) {
        st = search_params(p, sk, cnt, opts, &lg);
        if (st == CN_OK && !p->ops)
            st = search_failure(&lg, p, opts, diag);
    }
    if (st == CN_OK) {
        free(sk); /* the plan's ops own the linear layers now */
        sk = NULL;
        st = cn_plan_check(p, diag); /* the compiler's own output must pass the loader's check */
        if (st == CN_OK)
            st = ranges(p, diag); /* every op's range, inserted ops included */
        if (st == CN_OK) {
            *out = p;
            return CN_OK;
        }
        cn_plan_free(p);
        return st;
    }
    if (sk)
        free_skeleton(sk, cnt);
    free(sk);
    free(p);
    return st;
}

/* --- accessors and printing ---------------------------------------------------------- */

const cn_bfv_params_t *cn_plan_params(const cn_plan_t *p) { return &p->prm; }
size_t cn_plan_inputs(const cn_plan_t *p) { return p->nin; }
size_t cn_plan_outputs(const cn_plan_t *p) { return p->nout; }
size_t cn_plan_calibration_mismatches(const cn_plan_t *p) { return p->calib_mismatch; }
double cn_plan_output_budget(const cn_plan_t *p) { return p->budget; }
int cn_plan_wraps(const cn_plan_t *p) { return p->wraps; }
double cn_plan_output_scale(const cn_plan_t *p) { return p->out_scale; }
double cn_plan_output_bits(const cn_plan_t *p) { return p->out_bound_bits; }

void cn_plan_print(const cn_plan_t *p, FILE *f)
{
    const cn_bfv_params_t *prm = &p->prm;
    fprintf(f, "plan: %zu inputs in [%lld, %lld] -> %zu outputs (|output| < 2^%.1f), "
            "weights of %u bits\n", p->nin, (long long)p->in_min, (long long)p->in_max,
            p->nout, p->out_bound_bits, p->weight_bits);
    fprintf(f, "  n = %zu, log2(qP) = %.1f (%zu primes of", prm->n, cn_bfv_params_log_qp(prm),
            prm->nq);
    for (size_t i = 0; i < prm->nq; i++)
        fprintf(f, " %.0f", log2((double)prm->q[i]));
    fprintf(f, " bits, P of %.0f), security %s\n", log2((double)prm->p),
            prm->security == CN_SEC_NONE_INSECURE ? "NONE (insecure)"
            : prm->security == CN_SEC_192         ? "192"
            : prm->security == CN_SEC_256         ? "256"
                                                  : "128");
    fprintf(f, "  plaintext moduli (%zu):", prm->nt);
    for (size_t i = 0; i < prm->nt; i++)
        fprintf(f, " %llu", (unsigned long long)prm->t[i]);
    if (p->wraps)
        fprintf(f, " (forced: fewer than the range needs, outputs are exact only mod T)");
    fprintf(f, "\n  %-4s %-10s %8s %8s %6s %5s %10s %9s\n", "#", "op", "values", "nonzero",
            "level", "size", "range_bits", "budget");
    for (size_t i = 0; i < p->nops; i++) {
        const cn_op_t *op = &p->ops[i];
        const char *name = op->kind == CN_OP_LINEAR   ? (op->lin.dense ? "dense" : "sparse")
                           : op->kind == CN_OP_SQUARE ? "square"
                           : op->kind == CN_OP_RELIN  ? "relin"
                                                      : "modswitch";
        char nz[32] = "";
        if (op->kind == CN_OP_LINEAR)
            snprintf(nz, sizeof nz, "%zu", op->lin.row[op->lin.nout]);
        else if (op->kind == CN_OP_MODSWITCH)
            snprintf(nz, sizeof nz, "-%zu", op->drop);
        fprintf(f, "  %-4zu %-10s %8zu %8s %6zu %5zu %10.1f %9.1f\n", i + 1, name, op->width, nz,
                op->level, op->size, op->range_bits, -op->noise_bits - 1);
    }
    fprintf(f, "  estimated: final noise budget >= %.1f bits, %.2f s per batch of %zu on one "
            "core (cost model)\n", p->budget, p->cost, prm->n);
}
