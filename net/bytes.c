/* What the model, plan and client-state files share: lib/io's frame around their body,
 * the body's magic and version (read with lib/io's byte reader), the FNV-1a trailer of
 * format-1 files, and reading a whole file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

/* 64-bit FNV-1a (the trailer of format-1 files) */
static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* 1 when the last 8 bytes of buf are the FNV-1a of the others (little-endian) */
static int trailer_ok(const uint8_t *buf, size_t len)
{
    if (len < 8)
        return 0;
    uint64_t sum = 0;
    for (int i = 7; i >= 0; i--)
        sum = sum << 8 | buf[len - 8 + (size_t)i];
    int ok = fnv1a(buf, len - 8) == sum;
#ifdef CN_FUZZ_IGNORE_CHECKSUM
    ok = 1; /* fuzz builds only: let mutations reach the checks behind the trailer */
#endif
    return ok;
}

/* What a frame's type code names (docs/format.md, "Layout" and "Framing"), for messages */
static const char *type_name(unsigned type)
{
    static const char *const lib[8] = {
        "parameters",  "a secret key", "a public key", "a relinearization key",
        "Galois keys", "a plaintext",  "a ciphertext", "a ciphertext batch"};
    if (type >= 1 && type <= 8)
        return lib[type - 1];
    return type == CN_NET_MODEL_TYPE   ? "a model"
           : type == CN_NET_PLAN_TYPE  ? "a plan"
           : type == CN_NET_STATE_TYPE ? "a client state (a client's secret key)"
                                       : "an object of an unknown type";
}

/* The body of a file of the given type: a frame of the type, or (when magic is not NULL) a
 * file of format 1, which began with magic and ended with an FNV-1a trailer (still read);
 * what names the file in diag. */
static cn_status unframe(const uint8_t **body, size_t *blen, const uint8_t *buf, size_t len,
                         unsigned type, const char *magic, const char *what,
                         cn_net_diag_t *diag)
{
    *body = NULL;
    *blen = 0;
    if (magic && len >= 4 && memcmp(buf, magic, 4) == 0) {
        /* a file of format 1 (before the common frame): FNV-1a trailer */
        if (len < 8 + 8) {
            cn_diag_set(diag, "%s: truncated (%zu bytes)", what, len);
            return CN_ERR_TRUNCATED;
        }
        if (!trailer_ok(buf, len)) {
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
    if (st == CN_ERR_TRUNCATED && len == 0)
        cn_diag_set(diag, "%s: empty (0 bytes)", what);
    else if (st == CN_ERR_TRUNCATED && len < CN_IO_HEADER_BYTES)
        cn_diag_set(diag, "%s: truncated (%zu bytes, shorter than the %d-byte header)", what,
                    len, CN_IO_HEADER_BYTES);
    else if (st == CN_ERR_TRUNCATED)
        cn_diag_set(diag, "%s: truncated (%zu bytes; the header declares %llu)", what, len,
                    (unsigned long long)h.total_length);
    else if (st == CN_ERR_VERSION)
        cn_diag_set(diag, "%s: format version %u.%u is newer than this library's", what,
                    h.major, h.minor);
    else if (len >= 4 && memcmp(buf, "CNHE", 4) == 0 && (unsigned)h.type != type)
        cn_diag_set(diag, "%s: the bytes are %s (type 0x%x), not a %s", what,
                    type_name((unsigned)h.type), (unsigned)h.type, what);
    else if (len >= 4 && memcmp(buf, "CNHE", 4) == 0)
        cn_diag_set(diag, "%s: checksum or length mismatch (truncated or damaged)", what);
    else
        cn_diag_set(diag, "not a cryptonets %s (bad magic)", what);
    return st;
}

cn_status cn_net_body_open(cn_io_reader_t *r, unsigned *minor, const uint8_t *buf, size_t len,
                           unsigned type, const char *magic, unsigned major, int format1,
                           cn_net_diag_t *diag)
{
    const char *what = type == CN_NET_MODEL_TYPE  ? "model"
                       : type == CN_NET_PLAN_TYPE ? "plan"
                                                  : "client state";
    const uint8_t *body;
    size_t blen;
    cn_io_reader_init(r, NULL, 0);
    *minor = 0;
    cn_status st = unframe(&body, &blen, buf, len, type, format1 ? magic : NULL, what, diag);
    if (st != CN_OK)
        return st;
    cn_io_reader_init(r, body, blen);
    uint8_t m[4];
    cn_io_get_bytes(r, m, 4);
    const unsigned maj = cn_io_get_u16(r), min = cn_io_get_u16(r);
    if (r->status != CN_OK) { /* the checksum matched: the writer wrote a short body */
        cn_diag_set(diag, "%s: truncated header (%zu bytes)", what, len);
        return CN_ERR_TRUNCATED;
    }
    if (memcmp(m, magic, 4) != 0) {
        cn_diag_set(diag, "not a cryptonets %s (bad magic)", what);
        return CN_ERR_FORMAT;
    }
    if (maj != major) {
        cn_diag_set(diag, "%s format version %u.%u; this library reads %u.x", what, maj, min,
                    major);
        return maj > major ? CN_ERR_VERSION : CN_ERR_FORMAT;
    }
    *minor = min;
    return CN_OK;
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
