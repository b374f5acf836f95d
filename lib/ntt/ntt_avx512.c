/* AVX-512 (F, VL, DQ, BW; no IFMA) NTT kernels for any prime below 2^61: 64-bit Shoup
 * products with the high half of x w' (w' = floor(w 2^64 / p)) built from four 32 x 32
 * -> 64-bit multiplies (vpmuludq) and the low halves from vpmullq. Same contract as the
 * portable kernels; the butterfly loops are shared with the IFMA kernels
 * (ntt_avx512_body.h). */
#include <immintrin.h>

#include "ntt_internal.h"

/* floor(x ws / 2^64) for 64-bit lanes */
static inline __m512i mulhi64(__m512i x, __m512i ws)
{
    const __m512i lo32 = _mm512_set1_epi64(0xffffffffLL);
    __m512i xh = _mm512_srli_epi64(x, 32), wh = _mm512_srli_epi64(ws, 32);
    __m512i ll = _mm512_mul_epu32(x, ws);
    __m512i hl = _mm512_mul_epu32(xh, ws);
    __m512i lh = _mm512_mul_epu32(x, wh);
    __m512i hh = _mm512_mul_epu32(xh, wh);
    /* the middle column: three values below 2^32 each */
    __m512i mid = _mm512_add_epi64(
        _mm512_srli_epi64(ll, 32),
        _mm512_add_epi64(_mm512_and_si512(hl, lo32), _mm512_and_si512(lh, lo32)));
    __m512i hi = _mm512_add_epi64(
        hh, _mm512_add_epi64(_mm512_srli_epi64(hl, 32), _mm512_srli_epi64(lh, 32)));
    return _mm512_add_epi64(hi, _mm512_srli_epi64(mid, 32));
}

/* x w mod p in [0, 2p) for any 64-bit x, w < p < 2^61 */
static inline __m512i mul_lazy(__m512i x, __m512i w, __m512i ws, __m512i p)
{
    __m512i q = mulhi64(x, ws);
    return _mm512_sub_epi64(_mm512_mullo_epi64(x, w), _mm512_mullo_epi64(q, p));
}

/* min(x, x - c) as unsigned: x - c when x >= c (else x - c wraps above x), for x < 2^63 */
void cn_ntt_reduce_avx512(uint64_t *a, size_t n, uint64_t p, int four)
{
    const __m512i vp = _mm512_set1_epi64((long long)p),
                  vp2 = _mm512_set1_epi64((long long)(2 * p));
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m512i x = _mm512_loadu_si512((const void *)(a + i));
        if (four)
            x = _mm512_min_epu64(x, _mm512_sub_epi64(x, vp2));
        x = _mm512_min_epu64(x, _mm512_sub_epi64(x, vp));
        _mm512_storeu_si512((void *)(a + i), x);
    }
    if (i < n)
        cn_ntt_reduce_portable(a + i, n - i, p, four);
}

#define CN_NTT_FWD cn_ntt_forward_lazy_avx512
#define CN_NTT_INV cn_ntt_inverse_lazy_avx512
#define CN_NTT_FWD_FROM cn_ntt_forward_lazy_from_avx512
#define CN_NTT_WS(t) ((t)->ws)
#define CN_NTT_WIS(t) ((t)->wis)
#define CN_NTT_NIS(t) ((t)->n_inv_s)
#define CN_NTT_LWS(t) ((t)->last_wis)

#include "ntt_avx512_body.h"
