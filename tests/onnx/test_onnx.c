/* ONNX import (net/onnx, docs/onnx.md) and the poly layer.
 *
 * 1. The ONNX project's backend test suite as Debian's libonnx-testdata ships it
 *    (/usr/share/libonnx-testdata/data: node/ and pytorch-converted/ cases, each a
 *    model.onnx with test_data_set_*: input_*.pb, output_*.pb). Those outputs come from
 *    the ONNX reference implementation and PyTorch, not from this code. Every case is
 *    loaded; an accepted one must reproduce every expected output with cn_model_forward,
 *    a refused one must say why. Inputs after the first (weights the node tests pass as
 *    inputs) are bound as initializers of the same name, which ONNX defines as the
 *    inputs' values. CN_ONNX_REPORT=1 prints the per-category table of docs/onnx.md.
 * 2. Hand-built models (written with protobuf-c here), each checked against a direct
 *    computation written in this file from the ONNX operator definitions: each
 *    supported operator and folding rule, each refusal, the CryptoNets-shaped network.
 * 3. The poly layer of the model API and model files. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/cryptonets.h"
#include CN_ONNX_PB_H

#define TESTDATA "/usr/share/libonnx-testdata/data"

/* --- small arena for protobuf-c messages built or unpacked here ----------------------- */

typedef struct {
    void *p[4096];
    size_t n;
} arena_t;

static __attribute__((unused)) void *az(arena_t *a, size_t size)
{
    ck_assert_uint_lt(a->n, 4096);
    void *p = calloc(1, size ? size : 1);
    ck_assert_ptr_nonnull(p);
    a->p[a->n++] = p;
    return p;
}

static __attribute__((unused)) char *astr(arena_t *a, const char *s)
{
    char *d = az(a, strlen(s) + 1);
    strcpy(d, s);
    return d;
}

static __attribute__((unused)) void arena_free(arena_t *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->p[i]);
    a->n = 0;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    const long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* A TensorProto's values as doubles (float, double, integer types; raw or typed); NULL
 * for other types. Written from onnx.proto's comments (independent of net/onnx). */
static double *tensor_values(const Onnx__TensorProto *t, size_t *n)
{
    size_t cnt = 1;
    for (size_t i = 0; i < t->n_dims; i++)
        cnt *= (size_t)t->dims[i];
    *n = cnt;
    const uint8_t *r = t->has_raw_data ? t->raw_data.data : NULL;
    const size_t es = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ? 4 : 8;
    const size_t typed = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ? t->n_float_data
                         : t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE
                             ? t->n_double_data
                             : t->n_int64_data;
    if (t->n_dims > 8 || (r ? t->raw_data.len != cnt * es : typed != cnt))
        return NULL; /* not a plain tensor (a sequence, a map, another type) */
    double *v = malloc((cnt ? cnt : 1) * sizeof *v);
    for (size_t i = 0; i < cnt; i++) {
        switch (t->data_type) {
        case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: {
            float f;
            if (r)
                memcpy(&f, r + 4 * i, 4);
            else
                f = t->float_data[i];
            v[i] = f;
            break;
        }
        case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
            if (r)
                memcpy(&v[i], r + 8 * i, 8);
            else
                v[i] = t->double_data[i];
            break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: {
            int64_t x;
            if (r)
                memcpy(&x, r + 8 * i, 8);
            else
                x = t->int64_data[i];
            v[i] = (double)x;
            break;
        }
        default:
            free(v);
            return NULL;
        }
    }
    return v;
}

/* --- 1. the ONNX backend test suite --------------------------------------------------- */

typedef struct {
    int cases, passed, refused, outputs_checked;
    char cats[32][160];
    int catn[32];
    size_t ncat;
    char passed_names[400][64];
} tally_t;

