/* Galois keys for chosen elements and hoisted rotations (cryptonets/bfv_hoist.h).
 *
 * Hoisting (Halevi, Shoup, "Faster homomorphic linear transformations in HElib", CRYPTO
 * 2018, section 5): key switching c1(X^g) starts by splitting c1 into its RNS digits
 * [c1]_{q_i}, lifting each to every prime of Q_l P and transforming it; the automorphism
 * commutes with that split (the digits of c1(X^g) are the digits of c1 with X -> X^g
 * applied, as signed integers below q_i), so the split and the transforms are done once
 * and each rotation applies the automorphism to the transformed digits, where it is a
 * permutation: with the forward NTT of lib/ntt (bit-reversed output), output j holds
 * the evaluation at psi^(2 bitrev(j) + 1), and a(X^g) at psi^e is a at psi^(e g). */
#include <stdlib.h>
#include <string.h>

#include "cryptonets/bfv_hoist.h"
#include "../internal/mem.h"
#include "bfv_internal.h"
#include "kernels.h"

/* brv[j] = j with its log2 n bits reversed, for j < n (a power of two): by the recurrence
 * brv[j] = brv[j / 2] / 2 + (j odd) n / 2. */
static void bitrev_table(uint32_t *brv, size_t n)
{
    brv[0] = 0;
    for (size_t j = 1; j < n; j++)
        brv[j] = (uint32_t)((brv[j >> 1] >> 1) | ((j & 1) ? n >> 1 : 0));
}

/* perm[j] = the NTT index whose value becomes index j's under X -> X^g: the NTT of a(X^g)
 * is y[j] = x[perm[j]]. g odd, in [1, 2n); brv from bitrev_table. */
static void ntt_perm(uint32_t *perm, uint64_t g, const uint32_t *brv, size_t n)
{
    const uint64_t mask = 2 * (uint64_t)n - 1;
    for (size_t j = 0; j < n; j++) {
        const uint64_t e = 2 * (uint64_t)brv[j] + 1;
        const uint64_t f = (e * g) & mask; /* odd */
        perm[j] = brv[f >> 1];
    }
}

/* dig[j][i] = the digit i of a's c1 (nd digits of dp primes, lib/bfv/digits.c) on row j
 * of the k rows (q_1..q_l, then P as row L), in NTT form, lazy ([0, 4p)): the
 * decomposition every hoisted rotation shares (Halevi, Shoup 2018). CN_ERR_NO_MEMORY. */
/* Row j (q_j for j < l, else P) of the key-switching product of the nd digits of dig
 * (lift_digits' layout), permuted by perm (the automorphism in NTT form), with key:
 * y0 = sum_i x_i k0_i, y1 = sum_i x_i k1_i. px holds nd rows of scratch, rows 3 l
 * pointers. Shared by the hoisted rotations and the hoisted sums. */
static void key_product(uint64_t *y0, uint64_t *y1, const uint64_t *dig, const uint32_t *perm,
                        const cn_bfv_relin_key_t *key, size_t j, size_t l, size_t nd,
                        uint64_t *px, const uint64_t **rows, const cn_bfv_context_t *ctx)
{
    const size_t n = ctx->n, rj = j < l ? j : ctx->L;
    const uint64_t p = ctx->ring.ntt[rj].mod.p;
    const uint64_t **xs = rows, **k0s = rows + l, **k1s = rows + 2 * l;
    const cn_perm_rows_fn pr = cn_bfv_perm_rows_kernel(n);
    for (size_t i = 0; i < nd; i++) {
        uint64_t *y = px + i * n;
        pr(y, dig + (j * nd + i) * n, perm, n);
        xs[i] = y;
        k0s[i] = key->k0[i].data + rj * n;
        k1s[i] = key->k1[i].data + rj * n;
    }
    cn_bfv_mul_acc2_rep_kernel(p, n)(y0, y1, xs, 0, k0s, k1s, nd, n, p, 0); /* y = the sum */
}

