/* Tests of the multiplication's scaling step (lib/rns/mulscale.h): round(t X / Q) mod q_i
 * from X's residues over Q u R against exact big-integer arithmetic (GMP), for the
 * portable kernel, the IFMA kernel where the CPU has it and the dispatched one, with the
 * inputs reduced and lazy (in [0, 2p)), and the table builder's refusals. Values whose
 * scaled fraction lies within kq 2^-51 of a half (where the kernels' fixed-point rounding
 * may differ from the exact one; probability about 2^-48 per coefficient) are not built.
 * The same with the modulus switch folded in (cn_mulscale_drop), also at chosen results
 * whose residues are at the extremes (q_i - 1, half of q_L). */
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

/* want (kq - 1 rows) = the modulus switch of c (the integer in [0, Q) of the residues
 * C mod q_i, as GMP's big integers): (c - [c]) / q_kq mod q_i, [c] = c mod q_kq centered
 * (c mod q_kq - q_kq above q_kq / 2), an exact division */
static void oracle_switch(uint64_t *want, const mpz_t C, const mpz_t Q, const uint64_t *q,
                          size_t kq, size_t n, size_t l)
{
    mpz_t c, e;
    mpz_inits(c, e, NULL);
    mpz_fdiv_r(c, C, Q);
    const uint64_t ql = q[kq - 1];
    mpz_set_ui(e, mpz_fdiv_ui(c, ql));
    if (mpz_cmp_ui(e, ql / 2) > 0)
        mpz_sub_ui(e, e, ql);
    mpz_sub(c, c, e);
    mpz_divexact_ui(c, c, ql);
    for (size_t i = 0; i + 1 < kq; i++)
        want[i * n + l] = mpz_fdiv_ui(c, q[i]);
    mpz_clears(c, e, NULL);
}

/* cn_mulscale_drop against GMP: random X in the kernels' range, and X = round(C Q / t)
 * for chosen results C (round(t X / Q) = C, since t / Q <= 2^-20 here) whose residue
 * modulo the dropped prime is at the extremes 0, 1, (q_L - 1) / 2, (q_L + 1) / 2, q_L - 1,
 * with the other residues q_i - 1 or 0 */
