/* Tests of L1's chunk in one pass (net/runtime/chunked.c, conv_chunk: the biases added in
 * the tile of coefficient 0, the outputs streamed out) on random small convolutional
 * models: kernel sizes 1 to 5, strides 1 to 3, padding, one or two input channels, one
 * to four maps, and a plan whose first segment has no square (L1 straight into L2). For
 * each plan and chunk count the server's reply is compared byte for byte with the reply
 * of the per-ciphertext linear mode layer by layer (the oracle for the bytes: every linear
 * layer through the public BFV API, one scalar product, addition and add_plain at a time,
 * an independent path from the blocked kernels), and every decrypted output with the
 * integer network's (cn_plan_eval_plain, the oracle for the values). */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/cryptonets.h"
#include "../../net/runtime/runtime.h"

/* conv (maps x kh x kh, stride, pad) on c x h x h inputs, square, flatten, dense, square,
 * dense; random weights in [-1, 1] and biases in [-1, 1] (stream) */
static void random_cnn(cn_model_t *m, size_t c, size_t h, size_t maps, size_t kh, size_t stride,
                       size_t pad, int square, uint64_t stream)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, stream);
    cn_net_diag_t d;
    static double w[4096], b[64];
    for (size_t i = 0; i < 4096; i++)
        w[i] = ((double)cn_test_rng_below(&r, 2001) - 1000) / 1000;
    for (size_t i = 0; i < 64; i++)
        b[i] = ((double)cn_test_rng_below(&r, 201) - 100) / 100;
    ck_assert_int_eq(cn_model_init(m, c, h, h, 1.0 / 15, 0, 15), CN_OK);
    ck_assert_msg(cn_model_add_conv2d(m, maps, kh, kh, stride, pad, w, b, &d) == CN_OK, "%s",
                  d.msg);
    if (square)
        ck_assert_int_eq(cn_model_add_square(m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_flatten(m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(m, 5, w + 200, b + 10, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_square(m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(m, 3, w + 3000, b + 40, &d), CN_OK);
}

/* the server's reply to up (the caller frees it), in mode and k chunks */
static uint8_t *reply(size_t *dl, cn_server_t *s, cn_linear_mode mode, size_t k,
                      const uint8_t *up, size_t ul)
{
    uint8_t *down = NULL;
    cn_net_diag_t d;
    ck_assert_int_eq(cn_server_set_linear_mode(s, mode), CN_OK);
    ck_assert_int_eq(cn_server_set_chunks(s, k), CN_OK);
    ck_assert_msg(cn_server_eval(&down, dl, s, up, ul, NULL, &d) == CN_OK, "%zu chunks: %s", k,
                  d.msg);
    ck_assert_uint_eq(s->pool->nfree, s->pool->cap);
    return down;
}

/* count random inputs through p: the reply in every chunk count of ks[0..nk) and both
 * linear modes equals the per-ciphertext reply layer by layer, and decrypts to the
 * integer network's outputs */
static void check_plan(const cn_plan_t *p, const size_t *ks, size_t nk, size_t count,
                       uint64_t stream)
{
    const size_t nin = cn_plan_inputs(p), nout = cn_plan_outputs(p);
    cn_test_rng_t r;
    cn_test_rng_init(&r, stream);
    int64_t *x = malloc(count * nin * sizeof *x);
    for (size_t i = 0; i < count * nin; i++)
        x[i] =
            p->in_min + (int64_t)cn_test_rng_below(&r, (uint64_t)(p->in_max - p->in_min + 1));
    cn_int128 *ref = malloc(count * nout * sizeof *ref),
              *got = malloc(count * nout * sizeof *got);
    ck_assert_int_eq(cn_plan_eval_plain(ref, p, x, count), CN_OK);
    const uint8_t seed[CN_SEED_BYTES] = {(uint8_t)stream, 29};
    cn_client_t *c;
    cn_server_t *s;
    uint8_t *keys, *up;
    size_t kl, ul, fl;
    ck_assert_int_eq(cn_client_create(&c, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
    ck_assert_int_eq(cn_client_eval_keys(&keys, &kl, c), CN_OK);
    ck_assert_int_eq(cn_server_create(&s, p, keys, kl, 2, NULL), CN_OK);
    ck_assert_int_eq(cn_client_encrypt(&up, &ul, c, x, count, NULL), CN_OK);
    uint8_t *first = reply(&fl, s, CN_LINEAR_PER_CIPHERTEXT, 0, up, ul);
    ck_assert_int_eq(cn_client_decrypt(got, c, first, fl, count, NULL), CN_OK);
    for (size_t i = 0; i < count * nout; i++)
        ck_assert_msg(got[i] == ref[i], "layer by layer: slot %zu output %zu", i / nout,
                      i % nout);
    for (size_t v = 0; v <= nk; v++)
        for (int mode = 0; mode < 2; mode++) {
            const size_t k = v ? ks[v - 1] : 0;
            if (!k && mode)
                continue; /* the reference itself */
            size_t dl;
            uint8_t *down =
                reply(&dl, s, mode ? CN_LINEAR_PER_CIPHERTEXT : CN_LINEAR_BLOCKED, k, up, ul);
            ck_assert_uint_eq(dl, fl);
            ck_assert_msg(memcmp(down, first, dl) == 0, "%zu chunks, mode %d: other bytes", k,
                          mode);
            free(down);
        }
    free(first);
    free(up);
    free(keys);
    free(x);
    free(ref);
    free(got);
    cn_server_free(s);
    cn_client_free(c);
}

/* the model's plan at n = 1024 (insecure: tests only), with a first segment */
static cn_plan_t *compile(const cn_model_t *m, unsigned bits)
{
    cn_compile_opts_t o = {.weight_bits = bits, .n = 1024, .security = CN_SEC_NONE_INSECURE};
    cn_plan_t *p;
    cn_net_diag_t d;
    ck_assert_msg(cn_plan_compile(&p, m, &o, &d) == CN_OK, "compile: %s", d.msg);
    ck_assert_uint_gt(cn_segment_end(p->ops, p->nops), 0);
    return p;
}

START_TEST(test_chunked_conv_random)
{
    /* {channels, size, maps, kernel, stride, pad} */
    static const size_t shapes[][6] = {
        {1, 7, 3, 3, 2, 1}, {1, 6, 2, 1, 1, 0}, {2, 8, 4, 5, 3, 0},
        {1, 9, 1, 2, 2, 0}, {2, 5, 3, 3, 1, 1},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const size_t *sh = shapes[i];
        cn_model_t m;
        random_cnn(&m, sh[0], sh[1], sh[2], sh[3], sh[4], sh[5], 1, 400 + i);
        cn_plan_t *p = compile(&m, 4);
        const size_t all = p->ops[0].lin.nout, ks[] = {1, 2, 3, all > 7 ? 7 : all, all};
        check_plan(p, ks, sizeof ks / sizeof *ks, 24, 500 + i);
        cn_plan_free(p);
        cn_model_clear(&m);
    }
}
END_TEST

/* a first segment without element-wise ops: the conv's square taken out of a compiled
 * plan, so that L1 feeds L2 directly (the plaintext network is the plan's ops, so the
 * oracle follows) */
START_TEST(test_chunked_conv_no_square)
{
    cn_model_t m;
    random_cnn(&m, 1, 7, 3, 3, 2, 1, 1, 611);
    cn_plan_t *p = compile(&m, 4);
    size_t o = 1;
    while (o < p->nops && p->ops[o].kind != CN_OP_LINEAR)
        o++;
    ck_assert_uint_gt(o, 1);
    memmove(&p->ops[1], &p->ops[o], (p->nops - o) * sizeof *p->ops);
    p->nops -= o - 1;
    ck_assert_uint_eq(cn_segment_end(p->ops, p->nops), 1);
    const size_t all = p->ops[0].lin.nout, ks[] = {1, 4, all};
    check_plan(p, ks, sizeof ks / sizeof *ks, 16, 612);
    cn_plan_free(p);
    cn_model_clear(&m);
}
END_TEST

CN_SUITE(chunked_conv)
{
    Suite *s = suite_create("chunked_conv");
    TCase *tc = cn_tcase("core", 600);
    tcase_add_test(tc, test_chunked_conv_random);
    tcase_add_test(tc, test_chunked_conv_no_square);
    suite_add_tcase(s, tc);
    return s;
}
