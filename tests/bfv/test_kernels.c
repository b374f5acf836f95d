/* The BFV kernels (lib/bfv/kernels*.c) against 128-bit arithmetic, each SIMD kernel
 * against its portable twin on the same inputs, and the kernel choice of the dispatch
 * files (lib/{ntt,rns,bfv}/dispatch.c), including the CN_SIMD=portable override. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bfv/bfv_internal.h"
#include "common/util.h"
#include "internal/cpu.h"

typedef unsigned __int128 u128;

/* prime sizes: the 52-bit kernels' range and beyond it, up to the 61-bit maximum */
static const unsigned kbits[] = {20, 36, 44, 49, 50, 55, 60, 61};
#define NBITS (sizeof kbits / sizeof *kbits)

/* a value in [0, bound) for index i: random, or one of the ends of the range */
static uint64_t sample(cn_test_rng_t *r, size_t i, uint64_t bound)
{
    switch (i % 13) {
    case 0:
        return bound - 1;
    case 5:
        return 0;
    case 9:
        return bound - 2;
    default:
        return cn_test_rng_below(r, bound);
    }
}

START_TEST(test_tensor_row_twins)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1100);
    const size_t n = 264;
    uint64_t *v = malloc(10 * n * sizeof *v);
    uint64_t *a0 = v, *a1 = v + n, *b0 = v + 2 * n, *b1 = v + 3 * n;
    uint64_t *d0 = v + 4 * n, *d1 = v + 5 * n, *d2 = v + 6 * n;
    uint64_t *e0 = v + 7 * n, *e1 = v + 8 * n, *e2 = v + 9 * n;
    for (size_t b = 0; b < NBITS; b++) {
        uint64_t p;
        ck_assert_int_eq(cn_primes_ntt(&p, 1, kbits[b], 8, NULL, 0, 1), CN_OK);
        /* inputs in [0, 4p): a lazy forward NTT's outputs */
        for (size_t i = 0; i < 4 * n; i++)
            v[i] = sample(&r, i, 4 * p);
        for (int sq = 0; sq < 2; sq++) {
            const uint64_t *c0 = sq ? a0 : b0, *c1 = sq ? a1 : b1;
            cn_tensor_row_portable(d0, d1, d2, a0, a1, c0, c1, n, p, sq);
            for (size_t i = 0; i < n; i++) {
                ck_assert_uint_eq(d0[i], (uint64_t)((u128)a0[i] * c0[i] % p));
                ck_assert_uint_eq(
                    d1[i], (uint64_t)(((u128)a0[i] * c1[i] % p + (u128)a1[i] * c0[i] % p) % p));
                ck_assert_uint_eq(d2[i], (uint64_t)((u128)a1[i] * c1[i] % p));
            }
#ifdef CN_BUILD_AVX512IFMA
            if (cn_bfv_ifma_available() && p < ((uint64_t)1 << 50)) {
                cn_tensor_row_ifma(e0, e1, e2, a0, a1, c0, c1, n, p, sq);
                ck_assert(memcmp(d0, e0, n * sizeof *d0) == 0);
                ck_assert(memcmp(d1, e1, n * sizeof *d1) == 0);
                ck_assert(memcmp(d2, e2, n * sizeof *d2) == 0);
            }
#endif
            /* the dispatched kernel gives the same, whatever it picked */
            cn_bfv_tensor_row_kernel(p, n)(e0, e1, e2, a0, a1, c0, c1, n, p, sq);
            ck_assert(memcmp(d0, e0, n * sizeof *d0) == 0);
            ck_assert(memcmp(d1, e1, n * sizeof *d1) == 0);
            ck_assert(memcmp(d2, e2, n * sizeof *d2) == 0);
        }
    }
    free(v);
}
END_TEST

/* y += sum over nd digits of x k, for digit counts around the portable kernel's
 * reduction every 8 digits, x anywhere in [0, 4p) */
