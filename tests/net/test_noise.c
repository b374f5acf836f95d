/* The noise estimate is a lower bound: thousands of random plans on small rings (n = 256
 * to 1024, security off for speed), with random plaintext and ciphertext prime sizes (so
 * Q mod t takes every size relative to t), margins, schedules and networks (bias-only and
 * bias-dominated layers, 0 to 2 squares, signed inputs), each run encrypted on a full
 * batch of random inputs: every output equals the plaintext integer network's, and the
 * reply's measured budget (exact, big integers) is at least the estimate. The plaintext
 * moduli are the compiler's (the primes with the smallest Q mod t, whose exact value the
 * estimate uses); 1 plan in 8 runs at n = 2048 and 1 in 4 on a batch of one input
 * repeated in every slot (constant plaintext polynomials). CN_NOISE_PLANS sets the
 * number of plans (default 1500). */
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

/* A random network on 1 x 1 x w inputs in [lo, hi]. */
static void noise_model(cn_model_t *m, cn_test_rng_t *r)
{
    const size_t w = 1 + cn_test_rng_below(r, 6);
    const int64_t hi = (int64_t)1 << cn_test_rng_below(r, 12);
    const int64_t lo = cn_test_rng_below(r, 3) == 0 ? -hi : 0;
    ck_assert_int_eq(cn_model_init(m, 1, 1, w, 1.0 / (double)hi, lo, hi), CN_OK);
    const size_t nlin = 1 + cn_test_rng_below(r, 3);
    size_t squares = cn_test_rng_below(r, 3);
    double wt[64], b[8];
    cn_net_diag_t d;
    for (size_t l = 0; l < nlin; l++) {
        const size_t out = 1 + cn_test_rng_below(r, 6), in = cn_model_outputs(m);
        const int zero = cn_test_rng_below(r, 8) == 0;                   /* a bias-only layer */
        const double bscale = exp2((double)cn_test_rng_below(r, 9) - 4); /* 1/16 .. 16 */
        for (size_t i = 0; i < out * in; i++)
            wt[i] = zero || cn_test_rng_below(r, 4) == 0 ? 0 : 2 * unit(r) - 1;
        for (size_t j = 0; j < out; j++)
            b[j] = bscale * (2 * unit(r) - 1);
        ck_assert_int_eq(cn_model_add_dense(m, out, wt, b, &d), CN_OK);
        if (squares > 0 && (l + 1 < nlin || cn_test_rng_below(r, 2))) {
            ck_assert_int_eq(cn_model_add_square(m, &d), CN_OK);
            squares--;
        }
    }
}

START_TEST(test_noise_lower_bound)
{
    const char *env = getenv("CN_NOISE_PLANS");
    const size_t plans = env ? (size_t)strtoull(env, NULL, 10) : 1500;
    cn_test_rng_t r;
    cn_test_rng_init(&r, 701);
    size_t compiled = 0, tight = 0;
    double worst = INFINITY;
    for (size_t k = 0; k < plans; k++) {
        cn_model_t m;
        noise_model(&m, &r);
        cn_compile_opts_t o = {0};
        o.security = CN_SEC_NONE_INSECURE;
        /* 256 .. 1024, and 1 plan in 8 at 2048 (closer to real rings) */
        o.n = (size_t)256 << (cn_test_rng_below(&r, 8) == 0 ? 3 : cn_test_rng_below(&r, 3));
        o.weight_bits = 2 + (unsigned)cn_test_rng_below(&r, 9);
        o.t_bits = 14 + (unsigned)cn_test_rng_below(&r, 27);
        o.q_bits = 30 + (unsigned)cn_test_rng_below(&r, 31);
        o.margin_bits = 1 + (unsigned)cn_test_rng_below(&r, 10);
        o.experimental.no_mod_switch = cn_test_rng_below(&r, 4) == 0;
        o.experimental.eager_relin = cn_test_rng_below(&r, 4) == 0;
        cn_plan_t *p;
        cn_net_diag_t d;
        const cn_status st = cn_plan_compile(&p, &m, &o, &d);
        if (st != CN_OK) {
            /* a refusal must be one of the documented reasons, explained */
            ck_assert_msg(st == CN_ERR_NOISE_EXHAUSTED || st == CN_ERR_NOT_ENOUGH_PRIMES ||
                              st == CN_ERR_OUT_OF_RANGE,
                          "plan %zu: %s: %s", k, cn_strerror(st), d.msg);
            ck_assert(d.msg[0] != 0);
            cn_model_clear(&m);
            continue;
        }
        compiled++;
        const size_t count = cn_plan_params(p)->n, nin = cn_plan_inputs(p);
        const size_t nout = cn_plan_outputs(p);
        int64_t *x = malloc(count * nin * sizeof *x);
        cn_int128 *ref = malloc(count * nout * sizeof *ref),
                  *got = malloc(count * nout * sizeof *got);
        const int64_t lo = m.input_min, span = m.input_max - m.input_min + 1;
        for (size_t i = 0; i < count * nin; i++) /* the extremes often, to reach the ranges */
            x[i] = cn_test_rng_below(&r, 2)
                       ? (cn_test_rng_below(&r, 2) ? lo : m.input_max)
                       : lo + (int64_t)cn_test_rng_below(&r, (uint64_t)span);
        /* 1 plan in 4: every slot holds the same input, so each encoded plaintext is a
         * constant polynomial (one coefficient carries the whole r m / Q term) */
        if (cn_test_rng_below(&r, 4) == 0)
            for (size_t i = nin; i < count * nin; i++)
                x[i] = x[i % nin];
        ck_assert_int_eq(cn_plan_eval_plain(ref, p, x, count), CN_OK);
        int bud;
        cn_test_run_plan(got, &bud, p, x, count, k);
        for (size_t i = 0; i < count * nout; i++)
            ck_assert_msg(got[i] == ref[i],
                          "plan %zu, slot %zu, output %zu: decrypted %.6g, "
                          "integer %.6g",
                          k, i / nout, i % nout, (double)got[i], (double)ref[i]);
        const double est = cn_plan_output_budget(p);
        ck_assert_msg(bud >= floor(est),
                      "plan %zu (n %zu, t %u bits, q %u bits): measured "
                      "budget %d, estimate %.2f",
                      k, o.n, o.t_bits, o.q_bits, bud, est);
        if (bud - est < worst)
            worst = bud - est;
        tight += bud - est < 2;
        free(x);
        free(ref);
        free(got);
        cn_plan_free(p);
        cn_model_clear(&m);
    }
    /* the test means something only if most plans compile, some of them tightly */
    ck_assert_msg(compiled >= plans / 2, "only %zu of %zu plans compiled", compiled, plans);
    if (getenv("CN_NOISE_VERBOSE"))
        fprintf(stderr,
                "noise: %zu of %zu plans compiled, %zu within 2 bits of the estimate, "
                "smallest measured - estimated %.2f bits\n",
                compiled, plans, tight, worst);
}
END_TEST

CN_SUITE(noise)
{
    Suite *s = suite_create("noise");
    TCase *tc = cn_tcase("noise", 600);
    tcase_add_test(tc, test_noise_lower_bound);
    suite_add_tcase(s, tc);
    return s;
}
