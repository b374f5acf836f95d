/* Evaluation without ciphertext multiplication: add, sub, neg, plaintext operations,
 * scalar multiplication, modulus switching and re-randomization. */
#include <stdlib.h>
#include <string.h>

#include "../internal/mem.h"
#include "bfv_internal.h"
#include "kernels.h"

/* flags of a result computed from a (and b): no seed; transparency as given */
static void finish(cn_bfv_ciphertext_t *out, size_t t_index, int transparent)
{
    out->t_index = t_index;
    out->transparent = transparent;
    out->has_seed = 0;
}

static cn_status add_sub(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a,
                         const cn_bfv_ciphertext_t *b, int sub, const cn_bfv_context_t *ctx)
{
    cn_status st;
    if ((st = cn_bfv_check_pair(a, b, ctx)) != CN_OK)
        return st;
    const size_t size = a->size > b->size ? a->size : b->size, sa = a->size, sb = b->size;
    const size_t t_index = a->t_index;
    const int tr = a->transparent && b->transparent;
    if ((st = cn_bfv_ct_reshape(out, size, a->level, ctx)) != CN_OK)
        return st;
    for (size_t i = 0; i < size; i++) {
        if (i < sa && i < sb)
            st = sub ? cn_poly_sub(&out->c[i], &a->c[i], &b->c[i], &ctx->ring)
                     : cn_poly_add(&out->c[i], &a->c[i], &b->c[i], &ctx->ring);
        else if (i < sa)
            st = cn_poly_copy(&out->c[i], &a->c[i]);
        else
            st = sub ? cn_poly_neg(&out->c[i], &b->c[i], &ctx->ring)
                     : cn_poly_copy(&out->c[i], &b->c[i]);
        if (st != CN_OK)
            return st;
    }
    finish(out, t_index, tr);
    return CN_OK;
}

cn_status cn_bfv_add(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a,
                     const cn_bfv_ciphertext_t *b, const cn_bfv_context_t *ctx)
{
    return add_sub(out, a, b, 0, ctx);
}

cn_status cn_bfv_sub(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a,
                     const cn_bfv_ciphertext_t *b, const cn_bfv_context_t *ctx)
{
    return add_sub(out, a, b, 1, ctx);
}

cn_status cn_bfv_neg(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a,
                     const cn_bfv_context_t *ctx)
{
    cn_status st;
    if ((st = cn_bfv_check_ct(a, ctx)) != CN_OK)
        return st;
    const size_t t_index = a->t_index;
    const int tr = a->transparent;
    if ((st = cn_bfv_ct_reshape(out, a->size, a->level, ctx)) != CN_OK)
        return st;
    for (size_t i = 0; i < out->size; i++)
        if ((st = cn_poly_neg(&out->c[i], &a->c[i], &ctx->ring)) != CN_OK)
            return st;
    finish(out, t_index, tr);
    return CN_OK;
}

static cn_status add_sub_plain(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a,
                               const cn_bfv_plaintext_t *pt, int sub,
                               const cn_bfv_context_t *ctx)
{
    cn_status st;
    if ((st = cn_bfv_check_ct_pt(a, pt, ctx)) != CN_OK ||
        (st = cn_bfv_ciphertext_copy(out, a, ctx)) != CN_OK)
        return st;
    cn_bfv_add_delta_m(&out->c[0], pt, sub, ctx);
    out->has_seed = 0;
    return CN_OK;
}

cn_status cn_bfv_add_plain(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a,
                           const cn_bfv_plaintext_t *pt, const cn_bfv_context_t *ctx)
{
    return add_sub_plain(out, a, pt, 0, ctx);
}

cn_status cn_bfv_sub_plain(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a,
                           const cn_bfv_plaintext_t *pt, const cn_bfv_context_t *ctx)
{
    return add_sub_plain(out, a, pt, 1, ctx);
}

cn_status cn_bfv_mul_scalar(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a, int64_t c,
                            const cn_bfv_context_t *ctx)
{
    cn_status st;
    if ((st = cn_bfv_check_ct(a, ctx)) != CN_OK)
        return st;
    const size_t t_index = a->t_index;
    /* only c mod t matters to the plaintext; its centered value keeps the noise
     * growth at |c mod t| <= t/2 whatever c the caller gives */
    const int64_t cc =
        cn_mod_center(cn_mod_from_int64(c, ctx->tmod[t_index]), ctx->tmod[t_index]);
    const int tr = a->transparent || cc == 0;
    if ((st = cn_bfv_ct_reshape(out, a->size, a->level, ctx)) != CN_OK)
        return st;
    for (size_t i = 0; i < out->size; i++)
        if ((st = cn_poly_mul_scalar(&out->c[i], &a->c[i], cc, &ctx->ring)) != CN_OK)
            return st;
    finish(out, t_index, tr);
    return CN_OK;
}

