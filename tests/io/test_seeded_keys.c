/* Seeded key switching keys (docs/format.md, "Seeded key switching keys"): relinearization
 * and Galois keys travel as their k0 rows and a 32-byte seed from which the loader expands
 * k1. Checked here: sizes by the format's formula, round trips (the expanded k1 equals the
 * key's, a loaded key saves to the same bytes), behaviour of loaded keys against slot
 * arithmetic on plaintexts (the oracle: a square is the slot-wise square, a rotation moves
 * the slots), files of format 1.0 written by the library before seeded keys (commit
 * 85f25f3, tests/fixtures/io/) still loading and working, and hostile headers and bodies.
 * The expansion itself is checked against the independent Python reader in
 * test_format_vectors.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/cryptonets.h"
#include "io/io_internal.h"

typedef struct {
    cn_bfv_params_t prm;
    cn_bfv_context_t *ctx;
    cn_bfv_secret_key_t sk;
    cn_bfv_relin_key_t rk;
    cn_bfv_galois_keys_t gk;
    cn_rng_t rng;
} sk_fx_t;

/* n = 64, three 50-bit primes and P, two plaintext moduli; security off (tests only) */
static void fx_init(sk_fx_t *f, uint64_t stream)
{
    memset(f, 0, sizeof *f);
    ck_assert_int_eq(cn_bfv_params_default(&f->prm, 64, 3, 50, 51, 2, 16, CN_SEC_NONE_INSECURE),
                     CN_OK);
    ck_assert_int_eq(cn_bfv_context_create(&f->ctx, &f->prm), CN_OK);
    uint8_t seed[CN_SEED_BYTES] = {0};
    const uint64_t s = cn_test_seed();
    memcpy(seed, &s, 8);
    memcpy(seed + 8, &stream, 8);
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(&f->rng, seed, CN_RNG_INSECURE_ACK),
                     CN_OK);
    const int64_t steps[] = {1, 5};
    ck_assert_int_eq(cn_bfv_keygen_secret(&f->sk, f->ctx, &f->rng), CN_OK);
    ck_assert_int_eq(cn_bfv_keygen_relin(&f->rk, &f->sk, f->ctx, &f->rng), CN_OK);
    ck_assert_int_eq(cn_bfv_keygen_galois(&f->gk, &f->sk, steps, 2, f->ctx, &f->rng), CN_OK);
}

static void fx_clear(sk_fx_t *f)
{
    cn_bfv_galois_keys_clear(&f->gk);
    cn_bfv_relin_key_clear(&f->rk);
    cn_bfv_secret_key_clear(&f->sk);
    cn_rng_clear(&f->rng);
    cn_bfv_context_free(f->ctx);
}

/* bytes of K = L + 1 packed rows (q_1..q_L, P) */
static size_t krows_bytes(const cn_bfv_params_t *prm)
{
    size_t b = (prm->n * (size_t)cn_io_bits(prm->p) + 7) / 8;
    for (size_t j = 0; j < prm->nq; j++)
        b += (prm->n * (size_t)cn_io_bits(prm->q[j]) + 7) / 8;
    return b;
}

static void expect_same_ksk(const cn_bfv_relin_key_t *a, const cn_bfv_relin_key_t *b,
                            const cn_bfv_context_t *ctx)
{
    const cn_bfv_params_t *prm = cn_bfv_context_params(ctx);
    const size_t words = (prm->nq + 1) * prm->n * sizeof(uint64_t);
    ck_assert_uint_eq(a->ndigits, b->ndigits);
    for (size_t i = 0; i < a->ndigits; i++) {
        ck_assert_mem_eq(a->k0[i].data, b->k0[i].data, words);
        ck_assert_mem_eq(a->k1[i].data, b->k1[i].data, words);
    }
}

static uint8_t *save_rk(size_t *len, const cn_bfv_relin_key_t *rk, const cn_bfv_context_t *ctx)
{
    *len = cn_io_size_relin_key(rk, ctx);
    uint8_t *b = malloc(*len);
    size_t w = 0;
    ck_assert_int_eq(cn_io_save_relin_key(b, *len, &w, rk, ctx), CN_OK);
    ck_assert_uint_eq(w, *len);
    return b;
}

