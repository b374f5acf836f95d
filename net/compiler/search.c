/* Stage 2's search, the quantization policy (docs/net.md, "Quantization policy"): a weight
 * width per linear layer, the fewest plaintext bits (the exact range of the outputs) for
 * which the integer network, which the encrypted one equals, meets the calibration
 * criterion: accuracy within a tolerance of the float network's (labelled calibration
 * inputs), a fraction of agreeing predictions (unlabelled), or every prediction (exact).
 *
 * The search: widths of 2, 3, ... bits for every layer until one meets the criterion (b),
 * up to b + 2; then from each of those uniform widths a descent that lowers one layer at a
 * time, the layers whose bits weigh most in the outputs first (a layer followed by k
 * squares counts 2^k times), a layer stopping after LOOKAHEAD failed steps in a row.
 * Every candidate is evaluated exactly (the reference run on every calibration input, in
 * 64-bit integers where a layer's sums provably fit, else 128) and its ranges computed
 * exactly; the values entering each layer are kept for the current candidate, so a step
 * at layer j reruns the network from j only. The table of what it saw is the Pareto front
 * of plaintext bits against calibration score; the parameter search (stage 6) costs each
 * row, and the plan takes the meeting row of least estimated time per input, or within
 * TIME_BAND of it the best score (agreement with the float network, then accuracy; then
 * fewer bits). No state outside the call: compiles
 * may run in several threads at once. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"

#define MAXL CN_PLAN_MAX_OPS
#define MAX_EVALS 400                   /* candidates evaluated at most */
#define CACHE_BYTES ((size_t)384 << 20) /* kept values of the reference runs, at most */
#define DEFAULT_TOL_LABELLED 0.002      /* 0.2 points of accuracy */
#define DEFAULT_TOL_AGREE 0.005         /* 99.5% of predictions agree */
/* estimated times this close count as equal: bits the cost model prices within 5% cost
 * nothing worth weighing against accuracy (15% until the cost model's refit of
 * 2026-11-30, sixth session: at 15% the band let 5-bit dense weights through at 8.7% more
 * estimated time and 7 to 10% more measured, since they keep the dense layer off the
 * small-weight kernel; docs/net.md, "The choice") */
#define TIME_BAND 0.05
#define LOOKAHEAD 3 /* failed steps in a row before a layer's descent stops */
#define PASSES 3    /* passes of a descent over the layers, at most */

typedef struct {
    unsigned char b[MAXL]; /* width of each linear layer */
    double out_bits;       /* log2 of the largest |output|; INFINITY past 126 bits */
    size_t agree, correct;
    int meets;
} cand_t;

typedef struct {
    const cn_folded_t *f;
    const cn_model_t *m;
    size_t cnt, nl, nin, nout, nc;
    size_t lin[MAXL]; /* item index of each linear layer */
    size_t *fa;       /* the float network's argmax on each calibration input */
    const int64_t *calib, *labels;
    size_t float_correct;
    int exact;
    double tol;
    cn_op_t *qnet; /* the candidate being evaluated */
    unsigned *wb;  /* its widths per item */
    size_t *win;   /* [cnt + 1]: values entering item i; win[cnt] = outputs */
    /* cache = 1: act[i] holds the values entering item i (all calibration inputs) for the
     * base candidate, nxt[i] the last evaluated one's from its first changed item on;
     * cache = 0: two buffers of chunk inputs, every evaluation from the start */
    int cache, have_base;
    size_t chunk, pending; /* pending: first item the last evaluation ran */
    cn_int128 **act, **nxt;
    int64_t *x64; /* an op's inputs in 64 bits (op_eval), NULL if it could not be had */
    unsigned char base[MAXL], last[MAXL];
    cand_t *cands;
    size_t ncand, cap;
} sctx_t;

/* the criterion (docs/net.md): counts compared with the tolerance as a fraction of nc */
static int meets(const sctx_t *c, size_t agree, size_t correct)
{
    const double slack = c->tol * (double)c->nc + 1e-9;
    if (c->exact)
        return agree == c->nc;
    if (c->labels)
        return (double)correct + slack >= (double)c->float_correct;
    return (double)(c->nc - agree) <= slack;
}

