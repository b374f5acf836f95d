/* The BFV context: validated parameters, rings and every per-level table. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../internal/mem.h"
#include "bfv_internal.h"

/* FNV-1a over the parameters' words: tells contexts apart; not a security device
 * (every loaded object is validated on its own). */
uint64_t cn_bfv_params_fingerprint(const cn_bfv_params_t *p)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    uint64_t words[4 + CN_BFV_MAX_Q + CN_BFV_MAX_T];
    size_t k = 0;
    words[k++] = p->n;
    words[k++] = p->nq;
    for (size_t i = 0; i < p->nq; i++)
        words[k++] = p->q[i];
    words[k++] = p->p;
    words[k++] = p->nt;
    for (size_t i = 0; i < p->nt; i++)
        words[k++] = p->t[i];
    for (size_t i = 0; i < k; i++)
        for (int b = 0; b < 8; b++) {
            h ^= (words[i] >> (8 * b)) & 0xff;
            h *= 0x100000001b3ULL;
        }
    return h;
}

static void level_clear(cn_bfv_level_t *lv, size_t nt)
{
    mpz_clear(lv->Q);
    cn_exact_conv_clear(&lv->q_to_r);
    if (lv->mul_scale)
        for (size_t k = 0; k < nt; k++)
            cn_mulscale_clear(&lv->mul_scale[k]);
    if (lv->dec_scale)
        for (size_t k = 0; k < nt; k++)
            cn_scale_clear(&lv->dec_scale[k]);
    free(lv->mul_scale);
    free(lv->dec_scale);
    free(lv->delta);
    free(lv->qlast_inv);
    free(lv->qlast_inv_s);
    free(lv->p_inv);
    free(lv->p_inv_s);
}

void cn_bfv_context_free(cn_bfv_context_t *ctx)
{
    if (!ctx)
        return;
    if (ctx->lvl) {
        for (size_t l = 0; l < ctx->L; l++)
            if (ctx->lvl[l].l)
                level_clear(&ctx->lvl[l], ctx->nt);
        free(ctx->lvl);
    }
    if (ctx->t_ntt) {
        for (size_t k = 0; k < ctx->nt; k++)
            cn_ntt_table_clear(&ctx->t_ntt[k]);
        free(ctx->t_ntt);
    }
    free(ctx->tmod);
    free(ctx->slot_index);
    cn_ring_clear(&ctx->ring);
    cn_ring_clear(&ctx->ring_r);
    free(ctx);
}

static cn_status level_init(cn_bfv_level_t *lv, const cn_bfv_context_t *ctx, size_t l)
{
    cn_status st;
    const uint64_t *q = ctx->prm.q;
    const uint64_t *r = ctx->ring_r.base.q;
    const size_t nt = ctx->nt;
    lv->l = l;
    mpz_init_set_ui(lv->Q, 1);
    for (size_t i = 0; i < l; i++)
        mpz_mul_ui(lv->Q, lv->Q, (unsigned long)q[i]);
    lv->log2_q = 0;
    for (size_t i = 0; i < l; i++)
        lv->log2_q += log2((double)q[i]);
    if ((st = cn_exact_conv_init(&lv->q_to_r, q, l, r, ctx->kr)) != CN_OK)
        return st;
    lv->mul_scale = calloc(nt, sizeof *lv->mul_scale);
    lv->dec_scale = calloc(nt, sizeof *lv->dec_scale);
    lv->delta = cn_alloc(nt * l, sizeof(uint64_t));
    lv->qlast_inv = cn_alloc(l, sizeof(uint64_t));
    lv->qlast_inv_s = cn_alloc(l, sizeof(uint64_t));
    lv->p_inv = cn_alloc(l, sizeof(uint64_t));
    lv->p_inv_s = cn_alloc(l, sizeof(uint64_t));
    if (!lv->mul_scale || !lv->dec_scale || !lv->delta || !lv->qlast_inv || !lv->qlast_inv_s ||
        !lv->p_inv || !lv->p_inv_s)
        return CN_ERR_NO_MEMORY;
    mpz_t D;
    mpz_init(D);
    for (size_t k = 0; k < nt; k++) {
        uint64_t t = ctx->prm.t[k];
        if ((st = cn_mulscale_init(&lv->mul_scale[k], q, l, r, ctx->kr, t)) != CN_OK ||
            (st = cn_scale_init(&lv->dec_scale[k], q, l, &ctx->prm.t[k], 1, t, 0)) != CN_OK)
            break;
        mpz_fdiv_q_ui(D, lv->Q, (unsigned long)t);
        for (size_t j = 0; j < l; j++)
            lv->delta[k * l + j] = (uint64_t)mpz_fdiv_ui(D, (unsigned long)q[j]);
    }
    mpz_clear(D);
    if (st != CN_OK)
        return st;
    for (size_t j = 0; j < l; j++) {
        const cn_mod_t m = ctx->ring.base.mod[j];
        if (j + 1 < l) {
            if ((st = cn_mod_inv(&lv->qlast_inv[j], cn_mod_reduce_u64(q[l - 1], m), m)) !=
                CN_OK)
                return st;
            lv->qlast_inv_s[j] = cn_mod_shoup(lv->qlast_inv[j], m);
        } else {
            lv->qlast_inv[j] = lv->qlast_inv_s[j] = 0;
        }
        if (ctx->has_p) {
            if ((st = cn_mod_inv(&lv->p_inv[j], cn_mod_reduce_u64(ctx->prm.p, m), m)) != CN_OK)
                return st;
            lv->p_inv_s[j] = cn_mod_shoup(lv->p_inv[j], m);
        } else {
            lv->p_inv[j] = lv->p_inv_s[j] = 0;
        }
    }
    return CN_OK;
}

