/* Tests of the chunked evaluation of a batched plan's first segment (net/plan/segment.c,
 * net/runtime/chunked.c): the schedule covers every output of L1 once and every input it
 * reads; the server's reply in chunks is the same bytes as layer by layer (the oracle for
 * the bytes: the layer-by-layer executor, an independent path through the wire loader and
 * whole-layer kernels), and every decrypted output equals the integer network's
 * (cn_plan_eval_plain, the oracle for the values), on a small conv model and on plans of
 * the committed MNIST model; a corrupted batch is refused in chunks with every block back
 * in the pool. And the memory rule: the n = 16384 two-moduli MNIST plan needs chunks
 * within the default bound, whose estimate it then meets. */
#include <stdlib.h>
#include <string.h>

#include "common/net_fixture.h"
#include "common/util.h"
#include "cryptonets/cryptonets.h"
#include "../../net/runtime/runtime.h"

#define MODEL_PATH "examples/models/cryptonets_mnist.cnm"

/* the schedule in k chunks: every L1 output once, in ascending order within a chunk;
 * first <= last for every input L1 reads, and each chunk's rows read only inputs whose
 * [first, last] holds the chunk */
static void check_schedule(const cn_plan_t *p, size_t k)
{
    cn_segment_t sg;
    ck_assert_int_eq(cn_segment_init(&sg, p->ops, p->nops, p->nin, k), CN_OK);
    const cn_lin_t *l1 = &p->ops[0].lin;
    const size_t m = l1->nout;
    ck_assert_uint_eq(sg.cstart[0], 0);
    ck_assert_uint_eq(sg.cstart[k], m);
    char *seen = calloc(m, 1);
    for (size_t c = 0; c < k; c++)
        for (size_t a = sg.cstart[c]; a < sg.cstart[c + 1]; a++) {
            const size_t j = sg.order[a];
            ck_assert_uint_lt(j, m);
            ck_assert_int_eq(seen[j], 0);
            seen[j] = 1;
            if (a > sg.cstart[c])
                ck_assert_uint_lt(sg.order[a - 1], j);
            for (size_t t = l1->row[j]; t < l1->row[j + 1]; t++) {
                const size_t i = l1->col[t];
                ck_assert_uint_le(sg.first[i], c);
                ck_assert_uint_ge(sg.last[i], c);
                ck_assert_uint_ne(sg.last[i], SIZE_MAX);
            }
        }
    free(seen);
    cn_segment_clear(&sg);
}

