/* Internal declarations of the ONNX importer (docs/onnx.md): the graph walk (import.c)
 * turns the nodes into a list of IR ops on one data path, tensor.c reads constants, and
 * lower.c folds the elementwise affine ops into their neighbours and emits model layers. */
#ifndef CN_ONNX_INTERNAL_H
#define CN_ONNX_INTERNAL_H

#include <stdint.h>

#include "../net_internal.h"
#include "cryptonets/onnx.h"

#include CN_ONNX_PB_H

#define ONNX_MAX_RANK 8
/* Opsets of the default domain this importer knows (ONNX 1.12 defines up to 17); the
 * attributes of older operator versions that changed meaning (broadcast axis,
 * consumed_inputs, Reshape's shape attribute) are refused by name. */
#define ONNX_MIN_OPSET 1
#define ONNX_MAX_OPSET 17
/* Doubles the importer may hold at once (constants, coefficients, materialized layers):
 * 2^25 (256 MiB); a model needing more is refused as too large. */
#define ONNX_MAX_DOUBLES ((size_t)1 << 25)
/* Weights of a convolution, pool or affine map rewritten as a dense layer. */
#define ONNX_MAX_DENSE ((size_t)1 << 24)

/* A constant tensor (from an initializer, a Constant node or folded shape arithmetic);
 * every element as a double (integers of shape arithmetic are exact below 2^53). */
typedef struct {
    size_t rank;
    int64_t dims[ONNX_MAX_RANK];
    size_t n;   /* product of dims */
    double *v;  /* [n] (at least one allocated) */
    int is_int; /* an integer tensor (shape arithmetic) */
} onnx_tensor_t;

/* Per-element coefficients: n == 1 is a scalar broadcast to every element. */
typedef struct {
    size_t n;
    double *v;
} onnx_coef_t;

/* The importer's state; errors land in diag, budget counts doubles allocated. */
typedef struct {
    cn_net_diag_t *diag;
    size_t budget;
} onnx_ctx_t;

typedef enum {
    IR_AFFINE = 1, /* y = s * x + t elementwise (s, t of n values each, or scalars) */
    IR_POLY,       /* y = a x^2 + b x + c, scalars */
    IR_CONV,       /* 2-D convolution, pads (top, left, bottom, right) */
    IR_POOL,       /* 2-D average pool */
    IR_DENSE,      /* y = W x + b on the input flattened */
    IR_FLATTEN     /* shape only */
} onnx_ir_kind;

typedef struct {
    onnx_ir_kind kind;
    size_t c, h, w;        /* input shape */
    size_t oc, oh, ow;     /* output shape */
    onnx_coef_t s, t;      /* affine */
    double poly[3];        /* poly */
    size_t kh, kw, sh, sw; /* conv, pool */
    size_t pads[4];        /* conv, pool: top, left, bottom, right */
    int include_pad;       /* pool: divisor counts padding (count_include_pad) */
    double *W, *B;         /* conv: [oc][c][kh][kw], [oc]; dense: [oc][c*h*w], [oc] */
} onnx_ir_t;

typedef struct {
    onnx_ir_t *op;
    size_t n, cap;
} onnx_irlist_t;

/* --- tensor.c ---------------------------------------------------------------------- */

void *onnx_alloc(onnx_ctx_t *cx, size_t ndoubles);
void onnx_free(onnx_ctx_t *cx, void *p, size_t ndoubles);
void onnx_tensor_clear(onnx_ctx_t *cx, onnx_tensor_t *t);
/* Reads TensorProto p (float, double or an integer type; raw or typed fields). */
cn_status onnx_tensor_read(onnx_ctx_t *cx, onnx_tensor_t *t, const Onnx__TensorProto *p,
                           const char *what);
cn_status onnx_tensor_copy(onnx_ctx_t *cx, onnx_tensor_t *dst, const onnx_tensor_t *src);
/* A tensor of the given shape, zeroed (n computed, limits checked). */
cn_status onnx_tensor_new(onnx_ctx_t *cx, onnx_tensor_t *t, size_t rank, const int64_t *dims,
                          const char *what);
/* The numpy broadcast shape of a and b, in out (rank, dims); CN_ERR_SHAPE_MISMATCH. */
int onnx_broadcast_shape(size_t *rank, int64_t *dims, size_t ra, const int64_t *da, size_t rb,
                         const int64_t *db);
/* Index of element i of a tensor of shape (rank, dims) in a tensor of shape (rb, db)
 * broadcast to it (rb <= rank, numpy rules). */
size_t onnx_broadcast_index(size_t i, size_t rank, const int64_t *dims, size_t rb,
                            const int64_t *db);

void onnx_coef_clear(onnx_ctx_t *cx, onnx_coef_t *c);
cn_status onnx_coef_scalar(onnx_ctx_t *cx, onnx_coef_t *c, double v);
cn_status onnx_coef_copy(onnx_ctx_t *cx, onnx_coef_t *dst, const onnx_coef_t *src);
/* c widened to n elements (no-op when it has them) */
cn_status onnx_coef_expand(onnx_ctx_t *cx, onnx_coef_t *c, size_t n);
static inline double onnx_coef_at(const onnx_coef_t *c, size_t i)
{
    return c->n == 1 ? c->v[0] : c->v[i];
}
/* 1 when every element is v */
int onnx_coef_is(const onnx_coef_t *c, double v);
/* 1 when the elements of c, as a (ch, hw) array, are equal within each channel */
int onnx_coef_per_channel(const onnx_coef_t *c, size_t ch, size_t hw);

/* --- lower.c ------------------------------------------------------------------------- */

void onnx_ir_clear(onnx_ctx_t *cx, onnx_irlist_t *l);
cn_status onnx_ir_push(onnx_ctx_t *cx, onnx_irlist_t *l, const onnx_ir_t *op);
/* Folds the affine ops of l, then makes m (input shape that of l's first op, or (c, h, w)
 * when l is empty; input_scale, possibly times a leading scale folded into it; raw range
 * [lo, hi]) and appends l's layers. m is cleared on error. */
cn_status onnx_lower_model(cn_model_t *m, onnx_ctx_t *cx, onnx_irlist_t *l, size_t c, size_t h,
                           size_t w, double input_scale, int64_t lo, int64_t hi);

#endif
