/* The BFV scheme in full RNS form: context, keys, encryption, decryption, evaluation.
 *
 * Brakerski 2012 / Fan-Vercauteren 2012 ("Somewhat practical fully homomorphic
 * encryption", ePrint 2012/144), with the full-RNS multiplication of Halevi, Polyakov and
 * Shoup ("An improved RNS variant of the BFV homomorphic encryption scheme", CT-RSA
 * 2019) and key switching with one special prime and one digit per RNS prime.
 *
 * Roles: the client holds the secret key; the server side of the API (evaluation) takes
 * only public objects. The secret key has a type of its own that no evaluation function
 * accepts.
 *
 * Objects carry the fingerprint of the parameters they were made under, their level (the
 * number of ciphertext primes still in use; modulus switching lowers it) and the index
 * of their plaintext modulus; operations on mismatched objects fail with
 * CN_ERR_CONTEXT_MISMATCH, CN_ERR_LEVEL_MISMATCH or CN_ERR_PLAIN_MODULUS.
 *
 * Ciphertexts are kept in coefficient form. Outputs may alias inputs. */
#ifndef CRYPTONETS_BFV_H
#define CRYPTONETS_BFV_H

#include "cryptonets/params.h"
#include "cryptonets/poly.h"
#include "cryptonets/rand.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Immutable after creation; may be shared by threads. */
typedef struct cn_bfv_context_s cn_bfv_context_t;

/* Validates prm (see cn_bfv_params_validate) and builds every table for every level.
 * CN_ERR_NO_MEMORY, or the validation's reason. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_context_create(cn_bfv_context_t **ctx,
                                                      const cn_bfv_params_t *prm);
CN_API void cn_bfv_context_free(cn_bfv_context_t *ctx);
CN_API const cn_bfv_params_t *cn_bfv_context_params(const cn_bfv_context_t *ctx);
CN_API uint64_t cn_bfv_context_fingerprint(const cn_bfv_context_t *ctx);
/* The ring over q_1..q_L (and P, as row L, when there is one). */
CN_API const cn_ring_t *cn_bfv_context_ring(const cn_bfv_context_t *ctx);
/* The modulus data (prime and Barrett constant, see cryptonets/arith.h) of the primes a
 * ciphertext at `level` uses: q_1..q_level, in chain order; *count = level (count may be
 * NULL). level ranges over 1..L, L = cn_bfv_context_params(ctx)->nq; outside it the
 * result is NULL and *count 0. Row i of every polynomial of such a ciphertext holds
 * residues in [0, q_(i+1)). The array lives as long as ctx. */
CN_API const cn_mod_t *cn_bfv_context_level_primes(const cn_bfv_context_t *ctx, size_t level,
                                                   size_t *count);
/* The modulus data of the plaintext moduli t_1..t_k, in the order of t_index; *count = k
 * (count may be NULL). Lives as long as ctx. */
CN_API const cn_mod_t *cn_bfv_context_plain_moduli(const cn_bfv_context_t *ctx, size_t *count);

typedef struct {
    uint64_t fingerprint;
    size_t t_index; /* which plaintext modulus */
    size_t n;
    uint64_t *coeffs; /* n coefficients in [0, t) */
} cn_bfv_plaintext_t;

typedef struct {
    uint64_t fingerprint;
    size_t size;     /* 2 or 3 polynomials */
    size_t level;    /* number of ciphertext primes in use, 1..L */
    size_t t_index;  /* plaintext modulus index */
    int transparent; /* 1 when known to encrypt with no randomness (see docs/bfv.md) */
    int has_seed;    /* 1 when c[1] is the expansion of seed (fresh sk encryption) */
    uint8_t seed[CN_SEED_BYTES];
    cn_poly_t c[3]; /* coefficient form, `level` primes each */
} cn_bfv_ciphertext_t;

/* Secret key: ternary s over q_1..q_L, P in NTT form. Wiped when cleared. */
typedef struct {
    uint64_t fingerprint;
    cn_poly_t s;
} cn_bfv_secret_key_t;

typedef struct {
    uint64_t fingerprint;
    cn_poly_t p0, p1; /* (-(a s + e), a) mod Q, NTT form */
} cn_bfv_public_key_t;