START_TEST(test_mul_acc2_twins)
{
    static const size_t nds[] = {1, 2, 7, 8, 9, 16, 17};
    enum { N = 136, MAXD = 17 };
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1101);
    uint64_t *x = malloc(3 * MAXD * N * sizeof *x), *k0 = x + MAXD * N, *k1 = k0 + MAXD * N;
    uint64_t y0[N], y1[N], z0[N], z1[N], e0[N], e1[N];
    const uint64_t *xs[MAXD], *k0s[MAXD], *k1s[MAXD];
    for (size_t d = 0; d < MAXD; d++) {
        xs[d] = x + d * N;
        k0s[d] = k0 + d * N;
        k1s[d] = k1 + d * N;
    }
    for (size_t b = 0; b < NBITS; b++) {
        uint64_t p;
        ck_assert_int_eq(cn_primes_ntt(&p, 1, kbits[b], 8, NULL, 0, 1), CN_OK);
        for (size_t t = 0; t < sizeof nds / sizeof *nds; t++) {
            const size_t nd = nds[t];
            for (size_t i = 0; i < MAXD * N; i++) {
                x[i] = sample(&r, i + t, 4 * p);
                k0[i] = sample(&r, i + 3, p);
                k1[i] = sample(&r, i + 7, p);
            }
            for (size_t i = 0; i < N; i++) {
                e0[i] = y0[i] = z0[i] = sample(&r, i, p);
                e1[i] = y1[i] = z1[i] = sample(&r, i + 1, p);
            }
            for (size_t d = 0; d < nd; d++)
                for (size_t i = 0; i < N; i++) {
                    e0[i] = (uint64_t)((e0[i] + (u128)xs[d][i] * k0s[d][i]) % p);
                    e1[i] = (uint64_t)((e1[i] + (u128)xs[d][i] * k1s[d][i]) % p);
                }
            cn_mul_acc2_portable(y0, y1, xs, k0s, k1s, nd, N, p);
            for (size_t i = 0; i < N; i++) {
                ck_assert_uint_eq(y0[i], e0[i]);
                ck_assert_uint_eq(y1[i], e1[i]);
            }
            cn_bfv_mul_acc2_kernel(p, N)(z0, z1, xs, k0s, k1s, nd, N, p);
            ck_assert(memcmp(y0, z0, sizeof y0) == 0 && memcmp(y1, z1, sizeof y1) == 0);
#ifdef CN_BUILD_AVX512IFMA
            if (cn_bfv_ifma_available() && p < ((uint64_t)1 << 50)) {
                /* one more round from the checked sums, both twins */
                memcpy(z0, y0, sizeof y0);
                memcpy(z1, y1, sizeof y1);
                cn_mul_acc2_ifma(z0, z1, xs, k0s, k1s, nd, N, p);
                cn_mul_acc2_portable(y0, y1, xs, k0s, k1s, nd, N, p);
                ck_assert(memcmp(y0, z0, sizeof y0) == 0 && memcmp(y1, z1, sizeof y1) == 0);
            }
#endif
        }
    }
    free(x);
}
END_TEST

/* The multiply-accumulate with x of one word per block of 2^shift coefficients (the
 * diagonals of lib/bfv/hoist.c's products), against 128-bit sums: every shift from 0 to
 * 5, rows of 136 words (17 vectors) and 256, digit counts past the IFMA kernel's group of
 * 3 products at 50 bits, x anywhere in [0, 4p). */
/* e += sum_d xs[d][i >> sh] k{0,1}s[d][i] mod p with 128-bit products (the oracle), then
 * both twins (portable and dispatched) from the accumulators y and z with acc, each equal
 * to it */
