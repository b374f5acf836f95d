/* Builds small ONNX models with protobuf-c (onnx.proto's messages) for tests/onnx and the
 * ONNX fuzz target's seed corpus. Every allocation is tracked and freed by ob_free. */
#ifndef CN_TEST_ONNX_BUILD_H
#define CN_TEST_ONNX_BUILD_H

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include CN_ONNX_PB_H

#define OB_MAX 128

typedef struct {
    Onnx__ModelProto m;
    Onnx__GraphProto g;
    Onnx__OperatorSetIdProto os;
    Onnx__OperatorSetIdProto *osp[1];
    Onnx__NodeProto *nodes[OB_MAX];
    Onnx__TensorProto *inits[OB_MAX];
    Onnx__ValueInfoProto *ins[4], *outs[4];
    void *mem[8 * OB_MAX];
    size_t nmem;
} ob_t;

static inline void *ob_alloc(ob_t *b, size_t size)
{
    void *p = calloc(1, size ? size : 1);
    if (!p || b->nmem == sizeof b->mem / sizeof b->mem[0])
        abort();
    b->mem[b->nmem++] = p;
    return p;
}

static inline char *ob_str(ob_t *b, const char *s)
{
    char *d = ob_alloc(b, strlen(s) + 1);
    memcpy(d, s, strlen(s) + 1);
    return d;
}

static inline void ob_init(ob_t *b, int64_t opset)
{
    memset(b, 0, sizeof *b);
    onnx__model_proto__init(&b->m);
    onnx__graph_proto__init(&b->g);
    onnx__operator_set_id_proto__init(&b->os);
    b->m.has_ir_version = 1;
    b->m.ir_version = 8;
    b->os.has_version = 1;
    b->os.version = opset;
    b->os.domain = ob_str(b, "");
    b->osp[0] = &b->os;
    b->m.n_opset_import = 1;
    b->m.opset_import = b->osp;
    b->m.graph = &b->g;
    b->g.name = ob_str(b, "g");
    b->g.node = b->nodes;
    b->g.initializer = b->inits;
    b->g.input = b->ins;
    b->g.output = b->outs;
}

/* a float tensor value info; dims < 0 are symbolic ("N") */
static inline Onnx__ValueInfoProto *ob_vinfo(ob_t *b, const char *name, size_t rank,
                                             const int64_t *dims)
{
    Onnx__ValueInfoProto *v = ob_alloc(b, sizeof *v);
    onnx__value_info_proto__init(v);
    v->name = ob_str(b, name);
    Onnx__TypeProto *t = ob_alloc(b, sizeof *t);
    onnx__type_proto__init(t);
    Onnx__TypeProto__Tensor *tt = ob_alloc(b, sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    Onnx__TensorShapeProto *sh = ob_alloc(b, sizeof *sh);
    onnx__tensor_shape_proto__init(sh);
    sh->n_dim = rank;
    sh->dim = ob_alloc(b, rank * sizeof *sh->dim);
    for (size_t i = 0; i < rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = ob_alloc(b, sizeof *d);
        onnx__tensor_shape_proto__dimension__init(d);
        if (dims[i] < 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = ob_str(b, "N");
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i];
        }
        sh->dim[i] = d;
    }
    tt->shape = sh;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->type = t;
    return v;
}

static inline void ob_input(ob_t *b, const char *name, size_t rank, const int64_t *dims)
{
    b->ins[b->g.n_input++] = ob_vinfo(b, name, rank, dims);
}

static inline void ob_output(ob_t *b, const char *name)
{
    const int64_t d[1] = {-1};
    b->outs[b->g.n_output++] = ob_vinfo(b, name, 1, d);
}

