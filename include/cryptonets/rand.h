/* Randomness: a ChaCha20 stream (RFC 8439's block function, computed by libsodium) keyed
 * from the operating system, and the samplers BFV needs (uniform mod q, ternary secret,
 * centered binomial error).
 *
 * cn_rng_init() seeds from getrandom(); that is the only way to get randomness for
 * secrets. Two explicit, deterministic constructions exist besides:
 * - cn_rng_init_public_seed(): expands a 32-byte seed that is sent in the clear (the
 *   uniform half of a seeded ciphertext or key); never use it for a secret.
 * - cn_rng_init_insecure_deterministic(): the whole generator from a caller-given seed,
 *   for tests and reproducible benchmarks. It refuses to work unless the caller passes
 *   the constant CN_RNG_INSECURE_ACK, so it cannot be reached by accident.
 * A generator is not shared between threads (each thread uses its own). */
#ifndef CRYPTONETS_RAND_H
#define CRYPTONETS_RAND_H

#include "cryptonets/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CN_SEED_BYTES 32

/* The acknowledgement cn_rng_init_insecure_deterministic() requires. */
#define CN_RNG_INSECURE_ACK 0x494e534543555245ULL /* "INSECURE" */

/* Centered binomial parameter: samples are sum of 21 bits minus sum of 21 bits, so
 * the standard deviation is sqrt(21/2) = 3.24 and |e| <= 21. */
#define CN_CBD_ETA 21

/* Bytes of a generator's state. */
#define CN_RNG_STATE_BYTES 576

/* A generator: callers allocate it (on the stack, in a struct) but never read or write
 * its bytes, which only the functions below touch (libsodium's opaque-state convention;
 * the layout is lib/rand's business and may change). One thread at a time. */
typedef struct {
    uint64_t opaque_[CN_RNG_STATE_BYTES / 8];
} cn_rng_t;

/* Seeds from the operating system (getrandom). CN_ERR_RANDOMNESS if it fails. */
CN_API CN_WARN_UNUSED cn_status cn_rng_init(cn_rng_t *r);

/* The deterministic stream of a public seed for domain `domain` (distinct domains give
 * independent streams). For public values only. */
CN_API void cn_rng_init_public_seed(cn_rng_t *r, const uint8_t seed[CN_SEED_BYTES],
                                    uint64_t domain);

/* A deterministic generator for tests and benchmarks: CN_ERR_INVALID_ARG unless
 * ack == CN_RNG_INSECURE_ACK. Never use it for real keys. */
CN_API CN_WARN_UNUSED cn_status cn_rng_init_insecure_deterministic(
    cn_rng_t *r, const uint8_t seed[CN_SEED_BYTES], uint64_t ack);

/* child = a generator keyed by 32 fresh bytes of parent (as secure as parent, and
 * insecure if parent is), so threads can each draw from their own; deterministic for a
 * deterministic parent. */
CN_API void cn_rng_fork(cn_rng_t *child, cn_rng_t *parent);

/* 1 if r was seeded by cn_rng_init_insecure_deterministic, else 0. */
CN_API int cn_rng_is_insecure(const cn_rng_t *r);

/* Wipes the generator's state. */
CN_API void cn_rng_clear(cn_rng_t *r);

/* Fills out[0..len) with keystream bytes. */
CN_API void cn_rng_bytes(cn_rng_t *r, void *out, size_t len);
CN_API uint64_t cn_rng_u64(cn_rng_t *r);

/* out[i] uniform in [0, q) for 2 <= q < 2^63, by rejection (no modulo bias). For
 * public values (the rejection's timing depends on the discarded draws only). */
CN_API void cn_sample_uniform(uint64_t *out, size_t n, uint64_t q, cn_rng_t *r);

/* out[i] uniform in {-1, 0, 1}, branch-free in the value produced. */
CN_API void cn_sample_ternary(int64_t *out, size_t n, cn_rng_t *r);

/* out[i] centered binomial with parameter CN_CBD_ETA, branch-free. */
CN_API void cn_sample_cbd(int64_t *out, size_t n, cn_rng_t *r);

#ifdef __cplusplus
}
#endif

#endif