static void check_rep_twins(uint64_t *y0, uint64_t *y1, uint64_t *z0, uint64_t *z1,
                            uint64_t *e0, uint64_t *e1, const uint64_t *const *xs, unsigned sh,
                            const uint64_t *const *k0s, const uint64_t *const *k1s, size_t nd,
                            size_t N, uint64_t p, int acc)
{
    for (size_t d = 0; d < nd; d++)
        for (size_t i = 0; i < N; i++) {
            const uint64_t v = xs[d][i >> sh];
            e0[i] = (uint64_t)((e0[i] + (u128)v * k0s[d][i]) % p);
            e1[i] = (uint64_t)((e1[i] + (u128)v * k1s[d][i]) % p);
        }
    cn_mul_acc2_rep_portable(y0, y1, xs, sh, k0s, k1s, nd, N, p, acc);
    cn_bfv_mul_acc2_rep_kernel(p, N)(z0, z1, xs, sh, k0s, k1s, nd, N, p, acc);
    for (size_t i = 0; i < N; i++) {
        ck_assert_uint_eq(y0[i], e0[i]);
        ck_assert_uint_eq(y1[i], e1[i]);
        ck_assert_uint_eq(z0[i], e0[i]);
        ck_assert_uint_eq(z1[i], e1[i]);
    }
}

START_TEST(test_mul_acc2_rep_twins)
{
    static const size_t nds[] = {1, 3, 4, 9, 40};
    static const size_t ns[] = {136, 256};
    enum { MAXN = 256, MAXD = 40 };
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1102);
    uint64_t *x = malloc(3 * MAXD * MAXN * sizeof *x), *k0 = x + MAXD * MAXN,
             *k1 = k0 + MAXD * MAXN;
    uint64_t y0[MAXN], y1[MAXN], z0[MAXN], z1[MAXN], e0[MAXN], e1[MAXN];
    const uint64_t *xs[MAXD], *k0s[MAXD], *k1s[MAXD];
    for (size_t b = 0; b < NBITS; b++) {
        uint64_t p;
        ck_assert_int_eq(cn_primes_ntt(&p, 1, kbits[b], 8, NULL, 0, 1), CN_OK);
        for (size_t t = 0; t < sizeof nds / sizeof *nds; t++)
            for (size_t u = 0; u < sizeof ns / sizeof *ns; u++)
                for (unsigned sh = 0; sh <= 5 && (ns[u] >> sh) << sh == ns[u]; sh++) {
                    const size_t nd = nds[t], N = ns[u], xn = N >> sh;
                    for (size_t d = 0; d < nd; d++) {
                        xs[d] = x + d * xn;
                        k0s[d] = k0 + d * N;
                        k1s[d] = k1 + d * N;
                    }
                    for (size_t i = 0; i < MAXD * MAXN; i++) {
                        x[i] = sample(&r, i + t, 4 * p);
                        k0[i] = sample(&r, i + 3, p);
                        k1[i] = sample(&r, i + 7, p);
                    }
                    for (size_t i = 0; i < N; i++) {
                        e0[i] = y0[i] = z0[i] = sample(&r, i, p);
                        e1[i] = y1[i] = z1[i] = sample(&r, i + 1, p);
                    }
                    check_rep_twins(y0, y1, z0, z1, e0, e1, xs, sh, k0s, k1s, nd, N, p, 1);
#ifdef CN_BUILD_AVX512IFMA
                    if (cn_bfv_ifma_available() && p < ((uint64_t)1 << 50)) {
                        cn_mul_acc2_rep_ifma(z0, z1, xs, sh, k0s, k1s, nd, N, p, 1);
                        cn_mul_acc2_rep_portable(y0, y1, xs, sh, k0s, k1s, nd, N, p, 1);
                        ck_assert(memcmp(y0, z0, N * sizeof *y0) == 0);
                        ck_assert(memcmp(y1, z1, N * sizeof *y1) == 0);
                    }
#endif
                    /* acc = 0: the sum alone, whatever y held (both twins) */
                    for (size_t i = 0; i < N; i++) {
                        e0[i] = e1[i] = 0;
                        y0[i] = z0[i] = ~(uint64_t)0;
                        y1[i] = z1[i] = (uint64_t)1 << 63;
                    }
                    check_rep_twins(y0, y1, z0, z1, e0, e1, xs, sh, k0s, k1s, nd, N, p, 0);
                }
    }
    free(x);
}
END_TEST

