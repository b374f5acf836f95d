/* Divide-and-round by the last prime of a base, the one step modulus switching and key
 * switching's ModDown share (BFV: Brakerski, CRYPTO 2012, section 4; full RNS: Bajard,
 * Eynard, Hasan, Zucca, SAC 2016; Halevi, Polyakov, Shoup, CT-RSA 2019). */
#include "rns_internal.h"

void cn_rns_divround_last(uint64_t *out, const uint64_t *x, const uint64_t *last, size_t k,
                          size_t n, const cn_mod_t *mod, uint64_t qlast, const uint64_t *inv,
                          const uint64_t *inv_s)
{
    const uint64_t ql = qlast, half = ql >> 1;
    for (size_t j = 0; j < k; j++) {
        const cn_mod_t m = mod[j];
        const uint64_t ql_m = cn_mod_reduce_u64(ql, m), p = m.p;
        const uint64_t *src = x + j * n;
        uint64_t *dst = out + j * n;
        const int near = ql <= 2 * p; /* then last[i] mod p is one subtraction */
        /* branch-free (the sign of the centered residue is a coin toss per coefficient) */
        for (size_t i = 0; i < n; i++) {
            const uint64_t v = last[i];
            uint64_t vm = near ? v - (p & (0 - (uint64_t)(v >= p))) : cn_mod_reduce_u64(v, m);
            /* the centered residue: v - q_last when v > q_last / 2 */
            const uint64_t neg = ql_m & (0 - (uint64_t)(v > half));
            vm = vm - neg + (p & (0 - (uint64_t)(vm < neg)));
            const uint64_t d = src[i] - vm + (p & (0 - (uint64_t)(src[i] < vm)));
            dst[i] = cn_mod_mul_shoup(d, inv[j], inv_s[j], p);
        }
    }
}
