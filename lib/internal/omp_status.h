/* Internal: the one idiom for collecting a cn_status from the iterations of an OpenMP
 * loop. Each failing iteration stores its status under a named critical section; which
 * failure is kept when several fail is unspecified, and the loop runs to its end:
 *
 *     cn_status st = CN_OK;
 *     #pragma omp parallel for
 *     for (long i = 0; i < count; i++)
 *         CN_OMP_COLLECT(st, work(i));
 *
 * Without OpenMP the pragma is ignored and the last failure is kept. */
#ifndef CN_INTERNAL_OMP_STATUS_H
#define CN_INTERNAL_OMP_STATUS_H

#include "cryptonets/common.h"

#define CN_OMP_COLLECT(st, expr)                                                               \
    do {                                                                                       \
        const cn_status cn_omp_e_ = (expr);                                                    \
        if (cn_omp_e_ != CN_OK) {                                                              \
            _Pragma("omp critical(cn_omp_collect)")(st) = cn_omp_e_;                           \
        }                                                                                      \
    } while (0)

#endif
