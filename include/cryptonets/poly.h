/* Polynomials in R_q = Z_q[X]/(X^n + 1) in RNS form.
 *
 * A ring (cn_ring_t) fixes n and an RNS base q_1..q_K with one NTT table per prime.
 * A polynomial (cn_poly_t) uses the first k <= K primes of its ring (its level) and is
 * stored as k rows of n words, row i holding the coefficients (or NTT values) modulo
 * q_i, each in [0, q_i). Its form (coefficient or NTT) is recorded and checked.
 *
 * Operations write to an output that must already be initialized with the same n and
 * k as the inputs (CN_ERR_SHAPE_MISMATCH otherwise); outputs may alias inputs. */
#ifndef CRYPTONETS_POLY_H
#define CRYPTONETS_POLY_H

#include "cryptonets/ntt.h"
#include "cryptonets/rns.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    size_t n;            /* ring degree, a power of two in [2, 2^15] */
    cn_rns_base_t base;  /* q_1..q_K */
    cn_ntt_table_t *ntt; /* [K] one table per prime */
} cn_ring_t;

typedef enum { CN_FORM_COEFF = 0, CN_FORM_NTT = 1 } cn_form;

typedef struct {
    size_t n;       /* degree */
    size_t k;       /* number of primes in use: the first k of the ring */
    cn_form form;   /* coefficient or NTT form */
    uint64_t *data; /* k * n words, row-major: data[i * n + j] */
} cn_poly_t;

/* Builds a ring of degree n over the given primes (each 1 mod 2n). Errors as
 * cn_ntt_table_init and cn_rns_base_init. On failure the ring needs no clear. */
CN_API CN_WARN_UNUSED cn_status cn_ring_init(cn_ring_t *r, size_t n, const uint64_t *primes,
                                             size_t k);
CN_API void cn_ring_clear(cn_ring_t *r);

/* A zero polynomial in coefficient form over the first k primes of r (1 <= k <= K). */
CN_API CN_WARN_UNUSED cn_status cn_poly_init(cn_poly_t *a, const cn_ring_t *r, size_t k);
/* Releases a polynomial (its memory is wiped first). Safe on a zeroed one. */
CN_API void cn_poly_clear(cn_poly_t *a);

/* out = a (same shape); out takes a's form. */
CN_API CN_WARN_UNUSED cn_status cn_poly_copy(cn_poly_t *out, const cn_poly_t *a);
/* a = 0, form unchanged (zero is zero in both forms). */
CN_API void cn_poly_zero(cn_poly_t *a);

/* out = a + b, a - b, -a: both operands in the same form; out takes that form. */
CN_API CN_WARN_UNUSED cn_status cn_poly_add(cn_poly_t *out, const cn_poly_t *a,
                                            const cn_poly_t *b, const cn_ring_t *r);
CN_API CN_WARN_UNUSED cn_status cn_poly_sub(cn_poly_t *out, const cn_poly_t *a,
                                            const cn_poly_t *b, const cn_ring_t *r);
CN_API CN_WARN_UNUSED cn_status cn_poly_neg(cn_poly_t *out, const cn_poly_t *a,
                                            const cn_ring_t *r);

/* out = c * a for a signed integer c (any form; no NTT involved). */
CN_API CN_WARN_UNUSED cn_status cn_poly_mul_scalar(cn_poly_t *out, const cn_poly_t *a,
                                                   int64_t c, const cn_ring_t *r);

/* out = a * b pointwise; both in NTT form (CN_ERR_FORM_MISMATCH otherwise). */
CN_API CN_WARN_UNUSED cn_status cn_poly_mul_ntt(cn_poly_t *out, const cn_poly_t *a,
                                                const cn_poly_t *b, const cn_ring_t *r);

/* out = a * b in R_q for a, b in coefficient form, through the NTT (allocates scratch);
 * out is in coefficient form. */
CN_API CN_WARN_UNUSED cn_status cn_poly_mul(cn_poly_t *out, const cn_poly_t *a,
                                            const cn_poly_t *b, const cn_ring_t *r);

/* In-place change of form; CN_ERR_FORM_MISMATCH if already in the target form. */
CN_API CN_WARN_UNUSED cn_status cn_poly_to_ntt(cn_poly_t *a, const cn_ring_t *r);
CN_API CN_WARN_UNUSED cn_status cn_poly_from_ntt(cn_poly_t *a, const cn_ring_t *r);

/* a = the polynomial with signed coefficients c[0..n), coefficient form. */
CN_API CN_WARN_UNUSED cn_status cn_poly_set_int64(cn_poly_t *a, const int64_t *c,
                                                  const cn_ring_t *r);

#ifdef __cplusplus
}
#endif

#endif
