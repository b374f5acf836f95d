/* A small BFV fixture for the key-switching suites (tests/bfv/test_level_keys.c,
 * test_digit_keys.c): n = 64, L ciphertext primes of 50 bits and P of 51, two plaintext
 * moduli of 16 bits, security off (tests only), a secret key from a deterministic
 * generator; plus the slot oracle those suites compare with (a rotation moves the slots
 * of each row, the column swap exchanges the rows). */
#ifndef CN_TEST_BFV_KEYS_FIXTURE_H
#define CN_TEST_BFV_KEYS_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "cryptonets/cryptonets.h"

#define CN_TEST_KS_N 64 /* the fixture's ring degree: slot arrays hold this many */

typedef struct {
    cn_bfv_params_t prm;
    cn_bfv_context_t *ctx;
    cn_bfv_secret_key_t sk;
    cn_rng_t rng;
} cn_test_ks_fx_t;

/* L primes (1 <= L <= 8); stream separates the generators of different tests. */
void cn_test_ks_fx_init(cn_test_ks_fx_t *f, size_t L, uint64_t stream);
void cn_test_ks_fx_clear(cn_test_ks_fx_t *f);

/* A fresh symmetric encryption of random slots v[0..n) in [0, 100), switched down to
 * level l. */
void cn_test_ks_encrypt_at(cn_bfv_ciphertext_t *ct, int64_t *v, size_t l, cn_test_ks_fx_t *f,
                           uint64_t stream);

/* Asserts that ct decrypts (checked) to the slots want[0..n). */
void cn_test_ks_expect_slots(const cn_bfv_ciphertext_t *ct, const int64_t *want,
                             cn_test_ks_fx_t *f);

/* want = v rotated left by k in both rows of n / 2 slots (k = -1: the rows swapped). */
void cn_test_ks_rotated(int64_t *want, const int64_t *v, long k, size_t n);

/* The bytes of one key row set as the key formats pack them: the rows q_1..q_d, then P,
 * each of n residues at the prime's bit width (docs/format.md "Rows and packing"),
 * computed here from the parameters, not by the writer. */
size_t cn_test_ks_rows_bytes(const cn_bfv_params_t *prm, size_t d);

#endif
