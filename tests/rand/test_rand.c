/* Tests of lib/rand: the generator's ChaCha20 keystream against RFC 8439's vectors (also
 * confirmed with OpenSSL's chacha20) and against a block function written here from the
 * RFC, determinism, and statistics of the samplers with bounds that can fail. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/rand.h"
#include "rand/rng_internal.h"

static void unhex(uint8_t *out, const char *hex)
{
    for (size_t i = 0; hex[2 * i]; i++) {
        unsigned v;
        ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static void key_0_to_31(uint32_t key[8])
{
    for (int i = 0; i < 8; i++)
        key[i] = (uint32_t)(4 * i) | (uint32_t)(4 * i + 1) << 8 | (uint32_t)(4 * i + 2) << 16 |
                 (uint32_t)(4 * i + 3) << 24;
}

/* The oracle: the ChaCha20 block function written from RFC 8439 sections 2.1-2.3, state
 * words 12..15 = (w12, w13, w14, w15) (RFC 8439: counter, then the 96-bit nonce; the
 * generator: 64-bit counter in 12-13, 64-bit domain in 14-15). */
static uint32_t rotl(uint32_t x, int n)
{
    return x << n | x >> (32 - n);
}

static void quarter(uint32_t *x, int a, int b, int c, int d)
{
    x[a] += x[b];
    x[d] = rotl(x[d] ^ x[a], 16);
    x[c] += x[d];
    x[b] = rotl(x[b] ^ x[c], 12);
    x[a] += x[b];
    x[d] = rotl(x[d] ^ x[a], 8);
    x[c] += x[d];
    x[b] = rotl(x[b] ^ x[c], 7);
}

static void ref_block(uint8_t out[64], const uint32_t key[8], uint32_t w12, uint32_t w13,
                      uint32_t w14, uint32_t w15)
{
    uint32_t s[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574}, x[16];
    for (int i = 0; i < 8; i++)
        s[4 + i] = key[i];
    s[12] = w12;
    s[13] = w13;
    s[14] = w14;
    s[15] = w15;
    memcpy(x, s, sizeof x);
    for (int round = 0; round < 10; round++) {
        quarter(x, 0, 4, 8, 12);
        quarter(x, 1, 5, 9, 13);
        quarter(x, 2, 6, 10, 14);
        quarter(x, 3, 7, 11, 15);
        quarter(x, 0, 5, 10, 15);
        quarter(x, 1, 6, 11, 12);
        quarter(x, 2, 7, 8, 13);
        quarter(x, 3, 4, 9, 14);
    }
    for (int i = 0; i < 16; i++)
        for (int b = 0; b < 4; b++)
            out[4 * i + b] = (uint8_t)((x[i] + s[i]) >> (8 * b));
}

static void key_bytes(uint8_t seed[CN_SEED_BYTES], const uint32_t key[8])
{
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(key[i / 4] >> (8 * (i % 4)));
}

/* The same block read from the library's generator: a public-seed stream keyed by the
 * key's bytes, domain w14 | w15 << 32, its 64-bit counter set to w12 | w13 << 32. */
static void gen_block(uint8_t out[64], const uint32_t key[8], uint32_t w12, uint32_t w13,
                      uint32_t w14, uint32_t w15)
{
    uint8_t seed[CN_SEED_BYTES];
    key_bytes(seed, key);
    cn_rng_t r;
    cn_rng_init_public_seed(&r, seed, (uint64_t)w15 << 32 | w14);
    cn_rng_state(&r)->counter = (uint64_t)w13 << 32 | w12;
    cn_rng_bytes(&r, out, 64);
    cn_rng_clear(&r);
}

