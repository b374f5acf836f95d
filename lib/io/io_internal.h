/* Internal: byte streams (buffer or FILE) with a running checksum, headers, and the
 * packing of residues to their bit width. */
#ifndef CN_IO_INTERNAL_H
#define CN_IO_INTERNAL_H

#include "../bfv/bfv_internal.h"
#include "cryptonets/io.h"

/* The checksum: a 64-bit multiply-rotate hash over the bytes, taken as little-endian
 * 64-bit words (the last one zero-padded), finished with the byte count and a final
 * avalanche (docs/format.md gives the exact steps). It detects corruption; it is not a
 * MAC and proves nothing about who wrote the bytes. */
typedef struct {
    uint64_t h, word, total;
    unsigned nb; /* bytes in word */
} cn_hash_t;

void cn_hash_init(cn_hash_t *s);
void cn_hash_update(cn_hash_t *s, const uint8_t *p, size_t n);
uint64_t cn_hash_final(const cn_hash_t *s);

typedef struct {
    uint8_t *buf; /* buffer sink, or NULL with f */
    size_t cap, pos;
    FILE *f;
    cn_hash_t hs;
    cn_status err; /* first error; later writes do nothing */
    int nohash;    /* 1: the checksum is computed elsewhere (the streaming batch writer) */
} cn_wr_t;

typedef struct {
    const uint8_t *buf; /* buffer source, or NULL with f */
    size_t len, pos;
    FILE *f;
    cn_hash_t hs;
    uint64_t limit;    /* bytes the header declares before the checksum */
    uint64_t consumed; /* bytes read so far (header included) */
    cn_status err;
    int defer_seed; /* leave seeded ciphertexts unexpanded (CN_IO_DEFER_SEED) */
} cn_rd_t;

void cn_wr_bytes(cn_wr_t *w, const void *p, size_t n);
void cn_wr_u32(cn_wr_t *w, uint32_t v);
void cn_wr_u64(cn_wr_t *w, uint64_t v);
/* The first 8 floor(n / 8) of n values below 2^bits (8 <= bits <= 57) packed into dst
 * (bits bytes per eight values) with AVX-512 VBMI (lib/io/pack_avx512.c); returns how
 * many values. Only where the CPU has VBMI (stream.c checks). */
size_t cn_io_pack8_vbmi(uint8_t *dst, const uint64_t *v, size_t n, unsigned bits);
/* n values below 2^bits, packed LSB first, the run padded with zero bits to a byte. */
void cn_wr_packed(cn_wr_t *w, const uint64_t *v, size_t n, unsigned bits);
/* the header, with the total length and fingerprint */
void cn_wr_header(cn_wr_t *w, cn_io_type type, unsigned flags, uint32_t count, uint64_t total,
                  uint64_t fingerprint);
/* the checksum of everything written so far */
void cn_wr_trailer(cn_wr_t *w);

void cn_rd_bytes(cn_rd_t *r, void *p, size_t n);
uint32_t cn_rd_u32(cn_rd_t *r);
uint64_t cn_rd_u64(cn_rd_t *r);
/* n packed values of `bits` bits; each must be below bound and the padding zero
 * (CN_ERR_FORMAT otherwise). */
void cn_rd_packed(cn_rd_t *r, uint64_t *v, size_t n, unsigned bits, uint64_t bound);
/* Reads and checks the header: magic, version, type, reserved flag bits beyond
 * allowed_flags, and (when ctx) the fingerprint; sets the limit from the total length
 * (which, for a buffer, must equal the buffer's length). */
void cn_rd_header(cn_rd_t *r, cn_io_header_t *h, cn_io_type type, unsigned allowed_flags,
                  const cn_bfv_context_t *ctx);
/* Reads the checksum and checks it and that exactly the declared length was used. */
void cn_rd_trailer(cn_rd_t *r);
static inline void cn_rd_fail(cn_rd_t *r, cn_status st)
{
    if (r->err == CN_OK)
        r->err = st;
}

/* bits of the packed form of values below m: the bit length of m - 1 (at least 1) */
static inline unsigned cn_io_bits(uint64_t m)
{
    return m <= 2 ? 1 : 64 - (unsigned)__builtin_clzll(m - 1);
}
/* bytes of n packed values of `bits` bits */
static inline size_t cn_io_packed_bytes(size_t n, unsigned bits)
{
    return (n * bits + 7) / 8;
}

#endif
