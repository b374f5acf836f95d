/* The client/server round trip of the net/ tests. */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "net_fixture.h"
#include "util.h"

void cn_test_net_open(cn_test_net_t *t, const cn_plan_t *p, uint64_t stream, int server_threads)
{
    memset(t, 0, sizeof *t);
    uint8_t seed[CN_SEED_BYTES] = {0x5e};
    memcpy(seed + 1, &stream, sizeof stream);
    uint8_t *pb;
    size_t pl;
    cn_net_diag_t d = {{0}};
    ck_assert_int_eq(cn_plan_to_bytes(&pb, &pl, p), CN_OK);
    ck_assert_msg(cn_plan_from_bytes(&t->server_plan, pb, pl, 1, &d) == CN_OK, "plan bytes: %s",
                  d.msg);
    free(pb);
    ck_assert_int_eq(cn_client_create(&t->client, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
    cn_client_set_threads(t->client,
                          1); /* small rings: a thread team costs more than it saves */
    ck_assert_int_eq(cn_client_eval_keys(&t->keys, &t->keys_len, t->client), CN_OK);
    ck_assert_msg(cn_server_create(&t->server, t->server_plan, t->keys, t->keys_len,
                                   server_threads, &d) == CN_OK,
                  "server: %s", d.msg);
}

void cn_test_net_run(cn_test_net_t *t, cn_int128 *got, int *budget, const int64_t *x,
                     size_t count)
{
    cn_net_diag_t d = {{0}};
    free(t->up);
    free(t->down);
    t->up = t->down = NULL;
    ck_assert_msg(cn_client_encrypt(&t->up, &t->up_len, t->client, x, count, &d) == CN_OK,
                  "encrypt: %s", d.msg);
    ck_assert_msg(
        cn_server_eval(&t->down, &t->down_len, t->server, t->up, t->up_len, NULL, &d) == CN_OK,
        "eval: %s", d.msg);
    ck_assert_msg(cn_client_decrypt(got, t->client, t->down, t->down_len, count, &d) == CN_OK,
                  "decrypt: %s", d.msg);
    if (budget)
        ck_assert_msg(cn_client_reply_budget(budget, t->client, t->down, t->down_len, &d) ==
                          CN_OK,
                      "budget: %s", d.msg);
}

void cn_test_net_close(cn_test_net_t *t)
{
    free(t->keys);
    free(t->up);
    free(t->down);
    cn_server_free(t->server);
    cn_client_free(t->client);
    cn_plan_free(t->server_plan);
    memset(t, 0, sizeof *t);
}

void cn_test_run_plan(cn_int128 *got, int *budget, const cn_plan_t *p, const int64_t *x,
                      size_t count, uint64_t stream)
{
    cn_test_net_t t;
    cn_test_net_open(&t, p, stream, 1);
    cn_test_net_run(&t, got, budget, x, count);
    cn_test_net_close(&t);
}

void cn_test_small_cnn(cn_model_t *m, uint64_t stream)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, stream);
    cn_net_diag_t d;
    ck_assert_int_eq(cn_model_init(m, 2, 6, 6, 1.0 / 15, 0, 15), CN_OK);
    double w[512], b[16];
    for (size_t i = 0; i < 512; i++)
        w[i] = ((double)cn_test_rng_below(&r, 2001) - 1000) / 1000;
    for (size_t i = 0; i < 16; i++)
        b[i] = ((double)cn_test_rng_below(&r, 201) - 100) / 100;
    ck_assert_int_eq(cn_model_add_conv2d(m, 3, 3, 3, 2, 1, w, b, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_square(m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_flatten(m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(m, 6, w + 64, b + 3, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_square(m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(m, 3, w + 300, b + 9, &d), CN_OK);
}

void cn_test_tool_model(cn_model_t *m, int variant)
{
    enum { NIN = 6, NH = 4, NOUT = 3 };
    double w1[NH * NIN], b1[NH], w2[NOUT * NH], b2[NOUT] = {0.2, -0.1, 0.05};
    for (int i = 0; i < NH * NIN; i++)
        w1[i] = ((i * 7 + variant * 5) % 13 - 6) / 6.0;
    for (int i = 0; i < NH; i++)
        b1[i] = (i - 1.5) / 3;
    for (int i = 0; i < NOUT * NH; i++)
        w2[i] = ((i * 5 + variant) % 9 - 4) / 4.0;
    cn_net_diag_t d = {{0}};
    ck_assert_int_eq(cn_model_init(m, 1, 1, NIN, 1.0 / 15, 0, 15), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(m, NH, w1, b1, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_square(m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(m, NOUT, w2, b2, &d), CN_OK);
}
