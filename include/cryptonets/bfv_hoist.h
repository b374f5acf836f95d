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

/* Hoisted rotations kept before the division by P, for sums of products with plaintexts
 * (the baby steps of a baby-step giant-step linear transformation): each rotation of a
 * stays in the NTT domain over q_1..q_l and P, as P a(X^g) + (key switch before its
 * division by P), so that sum_i w_i a(X^{g_i}) is divided by P once per sum instead of
 * once per rotation (the "double hoisting" of Bossuat, Mouchet, Troncoso-Pastoriza,
 * Hubaux, EUROCRYPT 2021, section 6). The rounding by P then happens once, after the
 * products: the result's noise is at most that of rotating, multiplying and summing. */
typedef struct cn_bfv_hoisted_s cn_bfv_hoisted_t;

/* *h = the rotations of a (size 2) by elts[0..count) (1: a itself); errors as
 * cn_bfv_apply_galois_hoisted. Holds 2 count (l + 1) n words. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_hoist(cn_bfv_hoisted_t **h, const cn_bfv_ciphertext_t *a,
                                             const uint64_t *elts, size_t count,
                                             const cn_bfv_galois_keys_t *gk,
                                             const cn_bfv_context_t *ctx);
/* out = sum_{i < count} w[i] * (a under X -> X^elts[i]) (size 2, coefficient form, a's level
 * and plaintext modulus), for w[i] plaintexts as polynomials in NTT form over every prime
 * of the ring (q_1..q_L and P: cn_poly_init(&w, cn_bfv_context_ring(ctx), L + 1), centered
 * coefficients lifted); the rows of a's level and P's are read. A plaintext that is a
 * polynomial in X^(2^s) (a slot vector invariant under the rotation by (n/2) / 2^s
 * positions, in both rows) has an NTT form (lib/ntt's bit-reversed order) made of blocks of
 * 2^s equal values: w[i] may then hold one value per block (w[i].n = n / 2^s, the same
 * for every i; cn_poly_t rows of w[i].n words), and the products read 2^s times fewer
 * words. CN_ERR_SHAPE_MISMATCH or CN_ERR_FORM_MISMATCH for another shape or form. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_hoisted_dot(cn_bfv_ciphertext_t *out,
                                                   const cn_bfv_hoisted_t *h,
                                                   const cn_poly_t *w,
                                                   const cn_bfv_context_t *ctx);
/* out[g] = cn_bfv_hoisted_dot(h, w + g count) for g < nout (count = the rotations of h),
 * in one pass over the rotations (tiled: each tile of them is read once for all outputs,
 * not once per output; the giant steps of a baby-step giant-step product); out[0..nout)
 * distinct (CN_ERR_INVALID_ARG). Holds 2 nout (l + 1) n words meanwhile. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_hoisted_dots(cn_bfv_ciphertext_t *out, size_t nout,
                                                    const cn_bfv_hoisted_t *h,
                                                    const cn_poly_t *w,
                                                    const cn_bfv_context_t *ctx);
CN_API void cn_bfv_hoisted_free(cn_bfv_hoisted_t *h);

/* y0 = sum_{i < count} w[i] a0[i], y1 = sum_i w[i] a1[i] coefficient-wise in the NTT form,
 * over the first y0->k primes (y0 and y1 of the ring's degree and as many primes; every
 * input with at least as many, values below their prime): products with plaintexts of
 * the halves of count ciphertexts, summed. w[i] may hold one value per block of 2^s, as
 * for cn_bfv_hoisted_dot. lib/bfv/dot.c. CN_ERR_SHAPE_MISMATCH, CN_ERR_FORM_MISMATCH, or
 * CN_ERR_INVALID_ARG when an output is an input. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_dot2_ntt(cn_poly_t *y0, cn_poly_t *y1,
                                                const cn_poly_t *w, const cn_poly_t *const *a0,
                                                const cn_poly_t *const *a1, size_t count,
                                                const cn_bfv_context_t *ctx);

#ifdef __cplusplus
}
#endif

#endif
