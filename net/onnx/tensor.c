/* Constant tensors and coefficient arrays of the ONNX importer: reading TensorProto
 * (raw little-endian bytes or typed fields, onnx.proto's TensorProto comments), numpy
 * broadcasting (ONNX's Broadcasting.md), and the memory budget every allocation draws on. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

void *onnx_alloc(onnx_ctx_t *cx, size_t nd)
{
    if (nd == 0)
        nd = 1;
    if (nd > ONNX_MAX_DOUBLES - cx->budget) {
        cn_diag_set(cx->diag,
                    "the model needs more than %zu MiB of constants and "
                    "intermediate weights",
                    ONNX_MAX_DOUBLES * sizeof(double) >> 20);
        return NULL;
    }
    double *p = calloc(nd, sizeof(double));
    if (p)
        cx->budget += nd;
    else
        cn_diag_set(cx->diag, "out of memory");
    return p;
}

void onnx_free(onnx_ctx_t *cx, void *p, size_t nd)
{
    if (!p)
        return;
    if (nd == 0)
        nd = 1;
    cx->budget -= nd;
    free(p);
}

void onnx_tensor_clear(onnx_ctx_t *cx, onnx_tensor_t *t)
{
    onnx_free(cx, t->v, t->n);
    memset(t, 0, sizeof *t);
}

/* n = product of dims; CN_ERR_SHAPE_MISMATCH for a negative dim or a product past the
 * budget */
static cn_status numel(onnx_ctx_t *cx, size_t *n, size_t rank, const int64_t *dims,
                       const char *what)
{
    if (rank > ONNX_MAX_RANK) {
        cn_diag_set(cx->diag, "%s: rank %zu (at most %d)", what, rank, ONNX_MAX_RANK);
        return CN_ERR_UNSUPPORTED;
    }
    size_t p = 1;
    for (size_t i = 0; i < rank; i++) {
        if (dims[i] < 0 || (uint64_t)dims[i] > ONNX_MAX_DOUBLES) {
            cn_diag_set(cx->diag, "%s: dimension %lld out of range", what, (long long)dims[i]);
            return CN_ERR_SHAPE_MISMATCH;
        }
        if (dims[i] && p > ONNX_MAX_DOUBLES / (size_t)dims[i]) {
            cn_diag_set(cx->diag, "%s: more than %zu elements", what, ONNX_MAX_DOUBLES);
            return CN_ERR_SHAPE_MISMATCH;
        }
        p *= (size_t)dims[i];
    }
    *n = p;
    return CN_OK;
}

cn_status onnx_tensor_new(onnx_ctx_t *cx, onnx_tensor_t *t, size_t rank, const int64_t *dims,
                          const char *what)
{
    memset(t, 0, sizeof *t);
    size_t n;
    cn_status st = numel(cx, &n, rank, dims, what);
    if (st != CN_OK)
        return st;
    t->v = onnx_alloc(cx, n);
    if (!t->v)
        return CN_ERR_NO_MEMORY;
    t->rank = rank;
    if (rank)
        memcpy(t->dims, dims, rank * sizeof *dims);
    t->n = n;
    return CN_OK;
}

cn_status onnx_tensor_copy(onnx_ctx_t *cx, onnx_tensor_t *dst, const onnx_tensor_t *src)
{
    cn_status st = onnx_tensor_new(cx, dst, src->rank, src->dims, "tensor");
    if (st != CN_OK)
        return st;
    memcpy(dst->v, src->v, src->n * sizeof(double));
    dst->is_int = src->is_int;
    return CN_OK;
}

