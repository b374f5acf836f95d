/* Key generation: ternary secret, public key, relinearization keys (digits of one or
 * several ciphertext primes, special prime P) whose uniform halves are expanded from a
 * seed. */
#include <stdlib.h>
#include <string.h>

#include "../internal/mem.h"
#include "bfv_internal.h"

/* p (over its k rows, coefficient form) = a small polynomial drawn by `draw`. */
static cn_status small_poly(cn_poly_t *p, const cn_ring_t *ring,
                            void (*draw)(int64_t *, size_t, cn_rng_t *), cn_rng_t *rng)
{
    int64_t *v = cn_alloc(p->n, sizeof *v);
    if (!v)
        return CN_ERR_NO_MEMORY;
    draw(v, p->n, rng);
    cn_status st = cn_poly_set_int64(p, v, ring);
    cn_wipe(v, p->n * sizeof *v);
    free(v);
    return st;
}

/* A small polynomial over the first k primes of the ring, in NTT form. */
cn_status cn_bfv_small_ntt(cn_poly_t *p, const cn_ring_t *ring, size_t k,
                           void (*draw)(int64_t *, size_t, cn_rng_t *), cn_rng_t *rng)
{
    cn_status st;
    if ((st = cn_poly_init(p, ring, k)) != CN_OK)
        return st;
    if ((st = small_poly(p, ring, draw, rng)) != CN_OK ||
        (st = cn_poly_to_ntt(p, ring)) != CN_OK)
        cn_poly_clear(p);
    return st;
}

/* Uniform rows (any form: uniform is uniform in both). */
void cn_bfv_uniform_rows(cn_poly_t *p, const cn_ring_t *ring, cn_rng_t *rng)
{
    for (size_t j = 0; j < p->k; j++)
        cn_sample_uniform(p->data + j * p->n, p->n, ring->base.q[j], rng);
}

cn_status cn_bfv_keygen_secret(cn_bfv_secret_key_t *sk, const cn_bfv_context_t *ctx,
                               cn_rng_t *rng)
{
    memset(sk, 0, sizeof *sk);
    cn_status st =
        cn_bfv_small_ntt(&sk->s, &ctx->ring, ctx->ring.base.k, cn_sample_ternary, rng);
    if (st == CN_OK)
        sk->fingerprint = ctx->fingerprint;
    return st;
}

/* a view of the first k rows of p (no copy) */
static cn_poly_t rows(const cn_poly_t *p, size_t k)
{
    cn_poly_t v = *p;
    v.k = k;
    return v;
}

cn_status cn_bfv_keygen_public(cn_bfv_public_key_t *pk, const cn_bfv_secret_key_t *sk,
                               const cn_bfv_context_t *ctx, cn_rng_t *rng)
{
    cn_status st;
    const cn_ring_t *ring = &ctx->ring;
    memset(pk, 0, sizeof *pk);
    if ((st = cn_bfv_check_sk(sk, ctx)) != CN_OK)
        return st;
    cn_poly_t e = {0}, s = rows(&sk->s, ctx->L);
    if ((st = cn_poly_init(&pk->p1, ring, ctx->L)) != CN_OK ||
        (st = cn_poly_init(&pk->p0, ring, ctx->L)) != CN_OK)
        goto out;
    cn_bfv_uniform_rows(&pk->p1, ring, rng);
    pk->p1.form = CN_FORM_NTT;
    if ((st = cn_bfv_small_ntt(&e, ring, ctx->L, cn_sample_cbd, rng)) != CN_OK)
        goto out;
    pk->p0.form = CN_FORM_NTT;
    if ((st = cn_poly_mul_ntt(&pk->p0, &pk->p1, &s, ring)) != CN_OK ||
        (st = cn_poly_add(&pk->p0, &pk->p0, &e, ring)) != CN_OK ||
        (st = cn_poly_neg(&pk->p0, &pk->p0, ring)) != CN_OK)
        goto out;
    pk->fingerprint = ctx->fingerprint;
out:
    cn_poly_clear(&e);
    if (st != CN_OK)
        cn_bfv_public_key_clear(pk);
    return st;
}

