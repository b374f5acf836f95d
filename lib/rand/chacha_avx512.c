/* ChaCha20 keystream with AVX-512 (F), sixteen blocks at a time: one vector per state
 * word, lane b holding block b (the "vertical" layout; D. J. Bernstein, "ChaCha, a
 * variant of Salsa20", 2008, and RFC 8439 section 2.3 for the block function), the
 * rotations by vprold, then a 16 x 16 transpose into block order. The same bytes as
 * libsodium's crypto_stream_chacha20 (Bernstein's layout: 64-bit block counter in words
 * 12-13, 64-bit nonce in words 14-15); tests/rand checks it against libsodium and RFC
 * 8439's block function. */
#include <immintrin.h>

#include "sample_kernels.h"

#define QR(a, b, c, d)                                                                         \
    do {                                                                                       \
        a = _mm512_add_epi32(a, b);                                                            \
        d = _mm512_rol_epi32(_mm512_xor_si512(d, a), 16);                                      \
        c = _mm512_add_epi32(c, d);                                                            \
        b = _mm512_rol_epi32(_mm512_xor_si512(b, c), 12);                                      \
        a = _mm512_add_epi32(a, b);                                                            \
        d = _mm512_rol_epi32(_mm512_xor_si512(d, a), 8);                                       \
        c = _mm512_add_epi32(c, d);                                                            \
        b = _mm512_rol_epi32(_mm512_xor_si512(b, c), 7);                                       \
    } while (0)

/* out[0, 64 m) for block b of lane b: the 4 x 4 transpose of 128-bit lanes of A, B, C, D
 * (u[r], u[4 + r], u[8 + r], u[12 + r]): block 4 L + r is lane L of each in turn */
static inline void store4(uint8_t *out, unsigned r, __m512i a, __m512i b, __m512i c, __m512i d)
{
    const __m512i p = _mm512_shuffle_i32x4(a, b, 0x44), q = _mm512_shuffle_i32x4(a, b, 0xee);
    const __m512i s = _mm512_shuffle_i32x4(c, d, 0x44), t = _mm512_shuffle_i32x4(c, d, 0xee);
    _mm512_storeu_si512((void *)(out + 64 * (0 + r)), _mm512_shuffle_i32x4(p, s, 0x88));
    _mm512_storeu_si512((void *)(out + 64 * (4 + r)), _mm512_shuffle_i32x4(p, s, 0xdd));
    _mm512_storeu_si512((void *)(out + 64 * (8 + r)), _mm512_shuffle_i32x4(q, t, 0x88));
    _mm512_storeu_si512((void *)(out + 64 * (12 + r)), _mm512_shuffle_i32x4(q, t, 0xdd));
}

void cn_chacha20_blocks16_avx512(uint8_t *out, size_t groups, const uint32_t key[8],
                                 const uint32_t nonce[2], uint64_t counter)
{
    const __m512i lane =
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i in[16];
    in[0] = _mm512_set1_epi32(0x61707865);
    in[1] = _mm512_set1_epi32(0x3320646e);
    in[2] = _mm512_set1_epi32(0x79622d32);
    in[3] = _mm512_set1_epi32(0x6b206574);
    for (int i = 0; i < 8; i++)
        in[4 + i] = _mm512_set1_epi32((int)key[i]);
    in[14] = _mm512_set1_epi32((int)nonce[0]);
    in[15] = _mm512_set1_epi32((int)nonce[1]);
    for (size_t g = 0; g < groups; g++, counter += 16, out += 1024) {
        /* lane b: counter + b over 64 bits (a carry into word 13 where the low word wraps) */
        const __m512i c0 = _mm512_set1_epi32((int)(uint32_t)counter);
        in[12] = _mm512_add_epi32(c0, lane);
        const __mmask16 carry = _mm512_cmplt_epu32_mask(in[12], c0);
        in[13] = _mm512_mask_add_epi32(_mm512_set1_epi32((int)(uint32_t)(counter >> 32)), carry,
                                       _mm512_set1_epi32((int)(uint32_t)(counter >> 32)),
                                       _mm512_set1_epi32(1));
        __m512i x[16];
        for (int i = 0; i < 16; i++)
            x[i] = in[i];
        for (int r = 0; r < 10; r++) { /* 20 rounds: a column round, then a diagonal round */
            QR(x[0], x[4], x[8], x[12]);
            QR(x[1], x[5], x[9], x[13]);
            QR(x[2], x[6], x[10], x[14]);
            QR(x[3], x[7], x[11], x[15]);
            QR(x[0], x[5], x[10], x[15]);
            QR(x[1], x[6], x[11], x[12]);
            QR(x[2], x[7], x[8], x[13]);
            QR(x[3], x[4], x[9], x[14]);
        }
        for (int i = 0; i < 16; i++)
            x[i] = _mm512_add_epi32(x[i], in[i]);
        /* 32-bit, then 64-bit interleaves: u[4 j + r] holds, in 128-bit lane L, words
         * 4 j .. 4 j + 3 of block 4 L + r */
        __m512i t[16], u[16];
        for (int k = 0; k < 8; k++) {
            t[2 * k] = _mm512_unpacklo_epi32(x[2 * k], x[2 * k + 1]);
            t[2 * k + 1] = _mm512_unpackhi_epi32(x[2 * k], x[2 * k + 1]);
        }
        for (int j = 0; j < 4; j++) {
            u[4 * j + 0] = _mm512_unpacklo_epi64(t[4 * j + 0], t[4 * j + 2]);
            u[4 * j + 1] = _mm512_unpackhi_epi64(t[4 * j + 0], t[4 * j + 2]);
            u[4 * j + 2] = _mm512_unpacklo_epi64(t[4 * j + 1], t[4 * j + 3]);
            u[4 * j + 3] = _mm512_unpackhi_epi64(t[4 * j + 1], t[4 * j + 3]);
        }
        for (unsigned r = 0; r < 4; r++)
            store4(out, r, u[r], u[4 + r], u[8 + r], u[12 + r]);
    }
}
