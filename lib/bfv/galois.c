/* Galois automorphisms X -> X^g and slot rotations. With the slot layout of
 * lib/encode/batch.c (slot (r, c) is the evaluation at zeta^(3^c (-1)^r), zeta a
 * primitive 2n-th root of unity mod t), X -> X^(3^k) rotates both rows left by k and
 * X -> X^(2n-1) swaps them (as in Gentry, Halevi, Smart, "Fully homomorphic encryption
 * with polylog overhead", EUROCRYPT 2012, and Smart, Vercauteren, "Fully homomorphic
 * SIMD operations", DCC 2014). A ciphertext under s(X^g) is switched back to s with the
 * key switching of keyswitch.c. */
#include <stdlib.h>
#include <string.h>

#include "../internal/mem.h"
#include "bfv_internal.h"

uint64_t cn_bfv_galois_elt_rows(int64_t steps, const cn_bfv_context_t *ctx)
{
    const uint64_t half = ctx->n / 2, m = 2 * (uint64_t)ctx->n;
    uint64_t k = (uint64_t)(((steps % (int64_t)half) + (int64_t)half) % (int64_t)half);
    uint64_t g = 1, b = 3;
    for (; k; k >>= 1, b = b * b % m)
        if (k & 1)
            g = g * b % m;
    return g;
}

uint64_t cn_bfv_galois_elt_columns(const cn_bfv_context_t *ctx)
{
    return 2 * (uint64_t)ctx->n - 1;
}

void cn_bfv_automorphism_coeff(uint64_t *out, const uint64_t *in, size_t k, uint64_t g,
                               const cn_bfv_context_t *ctx)
{
    const size_t n = ctx->n;
    const uint64_t mask = 2 * (uint64_t)n - 1;
    for (size_t j = 0; j < k; j++) {
        const uint64_t q = ctx->ring.base.q[j];
        const uint64_t *x = in + j * n;
        uint64_t *y = out + j * n;
        uint64_t e = 0; /* i g mod 2n */
        /* X^e = -X^(e - n) for e >= n; branch-free (the sign is as good as random, and a
         * branch on it mispredicted half the time) */
        for (size_t i = 0; i < n; i++, e = (e + g) & mask) {
            const uint64_t v = x[i], neg = (uint64_t)0 - (uint64_t)(e >= n);
            const uint64_t nv = (q - v) & ((uint64_t)0 - (uint64_t)(v != 0));
            y[e & (n - 1)] = (v & ~neg) | (nv & neg);
        }
    }
}

void cn_bfv_galois_keys_clear(cn_bfv_galois_keys_t *gk)
{
    if (!gk)
        return;
    if (gk->key)
        for (size_t i = 0; i < gk->count; i++)
            cn_bfv_relin_key_clear(&gk->key[i]);
    free(gk->key);
    free(gk->elt);
    memset(gk, 0, sizeof *gk);
}

/* The key for s(X^g): s is turned to coefficient form, permuted, transformed back. */
static cn_status key_for(cn_bfv_relin_key_t *key, uint64_t g, size_t level, size_t dp,
                         const cn_bfv_secret_key_t *sk, const cn_bfv_context_t *ctx,
                         cn_rng_t *rng)
{
    const cn_ring_t *ring = &ctx->ring;
    const size_t K = ring->base.k;
    cn_poly_t s = {0}, sg = {0};
    cn_status st;
    if ((st = cn_poly_init(&s, ring, K)) != CN_OK ||
        (st = cn_poly_init(&sg, ring, K)) != CN_OK ||
        (st = cn_poly_copy(&s, &sk->s)) != CN_OK || (st = cn_poly_from_ntt(&s, ring)) != CN_OK)
        goto out;
    cn_bfv_automorphism_coeff(sg.data, s.data, K, g, ctx);
    sg.form = CN_FORM_COEFF;
    if ((st = cn_poly_to_ntt(&sg, ring)) == CN_OK)
        st = cn_bfv_keygen_switch_level(key, &sg, sk, level, dp, ctx, rng);
out:
    cn_poly_clear(&s); /* both wiped */
    cn_poly_clear(&sg);
    return st;
}

/* Keys for the elements g of elts[0..count) in order, skipping 1 and repeats, each at
 * the highest of its levels (levels NULL, or 0: L) with the fewest of its primes per
 * digit (dps NULL: 1); the caller has checked that each element is odd and below 2n,
 * each level at most L and each dps[i] in [1, L]. */
