/* Tests of lib/ntt: round trips, and negacyclic products against FLINT's nmod_poly. */
#include <flint/nmod_poly.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/ntt.h"
#include "internal/cpu.h"
#include "ntt/ntt_internal.h"

static const unsigned prime_bits[] = {30, 40, 50, 60, 61};
#define NBITS (sizeof prime_bits / sizeof *prime_bits)

static uint64_t *random_vec(cn_test_rng_t *r, size_t n, uint64_t bound)
{
    uint64_t *v = malloc(n * sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < n; i++)
        v[i] = cn_test_rng_below(r, bound);
    return v;
}

START_TEST(test_table_errors)
{
    cn_ntt_table_t t;
    uint64_t p;
    ck_assert_int_eq(cn_primes_ntt(&p, 1, 40, 1024, NULL, 0, 1), CN_OK);
    ck_assert_int_eq(cn_ntt_table_init(&t, 0, p), CN_ERR_NOT_POWER_OF_TWO);
    ck_assert_int_eq(cn_ntt_table_init(&t, 1, p), CN_ERR_NOT_POWER_OF_TWO);
    ck_assert_int_eq(cn_ntt_table_init(&t, 3, p), CN_ERR_NOT_POWER_OF_TWO);
    ck_assert_int_eq(cn_ntt_table_init(&t, 1000, p), CN_ERR_NOT_POWER_OF_TWO);
    ck_assert_int_eq(cn_ntt_table_init(&t, 65536, p), CN_ERR_NOT_POWER_OF_TWO);
    ck_assert_int_eq(cn_ntt_table_init(&t, 2048, p), CN_ERR_NOT_NTT_FRIENDLY);
    ck_assert_int_eq(cn_ntt_table_init(&t, 1024, p + 2048), CN_ERR_NOT_PRIME);
    ck_assert_int_eq(cn_ntt_table_init(&t, 1024, (uint64_t)1 << 62), CN_ERR_MODULUS_TOO_LARGE);
    ck_assert_int_eq(cn_ntt_table_init(&t, 1024, 1), CN_ERR_INVALID_ARG);
    cn_ntt_table_clear(&t); /* zeroed on failure: clear is safe */
    ck_assert_int_eq(cn_ntt_table_init(&t, 1024, p), CN_OK);
    cn_ntt_table_clear(&t);
    ck_assert_ptr_nonnull(cn_ntt_kernel_name());
}
END_TEST

/* forward then inverse is the identity, for every n and prime size; lazy ranges hold */
START_TEST(test_round_trip)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 10 + (uint64_t)_i);
    unsigned logn = (unsigned)_i;
    size_t n = (size_t)1 << logn;
    for (size_t b = 0; b < NBITS; b++) {
        uint64_t p;
        cn_ntt_table_t t;
        ck_assert_int_eq(cn_primes_ntt(&p, 1, prime_bits[b], n, NULL, 0, 1), CN_OK);
        ck_assert_int_eq(cn_ntt_table_init(&t, n, p), CN_OK);
        uint64_t *a = random_vec(&r, n, p), *c = malloc(n * sizeof *c);
        for (size_t i = 0; i < n; i++)
            c[i] = a[i];
        cn_ntt_forward(c, &t);
        for (size_t i = 0; i < n; i++)
            ck_assert_uint_lt(c[i], p);
        cn_ntt_inverse(c, &t);
        for (size_t i = 0; i < n; i++)
            ck_assert_uint_eq(c[i], a[i]);
        /* lazy: inputs anywhere in [0, 4p) (here a + 3p), outputs in the documented range */
        for (size_t i = 0; i < n; i++)
            c[i] = a[i] + 3 * p;
        cn_ntt_forward_lazy(c, &t);
        for (size_t i = 0; i < n; i++) {
            ck_assert_uint_lt(c[i], 4 * p);
            c[i] = c[i] % p + (i & 1) * p; /* inverse accepts [0, 2p) */
        }
        cn_ntt_inverse_lazy(c, &t);
        for (size_t i = 0; i < n; i++) {
            ck_assert_uint_lt(c[i], 2 * p);
            ck_assert_uint_eq(c[i] % p, a[i]);
        }
        /* the dispatched kernel agrees with the portable one after reduction */
        uint64_t *d = malloc(n * sizeof *d);
        for (size_t i = 0; i < n; i++)
            c[i] = d[i] = a[i];
        cn_ntt_forward_lazy(c, &t);
        cn_ntt_forward_lazy_portable(d, &t);
        for (size_t i = 0; i < n; i++) {
            ck_assert_uint_lt(c[i], 4 * p);
            ck_assert_uint_eq(c[i] % p, d[i] % p);
            /* the inverse takes [0, 2p): give both kernels the same in-range input */
            c[i] = d[i] = c[i] % p + (i % 3 == 0) * p;
        }
        cn_ntt_inverse_lazy(c, &t);
        cn_ntt_inverse_lazy_portable(d, &t);
        for (size_t i = 0; i < n; i++) {
            ck_assert_uint_lt(c[i], 2 * p);
            ck_assert_uint_eq(c[i] % p, d[i] % p);
        }
        free(d);
        free(a);
        free(c);
        cn_ntt_table_clear(&t);
    }
}
END_TEST

