/* ChaCha20 block function, RFC 8439 section 2.3 (D. J. Bernstein, "ChaCha, a variant
 * of Salsa20", 2008). */
#include "chacha20.h"

static inline uint32_t rotl32(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

#define QUARTER(a, b, c, d)                                                    \
    do {                                                                       \
        a += b; d ^= a; d = rotl32(d, 16);                                     \
        c += d; b ^= c; b = rotl32(b, 12);                                     \
        a += b; d ^= a; d = rotl32(d, 8);                                      \
        c += d; b ^= c; b = rotl32(b, 7);                                      \
    } while (0)

static inline void store_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

void cn_chacha20_block(uint8_t out[64], const uint32_t key[8], uint32_t w12, uint32_t w13,
                       uint32_t w14, uint32_t w15)
{
    uint32_t s[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574,
                      key[0], key[1], key[2], key[3], key[4], key[5], key[6], key[7],
                      w12, w13, w14, w15};
    uint32_t x[16];
    for (int i = 0; i < 16; i++)
        x[i] = s[i];
    for (int round = 0; round < 10; round++) {
        QUARTER(x[0], x[4], x[8], x[12]);
        QUARTER(x[1], x[5], x[9], x[13]);
        QUARTER(x[2], x[6], x[10], x[14]);
        QUARTER(x[3], x[7], x[11], x[15]);
        QUARTER(x[0], x[5], x[10], x[15]);
        QUARTER(x[1], x[6], x[11], x[12]);
        QUARTER(x[2], x[7], x[8], x[13]);
        QUARTER(x[3], x[4], x[9], x[14]);
    }
    for (int i = 0; i < 16; i++)
        store_le32(out + 4 * i, x[i] + s[i]);
}

/* GNU C vector extension: four 32-bit lanes, one lane per block; on x86-64 this is SSE2,
 * which every x86-64 CPU has. */
typedef uint32_t u32x4 __attribute__((vector_size(16)));

#define ROTV(x, n) (((x) << (n)) | ((x) >> (32 - (n))))
#define QUARTERV(a, b, c, d)                                                   \
    do {                                                                       \
        a += b; d ^= a; d = ROTV(d, 16);                                       \
        c += d; b ^= c; b = ROTV(b, 12);                                       \
        a += b; d ^= a; d = ROTV(d, 8);                                        \
        c += d; b ^= c; b = ROTV(b, 7);                                        \
    } while (0)

void cn_chacha20_blocks4(uint8_t out[256], const uint32_t key[8], uint64_t ctr, uint32_t w14,
                         uint32_t w15)
{
    u32x4 s[16], x[16];
    static const uint32_t c[4] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
    for (int i = 0; i < 4; i++)
        s[i] = (u32x4){c[i], c[i], c[i], c[i]};
    for (int i = 0; i < 8; i++)
        s[4 + i] = (u32x4){key[i], key[i], key[i], key[i]};
    uint64_t k0 = ctr, k1 = ctr + 1, k2 = ctr + 2, k3 = ctr + 3;
    s[12] = (u32x4){(uint32_t)k0, (uint32_t)k1, (uint32_t)k2, (uint32_t)k3};
    s[13] = (u32x4){(uint32_t)(k0 >> 32), (uint32_t)(k1 >> 32), (uint32_t)(k2 >> 32),
                    (uint32_t)(k3 >> 32)};
    s[14] = (u32x4){w14, w14, w14, w14};
    s[15] = (u32x4){w15, w15, w15, w15};
    for (int i = 0; i < 16; i++)
        x[i] = s[i];
    for (int round = 0; round < 10; round++) {
        QUARTERV(x[0], x[4], x[8], x[12]);
        QUARTERV(x[1], x[5], x[9], x[13]);
        QUARTERV(x[2], x[6], x[10], x[14]);
        QUARTERV(x[3], x[7], x[11], x[15]);
        QUARTERV(x[0], x[5], x[10], x[15]);
        QUARTERV(x[1], x[6], x[11], x[12]);
        QUARTERV(x[2], x[7], x[8], x[13]);
        QUARTERV(x[3], x[4], x[9], x[14]);
    }
    for (int i = 0; i < 16; i++) {
        u32x4 v = x[i] + s[i];
        for (int b = 0; b < 4; b++)
            store_le32(out + 64 * b + 4 * i, v[b]);
    }
}
