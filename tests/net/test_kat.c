/* Known-answer tests of net/: the plan bytes of the committed MNIST model
 * (examples/models/cryptonets_mnist.cnm) and of a tiny hand-built model, each compiled
 * with every option that the compiler could choose forced (so nothing depends on the
 * CPU; the plan's cost estimate, which does, is zeroed before its digest); and, for the
 * tiny model, the bytes a client makes from a fixed seed (evaluation keys, an encrypted
 * batch of fixed inputs) and those of the server's reply.
 *
 * These pin bytes against regressions: the expected lengths and SHA-256 digests come
 * from the code under test itself, at commit d85e10c (main when they were written); only
 * the decrypted outputs are checked against an independent reference (the integer
 * network run in the clear, cn_plan_eval_plain). A change that alters these bytes on
 * purpose (compiler, plan format, evaluator, sampler) regenerates them with
 *   CN_KAT_PRINT=1 CK_RUN_SUITE=kat_net build/tests/run_tests
 * which prints "KAT <name>: <length> <sha256>" for each instead of checking; paste them
 * below and say in the commit why the bytes changed.
 *
 * History: the two plan digests changed once, with issue 12's correction of the noise
 * estimate (the fresh and bias terms bound r m by t^2, not t^2/2): the plans' noise and
 * budget fields (f64) moved, nothing else; keys, batch and reply bytes are unchanged.
 * Then plan files became lib/io frames (issue 13: one header and checksum for every
 * file): 32 bytes longer, the same body; keys, batch and reply bytes unchanged.
 * Then key switching keys became seeded (issue 16, format 1.1): the evaluation keys are
 * a 32-byte seed and k0 (half as long), and since keygen now draws a seed instead of
 * the uniform k1, the client's generator is elsewhere when it encrypts: batch and reply
 * bytes moved (same lengths); the plans are unchanged.
 * Then issue 17 recalibrated the cost model (net/compiler/cost.c: today's kernels, client
 * time counted, the server's memory bounded): the two cost-profile plans carry the new
 * estimate (f64) and may take other parameters; the pinned plans, keys, batch and reply
 * are unchanged. Then the plaintext moduli became the tb-bit batching primes with the
 * smallest Q mod t (net/compiler/params.c, choose_plain_moduli) and the noise estimate
 * uses that r exactly (noise.c): every plan here has other t_i of the same sizes (so the
 * evaluation keys' parameter fingerprint, the batch and the reply move too, same
 * lengths) and other noise and budget fields; the portable profile's plan is 64 bytes
 * shorter (other parameters and schedule). Then the noise estimate gained its second,
 * probabilistic bound (issue 17, net/compiler/noise.c): the four plans' noise and budget
 * fields (f64) moved, same lengths; keys, batch and reply are unchanged. Then the cost
 * model's refit (issue 17, sixth session: the n = 16384 square and the modulus switch's
 * rows, the IFMA kernels' per-output costs): the two profile plans' bytes moved, same
 * lengths (their cost estimate, an f64 field, changes with the model whatever the
 * parameters). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/cryptonets.h"
#include "../../net/net_internal.h"

/* test_kat_cost_profiles: the tiny model's plan for an IFMA server and a portable one */
static const size_t KAT_PROFILE_LEN[2] = {2336, 2272};
static const char *const KAT_PROFILE_SHA[2] = {
    "9f6c60f76ad227dd2b7327ad20fa20e92a4939c02616b24e78b231a8bec9a800",
    "7c8f9770360cc40eb2e989819f4f2802683957163d7cb697f2dd02a12e092df8"};

#define MNIST_MODEL "examples/models/cryptonets_mnist.cnm"

/* Compiles m with opts, checks that the parameters are the forced ones, and pins the
 * plan's bytes but for the cost estimate. */
