/* Tests of lib/poly: ring validation, ring operations against fmpz_poly arithmetic mod
 * (X^n + 1, Q), big-integer round trips, forms, shapes and aliasing. */
#include <flint/fmpz_poly.h>
#include <gmp.h>
#include <stdlib.h>

#include "common/util.h"
#include "cryptonets/mpz.h"
#include "cryptonets/poly.h"

typedef struct {
    cn_ring_t ring;
    size_t n, k;
    fmpz_t Q, half;
} fx_t;

static void fx_init(fx_t *f, size_t n, size_t k, unsigned bits)
{
    uint64_t q[16];
    ck_assert_int_eq(cn_primes_ntt(q, k, bits, n, NULL, 0, 1), CN_OK);
    ck_assert_int_eq(cn_ring_init(&f->ring, n, q, k), CN_OK);
    f->n = n;
    f->k = k;
    fmpz_init(f->Q);
    fmpz_init(f->half);
    fmpz_one(f->Q);
    for (size_t i = 0; i < k; i++)
        fmpz_mul_ui(f->Q, f->Q, q[i]);
    fmpz_fdiv_q_2exp(f->half, f->Q, 1);
}

static void fx_clear(fx_t *f)
{
    cn_ring_clear(&f->ring);
    fmpz_clear(f->Q);
    fmpz_clear(f->half);
}

/* x mod Q, centered in (-Q/2, Q/2] */
static void center(fmpz_t x, const fx_t *f)
{
    fmpz_mod(x, x, f->Q);
    if (fmpz_cmp(x, f->half) > 0)
        fmpz_sub(x, x, f->Q);
}

/* a random polynomial over the first k primes: the oracle copy op and the RNS one a */
static void random_poly(fmpz_poly_t op, cn_poly_t *a, const fx_t *f, size_t k, cn_test_rng_t *r)
{
    ck_assert_int_eq(cn_poly_init(a, &f->ring, k), CN_OK);
    fmpz_t Qk, x;
    fmpz_init_set_ui(Qk, 1);
    fmpz_init(x);
    for (size_t i = 0; i < k; i++)
        fmpz_mul_ui(Qk, Qk, f->ring.base.q[i]);
    mpz_t *c = malloc(f->n * sizeof *c);
    fmpz_poly_zero(op);
    for (size_t j = 0; j < f->n; j++) {
        fmpz_zero(x);
        for (size_t w = 0; w < f->k + 1; w++) {
            fmpz_mul_2exp(x, x, 64);
            fmpz_add_ui(x, x, cn_test_rng_next(r));
        }
        fmpz_mod(x, x, Qk);
        if (j & 1)
            fmpz_neg(x, x); /* any sign is accepted */
        fmpz_poly_set_coeff_fmpz(op, (slong)j, x);
        mpz_init(c[j]);
        fmpz_get_mpz(c[j], x);
    }
    ck_assert_int_eq(cn_poly_set_mpz(a, (const mpz_t *)c, &f->ring), CN_OK);
    for (size_t j = 0; j < f->n; j++)
        mpz_clear(c[j]);
    free(c);
    fmpz_clear(Qk);
    fmpz_clear(x);
}

/* a (coefficient form, all k primes) equals op mod (X^n + 1, Q) */
static void expect(const cn_poly_t *a, const fmpz_poly_t op, const fx_t *f, const char *what)
{
    ck_assert_int_eq(a->form, CN_FORM_COEFF);
    fmpz_poly_t red;
    fmpz_poly_init(red);
    fmpz_t x, y;
    fmpz_init(x);
    fmpz_init(y);
    /* reduce mod X^n + 1: coefficient j collects +c_{j + 2mn} and -c_{j + (2m+1)n} */
    for (slong j = 0; j < fmpz_poly_length(op); j++) {
        fmpz_poly_get_coeff_fmpz(x, op, j);
        slong d = j % (slong)f->n;
        fmpz_poly_get_coeff_fmpz(y, red, d);
        if ((j / (slong)f->n) & 1)
            fmpz_sub(y, y, x);
        else
            fmpz_add(y, y, x);
        fmpz_poly_set_coeff_fmpz(red, d, y);
    }
    mpz_t *c = malloc(f->n * sizeof *c);
    for (size_t j = 0; j < f->n; j++)
        mpz_init(c[j]);
    ck_assert_int_eq(cn_poly_get_mpz(c, a, &f->ring), CN_OK);
    for (size_t j = 0; j < f->n; j++) {
        fmpz_poly_get_coeff_fmpz(x, red, (slong)j);
        center(x, f);
        fmpz_set_mpz(y, c[j]);
        ck_assert_msg(fmpz_equal(x, y), "%s: coefficient %zu differs (n=%zu k=%zu)", what, j,
                      f->n, f->k);
        mpz_clear(c[j]);
    }
    free(c);
    fmpz_clear(x);
    fmpz_clear(y);
    fmpz_poly_clear(red);
}

