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

/* The probabilistic track (docs/net.md, "Noise estimate", the second bound): the
 * invariant noise as v = d + x, d the part that the inputs decide (r m / Q, the biases'
 * rounding, the roundings of relinearization and modulus switching: bounded in the worst
 * case, in the infinity norm d_inf and in the root mean square over the n coefficients
 * d_rms = ||d||_2 / sqrt(n)) and x the part that the encryption's randomness decides
 * (t e / Q from the error e, then the tensor's t (A v + v A), A the multiple of t that
 * c0 + c1 s carries, from the uniform c1), zero-mean, of variance at most r2 per
 * coefficient. The variance propagates as in the average-case analyses of Costache,
 * Laine and Player (ESORICS 2020) and Iliashenko (PhD thesis, KU Leuven 2019, ch. 4):
 * independent terms add their variances, and the bound is d_inf + z sqrt(r2), z = 10
 * standard deviations (a Gaussian tail 2^-75 per coefficient; the sums are of hundreds
 * to millions of terms). Each op keeps the smaller of this bound and the worst-case
 * one, and both are bounds: the tests measure every op (tests/net/test_noise_ops.c).
 * All in log2. */
#define NOISE_TAIL_Z 10.0

typedef struct {
    double d_inf, d_rms, r2;
    double lmult; /* log2 of the previous linear layer's rowmult: 0 for fresh inputs */
    int linear;   /* 1 when the last op but relinearizations and switches was linear */
} ptrack_t;

static void ptrack_fresh(ptrack_t *p, const nctx_t *c)
{
    /* d = -r m / Q, m in [0, t) chosen by the inputs (every coefficient may be t - 1:
     * d_rms = d_inf); x = t e / Q, e centered binomial of variance eta / 2 */
    p->d_inf = p->d_rms = c->log_rt[c->L] - c->log_q_prefix[c->L];
    p->r2 = 2 * c->log_t + log2(CN_CBD_ETA / 2.0) - 2 * c->log_q_prefix[c->L];
    p->lmult = 0;
    p->linear = 0;
}

