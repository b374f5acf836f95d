/* Tests of lib/arith against exact 128-bit arithmetic and FLINT's ulong_extras. */
#include <flint/ulong_extras.h>

#include "common/util.h"
#include "cryptonets/arith.h"

/* a random modulus of exactly `bits` bits (odd when bits > 2) */
static uint64_t random_modulus(cn_test_rng_t *r, unsigned bits)
{
    uint64_t top = (uint64_t)1 << (bits - 1);
    return top | (cn_test_rng_below(r, top) | (bits > 2 ? 1 : 0));
}

START_TEST(test_mod_init_errors)
{
    cn_mod_t m;
    ck_assert_int_eq(cn_mod_init(&m, 0), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_mod_init(&m, 1), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_mod_init(&m, (uint64_t)1 << 61), CN_ERR_MODULUS_TOO_LARGE);
    ck_assert_int_eq(cn_mod_init(&m, UINT64_MAX), CN_ERR_MODULUS_TOO_LARGE);
    ck_assert_int_eq(cn_mod_init(&m, ((uint64_t)1 << 61) - 1), CN_OK);
    ck_assert_uint_eq(m.bits, 61);
    ck_assert_int_eq(cn_mod_init(&m, 2), CN_OK);
    ck_assert_uint_eq(m.bits, 2);
}
END_TEST

/* Barrett, Shoup, add/sub/neg and 128-bit reduction against the % operator. */
START_TEST(test_mod_ops_random)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1);
    for (unsigned bits = 2; bits <= 61; bits++) {
        for (int trial = 0; trial < 20; trial++) {
            uint64_t p = random_modulus(&r, bits);
            cn_mod_t m;
            ck_assert_int_eq(cn_mod_init(&m, p), CN_OK);
            for (int i = 0; i < 200; i++) {
                uint64_t a = cn_test_rng_below(&r, p), b = cn_test_rng_below(&r, p);
                /* extremes too */
                if (i == 0)
                    a = b = p - 1;
                if (i == 1) {
                    a = 0;
                    b = p - 1;
                }
                cn_u128 prod = (cn_u128)a * b;
                uint64_t want = (uint64_t)(prod % p);
                ck_assert_uint_eq(cn_mod_mul(a, b, m), want);
                ck_assert_uint_eq(cn_mod_add(a, b, m), (uint64_t)(((cn_u128)a + b) % p));
                ck_assert_uint_eq(cn_mod_sub(a, b, m), (uint64_t)(((cn_u128)a + p - b) % p));
                ck_assert_uint_eq(cn_mod_neg(a, m), (p - a) % p);
                uint64_t bs = cn_mod_shoup(b, m);
                ck_assert_uint_eq(cn_mod_mul_shoup(a, b, bs, p), want);
                uint64_t x = cn_test_rng_next(&r); /* any 64-bit a for lazy Shoup */
                uint64_t lz = cn_mod_mul_shoup_lazy(x, b, bs, p);
                ck_assert_uint_lt(lz, 2 * p);
                ck_assert_uint_eq(lz % p, (uint64_t)(((cn_u128)x * b) % p));
                ck_assert_uint_eq(cn_mod_reduce_u64(x, m), x % p);
                cn_u128 big = ((cn_u128)cn_test_rng_next(&r) << 64) | cn_test_rng_next(&r);
                ck_assert_uint_eq(cn_mod_reduce_any_u128(big, m), (uint64_t)(big % p));
                int64_t s = (int64_t)cn_test_rng_next(&r);
                uint64_t sm = s >= 0 ? (uint64_t)s % p : (p - ((0 - (uint64_t)s) % p)) % p;
                ck_assert_uint_eq(cn_mod_from_int64(s, m), sm);
                int64_t c = cn_mod_center(a, m);
                ck_assert(c > -(int64_t)((p + 1) / 2) && c <= (int64_t)(p / 2));
                ck_assert_uint_eq((uint64_t)(c + (int64_t)p) % p, a);
            }
        }
    }
}
END_TEST

