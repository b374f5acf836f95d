/* The evaluation-key bytes of net/ (docs/format.md, "Evaluation keys of net/"): the first
 * object (a seeded relinearization key, or the 40-byte empty batch), then Galois keys for
 * exactly the elements a plan lists. The batched layout's plans list none, so the Galois
 * part is driven here through the runtime's internal entry points with chosen elements;
 * the loaded keys are checked by rotating an encryption and comparing the decrypted
 * slots with the rotated plaintext slots (the oracle). */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/cryptonets.h"
#include "../../net/runtime/runtime.h"

/* 16 inputs: dense 3, square, dense 2, and with relin: square, dense 2 (a small ring,
 * security off by name, as in the other net/ tests) */
static cn_plan_t *small_plan(int relin)
{
    double w1[3 * 16], b1[3] = {0.1, -0.2, 0.3}, w2[6], b2[2] = {0.5, -0.5}, w3[4], b3[2] = {0};
    for (int i = 0; i < 48; i++)
        w1[i] = ((i * 37) % 11 - 5) / 7.0;
    for (int i = 0; i < 6; i++)
        w2[i] = ((i * 5) % 7 - 3) / 3.0;
    for (int i = 0; i < 4; i++)
        w3[i] = (i % 3 - 1) * 0.7 + 0.1;
    cn_model_t m;
    ck_assert_int_eq(cn_model_init(&m, 1, 4, 4, 1.0 / 15, 0, 15), CN_OK);
    ck_assert_int_eq(cn_model_add_flatten(&m, NULL), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(&m, 3, w1, b1, NULL), CN_OK);
    ck_assert_int_eq(cn_model_add_square(&m, NULL), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(&m, 2, w2, b2, NULL), CN_OK);
    if (relin) {
        ck_assert_int_eq(cn_model_add_square(&m, NULL), CN_OK);
        ck_assert_int_eq(cn_model_add_dense(&m, 2, w3, b3, NULL), CN_OK);
    }
    cn_compile_opts_t o = {0};
    o.weight_bits = 6;
    o.n = 2048;
    o.security = CN_SEC_NONE_INSECURE;
    cn_plan_t *p;
    cn_net_diag_t d = {{0}};
    ck_assert_msg(cn_plan_compile(&p, &m, &o, &d) == CN_OK, "compile: %s", d.msg);
    cn_model_clear(&m);
    return p;
}

/* a server of plan p with no keys yet, for cn_evalkeys_load_elts */
static cn_server_t *bare_server(const cn_plan_t *p)
{
    cn_server_t *s = calloc(1, sizeof *s);
    ck_assert_ptr_nonnull(s);
    s->plan = p;
    ck_assert_int_eq(cn_bfv_context_create(&s->ctx, &p->prm), CN_OK);
    return s;
}

