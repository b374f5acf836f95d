/* Sums of products with plaintext polynomials in the NTT form (cryptonets/bfv_hoist.h):
 * the packed layout's first layer, sum_i w_i c_i over uploaded ciphertexts, in the
 * multiply-accumulate kernel of key switching (lazy IFMA sums where the primes allow). */
#include <stdlib.h>
#include <string.h>

#include "cryptonets/bfv_hoist.h"
#include "bfv_internal.h"
#include "kernels.h"

cn_status cn_bfv_dot2_ntt(cn_poly_t *y0, cn_poly_t *y1, const cn_poly_t *w,
                          const cn_poly_t *const *a0, const cn_poly_t *const *a1, size_t count,
                          const cn_bfv_context_t *ctx)
{
    const size_t n = ctx->n, l = y0->k, wn = count ? w[0].n : n;
    if (y1->k != l || y0->n != n || y1->n != n || l > ctx->ring.base.k || !l)
        return CN_ERR_SHAPE_MISMATCH;
    unsigned shift = 0;
    while (shift < 16 && (wn << shift) < n)
        shift++;
    if ((wn << shift) != n)
        return CN_ERR_SHAPE_MISMATCH;
    for (size_t i = 0; i < count; i++) {
        if (w[i].n != wn || w[i].k < l || a0[i]->n != n || a1[i]->n != n || a0[i]->k < l ||
            a1[i]->k < l)
            return CN_ERR_SHAPE_MISMATCH;
        if (w[i].form != CN_FORM_NTT || a0[i]->form != CN_FORM_NTT ||
            a1[i]->form != CN_FORM_NTT)
            return CN_ERR_FORM_MISMATCH;
        if (a0[i] == y0 || a0[i] == y1 || a1[i] == y0 || a1[i] == y1 || &w[i] == y0 ||
            &w[i] == y1)
            return CN_ERR_INVALID_ARG;
    }
    const uint64_t **rows = malloc(3 * (count ? count : 1) * sizeof *rows);
    if (!rows)
        return CN_ERR_NO_MEMORY;
    const uint64_t **xs = rows, **k0s = rows + count, **k1s = rows + 2 * count;
    for (size_t j = 0; j < l; j++) {
        const uint64_t p = ctx->ring.base.q[j];
        for (size_t i = 0; i < count; i++) {
            xs[i] = w[i].data + j * wn;
            k0s[i] = a0[i]->data + j * n;
            k1s[i] = a1[i]->data + j * n;
        }
        cn_bfv_mul_acc2_rep_kernel(p, n)(y0->data + j * n, y1->data + j * n, xs, shift, k0s,
                                         k1s, count, n, p, 0);
    }
    y0->form = y1->form = CN_FORM_NTT;
    free(rows);
    return CN_OK;
}
