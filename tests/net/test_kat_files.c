/* Known-answer tests of net/'s file bodies: the bytes cn_model_to_bytes writes for the
 * committed MNIST model (examples/models/cryptonets_mnist.cnm, a file of format 1 that is
 * written back framed) and for a model with every layer kind (format 1.1: it has a poly
 * layer) and without its poly layer (1.0); and the client state (cn_client_to_bytes) of
 * a small plan's client made from a fixed seed, which holds the plan's SHA-256 and the
 * secret key. The plan is compiled with every choice forced and the portable cost
 * profile, so its bytes (and the digest the state records) do not depend on the CPU.
 *
 * These pin bytes against regressions: the expected lengths and SHA-256 digests come
 * from the code under test at 85f25f3 (before the model, plan and client-state bodies
 * moved to lib/io's public byte writer and reader, issue 13), computed there with this
 * file; the round trips through the loaders are checked too. A change that alters these
 * bytes on purpose regenerates them with
 *   CN_KAT_PRINT=1 CK_RUN_SUITE=kat_files build/tests/run_tests
 * and says in its commit why the bytes changed.
 *
 * History: issue 17 changed the plan (same length) and so the client state, which records
 * the plan's SHA-256 (same length): the cost model was recalibrated (the plan carries its
 * estimate, f64) and the plaintext moduli became the primes of the forced size with the
 * smallest Q mod t, which the noise estimate uses (other t_i, noise and budget fields).
 * Then the noise estimate's probabilistic bound (issue 17, net/compiler/noise.c) moved
 * the plan's noise and budget fields (same length) and so the state's plan digest.
 * The model bodies are unchanged. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/cryptonets.h"

#define MNIST_MODEL "examples/models/cryptonets_mnist.cnm"

/* lengths and SHA-256 digests at 85f25f3 (the plan's and the state's since issue 17) */
#define KAT_MNIST_MODEL_LEN 686064
#define KAT_MNIST_MODEL_SHA "98f62e5c0d4659d4c1d33ca60aef71e78072340fd54c867b5398110486b7b6bf"
#define KAT_KIND11_LEN 1960
#define KAT_KIND11_SHA "db742b6b7993139a2d29cf1b7884c5f43bb24fa367fb43fc7e0518ac4e61ca8f"
#define KAT_KIND10_LEN 1936
#define KAT_KIND10_SHA "7d556e580b2940a45b162158892b4c500a1c3f7c7f859c1d0f62106de943645c"
#define KAT_PLAN_LEN 35664
#define KAT_PLAN_SHA "ba8699a0bc7247441869c2269f55427daea1d79d744d91512555768a31fb041f"
#define KAT_STATE_LEN 1152
#define KAT_STATE_SHA "a13044bf81a97f044576398bee33d6362bd964858471231da44a41b7a1236f04"

/* Writes m, pins the bytes, and checks that they load back and write again identically. */
static void pin_model(const char *name, const cn_model_t *m, size_t want_len, const char *want)
{
    uint8_t *b, *b2;
    size_t len, len2;
    ck_assert_int_eq(cn_model_to_bytes(&b, &len, m), CN_OK);
    cn_test_kat(name, b, len, want_len, want);
    cn_model_t back;
    cn_net_diag_t d;
    ck_assert_msg(cn_model_from_bytes(&back, b, len, &d) == CN_OK, "%s: %s", name, d.msg);
    ck_assert_int_eq(cn_model_to_bytes(&b2, &len2, &back), CN_OK);
    ck_assert_uint_eq(len2, len);
    ck_assert(memcmp(b2, b, len) == 0);
    free(b);
    free(b2);
    cn_model_clear(&back);
}

START_TEST(test_kat_mnist_model)
{
    cn_model_t m;
    cn_net_diag_t d;
    ck_assert_msg(cn_model_load(&m, MNIST_MODEL, &d) == CN_OK, "%s: %s", MNIST_MODEL, d.msg);
    pin_model("mnist_model", &m, KAT_MNIST_MODEL_LEN, KAT_MNIST_MODEL_SHA);
    cn_model_clear(&m);
}
END_TEST

/* 2 x 6 x 6 inputs in [-3, 12] (scale 1/7); conv2d of 3 maps, 3 x 3 windows, stride 1,
 * padding 1; square; pool 2 x 2, stride 2, scale 0.25; flatten; dense to 5; then (with
 * poly) 0.5 x^2 - 0.25 x + 1; dense to 4. Weights and biases from fixed formulas, some
 * not exactly representable (1/3, 0.1) so every bit of a double is exercised. */
