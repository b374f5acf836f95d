/* Tests of the committed MNIST model (examples/models/cryptonets_mnist.cnm): it loads,
 * compiles at 128-bit security as examples/mnist_private does, its quantized integer
 * network reaches 99.1% on the 10,000 test images, and an encrypted run of 64 images on a
 * small ring (security off, by name) equals the integer network exactly. Needs the MNIST
 * data (scripts/fetch_mnist.sh; CI fetches it); skipped with a message without it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/cryptonets.h"
#include "../../net/net_internal.h"

#define MODEL_PATH "examples/models/cryptonets_mnist.cnm"

typedef struct {
    cn_model_t m;
    cn_idx_t img, lab, train, train_lab;
    int shift;
} mn_t;

static int mn_load(mn_t *t)
{
    cn_net_diag_t d;
    memset(t, 0, sizeof *t);
    if (cn_idx_load(&t->img, "data/mnist/t10k-images-idx3-ubyte", &d) != CN_OK ||
        cn_idx_load(&t->lab, "data/mnist/t10k-labels-idx1-ubyte", &d) != CN_OK ||
        cn_idx_load(&t->train, "data/mnist/train-images-idx3-ubyte", &d) != CN_OK ||
        cn_idx_load(&t->train_lab, "data/mnist/train-labels-idx1-ubyte", &d) != CN_OK) {
        fprintf(stderr, "test_mnist: skipped, no MNIST data in data/mnist "
                        "(run sh scripts/fetch_mnist.sh)\n");
        cn_idx_clear(&t->img);
        cn_idx_clear(&t->lab);
        cn_idx_clear(&t->train);
        return 0;
    }
    ck_assert_msg(cn_model_load(&t->m, MODEL_PATH, &d) == CN_OK, "%s", d.msg);
    ck_assert_uint_eq(cn_model_inputs(&t->m), 784);
    ck_assert_uint_eq(cn_model_outputs(&t->m), 10);
    int bits = 0;
    while (((int64_t)1 << bits) - 1 < t->m.input_max)
        bits++;
    ck_assert_int_eq(((int64_t)1 << bits) - 1, t->m.input_max);
    t->shift = 8 - bits;
    return 1;
}

static void mn_clear(mn_t *t)
{
    cn_model_clear(&t->m);
    cn_idx_clear(&t->img);
    cn_idx_clear(&t->lab);
    cn_idx_clear(&t->train);
    cn_idx_clear(&t->train_lab);
}

/* the plan of examples/mnist_private (nc labelled calibration images, 5000 there; the
 * default criterion) */
static cn_plan_t *mn_plan(const mn_t *t, const cn_compile_opts_t *base, size_t nc)
{
    int64_t *calib = malloc(nc * 784 * sizeof *calib), *labels = malloc(nc * sizeof *labels);
    for (size_t i = 0; i < nc * 784; i++)
        calib[i] = t->train.data[i] >> t->shift;
    for (size_t i = 0; i < nc; i++)
        labels[i] = t->train_lab.data[i];
    cn_compile_opts_t o = *base;
    o.calib = calib;
    o.ncalib = nc;
    o.calib_labels = labels;
    cn_plan_t *p;
    cn_net_diag_t d;
    ck_assert_msg(cn_plan_compile(&p, &t->m, &o, &d) == CN_OK, "compile: %s", d.msg);
    free(calib);
    free(labels);
    return p;
}

