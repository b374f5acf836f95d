/* Stage 1 of the compiler, folding (docs/net.md, "The compiler"). Input: a model.
 * Output: its layers as float linear maps (conv2d and pool as sparse matrices, dense as
 * a full one, each with its bias) and squares; flatten layers vanish, a pool is always
 * composed with the next linear layer and two adjacent linear layers are composed when
 * the product costs no more than the two apart (CryptoNets, ICML 2016, section 4: the
 * mean pool and the dense layer become one linear layer). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"

void cn_flin_clear(cn_flin_t *f)
{
    free(f->row);
    free(f->col);
    free(f->w);
    free(f->b);
    memset(f, 0, sizeof *f);
}

static cn_status flin_alloc(cn_flin_t *f, size_t nin, size_t nout, size_t nnz)
{
    memset(f, 0, sizeof *f);
    f->nin = nin;
    f->nout = nout;
    f->row = calloc(nout + 1, sizeof *f->row);
    f->col = malloc((nnz ? nnz : 1) * sizeof *f->col);
    f->w = malloc((nnz ? nnz : 1) * sizeof *f->w);
    f->b = calloc(nout ? nout : 1, sizeof *f->b);
    if (!f->row || !f->col || !f->w || !f->b) {
        cn_flin_clear(f);
        return CN_ERR_NO_MEMORY;
    }
    return CN_OK;
}

/* conv2d and pool as a sparse matrix */
static cn_status flin_window(cn_flin_t *f, const cn_layer_t *l)
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
                            f->col[k] =
                                (uint32_t)((ic * l->in_h + y - l->pad) * l->in_w + x - l->pad);
                            f->w[k++] = wt;
                        }
            }
    f->row[nout] = k;
    return CN_OK;
}

static cn_status flin_dense(cn_flin_t *f, const cn_layer_t *l)
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
static cn_status flin_compose(cn_flin_t *c, const cn_flin_t *a, const cn_flin_t *b)
{
    memset(c, 0, sizeof *c);
    double *acc = calloc(b->nin ? b->nin : 1, sizeof *acc);
    uint8_t *mark = calloc(b->nin ? b->nin : 1, 1);
    uint32_t *list = malloc((b->nin ? b->nin : 1) * sizeof *list);
    size_t cap = a->row[a->nout] + b->row[b->nout] + 16, nnz = 0;
    cn_status st =
        (acc && mark && list) ? flin_alloc(c, b->nin, a->nout, cap) : CN_ERR_NO_MEMORY;
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
        cn_flin_clear(c);
    free(acc);
    free(mark);
    free(list);
    return st;
}

void cn_folded_clear(cn_folded_t *f)
{
    for (size_t i = 0; f->lin && i < f->cnt; i++)
        cn_flin_clear(&f->lin[i]);
    free(f->lin);
    free(f->is_sq);
    free(f->first);
    free(f->last);
    memset(f, 0, sizeof *f);
}

static void folded_push(cn_folded_t *f, cn_flin_t *lin, int is_sq, size_t first, size_t last)
{
    if (lin)
        f->lin[f->cnt] = *lin;
    else
        memset(&f->lin[f->cnt], 0, sizeof f->lin[f->cnt]);
    f->is_sq[f->cnt] = is_sq;
    f->first[f->cnt] = first;
    f->last[f->cnt++] = last;
}

static int flin_finite(const cn_flin_t *f)
{
    for (size_t k = 0; k < f->row[f->nout]; k++)
        if (!isfinite(f->w[k]))
            return 0;
    for (size_t j = 0; j < f->nout; j++)
        if (!isfinite(f->b[j]))
            return 0;
    return 1;
}

/* The diagonal map x -> scale x + shift on n values (a poly layer's affine parts). */
static cn_status flin_diag(cn_flin_t *f, size_t n, double scale, double shift)
{
    cn_status st = flin_alloc(f, n, n, n);
    if (st != CN_OK)
        return st;
    for (size_t j = 0; j < n; j++) {
        f->row[j] = j;
        f->col[j] = (uint32_t)j;
        f->w[j] = scale;
        f->b[j] = shift;
    }
    f->row[n] = n;
    return CN_OK;
}

/* The folding state: the items made so far and the linear map waiting for the next
 * layer (pend, from model layer pend_first on). */
typedef struct {
    cn_folded_t *f;
    cn_flin_t pend;
    int have, pend_pool;
    size_t pend_first;
} folding_t;

/* Adds the linear map fl of model layer idx (1-based): composed with the waiting map
 * when that is a pool or the product costs no more than the two apart, else the waiting
 * map becomes an item and fl waits. Takes fl. */