START_TEST(test_pow_inv)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 2);
    for (unsigned bits = 3; bits <= 61; bits++) {
        uint64_t p = n_nextprime((ulong)1 << (bits - 1), 1);
        if (p >> bits)
            continue;
        cn_mod_t m;
        ck_assert_int_eq(cn_mod_init(&m, p), CN_OK);
        for (int i = 0; i < 50; i++) {
            uint64_t a = cn_test_rng_below(&r, p), e = cn_test_rng_next(&r);
            ck_assert_uint_eq(cn_mod_pow(a, e, m),
                              n_powmod2_ui_preinv(a, e, p, n_preinvert_limb(p)));
            if (a == 0)
                continue;
            uint64_t inv;
            ck_assert_int_eq(cn_mod_inv(&inv, a, m), CN_OK);
            ck_assert_uint_eq(cn_mod_mul(a, inv, m), 1);
        }
        uint64_t inv;
        ck_assert_int_eq(cn_mod_inv(&inv, 0, m), CN_ERR_NOT_INVERTIBLE);
        ck_assert_int_eq(cn_mod_inv(&inv, p, m), CN_ERR_NOT_INVERTIBLE);
    }
    cn_mod_t m;
    uint64_t inv;
    ck_assert_int_eq(cn_mod_init(&m, 1000), CN_OK);
    ck_assert_int_eq(cn_mod_inv(&inv, 10, m), CN_ERR_NOT_INVERTIBLE);
    ck_assert_int_eq(cn_mod_inv(&inv, 7, m), CN_OK);
    ck_assert_uint_eq(7 * inv % 1000, 1);
}
END_TEST

/* The prime search against an independent enumeration with n_nextprime. */
START_TEST(test_primes_ntt)
{
    const unsigned bitset[] = {20, 30, 44, 60, 61};
    for (size_t bi = 0; bi < sizeof bitset / sizeof *bitset; bi++) {
        unsigned bits = bitset[bi];
        size_t n = bits == 20 ? 256 : 8192;
        uint64_t got[6], low[6];
        ck_assert_int_eq(cn_primes_ntt(got, 6, bits, n, NULL, 0, 1), CN_OK);
        ck_assert_int_eq(cn_primes_ntt(low, 6, bits, n, NULL, 0, 0), CN_OK);
        for (int i = 0; i < 6; i++) {
            ck_assert(n_is_prime(got[i]) && n_is_prime(low[i]));
            ck_assert_uint_eq(got[i] % (2 * n), 1);
            ck_assert_uint_eq(low[i] % (2 * n), 1);
            ck_assert_uint_eq(64 - __builtin_clzll(got[i]), bits);
            ck_assert_uint_eq(64 - __builtin_clzll(low[i]), bits);
            if (i) {
                ck_assert_uint_lt(got[i], got[i - 1]);
                ck_assert_uint_gt(low[i], low[i - 1]);
            }
        }
        if (bits <= 30) {
            /* the smallest ones: no qualifying prime skipped */
            uint64_t q = ((uint64_t)1 << (bits - 1)) - 1;
            for (int i = 0; i < 6; i++) {
                do
                    q = n_nextprime(q, 1);
                while (q % (2 * n) != 1);
                ck_assert_uint_eq(low[i], q);
            }
        }
        /* exclusion: skipping the first two gives the next ones */
        uint64_t ex[4];
        ck_assert_int_eq(cn_primes_ntt(ex, 4, bits, n, got, 2, 1), CN_OK);
        for (int i = 0; i < 4; i++)
            ck_assert_uint_eq(ex[i], got[i + 2]);
    }
    uint64_t out[4];
    /* 2n larger than the range: none exist */
    ck_assert_int_eq(cn_primes_ntt(out, 1, 10, 4096, NULL, 0, 1), CN_ERR_NOT_ENOUGH_PRIMES);
    /* 14-bit primes = 1 mod 4096: 12289 = 3 * 2^12 + 1 is the only one (8193 = 3 * 2731;
     * the candidates are 8193 and 12289); 13-bit ones = 1 mod 1024: none */
    ck_assert_int_eq(cn_primes_ntt(out, 2, 14, 2048, NULL, 0, 1), CN_ERR_NOT_ENOUGH_PRIMES);
    ck_assert_int_eq(cn_primes_ntt(out, 1, 14, 2048, NULL, 0, 1), CN_OK);
    ck_assert_uint_eq(out[0], 12289);
    ck_assert_int_eq(cn_primes_ntt(out, 1, 14, 2048, NULL, 0, 0), CN_OK);
    ck_assert_uint_eq(out[0], 12289);
    ck_assert_int_eq(cn_primes_ntt(out, 1, 13, 512, NULL, 0, 0), CN_ERR_NOT_ENOUGH_PRIMES);
    ck_assert_int_eq(cn_primes_ntt(out, 1, 62, 16, NULL, 0, 1), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_primes_ntt(out, 1, 40, 12, NULL, 0, 1), CN_ERR_INVALID_ARG);
}
END_TEST

