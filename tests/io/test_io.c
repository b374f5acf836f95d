/* Tests of lib/io: round trips of every object (bytes and behaviour), exact sizes, FILE
 * streams, and hostile input: every truncation, every single-bit flip, residues out of
 * range, wrong context, newer versions, forged counts and lengths, type confusion; the
 * streaming batch writer against the serial saver, and deferred seed expansion. */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "common/util.h"
#include "cryptonets/cryptonets.h"
#include "io/io_internal.h"

typedef struct {
    cn_bfv_params_t prm;
    cn_bfv_context_t *ctx;
    cn_bfv_secret_key_t sk;
    cn_bfv_public_key_t pk;
    cn_bfv_relin_key_t rk;
    cn_bfv_galois_keys_t gk;
    cn_rng_t rng;
} fx_t;

static void fx_init(fx_t *f, size_t n, size_t nq, cn_security sec, uint64_t stream)
{
    memset(f, 0, sizeof *f);
    if (sec == CN_SEC_128)
        ck_assert_int_eq(cn_bfv_params_default(&f->prm, n, nq, 43, 44, 1, 20, sec), CN_OK);
    else
        ck_assert_int_eq(cn_bfv_params_default(&f->prm, n, nq, 50, 51, 2, 16, sec), CN_OK);
    ck_assert_int_eq(cn_bfv_context_create(&f->ctx, &f->prm), CN_OK);
    uint8_t seed[CN_SEED_BYTES] = {0};
    uint64_t s = cn_test_seed();
    memcpy(seed, &s, 8);
    memcpy(seed + 8, &stream, 8);
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(&f->rng, seed, CN_RNG_INSECURE_ACK),
                     CN_OK);
    ck_assert_int_eq(cn_bfv_keygen_secret(&f->sk, f->ctx, &f->rng), CN_OK);
    ck_assert_int_eq(cn_bfv_keygen_public(&f->pk, &f->sk, f->ctx, &f->rng), CN_OK);
    ck_assert_int_eq(cn_bfv_keygen_relin(&f->rk, &f->sk, f->ctx, &f->rng), CN_OK);
    const int64_t steps[] = {1, -3};
    ck_assert_int_eq(cn_bfv_keygen_galois(&f->gk, &f->sk, steps, 2, f->ctx, &f->rng), CN_OK);
}

static void fx_clear(fx_t *f)
{
    cn_bfv_galois_keys_clear(&f->gk);
    cn_bfv_relin_key_clear(&f->rk);
    cn_bfv_public_key_clear(&f->pk);
    cn_bfv_secret_key_clear(&f->sk);
    cn_rng_clear(&f->rng);
    cn_bfv_context_free(f->ctx);
}

static void random_plain(cn_bfv_plaintext_t *pt, const fx_t *f, size_t ti, cn_test_rng_t *r)
{
    ck_assert_int_eq(cn_bfv_plaintext_init(pt, f->ctx, ti), CN_OK);
    for (size_t i = 0; i < pt->n; i++)
        pt->coeffs[i] = cn_test_rng_below(r, f->prm.t[ti]);
}

static void expect_decrypts(const cn_bfv_ciphertext_t *ct, const cn_bfv_plaintext_t *want,
                            const cn_bfv_secret_key_t *sk, const fx_t *f)
{
    cn_bfv_plaintext_t got = {0};
    ck_assert_int_eq(cn_bfv_decrypt(&got, ct, sk, f->ctx), CN_OK);
    ck_assert_uint_eq(got.t_index, want->t_index);
    ck_assert_mem_eq(got.coeffs, want->coeffs, got.n * sizeof *got.coeffs);
    cn_bfv_plaintext_clear(&got);
}

typedef cn_status (*load_fn)(const uint8_t *buf, size_t len, const fx_t *f);

static cn_status load_ct_blob(const uint8_t *buf, size_t len, const fx_t *f)
{
    cn_bfv_ciphertext_t ct = {0};
    cn_status st = cn_io_load_ciphertext(&ct, buf, len, f->ctx);
    cn_bfv_ciphertext_clear(&ct);
    return st;
}

static cn_status load_pk_blob(const uint8_t *buf, size_t len, const fx_t *f)
{
    cn_bfv_public_key_t pk = {0};
    cn_status st = cn_io_load_public_key(&pk, buf, len, f->ctx);
    cn_bfv_public_key_clear(&pk);
    return st;
}

static cn_status load_sk_blob(const uint8_t *buf, size_t len, const fx_t *f)
{
    cn_bfv_secret_key_t sk = {0};
    cn_status st = cn_io_load_secret_key(&sk, buf, len, f->ctx);
    cn_bfv_secret_key_clear(&sk);
    return st;
}

static cn_status load_gk_blob(const uint8_t *buf, size_t len, const fx_t *f)
{
    cn_bfv_galois_keys_t gk = {0};
    cn_status st = cn_io_load_galois_keys(&gk, buf, len, f->ctx);
    cn_bfv_galois_keys_clear(&gk);
    return st;
}

static cn_status load_batch_blob(const uint8_t *buf, size_t len, const fx_t *f)
{
    cn_bfv_ciphertext_t *cts;
    size_t count;
    cn_status st = cn_io_load_ciphertext_batch(&cts, &count, buf, len, f->ctx);
    cn_io_free_ciphertexts(cts, count);
    return st;
}

static cn_status load_params_blob(const uint8_t *buf, size_t len, const fx_t *f)
{
    cn_bfv_params_t p;
    (void)f;
    return cn_io_load_params(&p, buf, len, 1);
}