/* The score that orders candidates of about the same cost (the table's front, the choice
 * within TIME_BAND, the fallback when nothing meets the criterion): the predictions that
 * agree with the float network's, then (labelled) the correct ones. Agreement first: each
 * prediction the quantization changes on an unseen input costs about the float network's
 * accuracy, whatever the label, so the changed predictions estimate the loss with less
 * variance than the difference of two accuracies (on the MNIST models' 5000 training
 * images, docs/benchmarks.md "2026-11-30: the two-moduli default"). */
static size_t score_of(const sctx_t *c, size_t agree, size_t correct)
{
    return c->labels && !c->exact ? agree * (c->nc + 1) + correct : agree;
}

static size_t score(const sctx_t *c, const cand_t *x)
{
    return score_of(c, x->agree, x->correct);
}

static size_t row_score(const sctx_t *c, const cn_quant_row_t *r)
{
    return score_of(c, r->agree, r->correct);
}

static void count_outputs(sctx_t *c, cand_t *x, const cn_int128 *out, size_t s0, size_t cnt)
{
    for (size_t s = 0; s < cnt; s++) {
        const size_t a = cn_argmax_i128(out + s * c->nout, c->nout);
        x->agree += a == c->fa[s0 + s];
        x->correct += c->labels && (int64_t)a == c->labels[s0 + s];
    }
}

static void raw_to_i128(cn_int128 *dst, const int64_t *x, size_t count)
{
    for (size_t i = 0; i < count; i++)
        dst[i] = x[i];
}

/* One op of the reference run on count rows (cn_op_eval_plain's result): a linear layer
 * whose every partial sum provably stays below 2^62 (|bias| + sum |w| max|input|, from the
 * actual inputs) runs in 64-bit integers on a copy of its inputs in x64 (count * win
 * values), else in 128 bits. Both are exact, so they agree. */
static void op_eval(cn_int128 *b, const cn_int128 *a, size_t win, const cn_op_t *op,
                    size_t count, int64_t *x64)
{
    if (op->kind != CN_OP_LINEAR || !x64) {
        cn_op_eval_plain(b, a, win, op, count);
        return;
    }
    const cn_lin_t *l = &op->lin;
    unsigned __int128 amax = 0, bound = 0;
    for (size_t i = 0; i < count * win; i++) {
        const unsigned __int128 v =
            a[i] < 0 ? -(unsigned __int128)a[i] : (unsigned __int128)a[i];
        amax = v > amax ? v : amax;
    }
    for (size_t j = 0; j < l->nout && amax < ((unsigned __int128)1 << 62); j++) {
        unsigned __int128 r =
            l->bias[j] < 0 ? -(unsigned __int128)l->bias[j] : (unsigned __int128)l->bias[j];
        for (size_t k = l->row[j]; k < l->row[j + 1]; k++)
            r += (unsigned __int128)(l->w[k] < 0 ? 0 - (uint64_t)l->w[k] : (uint64_t)l->w[k]) *
                 amax;
        bound = r > bound ? r : bound;
    }
    if (amax >= ((unsigned __int128)1 << 62) || bound >= ((unsigned __int128)1 << 62)) {
        cn_op_eval_plain(b, a, win, op, count);
        return;
    }
    /* the inputs are independent rows: threads take rows below (the same sums, whatever
     * the number of threads); worth it from a few thousand calibration inputs */
    for (size_t i = 0; i < count * win; i++)
        x64[i] = (int64_t)a[i];
#pragma omp parallel for schedule(static) if (count >= 512)
    for (size_t s = 0; s < count; s++) {
        const int64_t *x = x64 + s * win;
        for (size_t j = 0; j < l->nout; j++) {
            int64_t acc = (int64_t)l->bias[j];
            const int64_t *w = l->w + l->row[j];
            const size_t len = l->row[j + 1] - l->row[j];
            if (l->dense) /* every column, in order */
                for (size_t k = 0; k < len; k++)
                    acc += w[k] * x[k];
            else
                for (size_t k = 0; k < len; k++)
                    acc += w[k] * x[l->col[l->row[j] + k]];
            b[s * l->nout + j] = acc;
        }
    }
}

