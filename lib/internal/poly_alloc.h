/* Internal: allocation of polynomials that hold public data only (ciphertexts), where
 * zero-filling and wiping are wasted work. */
#ifndef CN_INTERNAL_POLY_ALLOC_H
#define CN_INTERNAL_POLY_ALLOC_H

#include "cryptonets/poly.h"

/* As cn_poly_init, but the coefficients are left uninitialized: the caller writes every
 * one before any is read. */
cn_status cn_poly_init_uninit(cn_poly_t *a, const cn_ring_t *r, size_t k);
/* As cn_poly_clear without the wipe: for public data only. */
void cn_poly_clear_public(cn_poly_t *a);

#endif
