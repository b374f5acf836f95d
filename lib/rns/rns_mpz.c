/* Big-integer <-> RNS conversions (GMP). */
#include "cryptonets/mpz.h"
#include "rns_internal.h"

void cn_rns_base_modulus_mpz(mpz_t Q, const cn_rns_base_t *b)
{
    mpz_set(Q, b->big->Q);
}

void cn_rns_decompose_mpz(uint64_t *res, size_t stride, const mpz_t x, const cn_rns_base_t *b)
{
    for (size_t i = 0; i < b->k; i++)
        res[i * stride] = mpz_fdiv_ui(x, b->q[i]); /* in [0, q_i) for either sign */
}

/* CRT: x = sum_i [r_i (Q/q_i)^-1]_{q_i} (Q/q_i) mod Q, then centered. */
cn_status cn_rns_compose_mpz(mpz_t x, const uint64_t *res, size_t stride,
                             const cn_rns_base_t *b)
{
    for (size_t i = 0; i < b->k; i++)
        if (res[i * stride] >= b->q[i])
            return CN_ERR_OUT_OF_RANGE;
    mpz_set_ui(x, 0);
    for (size_t i = 0; i < b->k; i++) {
        uint64_t y =
            cn_mod_mul_shoup(res[i * stride], b->qhat_inv[i], b->qhat_inv_s[i], b->q[i]);
        mpz_addmul_ui(x, b->big->qhat[i], y);
    }
    mpz_mod(x, x, b->big->Q);
    if (mpz_cmp(x, b->big->half) > 0)
        mpz_sub(x, x, b->big->Q);
    return CN_OK;
}
