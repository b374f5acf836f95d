/* The public little-endian byte writer and reader (io.h, "little-endian byte writer and
 * reader"). The oracle is independent of the code under test: byte strings written out
 * by hand from the definitions (little-endian order; a double as its IEEE 754 binary64
 * bit pattern, e.g. 1.0 = 0x3ff0000000000000), and for random records an encoder in this
 * file that builds each byte by shifting. Truncation is tried at every length over heap
 * copies of exactly that length, so that an over-read is an AddressSanitizer error under
 * SANITIZE=1; a fixed writer likewise writes into a buffer of exactly its capacity. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/cryptonets.h"

/* The record of the hand-computed vector: u16 0x0102, u32 0x0a0b0c0d, u64
 * 0x1122334455667788, f64 1.0, f64 -2.5, f64 -0.0, bytes "AB", u32 0xffffffff. */
static const uint8_t VEC[] = {
    0x02, 0x01,                                     /* u16 0x0102 */
    0x0d, 0x0c, 0x0b, 0x0a,                         /* u32 0x0a0b0c0d */
    0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* u64 0x1122334455667788 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, /* f64 1.0 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0xc0, /* f64 -2.5 = 0xc004000000000000 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, /* f64 -0.0 */
    0x41, 0x42,                                     /* bytes "AB" */
    0xff, 0xff, 0xff, 0xff,                         /* u32 0xffffffff */
};
/* the size of each field of VEC, in order */
static const size_t FIELD[] = {2, 4, 8, 8, 8, 8, 2, 4};
#define NFIELD (sizeof FIELD / sizeof FIELD[0])

static void write_vec(cn_io_writer_t *w)
{
    cn_io_put_u16(w, 0x0102);
    cn_io_put_u32(w, 0x0a0b0c0dU);
    cn_io_put_u64(w, 0x1122334455667788ULL);
    cn_io_put_f64(w, 1.0);
    cn_io_put_f64(w, -2.5);
    cn_io_put_f64(w, -0.0);
    cn_io_put_bytes(w, "AB", 2);
    cn_io_put_u32(w, 0xffffffffU);
}

/* Reads VEC's fields with r; got[i] is 1 when field i read back as written (and the
 * reads after a failure gave zeros). */
static void read_vec(cn_io_reader_t *r, int got[NFIELD])
{
    const uint16_t a = cn_io_get_u16(r);
    got[0] = r->status == CN_OK ? a == 0x0102 : a == 0;
    const uint32_t b = cn_io_get_u32(r);
    got[1] = r->status == CN_OK ? b == 0x0a0b0c0dU : b == 0;
    const uint64_t c = cn_io_get_u64(r);
    got[2] = r->status == CN_OK ? c == 0x1122334455667788ULL : c == 0;
    const double d = cn_io_get_f64(r);
    got[3] = r->status == CN_OK ? d == 1.0 : d == 0.0 && !signbit(d);
    const double e = cn_io_get_f64(r);
    got[4] = r->status == CN_OK ? e == -2.5 : e == 0.0 && !signbit(e);
    const double f = cn_io_get_f64(r);
    got[5] = r->status == CN_OK ? f == 0.0 && signbit(f) : f == 0.0 && !signbit(f);
    char g[2] = {'x', 'x'};
    cn_io_get_bytes(r, g, 2);
    got[6] = r->status == CN_OK ? g[0] == 'A' && g[1] == 'B' : g[0] == 0 && g[1] == 0;
    const uint32_t h = cn_io_get_u32(r);
    got[7] = r->status == CN_OK ? h == 0xffffffffU : h == 0;
}

