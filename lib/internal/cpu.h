/* Internal: run-time CPU feature detection and one-time initialization. */
#ifndef CN_INTERNAL_CPU_H
#define CN_INTERNAL_CPU_H

#include <pthread.h>

/* Runs fn exactly once across threads. */
#define CN_ONCE(fn)                                                   \
    do {                                                              \
        static pthread_once_t cn_once_flag_ = PTHREAD_ONCE_INIT;      \
        pthread_once(&cn_once_flag_, (fn));                           \
    } while (0)

/* Feature bits; CN_SIMD=portable in the environment disables every SIMD path. */
enum {
    CN_CPU_AVX2 = 1u << 0,
    CN_CPU_AVX512F = 1u << 1,    /* AVX-512 F with VL, DQ and BW */
    CN_CPU_AVX512IFMA = 1u << 2, /* with AVX-512 F, VL, DQ and BW */
};

/* The features this CPU has and the build and environment allow. */
unsigned cn_cpu_features(void);

#endif
