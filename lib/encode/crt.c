/* Plaintext CRT: values too large for one plaintext modulus, as residues mod t_1..t_k. */
#include <gmp.h>
#include <stdlib.h>

#include "cryptonets/encode.h"
#include "cryptonets/mpz.h"

cn_status cn_plain_crt_init(cn_plain_crt_t *crt, const uint64_t *t, size_t k)
{
    return cn_rns_base_init(&crt->base, t, k);
}

void cn_plain_crt_clear(cn_plain_crt_t *crt)
{
    cn_rns_base_clear(&crt->base);
}

double cn_plain_crt_log2(const cn_plain_crt_t *crt)
{
    return crt->base.log2_q;
}

void cn_plain_crt_split_i64(uint64_t *const *res, const int64_t *v, size_t count,
                            const cn_plain_crt_t *crt)
{
    for (size_t i = 0; i < crt->base.k; i++)
        for (size_t j = 0; j < count; j++)
            res[i][j] = cn_mod_from_int64(v[j], crt->base.mod[i]);
}

cn_status cn_plain_crt_join_mpz(mpz_t *v, const uint64_t *const *res, size_t count,
                                const cn_plain_crt_t *crt)
{
    const size_t k = crt->base.k;
    uint64_t r[CN_RNS_MAX_PRIMES];
    for (size_t j = 0; j < count; j++) {
        for (size_t i = 0; i < k; i++)
            r[i] = res[i][j];
        cn_status st = cn_rns_compose_mpz(v[j], r, 1, &crt->base);
        if (st != CN_OK)
            return st;
    }
    return CN_OK;
}

cn_status cn_plain_crt_join_i64(int64_t *v, const uint64_t *const *res, size_t count,
                                const cn_plain_crt_t *crt)
{
    const size_t k = crt->base.k;
    uint64_t r[CN_RNS_MAX_PRIMES];
    cn_status st = CN_OK;
    mpz_t x;
    mpz_init(x);
    for (size_t j = 0; j < count && st == CN_OK; j++) {
        for (size_t i = 0; i < k; i++)
            r[i] = res[i][j];
        if ((st = cn_rns_compose_mpz(x, r, 1, &crt->base)) != CN_OK)
            break;
        if (mpz_sizeinbase(x, 2) > 63)
            st = CN_ERR_OUT_OF_RANGE;
        else
            v[j] = (int64_t)mpz_get_si(x);
    }
    mpz_clear(x);
    return st;
}

cn_status cn_plain_crt_join_i128(cn_int128 *v, const uint64_t *const *res, size_t count,
                                 const cn_plain_crt_t *crt)
{
    const size_t k = crt->base.k;
    uint64_t r[CN_RNS_MAX_PRIMES];
    cn_status st = CN_OK;
    mpz_t x, lo;
    mpz_init(x);
    mpz_init(lo);
    for (size_t j = 0; j < count && st == CN_OK; j++) {
        for (size_t i = 0; i < k; i++)
            r[i] = res[i][j];
        if ((st = cn_rns_compose_mpz(x, r, 1, &crt->base)) != CN_OK)
            break;
        if (mpz_sizeinbase(x, 2) > 126) {
            st = CN_ERR_OUT_OF_RANGE;
            break;
        }
        /* |x| < 2^126: two 64-bit halves of |x|, then the sign */
        const int neg = mpz_sgn(x) < 0;
        mpz_abs(x, x);
        mpz_fdiv_r_2exp(lo, x, 64);
        mpz_fdiv_q_2exp(x, x, 64);
        const unsigned __int128 u = ((unsigned __int128)mpz_get_ui(x) << 64) | mpz_get_ui(lo);
        v[j] = neg ? -(cn_int128)u : (cn_int128)u;
    }
    mpz_clear(x);
    mpz_clear(lo);
    return st;
}