/* RFC 8439 section 2.3.2 and appendix A.1, test vector 1: the oracle and the generator */
START_TEST(test_chacha20_block_vectors)
{
    uint8_t out[64], out2[64], want[64];
    uint32_t key[8];
    key_0_to_31(key);
    ref_block(out, key, 1, 0x09000000, 0x4a000000, 0);
    gen_block(out2, key, 1, 0x09000000, 0x4a000000, 0);
    unhex(want, "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
                "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e");
    ck_assert_mem_eq(out, want, 64);
    ck_assert_mem_eq(out2, want, 64);
    memset(key, 0, sizeof key);
    ref_block(out, key, 0, 0, 0, 0);
    gen_block(out2, key, 0, 0, 0, 0);
    unhex(want, "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
                "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586");
    ck_assert_mem_eq(out, want, 64);
    ck_assert_mem_eq(out2, want, 64);
}
END_TEST

/* RFC 8439 section 2.4.2: the "sunscreen" encryption (keystream from counter 1), with the
 * oracle's blocks and with one read of the generator's stream */
START_TEST(test_chacha20_encryption_vector)
{
    const char *pt = "Ladies and Gentlemen of the class of '99: If I could offer you only "
                     "one tip for the future, sunscreen would be it.";
    uint8_t want[114], got[114], ks[114], seed[CN_SEED_BYTES];
    unhex(want, "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b"
                "f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8"
                "07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736"
                "5af90bbf74a35be6b40b8eedf2785e42874d");
    ck_assert_uint_eq(strlen(pt), 114);
    uint32_t key[8];
    key_0_to_31(key);
    for (size_t off = 0; off < 114; off += 64) {
        uint8_t blk[64];
        ref_block(blk, key, 1 + (uint32_t)(off / 64), 0, 0x4a000000, 0);
        for (size_t i = off; i < 114 && i < off + 64; i++)
            got[i] = (uint8_t)pt[i] ^ blk[i - off];
    }
    ck_assert_mem_eq(got, want, 114);
    cn_rng_t r;
    key_bytes(seed, key);
    cn_rng_init_public_seed(&r, seed, 0x4a000000);
    cn_rng_state(&r)->counter = 1;
    cn_rng_bytes(&r, ks, sizeof ks);
    for (size_t i = 0; i < 114; i++)
        got[i] = (uint8_t)pt[i] ^ ks[i];
    ck_assert_mem_eq(got, want, 114);
    cn_rng_clear(&r);
}
END_TEST

START_TEST(test_streams)
{
    uint8_t seed[CN_SEED_BYTES], seed2[CN_SEED_BYTES];
    for (int i = 0; i < CN_SEED_BYTES; i++) {
        seed[i] = (uint8_t)i;
        seed2[i] = (uint8_t)i;
    }
    seed2[31] ^= 1;
    cn_rng_t a, b;
    uint8_t x[1000], y[1000], blk[64];
    /* the insecure mode needs its acknowledgement */
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(&a, seed, 0), CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(&a, seed, CN_RNG_INSECURE_ACK - 1),
                     CN_ERR_INVALID_ARG);
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(&a, seed, CN_RNG_INSECURE_ACK), CN_OK);
    ck_assert_int_eq(cn_rng_is_insecure(&a), 1);
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(&b, seed, CN_RNG_INSECURE_ACK), CN_OK);
    cn_rng_bytes(&a, x, sizeof x);
    /* the same stream in pieces of odd sizes */
    for (size_t off = 0, step = 1; off < sizeof y; off += step, step = step * 3 % 97 + 1)
        cn_rng_bytes(&b, y + off, off + step > sizeof y ? sizeof y - off : step);
    ck_assert_mem_eq(x, y, sizeof x);
    /* a different seed gives a different stream */
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(&b, seed2, CN_RNG_INSECURE_ACK), CN_OK);
    cn_rng_bytes(&b, y, sizeof y);
    ck_assert(memcmp(x, y, sizeof x) != 0);
    /* public seeds: the ChaCha20 stream with the domain in words 14-15 */
    cn_rng_init_public_seed(&a, seed, 5);
    ck_assert_int_eq(cn_rng_is_insecure(&a), 0);
    cn_rng_bytes(&a, x, 128);
    uint32_t key[8];
    key_0_to_31(key);
    ref_block(blk, key, 0, 0, 5, 0);
    ck_assert_mem_eq(x, blk, 64);
    ref_block(blk, key, 1, 0, 5, 0);
    ck_assert_mem_eq(x + 64, blk, 64);
    /* twenty blocks through the eight-block refill, across the 2^32 counter boundary */
    {
        uint8_t big[1280], ref[1280];
        cn_rng_init_public_seed(&a, seed, 5);
        cn_rng_state(&a)->counter = 0xfffffffdULL;
        cn_rng_bytes(&a, big, 7);
        cn_rng_bytes(&a, big + 7, sizeof big - 7);
        for (uint64_t c = 0; c < 20; c++) {
            uint64_t k = 0xfffffffdULL + c;
            ref_block(ref + 64 * c, key, (uint32_t)k, (uint32_t)(k >> 32), 5, 0);
        }
        ck_assert_mem_eq(big, ref, sizeof big);
    }
    cn_rng_init_public_seed(&b, seed, 6);
    cn_rng_bytes(&b, y, 128);
    ck_assert(memcmp(x, y, 128) != 0);
    /* the OS generator: two generators differ, and clear wipes the key */
    ck_assert_int_eq(cn_rng_init(&a), CN_OK);
    ck_assert_int_eq(cn_rng_init(&b), CN_OK);
    ck_assert_int_eq(cn_rng_is_insecure(&a), 0);
    cn_rng_bytes(&a, x, 64);
    cn_rng_bytes(&b, y, 64);
    ck_assert(memcmp(x, y, 64) != 0);
    cn_rng_clear(&a);
    uint32_t zero[8] = {0};
    ck_assert_mem_eq(cn_rng_state(&a)->key, zero, sizeof zero);
    cn_rng_clear(&b);
}
END_TEST

