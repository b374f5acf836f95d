/* The samplers' kernels (lib/rand/sample_kernels.h): cn_sample_uniform and cn_sample_cbd
 * against their definitions (docs/rand.md) written here one value at a time over the
 * same stream, each SIMD kernel against its portable twin on the same bytes, and the
 * generator's direct path for long reads against short reads of the same stream. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/util.h"
#include "cryptonets/rand.h"
#include "internal/cpu.h"
#include "rand/sample_kernels.h"

static void det_rng(cn_rng_t *r, uint64_t stream)
{
    uint8_t seed[CN_SEED_BYTES] = {0};
    uint64_t s = cn_test_seed() ^ stream;
    memcpy(seed, &s, sizeof s);
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(r, seed, CN_RNG_INSECURE_ACK), CN_OK);
}

static uint64_t le(const uint8_t *b, unsigned nb)
{
    uint64_t v = 0;
    for (unsigned i = nb; i-- > 0;)
        v = v << 8 | b[i];
    return v;
}

/* the definition: candidates of ceil(bits / 8) bytes, masked to bits, rejected >= q */
static void uniform_ref(uint64_t *out, size_t n, uint64_t q, cn_rng_t *r)
{
    unsigned bits = q <= 1 ? 1 : 64 - (unsigned)__builtin_clzll(q - 1), nb = (bits + 7) / 8;
    uint64_t mask = bits >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << bits) - 1;
    for (size_t i = 0; i < n;) {
        uint8_t b[8];
        cn_rng_bytes(r, b, nb);
        uint64_t v = le(b, nb) & mask;
        if (v < q)
            out[i++] = v;
    }
}

START_TEST(test_uniform_definition)
{
    /* every candidate width, acceptance from about 1/2 to 1 */
    static const uint64_t qs[] = {2,
                                  3,
                                  129,
                                  255,
                                  40961,
                                  (1ULL << 23) + 1,
                                  4398046380033ULL, /* a 42-bit NTT prime */
                                  (1ULL << 41) + 1,
                                  (1ULL << 47) + 5,
                                  (1ULL << 55) + 1,
                                  (1ULL << 61) - 1,
                                  (1ULL << 63) + 1};
    static const size_t ns[] = {1, 7, 8, 9, 511, 512, 513, 8192};
    uint64_t *a = malloc(8192 * sizeof *a), *b = malloc(8192 * sizeof *b);
    cn_rng_t r1, r2;
    det_rng(&r1, 1800);
    det_rng(&r2, 1800);
    for (size_t qi = 0; qi < sizeof qs / sizeof *qs; qi++)
        for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++) {
            cn_sample_uniform(a, ns[ni], qs[qi], &r1);
            uniform_ref(b, ns[ni], qs[qi], &r2);
            ck_assert(memcmp(a, b, ns[ni] * sizeof *a) == 0);
        }
    /* and the streams are at the same place afterwards */
    uint8_t x[100], y[100];
    cn_rng_bytes(&r1, x, sizeof x);
    cn_rng_bytes(&r2, y, sizeof y);
    ck_assert_mem_eq(x, y, sizeof x);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_cbd_definition)
{
    static const size_t ns[] = {1, 7, 8, 9, 512, 513, 8192};
    int64_t *a = malloc(8192 * sizeof *a);
    cn_rng_t r1, r2;
    det_rng(&r1, 1801);
    det_rng(&r2, 1801);
    for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++) {
        cn_sample_cbd(a, ns[ni], &r1);
        for (size_t i = 0; i < ns[ni]; i++) {
            uint8_t b[6];
            cn_rng_bytes(&r2, b, 6);
            int64_t v = 0;
            for (int j = 0; j < 2 * CN_CBD_ETA; j++)
                v += (j < CN_CBD_ETA ? 1 : -1) * (int64_t)((b[j / 8] >> (j % 8)) & 1);
            ck_assert_int_eq(a[i], v);
        }
    }
    free(a);
}
END_TEST

