/* Key switching keys with digits of several primes (cn_bfv_keygen_galois_digits,
 * cn_bfv_keygen_relin_digits; lib/bfv/digits.c; docs/format.md, format 1.3). Oracles:
 * slot arithmetic on plaintexts (a rotation moves the slots, the column swap exchanges
 * the rows, a relinearized square is the slot-wise square) at every level up to the
 * key's, plain, hoisted and doubly hoisted; the digits' base extension against GMP's
 * CRT of the digit (x' = [c]_{D_i} + u D_i, 0 <= u < k, modulo every other prime); the
 * key-switching noise within the bound docs/bfv.md states, computed here from the
 * parameters; the bytes' size by the format's formula; round trips; hostile headers. */
#include <gmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bfv/bfv_internal.h"
#include "common/bfv_keys_fixture.h"
#include "common/util.h"
#include "cryptonets/bfv_hoist.h"
#include "cryptonets/cryptonets.h"
#include "io/io_internal.h"

#define DK_L 5

/* Keys of k = 2, 3, 5 primes per digit at levels d = L and 3 rotate (plain, hoisted,
 * doubly hoisted) and relinearize at every level l <= d, and refuse l > d. */
START_TEST(test_digit_slots)
{
    cn_test_ks_fx_t f;
    cn_test_ks_fx_init(&f, DK_L, 1);
    const size_t n = f.prm.n;
    int64_t v[64], want[64];
    static const size_t dps[3] = {2, 3, DK_L}, ds[2] = {DK_L, 3};
    for (size_t a = 0; a < 3; a++)
        for (size_t b = 0; b < 2; b++) {
            const size_t dp = dps[a], d = ds[b];
            const uint64_t elts[2] = {cn_bfv_galois_elt_rows(3, f.ctx),
                                      cn_bfv_galois_elt_columns(f.ctx)};
            const size_t levels[2] = {d, d}, dps2[2] = {dp, dp};
            cn_bfv_galois_keys_t gk = {0};
            cn_bfv_relin_key_t rk = {0};
            ck_assert_int_eq(
                cn_bfv_keygen_galois_digits(&gk, &f.sk, elts, levels, 2, dps2, f.ctx, &f.rng),
                CN_OK);
            ck_assert_int_eq(cn_bfv_keygen_relin_digits(&rk, &f.sk, d, dp, f.ctx, &f.rng),
                             CN_OK);
            ck_assert_uint_eq(gk.key[0].ndigits, d);
            ck_assert_uint_eq(cn_bfv_ksk_count(&gk.key[0]), (d + dp - 1) / dp);
            ck_assert_uint_eq(cn_bfv_ksk_count(&rk), (d + dp - 1) / dp);
            for (size_t l = 1; l <= DK_L; l++) {
                cn_bfv_ciphertext_t c = {0}, x = {0}, hx[2] = {{0}};
                cn_test_ks_encrypt_at(&c, v, l, &f, 100 * dp + 10 * d + l);
                if (l > d) {
                    ck_assert_int_eq(cn_bfv_rotate_rows(&x, &c, 3, &gk, f.ctx),
                                     CN_ERR_LEVEL_MISMATCH);
                    ck_assert_int_eq(cn_bfv_square(&x, &c, f.ctx), CN_OK);
                    ck_assert_int_eq(cn_bfv_relinearize(&x, &x, &rk, f.ctx),
                                     CN_ERR_LEVEL_MISMATCH);
                    cn_bfv_ciphertext_clear(&c);
                    cn_bfv_ciphertext_clear(&x);
                    continue;
                }
                ck_assert_int_eq(cn_bfv_rotate_rows(&x, &c, 3, &gk, f.ctx), CN_OK);
                cn_test_ks_rotated(want, v, 3, n);
                cn_test_ks_expect_slots(&x, want, &f);
                ck_assert_int_eq(cn_bfv_apply_galois_hoisted(hx, &c, elts, 2, &gk, f.ctx),
                                 CN_OK);
                cn_test_ks_expect_slots(&hx[0], want, &f);
                cn_test_ks_rotated(want, v, -1, n);
                cn_test_ks_expect_slots(&hx[1], want, &f);
                /* doubly hoisted: rot3(c) * 1 + swap(c) * 2, the weights as plaintext
                 * polynomials over every prime (NTT form) */
                cn_bfv_hoisted_t *h = NULL;
                ck_assert_int_eq(cn_bfv_hoist(&h, &c, elts, 2, &gk, f.ctx), CN_OK);
                cn_poly_t w[2] = {{0}};
                for (int i = 0; i < 2; i++) {
                    ck_assert_int_eq(cn_poly_init(&w[i], &f.ctx->ring, f.ctx->ring.base.k),
                                     CN_OK);
                    int64_t cst[64] = {0};
                    cst[0] = i + 1;
                    ck_assert_int_eq(cn_poly_set_int64(&w[i], cst, &f.ctx->ring), CN_OK);
                    ck_assert_int_eq(cn_poly_to_ntt(&w[i], &f.ctx->ring), CN_OK);
                }
                ck_assert_int_eq(cn_bfv_hoisted_dot(&x, h, w, f.ctx), CN_OK);
                int64_t r3[64], sw[64];
                cn_test_ks_rotated(r3, v, 3, n);
                cn_test_ks_rotated(sw, v, -1, n);
                for (size_t i = 0; i < n; i++)
                    want[i] = r3[i] + 2 * sw[i];
                cn_test_ks_expect_slots(&x, want, &f);
                cn_bfv_hoisted_free(h);
                cn_poly_clear(&w[0]);
                cn_poly_clear(&w[1]);
                if (l >= 3) { /* a square's and a wide digit's noise need three primes */
                    ck_assert_int_eq(cn_bfv_square(&x, &c, f.ctx), CN_OK);
                    ck_assert_int_eq(cn_bfv_relinearize(&x, &x, &rk, f.ctx), CN_OK);
                    ck_assert_uint_eq(x.size, 2);
                    for (size_t i = 0; i < n; i++)
                        want[i] = v[i] * v[i];
                    cn_test_ks_expect_slots(&x, want, &f);
                }
                cn_bfv_ciphertext_clear(&c);
                cn_bfv_ciphertext_clear(&x);
                cn_bfv_ciphertext_clear(&hx[0]);
                cn_bfv_ciphertext_clear(&hx[1]);
            }
            cn_bfv_galois_keys_clear(&gk);
            cn_bfv_relin_key_clear(&rk);
        }
    /* keys of different digits in one hoisted batch: rotations by 3 (k = 2), the swap
     * (k = 1), by 5 (k = 3), 1 (no key) */
    {
        const uint64_t elts[4] = {cn_bfv_galois_elt_rows(3, f.ctx),
                                  cn_bfv_galois_elt_columns(f.ctx),
                                  cn_bfv_galois_elt_rows(5, f.ctx), 1};
        const size_t dps3[3] = {2, 1, 3};
        cn_bfv_galois_keys_t gk = {0};
        ck_assert_int_eq(
            cn_bfv_keygen_galois_digits(&gk, &f.sk, elts, NULL, 3, dps3, f.ctx, &f.rng), CN_OK);
        cn_bfv_ciphertext_t c = {0}, hx[4] = {{0}}, x = {0};
        cn_test_ks_encrypt_at(&c, v, DK_L, &f, 4242);
        ck_assert_int_eq(cn_bfv_apply_galois_hoisted(hx, &c, elts, 4, &gk, f.ctx), CN_OK);
        int64_t want4[4][64];
        cn_test_ks_rotated(want4[0], v, 3, n);
        cn_test_ks_rotated(want4[1], v, -1, n);
        cn_test_ks_rotated(want4[2], v, 5, n);
        memcpy(want4[3], v, sizeof want4[3]);
        for (int i = 0; i < 4; i++)
            cn_test_ks_expect_slots(&hx[i], want4[i], &f);
        /* doubly hoisted: sum of (i + 1) times rotation i */
        cn_bfv_hoisted_t *h = NULL;
        ck_assert_int_eq(cn_bfv_hoist(&h, &c, elts, 4, &gk, f.ctx), CN_OK);
        cn_poly_t w[4] = {{0}};
        for (int i = 0; i < 4; i++) {
            ck_assert_int_eq(cn_poly_init(&w[i], &f.ctx->ring, f.ctx->ring.base.k), CN_OK);
            int64_t cst[64] = {0};
            cst[0] = i + 1;
            ck_assert_int_eq(cn_poly_set_int64(&w[i], cst, &f.ctx->ring), CN_OK);
            ck_assert_int_eq(cn_poly_to_ntt(&w[i], &f.ctx->ring), CN_OK);
        }
        ck_assert_int_eq(cn_bfv_hoisted_dot(&x, h, w, f.ctx), CN_OK);
        for (size_t j = 0; j < n; j++)
            want[j] = want4[0][j] + 2 * want4[1][j] + 3 * want4[2][j] + 4 * want4[3][j];
        cn_test_ks_expect_slots(&x, want, &f);
        /* the same weights with one value per block of 2^sh of their transform (constants:
         * any block), and two outputs in one pass, the second with the weights reversed */
        for (unsigned sh = 1; sh <= 6; sh += 5) {
            const size_t K = f.ctx->ring.base.k, wn = n >> sh;
            cn_poly_t wc[8] = {{0}};
            for (int i = 0; i < 8; i++) {
                const cn_poly_t *src = &w[i < 4 ? i : 7 - i];
                wc[i] = (cn_poly_t){wn, K, CN_FORM_NTT, malloc(K * wn * sizeof(uint64_t))};
                for (size_t r = 0; r < K; r++)
                    for (size_t b = 0; b < wn; b++)
                        wc[i].data[r * wn + b] = src->data[r * n + (b << sh)];
            }
            cn_bfv_ciphertext_t y2[2] = {{0}};
            ck_assert_int_eq(cn_bfv_hoisted_dots(y2, 2, h, wc, f.ctx), CN_OK);
            cn_test_ks_expect_slots(&y2[0], want, &f);
            for (size_t j = 0; j < n; j++)
                want[j] = 4 * want4[0][j] + 3 * want4[1][j] + 2 * want4[2][j] + want4[3][j];
            cn_test_ks_expect_slots(&y2[1], want, &f);
            for (size_t j = 0; j < n; j++)
                want[j] = want4[0][j] + 2 * want4[1][j] + 3 * want4[2][j] + 4 * want4[3][j];
            /* weights of another shape */
            wc[1].n = wn / 2;
            ck_assert_int_eq(cn_bfv_hoisted_dots(y2, 2, h, wc, f.ctx), CN_ERR_SHAPE_MISMATCH);
            wc[1].n = wn;
            for (int i = 0; i < 8; i++)
                cn_poly_clear(&wc[i]);
            cn_bfv_ciphertext_clear(&y2[0]);
            cn_bfv_ciphertext_clear(&y2[1]);
        }
        cn_bfv_hoisted_free(h);
        for (int i = 0; i < 4; i++) {
            cn_poly_clear(&w[i]);
            cn_bfv_ciphertext_clear(&hx[i]);
        }
        cn_bfv_ciphertext_clear(&c);
        cn_bfv_ciphertext_clear(&x);
        cn_bfv_galois_keys_clear(&gk);
    }
    /* bad primes per digit */
    cn_bfv_galois_keys_t gk = {0};
    cn_bfv_relin_key_t rk = {0};
    const uint64_t e3 = 3;
    const size_t zero = 0, above = DK_L + 1;
    ck_assert_int_eq(
        cn_bfv_keygen_galois_digits(&gk, &f.sk, &e3, NULL, 1, &zero, f.ctx, &f.rng),
        CN_ERR_INVALID_ARG);
    ck_assert_int_eq(
        cn_bfv_keygen_galois_digits(&gk, &f.sk, &e3, NULL, 1, &above, f.ctx, &f.rng),
        CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_bfv_keygen_relin_digits(&rk, &f.sk, DK_L, 0, f.ctx, &f.rng),
                     CN_ERR_INVALID_ARG);
    cn_test_ks_fx_clear(&f);
}
END_TEST