static cn_status lift_digits(uint64_t *dig, const cn_bfv_ciphertext_t *a, size_t l, size_t k,
                             size_t dp, size_t L, const cn_bfv_context_t *ctx)
{
    const size_t n = ctx->n, nd = (l + dp - 1) / dp;
    uint64_t *y = NULL;
    if (dp > 1 && !(y = cn_alloc(l * n, sizeof *y)))
        return CN_ERR_NO_MEMORY;
    cn_bfv_digits_scale(y, a->c[1].data, l, dp, ctx);
    for (size_t j = 0; j < k; j++) {
        const size_t rj = j < l ? j : L;
        const cn_ntt_table_t *tab = &ctx->ring.ntt[rj];
        for (size_t i = 0; i < nd; i++) {
            uint64_t *x = dig + (j * nd + i) * n;
            cn_bfv_digit_row(x, a->c[1].data, y, i, l, dp, rj, ctx);
            cn_ntt_forward_lazy(x, tab);
        }
    }
    free(y);
    return CN_OK;
}

/* The primes per digit of the key of elts[r] (elts[r] != 1, its key present). */
static size_t elt_dp(const uint64_t *elts, size_t r, const cn_bfv_galois_keys_t *gk)
{
    return cn_bfv_ksk_digit_primes(cn_bfv_galois_find_key(gk, elts[r]));
}

/* 1 when elts[r] (not 1) is the first element of its key's primes per digit: keys of
 * different digits may be mixed, and the digits are lifted once per kind. */
static int first_of_dp(const uint64_t *elts, size_t r, const cn_bfv_galois_keys_t *gk)
{
    for (size_t i = 0; i < r; i++)
        if (elts[i] != 1 && elt_dp(elts, i, gk) == elt_dp(elts, r, gk))
            return 0;
    return 1;
}

cn_status cn_bfv_apply_galois_hoisted(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a,
                                      const uint64_t *elts, size_t count,
                                      const cn_bfv_galois_keys_t *gk,
                                      const cn_bfv_context_t *ctx)
{
    cn_status st;
    if ((st = cn_bfv_check_ct(a, ctx)) != CN_OK || (st = cn_bfv_check_galois(gk, ctx)) != CN_OK)
        return st;
    if (a->size != 2)
        return CN_ERR_UNSUPPORTED;
    for (size_t r = 0; r < count; r++) {
        if (elts[r] % 2 == 0 || elts[r] >= 2 * (uint64_t)ctx->n)
            return CN_ERR_INVALID_ARG;
        if (elts[r] != 1 && !cn_bfv_galois_find_key(gk, elts[r]))
            return CN_ERR_NO_KEY;
        else if (elts[r] != 1 && cn_bfv_galois_find_key(gk, elts[r])->ndigits < a->level)
            return CN_ERR_LEVEL_MISMATCH; /* a key at a lower level */
        if (&out[r] == a)
            return CN_ERR_INVALID_ARG;
    }
    const size_t l = a->level, n = ctx->n, L = ctx->L, k = l + 1;
    const cn_bfv_level_t *lv = cn_bfv_level(ctx, l);
    /* dig: for every output row j (q_0..q_{l-1}, then P) the nd digits, lifted and
     * transformed (lazy, values in [0, 4p)), once per kind of key (primes per digit);
     * then scratch for one rotation */
    uint64_t *dig = cn_alloc(k * l * n, sizeof *dig);
    uint64_t *buf = cn_alloc((2 * l + 2 * k) * n, sizeof *buf);
    uint32_t *perm = cn_alloc(2 * n, sizeof *perm), *brv = perm ? perm + n : NULL;
    const uint64_t **rows = cn_alloc(3 * l, sizeof *rows);
    if (!dig || !buf || !perm || !rows) {
        st = CN_ERR_NO_MEMORY;
        goto done;
    }
    bitrev_table(brv, n);
    uint64_t *px = buf, *acc0 = px + l * n, *acc1 = acc0 + k * n, *c0g = acc1 + k * n;
    const size_t t_index = a->t_index;
    const int tr = a->transparent;
    for (size_t r = 0; r < count && st == CN_OK; r++)
        if (elts[r] == 1)
            st = cn_bfv_ciphertext_copy(&out[r], a, ctx);
    size_t dp = 0, nd = 0;
    for (size_t r0 = 0; r0 < count && st == CN_OK; r0++) {
        if (elts[r0] == 1 || !first_of_dp(elts, r0, gk))
            continue;
        dp = elt_dp(elts, r0, gk);
        nd = (l + dp - 1) / dp;
        if ((st = lift_digits(dig, a, l, k, dp, L, ctx)) != CN_OK)
            break;
        for (size_t r = r0; r < count && st == CN_OK; r++) {
            const uint64_t g = elts[r];
            if (g == 1 || elt_dp(elts, r, gk) != dp)
                continue;
            const cn_bfv_relin_key_t *key = cn_bfv_galois_find_key(gk, g);
            ntt_perm(perm, g, brv, n);
            for (size_t j = 0; j < k; j++)
                key_product(acc0 + j * n, acc1 + j * n, dig, perm, key, j, l, nd, px, rows,
                            ctx);
            if ((st = cn_bfv_ct_reshape(&out[r], 2, l, ctx)) != CN_OK)
                break;
            uint64_t *acc[2] = {acc0, acc1};
            for (int h = 0; h < 2; h++) {
                for (size_t j = 0; j < k; j++)
                    cn_ntt_inverse(acc[h] + j * n, &ctx->ring.ntt[j < l ? j : L]);
                cn_bfv_moddown(out[r].c[h].data, acc[h], l, lv, ctx);
            }
            cn_bfv_automorphism_coeff(c0g, a->c[0].data, l, g, ctx);
            cn_bfv_add_rows(out[r].c[0].data, out[r].c[0].data, c0g, l, ctx);
            out[r].c[0].form = out[r].c[1].form = CN_FORM_COEFF;
            out[r].t_index = t_index;
            out[r].transparent = tr;
            out[r].has_seed = 0;
        }
    }
done:
    free(dig);
    free(buf);
    free(perm);
    free(rows);
    return st;
}

