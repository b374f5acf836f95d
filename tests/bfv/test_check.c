/* The checks of lib/bfv/check.c, through the operations that call them: each reason
 * gives its status (check.h), and valid objects pass. Expected codes come from check.h's
 * list of reasons, not from running the code. */
#include <string.h>

#include "bfv/bfv_internal.h"
#include "common/util.h"
#include "cryptonets/cryptonets.h"

typedef struct {
    cn_bfv_context_t *ctx;
    cn_bfv_secret_key_t sk;
    cn_bfv_public_key_t pk;
    cn_bfv_relin_key_t rk;
    cn_bfv_plaintext_t pt;
    cn_bfv_ciphertext_t a, b;
    cn_rng_t rng;
} ck_fx_t;

static void setup(ck_fx_t *f)
{
    memset(f, 0, sizeof *f);
    cn_bfv_params_t p;
    ck_assert_int_eq(cn_bfv_params_default(&p, 1024, 3, 30, 31, 2, 16, CN_SEC_NONE_INSECURE),
                     CN_OK);
    ck_assert_int_eq(cn_bfv_context_create(&f->ctx, &p), CN_OK);
    uint8_t seed[CN_SEED_BYTES] = {7};
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(&f->rng, seed, CN_RNG_INSECURE_ACK),
                     CN_OK);
    ck_assert_int_eq(cn_bfv_keygen_secret(&f->sk, f->ctx, &f->rng), CN_OK);
    ck_assert_int_eq(cn_bfv_keygen_public(&f->pk, &f->sk, f->ctx, &f->rng), CN_OK);
    ck_assert_int_eq(cn_bfv_keygen_relin(&f->rk, &f->sk, f->ctx, &f->rng), CN_OK);
    ck_assert_int_eq(cn_bfv_plaintext_init(&f->pt, f->ctx, 0), CN_OK);
    ck_assert_int_eq(cn_bfv_encrypt(&f->a, &f->pt, &f->pk, f->ctx, &f->rng), CN_OK);
    ck_assert_int_eq(cn_bfv_encrypt(&f->b, &f->pt, &f->pk, f->ctx, &f->rng), CN_OK);
}

static void teardown(ck_fx_t *f)
{
    cn_bfv_ciphertext_clear(&f->a);
    cn_bfv_ciphertext_clear(&f->b);
    cn_bfv_plaintext_clear(&f->pt);
    cn_bfv_relin_key_clear(&f->rk);
    cn_bfv_public_key_clear(&f->pk);
    cn_bfv_secret_key_clear(&f->sk);
    cn_rng_clear(&f->rng);
    cn_bfv_context_free(f->ctx);
}

