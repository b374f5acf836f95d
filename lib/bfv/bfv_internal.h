/* Internal: the BFV context tables and the helpers shared by lib/bfv. The exact RNS
 * conversions come from lib/rns (rns_internal.h), the kernels from kernels.h. */
#ifndef CN_BFV_INTERNAL_H
#define CN_BFV_INTERNAL_H

#include <gmp.h>

#include "cryptonets/bfv.h"
#include "../rns/mulscale.h"
#include "../rns/rns_internal.h"
#include "check.h"
#include "kernels.h"

typedef struct {
    size_t l; /* primes q_1..q_l */
    mpz_t Q;  /* q_1 ... q_l */
    double log2_q;
    cn_exact_conv_t q_to_r;   /* ciphertext lift into R for the tensor product */
    cn_mulscale_t *mul_scale; /* [nt] round(t x / Q_l) from Q_l u R to Q_l */
    cn_scale_t *dec_scale;    /* [nt] round(t x / Q_l) mod t from Q_l */
    uint64_t *delta;          /* [nt * l] floor(Q_l / t_k) mod q_j */
    uint64_t *qlast_inv;      /* [l - 1] q_l^-1 mod q_j (mod switch to l - 1) */
    uint64_t *qlast_inv_s;
    uint64_t *p_inv, *p_inv_s; /* [l] P^-1 mod q_j (key-switching ModDown) */
} cn_bfv_level_t;

struct cn_bfv_context_s {
    cn_bfv_params_t prm;
    uint64_t fingerprint;
    size_t n, L, nt;
    int has_p;
    cn_ring_t ring;   /* q_1..q_L (and P as row L) */
    cn_ring_t ring_r; /* the extension base R for multiplication */
    size_t kr;
    cn_mod_t *tmod;        /* [nt] */
    cn_ntt_table_t *t_ntt; /* [nt] batching tables (n == 0 where t does not batch) */
    cn_bfv_level_t *lvl;   /* [L], lvl[l - 1] for level l */
    uint32_t *slot_index;  /* [n] NTT index (mod t) of slot s, see lib/encode/batch.c */
};

static inline const cn_bfv_level_t *cn_bfv_level(const cn_bfv_context_t *ctx, size_t l)
{
    return &ctx->lvl[l - 1];
}

/* The fingerprint every object of a context records (FNV-1a over n, the primes, P and
 * the plaintext moduli). */
uint64_t cn_bfv_params_fingerprint(const cn_bfv_params_t *p);

/* Makes out a ciphertext of the given shape (reallocating its polys when needed). */
cn_status cn_bfv_ct_reshape(cn_bfv_ciphertext_t *out, size_t size, size_t level,
                            const cn_bfv_context_t *ctx);
/* As cn_bfv_ct_reshape, new polynomials left unfilled: the caller writes every one. */
cn_status cn_bfv_ct_reshape_uninit(cn_bfv_ciphertext_t *out, size_t size, size_t level,
                                   const cn_bfv_context_t *ctx);

/* ModDown: out (l rows) = (x - [x]_P) / P rounded, x l rows over q_1..q_l then the row
 * modulo P, coefficient form (the kernels of kernels.h, per row; keyswitch.c) */
void cn_bfv_moddown(uint64_t *out, const uint64_t *x, size_t l, const cn_bfv_level_t *lv,
                    const cn_bfv_context_t *ctx);
/* delta0 + delta1 s = d s' + small (mod Q_l), for d (l rows, coefficient form, values in
 * [0, q_i)) and a key switching key from s' to s (lib/bfv/keyswitch.c). delta0 and
 * delta1 receive l rows each, coefficient form. CN_ERR_LEVEL_MISMATCH when l exceeds the
 * key's level. */
cn_status cn_bfv_keyswitch(uint64_t *delta0, uint64_t *delta1, const uint64_t *d, size_t l,
                           const cn_bfv_relin_key_t *key, const cn_bfv_context_t *ctx);
/* out = a + b over l rows of the ring's primes (out may alias a or b). */
void cn_bfv_add_rows(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t l,
                     const cn_bfv_context_t *ctx);

/* Hybrid key-switching digits (lib/bfv/digits.c). The key's primes per digit (>= 1). */
size_t cn_bfv_ksk_digit_primes(const cn_bfv_relin_key_t *k);
/* y (l rows) = c_j (D_i / q_j)^-1 mod q_j on the rows j of every digit i of more than one
 * prime (dp primes per digit at level l); other rows of y untouched; nothing when dp <= 1.
 * c: l rows, coefficient form, values in [0, q_j). */
void cn_bfv_digits_scale(uint64_t *y, const uint64_t *c, size_t l, size_t dp,
                         const cn_bfv_context_t *ctx);
/* x (n values) = digit i of c (dp primes per digit at level l; y from
 * cn_bfv_digits_scale) on ring row rj (rj < l, or L for P), coefficient form, values in
 * [0, 4p) (the lazy forward NTT's input): the residue [c]_{D_i} plus u D_i, 0 <= u < dp. */
void cn_bfv_digit_row(uint64_t *x, const uint64_t *c, const uint64_t *y, size_t i, size_t l,
                      size_t dp, size_t rj, const cn_bfv_context_t *ctx);

/* Key and encryption helpers (lib/bfv/keys.c). */
/* A key switching key from target (NTT form over all K rows of the ring) to sk's s. */
cn_status cn_bfv_keygen_switch(cn_bfv_relin_key_t *rk, const cn_poly_t *target,
                               const cn_bfv_secret_key_t *sk, const cn_bfv_context_t *ctx,
                               cn_rng_t *rng);
/* As cn_bfv_keygen_switch, at level d (1 .. L) with dp primes per digit (1 .. L; keys.c) */
cn_status cn_bfv_keygen_switch_level(cn_bfv_relin_key_t *rk, const cn_poly_t *target,
                                     const cn_bfv_secret_key_t *sk, size_t d, size_t dp,
                                     const cn_bfv_context_t *ctx, cn_rng_t *rng);
/* k1[i] (allocated, K rows) = the expansion of k->seed for digit i (docs/format.md, "Seeded
 * key switching keys"), NTT form. CN_ERR_INVALID_ARG without a seed or k1[i]. */
cn_status cn_bfv_ksk_expand_digit(cn_bfv_relin_key_t *k, size_t i, const cn_bfv_context_t *ctx);
cn_status cn_bfv_small_ntt(cn_poly_t *p, const cn_ring_t *ring, size_t k,
                           void (*draw)(int64_t *, size_t, cn_rng_t *), cn_rng_t *rng);
void cn_bfv_uniform_rows(cn_poly_t *p, const cn_ring_t *ring, cn_rng_t *rng);
/* c0 += Delta * m, or -= with negate (lib/bfv/encrypt.c). */
void cn_bfv_add_delta_m(cn_poly_t *c0, const cn_bfv_plaintext_t *pt, int negate,
                        const cn_bfv_context_t *ctx);

/* out = in(X^g) over k rows of the ring's primes, coefficient form; out != in; g odd in
 * [1, 2n) (lib/bfv/galois.c, used by the hoisted rotations of hoist.c too). */
void cn_bfv_automorphism_coeff(uint64_t *out, const uint64_t *in, size_t k, uint64_t g,
                               const cn_bfv_context_t *ctx);
/* The key of Galois element g in gk, or NULL (lib/bfv/galois.c). */
const cn_bfv_relin_key_t *cn_bfv_galois_find_key(const cn_bfv_galois_keys_t *gk, uint64_t g);

#endif
