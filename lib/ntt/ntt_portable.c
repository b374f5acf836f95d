/* Portable C NTT kernels (Harvey lazy butterflies, Shoup twiddles). */
#include "ntt_internal.h"

/* Cooley-Tukey forward butterfly stage loop. Longa-Naehrig, CANS 2016, Alg. 1.
 * Invariant: every value stays in [0, 4p). */
void cn_ntt_forward_lazy_portable(uint64_t *a, const cn_ntt_table_t *t)
{
    const size_t n = t->n;
    const uint64_t p = t->mod.p, p2 = 2 * p;
    const uint64_t *w = t->w, *ws = t->ws;
    size_t gap = n, m = 1;
    for (; m < n && gap > 4; m <<= 1) {
        gap >>= 1;
        for (size_t i = 0; i < m; i++) {
            const uint64_t W = w[m + i], Ws = ws[m + i];
            uint64_t *x = a + 2 * i * gap, *y = x + gap;
            for (size_t j = 0; j < gap; j++) {
                uint64_t u = x[j];
                u = u >= p2 ? u - p2 : u;
                uint64_t v = cn_mod_mul_shoup_lazy(y[j], W, Ws, p);
                x[j] = u + v;
                y[j] = u - v + p2;
            }
        }
    }
    /* the last stages (distance 2 and 1) as straight loops over the array: about 5%
     * faster at n = 8192 than the general loop with its short inner loops */
    for (; m < n; m <<= 1) {
        gap >>= 1;
        if (gap == 2) {
            for (size_t i = 0; i < m; i++) {
                const uint64_t W = w[m + i], Ws = ws[m + i];
                uint64_t *x = a + 4 * i;
                uint64_t u0 = x[0], u1 = x[1];
                u0 = u0 >= p2 ? u0 - p2 : u0;
                u1 = u1 >= p2 ? u1 - p2 : u1;
                uint64_t v0 = cn_mod_mul_shoup_lazy(x[2], W, Ws, p);
                uint64_t v1 = cn_mod_mul_shoup_lazy(x[3], W, Ws, p);
                x[0] = u0 + v0;
                x[1] = u1 + v1;
                x[2] = u0 - v0 + p2;
                x[3] = u1 - v1 + p2;
            }
            continue;
        }
        for (size_t i = 0; i < m; i++) {
            uint64_t *x = a + 2 * i;
            uint64_t u = x[0];
            u = u >= p2 ? u - p2 : u;
            uint64_t v = cn_mod_mul_shoup_lazy(x[1], w[m + i], ws[m + i], p);
            x[0] = u + v;
            x[1] = u - v + p2;
        }
    }
}

/* Gentleman-Sande inverse stage loop, n^-1 merged into the last stage.
 * Longa-Naehrig, CANS 2016, Alg. 2. Invariant: values stay in [0, 2p). */
void cn_ntt_inverse_lazy_portable(uint64_t *a, const cn_ntt_table_t *t)
{
    const size_t n = t->n;
    const uint64_t p = t->mod.p, p2 = 2 * p;
    const uint64_t *w = t->wi, *ws = t->wis;
    size_t gap = 1;
    for (size_t m = n >> 1; m > 1; m >>= 1) {
        for (size_t i = 0; i < m; i++) {
            const uint64_t W = w[m + i], Ws = ws[m + i];
            uint64_t *x = a + 2 * i * gap, *y = x + gap;
            for (size_t j = 0; j < gap; j++) {
                uint64_t u = x[j], v = y[j];
                uint64_t s = u + v;
                x[j] = s >= p2 ? s - p2 : s;
                y[j] = cn_mod_mul_shoup_lazy(u - v + p2, W, Ws, p);
            }
        }
        gap <<= 1;
    }
    const uint64_t ni = t->n_inv, nis = t->n_inv_s, lw = t->last_wi, lws = t->last_wis;
    uint64_t *x = a, *y = a + gap;
    for (size_t j = 0; j < gap; j++) {
        uint64_t u = x[j], v = y[j];
        x[j] = cn_mod_mul_shoup_lazy(u + v, ni, nis, p);
        y[j] = cn_mod_mul_shoup_lazy(u - v + p2, lw, lws, p);
    }
}
