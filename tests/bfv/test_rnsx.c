/* Tests of the full-RNS kernels of lib/bfv (rnsx.c and its IFMA variant): exact base
 * conversion and scale-and-round against exact big-integer arithmetic, and the SIMD
 * kernels against the portable ones. */
#include <gmp.h>
#include <stdlib.h>

#include "bfv/bfv_internal.h"
#include "common/util.h"

/* x mod m in [0, m) */
static uint64_t mod_u(const mpz_t x, uint64_t m)
{
    return mpz_fdiv_ui(x, m);
}

static void random_below(mpz_t x, const mpz_t M, cn_test_rng_t *r)
{
    mpz_set_ui(x, 0);
    for (size_t i = 0; i < mpz_sizeinbase(M, 2) / 64 + 2; i++) {
        mpz_mul_2exp(x, x, 64);
        mpz_add_ui(x, x, cn_test_rng_next(r));
    }
    mpz_mod(x, x, M);
}

static void product(mpz_t P, const uint64_t *q, size_t k)
{
    mpz_set_ui(P, 1);
    for (size_t i = 0; i < k; i++)
        mpz_mul_ui(P, P, q[i]);
}

/* configurations: (ka, bits of a, kb, bits of b); the 44/50-bit ones reach the IFMA kernel */
static const unsigned cfg[][4] = {{4, 44, 5, 50}, {5, 50, 4, 44}, {8, 49, 9, 50},
                                  {3, 60, 4, 60}, {1, 40, 2, 50}, {2, 61, 1, 30}};

START_TEST(test_exact_conv)
{
    const size_t c = (size_t)_i, ka = cfg[c][0], kb = cfg[c][2];
    cn_test_rng_t r;
    cn_test_rng_init(&r, 700 + c);
    uint64_t a[16], b[16];
    ck_assert_int_eq(cn_primes_ntt(a, ka, cfg[c][1], 8192, NULL, 0, 1), CN_OK);
    ck_assert_int_eq(cn_primes_ntt(b, kb, cfg[c][3], 8192, a, ka, 1), CN_OK);
    cn_exact_conv_t cv;
    ck_assert_int_eq(cn_exact_conv_init(&cv, a, ka, b, kb), CN_OK);
    const size_t n = 256;
    uint64_t *in = malloc(ka * n * sizeof *in), *o1 = malloc(kb * n * sizeof *o1),
             *o2 = malloc(kb * n * sizeof *o2);
    mpz_t A, half, x[256];
    mpz_inits(A, half, NULL);
    product(A, a, ka);
    mpz_fdiv_q_2exp(half, A, 1);
    for (size_t l = 0; l < n; l++) {
        mpz_init(x[l]);
        random_below(x[l], A, &r);
        if (l == 0)
            mpz_set_ui(x[l], 0);
        if (l == 1)
            mpz_sub_ui(x[l], A, 1); /* -1 */
        if (l == 2)
            mpz_set(x[l], half); /* the largest positive value (A odd) */
        if (l == 3)
            mpz_add_ui(x[l], half, 1); /* the most negative */
        for (size_t i = 0; i < ka; i++)
            in[i * n + l] = mod_u(x[l], a[i]);
        if (mpz_cmp(x[l], half) > 0)
            mpz_sub(x[l], x[l], A); /* centered: what the conversion must reproduce */
    }
    cn_exact_conv_portable(o1, in, n, &cv);
    mpz_t alt;
    mpz_init(alt);
    for (size_t l = 0; l < n; l++) {
        /* at +-A/2 (values 2 and 3) the floating-point correction may pick the other
         * representative x -+ A, as documented (HPS, section 3.2); elsewhere exact */
        int edge = l == 2 || l == 3, all = 1, other = 1;
        mpz_set(alt, x[l]);
        if (mpz_sgn(alt) > 0)
            mpz_sub(alt, alt, A);
        else
            mpz_add(alt, alt, A);
        for (size_t j = 0; j < kb; j++) {
            all &= o1[j * n + l] == mod_u(x[l], b[j]);
            other &= o1[j * n + l] == mod_u(alt, b[j]);
        }
        ck_assert_msg(all || (edge && other), "cfg %zu value %zu", c, l);
    }
    mpz_clear(alt);
#if !defined(CN_NO_AVX512) && !defined(CN_NO_AVX512IFMA)
    if (cv.ifma) {
        cn_exact_conv_ifma(o2, in, n, &cv);
        for (size_t i = 0; i < kb * n; i++)
            ck_assert_msg(o1[i] == o2[i] || i % n == 2 || i % n == 3, "ifma cfg %zu index %zu",
                          c, i);
    }
#endif
    /* the dispatcher gives the same */
    cn_exact_conv(o2, in, n, &cv);
    for (size_t i = 0; i < kb * n; i++)
        ck_assert(o1[i] == o2[i] || i % n == 2 || i % n == 3);
    for (size_t l = 0; l < n; l++)
        mpz_clear(x[l]);
    mpz_clears(A, half, NULL);
    free(in), free(o1), free(o2);
    cn_exact_conv_clear(&cv);
}
END_TEST

