/* Tests of the batch reader (lib/io/batch_reader.c) against the serial batch loader of
 * objects.c, an independent implementation of the same format (a running checksum and a
 * byte-at-a-time unpacker), and against decryption: the same ciphertexts from records
 * read in any order on many threads into reused ciphertexts; every prefix and every
 * single-bit flip refused with the loader's error; residues of 43 and of 60 bits (the
 * unpacker's one-word and ninth-byte paths). */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/cryptonets.h"

typedef struct {
    cn_bfv_params_t prm;
    cn_bfv_context_t *ctx;
    cn_bfv_secret_key_t sk;
    cn_bfv_public_key_t pk;
    cn_rng_t rng;
} fx_t;

static void fx_init(fx_t *f, unsigned qbits, uint64_t stream)
{
    memset(f, 0, sizeof *f);
    ck_assert_int_eq(
        cn_bfv_params_default(&f->prm, 64, 3, qbits, qbits + 1, 2, 16, CN_SEC_NONE_INSECURE),
        CN_OK);
    ck_assert_int_eq(cn_bfv_context_create(&f->ctx, &f->prm), CN_OK);
    uint8_t seed[CN_SEED_BYTES] = {0};
    uint64_t s = cn_test_seed();
    memcpy(seed, &s, 8);
    memcpy(seed + 8, &stream, 8);
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(&f->rng, seed, CN_RNG_INSECURE_ACK),
                     CN_OK);
    ck_assert_int_eq(cn_bfv_keygen_secret(&f->sk, f->ctx, &f->rng), CN_OK);
    ck_assert_int_eq(cn_bfv_keygen_public(&f->pk, &f->sk, f->ctx, &f->rng), CN_OK);
}

static void fx_clear(fx_t *f)
{
    cn_bfv_public_key_clear(&f->pk);
    cn_bfv_secret_key_clear(&f->sk);
    cn_rng_clear(&f->rng);
    cn_bfv_context_free(f->ctx);
}

/* Every record through the reader, over th threads in reverse order, into cts (reused);
 * the first failure's status (init, get or check). */
static cn_status read_all(cn_bfv_ciphertext_t *cts, size_t *count, size_t max,
                          const uint8_t *buf, size_t len, int th, const cn_bfv_context_t *ctx)
{
    cn_io_batch_reader_t r;
    *count = 0;
    cn_status st = cn_io_batch_reader_init(&r, buf, len, ctx);
    if (st != CN_OK)
        return st;
    if (r.count > max) {
        cn_io_batch_reader_clear(&r);
        return CN_ERR_OUT_OF_RANGE;
    }
    cn_status gs = CN_OK;
#pragma omp parallel for schedule(dynamic, 1) num_threads(th)
    for (long i = (long)r.count; i >= 0; i--) {
        const cn_status e = i == (long)r.count ? cn_io_batch_reader_check(&r)
                                               : cn_io_batch_reader_get(&r, (size_t)i, &cts[i]);
        if (e != CN_OK) {
#pragma omp critical
            gs = e;
        }
    }
    *count = r.count;
    cn_io_batch_reader_clear(&r);
    return gs;
}

/* the loader's status for buf (the oracle) */
static cn_status load_status(const uint8_t *buf, size_t len, const cn_bfv_context_t *ctx)
{
    cn_bfv_ciphertext_t *cts;
    size_t count;
    cn_status st = cn_io_load_ciphertext_batch(&cts, &count, buf, len, ctx);
    cn_io_free_ciphertexts(cts, count);
    return st;
}

enum { N = 9 };

/* N ciphertexts of every kind a batch carries: seeded (sk), full (pk), one level lower, of
 * size 3 (a square), transparent (a product by zero), both plaintext moduli */