/* Evaluates x (its widths set): quantization, exact ranges, then the reference run on
 * every calibration input; errors other than values past 126 bits are returned. */
static cn_status eval(sctx_t *c, cand_t *x, cn_net_diag_t *diag)
{
    for (size_t i = 0; i < c->cnt; i++)
        c->wb[i] = 0;
    for (size_t k = 0; k < c->nl; k++)
        c->wb[c->lin[k]] = x->b[k];
    x->agree = x->correct = 0;
    x->meets = 0;
    x->out_bits = INFINITY;
    cn_status st = cn_quantize(c->qnet, c->f, c->m->input_scale, c->wb, NULL, diag);
    if (st != CN_OK)
        return st;
    double bits = 0;
    st = cn_ops_ranges(c->qnet, c->cnt, c->nin, c->m->input_min, c->m->input_max, &bits, NULL);
    if (st == CN_ERR_OUT_OF_RANGE) {
        cn_qnet_clear(c->qnet, c->cnt);
        return CN_OK; /* past 126 bits: not a candidate */
    }
    if (st == CN_OK && c->cache) {
        size_t j0 = 0; /* items before the first changed layer keep the base's values */
        if (c->have_base) {
            j0 = c->cnt;
            for (size_t k = 0; k < c->nl; k++)
                if (x->b[k] != c->base[k]) {
                    j0 = c->lin[k];
                    break;
                }
        }
        for (size_t i = j0; i < c->cnt; i++)
            op_eval(c->nxt[i + 1], i == j0 ? c->act[i] : c->nxt[i], c->win[i], &c->qnet[i],
                    c->nc, c->x64);
        count_outputs(c, x, j0 < c->cnt ? c->nxt[c->cnt] : c->act[c->cnt], 0, c->nc);
        c->pending = j0;
        memcpy(c->last, x->b, sizeof c->last);
    } else if (st == CN_OK) {
        for (size_t s0 = 0; s0 < c->nc; s0 += c->chunk) {
            const size_t k = c->nc - s0 < c->chunk ? c->nc - s0 : c->chunk;
            cn_int128 *a = c->act[0], *b = c->act[1];
            raw_to_i128(a, c->calib + s0 * c->nin, k * c->nin);
            for (size_t i = 0; i < c->cnt; i++) {
                op_eval(b, a, c->win[i], &c->qnet[i], k, c->x64);
                cn_int128 *t = a;
                a = b;
                b = t;
            }
            count_outputs(c, x, a, s0, k);
        }
    }
    cn_qnet_clear(c->qnet, c->cnt);
    if (st == CN_OK) {
        x->out_bits = bits;
        x->meets = meets(c, x->agree, x->correct);
    }
    return st;
}

/* The last evaluation (cache = 1) becomes the base: its values from its first changed
 * item on replace the base's. */
static void accept(sctx_t *c)
{
    if (!c->cache)
        return;
    for (size_t i = c->pending + 1; i <= c->cnt; i++) {
        cn_int128 *t = c->act[i];
        c->act[i] = c->nxt[i];
        c->nxt[i] = t;
    }
    memcpy(c->base, c->last, sizeof c->base);
    c->have_base = 1;
}

static cand_t *find(sctx_t *c, const unsigned char *b)
{
    for (size_t i = 0; i < c->ncand; i++)
        if (!memcmp(c->cands[i].b, b, c->nl))
            return &c->cands[i];
    return NULL;
}

/* The candidate of widths b: looked up, or evaluated (and, when as_base and it meets the
 * criterion or as_base > 1, made the base). *out is NULL when the evaluation budget is
 * spent. */
