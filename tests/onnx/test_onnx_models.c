/* Hand-built ONNX models (tests/onnx/onnx_build.h, protobuf-c): each imported model's
 * float forward pass is compared with a direct computation of the ONNX graph written
 * here from the operator definitions (Operators.md: Conv, AveragePool, Gemm,
 * BatchNormalization, ...), on the float32 weights the file holds; each refusal is
 * checked for its status and for a diag naming the node, its operator and what to do.
 * Also the poly layer of the model API, the model files and the compiler's refusal. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/cryptonets.h"
#include "onnx/onnx_build.h"

/* --- the reference: the operators computed directly ----------------------------------- */

/* Conv (group 1, dilation 1): x (C, H, W), w (M, C, kh, kw), pads top, left, bottom,
 * right; out (M, oh, ow) */
static void ref_conv(double *out, const double *x, size_t C, size_t H, size_t W,
                     const double *w, const double *b, size_t M, size_t kh, size_t kw,
                     size_t sh, size_t sw, const size_t pads[4], size_t *oh, size_t *ow)
{
    *oh = (H + pads[0] + pads[2] - kh) / sh + 1;
    *ow = (W + pads[1] + pads[3] - kw) / sw + 1;
    for (size_t m = 0; m < M; m++)
        for (size_t i = 0; i < *oh; i++)
            for (size_t j = 0; j < *ow; j++) {
                double s = b ? b[m] : 0;
                for (size_t c = 0; c < C; c++)
                    for (size_t u = 0; u < kh; u++)
                        for (size_t v = 0; v < kw; v++) {
                            const long y = (long)(i * sh + u) - (long)pads[0];
                            const long z = (long)(j * sw + v) - (long)pads[1];
                            if (y < 0 || z < 0 || y >= (long)H || z >= (long)W)
                                continue;
                            s += w[((m * C + c) * kh + u) * kw + v] * x[(c * H + y) * W + z];
                        }
                out[(m * *oh + i) * *ow + j] = s;
            }
}

/* AveragePool: the mean over the window, the divisor counting padding or not */
static void ref_avgpool(double *out, const double *x, size_t C, size_t H, size_t W, size_t k,
                        size_t s, size_t pad, int include_pad, size_t *oh)
{
    *oh = (H + 2 * pad - k) / s + 1;
    const size_t ow = (W + 2 * pad - k) / s + 1;
    for (size_t c = 0; c < C; c++)
        for (size_t i = 0; i < *oh; i++)
            for (size_t j = 0; j < ow; j++) {
                double sum = 0;
                size_t cnt = 0;
                for (size_t u = 0; u < k; u++)
                    for (size_t v = 0; v < k; v++) {
                        const long y = (long)(i * s + u) - (long)pad;
                        const long z = (long)(j * s + v) - (long)pad;
                        if (y < 0 || z < 0 || y >= (long)H || z >= (long)W)
                            continue;
                        sum += x[(c * H + y) * W + z];
                        cnt++;
                    }
                out[(c * *oh + i) * ow + j] = sum / (double)(include_pad ? k * k : cnt);
            }
}

/* y = W x + b with W (M, K) (Gemm transB = 1) or (K, M) (transB = 0, MatMul) */
static void ref_gemm(double *y, const double *x, size_t K, const double *w, const double *b,
                     size_t M, int transb)
{
    for (size_t m = 0; m < M; m++) {
        double s = b ? b[m] : 0;
        for (size_t k = 0; k < K; k++)
            s += (transb ? w[m * K + k] : w[k * M + m]) * x[k];
        y[m] = s;
    }
}

static void ref_cnet(double *out, const ob_cnet_t *c, const int64_t *raw)
{
    static double x[784], c1[845], p1[845], f1[100];
    for (int i = 0; i < 784; i++)
        x[i] = ((double)raw[i] / 255 - c->mean) / c->std;
    const size_t pads[4] = {1, 1, 1, 1};
    size_t oh, ow;
    ref_conv(c1, x, 1, 28, 28, c->w1, c->b1, 5, 5, 5, 2, 2, pads, &oh, &ow);
    ck_assert_uint_eq(oh * ow, 169);
    for (int i = 0; i < 845; i++)
        c1[i] *= c1[i];
    ref_avgpool(p1, c1, 5, 13, 13, 3, 1, 1, 1, &oh);
    ref_gemm(f1, p1, 845, c->w2, c->b2, 100, 1);
    for (int i = 0; i < 100; i++)
        f1[i] *= f1[i];
    ref_gemm(out, f1, 100, c->w3, c->b3, 10, 0);
}

