/* Portable C kernel of the multiplication's scaling step (mulscale.h): any primes below
 * 2^61, any n. The twin of mulscale_avx512ifma.c. */
#include "mulscale.h"

/* sum_i y_i w_i mod b over k terms, y_i any 64-bit values: each Shoup product in [0, 2b),
 * the running sum kept in [0, 2b); the result in [0, b) */
static inline uint64_t dot(const uint64_t *y, const uint64_t *w, const uint64_t *ws, size_t k,
                           uint64_t b)
{
    uint64_t s = 0;
    for (size_t i = 0; i < k; i++) {
        s += cn_mod_mul_shoup_lazy(y[i], w[i], ws[i], b);
        s = s >= 2 * b ? s - 2 * b : s;
    }
    return s >= b ? s - b : s;
}

/* round(sum_i y_i f_i), f_i = (f_hi_i 2^64 + f_lo_i) 2^-128 in [0, 1), y_i < 2^61: the low
 * halves of the products with f_lo are truncated to units of 2^-64, so the result can be
 * off only when the sum is within k 2^-64 of a half. The sum (below k t) is accumulated
 * in units of 2^-64 with the carries out of 128 bits counted apart. */
static inline cn_u128 round_sum(const uint64_t *y, const uint64_t *f_hi, const uint64_t *f_lo,
                                size_t k)
{
    cn_u128 s = 0, lo = 0;
    uint64_t carry = 0;
    for (size_t i = 0; i < k; i++) {
        const cn_u128 ph = (cn_u128)y[i] * f_hi[i];
        s += ph;
        carry += s < ph;
        lo += ((cn_u128)y[i] * f_lo[i]) >> 64;
    }
    s += lo;
    carry += s < lo;
    return ((cn_u128)carry << 64) + (uint64_t)(s >> 64) + (((uint64_t)s >> 63) & 1);
}

/* drop = 0: cn_mulscale; drop = 1: cn_mulscale_drop (kq >= 2) */
static void mulscale(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                     const cn_mulscale_t *s, int drop)
{
    const size_t kq = s->kq, kr = s->kr;
    uint64_t y[CN_EXACT_MAX], z[CN_EXACT_MAX], c[CN_EXACT_MAX];
    for (size_t l = 0; l < n; l++) {
        for (size_t i = 0; i < kq; i++)
            y[i] = cn_mod_mul_shoup(xq[i * n + l], s->qi[i], s->qi_s[i], s->q[i].p);
        const cn_u128 rho = round_sum(y, s->f_hi, s->f_lo, kq); /* in [0, kq t] */
        /* z_j = m (R/r_j)^-1 mod r_j = x_j c_j - sum_i y_i (Q/q_i) c_j */
        double v = 0;
        for (size_t j = 0; j < kr; j++) {
            const uint64_t b = s->r[j].p;
            uint64_t a = cn_mod_mul_shoup(xr[j * n + l], s->c[j], s->c_s[j], b);
            a += dot(y, s->h + j * kq, s->h_s + j * kq, kq, b);
            z[j] = a >= b ? a - b : a;
            v += (double)z[j] * s->inv_r[j];
        }
        /* m = sum z_j R/r_j - v R with v = round(sum z_j / r_j), |m| <= R/8 */
        size_t vr = (size_t)(v + 0.5);
        vr = vr > kr ? kr : vr;
        for (size_t i = 0; i < kq; i++) {
            const cn_mod_t m = s->q[i];
            uint64_t o = dot(z, s->g + i * kr, s->g_s + i * kr, kr, m.p);
            o = cn_mod_sub(o, s->vtr[i * (kr + 1) + vr], m);
            o = cn_mod_add(o, s->rho_small ? (uint64_t)rho : cn_mod_reduce_any_u128(rho, m), m);
            c[i] = o;
        }
        if (!drop) {
            for (size_t i = 0; i < kq; i++)
                out[i * n + l] = c[i];
            continue;
        }
        /* (c_i - [c_L]) q_L^-1 mod q_i, [c_L] = c_L - q_L when c_L > q_L / 2 */
        const uint64_t cl = c[kq - 1], ql = s->q[kq - 1].p;
        for (size_t i = 0; i + 1 < kq; i++) {
            const cn_mod_t m = s->q[i];
            uint64_t u = cn_mod_reduce_u64(cl, m);
            if (cl > ql / 2)
                u = cn_mod_sub(u, s->ql_mod[i], m);
            out[i * n + l] =
                cn_mod_mul_shoup(cn_mod_sub(c[i], u, m), s->ql_inv[i], s->ql_inv_s[i], m.p);
        }
    }
}

void cn_mulscale_portable(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                          const cn_mulscale_t *s)
{
    mulscale(out, xq, xr, n, s, 0);
}

void cn_mulscale_drop_portable(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                               const cn_mulscale_t *s)
{
    mulscale(out, xq, xr, n, s, 1);
}
