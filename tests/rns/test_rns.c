/* Tests of lib/rns: base validation, CRT decomposition and composition against FLINT's
 * fmpz CRT, and fast base conversion against exact big-integer conversion. */
#include <flint/fmpz.h>
#include <gmp.h>
#include <stdlib.h>

#include "common/util.h"
#include "cryptonets/mpz.h"
#include "cryptonets/rns.h"

/* k primes of the given bit size, 1 mod 2^13, distinct */
static void primes(uint64_t *q, size_t k, unsigned bits)
{
    ck_assert_int_eq(cn_primes_ntt(q, k, bits, 4096, NULL, 0, 1), CN_OK);
}

/* a uniform big integer below Q from the test generator */
static void random_below(mpz_t x, const mpz_t Q, cn_test_rng_t *r)
{
    mpz_set_ui(x, 0);
    size_t words = mpz_sizeinbase(Q, 2) / 64 + 2;
    for (size_t i = 0; i < words; i++) {
        mpz_mul_2exp(x, x, 64);
        mpz_add_ui(x, x, cn_test_rng_next(r));
    }
    mpz_mod(x, x, Q);
}

START_TEST(test_base_errors)
{
    uint64_t q[CN_RNS_MAX_PRIMES + 1];
    primes(q, 3, 40);
    cn_rns_base_t b;
    ck_assert_int_eq(cn_rns_base_init(&b, q, 0), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_rns_base_init(&b, q, CN_RNS_MAX_PRIMES + 1), CN_ERR_INVALID_ARG);
    cn_rns_base_clear(&b); /* zeroed on failure */
    uint64_t bad[3] = {q[0], q[1], q[0]};
    ck_assert_int_eq(cn_rns_base_init(&b, bad, 3), CN_ERR_MODULI_NOT_DISTINCT);
    bad[2] = 1000003ULL * 1000003ULL; /* a square of a prime */
    ck_assert_int_eq(cn_rns_base_init(&b, bad, 3), CN_ERR_NOT_PRIME);
    bad[2] = (1ULL << 61) + 1;
    ck_assert_int_eq(cn_rns_base_init(&b, bad, 3), CN_ERR_MODULUS_TOO_LARGE);
    ck_assert_int_eq(cn_rns_base_init(&b, q, 3), CN_OK);
    ck_assert_uint_eq(b.k, 3);
    mpz_t Q;
    mpz_init(Q);
    cn_rns_base_modulus_mpz(Q, &b);
    long e;
    double m = mpz_get_d_2exp(&e, Q);
    ck_assert(b.log2_q > (double)e - 1 && b.log2_q <= (double)e);
    ck_assert(m >= 0.5);
    mpz_clear(Q);
    cn_rns_base_clear(&b);
    cn_rns_base_clear(&b); /* twice is safe */
}
END_TEST

/* decomposition and centered composition agree with FLINT's fmpz CRT (symmetric) */
START_TEST(test_crt_vs_fmpz)
{
    static const unsigned cfg[][2] = {{1, 30}, {2, 61}, {4, 50}, {8, 45}, {16, 60}, {64, 40}};
    const size_t c = (size_t)_i;
    const size_t k = cfg[c][0];
    cn_test_rng_t r;
    cn_test_rng_init(&r, 200 + c);
    uint64_t q[CN_RNS_MAX_PRIMES];
    ck_assert_int_eq(cn_primes_ntt(q, k, cfg[c][1], 2, NULL, 0, 1), CN_OK);
    cn_rns_base_t b;
    ck_assert_int_eq(cn_rns_base_init(&b, q, k), CN_OK);
    mpz_t Q, x, y;
    mpz_inits(Q, x, y, NULL);
    fmpz_t fx, fy, fQ, half;
    fmpz_init(fx), fmpz_init(fy), fmpz_init(fQ), fmpz_init(half);
    fmpz_one(fQ);
    for (size_t i = 0; i < k; i++)
        fmpz_mul_ui(fQ, fQ, q[i]);
    fmpz_get_mpz(Q, fQ);
    cn_rns_base_modulus_mpz(y, &b);
    ck_assert(mpz_cmp(Q, y) == 0);
    fmpz_fdiv_q_2exp(half, fQ, 1);
    uint64_t res[2 * CN_RNS_MAX_PRIMES];
    for (int it = 0; it < 200; it++) {
        random_below(x, Q, &r);
        if (it == 0)
            mpz_set_ui(x, 0);
        if (it == 1)
            fmpz_get_mpz(x, half); /* Q/2 rounded down: the top of the range */
        if (it == 2)
            mpz_sub_ui(x, Q, 1);
        if (it & 1)
            mpz_neg(x, x); /* both signs, also outside the centered range */
        cn_rns_decompose_mpz(res, 2, x, &b);
        fmpz_set_mpz(fx, x);
        for (size_t i = 0; i < k; i++)
            ck_assert_uint_eq(res[2 * i], fmpz_fdiv_ui(fx, q[i]));
        ck_assert_int_eq(cn_rns_compose_mpz(y, res, 2, &b), CN_OK);
        /* oracle: FLINT's CRT, built prime by prime, symmetric representative */
        fmpz_t acc, mod;
        fmpz_init_set_ui(acc, res[0]);
        fmpz_init_set_ui(mod, q[0]);
        for (size_t i = 1; i < k; i++) {
            fmpz_CRT_ui(acc, acc, mod, res[2 * i], q[i], i + 1 == k);
            fmpz_mul_ui(mod, mod, q[i]);
        }
        if (k == 1 && fmpz_cmp(acc, half) > 0)
            fmpz_sub(acc, acc, fQ);
        fmpz_set_mpz(fy, y);
        ck_assert_msg(fmpz_equal(fy, acc), "compose differs from FLINT at it %d", it);
        /* and the centered value is in (-Q/2, Q/2] */
        ck_assert(fmpz_cmp(fy, half) <= 0);
        fmpz_neg(fy, fy); /* -y < Q/2: -y <= floor(Q/2) for odd Q, < Q/2 for even Q */
        int cmp = fmpz_cmp(fy, half);
        ck_assert(cmp < 0 || (cmp == 0 && fmpz_is_odd(fQ)));
        fmpz_clear(acc);
        fmpz_clear(mod);
    }
    /* a residue out of range is refused */
    cn_rns_decompose_mpz(res, 1, x, &b);
    res[k - 1] = q[k - 1];
    ck_assert_int_eq(cn_rns_compose_mpz(y, res, 1, &b), CN_ERR_OUT_OF_RANGE);
    fmpz_clear(fx), fmpz_clear(fy), fmpz_clear(fQ), fmpz_clear(half);
    mpz_clears(Q, x, y, NULL);
    cn_rns_base_clear(&b);
}
END_TEST

