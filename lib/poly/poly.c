/* RNS polynomials in R_q = Z_q[X]/(X^n + 1): shape checks, ring ops, NTT form. */
#include <string.h>

#include "cryptonets/poly.h"
#include "../internal/mem.h"
#include "../internal/poly_alloc.h"

void cn_ring_clear(cn_ring_t *r)
{
    if (!r)
        return;
    if (r->ntt) {
        for (size_t i = 0; i < r->base.k; i++)
            cn_ntt_table_clear(&r->ntt[i]);
        free(r->ntt);
    }
    cn_rns_base_clear(&r->base);
    memset(r, 0, sizeof *r);
}

cn_status cn_ring_init(cn_ring_t *r, size_t n, const uint64_t *primes, size_t k)
{
    memset(r, 0, sizeof *r);
    if (n < 2 || n > ((size_t)1 << CN_NTT_MAX_LOGN) || (n & (n - 1)))
        return CN_ERR_NOT_POWER_OF_TWO;
    cn_status st = cn_rns_base_init(&r->base, primes, k);
    if (st != CN_OK)
        return st;
    r->n = n;
    r->ntt = calloc(k, sizeof *r->ntt);
    if (!r->ntt) {
        cn_ring_clear(r);
        return CN_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < k; i++) {
        if ((st = cn_ntt_table_init(&r->ntt[i], n, primes[i])) != CN_OK) {
            cn_ring_clear(r);
            return st;
        }
    }
    return CN_OK;
}

/* k rows of the ring's degree, zero-filled or not */
static cn_status poly_alloc(cn_poly_t *a, const cn_ring_t *r, size_t k, int zero)
{
    memset(a, 0, sizeof *a);
    if (k == 0 || k > r->base.k)
        return CN_ERR_INVALID_ARG;
    a->data = zero ? cn_calloc(k * r->n, sizeof *a->data) : cn_alloc(k * r->n, sizeof *a->data);
    if (!a->data)
        return CN_ERR_NO_MEMORY;
    a->n = r->n;
    a->k = k;
    a->form = CN_FORM_COEFF;
    return CN_OK;
}

cn_status cn_poly_init(cn_poly_t *a, const cn_ring_t *r, size_t k)
{
    return poly_alloc(a, r, k, 1);
}

cn_status cn_poly_init_uninit(cn_poly_t *a, const cn_ring_t *r, size_t k)
{
    return poly_alloc(a, r, k, 0);
}