/* rotating an encryption under c's key by `steps` with s's Galois keys moves the slots */
static void expect_rotates(const cn_server_t *s, const cn_client_t *c, int64_t steps)
{
    const size_t n = s->plan->prm.n, half = n / 2;
    int64_t *v = malloc(n * sizeof *v), *got = malloc(n * sizeof *got);
    for (size_t i = 0; i < n; i++)
        v[i] = (int64_t)(i % 97) - 48;
    cn_bfv_plaintext_t pt = {0};
    cn_bfv_ciphertext_t ct = {0}, r = {0};
    ck_assert_int_eq(cn_bfv_plaintext_init(&pt, s->ctx, 0), CN_OK);
    ck_assert_int_eq(cn_bfv_encode_batch(&pt, v, n, s->ctx), CN_OK);
    cn_rng_t rng;
    uint8_t seed[CN_SEED_BYTES] = {0x16};
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(&rng, seed, CN_RNG_INSECURE_ACK),
                     CN_OK);
    ck_assert_int_eq(cn_bfv_encrypt_symmetric(&ct, &pt, &c->sk, s->ctx, &rng), CN_OK);
    ck_assert_int_eq(cn_bfv_rotate_rows(&r, &ct, steps, &s->gk, s->ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_decrypt_checked(&pt, &r, &c->sk, s->ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_decode_batch(got, &pt, s->ctx), CN_OK);
    for (size_t row = 0; row < 2; row++)
        for (size_t col = 0; col < half; col++)
            ck_assert_int_eq(got[row * half + col],
                             v[row * half + (col + (size_t)steps) % half]);
    cn_bfv_ciphertext_clear(&ct), cn_bfv_ciphertext_clear(&r);
    cn_bfv_plaintext_clear(&pt);
    cn_rng_clear(&rng);
    free(v), free(got);
}

START_TEST(test_evalkeys_parts)
{
    for (int relin = 0; relin < 2; relin++) {
        cn_plan_t *p = small_plan(relin);
        ck_assert_int_eq(cn_plan_needs_relin(p), relin);
        ck_assert_uint_eq(cn_plan_galois_elts(p, NULL, 0), 0); /* the batched layout */
        const uint8_t seed[CN_SEED_BYTES] = {0x16};
        cn_client_t *c;
        ck_assert_int_eq(cn_client_create(&c, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
        uint8_t *k1, *k2;
        size_t l1, l2;
        /* the plan's keys: one object, the relinearization key seeded (1.1) */
        ck_assert_int_eq(cn_client_eval_keys(&k1, &l1, c), CN_OK);
        cn_io_header_t h;
        ck_assert_int_eq(cn_io_peek_header(&h, k1, l1), CN_OK);
        ck_assert_uint_eq(h.total_length, l1);
        ck_assert_int_eq(h.type, relin ? CN_IO_RELIN_KEY : CN_IO_CIPHERTEXT_BATCH);
        ck_assert_uint_eq(h.minor, relin ? 1 : 0);
        ck_assert_uint_eq(h.flags, relin ? 1 : 0);
        /* with Galois keys for the rotation by 1 and the column swap: a second object */
        cn_bfv_context_t *ctx = c->ctx;
        const uint64_t elts[2] = {cn_bfv_galois_elt_rows(1, ctx),
                                  cn_bfv_galois_elt_columns(ctx)};
        ck_assert_int_eq(cn_client_make_galois_elts(c, elts, 2), CN_OK);
        ck_assert_int_eq(cn_client_eval_keys(&k2, &l2, c), CN_OK);
        ck_assert_uint_gt(l2, l1);
        ck_assert_mem_eq(k2, k1, l1); /* the first object is unchanged */
        ck_assert_int_eq(cn_io_peek_header(&h, k2 + l1, l2 - l1), CN_OK);
        ck_assert_int_eq(h.type, CN_IO_GALOIS_KEYS);
        ck_assert_uint_eq(h.count, 2);
        ck_assert_uint_eq(h.flags, 1);
        ck_assert_uint_eq(h.total_length, l2 - l1);
        /* a server of this plan (no rotations) takes the first form and refuses the second */
        cn_net_diag_t d = {{0}};
        cn_server_t *s;
        ck_assert_int_eq(cn_server_create(&s, p, k1, l1, 1, &d), CN_OK);
        cn_server_free(s);
        ck_assert_int_eq(cn_server_create(&s, p, k2, l2, 1, &d), CN_ERR_FORMAT);
        ck_assert_msg(strstr(d.msg, "rotates no slots"), "%s", d.msg);
        /* a plan that rotates by 1: the keys load, and rotate */
        s = bare_server(p);
        ck_assert_int_eq(cn_evalkeys_load_elts(s, k2, l2, elts, 1, &d), CN_OK);
        ck_assert_int_eq(s->has_gk, 1);
        ck_assert_int_eq(s->has_rk, relin);
        ck_assert_uint_eq(s->gk.count, 2);
        expect_rotates(s, c, 1);
        cn_server_free(s);
        /* an element without a key */
        const uint64_t five = cn_bfv_galois_elt_rows(2, ctx);
        s = bare_server(p);
        d.msg[0] = 0;
        ck_assert_int_eq(cn_evalkeys_load_elts(s, k2, l2, &five, 1, &d), CN_ERR_NO_KEY);
        ck_assert_msg(strstr(d.msg, "no Galois key for element"), "%s", d.msg);
        cn_server_free(s);
        /* no Galois keys at all, or another object in their place */
        s = bare_server(p);
        d.msg[0] = 0;
        ck_assert_int_ne(cn_evalkeys_load_elts(s, k1, l1, elts, 1, &d), CN_OK);
        ck_assert_msg(strstr(d.msg, "no Galois keys"), "%s", d.msg);
        cn_server_free(s);
        uint8_t *k3 = malloc(2 * l1);
        memcpy(k3, k1, l1);
        memcpy(k3 + l1, k1, l1);
        s = bare_server(p);
        d.msg[0] = 0;
        ck_assert_int_eq(cn_evalkeys_load_elts(s, k3, 2 * l1, elts, 1, &d), CN_ERR_FORMAT);
        ck_assert_msg(strstr(d.msg, "after the first object"), "%s", d.msg);
        cn_server_free(s);
        /* the Galois part truncated */
        s = bare_server(p);
        ck_assert_int_eq(cn_evalkeys_load_elts(s, k2, l2 - 1, elts, 1, &d), CN_ERR_TRUNCATED);
        cn_server_free(s);
        free(k3), free(k1), free(k2);
        cn_client_free(c);
        cn_plan_free(p);
    }
}
END_TEST

CN_SUITE(evalkeys)
{
    Suite *s = suite_create("evalkeys");
    TCase *tc = cn_tcase("core", 300);
    tcase_add_test(tc, test_evalkeys_parts);
    suite_add_tcase(s, tc);
    return s;
}