START_TEST(test_reasons)
{
    ck_fx_t f;
    setup(&f);
    cn_bfv_ciphertext_t x = {0};
    const cn_bfv_context_t *ctx = f.ctx;
    /* valid objects pass every check */
    ck_assert_int_eq(cn_bfv_check_pair(&f.a, &f.b, ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_check_ct_pt(&f.a, &f.pt, ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_check_sk(&f.sk, ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_check_pk(&f.pk, ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_check_ksk(&f.rk, ctx), CN_OK);
    /* ciphertexts: context, size, level, t index, form, shape */
    f.b.fingerprint ^= 1;
    ck_assert_int_eq(cn_bfv_add(&x, &f.a, &f.b, ctx), CN_ERR_CONTEXT_MISMATCH);
    f.b.fingerprint ^= 1;
    f.b.size = 4;
    ck_assert_int_eq(cn_bfv_mul(&x, &f.a, &f.b, ctx), CN_ERR_INVALID_ARG);
    f.b.size = 2;
    f.b.t_index = 2;
    ck_assert_int_eq(cn_bfv_sub(&x, &f.a, &f.b, ctx), CN_ERR_PLAIN_MODULUS);
    f.b.t_index = 1;
    ck_assert_int_eq(cn_bfv_mul(&x, &f.a, &f.b, ctx), CN_ERR_PLAIN_MODULUS);
    f.b.t_index = 0;
    f.b.c[1].form = CN_FORM_NTT;
    ck_assert_int_eq(cn_bfv_add(&x, &f.a, &f.b, ctx), CN_ERR_FORM_MISMATCH);
    f.b.c[1].form = CN_FORM_COEFF;
    f.b.c[1].k = 2;
    ck_assert_int_eq(cn_bfv_neg(&x, &f.b, ctx), CN_ERR_SHAPE_MISMATCH);
    f.b.c[1].k = 3;
    ck_assert_int_eq(cn_bfv_mod_switch(&f.b, &f.b, ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_add(&x, &f.a, &f.b, ctx), CN_ERR_LEVEL_MISMATCH);
    ck_assert_int_eq(cn_bfv_square(&x, &f.a, ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_mul(&x, &x, &f.a, ctx), CN_ERR_UNSUPPORTED);
    /* plaintexts: t index, buffer, degree, values */
    f.pt.coeffs[5] = ctx->prm.t[0];
    ck_assert_int_eq(cn_bfv_add_plain(&x, &f.a, &f.pt, ctx), CN_ERR_OUT_OF_RANGE);
    ck_assert_int_eq(cn_bfv_encrypt(&x, &f.pt, &f.pk, ctx, &f.rng), CN_ERR_OUT_OF_RANGE);
    f.pt.coeffs[5] = 0;
    f.pt.n = 512;
    ck_assert_int_eq(cn_bfv_mul_plain(&x, &f.a, &f.pt, ctx), CN_ERR_SHAPE_MISMATCH);
    f.pt.n = ctx->n;
    uint64_t *keep = f.pt.coeffs;
    f.pt.coeffs = NULL;
    ck_assert_int_eq(cn_bfv_encrypt(&x, &f.pt, &f.pk, ctx, &f.rng), CN_ERR_INVALID_ARG);
    f.pt.coeffs = keep;
    f.pt.t_index = 1;
    ck_assert_int_eq(cn_bfv_add_plain(&x, &f.a, &f.pt, ctx), CN_ERR_PLAIN_MODULUS);
    f.pt.t_index = 0;
    /* keys */
    f.pk.fingerprint ^= 1;
    ck_assert_int_eq(cn_bfv_encrypt(&x, &f.pt, &f.pk, ctx, &f.rng), CN_ERR_CONTEXT_MISMATCH);
    f.pk.fingerprint ^= 1;
    f.pk.p1.form = CN_FORM_COEFF;
    ck_assert_int_eq(cn_bfv_encrypt(&x, &f.pt, &f.pk, ctx, &f.rng), CN_ERR_FORM_MISMATCH);
    f.pk.p1.form = CN_FORM_NTT;
    f.sk.s.k = 1;
    ck_assert_int_eq(cn_bfv_decrypt(&f.pt, &f.a, &f.sk, ctx), CN_ERR_SHAPE_MISMATCH);
    f.sk.s.k = ctx->ring.base.k;
    ck_assert_int_eq(cn_bfv_square(&x, &f.a, ctx), CN_OK);
    f.rk.ndigits = 4; /* above L */
    ck_assert_int_eq(cn_bfv_relinearize(&x, &x, &f.rk, ctx), CN_ERR_CONTEXT_MISMATCH);
    f.rk.ndigits = 2; /* a key at level 2, a ciphertext at level 3 */
    ck_assert_int_eq(cn_bfv_relinearize(&x, &x, &f.rk, ctx), CN_ERR_LEVEL_MISMATCH);
    f.rk.ndigits = 3;
    uint64_t *d = f.rk.k1[2].data;
    f.rk.k1[2].data = NULL;
    ck_assert_int_eq(cn_bfv_relinearize(&x, &x, &f.rk, ctx), CN_ERR_SHAPE_MISMATCH);
    f.rk.k1[2].data = d;
    ck_assert_int_eq(cn_bfv_relinearize(&x, &x, &f.rk, ctx), CN_OK);
    cn_bfv_ciphertext_clear(&x);
    teardown(&f);
}
END_TEST

CN_SUITE(check)
{
    Suite *s = suite_create("check");
    TCase *tc = cn_tcase("core", 60);
    tcase_add_test(tc, test_reasons);
    suite_add_tcase(s, tc);
    return s;
}
