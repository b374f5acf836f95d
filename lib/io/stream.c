/* Byte streams with a running checksum, headers and bit packing for lib/io. */
#include <string.h>

#include "../internal/cpu.h"
#include "../internal/mem.h"
#include "io_internal.h"
#include "../internal/endian.h"

#define H_SEED 0x243f6a8885a308d3ULL
#define H_K1 0x9e3779b97f4a7c15ULL
#define H_K2 0xc2b2ae3d27d4eb4fULL

static inline uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t mix_word(uint64_t h, uint64_t w)
{
    return rotl64(h ^ (w * H_K1), 31) * H_K2;
}

void cn_hash_init(cn_hash_t *s)
{
    s->h = H_SEED;
    s->word = 0;
    s->total = 0;
    s->nb = 0;
}

void cn_hash_update(cn_hash_t *s, const uint8_t *p, size_t n)
{
    s->total += n;
    while (n && s->nb) { /* finish a partial word */
        s->word |= (uint64_t)*p++ << (8 * s->nb);
        n--;
        if (++s->nb == 8) {
            s->h = mix_word(s->h, s->word);
            s->word = 0;
            s->nb = 0;
        }
    }
    /* the state in a local: p may alias s, so a store per word would otherwise stay */
    uint64_t h = s->h;
    for (; n >= 8; n -= 8, p += 8)
        h = mix_word(h, cn_load_le64(p));
    s->h = h;
    for (; n; n--)
        s->word |= (uint64_t)*p++ << (8 * s->nb++);
}