/* The track through op (at level `level` before it, of size `size` before it). */
static void ptrack_op(ptrack_t *p, const cn_op_t *op, size_t level, size_t size,
                      const nctx_t *c)
{
    const double lq = c->log_q_prefix[level];
    switch (op->kind) {
    case CN_OP_LINEAR: {
        /* d: the triangle inequality in both norms (the inputs may make every term's d
         * alike), plus the bias's rounding r_l b / Q_l; x: the inputs' random parts are
         * independent (distinct encryptions' errors; distinct ciphertexts' uniform c1),
         * so their variances add, weighted by w^2: the largest row's sum of w^2. Except
         * the outputs of proportional rows of the previous linear layer (the same
         * ciphertext up to a factor, so, after a square, the same random part up to a
         * factor): in groups of at most k of them the variance is at most k times the
         * sum of w^2 (Cauchy-Schwarz), k = that layer's rowmult */
        const double bias = c->log_rt[level] - lq;
        if (op->lin.l1max > 0) {
            p->d_inf = lg_add(log2(op->lin.l1max) + p->d_inf, bias);
            p->d_rms = lg_add(log2(op->lin.l1max) + p->d_rms, bias);
            /* right after another linear layer (two the folding kept apart) the inputs
             * share that layer's inputs' random parts without being proportional rows:
             * the triangle inequality on standard deviations, (sum |w|)^2 r2, holds
             * whatever their correlation */
            p->r2 = p->linear ? 2 * log2(op->lin.l1max) + p->r2
                              : 2 * log2(op->lin.l2max) + p->lmult + p->r2;
        } else {
            p->d_inf = p->d_rms = bias;
            p->r2 = -1e9;
        }
        p->lmult = op->lin.rowmult > 1 ? log2(op->lin.rowmult) : 0;
        p->linear = 1;
        break;
    }
    case CN_OP_SQUARE: {
        /* v' = 2 m v + 2 t A v + v^2 + rounding (m centered, |m_j| <= t/2).
         * 2 t A v: A_j = (c1 s)_j / Q + delta_j, c1 uniform on the centered residues
         * (independent of v), |delta_j| <= 3/2: E[A_j^2] <= (sqrt(||s||^2 / 12) + 3/2)^2
         * with ||s||^2 <= n (ternary s); each coefficient sum_j A_j v_(i-j) then has
         * variance at most E[A^2] ||v||_2^2 = E[A^2] n (d_rms + sqrt(r2))^2.
         * 2 m x: variance 4 ||m||_2^2 r2 <= t^2 n r2.
         * 2 m d: a product of two polynomials the inputs decide, taken with the
         * canonical-embedding expansion 2 sqrt(n) of the worst-case track (Costache and
         * Smart, CT-RSA 2016): 2 (t/2) 2 sqrt(n) d_inf; the worst case (Cauchy-Schwarz,
         * t n d_rms) would cost the MNIST plan about 5 bits (docs/net.md).
         * v^2: |.| <= ||v||_2^2 <= n (d_rms + 2 sqrt(r2))^2 (tiny); the tensor's rounding
         * t n^2 / Q as in the worst-case track. */
        const double la2 = 2 * log2(sqrt(exp2(c->log_n) / 12) + 1.5);
        const double lv = lg_add(p->d_rms, p->r2 / 2); /* rms of v, at most */
        const double r2 =
            lg_add(2 + 2 * c->log_t + la2 + c->log_n + 2 * lv, 2 * c->log_t + c->log_n + p->r2);
        const double d = lg_add(lg_add(1 + c->log_t + c->log_n / 2 + p->d_inf,
                                       c->log_n + 2 * lg_add(p->d_rms, 1 + p->r2 / 2)),
                                c->log_t + 2 * c->log_n - lq);
        p->d_inf = d;
        p->d_rms = d;
        p->r2 = r2;
        p->linear = 0;
        break;
    }
    case CN_OP_RELIN: {
        /* the key switching's terms, in the worst case (as the worst-case track) */
        const double ks =
            c->log_t +
            log2((double)level * exp2(c->log_n) * CN_CBD_ETA * exp2(c->log_qmax - c->log_p) +
                 exp2(c->log_n - 1)) -
            lq;
        p->d_inf = lg_add(p->d_inf, ks);
        p->d_rms = lg_add(p->d_rms, ks);
        break;
    }
    case CN_OP_MODSWITCH: {
        /* the rounding to Q': t/Q' (eps0 + eps1 s [+ eps2 s^2]), eps uniform on
         * [-1/2, 1/2] from the uniform c (independent of s and of each other, zero-mean:
         * variance 1/12 each), so variance (t/Q')^2 (1 + ||s||^2 [+ ||s^2||^2]) / 12 with
         * ||s||^2 <= n and ||s^2||^2 <= n^2 (its mean is 4 n^2 / 9 for uniform ternary s) */
        const double lq2 = c->log_q_prefix[level - op->drop];
        const double e = size == 3 ? log2(1 + exp2(c->log_n) + exp2(2 * c->log_n))
                                   : log2(1 + exp2(c->log_n));
        p->r2 = lg_add(p->r2, 2 * (c->log_t - lq2) + e - log2(12.0));
        break;
    }
    }
}

static double ptrack_bound(const ptrack_t *p)
{
    return lg_add(p->d_inf, log2(NOISE_TAIL_Z) + p->r2 / 2);
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
    ptrack_t pt;
    ptrack_fresh(&pt, c);
    double out = v;
    for (size_t o = 0; o < nops; o++) {
        cn_op_t *op = &ops[o];
        const double lq = c->log_q_prefix[level];
        ptrack_op(&pt, op, level, size, c);
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
        const double pb = ptrack_bound(&pt);
        out = pb < v ? pb : v;
        op->noise_bits = out;
    }
    return out;
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
