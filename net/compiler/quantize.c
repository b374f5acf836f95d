/* Stage 2 of the compiler, quantization (docs/net.md, "The compiler"). Input: the folded
 * float network and a weight width per linear layer (forced, or searched by search.c).
 * Output: the integer network (weights of b bits, scaled biases) and the scale of its
 * outputs.
 * Rounding is half away from zero; every scale and scaled value is checked before it is
 * converted (no float-to-integer conversion out of range). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"

/* round half away from zero, documented in docs/net.md */
static int64_t round_w(double x)
{
    return (int64_t)llround(x);
}

static cn_int128 round_i128(double x)
{
    return x < 0 ? -(cn_int128)(-x + 0.5) : (cn_int128)(x + 0.5);
}

/* Quantizes f with weight scale s and output scale so (bias = round(b * so)). */
static cn_status quantize_layer(cn_lin_t *l, const cn_flin_t *f, double s, double so)
{
    memset(l, 0, sizeof *l);
    const size_t nnz = f->row[f->nout];
    l->nin = f->nin;
    l->nout = f->nout;
    l->row = calloc(f->nout + 1, sizeof *l->row);
    l->col = malloc((nnz ? nnz : 1) * sizeof *l->col);
    l->w = malloc((nnz ? nnz : 1) * sizeof *l->w);
    l->bias = malloc((f->nout ? f->nout : 1) * sizeof *l->bias);
    if (!l->row || !l->col || !l->w || !l->bias) {
        cn_lin_clear(l);
        return CN_ERR_NO_MEMORY;
    }
    l->dense = nnz == f->nin * f->nout;
    size_t k = 0;
    for (size_t j = 0; j < f->nout; j++) {
        l->row[j] = k;
        for (size_t x = f->row[j]; x < f->row[j + 1]; x++) {
            const int64_t w = round_w(f->w[x] * s);
            if (w == 0 && !l->dense)
                continue;
            l->col[k] = f->col[x];
            l->w[k++] = w;
            const uint64_t a = (uint64_t)(w < 0 ? -w : w);
            if (a > l->wmax)
                l->wmax = a;
        }
        l->bias[j] = round_i128(f->b[j] * so);
    }
    l->row[f->nout] = k;
    return cn_lin_partition(l);
}

/* The float network's outputs on the calibration inputs (fo[ncalib][nout]). */
static cn_status float_outputs(double **fo, const cn_model_t *m, const cn_compile_opts_t *opts)
{
    const size_t nin = cn_model_inputs(m), nout = cn_model_outputs(m);
    *fo = malloc((opts->ncalib ? opts->ncalib : 1) * nout * sizeof **fo);
    cn_status st = *fo ? CN_OK : CN_ERR_NO_MEMORY;
    for (size_t s = 0; st == CN_OK && s < opts->ncalib; s++)
        st = cn_model_forward(*fo + s * nout, m, opts->calib + s * nin);
    return st;
}

/* *miss = calibration inputs whose argmax differs between the float outputs fo and the
 * integer ops (whose ranges must already be checked). */
static cn_status misses(size_t *miss, const cn_op_t *ops, size_t nops, const cn_model_t *m,
                        const double *fo, const cn_compile_opts_t *opts)
{
    const size_t nin = cn_model_inputs(m), nout = cn_model_outputs(m);
    cn_int128 *io = malloc((opts->ncalib ? opts->ncalib : 1) * nout * sizeof *io);
    cn_status st = io ? cn_ops_eval_plain(io, ops, nops, nin, nout, opts->calib, opts->ncalib)
                      : CN_ERR_NO_MEMORY;
    *miss = 0;
    for (size_t s = 0; st == CN_OK && s < opts->ncalib; s++)
        *miss += cn_argmax_f64(fo + s * nout, nout) != cn_argmax_i128(io + s * nout, nout);
    free(io);
    return st;
}

cn_status cn_calib_mismatches(size_t *miss, const cn_op_t *ops, size_t nops,
                              const cn_model_t *m, const cn_compile_opts_t *opts)
{
    double *fo;
    cn_status st = float_outputs(&fo, m, opts);
    if (st == CN_OK)
        st = misses(miss, ops, nops, m, fo, opts);
    free(fo);
    return st;
}