static void det_rng(cn_rng_t *r, uint64_t stream)
{
    uint8_t seed[CN_SEED_BYTES] = {0};
    uint64_t s = cn_test_seed() ^ stream;
    memcpy(seed, &s, sizeof s);
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(r, seed, CN_RNG_INSECURE_ACK), CN_OK);
}

/* fork: children are deterministic for a deterministic parent, differ from the parent's
 * stream and from each other, and inherit the insecure mark */
START_TEST(test_fork)
{
    uint8_t seed[CN_SEED_BYTES] = {42};
    cn_rng_t a, b, ca, cb, cc;
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(&a, seed, CN_RNG_INSECURE_ACK), CN_OK);
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(&b, seed, CN_RNG_INSECURE_ACK), CN_OK);
    cn_rng_fork(&ca, &a);
    cn_rng_fork(&cb, &b);
    cn_rng_fork(&cc, &a);
    ck_assert(cn_rng_is_insecure(&ca));
    uint8_t x[64], y[64], z[64], w[64];
    cn_rng_bytes(&ca, x, 64);
    cn_rng_bytes(&cb, y, 64);
    cn_rng_bytes(&cc, z, 64);
    cn_rng_bytes(&a, w, 64);
    ck_assert(memcmp(x, y, 64) == 0);
    ck_assert(memcmp(x, z, 64) != 0);
    ck_assert(memcmp(x, w, 64) != 0);
    cn_rng_t os, co;
    ck_assert_int_eq(cn_rng_init(&os), CN_OK);
    cn_rng_fork(&co, &os);
    ck_assert(!cn_rng_is_insecure(&co));
    cn_rng_clear(&a);
    cn_rng_clear(&b);
    cn_rng_clear(&ca);
    cn_rng_clear(&cb);
    cn_rng_clear(&cc);
    cn_rng_clear(&os);
    cn_rng_clear(&co);
}
END_TEST

START_TEST(test_ternary)
{
    /* the division trick is exact for every byte value */
    for (uint32_t b = 0; b < 256; b++)
        ck_assert_uint_eq((b * 171u) >> 9, b / 3);
    cn_rng_t r;
    det_rng(&r, 1);
    const size_t n = 300000;
    int64_t *v = malloc(n * sizeof *v);
    cn_sample_ternary(v, n, &r);
    size_t count[3] = {0};
    for (size_t i = 0; i < n; i++) {
        ck_assert(v[i] >= -1 && v[i] <= 1);
        count[v[i] + 1]++;
    }
    /* each value 1/3: 6 standard deviations (sqrt(n * 2/9) = 258) */
    for (int k = 0; k < 3; k++)
        ck_assert_msg(labs((long)count[k] - (long)(n / 3)) < 1550, "ternary count %d: %zu", k,
                      count[k]);
    free(v);
    cn_rng_clear(&r);
}
END_TEST

