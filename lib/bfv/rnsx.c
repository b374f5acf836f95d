/* Full-RNS kernels for BFV: exact base conversion (centered lift) and scale-and-round by
 * num / Q. Halevi, Polyakov, Shoup, "An improved RNS variant of the BFV homomorphic
 * encryption scheme", CT-RSA 2019, sections 3.2 and 4.2; the fractional parts are held
 * as 128-bit fixed-point numbers rather than floating point. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "../internal/cpu.h"
#include "../internal/mem.h"
#include "bfv_internal.h"

/* most primes on either side of a conversion: k products of < 2^122 must fit 128 bits */
#define CONV_MAX 63

void cn_exact_conv_clear(cn_exact_conv_t *c)
{
    free(c->a);
    free(c->b);
    free(c->ahat_inv);
    free(c->ahat_inv_s);
    free(c->inv_a);
    free(c->ahat_mod_b);
    free(c->ahat_mod_b_s);
    free(c->vA_mod_b);
    free(c->ahat_inv_s52);
    free(c->ahat_mod_b_s52);
    c->ahat_inv_s52 = c->ahat_mod_b_s52 = NULL;
    c->ifma = 0;
    c->a = c->b = NULL;
    c->ahat_inv = c->ahat_inv_s = c->ahat_mod_b = c->ahat_mod_b_s = c->vA_mod_b = NULL;
    c->inv_a = NULL;
}

static uint64_t mpz_mod_u64(const mpz_t x, uint64_t m)
{
    return (uint64_t)mpz_fdiv_ui(x, (unsigned long)m);
}

int cn_bfv_ifma_available(void)
{
#ifdef CN_NO_AVX512
    return 0;
#else
    return (cn_cpu_features() & CN_CPU_AVX512IFMA) != 0;
#endif
}

/* 52-bit Shoup constant floor(w 2^52 / p), w < p < 2^50 */
static uint64_t shoup52(uint64_t w, uint64_t p)
{
    return (uint64_t)(((cn_u128)w << 52) / p);
}

static int all_below_2_50(const uint64_t *m, size_t k)
{
    for (size_t i = 0; i < k; i++)
        if (m[i] >> 50)
            return 0;
    return 1;
}

