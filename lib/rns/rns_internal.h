/* Internal: the big-integer constants of an RNS base, and the exact full-RNS conversions
 * the BFV scheme composes (as SEAL's RNSTool): HPS exact base conversion, scale-and-round
 * and divide-and-round by the last prime. */
#ifndef CN_RNS_INTERNAL_H
#define CN_RNS_INTERNAL_H

#include <gmp.h>

#include "cryptonets/rns.h"

struct cn_rns_big_s {
    mpz_t Q;     /* q_1 ... q_k */
    mpz_t half;  /* floor(Q / 2) */
    mpz_t *qhat; /* [k] Q / q_i */
};

/* Most primes on either side of an exact conversion: k products below 2^122 must fit
 * 128 bits. */
#define CN_EXACT_MAX 63

/* Exact conversion of the centered representative from base A to base B (HPS, CT-RSA
 * 2019, section 3.2: the fast conversion corrected by v = round(sum y_i / a_i), computed
 * in double precision). Wrong only when x/A is within about k * 2^-52 of +-1/2. */
typedef struct {
    size_t ka, kb;
    cn_mod_t *a, *b;    /* [ka], [kb] */
    uint64_t *ahat_inv; /* [ka] (A/a_i)^-1 mod a_i */
    uint64_t *ahat_inv_s;
    double *inv_a;            /* [ka] 1/a_i */
    uint64_t *ahat_mod_b;     /* [kb * ka] (A/a_i) mod b_j */
    uint64_t *ahat_mod_b_s;   /* [kb * ka] Shoup constants */
    uint64_t *vA_mod_b;       /* [kb * (ka + 1)] v A mod b_j for v = 0..ka */
    int ifma;                 /* the 52-bit tables below are present: every modulus is
                               * below 2^50 and the 52-bit (IFMA) kernels were picked */
    uint64_t *ahat_inv_s52;   /* [ka] 52-bit Shoup constants floor(w 2^52 / p) */
    uint64_t *ahat_mod_b_s52; /* [kb * ka] */
} cn_exact_conv_t;

/* round(num * x / Q) over a base Q (kq primes), as an integer reduced modulo each of
 * kr target moduli, where x is given by residues over Q and, when the targets are an
 * extension base R, by its residues over R too (HPS section 4.2, with the fractional
 * parts held to 128 bits instead of floating point). */
typedef struct {
    size_t kq, kr;
    int with_r;              /* targets are the base R (x known over Q u R) */
    cn_mod_t *q;             /* [kq] source moduli */
    cn_mod_t *r;             /* [kr] target moduli */
    uint64_t *w, *ws;        /* [kq] y_i = x_i * w_i mod q_i */
    uint64_t *f_hi, *f_lo;   /* [kq] frac(num * M / q_i) * 2^128 (M = R or 1) */
    uint64_t *int_mod_r;     /* [kr * kq] floor(num * M / q_i) mod r_j */
    uint64_t *int_mod_r_s;   /* [kr * kq] Shoup constants */
    uint64_t *rr, *rr_s;     /* [kr] with_r: [num * Q^-1]_{r_j} */
    int ifma;                /* the 52-bit tables below are present (as cn_exact_conv_t) */
    uint64_t *ws52;          /* [kq] */
    uint64_t *f1, *f0;       /* [kq] frac_i = (f1 2^52 + f0) 2^-104, truncated */
    uint64_t *int_mod_r_s52; /* [kr * kq] */
    uint64_t *rr_s52;        /* [kr] */
    double *inv_r;           /* [kr] 1 / r_j */
} cn_scale_t;

/* Tables (lib/rns/exact.c). */
cn_status cn_exact_conv_init(cn_exact_conv_t *c, const uint64_t *a, size_t ka,
                             const uint64_t *b, size_t kb);
void cn_exact_conv_clear(cn_exact_conv_t *c);
/* num * M / q_i tables: targets `tgt` (kr moduli); with_r: M = R = prod(tgt), else M = 1. */
cn_status cn_scale_init(cn_scale_t *s, const uint64_t *q, size_t kq, const uint64_t *tgt,
                        size_t kr, uint64_t num, int with_r);
void cn_scale_clear(cn_scale_t *s);

/* The conversions, kernel picked by lib/rns/dispatch.c. in/out are rows of n words.
 * cn_exact_conv: in holds ka rows in [0, a_i), out receives kb rows in [0, b_j); no
 * overlap. cn_scale_round: out (kr rows, [0, r_j)) = round(num * x / Q) mod r_j; xq: kq
 * rows over Q, in [0, 2 q_i); xr: kr rows over R (with_r), in [0, 2 r_j), or NULL (the
 * lazy inverse NTT's outputs are taken as they are). */
void cn_exact_conv(uint64_t *out, const uint64_t *in, size_t n, const cn_exact_conv_t *c);
void cn_scale_round(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                    const cn_scale_t *s);

/* Their kernels: one signature each, a portable twin for every SIMD one. The 52-bit
 * (IFMA) kernels need the struct's 52-bit tables (ifma set) and n a multiple of 8; they
 * give the portable results, except that scale-and-round holds its fractions to 2^-104
 * instead of 2^-128 (so it may round differently only when the exact value is within
 * kq 2^-51 of a half). */
typedef void (*cn_exact_conv_fn)(uint64_t *out, const uint64_t *in, size_t n,
                                 const cn_exact_conv_t *c);
typedef void (*cn_scale_round_fn)(uint64_t *out, const uint64_t *xq, const uint64_t *xr,
                                  size_t n, const cn_scale_t *s);
void cn_exact_conv_portable(uint64_t *out, const uint64_t *in, size_t n,
                            const cn_exact_conv_t *c);
void cn_scale_round_portable(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                             const cn_scale_t *s);
void cn_exact_conv_ifma(uint64_t *out, const uint64_t *in, size_t n, const cn_exact_conv_t *c);
void cn_scale_round_ifma(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                         const cn_scale_t *s);
/* 1 when the 52-bit kernels were picked (CPU, build and CN_SIMD allow them): the table
 * builders then add 52-bit tables for bases below 2^50. */
int cn_rns_kernels52(void);

/* Divide-and-round by the last prime q_last of a base (modulus switching; key switching's
 * ModDown by P): out_j = (x_j - [x_last]) q_last^-1 mod q_j for the k rows j < k, with
 * [x_last] the centered residue in (-q_last/2, q_last/2], which is round(x / q_last) for the
 * centered x (lib/rns/divround.c). x: k rows, x_j in [0, q_j); last: one row in
 * [0, q_last); inv[j] = q_last^-1 mod q_j and inv_s[j] its Shoup constant. out receives k
 * rows in [0, q_j) and may be x itself (not a partial overlap). SEAL's
 * RNSTool::divide_and_round_q_last_inplace is the same step. */
void cn_rns_divround_last(uint64_t *out, const uint64_t *x, const uint64_t *last, size_t k,
                          size_t n, const cn_mod_t *mod, uint64_t qlast, const uint64_t *inv,
                          const uint64_t *inv_s);

#endif
