/* The digits of hybrid key switching. A key with digits of k primes (digit_primes = k)
 * splits a polynomial c over Q_l = q_1 ... q_l into dnum = ceil(l / k) digits, digit i
 * the residue of c modulo D_i = q_{ik+1} ... q_{min(ik+k, l)} (Han, Ki, "Better
 * bootstrapping for approximate homomorphic encryption", CT-RSA 2020, section 3: the
 * gadget of "dnum" digits; with k = 1 the one-digit-per-prime method of keyswitch.c).
 * Key switching multiplies every digit, lifted to all primes of Q_l P, by the key's
 * digit, so the digit must be brought from its k primes to the others: here by the fast
 * (approximate) base conversion of Halevi, Polyakov, Shoup ("An improved RNS variant of
 * the BFV homomorphic encryption scheme", CT-RSA 2019, section 2.2, without its
 * floating-point correction),
 *     x' = sum_{j in digit i} [c_j (D_i / q_j)^-1]_{q_j} (D_i / q_j) = x + u D_i,
 * x = [c]_{D_i} in [0, D_i), u an integer in [0, k). The excess u D_i costs nothing: the
 * key's digit i encrypts P g_i s' with g_i = 0 modulo every prime outside D_i and 1 on
 * D_i, so u D_i P g_i = 0 modulo Q_l P, and only u D_i e_i remains, as large as the
 * digit's own x e_i (so |x'| < k D_i bounds the digit in the noise estimate). On a row of
 * D_i itself the digit is c's own residue, exactly. */
#include <string.h>

#include "bfv_internal.h"

size_t cn_bfv_ksk_digit_primes(const cn_bfv_relin_key_t *k)
{
    return k->digit_primes > 1 ? k->digit_primes : 1;
}

/* the primes [*lo, *hi) of digit i at level l with dp primes per digit */
static void digit_range(size_t *lo, size_t *hi, size_t i, size_t l, size_t dp)
{
    *lo = i * dp;
    *hi = *lo + dp < l ? *lo + dp : l;
}

void cn_bfv_digits_scale(uint64_t *y, const uint64_t *c, size_t l, size_t dp,
                         const cn_bfv_context_t *ctx)
{
    const size_t n = ctx->n;
    if (dp <= 1)
        return;
    for (size_t i = 0; i * dp < l; i++) {
        size_t lo, hi;
        digit_range(&lo, &hi, i, l, dp);
        if (hi - lo == 1)
            continue; /* one prime: the residue itself, no conversion */
        for (size_t j = lo; j < hi; j++) {
            const cn_mod_t m = ctx->ring.base.mod[j];
            uint64_t dj = 1, inv = 0; /* D_i / q_j mod q_j, then its inverse */
            for (size_t h = lo; h < hi; h++)
                if (h != j)
                    dj = cn_mod_mul(dj, cn_mod_reduce_u64(ctx->ring.base.q[h], m), m);
            if (cn_mod_inv(&inv, dj, m) != CN_OK)
                inv = 0; /* not reached: distinct primes */
            const uint64_t invs = cn_mod_shoup(inv, m);
            const uint64_t *cj = c + j * n;
            uint64_t *yj = y + j * n;
            for (size_t t = 0; t < n; t++)
                yj[t] = cn_mod_mul_shoup(cj[t], inv, invs, m.p);
        }
    }
}

void cn_bfv_digit_row(uint64_t *x, const uint64_t *c, const uint64_t *y, size_t i, size_t l,
                      size_t dp, size_t rj, const cn_bfv_context_t *ctx)
{
    const size_t n = ctx->n;
    const cn_mod_t m = ctx->ring.ntt[rj].mod;
    size_t lo, hi;
    digit_range(&lo, &hi, i, l, dp);
    if (rj >= lo && rj < hi) { /* a prime of the digit: c's residue, in [0, p) */
        memcpy(x, c + rj * n, n * sizeof *x);
        return;
    }
    if (hi - lo == 1) { /* one prime q_lo: its residue, as an integer in [0, q_lo) */
        const uint64_t *di = c + lo * n;
        if (ctx->ring.base.q[lo] <= 4 * m.p)
            memcpy(x, di, n * sizeof *x); /* already in the NTT's input range [0, 4p) */
        else
            for (size_t t = 0; t < n; t++)
                x[t] = cn_mod_reduce_u64(di[t], m);
        return;
    }
    /* sum_j y_j [D_i / q_j]_p by Shoup products (y_j < 2^64 any, each term in [0, 2p)),
     * the sum kept in [0, 2p) */
    uint64_t w[CN_BFV_MAX_Q], ws[CN_BFV_MAX_Q];
    const uint64_t p = m.p, p2 = 2 * m.p;
    for (size_t j = lo; j < hi; j++) {
        w[j - lo] = 1;
        for (size_t h = lo; h < hi; h++)
            if (h != j)
                w[j - lo] = cn_mod_mul(w[j - lo], cn_mod_reduce_u64(ctx->ring.base.q[h], m), m);
        ws[j - lo] = cn_mod_shoup(w[j - lo], m);
    }
    const size_t k = hi - lo;
    for (size_t t = 0; t < n; t++) {
        uint64_t acc = cn_mod_mul_shoup_lazy(y[lo * n + t], w[0], ws[0], p);
        for (size_t j = 1; j < k; j++) {
            acc += cn_mod_mul_shoup_lazy(y[(lo + j) * n + t], w[j], ws[j], p);
            acc = acc >= p2 ? acc - p2 : acc;
        }
        x[t] = acc; /* [0, 2p) */
    }
}
