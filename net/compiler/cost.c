/* The cost model that stage 6 of the compiler minimises, and the server's peak memory
 * that it bounds (docs/net.md, "Parameters and cost"): estimated seconds per batch on one
 * core from per-operation costs measured with bench/calibrate on this project's machine,
 * and bytes from the server's own allocation rules (net/runtime/pool.c). */
#include <math.h>

#include "compiler.h"

/* Per-operation costs on one core, CPU seconds, measured with bench/calibrate (the
 * committed MNIST model, one plaintext modulus, no modulus switching, medians of 3 reps on
 * a loaded machine; docs/benchmarks.md "Calibrating the cost model" has the measurements
 * these were read from) at n = 4096, 8192 and 16384 with 2 and 5 primes of 44 bits (the
 * IFMA kernels) and 54 bits (the AVX-512F ones); other n scale from the nearest row by
 * n log2 n. Per row:
 *   enc0, enc1  client encryption per input ciphertext: enc0 + enc1 x primes
 *   load        server loading per input ciphertext and prime
 *   dec         checked decryption (size 3) per output ciphertext and prime
 *   sq          square per ciphertext and prime (HPS, NTTs included)
 *   rl          relinearization per ciphertext and prime x (primes + 1) (hybrid key
 *               switching, one digit per prime)
 *   ms          modulus switch per ciphertext, prime and polynomial (bench/throughput's
 *               steps, MNIST at n = 8192 and 16384)
 * "fast": the AVX-512 IFMA kernels (a CPU with IFMA, every ciphertext prime below 2^50);
 * "slow": the AVX-512F kernels (no IFMA, or a prime from 2^50). At n = 16384 the
 * polynomials leave the caches: the square costs 2.1 times n = 8192's per ciphertext and
 * prime (the fast row refitted 2026-11-30 from bench/throughput's square lines on the
 * quiet machine, MNIST at n = 8192 with 3 x 50-bit primes and n = 16384 with 4 x 47:
 * 2.82e-4 and 5.97e-4 CPU-s, thread time 2 x wall; the ratio 2.5 of the first
 * calibration predates the chunked server and the square's fused modulus switch). The
 * modulus switch's rows at n = 8192 and 16384 refitted the same way from the unfused
 * switch lines (5.2e-6 and 1.0e-5: the first calibration's 2.4e-5 and 6.5e-5 were 5 to 6
 * times the switch's time since it works in place; after a square it is now fused into
 * the square's scaling and costs less still). */
typedef struct {
    double n;
    double enc0, enc1, load, dec;
    double sq_fast, sq_slow;
    double rl_fast, rl_slow;
    double ms;
} cost_row_t;

static const cost_row_t COST_ROWS[] = {
    /* n      enc0    enc1    load    dec     sq fast sq slow rl fast rl slow ms */
    {4096, 6.7e-5, 3.4e-5, 1.6e-5, 4.2e-4, 1.8e-4, 9.5e-4, 2.1e-5, 6.0e-5, 1.0e-5},
    {8192, 8.0e-5, 8.4e-5, 3.8e-5, 6.5e-4, 3.0e-4, 1.58e-3, 4.9e-5, 1.2e-4, 5.2e-6},
    {16384, 6.0e-5, 2.2e-4, 6.0e-5, 1.0e-3, 6.35e-4, 2.9e-3, 9.5e-5, 3.6e-4, 1.0e-5},
};
#define COST_NROWS (sizeof COST_ROWS / sizeof COST_ROWS[0])

/* The same operations without AVX-512 (CN_SIMD=portable, bench/calibrate at n = 8192, 2
 * and 4 primes of 44 bits), as factors of the rows' "slow" costs (encryption: of the
 * fast one); encryption with the AVX-512F kernels costs 2.1 times the IFMA one. */
#define COST_PORTABLE_SQ 1.15
#define COST_PORTABLE_RL 2.0
#define COST_PORTABLE_ENC 4.0
#define COST_SLOW_ENC 2.1

/* Linear layers, per multiply-add and per output, of every coefficient (size x primes x
 * n of them): the same at every n measured. IFMA kernel with small weights (2 max|w| p <
 * 2^52), IFMA kernel otherwise (p < 2^50), AVX-512F kernel, portable kernel, and the IFMA
 * kernel's dense split kernel (dense layers past the small-weight bound with 2 max|w| <
 * 2^12, cn_lin_dense_split_ok): 0.65 times the general IFMA kernel's multiply-add (thread
 * CPU time on the MNIST plan's 169 x 100 chunk at a 49-bit prime, docs/benchmarks.md,
 * "2026-11-30 (fifth session): dense layer"). The per-output costs of the two IFMA kernels
 * refitted 2026-11-30 (sixth session) from the conv's line of bench/throughput, quiet
 * (the conv's one pass, conv_chunk: 2.9e-9 small weights at 4 x 47-bit primes, n = 16384;
 * 4.1e-9 general at 3 x 50-bit, n = 8192), docs/benchmarks.md. */
