/* Tests of the packed layout's key bound (cn_packed_opts_t.max_key_bytes): the MNIST
 * model at one image and 128-bit security, its evaluation keys within the default 40 MB,
 * with their size recomputed from the key format (docs/format.md: header, records,
 * digits x rows x packed bytes per residue, checksum) by walking the bytes the client
 * sends, and every decrypted output equal to the integer network (cn_plan_eval_plain);
 * a bound no layout meets still gives a working layout (the cheapest). */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/cryptonets.h"

static uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* ceil(n b(p) / 8): one row modulo p, b(p) the bit length of p - 1 */
static size_t row_bytes(size_t n, uint64_t p)
{
    unsigned b = 0;
    while (b < 64 && ((p - 1) >> b))
        b++;
    return (n * b + 7) / 8;
}

/* The size of the key objects in buf (a relinearization key object or an empty batch,
 * then a Galois keys object) recomputed from docs/format.md's layout: each object's
 * length equals 32 + its records + 8, and the objects fill len exactly. Returns the sum
 * (what the formula gives for the whole buffer). */
static size_t formula_bytes(const uint8_t *buf, size_t len, const cn_bfv_params_t *prm)
{
    size_t off = 0, total = 0, nobj = 0;
    size_t per_poly[CN_BFV_MAX_Q + 1] = {0}; /* bytes of d + 1 rows (q_1..q_d, then P) */
    per_poly[0] = row_bytes(prm->n, prm->p);
    for (size_t d = 1; d <= prm->nq; d++)
        per_poly[d] = per_poly[d - 1] + row_bytes(prm->n, prm->q[d - 1]);
    while (off < len) {
        ck_assert_uint_ge(len - off, 40);
        ck_assert(memcmp(buf + off, "CNHE", 4) == 0);
        const unsigned type = (unsigned)get_le(buf + off + 8, 2),
                       flags = (unsigned)get_le(buf + off + 10, 2);
        const size_t count = (size_t)get_le(buf + off + 12, 4),
                     olen = (size_t)get_le(buf + off + 16, 8);
        size_t body = 0, p = off + 32;
        const size_t nrec = type == 4 ? 1 : type == 5 ? count : 0;
        ck_assert_msg(type == 4 || type == 5 || (type == 8 && count == 0), "object type %u",
                      type);
        for (size_t r = 0; r < nrec; r++) {
            const size_t g = type == 5 ? 8 : 0; /* u64 g */
            const size_t d = (size_t)get_le(buf + p + g, 4);
            const size_t k = (flags & 2) ? (size_t)get_le(buf + p + g + 4, 4) : 1;
            ck_assert(d >= 1 && d <= prm->nq && k >= 1 && k <= prm->nq);
            const size_t digits = (d + k - 1) / k;
            /* ndigits, k (bit 1), then the seed and k0_i (bit 0) or k0_i and k1_i */
            const size_t rec =
                g + 4 + ((flags & 2) ? 4 : 0) +
                ((flags & 1) ? 32 + digits * per_poly[d] : 2 * digits * per_poly[d]);
            body += rec;
            p += rec;
        }
        ck_assert_uint_eq(olen, 32 + body + 8);
        total += olen;
        off += olen;
        nobj++;
    }
    ck_assert_uint_eq(off, len);
    ck_assert_uint_eq(nobj, 2);
    return total;
}

/* The MNIST plan (4-bit weights) and one test-like input per request. */
static cn_plan_t *mnist_plan(cn_model_t *m)
{
    cn_net_diag_t d;
    ck_assert_msg(cn_model_load(m, "examples/models/cryptonets_mnist.cnm", &d) == CN_OK, "%s",
                  d.msg);
    cn_compile_opts_t co = {.weight_bits = 4};
    cn_plan_t *p;
    ck_assert_msg(cn_plan_compile(&p, m, &co, &d) == CN_OK, "compile: %s", d.msg);
    return p;
}

/* Layout po for plan p (po NULL: the plan's own layout): its keys' bytes (checked against
 * the format), and, when run, one request of `count` inputs with every output equal to
 * the integer network's. */
static size_t keys_and_run(const cn_plan_t *p, const cn_packed_opts_t *po, size_t count,
                           int run)
{
    cn_net_diag_t d;
    cn_packed_t *own = NULL;
    const cn_packed_t *pk;
    if (po) {
        ck_assert_msg(cn_packed_create(&own, p, po, &d) == CN_OK, "packed: %s", d.msg);
        pk = own;
    } else {
        ck_assert_msg(cn_plan_packed(&pk, p, &d) == CN_OK, "%s", d.msg);
    }
    uint8_t seed[CN_SEED_BYTES] = {7};
    cn_packed_client_t *c;
    uint8_t *keys;
    size_t kl;
    ck_assert_int_eq(cn_packed_client_create(&c, pk, seed, CN_RNG_INSECURE_ACK), CN_OK);
    ck_assert_int_eq(cn_packed_client_eval_keys(&keys, &kl, c), CN_OK);
    ck_assert_uint_eq(formula_bytes(keys, kl, cn_packed_params(pk)), kl);
    ck_assert_uint_eq(cn_packed_key_bytes(pk), kl); /* the compiler's count, exact */
    if (run) {
        const size_t nin = cn_plan_inputs(p), nout = cn_plan_outputs(p);
        int64_t *x = malloc(count * nin * sizeof *x);
        for (size_t i = 0; i < count * nin; i++)
            x[i] = (int64_t)((i * 2654435761u >> 7) % 16); /* 4-bit pixels */
        cn_int128 *ref = malloc(count * nout * sizeof *ref),
                  *got = malloc(count * nout * sizeof *got);
        ck_assert_int_eq(cn_plan_eval_plain(ref, p, x, count), CN_OK);
        cn_packed_server_t *s;
        uint8_t *up, *down;
        size_t ul, dl;
        ck_assert_msg(cn_packed_server_create(&s, pk, keys, kl, 0, &d) == CN_OK, "%s", d.msg);
        ck_assert_msg(cn_packed_client_encrypt(&up, &ul, c, x, count, &d) == CN_OK, "%s",
                      d.msg);
        ck_assert_msg(cn_packed_server_eval(&down, &dl, s, up, ul, NULL, &d) == CN_OK, "%s",
                      d.msg);
        ck_assert_msg(cn_packed_client_decrypt(got, c, down, dl, count, &d) == CN_OK, "%s",
                      d.msg);
        for (size_t i = 0; i < count * nout; i++)
            ck_assert_msg(got[i] == ref[i], "input %zu output %zu: %lld, want %lld", i / nout,
                          i % nout, (long long)got[i], (long long)ref[i]);
        free(up);
        free(down);
        free(x);
        free(ref);
        free(got);
        cn_packed_server_free(s);
    }
    free(keys);
    cn_packed_client_free(c);
    cn_packed_free(own);
    return kl;
}

