/* Tests of BFV parameter validation: each refusal reason, the security bounds at their
 * edges with real prime chains, and the default-parameter helper. */
#include <math.h>

#include "common/util.h"
#include "cryptonets/arith.h"
#include "cryptonets/params.h"

/* n = 8192, primes summing to about `bits` bits with 1 special prime */
static cn_bfv_params_t chain(size_t n, size_t nq, unsigned qbits, unsigned pbits)
{
    cn_bfv_params_t p = {0};
    p.n = n;
    p.nq = nq;
    ck_assert_int_eq(cn_primes_ntt(&p.p, 1, pbits, n, NULL, 0, 1), CN_OK);
    ck_assert_int_eq(cn_primes_ntt(p.q, nq, qbits, n, &p.p, 1, 1), CN_OK);
    p.nt = 1;
    ck_assert_int_eq(cn_primes_ntt(p.t, 1, 20, n, NULL, 0, 0), CN_OK);
    return p;
}

/* The HomomorphicEncryption.org 2018 bounds (ternary secret), from the standard. */
START_TEST(test_table)
{
    const size_t ns[] = {1024, 2048, 4096, 8192, 16384, 32768};
    const unsigned b128[] = {27, 54, 109, 218, 438, 881};
    const unsigned b192[] = {19, 37, 75, 152, 305, 611};
    const unsigned b256[] = {14, 29, 58, 118, 237, 476};
    for (int i = 0; i < 6; i++) {
        ck_assert_uint_eq(cn_security_max_log_q(ns[i], CN_SEC_128), b128[i]);
        ck_assert_uint_eq(cn_security_max_log_q(ns[i], CN_SEC_192), b192[i]);
        ck_assert_uint_eq(cn_security_max_log_q(ns[i], CN_SEC_256), b256[i]);
    }
    ck_assert_uint_eq(cn_security_max_log_q(512, CN_SEC_128), 0);
    ck_assert_uint_eq(cn_security_max_log_q(65536, CN_SEC_128), 0);
    ck_assert_uint_eq(cn_security_max_log_q(8192, CN_SEC_NONE_INSECURE), 0);
    ck_assert_uint_eq(cn_security_max_log_q(3000, CN_SEC_128), 0);
}
END_TEST

/* At n = 8192: 3 x 44-bit + 1 x 44-bit special prime (log2 about 176) passes at 128
 * bits; 4 x 44 + 44 (about 220 > 218) is refused; the same is accepted by name. */
START_TEST(test_security_edges)
{
    cn_bfv_params_t p = chain(8192, 3, 44, 44);
    ck_assert_int_eq(cn_bfv_params_validate(&p), CN_OK);
    p = chain(8192, 4, 44, 44);
    ck_assert(cn_bfv_params_log_qp(&p) > 218.0);
    ck_assert_int_eq(cn_bfv_params_validate(&p), CN_ERR_INSECURE);
    p.security = CN_SEC_NONE_INSECURE;
    ck_assert_int_eq(cn_bfv_params_validate(&p), CN_OK);
    /* 2 x 43 + 3 x 44 bits: log2 just below 218 */
    cn_bfv_params_t m = {0};
    m.n = 8192;
    ck_assert_int_eq(cn_primes_ntt(&m.p, 1, 44, 8192, NULL, 0, 1), CN_OK);
    ck_assert_int_eq(cn_primes_ntt(m.q, 2, 44, 8192, &m.p, 1, 1), CN_OK);
    ck_assert_int_eq(cn_primes_ntt(m.q + 2, 2, 43, 8192, NULL, 0, 1), CN_OK);
    m.nq = 4;
    m.nt = 1;
    m.t[0] = 65537;
    double l = cn_bfv_params_log_qp(&m);
    ck_assert(l > 217.0 && l <= 218.0);
    ck_assert_int_eq(cn_bfv_params_validate(&m), CN_OK);
    m.security = CN_SEC_192;
    ck_assert_int_eq(cn_bfv_params_validate(&m), CN_ERR_INSECURE);
    /* small rings exist only without security */
    cn_bfv_params_t s = chain(64, 2, 40, 40);
    ck_assert_int_eq(cn_bfv_params_validate(&s), CN_ERR_INSECURE);
    s.security = CN_SEC_NONE_INSECURE;
    ck_assert_int_eq(cn_bfv_params_validate(&s), CN_OK);
}
END_TEST

