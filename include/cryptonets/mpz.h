/* Opt-in GMP interoperability: big-integer <-> RNS conversions. Include this header
 * (after <gmp.h> is available) only where big integers are wanted; cryptonets.h does
 * not include it. */
#ifndef CRYPTONETS_MPZ_H
#define CRYPTONETS_MPZ_H

#include <gmp.h>

#include "cryptonets/encode.h"
#include "cryptonets/poly.h"
#include "cryptonets/rns.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Product Q of the base's primes. */
CN_API void cn_rns_base_modulus_mpz(mpz_t Q, const cn_rns_base_t *b);

/* res[i * stride] = x mod q_i in [0, q_i), for any sign of x. */
CN_API void cn_rns_decompose_mpz(uint64_t *res, size_t stride, const mpz_t x,
                                 const cn_rns_base_t *b);

/* x = the centered representative in (-Q/2, Q/2] of the residues res[i * stride]
 * (each in [0, q_i); CN_ERR_OUT_OF_RANGE otherwise). */
CN_API CN_WARN_UNUSED cn_status cn_rns_compose_mpz(mpz_t x, const uint64_t *res, size_t stride,
                                                   const cn_rns_base_t *b);

/* a = the polynomial with coefficients c[0..n) (any sign), coefficient form. */
CN_API CN_WARN_UNUSED cn_status cn_poly_set_mpz(cn_poly_t *a, const mpz_t *c,
                                                const cn_ring_t *r);

/* c[0..n) = centered coefficients of a, which must be in coefficient form; c must
 * hold n initialized mpz_t. The modulus is the product of a's k primes. */
CN_API CN_WARN_UNUSED cn_status cn_poly_get_mpz(mpz_t *c, const cn_poly_t *a,
                                                const cn_ring_t *r);

/* v[j] = the value in (-T/2, T/2] with residues res[i][j]; v holds count initialized
 * mpz_t. CN_ERR_OUT_OF_RANGE if a residue is >= its modulus. */
CN_API CN_WARN_UNUSED cn_status cn_plain_crt_join_mpz(mpz_t *v, const uint64_t *const *res,
                                                      size_t count, const cn_plain_crt_t *crt);

#ifdef __cplusplus
}
#endif

#endif
