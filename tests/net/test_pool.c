/* Tests of the server's polynomial pool (net/runtime/pool.c): blocks handed out and taken
 * back, a malloc fallback when the arena is empty, buffers the library allocated freed
 * (the sanitizer build checks that no arena block reaches free and nothing leaks); and a
 * server whose pool is reused across batches, or too small for the plan, replying the
 * same bytes, every output equal to the integer network's (the oracle). */
#include <stdlib.h>
#include <string.h>

#include "common/net_fixture.h"
#include "common/util.h"
#include "cryptonets/cryptonets.h"
#include "../../net/runtime/runtime.h"
#include "bfv/check.h"

START_TEST(test_pool_blocks)
{
    cn_bfv_params_t prm;
    ck_assert_int_eq(cn_bfv_params_default(&prm, 64, 3, 40, 41, 1, 16, CN_SEC_NONE_INSECURE),
                     CN_OK);
    cn_bfv_context_t *ctx;
    ck_assert_int_eq(cn_bfv_context_create(&ctx, &prm), CN_OK);
    cn_pool_t p;
    ck_assert_int_eq(cn_pool_init(&p, 4, 64, 3), CN_OK);
    ck_assert_ptr_nonnull(p.base);
    ck_assert_uint_eq(p.nfree, 4);
    ck_assert_uint_eq((uintptr_t)p.base % 4096, 0);
    cn_bfv_ciphertext_t a = {0}, b = {0};
    ck_assert_int_eq(cn_pool_shape(&p, &a, 3, 3, ctx), CN_OK);
    ck_assert_uint_eq(p.nfree, 1);
    ck_assert_ptr_eq(a.c[0].data, p.base); /* the lowest block first */
    ck_assert_int_eq(cn_bfv_check_ct(&a, ctx), CN_OK);
    /* two blocks wanted, one left: the other from malloc */
    ck_assert_int_eq(cn_pool_shape(&p, &b, 2, 2, ctx), CN_OK);
    ck_assert_uint_eq(p.nfree, 0);
    ck_assert_uint_eq(p.misses, 1);
    ck_assert_int_eq(cn_bfv_check_ct(&b, ctx), CN_OK);
    for (size_t c = 0; c < 2; c++)
        memset(b.c[c].data, 0x5a, 2 * 64 * sizeof(uint64_t));
    /* fewer polynomials and a lower level: the blocks stay, the third goes back */
    uint64_t *keep = a.c[1].data;
    ck_assert_int_eq(cn_pool_shape(&p, &a, 2, 1, ctx), CN_OK);
    ck_assert_ptr_eq(a.c[1].data, keep);
    ck_assert_ptr_null(a.c[2].data);
    ck_assert_uint_eq(a.c[0].k, 1);
    ck_assert_uint_eq(p.nfree, 1);
    cn_pool_put(&p, &a);
    cn_pool_put(&p, &b); /* one block back, the malloc one freed */
    ck_assert_uint_eq(p.nfree, 4);
    ck_assert_ptr_null(b.c[0].data);
    /* the library's own ciphertext: kept where its shape fits, freed when it comes back */
    cn_bfv_ciphertext_t c = {0};
    ck_assert_int_eq(cn_bfv_ciphertext_init(&c, ctx), CN_OK);
    keep = c.c[0].data;
    ck_assert_int_eq(cn_pool_shape(&p, &c, 3, 3, ctx), CN_OK);
    ck_assert_ptr_eq(c.c[0].data, keep);
    ck_assert_uint_eq(p.nfree, 3);
    ck_assert_int_eq(cn_pool_shape(&p, &c, 2, 2, ctx), CN_OK); /* 3 rows: replaced */
    ck_assert_ptr_ne(c.c[0].data, keep);
    ck_assert_uint_eq(p.nfree, 2);
    cn_pool_put(&p, &c);
    ck_assert_uint_eq(p.nfree, 4);
    ck_assert_int_eq(cn_pool_shape(&p, &c, 4, 2, ctx), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_pool_shape(&p, &c, 2, 4, ctx), CN_ERR_INVALID_ARG);
    cn_pool_clear(&p);
    /* no arena, and no pool at all: malloc throughout */
    ck_assert_int_eq(cn_pool_init(&p, 0, 64, 3), CN_OK);
    ck_assert_ptr_null(p.base);
    ck_assert_int_eq(cn_pool_shape(&p, &a, 2, 3, ctx), CN_OK);
    cn_pool_put(&p, &a);
    cn_pool_clear(&p);
    ck_assert_int_eq(cn_pool_shape(NULL, &a, 3, 3, ctx), CN_OK);
    cn_pool_put(NULL, &a);
    cn_bfv_context_free(ctx);
}
END_TEST

