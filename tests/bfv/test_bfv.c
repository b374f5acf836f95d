/* Tests of the BFV scheme. Oracles: plaintext arithmetic in Z_t[X]/(X^n + 1) with FLINT
 * nmod_poly, an exact big-integer BFV multiplication with fmpz_poly (tensor, then
 * round(t x / Q)), and exact CRT with GMP. */
#include <flint/fmpz_poly.h>
#include <flint/nmod_poly.h>
#include <stdlib.h>
#include <string.h>

#include "bfv/bfv_internal.h"
#include "common/util.h"
#include "cryptonets/cryptonets.h"
#include "cryptonets/mpz.h"

/* ---- fixtures ------------------------------------------------------------- */

typedef struct {
    cn_bfv_context_t *ctx;
    cn_bfv_secret_key_t sk;
    cn_bfv_public_key_t pk;
    cn_bfv_relin_key_t rk;
    cn_rng_t rng;
} fx_t;

static void det_rng(cn_rng_t *r, uint64_t stream)
{
    uint8_t seed[CN_SEED_BYTES] = {0};
    uint64_t s = cn_test_seed();
    memcpy(seed, &s, 8);
    memcpy(seed + 8, &stream, 8);
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(r, seed, CN_RNG_INSECURE_ACK), CN_OK);
}

static void fx_init(fx_t *f, const cn_bfv_params_t *prm, uint64_t stream)
{
    memset(f, 0, sizeof *f);
    cn_status st = cn_bfv_context_create(&f->ctx, prm);
    ck_assert_msg(st == CN_OK, "context: %s", cn_strerror(st));
    det_rng(&f->rng, stream);
    ck_assert_int_eq(cn_bfv_keygen_secret(&f->sk, f->ctx, &f->rng), CN_OK);
    ck_assert_int_eq(cn_bfv_keygen_public(&f->pk, &f->sk, f->ctx, &f->rng), CN_OK);
    if (prm->p)
        ck_assert_int_eq(cn_bfv_keygen_relin(&f->rk, &f->sk, f->ctx, &f->rng), CN_OK);
}

static void fx_clear(fx_t *f)
{
    cn_bfv_relin_key_clear(&f->rk);
    cn_bfv_public_key_clear(&f->pk);
    cn_bfv_secret_key_clear(&f->sk);
    cn_rng_clear(&f->rng);
    cn_bfv_context_free(f->ctx);
}

/* parameter sets: secure ones from the defaults helper, and small insecure ones */
static cn_bfv_params_t prm_secure(size_t n)
{
    cn_bfv_params_t p;
    cn_status st;
    if (n == 4096)
        st = cn_bfv_params_default(&p, 4096, 2, 36, 36, 1, 17, CN_SEC_128);
    else if (n == 8192)
        st = cn_bfv_params_default(&p, 8192, 4, 43, 44, 1, 20, CN_SEC_128);
    else
        st = cn_bfv_params_default(&p, 16384, 8, 48, 48, 2, 20, CN_SEC_128);
    ck_assert_msg(st == CN_OK, "params %zu: %s", n, cn_strerror(st));
    return p;
}

static cn_bfv_params_t prm_small(size_t n, size_t nq, unsigned qbits, size_t nt)
{
    cn_bfv_params_t p;
    ck_assert_int_eq(
        cn_bfv_params_default(&p, n, nq, qbits, qbits + 1, nt, 16, CN_SEC_NONE_INSECURE),
        CN_OK);
    return p;
}

/* ---- plaintext oracle (FLINT) ------------------------------------------------ */

static void random_plain(cn_bfv_plaintext_t *pt, const fx_t *f, size_t t_index,
                         cn_test_rng_t *r)
{
    ck_assert_int_eq(cn_bfv_plaintext_init(pt, f->ctx, t_index), CN_OK);
    uint64_t t = cn_bfv_context_params(f->ctx)->t[t_index];
    for (size_t i = 0; i < pt->n; i++)
        pt->coeffs[i] = cn_test_rng_below(r, t);
}

/* out = a * b in Z_t[X]/(X^n + 1) */
static void oracle_mul(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t n,
                       uint64_t t)
{
    nmod_poly_t pa, pb;
    nmod_poly_init(pa, t);
    nmod_poly_init(pb, t);
    for (size_t i = 0; i < n; i++) {
        nmod_poly_set_coeff_ui(pa, i, a[i]);
        nmod_poly_set_coeff_ui(pb, i, b[i]);
    }
    nmod_poly_mul(pa, pa, pb);
    for (size_t i = 0; i < n; i++) {
        uint64_t lo = nmod_poly_get_coeff_ui(pa, i), hi = nmod_poly_get_coeff_ui(pa, i + n);
        out[i] = (lo + t - hi) % t;
    }
    nmod_poly_clear(pa);
    nmod_poly_clear(pb);
}

static void expect_plain(const cn_bfv_ciphertext_t *ct, const uint64_t *want, const fx_t *f,
                         const char *what)
{
    cn_bfv_plaintext_t got = {0};
    ck_assert_int_eq(cn_bfv_decrypt(&got, ct, &f->sk, f->ctx), CN_OK);
    for (size_t i = 0; i < got.n; i++)
        ck_assert_msg(got.coeffs[i] == want[i], "%s: coefficient %zu: %llu != %llu", what, i,
                      (unsigned long long)got.coeffs[i], (unsigned long long)want[i]);
    cn_bfv_plaintext_clear(&got);
}

