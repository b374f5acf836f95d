/* The AVX-512 NTT kernels' common body, included by ntt_avx512ifma.c (52-bit Shoup
 * products, primes below 2^50) and ntt_avx512.c (64-bit Shoup products emulated with
 * 32-bit multiplies, any prime below 2^61). The including file defines:
 *   mul_lazy(x, w, ws, p)   x w mod p in [0, 2p) for x in [0, 4p), eight lanes
 *   CN_NTT_FWD, CN_NTT_INV, CN_NTT_FWD_FROM  the names of the kernels
 *   CN_NTT_WS(t), CN_NTT_WIS(t), CN_NTT_NIS(t), CN_NTT_LWS(t)  the Shoup constants
 *                           of the forward and inverse twiddles, n^-1 and the last one
 * Harvey's lazy butterflies (J. Symb. Comp. 2014) keep values in [0, 4p) forward and
 * [0, 2p) inverse, as in the portable kernels. Stages with butterfly distance 8 or more
 * work on whole vectors; the last three (distance 4, 2, 1) regroup two vectors with
 * two-source permutes. Results are congruent to the portable kernels' (equal after full
 * reduction). */
#ifndef CN_NTT_AVX512_BODY_H
#define CN_NTT_AVX512_BODY_H

#include <immintrin.h>

#include "ntt_internal.h"

static inline __m512i set1(uint64_t v)
{
    return _mm512_set1_epi64((long long)v);
}

/* x in [0, 2m) -> [0, m) */
static inline __m512i sub_if_ge(__m512i x, __m512i m)
{
    return _mm512_min_epu64(x, _mm512_sub_epi64(x, m));
}

/* forward butterfly: (x, y) in [0, 4p) -> (u + v, u - v + 2p), u = x mod 2p, v = y w */
static inline void fwd_bf(__m512i *x, __m512i *y, __m512i w, __m512i ws, __m512i p, __m512i p2)
{
    __m512i u = sub_if_ge(*x, p2);
    __m512i v = mul_lazy(*y, w, ws, p);
    *x = _mm512_add_epi64(u, v);
    *y = _mm512_sub_epi64(_mm512_add_epi64(u, p2), v);
}

/* inverse butterfly: (x, y) in [0, 2p) -> ((x + y) mod 2p, (x - y + 2p) w) */
static inline void inv_bf(__m512i *x, __m512i *y, __m512i w, __m512i ws, __m512i p, __m512i p2)
{
    __m512i u = *x, v = *y;
    *x = sub_if_ge(_mm512_add_epi64(u, v), p2);
    *y = mul_lazy(_mm512_sub_epi64(_mm512_add_epi64(u, p2), v), w, ws, p);
}

static inline __m512i idx(long long a, long long b, long long c, long long d, long long e,
                          long long f, long long g, long long h)
{
    return _mm512_set_epi64(h, g, f, e, d, c, b, a);
}

/* twiddles for the regrouped stages: lane k of the x-vector belongs to group
 * first + k / rep, so the twiddle vector repeats each of 8 / rep twiddles rep times */
static inline void twiddles(__m512i *w, __m512i *ws, const uint64_t *tw, const uint64_t *tws,
                            size_t first, unsigned rep)
{
    __m512i sel;
    __mmask8 m;
    if (rep == 4) {
        sel = idx(0, 0, 0, 0, 1, 1, 1, 1);
        m = 0x03;
    } else if (rep == 2) {
        sel = idx(0, 0, 1, 1, 2, 2, 3, 3);
        m = 0x0f;
    } else {
        *w = _mm512_loadu_si512((const void *)(tw + first));
        *ws = _mm512_loadu_si512((const void *)(tws + first));
        return;
    }
    *w = _mm512_permutexvar_epi64(sel, _mm512_maskz_loadu_epi64(m, tw + first));
    *ws = _mm512_permutexvar_epi64(sel, _mm512_maskz_loadu_epi64(m, tws + first));
}

/* Split indices: the x- and y-halves of the butterflies of distance 4, 2, 1 within
 * two consecutive vectors (A = lanes 0-7, B = lanes 8-15), and the merges back. */
#define SPLIT_X4 idx(0, 1, 2, 3, 8, 9, 10, 11)
#define SPLIT_Y4 idx(4, 5, 6, 7, 12, 13, 14, 15)
#define SPLIT_X2 idx(0, 1, 4, 5, 8, 9, 12, 13)
#define SPLIT_Y2 idx(2, 3, 6, 7, 10, 11, 14, 15)
#define MERGE_A2 idx(0, 1, 8, 9, 2, 3, 10, 11)
#define MERGE_B2 idx(4, 5, 12, 13, 6, 7, 14, 15)
#define SPLIT_X1 idx(0, 2, 4, 6, 8, 10, 12, 14)
#define SPLIT_Y1 idx(1, 3, 5, 7, 9, 11, 13, 15)
#define MERGE_A1 idx(0, 8, 1, 9, 2, 10, 3, 11)
#define MERGE_B1 idx(4, 12, 5, 13, 6, 14, 7, 15)

/* One stage of butterfly distance d in {4, 2, 1} (twiddle index base m) over the whole
 * array, two vectors at a time: the x- and y-halves of the butterflies are gathered
 * with two-source permutes, transformed, and scattered back. */
