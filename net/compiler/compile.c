/* The compiler's driver, cn_plan_compile (docs/net.md, "The compiler"): checks the
 * options, then runs the stages of net/compiler/ in order (compiler.h lists them). */
#include <stdlib.h>

#include "compiler.h"

/* Checks the options a caller can get wrong (each named in diag). */
static cn_status check_opts(const cn_compile_opts_t *o, cn_net_diag_t *diag)
{
    if (o->weight_bits > 30) {
        cn_diag_set(diag, "weight_bits %u: at most 30", o->weight_bits);
        return CN_ERR_INVALID_ARG;
    }
    if (o->n && (o->n < CN_BFV_MIN_N || o->n > CN_BFV_MAX_N || (o->n & (o->n - 1)))) {
        cn_diag_set(diag, "n = %zu: the ring degree must be a power of two in [%d, %d]", o->n,
                    CN_BFV_MIN_N, CN_BFV_MAX_N);
        return CN_ERR_NOT_POWER_OF_TWO;
    }
    if ((o->t_bits && (o->t_bits < 14 || o->t_bits > 60)) ||
        (o->q_bits && (o->q_bits < 30 || o->q_bits > 60))) {
        cn_diag_set(diag, "t_bits %u or q_bits %u out of range (t: 14..60, q: 30..60)",
                    o->t_bits, o->q_bits);
        return CN_ERR_INVALID_ARG;
    }
    if (o->nt > CN_BFV_MAX_T || o->nq > CN_BFV_MAX_Q) {
        cn_diag_set(diag, "%zu plaintext moduli or %zu ciphertext primes: at most %d and %d",
                    o->nt, o->nq, CN_BFV_MAX_T, CN_BFV_MAX_Q);
        return CN_ERR_INVALID_ARG;
    }
    if (o->ncalib && !o->calib) {
        cn_diag_set(diag, "ncalib %zu with no calibration inputs", o->ncalib);
        return CN_ERR_INVALID_ARG;
    }
    if ((unsigned)o->calib_criterion > CN_CALIB_EXACT) {
        cn_diag_set(diag, "unknown calibration criterion %d", (int)o->calib_criterion);
        return CN_ERR_INVALID_ARG;
    }
    if (!(o->calib_tolerance >= 0 && o->calib_tolerance <= 1)) {
        cn_diag_set(diag, "calib_tolerance %g: must be in [0, 1]", o->calib_tolerance);
        return CN_ERR_INVALID_ARG;
    }
    if ((unsigned)o->cost_profile > CN_COST_AVX512IFMA) {
        cn_diag_set(diag, "unknown cost profile %d", (int)o->cost_profile);
        return CN_ERR_INVALID_ARG;
    }
    if (o->security != CN_SEC_128 && o->security != CN_SEC_192 && o->security != CN_SEC_256 &&
        o->security != CN_SEC_NONE_INSECURE) {
        cn_diag_set(diag, "unknown security level %d", (int)o->security);
        return CN_ERR_INVALID_ARG;
    }
    if (o->force_layout < 0 || o->force_layout > 2 || (o->force_layout && !o->batch_size)) {
        cn_diag_set(diag, "force_layout %d: 0, 1 (batched) or 2 (packed), with a batch_size",
                    o->force_layout);
        return CN_ERR_INVALID_ARG;
    }
    if (o->batch_size > ((size_t)1 << 20)) {
        cn_diag_set(diag, "batch_size %zu: at most 2^20 inputs per request (0: batched)",
                    o->batch_size);
        return CN_ERR_INVALID_ARG;
    }
    return CN_OK;
}

