/* From the importer's IR ops to model layers (docs/onnx.md, "Folding"): elementwise
 * affine maps y = s x + t (normalization, batch normalization, scalar arithmetic, the
 * halves of a completed square) are folded into the neighbouring dense or convolution
 * layer or the input scale; what the model layers cannot express directly (asymmetric
 * padding, unequal strides, a pool with padding, a shift before a padded convolution) is
 * rewritten exactly as a dense layer. Every rewrite is exact in real arithmetic. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

static size_t ir_wcount(const onnx_ir_t *op)
{
    if (op->kind == IR_CONV)
        return op->oc * op->c * op->kh * op->kw;
    if (op->kind == IR_DENSE)
        return op->oc * op->oh * op->ow * op->c * op->h * op->w;
    return 0;
}

static size_t ir_nout(const onnx_ir_t *op)
{
    return op->oc * op->oh * op->ow;
}
static size_t ir_nin(const onnx_ir_t *op)
{
    return op->c * op->h * op->w;
}

static void ir_free(onnx_ctx_t *cx, onnx_ir_t *op)
{
    onnx_coef_clear(cx, &op->s);
    onnx_coef_clear(cx, &op->t);
    onnx_free(cx, op->W, ir_wcount(op));
    onnx_free(cx, op->B, op->kind == IR_DENSE ? ir_nout(op) : op->oc);
    op->W = op->B = NULL;
}

void onnx_ir_clear(onnx_ctx_t *cx, onnx_irlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        ir_free(cx, &l->op[i]);
    free(l->op);
    memset(l, 0, sizeof *l);
}

cn_status onnx_ir_push(onnx_ctx_t *cx, onnx_irlist_t *l, const onnx_ir_t *op)
{
    if (l->n == l->cap) {
        const size_t cap = l->cap ? 2 * l->cap : 8;
        onnx_ir_t *p = realloc(l->op, cap * sizeof *p);
        if (!p) {
            cn_diag_set(cx->diag, "out of memory");
            return CN_ERR_NO_MEMORY;
        }
        l->op = p;
        l->cap = cap;
    }
    l->op[l->n++] = *op;
    return CN_OK;
}

static void ir_remove(onnx_ctx_t *cx, onnx_irlist_t *l, size_t i)
{
    ir_free(cx, &l->op[i]);
    memmove(&l->op[i], &l->op[i + 1], (l->n - i - 1) * sizeof *l->op);
    l->n--;
}

/* Rewrites a conv, pool or affine op as the dense layer with the same outputs (exactly):
 * one weight per (output, input) pair, following the ONNX definitions of Conv and
 * AveragePool (pads top, left, bottom, right; count_include_pad). CN_ERR_UNSUPPORTED
 * (no diag) when the matrix would exceed ONNX_MAX_DENSE weights. */
