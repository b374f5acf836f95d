/* Stage 6 of the compiler, the parameter search (docs/net.md, "Parameters and cost"):
 * every ring degree, plaintext and ciphertext prime size and chain length the options
 * and the security level allow; for each, the schedule (stage 5) and the noise estimate
 * (stage 4); among those that leave the margin, the cheapest per input by the cost model
 * whose server memory estimate is within the bound wins (the cheapest of all when none
 * is: the options forced parameters that need more). */
#include <math.h>
#include <stdlib.h>

#include "compiler.h"

/* Parameters already made in this compile, by (n, nq, q bits, nt, t bits): the search
 * makes the same ones for every candidate of the weight-width search's table, and making
 * them (prime searches, validation) costs more than scheduling. Open addressing. */
typedef struct {
    uint64_t key; /* 0: empty */
    cn_status st;
    cn_bfv_params_t prm;
} memo_entry_t;
/* The candidate plaintext primes of choose_plain_moduli by (n, t bits), found once per
 * compile (the weight-width search runs the parameter search once per candidate). */
typedef struct {
    size_t n, nc;
    unsigned tb;
    uint64_t c[64];
} tcand_entry_t;
#define MEMO_TCAND 160
struct cn_params_memo {
    memo_entry_t *e;
    size_t cap, used;
    tcand_entry_t tc[MEMO_TCAND];
    size_t ntc;
};

cn_params_memo_t *cn_params_memo_new(void)
{
    return calloc(1, sizeof(cn_params_memo_t));
}

void cn_params_memo_free(cn_params_memo_t *m)
{
    if (m)
        free(m->e);
    free(m);
}

static uint64_t memo_key(size_t n, size_t nq, unsigned qb, size_t nt, unsigned tb)
{
    /* n < 2^17, nq and nt <= 32, bits <= 61: distinct fields, never 0 */
    return ((uint64_t)n << 32) | ((uint64_t)nq << 24) | ((uint64_t)qb << 16) |
           ((uint64_t)nt << 8) | tb;
}

static memo_entry_t *memo_slot(memo_entry_t *e, size_t cap, uint64_t key)
{
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
    while (e[i].key && e[i].key != key)
        i = (i + 1) & (cap - 1);
    return &e[i];
}

/* cn_bfv_params_default (P one bit above the q_i), through the memo when there is one */
static cn_status make_params(cn_bfv_params_t *prm, size_t n, size_t nq, unsigned qb, size_t nt,
                             unsigned tb, cn_security sec, cn_params_memo_t *m)
{
    if (!m)
        return cn_bfv_params_default(prm, n, nq, qb, qb + 1, nt, tb, sec);
    const uint64_t key = memo_key(n, nq, qb, nt, tb);
    if (m->cap) {
        const memo_entry_t *x = memo_slot(m->e, m->cap, key);
        if (x->key == key) {
            *prm = x->prm;
            return x->st;
        }
    }
    const cn_status st = cn_bfv_params_default(prm, n, nq, qb, qb + 1, nt, tb, sec);
    if (2 * (m->used + 1) > m->cap) { /* grow (a failed growth only skips the memo) */
        const size_t cap = m->cap ? 2 * m->cap : 1024;
        memo_entry_t *e = calloc(cap, sizeof *e);
        if (!e)
            return st;
        for (size_t i = 0; i < m->cap; i++)
            if (m->e[i].key)
                *memo_slot(e, cap, m->e[i].key) = m->e[i];
        free(m->e);
        m->e = e;
        m->cap = cap;
    }
    memo_entry_t *x = memo_slot(m->e, m->cap, key);
    x->key = key;
    x->st = st;
    x->prm = *prm;
    m->used++;
    return st;
}

/* Up to 64 of the smallest tb-bit batching primes for n (fewer when fewer exist), in
 * c[0..*nc), through the memo when there is one. */
