/* Tests of the public context accessors (level primes, plaintext moduli) against the
 * parameters they were built from, of cn_bfv_ciphertext_reshape, and of the CPU feature
 * query. Public headers only, as a library user (and net/) sees them. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/cryptonets.h"

/* The modulus data of p computed here from its definition (arith.h): bits k with
 * 2^(k-1) <= p < 2^k, mu = floor(2^(2k) / p), r64 = 2^64 mod p. */
static void expect_mod(const cn_mod_t *m, uint64_t p)
{
    unsigned k = 0;
    while (k < 64 && (p >> k) != 0)
        k++;
    ck_assert_uint_eq(m->p, p);
    ck_assert_uint_eq(m->bits, k);
    ck_assert_uint_eq(m->mu, (uint64_t)(((unsigned __int128)1 << (2 * k)) / p));
    ck_assert_uint_eq(m->r64, (uint64_t)(((unsigned __int128)1 << 64) % p));
}

START_TEST(test_accessors)
{
    /* with and without a special prime; several plaintext moduli */
    for (int withp = 0; withp <= 1; withp++) {
        cn_bfv_params_t prm;
        ck_assert_int_eq(
            cn_bfv_params_default(&prm, 64, 4, 50, withp ? 51 : 0, 3, 16, CN_SEC_NONE_INSECURE),
            CN_OK);
        cn_bfv_context_t *ctx;
        ck_assert_int_eq(cn_bfv_context_create(&ctx, &prm), CN_OK);
        const size_t L = cn_bfv_context_params(ctx)->nq;
        ck_assert_uint_eq(L, 4);
        for (size_t level = 1; level <= L; level++) {
            size_t count = 99;
            const cn_mod_t *q = cn_bfv_context_level_primes(ctx, level, &count);
            ck_assert_ptr_nonnull(q);
            ck_assert_uint_eq(count, level);
            for (size_t i = 0; i < count; i++)
                expect_mod(&q[i], prm.q[i]);
            ck_assert_ptr_eq(cn_bfv_context_level_primes(ctx, level, NULL), q);
        }
        size_t count = 99;
        ck_assert_ptr_null(cn_bfv_context_level_primes(ctx, 0, &count));
        ck_assert_uint_eq(count, 0);
        count = 99;
        ck_assert_ptr_null(cn_bfv_context_level_primes(ctx, L + 1, &count)); /* not P */
        ck_assert_uint_eq(count, 0);
        const cn_mod_t *t = cn_bfv_context_plain_moduli(ctx, &count);
        ck_assert_uint_eq(count, 3);
        for (size_t i = 0; i < count; i++)
            expect_mod(&t[i], prm.t[i]);
        ck_assert_ptr_eq(cn_bfv_context_plain_moduli(ctx, NULL), t);
        cn_bfv_context_free(ctx);
    }
}
END_TEST

static int all_zero(const cn_bfv_ciphertext_t *ct)
{
    for (size_t c = 0; c < ct->size; c++)
        for (size_t i = 0; i < ct->c[c].k * ct->c[c].n; i++)
            if (ct->c[c].data[i])
                return 0;
    return 1;
}

