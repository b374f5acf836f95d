/* The ONNX importer's graph walk (docs/onnx.md): cn_model_from_onnx_bytes parses the
 * ModelProto with protobuf-c, then walks the nodes in order (ONNX requires topological
 * order; operator semantics from the ONNX operator specification, Operators.md, for the
 * opsets ONNX_MIN_OPSET..ONNX_MAX_OPSET).
 *
 * Every value is either a constant tensor (initializers, Constant nodes, and the shape
 * arithmetic exporters emit: Shape, Gather, Unsqueeze, Concat, Cast ... of constants and
 * static shapes) or a value on the data path: a degree-2 polynomial p2 x^2 + p1 x + p0,
 * per element, of the "anchor" x, the output of the last linear op. Elementwise
 * arithmetic by constants, batch normalization, Mul(x, x) and Pow(x, 2) only change the
 * coefficients; a linear op (Conv, Gemm, MatMul, AveragePool) first turns its input's
 * polynomial into IR ops (an affine map, a square or poly activation) and then becomes
 * the new anchor. A value of an older anchor used again (a skip connection, two inputs)
 * is refused: the network must be a chain. lower.c then emits the model's layers. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

typedef struct {
    const char *name;
    int dyn;
    onnx_tensor_t k; /* constant */
    size_t anchor;   /* data path: anchor generation */
    size_t rank;     /* data path: shape, batch first */
    int64_t dims[ONNX_MAX_RANK];
    onnx_coef_t p[3]; /* p0, p1, p2 */
    size_t nbase;     /* candidate inputs of the square: (s, t) pairs */
    onnx_coef_t bs[2], bt[2];
} val_t;

typedef struct {
    onnx_ctx_t cx;
    val_t *v;
    size_t nv, capv;
    onnx_irlist_t ir;
    size_t anchor;     /* current anchor generation */
    size_t ac, ah, aw; /* its shape (as the model sees it) */
    int64_t batch;
    int64_t opset;
    const cn_onnx_opts_t *opts;
    const Onnx__GraphProto *g;
    size_t last_node; /* index of the node producing the graph output */
    int dropped_softmax;
    char where[160]; /* the current node, for diags */
} walk_t;

#define ERR(w, code, ...)                                                                      \
    do {                                                                                       \
        char m_[200];                                                                          \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                                  \
        cn_diag_set((w)->cx.diag, "%s: %s", (w)->where, m_);                                   \
        return (code);                                                                         \
    } while (0)

static size_t per_sample(const val_t *v)
{
    size_t n = 1;
    for (size_t i = 1; i < v->rank; i++)
        n *= (size_t)v->dims[i];
    return n;
}

static void val_clear(walk_t *w, val_t *v)
{
    onnx_tensor_clear(&w->cx, &v->k);
    for (int i = 0; i < 3; i++)
        onnx_coef_clear(&w->cx, &v->p[i]);
    for (size_t i = 0; i < v->nbase; i++) {
        onnx_coef_clear(&w->cx, &v->bs[i]);
        onnx_coef_clear(&w->cx, &v->bt[i]);
    }
    v->nbase = 0;
}

static val_t *lookup(walk_t *w, const char *name)
{
    for (size_t i = w->nv; i-- > 0;)
        if (strcmp(w->v[i].name, name) == 0)
            return &w->v[i];
    return NULL;
}

/* A new value named name (moved from *v); names are defined once (SSA). */
static cn_status define(walk_t *w, const char *name, val_t *v)
{
    if (!name || !name[0] || lookup(w, name)) {
        val_clear(w, v);
        ERR(w, CN_ERR_FORMAT, "output '%s' is empty or defined twice", name ? name : "");
    }
    if (w->nv == w->capv) {
        const size_t cap = w->capv ? 2 * w->capv : 32;
        val_t *p = realloc(w->v, cap * sizeof *p);
        if (!p) {
            val_clear(w, v);
            ERR(w, CN_ERR_NO_MEMORY, "out of memory");
        }
        w->v = p;
        w->capv = cap;
    }
    v->name = name;
    w->v[w->nv++] = *v;
    return CN_OK;
}

/* --- attributes ------------------------------------------------------------------------ */

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0)
            return n->attribute[i];
    return NULL;
}

/* Refuses attributes not in the space-separated list ok (their meaning is not
 * implemented, so a model using them would be imported wrong). */
static cn_status attrs_known(walk_t *w, const Onnx__NodeProto *n, const char *ok)
{
    for (size_t i = 0; i < n->n_attribute; i++) {
        const char *nm = n->attribute[i]->name ? n->attribute[i]->name : "";
        const size_t len = strlen(nm);
        const char *p = ok;
        int found = 0;
        while (len && (p = strstr(p, nm)) != NULL) {
            if ((p == ok || p[-1] == ' ') && (p[len] == ' ' || p[len] == 0)) {
                found = 1;
                break;
            }
            p += len;
        }
        if (!found)
            ERR(w, CN_ERR_UNSUPPORTED, "attribute '%s' is not supported", nm);
    }
    return CN_OK;
}

static cn_status attr_int(walk_t *w, const Onnx__NodeProto *n, const char *name, int64_t def,
                          int64_t *out)
{
    const Onnx__AttributeProto *a = attr(n, name);
    *out = def;
    if (!a)
        return CN_OK;
    if (!a->has_i && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)
        ERR(w, CN_ERR_FORMAT, "attribute '%s' is not an integer", name);
    *out = a->i;
    return CN_OK;
}

static cn_status attr_float(walk_t *w, const Onnx__NodeProto *n, const char *name, double def,
                            double *out)
{
    const Onnx__AttributeProto *a = attr(n, name);
    *out = def;
    if (!a)
        return CN_OK;
    if ((!a->has_f && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT) ||
        !isfinite(a->f))
        ERR(w, CN_ERR_FORMAT, "attribute '%s' is not a finite float", name);
    *out = a->f;
    return CN_OK;
}

/* ints attribute: up to max values in out, count in *cnt (0 when absent) */
static cn_status attr_ints(walk_t *w, const Onnx__NodeProto *n, const char *name, int64_t *out,
                           size_t max, size_t *cnt)
{
    const Onnx__AttributeProto *a = attr(n, name);
    *cnt = 0;
    if (!a)
        return CN_OK;
    if (a->n_ints > max)
        ERR(w, CN_ERR_UNSUPPORTED, "attribute '%s' has %zu values (at most %zu here)", name,
            a->n_ints, max);
    for (size_t i = 0; i < a->n_ints; i++)
        out[i] = a->ints[i];
    *cnt = a->n_ints;
    return CN_OK;
}

static int attr_str_is(const Onnx__NodeProto *n, const char *name, const char *def,
                       const char *want)
{
    const Onnx__AttributeProto *a = attr(n, name);
    if (!a || !a->has_s)
        return strcmp(def, want) == 0;
    return a->s.len == strlen(want) && memcmp(a->s.data, want, a->s.len) == 0;
}

/* --- inputs ------------------------------------------------------------------------------ */

static const char *in_name(const Onnx__NodeProto *n, size_t i)
{
    return i < n->n_input && n->input[i] && n->input[i][0] ? n->input[i] : NULL;
}

static cn_status get_in(walk_t *w, const Onnx__NodeProto *n, size_t i, val_t **out)
{
    const char *nm = in_name(n, i);
    *out = NULL;
    if (!nm)
        ERR(w, CN_ERR_FORMAT, "input %zu is missing", i + 1);
    *out = lookup(w, nm);
    if (!*out)
        ERR(w, CN_ERR_FORMAT,
            "input '%s' is not produced by an earlier node, an initializer "
            "or the graph input (or by a supported output of a node)",
            nm);
    if ((*out)->dyn && (*out)->anchor != w->anchor)
        ERR(w, CN_ERR_UNSUPPORTED,
            "input '%s' was computed before the last linear layer and "
            "is used again: the network must be a chain (no skip connections or branches)",
            nm);
    return CN_OK;
}

static cn_status get_const(walk_t *w, const Onnx__NodeProto *n, size_t i, const char *what,
                           const onnx_tensor_t **out)
{
    val_t *v;
    cn_status st = get_in(w, n, i, &v);
    if (st != CN_OK)
        return st;
    if (v->dyn)
        ERR(w, CN_ERR_UNSUPPORTED,
            "the %s ('%s') depends on the network input: supported on "
            "constants only (initializers, Constant nodes, shape arithmetic)",
            what, v->name);
    *out = &v->k;
    return CN_OK;
}

static cn_status get_dyn(walk_t *w, const Onnx__NodeProto *n, size_t i, val_t **out)
{
    cn_status st = get_in(w, n, i, out);
    if (st != CN_OK)
        return st;
    if (!(*out)->dyn)
        ERR(w, CN_ERR_UNSUPPORTED,
            "input '%s' is a constant where the data path was expected "
            "(an operator on constants only that this importer does not fold)",
            (*out)->name);
    return CN_OK;
}

/* --- the data path ----------------------------------------------------------------------- */

static int coef_deg(const val_t *v)
{
    return !onnx_coef_is(&v->p[2], 0) ? 2 : !onnx_coef_is(&v->p[1], 0) ? 1 : 0;
}

/* The identity of anchor w->anchor with shape (rank, dims). */
static cn_status make_anchor_val(walk_t *w, val_t *v, size_t rank, const int64_t *dims)
{
    memset(v, 0, sizeof *v);
    v->dyn = 1;
    v->anchor = w->anchor;
    v->rank = rank;
    memcpy(v->dims, dims, rank * sizeof *dims);
    cn_status st = onnx_coef_scalar(&w->cx, &v->p[0], 0);
    if (st == CN_OK)
        st = onnx_coef_scalar(&w->cx, &v->p[1], 1);
    if (st == CN_OK)
        st = onnx_coef_scalar(&w->cx, &v->p[2], 0);
    if (st != CN_OK)
        val_clear(w, v);
    return st;
}