/* every proper prefix and every single-bit flip is refused; a padded blob too */
static void hostile(const uint8_t *blob, size_t len, load_fn load, const fx_t *f,
                    const char *what, size_t flip_stride)
{
    uint8_t *b = malloc(len + 1);
    ck_assert_int_eq(load(blob, len, f), CN_OK);
    for (size_t cut = 0; cut < len; cut++) {
        cn_status st = load(blob, cut, f);
        ck_assert_msg(st != CN_OK, "%s: prefix of %zu bytes accepted", what, cut);
    }
    for (size_t bit = 0; bit < 8 * len; bit += flip_stride) {
        memcpy(b, blob, len);
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        cn_status st = load(b, len, f);
        ck_assert_msg(st != CN_OK, "%s: flip of bit %zu accepted", what, bit);
    }
    memcpy(b, blob, len);
    b[len] = 0;
    ck_assert_int_eq(load(b, len + 1, f), CN_ERR_FORMAT);
    free(b);
}

static uint8_t *save_ct(size_t *len, const cn_bfv_ciphertext_t *ct, unsigned flags,
                        const fx_t *f)
{
    size_t size = cn_io_size_ciphertext(ct, flags, f->ctx), written;
    uint8_t *b = malloc(size);
    ck_assert_int_eq(cn_io_save_ciphertext(b, size - 1, &written, ct, flags, f->ctx),
                     CN_ERR_OUT_OF_RANGE);
    ck_assert_int_eq(cn_io_save_ciphertext(b, size, &written, ct, flags, f->ctx), CN_OK);
    ck_assert_uint_eq(written, size);
    *len = size;
    return b;
}

