/* Internal: direct access to the generator's keystream buffer for the samplers. */
#ifndef CN_RAND_RNG_INTERNAL_H
#define CN_RAND_RNG_INTERNAL_H

#include <string.h>

#include "cryptonets/rand.h"

/* The state behind the opaque cn_rng_t: a ChaCha20 keystream (Bernstein's layout). */
typedef struct {
    uint32_t key[8];
    uint32_t nonce[2]; /* words 14, 15 of the ChaCha state */
    uint64_t counter;  /* 64-bit block counter: words 12 (low) and 13 (high) */
    uint8_t buf[512];  /* current keystream: eight blocks */
    unsigned pos;      /* bytes of buf already used (512: empty) */
    unsigned kind;     /* how it was seeded */
} cn_rng_state_t;

_Static_assert(sizeof(cn_rng_state_t) <= sizeof(cn_rng_t), "CN_RNG_STATE_BYTES too small");
_Static_assert(_Alignof(cn_rng_state_t) <= _Alignof(cn_rng_t), "cn_rng_t underaligned");

static inline cn_rng_state_t *cn_rng_state(cn_rng_t *r)
{
    return (cn_rng_state_t *)(void *)r;
}
static inline const cn_rng_state_t *cn_rng_cstate(const cn_rng_t *r)
{
    return (const cn_rng_state_t *)(const void *)r;
}

/* Fills buf with the next eight keystream blocks and sets pos to 0. */
void cn_rng_refill(cn_rng_t *r);

/* The next nb <= 8 keystream bytes as a little-endian integer; consumed bytes are
 * zeroed in the buffer. */
static inline uint64_t cn_rng_take(cn_rng_t *rng, unsigned nb)
{
    cn_rng_state_t *r = cn_rng_state(rng);
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
            cn_rng_refill(rng);
        v |= (uint64_t)r->buf[r->pos] << (8 * i);
        r->buf[r->pos++] = 0;
    }
    return v;
}

#endif
