/* AVX-512 IFMA variants of the full-RNS kernels of rnsx.c, eight coefficients per vector,
 * for bases whose moduli are all below 2^50. Products use the 52-bit multiplier
 * (vpmadd52luq / vpmadd52huq) with 52-bit Shoup constants w' = floor(w 2^52 / p): for
 * x < 2^52 and w < p, x w - floor(x w' / 2^52) p is in [0, 2p) (Shoup's bound with the
 * word size 2^52; see D. Harvey, J. Symb. Comp. 2014, and for the use of IFMA in HE,
 * F. Boemer et al., "Intel HEXL", WAHC 2021). Same results as the portable kernels,
 * except that the fraction in scale-and-round is held to 2^-104 instead of 2^-128, so
 * the rounding can differ only when the exact value is within kq 2^-51 of a half. */
#include <immintrin.h>

#include "bfv_internal.h"

#define M52 ((1ULL << 52) - 1)

/* x w mod p in [0, 2p); x < 2^52, w < p < 2^50 */
static inline __m512i mul_lazy(__m512i x, __m512i w, __m512i ws, __m512i p)
{
    const __m512i z = _mm512_setzero_si512();
    __m512i q = _mm512_madd52hi_epu64(z, x, ws);
    __m512i a = _mm512_madd52lo_epu64(z, x, w);
    __m512i b = _mm512_madd52lo_epu64(z, q, p);
    return _mm512_and_si512(_mm512_sub_epi64(a, b), _mm512_set1_epi64((long long)M52));
}

/* x in [0, 2p) -> [0, p): min(x, x - p) with unsigned wrap-around */
static inline __m512i reduce1(__m512i x, __m512i p)
{
    return _mm512_min_epu64(x, _mm512_sub_epi64(x, p));
}

static inline __m512i add_mod(__m512i a, __m512i b, __m512i p)
{
    return reduce1(_mm512_add_epi64(a, b), p);
}

static inline __m512i set1(uint64_t v)
{
    return _mm512_set1_epi64((long long)v);
}

/* sum_i y_i h_i mod b in [0, b), lazily as the portable dot_shoup */
static inline __m512i dot52(const __m512i *y, const uint64_t *h, const uint64_t *hs, size_t k,
                            __m512i b)
{
    const __m512i b2 = _mm512_add_epi64(b, b);
    __m512i s = _mm512_setzero_si512();
    for (size_t i = 0; i < k; i++) {
        s = _mm512_add_epi64(s, mul_lazy(y[i], set1(h[i]), set1(hs[i]), b));
        s = _mm512_min_epu64(s, _mm512_sub_epi64(s, b2));
    }
    return reduce1(s, b);
}

void cn_exact_conv_ifma(uint64_t *out, const uint64_t *in, size_t n, const cn_exact_conv_t *c)
{
    const size_t ka = c->ka, kb = c->kb;
    __m512i y[64];
    const __m512d half = _mm512_set1_pd(0.5);
    for (size_t l = 0; l < n; l += 8) {
        __m512d v = _mm512_setzero_pd();
        for (size_t i = 0; i < ka; i++) {
            const __m512i p = set1(c->a[i].p);
            __m512i x = _mm512_loadu_si512((const void *)(in + i * n + l));
            y[i] = reduce1(mul_lazy(x, set1(c->ahat_inv[i]), set1(c->ahat_inv_s52[i]), p), p);
            v = _mm512_fmadd_pd(_mm512_cvtepu64_pd(y[i]), _mm512_set1_pd(c->inv_a[i]), v);
        }
        __m512i vr = _mm512_cvttpd_epu64(_mm512_add_pd(v, half));
        vr = _mm512_min_epu64(vr, set1(ka));
        for (size_t j = 0; j < kb; j++) {
            const __m512i b = set1(c->b[j].p);
            __m512i r = dot52(y, c->ahat_mod_b + j * ka, c->ahat_mod_b_s52 + j * ka, ka, b);
            __m512i corr = _mm512_i64gather_epi64(vr, (const void *)(c->vA_mod_b + j * (ka + 1)), 8);
            __m512i d = _mm512_sub_epi64(r, corr);
            d = _mm512_min_epu64(d, _mm512_add_epi64(d, b));
            _mm512_storeu_si512((void *)(out + j * n + l), d);
        }
    }
}

