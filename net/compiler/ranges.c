/* Stage 3 of the compiler, exact ranges (docs/net.md, "The compiler"): interval
 * arithmetic on big integers (FLINT fmpz) through the integer network, giving each op's
 * largest |value| and hence the plaintext bits the outputs need; the plan loader runs
 * it too, so a plan's ranges are recomputed, never trusted. */
#include <math.h>
#include <stdlib.h>

#include <flint/fmpz.h>
#include <flint/fmpz_vec.h>

#include "compiler.h"

static double fmpz_log2(const fmpz_t x)
{
    return fmpz_is_zero(x) ? 0 : fmpz_dlog(x) / log(2.0);
}

static void fmpz_set_i128(fmpz_t x, cn_int128 v)
{
    const unsigned __int128 u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
    fmpz_set_ui(x, (uint64_t)(u >> 64));
    fmpz_mul_2exp(x, x, 64);
    fmpz_add_ui(x, x, (uint64_t)u);
    if (v < 0)
        fmpz_neg(x, x);
}

cn_status cn_ops_ranges(cn_op_t *ops, size_t nops, size_t nin, int64_t in_min, int64_t in_max,
                        double *out_bits, cn_net_diag_t *diag)
{
    size_t maxw = nin;
    for (size_t i = 0; i < nops; i++)
        if (ops[i].width > maxw)
            maxw = ops[i].width;
    fmpz *lo = _fmpz_vec_init(maxw), *hi = _fmpz_vec_init(maxw);
    fmpz *nlo = _fmpz_vec_init(maxw), *nhi = _fmpz_vec_init(maxw);
    fmpz *mag = _fmpz_vec_init(maxw); /* max(|lo|, |hi|) of the op's inputs */
    fmpz_t t, psum, vmax, pmax, lim;
    fmpz_init(t);
    fmpz_init(psum);
    fmpz_init(vmax);
    fmpz_init(pmax);
    fmpz_init(lim);
    fmpz_one(lim);
    fmpz_mul_2exp(lim, lim, 126);
    cn_status st = CN_OK;
    size_t width = nin;
    for (size_t i = 0; i < width; i++) {
        fmpz_set_si(lo + i, in_min);
        fmpz_set_si(hi + i, in_max);
    }
    fmpz_zero(vmax);
    for (size_t i = 0; i < width; i++)
        if (fmpz_cmpabs(lo + i, vmax) > 0 || fmpz_cmpabs(hi + i, vmax) > 0)
            fmpz_abs(vmax, fmpz_cmpabs(lo + i, hi + i) > 0 ? lo + i : hi + i);
    double in_bits = fmpz_log2(vmax);
    for (size_t o = 0; o < nops && st == CN_OK; o++) {
        cn_op_t *op = &ops[o];
        for (size_t i = 0; i < width; i++)
            fmpz_abs(mag + i, fmpz_cmpabs(lo + i, hi + i) > 0 ? lo + i : hi + i);
        fmpz_zero(pmax);
        if (op->kind == CN_OP_LINEAR) {
            const cn_lin_t *l = &op->lin;
            for (size_t j = 0; j < l->nout; j++) {
                fmpz_set_i128(t, l->bias[j]);
                fmpz_set(nlo + j, t);
                fmpz_set(nhi + j, t);
                fmpz_abs(psum, t);
                for (size_t k = l->row[j]; k < l->row[j + 1]; k++) {
                    const int64_t w = l->w[k];
                    const uint32_t i = l->col[k];
                    if (w > 0) {
                        fmpz_addmul_ui(nlo + j, lo + i, (uint64_t)w);
                        fmpz_addmul_ui(nhi + j, hi + i, (uint64_t)w);
                        fmpz_addmul_ui(psum, mag + i, (uint64_t)w);
                    } else if (w < 0) {
                        fmpz_submul_ui(nlo + j, hi + i, (uint64_t)-w);
                        fmpz_submul_ui(nhi + j, lo + i, (uint64_t)-w);
                        fmpz_addmul_ui(psum, mag + i, (uint64_t)-w);
                    }
                }
                if (fmpz_cmp(psum, pmax) > 0)
                    fmpz_set(pmax, psum);
            }
            width = l->nout;
        } else if (op->kind == CN_OP_SQUARE) {
            for (size_t i = 0; i < width; i++) {
                fmpz_mul(nhi + i, mag + i, mag + i);
                if (fmpz_sgn(lo + i) > 0)
                    fmpz_mul(nlo + i, lo + i, lo + i);
                else if (fmpz_sgn(hi + i) < 0)
                    fmpz_mul(nlo + i, hi + i, hi + i);
                else
                    fmpz_zero(nlo + i);
            }
        } else {
            for (size_t i = 0; i < width; i++) {
                fmpz_set(nlo + i, lo + i);
                fmpz_set(nhi + i, hi + i);
            }
        }
        fmpz_zero(vmax);
        for (size_t i = 0; i < width; i++) {
            if (fmpz_cmpabs(nlo + i, vmax) > 0)
                fmpz_abs(vmax, nlo + i);
            if (fmpz_cmpabs(nhi + i, vmax) > 0)
                fmpz_abs(vmax, nhi + i);
        }
        op->range_bits = fmpz_log2(vmax);
        if (fmpz_cmp(vmax, lim) >= 0 || fmpz_cmp(pmax, lim) >= 0) {
            const int sums = fmpz_cmp(pmax, vmax) > 0;
            cn_diag_set(diag,
                        "op %zu (%s): %s reach 2^%.1f, more than the 126 bits the "
                        "integer reference carries (lower the weight bits or the input range)",
                        o + 1, cn_op_name(op), sums ? "partial sums of its outputs" : "values",
                        fmpz_log2(sums ? pmax : vmax));
            st = CN_ERR_OUT_OF_RANGE;
        }
        fmpz *sw;
        sw = lo, lo = nlo, nlo = sw;
        sw = hi, hi = nhi, nhi = sw;
    }
    if (st == CN_OK)
        *out_bits = nops ? ops[nops - 1].range_bits : in_bits;
    _fmpz_vec_clear(lo, maxw);
    _fmpz_vec_clear(hi, maxw);
    _fmpz_vec_clear(nlo, maxw);
    _fmpz_vec_clear(nhi, maxw);
    _fmpz_vec_clear(mag, maxw);
    fmpz_clear(t);
    fmpz_clear(psum);
    fmpz_clear(vmax);
    fmpz_clear(pmax);
    fmpz_clear(lim);
    return st;
}

cn_status cn_plan_ranges(cn_plan_t *p, cn_net_diag_t *diag)
{
    return cn_ops_ranges(p->ops, p->nops, p->nin, p->in_min, p->in_max, &p->out_bound_bits,
                         diag);
}

int cn_plan_moduli_fit(const uint64_t *t, size_t k, double out_bits)
{
    double lt = 0;
    for (size_t x = 0; x < k; x++)
        lt += log2((double)t[x]);
    /* T > 2 B + 1 with a bit to spare: decoding in (-T/2, T/2] is exact */
    return lt > out_bits + 2 + 1e-9;
}
