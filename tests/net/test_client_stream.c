/* Tests of cn_client_encrypt_stream (net/runtime/client.c): the batch it hands out is
 * byte for byte the batch cn_client_encrypt writes for a client made from the same seed
 * (the oracle: the one-shot call, tested against decryption and the integer network in
 * test_net.c), every prefix it declares final already holds those final bytes when it is
 * declared, the prefixes grow call after call in pieces finer than a part (one per
 * plaintext modulus: one per 32 records on one thread), one call at a time, and the refusals
 * match cn_client_encrypt's. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/cryptonets.h"

#define NIN 100 /* more than one work item (32 inputs) per part */

/* What the ready callback saw. */
typedef struct {
    const uint8_t *ref; /* the one-shot batch */
    size_t ref_len;
    size_t calls, last;
    const uint8_t *buf; /* the buffer of every call */
    int bad_prefix, not_growing, other_buf, overlap;
    int inside; /* callers inside at once (must stay 1) */
} seen_t;

static void on_ready(void *arg, const uint8_t *buf, size_t done)
{
    seen_t *s = arg;
    if (__atomic_add_fetch(&s->inside, 1, __ATOMIC_SEQ_CST) != 1)
        s->overlap = 1;
    if (s->calls && buf != s->buf)
        s->other_buf = 1;
    s->buf = buf;
    if (done <= s->last || done > s->ref_len)
        s->not_growing = 1;
    else if (memcmp(buf, s->ref, done) != 0)
        s->bad_prefix = 1;
    s->last = done;
    s->calls++;
    __atomic_sub_fetch(&s->inside, 1, __ATOMIC_SEQ_CST);
}

static void make_plan(cn_plan_t **p, size_t nt)
{
    static double w1[4 * NIN], b1[4] = {0.1, -0.2, 0.3, 0}, w2[3 * 4], b2[3] = {0};
    for (int i = 0; i < 4 * NIN; i++)
        w1[i] = ((i * 7) % 13 - 6) / 6.0;
    for (int i = 0; i < 12; i++)
        w2[i] = ((i * 5) % 9 - 4) / 4.0;
    cn_model_t m;
    cn_net_diag_t d = {{0}};
    ck_assert_int_eq(cn_model_init(&m, 1, 1, NIN, 1.0 / 15, 0, 15), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(&m, 4, w1, b1, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_square(&m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(&m, 3, w2, b2, &d), CN_OK);
    cn_compile_opts_t o = {.weight_bits = 5, .n = 2048, .security = CN_SEC_NONE_INSECURE};
    if (nt > 1) { /* several plaintext moduli: several parts */
        o.t_bits = 17;
        o.nt = nt;
    }
    ck_assert_msg(cn_plan_compile(p, &m, &o, &d) == CN_OK, "compile: %s", d.msg);
    cn_model_clear(&m);
}

START_TEST(test_encrypt_stream_bytes)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1601);
    for (size_t nt = 1; nt <= 3; nt += 2) {
        cn_plan_t *p;
        make_plan(&p, nt);
        const size_t n = cn_plan_params(p)->n;
        ck_assert_uint_eq(cn_plan_params(p)->nt, nt);
        int64_t *x = malloc(n * NIN * sizeof *x);
        for (size_t i = 0; i < n * NIN; i++)
            x[i] = (int64_t)cn_test_rng_below(&r, 16);
        const size_t counts[] = {1, 77, n};
        for (size_t ci = 0; ci < 3; ci++)
            for (int threads = 1; threads <= 3; threads += 2) {
                const uint8_t seed[CN_SEED_BYTES] = {16, (uint8_t)ci, (uint8_t)nt};
                cn_client_t *c1, *c2;
                ck_assert_int_eq(cn_client_create(&c1, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
                ck_assert_int_eq(cn_client_create(&c2, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
                cn_client_set_threads(c2, threads);
                uint8_t *ref, *got = NULL;
                size_t rl, gl = 0;
                ck_assert_int_eq(cn_client_encrypt(&ref, &rl, c1, x, counts[ci], NULL), CN_OK);
                ck_assert_uint_eq(cn_client_batch_bytes(c1), rl);
                seen_t s = {.ref = ref, .ref_len = rl};
                ck_assert_int_eq(
                    cn_client_encrypt_stream(&got, &gl, c2, x, counts[ci], on_ready, &s, NULL),
                    CN_OK);
                ck_assert_uint_eq(gl, rl);
                ck_assert_msg(memcmp(got, ref, rl) == 0,
                              "nt %zu, count %zu, %d threads: other bytes", nt, counts[ci],
                              threads);
                ck_assert_msg(!s.bad_prefix && !s.not_growing && !s.other_buf && !s.overlap,
                              "prefix %d growing %d buffer %d overlap %d", s.bad_prefix,
                              s.not_growing, s.other_buf, s.overlap);
                ck_assert_ptr_eq(s.buf, got);
                ck_assert_uint_eq(s.last, rl);
                /* on one thread the items come in order: the first header, then one
                 * prefix per run of 32 records, the last of a part with its checksum and
                 * the next part's header; on several, runs may be told together */
                if (threads == 1)
                    ck_assert_uint_eq(s.calls, 1 + nt * ((NIN + 31) / 32));
                else
                    ck_assert_uint_ge(s.calls, 2);
                free(ref);
                free(got);
                cn_client_free(c1);
                cn_client_free(c2);
            }
        /* the refusals of cn_client_encrypt, and a NULL callback */
        const uint8_t seed[CN_SEED_BYTES] = {17};
        cn_client_t *c;
        ck_assert_int_eq(cn_client_create(&c, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
        uint8_t *b = NULL;
        size_t bl = 0;
        seen_t s = {.ref_len = SIZE_MAX};
        ck_assert_int_eq(cn_client_encrypt_stream(&b, &bl, c, x, 1, NULL, NULL, NULL),
                         CN_ERR_INVALID_ARG);
        ck_assert_int_eq(cn_client_encrypt_stream(&b, &bl, c, x, 0, on_ready, &s, NULL),
                         CN_ERR_INVALID_ARG);
        ck_assert_int_eq(cn_client_encrypt_stream(&b, &bl, c, x, n + 1, on_ready, &s, NULL),
                         CN_ERR_INVALID_ARG);
        x[5] = 99; /* outside the model's input range [0, 15] */
        cn_net_diag_t d = {{0}};
        ck_assert_int_eq(cn_client_encrypt_stream(&b, &bl, c, x, 1, on_ready, &s, &d),
                         CN_ERR_OUT_OF_RANGE);
        ck_assert_ptr_null(b);
        ck_assert_uint_eq(s.calls, 0);
        ck_assert_msg(strstr(d.msg, "input 1, value 6") != NULL, "%s", d.msg);
        cn_client_free(c);
        free(x);
        cn_plan_free(p);
    }
}
END_TEST

CN_SUITE(client_stream)
{
    Suite *s = suite_create("client_stream");
    TCase *tc = cn_tcase("core", 300);
    tcase_add_test(tc, test_encrypt_stream_bytes);
    suite_add_tcase(s, tc);
    return s;
}
