/* AVX-512 linear kernel: the arithmetic of cn_lin_apply_portable (see linear.c), eight
 * coefficients per register, vpmuldq (signed 32 x 32 -> 64) on the split residues. */
#include <immintrin.h>
#include <string.h>

#include "net_internal.h"

#define BLK 64

void cn_lin_apply_avx512(uint64_t *const *out, const uint64_t *const *x, const cn_lin_t *lin,
                         size_t j0, size_t j1, size_t len, cn_mod_t m)
{
    if (len % BLK) {
        cn_lin_apply_portable(out, x, lin, j0, j1, len, m);
        return;
    }
    const size_t bt = cn_lin_block_terms(lin->wmax);
    const uint64_t two31 = cn_mod_reduce_u64((uint64_t)1 << 31, m);
    const __m512i mask = _mm512_set1_epi64(((int64_t)1 << 31) - 1);
    int64_t lo[BLK] __attribute__((aligned(64))), hi[BLK] __attribute__((aligned(64)));
    uint64_t r[BLK];
    for (size_t j = j0; j < j1; j++) {
        for (size_t c0 = 0; c0 < len; c0 += BLK) {
            memset(r, 0, sizeof r);
            for (size_t k = lin->row[j]; k < lin->row[j + 1];) {
                const size_t kend = lin->row[j + 1] - k > bt ? k + bt : lin->row[j + 1];
                __m512i l0 = _mm512_setzero_si512(), l1 = l0, l2 = l0, l3 = l0, l4 = l0,
                        l5 = l0, l6 = l0, l7 = l0;
                __m512i h0 = l0, h1 = l0, h2 = l0, h3 = l0, h4 = l0, h5 = l0, h6 = l0, h7 = l0;
                for (; k < kend; k++) {
                    const __m512i w = _mm512_set1_epi64(lin->w[k]);
                    const uint64_t *xp = x[lin->col[k]] + c0;
#define CN_LIN_STEP(i, L, H)                                                               \
    do {                                                                                   \
        const __m512i v = _mm512_loadu_si512((const void *)(xp + 8 * (i)));                \
        L = _mm512_add_epi64(L, _mm512_mul_epi32(w, _mm512_and_si512(v, mask)));           \
        H = _mm512_add_epi64(H, _mm512_mul_epi32(w, _mm512_srli_epi64(v, 31)));            \
    } while (0)
                    CN_LIN_STEP(0, l0, h0);
                    CN_LIN_STEP(1, l1, h1);
                    CN_LIN_STEP(2, l2, h2);
                    CN_LIN_STEP(3, l3, h3);
                    CN_LIN_STEP(4, l4, h4);
                    CN_LIN_STEP(5, l5, h5);
                    CN_LIN_STEP(6, l6, h6);
                    CN_LIN_STEP(7, l7, h7);
#undef CN_LIN_STEP
                }
                _mm512_store_si512((void *)(lo + 0), l0);
                _mm512_store_si512((void *)(lo + 8), l1);
                _mm512_store_si512((void *)(lo + 16), l2);
                _mm512_store_si512((void *)(lo + 24), l3);
                _mm512_store_si512((void *)(lo + 32), l4);
                _mm512_store_si512((void *)(lo + 40), l5);
                _mm512_store_si512((void *)(lo + 48), l6);
                _mm512_store_si512((void *)(lo + 56), l7);
                _mm512_store_si512((void *)(hi + 0), h0);
                _mm512_store_si512((void *)(hi + 8), h1);
                _mm512_store_si512((void *)(hi + 16), h2);
                _mm512_store_si512((void *)(hi + 24), h3);
                _mm512_store_si512((void *)(hi + 32), h4);
                _mm512_store_si512((void *)(hi + 40), h5);
                _mm512_store_si512((void *)(hi + 48), h6);
                _mm512_store_si512((void *)(hi + 56), h7);
                for (size_t t = 0; t < BLK; t++) {
                    const uint64_t h = cn_mod_mul(cn_mod_from_int64(hi[t], m), two31, m);
                    r[t] = cn_mod_add(r[t], cn_mod_add(h, cn_mod_from_int64(lo[t], m), m), m);
                }
            }
            memcpy(out[j] + c0, r, sizeof r);
        }
    }
}
