/* Faults of the network layer, each kind refused clearly or computed right (issue 12):
 * layers without nonzero weights, model functions given bad arguments, extreme scales,
 * plans whose stated quantities disagree with what the loader recomputes, errors that
 * must say what was wrong, the exact range check against an independent big-integer
 * bound, and small rings with security off. Oracles: the float network
 * (cn_model_forward), the plaintext integer network, and exact bounds computed here with
 * FLINT's fmpz from the plan's integer weights. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <flint/fmpz.h>
#include <flint/fmpz_vec.h>

#include "common/net_fixture.h"
#include "common/util.h"
#include "cryptonets/cryptonets.h"
#include "../../net/net_internal.h"

static double unit(cn_test_rng_t *r)
{
    return (double)(cn_test_rng_next(r) >> 11) * 0x1p-53;
}

static cn_compile_opts_t small_opts(void)
{
    cn_compile_opts_t o = {0};
    o.n = 2048;
    o.security = CN_SEC_NONE_INSECURE;
    return o;
}

/* Compiles m, runs it encrypted on count inputs x, and checks: the decrypted outputs equal
 * the integer network's, and, divided by the output scale, are within tol (relative to
 * the largest |float output|, at least 1e-9) of the float network's. */
static void check_against_float(const cn_model_t *m, const cn_compile_opts_t *o,
                                const int64_t *x, size_t count, double tol)
{
    cn_plan_t *p;
    cn_net_diag_t d = {{0}};
    ck_assert_msg(cn_plan_compile(&p, m, o, &d) == CN_OK, "compile: %s", d.msg);
    const size_t nin = cn_plan_inputs(p), nout = cn_plan_outputs(p);
    cn_int128 *ref = malloc(count * nout * sizeof *ref),
              *got = malloc(count * nout * sizeof *got);
    double *fo = malloc(nout * sizeof *fo);
    ck_assert_int_eq(cn_plan_eval_plain(ref, p, x, count), CN_OK);
    cn_test_run_plan(got, NULL, p, x, count, 12);
    const double sc = cn_plan_output_scale(p);
    ck_assert(isfinite(sc) && sc > 0);
    for (size_t s = 0; s < count; s++) {
        ck_assert_int_eq(cn_model_forward(fo, m, x + s * nin), CN_OK);
        double big = 1e-9;
        for (size_t j = 0; j < nout; j++)
            big = fmax(big, fabs(fo[j]));
        for (size_t j = 0; j < nout; j++) {
            ck_assert(got[s * nout + j] == ref[s * nout + j]);
            const double v = (double)got[s * nout + j] / sc;
            ck_assert_msg(fabs(v - fo[j]) <= tol * big,
                          "input %zu output %zu: encrypted %g, "
                          "float %g",
                          s, j, v, fo[j]);
        }
    }
    free(ref);
    free(got);
    free(fo);
    cn_plan_free(p);
}

