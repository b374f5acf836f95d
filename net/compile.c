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

/* Propagates the intervals [lo, hi] of every value through the ops; sets range_bits of
 * each op and returns in *bits the log2 of the largest |value| anywhere, in *out_bits
 * that of the outputs (*out_bound = the largest |output| as fmpz). Also checks the
 * partial sums of the 128-bit reference (sum of |w| |x| + |b|) stay below 2^126. */
static cn_status ranges(cn_plan_t *p, fmpz_t out_bound, double *worst_bits)
{
    size_t maxw = p->nin;
    for (size_t i = 0; i < p->nops; i++)
        if (p->ops[i].width > maxw)
            maxw = p->ops[i].width;
    fmpz *lo = _fmpz_vec_init(maxw), *hi = _fmpz_vec_init(maxw);
    fmpz *nlo = _fmpz_vec_init(maxw), *nhi = _fmpz_vec_init(maxw);
    fmpz *ab = _fmpz_vec_init(maxw), *nab = _fmpz_vec_init(maxw);
    fmpz_t t, lim;
    fmpz_init(t);
    fmpz_init(lim);
    fmpz_one(lim);
    fmpz_mul_2exp(lim, lim, 126);
    cn_status st = CN_OK;
    size_t width = p->nin;
    for (size_t i = 0; i < width; i++) {
        fmpz_set_si(lo + i, p->in_min);
        fmpz_set_si(hi + i, p->in_max);
        const uint64_t amin = p->in_min < 0 ? 0 - (uint64_t)p->in_min : (uint64_t)p->in_min;
        const uint64_t amax = p->in_max < 0 ? 0 - (uint64_t)p->in_max : (uint64_t)p->in_max;
        fmpz_set_ui(ab + i, amin > amax ? amin : amax);
    }
    *worst_bits = 0;
    for (size_t o = 0; o < p->nops && st == CN_OK; o++) {
        cn_op_t *op = &p->ops[o];
        if (op->kind == CN_OP_LINEAR) {
            const cn_lin_t *l = &op->lin;
            for (size_t j = 0; j < l->nout; j++) {
                fmpz_set_si(nlo + j, 0);
                fmpz_set_si(nhi + j, 0);
                fmpz_zero(nab + j);
                /* the bias as two 64-bit halves */
                cn_int128 bb = l->bias[j];
                const int neg = bb < 0;
                unsigned __int128 ub = neg ? -(unsigned __int128)bb : (unsigned __int128)bb;
                fmpz_set_ui(t, (uint64_t)(ub >> 64));
                fmpz_mul_2exp(t, t, 64);
                fmpz_add_ui(t, t, (uint64_t)ub);
                fmpz_add(nab + j, nab + j, t);
                if (neg)
                    fmpz_neg(t, t);
                fmpz_set(nlo + j, t);
                fmpz_set(nhi + j, t);
                for (size_t k = l->row[j]; k < l->row[j + 1]; k++) {
                    const int64_t w = l->w[k];
                    const uint32_t i = l->col[k];
                    if (w > 0) {
                        fmpz_addmul_ui(nlo + j, lo + i, (uint64_t)w);
                        fmpz_addmul_ui(nhi + j, hi + i, (uint64_t)w);
                        fmpz_addmul_ui(nab + j, ab + i, (uint64_t)w);
                    } else if (w < 0) {
                        fmpz_submul_ui(nlo + j, hi + i, (uint64_t)-w);
                        fmpz_submul_ui(nhi + j, lo + i, (uint64_t)-w);
                        fmpz_addmul_ui(nab + j, ab + i, (uint64_t)-w);
                    }
                }
            }
            width = l->nout;
        } else if (op->kind == CN_OP_SQUARE) {
            for (size_t i = 0; i < width; i++) {
                if (fmpz_sgn(lo + i) >= 0) {
                    fmpz_mul(nlo + i, lo + i, lo + i);
                    fmpz_mul(nhi + i, hi + i, hi + i);
                } else if (fmpz_sgn(hi + i) <= 0) {
                    fmpz_mul(nlo + i, hi + i, hi + i);
                    fmpz_mul(nhi + i, lo + i, lo + i);
                } else {
                    fmpz_zero(nlo + i);
                    fmpz_mul(nhi + i, lo + i, lo + i);
                    fmpz_mul(t, hi + i, hi + i);
                    if (fmpz_cmp(t, nhi + i) > 0)
                        fmpz_set(nhi + i, t);
                }
                fmpz_mul(nab + i, ab + i, ab + i);
            }
        } else {
            for (size_t i = 0; i < width; i++) {
                fmpz_set(nlo + i, lo + i);
                fmpz_set(nhi + i, hi + i);
                fmpz_set(nab + i, ab + i);
            }
        }
        /* the largest |value| of this op, and the 128-bit safety of the reference */
        fmpz_zero(out_bound);
        for (size_t i = 0; i < width; i++) {
            fmpz_abs(t, nlo + i);
            if (fmpz_cmp(t, out_bound) > 0)
                fmpz_set(out_bound, t);
            fmpz_abs(t, nhi + i);
            if (fmpz_cmp(t, out_bound) > 0)
                fmpz_set(out_bound, t);
            if (fmpz_cmp(nab + i, lim) >= 0)
                st = CN_ERR_OUT_OF_RANGE;
        }
        op->range_bits = fmpz_is_zero(out_bound) ? 0 : fmpz_dlog(out_bound) / log(2.0);
        if (op->range_bits > *worst_bits)
            *worst_bits = op->range_bits;
        fmpz *sw;
        sw = lo, lo = nlo, nlo = sw;
        sw = hi, hi = nhi, nhi = sw;
        sw = ab, ab = nab, nab = sw;
    }
    _fmpz_vec_clear(lo, maxw);
    _fmpz_vec_clear(hi, maxw);
    _fmpz_vec_clear(nlo, maxw);
    _fmpz_vec_clear(nhi, maxw);
    _fmpz_vec_clear(ab, maxw);
    _fmpz_vec_clear(nab, maxw);
    fmpz_clear(t);
    fmpz_clear(lim);
    return st;
}