static cn_status val_copy(walk_t *w, val_t *dst, const val_t *src)
{
    *dst = *src;
    memset(dst->p, 0, sizeof dst->p);
    memset(&dst->k, 0, sizeof dst->k);
    dst->nbase = 0;
    cn_status st = CN_OK;
    if (!src->dyn)
        return onnx_tensor_copy(&w->cx, &dst->k, &src->k);
    for (int i = 0; i < 3 && st == CN_OK; i++)
        st = onnx_coef_copy(&w->cx, &dst->p[i], &src->p[i]);
    for (size_t i = 0; i < src->nbase && st == CN_OK; i++) {
        st = onnx_coef_copy(&w->cx, &dst->bs[i], &src->bs[i]);
        if (st == CN_OK)
            st = onnx_coef_copy(&w->cx, &dst->bt[i], &src->bt[i]);
        dst->nbase = i + 1;
    }
    if (st != CN_OK)
        val_clear(w, dst);
    return st;
}

static void dims_chw(size_t rank, const int64_t *d, size_t *c, size_t *h, size_t *wd)
{
    *c = *h = *wd = 1;
    if (rank == 2)
        *c = (size_t)d[1];
    else if (rank == 3)
        *h = (size_t)d[1], *wd = (size_t)d[2];
    else if (rank >= 4)
        *c = (size_t)d[rank - 3], *h = (size_t)d[rank - 2], *wd = (size_t)d[rank - 1];
}

static cn_status push_affine(walk_t *w, size_t c, size_t h, size_t wd, const onnx_coef_t *s,
                             const onnx_coef_t *t)
{
    onnx_ir_t op = {.kind = IR_AFFINE, .c = c, .h = h, .w = wd, .oc = c, .oh = h, .ow = wd};
    cn_status st = onnx_coef_copy(&w->cx, &op.s, s);
    if (st == CN_OK)
        st = onnx_coef_copy(&w->cx, &op.t, t);
    if (st == CN_OK)
        st = onnx_ir_push(&w->cx, &w->ir, &op);
    if (st != CN_OK) {
        onnx_coef_clear(&w->cx, &op.s);
        onnx_coef_clear(&w->cx, &op.t);
    }
    return st;
}

static cn_status push_poly(walk_t *w, size_t c, size_t h, size_t wd, double a, double b,
                           double cc)
{
    onnx_ir_t op = {.kind = IR_POLY,
                    .c = c,
                    .h = h,
                    .w = wd,
                    .oc = c,
                    .oh = h,
                    .ow = wd,
                    .poly = {a, b, cc}};
    return onnx_ir_push(&w->cx, &w->ir, &op);
}

/* q(u) with u = s x + t equal to p(x) = p2 x^2 + p1 x + p0 at element i, into q[3];
 * 0 when s is 0 there */
static int rebase(double q[3], const val_t *v, const onnx_coef_t *s, const onnx_coef_t *t,
                  size_t i)
{
    const double si = onnx_coef_at(s, i), ti = onnx_coef_at(t, i);
    if (si == 0)
        return 0;
    const double p2 = onnx_coef_at(&v->p[2], i), p1 = onnx_coef_at(&v->p[1], i),
                 p0 = onnx_coef_at(&v->p[0], i);
    /* x = (u - t) / s */
    q[2] = p2 / (si * si);
    q[1] = p1 / si - 2 * p2 * ti / (si * si);
    q[0] = p0 - p1 * ti / si + p2 * ti * ti / (si * si);
    return 1;
}

static int close_to(double a, double b)
{
    return fabs(a - b) <= 1e-9 * fmax(1, fmax(fabs(a), fabs(b)));
}

/* The shape (as the model sees it) of the anchor of v: the last IR op's output, or v's
 * own shape when there is no op yet (the graph input, as its first consumer sees it). */
static void anchor_shape(const walk_t *w, const val_t *v, size_t *c, size_t *h, size_t *wd)
{
    if (w->ir.n) {
        *c = w->ac, *h = w->ah, *wd = w->aw;
        return;
    }
    dims_chw(v->rank, v->dims, c, h, wd);
    if (*c * *h * *wd != per_sample(v))
        *c = per_sample(v), *h = *wd = 1;
}

/* Turns value v (of the current anchor) into IR ops that compute it from the anchor:
 * nothing (the identity), an affine map, or an activation: a*u^2 + b*u + c with uniform
 * a, b, c of u = s x + t for the identity or one of the square's recorded inputs (a poly
 * or square layer after an affine map), else by completing the square per element. */
static cn_status lower_val(walk_t *w, const val_t *v)
{
    size_t c, h, wd;
    anchor_shape(w, v, &c, &h, &wd);
    const size_t n = per_sample(v);
    const int deg = coef_deg(v);
    if (deg < 2) {
        if (onnx_coef_is(&v->p[1], 1) && onnx_coef_is(&v->p[0], 0))
            return CN_OK;
        return push_affine(w, c, h, wd, &v->p[1], &v->p[0]);
    }
    onnx_coef_t one = {1, (double[]){1}}, zero = {1, (double[]){0}};
    for (size_t b = 0; b <= v->nbase; b++) {
        const onnx_coef_t *s = b ? &v->bs[b - 1] : &one, *t = b ? &v->bt[b - 1] : &zero;
        double q0[3], q[3];
        int ok = rebase(q0, v, s, t, 0);
        for (size_t i = 1; ok && i < n; i++)
            ok = rebase(q, v, s, t, i) && close_to(q[0], q0[0]) && close_to(q[1], q0[1]) &&
                 close_to(q[2], q0[2]);
        if (!ok || q0[2] == 0)
            continue;
        cn_status st = CN_OK;
        if (b)
            st = push_affine(w, c, h, wd, s, t);
        if (st == CN_OK)
            st = push_poly(w, c, h, wd, q0[2], q0[1], q0[0]);
        return st;
    }
    /* p2 (x + p1 / (2 p2))^2 + p0 - p1^2 / (4 p2), with p2 nonzero everywhere */
    onnx_coef_t d = {0}, s2 = {0}, e = {0};
    cn_status st = onnx_coef_scalar(&w->cx, &d, 0);
    if (st == CN_OK)
        st = onnx_coef_expand(&w->cx, &d, n);
    if (st == CN_OK)
        st = onnx_coef_copy(&w->cx, &s2, &d);
    if (st == CN_OK)
        st = onnx_coef_copy(&w->cx, &e, &d);
    for (size_t i = 0; st == CN_OK && i < n; i++) {
        const double p2 = onnx_coef_at(&v->p[2], i), p1 = onnx_coef_at(&v->p[1], i);
        if (p2 == 0) {
            cn_diag_set(w->cx.diag,
                        "%s: an activation is quadratic in some elements and "
                        "not in others (element %zu): not supported",
                        w->where, i);
            st = CN_ERR_UNSUPPORTED;
            break;
        }
        d.v[i] = p1 / (2 * p2);
        s2.v[i] = p2;
        e.v[i] = onnx_coef_at(&v->p[0], i) - p1 * p1 / (4 * p2);
    }
    if (st == CN_OK)
        st = push_affine(w, c, h, wd, &one, &d);
    if (st == CN_OK)
        st = push_poly(w, c, h, wd, 1, 0, 0);
    if (st == CN_OK)
        st = push_affine(w, c, h, wd, &s2, &e);
    onnx_coef_clear(&w->cx, &d);
    onnx_coef_clear(&w->cx, &s2);
    onnx_coef_clear(&w->cx, &e);
    return st;
}

/* Appends linear op (its input shape filled) after lowering v into it; the result is
 * the new anchor, defined as output name with shape (rank, dims). */
static cn_status push_linear(walk_t *w, const val_t *v, onnx_ir_t *op, const char *name,
                             size_t rank, const int64_t *dims)
{
    cn_status st = lower_val(w, v);
    if (st == CN_OK && op->kind == IR_DENSE && w->ir.n && w->ah * w->aw > 1) {
        /* a dense layer on an image: flatten first, as the network did */
        const onnx_ir_t f = {.kind = IR_FLATTEN,
                             .c = w->ac,
                             .h = w->ah,
                             .w = w->aw,
                             .oc = w->ac * w->ah * w->aw,
                             .oh = 1,
                             .ow = 1};
        st = onnx_ir_push(&w->cx, &w->ir, &f);
    }
    if (st == CN_OK)
        st = onnx_ir_push(&w->cx, &w->ir, op);
    if (st != CN_OK) {
        onnx_free(&w->cx, op->W,
                  op->kind == IR_CONV ? op->oc * op->c * op->kh * op->kw
                                      : op->oc * op->c * op->h * op->w);
        onnx_free(&w->cx, op->B, op->oc);
        return st;
    }
    w->anchor++;
    w->ac = op->oc;
    w->ah = op->oh;
    w->aw = op->ow;
    val_t nv;
    st = make_anchor_val(w, &nv, rank, dims);
    if (st == CN_OK)
        st = define(w, name, &nv);
    return st;
}

/* --- operators --------------------------------------------------------------------------- */

static const char *out0(const Onnx__NodeProto *n)
{
    return n->n_output ? n->output[0] : NULL;
}

/* The constant operand broadcast to the data path's per-sample elements: into c (n
 * values, or one when k is a scalar). The batch axis of k must be 1. */
static cn_status bcast_const(walk_t *w, onnx_coef_t *c, const val_t *v, const onnx_tensor_t *k)
{
    size_t r;
    int64_t d[ONNX_MAX_RANK];
    if (!onnx_broadcast_shape(&r, d, v->rank, v->dims, k->rank, k->dims) || r != v->rank ||
        memcmp(d, v->dims, r * sizeof *d) != 0)
        ERR(w, CN_ERR_UNSUPPORTED,
            "a constant operand of rank %zu does not broadcast to the "
            "data shape without enlarging it",
            k->rank);
    if (k->rank == v->rank && k->dims[0] != 1 && v->dims[0] != 1)
        ERR(w, CN_ERR_UNSUPPORTED, "a constant differs along the batch dimension");
    if (k->n == 1)
        return onnx_coef_scalar(&w->cx, c, k->v[0]);
    const size_t n = per_sample(v);
    c->v = onnx_alloc(&w->cx, n);
    if (!c->v)
        return CN_ERR_NO_MEMORY;
    c->n = n;
    /* per-sample shape: dims[1..]; k's axes aligned to the right, batch axis dropped */
    const size_t kr = k->rank == v->rank ? k->rank - 1 : k->rank;
    const int64_t *kd = k->rank == v->rank ? k->dims + 1 : k->dims;
    for (size_t i = 0; i < n; i++)
        c->v[i] = k->v[onnx_broadcast_index(i, v->rank - 1, v->dims + 1, kr, kd)];
    return CN_OK;
}

