/* AVX-512 IFMA twins of the exact conversion kernels of exact_portable.c, eight
 * coefficients per vector, for bases whose moduli are all below 2^50 (the 52-bit
 * arithmetic of lib/internal/ifma52.h). Same results as the portable kernels,
 * except that the fraction in scale-and-round is held to 2^-104 instead of 2^-128, so
 * the rounding can differ only when the exact value is within kq 2^-51 of a half. The
 * bodies are inlined with the source base's size a constant for the common sizes (as
 * exact_portable.c) and their loops over it unrolled (GCC's -O2 does not unroll them by
 * itself), so that the y_i stay in registers. */
#include "../internal/ifma52.h"
#include "frac_avx512ifma.h"
#include "rns_internal.h"

/* sum_i y_i h_i mod b in [0, b), lazily as the portable dot_shoup */
static inline __attribute__((always_inline)) __m512i
dot52(const __m512i *y, const uint64_t *h, const uint64_t *hs, size_t k, __m512i b)
{
    const __m512i b2 = _mm512_add_epi64(b, b);
    __m512i s = _mm512_setzero_si512();
#pragma GCC unroll 8
    for (size_t i = 0; i < k; i++) {
        s = _mm512_add_epi64(s,
                             cn_v52_mul_lazy(y[i], cn_v52_set1(h[i]), cn_v52_set1(hs[i]), b));
        s = _mm512_min_epu64(s, _mm512_sub_epi64(s, b2));
    }
    return cn_v52_reduce1(s, b);
}

/* v A mod b for v in [0, ka]: a lane permutation of the table's ka + 1 entries when they
 * fit one vector (ka < 8), else a gather */
static inline __attribute__((always_inline)) __m512i va_mod_b(__m512i vr, const uint64_t *tbl,
                                                              __m512i tv, size_t ka)
{
    if (ka < 8)
        return _mm512_permutexvar_epi64(vr, tv);
    return _mm512_i64gather_epi64(vr, (const void *)tbl, 8);
}

static inline __attribute__((always_inline)) void exact_conv_k(uint64_t *out,
                                                               const uint64_t *in, size_t n,
                                                               const cn_exact_conv_t *c,
                                                               const size_t ka)
{
    const size_t kb = c->kb;
    __m512i y[CN_EXACT_MAX], tv[CN_EXACT_MAX];
    const __m512d half = _mm512_set1_pd(0.5);
    /* the correction tables v A mod b_j, one vector each (ka < 8) */
    for (size_t j = 0; j < kb; j++)
        tv[j] = ka < 8 ? _mm512_maskz_loadu_epi64((__mmask8)((1u << (ka + 1)) - 1),
                                                  c->vA_mod_b + j * (ka + 1))
                       : _mm512_setzero_si512();
    for (size_t l = 0; l < n; l += 8) {
        __m512d v = _mm512_setzero_pd();
#pragma GCC unroll 8
        for (size_t i = 0; i < ka; i++) {
            const __m512i p = cn_v52_set1(c->a[i].p);
            __m512i x = _mm512_loadu_si512((const void *)(in + i * n + l));
            y[i] = cn_v52_reduce1(cn_v52_mul_lazy(x, cn_v52_set1(c->ahat_inv[i]),
                                                  cn_v52_set1(c->ahat_inv_s52[i]), p),
                                  p);
            v = _mm512_fmadd_pd(_mm512_cvtepu64_pd(y[i]), _mm512_set1_pd(c->inv_a[i]), v);
        }
        __m512i vr = _mm512_cvttpd_epu64(_mm512_add_pd(v, half));
        vr = _mm512_min_epu64(vr, cn_v52_set1(ka));
        for (size_t j = 0; j < kb; j++) {
            const __m512i b = cn_v52_set1(c->b[j].p);
            __m512i r = dot52(y, c->ahat_mod_b + j * ka, c->ahat_mod_b_s52 + j * ka, ka, b);
            __m512i corr = va_mod_b(vr, c->vA_mod_b + j * (ka + 1), tv[j], ka);
            __m512i d = _mm512_sub_epi64(r, corr);
            d = _mm512_min_epu64(d, _mm512_add_epi64(d, b));
            _mm512_storeu_si512((void *)(out + j * n + l), d);
        }
    }
}

void cn_exact_conv_ifma(uint64_t *out, const uint64_t *in, size_t n, const cn_exact_conv_t *c)
{
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
    default:
        exact_conv_k(out, in, n, c, c->ka);
        break;
    }
}

static inline __attribute__((always_inline)) void
scale_round_k(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
              const cn_scale_t *s, const size_t kq)
{
    const size_t kr = s->kr;
    __m512i y[CN_EXACT_MAX];
    for (size_t l = 0; l < n; l += 8) {
        const __m512i rho =
            cn_v52_frac_round(y, xq, n, l, s->q, s->w, s->ws52, s->f1, s->f0, kq);
        const __m512d rho_d = _mm512_cvtepu64_pd(rho);
        for (size_t j = 0; j < kr; j++) {
            const __m512i b = cn_v52_set1(s->r[j].p);
            __m512i r = dot52(y, s->int_mod_r + j * kq, s->int_mod_r_s52 + j * kq, kq, b);
            /* rho mod r_j: a quotient estimate in double is off by at most one */
            __m512i qe = _mm512_cvttpd_epu64(_mm512_mul_pd(rho_d, _mm512_set1_pd(s->inv_r[j])));
            __m512i rm = _mm512_sub_epi64(rho, _mm512_mullo_epi64(qe, b));
            rm = _mm512_min_epu64(rm, _mm512_add_epi64(rm, b)); /* was negative */
            rm = cn_v52_reduce1(rm, b);                         /* was >= r_j */
            r = cn_v52_add_mod(r, rm, b);
            if (s->with_r) {
                __m512i x = _mm512_loadu_si512((const void *)(xr + j * n + l));
                __m512i v =
                    cn_v52_mul_lazy(x, cn_v52_set1(s->rr[j]), cn_v52_set1(s->rr_s52[j]), b);
                r = cn_v52_add_mod(r, cn_v52_reduce1(v, b), b);
            }
            _mm512_storeu_si512((void *)(out + j * n + l), r);
        }
    }
}

void cn_scale_round_ifma(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                         const cn_scale_t *s)
{
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
