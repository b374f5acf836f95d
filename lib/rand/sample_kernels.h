/* Internal: the samplers' inner loops over keystream bytes already drawn (lib/rand/sample.c),
 * a portable version and an AVX-512 twin of each (sample_avx512.c), picked once by
 * lib/rand/dispatch.c. Both turn the same bytes into the same values. */
#ifndef CN_RAND_SAMPLE_KERNELS_H
#define CN_RAND_SAMPLE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Bytes readable past the m * nb bytes a kernel consumes (its vector loads). */
#define CN_SAMPLE_PAD 64

/* Candidate i (0 <= i < m) is bytes [i nb, i nb + nb) of buf read little-endian and
 * masked with mask (nb in [1, 8], mask < 2^(8 nb)); those below q are written to out in
 * order. Returns how many (at most m; out has room for m). buf holds m nb + CN_SAMPLE_PAD
 * bytes. */
typedef size_t (*cn_uniform_accept_fn)(uint64_t *out, const uint8_t *buf, size_t m, unsigned nb,
                                       uint64_t mask, uint64_t q);
/* out[i] = popcount(x & (2^eta - 1)) - popcount((x >> eta) & (2^eta - 1)) for x the
 * little-endian value of bytes [6 i, 6 i + 6) of buf, eta = CN_CBD_ETA (2 eta <= 48);
 * branch-free (the values are secret). buf holds 6 m + CN_SAMPLE_PAD bytes. */
typedef void (*cn_cbd_fn)(int64_t *out, const uint8_t *buf, size_t m);

size_t cn_uniform_accept_portable(uint64_t *out, const uint8_t *buf, size_t m, unsigned nb,
                                  uint64_t mask, uint64_t q);
void cn_cbd_portable(int64_t *out, const uint8_t *buf, size_t m);
/* AVX-512 (F, VL, DQ, BW) */
size_t cn_uniform_accept_avx512(uint64_t *out, const uint8_t *buf, size_t m, unsigned nb,
                                uint64_t mask, uint64_t q);
void cn_cbd_avx512(int64_t *out, const uint8_t *buf, size_t m);

/* out[0, 1024 groups) = ChaCha20 keystream blocks counter, counter + 1, ... (64-bit
 * counter in state words 12-13, nonce in 14-15): sixteen blocks per group. */
typedef void (*cn_chacha20_blocks16_fn)(uint8_t *out, size_t groups, const uint32_t key[8],
                                        const uint32_t nonce[2], uint64_t counter);
void cn_chacha20_blocks16_avx512(uint8_t *out, size_t groups, const uint32_t key[8],
                                 const uint32_t nonce[2], uint64_t counter);

/* The picked kernels (lib/rand/dispatch.c); cn_rand_chacha20_kernel is NULL where the
 * CPU has none (libsodium's code then serves). */
cn_chacha20_blocks16_fn cn_rand_chacha20_kernel(void);
cn_uniform_accept_fn cn_rand_uniform_accept_kernel(void);
cn_cbd_fn cn_rand_cbd_kernel(void);

#endif
