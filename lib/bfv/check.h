/* Internal: the validity of BFV objects for a context, checked in one place (SEAL's
 * valcheck: is_metadata_valid_for, is_buffer_valid). Every operation of lib/bfv calls
 * these first; loaders and savers (lib/io) may call them too. Each returns CN_OK or the
 * reason:
 *   CN_ERR_CONTEXT_MISMATCH  another context's fingerprint, or a key switching key with
 *                            another number of digits
 *   CN_ERR_INVALID_ARG       a ciphertext's size or level, or a plaintext's buffer, outside
 *                            what any object of the context may have
 *   CN_ERR_PLAIN_MODULUS     a plaintext-modulus index the context does not have, or two
 *                            operands under different plaintext moduli
 *   CN_ERR_SHAPE_MISMATCH    a polynomial (or plaintext) of the wrong degree or row count,
 *                            or a missing one
 *   CN_ERR_FORM_MISMATCH     a polynomial in the wrong form (coefficient / NTT)
 *   CN_ERR_LEVEL_MISMATCH    two ciphertexts at different levels
 *   CN_ERR_OUT_OF_RANGE      a plaintext coefficient not below t */
#ifndef CN_BFV_CHECK_H
#define CN_BFV_CHECK_H

#include "cryptonets/bfv.h"

/* A ciphertext of ctx: fingerprint, size 2 or 3, level in [1, L], t index, and its polys
 * (level rows of n coefficients, coefficient form). */
cn_status cn_bfv_check_ct(const cn_bfv_ciphertext_t *ct, const cn_bfv_context_t *ctx);
/* A plaintext of ctx: fingerprint, t index, its n coefficients. */
cn_status cn_bfv_check_pt(const cn_bfv_plaintext_t *pt, const cn_bfv_context_t *ctx);
/* A plaintext used as a message (encryption, plaintext operands): cn_bfv_check_pt and
 * every coefficient in [0, t). */
cn_status cn_bfv_check_message(const cn_bfv_plaintext_t *pt, const cn_bfv_context_t *ctx);
/* Two ciphertexts one operation combines: each valid, one level, one plaintext modulus. */
cn_status cn_bfv_check_pair(const cn_bfv_ciphertext_t *a, const cn_bfv_ciphertext_t *b,
                            const cn_bfv_context_t *ctx);
/* A ciphertext and a plaintext message one operation combines: each valid, one plaintext
 * modulus, the message's coefficients below t. */
cn_status cn_bfv_check_ct_pt(const cn_bfv_ciphertext_t *a, const cn_bfv_plaintext_t *pt,
                             const cn_bfv_context_t *ctx);
/* Keys of ctx, with their polynomials (NTT form): s over q_1..q_L and P; (p0, p1) over
 * q_1..q_L; a key switching key with one digit per prime of q, each over q_1..q_L and P;
 * Galois keys, each such a key switching key. */
cn_status cn_bfv_check_sk(const cn_bfv_secret_key_t *sk, const cn_bfv_context_t *ctx);
cn_status cn_bfv_check_pk(const cn_bfv_public_key_t *pk, const cn_bfv_context_t *ctx);
cn_status cn_bfv_check_ksk(const cn_bfv_relin_key_t *k, const cn_bfv_context_t *ctx);
cn_status cn_bfv_check_galois(const cn_bfv_galois_keys_t *gk, const cn_bfv_context_t *ctx);

#endif