static int budget(const cn_bfv_ciphertext_t *ct, const fx_t *f)
{
    int b;
    ck_assert_int_eq(cn_bfv_noise_budget(&b, ct, &f->sk, f->ctx), CN_OK);
    return b;
}

/* ---- tests ------------------------------------------------------------------- */

/* encryption and decryption at the three secure sizes, pk and seeded sk */
START_TEST(test_round_trip)
{
    size_t n = (size_t)4096 << _i;
    cn_bfv_params_t prm = prm_secure(n);
    fx_t f;
    fx_init(&f, &prm, 1);
    cn_test_rng_t r;
    cn_test_rng_init(&r, 20 + (uint64_t)_i);
    for (size_t ti = 0; ti < prm.nt; ti++) {
        cn_bfv_plaintext_t m;
        cn_bfv_ciphertext_t c = {0}, d = {0};
        random_plain(&m, &f, ti, &r);
        ck_assert_int_eq(cn_bfv_encrypt(&c, &m, &f.pk, f.ctx, &f.rng), CN_OK);
        expect_plain(&c, m.coeffs, &f, "pk");
        int b = budget(&c, &f);
        ck_assert_msg(b > 10, "fresh budget %d", b);
        ck_assert_int_eq(cn_bfv_encrypt_symmetric(&d, &m, &f.sk, f.ctx, &f.rng), CN_OK);
        ck_assert_int_eq(d.has_seed, 1);
        expect_plain(&d, m.coeffs, &f, "sk");
        /* the seed alone rebuilds c1 */
        memset(d.c[1].data, 0, d.c[1].k * d.c[1].n * sizeof(uint64_t));
        ck_assert_int_eq(cn_bfv_expand_seed(&d, f.ctx), CN_OK);
        expect_plain(&d, m.coeffs, &f, "sk seed expanded");
        ck_assert_int_ge(budget(&d, &f), b);
        cn_bfv_ciphertext_clear(&c);
        cn_bfv_ciphertext_clear(&d);
        cn_bfv_plaintext_clear(&m);
    }
    fx_clear(&f);
}
END_TEST

