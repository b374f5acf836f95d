/* The cost model that stage 6 of the compiler minimises (docs/net.md, "Parameters and
 * cost"): estimated seconds per batch from per-operation costs measured with
 * bench/throughput on this project's machine. */
#include <math.h>

#include "compiler.h"

/* Seconds on one core of this project's machine (measured with bench/throughput at
 * n = 8192, docs/net.md), scaled by n and the number of primes l. "fast" means the
 * AVX-512 IFMA kernels apply: the CPU has IFMA and every ciphertext prime is below 2^50;
 * without them the HPS multiplication runs about six times slower. Per ciphertext:
 * square 0.3 ms l (fast) or 1.7 ms l; relinearization 0.05 ms l (l + 1) (fast) or
 * 0.11 ms l (l + 1); modulus switch 0.05 ms l (size / 2); encryption 0.8 ms l; loading
 * at the server 0.17 ms l; checked decryption of a size-3 result 0.3 ms l (bench/micro
 * decrypt3_checked: 1.19 ms at l = 4). Linear layers: per multiply-add
 * 1 / 20e9 s and per output coefficient 4 ns with the IFMA small-weight kernels
 * (|w| p < 2^52), else 1 / 5e9 s and 25 ns. */
typedef struct {
    int ifma;    /* the CPU has AVX-512 IFMA */
    double qmax; /* largest ciphertext prime */
} costctx_t;

/* n log n, and a measured factor 2.3 per coefficient above n = 8192 (mnist_private on this
 * machine: the same network ran 2.3 times slower per slot at n = 16384, its polynomials
 * no longer fitting the caches) */
static double ring_scale(double n)
{
    return n / 8192.0 * log2(n) / 13.0 * (n > 8192 ? 2.3 : 1.0);
}

static double op_cost(const cn_op_t *op, size_t level_before, size_t size_before, double n,
                      size_t width_before, const costctx_t *cc)
{
    const double sc = ring_scale(n);
    const double l = (double)level_before, w = (double)width_before;
    const int fast = cc->ifma && cc->qmax < 0x1p50;
    switch (op->kind) {
    case CN_OP_LINEAR: {
        const int small = fast && (double)op->lin.wmax * 2 * cc->qmax < 0x1p52;
        const double coeffs = (double)size_before * l * n;
        return (double)op->lin.row[op->lin.nout] * coeffs / (small ? 20e9 : 5e9) +
               (double)op->lin.nout * coeffs * (small ? 4e-9 : 25e-9);
    }
    case CN_OP_SQUARE:
        return w * sc * l * (fast ? 0.3e-3 : 1.7e-3);
    case CN_OP_RELIN:
        return w * sc * l * (l + 1) * (fast ? 0.05e-3 : 0.11e-3);
    case CN_OP_MODSWITCH:
        return w * sc * l * 0.05e-3 * (double)size_before / 2;
    }
    return 0;
}

/* Fresh memory: the first touch of a page costs far more than the arithmetic on it on
 * this project's virtual machines (2.9 s per GiB measured, 0.05 s to touch it again), so
 * a batch pays for the largest amount of ciphertext memory alive at once (inputs and
 * outputs of an op), counted at 2.5 s per GiB. */
static double plan_cost(const cn_op_t *ops, size_t nops, size_t nin, size_t L, double n,
                        const costctx_t *cc)
{
    const double sc = ring_scale(n);
    double cost = (double)nin * sc * (double)L * (0.8e-3 + 0.17e-3);
    size_t level = L, size = 2, width = nin;
    double peak = 0;
    for (size_t i = 0; i < nops; i++) {
        cost += op_cost(&ops[i], level, size, n, width, cc);
        const double in_bytes = (double)width * (double)size * (double)level * n * 8;
        const double out_bytes =
            (double)ops[i].width * (double)ops[i].size * (double)ops[i].level * n * 8;
        const double live =
            ops[i].kind == CN_OP_LINEAR ? in_bytes + out_bytes : fmax(in_bytes, out_bytes);
        if (live > peak)
            peak = live;
        level = ops[i].level;
        size = ops[i].size;
        width = ops[i].width;
    }
    return cost + (double)width * 0.3e-3 * sc * (double)level + peak / 0x1p30 * 2.5;
}

double cn_plan_cost(const cn_op_t *ops, size_t nops, size_t nin, const cn_bfv_params_t *prm,
                    cn_cost_profile profile)
{
    cn_cost_profile prof = profile;
    if (prof == CN_COST_HOST) {
        const unsigned f = cn_cpu_features();
        prof = f & CN_CPU_AVX512IFMA ? CN_COST_AVX512IFMA
               : f & CN_CPU_AVX512F  ? CN_COST_AVX512
                                     : CN_COST_PORTABLE;
    }
    costctx_t cc = {.ifma = prof == CN_COST_AVX512IFMA, .qmax = (double)prm->q[0]};
    for (size_t x = 1; x < prm->nq; x++)
        if ((double)prm->q[x] > cc.qmax)
            cc.qmax = (double)prm->q[x];
    return plan_cost(ops, nops, nin, prm->nq, (double)prm->n, &cc);
}
