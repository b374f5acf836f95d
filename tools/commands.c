/* The tool's commands (docs/cli.md): compile, keygen, encrypt, eval, decrypt, run. Each
 * returns an exit status (cli.h) after printing what went wrong, naming the file. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* --- shared pieces ---------------------------------------------------------------------- */

/* 128, 192 or 256; 0 for parameters without security (tests only) */
static int security_bits(const cn_bfv_params_t *prm)
{
    return prm->security == CN_SEC_128   ? 128
           : prm->security == CN_SEC_192 ? 192
           : prm->security == CN_SEC_256 ? 256
                                         : 0;
}

/* The calibration inputs the search's criterion needs (docs/cli.md, "How many calibration
 * inputs"): with N inputs one prediction moves the accuracy or the agreement by 1/N, so
 * N >= 2 / tolerance makes the tolerance two predictions or more; the exact criterion
 * counts as the default labelled tolerance, 0.002 (1000 inputs). */
static size_t calib_needed(const cn_quant_report_t *q)
{
    const double tol = q->exact || !(q->tolerance > 0) ? 0.002 : q->tolerance;
    const double need = ceil(2 / tol - 1e-9);         /* tol in (0, 1]: at least 2 */
    return need < 1e15 ? (size_t)need : (size_t)1e15; /* a tiny --tolerance: no overflow */
}

/* The warning for a calibration set too small to resolve the criterion, into w; 0 when
 * none. The search still runs on them (the user asked for it, and --weight-bits 8 is the
 * explicit conservative choice), but says how many inputs it needs. */
static int calib_warning(char *w, size_t len, const cn_quant_report_t *q)
{
    const size_t need = calib_needed(q);
    if (q->ncalib >= need)
        return 0;
    const double one = 100.0 / (double)(q->ncalib ? q->ncalib : 1);
    if (q->exact)
        snprintf(w, len,
                 "%zu calibration inputs are too few to tell which widths keep the float "
                 "network's predictions (one input is %.2f points): the widths chosen may lose "
                 "accuracy on other inputs; give %zu or more (--calib), or --weight-bits 8 for "
                 "the conservative widths",
                 q->ncalib, one, need);
    else
        snprintf(w, len,
                 "%zu calibration inputs cannot resolve the criterion (one %s is %.2f points, "
                 "the tolerance %.2f): the widths chosen may lose more on other inputs; give "
                 "%zu or more (--calib), or --weight-bits 8 for the conservative widths",
                 q->ncalib, q->labelled ? "wrong prediction" : "changed prediction", one,
                 100 * q->tolerance, need);
    return 1;
}

/* The weight-width search's table (docs/net.md, "Quantization policy"). */
static json_t *quant_json(const cn_quant_report_t *q)
{
    json_t *o = json_object(), *rows = json_array();
    json_object_set_new(o, "criterion",
                        json_string(q->exact      ? "exact"
                                    : q->labelled ? "accuracy"
                                                  : "agreement"));
    json_object_set_new(o, "tolerance", json_real(q->tolerance));
    json_object_set_new(o, "calibration_inputs", json_integer((json_int_t)q->ncalib));
    json_object_set_new(o, "calibration_inputs_needed",
                        json_integer((json_int_t)calib_needed(q)));
    char warn[512];
    json_object_set_new(o, "warning",
                        calib_warning(warn, sizeof warn, q) ? json_string(warn) : json_null());
    if (q->labelled)
        json_object_set_new(o, "float_accuracy",
                            json_real((double)q->float_correct / (double)q->ncalib));
    json_object_set_new(o, "candidates_evaluated", json_integer((json_int_t)q->evaluated));
    for (size_t r = 0; r < q->nrows; r++) {
        const cn_quant_row_t *w = &q->rows[r];
        json_t *c = json_object(), *bits = json_array();
        for (size_t k = 0; k < w->nlayers; k++)
            json_array_append_new(bits, json_integer(w->bits[k]));
        json_object_set_new(c, "layer_weight_bits", bits);
        json_object_set_new(c, "output_bits", json_real(w->output_bits));
        json_object_set_new(c, "plaintext_moduli", json_integer((json_int_t)w->moduli));
        json_object_set_new(c, "t_bits", json_integer(w->t_bits));
        json_object_set_new(c, "n", json_integer((json_int_t)w->n));
        json_object_set_new(c, "log_qp", json_real(w->log_qp));
        json_object_set_new(c, "estimated_seconds", json_real(w->seconds));
        /* per batch of the row's own n: per input, rows of different n compare */
        json_object_set_new(c, "estimated_ms_per_input",
                            w->n ? json_real(1000 * w->seconds / (double)w->n) : json_null());
        json_object_set_new(c, "agreement", json_real((double)w->agree / (double)q->ncalib));
        if (q->labelled)
            json_object_set_new(c, "accuracy",
                                json_real((double)w->correct / (double)q->ncalib));
        json_object_set_new(c, "meets", json_boolean(w->meets));
        json_object_set_new(c, "chosen", json_boolean(w->chosen));
        json_array_append_new(rows, c);
    }
    json_object_set_new(o, "candidates", rows);
    return o;
}

static json_t *plan_json(const cn_plan_t *p)
{
    const cn_bfv_params_t *prm = cn_plan_params(p);
    json_t *t = json_array();
    for (size_t i = 0; i < prm->nt; i++)
        json_array_append_new(t, json_integer((json_int_t)prm->t[i]));
    const int sec = security_bits(prm);
    json_t *o = json_object();
    json_object_set_new(o, "inputs", json_integer((json_int_t)cn_plan_inputs(p)));
    json_object_set_new(o, "outputs", json_integer((json_int_t)cn_plan_outputs(p)));
    json_object_set_new(o, "n", json_integer((json_int_t)prm->n));
    json_object_set_new(o, "log_qp", json_real(cn_bfv_params_log_qp(prm)));
    json_object_set_new(o, "plaintext_moduli", t);
    json_object_set_new(o, "security_bits", json_integer(sec));
    json_object_set_new(o, "output_scale", json_real(cn_plan_output_scale(p)));
    json_object_set_new(o, "output_bits", json_real(cn_plan_output_bits(p)));
    json_object_set_new(o, "output_budget_bits", json_real(cn_plan_output_budget(p)));
    json_object_set_new(o, "calibration_mismatches",
                        json_integer((json_int_t)cn_plan_calibration_mismatches(p)));
    json_object_set_new(o, "wraps", json_boolean(cn_plan_wraps(p)));
    /* the compiler's bound on the server's peak memory for one batch (docs/net.md) */
    json_object_set_new(o, "server_peak_memory_bytes",
                        json_integer((json_int_t)cn_plan_memory_estimate(p)));
    json_t *wb = json_array();
    for (size_t k = 0; k < cn_plan_linear_layers(p); k++)
        json_array_append_new(wb, json_integer(cn_plan_layer_weight_bits(p, k)));
    json_object_set_new(o, "layer_weight_bits", wb);
    cn_quant_report_t q;
    if (cn_plan_quant_report(&q, p))
        json_object_set_new(o, "quantization", quant_json(&q));
    /* the layout and why (docs/net.md, "Choosing the layout") */
    cn_layout_report_t lr;
    const int packed = cn_plan_layout(p) == CN_LAYOUT_PACKED;
    json_t *l = json_object();
    json_object_set_new(l, "chosen", json_string(packed ? "packed" : "batched"));
    if (cn_plan_layout_report(&lr, p)) {
        json_object_set_new(l, "batch_size", json_integer((json_int_t)lr.batch_size));
        json_object_set_new(l, "batched_seconds", json_real(lr.batched_s));
        json_object_set_new(l, "packed_seconds",
                            lr.packed_s >= 0 ? json_real(lr.packed_s) : json_null());
        json_object_set_new(l, "why", json_string(lr.why));
    }
    const cn_packed_t *pk;
    if (packed && cn_plan_packed(&pk, p, NULL) == CN_OK) {
        const cn_bfv_params_t *pp = cn_packed_params(pk);
        json_t *pt = json_array();
        for (size_t i = 0; i < pp->nt; i++)
            json_array_append_new(pt, json_integer((json_int_t)pp->t[i]));
        json_object_set_new(l, "n", json_integer((json_int_t)pp->n));
        json_object_set_new(l, "log_qp", json_real(cn_bfv_params_log_qp(pp)));
        json_object_set_new(l, "plaintext_moduli", pt);
        json_object_set_new(l, "security_bits", json_integer(security_bits(pp)));
        json_object_set_new(l, "galois_keys",
                            json_integer((json_int_t)cn_packed_galois_elts(pk, NULL, 0)));
        json_object_set_new(l, "key_bytes", json_integer((json_int_t)cn_packed_key_bytes(pk)));
        json_object_set_new(l, "output_budget_bits", json_real(cn_packed_output_budget(pk)));
    }
    json_object_set_new(o, "layout", l);
    return o;
}

