/* Portable C kernels of the exact full-RNS conversions (HPS, CT-RSA 2019, sections 3.2
 * and 4.2): the twins of exact_avx512ifma.c, and the kernels every prime size can use. */
#include <assert.h>

#include "rns_internal.h"

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
static inline __attribute__((always_inline)) void exact_conv_k(uint64_t *out,
                                                               const uint64_t *in, size_t n,
                                                               const cn_exact_conv_t *c,
                                                               const size_t ka)
{
    const size_t kb = c->kb;
    uint64_t y[CN_EXACT_MAX];
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

void cn_exact_conv_portable(uint64_t *out, const uint64_t *in, size_t n,
                            const cn_exact_conv_t *c)
{
    assert(c->ka <= CN_EXACT_MAX);
    switch (c->ka) {
    case 1:
        exact_conv_k(out, in, n, c, 1);
        break;
    case 2:
        exact_conv_k(out, in, n, c, 2);
        break;
    case 3:
        exact_conv_k(out, in, n, c, 3);
        break;
    case 4:
        exact_conv_k(out, in, n, c, 4);
        break;
    case 5:
        exact_conv_k(out, in, n, c, 5);
        break;
    case 6:
        exact_conv_k(out, in, n, c, 6);
        break;
    case 7:
        exact_conv_k(out, in, n, c, 7);
        break;
    case 8:
        exact_conv_k(out, in, n, c, 8);
        break;
    default:
        exact_conv_k(out, in, n, c, c->ka);
        break;
    }
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
    uint64_t y[CN_EXACT_MAX];
    for (size_t l = 0; l < n; l++) {
        for (size_t i = 0; i < kq; i++)
            y[i] = cn_mod_mul_shoup(xq[i * n + l], s->w[i], s->ws[i], s->q[i].p);
        cn_u128 rho = round_frac_sum(y, s->f_hi, s->f_lo, kq);
        const int small = (uint64_t)(rho >> 64) == 0;
        for (size_t j = 0; j < kr; j++) {
            const cn_mod_t m = s->r[j];
            uint64_t r = dot_shoup(y, s->int_mod_r + j * kq, s->int_mod_r_s + j * kq, kq, m.p);
            uint64_t rr =
                small ? cn_mod_reduce_u64((uint64_t)rho, m) : cn_mod_reduce_any_u128(rho, m);
            r = cn_mod_add(r, rr, m);
            if (s->with_r)
                r = cn_mod_add(r, cn_mod_mul_shoup(xr[j * n + l], s->rr[j], s->rr_s[j], m.p),
                               m);
            out[j * n + l] = r;
        }
    }
}

void cn_scale_round_portable(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                             const cn_scale_t *s)
{
    assert(s->kq <= CN_EXACT_MAX);
    switch (s->kq) {
    case 1:
        scale_round_k(out, xq, xr, n, s, 1);
        break;
    case 2:
        scale_round_k(out, xq, xr, n, s, 2);
        break;
    case 3:
        scale_round_k(out, xq, xr, n, s, 3);
        break;
    case 4:
        scale_round_k(out, xq, xr, n, s, 4);
        break;
    case 5:
        scale_round_k(out, xq, xr, n, s, 5);
        break;
    case 6:
        scale_round_k(out, xq, xr, n, s, 6);
        break;
    case 7:
        scale_round_k(out, xq, xr, n, s, 7);
        break;
    case 8:
        scale_round_k(out, xq, xr, n, s, 8);
        break;
    default:
        scale_round_k(out, xq, xr, n, s, s->kq);
        break;
    }
}
