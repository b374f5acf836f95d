/* The writer's bit packing (lib/io/stream.c, cn_wr_packed) into a buffer and through a
 * FILE, against an independent bit-by-bit packer (docs/format.md: values LSB first, the
 * run padded with zero bits to a byte), for every width 1..64 and run lengths around the
 * word and chunk boundaries; and read back by cn_rd_packed. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "internal/cpu.h"
#include "io/io_internal.h"

/* bit j of the run is bit (j mod bits) of v[j / bits] */
static void pack_bits(uint8_t *out, const uint64_t *v, size_t n, unsigned bits)
{
    memset(out, 0, (n * bits + 7) / 8);
    for (size_t j = 0; j < n * bits; j++)
        if ((v[j / bits] >> (j % bits)) & 1)
            out[j / 8] |= (uint8_t)(1u << (j % 8));
}

START_TEST(test_packed_widths)
{
    static const size_t lens[] = {0, 1, 7, 8, 9, 63, 64, 65, 1000, 8192};
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1702);
    uint64_t *v = malloc(8192 * sizeof *v), *back = malloc(8192 * sizeof *back);
    uint8_t *want = malloc(8192 * 8 + 8), *got = malloc(8192 * 8 + 8);
    for (unsigned bits = 1; bits <= 64; bits++) {
        const uint64_t mask = bits == 64 ? ~(uint64_t)0 : ((uint64_t)1 << bits) - 1;
        for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
            const size_t n = lens[li], len = cn_io_packed_bytes(n, bits);
            for (size_t i = 0; i < n; i++)
                v[i] = i % 5 == 0 ? mask : cn_test_rng_next(&r) & mask;
            if (bits == 64) /* the reader's bound is 2^64 - 1 at most */
                for (size_t i = 0; i < n; i++)
                    v[i] -= v[i] == mask;
            pack_bits(want, v, n, bits);
            /* into a buffer, with a byte before it (unaligned) and the checksum on */
            cn_wr_t w = {.buf = got, .cap = len + 1};
            cn_hash_init(&w.hs);
            cn_wr_bytes(&w, "x", 1);
            cn_wr_packed(&w, v, n, bits);
            ck_assert_int_eq(w.err, CN_OK);
            ck_assert_uint_eq(w.pos, len + 1);
            ck_assert(memcmp(got + 1, want, len) == 0);
            cn_hash_t h;
            cn_hash_init(&h);
            cn_hash_update(&h, got, len + 1);
            ck_assert_uint_eq(cn_hash_final(&h), cn_hash_final(&w.hs));
            /* one byte short: refused, nothing written past the end */
            cn_wr_t s = {.buf = got, .cap = len ? len - 1 : 0, .nohash = 1};
            cn_wr_packed(&s, v, n, bits);
            ck_assert_int_eq(s.err, len ? CN_ERR_OUT_OF_RANGE : CN_OK);
            /* through a FILE */
            FILE *f = tmpfile();
            ck_assert_ptr_nonnull(f);
            cn_wr_t fw = {.f = f};
            cn_hash_init(&fw.hs);
            cn_wr_packed(&fw, v, n, bits);
            ck_assert_int_eq(fw.err, CN_OK);
            ck_assert_int_eq((long)ftell(f), (long)len);
            rewind(f);
            ck_assert_uint_eq(fread(got, 1, len, f), len);
            fclose(f);
            ck_assert(memcmp(got, want, len) == 0);
#ifdef CN_BUILD_AVX512
            /* the VBMI kernel itself (the writer takes it where the CPU has VBMI) */
            if ((cn_cpu_features() & CN_CPU_AVX512F) && __builtin_cpu_supports("avx512vbmi") &&
                bits >= 8 && bits <= 57) {
                memset(got, 0xa5, len + 64);
                size_t done = cn_io_pack8_vbmi(got, v, n, bits);
                ck_assert_uint_eq(done, n / 8 * 8);
                ck_assert(memcmp(got, want, done / 8 * bits) == 0);
                ck_assert_uint_eq(got[done / 8 * bits], 0xa5); /* nothing written past */
            }
#endif
            /* read back */
            cn_rd_t rd = {.buf = want, .len = len};
            cn_hash_init(&rd.hs);
            cn_rd_packed(&rd, back, n, bits, mask == ~(uint64_t)0 ? mask : mask + 1);
            ck_assert_int_eq(rd.err, CN_OK);
            ck_assert(n == 0 || memcmp(back, v, n * sizeof *v) == 0);
        }
    }
    free(v);
    free(back);
    free(want);
    free(got);
}
END_TEST

CN_SUITE(pack)
{
    Suite *s = suite_create("pack");
    TCase *tc = cn_tcase("core", 60);
    tcase_add_test(tc, test_packed_widths);
    suite_add_tcase(s, tc);
    return s;
}
