/* Key switching with digits of one or several ciphertext primes and the special prime P
 * (the "hybrid" method: Gentry, Halevi, Smart, "Homomorphic evaluation of the AES
 * circuit", CRYPTO 2012, section 3.3, in the RNS form of Bajard et al., SAC 2016; digits
 * of several primes as Han, Ki, CT-RSA 2020, lib/bfv/digits.c): for d over Q_l and a key
 * for s' (k0_i + k1_i s = P g_i s' + e_i over Q P), the pair
 * (delta0, delta1) = ModDown(sum_i [d]_{D_i} (k0_i, k1_i)) satisfies
 * delta0 + delta1 s = d s' + small (mod Q_l). */
#include <stdlib.h>
#include <string.h>

#include "../internal/mem.h"
#include "bfv_internal.h"
#include "kernels.h"

void cn_bfv_moddown(uint64_t *out, const uint64_t *x, size_t l, const cn_bfv_level_t *lv,
                    const cn_bfv_context_t *ctx)
{
    const size_t n = ctx->n;
    const uint64_t P = ctx->ring.ntt[ctx->L].mod.p;
    for (size_t j = 0; j < l; j++) {
        const uint64_t q = ctx->ring.base.q[j];
        cn_bfv_divround_row_kernel(q, P, n)(out + j * n, x + j * n, x + l * n, n, q, P,
                                            lv->p_inv[j]);
    }
}

cn_status cn_bfv_keyswitch(uint64_t *delta0, uint64_t *delta1, const uint64_t *d, size_t l,
                           const cn_bfv_relin_key_t *key, const cn_bfv_context_t *ctx)
{
    const size_t n = ctx->n, L = ctx->L;
    if (l > key->ndigits) /* a key at a lower level than the ciphertext */
        return CN_ERR_LEVEL_MISMATCH;
    const cn_bfv_level_t *lv = cn_bfv_level(ctx, l);
    /* rows 0..l-1 are q_0..q_{l-1}, row l is P (row L of the ring); nd digits of dp
     * primes (lib/bfv/digits.c; dp = 1: one per prime) */
    const size_t k = l + 1, dp = cn_bfv_ksk_digit_primes(key), nd = (l + dp - 1) / dp;
    uint64_t *buf = cn_alloc((2 * k + nd + (dp > 1 ? l : 0)) * n, sizeof *buf);
    const uint64_t **rows = cn_alloc(3 * nd, sizeof *rows);
    if (!buf || !rows) {
        free(buf);
        free(rows);
        return CN_ERR_NO_MEMORY;
    }
    uint64_t *acc0 = buf, *acc1 = acc0 + k * n, *dx = acc1 + k * n, *y = dx + nd * n;
    const uint64_t **xs = rows, **k0s = rows + nd, **k1s = rows + 2 * nd;
    cn_bfv_digits_scale(y, d, l, dp, ctx);
    /* Row by row of the output: every digit is brought to the row's prime and
     * transformed (lazy, values in [0, 4p)); then the digits times the key's rows are
     * summed into the row's accumulators. */
    for (size_t j = 0; j < k; j++) {
        const size_t rj = j < l ? j : L; /* ring row */
        const cn_ntt_table_t *tab = &ctx->ring.ntt[rj];
        const cn_mod_t m = tab->mod;
        for (size_t i = 0; i < nd; i++) {
            uint64_t *x = dx + i * n;
            cn_bfv_digit_row(x, d, y, i, l, dp, rj, ctx);
            cn_ntt_forward_lazy(x, tab);
            xs[i] = x;
            k0s[i] = key->k0[i].data + rj * n;
            k1s[i] = key->k1[i].data + rj * n;
        }
        uint64_t *y0 = acc0 + j * n, *y1 = acc1 + j * n;
        cn_bfv_mul_acc2_rep_kernel(m.p, n)(y0, y1, xs, 0, k0s, k1s, nd, n, m.p,
                                           0); /* y = sum */
    }
    uint64_t *acc[2] = {acc0, acc1}, *delta[2] = {delta0, delta1};
    for (int h = 0; h < 2; h++) {
        for (size_t j = 0; j < k; j++)
            cn_ntt_inverse(acc[h] + j * n, &ctx->ring.ntt[j < l ? j : L]);
        /* ModDown: (x - [x]_P) / P, rounding by the centered residue modulo P */
        cn_bfv_moddown(delta[h], acc[h], l, lv, ctx);
    }
    free(buf);
    free(rows);
    return CN_OK;
}

void cn_bfv_add_rows(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t l,
                     const cn_bfv_context_t *ctx)
{
    const size_t n = ctx->n;
    for (size_t j = 0; j < l; j++) {
        const cn_mod_t m = ctx->ring.base.mod[j];
        for (size_t c = 0; c < n; c++)
            out[j * n + c] = cn_mod_add(a[j * n + c], b[j * n + c], m);
    }
}
