/* The secret-key encryption kernels (lib/bfv/enc_kernels*.c): the portable ones against
 * 128-bit arithmetic, each SIMD kernel against its portable twin on the same inputs, and
 * the dispatched kernel against both, at prime sizes inside and beyond the 52-bit range. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bfv/enc_kernels.h"
#include "bfv/bfv_internal.h"
#include "common/util.h"
#include "cryptonets/encode.h"
#include "internal/cpu.h"

typedef unsigned __int128 u128;

static const unsigned kbits[] = {20, 36, 42, 44, 49, 50, 55, 60, 61};
#define NBITS (sizeof kbits / sizeof *kbits)

/* a value in [0, bound) for index i: random, or one of the ends of the range */
static uint64_t sample(cn_test_rng_t *r, size_t i, uint64_t bound)
{
    switch (i % 11) {
    case 0:
        return bound - 1;
    case 4:
        return 0;
    case 7:
        return bound - 2;
    default:
        return cn_test_rng_below(r, bound);
    }
}

START_TEST(test_mul_row)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1700);
    const size_t n = 264;
    uint64_t *x = malloc(4 * n * sizeof *x), *s = x + n, *y = x + 2 * n, *z = x + 3 * n;
    for (size_t b = 0; b < NBITS; b++) {
        uint64_t p;
        ck_assert_int_eq(cn_primes_ntt(&p, 1, kbits[b], 8, NULL, 0, 1), CN_OK);
        for (size_t i = 0; i < n; i++) {
            x[i] = sample(&r, i, 4 * p); /* a lazy NTT's range */
            s[i] = sample(&r, i + 3, p);
        }
        cn_enc_mul_row_portable(y, x, s, n, p);
        for (size_t i = 0; i < n; i++)
            ck_assert_uint_eq(y[i], (uint64_t)((u128)x[i] * s[i] % p));
#ifdef CN_BUILD_AVX512IFMA
        if (cn_bfv_ifma_available() && p < ((uint64_t)1 << 50)) {
            cn_enc_mul_row_ifma(z, x, s, n, p);
            ck_assert(memcmp(y, z, n * sizeof *y) == 0);
        }
#endif
        cn_bfv_enc_mul_row_kernel(p, n)(z, x, s, n, p);
        ck_assert(memcmp(y, z, n * sizeof *y) == 0);
        /* in place, as encrypt.c calls it */
        memcpy(z, x, n * sizeof *z);
        cn_bfv_enc_mul_row_kernel(p, n)(z, z, s, n, p);
        ck_assert(memcmp(y, z, n * sizeof *y) == 0);
    }
    free(x);
}
END_TEST

START_TEST(test_c0_row)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1701);
    const size_t n = 264;
    uint64_t *y = malloc(4 * n * sizeof *y), *m = y + n, *c = y + 2 * n, *d = y + 3 * n;
    int64_t *e = malloc(n * sizeof *e);
    static const unsigned tbits[] = {2, 17, 23, 30, 50};
    for (size_t b = 0; b < NBITS; b++) {
        uint64_t p;
        ck_assert_int_eq(cn_primes_ntt(&p, 1, kbits[b], 8, NULL, 0, 1), CN_OK);
        for (size_t tb = 0; tb < sizeof tbits / sizeof *tbits; tb++) {
            const uint64_t t = ((uint64_t)1 << tbits[tb]) - 1;
            const uint64_t delta = sample(&r, tb, p);
            /* errors as wide as the samplers give, and the widest the contract allows */
            const int64_t eb = tb % 2 ? 21 : (int64_t)(p - 1);
            for (size_t i = 0; i < n; i++) {
                y[i] = sample(&r, i, 2 * p); /* a lazy inverse NTT's range */
                m[i] = sample(&r, i + 5, t);
                e[i] = (int64_t)sample(&r, i + 2, (uint64_t)(2 * eb + 1)) - eb;
            }
            cn_enc_c0_row_portable(c, y, e, m, n, p, delta);
            for (size_t i = 0; i < n; i++) {
                /* e + delta m - y over the integers, then reduced */
                __int128 v = (__int128)e[i] + (__int128)((u128)delta * m[i]) - (__int128)y[i];
                __int128 want = v % (__int128)p;
                if (want < 0)
                    want += p;
                ck_assert_uint_eq(c[i], (uint64_t)want);
            }
#ifdef CN_BUILD_AVX512IFMA
            if (cn_bfv_ifma_available() && p < ((uint64_t)1 << 50)) {
                cn_enc_c0_row_ifma(d, y, e, m, n, p, delta);
                ck_assert(memcmp(c, d, n * sizeof *c) == 0);
            }
#endif
            cn_bfv_enc_c0_row_kernel(p, n, t)(d, y, e, m, n, p, delta);
            ck_assert(memcmp(c, d, n * sizeof *c) == 0);
            memcpy(d, y, n * sizeof *d); /* in place */
            cn_bfv_enc_c0_row_kernel(p, n, t)(d, d, e, m, n, p, delta);
            ck_assert(memcmp(c, d, n * sizeof *c) == 0);
        }
    }
    free(y);
    free(e);
}
END_TEST

/* batch encoding's reduction of the inputs (lib/encode/batch.c: no division for |v| < t)
 * for values at and beyond +-t and the ends of int64, against 128-bit residues */
START_TEST(test_encode_residues)
{
    cn_bfv_params_t prm;
    ck_assert_int_eq(cn_bfv_params_default(&prm, 4096, 2, 36, 36, 1, 17, CN_SEC_128), CN_OK);
    cn_bfv_context_t *ctx;
    ck_assert_int_eq(cn_bfv_context_create(&ctx, &prm), CN_OK);
    const int64_t t = (int64_t)prm.t[0];
    const int64_t vals[] = {0,        1,         -1,        15,           -15,    t - 1,
                            -(t - 1), t,         -t,        t + 1,        -t - 1, 2 * t + 3,
                            -5 * t,   INT64_MAX, INT64_MIN, INT64_MIN + 1};
    const size_t nv = sizeof vals / sizeof *vals, n = prm.n;
    int64_t *v = malloc(n * sizeof *v);
    uint64_t *out = malloc(n * sizeof *out);
    for (size_t i = 0; i < n; i++)
        v[i] = vals[i % nv];
    cn_bfv_plaintext_t pt = {0};
    ck_assert_int_eq(cn_bfv_plaintext_init(&pt, ctx, 0), CN_OK);
    ck_assert_int_eq(cn_bfv_encode_batch(&pt, v, n, ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_decode_batch_u64(out, &pt, ctx), CN_OK);
    for (size_t i = 0; i < n; i++) {
        __int128 want = (__int128)v[i] % t;
        ck_assert_uint_eq(out[i], (uint64_t)(want < 0 ? want + t : want));
    }
    cn_bfv_plaintext_clear(&pt);
    cn_bfv_context_free(ctx);
    free(v);
    free(out);
}
END_TEST

CN_SUITE(enc_kernels)
{
    Suite *s = suite_create("enc_kernels");
    TCase *tc = cn_tcase("core", 60);
    tcase_add_test(tc, test_mul_row);
    tcase_add_test(tc, test_c0_row);
    tcase_add_test(tc, test_encode_residues);
    suite_add_tcase(s, tc);
    return s;
}
