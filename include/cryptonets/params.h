/* BFV parameter sets and their security check.
 *
 * A parameter set is the ring degree n, the ciphertext prime chain q_1..q_L, one special
 * prime P for key switching, one or more plaintext moduli t_1..t_k (BFV keys do not
 * depend on t, so one key set serves every t_i), and the security level asked for.
 * Security follows the HomomorphicEncryption.org standard (Albrecht et al., "Homomorphic
 * Encryption Standard", 2018, tables for a ternary secret): log2(q * P) may not exceed
 * the table's bound for n. A zeroed cn_security means 128 bits; weaker parameters are
 * accepted only with CN_SEC_NONE_INSECURE, named explicitly (tests and toy demos). */
#ifndef CRYPTONETS_PARAMS_H
#define CRYPTONETS_PARAMS_H

#include "cryptonets/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CN_SEC_128 = 0, /* the default */
    CN_SEC_192 = 1,
    CN_SEC_256 = 2,
    CN_SEC_NONE_INSECURE = 0x4e4f4e45 /* no security: tests and toy demos only */
} cn_security;

#define CN_BFV_MAX_Q 32 /* most ciphertext primes */
#define CN_BFV_MAX_T 16 /* most plaintext moduli */
#define CN_BFV_MIN_N 16 /* smallest ring degree accepted (insecure below 1024) */
#define CN_BFV_MAX_N 32768

typedef struct {
    size_t n;                 /* ring degree, a power of two */
    size_t nq;                /* number of ciphertext primes q_1..q_L */
    uint64_t q[CN_BFV_MAX_Q]; /* ciphertext primes, each < 2^61 and 1 mod 2n */
    uint64_t p;               /* special prime for key switching (0: none, no relin) */
    size_t nt;                /* number of plaintext moduli */
    uint64_t t[CN_BFV_MAX_T]; /* plaintext moduli, each >= 2 */
    cn_security security;
} cn_bfv_params_t;

/* The largest log2(q * P) allowed for ring degree n at level sec (ternary secret), or 0
 * when n is not in the table (below 1024 or above 32768) or sec is not a level. */
CN_API unsigned cn_security_max_log_q(size_t n, cn_security sec);

/* log2(q_1 ... q_L * P) of a parameter set (P counts when nonzero). */
CN_API double cn_bfv_params_log_qp(const cn_bfv_params_t *prm);

/* Checks a parameter set, returning the first reason it fails:
 * CN_ERR_NOT_POWER_OF_TWO (n), CN_ERR_INVALID_ARG (nq or nt out of range, unknown
 * security level), CN_ERR_MODULUS_TOO_LARGE, CN_ERR_NOT_PRIME, CN_ERR_NOT_NTT_FRIENDLY,
 * CN_ERR_MODULI_NOT_DISTINCT (among the q_i and P), CN_ERR_PLAIN_MODULUS (t < 2, t a
 * multiple of some q_i or P, or t_i >= q_1 / 2, i.e. the scale Q/t leaves no room),
 * CN_ERR_INSECURE (log2(qP) above the table's bound for the requested level, or n
 * outside the table, unless CN_SEC_NONE_INSECURE). */
CN_API CN_WARN_UNUSED cn_status cn_bfv_params_validate(const cn_bfv_params_t *prm);

/* 1 if t is prime and 1 mod 2n (so Z_t[X]/(X^n+1) splits into n slots), else 0. */
CN_API int cn_bfv_plain_batching(uint64_t t, size_t n);

/* Sound defaults, as users of other libraries expect: nq ciphertext primes of qbits bits
 * and a special prime of pbits bits (the largest such primes = 1 mod 2n), and nt batching
 * plaintext primes of tbits bits (the smallest = 1 mod 2n, distinct), at level sec.
 * The result is validated (CN_ERR_INSECURE if the sizes exceed the bound, for
 * instance); CN_ERR_PLAIN_MODULUS when fewer than nt such plaintext primes exist (e.g.
 * only two 20-bit primes are 1 mod 32768). pbits = 0 means no special prime. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_params_default(cn_bfv_params_t *prm, size_t n, size_t nq,
                                                      unsigned qbits, unsigned pbits, size_t nt,
                                                      unsigned tbits, cn_security sec);

/* The largest number of qbits-bit primes (plus one pbits-bit special prime) that n
 * allows at level sec; 0 if none. */
CN_API size_t cn_bfv_params_max_primes(size_t n, unsigned qbits, unsigned pbits,
                                       cn_security sec);

#ifdef __cplusplus
}
#endif

#endif
