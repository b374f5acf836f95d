/* Tests of the packed layout's check mode (cn_packed_client_check, docs/net.md "Packed
 * layout", "Check mode"): random small networks at small insecure rings (as
 * test_packed.c builds them) pass with every op equal to the integer network and a
 * measured budget at least the layout's estimate; a layout whose linear op i was given a
 * corrupted bias (a copy of the plan's layer, one bias off by one) is caught at op i + 1,
 * the op the test corrupted, with the noise not exhausted; a layout given too few
 * plaintext moduli reports an overflow exactly when the plan's integer outputs exceed
 * T/2. The reference of the check is
 * the plan's own integer ops; the corrupted op is chosen by the test, not computed by the
 * code under test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../net/packed.h"
#include "common/util.h"
#include "cryptonets/cryptonets.h"

static double rnd_w(cn_test_rng_t *r)
{
    return ((double)cn_test_rng_below(r, 2001) - 1000.0) / 1000.0;
}

/* A random network: conv (or dense), square, dense, [square, dense]. */
static void random_model(cn_model_t *m, cn_test_rng_t *r)
{
    const size_t h = 4 + cn_test_rng_below(r, 4), w = 4 + cn_test_rng_below(r, 4);
    ck_assert_int_eq(cn_model_init(m, 1, h, w, 1.0 / 15, 0, 15), CN_OK);
    double *buf = malloc(4096 * sizeof *buf), *b = malloc(256 * sizeof *b);
    for (size_t i = 0; i < 4096; i++)
        buf[i] = rnd_w(r);
    for (size_t i = 0; i < 256; i++)
        b[i] = rnd_w(r);
    if (cn_test_rng_below(r, 2)) {
        const size_t maps = 1 + cn_test_rng_below(r, 2), k = 2 + cn_test_rng_below(r, 2);
        ck_assert_int_eq(cn_model_add_conv2d(m, maps, k, k, 1, 0, buf, b, NULL), CN_OK);
        ck_assert_int_eq(cn_model_add_flatten(m, NULL), CN_OK);
    } else {
        ck_assert_int_eq(cn_model_add_flatten(m, NULL), CN_OK);
        ck_assert_int_eq(cn_model_add_dense(m, 3 + cn_test_rng_below(r, 20), buf, b, NULL),
                         CN_OK);
    }
    ck_assert_int_eq(cn_model_add_square(m, NULL), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(m, 2 + cn_test_rng_below(r, 12), buf, b, NULL), CN_OK);
    if (cn_test_rng_below(r, 2)) {
        ck_assert_int_eq(cn_model_add_square(m, NULL), CN_OK);
        ck_assert_int_eq(
            cn_model_add_dense(m, 2 + cn_test_rng_below(r, 6), buf + 100, b + 50, NULL), CN_OK);
    }
    free(buf);
    free(b);
}

/* it-th case: a random network compiled at n = 2048 without security, its packed layout
 * for a batch of 1, 2 or 8, and count inputs in x (freed by the caller). */
static void make_case(cn_plan_t **p, cn_packed_t **pk, int64_t **x, size_t *count,
                      cn_test_rng_t *r, int it)
{
    cn_model_t m;
    random_model(&m, r);
    const size_t nin = cn_model_inputs(&m);
    cn_compile_opts_t co = {.weight_bits = 3 + (unsigned)cn_test_rng_below(r, 3),
                            .n = 2048,
                            .security = CN_SEC_NONE_INSECURE};
    cn_net_diag_t d;
    ck_assert_msg(cn_plan_compile(p, &m, &co, &d) == CN_OK, "compile: %s", d.msg);
    cn_model_clear(&m);
    static const size_t batches[] = {1, 2, 8};
    const size_t batch = batches[it % 3];
    *count = batch == 1 ? 1 : batch - cn_test_rng_below(r, 2);
    *x = malloc(*count * nin * sizeof **x);
    for (size_t i = 0; i < *count * nin; i++)
        (*x)[i] = (int64_t)cn_test_rng_below(r, 16);
    const cn_packed_opts_t po = {.batch = batch,
                                 .n = it % 2 ? 1024 : 2048,
                                 .security = CN_SEC_NONE_INSECURE,
                                 .first_blocks = (size_t)(it % 3)};
    ck_assert_msg(cn_packed_create(pk, *p, &po, &d) == CN_OK, "packed: %s", d.msg);
}

