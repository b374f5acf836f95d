/* Known-answer tests of lib/ through its serialized objects: from a fixed 32-byte seed,
 * at fixed secure parameters (n = 4096, two 36-bit primes and a 37-bit P from
 * cn_bfv_params_default, one 20-bit batching t), the bytes of the parameters, of every
 * key, of a secret-key (seeded) and a public-key encryption, of a batch-encoded
 * plaintext and of the results of mul, relinearize, mod_switch and a rotation.
 *
 * These pin bytes against regressions: the expected lengths and SHA-256 digests come
 * from the code under test itself, at commit d85e10c (main when they were written), and
 * say nothing about correctness (the other suites do, against independent oracles; here
 * only the decryptions are checked against the plaintexts). A change that alters any of
 * these bytes on purpose (a new sampler, a new format version, ...) regenerates them with
 *   CN_KAT_PRINT=1 CK_RUN_SUITE=kat_io build/tests/run_tests
 * which prints "KAT <name>: <length> <sha256>" for each instead of checking; paste them
 * below and say in the commit why the bytes changed.
 *
 * History: issue 16 made key switching keys seeded (format 1.1): the relinearization and
 * Galois keys are written as a 32-byte seed and k0 (about half the bytes), and keygen
 * draws that seed from the generator instead of the uniform k1 itself, so every object
 * drawn after the relinearization key (Galois keys, every ciphertext) moved too; the
 * parameters, secret key, public key and plaintext are unchanged. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/cryptonets.h"

typedef struct {
    cn_bfv_params_t prm;
    cn_bfv_context_t *ctx;
    cn_rng_t rng;
    cn_bfv_secret_key_t sk;
    cn_bfv_public_key_t pk;
    cn_bfv_relin_key_t rk;
    cn_bfv_galois_keys_t gk;
} kat_fx_t;

static void fx_init(kat_fx_t *f)
{
    memset(f, 0, sizeof *f);
    ck_assert_int_eq(cn_bfv_params_default(&f->prm, 4096, 2, 36, 37, 1, 20, CN_SEC_128), CN_OK);
    ck_assert_int_eq(cn_bfv_context_create(&f->ctx, &f->prm), CN_OK);
    cn_test_kat_rng(&f->rng, 0x696f); /* "io" */
    const int64_t steps[] = {1, -3};
    ck_assert_int_eq(cn_bfv_keygen_secret(&f->sk, f->ctx, &f->rng), CN_OK);
    ck_assert_int_eq(cn_bfv_keygen_public(&f->pk, &f->sk, f->ctx, &f->rng), CN_OK);
    ck_assert_int_eq(cn_bfv_keygen_relin(&f->rk, &f->sk, f->ctx, &f->rng), CN_OK);
    ck_assert_int_eq(cn_bfv_keygen_galois(&f->gk, &f->sk, steps, 2, f->ctx, &f->rng), CN_OK);
}

static void fx_clear(kat_fx_t *f)
{
    cn_bfv_galois_keys_clear(&f->gk);
    cn_bfv_relin_key_clear(&f->rk);
    cn_bfv_public_key_clear(&f->pk);
    cn_bfv_secret_key_clear(&f->sk);
    cn_rng_clear(&f->rng);
    cn_bfv_context_free(f->ctx);
}

/* Saves ct with flags and checks its bytes against the pin. */
static void pin_ct(const char *name, const cn_bfv_ciphertext_t *ct, unsigned flags,
                   const kat_fx_t *f, size_t want_len, const char *want)
{
    size_t cap = cn_io_size_ciphertext(ct, flags, f->ctx), w;
    uint8_t *b = malloc(cap);
    ck_assert_int_eq(cn_io_save_ciphertext(b, cap, &w, ct, flags, f->ctx), CN_OK);
    cn_test_kat(name, b, w, want_len, want);
    free(b);
}

