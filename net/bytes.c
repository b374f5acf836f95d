/* Little-endian byte builders and readers shared by the model and plan files. */
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

void cn_wb_u32(cn_wb_t *b, uint64_t v) { put_le(b, v, 4); }
void cn_wb_u64(cn_wb_t *b, uint64_t v) { put_le(b, v, 8); }

void cn_wb_f64(cn_wb_t *b, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    put_le(b, v, 8);
}

cn_status cn_wb_finish(cn_wb_t *b, uint8_t **buf, size_t *len)
{
    if (!b->oom)
        cn_wb_u64(b, cn_fnv1a(b->p, b->len));
    if (b->oom) {
        free(b->p);
        return CN_ERR_NO_MEMORY;
    }
    *buf = b->p;
    *len = b->len;
    return CN_OK;
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

uint64_t cn_rb_u32(cn_rb_t *r) { return get_le(r, 4); }
uint64_t cn_rb_u64(cn_rb_t *r) { return get_le(r, 8); }

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
#ifdef CN_FUZZ_IGNORE_CHECKSUM /* fuzz builds only: let mutations reach the checks behind it */
    (void)sum;
    return 1;
#else
    return cn_fnv1a(buf, len - 8) == sum;
#endif
}
