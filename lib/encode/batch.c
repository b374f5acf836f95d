/* Batch and scalar encoding of BFV plaintexts. The slots are the values of the plaintext
 * polynomial at the primitive 2n-th roots of unity mod t, ordered as two rows of n/2 so
 * that Galois automorphisms rotate them (slot (r, c) at zeta^(3^c (-1)^r); the
 * permutation to the NTT's order is the context's slot_index). */
#include <stdlib.h>

#include "../bfv/bfv_internal.h"
#include "cryptonets/encode.h"

static cn_status batch_table(const cn_ntt_table_t **tab, const cn_bfv_plaintext_t *pt,
                             const cn_bfv_context_t *ctx)
{
    cn_status st = cn_bfv_check_pt(pt, ctx);
    if (st != CN_OK)
        return st;
    *tab = &ctx->t_ntt[pt->t_index];
    return (*tab)->n == ctx->n ? CN_OK : CN_ERR_PLAIN_MODULUS;
}

cn_status cn_bfv_encode_batch(cn_bfv_plaintext_t *pt, const int64_t *v, size_t count,
                              const cn_bfv_context_t *ctx)
{
    const cn_ntt_table_t *tab;
    cn_status st = batch_table(&tab, pt, ctx);
    if (st != CN_OK)
        return st;
    if (count > ctx->n)
        return CN_ERR_OUT_OF_RANGE;
    for (size_t i = 0; i < ctx->n; i++)
        pt->coeffs[i] = 0;
    const uint64_t t = tab->mod.p;
    for (size_t s = 0; s < count; s++) {
        /* |v| < t (inputs are usually small): v, or v + t when negative, without a
         * division; else the general reduction */
        const int64_t x = v[s];
        const uint64_t r = (uint64_t)x + (t & (uint64_t)(x >> 63));
        pt->coeffs[ctx->slot_index[s]] =
            (x < (int64_t)t && x > -(int64_t)t) ? r : cn_mod_from_int64(x, tab->mod);
    }
    cn_ntt_inverse(pt->coeffs, tab);
    return CN_OK;
}

cn_status cn_bfv_decode_batch_u64(uint64_t *v, const cn_bfv_plaintext_t *pt,
                                  const cn_bfv_context_t *ctx)
{
    const cn_ntt_table_t *tab;
    cn_status st = batch_table(&tab, pt, ctx);
    if (st != CN_OK)
        return st;
    uint64_t *u = malloc(ctx->n * sizeof *u);
    if (!u)
        return CN_ERR_NO_MEMORY;
    for (size_t i = 0; i < ctx->n; i++) {
        if (pt->coeffs[i] >= tab->mod.p) {
            free(u);
            return CN_ERR_OUT_OF_RANGE;
        }
        u[i] = pt->coeffs[i];
    }
    cn_ntt_forward(u, tab);
    for (size_t s = 0; s < ctx->n; s++)
        v[s] = u[ctx->slot_index[s]];
    free(u);
    return CN_OK;
}

cn_status cn_bfv_decode_batch(int64_t *v, const cn_bfv_plaintext_t *pt,
                              const cn_bfv_context_t *ctx)
{
    uint64_t *u = malloc(ctx->n * sizeof *u);
    if (!u)
        return CN_ERR_NO_MEMORY;
    cn_status st = cn_bfv_decode_batch_u64(u, pt, ctx);
    if (st == CN_OK) {
        const cn_mod_t m = ctx->tmod[pt->t_index];
        for (size_t i = 0; i < ctx->n; i++)
            v[i] = cn_mod_center(u[i], m);
    }
    free(u);
    return st;
}

cn_status cn_bfv_encode_scalar(cn_bfv_plaintext_t *pt, int64_t c, const cn_bfv_context_t *ctx)
{
    cn_status st = cn_bfv_check_pt(pt, ctx);
    if (st != CN_OK)
        return st;
    for (size_t i = 0; i < ctx->n; i++)
        pt->coeffs[i] = 0;
    pt->coeffs[0] = cn_mod_from_int64(c, ctx->tmod[pt->t_index]);
    return CN_OK;
}