START_TEST(test_ring_errors)
{
    uint64_t q[2];
    ck_assert_int_eq(cn_primes_ntt(q, 2, 40, 1024, NULL, 0, 1), CN_OK);
    cn_ring_t r;
    ck_assert_int_eq(cn_ring_init(&r, 1000, q, 2), CN_ERR_NOT_POWER_OF_TWO);
    ck_assert_int_eq(cn_ring_init(&r, 0, q, 2), CN_ERR_NOT_POWER_OF_TWO);
    ck_assert_int_eq(cn_ring_init(&r, 65536, q, 2), CN_ERR_NOT_POWER_OF_TWO);
    ck_assert_int_eq(cn_ring_init(&r, 2048, q, 2), CN_ERR_NOT_NTT_FRIENDLY);
    ck_assert_int_eq(cn_ring_init(&r, 1024, q, 0), CN_ERR_INVALID_ARG);
    uint64_t dup[2] = {q[0], q[0]};
    ck_assert_int_eq(cn_ring_init(&r, 1024, dup, 2), CN_ERR_MODULI_NOT_DISTINCT);
    cn_ring_clear(&r);
    ck_assert_int_eq(cn_ring_init(&r, 1024, q, 2), CN_OK);
    cn_poly_t a, b, c;
    ck_assert_int_eq(cn_poly_init(&a, &r, 0), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_poly_init(&a, &r, 3), CN_ERR_INVALID_ARG);
    cn_poly_clear(&a);
    ck_assert_int_eq(cn_poly_init(&a, &r, 2), CN_OK);
    ck_assert_int_eq(cn_poly_init(&b, &r, 1), CN_OK);
    ck_assert_int_eq(cn_poly_init(&c, &r, 2), CN_OK);
    /* shape: different prime counts */
    ck_assert_int_eq(cn_poly_add(&c, &a, &b, &r), CN_ERR_SHAPE_MISMATCH);
    ck_assert_int_eq(cn_poly_add(&b, &a, &a, &r), CN_ERR_SHAPE_MISMATCH);
    ck_assert_int_eq(cn_poly_copy(&b, &a), CN_ERR_SHAPE_MISMATCH);
    /* forms */
    ck_assert_int_eq(cn_poly_mul_ntt(&c, &a, &a, &r), CN_ERR_FORM_MISMATCH);
    ck_assert_int_eq(cn_poly_from_ntt(&a, &r), CN_ERR_FORM_MISMATCH);
    ck_assert_int_eq(cn_poly_to_ntt(&a, &r), CN_OK);
    ck_assert_int_eq(cn_poly_to_ntt(&a, &r), CN_ERR_FORM_MISMATCH);
    ck_assert_int_eq(cn_poly_add(&c, &a, &c, &r), CN_ERR_FORM_MISMATCH);
    ck_assert_int_eq(cn_poly_mul(&c, &a, &a, &r), CN_ERR_FORM_MISMATCH);
    mpz_t z[1024];
    for (int j = 0; j < 1024; j++)
        mpz_init(z[j]);
    ck_assert_int_eq(cn_poly_get_mpz(z, &a, &r), CN_ERR_FORM_MISMATCH);
    for (int j = 0; j < 1024; j++)
        mpz_clear(z[j]);
    /* a ring of another degree */
    cn_ring_t r2;
    ck_assert_int_eq(cn_ring_init(&r2, 512, q, 2), CN_OK);
    ck_assert_int_eq(cn_poly_neg(&c, &c, &r2), CN_ERR_SHAPE_MISMATCH);
    cn_ring_clear(&r2);
    cn_poly_clear(&a);
    cn_poly_clear(&b);
    cn_poly_clear(&c);
    cn_poly_clear(&c);
    cn_ring_clear(&r);
}
END_TEST

