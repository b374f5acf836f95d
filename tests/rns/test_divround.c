/* Divide-and-round by the last prime (lib/rns/divround.c) against exact big-integer
 * rounding: for any integer X with residues x_j mod q_j and x_last mod q_last, the output
 * must be round(X / q_last) mod q_j (q_last odd: no ties). */
#include <gmp.h>
#include <stdlib.h>

#include "common/util.h"
#include "rns/rns_internal.h"

/* (bits of the k kept primes, k, bits of the dropped prime): the dropped prime above and
 * below twice the kept ones, both branches of the residue reduction */
static const unsigned cfg[][3] = {{44, 4, 44}, {60, 3, 61}, {30, 3, 61},
                                  {61, 2, 36}, {50, 5, 49}, {20, 1, 60}};

START_TEST(test_divround_last)
{
    const size_t c = (size_t)_i, k = cfg[c][1], n = 200;
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1200 + c);
    uint64_t q[8], ql;
    ck_assert_int_eq(cn_primes_ntt(q, k, cfg[c][0], 8, NULL, 0, 1), CN_OK);
    ck_assert_int_eq(cn_primes_ntt(&ql, 1, cfg[c][2], 8, q, k, 0), CN_OK);
    cn_mod_t mod[8], mlast;
    uint64_t inv[8], inv_s[8];
    ck_assert_int_eq(cn_mod_init(&mlast, ql), CN_OK);
    for (size_t j = 0; j < k; j++) {
        ck_assert_int_eq(cn_mod_init(&mod[j], q[j]), CN_OK);
        ck_assert_int_eq(cn_mod_inv(&inv[j], cn_mod_reduce_u64(ql, mod[j]), mod[j]), CN_OK);
        inv_s[j] = cn_mod_shoup(inv[j], mod[j]);
    }
    uint64_t *x = malloc((k + 1) * n * sizeof *x), *out = malloc(k * n * sizeof *out);
    uint64_t *want = malloc(k * n * sizeof *want), *last = x + k * n;
    mpz_t M, X, Y;
    mpz_inits(M, X, Y, NULL);
    mpz_set_ui(M, ql);
    for (size_t j = 0; j < k; j++)
        mpz_mul_ui(M, M, q[j]);
    for (size_t i = 0; i < n; i++) {
        mpz_set_ui(X, 0);
        for (int w = 0; w < 8; w++) {
            mpz_mul_2exp(X, X, 64);
            mpz_add_ui(X, X, cn_test_rng_next(&r));
        }
        mpz_mod(X, X, M);
        /* the rounding edges: X mod q_last at 0, 1, (q_last - 1) / 2 and the next ones */
        static const uint64_t edge[] = {0, 1, 2, 3};
        if (i < 8) {
            uint64_t want_rem = i < 4 ? edge[i] : (ql - 1) / 2 + (i - 4) % 2 + (i >= 6);
            mpz_sub_ui(X, X, mpz_fdiv_ui(X, ql));
            mpz_add_ui(X, X, want_rem % ql);
        }
        for (size_t j = 0; j < k; j++)
            x[j * n + i] = mpz_fdiv_ui(X, q[j]);
        last[i] = mpz_fdiv_ui(X, ql);
        /* round(X / q_last) = floor((X + (q_last - 1) / 2) / q_last) for odd q_last */
        mpz_add_ui(Y, X, (ql - 1) / 2);
        mpz_fdiv_q_ui(Y, Y, ql);
        for (size_t j = 0; j < k; j++)
            want[j * n + i] = mpz_fdiv_ui(Y, q[j]);
    }
    cn_rns_divround_last(out, x, last, k, n, mod, ql, inv, inv_s);
    for (size_t i = 0; i < k * n; i++)
        ck_assert_msg(out[i] == want[i], "cfg %zu index %zu", c, i);
    /* in place */
    cn_rns_divround_last(x, x, last, k, n, mod, ql, inv, inv_s);
    for (size_t i = 0; i < k * n; i++)
        ck_assert_msg(x[i] == want[i], "in place, cfg %zu index %zu", c, i);
    mpz_clears(M, X, Y, NULL);
    free(x), free(out), free(want);
}
END_TEST

CN_SUITE(divround)
{
    Suite *s = suite_create("divround");
    TCase *tc = cn_tcase("core", 60);
    tcase_add_loop_test(tc, test_divround_last, 0, sizeof cfg / sizeof *cfg);
    suite_add_tcase(s, tc);
    return s;
}