/* out = f(a, b) elementwise with broadcasting, constants only */
static cn_status const_binary(walk_t *w, onnx_tensor_t *out, const onnx_tensor_t *a,
                              const onnx_tensor_t *b, char op)
{
    size_t r;
    int64_t d[ONNX_MAX_RANK];
    if (!onnx_broadcast_shape(&r, d, a->rank, a->dims, b->rank, b->dims))
        ERR(w, CN_ERR_SHAPE_MISMATCH, "constant operands do not broadcast");
    cn_status st = onnx_tensor_new(&w->cx, out, r, d, w->where);
    if (st != CN_OK)
        return st;
    out->is_int = a->is_int && b->is_int;
    for (size_t i = 0; i < out->n; i++) {
        const double x = a->v[onnx_broadcast_index(i, r, d, a->rank, a->dims)];
        const double y = b->v[onnx_broadcast_index(i, r, d, b->rank, b->dims)];
        double z = op == '+'   ? x + y
                   : op == '-' ? x - y
                   : op == '*' ? x * y
                   : op == '^' ? pow(x, y)
                               : x / y;
        if (op == '/' && out->is_int && y != 0)
            z = trunc(z);
        if (!isfinite(z)) {
            onnx_tensor_clear(&w->cx, out);
            ERR(w, CN_ERR_INVALID_ARG, "constant arithmetic gives NaN or infinity");
        }
        out->v[i] = z;
    }
    return CN_OK;
}

/* v * k + 0 or v + k: the coefficients of v times mul, plus add (both per element) */
static cn_status coef_affine(walk_t *w, val_t *v, const onnx_coef_t *mul,
                             const onnx_coef_t *add)
{
    const size_t n = per_sample(v);
    for (int j = 0; j < 3; j++) {
        if (!mul && !(add && j == 0))
            continue;
        const size_t need = (mul && mul->n > 1) || (j == 0 && add && add->n > 1) ? n : 1;
        cn_status st = onnx_coef_expand(&w->cx, &v->p[j], v->p[j].n > 1 ? n : need);
        if (st != CN_OK)
            return st;
        for (size_t i = 0; i < v->p[j].n; i++) {
            if (mul)
                v->p[j].v[i] *= onnx_coef_at(mul, i);
            if (add && j == 0)
                v->p[j].v[i] += onnx_coef_at(add, i);
            if (!isfinite(v->p[j].v[i]))
                ERR(w, CN_ERR_INVALID_ARG, "the folded coefficients overflow");
        }
    }
    return CN_OK;
}

/* product of two data-path values of the current anchor (degree at most 2) */
static cn_status dyn_mul(walk_t *w, val_t *out, const val_t *a, const val_t *b)
{
    const int da = coef_deg(a), db = coef_deg(b);
    if (da + db > 2)
        ERR(w, CN_ERR_UNSUPPORTED,
            "the product has degree %d in the last linear layer's "
            "output; at most 2 (a square or a*x^2 + b*x + c) between linear layers",
            da + db);
    if (per_sample(a) != per_sample(b))
        ERR(w, CN_ERR_UNSUPPORTED, "a product of data values of different shapes");
    cn_status st = val_copy(w, out, da >= db ? a : b);
    if (st != CN_OK)
        return st;
    const size_t n = a->p[0].n > 1 || a->p[1].n > 1 || a->p[2].n > 1 || b->p[0].n > 1 ||
                             b->p[1].n > 1 || b->p[2].n > 1
                         ? per_sample(a)
                         : 1;
    for (int j = 0; j < 3 && st == CN_OK; j++)
        st = onnx_coef_expand(&w->cx, &out->p[j], n);
    for (size_t i = 0; st == CN_OK && i < n; i++) {
        double pa[3], pb[3];
        for (int j = 0; j < 3; j++) {
            pa[j] = onnx_coef_at(&a->p[j], i);
            pb[j] = onnx_coef_at(&b->p[j], i);
        }
        out->p[0].v[i] = pa[0] * pb[0];
        out->p[1].v[i] = pa[1] * pb[0] + pa[0] * pb[1];
        out->p[2].v[i] = pa[2] * pb[0] + pa[1] * pb[1] + pa[0] * pb[2];
    }
    /* a square of degree-1 values: record the factors as the candidates for its input */
    if (st == CN_OK && da == 1 && db == 1) {
        for (size_t i = 0; i < out->nbase; i++) {
            onnx_coef_clear(&w->cx, &out->bs[i]);
            onnx_coef_clear(&w->cx, &out->bt[i]);
        }
        out->nbase = 0;
        const val_t *f[2] = {a, b};
        for (int k = 0; k < 2 && st == CN_OK; k++) {
            st = onnx_coef_copy(&w->cx, &out->bs[k], &f[k]->p[1]);
            if (st == CN_OK)
                st = onnx_coef_copy(&w->cx, &out->bt[k], &f[k]->p[0]);
            out->nbase = (size_t)k + 1;
        }
    }
    if (st != CN_OK)
        val_clear(w, out);
    return st;
}

/* Starts a new anchor at value v (lowered into IR ops): for a square of a square. */
static cn_status rebase_anchor(walk_t *w, val_t *v)
{
    size_t c, h, wd;
    anchor_shape(w, v, &c, &h, &wd);
    cn_status st = lower_val(w, v);
    if (st != CN_OK)
        return st;
    w->ac = c, w->ah = h, w->aw = wd;
    w->anchor++;
    val_t nv;
    st = make_anchor_val(w, &nv, v->rank, v->dims);
    if (st != CN_OK)
        return st;
    val_clear(w, v);
    *v = nv;
    return CN_OK;
}

static cn_status op_arith(walk_t *w, const Onnx__NodeProto *n, char op)
{
    cn_status st = attrs_known(w, n, "broadcast");
    if (st != CN_OK)
        return st;
    if (n->n_input != 2)
        ERR(w, CN_ERR_FORMAT, "%zu inputs (2 expected)", n->n_input);
    val_t *a, *b, out = {0};
    if ((st = get_in(w, n, 0, &a)) != CN_OK || (st = get_in(w, n, 1, &b)) != CN_OK)
        return st;
    if (!a->dyn && !b->dyn) {
        out.dyn = 0;
        st = const_binary(w, &out.k, &a->k, &b->k, op);
        return st == CN_OK ? define(w, out0(n), &out) : st;
    }
    if (a->dyn && b->dyn) {
        if (op == '*') {
            if (a == b && coef_deg(a) == 2) {
                /* x^4 as two squares: the first becomes a layer of its own */
                val_t t;
                if ((st = val_copy(w, &t, a)) != CN_OK)
                    return st;
                if ((st = rebase_anchor(w, &t)) == CN_OK)
                    st = dyn_mul(w, &out, &t, &t);
                val_clear(w, &t);
            } else {
                st = dyn_mul(w, &out, a, b);
            }
            return st == CN_OK ? define(w, out0(n), &out) : st;
        }
        if (op == '/')
            ERR(w, CN_ERR_UNSUPPORTED, "division by a value of the network: not a polynomial");
        if (a->rank != b->rank || memcmp(a->dims, b->dims, a->rank * sizeof *a->dims))
            ERR(w, CN_ERR_UNSUPPORTED, "a sum of data values of different shapes");
        const int da = coef_deg(a), db = coef_deg(b);
        if ((st = val_copy(w, &out, da >= db ? a : b)) != CN_OK)
            return st;
        const val_t *o = da >= db ? b : a;
        const int neg_o = op == '-' && o == b, neg_self = op == '-' && o == a;
        const size_t m = per_sample(a);
        for (int j = 0; j < 3 && st == CN_OK; j++) {
            const size_t need = out.p[j].n > 1 || o->p[j].n > 1 ? m : 1;
            st = onnx_coef_expand(&w->cx, &out.p[j], need);
            for (size_t i = 0; st == CN_OK && i < out.p[j].n; i++) {
                const double x = out.p[j].v[i], y = onnx_coef_at(&o->p[j], i);
                out.p[j].v[i] = (neg_self ? -x : x) + (neg_o ? -y : y);
            }
        }
        if (st != CN_OK) {
            val_clear(w, &out);
            return st;
        }
        return define(w, out0(n), &out);
    }
    /* one constant operand */
    const val_t *v = a->dyn ? a : b;
    const onnx_tensor_t *k = a->dyn ? &b->k : &a->k;
    if (op == '/' && !a->dyn)
        ERR(w, CN_ERR_UNSUPPORTED,
            "a constant divided by a value of the network: not a "
            "polynomial");
    onnx_coef_t c = {0};
    if ((st = bcast_const(w, &c, v, k)) != CN_OK)
        return st;
    if ((st = val_copy(w, &out, v)) != CN_OK) {
        onnx_coef_clear(&w->cx, &c);
        return st;
    }
    if (op == '/') {
        for (size_t i = 0; i < c.n; i++) {
            if (c.v[i] == 0) {
                onnx_coef_clear(&w->cx, &c);
                val_clear(w, &out);
                ERR(w, CN_ERR_INVALID_ARG, "division by zero");
            }
            c.v[i] = 1 / c.v[i];
        }
    }
    if (op == '*' || op == '/') {
        st = coef_affine(w, &out, &c, NULL);
    } else if (op == '+') {
        st = coef_affine(w, &out, NULL, &c);
    } else if (a->dyn) { /* x - k */
        for (size_t i = 0; i < c.n; i++)
            c.v[i] = -c.v[i];
        st = coef_affine(w, &out, NULL, &c);
    } else { /* k - x */
        onnx_coef_t m1 = {1, (double[]){-1}};
        st = coef_affine(w, &out, &m1, &c);
    }
    onnx_coef_clear(&w->cx, &c);
    if (st != CN_OK) {
        val_clear(w, &out);
        return st;
    }
    return define(w, out0(n), &out);
}

