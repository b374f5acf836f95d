/* Stage 4 of the compiler, the noise estimate (docs/net.md, "The compiler"): a bound on
 * the invariant noise of every op's output, term by term from the operations as
 * implemented in lib/bfv; the parameter search keeps candidates whose final budget
 * leaves the margin, and the plan loader recomputes it. */
#include <math.h>

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
    double log_p, log_qmax;
    size_t L;
} nctx_t;

/* The estimate is per plaintext modulus; it grows with t, so the largest t bounds all. */
static void nctx_init(nctx_t *c, const cn_bfv_params_t *prm)
{
    size_t tmax = 0;
    for (size_t x = 1; x < prm->nt; x++)
        if (prm->t[x] > prm->t[tmax])
            tmax = x;
    c->log_n = log2((double)prm->n);
    c->log_t = log2((double)prm->t[tmax]);
    c->L = prm->nq;
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
     * floor(Q/t), r = Q mod t < t, |e| <= eta (CBD) and m in [0, t) as encoded (not
     * centered): |t e - r m| < t eta + t^2 */
    double v = log2(exp2(c->log_t) * CN_CBD_ETA + exp2(2 * c->log_t)) - c->log_q_prefix[c->L];
    size_t level = c->L, size = 2;
    for (size_t o = 0; o < nops; o++) {
        cn_op_t *op = &ops[o];
        const double lq = c->log_q_prefix[level];
        switch (op->kind) {
        case CN_OP_LINEAR: {
            /* worst case: ||sum w_i v_i|| <= (sum |w_i|) max ||v_i||; the bias b in [0, t)
             * added as Delta b adds r b / Q < t^2 / Q (r = Q mod t, as at encryption) */
            const double l1max = op->lin.l1max;
            v = (l1max > 0 ? v + log2(l1max) : -1e9);
            v = lg_add(v, 2 * c->log_t - lq);
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

double cn_plan_noise(cn_op_t *ops, size_t nops, const cn_bfv_params_t *prm)
{
    nctx_t c;
    nctx_init(&c, prm);
    return noise_run(ops, nops, &c);
}
