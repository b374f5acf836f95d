/* Known-answer tests of lib/rand: the bytes of the deterministic generator, of a public
 * seed's stream, of a forked child, and of the three samplers, from fixed seeds.
 *
 * These pin bytes against regressions (a seeded ciphertext's c1 and every KAT of
 * tests/io and tests/net depend on them): the expected lengths and SHA-256 digests come
 * from the code under test itself, at commit d85e10c (main when they were written). The
 * keystream's correctness is checked elsewhere (tests/rand/test_rand.c, against RFC 8439).
 * A deliberate change of these bytes regenerates them with
 *   CN_KAT_PRINT=1 CK_RUN_SUITE=kat_rand build/tests/run_tests
 * which prints "KAT <name>: <length> <sha256>" for each instead of checking. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/rand.h"

/* v[0..n) as 8 little-endian bytes each, so the digests do not depend on the host */
static uint8_t *le64s(const uint64_t *v, size_t n)
{
    uint8_t *b = malloc(8 * n);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 8; k++)
            b[8 * i + (size_t)k] = (uint8_t)(v[i] >> (8 * k));
    return b;
}

START_TEST(test_kat_streams)
{
    cn_rng_t r, c;
    uint8_t x[3000], seed[CN_SEED_BYTES];
    cn_test_kat_rng(&r, 1);
    cn_rng_bytes(&r, x, sizeof x);
    cn_test_kat("insecure_stream", x, sizeof x, 3000,
                "4f25edfa29e86634ff8b923b2c36df8b749d47ea586810b7726e0f21356e0fc7");
    cn_rng_fork(&c, &r);
    cn_rng_bytes(&c, x, sizeof x);
    cn_test_kat("forked_stream", x, sizeof x, 3000,
                "a83bc081337ab4774fcd4ec1080fce9635a5a700a08f90015b9464d613d963b8");
    cn_test_kat_seed(seed, 2);
    cn_rng_init_public_seed(&r, seed, 0x6331);
    cn_rng_bytes(&r, x, sizeof x);
    cn_test_kat("public_stream", x, sizeof x, 3000,
                "621ef61fa607a48056a97f618c0c314c99978b508054085accd9b8996d049a76");
    cn_rng_clear(&r);
    cn_rng_clear(&c);
}
END_TEST

START_TEST(test_kat_samplers)
{
    const size_t n = 5000;
    uint64_t *u = malloc(n * sizeof *u);
    int64_t *s = malloc(n * sizeof *s);
    uint8_t *b;
    cn_rng_t r;
    cn_test_kat_rng(&r, 3);
    /* bounds of 36, 61 and 2 bits: candidates of 5, 8 and 1 bytes */
    static const struct {
        uint64_t q;
        const char *name, *sha256;
    } kat[] = {
        {68719403009ULL, "uniform_36",
         "3b1e774b3be2d06f90e9cea00fb0377b5489014bb163be1003508d82ef717be9"},
        {((uint64_t)1 << 61) - 1, "uniform_61",
         "6ec938996bdda9403ca64f489d1c39377bfc36d79550dfdaeae95645315f5223"},
        {3, "uniform_3", "2556546e575a6cf6e1eb7f8f6db1b5e33caacbd9de33bf523563c3f152293104"},
    };
    for (size_t k = 0; k < sizeof kat / sizeof *kat; k++) {
        cn_sample_uniform(u, n, kat[k].q, &r);
        b = le64s(u, n);
        cn_test_kat(kat[k].name, b, 8 * n, 40000, kat[k].sha256);
        free(b);
    }
    cn_sample_ternary(s, n, &r);
    b = le64s((const uint64_t *)s, n);
    cn_test_kat("ternary", b, 8 * n, 40000,
                "6f1002b2c753e61a3641cced20988d1544ea6db6fbe0fac15d28405e80c6563f");
    free(b);
    cn_sample_cbd(s, n, &r);
    b = le64s((const uint64_t *)s, n);
    cn_test_kat("cbd", b, 8 * n, 40000,
                "3cf06d6d732d8b0724f1da52db1b580aa082c71cc279af9a67ee266c7a09e017");
    free(b);
    cn_rng_clear(&r);
    free(u);
    free(s);
}
END_TEST

CN_SUITE(kat_rand)
{
    Suite *s = suite_create("kat_rand");
    TCase *tc = cn_tcase("core", 60);
    tcase_add_test(tc, test_kat_streams);
    tcase_add_test(tc, test_kat_samplers);
    suite_add_tcase(s, tc);
    return s;
}