static cn_status op_pow(walk_t *w, const Onnx__NodeProto *n)
{
    cn_status st = attrs_known(w, n, "");
    if (st != CN_OK)
        return st;
    val_t *a;
    const onnx_tensor_t *e;
    if ((st = get_in(w, n, 0, &a)) != CN_OK ||
        (st = get_const(w, n, 1, "exponent", &e)) != CN_OK)
        return st;
    val_t out = {0};
    if (!a->dyn) {
        st = const_binary(w, &out.k, &a->k, e, '^');
        return st == CN_OK ? define(w, out0(n), &out) : st;
    }
    if (e->n != 1)
        ERR(w, CN_ERR_UNSUPPORTED,
            "an exponent per element: only a scalar 2 (a square "
            "activation) or 1");
    if (e->v[0] != 1 && e->v[0] != 2)
        ERR(w, CN_ERR_UNSUPPORTED, "exponent %g: only 2 (a square activation) or 1", e->v[0]);
    if (e->v[0] == 1)
        st = val_copy(w, &out, a);
    else if (coef_deg(a) == 2) {
        val_t t;
        if ((st = val_copy(w, &t, a)) != CN_OK)
            return st;
        if ((st = rebase_anchor(w, &t)) == CN_OK)
            st = dyn_mul(w, &out, &t, &t);
        val_clear(w, &t);
    } else {
        st = dyn_mul(w, &out, a, a);
    }
    return st == CN_OK ? define(w, out0(n), &out) : st;
}

/* Identity, Dropout (inference), Neg, a dropped final Softmax */
static cn_status op_pass(walk_t *w, const Onnx__NodeProto *n, double scale)
{
    val_t *a, out;
    cn_status st = get_in(w, n, 0, &a);
    if (st == CN_OK)
        st = val_copy(w, &out, a);
    if (st != CN_OK)
        return st;
    if (scale != 1) {
        if (!out.dyn) {
            for (size_t i = 0; i < out.k.n; i++)
                out.k.v[i] *= scale;
        } else {
            onnx_coef_t m1 = {1, &scale};
            if ((st = coef_affine(w, &out, &m1, NULL)) != CN_OK) {
                val_clear(w, &out);
                return st;
            }
        }
    }
    return define(w, out0(n), &out);
}

static cn_status op_dropout(walk_t *w, const Onnx__NodeProto *n)
{
    cn_status st = attrs_known(w, n, "ratio is_test seed");
    if (st != CN_OK)
        return st;
    int64_t is_test; /* before opset 7, Dropout trains unless is_test = 1 */
    if ((st = attr_int(w, n, "is_test", w->opset < 7 ? 0 : 1, &is_test)) != CN_OK)
        return st;
    if (in_name(n, 2)) {
        const onnx_tensor_t *tm;
        if ((st = get_const(w, n, 2, "training_mode", &tm)) != CN_OK)
            return st;
        if (tm->n != 1 || tm->v[0] != 0)
            is_test = 0;
    }
    if (!is_test)
        ERR(w, CN_ERR_UNSUPPORTED, "Dropout in training mode; export the model in eval mode");
    return op_pass(w, n, 1);
}

static cn_status op_constant(walk_t *w, const Onnx__NodeProto *n)
{
    cn_status st = attrs_known(w, n, "value value_float value_floats value_int value_ints");
    if (st != CN_OK)
        return st;
    if (n->n_attribute != 1)
        ERR(w, CN_ERR_FORMAT, "a Constant needs exactly one value attribute");
    const Onnx__AttributeProto *a = n->attribute[0];
    val_t out = {0};
    const char *nm = a->name;
    if (strcmp(nm, "value") == 0) {
        if (!a->t)
            ERR(w, CN_ERR_FORMAT, "attribute 'value' holds no tensor");
        st = onnx_tensor_read(&w->cx, &out.k, a->t, w->where);
    } else {
        const int ints = strstr(nm, "int") != NULL, list = nm[strlen(nm) - 1] == 's';
        const size_t cnt = list ? (ints ? a->n_ints : a->n_floats) : 1;
        const int64_t d1 = (int64_t)cnt;
        if (!list && !(ints ? a->has_i : a->has_f))
            ERR(w, CN_ERR_FORMAT, "attribute '%s' holds no value", nm);
        st = onnx_tensor_new(&w->cx, &out.k, list ? 1 : 0, &d1, w->where);
        for (size_t i = 0; st == CN_OK && i < cnt; i++)
            out.k.v[i] = list ? (ints ? (double)a->ints[i] : a->floats[i])
                              : (ints ? (double)a->i : a->f);
        out.k.is_int = ints;
        for (size_t i = 0; st == CN_OK && i < cnt; i++)
            if (!isfinite(out.k.v[i])) {
                onnx_tensor_clear(&w->cx, &out.k);
                ERR(w, CN_ERR_INVALID_ARG, "a constant is NaN or infinite");
            }
    }
    return st == CN_OK ? define(w, out0(n), &out) : st;
}

static cn_status op_shape(walk_t *w, const Onnx__NodeProto *n)
{
    cn_status st = attrs_known(w, n, "start end");
    if (st != CN_OK)
        return st;
    val_t *a, out = {0};
    if ((st = get_in(w, n, 0, &a)) != CN_OK)
        return st;
    const size_t r = a->dyn ? a->rank : a->k.rank;
    const int64_t *d = a->dyn ? a->dims : a->k.dims;
    int64_t s, e;
    if ((st = attr_int(w, n, "start", 0, &s)) != CN_OK ||
        (st = attr_int(w, n, "end", (int64_t)r, &e)) != CN_OK)
        return st;
    s = s < 0 ? s + (int64_t)r : s;
    e = e < 0 ? e + (int64_t)r : e;
    s = s < 0 ? 0 : s > (int64_t)r ? (int64_t)r : s;
    e = e < s ? s : e > (int64_t)r ? (int64_t)r : e;
    const int64_t len = e - s;
    if ((st = onnx_tensor_new(&w->cx, &out.k, 1, &len, w->where)) != CN_OK)
        return st;
    out.k.is_int = 1;
    for (int64_t i = 0; i < len; i++)
        out.k.v[i] = (double)d[s + i];
    return define(w, out0(n), &out);
}

/* integer value of a constant element within [lo, hi] */
static int as_int(double v, int64_t lo, int64_t hi, int64_t *out)
{
    if (!(v >= (double)lo && v <= (double)hi) || v != floor(v))
        return 0;
    *out = (int64_t)v;
    return 1;
}

static cn_status op_gather(walk_t *w, const Onnx__NodeProto *n)
{
    cn_status st = attrs_known(w, n, "axis");
    if (st != CN_OK)
        return st;
    const onnx_tensor_t *d, *ix;
    int64_t axis;
    if ((st = get_const(w, n, 0, "data", &d)) != CN_OK ||
        (st = get_const(w, n, 1, "indices", &ix)) != CN_OK ||
        (st = attr_int(w, n, "axis", 0, &axis)) != CN_OK)
        return st;
    if (d->rank != 1 || (axis != 0 && axis != -1) || ix->rank > 1)
        ERR(w, CN_ERR_UNSUPPORTED,
            "Gather is supported on 1-D constants (shape arithmetic) "
            "only");
    val_t out = {0};
    if ((st = onnx_tensor_new(&w->cx, &out.k, ix->rank, ix->dims, w->where)) != CN_OK)
        return st;
    out.k.is_int = d->is_int;
    for (size_t i = 0; i < ix->n; i++) {
        int64_t k;
        if (!as_int(ix->v[i], -(int64_t)d->n, (int64_t)d->n - 1, &k)) {
            onnx_tensor_clear(&w->cx, &out.k);
            ERR(w, CN_ERR_FORMAT, "index %g out of range", ix->v[i]);
        }
        out.k.v[i] = d->v[k < 0 ? k + (int64_t)d->n : k];
    }
    return define(w, out0(n), &out);
}

static cn_status op_unsqueeze(walk_t *w, const Onnx__NodeProto *n, int squeeze)
{
    cn_status st = attrs_known(w, n, w->opset < 13 ? "axes" : "");
    if (st != CN_OK)
        return st;
    val_t *a;
    int64_t axes[ONNX_MAX_RANK];
    size_t na = 0;
    if ((st = get_in(w, n, 0, &a)) != CN_OK)
        return st;
    if (w->opset < 13) {
        if ((st = attr_ints(w, n, "axes", axes, ONNX_MAX_RANK, &na)) != CN_OK)
            return st;
    } else if (in_name(n, 1)) {
        const onnx_tensor_t *t;
        if ((st = get_const(w, n, 1, "axes", &t)) != CN_OK)
            return st;
        if (t->n > ONNX_MAX_RANK)
            ERR(w, CN_ERR_UNSUPPORTED, "too many axes");
        for (size_t i = 0; i < t->n; i++)
            if (!as_int(t->v[i], -ONNX_MAX_RANK, ONNX_MAX_RANK, &axes[i]))
                ERR(w, CN_ERR_FORMAT, "axis %g out of range", t->v[i]);
        na = t->n;
    }
    val_t out;
    if ((st = val_copy(w, &out, a)) != CN_OK)
        return st;
    size_t *rank = out.dyn ? &out.rank : &out.k.rank;
    int64_t *dims = out.dyn ? out.dims : out.k.dims;
    const size_t r = squeeze ? *rank : *rank + na;
    int64_t nd[ONNX_MAX_RANK];
    int mark[ONNX_MAX_RANK] = {0};
    if (r > ONNX_MAX_RANK || (!squeeze && na == 0)) {
        val_clear(w, &out);
        ERR(w, CN_ERR_UNSUPPORTED, "rank %zu after the node", r);
    }
    for (size_t i = 0; i < na; i++) {
        const int64_t ax = axes[i] < 0 ? axes[i] + (int64_t)r : axes[i];
        if (ax < 0 || ax >= (int64_t)r || mark[ax] || (squeeze && dims[ax] != 1) ||
            (out.dyn && ax == 0)) {
            val_clear(w, &out);
            ERR(w, CN_ERR_UNSUPPORTED,
                "axis %lld invalid here (out of range, repeated, not of "
                "size 1, or the batch axis)",
                (long long)axes[i]);
        }
        mark[ax] = 1;
    }
    size_t k = 0, j = 0;
    for (size_t i = 0; i < (squeeze ? *rank : r); i++) {
        if (squeeze) {
            if (!(na ? mark[i] : dims[i] == 1 && !(out.dyn && i == 0)))
                nd[k++] = dims[i];
        } else {
            nd[k++] = mark[i] ? 1 : dims[j++];
        }
    }
    *rank = k;
    memcpy(dims, nd, k * sizeof *nd);
    return define(w, out0(n), &out);
}