/* every operation against the plaintext oracle, including depth-2 chains */
static void ops_at(const cn_bfv_params_t *prm, uint64_t stream)
{
    fx_t f;
    fx_init(&f, prm, stream);
    cn_test_rng_t r;
    cn_test_rng_init(&r, stream);
    const size_t n = prm->n;
    const uint64_t t = prm->t[0];
    cn_bfv_plaintext_t a, b, z = {0};
    random_plain(&a, &f, 0, &r);
    random_plain(&b, &f, 0, &r);
    uint64_t *w = calloc(n, sizeof *w), *w2 = calloc(n, sizeof *w2);
    cn_bfv_ciphertext_t ca = {0}, cb = {0}, x = {0}, y = {0};
    ck_assert_int_eq(cn_bfv_encrypt(&ca, &a, &f.pk, f.ctx, &f.rng), CN_OK);
    ck_assert_int_eq(cn_bfv_encrypt_symmetric(&cb, &b, &f.sk, f.ctx, &f.rng), CN_OK);
    int fresh = budget(&ca, &f);

    for (size_t i = 0; i < n; i++)
        w[i] = (a.coeffs[i] + b.coeffs[i]) % t;
    ck_assert_int_eq(cn_bfv_add(&x, &ca, &cb, f.ctx), CN_OK);
    expect_plain(&x, w, &f, "add");
    for (size_t i = 0; i < n; i++)
        w[i] = (a.coeffs[i] + t - b.coeffs[i]) % t;
    ck_assert_int_eq(cn_bfv_sub(&x, &ca, &cb, f.ctx), CN_OK);
    expect_plain(&x, w, &f, "sub");
    for (size_t i = 0; i < n; i++)
        w[i] = (t - a.coeffs[i]) % t;
    ck_assert_int_eq(cn_bfv_neg(&x, &ca, f.ctx), CN_OK);
    expect_plain(&x, w, &f, "neg");
    /* aliasing: x = x + b (plain) */
    for (size_t i = 0; i < n; i++)
        w[i] = (w[i] + b.coeffs[i]) % t;
    ck_assert_int_eq(cn_bfv_add_plain(&x, &x, &b, f.ctx), CN_OK);
    expect_plain(&x, w, &f, "add_plain");
    for (size_t i = 0; i < n; i++)
        w[i] = (a.coeffs[i] + t - b.coeffs[i]) % t;
    ck_assert_int_eq(cn_bfv_sub_plain(&x, &ca, &b, f.ctx), CN_OK);
    expect_plain(&x, w, &f, "sub_plain");
    const int64_t scalars[] = {0, 1, -1, 7, -123456, 1000003, INT64_MIN + 1, INT64_MAX};
    for (size_t s = 0; s < sizeof scalars / sizeof *scalars; s++) {
        int64_t c = scalars[s];
        uint64_t cm = c >= 0 ? (uint64_t)c % t : (t - (0 - (uint64_t)c) % t) % t;
        for (size_t i = 0; i < n; i++)
            w[i] = (uint64_t)(((__uint128_t)a.coeffs[i] * cm) % t);
        ck_assert_int_eq(cn_bfv_mul_scalar(&x, &ca, c, f.ctx), CN_OK);
        ck_assert_int_eq(x.transparent, c == 0);
        expect_plain(&x, w, &f, "mul_scalar");
    }
    oracle_mul(w, a.coeffs, b.coeffs, n, t);
    ck_assert_int_eq(cn_bfv_mul_plain(&x, &ca, &b, f.ctx), CN_OK);
    expect_plain(&x, w, &f, "mul_plain");
    /* mul: size 3 decrypts; relinearized equals; budget shrinks */
    ck_assert_int_eq(cn_bfv_mul(&x, &ca, &cb, f.ctx), CN_OK);
    ck_assert_uint_eq(x.size, 3);
    expect_plain(&x, w, &f, "mul (size 3)");
    int after_mul = budget(&x, &f);
    ck_assert_msg(after_mul > 0 && after_mul < fresh, "budget %d -> %d", fresh, after_mul);
    if (prm->p) {
        ck_assert_int_eq(cn_bfv_relinearize(&y, &x, &f.rk, f.ctx), CN_OK);
        ck_assert_uint_eq(y.size, 2);
        expect_plain(&y, w, &f, "relin");
        ck_assert_int_eq(cn_bfv_relinearize(&x, &x, &f.rk, f.ctx), CN_OK); /* aliasing */
        expect_plain(&x, w, &f, "relin aliased");
    }
    /* square, then a depth-2 chain: (a*b)^2, with a modulus switch between */
    oracle_mul(w2, a.coeffs, a.coeffs, n, t);
    ck_assert_int_eq(cn_bfv_square(&y, &ca, f.ctx), CN_OK);
    expect_plain(&y, w2, &f, "square");
    {
        /* the square with the modulus switch folded in: the same words as the square then
         * the switch, decrypting to the oracle's square; aliased; refused at level 1 */
        cn_bfv_ciphertext_t u = {0}, v = {0};
        if (prm->nq > 1) {
            ck_assert_int_eq(cn_bfv_square_mod_switch(&u, &ca, f.ctx), CN_OK);
            ck_assert_int_eq(cn_bfv_mod_switch(&v, &y, f.ctx), CN_OK);
            ck_assert_uint_eq(u.size, 3);
            ck_assert_uint_eq(u.level, prm->nq - 1);
            ck_assert_uint_eq(u.level, v.level);
            for (size_t c = 0; c < 3; c++)
                ck_assert_int_eq(
                    memcmp(u.c[c].data, v.c[c].data, u.level * n * sizeof(uint64_t)), 0);
            expect_plain(&u, w2, &f, "square_mod_switch");
            ck_assert_int_eq(cn_bfv_ciphertext_copy(&v, &ca, f.ctx), CN_OK);
            ck_assert_int_eq(cn_bfv_square_mod_switch(&v, &v, f.ctx), CN_OK);
            expect_plain(&v, w2, &f, "square_mod_switch aliased");
        } else {
            ck_assert_int_eq(cn_bfv_square_mod_switch(&u, &ca, f.ctx), CN_ERR_LEVEL_MISMATCH);
        }
        cn_bfv_ciphertext_clear(&u);
        cn_bfv_ciphertext_clear(&v);
    }
    if (prm->p) {
        oracle_mul(w2, w, w, n, t);
        if (prm->nq > 1) {
            ck_assert_int_eq(cn_bfv_mod_switch(&x, &x, f.ctx), CN_OK);
            ck_assert_uint_eq(x.level, prm->nq - 1);
            expect_plain(&x, w, &f, "mod_switch");
        }
        ck_assert_int_eq(cn_bfv_square(&y, &x, f.ctx), CN_OK);
        ck_assert_int_eq(cn_bfv_relinearize(&y, &y, &f.rk, f.ctx), CN_OK);
        int b2 = budget(&y, &f);
        if (b2 > 0)
            expect_plain(&y, w2, &f, "depth 2");
        ck_assert_msg(b2 < after_mul, "depth-2 budget %d vs %d", b2, after_mul);
    }
    /* a zero plaintext product is flagged transparent; rerandomizing clears it */
    ck_assert_int_eq(cn_bfv_plaintext_init(&z, f.ctx, 0), CN_OK);
    ck_assert_int_eq(cn_bfv_mul_plain(&x, &ca, &z, f.ctx), CN_OK);
    ck_assert_int_eq(x.transparent, 1);
    ck_assert_int_eq(cn_bfv_rerandomize(&x, &f.pk, f.ctx, &f.rng), CN_OK);
    ck_assert_int_eq(x.transparent, 0);
    expect_plain(&x, z.coeffs, &f, "rerandomized zero");
    free(w);
    free(w2);
    cn_bfv_ciphertext_clear(&ca);
    cn_bfv_ciphertext_clear(&cb);
    cn_bfv_ciphertext_clear(&x);
    cn_bfv_ciphertext_clear(&y);
    cn_bfv_plaintext_clear(&a);
    cn_bfv_plaintext_clear(&b);
    cn_bfv_plaintext_clear(&z);
    fx_clear(&f);
}

START_TEST(test_ops_small)
{
    cn_bfv_params_t p = prm_small(64, 4, 40, 1);
    ops_at(&p, 30);
    p = prm_small(256, 3, 55, 2);
    ops_at(&p, 31);
}
END_TEST