static cn_status keygen_elts(cn_bfv_galois_keys_t *gk, const cn_bfv_secret_key_t *sk,
                             const uint64_t *elts, const size_t *levels, size_t count,
                             const size_t *dps, const cn_bfv_context_t *ctx, cn_rng_t *rng)
{
    cn_status st = CN_OK;
    gk->elt = calloc(count ? count : 1, sizeof *gk->elt);
    gk->key = calloc(count ? count : 1, sizeof *gk->key);
    if (!gk->elt || !gk->key) {
        cn_bfv_galois_keys_clear(gk);
        return CN_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < count && st == CN_OK; i++) {
        const uint64_t g = elts[i];
        int dup = g == 1;
        for (size_t j = 0; j < gk->count && !dup; j++)
            dup = gk->elt[j] == g;
        if (dup)
            continue;
        size_t level = 0, dp = ctx->L;
        for (size_t j = i; j < count; j++)
            if (elts[j] == g) {
                const size_t lj = levels && levels[j] ? levels[j] : ctx->L;
                const size_t kj = dps ? dps[j] : 1;
                level = lj > level ? lj : level;
                dp = kj < dp ? kj : dp;
            }
        if ((st = key_for(&gk->key[gk->count], g, level, dp, sk, ctx, rng)) == CN_OK)
            gk->elt[gk->count++] = g;
    }
    if (st != CN_OK) {
        cn_bfv_galois_keys_clear(gk);
        return st;
    }
    gk->fingerprint = ctx->fingerprint;
    return CN_OK;
}

cn_status cn_bfv_keygen_galois(cn_bfv_galois_keys_t *gk, const cn_bfv_secret_key_t *sk,
                               const int64_t *steps, size_t nsteps, const cn_bfv_context_t *ctx,
                               cn_rng_t *rng)
{
    memset(gk, 0, sizeof *gk);
    cn_status st = cn_bfv_check_sk(sk, ctx);
    if (st != CN_OK)
        return st;
    if (!ctx->has_p)
        return CN_ERR_UNSUPPORTED;
    const size_t half = ctx->n / 2;
    size_t logh = 0;
    while (((size_t)1 << logh) < half)
        logh++;
    if (!steps)
        nsteps = logh; /* 1, 2, ..., n/4 */
    if (nsteps > ctx->n)
        return CN_ERR_INVALID_ARG;
    uint64_t *elts = calloc(nsteps + 1, sizeof *elts);
    if (!elts)
        return CN_ERR_NO_MEMORY;
    for (size_t i = 0; i < nsteps; i++)
        elts[i] = cn_bfv_galois_elt_rows(steps ? steps[i] : (int64_t)1 << i, ctx);
    elts[nsteps] = cn_bfv_galois_elt_columns(ctx);
    st = keygen_elts(gk, sk, elts, NULL, nsteps + 1, NULL, ctx, rng);
    free(elts);
    return st;
}

cn_status cn_bfv_keygen_galois_elts(cn_bfv_galois_keys_t *gk, const cn_bfv_secret_key_t *sk,
                                    const uint64_t *elts, size_t count,
                                    const cn_bfv_context_t *ctx, cn_rng_t *rng)
{
    return cn_bfv_keygen_galois_levels(gk, sk, elts, NULL, count, ctx, rng);
}

cn_status cn_bfv_keygen_galois_levels(cn_bfv_galois_keys_t *gk, const cn_bfv_secret_key_t *sk,
                                      const uint64_t *elts, const size_t *levels, size_t count,
                                      const cn_bfv_context_t *ctx, cn_rng_t *rng)
{
    return cn_bfv_keygen_galois_digits(gk, sk, elts, levels, count, NULL, ctx, rng);
}

cn_status cn_bfv_keygen_galois_digits(cn_bfv_galois_keys_t *gk, const cn_bfv_secret_key_t *sk,
                                      const uint64_t *elts, const size_t *levels, size_t count,
                                      const size_t *digit_primes, const cn_bfv_context_t *ctx,
                                      cn_rng_t *rng)
{
    memset(gk, 0, sizeof *gk);
    cn_status st = cn_bfv_check_sk(sk, ctx);
    if (st != CN_OK)
        return st;
    if (!ctx->has_p)
        return CN_ERR_UNSUPPORTED;
    if (count > ctx->n || (count && !elts))
        return CN_ERR_INVALID_ARG;
    for (size_t i = 0; i < count; i++)
        if (elts[i] % 2 == 0 || elts[i] >= 2 * (uint64_t)ctx->n ||
            (levels && levels[i] > ctx->L) ||
            (digit_primes && (digit_primes[i] == 0 || digit_primes[i] > ctx->L)))
            return CN_ERR_INVALID_ARG;
    return keygen_elts(gk, sk, elts, levels, count, digit_primes, ctx, rng);
}

