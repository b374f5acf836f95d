/* AVX-512 IFMA twins of the BFV kernels of kernels_portable.c (same signatures and
 * results), eight coefficients per vector, for primes below 2^50 and rows whose length is
 * a multiple of 8. Products of two variables take their quotient from a double-precision
 * estimate and their remainder exactly modulo 2^52 (lib/internal/ifma52.h). */
#include "../internal/ifma52.h"
#include "kernels.h"

/* x y mod p in [0, p) for x < 4p, y < p, p < 2^50: the quotient is estimated in double
 * precision (off by at most one), the remainder computed exactly modulo 2^52 and corrected. */
static inline __m512i mul_mod(__m512i x, __m512i y, __m512i p, __m512d pinv)
{
    const __m512i z = _mm512_setzero_si512(), m52 = cn_v52_set1(CN_M52);
    __m512d xy = _mm512_mul_pd(_mm512_cvtepu64_pd(x), _mm512_cvtepu64_pd(y));
    __m512i q = _mm512_cvttpd_epu64(_mm512_mul_pd(xy, pinv));
    __m512i r =
        _mm512_sub_epi64(_mm512_madd52lo_epu64(z, x, y), _mm512_madd52lo_epu64(z, q, p));
    r = _mm512_and_si512(r, m52);
    /* r is the true remainder in [-p, 2p) modulo 2^52: negative ones are above 2^51 */
    __mmask8 neg = _mm512_cmpgt_epu64_mask(r, cn_v52_set1(1ULL << 51));
    r = _mm512_and_si512(_mm512_mask_add_epi64(r, neg, r, p), m52);
    return cn_v52_reduce1(r, p);
}

/* x in [0, 4p) -> [0, p) */
static inline __m512i reduce4(__m512i x, __m512i p, __m512i p2)
{
    return cn_v52_reduce1(cn_v52_reduce1(x, p2), p);
}

void cn_tensor_row_ifma(uint64_t *d0, uint64_t *d1, uint64_t *d2, const uint64_t *a0,
                        const uint64_t *a1, const uint64_t *b0, const uint64_t *b1, size_t n,
                        uint64_t modulus, int square)
{
    const __m512i p = cn_v52_set1(modulus);
    const __m512d pinv = _mm512_set1_pd(1.0 / (double)modulus);
    const __m512i p2 = _mm512_add_epi64(p, p);
    for (size_t i = 0; i < n; i += 8) {
        __m512i x0 = reduce4(_mm512_loadu_si512((const void *)(a0 + i)), p, p2);
        __m512i x1 = reduce4(_mm512_loadu_si512((const void *)(a1 + i)), p, p2);
        __m512i y0 = square ? x0 : reduce4(_mm512_loadu_si512((const void *)(b0 + i)), p, p2);
        __m512i y1 = square ? x1 : reduce4(_mm512_loadu_si512((const void *)(b1 + i)), p, p2);
        __m512i e1;
        if (square) {
            e1 = mul_mod(x0, x1, p, pinv);
            e1 = cn_v52_add_mod(e1, e1, p);
        } else {
            e1 = cn_v52_add_mod(mul_mod(x0, y1, p, pinv), mul_mod(x1, y0, p, pinv), p);
        }
        _mm512_storeu_si512((void *)(d0 + i), mul_mod(x0, y0, p, pinv));
        _mm512_storeu_si512((void *)(d1 + i), e1);
        _mm512_storeu_si512((void *)(d2 + i), mul_mod(x1, y1, p, pinv));
    }
}

void cn_mul_acc2_ifma(uint64_t *y0, uint64_t *y1, const uint64_t *const *x,
                      const uint64_t *const *k0, const uint64_t *const *k1, size_t nd, size_t n,
                      uint64_t modulus)
{
    const __m512i p = cn_v52_set1(modulus);
    const __m512d pinv = _mm512_set1_pd(1.0 / (double)modulus);
    for (size_t d = 0; d < nd; d++) {
        const uint64_t *xd = x[d], *a = k0[d], *b = k1[d];
        for (size_t i = 0; i < n; i += 8) {
            __m512i v = _mm512_loadu_si512((const void *)(xd + i));
            __m512i s0 = _mm512_loadu_si512((const void *)(y0 + i));
            __m512i s1 = _mm512_loadu_si512((const void *)(y1 + i));
            __m512i p0 = mul_mod(v, _mm512_loadu_si512((const void *)(a + i)), p, pinv);
            __m512i p1 = mul_mod(v, _mm512_loadu_si512((const void *)(b + i)), p, pinv);
            _mm512_storeu_si512((void *)(y0 + i), cn_v52_add_mod(s0, p0, p));
            _mm512_storeu_si512((void *)(y1 + i), cn_v52_add_mod(s1, p1, p));
        }
    }
}

/* a - b mod p for a, b in [0, p) */
static inline __m512i sub_mod(__m512i a, __m512i b, __m512i p)
{
    const __m512i d = _mm512_sub_epi64(a, b);
    return _mm512_mask_add_epi64(d, _mm512_cmplt_epu64_mask(a, b), d, p);
}

void cn_divround_row_ifma(uint64_t *out, const uint64_t *x, const uint64_t *last, size_t n,
                          uint64_t modulus, uint64_t P, uint64_t inv)
{
    /* Shoup quotients floor(w 2^52 / p) of w = 1 (v mod p for any v < 2^52) and of inv */
    const uint64_t one_s = (uint64_t)(((unsigned __int128)1 << 52) / modulus);
    const uint64_t inv_s = (uint64_t)(((unsigned __int128)inv << 52) / modulus);
    const __m512i p = cn_v52_set1(modulus), half = cn_v52_set1(P >> 1);
    const __m512i pm = cn_v52_set1(P % modulus), vone = cn_v52_set1(1),
                  vone_s = cn_v52_set1(one_s);
    const __m512i w = cn_v52_set1(inv), ws = cn_v52_set1(inv_s), z = _mm512_setzero_si512();
    for (size_t i = 0; i < n; i += 8) {
        const __m512i v = _mm512_loadu_si512((const void *)(last + i));
        __m512i vm = cn_v52_reduce1(cn_v52_mul_lazy(v, vone, vone_s, p), p);
        const __m512i neg = _mm512_mask_mov_epi64(z, _mm512_cmpgt_epu64_mask(v, half), pm);
        vm = sub_mod(vm, neg, p);
        const __m512i d = sub_mod(_mm512_loadu_si512((const void *)(x + i)), vm, p);
        _mm512_storeu_si512((void *)(out + i), cn_v52_reduce1(cn_v52_mul_lazy(d, w, ws, p), p));
    }
}