static void plain_candidates(uint64_t *c, size_t *nc, size_t n, unsigned tb,
                             cn_params_memo_t *m)
{
    for (size_t i = 0; m && i < m->ntc; i++)
        if (m->tc[i].n == n && m->tc[i].tb == tb) {
            *nc = m->tc[i].nc;
            for (size_t k = 0; k < *nc; k++)
                c[k] = m->tc[i].c[k];
            return;
        }
    size_t k = 64;
    while (k > 1 && cn_primes_ntt(c, k, tb, n, NULL, 0, 0) != CN_OK)
        k /= 2;
    *nc = k > 1 ? k : 0;
    if (m && m->ntc < MEMO_TCAND) {
        tcand_entry_t *x = &m->tc[m->ntc++];
        x->n = n;
        x->tb = tb;
        x->nc = *nc;
        for (size_t i = 0; i < *nc; i++)
            x->c[i] = c[i];
    }
}

/* The plaintext moduli for a ciphertext chain: of the tb-bit batching primes cand[0..nc)
 * (the smallest ones, increasing), the prm->nt whose r = Q mod t (Q = q_1 ... q_L) is
 * smallest, in increasing order. Encoding m as Delta m with Delta = floor(Q/t) leaves
 * (t/Q) Delta m = m - r m / Q, an error r m / Q that is most of a fresh ciphertext's
 * invariant noise (r m up to r t, against t eta from the error) and that every later op
 * carries; a t with r/t of 2^-k lowers the noise, measured and estimated (noise.c),
 * by about k bits wherever it dominates (among 64 primes the smallest r/t is about 2^-6;
 * Fan-Vercauteren, ePrint 2012/144, Lemma 1, where r_t(q) is this r). The default primes
 * stay when the choice fails validation. */
static void choose_plain_moduli(cn_bfv_params_t *prm, const uint64_t *cand, size_t nc)
{
    if (nc <= prm->nt)
        return;
    uint64_t r[64];
    for (size_t c = 0; c < nc; c++) {
        uint64_t x = 1 % cand[c];
        for (size_t i = 0; i < prm->nq; i++)
            x = (uint64_t)((unsigned __int128)x * (prm->q[i] % cand[c]) % cand[c]);
        r[c] = x;
    }
    cn_bfv_params_t t = *prm;
    unsigned char used[64] = {0};
    for (size_t k = 0; k < prm->nt; k++) {
        size_t b = nc;
        for (size_t c = 0; c < nc; c++) /* smallest r/t; ties: the smaller t */
            if (!used[c] &&
                (b == nc || (double)r[c] / (double)cand[c] < (double)r[b] / (double)cand[b]))
                b = c;
        used[b] = 1;
    }
    size_t k = 0;
    for (size_t c = 0; c < nc; c++) /* cand is increasing: so are the chosen */
        if (used[c])
            t.t[k++] = cand[c];
    if (cn_bfv_params_validate(&t) == CN_OK)
        *prm = t;
}

/* Stage 6: every candidate (n, t bits, q bits, chain length) that the options allow; the
 * cheapest per input, by the cost model, whose schedule (stage 5) and noise estimate
 * (stage 4) leave the margin, among those whose server memory estimate is within
 * cn_compile_memory_limit if any is. qnet (cnt ops) is the quantized network. On success
 * the plan gets the ops (owning shallow copies of qnet's layers), parameters and
 * estimates. */
