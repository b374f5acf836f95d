/* Run-time CPU feature detection (cpuid via the compiler's builtins). */
#include <stdlib.h>
#include <string.h>

#include "../internal/cpu.h"

static unsigned features;

static void detect(void)
{
    unsigned f = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2"))
        f |= CN_CPU_AVX2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
        f |= CN_CPU_AVX512F;
    /* the IFMA kernels also use the VL, DQ and BW instructions */
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512ifma"))
        f |= CN_CPU_AVX512IFMA;
#endif
#ifndef CN_BUILD_AVX512
    f &= ~(unsigned)(CN_CPU_AVX512F | CN_CPU_AVX512IFMA);
#endif
#ifndef CN_BUILD_AVX512IFMA
    f &= ~(unsigned)CN_CPU_AVX512IFMA;
#endif
    const char *env = getenv("CN_SIMD");
    if (env && strcmp(env, "portable") == 0)
        f = 0;
    features = f;
}

unsigned cn_cpu_features(void)
{
    CN_ONCE(detect);
    return features;
}

cn_isa_t cn_cpu_pick(unsigned families, int small)
{
    const unsigned f = cn_cpu_features();
    if (small && (families & (1u << CN_ISA_AVX512IFMA)) && (f & CN_CPU_AVX512IFMA))
        return CN_ISA_AVX512IFMA;
    if ((families & (1u << CN_ISA_AVX512)) && (f & CN_CPU_AVX512F))
        return CN_ISA_AVX512;
    return CN_ISA_PORTABLE;
}