START_TEST(test_ciphertexts)
{
    fx_t f;
    fx_init(&f, 64, 3, CN_SEC_NONE_INSECURE, 1);
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1);
    cn_bfv_plaintext_t m, m2;
    random_plain(&m, &f, 1, &r);
    random_plain(&m2, &f, 1, &r);
    cn_bfv_ciphertext_t c = {0}, s = {0}, x = {0}, y = {0};
    ck_assert_int_eq(cn_bfv_encrypt(&c, &m, &f.pk, f.ctx, &f.rng), CN_OK);
    ck_assert_int_eq(cn_bfv_encrypt_symmetric(&s, &m2, &f.sk, f.ctx, &f.rng), CN_OK);
    size_t lc, ls, lf;
    uint8_t *bc = save_ct(&lc, &c, 0, &f), *bs = save_ct(&ls, &s, 0, &f);
    uint8_t *bfull = save_ct(&lf, &s, CN_IO_NO_SEED, &f);
    /* the seed replaces c1: a little more than half the size */
    ck_assert_uint_eq(lf, lc);
    ck_assert_uint_eq(ls, lc - (lc - 56) / 2 + CN_SEED_BYTES); /* 56: header, shape, sum */
    ck_assert_int_eq(cn_io_load_ciphertext(&x, bc, lc, f.ctx), CN_OK);
    expect_decrypts(&x, &m, &f.sk, &f);
    ck_assert_int_eq(cn_io_load_ciphertext(&x, bs, ls, f.ctx), CN_OK);
    ck_assert_int_eq(x.has_seed, 1);
    expect_decrypts(&x, &m2, &f.sk, &f);
    ck_assert_mem_eq(x.c[1].data, s.c[1].data, 3 * 64 * sizeof(uint64_t));
    /* a loaded object saves to the same bytes */
    size_t l2;
    uint8_t *b2 = save_ct(&l2, &x, 0, &f);
    ck_assert_uint_eq(l2, ls);
    ck_assert_mem_eq(b2, bs, ls);
    free(b2);
    /* size 3 at a lower level, both signs of the evaluation */
    ck_assert_int_eq(cn_bfv_mod_switch(&y, &c, f.ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_mod_switch(&x, &s, f.ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_mul(&y, &y, &x, f.ctx), CN_OK);
    uint8_t *b3 = save_ct(&l2, &y, 0, &f);
    cn_bfv_ciphertext_t z = {0};
    ck_assert_int_eq(cn_io_load_ciphertext(&z, b3, l2, f.ctx), CN_OK);
    ck_assert_uint_eq(z.size, 3);
    ck_assert_uint_eq(z.level, 2);
    cn_bfv_plaintext_t p1 = {0}, p2 = {0};
    ck_assert_int_eq(cn_bfv_decrypt(&p1, &y, &f.sk, f.ctx), CN_OK);
    expect_decrypts(&z, &p1, &f.sk, &f);
    /* transparent ciphertexts need the flag, and keep it */
    ck_assert_int_eq(cn_bfv_mul_scalar(&x, &c, 0, f.ctx), CN_OK);
    size_t lt = cn_io_size_ciphertext(&x, 0, f.ctx);
    uint8_t *bt = malloc(lt);
    ck_assert_int_eq(cn_io_save_ciphertext(bt, lt, NULL, &x, 0, f.ctx), CN_ERR_UNSUPPORTED);
    ck_assert_int_eq(cn_io_save_ciphertext(bt, lt, NULL, &x, CN_IO_ALLOW_TRANSPARENT, f.ctx),
                     CN_OK);
    ck_assert_int_eq(cn_io_load_ciphertext(&z, bt, lt, f.ctx), CN_OK);
    ck_assert_int_eq(z.transparent, 1);
    free(bt);
    /* hostile input: every prefix, every bit flip */
    hostile(bc, lc, load_ct_blob, &f, "ciphertext", 1);
    hostile(bs, ls, load_ct_blob, &f, "seeded ciphertext", 1);
    hostile(b3, l2, load_ct_blob, &f, "size-3 ciphertext", 3);
    /* a residue equal to its prime, resealed so only the range check can see it */
    uint8_t *e = malloc(lc);
    memcpy(e, bc, lc);
    const uint64_t q0 = f.prm.q[0];
    unsigned bits = cn_io_bits(q0);
    for (unsigned i = 0; i < bits; i++) { /* first residue of c0 := q0 */
        size_t bit = 8 * (CN_IO_HEADER_BYTES + 16) + i;
        e[bit / 8] =
            (uint8_t)((e[bit / 8] & ~(1u << (bit % 8))) | (((q0 >> i) & 1) << (bit % 8)));
    }
    cn_test_reseal_io(e, lc);
    ck_assert_int_eq(load_ct_blob(e, lc, &f), CN_ERR_FORMAT);
    /* a newer major version is refused as such; an older minor is fine */
    memcpy(e, bc, lc);
    e[4] = CN_IO_VERSION_MAJOR + 1;
    cn_test_reseal_io(e, lc);
    ck_assert_int_eq(load_ct_blob(e, lc, &f), CN_ERR_VERSION);
    memcpy(e, bc, lc);
    e[6] = 7; /* minor 7 */
    cn_test_reseal_io(e, lc);
    ck_assert_int_eq(load_ct_blob(e, lc, &f), CN_OK);
    /* a level beyond the context, a seed flag on a lower level */
    memcpy(e, bc, lc);
    e[CN_IO_HEADER_BYTES + 4] = 9;
    cn_test_reseal_io(e, lc);
    ck_assert_int_eq(load_ct_blob(e, lc, &f), CN_ERR_FORMAT);
    free(e);
    /* another context's ciphertext */
    fx_t g;
    fx_init(&g, 64, 2, CN_SEC_NONE_INSECURE, 2);
    ck_assert_int_eq(load_ct_blob(bc, lc, &g), CN_ERR_CONTEXT_MISMATCH);
    fx_clear(&g);
    free(bc), free(bs), free(bfull), free(b3);
    cn_bfv_ciphertext_clear(&c), cn_bfv_ciphertext_clear(&s), cn_bfv_ciphertext_clear(&x);
    cn_bfv_ciphertext_clear(&y), cn_bfv_ciphertext_clear(&z);
    cn_bfv_plaintext_clear(&m), cn_bfv_plaintext_clear(&m2);
    cn_bfv_plaintext_clear(&p1), cn_bfv_plaintext_clear(&p2);
    fx_clear(&f);
}
END_TEST

START_TEST(test_keys)
{
    fx_t f;
    fx_init(&f, 64, 3, CN_SEC_NONE_INSECURE, 3);
    cn_test_rng_t r;
    cn_test_rng_init(&r, 3);
    /* public key: the loaded key encrypts what the secret key decrypts */
    size_t len = cn_io_size_public_key(&f.pk, f.ctx), w;
    uint8_t *bp = malloc(len);
    ck_assert_int_eq(cn_io_save_public_key(bp, len, &w, &f.pk, f.ctx), CN_OK);
    ck_assert_uint_eq(w, len);
    cn_bfv_public_key_t pk = {0};
    ck_assert_int_eq(cn_io_load_public_key(&pk, bp, len, f.ctx), CN_OK);
    ck_assert_mem_eq(pk.p0.data, f.pk.p0.data, 3 * 64 * sizeof(uint64_t));
    cn_bfv_plaintext_t m;
    random_plain(&m, &f, 0, &r);
    cn_bfv_ciphertext_t c = {0}, x = {0};
    ck_assert_int_eq(cn_bfv_encrypt(&c, &m, &pk, f.ctx, &f.rng), CN_OK);
    expect_decrypts(&c, &m, &f.sk, &f);
    hostile(bp, len, load_pk_blob, &f, "public key", 7);
    /* relinearization key: the loaded key relinearizes a square */
    size_t lr = cn_io_size_relin_key(&f.rk, f.ctx);
    uint8_t *br = malloc(lr);
    ck_assert_int_eq(cn_io_save_relin_key(br, lr, &w, &f.rk, f.ctx), CN_OK);
    cn_bfv_relin_key_t rk = {0};
    ck_assert_int_eq(cn_io_load_relin_key(&rk, br, lr, f.ctx), CN_OK);
    cn_bfv_plaintext_t sq = {0};
    ck_assert_int_eq(cn_bfv_square(&x, &c, f.ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_decrypt(&sq, &x, &f.sk, f.ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_relinearize(&x, &x, &rk, f.ctx), CN_OK);
    expect_decrypts(&x, &sq, &f.sk, &f);
    cn_bfv_relin_key_clear(&rk);
    /* Galois keys: the loaded keys rotate */
    size_t lg = cn_io_size_galois_keys(&f.gk, f.ctx);
    uint8_t *bg = malloc(lg);
    ck_assert_int_eq(cn_io_save_galois_keys(bg, lg, &w, &f.gk, f.ctx), CN_OK);
    cn_bfv_galois_keys_t gk = {0};
    ck_assert_int_eq(cn_io_load_galois_keys(&gk, bg, lg, f.ctx), CN_OK);
    ck_assert_uint_eq(gk.count, f.gk.count);
    cn_bfv_ciphertext_t y = {0};
    ck_assert_int_eq(cn_bfv_rotate_rows(&x, &c, -3, &gk, f.ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_rotate_rows(&y, &c, -3, &f.gk, f.ctx), CN_OK);
    cn_bfv_plaintext_t py = {0};
    ck_assert_int_eq(cn_bfv_decrypt(&py, &y, &f.sk, f.ctx), CN_OK);
    expect_decrypts(&x, &py, &f.sk, &f);
    hostile(bg, lg, load_gk_blob, &f, "galois keys", 101);
    cn_bfv_galois_keys_clear(&gk);
    /* secret key: 2 bits a coefficient; the loaded key decrypts */
    size_t lk = cn_io_size_secret_key(&f.sk, f.ctx);
    ck_assert_uint_eq(lk, CN_IO_HEADER_BYTES + 64 / 4 + CN_IO_TRAILER_BYTES);
    uint8_t *bk = malloc(lk);
    ck_assert_int_eq(cn_io_save_secret_key(bk, lk, &w, &f.sk, f.ctx), CN_OK);
    cn_bfv_secret_key_t sk = {0};
    ck_assert_int_eq(cn_io_load_secret_key(&sk, bk, lk, f.ctx), CN_OK);
    expect_decrypts(&c, &m, &sk, &f);
    ck_assert_mem_eq(sk.s.data, f.sk.s.data, 4 * 64 * sizeof(uint64_t));
    cn_bfv_secret_key_clear(&sk);
    hostile(bk, lk, load_sk_blob, &f, "secret key", 1);
    /* type confusion: no public loader takes a secret key, and the reverse */
    ck_assert_int_eq(load_pk_blob(bk, lk, &f), CN_ERR_FORMAT);
    ck_assert_int_eq(load_ct_blob(bk, lk, &f), CN_ERR_FORMAT);
    ck_assert_int_eq(load_sk_blob(bp, len, &f), CN_ERR_FORMAT);
    /* a code 3 (not ternary), resealed */
    bk[CN_IO_HEADER_BYTES] |= 3;
    cn_test_reseal_io(bk, lk);
    ck_assert_int_eq(load_sk_blob(bk, lk, &f), CN_ERR_FORMAT);
    free(bp), free(br), free(bg), free(bk);
    cn_bfv_public_key_clear(&pk);
    cn_bfv_ciphertext_clear(&c), cn_bfv_ciphertext_clear(&x), cn_bfv_ciphertext_clear(&y);
    cn_bfv_plaintext_clear(&m), cn_bfv_plaintext_clear(&sq), cn_bfv_plaintext_clear(&py);
    fx_clear(&f);
}
END_TEST

START_TEST(test_params_plaintext_batch)
{
    fx_t f;
    fx_init(&f, 64, 3, CN_SEC_NONE_INSECURE, 4);
    cn_test_rng_t r;
    cn_test_rng_init(&r, 4);
    /* parameters: insecure ones only when asked */
    size_t lp = cn_io_size_params(&f.prm), w;
    uint8_t *bp = malloc(lp);
    ck_assert_int_eq(cn_io_save_params(bp, lp, &w, &f.prm), CN_OK);
    cn_bfv_params_t p;
    ck_assert_int_eq(cn_io_load_params(&p, bp, lp, 0), CN_ERR_INSECURE);
    ck_assert_int_eq(cn_io_load_params(&p, bp, lp, 1), CN_OK);
    ck_assert_uint_eq(p.n, f.prm.n);
    ck_assert_mem_eq(p.q, f.prm.q, p.nq * sizeof *p.q);
    ck_assert_mem_eq(p.t, f.prm.t, p.nt * sizeof *p.t);
    ck_assert_uint_eq(p.p, f.prm.p);
    hostile(bp, lp, load_params_blob, &f, "params", 1);
    /* plaintext */
    cn_bfv_plaintext_t m, m2 = {0};
    random_plain(&m, &f, 1, &r);
    size_t lm = cn_io_size_plaintext(&m, f.ctx);
    uint8_t *bm = malloc(lm);
    ck_assert_int_eq(cn_io_save_plaintext(bm, lm, &w, &m, f.ctx), CN_OK);
    ck_assert_int_eq(cn_io_load_plaintext(&m2, bm, lm, f.ctx), CN_OK);
    ck_assert_uint_eq(m2.t_index, 1);
    ck_assert_mem_eq(m2.coeffs, m.coeffs, 64 * sizeof *m.coeffs);
    cn_bfv_plaintext_clear(&m2);
    /* a batch of ciphertexts of mixed shapes, through a FILE */
    cn_bfv_ciphertext_t cts[5] = {{0}};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq((i % 2 ? cn_bfv_encrypt_symmetric(&cts[i], &m, &f.sk, f.ctx, &f.rng)
                                : cn_bfv_encrypt(&cts[i], &m, &f.pk, f.ctx, &f.rng)),
                         CN_OK);
    ck_assert_int_eq(cn_bfv_mod_switch(&cts[2], &cts[2], f.ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_square(&cts[4], &cts[4], f.ctx), CN_OK);
    size_t lb = cn_io_size_ciphertext_batch(cts, 5, 0, f.ctx);
    FILE *tf = tmpfile();
    ck_assert_ptr_nonnull(tf);
    ck_assert_int_eq(cn_io_write_ciphertext_batch(tf, cts, 5, 0, f.ctx), CN_OK);
    ck_assert_int_eq(cn_io_write_params(tf, &f.prm), CN_OK);
    ck_assert_int_eq(cn_io_write_plaintext(tf, &m, f.ctx), CN_OK);
    ck_assert_int_eq((long)ftell(tf), (long)(lb + lp + lm));
    rewind(tf);
    cn_bfv_ciphertext_t *back;
    size_t count;
    ck_assert_int_eq(cn_io_read_ciphertext_batch(&back, &count, tf, f.ctx), CN_OK);
    ck_assert_uint_eq(count, 5);
    for (size_t i = 0; i < count; i++) {
        cn_bfv_plaintext_t want = {0};
        ck_assert_int_eq(cn_bfv_decrypt(&want, &cts[i], &f.sk, f.ctx), CN_OK);
        expect_decrypts(&back[i], &want, &f.sk, &f);
        ck_assert_uint_eq(back[i].size, cts[i].size);
        ck_assert_uint_eq(back[i].level, cts[i].level);
        cn_bfv_plaintext_clear(&want);
    }
    cn_io_free_ciphertexts(back, count);
    ck_assert_int_eq(cn_io_read_params(&p, tf, 1), CN_OK);
    ck_assert_int_eq(cn_io_read_plaintext(&m2, tf, f.ctx), CN_OK);
    ck_assert_mem_eq(m2.coeffs, m.coeffs, 64 * sizeof *m.coeffs);
    ck_assert_int_eq(cn_io_read_plaintext(&m2, tf, f.ctx), CN_ERR_TRUNCATED); /* at EOF */
    fclose(tf);
    /* the batch through a buffer, and hostile variants */
    uint8_t *bb = malloc(lb);
    ck_assert_int_eq(cn_io_save_ciphertext_batch(bb, lb, &w, cts, 5, 0, f.ctx), CN_OK);
    ck_assert_uint_eq(w, lb);
    hostile(bb, lb, load_batch_blob, &f, "batch", 13);
    /* a forged count: the loader reads until the bytes run out, allocating only for
     * what is there, then refuses */
    bb[12] = 0xff, bb[13] = 0xff, bb[14] = 0xff, bb[15] = 0x00;
    cn_test_reseal_io(bb, lb);
    ck_assert_int_eq(load_batch_blob(bb, lb, &f), CN_ERR_FORMAT);
    /* a forged huge length through a FILE: truncated, not allocated */
    tf = tmpfile();
    uint8_t hdr[CN_IO_HEADER_BYTES];
    memcpy(hdr, bb, sizeof hdr);
    hdr[12] = 1, hdr[13] = 0, hdr[14] = 0;
    hdr[23] = 0x10; /* total length about 2^60 */
    fwrite(hdr, 1, sizeof hdr, tf);
    rewind(tf);
    ck_assert_int_eq(cn_io_read_ciphertext_batch(&back, &count, tf, f.ctx), CN_ERR_TRUNCATED);
    ck_assert_ptr_null(back);
    fclose(tf);
    /* an empty batch is fine */
    ck_assert_int_eq(cn_io_save_ciphertext_batch(bb, lb, &w, cts, 0, 0, f.ctx), CN_OK);
    ck_assert_int_eq(cn_io_load_ciphertext_batch(&back, &count, bb, w, f.ctx), CN_OK);
    ck_assert_uint_eq(count, 0);
    cn_io_free_ciphertexts(back, count);
    /* a header peek */
    cn_io_header_t h;
    ck_assert_int_eq(cn_io_peek_header(&h, bm, lm), CN_OK);
    ck_assert_int_eq(h.type, CN_IO_PLAINTEXT);
    ck_assert_uint_eq(h.total_length, lm);
    ck_assert_int_eq(cn_io_peek_header(&h, bm, 31), CN_ERR_TRUNCATED);
    for (int i = 0; i < 5; i++)
        cn_bfv_ciphertext_clear(&cts[i]);
    free(bp), free(bm), free(bb);
    cn_bfv_plaintext_clear(&m), cn_bfv_plaintext_clear(&m2);
    fx_clear(&f);
}
END_TEST

/* count fresh ciphertexts of m: seeded (sk) or not (pk), with the given plaintext modulus
 * index pattern (t_index i % 2) */
static void make_cts(cn_bfv_ciphertext_t *cts, size_t count, int seeded, fx_t *f,
                     cn_test_rng_t *r)
{
    for (size_t i = 0; i < count; i++) {
        cn_bfv_plaintext_t m;
        random_plain(&m, f, i % 2, r);
        ck_assert_int_eq(seeded ? cn_bfv_encrypt_symmetric(&cts[i], &m, &f->sk, f->ctx, &f->rng)
                                : cn_bfv_encrypt(&cts[i], &m, &f->pk, f->ctx, &f->rng),
                         CN_OK);
        cn_bfv_plaintext_clear(&m);
    }
}

/* The streamed batch of cts (puts in reverse order over th OpenMP threads) against the
 * serial saver cn_io_save_ciphertext_batch with save_flags: the same bytes. */
static void expect_stream_equals_save(const cn_bfv_ciphertext_t *cts, size_t count,
                                      const cn_io_batch_shape_t *sh, unsigned flags,
                                      unsigned save_flags, int th, const fx_t *f)
{
    const size_t want_len = cn_io_size_ciphertext_batch(cts, count, save_flags, f->ctx);
    uint8_t *want = malloc(want_len);
    size_t w = 0;
    ck_assert_int_eq(
        cn_io_save_ciphertext_batch(want, want_len, &w, cts, count, save_flags, f->ctx), CN_OK);
    const size_t total = cn_io_batch_writer_size(count, sh, f->ctx);
    ck_assert_uint_eq(total, want_len);
    uint8_t *got = malloc(total);
    memset(got, 0xa5, total);
    cn_io_batch_writer_t wr;
    ck_assert_int_eq(cn_io_batch_writer_init(&wr, got, total, count, sh, flags, f->ctx), CN_OK);
    ck_assert_uint_eq(wr.total, total);
    ck_assert_uint_eq(wr.count, count);
    ck_assert_uint_eq(CN_IO_HEADER_BYTES + count * wr.record_bytes + CN_IO_TRAILER_BYTES,
                      total);
    int fails = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(th) reduction(+ : fails)
    for (long i = (long)count - 1; i >= 0; i--)
        fails += cn_io_batch_writer_put(&wr, (size_t)i, &cts[i]) != CN_OK;
    ck_assert_int_eq(fails, 0);
    ck_assert_int_eq(cn_io_batch_writer_final(&wr, &w), CN_OK);
    ck_assert_uint_eq(w, total);
    ck_assert_mem_eq(got, want, total);
    cn_io_batch_writer_clear(&wr);
    free(got);
    free(want);
}

START_TEST(test_batch_writer)
{
    fx_t f, g;
    fx_init(&f, 64, 3, CN_SEC_NONE_INSECURE, 6);
    fx_init(&g, 64, 2, CN_SEC_NONE_INSECURE, 7);
    cn_test_rng_t r;
    cn_test_rng_init(&r, 6);
    enum { N = 23 };
    cn_bfv_ciphertext_t sd[N] = {{0}}, pk[N] = {{0}}, sq[N] = {{0}};
    make_cts(sd, N, 1, &f, &r);
    make_cts(pk, N, 0, &f, &r);
    /* size 3 at level 2 */
    for (size_t i = 0; i < N; i++) {
        ck_assert_int_eq(cn_bfv_mod_switch(&sq[i], &pk[i], f.ctx), CN_OK);
        ck_assert_int_eq(cn_bfv_square(&sq[i], &sq[i], f.ctx), CN_OK);
    }
    const cn_io_batch_shape_t seeded = {2, 3, 1}, full = {2, 3, 0}, s3 = {3, 2, 0};
    cn_io_batch_shape_t sh;
    cn_io_batch_shape_of(&sh, &sd[0], 0, f.ctx);
    ck_assert(sh.size == 2 && sh.level == 3 && sh.seeded == 1);
    cn_io_batch_shape_of(&sh, &sd[0], CN_IO_NO_SEED, f.ctx);
    ck_assert(sh.size == 2 && sh.level == 3 && sh.seeded == 0);
    cn_io_batch_shape_of(&sh, &sq[0], 0, f.ctx);
    ck_assert(sh.size == 3 && sh.level == 2 && sh.seeded == 0);
    /* the same bytes as the serial saver, for every thread count and shape (the record
     * order of the puts is reversed, and dynamic over the threads) */
    for (int th = 1; th <= 4; th++) {
        expect_stream_equals_save(sd, N, &seeded, 0, 0, th, &f);
        expect_stream_equals_save(sd, N, &full, 0, CN_IO_NO_SEED, th, &f);
        expect_stream_equals_save(pk, N, &full, 0, 0, th, &f);
        expect_stream_equals_save(sq, N, &s3, 0, 0, th, &f);
        expect_stream_equals_save(sq, N, &s3, CN_IO_ALLOW_TRANSPARENT, CN_IO_ALLOW_TRANSPARENT,
                                  th, &f);
        expect_stream_equals_save(sd, 0, &seeded, 0, 0, th, &f); /* empty */
        expect_stream_equals_save(sd, 1, &seeded, 0, 0, th, &f);
    }
    /* a transparent ciphertext needs the flag, as in the serial saver */
    cn_bfv_ciphertext_t tr[2] = {{0}};
    ck_assert_int_eq(cn_bfv_mul_scalar(&tr[0], &pk[0], 0, f.ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_ciphertext_copy(&tr[1], &pk[1], f.ctx), CN_OK);
    const size_t lt = cn_io_batch_writer_size(2, &full, f.ctx);
    uint8_t *bt = malloc(lt);
    cn_io_batch_writer_t wr;
    ck_assert_int_eq(cn_io_batch_writer_init(&wr, bt, lt, 2, &full, 0, f.ctx), CN_OK);
    ck_assert_int_eq(cn_io_batch_writer_put(&wr, 0, &tr[0]), CN_ERR_UNSUPPORTED);
    ck_assert_int_eq(cn_io_batch_writer_put(&wr, 1, &tr[1]), CN_OK);
    cn_io_batch_writer_clear(&wr);
    expect_stream_equals_save(tr, 2, &full, CN_IO_ALLOW_TRANSPARENT, CN_IO_ALLOW_TRANSPARENT, 2,
                              &f);
    free(bt);
    /* partial writes: final refuses while a record is missing and writes no header; the
     * missing record put, the batch is complete and loads */
    const size_t total = cn_io_batch_writer_size(N, &seeded, f.ctx);
    uint8_t *b = malloc(total);
    memset(b, 0xa5, total);
    size_t w = 1;
    ck_assert_int_eq(cn_io_batch_writer_init(&wr, b, total, N, &seeded, 0, f.ctx), CN_OK);
    ck_assert_int_eq(cn_io_batch_writer_final(&wr, &w), CN_ERR_INVALID_ARG); /* none yet */
    for (size_t i = 0; i < N; i++)
        if (i != 5)
            ck_assert_int_eq(cn_io_batch_writer_put(&wr, i, &sd[i]), CN_OK);
    ck_assert_int_eq(cn_io_batch_writer_final(&wr, &w), CN_ERR_INVALID_ARG);
    ck_assert_uint_eq(w, 0);
    for (size_t i = 0; i < CN_IO_HEADER_BYTES; i++)
        ck_assert_uint_eq(b[i], 0xa5);
    cn_bfv_ciphertext_t *back;
    size_t count;
    ck_assert_int_eq(cn_io_load_ciphertext_batch(&back, &count, b, total, f.ctx),
                     CN_ERR_FORMAT);
    /* bad puts change nothing: index out of range, other shapes, another context */
    ck_assert_int_eq(cn_io_batch_writer_put(&wr, N, &sd[0]), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_io_batch_writer_put(&wr, 5, &pk[5]), CN_ERR_SHAPE_MISMATCH);
    ck_assert_int_eq(cn_io_batch_writer_put(&wr, 5, &sq[5]), CN_ERR_SHAPE_MISMATCH);
    cn_bfv_ciphertext_t other = {0};
    make_cts(&other, 1, 1, &g, &r);
    ck_assert_int_eq(cn_io_batch_writer_put(&wr, 5, &other), CN_ERR_CONTEXT_MISMATCH);
    ck_assert_int_eq(cn_io_batch_writer_final(&wr, &w), CN_ERR_INVALID_ARG);
    /* a record put twice: the last one counts; a failed put keeps the earlier record */
    ck_assert_int_eq(cn_io_batch_writer_put(&wr, 5, &sd[0]), CN_OK);
    ck_assert_int_eq(cn_io_batch_writer_put(&wr, 5, &sd[5]), CN_OK);
    ck_assert_int_eq(cn_io_batch_writer_put(&wr, 5, &pk[5]), CN_ERR_SHAPE_MISMATCH);
    ck_assert_int_eq(cn_io_batch_writer_final(&wr, &w), CN_OK);
    ck_assert_uint_eq(w, total);
    cn_io_batch_writer_clear(&wr);
    cn_io_batch_writer_clear(&wr); /* twice is harmless */
    ck_assert_int_eq(cn_io_batch_writer_final(&wr, &w), CN_ERR_INVALID_ARG); /* cleared */
    ck_assert_int_eq(cn_io_batch_writer_put(&wr, 0, &sd[0]), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_io_load_ciphertext_batch(&back, &count, b, total, f.ctx), CN_OK);
    ck_assert_uint_eq(count, N);
    for (size_t i = 0; i < N; i++) {
        cn_bfv_plaintext_t want = {0};
        ck_assert_int_eq(cn_bfv_decrypt(&want, &sd[i], &f.sk, f.ctx), CN_OK);
        expect_decrypts(&back[i], &want, &f.sk, &f);
        cn_bfv_plaintext_clear(&want);
    }
    cn_io_free_ciphertexts(back, count);
    /* bad shapes, counts, flags and buffers */
    const cn_io_batch_shape_t bad[] = {
        {1, 3, 0}, {4, 3, 0}, {2, 0, 0}, {2, 4, 0}, /* size, level */
        {3, 3, 1}, {2, 2, 1}, {2, 3, 2},            /* seeded: size 2 at level L only */
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        ck_assert_uint_eq(cn_io_batch_writer_size(1, &bad[k], f.ctx), 0);
        ck_assert_int_eq(cn_io_batch_writer_init(&wr, b, total, 1, &bad[k], 0, f.ctx),
                         CN_ERR_INVALID_ARG);
    }
    ck_assert_uint_eq(cn_io_batch_writer_size(CN_IO_MAX_BATCH + 1, &seeded, f.ctx), 0);
    ck_assert_int_eq(
        cn_io_batch_writer_init(&wr, b, total, CN_IO_MAX_BATCH + 1, &seeded, 0, f.ctx),
        CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_io_batch_writer_init(&wr, b, total, N, &seeded, CN_IO_NO_SEED, f.ctx),
                     CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_io_batch_writer_init(&wr, b, total, N, &seeded, 8, f.ctx),
                     CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_io_batch_writer_init(&wr, b, total - 1, N, &seeded, 0, f.ctx),
                     CN_ERR_OUT_OF_RANGE);
    ck_assert_int_eq(cn_io_batch_writer_init(&wr, NULL, total, N, &seeded, 0, f.ctx),
                     CN_ERR_OUT_OF_RANGE);
    cn_io_batch_writer_clear(&wr); /* on a failed init: harmless */
    free(b);
    cn_bfv_ciphertext_clear(&other);
    cn_bfv_ciphertext_clear(&tr[0]), cn_bfv_ciphertext_clear(&tr[1]);
    for (size_t i = 0; i < N; i++) {
        cn_bfv_ciphertext_clear(&sd[i]);
        cn_bfv_ciphertext_clear(&pk[i]);
        cn_bfv_ciphertext_clear(&sq[i]);
    }
    fx_clear(&g);
    fx_clear(&f);
}
END_TEST

static cn_status load_batch_deferred_blob(const uint8_t *buf, size_t len, const fx_t *f)
{
    cn_bfv_ciphertext_t *cts;
    size_t count;
    cn_status st =
        cn_io_load_ciphertext_batch_flags(&cts, &count, buf, len, CN_IO_DEFER_SEED, f->ctx);
    cn_io_free_ciphertexts(cts, count);
    return st;
}

/* Deferred seed expansion: the seeded records load with has_seed and c1 not computed;
 * expanded by the caller (over threads), every ciphertext equals the eager loader's, and
 * decrypts to its plaintext. */
START_TEST(test_deferred_load)
{
    fx_t f;
    fx_init(&f, 64, 3, CN_SEC_NONE_INSECURE, 8);
    cn_test_rng_t r;
    cn_test_rng_init(&r, 8);
    enum { N = 12 };
    cn_bfv_ciphertext_t cts[N] = {{0}};
    cn_bfv_plaintext_t m[N];
    for (size_t i = 0; i < N; i++) {
        random_plain(&m[i], &f, i % 2, &r);
        ck_assert_int_eq(i % 3 ? cn_bfv_encrypt_symmetric(&cts[i], &m[i], &f.sk, f.ctx, &f.rng)
                               : cn_bfv_encrypt(&cts[i], &m[i], &f.pk, f.ctx, &f.rng),
                         CN_OK);
    }
    ck_assert_int_eq(cn_bfv_mod_switch(&cts[3], &cts[3], f.ctx), CN_OK); /* lower level */
    const size_t len = cn_io_size_ciphertext_batch(cts, N, 0, f.ctx);
    uint8_t *b = malloc(len);
    ck_assert_int_eq(cn_io_save_ciphertext_batch(b, len, NULL, cts, N, 0, f.ctx), CN_OK);
    cn_bfv_ciphertext_t *eager, *lazy;
    size_t ne, nl;
    ck_assert_int_eq(cn_io_load_ciphertext_batch(&eager, &ne, b, len, f.ctx), CN_OK);
    ck_assert_int_eq(cn_io_load_ciphertext_batch_flags(&lazy, &nl, b, len, 0, f.ctx), CN_OK);
    ck_assert_uint_eq(nl, N); /* flags 0: the eager loader */
    for (size_t i = 0; i < N; i++)
        for (size_t c = 0; c < eager[i].size; c++)
            ck_assert_mem_eq(lazy[i].c[c].data, eager[i].c[c].data,
                             eager[i].level * 64 * sizeof(uint64_t));
    cn_io_free_ciphertexts(lazy, nl);
    ck_assert_int_eq(
        cn_io_load_ciphertext_batch_flags(&lazy, &nl, b, len, CN_IO_DEFER_SEED, f.ctx), CN_OK);
    ck_assert_uint_eq(nl, ne);
    for (size_t i = 0; i < N; i++)
        ck_assert_int_eq(lazy[i].has_seed, i % 3 != 0);
    int fails = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(3) reduction(+ : fails)
    for (long i = 0; i < (long)nl; i++)
        if (lazy[i].has_seed)
            fails += cn_bfv_expand_seed(&lazy[i], f.ctx) != CN_OK;
    ck_assert_int_eq(fails, 0);
    for (size_t i = 0; i < N; i++) {
        ck_assert_uint_eq(lazy[i].size, eager[i].size);
        ck_assert_uint_eq(lazy[i].level, eager[i].level);
        ck_assert_uint_eq(lazy[i].t_index, eager[i].t_index);
        ck_assert_int_eq(lazy[i].has_seed, eager[i].has_seed);
        ck_assert_uint_eq(lazy[i].fingerprint, eager[i].fingerprint);
        for (size_t c = 0; c < eager[i].size; c++)
            ck_assert_mem_eq(lazy[i].c[c].data, eager[i].c[c].data,
                             eager[i].level * 64 * sizeof(uint64_t));
        expect_decrypts(&lazy[i], &m[i], &f.sk, &f);
    }
    cn_io_free_ciphertexts(lazy, nl);
    cn_io_free_ciphertexts(eager, ne);
    /* other flags are refused; hostile input is refused as by the eager loader */
    ck_assert_int_eq(
        cn_io_load_ciphertext_batch_flags(&lazy, &nl, b, len, CN_IO_NO_SEED, f.ctx),
        CN_ERR_INVALID_ARG);
    ck_assert_ptr_null(lazy);
    ck_assert_uint_eq(nl, 0);
    hostile(b, len, load_batch_deferred_blob, &f, "deferred batch", 7);
    free(b);
    for (size_t i = 0; i < N; i++) {
        cn_bfv_ciphertext_clear(&cts[i]);
        cn_bfv_plaintext_clear(&m[i]);
    }
    fx_clear(&f);
}
END_TEST

/* the real parameters: sizes as the format promises, and a round trip */
START_TEST(test_secure_sizes)
{
    fx_t f;
    fx_init(&f, 8192, 4, CN_SEC_128, 5);
    cn_test_rng_t r;
    cn_test_rng_init(&r, 5);
    size_t rows = 0;
    for (size_t j = 0; j < 4; j++)
        rows += (8192 * (size_t)cn_io_bits(f.prm.q[j]) + 7) / 8;
    cn_bfv_plaintext_t m;
    random_plain(&m, &f, 0, &r);
    cn_bfv_ciphertext_t c = {0}, s = {0}, x = {0};
    ck_assert_int_eq(cn_bfv_encrypt(&c, &m, &f.pk, f.ctx, &f.rng), CN_OK);
    ck_assert_int_eq(cn_bfv_encrypt_symmetric(&s, &m, &f.sk, f.ctx, &f.rng), CN_OK);
    ck_assert_uint_eq(cn_io_size_ciphertext(&c, 0, f.ctx), 32 + 16 + 2 * rows + 8);
    ck_assert_uint_eq(cn_io_size_ciphertext(&s, 0, f.ctx), 32 + 16 + rows + 32 + 8);
    size_t len;
    uint8_t *b = save_ct(&len, &s, 0, &f);
    ck_assert_int_eq(cn_io_load_ciphertext(&x, b, len, f.ctx), CN_OK);
    expect_decrypts(&x, &m, &f.sk, &f);
    free(b);
    cn_bfv_ciphertext_clear(&c), cn_bfv_ciphertext_clear(&s), cn_bfv_ciphertext_clear(&x);
    cn_bfv_plaintext_clear(&m);
    fx_clear(&f);
}
END_TEST

CN_SUITE(io)
{
    Suite *s = suite_create("io");
    TCase *tc = cn_tcase("core", 300);
    tcase_add_test(tc, test_ciphertexts);
    tcase_add_test(tc, test_keys);
    tcase_add_test(tc, test_params_plaintext_batch);
    tcase_add_test(tc, test_secure_sizes);
    tcase_add_test(tc, test_batch_writer);
    tcase_add_test(tc, test_deferred_load);
    suite_add_tcase(s, tc);
    return s;
}
