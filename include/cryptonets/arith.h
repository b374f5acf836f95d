/* Word-size modular arithmetic for moduli below 2^61, and NTT-friendly prime search.
 *
 * A cn_mod_t holds a modulus p (2 <= p < 2^61) and its Barrett constant; it is cheap
 * and passed by value. Unless a function says otherwise, inputs are in [0, p) and
 * outputs are in [0, p). Shoup multiplication (V. Shoup, NTL; D. Harvey, "Faster
 * arithmetic for number-theoretic transforms", J. Symb. Comp. 2014) multiplies by a
 * constant w with a precomputed w' = floor(w * 2^64 / p). */
#ifndef CRYPTONETS_ARITH_H
#define CRYPTONETS_ARITH_H

#include "cryptonets/common.h"

#ifdef __cplusplus
extern "C" {
#endif

__extension__ typedef unsigned __int128 cn_u128;

/* Largest supported modulus bit size: 4p must fit a word for lazy butterflies. */
#define CN_MOD_MAX_BITS 61

typedef struct {
    uint64_t p;    /* the modulus, 2 <= p < 2^61 */
    uint64_t mu;   /* Barrett constant floor(2^(2k) / p), k = bits */
    uint64_t r64;  /* 2^64 mod p */
    unsigned bits; /* k: 2^(k-1) <= p < 2^k */
} cn_mod_t;

/* Fills *mod for modulus p. Fails with CN_ERR_INVALID_ARG if p < 2 and
 * CN_ERR_MODULUS_TOO_LARGE if p >= 2^61. Primality is not required. */
CN_API CN_WARN_UNUSED cn_status cn_mod_init(cn_mod_t *mod, uint64_t p);

/* (a + b) mod p. */
static inline uint64_t cn_mod_add(uint64_t a, uint64_t b, cn_mod_t m)
{
    uint64_t s = a + b;
    return s >= m.p ? s - m.p : s;
}

/* (a - b) mod p. */
static inline uint64_t cn_mod_sub(uint64_t a, uint64_t b, cn_mod_t m)
{
    uint64_t d = a - b;
    return a < b ? d + m.p : d;
}

/* (-a) mod p. */
static inline uint64_t cn_mod_neg(uint64_t a, cn_mod_t m)
{
    return a == 0 ? 0 : m.p - a;
}

/* x mod p for x < 2^(2k) (e.g. a product of two values below p), by Barrett
 * reduction (HAC 14.42): the quotient estimate is at most 2 too small. */
static inline uint64_t cn_mod_reduce_u128(cn_u128 x, cn_mod_t m)
{
    uint64_t a = (uint64_t)(x >> (m.bits - 1));
    uint64_t q = (uint64_t)(((cn_u128)a * m.mu) >> (m.bits + 1));
    uint64_t r = (uint64_t)x - q * m.p;
    r = r >= m.p ? r - m.p : r;
    return r >= m.p ? r - m.p : r;
}

/* x mod p for any 64-bit x. */
static inline uint64_t cn_mod_reduce_u64(uint64_t x, cn_mod_t m)
{
    if (m.bits <= 32)
        return x % m.p;
    return cn_mod_reduce_u128((cn_u128)x, m);
}

/* (a * b) mod p, a and b below p. */
static inline uint64_t cn_mod_mul(uint64_t a, uint64_t b, cn_mod_t m)
{
    return cn_mod_reduce_u128((cn_u128)a * b, m);
}

/* x mod p for any 128-bit x: (hi mod p) * (2^64 mod p) + (lo mod p). */
static inline uint64_t cn_mod_reduce_any_u128(cn_u128 x, cn_mod_t m)
{
    uint64_t hi = cn_mod_reduce_u64((uint64_t)(x >> 64), m);
    uint64_t lo = cn_mod_reduce_u64((uint64_t)x, m);
    return cn_mod_add(cn_mod_mul(hi, m.r64, m), lo, m);
}

/* Shoup constant floor(w * 2^64 / p) for a constant w in [0, p). */
static inline uint64_t cn_mod_shoup(uint64_t w, cn_mod_t m)
{
    return (uint64_t)(((cn_u128)w << 64) / m.p);
}

/* (a * w) mod p up to one multiple of p: the result is in [0, 2p).
 * a is any 64-bit value; w in [0, p), ws = cn_mod_shoup(w). */
static inline uint64_t cn_mod_mul_shoup_lazy(uint64_t a, uint64_t w, uint64_t ws, uint64_t p)
{
    uint64_t q = (uint64_t)(((cn_u128)a * ws) >> 64);
    return a * w - q * p;
}

/* (a * w) mod p in [0, p), same inputs as cn_mod_mul_shoup_lazy. */
static inline uint64_t cn_mod_mul_shoup(uint64_t a, uint64_t w, uint64_t ws, uint64_t p)
{
    uint64_t r = cn_mod_mul_shoup_lazy(a, w, ws, p);
    return r >= p ? r - p : r;
}

/* Signed integer c reduced into [0, p). */
static inline uint64_t cn_mod_from_int64(int64_t c, cn_mod_t m)
{
    if (c >= 0)
        return cn_mod_reduce_u64((uint64_t)c, m);
    return cn_mod_neg(cn_mod_reduce_u64(-(uint64_t)c, m), m);
}

/* Centered representative of a in [0, p): a value in (-p/2, p/2]. */
static inline int64_t cn_mod_center(uint64_t a, cn_mod_t m)
{
    return a > m.p / 2 ? (int64_t)a - (int64_t)m.p : (int64_t)a;
}

/* a^e mod p. */
CN_API uint64_t cn_mod_pow(uint64_t a, uint64_t e, cn_mod_t m);

/* *inv = a^-1 mod p; CN_ERR_NOT_INVERTIBLE if gcd(a, p) != 1. */
CN_API CN_WARN_UNUSED cn_status cn_mod_inv(uint64_t *inv, uint64_t a, cn_mod_t m);

/* 1 if p is prime, else 0 (deterministic for 64-bit p). */
CN_API int cn_is_prime(uint64_t p);

/* Writes to out[0..k) the k largest (largest != 0) or smallest (largest == 0) primes
 * of exactly `bits` bits that are 1 mod 2n and not in exclude[0..nexclude), in
 * decreasing (largest) or increasing order. bits in [2, 61], n a power of two >= 1.
 * CN_ERR_NOT_ENOUGH_PRIMES if fewer exist. */
CN_API CN_WARN_UNUSED cn_status cn_primes_ntt(uint64_t *out, size_t k, unsigned bits, size_t n,
                                              const uint64_t *exclude, size_t nexclude,
                                              int largest);

/* *root = the smallest primitive root of unity of order `order` (a power of two >= 2)
 * modulo the prime p, so the choice is deterministic. CN_ERR_NOT_NTT_FRIENDLY if
 * p != 1 mod order, CN_ERR_NOT_PRIME if p is not prime. */
CN_API CN_WARN_UNUSED cn_status cn_root_of_unity(uint64_t *root, uint64_t order, uint64_t p);

#ifdef __cplusplus
}
#endif

#endif
