/* libFuzzer target for the lib/io loaders and the net/ model and plan loaders: one binary
 * per object type, chosen at compile time with -DCN_FUZZ_TYPE=<cn_io_type>, or 100
 * (model file) and 101 (plan). Built by `make fuzz` with clang
 * (-fsanitize=fuzzer,address,undefined) against a library compiled with
 * CN_FUZZ_IGNORE_CHECKSUM, so that mutated bodies reach the checks behind the trailer.
 *
 * The loaders must return a status for every input and never crash, hang, leak or read
 * out of bounds; an accepted object must save back to exactly as many bytes as were
 * read (a loaded object is well-formed). With CN_FUZZ_SEED_DIR set, the target writes a
 * valid object of its type there first (a seed corpus for the mutations); for the key
 * switching keys, both forms: seeded (format 1.1, k1 expanded from a seed on load) and
 * in full (1.0). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cryptonets/cryptonets.h"

#ifndef CN_FUZZ_TYPE
#error "define CN_FUZZ_TYPE"
#endif

#define FUZZ_MODEL 100
#define FUZZ_PLAN 101

static cn_bfv_params_t g_prm;
static cn_bfv_context_t *g_ctx;

static void die(const char *what, cn_status st)
{
    fprintf(stderr, "fuzz setup: %s: %s\n", what, cn_strerror(st));
    abort();
}

#define CHECK(call)                                                                            \
    do {                                                                                       \
        cn_status st_ = (call);                                                                \
        if (st_ != CN_OK)                                                                      \
            die(#call, st_);                                                                   \
    } while (0)

/* a small model: conv, square, pool, dense, square, dense */
static void small_model(cn_model_t *m)
{
    double w[64], b[8];
    for (int i = 0; i < 64; i++)
        w[i] = (i % 7) / 7.0 - 0.4;
    for (int i = 0; i < 8; i++)
        b[i] = i / 8.0;
    CHECK(cn_model_init(m, 1, 5, 5, 1.0 / 15, 0, 15));
    CHECK(cn_model_add_conv2d(m, 2, 2, 2, 1, 0, w, b, NULL));
    CHECK(cn_model_add_square(m, NULL));
    CHECK(cn_model_add_pool(m, 2, 2, 1, 0.25, NULL));
    CHECK(cn_model_add_flatten(m, NULL));
    CHECK(cn_model_add_dense(m, 3, w, b, NULL));
    CHECK(cn_model_add_square(m, NULL));
    CHECK(cn_model_add_dense(m, 2, w, b, NULL));
}

static FILE *seed_file(const char *dir, const char *suffix)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/seed-%d%s.bin", dir, (int)CN_FUZZ_TYPE, suffix);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        abort();
    }
    return f;
}

/* A small ring (n = 64, two 50-bit primes, special prime, two plaintext moduli) keeps
 * each run fast; security is off by name, as in the tests. */