/* every operation against fmpz_poly, with outputs aliasing inputs */
START_TEST(test_ops_vs_fmpz_poly)
{
    static const unsigned cfg[][3] = {{2, 1, 30},    {16, 2, 61},   {256, 3, 50},
                                      {1024, 2, 40}, {8192, 4, 50}, {4096, 5, 60}};
    const size_t c = (size_t)_i;
    fx_t f;
    fx_init(&f, cfg[c][0], cfg[c][1], cfg[c][2]);
    cn_test_rng_t r;
    cn_test_rng_init(&r, 400 + c);
    fmpz_poly_t oa, ob, oc;
    fmpz_poly_init(oa), fmpz_poly_init(ob), fmpz_poly_init(oc);
    cn_poly_t a, b, x;
    random_poly(oa, &a, &f, f.k, &r);
    random_poly(ob, &b, &f, f.k, &r);
    ck_assert_int_eq(cn_poly_init(&x, &f.ring, f.k), CN_OK);

    ck_assert_int_eq(cn_poly_mul(&x, &a, &b, &f.ring), CN_OK);
    fmpz_poly_mul(oc, oa, ob);
    expect(&x, oc, &f, "mul");

    /* the same product through explicit forms, aliased in place */
    ck_assert_int_eq(cn_poly_copy(&x, &a), CN_OK);
    cn_poly_t y;
    ck_assert_int_eq(cn_poly_init(&y, &f.ring, f.k), CN_OK);
    ck_assert_int_eq(cn_poly_copy(&y, &b), CN_OK);
    ck_assert_int_eq(cn_poly_to_ntt(&x, &f.ring), CN_OK);
    ck_assert_int_eq(cn_poly_to_ntt(&y, &f.ring), CN_OK);
    ck_assert_int_eq(cn_poly_mul_ntt(&x, &x, &y, &f.ring), CN_OK);
    /* add and sub commute with the transform: (a*b + b) - b in NTT form */
    ck_assert_int_eq(cn_poly_add(&x, &x, &y, &f.ring), CN_OK);
    ck_assert_int_eq(cn_poly_sub(&x, &x, &y, &f.ring), CN_OK);
    ck_assert_int_eq(cn_poly_from_ntt(&x, &f.ring), CN_OK);
    expect(&x, oc, &f, "mul_ntt");
    /* squaring with out = a = b */
    ck_assert_int_eq(cn_poly_copy(&x, &a), CN_OK);
    ck_assert_int_eq(cn_poly_mul(&x, &x, &x, &f.ring), CN_OK);
    fmpz_poly_mul(oc, oa, oa);
    expect(&x, oc, &f, "square aliased");

    ck_assert_int_eq(cn_poly_add(&x, &a, &b, &f.ring), CN_OK);
    fmpz_poly_add(oc, oa, ob);
    expect(&x, oc, &f, "add");
    ck_assert_int_eq(cn_poly_sub(&x, &a, &b, &f.ring), CN_OK);
    fmpz_poly_sub(oc, oa, ob);
    expect(&x, oc, &f, "sub");
    ck_assert_int_eq(cn_poly_copy(&x, &a), CN_OK);
    ck_assert_int_eq(cn_poly_sub(&x, &b, &x, &f.ring), CN_OK); /* out aliases b's partner */
    fmpz_poly_sub(oc, ob, oa);
    expect(&x, oc, &f, "sub aliased");
    ck_assert_int_eq(cn_poly_neg(&x, &x, &f.ring), CN_OK);
    fmpz_poly_neg(oc, oc);
    expect(&x, oc, &f, "neg aliased");

    const int64_t scalars[] = {0, 1, -1, 3, -77777, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    for (size_t s = 0; s < sizeof scalars / sizeof *scalars; s++) {
        ck_assert_int_eq(cn_poly_copy(&x, &a), CN_OK);
        ck_assert_int_eq(cn_poly_mul_scalar(&x, &x, scalars[s], &f.ring), CN_OK);
        fmpz_t cs;
        fmpz_init(cs);
        fmpz_set_si(cs, scalars[s]);
        fmpz_poly_scalar_mul_fmpz(oc, oa, cs);
        fmpz_clear(cs);
        expect(&x, oc, &f, "mul_scalar");
    }
    /* mul_scalar in NTT form gives the same values after the inverse */
    ck_assert_int_eq(cn_poly_copy(&x, &a), CN_OK);
    ck_assert_int_eq(cn_poly_to_ntt(&x, &f.ring), CN_OK);
    ck_assert_int_eq(cn_poly_mul_scalar(&x, &x, -5, &f.ring), CN_OK);
    ck_assert_int_eq(x.form, CN_FORM_NTT);
    ck_assert_int_eq(cn_poly_from_ntt(&x, &f.ring), CN_OK);
    fmpz_poly_scalar_mul_si(oc, oa, -5);
    expect(&x, oc, &f, "mul_scalar ntt");

    /* set_int64 against the same values as fmpz */
    int64_t *v = malloc(f.n * sizeof *v);
    fmpz_poly_zero(oc);
    for (size_t j = 0; j < f.n; j++) {
        v[j] = (int64_t)cn_test_rng_next(&r);
        if (j == 0)
            v[j] = INT64_MIN;
        fmpz_poly_set_coeff_si(oc, (slong)j, v[j]);
    }
    ck_assert_int_eq(cn_poly_set_int64(&x, v, &f.ring), CN_OK);
    expect(&x, oc, &f, "set_int64");
    cn_poly_zero(&x);
    fmpz_poly_zero(oc);
    expect(&x, oc, &f, "zero");
    free(v);

    cn_poly_clear(&a);
    cn_poly_clear(&b);
    cn_poly_clear(&x);
    cn_poly_clear(&y);
    fmpz_poly_clear(oa), fmpz_poly_clear(ob), fmpz_poly_clear(oc);
    fx_clear(&f);
}
END_TEST

/* a polynomial over a prefix of the primes reads back modulo that prefix's product */
START_TEST(test_prefix_level)
{
    fx_t f;
    fx_init(&f, 64, 4, 45);
    cn_test_rng_t r;
    cn_test_rng_init(&r, 450);
    fmpz_poly_t oa, ob, oc;
    fmpz_poly_init(oa), fmpz_poly_init(ob), fmpz_poly_init(oc);
    cn_poly_t a, b, x;
    random_poly(oa, &a, &f, 2, &r);
    random_poly(ob, &b, &f, 2, &r);
    ck_assert_int_eq(cn_poly_init(&x, &f.ring, 2), CN_OK);
    ck_assert_int_eq(cn_poly_mul(&x, &a, &b, &f.ring), CN_OK);
    fmpz_poly_mul(oc, oa, ob);
    fx_t g; /* the oracle's modulus: the first two primes only */
    fx_init(&g, 64, 2, 45);
    ck_assert_int_eq(g.ring.base.q[1], f.ring.base.q[1]);
    expect(&x, oc, &g, "prefix mul");
    fx_clear(&g);
    cn_poly_clear(&a);
    cn_poly_clear(&b);
    cn_poly_clear(&x);
    fmpz_poly_clear(oa), fmpz_poly_clear(ob), fmpz_poly_clear(oc);
    fx_clear(&f);
}
END_TEST

CN_SUITE(poly)
{
    Suite *s = suite_create("poly");
    TCase *tc = cn_tcase("core", 300);
    tcase_add_test(tc, test_ring_errors);
    tcase_add_loop_test(tc, test_ops_vs_fmpz_poly, 0, 6);
    tcase_add_test(tc, test_prefix_level);
    suite_add_tcase(s, tc);
    return s;
}