const cn_bfv_relin_key_t *cn_bfv_galois_find_key(const cn_bfv_galois_keys_t *gk, uint64_t g)
{
    for (size_t i = 0; i < gk->count; i++)
        if (gk->elt[i] == g)
            return &gk->key[i];
    return NULL;
}

cn_status cn_bfv_apply_galois(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a,
                              uint64_t g, const cn_bfv_galois_keys_t *gk,
                              const cn_bfv_context_t *ctx)
{
    cn_status st;
    if ((st = cn_bfv_check_ct(a, ctx)) != CN_OK || (st = cn_bfv_check_galois(gk, ctx)) != CN_OK)
        return st;
    if (a->size != 2)
        return CN_ERR_UNSUPPORTED;
    if (g % 2 == 0 || g >= 2 * (uint64_t)ctx->n)
        return CN_ERR_INVALID_ARG;
    if (g == 1)
        return cn_bfv_ciphertext_copy(out, a, ctx);
    const cn_bfv_relin_key_t *key = cn_bfv_galois_find_key(gk, g);
    if (!key)
        return CN_ERR_NO_KEY;
    const size_t l = a->level, n = ctx->n;
    /* c0(X^g), c1(X^g), then delta = KeySwitch(c1(X^g) from s(X^g) to s) */
    uint64_t *buf = cn_alloc(4 * l * n, sizeof *buf);
    if (!buf)
        return CN_ERR_NO_MEMORY;
    uint64_t *c0 = buf, *c1 = c0 + l * n, *d0 = c1 + l * n, *d1 = d0 + l * n;
    cn_bfv_automorphism_coeff(c0, a->c[0].data, l, g, ctx);
    cn_bfv_automorphism_coeff(c1, a->c[1].data, l, g, ctx);
    const size_t t_index = a->t_index;
    const int tr = a->transparent;
    if ((st = cn_bfv_keyswitch(d0, d1, c1, l, key, ctx)) != CN_OK ||
        (st = cn_bfv_ct_reshape(out, 2, l, ctx)) != CN_OK)
        goto done;
    cn_bfv_add_rows(out->c[0].data, c0, d0, l, ctx);
    memcpy(out->c[1].data, d1, l * n * sizeof *d1);
    out->c[0].form = out->c[1].form = CN_FORM_COEFF;
    out->t_index = t_index;
    out->transparent = tr;
    out->has_seed = 0;
done:
    free(buf);
    return st;
}

cn_status cn_bfv_rotate_rows(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a,
                             int64_t steps, const cn_bfv_galois_keys_t *gk,
                             const cn_bfv_context_t *ctx)
{
    cn_status st;
    if ((st = cn_bfv_check_ct(a, ctx)) != CN_OK)
        return st;
    const int64_t half = (int64_t)(ctx->n / 2);
    const uint64_t k = (uint64_t)(((steps % half) + half) % half);
    const uint64_t g = cn_bfv_galois_elt_rows((int64_t)k, ctx);
    if (k == 0 || cn_bfv_galois_find_key(gk, g))
        return cn_bfv_apply_galois(out, a, g, gk, ctx);
    /* composed from the power-of-two rotations: every key must be there first */
    for (uint64_t b = 1; b <= k; b <<= 1)
        if ((k & b) && !cn_bfv_galois_find_key(gk, cn_bfv_galois_elt_rows((int64_t)b, ctx)))
            return CN_ERR_NO_KEY;
    const cn_bfv_ciphertext_t *src = a;
    for (uint64_t b = 1; b <= k; b <<= 1) {
        if (!(k & b))
            continue;
        if ((st = cn_bfv_apply_galois(out, src, cn_bfv_galois_elt_rows((int64_t)b, ctx), gk,
                                      ctx)) != CN_OK)
            return st;
        src = out;
    }
    return CN_OK;
}

cn_status cn_bfv_rotate_columns(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a,
                                const cn_bfv_galois_keys_t *gk, const cn_bfv_context_t *ctx)
{
    return cn_bfv_apply_galois(out, a, cn_bfv_galois_elt_columns(ctx), gk, ctx);
}
