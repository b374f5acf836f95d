/* Key switching keys at a level d below L (cn_bfv_keygen_galois_levels,
 * cn_bfv_keygen_relin_level; docs/format.md, format 1.2): d digits over q_1..q_d and P.
 * Checked against slot arithmetic on plaintexts (the oracle: a rotation moves the slots,
 * the column swap exchanges the rows, a relinearized square is the slot-wise square) at
 * every level up to d, plain and hoisted; refused above d; the bytes' size by the
 * format's formula (computed here from the parameters, not by the writer); round trips;
 * keys at level L still written as format 1.1 (the files of before); and hostile headers
 * (a level key under a 1.1 header, a level 0 or above L). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bfv_keys_fixture.h"
#include "common/util.h"
#include "cryptonets/bfv_hoist.h"
#include "cryptonets/cryptonets.h"
#include "io/io_internal.h"

#define LK_L 4

/* Galois keys at level d rotate (plain and hoisted) at every level l <= d, and refuse
 * l > d; a relinearization key at level d likewise. */
START_TEST(test_level_slots)
{
    cn_test_ks_fx_t f;
    cn_test_ks_fx_init(&f, LK_L, 1);
    const size_t n = f.prm.n;
    int64_t v[64], want[64];
    for (size_t d = 1; d <= LK_L; d++) {
        const uint64_t elts[2] = {cn_bfv_galois_elt_rows(3, f.ctx),
                                  cn_bfv_galois_elt_columns(f.ctx)};
        const size_t levels[2] = {d, d};
        cn_bfv_galois_keys_t gk = {0};
        cn_bfv_relin_key_t rk = {0};
        ck_assert_int_eq(
            cn_bfv_keygen_galois_levels(&gk, &f.sk, elts, levels, 2, f.ctx, &f.rng), CN_OK);
        ck_assert_int_eq(cn_bfv_keygen_relin_level(&rk, &f.sk, d, f.ctx, &f.rng), CN_OK);
        ck_assert_uint_eq(gk.key[0].ndigits, d);
        ck_assert_uint_eq(rk.ndigits, d);
        for (size_t l = 1; l <= LK_L; l++) {
            cn_bfv_ciphertext_t c = {0}, x = {0}, hx[2] = {{0}};
            cn_test_ks_encrypt_at(&c, v, l, &f, 100 * d + l);
            if (l > d) {
                ck_assert_int_eq(cn_bfv_rotate_rows(&x, &c, 3, &gk, f.ctx),
                                 CN_ERR_LEVEL_MISMATCH);
                ck_assert_int_eq(cn_bfv_apply_galois_hoisted(hx, &c, elts, 2, &gk, f.ctx),
                                 CN_ERR_LEVEL_MISMATCH);
                ck_assert_int_eq(cn_bfv_square(&x, &c, f.ctx), CN_OK);
                ck_assert_int_eq(cn_bfv_relinearize(&x, &x, &rk, f.ctx), CN_ERR_LEVEL_MISMATCH);
            } else {
                ck_assert_int_eq(cn_bfv_rotate_rows(&x, &c, 3, &gk, f.ctx), CN_OK);
                ck_assert_uint_eq(x.level, l);
                cn_test_ks_rotated(want, v, 3, n);
                cn_test_ks_expect_slots(&x, want, &f);
                ck_assert_int_eq(cn_bfv_apply_galois_hoisted(hx, &c, elts, 2, &gk, f.ctx),
                                 CN_OK);
                cn_test_ks_expect_slots(&hx[0], want, &f);
                cn_test_ks_rotated(want, v, -1, n);
                cn_test_ks_expect_slots(&hx[1], want, &f);
                if (l >= 2) { /* a square's noise needs two primes of 50 bits */
                    ck_assert_int_eq(cn_bfv_square(&x, &c, f.ctx), CN_OK);
                    ck_assert_int_eq(cn_bfv_relinearize(&x, &x, &rk, f.ctx), CN_OK);
                    ck_assert_uint_eq(x.size, 2);
                    for (size_t i = 0; i < n; i++)
                        want[i] = v[i] * v[i];
                    cn_test_ks_expect_slots(&x, want, &f);
                }
            }
            cn_bfv_ciphertext_clear(&c);
            cn_bfv_ciphertext_clear(&x);
            cn_bfv_ciphertext_clear(&hx[0]);
            cn_bfv_ciphertext_clear(&hx[1]);
        }
        cn_bfv_galois_keys_clear(&gk);
        cn_bfv_relin_key_clear(&rk);
    }
    /* bad levels; a repeated element takes its highest level */
    const uint64_t e3[3] = {3, 9, 3};
    const size_t bad[3] = {1, LK_L + 1, 1}, rep[3] = {1, 0, 3};
    cn_bfv_galois_keys_t gk = {0};
    cn_bfv_relin_key_t rk = {0};
    ck_assert_int_eq(cn_bfv_keygen_galois_levels(&gk, &f.sk, e3, bad, 3, f.ctx, &f.rng),
                     CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_bfv_keygen_relin_level(&rk, &f.sk, 0, f.ctx, &f.rng),
                     CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_bfv_keygen_relin_level(&rk, &f.sk, LK_L + 1, f.ctx, &f.rng),
                     CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_bfv_keygen_galois_levels(&gk, &f.sk, e3, rep, 3, f.ctx, &f.rng), CN_OK);
    ck_assert_uint_eq(gk.count, 2);
    ck_assert_uint_eq(gk.key[0].ndigits, 3);    /* element 3: levels 1 and 3 */
    ck_assert_uint_eq(gk.key[1].ndigits, LK_L); /* element 9: 0 is L */
    cn_bfv_galois_keys_clear(&gk);
    cn_test_ks_fx_clear(&f);
}
END_TEST