static void make_seed(const char *dir)
{
    cn_rng_t rng;
    uint8_t seed[CN_SEED_BYTES] = {1};
    CHECK(cn_rng_init_insecure_deterministic(&rng, seed, CN_RNG_INSECURE_ACK));
    cn_bfv_secret_key_t sk = {0};
    cn_bfv_public_key_t pk = {0};
    cn_bfv_relin_key_t rk = {0};
    cn_bfv_galois_keys_t gk = {0};
    cn_bfv_plaintext_t pt = {0};
    cn_bfv_ciphertext_t ct[2] = {{0}};
    CHECK(cn_bfv_keygen_secret(&sk, g_ctx, &rng));
    CHECK(cn_bfv_keygen_public(&pk, &sk, g_ctx, &rng));
    CHECK(cn_bfv_keygen_relin(&rk, &sk, g_ctx, &rng));
    const int64_t steps[] = {1};
    CHECK(cn_bfv_keygen_galois(&gk, &sk, steps, 1, g_ctx, &rng));
    CHECK(cn_bfv_plaintext_init(&pt, g_ctx, 1));
    for (size_t i = 0; i < pt.n; i++)
        pt.coeffs[i] = i % g_prm.t[1];
    CHECK(cn_bfv_encrypt_symmetric(&ct[0], &pt, &sk, g_ctx, &rng));
    CHECK(cn_bfv_encrypt(&ct[1], &pt, &pk, g_ctx, &rng));

    FILE *f = seed_file(dir, ""), *full = NULL;
    switch (CN_FUZZ_TYPE) {
    case CN_IO_PARAMS:
        CHECK(cn_io_write_params(f, &g_prm));
        break;
    case CN_IO_SECRET_KEY:
        CHECK(cn_io_write_secret_key(f, &sk, g_ctx));
        break;
    case CN_IO_PUBLIC_KEY:
        CHECK(cn_io_write_public_key(f, &pk, g_ctx));
        break;
    case CN_IO_RELIN_KEY:
        CHECK(cn_io_write_relin_key(f, &rk, g_ctx));
        rk.has_seed = 0; /* the same key in full */
        CHECK(cn_io_write_relin_key(full = seed_file(dir, "-full"), &rk, g_ctx));
        break;
    case CN_IO_GALOIS_KEYS:
        CHECK(cn_io_write_galois_keys(f, &gk, g_ctx));
        for (size_t i = 0; i < gk.count; i++)
            gk.key[i].has_seed = 0;
        CHECK(cn_io_write_galois_keys(full = seed_file(dir, "-full"), &gk, g_ctx));
        break;
    case CN_IO_PLAINTEXT:
        CHECK(cn_io_write_plaintext(f, &pt, g_ctx));
        break;
    case CN_IO_CIPHERTEXT:
        CHECK(cn_io_write_ciphertext(f, &ct[0], 0, g_ctx));
        break;
    case CN_IO_CIPHERTEXT_BATCH:
        CHECK(cn_io_write_ciphertext_batch(f, ct, 2, 0, g_ctx));
        break;
    case FUZZ_MODEL:
    case FUZZ_PLAN: {
        cn_model_t m;
        small_model(&m);
        uint8_t *b;
        size_t len;
        if (CN_FUZZ_TYPE == FUZZ_MODEL) {
            CHECK(cn_model_to_bytes(&b, &len, &m));
        } else {
            cn_compile_opts_t o = {
                .weight_bits = 4, .n = 2048, .security = CN_SEC_NONE_INSECURE};
            cn_plan_t *p;
            CHECK(cn_plan_compile(&p, &m, &o, NULL));
            CHECK(cn_plan_to_bytes(&b, &len, p));
            cn_plan_free(p);
        }
        fwrite(b, 1, len, f);
        free(b);
        cn_model_clear(&m);
        break;
    }
    default:
        abort();
    }
    fclose(f);
    if (full)
        fclose(full);
    cn_bfv_ciphertext_clear(&ct[0]);
    cn_bfv_ciphertext_clear(&ct[1]);
    cn_bfv_plaintext_clear(&pt);
    cn_bfv_galois_keys_clear(&gk);
    cn_bfv_relin_key_clear(&rk);
    cn_bfv_public_key_clear(&pk);
    cn_bfv_secret_key_clear(&sk);
    cn_rng_clear(&rng);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
/* The batch reader (cn_io_batch_reader_t) accepts what the loader accepts (want: the
 * loader's ciphertexts, or NULL when it refused), and reads the same ciphertexts. */
static void reader_agrees(const uint8_t *data, size_t len, const cn_bfv_ciphertext_t *want,
                          size_t count)
{
    cn_io_batch_reader_t r;
    cn_status st = cn_io_batch_reader_init(&r, data, len, g_ctx);
    if (st == CN_OK)
        st = cn_io_batch_reader_check(&r);
    cn_bfv_ciphertext_t ct = {0};
    for (size_t i = 0; st == CN_OK && i < r.count; i++) {
        st = cn_io_batch_reader_get(&r, i, &ct);
        if (st == CN_OK && want &&
            (i >= count || ct.size != want[i].size || ct.level != want[i].level ||
             ct.t_index != want[i].t_index || ct.transparent != want[i].transparent))
            abort();
        for (size_t c = 0; st == CN_OK && want && c < ct.size; c++)
            if (memcmp(ct.c[c].data, want[i].c[c].data,
                       ct.level * g_prm.n * sizeof *ct.c[c].data) != 0)
                abort();
    }
    if ((st == CN_OK) != (want != NULL) || (want && r.count != count))
        abort();
    cn_bfv_ciphertext_clear(&ct);
    cn_io_batch_reader_clear(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    CHECK(cn_bfv_params_default(&g_prm, 64, 2, 50, 51, 2, 16, CN_SEC_NONE_INSECURE));
    CHECK(cn_bfv_context_create(&g_ctx, &g_prm));
    const char *dir = getenv("CN_FUZZ_SEED_DIR");
    if (dir && *dir)
        make_seed(dir);
    return 0;
}

/* An accepted object must report the size it was read from. */
#define EXPECT_SIZE(got)                                                                       \
    do {                                                                                       \
        if ((got) != len)                                                                      \
            abort();                                                                           \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    switch (CN_FUZZ_TYPE) {
    case CN_IO_PARAMS: {
        cn_bfv_params_t p;
        if (cn_io_load_params(&p, data, len, 1) == CN_OK)
            EXPECT_SIZE(cn_io_size_params(&p));
        break;
    }
    case CN_IO_SECRET_KEY: {
        cn_bfv_secret_key_t sk = {0};
        if (cn_io_load_secret_key(&sk, data, len, g_ctx) == CN_OK)
            EXPECT_SIZE(cn_io_size_secret_key(&sk, g_ctx));
        cn_bfv_secret_key_clear(&sk);
        break;
    }
    case CN_IO_PUBLIC_KEY: {
        cn_bfv_public_key_t pk = {0};
        if (cn_io_load_public_key(&pk, data, len, g_ctx) == CN_OK)
            EXPECT_SIZE(cn_io_size_public_key(&pk, g_ctx));
        cn_bfv_public_key_clear(&pk);
        break;
    }
    case CN_IO_RELIN_KEY: {
        cn_bfv_relin_key_t rk = {0};
        if (cn_io_load_relin_key(&rk, data, len, g_ctx) == CN_OK)
            EXPECT_SIZE(cn_io_size_relin_key(&rk, g_ctx));
        cn_bfv_relin_key_clear(&rk);
        break;
    }
    case CN_IO_GALOIS_KEYS: {
        cn_bfv_galois_keys_t gk = {0};
        if (cn_io_load_galois_keys(&gk, data, len, g_ctx) == CN_OK)
            EXPECT_SIZE(cn_io_size_galois_keys(&gk, g_ctx));
        cn_bfv_galois_keys_clear(&gk);
        break;
    }
    case CN_IO_PLAINTEXT: {
        cn_bfv_plaintext_t pt = {0};
        if (cn_io_load_plaintext(&pt, data, len, g_ctx) == CN_OK)
            EXPECT_SIZE(cn_io_size_plaintext(&pt, g_ctx));
        cn_bfv_plaintext_clear(&pt);
        break;
    }
    case CN_IO_CIPHERTEXT: {
        cn_bfv_ciphertext_t ct = {0};
        if (cn_io_load_ciphertext(&ct, data, len, g_ctx) == CN_OK) {
            /* a seeded record is written seeded again; a transparent one needs the flag */
            EXPECT_SIZE(cn_io_size_ciphertext(&ct, CN_IO_ALLOW_TRANSPARENT, g_ctx));
        }
        cn_bfv_ciphertext_clear(&ct);
        break;
    }
    case CN_IO_CIPHERTEXT_BATCH: {
        cn_bfv_ciphertext_t *cts = NULL;
        size_t count = 0;
        const int ok = cn_io_load_ciphertext_batch(&cts, &count, data, len, g_ctx) == CN_OK;
        if (ok)
            EXPECT_SIZE(
                cn_io_size_ciphertext_batch(cts, count, CN_IO_ALLOW_TRANSPARENT, g_ctx));
        reader_agrees(data, len, ok ? cts : NULL, count);
        if (ok)
            cn_io_free_ciphertexts(cts, count);
        break;
    }
    case FUZZ_MODEL: {
        cn_model_t m;
        if (cn_model_from_bytes(&m, data, len, NULL) == CN_OK) {
            /* an accepted model runs through the compiler's front end without harm */
            uint8_t *b;
            size_t blen;
            /* written back framed: the same length, or 32 more for a file of format 1
             * (no frame header) */
            const size_t want =
                len >= 4 && memcmp(data, "CNHE", 4) == 0 ? len : len + CN_IO_HEADER_BYTES;
            if (cn_model_to_bytes(&b, &blen, &m) != CN_OK || blen != want)
                abort();
            free(b);
            cn_model_clear(&m);
        }
        break;
    }
    case FUZZ_PLAN: {
        cn_plan_t *p;
        if (cn_plan_from_bytes(&p, data, len, 1, NULL) == CN_OK) {
            /* an accepted plan runs on plaintext integers without harm */
            const size_t nin = cn_plan_inputs(p), nout = cn_plan_outputs(p);
            int64_t *x = calloc(nin, sizeof *x);
            cn_int128 *o = calloc(nout, sizeof *o);
            if (x && o && nin * nout < ((size_t)1 << 22))
                (void)cn_plan_eval_plain(o, p, x, 1);
            free(x);
            free(o);
            cn_plan_free(p);
        }
        break;
    }
    default:
        abort();
    }
    return 0;
}
