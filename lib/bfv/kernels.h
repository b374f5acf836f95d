/* Internal: the BFV kernels, the per-row arithmetic of multiplication (mul.c) and key
 * switching (keyswitch.c). Each has one signature, a portable twin for every SIMD variant
 * (kernels_portable.c, kernels_avx512ifma.c), and lib/bfv/dispatch.c picks among them. */
#ifndef CN_BFV_KERNELS_H
#define CN_BFV_KERNELS_H

#include "cryptonets/arith.h"

/* One row of the tensor product in NTT form: d0 = a0 b0, d1 = a0 b1 + a1 b0, d2 = a1 b1
 * mod p (square: b = a, and d1 = 2 a0 a1); inputs in [0, 4p) (a lazy forward NTT's
 * output), outputs in [0, p). The outputs must not overlap the inputs. */
typedef void (*cn_tensor_row_fn)(uint64_t *d0, uint64_t *d1, uint64_t *d2, const uint64_t *a0,
                                 const uint64_t *a1, const uint64_t *b0, const uint64_t *b1,
                                 size_t n, uint64_t modulus, int square);
/* Key switching's multiply-accumulate over nd digits: y0 = y0 + sum_i x[i] k0[i],
 * y1 = y1 + sum_i x[i] k1[i] mod p, coefficient-wise over rows of n words; x[i] in [0, 4p)
 * (a lazy forward NTT's output), the rest in [0, p); y0 and y1 receive values in [0, p).
 * y0 and y1 must not overlap the inputs. */
typedef void (*cn_mul_acc2_fn)(uint64_t *y0, uint64_t *y1, const uint64_t *const *x,
                               const uint64_t *const *k0, const uint64_t *const *k1, size_t nd,
                               size_t n, uint64_t modulus);

/* cn_mul_acc2_fn with x[i] of n >> shift words, each standing for 2^shift equal ones:
 * x[i][c >> shift] multiplies k0[i][c] and k1[i][c] (a plaintext that is a polynomial in
 * X^(2^shift), whose NTT form in lib/ntt's bit-reversed order repeats each value 2^shift
 * times; lib/bfv/hoist.c). shift = 0 is cn_mul_acc2_fn. acc = 0: y0 and y1 are written
 * without being read (y = the sum), so they need no zeroing first. */
typedef void (*cn_mul_acc2_rep_fn)(uint64_t *y0, uint64_t *y1, const uint64_t *const *x,
                                   unsigned shift, const uint64_t *const *k0,
                                   const uint64_t *const *k1, size_t nd, size_t n,
                                   uint64_t modulus, int acc);

/* y[c] = x[perm[c]] for c < n, y not overlapping x: an automorphism X -> X^g in the NTT
 * form (lib/bfv/hoist.c). The SIMD twins need perm to map every aligned block of 8
 * indices into one aligned block of 8 (true of every automorphism in lib/ntt's
 * bit-reversed order: the low 3 bits of an index are the top 3 of its exponent, and
 * multiplying by an odd g changes only the top 3 bits from them) and n a multiple of 8. */
typedef void (*cn_perm_rows_fn)(uint64_t *y, const uint64_t *x, const uint32_t *perm, size_t n);

/* Key switching's ModDown of one row (the division by the special prime P, rounded:
 * Bajard et al., SAC 2016; as lib/rns's cn_rns_divround_last on one row): out = (x - c)
 * P^-1 mod p, c the centered residue of last (last - P when last > P / 2), for x in
 * [0, p), last in [0, P), inv = P^-1 mod p; out in [0, p). out may alias x. */
typedef void (*cn_divround_row_fn)(uint64_t *out, const uint64_t *x, const uint64_t *last,
                                   size_t n, uint64_t modulus, uint64_t P, uint64_t inv);

/* Portable C: any p < 2^61, any n. */
void cn_tensor_row_portable(uint64_t *d0, uint64_t *d1, uint64_t *d2, const uint64_t *a0,
                            const uint64_t *a1, const uint64_t *b0, const uint64_t *b1,
                            size_t n, uint64_t modulus, int square);
void cn_mul_acc2_portable(uint64_t *y0, uint64_t *y1, const uint64_t *const *x,
                          const uint64_t *const *k0, const uint64_t *const *k1, size_t nd,
                          size_t n, uint64_t modulus);
void cn_mul_acc2_rep_portable(uint64_t *y0, uint64_t *y1, const uint64_t *const *x,
                              unsigned shift, const uint64_t *const *k0,
                              const uint64_t *const *k1, size_t nd, size_t n, uint64_t modulus,
                              int acc);
void cn_perm_rows_portable(uint64_t *y, const uint64_t *x, const uint32_t *perm, size_t n);
void cn_divround_row_portable(uint64_t *out, const uint64_t *x, const uint64_t *last, size_t n,
                              uint64_t modulus, uint64_t P, uint64_t inv);
/* AVX-512 IFMA: p < 2^50 (and P < 2^52 for the divround), n a multiple of 8. */
void cn_tensor_row_ifma(uint64_t *d0, uint64_t *d1, uint64_t *d2, const uint64_t *a0,
                        const uint64_t *a1, const uint64_t *b0, const uint64_t *b1, size_t n,
                        uint64_t modulus, int square);
void cn_mul_acc2_ifma(uint64_t *y0, uint64_t *y1, const uint64_t *const *x,
                      const uint64_t *const *k0, const uint64_t *const *k1, size_t nd, size_t n,
                      uint64_t modulus);
void cn_mul_acc2_rep_ifma(uint64_t *y0, uint64_t *y1, const uint64_t *const *x, unsigned shift,
                          const uint64_t *const *k0, const uint64_t *const *k1, size_t nd,
                          size_t n, uint64_t modulus, int acc);
void cn_perm_rows_ifma(uint64_t *y, const uint64_t *x, const uint32_t *perm, size_t n);
void cn_divround_row_ifma(uint64_t *out, const uint64_t *x, const uint64_t *last, size_t n,
                          uint64_t modulus, uint64_t P, uint64_t inv);

/* The kernels for prime p and rows of n words (lib/bfv/dispatch.c). */
cn_tensor_row_fn cn_bfv_tensor_row_kernel(uint64_t p, size_t n);
cn_mul_acc2_fn cn_bfv_mul_acc2_kernel(uint64_t p, size_t n);
cn_mul_acc2_rep_fn cn_bfv_mul_acc2_rep_kernel(uint64_t p, size_t n);
cn_perm_rows_fn cn_bfv_perm_rows_kernel(size_t n);
cn_divround_row_fn cn_bfv_divround_row_kernel(uint64_t p, uint64_t P, size_t n);
/* 1 when the 52-bit (IFMA) kernels were picked (CPU, build and CN_SIMD allow them). */
int cn_bfv_ifma_available(void);

#endif