void cn_scale_round_ifma(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                         const cn_scale_t *s)
{
    const size_t kq = s->kq, kr = s->kr;
    __m512i y[64];
    const __m512i z = _mm512_setzero_si512();
    for (size_t l = 0; l < n; l += 8) {
        /* rho = round(sum y_i (f1_i 2^-52 + f0_i 2^-104)) = A + round(B 2^-52), with
         * A = sum hi52(y f1), B = sum lo52(y f1) + hi52(y f0); lo52(y f0) is dropped */
        __m512i A = z, B = z;
        for (size_t i = 0; i < kq; i++) {
            const __m512i p = set1(s->q[i].p);
            __m512i x = _mm512_loadu_si512((const void *)(xq + i * n + l));
            y[i] = reduce1(mul_lazy(x, set1(s->w[i]), set1(s->ws52[i]), p), p);
            const __m512i f1 = set1(s->f1[i]);
            A = _mm512_madd52hi_epu64(A, y[i], f1);
            B = _mm512_madd52lo_epu64(B, y[i], f1);
            B = _mm512_madd52hi_epu64(B, y[i], set1(s->f0[i]));
        }
        __m512i rho = _mm512_add_epi64(
            A, _mm512_srli_epi64(_mm512_add_epi64(B, set1(1ULL << 51)), 52));
        const __m512d rho_d = _mm512_cvtepu64_pd(rho);
        for (size_t j = 0; j < kr; j++) {
            const __m512i b = set1(s->r[j].p);
            __m512i r = dot52(y, s->int_mod_r + j * kq, s->int_mod_r_s52 + j * kq, kq, b);
            /* rho mod r_j: a quotient estimate in double is off by at most one */
            __m512i qe = _mm512_cvttpd_epu64(_mm512_mul_pd(rho_d, _mm512_set1_pd(s->inv_r[j])));
            __m512i rm = _mm512_sub_epi64(rho, _mm512_mullo_epi64(qe, b));
            rm = _mm512_min_epu64(rm, _mm512_add_epi64(rm, b)); /* was negative */
            rm = reduce1(rm, b);                                  /* was >= r_j */
            r = add_mod(r, rm, b);
            if (s->with_r) {
                __m512i x = _mm512_loadu_si512((const void *)(xr + j * n + l));
                r = add_mod(r, reduce1(mul_lazy(x, set1(s->rr[j]), set1(s->rr_s52[j]), b), b), b);
            }
            _mm512_storeu_si512((void *)(out + j * n + l), r);
        }
    }
}

/* x y mod p in [0, p) for x < 4p, y < p, p < 2^50: the quotient is estimated in double precision
 * (off by at most one), the remainder computed exactly modulo 2^52 and corrected. */
static inline __m512i mul_mod(__m512i x, __m512i y, __m512i p, __m512d pinv)
{
    const __m512i z = _mm512_setzero_si512(), m52 = set1(M52);
    __m512d xy = _mm512_mul_pd(_mm512_cvtepu64_pd(x), _mm512_cvtepu64_pd(y));
    __m512i q = _mm512_cvttpd_epu64(_mm512_mul_pd(xy, pinv));
    __m512i r = _mm512_sub_epi64(_mm512_madd52lo_epu64(z, x, y), _mm512_madd52lo_epu64(z, q, p));
    r = _mm512_and_si512(r, m52);
    /* r is the true remainder in [-p, 2p) modulo 2^52: negative ones are above 2^51 */
    __mmask8 neg = _mm512_cmpgt_epu64_mask(r, set1(1ULL << 51));
    r = _mm512_and_si512(_mm512_mask_add_epi64(r, neg, r, p), m52);
    return reduce1(r, p);
}

void cn_tensor_row_ifma(uint64_t *d0, uint64_t *d1, uint64_t *d2, const uint64_t *a0,
                        const uint64_t *a1, const uint64_t *b0, const uint64_t *b1, size_t n,
                        uint64_t modulus, int square)
{
    const __m512i p = set1(modulus);
    const __m512d pinv = _mm512_set1_pd(1.0 / (double)modulus);
    for (size_t i = 0; i < n; i += 8) {
        __m512i x0 = _mm512_loadu_si512((const void *)(a0 + i));
        __m512i x1 = _mm512_loadu_si512((const void *)(a1 + i));
        __m512i y0 = _mm512_loadu_si512((const void *)(b0 + i));
        __m512i y1 = _mm512_loadu_si512((const void *)(b1 + i));
        __m512i e1;
        if (square) {
            e1 = mul_mod(x0, x1, p, pinv);
            e1 = add_mod(e1, e1, p);
        } else {
            e1 = add_mod(mul_mod(x0, y1, p, pinv), mul_mod(x1, y0, p, pinv), p);
        }
        _mm512_storeu_si512((void *)(d0 + i), mul_mod(x0, y0, p, pinv));
        _mm512_storeu_si512((void *)(d1 + i), e1);
        _mm512_storeu_si512((void *)(d2 + i), mul_mod(x1, y1, p, pinv));
    }
}

void cn_mul_acc2_ifma(uint64_t *y0, uint64_t *y1, const uint64_t *x, const uint64_t *k0,
                      const uint64_t *k1, size_t n, uint64_t modulus)
{
    const __m512i p = set1(modulus);
    const __m512d pinv = _mm512_set1_pd(1.0 / (double)modulus);
    for (size_t i = 0; i < n; i += 8) {
        __m512i v = _mm512_loadu_si512((const void *)(x + i));
        __m512i s0 = _mm512_loadu_si512((const void *)(y0 + i));
        __m512i s1 = _mm512_loadu_si512((const void *)(y1 + i));
        s0 = add_mod(s0, mul_mod(v, _mm512_loadu_si512((const void *)(k0 + i)), p, pinv), p);
        s1 = add_mod(s1, mul_mod(v, _mm512_loadu_si512((const void *)(k1 + i)), p, pinv), p);
        _mm512_storeu_si512((void *)(y0 + i), s0);
        _mm512_storeu_si512((void *)(y1 + i), s1);
    }
}
