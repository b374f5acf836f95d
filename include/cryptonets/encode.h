/* Encoding: integers <-> BFV plaintexts, and plaintext CRT over several moduli.
 *
 * Batch encoding (t prime, t = 1 mod 2n): Z_t[X]/(X^n + 1) is isomorphic to Z_t^n by
 * the negacyclic NTT modulo t, so a vector of n integers (the slots) is the NTT image of
 * the plaintext polynomial; sums and products of plaintexts act slot by slot. The n slots
 * form two rows of n/2: slot s = r n/2 + c (r in {0, 1}) is the evaluation at
 * zeta^(3^c (-1)^r mod 2n), zeta the smallest primitive 2n-th root of unity mod t, so that
 * cn_bfv_rotate_rows rotates each row and cn_bfv_rotate_columns swaps them. Signed values
 * are accepted and reduced mod t; decoding returns the centered representative in
 * (-t/2, t/2].
 *
 * Plaintext CRT: a value of absolute value below T/2, T = t_1 ... t_k (distinct primes),
 * is carried as k residues, each encrypted under its own t_i with the same keys, and
 * recombined after decryption (cn_plain_crt_join_*). */
#ifndef CRYPTONETS_ENCODE_H
#define CRYPTONETS_ENCODE_H

#include "cryptonets/bfv.h"
#include "cryptonets/rns.h"

#ifdef __cplusplus
extern "C" {
#endif

/* pt (already initialized for its t_index) = the slots v[0..count), zero beyond;
 * count <= n. CN_ERR_PLAIN_MODULUS when t does not batch. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_encode_batch(cn_bfv_plaintext_t *pt, const int64_t *v,
                                                    size_t count, const cn_bfv_context_t *ctx);
/* v[0..n) = the slots of pt, centered in (-t/2, t/2]. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_decode_batch(int64_t *v, const cn_bfv_plaintext_t *pt,
                                                    const cn_bfv_context_t *ctx);
/* v[0..n) = the slots of pt in [0, t). */
CN_API CN_WARN_UNUSED cn_status cn_bfv_decode_batch_u64(uint64_t *v,
                                                        const cn_bfv_plaintext_t *pt,
                                                        const cn_bfv_context_t *ctx);
/* pt = the constant c mod t (every slot c when t batches); any t. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_encode_scalar(cn_bfv_plaintext_t *pt, int64_t c,
                                                     const cn_bfv_context_t *ctx);

/* Plaintext CRT over k distinct prime moduli. */
typedef struct {
    cn_rns_base_t base; /* t_1 .. t_k */
} cn_plain_crt_t;

CN_API CN_WARN_UNUSED cn_status cn_plain_crt_init(cn_plain_crt_t *crt, const uint64_t *t,
                                                  size_t k);
CN_API void cn_plain_crt_clear(cn_plain_crt_t *crt);
/* log2(T). */
CN_API double cn_plain_crt_log2(const cn_plain_crt_t *crt);
/* res[i][j] = v[j] mod t_i in [0, t_i), for j < count. */
CN_API void cn_plain_crt_split_i64(uint64_t *const *res, const int64_t *v, size_t count,
                                   const cn_plain_crt_t *crt);
/* v[j] = the value in (-T/2, T/2] with residues res[i][j] (each in [0, t_i));
 * CN_ERR_OUT_OF_RANGE if a residue is >= t_i or a value does not fit int64 (use the
 * GMP version in cryptonets/mpz.h then). */
CN_API CN_WARN_UNUSED cn_status cn_plain_crt_join_i64(int64_t *v, const uint64_t *const *res,
                                                      size_t count, const cn_plain_crt_t *crt);
/* As cn_plain_crt_join_i64, into signed 128-bit integers: CN_ERR_OUT_OF_RANGE if a value
 * needs more than 126 bits (so that sums of two still fit). */
CN_API CN_WARN_UNUSED cn_status cn_plain_crt_join_i128(cn_int128 *v, const uint64_t *const *res,
                                                       size_t count, const cn_plain_crt_t *crt);

#ifdef __cplusplus
}
#endif

#endif
