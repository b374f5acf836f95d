/* AVX-512 IFMA twin of mulscale_portable.c, eight coefficients per vector, for bases whose
 * primes are all below 2^50 (lib/internal/ifma52.h). Same results as the portable kernel,
 * except that the fractions t / q_i are held to 2^-104 instead of 2^-128 (rho can differ
 * only when the exact sum is within kq 2^-51 of a half, as exact_avx512ifma.c's
 * scale-and-round). The body is inlined with both base sizes constants for the common
 * shapes, so that the y_i and z_j stay in registers. */
#include "../internal/ifma52.h"
#include "frac_avx512ifma.h"
#include "mulscale.h"

/* acc + sum_i y_i w_i mod b in [0, b), acc in [0, 2b): lazily, the running sum in [0, 2b) */
static inline __attribute__((always_inline)) __m512i
dot52(__m512i acc, const __m512i *y, const uint64_t *w, const uint64_t *ws, size_t k, __m512i b)
{
    const __m512i b2 = _mm512_add_epi64(b, b);
    __m512i s = acc;
#pragma GCC unroll 16
    for (size_t i = 0; i < k; i++) {
        s = _mm512_add_epi64(s,
                             cn_v52_mul_lazy(y[i], cn_v52_set1(w[i]), cn_v52_set1(ws[i]), b));
        s = _mm512_min_epu64(s, _mm512_sub_epi64(s, b2));
    }
    return cn_v52_reduce1(s, b);
}

/* (lo, hi) += y w as the low and high 52 bits of the 104-bit product (y < 2^52, w < 2^50):
 * the dot products are summed unreduced and reduced once (red104) */
static inline __attribute__((always_inline)) void mac104(__m512i *lo, __m512i *hi, __m512i y,
                                                         uint64_t w)
{
    const __m512i wv = cn_v52_set1(w);
    *lo = _mm512_madd52lo_epu64(*lo, y, wv);
    *hi = _mm512_madd52hi_epu64(*hi, y, wv);
}

/* hi 2^52 + lo mod b in [0, b), for the sums of at most 7 products of a value below 2^51 by
 * one below 2^50 (hi < 7 2^49, lo < 7 2^52): the carries of lo above 2^52 move into hi
 * (still below 2^52), then
 * hi (2^52 mod b) and the low 52 bits of lo are each reduced to [0, 2b) by a Shoup product
 * (w52 = 2^52 mod b, one_s = floor(2^52 / b)) and their sum to [0, b) */
static inline __attribute__((always_inline)) __m512i
red104(__m512i lo, __m512i hi, __m512i b, uint64_t w52, uint64_t w52_s, uint64_t one_s)
{
    const __m512i z = _mm512_setzero_si512();
    hi = _mm512_add_epi64(hi, _mm512_srli_epi64(lo, 52));
    lo = _mm512_and_si512(lo, cn_v52_set1(CN_M52));
    __m512i a = cn_v52_mul_lazy(hi, cn_v52_set1(w52), cn_v52_set1(w52_s), b);
    __m512i q = _mm512_madd52hi_epu64(z, lo, cn_v52_set1(one_s));
    __m512i c = _mm512_and_si512(_mm512_sub_epi64(lo, _mm512_madd52lo_epu64(z, q, b)),
                                 cn_v52_set1(CN_M52));
    __m512i r = _mm512_add_epi64(a, c); /* [0, 4b) */
    r = cn_v52_reduce1(r, _mm512_add_epi64(b, b));
    return cn_v52_reduce1(r, b);
}

/* drop = 0: cn_mulscale; drop = 1: cn_mulscale_drop (kq >= 2), where the dropped prime's
 * row is formed first and the others are switched as they are formed (as lib/bfv's
 * cn_divround_row_ifma) */