START_TEST(test_ops_secure)
{
    cn_bfv_params_t p = prm_secure((size_t)4096 << _i);
    ops_at(&p, 40 + (uint64_t)_i);
}
END_TEST

/* The fast multiplication equals the exact big-integer one: for each product,
 * round(t * tensor / Q) mod Q with fmpz_poly arithmetic. */
static void exact_tensor_check(const cn_bfv_params_t *prm, uint64_t stream)
{
    fx_t f;
    fx_init(&f, prm, stream);
    cn_test_rng_t r;
    cn_test_rng_init(&r, stream);
    const size_t n = prm->n;
    const cn_ring_t *ring = cn_bfv_context_ring(f.ctx);
    for (size_t level = prm->nq; level >= 1 && level + 2 > prm->nq; level--) {
        cn_bfv_ciphertext_t a = {0}, b = {0}, c = {0};
        ck_assert_int_eq(cn_bfv_ciphertext_init(&a, f.ctx), CN_OK);
        ck_assert_int_eq(cn_bfv_ciphertext_init(&b, f.ctx), CN_OK);
        /* uniformly random ciphertexts (the multiplication's algebra does not care) */
        for (int i = 0; i < 2; i++) {
            cn_bfv_uniform_rows(&a.c[i], ring, &f.rng);
            cn_bfv_uniform_rows(&b.c[i], ring, &f.rng);
        }
        while (a.level > level) {
            ck_assert_int_eq(cn_bfv_mod_switch(&a, &a, f.ctx), CN_OK);
            ck_assert_int_eq(cn_bfv_mod_switch(&b, &b, f.ctx), CN_OK);
        }
        ck_assert_int_eq(cn_bfv_mul(&c, &a, &b, f.ctx), CN_OK);
        mpz_t Q, *co;
        mpz_init(Q);
        mpz_set(Q, cn_bfv_level(f.ctx, level)->Q);
        co = malloc(n * sizeof *co);
        for (size_t i = 0; i < n; i++)
            mpz_init(co[i]);
        fmpz_poly_t pa[2], pb[2], d[3], tmp;
        for (int i = 0; i < 2; i++) {
            fmpz_poly_init(pa[i]);
            fmpz_poly_init(pb[i]);
            ck_assert_int_eq(cn_poly_get_mpz(co, &a.c[i], ring), CN_OK);
            for (size_t k = 0; k < n; k++) {
                fmpz_t z;
                fmpz_init(z);
                fmpz_set_mpz(z, co[k]);
                fmpz_poly_set_coeff_fmpz(pa[i], (slong)k, z);
                fmpz_clear(z);
            }
            ck_assert_int_eq(cn_poly_get_mpz(co, &b.c[i], ring), CN_OK);
            for (size_t k = 0; k < n; k++) {
                fmpz_t z;
                fmpz_init(z);
                fmpz_set_mpz(z, co[k]);
                fmpz_poly_set_coeff_fmpz(pb[i], (slong)k, z);
                fmpz_clear(z);
            }
        }
        for (int i = 0; i < 3; i++)
            fmpz_poly_init(d[i]);
        fmpz_poly_init(tmp);
        fmpz_poly_mul(d[0], pa[0], pb[0]);
        fmpz_poly_mul(d[1], pa[0], pb[1]);
        fmpz_poly_mul(tmp, pa[1], pb[0]);
        fmpz_poly_add(d[1], d[1], tmp);
        fmpz_poly_mul(d[2], pa[1], pb[1]);
        mpz_t x, y, twoQ;
        mpz_inits(x, y, twoQ, NULL);
        mpz_mul_2exp(twoQ, Q, 1);
        for (int i = 0; i < 3; i++) {
            ck_assert_int_eq(cn_poly_get_mpz(co, &c.c[i], ring), CN_OK);
            for (size_t k = 0; k < n; k++) {
                fmpz_t lo, hi;
                fmpz_init(lo);
                fmpz_init(hi);
                fmpz_poly_get_coeff_fmpz(lo, d[i], (slong)k);
                fmpz_poly_get_coeff_fmpz(hi, d[i], (slong)(k + n));
                fmpz_sub(lo, lo, hi); /* X^n = -1 */
                fmpz_get_mpz(x, lo);
                /* round(t x / Q) = floor((2 t x + Q) / 2Q) */
                mpz_mul_ui(x, x, (unsigned long)prm->t[0]);
                mpz_mul_2exp(x, x, 1);
                mpz_add(x, x, Q);
                mpz_fdiv_q(x, x, twoQ);
                mpz_sub(y, x, co[k]);
                ck_assert_msg(mpz_divisible_p(y, Q),
                              "tensor %d coefficient %zu differs (level %zu)", i, k, level);
                fmpz_clear(lo);
                fmpz_clear(hi);
            }
        }
        mpz_clears(x, y, twoQ, Q, NULL);
        for (int i = 0; i < 2; i++) {
            fmpz_poly_clear(pa[i]);
            fmpz_poly_clear(pb[i]);
        }
        for (int i = 0; i < 3; i++)
            fmpz_poly_clear(d[i]);
        fmpz_poly_clear(tmp);
        for (size_t i = 0; i < n; i++)
            mpz_clear(co[i]);
        free(co);
        cn_bfv_ciphertext_clear(&a);
        cn_bfv_ciphertext_clear(&b);
        cn_bfv_ciphertext_clear(&c);
    }
    fx_clear(&f);
}

