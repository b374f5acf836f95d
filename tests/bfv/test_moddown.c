/* The ModDown row kernels (lib/bfv/kernels.h, cn_divround_row_*): each against 128-bit
 * arithmetic (the oracle: (x - c) times the inverse of P modulo p, c the centered residue,
 * computed by the test's own extended Euclid), the IFMA twin against the portable one on
 * the same inputs, at the ends of the ranges (last = 0, P / 2, P / 2 + 1, P - 1). */
#include <stdlib.h>
#include <string.h>

#include "bfv/bfv_internal.h"
#include "bfv/kernels.h"
#include "common/util.h"

typedef __int128 i128;

/* a^-1 mod m by the extended Euclidean algorithm (gcd 1) */
static uint64_t inv_mod(uint64_t a, uint64_t m)
{
    i128 r0 = m, r1 = a % m, s0 = 0, s1 = 1;
    while (r1) {
        const i128 q = r0 / r1, r2 = r0 - q * r1, s2 = s0 - q * s1;
        r0 = r1;
        r1 = r2;
        s0 = s1;
        s1 = s2;
    }
    ck_assert(r0 == 1);
    return (uint64_t)(((s0 % (i128)m) + (i128)m) % (i128)m);
}

START_TEST(test_divround_rows)
{
    /* (p bits, P bits): the IFMA range (p < 2^50, P < 2^52) and beyond it */
    static const unsigned pb[][2] = {{30, 49}, {44, 45}, {48, 49}, {49, 50},
                                     {49, 51}, {50, 44}, {55, 56}, {60, 61}};
    enum { N = 136 };
    cn_test_rng_t r;
    cn_test_rng_init(&r, 2207);
    uint64_t x[N], last[N], want[N], got[N], tw[N];
    for (size_t b = 0; b < sizeof pb / sizeof *pb; b++) {
        uint64_t p, P;
        ck_assert_int_eq(cn_primes_ntt(&p, 1, pb[b][0], 8, NULL, 0, 1), CN_OK);
        ck_assert_int_eq(cn_primes_ntt(&P, 1, pb[b][1], 8, &p, 1, 1), CN_OK);
        const uint64_t inv = inv_mod(P % p, p);
        for (size_t i = 0; i < N; i++) {
            x[i] = i % 11 == 3 ? p - 1 : i % 11 == 4 ? 0 : cn_test_rng_below(&r, p);
            const uint64_t ends[4] = {0, P / 2, P / 2 + 1, P - 1};
            last[i] = i < 4 ? ends[i] : cn_test_rng_below(&r, P);
            const i128 c = last[i] > P / 2 ? (i128)last[i] - (i128)P : (i128)last[i];
            i128 d = ((i128)x[i] - c) % (i128)p;
            if (d < 0)
                d += p;
            want[i] = (uint64_t)((unsigned __int128)d * inv % p);
        }
        cn_divround_row_portable(got, x, last, N, p, P, inv);
        ck_assert_mem_eq(got, want, sizeof want);
        cn_bfv_divround_row_kernel(p, P, N)(got, x, last, N, p, P, inv);
        ck_assert_mem_eq(got, want, sizeof want);
        memcpy(tw, x, sizeof x); /* out aliasing x */
        cn_bfv_divround_row_kernel(p, P, N)(tw, tw, last, N, p, P, inv);
        ck_assert_mem_eq(tw, want, sizeof want);
#ifdef CN_BUILD_AVX512IFMA
        if (cn_bfv_ifma_available() && p < ((uint64_t)1 << 50) && P < ((uint64_t)1 << 52)) {
            cn_divround_row_ifma(got, x, last, N, p, P, inv);
            ck_assert_mem_eq(got, want, sizeof want);
        }
#endif
    }
}
END_TEST

CN_SUITE(moddown)
{
    Suite *s = suite_create("moddown");
    TCase *tc = cn_tcase("core", 60);
    tcase_add_test(tc, test_divround_rows);
    suite_add_tcase(s, tc);
    return s;
}