cn_status cn_search_params(cn_plan_t *p, const cn_op_t *qnet, size_t cnt,
                           const cn_compile_opts_t *opts, cn_params_memo_t *memo,
                           cn_search_log_t *lg)
{
    const double margin = opts->margin_bits ? opts->margin_bits : 10;
    const cn_security sec = opts->security;
    double best_cost = INFINITY;
    cn_op_t *best_ops = NULL;
    size_t best_n = 0;
    double best_v = 0;
    int best_fits = 0;
    double best_server = 0;
    const double mem_limit = cn_compile_memory_limit(opts);
    static const size_t ns[] = {2048, 4096, 8192, 16384, 32768};
    const size_t *nlist = opts->n ? &opts->n : ns;
    const size_t nn = opts->n ? 1 : sizeof ns / sizeof ns[0];
    cn_status st = CN_OK;
    lg->best_budget = -INFINITY;
    for (size_t ni = 0; st == CN_OK && ni < nn; ni++) {
        const size_t n = nlist[ni];
        if (sec != CN_SEC_NONE_INSECURE && cn_security_max_log_q(n, sec) == 0)
            continue;
        for (unsigned tb = 14; st == CN_OK && tb <= 60; tb++) {
            if (opts->t_bits && opts->t_bits != tb)
                continue;
            if (!opts->t_bits && tb % 2)
                continue; /* a coarser grid is enough for the search */
            /* plaintext moduli: enough tb-bit primes for 2 B + 1 (they depend on n and tb
             * only: found once for every ciphertext chain below) */
            size_t nt = 0;
            uint64_t tp[CN_BFV_MAX_T];
            for (size_t k = 1; k <= CN_BFV_MAX_T; k++) {
                if (cn_primes_ntt(tp, k, tb, n, NULL, 0, 0) != CN_OK)
                    break;
                if (cn_plan_moduli_fit(tp, k, p->out_bound_bits)) {
                    nt = k;
                    break;
                }
            }
            int wraps = 0;
            if (opts->nt && nt != opts->nt) {
                /* forced: more moduli than needed, or fewer (outputs then wrap mod T, as
                 * in other libraries' one-modulus benchmarks) */
                wraps = nt == 0 || opts->nt < nt;
                nt = opts->nt;
                if (nt > CN_BFV_MAX_T || cn_primes_ntt(tp, nt, tb, n, NULL, 0, 0) != CN_OK)
                    continue;
            }
            if (!nt)
                continue;
            /* candidates for choose_plain_moduli: up to 64 of the smallest tb-bit primes */
            uint64_t tcand[64];
            size_t ntc;
            plain_candidates(tcand, &ntc, n, tb, memo);
            for (unsigned qb = 30; st == CN_OK && qb <= 60; qb++) {
                if (opts->q_bits && opts->q_bits != qb)
                    continue;
                if (!opts->q_bits && qb % 2 && qb != 43 && qb != 47 && qb != 49)
                    continue; /* even sizes, and the largest below 2^44 and 2^50; 47:
                               * the largest below 2^47.09, the fast linear kernel's bound
                               * (2 max|w| q < 2^52, cost.c) for 4-bit weights */
                size_t nq_max = opts->nq;
                if (!nq_max) {
                    nq_max = sec == CN_SEC_NONE_INSECURE
                                 ? 12
                                 : cn_bfv_params_max_primes(n, qb, qb + 1, sec);
                    if (nq_max > CN_BFV_MAX_Q)
                        nq_max = CN_BFV_MAX_Q;
                }
                for (size_t nq = opts->nq ? opts->nq : 1; st == CN_OK && nq <= nq_max; nq++) {
                    cn_bfv_params_t prm;
                    if (make_params(&prm, n, nq, qb, nt, tb, sec, memo) != CN_OK)
                        continue;
                    choose_plain_moduli(&prm, tcand, ntc);
                    lg->secure++;
                    cn_op_t *ops;
                    size_t nops;
                    double v;
                    if (cn_schedule(&ops, &nops, qnet, cnt, p->nin, &prm, margin,
                                    opts->experimental.no_mod_switch,
                                    opts->experimental.eager_relin, &v) != CN_OK) {
                        st = CN_ERR_NO_MEMORY;
                        break;
                    }
                    const double budget = -v - 1;
                    lg->noise_tried++;
                    if (budget > lg->best_budget) {
                        lg->best_budget = budget;
                        lg->best_n = n;
                        lg->best_nq = nq;
                        lg->best_logq = cn_bfv_params_log_qp(&prm);
                    }
                    /* layer by layer first (cheap); with the server's chunks (the
                     * default) only when that is over the bound and the candidate can
                     * still win: chunks add L2's passes, never remove cost, so a
                     * candidate no cheaper layer by layer than a best that fits loses
                     * (cn_plan_chunks tries up to 13 chunk counts, each a segment
                     * schedule: run for every candidate it cost a compile of the MNIST
                     * model about 27 s of CPU more) */
                    cn_plan_estimate_t e;
                    cn_plan_estimate_chunks(&e, ops, nops, p->nin, &prm, opts->cost_profile, 0);
                    const int ok_noise =
                        budget >= margin || opts->experimental.allow_undersized;
                    if (!opts->experimental.layer_bound && ok_noise && e.memory > mem_limit &&
                        nops <= CN_PLAN_MAX_OPS &&
                        (!best_ops || !best_fits ||
                         e.seconds / (double)n < best_cost / (double)best_n))
                        cn_plan_estimate(&e, ops, nops, p->nin, &prm, opts->cost_profile);
                    const double cost = e.seconds;
                    /* within the memory bound beats above it; then cheaper per input */
                    const int fits = e.memory <= mem_limit;
                    if (nops > CN_PLAN_MAX_OPS) {
                        lg->too_long++;
                        free(ops);
                    } else if (ok_noise && (!best_ops || fits > best_fits ||
                                            (fits == best_fits &&
                                             cost / (double)n < best_cost / (double)best_n))) {
                        free(best_ops);
                        best_ops = ops;
                        best_cost = cost;
                        best_n = n;
                        best_v = v;
                        best_fits = fits;
                        best_server = e.server_s;
                        p->nops = nops;
                        p->prm = prm;
                        p->wraps = wraps;
                    } else {
                        free(ops);
                    }
                }
            }
        }
    }
    if (st != CN_OK || !best_ops) {
        free(best_ops);
        return st;
    }
    p->ops = best_ops;
    p->budget = -best_v - 1;
    p->cost = best_cost;
    p->cost_server = best_server;
    if (opts->experimental.layer_bound) { /* as the server will run it (its chunks) */
        cn_plan_estimate_t e;
        cn_plan_estimate(&e, p->ops, p->nops, p->nin, &p->prm, opts->cost_profile);
        p->cost = e.seconds;
        p->cost_server = e.server_s;
    }
    return CN_OK;
}

