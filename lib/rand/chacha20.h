/* Internal: the ChaCha20 block function (RFC 8439, section 2.3). */
#ifndef CN_RAND_CHACHA20_H
#define CN_RAND_CHACHA20_H

#include <stdint.h>

/* out = serialized ChaCha20 block for state words 12..15 = (w12, w13, w14, w15):
 * RFC 8439 uses w12 = block counter and w13..w15 = the 96-bit nonce. */
void cn_chacha20_block(uint8_t out[64], const uint32_t key[8], uint32_t w12, uint32_t w13,
                       uint32_t w14, uint32_t w15);

/* out = the four consecutive blocks with 64-bit counters ctr .. ctr + 3 (words 12 and 13,
 * low and high) and words 14, 15 = (w14, w15): 256 bytes, the same as four calls of
 * cn_chacha20_block. Four blocks run side by side in 128-bit vectors. */
void cn_chacha20_blocks4(uint8_t out[256], const uint32_t key[8], uint64_t ctr, uint32_t w14,
                         uint32_t w15);

#endif
