/* AVX-512 IFMA twins of the BFV kernels of kernels_portable.c (same signatures and
 * results), eight coefficients per vector, for primes below 2^50 and rows whose length is
 * a multiple of 8. Products of two variables take their quotient from a double-precision
 * estimate and their remainder exactly modulo 2^52 (lib/internal/ifma52.h). */
#include "../internal/ifma52.h"
#include "kernels.h"

/* x y mod p in [0, p) for x < 4p, y < p, p < 2^50: the quotient is estimated in double
 * precision (off by at most one), the remainder computed exactly modulo 2^52 and corrected. */
static inline __m512i mul_mod(__m512i x, __m512i y, __m512i p, __m512d pinv)
{
    const __m512i z = _mm512_setzero_si512(), m52 = cn_v52_set1(CN_M52);
    __m512d xy = _mm512_mul_pd(_mm512_cvtepu64_pd(x), _mm512_cvtepu64_pd(y));
    __m512i q = _mm512_cvttpd_epu64(_mm512_mul_pd(xy, pinv));
    __m512i r =
        _mm512_sub_epi64(_mm512_madd52lo_epu64(z, x, y), _mm512_madd52lo_epu64(z, q, p));
    r = _mm512_and_si512(r, m52);
    /* r is the true remainder in [-p, 2p) modulo 2^52: negative ones are above 2^51 */
    __mmask8 neg = _mm512_cmpgt_epu64_mask(r, cn_v52_set1(1ULL << 51));
    r = _mm512_and_si512(_mm512_mask_add_epi64(r, neg, r, p), m52);
    return cn_v52_reduce1(r, p);
}

/* x in [0, 4p) -> [0, p) */
static inline __m512i reduce4(__m512i x, __m512i p, __m512i p2)
{
    return cn_v52_reduce1(cn_v52_reduce1(x, p2), p);
}

void cn_tensor_row_ifma(uint64_t *d0, uint64_t *d1, uint64_t *d2, const uint64_t *a0,
                        const uint64_t *a1, const uint64_t *b0, const uint64_t *b1, size_t n,
                        uint64_t modulus, int square)
{
    const __m512i p = cn_v52_set1(modulus);
    const __m512d pinv = _mm512_set1_pd(1.0 / (double)modulus);
    const __m512i p2 = _mm512_add_epi64(p, p);
    for (size_t i = 0; i < n; i += 8) {
        __m512i x0 = reduce4(_mm512_loadu_si512((const void *)(a0 + i)), p, p2);
        __m512i x1 = reduce4(_mm512_loadu_si512((const void *)(a1 + i)), p, p2);
        __m512i y0 = square ? x0 : reduce4(_mm512_loadu_si512((const void *)(b0 + i)), p, p2);
        __m512i y1 = square ? x1 : reduce4(_mm512_loadu_si512((const void *)(b1 + i)), p, p2);
        __m512i e1;
        if (square) {
            e1 = mul_mod(x0, x1, p, pinv);
            e1 = cn_v52_add_mod(e1, e1, p);
        } else {
            e1 = cn_v52_add_mod(mul_mod(x0, y1, p, pinv), mul_mod(x1, y0, p, pinv), p);
        }
        _mm512_storeu_si512((void *)(d0 + i), mul_mod(x0, y0, p, pinv));
        _mm512_storeu_si512((void *)(d1 + i), e1);
        _mm512_storeu_si512((void *)(d2 + i), mul_mod(x1, y1, p, pinv));
    }
}

/* The lazy sums of cn_mul_acc2_ifma: lo and hi accumulate the low 52 bits and the bits
 * 52..103 of each exact product x k (vpmadd52luq / vpmadd52huq; x < 2^52, k < 2^50), so a
 * group of c products costs no reduction, only the group's sum one: with each product below
 * 4 p^2, hi < c (floor(4 p^2 / 2^52) + 1) and lo < c 2^52, and the group size keeps
 * hi + floor(lo / 2^52) below 2^52 (pk_group). Then (hi + floor(lo / 2^52)) (2^52 mod p) +
 * (lo mod 2^52) is the sum modulo p, by two Shoup products with 52-bit constants
 * (lib/internal/ifma52.h): the modular sum with one reduction per group instead of one
 * per product (as the "lazy reduction" of Harvey, J. Symb. Comp. 2014, and of the
 * accumulations of Intel HEXL, Boemer et al., WAHC 2021). */