static cn_status op_concat(walk_t *w, const Onnx__NodeProto *n)
{
    cn_status st = attrs_known(w, n, "axis");
    if (st != CN_OK)
        return st;
    int64_t total = 0, axis;
    if ((st = attr_int(w, n, "axis", 0, &axis)) != CN_OK)
        return st;
    for (size_t i = 0; i < n->n_input; i++) {
        const onnx_tensor_t *t;
        if ((st = get_const(w, n, i, "input of Concat", &t)) != CN_OK)
            return st;
        if (t->rank != 1 || (axis != 0 && axis != -1))
            ERR(w, CN_ERR_UNSUPPORTED,
                "Concat is supported on 1-D constants (shape "
                "arithmetic) only");
        total += (int64_t)t->n;
    }
    val_t out = {0};
    if ((st = onnx_tensor_new(&w->cx, &out.k, 1, &total, w->where)) != CN_OK)
        return st;
    out.k.is_int = 1;
    size_t at = 0;
    for (size_t i = 0; i < n->n_input; i++) {
        const val_t *v = lookup(w, n->input[i]);
        memcpy(out.k.v + at, v->k.v, v->k.n * sizeof(double));
        at += v->k.n;
        out.k.is_int &= v->k.is_int;
    }
    return define(w, out0(n), &out);
}

static cn_status op_cast(walk_t *w, const Onnx__NodeProto *n)
{
    cn_status st = attrs_known(w, n, "to saturate");
    if (st != CN_OK)
        return st;
    int64_t to;
    val_t *a, out;
    if ((st = attr_int(w, n, "to", 0, &to)) != CN_OK || (st = get_in(w, n, 0, &a)) != CN_OK)
        return st;
    const int isf = to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ||
                    to == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
    if (a->dyn && !isf)
        ERR(w, CN_ERR_UNSUPPORTED, "a cast of the data path to type %lld", (long long)to);
    if ((st = val_copy(w, &out, a)) != CN_OK)
        return st;
    if (!out.dyn && !isf) {
        for (size_t i = 0; i < out.k.n; i++)
            out.k.v[i] = trunc(out.k.v[i]);
        out.k.is_int = 1;
    }
    return define(w, out0(n), &out);
}

/* Transpose of a constant (exporters transpose weights, e.g. PyTorch's Linear) */
static cn_status op_transpose(walk_t *w, const Onnx__NodeProto *n)
{
    cn_status st = attrs_known(w, n, "perm");
    if (st != CN_OK)
        return st;
    const onnx_tensor_t *a;
    int64_t perm[ONNX_MAX_RANK];
    size_t np;
    if ((st = get_const(w, n, 0, "input of Transpose", &a)) != CN_OK ||
        (st = attr_ints(w, n, "perm", perm, ONNX_MAX_RANK, &np)) != CN_OK)
        return st;
    const size_t r = a->rank;
    if (np == 0)
        for (size_t i = 0; i < r; i++)
            perm[i] = (int64_t)(r - 1 - i);
    else if (np != r)
        ERR(w, CN_ERR_FORMAT, "perm has %zu values for rank %zu", np, r);
    int seen[ONNX_MAX_RANK] = {0};
    int64_t d[ONNX_MAX_RANK];
    for (size_t i = 0; i < r; i++) {
        if (perm[i] < 0 || perm[i] >= (int64_t)r || seen[perm[i]])
            ERR(w, CN_ERR_FORMAT, "perm is not a permutation");
        seen[perm[i]] = 1;
        d[i] = a->dims[perm[i]];
    }
    val_t out = {0};
    if ((st = onnx_tensor_new(&w->cx, &out.k, r, d, w->where)) != CN_OK)
        return st;
    out.k.is_int = a->is_int;
    for (size_t i = 0; i < out.k.n; i++) {
        /* output coordinates of i; input index by the permuted strides */
        size_t rem = i, src = 0;
        for (size_t k = r; k-- > 0;) {
            const size_t coord = rem % (size_t)d[k];
            rem /= (size_t)d[k];
            size_t stride = 1;
            for (size_t j = (size_t)perm[k] + 1; j < r; j++)
                stride *= (size_t)a->dims[j];
            src += coord * stride;
        }
        out.k.v[i] = a->v[src];
    }
    return define(w, out0(n), &out);
}

/* new per-sample shape: copy with shape (rank, dims); the batch must stay first */
static cn_status reshape_to(walk_t *w, const Onnx__NodeProto *n, const val_t *a, size_t r,
                            const int64_t *d)
{
    val_t out;
    cn_status st = val_copy(w, &out, a);
    if (st != CN_OK)
        return st;
    if (out.dyn) {
        if (r < 1 || d[0] != w->batch) {
            val_clear(w, &out);
            ERR(w, CN_ERR_UNSUPPORTED, "a reshape that moves the batch dimension");
        }
        out.rank = r;
        memcpy(out.dims, d, r * sizeof *d);
    } else {
        out.k.rank = r;
        memcpy(out.k.dims, d, r * sizeof *d);
    }
    return define(w, out0(n), &out);
}

static cn_status op_reshape(walk_t *w, const Onnx__NodeProto *n)
{
    cn_status st = attrs_known(w, n, "allowzero");
    if (st != CN_OK)
        return st;
    val_t *a;
    const onnx_tensor_t *s;
    int64_t allowzero;
    if ((st = get_in(w, n, 0, &a)) != CN_OK ||
        (st = get_const(w, n, 1, "shape", &s)) != CN_OK ||
        (st = attr_int(w, n, "allowzero", 0, &allowzero)) != CN_OK)
        return st;
    const size_t ar = a->dyn ? a->rank : a->k.rank;
    const int64_t *ad = a->dyn ? a->dims : a->k.dims;
    size_t total = 1;
    for (size_t i = 0; i < ar; i++)
        total *= (size_t)ad[i];
    if (s->rank != 1 || s->n > ONNX_MAX_RANK)
        ERR(w, CN_ERR_UNSUPPORTED, "the target shape must be 1-D with at most %d dims",
            ONNX_MAX_RANK);
    int64_t d[ONNX_MAX_RANK];
    size_t known = 1, infer = SIZE_MAX;
    for (size_t i = 0; i < s->n; i++) {
        if (!as_int(s->v[i], -1, (int64_t)ONNX_MAX_DOUBLES, &d[i]))
            ERR(w, CN_ERR_FORMAT, "target dimension %g invalid", s->v[i]);
        if (d[i] == 0 && !allowzero) {
            if (i >= ar)
                ERR(w, CN_ERR_FORMAT, "dimension 0 (copy) past the input's rank");
            d[i] = ad[i];
        }
        if (d[i] == -1) {
            if (infer != SIZE_MAX)
                ERR(w, CN_ERR_FORMAT, "two dimensions of -1");
            infer = i;
        } else if (d[i] && known > ONNX_MAX_DOUBLES / (size_t)d[i]) {
            ERR(w, CN_ERR_FORMAT, "target shape too large");
        } else {
            known *= (size_t)d[i];
        }
    }
    if (infer != SIZE_MAX) {
        if (known == 0 || total % known)
            ERR(w, CN_ERR_SHAPE_MISMATCH, "cannot infer the -1 dimension");
        d[infer] = (int64_t)(total / known);
        known = total;
    }
    if (known != total)
        ERR(w, CN_ERR_SHAPE_MISMATCH, "%zu elements reshaped to %zu", total, known);
    return reshape_to(w, n, a, s->n, d);
}

static cn_status op_flatten(walk_t *w, const Onnx__NodeProto *n)
{
    cn_status st = attrs_known(w, n, "axis");
    if (st != CN_OK)
        return st;
    val_t *a;
    int64_t axis;
    if ((st = get_in(w, n, 0, &a)) != CN_OK || (st = attr_int(w, n, "axis", 1, &axis)) != CN_OK)
        return st;
    const size_t r = a->dyn ? a->rank : a->k.rank;
    const int64_t *ad = a->dyn ? a->dims : a->k.dims;
    if (axis < 0)
        axis += (int64_t)r;
    if (axis < 0 || axis > (int64_t)r)
        ERR(w, CN_ERR_FORMAT, "axis out of range");
    int64_t d[2] = {1, 1};
    for (size_t i = 0; i < r; i++)
        d[(int64_t)i < axis ? 0 : 1] *= ad[i];
    if (a->dyn && d[0] != w->batch)
        ERR(w, CN_ERR_UNSUPPORTED,
            "Flatten with axis %lld mixes the batch dimension with "
            "others (use axis 1)",
            (long long)axis);
    return reshape_to(w, n, a, 2, d);
}

/* Conv and AveragePool window geometry: kernel, strides, pads (top, left, bottom, right)
 * from kernel_shape, strides, pads and auto_pad (SAME_UPPER puts the odd padding at the
 * end, SAME_LOWER at the beginning; ONNX Operators.md). */
