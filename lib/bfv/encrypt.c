/* Encryption (public key, or secret key with a seeded c1), decryption with exact
 * full-RNS rounding, and the invariant noise budget. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../internal/mem.h"
#include "bfv_internal.h"
#include "enc_kernels.h"
#include "cryptonets/mpz.h"

/* domain of the ChaCha20 stream that expands a ciphertext's seed into c1 */
#define SEED_DOMAIN_C1 0x6331ULL

static cn_poly_t rows(const cn_poly_t *p, size_t k)
{
    cn_poly_t v = *p;
    v.k = k;
    return v;
}

/* c0 += sign * Delta * m (rows of the ciphertext's level), m in [0, t). */
void cn_bfv_add_delta_m(cn_poly_t *c0, const cn_bfv_plaintext_t *pt, int negate,
                        const cn_bfv_context_t *ctx)
{
    const cn_bfv_level_t *lv = cn_bfv_level(ctx, c0->k);
    const size_t n = ctx->n, l = c0->k;
    for (size_t j = 0; j < l; j++) {
        const cn_mod_t m = ctx->ring.base.mod[j];
        const uint64_t d = lv->delta[pt->t_index * l + j], ds = cn_mod_shoup(d, m);
        uint64_t *row = c0->data + j * n;
        for (size_t i = 0; i < n; i++) {
            uint64_t v = cn_mod_mul_shoup(pt->coeffs[i], d, ds, m.p);
            row[i] = negate ? cn_mod_sub(row[i], v, m) : cn_mod_add(row[i], v, m);
        }
    }
}

/* After the key's check (key_status): the message's, then ct sized for level L. */
static cn_status encrypt_prologue(cn_bfv_ciphertext_t *ct, const cn_bfv_plaintext_t *pt,
                                  cn_status key_status, const cn_bfv_context_t *ctx)
{
    cn_status st;
    if (key_status != CN_OK)
        return key_status;
    if ((st = cn_bfv_check_message(pt, ctx)) != CN_OK)
        return st;
    return cn_bfv_ct_reshape(ct, 2, ctx->L, ctx);
}

cn_status cn_bfv_encrypt(cn_bfv_ciphertext_t *ct, const cn_bfv_plaintext_t *pt,
                         const cn_bfv_public_key_t *pk, const cn_bfv_context_t *ctx,
                         cn_rng_t *rng)
{
    cn_status st;
    const cn_ring_t *ring = &ctx->ring;
    if ((st = encrypt_prologue(ct, pt, cn_bfv_check_pk(pk, ctx), ctx)) != CN_OK)
        return st;
    cn_poly_t u = {0}, e = {0};
    if ((st = cn_bfv_small_ntt(&u, ring, ctx->L, cn_sample_ternary, rng)) != CN_OK)
        goto out;
    for (int i = 0; i < 2; i++) {
        cn_poly_t *c = &ct->c[i];
        c->form = CN_FORM_NTT;
        if ((st = cn_poly_mul_ntt(c, i == 0 ? &pk->p0 : &pk->p1, &u, ring)) != CN_OK ||
            (st = cn_poly_from_ntt(c, ring)) != CN_OK ||
            (st = cn_poly_init(&e, ring, ctx->L)) != CN_OK)
            goto out;
        int64_t *v = cn_alloc(ctx->n, sizeof *v);
        if (!v) {
            st = CN_ERR_NO_MEMORY;
            goto out;
        }
        cn_sample_cbd(v, ctx->n, rng);
        st = cn_poly_set_int64(&e, v, ring);
        cn_wipe(v, ctx->n * sizeof *v);
        free(v);
        if (st != CN_OK || (st = cn_poly_add(c, c, &e, ring)) != CN_OK)
            goto out;
        cn_poly_clear(&e);
    }
    cn_bfv_add_delta_m(&ct->c[0], pt, 0, ctx);
    ct->t_index = pt->t_index;
    ct->transparent = 0;
    ct->has_seed = 0;
out:
    cn_poly_clear(&u);
    cn_poly_clear(&e);
    return st;
}