static cn_status visit(cand_t **out, sctx_t *c, const unsigned char *b, int as_base,
                       cn_net_diag_t *diag)
{
    *out = NULL;
    cand_t *x = find(c, b);
    const int is_base = c->have_base && !memcmp(c->base, b, c->nl);
    if (x && (!as_base || is_base || (as_base == 1 && !x->meets) || !isfinite(x->out_bits))) {
        *out = x;
        return CN_OK;
    }
    if (!x) {
        if (c->ncand >= MAX_EVALS)
            return CN_OK;
        if (c->ncand == c->cap) {
            const size_t cap = c->cap ? 2 * c->cap : 32;
            cand_t *t = realloc(c->cands, cap * sizeof *t);
            if (!t)
                return CN_ERR_NO_MEMORY;
            c->cands = t;
            c->cap = cap;
        }
        x = &c->cands[c->ncand++];
        memset(x, 0, sizeof *x);
        memcpy(x->b, b, c->nl);
    }
    const cn_status st = eval(c, x, diag);
    if (st == CN_OK && as_base && isfinite(x->out_bits) && (as_base > 1 || x->meets))
        accept(c);
    *out = x;
    return st;
}

/* From the uniform width u: each layer in turn, the layers whose bits weigh most in the
 * outputs first, goes down one bit at a time while the criterion holds. The accuracy is not
 * monotone in a width (a step down can miss the criterion where two steps meet it), so a
 * layer stops only after LOOKAHEAD failed steps in a row, at the lowest width that met it.
 * Passes over the layers repeat while one moved (at most PASSES). */
static cn_status descend(sctx_t *c, unsigned u, const size_t *order, cn_net_diag_t *diag)
{
    unsigned char cur[MAXL] = {0};
    memset(cur, (int)u, c->nl);
    cand_t *x;
    cn_status st = visit(&x, c, cur, 2, diag);
    if (st != CN_OK || !x || !x->meets)
        return st;
    for (int pass = 0; pass < PASSES; pass++) {
        int moved = 0;
        for (size_t r = 0; r < c->nl; r++) {
            const size_t k = order[r];
            unsigned char trial[MAXL];
            memcpy(trial, cur, sizeof trial);
            for (int fails = 0; trial[k] > 2 && fails < LOOKAHEAD;) {
                trial[k]--;
                st = visit(&x, c, trial, 1, diag);
                if (st != CN_OK || !x)
                    return st;
                if (x->meets) {
                    cur[k] = trial[k];
                    moved = 1;
                    fails = 0;
                } else {
                    fails++;
                }
            }
        }
        if (!moved)
            break;
    }
    return CN_OK;
}

/* Allocates what the evaluations keep: every item's input values for all calibration
 * inputs twice (the network's inputs once: no evaluation rewrites them) when that fits
 * CACHE_BYTES, else two buffers of a chunk of inputs. */
static cn_status alloc_values(sctx_t *c)
{
    size_t maxw = 0;
    double total = 0;
    for (size_t i = 0; i <= c->cnt; i++) {
        maxw = c->win[i] > maxw ? c->win[i] : maxw;
        total += (i ? 2.0 : 1.0) * (double)c->win[i] * (double)c->nc * sizeof(cn_int128);
    }
    c->cache = total <= (double)CACHE_BYTES;
    c->chunk = c->nc;
    const size_t nbuf = c->cache ? c->cnt + 1 : 2;
    c->act = calloc(nbuf, sizeof *c->act);
    c->nxt = calloc(nbuf, sizeof *c->nxt);
    if (!c->act || !c->nxt)
        return CN_ERR_NO_MEMORY;
    if (c->cache) {
        for (size_t i = 0; i <= c->cnt; i++) {
            const size_t len = c->win[i] * c->nc > 0 ? c->win[i] * c->nc : 1;
            c->act[i] = malloc(len * sizeof **c->act);
            c->nxt[i] = i ? malloc(len * sizeof **c->nxt) : NULL; /* nxt[0] unused */
            if (!c->act[i] || (i && !c->nxt[i]))
                return CN_ERR_NO_MEMORY;
        }
        raw_to_i128(c->act[0], c->calib, c->nc * c->nin);
        c->x64 = malloc(c->nc * (maxw ? maxw : 1) * sizeof *c->x64); /* optional */
        return CN_OK;
    }
    c->chunk = CACHE_BYTES / (2 * (maxw ? maxw : 1) * sizeof(cn_int128));
    c->chunk = c->chunk < 1 ? 1 : c->chunk > c->nc ? c->nc : c->chunk;
    for (size_t i = 0; i < 2; i++)
        if (!(c->act[i] = malloc(c->chunk * (maxw ? maxw : 1) * sizeof **c->act)))
            return CN_ERR_NO_MEMORY;
    c->x64 = malloc(c->chunk * (maxw ? maxw : 1) * sizeof *c->x64);
    return CN_OK;
}