START_TEST(test_packed_check_passes)
{
    cn_test_rng_t r;
    const uint64_t seed = cn_test_seed() ^ 0xc4ec;
    cn_test_rng_init(&r, seed);
    for (int it = 0; it < 4; it++) {
        cn_plan_t *p;
        cn_packed_t *pk;
        int64_t *x;
        size_t count;
        make_case(&p, &pk, &x, &count, &r, it);
        uint8_t s[CN_SEED_BYTES] = {(uint8_t)it, 0x5c};
        cn_packed_client_t *c;
        ck_assert_int_eq(cn_packed_client_create(&c, pk, s, CN_RNG_INSECURE_ACK), CN_OK);
        cn_check_report_t rep;
        ck_assert_int_eq(cn_packed_client_check(&rep, c, x, count), CN_OK);
        ck_assert_msg(rep.op == 0 && rep.reason == CN_CHECK_OK, "seed %llu case %d: op %zu: %s",
                      (unsigned long long)seed, it, rep.op, rep.msg);
        ck_assert_msg((double)rep.min_budget + 1 >= cn_packed_output_budget(pk),
                      "case %d: measured budget %d below the estimate %.1f", it, rep.min_budget,
                      cn_packed_output_budget(pk));
        /* a count the layout does not hold */
        ck_assert_int_eq(cn_packed_client_check(&rep, c, x, cn_packed_batch(pk) + 1),
                         CN_ERR_INVALID_ARG);
        cn_packed_client_free(c);
        cn_packed_free(pk);
        cn_plan_free(p);
        free(x);
    }
}
END_TEST

START_TEST(test_packed_check_corrupted_bias)
{
    cn_test_rng_t r;
    const uint64_t seed = cn_test_seed() ^ 0xbad1;
    cn_test_rng_init(&r, seed);
    for (int it = 0; it < 3; it++) {
        cn_plan_t *p;
        cn_packed_t *pk;
        int64_t *x;
        size_t count;
        make_case(&p, &pk, &x, &count, &r, it);
        /* the linear ops of the layout; corrupt a random one of them */
        size_t lin[CN_PK_MAX_OPS], nl = 0;
        for (size_t i = 0; i < pk->nops; i++)
            if (pk->ops[i].kind == CN_PK_FIRST || pk->ops[i].kind == CN_PK_DIAG)
                lin[nl++] = i;
        ck_assert_uint_ge(nl, 2);
        const size_t bad = lin[cn_test_rng_below(&r, nl)];
        const cn_lin_t *orig = pk->ops[bad].lin;
        cn_lin_t copy = *orig;
        copy.bias = malloc(orig->nout * sizeof *copy.bias);
        memcpy(copy.bias, orig->bias, orig->nout * sizeof *copy.bias);
        const size_t j = cn_test_rng_below(&r, orig->nout);
        copy.bias[j] += 1;
        pk->ops[bad].lin = &copy;
        uint8_t s[CN_SEED_BYTES] = {(uint8_t)it, 0xb1};
        cn_packed_client_t *c;
        ck_assert_int_eq(cn_packed_client_create(&c, pk, s, CN_RNG_INSECURE_ACK), CN_OK);
        cn_check_report_t rep;
        ck_assert_int_eq(cn_packed_client_check(&rep, c, x, count), CN_OK);
        ck_assert_msg(rep.op == bad + 1 && rep.reason == CN_CHECK_OTHER,
                      "seed %llu case %d: corrupted op %zu, reported op %zu reason %d: %s",
                      (unsigned long long)seed, it, bad + 1, rep.op, (int)rep.reason, rep.msg);
        ck_assert_int_gt(rep.min_budget, 0);
        char want[32];
        snprintf(want, sizeof want, "value %zu ", j);
        ck_assert_msg(strstr(rep.msg, want), "case %d: %s (want %s)", it, rep.msg, want);
        cn_packed_client_free(c);
        pk->ops[bad].lin = orig;
        free(copy.bias);
        cn_packed_free(pk);
        cn_plan_free(p);
        free(x);
    }
}
END_TEST