/* the refusal's category: the part of the diag after the node name, cut at ':' */
static void tally_refusal(tally_t *t, const char *msg)
{
    char cat[160];
    const char *p = strstr(msg, "operator ");
    if (p && strstr(p, " is not supported")) {
        snprintf(cat, sizeof cat, "operator not supported");
    } else if (strstr(msg, "opset")) {
        snprintf(cat, sizeof cat, "opset out of range");
    } else if (strstr(msg, "element type")) {
        snprintf(cat, sizeof cat, "element type (not float32/float64)");
    } else if (strstr(msg, "outputs: the network must have one")) {
        snprintf(cat, sizeof cat, "several graph outputs");
    } else if (strstr(msg, "supported on constants only")) {
        snprintf(cat, sizeof cat,
                 "operator on the data path supported on constants only "
                 "(Transpose, Concat, Gather)");
    } else if (strstr(msg, "chain") || strstr(msg, "two inputs")) {
        snprintf(cat, sizeof cat, "not a chain (two data inputs to a node, branches)");
    } else if (strstr(msg, "not a tensor of known shape")) {
        snprintf(cat, sizeof cat, "input not a tensor (sequence, optional) or no shape");
    } else if (strstr(msg, "rank") || strstr(msg, "2-D")) {
        snprintf(cat, sizeof cat,
                 "rank (1-D, 3-D or 5-D+ data; not (N,C,H,W), (N,H,W), (N,K))");
    } else if (strstr(msg, "differs along the batch") || strstr(msg, "batch dimension") ||
               strstr(msg, "the batch axis") || strstr(msg, "per-row biases")) {
        snprintf(cat, sizeof cat,
                 "mixes samples of the batch (per-sample constants, "
                 "reshapes or flattens across the batch axis)");
    } else if (strstr(msg, "dynamic")) {
        snprintf(cat, sizeof cat, "dynamic shape");
    } else if (strstr(msg, "does not depend on the input")) {
        snprintf(cat, sizeof cat, "output does not depend on the input (shape, constant)");
    } else if (strstr(msg, "group") || strstr(msg, "dilation") || strstr(msg, "transA") ||
               strstr(msg, "ceil_mode") || strstr(msg, "exponent") ||
               strstr(msg, "training mode") || strstr(msg, "a cast of the data path") ||
               strstr(msg, "only (N, K)")) {
        snprintf(cat, sizeof cat,
                 "unsupported attribute or operand (group, dilation, transA, "
                 "ceil_mode, exponent, training mode, cast, batched MatMul)");
    } else {
        const char *c = strstr(msg, "): ");
        snprintf(cat, sizeof cat, "%s", c ? c + 3 : msg);
        char *colon = strpbrk(cat, ":;");
        if (colon)
            *colon = 0;
    }
    for (size_t i = 0; i < t->ncat; i++)
        if (strcmp(t->cats[i], cat) == 0) {
            t->catn[i]++;
            return;
        }
    if (t->ncat < 32) {
        snprintf(t->cats[t->ncat], sizeof t->cats[0], "%s", cat);
        t->catn[t->ncat++] = 1;
    }
}