static void ref_small(double *out, const ob_small_t *c, const double *x)
{
    double y[3 * 36];
    const size_t pads[4] = {0, 1, 1, 0};
    size_t oh, ow;
    ref_conv(y, x, 2, 6, 6, c->w1, c->b1, 3, 3, 3, 1, 1, pads, &oh, &ow);
    ck_assert_uint_eq(oh * ow, 25);
    double g[3];
    for (int k = 0; k < 3; k++) {
        g[k] = 0;
        for (int i = 0; i < 25; i++) {
            double v = y[k * 25 + i];
            v = c->bn[0][k] * (v - c->bn[2][k]) / sqrt(c->bn[3][k] + (double)1e-3f) +
                c->bn[1][k];
            g[k] += c->poly[0] * v * v + c->poly[1] * v + c->poly[2];
        }
        g[k] /= 25;
    }
    ref_gemm(out, g, 3, c->w2, c->b2, 4, 0);
}

static void assert_close(const double *got, const double *want, size_t n, double tol,
                         const char *what)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs(got[i] - want[i]) <= tol * (1 + fabs(want[i])),
                      "%s: output %zu is %.12g, expected %.12g", what, i, got[i], want[i]);
}

static cn_status import(cn_model_t *m, ob_t *b, const cn_onnx_opts_t *o, cn_net_diag_t *d)
{
    size_t len;
    uint8_t *buf = ob_pack(b, &len);
    const cn_status st = cn_model_from_onnx_bytes(m, buf, len, o, d);
    free(buf);
    return st;
}

/* --- supported models ------------------------------------------------------------------ */

START_TEST(test_onnx_cryptonets)
{
    static ob_cnet_t c;
    ob_cnet_weights(&c);
    for (int softmax = 0; softmax < 2; softmax++) {
        ob_t b;
        ob_cnet(&b, &c, softmax);
        cn_model_t m;
        cn_net_diag_t d;
        const cn_onnx_opts_t drop = {.drop_final_softmax = 1};
        ck_assert_msg(import(&m, &b, softmax ? &drop : NULL, &d) == CN_OK, "%s", d.msg);
        if (softmax)
            ck_assert_msg(strstr(d.msg, "note") && strstr(d.msg, "Softmax"), "%s", d.msg);
        else
            ck_assert_str_eq(d.msg, "");
        /* defaults: 8-bit pixels, raw / 255 */
        ck_assert_int_eq(m.input_min, 0);
        ck_assert_int_eq(m.input_max, 255);
        ck_assert(fabs(m.input_scale - 1.0 / 255) < 1e-18);
        ck_assert_uint_eq(cn_model_inputs(&m), 784);
        ck_assert_uint_eq(cn_model_outputs(&m), 10);
        /* the layers: the normalization (its shift meets the zero padding of the
         * convolution, so it stays a 1x1 conv2d of its own), conv2d, square, the pool
         * (padding counted: a conv2d), flatten, dense, square, dense */
        static const cn_layer_kind kinds[] = {
            CN_LAYER_CONV2D,  CN_LAYER_CONV2D, CN_LAYER_SQUARE, CN_LAYER_CONV2D,
            CN_LAYER_FLATTEN, CN_LAYER_DENSE,  CN_LAYER_SQUARE, CN_LAYER_DENSE};
        ck_assert_uint_eq(m.nlayers, 8);
        for (size_t i = 0; i < 8; i++)
            ck_assert_int_eq(m.layers[i].kind, kinds[i]);
        ck_assert_uint_eq(m.layers[0].kh, 1);
        ck_assert_uint_eq(m.layers[1].pad, 1);
        cn_test_rng_t r;
        cn_test_rng_init(&r, cn_test_seed() ^ 0x0e1);
        int64_t raw[784];
        double got[10], want[10];
        for (int it = 0; it < 4; it++) {
            for (int i = 0; i < 784; i++)
                raw[i] = (int64_t)cn_test_rng_below(&r, 256);
            ck_assert_int_eq(cn_model_forward(got, &m, raw), CN_OK);
            ref_cnet(want, &c, raw);
            assert_close(got, want, 10, 1e-9, "cryptonets");
        }
        if (!softmax) {
            /* it compiles (square activations only), and the plan's integer network
             * predicts as the float network: the outputs through the output scale agree
             * up to quantization */
            cn_plan_t *plan;
            const cn_compile_opts_t co = {.weight_bits = 6};
            ck_assert_msg(cn_plan_compile(&plan, &m, &co, &d) == CN_OK, "%s", d.msg);
            cn_int128 io[10];
            ck_assert_int_eq(cn_plan_eval_plain(io, plan, raw, 1), CN_OK);
            ck_assert_int_eq(cn_model_forward(got, &m, raw), CN_OK);
            const double sc = cn_plan_output_scale(plan);
            double top = 0;
            for (int i = 0; i < 10; i++)
                top = fmax(top, fabs(got[i]));
            for (int i = 0; i < 10; i++)
                ck_assert_msg(fabs((double)io[i] / sc - got[i]) <= 0.01 * top,
                              "output %d: plan %g, float %g", i, (double)io[i] / sc, got[i]);
            cn_plan_free(plan);
        }
        cn_model_clear(&m);
        /* refused by default, with the way out named */
        if (softmax) {
            ck_assert_int_eq(import(&m, &b, NULL, &d), CN_ERR_UNSUPPORTED);
            ck_assert_msg(strstr(d.msg, "prob") && strstr(d.msg, "(Softmax)") &&
                              strstr(d.msg, "drop_final_softmax"),
                          "%s", d.msg);
        }
        ob_free(&b);
    }
}
END_TEST

