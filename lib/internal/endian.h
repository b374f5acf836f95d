/* Little-endian loads and stores of 32- and 64-bit words at any alignment: the byte order
 * of every format this library reads and writes (docs/format.md), whatever the host's.
 * On a little-endian host each is one unaligned load or store. */
#ifndef CN_INTERNAL_ENDIAN_H
#define CN_INTERNAL_ENDIAN_H

#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CN_LITTLE_ENDIAN 1
#else
#define CN_LITTLE_ENDIAN 0
#endif

static inline uint64_t cn_load_le64(const uint8_t *p)
{
    uint64_t v = 0;
#if CN_LITTLE_ENDIAN
    memcpy(&v, p, 8); /* memory order is the little-endian value */
#else
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
#endif
    return v;
}

static inline uint32_t cn_load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void cn_store_le64(uint8_t *p, uint64_t v)
{
#if CN_LITTLE_ENDIAN
    memcpy(p, &v, 8); /* the word's memory is its little-endian serialization */
#else
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (uint8_t)v;
#endif
}

static inline void cn_store_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

#endif
