/* Internal: the scaling step of BFV multiplication, round(t X / Q) mod Q from the residues
 * of the tensor product X over Q u R, in one pass with its output in Q (lib/bfv/mul.c).
 *
 * HPS (CT-RSA 2019, section 4) compute round(t X / Q) modulo R and convert it back to Q
 * exactly, so R must hold t n Q. Here the quotient by Q is split off before t multiplies
 * it (our rearrangement of HPS's complex scaling; Kim, Polyakov and Zucca, ePrint 2021/204,
 * shrink R differently, by scaling one input by R/Q first, which costs a square two more
 * extended inputs, so it is not taken here): with
 * y_i = [x_i (Q/q_i)^-1]_{q_i} and S = sum_i y_i Q/q_i (= X mod Q, in [0, kq Q)),
 *     t X / Q = t m + sum_i y_i t / q_i,    m = (X - S) / Q, an integer,
 * so round(t X / Q) = t m + rho with rho = round(sum_i y_i t / q_i) in [0, kq t]. m is
 * known modulo R as (x_j - S) Q^-1 mod r_j; it is small (|m| <= |X| / Q + kq), so its
 * centered lift to Q is exact (HPS section 3.2), and t m + rho is formed modulo each q_i.
 * R needs R > 2 (|X| / Q + kq) with a margin for the lift, and Q R > 2 |X|: for a
 * tensor product (|X| <= n Q^2 / 2) R >= 16 n Q is enough, which t no longer enlarges.
 * The constants are folded: z_j = m (R/r_j)^-1 mod r_j is one dot product over
 * (x_j, y_1..y_kq), and t rides on the lift's constants. */
#ifndef CN_RNS_MULSCALE_H
#define CN_RNS_MULSCALE_H

#include "rns_internal.h"

typedef struct {
    size_t kq, kr;
    uint64_t t;
    cn_mod_t *q, *r;       /* [kq], [kr] */
    uint64_t *qi, *qi_s;   /* [kq] (Q/q_i)^-1 mod q_i */
    uint64_t *c, *c_s;     /* [kr] (Q R/r_j)^-1 mod r_j: z_j = x_j c_j + ... */
    uint64_t *h, *h_s;     /* [kr * kq] -(Q/q_i) c_j mod r_j */
    double *inv_r;         /* [kr] 1 / r_j */
    uint64_t *g, *g_s;     /* [kq * kr] t R / r_j mod q_i */
    uint64_t *vtr;         /* [kq * (kr + 1)] v t R mod q_i, v = 0..kr */
    uint64_t *f_hi, *f_lo; /* [kq] (t / q_i) 2^128 (t < q_i) */
    int rho_small;         /* kq t < every q_i: rho needs no reduction */
    double *inv_q;         /* [kq] 1 / q_i */
    int ifma;              /* the 52-bit tables below are present (as cn_exact_conv_t) */
    uint64_t *qi_s52, *c_s52, *h_s52, *g_s52;
    /* [kq + kr] for the moduli q_1..q_kq then r_1..r_kr: 2^52 mod p, its 52-bit Shoup
     * constant, and floor(2^52 / p) (the reduction of the unreduced dot products) */
    uint64_t *w52, *w52_s, *one_s;
    uint64_t *f1, *f0; /* [kq] t / q_i = (f1 2^52 + f0) 2^-104, truncated */
    /* [kq - 1] (none when kq = 1), the modulus switch folded in (cn_mulscale_drop): q_L^-1
     * mod q_i with its Shoup constants (64-bit; 52-bit with the IFMA tables) and q_L mod
     * q_i, q_L = q_kq the dropped prime */
    uint64_t *ql_inv, *ql_inv_s, *ql_inv_s52, *ql_mod;
    int ql_near; /* q_L < 2 q_i for every i < kq: c_L mod q_i is one subtraction */
} cn_mulscale_t;

/* Tables for bases q (kq primes) and r (kr primes, disjoint from q) and numerator t, with
 * 0 < t < every q_i (the IFMA tables also need kq t < 2^53). CN_ERR_INVALID_ARG on sizes
 * outside [1, CN_EXACT_MAX] or such a t; CN_ERR_NO_MEMORY. On failure nothing needs
 * clearing. */
cn_status cn_mulscale_init(cn_mulscale_t *s, const uint64_t *q, size_t kq, const uint64_t *r,
                           size_t kr, uint64_t t);
void cn_mulscale_clear(cn_mulscale_t *s);

/* out (kq rows, [0, q_i)) = round(t X / Q) mod q_i, for the integer X given by xq (kq rows
 * over Q, in [0, 2 q_i)) and xr (kr rows over R, in [0, 2 r_j)), which must satisfy
 * |X| < Q R / 2 and |X| / Q + kq <= R / 8. Rows of n words; out overlaps no input. The
 * kernel is picked as in dispatch.c (52-bit tables and n % 8 == 0: IFMA). */
void cn_mulscale(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                 const cn_mulscale_t *s);

/* The same followed by the modulus switch that drops q_kq (as lib/bfv/eval.c's
 * cn_bfv_mod_switch, with the same words): out (kq - 1 rows) = (c - [c]) q_kq^-1 mod q_i,
 * c = round(t X / Q) mod Q and [c] its centered residue modulo q_kq, the division by q_kq
 * rounded to nearest. kq >= 2. */
void cn_mulscale_drop(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                      const cn_mulscale_t *s);

typedef void (*cn_mulscale_fn)(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                               const cn_mulscale_t *s);
void cn_mulscale_portable(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                          const cn_mulscale_t *s);
void cn_mulscale_ifma(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                      const cn_mulscale_t *s);
void cn_mulscale_drop_portable(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                               const cn_mulscale_t *s);
void cn_mulscale_drop_ifma(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                           const cn_mulscale_t *s);

#endif
