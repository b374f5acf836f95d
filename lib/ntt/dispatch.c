/* The one place lib/ntt picks its kernels (as BLAKE3's blake3_dispatch.c): once, from the
 * CPU's features (lib/common/cpu.c, which honours CN_SIMD=portable and the build's
 * CN_NO_AVX512 / CN_NO_AVX512IFMA), one implementation for primes with 52-bit Shoup
 * constants (p < 2^50) and one for any prime. A table then takes, for n >= 16, the one
 * that fits its prime; shorter transforms run portable C. Every kernel gives results
 * congruent modulo p (identical after full reduction). */
#include "../internal/cpu.h"
#include "ntt_internal.h"

typedef struct {
    cn_ntt_kernel_fn fwd, inv; /* lazy forward and inverse, the contracts of ntt.h */
    const char *name;
    cn_ntt_reduce_fn reduce; /* the full reduction after them */
    cn_ntt_kernel_from_fn fwd_from;
} ntt_impl_t;

static const ntt_impl_t impls[CN_ISA_COUNT] = {
    [CN_ISA_PORTABLE] = {cn_ntt_forward_lazy_portable, cn_ntt_inverse_lazy_portable, "portable",
                         cn_ntt_reduce_portable, cn_ntt_forward_lazy_from_portable},
#ifdef CN_BUILD_AVX512
    [CN_ISA_AVX512] = {cn_ntt_forward_lazy_avx512, cn_ntt_inverse_lazy_avx512, "avx512",
                       cn_ntt_reduce_avx512, cn_ntt_forward_lazy_from_avx512},
#endif
#ifdef CN_BUILD_AVX512IFMA
    [CN_ISA_AVX512IFMA] = {cn_ntt_forward_lazy_ifma, cn_ntt_inverse_lazy_ifma, "avx512ifma",
                           cn_ntt_reduce_avx512, cn_ntt_forward_lazy_from_ifma},
#endif
};
#define FAMILIES ((1u << CN_ISA_AVX512) | (1u << CN_ISA_AVX512IFMA))

/* best: any prime below 2^61; best52: primes below 2^50 (tables with ws52) */
static const ntt_impl_t *best = &impls[CN_ISA_PORTABLE], *best52 = &impls[CN_ISA_PORTABLE];

static void pick(void)
{
    best = &impls[cn_cpu_pick(FAMILIES, 0)];
    best52 = &impls[cn_cpu_pick(FAMILIES, 1)];
}

static inline const ntt_impl_t *impl_of(const cn_ntt_table_t *t)
{
    CN_ONCE(pick);
    if (t->n < 16)
        return &impls[CN_ISA_PORTABLE];
    return t->ws52 ? best52 : best;
}

void cn_ntt_forward_lazy(uint64_t *a, const cn_ntt_table_t *t)
{
    impl_of(t)->fwd(a, t);
}

void cn_ntt_forward_lazy_from(uint64_t *dst, const uint64_t *src, const cn_ntt_table_t *t)
{
    impl_of(t)->fwd_from(dst, src, t);
}

void cn_ntt_inverse_lazy(uint64_t *a, const cn_ntt_table_t *t)
{
    impl_of(t)->inv(a, t);
}

void cn_ntt_reduce(uint64_t *a, const cn_ntt_table_t *t, int four)
{
    impl_of(t)->reduce(a, t->n, t->mod.p, four);
}

const char *cn_ntt_kernel_name(void)
{
    CN_ONCE(pick);
    return best52->name;
}

const char *cn_ntt_table_kernel_name(const cn_ntt_table_t *t)
{
    return impl_of(t)->name;
}

int cn_ntt_table_uses_ifma(const cn_ntt_table_t *t)
{
    return impl_of(t) == &impls[CN_ISA_AVX512IFMA];
}