/* round(t X / Q) mod r_j for X given over Q u R (with_r) or over Q with the single
 * target t (decryption) */
START_TEST(test_scale_round)
{
    const size_t c = (size_t)_i, kq = cfg[c][0];
    const int with_r = c % 2 == 0;
    const size_t kr = with_r ? cfg[c][2] : 1;
    cn_test_rng_t r;
    cn_test_rng_init(&r, 800 + c);
    uint64_t q[16], tg[16], t;
    ck_assert_int_eq(cn_primes_ntt(q, kq, cfg[c][1], 8192, NULL, 0, 1), CN_OK);
    ck_assert_int_eq(cn_primes_ntt(&t, 1, 20, 8192, q, kq, 1), CN_OK);
    if (with_r)
        ck_assert_int_eq(cn_primes_ntt(tg, kr, cfg[c][3], 8192, q, kq, 0), CN_OK);
    else
        tg[0] = t;
    cn_scale_t sc;
    ck_assert_int_eq(cn_scale_init(&sc, q, kq, tg, kr, t, with_r), CN_OK);
    const size_t n = 256;
    uint64_t *xq = malloc(kq * n * sizeof *xq), *xr = malloc(kr * n * sizeof *xr);
    uint64_t *o1 = malloc(kr * n * sizeof *o1), *o2 = malloc(kr * n * sizeof *o2);
    mpz_t Q, M, X, v;
    mpz_inits(Q, M, X, v, NULL);
    product(Q, q, kq);
    product(M, tg, kr);
    if (with_r)
        mpz_mul(M, M, Q); /* X is known modulo Q R */
    else
        mpz_set(M, Q);
    uint64_t *want = malloc(kr * n * sizeof *want);
    for (size_t l = 0; l < n; l++) {
        random_below(X, M, &r);
        for (size_t i = 0; i < kq; i++)
            xq[i * n + l] = mod_u(X, q[i]);
        for (size_t j = 0; j < kr && with_r; j++)
            xr[j * n + l] = mod_u(X, tg[j]);
        /* round(t X / Q) = floor((2 t X + Q) / (2 Q)) */
        mpz_mul_ui(v, X, 2 * t);
        mpz_add(v, v, Q);
        mpz_fdiv_q(v, v, Q);
        mpz_fdiv_q_2exp(v, v, 1);
        for (size_t j = 0; j < kr; j++)
            want[j * n + l] = mod_u(v, tg[j]);
    }
    cn_scale_round_portable(o1, xq, with_r ? xr : NULL, n, &sc);
    for (size_t i = 0; i < kr * n; i++)
        ck_assert_msg(o1[i] == want[i], "cfg %zu index %zu", c, i);
#if !defined(CN_NO_AVX512) && !defined(CN_NO_AVX512IFMA)
    if (sc.ifma) {
        cn_scale_round_ifma(o2, xq, with_r ? xr : NULL, n, &sc);
        for (size_t i = 0; i < kr * n; i++)
            ck_assert_msg(o2[i] == want[i], "ifma cfg %zu index %zu", c, i);
    }
#endif
    /* inputs in [0, 2p) (a lazy inverse NTT's outputs): one residue in three lifted by its
     * modulus gives the same result, portable and dispatched */
    for (size_t l = 0; l < n; l += 3) {
        for (size_t i = 0; i < kq; i++)
            xq[i * n + l] += q[i];
        for (size_t j = 0; j < kr && with_r; j++)
            xr[j * n + l] += tg[j];
    }
    cn_scale_round_portable(o1, xq, with_r ? xr : NULL, n, &sc);
    cn_scale_round(o2, xq, with_r ? xr : NULL, n, &sc);
    for (size_t i = 0; i < kr * n; i++) {
        ck_assert_msg(o1[i] == want[i], "lazy cfg %zu index %zu", c, i);
        ck_assert_msg(o2[i] == want[i], "lazy dispatched cfg %zu index %zu", c, i);
    }
    mpz_clears(Q, M, X, v, NULL);
    free(xq), free(xr), free(o1), free(o2), free(want);
    cn_scale_clear(&sc);
}
END_TEST