static cn_status window(walk_t *w, const Onnx__NodeProto *n, const val_t *x, size_t kh,
                        size_t kw, onnx_ir_t *op, int is_pool)
{
    int64_t ks[4], st_[4], pads[8], dil[4];
    size_t nk, ns, np, nd;
    cn_status st;
    if ((st = attr_ints(w, n, "kernel_shape", ks, 4, &nk)) != CN_OK ||
        (st = attr_ints(w, n, "strides", st_, 4, &ns)) != CN_OK ||
        (st = attr_ints(w, n, "pads", pads, 8, &np)) != CN_OK ||
        (st = attr_ints(w, n, "dilations", dil, 4, &nd)) != CN_OK)
        return st;
    if (x->rank != 4)
        ERR(w, CN_ERR_UNSUPPORTED,
            "input of rank %zu: only 2-D images (N, C, H, W) are "
            "supported",
            x->rank);
    if (is_pool && nk != 2)
        ERR(w, CN_ERR_FORMAT, "kernel_shape must have 2 values");
    if (nk && (nk != 2 || (!is_pool && ((size_t)ks[0] != kh || (size_t)ks[1] != kw))))
        ERR(w, CN_ERR_FORMAT, "kernel_shape does not match the weights");
    if (is_pool) {
        if (ks[0] < 1 || ks[1] < 1 || ks[0] > 1 << 20 || ks[1] > 1 << 20)
            ERR(w, CN_ERR_FORMAT, "kernel_shape out of range");
        kh = (size_t)ks[0];
        kw = (size_t)ks[1];
    }
    if ((ns && ns != 2) || (np && np != 4) || (nd && nd != 2))
        ERR(w, CN_ERR_FORMAT, "strides, pads or dilations of the wrong length");
    for (size_t i = 0; i < nd; i++)
        if (dil[i] != 1)
            ERR(w, CN_ERR_UNSUPPORTED, "dilation %lld: only 1 is supported", (long long)dil[i]);
    const int64_t sh = ns ? st_[0] : 1, sw = ns ? st_[1] : 1;
    if (sh < 1 || sw < 1 || sh > 1 << 20 || sw > 1 << 20)
        ERR(w, CN_ERR_FORMAT, "strides out of range");
    const int64_t H = x->dims[2], W = x->dims[3];
    int64_t p[4] = {0, 0, 0, 0}; /* top, left, bottom, right */
    const int upper = attr_str_is(n, "auto_pad", "NOTSET", "SAME_UPPER");
    const int lower = attr_str_is(n, "auto_pad", "NOTSET", "SAME_LOWER");
    if (upper || lower) {
        const int64_t in[2] = {H, W}, s2[2] = {sh, sw}, k2[2] = {(int64_t)kh, (int64_t)kw};
        for (int a = 0; a < 2; a++) {
            const int64_t out = (in[a] + s2[a] - 1) / s2[a];
            int64_t tot = (out - 1) * s2[a] + k2[a] - in[a];
            tot = tot < 0 ? 0 : tot;
            p[a] = upper ? tot / 2 : tot - tot / 2;
            p[a + 2] = tot - p[a];
        }
    } else if (attr_str_is(n, "auto_pad", "NOTSET", "VALID")) {
        /* no padding */
    } else if (!attr_str_is(n, "auto_pad", "NOTSET", "NOTSET")) {
        ERR(w, CN_ERR_FORMAT, "unknown auto_pad");
    } else if (np) {
        /* ONNX order: x1_begin, x2_begin, x1_end, x2_end */
        p[0] = pads[0], p[1] = pads[1], p[2] = pads[2], p[3] = pads[3];
    }
    for (int i = 0; i < 4; i++)
        if (p[i] < 0 || p[i] > 1 << 20)
            ERR(w, CN_ERR_FORMAT, "padding %lld out of range", (long long)p[i]);
    if (H + p[0] + p[2] < (int64_t)kh || W + p[1] + p[3] < (int64_t)kw)
        ERR(w, CN_ERR_SHAPE_MISMATCH, "window %zux%zu larger than the padded input", kh, kw);
    if (is_pool)
        for (int i = 0; i < 2; i++)
            if (p[i] >= (int64_t)(i ? kw : kh) || p[i + 2] >= (int64_t)(i ? kw : kh))
                ERR(w, CN_ERR_FORMAT, "padding must be smaller than the window");
    op->c = (size_t)x->dims[1];
    op->h = (size_t)H;
    op->w = (size_t)W;
    op->kh = kh;
    op->kw = kw;
    op->sh = (size_t)sh;
    op->sw = (size_t)sw;
    for (int i = 0; i < 4; i++)
        op->pads[i] = (size_t)p[i];
    op->oh = (size_t)((H + p[0] + p[2] - (int64_t)kh) / sh + 1);
    op->ow = (size_t)((W + p[1] + p[3] - (int64_t)kw) / sw + 1);
    return CN_OK;
}

static cn_status op_conv(walk_t *w, const Onnx__NodeProto *n)
{
    cn_status st = attrs_known(w, n, "auto_pad dilations group kernel_shape pads strides");
    if (st != CN_OK)
        return st;
    val_t *x;
    const onnx_tensor_t *W, *B = NULL;
    int64_t group;
    if ((st = get_dyn(w, n, 0, &x)) != CN_OK ||
        (st = get_const(w, n, 1, "weight", &W)) != CN_OK ||
        (in_name(n, 2) && (st = get_const(w, n, 2, "bias", &B)) != CN_OK) ||
        (st = attr_int(w, n, "group", 1, &group)) != CN_OK)
        return st;
    if (x->rank != 4 || W->rank != 4)
        ERR(w, CN_ERR_UNSUPPORTED, "only 2-D convolutions (input N, C, H, W) are supported");
    if (group != 1)
        ERR(w, CN_ERR_UNSUPPORTED,
            "group %lld: only group 1 (no depthwise or grouped "
            "convolutions)",
            (long long)group);
    if (W->dims[1] != x->dims[1] || W->dims[0] < 1 ||
        (B && (B->rank != 1 || B->dims[0] != W->dims[0])))
        ERR(w, CN_ERR_SHAPE_MISMATCH,
            "weights %lldx%lldx%lldx%lld or bias do not fit an input "
            "of %lld channels",
            (long long)W->dims[0], (long long)W->dims[1], (long long)W->dims[2],
            (long long)W->dims[3], (long long)x->dims[1]);
    onnx_ir_t op = {.kind = IR_CONV, .oc = (size_t)W->dims[0]};
    if ((st = window(w, n, x, (size_t)W->dims[2], (size_t)W->dims[3], &op, 0)) != CN_OK)
        return st;
    op.W = onnx_alloc(&w->cx, W->n);
    op.B = onnx_alloc(&w->cx, op.oc);
    if (!op.W || !op.B) {
        onnx_free(&w->cx, op.W, W->n);
        onnx_free(&w->cx, op.B, op.oc);
        return CN_ERR_NO_MEMORY;
    }
    memcpy(op.W, W->v, W->n * sizeof(double));
    if (B)
        memcpy(op.B, B->v, op.oc * sizeof(double));
    const int64_t d[4] = {x->dims[0], (int64_t)op.oc, (int64_t)op.oh, (int64_t)op.ow};
    if (op.oc * op.oh * op.ow > CN_MODEL_MAX_VALUES) {
        onnx_free(&w->cx, op.W, W->n);
        onnx_free(&w->cx, op.B, op.oc);
        ERR(w, CN_ERR_SHAPE_MISMATCH, "more than %zu outputs", CN_MODEL_MAX_VALUES);
    }
    return push_linear(w, x, &op, out0(n), 4, d);
}

static cn_status op_pool(walk_t *w, const Onnx__NodeProto *n, int global)
{
    cn_status st = attrs_known(w, n,
                               global ? ""
                                      : "auto_pad ceil_mode count_include_pad "
                                        "kernel_shape pads strides");
    if (st != CN_OK)
        return st;
    val_t *x;
    int64_t ceil_mode, cip;
    if ((st = get_dyn(w, n, 0, &x)) != CN_OK ||
        (st = attr_int(w, n, "ceil_mode", 0, &ceil_mode)) != CN_OK ||
        (st = attr_int(w, n, "count_include_pad", 0, &cip)) != CN_OK)
        return st;
    if (x->rank != 4)
        ERR(w, CN_ERR_UNSUPPORTED, "only 2-D pools (input N, C, H, W) are supported");
    onnx_ir_t op = {.kind = IR_POOL, .include_pad = cip != 0};
    if (global) {
        op.c = op.oc = (size_t)x->dims[1];
        op.h = op.kh = (size_t)x->dims[2];
        op.w = op.kw = (size_t)x->dims[3];
        op.sh = op.sw = 1;
        op.oh = op.ow = 1;
    } else if ((st = window(w, n, x, 0, 0, &op, 1)) != CN_OK) {
        return st;
    } else {
        op.oc = op.c;
        if (ceil_mode) {
            /* ceil mode: an extra window where one would start inside the padded input */
            const size_t eh = op.h + op.pads[0] + op.pads[2] - op.kh,
                         ew = op.w + op.pads[1] + op.pads[3] - op.kw;
            if (eh % op.sh || ew % op.sw)
                ERR(w, CN_ERR_UNSUPPORTED,
                    "ceil_mode 1 with a partial last window; use "
                    "ceil_mode 0 or padding that makes the windows fit");
        }
    }
    const int64_t d[4] = {x->dims[0], (int64_t)op.oc, (int64_t)op.oh, (int64_t)op.ow};
    return push_linear(w, x, &op, out0(n), 4, d);
}

static cn_status op_gemm(walk_t *w, const Onnx__NodeProto *n, int matmul)
{
    cn_status st = attrs_known(w, n, matmul ? "" : "alpha beta transA transB broadcast");
    if (st != CN_OK)
        return st;
    val_t *a;
    const onnx_tensor_t *B, *C = NULL;
    int64_t ta = 0, tb = 0;
    double alpha = 1, beta = 1;
    if ((st = get_dyn(w, n, 0, &a)) != CN_OK ||
        (st = get_const(w, n, 1, "weight (second input)", &B)) != CN_OK)
        return st;
    if (!matmul && ((in_name(n, 2) && (st = get_const(w, n, 2, "bias", &C)) != CN_OK) ||
                    (st = attr_int(w, n, "transA", 0, &ta)) != CN_OK ||
                    (st = attr_int(w, n, "transB", 0, &tb)) != CN_OK ||
                    (st = attr_float(w, n, "alpha", 1, &alpha)) != CN_OK ||
                    (st = attr_float(w, n, "beta", 1, &beta)) != CN_OK))
        return st;
    if (ta)
        ERR(w, CN_ERR_UNSUPPORTED, "transA = 1 (the input transposed) is not supported");
    if (a->rank != 2 || B->rank != 2)
        ERR(w, CN_ERR_UNSUPPORTED,
            "input of rank %zu and weights of rank %zu: only (N, K) "
            "times (K, M) is supported (Flatten first)",
            a->rank, B->rank);
    const size_t K = (size_t)a->dims[1];
    const size_t M = (size_t)(tb ? B->dims[0] : B->dims[1]);
    if ((size_t)(tb ? B->dims[1] : B->dims[0]) != K || M == 0)
        ERR(w, CN_ERR_SHAPE_MISMATCH, "weights %lldx%lld do not fit %zu inputs",
            (long long)B->dims[0], (long long)B->dims[1], K);
    if (C && !(C->n == 1 || (C->n == M && C->dims[C->rank - 1] == (int64_t)M)))
        ERR(w, CN_ERR_UNSUPPORTED,
            "bias of %zu values for %zu outputs (per-row biases are not "
            "supported)",
            C->n, M);
    if (M > CN_MODEL_MAX_VALUES)
        ERR(w, CN_ERR_SHAPE_MISMATCH, "more than %zu outputs", CN_MODEL_MAX_VALUES);
    onnx_ir_t op = {.kind = IR_DENSE, .c = K, .h = 1, .w = 1, .oc = M, .oh = 1, .ow = 1};
    /* the input's per-sample shape as the model sees it (it may be a flattened image) */
    op.W = onnx_alloc(&w->cx, M * K);
    op.B = onnx_alloc(&w->cx, M);
    if (!op.W || !op.B) {
        onnx_free(&w->cx, op.W, M * K);
        onnx_free(&w->cx, op.B, M);
        return CN_ERR_NO_MEMORY;
    }
    for (size_t j = 0; j < M; j++) {
        for (size_t i = 0; i < K; i++)
            op.W[j * K + i] = alpha * (tb ? B->v[j * K + i] : B->v[i * M + j]);
        op.B[j] = C ? beta * C->v[C->n == 1 ? 0 : j] : 0;
    }
    const int64_t d[2] = {a->dims[0], (int64_t)M};
    return push_linear(w, a, &op, out0(n), 2, d);
}