/* 1. A layer with no nonzero weight still carries its biases at weight_bits precision. */
START_TEST(test_zero_weight_layers)
{
    cn_net_diag_t d;
    cn_model_t m;
    /* the dense case: biases (0.5, 0.3), square, identity: float (0.25, 0.09) */
    ck_assert_int_eq(cn_model_init(&m, 1, 1, 2, 1.0, 0, 15), CN_OK);
    const double w0[4] = {0}, b0[2] = {0.5, 0.3}, id[4] = {1, 0, 0, 1}, z[2] = {0};
    ck_assert_int_eq(cn_model_add_dense(&m, 2, w0, b0, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_square(&m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(&m, 2, id, z, &d), CN_OK);
    cn_compile_opts_t o = small_opts();
    o.weight_bits = 8;
    const int64_t x[4] = {3, 7, 0, 15};
    check_against_float(&m, &o, x, 2, 0.01);
    cn_model_clear(&m);
    /* conv with all-zero weights and nonzero biases, then a random dense layer */
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1201);
    ck_assert_int_eq(cn_model_init(&m, 1, 4, 4, 1.0 / 15, 0, 15), CN_OK);
    const double cw[2 * 9] = {0}, cb[2] = {0.7, -0.2};
    ck_assert_int_eq(cn_model_add_conv2d(&m, 2, 3, 3, 1, 0, cw, cb, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_square(&m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_flatten(&m, &d), CN_OK);
    double dw[3 * 8], db[3];
    for (size_t i = 0; i < 24; i++)
        dw[i] = 2 * unit(&r) - 1;
    for (size_t i = 0; i < 3; i++)
        db[i] = 2 * unit(&r) - 1;
    ck_assert_int_eq(cn_model_add_dense(&m, 3, dw, db, &d), CN_OK);
    int64_t xs[5 * 16];
    for (size_t i = 0; i < 5 * 16; i++)
        xs[i] = (int64_t)cn_test_rng_below(&r, 16);
    check_against_float(&m, &o, xs, 5, 0.02);
    cn_model_clear(&m);
    /* a layer with no weights and no biases: outputs exactly 0 */
    ck_assert_int_eq(cn_model_init(&m, 1, 1, 2, 1.0, 0, 15), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(&m, 2, w0, z, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_square(&m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(&m, 2, id, b0, &d), CN_OK);
    check_against_float(&m, &o, x, 2, 0.01);
    cn_model_clear(&m);
}
END_TEST

/* 2. Every model function checks its arguments; a refused layer leaves the model as it
 * was, and a model is refused as a whole only for its own faults. */
START_TEST(test_model_arguments)
{
    cn_net_diag_t d;
    cn_model_t z;
    memset(&z, 0, sizeof z); /* zeroed, never initialised */
    const double w[64] = {0}, b[8] = {0};
    d.msg[0] = 0;
    ck_assert_int_eq(cn_model_add_dense(&z, 2, w, b, &d), CN_ERR_INVALID_ARG);
    ck_assert(strstr(d.msg, "not initialised"));
    ck_assert_int_eq(cn_model_add_conv2d(&z, 1, 2, 2, 1, 0, w, b, &d), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_model_add_square(&z, &d), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_model_add_pool(&z, 2, 2, 1, 1.0, &d), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_model_add_flatten(&z, &d), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_model_add_dense(NULL, 2, w, b, &d), CN_ERR_INVALID_ARG);
    double out[4];
    int64_t x[9] = {0};
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(cn_model_forward(out, &z, x), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_model_to_bytes(&buf, &len, &z), CN_ERR_INVALID_ARG);
    cn_plan_t *p;
    ck_assert_int_eq(cn_plan_compile(&p, &z, NULL, &d), CN_ERR_INVALID_ARG);
    ck_assert(d.msg[0] != 0);
    ck_assert_int_eq(cn_model_init(NULL, 1, 1, 1, 1.0, 0, 1), CN_ERR_INVALID_ARG);
    cn_model_clear(&z);

    cn_model_t m;
    ck_assert_int_eq(cn_model_init(&m, 1, 3, 3, 1.0, 0, 15), CN_OK);
    /* out of every documented limit: refused with a reason, nothing appended */
    struct {
        size_t maps, kh, kw, stride, pad;
        cn_status want;
    } bad[] = {{CN_MODEL_MAX_MAPS + 1, 2, 2, 1, 0, CN_ERR_SHAPE_MISMATCH},
               {5000, 2, 2, 1, 0, CN_ERR_SHAPE_MISMATCH},
               {0, 2, 2, 1, 0, CN_ERR_SHAPE_MISMATCH},
               {1, 0, 2, 1, 0, CN_ERR_SHAPE_MISMATCH},
               {1, 65, 2, 1, 0, CN_ERR_SHAPE_MISMATCH},
               {1, 2, 2, 0, 0, CN_ERR_SHAPE_MISMATCH},
               {1, 2, 2, 65, 0, CN_ERR_SHAPE_MISMATCH},
               {1, 2, 2, 1, 65, CN_ERR_SHAPE_MISMATCH},
               {1, 5, 5, 1, 0, CN_ERR_SHAPE_MISMATCH}, /* window larger than the input */
               {(size_t)1 << 40, 2, 2, 1, 0, CN_ERR_SHAPE_MISMATCH}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        d.msg[0] = 0;
        ck_assert_int_eq(cn_model_add_conv2d(&m, bad[i].maps, bad[i].kh, bad[i].kw,
                                             bad[i].stride, bad[i].pad, w, b, &d),
                         bad[i].want);
        ck_assert_msg(d.msg[0] != 0, "case %zu: no reason", i);
        ck_assert_uint_eq(m.nlayers, 0);
    }
    ck_assert_int_eq(cn_model_add_conv2d(&m, 1, 2, 2, 1, 0, NULL, b, &d), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_model_add_conv2d(&m, 1, 2, 2, 1, 0, w, NULL, &d), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_model_add_dense(&m, 0, w, b, &d), CN_ERR_SHAPE_MISMATCH);
    ck_assert_int_eq(cn_model_add_dense(&m, CN_MODEL_MAX_VALUES + 1, w, b, &d),
                     CN_ERR_SHAPE_MISMATCH);
    ck_assert_int_eq(cn_model_add_dense(&m, SIZE_MAX, w, b, &d), CN_ERR_SHAPE_MISMATCH);
    ck_assert_int_eq(cn_model_add_dense(&m, 2, NULL, b, &d), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_model_add_pool(&m, 2, 2, 1, NAN, &d), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_model_add_pool(&m, 2, 2, 1, 0.0, &d), CN_ERR_INVALID_ARG);
    double nanw[18] = {0};
    nanw[3] = NAN;
    ck_assert_int_eq(cn_model_add_dense(&m, 2, nanw, b, &d), CN_ERR_INVALID_ARG);
    ck_assert_uint_eq(m.nlayers, 0);
    /* after all that, the model still works */
    ck_assert_int_eq(cn_model_add_conv2d(&m, 1, 2, 2, 1, 0, w, b, &d), CN_OK);
    ck_assert_int_eq(cn_model_forward(out, &m, x), CN_OK);
    ck_assert_int_eq(cn_model_to_bytes(&buf, &len, &m), CN_OK);
    free(buf);
    cn_model_clear(&m);

    /* the smallest models (one square; one flatten) write and read back */
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(cn_model_init(&m, 1, 1, 3, 1.0, 0, 15), CN_OK);
        ck_assert_int_eq(k ? cn_model_add_flatten(&m, &d) : cn_model_add_square(&m, &d), CN_OK);
        ck_assert_int_eq(cn_model_to_bytes(&buf, &len, &m), CN_OK);
        cn_model_t back;
        ck_assert_msg(cn_model_from_bytes(&back, buf, len, &d) == CN_OK, "%zu bytes: %s", len,
                      d.msg);
        ck_assert_uint_eq(back.nlayers, 1);
        cn_model_clear(&back);
        free(buf);
        cn_model_clear(&m);
    }
    /* calibration inputs outside the model's range are refused, named */
    ck_assert_int_eq(cn_model_init(&m, 1, 1, 2, 1.0, 0, 15), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(&m, 2, w, b, &d), CN_OK);
    const int64_t cal[4] = {1, 2, 3, 200};
    cn_compile_opts_t oc = small_opts();
    oc.calib = cal;
    oc.ncalib = 2;
    d.msg[0] = 0;
    ck_assert_int_eq(cn_plan_compile(&p, &m, &oc, &d), CN_ERR_OUT_OF_RANGE);
    ck_assert_msg(strstr(d.msg, "calibration input 2, value 2 (counting from 1): 200"), "%s",
                  d.msg);
    cn_model_clear(&m);
    /* a model that computes nothing is refused at compile time, with a reason */
    ck_assert_int_eq(cn_model_init(&m, 1, 2, 2, 1.0, 0, 15), CN_OK);
    ck_assert_int_eq(cn_model_add_flatten(&m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_flatten(&m, &d), CN_OK);
    cn_compile_opts_t o = small_opts();
    d.msg[0] = 0;
    ck_assert_int_eq(cn_plan_compile(&p, &m, &o, &d), CN_ERR_INVALID_ARG);
    ck_assert(strstr(d.msg, "flatten"));
    cn_model_clear(&m);
}
END_TEST

/* 3. Extreme scales: refused with the cause named, never an overflowing conversion (the
 * sanitizer build checks float-cast-overflow), never an infinite output scale. */
START_TEST(test_extreme_scales)
{
    cn_net_diag_t d;
    cn_model_t m;
    cn_compile_opts_t o = small_opts();
    cn_plan_t *p;
    /* tiny weights next to biases */
    ck_assert_int_eq(cn_model_init(&m, 1, 1, 1, 1.0, 0, 15), CN_OK);
    const double tw[2] = {1e-40, -1e-40}, tb[2] = {-0.25, 0.25};
    ck_assert_int_eq(cn_model_add_dense(&m, 2, tw, tb, &d), CN_OK);
    o.weight_bits = 6;
    d.msg[0] = 0;
    ck_assert_int_eq(cn_plan_compile(&p, &m, &o, &d), CN_ERR_OUT_OF_RANGE);
    ck_assert_msg(strstr(d.msg, "bias") && strstr(d.msg, "1e-40"), "%s", d.msg);
    cn_model_clear(&m);
    /* a subnormal largest weight */
    ck_assert_int_eq(cn_model_init(&m, 1, 1, 1, 1.0, 0, 15), CN_OK);
    const double sw[2] = {4.9e-324, -4.9e-324}, zb[2] = {0, 0};
    ck_assert_int_eq(cn_model_add_dense(&m, 2, sw, zb, &d), CN_OK);
    d.msg[0] = 0;
    ck_assert_int_eq(cn_plan_compile(&p, &m, &o, &d), CN_ERR_OUT_OF_RANGE);
    ck_assert_msg(strstr(d.msg, "scale"), "%s", d.msg);
    cn_model_clear(&m);
    /* extreme input scales, with and without biases, with squares */
    const double scales[] = {1e-45, 1e-300, 1e300, 1e-200};
    for (size_t i = 0; i < sizeof scales / sizeof scales[0]; i++)
        for (int bias = 0; bias < 2; bias++) {
            ck_assert_int_eq(cn_model_init(&m, 1, 1, 2, scales[i], 0, 15), CN_OK);
            const double w[4] = {0.5, -0.25, 1, 0.75}, bb[2] = {0.1, -0.3};
            ck_assert_int_eq(cn_model_add_dense(&m, 2, w, bias ? bb : zb, &d), CN_OK);
            ck_assert_int_eq(cn_model_add_square(&m, &d), CN_OK);
            ck_assert_int_eq(cn_model_add_dense(&m, 2, w, bias ? bb : zb, &d), CN_OK);
            d.msg[0] = 0;
            const cn_status st = cn_plan_compile(&p, &m, &o, &d);
            if (st == CN_OK) {
                ck_assert(isfinite(cn_plan_output_scale(p)) && cn_plan_output_scale(p) > 0);
                cn_plan_free(p);
            } else {
                ck_assert_msg(st == CN_ERR_OUT_OF_RANGE, "scale %g: %s", scales[i], d.msg);
                ck_assert_msg(strstr(d.msg, "scale"), "scale %g: %s", scales[i], d.msg);
            }
            cn_model_clear(&m);
        }
    /* two huge layers fold into weights beyond a double */
    ck_assert_int_eq(cn_model_init(&m, 1, 1, 1, 1.0, 0, 15), CN_OK);
    const double hw[1] = {1e300}, hb[1] = {0};
    ck_assert_int_eq(cn_model_add_dense(&m, 1, hw, hb, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(&m, 1, hw, hb, &d), CN_OK);
    d.msg[0] = 0;
    ck_assert_int_eq(cn_plan_compile(&p, &m, &o, &d), CN_ERR_OUT_OF_RANGE);
    ck_assert_msg(strstr(d.msg, "fold"), "%s", d.msg);
    cn_model_clear(&m);
}
END_TEST

/* A small plan at 128-bit security (so the loader's own checks apply in full). */
static cn_plan_t *secure_plan(cn_model_t *m)
{
    cn_net_diag_t d;
    ck_assert_int_eq(cn_model_init(m, 1, 1, 3, 1.0 / 15, 0, 15), CN_OK);
    const double w[9] = {0.5, -1, 0.25, 1, 0.5, -0.5, -0.75, 0.25, 1}, b[3] = {0.1, 0, -0.2};
    ck_assert_int_eq(cn_model_add_dense(m, 3, w, b, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_square(m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(m, 3, w, b, &d), CN_OK);
    cn_compile_opts_t o = {0};
    o.weight_bits = 6;
    cn_plan_t *p;
    ck_assert_msg(cn_plan_compile(&p, m, &o, &d) == CN_OK, "%s", d.msg);
    return p;
}

/* 4. What the loader can recompute, it does not take from the bytes. */
START_TEST(test_plan_recomputed)
{
    cn_model_t m;
    cn_plan_t *p = secure_plan(&m), *q;
    cn_net_diag_t d;
    uint8_t *b;
    size_t len;
    cn_op_t *last = &p->ops[p->nops - 1];
    ck_assert_int_eq(last->kind, CN_OP_LINEAR);
    /* outputs the plaintext moduli cannot carry: refused, unless declared wrapping */
    const cn_int128 saved = last->lin.bias[0];
    last->lin.bias[0] = (cn_int128)1 << 110;
    ck_assert_int_eq(cn_plan_to_bytes(&b, &len, p), CN_OK);
    d.msg[0] = 0;
    ck_assert_int_eq(cn_plan_from_bytes(&q, b, len, 0, &d), CN_ERR_OUT_OF_RANGE);
    ck_assert_msg(strstr(d.msg, "plaintext moduli"), "%s", d.msg);
    free(b);
    p->wraps = 1;
    ck_assert_int_eq(cn_plan_to_bytes(&b, &len, p), CN_OK);
    ck_assert_int_eq(cn_plan_from_bytes(&q, b, len, 0, &d), CN_OK);
    ck_assert_int_eq(cn_plan_wraps(q), 1);
    ck_assert(cn_plan_output_bits(q) > 109);
    cn_plan_free(q);
    free(b);
    p->wraps = 0;
    last->lin.bias[0] = saved;
    /* a stated budget is replaced by the recomputed estimate */
    const double budget = p->budget;
    p->budget = 1000;
    ck_assert_int_eq(cn_plan_to_bytes(&b, &len, p), CN_OK);
    ck_assert_int_eq(cn_plan_from_bytes(&q, b, len, 0, &d), CN_OK);
    ck_assert(fabs(cn_plan_output_budget(q) - budget) < 1e-9);
    cn_plan_free(q);
    free(b);
    /* weights inflated until the estimate leaves no budget: refused (noise) */
    for (size_t o = 0; o < p->nops; o++)
        if (p->ops[o].kind == CN_OP_LINEAR)
            for (size_t k = 0; k < p->ops[o].lin.row[p->ops[o].lin.nout]; k++)
                p->ops[o].lin.w[k] =
                    p->ops[o].lin.w[k] < 0 ? -((int64_t)1 << 30) + 1 : ((int64_t)1 << 30) - 1;
    p->wraps = 1; /* the range no longer fits either: let the noise speak */
    ck_assert_int_eq(cn_plan_to_bytes(&b, &len, p), CN_OK);
    d.msg[0] = 0;
    ck_assert_int_eq(cn_plan_from_bytes(&q, b, len, 0, &d), CN_ERR_NOISE_EXHAUSTED);
    ck_assert_msg(strstr(d.msg, "noise budget"), "%s", d.msg);
    free(b);
    cn_plan_free(p);
    cn_model_clear(&m);
}
END_TEST

/* Mutations of valid bytes, resealed: every refusal says why. */
static void mutations_explained(uint8_t *b, size_t len, int plan, cn_test_rng_t *r)
{
    uint8_t *c = malloc(len);
    for (int it = 0; it < 600; it++) {
        memcpy(c, b, len);
        const size_t flips = 1 + cn_test_rng_below(r, 3);
        for (size_t f = 0; f < flips; f++) {
            const size_t at = cn_test_rng_below(r, len - 8);
            if (cn_test_rng_below(r, 2))
                c[at] ^= (uint8_t)(1u << cn_test_rng_below(r, 8));
            else
                c[at] = (uint8_t)cn_test_rng_next(r);
        }
        cn_test_reseal_net(c, len);
        cn_net_diag_t d;
        memset(&d, 0, sizeof d);
        cn_status st;
        if (plan) {
            cn_plan_t *q;
            st = cn_plan_from_bytes(&q, c, len, 1, &d);
            if (st == CN_OK)
                cn_plan_free(q);
        } else {
            cn_model_t m;
            st = cn_model_from_bytes(&m, c, len, &d);
            if (st == CN_OK)
                cn_model_clear(&m);
        }
        ck_assert_msg(st == CN_OK || d.msg[0] != 0, "mutation %d refused (%s) with no reason",
                      it, cn_strerror(st));
    }
    free(c);
}

/* 5. Errors say what was wrong. */
START_TEST(test_errors_explained)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1205);
    cn_net_diag_t d;
    /* the status texts fit every place that returns them */
    ck_assert(!strstr(cn_strerror(CN_ERR_SHAPE_MISMATCH), "degrees or prime counts"));
    ck_assert(strstr(cn_strerror(CN_ERR_SHAPE_MISMATCH), "shape"));
    /* a model file that declares 2^26 weights in 68 bytes: truncated, with a reason */
    cn_model_t m;
    ck_assert_int_eq(cn_model_init(&m, 1, 1024, 1024, 1.0, 0, 1), CN_OK);
    uint8_t *b;
    size_t len;
    ck_assert_int_eq(cn_model_to_bytes(&b, &len, &m), CN_OK); /* no layers yet */
    cn_model_clear(&m);
    uint8_t *f = malloc(len + 8);
    memcpy(f, b, len - 8); /* everything before the trailer */
    f[len - 12] = 1;       /* the layer count, the writer's last field */
    const uint8_t layer[8] = {CN_LAYER_DENSE, 0, 0, 0, 64, 0, 0, 0}; /* dense, 64 outputs */
    memcpy(f + len - 8, layer, 8);
    cn_test_reseal_net(f, len + 8);
    d.msg[0] = 0;
    ck_assert_int_eq(cn_model_from_bytes(&m, f, len + 8, &d), CN_ERR_TRUNCATED);
    ck_assert_msg(strstr(d.msg, "67108864 weights"), "%s", d.msg);
    free(f);
    free(b);
    /* mutated model and plan files: every refusal has a reason */
    cn_plan_t *p = secure_plan(&m);
    ck_assert_int_eq(cn_model_to_bytes(&b, &len, &m), CN_OK);
    mutations_explained(b, len, 0, &r);
    free(b);
    ck_assert_int_eq(cn_plan_to_bytes(&b, &len, p), CN_OK);
    mutations_explained(b, len, 1, &r);
    free(b);
    /* the server says what is wrong with a batch: one input too few, another plan */
    cn_model_t m4;
    ck_assert_int_eq(cn_model_init(&m4, 1, 1, 4, 1.0 / 15, 0, 15), CN_OK);
    const double w4[12] = {1, 0.5, -1, 0.25, 0.5, 1, 0, -0.5, 1, 1, -1, 0.5}, b3[3] = {0};
    ck_assert_int_eq(cn_model_add_dense(&m4, 3, w4, b3, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_square(&m4, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(&m4, 3, w4, b3, &d), CN_OK);
    cn_compile_opts_t o = {0};
    o.weight_bits = 6;
    const cn_bfv_params_t *prm = cn_plan_params(p);
    o.n = prm->n; /* the same parameters as p: only the shapes differ */
    o.nq = prm->nq;
    o.q_bits = (unsigned)ceil(log2((double)prm->q[0]));
    o.nt = prm->nt;
    o.t_bits = (unsigned)ceil(log2((double)prm->t[0]));
    o.margin_bits = 2; /* p's parameters, chosen for p's noise: m4 only needs a plan */
    cn_plan_t *p4;
    ck_assert_msg(cn_plan_compile(&p4, &m4, &o, &d) == CN_OK, "%s", d.msg);
    cn_client_t *c3, *c4;
    cn_server_t *s3;
    uint8_t seed[CN_SEED_BYTES] = {5}, *keys, *up, *down, *sk;
    size_t kl, ul, dl, skl;
    ck_assert_int_eq(cn_client_create(&c3, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
    ck_assert_int_eq(cn_client_create(&c4, p4, seed, CN_RNG_INSECURE_ACK), CN_OK);
    ck_assert_int_eq(cn_client_eval_keys(&keys, &kl, c3), CN_OK);
    ck_assert_int_eq(cn_server_create(&s3, p, keys, kl, 1, &d), CN_OK);
    int64_t x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    ck_assert_int_eq(cn_client_encrypt(&up, &ul, c4, x, 2, &d), CN_OK);
    d.msg[0] = 0;
    ck_assert_int_eq(cn_server_eval(&down, &dl, s3, up, ul, NULL, &d), CN_ERR_SHAPE_MISMATCH);
    ck_assert_msg(strstr(d.msg, "holds 4 ciphertexts") && strstr(d.msg, "expects 3"), "%s",
                  d.msg);
    free(up);
    d.msg[0] = 0;
    /* the evaluation keys (this plan needs no relinearization: an empty batch) */
    ck_assert_int_eq(cn_server_eval(&down, &dl, s3, keys, kl, NULL, &d), CN_ERR_SHAPE_MISMATCH);
    ck_assert_msg(strstr(d.msg, "holds 0 ciphertexts"), "%s", d.msg);
    /* inputs out of range, named */
    x[1] = 16;
    d.msg[0] = 0;
    ck_assert_int_eq(cn_client_encrypt(&up, &ul, c3, x, 2, &d), CN_ERR_OUT_OF_RANGE);
    ck_assert_msg(strstr(d.msg, "16"), "%s", d.msg);
    x[1] = 2;
    /* the server refuses a secret key and says so */
    cn_bfv_context_t *ctx;
    cn_bfv_secret_key_t skey;
    cn_rng_t rng;
    ck_assert_int_eq(cn_bfv_context_create(&ctx, prm), CN_OK);
    ck_assert_int_eq(cn_rng_init(&rng), CN_OK);
    ck_assert_int_eq(cn_bfv_keygen_secret(&skey, ctx, &rng), CN_OK);
    skl = cn_io_size_secret_key(&skey, ctx);
    sk = malloc(skl);
    ck_assert_int_eq(cn_io_save_secret_key(sk, skl, &skl, &skey, ctx), CN_OK);
    cn_server_t *bad;
    d.msg[0] = 0;
    ck_assert_int_ne(cn_server_create(&bad, p, sk, skl, 1, &d), CN_OK);
    ck_assert_msg(strstr(d.msg, "secret key"), "%s", d.msg);
    free(sk);
    cn_bfv_secret_key_clear(&skey);
    cn_rng_clear(&rng);
    cn_bfv_context_free(ctx);
    /* a reply decrypted with another key: refused as untrustworthy, with a reason */
    ck_assert_int_eq(cn_client_encrypt(&up, &ul, c3, x, 2, &d), CN_OK);
    ck_assert_int_eq(cn_server_eval(&down, &dl, s3, up, ul, NULL, &d), CN_OK);
    cn_client_t *other;
    const uint8_t seed2[CN_SEED_BYTES] = {6};
    ck_assert_int_eq(cn_client_create(&other, p, seed2, CN_RNG_INSECURE_ACK), CN_OK);
    cn_int128 got[6];
    d.msg[0] = 0;
    ck_assert_int_eq(cn_client_decrypt(got, other, down, dl, 2, &d), CN_ERR_NOISE_EXHAUSTED);
    ck_assert(d.msg[0] != 0);
    uint8_t *up4;
    size_t ul4;
    ck_assert_int_eq(cn_client_encrypt(&up4, &ul4, c4, x, 2, &d), CN_OK);
    d.msg[0] = 0; /* a batch of 4 inputs is no reply of 3 outputs */
    ck_assert_int_eq(cn_client_decrypt(got, c3, up4, ul4, 2, &d), CN_ERR_SHAPE_MISMATCH);
    ck_assert(d.msg[0] != 0);
    free(up4);
    ck_assert_int_eq(cn_client_decrypt(got, c3, down, dl, 2, &d), CN_OK);
    cn_client_free(other);
    free(up);
    free(down);
    free(keys);
    cn_server_free(s3);
    cn_client_free(c3);
    cn_client_free(c4);
    cn_plan_free(p4);
    cn_model_clear(&m4);
    /* security off, parameters too small for the noise: the message names the budget */
    o = small_opts();
    o.weight_bits = 6;
    o.q_bits = 30;
    o.nq = 1;
    d.msg[0] = 0;
    ck_assert_int_eq(cn_plan_compile(&p4, &m, &o, &d), CN_ERR_NOISE_EXHAUSTED);
    ck_assert_msg(strstr(d.msg, "noise budget"), "%s", d.msg);
    /* a ring degree that is no power of two; a secure n too small for any modulus */
    o = small_opts();
    o.n = 1000;
    d.msg[0] = 0;
    ck_assert_int_eq(cn_plan_compile(&p4, &m, &o, &d), CN_ERR_NOT_POWER_OF_TWO);
    ck_assert(strstr(d.msg, "1000"));
    o.n = 256;
    o.security = CN_SEC_128;
    d.msg[0] = 0;
    ck_assert_int_eq(cn_plan_compile(&p4, &m, &o, &d), CN_ERR_INSECURE);
    ck_assert_msg(strstr(d.msg, "128-bit"), "%s", d.msg);
    cn_plan_free(p);
    cn_model_clear(&m);
}
END_TEST

/* 9. Small rings with security off compile and run exactly (tests and experiments). */
START_TEST(test_small_rings)
{
    cn_model_t m;
    cn_plan_t *p = secure_plan(&m);
    cn_plan_free(p);
    const size_t ns[] = {256, 1024};
    for (size_t i = 0; i < 2; i++) {
        cn_compile_opts_t o = small_opts();
        o.n = ns[i];
        o.weight_bits = 6;
        int64_t x[3 * 40];
        for (size_t k = 0; k < 3 * 40; k++)
            x[k] = (int64_t)(k * 7 % 16);
        check_against_float(&m, &o, x, 40, 0.1);
    }
    cn_model_clear(&m);
}
END_TEST

/* The largest |value| and |partial sum| of the plan's integer network, computed here
 * from the plan's weights alone (an independent exact interval analysis), in log2. */
static void exact_bounds(double *vbits, double *sbits, const cn_plan_t *p)
{
    size_t w = p->nin;
    fmpz *lo = _fmpz_vec_init(4096), *hi = _fmpz_vec_init(4096);
    fmpz *nl = _fmpz_vec_init(4096), *nh = _fmpz_vec_init(4096);
    fmpz_t vmax, smax, a, acc, bias;
    fmpz_init(vmax);
    fmpz_init(smax);
    fmpz_init(a);
    fmpz_init(acc);
    fmpz_init(bias);
    for (size_t i = 0; i < w; i++) {
        fmpz_set_si(lo + i, p->in_min);
        fmpz_set_si(hi + i, p->in_max);
    }
    for (size_t o = 0; o < p->nops; o++) {
        const cn_op_t *op = &p->ops[o];
        if (op->kind == CN_OP_LINEAR) {
            for (size_t j = 0; j < op->lin.nout; j++) {
                const cn_int128 bb = op->lin.bias[j];
                fmpz_set_si(bias, (slong)(bb >> 64));
                fmpz_mul_2exp(bias, bias, 64);
                fmpz_add_ui(bias, bias, (ulong)(uint64_t)bb);
                fmpz_set(nl + j, bias);
                fmpz_set(nh + j, bias);
                fmpz_abs(acc, bias);
                for (size_t k = op->lin.row[j]; k < op->lin.row[j + 1]; k++) {
                    const uint32_t c = op->lin.col[k];
                    const slong wk = (slong)op->lin.w[k];
                    fmpz_set_si(a, wk);
                    fmpz_addmul(nl + j, a, wk > 0 ? lo + c : hi + c);
                    fmpz_addmul(nh + j, a, wk > 0 ? hi + c : lo + c);
                    fmpz_abs(a, a);
                    fmpz_addmul(acc, a, fmpz_cmpabs(lo + c, hi + c) > 0 ? lo + c : hi + c);
                }
                if (fmpz_cmpabs(acc, smax) > 0)
                    fmpz_abs(smax, acc);
            }
            w = op->lin.nout;
        } else {
            for (size_t i = 0; i < w; i++) {
                fmpz_set(nl + i, lo + i);
                fmpz_set(nh + i, hi + i);
                if (op->kind == CN_OP_SQUARE) {
                    fmpz_mul(a, lo + i, lo + i);
                    fmpz_mul(acc, hi + i, hi + i);
                    fmpz_set(nh + i, fmpz_cmp(a, acc) > 0 ? a : acc);
                    if (fmpz_sgn(lo + i) <= 0 && fmpz_sgn(hi + i) >= 0)
                        fmpz_zero(nl + i);
                    else
                        fmpz_set(nl + i, fmpz_cmp(a, acc) < 0 ? a : acc);
                }
            }
        }
        for (size_t i = 0; i < w; i++) {
            fmpz_set(lo + i, nl + i);
            fmpz_set(hi + i, nh + i);
            if (fmpz_cmpabs(lo + i, vmax) > 0)
                fmpz_abs(vmax, lo + i);
            if (fmpz_cmpabs(hi + i, vmax) > 0)
                fmpz_abs(vmax, hi + i);
        }
    }
    *vbits = fmpz_is_zero(vmax) ? 0 : fmpz_dlog(vmax) / log(2.0);
    *sbits = fmpz_is_zero(smax) ? 0 : fmpz_dlog(smax) / log(2.0);
    _fmpz_vec_clear(lo, 4096);
    _fmpz_vec_clear(hi, 4096);
    _fmpz_vec_clear(nl, 4096);
    _fmpz_vec_clear(nh, 4096);
    fmpz_clear(vmax);
    fmpz_clear(smax);
    fmpz_clear(a);
    fmpz_clear(acc);
    fmpz_clear(bias);
}

/* 8. The range check refuses exactly what does not fit 126 bits: deep square networks
 * (the 4 squares on [0, 1], 2-bit weights, width 10, and random relatives),
 * compared with exact_bounds over the same integer weights at 2 to 4 bits. */
START_TEST(test_range_check_exact)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1208);
    size_t accepted = 0, refused = 0;
    for (int it = 0; it < 24; it++) {
        const size_t width = it == 0 ? 10 : 4 + cn_test_rng_below(&r, 10);
        const size_t squares = it == 0 ? 4 : 3 + cn_test_rng_below(&r, 2);
        cn_model_t m;
        cn_net_diag_t d;
        ck_assert_int_eq(cn_model_init(&m, 1, 1, width, 1.0, 0, 1), CN_OK);
        double *w = malloc(width * width * sizeof *w), *b = calloc(width, sizeof *b);
        for (size_t l = 0; l < squares; l++) {
            for (size_t i = 0; i < width * width; i++)
                w[i] = 2 * unit(&r) - 1;
            ck_assert_int_eq(cn_model_add_dense(&m, width, w, b, &d), CN_OK);
            ck_assert_int_eq(cn_model_add_square(&m, &d), CN_OK);
        }
        ck_assert_int_eq(cn_model_add_dense(&m, width, w, b, &d), CN_OK);
        /* the integer weights the compiler will use: a plan with no parameter search
         * (ranges only) is not public, so quantize through a compile that cannot fail on
         * noise (security off, a long chain of 60-bit primes) */
        cn_compile_opts_t o = small_opts();
        o.n = 4096;
        o.q_bits = 60;
        o.t_bits = 40;
        o.weight_bits = it == 0 ? 2 : 2 + (unsigned)cn_test_rng_below(&r, 3);
        cn_plan_t *p;
        d.msg[0] = 0;
        const cn_status st = cn_plan_compile(&p, &m, &o, &d);
        if (st == CN_OK) {
            double vb, sb;
            exact_bounds(&vb, &sb, p);
            ck_assert_msg(vb < 126 && sb < 126, "accepted with values 2^%.1f, sums 2^%.1f", vb,
                          sb);
            ck_assert(fabs(cn_plan_output_bits(p) - p->ops[p->nops - 1].range_bits) < 1e-9);
            accepted++;
            cn_plan_free(p);
        } else {
            ck_assert_msg(st == CN_ERR_OUT_OF_RANGE || st == CN_ERR_NOISE_EXHAUSTED, "%s: %s",
                          cn_strerror(st), d.msg);
            if (st == CN_ERR_OUT_OF_RANGE) {
                /* the message states a value past 126 bits, and it is right */
                const char *at = strstr(d.msg, "reach 2^");
                ck_assert_msg(at && atof(at + 8) >= 126, "%s", d.msg);
                refused++;
            }
        }
        if (it == 0) /* the network fits (outputs 2^114.8, sums 2^115.1) */
            ck_assert_msg(st != CN_ERR_OUT_OF_RANGE, "%s", d.msg);
        free(w);
        free(b);
        cn_model_clear(&m);
    }
    ck_assert(accepted > 0 && refused > 0);
}
END_TEST

CN_SUITE(faults)
{
    Suite *s = suite_create("faults");
    TCase *tc = cn_tcase("faults", 300);
    tcase_add_test(tc, test_zero_weight_layers);
    tcase_add_test(tc, test_model_arguments);
    tcase_add_test(tc, test_extreme_scales);
    tcase_add_test(tc, test_plan_recomputed);
    tcase_add_test(tc, test_errors_explained);
    tcase_add_test(tc, test_small_rings);
    tcase_add_test(tc, test_range_check_exact);
    suite_add_tcase(s, tc);
    return s;
}
