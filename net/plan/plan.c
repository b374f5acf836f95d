/* The compiled plan (docs/net.md): its integer linear layers, the reference run on
 * plaintext integers, accessors, printing and freeing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../net_internal.h"

void cn_lin_clear(cn_lin_t *l)
{
    free(l->woff);
    free(l->wpair);
    free(l->rneg);
    free(l->row);
    free(l->col);
    free(l->w);
    free(l->bias);
    memset(l, 0, sizeof *l);
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static int cmp_u64(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The largest number of nonzero rows of l proportional to one another (equal after
 * dividing by the gcd of their weights and fixing the sign): their outputs' random noise
 * parts are correlated, not independent (noise.c). By a hash of each row's canonical form
 * (order-independent: a sum over its terms), so a collision only counts more; nout (the
 * worst case) when memory is short. */
static double lin_row_multiplicity(const cn_lin_t *l)
{
    uint64_t *h = malloc((l->nout ? l->nout : 1) * sizeof *h);
    if (!h)
        return (double)l->nout;
    size_t m = 0;
    for (size_t j = 0; j < l->nout; j++) {
        uint64_t g = 0;
        int64_t first = 0;
        for (size_t k = l->row[j]; k < l->row[j + 1]; k++) {
            uint64_t a = l->w[k] < 0 ? 0 - (uint64_t)l->w[k] : (uint64_t)l->w[k];
            if (a && (!first || l->col[k] < (uint32_t)first - 1))
                first = (int64_t)l->col[k] + 1; /* the sign of the lowest column's weight */
            while (a) {
                const uint64_t r = g % a;
                g = a;
                a = r;
            }
        }
        if (!g)
            continue; /* a zero row: no random part */
        int neg = 0;
        for (size_t k = l->row[j]; k < l->row[j + 1]; k++)
            if ((int64_t)l->col[k] + 1 == first)
                neg = l->w[k] < 0;
        uint64_t x = 0;
        for (size_t k = l->row[j]; k < l->row[j + 1]; k++) {
            const int64_t w = (neg ? -l->w[k] : l->w[k]) / (int64_t)g;
            if (w)
                x += mix64(((uint64_t)l->col[k] << 32) ^ (uint64_t)(uint32_t)w ^
                           0x9e3779b97f4a7c15ull);
        }
        h[m++] = x;
    }
    qsort(h, m, sizeof *h, cmp_u64);
    size_t best = m ? 1 : 0, run = 1;
    for (size_t i = 1; i < m; i++) {
        run = h[i] == h[i - 1] ? run + 1 : 1;
        if (run > best)
            best = run;
    }
    free(h);
    return best ? (double)best : 1;
}