/* The NTT-form automorphism's permutation: y[c] = x[perm[c]] for the permutations of
 * X -> X^g in bit-reversed order (computed here from their definition), both twins. */
START_TEST(test_perm_rows_twins)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1103);
    static const size_t ns[] = {8, 64, 1024};
    for (size_t u = 0; u < sizeof ns / sizeof *ns; u++) {
        const size_t n = ns[u];
        unsigned logn = 0;
        while (((size_t)1 << logn) < n)
            logn++;
        uint32_t *perm = malloc(n * sizeof *perm);
        uint64_t *x = malloc(3 * n * sizeof *x), *y = x + n, *z = y + n;
        const uint64_t gs[] = {3, 5, 25, 2 * n - 1, (5 * 5 * 5 * 5 * 5) % (2 * n)};
        for (size_t t = 0; t < sizeof gs / sizeof *gs; t++) {
            for (size_t j = 0; j < n; j++) {
                size_t bj = 0, f;
                for (unsigned b = 0; b < logn; b++)
                    bj |= ((j >> b) & 1) << (logn - 1 - b);
                f = (size_t)(((2 * bj + 1) * gs[t]) % (2 * n)) >> 1;
                size_t bf = 0;
                for (unsigned b = 0; b < logn; b++)
                    bf |= ((f >> b) & 1) << (logn - 1 - b);
                perm[j] = (uint32_t)bf;
            }
            for (size_t i = 0; i < n; i++)
                x[i] = cn_test_rng_below(&r, (uint64_t)1 << 60);
            cn_perm_rows_portable(y, x, perm, n);
            for (size_t i = 0; i < n; i++)
                ck_assert_uint_eq(y[i], x[perm[i]]);
            cn_bfv_perm_rows_kernel(n)(z, x, perm, n);
            ck_assert(memcmp(y, z, n * sizeof *y) == 0);
#ifdef CN_BUILD_AVX512IFMA
            if (cn_bfv_ifma_available()) {
                cn_perm_rows_ifma(z, x, perm, n);
                ck_assert(memcmp(y, z, n * sizeof *y) == 0);
            }
#endif
        }
        free(perm);
        free(x);
    }
}
END_TEST

/* What the dispatch files picked, from the features cn_cpu_features reports (all zero
 * under CN_SIMD=portable, as the child process of test_portable_env checks). */