/* One MNIST image at 128-bit security: the default bound (40 MB) holds for the bytes the
 * client sends, and the outputs are exact; without the bound the cheapest layout's keys
 * are larger when they exceed the bound (41.3 MB natively when this test was written),
 * else the same layout is chosen. */
START_TEST(test_packed_keys_default_bound)
{
    cn_model_t m;
    cn_plan_t *p = mnist_plan(&m);
    const cn_packed_opts_t po = {.batch = 1};
    const size_t kl = keys_and_run(p, &po, 1, 1);
    ck_assert_msg(kl <= CN_PACKED_KEY_BYTES_DEFAULT, "keys of %zu bytes", kl);
    const cn_packed_opts_t pu = {.batch = 1, .max_key_bytes = CN_PACKED_KEYS_UNBOUNDED};
    const size_t ku = keys_and_run(p, &pu, 1, 0);
    /* the bound changes the choice only when the cheapest layout's keys exceed it (which
     * depends on the host's cost profile: under CN_SIMD=portable both are 34.1 MB) */
    if (ku <= CN_PACKED_KEY_BYTES_DEFAULT)
        ck_assert_msg(ku == kl, "unbounded keys %zu (within the bound), bounded %zu", ku, kl);
    else
        ck_assert_msg(kl < ku, "unbounded keys %zu, bounded %zu", ku, kl);
    cn_plan_free(p);
    cn_model_clear(&m);
}
END_TEST

/* The compiler's plan for one image (batch size 1, the packed layout): written as 1.3 when
 * the layout switches after the first layer's folds, else 1.2; loaded back, its keys
 * within the bound and its outputs exact */
START_TEST(test_packed_keys_plan_bytes)
{
    cn_model_t m;
    cn_net_diag_t d;
    ck_assert_msg(cn_model_load(&m, "examples/models/cryptonets_mnist.cnm", &d) == CN_OK, "%s",
                  d.msg);
    cn_compile_opts_t co = {.weight_bits = 4, .batch_size = 1, .force_layout = 2};
    cn_plan_t *p, *q;
    ck_assert_msg(cn_plan_compile(&p, &m, &co, &d) == CN_OK, "compile: %s", d.msg);
    uint8_t *b;
    size_t bl;
    ck_assert_int_eq(cn_plan_to_bytes(&b, &bl, p), CN_OK);
    ck_assert_uint_gt(bl, 40);
    /* the body's minor version (tests/net/test_layout.c): 1.3 when the layout switches
     * after the first layer's folds, which MNIST's needed to fit the bound until the
     * per-key digits kept room for the end's drop (then 1.2) */
    ck_assert_msg(b[38] == 2 || b[38] == 3, "minor %u", b[38]);
    ck_assert_msg(cn_plan_from_bytes(&q, b, bl, 0, &d) == CN_OK, "%s", d.msg);
    const size_t kl = keys_and_run(q, NULL, 1, 1);
    ck_assert_msg(kl <= CN_PACKED_KEY_BYTES_DEFAULT, "keys of %zu bytes", kl);
    ck_assert_uint_eq(keys_and_run(p, NULL, 1, 0), kl);
    free(b);
    cn_plan_free(p);
    cn_plan_free(q);
    cn_model_clear(&m);
}
END_TEST

/* A bound below what any layout reaches: the cheapest layout, still exact (a small ring,
 * security off by name) */
START_TEST(test_packed_keys_unreachable_bound)
{
    cn_model_t m;
    cn_plan_t *p = mnist_plan(&m);
    const cn_packed_opts_t pu = {.batch = 2,
                                 .n = 4096,
                                 .security = CN_SEC_NONE_INSECURE,
                                 .max_key_bytes = CN_PACKED_KEYS_UNBOUNDED};
    const size_t ku = keys_and_run(p, &pu, 2, 0);
    cn_packed_opts_t po = pu;
    po.max_key_bytes = 1000;
    ck_assert_uint_eq(keys_and_run(p, &po, 2, 1), ku);
    cn_plan_free(p);
    cn_model_clear(&m);
}
END_TEST

CN_SUITE(packed_keys)
{
    Suite *s = suite_create("packed_keys");
    TCase *tc = cn_tcase("core", 600);
    tcase_add_test(tc, test_packed_keys_default_bound);
    tcase_add_test(tc, test_packed_keys_unreachable_bound);
    tcase_add_test(tc, test_packed_keys_plan_bytes);
    suite_add_tcase(s, tc);
    return s;
}
