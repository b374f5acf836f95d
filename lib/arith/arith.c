/* Modulus setup, powering, inverses, primality, NTT-friendly primes, roots of unity. */
#include <flint/ulong_extras.h>

#include "cryptonets/arith.h"

cn_status cn_mod_init(cn_mod_t *mod, uint64_t p)
{
    if (p < 2)
        return CN_ERR_INVALID_ARG;
    if (p >> CN_MOD_MAX_BITS)
        return CN_ERR_MODULUS_TOO_LARGE;
    unsigned k = 64 - (unsigned)__builtin_clzll(p);
    mod->p = p;
    mod->bits = k;
    mod->mu = (uint64_t)(((cn_u128)1 << (2 * k)) / p);
    mod->r64 = (uint64_t)(((cn_u128)1 << 64) % p);
    return CN_OK;
}

uint64_t cn_mod_pow(uint64_t a, uint64_t e, cn_mod_t m)
{
    uint64_t r = 1 % m.p, b = cn_mod_reduce_u64(a, m);
    while (e) {
        if (e & 1)
            r = cn_mod_mul(r, b, m);
        b = cn_mod_mul(b, b, m);
        e >>= 1;
    }
    return r;
}

/* Extended Euclid on signed 128-bit cofactors (values stay below 2^61). */
cn_status cn_mod_inv(uint64_t *inv, uint64_t a, cn_mod_t m)
{
    int64_t r0 = (int64_t)m.p, r1 = (int64_t)cn_mod_reduce_u64(a, m);
    int64_t s0 = 0, s1 = 1;
    while (r1 != 0) {
        int64_t q = r0 / r1, t;
        t = r0 - q * r1;
        r0 = r1;
        r1 = t;
        t = s0 - q * s1;
        s0 = s1;
        s1 = t;
    }
    if (r0 != 1)
        return CN_ERR_NOT_INVERTIBLE;
    *inv = s0 < 0 ? (uint64_t)(s0 + (int64_t)m.p) : (uint64_t)s0;
    return CN_OK;
}

int cn_is_prime(uint64_t p)
{
    return n_is_prime((ulong)p) ? 1 : 0;
}

static int in_set(uint64_t x, const uint64_t *set, size_t nset)
{
    for (size_t i = 0; i < nset; i++)
        if (set[i] == x)
            return 1;
    return 0;
}

cn_status cn_primes_ntt(uint64_t *out, size_t k, unsigned bits, size_t n,
                        const uint64_t *exclude, size_t nexclude, int largest)
{
    if (bits < 2 || bits > CN_MOD_MAX_BITS || n == 0 || (n & (n - 1)) != 0)
        return CN_ERR_INVALID_ARG;
    if (n > ((uint64_t)1 << (bits - 1)))
        return k == 0 ? CN_OK : CN_ERR_NOT_ENOUGH_PRIMES;
    uint64_t step = 2 * (uint64_t)n;
    uint64_t lo = (uint64_t)1 << (bits - 1), hi = ((uint64_t)1 << bits) - 1;
    /* candidates c = 1 mod 2n in [lo, hi] */
    uint64_t first = largest ? hi - ((hi - 1) % step) : lo + ((step + 1 - lo % step) % step);
    size_t found = 0;
    if (first < lo || first > hi)
        return k == 0 ? CN_OK : CN_ERR_NOT_ENOUGH_PRIMES;
    for (uint64_t c = first; found < k;) {
        if (c != 1 && cn_is_prime(c) && !in_set(c, exclude, nexclude) && !in_set(c, out, found))
            out[found++] = c;
        if (largest) {
            if (c < lo + step)
                break;
            c -= step;
        } else {
            if (c > hi - step)
                break;
            c += step;
        }
    }
    return found == k ? CN_OK : CN_ERR_NOT_ENOUGH_PRIMES;
}

cn_status cn_root_of_unity(uint64_t *root, uint64_t order, uint64_t p)
{
    cn_mod_t m;
    cn_status st;
    if (order < 2 || (order & (order - 1)) != 0)
        return CN_ERR_INVALID_ARG;
    if ((st = cn_mod_init(&m, p)) != CN_OK)
        return st;
    if (!cn_is_prime(p))
        return CN_ERR_NOT_PRIME;
    if ((p - 1) % order != 0)
        return CN_ERR_NOT_NTT_FRIENDLY;
    /* x^((p-1)/order) has exact order `order` iff its (order/2)-th power is -1 (true
     * for half of all x). FLINT 2.9's n_primitive_root_prime is not used: it returned
     * the quadratic residue 2 for the 55-bit prime 36028797018963841. All primitive
     * roots of that order are the odd powers of one of them; we take the smallest. */
    uint64_t w = 0;
    for (uint64_t x = 2; x < p; x++) {
        w = cn_mod_pow(x, (p - 1) / order, m);
        if (cn_mod_pow(w, order / 2, m) == p - 1)
            break;
    }
    uint64_t w2 = cn_mod_mul(w, w, m), cur = w, best = w;
    for (uint64_t i = 1; i < order / 2; i++) {
        cur = cn_mod_mul(cur, w2, m);
        if (cur < best)
            best = cur;
    }
    *root = best;
    return CN_OK;
}
