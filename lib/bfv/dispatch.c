/* The one place lib/bfv picks its kernels (as BLAKE3's blake3_dispatch.c): once, from the
 * CPU's features (lib/common/cpu.c, which honours CN_SIMD=portable and the build's
 * CN_NO_AVX512 / CN_NO_AVX512IFMA). Rows modulo a prime below 2^50 whose length is a
 * multiple of 8 take the 52-bit kernels when they were picked; the rest run portable C. */
#include "../internal/cpu.h"
#include "../internal/shoup52.h"
#include "enc_kernels.h"
#include "kernels.h"

typedef struct {
    cn_tensor_row_fn tensor_row;
    cn_mul_acc2_fn mul_acc2;
    cn_divround_row_fn divround_row;
    cn_mul_acc2_rep_fn mul_acc2_rep;
    cn_perm_rows_fn perm_rows;
} bfv_impl_t;

static const bfv_impl_t impls[CN_ISA_COUNT] = {
    [CN_ISA_PORTABLE] = {cn_tensor_row_portable, cn_mul_acc2_portable, cn_divround_row_portable,
                         cn_mul_acc2_rep_portable, cn_perm_rows_portable},
#ifdef CN_BUILD_AVX512IFMA
    [CN_ISA_AVX512IFMA] = {cn_tensor_row_ifma, cn_mul_acc2_ifma, cn_divround_row_ifma,
                           cn_mul_acc2_rep_ifma, cn_perm_rows_ifma},
#endif
};

/* the kernels for primes below 2^50 and n a multiple of 8 */
static const bfv_impl_t *best52 = &impls[CN_ISA_PORTABLE];

static void pick(void)
{
    best52 = &impls[cn_cpu_pick(1u << CN_ISA_AVX512IFMA, 1)];
}

static inline const bfv_impl_t *impl_for(uint64_t p, size_t n)
{
    CN_ONCE(pick);
    return p < CN_SHOUP52_BOUND && n % 8 == 0 ? best52 : &impls[CN_ISA_PORTABLE];
}

cn_tensor_row_fn cn_bfv_tensor_row_kernel(uint64_t p, size_t n)
{
    return impl_for(p, n)->tensor_row;
}

cn_mul_acc2_fn cn_bfv_mul_acc2_kernel(uint64_t p, size_t n)
{
    return impl_for(p, n)->mul_acc2;
}

cn_mul_acc2_rep_fn cn_bfv_mul_acc2_rep_kernel(uint64_t p, size_t n)
{
    return impl_for(p, n)->mul_acc2_rep;
}

cn_perm_rows_fn cn_bfv_perm_rows_kernel(size_t n)
{
    return impl_for(0, n)->perm_rows;
}

cn_divround_row_fn cn_bfv_divround_row_kernel(uint64_t p, uint64_t P, size_t n)
{
    return (P < ((uint64_t)1 << 52) ? impl_for(p, n) : &impls[CN_ISA_PORTABLE])->divround_row;
}

int cn_bfv_ifma_available(void)
{
    CN_ONCE(pick);
    return best52 != &impls[CN_ISA_PORTABLE];
}

/* ---- secret-key encryption (enc_kernels.h) ---- */

typedef struct {
    cn_enc_mul_row_fn mul_row;
    cn_enc_c0_row_fn c0_row;
} enc_impl_t;

static const enc_impl_t enc_impls[CN_ISA_COUNT] = {
    [CN_ISA_PORTABLE] = {cn_enc_mul_row_portable, cn_enc_c0_row_portable},
#ifdef CN_BUILD_AVX512IFMA
    [CN_ISA_AVX512IFMA] = {cn_enc_mul_row_ifma, cn_enc_c0_row_ifma},
#endif
};

static const enc_impl_t *enc_best52 = &enc_impls[CN_ISA_PORTABLE];

static void enc_pick(void)
{
    enc_best52 = &enc_impls[cn_cpu_pick(1u << CN_ISA_AVX512IFMA, 1)];
}

cn_enc_mul_row_fn cn_bfv_enc_mul_row_kernel(uint64_t p, size_t n)
{
    CN_ONCE(enc_pick);
    return (p < CN_SHOUP52_BOUND && n % 8 == 0 ? enc_best52 : &enc_impls[CN_ISA_PORTABLE])
        ->mul_row;
}

cn_enc_c0_row_fn cn_bfv_enc_c0_row_kernel(uint64_t p, size_t n, uint64_t t)
{
    CN_ONCE(enc_pick);
    return (p < CN_SHOUP52_BOUND && t <= CN_SHOUP52_BOUND && n % 8 == 0
                ? enc_best52
                : &enc_impls[CN_ISA_PORTABLE])
        ->c0_row;
}
