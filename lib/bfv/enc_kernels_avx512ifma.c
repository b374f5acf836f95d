/* AVX-512 IFMA twins of the secret-key encryption kernels of enc_kernels_portable.c (same
 * signatures and results), eight coefficients per vector, for primes below 2^50 and rows
 * whose length is a multiple of 8 (lib/internal/ifma52.h). */
#include "../internal/ifma52.h"
#include "../internal/shoup52.h"
#include "enc_kernels.h"

/* x y mod p in [0, p) for x < 4p, y < p, p < 2^50: the quotient estimated in double
 * precision (off by at most one), the remainder computed exactly modulo 2^52 and corrected
 * (as the tensor kernel of kernels_avx512ifma.c). */
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

void cn_enc_mul_row_ifma(uint64_t *y, const uint64_t *x, const uint64_t *s, size_t n,
                         uint64_t modulus)
{
    const __m512i p = cn_v52_set1(modulus);
    const __m512d pinv = _mm512_set1_pd(1.0 / (double)modulus);
    for (size_t i = 0; i < n; i += 8) {
        __m512i a = _mm512_loadu_si512((const void *)(x + i));
        __m512i b = _mm512_loadu_si512((const void *)(s + i));
        _mm512_storeu_si512((void *)(y + i), mul_mod(a, b, p, pinv));
    }
}

void cn_enc_c0_row_ifma(uint64_t *c0, const uint64_t *y, const int64_t *e, const uint64_t *m,
                        size_t n, uint64_t modulus, uint64_t delta)
{
    const __m512i p = cn_v52_set1(modulus), p2 = cn_v52_set1(2 * modulus);
    const __m512i d = cn_v52_set1(delta), ds = cn_v52_set1(cn_shoup52(delta, modulus));
    for (size_t i = 0; i < n; i += 8) {
        /* p + e in (0, 2p), + delta m (in [0, 2p)) in (0, 4p), reduced to [0, p) */
        __m512i dm = cn_v52_mul_lazy(_mm512_loadu_si512((const void *)(m + i)), d, ds, p);
        __m512i v = _mm512_add_epi64(p, _mm512_loadu_si512((const void *)(e + i)));
        v = _mm512_add_epi64(v, dm);
        v = _mm512_min_epu64(v, _mm512_sub_epi64(v, p2));
        v = cn_v52_reduce1(v, p);
        /* v + 2p - y in (0, 3p) */
        v = _mm512_sub_epi64(_mm512_add_epi64(v, p2),
                             _mm512_loadu_si512((const void *)(y + i)));
        v = _mm512_min_epu64(v, _mm512_sub_epi64(v, p2));
        _mm512_storeu_si512((void *)(c0 + i), cn_v52_reduce1(v, p));
    }
}