static cn_status op_batchnorm(walk_t *w, const Onnx__NodeProto *n)
{
    cn_status st = attrs_known(w, n, "epsilon momentum spatial is_test training_mode");
    if (st != CN_OK)
        return st;
    val_t *x;
    const onnx_tensor_t *sc, *bi, *mean, *var;
    double eps;
    int64_t spatial, training;
    if ((st = get_dyn(w, n, 0, &x)) != CN_OK ||
        (st = get_const(w, n, 1, "scale", &sc)) != CN_OK ||
        (st = get_const(w, n, 2, "bias", &bi)) != CN_OK ||
        (st = get_const(w, n, 3, "mean", &mean)) != CN_OK ||
        (st = get_const(w, n, 4, "variance", &var)) != CN_OK ||
        (st = attr_float(w, n, "epsilon", 1e-5, &eps)) != CN_OK ||
        (st = attr_int(w, n, "spatial", 1, &spatial)) != CN_OK ||
        (st = attr_int(w, n, "training_mode", 0, &training)) != CN_OK)
        return st;
    if (training || spatial != 1)
        ERR(w, CN_ERR_UNSUPPORTED, "training mode or spatial = 0: export in eval mode");
    if (x->rank < 2)
        ERR(w, CN_ERR_UNSUPPORTED, "an input without a channel axis");
    const size_t C = (size_t)x->dims[1];
    if (sc->n != C || bi->n != C || mean->n != C || var->n != C)
        ERR(w, CN_ERR_SHAPE_MISMATCH, "parameters do not have %zu values (one per channel)", C);
    /* y = scale (x - mean) / sqrt(var + eps) + bias = s x + t per channel */
    const size_t nps = per_sample(x), hw = nps / C;
    onnx_coef_t s = {0}, t = {0};
    if ((st = onnx_coef_scalar(&w->cx, &s, 0)) != CN_OK ||
        (st = onnx_coef_expand(&w->cx, &s, nps)) != CN_OK ||
        (st = onnx_coef_copy(&w->cx, &t, &s)) != CN_OK) {
        onnx_coef_clear(&w->cx, &s);
        return st;
    }
    for (size_t c = 0; c < C && st == CN_OK; c++) {
        if (!(var->v[c] + eps > 0))
            st = CN_ERR_INVALID_ARG;
        const double sv = sc->v[c] / sqrt(var->v[c] + eps), tv = bi->v[c] - mean->v[c] * sv;
        for (size_t i = 0; i < hw; i++) {
            s.v[c * hw + i] = sv;
            t.v[c * hw + i] = tv;
        }
    }
    val_t out = {0};
    if (st == CN_ERR_INVALID_ARG)
        cn_diag_set(w->cx.diag, "%s: variance + epsilon is not positive", w->where);
    if (st == CN_OK && (st = val_copy(w, &out, x)) == CN_OK &&
        (st = coef_affine(w, &out, &s, &t)) != CN_OK)
        val_clear(w, &out);
    onnx_coef_clear(&w->cx, &s);
    onnx_coef_clear(&w->cx, &t);
    return st == CN_OK ? define(w, out0(n), &out) : st;
}

/* what to use instead of an operator this importer refuses */
static const char *advice(const char *op)
{
    static const char *const act[] = {
        "Relu",      "Sigmoid", "Tanh",     "LeakyRelu", "Elu",
        "Selu",      "PRelu",   "Softplus", "Softsign",  "HardSigmoid",
        "HardSwish", "Gelu",    "Mish",     "Celu",      "ThresholdedRelu",
        "Abs",       "Exp",     "Log",      "Sqrt",      "Reciprocal",
        "Clip",      NULL};
    for (int i = 0; act[i]; i++)
        if (strcmp(op, act[i]) == 0)
            return "homomorphic evaluation needs a polynomial: use a square (x * x) or a "
                   "degree-2 polynomial activation a*x^2 + b*x + c and retrain";
    if (strcmp(op, "MaxPool") == 0 || strcmp(op, "GlobalMaxPool") == 0 ||
        strcmp(op, "LpPool") == 0)
        return "a maximum is not a polynomial: use AveragePool and retrain";
    if (strcmp(op, "Softmax") == 0 || strcmp(op, "LogSoftmax") == 0)
        return "drop it (argmax is unchanged) or set drop_final_softmax when it is the last "
               "node";
    if (strcmp(op, "ConvTranspose") == 0 || strcmp(op, "Pad") == 0)
        return "use Conv with its pads attribute";
    return "only the operators of docs/onnx.md are supported";
}

static cn_status node(walk_t *w, const Onnx__NodeProto *n, size_t idx)
{
    const char *op = n->op_type ? n->op_type : "";
    snprintf(w->where, sizeof w->where, "node %zu '%.60s' (%.40s)", idx + 1,
             n->name && n->name[0] ? n->name : (n->n_output ? n->output[0] : ""), op);
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
        ERR(w, CN_ERR_UNSUPPORTED, "operator domain '%s': only the default ONNX domain",
            n->domain);
    if (!out0(n))
        ERR(w, CN_ERR_FORMAT, "no output");
    if (strcmp(op, "Add") == 0)
        return op_arith(w, n, '+');
    if (strcmp(op, "Sub") == 0)
        return op_arith(w, n, '-');
    if (strcmp(op, "Mul") == 0)
        return op_arith(w, n, '*');
    if (strcmp(op, "Div") == 0)
        return op_arith(w, n, '/');
    if (strcmp(op, "Pow") == 0)
        return op_pow(w, n);
    if (strcmp(op, "Neg") == 0 || strcmp(op, "Identity") == 0) {
        cn_status st = attrs_known(w, n, "");
        return st == CN_OK ? op_pass(w, n, op[0] == 'N' ? -1 : 1) : st;
    }
    if (strcmp(op, "Dropout") == 0)
        return op_dropout(w, n);
    if (strcmp(op, "Constant") == 0)
        return op_constant(w, n);
    if (strcmp(op, "Shape") == 0)
        return op_shape(w, n);
    if (strcmp(op, "Gather") == 0)
        return op_gather(w, n);
    if (strcmp(op, "Unsqueeze") == 0)
        return op_unsqueeze(w, n, 0);
    if (strcmp(op, "Squeeze") == 0)
        return op_unsqueeze(w, n, 1);
    if (strcmp(op, "Concat") == 0)
        return op_concat(w, n);
    if (strcmp(op, "Cast") == 0)
        return op_cast(w, n);
    if (strcmp(op, "Reshape") == 0)
        return op_reshape(w, n);
    if (strcmp(op, "Transpose") == 0)
        return op_transpose(w, n);
    if (strcmp(op, "Flatten") == 0)
        return op_flatten(w, n);
    if (strcmp(op, "Conv") == 0)
        return op_conv(w, n);
    if (strcmp(op, "AveragePool") == 0)
        return op_pool(w, n, 0);
    if (strcmp(op, "GlobalAveragePool") == 0)
        return op_pool(w, n, 1);
    if (strcmp(op, "Gemm") == 0)
        return op_gemm(w, n, 0);
    if (strcmp(op, "MatMul") == 0)
        return op_gemm(w, n, 1);
    if (strcmp(op, "BatchNormalization") == 0)
        return op_batchnorm(w, n);
    if ((strcmp(op, "Softmax") == 0 || strcmp(op, "LogSoftmax") == 0) && w->opts &&
        w->opts->drop_final_softmax && idx == w->last_node) {
        w->dropped_softmax = 1;
        return op_pass(w, n, 1);
    }
    ERR(w, CN_ERR_UNSUPPORTED, "operator %s is not supported: %s", op, advice(op));
}

/* --- the model -----------------------------------------------------------------------------
 */

static int has_initializer(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_initializer; i++)
        if (g->initializer[i]->name && strcmp(g->initializer[i]->name, name) == 0)
            return 1;
    return 0;
}

/* The model's own metadata_props, when the exporter wrote them (examples/pytorch does):
 * "cryptonets.input_raw_range" = "LO:HI" and "cryptonets.input_scale" = "X" or "A/B"; the
 * options, when given, win. Anything malformed is ignored (the defaults then apply). */
static const char *meta(const Onnx__ModelProto *mp, const char *key)
{
    for (size_t i = 0; i < mp->n_metadata_props; i++)
        if (mp->metadata_props[i]->key && mp->metadata_props[i]->value &&
            !strcmp(mp->metadata_props[i]->key, key))
            return mp->metadata_props[i]->value;
    return NULL;
}

static void meta_range(int64_t *lo, int64_t *hi, const Onnx__ModelProto *mp)
{
    const char *v = meta(mp, "cryptonets.input_raw_range");
    long long a, b;
    char end;
    if (v && sscanf(v, "%lld:%lld%c", &a, &b, &end) == 2 && a <= b &&
        a >= -((long long)1 << 40) && b <= ((long long)1 << 40)) {
        *lo = a;
        *hi = b;
    }
}