/* Explains why cn_search_params found nothing. */
cn_status cn_search_failure(const cn_search_log_t *lg, const cn_plan_t *p,
                            const cn_compile_opts_t *opts, cn_net_diag_t *diag)
{
    const double margin = opts->margin_bits ? opts->margin_bits : 10;
    const char *sec = opts->security == CN_SEC_NONE_INSECURE ? "no"
                      : opts->security == CN_SEC_192         ? "192-bit"
                      : opts->security == CN_SEC_256         ? "256-bit"
                                                             : "128-bit";
    if (lg->too_long && lg->too_long == lg->noise_tried) {
        cn_diag_set(diag,
                    "the network needs more than %d ops after scheduling (squares, "
                    "relinearizations and modulus switches included): too deep for a plan",
                    CN_PLAN_MAX_OPS);
        return CN_ERR_UNSUPPORTED;
    }
    if (lg->noise_tried > 0) {
        cn_diag_set(diag,
                    "no parameters leave the %.0f-bit noise budget margin: the best "
                    "candidate (n = %zu, %zu ciphertext primes, log2 qP = %.0f, %s security) "
                    "leaves an estimated %.1f bits of noise budget for outputs of 2^%.1f; "
                    "allow more primes or a larger n, or lower the weight bits",
                    margin, lg->best_n, lg->best_nq, lg->best_logq, sec, lg->best_budget,
                    p->out_bound_bits);
        return CN_ERR_NOISE_EXHAUSTED;
    }
    if (opts->security != CN_SEC_NONE_INSECURE && lg->secure == 0) {
        cn_diag_set(diag,
                    "no ring degree%s and prime sizes the options allow meet %s "
                    "security (HomomorphicEncryption.org table); allow a larger n",
                    opts->n ? " (n forced)" : "", sec);
        return CN_ERR_INSECURE;
    }
    cn_diag_set(diag,
                "no parameters exist for the forced options (n %zu, t bits %u, %zu "
                "plaintext moduli, q bits %u, %zu primes): not enough NTT-friendly primes of "
                "these sizes for this n, or a plaintext modulus too large for the ciphertext "
                "modulus",
                opts->n, opts->t_bits, opts->nt, opts->q_bits, opts->nq);
    return CN_ERR_NOT_ENOUGH_PRIMES;
}
