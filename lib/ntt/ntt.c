/* NTT tables, and the fully reducing transforms on top of the lazy ones (whose kernel
 * lib/ntt/dispatch.c picks). */
#include <string.h>

#include "cryptonets/ntt.h"
#include "../internal/mem.h"
#include "../internal/shoup52.h"
#include "ntt_internal.h"

static size_t bitrev(size_t x, unsigned bits)
{
    size_t r = 0;
    for (unsigned i = 0; i < bits; i++, x >>= 1)
        r = (r << 1) | (x & 1);
    return r;
}

void cn_ntt_table_clear(cn_ntt_table_t *t)
{
    free(t->w);
    free(t->ws);
    free(t->wi);
    free(t->wis);
    free(t->ws52);
    free(t->wis52);
    memset(t, 0, sizeof *t);
}

cn_status cn_ntt_table_init(cn_ntt_table_t *t, size_t n, uint64_t p)
{
    cn_status st;
    memset(t, 0, sizeof *t);
    if (n < 2 || (n & (n - 1)) != 0 || n > ((size_t)1 << CN_NTT_MAX_LOGN))
        return CN_ERR_NOT_POWER_OF_TWO;
    if ((st = cn_mod_init(&t->mod, p)) != CN_OK)
        return st;
    if ((st = cn_root_of_unity(&t->psi, 2 * (uint64_t)n, p)) != CN_OK)
        return st;
    t->n = n;
    t->logn = (unsigned)__builtin_ctzll(n);
    t->w = cn_alloc(n, sizeof(uint64_t));
    t->ws = cn_alloc(n, sizeof(uint64_t));
    t->wi = cn_alloc(n, sizeof(uint64_t));
    t->wis = cn_alloc(n, sizeof(uint64_t));
    if (!t->w || !t->ws || !t->wi || !t->wis) {
        cn_ntt_table_clear(t);
        return CN_ERR_NO_MEMORY;
    }
    const cn_mod_t m = t->mod;
    uint64_t psi_inv;
    if ((st = cn_mod_inv(&psi_inv, t->psi, m)) != CN_OK ||
        (st = cn_mod_inv(&t->n_inv, (uint64_t)n, m)) != CN_OK) {
        cn_ntt_table_clear(t);
        return st;
    }
    /* powers in natural order, then scattered to bit-reversed positions */
    uint64_t pw = 1, pwi = 1;
    for (size_t i = 0; i < n; i++) {
        size_t r = bitrev(i, t->logn);
        t->w[r] = pw;
        t->wi[r] = pwi;
        pw = cn_mod_mul(pw, t->psi, m);
        pwi = cn_mod_mul(pwi, psi_inv, m);
    }
    for (size_t i = 0; i < n; i++) {
        t->ws[i] = cn_mod_shoup(t->w[i], m);
        t->wis[i] = cn_mod_shoup(t->wi[i], m);
    }
    t->n_inv_s = cn_mod_shoup(t->n_inv, m);
    t->last_wi = cn_mod_mul(t->wi[1], t->n_inv, m);
    t->last_wis = cn_mod_shoup(t->last_wi, m);
    if (p < CN_SHOUP52_BOUND) { /* 52-bit Shoup constants */
        t->ws52 = cn_alloc(n, sizeof(uint64_t));
        t->wis52 = cn_alloc(n, sizeof(uint64_t));
        if (!t->ws52 || !t->wis52) {
            cn_ntt_table_clear(t);
            return CN_ERR_NO_MEMORY;
        }
        for (size_t i = 0; i < n; i++) {
            t->ws52[i] = cn_shoup52(t->w[i], p);
            t->wis52[i] = cn_shoup52(t->wi[i], p);
        }
        t->n_inv_s52 = cn_shoup52(t->n_inv, p);
        t->last_wis52 = cn_shoup52(t->last_wi, p);
    }
    return CN_OK;
}

void cn_ntt_reduce_portable(uint64_t *a, size_t n, uint64_t p, int four)
{
    const uint64_t p2 = 2 * p;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = a[i];
        if (four)
            x = x >= p2 ? x - p2 : x;
        a[i] = x >= p ? x - p : x;
    }
}

void cn_ntt_forward_lazy_from_portable(uint64_t *dst, const uint64_t *src,
                                       const cn_ntt_table_t *t)
{
    if (dst != src)
        memcpy(dst, src, t->n * sizeof *dst);
    cn_ntt_forward_lazy_portable(dst, t);
}

void cn_ntt_forward(uint64_t *a, const cn_ntt_table_t *t)
{
    cn_ntt_forward_lazy(a, t);
    cn_ntt_reduce(a, t, 1);
}

void cn_ntt_inverse(uint64_t *a, const cn_ntt_table_t *t)
{
    cn_ntt_inverse_lazy(a, t);
    cn_ntt_reduce(a, t, 0);
}