/* Prints doc on stdout, or into path as a private file (mode 0600: decrypted results are
 * the data owner's) written under a temporary name and renamed; frees doc. 0 or
 * CLI_ERROR. */
static int emit_json(json_t *doc, const cli_args_t *a, const char *path)
{
    if (!doc)
        return cli_fail(CLI_ERROR, a, "out of memory");
    cli_out_t o;
    char err[4400];
    if (cli_out_open(&o, path, 1, err, sizeof err)) {
        json_decref(doc);
        return cli_fail(CLI_ERROR, a, "%s", err);
    }
    errno = 0;
    if (json_dumpf(doc, o.f, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) != 0 ||
        fputc('\n', o.f) == EOF)
        cli_out_failed(&o);
    json_decref(doc);
    return cli_out_close(&o, err, sizeof err) ? cli_fail(CLI_ERROR, a, "%s", err) : 0;
}

static int parse_threads(int *t, const cli_args_t *a)
{
    size_t v = 0;
    if (a->threads &&
        cli_parse_num(&v, a, "--threads", a->threads, 0, 4096, "0 (all cores) to 4096 threads"))
        return CLI_USAGE;
    *t = (int)v;
    return 0;
}

static size_t argmax(const cn_int128 *v, size_t k)
{
    size_t b = 0;
    for (size_t i = 1; i < k; i++)
        if (v[i] > v[b])
            b = i;
    return b;
}

size_t cli_argmax(const cn_int128 *v, size_t k)
{
    return argmax(v, k);
}

int cli_parse_threads(int *t, const cli_args_t *a)
{
    return parse_threads(t, a);
}

/* v in decimal into s (at least 42 bytes) */
static const char *i128_str(char *s, cn_int128 v)
{
    char tmp[48];
    size_t n = 0;
    unsigned __int128 u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    size_t k = 0;
    if (v < 0)
        s[k++] = '-';
    while (n)
        s[k++] = tmp[--n];
    s[k] = 0;
    return s;
}

/* The predictions (rows of k integer outputs) as CSV or JSON, on stdout or in path. */
static int write_predictions(const cli_args_t *a, const char *path, const cn_int128 *out,
                             size_t rows, size_t k, double scale)
{
    char s[48];
    if (a->json) {
        json_t *doc = json_object(), *preds = json_array();
        for (size_t r = 0; r < rows; r++) {
            const cn_int128 *v = out + r * k;
            json_t *p = json_object(), *sc = json_array();
            for (size_t j = 0; j < k; j++)
                json_array_append_new(sc, json_real((double)v[j] / scale));
            json_object_set_new(p, "class", json_integer((json_int_t)argmax(v, k)));
            json_object_set_new(p, "scores", sc);
            if (a->raw) {
                json_t *raw = json_array();
                for (size_t j = 0; j < k; j++) /* JSON integers are 64-bit: wider as text */
                    json_array_append_new(raw, v[j] >= INT64_MIN && v[j] <= INT64_MAX
                                                   ? json_integer((json_int_t)v[j])
                                                   : json_string(i128_str(s, v[j])));
                json_object_set_new(p, "raw", raw);
            }
            json_array_append_new(preds, p);
        }
        json_object_set_new(doc, "inputs", json_integer((json_int_t)rows));
        json_object_set_new(doc, "outputs", json_integer((json_int_t)k));
        json_object_set_new(doc, "output_scale", json_real(scale));
        json_object_set_new(doc, "predictions", preds);
        return emit_json(doc, a, path);
    }
    cli_out_t o;
    char err[4400];
    if (cli_out_open(&o, path, 1, err, sizeof err))
        return cli_fail(CLI_ERROR, a, "%s", err);
    FILE *f = o.f;
    errno = 0;
    int bad = fprintf(f, "input,class") < 0;
    for (size_t j = 0; j < k; j++)
        bad |= fprintf(f, ",score_%zu", j) < 0;
    if (a->raw)
        for (size_t j = 0; j < k; j++)
            bad |= fprintf(f, ",raw_%zu", j) < 0;
    bad |= fputc('\n', f) == EOF;
    /* the rows formatted in parts by the threads (81,920 "%.9g" of an MNIST batch took
     * 0.02 to 0.04 s on one core, after the decryption), each part's text written in
     * order: the same bytes as one fprintf per value */
    const size_t per_row = 48 + k * (a->raw ? 32 + 48 : 32); /* bytes a row needs, at most */
    size_t parts = rows >= 2048 ? 8 : 1;
    char *text[8] = {NULL};
    size_t tlen[8] = {0};
    int oom = 0;
#pragma omp parallel for schedule(static) reduction(| : oom) if (parts > 1)
    for (size_t i = 0; i < parts; i++) {
        const size_t r0 = rows * i / parts, r1 = rows * (i + 1) / parts;
        const size_t cap = (r1 - r0) * per_row + 1;
        char *t = malloc(cap), num[48];
        size_t n = 0;
        oom |= !t;
        for (size_t r = r0; t && r < r1; r++) {
            const cn_int128 *v = out + r * k;
            n += (size_t)snprintf(t + n, cap - n, "%zu,%zu", r + 1, argmax(v, k));
            for (size_t j = 0; j < k; j++)
                n += (size_t)snprintf(t + n, cap - n, ",%.9g", (double)v[j] / scale);
            for (size_t j = 0; a->raw && j < k; j++)
                n += (size_t)snprintf(t + n, cap - n, ",%s", i128_str(num, v[j]));
            t[n++] = '\n';
        }
        text[i] = t;
        tlen[i] = n;
    }
    if (oom) {
        for (size_t i = 0; i < parts; i++)
            free(text[i]);
        cli_out_failed(&o);
        (void)cli_out_close(&o, err, sizeof err);
        return cli_fail(CLI_ERROR, a, "out of memory");
    }
    for (size_t i = 0; i < parts; i++) {
        bad |= !bad && fwrite(text[i], 1, tlen[i], f) != tlen[i];
        free(text[i]);
    }
    if (bad)
        cli_out_failed(&o);
    return cli_out_close(&o, err, sizeof err) ? cli_fail(CLI_ERROR, a, "%s", err) : 0;
}

