/* Tables of the multiplication's scaling step (mulscale.h) and the pick of its kernel. */
#include <stdlib.h>
#include <string.h>

#include "../internal/cpu.h"
#include "../internal/mem.h"
#include "../internal/shoup52.h"
#include "mulscale.h"

void cn_mulscale_clear(cn_mulscale_t *s)
{
    uint64_t *w[] = {s->qi,    s->qi_s,  s->c,      s->c_s,      s->h,          s->h_s,
                     s->g,     s->g_s,   s->vtr,    s->f_hi,     s->f_lo,       s->qi_s52,
                     s->c_s52, s->h_s52, s->g_s52,  s->f1,       s->f0,         s->w52,
                     s->w52_s, s->one_s, s->ql_inv, s->ql_inv_s, s->ql_inv_s52, s->ql_mod};
    for (size_t i = 0; i < sizeof w / sizeof *w; i++)
        free(w[i]);
    free(s->q);
    free(s->r);
    free(s->inv_r);
    free(s->inv_q);
    memset(s, 0, sizeof *s);
}

static uint64_t mpz_mod_u64(const mpz_t x, uint64_t m)
{
    return (uint64_t)mpz_fdiv_ui(x, (unsigned long)m);
}

/* the 52-bit Shoup constants of the tables (every modulus below 2^50) */
static cn_status init52(cn_mulscale_t *s)
{
    const size_t kq = s->kq, kr = s->kr;
    s->qi_s52 = cn_alloc(kq, sizeof(uint64_t));
    s->c_s52 = cn_alloc(kr, sizeof(uint64_t));
    s->h_s52 = cn_alloc(kr * kq, sizeof(uint64_t));
    s->g_s52 = cn_alloc(kq * kr, sizeof(uint64_t));
    s->f1 = cn_alloc(kq, sizeof(uint64_t));
    s->f0 = cn_alloc(kq, sizeof(uint64_t));
    s->w52 = cn_alloc(kq + kr, sizeof(uint64_t));
    s->w52_s = cn_alloc(kq + kr, sizeof(uint64_t));
    s->one_s = cn_alloc(kq + kr, sizeof(uint64_t));
    if (!s->qi_s52 || !s->c_s52 || !s->h_s52 || !s->g_s52 || !s->f1 || !s->f0 || !s->w52 ||
        !s->w52_s || !s->one_s)
        return CN_ERR_NO_MEMORY;
    for (size_t k = 0; k < kq + kr; k++) {
        const uint64_t p = k < kq ? s->q[k].p : s->r[k - kq].p;
        s->w52[k] = (uint64_t)(((cn_u128)1 << 52) % p);
        s->w52_s[k] = cn_shoup52(s->w52[k], p);
        s->one_s[k] = cn_shoup52(1, p);
    }
    for (size_t i = 0; i < kq; i++) {
        const uint64_t qi = s->q[i].p;
        s->qi_s52[i] = cn_shoup52(s->qi[i], qi);
        for (size_t j = 0; j < kr; j++)
            s->g_s52[i * kr + j] = cn_shoup52(s->g[i * kr + j], qi);
        /* the top 104 bits of the 128-bit fraction f_hi 2^64 + f_lo */
        s->f1[i] = s->f_hi[i] >> 12;
        s->f0[i] = ((s->f_hi[i] << 40) | (s->f_lo[i] >> 24)) & (((uint64_t)1 << 52) - 1);
    }
    for (size_t j = 0; j < kr; j++) {
        const uint64_t rj = s->r[j].p;
        s->c_s52[j] = cn_shoup52(s->c[j], rj);
        for (size_t i = 0; i < kq; i++)
            s->h_s52[j * kq + i] = cn_shoup52(s->h[j * kq + i], rj);
    }
    if (kq >= 2) {
        if (!(s->ql_inv_s52 = cn_alloc(kq - 1, sizeof(uint64_t))))
            return CN_ERR_NO_MEMORY;
        for (size_t i = 0; i + 1 < kq; i++)
            s->ql_inv_s52[i] = cn_shoup52(s->ql_inv[i], s->q[i].p);
    }
    s->ifma = 1;
    return CN_OK;
}