static void sctx_clear(sctx_t *c)
{
    const size_t nbuf = c->cache ? c->cnt + 1 : 2;
    for (size_t i = 0; i < nbuf; i++) {
        if (c->act)
            free(c->act[i]);
        if (c->nxt)
            free(c->nxt[i]);
    }
    free(c->act);
    free(c->nxt);
    free(c->x64);
    free(c->fa);
    free(c->qnet);
    free(c->wb);
    free(c->win);
    free(c->cands);
}

/* The float network's predictions on the calibration inputs, and its correct count. */
static cn_status float_predictions(sctx_t *c)
{
    double *fo = malloc((c->nout ? c->nout : 1) * sizeof *fo);
    c->fa = malloc((c->nc ? c->nc : 1) * sizeof *c->fa);
    cn_status st = fo && c->fa ? CN_OK : CN_ERR_NO_MEMORY;
    for (size_t s = 0; st == CN_OK && s < c->nc; s++) {
        st = cn_model_forward(fo, c->m, c->calib + s * c->nin);
        c->fa[s] = cn_argmax_f64(fo, c->nout);
        c->float_correct += c->labels && (int64_t)c->fa[s] == c->labels[s];
    }
    free(fo);
    return st;
}

/* a before b in the table's order: fewer output bits, then a higher score */
static int before(const sctx_t *c, const cand_t *a, const cand_t *b)
{
    if (a->out_bits != b->out_bits)
        return a->out_bits < b->out_bits;
    return score(c, a) > score(c, b);
}

/* The table: the Pareto front of output bits against score (at most CN_QUANT_MAX_ROWS
 * rows around the first that meets the criterion). */