/* The model options (--input-range, --input-scale). */
static int model_opts(cli_model_opts_t *mo, const cli_args_t *a)
{
    *mo = (cli_model_opts_t){0};
    if (a->input_range) {
        char *e1, *e2;
        const long long lo = strtoll(a->input_range, &e1, 10);
        const long long hi = *e1 == ':' ? strtoll(e1 + 1, &e2, 10) : 0;
        const long long lim = (long long)1 << 40;
        if (*e1 != ':' || e1 == a->input_range || *e2 || e2 == e1 + 1 || lo > hi || lo < -lim ||
            hi > lim)
            return cli_fail(CLI_USAGE, a,
                            "--input-range: expected LO:HI with LO <= HI, "
                            "|LO|, |HI| <= 2^40 (e.g. 0:255), got '%s'",
                            a->input_range);
        mo->has_range = 1;
        mo->in_min = lo;
        mo->in_max = hi;
    }
    if (a->input_scale) {
        char *e;
        double s = strtod(a->input_scale, &e);
        if (*e == '/' && e != a->input_scale) { /* a fraction: 1/15 */
            const char *d = e + 1;
            const double den = strtod(d, &e);
            s = e == d ? NAN : s / den;
        }
        if (*e || e == a->input_scale || !isfinite(s) || s <= 0)
            return cli_fail(CLI_USAGE, a,
                            "--input-scale: expected a number or a fraction A/B > 0, got '%s'",
                            a->input_scale);
        mo->has_scale = 1;
        mo->in_scale = s;
    }
    return 0;
}

/* The compiler's options from the command line, checked before any file is read. */
static int compile_opts(cn_compile_opts_t *o, const cli_args_t *a)
{
    *o = (cn_compile_opts_t){0};
    size_t v;
    if (a->weight_bits) {
        if (cli_parse_num(&v, a, "--weight-bits", a->weight_bits, 2, 16,
                          "a whole number of bits from 2 to 16"))
            return CLI_USAGE;
        o->weight_bits = (unsigned)v;
    }
    if (a->ring) {
        /* the compiler's range (cn_plan_compile): refused here, as a bad option value */
        char range[64];
        snprintf(range, sizeof range, "a power of two from %d to %d", CN_BFV_MIN_N,
                 CN_BFV_MAX_N);
        if (cli_parse_num(&v, a, "--n", a->ring, CN_BFV_MIN_N, CN_BFV_MAX_N, range))
            return CLI_USAGE;
        if (v & (v - 1))
            return cli_fail(CLI_USAGE, a, "--n: %s, got '%s'", range, a->ring);
        o->n = v;
    }
    if (a->security) {
        if (!strcmp(a->security, "128"))
            o->security = CN_SEC_128;
        else if (!strcmp(a->security, "192"))
            o->security = CN_SEC_192;
        else if (!strcmp(a->security, "256"))
            o->security = CN_SEC_256;
        else
            return cli_fail(CLI_USAGE, a, "--security: 128, 192 or 256, got '%s'", a->security);
    }
    if (a->tolerance) {
        char *e;
        o->calib_tolerance = strtod(a->tolerance, &e);
        if (*e || e == a->tolerance || !(o->calib_tolerance > 0 && o->calib_tolerance <= 1))
            return cli_fail(CLI_USAGE, a, "--tolerance: a fraction in (0, 1], got '%s'",
                            a->tolerance);
    }
    if (a->exact && a->tolerance)
        return cli_fail(CLI_USAGE, a, "--exact and --tolerance: one or the other");
    if (a->exact)
        o->calib_criterion = CN_CALIB_EXACT;
    if (a->batch_size) {
        if (cli_parse_num(&v, a, "--batch-size", a->batch_size, 1, (size_t)1 << 20,
                          "1 to 2^20 inputs per request"))
            return CLI_USAGE;
        o->batch_size = v;
    }
    if (a->layout) {
        if (!a->batch_size)
            return cli_fail(CLI_USAGE, a, "--layout needs --batch-size");
        if (!strcmp(a->layout, "auto"))
            o->force_layout = 0;
        else if (!strcmp(a->layout, "batched"))
            o->force_layout = 1;
        else if (!strcmp(a->layout, "packed"))
            o->force_layout = 2;
        else
            return cli_fail(CLI_USAGE, a, "--layout: auto, batched or packed, got '%s'",
                            a->layout);
    }
    return 0;
}

/* Warns (stderr, with --quiet too) for each linear layer whose quantization turns more
 * than half of its nonzero weights into 0: the scale makes the largest |weight| 2^B - 1
 * (docs/net.md, "Quantization policy"), so one outlier (a weight of 3e38 among weights
 * near 1) leaves nothing of the others. Judged on the model's own weights, layer k
 * against the plan's k-th linear op; skipped when the compiler folded layers together
 * (the counts differ), as the folded weights are not the model's. */
static void zeroed_weights_warning(const cli_args_t *a, const cn_model_t *m, const cn_plan_t *p)
{
    size_t nlin = 0;
    for (size_t i = 0; i < m->nlayers; i++)
        nlin += m->layers[i].kind == CN_LAYER_DENSE || m->layers[i].kind == CN_LAYER_CONV2D;
    if (nlin != cn_plan_linear_layers(p))
        return;
    for (size_t i = 0, k = 0; i < m->nlayers; i++) {
        const cn_layer_t *l = &m->layers[i];
        if (l->kind != CN_LAYER_DENSE && l->kind != CN_LAYER_CONV2D)
            continue;
        const unsigned bits = cn_plan_layer_weight_bits(p, k++);
        const size_t nw = l->kind == CN_LAYER_DENSE ? l->maps * l->in_c * l->in_h * l->in_w
                                                    : l->maps * l->in_c * l->kh * l->kw;
        double mx = 0;
        for (size_t j = 0; j < nw; j++)
            mx = fabs(l->w[j]) > mx ? fabs(l->w[j]) : mx;
        if (bits == 0 || bits > 62 || !(mx > 0))
            continue;
        const double s = (double)((UINT64_C(1) << bits) - 1) / mx;
        size_t nonzero = 0, zeroed = 0;
        for (size_t j = 0; j < nw; j++) {
            nonzero += l->w[j] != 0;
            zeroed += l->w[j] != 0 && fabs(l->w[j]) * s < 0.5; /* rounds to 0 */
        }
        if (2 * zeroed > nonzero)
            fprintf(stderr,
                    "cryptonets %s: warning: model layer %zu (%s): %u-bit weights turn %zu of "
                    "its %zu nonzero weights into 0 (the largest |weight|, %g, sets the "
                    "scale): an outlier weight? check the model (B-bit weights keep those "
                    "down to about 2^-B of the largest; --weight-bits goes up to 16)\n",
                    a->cmd, i + 1, l->kind == CN_LAYER_DENSE ? "dense" : "conv2d", bits, zeroed,
                    nonzero, mx);
    }
}

/* Compiles m with options o: calibrated on the --calib inputs (and --calib-labels), or
 * (default_calib, when neither --calib nor --weight-bits is given) on up to 5000 rows of
 * default_calib (and of default_labels, if not NULL), or with 8-bit weights. 0 or an exit
 * status with the reason printed. */