/* R: the largest 60-bit primes = 1 mod 2n outside q, P, t, with
 * log2 R >= log2 Q + log2 n + 4, so that the tensor product X (|X| <= n Q^2 / 2) is exact
 * over Q u R and the quotient m = (X - (X mod Q)) / Q (|m| <= n Q / 2 + l) lifts exactly
 * from R (lib/rns/mulscale.h: R no longer holds t X / Q, so t does not enlarge it; at the
 * MNIST plan's 4 x 42 bits and t of 23 bits, 4 primes of 50 bits instead of 5). When every
 * q_i is below 2^50 and the CPU has AVX-512 IFMA, 50-bit primes are taken instead, so that
 * every row of the multiplication runs on the IFMA kernels: one prime more, each much
 * cheaper. The product does not depend on R.
 * The count is the fewest of these primes (largest first) whose log2 sum reaches the bound,
 * not ceil(bound / (bits - 1)): the primes sit just below 2^bits, so at n = 16384 with the
 * smallest 46-bit q primes (log2 Q = 180.0, bound 198.0) four 50-bit primes give 200.0 bits
 * where the old count took five (a square: 40 NTTs instead of 45). With the largest 46-bit
 * primes (cn_bfv_params_default's, log2 Q = 184.0, bound 202.0) R keeps five. The double sums
 * are exact to about 1e-12 bits, and the bound keeps 2 bits above what the scaling needs
 * (|m| <= R / 8, i.e. R >= 4 n Q + 8 l), so rounding cannot make R too small. */
static cn_status choose_r(uint64_t *r, size_t *kr, const cn_bfv_params_t *p)
{
    uint64_t excl[CN_BFV_MAX_Q + 1 + CN_BFV_MAX_T];
    size_t ne = 0;
    double need = log2((double)p->n) + 4;
    for (size_t i = 0; i < p->nq; i++) {
        excl[ne++] = p->q[i];
        need += log2((double)p->q[i]);
    }
    if (p->p)
        excl[ne++] = p->p;
    for (size_t k = 0; k < p->nt; k++)
        excl[ne++] = p->t[k];
    unsigned bits = 60;
    int small = cn_bfv_ifma_available();
    for (size_t i = 0; i < p->nq; i++)
        small &= p->q[i] < ((uint64_t)1 << 50);
    if (small)
        bits = 50;
    /* every candidate is at least 2^(bits - 1): this many always reach the bound */
    size_t k = (size_t)ceil(need / (double)(bits - 1));
    if (k > CN_RNS_MAX_PRIMES)
        return CN_ERR_INVALID_ARG;
    cn_status st = cn_primes_ntt(r, k, bits, p->n, excl, ne, 1);
    if (st != CN_OK)
        return st;
    double have = 0;
    size_t used = 0;
    while (used < k && have < need)
        have += log2((double)r[used++]);
    *kr = used;
    return CN_OK;
}

/* Slot (r, c), r in {0, 1}, c < n/2, index r n/2 + c, is the evaluation at zeta^e with
 * e = 3^c (-1)^r mod 2n; the forward NTT mod t puts the evaluation at psi^(2 bitrev(j) + 1)
 * at index j (Longa-Naehrig order), so slot s lives at j = bitrev((e - 1) / 2). */
