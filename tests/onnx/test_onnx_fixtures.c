/* The PyTorch exports of examples/pytorch (tests/fixtures/onnx/) against PyTorch's own
 * logits (the independent oracle, written by the export script next to each file): each
 * model is imported with no options, so the input range and scale come from the file's
 * metadata (0:15 and 1/15), run by cn_model_forward on the first 100 MNIST test images
 * (pixel >> 4), and compared within 1e-4 of max(|logit|, 1). The CryptoNets export then
 * compiles at 128-bit security and its integer network predicts as the float one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/cryptonets.h"

static void check_fixture(const char *name)
{
    char path[256];
    cn_model_t m;
    cn_net_diag_t d = {{0}};
    snprintf(path, sizeof path, "tests/fixtures/onnx/%s.onnx", name);
    ck_assert_msg(cn_model_load_onnx(&m, path, NULL, &d) == CN_OK, "%s: %s", path, d.msg);
    ck_assert_int_eq(m.input_min, 0);
    ck_assert_int_eq(m.input_max, 15);
    ck_assert_uint_eq(cn_model_inputs(&m), 784);
    ck_assert_uint_eq(cn_model_outputs(&m), 10);
    cn_idx_t img;
    ck_assert_msg(cn_idx_load(&img, "data/mnist/t10k-images-idx3-ubyte", &d) == CN_OK, "%s",
                  d.msg);
    snprintf(path, sizeof path, "tests/fixtures/onnx/%s_logits.csv", name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s", path);
    char line[4096];
    size_t rows = 0;
    int64_t x[784];
    double out[10];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        double want[11];
        char *p = line;
        for (int k = 0; k < 11; k++) {
            want[k] = strtod(p, &p);
            if (*p == ',')
                p++;
        }
        for (size_t i = 0; i < 784; i++)
            x[i] = img.data[rows * 784 + i] >> 4;
        ck_assert_int_eq(cn_model_forward(out, &m, x), CN_OK);
        for (int k = 0; k < 10; k++)
            ck_assert_msg(fabs(out[k] - want[k + 1]) <= 1e-4 * fmax(fabs(want[k + 1]), 1),
                          "%s image %zu logit %d: %.7g, PyTorch %.7g", name, rows, k, out[k],
                          want[k + 1]);
        rows++;
    }
    fclose(f);
    ck_assert_uint_eq(rows, 100);
    if (!strcmp(name, "cryptonets_mnist")) {
        cn_compile_opts_t o = {0};
        o.weight_bits = 4;
        cn_plan_t *p;
        ck_assert_msg(cn_plan_compile(&p, &m, &o, &d) == CN_OK, "compile: %s", d.msg);
        ck_assert_int_eq(cn_plan_params(p)->security, CN_SEC_128);
        cn_plan_free(p);
    }
    cn_idx_clear(&img);
    cn_model_clear(&m);
}

START_TEST(test_cryptonets_export)
{
    check_fixture("cryptonets_mnist");
}
END_TEST

START_TEST(test_polybn_export)
{
    check_fixture("polybn_mnist");
}
END_TEST

CN_SUITE(onnx_fixtures)
{
    Suite *s = suite_create("onnx_fixtures");
    TCase *tc = cn_tcase("core", 120);
    tcase_add_test(tc, test_cryptonets_export);
    tcase_add_test(tc, test_polybn_export);
    suite_add_tcase(s, tc);
    return s;
}