/* count inputs through p's server layer by layer and in each of ks[0..nk) chunks */
static void check_chunked(const cn_plan_t *p, const size_t *ks, size_t nk, size_t count,
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
    const uint8_t seed[CN_SEED_BYTES] = {(uint8_t)stream, 17};
    cn_client_t *c;
    cn_server_t *s;
    uint8_t *keys, *up, *first = NULL;
    size_t kl, ul, fl = 0;
    cn_net_diag_t d;
    ck_assert_int_eq(cn_client_create(&c, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
    ck_assert_int_eq(cn_client_eval_keys(&keys, &kl, c), CN_OK);
    ck_assert_int_eq(cn_server_create(&s, p, keys, kl, 2, NULL), CN_OK);
    ck_assert_int_eq(cn_client_encrypt(&up, &ul, c, x, count, NULL), CN_OK);
    for (size_t v = 0; v <= nk; v++) {
        const size_t k = v == 0 ? 0 : ks[v - 1];
        check_schedule(p, k ? k : 1);
        ck_assert_int_eq(cn_server_set_chunks(s, k), CN_OK);
        uint8_t *down;
        size_t dl;
        cn_server_timing_t tm;
        ck_assert_msg(cn_server_eval(&down, &dl, s, up, ul, &tm, &d) == CN_OK, "%zu chunks: %s",
                      k, d.msg);
        ck_assert_uint_eq(s->pool->nfree, s->pool->cap);
        ck_assert_int_eq(cn_client_decrypt(got, c, down, dl, count, NULL), CN_OK);
        for (size_t i = 0; i < count * nout; i++)
            ck_assert_msg(got[i] == ref[i], "%zu chunks: slot %zu output %zu", k, i / nout,
                          i % nout);
        if (!first) {
            first = down;
            fl = dl;
        } else {
            ck_assert_uint_eq(dl, fl);
            ck_assert_msg(memcmp(down, first, dl) == 0, "%zu chunks: other reply bytes", k);
            free(down);
        }
    }
    /* a corrupted record, in chunks: refused, every block back */
    ck_assert_int_eq(cn_server_set_chunks(s, ks[0]), CN_OK);
    uint8_t *bad = NULL;
    size_t bl;
    up[ul / 2] ^= 4;
    ck_assert_int_ne(cn_server_eval(&bad, &bl, s, up, ul, NULL, NULL), CN_OK);
    ck_assert_ptr_null(bad);
    ck_assert_uint_eq(s->pool->nfree, s->pool->cap);
    /* more chunks than L1 has outputs */
    ck_assert_int_eq(cn_server_set_chunks(s, p->ops[0].lin.nout + 1), CN_ERR_INVALID_ARG);
    free(first);
    free(up);
    free(keys);
    free(x);
    free(ref);
    free(got);
    cn_server_free(s);
    cn_client_free(c);
}

START_TEST(test_chunked_small)
{
    cn_model_t m;
    cn_test_small_cnn(&m, 81); /* conv, square, dense, square, dense */
    cn_compile_opts_t o = {.weight_bits = 5, .n = 2048, .security = CN_SEC_NONE_INSECURE};
    cn_plan_t *p;
    cn_net_diag_t d;
    ck_assert_msg(cn_plan_compile(&p, &m, &o, &d) == CN_OK, "compile: %s", d.msg);
    ck_assert_uint_gt(cn_segment_end(p->ops, p->nops), 0);
    const size_t all = p->ops[0].lin.nout, ks[] = {1, 2, 3, 5, all};
    check_chunked(p, ks, sizeof ks / sizeof *ks, 70, 82);
    cn_plan_free(p);
    cn_model_clear(&m);
}
END_TEST

START_TEST(test_chunked_mnist)
{
    cn_model_t m;
    cn_net_diag_t d;
    ck_assert_msg(cn_model_load(&m, MODEL_PATH, &d) == CN_OK, "%s", d.msg);
    /* the committed model's shape (conv 5 x 13 x 13, square, dense 100, ...) at a small
     * ring: 13 chunks of one row of the conv's outputs, 4 and 2 */
    cn_compile_opts_t o = {.weight_bits = 3, .n = 1024, .security = CN_SEC_NONE_INSECURE};
    cn_plan_t *p;
    ck_assert_msg(cn_plan_compile(&p, &m, &o, &d) == CN_OK, "compile: %s", d.msg);
    /* conv, square, (a switch where the cost profile schedules one), dense */
    ck_assert_uint_ge(cn_segment_end(p->ops, p->nops), 2);
    const size_t ks[] = {4, 13, 2};
    check_chunked(p, ks, sizeof ks / sizeof *ks, 40, 83);
    cn_plan_free(p);
    cn_model_clear(&m);
}
END_TEST

/* the memory rule at the lead's n = 16384 parameters (two 32-bit plaintext moduli, 46-bit
 * primes, 3-bit weights): layer by layer above the default bound, in chunks within it
 * (the estimate is the chunked one), and the chunks' pool peak below the layers' */
START_TEST(test_chunked_memory_rule)
{
    cn_model_t m;
    cn_net_diag_t d;
    ck_assert_msg(cn_model_load(&m, MODEL_PATH, &d) == CN_OK, "%s", d.msg);
    cn_compile_opts_t o = {.weight_bits = 3,
                           .n = 16384,
                           .t_bits = 32,
                           .nt = 2,
                           .q_bits = 46,
                           .memory_limit = UINT64_MAX};
    cn_plan_t *p;
    ck_assert_msg(cn_plan_compile(&p, &m, &o, &d) == CN_OK, "compile: %s", d.msg);
    const double layers = cn_plan_memory_chunks(p->ops, p->nops, p->nin, &p->prm, 0);
    const size_t k = cn_plan_chunks(p->ops, p->nops, p->nin, &p->prm);
    ck_assert_double_gt(layers, (double)CN_PLAN_MEMORY_DEFAULT);
    ck_assert_uint_ge(k, 2);
    ck_assert_double_le(cn_plan_memory_estimate(p), (double)CN_PLAN_MEMORY_DEFAULT);
    ck_assert_double_eq(cn_plan_memory_estimate(p),
                        cn_plan_memory_chunks(p->ops, p->nops, p->nin, &p->prm, k));
    ck_assert_uint_lt(cn_plan_peak_blocks(p->ops, p->nops, p->nin, p->prm.nt, 2, k),
                      cn_plan_peak_blocks(p->ops, p->nops, p->nin, p->prm.nt, 2, 0));
    /* one chunk fewer does not fit (the fewest that fit) */
    if (k > 2)
        ck_assert_double_gt(cn_plan_memory_chunks(p->ops, p->nops, p->nin, &p->prm, k - 1),
                            (double)CN_PLAN_MEMORY_DEFAULT);
    /* what the parameter search's shortcut rests on (net/compiler/params.c: a candidate no
     * cheaper layer by layer than a best that fits is not estimated in chunks): chunks
     * never lower the estimated cost, server or client, on any profile */
    for (int prof = CN_COST_PORTABLE; prof <= CN_COST_AVX512IFMA; prof++) {
        cn_plan_estimate_t e0, ek;
        cn_plan_estimate_chunks(&e0, p->ops, p->nops, p->nin, &p->prm, (cn_cost_profile)prof,
                                0);
        for (size_t c = 1; c <= 64; c *= 2) {
            cn_plan_estimate_chunks(&ek, p->ops, p->nops, p->nin, &p->prm,
                                    (cn_cost_profile)prof, c);
            ck_assert_double_ge(ek.seconds, e0.seconds);
            ck_assert_double_ge(ek.server_s, e0.server_s);
        }
    }
    cn_plan_free(p);
    /* 3-bit weights on 46-bit primes at n = 16384, the compiler's choice of the rest
     * within the default bound: counting the chunks (the default since issue 17) it fits
     * the bound in chunks; with the bound on the layer-by-layer peak
     * (experimental.layer_bound) and the primes its choice it keeps n = 8192. (n is
     * pinned since the noise estimate's probabilistic bound, issue 17: unpinned, 46-bit
     * primes now leave the margin at n = 8192 too, which the cost model prefers; the prime
     * size since the dense split kernel: unpinned, the cost model prefers n = 8192 with
     * three 50-bit primes by 3% whatever the bound.) */
    cn_compile_opts_t o3 = {.weight_bits = 3, .q_bits = 46, .n = 16384};
    ck_assert_msg(cn_plan_compile(&p, &m, &o3, &d) == CN_OK, "compile: %s", d.msg);
    ck_assert_uint_eq(cn_plan_params(p)->n, 16384);
    ck_assert_uint_ge(cn_plan_chunks(p->ops, p->nops, p->nin, &p->prm), 2);
    ck_assert_double_le(cn_plan_memory_estimate(p), (double)CN_PLAN_MEMORY_DEFAULT);
    cn_plan_free(p);
    o3.q_bits = 0;
    o3.n = 0;
    o3.experimental.layer_bound = 1;
    ck_assert_msg(cn_plan_compile(&p, &m, &o3, &d) == CN_OK, "compile: %s", d.msg);
    ck_assert_uint_eq(cn_plan_params(p)->n, 8192);
    ck_assert_double_le(cn_plan_memory_estimate(p), (double)CN_PLAN_MEMORY_DEFAULT);
    cn_plan_free(p);
    cn_model_clear(&m);
}
END_TEST

CN_SUITE(chunked)
{
    Suite *s = suite_create("chunked");
    TCase *tc = cn_tcase("core", 600);
    tcase_add_test(tc, test_chunked_small);
    tcase_add_test(tc, test_chunked_mnist);
    tcase_add_test(tc, test_chunked_memory_rule);
    suite_add_tcase(s, tc);
    return s;
}