typedef struct {
    __m512i p, c52, c52s, one_s, m52;
} lazy52_t;

static inline __m512i lazy52_reduce(__m512i lo, __m512i hi, const lazy52_t *k)
{
    const __m512i h = _mm512_add_epi64(hi, _mm512_srli_epi64(lo, 52));
    const __m512i l = _mm512_and_si512(lo, k->m52);
    const __m512i a = cn_v52_mul_lazy(h, k->c52, k->c52s, k->p);          /* [0, 2p) */
    const __m512i b = cn_v52_mul_lazy(l, cn_v52_set1(1), k->one_s, k->p); /* [0, 2p) */
    const __m512i p2 = _mm512_add_epi64(k->p, k->p);
    return cn_v52_reduce1(cn_v52_reduce1(_mm512_add_epi64(a, b), p2), k->p);
}

/* the most products per group for p (at least 3: p < 2^50 gives hi < 2^50 per product) */
static size_t pk_group(uint64_t p)
{
    const unsigned __int128 top = ((unsigned __int128)4 * p * p) >> 52; /* hi < top + 1 */
    const uint64_t per = (uint64_t)top + 2; /* hi and the carry of lo, per product */
    const uint64_t c = (((uint64_t)1 << 52) - 1) / per;
    return c > 1024 ? 1024 : (size_t)c;
}

/* the 8 words of x for coefficients i .. i + 7: x[i >> shift ..], each repeated 2^shift
 * times (a broadcast from shift 3 on; below, the 8 >> shift words read, masked, and spread) */
static inline __m512i rep_load(const uint64_t *x, size_t i, unsigned shift, __m512i spread)
{
    if (shift == 0)
        return _mm512_loadu_si512((const void *)(x + i));
    if (shift >= 3)
        return _mm512_set1_epi64((long long)x[i >> shift]);
    const __mmask8 m = (__mmask8)((1u << (8u >> shift)) - 1);
    return _mm512_permutexvar_epi64(spread, _mm512_maskz_loadu_epi64(m, x + (i >> shift)));
}

static inline void mul_acc2_lazy(uint64_t *y0, uint64_t *y1, const uint64_t *const *x,
                                 unsigned shift, const uint64_t *const *k0,
                                 const uint64_t *const *k1, size_t nd, size_t n,
                                 uint64_t modulus, int acc)
{
    lazy52_t k;
    k.p = cn_v52_set1(modulus);
    const uint64_t c52 = ((uint64_t)1 << 52) % modulus;
    k.c52 = cn_v52_set1(c52);
    k.c52s = cn_v52_set1((uint64_t)(((unsigned __int128)c52 << 52) / modulus));
    k.one_s = cn_v52_set1((uint64_t)(((unsigned __int128)1 << 52) / modulus));
    k.m52 = cn_v52_set1(CN_M52);
    const size_t group = pk_group(modulus);
    const __m512i z = _mm512_setzero_si512();
    const unsigned sh = shift < 3 ? shift : 3;
    const __m512i spread = _mm512_srli_epi64(_mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0), sh);
    for (size_t d0 = 0; d0 < nd; d0 += group) {
        const size_t d1 = nd - d0 < group ? nd : d0 + group;
        /* coefficients outermost, the group's products in registers: each input word is
         * read once, each output read and written once per group */
        for (size_t i = 0; i < n; i += 8) {
            __m512i l0 = z, h0 = z, l1 = z, h1 = z;
            for (size_t d = d0; d < d1; d++) {
                const __m512i v = rep_load(x[d], i, shift, spread);
                const __m512i a = _mm512_loadu_si512((const void *)(k0[d] + i));
                const __m512i b = _mm512_loadu_si512((const void *)(k1[d] + i));
                l0 = _mm512_madd52lo_epu64(l0, v, a);
                h0 = _mm512_madd52hi_epu64(h0, v, a);
                l1 = _mm512_madd52lo_epu64(l1, v, b);
                h1 = _mm512_madd52hi_epu64(h1, v, b);
            }
            const int add = acc || d0 > 0; /* acc = 0: the first group writes */
            const __m512i s0 = add ? _mm512_loadu_si512((const void *)(y0 + i)) : z;
            const __m512i s1 = add ? _mm512_loadu_si512((const void *)(y1 + i)) : z;
            _mm512_storeu_si512((void *)(y0 + i),
                                cn_v52_add_mod(s0, lazy52_reduce(l0, h0, &k), k.p));
            _mm512_storeu_si512((void *)(y1 + i),
                                cn_v52_add_mod(s1, lazy52_reduce(l1, h1, &k), k.p));
        }
    }
}

