/* Tests of the IDX reader (net/idx.c): valid files of 1 to 3 dimensions, every
 * truncation, wrong magic and element type, extra bytes, zero and huge dimensions, a
 * missing file; and the MNIST files themselves when data/mnist/ holds them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/cryptonets.h"

static const char *tmp_path(void)
{
    return "build/test_idx.tmp";
}

static void write_file(const uint8_t *b, size_t len)
{
    FILE *f = fopen(tmp_path(), "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, len, f), len);
    fclose(f);
}

/* an IDX file of dims[0..nd) with data i mod 251 */
static size_t make_idx(uint8_t *b, const size_t *dims, size_t nd)
{
    size_t o = 0, count = 1;
    b[o++] = 0;
    b[o++] = 0;
    b[o++] = 8;
    b[o++] = (uint8_t)nd;
    for (size_t i = 0; i < nd; i++) {
        b[o++] = (uint8_t)(dims[i] >> 24);
        b[o++] = (uint8_t)(dims[i] >> 16);
        b[o++] = (uint8_t)(dims[i] >> 8);
        b[o++] = (uint8_t)dims[i];
        count *= dims[i];
    }
    for (size_t i = 0; i < count; i++)
        b[o++] = (uint8_t)(i % 251);
    return o;
}

START_TEST(test_idx_files)
{
    uint8_t b[4096];
    cn_idx_t t;
    cn_net_diag_t d;
    const size_t shapes[3][3] = {{17, 0, 0}, {5, 7, 0}, {3, 4, 6}};
    for (size_t nd = 1; nd <= 3; nd++) {
        const size_t len = make_idx(b, shapes[nd - 1], nd);
        write_file(b, len);
        ck_assert_int_eq(cn_idx_load(&t, tmp_path(), &d), CN_OK);
        ck_assert_uint_eq(t.ndims, nd);
        size_t count = 1;
        for (size_t i = 0; i < nd; i++) {
            ck_assert_uint_eq(t.dims[i], shapes[nd - 1][i]);
            count *= shapes[nd - 1][i];
        }
        ck_assert_uint_eq(t.count, count);
        for (size_t i = 0; i < count; i++)
            ck_assert_uint_eq(t.data[i], i % 251);
        cn_idx_clear(&t);
        /* every truncation */
        for (size_t cut = 0; cut < len; cut++) {
            write_file(b, cut);
            ck_assert_int_ne(cn_idx_load(&t, tmp_path(), &d), CN_OK);
            ck_assert(d.msg[0] != 0);
            ck_assert_ptr_null(t.data);
        }
        /* one byte too many */
        b[len] = 0;
        write_file(b, len + 1);
        ck_assert_int_eq(cn_idx_load(&t, tmp_path(), &d), CN_ERR_FORMAT);
    }
    /* wrong magic, element type (0x0D: float), dimension count */
    const size_t dims[2] = {2, 2};
    const size_t len = make_idx(b, dims, 2);
    for (int which = 0; which < 4; which++) {
        uint8_t c[64];
        memcpy(c, b, len);
        if (which == 0)
            c[0] = 1;
        else if (which == 1)
            c[2] = 0x0D;
        else if (which == 2)
            c[3] = 0;
        else
            c[3] = 9;
        write_file(c, len);
        ck_assert_int_eq(cn_idx_load(&t, tmp_path(), &d), CN_ERR_FORMAT);
    }
    /* a zero dimension, and dimensions whose product is absurd (no allocation) */
    uint8_t z[16] = {0, 0, 8, 2, 0, 0, 0, 0, 0, 0, 0, 1};
    write_file(z, 12);
    ck_assert_int_eq(cn_idx_load(&t, tmp_path(), &d), CN_ERR_FORMAT);
    uint8_t h[16] = {0, 0, 8, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    write_file(h, 12);
    ck_assert_int_eq(cn_idx_load(&t, tmp_path(), &d), CN_ERR_FORMAT);
    remove(tmp_path());
    ck_assert_int_eq(cn_idx_load(&t, "/nonexistent/idx", &d), CN_ERR_IO);
}
END_TEST

/* the MNIST files, when present (scripts/fetch_mnist.sh; CI fetches them) */
START_TEST(test_idx_mnist)
{
    cn_idx_t img, lab;
    cn_net_diag_t d;
    if (cn_idx_load(&img, "data/mnist/t10k-images-idx3-ubyte", &d) != CN_OK) {
        fprintf(stderr, "test_idx_mnist: skipped, no MNIST data in data/mnist "
                        "(run sh scripts/fetch_mnist.sh)\n");
        return;
    }
    ck_assert_int_eq(cn_idx_load(&lab, "data/mnist/t10k-labels-idx1-ubyte", &d), CN_OK);
    ck_assert_uint_eq(img.ndims, 3);
    ck_assert_uint_eq(img.dims[0], 10000);
    ck_assert_uint_eq(img.dims[1], 28);
    ck_assert_uint_eq(img.dims[2], 28);
    ck_assert_uint_eq(lab.ndims, 1);
    ck_assert_uint_eq(lab.dims[0], 10000);
    size_t hist[10] = {0};
    for (size_t i = 0; i < lab.count; i++) {
        ck_assert_uint_lt(lab.data[i], 10);
        hist[lab.data[i]]++;
    }
    for (int k = 0; k < 10; k++) /* every digit is about a tenth of the test set */
        ck_assert(hist[k] > 800 && hist[k] < 1200);
    cn_idx_clear(&img);
    cn_idx_clear(&lab);
}
END_TEST

CN_SUITE(idx)
{
    Suite *s = suite_create("idx");
    TCase *tc = cn_tcase("core", 60);
    tcase_add_test(tc, test_idx_files);
    tcase_add_test(tc, test_idx_mnist);
    suite_add_tcase(s, tc);
    return s;
}