/* Rebinds graph inputs 1.. to the tensors of data set dir (as initializers); packs. */
static uint8_t *bind_inputs(const uint8_t *model, size_t mlen, const char *dir, size_t *len,
                            const Onnx__ValueInfoProto **data_in, int *nout)
{
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, mlen, model);
    ck_assert_ptr_nonnull(mp);
    Onnx__GraphProto *g = mp->graph;
    *nout = g ? (int)g->n_output : 0;
    Onnx__TensorProto **extra = calloc(g ? g->n_input + 1 : 1, sizeof *extra);
    size_t nextra = 0, k = 0;
    for (size_t i = 0; g && i < g->n_input; i++) {
        int init = 0;
        for (size_t j = 0; j < g->n_initializer; j++)
            if (strcmp(g->initializer[j]->name, g->input[i]->name) == 0)
                init = 1;
        if (init)
            continue;
        if (k++ == 0) {
            *data_in = g->input[i];
            continue;
        }
        char path[1400];
        snprintf(path, sizeof path, "%s/input_%zu.pb", dir, k - 1);
        size_t tl;
        uint8_t *tb = read_file(path, &tl);
        if (!tb)
            continue;
        Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, tl, tb);
        free(tb);
        if (!t)
            continue;
        free(t->name);
        t->name = strdup(g->input[i]->name);
        extra[nextra++] = t;
    }
    /* pack with the extra initializers appended (the message keeps its own arrays) */
    Onnx__TensorProto **all = calloc(g ? g->n_initializer + nextra + 1 : 1, sizeof *all);
    Onnx__TensorProto **old = g ? g->initializer : NULL;
    const size_t nold = g ? g->n_initializer : 0;
    if (g) {
        if (nold)
            memcpy(all, old, nold * sizeof *all);
        if (nextra)
            memcpy(all + nold, extra, nextra * sizeof *all);
        g->initializer = all;
        g->n_initializer = nold + nextra;
    }
    *len = onnx__model_proto__get_packed_size(mp);
    uint8_t *out = malloc(*len ? *len : 1);
    onnx__model_proto__pack(mp, out);
    if (g) {
        g->initializer = old;
        g->n_initializer = nold;
    }
    free(all);
    for (size_t i = 0; i < nextra; i++)
        onnx__tensor_proto__free_unpacked(extra[i], NULL);
    free(extra);
    /* data_in points into mp: copy what the caller needs before freeing */
    static Onnx__ValueInfoProto keep;
    if (*data_in) {
        keep = **data_in;
        *data_in = &keep;
    }
    onnx__model_proto__free_unpacked(mp, NULL);
    return out;
}

/* The smallest k with every x * 2^k an integer (|x * 2^k| <= 2^40), or -1. */
static int exact_shift(const double *x, size_t n)
{
    for (int k = 0; k <= 60; k++) {
        int ok = 1;
        for (size_t i = 0; i < n && ok; i++) {
            const double y = ldexp(x[i], k);
            ok = y == floor(y) && fabs(y) <= ldexp(1, 40);
        }
        if (ok)
            return k;
    }
    return -1;
}

