/* What the compiler's stages share (docs/net.md, "The compiler"). One file per stage:
 *   fold.c      1. folding: the model as float linear maps and squares
 *   quantize.c  2. quantization at given weight widths
 *   search.c    2. the weight-width search on calibration inputs (the quantization policy)
 *   ranges.c    3. exact ranges (FLINT integers), also run by the plan loader
 *   noise.c     4. the noise estimate, also run by the plan loader
 *   schedule.c  5. relinearizations and modulus switches
 *   cost.c      the cost model that stage 6 minimises
 *   params.c    6. the parameter search
 *   compile.c   the driver, cn_plan_compile: one call per stage, in this order. */
#ifndef CN_NET_COMPILER_H
#define CN_NET_COMPILER_H

#include "../net_internal.h"

typedef struct cn_params_memo cn_params_memo_t;

/* A float linear map in CSR form: out_j = b_j + sum over k in [row[j], row[j + 1]) of
 * w[k] in[col[k]]. */
typedef struct {
    size_t nin, nout;
    size_t *row; /* [nout + 1] */
    uint32_t *col;
    double *w;
    double *b; /* [nout] */
} cn_flin_t;

void cn_flin_clear(cn_flin_t *f);

/* Stage 1's output: linear maps and squares in order; first[i]..last[i] are the model
 * layers (1-based) that item i came from, for messages. */
typedef struct {
    size_t cnt;
    cn_flin_t *lin; /* [cnt]: the map of a linear item (empty for a square) */
    int *is_sq;     /* [cnt] */
    size_t *first, *last;
} cn_folded_t;

void cn_folded_clear(cn_folded_t *f);
/* Stage 1. Refuses (with diag) a model that computes nothing and folds whose weights
 * leave the double range. */
cn_status cn_fold(cn_folded_t *out, const cn_model_t *m, cn_net_diag_t *diag);

/* Stage 2: the quantized network qnet[f->cnt] (CN_OP_LINEAR and CN_OP_SQUARE ops, no
 * schedule yet) at weight widths wb[f->cnt] (one per linear item, 1..30; squares ignore
 * theirs), and the scale of its outputs. */
cn_status cn_quantize(cn_op_t *qnet, const cn_folded_t *f, double in_scale, const unsigned *wb,
                      double *out_scale, cn_net_diag_t *diag);
/* Stage 2's search (search.c, docs/net.md "Quantization policy"): a weight width per
 * linear item in wb[f->cnt] that meets opts' calibration criterion with the fewest
 * plaintext bits (and, among those the parameter search can run, the least estimated
 * time), or else comes closest to it; *rep gets the table of what the search saw. nin,
 * in_min, in_max: the model's inputs. */
cn_status cn_search_widths(unsigned *wb, cn_quant_report_t *rep, const cn_folded_t *f,
                           const cn_model_t *m, const cn_compile_opts_t *opts,
                           cn_params_memo_t *memo, cn_net_diag_t *diag);
/* Argmax mismatches between the float model m and the integer ops on opts' calibration
 * inputs. */
cn_status cn_calib_mismatches(size_t *miss, const cn_op_t *ops, size_t nops,
                              const cn_model_t *m, const cn_compile_opts_t *opts);
/* Frees the linear layers of a quantized network of cnt ops. */
void cn_qnet_clear(cn_op_t *qnet, size_t cnt);

/* Stage 5: the full op list from qnet (cnt ops) for parameters prm; *final_v the final
 * log2 of the invariant noise. */
cn_status cn_schedule(cn_op_t **ops, size_t *nops, const cn_op_t *qnet, size_t cnt, size_t nin,
                      const cn_bfv_params_t *prm, double margin, int no_ms, int eager,
                      double *final_v);

/* The bound on the server's estimated peak memory the parameter search applies (bytes):
 * opts->memory_limit, or CN_PLAN_MEMORY_DEFAULT when 0. */
static inline double cn_compile_memory_limit(const cn_compile_opts_t *opts)
{
    return opts->memory_limit ? (double)opts->memory_limit : (double)CN_PLAN_MEMORY_DEFAULT;
}

/* What the parameter search saw, to explain a failure. */
typedef struct {
    size_t secure;      /* candidates (n, t bits, q bits, chain) that passed security */
    size_t noise_tried; /* candidates whose noise was estimated */
    size_t too_long;    /* schedules with more than CN_PLAN_MAX_OPS ops */
    double best_budget; /* largest budget estimated (bits) */
    size_t best_n, best_nq;
    double best_logq;
} cn_search_log_t;

/* Encryption parameters made during one compile, reused by later parameter searches
 * (the weight-width search costs several networks); NULL from new: out of memory. */
cn_params_memo_t *cn_params_memo_new(void);
void cn_params_memo_free(cn_params_memo_t *m);

/* Stage 6: the cheapest parameters and schedule for qnet; p->ops stays NULL when no
 * candidate meets the margin (cn_search_failure then says why). memo may be NULL. */
cn_status cn_search_params(cn_plan_t *p, const cn_op_t *qnet, size_t cnt,
                           const cn_compile_opts_t *opts, cn_params_memo_t *memo,
                           cn_search_log_t *lg);
cn_status cn_search_failure(const cn_search_log_t *lg, const cn_plan_t *p,
                            const cn_compile_opts_t *opts, cn_net_diag_t *diag);

/* The index of the first largest of v[0..n) (n >= 1): a network's predicted class, for
 * the float network (f64) and the integer one (i128); quantize.c and search.c. */
static inline size_t cn_argmax_f64(const double *v, size_t n)
{
    size_t b = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[b])
            b = i;
    return b;
}
static inline size_t cn_argmax_i128(const cn_int128 *v, size_t n)
{
    size_t b = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[b])
            b = i;
    return b;
}

#endif
