/* Little-endian byte builders and readers shared by the model and plan files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

void cn_wb_put(cn_wb_t *b, const void *src, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 4096;
        while (nc < b->len + n)
            nc *= 2;
        uint8_t *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_le(cn_wb_t *b, uint64_t v, int bytes)
{
    uint8_t t[8];
    for (int i = 0; i < bytes; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    cn_wb_put(b, t, (size_t)bytes);
}

void cn_wb_u32(cn_wb_t *b, uint64_t v)
{
    put_le(b, v, 4);
}
void cn_wb_u64(cn_wb_t *b, uint64_t v)
{
    put_le(b, v, 8);
}

void cn_wb_f64(cn_wb_t *b, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    put_le(b, v, 8);
}

void cn_wb_frame_begin(cn_wb_t *b)
{
    static const uint8_t zero[CN_IO_HEADER_BYTES] = {0};
    cn_wb_put(b, zero, sizeof zero); /* the header, written by cn_wb_finish */
}

cn_status cn_wb_finish(cn_wb_t *b, unsigned type, uint8_t **buf, size_t *len)
{
    static const uint8_t zero[CN_IO_TRAILER_BYTES] = {0};
    cn_wb_put(b, zero, sizeof zero); /* the checksum, written by the seal */
    if (b->oom || cn_io_frame_seal(b->p, b->len, type, 1, 0) != CN_OK) {
        free(b->p);
        return CN_ERR_NO_MEMORY;
    }
    *buf = b->p;
    *len = b->len;
    return CN_OK;
}

cn_status cn_net_unframe(const uint8_t **body, size_t *blen, const uint8_t *buf, size_t len,
                         unsigned type, const char *magic, cn_net_diag_t *diag)
{
    const char *what = type == CN_NET_MODEL_TYPE  ? "model"
                       : type == CN_NET_PLAN_TYPE ? "plan"
                                                  : "client state";
    *body = NULL;
    *blen = 0;
    if (magic && len >= 4 && memcmp(buf, magic, 4) == 0) {
        /* a file of format 1 (before the common frame): FNV-1a trailer */
        if (len < 8 + 8) {
            cn_diag_set(diag, "%s: truncated (%zu bytes)", what, len);
            return CN_ERR_TRUNCATED;
        }
        if (!cn_trailer_ok(buf, len)) {
            cn_diag_set(diag, "%s: checksum mismatch (the file is truncated or damaged)", what);
            return CN_ERR_FORMAT;
        }
        *body = buf;
        *blen = len - 8;
        return CN_OK;
    }
    cn_io_header_t h;
    const cn_status st = cn_io_frame_open(&h, body, blen, buf, len, type);
    if (st == CN_OK)
        return CN_OK;
    if (st == CN_ERR_TRUNCATED)
        cn_diag_set(diag, "%s: truncated (%zu bytes; the header declares %llu)", what, len,
                    (unsigned long long)h.total_length);
    else if (st == CN_ERR_VERSION)
        cn_diag_set(diag, "%s: format version %u.%u is newer than this library's", what,
                    h.major, h.minor);
    else if (len >= 4 && memcmp(buf, "CNHE", 4) == 0 && (unsigned)h.type != type)
        cn_diag_set(diag, "%s: the bytes are another kind of object (type 0x%x)", what,
                    (unsigned)h.type);
    else if (len >= 4 && memcmp(buf, "CNHE", 4) == 0)
        cn_diag_set(diag, "%s: checksum or length mismatch (truncated or damaged)", what);
    else
        cn_diag_set(diag, "not a cryptonets %s (bad magic)", what);
    return st;
}

uint64_t cn_fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

int cn_rb_get(cn_rb_t *r, void *dst, size_t n)
{
    if (r->bad || r->len - r->pos < n) {
        r->bad = 1;
        memset(dst, 0, n);
        return 0;
    }
    memcpy(dst, r->p + r->pos, n);
    r->pos += n;
    return 1;
}

static uint64_t get_le(cn_rb_t *r, int bytes)
{
    uint8_t t[8];
    cn_rb_get(r, t, (size_t)bytes);
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | t[i];
    return v;
}

uint64_t cn_rb_u32(cn_rb_t *r)
{
    return get_le(r, 4);
}
uint64_t cn_rb_u64(cn_rb_t *r)
{
    return get_le(r, 8);
}

double cn_rb_f64(cn_rb_t *r)
{
    const uint64_t v = get_le(r, 8);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

int cn_trailer_ok(const uint8_t *buf, size_t len)
{
    if (len < 8)
        return 0;
    uint64_t sum = 0;
    for (int i = 7; i >= 0; i--)
        sum = sum << 8 | buf[len - 8 + (size_t)i];
#ifdef CN_FUZZ_IGNORE_CHECKSUM /* fuzz builds only: let mutations reach the checks behind it   \
                                */
    (void)sum;
    return 1;
#else
    return cn_fnv1a(buf, len - 8) == sum;
#endif
}

cn_status cn_file_read(uint8_t **out, size_t *outlen, const char *path, size_t maxlen,
                       cn_net_diag_t *diag)
{
    *out = NULL;
    *outlen = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        cn_diag_set(diag, "%s: %s", path, strerror(errno));
        return CN_ERR_IO;
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    cn_status st = buf ? CN_OK : CN_ERR_NO_MEMORY;
    while (st == CN_OK) {
        if (len == cap) {
            if (cap >= maxlen) {
                cn_diag_set(diag, "%s: larger than any valid file of its kind (%zu bytes)",
                            path, maxlen);
                st = CN_ERR_FORMAT;
                break;
            }
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                st = CN_ERR_NO_MEMORY;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        const size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                cn_diag_set(diag, "%s: read error (%s)", path, strerror(errno));
                st = CN_ERR_IO;
            }
            break;
        }
    }
    fclose(f);
    if (st != CN_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    *outlen = len;
    return CN_OK;
}
