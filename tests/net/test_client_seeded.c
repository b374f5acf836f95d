/* Tests of cn_client_encrypt_seeded (net/runtime/client.c), the encryption a retried upload
 * repeats instead of keeping the batch (docs/service.md, "The client"): the same key, inputs
 * and seed give the same bytes whatever the thread count and whether streamed or not;
 * another seed gives other bytes; the client's own generator is not advanced (a client
 * made from the same deterministic seed encrypts alike afterwards); and the batch runs
 * through the server to the outputs of the integer network (the oracle:
 * cn_plan_eval_plain, exact integer arithmetic independent of the encryption). */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/cryptonets.h"

#define NIN 70 /* more than two work items (32 inputs) per part */

static void make_plan(cn_plan_t **p)
{
    static double w1[4 * NIN], b1[4] = {0.2, -0.1, 0, 0.3}, w2[3 * 4], b2[3] = {0};
    for (int i = 0; i < 4 * NIN; i++)
        w1[i] = ((i * 5) % 11 - 5) / 5.0;
    for (int i = 0; i < 12; i++)
        w2[i] = ((i * 7) % 9 - 4) / 4.0;
    cn_model_t m;
    cn_net_diag_t d = {{0}};
    ck_assert_int_eq(cn_model_init(&m, 1, 1, NIN, 1.0 / 15, 0, 15), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(&m, 4, w1, b1, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_square(&m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(&m, 3, w2, b2, &d), CN_OK);
    /* two plaintext moduli: two parts, each with its own ciphertexts */
    cn_compile_opts_t o = {
        .weight_bits = 5, .n = 2048, .security = CN_SEC_NONE_INSECURE, .t_bits = 17, .nt = 2};
    ck_assert_msg(cn_plan_compile(p, &m, &o, &d) == CN_OK, "compile: %s", d.msg);
    cn_model_clear(&m);
}

static void ignore_ready(void *arg, const uint8_t *buf, size_t done)
{
    (void)buf;
    *(size_t *)arg = done;
}

/* Bytes of a and b (len each) that differ. */
static size_t differing(const uint8_t *a, const uint8_t *b, size_t len)
{
    size_t k = 0;
    for (size_t i = 0; i < len; i++)
        k += a[i] != b[i];
    return k;
}

START_TEST(test_encrypt_seeded)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1715);
    cn_plan_t *p;
    make_plan(&p);
    const size_t n = cn_plan_params(p)->n, nout = cn_plan_outputs(p), count = 333;
    int64_t *x = malloc(n * NIN * sizeof *x);
    for (size_t i = 0; i < n * NIN; i++)
        x[i] = (int64_t)cn_test_rng_below(&r, 16);
    uint8_t seed_a[CN_SEED_BYTES], seed_b[CN_SEED_BYTES];
    for (size_t i = 0; i < CN_SEED_BYTES; i++) {
        seed_a[i] = (uint8_t)cn_test_rng_next(&r);
        seed_b[i] = seed_a[i];
    }
    seed_b[31] ^= 1; /* one bit apart */
    /* a key from the OS, as the tool's */
    cn_client_t *c;
    ck_assert_int_eq(cn_client_create(&c, p, NULL, 0), CN_OK);
    uint8_t *a1, *a2, *a3, *b1;
    size_t l1, l2, l3, lb, told = 0;
    cn_client_set_threads(c, 1);
    ck_assert_int_eq(cn_client_encrypt_seeded(&a1, &l1, c, x, count, seed_a, NULL, NULL, NULL),
                     CN_OK);
    cn_client_set_threads(c, 3);
    ck_assert_int_eq(
        cn_client_encrypt_seeded(&a2, &l2, c, x, count, seed_a, ignore_ready, &told, NULL),
        CN_OK);
    ck_assert_int_eq(cn_client_encrypt_seeded(&a3, &l3, c, x, count, seed_a, NULL, NULL, NULL),
                     CN_OK);
    ck_assert_int_eq(cn_client_encrypt_seeded(&b1, &lb, c, x, count, seed_b, NULL, NULL, NULL),
                     CN_OK);
    ck_assert_uint_eq(l1, cn_client_batch_bytes(c));
    ck_assert_uint_eq(l2, l1);
    ck_assert_uint_eq(l3, l1);
    ck_assert_uint_eq(lb, l1);
    ck_assert_uint_eq(told, l1);
    ck_assert_msg(memcmp(a1, a2, l1) == 0, "one seed, 1 and 3 threads, streamed: other bytes");
    ck_assert_msg(memcmp(a1, a3, l1) == 0, "one seed, twice: other bytes");
    /* another seed: other errors and other uniform halves, so nearly every byte of the
     * ciphertexts differs (the headers, shapes and checksums' places do not; a byte of
     * two independent residues is equal with chance about 1/256) */
    const size_t diff = differing(a1, b1, l1);
    ck_assert_msg(diff > l1 / 2, "another seed: only %zu of %zu bytes differ", diff, l1);
    /* unseeded encryptions draw fresh randomness: never the seeded bytes */
    uint8_t *f;
    size_t lf;
    ck_assert_int_eq(cn_client_encrypt(&f, &lf, c, x, count, NULL), CN_OK);
    ck_assert_uint_eq(lf, l1);
    ck_assert_uint_gt(differing(a1, f, l1), l1 / 2);
    free(f);
    /* the seeded batch through the server: the integer network's outputs */
    uint8_t *keys, *down;
    size_t kl, dl;
    ck_assert_int_eq(cn_client_eval_keys(&keys, &kl, c), CN_OK);
    cn_server_t *s;
    cn_net_diag_t d = {{0}};
    ck_assert_msg(cn_server_create(&s, p, keys, kl, 2, &d) == CN_OK, "%s", d.msg);
    cn_int128 *ref = malloc(count * nout * sizeof *ref),
              *got = malloc(count * nout * sizeof *got);
    ck_assert_int_eq(cn_plan_eval_plain(ref, p, x, count), CN_OK);
    const uint8_t *batches[2] = {a1, b1};
    for (int k = 0; k < 2; k++) {
        ck_assert_msg(cn_server_eval(&down, &dl, s, batches[k], l1, NULL, &d) == CN_OK, "%s",
                      d.msg);
        ck_assert_msg(cn_client_decrypt(got, c, down, dl, count, &d) == CN_OK, "%s", d.msg);
        for (size_t i = 0; i < count * nout; i++)
            ck_assert_msg(got[i] == ref[i], "seed %d, input %zu, output %zu: %lld, not %lld", k,
                          i / nout, i % nout, (long long)got[i], (long long)ref[i]);
        free(down);
    }
    cn_server_free(s);
    free(keys);
    /* a NULL seed is refused */
    uint8_t *z = NULL;
    size_t zl = 0;
    ck_assert_int_eq(cn_client_encrypt_seeded(&z, &zl, c, x, count, NULL, NULL, NULL, NULL),
                     CN_ERR_INVALID_ARG);
    ck_assert_ptr_null(z);
    cn_client_free(c);
    /* the client's own generator is neither used nor advanced: two clients of one
     * deterministic seed encrypt alike after one of them made a seeded batch */
    const uint8_t cseed[CN_SEED_BYTES] = {42, 7};
    cn_client_t *c1, *c2;
    ck_assert_int_eq(cn_client_create(&c1, p, cseed, CN_RNG_INSECURE_ACK), CN_OK);
    ck_assert_int_eq(cn_client_create(&c2, p, cseed, CN_RNG_INSECURE_ACK), CN_OK);
    ck_assert_int_eq(cn_client_encrypt_seeded(&z, &zl, c1, x, count, seed_a, NULL, NULL, NULL),
                     CN_OK);
    /* and the seed's batch depends on the key: another key, other bytes */
    ck_assert_uint_gt(differing(z, a1, l1), l1 / 2);
    free(z);
    uint8_t *e1, *e2;
    size_t el1, el2;
    ck_assert_int_eq(cn_client_encrypt(&e1, &el1, c1, x, count, NULL), CN_OK);
    ck_assert_int_eq(cn_client_encrypt(&e2, &el2, c2, x, count, NULL), CN_OK);
    ck_assert_uint_eq(el1, el2);
    ck_assert_msg(memcmp(e1, e2, el1) == 0, "a seeded encryption advanced the generator");
    free(e1);
    free(e2);
    cn_client_free(c1);
    cn_client_free(c2);
    free(a1);
    free(a2);
    free(a3);
    free(b1);
    free(ref);
    free(got);
    free(x);
    cn_plan_free(p);
}
END_TEST

CN_SUITE(client_seeded)
{
    Suite *s = suite_create("client_seeded");
    TCase *tc = cn_tcase("core", 300);
    tcase_add_test(tc, test_encrypt_seeded);
    suite_add_tcase(s, tc);
    return s;
}