static double binom42(int k) /* P(Bin(42, 1/2) = k) */
{
    return exp(lgamma(43.0) - lgamma(k + 1.0) - lgamma(43.0 - k) - 42 * log(2.0));
}

START_TEST(test_cbd)
{
    cn_rng_t r;
    det_rng(&r, 2);
    const size_t n = 400000;
    int64_t *v = malloc(n * sizeof *v);
    cn_sample_cbd(v, n, &r);
    double sum = 0, sq = 0;
    size_t count[43] = {0};
    for (size_t i = 0; i < n; i++) {
        ck_assert(v[i] >= -CN_CBD_ETA && v[i] <= CN_CBD_ETA);
        sum += (double)v[i];
        sq += (double)v[i] * (double)v[i];
        count[v[i] + CN_CBD_ETA]++;
    }
    double mean = sum / (double)n, var = sq / (double)n - mean * mean;
    /* mean 0 within 6 sd (3.24 / sqrt(n)); variance 21/2 within 6 sd (~0.023) */
    ck_assert_msg(fabs(mean) < 6 * 3.24 / sqrt((double)n), "cbd mean %f", mean);
    ck_assert_msg(fabs(var - 10.5) < 0.15, "cbd variance %f", var);
    /* the shape: e + 21 ~ Bin(42, 1/2), each well-populated value within 6 sd */
    for (int k = 0; k <= 42; k++) {
        double e = binom42(k) * (double)n;
        if (e < 100)
            continue;
        ck_assert_msg(fabs((double)count[k] - e) < 6 * sqrt(e), "cbd value %d: %zu vs %.0f",
                      k - CN_CBD_ETA, count[k], e);
    }
    free(v);
    cn_rng_clear(&r);
}
END_TEST

START_TEST(test_uniform)
{
    const uint64_t qs[] = {2,
                           3,
                           12289,
                           ((uint64_t)1 << 40) + 1,
                           ((uint64_t)1 << 60) - 93,
                           ((uint64_t)1 << 62) + 7};
    cn_rng_t r;
    det_rng(&r, 3);
    const size_t n = 160000;
    uint64_t *v = malloc(n * sizeof *v);
    for (size_t qi = 0; qi < sizeof qs / sizeof *qs; qi++) {
        uint64_t q = qs[qi];
        cn_sample_uniform(v, n, q, &r);
        size_t bucket[16] = {0};
        unsigned nb = q < 16 ? (unsigned)q : 16;
        for (size_t i = 0; i < n; i++) {
            ck_assert_uint_lt(v[i], q);
            bucket[(unsigned)(((__uint128_t)v[i] * nb) / q)]++;
        }
        /* buckets of (nearly) equal width: counts within 6 sd of n / nb */
        for (unsigned b = 0; b < nb; b++) {
            double e = (double)n / nb;
            ck_assert_msg(fabs((double)bucket[b] - e) < 6 * sqrt(e) + 2,
                          "q=%llu bucket %u: %zu", (unsigned long long)q, b, bucket[b]);
        }
    }
    free(v);
    cn_rng_clear(&r);
}
END_TEST

CN_SUITE(rand)
{
    Suite *s = suite_create("rand");
    TCase *tc = cn_tcase("core", 120);
    tcase_add_test(tc, test_chacha20_block_vectors);
    tcase_add_test(tc, test_chacha20_encryption_vector);
    tcase_add_test(tc, test_streams);
    tcase_add_test(tc, test_fork);
    tcase_add_test(tc, test_ternary);
    tcase_add_test(tc, test_cbd);
    tcase_add_test(tc, test_uniform);
    suite_add_tcase(s, tc);
    return s;
}