void cn_qnet_clear(cn_op_t *qnet, size_t cnt)
{
    for (size_t i = 0; i < cnt; i++)
        if (qnet[i].kind == CN_OP_LINEAR)
            cn_lin_clear(&qnet[i].lin);
}

/* A scale is usable when it is a positive normal double. */
static int scale_ok(double s)
{
    return isnormal(s) && s > 0;
}

/* The quantized network at weight widths wb[f->cnt] (one per linear item; squares ignore
 * theirs): the integer value of
 * every quantity is its float value times a scale S, 1 / input_scale at the input,
 * squared by a square and multiplied by s at a linear layer, where s makes the largest
 * |weight| 2^wb[i] - 1 (or, for a layer with no nonzero weight, the largest |bias|: its
 * outputs get the same precision). Every scale and scaled bias is checked before it is
 * converted: CN_ERR_OUT_OF_RANGE names the layers and the cause. qnet has f->cnt items;
 * on error the ones made are freed. */
cn_status cn_quantize(cn_op_t *qnet, const cn_folded_t *f, double in_scale, const unsigned *wb,
                      double *out_scale, cn_net_diag_t *diag)
{
    double S = 1.0 / in_scale;
    size_t width = 0;
    cn_status st = CN_OK;
    memset(qnet, 0, f->cnt * sizeof *qnet);
    if (!scale_ok(S)) {
        cn_diag_set(diag, "input scale %g: its inverse %g is not a usable scale", in_scale, S);
        return CN_ERR_OUT_OF_RANGE;
    }
    for (size_t i = 0; i < f->cnt && st == CN_OK; i++) {
        if (f->is_sq[i]) {
            qnet[i].kind = CN_OP_SQUARE;
            qnet[i].width = width;
            if (!scale_ok(S * S)) {
                cn_diag_set(diag,
                            "model layer %zu (square): the integer scale %g squared "
                            "is out of the range of a double (input scale %g); rescale the "
                            "inputs or the weights",
                            f->first[i], S, in_scale);
                st = CN_ERR_OUT_OF_RANGE;
            }
            S = S * S;
            continue;
        }
        const cn_flin_t *fl = &f->lin[i];
        const double top = exp2(wb[i]) - 1;
        double mx = 0, bmx = 0;
        for (size_t k = 0; k < fl->row[fl->nout]; k++)
            mx = fmax(mx, fabs(fl->w[k]));
        for (size_t j = 0; j < fl->nout; j++)
            bmx = fmax(bmx, fabs(fl->b[j]));
        const double s = mx > 0 ? top / mx : bmx > 0 ? top / (bmx * S) : 1;
        const double so = s * S;
        if (!scale_ok(s) || !scale_ok(so)) {
            cn_diag_set(diag,
                        "model layers %zu-%zu: no usable integer scale (largest |weight| "
                        "%g, largest |bias| %g, incoming scale %g, input scale %g): the "
                        "weights are too small or the scales too extreme for %u-bit weights",
                        f->first[i], f->last[i], mx, bmx, S, in_scale, wb[i]);
            st = CN_ERR_OUT_OF_RANGE;
            break;
        }
        if (bmx * so >= 0x1p126) {
            cn_diag_set(diag,
                        "model layers %zu-%zu: biases scaled to integers reach 2^%.1f, "
                        "more than the 126 bits carried (largest |bias| %g, largest |weight| "
                        "%g, output scale %g, input scale %g): the weights are tiny next to "
                        "the biases or the input scale is extreme; rescale the layer",
                        f->first[i], f->last[i], log2(bmx * so), bmx, mx, so, in_scale);
            st = CN_ERR_OUT_OF_RANGE;
            break;
        }
        qnet[i].kind = CN_OP_LINEAR;
        st = quantize_layer(&qnet[i].lin, fl, s, so);
        S = so;
        width = qnet[i].width = fl->nout;
    }
    if (st != CN_OK) {
        cn_qnet_clear(qnet, f->cnt);
        return st;
    }
    if (out_scale)
        *out_scale = S;
    return CN_OK;
}
