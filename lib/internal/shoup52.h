/* Internal: 52-bit Shoup constants, the tables of the 52-bit (IFMA) kernels of lib/ntt,
 * lib/rns and lib/bfv. Plain C: the table builders include it. */
#ifndef CN_INTERNAL_SHOUP52_H
#define CN_INTERNAL_SHOUP52_H

#include <stddef.h>

#include "cryptonets/arith.h"

/* Moduli below this bound take the 52-bit kernels: lazy values below 4p stay below 2^52. */
#define CN_SHOUP52_BOUND ((uint64_t)1 << 50)

/* floor(w 2^52 / p) for w < p < 2^50 (Shoup's constant with the word size 2^52; Harvey,
 * J. Symb. Comp. 2014). */
static inline uint64_t cn_shoup52(uint64_t w, uint64_t p)
{
    return (uint64_t)(((cn_u128)w << 52) / p);
}

/* 1 when every one of the k moduli m[i] is below 2^50. */
static inline int cn_all_below_shoup52(const uint64_t *m, size_t k)
{
    for (size_t i = 0; i < k; i++)
        if (m[i] >= CN_SHOUP52_BOUND)
            return 0;
    return 1;
}

#endif