/* Without padding the normalization's shift folds into the convolution's bias and its
 * scale into the input scale: the model keeps a conv2d layer. */
START_TEST(test_onnx_fold_normalization)
{
    ob_t b;
    ob_init(&b, 13);
    const int64_t in[4] = {-1, 1, 8, 8}, dw[4] = {2, 1, 3, 3}, d2[1] = {2};
    ob_input(&b, "x", 4, in);
    double w[18], bias[2] = {0.5, -0.25}, mean = 0.5, inv = 4;
    for (int i = 0; i < 18; i++)
        w[i] = (i % 5 - 2) * 0.25;
    ob_initializer(&b, "W", 4, dw, w, 'f');
    ob_initializer(&b, "B", 1, d2, bias, 'f');
    ob_initializer(&b, "mean", 0, NULL, &mean, 'f');
    ob_initializer(&b, "inv", 0, NULL, &inv, 'f');
    ob_node(&b, "Sub", "s", 2, "x", "mean");
    ob_node(&b, "Mul", "n", 2, "s", "inv");
    ob_node(&b, "Conv", "y", 3, "n", "W", "B");
    ob_output(&b, "y");
    cn_model_t m;
    cn_net_diag_t d;
    const cn_onnx_opts_t o = {.input_min = 0, .input_max = 15, .input_scale = 1.0 / 16};
    ck_assert_msg(import(&m, &b, &o, &d) == CN_OK, "%s", d.msg);
    ck_assert_uint_eq(m.nlayers, 1);
    ck_assert_int_eq(m.layers[0].kind, CN_LAYER_CONV2D);
    int64_t raw[64];
    double x[64], got[72], want[72];
    for (int i = 0; i < 64; i++) {
        raw[i] = (i * 7) % 16;
        x[i] = ((double)raw[i] / 16 - mean) * inv;
    }
    const size_t pads[4] = {0, 0, 0, 0};
    size_t oh, ow;
    ref_conv(want, x, 1, 8, 8, w, bias, 2, 3, 3, 1, 1, pads, &oh, &ow);
    ck_assert_int_eq(cn_model_forward(got, &m, raw), CN_OK);
    assert_close(got, want, 72, 1e-12, "normalized conv");
    cn_model_clear(&m);
    ob_free(&b);
}
END_TEST