static inline __attribute__((always_inline)) void
regrouped_stage(uint64_t *a, size_t n, unsigned d, size_t m, const uint64_t *w,
                const uint64_t *ws, __m512i p, __m512i p2, int inverse)
{
    const __m512i sx = d == 4 ? SPLIT_X4 : d == 2 ? SPLIT_X2 : SPLIT_X1;
    const __m512i sy = d == 4 ? SPLIT_Y4 : d == 2 ? SPLIT_Y2 : SPLIT_Y1;
    const __m512i ma = d == 4 ? SPLIT_X4 : d == 2 ? MERGE_A2 : MERGE_A1;
    const __m512i mb = d == 4 ? SPLIT_Y4 : d == 2 ? MERGE_B2 : MERGE_B1;
    for (size_t b = 0; b < n; b += 16) {
        __m512i A = _mm512_loadu_si512((const void *)(a + b));
        __m512i B = _mm512_loadu_si512((const void *)(a + b + 8));
        __m512i X = _mm512_permutex2var_epi64(A, sx, B);
        __m512i Y = _mm512_permutex2var_epi64(A, sy, B);
        __m512i W, Ws;
        twiddles(&W, &Ws, w, ws, m + b / (2 * d), d);
        if (inverse)
            inv_bf(&X, &Y, W, Ws, p, p2);
        else
            fwd_bf(&X, &Y, W, Ws, p, p2);
        _mm512_storeu_si512((void *)(a + b), _mm512_permutex2var_epi64(X, ma, Y));
        _mm512_storeu_si512((void *)(a + b + 8), _mm512_permutex2var_epi64(X, mb, Y));
    }
}

/* the forward transform of src into a (src == a: in place): the first stage reads src */
static inline __attribute__((always_inline)) void fwd(uint64_t *a, const uint64_t *src,
                                                      const cn_ntt_table_t *t)
{
    const size_t n = t->n;
    const __m512i p = set1(t->mod.p), p2 = set1(2 * t->mod.p);
    const uint64_t *w = t->w, *ws = CN_NTT_WS(t);
    size_t gap = n >> 1, m = 1;
    for (; gap >= 8; m <<= 1, gap >>= 1) {
        const uint64_t *in = m == 1 ? src : a;
        for (size_t i = 0; i < m; i++) {
            const __m512i W = set1(w[m + i]), Ws = set1(ws[m + i]);
            uint64_t *x = a + 2 * i * gap, *y = x + gap;
            const uint64_t *xi = in + 2 * i * gap, *yi = xi + gap;
            for (size_t j = 0; j < gap; j += 8) {
                __m512i X = _mm512_loadu_si512((const void *)(xi + j));
                __m512i Y = _mm512_loadu_si512((const void *)(yi + j));
                fwd_bf(&X, &Y, W, Ws, p, p2);
                _mm512_storeu_si512((void *)(x + j), X);
                _mm512_storeu_si512((void *)(y + j), Y);
            }
        }
    }
    /* distances 4, 2, 1 (m = n/8, n/4, n/2) */
    for (unsigned d = 4; d >= 1; d >>= 1, m <<= 1)
        regrouped_stage(a, n, d, m, w, ws, p, p2, 0);
}

void CN_NTT_FWD(uint64_t *a, const cn_ntt_table_t *t)
{
    if (!CN_NTT_WS(t) || t->n < 16) {
        cn_ntt_forward_lazy_portable(a, t);
        return;
    }
    fwd(a, a, t);
}

void CN_NTT_FWD_FROM(uint64_t *dst, const uint64_t *src, const cn_ntt_table_t *t)
{
    if (!CN_NTT_WS(t) || t->n < 16) {
        cn_ntt_forward_lazy_from_portable(dst, src, t);
        return;
    }
    fwd(dst, src, t);
}

void CN_NTT_INV(uint64_t *a, const cn_ntt_table_t *t)
{
    const size_t n = t->n;
    if (!CN_NTT_WIS(t) || n < 16) {
        cn_ntt_inverse_lazy_portable(a, t);
        return;
    }
    const __m512i p = set1(t->mod.p), p2 = set1(2 * t->mod.p);
    const uint64_t *w = t->wi, *ws = CN_NTT_WIS(t);
    /* distances 1, 2, 4 first (m = n/2, n/4, n/8) */
    size_t m = n >> 1;
    for (unsigned d = 1; d <= 4; d <<= 1, m >>= 1)
        regrouped_stage(a, n, d, m, w, ws, p, p2, 1);
    size_t gap = 8;
    for (; m > 1; m >>= 1, gap <<= 1) {
        for (size_t i = 0; i < m; i++) {
            const __m512i W = set1(w[m + i]), Ws = set1(ws[m + i]);
            uint64_t *x = a + 2 * i * gap, *y = x + gap;
            for (size_t j = 0; j < gap; j += 8) {
                __m512i X = _mm512_loadu_si512((const void *)(x + j));
                __m512i Y = _mm512_loadu_si512((const void *)(y + j));
                inv_bf(&X, &Y, W, Ws, p, p2);
                _mm512_storeu_si512((void *)(x + j), X);
                _mm512_storeu_si512((void *)(y + j), Y);
            }
        }
    }
    /* the last stage, with n^-1 merged: x = (u + v) / n, y = (u - v) w / n */
    const __m512i ni = set1(t->n_inv), nis = set1(CN_NTT_NIS(t));
    const __m512i lw = set1(t->last_wi), lws = set1(CN_NTT_LWS(t));
    uint64_t *x = a, *y = a + gap;
    for (size_t j = 0; j < gap; j += 8) {
        __m512i U = _mm512_loadu_si512((const void *)(x + j));
        __m512i V = _mm512_loadu_si512((const void *)(y + j));
        __m512i X = mul_lazy(_mm512_add_epi64(U, V), ni, nis, p);
        __m512i Y = mul_lazy(_mm512_sub_epi64(_mm512_add_epi64(U, p2), V), lw, lws, p);
        _mm512_storeu_si512((void *)(x + j), X);
        _mm512_storeu_si512((void *)(y + j), Y);
    }
}

#endif