cn_status cn_exact_conv_init(cn_exact_conv_t *c, const uint64_t *a, size_t ka,
                             const uint64_t *b, size_t kb)
{
    cn_status st = CN_OK;
    memset(c, 0, sizeof *c);
    c->ka = ka;
    c->kb = kb;
    if (ka == 0 || kb == 0 || ka > CONV_MAX || kb > CONV_MAX)
        return CN_ERR_INVALID_ARG;
    c->a = cn_alloc(ka, sizeof *c->a);
    c->b = cn_alloc(kb, sizeof *c->b);
    c->ahat_inv = cn_alloc(ka, sizeof(uint64_t));
    c->ahat_inv_s = cn_alloc(ka, sizeof(uint64_t));
    c->inv_a = cn_alloc(ka, sizeof(double));
    c->ahat_mod_b = cn_alloc(ka * kb, sizeof(uint64_t));
    c->ahat_mod_b_s = cn_alloc(ka * kb, sizeof(uint64_t));
    c->vA_mod_b = cn_alloc(kb * (ka + 1), sizeof(uint64_t));
    if (!c->a || !c->b || !c->ahat_inv || !c->ahat_inv_s || !c->inv_a || !c->ahat_mod_b ||
        !c->ahat_mod_b_s || !c->vA_mod_b) {
        cn_exact_conv_clear(c);
        return CN_ERR_NO_MEMORY;
    }
    mpz_t A, ahat;
    mpz_inits(A, ahat, NULL);
    mpz_set_ui(A, 1);
    for (size_t i = 0; i < ka; i++)
        mpz_mul_ui(A, A, (unsigned long)a[i]);
    for (size_t i = 0; i < ka && st == CN_OK; i++) {
        if ((st = cn_mod_init(&c->a[i], a[i])) != CN_OK)
            break;
        mpz_divexact_ui(ahat, A, (unsigned long)a[i]);
        st = cn_mod_inv(&c->ahat_inv[i], mpz_mod_u64(ahat, a[i]), c->a[i]);
        c->ahat_inv_s[i] = cn_mod_shoup(c->ahat_inv[i], c->a[i]);
        c->inv_a[i] = 1.0 / (double)a[i];
        for (size_t j = 0; j < kb; j++)
            c->ahat_mod_b[j * ka + i] = mpz_mod_u64(ahat, b[j]);
    }
    for (size_t j = 0; j < kb && st == CN_OK; j++) {
        if ((st = cn_mod_init(&c->b[j], b[j])) != CN_OK)
            break;
        for (size_t i = 0; i < ka; i++)
            c->ahat_mod_b_s[j * ka + i] = cn_mod_shoup(c->ahat_mod_b[j * ka + i], c->b[j]);
        const uint64_t Ab = mpz_mod_u64(A, b[j]);
        for (size_t v = 0; v <= ka; v++)
            c->vA_mod_b[j * (ka + 1) + v] = cn_mod_mul(cn_mod_reduce_u64(v, c->b[j]), Ab, c->b[j]);
    }
    mpz_clears(A, ahat, NULL);
    if (st == CN_OK && cn_bfv_ifma_available() && all_below_2_50(a, ka) &&
        all_below_2_50(b, kb)) {
        c->ahat_inv_s52 = cn_alloc(ka, sizeof(uint64_t));
        c->ahat_mod_b_s52 = cn_alloc(ka * kb, sizeof(uint64_t));
        if (!c->ahat_inv_s52 || !c->ahat_mod_b_s52) {
            st = CN_ERR_NO_MEMORY;
        } else {
            for (size_t i = 0; i < ka; i++)
                c->ahat_inv_s52[i] = shoup52(c->ahat_inv[i], a[i]);
            for (size_t j = 0; j < kb; j++)
                for (size_t i = 0; i < ka; i++)
                    c->ahat_mod_b_s52[j * ka + i] = shoup52(c->ahat_mod_b[j * ka + i], b[j]);
            c->ifma = 1;
        }
    }
    if (st != CN_OK)
        cn_exact_conv_clear(c);
    return st;
}

/* sum_i y_i h_i mod b, lazily: each Shoup product is in [0, 2b) and the running sum is
 * kept in [0, 2b); the result is in [0, b). y_i any 64-bit values. */
static inline uint64_t dot_shoup(const uint64_t *y, const uint64_t *h, const uint64_t *hs,
                                 size_t k, uint64_t b)
{
    const uint64_t b2 = 2 * b;
    uint64_t s = 0;
    for (size_t i = 0; i < k; i++) {
        s += cn_mod_mul_shoup_lazy(y[i], h[i], hs[i], b);
        s = s >= b2 ? s - b2 : s;
    }
    return s >= b ? s - b : s;
}

/* For each coefficient: y_i = [x_i (A/a_i)^-1]_{a_i}, v = round(sum y_i / a_i) in
 * [0, ka], then out_j = sum y_i (A/a_i) - v A mod b_j, the centered representative of x.
 * in: ka rows in [0, a_i); out: kb rows in [0, b_j); no overlap. The body is inlined
 * with ka a constant for the common small bases, so the compiler unrolls it. */
static inline __attribute__((always_inline)) void
exact_conv_k(uint64_t *out, const uint64_t *in, size_t n, const cn_exact_conv_t *c,
             const size_t ka)
{
    const size_t kb = c->kb;
    uint64_t y[CONV_MAX];
    for (size_t l = 0; l < n; l++) {
        double v = 0;
        for (size_t i = 0; i < ka; i++) {
            y[i] = cn_mod_mul_shoup(in[i * n + l], c->ahat_inv[i], c->ahat_inv_s[i], c->a[i].p);
            v += (double)y[i] * c->inv_a[i];
        }
        size_t vr = (size_t)(v + 0.5);
        vr = vr > ka ? ka : vr;
        for (size_t j = 0; j < kb; j++) {
            const uint64_t p = c->b[j].p;
            uint64_t r = dot_shoup(y, c->ahat_mod_b + j * ka, c->ahat_mod_b_s + j * ka, ka, p);
            uint64_t corr = c->vA_mod_b[j * (ka + 1) + vr];
            out[j * n + l] = r >= corr ? r - corr : r + p - corr;
        }
    }
}