/* little-endian loads from raw_data */
static uint64_t le(const uint8_t *p, size_t k)
{
    uint64_t v = 0;
    for (size_t i = 0; i < k; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

cn_status onnx_tensor_read(onnx_ctx_t *cx, onnx_tensor_t *t, const Onnx__TensorProto *p,
                           const char *what)
{
    memset(t, 0, sizeof *t);
    if (p->segment || (p->has_data_location &&
                       p->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)) {
        cn_diag_set(cx->diag,
                    "%s: segmented or external tensor data is not supported "
                    "(save the model with its weights inside the file)",
                    what);
        return CN_ERR_UNSUPPORTED;
    }
    cn_status st = onnx_tensor_new(cx, t, p->n_dims, p->dims, what);
    if (st != CN_OK)
        return st;
    const int dt = p->has_data_type ? p->data_type : 0;
    size_t esize = 0, ntyped = 0;
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
        esize = 4;
        ntyped = p->n_float_data;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
        esize = 8;
        ntyped = p->n_double_data;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
        esize = 8;
        ntyped = p->n_int64_data;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64:
        esize = 8;
        ntyped = p->n_uint64_data;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
        esize = 4;
        ntyped = p->n_int32_data;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16:
        esize = 2;
        ntyped = p->n_int32_data;
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
        esize = 1;
        ntyped = p->n_int32_data;
        break;
    default:
        cn_diag_set(cx->diag,
                    "%s: element type %d is not supported (float32, float64 or an "
                    "integer type)",
                    what, dt);
        onnx_tensor_clear(cx, t);
        return CN_ERR_UNSUPPORTED;
    }
    t->is_int = dt != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT &&
                dt != ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
    if (p->has_raw_data) {
        if (p->raw_data.len != t->n * esize || ntyped) {
            cn_diag_set(cx->diag, "%s: %zu bytes of raw data for %zu elements of %zu bytes",
                        what, p->raw_data.len, t->n, esize);
            onnx_tensor_clear(cx, t);
            return CN_ERR_FORMAT;
        }
        const uint8_t *r = p->raw_data.data;
        for (size_t i = 0; i < t->n; i++) {
            const uint64_t u = le(r + i * esize, esize);
            double v;
            switch (dt) {
            case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: {
                uint32_t b32 = (uint32_t)u;
                float f;
                memcpy(&f, &b32, 4);
                v = f;
                break;
            }
            case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
                memcpy(&v, &u, 8);
                break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
                v = (double)(int64_t)u;
                break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
                v = (int32_t)(uint32_t)u;
                break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__INT16:
                v = (int16_t)(uint16_t)u;
                break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
                v = (int8_t)(uint8_t)u;
                break;
            default:
                v = (double)u;
                break; /* unsigned types, bool */
            }
            t->v[i] = v;
        }
    } else {
        if (ntyped != t->n) {
            cn_diag_set(cx->diag, "%s: %zu values for a shape of %zu elements", what, ntyped,
                        t->n);
            onnx_tensor_clear(cx, t);
            return CN_ERR_FORMAT;
        }
        for (size_t i = 0; i < t->n; i++) {
            switch (dt) {
            case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
                t->v[i] = p->float_data[i];
                break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
                t->v[i] = p->double_data[i];
                break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
                t->v[i] = (double)p->int64_data[i];
                break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64:
                t->v[i] = (double)p->uint64_data[i];
                break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
                t->v[i] = (uint32_t)p->int32_data[i];
                break;
            default:
                t->v[i] = p->int32_data[i];
                break;
            }
        }
    }
    for (size_t i = 0; i < t->n; i++)
        if (!isfinite(t->v[i])) {
            cn_diag_set(cx->diag, "%s: element %zu is NaN or infinite", what, i);
            onnx_tensor_clear(cx, t);
            return CN_ERR_INVALID_ARG;
        }
    return CN_OK;
}

int onnx_broadcast_shape(size_t *rank, int64_t *dims, size_t ra, const int64_t *da, size_t rb,
                         const int64_t *db)
{
    const size_t r = ra > rb ? ra : rb;
    for (size_t i = 0; i < r; i++) {
        const int64_t x = i < r - ra ? 1 : da[i - (r - ra)];
        const int64_t y = i < r - rb ? 1 : db[i - (r - rb)];
        if (x != y && x != 1 && y != 1)
            return 0;
        dims[i] = x == 1 ? y : x;
    }
    *rank = r;
    return 1;
}

size_t onnx_broadcast_index(size_t i, size_t rank, const int64_t *dims, size_t rb,
                            const int64_t *db)
{
    size_t idx = 0, stride = 1;
    for (size_t k = rank; k-- > 0;) {
        const size_t d = (size_t)dims[k], coord = i % d;
        i /= d;
        if (k >= rank - rb) {
            const size_t bd = (size_t)db[k - (rank - rb)];
            if (bd != 1)
                idx += coord * stride;
            stride *= bd;
        }
    }
    return idx;
}

void onnx_coef_clear(onnx_ctx_t *cx, onnx_coef_t *c)
{
    onnx_free(cx, c->v, c->n);
    c->v = NULL;
    c->n = 0;
}

cn_status onnx_coef_scalar(onnx_ctx_t *cx, onnx_coef_t *c, double v)
{
    c->v = onnx_alloc(cx, 1);
    if (!c->v)
        return CN_ERR_NO_MEMORY;
    c->n = 1;
    c->v[0] = v;
    return CN_OK;
}

cn_status onnx_coef_copy(onnx_ctx_t *cx, onnx_coef_t *dst, const onnx_coef_t *src)
{
    dst->v = onnx_alloc(cx, src->n);
    if (!dst->v)
        return CN_ERR_NO_MEMORY;
    dst->n = src->n;
    memcpy(dst->v, src->v, src->n * sizeof(double));
    return CN_OK;
}

cn_status onnx_coef_expand(onnx_ctx_t *cx, onnx_coef_t *c, size_t n)
{
    if (c->n == n)
        return CN_OK;
    double *v = onnx_alloc(cx, n);
    if (!v)
        return CN_ERR_NO_MEMORY;
    for (size_t i = 0; i < n; i++)
        v[i] = c->v[0];
    onnx_coef_clear(cx, c);
    c->v = v;
    c->n = n;
    return CN_OK;
}

int onnx_coef_is(const onnx_coef_t *c, double v)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i] != v)
            return 0;
    return 1;
}

int onnx_coef_per_channel(const onnx_coef_t *c, size_t ch, size_t hw)
{
    if (c->n == 1)
        return 1;
    for (size_t k = 0; k < ch; k++)
        for (size_t i = 1; i < hw; i++)
            if (c->v[k * hw + i] != c->v[k * hw])
                return 0;
    return 1;
}