static void make_batch(cn_bfv_ciphertext_t *cts, cn_bfv_plaintext_t *m, fx_t *f)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 17);
    for (size_t i = 0; i < N; i++) {
        ck_assert_int_eq(cn_bfv_plaintext_init(&m[i], f->ctx, i % 2), CN_OK);
        for (size_t j = 0; j < m[i].n; j++)
            m[i].coeffs[j] = cn_test_rng_below(&r, f->prm.t[i % 2]);
        ck_assert_int_eq(i % 3
                             ? cn_bfv_encrypt_symmetric(&cts[i], &m[i], &f->sk, f->ctx, &f->rng)
                             : cn_bfv_encrypt(&cts[i], &m[i], &f->pk, f->ctx, &f->rng),
                         CN_OK);
    }
    ck_assert_int_eq(cn_bfv_mod_switch(&cts[3], &cts[3], f->ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_square(&cts[6], &cts[6], f->ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_mul_scalar(&cts[7], &cts[7], 0, f->ctx), CN_OK);
}

static void expect_equal(const cn_bfv_ciphertext_t *a, const cn_bfv_ciphertext_t *b, size_t n)
{
    ck_assert_uint_eq(a->size, b->size);
    ck_assert_uint_eq(a->level, b->level);
    ck_assert_uint_eq(a->t_index, b->t_index);
    ck_assert_int_eq(a->transparent, b->transparent);
    ck_assert_int_eq(a->has_seed, b->has_seed);
    ck_assert_uint_eq(a->fingerprint, b->fingerprint);
    if (a->has_seed)
        ck_assert_mem_eq(a->seed, b->seed, CN_SEED_BYTES);
    for (size_t c = 0; c < a->size; c++) {
        ck_assert_int_eq(a->c[c].form, b->c[c].form);
        ck_assert_uint_eq(a->c[c].k, a->level);
        ck_assert_mem_eq(a->c[c].data, b->c[c].data, a->level * n * sizeof(uint64_t));
    }
}

static void round_trip(unsigned qbits, uint64_t stream)
{
    fx_t f;
    fx_init(&f, qbits, stream);
    cn_bfv_ciphertext_t cts[N] = {{0}}, got[N] = {{0}};
    cn_bfv_plaintext_t m[N];
    make_batch(cts, m, &f);
    const size_t len = cn_io_size_ciphertext_batch(cts, N, CN_IO_ALLOW_TRANSPARENT, f.ctx);
    uint8_t *b = malloc(len);
    ck_assert_int_eq(
        cn_io_save_ciphertext_batch(b, len, NULL, cts, N, CN_IO_ALLOW_TRANSPARENT, f.ctx),
        CN_OK);
    cn_bfv_ciphertext_t *want;
    size_t nw, ng;
    ck_assert_int_eq(cn_io_load_ciphertext_batch(&want, &nw, b, len, f.ctx), CN_OK);
    ck_assert_uint_eq(nw, N);
    /* twice: fresh ciphertexts, then the same ones reused (shapes shuffled first) */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            for (size_t i = 0; i + 1 < N; i += 2) {
                cn_bfv_ciphertext_t t = got[i];
                got[i] = got[i + 1];
                got[i + 1] = t;
            }
        ck_assert_int_eq(read_all(got, &ng, N, b, len, 3, f.ctx), CN_OK);
        ck_assert_uint_eq(ng, N);
        for (size_t i = 0; i < N; i++) {
            expect_equal(&got[i], &want[i], f.prm.n);
            /* decrypts as the ciphertext that was saved (m[i] for the fresh ones) */
            cn_bfv_plaintext_t d = {0}, e = {0};
            ck_assert_int_eq(cn_bfv_decrypt(&d, &got[i], &f.sk, f.ctx), CN_OK);
            ck_assert_int_eq(cn_bfv_decrypt(&e, &cts[i], &f.sk, f.ctx), CN_OK);
            ck_assert_mem_eq(d.coeffs, e.coeffs, d.n * sizeof *d.coeffs);
            if (i != 6 && i != 7) /* not the square nor the product by zero */
                ck_assert_mem_eq(d.coeffs, m[i].coeffs, d.n * sizeof *d.coeffs);
            cn_bfv_plaintext_clear(&d);
            cn_bfv_plaintext_clear(&e);
        }
    }
    /* the records' shapes as init found them; indices out of range */
    cn_io_batch_reader_t r;
    ck_assert_int_eq(cn_io_batch_reader_init(&r, b, len, f.ctx), CN_OK);
    for (size_t i = 0; i < N; i++) {
        cn_io_batch_shape_t sh;
        size_t ti;
        ck_assert_int_eq(cn_io_batch_reader_info(&sh, &ti, &r, i), CN_OK);
        ck_assert_uint_eq(sh.size, cts[i].size);
        ck_assert_uint_eq(sh.level, cts[i].level);
        ck_assert_uint_eq(sh.seeded, cts[i].has_seed);
        ck_assert_uint_eq(ti, cts[i].t_index);
    }
    cn_io_batch_shape_t sh;
    ck_assert_int_eq(cn_io_batch_reader_info(&sh, NULL, &r, N), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_io_batch_reader_get(&r, N, &got[0]), CN_ERR_INVALID_ARG);
    cn_io_batch_reader_clear(&r);
    cn_io_batch_reader_clear(&r); /* safe twice */
    /* hostile bytes (one thread: many small batches): every prefix and every 37th bit
     * flipped, refused as by the loader */
    uint8_t *x = malloc(len + 1);
    for (size_t cut = 0; cut < len; cut++)
        ck_assert_int_eq(read_all(got, &ng, N, b, cut, 1, f.ctx), load_status(b, cut, f.ctx));
    for (size_t bit = 0; bit < 8 * len; bit += 37) {
        memcpy(x, b, len);
        x[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        const cn_status st = read_all(got, &ng, N, x, len, 1, f.ctx);
        ck_assert_msg(st != CN_OK, "flip of bit %zu accepted", bit);
        ck_assert_int_eq(st, load_status(x, len, f.ctx));
    }
    memcpy(x, b, len);
    x[len] = 0;
    ck_assert_int_eq(read_all(got, &ng, N, x, len + 1, 2, f.ctx), CN_ERR_FORMAT);
    /* a forged count with a valid checksum: refused before any allocation of its size */
    memcpy(x, b, len);
    x[12] = 0xff, x[13] = 0xff, x[14] = 0xff, x[15] = 0x00;
    uint64_t sum = cn_io_checksum(x, len - 8);
    for (int k = 0; k < 8; k++, sum >>= 8)
        x[len - 8 + k] = (uint8_t)sum;
    ck_assert_int_eq(read_all(got, &ng, N, x, len, 2, f.ctx), CN_ERR_FORMAT);
    ck_assert_int_eq(load_status(x, len, f.ctx), CN_ERR_FORMAT);
    /* another context's batch */
    fx_t g;
    fx_init(&g, qbits == 60 ? 43 : 60, stream + 1);
    ck_assert_int_eq(read_all(got, &ng, N, b, len, 2, g.ctx), CN_ERR_CONTEXT_MISMATCH);
    fx_clear(&g);
    free(x);
    free(b);
    cn_io_free_ciphertexts(want, nw);
    for (size_t i = 0; i < N; i++) {
        cn_bfv_ciphertext_clear(&cts[i]);
        cn_bfv_ciphertext_clear(&got[i]);
        cn_bfv_plaintext_clear(&m[i]);
    }
    fx_clear(&f);
}

START_TEST(test_reader_43)
{
    round_trip(43, 31);
}
END_TEST

START_TEST(test_reader_60)
{
    round_trip(60, 32);
}
END_TEST

/* an empty batch: no record, a checksum */
START_TEST(test_reader_empty)
{
    fx_t f;
    fx_init(&f, 43, 33);
    const size_t len = cn_io_size_ciphertext_batch(NULL, 0, 0, f.ctx);
    uint8_t *b = malloc(len);
    ck_assert_int_eq(cn_io_save_ciphertext_batch(b, len, NULL, NULL, 0, 0, f.ctx), CN_OK);
    cn_io_batch_reader_t r;
    ck_assert_int_eq(cn_io_batch_reader_init(&r, b, len, f.ctx), CN_OK);
    ck_assert_uint_eq(r.count, 0);
    ck_assert_int_eq(cn_io_batch_reader_check(&r), CN_OK);
    cn_io_batch_reader_clear(&r);
    b[len - 1] ^= 1;
    ck_assert_int_eq(cn_io_batch_reader_init(&r, b, len, f.ctx), CN_OK);
    ck_assert_int_eq(cn_io_batch_reader_check(&r), CN_ERR_FORMAT);
    cn_io_batch_reader_clear(&r);
    free(b);
    fx_clear(&f);
}
END_TEST

CN_SUITE(batch_reader)
{
    Suite *s = suite_create("batch_reader");
    TCase *tc = cn_tcase("core", 300);
    tcase_add_test(tc, test_reader_43);
    tcase_add_test(tc, test_reader_60);
    tcase_add_test(tc, test_reader_empty);
    suite_add_tcase(s, tc);
    return s;
}