static uint8_t *save_gk(size_t *len, const cn_bfv_galois_keys_t *gk,
                        const cn_bfv_context_t *ctx)
{
    *len = cn_io_size_galois_keys(gk, ctx);
    uint8_t *b = malloc(*len);
    size_t w = 0;
    ck_assert_int_eq(cn_io_save_galois_keys(b, *len, &w, gk, ctx), CN_OK);
    ck_assert_uint_eq(w, *len);
    return b;
}

static cn_status load_rk_blob(const uint8_t *b, size_t len, const cn_bfv_context_t *ctx)
{
    cn_bfv_relin_key_t rk = {0};
    cn_status st = cn_io_load_relin_key(&rk, b, len, ctx);
    cn_bfv_relin_key_clear(&rk);
    return st;
}

static cn_status load_gk_blob(const uint8_t *b, size_t len, const cn_bfv_context_t *ctx)
{
    cn_bfv_galois_keys_t gk = {0};
    cn_status st = cn_io_load_galois_keys(&gk, b, len, ctx);
    cn_bfv_galois_keys_clear(&gk);
    return st;
}

/* A fresh encryption of random slots in [0, 100) (squares stay below t / 2, t > 2^15). */
static void encrypt_slots(cn_bfv_ciphertext_t *ct, int64_t *v, const cn_bfv_secret_key_t *sk,
                          const cn_bfv_context_t *ctx, cn_rng_t *rng, uint64_t stream)
{
    const size_t n = cn_bfv_context_params(ctx)->n;
    cn_test_rng_t r;
    cn_test_rng_init(&r, stream);
    for (size_t i = 0; i < n; i++)
        v[i] = (int64_t)cn_test_rng_below(&r, 100);
    cn_bfv_plaintext_t pt = {0};
    ck_assert_int_eq(cn_bfv_plaintext_init(&pt, ctx, 0), CN_OK);
    ck_assert_int_eq(cn_bfv_encode_batch(&pt, v, n, ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_encrypt_symmetric(ct, &pt, sk, ctx, rng), CN_OK);
    cn_bfv_plaintext_clear(&pt);
}

static void expect_slots(const cn_bfv_ciphertext_t *ct, const int64_t *want,
                         const cn_bfv_secret_key_t *sk, const cn_bfv_context_t *ctx)
{
    const size_t n = cn_bfv_context_params(ctx)->n;
    cn_bfv_plaintext_t pt = {0};
    int64_t *got = malloc(n * sizeof *got);
    ck_assert_int_eq(cn_bfv_decrypt_checked(&pt, ct, sk, ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_decode_batch(got, &pt, ctx), CN_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == want[i], "slot %zu: %lld, want %lld", i, (long long)got[i],
                      (long long)want[i]);
    free(got);
    cn_bfv_plaintext_clear(&pt);
}

/* rk relinearizes a square to the slot-wise square; gk rotates rows by 1 (and by steps,
 * when it has that key) as the slots say */
static void expect_keys_work(const cn_bfv_relin_key_t *rk, const cn_bfv_galois_keys_t *gk,
                             int64_t steps, const cn_bfv_secret_key_t *sk,
                             const cn_bfv_context_t *ctx, cn_rng_t *rng)
{
    const size_t n = cn_bfv_context_params(ctx)->n, half = n / 2;
    int64_t *v = malloc(n * sizeof *v), *w = malloc(n * sizeof *w);
    cn_bfv_ciphertext_t c = {0}, x = {0};
    encrypt_slots(&c, v, sk, ctx, rng, 16);
    ck_assert_int_eq(cn_bfv_square(&x, &c, ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_relinearize(&x, &x, rk, ctx), CN_OK);
    ck_assert_uint_eq(x.size, 2);
    for (size_t i = 0; i < n; i++)
        w[i] = v[i] * v[i];
    expect_slots(&x, w, sk, ctx);
    ck_assert_int_eq(cn_bfv_rotate_rows(&x, &c, steps, gk, ctx), CN_OK);
    for (size_t r = 0; r < 2; r++)
        for (size_t col = 0; col < half; col++)
            w[r * half + col] = v[r * half + (col + (size_t)steps) % half];
    expect_slots(&x, w, sk, ctx);
    cn_bfv_ciphertext_clear(&c);
    cn_bfv_ciphertext_clear(&x);
    free(v);
    free(w);
}

START_TEST(test_seeded_round_trip)
{
    sk_fx_t f;
    fx_init(&f, 0x5eed);
    const size_t L = f.prm.nq, R = krows_bytes(&f.prm);
    ck_assert_int_eq(f.rk.has_seed, 1);
    /* sizes: ndigits, the seed, L times k0 (K rows); Galois: the element besides */
    size_t lr, lg;
    uint8_t *br = save_rk(&lr, &f.rk, f.ctx), *bg = save_gk(&lg, &f.gk, f.ctx);
    ck_assert_uint_eq(lr, 32 + 4 + 32 + L * R + 8);
    ck_assert_uint_eq(f.gk.count, 3); /* steps 1, 5 and the column swap */
    ck_assert_uint_eq(lg, 32 + f.gk.count * (8 + 4 + 32 + L * R) + 8);
    /* the header: version 1.1, flag 1 (seeded keys) */
    cn_io_header_t h;
    ck_assert_int_eq(cn_io_peek_header(&h, br, lr), CN_OK);
    ck_assert_uint_eq(h.major, 1);
    ck_assert_uint_eq(h.minor, 1);
    ck_assert_uint_eq(h.flags, 1);
    ck_assert_int_eq(cn_io_peek_header(&h, bg, lg), CN_OK);
    ck_assert_uint_eq(h.minor, 1);
    ck_assert_uint_eq(h.flags, 1);
    /* the seed follows ndigits */
    ck_assert_mem_eq(br + 32 + 4, f.rk.seed, CN_SEED_BYTES);
    /* loaded: the same key, k1 expanded from the seed, and the same bytes again */
    cn_bfv_relin_key_t rk = {0};
    ck_assert_int_eq(cn_io_load_relin_key(&rk, br, lr, f.ctx), CN_OK);
    ck_assert_int_eq(rk.has_seed, 1);
    expect_same_ksk(&rk, &f.rk, f.ctx);
    size_t l2;
    uint8_t *b2 = save_rk(&l2, &rk, f.ctx);
    ck_assert_uint_eq(l2, lr);
    ck_assert_mem_eq(b2, br, lr);
    free(b2);
    cn_bfv_galois_keys_t gk = {0};
    ck_assert_int_eq(cn_io_load_galois_keys(&gk, bg, lg, f.ctx), CN_OK);
    ck_assert_uint_eq(gk.count, f.gk.count);
    for (size_t i = 0; i < gk.count; i++) {
        ck_assert_uint_eq(gk.elt[i], f.gk.elt[i]);
        ck_assert_int_eq(gk.key[i].has_seed, 1);
        expect_same_ksk(&gk.key[i], &f.gk.key[i], f.ctx);
        /* every key has a seed of its own */
        for (size_t j = 0; j < i; j++)
            ck_assert_mem_ne(gk.key[i].seed, gk.key[j].seed, CN_SEED_BYTES);
    }
    b2 = save_gk(&l2, &gk, f.ctx);
    ck_assert_uint_eq(l2, lg);
    ck_assert_mem_eq(b2, bg, lg);
    free(b2);
    /* through a FILE as well */
    FILE *tf = tmpfile();
    ck_assert_ptr_nonnull(tf);
    ck_assert_int_eq(cn_io_write_relin_key(tf, &f.rk, f.ctx), CN_OK);
    ck_assert_int_eq(cn_io_write_galois_keys(tf, &f.gk, f.ctx), CN_OK);
    rewind(tf);
    cn_bfv_relin_key_t rk2 = {0};
    cn_bfv_galois_keys_t gk2 = {0};
    ck_assert_int_eq(cn_io_read_relin_key(&rk2, tf, f.ctx), CN_OK);
    ck_assert_int_eq(cn_io_read_galois_keys(&gk2, tf, f.ctx), CN_OK);
    expect_same_ksk(&rk2, &f.rk, f.ctx);
    expect_same_ksk(&gk2.key[2], &f.gk.key[2], f.ctx);
    fclose(tf);
    /* the loaded keys work */
    expect_keys_work(&rk, &gk, 5, &f.sk, f.ctx, &f.rng);
    cn_bfv_relin_key_clear(&rk), cn_bfv_relin_key_clear(&rk2);
    cn_bfv_galois_keys_clear(&gk), cn_bfv_galois_keys_clear(&gk2);
    free(br), free(bg);
    fx_clear(&f);
}
END_TEST

/* A key without its seed (has_seed = 0: loaded from a 1.0 file) is written as 1.0, k1 in
 * full, and loads as such; the two forms of one key hold the same polynomials. */
START_TEST(test_unseeded_form)
{
    sk_fx_t f;
    fx_init(&f, 0x1f0);
    const size_t L = f.prm.nq, R = krows_bytes(&f.prm);
    f.rk.has_seed = 0;
    f.gk.key[1].has_seed = 0; /* one key without: the whole object is written in full */
    size_t lr, lg;
    uint8_t *br = save_rk(&lr, &f.rk, f.ctx), *bg = save_gk(&lg, &f.gk, f.ctx);
    ck_assert_uint_eq(lr, 32 + 4 + 2 * L * R + 8);
    ck_assert_uint_eq(lg, 32 + f.gk.count * (8 + 4 + 2 * L * R) + 8);
    cn_io_header_t h;
    ck_assert_int_eq(cn_io_peek_header(&h, br, lr), CN_OK);
    ck_assert_uint_eq(h.minor, 0);
    ck_assert_uint_eq(h.flags, 0);
    ck_assert_int_eq(cn_io_peek_header(&h, bg, lg), CN_OK);
    ck_assert_uint_eq(h.minor, 0);
    ck_assert_uint_eq(h.flags, 0);
    cn_bfv_relin_key_t rk = {0};
    cn_bfv_galois_keys_t gk = {0};
    ck_assert_int_eq(cn_io_load_relin_key(&rk, br, lr, f.ctx), CN_OK);
    ck_assert_int_eq(cn_io_load_galois_keys(&gk, bg, lg, f.ctx), CN_OK);
    ck_assert_int_eq(rk.has_seed, 0);
    ck_assert_int_eq(gk.key[0].has_seed, 0);
    expect_same_ksk(&rk, &f.rk, f.ctx);
    for (size_t i = 0; i < gk.count; i++)
        expect_same_ksk(&gk.key[i], &f.gk.key[i], f.ctx);
    expect_keys_work(&rk, &gk, 1, &f.sk, f.ctx, &f.rng);
    cn_bfv_relin_key_clear(&rk);
    cn_bfv_galois_keys_clear(&gk);
    free(br), free(bg);
    fx_clear(&f);
}
END_TEST

static uint8_t *read_file(size_t *len, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/io/%s", name);
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "%s: cannot open (run from the source tree)", path);
    fseek(fp, 0, SEEK_END);
    *len = (size_t)ftell(fp);
    rewind(fp);
    uint8_t *b = malloc(*len);
    ck_assert_uint_eq(fread(b, 1, *len, fp), *len);
    fclose(fp);
    return b;
}

/* Files of format 1.0 from the library before seeded keys (commit 85f25f3; see
 * tests/fixtures/io/README.md) load, work under their secret key, and save back to the
 * same bytes. */
START_TEST(test_format_1_0_files)
{
    size_t lp, ls, lr, lg;
    uint8_t *bp = read_file(&lp, "params.bin"), *bs = read_file(&ls, "secret_key.bin");
    uint8_t *br = read_file(&lr, "relin_key_v1_0.bin"),
            *bg = read_file(&lg, "galois_keys_v1_0.bin");
    cn_bfv_params_t prm;
    cn_bfv_context_t *ctx;
    ck_assert_int_eq(cn_io_load_params(&prm, bp, lp, 1), CN_OK);
    ck_assert_int_eq(cn_bfv_context_create(&ctx, &prm), CN_OK);
    cn_bfv_secret_key_t sk = {0};
    cn_bfv_relin_key_t rk = {0};
    cn_bfv_galois_keys_t gk = {0};
    ck_assert_int_eq(cn_io_load_secret_key(&sk, bs, ls, ctx), CN_OK);
    ck_assert_int_eq(cn_io_load_relin_key(&rk, br, lr, ctx), CN_OK);
    ck_assert_int_eq(cn_io_load_galois_keys(&gk, bg, lg, ctx), CN_OK);
    ck_assert_int_eq(rk.has_seed, 0);
    ck_assert_uint_eq(gk.count, 2); /* rotation by 1 and the column swap */
    ck_assert_uint_eq(lr, 32 + 4 + 2 * prm.nq * krows_bytes(&prm) + 8);
    cn_rng_t rng;
    uint8_t seed[CN_SEED_BYTES] = {9};
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(&rng, seed, CN_RNG_INSECURE_ACK),
                     CN_OK);
    expect_keys_work(&rk, &gk, 1, &sk, ctx, &rng);
    size_t l2;
    uint8_t *b2 = save_rk(&l2, &rk, ctx);
    ck_assert_uint_eq(l2, lr);
    ck_assert_mem_eq(b2, br, lr);
    free(b2);
    b2 = save_gk(&l2, &gk, ctx);
    ck_assert_uint_eq(l2, lg);
    ck_assert_mem_eq(b2, bg, lg);
    free(b2);
    /* a 1.0 file given the seeded flag is refused (its body is not a seeded one) */
    uint8_t *e = malloc(lr);
    memcpy(e, br, lr);
    e[6] = 1, e[10] = 1;
    cn_test_reseal_io(e, lr);
    ck_assert_int_eq(load_rk_blob(e, lr, ctx), CN_ERR_FORMAT);
    free(e);
    cn_rng_clear(&rng);
    cn_bfv_galois_keys_clear(&gk);
    cn_bfv_relin_key_clear(&rk);
    cn_bfv_secret_key_clear(&sk);
    cn_bfv_context_free(ctx);
    free(bp), free(bs), free(br), free(bg);
}
END_TEST

/* every proper prefix, every flip of one bit (stride), and one byte more are refused */
static void hostile(const uint8_t *blob, size_t len,
                    cn_status (*load)(const uint8_t *, size_t, const cn_bfv_context_t *),
                    const cn_bfv_context_t *ctx, const char *what, size_t stride)
{
    uint8_t *b = malloc(len + 1);
    ck_assert_int_eq(load(blob, len, ctx), CN_OK);
    for (size_t cut = 0; cut < len; cut += cut < 128 ? 1 : 61)
        ck_assert_msg(load(blob, cut, ctx) != CN_OK, "%s: prefix of %zu bytes accepted", what,
                      cut);
    for (size_t bit = 0; bit < 8 * len; bit += bit < 8 * 128 ? 1 : stride) {
        memcpy(b, blob, len);
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ck_assert_msg(load(b, len, ctx) != CN_OK, "%s: flip of bit %zu accepted", what, bit);
    }
    memcpy(b, blob, len);
    b[len] = 0;
    ck_assert_int_eq(load(b, len + 1, ctx), CN_ERR_FORMAT);
    free(b);
}

/* the blob with its header's minor version and flags set, resealed, loaded */
static cn_status with_header(const uint8_t *blob, size_t len, unsigned minor, unsigned flags,
                             cn_status (*load)(const uint8_t *, size_t,
                                               const cn_bfv_context_t *),
                             const cn_bfv_context_t *ctx)
{
    uint8_t *e = malloc(len);
    memcpy(e, blob, len);
    e[6] = (uint8_t)minor, e[7] = (uint8_t)(minor >> 8);
    e[10] = (uint8_t)flags, e[11] = (uint8_t)(flags >> 8);
    cn_test_reseal_io(e, len);
    cn_status st = load(e, len, ctx);
    free(e);
    return st;
}

START_TEST(test_seeded_hostile)
{
    sk_fx_t f;
    fx_init(&f, 0xbad);
    size_t lr, lg;
    uint8_t *br = save_rk(&lr, &f.rk, f.ctx), *bg = save_gk(&lg, &f.gk, f.ctx);
    hostile(br, lr, load_rk_blob, f.ctx, "seeded relinearization key", 37);
    hostile(bg, lg, load_gk_blob, f.ctx, "seeded Galois keys", 101);
    /* the seeded flag needs version 1.1 or later; other flags are refused; a later minor
     * version is read as 1.1 */
    ck_assert_int_eq(with_header(br, lr, 1, 1, load_rk_blob, f.ctx), CN_OK);
    ck_assert_int_eq(with_header(br, lr, 0, 1, load_rk_blob, f.ctx), CN_ERR_FORMAT);
    ck_assert_int_eq(with_header(br, lr, 1, 3, load_rk_blob, f.ctx), CN_ERR_FORMAT);
    ck_assert_int_eq(with_header(br, lr, 1, 2, load_rk_blob, f.ctx), CN_ERR_FORMAT);
    ck_assert_int_eq(with_header(br, lr, 9, 1, load_rk_blob, f.ctx), CN_OK);
    ck_assert_int_eq(with_header(bg, lg, 0, 1, load_gk_blob, f.ctx), CN_ERR_FORMAT);
    /* a seeded body under a header without the flag: read as 1.0, it ends too early */
    ck_assert_int_eq(with_header(br, lr, 1, 0, load_rk_blob, f.ctx), CN_ERR_FORMAT);
    ck_assert_int_eq(with_header(bg, lg, 1, 0, load_gk_blob, f.ctx), CN_ERR_FORMAT);
    /* the seeded flag on other types: refused */
    cn_bfv_ciphertext_t c = {0};
    int64_t *v = malloc(64 * sizeof *v);
    encrypt_slots(&c, v, &f.sk, f.ctx, &f.rng, 3);
    size_t lc = cn_io_size_ciphertext(&c, 0, f.ctx);
    uint8_t *bc = malloc(lc);
    ck_assert_int_eq(cn_io_save_ciphertext(bc, lc, NULL, &c, 0, f.ctx), CN_OK);
    bc[6] = 1, bc[10] = 1;
    cn_test_reseal_io(bc, lc);
    cn_bfv_ciphertext_t x = {0};
    ck_assert_int_eq(cn_io_load_ciphertext(&x, bc, lc, f.ctx), CN_ERR_FORMAT);
    /* an empty Galois object with the seeded flag (the writer never makes one) */
    cn_bfv_galois_keys_t none = {0};
    none.fingerprint = cn_bfv_context_fingerprint(f.ctx);
    size_t ln;
    uint8_t *bn = save_gk(&ln, &none, f.ctx);
    ck_assert_uint_eq(ln, 40);
    ck_assert_int_eq(load_gk_blob(bn, ln, f.ctx), CN_OK);
    ck_assert_int_eq(with_header(bn, ln, 1, 1, load_gk_blob, f.ctx), CN_ERR_FORMAT);
    free(bn), free(bc), free(v), free(br), free(bg);
    cn_bfv_ciphertext_clear(&c), cn_bfv_ciphertext_clear(&x);
    fx_clear(&f);
}
END_TEST

/* Keygen draws one seed per key switching key; the same generator state gives the same
 * key, and the key's k1 is exactly the expansion of its seed (a key with its seed
 * replaced by another expands to another k1). */
START_TEST(test_keygen_seeds)
{
    sk_fx_t f;
    fx_init(&f, 0x6b31);
    ck_assert_mem_ne(f.rk.seed, f.gk.key[0].seed, CN_SEED_BYTES);
    size_t lr;
    uint8_t *br = save_rk(&lr, &f.rk, f.ctx);
    br[32 + 4] ^= 1; /* another seed */
    cn_test_reseal_io(br, lr);
    cn_bfv_relin_key_t rk = {0};
    ck_assert_int_eq(cn_io_load_relin_key(&rk, br, lr, f.ctx), CN_OK);
    const size_t words = (f.prm.nq + 1) * f.prm.n * sizeof(uint64_t);
    for (size_t i = 0; i < rk.ndigits; i++) {
        ck_assert_mem_eq(rk.k0[i].data, f.rk.k0[i].data, words);
        ck_assert_mem_ne(rk.k1[i].data, f.rk.k1[i].data, words);
    }
    cn_bfv_relin_key_clear(&rk);
    free(br);
    fx_clear(&f);
}
END_TEST

CN_SUITE(io_seeded_keys)
{
    Suite *s = suite_create("io_seeded_keys");
    TCase *tc = cn_tcase("core", 300);
    tcase_add_test(tc, test_seeded_round_trip);
    tcase_add_test(tc, test_unseeded_form);
    tcase_add_test(tc, test_format_1_0_files);
    tcase_add_test(tc, test_seeded_hostile);
    tcase_add_test(tc, test_keygen_seeds);
    suite_add_tcase(s, tc);
    return s;
}