/* Conv with asymmetric pads, BatchNormalization and a*x^2 + b*x + c from Mul/Add nodes,
 * GlobalAveragePool, Flatten, MatMul + Add: a poly layer, BN folded. */
START_TEST(test_onnx_poly_bn)
{
    static ob_small_t c;
    ob_small_weights(&c);
    ob_t b;
    ob_small(&b, &c);
    cn_model_t m;
    cn_net_diag_t d;
    const cn_onnx_opts_t o = {.input_min = -8, .input_max = 8, .input_scale = 0.125};
    ck_assert_msg(import(&m, &b, &o, &d) == CN_OK, "%s", d.msg);
    int npoly = 0;
    for (size_t i = 0; i < m.nlayers; i++)
        npoly += m.layers[i].kind == CN_LAYER_POLY;
    ck_assert_int_eq(npoly, 1);
    ck_assert_uint_eq(cn_model_outputs(&m), 4);
    cn_test_rng_t r;
    cn_test_rng_init(&r, cn_test_seed() ^ 0x0e2);
    for (int it = 0; it < 8; it++) {
        int64_t raw[72];
        double x[72], got[4], want[4];
        for (int i = 0; i < 72; i++) {
            raw[i] = (int64_t)cn_test_rng_below(&r, 17) - 8;
            x[i] = (double)raw[i] * 0.125;
        }
        ck_assert_int_eq(cn_model_forward(got, &m, raw), CN_OK);
        ref_small(want, &c, x);
        assert_close(got, want, 4, 1e-9, "poly + batchnorm");
    }
    cn_model_clear(&m);
    ob_free(&b);
}
END_TEST

/* Each remaining operator form against its definition: Pow(x, 2) after Gemm with alpha
 * and beta, Identity, Dropout, Neg, Add of a constant before Gemm, AveragePool without
 * counting padding, auto_pad SAME_UPPER, a Constant node's tensor as weights. */
START_TEST(test_onnx_operators)
{
    ob_t b;
    ob_init(&b, 13);
    const int64_t in[4] = {-1, 1, 5, 5}, dw[4] = {2, 1, 2, 2}, dg[2] = {4, 8}, d4[1] = {4};
    ob_input(&b, "x", 4, in);
    double w[8] = {1, -0.5, 0.25, 2, -1, 0.75, 0.5, -0.25}, g[32], gb[4] = {1, 2, 3, 4};
    double shift = 0.5;
    for (int i = 0; i < 32; i++)
        g[i] = ((i * 5) % 7 - 3) * 0.125;
    Onnx__NodeProto *n = ob_node(&b, "Constant", "W", 0);
    ob_attr_t(&b, n, "value", ob_tensor(&b, "W", 4, dw, w, 'd'));
    ob_initializer(&b, "G", 2, dg, g, 'f');
    ob_initializer(&b, "GB", 1, d4, gb, 'f');
    ob_initializer(&b, "shift", 0, NULL, &shift, 'f');
    ob_node(&b, "Identity", "xi", 1, "x");
    n = ob_node(&b, "Conv", "c", 2, "xi", "W");
    ob_attr_s(&b, n, "auto_pad", "SAME_UPPER");
    const int64_t s2[2] = {2, 2}, k2[2] = {2, 2}, p1[4] = {1, 1, 1, 1};
    ob_attr_ints(&b, n, "strides", 2, s2);
    ob_node(&b, "Neg", "ng", 1, "c");
    n = ob_node(&b, "AveragePool", "ap", 1, "ng");
    ob_attr_ints(&b, n, "kernel_shape", 2, k2);
    ob_attr_ints(&b, n, "strides", 2, s2);
    ob_attr_ints(&b, n, "pads", 4, p1);
    ob_node(&b, "Dropout", "dr", 1, "ap");
    ob_node(&b, "Flatten", "fl", 1, "dr");
    ob_node(&b, "Add", "sh", 2, "fl", "shift");
    n = ob_node(&b, "Gemm", "gm", 3, "sh", "G", "GB");
    ob_attr_i(&b, n, "transB", 1);
    ob_attr_f(&b, n, "alpha", 0.5f);
    ob_attr_f(&b, n, "beta", 2.0f);
    ob_node(&b, "Pow", "y", 2, "gm", "two");
    const double two = 2;
    ob_initializer(&b, "two", 0, NULL, &two, 'r');
    ob_output(&b, "y");
    cn_model_t m;
    cn_net_diag_t d;
    const cn_onnx_opts_t o = {.input_min = -4, .input_max = 4, .input_scale = 0.25};
    ck_assert_msg(import(&m, &b, &o, &d) == CN_OK, "%s", d.msg);
    int64_t raw[25];
    double x[25], c[18], ap[8], got[4], want[4];
    for (int i = 0; i < 25; i++) {
        raw[i] = (i * 3) % 9 - 4;
        x[i] = (double)raw[i] * 0.25;
    }
    /* SAME_UPPER, stride 2, kernel 2 on 5: out 3, total padding 1, at the end */
    const size_t pads[4] = {0, 0, 1, 1};
    size_t oh, ow;
    ref_conv(c, x, 1, 5, 5, w, NULL, 2, 2, 2, 2, 2, pads, &oh, &ow);
    ck_assert_uint_eq(oh, 3);
    for (int i = 0; i < 18; i++)
        c[i] = -c[i];
    ref_avgpool(ap, c, 2, 3, 3, 2, 2, 1, 0, &oh);
    ck_assert_uint_eq(oh, 2);
    for (int i = 0; i < 8; i++)
        ap[i] += shift;
    double gbs[4];
    for (int i = 0; i < 4; i++)
        gbs[i] = 2 * gb[i];
    double gs[32];
    for (int i = 0; i < 32; i++)
        gs[i] = 0.5 * (double)(float)g[i];
    ref_gemm(want, ap, 8, gs, gbs, 4, 1);
    for (int i = 0; i < 4; i++)
        want[i] *= want[i];
    ck_assert_int_eq(cn_model_forward(got, &m, raw), CN_OK);
    assert_close(got, want, 4, 1e-12, "operators");
    cn_model_clear(&m);
    ob_free(&b);
}
END_TEST