cn_status cn_mulscale_init(cn_mulscale_t *s, const uint64_t *q, size_t kq, const uint64_t *r,
                           size_t kr, uint64_t t)
{
    memset(s, 0, sizeof *s);
    if (kq == 0 || kr == 0 || kq > CN_EXACT_MAX || kr > CN_EXACT_MAX || t == 0)
        return CN_ERR_INVALID_ARG;
    for (size_t i = 0; i < kq; i++)
        if (t >= q[i])
            return CN_ERR_INVALID_ARG;
    s->kq = kq;
    s->kr = kr;
    s->t = t;
    s->q = cn_alloc(kq, sizeof *s->q);
    s->r = cn_alloc(kr, sizeof *s->r);
    s->qi = cn_alloc(kq, sizeof(uint64_t));
    s->qi_s = cn_alloc(kq, sizeof(uint64_t));
    s->c = cn_alloc(kr, sizeof(uint64_t));
    s->c_s = cn_alloc(kr, sizeof(uint64_t));
    s->h = cn_alloc(kr * kq, sizeof(uint64_t));
    s->h_s = cn_alloc(kr * kq, sizeof(uint64_t));
    s->inv_r = cn_alloc(kr, sizeof(double));
    s->g = cn_alloc(kq * kr, sizeof(uint64_t));
    s->g_s = cn_alloc(kq * kr, sizeof(uint64_t));
    s->vtr = cn_alloc(kq * (kr + 1), sizeof(uint64_t));
    s->f_hi = cn_alloc(kq, sizeof(uint64_t));
    s->f_lo = cn_alloc(kq, sizeof(uint64_t));
    s->inv_q = cn_alloc(kq, sizeof(double));
    if (!s->q || !s->r || !s->qi || !s->qi_s || !s->c || !s->c_s || !s->h || !s->h_s ||
        !s->inv_r || !s->g || !s->g_s || !s->vtr || !s->f_hi || !s->f_lo || !s->inv_q) {
        cn_mulscale_clear(s);
        return CN_ERR_NO_MEMORY;
    }
    cn_status st = CN_OK;
    mpz_t Q, R, hat, tmp;
    mpz_inits(Q, R, hat, tmp, NULL);
    mpz_set_ui(Q, 1);
    for (size_t i = 0; i < kq; i++)
        mpz_mul_ui(Q, Q, (unsigned long)q[i]);
    mpz_set_ui(R, 1);
    for (size_t j = 0; j < kr; j++)
        mpz_mul_ui(R, R, (unsigned long)r[j]);
    s->rho_small = 1;
    for (size_t i = 0; i < kq && st == CN_OK; i++) {
        if ((st = cn_mod_init(&s->q[i], q[i])) != CN_OK)
            break;
        const cn_mod_t m = s->q[i];
        s->rho_small &= (cn_u128)kq * t < q[i];
        s->inv_q[i] = 1.0 / (double)q[i];
        mpz_divexact_ui(hat, Q, (unsigned long)q[i]); /* Q / q_i */
        if ((st = cn_mod_inv(&s->qi[i], mpz_mod_u64(hat, q[i]), m)) != CN_OK)
            break;
        s->qi_s[i] = cn_mod_shoup(s->qi[i], m);
        /* g_ij = t R / r_j mod q_i; vtr = v t R mod q_i */
        for (size_t j = 0; j < kr; j++) {
            mpz_divexact_ui(tmp, R, (unsigned long)r[j]);
            mpz_mul_ui(tmp, tmp, (unsigned long)t);
            s->g[i * kr + j] = mpz_mod_u64(tmp, q[i]);
            s->g_s[i * kr + j] = cn_mod_shoup(s->g[i * kr + j], m);
        }
        mpz_mul_ui(tmp, R, (unsigned long)t);
        const uint64_t tr = mpz_mod_u64(tmp, q[i]);
        for (size_t v = 0; v <= kr; v++)
            s->vtr[i * (kr + 1) + v] = cn_mod_mul(cn_mod_reduce_u64(v, m), tr, m);
        /* t / q_i as a 128-bit fraction (t < q_i) */
        mpz_set_ui(tmp, (unsigned long)t);
        mpz_mul_2exp(tmp, tmp, 128);
        mpz_fdiv_q_ui(tmp, tmp, (unsigned long)q[i]);
        s->f_lo[i] = (uint64_t)mpz_getlimbn(tmp, 0);
        s->f_hi[i] = (uint64_t)mpz_getlimbn(tmp, 1);
    }
    for (size_t j = 0; j < kr && st == CN_OK; j++) {
        if ((st = cn_mod_init(&s->r[j], r[j])) != CN_OK)
            break;
        const cn_mod_t m = s->r[j];
        s->inv_r[j] = 1.0 / (double)r[j];
        /* c_j = (Q R / r_j)^-1 mod r_j */
        mpz_divexact_ui(tmp, R, (unsigned long)r[j]);
        mpz_mul(tmp, tmp, Q);
        if ((st = cn_mod_inv(&s->c[j], mpz_mod_u64(tmp, r[j]), m)) != CN_OK)
            break;
        s->c_s[j] = cn_mod_shoup(s->c[j], m);
        for (size_t i = 0; i < kq; i++) {
            mpz_divexact_ui(hat, Q, (unsigned long)q[i]);
            uint64_t v = cn_mod_mul(mpz_mod_u64(hat, r[j]), s->c[j], m);
            s->h[j * kq + i] = cn_mod_neg(v, m);
            s->h_s[j * kq + i] = cn_mod_shoup(s->h[j * kq + i], m);
        }
    }
    mpz_clears(Q, R, hat, tmp, NULL);
    /* the folded modulus switch: q_L^-1 and q_L modulo the other primes */
    if (st == CN_OK && kq >= 2) {
        s->ql_inv = cn_alloc(kq - 1, sizeof(uint64_t));
        s->ql_inv_s = cn_alloc(kq - 1, sizeof(uint64_t));
        s->ql_mod = cn_alloc(kq - 1, sizeof(uint64_t));
        if (!s->ql_inv || !s->ql_inv_s || !s->ql_mod)
            st = CN_ERR_NO_MEMORY;
        s->ql_near = 1;
        for (size_t i = 0; st == CN_OK && i + 1 < kq; i++) {
            s->ql_near &= q[kq - 1] < 2 * q[i];
            s->ql_mod[i] = cn_mod_reduce_u64(q[kq - 1], s->q[i]);
            if ((st = cn_mod_inv(&s->ql_inv[i], s->ql_mod[i], s->q[i])) == CN_OK)
                s->ql_inv_s[i] = cn_mod_shoup(s->ql_inv[i], s->q[i]);
        }
    }
    /* the 52-bit kernel holds rho (< kq t) exactly in a double */
    if (st == CN_OK && cn_rns_kernels52() && cn_all_below_shoup52(q, kq) &&
        cn_all_below_shoup52(r, kr) && (cn_u128)kq * t < ((cn_u128)1 << 53))
        st = init52(s);
    if (st != CN_OK)
        cn_mulscale_clear(s);
    return st;
}

void cn_mulscale(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                 const cn_mulscale_t *s)
{
#ifdef CN_BUILD_AVX512IFMA
    /* the tables carry 52-bit constants only when lib/rns picked its 52-bit kernels */
    if (s->ifma && n % 8 == 0) {
        cn_mulscale_ifma(out, xq, xr, n, s);
        return;
    }
#endif
    cn_mulscale_portable(out, xq, xr, n, s);
}

void cn_mulscale_drop(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                      const cn_mulscale_t *s)
{
#ifdef CN_BUILD_AVX512IFMA
    if (s->ifma && n % 8 == 0) {
        cn_mulscale_drop_ifma(out, xq, xr, n, s);
        return;
    }
#endif
    cn_mulscale_drop_portable(out, xq, xr, n, s);
}