static const double LIN_MADD[5] = {4.5e-11, 8.1e-11, 1.9e-10, 1.4e-9, 5.3e-11};
static const double LIN_OUT[5] = {2.9e-9, 4.1e-9, 3.0e-9, 1.0e-8, 5.4e-9};

/* The row for ring degree n: the nearest measured one, scaled by n log2 n. */
static cost_row_t cost_row(double n)
{
    size_t k = 0;
    for (size_t i = 1; i < COST_NROWS; i++)
        if (fabs(log2(COST_ROWS[i].n / n)) < fabs(log2(COST_ROWS[k].n / n)))
            k = i;
    cost_row_t r = COST_ROWS[k];
    const double s = n * log2(n) / (r.n * log2(r.n));
    r.enc0 *= s;
    r.enc1 *= s;
    r.load *= s;
    r.dec *= s;
    r.sq_fast *= s;
    r.sq_slow *= s;
    r.rl_fast *= s;
    r.rl_slow *= s;
    r.ms *= s;
    return r;
}

typedef struct {
    cn_cost_profile prof; /* not CN_COST_HOST */
    double qmax;          /* largest ciphertext prime */
    cost_row_t r;
} costctx_t;

static double op_cost(const cn_op_t *op, size_t level_before, size_t size_before, double n,
                      size_t width_before, const costctx_t *cc)
{
    const double l = (double)level_before, w = (double)width_before;
    const int port = cc->prof == CN_COST_PORTABLE;
    const int fast = cc->prof == CN_COST_AVX512IFMA && cc->qmax < 0x1p50;
    switch (op->kind) {
    case CN_OP_LINEAR: {
        const int k = port   ? 3
                      : fast ? ((double)op->lin.wmax * 2 * cc->qmax < 0x1p52          ? 0
                                : cn_lin_dense_split_ok(&op->lin, (uint64_t)cc->qmax) ? 4
                                                                                      : 1)
                             : 2;
        const double coeffs = (double)size_before * l * n;
        return coeffs * ((double)op->lin.row[op->lin.nout] * LIN_MADD[k] +
                         (double)op->lin.nout * LIN_OUT[k]);
    }
    case CN_OP_SQUARE:
        return w * l * (fast ? cc->r.sq_fast : cc->r.sq_slow * (port ? COST_PORTABLE_SQ : 1));
    case CN_OP_RELIN:
        return w * l * (l + 1) *
               (fast ? cc->r.rl_fast : cc->r.rl_slow * (port ? COST_PORTABLE_RL : 1));
    case CN_OP_MODSWITCH:
        return w * l * (double)size_before * cc->r.ms;
    }
    return 0;
}

void cn_plan_estimate(cn_plan_estimate_t *e, const cn_op_t *ops, size_t nops, size_t nin,
                      const cn_bfv_params_t *prm, cn_cost_profile profile)
{
    cn_plan_estimate_chunks(e, ops, nops, nin, prm, profile,
                            cn_plan_chunks(ops, nops, nin, prm));
}