START_TEST(test_picks)
{
    const unsigned f = cn_cpu_features();
    const char *env = getenv("CN_SIMD");
    if (env && strcmp(env, "portable") == 0)
        ck_assert_uint_eq(f, 0);
    const int ifma = (f & CN_CPU_AVX512IFMA) != 0, avx = (f & CN_CPU_AVX512F) != 0;
    const char *best = ifma ? "avx512ifma" : avx ? "avx512" : "portable";
    ck_assert_str_eq(cn_ntt_kernel_name(), best);
    uint64_t p44, p60;
    ck_assert_int_eq(cn_primes_ntt(&p44, 1, 44, 64, NULL, 0, 1), CN_OK);
    ck_assert_int_eq(cn_primes_ntt(&p60, 1, 60, 64, NULL, 0, 1), CN_OK);
    cn_ntt_table_t t44, t60, t8;
    ck_assert_int_eq(cn_ntt_table_init(&t44, 64, p44), CN_OK);
    ck_assert_int_eq(cn_ntt_table_init(&t60, 64, p60), CN_OK);
    ck_assert_int_eq(cn_ntt_table_init(&t8, 8, p44), CN_OK);
    ck_assert_str_eq(cn_ntt_table_kernel_name(&t44), best);
    ck_assert_str_eq(cn_ntt_table_kernel_name(&t60), avx ? "avx512" : "portable");
    ck_assert_str_eq(cn_ntt_table_kernel_name(&t8), "portable");
    cn_ntt_table_clear(&t44);
    cn_ntt_table_clear(&t60);
    cn_ntt_table_clear(&t8);
    ck_assert_int_eq(cn_bfv_ifma_available(), ifma);
    ck_assert_int_eq(cn_rns_kernels52(), ifma);
    cn_tensor_row_fn tr52 = cn_tensor_row_portable;
    cn_mul_acc2_fn ma52 = cn_mul_acc2_portable;
    cn_mul_acc2_rep_fn mr52 = cn_mul_acc2_rep_portable;
#ifdef CN_BUILD_AVX512IFMA
    if (ifma) {
        tr52 = cn_tensor_row_ifma;
        ma52 = cn_mul_acc2_ifma;
        mr52 = cn_mul_acc2_rep_ifma;
    }
#endif
    ck_assert(cn_bfv_tensor_row_kernel(p44, 64) == tr52);
    ck_assert(cn_bfv_mul_acc2_kernel(p44, 64) == ma52);
    ck_assert(cn_bfv_tensor_row_kernel(p44, 12) == cn_tensor_row_portable);
    ck_assert(cn_bfv_tensor_row_kernel(p60, 64) == cn_tensor_row_portable);
    ck_assert(cn_bfv_mul_acc2_kernel(p60, 64) == cn_mul_acc2_portable);
    ck_assert(cn_bfv_mul_acc2_rep_kernel(p44, 64) == mr52);
    ck_assert(cn_bfv_mul_acc2_rep_kernel(p60, 64) == cn_mul_acc2_rep_portable);
    /* exact conversion tables carry the 52-bit constants only for the 52-bit kernels */
    uint64_t a[2], b[2];
    ck_assert_int_eq(cn_primes_ntt(a, 2, 44, 64, NULL, 0, 1), CN_OK);
    ck_assert_int_eq(cn_primes_ntt(b, 2, 48, 64, a, 2, 1), CN_OK);
    cn_exact_conv_t cv;
    ck_assert_int_eq(cn_exact_conv_init(&cv, a, 2, b, 2), CN_OK);
    ck_assert_int_eq(cv.ifma, ifma);
    cn_exact_conv_clear(&cv);
}
END_TEST

/* The override: this test binary again, with CN_SIMD=portable set before anything reads
 * the CPU's features, running only test_picks. */
START_TEST(test_portable_env)
{
    const char *env = getenv("CN_SIMD");
    if (env && strcmp(env, "portable") == 0)
        return; /* already the portable run (CI runs the whole suite so) */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setenv("CN_SIMD", "portable", 1);
        setenv("CK_RUN_SUITE", "dispatch", 1);
        setenv("CK_RUN_CASE", "picks", 1);
        setenv("CK_FORK", "no", 1);
        if (!freopen("/dev/null", "w", stdout))
            _exit(3);
        execl("/proc/self/exe", "run_tests", (char *)NULL);
        _exit(2);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

CN_SUITE(kernels)
{
    Suite *s = suite_create("kernels");
    TCase *tc = cn_tcase("core", 120);
    tcase_add_test(tc, test_tensor_row_twins);
    tcase_add_test(tc, test_mul_acc2_twins);
    tcase_add_test(tc, test_mul_acc2_rep_twins);
    tcase_add_test(tc, test_perm_rows_twins);
    suite_add_tcase(s, tc);
    return s;
}

CN_SUITE(dispatch)
{
    Suite *s = suite_create("dispatch");
    TCase *picks = cn_tcase("picks", 60), *env = cn_tcase("env", 60);
    tcase_add_test(picks, test_picks);
    tcase_add_test(env, test_portable_env);
    suite_add_tcase(s, picks);
    suite_add_tcase(s, env);
    return s;
}
