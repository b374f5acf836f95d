/* AVX-512 linear kernel (F + DQ): the arithmetic of cn_lin_apply_portable (see linear.c),
 * eight coefficients per register, vpmuldq (signed 32 x 32 -> 64) on the split residues,
 * and a vector reduction of the accumulators. */
#include <immintrin.h>
#include <string.h>

#include "../net_internal.h"

#define BLK 64

/* x mod p in (-2p, 2p) for signed |x| < 2^63, p < 2^61: q = round(x / p) in double is
 * off by at most one, and x - q p is exact in wrapping 64-bit arithmetic because the true
 * difference is small. */
static inline __m512i red_signed(__m512i x, __m512i p, __m512d pinv)
{
    const __m512d q = _mm512_roundscale_pd(_mm512_mul_pd(_mm512_cvtepi64_pd(x), pinv),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm512_sub_epi64(x, _mm512_mullo_epi64(_mm512_cvtpd_epi64(q), p));
}

/* r in (-2p, 2p) -> [0, p) */
static inline __m512i to_range(__m512i r, __m512i p)
{
    const __m512i zero = _mm512_setzero_si512();
    r = _mm512_mask_add_epi64(r, _mm512_cmplt_epi64_mask(r, zero), r, p);
    r = _mm512_mask_add_epi64(r, _mm512_cmplt_epi64_mask(r, zero), r, p);
    r = _mm512_mask_sub_epi64(r, _mm512_cmpge_epi64_mask(r, p), r, p);
    return r;
}

/* (hi 2^31 + lo) mod p in [0, p), hi and lo signed accumulators */
static inline __m512i reduce_pair(__m512i lo, __m512i hi, __m512i p, __m512d pinv)
{
    const __m512i hr = to_range(red_signed(hi, p, pinv), p);
    const __m512i lr = to_range(red_signed(lo, p, pinv), p);
    /* v = hr 2^31 + lr < 2^92: q = v / p < 2^31 + 1, computed in double to within one */
    const __m512d vd =
        _mm512_fmadd_pd(_mm512_cvtepi64_pd(hr), _mm512_set1_pd(0x1p31), _mm512_cvtepi64_pd(lr));
    const __m512d q = _mm512_roundscale_pd(_mm512_mul_pd(vd, pinv),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512i v = _mm512_add_epi64(_mm512_slli_epi64(hr, 31), lr); /* mod 2^64 */
    return to_range(_mm512_sub_epi64(v, _mm512_mullo_epi64(_mm512_cvtpd_epi64(q), p)), p);
}

void cn_lin_apply_avx512(uint64_t *const *out, const uint64_t *const *x, const cn_lin_t *lin,
                         const uint64_t *wmod, size_t j0, size_t j1, size_t c0, size_t c1,
                         cn_mod_t m)
{
    if ((c1 - c0) % BLK) {
        cn_lin_apply_portable(out, x, lin, wmod, j0, j1, c0, c1, m);
        return;
    }
    const size_t bt = cn_lin_block_terms(lin->wmax);
    const __m512i mask = _mm512_set1_epi64(((int64_t)1 << 31) - 1);
    const __m512i p = _mm512_set1_epi64((int64_t)m.p);
    const __m512d pinv = _mm512_set1_pd(1.0 / (double)m.p);
    for (size_t cb = c0; cb < c1; cb += BLK) {
        for (size_t j = j0; j < j1; j++) {
            __m512i r[8];
            for (int i = 0; i < 8; i++)
                r[i] = _mm512_setzero_si512();
            for (size_t k = lin->row[j]; k < lin->row[j + 1];) {
                const size_t kend = lin->row[j + 1] - k > bt ? k + bt : lin->row[j + 1];
                __m512i l0 = _mm512_setzero_si512(), l1 = l0, l2 = l0, l3 = l0, l4 = l0,
                        l5 = l0, l6 = l0, l7 = l0;
                __m512i h0 = l0, h1 = l0, h2 = l0, h3 = l0, h4 = l0, h5 = l0, h6 = l0, h7 = l0;
                for (; k < kend; k++) {
                    const __m512i w = _mm512_set1_epi64(lin->w[k]);
                    const uint64_t *xp = x[lin->col[k]] + cb;
#define CN_LIN_STEP(i, L, H)                                                                   \
    do {                                                                                       \
        const __m512i v = _mm512_loadu_si512((const void *)(xp + 8 * (i)));                    \
        L = _mm512_add_epi64(L, _mm512_mul_epi32(w, _mm512_and_si512(v, mask)));               \
        H = _mm512_add_epi64(H, _mm512_mul_epi32(w, _mm512_srli_epi64(v, 31)));                \
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
#define CN_LIN_FOLD(i, L, H)                                                                   \
    r[i] = to_range(_mm512_add_epi64(r[i], reduce_pair(L, H, p, pinv)), p)
                CN_LIN_FOLD(0, l0, h0);
                CN_LIN_FOLD(1, l1, h1);
                CN_LIN_FOLD(2, l2, h2);
                CN_LIN_FOLD(3, l3, h3);
                CN_LIN_FOLD(4, l4, h4);
                CN_LIN_FOLD(5, l5, h5);
                CN_LIN_FOLD(6, l6, h6);
                CN_LIN_FOLD(7, l7, h7);
#undef CN_LIN_FOLD
            }
            for (int i = 0; i < 8; i++)
                _mm512_storeu_si512((void *)(out[j] + cb + 8 * (size_t)i), r[i]);
        }
    }
}