START_TEST(test_writer_vector)
{
    cn_io_writer_t w;
    cn_io_writer_init(&w);
    write_vec(&w);
    ck_assert_int_eq(w.status, CN_OK);
    ck_assert_uint_eq(w.len, sizeof VEC);
    ck_assert(memcmp(w.buf, VEC, sizeof VEC) == 0);
    uint8_t *b;
    size_t len;
    ck_assert_int_eq(cn_io_writer_release(&b, &len, &w), CN_OK);
    ck_assert_uint_eq(len, sizeof VEC);
    ck_assert(memcmp(b, VEC, sizeof VEC) == 0);
    free(b);
    ck_assert_ptr_null(w.buf); /* left empty */
    ck_assert_uint_eq(w.len, 0);

    /* the same into a fixed buffer of exactly the size */
    uint8_t *fb = malloc(sizeof VEC);
    cn_io_writer_init_fixed(&w, fb, sizeof VEC);
    write_vec(&w);
    ck_assert_int_eq(w.status, CN_OK);
    ck_assert_uint_eq(w.len, sizeof VEC);
    ck_assert(memcmp(fb, VEC, sizeof VEC) == 0);
    ck_assert_int_eq(cn_io_writer_release(&b, &len, &w), CN_OK);
    ck_assert_ptr_eq(b, fb);
    ck_assert_uint_eq(len, sizeof VEC);
    free(fb);

    /* a NaN keeps its bit pattern (payload and sign) */
    uint64_t nan_bits = 0xfff8000000000123ULL;
    double nan;
    memcpy(&nan, &nan_bits, 8);
    const uint8_t nan_le[8] = {0x23, 0x01, 0x00, 0x00, 0x00, 0x00, 0xf8, 0xff};
    cn_io_writer_init(&w);
    cn_io_put_f64(&w, nan);
    ck_assert(memcmp(w.buf, nan_le, 8) == 0);
    cn_io_reader_t r;
    cn_io_reader_init(&r, w.buf, w.len);
    const double back = cn_io_get_f64(&r);
    uint64_t back_bits;
    memcpy(&back_bits, &back, 8);
    ck_assert(back_bits == nan_bits);
    cn_io_writer_clear(&w);
    ck_assert_ptr_null(w.buf);
}
END_TEST

START_TEST(test_reader_vector)
{
    cn_io_reader_t r;
    cn_io_reader_init(&r, VEC, sizeof VEC);
    int got[NFIELD];
    read_vec(&r, got);
    for (size_t i = 0; i < NFIELD; i++)
        ck_assert_msg(got[i], "field %zu", i);
    ck_assert_int_eq(r.status, CN_OK);
    ck_assert_uint_eq(r.pos, sizeof VEC);
    ck_assert_uint_eq(cn_io_reader_remaining(&r), 0);
    char msg[80];
    ck_assert_str_eq(cn_io_reader_reason(msg, sizeof msg, &r), "ok");
    /* one byte more: truncated, sticky, and where it happened */
    ck_assert_uint_eq(cn_io_get_u64(&r), 0);
    ck_assert_int_eq(r.status, CN_ERR_TRUNCATED);
    ck_assert_uint_eq(r.fail_pos, sizeof VEC);
    ck_assert_uint_eq(r.fail_want, 8);
    ck_assert_str_eq(cn_io_reader_reason(msg, sizeof msg, &r),
                     "truncated: 8 bytes wanted at offset 44 of 44");
    ck_assert_uint_eq(r.pos, sizeof VEC);
    /* the reason is cut to fit and terminated */
    ck_assert_str_eq(cn_io_reader_reason(msg, 10, &r), "truncated");

    /* views: pointers into the buffer; past the end NULL */
    cn_io_reader_init(&r, VEC, sizeof VEC);
    ck_assert_ptr_eq(cn_io_get_view(&r, 2), VEC);
    ck_assert_ptr_eq(cn_io_get_view(&r, 4), VEC + 2);
    ck_assert_uint_eq(cn_io_reader_remaining(&r), sizeof VEC - 6);
    ck_assert_ptr_null(cn_io_get_view(&r, SIZE_MAX)); /* no overflow in the bound check */
    ck_assert_int_eq(r.status, CN_ERR_TRUNCATED);
    ck_assert_uint_eq(r.fail_want, SIZE_MAX);
    ck_assert_uint_eq(r.pos, 6);
    ck_assert_ptr_null(cn_io_get_view(&r, 0)); /* sticky, even for nothing */
    ck_assert_uint_eq(cn_io_reader_remaining(&r), 0);

    /* a failure found by the caller: kept, the first one wins */
    cn_io_reader_init(&r, VEC, sizeof VEC);
    (void)cn_io_get_u32(&r);
    cn_io_reader_fail(&r, CN_ERR_FORMAT);
    cn_io_reader_fail(&r, CN_ERR_VERSION);
    ck_assert_int_eq(r.status, CN_ERR_FORMAT);
    ck_assert_uint_eq(r.fail_pos, 4);
    ck_assert_uint_eq(r.fail_want, 0);
    ck_assert_uint_eq(cn_io_get_u16(&r), 0);
    ck_assert_int_eq(r.status, CN_ERR_FORMAT);
    char want[80];
    snprintf(want, sizeof want, "%s at offset 4 of 44", cn_strerror(CN_ERR_FORMAT));
    ck_assert_str_eq(cn_io_reader_reason(msg, sizeof msg, &r), want);

    /* an empty reader */
    cn_io_reader_init(&r, NULL, 0);
    ck_assert_uint_eq(cn_io_reader_remaining(&r), 0);
    ck_assert_uint_eq(cn_io_get_u32(&r), 0);
    ck_assert_int_eq(r.status, CN_ERR_TRUNCATED);
}
END_TEST

