/* AVX-512 IFMA linear kernel for primes below 2^50: with the weights taken mod p
 * (w' in [0, p)), each product w' x < 2^100 is accumulated as its low and high 52-bit
 * halves (vpmadd52luq / vpmadd52huq: one instruction per half, multiply and add), exact
 * for 4096 terms per block in 64-bit lanes; then (hi 2^52 + lo) mod p. The residues are
 * the same as the portable kernel's. Small weights take one low half per product: sparse
 * layers by sign (small_weights), dense layers with offset weights and four outputs per load
 * (dense_offset), or, past that bound at the prime, with each residue split so that its low
 * part does and its high bits go through 16-bit products (dense_split; docs/net.md, "Linear
 * kernel"). IFMA for HE follows F. Boemer et al., "Intel HEXL", WAHC 2021. */
#include <immintrin.h>

#include "../net_internal.h"

#define BLK 64
#define TERMS 4096 /* 4096 (2^52 - 1) < 2^64 */

/* x mod p in [0, p) for unsigned x < 2^64, 2^20 <= p < 2^50: q = round(x / p) in double
 * is off by at most one; x - q p is exact in wrapping arithmetic. */
static inline __m512i red_u64(__m512i x, __m512i p, __m512d pinv)
{
    const __m512d q = _mm512_roundscale_pd(_mm512_mul_pd(_mm512_cvtepu64_pd(x), pinv),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512i r = _mm512_sub_epi64(x, _mm512_mullo_epi64(_mm512_cvtpd_epi64(q), p));
    const __m512i zero = _mm512_setzero_si512();
    r = _mm512_mask_add_epi64(r, _mm512_cmplt_epi64_mask(r, zero), r, p);
    r = _mm512_mask_sub_epi64(r, _mm512_cmpge_epi64_mask(r, p), r, p);
    return r;
}

/* sum over terms [k0, k1) of |w| x into the 8 accumulators, 4096 terms at a time, each
 * block reduced and added into r (mod p) */
static inline void sum_abs(__m512i *r, const uint64_t *const *x, const cn_lin_t *lin, size_t k0,
                           size_t k1, size_t cb, __m512i p, __m512d pinv)
{
    const __m512i zero = _mm512_setzero_si512();
    for (size_t k = k0; k < k1;) {
        const size_t kend = k1 - k > TERMS ? k + TERMS : k1;
        __m512i a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero,
                a7 = zero;
        for (; k < kend; k++) {
            const int64_t wv = lin->w[k];
            const __m512i w = _mm512_set1_epi64(wv < 0 ? -wv : wv);
            const uint64_t *xp = x[lin->col[k]] + cb;
            a0 = _mm512_madd52lo_epu64(a0, _mm512_loadu_si512((const void *)(xp + 0)), w);
            a1 = _mm512_madd52lo_epu64(a1, _mm512_loadu_si512((const void *)(xp + 8)), w);
            a2 = _mm512_madd52lo_epu64(a2, _mm512_loadu_si512((const void *)(xp + 16)), w);
            a3 = _mm512_madd52lo_epu64(a3, _mm512_loadu_si512((const void *)(xp + 24)), w);
            a4 = _mm512_madd52lo_epu64(a4, _mm512_loadu_si512((const void *)(xp + 32)), w);
            a5 = _mm512_madd52lo_epu64(a5, _mm512_loadu_si512((const void *)(xp + 40)), w);
            a6 = _mm512_madd52lo_epu64(a6, _mm512_loadu_si512((const void *)(xp + 48)), w);
            a7 = _mm512_madd52lo_epu64(a7, _mm512_loadu_si512((const void *)(xp + 56)), w);
        }
        const __m512i a[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
        for (int i = 0; i < 8; i++) {
            __m512i t = _mm512_add_epi64(r[i], red_u64(a[i], p, pinv));
            r[i] = _mm512_mask_sub_epi64(t, _mm512_cmpge_epu64_mask(t, p), t, p);
        }
    }
}

/* out[cb..cb+64) of output j with small weights: (sum_{w >= 0} - sum_{w < 0}) mod p */
static void small_weights(uint64_t *out, const uint64_t *const *x, const cn_lin_t *lin,
                          size_t j, size_t cb, __m512i p, __m512d pinv)
{
    __m512i pos[8], neg[8];
    for (int i = 0; i < 8; i++)
        pos[i] = neg[i] = _mm512_setzero_si512();
    sum_abs(pos, x, lin, lin->row[j], lin->rneg[j], cb, p, pinv);
    sum_abs(neg, x, lin, lin->rneg[j], lin->row[j + 1], cb, p, pinv);
    for (int i = 0; i < 8; i++) {
        __m512i t = _mm512_sub_epi64(pos[i], neg[i]);
        t = _mm512_mask_add_epi64(t, _mm512_cmplt_epi64_mask(t, _mm512_setzero_si512()), t, p);
        _mm512_storeu_si512((void *)(out + 8 * (size_t)i), t);
    }
}

/* acc[R][4] += (sum over i in [i0, i1) of woff[j + r][i] x_i) mod p: 32 coefficients (4
 * registers) of R = 1..4 outputs that share every load of x; 4096 terms per block. The
 * four-output case is written out so the 16 accumulators stay in registers. */
#define DENSE_TILE 32
static void dense_rows(__m512i acc[4][4], int R, const uint64_t *const *x, const cn_lin_t *lin,
                       size_t j, size_t cb, __m512i p, __m512d pinv)
{
    const __m512i zero = _mm512_setzero_si512();
    const size_t nin = lin->nin;
    const uint64_t *w0 = lin->woff + j * nin;
    const uint64_t *w1 = R > 1 ? w0 + nin : w0, *w2 = R > 2 ? w0 + 2 * nin : w0,
                   *w3 = R > 3 ? w0 + 3 * nin : w0;
    for (size_t i = 0; i < nin;) {
        const size_t iend = nin - i > TERMS ? i + TERMS : nin;
        __m512i a00 = zero, a01 = zero, a02 = zero, a03 = zero, a10 = zero, a11 = zero,
                a12 = zero, a13 = zero, a20 = zero, a21 = zero, a22 = zero, a23 = zero,
                a30 = zero, a31 = zero, a32 = zero, a33 = zero;
        for (; i < iend; i++) {
            const uint64_t *xp = x[i] + cb;
            const __m512i x0 = _mm512_loadu_si512((const void *)(xp + 0));
            const __m512i x1 = _mm512_loadu_si512((const void *)(xp + 8));
            const __m512i x2 = _mm512_loadu_si512((const void *)(xp + 16));
            const __m512i x3 = _mm512_loadu_si512((const void *)(xp + 24));
#define CN_ROW(W, A0, A1, A2, A3)                                                              \
    do {                                                                                       \
        const __m512i w = _mm512_set1_epi64((int64_t)(W)[i]);                                  \
        A0 = _mm512_madd52lo_epu64(A0, x0, w);                                                 \
        A1 = _mm512_madd52lo_epu64(A1, x1, w);                                                 \
        A2 = _mm512_madd52lo_epu64(A2, x2, w);                                                 \
        A3 = _mm512_madd52lo_epu64(A3, x3, w);                                                 \
    } while (0)
            /* rows beyond R repeat row 0 into accumulators that are discarded */
            CN_ROW(w0, a00, a01, a02, a03);
            CN_ROW(w1, a10, a11, a12, a13);
            CN_ROW(w2, a20, a21, a22, a23);
            CN_ROW(w3, a30, a31, a32, a33);
#undef CN_ROW
        }
        const __m512i a[4][4] = {{a00, a01, a02, a03},
                                 {a10, a11, a12, a13},
                                 {a20, a21, a22, a23},
                                 {a30, a31, a32, a33}};
        for (int r = 0; r < R; r++)
            for (int v = 0; v < 4; v++) {
                __m512i t = _mm512_add_epi64(acc[r][v], red_u64(a[r][v], p, pinv));
                acc[r][v] = _mm512_mask_sub_epi64(t, _mm512_cmpge_epu64_mask(t, p), t, p);
            }
    }
}

/* Dense layers with small weights: out_j = sum_i (w_ji + B) x_i - B sum_i x_i mod p,
 * B = wmax, so every weight is nonnegative and rows share the loads of x. */
static void dense_offset(uint64_t *const *out, const uint64_t *const *x, const cn_lin_t *lin,
                         size_t j0, size_t j1, size_t c0, size_t c1, cn_mod_t m)
{
    const __m512i p = _mm512_set1_epi64((int64_t)m.p);
    const __m512d pinv = _mm512_set1_pd(1.0 / (double)m.p);
    const __m512i zero = _mm512_setzero_si512();
    const __m512i B = _mm512_set1_epi64((int64_t)(lin->wmax % m.p));
    for (size_t cb = c0; cb < c1; cb += DENSE_TILE) {
        /* sx = sum_i x_i mod p (4096 terms at a time), then B sx mod p */
        __m512i sx[4] = {zero, zero, zero, zero};
        for (size_t i = 0; i < lin->nin;) {
            const size_t iend = lin->nin - i > TERMS ? i + TERMS : lin->nin;
            __m512i s[4] = {zero, zero, zero, zero};
            for (; i < iend; i++)
                for (int v = 0; v < 4; v++)
                    s[v] = _mm512_add_epi64(
                        s[v], _mm512_loadu_si512((const void *)(x[i] + cb + 8 * (size_t)v)));
            for (int v = 0; v < 4; v++) {
                __m512i t = _mm512_add_epi64(sx[v], red_u64(s[v], p, pinv));
                sx[v] = _mm512_mask_sub_epi64(t, _mm512_cmpge_epu64_mask(t, p), t, p);
            }
        }
        __m512i bsx[4];
        for (int v = 0; v < 4; v++) /* B < 2^52 / p: the product stays below 2^52 */
            bsx[v] = red_u64(_mm512_madd52lo_epu64(zero, sx[v], B), p, pinv);
        for (size_t j = j0; j < j1; j += 4) {
            const int R = j1 - j >= 4 ? 4 : (int)(j1 - j);
            __m512i acc[4][4];
            for (int r = 0; r < 4; r++)
                for (int v = 0; v < 4; v++)
                    acc[r][v] = zero;
            dense_rows(acc, R, x, lin, j, cb, p, pinv);
            for (int r = 0; r < R; r++)
                for (int v = 0; v < 4; v++) {
                    __m512i t = _mm512_sub_epi64(acc[r][v], bsx[v]);
                    t = _mm512_mask_add_epi64(t, _mm512_cmplt_epi64_mask(t, zero), t, p);
                    _mm512_storeu_si512((void *)(out[j + (size_t)r] + cb + 8 * (size_t)v), t);
                }
        }
    }
}

/* Dense layers with small weights at any prime below 2^50 (the split kernel): each input
 * residue is split as x = xh 2^s + xl (xl < 2^s, s = 52 - b, b the bit length of 2 wmax),
 * so that every offset weight w' = w + wmax < 2^b times xl stays below 2^52 (one low IFMA
 * half, four outputs sharing every load, as dense_offset), and xh < 2^(b - 2) is small
 * enough for 16-bit products: sum_i w' xh over pairs of inputs by vpmaddwd (32 products
 * per instruction, 32-bit sums). Then out_j = (L_j + 2^s H_j - wmax sum_i x_i) mod p.
 * Needs 2 wmax < 2^12 and p < 2^50 (cn_lin_dense_split_ok). Bounds per block of SPLIT_IN
 * inputs: L < 256 2^52 < 2^60; products w' xh < 2^(2b - 2) <= 2^22, pair sums < 2^23 and
 * H < 128 2^23 = 2^30 < 2^31, so the signed 16- and 32-bit arithmetic never wraps. */
#define SPLIT_IN 256 /* inputs per block (an even number) */

/* xh16[q][c] = xh(i0 + 2q, c) | xh(i0 + 2q + 1, c) << 16 for the 32 coefficients c of the
 * tile at cb, over the inputs [i0, i1) (an odd count pads the last pair with zero) */
static void split_high(uint32_t *xh16, const uint64_t *const *x, size_t i0, size_t i1,
                       size_t cb, unsigned s)
{
    for (size_t i = i0; i < i1; i += 2) {
        uint32_t *d = xh16 + (i - i0) / 2 * DENSE_TILE;
        for (int v = 0; v < 4; v++) {
            const __m512i a =
                _mm512_srli_epi64(_mm512_loadu_si512((const void *)(x[i] + cb + 8 * v)), s);
            const __m512i b =
                i + 1 < i1 ? _mm512_srli_epi64(
                                 _mm512_loadu_si512((const void *)(x[i + 1] + cb + 8 * v)), s)
                           : _mm512_setzero_si512();
            /* a, b < 2^10: the pair in the low 32 bits of each lane, then packed to 32 bits */
            const __m512i pr = _mm512_or_si512(a, _mm512_slli_epi64(b, 16));
            _mm256_storeu_si256((__m256i *)(d + 8 * v), _mm512_cvtepi64_epi32(pr));
        }
    }
}

/* acc[r][v] (in [0, p)) += (sum over i in [i0, i1) of woff[j + r][i] x_i) mod p for R = 1..4
 * rows sharing every load, from the split parts: xl by the low IFMA half, xh by vpmaddwd on
 * the pairs xh16 (of inputs from i0) */
static void split_rows(__m512i acc[4][4], int R, const uint64_t *const *x, const uint32_t *xh16,
                       const cn_lin_t *lin, size_t j, size_t i0, size_t i1, size_t cb,
                       unsigned s, __m512i p, __m512d pinv, __m512i c, __m512i cs)
{
    const __m512i zero = _mm512_setzero_si512();
    const __m512i mask = _mm512_set1_epi64((int64_t)(((uint64_t)1 << s) - 1));
    const __m512i m52 = _mm512_set1_epi64((1LL << 52) - 1);
    const size_t nin = lin->nin;
    const uint64_t *w[4];
    for (int r = 0; r < 4; r++)
        w[r] = lin->woff + (j + (size_t)(r < R ? r : 0)) * nin;
    /* the low parts: 16 accumulators, each product below 2^52 */
    __m512i a00 = zero, a01 = zero, a02 = zero, a03 = zero, a10 = zero, a11 = zero, a12 = zero,
            a13 = zero, a20 = zero, a21 = zero, a22 = zero, a23 = zero, a30 = zero, a31 = zero,
            a32 = zero, a33 = zero;
    for (size_t i = i0; i < i1; i++) {
        const uint64_t *xp = x[i] + cb;
        const __m512i x0 = _mm512_and_si512(_mm512_loadu_si512((const void *)(xp + 0)), mask);
        const __m512i x1 = _mm512_and_si512(_mm512_loadu_si512((const void *)(xp + 8)), mask);
        const __m512i x2 = _mm512_and_si512(_mm512_loadu_si512((const void *)(xp + 16)), mask);
        const __m512i x3 = _mm512_and_si512(_mm512_loadu_si512((const void *)(xp + 24)), mask);
#define CN_ROW(W, A0, A1, A2, A3)                                                              \
    do {                                                                                       \
        const __m512i wv = _mm512_set1_epi64((int64_t)(W)[i]);                                 \
        A0 = _mm512_madd52lo_epu64(A0, x0, wv);                                                \
        A1 = _mm512_madd52lo_epu64(A1, x1, wv);                                                \
        A2 = _mm512_madd52lo_epu64(A2, x2, wv);                                                \
        A3 = _mm512_madd52lo_epu64(A3, x3, wv);                                                \
    } while (0)
        CN_ROW(w[0], a00, a01, a02, a03);
        CN_ROW(w[1], a10, a11, a12, a13);
        CN_ROW(w[2], a20, a21, a22, a23);
        CN_ROW(w[3], a30, a31, a32, a33);
#undef CN_ROW
    }
    const __m512i lo[4][4] = {
        {a00, a01, a02, a03}, {a10, a11, a12, a13}, {a20, a21, a22, a23}, {a30, a31, a32, a33}};
    /* the high parts: two 16-bit products per 32-bit lane, 16 coefficients per register,
     * the weights in pairs (wpair) */
    const size_t np = (nin + 1) / 2;
    const uint32_t *wp[4];
    for (int r = 0; r < 4; r++)
        wp[r] = lin->wpair + (j + (size_t)(r < R ? r : 0)) * np + i0 / 2;
    __m512i h00 = zero, h01 = zero, h10 = zero, h11 = zero, h20 = zero, h21 = zero, h30 = zero,
            h31 = zero;
    for (size_t q = 0; q < (i1 - i0 + 1) / 2; q++) {
        const uint32_t *hp = xh16 + q * DENSE_TILE;
        const __m512i y0 = _mm512_loadu_si512((const void *)hp);
        const __m512i y1 = _mm512_loadu_si512((const void *)(hp + 16));
#define CN_ROW(W, H0, H1)                                                                      \
    do {                                                                                       \
        const __m512i wv = _mm512_set1_epi32((int)(W)[q]);                                     \
        H0 = _mm512_add_epi32(H0, _mm512_madd_epi16(y0, wv));                                  \
        H1 = _mm512_add_epi32(H1, _mm512_madd_epi16(y1, wv));                                  \
    } while (0)
        CN_ROW(wp[0], h00, h01);
        CN_ROW(wp[1], h10, h11);
        CN_ROW(wp[2], h20, h21);
        CN_ROW(wp[3], h30, h31);
#undef CN_ROW
    }
    const __m512i hi[4][2] = {{h00, h01}, {h10, h11}, {h20, h21}, {h30, h31}};
    for (int r = 0; r < R; r++)
        for (int v = 0; v < 4; v++) {
            /* H (< 2^31, 8 coefficients widened to 64 bits) times 2^s mod p: 52-bit Shoup
             * with c = 2^s mod p, cs = floor(c 2^52 / p), in [0, 2p) then [0, p) */
            const __m256i h32 = v & 1 ? _mm512_extracti64x4_epi64(hi[r][v / 2], 1)
                                      : _mm512_castsi512_si256(hi[r][v / 2]);
            const __m512i h = _mm512_cvtepu32_epi64(h32);
            const __m512i q = _mm512_madd52hi_epu64(zero, h, cs);
            __m512i t = _mm512_and_si512(_mm512_sub_epi64(_mm512_madd52lo_epu64(zero, h, c),
                                                          _mm512_madd52lo_epu64(zero, q, p)),
                                         m52);
            t = _mm512_mask_sub_epi64(t, _mm512_cmpge_epu64_mask(t, p), t, p);
            t = _mm512_add_epi64(t, red_u64(lo[r][v], p, pinv));
            t = _mm512_mask_sub_epi64(t, _mm512_cmpge_epu64_mask(t, p), t, p);
            t = _mm512_add_epi64(t, acc[r][v]);
            acc[r][v] = _mm512_mask_sub_epi64(t, _mm512_cmpge_epu64_mask(t, p), t, p);
        }
}

/* out[j] for j in [j0, j1), coefficients [c0, c1) (multiples of DENSE_TILE apart), by the
 * split kernel: every x tile's high parts packed once (split_high) for all rows */
static void dense_split(uint64_t *const *out, const uint64_t *const *x, const cn_lin_t *lin,
                        size_t j0, size_t j1, size_t c0, size_t c1, cn_mod_t m)
{
    const __m512i p = _mm512_set1_epi64((int64_t)m.p);
    const __m512d pinv = _mm512_set1_pd(1.0 / (double)m.p);
    const __m512i zero = _mm512_setzero_si512();
    unsigned b = 1;
    while (((uint64_t)1 << b) <= 2 * lin->wmax)
        b++;
    const unsigned s = 52 - b; /* 2 wmax < 2^b: w' xl < 2^(b + s) = 2^52; xh < 2^(b - 2) */
    const uint64_t cv = cn_mod_reduce_u64((uint64_t)1 << s, m);
    const __m512i c = _mm512_set1_epi64((int64_t)cv);
    const __m512i cs = _mm512_set1_epi64((int64_t)(((unsigned __int128)cv << 52) / m.p));
    const __m512i B = _mm512_set1_epi64((int64_t)lin->wmax); /* < 2^11 < p */
    uint32_t xh16[SPLIT_IN / 2 * DENSE_TILE];
    for (size_t cb = c0; cb < c1; cb += DENSE_TILE) {
        /* sx = sum_i x_i mod p (4096 terms at a time), then wmax sx mod p (exact product
         * below 2^61, reduced) */
        __m512i sx[4] = {zero, zero, zero, zero};
        for (size_t i = 0; i < lin->nin;) {
            const size_t iend = lin->nin - i > TERMS ? i + TERMS : lin->nin;
            __m512i sm[4] = {zero, zero, zero, zero};
            for (; i < iend; i++)
                for (int v = 0; v < 4; v++)
                    sm[v] = _mm512_add_epi64(
                        sm[v], _mm512_loadu_si512((const void *)(x[i] + cb + 8 * (size_t)v)));
            for (int v = 0; v < 4; v++) {
                __m512i t = _mm512_add_epi64(sx[v], red_u64(sm[v], p, pinv));
                sx[v] = _mm512_mask_sub_epi64(t, _mm512_cmpge_epu64_mask(t, p), t, p);
            }
        }
        __m512i bsx[4];
        for (int v = 0; v < 4; v++)
            bsx[v] = red_u64(_mm512_mullo_epi64(sx[v], B), p, pinv);
        for (size_t i0 = 0; i0 < lin->nin || i0 == 0; i0 += SPLIT_IN) {
            const size_t i1 = lin->nin - i0 > SPLIT_IN ? i0 + SPLIT_IN : lin->nin;
            split_high(xh16, x, i0, i1, cb, s);
            for (size_t j = j0; j < j1; j += 4) {
                const int R = j1 - j >= 4 ? 4 : (int)(j1 - j);
                __m512i acc[4][4];
                for (int r = 0; r < 4; r++)
                    for (int v = 0; v < 4; v++)
                        acc[r][v] = i0 == 0 || r >= R
                                        ? zero
                                        : _mm512_loadu_si512(
                                              (const void *)(out[j + (size_t)r] + cb + 8 * v));
                split_rows(acc, R, x, xh16, lin, j, i0, i1, cb, s, p, pinv, c, cs);
                const int last = i1 == lin->nin;
                for (int r = 0; r < R; r++)
                    for (int v = 0; v < 4; v++) {
                        __m512i t = acc[r][v];
                        if (last) {
                            t = _mm512_sub_epi64(t, bsx[v]);
                            t = _mm512_mask_add_epi64(t, _mm512_cmplt_epi64_mask(t, zero), t,
                                                      p);
                        }
                        _mm512_storeu_si512((void *)(out[j + (size_t)r] + cb + 8 * (size_t)v),
                                            t);
                    }
            }
            if (i1 == lin->nin)
                break;
        }
    }
}

void cn_lin_apply_ifma(uint64_t *const *out, const uint64_t *const *x, const cn_lin_t *lin,
                       const uint64_t *wmod, size_t j0, size_t j1, size_t c0, size_t c1,
                       cn_mod_t m)
{
    if ((c1 - c0) % BLK || m.p >= ((uint64_t)1 << 50) || m.p < ((uint64_t)1 << 20)) {
        cn_lin_apply_portable(out, x, lin, wmod, j0, j1, c0, c1, m);
        return;
    }
    const __m512i p = _mm512_set1_epi64((int64_t)m.p);
    const __m512d pinv = _mm512_set1_pd(1.0 / (double)m.p);
    /* 2^52 mod p and its 52-bit Shoup constant, for hr 2^52 mod p */
    const uint64_t c52 = cn_mod_reduce_u64((uint64_t)1 << 52, m);
    const uint64_t c52s = (uint64_t)(((unsigned __int128)c52 << 52) / m.p);
    const __m512i vc = _mm512_set1_epi64((int64_t)c52), vcs = _mm512_set1_epi64((int64_t)c52s);
    const __m512i m52 = _mm512_set1_epi64((1LL << 52) - 1);
    const __m512i zero = _mm512_setzero_si512();
    /* dense, small weights: the offset weights w + wmax are nonnegative and below 2^52 / p,
     * so four outputs share every load */
    if (lin->dense && lin->woff && 2 * lin->wmax < ((uint64_t)1 << 52) / m.p) {
        dense_offset(out, x, lin, j0, j1, c0, c1, m);
        return;
    }
    /* dense, weights too wide for that at this prime: the split kernel */
    if (cn_lin_dense_split_ok(lin, m.p)) {
        dense_split(out, x, lin, j0, j1, c0, c1, m);
        return;
    }
    /* small weights: |w| (p - 1) < 2^52, so each product is its own low half; one
     * multiply-add per 8 products, nonnegative and negative weights in two sums */
    if (lin->rneg && lin->wmax < ((uint64_t)1 << 52) / m.p) {
        for (size_t cb = c0; cb < c1; cb += BLK)
            for (size_t j = j0; j < j1; j++)
                small_weights(out[j] + cb, x, lin, j, cb, p, pinv);
        return;
    }
    for (size_t cb = c0; cb < c1; cb += BLK) {
        for (size_t j = j0; j < j1; j++) {
            __m512i r[8];
            for (int i = 0; i < 8; i++)
                r[i] = zero;
            for (size_t k = lin->row[j]; k < lin->row[j + 1];) {
                const size_t kend = lin->row[j + 1] - k > TERMS ? k + TERMS : lin->row[j + 1];
                __m512i l0 = zero, l1 = zero, l2 = zero, l3 = zero, l4 = zero, l5 = zero,
                        l6 = zero, l7 = zero;
                __m512i h0 = zero, h1 = zero, h2 = zero, h3 = zero, h4 = zero, h5 = zero,
                        h6 = zero, h7 = zero;
                for (; k < kend; k++) {
                    const __m512i w = _mm512_set1_epi64((int64_t)wmod[k]);
                    const uint64_t *xp = x[lin->col[k]] + cb;
#define CN_LIN_STEP(i, L, H)                                                                   \
    do {                                                                                       \
        const __m512i v = _mm512_loadu_si512((const void *)(xp + 8 * (i)));                    \
        L = _mm512_madd52lo_epu64(L, v, w);                                                    \
        H = _mm512_madd52hi_epu64(H, v, w);                                                    \
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
                /* r += (hr 2^52 + lr) mod p: hr c52 by 52-bit Shoup (in [0, 2p)), then adds */
#define CN_LIN_FOLD(i, L, H)                                                                   \
    do {                                                                                       \
        const __m512i hr = red_u64(H, p, pinv), lr = red_u64(L, p, pinv);                      \
        const __m512i q = _mm512_madd52hi_epu64(zero, hr, vcs);                                \
        __m512i t = _mm512_and_si512(_mm512_sub_epi64(_mm512_madd52lo_epu64(zero, hr, vc),     \
                                                      _mm512_madd52lo_epu64(zero, q, p)),      \
                                     m52);                                                     \
        t = _mm512_mask_sub_epi64(t, _mm512_cmpge_epu64_mask(t, p), t, p);                     \
        t = _mm512_add_epi64(t, lr);                                                           \
        t = _mm512_mask_sub_epi64(t, _mm512_cmpge_epu64_mask(t, p), t, p);                     \
        t = _mm512_add_epi64(t, r[i]);                                                         \
        r[i] = _mm512_mask_sub_epi64(t, _mm512_cmpge_epu64_mask(t, p), t, p);                  \
    } while (0)
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