static cn_status add_linear(folding_t *g, cn_flin_t fl, int is_pool, size_t idx)
{
    if (!g->have) {
        g->pend = fl;
        g->have = 1;
        g->pend_pool = is_pool;
        g->pend_first = idx;
        return CN_OK;
    }
    cn_flin_t c;
    cn_status st = flin_compose(&c, &fl, &g->pend);
    if (st != CN_OK) {
        cn_flin_clear(&fl);
        return st;
    }
    if (g->pend_pool || c.row[c.nout] <= fl.row[fl.nout] + g->pend.row[g->pend.nout]) {
        cn_flin_clear(&fl);
        cn_flin_clear(&g->pend);
        g->pend = c;
    } else {
        cn_flin_clear(&c);
        folded_push(g->f, &g->pend, 0, g->pend_first, idx - 1);
        g->pend = fl;
        g->pend_first = idx;
    }
    g->pend_pool = is_pool;
    return CN_OK;
}

/* Adds a square at model layer idx: the waiting map becomes an item first. */
static void add_square(folding_t *g, size_t idx)
{
    if (g->have)
        folded_push(g->f, &g->pend, 0, g->pend_first, idx - 1);
    g->have = 0;
    folded_push(g->f, NULL, 1, idx, idx);
}

/* A poly layer a x^2 + b x + c (model layer idx) as squares and affine maps, exactly:
 * a (x + b / 2a)^2 + (c - b^2 / 4a), the shift composed into the map before and the
 * scale and constant into the map after (a = 0: the affine map b x + c alone). The
 * square then runs as any other; the maps cost nothing once composed. */
static cn_status add_poly(folding_t *g, const cn_layer_t *l, size_t idx)
{
    const size_t n = l->in_c * l->in_h * l->in_w;
    const double a = l->poly[0], b = l->poly[1], c = l->poly[2];
    cn_flin_t fl;
    cn_status st;
    if (a == 0) {
        if ((st = flin_diag(&fl, n, b, c)) == CN_OK)
            st = add_linear(g, fl, 0, idx);
        return st;
    }
    if ((st = flin_diag(&fl, n, 1, b / (2 * a))) != CN_OK || (st = add_linear(g, fl, 0, idx)))
        return st;
    add_square(g, idx);
    if ((st = flin_diag(&fl, n, a, c - b * b / (4 * a))) != CN_OK)
        return st;
    return add_linear(g, fl, 0, idx);
}

/* Folds model m: flatten layers vanish, a pool is always composed with the next linear
 * layer (one quantization, one layer fewer, as CryptoNets did), any two adjacent linear
 * layers whose product costs no more than the two apart are composed, and a poly layer
 * becomes a square between two affine maps. */
cn_status cn_fold(cn_folded_t *out, const cn_model_t *m, cn_net_diag_t *diag)
{
    cn_folded_t f = {0};
    const size_t cap = 2 * m->nlayers + 1; /* a layer adds at most two items */
    f.lin = calloc(cap, sizeof *f.lin);
    f.is_sq = calloc(cap, sizeof *f.is_sq);
    f.first = calloc(cap, sizeof *f.first);
    f.last = calloc(cap, sizeof *f.last);
    cn_status st = f.lin && f.is_sq && f.first && f.last ? CN_OK : CN_ERR_NO_MEMORY;
    folding_t g = {.f = &f};
    for (size_t i = 0; i < m->nlayers && st == CN_OK; i++) {
        const cn_layer_t *l = &m->layers[i];
        switch (l->kind) {
        case CN_LAYER_FLATTEN:
            break;
        case CN_LAYER_SQUARE:
            add_square(&g, i + 1);
            break;
        case CN_LAYER_POLY:
            st = add_poly(&g, l, i + 1);
            break;
        default: {
            cn_flin_t fl;
            st = l->kind == CN_LAYER_DENSE ? flin_dense(&fl, l) : flin_window(&fl, l);
            if (st == CN_OK)
                st = add_linear(&g, fl, l->kind == CN_LAYER_POOL, i + 1);
        }
        }
    }
    const int have = g.have;
    cn_flin_t pend = g.pend;
    const size_t pend_first = g.pend_first;
    if (have && st == CN_OK)
        folded_push(&f, &pend, 0, pend_first, m->nlayers);
    else if (have)
        cn_flin_clear(&pend);
    for (size_t i = 0; st == CN_OK && i < f.cnt; i++)
        if (!f.is_sq[i] && !flin_finite(&f.lin[i])) {
            cn_diag_set(diag,
                        "model layers %zu-%zu fold into one linear map whose weights or "
                        "biases exceed the range of a double",
                        f.first[i], f.last[i]);
            st = CN_ERR_OUT_OF_RANGE;
        }
    if (st == CN_OK && f.cnt == 0) {
        cn_diag_set(diag, "the model computes nothing (only flatten layers): no linear, pool "
                          "or square layer to evaluate");
        st = CN_ERR_INVALID_ARG;
    }
    if (st != CN_OK)
        cn_folded_clear(&f);
    *out = f;
    return st;
}
