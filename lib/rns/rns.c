/* RNS bases: validation, CRT constants, fast base conversion. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../internal/mem.h"
#include "rns_internal.h"

static void big_clear(cn_rns_big_t *g, size_t k)
{
    if (!g)
        return;
    mpz_clear(g->Q);
    mpz_clear(g->half);
    if (g->qhat) {
        for (size_t i = 0; i < k; i++)
            mpz_clear(g->qhat[i]);
        free(g->qhat);
    }
    free(g);
}

void cn_rns_base_clear(cn_rns_base_t *b)
{
    if (!b)
        return;
    big_clear(b->big, b->k);
    free(b->q);
    free(b->mod);
    free(b->qhat_inv);
    free(b->qhat_inv_s);
    memset(b, 0, sizeof *b);
}

/* Checks the primes before anything is allocated. */
static cn_status check_primes(const uint64_t *primes, size_t k)
{
    if (k == 0 || k > CN_RNS_MAX_PRIMES || !primes)
        return CN_ERR_INVALID_ARG;
    for (size_t i = 0; i < k; i++) {
        if (primes[i] >> CN_MOD_MAX_BITS)
            return CN_ERR_MODULUS_TOO_LARGE;
        if (!cn_is_prime(primes[i]))
            return CN_ERR_NOT_PRIME;
        for (size_t j = 0; j < i; j++)
            if (primes[j] == primes[i])
                return CN_ERR_MODULI_NOT_DISTINCT;
    }
    return CN_OK;
}

cn_status cn_rns_base_init(cn_rns_base_t *b, const uint64_t *primes, size_t k)
{
    memset(b, 0, sizeof *b);
    cn_status st = check_primes(primes, k);
    if (st != CN_OK)
        return st;
    b->k = k;
    b->q = malloc(k * sizeof *b->q);
    b->mod = malloc(k * sizeof *b->mod);
    b->qhat_inv = malloc(k * sizeof *b->qhat_inv);
    b->qhat_inv_s = malloc(k * sizeof *b->qhat_inv_s);
    cn_rns_big_t *g = calloc(1, sizeof *g);
    if (!b->q || !b->mod || !b->qhat_inv || !b->qhat_inv_s || !g) {
        free(g);
        cn_rns_base_clear(b);
        return CN_ERR_NO_MEMORY;
    }
    mpz_init_set_ui(g->Q, 1);
    mpz_init(g->half);
    b->big = g;
    g->qhat = malloc(k * sizeof *g->qhat);
    if (!g->qhat) {
        cn_rns_base_clear(b);
        return CN_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < k; i++)
        mpz_init(g->qhat[i]);
    b->log2_q = 0;
    for (size_t i = 0; i < k; i++) {
        b->q[i] = primes[i];
        if ((st = cn_mod_init(&b->mod[i], primes[i])) != CN_OK) {
            cn_rns_base_clear(b);
            return st;
        }
        mpz_mul_ui(g->Q, g->Q, primes[i]);
    }
    {
        long e; /* log2(Q) = e + log2(m), m in [1/2, 1) */
        double m = mpz_get_d_2exp(&e, g->Q);
        b->log2_q = (double)e + log2(m);
    }
    mpz_fdiv_q_2exp(g->half, g->Q, 1);
    for (size_t i = 0; i < k; i++) {
        mpz_divexact_ui(g->qhat[i], g->Q, primes[i]);
        uint64_t r = mpz_fdiv_ui(g->qhat[i], primes[i]);
        if ((st = cn_mod_inv(&b->qhat_inv[i], r, b->mod[i])) != CN_OK) {
            cn_rns_base_clear(b);
            return st;
        }
        b->qhat_inv_s[i] = cn_mod_shoup(b->qhat_inv[i], b->mod[i]);
    }
    return CN_OK;
}

void cn_rns_conv_clear(cn_rns_conv_t *c)
{
    if (!c)
        return;
    free(c->from);
    free(c->qhat_inv);
    free(c->qhat_inv_s);
    free(c->to);
    free(c->qhat_mod_p);
    memset(c, 0, sizeof *c);
}

cn_status cn_rns_conv_init(cn_rns_conv_t *c, const cn_rns_base_t *from, const cn_rns_base_t *to)
{
    memset(c, 0, sizeof *c);
    const size_t kf = from->k, kt = to->k;
    c->kf = kf;
    c->kt = kt;
    c->from = malloc(kf * sizeof *c->from);
    c->qhat_inv = malloc(kf * sizeof *c->qhat_inv);
    c->qhat_inv_s = malloc(kf * sizeof *c->qhat_inv_s);
    c->to = malloc(kt * sizeof *c->to);
    c->qhat_mod_p = cn_alloc(kt * kf, sizeof *c->qhat_mod_p);
    if (!c->from || !c->qhat_inv || !c->qhat_inv_s || !c->to || !c->qhat_mod_p) {
        cn_rns_conv_clear(c);
        return CN_ERR_NO_MEMORY;
    }
    memcpy(c->from, from->mod, kf * sizeof *c->from);
    memcpy(c->qhat_inv, from->qhat_inv, kf * sizeof *c->qhat_inv);
    memcpy(c->qhat_inv_s, from->qhat_inv_s, kf * sizeof *c->qhat_inv_s);
    memcpy(c->to, to->mod, kt * sizeof *c->to);
    for (size_t j = 0; j < kt; j++)
        for (size_t i = 0; i < kf; i++)
            c->qhat_mod_p[j * kf + i] = mpz_fdiv_ui(from->big->qhat[i], to->q[j]);
    return CN_OK;
}

/* BEHZ, SAC 2016, eq. (2). y_i = [x_i (Q/q_i)^-1]_{q_i} per coefficient, then a sum of
 * kf products below 2^122 each; the 128-bit accumulator is reduced every 32 terms. */
void cn_rns_conv_fast(uint64_t *out, const uint64_t *in, size_t n, const cn_rns_conv_t *c)
{
    const size_t kf = c->kf, kt = c->kt;
    uint64_t y[CN_RNS_MAX_PRIMES];
    for (size_t x = 0; x < n; x++) {
        for (size_t i = 0; i < kf; i++)
            y[i] =
                cn_mod_mul_shoup(in[i * n + x], c->qhat_inv[i], c->qhat_inv_s[i], c->from[i].p);
        for (size_t j = 0; j < kt; j++) {
            const uint64_t *h = c->qhat_mod_p + j * kf;
            cn_u128 acc = 0;
            uint64_t red = 0;
            for (size_t i = 0; i < kf; i++) {
                acc += (cn_u128)y[i] * h[i];
                if ((i & 31) == 31) {
                    red = cn_mod_add(red, cn_mod_reduce_any_u128(acc, c->to[j]), c->to[j]);
                    acc = 0;
                }
            }
            out[j * n + x] = cn_mod_add(red, cn_mod_reduce_any_u128(acc, c->to[j]), c->to[j]);
        }
    }
}
