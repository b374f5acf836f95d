/* Stage 5 of the compiler, the schedule (docs/net.md, "The compiler"): where the
 * relinearizations go (lazily, before a square of a size-3 input) and how many primes
 * each modulus switch drops (greedily, within the noise estimate). Runs once per
 * parameter candidate of stage 6. */
#include <stdlib.h>

#include "compiler.h"

/* Builds the full op list from the quantized network: a relinearization before
 * every square whose input has size 3 (lazy: the linear layer between two squares runs
 * on size-3 ciphertexts, usually fewer than the square's outputs), or right after every
 * square when eager (the benchmark's baseline, docs/net.md), and modulus switches (greedy,
 * docs/net.md): before each square and before each linear layer that follows a square, drop as
 * many primes as keep the noise within half a bit of what it was and the final budget >=
 * margin. */
cn_status cn_schedule(cn_op_t **out, size_t *nout, const cn_op_t *qnet, size_t cnt, size_t nin,
                      const cn_bfv_params_t *prm, double margin, int no_ms, int eager,
                      double *final_v)
{
    cn_op_t *ops = calloc(3 * cnt + 2, sizeof *ops);
    if (!ops)
        return CN_ERR_NO_MEMORY;
    size_t n = 0, size = 2;
    for (size_t i = 0; i < cnt; i++) {
        if (qnet[i].kind == CN_OP_SQUARE) {
            if (!no_ms)
                ops[n++] = (cn_op_t){.kind = CN_OP_MODSWITCH, .drop = 0};
            if (size == 3)
                ops[n++] = (cn_op_t){.kind = CN_OP_RELIN};
            size = 3;
        } else if (qnet[i].kind == CN_OP_LINEAR && i > 0 && !no_ms) {
            ops[n++] = (cn_op_t){.kind = CN_OP_MODSWITCH, .drop = 0};
        }
        ops[n++] = qnet[i];
        if (eager && qnet[i].kind == CN_OP_SQUARE) {
            ops[n++] = (cn_op_t){.kind = CN_OP_RELIN};
            size = 2;
        }
    }
    /* greedy: each switch point in order takes the most drops that keep the estimate */
    for (size_t i = 0; i < n; i++) {
        if (ops[i].kind != CN_OP_MODSWITCH)
            continue;
        cn_plan_noise(ops, n, prm);
        const size_t lvl = i > 0 ? ops[i - 1].level : prm->nq;
        const double before = i > 0 ? ops[i - 1].noise_bits : ops[i].noise_bits;
        while (ops[i].drop + 1 < lvl) {
            ops[i].drop++;
            const double v = cn_plan_noise(ops, n, prm);
            if (v > -1 - margin || ops[i].noise_bits > before + 0.5) {
                ops[i].drop--;
                break;
            }
        }
    }
    /* remove empty switches */
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (ops[i].kind != CN_OP_MODSWITCH || ops[i].drop > 0)
            ops[m++] = ops[i];
    *final_v = cn_plan_noise(ops, m, prm);
    size_t w = nin;
    for (size_t i = 0; i < m; i++) {
        if (ops[i].kind == CN_OP_LINEAR)
            w = ops[i].lin.nout;
        ops[i].width = w;
    }
    *out = ops;
    *nout = m;
    return CN_OK;
}
