/* Internal: the 52-bit vector arithmetic shared by the AVX-512 IFMA kernels
 * (lib/ntt/ntt_avx512ifma.c, lib/rns/exact_avx512ifma.c, lib/bfv/kernels_avx512ifma.c).
 * Include it only from *_avx512ifma.c files, which the Makefile compiles with
 * -mavx512ifma. Eight 64-bit lanes; moduli p < 2^50. Products use vpmadd52luq /
 * vpmadd52huq with 52-bit Shoup constants w' = floor(w 2^52 / p) (lib/internal/shoup52.h):
 * for x < 2^52 and w < p, x w - floor(x w' / 2^52) p is in [0, 2p) (Shoup's bound with the
 * word size 2^52; D. Harvey, J. Symb. Comp. 2014; for IFMA in HE, F. Boemer et al.,
 * "Intel HEXL", WAHC 2021). */
#ifndef CN_INTERNAL_IFMA52_H
#define CN_INTERNAL_IFMA52_H

#include <immintrin.h>
#include <stdint.h>

#define CN_M52 ((1ULL << 52) - 1)

static inline __m512i cn_v52_set1(uint64_t v)
{
    return _mm512_set1_epi64((long long)v);
}

/* x w mod p in [0, 2p) for x < 2^52, w < p < 2^50, ws = floor(w 2^52 / p) */
static inline __m512i cn_v52_mul_lazy(__m512i x, __m512i w, __m512i ws, __m512i p)
{
    const __m512i z = _mm512_setzero_si512();
    __m512i q = _mm512_madd52hi_epu64(z, x, ws);
    __m512i a = _mm512_madd52lo_epu64(z, x, w);
    __m512i b = _mm512_madd52lo_epu64(z, q, p);
    return _mm512_and_si512(_mm512_sub_epi64(a, b), _mm512_set1_epi64((long long)CN_M52));
}

/* x in [0, 2p) -> [0, p): min(x, x - p) with unsigned wrap-around */
static inline __m512i cn_v52_reduce1(__m512i x, __m512i p)
{
    return _mm512_min_epu64(x, _mm512_sub_epi64(x, p));
}

/* (a + b) mod p for a, b in [0, p) */
static inline __m512i cn_v52_add_mod(__m512i a, __m512i b, __m512i p)
{
    return cn_v52_reduce1(_mm512_add_epi64(a, b), p);
}

#endif
