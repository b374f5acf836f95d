/* A client/server round trip for the net/ tests: the plan goes to the server as bytes,
 * the evaluation keys and batches too, as in a deployment. */
#ifndef CN_TEST_NET_FIXTURE_H
#define CN_TEST_NET_FIXTURE_H

#include "cryptonets/cryptonets.h"

/* Runs plan p encrypted on count inputs x (rows of cn_plan_inputs values): a client made
 * from a deterministic seed (stream), a server made from the plan's bytes (insecure
 * parameters allowed) and the client's evaluation keys. got[count][cn_plan_outputs]
 * receives the decrypted outputs and *budget (if not NULL) the reply's measured noise
 * budget. Every step is asserted (Check) with its diag. */
void cn_test_run_plan(cn_int128 *got, int *budget, const cn_plan_t *p, const int64_t *x,
                      size_t count, uint64_t stream);

#endif