uint64_t cn_hash_final(const cn_hash_t *s)
{
    uint64_t h = s->nb ? mix_word(s->h, s->word) : s->h;
    h ^= s->total;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* ---- writing ----------------------------------------------------------------- */

void cn_wr_bytes(cn_wr_t *w, const void *p, size_t n)
{
    if (w->err != CN_OK || n == 0)
        return;
    if (!w->nohash)
        cn_hash_update(&w->hs, p, n);
    if (w->f) {
        if (fwrite(p, 1, n, w->f) != n)
            w->err = CN_ERR_IO;
        return;
    }
    if (n > w->cap - w->pos) {
        w->err = CN_ERR_OUT_OF_RANGE;
        return;
    }
    memcpy(w->buf + w->pos, p, n);
    w->pos += n;
}

void cn_wr_u32(cn_wr_t *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    cn_wr_bytes(w, b, 4);
}

void cn_wr_u64(cn_wr_t *w, uint64_t v)
{
    uint8_t b[8];
    cn_store_le64(b, v);
    cn_wr_bytes(w, b, 8);
}

#ifdef CN_BUILD_AVX512
/* the VBMI packer where the CPU has it (and CN_SIMD and the build allow AVX-512) */
static int pack_vbmi;
static void pick_pack(void)
{
    pack_vbmi = (cn_cpu_features() & CN_CPU_AVX512F) && __builtin_cpu_supports("avx512vbmi");
}
#endif

/* dst = the n values below 2^bits packed LSB first, cn_io_packed_bytes(n, bits) bytes
 * (the last byte padded with zero bits): whole 64-bit words while a word is full, then
 * the rest byte by byte. */
static void pack_run(uint8_t *dst, const uint64_t *v, size_t n, unsigned bits)
{
    size_t i = 0;
#ifdef CN_BUILD_AVX512
    CN_ONCE(pick_pack);
    if (pack_vbmi && bits >= 8 && bits <= 57) { /* groups of eight: a byte-aligned run */
        i = cn_io_pack8_vbmi(dst, v, n, bits);
        dst += i / 8 * bits;
    }
#endif
    cn_u128 acc = 0; /* pending bits, LSB first: fewer than 64 between values */
    unsigned have = 0;
    for (; i < n; i++) {
        acc |= (cn_u128)v[i] << have;
        have += bits;
        if (have >= 64) {
            cn_store_le64(dst, (uint64_t)acc);
            dst += 8;
            acc >>= 64;
            have -= 64;
        }
    }
    for (; have > 0; have = have > 8 ? have - 8 : 0, acc >>= 8)
        *dst++ = (uint8_t)acc;
}

void cn_wr_packed(cn_wr_t *w, const uint64_t *v, size_t n, unsigned bits)
{
    if (w->err != CN_OK)
        return;
    const size_t len = cn_io_packed_bytes(n, bits);
    if (!w->f) { /* straight into the buffer */
        if (len > w->cap - w->pos) {
            w->err = CN_ERR_OUT_OF_RANGE;
            return;
        }
        uint8_t *dst = w->buf + w->pos;
        pack_run(dst, v, n, bits);
        if (!w->nohash)
            cn_hash_update(&w->hs, dst, len);
        w->pos += len;
        return;
    }
    /* a file: through a chunk, 8 values at a time (8 values fill exactly `bits` bytes) */
    uint8_t chunk[4096];
    const size_t step = 8 * (sizeof chunk / bits);
    for (size_t i = 0; i < n; i += step) {
        const size_t m = n - i < step ? n - i : step;
        pack_run(chunk, v + i, m, bits);
        cn_wr_bytes(w, chunk, cn_io_packed_bytes(m, bits));
    }
}

void cn_wr_header(cn_wr_t *w, cn_io_type type, unsigned flags, uint32_t count, uint64_t total,
                  uint64_t fingerprint)
{
    uint8_t h[CN_IO_HEADER_BYTES] = {0};
    memcpy(h, CN_IO_MAGIC, 4);
    h[4] = CN_IO_VERSION_MAJOR;
    h[6] = CN_IO_VERSION_MINOR;
    h[8] = (uint8_t)type;
    h[9] = (uint8_t)(type >> 8);
    h[10] = (uint8_t)flags;
    h[11] = (uint8_t)(flags >> 8);
    for (int i = 0; i < 4; i++)
        h[12 + i] = (uint8_t)(count >> (8 * i));
    cn_store_le64(h + 16, total);
    cn_store_le64(h + 24, fingerprint);
    cn_wr_bytes(w, h, sizeof h);
}

void cn_wr_trailer(cn_wr_t *w)
{
    uint8_t b[8];
    cn_store_le64(b, cn_hash_final(&w->hs));
    if (w->err != CN_OK)
        return;
    /* the checksum itself is not hashed */
    cn_hash_t keep = w->hs;
    cn_wr_bytes(w, b, 8);
    w->hs = keep;
}

/* ---- reading ----------------------------------------------------------------- */

void cn_rd_bytes(cn_rd_t *r, void *p, size_t n)
{
    if (r->err != CN_OK) {
        memset(p, 0, n);
        return;
    }
    if (r->limit && n > r->limit - r->consumed) {
        /* the body runs past the length the header declares */
        r->err = CN_ERR_FORMAT;
        memset(p, 0, n);
        return;
    }
    if (r->f) {
        size_t got = fread(p, 1, n, r->f);
        if (got != n) {
            r->err = ferror(r->f) ? CN_ERR_IO : CN_ERR_TRUNCATED;
            memset(p, 0, n);
            return;
        }
    } else {
        if (n > r->len - r->pos) {
            r->err = CN_ERR_TRUNCATED;
            memset(p, 0, n);
            return;
        }
        memcpy(p, r->buf + r->pos, n);
        r->pos += n;
    }
    r->consumed += n;
    cn_hash_update(&r->hs, p, n);
}

uint32_t cn_rd_u32(cn_rd_t *r)
{
    uint8_t b[4];
    cn_rd_bytes(r, b, 4);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

uint64_t cn_rd_u64(cn_rd_t *r)
{
    uint8_t b[8];
    cn_rd_bytes(r, b, 8);
    return cn_load_le64(b);
}

void cn_rd_packed(cn_rd_t *r, uint64_t *v, size_t n, unsigned bits, uint64_t bound)
{
    uint8_t chunk[4096];
    size_t left = cn_io_packed_bytes(n, bits), avail = 0, at = 0;
    const uint64_t mask = bits >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << bits) - 1;
    cn_u128 acc = 0;
    unsigned have = 0;
    for (size_t i = 0; i < n; i++) {
        while (have < bits) {
            if (at == avail) {
                avail = left < sizeof chunk ? left : sizeof chunk;
                cn_rd_bytes(r, chunk, avail);
                left -= avail;
                at = 0;
                if (r->err != CN_OK) {
                    memset(v, 0, n * sizeof *v);
                    return;
                }
            }
            acc |= (cn_u128)chunk[at++] << have;
            have += 8;
        }
        v[i] = (uint64_t)acc & mask;
        acc >>= bits;
        have -= bits;
        if (v[i] >= bound)
            cn_rd_fail(r, CN_ERR_FORMAT);
    }
    if (acc != 0) /* padding bits must be zero: one encoding per object */
        cn_rd_fail(r, CN_ERR_FORMAT);
    cn_wipe(chunk, sizeof chunk);
}

static cn_status parse_header(cn_io_header_t *h, const uint8_t *b)
{
    if (memcmp(b, CN_IO_MAGIC, 4) != 0)
        return CN_ERR_FORMAT;
    h->major = (unsigned)b[4] | (unsigned)b[5] << 8;
    h->minor = (unsigned)b[6] | (unsigned)b[7] << 8;
    h->type = (cn_io_type)((unsigned)b[8] | (unsigned)b[9] << 8);
    h->flags = (unsigned)b[10] | (unsigned)b[11] << 8;
    h->count =
        (uint32_t)b[12] | (uint32_t)b[13] << 8 | (uint32_t)b[14] << 16 | (uint32_t)b[15] << 24;
    h->total_length = cn_load_le64(b + 16);
    h->fingerprint = cn_load_le64(b + 24);
    if (h->major > CN_IO_VERSION_MAJOR)
        return CN_ERR_VERSION;
    if (h->major == 0)
        return CN_ERR_FORMAT;
    return CN_OK;
}

cn_status cn_io_peek_header(cn_io_header_t *h, const uint8_t *buf, size_t len)
{
    memset(h, 0, sizeof *h);
    if (len < CN_IO_HEADER_BYTES)
        return CN_ERR_TRUNCATED;
    return parse_header(h, buf);
}

void cn_rd_header(cn_rd_t *r, cn_io_header_t *h, cn_io_type type, unsigned allowed_flags,
                  const cn_bfv_context_t *ctx)
{
    uint8_t b[CN_IO_HEADER_BYTES];
    memset(h, 0, sizeof *h);
    cn_rd_bytes(r, b, sizeof b);
    if (r->err != CN_OK)
        return;
    cn_status st = parse_header(h, b);
    if (st != CN_OK) {
        cn_rd_fail(r, st);
        return;
    }
    if (h->type != type || (h->flags & ~allowed_flags) != 0 ||
        h->total_length < CN_IO_HEADER_BYTES + CN_IO_TRAILER_BYTES) {
        cn_rd_fail(r, CN_ERR_FORMAT);
        return;
    }
    if (!r->f && h->total_length != r->len) {
        cn_rd_fail(r, h->total_length > r->len ? CN_ERR_TRUNCATED : CN_ERR_FORMAT);
        return;
    }
    if (ctx && h->fingerprint != cn_bfv_context_fingerprint(ctx)) {
        cn_rd_fail(r, CN_ERR_CONTEXT_MISMATCH);
        return;
    }
    r->limit = h->total_length - CN_IO_TRAILER_BYTES;
}

void cn_rd_trailer(cn_rd_t *r)
{
    if (r->err != CN_OK)
        return;
    if (r->consumed != r->limit) { /* the body ended before the declared length */
        r->err = CN_ERR_FORMAT;
        return;
    }
    const uint64_t want = cn_hash_final(&r->hs);
    uint8_t b[8];
    r->limit += CN_IO_TRAILER_BYTES;
    cn_rd_bytes(r, b, 8);
#ifdef CN_FUZZ_IGNORE_CHECKSUM
    /* fuzz builds only (make fuzz): let mutated bodies reach the validation behind the
     * checksum; never defined in a library build */
    (void)want;
#else
    if (r->err == CN_OK && cn_load_le64(b) != want)
        r->err = CN_ERR_FORMAT;
#endif
}

uint64_t cn_io_checksum(const uint8_t *buf, size_t len)
{
    cn_hash_t h;
    cn_hash_init(&h);
    cn_hash_update(&h, buf, len);
    return cn_hash_final(&h);
}

cn_status cn_io_frame_seal(uint8_t *buf, size_t len, unsigned type, uint32_t count,
                           uint64_t fingerprint)
{
    if (type < CN_IO_EXTERNAL_TYPE || type > 0xffff ||
        len < CN_IO_HEADER_BYTES + CN_IO_TRAILER_BYTES)
        return CN_ERR_INVALID_ARG;
    cn_wr_t w = {.buf = buf, .cap = CN_IO_HEADER_BYTES, .nohash = 1};
    cn_wr_header(&w, (cn_io_type)type, 0, count, len, fingerprint);
    if (w.err != CN_OK)
        return w.err;
    cn_store_le64(buf + len - CN_IO_TRAILER_BYTES,
                  cn_io_checksum(buf, len - CN_IO_TRAILER_BYTES));
    return CN_OK;
}

cn_status cn_io_frame_open(cn_io_header_t *h, const uint8_t **body, size_t *body_len,
                           const uint8_t *buf, size_t len, unsigned type)
{
    *body = NULL;
    *body_len = 0;
    cn_status st = cn_io_peek_header(h, buf, len);
    if (st != CN_OK)
        return st;
    if ((unsigned)h->type != type || h->flags != 0 ||
        h->total_length < CN_IO_HEADER_BYTES + CN_IO_TRAILER_BYTES)
        return CN_ERR_FORMAT;
    if (h->total_length != len)
        return h->total_length > len ? CN_ERR_TRUNCATED : CN_ERR_FORMAT;
    const int sum_ok = cn_load_le64(buf + len - CN_IO_TRAILER_BYTES) ==
                       cn_io_checksum(buf, len - CN_IO_TRAILER_BYTES);
#ifdef CN_FUZZ_IGNORE_CHECKSUM /* fuzz builds only: mutations reach the checks behind it */
    (void)sum_ok;
#else
    if (!sum_ok)
        return CN_ERR_FORMAT;
#endif
    *body = buf + CN_IO_HEADER_BYTES;
    *body_len = len - CN_IO_HEADER_BYTES - CN_IO_TRAILER_BYTES;
    return CN_OK;
}