/* Activations whose coefficients differ per element (completing the square: an affine
 * map, a square, an affine map) and a square of a square (x^4: two square layers). */
START_TEST(test_onnx_polynomials)
{
    ob_t b;
    ob_init(&b, 13);
    const int64_t in[2] = {-1, 3}, dg[2] = {3, 4}, dk[2] = {1, 4}, dh[2] = {4, 2};
    ob_input(&b, "x", 2, in);
    const double g[12] = {0.5, -1, 0.25, 2, 1, 0, -0.5, 0.75, -2, 1.5, 1, -0.25};
    const double k[4] = {1, -2, 0.5, 3}, h[8] = {0.5, -0.25, 1, 0.75, -1, 0.5, 0.25, 2};
    ob_initializer(&b, "G", 2, dg, g, 'f');
    ob_initializer(&b, "K", 2, dk, k, 'f');
    ob_initializer(&b, "H", 2, dh, h, 'f');
    ob_node(&b, "MatMul", "y1", 2, "x", "G");
    ob_node(&b, "Mul", "a", 2, "y1", "K");
    ob_node(&b, "Mul", "b", 2, "a", "y1");
    ob_node(&b, "Add", "c", 2, "b", "y1");
    ob_node(&b, "MatMul", "d", 2, "c", "H");
    ob_node(&b, "Mul", "e", 2, "d", "d");
    ob_node(&b, "Mul", "y", 2, "e", "e");
    ob_output(&b, "y");
    cn_model_t m;
    cn_net_diag_t d;
    const cn_onnx_opts_t o = {.input_min = -4, .input_max = 4, .input_scale = 0.5};
    ck_assert_msg(import(&m, &b, &o, &d) == CN_OK, "%s", d.msg);
    int nsq = 0;
    for (size_t i = 0; i < m.nlayers; i++)
        nsq += m.layers[i].kind == CN_LAYER_SQUARE;
    ck_assert_int_eq(nsq, 3);
    for (int it = 0; it < 9; it++) {
        const int64_t raw[3] = {it % 9 - 4, (it * 5) % 9 - 4, (it * 7) % 9 - 4};
        double y1[4], c[4], want[2], got[2];
        for (int j = 0; j < 4; j++) {
            y1[j] = 0;
            for (int i = 0; i < 3; i++)
                y1[j] += (double)raw[i] * 0.5 * g[i * 4 + j];
            c[j] = k[j] * y1[j] * y1[j] + y1[j];
        }
        for (int j = 0; j < 2; j++) {
            double v = 0;
            for (int i = 0; i < 4; i++)
                v += c[i] * h[i * 2 + j];
            want[j] = v * v * v * v;
        }
        ck_assert_int_eq(cn_model_forward(got, &m, raw), CN_OK);
        assert_close(got, want, 2, 1e-9, "polynomials");
    }
    cn_model_clear(&m);
    ob_free(&b);
}
END_TEST

