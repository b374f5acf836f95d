/* A ciphertext batch read record by record (docs/io.md, "Batch reader"): init walks the
 * record headers once (16 bytes each) to find every record's offset, then records are
 * decoded independently, from any threads, straight from the caller's buffer (no copy,
 * no running checksum), and the checksum is taken apart. The checks are those of the
 * batch loader in objects.c (docs/format.md), so both accept the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "io_internal.h"
#include "../internal/endian.h"

/* ciphertext record flags (format.md; as objects.c) */
#define REC_SEEDED 1u
#define REC_TRANSPARENT 2u
/* bytes of a record's header: size, level, plaintext modulus index, flags (u32 each) */
#define REC_HEAD 16

/* bytes of `level` packed rows (row j: n values of the bit length of q_j - 1) */
static size_t rows_bytes(size_t level, const cn_bfv_context_t *ctx)
{
    size_t b = 0;
    for (size_t j = 0; j < level; j++)
        b += cn_io_packed_bytes(ctx->n, cn_io_bits(ctx->ring.base.q[j]));
    return b;
}

typedef struct {
    uint32_t size, level, ti, fl;
} rec_head_t;

/* The header of the record at p, checked as the batch loader checks it; its body's
 * length (header included) in *bytes. CN_ERR_FORMAT when invalid. */
static cn_status rec_head(rec_head_t *h, size_t *bytes, const uint8_t *p,
                          const cn_bfv_context_t *ctx)
{
    h->size = cn_load_le32(p);
    h->level = cn_load_le32(p + 4);
    h->ti = cn_load_le32(p + 8);
    h->fl = cn_load_le32(p + 12);
    const int seeded = (h->fl & REC_SEEDED) != 0;
    if (h->size < 2 || h->size > 3 || h->level < 1 || h->level > ctx->L || h->ti >= ctx->nt ||
        (h->fl & ~(REC_SEEDED | REC_TRANSPARENT)) ||
        (seeded && (h->size != 2 || h->level != ctx->L)))
        return CN_ERR_FORMAT;
    *bytes = REC_HEAD + rows_bytes(h->level, ctx) * (h->size - (size_t)seeded) +
             (seeded ? CN_SEED_BYTES : 0);
    return CN_OK;
}

cn_status cn_io_batch_reader_init(cn_io_batch_reader_t *r, const uint8_t *buf, size_t len,
                                  const cn_bfv_context_t *ctx)
{
    memset(r, 0, sizeof *r);
    cn_io_header_t h;
    cn_status st = cn_io_peek_header(&h, buf, len);
    if (st != CN_OK)
        return st;
    if (h.type != CN_IO_CIPHERTEXT_BATCH || h.flags != 0 ||
        h.total_length < CN_IO_HEADER_BYTES + CN_IO_TRAILER_BYTES)
        return CN_ERR_FORMAT;
    if (h.total_length != len)
        return h.total_length > len ? CN_ERR_TRUNCATED : CN_ERR_FORMAT;
    if (h.fingerprint != cn_bfv_context_fingerprint(ctx))
        return CN_ERR_CONTEXT_MISMATCH;
    const size_t limit = len - CN_IO_TRAILER_BYTES;
    /* every record takes at least its header: a forged count costs no memory */
    if (h.count > CN_IO_MAX_BATCH || h.count > (limit - CN_IO_HEADER_BYTES) / REC_HEAD)
        return CN_ERR_FORMAT;
    size_t *off = malloc((h.count ? h.count : 1) * sizeof *off);
    if (!off)
        return CN_ERR_NO_MEMORY;
    size_t pos = CN_IO_HEADER_BYTES;
    for (size_t i = 0; i < h.count && st == CN_OK; i++) {
        rec_head_t rh;
        size_t bytes = 0;
        if (limit - pos < REC_HEAD || (st = rec_head(&rh, &bytes, buf + pos, ctx)) != CN_OK ||
            bytes > limit - pos) {
            st = CN_ERR_FORMAT;
            break;
        }
        off[i] = pos;
        pos += bytes;
    }
    if (st == CN_OK && pos != limit) /* the records end before the declared length */
        st = CN_ERR_FORMAT;
    if (st != CN_OK) {
        free(off);
        return st;
    }
    r->count = h.count;
    r->buf_ = buf;
    r->len_ = len;
    r->off_ = off;
    r->ctx_ = ctx;
    return CN_OK;
}