START_TEST(test_kernel_twins)
{
    cn_test_rng_t t;
    cn_test_rng_init(&t, 1802);
    const size_t m = 203; /* not a multiple of 8 */
    uint8_t *buf = malloc(8 * m + CN_SAMPLE_PAD);
    uint64_t *a = malloc(m * sizeof *a), *b = malloc(m * sizeof *b);
    int64_t *c = malloc(m * sizeof *c), *d = malloc(m * sizeof *d);
    for (size_t i = 0; i < 8 * m + CN_SAMPLE_PAD; i++)
        buf[i] = (uint8_t)cn_test_rng_next(&t);
    const int simd = (cn_cpu_features() & CN_CPU_AVX512F) != 0;
    for (unsigned nb = 1; nb <= 8; nb++)
        for (unsigned drop = 0; drop < 8; drop += 3) {
            const unsigned bits = 8 * nb - drop;
            const uint64_t mask = bits >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << bits) - 1;
            const uint64_t q = mask / 3 * 2 + 1; /* about two thirds accepted */
            size_t ka = cn_uniform_accept_portable(a, buf, m, nb, mask, q);
            for (size_t i = 0, k = 0; i < m; i++) {
                uint64_t v = le(buf + i * nb, nb) & mask;
                if (v < q)
                    ck_assert_uint_eq(a[k++], v);
                if (i == m - 1)
                    ck_assert_uint_eq(k, ka);
            }
#ifdef CN_BUILD_AVX512
            if (simd) {
                size_t kb = cn_uniform_accept_avx512(b, buf, m, nb, mask, q);
                ck_assert_uint_eq(ka, kb);
                ck_assert(memcmp(a, b, ka * sizeof *a) == 0);
            }
#endif
            size_t kc = cn_rand_uniform_accept_kernel()(b, buf, m, nb, mask, q);
            ck_assert_uint_eq(ka, kc);
            ck_assert(memcmp(a, b, ka * sizeof *a) == 0);
        }
    cn_cbd_portable(c, buf, m);
#ifdef CN_BUILD_AVX512
    if (simd) {
        cn_cbd_avx512(d, buf, m);
        ck_assert(memcmp(c, d, m * sizeof *c) == 0);
    }
#endif
    cn_rand_cbd_kernel()(d, buf, m);
    ck_assert(memcmp(c, d, m * sizeof *c) == 0);
    (void)simd;
    free(buf);
    free(a);
    free(b);
    free(c);
    free(d);
}
END_TEST

/* reads of whole buffers go straight to the caller: the same stream as short reads */
START_TEST(test_direct_reads)
{
    static const size_t steps[] = {3, 512, 1, 5000, 511, 1024, 2, 513};
    enum { TOTAL = 3 + 512 + 1 + 5000 + 511 + 1024 + 2 + 513 };
    uint8_t *x = malloc(TOTAL), *y = malloc(TOTAL);
    cn_rng_t r1, r2;
    det_rng(&r1, 1803);
    det_rng(&r2, 1803);
    size_t off = 0;
    for (size_t i = 0; i < sizeof steps / sizeof *steps; off += steps[i++])
        cn_rng_bytes(&r1, x + off, steps[i]);
    for (size_t i = 0; i < TOTAL; i += 7)
        cn_rng_bytes(&r2, y + i, TOTAL - i < 7 ? TOTAL - i : 7);
    ck_assert_mem_eq(x, y, TOTAL);
    free(x);
    free(y);
}
END_TEST

/* the AVX-512 keystream against libsodium's crypto_stream_chacha20 (the generator's
 * portable path), at counters where the low word wraps inside a group of sixteen */
START_TEST(test_chacha20_twin)
{
#ifdef CN_BUILD_AVX512
    if (!(cn_cpu_features() & CN_CPU_AVX512F))
        return;
    static const uint64_t counters[] = {0, 1, 0xfffffff8ULL, 0xffffffffULL,
                                        0x123456789abcdefULL};
    uint8_t key[32], nonce[8];
    uint32_t kw[8], nw[2];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(7 * i + 1);
    for (int i = 0; i < 8; i++)
        nonce[i] = (uint8_t)(0xa0 + i);
    memcpy(kw, key, 32); /* x86: the words' memory is their little-endian bytes */
    memcpy(nw, nonce, 8);
    uint8_t *a = malloc(3 * 1024), *b = calloc(3 * 1024, 1);
    for (size_t c = 0; c < sizeof counters / sizeof *counters; c++) {
        cn_chacha20_blocks16_avx512(a, 3, kw, nw, counters[c]);
        memset(b, 0, 3 * 1024);
        ck_assert_int_eq(crypto_stream_chacha20_xor_ic(b, b, 3 * 1024, nonce, counters[c], key),
                         0);
        ck_assert(memcmp(a, b, 3 * 1024) == 0);
    }
    free(a);
    free(b);
#endif
}
END_TEST

CN_SUITE(sample_kernels)
{
    Suite *s = suite_create("sample_kernels");
    TCase *tc = cn_tcase("core", 60);
    tcase_add_test(tc, test_uniform_definition);
    tcase_add_test(tc, test_cbd_definition);
    tcase_add_test(tc, test_kernel_twins);
    tcase_add_test(tc, test_direct_reads);
    tcase_add_test(tc, test_chacha20_twin);
    suite_add_tcase(s, tc);
    return s;
}