/* NTT^-1(NTT(a) . NTT(b)) equals nmod_poly's a*b reduced mod X^n + 1. */
START_TEST(test_negacyclic_product)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 100 + (uint64_t)_i);
    unsigned logn = (unsigned)_i;
    size_t n = (size_t)1 << logn;
    for (size_t b = 0; b < NBITS; b++) {
        uint64_t p;
        cn_ntt_table_t t;
        ck_assert_int_eq(cn_primes_ntt(&p, 1, prime_bits[b], n, NULL, 0, b & 1), CN_OK);
        ck_assert_int_eq(cn_ntt_table_init(&t, n, p), CN_OK);
        cn_mod_t m = t.mod;
        uint64_t *a = random_vec(&r, n, p), *c = random_vec(&r, n, p);
        nmod_poly_t fa, fc, fprod;
        nmod_poly_init(fa, p);
        nmod_poly_init(fc, p);
        nmod_poly_init(fprod, p);
        for (size_t i = 0; i < n; i++) {
            nmod_poly_set_coeff_ui(fa, i, a[i]);
            nmod_poly_set_coeff_ui(fc, i, c[i]);
        }
        nmod_poly_mul(fprod, fa, fc);
        cn_ntt_forward(a, &t);
        cn_ntt_forward(c, &t);
        for (size_t i = 0; i < n; i++)
            a[i] = cn_mod_mul(a[i], c[i], m);
        cn_ntt_inverse(a, &t);
        for (size_t i = 0; i < n; i++) {
            uint64_t lo = nmod_poly_get_coeff_ui(fprod, i);
            uint64_t hi = nmod_poly_get_coeff_ui(fprod, i + n);
            ck_assert_uint_eq(a[i], cn_mod_sub(lo, hi, m));
        }
        nmod_poly_clear(fa);
        nmod_poly_clear(fc);
        nmod_poly_clear(fprod);
        free(a);
        free(c);
        cn_ntt_table_clear(&t);
    }
}
END_TEST

/* X * X^(n-1) = -1: a structured case that catches a wrong twist */
START_TEST(test_monomials)
{
    size_t n = 4096;
    uint64_t p;
    cn_ntt_table_t t;
    ck_assert_int_eq(cn_primes_ntt(&p, 1, 55, n, NULL, 0, 1), CN_OK);
    ck_assert_int_eq(cn_ntt_table_init(&t, n, p), CN_OK);
    uint64_t *a = calloc(n, sizeof *a), *c = calloc(n, sizeof *c);
    a[1] = 1;
    c[n - 1] = 1;
    cn_ntt_forward(a, &t);
    cn_ntt_forward(c, &t);
    for (size_t i = 0; i < n; i++)
        a[i] = cn_mod_mul(a[i], c[i], t.mod);
    cn_ntt_inverse(a, &t);
    ck_assert_uint_eq(a[0], p - 1);
    for (size_t i = 1; i < n; i++)
        ck_assert_uint_eq(a[i], 0);
    free(a);
    free(c);
    cn_ntt_table_clear(&t);
}
END_TEST