/* kind: 'f' float32 typed, 'r' float32 raw, 'd' float64 typed, 'D' float64 raw, 'i' int64 */
static inline Onnx__TensorProto *ob_tensor(ob_t *b, const char *name, size_t rank,
                                           const int64_t *dims, const double *v, char kind)
{
    Onnx__TensorProto *t = ob_alloc(b, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = ob_str(b, name);
    t->n_dims = rank;
    t->dims = ob_alloc(b, (rank ? rank : 1) * sizeof *t->dims);
    size_t n = 1;
    for (size_t i = 0; i < rank; i++) {
        t->dims[i] = dims[i];
        n *= (size_t)dims[i];
    }
    t->has_data_type = 1;
    switch (kind) {
    case 'f':
    case 'r': {
        t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
        float *f = ob_alloc(b, (n ? n : 1) * sizeof *f);
        for (size_t i = 0; i < n; i++)
            f[i] = (float)v[i];
        if (kind == 'r') {
            t->has_raw_data = 1;
            t->raw_data.len = 4 * n;
            t->raw_data.data = (uint8_t *)f; /* little-endian host */
        } else {
            t->n_float_data = n;
            t->float_data = f;
        }
        break;
    }
    case 'd':
    case 'D': {
        t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
        double *d = ob_alloc(b, (n ? n : 1) * sizeof *d);
        memcpy(d, v, n * sizeof *d);
        if (kind == 'D') {
            t->has_raw_data = 1;
            t->raw_data.len = 8 * n;
            t->raw_data.data = (uint8_t *)d;
        } else {
            t->n_double_data = n;
            t->double_data = d;
        }
        break;
    }
    default: {
        t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
        int64_t *x = ob_alloc(b, (n ? n : 1) * sizeof *x);
        for (size_t i = 0; i < n; i++)
            x[i] = (int64_t)v[i];
        t->n_int64_data = n;
        t->int64_data = x;
    }
    }
    return t;
}

static inline void ob_initializer(ob_t *b, const char *name, size_t rank, const int64_t *dims,
                                  const double *v, char kind)
{
    b->inits[b->g.n_initializer++] = ob_tensor(b, name, rank, dims, v, kind);
}

/* a node with nin inputs (const char *, "" for an absent optional one) and one output */
static inline Onnx__NodeProto *ob_node(ob_t *b, const char *op, const char *out, size_t nin,
                                       ...)
{
    Onnx__NodeProto *n = ob_alloc(b, sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = ob_str(b, op);
    n->name = ob_str(b, out);
    n->n_output = 1;
    n->output = ob_alloc(b, sizeof *n->output);
    n->output[0] = ob_str(b, out);
    n->n_input = nin;
    n->input = ob_alloc(b, (nin ? nin : 1) * sizeof *n->input);
    va_list ap;
    va_start(ap, nin);
    for (size_t i = 0; i < nin; i++)
        n->input[i] = ob_str(b, va_arg(ap, const char *));
    va_end(ap);
    n->attribute = ob_alloc(b, 8 * sizeof *n->attribute);
    b->nodes[b->g.n_node++] = n;
    return n;
}

static inline Onnx__AttributeProto *ob_attr(ob_t *b, Onnx__NodeProto *n, const char *name,
                                            Onnx__AttributeProto__AttributeType type)
{
    Onnx__AttributeProto *a = ob_alloc(b, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = ob_str(b, name);
    a->has_type = 1;
    a->type = type;
    n->attribute[n->n_attribute++] = a;
    return a;
}

static inline void ob_attr_i(ob_t *b, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

static inline void ob_attr_f(ob_t *b, Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

static inline void ob_attr_ints(ob_t *b, Onnx__NodeProto *n, const char *name, size_t cnt,
                                const int64_t *v)
{
    Onnx__AttributeProto *a = ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = cnt;
    a->ints = ob_alloc(b, (cnt ? cnt : 1) * sizeof *a->ints);
    memcpy(a->ints, v, cnt * sizeof *v);
}

static inline void ob_attr_floats(ob_t *b, Onnx__NodeProto *n, const char *name, size_t cnt,
                                  const float *v)
{
    Onnx__AttributeProto *a =
        ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
    a->n_floats = cnt;
    a->floats = ob_alloc(b, (cnt ? cnt : 1) * sizeof *a->floats);
    memcpy(a->floats, v, cnt * sizeof *v);
}

static inline void ob_attr_s(ob_t *b, Onnx__NodeProto *n, const char *name, const char *s)
{
    Onnx__AttributeProto *a =
        ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.len = strlen(s);
    a->s.data = (uint8_t *)ob_str(b, s);
}

static inline void ob_attr_t(ob_t *b, Onnx__NodeProto *n, const char *name,
                             Onnx__TensorProto *t)
{
    Onnx__AttributeProto *a =
        ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    a->t = t;
}

/* the model's bytes (malloc'd) */
static inline uint8_t *ob_pack(ob_t *b, size_t *len)
{
    *len = onnx__model_proto__get_packed_size(&b->m);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (!buf)
        abort();
    onnx__model_proto__pack(&b->m, buf);
    return buf;
}

static inline void ob_free(ob_t *b)
{
    for (size_t i = 0; i < b->nmem; i++)
        free(b->mem[i]);
    b->nmem = 0;
}

/* The CryptoNets-shaped network (docs/DESIGN.md) as PyTorch exports it: input
 * normalization (x - mean) / std (a Constant node and a float64 initializer), Conv 5x5
 * stride 2 with pads (5 maps), x * x, AveragePool 3x3 (pads 1, padding counted), the
 * Shape/Gather/Unsqueeze/Concat/Reshape chain of torch.flatten, Gemm (transB = 1, raw
 * float32), Pow(x, 2), Gemm (transB = 0), and optionally a final Softmax. Weights are
 * float32 values of a fixed formula. */
typedef struct {
    double w1[5 * 25], b1[5], w2[100 * 845], b2[100], w3[100 * 10], b3[10];
    double mean, std;
} ob_cnet_t;

static inline double ob_f32(double x)
{
    return (double)(float)x;
}

static inline void ob_cnet_weights(ob_cnet_t *c)
{
    for (int i = 0; i < 125; i++)
        c->w1[i] = ob_f32(((i * 37) % 23 - 11) / 40.0);
    for (int i = 0; i < 5; i++)
        c->b1[i] = ob_f32((i - 2) / 10.0);
    for (int i = 0; i < 100 * 845; i++)
        c->w2[i] = ob_f32((((i * 7919) % 1009) - 504) / 50000.0);
    for (int i = 0; i < 100; i++)
        c->b2[i] = ob_f32(((i * 13) % 17 - 8) / 100.0);
    for (int i = 0; i < 1000; i++)
        c->w3[i] = ob_f32((((i * 31) % 61) - 30) / 300.0);
    for (int i = 0; i < 10; i++)
        c->b3[i] = ob_f32(i / 20.0);
    c->mean = ob_f32(0.1307);
    c->std = 0.3081; /* a float64 initializer */
}

static inline void ob_cnet(ob_t *b, const ob_cnet_t *c, int softmax)
{
    ob_init(b, 13);
    const int64_t in[4] = {-1, 1, 28, 28};
    ob_input(b, "x", 4, in);
    Onnx__NodeProto *n = ob_node(b, "Constant", "mean", 0);
    const float mean = (float)c->mean;
    ob_attr_floats(b, n, "value_floats", 1, &mean);
    ob_initializer(b, "std", 0, NULL, &c->std, 'd');
    const int64_t d1[4] = {5, 1, 5, 5}, d5[1] = {5}, d2[2] = {100, 845}, d100[1] = {100},
                  d3[2] = {100, 10}, d10[1] = {10};
    ob_initializer(b, "W1", 4, d1, c->w1, 'r');
    ob_initializer(b, "B1", 1, d5, c->b1, 'f');
    ob_initializer(b, "W2", 2, d2, c->w2, 'r');
    ob_initializer(b, "B2", 1, d100, c->b2, 'r');
    ob_initializer(b, "W3", 2, d3, c->w3, 'f');
    ob_initializer(b, "B3", 1, d10, c->b3, 'f');
    const double two = 2, zero = 0, axes0 = 0, m1 = -1;
    ob_initializer(b, "two", 0, NULL, &two, 'f');
    ob_initializer(b, "idx0", 0, NULL, &zero, 'i');
    const int64_t one[1] = {1};
    ob_initializer(b, "axes0", 1, one, &axes0, 'i');
    ob_node(b, "Sub", "sub", 2, "x", "mean");
    ob_node(b, "Div", "nrm", 2, "sub", "std");
    n = ob_node(b, "Conv", "c1", 3, "nrm", "W1", "B1");
    const int64_t k5[2] = {5, 5}, s2[2] = {2, 2}, p1[4] = {1, 1, 1, 1}, k3[2] = {3, 3},
                  s1[2] = {1, 1};
    ob_attr_ints(b, n, "kernel_shape", 2, k5);
    ob_attr_ints(b, n, "strides", 2, s2);
    ob_attr_ints(b, n, "pads", 4, p1);
    ob_node(b, "Mul", "sq1", 2, "c1", "c1");
    n = ob_node(b, "AveragePool", "p1", 1, "sq1");
    ob_attr_ints(b, n, "kernel_shape", 2, k3);
    ob_attr_ints(b, n, "strides", 2, s1);
    ob_attr_ints(b, n, "pads", 4, p1);
    ob_attr_i(b, n, "count_include_pad", 1);
    ob_node(b, "Shape", "shp", 1, "p1");
    ob_node(b, "Gather", "g0", 2, "shp", "idx0");
    ob_node(b, "Unsqueeze", "u0", 2, "g0", "axes0");
    n = ob_node(b, "Constant", "cm1", 0);
    ob_attr_t(b, n, "value", ob_tensor(b, "cm1", 1, one, &m1, 'i'));
    n = ob_node(b, "Concat", "cat", 2, "u0", "cm1");
    ob_attr_i(b, n, "axis", 0);
    ob_node(b, "Reshape", "flat", 2, "p1", "cat");
    n = ob_node(b, "Gemm", "f1", 3, "flat", "W2", "B2");
    ob_attr_i(b, n, "transB", 1);
    ob_node(b, "Pow", "sq2", 2, "f1", "two");
    n = ob_node(b, "Gemm", "f2", 3, "sq2", "W3", "B3");
    ob_attr_f(b, n, "alpha", 1);
    ob_attr_f(b, n, "beta", 1);
    if (softmax) {
        n = ob_node(b, "Softmax", "prob", 1, "f2");
        ob_attr_i(b, n, "axis", 1);
    }
    ob_output(b, softmax ? "prob" : "f2");
}

/* A small network of the other supported pieces: input (N, 2, 6, 6); Conv 3x3 with
 * asymmetric pads (0, 1, 1, 0) and 3 maps; BatchNormalization; the activation
 * a*x*x + b*x + c written as exporters do (Mul, Mul, Mul, Add, Add); GlobalAveragePool;
 * Flatten; MatMul and Add (4 outputs). */
typedef struct {
    double w1[3 * 2 * 9], b1[3], bn[4][3], poly[3], w2[3 * 4], b2[4];
} ob_small_t;

static inline void ob_small_weights(ob_small_t *c)
{
    for (int i = 0; i < 54; i++)
        c->w1[i] = ob_f32(((i * 17) % 13 - 6) / 10.0);
    for (int i = 0; i < 3; i++) {
        c->b1[i] = ob_f32(i * 0.25 - 0.3);
        c->bn[0][i] = ob_f32(1.0 + i * 0.5);  /* scale */
        c->bn[1][i] = ob_f32(0.1 * i - 0.05); /* bias */
        c->bn[2][i] = ob_f32(0.3 - 0.2 * i);  /* mean */
        c->bn[3][i] = ob_f32(0.5 + i);        /* variance */
    }
    c->poly[0] = 0.125, c->poly[1] = 0.5, c->poly[2] = 0.25;
    for (int i = 0; i < 12; i++)
        c->w2[i] = ob_f32((i % 5 - 2) / 3.0);
    for (int i = 0; i < 4; i++)
        c->b2[i] = ob_f32(i * 0.1);
}

static inline void ob_small(ob_t *b, const ob_small_t *c)
{
    ob_init(b, 11);
    const int64_t in[4] = {-1, 2, 6, 6}, dw[4] = {3, 2, 3, 3}, d3[1] = {3}, d34[2] = {3, 4},
                  d4[1] = {4};
    ob_input(b, "x", 4, in);
    ob_initializer(b, "W", 4, dw, c->w1, 'r');
    ob_initializer(b, "B", 1, d3, c->b1, 'd');
    ob_initializer(b, "s", 1, d3, c->bn[0], 'f');
    ob_initializer(b, "bb", 1, d3, c->bn[1], 'f');
    ob_initializer(b, "m", 1, d3, c->bn[2], 'D');
    ob_initializer(b, "v", 1, d3, c->bn[3], 'f');
    ob_initializer(b, "a", 0, NULL, &c->poly[0], 'f');
    ob_initializer(b, "pb", 0, NULL, &c->poly[1], 'f');
    ob_initializer(b, "pc", 0, NULL, &c->poly[2], 'f');
    ob_initializer(b, "W2", 2, d34, c->w2, 'f');
    ob_initializer(b, "B2", 1, d4, c->b2, 'f');
    Onnx__NodeProto *n = ob_node(b, "Conv", "c", 3, "x", "W", "B");
    const int64_t pads[4] = {0, 1, 1, 0};
    ob_attr_ints(b, n, "pads", 4, pads);
    n = ob_node(b, "BatchNormalization", "bn", 5, "c", "s", "bb", "m", "v");
    ob_attr_f(b, n, "epsilon", 1e-3f);
    ob_node(b, "Mul", "ax", 2, "bn", "a");
    ob_node(b, "Mul", "axx", 2, "ax", "bn");
    ob_node(b, "Mul", "bx", 2, "pb", "bn");
    ob_node(b, "Add", "q1", 2, "axx", "bx");
    ob_node(b, "Add", "q", 2, "q1", "pc");
    ob_node(b, "GlobalAveragePool", "gp", 1, "q");
    ob_node(b, "Flatten", "fl", 1, "gp");
    ob_node(b, "MatMul", "mm", 2, "fl", "W2");
    ob_node(b, "Add", "y", 2, "mm", "B2");
    ob_output(b, "y");
}

#endif
