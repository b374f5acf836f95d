/* Internal: the BFV context tables and the full-RNS kernels shared by lib/bfv. */
#ifndef CN_BFV_INTERNAL_H
#define CN_BFV_INTERNAL_H

#include <gmp.h>

#include "cryptonets/bfv.h"

/* Exact conversion of the centered representative from base A to base B (HPS, CT-RSA
 * 2019, section 3.2: the fast conversion corrected by v = round(sum y_i / a_i), computed
 * in double precision). Wrong only when x/A is within about k * 2^-52 of +-1/2. */
typedef struct {
    size_t ka, kb;
    cn_mod_t *a, *b;          /* [ka], [kb] */
    uint64_t *ahat_inv;       /* [ka] (A/a_i)^-1 mod a_i */
    uint64_t *ahat_inv_s;
    double *inv_a;            /* [ka] 1/a_i */
    uint64_t *ahat_mod_b;     /* [kb * ka] (A/a_i) mod b_j */
    uint64_t *ahat_mod_b_s;   /* [kb * ka] Shoup constants */
    uint64_t *vA_mod_b;       /* [kb * (ka + 1)] v A mod b_j for v = 0..ka */
    int ifma;                 /* every modulus < 2^50 and the CPU has AVX-512 IFMA */
    uint64_t *ahat_inv_s52;   /* [ka] 52-bit Shoup constants floor(w 2^52 / p) */
    uint64_t *ahat_mod_b_s52; /* [kb * ka] */
} cn_exact_conv_t;

/* round(num * x / Q) over a base Q (kq primes), as an integer reduced modulo each of
 * kr target moduli, where x is given by residues over Q and, when the targets are an
 * extension base R, by its residues over R too (HPS section 4.2, with the fractional
 * parts held to 128 bits instead of floating point). */
typedef struct {
    size_t kq, kr;
    int with_r;               /* targets are the base R (x known over Q u R) */
    cn_mod_t *q;              /* [kq] source moduli */
    cn_mod_t *r;              /* [kr] target moduli */
    uint64_t *w, *ws;         /* [kq] y_i = x_i * w_i mod q_i */
    uint64_t *f_hi, *f_lo;    /* [kq] frac(num * M / q_i) * 2^128 (M = R or 1) */
    uint64_t *int_mod_r;      /* [kr * kq] floor(num * M / q_i) mod r_j */
    uint64_t *int_mod_r_s;    /* [kr * kq] Shoup constants */
    uint64_t *rr, *rr_s;      /* [kr] with_r: [num * Q^-1]_{r_j} */
    int ifma;                 /* every modulus < 2^50 and the CPU has AVX-512 IFMA */
    uint64_t *ws52;           /* [kq] */
    uint64_t *f1, *f0;        /* [kq] frac_i = (f1 2^52 + f0) 2^-104, truncated */
    uint64_t *int_mod_r_s52;  /* [kr * kq] */
    uint64_t *rr_s52;         /* [kr] */
    double *inv_r;            /* [kr] 1 / r_j */
} cn_scale_t;

typedef struct {
    size_t l;                 /* primes q_1..q_l */
    mpz_t Q;                  /* q_1 ... q_l */
    double log2_q;
    cn_exact_conv_t q_to_r;   /* ciphertext lift into R for the tensor product */
    cn_exact_conv_t r_to_q;   /* the scaled product back into Q_l */
    cn_scale_t *mul_scale;    /* [nt] round(t x / Q_l) from Q_l u R to R */
    cn_scale_t *dec_scale;    /* [nt] round(t x / Q_l) mod t from Q_l */
    uint64_t *delta;          /* [nt * l] floor(Q_l / t_k) mod q_j */
    uint64_t *qlast_inv;      /* [l - 1] q_l^-1 mod q_j (mod switch to l - 1) */
    uint64_t *qlast_inv_s;
    uint64_t *p_inv, *p_inv_s;/* [l] P^-1 mod q_j (key-switching ModDown) */
} cn_bfv_level_t;

struct cn_bfv_context_s {
    cn_bfv_params_t prm;
    uint64_t fingerprint;
    size_t n, L, nt;
    int has_p;
    cn_ring_t ring;           /* q_1..q_L (and P as row L) */
    cn_ring_t ring_r;         /* the extension base R for multiplication */
    size_t kr;
    cn_mod_t *tmod;           /* [nt] */
    cn_ntt_table_t *t_ntt;    /* [nt] batching tables (n == 0 where t does not batch) */
    cn_bfv_level_t *lvl;      /* [L], lvl[l - 1] for level l */
    uint32_t *slot_index;     /* [n] NTT index (mod t) of slot s, see lib/encode/batch.c */
};

static inline const cn_bfv_level_t *cn_bfv_level(const cn_bfv_context_t *ctx, size_t l)
{
    return &ctx->lvl[l - 1];
}

/* Kernels (lib/bfv/rnsx.c; IFMA variants in rnsx_avx512ifma.c, used when the struct's
 * ifma flag is set and n is a multiple of 8). in/out are rows of n words. */
