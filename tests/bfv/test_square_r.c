/* The square at the extension base R that choose_r (lib/bfv/context.c) now takes, the
 * fewest 50- or 60-bit primes whose log2 sum reaches log2 Q + log2 n + 4: at n = 16384 with
 * 4 q primes of 46 bits taken as the smallest of that width (P of 47, two 32-bit t) that
 * is 4 primes where it was 5 (cn_bfv_params_default takes the largest, log2 Q = 184.0, and
 * R keeps 5 there). Checked against exact big-integer arithmetic (GMP), on the inputs that
 * make the tensor product largest: c0 = c1 = the constant polynomial h (or -h for c1),
 * every coefficient at the centered lift's extreme, whose negacyclic products are known in
 * closed form, coefficient k of (a sum X^i)(b sum X^i) mod X^n + 1 being a b (2 k + 2 - n).
 * Coefficient n - 1 of d1 = 2 c0 c1 reaches 2 n h^2, within a factor 1 - 2^-38 of the
 * bound |X| <= n Q^2 / 2 that R is sized from. h = floor(Q / 2) - floor(Q / 2^40), not
 * (Q - 1) / 2 itself: the exact conversion Q -> R (HPS's, lib/rns/rns_internal.h) is
 * documented as wrong within about k 2^-52 of x / Q = +-1/2, with any R. Both levels of the
 * plan's squares (4 and 3), both plaintext moduli. */
#include <gmp.h>
#include <stdlib.h>
#include <string.h>

#include "bfv/bfv_internal.h"
#include "common/util.h"
#include "cryptonets/cryptonets.h"
#include "cryptonets/mpz.h"

/* the smallest primes of each width (log2 Q = 180.0) */
static void plan16k(cn_bfv_params_t *p)
{
    memset(p, 0, sizeof *p);
    p->n = 16384;
    p->nq = 4;
    p->nt = 2;
    ck_assert_int_eq(cn_primes_ntt(p->q, 4, 46, p->n, NULL, 0, 0), CN_OK);
    ck_assert_int_eq(cn_primes_ntt(&p->p, 1, 47, p->n, NULL, 0, 0), CN_OK);
    ck_assert_int_eq(cn_primes_ntt(p->t, 2, 32, p->n, NULL, 0, 0), CN_OK);
    p->security = CN_SEC_128;
}

/* every row of c = the residues of the integer v (any sign) */
static void set_const(cn_poly_t *c, const mpz_t v, const cn_ring_t *ring)
{
    mpz_t r;
    mpz_init(r);
    for (size_t i = 0; i < c->k; i++) {
        mpz_fdiv_r_ui(r, v, ring->base.q[i]);
        const uint64_t x = mpz_get_ui(r);
        for (size_t j = 0; j < c->n; j++)
            c->data[i * c->n + j] = x;
    }
    mpz_clear(r);
}

START_TEST(test_square_extreme)
{
    cn_bfv_params_t prm;
    plan16k(&prm);
    cn_bfv_context_t *ctx;
    ck_assert_int_eq(cn_bfv_context_create(&ctx, &prm), CN_OK);
    /* log2 Q = 180.0, log2 n + 4 = 18: four primes just below 2^50 (or 2^60) suffice */
    ck_assert_uint_eq(ctx->kr, 4);
    const cn_ring_t *ring = cn_bfv_context_ring(ctx);
    const size_t n = prm.n;
    mpz_t *co = malloc(n * sizeof *co), half, ab, x, want, twoQ;
    for (size_t i = 0; i < n; i++)
        mpz_init(co[i]);
    mpz_inits(half, ab, x, want, twoQ, NULL);
    for (size_t level = prm.nq; level >= 3; level--) {
        const mpz_t *Q = &cn_bfv_level(ctx, level)->Q;
        mpz_mul_2exp(twoQ, *Q, 1);
        mpz_fdiv_q_2exp(half, *Q, 1);
        mpz_fdiv_q_2exp(x, *Q, 40);
        mpz_sub(half, half, x); /* h */
        for (int sign = 0; sign < 2; sign++)
            for (size_t ti = 0; ti < prm.nt; ti++) {
                cn_bfv_ciphertext_t a = {0}, c = {0};
                ck_assert_int_eq(cn_bfv_ciphertext_init(&a, ctx), CN_OK);
                ck_assert_int_eq(cn_bfv_ct_reshape(&a, 2, level, ctx), CN_OK);
                a.t_index = ti;
                /* c0 = h, c1 = +-h */
                set_const(&a.c[0], half, ring);
                mpz_set(x, half);
                if (sign)
                    mpz_neg(x, x);
                set_const(&a.c[1], x, ring);
                ck_assert_int_eq(cn_bfv_square(&c, &a, ctx), CN_OK);
                ck_assert_uint_eq(c.size, 3);
                for (int d = 0; d < 3; d++) {
                    /* d0 = c0^2, d1 = 2 c0 c1, d2 = c1^2 (the constants' product) */
                    mpz_mul(ab, half, half);
                    if (d == 1) {
                        mpz_mul_2exp(ab, ab, 1);
                        if (sign)
                            mpz_neg(ab, ab);
                    }
                    ck_assert_int_eq(cn_poly_get_mpz(co, &c.c[d], ring), CN_OK);
                    for (size_t k = 0; k < n; k++) {
                        /* X = ab (2k + 2 - n); round(t X / Q) = floor((2 t X + Q) / 2Q) */
                        mpz_mul_si(x, ab, 2 * (long)k + 2 - (long)n);
                        mpz_mul_ui(x, x, (unsigned long)prm.t[ti]);
                        mpz_mul_2exp(x, x, 1);
                        mpz_add(x, x, *Q);
                        mpz_fdiv_q(want, x, twoQ);
                        mpz_sub(x, want, co[k]);
                        ck_assert_msg(mpz_divisible_p(x, *Q),
                                      "level %zu sign %d t %zu: d%d coefficient %zu differs",
                                      level, sign, ti, d, k);
                    }
                }
                cn_bfv_ciphertext_clear(&a);
                cn_bfv_ciphertext_clear(&c);
            }
    }
    mpz_clears(half, ab, x, want, twoQ, NULL);
    for (size_t i = 0; i < n; i++)
        mpz_clear(co[i]);
    free(co);
    cn_bfv_context_free(ctx);
}
END_TEST

CN_SUITE(square_r)
{
    Suite *s = suite_create("square_r");
    TCase *tc = cn_tcase("core", 120);
    tcase_add_test(tc, test_square_extreme);
    suite_add_tcase(s, tc);
    return s;
}