/* A key switching key (relinearization, or one Galois element). Its uniform half k1 is
 * the expansion of a public 32-byte seed when has_seed (every key keygen makes), so the
 * key travels as k0 and the seed (docs/format.md, "Seeded key switching keys"). */
typedef struct {
    uint64_t fingerprint;
    size_t ndigits;     /* the key's level d (1 .. L): it switches ciphertexts of level <= d */
    cn_poly_t *k0, *k1; /* [cn_bfv_ksk_count] over q_1..q_L, P, NTT form (rows q_{d+1}..q_L:
                         * 0) */
    int has_seed;       /* 1 when every k1[i] is the expansion of seed */
    uint8_t seed[CN_SEED_BYTES];
    /* primes per digit (0 or 1: one digit per prime q_1..q_d, the keys of format <= 1.2;
     * k > 1: digit i is the product of q_{ik+1}..q_{ik+k}, docs/format.md format 1.3) */
    size_t digit_primes;
} cn_bfv_relin_key_t;

/* The number of digits (k0/k1 polynomials) of a key switching key: ceil(d / k). */
static inline size_t cn_bfv_ksk_count(const cn_bfv_relin_key_t *k)
{
    const size_t dp = k->digit_primes > 1 ? k->digit_primes : 1;
    return (k->ndigits + dp - 1) / dp;
}

/* Galois keys: key switching keys for automorphisms X -> X^g of the ring, which rotate
 * the slots of batched plaintexts (see cryptonets/encode.h for the slot layout). */
typedef struct {
    uint64_t fingerprint;
    size_t count;
    uint64_t *elt;           /* [count] Galois elements g: odd, in [3, 2n) */
    cn_bfv_relin_key_t *key; /* [count] switching keys from s(X^g) to s */
} cn_bfv_galois_keys_t;

/* --- init / clear ------------------------------------------------------------- */
CN_API CN_WARN_UNUSED cn_status cn_bfv_plaintext_init(cn_bfv_plaintext_t *pt,
                                                      const cn_bfv_context_t *ctx,
                                                      size_t t_index);
CN_API void cn_bfv_plaintext_clear(cn_bfv_plaintext_t *pt);
/* A ciphertext of size 2 at the top level and t_index 0, encrypting nothing yet. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_ciphertext_init(cn_bfv_ciphertext_t *ct,
                                                       const cn_bfv_context_t *ctx);
CN_API void cn_bfv_ciphertext_clear(cn_bfv_ciphertext_t *ct);
/* Flag of cn_bfv_ciphertext_reshape. */
#define CN_BFV_NO_ZERO_FILL 1u
/* Makes ct a ciphertext of `size` polynomials (2 or 3) at `level` (1..L) of ctx, keeping
 * its memory when the shape already fits (for results written again and again). ct must
 * be zero-initialized (= {0}) or hold a ciphertext. flags 0: every coefficient is zero,
 * so ct is the transparent encryption of 0 (transparent = 1). CN_BFV_NO_ZERO_FILL: the
 * coefficients are left as they are (stale or uninitialized memory), for a kernel that
 * writes all size * level * n of them before ct is read; the caller then sets
 * transparent (here 0). Both: has_seed = 0, t_index unchanged, coefficient form.
 * CN_ERR_INVALID_ARG (size, level or flags out of range; ct unchanged),
 * CN_ERR_NO_MEMORY (ct may be left without polynomials: clear it). */
