/* Shared test helpers. */
#include <stdlib.h>

#include "util.h"

uint64_t cn_test_seed(void)
{
    const char *s = getenv("CN_TEST_SEED");
    return s ? strtoull(s, NULL, 0) : 0x5eed2026ULL;
}

void cn_test_rng_init(cn_test_rng_t *r, uint64_t stream)
{
    r->s = cn_test_seed() ^ (stream * 0x9e3779b97f4a7c15ULL);
}

uint64_t cn_test_rng_next(cn_test_rng_t *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t cn_test_rng_below(cn_test_rng_t *r, uint64_t bound)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound, x;
    do
        x = cn_test_rng_next(r);
    while (x >= limit);
    return x % bound;
}

TCase *cn_tcase(const char *name, double seconds)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, seconds);
    return tc;
}
