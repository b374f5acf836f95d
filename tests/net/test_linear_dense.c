/* Tests of the dense linear kernels at the edges of the IFMA split kernel (net/runtime/
 * linear_avx512ifma.c, dense_split: dense layers whose weights are too wide for the
 * small-weight kernel at the prime, 2 wmax p >= 2^52): primes just below 2^50, 2^49 and
 * 2^48, weights at +-wmax up to the kernel's bound (2 wmax < 2^12) and just past it, every
 * input p - 1, more than 4096 inputs (several accumulator blocks), output counts that are
 * not a multiple of the four rows that share loads, output and coefficient sub-ranges as the
 * chunked server calls them. The oracle is the exact dot product in 128-bit integers,
 * reduced mod p here; the dispatched kernel, the IFMA kernel itself (on a CPU that has it)
 * and the portable one are each compared with it. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/cryptonets.h"
#include "../../net/net_internal.h"

/* A dense layer nout x nin with weights in [-wmax, wmax]; the first row has every weight
 * +wmax and the second every weight -wmax (the extremes), the others random with +-wmax
 * sprinkled in. */
static void dense_layer(cn_lin_t *l, size_t nin, size_t nout, uint64_t wmax, cn_test_rng_t *r)
{
    memset(l, 0, sizeof *l);
    l->nin = nin;
    l->nout = nout;
    l->row = malloc((nout + 1) * sizeof *l->row);
    l->col = malloc(nin * nout * sizeof *l->col);
    l->w = malloc(nin * nout * sizeof *l->w);
    l->bias = calloc(nout, sizeof *l->bias);
    ck_assert(l->row && l->col && l->w && l->bias);
    for (size_t j = 0; j < nout; j++) {
        l->row[j] = j * nin;
        for (size_t i = 0; i < nin; i++) {
            int64_t w;
            if (j == 0)
                w = (int64_t)wmax;
            else if (j == 1)
                w = -(int64_t)wmax;
            else if (cn_test_rng_below(r, 8) == 0)
                w = cn_test_rng_below(r, 2) ? (int64_t)wmax : -(int64_t)wmax;
            else
                w = (int64_t)cn_test_rng_below(r, 2 * wmax + 1) - (int64_t)wmax;
            l->col[j * nin + i] = (uint32_t)i;
            l->w[j * nin + i] = w;
        }
    }
    l->row[nout] = nin * nout;
    ck_assert_int_eq(cn_lin_partition(l), CN_OK);
    ck_assert_int_eq(l->dense, 1);
    ck_assert_uint_eq(l->wmax, wmax);
}

/* sum_i w_ji x_i[c] mod p, exactly: |w x| < 2^61 and nin < 2^20, so the sum fits 128 bits */
static uint64_t oracle(const cn_lin_t *l, const uint64_t *const *x, size_t j, size_t c,
                       uint64_t p)
{
    __int128 s = 0;
    for (size_t k = l->row[j]; k < l->row[j + 1]; k++)
        s += (__int128)l->w[k] * (__int128)x[l->col[k]][c];
    __int128 e = s % (__int128)p;
    if (e < 0)
        e += (__int128)p;
    return (uint64_t)e;
}

#define SENTINEL 0x5a5a5a5a5a5a5a5aULL

/* Runs kern on out rows [j0, j1) and coefficients [c0, c1) of rows len long and checks them
 * against the oracle, and that nothing outside those ranges was written. */
static void check_kernel(cn_lin_kernel_fn kern, const char *name, const cn_lin_t *l,
                         const uint64_t *const *x, size_t len, size_t j0, size_t j1, size_t c0,
                         size_t c1, cn_mod_t m)
{
    uint64_t **o = malloc(l->nout * sizeof *o);
    uint64_t *wm = malloc(l->row[l->nout] * sizeof *wm);
    ck_assert(o && wm);
    for (size_t k = 0; k < l->row[l->nout]; k++)
        wm[k] = cn_mod_from_int64(l->w[k], m);
    for (size_t j = 0; j < l->nout; j++) {
        o[j] = malloc(len * sizeof **o);
        ck_assert(o[j]);
        for (size_t c = 0; c < len; c++)
            o[j][c] = SENTINEL;
    }
    kern(o, x, l, wm, j0, j1, c0, c1, m);
    for (size_t j = 0; j < l->nout; j++)
        for (size_t c = 0; c < len; c++) {
            const int in = j >= j0 && j < j1 && c >= c0 && c < c1;
            const uint64_t want = in ? oracle(l, x, j, c, m.p) : SENTINEL;
            ck_assert_msg(o[j][c] == want,
                          "%s: p=%llu nin=%zu nout=%zu wmax=%llu j=%zu c=%zu: %llu, want %llu",
                          name, (unsigned long long)m.p, l->nin, l->nout,
                          (unsigned long long)l->wmax, j, c, (unsigned long long)o[j][c],
                          (unsigned long long)want);
        }
    for (size_t j = 0; j < l->nout; j++)
        free(o[j]);
    free(o);
    free(wm);
}

/* every kernel this build and CPU have, against the oracle */
static void check_all(const cn_lin_t *l, const uint64_t *const *x, size_t len, size_t j0,
                      size_t j1, size_t c0, size_t c1, cn_mod_t m)
{
    const char *name;
    const cn_lin_kernel_fn k = cn_lin_kernel(m.p, &name);
    check_kernel(k, name, l, x, len, j0, j1, c0, c1, m);
    check_kernel(cn_lin_apply_portable, "portable", l, x, len, j0, j1, c0, c1, m);
#if !defined(CN_NO_AVX512) && !defined(CN_NO_AVX512IFMA)
    if (cn_cpu_features() & CN_CPU_AVX512IFMA)
        check_kernel(cn_lin_apply_ifma, "avx512ifma", l, x, len, j0, j1, c0, c1, m);
#endif
}