/* Domain of the ChaCha20 stream that expands digit i of a key switching key's seed:
 * nonce word 14 = 0x6b31 ("k1"), word 15 = i (ciphertexts' c1 uses 0x6331 with word 15 =
 * 0, so no key stream is ever a ciphertext stream; docs/format.md gives the layout). */
#define SEED_DOMAIN_K1 0x6b31ULL

static uint64_t ksk_domain(size_t digit)
{
    return SEED_DOMAIN_K1 | (uint64_t)digit << 32;
}

cn_status cn_bfv_ksk_expand_digit(cn_bfv_relin_key_t *k, size_t i, const cn_bfv_context_t *ctx)
{
    if (!k->has_seed || i >= cn_bfv_ksk_count(k) || k->ndigits > ctx->L || !k->k1 ||
        !k->k1[i].data || k->k1[i].k != ctx->ring.base.k)
        return CN_ERR_INVALID_ARG;
    const size_t n = ctx->n, d = k->ndigits, L = ctx->L;
    uint64_t *x = k->k1[i].data;
    cn_rng_t r;
    cn_rng_init_public_seed(&r, k->seed, ksk_domain(i));
    /* rows q_1..q_d, then P (a key at level d < L: rows q_{d+1}..q_L are zero, unused) */
    for (size_t j = 0; j < d; j++)
        cn_sample_uniform(x + j * n, n, ctx->ring.base.q[j], &r);
    cn_sample_uniform(x + L * n, n, ctx->ring.base.q[L], &r);
    memset(x + d * n, 0, (L - d) * n * sizeof *x);
    cn_rng_clear(&r);
    k->k1[i].form = CN_FORM_NTT; /* the values are taken as NTT entries as they come */
    return CN_OK;
}

/* A key switching key from s' (NTT form over q_1..q_L, P) to s at level d (1 <= d <= L:
 * it switches ciphertexts of level <= d), with dp primes per digit: digit i <
 * ceil(d / dp) covers the primes G_i = {q_j : i dp <= j < min(i dp + dp, d)} (0-based);
 * k0 = -(a_i s) + e_i + [j in G_i] P s' on row j (q_j, j < d), -(a_i s) + e_i on the P row;
 * k1 = a_i, expanded from the key's public seed (a fresh 32 bytes of rng). With g_i = 1
 * modulo the primes of G_i and 0 modulo the others, sum_i [c]_{D_i} g_i = c (mod Q_d), so
 * sum_i [c]_{D_i} (k0_i + k1_i s) = P c s' + small (mod Q_d P); the rows q_{d+1}..q_L are
 * held as zeros. The digits of Q_l (l <= d) are those of Q_d restricted (g_i is 1 on
 * G_i's primes below l, 0 on the others, whatever the level), so one key serves every
 * level up to d (lib/bfv/digits.c). dp = 1: one digit per prime. */
