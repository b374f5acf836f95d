/* The key-switching suites' fixture (bfv_keys_fixture.h). */
#include "common/bfv_keys_fixture.h"

#include <check.h>
#include <string.h>

#include "common/util.h"
#include "io/io_internal.h"

void cn_test_ks_fx_init(cn_test_ks_fx_t *f, size_t L, uint64_t stream)
{
    memset(f, 0, sizeof *f);
    ck_assert_int_eq(
        cn_bfv_params_default(&f->prm, CN_TEST_KS_N, L, 50, 51, 2, 16, CN_SEC_NONE_INSECURE),
        CN_OK);
    ck_assert_int_eq(cn_bfv_context_create(&f->ctx, &f->prm), CN_OK);
    uint8_t seed[CN_SEED_BYTES] = {0};
    const uint64_t s = cn_test_seed();
    memcpy(seed, &s, 8);
    memcpy(seed + 8, &stream, 8);
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(&f->rng, seed, CN_RNG_INSECURE_ACK),
                     CN_OK);
    ck_assert_int_eq(cn_bfv_keygen_secret(&f->sk, f->ctx, &f->rng), CN_OK);
}

void cn_test_ks_fx_clear(cn_test_ks_fx_t *f)
{
    cn_bfv_secret_key_clear(&f->sk);
    cn_rng_clear(&f->rng);
    cn_bfv_context_free(f->ctx);
}

void cn_test_ks_encrypt_at(cn_bfv_ciphertext_t *ct, int64_t *v, size_t l, cn_test_ks_fx_t *f,
                           uint64_t stream)
{
    const size_t n = f->prm.n;
    cn_test_rng_t r;
    cn_test_rng_init(&r, stream);
    for (size_t i = 0; i < n; i++)
        v[i] = (int64_t)cn_test_rng_below(&r, 100);
    cn_bfv_plaintext_t pt = {0};
    ck_assert_int_eq(cn_bfv_plaintext_init(&pt, f->ctx, 0), CN_OK);
    ck_assert_int_eq(cn_bfv_encode_batch(&pt, v, n, f->ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_encrypt_symmetric(ct, &pt, &f->sk, f->ctx, &f->rng), CN_OK);
    cn_bfv_plaintext_clear(&pt);
    while (ct->level > l)
        ck_assert_int_eq(cn_bfv_mod_switch(ct, ct, f->ctx), CN_OK);
}

void cn_test_ks_expect_slots(const cn_bfv_ciphertext_t *ct, const int64_t *want,
                             cn_test_ks_fx_t *f)
{
    const size_t n = f->prm.n;
    cn_bfv_plaintext_t pt = {0};
    int64_t got[CN_TEST_KS_N];
    ck_assert_int_eq(cn_bfv_decrypt_checked(&pt, ct, &f->sk, f->ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_decode_batch(got, &pt, f->ctx), CN_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == want[i], "slot %zu: %lld, want %lld", i, (long long)got[i],
                      (long long)want[i]);
    cn_bfv_plaintext_clear(&pt);
}

void cn_test_ks_rotated(int64_t *want, const int64_t *v, long k, size_t n)
{
    const size_t half = n / 2;
    for (size_t r = 0; r < 2; r++)
        for (size_t c = 0; c < half; c++)
            want[r * half + c] =
                k < 0 ? v[(1 - r) * half + c] : v[r * half + (c + (size_t)k) % half];
}

size_t cn_test_ks_rows_bytes(const cn_bfv_params_t *prm, size_t d)
{
    size_t b = (prm->n * (size_t)cn_io_bits(prm->p) + 7) / 8;
    for (size_t j = 0; j < d; j++)
        b += (prm->n * (size_t)cn_io_bits(prm->q[j]) + 7) / 8;
    return b;
}
