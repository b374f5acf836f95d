/* Internal: the fractional sum shared by the IFMA scaling kernels (lib/rns/exact_avx512ifma.c,
 * lib/rns/mulscale_avx512ifma.c). Include it only from *_avx512ifma.c files.
 *
 * For eight coefficients at column l of the kq rows of x (row i modulo q_i, row stride n),
 * y_i = x_i w_i mod q_i in [0, q_i), and
 *   rho = round(sum_i y_i (f1_i 2^-52 + f0_i 2^-104)) = A + round(B 2^-52),
 *   A = sum_i hi52(y_i f1_i),  B = sum_i lo52(y_i f1_i) + hi52(y_i f0_i),
 * with lo52(y_i f0_i) dropped (the callers' error bounds count it). The fraction
 * (f1_i 2^52 + f0_i) 2^-104 is t / q_i (mulscale) or frac(num M / q_i) (exact's scaling);
 * Halevi, Polyakov, Shoup, "An improved RNS variant of the BFV homomorphic encryption
 * scheme", CT-RSA 2019, section 2.3. ws52 are w's 52-bit Shoup constants. */
#ifndef CN_RNS_FRAC_AVX512IFMA_H
#define CN_RNS_FRAC_AVX512IFMA_H

#include "../internal/ifma52.h"
#include "cryptonets/arith.h"

static inline __attribute__((always_inline)) __m512i
cn_v52_frac_round(__m512i *y, const uint64_t *x, size_t n, size_t l, const cn_mod_t *q,
                  const uint64_t *w, const uint64_t *ws52, const uint64_t *f1,
                  const uint64_t *f0, const size_t kq)
{
    const __m512i zero = _mm512_setzero_si512();
    __m512i A = zero, B = zero;
#pragma GCC unroll 16
    for (size_t i = 0; i < kq; i++) {
        const __m512i p = cn_v52_set1(q[i].p);
        __m512i xi = _mm512_loadu_si512((const void *)(x + i * n + l));
        y[i] =
            cn_v52_reduce1(cn_v52_mul_lazy(xi, cn_v52_set1(w[i]), cn_v52_set1(ws52[i]), p), p);
        const __m512i f = cn_v52_set1(f1[i]);
        A = _mm512_madd52hi_epu64(A, y[i], f);
        B = _mm512_madd52lo_epu64(B, y[i], f);
        B = _mm512_madd52hi_epu64(B, y[i], cn_v52_set1(f0[i]));
    }
    return _mm512_add_epi64(
        A, _mm512_srli_epi64(_mm512_add_epi64(B, cn_v52_set1(1ULL << 51)), 52));
}

#endif