/* --- refusals ------------------------------------------------------------------------------
 */

/* A (N, 4) input, a Gemm to 4, then op (one node) and a Gemm: the refusal must name the
 * node and operator and contain hint. */
static void refuse_after_gemm(const char *op, int64_t opset, cn_status want, const char *hint)
{
    ob_t b;
    ob_init(&b, opset);
    const int64_t in[2] = {-1, 4}, dg[2] = {4, 4};
    ob_input(&b, "x", 2, in);
    double g[16];
    for (int i = 0; i < 16; i++)
        g[i] = i * 0.1;
    ob_initializer(&b, "G", 2, dg, g, 'f');
    ob_node(&b, "Gemm", "g1", 2, "x", "G");
    ob_node(&b, op, "bad", 1, "g1");
    ob_node(&b, "Gemm", "y", 2, "bad", "G");
    ob_output(&b, "y");
    cn_model_t m;
    cn_net_diag_t d;
    ck_assert_int_eq(import(&m, &b, NULL, &d), want);
    ck_assert_msg(strstr(d.msg, "'bad'") && strstr(d.msg, op) && strstr(d.msg, hint), "%s: %s",
                  op, d.msg);
    ck_assert_uint_eq(m.nlayers, 0);
    ob_free(&b);
}

START_TEST(test_onnx_refuse_operators)
{
    refuse_after_gemm("Relu", 13, CN_ERR_UNSUPPORTED, "square");
    refuse_after_gemm("Sigmoid", 13, CN_ERR_UNSUPPORTED, "polynomial");
    refuse_after_gemm("Tanh", 13, CN_ERR_UNSUPPORTED, "square");
    refuse_after_gemm("MaxPool", 13, CN_ERR_UNSUPPORTED, "AveragePool");
    refuse_after_gemm("Softmax", 13, CN_ERR_UNSUPPORTED, "argmax");
    refuse_after_gemm("LSTM", 13, CN_ERR_UNSUPPORTED, "docs/onnx.md");
}
END_TEST

/* builds x -> Gemm -> (variant) and expects a refusal containing hint */
static void refuse_graph(int variant, cn_status want, const char *hint)
{
    ob_t b;
    ob_init(&b, variant == 3 ? 18 : 13);
    int64_t in[4] = {-1, 4, 1, 1};
    if (variant == 2)
        in[1] = -1; /* a dynamic dimension other than the batch */
    ob_input(&b, "x", variant == 5 || variant == 6 ? 4 : 2, in);
    if (variant == 1)
        ob_input(&b, "x2", 2, in);
    const int64_t dg[2] = {4, 4}, dw[4] = {2, 4, 1, 1};
    double g[16];
    for (int i = 0; i < 16; i++)
        g[i] = i * 0.1 - 0.5;
    ob_initializer(&b, "G", 2, dg, g, 'f');
    ob_initializer(&b, "W", 4, dw, g, 'f');
    const char *out = "y";
    switch (variant) {
    case 0: /* a skip connection */
        ob_node(&b, "Gemm", "g1", 2, "x", "G");
        ob_node(&b, "Mul", "sq", 2, "g1", "g1");
        ob_node(&b, "Gemm", "g2", 2, "sq", "G");
        ob_node(&b, "Add", "y", 2, "g2", "g1");
        break;
    case 1: /* two inputs */
    case 2:
    case 3:
        ob_node(&b, "Gemm", "y", 2, "x", "G");
        break;
    case 4: /* degree 3 */
        ob_node(&b, "Gemm", "g1", 2, "x", "G");
        ob_node(&b, "Mul", "sq", 2, "g1", "g1");
        ob_node(&b, "Mul", "y", 2, "sq", "g1");
        break;
    case 5: { /* grouped convolution */
        Onnx__NodeProto *n = ob_node(&b, "Conv", "y", 2, "x", "W");
        ob_attr_i(&b, n, "group", 2);
        break;
    }
    case 6: { /* dilation */
        Onnx__NodeProto *n = ob_node(&b, "Conv", "y", 2, "x", "W");
        const int64_t dl[2] = {2, 2};
        ob_attr_ints(&b, n, "dilations", 2, dl);
        break;
    }
    case 7: /* a constant divided by the data */
        ob_node(&b, "Gemm", "g1", 2, "x", "G");
        ob_node(&b, "Div", "y", 2, "G", "g1");
        break;
    }
    ob_output(&b, out);
    cn_model_t m;
    cn_net_diag_t d;
    ck_assert_int_eq(import(&m, &b, NULL, &d), want);
    ck_assert_msg(strstr(d.msg, hint), "variant %d: %s", variant, d.msg);
    ob_free(&b);
}

