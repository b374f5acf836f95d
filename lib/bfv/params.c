/* BFV parameter validation and defaults. */
#include <math.h>
#include <string.h>

#include "cryptonets/arith.h"
#include "cryptonets/params.h"

/* HomomorphicEncryption.org standard (2018), ternary secret, classical cost:
 * the largest log2(q) for n = 1024 .. 32768 at 128, 192 and 256 bits. */
static const unsigned he_std_table[3][6] = {
    {27, 54, 109, 218, 438, 881},
    {19, 37, 75, 152, 305, 611},
    {14, 29, 58, 118, 237, 476},
};

unsigned cn_security_max_log_q(size_t n, cn_security sec)
{
    int row;
    switch (sec) {
    case CN_SEC_128:
        row = 0;
        break;
    case CN_SEC_192:
        row = 1;
        break;
    case CN_SEC_256:
        row = 2;
        break;
    default:
        return 0;
    }
    for (int col = 0; col < 6; col++)
        if (n == ((size_t)1024 << col))
            return he_std_table[row][col];
    return 0;
}

double cn_bfv_params_log_qp(const cn_bfv_params_t *prm)
{
    double l = 0;
    for (size_t i = 0; i < prm->nq && i < CN_BFV_MAX_Q; i++)
        l += log2((double)prm->q[i]);
    if (prm->p)
        l += log2((double)prm->p);
    return l;
}

int cn_bfv_plain_batching(uint64_t t, size_t n)
{
    return t >= 3 && (t - 1) % (2 * (uint64_t)n) == 0 && cn_is_prime(t);
}

/* a ciphertext-side prime: below 2^61, prime, 1 mod 2n */
static cn_status check_prime(uint64_t q, size_t n)
{
    if (q < 2)
        return CN_ERR_NOT_PRIME;
    if (q >> CN_MOD_MAX_BITS)
        return CN_ERR_MODULUS_TOO_LARGE;
    if (!cn_is_prime(q))
        return CN_ERR_NOT_PRIME;
    if ((q - 1) % (2 * (uint64_t)n) != 0)
        return CN_ERR_NOT_NTT_FRIENDLY;
    return CN_OK;
}

cn_status cn_bfv_params_validate(const cn_bfv_params_t *prm)
{
    cn_status st;
    const size_t n = prm->n;
    if (n < CN_BFV_MIN_N || n > CN_BFV_MAX_N || (n & (n - 1)) != 0)
        return CN_ERR_NOT_POWER_OF_TWO;
    if (prm->nq < 1 || prm->nq > CN_BFV_MAX_Q || prm->nt < 1 || prm->nt > CN_BFV_MAX_T)
        return CN_ERR_INVALID_ARG;
    if (prm->security != CN_SEC_128 && prm->security != CN_SEC_192 &&
        prm->security != CN_SEC_256 && prm->security != CN_SEC_NONE_INSECURE)
        return CN_ERR_INVALID_ARG;
    uint64_t qmin = UINT64_MAX;
    for (size_t i = 0; i < prm->nq; i++) {
        if ((st = check_prime(prm->q[i], n)) != CN_OK)
            return st;
        for (size_t j = 0; j < i; j++)
            if (prm->q[j] == prm->q[i])
                return CN_ERR_MODULI_NOT_DISTINCT;
        if (prm->q[i] < qmin)
            qmin = prm->q[i];
    }
    if (prm->p) {
        if ((st = check_prime(prm->p, n)) != CN_OK)
            return st;
        for (size_t i = 0; i < prm->nq; i++)
            if (prm->q[i] == prm->p)
                return CN_ERR_MODULI_NOT_DISTINCT;
    }
    for (size_t k = 0; k < prm->nt; k++) {
        uint64_t t = prm->t[k];
        if (t < 2 || t >= qmin / 2)
            return CN_ERR_PLAIN_MODULUS;
        for (size_t i = 0; i < prm->nq; i++)
            if (t % prm->q[i] == 0)
                return CN_ERR_PLAIN_MODULUS;
        if (prm->p && t % prm->p == 0)
            return CN_ERR_PLAIN_MODULUS;
    }
    if (prm->security != CN_SEC_NONE_INSECURE) {
        unsigned bound = cn_security_max_log_q(n, prm->security);
        if (bound == 0 || cn_bfv_params_log_qp(prm) > (double)bound)
            return CN_ERR_INSECURE;
    }
    return CN_OK;
}

size_t cn_bfv_params_max_primes(size_t n, unsigned qbits, unsigned pbits, cn_security sec)
{
    unsigned bound = cn_security_max_log_q(n, sec);
    if (bound == 0 || qbits == 0 || pbits > bound)
        return 0;
    /* primes of b bits are below 2^b: count with b bits each, a safe upper estimate */
    size_t k = (bound - pbits) / qbits;
    return k > CN_BFV_MAX_Q ? CN_BFV_MAX_Q : k;
}

cn_status cn_bfv_params_default(cn_bfv_params_t *prm, size_t n, size_t nq, unsigned qbits,
                                unsigned pbits, size_t nt, unsigned tbits, cn_security sec)
{
    cn_status st;
    memset(prm, 0, sizeof *prm);
    if (n < CN_BFV_MIN_N || n > CN_BFV_MAX_N || (n & (n - 1)) != 0)
        return CN_ERR_NOT_POWER_OF_TWO;
    if (nq < 1 || nq > CN_BFV_MAX_Q || nt < 1 || nt > CN_BFV_MAX_T || qbits < 2 ||
        qbits > CN_MOD_MAX_BITS || pbits > CN_MOD_MAX_BITS || (pbits != 0 && pbits < 2) ||
        tbits < 2 || tbits > CN_MOD_MAX_BITS)
        return CN_ERR_INVALID_ARG;
    prm->n = n;
    prm->nq = nq;
    prm->nt = nt;
    prm->security = sec;
    if (pbits) {
        if ((st = cn_primes_ntt(&prm->p, 1, pbits, n, NULL, 0, 1)) != CN_OK)
            return st;
    }
    if ((st = cn_primes_ntt(prm->q, nq, qbits, n, prm->p ? &prm->p : NULL, prm->p ? 1 : 0,
                            1)) != CN_OK)
        return st;
    if ((st = cn_primes_ntt(prm->t, nt, tbits, n, NULL, 0, 0)) != CN_OK)
        return CN_ERR_PLAIN_MODULUS;
    return cn_bfv_params_validate(prm);
}