/* The base extension of a digit against GMP: for random c over Q_l, digit i's value x'
 * on every other prime p is x + u D_i modulo p, x = [c]_{D_i} from the CRT of its
 * residues, the same u in [0, k) on every prime; on the digit's own primes, c's
 * residues. */
START_TEST(test_digit_base_extension)
{
    cn_test_ks_fx_t f;
    cn_test_ks_fx_init(&f, DK_L, 2);
    const size_t n = f.prm.n, L = DK_L;
    cn_test_rng_t r;
    cn_test_rng_init(&r, 77);
    uint64_t *c = malloc(L * n * sizeof *c), *y = malloc(L * n * sizeof *y);
    uint64_t *x = malloc(n * sizeof *x);
    for (size_t j = 0; j < L; j++)
        for (size_t t = 0; t < n; t++) /* a few extreme residues too */
            c[j * n + t] = t < 2 ? (t ? f.prm.q[j] - 1 : 0) : cn_test_rng_below(&r, f.prm.q[j]);
    mpz_t D, xv, tmp, m, want;
    mpz_inits(D, xv, tmp, m, want, NULL);
    for (size_t dp = 2; dp <= L; dp++)
        for (size_t l = 1; l <= L; l++) {
            cn_bfv_digits_scale(y, c, l, dp, f.ctx);
            for (size_t i = 0; i * dp < l; i++) {
                const size_t lo = i * dp, hi = lo + dp < l ? lo + dp : l;
                mpz_set_ui(D, 1);
                for (size_t j = lo; j < hi; j++)
                    mpz_mul_ui(D, D, f.prm.q[j]);
                /* every prime of the ring's rows q_0..q_{l-1} and P */
                for (size_t jj = 0; jj <= l; jj++) {
                    const size_t rj = jj < l ? jj : L;
                    const uint64_t p = rj < L ? f.prm.q[rj] : f.prm.p;
                    cn_bfv_digit_row(x, c, y, i, l, dp, rj, f.ctx);
                    for (size_t t = 0; t < n; t++) {
                        /* x = CRT of c's residues on the digit's primes (GMP) */
                        mpz_set_ui(xv, c[lo * n + t]);
                        mpz_set_ui(m, f.prm.q[lo]);
                        for (size_t j = lo + 1; j < hi; j++) {
                            /* xv += m * ((c_j - xv) m^-1 mod q_j) */
                            mpz_set_ui(tmp, f.prm.q[j]);
                            mpz_t inv, dlt;
                            mpz_inits(inv, dlt, NULL);
                            ck_assert(mpz_invert(inv, m, tmp));
                            mpz_ui_sub(dlt, c[j * n + t], xv);
                            mpz_mul(dlt, dlt, inv);
                            mpz_mod(dlt, dlt, tmp);
                            mpz_addmul(xv, m, dlt);
                            mpz_mul_ui(m, m, f.prm.q[j]);
                            mpz_clears(inv, dlt, NULL);
                        }
                        ck_assert(mpz_cmp(xv, D) < 0);
                        int ok = 0;
                        for (size_t u = 0; u < hi - lo && !ok; u++) {
                            mpz_set(want, xv);
                            mpz_addmul_ui(want, D, u);
                            ok = mpz_fdiv_ui(want, p) == x[t] % p;
                        }
                        ck_assert_msg(ok, "dp %zu l %zu digit %zu row %zu coefficient %zu", dp,
                                      l, i, rj, t);
                        ck_assert(x[t] < 4 * p);
                    }
                }
            }
        }
    mpz_clears(D, xv, tmp, m, want, NULL);
    free(c);
    free(y);
    free(x);
    cn_test_ks_fx_clear(&f);
}
END_TEST