static cn_status materialize(onnx_ctx_t *cx, onnx_ir_t *op)
{
    const size_t nin = ir_nin(op), nout = ir_nout(op);
    if (nin > ONNX_MAX_DENSE / nout)
        return CN_ERR_UNSUPPORTED;
    double *W = onnx_alloc(cx, nin * nout), *B = onnx_alloc(cx, nout);
    if (!W || !B) {
        onnx_free(cx, W, nin * nout);
        onnx_free(cx, B, nout);
        return CN_ERR_NO_MEMORY;
    }
    if (op->kind == IR_AFFINE) {
        for (size_t i = 0; i < nin; i++) {
            W[i * nin + i] = onnx_coef_at(&op->s, i);
            B[i] = onnx_coef_at(&op->t, i);
        }
    } else {
        for (size_t oc = 0; oc < op->oc; oc++)
            for (size_t oy = 0; oy < op->oh; oy++)
                for (size_t ox = 0; ox < op->ow; ox++) {
                    const size_t o = (oc * op->oh + oy) * op->ow + ox;
                    const size_t c0 = op->kind == IR_POOL ? oc : 0;
                    const size_t c1 = op->kind == IR_POOL ? oc + 1 : op->c;
                    size_t inside = 0;
                    for (size_t ky = 0; ky < op->kh; ky++)
                        for (size_t kx = 0; kx < op->kw; kx++) {
                            /* input row oy*sh + ky - top, column ox*sw + kx - left */
                            const size_t y = oy * op->sh + ky, x = ox * op->sw + kx;
                            if (y < op->pads[0] || x < op->pads[1] ||
                                y - op->pads[0] >= op->h || x - op->pads[1] >= op->w)
                                continue;
                            inside++;
                            for (size_t ic = c0; ic < c1; ic++) {
                                const size_t i =
                                    (ic * op->h + y - op->pads[0]) * op->w + x - op->pads[1];
                                W[o * nin + i] +=
                                    op->kind == IR_POOL
                                        ? 1.0
                                        : op->W[((oc * op->c + ic) * op->kh + ky) * op->kw +
                                                kx];
                            }
                        }
                    if (op->kind == IR_POOL) {
                        /* AveragePool: the window's sum over its size, or over the
                         * elements inside the input when padding is not counted */
                        const double div =
                            op->include_pad ? (double)(op->kh * op->kw) : (double)inside;
                        for (size_t i = 0; div > 0 && i < nin; i++)
                            W[o * nin + i] /= div;
                    } else {
                        B[o] = op->B[oc];
                    }
                }
    }
    ir_free(cx, op);
    op->kind = IR_DENSE;
    op->W = W;
    op->B = B;
    return CN_OK;
}

/* y = s2 (s1 x + t1) + t2: op a (first) absorbs op b */
static cn_status affine_compose(onnx_ctx_t *cx, onnx_ir_t *a, const onnx_ir_t *b)
{
    const size_t n = a->s.n > 1 || a->t.n > 1 || b->s.n > 1 || b->t.n > 1 ? ir_nin(a) : 1;
    cn_status st = onnx_coef_expand(cx, &a->s, n);
    if (st == CN_OK)
        st = onnx_coef_expand(cx, &a->t, n);
    if (st != CN_OK)
        return st;
    for (size_t i = 0; i < n; i++) {
        a->s.v[i] *= onnx_coef_at(&b->s, i);
        a->t.v[i] = a->t.v[i] * onnx_coef_at(&b->s, i) + onnx_coef_at(&b->t, i);
    }
    return CN_OK;
}

