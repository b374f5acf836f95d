/* Tests of the client's state (cn_client_to_bytes/from_bytes, cn_client_save/load;
 * docs/cli.md, "Client state format"): a reply encrypted before saving decrypts after
 * loading (in the same way as the integer network run in the clear), and so do new
 * batches under new evaluation keys; the recorded plan digest is libsodium's SHA-256 of
 * the plan bytes; a state for another plan, every truncation, every bit flip, resealed
 * flips, a directory and a missing file are refused with a diag; the file's mode is 0600
 * even when it existed with another. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "cryptonets/cryptonets.h"

#define NIN 6
#define NOUT 3
#define COUNT 5

/* A small dense -> square -> dense model whose weights depend on variant (so two
 * variants compile to two different plans of the same shape). */
static cn_plan_t *tiny_plan(int variant)
{
    double w1[4 * NIN], b1[4], w2[NOUT * 4], b2[NOUT] = {0.1, -0.2, 0.3};
    for (int i = 0; i < 4 * NIN; i++)
        w1[i] = ((i * 7 + variant * 3) % 11 - 5) / 5.0;
    for (int i = 0; i < 4; i++)
        b1[i] = (i - 1.5) / 4;
    for (int i = 0; i < NOUT * 4; i++)
        w2[i] = ((i * 5 + variant) % 9 - 4) / 4.0;
    cn_model_t m;
    cn_net_diag_t d = {{0}};
    ck_assert_int_eq(cn_model_init(&m, 1, 1, NIN, 1.0 / 15, 0, 15), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(&m, 4, w1, b1, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_square(&m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(&m, NOUT, w2, b2, &d), CN_OK);
    const cn_compile_opts_t o = {.weight_bits = 4, .n = 2048, .security = CN_SEC_NONE_INSECURE};
    cn_plan_t *p;
    ck_assert_msg(cn_plan_compile(&p, &m, &o, &d) == CN_OK, "compile: %s", d.msg);
    cn_model_clear(&m);
    return p;
}

static void inputs(int64_t *x)
{
    for (int i = 0; i < COUNT * NIN; i++)
        x[i] = (i * 13 + 4) % 16;
}

/* A server for p with keys; reply bytes for the batch up. */
static void serve(uint8_t **down, size_t *dl, const cn_plan_t *p, const uint8_t *keys,
                  size_t kl, const uint8_t *up, size_t ul)
{
    cn_server_t *s;
    cn_net_diag_t d = {{0}};
    ck_assert_msg(cn_server_create(&s, p, keys, kl, 1, &d) == CN_OK, "server: %s", d.msg);
    ck_assert_msg(cn_server_eval(down, dl, s, up, ul, NULL, &d) == CN_OK, "eval: %s", d.msg);
    cn_server_free(s);
}

/* Decrypts the reply with c and compares with the plan's integer network on x. */
static void check_reply(cn_client_t *c, const cn_plan_t *p, const int64_t *x,
                        const uint8_t *down, size_t dl)
{
    cn_int128 got[COUNT * NOUT], ref[COUNT * NOUT];
    cn_net_diag_t d = {{0}};
    ck_assert_msg(cn_client_decrypt(got, c, down, dl, COUNT, &d) == CN_OK, "decrypt: %s",
                  d.msg);
    ck_assert_int_eq(cn_plan_eval_plain(ref, p, x, COUNT), CN_OK);
    for (int i = 0; i < COUNT * NOUT; i++)
        ck_assert_msg(got[i] == ref[i], "output %d differs", i);
}

/* A fresh directory for one test's files (removed by the test). */
static void tmp_dir(char dir[64])
{
    snprintf(dir, 64, "/tmp/cn_test_state_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* save, free, load from the file: a reply encrypted before decrypts after; the old
 * evaluation keys and new ones both serve */
START_TEST(test_state_round_trip)
{
    cn_plan_t *p = tiny_plan(0);
    int64_t x[COUNT * NIN];
    inputs(x);
    const uint8_t seed[CN_SEED_BYTES] = {0x51};
    cn_client_t *c, *c2;
    cn_net_diag_t d = {{0}};
    ck_assert_int_eq(cn_client_create(&c, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
    cn_client_set_threads(c, 1);
    uint8_t *keys, *up, *down, *state;
    size_t kl, ul, dl, sl;
    ck_assert_int_eq(cn_client_eval_keys(&keys, &kl, c), CN_OK);
    ck_assert_msg(cn_client_encrypt(&up, &ul, c, x, COUNT, &d) == CN_OK, "%s", d.msg);
    serve(&down, &dl, p, keys, kl, up, ul);
    free(up);

    /* the state is a lib/io frame whose body records SHA-256 (libsodium, not our code) of
     * the plan bytes at 8..40 */
    ck_assert_int_eq(cn_client_to_bytes(&state, &sl, c), CN_OK);
    uint8_t *pb, dig[crypto_hash_sha256_BYTES];
    size_t pl;
    ck_assert_int_eq(cn_plan_to_bytes(&pb, &pl, p), CN_OK);
    crypto_hash_sha256(dig, pb, pl);
    free(pb);
    const uint8_t *body = state + CN_IO_HEADER_BYTES;
    ck_assert(sl > CN_IO_HEADER_BYTES + 48 && memcmp(body, "CNCS", 4) == 0 &&
              memcmp(body + 8, dig, 32) == 0);
    cn_io_header_t h;
    const uint8_t *fb;
    size_t fl;
    ck_assert_int_eq(cn_io_frame_open(&h, &fb, &fl, state, sl, CN_IO_EXTERNAL_TYPE + 2), CN_OK);
    ck_assert_ptr_eq(fb, body);

    char dir[64], path[256];
    tmp_dir(dir);
    snprintf(path, sizeof path, "%s/client.key", dir);
    ck_assert_msg(cn_client_save(c, path, &d) == CN_OK, "save: %s", d.msg);
    cn_client_free(c);
    ck_assert_msg(cn_client_load(&c2, p, path, &d) == CN_OK, "load: %s", d.msg);
    cn_client_set_threads(c2, 1);
    check_reply(c2, p, x, down, dl);
    free(down);

    /* the loaded client's state bytes are the same (same key, same plan) */
    uint8_t *state2;
    size_t sl2;
    ck_assert_int_eq(cn_client_to_bytes(&state2, &sl2, c2), CN_OK);
    ck_assert(sl2 == sl && memcmp(state, state2, sl) == 0);
    cn_client_state_free(state2, sl2);

    /* new batches from the loaded client: under the keys given out before, and under
     * the fresh relinearization key it made */
    ck_assert_msg(cn_client_encrypt(&up, &ul, c2, x, COUNT, &d) == CN_OK, "%s", d.msg);
    serve(&down, &dl, p, keys, kl, up, ul);
    check_reply(c2, p, x, down, dl);
    free(down);
    free(keys);
    ck_assert_int_eq(cn_client_eval_keys(&keys, &kl, c2), CN_OK);
    serve(&down, &dl, p, keys, kl, up, ul);
    check_reply(c2, p, x, down, dl);
    free(down);
    free(keys);
    free(up);

    /* from bytes too */
    cn_client_t *c3;
    ck_assert_int_eq(cn_client_from_bytes(&c3, p, state, sl, &d), CN_OK);
    cn_client_free(c3);
    cn_client_state_free(state, sl);
    cn_client_free(c2);
    unlink(path);
    rmdir(dir);
    cn_plan_free(p);
}
END_TEST

/* a state is refused with another plan (same shape, other weights) */
START_TEST(test_state_other_plan)
{
    cn_plan_t *p = tiny_plan(0), *q = tiny_plan(1);
    const uint8_t seed[CN_SEED_BYTES] = {0x52};
    cn_client_t *c, *c2 = NULL;
    cn_net_diag_t d = {{0}};
    ck_assert_int_eq(cn_client_create(&c, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
    uint8_t *state;
    size_t sl;
    ck_assert_int_eq(cn_client_to_bytes(&state, &sl, c), CN_OK);
    ck_assert_int_eq(cn_client_from_bytes(&c2, q, state, sl, &d), CN_ERR_CONTEXT_MISMATCH);
    ck_assert_ptr_null(c2);
    ck_assert_msg(strstr(d.msg, "another plan") != NULL, "diag: %s", d.msg);
    char dir[64], path[256];
    tmp_dir(dir);
    snprintf(path, sizeof path, "%s/other.key", dir);
    ck_assert_int_eq(cn_client_save(c, path, &d), CN_OK);
    ck_assert_int_eq(cn_client_load(&c2, q, path, &d), CN_ERR_CONTEXT_MISMATCH);
    ck_assert_msg(strstr(d.msg, path) && strstr(d.msg, "another plan"), "diag: %s", d.msg);
    unlink(path);
    rmdir(dir);
    cn_client_state_free(state, sl);
    cn_client_free(c);
    cn_plan_free(p);
    cn_plan_free(q);
}
END_TEST

/* every truncation, every single-bit flip (checksum), and flips resealed so that the
 * inner checks are reached: refused with a diag, or (bytes no check covers, such as the
 * minor version) a client that still decrypts correctly */
START_TEST(test_state_damaged)
{
    cn_plan_t *p = tiny_plan(0);
    int64_t x[COUNT * NIN];
    inputs(x);
    const uint8_t seed[CN_SEED_BYTES] = {0x53};
    cn_client_t *c, *c2;
    cn_net_diag_t d;
    ck_assert_int_eq(cn_client_create(&c, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
    cn_client_set_threads(c, 1);
    uint8_t *keys, *up, *down, *state;
    size_t kl, ul, dl, sl;
    ck_assert_int_eq(cn_client_eval_keys(&keys, &kl, c), CN_OK);
    ck_assert_int_eq(cn_client_encrypt(&up, &ul, c, x, COUNT, NULL), CN_OK);
    serve(&down, &dl, p, keys, kl, up, ul);
    ck_assert_int_eq(cn_client_to_bytes(&state, &sl, c), CN_OK);
    for (size_t cut = 0; cut < sl; cut++) {
        d.msg[0] = 0;
        ck_assert_int_ne(cn_client_from_bytes(&c2, p, state, cut, &d), CN_OK);
        ck_assert_msg(d.msg[0], "truncation at %zu: no diag", cut);
    }
    uint8_t *b = malloc(sl + 1);
    memcpy(b, state, sl);
    b[sl] = 0;
    ck_assert_int_ne(cn_client_from_bytes(&c2, p, b, sl + 1, &d), CN_OK); /* trailing byte */
    cn_test_rng_t r;
    cn_test_rng_init(&r, 531);
    for (size_t i = 0; i < sl; i++) {
        const uint8_t bit = (uint8_t)(1u << cn_test_rng_below(&r, 8));
        memcpy(b, state, sl);
        b[i] ^= bit;
        d.msg[0] = 0;
        ck_assert_int_ne(cn_client_from_bytes(&c2, p, b, sl, &d), CN_OK);
        ck_assert_msg(d.msg[0], "flip at %zu: no diag", i);
        if (i >= sl - 8)
            continue;
        cn_test_reseal_net(b, sl);
        d.msg[0] = 0;
        const cn_status st = cn_client_from_bytes(&c2, p, b, sl, &d);
        if (st != CN_OK) {
            ck_assert_msg(d.msg[0], "resealed flip at %zu: no diag", i);
            continue;
        }
        cn_client_set_threads(c2, 1);
        check_reply(c2, p, x, down, dl);
        cn_client_free(c2);
    }
    /* another object's bytes (the evaluation keys) */
    ck_assert_int_ne(cn_client_from_bytes(&c2, p, keys, kl, &d), CN_OK);
    ck_assert(d.msg[0]);
    free(b);
    free(keys);
    free(up);
    free(down);
    cn_client_state_free(state, sl);
    cn_client_free(c);
    cn_plan_free(p);
}
END_TEST

/* files: mode 0600 whatever the umask and even over a file of mode 0644; a directory, a
 * missing file and an unwritable path give CN_ERR_IO naming the path */
START_TEST(test_state_files)
{
    cn_plan_t *p = tiny_plan(0);
    const uint8_t seed[CN_SEED_BYTES] = {0x54};
    cn_client_t *c, *c2 = NULL;
    cn_net_diag_t d = {{0}};
    ck_assert_int_eq(cn_client_create(&c, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
    char dir[64], path[256];
    tmp_dir(dir);
    snprintf(path, sizeof path, "%s/mode.key", dir);
    const mode_t old = umask(0);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("an older file, readable by everyone", f);
    fclose(f);
    ck_assert_int_eq(chmod(path, 0644), 0);
    ck_assert_msg(cn_client_save(c, path, &d) == CN_OK, "%s", d.msg);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 07777, 0600);
    unlink(path);
    ck_assert_int_eq(cn_client_save(c, path, &d), CN_OK); /* a new file, umask 0 */
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 07777, 0600);
    umask(old);
    ck_assert_int_eq(cn_client_load(&c2, p, path, &d), CN_OK);
    cn_client_free(c2);
    unlink(path);

    ck_assert_int_eq(cn_client_load(&c2, p, dir, &d), CN_ERR_IO);
    ck_assert_msg(strstr(d.msg, "directory") != NULL, "diag: %s", d.msg);
    ck_assert_int_eq(cn_client_load(&c2, p, path, &d), CN_ERR_IO); /* removed above */
    ck_assert_msg(strstr(d.msg, path) != NULL, "diag: %s", d.msg);
    char bad[300];
    snprintf(bad, sizeof bad, "%s/no/such/dir.key", dir);
    ck_assert_int_eq(cn_client_save(c, bad, &d), CN_ERR_IO);
    ck_assert_msg(strstr(d.msg, bad) != NULL, "diag: %s", d.msg);
    ck_assert_int_eq(cn_client_save(c, dir, &d), CN_ERR_IO); /* a directory */
    ck_assert_ptr_null(c2);
    rmdir(dir);
    cn_client_free(c);
    cn_plan_free(p);
}
END_TEST

CN_SUITE(client_state)
{
    Suite *s = suite_create("client_state");
    TCase *tc = cn_tcase("client_state", 120);
    tcase_add_test(tc, test_state_round_trip);
    tcase_add_test(tc, test_state_other_plan);
    tcase_add_test(tc, test_state_damaged);
    tcase_add_test(tc, test_state_files);
    suite_add_tcase(s, tc);
    return s;
}
