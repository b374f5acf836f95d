/* BFV slot rotations for linear transformations: Galois keys for exactly the elements a
 * computation uses, and hoisted rotations (many rotations of one ciphertext sharing one
 * decomposition of c1: Halevi, Shoup, "Faster homomorphic linear transformations in
 * HElib", CRYPTO 2018, section 5). Part of the bfv module (lib/bfv/hoist.c); see
 * cryptonets/bfv.h for the objects and the slot layout of cryptonets/encode.h. */
#ifndef CRYPTONETS_BFV_HOIST_H
#define CRYPTONETS_BFV_HOIST_H

#include "cryptonets/bfv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Galois keys for exactly the elements elts[0..count) (each odd, in [3, 2n); duplicates
 * and 1 are skipped), and for no other: a row rotation by k has the element
 * cn_bfv_galois_elt_rows(k), the column swap cn_bfv_galois_elt_columns. Needs the special
 * prime P (CN_ERR_UNSUPPORTED without); CN_ERR_INVALID_ARG for an element out of range. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_keygen_galois_elts(cn_bfv_galois_keys_t *gk,
                                                          const cn_bfv_secret_key_t *sk,
                                                          const uint64_t *elts, size_t count,
                                                          const cn_bfv_context_t *ctx,
                                                          cn_rng_t *rng);

/* Hoisted rotations: out[i] = a under X -> X^elts[i] switched back to s (what
 * cn_bfv_apply_galois(&out[i], a, elts[i], ...) decrypts to), for i < count. The digits
 * of c1 are lifted and transformed to the NTT domain once; each rotation permutes them
 * there (the automorphism is a permutation of the NTT's evaluation points) and pays only
 * the products with its key, two inverse transforms per prime and the division by P.
 * The noise added per rotation is that of one key switch, as cn_bfv_apply_galois.
 * a has size 2; out[i] may not alias a. Element 1 copies a. CN_ERR_NO_KEY when an
 * element has no key, CN_ERR_UNSUPPORTED for size 3. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_apply_galois_hoisted(cn_bfv_ciphertext_t *out,
                                                            const cn_bfv_ciphertext_t *a,
                                                            const uint64_t *elts, size_t count,
                                                            const cn_bfv_galois_keys_t *gk,
                                                            const cn_bfv_context_t *ctx);

#ifdef __cplusplus
}
#endif

#endif