void cn_exact_conv_ifma(uint64_t *out, const uint64_t *in, size_t n, const cn_exact_conv_t *c);
void cn_scale_round_ifma(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                         const cn_scale_t *s);
void cn_exact_conv_portable(uint64_t *out, const uint64_t *in, size_t n,
                            const cn_exact_conv_t *c);
void cn_scale_round_portable(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                             const cn_scale_t *s);
/* One row of the tensor product in NTT form: d0 = a0 b0, d1 = a0 b1 + a1 b0, d2 = a1 b1
 * mod p (square: b = a), inputs in [0, p), p < 2^50, n a multiple of 8. */
void cn_tensor_row_ifma(uint64_t *d0, uint64_t *d1, uint64_t *d2, const uint64_t *a0,
                        const uint64_t *a1, const uint64_t *b0, const uint64_t *b1, size_t n,
                        uint64_t modulus, int square);
/* y0 = y0 + x k0, y1 = y1 + x k1 mod p; x in [0, 4p), the rest in [0, p), p < 2^50. */
void cn_mul_acc2_ifma(uint64_t *y0, uint64_t *y1, const uint64_t *x, const uint64_t *k0,
                      const uint64_t *k1, size_t n, uint64_t modulus);
/* 1 when the IFMA kernels may run (CPU, build and CN_SIMD allow it). */
int cn_bfv_ifma_available(void);
void cn_exact_conv(uint64_t *out, const uint64_t *in, size_t n, const cn_exact_conv_t *c);
/* out (kr rows) = round(num * x / Q) mod r_j; xq: kq rows over Q; xr: kr rows over R
 * (with_r) or NULL. */
void cn_scale_round(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                    const cn_scale_t *s);

cn_status cn_exact_conv_init(cn_exact_conv_t *c, const uint64_t *a, size_t ka,
                             const uint64_t *b, size_t kb);
void cn_exact_conv_clear(cn_exact_conv_t *c);
/* num * M / q_i tables: targets `tgt` (kr moduli); with_r: M = R = prod(tgt), else M = 1. */
cn_status cn_scale_init(cn_scale_t *s, const uint64_t *q, size_t kq, const uint64_t *tgt,
                        size_t kr, uint64_t num, int with_r);
void cn_scale_clear(cn_scale_t *s);

/* The fingerprint every object of a context records (FNV-1a over n, the primes, P and
 * the plaintext moduli). */
uint64_t cn_bfv_params_fingerprint(const cn_bfv_params_t *p);

/* Checks shared by the operations. */
cn_status cn_bfv_check_ct(const cn_bfv_ciphertext_t *ct, const cn_bfv_context_t *ctx);
cn_status cn_bfv_check_pt(const cn_bfv_plaintext_t *pt, const cn_bfv_context_t *ctx);
/* Makes out a ciphertext of the given shape (reallocating its polys when needed). */
cn_status cn_bfv_ct_reshape(cn_bfv_ciphertext_t *out, size_t size, size_t level,
                            const cn_bfv_context_t *ctx);
/* As cn_bfv_ct_reshape, new polynomials left unfilled: the caller writes every one. */
cn_status cn_bfv_ct_reshape_uninit(cn_bfv_ciphertext_t *out, size_t size, size_t level,
                                   const cn_bfv_context_t *ctx);

/* delta0 + delta1 s = d s' + small (mod Q_l), for d (l rows, coefficient form, values in
 * [0, q_i)) and a key switching key from s' to s (lib/bfv/keyswitch.c). delta0 and
 * delta1 receive l rows each, coefficient form. */
cn_status cn_bfv_keyswitch(uint64_t *delta0, uint64_t *delta1, const uint64_t *d, size_t l,
                           const cn_bfv_relin_key_t *key, const cn_bfv_context_t *ctx);
/* out = a + b over l rows of the ring's primes (out may alias a or b). */
void cn_bfv_add_rows(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t l,
                     const cn_bfv_context_t *ctx);

/* Key and encryption helpers (lib/bfv/keys.c). */
/* A key switching key from target (NTT form over all K rows of the ring) to sk's s. */
cn_status cn_bfv_keygen_switch(cn_bfv_relin_key_t *rk, const cn_poly_t *target,
                               const cn_bfv_secret_key_t *sk, const cn_bfv_context_t *ctx,
                               cn_rng_t *rng);
cn_status cn_bfv_small_ntt(cn_poly_t *p, const cn_ring_t *ring, size_t k,
                           void (*draw)(int64_t *, size_t, cn_rng_t *), cn_rng_t *rng);
void cn_bfv_uniform_rows(cn_poly_t *p, const cn_ring_t *ring, cn_rng_t *rng);
/* c0 += Delta * m, or -= with negate (lib/bfv/encrypt.c). */
void cn_bfv_add_delta_m(cn_poly_t *c0, const cn_bfv_plaintext_t *pt, int negate,
                        const cn_bfv_context_t *ctx);

#endif