/* Level keys through bytes: the size by the formula, minor version 2 (1.1 for keys at L),
 * the same keys back (seed expansion of d + 1 rows), working rotations; hostile
 * headers refused. */
START_TEST(test_level_io)
{
    cn_test_ks_fx_t f;
    cn_test_ks_fx_init(&f, LK_L, 2);
    const size_t n = f.prm.n;
    const uint64_t elts[3] = {cn_bfv_galois_elt_rows(1, f.ctx),
                              cn_bfv_galois_elt_rows(5, f.ctx),
                              cn_bfv_galois_elt_columns(f.ctx)};
    const size_t levels[3] = {1, 3, LK_L};
    cn_bfv_galois_keys_t gk = {0}, back = {0};
    ck_assert_int_eq(cn_bfv_keygen_galois_levels(&gk, &f.sk, elts, levels, 3, f.ctx, &f.rng),
                     CN_OK);
    size_t want = 32 + 8;
    for (size_t i = 0; i < 3; i++)
        want += 8 + 4 + CN_SEED_BYTES + levels[i] * cn_test_ks_rows_bytes(&f.prm, levels[i]);
    const size_t len = cn_io_size_galois_keys(&gk, f.ctx);
    ck_assert_uint_eq(len, want);
    uint8_t *b = malloc(len);
    size_t w = 0;
    ck_assert_int_eq(cn_io_save_galois_keys(b, len, &w, &gk, f.ctx), CN_OK);
    ck_assert_uint_eq(w, len);
    ck_assert_uint_eq(b[6] | b[7] << 8, 2);   /* minor version 2 */
    ck_assert_uint_eq(b[10] | b[11] << 8, 1); /* seeded */
    ck_assert_int_eq(cn_io_load_galois_keys(&back, b, len, f.ctx), CN_OK);
    ck_assert_uint_eq(back.count, 3);
    const size_t words = (LK_L + 1) * n * sizeof(uint64_t);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_uint_eq(back.key[i].ndigits, levels[i]);
        for (size_t j = 0; j < levels[i]; j++) {
            ck_assert_mem_eq(back.key[i].k0[j].data, gk.key[i].k0[j].data, words);
            ck_assert_mem_eq(back.key[i].k1[j].data, gk.key[i].k1[j].data, words);
        }
    }
    int64_t v[64], x[64];
    cn_bfv_ciphertext_t c = {0}, y = {0};
    cn_test_ks_encrypt_at(&c, v, 3, &f, 7);
    ck_assert_int_eq(cn_bfv_rotate_rows(&y, &c, 5, &back, f.ctx), CN_OK);
    cn_test_ks_rotated(x, v, 5, n);
    cn_test_ks_expect_slots(&y, x, &f);
    ck_assert_int_eq(cn_bfv_rotate_rows(&y, &c, 1, &back, f.ctx), CN_ERR_LEVEL_MISMATCH);
    cn_bfv_ciphertext_clear(&c);
    cn_bfv_ciphertext_clear(&y);
    /* a level key under a 1.1 header; digits 0 and L + 1 (checksums recomputed) */
    const size_t nd0 = 32 + 8; /* the first key's ndigits */
    uint8_t *t = malloc(len);
    memcpy(t, b, len);
    t[6] = 1;
    cn_test_reseal_io(t, len);
    ck_assert_int_eq(cn_io_load_galois_keys(&back, t, len, f.ctx), CN_ERR_FORMAT);
    const uint32_t bad[2] = {0, LK_L + 1};
    for (int k = 0; k < 2; k++) {
        memcpy(t, b, len);
        t[nd0] = (uint8_t)bad[k];
        cn_test_reseal_io(t, len);
        ck_assert_int_eq(cn_io_load_galois_keys(&back, t, len, f.ctx), CN_ERR_FORMAT);
    }
    free(t);
    free(b);
    cn_bfv_galois_keys_clear(&back);
    cn_bfv_galois_keys_clear(&gk);
    /* keys at level L: format 1.1 as before; a relinearization key at a level: 1.2 */
    const size_t full[1] = {LK_L};
    ck_assert_int_eq(cn_bfv_keygen_galois_levels(&gk, &f.sk, elts, full, 1, f.ctx, &f.rng),
                     CN_OK);
    const size_t glen = cn_io_size_galois_keys(&gk, f.ctx);
    b = malloc(glen);
    ck_assert_int_eq(cn_io_save_galois_keys(b, glen, &w, &gk, f.ctx), CN_OK);
    ck_assert_uint_eq(b[6], 1);
    free(b);
    cn_bfv_galois_keys_clear(&gk);
    cn_bfv_relin_key_t rk = {0}, rback = {0};
    ck_assert_int_eq(cn_bfv_keygen_relin_level(&rk, &f.sk, 2, f.ctx, &f.rng), CN_OK);
    const size_t rlen = cn_io_size_relin_key(&rk, f.ctx);
    ck_assert_uint_eq(rlen, 32 + 4 + CN_SEED_BYTES + 2 * cn_test_ks_rows_bytes(&f.prm, 2) + 8);
    b = malloc(rlen);
    ck_assert_int_eq(cn_io_save_relin_key(b, rlen, &w, &rk, f.ctx), CN_OK);
    ck_assert_uint_eq(b[6], 2);
    ck_assert_int_eq(cn_io_load_relin_key(&rback, b, rlen, f.ctx), CN_OK);
    ck_assert_uint_eq(rback.ndigits, 2);
    for (size_t j = 0; j < 2; j++)
        ck_assert_mem_eq(rback.k0[j].data, rk.k0[j].data, words);
    free(b);
    cn_bfv_relin_key_clear(&rback);
    cn_bfv_relin_key_clear(&rk);
    cn_test_ks_fx_clear(&f);
}
END_TEST

CN_SUITE(level_keys)
{
    Suite *s = suite_create("level_keys");
    TCase *tc = cn_tcase("core", 120);
    tcase_add_test(tc, test_level_slots);
    tcase_add_test(tc, test_level_io);
    suite_add_tcase(s, tc);
    return s;
}