cn_status cn_lin_partition(cn_lin_t *l)
{
    free(l->rneg);
    free(l->woff);
    free(l->wpair);
    l->rneg = NULL;
    l->woff = NULL;
    l->wpair = NULL;
    l->l1max = 0;
    l->l2max = 0;
    for (size_t j = 0; j < l->nout; j++) {
        double sum = 0, sq = 0;
        for (size_t k = l->row[j]; k < l->row[j + 1]; k++) {
            sum += fabs((double)l->w[k]);
            sq += (double)l->w[k] * (double)l->w[k];
        }
        if (sum > l->l1max)
            l->l1max = sum;
        if (sqrt(sq) > l->l2max)
            l->l2max = sqrt(sq);
    }
    l->rowmult = lin_row_multiplicity(l);
    l->dense = l->row[l->nout] == l->nin * l->nout;
    if (l->dense) {
        l->wmax = 0;
        for (size_t k = 0; k < l->row[l->nout]; k++) {
            const uint64_t a = l->w[k] < 0 ? 0 - (uint64_t)l->w[k] : (uint64_t)l->w[k];
            if (a > l->wmax)
                l->wmax = a;
            if (l->col[k] != k % l->nin) /* not in column order: treat as sparse */
                l->dense = 0;
        }
    }
    if (l->dense) {
        const size_t nnz = l->row[l->nout];
        l->woff = malloc((nnz ? nnz : 1) * sizeof *l->woff);
        if (!l->woff)
            return CN_ERR_NO_MEMORY;
        for (size_t k = 0; k < nnz; k++) /* wrapping: exact for |w| <= wmax < 2^63 */
            l->woff[k] = (uint64_t)l->w[k] + l->wmax;
        if (2 * l->wmax >= ((uint64_t)1 << CN_LIN_SPLIT_BITS))
            return CN_OK;
        const size_t np = (l->nin + 1) / 2;
        const size_t npairs = l->nout * np;
        l->wpair = malloc((npairs ? npairs : 1) * sizeof *l->wpair);
        if (!l->wpair)
            return CN_ERR_NO_MEMORY;
        for (size_t j = 0; j < l->nout; j++)
            for (size_t q = 0; q < np; q++) {
                const uint64_t *w = l->woff + j * l->nin + 2 * q;
                l->wpair[j * np + q] =
                    (uint32_t)w[0] | (2 * q + 1 < l->nin ? (uint32_t)w[1] << 16 : 0);
            }
        return CN_OK;
    }
    l->rneg = malloc((l->nout ? l->nout : 1) * sizeof *l->rneg);
    const size_t nnz = l->row[l->nout];
    uint32_t *tc = malloc((nnz ? nnz : 1) * sizeof *tc);
    int64_t *tw = malloc((nnz ? nnz : 1) * sizeof *tw);
    if (!l->rneg || !tc || !tw) {
        free(tc);
        free(tw);
        return CN_ERR_NO_MEMORY;
    }
    l->wmax = 0;
    for (size_t j = 0; j < l->nout; j++) {
        size_t o = l->row[j];
        for (int neg = 0; neg < 2; neg++) {
            if (neg)
                l->rneg[j] = o;
            for (size_t k = l->row[j]; k < l->row[j + 1]; k++)
                if ((l->w[k] < 0) == neg) {
                    tc[o] = l->col[k];
                    tw[o++] = l->w[k];
                }
        }
        for (size_t k = l->row[j]; k < l->row[j + 1]; k++) {
            const uint64_t a = l->w[k] < 0 ? 0 - (uint64_t)l->w[k] : (uint64_t)l->w[k];
            if (a > l->wmax)
                l->wmax = a;
        }
    }
    memcpy(l->col, tc, nnz * sizeof *tc);
    memcpy(l->w, tw, nnz * sizeof *tw);
    free(tc);
    free(tw);
    return CN_OK;
}

void cn_op_eval_plain(cn_int128 *b, const cn_int128 *a, size_t win, const cn_op_t *op,
                      size_t count)
{
    if (op->kind == CN_OP_LINEAR) {
        const cn_lin_t *l = &op->lin;
        for (size_t s = 0; s < count; s++)
            for (size_t j = 0; j < l->nout; j++) {
                cn_int128 acc = l->bias[j];
                for (size_t k = l->row[j]; k < l->row[j + 1]; k++)
                    acc += (cn_int128)l->w[k] * a[s * win + l->col[k]];
                b[s * l->nout + j] = acc;
            }
    } else {
        for (size_t i = 0; i < count * win; i++)
            b[i] = op->kind == CN_OP_SQUARE ? a[i] * a[i] : a[i];
    }
}

cn_status cn_ops_eval_plain(cn_int128 *out, const cn_op_t *ops, size_t nops, size_t nin,
                            size_t nout, const int64_t *x, size_t count)
{
    size_t maxw = nin;
    for (size_t i = 0; i < nops; i++)
        if (ops[i].width > maxw)
            maxw = ops[i].width;
    cn_int128 *a = malloc(maxw * sizeof *a), *b = malloc(maxw * sizeof *b);
    if (!a || !b) {
        free(a);
        free(b);
        return CN_ERR_NO_MEMORY;
    }
    for (size_t s = 0; s < count; s++) {
        size_t width = nin;
        for (size_t i = 0; i < width; i++)
            a[i] = x[s * nin + i];
        for (size_t o = 0; o < nops; o++) {
            cn_op_eval_plain(b, a, width, &ops[o], 1);
            cn_int128 *t = a;
            a = b;
            b = t;
            width = ops[o].width;
        }
        memcpy(out + s * nout, a, nout * sizeof *a);
    }
    free(a);
    free(b);
    return CN_OK;
}

cn_status cn_plan_eval_plain(cn_int128 *out, const cn_plan_t *plan, const int64_t *x,
                             size_t count)
{
    return cn_ops_eval_plain(out, plan->ops, plan->nops, plan->nin, plan->nout, x, count);
}

void cn_plan_free(cn_plan_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nops; i++)
        if (p->ops[i].kind == CN_OP_LINEAR)
            cn_lin_clear(&p->ops[i].lin);
    free(p->ops);
    free(p->quant);
    cn_packed_free(p->packed);
    free(p);
}

