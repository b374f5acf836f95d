/* Internal: the NTT kernels. Every variant has the signature cn_ntt_kernel_fn and the
 * contract of its portable twin; lib/ntt/dispatch.c picks among them once at run time. */
#ifndef CN_NTT_INTERNAL_H
#define CN_NTT_INTERNAL_H

#include "cryptonets/ntt.h"

/* One lazy transform in place. */
typedef void (*cn_ntt_kernel_fn)(uint64_t *a, const cn_ntt_table_t *t);

/* Forward, lazy, out of place: dst = the transform of src (n words each, the same or not
 * overlapping); src in [0, 4p), dst [0, 4p). */
typedef void (*cn_ntt_kernel_from_fn)(uint64_t *dst, const uint64_t *src,
                                      const cn_ntt_table_t *t);
void cn_ntt_forward_lazy_from_portable(uint64_t *dst, const uint64_t *src,
                                       const cn_ntt_table_t *t);
void cn_ntt_forward_lazy_from_ifma(uint64_t *dst, const uint64_t *src, const cn_ntt_table_t *t);
void cn_ntt_forward_lazy_from_avx512(uint64_t *dst, const uint64_t *src,
                                     const cn_ntt_table_t *t);

/* Forward, lazy: in [0, 4p), out [0, 4p). */
void cn_ntt_forward_lazy_portable(uint64_t *a, const cn_ntt_table_t *t);
/* Inverse, lazy: in [0, 2p), out [0, 2p). */
void cn_ntt_inverse_lazy_portable(uint64_t *a, const cn_ntt_table_t *t);

/* AVX-512 IFMA kernels (ntt_avx512ifma.c): same contracts, for tables with ws52 set
 * and n >= 16; otherwise they call the portable kernels. */
void cn_ntt_forward_lazy_ifma(uint64_t *a, const cn_ntt_table_t *t);
void cn_ntt_inverse_lazy_ifma(uint64_t *a, const cn_ntt_table_t *t);

/* AVX-512 F/VL/DQ/BW kernels (ntt_avx512.c) for any prime, n >= 16. */
void cn_ntt_forward_lazy_avx512(uint64_t *a, const cn_ntt_table_t *t);
void cn_ntt_inverse_lazy_avx512(uint64_t *a, const cn_ntt_table_t *t);

/* The full reduction after a lazy transform: a[0, n) from [0, 4p) (four = 1, after a
 * forward transform) or [0, 2p) (four = 0, after an inverse) to [0, p), p < 2^61. The
 * portable loop and an AVX-512 one (ntt_avx512.c, any n); cn_ntt_reduce picks. */
typedef void (*cn_ntt_reduce_fn)(uint64_t *a, size_t n, uint64_t p, int four);
void cn_ntt_reduce_portable(uint64_t *a, size_t n, uint64_t p, int four);
void cn_ntt_reduce_avx512(uint64_t *a, size_t n, uint64_t p, int four);
void cn_ntt_reduce(uint64_t *a, const cn_ntt_table_t *t, int four);

/* 1 when table t runs on the IFMA kernels on this CPU. */
int cn_ntt_table_uses_ifma(const cn_ntt_table_t *t);

#endif
