/* The validity of BFV objects for a context, in one place (check.h gives the reasons). */
#include "bfv_internal.h"

/* a polynomial of ctx's ring with k rows in the given form */
static cn_status poly_valid(const cn_poly_t *p, size_t k, cn_form form,
                            const cn_bfv_context_t *ctx)
{
    if (!p->data || p->n != ctx->n || p->k != k)
        return CN_ERR_SHAPE_MISMATCH;
    return p->form == form ? CN_OK : CN_ERR_FORM_MISMATCH;
}

static cn_status fingerprint_valid(uint64_t fingerprint, const cn_bfv_context_t *ctx)
{
    return fingerprint == ctx->fingerprint ? CN_OK : CN_ERR_CONTEXT_MISMATCH;
}

cn_status cn_bfv_check_ct(const cn_bfv_ciphertext_t *ct, const cn_bfv_context_t *ctx)
{
    cn_status st;
    if ((st = fingerprint_valid(ct->fingerprint, ctx)) != CN_OK)
        return st;
    if (ct->size < 2 || ct->size > 3 || ct->level < 1 || ct->level > ctx->L)
        return CN_ERR_INVALID_ARG;
    if (ct->t_index >= ctx->nt)
        return CN_ERR_PLAIN_MODULUS;
    for (size_t i = 0; i < ct->size; i++)
        if ((st = poly_valid(&ct->c[i], ct->level, CN_FORM_COEFF, ctx)) != CN_OK)
            return st;
    return CN_OK;
}

cn_status cn_bfv_check_pt(const cn_bfv_plaintext_t *pt, const cn_bfv_context_t *ctx)
{
    cn_status st;
    if ((st = fingerprint_valid(pt->fingerprint, ctx)) != CN_OK)
        return st;
    if (pt->t_index >= ctx->nt)
        return CN_ERR_PLAIN_MODULUS;
    if (!pt->coeffs)
        return CN_ERR_INVALID_ARG;
    return pt->n == ctx->n ? CN_OK : CN_ERR_SHAPE_MISMATCH;
}

/* every coefficient of a valid plaintext below its t */
static cn_status message_range(const cn_bfv_plaintext_t *pt, const cn_bfv_context_t *ctx)
{
    const uint64_t t = ctx->prm.t[pt->t_index];
    for (size_t i = 0; i < ctx->n; i++)
        if (pt->coeffs[i] >= t)
            return CN_ERR_OUT_OF_RANGE;
    return CN_OK;
}

cn_status cn_bfv_check_message(const cn_bfv_plaintext_t *pt, const cn_bfv_context_t *ctx)
{
    cn_status st = cn_bfv_check_pt(pt, ctx);
    return st != CN_OK ? st : message_range(pt, ctx);
}

cn_status cn_bfv_check_pair(const cn_bfv_ciphertext_t *a, const cn_bfv_ciphertext_t *b,
                            const cn_bfv_context_t *ctx)
{
    cn_status st;
    if ((st = cn_bfv_check_ct(a, ctx)) != CN_OK || (st = cn_bfv_check_ct(b, ctx)) != CN_OK)
        return st;
    if (a->level != b->level)
        return CN_ERR_LEVEL_MISMATCH;
    return a->t_index == b->t_index ? CN_OK : CN_ERR_PLAIN_MODULUS;
}

cn_status cn_bfv_check_ct_pt(const cn_bfv_ciphertext_t *a, const cn_bfv_plaintext_t *pt,
                             const cn_bfv_context_t *ctx)
{
    cn_status st;
    if ((st = cn_bfv_check_ct(a, ctx)) != CN_OK || (st = cn_bfv_check_pt(pt, ctx)) != CN_OK)
        return st;
    if (a->t_index != pt->t_index)
        return CN_ERR_PLAIN_MODULUS;
    return message_range(pt, ctx);
}

cn_status cn_bfv_check_sk(const cn_bfv_secret_key_t *sk, const cn_bfv_context_t *ctx)
{
    cn_status st = fingerprint_valid(sk->fingerprint, ctx);
    return st != CN_OK ? st : poly_valid(&sk->s, ctx->ring.base.k, CN_FORM_NTT, ctx);
}

cn_status cn_bfv_check_pk(const cn_bfv_public_key_t *pk, const cn_bfv_context_t *ctx)
{
    cn_status st;
    if ((st = fingerprint_valid(pk->fingerprint, ctx)) != CN_OK ||
        (st = poly_valid(&pk->p0, ctx->L, CN_FORM_NTT, ctx)) != CN_OK)
        return st;
    return poly_valid(&pk->p1, ctx->L, CN_FORM_NTT, ctx);
}

cn_status cn_bfv_check_ksk(const cn_bfv_relin_key_t *k, const cn_bfv_context_t *ctx)
{
    cn_status st;
    if ((st = fingerprint_valid(k->fingerprint, ctx)) != CN_OK)
        return st;
    if (k->ndigits == 0 || k->ndigits > ctx->L) /* the key's level */
        return CN_ERR_CONTEXT_MISMATCH;
    if (!k->k0 || !k->k1 || k->digit_primes > ctx->L)
        return CN_ERR_SHAPE_MISMATCH;
    for (size_t i = 0; i < cn_bfv_ksk_count(k); i++)
        if ((st = poly_valid(&k->k0[i], ctx->ring.base.k, CN_FORM_NTT, ctx)) != CN_OK ||
            (st = poly_valid(&k->k1[i], ctx->ring.base.k, CN_FORM_NTT, ctx)) != CN_OK)
            return st;
    return CN_OK;
}

cn_status cn_bfv_check_galois(const cn_bfv_galois_keys_t *gk, const cn_bfv_context_t *ctx)
{
    cn_status st;
    if ((st = fingerprint_valid(gk->fingerprint, ctx)) != CN_OK)
        return st;
    if (gk->count > ctx->n || (gk->count && (!gk->elt || !gk->key)))
        return CN_ERR_SHAPE_MISMATCH;
    for (size_t i = 0; i < gk->count; i++)
        if ((st = cn_bfv_check_ksk(&gk->key[i], ctx)) != CN_OK)
            return st;
    return CN_OK;
}