START_TEST(test_mnist_model_accuracy)
{
    mn_t t;
    if (!mn_load(&t))
        return;
    /* 128-bit security, the compiler's choice for an IFMA server (the README's plan; the
     * plain evaluation below runs anywhere: under CN_SIMD=portable the host's profile
     * would cost other plans, and the width search's 5% band then takes 3 3 3, 98.98%) */
    cn_compile_opts_t o = {0};
    o.cost_profile = CN_COST_AVX512IFMA;
    cn_plan_t *p = mn_plan(&t, &o, 5000);
    ck_assert_int_eq(cn_plan_params(p)->security, CN_SEC_128);
    const size_t N = t.img.dims[0];
    int64_t *x = malloc(N * 784 * sizeof *x);
    cn_int128 *out = malloc(N * 10 * sizeof *out);
    for (size_t i = 0; i < N * 784; i++)
        x[i] = t.img.data[i] >> t.shift;
    ck_assert_int_eq(cn_plan_eval_plain(out, p, x, N), CN_OK);
    size_t ok = 0;
    for (size_t s = 0; s < N; s++) {
        size_t b = 0;
        for (size_t k = 1; k < 10; k++)
            if (out[s * 10 + k] > out[s * 10 + b])
                b = k;
        ok += b == t.lab.data[s];
    }
    fprintf(stderr,
            "test_mnist: quantized integer network %.2f%% on %zu test images "
            "(weights of %u %u %u bits, outputs below 2^%.1f, n = %zu, %zu plaintext "
            "moduli)\n",
            100.0 * (double)ok / (double)N, N, cn_plan_layer_weight_bits(p, 0),
            cn_plan_layer_weight_bits(p, 1), cn_plan_layer_weight_bits(p, 2),
            cn_plan_output_bits(p), cn_plan_params(p)->n, cn_plan_params(p)->nt);
    /* 99.1%, the README's figure (float 99.18%): the default plan since issue 17's
     * two-moduli default (n = 16384 on an IFMA CPU) reaches 99.19%, 3 3 3-bit weights
     * (what 1000 calibration images chose there) 98.98% */
    ck_assert_msg(ok * 1000 >= 991 * N, "accuracy %zu / %zu below 99.1%%", ok, N);
    free(x);
    free(out);
    cn_plan_free(p);
    mn_clear(&t);
}
END_TEST

START_TEST(test_mnist_encrypted_small_ring)
{
    mn_t t;
    if (!mn_load(&t))
        return;
    const cn_compile_opts_t o = {.n = 2048, .security = CN_SEC_NONE_INSECURE};
    /* exactness only: 1000 calibration images keep the search's time down */
    cn_plan_t *p = mn_plan(&t, &o, 1000);
    const size_t count = 64;
    int64_t *x = malloc(count * 784 * sizeof *x);
    for (size_t i = 0; i < count * 784; i++)
        x[i] = t.img.data[i] >> t.shift;
    cn_int128 *ref = malloc(count * 10 * sizeof *ref), *got = malloc(count * 10 * sizeof *got);
    ck_assert_int_eq(cn_plan_eval_plain(ref, p, x, count), CN_OK);
    const uint8_t seed[CN_SEED_BYTES] = {64};
    cn_client_t *c;
    cn_server_t *s;
    uint8_t *keys, *up, *down;
    size_t kl, ul, dl;
    ck_assert_int_eq(cn_client_create(&c, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
    ck_assert_int_eq(cn_client_eval_keys(&keys, &kl, c), CN_OK);
    ck_assert_int_eq(cn_server_create(&s, p, keys, kl, 0, NULL), CN_OK);
    ck_assert_int_eq(cn_client_encrypt(&up, &ul, c, x, count, NULL), CN_OK);
    ck_assert_int_eq(cn_server_eval(&down, &dl, s, up, ul, NULL, NULL), CN_OK);
    ck_assert_int_eq(cn_client_decrypt(got, c, down, dl, count, NULL), CN_OK);
    for (size_t i = 0; i < count * 10; i++)
        ck_assert_msg(got[i] == ref[i], "image %zu output %zu differs", i / 10, i % 10);
    free(keys);
    free(up);
    free(down);
    cn_server_free(s);
    cn_client_free(c);
    free(x);
    free(ref);
    free(got);
    cn_plan_free(p);
    mn_clear(&t);
}
END_TEST

CN_SUITE(mnist)
{
    Suite *s = suite_create("mnist");
    TCase *tc = cn_tcase("core", 600);
    tcase_add_test(tc, test_mnist_model_accuracy);
    tcase_add_test(tc, test_mnist_encrypted_small_ring);
    suite_add_tcase(s, tc);
    return s;
}
