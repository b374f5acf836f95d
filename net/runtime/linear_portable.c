/* Linear layers on ciphertext residues: out_j = sum_k w_k x_col(k) mod p over whole
 * residue rows, with lazy reduction and no NTT (docs/net.md, "Linear kernel").
 *
 * Each input residue x < p < 2^61 is split as x = xh 2^31 + xl (xl < 2^31, xh < 2^30);
 * the signed products w xl and w xh (|w| < 2^31) are summed in two int64 accumulators
 * per coefficient, exact for up to cn_lin_block_terms(wmax) terms, then reduced once:
 * (hi mod p) 2^31 + (lo mod p). The same arithmetic in every kernel, so every kernel
 * gives the same residues. */
#include <stdlib.h>
#include <string.h>

#include "../net_internal.h"

#define BLK 64 /* coefficients per accumulator block */

/* r[t] += (hi[t] mod p) * 2^31 + (lo[t] mod p), all mod p; r in [0, p) */
static void fold_block(uint64_t *r, const int64_t *lo, const int64_t *hi, size_t bl,
                       uint64_t two31, cn_mod_t m)
{
    for (size_t t = 0; t < bl; t++) {
        const uint64_t h = cn_mod_mul(cn_mod_from_int64(hi[t], m), two31, m);
        r[t] = cn_mod_add(r[t], cn_mod_add(h, cn_mod_from_int64(lo[t], m), m), m);
    }
}

void cn_lin_apply_portable(uint64_t *const *out, const uint64_t *const *x, const cn_lin_t *lin,
                           const uint64_t *wmod, size_t j0, size_t j1, size_t cs, size_t ce,
                           cn_mod_t m)
{
    (void)wmod;
    const size_t bt = cn_lin_block_terms(lin->wmax);
    const uint64_t two31 = cn_mod_reduce_u64((uint64_t)1 << 31, m);
    const uint64_t mask = ((uint64_t)1 << 31) - 1;
    int64_t lo[BLK], hi[BLK];
    uint64_t r[BLK];
    for (size_t c0 = cs; c0 < ce; c0 += BLK) {
        for (size_t j = j0; j < j1; j++) {
            const size_t bl = ce - c0 < BLK ? ce - c0 : BLK;
            memset(r, 0, sizeof r);
            for (size_t k = lin->row[j]; k < lin->row[j + 1];) {
                const size_t kend = lin->row[j + 1] - k > bt ? k + bt : lin->row[j + 1];
                memset(lo, 0, sizeof lo);
                memset(hi, 0, sizeof hi);
                for (; k < kend; k++) {
                    const int64_t w = lin->w[k];
                    const uint64_t *xp = x[lin->col[k]] + c0;
                    for (size_t t = 0; t < bl; t++) {
                        lo[t] += w * (int64_t)(xp[t] & mask);
                        hi[t] += w * (int64_t)(xp[t] >> 31);
                    }
                }
                fold_block(r, lo, hi, bl, two31, m);
            }
            memcpy(out[j] + c0, r, bl * sizeof(uint64_t));
        }
    }
}
