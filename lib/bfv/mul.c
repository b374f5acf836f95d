/* Ciphertext multiplication in full RNS form (Halevi, Polyakov, Shoup, CT-RSA 2019,
 * section 4): lift each input from Q_l to the extension base R exactly, tensor in
 * Q_l u R through the NTT, scale by t/Q_l with exact rounding into R, and convert back
 * to Q_l exactly. Relinearization: key switching with one digit per prime of Q_l and the
 * special prime P, then division by P with rounding (ModDown). */
#include <stdlib.h>
#include <string.h>

#include "../internal/mem.h"
#include "bfv_internal.h"

/* the NTT table and modulus of row j of the extended base Q_l u R */
static const cn_ntt_table_t *ext_ntt(const cn_bfv_context_t *ctx, size_t l, size_t j)
{
    return j < l ? &ctx->ring.ntt[j] : &ctx->ring_r.ntt[j - l];
}

/* ext (l + kr rows) = NTT of the centered lift of c (l rows) to Q_l u R. */
static void lift_ntt(uint64_t *ext, const cn_poly_t *c, const cn_bfv_context_t *ctx)
{
    const size_t l = c->k, n = ctx->n, k = l + ctx->kr;
    memcpy(ext, c->data, l * n * sizeof *ext);
    cn_exact_conv(ext + l * n, c->data, n, &cn_bfv_level(ctx, l)->q_to_r);
    for (size_t j = 0; j < k; j++)
        cn_ntt_forward(ext + j * n, ext_ntt(ctx, l, j));
}

static cn_status tensor(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a,
                        const cn_bfv_ciphertext_t *b, const cn_bfv_context_t *ctx)
{
    cn_status st;
    if ((st = cn_bfv_check_ct(a, ctx)) != CN_OK || (st = cn_bfv_check_ct(b, ctx)) != CN_OK)
        return st;
    if (a->level != b->level)
        return CN_ERR_LEVEL_MISMATCH;
    if (a->t_index != b->t_index)
        return CN_ERR_PLAIN_MODULUS;
    if (a->size != 2 || b->size != 2)
        return CN_ERR_UNSUPPORTED;
    const size_t l = a->level, n = ctx->n, kr = ctx->kr, k = l + kr, t_index = a->t_index;
    const int sq = a == b, tr = a->transparent || b->transparent;
    const cn_bfv_level_t *lv = cn_bfv_level(ctx, l);
    /* a0, a1, (b0, b1), d0, d1, d2: each k rows of n */
    size_t nbuf = sq ? 5 : 7;
    uint64_t *buf = cn_alloc(nbuf * k * n, sizeof *buf);
    if (!buf)
        return CN_ERR_NO_MEMORY;
    uint64_t *a0 = buf, *a1 = a0 + k * n, *b0 = sq ? a0 : a1 + k * n, *b1 = sq ? a1 : b0 + k * n;
    uint64_t *d0 = (sq ? a1 : b1) + k * n, *d1 = d0 + k * n, *d2 = d1 + k * n;
    lift_ntt(a0, &a->c[0], ctx);
    lift_ntt(a1, &a->c[1], ctx);
    if (!sq) {
        lift_ntt(b0, &b->c[0], ctx);
        lift_ntt(b1, &b->c[1], ctx);
    }
#ifndef CN_NO_AVX512
    const int ifma = cn_bfv_ifma_available() && n % 8 == 0;
#endif
    for (size_t j = 0; j < k; j++) {
        const cn_mod_t m = ext_ntt(ctx, l, j)->mod;
        const size_t o = j * n;
#ifndef CN_NO_AVX512
        if (ifma && m.p < ((uint64_t)1 << 50)) {
            cn_tensor_row_ifma(d0 + o, d1 + o, d2 + o, a0 + o, a1 + o, b0 + o, b1 + o, n, m.p, sq);
            continue;
        }
#endif
        for (size_t i = 0; i < n; i++) {
            uint64_t x0 = a0[o + i], x1 = a1[o + i], y0 = b0[o + i], y1 = b1[o + i];
            d0[o + i] = cn_mod_mul(x0, y0, m);
            d2[o + i] = cn_mod_mul(x1, y1, m);
            if (sq) {
                uint64_t c = cn_mod_mul(x0, x1, m);
                d1[o + i] = cn_mod_add(c, c, m);
            } else {
                d1[o + i] = cn_mod_reduce_any_u128((cn_u128)x0 * y1 + (cn_u128)x1 * y0, m);
            }
        }
    }
    if ((st = cn_bfv_ct_reshape(out, 3, l, ctx)) != CN_OK)
        goto done;
    uint64_t *scaled = a0; /* kr rows, reusing the first buffer */
    uint64_t *d[3] = {d0, d1, d2};
    for (int c = 0; c < 3; c++) {
        for (size_t j = 0; j < k; j++)
            cn_ntt_inverse(d[c] + j * n, ext_ntt(ctx, l, j));
        cn_scale_round(scaled, d[c], d[c] + l * n, n, &lv->mul_scale[t_index]);
        cn_exact_conv(out->c[c].data, scaled, n, &lv->r_to_q);
        out->c[c].form = CN_FORM_COEFF;
    }
    out->t_index = t_index;
    out->transparent = tr;
    out->has_seed = 0;
done:
    free(buf);
    return st;
}