START_TEST(test_root_of_unity)
{
    uint64_t primes[4];
    for (uint64_t order = 2; order <= 65536; order *= 2) {
        /* sizes 20 (small enough to check minimality by brute force) .. 61 bits */
        for (int i = 0; i < 4; i++)
            ck_assert_int_eq(cn_primes_ntt(primes + i, 1, i == 0 ? 20 : 40 + 7 * (unsigned)i,
                                           order / 2, NULL, 0, 1),
                             CN_OK);
        for (int i = 0; i < 4; i++) {
            uint64_t p = primes[i], w;
            cn_mod_t m;
            ck_assert_int_eq(cn_mod_init(&m, p), CN_OK);
            ck_assert_int_eq(cn_root_of_unity(&w, order, p), CN_OK);
            ck_assert_uint_eq(cn_mod_pow(w, order, m), 1);
            ck_assert_uint_eq(cn_mod_pow(w, order / 2, m), p - 1);
            if (i == 0) { /* smallest: no smaller value has exact order `order` */
                for (uint64_t c = 2; c < w; c++)
                    ck_assert(!(cn_mod_pow(c, order / 2, m) == p - 1));
            }
        }
    }
    uint64_t w;
    ck_assert_int_eq(cn_root_of_unity(&w, 16, 17 * 97), CN_ERR_NOT_PRIME);
    ck_assert_int_eq(cn_root_of_unity(&w, 64, 97), CN_ERR_NOT_NTT_FRIENDLY);
    ck_assert_int_eq(cn_root_of_unity(&w, 12, 97), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_root_of_unity(&w, 32, 97), CN_OK);
}
END_TEST

START_TEST(test_strerror)
{
    for (int s = 0; s < CN_STATUS_COUNT_; s++) {
        ck_assert_ptr_nonnull(cn_strerror((cn_status)s));
        ck_assert_str_ne(cn_strerror((cn_status)s), "unknown status code");
    }
    ck_assert_str_eq(cn_strerror((cn_status)9999), "unknown status code");
    ck_assert_str_eq(cn_strerror((cn_status)-1), "unknown status code");
}
END_TEST

CN_SUITE(arith)
{
    Suite *s = suite_create("arith");
    TCase *tc = cn_tcase("core", 120);
    tcase_add_test(tc, test_mod_init_errors);
    tcase_add_test(tc, test_mod_ops_random);
    tcase_add_test(tc, test_pow_inv);
    tcase_add_test(tc, test_primes_ntt);
    tcase_add_test(tc, test_root_of_unity);
    tcase_add_test(tc, test_strerror);
    suite_add_tcase(s, tc);
    return s;
}