static void expand_c1(cn_poly_t *c1, const uint8_t seed[CN_SEED_BYTES], const cn_ring_t *ring)
{
    cn_rng_t r;
    cn_rng_init_public_seed(&r, seed, SEED_DOMAIN_C1);
    cn_bfv_uniform_rows(c1, ring, &r);
    c1->form = CN_FORM_COEFF;
    cn_rng_clear(&r);
}

cn_status cn_bfv_expand_seed(cn_bfv_ciphertext_t *ct, const cn_bfv_context_t *ctx)
{
    cn_status st;
    if (!ct->has_seed)
        return CN_ERR_INVALID_ARG;
    if ((st = cn_bfv_check_ct(ct, ctx)) != CN_OK)
        return st;
    if (ct->size != 2 || ct->level != ctx->L)
        return CN_ERR_LEVEL_MISMATCH;
    expand_c1(&ct->c[1], ct->seed, &ctx->ring);
    return CN_OK;
}

/* c0 = e + Delta m - a s, c1 = a (the seed's expansion), fused row by row: per prime one
 * forward and one inverse NTT, the product by s and the sum in one pass each
 * (enc_kernels.h). The bytes equal those of the unfused sequence (a's NTT, times s, INTT,
 * e - that, + Delta m): the same randomness in the same order, every residue in [0, q_j). */
cn_status cn_bfv_encrypt_symmetric(cn_bfv_ciphertext_t *ct, const cn_bfv_plaintext_t *pt,
                                   const cn_bfv_secret_key_t *sk, const cn_bfv_context_t *ctx,
                                   cn_rng_t *rng)
{
    cn_status st;
    const cn_ring_t *ring = &ctx->ring;
    if ((st = encrypt_prologue(ct, pt, cn_bfv_check_sk(sk, ctx), ctx)) != CN_OK)
        return st;
    const size_t n = ctx->n, L = ctx->L;
    int64_t *e = cn_alloc(n, sizeof *e);
    if (!e)
        return CN_ERR_NO_MEMORY;
    cn_rng_bytes(rng, ct->seed, CN_SEED_BYTES);
    cn_sample_cbd(e, n, rng);
    cn_rng_t r;
    cn_rng_init_public_seed(&r, ct->seed, SEED_DOMAIN_C1);
    const cn_bfv_level_t *lv = cn_bfv_level(ctx, L);
    const uint64_t t = ctx->prm.t[pt->t_index];
    for (size_t j = 0; j < L; j++) {
        const uint64_t p = ring->base.q[j];
        uint64_t *a = ct->c[1].data + j * n, *y = ct->c[0].data + j * n;
        cn_sample_uniform(a, n, p, &r); /* the order of expand_c1: row after row */
        memcpy(y, a, n * sizeof *y);
        cn_ntt_forward_lazy(y, &ring->ntt[j]);
        cn_bfv_enc_mul_row_kernel(p, n)(y, y, sk->s.data + j * n, n, p);
        cn_ntt_inverse_lazy(y, &ring->ntt[j]);
        cn_bfv_enc_c0_row_kernel(p, n, t)(y, y, e, pt->coeffs, n, p,
                                          lv->delta[pt->t_index * L + j]);
    }
    cn_rng_clear(&r);
    cn_wipe(e, n * sizeof *e);
    free(e);
    ct->c[0].form = ct->c[1].form = CN_FORM_COEFF;
    ct->t_index = pt->t_index;
    ct->transparent = 0;
    ct->has_seed = 1;
    return CN_OK;
}

