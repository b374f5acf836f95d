/* Negacyclic number-theoretic transform over Z_p[X]/(X^n + 1).
 *
 * Forward: Cooley-Tukey, natural order in, bit-reversed order out; inverse:
 * Gentleman-Sande, bit-reversed in, natural out, the factor n^-1 merged into the last
 * stage. The negacyclic twist by powers of a primitive 2n-th root psi is folded into
 * the twiddles (P. Longa, M. Naehrig, "Speeding up the Number Theoretic Transform for
 * Faster Ideal Lattice-Based Cryptography", CANS 2016, Alg. 1 and 2). Butterflies are
 * Harvey's lazy ones with Shoup twiddles (D. Harvey, J. Symb. Comp. 2014).
 *
 * Transforms work in place. The table is immutable after init and may be shared by
 * threads. The kernel (portable C, or an AVX-512 variant) is chosen once at run time
 * from the CPU's features; every variant gives bit-identical results. */
#ifndef CRYPTONETS_NTT_H
#define CRYPTONETS_NTT_H

#include "cryptonets/arith.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CN_NTT_MIN_LOGN 1
#define CN_NTT_MAX_LOGN 15

/* An NTT table, made by cn_ntt_table_init and freed by cn_ntt_table_clear. Callers may
 * read n, logn, mod and psi; every field after psi is a private table of the kernels
 * (BLAKE3's "private implementation detail"), whose layout may change. */
typedef struct {
    size_t n; /* transform length, 2 .. 2^15 */
    unsigned logn;
    cn_mod_t mod; /* the prime p = 1 mod 2n, p < 2^61 */
    uint64_t psi; /* the primitive 2n-th root of unity used (the smallest) */
    /* --- private: the kernels' tables --- */
    uint64_t *w;    /* w[i] = psi^bitrev(i), i < n: forward twiddles */
    uint64_t *ws;   /* Shoup constants of w */
    uint64_t *wi;   /* inverse twiddles, in the order the inverse reads them */
    uint64_t *wis;  /* Shoup constants of wi */
    uint64_t n_inv; /* n^-1 mod p */
    uint64_t n_inv_s;
    uint64_t last_wi; /* last inverse twiddle times n^-1 */
    uint64_t last_wis;
    /* 52-bit Shoup constants floor(w 2^52 / p) for the AVX-512 IFMA kernels, present
     * (non-NULL) only when p < 2^50 */
    uint64_t *ws52, *wis52;
    uint64_t n_inv_s52, last_wis52;
} cn_ntt_table_t;

/* Builds the table for length n and prime p. Errors: CN_ERR_NOT_POWER_OF_TWO (n not
 * a power of two in [2, 2^15]), CN_ERR_MODULUS_TOO_LARGE, CN_ERR_NOT_PRIME,
 * CN_ERR_NOT_NTT_FRIENDLY (p != 1 mod 2n), CN_ERR_NO_MEMORY. On failure the table
 * needs no clear. */
CN_API CN_WARN_UNUSED cn_status cn_ntt_table_init(cn_ntt_table_t *t, size_t n, uint64_t p);

/* Releases the table's memory. Safe on a zeroed table. */
CN_API void cn_ntt_table_clear(cn_ntt_table_t *t);

/* Forward transform. Input in [0, 4p), output in [0, p), bit-reversed order. */
CN_API void cn_ntt_forward(uint64_t *a, const cn_ntt_table_t *t);

/* Forward transform, lazy. Input in [0, 4p), output in [0, 4p). */
CN_API void cn_ntt_forward_lazy(uint64_t *a, const cn_ntt_table_t *t);
/* The same out of place: dst = the transform of src (the same array, or arrays that do
 * not overlap), the same words as copying src to dst and transforming in place; src is
 * read only. */
CN_API void cn_ntt_forward_lazy_from(uint64_t *dst, const uint64_t *src,
                                     const cn_ntt_table_t *t);

/* Inverse transform (with the 1/n factor). Input in [0, 2p), output in [0, p). */
CN_API void cn_ntt_inverse(uint64_t *a, const cn_ntt_table_t *t);

/* Inverse transform, lazy. Input in [0, 2p), output in [0, 2p). */
CN_API void cn_ntt_inverse_lazy(uint64_t *a, const cn_ntt_table_t *t);

/* Name of the best kernel variant this CPU and build allow ("portable" or
 * "avx512ifma"), for reports. */
CN_API const char *cn_ntt_kernel_name(void);

/* Name of the kernel the transforms of table t use: "avx512ifma" when the CPU and build
 * allow it, p < 2^50 and n >= 16; else "portable". */
CN_API const char *cn_ntt_table_kernel_name(const cn_ntt_table_t *t);

#ifdef __cplusplus
}
#endif

#endif
