/* The one place that picks net/'s linear kernel (docs/net.md, "Linear kernel"): the
 * portable kernel (linear_portable.c) and its AVX-512 and AVX-512 IFMA twins, same
 * signature, chosen once per process. */
#include <pthread.h>

#include "../net_internal.h"

/* The kernel choice, made once from the public feature query (as the dispatch.c files
 * of lib/ do; cn_cpu_features already leaves out what the build does not hold): the best
 * kernel for any prime, and the one for primes in [2^20, 2^50) (the IFMA kernel's
 * range). */
typedef struct {
    cn_lin_kernel_fn fn;
    const char *name;
} lin_impl_t;

static const lin_impl_t portable = {cn_lin_apply_portable, "portable"};
#ifndef CN_NO_AVX512
static const lin_impl_t avx512 = {cn_lin_apply_avx512, "avx512"};
#ifndef CN_NO_AVX512IFMA
static const lin_impl_t ifma = {cn_lin_apply_ifma, "avx512ifma"};
#endif
#endif

static const lin_impl_t *best = &portable, *best_mid = &portable;
static pthread_once_t picked = PTHREAD_ONCE_INIT;

static void pick(void)
{
#ifndef CN_NO_AVX512
    const unsigned f = cn_cpu_features();
    if (f & CN_CPU_AVX512F)
        best = best_mid = &avx512;
#ifndef CN_NO_AVX512IFMA
    if (f & CN_CPU_AVX512IFMA)
        best_mid = &ifma;
#endif
#endif
}

cn_lin_kernel_fn cn_lin_kernel(uint64_t p, const char **name)
{
    pthread_once(&picked, pick);
    const lin_impl_t *k = p < ((uint64_t)1 << 50) && p >= ((uint64_t)1 << 20) ? best_mid : best;
    if (name)
        *name = k->name;
    return k->fn;
}
