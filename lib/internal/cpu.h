/* Internal: run-time CPU feature detection and one-time initialization. */
#ifndef CN_INTERNAL_CPU_H
#define CN_INTERNAL_CPU_H

#include <pthread.h>

#include "cryptonets/common.h"

/* Runs fn exactly once across threads. */
#define CN_ONCE(fn)                                                   \
    do {                                                              \
        static pthread_once_t cn_once_flag_ = PTHREAD_ONCE_INIT;      \
        pthread_once(&cn_once_flag_, (fn));                           \
    } while (0)

/* The feature bits and cn_cpu_features() are public (cryptonets/common.h). */

#endif
