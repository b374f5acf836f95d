/* Shared test helpers: the fixed seed, a seeded generator, and suite declaration. */
#ifndef CN_TEST_UTIL_H
#define CN_TEST_UTIL_H

#include <check.h>
#include <stdint.h>

/* Marks a suite constructor `Suite *name_suite(void)` for the generated list. Write it
 * alone on a line at file scope: CN_SUITE(ntt) */
#define CN_SUITE(name) Suite *name##_suite(void)

/* The run's seed: CN_TEST_SEED from the environment, or a fixed default. */
uint64_t cn_test_seed(void);

/* A small deterministic generator (splitmix64) for test inputs only, never secrets. */
typedef struct { uint64_t s; } cn_test_rng_t;
void cn_test_rng_init(cn_test_rng_t *r, uint64_t stream);
uint64_t cn_test_rng_next(cn_test_rng_t *r);
/* Uniform in [0, bound), bound > 0. */
uint64_t cn_test_rng_below(cn_test_rng_t *r, uint64_t bound);

/* A test case with a generous time limit (seconds, scaled by CK_TIMEOUT_MULTIPLIER). */
TCase *cn_tcase(const char *name, double seconds);

#endif