START_TEST(test_onnx_refuse_graphs)
{
    refuse_graph(0, CN_ERR_UNSUPPORTED, "chain");
    refuse_graph(1, CN_ERR_UNSUPPORTED, "one input");
    refuse_graph(2, CN_ERR_UNSUPPORTED, "dynamic");
    refuse_graph(3, CN_ERR_VERSION, "opset 18");
    refuse_graph(4, CN_ERR_UNSUPPORTED, "degree 3");
    refuse_graph(5, CN_ERR_UNSUPPORTED, "group 2");
    refuse_graph(6, CN_ERR_UNSUPPORTED, "dilation 2");
    refuse_graph(7, CN_ERR_UNSUPPORTED, "(Div)");
}
END_TEST

START_TEST(test_onnx_refuse_bytes)
{
    cn_model_t m;
    cn_net_diag_t d;
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x22, 0x01};
    ck_assert_int_eq(cn_model_from_onnx_bytes(&m, junk, sizeof junk, NULL, &d), CN_ERR_FORMAT);
    ck_assert(d.msg[0]);
    ck_assert_int_eq(cn_model_from_onnx_bytes(&m, NULL, 0, NULL, &d), CN_ERR_VERSION);
    ck_assert(d.msg[0]);
    ck_assert_int_eq(cn_model_load_onnx(&m, "/nonexistent/model.onnx", NULL, &d), CN_ERR_IO);
    ck_assert(strstr(d.msg, "/nonexistent/model.onnx"));
    /* raw data of the wrong length, external data, bad options */
    static ob_small_t c;
    ob_small_weights(&c);
    ob_t b;
    ob_small(&b, &c);
    b.inits[0]->raw_data.len -= 4;
    ck_assert_int_eq(import(&m, &b, NULL, &d), CN_ERR_FORMAT);
    ck_assert_msg(strstr(d.msg, "'W'") && strstr(d.msg, "raw"), "%s", d.msg);
    b.inits[0]->raw_data.len += 4;
    b.inits[0]->has_data_location = 1;
    b.inits[0]->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    ck_assert_int_eq(import(&m, &b, NULL, &d), CN_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(d.msg, "external"), "%s", d.msg);
    b.inits[0]->has_data_location = 0;
    const cn_onnx_opts_t bad = {.input_min = 5, .input_max = 4};
    ck_assert_int_eq(import(&m, &b, &bad, &d), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(import(&m, &b, NULL, &d), CN_OK);
    cn_model_clear(&m);
    ob_free(&b);
}
END_TEST

/* --- the poly layer ------------------------------------------------------------------------
 */

