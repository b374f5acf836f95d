/* Internal: run-time CPU feature detection and one-time initialization. */
#ifndef CN_INTERNAL_CPU_H
#define CN_INTERNAL_CPU_H

#include <pthread.h>

#include "cryptonets/common.h"

/* Runs fn exactly once across threads. */
#define CN_ONCE(fn)                                                                            \
    do {                                                                                       \
        static pthread_once_t cn_once_flag_ = PTHREAD_ONCE_INIT;                               \
        pthread_once(&cn_once_flag_, (fn));                                                    \
    } while (0)

/* The feature bits and cn_cpu_features() are public (cryptonets/common.h). */

/* Which instruction-set files the build holds (Makefile: CN_NO_AVX512=1 leaves out every
 * *_avx512.c and *_avx512ifma.c file, CN_NO_AVX512IFMA=1 only the *_avx512ifma.c ones).
 * Only the dispatch files test these. */
#ifndef CN_NO_AVX512
#define CN_BUILD_AVX512 1
#ifndef CN_NO_AVX512IFMA
#define CN_BUILD_AVX512IFMA 1
#endif
#endif

/* Kernel families, the index of a module's kernel table in its dispatch.c. */
typedef enum {
    CN_ISA_PORTABLE,   /* C, always present */
    CN_ISA_AVX512,     /* AVX-512 F/VL/DQ/BW, 64-bit arithmetic, any modulus */
    CN_ISA_AVX512IFMA, /* with IFMA, 52-bit arithmetic, moduli below 2^50 */
    CN_ISA_COUNT
} cn_isa_t;

/* The kernel-family choice every dispatch.c makes, in one place: among the families a
 * module has kernels for (bit 1u << family set in `families`; portable is implied), the
 * best one that cn_cpu_features allows, IFMA only for moduli below 2^50 (small = 1). */
cn_isa_t cn_cpu_pick(unsigned families, int small);

#endif
