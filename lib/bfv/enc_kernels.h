/* Internal: the per-row kernels of secret-key encryption (lib/bfv/encrypt.c), with a
 * portable twin (enc_kernels_portable.c) for every SIMD variant (enc_kernels_avx512ifma.c);
 * lib/bfv/dispatch.c picks among them. Each row is one prime p of the ciphertext modulus. */
#ifndef CN_BFV_ENC_KERNELS_H
#define CN_BFV_ENC_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* y = x s mod p coefficient-wise: x in [0, 4p) (a lazy forward NTT's output), s in [0, p);
 * y in [0, p). y may alias x. */
typedef void (*cn_enc_mul_row_fn)(uint64_t *y, const uint64_t *x, const uint64_t *s, size_t n,
                                  uint64_t p);
/* c0 = e + delta m - y mod p coefficient-wise: y in [0, 2p) (a lazy inverse NTT's
 * output), e signed with |e| < p, m in
 * [0, 2^50) (a plaintext's coefficients), delta in [0, p); c0 in [0, p). c0 may alias y. */
typedef void (*cn_enc_c0_row_fn)(uint64_t *c0, const uint64_t *y, const int64_t *e,
                                 const uint64_t *m, size_t n, uint64_t p, uint64_t delta);

/* Portable C: any p < 2^61, any n. */
void cn_enc_mul_row_portable(uint64_t *y, const uint64_t *x, const uint64_t *s, size_t n,
                             uint64_t p);
void cn_enc_c0_row_portable(uint64_t *c0, const uint64_t *y, const int64_t *e,
                            const uint64_t *m, size_t n, uint64_t p, uint64_t delta);
/* AVX-512 IFMA: p < 2^50, n a multiple of 8. */
void cn_enc_mul_row_ifma(uint64_t *y, const uint64_t *x, const uint64_t *s, size_t n,
                         uint64_t p);
void cn_enc_c0_row_ifma(uint64_t *c0, const uint64_t *y, const int64_t *e, const uint64_t *m,
                        size_t n, uint64_t p, uint64_t delta);

/* The kernels for prime p, rows of n words and plaintext coefficients below t
 * (lib/bfv/dispatch.c). */
cn_enc_mul_row_fn cn_bfv_enc_mul_row_kernel(uint64_t p, size_t n);
cn_enc_c0_row_fn cn_bfv_enc_c0_row_kernel(uint64_t p, size_t n, uint64_t t);

#endif
