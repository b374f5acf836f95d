/* Portable C kernels of secret-key encryption (the contracts are in enc_kernels.h):
 * Barrett products (cn_mod_mul) and Shoup products by the constant delta. */
#include <assert.h>

#include "cryptonets/arith.h"
#include "enc_kernels.h"

static cn_mod_t mod_of(uint64_t p)
{
    cn_mod_t m;
    cn_status st = cn_mod_init(&m, p);
    assert(st == CN_OK);
    (void)st;
    return m;
}

void cn_enc_mul_row_portable(uint64_t *y, const uint64_t *x, const uint64_t *s, size_t n,
                             uint64_t p)
{
    const cn_mod_t m = mod_of(p);
    for (size_t i = 0; i < n; i++) {
        uint64_t v = x[i];
        v = v >= 2 * p ? v - 2 * p : v;
        v = v >= p ? v - p : v;
        y[i] = cn_mod_mul(v, s[i], m);
    }
}

void cn_enc_c0_row_portable(uint64_t *c0, const uint64_t *y, const int64_t *e,
                            const uint64_t *m, size_t n, uint64_t p, uint64_t delta)
{
    const uint64_t ds = cn_mod_shoup(delta, mod_of(p));
    for (size_t i = 0; i < n; i++) {
        /* p + e in (0, 2p), + delta m (in [0, p)) in (0, 3p), reduced to [0, p) */
        uint64_t v = (uint64_t)((int64_t)p + e[i]) + cn_mod_mul_shoup(m[i], delta, ds, p);
        v = v >= p ? v - p : v;
        v = v >= p ? v - p : v;
        /* v + 2p - y in (0, 3p) */
        uint64_t d = v + 2 * p - y[i];
        d = d >= 2 * p ? d - 2 * p : d;
        c0[i] = d >= p ? d - p : d;
    }
}