/* x = c0 + c1 s (+ c2 s^2) over the ciphertext's level, coefficient form. */
static cn_status phase(cn_poly_t *x, const cn_bfv_ciphertext_t *ct,
                       const cn_bfv_secret_key_t *sk, const cn_bfv_context_t *ctx)
{
    cn_status st;
    const cn_ring_t *ring = &ctx->ring;
    const size_t l = ct->level;
    cn_poly_t s = rows(&sk->s, l), acc = {0}, tmp = {0}, s2 = {0};
    if ((st = cn_poly_init(&acc, ring, l)) != CN_OK ||
        (st = cn_poly_copy(&acc, &ct->c[1])) != CN_OK ||
        (st = cn_poly_to_ntt(&acc, ring)) != CN_OK ||
        (st = cn_poly_mul_ntt(&acc, &acc, &s, ring)) != CN_OK)
        goto out;
    if (ct->size == 3) {
        if ((st = cn_poly_init(&s2, ring, l)) != CN_OK)
            goto out;
        s2.form = CN_FORM_NTT;
        if ((st = cn_poly_mul_ntt(&s2, &s, &s, ring)) != CN_OK ||
            (st = cn_poly_init(&tmp, ring, l)) != CN_OK ||
            (st = cn_poly_copy(&tmp, &ct->c[2])) != CN_OK ||
            (st = cn_poly_to_ntt(&tmp, ring)) != CN_OK ||
            (st = cn_poly_mul_ntt(&tmp, &tmp, &s2, ring)) != CN_OK ||
            (st = cn_poly_add(&acc, &acc, &tmp, ring)) != CN_OK)
            goto out;
    }
    if ((st = cn_poly_from_ntt(&acc, ring)) != CN_OK ||
        (st = cn_poly_add(x, &acc, &ct->c[0], ring)) != CN_OK)
        goto out;
out:
    cn_poly_clear(&acc);
    cn_poly_clear(&tmp);
    cn_poly_clear(&s2);
    return st;
}

static cn_status check_dec(const cn_bfv_ciphertext_t *ct, const cn_bfv_secret_key_t *sk,
                           const cn_bfv_context_t *ctx)
{
    cn_status st = cn_bfv_check_sk(sk, ctx);
    return st != CN_OK ? st : cn_bfv_check_ct(ct, ctx);
}

/* 1 when every coefficient of the invariant noise v = t x / Q - round(t x / Q) of the
 * phase x (residues over the ciphertext's l primes) has |v| <= 1/4 - 2^-40, i.e. the noise
 * budget is at least one bit. frac(t x / Q) = frac(sum_i z_i / q_i) with z_i = x_i (Q /
 * q_i)^-1 t mod q_i (the CRT sum; HPS, CT-RSA 2019, section 2.3), held in long double
 * (64-bit mantissa, error below l 2^-63): the exact big-integer budget of
 * cn_bfv_noise_budget without its cost (n big integers). */
static cn_status noise_below_quarter(int *ok, const cn_poly_t *x, uint64_t t,
                                     const cn_bfv_context_t *ctx)
{
    const size_t n = ctx->n, l = x->k;
    uint64_t w[CN_BFV_MAX_Q];
    long double inv[CN_BFV_MAX_Q];
    for (size_t i = 0; i < l; i++) {
        const cn_mod_t m = ctx->ring.base.mod[i];
        uint64_t qhat = 1;
        for (size_t j = 0; j < l; j++)
            if (j != i)
                qhat = cn_mod_mul(qhat, ctx->ring.base.mod[j].p % m.p, m);
        cn_status st = cn_mod_inv(&w[i], qhat, m);
        if (st != CN_OK)
            return st;
        w[i] = cn_mod_mul(w[i], t % m.p, m);
        inv[i] = 1.0L / (long double)m.p;
    }
    const long double lim = 0.25L - 0x1p-40L;
    *ok = 1;
    for (size_t c = 0; c < n && *ok; c++) {
        long double f = 0;
        for (size_t i = 0; i < l; i++)
            f += (long double)cn_mod_mul(x->data[i * n + c], w[i], ctx->ring.base.mod[i]) *
                 inv[i];
        const long double v = f - roundl(f);
        *ok = fabsl(v) <= lim;
    }
    return CN_OK;
}

/* Decrypts ct into pt; with check, refuses (CN_ERR_NOISE_EXHAUSTED) a ciphertext whose
 * noise budget is below one bit, from the same phase. */
