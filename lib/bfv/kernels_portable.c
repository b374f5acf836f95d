/* Portable C BFV kernels (the contracts are in kernels.h): Barrett products of two
 * variables (cn_mod_mul), for any prime below 2^61. */
#include <assert.h>
#include <string.h>

#include "kernels.h"

static cn_mod_t mod_of(uint64_t p)
{
    cn_mod_t m;
    cn_status st = cn_mod_init(&m, p);
    assert(st == CN_OK);
    (void)st;
    return m;
}

/* x in [0, 4p) -> [0, p) */
static inline uint64_t reduce4(uint64_t x, uint64_t p)
{
    x = x >= 2 * p ? x - 2 * p : x;
    return x >= p ? x - p : x;
}

void cn_tensor_row_portable(uint64_t *d0, uint64_t *d1, uint64_t *d2, const uint64_t *a0,
                            const uint64_t *a1, const uint64_t *b0, const uint64_t *b1,
                            size_t n, uint64_t modulus, int square)
{
    const cn_mod_t m = mod_of(modulus);
    for (size_t i = 0; i < n; i++) {
        const uint64_t x0 = reduce4(a0[i], m.p), x1 = reduce4(a1[i], m.p),
                       y0 = reduce4(b0[i], m.p), y1 = reduce4(b1[i], m.p);
        d0[i] = cn_mod_mul(x0, y0, m);
        d2[i] = cn_mod_mul(x1, y1, m);
        if (square) {
            const uint64_t c = cn_mod_mul(x0, x1, m);
            d1[i] = cn_mod_add(c, c, m);
        } else {
            d1[i] = cn_mod_reduce_any_u128((cn_u128)x0 * y1 + (cn_u128)x1 * y0, m);
        }
    }
}

/* Coefficients per block: the 128-bit sums of a block stay on the stack. */
#define BLK 64

/* The products (< 4p p < 2^124) are summed in 128 bits and reduced once every 8 digits;
 * x[i][c >> shift] multiplies row c (shift 0: the plain multiply-accumulate). */
void cn_mul_acc2_rep_portable(uint64_t *y0, uint64_t *y1, const uint64_t *const *x,
                              unsigned shift, const uint64_t *const *k0,
                              const uint64_t *const *k1, size_t nd, size_t n, uint64_t modulus,
                              int acc)
{
    const cn_mod_t m = mod_of(modulus);
    cn_u128 w0[BLK], w1[BLK];
    for (size_t c0 = 0; c0 < n; c0 += BLK) {
        const size_t bl = n - c0 < BLK ? n - c0 : BLK;
        memset(w0, 0, sizeof w0);
        memset(w1, 0, sizeof w1);
        for (size_t i = 0; i < nd; i++) {
            const uint64_t *xi = x[i], *a = k0[i] + c0, *b = k1[i] + c0;
            for (size_t c = 0; c < bl; c++) {
                const uint64_t v = xi[(c0 + c) >> shift];
                w0[c] += (cn_u128)v * a[c];
                w1[c] += (cn_u128)v * b[c];
            }
            if ((i & 7) == 7 || i + 1 == nd) {
                const int add = acc || i >= 8; /* acc = 0: the first group writes */
                for (size_t c = 0; c < bl; c++) {
                    const uint64_t r0 = cn_mod_reduce_any_u128(w0[c], m),
                                   r1 = cn_mod_reduce_any_u128(w1[c], m);
                    y0[c0 + c] = add ? cn_mod_add(y0[c0 + c], r0, m) : r0;
                    y1[c0 + c] = add ? cn_mod_add(y1[c0 + c], r1, m) : r1;
                }
                memset(w0, 0, sizeof w0);
                memset(w1, 0, sizeof w1);
            }
        }
    }
}

void cn_mul_acc2_portable(uint64_t *y0, uint64_t *y1, const uint64_t *const *x,
                          const uint64_t *const *k0, const uint64_t *const *k1, size_t nd,
                          size_t n, uint64_t modulus)
{
    cn_mul_acc2_rep_portable(y0, y1, x, 0, k0, k1, nd, n, modulus, 1);
}

void cn_perm_rows_portable(uint64_t *y, const uint64_t *x, const uint32_t *perm, size_t n)
{
    for (size_t c = 0; c < n; c++)
        y[c] = x[perm[c]];
}

void cn_divround_row_portable(uint64_t *out, const uint64_t *x, const uint64_t *last, size_t n,
                              uint64_t modulus, uint64_t P, uint64_t inv)
{
    const cn_mod_t m = mod_of(modulus);
    const uint64_t p = modulus, half = P >> 1, pm = cn_mod_reduce_u64(P, m);
    const uint64_t inv_s = cn_mod_shoup(inv, m);
    /* P below 2p: last mod p is one conditional subtraction */
    const int near = P <= 2 * p;
    /* branch-free: the sign of the centered residue is a coin toss per coefficient, and a
     * branch on it cost a misprediction every other coefficient (perf on the n = 16384
     * MNIST plan's modulus switch, docs/benchmarks.md, issue 17) */
    for (size_t i = 0; i < n; i++) {
        const uint64_t v = last[i];
        uint64_t vm = near ? v - (p & (0 - (uint64_t)(v >= p))) : cn_mod_reduce_u64(v, m);
        const uint64_t neg = pm & (0 - (uint64_t)(v > half)); /* v - P when v > P / 2 */
        vm = vm - neg + (p & (0 - (uint64_t)(vm < neg)));
        const uint64_t d = x[i] - vm + (p & (0 - (uint64_t)(x[i] < vm)));
        out[i] = cn_mod_mul_shoup(d, inv, inv_s, p);
    }
}