void cn_exact_conv(uint64_t *out, const uint64_t *in, size_t n, const cn_exact_conv_t *c)
{
#ifndef CN_NO_AVX512
    if (c->ifma && n % 8 == 0) {
        cn_exact_conv_ifma(out, in, n, c);
        return;
    }
#endif
    cn_exact_conv_portable(out, in, n, c);
}

void cn_exact_conv_portable(uint64_t *out, const uint64_t *in, size_t n,
                            const cn_exact_conv_t *c)
{
    assert(c->ka <= CONV_MAX);
    switch (c->ka) {
    case 1: exact_conv_k(out, in, n, c, 1); break;
    case 2: exact_conv_k(out, in, n, c, 2); break;
    case 3: exact_conv_k(out, in, n, c, 3); break;
    case 4: exact_conv_k(out, in, n, c, 4); break;
    case 5: exact_conv_k(out, in, n, c, 5); break;
    case 6: exact_conv_k(out, in, n, c, 6); break;
    case 7: exact_conv_k(out, in, n, c, 7); break;
    case 8: exact_conv_k(out, in, n, c, 8); break;
    default: exact_conv_k(out, in, n, c, c->ka); break;
    }
}

void cn_scale_clear(cn_scale_t *s)
{
    free(s->q);
    free(s->r);
    free(s->w);
    free(s->ws);
    free(s->f_hi);
    free(s->f_lo);
    free(s->int_mod_r);
    free(s->int_mod_r_s);
    free(s->rr);
    free(s->rr_s);
    free(s->ws52);
    free(s->f1);
    free(s->f0);
    free(s->int_mod_r_s52);
    free(s->rr_s52);
    free(s->inv_r);
    s->ws52 = s->f1 = s->f0 = s->int_mod_r_s52 = s->rr_s52 = NULL;
    s->inv_r = NULL;
    s->ifma = 0;
    s->q = s->r = NULL;
    s->w = s->ws = s->f_hi = s->f_lo = s->int_mod_r = s->int_mod_r_s = s->rr = s->rr_s = NULL;
}