START_TEST(test_mulscale_drop)
{
    const size_t c = (size_t)_i, kq = cfg[c][0], kr = cfg[c][2];
    if (kq < 2)
        return;
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1400 + c);
    uint64_t q[16], rr[16], t;
    ck_assert_int_eq(cn_primes_ntt(q, kq, cfg[c][1], 4096, NULL, 0, 1), CN_OK);
    ck_assert_int_eq(cn_primes_ntt(rr, kr, cfg[c][3], 4096, q, kq, 1), CN_OK);
    ck_assert_int_eq(cn_primes_ntt(&t, 1, cfg[c][4], 1, q, kq, 0), CN_OK);
    cn_mulscale_t ms;
    ck_assert_int_eq(cn_mulscale_init(&ms, q, kq, rr, kr, t), CN_OK);
    const size_t n = 264, ql = q[kq - 1];
    uint64_t *xq = malloc(kq * n * sizeof *xq), *xr = malloc(kr * n * sizeof *xr);
    uint64_t *want = malloc(kq * n * sizeof *want), *o = malloc(kq * n * sizeof *o);
    mpz_t Q, R, B, X, v, C, M;
    mpz_inits(Q, R, B, X, v, C, M, NULL);
    mpz_set_ui(Q, 1);
    for (size_t i = 0; i < kq; i++)
        mpz_mul_ui(Q, Q, q[i]);
    mpz_set_ui(R, 1);
    for (size_t j = 0; j < kr; j++)
        mpz_mul_ui(R, R, rr[j]);
    mpz_fdiv_q_2exp(B, R, 3);
    mpz_sub_ui(B, B, kq);
    mpz_mul(B, B, Q);
    mpz_divexact_ui(M, Q, ql); /* Q / q_L */
    const uint64_t ends[] = {0, 1, (ql - 1) / 2, (ql + 1) / 2, ql - 1};
    for (size_t l = 0; l < n; l++) {
        if (l < 40) { /* C = e mod q_L, C = -1 (l even) or 0 mod Q / q_L */
            const uint64_t e = ends[l % 5];
            /* C = e + q_L k with k = (f - e) q_L^-1 mod Q / q_L, f = C mod Q / q_L */
            mpz_set_si(C, l % 2 ? 0 : -1);
            mpz_sub_ui(C, C, e);
            mpz_set_ui(v, ql);
            ck_assert(mpz_invert(v, v, M));
            mpz_mul(C, C, v);
            mpz_fdiv_r(C, C, M);
            mpz_mul_ui(C, C, ql);
            mpz_add_ui(C, C, e);
            if (l % 10 >= 5)
                mpz_sub(C, C, Q); /* a negative C of the same residues */
            /* X = round(C Q / t); where that is beyond the kernels' range (Q / t > R / 8:
             * cfg 2), the small C = e or e - q_L */
            for (int small = 0; small < 2; small++) {
                if (small) {
                    mpz_set_ui(C, e);
                    if (l % 2)
                        mpz_sub_ui(C, C, ql);
                }
                mpz_mul(X, C, Q);
                mpz_mul_2exp(X, X, 1);
                mpz_add_ui(X, X, t);
                mpz_fdiv_q_ui(X, X, 2 * t);
                if (mpz_cmpabs(X, B) <= 0)
                    break;
            }
        } else {
            mpz_mul_2exp(v, B, 1);
            mpz_add_ui(v, v, 1);
            random_below(X, v, &r);
            mpz_sub(X, X, B); /* uniform in [-B, B] */
        }
        for (size_t i = 0; i < kq; i++)
            xq[i * n + l] = mpz_fdiv_ui(X, q[i]);
        for (size_t j = 0; j < kr; j++)
            xr[j * n + l] = mpz_fdiv_ui(X, rr[j]);
        /* round(t X / Q), then the switch */
        mpz_mul_ui(v, X, 2 * t);
        mpz_add(v, v, Q);
        mpz_fdiv_q(v, v, Q);
        mpz_fdiv_q_2exp(v, v, 1);
        if (l < 40) {
            mpz_sub(C, v, C);
            ck_assert_msg(mpz_sgn(C) == 0, "cfg %zu: round(t X / Q) != C at %zu", c, l);
        }
        oracle_switch(want, v, Q, q, kq, n, l);
    }
    const size_t m = (kq - 1) * n;
    for (int lazy = 0; lazy < 2; lazy++) {
        if (lazy) /* a lazy inverse NTT's outputs: one residue in three lifted by p */
            for (size_t l = 0; l < n; l += 3) {
                for (size_t i = 0; i < kq; i++)
                    xq[i * n + l] += q[i];
                for (size_t j = 0; j < kr; j++)
                    xr[j * n + l] += rr[j];
            }
        cn_mulscale_drop_portable(o, xq, xr, n, &ms);
        for (size_t i = 0; i < m; i++)
            ck_assert_msg(o[i] == want[i], "portable cfg %zu lazy %d index %zu", c, lazy, i);
#if !defined(CN_NO_AVX512) && !defined(CN_NO_AVX512IFMA)
        if (ms.ifma) {
            cn_mulscale_drop_ifma(o, xq, xr, n, &ms);
            for (size_t i = 0; i < m; i++)
                ck_assert_msg(o[i] == want[i], "ifma cfg %zu lazy %d index %zu", c, lazy, i);
        }
#endif
        cn_mulscale_drop(o, xq, xr, n, &ms);
        for (size_t i = 0; i < m; i++)
            ck_assert_msg(o[i] == want[i], "dispatched cfg %zu lazy %d index %zu", c, lazy, i);
    }
    mpz_clears(Q, R, B, X, v, C, M, NULL);
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
    tcase_add_loop_test(tc, test_mulscale_drop, 0, (int)NCFG);
    tcase_add_test(tc, test_mulscale_refuses);
    suite_add_tcase(s, tc);
    return s;
}