static int compile_model(cn_plan_t **plan, double *secs, const cli_args_t *a,
                         const cn_model_t *m, cn_compile_opts_t o,
                         const cli_matrix_t *default_calib, const cli_matrix_t *default_labels)
{
    cli_matrix_t calib = {0}, lab = {0};
    const int calibrated = !a->weight_bits && (a->calib || default_calib); /* a width search */
    size_t count = 0; /* --calib-count: the first count calibration inputs (0: all) */
    if (a->calib_count) {
        if (cli_parse_size(&count, a, "--calib-count", a->calib_count, SIZE_MAX))
            return CLI_USAGE;
        if (count == 0)
            return cli_fail(CLI_USAGE, a, "--calib-count: 1 or more, got 0");
    }
    if (a->calib_count && !calibrated) {
        return cli_fail(CLI_USAGE, a, "--calib-count needs calibration inputs%s",
                        a->weight_bits ? ", not --weight-bits" : " (--calib)");
    } else if (a->calib_labels && !a->calib) {
        return cli_fail(CLI_USAGE, a, "--calib-labels needs --calib");
    } else if (!calibrated && (a->tolerance || a->exact)) {
        return cli_fail(CLI_USAGE, a, "%s sets the calibration criterion: it needs %s",
                        a->exact ? "--exact" : "--tolerance",
                        a->weight_bits ? "calibration inputs, not --weight-bits" : "--calib");
    } else if (a->calib) {
        char err[512];
        const int64_t nout = (int64_t)cn_model_outputs(m);
        unsigned shift;
        if (cli_parse_shift(&shift, a, a->input_shift))
            return CLI_USAGE;
        if (cli_read_inputs(&calib, a->calib, a->format, cn_model_inputs(m), shift,
                            m->input_min, m->input_max, err, sizeof err) ||
            (a->calib_labels &&
             (cli_read_labels(&lab, a->calib_labels, NULL, 1, err, sizeof err) ||
              cli_check_range(&lab, a->calib_labels, 0, nout - 1, "the class indices", err,
                              sizeof err)))) {
            cli_matrix_clear(&lab);
            cli_matrix_clear(&calib);
            return cli_fail(CLI_ERROR, a, "%s", err);
        }
        if (a->calib_labels && lab.rows != calib.rows) {
            const size_t nl = lab.rows, nc = calib.rows;
            cli_matrix_clear(&calib);
            cli_matrix_clear(&lab);
            return cli_fail(CLI_ERROR, a, "%s: %zu labels for %zu calibration inputs",
                            a->calib_labels, nl, nc);
        }
        o.calib = calib.v;
        o.ncalib = count && count < calib.rows ? count : calib.rows;
        o.calib_labels = a->calib_labels ? lab.v : NULL;
    } else if (!a->weight_bits && default_calib) {
        o.calib = default_calib->v;
        const size_t first = count ? count : 5000;
        o.ncalib = default_calib->rows < first ? default_calib->rows : first;
        o.calib_labels = default_labels ? default_labels->v : NULL;
    } else if (!a->weight_bits) {
        o.weight_bits = 8;
        if (!a->quiet)
            fprintf(stderr,
                    "cryptonets %s: no --calib inputs: weights quantized to 8 bits "
                    "(--calib FILE lets the compiler choose each layer's width, the fewest "
                    "plaintext bits that keep the calibration accuracy)\n",
                    a->cmd);
    }
    cn_net_diag_t d = {{0}};
    const double t0 = cli_now();
    const cn_status st = cn_plan_compile(plan, m, &o, &d);
    *secs = cli_now() - t0;
    cli_matrix_clear(&calib);
    cli_matrix_clear(&lab);
    if (st != CN_OK)
        return cli_fail(CLI_ERROR, a, "%s: %s%s%s", a->pos[0], cn_strerror(st),
                        d.msg[0] ? ": " : "", d.msg);
    cn_quant_report_t q;
    char warn[512];
    /* a warning, not progress: printed with --quiet too */
    if (cn_plan_quant_report(&q, *plan) && calib_warning(warn, sizeof warn, &q))
        fprintf(stderr, "cryptonets %s: warning: %s\n", a->cmd, warn);
    zeroed_weights_warning(a, m, *plan);
    return 0;
}

/* --- compile --------------------------------------------------------------------------- */

int cli_compile(cli_args_t *a)
{
    if (!a->out)
        return cli_fail(CLI_USAGE, a, "-o PLAN is required (where to write the plan)");
    cli_model_opts_t mo;
    cn_compile_opts_t co;
    int rc = model_opts(&mo, a);
    if (rc || (rc = compile_opts(&co, a)))
        return rc;
    cn_model_t m;
    if ((rc = cli_model_load(&m, a, a->pos[0], &mo)))
        return rc;
    cn_plan_t *plan = NULL;
    double secs = 0;
    rc = compile_model(&plan, &secs, a, &m, co, NULL, NULL);
    cn_model_clear(&m);
    if (rc)
        return rc;
    uint8_t *b = NULL;
    size_t len = 0;
    char err[512];
    if (cn_plan_to_bytes(&b, &len, plan) != CN_OK)
        rc = cli_fail(CLI_ERROR, a, "out of memory");
    else if (cli_write_file(a->out, b, len, err, sizeof err))
        rc = cli_fail(CLI_ERROR, a, "%s", err);
    if (rc == 0) {
        if (a->json) {
            json_t *doc = json_object();
            json_object_set_new(doc, "plan", json_string(a->out));
            json_object_set_new(doc, "bytes", json_integer((json_int_t)len));
            json_object_set_new(doc, "seconds", json_real(secs));
            json_object_update_new(doc, plan_json(plan));
            rc = emit_json(doc, a, NULL);
        } else {
            cn_plan_print(plan, stdout);
            printf("cryptonets compile: wrote %s (%zu bytes) in %.2f s\n", a->out, len, secs);
        }
    }
    free(b);
    cn_plan_free(plan);
    return rc;
}

/* --- keygen ---------------------------------------------------------------------------- */

/* Puts the key written as tmp under path: replacing a file there only when force is set,
 * so that a key that appeared since main's check is not replaced either (link(2) fails
 * with EEXIST where rename(2) would replace; a file system without hard links falls back
 * to rename when nothing is there). 0, or -1 with errno. */
static int place_key(const char *tmp, const char *path, int force)
{
    if (force)
        return rename(tmp, path);
    if (link(tmp, path) == 0)
        return (void)remove(tmp), 0; /* the key is in place; tmp only a second name */
    if (errno == EEXIST)
        return -1;
    struct stat sb;
    if (lstat(path, &sb) == 0) {
        errno = EEXIST;
        return -1;
    }
    return rename(tmp, path);
}

/* The client key (through save, under OUT.partial-PID until the evaluation keys are
 * written, then renamed) and the evaluation keys keys[0..klen) in a container of header h:
 * a failure at any point leaves any existing key and evaluation keys as they were and no
 * partial file (but for the evaluation keys' final rename failing after --force replaced
 * the key, which the message says). 0 or an exit status with the reason printed. */
int cli_keygen_write(cli_args_t *a, const cli_head_t *h, const uint8_t *keys, size_t klen,
                     cli_save_fn save, const void *client)
{
    char kpart[4096], ktmp[4200], err[4400];
    cn_net_diag_t d = {{0}};
    /* a link's target is written (main refused a FIFO or device: cli_out_target) */
    cli_target_t t;
    if (cli_out_target(&t, a->out, err, sizeof err))
        return cli_fail(CLI_ERROR, a, "%s", err);
    if (snprintf(kpart, sizeof kpart, "%s.partial-%ld", t.path, (long)getpid()) >=
        (int)sizeof kpart)
        return cli_fail(CLI_USAGE, a, "%s: path too long", a->out);
    /* removed if a signal comes before the renames: kpart and the name the library's save
     * writes it under first (cn_state_save: PATH.partial-PID) */
    snprintf(ktmp, sizeof ktmp, "%s.partial-%ld", kpart, (long)getpid());
    cli_partial_add(kpart);
    cli_partial_add(ktmp);
    const cn_status sst = save(client, kpart, &d);
    cli_partial_drop(ktmp);
    if (sst != CN_OK) {
        cli_partial_drop(kpart);
        /* the reason names kpart, a name of ours: name the key file asked for */
        const size_t kl = strlen(kpart);
        if (!strncmp(d.msg, kpart, kl))
            return cli_fail(CLI_ERROR, a, "%s%s", a->out, d.msg + kl);
        return cli_fail(CLI_ERROR, a, "%s", d.msg);
    }
    /* the evaluation keys written under their temporary name, then the key placed (an
     * existing one without --force stops here, before the evaluation keys are touched),
     * then the evaluation keys renamed into place */
    int rc = 0;
    cli_writer_t w = {0};
    if (cli_writer_open(&w, a->eval_keys, h, err, sizeof err) ||
        cli_writer_put(&w, 0, keys, klen, err, sizeof err)) {
        if (w.f)
            (void)cli_writer_close(&w, err, sizeof err);
        rc = cli_fail(CLI_ERROR, a, "%s", err);
    }
    struct stat ks;
    const int have_ks = stat(kpart, &ks) == 0;
    if (!rc && place_key(kpart, t.path, a->force) != 0) {
        rc = cli_fail(CLI_ERROR, a, "%s: %s", a->out, strerror(errno));
        w.f = NULL; /* the evaluation keys' temporary file removed, the old ones kept */
        cli_out_abandon(&w.o);
    }
    if (rc) {
        remove(kpart); /* no key without its evaluation keys */
        cli_partial_drop(kpart);
        return rc;
    }
    cli_partial_drop(kpart);
    if (cli_writer_close(&w, err, sizeof err)) {
        /* rare (the rename or the flush failed): the key just placed goes too, unless
         * --force replaced an older one, which is gone either way */
        struct stat ps;
        if (!a->force && have_ks && stat(t.path, &ps) == 0 && ps.st_dev == ks.st_dev &&
            ps.st_ino == ks.st_ino)
            (void)remove(t.path);
        return cli_fail(CLI_ERROR, a, "%s (%s %s)", err, a->out,
                        a->force ? "was replaced: run keygen again with --force"
                                 : "was not kept");
    }
    return 0;
}