/* Runs one case directory; 1 when it was accepted and matched. */
static void run_case(tally_t *t, const char *dir, const char *name)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    size_t mlen;
    uint8_t *model = read_file(path, &mlen);
    if (!model)
        return;
    t->cases++;
    int accepted = -1, ok = 1;
    for (int set = 0; set < 8; set++) {
        char sdir[1200];
        snprintf(sdir, sizeof sdir, "%s/test_data_set_%d", dir, set);
        char ipath[1300], opath[1300];
        snprintf(ipath, sizeof ipath, "%s/input_0.pb", sdir);
        snprintf(opath, sizeof opath, "%s/output_0.pb", sdir);
        size_t il, ol;
        uint8_t *ib = read_file(ipath, &il);
        uint8_t *ob = ib ? read_file(opath, &ol) : NULL;
        if (!ib || !ob) {
            free(ib);
            if (set == 0)
                accepted = -2; /* a case without data: counted as refused below */
            break;
        }
        Onnx__TensorProto *it = onnx__tensor_proto__unpack(NULL, il, ib);
        Onnx__TensorProto *ot = onnx__tensor_proto__unpack(NULL, ol, ob);
        free(ib);
        free(ob);
        size_t ni = 0, no = 0;
        double *x = it ? tensor_values(it, &ni) : NULL;
        double *y = ot ? tensor_values(ot, &no) : NULL;
        size_t blen;
        const Onnx__ValueInfoProto *din = NULL;
        int nout;
        uint8_t *bytes = bind_inputs(model, mlen, sdir, &blen, &din, &nout);
        int finite = 1;
        for (size_t i = 0; x && i < ni; i++)
            finite &= isfinite(x[i]) != 0;
        /* the raw integer inputs: x * 2^k exactly where possible */
        int k = x && finite ? exact_shift(x, ni) : 0;
        double xmax = 1;
        for (size_t i = 0; x && finite && i < ni; i++)
            xmax = fmax(xmax, fabs(x[i]));
        if (k < 0) /* not exactly representable: round at 2^40 / max */
            k = 40 - (int)ceil(log2(xmax)) - 1;
        cn_onnx_opts_t opts = {.input_min = -((int64_t)1 << 40),
                               .input_max = (int64_t)1 << 40,
                               .input_scale = ldexp(1, -k)};
        cn_model_t m;
        cn_net_diag_t d = {{0}};
        cn_status st = cn_model_from_onnx_bytes(&m, bytes, blen, &opts, &d);
        free(bytes);
        if (st != CN_OK) {
            ck_assert_msg(d.msg[0] != 0, "%s: refused (%s) without a reason", name,
                          cn_strerror(st));
            if (set == 0) {
                accepted = 0;
                tally_refusal(t, d.msg);
                if (getenv("CN_ONNX_REPORT"))
                    fprintf(stderr, "onnx testdata: %s refused: %s\n", name, d.msg);
            }
        } else if (!finite) {
            /* NaN or infinite inputs are no raw integers: the case cannot be run */
            if (set == 0) {
                accepted = 0;
                tally_refusal(t, "accepted, but the test inputs are NaN or infinite");
            }
            cn_model_clear(&m);
        } else {
            ck_assert_msg(x && y, "%s: accepted but its tensors are not float", name);
            accepted = 1;
            const size_t nin = cn_model_inputs(&m), nmo = cn_model_outputs(&m);
            ck_assert_msg(nin && ni % nin == 0 && no == ni / nin * nmo,
                          "%s: %zu inputs and %zu outputs per sample; the data has %zu and "
                          "%zu values",
                          name, nin, nmo, ni, no);
            const size_t batch = ni / nin;
            int64_t *raw = malloc(nin * sizeof *raw);
            double *got = malloc(nmo * sizeof *got);
            for (size_t b = 0; b < batch; b++) {
                for (size_t i = 0; i < nin; i++)
                    raw[i] = (int64_t)llround(ldexp(x[b * nin + i], k));
                ck_assert_int_eq(cn_model_forward(got, &m, raw), CN_OK);
                for (size_t j = 0; j < nmo; j++) {
                    /* float32 reference outputs: relative 1e-3, absolute 1e-4 */
                    const double e = y[b * nmo + j];
                    if (!(fabs(got[j] - e) <= 1e-4 + 1e-3 * fabs(e))) {
                        if (ok)
                            fprintf(stderr,
                                    "onnx testdata: %s set %d sample %zu output %zu: "
                                    "%.9g, expected %.9g\n",
                                    name, set, b, j, got[j], e);
                        ok = 0;
                    }
                    t->outputs_checked++;
                }
            }
            free(raw);
            free(got);
            cn_model_clear(&m);
        }
        free(x);
        free(y);
        if (it)
            onnx__tensor_proto__free_unpacked(it, NULL);
        if (ot)
            onnx__tensor_proto__free_unpacked(ot, NULL);
        if (accepted <= 0)
            break;
    }
    free(model);
    if (accepted == 1) {
        ck_assert_msg(ok, "%s: accepted but an output differs", name);
        if (t->passed < 400)
            snprintf(t->passed_names[t->passed], 64, "%s", name);
        t->passed++;
    } else {
        t->refused++;
        if (accepted == -2)
            tally_refusal(t, "no test data");
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_suite_dir(tally_t *t, const char *sub)
{
    char base[300];
    snprintf(base, sizeof base, "%s/%s", TESTDATA, sub);
    DIR *d = opendir(base);
    ck_assert_msg(d != NULL, "%s: missing (scripts/setup.sh installs libonnx-testdata)", base);
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        names = realloc(names, (n + 1) * sizeof *names);
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%.700s", base, names[i]);
        run_case(t, dir, names[i]);
        free(names[i]);
    }
    free(names);
}

