/* The client/server round trip of the net/ tests. */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "net_fixture.h"

void cn_test_run_plan(cn_int128 *got, int *budget, const cn_plan_t *p, const int64_t *x,
                      size_t count, uint64_t stream)
{
    uint8_t seed[CN_SEED_BYTES] = {0x5e};
    memcpy(seed + 1, &stream, sizeof stream);
    uint8_t *pb, *keys, *up, *down;
    size_t pl, kl, ul, dl;
    cn_net_diag_t d = {{0}};
    cn_plan_t *sp;
    cn_client_t *c;
    cn_server_t *s;
    ck_assert_int_eq(cn_plan_to_bytes(&pb, &pl, p), CN_OK);
    ck_assert_msg(cn_plan_from_bytes(&sp, pb, pl, 1, &d) == CN_OK, "plan bytes: %s", d.msg);
    free(pb);
    ck_assert_int_eq(cn_client_create(&c, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
    cn_client_set_threads(c, 1); /* small rings: a thread team costs more than it saves */
    ck_assert_int_eq(cn_client_eval_keys(&keys, &kl, c), CN_OK);
    ck_assert_msg(cn_server_create(&s, sp, keys, kl, 1, &d) == CN_OK, "server: %s", d.msg);
    ck_assert_msg(cn_client_encrypt(&up, &ul, c, x, count, &d) == CN_OK, "encrypt: %s", d.msg);
    ck_assert_msg(cn_server_eval(&down, &dl, s, up, ul, NULL, &d) == CN_OK, "eval: %s", d.msg);
    ck_assert_msg(cn_client_decrypt(got, c, down, dl, count, &d) == CN_OK, "decrypt: %s",
                  d.msg);
    if (budget)
        ck_assert_msg(cn_client_reply_budget(budget, c, down, dl, &d) == CN_OK, "budget: %s",
                      d.msg);
    free(keys);
    free(up);
    free(down);
    cn_server_free(s);
    cn_client_free(c);
    cn_plan_free(sp);
}
