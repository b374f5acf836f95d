/* The one place lib/rns picks the kernels of its exact conversions (as BLAKE3's
 * blake3_dispatch.c): once, from the CPU's features (lib/common/cpu.c, which honours
 * CN_SIMD=portable and the build's CN_NO_AVX512 / CN_NO_AVX512IFMA). Tables whose moduli
 * are all below 2^50 carry 52-bit constants when the 52-bit kernels are picked, and rows
 * whose length is a multiple of 8 then run on them; everything else runs portable C. */
#include "../internal/cpu.h"
#include "rns_internal.h"

typedef struct {
    cn_exact_conv_fn exact_conv;
    cn_scale_round_fn scale_round;
} rns_impl_t;

static const rns_impl_t impls[CN_ISA_COUNT] = {
    [CN_ISA_PORTABLE] = {cn_exact_conv_portable, cn_scale_round_portable},
#ifdef CN_BUILD_AVX512IFMA
    [CN_ISA_AVX512IFMA] = {cn_exact_conv_ifma, cn_scale_round_ifma},
#endif
};

/* the kernels for tables with 52-bit constants */
static const rns_impl_t *best52 = &impls[CN_ISA_PORTABLE];

static void pick(void)
{
    best52 = &impls[cn_cpu_pick(1u << CN_ISA_AVX512IFMA, 1)];
}

int cn_rns_kernels52(void)
{
    CN_ONCE(pick);
    return best52 != &impls[CN_ISA_PORTABLE];
}

void cn_exact_conv(uint64_t *out, const uint64_t *in, size_t n, const cn_exact_conv_t *c)
{
    CN_ONCE(pick);
    const rns_impl_t *k = c->ifma && n % 8 == 0 ? best52 : &impls[CN_ISA_PORTABLE];
    k->exact_conv(out, in, n, c);
}

void cn_scale_round(uint64_t *out, const uint64_t *xq, const uint64_t *xr, size_t n,
                    const cn_scale_t *s)
{
    CN_ONCE(pick);
    const rns_impl_t *k = s->ifma && n % 8 == 0 ? best52 : &impls[CN_ISA_PORTABLE];
    k->scale_round(out, xq, xr, n, s);
}