/* --- rotations kept before the division by P ----------------------------------------- */

struct cn_bfv_hoisted_s {
    size_t count, level, t_index;
    uint64_t fingerprint;
    uint64_t *x0, *x1; /* [count][l + 1][n], NTT form, values in [0, p) */
};

void cn_bfv_hoisted_free(cn_bfv_hoisted_t *h)
{
    if (!h)
        return;
    free(h->x0);
    free(h->x1);
    free(h);
}

cn_status cn_bfv_hoist(cn_bfv_hoisted_t **out, const cn_bfv_ciphertext_t *a,
                       const uint64_t *elts, size_t count, const cn_bfv_galois_keys_t *gk,
                       const cn_bfv_context_t *ctx)
{
    *out = NULL;
    cn_status st;
    if ((st = cn_bfv_check_ct(a, ctx)) != CN_OK || (st = cn_bfv_check_galois(gk, ctx)) != CN_OK)
        return st;
    if (a->size != 2)
        return CN_ERR_UNSUPPORTED;
    if (!ctx->has_p)
        return CN_ERR_UNSUPPORTED;
    for (size_t r = 0; r < count; r++) {
        if (elts[r] % 2 == 0 || elts[r] >= 2 * (uint64_t)ctx->n)
            return CN_ERR_INVALID_ARG;
        if (elts[r] != 1 && !cn_bfv_galois_find_key(gk, elts[r]))
            return CN_ERR_NO_KEY;
        else if (elts[r] != 1 && cn_bfv_galois_find_key(gk, elts[r])->ndigits < a->level)
            return CN_ERR_LEVEL_MISMATCH; /* a key at a lower level */
    }
    const size_t l = a->level, n = ctx->n, L = ctx->L, k = l + 1;
    cn_bfv_hoisted_t *h = calloc(1, sizeof *h);
    uint64_t *dig = cn_alloc(k * l * n, sizeof *dig);
    uint64_t *pc = cn_alloc(2 * l * n + l * n, sizeof *pc); /* P c0, P c1 (NTT); scratch */
    uint32_t *perm = cn_alloc(2 * n, sizeof *perm), *brv = perm ? perm + n : NULL;
    const uint64_t **rows = cn_alloc(3 * l, sizeof *rows);
    if (h) {
        h->x0 = cn_alloc(count * k * n, sizeof *h->x0);
        h->x1 = cn_alloc(count * k * n, sizeof *h->x1);
    }
    if (!h || !dig || !pc || !perm || !rows || !h->x0 || !h->x1) {
        st = CN_ERR_NO_MEMORY;
        goto done;
    }
    bitrev_table(brv, n);
    h->count = count;
    h->level = l;
    h->t_index = a->t_index;
    h->fingerprint = ctx->fingerprint;
    /* P c0 and P c1 in NTT form over q_1..q_l (their residue modulo P is 0) */
    uint64_t *px = pc + 2 * l * n;
    for (int hh = 0; hh < 2; hh++)
        for (size_t j = 0; j < l; j++) {
            const cn_mod_t m = ctx->ring.base.mod[j];
            const uint64_t pm = cn_mod_reduce_u64(ctx->prm.p, m), pms = cn_mod_shoup(pm, m);
            uint64_t *y = pc + (hh * l + j) * n;
            memcpy(y, a->c[hh].data + j * n, n * sizeof *y);
            cn_ntt_forward(y, &ctx->ring.ntt[j]);
            for (size_t c = 0; c < n; c++)
                y[c] = cn_mod_mul_shoup(y[c], pm, pms, m.p);
        }
    for (size_t r = 0; r < count; r++)
        if (elts[r] == 1) {
            uint64_t *x0 = h->x0 + r * k * n, *x1 = h->x1 + r * k * n;
            memcpy(x0, pc, l * n * sizeof *x0);
            memcpy(x1, pc + l * n, l * n * sizeof *x1);
            memset(x0 + l * n, 0, n * sizeof *x0);
            memset(x1 + l * n, 0, n * sizeof *x1);
        }
    /* per kind of key (primes per digit): the digits of c1, lifted to every row and
     * transformed (lazy, [0, 4p)), then the rotations with such keys */
    for (size_t r0 = 0; r0 < count; r0++) {
        if (elts[r0] == 1 || !first_of_dp(elts, r0, gk))
            continue;
        const size_t dp = elt_dp(elts, r0, gk), nd = (l + dp - 1) / dp;
        if ((st = lift_digits(dig, a, l, k, dp, L, ctx)) != CN_OK)
            goto done;
        for (size_t r = r0; r < count; r++) {
            uint64_t *x0 = h->x0 + r * k * n, *x1 = h->x1 + r * k * n;
            const uint64_t g = elts[r];
            if (g == 1 || elt_dp(elts, r, gk) != dp)
                continue;
            const cn_bfv_relin_key_t *key = cn_bfv_galois_find_key(gk, g);
            ntt_perm(perm, g, brv, n);
            for (size_t j = 0; j < k; j++) {
                uint64_t *y0 = x0 + j * n, *y1 = x1 + j * n;
                key_product(y0, y1, dig, perm, key, j, l, nd, px, rows, ctx);
                if (j < l) { /* + P c0(X^g): the permuted transform of P c0 */
                    const cn_mod_t m = ctx->ring.base.mod[j];
                    cn_bfv_perm_rows_kernel(n)(px, pc + j * n, perm, n);
                    for (size_t c = 0; c < n; c++)
                        y0[c] = cn_mod_add(y0[c], px[c], m);
                }
            }
        }
    }
done:
    free(dig);
    free(pc);
    free(perm);
    free(rows);
    if (st != CN_OK) {
        cn_bfv_hoisted_free(h);
        return st;
    }
    *out = h;
    return CN_OK;
}