cn_status cn_scale_init(cn_scale_t *s, const uint64_t *q, size_t kq, const uint64_t *tgt,
                        size_t kr, uint64_t num, int with_r)
{
    cn_status st = CN_OK;
    memset(s, 0, sizeof *s);
    s->kq = kq;
    s->kr = kr;
    s->with_r = with_r;
    if (kq == 0 || kr == 0 || kq > CONV_MAX || kr > CONV_MAX)
        return CN_ERR_INVALID_ARG;
    s->q = cn_alloc(kq, sizeof *s->q);
    s->r = cn_alloc(kr, sizeof *s->r);
    s->w = cn_alloc(kq, sizeof(uint64_t));
    s->ws = cn_alloc(kq, sizeof(uint64_t));
    s->f_hi = cn_alloc(kq, sizeof(uint64_t));
    s->f_lo = cn_alloc(kq, sizeof(uint64_t));
    s->int_mod_r = cn_alloc(kq * kr, sizeof(uint64_t));
    s->int_mod_r_s = cn_alloc(kq * kr, sizeof(uint64_t));
    s->rr = cn_alloc(kr, sizeof(uint64_t));
    s->rr_s = cn_alloc(kr, sizeof(uint64_t));
    if (!s->q || !s->r || !s->w || !s->ws || !s->f_hi || !s->f_lo || !s->int_mod_r || !s->int_mod_r_s || !s->rr ||
        !s->rr_s) {
        cn_scale_clear(s);
        return CN_ERR_NO_MEMORY;
    }
    mpz_t Q, M, N, qhat, tmp, quo, rem;
    mpz_inits(Q, M, N, qhat, tmp, quo, rem, NULL);
    mpz_set_ui(Q, 1);
    for (size_t i = 0; i < kq; i++)
        mpz_mul_ui(Q, Q, (unsigned long)q[i]);
    mpz_set_ui(M, 1);
    if (with_r)
        for (size_t j = 0; j < kr; j++)
            mpz_mul_ui(M, M, (unsigned long)tgt[j]);
    mpz_mul_ui(N, M, (unsigned long)num); /* num * M */
    for (size_t j = 0; j < kr && st == CN_OK; j++)
        st = cn_mod_init(&s->r[j], tgt[j]);
    for (size_t i = 0; i < kq && st == CN_OK; i++) {
        if ((st = cn_mod_init(&s->q[i], q[i])) != CN_OK)
            break;
        const cn_mod_t qi = s->q[i];
        mpz_divexact_ui(qhat, Q, (unsigned long)q[i]);
        mpz_mul(tmp, qhat, M); /* (Q/q_i) * M, inverted mod q_i */
        if ((st = cn_mod_inv(&s->w[i], mpz_mod_u64(tmp, q[i]), qi)) != CN_OK)
            break;
        s->ws[i] = cn_mod_shoup(s->w[i], qi);
        mpz_fdiv_qr_ui(quo, rem, N, (unsigned long)q[i]);
        for (size_t j = 0; j < kr; j++) {
            s->int_mod_r[j * kq + i] = mpz_mod_u64(quo, tgt[j]);
            s->int_mod_r_s[j * kq + i] = cn_mod_shoup(s->int_mod_r[j * kq + i], s->r[j]);
        }
        mpz_mul_2exp(tmp, rem, 128);
        mpz_fdiv_q_ui(tmp, tmp, (unsigned long)q[i]); /* frac * 2^128 */
        s->f_lo[i] = (uint64_t)mpz_getlimbn(tmp, 0);
        s->f_hi[i] = (uint64_t)mpz_getlimbn(tmp, 1);
    }
    for (size_t j = 0; j < kr && st == CN_OK; j++) {
        if (!with_r) {
            s->rr[j] = s->rr_s[j] = 0;
            continue;
        }
        uint64_t qinv;
        if ((st = cn_mod_inv(&qinv, mpz_mod_u64(Q, tgt[j]), s->r[j])) != CN_OK)
            break;
        s->rr[j] = cn_mod_mul(cn_mod_reduce_u64(num, s->r[j]), qinv, s->r[j]);
        s->rr_s[j] = cn_mod_shoup(s->rr[j], s->r[j]);
    }
    mpz_clears(Q, M, N, qhat, tmp, quo, rem, NULL);
    if (st == CN_OK && cn_bfv_ifma_available() && all_below_2_50(q, kq) &&
        all_below_2_50(tgt, kr)) {
        s->ws52 = cn_alloc(kq, sizeof(uint64_t));
        s->f1 = cn_alloc(kq, sizeof(uint64_t));
        s->f0 = cn_alloc(kq, sizeof(uint64_t));
        s->int_mod_r_s52 = cn_alloc(kq * kr, sizeof(uint64_t));
        s->rr_s52 = cn_alloc(kr, sizeof(uint64_t));
        s->inv_r = cn_alloc(kr, sizeof(double));
        if (!s->ws52 || !s->f1 || !s->f0 || !s->int_mod_r_s52 || !s->rr_s52 || !s->inv_r) {
            st = CN_ERR_NO_MEMORY;
        } else {
            const uint64_t m52 = ((uint64_t)1 << 52) - 1;
            for (size_t i = 0; i < kq; i++) {
                s->ws52[i] = shoup52(s->w[i], q[i]);
                /* the top 104 bits of the 128-bit fraction f_hi 2^64 + f_lo */
                s->f1[i] = s->f_hi[i] >> 12;
                s->f0[i] = ((s->f_hi[i] << 40) | (s->f_lo[i] >> 24)) & m52;
                for (size_t j = 0; j < kr; j++)
                    s->int_mod_r_s52[j * kq + i] = shoup52(s->int_mod_r[j * kq + i], tgt[j]);
            }
            for (size_t j = 0; j < kr; j++) {
                s->rr_s52[j] = shoup52(s->rr[j], tgt[j]);
                s->inv_r[j] = 1.0 / (double)tgt[j];
            }
            s->ifma = 1;
        }
    }
    if (st != CN_OK)
        cn_scale_clear(s);
    return st;
}

