/* The modulus switch (cn_bfv_mod_switch, through the ModDown row kernels of
 * lib/bfv/dispatch.c) against exact big-integer rounding with GMP: for every coefficient X
 * of a uniformly random ciphertext over q_1..q_l (its CRT lift, cn_poly_get_mpz), the
 * output's residue modulo q_j (j < l) must be round(X / q_l) mod q_j (q_l odd: no ties).
 * Primes of 46 and 49 bits (the IFMA kernel's range; the n = 16384 MNIST plans) and of 58
 * bits (the portable kernel); sizes 2 and 3; out aliasing the input and not. */
#include <gmp.h>
#include <stdlib.h>
#include <string.h>

#include "bfv/bfv_internal.h"
#include "common/util.h"
#include "cryptonets/cryptonets.h"
#include "cryptonets/mpz.h"

/* (n, primes, bits of each) */
static const unsigned cfg[][3] = {{1024, 4, 46}, {256, 3, 49}, {512, 3, 58}, {64, 2, 40}};

START_TEST(test_mod_switch_exact)
{
    const size_t c = (size_t)_i, n = cfg[c][0], nq = cfg[c][1];
    cn_bfv_params_t prm;
    ck_assert_int_eq(cn_bfv_params_default(&prm, n, nq, cfg[c][2], cfg[c][2] + 1, 1, 16,
                                           CN_SEC_NONE_INSECURE),
                     CN_OK);
    cn_bfv_context_t *ctx;
    ck_assert_int_eq(cn_bfv_context_create(&ctx, &prm), CN_OK);
    const cn_ring_t *ring = cn_bfv_context_ring(ctx);
    uint8_t seed[CN_SEED_BYTES] = {0};
    const uint64_t s0 = cn_test_seed() + c;
    memcpy(seed, &s0, 8);
    cn_rng_t rng;
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(&rng, seed, CN_RNG_INSECURE_ACK),
                     CN_OK);
    mpz_t *co = malloc(n * sizeof *co), Y;
    for (size_t i = 0; i < n; i++)
        mpz_init(co[i]);
    mpz_init(Y);
    for (size_t size = 2; size <= 3; size++) {
        cn_bfv_ciphertext_t a = {0}, b = {0};
        ck_assert_int_eq(cn_bfv_ciphertext_init(&a, ctx), CN_OK);
        for (size_t level = nq; level >= 2; level--) {
            const uint64_t ql = ring->base.q[level - 1];
            ck_assert_int_eq(cn_bfv_ct_reshape(&a, size, level, ctx), CN_OK);
            for (size_t k = 0; k < size; k++)
                cn_bfv_uniform_rows(&a.c[k], ring, &rng);
            /* the rounding edges: last residue 0, 1, (q_l - 1) / 2 and (q_l + 1) / 2 */
            const uint64_t edge[4] = {0, 1, (ql - 1) / 2, (ql + 1) / 2};
            for (size_t i = 0; i < 4; i++)
                a.c[0].data[(level - 1) * n + i] = edge[i];
            /* out distinct from a, then out == a */
            ck_assert_int_eq(cn_bfv_mod_switch(&b, &a, ctx), CN_OK);
            ck_assert_uint_eq(b.level, level - 1);
            ck_assert_uint_eq(b.size, size);
            cn_bfv_ciphertext_t a2 = {0};
            ck_assert_int_eq(cn_bfv_ciphertext_copy(&a2, &a, ctx), CN_OK);
            ck_assert_int_eq(cn_bfv_mod_switch(&a2, &a2, ctx), CN_OK);
            for (size_t k = 0; k < size; k++) {
                ck_assert_int_eq(cn_poly_get_mpz(co, &a.c[k], ring), CN_OK);
                for (size_t i = 0; i < n; i++) {
                    /* round(X / q_l) = floor((X + (q_l - 1) / 2) / q_l), q_l odd */
                    mpz_add_ui(Y, co[i], (ql - 1) / 2);
                    mpz_fdiv_q_ui(Y, Y, ql);
                    for (size_t j = 0; j + 1 < level; j++) {
                        const uint64_t want = mpz_fdiv_ui(Y, ring->base.q[j]);
                        ck_assert_msg(b.c[k].data[j * n + i] == want &&
                                          a2.c[k].data[j * n + i] == want,
                                      "cfg %zu size %zu level %zu poly %zu row %zu coeff %zu",
                                      c, size, level, k, j, i);
                    }
                }
            }
            cn_bfv_ciphertext_clear(&a2);
            cn_bfv_ciphertext_clear(&b);
        }
        cn_bfv_ciphertext_clear(&a);
    }
    for (size_t i = 0; i < n; i++)
        mpz_clear(co[i]);
    free(co);
    mpz_clear(Y);
    cn_rng_clear(&rng);
    cn_bfv_context_free(ctx);
}
END_TEST

CN_SUITE(modswitch)
{
    Suite *s = suite_create("modswitch");
    TCase *tc = cn_tcase("core", 60);
    tcase_add_loop_test(tc, test_mod_switch_exact, 0, (int)(sizeof cfg / sizeof *cfg));
    suite_add_tcase(s, tc);
    return s;
}