/* every kernel at the top of its input range (all 4p - 1 forward, 2p - 1 inverse) and on
 * random in-range inputs, against the portable kernel; run for every n and prime size */
START_TEST(test_kernels_extreme)
{
    unsigned logn = (unsigned)_i;
    size_t n = (size_t)1 << logn;
    cn_test_rng_t r;
    cn_test_rng_init(&r, 900 + logn);
    static const unsigned bits[] = {20, 30, 44, 49, 50, 55, 61};
    for (size_t b = 0; b < sizeof bits / sizeof *bits; b++) {
        uint64_t p;
        cn_ntt_table_t t;
        if (cn_primes_ntt(&p, 1, bits[b], n, NULL, 0, 1) != CN_OK)
            continue; /* no such prime for tiny bit sizes at large n */
        ck_assert_int_eq(cn_ntt_table_init(&t, n, p), CN_OK);
        ck_assert_int_eq(t.ws52 != NULL, p < (1ULL << 50));
        uint64_t *c = malloc(n * sizeof *c), *d = malloc(n * sizeof *d);
        for (int mode = 0; mode < 2; mode++) {
            for (size_t i = 0; i < n; i++)
                c[i] = d[i] = mode ? cn_test_rng_below(&r, 4 * p) : 4 * p - 1;
            cn_ntt_forward_lazy(c, &t);
            cn_ntt_forward_lazy_portable(d, &t);
            for (size_t i = 0; i < n; i++) {
                ck_assert_uint_lt(c[i], 4 * p);
                ck_assert_uint_eq(c[i] % p, d[i] % p);
            }
            for (size_t i = 0; i < n; i++)
                c[i] = d[i] = mode ? cn_test_rng_below(&r, 2 * p) : 2 * p - 1;
            cn_ntt_inverse_lazy(c, &t);
            cn_ntt_inverse_lazy_portable(d, &t);
            for (size_t i = 0; i < n; i++) {
                ck_assert_uint_lt(c[i], 2 * p);
                ck_assert_uint_eq(c[i] % p, d[i] % p);
            }
        }
        const char *kn = cn_ntt_table_kernel_name(&t);
        ck_assert_int_eq(strcmp(kn, "avx512ifma") == 0, cn_ntt_table_uses_ifma(&t));
        ck_assert(strcmp(kn, "portable") == 0 || strcmp(kn, "avx512") == 0 ||
                  strcmp(kn, "avx512ifma") == 0);
#ifndef CN_NO_AVX512
        /* the 64-bit AVX-512 kernel directly, also on primes the dispatcher gives IFMA */
        if ((cn_cpu_features() & CN_CPU_AVX512F) && n >= 16) {
            for (size_t i = 0; i < n; i++)
                c[i] = d[i] = i % 2 ? 4 * p - 1 : cn_test_rng_below(&r, 4 * p);
            cn_ntt_forward_lazy_avx512(c, &t);
            cn_ntt_forward_lazy_portable(d, &t);
            for (size_t i = 0; i < n; i++) {
                ck_assert_uint_lt(c[i], 4 * p);
                ck_assert_uint_eq(c[i] % p, d[i] % p);
                c[i] = d[i] = i % 2 ? 2 * p - 1 : c[i] % p;
            }
            cn_ntt_inverse_lazy_avx512(c, &t);
            cn_ntt_inverse_lazy_portable(d, &t);
            for (size_t i = 0; i < n; i++) {
                ck_assert_uint_lt(c[i], 2 * p);
                ck_assert_uint_eq(c[i] % p, d[i] % p);
            }
        }
#endif
        free(c);
        free(d);
        cn_ntt_table_clear(&t);
    }
}
END_TEST

