/* The writer's bit packing (stream.c) with AVX-512 VBMI: eight values per step, exactly
 * `bits` bytes out. Value i of a group sits at bit i bits, so at byte B_i = floor(i bits /
 * 8) shifted left by r_i = i bits mod 8 (vpsllvq); its bytes are moved to B_i .. by a byte
 * permutation (vpermb), the even values in one and the odd ones in another (values of
 * one parity never share a byte for bits >= 8, neighbours share at most one), and the two
 * are ORed. The same bytes as the portable loop (tests/io/test_pack.c). */
#include <immintrin.h>
#include <string.h>

#include "io_internal.h"

#define TARGET __attribute__((target("avx512f,avx512bw,avx512vbmi")))

TARGET size_t cn_io_pack8_vbmi(uint8_t *dst, const uint64_t *v, size_t n, unsigned bits)
{
    uint8_t idx[2][64];
    uint64_t msk[2] = {0, 0}, sh[8];
    memset(idx, 0, sizeof idx);
    for (unsigned i = 0; i < 8; i++) {
        const unsigned o = i * bits, b = o / 8, len = (o % 8 + bits + 7) / 8;
        sh[i] = o % 8;
        for (unsigned j = 0; j < len; j++) {
            idx[i & 1][b + j] = (uint8_t)(8 * i + j);
            msk[i & 1] |= (uint64_t)1 << (b + j);
        }
    }
    const __m512i ie = _mm512_loadu_si512((const void *)idx[0]),
                  io = _mm512_loadu_si512((const void *)idx[1]),
                  vs = _mm512_loadu_si512((const void *)sh);
    const __mmask64 out = bits == 64 ? ~(__mmask64)0 : ((__mmask64)1 << bits) - 1;
    size_t i = 0;
    for (; i + 8 <= n; i += 8, dst += bits) {
        const __m512i x = _mm512_sllv_epi64(_mm512_loadu_si512((const void *)(v + i)), vs);
        const __m512i y = _mm512_or_si512(_mm512_maskz_permutexvar_epi8(msk[0], ie, x),
                                          _mm512_maskz_permutexvar_epi8(msk[1], io, x));
        _mm512_mask_storeu_epi8((void *)dst, out, y);
    }
    return i;
}