static cn_plan_t *compile_pinned(const char *name, const cn_model_t *m,
                                 const cn_compile_opts_t *o, size_t want_len, const char *want)
{
    cn_plan_t *p;
    cn_net_diag_t d;
    ck_assert_msg(cn_plan_compile(&p, m, o, &d) == CN_OK, "compile %s: %s", name, d.msg);
    const cn_bfv_params_t *prm = cn_plan_params(p);
    ck_assert_uint_eq(prm->n, o->n);
    ck_assert_uint_eq(prm->nq, o->nq);
    ck_assert_uint_eq(prm->nt, o->nt);
    for (size_t i = 0; i < prm->nq; i++)
        ck_assert_uint_eq(64 - (unsigned)__builtin_clzll(prm->q[i]), o->q_bits);
    for (size_t i = 0; i < prm->nt; i++)
        ck_assert_uint_eq(64 - (unsigned)__builtin_clzll(prm->t[i]), o->t_bits);
    uint8_t *b;
    size_t len;
    ck_assert_int_eq(cn_plan_to_bytes(&b, &len, p), CN_OK);
    /* the cost model's estimate (f64 seconds per batch, docs/net.md "Plan format") comes
     * from the CPU's kernels: zeroed, and the checksum resealed, before the digest */
    ck_assert_uint_ge(len, 16);
    uint64_t pw = 0;
    for (int i = 7; i >= 0; i--)
        pw = pw << 8 | b[CN_IO_HEADER_BYTES + 8 + i];
    const size_t cost_at = CN_IO_HEADER_BYTES + 16 + (size_t)pw + 10 * 8;
    ck_assert_uint_le(cost_at + 8, len - 8);
    double cost;
    memcpy(&cost, b + cost_at, 8);
    ck_assert_msg(cost > 0 && cost < 1e4, "%s: no cost estimate at byte %zu", name, cost_at);
    memset(b + cost_at, 0, 8);
    cn_test_reseal_net(b, len);
    cn_test_kat(name, b, len, want_len, want);
    free(b);
    return p;
}

/* The MNIST model at the parameters the compiler picks for it on its own with 4-bit
 * weights at n = 8192 (42-bit q primes x 4, 24-bit t x 3, at d85e10c), all forced. */
START_TEST(test_kat_mnist_plan)
{
    cn_model_t m;
    cn_net_diag_t d;
    ck_assert_msg(cn_model_load(&m, MNIST_MODEL, &d) == CN_OK, "%s: %s", MNIST_MODEL, d.msg);
    cn_compile_opts_t o = {0};
    o.weight_bits = 4;
    o.n = 8192;
    o.q_bits = 42;
    o.nq = 4;
    o.t_bits = 24;
    o.nt = 3;
    cn_plan_t *p =
        compile_pinned("mnist_plan", &m, &o, 1685048,
                       "d39e021f2be8fa099efcb4288fbaf7bf40a5ceb6082d9cf13fcf070789e74ef9");
    cn_plan_free(p);
    cn_model_clear(&m);
}
END_TEST

/* The tiny model: 1 x 4 x 4 inputs in [0, 15]; conv2d of 2 maps, 2 x 2 windows, stride
 * 2; square; flatten; dense to 4; square; dense to 3. Weights and biases are multiples
 * of 1/8 in [-1, 1] (exact doubles) from a fixed formula. */
