/* AVX-512 (F, VL, DQ, BW) twins of the sampling kernels of sample.c (same bytes in, same
 * values out; contracts in sample_kernels.h): eight candidates per vector, each lane's
 * bytes moved into place by a 16-bit permutation and a per-lane shift. */
#include <immintrin.h>

#include "cryptonets/rand.h"
#include "sample_kernels.h"

/* the permutation and shifts that put bytes [i nb, i nb + 8) of a 64-byte block into lane
 * i (i < 8): 16-bit words from floor(i nb / 2), then shifted right by 8 (i nb mod 2) bits;
 * the words read stay below 32 for nb <= 8 */
static void lanes(__m512i *idx, __m512i *shift, unsigned nb)
{
    uint16_t w[32];
    uint64_t sh[8];
    for (unsigned i = 0; i < 8; i++) {
        for (unsigned j = 0; j < 4; j++)
            w[4 * i + j] = (uint16_t)(i * nb / 2 + j);
        sh[i] = 8 * ((i * nb) & 1);
    }
    *idx = _mm512_loadu_si512((const void *)w);
    *shift = _mm512_loadu_si512((const void *)sh);
}

size_t cn_uniform_accept_avx512(uint64_t *out, const uint8_t *buf, size_t m, unsigned nb,
                                uint64_t mask, uint64_t q)
{
    __m512i idx, shift;
    lanes(&idx, &shift, nb);
    const __m512i vm = _mm512_set1_epi64((long long)mask), vq = _mm512_set1_epi64((long long)q);
    size_t k = 0, i = 0;
    for (; i + 8 <= m; i += 8) {
        __m512i v = _mm512_loadu_si512((const void *)(buf + i * nb));
        v = _mm512_and_si512(_mm512_srlv_epi64(_mm512_permutexvar_epi16(idx, v), shift), vm);
        const __mmask8 ok = _mm512_cmplt_epu64_mask(v, vq);
        /* k <= i: the eight lanes fit below i + 8 <= m */
        _mm512_storeu_si512((void *)(out + k), _mm512_maskz_compress_epi64(ok, v));
        k += (size_t)__builtin_popcount(ok);
    }
    return k + cn_uniform_accept_portable(out + k, buf + i * nb, m - i, nb, mask, q);
}

/* popcount of each 64-bit lane (SWAR in bytes, then a sum of absolute differences) */
static inline __m512i popcnt64(__m512i x)
{
    const __m512i m1 = _mm512_set1_epi8(0x55), m2 = _mm512_set1_epi8(0x33),
                  m4 = _mm512_set1_epi8(0x0f);
    x = _mm512_sub_epi64(x, _mm512_and_si512(_mm512_srli_epi64(x, 1), m1));
    x = _mm512_add_epi64(_mm512_and_si512(x, m2),
                         _mm512_and_si512(_mm512_srli_epi64(x, 2), m2));
    x = _mm512_and_si512(_mm512_add_epi64(x, _mm512_srli_epi64(x, 4)), m4);
    return _mm512_sad_epu8(x, _mm512_setzero_si512());
}

void cn_cbd_avx512(int64_t *out, const uint8_t *buf, size_t m)
{
    __m512i idx, shift;
    lanes(&idx, &shift, 6); /* even: no shift */
    const __m512i em = _mm512_set1_epi64((long long)(((uint64_t)1 << CN_CBD_ETA) - 1));
    size_t i = 0;
    for (; i + 8 <= m; i += 8) {
        __m512i x =
            _mm512_permutexvar_epi16(idx, _mm512_loadu_si512((const void *)(buf + 6 * i)));
        __m512i a = popcnt64(_mm512_and_si512(x, em));
        __m512i b = popcnt64(_mm512_and_si512(_mm512_srli_epi64(x, CN_CBD_ETA), em));
        _mm512_storeu_si512((void *)(out + i), _mm512_sub_epi64(a, b));
    }
    cn_cbd_portable(out + i, buf + 6 * i, m - i);
}