const char *cn_op_name(const cn_op_t *op)
{
    switch (op->kind) {
    case CN_OP_LINEAR:
        return op->lin.dense ? "dense" : "sparse";
    case CN_OP_SQUARE:
        return "square";
    case CN_OP_RELIN:
        return "relin";
    case CN_OP_MODSWITCH:
        return "modswitch";
    }
    return "?";
}

const cn_bfv_params_t *cn_plan_params(const cn_plan_t *p)
{
    return &p->prm;
}
size_t cn_plan_inputs(const cn_plan_t *p)
{
    return p->nin;
}
size_t cn_plan_outputs(const cn_plan_t *p)
{
    return p->nout;
}
void cn_plan_input_range(const cn_plan_t *p, int64_t *lo, int64_t *hi)
{
    *lo = p->in_min;
    *hi = p->in_max;
}
size_t cn_plan_calibration_mismatches(const cn_plan_t *p)
{
    return p->calib_mismatch;
}
size_t cn_plan_linear_layers(const cn_plan_t *p)
{
    size_t k = 0;
    for (size_t i = 0; i < p->nops; i++)
        k += p->ops[i].kind == CN_OP_LINEAR;
    return k;
}

/* bits of the largest |weight| of the k-th linear op (the width it was quantized to) */
unsigned cn_plan_layer_weight_bits(const cn_plan_t *p, size_t k)
{
    for (size_t i = 0; i < p->nops; i++) {
        if (p->ops[i].kind != CN_OP_LINEAR || k-- > 0)
            continue;
        const cn_lin_t *l = &p->ops[i].lin;
        uint64_t mx = 0;
        for (size_t x = 0; x < l->row[l->nout]; x++) {
            const uint64_t a = l->w[x] < 0 ? 0 - (uint64_t)l->w[x] : (uint64_t)l->w[x];
            mx = a > mx ? a : mx;
        }
        unsigned b = 0;
        while (b < 64 && (mx >> b))
            b++;
        return b;
    }
    return 0;
}

int cn_plan_quant_report(cn_quant_report_t *rep, const cn_plan_t *p)
{
    if (!p->quant)
        return 0;
    *rep = *p->quant;
    return 1;
}

double cn_plan_output_budget(const cn_plan_t *p)
{
    return p->budget;
}
double cn_plan_memory_estimate(const cn_plan_t *p)
{
    return cn_plan_memory(p->ops, p->nops, p->nin, &p->prm);
}
double cn_plan_cost_estimate(const cn_plan_t *p, double *server_s)
{
    if (server_s)
        *server_s = p->cost_server;
    return p->cost;
}
int cn_plan_wraps(const cn_plan_t *p)
{
    return p->wraps;
}
double cn_plan_output_scale(const cn_plan_t *p)
{
    return p->out_scale;
}
double cn_plan_output_bits(const cn_plan_t *p)
{
    return p->out_bound_bits;
}