cn_status cn_bfv_keygen_switch_level(cn_bfv_relin_key_t *rk, const cn_poly_t *target,
                                     const cn_bfv_secret_key_t *sk, size_t d, size_t dp,
                                     const cn_bfv_context_t *ctx, cn_rng_t *rng)
{
    cn_status st = CN_OK;
    const cn_ring_t *ring = &ctx->ring;
    const size_t K = ring->base.k, n = ctx->n;
    memset(rk, 0, sizeof *rk);
    if ((st = cn_bfv_check_sk(sk, ctx)) != CN_OK)
        return st;
    if (!ctx->has_p)
        return CN_ERR_UNSUPPORTED;
    if (d == 0 || d > ctx->L || dp == 0 || dp > ctx->L)
        return CN_ERR_INVALID_ARG;
    cn_poly_t e = {0};
    const size_t nd = (d + dp - 1) / dp;
    rk->k0 = calloc(nd, sizeof *rk->k0);
    rk->k1 = calloc(nd, sizeof *rk->k1);
    if (!rk->k0 || !rk->k1) {
        st = CN_ERR_NO_MEMORY;
        goto out;
    }
    rk->ndigits = d;
    rk->digit_primes = dp > 1 ? dp : 0; /* 0: the one-prime digits of formats <= 1.2 */
    cn_rng_bytes(rng, rk->seed, CN_SEED_BYTES);
    rk->has_seed = 1;
    for (size_t i = 0; i < nd; i++) {
        if ((st = cn_poly_init(&rk->k0[i], ring, K)) != CN_OK ||
            (st = cn_poly_init(&rk->k1[i], ring, K)) != CN_OK ||
            (st = cn_bfv_ksk_expand_digit(rk, i, ctx)) != CN_OK)
            goto out;
        rk->k0[i].form = CN_FORM_NTT;
        if ((st = cn_bfv_small_ntt(&e, ring, K, cn_sample_cbd, rng)) != CN_OK)
            goto out;
        if ((st = cn_poly_mul_ntt(&rk->k0[i], &rk->k1[i], &sk->s, ring)) != CN_OK ||
            (st = cn_poly_sub(&rk->k0[i], &e, &rk->k0[i], ring)) != CN_OK)
            goto out;
        cn_poly_clear(&e);
        for (size_t j = i * dp; j < i * dp + dp && j < d; j++) { /* + P s' on G_i's rows */
            const cn_mod_t m = ring->base.mod[j];
            const uint64_t pm = cn_mod_reduce_u64(ctx->prm.p, m), pms = cn_mod_shoup(pm, m);
            uint64_t *row = rk->k0[i].data + j * n;
            const uint64_t *trow = target->data + j * n;
            for (size_t c = 0; c < n; c++)
                row[c] = cn_mod_add(row[c], cn_mod_mul_shoup(trow[c], pm, pms, m.p), m);
        }
        memset(rk->k0[i].data + d * n, 0, (ctx->L - d) * n * sizeof(uint64_t)); /* unused */
    }
    rk->fingerprint = ctx->fingerprint;
out:
    cn_poly_clear(&e);
    if (st != CN_OK)
        cn_bfv_relin_key_clear(rk);
    return st;
}

cn_status cn_bfv_keygen_switch(cn_bfv_relin_key_t *rk, const cn_poly_t *target,
                               const cn_bfv_secret_key_t *sk, const cn_bfv_context_t *ctx,
                               cn_rng_t *rng)
{
    return cn_bfv_keygen_switch_level(rk, target, sk, ctx->L, 1, ctx, rng);
}

cn_status cn_bfv_keygen_relin(cn_bfv_relin_key_t *rk, const cn_bfv_secret_key_t *sk,
                              const cn_bfv_context_t *ctx, cn_rng_t *rng)
{
    return cn_bfv_keygen_relin_level(rk, sk, ctx->L, ctx, rng);
}

cn_status cn_bfv_keygen_relin_level(cn_bfv_relin_key_t *rk, const cn_bfv_secret_key_t *sk,
                                    size_t level, const cn_bfv_context_t *ctx, cn_rng_t *rng)
{
    return cn_bfv_keygen_relin_digits(rk, sk, level, 1, ctx, rng);
}

cn_status cn_bfv_keygen_relin_digits(cn_bfv_relin_key_t *rk, const cn_bfv_secret_key_t *sk,
                                     size_t level, size_t digit_primes,
                                     const cn_bfv_context_t *ctx, cn_rng_t *rng)
{
    cn_status st;
    memset(rk, 0, sizeof *rk);
    if ((st = cn_bfv_check_sk(sk, ctx)) != CN_OK)
        return st;
    cn_poly_t s2 = {0};
    if ((st = cn_poly_init(&s2, &ctx->ring, ctx->ring.base.k)) != CN_OK)
        return st;
    s2.form = CN_FORM_NTT;
    if ((st = cn_poly_mul_ntt(&s2, &sk->s, &sk->s, &ctx->ring)) == CN_OK)
        st = cn_bfv_keygen_switch_level(rk, &s2, sk, level, digit_primes, ctx, rng);
    cn_poly_clear(&s2); /* wiped */
    return st;
}
