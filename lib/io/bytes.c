/* The public little-endian byte writer and reader (io.h): bodies of framed files and
 * other fixed layouts, with a sticky status and strict bounds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cryptonets/io.h"

/* First capacity of a growable writer; doubled after. */
#define WRITER_FIRST_CAP 4096

/* ---- writing ----------------------------------------------------------------- */

void cn_io_writer_init(cn_io_writer_t *w)
{
    memset(w, 0, sizeof *w);
}

void cn_io_writer_init_fixed(cn_io_writer_t *w, uint8_t *buf, size_t cap)
{
    memset(w, 0, sizeof *w);
    w->buf = buf;
    w->cap_ = buf ? cap : 0;
    w->fixed_ = 1;
}

static void writer_fail(cn_io_writer_t *w, cn_status st)
{
    if (w->status == CN_OK)
        w->status = st;
}

/* Room for n more bytes at buf + len: 1, or 0 with the status set. */
static int writer_room(cn_io_writer_t *w, size_t n)
{
    if (w->status != CN_OK)
        return 0;
    if (n <= w->cap_ - w->len)
        return 1;
    if (w->fixed_) {
        writer_fail(w, CN_ERR_OUT_OF_RANGE);
        return 0;
    }
    if (n > SIZE_MAX - w->len) {
        writer_fail(w, CN_ERR_NO_MEMORY);
        return 0;
    }
    const size_t need = w->len + n;
    size_t cap = w->cap_ ? w->cap_ : WRITER_FIRST_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *nb = realloc(w->buf, cap);
    if (!nb) {
        writer_fail(w, CN_ERR_NO_MEMORY);
        return 0;
    }
    w->buf = nb;
    w->cap_ = cap;
    return 1;
}

void cn_io_put_bytes(cn_io_writer_t *w, const void *src, size_t n)
{
    if (n == 0 || !writer_room(w, n))
        return;
    memcpy(w->buf + w->len, src, n);
    w->len += n;
}

uint8_t *cn_io_put_reserve(cn_io_writer_t *w, size_t n)
{
    if (!writer_room(w, n))
        return NULL;
    if (!w->buf) /* nothing written, nothing reserved (n is 0) */
        return NULL;
    uint8_t *at = w->buf + w->len;
    memset(at, 0, n);
    w->len += n;
    return at;
}

/* v's low `bytes` bytes, least significant first */
static void put_le(cn_io_writer_t *w, uint64_t v, size_t bytes)
{
    uint8_t b[8];
    for (size_t i = 0; i < bytes; i++, v >>= 8)
        b[i] = (uint8_t)v;
    cn_io_put_bytes(w, b, bytes);
}

void cn_io_put_u16(cn_io_writer_t *w, uint16_t v)
{
    put_le(w, v, 2);
}

void cn_io_put_u32(cn_io_writer_t *w, uint32_t v)
{
    put_le(w, v, 4);
}

void cn_io_put_u64(cn_io_writer_t *w, uint64_t v)
{
    put_le(w, v, 8);
}

void cn_io_put_f64(cn_io_writer_t *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    put_le(w, u, 8);
}

void cn_io_writer_frame_begin(cn_io_writer_t *w)
{
    if (w->status == CN_OK && (w->len != 0 || w->framed_)) {
        writer_fail(w, CN_ERR_INVALID_ARG); /* the header goes first */
        return;
    }
    if (cn_io_put_reserve(w, CN_IO_HEADER_BYTES)) /* written by the seal */
        w->framed_ = 1;
}

void cn_io_writer_frame_seal(cn_io_writer_t *w, unsigned type, uint32_t count,
                             uint64_t fingerprint)
{
    if (!w->framed_)
        writer_fail(w, CN_ERR_INVALID_ARG);
    cn_io_put_reserve(w, CN_IO_TRAILER_BYTES); /* the checksum */
    if (w->status == CN_OK)
        writer_fail(w, cn_io_frame_seal(w->buf, w->len, type, count, fingerprint));
    w->framed_ = 0;
}

cn_status cn_io_writer_release(uint8_t **buf, size_t *len, cn_io_writer_t *w)
{
    const cn_status st = w->status;
    *buf = st == CN_OK ? w->buf : NULL;
    *len = st == CN_OK ? w->len : 0;
    if (st != CN_OK && !w->fixed_)
        free(w->buf);
    cn_io_writer_init(w);
    return st;
}

void cn_io_writer_clear(cn_io_writer_t *w)
{
    if (!w->fixed_)
        free(w->buf);
    cn_io_writer_init(w);
}

/* ---- reading ----------------------------------------------------------------- */

void cn_io_reader_init(cn_io_reader_t *r, const uint8_t *buf, size_t len)
{
    memset(r, 0, sizeof *r);
    r->buf = buf;
    r->len = buf ? len : 0;
}

void cn_io_reader_fail(cn_io_reader_t *r, cn_status st)
{
    if (r->status != CN_OK)
        return;
    r->status = st == CN_OK ? CN_ERR_INVALID_ARG : st;
    r->fail_pos = r->pos;
    r->fail_want = 0;
}

size_t cn_io_reader_remaining(const cn_io_reader_t *r)
{
    return r->status == CN_OK ? r->len - r->pos : 0;
}

/* buf + pos with n bytes consumed, or NULL (truncated, or failed before) */
static const uint8_t *take(cn_io_reader_t *r, size_t n)
{
    if (r->status != CN_OK)
        return NULL;
    if (n > r->len - r->pos) { /* pos <= len always: no overflow */
        r->status = CN_ERR_TRUNCATED;
        r->fail_pos = r->pos;
        r->fail_want = n;
        return NULL;
    }
    if (!r->buf) /* an empty reader (n is 0) */
        return NULL;
    const uint8_t *at = r->buf + r->pos;
    r->pos += n;
    return at;
}

void cn_io_get_bytes(cn_io_reader_t *r, void *dst, size_t n)
{
    const uint8_t *at = take(r, n);
    if (n == 0)
        return;
    if (at)
        memcpy(dst, at, n);
    else
        memset(dst, 0, n);
}

const uint8_t *cn_io_get_view(cn_io_reader_t *r, size_t n)
{
    return take(r, n);
}

/* the next `bytes` bytes, least significant first; 0 on failure */
static uint64_t get_le(cn_io_reader_t *r, size_t bytes)
{
    const uint8_t *at = take(r, bytes);
    uint64_t v = 0;
    for (size_t i = at ? bytes : 0; i > 0; i--)
        v = v << 8 | at[i - 1];
    return v;
}

uint16_t cn_io_get_u16(cn_io_reader_t *r)
{
    return (uint16_t)get_le(r, 2);
}

uint32_t cn_io_get_u32(cn_io_reader_t *r)
{
    return (uint32_t)get_le(r, 4);
}

uint64_t cn_io_get_u64(cn_io_reader_t *r)
{
    return get_le(r, 8);
}

double cn_io_get_f64(cn_io_reader_t *r)
{
    const uint64_t u = get_le(r, 8);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

const char *cn_io_reader_reason(char *msg, size_t cap, const cn_io_reader_t *r)
{
    if (cap == 0)
        return msg;
    if (r->status == CN_OK)
        snprintf(msg, cap, "ok");
    else if (r->status == CN_ERR_TRUNCATED && r->fail_want)
        snprintf(msg, cap, "truncated: %zu bytes wanted at offset %zu of %zu", r->fail_want,
                 r->fail_pos, r->len);
    else
        snprintf(msg, cap, "%s at offset %zu of %zu", cn_strerror(r->status), r->fail_pos,
                 r->len);
    return msg;
}