/* The key-switching noise of a rotation within the bound of docs/bfv.md ("Digits of
 * several primes"): ||e|| <= nd k n eta D_max / P + (n + 1) / 2 with nd digits of k
 * primes (D_max their largest product), so the budget after is at least
 * log2 Q - log2(Q 2^(-b - 1) + t ||e||) - 1 for a budget b before; and wider digits do
 * make more noise (the bound is not vacuous: k = 3 loses more than k = 1). */
START_TEST(test_digit_noise_bound)
{
    cn_test_ks_fx_t f;
    cn_test_ks_fx_init(&f, DK_L, 3);
    const size_t n = f.prm.n, l = DK_L;
    int64_t v[64];
    int after[4] = {0};
    for (size_t dp = 1; dp <= 3; dp++) {
        const uint64_t g = cn_bfv_galois_elt_rows(1, f.ctx);
        cn_bfv_galois_keys_t gk = {0};
        ck_assert_int_eq(
            cn_bfv_keygen_galois_digits(&gk, &f.sk, &g, NULL, 1, &dp, f.ctx, &f.rng), CN_OK);
        for (int rep = 0; rep < 4; rep++) {
            cn_bfv_ciphertext_t c = {0}, x = {0};
            cn_test_ks_encrypt_at(&c, v, l, &f, 1000 + 10 * dp + (size_t)rep);
            int before = 0, b2 = 0;
            ck_assert_int_eq(cn_bfv_noise_budget(&before, &c, &f.sk, f.ctx), CN_OK);
            ck_assert_int_eq(cn_bfv_rotate_rows(&x, &c, 1, &gk, f.ctx), CN_OK);
            ck_assert_int_eq(cn_bfv_noise_budget(&b2, &x, &f.sk, f.ctx), CN_OK);
            double lq = 0, ldmax = 0;
            const size_t nd = (l + dp - 1) / dp;
            for (size_t i = 0; i < nd; i++) {
                double ld = 0;
                for (size_t j = i * dp; j < i * dp + dp && j < l; j++)
                    ld += log2((double)f.prm.q[j]);
                ldmax = ld > ldmax ? ld : ldmax;
            }
            for (size_t j = 0; j < l; j++)
                lq += log2((double)f.prm.q[j]);
            const double e = (double)nd * (double)dp * (double)n * CN_CBD_ETA *
                                 exp2(ldmax - log2((double)f.prm.p)) +
                             (double)(n + 1) / 2;
            const double lt = log2((double)f.prm.t[0]);
            const double in = lq - before - 1; /* log2 of t ||v|| before, at most */
            const double m = in > lt + log2(e) ? in : lt + log2(e);
            const double bound = lq - (m + log2(exp2(in - m) + exp2(lt + log2(e) - m))) - 1;
            ck_assert_msg(b2 >= (int)floor(bound), "k %zu: budget %d after, bound %.1f", dp, b2,
                          bound);
            if (rep == 0)
                after[dp] = b2;
            cn_bfv_ciphertext_clear(&c);
            cn_bfv_ciphertext_clear(&x);
        }
        cn_bfv_galois_keys_clear(&gk);
    }
    /* D/P: 2^-1 (k = 1) against 2^99 (k = 3): some 90 bits of budget apart */
    ck_assert_msg(after[3] < after[1] - 60, "budgets %d (k = 1), %d (k = 3)", after[1],
                  after[3]);
    cn_test_ks_fx_clear(&f);
}
END_TEST