/* Too few plaintext moduli: the plan's output bound is lowered (a copy of the true one is
 * restored after) before the layout is made, so the layout picks one 14-bit modulus t.
 * Every op still agrees modulo t; whether the outputs fit is decided here from the plan's
 * integer outputs (cn_plan_eval_plain) against (t - 1) / 2: when one does not, the report
 * must be CN_CHECK_OVERFLOW at the last op, else CN_CHECK_OK. */
START_TEST(test_packed_check_overflow)
{
    cn_test_rng_t r;
    const uint64_t seed = cn_test_seed() ^ 0x0f10;
    cn_test_rng_init(&r, seed);
    int overflowed = 0;
    for (int it = 0; it < 3; it++) {
        cn_model_t m;
        random_model(&m, &r);
        const size_t nin = cn_model_inputs(&m);
        cn_compile_opts_t co = {.weight_bits = 5, .n = 2048, .security = CN_SEC_NONE_INSECURE};
        cn_net_diag_t d;
        cn_plan_t *p;
        ck_assert_msg(cn_plan_compile(&p, &m, &co, &d) == CN_OK, "compile: %s", d.msg);
        cn_model_clear(&m);
        const size_t count = 2, nout = cn_plan_outputs(p);
        int64_t *x = malloc(count * nin * sizeof *x);
        for (size_t i = 0; i < count * nin; i++)
            x[i] = (int64_t)cn_test_rng_below(&r, 16);
        cn_int128 *ref = malloc(count * nout * sizeof *ref);
        ck_assert_int_eq(cn_plan_eval_plain(ref, p, x, count), CN_OK);
        const double bound = p->out_bound_bits;
        p->out_bound_bits = 1;
        const cn_packed_opts_t po = {
            .batch = 2, .n = 2048, .t_bits = 14, .security = CN_SEC_NONE_INSECURE};
        cn_packed_t *pk;
        ck_assert_msg(cn_packed_create(&pk, p, &po, &d) == CN_OK, "packed: %s", d.msg);
        p->out_bound_bits = bound;
        const cn_bfv_params_t *prm = cn_packed_params(pk);
        ck_assert_uint_eq(prm->nt, 1);
        const cn_int128 half = (cn_int128)((prm->t[0] - 1) / 2);
        int fits = 1;
        for (size_t i = 0; i < count * nout; i++)
            if (ref[i] > half || ref[i] < -half)
                fits = 0;
        uint8_t s[CN_SEED_BYTES] = {(uint8_t)it, 0x0f};
        cn_packed_client_t *c;
        ck_assert_int_eq(cn_packed_client_create(&c, pk, s, CN_RNG_INSECURE_ACK), CN_OK);
        cn_check_report_t rep;
        ck_assert_int_eq(cn_packed_client_check(&rep, c, x, count), CN_OK);
        if (fits)
            ck_assert_msg(rep.op == 0 && rep.reason == CN_CHECK_OK, "case %d: op %zu: %s", it,
                          rep.op, rep.msg);
        else
            ck_assert_msg(rep.op == pk->nops && rep.reason == CN_CHECK_OVERFLOW,
                          "case %d: want overflow at op %zu, got op %zu reason %d: %s", it,
                          pk->nops, rep.op, (int)rep.reason, rep.msg);
        overflowed += !fits;
        cn_packed_client_free(c);
        cn_packed_free(pk);
        cn_plan_free(p);
        free(ref);
        free(x);
    }
    ck_assert_int_gt(overflowed, 0); /* the case the test is for did occur */
}
END_TEST

CN_SUITE(packed_check)
{
    Suite *s = suite_create("packed_check");
    TCase *tc = cn_tcase("core", 600);
    tcase_add_test(tc, test_packed_check_passes);
    tcase_add_test(tc, test_packed_check_corrupted_bias);
    tcase_add_test(tc, test_packed_check_overflow);
    suite_add_tcase(s, tc);
    return s;
}