#if !defined(CN_NO_AVX512) && !defined(CN_NO_AVX512IFMA)
/* the IFMA tensor row against 128-bit products, with extreme values */
START_TEST(test_tensor_row)
{
    if (!cn_bfv_ifma_available())
        return;
    static const unsigned bits[] = {20, 36, 44, 49, 50};
    cn_test_rng_t r;
    cn_test_rng_init(&r, 900);
    const size_t n = 512;
    uint64_t *v = malloc(7 * n * sizeof *v);
    uint64_t *a0 = v, *a1 = v + n, *b0 = v + 2 * n, *b1 = v + 3 * n;
    uint64_t *d0 = v + 4 * n, *d1 = v + 5 * n, *d2 = v + 6 * n;
    for (size_t b = 0; b < sizeof bits / sizeof *bits; b++) {
        uint64_t p;
        ck_assert_int_eq(cn_primes_ntt(&p, 1, bits[b], 8, NULL, 0, 1), CN_OK);
        for (size_t i = 0; i < 4 * n; i++) {
            v[i] = cn_test_rng_below(&r, p);
            if (i % 7 == 0)
                v[i] = p - 1 - (i % 3); /* near the top */
            if (i % 11 == 0)
                v[i] = i % 2;
        }
        for (int sq = 0; sq < 2; sq++) {
            const uint64_t *c0 = sq ? a0 : b0, *c1 = sq ? a1 : b1;
            cn_tensor_row_ifma(d0, d1, d2, a0, a1, c0, c1, n, p, sq);
            for (size_t i = 0; i < n; i++) {
                unsigned __int128 e0 = (unsigned __int128)a0[i] * c0[i] % p;
                unsigned __int128 e1 = ((unsigned __int128)a0[i] * c1[i] % p +
                                        (unsigned __int128)a1[i] * c0[i] % p) %
                                       p;
                unsigned __int128 e2 = (unsigned __int128)a1[i] * c1[i] % p;
                ck_assert_uint_eq(d0[i], (uint64_t)e0);
                ck_assert_uint_eq(d1[i], (uint64_t)e1);
                ck_assert_uint_eq(d2[i], (uint64_t)e2);
            }
        }
    }
    free(v);
}
END_TEST

/* y += x k with x anywhere in [0, 4p) (lazy NTT output), against 128-bit arithmetic */
START_TEST(test_mul_acc)
{
    if (!cn_bfv_ifma_available())
        return;
    static const unsigned bits[] = {30, 44, 49, 50};
    cn_test_rng_t r;
    cn_test_rng_init(&r, 901);
    const size_t n = 256;
    uint64_t x[256], k0[256], k1[256], y0[256], y1[256], e0[256], e1[256];
    for (size_t b = 0; b < sizeof bits / sizeof *bits; b++) {
        uint64_t p;
        ck_assert_int_eq(cn_primes_ntt(&p, 1, bits[b], 8, NULL, 0, 1), CN_OK);
        for (size_t i = 0; i < n; i++) {
            x[i] = i % 5 == 0 ? 4 * p - 1 - i % 3 : cn_test_rng_below(&r, 4 * p);
            k0[i] = i % 3 == 0 ? p - 1 : cn_test_rng_below(&r, p);
            k1[i] = cn_test_rng_below(&r, p);
            e0[i] = y0[i] = cn_test_rng_below(&r, p);
            e1[i] = y1[i] = i % 4 == 0 ? p - 1 : cn_test_rng_below(&r, p);
        }
        const uint64_t *xs[1] = {x}, *k0s[1] = {k0}, *k1s[1] = {k1};
        for (int rep = 0; rep < 3; rep++) {
            cn_mul_acc2_ifma(y0, y1, xs, k0s, k1s, 1, n, p);
            for (size_t i = 0; i < n; i++) {
                e0[i] = (uint64_t)((e0[i] + (unsigned __int128)x[i] * k0[i]) % p);
                e1[i] = (uint64_t)((e1[i] + (unsigned __int128)x[i] * k1[i]) % p);
                ck_assert_uint_eq(y0[i], e0[i]);
                ck_assert_uint_eq(y1[i], e1[i]);
            }
        }
    }
}
END_TEST
#endif

CN_SUITE(rnsx)
{
    Suite *s = suite_create("rnsx");
    TCase *tc = cn_tcase("core", 120);
    tcase_add_loop_test(tc, test_exact_conv, 0, 6);
    tcase_add_loop_test(tc, test_scale_round, 0, 6);
#if !defined(CN_NO_AVX512) && !defined(CN_NO_AVX512IFMA)
    tcase_add_test(tc, test_tensor_row);
    tcase_add_test(tc, test_mul_acc);
#endif
    suite_add_tcase(s, tc);
    return s;
}