static int passed(const tally_t *t, const char *name)
{
    for (int i = 0; i < t->passed && i < 400; i++)
        if (strcmp(t->passed_names[i], name) == 0)
            return 1;
    return 0;
}

static void report(const char *sub, const tally_t *t)
{
    if (!getenv("CN_ONNX_REPORT"))
        return;
    fprintf(stderr, "\n%s: %d cases, %d accepted and passed (%d outputs), %d refused\n", sub,
            t->cases, t->passed, t->outputs_checked, t->refused);
    fprintf(stderr, "| reason for refusal | cases |\n| --- | --- |\n");
    for (size_t i = 0; i < t->ncat; i++)
        fprintf(stderr, "| %s | %d |\n", t->cats[i], t->catn[i]);
    fprintf(stderr, "passed:");
    for (int i = 0; i < t->passed && i < 400; i++)
        fprintf(stderr, " %s", t->passed_names[i]);
    fprintf(stderr, "\n");
}

START_TEST(test_onnx_testdata_node)
{
    static tally_t t;
    memset(&t, 0, sizeof t);
    run_suite_dir(&t, "node");
    report("node", &t);
    /* the supported operators' own cases must be accepted (and so matched) */
    static const char *const must[] = {"test_conv_with_strides_padding",
                                       "test_conv_with_strides_no_padding",
                                       "test_conv_with_strides_and_asymmetric_padding",
                                       "test_basic_conv_with_padding",
                                       "test_basic_conv_without_padding",
                                       "test_conv_with_autopad_same",
                                       "test_gemm_default_vector_bias",
                                       "test_gemm_transposeB",
                                       "test_gemm_alpha",
                                       "test_gemm_beta",
                                       "test_matmul_2d",
                                       "test_averagepool_2d_default",
                                       "test_averagepool_2d_pads",
                                       "test_averagepool_2d_pads_count_include_pad",
                                       "test_averagepool_2d_same_upper",
                                       "test_averagepool_2d_same_lower",
                                       "test_averagepool_2d_strides",
                                       "test_globalaveragepool",
                                       "test_batchnorm_example",
                                       "test_batchnorm_epsilon",
                                       "test_flatten_axis1",
                                       "test_reshape_reordered_last_dims",
                                       "test_add_bcast",
                                       "test_sub_bcast",
                                       "test_mul_bcast",
                                       "test_div_bcast",
                                       "test_pow_bcast_scalar",
                                       "test_identity",
                                       "test_neg",
                                       "test_dropout_default",
                                       "test_unsqueeze_axis_1",
                                       NULL};
    for (int i = 0; must[i]; i++)
        ck_assert_msg(passed(&t, must[i]), "%s was not accepted", must[i]);
    ck_assert_int_eq(t.passed + t.refused, t.cases);
}
END_TEST

START_TEST(test_onnx_testdata_pytorch)
{
    static tally_t t;
    memset(&t, 0, sizeof t);
    run_suite_dir(&t, "pytorch-converted");
    report("pytorch-converted", &t);
    static const char *const must[] = {"test_Conv2d",           "test_Conv2d_padding",
                                       "test_Conv2d_strided",   "test_Conv2d_no_bias",
                                       "test_Linear",           "test_Linear_no_bias",
                                       "test_AvgPool2d",        "test_AvgPool2d_stride",
                                       "test_BatchNorm2d_eval", NULL};
    for (int i = 0; must[i]; i++)
        ck_assert_msg(passed(&t, must[i]), "%s was not accepted", must[i]);
    ck_assert_int_eq(t.passed + t.refused, t.cases);
}
END_TEST

CN_SUITE(onnx_testdata)
{
    Suite *s = suite_create("onnx_testdata");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_onnx_testdata_node);
    tcase_add_test(tc, test_onnx_testdata_pytorch);
    suite_add_tcase(s, tc);
    return s;
}
