/* Key switching with one digit per ciphertext prime and the special prime P (the
 * "hybrid" method with dnum = l: Gentry, Halevi, Smart, "Homomorphic evaluation of the
 * AES circuit", CRYPTO 2012, section 3.3, in the RNS form of Bajard et al., SAC 2016):
 * for d over Q_l and a key for s' (k0_i + k1_i s = P g_i s' + e_i over Q P), the pair
 * (delta0, delta1) = ModDown(sum_i [d]_{q_i} (k0_i, k1_i)) satisfies
 * delta0 + delta1 s = d s' + small (mod Q_l). */
#include <stdlib.h>
#include <string.h>

#include "../internal/mem.h"
#include "bfv_internal.h"

cn_status cn_bfv_keyswitch(uint64_t *delta0, uint64_t *delta1, const uint64_t *d, size_t l,
                           const cn_bfv_relin_key_t *key, const cn_bfv_context_t *ctx)
{
    const size_t n = ctx->n, L = ctx->L;
    const cn_bfv_level_t *lv = cn_bfv_level(ctx, l);
    /* rows 0..l-1 are q_0..q_{l-1}, row l is P (row L of the ring) */
    const size_t k = l + 1;
    uint64_t *buf = cn_alloc(2 * k * n + n, sizeof *buf);
    cn_u128 *wide = cn_alloc(2 * n, sizeof *wide);
    if (!buf || !wide) {
        free(buf);
        free(wide);
        return CN_ERR_NO_MEMORY;
    }
    uint64_t *acc0 = buf, *acc1 = acc0 + k * n, *dx = acc1 + k * n;
    cn_u128 *w0 = wide, *w1 = wide + n;
    const uint64_t *c2 = d;
#ifndef CN_NO_AVX512
    const int ifma = cn_bfv_ifma_available() && n % 8 == 0;
#endif
    /* Row by row of the output: every digit [d]_{q_i} is brought to the row's prime,
     * transformed (lazy, values in [0, 4p)) and multiplied by the key; the products
     * (< 2^124) are summed in 128 bits and reduced once every 8 digits. */
    for (size_t j = 0; j < k; j++) {
        const size_t rj = j < l ? j : L; /* ring row */
        const cn_ntt_table_t *tab = &ctx->ring.ntt[rj];
        const cn_mod_t m = tab->mod;
        memset(wide, 0, 2 * n * sizeof *wide);
        uint64_t *y0 = acc0 + j * n, *y1 = acc1 + j * n;
        memset(y0, 0, n * sizeof *y0);
        memset(y1, 0, n * sizeof *y1);
        for (size_t i = 0; i < l; i++) {
            const uint64_t *di = c2 + i * n; /* digit i, values in [0, q_i) */
            if (ctx->ring.base.q[i] <= 4 * m.p)
                memcpy(dx, di, n * sizeof *dx); /* already in the NTT's input range */
            else
                for (size_t c = 0; c < n; c++)
                    dx[c] = cn_mod_reduce_u64(di[c], m);
            cn_ntt_forward_lazy(dx, tab);
            const uint64_t *k0 = key->k0[i].data + rj * n, *k1 = key->k1[i].data + rj * n;
#ifndef CN_NO_AVX512
            if (ifma && m.p < ((uint64_t)1 << 50)) {
                cn_mul_acc2_ifma(y0, y1, dx, k0, k1, n, m.p);
                continue;
            }
#endif
            for (size_t c = 0; c < n; c++) {
                w0[c] += (cn_u128)dx[c] * k0[c];
                w1[c] += (cn_u128)dx[c] * k1[c];
            }
            if ((i & 7) == 7 || i + 1 == l) {
                for (size_t c = 0; c < n; c++) {
                    y0[c] = cn_mod_add(y0[c], cn_mod_reduce_any_u128(w0[c], m), m);
                    y1[c] = cn_mod_add(y1[c], cn_mod_reduce_any_u128(w1[c], m), m);
                }
                memset(wide, 0, 2 * n * sizeof *wide);
            }
        }
    }
    free(wide);
    const cn_mod_t mp = ctx->ring.ntt[L].mod;
    uint64_t *acc[2] = {acc0, acc1};
    for (int h = 0; h < 2; h++) {
        for (size_t j = 0; j < k; j++)
            cn_ntt_inverse(acc[h] + j * n, &ctx->ring.ntt[j < l ? j : L]);
        /* ModDown: (x - [x]_P) / P, rounding by the centered residue modulo P */
        const uint64_t *xp = acc[h] + l * n;
        for (size_t j = 0; j < l; j++) {
            const cn_mod_t m = ctx->ring.base.mod[j];
            uint64_t *x = acc[h] + j * n;
            for (size_t c = 0; c < n; c++) {
                uint64_t r = cn_mod_from_int64(cn_mod_center(xp[c], mp), m);
                x[c] = cn_mod_mul_shoup(cn_mod_sub(x[c], r, m), lv->p_inv[j], lv->p_inv_s[j], m.p);
            }
        }
    }
    for (int h = 0; h < 2; h++)
        memcpy(h == 0 ? delta0 : delta1, acc[h], l * n * sizeof *acc0);
    free(buf);
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
