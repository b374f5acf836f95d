/* Internal: the big-integer constants of an RNS base. */
#ifndef CN_RNS_INTERNAL_H
#define CN_RNS_INTERNAL_H

#include <gmp.h>

#include "cryptonets/rns.h"

struct cn_rns_big_s {
    mpz_t Q;      /* q_1 ... q_k */
    mpz_t half;   /* floor(Q / 2) */
    mpz_t *qhat;  /* [k] Q / q_i */
};

#endif