/* every truncation of the vector: the fields before the cut read back, the field that
 * crosses it fails with CN_ERR_TRUNCATED at its offset, every later read gives zeros, and
 * nothing is read outside the cut buffer (exactly sized: ASan) */
START_TEST(test_reader_truncation)
{
    for (size_t cut = 0; cut < sizeof VEC; cut++) {
        uint8_t *b = malloc(cut ? cut : 1);
        memcpy(b, VEC, cut);
        cn_io_reader_t r;
        cn_io_reader_init(&r, b, cut);
        int got[NFIELD];
        read_vec(&r, got);
        size_t at = 0, whole = 0; /* offset of the first field that does not fit */
        while (whole < NFIELD && at + FIELD[whole] <= cut)
            at += FIELD[whole++];
        ck_assert_int_eq(r.status, CN_ERR_TRUNCATED);
        ck_assert_uint_eq(r.fail_pos, at);
        ck_assert_uint_eq(r.fail_want, FIELD[whole]);
        ck_assert_uint_eq(r.pos, at);
        ck_assert_uint_le(r.pos, cut);
        ck_assert_uint_eq(cn_io_reader_remaining(&r), 0);
        for (size_t i = 0; i < NFIELD; i++)
            ck_assert_msg(got[i], "cut %zu: field %zu", cut, i);
        free(b);
    }
}
END_TEST

/* every capacity of a fixed writer below the vector's size: CN_ERR_OUT_OF_RANGE, the
 * whole fields before the overflow written, nothing after (sticky), nothing outside the
 * buffer (exactly sized: ASan) */
START_TEST(test_writer_overflow)
{
    for (size_t cap = 0; cap < sizeof VEC; cap++) {
        uint8_t *b = malloc(cap ? cap : 1);
        cn_io_writer_t w;
        cn_io_writer_init_fixed(&w, b, cap);
        write_vec(&w);
        size_t at = 0, whole = 0;
        while (whole < NFIELD && at + FIELD[whole] <= cap)
            at += FIELD[whole++];
        ck_assert_int_eq(w.status, CN_ERR_OUT_OF_RANGE);
        ck_assert_uint_eq(w.len, at);
        ck_assert(memcmp(b, VEC, at) == 0);
        cn_io_put_bytes(&w, "", 0); /* a write that fits changes nothing */
        ck_assert_ptr_null(cn_io_put_reserve(&w, 0));
        ck_assert_uint_eq(w.len, at);
        uint8_t *out = (uint8_t *)1;
        size_t olen = 1;
        ck_assert_int_eq(cn_io_writer_release(&out, &olen, &w), CN_ERR_OUT_OF_RANGE);
        ck_assert_ptr_null(out);
        ck_assert_uint_eq(olen, 0);
        free(b); /* the caller's buffer, never freed by the writer */
    }
    /* a length that would overflow a size_t: refused before any allocation */
    cn_io_writer_t w;
    cn_io_writer_init(&w);
    cn_io_put_u64(&w, 7);
    ck_assert_ptr_null(cn_io_put_reserve(&w, SIZE_MAX - 4));
    ck_assert_int_eq(w.status, CN_ERR_NO_MEMORY);
    ck_assert_uint_eq(w.len, 8);
    uint8_t *out;
    size_t olen;
    ck_assert_int_eq(cn_io_writer_release(&out, &olen, &w), CN_ERR_NO_MEMORY);
    ck_assert_ptr_null(out); /* and the memory freed (LeakSanitizer) */
    uint8_t small[4];
    cn_io_writer_init_fixed(&w, small, sizeof small);
    ck_assert_ptr_null(cn_io_put_reserve(&w, SIZE_MAX));
    ck_assert_int_eq(w.status, CN_ERR_OUT_OF_RANGE);
}
END_TEST