static cn_status save_batched(const void *c, const char *path, cn_net_diag_t *d)
{
    return cn_client_save(c, path, d);
}

int cli_keygen(cli_args_t *a)
{
    if (!a->out || !a->eval_keys)
        return cli_fail(CLI_USAGE, a, "-o CLIENT_KEY and --eval-keys EVAL_KEYS are required");
    /* the plan, the key and the evaluation keys are three files: checked by main */
    cli_plan_t p;
    int rc = cli_plan_load(&p, a, a->pos[0]);
    if (rc)
        return rc;
    if (cn_plan_layout(p.plan) == CN_LAYOUT_PACKED) {
        rc = cli_keygen_packed(a, &p);
        cli_plan_clear(&p);
        return rc;
    }
    const double t0 = cli_now();
    cn_client_t *c = NULL;
    uint8_t *keys = NULL;
    size_t klen = 0;
    cn_status st = cn_client_create(&c, p.plan, NULL, 0);
    if (st == CN_OK)
        st = cn_client_eval_keys(&keys, &klen, c);
    if (st != CN_OK) {
        rc = cli_fail(CLI_ERROR, a, "%s: making keys: %s", a->pos[0], cn_strerror(st));
        goto done;
    }
    cli_head_t h = {.kind = CLI_KIND_KEYS, .records = 1};
    memcpy(h.digest, p.digest, 32);
    if (cli_key_id(h.key_id, c)) {
        rc = cli_fail(CLI_ERROR, a, "out of memory");
        goto done;
    }
    if ((rc = cli_keygen_write(a, &h, keys, klen, save_batched, c)))
        goto done;
    const double secs = cli_now() - t0;
    if (a->json) {
        json_t *doc = json_object();
        json_object_set_new(doc, "client_key", json_string(a->out));
        json_object_set_new(doc, "eval_keys", json_string(a->eval_keys));
        json_object_set_new(doc, "eval_key_bytes", json_integer((json_int_t)klen));
        json_object_set_new(doc, "seconds", json_real(secs));
        rc = emit_json(doc, a, NULL);
    } else if (!a->quiet) {
        printf("cryptonets keygen: client key %s (secret, mode 0600), evaluation keys %s "
               "(%zu bytes of keys, public) in %.2f s\n",
               a->out, a->eval_keys, klen, secs);
    }
done:
    free(keys);
    cn_client_free(c);
    cli_plan_clear(&p);
    return rc;
}

/* --- encrypt --------------------------------------------------------------------------- */

/* The client for key file path and plan p (its key id in id); 0 or an exit status. */
static int load_client(cn_client_t **c, uint8_t id[32], const cli_args_t *a, const char *path,
                       const cli_plan_t *p, int threads)
{
    cn_net_diag_t d = {{0}};
    const cn_status st = cn_client_load(c, p->plan, path, &d);
    if (st != CN_OK)
        return cli_fail(cli_status_code(st), a, "%s%s", d.msg[0] ? d.msg : cn_strerror(st),
                        st == CN_ERR_CONTEXT_MISMATCH ? " (give the plan it was made with)"
                                                      : "");
    cn_client_set_threads(*c, threads);
    if (cli_key_id(id, *c)) {
        cn_client_free(*c);
        *c = NULL;
        return cli_fail(CLI_ERROR, a, "out of memory");
    }
    return 0;
}

int cli_encrypt(cli_args_t *a)
{
    if (!a->plan || !a->out)
        return cli_fail(CLI_USAGE, a, "--plan PLAN and -o BATCH are required");
    int threads, rc;
    if ((rc = parse_threads(&threads, a)))
        return rc;
    cli_plan_t p;
    if ((rc = cli_plan_load(&p, a, a->plan)))
        return rc;
    if (cn_plan_layout(p.plan) == CN_LAYOUT_PACKED) {
        rc = cli_encrypt_packed(a, &p, threads);
        cli_plan_clear(&p);
        return rc;
    }
    cn_client_t *c = NULL;
    cli_matrix_t x = {0};
    cli_head_t h = {.kind = CLI_KIND_BATCH};
    char err[512];
    if ((rc = load_client(&c, h.key_id, a, a->pos[0], &p, threads)))
        goto done;
    const size_t nin = cn_plan_inputs(p.plan), n = cn_plan_params(p.plan)->n;
    int64_t lo, hi;
    cn_plan_input_range(p.plan, &lo, &hi);
    unsigned shift;
    if ((rc = cli_parse_shift(&shift, a, a->input_shift)))
        goto done;
    if (cli_read_inputs(&x, a->pos[1], a->format, nin, shift, lo, hi, err, sizeof err)) {
        rc = cli_fail(CLI_ERROR, a, "%s", err);
        goto done;
    }
    memcpy(h.digest, p.digest, 32);
    h.records = (x.rows + n - 1) / n;
    h.inputs = x.rows;
    cli_writer_t w;
    if (cli_writer_open(&w, a->out, &h, err, sizeof err)) {
        if (w.f)
            (void)cli_writer_close(&w, err, sizeof err);
        rc = cli_fail(CLI_ERROR, a, "%s", err);
        goto done;
    }
    cli_progress_t pr;
    cli_progress_start(&pr, "encrypt", a->quiet || a->json);
    size_t bytes = 96;
    const double t0 = cli_now();
    for (size_t b = 0; rc == 0 && b < h.records; b++) {
        const size_t first = b * n, count = x.rows - first < n ? x.rows - first : n;
        uint8_t *buf;
        size_t len;
        cn_net_diag_t d = {{0}};
        const cn_status st = cn_client_encrypt(&buf, &len, c, x.v + first * nin, count, &d);
        if (st != CN_OK) {
            size_t i, j;
            int k = 0;
            /* the library counts inputs within the batch: name the file's row */
            if (sscanf(d.msg, "input %zu, value %zu (counting from 1): %n", &i, &j, &k) == 2 &&
                k > 0)
                rc = cli_fail(CLI_ERROR, a, "%s: input %zu, value %zu: %s", a->pos[1],
                              first + i, j, d.msg + k);
            else
                rc = cli_fail(CLI_ERROR, a, "%s: %s", a->pos[1],
                              d.msg[0] ? d.msg : cn_strerror(st));
            break;
        }
        if (cli_writer_put(&w, count, buf, len, err, sizeof err))
            rc = cli_fail(CLI_ERROR, a, "%s", err);
        bytes += 24 + len;
        free(buf);
        cli_progress(&pr, b + 1, h.records);
    }
    if (cli_writer_close(&w, err, sizeof err) && rc == 0)
        rc = cli_fail(CLI_ERROR, a, "%s", err);
    if (rc == 0 && a->json) {
        json_t *doc = json_object();
        json_object_set_new(doc, "batch", json_string(a->out));
        json_object_set_new(doc, "inputs", json_integer((json_int_t)x.rows));
        json_object_set_new(doc, "batches", json_integer((json_int_t)h.records));
        json_object_set_new(doc, "bytes", json_integer((json_int_t)bytes));
        json_object_set_new(doc, "seconds", json_real(cli_now() - t0));
        rc = emit_json(doc, a, NULL);
    }
done:
    cli_matrix_clear(&x);
    cn_client_free(c);
    cli_plan_clear(&p);
    return rc;
}