START_TEST(test_poly_layer)
{
    cn_model_t m;
    cn_net_diag_t d;
    ck_assert_int_eq(cn_model_init(&m, 1, 2, 2, 0.5, -3, 3), CN_OK);
    ck_assert_int_eq(cn_model_add_poly(&m, NAN, 1, 2, &d), CN_ERR_INVALID_ARG);
    ck_assert(strstr(d.msg, "poly"));
    ck_assert_int_eq(cn_model_add_poly(&m, 1, INFINITY, 2, &d), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_model_add_poly(&m, 0.5, -1, 0.25, &d), CN_OK);
    const double w[8] = {1, 2, 3, 4, -1, 0.5, 0, 2}, bb[2] = {0.5, -1};
    ck_assert_int_eq(cn_model_add_dense(&m, 2, w, bb, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_poly(&m, -2, 0, 1, &d), CN_OK);
    const int64_t x[4] = {-3, 1, 2, 3};
    double got[2];
    ck_assert_int_eq(cn_model_forward(got, &m, x), CN_OK);
    /* by hand: v = x / 2 -> 0.5 v^2 - v + 0.25 -> dense -> -2 u^2 + 1 */
    double p[4], u[2];
    for (int i = 0; i < 4; i++) {
        const double v = (double)x[i] / 2;
        p[i] = 0.5 * v * v - v + 0.25;
    }
    for (int j = 0; j < 2; j++) {
        u[j] = bb[j];
        for (int i = 0; i < 4; i++)
            u[j] += w[j * 4 + i] * p[i];
        ck_assert(fabs(got[j] - (-2 * u[j] * u[j] + 1)) < 1e-12);
    }
    /* files: 1.1 with a poly layer, round trip */
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(cn_model_to_bytes(&buf, &len, &m), CN_OK);
    ck_assert_int_eq(buf[CN_IO_HEADER_BYTES + 6] | buf[CN_IO_HEADER_BYTES + 7] << 8, 1);
    cn_model_t m2;
    ck_assert_int_eq(cn_model_from_bytes(&m2, buf, len, &d), CN_OK);
    ck_assert_uint_eq(m2.nlayers, 3);
    ck_assert_int_eq(m2.layers[0].kind, CN_LAYER_POLY);
    ck_assert(m2.layers[0].poly[0] == 0.5 && m2.layers[0].poly[1] == -1 &&
              m2.layers[0].poly[2] == 0.25);
    cn_model_clear(&m2);
    /* a file that says 1.0 may not hold kind 6 */
    buf[CN_IO_HEADER_BYTES + 6] = 0;
    cn_test_reseal_net(buf, len);
    ck_assert_int_eq(cn_model_from_bytes(&m2, buf, len, &d), CN_ERR_FORMAT);
    ck_assert_msg(strstr(d.msg, "poly") && strstr(d.msg, "1.1"), "%s", d.msg);
    free(buf);
    /* the compiler takes it (a square between two affine maps: tests/net/test_poly_act.c) */
    cn_plan_t *plan;
    ck_assert_msg(cn_plan_compile(&plan, &m, NULL, &d) == CN_OK, "%s", d.msg);
    cn_plan_free(plan);
    cn_model_clear(&m);
    /* a model without a poly layer is still written as 1.0 */
    ck_assert_int_eq(cn_model_init(&m, 1, 2, 2, 0.5, -3, 3), CN_OK);
    ck_assert_int_eq(cn_model_add_square(&m, &d), CN_OK);
    ck_assert_int_eq(cn_model_to_bytes(&buf, &len, &m), CN_OK);
    ck_assert_int_eq(buf[CN_IO_HEADER_BYTES + 6] | buf[CN_IO_HEADER_BYTES + 7] << 8, 0);
    free(buf);
    cn_model_clear(&m);
    /* an uninitialised model */
    memset(&m, 0, sizeof m);
    ck_assert_int_eq(cn_model_add_poly(&m, 1, 0, 0, &d), CN_ERR_INVALID_ARG);
    ck_assert(d.msg[0]);
}
END_TEST

CN_SUITE(onnx_models)
{
    Suite *s = suite_create("onnx_models");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_onnx_cryptonets);
    tcase_add_test(tc, test_onnx_fold_normalization);
    tcase_add_test(tc, test_onnx_poly_bn);
    tcase_add_test(tc, test_onnx_operators);
    tcase_add_test(tc, test_onnx_polynomials);
    tcase_add_test(tc, test_onnx_refuse_operators);
    tcase_add_test(tc, test_onnx_refuse_graphs);
    tcase_add_test(tc, test_onnx_refuse_bytes);
    tcase_add_test(tc, test_poly_layer);
    suite_add_tcase(s, tc);
    return s;
}