/* FastBConv(x)_j = (x + a Q) mod p_j with 0 <= a < k, checked with exact integers */
START_TEST(test_fast_conv)
{
    static const unsigned cfg[][4] = {
        {4, 50, 5, 51}, {1, 60, 2, 30}, {8, 61, 9, 61}, {3, 40, 3, 40}, {40, 45, 41, 46}};
    const size_t c = (size_t)_i;
    const size_t kf = cfg[c][0], kt = cfg[c][2];
    cn_test_rng_t r;
    cn_test_rng_init(&r, 300 + c);
    uint64_t qf[CN_RNS_MAX_PRIMES], qt[CN_RNS_MAX_PRIMES];
    ck_assert_int_eq(cn_primes_ntt(qf, kf, cfg[c][1], 2, NULL, 0, 1), CN_OK);
    if (c == 3) {
        /* the target base shares two primes with the source */
        qt[0] = qf[1], qt[1] = qf[0];
        ck_assert_int_eq(cn_primes_ntt(qt + 2, 1, 41, 2, NULL, 0, 1), CN_OK);
    } else {
        ck_assert_int_eq(cn_primes_ntt(qt, kt, cfg[c][3], 2, qf, kf, 0), CN_OK);
    }
    cn_rns_base_t bf, bt;
    ck_assert_int_eq(cn_rns_base_init(&bf, qf, kf), CN_OK);
    ck_assert_int_eq(cn_rns_base_init(&bt, qt, kt), CN_OK);
    cn_rns_conv_t cv;
    ck_assert_int_eq(cn_rns_conv_init(&cv, &bf, &bt), CN_OK);
    cn_rns_base_clear(&bf); /* the conversion keeps its own tables */
    ck_assert_int_eq(cn_rns_base_init(&bf, qf, kf), CN_OK);
    const size_t n = 64;
    uint64_t *in = malloc(kf * n * sizeof *in), *out = malloc(kt * n * sizeof *out);
    mpz_t Q, x[64], v;
    mpz_inits(Q, v, NULL);
    cn_rns_base_modulus_mpz(Q, &bf);
    for (size_t j = 0; j < n; j++) {
        mpz_init(x[j]);
        random_below(x[j], Q, &r);
        if (j == 0)
            mpz_sub_ui(x[j], Q, 1); /* all residues large: a is largest */
        cn_rns_decompose_mpz(in + j, n, x[j], &bf);
    }
    cn_rns_conv_fast(out, in, n, &cv);
    for (size_t j = 0; j < n; j++) {
        for (size_t t = 0; t < kt; t++) {
            int found = 0;
            for (size_t a = 0; a < kf && !found; a++) {
                mpz_mul_ui(v, Q, a);
                mpz_add(v, v, x[j]);
                found = mpz_fdiv_ui(v, qt[t]) == out[t * n + j];
            }
            ck_assert_msg(found, "value %zu target %zu: no a in [0, k) fits", j, t);
            ck_assert_uint_lt(out[t * n + j], qt[t]);
        }
        mpz_clear(x[j]);
    }
    mpz_clears(Q, v, NULL);
    free(in);
    free(out);
    cn_rns_conv_clear(&cv);
    cn_rns_conv_clear(&cv);
    cn_rns_base_clear(&bf);
    cn_rns_base_clear(&bt);
}
END_TEST

CN_SUITE(rns)
{
    Suite *s = suite_create("rns");
    TCase *tc = cn_tcase("core", 120);
    tcase_add_test(tc, test_base_errors);
    tcase_add_loop_test(tc, test_crt_vs_fmpz, 0, 6);
    tcase_add_loop_test(tc, test_fast_conv, 0, 5);
    suite_add_tcase(s, tc);
    return s;
}