static void tiny_model(cn_model_t *m)
{
    cn_net_diag_t d;
    double w[64], b[8];
    for (int i = 0; i < 64; i++)
        w[i] = (double)((i * 37 + 11) % 17 - 8) / 8;
    for (int i = 0; i < 8; i++)
        b[i] = (double)((i * 5 + 3) % 9 - 4) / 8;
    ck_assert_int_eq(cn_model_init(m, 1, 4, 4, 1.0 / 15, 0, 15), CN_OK);
    ck_assert_int_eq(cn_model_add_conv2d(m, 2, 2, 2, 2, 0, w, b, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_square(m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_flatten(m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(m, 4, w + 8, b + 2, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_square(m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(m, 3, w + 40, b + 5, &d), CN_OK);
}

/* 4-bit weights at n = 8192 and the parameters the compiler picks for them on its own
 * (42-bit q primes x 4, 28-bit t x 2, at d85e10c), all forced */
static void tiny_opts(cn_compile_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->weight_bits = 4;
    o->n = 8192;
    o->q_bits = 42;
    o->nq = 4;
    o->t_bits = 28;
    o->nt = 2;
}

/* the tiny model's plan, client bytes from a fixed seed, and the server's reply */
START_TEST(test_kat_tiny_client_server)
{
    cn_model_t m;
    cn_compile_opts_t o;
    tiny_model(&m);
    tiny_opts(&o);
    cn_plan_t *p =
        compile_pinned("tiny_plan", &m, &o, 2336,
                       "450e303d991f83b21358efa252a2f2332460046743b1674e36a89e74bd56c0ba");
    const size_t nin = cn_plan_inputs(p), nout = cn_plan_outputs(p), count = 5;
    int64_t x[5 * 16];
    ck_assert_uint_eq(nin, 16);
    for (size_t i = 0; i < count * nin; i++)
        x[i] = (int64_t)((i * 7 + i / 16) % 16);
    cn_int128 ref[5 * 3], got[5 * 3];
    ck_assert_uint_eq(nout, 3);
    ck_assert_int_eq(cn_plan_eval_plain(ref, p, x, count), CN_OK);

    uint8_t seed[CN_SEED_BYTES];
    cn_test_kat_seed(seed, 0x6e6574); /* "net" */
    cn_client_t *c;
    cn_server_t *s;
    uint8_t *keys, *up, *down, *down2;
    size_t kl, ul, dl, dl2;
    ck_assert_int_eq(cn_client_create(&c, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
    ck_assert_int_eq(cn_client_eval_keys(&keys, &kl, c), CN_OK);
    cn_test_kat("tiny_eval_keys", keys, kl, 864332,
                "e6320df8d5c6ce50d9b9b3d0ad3bf34a7df2b5f033011d9a0d72f4ab956952c6");
    ck_assert_int_eq(cn_client_encrypt(&up, &ul, c, x, count, NULL), CN_OK);
    cn_test_kat("tiny_batch", up, ul, 5506640,
                "2eba366c23a43367fe31e1e40b2be515db66dabca155c5ec951bda54731ff718");
    ck_assert_int_eq(cn_server_create(&s, p, keys, kl, 2, NULL), CN_OK);
    ck_assert_int_eq(cn_server_eval(&down, &dl, s, up, ul, NULL, NULL), CN_OK);
    cn_test_kat("tiny_reply", down, dl, 1548464,
                "b40a525d354da4f6f5fa55fbc582641818ea946d70c94291c51ea4a3f0df4a7b");
    /* the per-ciphertext linear layers give the same bytes (net.h) */
    ck_assert_int_eq(cn_server_set_linear_mode(s, CN_LINEAR_PER_CIPHERTEXT), CN_OK);
    ck_assert_int_eq(cn_server_eval(&down2, &dl2, s, up, ul, NULL, NULL), CN_OK);
    ck_assert_uint_eq(dl2, dl);
    ck_assert(memcmp(down2, down, dl) == 0);
    ck_assert_int_eq(cn_client_decrypt(got, c, down, dl, count, NULL), CN_OK);
    for (size_t i = 0; i < count * nout; i++)
        ck_assert_msg(got[i] == ref[i], "input %zu output %zu: decrypted %lld, integer %lld",
                      i / nout, i % nout, (long long)got[i], (long long)ref[i]);
    free(keys);
    free(up);
    free(down);
    free(down2);
    cn_server_free(s);
    cn_client_free(c);
    cn_plan_free(p);
    cn_model_clear(&m);
}
END_TEST

/* The cost model reads no CPU when given a profile: the tiny model compiled by the search
 * (nothing forced but n) for an AVX-512 IFMA server and for a portable one gives the same
 * bytes, cost estimate included, in every process: CI runs this suite natively and with
 * CN_SIMD=portable. The IFMA profile keeps every prime below 2^50 (its kernels' range);
 * the portable one is costed higher. */
START_TEST(test_kat_cost_profiles)
{
    cn_model_t m;
    tiny_model(&m);
    static const struct {
        cn_cost_profile prof;
        const char *name;
    } k[] = {{CN_COST_AVX512IFMA, "profile_ifma"}, {CN_COST_PORTABLE, "profile_portable"}};
    double cost[2];
    for (size_t i = 0; i < 2; i++) {
        cn_compile_opts_t o = {0};
        o.weight_bits = 4;
        o.n = 8192;
        o.cost_profile = k[i].prof;
        cn_plan_t *p;
        cn_net_diag_t d;
        ck_assert_msg(cn_plan_compile(&p, &m, &o, &d) == CN_OK, "%s: %s", k[i].name, d.msg);
        const cn_bfv_params_t *prm = cn_plan_params(p);
        if (k[i].prof == CN_COST_AVX512IFMA)
            for (size_t j = 0; j < prm->nq; j++)
                ck_assert(prm->q[j] < ((uint64_t)1 << 50));
        uint8_t *b;
        size_t len;
        ck_assert_int_eq(cn_plan_to_bytes(&b, &len, p), CN_OK);
        cn_test_kat(k[i].name, b, len, KAT_PROFILE_LEN[i], KAT_PROFILE_SHA[i]);
        free(b);
        cost[i] = p->cost;
        cn_plan_free(p);
    }
    ck_assert(cost[1] > cost[0]);
    cn_model_clear(&m);
}
END_TEST

CN_SUITE(kat_net)
{
    Suite *s = suite_create("kat_net");
    TCase *tc = cn_tcase("core", 120);
    tcase_add_test(tc, test_kat_mnist_plan);
    tcase_add_test(tc, test_kat_tiny_client_server);
    tcase_add_test(tc, test_kat_cost_profiles);
    suite_add_tcase(s, tc);
    return s;
}