START_TEST(test_pool_server)
{
    cn_model_t m;
    cn_test_small_cnn(&m, 71); /* conv, square, dense, square, dense */
    cn_compile_opts_t o = {.weight_bits = 5, .n = 2048, .security = CN_SEC_NONE_INSECURE};
    cn_plan_t *p;
    cn_net_diag_t d;
    ck_assert_msg(cn_plan_compile(&p, &m, &o, &d) == CN_OK, "compile: %s", d.msg);
    const size_t nin = cn_plan_inputs(p), nout = cn_plan_outputs(p), count = 100;
    cn_test_rng_t r;
    cn_test_rng_init(&r, 72);
    int64_t *x = malloc(count * nin * sizeof *x);
    for (size_t i = 0; i < count * nin; i++)
        x[i] = (int64_t)cn_test_rng_below(&r, 16);
    cn_int128 *ref = malloc(count * nout * sizeof *ref),
              *got = malloc(count * nout * sizeof *got);
    ck_assert_int_eq(cn_plan_eval_plain(ref, p, x, count), CN_OK);
    const uint8_t seed[CN_SEED_BYTES] = {73};
    cn_client_t *c;
    cn_server_t *s;
    uint8_t *keys, *up, *first = NULL;
    size_t kl, ul, fl = 0;
    ck_assert_int_eq(cn_client_create(&c, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
    ck_assert_int_eq(cn_client_eval_keys(&keys, &kl, c), CN_OK);
    ck_assert_int_eq(cn_server_create(&s, p, keys, kl, 2, NULL), CN_OK);
    ck_assert_uint_eq(s->pool->cap, cn_pool_blocks(p, 2));
    ck_assert_int_eq(cn_client_encrypt(&up, &ul, c, x, count, NULL), CN_OK);
    /* three batches on the sized pool, then two on a pool of 3 blocks (mostly malloc) and
     * one on none: the same reply bytes, every block back after each batch */
    for (int rep = 0; rep < 6; rep++) {
        if (rep == 3 || rep == 5) {
            cn_pool_clear(s->pool);
            ck_assert_int_eq(cn_pool_init(s->pool, rep == 3 ? 3 : 0, cn_plan_params(p)->n,
                                          cn_plan_params(p)->nq),
                             CN_OK);
        }
        uint8_t *down;
        size_t dl;
        ck_assert_int_eq(cn_server_eval(&down, &dl, s, up, ul, NULL, NULL), CN_OK);
        ck_assert_uint_eq(s->pool->nfree, s->pool->cap);
        if (rep == 4)
            ck_assert_uint_gt(s->pool->misses, 0);
        ck_assert_int_eq(cn_client_decrypt(got, c, down, dl, count, NULL), CN_OK);
        for (size_t i = 0; i < count * nout; i++)
            ck_assert_msg(got[i] == ref[i], "batch %d, slot %zu output %zu", rep, i / nout,
                          i % nout);
        if (!first) {
            first = down;
            fl = dl;
        } else {
            ck_assert_uint_eq(dl, fl);
            ck_assert_mem_eq(down, first, dl);
            free(down);
        }
    }
    /* a corrupted batch is refused and leaves every block in the pool */
    cn_pool_clear(s->pool);
    ck_assert_int_eq(cn_pool_init(s->pool, cn_pool_blocks(p, 2), cn_plan_params(p)->n,
                                  cn_plan_params(p)->nq),
                     CN_OK);
    uint8_t *bad;
    size_t bl;
    up[ul / 2] ^= 4;
    ck_assert_int_eq(cn_server_eval(&bad, &bl, s, up, ul, NULL, NULL), CN_ERR_FORMAT);
    ck_assert_uint_eq(s->pool->nfree, s->pool->cap);
    free(first);
    free(up);
    free(keys);
    free(x);
    free(ref);
    free(got);
    cn_server_free(s);
    cn_client_free(c);
    cn_plan_free(p);
    cn_model_clear(&m);
}
END_TEST

CN_SUITE(pool)
{
    Suite *s = suite_create("pool");
    TCase *tc = cn_tcase("core", 300);
    tcase_add_test(tc, test_pool_blocks);
    tcase_add_test(tc, test_pool_server);
    suite_add_tcase(s, tc);
    return s;
}