static inline __attribute__((always_inline)) void
mulscale_k(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
           const cn_mulscale_t *s, const size_t kq, const size_t kr, const int drop)
{
    __m512i y[CN_EXACT_MAX], z[CN_EXACT_MAX], tv[CN_EXACT_MAX];
    const __m512i zero = _mm512_setzero_si512();
    const __m512d half = _mm512_set1_pd(0.5);
    /* the correction tables v t R mod q_i, one vector each when kr < 8 */
    for (size_t i = 0; i < kq; i++)
        tv[i] = kr < 8 ? _mm512_maskz_loadu_epi64((__mmask8)((1u << (kr + 1)) - 1),
                                                  s->vtr + i * (kr + 1))
                       : zero;
    for (size_t l = 0; l < n; l += 8) {
        /* y_i and rho = round(sum y_i t / q_i) */
        const __m512i rho =
            cn_v52_frac_round(y, xq, n, l, s->q, s->qi, s->qi_s52, s->f1, s->f0, kq);
        /* z_j = x_j c_j + sum_i y_i h_ij mod r_j; v = round(sum z_j / r_j) */
        __m512d v = _mm512_setzero_pd();
#pragma GCC unroll 16
        for (size_t j = 0; j < kr; j++) {
            const __m512i b = cn_v52_set1(s->r[j].p);
            __m512i x = _mm512_loadu_si512((const void *)(xr + j * n + l));
            if (kq + 1 <= 7) { /* summed unreduced, reduced once */
                __m512i lo = zero, hi = zero;
                mac104(&lo, &hi, x, s->c[j]);
#pragma GCC unroll 16
                for (size_t i = 0; i < kq; i++)
                    mac104(&lo, &hi, y[i], s->h[j * kq + i]);
                z[j] = red104(lo, hi, b, s->w52[kq + j], s->w52_s[kq + j], s->one_s[kq + j]);
            } else {
                __m512i a =
                    cn_v52_mul_lazy(x, cn_v52_set1(s->c[j]), cn_v52_set1(s->c_s52[j]), b);
                z[j] = dot52(a, y, s->h + j * kq, s->h_s52 + j * kq, kq, b);
            }
            v = _mm512_fmadd_pd(_mm512_cvtepu64_pd(z[j]), _mm512_set1_pd(s->inv_r[j]), v);
        }
        __m512i vr = _mm512_cvttpd_epu64(_mm512_add_pd(v, half));
        vr = _mm512_min_epu64(vr, cn_v52_set1(kr));
        const __m512d rho_d = _mm512_cvtepu64_pd(rho);
        __m512i cl = zero, neg = zero; /* drop: c_L in [0, q_L), c_L > q_L / 2 */
        __mmask8 big = 0;
#pragma GCC unroll 16
        for (size_t ii = 0; ii < kq; ii++) {
            const size_t i = drop ? (ii + kq - 1) % kq : ii; /* drop: q_L first */
            const __m512i p = cn_v52_set1(s->q[i].p);
            __m512i o;
            if (kr <= 7) {
                __m512i lo = zero, hi = zero;
#pragma GCC unroll 16
                for (size_t j = 0; j < kr; j++)
                    mac104(&lo, &hi, z[j], s->g[i * kr + j]);
                o = red104(lo, hi, p, s->w52[i], s->w52_s[i], s->one_s[i]);
            } else {
                o = dot52(zero, z, s->g + i * kr, s->g_s52 + i * kr, kr, p);
            }
            __m512i corr =
                kr < 8 ? _mm512_permutexvar_epi64(vr, tv[i])
                       : _mm512_i64gather_epi64(vr, (const void *)(s->vtr + i * (kr + 1)), 8);
            o = _mm512_sub_epi64(o, corr);
            o = _mm512_min_epu64(o, _mm512_add_epi64(o, p)); /* was negative */
            __m512i rm = rho;
            if (!s->rho_small) {
                /* rho mod q_i: a quotient estimate in double is off by at most one */
                __m512i qe =
                    _mm512_cvttpd_epu64(_mm512_mul_pd(rho_d, _mm512_set1_pd(s->inv_q[i])));
                rm = _mm512_sub_epi64(rho, _mm512_mullo_epi64(qe, p));
                rm = _mm512_min_epu64(rm, _mm512_add_epi64(rm, p)); /* was negative */
                rm = cn_v52_reduce1(rm, p);                         /* was >= q_i */
            }
            o = cn_v52_add_mod(o, rm, p);
            if (!drop) {
                _mm512_storeu_si512((void *)(out + i * n + l), o);
            } else if (i == kq - 1) {
                cl = o;
                big = _mm512_cmpgt_epu64_mask(cl, cn_v52_set1(s->q[i].p >> 1));
            } else {
                /* u = [c_L] mod q_i: c_L mod q_i (one subtraction when q_L < 2 q_i, else
                 * by a Shoup product with 1), less q_L mod q_i where c_L > q_L / 2; then
                 * (c_i - u) q_L^-1 */
                __m512i u = s->ql_near ? cl
                                       : cn_v52_mul_lazy(cl, cn_v52_set1(1),
                                                         cn_v52_set1(s->one_s[i]), p);
                u = cn_v52_reduce1(u, p);
                neg = _mm512_maskz_mov_epi64(big, cn_v52_set1(s->ql_mod[i]));
                u = _mm512_sub_epi64(u, neg);
                u = _mm512_min_epu64(u, _mm512_add_epi64(u, p)); /* was negative */
                o = _mm512_sub_epi64(o, u);
                o = _mm512_min_epu64(o, _mm512_add_epi64(o, p)); /* was negative */
                o = cn_v52_mul_lazy(o, cn_v52_set1(s->ql_inv[i]), cn_v52_set1(s->ql_inv_s52[i]),
                                    p);
                _mm512_storeu_si512((void *)(out + i * n + l), cn_v52_reduce1(o, p));
            }
        }
    }
}

#define CN_MS_CASE(a, b)                                                                       \
    case (a)*16 + (b):                                                                         \
        mulscale_k(out, xq, xr, n, s, a, b, drop);                                             \
        return;

/* the body with both base sizes constants for the common shapes */
static inline __attribute__((always_inline)) void shapes(uint64_t *out, const uint64_t *xq,
                                                         const uint64_t *xr, size_t n,
                                                         const cn_mulscale_t *s, const int drop)
{
    switch (s->kq <= 8 && s->kr <= 8 ? s->kq * 16 + s->kr : 0) {
        CN_MS_CASE(1, 3)
        CN_MS_CASE(2, 3)
        CN_MS_CASE(3, 3)
        CN_MS_CASE(1, 4)
        CN_MS_CASE(2, 4)
        CN_MS_CASE(3, 4)
        CN_MS_CASE(4, 4)
        CN_MS_CASE(5, 4)
        CN_MS_CASE(3, 5)
        CN_MS_CASE(4, 5)
        CN_MS_CASE(5, 5)
        CN_MS_CASE(6, 5)
        CN_MS_CASE(6, 6)
        CN_MS_CASE(7, 6)
        CN_MS_CASE(8, 6)
    default:
        mulscale_k(out, xq, xr, n, s, s->kq, s->kr, drop);
        return;
    }
}

void cn_mulscale_ifma(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                      const cn_mulscale_t *s)
{
    shapes(out, xq, xr, n, s, 0);
}

void cn_mulscale_drop_ifma(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                           const cn_mulscale_t *s)
{
    shapes(out, xq, xr, n, s, 1);
}