/* Keys of several primes per digit through bytes: format 1.3 (flag 2), the size by the
 * formula, the same keys back, working rotations; keys of one prime per digit still 1.1
 * or 1.2; hostile headers (the flag under 1.2, k = 0 or above L) refused. */
START_TEST(test_digit_io)
{
    cn_test_ks_fx_t f;
    cn_test_ks_fx_init(&f, DK_L, 4);
    const size_t n = f.prm.n, dp = 2;
    const uint64_t elts[2] = {cn_bfv_galois_elt_rows(5, f.ctx),
                              cn_bfv_galois_elt_columns(f.ctx)};
    const size_t levels[2] = {3, DK_L}, dps2[2] = {dp, dp};
    cn_bfv_galois_keys_t gk = {0}, back = {0};
    ck_assert_int_eq(
        cn_bfv_keygen_galois_digits(&gk, &f.sk, elts, levels, 2, dps2, f.ctx, &f.rng), CN_OK);
    size_t want = 32 + 8;
    for (size_t i = 0; i < 2; i++)
        want += 8 + 4 + 4 + CN_SEED_BYTES +
                (levels[i] + dp - 1) / dp * cn_test_ks_rows_bytes(&f.prm, levels[i]);
    const size_t len = cn_io_size_galois_keys(&gk, f.ctx);
    ck_assert_uint_eq(len, want);
    uint8_t *b = malloc(len);
    size_t w = 0;
    ck_assert_int_eq(cn_io_save_galois_keys(b, len, &w, &gk, f.ctx), CN_OK);
    ck_assert_uint_eq(w, len);
    ck_assert_uint_eq(b[6] | b[7] << 8, 3);   /* minor version 3 */
    ck_assert_uint_eq(b[10] | b[11] << 8, 3); /* seeded, digit primes */
    ck_assert_int_eq(cn_io_load_galois_keys(&back, b, len, f.ctx), CN_OK);
    ck_assert_uint_eq(back.count, 2);
    const size_t words = (DK_L + 1) * n * sizeof(uint64_t);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_uint_eq(back.key[i].ndigits, levels[i]);
        ck_assert_uint_eq(back.key[i].digit_primes, dp);
        for (size_t j = 0; j < cn_bfv_ksk_count(&gk.key[i]); j++) {
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
    cn_bfv_ciphertext_clear(&c);
    cn_bfv_ciphertext_clear(&y);
    /* the flag under a 1.2 header; k = 0 and L + 1 (checksums recomputed) */
    const size_t kp = 32 + 8 + 4; /* the first key's primes per digit */
    ck_assert_uint_eq(b[kp], dp);
    uint8_t *t = malloc(len);
    memcpy(t, b, len);
    t[6] = 2;
    cn_test_reseal_io(t, len);
    ck_assert_int_eq(cn_io_load_galois_keys(&back, t, len, f.ctx), CN_ERR_FORMAT);
    const uint32_t bad[2] = {0, DK_L + 1};
    for (int k = 0; k < 2; k++) {
        memcpy(t, b, len);
        t[kp] = (uint8_t)bad[k];
        cn_test_reseal_io(t, len);
        ck_assert_int_eq(cn_io_load_galois_keys(&back, t, len, f.ctx), CN_ERR_FORMAT);
    }
    free(t);
    free(b);
    cn_bfv_galois_keys_clear(&back);
    cn_bfv_galois_keys_clear(&gk);
    /* a relinearization key: 1.3, and back */
    cn_bfv_relin_key_t rk = {0}, rback = {0};
    ck_assert_int_eq(cn_bfv_keygen_relin_digits(&rk, &f.sk, DK_L, 3, f.ctx, &f.rng), CN_OK);
    const size_t rlen = cn_io_size_relin_key(&rk, f.ctx);
    ck_assert_uint_eq(rlen,
                      32 + 4 + 4 + CN_SEED_BYTES + 2 * cn_test_ks_rows_bytes(&f.prm, DK_L) + 8);
    b = malloc(rlen);
    ck_assert_int_eq(cn_io_save_relin_key(b, rlen, &w, &rk, f.ctx), CN_OK);
    ck_assert_uint_eq(b[6], 3);
    ck_assert_int_eq(cn_io_load_relin_key(&rback, b, rlen, f.ctx), CN_OK);
    ck_assert_uint_eq(rback.ndigits, DK_L);
    ck_assert_uint_eq(rback.digit_primes, 3);
    for (size_t j = 0; j < 2; j++)
        ck_assert_mem_eq(rback.k0[j].data, rk.k0[j].data, words);
    free(b);
    cn_bfv_relin_key_clear(&rback);
    cn_bfv_relin_key_clear(&rk);
    /* one prime per digit through the new function: the format of before (1.1) */
    ck_assert_int_eq(cn_bfv_keygen_relin_digits(&rk, &f.sk, DK_L, 1, f.ctx, &f.rng), CN_OK);
    b = malloc(cn_io_size_relin_key(&rk, f.ctx));
    ck_assert_int_eq(cn_io_save_relin_key(b, cn_io_size_relin_key(&rk, f.ctx), &w, &rk, f.ctx),
                     CN_OK);
    ck_assert_uint_eq(b[6], 1);
    ck_assert_uint_eq(b[10], 1);
    free(b);
    cn_bfv_relin_key_clear(&rk);
    cn_test_ks_fx_clear(&f);
}
END_TEST

CN_SUITE(digit_keys)
{
    Suite *s = suite_create("digit_keys");
    TCase *tc = cn_tcase("core", 120);
    tcase_add_test(tc, test_digit_slots);
    tcase_add_test(tc, test_digit_base_extension);
    tcase_add_test(tc, test_digit_noise_bound);
    tcase_add_test(tc, test_digit_io);
    suite_add_tcase(s, tc);
    return s;
}
