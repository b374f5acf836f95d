/* Poly activations a x^2 + b x + c (model layer CN_LAYER_POLY) compiled exactly: the
 * compiler folds each into a square between two affine maps (docs/net.md). Random
 * networks with poly layers anywhere (first, between linear layers, last; a = 0, b = 0,
 * negative a) run encrypted on a full batch: every output equals the plaintext integer
 * network's, and divided by the output scale is close to the float network's (the
 * independent oracle: cn_model_forward computes a x^2 + b x + c directly). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/net_fixture.h"
#include "common/util.h"
#include "cryptonets/cryptonets.h"

static double unit(cn_test_rng_t *r)
{
    return (double)(cn_test_rng_next(r) >> 11) * 0x1p-53;
}

START_TEST(test_poly_networks)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1401 + (uint64_t)_i);
    cn_model_t m;
    cn_net_diag_t d;
    const size_t w = 2 + cn_test_rng_below(&r, 4);
    ck_assert_int_eq(cn_model_init(&m, 1, 1, w, 1.0 / 15, 0, 15), CN_OK);
    double wt[64], b[8];
    const int where = _i % 3; /* 0: poly first, 1: between layers, 2: last */
    const double coef[][3] = {
        {0.5, 0.25, -0.1}, {-0.3, 1, 0.2}, {0, 0.7, 0.05}, {0.8, 0, 0}, {1.5, -2, 0.5}};
    const double *pc = coef[_i % 5];
    if (where == 0)
        ck_assert_int_eq(cn_model_add_poly(&m, pc[0], pc[1], pc[2], &d), CN_OK);
    size_t in = w;
    for (int l = 0; l < 2; l++) {
        const size_t out = 2 + cn_test_rng_below(&r, 3);
        for (size_t i = 0; i < in * out; i++)
            wt[i] = 2 * unit(&r) - 1;
        for (size_t j = 0; j < out; j++)
            b[j] = unit(&r) - 0.5;
        ck_assert_int_eq(cn_model_add_dense(&m, out, wt, b, &d), CN_OK);
        if (l == 0 && where == 1)
            ck_assert_int_eq(cn_model_add_poly(&m, pc[0], pc[1], pc[2], &d), CN_OK);
        in = out;
    }
    if (where == 2)
        ck_assert_int_eq(cn_model_add_poly(&m, pc[0], pc[1], pc[2], &d), CN_OK);
    cn_compile_opts_t o = {0};
    o.n = 1024;
    o.security = CN_SEC_NONE_INSECURE;
    o.weight_bits = 10;
    cn_plan_t *p;
    ck_assert_msg(cn_plan_compile(&p, &m, &o, &d) == CN_OK, "compile: %s", d.msg);
    const size_t count = 1024, nin = cn_plan_inputs(p), nout = cn_plan_outputs(p);
    int64_t *x = malloc(count * nin * sizeof *x);
    for (size_t i = 0; i < count * nin; i++)
        x[i] = (int64_t)cn_test_rng_below(&r, 16);
    cn_int128 *ref = malloc(count * nout * sizeof *ref),
              *got = malloc(count * nout * sizeof *got);
    ck_assert_int_eq(cn_plan_eval_plain(ref, p, x, count), CN_OK);
    cn_test_run_plan(got, NULL, p, x, count, 1400 + (uint64_t)_i);
    double fo[8], err = 0, big = 1e-9;
    for (size_t s = 0; s < count; s++) {
        ck_assert_int_eq(cn_model_forward(fo, &m, x + s * nin), CN_OK);
        for (size_t j = 0; j < nout; j++) {
            ck_assert_msg(got[s * nout + j] == ref[s * nout + j], "slot %zu output %zu", s, j);
            err = fmax(err, fabs((double)got[s * nout + j] / cn_plan_output_scale(p) - fo[j]));
            big = fmax(big, fabs(fo[j]));
        }
    }
    ck_assert_msg(err <= 0.02 * big, "poly %g %g %g at %d: error %g of %g", pc[0], pc[1], pc[2],
                  where, err, big);
    free(x);
    free(ref);
    free(got);
    cn_plan_free(p);
    cn_model_clear(&m);
}
END_TEST

CN_SUITE(poly_act)
{
    Suite *s = suite_create("poly_act");
    TCase *tc = cn_tcase("core", 300);
    tcase_add_loop_test(tc, test_poly_networks, 0, 15);
    suite_add_tcase(s, tc);
    return s;
}
