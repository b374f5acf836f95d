/* RNS polynomials <-> big-integer coefficients (GMP). */
#include "cryptonets/mpz.h"

cn_status cn_poly_set_mpz(cn_poly_t *a, const mpz_t *c, const cn_ring_t *r)
{
    if (!a->data)
        return CN_ERR_INVALID_ARG;
    if (a->n != r->n || a->k > r->base.k)
        return CN_ERR_SHAPE_MISMATCH;
    const size_t n = a->n;
    for (size_t i = 0; i < a->k; i++)
        for (size_t j = 0; j < n; j++)
            a->data[i * n + j] = mpz_fdiv_ui(c[j], r->base.q[i]);
    a->form = CN_FORM_COEFF;
    return CN_OK;
}

/* Over a prefix of the ring's primes the CRT constants differ, so a base of the first
 * k primes is built for the call (this is not a hot path). */
cn_status cn_poly_get_mpz(mpz_t *c, const cn_poly_t *a, const cn_ring_t *r)
{
    if (!a->data)
        return CN_ERR_INVALID_ARG;
    if (a->n != r->n || a->k > r->base.k)
        return CN_ERR_SHAPE_MISMATCH;
    if (a->form != CN_FORM_COEFF)
        return CN_ERR_FORM_MISMATCH;
    cn_rns_base_t sub;
    const cn_rns_base_t *b = &r->base;
    cn_status st = CN_OK;
    if (a->k < r->base.k) {
        if ((st = cn_rns_base_init(&sub, r->base.q, a->k)) != CN_OK)
            return st;
        b = &sub;
    }
    for (size_t j = 0; j < a->n && st == CN_OK; j++)
        st = cn_rns_compose_mpz(c[j], a->data + j, a->n, b);
    if (b == &sub)
        cn_rns_base_clear(&sub);
    return st;
}