void cn_plan_print(const cn_plan_t *p, FILE *f)
{
    const cn_bfv_params_t *prm = &p->prm;
    fprintf(f,
            "plan: %zu inputs in [%lld, %lld] -> %zu outputs (|output| < 2^%.1f), "
            "weights of",
            p->nin, (long long)p->in_min, (long long)p->in_max, p->nout, p->out_bound_bits);
    const size_t nl = cn_plan_linear_layers(p);
    for (size_t k = 0; k < nl; k++)
        fprintf(f, " %u", cn_plan_layer_weight_bits(p, k));
    fprintf(f, " bits\n");
    fprintf(f, "  n = %zu, log2(qP) = %.1f (%zu prime%s of", prm->n, cn_bfv_params_log_qp(prm),
            prm->nq, prm->nq == 1 ? "" : "s");
    for (size_t i = 0; i < prm->nq; i++)
        fprintf(f, " %.0f", log2((double)prm->q[i]));
    fprintf(f, " bits, P of %.0f), security %s\n", log2((double)prm->p),
            prm->security == CN_SEC_NONE_INSECURE ? "NONE (insecure)"
            : prm->security == CN_SEC_192         ? "192"
            : prm->security == CN_SEC_256         ? "256"
                                                  : "128");
    fprintf(f, "  plaintext moduli (%zu):", prm->nt);
    for (size_t i = 0; i < prm->nt; i++)
        fprintf(f, " %llu", (unsigned long long)prm->t[i]);
    if (p->wraps)
        fprintf(f, " (forced: fewer than the range needs, outputs are exact only mod T)");
    fprintf(f, "\n  %-4s %-10s %8s %8s %6s %5s %10s %9s\n", "#", "op", "values", "nonzero",
            "level", "size", "range_bits", "budget");
    for (size_t i = 0; i < p->nops; i++) {
        const cn_op_t *op = &p->ops[i];
        const char *name = cn_op_name(op);
        char nz[32] = "";
        if (op->kind == CN_OP_LINEAR)
            snprintf(nz, sizeof nz, "%zu", op->lin.row[op->lin.nout]);
        else if (op->kind == CN_OP_MODSWITCH)
            snprintf(nz, sizeof nz, "-%zu", op->drop);
        fprintf(f, "  %-4zu %-10s %8zu %8s %6zu %5zu %10.1f %9.1f\n", i + 1, name, op->width,
                nz, op->level, op->size, op->range_bits, -op->noise_bits - 1);
    }
    fprintf(f,
            "  estimated: final noise budget >= %.1f bits, %.2f s per batch of %zu on one "
            "core (cost model)\n",
            p->budget, p->cost, prm->n);
    if (p->cost_server > 0)
        fprintf(f, "  estimated: server %.2f s and client %.2f s of that; ", p->cost_server,
                p->cost - p->cost_server);
    else
        fprintf(f, "  estimated: ");
    fprintf(f, "server peak memory %.0f MiB per batch\n", cn_plan_memory_estimate(p) / 1048576);
    const size_t chunks = p->packed ? 0 : cn_plan_chunks(p->ops, p->nops, p->nin, prm);
    if (chunks)
        fprintf(f, "  the server runs ops 1-%zu in %zu chunks of op 1's outputs (memory)\n",
                cn_segment_end(p->ops, p->nops) + 1, chunks);
    if (p->quant)
        cn_quant_report_print(p->quant, f);
    cn_plan_layout_print(p, f);
}

/* The weight-width search's table (docs/net.md, "Quantization policy"). */
void cn_quant_report_print(const cn_quant_report_t *q, FILE *f)
{
    fprintf(f, "  weight widths searched on %zu calibration inputs (%zu candidates), ",
            q->ncalib, q->evaluated);
    if (q->exact)
        fprintf(f, "criterion: every prediction as the float network's\n");
    else if (q->labelled)
        fprintf(f,
                "criterion: accuracy at most %.2f points below the float network's "
                "%.2f%%\n",
                100 * q->tolerance, 100.0 * (double)q->float_correct / (double)q->ncalib);
    else
        fprintf(f, "criterion: at least %.2f%% of predictions as the float network's\n",
                100 * (1 - q->tolerance));
    /* s/batch is per batch of the row's own n; ms/input (s/batch / n) compares rows of
     * different n, and is what the choice minimises (docs/net.md, "Quantization policy") */
    fprintf(f, "    %-24s %8s %6s %6s %7s %9s %9s %16s %8s\n", "bits per linear layer",
            "out_bits", "moduli", "t_bits", "log2 qP", "accuracy", "agree", "s/batch",
            "ms/input");
    const double nc = q->ncalib ? (double)q->ncalib : 1;
    for (size_t r = 0; r < q->nrows; r++) {
        const cn_quant_row_t *w = &q->rows[r];
        char bits[3 * CN_PLAN_MAX_OPS + 8] = "", acc[16] = "-", sec[40] = "-", per[24] = "-";
        size_t len = 0;
        for (size_t k = 0; k < w->nlayers && len + 4 < sizeof bits; k++)
            len += (size_t)snprintf(bits + len, sizeof bits - len, "%s%u", k ? " " : "",
                                    w->bits[k]);
        if (q->labelled)
            snprintf(acc, sizeof acc, "%.2f%%", 100.0 * (double)w->correct / nc);
        if (w->moduli) {
            snprintf(sec, sizeof sec, "%.2f (n %zu)", w->seconds, w->n);
            snprintf(per, sizeof per, "%.3f", 1000 * w->seconds / (double)w->n);
        }
        fprintf(f, "  %s %-24s %8.1f %6zu %6u %7.1f %9s %8.2f%% %16s %8s%s\n",
                w->chosen  ? "*"
                : w->meets ? "+"
                           : " ",
                bits, w->output_bits, w->moduli, w->t_bits, w->log_qp, acc,
                100.0 * (double)w->agree / nc, sec, per,
                w->meets ? "" : "  (misses the criterion)");
    }
}