/* --- eval ------------------------------------------------------------------------------ */

int cli_eval(cli_args_t *a)
{
    if (!a->out)
        return cli_fail(CLI_USAGE, a, "-o REPLY is required");
    int threads, rc;
    if ((rc = parse_threads(&threads, a)))
        return rc;
    cli_plan_t p;
    if ((rc = cli_plan_load(&p, a, a->pos[0])))
        return rc;
    if (cn_plan_layout(p.plan) == CN_LAYOUT_PACKED) {
        rc = cli_eval_packed(a, &p, threads);
        cli_plan_clear(&p);
        return rc;
    }
    const char *kpath = a->pos[1], *bpath = a->pos[2];
    cli_reader_t kr = {0}, br = {0};
    cn_server_t *s = NULL;
    uint8_t *keys = NULL;
    size_t klen = 0;
    uint64_t kc;
    char err[512];
    cn_net_diag_t d = {{0}};
    const size_t n = cn_plan_params(p.plan)->n;
    if (cli_reader_open(&kr, kpath, CLI_KIND_KEYS, err, sizeof err) ||
        cli_reader_next(&kr, &kc, &keys, &klen, 0, err, sizeof err) ||
        cli_reader_end(&kr, err, sizeof err)) {
        rc = cli_fail(CLI_ERROR, a, "%s", err);
        goto done;
    }
    if ((rc = cli_check_layout(a, &kr.h, kpath, p.plan)))
        goto done;
    if (memcmp(kr.h.digest, p.digest, 32) != 0) {
        rc = cli_fail(CLI_MISMATCH, a, "%s: evaluation keys for another plan than %s", kpath,
                      a->pos[0]);
        goto done;
    }
    if (cli_reader_open(&br, bpath, CLI_KIND_BATCH, err, sizeof err)) {
        rc = cli_fail(CLI_ERROR, a, "%s", err);
        goto done;
    }
    if ((rc = cli_check_layout(a, &br.h, bpath, p.plan)))
        goto done;
    if (memcmp(br.h.digest, p.digest, 32) != 0) {
        rc =
            cli_fail(CLI_MISMATCH, a, "%s: a batch for another plan than %s", bpath, a->pos[0]);
        goto done;
    }
    if (memcmp(br.h.key_id, kr.h.key_id, 32) != 0) {
        rc = cli_fail(CLI_MISMATCH, a, "%s: encrypted under another key than %s's", bpath,
                      kpath);
        goto done;
    }
    cn_status st = cn_server_create(&s, p.plan, keys, klen, threads, &d);
    if (st != CN_OK) {
        rc = cli_fail(cli_status_code(st), a, "%s: %s", kpath,
                      d.msg[0] ? d.msg : cn_strerror(st));
        goto done;
    }
    cli_head_t h = br.h;
    h.kind = CLI_KIND_REPLY;
    cli_writer_t w;
    if (cli_writer_open(&w, a->out, &h, err, sizeof err)) {
        if (w.f)
            (void)cli_writer_close(&w, err, sizeof err);
        rc = cli_fail(CLI_ERROR, a, "%s", err);
        goto done;
    }
    cli_progress_t pr;
    cli_progress_start(&pr, "eval", a->quiet || a->json);
    cn_server_timing_t sum = {0};
    size_t inputs = 0;
    const double t0 = cli_now();
    for (uint64_t b = 0; rc == 0 && b < h.records; b++) {
        uint64_t count;
        uint8_t *in, *out;
        size_t ilen, olen;
        if (cli_reader_next(&br, &count, &in, &ilen, n, err, sizeof err)) {
            rc = cli_fail(CLI_ERROR, a, "%s", err);
            break;
        }
        cn_server_timing_t tm;
        st = cn_server_eval(&out, &olen, s, in, ilen, &tm, &d);
        free(in);
        if (st != CN_OK) {
            rc = cli_fail(cli_status_code(st), a, "%s: batch %llu: %s", bpath,
                          (unsigned long long)b + 1, d.msg[0] ? d.msg : cn_strerror(st));
            break;
        }
        for (size_t i = 0; i < tm.nsteps; i++) {
            sum.seconds[i] += tm.seconds[i];
            memcpy(sum.name[i], tm.name[i], sizeof sum.name[i]);
        }
        sum.nsteps = tm.nsteps;
        inputs += count;
        if (cli_writer_put(&w, count, out, olen, err, sizeof err))
            rc = cli_fail(CLI_ERROR, a, "%s", err);
        free(out);
        cli_progress(&pr, (size_t)b + 1, (size_t)h.records);
    }
    if (rc == 0 && cli_reader_end(&br, err, sizeof err))
        rc = cli_fail(CLI_ERROR, a, "%s", err);
    if (rc != 0)
        w.bad = 1;
    if (cli_writer_close(&w, err, sizeof err) && rc == 0)
        rc = cli_fail(CLI_ERROR, a, "%s", err);
    const double secs = cli_now() - t0;
    if (rc == 0 && a->json) {
        json_t *doc = json_object(), *steps = json_object();
        for (size_t i = 0; i < sum.nsteps; i++)
            json_object_set_new(steps, sum.name[i], json_real(sum.seconds[i]));
        json_object_set_new(doc, "reply", json_string(a->out));
        json_object_set_new(doc, "inputs", json_integer((json_int_t)inputs));
        json_object_set_new(doc, "batches", json_integer((json_int_t)h.records));
        json_object_set_new(doc, "seconds", json_real(secs));
        json_object_set_new(doc, "predictions_per_hour",
                            json_real(secs > 0 ? 3600.0 * (double)inputs / secs : 0));
        json_object_set_new(doc, "steps", steps);
        rc = emit_json(doc, a, NULL);
    } else if (rc == 0 && !a->quiet) {
        printf("cryptonets eval: %zu inputs in %llu batch(es), %.2f s (%.0f predictions per "
               "hour) -> %s\n",
               inputs, (unsigned long long)h.records, secs,
               secs > 0 ? 3600.0 * (double)inputs / secs : 0, a->out);
    }
done:
    free(keys);
    cn_server_free(s);
    cli_reader_close(&kr);
    cli_reader_close(&br);
    cli_plan_clear(&p);
    return rc;
}

/* --- decrypt --------------------------------------------------------------------------- */

int cli_decrypt(cli_args_t *a)
{
    if (!a->plan)
        return cli_fail(CLI_USAGE, a,
                        "--plan PLAN is required (the plan the key was made for)");
    cli_plan_t p;
    int rc = cli_plan_load(&p, a, a->plan);
    if (rc)
        return rc;
    if (cn_plan_layout(p.plan) == CN_LAYOUT_PACKED) {
        rc = cli_decrypt_packed(a, &p);
        cli_plan_clear(&p);
        return rc;
    }
    cn_client_t *c = NULL;
    uint8_t id[32];
    if ((rc = load_client(&c, id, a, a->pos[0], &p, 0)) == 0)
        rc = cli_decrypt_loaded(a, &p, c, id);
    cn_client_free(c);
    cli_plan_clear(&p);
    return rc;
}

/* decrypt of the batched layout with the plan and the client key loaded (id: the key's
 * id), as `cryptonets infer` has them from its encryption: a->pos[1] is the reply, a->plan
 * and a->pos[0] name the plan and key in messages only. */