cn_status cn_bfv_mul(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a,
                     const cn_bfv_ciphertext_t *b, const cn_bfv_context_t *ctx)
{
    return tensor(out, a, b, ctx);
}

cn_status cn_bfv_square(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a,
                        const cn_bfv_context_t *ctx)
{
    return tensor(out, a, a, ctx);
}

cn_status cn_bfv_relinearize(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a,
                             const cn_bfv_relin_key_t *rk, const cn_bfv_context_t *ctx)
{
    cn_status st;
    if ((st = cn_bfv_check_ct(a, ctx)) != CN_OK)
        return st;
    if (rk->fingerprint != ctx->fingerprint || rk->ndigits != ctx->L)
        return CN_ERR_CONTEXT_MISMATCH;
    if (a->size == 2)
        return cn_bfv_ciphertext_copy(out, a, ctx);
    const size_t l = a->level, n = ctx->n, L = ctx->L;
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
    const uint64_t *c2 = a->c[2].data;
#ifndef CN_NO_AVX512
    const int ifma = cn_bfv_ifma_available() && n % 8 == 0;
#endif
    /* Row by row of the output: every digit [c2]_{q_i} is brought to the row's prime,
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
            const uint64_t *d = c2 + i * n; /* values in [0, q_i) */
            if (ctx->ring.base.q[i] <= 4 * m.p)
                memcpy(dx, d, n * sizeof *dx); /* already in the NTT's input range */
            else
                for (size_t c = 0; c < n; c++)
                    dx[c] = cn_mod_reduce_u64(d[c], m);
            cn_ntt_forward_lazy(dx, tab);
            const uint64_t *k0 = rk->k0[i].data + rj * n, *k1 = rk->k1[i].data + rj * n;
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
    const size_t t_index = a->t_index;
    const int tr = a->transparent;
    if (out != a && (st = cn_bfv_ct_reshape(out, 2, l, ctx)) != CN_OK)
        goto done;
    for (int h = 0; h < 2; h++) {
        const uint64_t *src = h == 0 ? a->c[0].data : a->c[1].data;
        for (size_t j = 0; j < l; j++) {
            const cn_mod_t m = ctx->ring.base.mod[j];
            uint64_t *o = out->c[h].data + j * n;
            const uint64_t *s = src + j * n, *x = acc[h] + j * n;
            for (size_t c = 0; c < n; c++)
                o[c] = cn_mod_add(s[c], x[c], m);
        }
    }
    if (out == a)
        st = cn_bfv_ct_reshape(out, 2, l, ctx);
    out->t_index = t_index;
    out->transparent = tr;
    out->has_seed = 0;
done:
    free(buf);
    return st;
}