START_TEST(test_reasons)
{
    cn_bfv_params_t base = chain(4096, 2, 36, 36), p;
    ck_assert_int_eq(cn_bfv_params_validate(&base), CN_OK);
    p = base;
    p.n = 3000;
    ck_assert_int_eq(cn_bfv_params_validate(&p), CN_ERR_NOT_POWER_OF_TWO);
    p = base;
    p.n = 8;
    ck_assert_int_eq(cn_bfv_params_validate(&p), CN_ERR_NOT_POWER_OF_TWO);
    p = base;
    p.nq = 0;
    ck_assert_int_eq(cn_bfv_params_validate(&p), CN_ERR_INVALID_ARG);
    p = base;
    p.nq = CN_BFV_MAX_Q + 1;
    ck_assert_int_eq(cn_bfv_params_validate(&p), CN_ERR_INVALID_ARG);
    p = base;
    p.nt = 0;
    ck_assert_int_eq(cn_bfv_params_validate(&p), CN_ERR_INVALID_ARG);
    p = base;
    p.security = (cn_security)7;
    ck_assert_int_eq(cn_bfv_params_validate(&p), CN_ERR_INVALID_ARG);
    p = base;
    p.q[1] = p.q[1] + 2 * 4096; /* 1 mod 2n but (checked) composite or prime */
    if (cn_is_prime(p.q[1]))
        p.q[1] += 2 * 4096;
    while (cn_is_prime(p.q[1]))
        p.q[1] += 2 * 4096;
    ck_assert_int_eq(cn_bfv_params_validate(&p), CN_ERR_NOT_PRIME);
    p = base;
    p.q[0] = (uint64_t)1 << 61 | 1;
    ck_assert_int_eq(cn_bfv_params_validate(&p), CN_ERR_MODULUS_TOO_LARGE);
    p = base; /* a prime that is 1 mod n but not 1 mod 2n */
    ck_assert_int_eq(cn_primes_ntt(&p.q[1], 1, 36, 2048, NULL, 0, 1), CN_OK);
    while ((p.q[1] - 1) % 8192 == 0)
        ck_assert_int_eq(cn_primes_ntt(&p.q[1], 1, 36, 2048, &p.q[1], 1, 1), CN_OK);
    ck_assert_int_eq(cn_bfv_params_validate(&p), CN_ERR_NOT_NTT_FRIENDLY);
    p = base;
    p.q[1] = p.q[0];
    ck_assert_int_eq(cn_bfv_params_validate(&p), CN_ERR_MODULI_NOT_DISTINCT);
    p = base;
    p.p = p.q[0];
    ck_assert_int_eq(cn_bfv_params_validate(&p), CN_ERR_MODULI_NOT_DISTINCT);
    p = base;
    p.t[0] = 1;
    ck_assert_int_eq(cn_bfv_params_validate(&p), CN_ERR_PLAIN_MODULUS);
    p = base;
    p.t[0] = p.q[0];
    ck_assert_int_eq(cn_bfv_params_validate(&p), CN_ERR_PLAIN_MODULUS);
    p = base;
    p.t[0] = (uint64_t)1 << 40; /* too large for 36-bit primes */
    ck_assert_int_eq(cn_bfv_params_validate(&p), CN_ERR_PLAIN_MODULUS);
    p = base;
    p.t[0] = 1024; /* a power of two: scalar use, accepted */
    ck_assert_int_eq(cn_bfv_params_validate(&p), CN_OK);
    ck_assert_int_eq(cn_bfv_plain_batching(1024, 4096), 0);
    ck_assert_int_eq(cn_bfv_plain_batching(base.t[0], 4096), 1);
    ck_assert_int_eq(cn_bfv_plain_batching(65537, 4096), 1);
    ck_assert_int_eq(cn_bfv_plain_batching(65537, 65536), 0);
    p = base;
    p.p = 0; /* no special prime: valid (no relinearization keys) */
    ck_assert_int_eq(cn_bfv_params_validate(&p), CN_OK);
}
END_TEST

START_TEST(test_defaults)
{
    cn_bfv_params_t p;
    ck_assert_int_eq(cn_bfv_params_default(&p, 8192, 4, 43, 44, 1, 20, CN_SEC_128), CN_OK);
    ck_assert_uint_eq(p.nq, 4);
    ck_assert(cn_bfv_params_log_qp(&p) <= 218.0);
    ck_assert_uint_eq(p.t[0] % 16384, 1);
    ck_assert(cn_is_prime(p.t[0]));
    ck_assert_uint_eq(64 - __builtin_clzll(p.t[0]), 20);
    /* 20-bit primes = 1 mod 32768 are 557057 and 786433 only */
    ck_assert_int_eq(cn_bfv_params_default(&p, 16384, 8, 48, 48, 2, 20, CN_SEC_128), CN_OK);
    ck_assert_uint_eq(p.t[0], 557057);
    ck_assert_uint_eq(p.t[1], 786433);
    ck_assert_int_eq(cn_bfv_params_default(&p, 16384, 8, 48, 48, 3, 20, CN_SEC_128),
                     CN_ERR_PLAIN_MODULUS);
    ck_assert_int_eq(cn_bfv_params_default(&p, 8192, 5, 44, 44, 1, 20, CN_SEC_128),
                     CN_ERR_INSECURE);
    ck_assert_int_eq(cn_bfv_params_default(&p, 8192, 4, 43, 44, 1, 20, CN_SEC_256),
                     CN_ERR_INSECURE);
    ck_assert_int_eq(cn_bfv_params_default(&p, 1000, 4, 43, 44, 1, 20, CN_SEC_128),
                     CN_ERR_NOT_POWER_OF_TWO);
    ck_assert_int_eq(cn_bfv_params_default(&p, 8192, 0, 43, 44, 1, 20, CN_SEC_128),
                     CN_ERR_INVALID_ARG);
    ck_assert_uint_eq(cn_bfv_params_max_primes(8192, 43, 44, CN_SEC_128), 4);
    ck_assert_uint_eq(cn_bfv_params_max_primes(16384, 48, 48, CN_SEC_128), 8);
    ck_assert_uint_eq(cn_bfv_params_max_primes(100, 48, 48, CN_SEC_128), 0);
}
END_TEST

CN_SUITE(params)
{
    Suite *s = suite_create("params");
    TCase *tc = cn_tcase("core", 120);
    tcase_add_test(tc, test_table);
    tcase_add_test(tc, test_security_edges);
    tcase_add_test(tc, test_reasons);
    tcase_add_test(tc, test_defaults);
    suite_add_tcase(s, tc);
    return s;
}