/* round(sum_i y_i * f_i) where f_i = (f_hi_i * 2^64 + f_lo_i) / 2^128 in [0, 1), as an
 * integer below 2^(64 + log2 k + 61 - 64 + 1). The low halves are truncated to units of
 * 2^-64, so the result is off only when the fraction is within k * 2^-64 of 1/2. */
static inline cn_u128 round_frac_sum(const uint64_t *y, const uint64_t *f_hi,
                                     const uint64_t *f_lo, size_t k)
{
    cn_u128 s = 0, lo = 0;
    uint64_t carry = 0;
    for (size_t i = 0; i < k; i++) {
        cn_u128 ph = (cn_u128)y[i] * f_hi[i];
        s += ph;
        carry += s < ph;
        lo += ((cn_u128)y[i] * f_lo[i]) >> 64;
    }
    s += lo;
    carry += s < lo;
    return ((cn_u128)carry << 64) + (uint64_t)(s >> 64) + (((uint64_t)s >> 63) & 1);
}

/* For each coefficient: y_i = [x_i w_i]_{q_i}; rho = round(sum y_i frac_i); then
 * out_j = sum y_i int_ij + rho (+ x_j [num Q^-1]_{r_j} with R) mod r_j. Inlined with kq
 * a constant for the common sizes. */
static inline __attribute__((always_inline)) void
scale_round_k(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
              const cn_scale_t *s, const size_t kq)
{
    const size_t kr = s->kr;
    uint64_t y[CONV_MAX];
    for (size_t l = 0; l < n; l++) {
        for (size_t i = 0; i < kq; i++)
            y[i] = cn_mod_mul_shoup(xq[i * n + l], s->w[i], s->ws[i], s->q[i].p);
        cn_u128 rho = round_frac_sum(y, s->f_hi, s->f_lo, kq);
        const int small = (uint64_t)(rho >> 64) == 0;
        for (size_t j = 0; j < kr; j++) {
            const cn_mod_t m = s->r[j];
            uint64_t r = dot_shoup(y, s->int_mod_r + j * kq, s->int_mod_r_s + j * kq, kq, m.p);
            uint64_t rr = small ? cn_mod_reduce_u64((uint64_t)rho, m) : cn_mod_reduce_any_u128(rho, m);
            r = cn_mod_add(r, rr, m);
            if (s->with_r)
                r = cn_mod_add(r, cn_mod_mul_shoup(xr[j * n + l], s->rr[j], s->rr_s[j], m.p), m);
            out[j * n + l] = r;
        }
    }
}

void cn_scale_round(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                    const cn_scale_t *s)
{
#ifndef CN_NO_AVX512
    if (s->ifma && n % 8 == 0) {
        cn_scale_round_ifma(out, xq, xr, n, s);
        return;
    }
#endif
    cn_scale_round_portable(out, xq, xr, n, s);
}

void cn_scale_round_portable(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                             const cn_scale_t *s)
{
    assert(s->kq <= CONV_MAX);
    switch (s->kq) {
    case 1: scale_round_k(out, xq, xr, n, s, 1); break;
    case 2: scale_round_k(out, xq, xr, n, s, 2); break;
    case 3: scale_round_k(out, xq, xr, n, s, 3); break;
    case 4: scale_round_k(out, xq, xr, n, s, 4); break;
    case 5: scale_round_k(out, xq, xr, n, s, 5); break;
    case 6: scale_round_k(out, xq, xr, n, s, 6); break;
    case 7: scale_round_k(out, xq, xr, n, s, 7); break;
    case 8: scale_round_k(out, xq, xr, n, s, 8); break;
    default: scale_round_k(out, xq, xr, n, s, s->kq); break;
    }
}
