/* AVX-512 IFMA NTT kernels for primes below 2^50: the 52-bit multiplier
 * (vpmadd52luq / vpmadd52huq) with 52-bit Shoup constants w' = floor(w 2^52 / p). For
 * x < 2^52, x w - floor(x w' / 2^52) p is in [0, 2p) (Shoup's bound with word size
 * 2^52; Harvey, J. Symb. Comp. 2014), and lazy values stay below 4p < 2^52. The use of
 * IFMA for HE transforms follows F. Boemer et al., "Intel HEXL: Accelerating Homomorphic
 * Encryption with Intel AVX512-IFMA52", WAHC 2021. The butterfly loops are shared with
 * the 64-bit AVX-512 kernels (ntt_avx512_body.h). */
#include "../internal/ifma52.h"
#include "ntt_internal.h"

/* x w mod p in [0, 2p) for x < 2^52, w < p < 2^50, ws = floor(w 2^52 / p) */
static inline __m512i mul_lazy(__m512i x, __m512i w, __m512i ws, __m512i p)
{
    return cn_v52_mul_lazy(x, w, ws, p);
}

#define CN_NTT_FWD cn_ntt_forward_lazy_ifma
#define CN_NTT_INV cn_ntt_inverse_lazy_ifma
#define CN_NTT_FWD_FROM cn_ntt_forward_lazy_from_ifma
#define CN_NTT_WS(t) ((t)->ws52)
#define CN_NTT_WIS(t) ((t)->wis52)
#define CN_NTT_NIS(t) ((t)->n_inv_s52)
#define CN_NTT_LWS(t) ((t)->last_wis52)

#include "ntt_avx512_body.h"