int cli_decrypt_loaded(cli_args_t *a, const cli_plan_t *pp, cn_client_t *c,
                       const uint8_t id[32])
{
    const cli_plan_t p = *pp;
    int rc = 0;
    cli_reader_t r = {0};
    cn_int128 *out = NULL;
    char err[512];
    const char *rpath = a->pos[1];
    if (cli_reader_open(&r, rpath, CLI_KIND_REPLY, err, sizeof err)) {
        rc = cli_fail(CLI_ERROR, a, "%s", err);
        goto done;
    }
    if ((rc = cli_check_layout(a, &r.h, rpath, p.plan)))
        goto done;
    if (memcmp(r.h.digest, p.digest, 32) != 0) {
        rc = cli_fail(CLI_MISMATCH, a, "%s: a reply for another plan than %s", rpath, a->plan);
        goto done;
    }
    if (memcmp(r.h.key_id, id, 32) != 0) {
        rc = cli_fail(CLI_MISMATCH, a, "%s: a reply for another key than %s", rpath, a->pos[0]);
        goto done;
    }
    const size_t k = cn_plan_outputs(p.plan), n = cn_plan_params(p.plan)->n;
    if (r.h.inputs > r.h.records * n) {
        rc = cli_fail(CLI_ERROR, a, "%s: %llu inputs announced in %llu batches", rpath,
                      (unsigned long long)r.h.inputs, (unsigned long long)r.h.records);
        goto done;
    }
    cli_progress_t pr;
    cli_progress_start(&pr, "decrypt", a->quiet);
    size_t rows = 0;
    for (uint64_t b = 0; rc == 0 && b < r.h.records; b++) {
        uint64_t count;
        uint8_t *buf;
        size_t len;
        if (cli_reader_next(&r, &count, &buf, &len, n, err, sizeof err)) {
            rc = cli_fail(CLI_ERROR, a, "%s", err);
            break;
        }
        if (count > r.h.inputs - rows) {
            free(buf);
            rc = cli_fail(CLI_ERROR, a, "%s: batch %llu: more inputs than the header announces",
                          rpath, (unsigned long long)b + 1);
            break;
        }
        /* grown batch by batch: what is held is bounded by what was read */
        cn_int128 *grown = realloc(out, (rows + (size_t)count) * k * sizeof *out);
        if (!grown) {
            free(buf);
            rc = cli_fail(CLI_ERROR, a, "out of memory");
            break;
        }
        out = grown;
        cn_net_diag_t d = {{0}};
        const cn_status st = cn_client_decrypt(out + rows * k, c, buf, len, (size_t)count, &d);
        free(buf);
        if (st != CN_OK) {
            rc = cli_fail(cli_status_code(st), a, "%s: batch %llu: %s", rpath,
                          (unsigned long long)b + 1, d.msg[0] ? d.msg : cn_strerror(st));
            break;
        }
        rows += (size_t)count;
        cli_progress(&pr, (size_t)b + 1, (size_t)r.h.records);
    }
    if (rc == 0 && cli_reader_end(&r, err, sizeof err))
        rc = cli_fail(CLI_ERROR, a, "%s", err);
    if (rc == 0 && rows != r.h.inputs)
        rc = cli_fail(CLI_ERROR, a, "%s: %zu inputs, the header announces %llu", rpath, rows,
                      (unsigned long long)r.h.inputs);
    if (rc == 0)
        rc = write_predictions(a, a->out, out, rows, k, cn_plan_output_scale(p.plan));
done:
    free(out);
    cli_reader_close(&r);
    return rc;
}

int cli_write_predictions(const cli_args_t *a, const char *path, const cn_int128 *out,
                          size_t rows, size_t k, double scale)
{
    return write_predictions(a, path, out, rows, k, scale);
}

/* --- run ------------------------------------------------------------------------------- */

void cli_run_report(const cli_args_t *a, const cli_run_stats_t *r, const cn_plan_t *plan,
                    int threads, int labels)
{
    const cn_bfv_params_t *prm = cn_plan_params(plan);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const double peak = (double)ru.ru_maxrss * 1024.0, rows = (double)r->rows;
    const double e2e = r->t_enc + r->t_srv + r->t_dec;
    const double pph = r->t_srv > 0 ? 3600.0 * rows / r->t_srv : 0;
    const double pph_e2e = e2e > 0 ? 3600.0 * rows / e2e : 0;
    if (a->json) {
        json_t *doc = json_object(), *secs = json_object();
        json_object_set_new(doc, "layout", json_string(r->packed ? "packed" : "batched"));
        json_object_set_new(doc, "inputs", json_integer((json_int_t)r->rows));
        json_object_set_new(doc, r->packed ? "requests" : "batches",
                            json_integer((json_int_t)r->nbatch));
        if (labels) {
            json_object_set_new(doc, "correct", json_integer((json_int_t)r->correct));
            json_object_set_new(doc, "accuracy", json_real((double)r->correct / rows));
            json_object_set_new(doc, "float_accuracy",
                                json_real((double)r->float_correct / rows));
        }
        json_object_set_new(doc, "value_mismatches", json_integer((json_int_t)r->differ));
        json_object_set_new(doc, "predictions_per_hour", json_real(pph));
        json_object_set_new(doc, "end_to_end_predictions_per_hour", json_real(pph_e2e));
        json_object_set_new(secs, "compile", json_real(r->t_compile));
        json_object_set_new(secs, "keygen", json_real(r->t_keygen));
        json_object_set_new(secs, "encrypt", json_real(r->t_enc));
        for (size_t i = 0; i < r->steps.nsteps; i++) {
            char name[40];
            snprintf(name, sizeof name, "server_%s", r->steps.name[i]);
            json_object_set_new(secs, name, json_real(r->steps.seconds[i]));
        }
        json_object_set_new(secs, "server_total", json_real(r->t_srv));
        json_object_set_new(secs, "decrypt", json_real(r->t_dec));
        json_object_set_new(secs, "total", json_real(e2e));
        json_object_set_new(doc, "seconds", secs);
        json_object_set_new(doc, "plan", plan_json(plan));
        /* the threads used: 0 asked for every core (OpenMP's default) */
#ifdef _OPENMP
        json_object_set_new(doc, "threads",
                            json_integer(threads ? threads : omp_get_max_threads()));
#else
        json_object_set_new(doc, "threads", json_integer(threads ? threads : 1));
#endif
        json_object_set_new(doc, "upload_bytes", json_integer((json_int_t)r->up));
        json_object_set_new(doc, "download_bytes", json_integer((json_int_t)r->down));
        json_object_set_new(doc, "eval_key_bytes", json_integer((json_int_t)r->keys));
        json_object_set_new(doc, "peak_rss_bytes", json_integer((json_int_t)peak));
        (void)emit_json(doc, a, NULL);
        return;
    }
    if (r->packed)
        printf("\ncryptonets run: %zu inputs in %zu request(s) of up to %zu (packed layout)\n",
               r->rows, r->nbatch, r->per);
    else
        printf("\ncryptonets run: %zu inputs in %zu batch(es) of up to %zu\n", r->rows,
               r->nbatch, prm->n);
    const int sec = security_bits(prm);
    printf("  parameters: n = %zu, log2(qP) = %.1f, %zu plaintext modul%s, %d-bit security\n",
           prm->n, cn_bfv_params_log_qp(prm), prm->nt, prm->nt == 1 ? "us" : "i", sec);
    if (labels)
        printf("  accuracy (encrypted): %.2f%% (%zu/%zu); float model: %.2f%%\n",
               100.0 * (double)r->correct / rows, r->correct, r->rows,
               100.0 * (double)r->float_correct / rows);
    printf("  agreement with the plaintext integer network: %s\n",
           r->differ ? "ERROR: outputs differ" : "every output equal");
    printf("  seconds: compile %.2f, keygen %.2f, encrypt %.2f, server %.2f, decrypt %.2f\n",
           r->t_compile, r->t_keygen, r->t_enc, r->t_srv, r->t_dec);
    printf("  server steps:");
    for (size_t i = 0; i < r->steps.nsteps; i++)
        printf(" %s %.2f%s", r->steps.name[i], r->steps.seconds[i],
               i + 1 < r->steps.nsteps ? "," : "");
    printf("\n  predictions per hour: %.0f (server), %.0f (end to end)\n", pph, pph_e2e);
    printf("  bytes per %s: up %zu, down %zu; evaluation keys %zu; peak RSS %.0f MiB\n",
           r->packed ? "request" : "batch", r->up, r->down, r->keys, peak / 1048576.0);
}