/* the largest prime of `bits` bits (1 mod 2: any odd prime), so just below 2^bits */
static cn_mod_t prime_below(unsigned bits)
{
    uint64_t p;
    ck_assert_int_eq(cn_primes_ntt(&p, 1, bits, 1, NULL, 0, 1), CN_OK);
    cn_mod_t m;
    ck_assert_int_eq(cn_mod_init(&m, p), CN_OK);
    return m;
}

static uint64_t **inputs(size_t nin, size_t len, uint64_t p, int all_max, cn_test_rng_t *r)
{
    uint64_t **x = malloc(nin * sizeof *x);
    ck_assert(x);
    for (size_t i = 0; i < nin; i++) {
        x[i] = malloc(len * sizeof **x);
        ck_assert(x[i]);
        for (size_t c = 0; c < len; c++)
            x[i][c] = all_max || c % 16 == 0 ? p - 1 : cn_test_rng_below(r, p);
    }
    return x;
}

static void free_inputs(uint64_t **x, size_t nin)
{
    for (size_t i = 0; i < nin; i++)
        free(x[i]);
    free(x);
}

/* primes just below 2^50, 2^49, 2^48 and 2^47 with wmax from 1 to the split kernel's bound
 * 2047 and past it (2048): random inputs with p - 1 in every 16th coefficient, several output
 * counts; which kernel the IFMA dispatch takes is asserted where the case is meant for it */
START_TEST(test_dense_edges)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1701);
    const unsigned bits[] = {50, 49, 48, 47};
    const uint64_t wmaxs[] = {1, 7, 15, 31, 2047, 2048};
    const size_t nouts[] = {1, 5, 7, 100};
    const size_t len = 128;
    for (size_t bi = 0; bi < 4; bi++) {
        const cn_mod_t m = prime_below(bits[bi]);
        for (size_t wi = 0; wi < 6; wi++) {
            const size_t nout = nouts[(bi + wi) % 4], nin = 37 + 2 * wi + bi % 2;
            cn_lin_t l;
            dense_layer(&l, nin, nout, wmaxs[wi], &r);
            const int small = 2 * l.wmax < ((uint64_t)1 << 52) / m.p;
            if (wmaxs[wi] >= 15 && wmaxs[wi] <= 2047 && bits[bi] >= 48)
                ck_assert(!small && cn_lin_dense_split_ok(&l, m.p));
            if (wmaxs[wi] == 2048)
                ck_assert(!cn_lin_dense_split_ok(&l, m.p));
            uint64_t **x = inputs(nin, len, m.p, 0, &r);
            check_all(&l, (const uint64_t *const *)x, len, 0, nout, 0, len, m);
            free_inputs(x, nin);
            cn_lin_clear(&l);
        }
    }
}
END_TEST

/* the largest sums: every x = p - 1 and rows of all +wmax and all -wmax, over 4099 and 4700
 * inputs (more than one 4096-term block and many 256-input blocks, an odd count), p just
 * below 2^50 and 2^48 */
START_TEST(test_dense_long_rows)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1702);
    const unsigned bits[] = {50, 48};
    const size_t nins[] = {4099, 4700};
    const size_t len = 64;
    for (size_t bi = 0; bi < 2; bi++) {
        const cn_mod_t m = prime_below(bits[bi]);
        cn_lin_t l;
        dense_layer(&l, nins[bi], 6, 2047, &r);
        ck_assert(cn_lin_dense_split_ok(&l, m.p));
        uint64_t **x = inputs(l.nin, len, m.p, 1, &r);
        check_all(&l, (const uint64_t *const *)x, len, 0, l.nout, 0, len, m);
        free_inputs(x, l.nin);
        cn_lin_clear(&l);
        dense_layer(&l, nins[bi], 3, 15, &r);
        x = inputs(l.nin, len, m.p, 0, &r);
        check_all(&l, (const uint64_t *const *)x, len, 0, l.nout, 0, len, m);
        free_inputs(x, l.nin);
        cn_lin_clear(&l);
    }
}
END_TEST

/* as the chunked server calls the kernels: a dense layer restricted to a chunk of 169
 * columns (the MNIST plan's 845 -> 100 in 5 chunks, wmax 15 at 49-bit primes), run on
 * sub-ranges of outputs and coefficients of longer rows; nothing outside is written */
START_TEST(test_dense_ranges)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1703);
    const cn_mod_t m = prime_below(49);
    cn_lin_t l;
    dense_layer(&l, 169, 100, 15, &r);
    ck_assert(cn_lin_dense_split_ok(&l, m.p));
    const size_t len = 320;
    uint64_t **x = inputs(l.nin, len, m.p, 0, &r);
    check_all(&l, (const uint64_t *const *)x, len, 0, 100, 0, 64, m);
    check_all(&l, (const uint64_t *const *)x, len, 3, 98, 64, 256, m);
    check_all(&l, (const uint64_t *const *)x, len, 97, 100, 256, 320, m);
    free_inputs(x, l.nin);
    cn_lin_clear(&l);
}
END_TEST

CN_SUITE(linear_dense)
{
    Suite *s = suite_create("linear_dense");
    TCase *tc = cn_tcase("core", 300);
    tcase_add_test(tc, test_dense_edges);
    tcase_add_test(tc, test_dense_long_rows);
    tcase_add_test(tc, test_dense_ranges);
    suite_add_tcase(s, tc);
    return s;
}