static cn_status front(cn_quant_report_t *rep, sctx_t *c)
{
    cand_t **v = malloc((c->ncand ? c->ncand : 1) * sizeof *v);
    if (!v)
        return CN_ERR_NO_MEMORY;
    size_t nv = 0;
    for (size_t i = 0; i < c->ncand; i++)
        if (isfinite(c->cands[i].out_bits))
            v[nv++] = &c->cands[i];
    for (size_t i = 1; i < nv; i++) /* insertion sort: at most MAX_EVALS candidates */
        for (size_t j = i; j > 0 && before(c, v[j], v[j - 1]); j--) {
            cand_t *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    size_t nf = 0, first_meet = (size_t)-1;
    for (size_t i = 0; i < nv; i++)
        if (nf == 0 || score(c, v[i]) > score(c, v[nf - 1])) {
            if (v[i]->meets && first_meet == (size_t)-1)
                first_meet = nf;
            v[nf++] = v[i];
        }
    size_t lo = 0, hi = nf;
    if (first_meet != (size_t)-1) {
        hi = first_meet + 4 < nf ? first_meet + 4 : nf;
        lo = hi > CN_QUANT_MAX_ROWS ? hi - CN_QUANT_MAX_ROWS : 0;
    } else if (nf > CN_QUANT_MAX_ROWS) {
        lo = nf - CN_QUANT_MAX_ROWS;
    }
    rep->nrows = 0;
    for (size_t i = lo; i < hi; i++) {
        cn_quant_row_t *r = &rep->rows[rep->nrows++];
        memset(r, 0, sizeof *r);
        r->nlayers = c->nl;
        memcpy(r->bits, v[i]->b, c->nl);
        r->output_bits = v[i]->out_bits;
        r->agree = v[i]->agree;
        r->correct = v[i]->correct;
        r->meets = v[i]->meets;
    }
    free(v);
    return CN_OK;
}

/* Stage 6 on one row: its plaintext moduli, log q and estimated time (moduli = 0 when no
 * parameters fit). */
static cn_status row_params(cn_quant_row_t *r, sctx_t *c, const cn_compile_opts_t *opts,
                            cn_params_memo_t *memo)
{
    for (size_t i = 0; i < c->cnt; i++)
        c->wb[i] = 0;
    for (size_t k = 0; k < c->nl; k++)
        c->wb[c->lin[k]] = r->bits[k];
    cn_status st = cn_quantize(c->qnet, c->f, c->m->input_scale, c->wb, NULL, NULL);
    if (st != CN_OK)
        return st;
    cn_plan_t tp = {.nin = c->nin, .nout = c->nout};
    st = cn_ops_ranges(c->qnet, c->cnt, c->nin, c->m->input_min, c->m->input_max,
                       &tp.out_bound_bits, NULL);
    cn_search_log_t lg = {0};
    if (st == CN_OK)
        st = cn_search_params(&tp, c->qnet, c->cnt, opts, memo, &lg);
    if (st == CN_OK && tp.ops) {
        r->moduli = tp.prm.nt;
        r->t_bits = (unsigned)lround(log2((double)tp.prm.t[0]));
        r->n = tp.prm.n;
        r->log_qp = cn_bfv_params_log_qp(&tp.prm);
        r->seconds = tp.cost;
    }
    free(tp.ops); /* shallow copies of qnet's layers, freed below */
    cn_qnet_clear(c->qnet, c->cnt);
    return st;
}

/* Picks the row the plan takes: among the meeting rows with parameters, the least
 * estimated time per input, then among those within TIME_BAND of it the best score (bits
 * that cost no time keep their accuracy), then fewer bits; if no meeting row has
 * parameters, the first meeting row (the plan's parameter search then says why); if none
 * meets, the best score, fewest bits. */
static size_t choose(const cn_quant_report_t *rep, const sctx_t *c)
{
    size_t cheap = (size_t)-1, first = (size_t)-1, top = 0;
    const cn_quant_row_t *r = rep->rows;
    for (size_t i = 0; i < rep->nrows; i++) {
        if (r[i].meets && first == (size_t)-1)
            first = i;
        if (r[i].meets && r[i].moduli &&
            (cheap == (size_t)-1 ||
             r[i].seconds / (double)r[i].n < r[cheap].seconds / (double)r[cheap].n))
            cheap = i;
        if (row_score(c, &r[i]) > row_score(c, &r[top]))
            top = i;
    }
    if (cheap == (size_t)-1)
        return first != (size_t)-1 ? first : top;
    size_t best = cheap;
    const double lim = r[cheap].seconds / (double)r[cheap].n * (1 + TIME_BAND);
    for (size_t i = 0; i < rep->nrows; i++) /* rows by bits: the first of a score wins */
        if (r[i].meets && r[i].moduli && r[i].seconds / (double)r[i].n <= lim &&
            row_score(c, &r[i]) > row_score(c, &r[best]))
            best = i;
    return best;
}

cn_status cn_search_widths(unsigned *wb, cn_quant_report_t *rep, const cn_folded_t *f,
                           const cn_model_t *m, const cn_compile_opts_t *opts,
                           cn_params_memo_t *memo, cn_net_diag_t *diag)
{
    sctx_t c = {.f = f,
                .m = m,
                .cnt = f->cnt,
                .nin = cn_model_inputs(m),
                .nout = cn_model_outputs(m),
                .nc = opts->ncalib,
                .calib = opts->calib,
                .labels = opts->calib_labels,
                .exact = opts->calib_criterion == CN_CALIB_EXACT};
    c.tol = opts->calib_tolerance > 0 ? opts->calib_tolerance
            : c.labels                ? DEFAULT_TOL_LABELLED
                                      : DEFAULT_TOL_AGREE;
    memset(rep, 0, sizeof *rep);
    rep->ncalib = c.nc;
    rep->labelled = c.labels && !c.exact;
    rep->exact = c.exact;
    rep->tolerance = c.exact ? 0 : c.tol;
    for (size_t i = 0; i < f->cnt; i++) {
        wb[i] = 0;
        if (f->is_sq[i])
            continue;
        if (c.nl == MAXL) {
            cn_diag_set(diag,
                        "the network has more than %d linear layers after folding: too deep "
                        "for a plan",
                        MAXL);
            return CN_ERR_UNSUPPORTED;
        }
        c.lin[c.nl++] = i;
    }
    if (c.nl == 0)
        return CN_OK;
    /* weight of each layer's bits in the outputs: 2^(squares after it) */
    size_t order[MAXL];
    double mult[MAXL];
    for (size_t k = 0; k < c.nl; k++) {
        mult[k] = 1;
        for (size_t i = c.lin[k] + 1; i < f->cnt; i++)
            mult[k] *= f->is_sq[i] ? 2 : 1;
        order[k] = k;
    }
    for (size_t a = 1; a < c.nl; a++) /* stable: heaviest first, earlier first */
        for (size_t b = a; b > 0 && mult[order[b]] > mult[order[b - 1]]; b--) {
            const size_t t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    c.qnet = calloc(f->cnt, sizeof *c.qnet);
    c.wb = calloc(f->cnt, sizeof *c.wb);
    c.win = calloc(f->cnt + 1, sizeof *c.win);
    cn_status st = c.qnet && c.wb && c.win ? CN_OK : CN_ERR_NO_MEMORY;
    if (st == CN_OK) {
        c.win[0] = c.nin;
        for (size_t i = 0; i < f->cnt; i++)
            c.win[i + 1] = f->is_sq[i] ? c.win[i] : f->lin[i].nout;
        st = float_predictions(&c);
    }
    if (st == CN_OK)
        st = alloc_values(&c);
    /* 1. uniform widths, up to two past the first that meets the criterion */
    unsigned u = 0;
    for (unsigned b = 2; st == CN_OK && b <= 16 && (!u || b <= u + 2); b++) {
        unsigned char w[MAXL] = {0};
        memset(w, (int)b, c.nl);
        cand_t *x;
        st = visit(&x, &c, w, 2, diag);
        if (st != CN_OK || !x || !isfinite(x->out_bits))
            break; /* wider weights only widen the values */
        if (x->meets && !u)
            u = b;
    }
    /* 2. per-layer descents from each uniform width that meets the criterion */
    for (unsigned b = u; st == CN_OK && u && b <= u + 2 && b <= 16 && c.nl > 1; b++)
        st = descend(&c, b, order, diag);
    if (st == CN_OK && c.ncand && !isfinite(c.cands[0].out_bits)) {
        cn_diag_set(diag, "no weight width from 2 bits keeps the values within 126 bits");
        st = CN_ERR_OUT_OF_RANGE;
    }
    /* 3. the table, costed, and the choice */
    if (st == CN_OK)
        st = front(rep, &c);
    for (size_t i = 0; st == CN_OK && i < rep->nrows; i++)
        st = row_params(&rep->rows[i], &c, opts, memo);
    if (st == CN_OK && rep->nrows) {
        const size_t pick = choose(rep, &c);
        rep->rows[pick].chosen = 1;
        for (size_t k = 0; k < c.nl; k++)
            wb[c.lin[k]] = rep->rows[pick].bits[k];
    }
    rep->float_correct = c.float_correct;
    rep->evaluated = c.ncand;
    sctx_clear(&c);
    return st;
}
