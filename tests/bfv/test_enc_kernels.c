/* The secret-key encryption kernels (lib/bfv/enc_kernels*.c): the portable ones against
 * 128-bit arithmetic, each SIMD kernel against its portable twin on the same inputs, and
 * the dispatched kernel against both, at prime sizes inside and beyond the 52-bit range. */
#include <stdlib.h>
#include <string.h>

#include "bfv/enc_kernels.h"
#include "bfv/bfv_internal.h"
#include "common/util.h"
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

CN_SUITE(enc_kernels)
{
    Suite *s = suite_create("enc_kernels");
    TCase *tc = cn_tcase("core", 60);
    tcase_add_test(tc, test_mul_row);
    tcase_add_test(tc, test_c0_row);
    suite_add_tcase(s, tc);
    return s;
}