START_TEST(test_reshape)
{
    cn_bfv_params_t prm;
    ck_assert_int_eq(cn_bfv_params_default(&prm, 64, 3, 50, 51, 1, 16, CN_SEC_NONE_INSECURE),
                     CN_OK);
    cn_bfv_context_t *ctx;
    ck_assert_int_eq(cn_bfv_context_create(&ctx, &prm), CN_OK);
    uint8_t seed[CN_SEED_BYTES] = {0};
    uint64_t s = cn_test_seed();
    memcpy(seed, &s, 8);
    cn_rng_t rng;
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(&rng, seed, CN_RNG_INSECURE_ACK),
                     CN_OK);
    cn_bfv_secret_key_t sk;
    ck_assert_int_eq(cn_bfv_keygen_secret(&sk, ctx, &rng), CN_OK);
    cn_bfv_plaintext_t pt = {0};
    ck_assert_int_eq(cn_bfv_plaintext_init(&pt, ctx, 0), CN_OK);
    for (size_t i = 0; i < 64; i++)
        pt.coeffs[i] = (i * 7 + 1) % prm.t[0];

    /* from a zeroed ciphertext: zeros, a transparent encryption of 0 */
    cn_bfv_ciphertext_t ct = {0};
    ck_assert_int_eq(cn_bfv_ciphertext_reshape(&ct, 3, 2, 0, ctx), CN_OK);
    ck_assert_uint_eq(ct.size, 3);
    ck_assert_uint_eq(ct.level, 2);
    ck_assert_uint_eq(ct.fingerprint, cn_bfv_context_fingerprint(ctx));
    ck_assert_int_eq(ct.transparent, 1);
    ck_assert_int_eq(ct.has_seed, 0);
    ck_assert(all_zero(&ct));
    cn_bfv_plaintext_t got = {0};
    ck_assert_int_eq(cn_bfv_decrypt(&got, &ct, &sk, ctx), CN_OK);
    for (size_t i = 0; i < 64; i++)
        ck_assert_uint_eq(got.coeffs[i], 0);

    /* over a fresh encryption of the same shape: zero fill clears the old values, and
     * no zero fill keeps the memory (a kernel then overwrites it) */
    ck_assert_int_eq(cn_bfv_encrypt_symmetric(&ct, &pt, &sk, ctx, &rng), CN_OK);
    ck_assert_int_eq(ct.has_seed, 1);
    ck_assert_int_eq(cn_bfv_ciphertext_reshape(&ct, 2, 3, 0, ctx), CN_OK);
    ck_assert(all_zero(&ct));
    ck_assert_int_eq(ct.has_seed, 0);
    ck_assert_int_eq(cn_bfv_encrypt_symmetric(&ct, &pt, &sk, ctx, &rng), CN_OK);
    const uint64_t *d0 = ct.c[0].data;
    const uint64_t first = ct.c[1].data[5];
    ck_assert_int_eq(cn_bfv_ciphertext_reshape(&ct, 2, 3, CN_BFV_NO_ZERO_FILL, ctx), CN_OK);
    ck_assert_ptr_eq(ct.c[0].data, d0);
    ck_assert_uint_eq(ct.c[1].data[5], first);
    ck_assert_int_eq(ct.transparent, 0);
    ck_assert_int_eq(ct.has_seed, 0);
    /* the result is a ciphertext like any other once written */
    ck_assert_int_eq(cn_bfv_decrypt(&got, &ct, &sk, ctx), CN_OK);
    ck_assert_mem_eq(got.coeffs, pt.coeffs, 64 * sizeof *pt.coeffs);

    /* shape changes: down to size 2 releases c2; a new level reallocates */
    ck_assert_int_eq(cn_bfv_ciphertext_reshape(&ct, 3, 1, CN_BFV_NO_ZERO_FILL, ctx), CN_OK);
    ck_assert_ptr_nonnull(ct.c[2].data);
    ck_assert_uint_eq(ct.c[2].k, 1);
    ck_assert_int_eq(cn_bfv_ciphertext_reshape(&ct, 2, 2, 0, ctx), CN_OK);
    ck_assert_ptr_null(ct.c[2].data);
    ck_assert_uint_eq(ct.c[0].k, 2);
    ck_assert(all_zero(&ct));

    /* bad arguments leave ct as it was */
    const size_t bad[][2] = {{1, 2}, {4, 2}, {2, 0}, {2, 4}};
    for (size_t k = 0; k < 4; k++) {
        ck_assert_int_eq(cn_bfv_ciphertext_reshape(&ct, bad[k][0], bad[k][1], 0, ctx),
                         CN_ERR_INVALID_ARG);
        ck_assert_uint_eq(ct.size, 2);
        ck_assert_uint_eq(ct.level, 2);
    }
    ck_assert_int_eq(cn_bfv_ciphertext_reshape(&ct, 2, 2, 2, ctx), CN_ERR_INVALID_ARG);

    cn_bfv_ciphertext_clear(&ct);
    cn_bfv_plaintext_clear(&got);
    cn_bfv_plaintext_clear(&pt);
    cn_bfv_secret_key_clear(&sk);
    cn_rng_clear(&rng);
    cn_bfv_context_free(ctx);
}
END_TEST

/* The feature query against the compiler's own cpuid builtins (and CN_SIMD=portable,
 * under which CI runs the suite a second time). */
START_TEST(test_cpu_features)
{
    const unsigned f = cn_cpu_features();
    ck_assert_uint_eq(f & ~(unsigned)(CN_CPU_AVX2 | CN_CPU_AVX512F | CN_CPU_AVX512IFMA), 0);
    ck_assert_uint_eq(cn_cpu_features(), f);
    const char *env = getenv("CN_SIMD");
    if (env && strcmp(env, "portable") == 0) {
        ck_assert_uint_eq(f, 0);
        return;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    /* a build without the AVX-512 (or IFMA) kernel files does not report those sets */
#ifdef CN_NO_AVX512
    const int built = 0, built_ifma = 0;
#elif defined(CN_NO_AVX512IFMA)
    const int built = 1, built_ifma = 0;
#else
    const int built = 1, built_ifma = 1;
#endif
    const int avx512 = built && __builtin_cpu_supports("avx512f") &&
                       __builtin_cpu_supports("avx512vl") &&
                       __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
    ck_assert_int_eq((f & CN_CPU_AVX2) != 0, __builtin_cpu_supports("avx2") != 0);
    ck_assert_int_eq((f & CN_CPU_AVX512F) != 0, avx512);
    ck_assert_int_eq((f & CN_CPU_AVX512IFMA) != 0,
                     avx512 && built_ifma && __builtin_cpu_supports("avx512ifma"));
#else
    ck_assert_uint_eq(f, 0);
#endif
}
END_TEST

CN_SUITE(bfv_context)
{
    Suite *s = suite_create("bfv_context");
    TCase *tc = cn_tcase("core", 60);
    tcase_add_test(tc, test_accessors);
    tcase_add_test(tc, test_reshape);
    tcase_add_test(tc, test_cpu_features);
    suite_add_tcase(s, tc);
    return s;
}