static cn_status slot_layout(cn_bfv_context_t *ctx)
{
    const size_t n = ctx->n, half = n / 2;
    const uint64_t m = 2 * (uint64_t)n;
    unsigned logn = 0;
    while (((size_t)1 << logn) < n)
        logn++;
    ctx->slot_index = cn_alloc(n, sizeof *ctx->slot_index);
    if (!ctx->slot_index)
        return CN_ERR_NO_MEMORY;
    uint64_t e = 1;
    for (size_t c = 0; c < half; c++, e = e * 3 % m) {
        for (size_t r = 0; r < 2; r++) {
            uint64_t x = ((r ? m - e : e) - 1) / 2, j = 0;
            for (unsigned b = 0; b < logn; b++, x >>= 1)
                j = (j << 1) | (x & 1);
            ctx->slot_index[r * half + c] = (uint32_t)j;
        }
    }
    return CN_OK;
}

cn_status cn_bfv_context_create(cn_bfv_context_t **out, const cn_bfv_params_t *prm)
{
    cn_status st;
    *out = NULL;
    if ((st = cn_bfv_params_validate(prm)) != CN_OK)
        return st;
    cn_bfv_context_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return CN_ERR_NO_MEMORY;
    ctx->prm = *prm;
    ctx->fingerprint = cn_bfv_params_fingerprint(prm);
    ctx->n = prm->n;
    ctx->L = prm->nq;
    ctx->nt = prm->nt;
    ctx->has_p = prm->p != 0;
    uint64_t primes[CN_BFV_MAX_Q + 1], r[CN_RNS_MAX_PRIMES];
    memcpy(primes, prm->q, prm->nq * sizeof *primes);
    if (ctx->has_p)
        primes[prm->nq] = prm->p;
    if ((st = cn_ring_init(&ctx->ring, ctx->n, primes, ctx->L + (size_t)ctx->has_p)) != CN_OK)
        goto fail;
    if ((st = choose_r(r, &ctx->kr, prm)) != CN_OK ||
        (st = cn_ring_init(&ctx->ring_r, ctx->n, r, ctx->kr)) != CN_OK)
        goto fail;
    ctx->tmod = cn_alloc(ctx->nt, sizeof *ctx->tmod);
    ctx->t_ntt = calloc(ctx->nt, sizeof *ctx->t_ntt);
    ctx->lvl = calloc(ctx->L, sizeof *ctx->lvl);
    if (!ctx->tmod || !ctx->t_ntt || !ctx->lvl) {
        st = CN_ERR_NO_MEMORY;
        goto fail;
    }
    for (size_t k = 0; k < ctx->nt; k++) {
        if ((st = cn_mod_init(&ctx->tmod[k], prm->t[k])) != CN_OK)
            goto fail;
        if (cn_bfv_plain_batching(prm->t[k], ctx->n) &&
            (st = cn_ntt_table_init(&ctx->t_ntt[k], ctx->n, prm->t[k])) != CN_OK)
            goto fail;
    }
    for (size_t l = 1; l <= ctx->L; l++)
        if ((st = level_init(&ctx->lvl[l - 1], ctx, l)) != CN_OK)
            goto fail;
    if ((st = slot_layout(ctx)) != CN_OK)
        goto fail;
    *out = ctx;
    return CN_OK;
fail:
    cn_bfv_context_free(ctx);
    return st;
}

const cn_bfv_params_t *cn_bfv_context_params(const cn_bfv_context_t *ctx)
{
    return &ctx->prm;
}

uint64_t cn_bfv_context_fingerprint(const cn_bfv_context_t *ctx)
{
    return ctx->fingerprint;
}

const cn_ring_t *cn_bfv_context_ring(const cn_bfv_context_t *ctx)
{
    return &ctx->ring;
}

const cn_mod_t *cn_bfv_context_level_primes(const cn_bfv_context_t *ctx, size_t level,
                                            size_t *count)
{
    const int ok = level >= 1 && level <= ctx->L;
    if (count)
        *count = ok ? level : 0;
    return ok ? ctx->ring.base.mod : NULL;
}

const cn_mod_t *cn_bfv_context_plain_moduli(const cn_bfv_context_t *ctx, size_t *count)
{
    if (count)
        *count = ctx->nt;
    return ctx->tmod;
}