/* the oracle's encoder: v's low n bytes, least significant first, by shifts */
static size_t le(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return n;
}

/* random records through a growable writer (crossing its growth) against the oracle's
 * encoder, then read back with a reader */
START_TEST(test_random_records)
{
    cn_test_rng_t g;
    cn_test_rng_init(&g, 0xb17e5 + cn_test_seed());
    const size_t nrec = 20000;
    uint8_t *want = malloc(nrec * 16);
    uint8_t *kinds = malloc(nrec);
    uint64_t *vals = malloc(nrec * sizeof *vals);
    size_t wl = 0;
    cn_io_writer_t w;
    cn_io_writer_init(&w);
    for (size_t i = 0; i < nrec; i++) {
        const uint64_t v = cn_test_rng_next(&g);
        kinds[i] = (uint8_t)cn_test_rng_below(&g, 6);
        vals[i] = v;
        switch (kinds[i]) {
        case 0:
            cn_io_put_u16(&w, (uint16_t)v);
            wl += le(want + wl, v, 2);
            break;
        case 1:
            cn_io_put_u32(&w, (uint32_t)v);
            wl += le(want + wl, v, 4);
            break;
        case 2:
            cn_io_put_u64(&w, v);
            wl += le(want + wl, v, 8);
            break;
        case 3: { /* a double from its bit pattern */
            double d;
            memcpy(&d, &v, 8);
            cn_io_put_f64(&w, d);
            wl += le(want + wl, v, 8);
            break;
        }
        case 4: { /* 0..15 raw bytes */
            uint8_t raw[16];
            const size_t n = (size_t)(v & 15);
            le(raw, v, 8);
            le(raw + 8, ~v, 8);
            cn_io_put_bytes(&w, raw, n);
            memcpy(want + wl, raw, n);
            wl += n;
            break;
        }
        default: { /* reserved 0..15 bytes, filled in place */
            const size_t n = (size_t)(v & 15);
            uint8_t *at = cn_io_put_reserve(&w, n);
            ck_assert_ptr_nonnull(at);
            ck_assert_ptr_eq(at, w.buf + w.len - n);
            for (size_t k = 0; k < n; k++) {
                ck_assert_uint_eq(at[k], 0);
                at[k] = (uint8_t)(v >> (4 * k));
            }
            for (size_t k = 0; k < n; k++)
                want[wl + k] = (uint8_t)(v >> (4 * k));
            wl += n;
            break;
        }
        }
    }
    ck_assert_int_eq(w.status, CN_OK);
    ck_assert_uint_eq(w.len, wl);
    ck_assert(memcmp(w.buf, want, wl) == 0);
    uint8_t *b;
    size_t len;
    ck_assert_int_eq(cn_io_writer_release(&b, &len, &w), CN_OK);
    cn_io_reader_t r;
    cn_io_reader_init(&r, b, len);
    for (size_t i = 0; i < nrec; i++) {
        const uint64_t v = vals[i];
        switch (kinds[i]) {
        case 0:
            ck_assert_uint_eq(cn_io_get_u16(&r), (uint16_t)v);
            break;
        case 1:
            ck_assert_uint_eq(cn_io_get_u32(&r), (uint32_t)v);
            break;
        case 2:
            ck_assert(cn_io_get_u64(&r) == v);
            break;
        case 3: {
            const double d = cn_io_get_f64(&r);
            uint64_t u;
            memcpy(&u, &d, 8);
            ck_assert(u == v);
            break;
        }
        default: {
            const size_t n = (size_t)(v & 15);
            const uint8_t *at = cn_io_get_view(&r, n);
            ck_assert_ptr_nonnull(at);
            ck_assert(at == b + r.pos - n);
            break;
        }
        }
    }
    ck_assert_int_eq(r.status, CN_OK);
    ck_assert_uint_eq(cn_io_reader_remaining(&r), 0);
    free(b);
    free(want);
    free(kinds);
    free(vals);
}
END_TEST