void cn_poly_clear_public(cn_poly_t *a)
{
    if (!a)
        return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

void cn_poly_clear(cn_poly_t *a)
{
    if (!a)
        return;
    if (a->data) {
        cn_wipe(a->data, a->k * a->n * sizeof *a->data);
        free(a->data);
    }
    memset(a, 0, sizeof *a);
}

/* out and a are usable with ring r and have the same shape. */
static cn_status check2(const cn_poly_t *out, const cn_poly_t *a, const cn_ring_t *r)
{
    if (!a->data || !out->data)
        return CN_ERR_INVALID_ARG;
    if (a->n != r->n || out->n != a->n || out->k != a->k || a->k > r->base.k)
        return CN_ERR_SHAPE_MISMATCH;
    return CN_OK;
}

static cn_status check3(const cn_poly_t *out, const cn_poly_t *a, const cn_poly_t *b,
                        const cn_ring_t *r)
{
    cn_status st = check2(out, a, r);
    if (st != CN_OK)
        return st;
    if (!b->data)
        return CN_ERR_INVALID_ARG;
    if (b->n != a->n || b->k != a->k)
        return CN_ERR_SHAPE_MISMATCH;
    if (b->form != a->form)
        return CN_ERR_FORM_MISMATCH;
    return CN_OK;
}

cn_status cn_poly_copy(cn_poly_t *out, const cn_poly_t *a)
{
    if (!a->data || !out->data)
        return CN_ERR_INVALID_ARG;
    if (out->n != a->n || out->k != a->k)
        return CN_ERR_SHAPE_MISMATCH;
    if (out != a)
        memmove(out->data, a->data, a->k * a->n * sizeof *a->data);
    out->form = a->form;
    return CN_OK;
}

void cn_poly_zero(cn_poly_t *a)
{
    memset(a->data, 0, a->k * a->n * sizeof *a->data);
}

cn_status cn_poly_add(cn_poly_t *out, const cn_poly_t *a, const cn_poly_t *b,
                      const cn_ring_t *r)
{
    cn_status st = check3(out, a, b, r);
    if (st != CN_OK)
        return st;
    const size_t n = a->n;
    for (size_t i = 0; i < a->k; i++) {
        const uint64_t p = r->base.q[i];
        const uint64_t *x = a->data + i * n, *y = b->data + i * n;
        uint64_t *z = out->data + i * n;
        for (size_t j = 0; j < n; j++) {
            uint64_t s = x[j] + y[j];
            z[j] = s >= p ? s - p : s;
        }
    }
    out->form = a->form;
    return CN_OK;
}

cn_status cn_poly_sub(cn_poly_t *out, const cn_poly_t *a, const cn_poly_t *b,
                      const cn_ring_t *r)
{
    cn_status st = check3(out, a, b, r);
    if (st != CN_OK)
        return st;
    const size_t n = a->n;
    for (size_t i = 0; i < a->k; i++) {
        const uint64_t p = r->base.q[i];
        const uint64_t *x = a->data + i * n, *y = b->data + i * n;
        uint64_t *z = out->data + i * n;
        for (size_t j = 0; j < n; j++) {
            uint64_t d = x[j] - y[j];
            z[j] = x[j] < y[j] ? d + p : d;
        }
    }
    out->form = a->form;
    return CN_OK;
}

cn_status cn_poly_neg(cn_poly_t *out, const cn_poly_t *a, const cn_ring_t *r)
{
    cn_status st = check2(out, a, r);
    if (st != CN_OK)
        return st;
    const size_t n = a->n;
    for (size_t i = 0; i < a->k; i++) {
        const uint64_t p = r->base.q[i];
        const uint64_t *x = a->data + i * n;
        uint64_t *z = out->data + i * n;
        for (size_t j = 0; j < n; j++)
            z[j] = x[j] ? p - x[j] : 0;
    }
    out->form = a->form;
    return CN_OK;
}

/* Per row: c mod q_i once, then Shoup multiplication of every coefficient. */
cn_status cn_poly_mul_scalar(cn_poly_t *out, const cn_poly_t *a, int64_t c, const cn_ring_t *r)
{
    cn_status st = check2(out, a, r);
    if (st != CN_OK)
        return st;
    const size_t n = a->n;
    for (size_t i = 0; i < a->k; i++) {
        const cn_mod_t m = r->base.mod[i];
        const uint64_t w = cn_mod_from_int64(c, m), ws = cn_mod_shoup(w, m);
        const uint64_t *x = a->data + i * n;
        uint64_t *z = out->data + i * n;
        for (size_t j = 0; j < n; j++)
            z[j] = cn_mod_mul_shoup(x[j], w, ws, m.p);
    }
    out->form = a->form;
    return CN_OK;
}

cn_status cn_poly_mul_ntt(cn_poly_t *out, const cn_poly_t *a, const cn_poly_t *b,
                          const cn_ring_t *r)
{
    cn_status st = check3(out, a, b, r);
    if (st != CN_OK)
        return st;
    if (a->form != CN_FORM_NTT)
        return CN_ERR_FORM_MISMATCH;
    const size_t n = a->n;
    for (size_t i = 0; i < a->k; i++) {
        const cn_mod_t m = r->base.mod[i];
        const uint64_t *x = a->data + i * n, *y = b->data + i * n;
        uint64_t *z = out->data + i * n;
        for (size_t j = 0; j < n; j++)
            z[j] = cn_mod_mul(x[j], y[j], m);
    }
    out->form = CN_FORM_NTT;
    return CN_OK;
}

cn_status cn_poly_mul(cn_poly_t *out, const cn_poly_t *a, const cn_poly_t *b,
                      const cn_ring_t *r)
{
    cn_status st = check3(out, a, b, r);
    if (st != CN_OK)
        return st;
    if (a->form != CN_FORM_COEFF)
        return CN_ERR_FORM_MISMATCH;
    const size_t n = a->n;
    uint64_t *t = cn_alloc(n, sizeof *t);
    if (!t)
        return CN_ERR_NO_MEMORY;
    for (size_t i = 0; i < a->k; i++) {
        const cn_mod_t m = r->base.mod[i];
        const cn_ntt_table_t *tab = &r->ntt[i];
        uint64_t *z = out->data + i * n;
        memcpy(t, b->data + i * n, n * sizeof *t);
        cn_ntt_forward(t, tab);
        if (z != a->data + i * n)
            memcpy(z, a->data + i * n, n * sizeof *z);
        cn_ntt_forward(z, tab);
        for (size_t j = 0; j < n; j++)
            z[j] = cn_mod_mul(z[j], t[j], m);
        cn_ntt_inverse(z, tab);
    }
    cn_wipe(t, n * sizeof *t);
    free(t);
    out->form = CN_FORM_COEFF;
    return CN_OK;
}

/* In-place change of form from `from` to the other one. */
static cn_status change_form(cn_poly_t *a, const cn_ring_t *r, cn_form from)
{
    cn_status st = check2(a, a, r);
    if (st != CN_OK)
        return st;
    if (a->form != from)
        return CN_ERR_FORM_MISMATCH;
    for (size_t i = 0; i < a->k; i++) {
        if (from == CN_FORM_COEFF)
            cn_ntt_forward(a->data + i * a->n, &r->ntt[i]);
        else
            cn_ntt_inverse(a->data + i * a->n, &r->ntt[i]);
    }
    a->form = from == CN_FORM_COEFF ? CN_FORM_NTT : CN_FORM_COEFF;
    return CN_OK;
}

cn_status cn_poly_to_ntt(cn_poly_t *a, const cn_ring_t *r)
{
    return change_form(a, r, CN_FORM_COEFF);
}

cn_status cn_poly_from_ntt(cn_poly_t *a, const cn_ring_t *r)
{
    return change_form(a, r, CN_FORM_NTT);
}

cn_status cn_poly_set_int64(cn_poly_t *a, const int64_t *c, const cn_ring_t *r)
{
    cn_status st = check2(a, a, r);
    if (st != CN_OK)
        return st;
    const size_t n = a->n;
    for (size_t i = 0; i < a->k; i++) {
        const cn_mod_t m = r->base.mod[i];
        uint64_t *z = a->data + i * n;
        for (size_t j = 0; j < n; j++)
            z[j] = cn_mod_from_int64(c[j], m);
    }
    a->form = CN_FORM_COEFF;
    return CN_OK;
}
