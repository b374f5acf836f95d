/* Internal: direct access to the generator's keystream buffer for the samplers. */
#ifndef CN_RAND_RNG_INTERNAL_H
#define CN_RAND_RNG_INTERNAL_H

#include <string.h>

#include "cryptonets/rand.h"

/* Fills buf with the next eight keystream blocks and sets pos to 0. */
void cn_rng_refill(cn_rng_t *r);

/* The next nb <= 8 keystream bytes as a little-endian integer; consumed bytes are
 * zeroed in the buffer. */
static inline uint64_t cn_rng_take(cn_rng_t *r, unsigned nb)
{
    uint64_t v = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (r->pos + 8 <= sizeof r->buf) {
        memcpy(&v, r->buf + r->pos, 8);
        memset(r->buf + r->pos, 0, nb);
        r->pos += nb;
        return nb == 8 ? v : v & (((uint64_t)1 << (8 * nb)) - 1);
    }
#endif
    for (unsigned i = 0; i < nb; i++) {
        if (r->pos == sizeof r->buf)
            cn_rng_refill(r);
        v |= (uint64_t)r->buf[r->pos] << (8 * i);
        r->buf[r->pos++] = 0;
    }
    return v;
}

#endif
