/* BFV object life cycle (the checks are in check.c). */
#include <stdlib.h>
#include <string.h>

#include "../internal/mem.h"
#include "bfv_internal.h"
#include "../internal/poly_alloc.h"

cn_status cn_bfv_plaintext_init(cn_bfv_plaintext_t *pt, const cn_bfv_context_t *ctx,
                                size_t t_index)
{
    memset(pt, 0, sizeof *pt);
    if (t_index >= ctx->nt)
        return CN_ERR_PLAIN_MODULUS;
    pt->coeffs = cn_calloc(ctx->n, sizeof(uint64_t));
    if (!pt->coeffs)
        return CN_ERR_NO_MEMORY;
    pt->fingerprint = ctx->fingerprint;
    pt->t_index = t_index;
    pt->n = ctx->n;
    return CN_OK;
}

void cn_bfv_plaintext_clear(cn_bfv_plaintext_t *pt)
{
    if (pt->coeffs) {
        cn_wipe(pt->coeffs, pt->n * sizeof(uint64_t));
        free(pt->coeffs);
    }
    memset(pt, 0, sizeof *pt);
}

/* Shapes out; uninit = 1 leaves new polynomials unfilled (the caller writes them all). */
static cn_status reshape(cn_bfv_ciphertext_t *out, size_t size, size_t level,
                         const cn_bfv_context_t *ctx, int uninit)
{
    cn_status st;
    for (size_t i = 0; i < 3; i++) {
        cn_poly_t *p = &out->c[i];
        if (i < size) {
            if (p->data && p->k == level && p->n == ctx->n)
                continue;
            cn_poly_clear_public(p);
            st = uninit ? cn_poly_init_uninit(p, &ctx->ring, level)
                        : cn_poly_init(p, &ctx->ring, level);
            if (st != CN_OK)
                return st;
        } else {
            cn_poly_clear_public(p);
        }
    }
    out->size = size;
    out->level = level;
    out->fingerprint = ctx->fingerprint;
    return CN_OK;
}

cn_status cn_bfv_ct_reshape(cn_bfv_ciphertext_t *out, size_t size, size_t level,
                            const cn_bfv_context_t *ctx)
{
    return reshape(out, size, level, ctx, 0);
}

cn_status cn_bfv_ct_reshape_uninit(cn_bfv_ciphertext_t *out, size_t size, size_t level,
                                   const cn_bfv_context_t *ctx)
{
    return reshape(out, size, level, ctx, 1);
}

cn_status cn_bfv_ciphertext_reshape(cn_bfv_ciphertext_t *ct, size_t size, size_t level,
                                    unsigned flags, const cn_bfv_context_t *ctx)
{
    if (size < 2 || size > 3 || level < 1 || level > ctx->L || (flags & ~CN_BFV_NO_ZERO_FILL))
        return CN_ERR_INVALID_ARG;
    const int fill = !(flags & CN_BFV_NO_ZERO_FILL);
    cn_status st = reshape(ct, size, level, ctx, 1);
    if (st != CN_OK)
        return st;
    for (size_t i = 0; i < size; i++) {
        if (fill)
            cn_poly_zero(&ct->c[i]);
        ct->c[i].form = CN_FORM_COEFF;
    }
    ct->transparent = fill;
    ct->has_seed = 0;
    return CN_OK;
}

cn_status cn_bfv_ciphertext_init(cn_bfv_ciphertext_t *ct, const cn_bfv_context_t *ctx)
{
    memset(ct, 0, sizeof *ct);
    cn_status st = cn_bfv_ct_reshape(ct, 2, ctx->L, ctx);
    if (st != CN_OK)
        cn_bfv_ciphertext_clear(ct);
    return st;
}

/* ciphertexts are public: released without wiping */
void cn_bfv_ciphertext_clear(cn_bfv_ciphertext_t *ct)
{
    for (size_t i = 0; i < 3; i++)
        cn_poly_clear_public(&ct->c[i]);
    memset(ct, 0, sizeof *ct);
}

cn_status cn_bfv_ciphertext_copy(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *in,
                                 const cn_bfv_context_t *ctx)
{
    cn_status st;
    if (out == in)
        return cn_bfv_check_ct(in, ctx);
    if ((st = cn_bfv_check_ct(in, ctx)) != CN_OK ||
        (st = cn_bfv_ct_reshape(out, in->size, in->level, ctx)) != CN_OK)
        return st;
    for (size_t i = 0; i < in->size; i++)
        if ((st = cn_poly_copy(&out->c[i], &in->c[i])) != CN_OK)
            return st;
    out->t_index = in->t_index;
    out->transparent = in->transparent;
    out->has_seed = in->has_seed;
    memcpy(out->seed, in->seed, sizeof out->seed);
    return CN_OK;
}

void cn_bfv_secret_key_clear(cn_bfv_secret_key_t *sk)
{
    cn_poly_clear(&sk->s); /* wipes */
    cn_wipe(sk, sizeof *sk);
}

void cn_bfv_public_key_clear(cn_bfv_public_key_t *pk)
{
    cn_poly_clear(&pk->p0);
    cn_poly_clear(&pk->p1);
    memset(pk, 0, sizeof *pk);
}

void cn_bfv_relin_key_clear(cn_bfv_relin_key_t *rk)
{
    for (size_t i = 0; i < cn_bfv_ksk_count(rk); i++) {
        if (rk->k0)
            cn_poly_clear(&rk->k0[i]);
        if (rk->k1)
            cn_poly_clear(&rk->k1[i]);
    }
    free(rk->k0);
    free(rk->k1);
    memset(rk, 0, sizeof *rk);
}
