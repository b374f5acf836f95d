/* The one place lib/rand picks its sampling kernels (as lib/ntt/dispatch.c): once, from
 * the CPU's features (lib/common/cpu.c, which honours CN_SIMD=portable and the build's
 * CN_NO_AVX512). */
#include "../internal/cpu.h"
#include "sample_kernels.h"

typedef struct {
    cn_uniform_accept_fn uniform;
    cn_cbd_fn cbd;
    cn_chacha20_blocks16_fn chacha20;
} rand_impl_t;

static const rand_impl_t impls[CN_ISA_COUNT] = {
    [CN_ISA_PORTABLE] = {cn_uniform_accept_portable, cn_cbd_portable, NULL},
#ifdef CN_BUILD_AVX512
    [CN_ISA_AVX512] = {cn_uniform_accept_avx512, cn_cbd_avx512, cn_chacha20_blocks16_avx512},
#endif
};

static const rand_impl_t *best = &impls[CN_ISA_PORTABLE];

static void pick(void)
{
    best = &impls[cn_cpu_pick(1u << CN_ISA_AVX512, 0)];
}

cn_uniform_accept_fn cn_rand_uniform_accept_kernel(void)
{
    CN_ONCE(pick);
    return best->uniform;
}

cn_cbd_fn cn_rand_cbd_kernel(void)
{
    CN_ONCE(pick);
    return best->cbd;
}

cn_chacha20_blocks16_fn cn_rand_chacha20_kernel(void)
{
    CN_ONCE(pick);
    return best->chacha20;
}