static void every_kind_model(cn_model_t *m, int poly)
{
    cn_net_diag_t d;
    double w[3 * 2 * 3 * 3 + 5 * 3 * 3 * 3 + 4 * 5], b[16];
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        w[i] = (double)((int)((i * 29 + 7) % 23) - 11) / (i % 3 ? 3.0 : 10.0);
    for (size_t i = 0; i < 16; i++)
        b[i] = (double)((int)((i * 13 + 5) % 11) - 5) * 0.1;
    ck_assert_int_eq(cn_model_init(m, 2, 6, 6, 1.0 / 7, -3, 12), CN_OK);
    ck_assert_int_eq(cn_model_add_conv2d(m, 3, 3, 3, 1, 1, w, b, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_square(m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_pool(m, 2, 2, 2, 0.25, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_flatten(m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(m, 5, w + 54, b + 3, &d), CN_OK);
    if (poly)
        ck_assert_int_eq(cn_model_add_poly(m, 0.5, -0.25, 1, &d), CN_OK);
    else
        ck_assert_int_eq(cn_model_add_square(m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(m, 4, w + 54 + 135, b + 8, &d), CN_OK);
}

START_TEST(test_kat_every_kind_model)
{
    cn_model_t m;
    every_kind_model(&m, 1);
    pin_model("every_kind_model_1_1", &m, KAT_KIND11_LEN, KAT_KIND11_SHA);
    cn_model_clear(&m);
    every_kind_model(&m, 0);
    pin_model("every_kind_model_1_0", &m, KAT_KIND10_LEN, KAT_KIND10_SHA);
    cn_model_clear(&m);
}
END_TEST

/* the every-kind model (1.0) at 4-bit weights, n = 4096, insecure parameters forced */
START_TEST(test_kat_client_state)
{
    cn_model_t m;
    every_kind_model(&m, 0);
    cn_compile_opts_t o = {0};
    o.weight_bits = 4;
    o.n = 4096;
    o.q_bits = 50;
    o.nq = 4;
    o.t_bits = 30;
    o.nt = 2;
    o.security = CN_SEC_NONE_INSECURE;
    o.cost_profile = CN_COST_PORTABLE;
    cn_plan_t *p;
    cn_net_diag_t d;
    ck_assert_msg(cn_plan_compile(&p, &m, &o, &d) == CN_OK, "compile: %s", d.msg);
    uint8_t *pb;
    size_t pl;
    ck_assert_int_eq(cn_plan_to_bytes(&pb, &pl, p), CN_OK);
    cn_test_kat("every_kind_plan", pb, pl, KAT_PLAN_LEN, KAT_PLAN_SHA);
    free(pb);
    uint8_t seed[CN_SEED_BYTES];
    cn_test_kat_seed(seed, 0x7374617465); /* "state" */
    cn_client_t *c, *c2;
    ck_assert_int_eq(cn_client_create(&c, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
    uint8_t *s, *s2;
    size_t sl, sl2;
    ck_assert_int_eq(cn_client_to_bytes(&s, &sl, c), CN_OK);
    cn_test_kat("client_state", s, sl, KAT_STATE_LEN, KAT_STATE_SHA);
    ck_assert_msg(cn_client_from_bytes(&c2, p, s, sl, &d) == CN_OK, "state: %s", d.msg);
    ck_assert_int_eq(cn_client_to_bytes(&s2, &sl2, c2), CN_OK);
    ck_assert_uint_eq(sl2, sl);
    ck_assert(memcmp(s2, s, sl) == 0);
    cn_client_state_free(s, sl);
    cn_client_state_free(s2, sl2);
    cn_client_free(c);
    cn_client_free(c2);
    cn_plan_free(p);
    cn_model_clear(&m);
}
END_TEST

CN_SUITE(kat_files)
{
    Suite *s = suite_create("kat_files");
    TCase *tc = cn_tcase("core", 120);
    tcase_add_test(tc, test_kat_mnist_model);
    tcase_add_test(tc, test_kat_every_kind_model);
    tcase_add_test(tc, test_kat_client_state);
    suite_add_tcase(s, tc);
    return s;
}
