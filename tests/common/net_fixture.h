/* A client/server round trip for the net/ tests: the plan goes to the server as bytes,
 * the evaluation keys and batches too, as in a deployment. */
#ifndef CN_TEST_NET_FIXTURE_H
#define CN_TEST_NET_FIXTURE_H

#include "cryptonets/cryptonets.h"

/* A client and a server for one plan, and the bytes of the last round trip, kept for
 * tests that go on using them (refusals of bad batches, say). */
typedef struct {
    cn_plan_t *server_plan; /* the plan the server loaded from the plan's bytes */
    cn_client_t *client;
    cn_server_t *server;
    uint8_t *keys, *up, *down; /* evaluation keys, the last batch and its reply */
    size_t keys_len, up_len, down_len;
} cn_test_net_t;

/* The pair for plan p (which must outlive it): a client made from a deterministic seed
 * (stream) on one thread, and a server made from the plan's bytes (insecure parameters
 * allowed) and the client's evaluation keys, on server_threads threads. Every step is
 * asserted (Check) with its diag. */
void cn_test_net_open(cn_test_net_t *t, const cn_plan_t *p, uint64_t stream,
                      int server_threads);
/* One round trip of count inputs x (rows of cn_plan_inputs values): encrypted, evaluated
 * and decrypted into got[count][cn_plan_outputs]; *budget (if not NULL) receives the
 * reply's measured noise budget. t keeps the batch and the reply (up, down). Asserted. */
void cn_test_net_run(cn_test_net_t *t, cn_int128 *got, int *budget, const int64_t *x,
                     size_t count);
void cn_test_net_close(cn_test_net_t *t);

/* A small network of the MNIST network's shape: conv (3 maps, 3 x 3, stride 2, padding 1),
 * square, flatten, dense 6, square, dense 3 on 2 x 6 x 6 inputs in [0, 15], weights in
 * [-1, 1] and biases in [-1, 1] drawn from the test generator's stream. */
void cn_test_small_cnn(cn_model_t *m, uint64_t stream);

/* The tool suites' model: dense(4) -> square -> dense(3) on 6 raw inputs in [0, 15] (input
 * scale 1/15), fixed weights in [-1, 1]; variant 0 is the usual one, another variant changes
 * the weights (another plan of the same shape). Asserted. */
void cn_test_tool_model(cn_model_t *m, int variant);

/* open (server on one thread), run, close: one round trip of plan p. */
void cn_test_run_plan(cn_int128 *got, int *budget, const cn_plan_t *p, const int64_t *x,
                      size_t count, uint64_t stream);

#endif