static double meta_scale(const Onnx__ModelProto *mp)
{
    const char *v = meta(mp, "cryptonets.input_scale");
    double a, b;
    char end;
    if (!v)
        return 0;
    if (sscanf(v, "%lf/%lf%c", &a, &b, &end) == 2 && isfinite(a / b) && a / b > 0)
        return a / b;
    if (sscanf(v, "%lf%c", &a, &end) == 1 && isfinite(a) && a > 0)
        return a;
    return 0;
}

static cn_status walk_model(cn_model_t *m, walk_t *w, const Onnx__ModelProto *mp)
{
    snprintf(w->where, sizeof w->where, "model");
    int64_t opset = -1;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if ((!o->domain || !o->domain[0] || strcmp(o->domain, "ai.onnx") == 0) &&
            o->has_version)
            opset = o->version;
    }
    if (opset < 0 && mp->n_opset_import == 0 && mp->has_ir_version && mp->ir_version < 3)
        opset = 1; /* before IR 3 there was no opset_import: opset 1 */
    if (opset < 0)
        ERR(w, CN_ERR_VERSION,
            "no opset of the default ONNX domain is imported (operators of "
            "other domains are not supported)");
    if (opset < ONNX_MIN_OPSET || opset > ONNX_MAX_OPSET)
        ERR(w, CN_ERR_VERSION,
            "opset %lld of the default domain; this importer supports "
            "%d..%d (re-export with an opset in that range)",
            (long long)opset, ONNX_MIN_OPSET, ONNX_MAX_OPSET);
    w->opset = opset;
    const Onnx__GraphProto *g = mp->graph;
    if (!g)
        ERR(w, CN_ERR_FORMAT, "no graph");
    w->g = g;
    snprintf(w->where, sizeof w->where, "graph");
    /* the one input that is not an initializer */
    const Onnx__ValueInfoProto *in = NULL;
    for (size_t i = 0; i < g->n_input; i++) {
        if (!g->input[i]->name || has_initializer(g, g->input[i]->name))
            continue;
        if (in)
            ERR(w, CN_ERR_UNSUPPORTED,
                "two inputs ('%s' and '%s'): the network must have "
                "one input",
                in->name, g->input[i]->name);
        in = g->input[i];
    }
    if (!in)
        ERR(w, CN_ERR_FORMAT, "no graph input");
    if (g->n_output != 1 || !g->output[0]->name)
        ERR(w, CN_ERR_UNSUPPORTED, "%zu outputs: the network must have one", g->n_output);
    const Onnx__TypeProto *tp = in->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type ||
        !tp->tensor_type->shape)
        ERR(w, CN_ERR_UNSUPPORTED, "input '%s' is not a tensor of known shape", in->name);
    const int et = tp->tensor_type->has_elem_type ? tp->tensor_type->elem_type : 0;
    if (et != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT &&
        et != ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE)
        ERR(w, CN_ERR_UNSUPPORTED,
            "input '%s' has element type %d (float32 or float64 "
            "expected)",
            in->name, et);
    const Onnx__TensorShapeProto *sh = tp->tensor_type->shape;
    if (sh->n_dim < 1 || sh->n_dim > 4)
        ERR(w, CN_ERR_UNSUPPORTED,
            "input '%s' of rank %zu: (batch, features), (batch, H, W) "
            "or (batch, C, H, W) expected",
            in->name, sh->n_dim);
    int64_t dims[ONNX_MAX_RANK];
    size_t nps = 1;
    for (size_t i = 0; i < sh->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = sh->dim[i];
        const int fixed = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        if (i == 0) {
            dims[0] = fixed && d->dim_value > 0 && d->dim_value <= 1 << 20 ? d->dim_value : 1;
            continue;
        }
        if (!fixed || d->dim_value < 1 || d->dim_value > (int64_t)CN_MODEL_MAX_VALUES)
            ERR(w, CN_ERR_UNSUPPORTED,
                "input '%s': dimension %zu is dynamic or out of range; "
                "only the batch dimension may be dynamic (export with a fixed input size)",
                in->name, i);
        dims[i] = d->dim_value;
        nps *= (size_t)d->dim_value;
        if (nps > CN_MODEL_MAX_VALUES)
            ERR(w, CN_ERR_SHAPE_MISMATCH, "input '%s': more than %zu values per sample",
                in->name, CN_MODEL_MAX_VALUES);
    }
    w->batch = dims[0];
    dims_chw(sh->n_dim, dims, &w->ac, &w->ah, &w->aw);
    cn_status st;
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        snprintf(w->where, sizeof w->where, "initializer '%s'", t->name ? t->name : "");
        val_t v = {0};
        if ((st = onnx_tensor_read(&w->cx, &v.k, t, w->where)) != CN_OK)
            return st;
        if ((st = define(w, t->name, &v)) != CN_OK)
            return st;
    }
    val_t iv;
    snprintf(w->where, sizeof w->where, "input '%s'", in->name);
    if ((st = make_anchor_val(w, &iv, sh->n_dim, dims)) != CN_OK ||
        (st = define(w, in->name, &iv)) != CN_OK)
        return st;
    const char *oname = g->output[0]->name;
    w->last_node = SIZE_MAX;
    for (size_t i = 0; i < g->n_node; i++)
        for (size_t j = 0; j < g->node[i]->n_output; j++)
            if (g->node[i]->output[j] && strcmp(g->node[i]->output[j], oname) == 0)
                w->last_node = i;
    for (size_t i = 0; i < g->n_node; i++)
        if ((st = node(w, g->node[i], i)) != CN_OK)
            return st;
    snprintf(w->where, sizeof w->where, "output '%s'", oname);
    val_t *out = lookup(w, oname);
    if (!out)
        ERR(w, CN_ERR_FORMAT, "not produced by any node");
    if (!out->dyn)
        ERR(w, CN_ERR_UNSUPPORTED, "a constant: it does not depend on the input");
    if (out->anchor != w->anchor)
        ERR(w, CN_ERR_UNSUPPORTED,
            "computed before the last linear layer: the network must "
            "be a chain");
    if ((st = lower_val(w, out)) != CN_OK)
        return st;
    size_t c, h, wd; /* the model's input shape when there is no op at all */
    dims_chw(sh->n_dim, dims, &c, &h, &wd);
    /* a flat output (batch, k) after an image: end with a flatten, as the model does */
    if (out->rank == 2 && w->ir.n && w->ir.op[w->ir.n - 1].oh * w->ir.op[w->ir.n - 1].ow > 1) {
        const onnx_ir_t *l = &w->ir.op[w->ir.n - 1];
        onnx_ir_t f = {.kind = IR_FLATTEN,
                       .c = l->oc,
                       .h = l->oh,
                       .w = l->ow,
                       .oc = l->oc * l->oh * l->ow,
                       .oh = 1,
                       .ow = 1};
        if ((st = onnx_ir_push(&w->cx, &w->ir, &f)) != CN_OK)
            return st;
    }
    double scale = w->opts->input_scale;
    int64_t lo = w->opts->input_min, hi = w->opts->input_max;
    if (lo == 0 && hi == 0)
        meta_range(&lo, &hi, mp);
    if (scale == 0)
        scale = meta_scale(mp);
    if (scale == 0)
        scale = 1.0 / 255;
    if (lo == 0 && hi == 0)
        hi = 255;
    snprintf(w->where, sizeof w->where, "model");
    st = onnx_lower_model(m, &w->cx, &w->ir, c, h, wd, scale, lo, hi);
    if (st == CN_OK && w->dropped_softmax)
        cn_diag_set(w->cx.diag,
                    "note: the final %s was dropped (argmax is unchanged); the "
                    "model's outputs are the scores before it",
                    w->g->node[w->last_node]->op_type);
    return st;
}

cn_status cn_model_from_onnx_bytes(cn_model_t *m, const uint8_t *buf, size_t len,
                                   const cn_onnx_opts_t *opts, cn_net_diag_t *diag)
{
    static const cn_onnx_opts_t defaults = {0};
    if (!m)
        return CN_ERR_INVALID_ARG;
    memset(m, 0, sizeof *m);
    if (diag)
        diag->msg[0] = 0;
    if (!buf && len)
        return CN_ERR_INVALID_ARG;
    if (!opts)
        opts = &defaults;
    if (opts->input_scale < 0 || !isfinite(opts->input_scale) ||
        opts->input_min > opts->input_max) {
        cn_diag_set(diag,
                    "options: input_scale %g must be finite and >= 0 (0: 1/255), "
                    "input_min <= input_max",
                    opts->input_scale);
        return CN_ERR_INVALID_ARG;
    }
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    if (!mp) {
        cn_diag_set(diag, "not an ONNX model (the protobuf ModelProto does not parse)");
        return CN_ERR_FORMAT;
    }
    walk_t w = {.cx = {.diag = diag}, .opts = opts};
    cn_status st = walk_model(m, &w, mp);
    for (size_t i = 0; i < w.nv; i++)
        val_clear(&w, &w.v[i]);
    free(w.v);
    onnx_ir_clear(&w.cx, &w.ir);
    onnx__model_proto__free_unpacked(mp, NULL);
    if (st != CN_OK) {
        cn_model_clear(m);
        if (diag && !diag->msg[0])
            cn_diag_set(diag, "%s", cn_strerror(st));
    }
    return st;
}

cn_status cn_model_load_onnx(cn_model_t *m, const char *path, const cn_onnx_opts_t *opts,
                             cn_net_diag_t *diag)
{
    if (!m || !path)
        return CN_ERR_INVALID_ARG;
    memset(m, 0, sizeof *m);
    uint8_t *buf;
    size_t len;
    cn_status st = cn_file_read(
        &buf, &len, path, (size_t)1 << 31 /* protobuf messages are at most 2 GiB */, diag);
    if (st != CN_OK)
        return st;
    cn_net_diag_t d = {{0}};
    st = cn_model_from_onnx_bytes(m, buf, len, opts, &d);
    if (st != CN_OK || d.msg[0])
        cn_diag_set(diag, "%s: %s", path, d.msg);
    free(buf);
    return st;
}