/* The shift s of weights of degree n / 2^s (w[0..count) alike), or -1. */
static int weight_shift(const cn_poly_t *w, size_t count, const cn_bfv_context_t *ctx,
                        cn_status *st)
{
    const size_t n = ctx->n, wn = count ? w[0].n : n, K = ctx->ring.base.k;
    unsigned shift = 0;
    while (shift < 16 && (wn << shift) < n)
        shift++;
    *st = CN_OK;
    if ((wn << shift) != n)
        *st = CN_ERR_SHAPE_MISMATCH;
    for (size_t i = 0; i < count && *st == CN_OK; i++) {
        if (w[i].n != wn || w[i].k != K)
            *st = CN_ERR_SHAPE_MISMATCH;
        else if (w[i].form != CN_FORM_NTT)
            *st = CN_ERR_FORM_MISMATCH;
    }
    return *st == CN_OK ? (int)shift : -1;
}

/* Coefficients per tile of cn_bfv_hoisted_dots: the rotations' words of one tile (2 count
 * tiles of 8 KB for count 8: 128 KB) stay in the core's cache while every output sweeps
 * over them. */
#define HOIST_TILE 1024

cn_status cn_bfv_hoisted_dots(cn_bfv_ciphertext_t *out, size_t nout, const cn_bfv_hoisted_t *h,
                              const cn_poly_t *w, const cn_bfv_context_t *ctx)
{
    if (h->fingerprint != ctx->fingerprint)
        return CN_ERR_CONTEXT_MISMATCH;
    for (size_t g = 0; g < nout; g++)
        for (size_t r = g + 1; r < nout; r++)
            if (&out[g] == &out[r])
                return CN_ERR_INVALID_ARG;
    cn_status st;
    const int sh = weight_shift(w, nout * h->count, ctx, &st);
    if (st != CN_OK)
        return st;
    const size_t l = h->level, n = ctx->n, L = ctx->L, k = l + 1, cnt = h->count;
    const unsigned shift = (unsigned)sh;
    const size_t wn = n >> shift;
    /* a tile holds whole blocks of the weights: a multiple of 2^shift and of 8 */
    size_t tile = HOIST_TILE < n ? HOIST_TILE : n;
    if (tile < ((size_t)1 << shift))
        tile = (size_t)1 << shift;
    const cn_bfv_level_t *lv = cn_bfv_level(ctx, l);
    uint64_t *acc = cn_alloc(nout * 2 * k * n + 1, sizeof *acc);
    const uint64_t **rows = cn_alloc(3 * (cnt ? cnt : 1), sizeof *rows);
    st = acc && rows ? CN_OK : CN_ERR_NO_MEMORY;
    if (st != CN_OK)
        goto done;
    const uint64_t **xs = rows, **k0s = rows + cnt, **k1s = rows + 2 * cnt;
    /* acc[g][h][j]: output g, half h, row j (q_1..q_l, then P), NTT form */
    for (size_t j = 0; j < k; j++) {
        const size_t rj = j < l ? j : L;
        const uint64_t p = ctx->ring.ntt[rj].mod.p;
        const cn_mul_acc2_rep_fn f = cn_bfv_mul_acc2_rep_kernel(p, tile);
        for (size_t off = 0; off < n; off += tile) {
            for (size_t i = 0; i < cnt; i++) {
                k0s[i] = h->x0 + (i * k + j) * n + off;
                k1s[i] = h->x1 + (i * k + j) * n + off;
            }
            for (size_t g = 0; g < nout; g++) {
                for (size_t i = 0; i < cnt; i++)
                    xs[i] = w[g * cnt + i].data + rj * wn + (off >> shift);
                uint64_t *y0 = acc + ((g * 2 + 0) * k + j) * n + off;
                uint64_t *y1 = acc + ((g * 2 + 1) * k + j) * n + off;
                f(y0, y1, xs, shift, k0s, k1s, cnt, tile, p, 0); /* written, not added */
            }
        }
    }
    for (size_t g = 0; g < nout && st == CN_OK; g++) {
        if ((st = cn_bfv_ct_reshape(&out[g], 2, l, ctx)) != CN_OK)
            break;
        for (int hh = 0; hh < 2; hh++) {
            uint64_t *a = acc + (g * 2 + (size_t)hh) * k * n;
            for (size_t j = 0; j < k; j++)
                cn_ntt_inverse(a + j * n, &ctx->ring.ntt[j < l ? j : L]);
            cn_bfv_moddown(out[g].c[hh].data, a, l, lv, ctx);
            out[g].c[hh].form = CN_FORM_COEFF;
        }
        out[g].t_index = h->t_index;
        out[g].transparent = 0;
        out[g].has_seed = 0;
    }
done:
    free(acc);
    free(rows);
    return st;
}

cn_status cn_bfv_hoisted_dot(cn_bfv_ciphertext_t *out, const cn_bfv_hoisted_t *h,
                             const cn_poly_t *w, const cn_bfv_context_t *ctx)
{
    return cn_bfv_hoisted_dots(out, 1, h, w, ctx);
}
