/* Samplers: uniform mod q (rejection), ternary and centered binomial (branch-free). */
#include <string.h>

#include "cryptonets/rand.h"
#include "../internal/mem.h"
#include "rng_internal.h"
#include "sample_kernels.h"
#include "../internal/endian.h"

/* Candidates drawn from the stream at a time: every candidate drawn is examined (at most
 * as many as values still needed), so the stream is consumed exactly as one candidate at
 * a time would consume it. */
#define CHUNK 2048

/* Each candidate is the next ceil(bits / 8) keystream bytes, little-endian, masked to
 * `bits` = the bit length of q - 1, and rejected when >= q (acceptance > 1/2). This
 * fixes how a seed expands into a uniform polynomial (seeded ciphertexts rely on it). */
void cn_sample_uniform(uint64_t *out, size_t n, uint64_t q, cn_rng_t *r)
{
    unsigned bits = q <= 1 ? 1 : 64 - (unsigned)__builtin_clzll(q - 1);
    uint64_t mask = bits >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << bits) - 1;
    const unsigned nb = (bits + 7) / 8;
    const cn_uniform_accept_fn accept = cn_rand_uniform_accept_kernel();
    uint8_t buf[CHUNK * 8 + CN_SAMPLE_PAD] = {0};
    for (size_t filled = 0; filled < n;) {
        const size_t m = n - filled < CHUNK ? n - filled : CHUNK;
        cn_rng_bytes(r, buf, m * nb);
        filled += accept(out + filled, buf, m, nb, mask, q);
    }
    cn_wipe(buf, sizeof buf);
}

size_t cn_uniform_accept_portable(uint64_t *out, const uint8_t *buf, size_t m, unsigned nb,
                                  uint64_t mask, uint64_t q)
{
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        const uint64_t v = cn_load_le64(buf + i * nb) & mask;
        out[k] = v; /* k <= i < m: in bounds; kept only when accepted */
        k += v < q;
    }
    return k;
}

/* SWAR population count of a 64-bit word (no table, no branch). */
static inline uint64_t popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (x * 0x0101010101010101ULL) >> 56;
}

void cn_sample_ternary(int64_t *out, size_t n, cn_rng_t *r)
{
    uint8_t buf[64];
    size_t have = 0, used = 0;
    for (size_t i = 0; i < n;) {
        if (used == have) {
            cn_rng_bytes(r, buf, sizeof buf);
            have = sizeof buf;
            used = 0;
        }
        uint32_t b = buf[used++];
        /* 255 is rejected so that 0..254 (85 * 3 values) map evenly; whether a byte is
         * rejected does not depend on the value kept */
        if (b == 255)
            continue;
        uint32_t q3 = (b * 171u) >> 9; /* floor(b / 3) for b < 256 */
        out[i++] = (int64_t)(b - 3 * q3) - 1;
    }
    cn_wipe(buf, sizeof buf);
}

void cn_cbd_portable(int64_t *out, const uint8_t *buf, size_t m)
{
    const uint64_t mask = ((uint64_t)1 << CN_CBD_ETA) - 1;
    for (size_t i = 0; i < m; i++) {
        const uint64_t x = cn_load_le64(buf + 6 * i); /* 2 * 21 = 42 bits used of 48 */
        out[i] = (int64_t)popcount64(x & mask) - (int64_t)popcount64((x >> CN_CBD_ETA) & mask);
    }
}

/* Six keystream bytes per value, in order (the stream as cn_rng_take(r, 6) per value
 * would consume it). */
void cn_sample_cbd(int64_t *out, size_t n, cn_rng_t *r)
{
    const cn_cbd_fn cbd = cn_rand_cbd_kernel();
    uint8_t buf[CHUNK * 6 + CN_SAMPLE_PAD] = {0};
    for (size_t i = 0; i < n;) {
        const size_t m = n - i < CHUNK ? n - i : CHUNK;
        cn_rng_bytes(r, buf, 6 * m);
        cbd(out + i, buf, m);
        i += m;
    }
    cn_wipe(buf, sizeof buf);
}