/* the out-of-place forward transform: the same words as copying and transforming in
 * place (itself checked against FLINT above), for the dispatched kernel and each one this
 * CPU runs, with src untouched; and src == dst */
START_TEST(test_forward_from)
{
    unsigned logn = (unsigned)_i;
    size_t n = (size_t)1 << logn;
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1900 + logn);
    static const unsigned bits[] = {30, 49, 55, 61};
    for (size_t b = 0; b < sizeof bits / sizeof *bits; b++) {
        uint64_t p;
        cn_ntt_table_t t;
        if (cn_primes_ntt(&p, 1, bits[b], n, NULL, 0, 1) != CN_OK)
            continue;
        ck_assert_int_eq(cn_ntt_table_init(&t, n, p), CN_OK);
        uint64_t *src = malloc(n * sizeof *src), *keep = malloc(n * sizeof *keep);
        uint64_t *c = malloc(n * sizeof *c), *d = malloc(n * sizeof *d);
        for (size_t i = 0; i < n; i++)
            src[i] = keep[i] = i % 3 ? cn_test_rng_below(&r, 4 * p) : 4 * p - 1;
        for (int k = 0; k < 4; k++) {
            for (size_t i = 0; i < n; i++)
                d[i] = src[i];
            if (k == 0) {
                cn_ntt_forward_lazy(d, &t);
                cn_ntt_forward_lazy_from(c, src, &t);
            } else if (k == 1) {
                cn_ntt_forward_lazy_portable(d, &t);
                cn_ntt_forward_lazy_from_portable(c, src, &t);
            }
#ifndef CN_NO_AVX512
            else if (k == 2 && (cn_cpu_features() & CN_CPU_AVX512F) && n >= 16) {
                cn_ntt_forward_lazy_avx512(d, &t);
                cn_ntt_forward_lazy_from_avx512(c, src, &t);
            }
#endif
#if !defined(CN_NO_AVX512) && !defined(CN_NO_AVX512IFMA)
            else if (k == 3 && (cn_cpu_features() & CN_CPU_AVX512IFMA) && t.ws52 && n >= 16) {
                cn_ntt_forward_lazy_ifma(d, &t);
                cn_ntt_forward_lazy_from_ifma(c, src, &t);
            }
#endif
            else
                continue;
            for (size_t i = 0; i < n; i++) {
                ck_assert_msg(c[i] == d[i], "kernel %d, %u bits, index %zu", k, bits[b], i);
                ck_assert_uint_eq(src[i], keep[i]);
            }
        }
        for (size_t i = 0; i < n; i++)
            c[i] = src[i];
        cn_ntt_forward_lazy_from(c, c, &t); /* in place */
        cn_ntt_forward_lazy(src, &t);
        for (size_t i = 0; i < n; i++)
            ck_assert_uint_eq(c[i], src[i]);
        free(src), free(keep), free(c), free(d);
        cn_ntt_table_clear(&t);
    }
}
END_TEST

CN_SUITE(ntt)
{
    Suite *s = suite_create("ntt");
    TCase *tc = cn_tcase("core", 600);
    tcase_add_test(tc, test_table_errors);
    tcase_add_loop_test(tc, test_round_trip, CN_NTT_MIN_LOGN, CN_NTT_MAX_LOGN + 1);
    tcase_add_loop_test(tc, test_negacyclic_product, CN_NTT_MIN_LOGN, CN_NTT_MAX_LOGN + 1);
    tcase_add_test(tc, test_monomials);
    tcase_add_loop_test(tc, test_kernels_extreme, CN_NTT_MIN_LOGN, CN_NTT_MAX_LOGN + 1);
    tcase_add_loop_test(tc, test_forward_from, CN_NTT_MIN_LOGN, CN_NTT_MAX_LOGN + 1);
    suite_add_tcase(s, tc);
    return s;
}
