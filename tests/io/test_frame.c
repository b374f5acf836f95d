/* The framing of other modules' objects (io.h, docs/format.md "Framing"): the checksum
 * against values computed by the independent Python reader written from the format's
 * documentation (scripts/format_reader.py, its `checksum` function, on the bytes
 * (37 i + 11) mod 256), seal/open round trips, and every way a frame can be wrong. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/cryptonets.h"

static void pattern(uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(i * 37 + 11);
}

START_TEST(test_checksum_vectors)
{
    /* python3 -c "import sys; sys.path.insert(0, 'scripts'); import format_reader as f;
     *   print([hex(f.checksum(bytes((i*37+11) & 255 for i in range(n))))
     *          for n in (0, 1, 7, 8, 9, 100)])" */
    static const struct {
        size_t n;
        uint64_t sum;
    } v[] = {{0, 0x7acdbb98b1344213ULL}, {1, 0x0058d826d7b00fb1ULL},
             {7, 0x659c2970bba8b8c4ULL}, {8, 0xcec89801f62be5c7ULL},
             {9, 0x920ccbf2fbb87100ULL}, {100, 0x6f2144833267283cULL}};
    uint8_t b[100];
    pattern(b, sizeof b);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        ck_assert_msg(cn_io_checksum(b, v[i].n) == v[i].sum, "n = %zu", v[i].n);
}
END_TEST

START_TEST(test_frame_round_trip_and_faults)
{
    const size_t len = 32 + 21 + 8;
    uint8_t b[32 + 21 + 8], c[sizeof b];
    memset(b, 0, sizeof b);
    pattern(b + 32, 21);
    ck_assert_int_eq(
        cn_io_frame_seal(b, len, CN_IO_EXTERNAL_TYPE + 5, 3, 0x1122334455667788ULL), CN_OK);
    cn_io_header_t h;
    const uint8_t *body;
    size_t blen;
    ck_assert_int_eq(cn_io_frame_open(&h, &body, &blen, b, len, CN_IO_EXTERNAL_TYPE + 5),
                     CN_OK);
    ck_assert_ptr_eq(body, b + 32);
    ck_assert_uint_eq(blen, 21);
    ck_assert_uint_eq(h.count, 3);
    ck_assert_uint_eq(h.total_length, len);
    ck_assert(h.fingerprint == 0x1122334455667788ULL);
    /* the checksum is the format's, over everything before it */
    uint64_t tail = 0;
    for (int i = 7; i >= 0; i--)
        tail = tail << 8 | b[len - 8 + (size_t)i];
    ck_assert(tail == cn_io_checksum(b, len - 8));
    /* another type, a lib/io type, a short buffer, a longer one, each flipped bit */
    ck_assert_int_eq(cn_io_frame_open(&h, &body, &blen, b, len, CN_IO_EXTERNAL_TYPE + 6),
                     CN_ERR_FORMAT);
    ck_assert_int_eq(cn_io_frame_seal(b, len, CN_IO_CIPHERTEXT, 1, 0), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_io_frame_seal(b, 39, CN_IO_EXTERNAL_TYPE, 1, 0), CN_ERR_INVALID_ARG);
    for (size_t cut = 0; cut < len; cut++)
        ck_assert_int_ne(cn_io_frame_open(&h, &body, &blen, b, cut, CN_IO_EXTERNAL_TYPE + 5),
                         CN_OK);
    uint8_t big[sizeof b + 1];
    memcpy(big, b, len);
    big[len] = 0;
    ck_assert_int_eq(cn_io_frame_open(&h, &body, &blen, big, len + 1, CN_IO_EXTERNAL_TYPE + 5),
                     CN_ERR_FORMAT);
    for (size_t bit = 0; bit < len * 8; bit++) {
        memcpy(c, b, len);
        c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ck_assert_int_ne(cn_io_frame_open(&h, &body, &blen, c, len, CN_IO_EXTERNAL_TYPE + 5),
                         CN_OK);
    }
    /* a newer major version is refused as such */
    memcpy(c, b, len);
    c[4] = 9;
    ck_assert_int_eq(cn_io_frame_open(&h, &body, &blen, c, len, CN_IO_EXTERNAL_TYPE + 5),
                     CN_ERR_VERSION);
}
END_TEST

CN_SUITE(frame)
{
    Suite *s = suite_create("frame");
    TCase *tc = cn_tcase("core", 60);
    tcase_add_test(tc, test_checksum_vectors);
    tcase_add_test(tc, test_frame_round_trip_and_faults);
    suite_add_tcase(s, tc);
    return s;
}