static void expect_plain(const cn_bfv_ciphertext_t *ct, const cn_bfv_plaintext_t *want,
                         const kat_fx_t *f)
{
    cn_bfv_plaintext_t got = {0};
    ck_assert_int_eq(cn_bfv_decrypt(&got, ct, &f->sk, f->ctx), CN_OK);
    ck_assert_mem_eq(got.coeffs, want->coeffs, got.n * sizeof *got.coeffs);
    cn_bfv_plaintext_clear(&got);
}

/* the fixed plaintext: coefficient i = (i^2 + 7 i + 3) mod t */
static void fixed_plain(cn_bfv_plaintext_t *pt, const kat_fx_t *f)
{
    ck_assert_int_eq(cn_bfv_plaintext_init(pt, f->ctx, 0), CN_OK);
    for (size_t i = 0; i < pt->n; i++)
        pt->coeffs[i] = (uint64_t)(i * i + 7 * i + 3) % f->prm.t[0];
}

/* parameters and keys */
START_TEST(test_kat_keys)
{
    kat_fx_t f;
    fx_init(&f);
    uint8_t *b;
    size_t cap, w;

    cap = cn_io_size_params(&f.prm);
    b = malloc(cap);
    ck_assert_int_eq(cn_io_save_params(b, cap, &w, &f.prm), CN_OK);
    cn_test_kat("params", b, w, 88,
                "42a13d047c8d46f181e21d083473896f5887ee171a53e7724c60dc17f2ad499f");
    free(b);

    cap = cn_io_size_secret_key(&f.sk, f.ctx);
    b = malloc(cap);
    ck_assert_int_eq(cn_io_save_secret_key(b, cap, &w, &f.sk, f.ctx), CN_OK);
    cn_test_kat("secret_key", b, w, 1064,
                "f6ebf0669f5e95ab1a3591eb880e84731c3a5a39fe61794d6874bdfc7c07c0a9");
    free(b);

    cap = cn_io_size_public_key(&f.pk, f.ctx);
    b = malloc(cap);
    ck_assert_int_eq(cn_io_save_public_key(b, cap, &w, &f.pk, f.ctx), CN_OK);
    cn_test_kat("public_key", b, w, 73768,
                "f2f4c5a3024bf901360a882143f109833e75e0ca7961173a311f6749ecff8a3a");
    free(b);

    cap = cn_io_size_relin_key(&f.rk, f.ctx);
    b = malloc(cap);
    ck_assert_int_eq(cn_io_save_relin_key(b, cap, &w, &f.rk, f.ctx), CN_OK);
    cn_test_kat("relin_key", b, w, 111692,
                "0a95d922bdd40a48d63af8b306b294a2d81366d008d572fc9e756ea7085cfbfc");
    free(b);

    cap = cn_io_size_galois_keys(&f.gk, f.ctx);
    b = malloc(cap);
    ck_assert_int_eq(cn_io_save_galois_keys(b, cap, &w, &f.gk, f.ctx), CN_OK);
    cn_test_kat("galois_keys", b, w, 335020,
                "e92b6c137f157e6b64ef8f4e29aad432809e6e0d910a2b2b6e1a90b8e0aa3116");
    free(b);
    fx_clear(&f);
}
END_TEST

/* encryptions (secret key with its seed, and with c1 in full: the seed's expansion;
 * public key), a batch-encoded plaintext, and evaluated ciphertexts */