/* a frame written with begin/seal is the frame cn_io_frame_seal makes of the same bytes,
 * opens with cn_io_frame_open, and misuse is refused */
START_TEST(test_writer_frame)
{
    const unsigned type = CN_IO_EXTERNAL_TYPE + 7;
    cn_io_writer_t w;
    cn_io_writer_init(&w);
    cn_io_writer_frame_begin(&w);
    write_vec(&w);
    cn_io_writer_frame_seal(&w, type, 5, 0x0102030405060708ULL);
    uint8_t *b;
    size_t len;
    ck_assert_int_eq(cn_io_writer_release(&b, &len, &w), CN_OK);
    const size_t total = CN_IO_HEADER_BYTES + sizeof VEC + CN_IO_TRAILER_BYTES;
    ck_assert_uint_eq(len, total);
    uint8_t ref[CN_IO_HEADER_BYTES + sizeof VEC + CN_IO_TRAILER_BYTES] = {0};
    memcpy(ref + CN_IO_HEADER_BYTES, VEC, sizeof VEC);
    ck_assert_int_eq(cn_io_frame_seal(ref, total, type, 5, 0x0102030405060708ULL), CN_OK);
    ck_assert(memcmp(b, ref, total) == 0);
    /* the header's fields by hand (format.md): magic, version 1.0, type, flags 0, count,
     * total length, fingerprint, all little-endian */
    const uint8_t head[CN_IO_HEADER_BYTES] = {
        'C', 'N', 'H', 'E', 1, 0, 0, 0, 0x07, 0x01, 0, 0, 5, 0, 0, 0, (uint8_t)total,
        0,   0,   0,   0,   0, 0, 0, 8, 7,    6,    5, 4, 3, 2, 1};
    ck_assert(memcmp(b, head, sizeof head) == 0);
    cn_io_header_t h;
    const uint8_t *body;
    size_t blen;
    ck_assert_int_eq(cn_io_frame_open(&h, &body, &blen, b, len, type), CN_OK);
    ck_assert_uint_eq(blen, sizeof VEC);
    ck_assert(memcmp(body, VEC, sizeof VEC) == 0);
    free(b);

    /* a frame into a fixed buffer of the exact size; one byte short fails */
    uint8_t *fb = malloc(total);
    cn_io_writer_init_fixed(&w, fb, total);
    cn_io_writer_frame_begin(&w);
    write_vec(&w);
    cn_io_writer_frame_seal(&w, type, 5, 0x0102030405060708ULL);
    ck_assert_int_eq(w.status, CN_OK);
    ck_assert(memcmp(fb, ref, total) == 0);
    cn_io_writer_init_fixed(&w, fb, total - 1);
    cn_io_writer_frame_begin(&w);
    write_vec(&w);
    cn_io_writer_frame_seal(&w, type, 5, 0);
    ck_assert_int_eq(w.status, CN_ERR_OUT_OF_RANGE);
    free(fb);

    /* misuse: begin after a write, seal without begin, a lib/io type */
    cn_io_writer_init(&w);
    cn_io_put_u16(&w, 1);
    cn_io_writer_frame_begin(&w);
    ck_assert_int_eq(w.status, CN_ERR_INVALID_ARG);
    cn_io_writer_clear(&w);
    cn_io_put_u16(&w, 1);
    cn_io_writer_frame_seal(&w, type, 1, 0);
    ck_assert_int_eq(w.status, CN_ERR_INVALID_ARG);
    cn_io_writer_clear(&w);
    cn_io_writer_frame_begin(&w);
    cn_io_writer_frame_seal(&w, CN_IO_CIPHERTEXT, 1, 0);
    ck_assert_int_eq(w.status, CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_io_writer_release(&b, &len, &w), CN_ERR_INVALID_ARG);
    ck_assert_ptr_null(b);
}
END_TEST

CN_SUITE(bytes)
{
    Suite *s = suite_create("bytes");
    TCase *tc = cn_tcase("core", 60);
    tcase_add_test(tc, test_writer_vector);
    tcase_add_test(tc, test_reader_vector);
    tcase_add_test(tc, test_reader_truncation);
    tcase_add_test(tc, test_writer_overflow);
    tcase_add_test(tc, test_random_records);
    tcase_add_test(tc, test_writer_frame);
    suite_add_tcase(s, tc);
    return s;
}
