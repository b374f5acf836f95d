/* Residue number system bases: a product Q = q_1 ... q_k of distinct primes below
 * 2^61, with the constants needed for CRT composition and fast base conversion.
 *
 * Big-integer decomposition and composition (GMP mpz_t) are declared in the opt-in
 * header cryptonets/mpz.h so that this header stays free of GMP. */
#ifndef CRYPTONETS_RNS_H
#define CRYPTONETS_RNS_H

#include "cryptonets/arith.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most primes one base may hold. */
#define CN_RNS_MAX_PRIMES 64

typedef struct cn_rns_big_s cn_rns_big_t; /* internal: big-integer constants */

typedef struct {
    size_t k;             /* number of primes, 1 .. CN_RNS_MAX_PRIMES */
    uint64_t *q;          /* q[i], the primes */
    cn_mod_t *mod;        /* mod[i], modulus data of q[i] */
    uint64_t *qhat_inv;   /* (Q / q_i)^-1 mod q_i */
    uint64_t *qhat_inv_s; /* Shoup constants of qhat_inv */
    double log2_q;        /* log2(Q) */
    cn_rns_big_t *big;    /* Q and Q / q_i as big integers (internal) */
} cn_rns_base_t;

/* Builds a base from k primes. Errors: CN_ERR_INVALID_ARG (k == 0 or k too large),
 * CN_ERR_MODULUS_TOO_LARGE, CN_ERR_NOT_PRIME, CN_ERR_MODULI_NOT_DISTINCT,
 * CN_ERR_NO_MEMORY. On failure the base needs no clear. */
CN_API CN_WARN_UNUSED cn_status cn_rns_base_init(cn_rns_base_t *b, const uint64_t *primes,
                                                 size_t k);

/* Releases a base. Safe on a zeroed base. */
CN_API void cn_rns_base_clear(cn_rns_base_t *b);

/* Fast (approximate) base conversion from base B = {q_i} to base C = {p_j}, as used by
 * BEHZ (Bajard, Eynard, Hasan, Zucca, SAC 2016, eq. (2)) and HPS (Halevi, Polyakov,
 * Shoup, CT-RSA 2019):
 *   FastBConv(x)_j = sum_i [x_i * (Q/q_i)^-1]_{q_i} * (Q/q_i)  mod p_j,
 * which equals (x + a*Q) mod p_j for the x in [0, Q) with residues x_i, and some
 * integer a with 0 <= a < k (k = number of primes of B). */
typedef struct {
    size_t kf, kt;        /* primes in the source and target bases */
    cn_mod_t *from;       /* [kf] source moduli */
    uint64_t *qhat_inv;   /* [kf] (Q/q_i)^-1 mod q_i */
    uint64_t *qhat_inv_s; /* [kf] Shoup constants */
    cn_mod_t *to;         /* [kt] target moduli */
    uint64_t *qhat_mod_p; /* [kt * kf] (Q/q_i) mod p_j at [j * kf + i] */
} cn_rns_conv_t;

/* Precomputes the conversion from `from` to `to` (the tables are copied: the bases may
 * be cleared afterwards). The two bases may share primes. Errors: CN_ERR_NO_MEMORY. */
CN_API CN_WARN_UNUSED cn_status cn_rns_conv_init(cn_rns_conv_t *c, const cn_rns_base_t *from,
                                                 const cn_rns_base_t *to);

/* Releases a conversion. Safe on a zeroed one. */
CN_API void cn_rns_conv_clear(cn_rns_conv_t *c);

/* Converts n values: in holds kf rows of n residues (row i mod q_i, in [0, q_i)), out
 * receives kt rows of n residues (row j mod p_j, in [0, p_j)). out must not overlap in.
 * Allocates nothing. */
CN_API void cn_rns_conv_fast(uint64_t *out, const uint64_t *in, size_t n,
                             const cn_rns_conv_t *c);

#ifdef __cplusplus
}
#endif

#endif