START_TEST(test_kat_ciphertexts)
{
    kat_fx_t f;
    fx_init(&f);
    cn_bfv_plaintext_t pt = {0}, pb = {0};
    cn_bfv_ciphertext_t cs = {0}, cp = {0}, cm = {0}, cr = {0}, cw = {0}, ct = {0};
    fixed_plain(&pt, &f);

    ck_assert_int_eq(cn_bfv_encrypt_symmetric(&cs, &pt, &f.sk, f.ctx, &f.rng), CN_OK);
    ck_assert_int_eq(cs.has_seed, 1);
    expect_plain(&cs, &pt, &f);
    pin_ct("ct_sk_seeded", &cs, 0, &f, 36952,
           "19c8ff1737d0e64134fc81e796238bfd43740fe0dcbc1a677e6c25735c61aed3");
    pin_ct("ct_sk_full", &cs, CN_IO_NO_SEED, &f, 73784,
           "4c397559159975b8232c94c2f7f22474859fd4f545ce15ceecd57f819f9339f5");

    ck_assert_int_eq(cn_bfv_encrypt(&cp, &pt, &f.pk, f.ctx, &f.rng), CN_OK);
    expect_plain(&cp, &pt, &f);
    pin_ct("ct_pk", &cp, 0, &f, 73784,
           "ad66904e7fb4e3e6b6afb39d7e9cf2a08d3f19922f303e978e90ad39aa467d14");

    /* slots 0, 1, ..., 99 negated every third, zeros beyond */
    int64_t v[100];
    for (int i = 0; i < 100; i++)
        v[i] = i % 3 ? i : -i;
    ck_assert_int_eq(cn_bfv_plaintext_init(&pb, f.ctx, 0), CN_OK);
    ck_assert_int_eq(cn_bfv_encode_batch(&pb, v, 100, f.ctx), CN_OK);
    size_t cap = cn_io_size_plaintext(&pb, f.ctx), w;
    uint8_t *b = malloc(cap);
    ck_assert_int_eq(cn_io_save_plaintext(b, cap, &w, &pb, f.ctx), CN_OK);
    cn_test_kat("plain_batch", b, w, 10288,
                "529d7dabd67ec1d234aea0a63122361a2dabbe6be19f3aa8bf02dbe25acb20ba");
    free(b);

    /* (ct_pk * ct_sk) relinearized, then mod-switched; the batch ciphertext rotated */
    ck_assert_int_eq(cn_bfv_mul(&cm, &cp, &cs, f.ctx), CN_OK);
    pin_ct("ct_mul", &cm, 0, &f, 110648,
           "899173e4ae3868537113e7cb5900ef52819cccb38b5837c4d376ffa217181495");
    ck_assert_int_eq(cn_bfv_relinearize(&cr, &cm, &f.rk, f.ctx), CN_OK);
    pin_ct("ct_relin", &cr, 0, &f, 73784,
           "a2291a966514b7b2269226278bec304fcb85291c56b9a9adc5f67fe3d4d48365");
    ck_assert_int_eq(cn_bfv_mod_switch(&cw, &cr, f.ctx), CN_OK);
    pin_ct("ct_mod_switch", &cw, 0, &f, 36920,
           "79fa7ea70ccb92067a79170b916bd3811cc81757b6b20c9bef35bf9157792b23");
    ck_assert_int_eq(cn_bfv_encrypt(&ct, &pb, &f.pk, f.ctx, &f.rng), CN_OK);
    ck_assert_int_eq(cn_bfv_rotate_rows(&cm, &ct, 1, &f.gk, f.ctx), CN_OK);
    pin_ct("ct_rotate", &cm, 0, &f, 73784,
           "adb2c40a78626aeefaecb167eee3170ab4bcedea8884d3e449298c16b21969e0");

    cn_bfv_ciphertext_clear(&cs);
    cn_bfv_ciphertext_clear(&cp);
    cn_bfv_ciphertext_clear(&cm);
    cn_bfv_ciphertext_clear(&cr);
    cn_bfv_ciphertext_clear(&cw);
    cn_bfv_ciphertext_clear(&ct);
    cn_bfv_plaintext_clear(&pt);
    cn_bfv_plaintext_clear(&pb);
    fx_clear(&f);
}
END_TEST

CN_SUITE(kat_io)
{
    Suite *s = suite_create("kat_io");
    TCase *tc = cn_tcase("core", 120);
    tcase_add_test(tc, test_kat_keys);
    tcase_add_test(tc, test_kat_ciphertexts);
    suite_add_tcase(s, tc);
    return s;
}