cn_status cn_io_batch_reader_info(cn_io_batch_shape_t *shape, size_t *t_index,
                                  const cn_io_batch_reader_t *r, size_t i)
{
    if (!r->off_ || i >= r->count)
        return CN_ERR_INVALID_ARG;
    rec_head_t h;
    size_t bytes;
    if (rec_head(&h, &bytes, r->buf_ + r->off_[i], r->ctx_) != CN_OK)
        return CN_ERR_FORMAT; /* not reached: init checked it */
    shape->size = h.size;
    shape->level = h.level;
    shape->seeded = (h.fl & REC_SEEDED) != 0;
    if (t_index)
        *t_index = h.ti;
    return CN_OK;
}

/* v[0, n) = n values of `bits` (1..64) bits packed LSB first from p (format.md); returns
 * nonzero when a value is not below bound or a padding bit of the last byte is set. The
 * 8 bytes after the packed ones must be readable (in a batch the checksum follows the
 * last record). One unaligned little-endian load per value instead of a byte loop. */
static int unpack_row(uint64_t *v, const uint8_t *p, size_t n, unsigned bits, uint64_t bound)
{
    const uint64_t mask = bits >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << bits) - 1;
    uint64_t bad = 0;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++, pos += bits) {
        const uint8_t *b = p + (pos >> 3);
        const unsigned sh = (unsigned)(pos & 7);
        uint64_t w = cn_load_le64(b) >> sh;
        if (bits + sh > 64) /* bits > 56 only: the value's top bits in the ninth byte */
            w |= (uint64_t)b[8] << (64 - sh);
        v[i] = w & mask;
        bad |= (uint64_t)(v[i] >= bound);
    }
    const size_t tail = (n * bits) & 7; /* padding: one encoding per object */
    if (tail)
        bad |= (uint64_t)(p[(n * bits) >> 3] >> tail);
    return bad != 0;
}

cn_status cn_io_batch_reader_get(const cn_io_batch_reader_t *r, size_t i,
                                 cn_bfv_ciphertext_t *ct)
{
    if (!r->off_ || i >= r->count)
        return CN_ERR_INVALID_ARG;
    const cn_bfv_context_t *ctx = r->ctx_;
    const uint8_t *p = r->buf_ + r->off_[i];
    rec_head_t h;
    size_t bytes;
    if (rec_head(&h, &bytes, p, ctx) != CN_OK)
        return CN_ERR_FORMAT; /* not reached: init checked it */
    const int seeded = (h.fl & REC_SEEDED) != 0;
    cn_status st = cn_bfv_ct_reshape_uninit(ct, h.size, h.level, ctx);
    if (st != CN_OK)
        return st;
    p += REC_HEAD;
    int bad = 0;
    for (size_t c = 0; c < h.size; c++) {
        cn_poly_t *poly = &ct->c[c];
        poly->form = CN_FORM_COEFF;
        if (c == 1 && seeded) {
            memcpy(ct->seed, p, CN_SEED_BYTES);
            p += CN_SEED_BYTES;
            continue;
        }
        for (size_t j = 0; j < h.level; j++) {
            const uint64_t q = ctx->ring.base.q[j];
            const unsigned bits = cn_io_bits(q);
            bad |= unpack_row(poly->data + j * ctx->n, p, ctx->n, bits, q);
            p += cn_io_packed_bytes(ctx->n, bits);
        }
    }
    ct->t_index = h.ti;
    ct->transparent = (h.fl & REC_TRANSPARENT) != 0;
    ct->has_seed = seeded;
    if (bad)
        return CN_ERR_FORMAT;
    if (seeded && cn_bfv_expand_seed(ct, ctx) != CN_OK)
        return CN_ERR_FORMAT;
    return CN_OK;
}

cn_status cn_io_batch_reader_check(const cn_io_batch_reader_t *r)
{
    if (!r->off_)
        return CN_ERR_INVALID_ARG;
    const size_t body = r->len_ - CN_IO_TRAILER_BYTES;
    const int ok = cn_io_checksum(r->buf_, body) == cn_load_le64(r->buf_ + body);
#ifdef CN_FUZZ_IGNORE_CHECKSUM /* fuzz builds only (make fuzz), as stream.c */
    (void)ok;
    return CN_OK;
#else
    return ok ? CN_OK : CN_ERR_FORMAT;
#endif
}

void cn_io_batch_reader_clear(cn_io_batch_reader_t *r)
{
    free(r->off_);
    memset(r, 0, sizeof *r);
}