static cn_status decrypt(cn_bfv_plaintext_t *pt, const cn_bfv_ciphertext_t *ct,
                         const cn_bfv_secret_key_t *sk, const cn_bfv_context_t *ctx, int check)
{
    cn_status st;
    if ((st = check_dec(ct, sk, ctx)) != CN_OK)
        return st;
    if (pt->fingerprint != ctx->fingerprint || pt->t_index != ct->t_index || !pt->coeffs) {
        cn_bfv_plaintext_clear(pt);
        if ((st = cn_bfv_plaintext_init(pt, ctx, ct->t_index)) != CN_OK)
            return st;
    }
    cn_poly_t x = {0};
    if ((st = cn_poly_init(&x, &ctx->ring, ct->level)) != CN_OK)
        return st;
    int ok = 1;
    if ((st = phase(&x, ct, sk, ctx)) == CN_OK && check)
        st = noise_below_quarter(&ok, &x, ctx->prm.t[ct->t_index], ctx);
    if (st == CN_OK && !ok)
        st = CN_ERR_NOISE_EXHAUSTED;
    if (st == CN_OK)
        cn_scale_round(pt->coeffs, x.data, NULL, ctx->n,
                       &cn_bfv_level(ctx, ct->level)->dec_scale[ct->t_index]);
    cn_poly_clear(&x); /* the phase is secret-derived: cn_poly_clear wipes it */
    return st;
}

cn_status cn_bfv_decrypt(cn_bfv_plaintext_t *pt, const cn_bfv_ciphertext_t *ct,
                         const cn_bfv_secret_key_t *sk, const cn_bfv_context_t *ctx)
{
    return decrypt(pt, ct, sk, ctx, 0);
}

/* The phase c0 + c1 s carries the noise, which is derived from the secret key: its big
 * integers are wiped before they are released. */
static void wipe_mpz_clear(mpz_t x)
{
    size_t limbs = mpz_size(x);
    if (limbs)
        cn_wipe(mpz_limbs_modify(x, (mp_size_t)limbs), limbs * sizeof(mp_limb_t));
    mpz_clear(x);
}

cn_status cn_bfv_noise_budget(int *bits, const cn_bfv_ciphertext_t *ct,
                              const cn_bfv_secret_key_t *sk, const cn_bfv_context_t *ctx)
{
    cn_status st;
    *bits = 0;
    if ((st = check_dec(ct, sk, ctx)) != CN_OK)
        return st;
    const size_t n = ctx->n;
    cn_poly_t x = {0};
    mpz_t *c = NULL, mx;
    if ((st = cn_poly_init(&x, &ctx->ring, ct->level)) != CN_OK)
        return st;
    if ((st = phase(&x, ct, sk, ctx)) != CN_OK ||
        (st = cn_poly_mul_scalar(&x, &x, (int64_t)ctx->prm.t[ct->t_index], &ctx->ring)) !=
            CN_OK)
        goto out;
    c = malloc(n * sizeof *c);
    if (!c) {
        st = CN_ERR_NO_MEMORY;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        mpz_init(c[i]);
    mpz_init(mx);
    if ((st = cn_poly_get_mpz(c, &x, &ctx->ring)) == CN_OK) {
        for (size_t i = 0; i < n; i++)
            if (mpz_cmpabs(c[i], mx) > 0)
                mpz_abs(mx, c[i]);
        /* budget = floor(log2(Q / (2 max))), 0 when Q / (2 max) < 2 */
        double lq = cn_bfv_level(ctx, ct->level)->log2_q;
        double lm = mpz_sgn(mx) == 0 ? 0.0 : log2(mpz_get_d(mx));
        double b = floor(lq - lm - 1.0);
        *bits = b > 0 ? (int)b : 0;
    }
    for (size_t i = 0; i < n; i++)
        wipe_mpz_clear(c[i]);
    wipe_mpz_clear(mx);
out:
    free(c);
    cn_poly_clear(&x);
    return st;
}

cn_status cn_bfv_decrypt_checked(cn_bfv_plaintext_t *pt, const cn_bfv_ciphertext_t *ct,
                                 const cn_bfv_secret_key_t *sk, const cn_bfv_context_t *ctx)
{
    return decrypt(pt, ct, sk, ctx, 1);
}