cn_status cn_bfv_mul_plain(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a,
                           const cn_bfv_plaintext_t *pt, const cn_bfv_context_t *ctx)
{
    cn_status st;
    if ((st = cn_bfv_check_ct_pt(a, pt, ctx)) != CN_OK)
        return st;
    const cn_ring_t *ring = &ctx->ring;
    const size_t n = ctx->n, l = a->level;
    const cn_mod_t tm = ctx->tmod[pt->t_index];
    int zero = 1;
    int64_t *v = cn_alloc(n, sizeof *v);
    cn_poly_t m = {0};
    if (!v)
        return CN_ERR_NO_MEMORY;
    for (size_t i = 0; i < n; i++) {
        v[i] = cn_mod_center(pt->coeffs[i], tm);
        zero &= v[i] == 0;
    }
    if ((st = cn_poly_init(&m, ring, l)) != CN_OK ||
        (st = cn_poly_set_int64(&m, v, ring)) != CN_OK ||
        (st = cn_poly_to_ntt(&m, ring)) != CN_OK)
        goto out;
    const size_t t_index = a->t_index;
    const int tr = a->transparent || zero;
    if ((st = cn_bfv_ciphertext_copy(out, a, ctx)) != CN_OK)
        goto out;
    for (size_t i = 0; i < out->size; i++)
        if ((st = cn_poly_to_ntt(&out->c[i], ring)) != CN_OK ||
            (st = cn_poly_mul_ntt(&out->c[i], &out->c[i], &m, ring)) != CN_OK ||
            (st = cn_poly_from_ntt(&out->c[i], ring)) != CN_OK)
            goto out;
    finish(out, t_index, tr);
out:
    free(v);
    cn_poly_clear(&m);
    return st;
}

/* round(c / q_l) on every component: c'_j = (c_j - [c_{l}]) * q_l^-1 mod q_j, where
 * [c_l] is the centered residue modulo the dropped prime. */
cn_status cn_bfv_mod_switch(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a,
                            const cn_bfv_context_t *ctx)
{
    cn_status st;
    if ((st = cn_bfv_check_ct(a, ctx)) != CN_OK)
        return st;
    if (a->level < 2)
        return CN_ERR_LEVEL_MISMATCH;
    const size_t l = a->level, n = ctx->n;
    const cn_bfv_level_t *lv = cn_bfv_level(ctx, l);
    /* out distinct from a: written in place, in its own buffers when they already have the
     * result's shape (a caller's pool of buffers: nothing allocated); out == a: a new
     * ciphertext replaces it */
    cn_bfv_ciphertext_t r = {0}, *w = out == a ? &r : out;
    const size_t size = a->size, t_index = a->t_index;
    const int tr = a->transparent;
    if ((st = cn_bfv_ct_reshape_uninit(w, size, l - 1, ctx)) != CN_OK)
        goto out;
    /* the ModDown row kernels (lib/bfv/dispatch.c: AVX-512 IFMA for primes below 2^50),
     * one row of each polynomial at a time; out aliasing a is allowed row by row */
    const uint64_t ql = ctx->ring.base.q[l - 1];
    for (size_t c = 0; c < size; c++) {
        const uint64_t *last = a->c[c].data + (l - 1) * n;
        for (size_t j = 0; j + 1 < l; j++) {
            const uint64_t q = ctx->ring.base.q[j];
            cn_bfv_divround_row_kernel(q, ql, n)(w->c[c].data + j * n, a->c[c].data + j * n,
                                                 last, n, q, ql, lv->qlast_inv[j]);
        }
        w->c[c].form = CN_FORM_COEFF;
    }
    finish(w, t_index, tr);
    if (w == &r) {
        cn_bfv_ciphertext_clear(out);
        *out = r;
    }
    return CN_OK;
out:
    cn_bfv_ciphertext_clear(&r);
    return st;
}

cn_status cn_bfv_rerandomize(cn_bfv_ciphertext_t *ct, const cn_bfv_public_key_t *pk,
                             const cn_bfv_context_t *ctx, cn_rng_t *rng)
{
    cn_status st;
    if ((st = cn_bfv_check_ct(ct, ctx)) != CN_OK)
        return st;
    cn_bfv_plaintext_t zero = {0};
    cn_bfv_ciphertext_t z = {0};
    if ((st = cn_bfv_plaintext_init(&zero, ctx, ct->t_index)) != CN_OK ||
        (st = cn_bfv_encrypt(&z, &zero, pk, ctx, rng)) != CN_OK)
        goto out;
    while (z.level > ct->level)
        if ((st = cn_bfv_mod_switch(&z, &z, ctx)) != CN_OK)
            goto out;
    if ((st = cn_bfv_add(ct, ct, &z, ctx)) != CN_OK)
        goto out;
    ct->transparent = 0;
out:
    cn_bfv_plaintext_clear(&zero);
    cn_bfv_ciphertext_clear(&z);
    return st;
}