CN_API CN_WARN_UNUSED cn_status cn_bfv_ciphertext_reshape(cn_bfv_ciphertext_t *ct, size_t size,
                                                          size_t level, unsigned flags,
                                                          const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_bfv_ciphertext_copy(cn_bfv_ciphertext_t *out,
                                                       const cn_bfv_ciphertext_t *in,
                                                       const cn_bfv_context_t *ctx);
CN_API void cn_bfv_secret_key_clear(cn_bfv_secret_key_t *sk);
CN_API void cn_bfv_public_key_clear(cn_bfv_public_key_t *pk);
CN_API void cn_bfv_relin_key_clear(cn_bfv_relin_key_t *rk);
CN_API void cn_bfv_galois_keys_clear(cn_bfv_galois_keys_t *gk);

/* --- keys (client) ------------------------------------------------------------ */
CN_API CN_WARN_UNUSED cn_status cn_bfv_keygen_secret(cn_bfv_secret_key_t *sk,
                                                     const cn_bfv_context_t *ctx,
                                                     cn_rng_t *rng);
CN_API CN_WARN_UNUSED cn_status cn_bfv_keygen_public(cn_bfv_public_key_t *pk,
                                                     const cn_bfv_secret_key_t *sk,
                                                     const cn_bfv_context_t *ctx,
                                                     cn_rng_t *rng);
/* CN_ERR_UNSUPPORTED when the parameters have no special prime. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_keygen_relin(cn_bfv_relin_key_t *rk,
                                                    const cn_bfv_secret_key_t *sk,
                                                    const cn_bfv_context_t *ctx, cn_rng_t *rng);
/* A relinearization key at level `level` (1 .. L): it relinearizes ciphertexts of level
 * <= level only (CN_ERR_LEVEL_MISMATCH above), and is level (level + 1) / (L (L + 1)) of
 * the full key's size (level digits of level + 1 rows: docs/format.md, format 1.2). */
CN_API CN_WARN_UNUSED cn_status cn_bfv_keygen_relin_level(cn_bfv_relin_key_t *rk,
                                                          const cn_bfv_secret_key_t *sk,
                                                          size_t level,
                                                          const cn_bfv_context_t *ctx,
                                                          cn_rng_t *rng);
/* Galois keys for the row rotations by steps[0..nsteps) (any sign; a step is taken mod
 * n/2, and 0 needs no key) and for the column swap. steps == NULL gives the rotations by
 * 1, 2, 4, ..., n/4, from which every rotation is composed. Needs the special prime P
 * (CN_ERR_UNSUPPORTED without). Each key is as large as the relinearization key. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_keygen_galois(cn_bfv_galois_keys_t *gk,
                                                     const cn_bfv_secret_key_t *sk,
                                                     const int64_t *steps, size_t nsteps,
                                                     const cn_bfv_context_t *ctx,
                                                     cn_rng_t *rng);

/* As cn_bfv_keygen_relin_level, with digits of `digit_primes` primes (1 .. L; 1: as
 * cn_bfv_keygen_relin_level): ceil(level / digit_primes) digits instead of level, so about
 * digit_primes times smaller and faster to switch with, at a key-switching noise about
 * q^(digit_primes - 1) times larger (hybrid key switching with dnum digits: Han, Ki,
 * CT-RSA 2020, section 3; lib/bfv/digits.c). */
CN_API CN_WARN_UNUSED cn_status cn_bfv_keygen_relin_digits(cn_bfv_relin_key_t *rk,
                                                           const cn_bfv_secret_key_t *sk,
                                                           size_t level, size_t digit_primes,
                                                           const cn_bfv_context_t *ctx,
                                                           cn_rng_t *rng);
/* As cn_bfv_keygen_galois_levels, the key of elts[i] with digits of digit_primes[i]
 * primes (1 .. L; cn_bfv_keygen_relin_digits; digit_primes NULL: one prime per digit). A
 * repeated element takes its fewest primes per digit. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_keygen_galois_digits(
    cn_bfv_galois_keys_t *gk, const cn_bfv_secret_key_t *sk, const uint64_t *elts,
    const size_t *levels, size_t count, const size_t *digit_primes, const cn_bfv_context_t *ctx,
    cn_rng_t *rng);

/* Galois keys for exactly the Galois elements elts[0..count) (each odd, in [1, 2n); 1
 * and repeats need no key and are skipped), in that order: the keys a plan lists.
 * cn_bfv_galois_elt_rows / _columns give the element of a rotation. CN_ERR_INVALID_ARG
 * (an even or too large element, more than n), CN_ERR_UNSUPPORTED without P. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_keygen_galois_elts(cn_bfv_galois_keys_t *gk,
                                                          const cn_bfv_secret_key_t *sk,
                                                          const uint64_t *elts, size_t count,
                                                          const cn_bfv_context_t *ctx,
                                                          cn_rng_t *rng);
/* As cn_bfv_keygen_galois_elts, the key of elts[i] at level levels[i] (1 .. L; 0: L): it
 * rotates ciphertexts of level <= levels[i] only (CN_ERR_LEVEL_MISMATCH above), and is
 * smaller (cn_bfv_keygen_relin_level). A repeated element takes its highest level. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_keygen_galois_levels(
    cn_bfv_galois_keys_t *gk, const cn_bfv_secret_key_t *sk, const uint64_t *elts,
    const size_t *levels, size_t count, const cn_bfv_context_t *ctx, cn_rng_t *rng);

/* --- encryption and decryption ------------------------------------------------ */
/* ct = an encryption of pt under pk at the top level. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_encrypt(cn_bfv_ciphertext_t *ct,
                                               const cn_bfv_plaintext_t *pt,
                                               const cn_bfv_public_key_t *pk,
                                               const cn_bfv_context_t *ctx, cn_rng_t *rng);
/* ct = an encryption of pt under sk whose c1 is expanded from a fresh 32-byte seed kept
 * in ct->seed (has_seed = 1), so it can travel as the seed alone. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_encrypt_symmetric(cn_bfv_ciphertext_t *ct,
                                                         const cn_bfv_plaintext_t *pt,
                                                         const cn_bfv_secret_key_t *sk,
                                                         const cn_bfv_context_t *ctx,
                                                         cn_rng_t *rng);
/* Rebuilds c1 from ct->seed (after loading a seeded ciphertext). */
CN_API CN_WARN_UNUSED cn_status cn_bfv_expand_seed(cn_bfv_ciphertext_t *ct,
                                                   const cn_bfv_context_t *ctx);
/* pt = the decryption of ct (size 2 or 3). */
CN_API CN_WARN_UNUSED cn_status cn_bfv_decrypt(cn_bfv_plaintext_t *pt,
                                               const cn_bfv_ciphertext_t *ct,
                                               const cn_bfv_secret_key_t *sk,
                                               const cn_bfv_context_t *ctx);
/* Invariant noise budget in bits (0 when exhausted): log2(Q) - log2(max |[t*(c0 + c1 s
 * + c2 s^2)]_Q|) - 1. Decryption is correct while it is positive. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_noise_budget(int *bits, const cn_bfv_ciphertext_t *ct,
                                                    const cn_bfv_secret_key_t *sk,
                                                    const cn_bfv_context_t *ctx);
/* As cn_bfv_decrypt, but CN_ERR_NOISE_EXHAUSTED when the noise budget is 0. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_decrypt_checked(cn_bfv_plaintext_t *pt,
                                                       const cn_bfv_ciphertext_t *ct,
                                                       const cn_bfv_secret_key_t *sk,
                                                       const cn_bfv_context_t *ctx);

/* --- evaluation (server: public objects only) --------------------------------- */
CN_API CN_WARN_UNUSED cn_status cn_bfv_add(cn_bfv_ciphertext_t *out,
                                           const cn_bfv_ciphertext_t *a,
                                           const cn_bfv_ciphertext_t *b,
                                           const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_bfv_sub(cn_bfv_ciphertext_t *out,
                                           const cn_bfv_ciphertext_t *a,
                                           const cn_bfv_ciphertext_t *b,
                                           const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_bfv_neg(cn_bfv_ciphertext_t *out,
                                           const cn_bfv_ciphertext_t *a,
                                           const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_bfv_add_plain(cn_bfv_ciphertext_t *out,
                                                 const cn_bfv_ciphertext_t *a,
                                                 const cn_bfv_plaintext_t *pt,
                                                 const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_bfv_sub_plain(cn_bfv_ciphertext_t *out,
                                                 const cn_bfv_ciphertext_t *a,
                                                 const cn_bfv_plaintext_t *pt,
                                                 const cn_bfv_context_t *ctx);
/* out = a * pt (polynomial product, through the NTT). An all-zero pt gives a
 * transparent ciphertext (see cn_bfv_rerandomize). */
CN_API CN_WARN_UNUSED cn_status cn_bfv_mul_plain(cn_bfv_ciphertext_t *out,
                                                 const cn_bfv_ciphertext_t *a,
                                                 const cn_bfv_plaintext_t *pt,
                                                 const cn_bfv_context_t *ctx);
/* out = c * a for a signed integer c, taken mod t as its centered representative (so the
 * noise grows by at most t/2); no NTT. c = 0 mod t gives a transparent ciphertext. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_mul_scalar(cn_bfv_ciphertext_t *out,
                                                  const cn_bfv_ciphertext_t *a, int64_t c,
                                                  const cn_bfv_context_t *ctx);
/* out = a * b, size 3 (both of size 2, same level and plaintext modulus). */
CN_API CN_WARN_UNUSED cn_status cn_bfv_mul(cn_bfv_ciphertext_t *out,
                                           const cn_bfv_ciphertext_t *a,
                                           const cn_bfv_ciphertext_t *b,
                                           const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_bfv_square(cn_bfv_ciphertext_t *out,
                                              const cn_bfv_ciphertext_t *a,
                                              const cn_bfv_context_t *ctx);
/* out = a * a with its modulus switched down one prime: the same words as cn_bfv_square
 * then cn_bfv_mod_switch, the switch folded into the multiplication's scaling (one pass
 * over the result less). a of size 2 at level >= 2 (CN_ERR_LEVEL_MISMATCH at level 1);
 * out of size 3 at a's level - 1. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_square_mod_switch(cn_bfv_ciphertext_t *out,
                                                         const cn_bfv_ciphertext_t *a,
                                                         const cn_bfv_context_t *ctx);
/* size 3 -> size 2 with the relinearization key. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_relinearize(cn_bfv_ciphertext_t *out,
                                                   const cn_bfv_ciphertext_t *a,
                                                   const cn_bfv_relin_key_t *rk,
                                                   const cn_bfv_context_t *ctx);
/* Drops the last prime of a's level (CN_ERR_LEVEL_MISMATCH at level 1). */
CN_API CN_WARN_UNUSED cn_status cn_bfv_mod_switch(cn_bfv_ciphertext_t *out,
                                                  const cn_bfv_ciphertext_t *a,
                                                  const cn_bfv_context_t *ctx);
/* Rotations of the slots (size-2 ciphertexts; relinearize first). The n slots form two
 * rows of n/2 (see cryptonets/encode.h). cn_bfv_rotate_rows: slot (r, c) of out = slot
 * (r, c + steps mod n/2) of a, i.e. each row rotates left by steps (right when negative);
 * with the exact key one key switch, else composed from the power-of-two keys (one key
 * switch per set bit of steps mod n/2). cn_bfv_rotate_columns swaps the two rows.
 * cn_bfv_apply_galois applies X -> X^g for a g that has a key. CN_ERR_NO_KEY when a key
 * is missing, CN_ERR_UNSUPPORTED for size 3. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_rotate_rows(cn_bfv_ciphertext_t *out,
                                                   const cn_bfv_ciphertext_t *a, int64_t steps,
                                                   const cn_bfv_galois_keys_t *gk,
                                                   const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_bfv_rotate_columns(cn_bfv_ciphertext_t *out,
                                                      const cn_bfv_ciphertext_t *a,
                                                      const cn_bfv_galois_keys_t *gk,
                                                      const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_bfv_apply_galois(cn_bfv_ciphertext_t *out,
                                                    const cn_bfv_ciphertext_t *a, uint64_t g,
                                                    const cn_bfv_galois_keys_t *gk,
                                                    const cn_bfv_context_t *ctx);
/* The Galois element of a row rotation by steps (3^(steps mod n/2) mod 2n), and of the
 * column swap (2n - 1). */
CN_API uint64_t cn_bfv_galois_elt_rows(int64_t steps, const cn_bfv_context_t *ctx);
CN_API uint64_t cn_bfv_galois_elt_columns(const cn_bfv_context_t *ctx);

/* Adds a fresh public-key encryption of zero to ct (at ct's level), so a transparent
 * result becomes a proper encryption; clears the transparent flag. */
CN_API CN_WARN_UNUSED cn_status cn_bfv_rerandomize(cn_bfv_ciphertext_t *ct,
                                                   const cn_bfv_public_key_t *pk,
                                                   const cn_bfv_context_t *ctx, cn_rng_t *rng);

#ifdef __cplusplus
}
#endif

#endif