START_TEST(test_exact_reference)
{
    cn_bfv_params_t p = prm_small(64, 3, 50, 1);
    exact_tensor_check(&p, 50);
    p = prm_small(1024, 5, 60, 1);
    exact_tensor_check(&p, 51);
    p = prm_secure(4096);
    exact_tensor_check(&p, 52);
    p = prm_secure(8192);
    exact_tensor_check(&p, 53);
}
END_TEST

/* noise budget: decreases with depth; while positive, decryption is right; a ruined
 * ciphertext reports exhaustion */
START_TEST(test_noise_budget)
{
    cn_bfv_params_t prm = prm_secure(8192);
    fx_t f;
    fx_init(&f, &prm, 60);
    cn_test_rng_t r;
    cn_test_rng_init(&r, 60);
    const size_t n = prm.n;
    const uint64_t t = prm.t[0];
    cn_bfv_plaintext_t a, got = {0};
    random_plain(&a, &f, 0, &r);
    uint64_t *w = malloc(n * sizeof *w);
    memcpy(w, a.coeffs, n * sizeof *w);
    cn_bfv_ciphertext_t c = {0};
    ck_assert_int_eq(cn_bfv_encrypt(&c, &a, &f.pk, f.ctx, &f.rng), CN_OK);
    int prev = budget(&c, &f);
    for (int depth = 1; depth <= 4; depth++) {
        ck_assert_int_eq(cn_bfv_square(&c, &c, f.ctx), CN_OK);
        ck_assert_int_eq(cn_bfv_relinearize(&c, &c, &f.rk, f.ctx), CN_OK);
        oracle_mul(w, w, w, n, t);
        int b = budget(&c, &f);
        ck_assert_msg(b < prev || b == 0, "depth %d: budget %d after %d", depth, b, prev);
        if (b > 0)
            expect_plain(&c, w, &f, "while budget positive");
        prev = b;
    }
    /* a ciphertext with its c0 replaced by noise has no budget */
    cn_bfv_uniform_rows(&c.c[0], cn_bfv_context_ring(f.ctx), &f.rng);
    ck_assert_int_eq(budget(&c, &f), 0);
    ck_assert_int_eq(cn_bfv_decrypt_checked(&got, &c, &f.sk, f.ctx), CN_ERR_NOISE_EXHAUSTED);
    free(w);
    cn_bfv_plaintext_clear(&a);
    cn_bfv_plaintext_clear(&got);
    cn_bfv_ciphertext_clear(&c);
    fx_clear(&f);
}
END_TEST