void cn_mul_acc2_ifma(uint64_t *y0, uint64_t *y1, const uint64_t *const *x,
                      const uint64_t *const *k0, const uint64_t *const *k1, size_t nd, size_t n,
                      uint64_t modulus)
{
    mul_acc2_lazy(y0, y1, x, 0, k0, k1, nd, n, modulus, 1);
}

void cn_mul_acc2_rep_ifma(uint64_t *y0, uint64_t *y1, const uint64_t *const *x, unsigned shift,
                          const uint64_t *const *k0, const uint64_t *const *k1, size_t nd,
                          size_t n, uint64_t modulus, int acc)
{
    switch (shift) { /* the common shifts as constants, so rep_load's branch folds */
    case 0:
        mul_acc2_lazy(y0, y1, x, 0, k0, k1, nd, n, modulus, acc);
        break;
    case 1:
        mul_acc2_lazy(y0, y1, x, 1, k0, k1, nd, n, modulus, acc);
        break;
    case 2:
        mul_acc2_lazy(y0, y1, x, 2, k0, k1, nd, n, modulus, acc);
        break;
    default:
        mul_acc2_lazy(y0, y1, x, shift, k0, k1, nd, n, modulus, acc);
    }
}

/* one aligned source block per aligned output block (kernels.h): one load and one lane
 * permutation per 8 words instead of 8 scalar gathers */
void cn_perm_rows_ifma(uint64_t *y, const uint64_t *x, const uint32_t *perm, size_t n)
{
    const __m512i seven = _mm512_set1_epi64(7);
    for (size_t c = 0; c < n; c += 8) {
        const __m512i idx = _mm512_and_si512(
            _mm512_cvtepu32_epi64(_mm256_loadu_si256((const void *)(perm + c))), seven);
        const __m512i src = _mm512_loadu_si512((const void *)(x + (perm[c] & ~(uint32_t)7)));
        _mm512_storeu_si512((void *)(y + c), _mm512_permutexvar_epi64(idx, src));
    }
}

/* a - b mod p for a, b in [0, p) */
static inline __m512i sub_mod(__m512i a, __m512i b, __m512i p)
{
    const __m512i d = _mm512_sub_epi64(a, b);
    return _mm512_mask_add_epi64(d, _mm512_cmplt_epu64_mask(a, b), d, p);
}

void cn_divround_row_ifma(uint64_t *out, const uint64_t *x, const uint64_t *last, size_t n,
                          uint64_t modulus, uint64_t P, uint64_t inv)
{
    /* Shoup quotients floor(w 2^52 / p) of w = 1 (v mod p for any v < 2^52) and of inv */
    const uint64_t one_s = (uint64_t)(((unsigned __int128)1 << 52) / modulus);
    const uint64_t inv_s = (uint64_t)(((unsigned __int128)inv << 52) / modulus);
    const __m512i p = cn_v52_set1(modulus), half = cn_v52_set1(P >> 1);
    const __m512i pm = cn_v52_set1(P % modulus), vone = cn_v52_set1(1),
                  vone_s = cn_v52_set1(one_s);
    const __m512i w = cn_v52_set1(inv), ws = cn_v52_set1(inv_s), z = _mm512_setzero_si512();
    for (size_t i = 0; i < n; i += 8) {
        const __m512i v = _mm512_loadu_si512((const void *)(last + i));
        __m512i vm = cn_v52_reduce1(cn_v52_mul_lazy(v, vone, vone_s, p), p);
        const __m512i neg = _mm512_mask_mov_epi64(z, _mm512_cmpgt_epu64_mask(v, half), pm);
        vm = sub_mod(vm, neg, p);
        const __m512i d = sub_mod(_mm512_loadu_si512((const void *)(x + i)), vm, p);
        _mm512_storeu_si512((void *)(out + i), cn_v52_reduce1(cn_v52_mul_lazy(d, w, ws, p), p));
    }
}