static int all_zero(const size_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* One folding step on op i (an affine); 1 when the list changed. */
static int fold_one(onnx_ctx_t *cx, onnx_irlist_t *l, size_t i, double *input_scale,
                    cn_status *st)
{
    onnx_ir_t *a = &l->op[i];
    size_t p = i, q = i + 1;
    while (p > 0 && l->op[p - 1].kind == IR_FLATTEN)
        p--;
    while (q < l->n && l->op[q].kind == IR_FLATTEN)
        q++;
    onnx_ir_t *prev = p > 0 ? &l->op[p - 1] : NULL, *next = q < l->n ? &l->op[q] : NULL;
    if (next && next->kind == IR_AFFINE && q == i + 1) {
        *st = affine_compose(cx, a, next);
        if (*st == CN_OK)
            ir_remove(cx, l, q);
        return 1;
    }
    /* backward into a dense layer's rows, or a convolution's maps */
    if (prev && (prev->kind == IR_DENSE ||
                 (prev->kind == IR_CONV &&
                  onnx_coef_per_channel(&a->s, prev->oc, prev->oh * prev->ow) &&
                  onnx_coef_per_channel(&a->t, prev->oc, prev->oh * prev->ow)))) {
        const size_t nrow = prev->kind == IR_DENSE ? ir_nout(prev) : prev->oc;
        const size_t per = ir_wcount(prev) / nrow,
                     hw = prev->kind == IR_DENSE ? 1 : prev->oh * prev->ow;
        for (size_t r = 0; r < nrow; r++) {
            const double s = onnx_coef_at(&a->s, r * hw), t = onnx_coef_at(&a->t, r * hw);
            for (size_t k = 0; k < per; k++)
                prev->W[r * per + k] *= s;
            prev->B[r] = prev->B[r] * s + t;
        }
        ir_remove(cx, l, i);
        return 1;
    }
    /* forward into a dense layer's columns */
    if (next && next->kind == IR_DENSE) {
        const size_t nin = ir_nin(next), nout = ir_nout(next);
        for (size_t r = 0; r < nout; r++)
            for (size_t k = 0; k < nin; k++) {
                next->B[r] += next->W[r * nin + k] * onnx_coef_at(&a->t, k);
                next->W[r * nin + k] *= onnx_coef_at(&a->s, k);
            }
        ir_remove(cx, l, i);
        return 1;
    }
    /* forward into a convolution's input channels: a shift only where no zero padding
     * would be shifted too */
    if (next && next->kind == IR_CONV &&
        onnx_coef_per_channel(&a->s, next->c, next->h * next->w) &&
        onnx_coef_per_channel(&a->t, next->c, next->h * next->w) &&
        (onnx_coef_is(&a->t, 0) || all_zero(next->pads, 4))) {
        const size_t hw = next->h * next->w, kk = next->kh * next->kw;
        for (size_t oc = 0; oc < next->oc; oc++)
            for (size_t ic = 0; ic < next->c; ic++) {
                const double s = onnx_coef_at(&a->s, ic * hw), t = onnx_coef_at(&a->t, ic * hw);
                double *w = next->W + (oc * next->c + ic) * kk;
                for (size_t k = 0; k < kk; k++) {
                    next->B[oc] += w[k] * t;
                    w[k] *= s;
                }
            }
        ir_remove(cx, l, i);
        return 1;
    }
    /* a uniform positive scale of the raw input: the input scale */
    if (!prev && onnx_coef_is(&a->t, 0) && a->s.v[0] > 0 && onnx_coef_is(&a->s, a->s.v[0]) &&
        isfinite(*input_scale * a->s.v[0]) && *input_scale * a->s.v[0] > 0) {
        *input_scale *= a->s.v[0];
        ir_remove(cx, l, i);
        return 1;
    }
    /* past an average pool without padding (it maps a per-channel constant to itself) */
    if (next && next->kind == IR_POOL && all_zero(next->pads, 4) &&
        onnx_coef_per_channel(&a->s, next->c, next->h * next->w) &&
        onnx_coef_per_channel(&a->t, next->c, next->h * next->w)) {
        onnx_coef_t s2 = {0}, t2 = {0};
        const size_t hw = next->h * next->w, ohw = next->oh * next->ow, n = ir_nout(next);
        if ((*st = onnx_coef_scalar(cx, &s2, 0)) != CN_OK ||
            (*st = onnx_coef_scalar(cx, &t2, 0)) != CN_OK ||
            (*st = onnx_coef_expand(cx, &s2, a->s.n > 1 ? n : 1)) != CN_OK ||
            (*st = onnx_coef_expand(cx, &t2, a->t.n > 1 ? n : 1)) != CN_OK) {
            onnx_coef_clear(cx, &s2);
            onnx_coef_clear(cx, &t2);
            return 1;
        }
        for (size_t k = 0; k < s2.n; k++)
            s2.v[k] = onnx_coef_at(&a->s, k / ohw * hw);
        for (size_t k = 0; k < t2.n; k++)
            t2.v[k] = onnx_coef_at(&a->t, k / ohw * hw);
        onnx_ir_t moved = *a;
        moved.s = s2;
        moved.t = t2;
        moved.c = next->oc;
        moved.h = moved.oh = next->oh;
        moved.w = moved.ow = next->ow;
        moved.oc = next->oc;
        onnx_coef_clear(cx, &a->s);
        onnx_coef_clear(cx, &a->t);
        memmove(&l->op[i], &l->op[i + 1], (q - i) * sizeof *l->op);
        l->op[q] = moved;
        return 1;
    }
    /* a per-channel map stays a layer of its own (a 1x1 convolution: the compiler
     * composes it with its neighbours); any other, the neighbouring convolution or pool
     * rewritten as a dense layer absorbs */
    if (onnx_coef_per_channel(&a->s, a->c, a->h * a->w) &&
        onnx_coef_per_channel(&a->t, a->c, a->h * a->w))
        return 0;
    if (next && (next->kind == IR_CONV || next->kind == IR_POOL) &&
        materialize(cx, next) == CN_OK)
        return 1;
    if (prev && (prev->kind == IR_CONV || prev->kind == IR_POOL) &&
        materialize(cx, prev) == CN_OK)
        return 1;
    return 0;
}

static void cur_shape(const cn_model_t *m, size_t *c, size_t *h, size_t *w)
{
    if (m->nlayers == 0) {
        *c = m->in_c, *h = m->in_h, *w = m->in_w;
    } else {
        const cn_layer_t *l = &m->layers[m->nlayers - 1];
        *c = l->out_c, *h = l->out_h, *w = l->out_w;
    }
}

/* Appends op as model layers; op may be rewritten (materialized) on the way. */
static cn_status emit(cn_model_t *m, onnx_ctx_t *cx, onnx_ir_t *op, size_t idx)
{
    size_t c, h, w;
    cur_shape(m, &c, &h, &w);
    const int same = c == op->c && h == op->h && w == op->w;
    const int sym = op->pads[0] == op->pads[1] && op->pads[0] == op->pads[2] &&
                    op->pads[0] == op->pads[3] && op->pads[0] <= CN_MODEL_MAX_WINDOW;
    const int win = op->sh == op->sw && op->sh <= CN_MODEL_MAX_WINDOW &&
                    op->kh <= CN_MODEL_MAX_WINDOW && op->kw <= CN_MODEL_MAX_WINDOW;
    cn_status st = CN_OK;
    switch (op->kind) {
    case IR_POLY:
        if (op->poly[0] == 1 && op->poly[1] == 0 && op->poly[2] == 0)
            return cn_model_add_square(m, cx->diag);
        return cn_model_add_poly(m, op->poly[0], op->poly[1], op->poly[2], cx->diag);
    case IR_FLATTEN:
        if (h == 1 && w == 1)
            return CN_OK;
        return cn_model_add_flatten(m, cx->diag);
    case IR_CONV:
        if (same && sym && win)
            return cn_model_add_conv2d(m, op->oc, op->kh, op->kw, op->sh, op->pads[0], op->W,
                                       op->B, cx->diag);
        break;
    case IR_POOL:
        if (same && win && all_zero(op->pads, 4))
            return cn_model_add_pool(m, op->kh, op->kw, op->sh, 1.0 / (double)(op->kh * op->kw),
                                     cx->diag);
        if (same && win && sym && op->include_pad && op->c <= CN_MODEL_MAX_MAPS &&
            op->c * op->c * op->kh * op->kw <= ONNX_MAX_DENSE) {
            /* zero padding counted in the divisor: a convolution with one map per
             * channel, 1/(kh kw) on its own channel */
            const size_t kk = op->kh * op->kw, nw = op->c * op->c * kk;
            double *W = onnx_alloc(cx, nw), *B = onnx_alloc(cx, op->c);
            if (!W || !B) {
                onnx_free(cx, W, nw);
                onnx_free(cx, B, op->c);
                return CN_ERR_NO_MEMORY;
            }
            for (size_t k = 0; k < op->c; k++)
                for (size_t j = 0; j < kk; j++)
                    W[(k * op->c + k) * kk + j] = 1.0 / (double)kk;
            st = cn_model_add_conv2d(m, op->c, op->kh, op->kw, op->sh, op->pads[0], W, B,
                                     cx->diag);
            onnx_free(cx, W, nw);
            onnx_free(cx, B, op->c);
            return st;
        }
        break;
    case IR_AFFINE:
        if (same && op->c <= CN_MODEL_MAX_MAPS && op->c * op->c <= ONNX_MAX_DENSE &&
            onnx_coef_per_channel(&op->s, op->c, op->h * op->w) &&
            onnx_coef_per_channel(&op->t, op->c, op->h * op->w)) {
            /* a per-channel affine map: a 1x1 convolution, diagonal */
            double *W = onnx_alloc(cx, op->c * op->c), *B = onnx_alloc(cx, op->c);
            if (!W || !B) {
                onnx_free(cx, W, op->c * op->c);
                onnx_free(cx, B, op->c);
                return CN_ERR_NO_MEMORY;
            }
            const size_t hw = op->h * op->w;
            for (size_t k = 0; k < op->c; k++) {
                W[k * op->c + k] = onnx_coef_at(&op->s, k * hw);
                B[k] = onnx_coef_at(&op->t, k * hw);
            }
            st = cn_model_add_conv2d(m, op->c, 1, 1, 1, 0, W, B, cx->diag);
            onnx_free(cx, W, op->c * op->c);
            onnx_free(cx, B, op->c);
            return st;
        }
        break;
    case IR_DENSE:
        break;
    }
    if (op->kind != IR_DENSE) {
        st = materialize(cx, op);
        if (st == CN_ERR_UNSUPPORTED)
            cn_diag_set(cx->diag,
                        "step %zu: %zu inputs and %zu outputs: as a dense layer "
                        "(needed for its padding, strides or position) it would have more "
                        "than %zu weights",
                        idx, ir_nin(op), ir_nout(op), ONNX_MAX_DENSE);
        if (st != CN_OK)
            return st;
    }
    if (c * h * w != ir_nin(op)) {
        cn_diag_set(cx->diag, "step %zu: %zu inputs, the model has %zu values there", idx,
                    ir_nin(op), c * h * w);
        return CN_ERR_SHAPE_MISMATCH;
    }
    return cn_model_add_dense(m, ir_nout(op), op->W, op->B, cx->diag);
}

cn_status onnx_lower_model(cn_model_t *m, onnx_ctx_t *cx, onnx_irlist_t *l, size_t c, size_t h,
                           size_t w, double input_scale, int64_t lo, int64_t hi)
{
    cn_status st = CN_OK;
    for (int changed = 1; changed && st == CN_OK;) {
        changed = 0;
        for (size_t i = 0; i < l->n && !changed; i++)
            if (l->op[i].kind == IR_AFFINE)
                changed = fold_one(cx, l, i, &input_scale, &st);
    }
    if (st != CN_OK)
        return st;
    if (l->n) {
        c = l->op[0].c;
        h = l->op[0].h;
        w = l->op[0].w;
    }
    st = cn_model_init(m, c, h, w, input_scale, lo, hi);
    if (st != CN_OK) {
        cn_diag_set(cx->diag,
                    "input shape %zux%zux%zu, scale %g or range [%lld, %lld] out "
                    "of the model's limits",
                    c, h, w, input_scale, (long long)lo, (long long)hi);
        return st;
    }
    for (size_t i = 0; i < l->n && st == CN_OK; i++)
        st = emit(m, cx, &l->op[i], i + 1);
    /* a graph that computes the identity (Identity, Reshape, ... only) is one flatten
     * layer: model files and the compiler expect at least one layer */
    if (st == CN_OK && m->nlayers == 0)
        st = cn_model_add_flatten(m, cx->diag);
    if (st != CN_OK)
        cn_model_clear(m);
    return st;
}