/* objects from another context, level or plaintext modulus are refused */
START_TEST(test_mismatch)
{
    cn_bfv_params_t p1 = prm_small(64, 3, 40, 2), p2 = prm_small(64, 3, 41, 1);
    fx_t f, g;
    fx_init(&f, &p1, 70);
    fx_init(&g, &p2, 71);
    ck_assert(cn_bfv_context_fingerprint(f.ctx) != cn_bfv_context_fingerprint(g.ctx));
    cn_bfv_plaintext_t m0, m1, mg;
    ck_assert_int_eq(cn_bfv_plaintext_init(&m0, f.ctx, 0), CN_OK);
    ck_assert_int_eq(cn_bfv_plaintext_init(&m1, f.ctx, 1), CN_OK);
    ck_assert_int_eq(cn_bfv_plaintext_init(&mg, g.ctx, 0), CN_OK);
    cn_bfv_plaintext_t bad;
    ck_assert_int_eq(cn_bfv_plaintext_init(&bad, f.ctx, 2), CN_ERR_PLAIN_MODULUS);
    cn_bfv_ciphertext_t a = {0}, b = {0}, x = {0};
    ck_assert_int_eq(cn_bfv_encrypt(&a, &m0, &f.pk, f.ctx, &f.rng), CN_OK);
    ck_assert_int_eq(cn_bfv_encrypt(&b, &m1, &f.pk, f.ctx, &f.rng), CN_OK);
    ck_assert_int_eq(cn_bfv_encrypt(&x, &m0, &g.pk, f.ctx, &f.rng), CN_ERR_CONTEXT_MISMATCH);
    ck_assert_int_eq(cn_bfv_encrypt(&x, &mg, &f.pk, f.ctx, &f.rng), CN_ERR_CONTEXT_MISMATCH);
    ck_assert_int_eq(cn_bfv_add(&x, &a, &b, f.ctx), CN_ERR_PLAIN_MODULUS);
    ck_assert_int_eq(cn_bfv_mul(&x, &a, &b, f.ctx), CN_ERR_PLAIN_MODULUS);
    ck_assert_int_eq(cn_bfv_add(&x, &a, &a, g.ctx), CN_ERR_CONTEXT_MISMATCH);
    ck_assert_int_eq(cn_bfv_decrypt(&mg, &a, &g.sk, g.ctx), CN_ERR_CONTEXT_MISMATCH);
    ck_assert_int_eq(cn_bfv_decrypt(&m0, &a, &g.sk, f.ctx), CN_ERR_CONTEXT_MISMATCH);
    ck_assert_int_eq(cn_bfv_relinearize(&x, &a, &g.rk, f.ctx), CN_ERR_CONTEXT_MISMATCH);
    ck_assert_int_eq(cn_bfv_mod_switch(&x, &a, f.ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_add(&x, &x, &a, f.ctx), CN_ERR_LEVEL_MISMATCH);
    ck_assert_int_eq(cn_bfv_mod_switch(&x, &x, f.ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_mod_switch(&x, &x, f.ctx), CN_ERR_LEVEL_MISMATCH);
    ck_assert_int_eq(cn_bfv_add_plain(&x, &a, &m1, f.ctx), CN_ERR_PLAIN_MODULUS);
    m0.coeffs[3] = p1.t[0]; /* out of range plaintext */
    ck_assert_int_eq(cn_bfv_encrypt(&x, &m0, &f.pk, f.ctx, &f.rng), CN_ERR_OUT_OF_RANGE);
    cn_bfv_plaintext_clear(&m0);
    cn_bfv_plaintext_clear(&m1);
    cn_bfv_plaintext_clear(&mg);
    cn_bfv_ciphertext_clear(&a);
    cn_bfv_ciphertext_clear(&b);
    cn_bfv_ciphertext_clear(&x);
    fx_clear(&f);
    fx_clear(&g);
}
END_TEST

/* the same seed gives the same keys and ciphertexts */
START_TEST(test_deterministic)
{
    cn_bfv_params_t p = prm_small(256, 2, 50, 1);
    fx_t f, g;
    fx_init(&f, &p, 80);
    fx_init(&g, &p, 80);
    ck_assert_mem_eq(f.sk.s.data, g.sk.s.data, f.sk.s.k * f.sk.s.n * 8);
    ck_assert_mem_eq(f.pk.p0.data, g.pk.p0.data, f.pk.p0.k * f.pk.p0.n * 8);
    ck_assert_mem_eq(f.rk.k0[1].data, g.rk.k0[1].data, f.rk.k0[1].k * f.rk.k0[1].n * 8);
    fx_clear(&g);
    fx_init(&g, &p, 81);
    ck_assert(memcmp(f.sk.s.data, g.sk.s.data, f.sk.s.k * f.sk.s.n * 8) != 0);
    /* a context without P has no relinearization keys */
    cn_bfv_params_t q = p;
    q.p = 0;
    cn_bfv_context_t *ctx;
    ck_assert_int_eq(cn_bfv_context_create(&ctx, &q), CN_OK);
    cn_bfv_relin_key_t rk;
    cn_bfv_secret_key_t sk;
    ck_assert_int_eq(cn_bfv_keygen_secret(&sk, ctx, &f.rng), CN_OK);
    ck_assert_int_eq(cn_bfv_keygen_relin(&rk, &sk, ctx, &f.rng), CN_ERR_UNSUPPORTED);
    cn_bfv_secret_key_clear(&sk);
    cn_bfv_context_free(ctx);
    /* an insecure parameter set without the by-name flag is refused */
    q = p;
    q.security = CN_SEC_128;
    ck_assert_int_eq(cn_bfv_context_create(&ctx, &q), CN_ERR_INSECURE);
    ck_assert_ptr_null(ctx);
    fx_clear(&f);
    fx_clear(&g);
}
END_TEST

/* batch encoding: round trip, slot-wise products; scalar encoding; plaintext CRT */
START_TEST(test_encoding)
{
    cn_bfv_params_t p = prm_secure(8192);
    fx_t f;
    fx_init(&f, &p, 90);
    const size_t n = p.n;
    const int64_t t = (int64_t)p.t[0];
    cn_test_rng_t r;
    cn_test_rng_init(&r, 90);
    int64_t *va = malloc(n * sizeof *va), *vb = malloc(n * sizeof *vb), *out = malloc(n * 8);
    for (size_t i = 0; i < n; i++) {
        va[i] = (int64_t)cn_test_rng_below(&r, (uint64_t)t) - t / 2;
        vb[i] = (int64_t)cn_test_rng_below(&r, 2001) - 1000;
    }
    cn_bfv_plaintext_t a, b, s;
    ck_assert_int_eq(cn_bfv_plaintext_init(&a, f.ctx, 0), CN_OK);
    ck_assert_int_eq(cn_bfv_plaintext_init(&b, f.ctx, 0), CN_OK);
    ck_assert_int_eq(cn_bfv_plaintext_init(&s, f.ctx, 0), CN_OK);
    ck_assert_int_eq(cn_bfv_encode_batch(&a, va, n, f.ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_encode_batch(&b, vb, n - 5, f.ctx), CN_OK); /* partial */
    ck_assert_int_eq(cn_bfv_decode_batch(out, &a, f.ctx), CN_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(out[i], va[i]);
    ck_assert_int_eq(cn_bfv_decode_batch(out, &b, f.ctx), CN_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(out[i], i < n - 5 ? vb[i] : 0);
    ck_assert_int_eq(cn_bfv_encode_batch(&a, va, n + 1, f.ctx), CN_ERR_OUT_OF_RANGE);
    /* encrypted slot-wise product and scalar affine map */
    cn_bfv_ciphertext_t ca = {0}, cb = {0}, x = {0};
    ck_assert_int_eq(cn_bfv_encrypt(&ca, &a, &f.pk, f.ctx, &f.rng), CN_OK);
    ck_assert_int_eq(cn_bfv_encrypt(&cb, &b, &f.pk, f.ctx, &f.rng), CN_OK);
    ck_assert_int_eq(cn_bfv_mul(&x, &ca, &cb, f.ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_encode_scalar(&s, -3, f.ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_add_plain(&x, &x, &s, f.ctx), CN_OK);
    cn_bfv_plaintext_t d = {0};
    ck_assert_int_eq(cn_bfv_decrypt(&d, &x, &f.sk, f.ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_decode_batch(out, &d, f.ctx), CN_OK);
    for (size_t i = 0; i < n; i++) {
        __int128 want = (__int128)va[i] * (i < n - 5 ? vb[i] : 0) - 3;
        int64_t wm = (int64_t)(((want % t) + t) % t);
        if (wm > t / 2)
            wm -= t;
        ck_assert_int_eq(out[i], wm);
    }
    cn_bfv_ciphertext_clear(&ca);
    cn_bfv_ciphertext_clear(&cb);
    cn_bfv_ciphertext_clear(&x);
    cn_bfv_plaintext_clear(&a);
    cn_bfv_plaintext_clear(&b);
    cn_bfv_plaintext_clear(&s);
    cn_bfv_plaintext_clear(&d);
    free(va);
    free(vb);
    free(out);
    fx_clear(&f);
}
END_TEST

/* slot rotations against index arithmetic on the plaintext vector */
static void rotations_at(const cn_bfv_params_t *prm, uint64_t stream)
{
    fx_t f;
    fx_init(&f, prm, stream);
    const size_t n = prm->n, h = n / 2;
    const int64_t t = (int64_t)prm->t[0];
    cn_test_rng_t r;
    cn_test_rng_init(&r, stream);
    int64_t *v = malloc(n * sizeof *v), *out = malloc(n * sizeof *out);
    for (size_t i = 0; i < n; i++)
        v[i] = (int64_t)cn_test_rng_below(&r, (uint64_t)t) - t / 2;
    cn_bfv_plaintext_t pt = {0}, d = {0};
    cn_bfv_ciphertext_t c = {0}, x = {0};
    ck_assert_int_eq(cn_bfv_plaintext_init(&pt, f.ctx, 0), CN_OK);
    ck_assert_int_eq(cn_bfv_encode_batch(&pt, v, n, f.ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_encrypt(&c, &pt, &f.pk, f.ctx, &f.rng), CN_OK);
    cn_bfv_galois_keys_t gk;
    ck_assert_int_eq(cn_bfv_keygen_galois(&gk, &f.sk, NULL, 0, f.ctx, &f.rng), CN_OK);
    const int64_t steps[] = {
        0, 1, 2, 3, 5, -1, -7, (int64_t)h / 2, (int64_t)h - 1, (int64_t)h + 3, INT64_MIN};
    for (int lev = 0; lev < 2; lev++) {
        for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
            ck_assert_int_eq(cn_bfv_rotate_rows(&x, &c, steps[k], &gk, f.ctx), CN_OK);
            ck_assert_int_eq(cn_bfv_decrypt(&d, &x, &f.sk, f.ctx), CN_OK);
            ck_assert_int_eq(cn_bfv_decode_batch(out, &d, f.ctx), CN_OK);
            int64_t s = ((steps[k] % (int64_t)h) + (int64_t)h) % (int64_t)h;
            for (size_t row = 0; row < 2; row++)
                for (size_t col = 0; col < h; col++)
                    ck_assert_msg(out[row * h + col] == v[row * h + (col + (size_t)s) % h],
                                  "rotate %lld: slot (%zu, %zu)", (long long)steps[k], row,
                                  col);
        }
        /* the column swap, in place */
        ck_assert_int_eq(cn_bfv_ciphertext_copy(&x, &c, f.ctx), CN_OK);
        ck_assert_int_eq(cn_bfv_rotate_columns(&x, &x, &gk, f.ctx), CN_OK);
        ck_assert_int_eq(cn_bfv_decrypt(&d, &x, &f.sk, f.ctx), CN_OK);
        ck_assert_int_eq(cn_bfv_decode_batch(out, &d, f.ctx), CN_OK);
        for (size_t i = 0; i < n; i++)
            ck_assert_int_eq(out[i], v[(i + h) % n]);
        if (lev == 1 || c.level < 2)
            break;
        ck_assert_int_eq(cn_bfv_mod_switch(&c, &c, f.ctx), CN_OK); /* again one level down */
    }
    /* a key set with only the rotation by 3: 3 and 0 work, 1 has no key */
    cn_bfv_galois_keys_t g3;
    const int64_t three = 3;
    ck_assert_int_eq(cn_bfv_keygen_galois(&g3, &f.sk, &three, 1, f.ctx, &f.rng), CN_OK);
    ck_assert_int_eq(cn_bfv_rotate_rows(&x, &c, 3, &g3, f.ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_rotate_rows(&x, &c, 0, &g3, f.ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_rotate_rows(&x, &c, 1, &g3, f.ctx), CN_ERR_NO_KEY);
    ck_assert_int_eq(cn_bfv_apply_galois(&x, &c, 4, &g3, f.ctx), CN_ERR_INVALID_ARG);
    /* size 3 must be relinearized first */
    ck_assert_int_eq(cn_bfv_square(&x, &c, f.ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_rotate_rows(&x, &x, 1, &gk, f.ctx), CN_ERR_UNSUPPORTED);
    /* keys of another context */
    g3.fingerprint ^= 1;
    ck_assert_int_eq(cn_bfv_rotate_rows(&x, &c, 3, &g3, f.ctx), CN_ERR_CONTEXT_MISMATCH);
    cn_bfv_galois_keys_clear(&g3);
    cn_bfv_galois_keys_clear(&gk);
    cn_bfv_galois_keys_clear(&gk); /* twice is safe */
    cn_bfv_ciphertext_clear(&c);
    cn_bfv_ciphertext_clear(&x);
    cn_bfv_plaintext_clear(&pt);
    cn_bfv_plaintext_clear(&d);
    free(v);
    free(out);
    fx_clear(&f);
}

START_TEST(test_rotations)
{
    cn_bfv_params_t p = prm_small(64, 3, 50, 1);
    rotations_at(&p, 110);
    p = prm_secure(4096);
    rotations_at(&p, 111);
}
END_TEST

START_TEST(test_plain_crt)
{
    /* T from about 60 to about 200 bits: k primes of 20..40 bits */
    const unsigned sizes[][2] = {{3, 20}, {2, 30}, {5, 40}, {10, 20}, {7, 29}};
    cn_test_rng_t r;
    cn_test_rng_init(&r, 95);
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t k = sizes[s][0];
        uint64_t t[16];
        ck_assert_int_eq(cn_primes_ntt(t, k, sizes[s][1], 1024, NULL, 0, 1), CN_OK);
        cn_plain_crt_t crt;
        ck_assert_int_eq(cn_plain_crt_init(&crt, t, k), CN_OK);
        mpz_t T, half, v, back;
        mpz_inits(T, half, v, back, NULL);
        mpz_set_ui(T, 1);
        for (size_t i = 0; i < k; i++)
            mpz_mul_ui(T, T, (unsigned long)t[i]);
        mpz_fdiv_q_2exp(half, T, 1);
        gmp_randstate_t gs;
        gmp_randinit_default(gs);
        gmp_randseed_ui(gs, (unsigned long)cn_test_seed() + s);
        uint64_t *res[16], store[16][64];
        for (size_t i = 0; i < k; i++)
            res[i] = store[i];
        mpz_t vals[64];
        for (int j = 0; j < 64; j++) {
            mpz_init(vals[j]);
            mpz_urandomm(vals[j], gs, T);
            mpz_sub(vals[j], vals[j], half); /* in [-T/2, T/2) */
            if (j == 0)
                mpz_neg(vals[j], half), mpz_add_ui(vals[j], vals[j], 1);
            if (j == 1)
                mpz_set(vals[j], half);
            for (size_t i = 0; i < k; i++)
                store[i][j] = mpz_fdiv_ui(vals[j], (unsigned long)t[i]);
        }
        mpz_t got[64];
        for (int j = 0; j < 64; j++)
            mpz_init(got[j]);
        ck_assert_int_eq(cn_plain_crt_join_mpz(got, (const uint64_t *const *)res, 64, &crt),
                         CN_OK);
        for (int j = 0; j < 64; j++)
            ck_assert_msg(mpz_cmp(got[j], vals[j]) == 0, "crt value %d", j);
        /* int64 path: small values round trip; big ones are refused */
        /* the last value is -T/4, or -2^62 when T is larger */
        int64_t quarter =
            mpz_sizeinbase(half, 2) <= 62 ? mpz_get_si(half) / 2 : -(INT64_MIN / 2);
        int64_t small[4] = {0, -1, 123456789, -quarter}, sback[4];
        cn_plain_crt_split_i64(res, small, 4, &crt);
        ck_assert_int_eq(cn_plain_crt_join_i64(sback, (const uint64_t *const *)res, 4, &crt),
                         CN_OK);
        ck_assert_mem_eq(small, sback, sizeof small);
        for (size_t i = 0; i < k; i++)
            store[i][0] = mpz_fdiv_ui(half, (unsigned long)t[i]);
        /* T/2 itself: returned when it fits 63 bits, refused otherwise */
        cn_status want = mpz_sizeinbase(half, 2) <= 63 ? CN_OK : CN_ERR_OUT_OF_RANGE;
        ck_assert_int_eq(cn_plain_crt_join_i64(sback, (const uint64_t *const *)res, 1, &crt),
                         want);
        if (want == CN_OK)
            ck_assert(mpz_cmp_si(half, sback[0]) == 0);
        for (int j = 0; j < 64; j++) {
            mpz_clear(vals[j]);
            mpz_clear(got[j]);
        }
        gmp_randclear(gs);
        mpz_clears(T, half, v, back, NULL);
        cn_plain_crt_clear(&crt);
    }
}
END_TEST

CN_SUITE(bfv)
{
    Suite *s = suite_create("bfv");
    TCase *tc = cn_tcase("core", 900);
    tcase_add_loop_test(tc, test_round_trip, 0, 3);
    tcase_add_test(tc, test_ops_small);
    tcase_add_loop_test(tc, test_ops_secure, 0, 3);
    tcase_add_test(tc, test_exact_reference);
    tcase_add_test(tc, test_noise_budget);
    tcase_add_test(tc, test_mismatch);
    tcase_add_test(tc, test_deterministic);
    tcase_add_test(tc, test_encoding);
    tcase_add_test(tc, test_plain_crt);
    tcase_add_test(tc, test_rotations);
    suite_add_tcase(s, tc);
    return s;
}