/* The compiler (docs/net.md, "The compiler"): one call per stage. */
cn_status cn_plan_compile(cn_plan_t **out, const cn_model_t *m, const cn_compile_opts_t *opts,
                          cn_net_diag_t *diag)
{
    static const cn_compile_opts_t defaults = {0};
    if (!opts)
        opts = &defaults;
    if (diag)
        diag->msg[0] = 0;
    *out = NULL;
    if (!m || m->in_c == 0 || m->in_h == 0 || m->in_w == 0 || (m->nlayers && !m->layers)) {
        cn_diag_set(diag, "model: not initialised");
        return CN_ERR_INVALID_ARG;
    }
    if (m->nlayers == 0) {
        cn_diag_set(diag, "the model has no layers");
        return CN_ERR_INVALID_ARG;
    }
    cn_status st = check_opts(opts, diag);
    if (st != CN_OK)
        return st;
    /* calibration inputs are raw inputs of the model: in its range, or refused */
    const size_t nin = cn_model_inputs(m);
    st = cn_net_check_inputs(opts->calib, opts->ncalib, nin, m->input_min, m->input_max,
                             "calibration input", diag);
    if (st != CN_OK)
        return st;
    const size_t nout = cn_model_outputs(m);
    for (size_t i = 0; opts->calib_labels && i < opts->ncalib; i++)
        if (opts->calib_labels[i] < 0 || (uint64_t)opts->calib_labels[i] >= nout) {
            cn_diag_set(diag, "calibration label %zu is %lld: the model has %zu outputs", i + 1,
                        (long long)opts->calib_labels[i], nout);
            return CN_ERR_INVALID_ARG;
        }
    cn_plan_t *p = calloc(1, sizeof *p);
    if (!p)
        return CN_ERR_NO_MEMORY;
    p->nin = cn_model_inputs(m);
    p->nout = cn_model_outputs(m);
    p->in_min = m->input_min;
    p->in_max = m->input_max;

    /* 1. folding */
    cn_folded_t f = {0};
    st = cn_fold(&f, m, diag);
    const size_t cnt = f.cnt;
    cn_op_t *qnet = st == CN_OK ? calloc(cnt, sizeof *qnet) : NULL;
    if (st == CN_OK && !qnet)
        st = CN_ERR_NO_MEMORY;
    /* 2. quantization: weight_bits for every layer, or the widths per layer that the
     * search on the calibration inputs chooses (search.c) */
    unsigned *wb = st == CN_OK ? calloc(cnt ? cnt : 1, sizeof *wb) : NULL;
    if (st == CN_OK && !wb)
        st = CN_ERR_NO_MEMORY;
    const int search = opts->weight_bits == 0 && opts->ncalib > 0;
    cn_params_memo_t *memo = search ? cn_params_memo_new() : NULL; /* NULL: no memo */
    if (st == CN_OK && search) {
        p->quant = calloc(1, sizeof *p->quant);
        st = p->quant ? cn_search_widths(wb, p->quant, &f, m, opts, memo, diag)
                      : CN_ERR_NO_MEMORY;
        if (st == CN_OK && p->quant->nrows == 0) {
            free(p->quant);
            p->quant = NULL;
        }
    }
    p->weight_bits = 0;
    for (size_t i = 0; st == CN_OK && i < cnt; i++) {
        if (!search || wb[i] == 0)
            wb[i] = opts->weight_bits ? opts->weight_bits : 2;
        if (!f.is_sq[i] && wb[i] > p->weight_bits)
            p->weight_bits = wb[i];
    }
    if (p->weight_bits == 0)
        p->weight_bits = opts->weight_bits ? opts->weight_bits : 2;
    if (st == CN_OK)
        st = cn_quantize(qnet, &f, m->input_scale, wb, &p->out_scale, diag);
    free(wb);
    cn_folded_clear(&f);
    /* 3. exact ranges (then the calibration count at the chosen widths, which the
     * 128-bit reference run can now compute) */
    if (st == CN_OK)
        st = cn_ops_ranges(qnet, cnt, p->nin, p->in_min, p->in_max, &p->out_bound_bits, diag);
    for (size_t r = 0; p->quant && r < p->quant->nrows; r++)
        if (p->quant->rows[r].chosen) /* the search counted it */
            p->calib_mismatch = opts->ncalib - p->quant->rows[r].agree;
    if (st == CN_OK && opts->ncalib > 0 && !p->quant)
        st = cn_calib_mismatches(&p->calib_mismatch, qnet, cnt, m, opts);
    /* 4-6. for every parameter candidate: noise estimate, schedule, cost */
    cn_search_log_t lg = {0};
    if (st == CN_OK)
        st = cn_search_params(p, qnet, cnt, opts, memo, &lg);
    cn_params_memo_free(memo);
    if (st == CN_OK && !p->ops)
        st = cn_search_failure(&lg, p, opts, diag);
    if (st != CN_OK) {
        if (qnet)
            cn_qnet_clear(qnet, cnt);
        free(qnet);
        free(p->quant);
        free(p);
        return st;
    }
    free(qnet); /* the plan's ops own the linear layers now */
    /* the compiler's own output passes the loader's checks; the ranges of every op,
     * inserted ones included */
    st = cn_plan_check(p, diag);
    if (st == CN_OK)
        st = cn_plan_ranges(p, diag);
    /* 7. the layout for the inputs per request (layout_choice.c) */
    if (st == CN_OK)
        st = cn_plan_choose_layout(p, opts, diag);
    if (st != CN_OK) {
        cn_plan_free(p);
        return st;
    }
    *out = p;
    return CN_OK;
}