int cli_run(cli_args_t *a)
{
    int threads, rc;
    if ((rc = parse_threads(&threads, a)))
        return rc;
    cli_model_opts_t mo;
    cn_compile_opts_t co;
    if ((rc = model_opts(&mo, a)) || (rc = compile_opts(&co, a)))
        return rc;
    cn_model_t m;
    if ((rc = cli_model_load(&m, a, a->pos[0], &mo)))
        return rc;
    cli_matrix_t x = {0}, lab = {0};
    cn_plan_t *plan = NULL, *splan = NULL;
    cn_client_t *c = NULL;
    cn_server_t *s = NULL;
    uint8_t *pb = NULL, *keys = NULL;
    size_t pl = 0;
    cn_int128 *got = NULL, *ref = NULL;
    double *fo = NULL;
    cli_run_stats_t r = {0};
    char err[512];
    cn_net_diag_t d = {{0}};
    const size_t nin = cn_model_inputs(&m), k = cn_model_outputs(&m);
    unsigned shift;
    if ((rc = cli_parse_shift(&shift, a, a->input_shift)))
        goto done;
    if (cli_read_inputs(&x, a->pos[1], a->format, nin, shift, m.input_min, m.input_max, err,
                        sizeof err) ||
        (a->labels && (cli_read_labels(&lab, a->labels, NULL, 1, err, sizeof err) ||
                       cli_check_range(&lab, a->labels, 0, (int64_t)k - 1, "the class indices",
                                       err, sizeof err)))) {
        rc = cli_fail(CLI_ERROR, a, "%s", err);
        goto done;
    }
    if (a->labels && lab.rows != x.rows) {
        rc = cli_fail(CLI_ERROR, a, "%s: %zu labels for %zu inputs", a->labels, lab.rows,
                      x.rows);
        goto done;
    }
    if ((rc = compile_model(&plan, &r.t_compile, a, &m, co, &x, a->labels ? &lab : NULL)))
        goto done;
    if (!a->json && !a->quiet)
        cn_plan_print(plan, stdout);
    if (cn_plan_layout(plan) == CN_LAYOUT_PACKED) {
        rc = cli_run_packed(a, plan, &x, &lab, &m, threads, r.t_compile);
        goto done;
    }
    /* client and server apart, as in a deployment: they share bytes only */
    double t0 = cli_now();
    cn_status st = cn_plan_to_bytes(&pb, &pl, plan);
    if (st == CN_OK)
        st = cn_client_create(&c, plan, NULL, 0);
    if (st == CN_OK) {
        cn_client_set_threads(c, threads);
        st = cn_client_eval_keys(&keys, &r.keys, c);
    }
    r.t_keygen = cli_now() - t0;
    if (st == CN_OK)
        st = cn_plan_from_bytes(&splan, pb, pl, 0, &d);
    if (st == CN_OK)
        st = cn_server_create(&s, splan, keys, r.keys, threads, &d);
    if (st != CN_OK) {
        rc = cli_fail(CLI_ERROR, a, "%s%s%s", cn_strerror(st), d.msg[0] ? ": " : "", d.msg);
        goto done;
    }
    const size_t n = cn_plan_params(plan)->n;
    r.rows = x.rows;
    r.nbatch = (x.rows + n - 1) / n;
    got = malloc(n * k * sizeof *got);
    ref = malloc(n * k * sizeof *ref);
    fo = malloc(k * sizeof *fo);
    cn_int128 *all = a->out ? malloc(x.rows * k * sizeof *all) : NULL;
    if (!got || !ref || !fo || (a->out && !all)) {
        free(all);
        rc = cli_fail(CLI_ERROR, a, "out of memory");
        goto done;
    }
    cli_progress_t pr;
    cli_progress_start(&pr, "run", a->quiet || a->json);
    for (size_t b = 0; rc == 0 && b < r.nbatch; b++) {
        const size_t first = b * n, count = x.rows - first < n ? x.rows - first : n;
        const int64_t *xb = x.v + first * nin;
        uint8_t *up = NULL, *down = NULL;
        size_t ul = 0, dl = 0;
        cn_server_timing_t tm;
        t0 = cli_now();
        st = cn_client_encrypt(&up, &ul, c, xb, count, &d);
        r.t_enc += cli_now() - t0;
        if (st == CN_OK) {
            t0 = cli_now();
            st = cn_server_eval(&down, &dl, s, up, ul, &tm, &d);
            r.t_srv += cli_now() - t0;
        }
        if (st == CN_OK) {
            for (size_t i = 0; i < tm.nsteps; i++) {
                r.steps.seconds[i] += tm.seconds[i];
                memcpy(r.steps.name[i], tm.name[i], sizeof tm.name[i]);
            }
            r.steps.nsteps = tm.nsteps;
            t0 = cli_now();
            st = cn_client_decrypt(got, c, down, dl, count, &d);
            r.t_dec += cli_now() - t0;
        }
        if (b == 0) {
            r.up = ul;
            r.down = dl;
        }
        free(up);
        free(down);
        if (st == CN_OK)
            st = cn_plan_eval_plain(ref, plan, xb, count);
        if (st != CN_OK) {
            rc = cli_fail(CLI_ERROR, a, "%s: inputs %zu..%zu: %s%s%s", a->pos[1], first + 1,
                          first + count, cn_strerror(st), d.msg[0] ? ": " : "", d.msg);
            break;
        }
        for (size_t i = 0; i < count; i++) {
            const cn_int128 *g = got + i * k;
            r.differ += memcmp(g, ref + i * k, k * sizeof *g) != 0;
            if (a->labels) {
                r.correct += (int64_t)argmax(g, k) == lab.v[first + i];
                if (cn_model_forward(fo, &m, xb + i * nin) == CN_OK) {
                    size_t bi = 0;
                    for (size_t j = 1; j < k; j++)
                        if (fo[j] > fo[bi])
                            bi = j;
                    r.float_correct += (int64_t)bi == lab.v[first + i];
                }
            }
        }
        if (all)
            memcpy(all + first * k, got, count * k * sizeof *got);
        cli_progress(&pr, b + 1, r.nbatch);
    }
    if (rc == 0) {
        cli_run_report(a, &r, plan, threads, a->labels != NULL);
        if (all) {
            cli_args_t csv = *a;
            csv.json = 0; /* the report is the JSON; the predictions file is CSV */
            rc = write_predictions(&csv, a->out, all, x.rows, k, cn_plan_output_scale(plan));
        }
        if (rc == 0 && r.differ)
            rc = cli_fail(CLI_DIFFER, a,
                          "%zu inputs decrypted to outputs that differ from the "
                          "plaintext integer network",
                          r.differ);
    }
    free(all);
done:
    free(got);
    free(ref);
    free(fo);
    free(keys);
    free(pb);
    cn_server_free(s);
    cn_plan_free(splan);
    cn_client_free(c);
    cn_plan_free(plan);
    cli_matrix_clear(&x);
    cli_matrix_clear(&lab);
    cn_model_clear(&m);
    return rc;
}
