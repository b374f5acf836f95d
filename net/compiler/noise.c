/* Stage 4 of the compiler, the noise estimate (docs/net.md, "The compiler"): a bound on
 * the invariant noise of every op's output, term by term from the operations as
 * implemented in lib/bfv; the parameter search keeps candidates whose final budget
 * leaves the margin, and the plan loader recomputes it. */
#include <math.h>
#include <stdlib.h>

#include "compiler.h"

/* Invariant noise v (Fan-Vercauteren, ePrint 2012/144; the BFV of SEAL's "noise
 * budget"): (t/Q)(c0 + c1 s + c2 s^2) = m + v + tA, decryption correct while
 * ||v|| < 1/2, budget = -log2(2 ||v||). All in log2. Sources of each term in docs/net.md. */

static double lg_add(double a, double b)
{
    const double m = a > b ? a : b;
    return m + log2(exp2(a - m) + exp2(b - m));
}

typedef struct {
    double log_n, log_t;
    double log_q_prefix[CN_BFV_MAX_Q + 1]; /* log2 of q_1 ... q_l */
    /* log2 of (Q_l mod t) (t - 1), Q_l = q_1 ... q_l: the encoding error's bound below */
    double log_rt[CN_BFV_MAX_Q + 1];
    double log_p, log_qmax;
    size_t L;
} nctx_t;

/* The estimate is per plaintext modulus t (prm->t[ti]): the caller takes the worst. */
static void nctx_init(nctx_t *c, const cn_bfv_params_t *prm, size_t ti)
{
    const uint64_t t = prm->t[ti];
    c->log_n = log2((double)prm->n);
    c->log_t = log2((double)t);
    c->L = prm->nq;
    uint64_t r = 1 % t; /* Q_l mod t, l = 0, 1, ... */
    for (size_t i = 0; i < prm->nq; i++) {
        r = (uint64_t)((unsigned __int128)r * (prm->q[i] % t) % t);
        /* r = 0 cannot happen (t prime, q_i distinct primes); 1 keeps the log finite */
        c->log_rt[i + 1] = log2((double)(r ? r : 1)) + log2((double)(t - 1));
    }
    c->log_rt[0] = 0;
    c->log_q_prefix[0] = 0;
    c->log_qmax = 0;
    for (size_t i = 0; i < prm->nq; i++) {
        const double lq = log2((double)prm->q[i]);
        c->log_q_prefix[i + 1] = c->log_q_prefix[i] + lq;
        if (lq > c->log_qmax)
            c->log_qmax = lq;
    }
    c->log_p = prm->p ? log2((double)prm->p) : 0;
}

/* Runs the noise estimate through the ops; returns the final log2 ||v|| and stores each
 * op's noise, level and size. */
static double noise_run(cn_op_t *ops, size_t nops, const nctx_t *c)
{
    /* fresh secret-key encryption: (t/Q)(e + Delta m) = m + (t e - r m) / Q with Delta =
     * floor(Q/t), r = Q mod t (exact, from the primes: bounding it by t costs log2(t/r)
     * bits everywhere after), |e| <= eta (CBD) and m in [0, t) as encoded (not centered):
     * |t e - r m| <= t eta + r (t - 1) */
    double v = lg_add(c->log_t + log2(CN_CBD_ETA), c->log_rt[c->L]) - c->log_q_prefix[c->L];
    size_t level = c->L, size = 2;
    for (size_t o = 0; o < nops; o++) {
        cn_op_t *op = &ops[o];
        const double lq = c->log_q_prefix[level];
        switch (op->kind) {
        case CN_OP_LINEAR: {
            /* worst case: ||sum w_i v_i|| <= (sum |w_i|) max ||v_i||; the bias b in [0, t)
             * added as Delta_l b adds r_l b / Q_l <= r_l (t - 1) / Q_l (r_l = Q_l mod t at
             * the current level, as at encryption) */
            const double l1max = op->lin.l1max;
            v = (l1max > 0 ? v + log2(l1max) : -1e9);
            v = lg_add(v, c->log_rt[level] - lq);
            break;
        }
        case CN_OP_SQUARE:
            /* v' = 2 m v + t (A v + v A) + v^2 + rounding: with ||m|| <= t/2, ||A|| about
             * the expansion of c1 s, and the heuristic expansion factor 2 sqrt(n) of a
             * product (canonical embedding), ||v'|| <= 4 t n ||v||; rounding of the
             * tensor t/Q (1 + ||s|| + ||s^2||)/2 <= t n^2 / Q */
            v = lg_add(v + 2 + c->log_t + c->log_n, c->log_t + 2 * c->log_n - lq);
            size = 3;
            break;
        case CN_OP_RELIN:
            /* key switching: sum of l digits d_i e_i over P (|d_i| < q_i, |e| <= eta),
             * worst case l n q_max eta / P, plus the rounding by P (n/2); times t/Q */
            v = lg_add(v, c->log_t +
                              log2((double)level * exp2(c->log_n) * CN_CBD_ETA *
                                       exp2(c->log_qmax - c->log_p) +
                                   exp2(c->log_n - 1)) -
                              lq);
            size = 2;
            break;
        case CN_OP_MODSWITCH: {
            /* rounding to Q': t/Q' (eps0 + eps1 s (+ eps2 s^2)), |eps| <= 1/2, worst case */
            level -= op->drop;
            const double lq2 = c->log_q_prefix[level];
            const double e = size == 3 ? log2(1 + exp2(c->log_n) + exp2(2 * c->log_n))
                                       : log2(1 + exp2(c->log_n));
            v = lg_add(v, c->log_t + e - 1 - lq2);
            break;
        }
        }
        op->level = level;
        op->size = size;
        op->noise_bits = v;
    }
    return v;
}

/* Every plaintext modulus has its own estimate (r = Q mod t differs): each op keeps the
 * worst of them (its noise_bits), and so does the result. */
double cn_plan_noise(cn_op_t *ops, size_t nops, const cn_bfv_params_t *prm)
{
    if (prm->nt == 1) {
        nctx_t c;
        nctx_init(&c, prm, 0);
        return noise_run(ops, nops, &c);
    }
    double stack[3 * CN_PLAN_MAX_OPS + 2];
    double *worst_op =
        nops <= sizeof stack / sizeof stack[0] ? stack : malloc(nops * sizeof *worst_op);
    /* without memory (a schedule far too long for a plan, refused later anyway) each op
     * keeps the last modulus's estimate; the result is still the worst */
    const size_t keep = worst_op ? nops : 0;
    double worst = -INFINITY;
    for (size_t ti = 0; ti < prm->nt; ti++) {
        nctx_t c;
        nctx_init(&c, prm, ti);
        const double v = noise_run(ops, nops, &c);
        if (v > worst)
            worst = v;
        for (size_t o = 0; o < keep; o++)
            if (ti == 0 || ops[o].noise_bits > worst_op[o])
                worst_op[o] = ops[o].noise_bits;
    }
    for (size_t o = 0; o < keep; o++)
        ops[o].noise_bits = worst_op[o];
    if (worst_op != stack)
        free(worst_op);
    return worst;
}
