/* Tests of the multiplication's scaling step (lib/rns/mulscale.h): round(t X / Q) mod q_i
 * from X's residues over Q u R against exact big-integer arithmetic (GMP), for the
 * portable kernel, the IFMA kernel where the CPU has it and the dispatched one, with the
 * inputs reduced and lazy (in [0, 2p)), and the table builder's refusals. Values whose
 * scaled fraction lies within kq 2^-51 of a half (where the kernels' fixed-point rounding
 * may differ from the exact one; probability about 2^-48 per coefficient) are not built. */
#include <gmp.h>
#include <stdlib.h>

#include "common/util.h"
#include "rns/mulscale.h"

/* configurations: (kq, bits of q, kr, bits of r, bits of t); the ones below 2^50 reach the
 * IFMA kernel, 4 x 42 / 4 x 50 / 23 is the MNIST plan's shape */
static const unsigned cfg[][5] = {{4, 42, 4, 50, 23}, {3, 44, 4, 50, 20}, {8, 49, 6, 50, 30},
                                  {1, 40, 3, 50, 17}, {2, 60, 3, 60, 40}, {5, 36, 7, 45, 33},
                                  {2, 30, 4, 50, 28}, {4, 49, 9, 50, 3},  {6, 61, 5, 61, 60}};
#define NCFG (sizeof cfg / sizeof *cfg)

static void random_below(mpz_t x, const mpz_t M, cn_test_rng_t *r)
{
    mpz_set_ui(x, 0);
    for (size_t i = 0; i < mpz_sizeinbase(M, 2) / 64 + 2; i++) {
        mpz_mul_2exp(x, x, 64);
        mpz_add_ui(x, x, cn_test_rng_next(r));
    }
    mpz_mod(x, x, M);
}

START_TEST(test_mulscale)
{
    const size_t c = (size_t)_i, kq = cfg[c][0], kr = cfg[c][2];
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1300 + c);
    uint64_t q[16], rr[16], t;
    ck_assert_int_eq(cn_primes_ntt(q, kq, cfg[c][1], 4096, NULL, 0, 1), CN_OK);
    ck_assert_int_eq(cn_primes_ntt(rr, kr, cfg[c][3], 4096, q, kq, 1), CN_OK);
    ck_assert_int_eq(cn_primes_ntt(&t, 1, cfg[c][4], 1, q, kq, 0), CN_OK);
    cn_mulscale_t ms;
    ck_assert_int_eq(cn_mulscale_init(&ms, q, kq, rr, kr, t), CN_OK);
    const size_t n = 264;
    uint64_t *xq = malloc(kq * n * sizeof *xq), *xr = malloc(kr * n * sizeof *xr);
    uint64_t *want = malloc(kq * n * sizeof *want), *o = malloc(kq * n * sizeof *o);
    mpz_t Q, R, B, X, v;
    mpz_inits(Q, R, B, X, v, NULL);
    mpz_set_ui(Q, 1);
    for (size_t i = 0; i < kq; i++)
        mpz_mul_ui(Q, Q, q[i]);
    mpz_set_ui(R, 1);
    for (size_t j = 0; j < kr; j++)
        mpz_mul_ui(R, R, rr[j]);
    /* |X| <= B = Q (R/8 - kq): the contract's largest inputs */
    mpz_fdiv_q_2exp(B, R, 3);
    mpz_sub_ui(B, B, kq);
    mpz_mul(B, B, Q);
    for (size_t l = 0; l < n; l++) {
        mpz_mul_2exp(v, B, 1);
        mpz_add_ui(v, v, 1);
        random_below(X, v, &r);
        mpz_sub(X, X, B); /* uniform in [-B, B] */
        if (l % 37 == 1)
            mpz_set(X, B);
        if (l % 37 == 2)
            mpz_neg(X, B);
        if (l % 37 == 3)
            mpz_set_si(X, (long)l - 100);
        for (size_t i = 0; i < kq; i++)
            xq[i * n + l] = mpz_fdiv_ui(X, q[i]);
        for (size_t j = 0; j < kr; j++)
            xr[j * n + l] = mpz_fdiv_ui(X, rr[j]);
        /* round(t X / Q) = floor((2 t X + Q) / (2 Q)) */
        mpz_mul_ui(v, X, 2 * t);
        mpz_add(v, v, Q);
        mpz_fdiv_q(v, v, Q);
        mpz_fdiv_q_2exp(v, v, 1);
        for (size_t i = 0; i < kq; i++)
            want[i * n + l] = mpz_fdiv_ui(v, q[i]);
    }
    for (int lazy = 0; lazy < 2; lazy++) {
        if (lazy) /* a lazy inverse NTT's outputs: one residue in three lifted by p */
            for (size_t l = 0; l < n; l += 3) {
                for (size_t i = 0; i < kq; i++)
                    xq[i * n + l] += q[i];
                for (size_t j = 0; j < kr; j++)
                    xr[j * n + l] += rr[j];
            }
        cn_mulscale_portable(o, xq, xr, n, &ms);
        for (size_t i = 0; i < kq * n; i++)
            ck_assert_msg(o[i] == want[i], "portable cfg %zu lazy %d index %zu", c, lazy, i);
#if !defined(CN_NO_AVX512) && !defined(CN_NO_AVX512IFMA)
        if (ms.ifma) {
            cn_mulscale_ifma(o, xq, xr, n, &ms);
            for (size_t i = 0; i < kq * n; i++)
                ck_assert_msg(o[i] == want[i], "ifma cfg %zu lazy %d index %zu", c, lazy, i);
        }
#endif
        cn_mulscale(o, xq, xr, n, &ms);
        for (size_t i = 0; i < kq * n; i++)
            ck_assert_msg(o[i] == want[i], "dispatched cfg %zu lazy %d index %zu", c, lazy, i);
    }
    mpz_clears(Q, R, B, X, v, NULL);
    free(xq), free(xr), free(want), free(o);
    cn_mulscale_clear(&ms);
}
END_TEST

START_TEST(test_mulscale_refuses)
{
    uint64_t q[2], r[2];
    ck_assert_int_eq(cn_primes_ntt(q, 2, 30, 4096, NULL, 0, 1), CN_OK);
    ck_assert_int_eq(cn_primes_ntt(r, 2, 40, 4096, q, 2, 1), CN_OK);
    cn_mulscale_t ms;
    ck_assert_int_eq(cn_mulscale_init(&ms, q, 0, r, 2, 17), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_mulscale_init(&ms, q, 2, r, 0, 17), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_mulscale_init(&ms, q, 2, r, 2, 0), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_mulscale_init(&ms, q, 2, r, 2, q[1]), CN_ERR_INVALID_ARG); /* t >= q */
    ck_assert_int_eq(cn_mulscale_init(&ms, q, 2, r, 2, 17), CN_OK);
    cn_mulscale_clear(&ms);
    cn_mulscale_clear(&ms); /* clear twice: safe */
}
END_TEST

CN_SUITE(mulscale)
{
    Suite *s = suite_create("mulscale");
    TCase *tc = cn_tcase("core", 120);
    tcase_add_loop_test(tc, test_mulscale, 0, (int)NCFG);
    tcase_add_test(tc, test_mulscale_refuses);
    suite_add_tcase(s, tc);
    return s;
}