cn_status cn_plan_ranges(cn_plan_t *p)
{
    fmpz_t bd;
    double worst;
    fmpz_init(bd);
    const cn_status st = ranges(p, bd, &worst);
    fmpz_clear(bd);
    if (st == CN_OK)
        p->out_bound_bits = p->nops ? p->ops[p->nops - 1].range_bits : 0;
    return st;
}

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

static void nctx_init(nctx_t *c, const cn_bfv_params_t *prm, size_t ti)
{
    c->log_n = log2((double)prm->n);
    c->log_t = log2((double)prm->t[ti]);
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
    /* fresh secret-key encryption: t e - r m with |e| <= eta (CBD) and |r m| < t^2/2 */
    double v = log2(exp2(c->log_t) * CN_CBD_ETA + exp2(2 * c->log_t - 1)) -
               c->log_q_prefix[c->L];
    size_t level = c->L, size = 2;
    for (size_t o = 0; o < nops; o++) {
        cn_op_t *op = &ops[o];
        const double lq = c->log_q_prefix[level];
        switch (op->kind) {
        case CN_OP_LINEAR: {
            /* worst case: ||sum w_i v_i|| <= (sum |w_i|) max ||v_i||; the bias adds the
             * rounding of Delta b, below t^2 / (2Q) */
            const double l1max = op->lin.l1max;
            v = (l1max > 0 ? v + log2(l1max) : -1e9);
            v = lg_add(v, 2 * c->log_t - 1 - lq);
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
                          size_t nin, const nctx_t *c, double margin, int no_ms,
                          int eager, double *final_v)
{
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

/* Folds the model into a skeleton of float linear maps and squares. */
static cn_status fold(flin_t *lins, int *is_sq, size_t *count, const cn_model_t *m)
{
    size_t n = 0;
    flin_t pend = {0};
    int have = 0, pend_pool = 0;
    cn_status st = CN_OK;
    for (size_t i = 0; i < m->nlayers && st == CN_OK; i++) {
        const cn_layer_t *l = &m->layers[i];
        if (l->kind == CN_LAYER_FLATTEN)
            continue;
        if (l->kind == CN_LAYER_SQUARE) {
            if (have) {
                lins[n] = pend;
                is_sq[n++] = 0;
                have = 0;
            }
            memset(&lins[n], 0, sizeof lins[n]);
            is_sq[n++] = 1;
            continue;
        }
        flin_t f;
        st = l->kind == CN_LAYER_DENSE ? flin_dense(&f, l) : flin_window(&f, l);
        if (st != CN_OK)
            break;
        if (!have) {
            pend = f;
            have = 1;
            pend_pool = l->kind == CN_LAYER_POOL;
            continue;
        }
        flin_t c;
        st = flin_compose(&c, &f, &pend);
        if (st != CN_OK) {
            flin_clear(&f);
            break;
        }
        /* fold a pool into the next linear layer (one quantization, one layer fewer, as
         * CryptoNets did), and any two linear layers whose product costs no more than
         * the two apart */
        if (pend_pool || c.row[c.nout] <= f.row[f.nout] + pend.row[pend.nout]) {
            flin_clear(&f);
            flin_clear(&pend);
            pend = c;
            pend_pool = l->kind == CN_LAYER_POOL;
        } else {
            flin_clear(&c);
            lins[n] = pend;
            is_sq[n++] = 0;
            pend = f;
            pend_pool = l->kind == CN_LAYER_POOL;
        }
    }
    if (have) {
        if (st == CN_OK) {
            lins[n] = pend;
            is_sq[n++] = 0;
        } else {
            flin_clear(&pend);
        }
    }
    *count = n;
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

/* The integer skeleton at weight_bits wb. */
static cn_status quantize_all(cn_op_t *sk, const flin_t *lins, const int *is_sq, size_t cnt,
                              double in_scale, unsigned wb, double *out_scale)
{
    double S = 1.0 / in_scale; /* integer value = float value * S */
    size_t width = 0;
    for (size_t i = 0; i < cnt; i++) {
        memset(&sk[i], 0, sizeof sk[i]);
        if (is_sq[i]) {
            sk[i].kind = CN_OP_SQUARE;
            S = S * S;
            sk[i].width = width;
            continue;
        }
        double mx = 0;
        for (size_t k = 0; k < lins[i].row[lins[i].nout]; k++)
            if (fabs(lins[i].w[k]) > mx)
                mx = fabs(lins[i].w[k]);
        const double s = mx > 0 ? (exp2(wb) - 1) / mx : 1;
        sk[i].kind = CN_OP_LINEAR;
        cn_status st = quantize(&sk[i].lin, &lins[i], s, s * S);
        if (st != CN_OK)
            return st;
        S *= s;
        width = sk[i].width = lins[i].nout;
    }
    if (out_scale)
        *out_scale = S;
    return CN_OK;
}

static void free_skeleton(cn_op_t *sk, size_t cnt)
{
    for (size_t i = 0; i < cnt; i++)
        if (sk[i].kind == CN_OP_LINEAR)
            cn_lin_clear(&sk[i].lin);
}

cn_status cn_plan_compile(cn_plan_t **out, const cn_model_t *m, const cn_compile_opts_t *opts,
                          cn_net_diag_t *diag)
{
    static const cn_compile_opts_t defaults = {0};
    if (!opts)
        opts = &defaults;
    if (diag)
        diag->msg[0] = 0;
    *out = NULL;
    if (m->nlayers == 0) {
        cn_diag_set(diag, "the model has no layers");
        return CN_ERR_INVALID_ARG;
    }
    flin_t *lins = calloc(m->nlayers, sizeof *lins);
    int *is_sq = calloc(m->nlayers, sizeof *is_sq);
    cn_op_t *sk = calloc(m->nlayers, sizeof *sk);
    cn_plan_t *p = calloc(1, sizeof *p);
    size_t cnt = 0;
    cn_status st = (lins && is_sq && sk && p) ? fold(lins, is_sq, &cnt, m) : CN_ERR_NO_MEMORY;
    if (st == CN_OK && cnt > 16) {
        cn_diag_set(diag, "more than 16 layers after folding");
        st = CN_ERR_UNSUPPORTED;
    }
    if (st == CN_OK) {
        p->nin = cn_model_inputs(m);
        p->nout = cn_model_outputs(m);
        p->in_min = m->input_min;
        p->in_max = m->input_max;
    }
    /* quantization: fixed, or the smallest weight_bits that predicts as the float net */
    unsigned wb = opts->weight_bits;
    if (st == CN_OK && wb > 30) {
        cn_diag_set(diag, "weight_bits %u: at most 30", wb);
        st = CN_ERR_INVALID_ARG;
    }
    /* the float network's outputs on the calibration inputs, once */
    double *fo = NULL;
    cn_int128 *io = NULL;
    if (st == CN_OK && opts->ncalib > 0) {
        fo = malloc(opts->ncalib * p->nout * sizeof *fo);
        io = malloc(opts->ncalib * p->nout * sizeof *io);
        if (!fo || !io)
            st = CN_ERR_NO_MEMORY;
        for (size_t s = 0; st == CN_OK && s < opts->ncalib; s++)
            st = cn_model_forward(fo + s * p->nout, m, opts->calib + s * p->nin);
    }
    int searched = 0;
    size_t best = (size_t)-1;
    if (st == CN_OK && wb == 0) {
        unsigned best_wb = 0;
        for (unsigned b = 2; st == CN_OK && b <= 16 && opts->ncalib > 0; b++) {
            st = quantize_all(sk, lins, is_sq, cnt, m->input_scale, b, NULL);
            p->ops = sk;
            p->nops = cnt;
            /* wider weights only widen the values: stop where they pass 126 bits */
            if (st == CN_OK) {
                fmpz_t bd;
                double wbits;
                fmpz_init(bd);
                const cn_status rs = ranges(p, bd, &wbits);
                fmpz_clear(bd);
                if (rs == CN_ERR_OUT_OF_RANGE) {
                    free_skeleton(sk, cnt);
                    p->ops = NULL;
                    p->nops = 0;
                    break;
                }
                st = rs;
            }
            size_t miss = 0;
            if (st == CN_OK)
                st = calib_misses(&miss, p, fo, io, opts);
            free_skeleton(sk, cnt);
            p->ops = NULL;
            p->nops = 0;
            if (st == CN_OK && miss < best) {
                best = miss;
                best_wb = b;
            }
            if ((double)miss <= opts->calib_tolerance * (double)opts->ncalib)
                break; /* the smallest width within the tolerance */
        }
        searched = best_wb != 0;
        wb = searched ? best_wb : 2;
    }
    if (st == CN_OK)
        st = quantize_all(sk, lins, is_sq, cnt, m->input_scale, wb, &p->out_scale);
    p->weight_bits = wb;
    for (size_t i = 0; i < cnt; i++)
        flin_clear(&lins[i]);
    free(lins);
    lins = NULL;
    /* ranges */
    fmpz_t bound;
    fmpz_init(bound);
    double worst = 0;
    if (st == CN_OK) {
        p->ops = sk;
        p->nops = cnt;
        st = ranges(p, bound, &worst);
        /* calibration mismatches of the chosen quantization: known from the search, else
         * counted now that the ranges allow the 128-bit reference run */
        if (st == CN_OK && opts->ncalib > 0) {
            if (searched)
                p->calib_mismatch = best;
            else
                st = calib_misses(&p->calib_mismatch, p, fo, io, opts);
        }
        p->ops = NULL;
        p->nops = 0;
        if (st == CN_OK)
            p->out_bound_bits = sk[cnt - 1].range_bits;
        else if (st == CN_ERR_OUT_OF_RANGE)
            cn_diag_set(diag, "values reach 2^%.1f: more than the 126 bits this version "
                        "carries (lower weight_bits or the input range)", worst);
    }
    free(fo);
    free(io);
    /* parameters: every candidate (n, t bits, q bits) the options allow; the cheapest
     * per input whose estimate meets the margin */
    const double margin = opts->margin_bits ? opts->margin_bits : 10;
    const cn_security sec = opts->security;
    double best_cost = INFINITY;
    cn_op_t *best_ops = NULL;
    size_t best_n = 0;
    double best_v = 0;
    static const size_t ns[] = {2048, 4096, 8192, 16384, 32768};
    for (size_t ni = 0; st == CN_OK && ni < sizeof ns / sizeof ns[0]; ni++) {
        const size_t n = ns[ni];
        if (opts->n && opts->n != n)
            continue;
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
            const double need = p->out_bound_bits + 1.0 + 1e-9;
            uint64_t tp[CN_BFV_MAX_T];
            for (size_t k = 1; k <= CN_BFV_MAX_T; k++) {
                if (cn_primes_ntt(tp, k, tb, n, NULL, 0, 0) != CN_OK)
                    break;
                double lt = 0;
                for (size_t x = 0; x < k; x++)
                    lt += log2((double)tp[x]);
                if (lt > need + 1) {
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
                    /* noise with the largest t (the estimate is per modulus) */
                    size_t tmax = 0;
                    for (size_t x = 1; x < nt; x++)
                        if (prm.t[x] > prm.t[tmax])
                            tmax = x;
                    nctx_t c;
                    nctx_init(&c, &prm, tmax);
                    cn_op_t *ops;
                    size_t nops;
                    double v;
                    if (schedule(&ops, &nops, sk, cnt, p->nin, &c, margin, opts->no_mod_switch,
                                 opts->eager_relin, &v) != CN_OK) {
                        st = CN_ERR_NO_MEMORY;
                        break;
                    }
                    const double budget = -v - 1;
                    costctx_t cc = {.ifma = cn_cpu_features() & CN_CPU_AVX512IFMA ? 1 : 0,
                                    .qmax = (double)prm.q[0]};
                    for (size_t x = 1; x < nq; x++)
                        if ((double)prm.q[x] > cc.qmax)
                            cc.qmax = (double)prm.q[x];
                    const double cost =
                        (double)nt * plan_cost(ops, nops, p->nin, nq, (double)n, &cc);
                    if ((budget >= margin || opts->allow_undersized) &&
                        cost / (double)n < best_cost / (double)(best_n ? best_n : 1)) {
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
    fmpz_clear(bound);
    if (st == CN_OK && !best_ops) {
        cn_diag_set(diag, "no parameters carry this network (outputs of 2^%.1f) at the "
                    "requested security with a %.0f-bit margin; lower weight_bits or relax "
                    "the options", p->out_bound_bits, margin);
        st = CN_ERR_INSECURE;
    }
    if (st == CN_OK) {
        /* the ops own the linear layers now; the skeleton's copies are shallow */
        p->ops = best_ops;
        p->budget = -best_v - 1;
        p->cost = best_cost;
        free(sk);
        sk = NULL;
        st = cn_plan_check(p, diag); /* the compiler's own output must pass the loader's check */
        if (st == CN_OK)
            st = cn_plan_ranges(p); /* every op's range, inserted ops included */
        if (st == CN_OK)
            *out = p;
        else
            cn_plan_free(p);
    } else {
        free(best_ops);
        if (sk)
            free_skeleton(sk, cnt);
        free(sk);
        sk = NULL;
        free(p);
    }
    if (lins)
        for (size_t i = 0; i < cnt; i++)
            flin_clear(&lins[i]);
    free(lins);
    free(is_sq);
    free(sk);
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