void cn_plan_estimate_chunks(cn_plan_estimate_t *e, const cn_op_t *ops, size_t nops, size_t nin,
                             const cn_bfv_params_t *prm, cn_cost_profile profile, size_t chunks)
{
    cn_cost_profile prof = profile;
    if (prof == CN_COST_HOST) {
        const unsigned f = cn_cpu_features();
        prof = f & CN_CPU_AVX512IFMA ? CN_COST_AVX512IFMA
               : f & CN_CPU_AVX512F  ? CN_COST_AVX512
                                     : CN_COST_PORTABLE;
    }
    const double n = (double)prm->n, L = (double)prm->nq, nt = (double)prm->nt;
    costctx_t cc = {.prof = prof, .qmax = (double)prm->q[0]};
    for (size_t x = 1; x < prm->nq; x++)
        if ((double)prm->q[x] > cc.qmax)
            cc.qmax = (double)prm->q[x];
    cc.r = cost_row(n);
    /* per plaintext modulus */
    double server = (double)nin * L * cc.r.load;
    size_t level = prm->nq, size = 2, width = nin;
    /* in chunks (cn_plan_chunks), L2 runs once per chunk: its per-output cost again for
     * each chunk after the first, and the sums' additions */
    const size_t end = cn_segment_end(ops, nops);
    for (size_t i = 0; i < nops; i++) {
        if (chunks > 1 && i == end) {
            const cn_op_t *l2 = &ops[i];
            const double again =
                (double)(chunks - 1) * (double)size * (double)level * n * (double)l2->lin.nout;
            server += again * LIN_OUT[cc.prof == CN_COST_PORTABLE ? 3 : 1];
        }
        server += op_cost(&ops[i], level, size, n, width, &cc);
        level = ops[i].level;
        size = ops[i].size;
        width = ops[i].width;
    }
    const double encf = prof == CN_COST_PORTABLE                         ? COST_PORTABLE_ENC
                        : prof == CN_COST_AVX512IFMA && cc.qmax < 0x1p50 ? 1
                                                                         : COST_SLOW_ENC;
    e->server_s = nt * server;
    e->client_s = nt * ((double)nin * (cc.r.enc0 + L * cc.r.enc1) * encf +
                        (double)width * (double)level * cc.r.dec);
    e->seconds = e->server_s + e->client_s;
    e->memory = cn_plan_memory_chunks(ops, nops, nin, prm, chunks);
}

/* Bytes of ciphertext primes' residues, bit-packed as the wire format sends them
 * (docs/format.md, "Sizes"): sum over the first level primes of their bits, times n/8. */
static double packed_bytes(const cn_bfv_params_t *prm, size_t level)
{
    double bits = 0;
    for (size_t j = 0; j < level; j++)
        bits += (double)(64 - __builtin_clzll(prm->q[j]));
    return bits * (double)prm->n / 8;
}

/* The server's peak memory for one batch (docs/net.md, "Memory"), as net/runtime
 * allocates it: the batch bytes (all plaintext moduli: seeded ciphertexts, c0 bit-packed
 * beside a seed and header of 48 bytes), the pool's blocks at their peak
 * (cn_plan_peak_blocks: one modulus at a time, an op's inputs and outputs alive together,
 * 2 threads' temporaries; the modulus switch writes into blocks of the pool since 190fae7;
 * with chunks, the first segment chunk by chunk, net/plan/segment.c) of n L words and 5
 * cache lines each, the relinearization key (L digits of 2 polynomials at L + 1 primes),
 * the reply, and the process: 5 MiB plus 31 MiB per 8192 of n (code, context tables,
 * stacks, per-thread temporaries; fitted on the peaks bench/throughput measured for the MNIST
 * plans at n = 8192 and 16384, issue 17 in docs/benchmarks.md). */
double cn_plan_memory_chunks(const cn_op_t *ops, size_t nops, size_t nin,
                             const cn_bfv_params_t *prm, size_t chunks)
{
    const double n = (double)prm->n, L = (double)prm->nq, nt = (double)prm->nt;
    double w = (double)nin, size = 2;
    size_t level = prm->nq;
    for (size_t o = 0; o < nops; o++) {
        w = (double)ops[o].width;
        size = (double)ops[o].size;
        level = ops[o].level;
    }
    const double peak = (double)cn_plan_peak_blocks(ops, nops, nin, prm->nt, 2, chunks);
    const double batch = (double)nin * nt * (packed_bytes(prm, prm->nq) + 48);
    const double pool = peak * (n * L + 40) * 8;
    const double rk = L * 2 * n * (L + 1) * 8;
    const double reply = w * nt * size * (packed_bytes(prm, level) + 48);
    /* the process: code, context tables, stacks, and the library's temporaries that
     * malloc keeps resident on each thread (which grow with n) */
    const double proc = (5 + 31 * n / 8192) * 1048576;
    return batch + pool + rk + reply + proc;
}

double cn_plan_memory(const cn_op_t *ops, size_t nops, size_t nin, const cn_bfv_params_t *prm)
{
    return cn_plan_memory_chunks(ops, nops, nin, prm, cn_plan_chunks(ops, nops, nin, prm));
}

double cn_plan_cost(const cn_op_t *ops, size_t nops, size_t nin, const cn_bfv_params_t *prm,
                    cn_cost_profile profile)
{
    cn_plan_estimate_t e;
    cn_plan_estimate(&e, ops, nops, nin, prm, profile);
    return e.seconds;
}
