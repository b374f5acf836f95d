/* bench/report: reads the JSON files of one benchmark run (bench/micro and
 * bench/throughput) and writes a summary: a table on stdout, and with --out DIR the
 * plots DIR/layers.svg (time per step), DIR/threads.svg (throughput against threads),
 * DIR/fill.svg (throughput against batch fill), DIR/opt.svg (each compiler optimization
 * off, as a ratio) and a Markdown page of the tables
 * (--markdown FILE). `make bench-report` runs it on the latest run of `make bench`.
 * A bench/latency file ("bench": "latency") gives a table and DIR/latency.svg: end-to-end
 * latency against batch size, both layouts, log scales.
 *
 *   bench/report [--out DIR] [--markdown FILE] FILE.json ...
 *
 * The files are read with jansson through bench/results_json.h: a file that is not JSON,
 * or lacks a field the report uses, is refused with its name and the line and column, or
 * the field, at fault; the other files are still reported. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results_json.h"

/* --- SVG ------------------------------------------------------------------------------- */

static const char *palette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

static FILE *svg_open(const char *dir, const char *name, int w, int h, const char *title)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "report: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%d\" y=\"20\" text-anchor=\"middle\" font-size=\"14\" "
            "font-weight=\"bold\">%s</text>\n",
            w, h, w, h, w / 2, title);
    return f;
}

static int svg_close(FILE *f)
{
    fprintf(f, "</svg>\n");
    return fclose(f);
}

/* a "nice" axis maximum at or above v: 1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten */
static double nice_max(double v)
{
    static const double steps[] = {1, 1.5, 2, 2.5, 3, 4, 5, 6, 8};
    if (!(v > 0))
        return 1;
    const double e = pow(10, floor(log10(v)));
    for (size_t k = 0; k < sizeof steps / sizeof *steps; k++)
        if (steps[k] * e >= v)
            return steps[k] * e;
    return 10 * e;
}

static void human(char *b, size_t n, double v)
{
    if (v >= 1e6)
        snprintf(b, n, "%.3gM", v / 1e6);
    else if (v >= 1e3)
        snprintf(b, n, "%.3gk", v / 1e3);
    else
        snprintf(b, n, "%.3g", v);
}

/* --- the run --------------------------------------------------------------------------- */

typedef struct {
    const char *file;
    cn_bench_results_t res; /* a bench/throughput file */
    const char *label;      /* short name of the network */
} tfile_t;

static const char *kind_of(const char *step)
{
    static const char *kinds[] = {"load", "linear", "square", "relin", "modswitch", "save"};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (strstr(step, kinds[i]))
            return kinds[i];
    return "other";
}

static int kind_index(const char *k)
{
    static const char *kinds[] = {"load",      "linear", "square", "relin",
                                  "modswitch", "save",   "other"};
    for (int i = 0; i < 7; i++)
        if (!strcmp(k, kinds[i]))
            return i;
    return 6;
}

/* Time per step: one stacked bar per configuration of the threads group (or the single
 * configuration) of every network, a colour per kind of step. */
static int plot_layers(const char *dir, tfile_t *tf, size_t ntf)
{
    const cn_bench_run_t *bars[32];
    const char *lab[32];
    size_t nb = 0;
    double tmax = 0;
    for (size_t f = 0; f < ntf; f++) {
        const cn_bench_results_t *res = &tf[f].res;
        /* the threads group (or a single run); else the file's first configuration */
        int any = 0;
        for (size_t i = 0; i < res->nruns; i++)
            any |=
                !strcmp(res->runs[i].group, "threads") || !strcmp(res->runs[i].group, "single");
        for (size_t i = 0, taken = 0; i < res->nruns && nb < 32; i++) {
            const cn_bench_run_t *r = &res->runs[i];
            if (r->error ||
                (any ? strcmp(r->group, "threads") && strcmp(r->group, "single") : taken))
                continue;
            taken++;
            bars[nb] = r;
            lab[nb++] = tf[f].label;
            if (r->server.median > tmax)
                tmax = r->server.median;
        }
    }
    if (!nb)
        return 0;
    const int left = 250, right = 70, top = 60, bh = 28, gap = 12, w = 960;
    const int h = top + (int)nb * (bh + gap) + 70;
    FILE *f =
        svg_open(dir, "layers.svg", w, h, "Server time per step of one batch (median seconds)");
    if (!f)
        return -1;
    const double xmax = nice_max(tmax);
    const double sx = (w - left - right) / xmax;
    for (int t = 0; t <= 10; t++) {
        const double x = left + t * (w - left - right) / 10.0;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n", x,
                top - 5, x, h - 60);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.3g</text>\n", x, h - 45,
                xmax * t / 10);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">seconds</text>\n",
            left + (w - left - right) / 2, h - 28);
    for (size_t b = 0; b < nb; b++) {
        const int y = top + (int)b * (bh + gap);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s, %d thread%s</text>\n",
                left - 8, y + bh / 2 + 4, lab[b], bars[b]->threads,
                bars[b]->threads == 1 ? "" : "s");
        double x = left;
        for (size_t s = 0; s < bars[b]->nsteps; s++) {
            const double sec = bars[b]->steps[s].median;
            const char *nm = bars[b]->steps[s].name;
            const double wd = sec * sx;
            fprintf(f,
                    "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\" "
                    "stroke=\"white\"><title>%s: %.3f s</title></rect>\n",
                    x, y, wd, bh, palette[kind_index(kind_of(nm))], nm, sec);
            if (wd > 40)
                fprintf(f,
                        "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"white\" "
                        "font-size=\"10\">%.2f</text>\n",
                        x + wd / 2, y + bh / 2 + 4, sec);
            x += wd;
        }
        fprintf(f, "<text x=\"%.1f\" y=\"%d\">%.2f s</text>\n", x + 4, y + bh / 2 + 4,
                bars[b]->server.median);
    }
    static const char *kinds[] = {"load", "linear", "square", "relin", "modswitch", "save"};
    for (int k = 0; k < 6; k++) {
        const int x = left + k * 100;
        fprintf(f,
                "<rect x=\"%d\" y=\"32\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                "<text x=\"%d\" y=\"42\">%s</text>\n",
                x, palette[k], x + 16, kinds[k]);
    }
    return svg_close(f);
}

/* Throughput (predictions per hour, server and end to end) against a group's parameter:
 * threads (linear axes) or images in the batch (fill, log axes). */
static int plot_group(const char *dir, const char *file, const char *group, int logx,
                      const char *title, const char *xlabel, tfile_t *tf, size_t ntf)
{
    typedef struct {
        double x[16], y[16];
        size_t n;
        char name[96];
    } series_t;
    series_t se[16];
    size_t ns = 0;
    double xmin = INFINITY, xmax = 0, ymax = 0, ymin = INFINITY;
    for (size_t f = 0; f < ntf && ns + 2 <= 16; f++) {
        const cn_bench_results_t *res = &tf[f].res;
        series_t *a = &se[ns], *b = &se[ns + 1];
        memset(a, 0, 2 * sizeof *a);
        snprintf(a->name, sizeof a->name, "%s, server", tf[f].label);
        snprintf(b->name, sizeof b->name, "%s, end to end", tf[f].label);
        for (size_t i = 0; i < res->nruns && a->n < 16; i++) {
            const cn_bench_run_t *r = &res->runs[i];
            if (strcmp(r->group, group) || r->error)
                continue;
            const double x = logx ? r->images : r->threads;
            a->x[a->n] = b->x[b->n] = x;
            a->y[a->n++] = r->predictions_per_hour;
            b->y[b->n++] = r->end_to_end_predictions_per_hour;
            xmin = fmin(xmin, x);
            xmax = fmax(xmax, x);
            ymax = fmax(ymax, a->y[a->n - 1]);
            ymin = fmin(ymin, b->y[b->n - 1]);
        }
        if (a->n)
            ns += 2;
    }
    if (!ns)
        return 0;
    for (size_t s = 0; !logx && s < ns; s += 2) /* room for the ideal scaling line */
        if (se[s].n > 1 && se[s].x[0] > 0)
            ymax = fmax(ymax, se[s].y[0] * se[s].x[se[s].n - 1] / se[s].x[0]);
    const int w = 860, h = 460, left = 90, right = 300, top = 50, bottom = 60;
    FILE *f = svg_open(dir, file, w, h, title);
    if (!f)
        return -1;
    /* axes: linear from 0, or log10 over whole decades */
    double y0 = 0, y1 = nice_max(ymax * 1.05), x0 = logx ? log10(xmin) : 0,
           x1 = logx ? log10(xmax) : xmax;
    if (logx) {
        y0 = floor(log10(ymin > 0 ? ymin : 1));
        y1 = ceil(log10(ymax));
        if (y1 <= y0)
            y1 = y0 + 1;
    }
    if (x1 <= x0)
        x1 = x0 + 1;
    const double pw = w - left - right, ph = h - top - bottom;
#define PX(v) (left + ((logx ? log10(v) : (v)) - x0) / (x1 - x0) * pw)
#define PY(v) (top + ph - ((logx ? log10(v) : (v)) - y0) / (y1 - y0) * ph)
    char lb[32];
    const int yt = logx ? (int)(y1 - y0) : 5;
    for (int t = 0; t <= yt; t++) {
        const double v = logx ? pow(10, y0 + t) : y1 * t / yt;
        const double y = logx ? PY(v) : top + ph - ph * t / yt;
        human(lb, sizeof lb, v);
        fprintf(f,
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                left, y, left + pw, y, left - 6, y + 4, lb);
    }
    /* x ticks at the measured points */
    for (size_t i = 0; i < se[0].n; i++) {
        const double x = PX(se[0].x[i]);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                x, top, x, top + ph, x, top + ph + 16, se[0].x[i]);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", left + pw / 2,
            h - 20, xlabel);
    /* CryptoNets (Gilad-Bachrach et al., ICML 2016): about 59,000 predictions per hour */
    if (!logx || (59000 >= pow(10, y0) && 59000 <= pow(10, y1)))
        fprintf(f,
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\" "
                "stroke-dasharray=\"2 3\"/><text x=\"%.1f\" y=\"%.1f\" fill=\"#666\" "
                "text-anchor=\"end\">CryptoNets 2016: 59,000/h</text>\n",
                left, PY(59000.0), left + pw, PY(59000.0), left + pw - 4, PY(59000.0) - 4);
    /* ideal scaling from the first point of each server series (threads: linear) */
    for (size_t s = 0; !logx && s < ns; s += 2) {
        if (se[s].n < 2 || !(se[s].x[0] > 0))
            continue;
        const double xe = se[s].x[se[s].n - 1], ye = se[s].y[0] * xe / se[s].x[0];
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-opacity=\"0.4\" stroke-dasharray=\"1 3\"/>\n",
                PX(se[s].x[0]), PY(se[s].y[0]), PX(xe), PY(ye), palette[(s / 2) % 10]);
    }
    fprintf(
        f,
        "<text x=\"18\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 18 %.1f)\">"
        "predictions per hour</text>\n",
        top + ph / 2, top + ph / 2);
    for (size_t s = 0; s < ns; s++) {
        const char *col = palette[(s / 2) % 10];
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", col,
                s % 2 ? " stroke-dasharray=\"6 4\"" : "");
        for (size_t i = 0; i < se[s].n; i++)
            fprintf(f, "%.1f,%.1f ", PX(se[s].x[i]), PY(se[s].y[i] > 0 ? se[s].y[i] : 1));
        fprintf(f, "\"/>\n");
        for (size_t i = 0; i < se[s].n; i++) {
            human(lb, sizeof lb, se[s].y[i]);
            fprintf(f,
                    "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>%s: %s"
                    "</title></circle>\n",
                    PX(se[s].x[i]), PY(se[s].y[i] > 0 ? se[s].y[i] : 1), col, se[s].name, lb);
        }
        const double ly = top + 10 + 20.0 * (double)s;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"2\"%s/><text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                left + pw + 12, ly, left + pw + 40, ly, col,
                s % 2 ? " stroke-dasharray=\"6 4\"" : "", left + pw + 46, ly + 4, se[s].name);
    }
    if (!logx)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#666\">dotted: linear scaling</text>\n",
                left + pw + 12, top + 14 + 20.0 * (double)ns);
#undef PX
#undef PY
    return svg_close(f);
}

/* The optimization group: server time with one optimization off over the time with all
 * on, a bar per configuration and network (1 = no effect). */
static int plot_opt(const char *dir, tfile_t *tf, size_t ntf)
{
    const cn_bench_run_t *bars[32];
    const char *lab[32];
    size_t nb = 0;
    double rmax = 1;
    for (size_t f = 0; f < ntf; f++) {
        const cn_bench_results_t *res = &tf[f].res;
        for (size_t i = 0; i < res->nruns && nb < 32; i++) {
            const cn_bench_run_t *r = &res->runs[i];
            if (strcmp(r->group, "opt") || r->error || !(r->server_time_ratio > 0))
                continue;
            bars[nb] = r;
            lab[nb++] = tf[f].label;
            rmax = fmax(rmax, r->server_time_ratio);
        }
    }
    if (!nb)
        return 0;
    const int left = 400, right = 70, top = 50, bh = 22, gap = 8, w = 960;
    const int h = top + (int)nb * (bh + gap) + 60;
    FILE *f = svg_open(dir, "opt.svg", w, h,
                       "Server time with one optimization off, relative to all on");
    if (!f)
        return -1;
    const double xmax = nice_max(rmax * 1.05), sx = (w - left - right) / xmax;
    for (int t = 0; t <= 10; t++) {
        const double x = left + t * (w - left - right) / 10.0;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n"
                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.3g</text>\n",
                x, top - 5, x, h - 50, x, h - 35, xmax * t / 10);
    }
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333\" "
            "stroke-dasharray=\"4 3\"/>\n<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">"
            "server time / server time with every optimization (1 = no effect)</text>\n",
            left + sx, top - 5, left + sx, h - 50, left + (w - left - right) / 2, h - 15);
    for (size_t b = 0; b < nb; b++) {
        const int y = top + (int)b * (bh + gap);
        const double r = bars[b]->server_time_ratio;
        fprintf(f,
                "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s: %s</text>\n"
                "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n"
                "<text x=\"%.1f\" y=\"%d\">%.2fx</text>\n",
                left - 8, y + bh / 2 + 4, lab[b], bars[b]->name, left, y, r * sx, bh,
                palette[strstr(lab[b], "MNIST") ? 0 : 1], left + r * sx + 4, y + bh / 2 + 4, r);
    }
    return svg_close(f);
}

/* --- bench/latency ----------------------------------------------------------------------- */

typedef struct {
    int packed, extrapolated, exact;
    double batch, med, min, max, server, server_cpu, up, down, keys, pph, first, setup,
        peak_srv, peak_cli;
} lat_row_t;

typedef struct {
    json_t *doc;
    const char *file;
    lat_row_t rows[64];
    size_t nrows;
    const char *cross_kind;
    double cross_above, cross_below, cross_interp;
} lat_file_t;

/* a number field of o (null: NAN); -1 and a message when missing or not a number */
static int lat_num(double *v, const json_t *o, const char *path, const char *file)
{
    const json_t *x = o;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *k = strtok(buf, "."); k && x; k = strtok(NULL, "."))
        x = json_object_get(x, k);
    if (json_is_null(x)) {
        *v = NAN;
        return 0;
    }
    if (!json_is_number(x)) {
        fprintf(stderr, "report: %s: field \"%s\" missing or not a number\n", file, path);
        return -1;
    }
    *v = json_number_value(x);
    return 0;
}

/* 1: a bench/latency file read into *lf; 0: not one (left to cn_bench_results_load); -1:
 * a bench/latency file with a field missing */
static int lat_load(lat_file_t *lf, const char *path)
{
    memset(lf, 0, sizeof *lf);
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    const json_t *b = doc ? json_object_get(doc, "bench") : NULL;
    if (!json_is_string(b) || strcmp(json_string_value(b), "latency")) {
        json_decref(doc);
        return 0;
    }
    lf->doc = doc;
    lf->file = path;
    const json_t *runs = json_object_get(doc, "runs"), *cr = json_object_get(doc, "crossover");
    if (!json_is_array(runs) || !json_is_object(cr) ||
        !json_is_string(json_object_get(cr, "kind"))) {
        fprintf(stderr, "report: %s: \"runs\" or \"crossover\" missing\n", path);
        return -1;
    }
    lf->cross_kind = json_string_value(json_object_get(cr, "kind"));
    if (lat_num(&lf->cross_above, cr, "above", path) ||
        lat_num(&lf->cross_below, cr, "below", path) ||
        lat_num(&lf->cross_interp, cr, "interpolated", path))
        return -1;
    for (size_t i = 0; i < json_array_size(runs) && lf->nrows < 64; i++) {
        const json_t *o = json_array_get(runs, i);
        lat_row_t *r = &lf->rows[lf->nrows];
        const json_t *lay = json_object_get(o, "layout");
        if (!json_is_string(lay) || !json_is_boolean(json_object_get(o, "extrapolated")) ||
            !json_is_boolean(json_object_get(o, "exact"))) {
            fprintf(stderr, "report: %s: run %zu: layout, extrapolated or exact missing\n",
                    path, i);
            return -1;
        }
        r->packed = !strcmp(json_string_value(lay), "packed");
        r->extrapolated = json_is_true(json_object_get(o, "extrapolated"));
        r->exact = json_is_true(json_object_get(o, "exact"));
        if (lat_num(&r->batch, o, "batch", path) ||
            lat_num(&r->med, o, "end_to_end.median", path) ||
            lat_num(&r->min, o, "end_to_end.min", path) ||
            lat_num(&r->max, o, "end_to_end.max", path) ||
            lat_num(&r->server, o, "server.median", path) ||
            lat_num(&r->server_cpu, o, "server_cpu.median", path) ||
            lat_num(&r->up, o, "upload_bytes", path) ||
            lat_num(&r->down, o, "download_bytes", path) ||
            lat_num(&r->keys, o, "key_bytes", path) ||
            lat_num(&r->pph, o, "predictions_per_hour", path) ||
            lat_num(&r->first, o, "first.end_to_end", path) ||
            lat_num(&r->setup, o, "first.server_setup", path) ||
            lat_num(&r->peak_srv, o, "peak_rss_bytes", path) ||
            lat_num(&r->peak_cli, o, "client_peak_rss_bytes", path))
            return -1;
        lf->nrows++;
    }
    return 1;
}

/* End-to-end latency (median, min-max bars) against batch size, a line per layout, log
 * scales; extrapolated points hollow on a dotted segment; LoLa's and Concrete-ML's
 * published one-image latencies as horizontal references. */
static int plot_latency(const char *dir, const lat_file_t *lf)
{
    double xmin = INFINITY, xmax = 0, ymin = INFINITY, ymax = 0;
    for (size_t i = 0; i < lf->nrows; i++) {
        const lat_row_t *r = &lf->rows[i];
        if (!(r->med > 0))
            continue;
        xmin = fmin(xmin, r->batch);
        xmax = fmax(xmax, r->batch);
        ymin = fmin(ymin, isnan(r->min) ? r->med : r->min);
        ymax = fmax(ymax, isnan(r->max) ? r->med : r->max);
    }
    if (!(xmax > 0))
        return 0;
    ymax = fmax(ymax, 2.2);
    const int w = 860, h = 480, left = 80, right = 260, top = 50, bottom = 60;
    FILE *f = svg_open(dir, "latency.svg", w, h,
                       "Latency against batch size, both layouts (median end to end, s)");
    if (!f)
        return -1;
    const double x0 = log10(xmin), x1 = log10(xmax) > x0 ? log10(xmax) : x0 + 1,
                 y0 = floor(log10(ymin)),
                 y1 = ceil(log10(ymax)) > y0 ? ceil(log10(ymax)) : y0 + 1;
    const double pw = w - left - right, ph = h - top - bottom;
#define LX(v) (left + (log10(v) - x0) / (x1 - x0) * pw)
#define LY(v) (top + ph - (log10(v) - y0) / (y1 - y0) * ph)
    char lb[32];
    for (int t = 0; t <= (int)(y1 - y0); t++) {
        const double v = pow(10, y0 + t);
        human(lb, sizeof lb, v);
        fprintf(f,
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s s</text>\n",
                left, LY(v), left + pw, LY(v), left - 6, LY(v) + 4, lb);
    }
    for (size_t i = 0; i < lf->nrows; i++) {
        if (!lf->rows[i].packed)
            continue;
        const double x = LX(lf->rows[i].batch);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                x, top, x, top + ph, x, top + ph + 16, lf->rows[i].batch);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">inputs per request</text>\n",
            left + pw / 2, h - 20);
    fprintf(
        f,
        "<text x=\"18\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 18 %.1f)\">"
        "seconds, end to end</text>\n",
        top + ph / 2, top + ph / 2);
    /* published one-image latencies (their hardware, not this machine) */
    static const struct {
        double s;
        const char *name;
    } refs[] = {{2.2, "LoLa, 8 vCPU: 2.2 s"}, {1.0, "Concrete-ML, 192 vCPU: 1 s"}};
    for (size_t k = 0; k < 2; k++)
        if (refs[k].s >= pow(10, y0) && refs[k].s <= pow(10, y1))
            fprintf(f,
                    "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\" "
                    "stroke-dasharray=\"2 3\"/><text x=\"%.1f\" y=\"%.1f\" fill=\"#666\" "
                    "text-anchor=\"end\">%s</text>\n",
                    left, LY(refs[k].s), left + pw, LY(refs[k].s), left + pw - 4,
                    LY(refs[k].s) - 4, refs[k].name);
    for (int pk = 1; pk >= 0; pk--) {
        const char *col = palette[pk ? 0 : 1];
        double px = NAN, py = NAN;
        int pext = 0;
        for (size_t i = 0; i < lf->nrows; i++) {
            const lat_row_t *r = &lf->rows[i];
            if (r->packed != pk || !(r->med > 0))
                continue;
            const double x = LX(r->batch), y = LY(r->med);
            if (!isnan(px))
                fprintf(f,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                        "stroke-width=\"2\"%s/>\n",
                        px, py, x, y, col,
                        r->extrapolated || pext ? " stroke-dasharray=\"2 3\"" : "");
            if (!r->extrapolated && r->min > 0 && r->max > 0)
                fprintf(
                    f,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n",
                    x, LY(r->min), x, LY(r->max), col);
            fprintf(f,
                    "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\" stroke=\"%s\"><title>"
                    "%s, %g inputs: %.3g s%s</title></circle>\n",
                    x, y, r->extrapolated ? "white" : col, col, pk ? "packed" : "batched",
                    r->batch, r->med, r->extrapolated ? " (extrapolated)" : "");
            px = x;
            py = y;
            pext = r->extrapolated;
        }
        const double ly = top + 10 + 22.0 * (1 - pk);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"2\"/><text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                left + pw + 12, ly, left + pw + 40, ly, col, left + pw + 46, ly + 4,
                pk ? "packed layout" : "batched layout");
    }
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" fill=\"#666\">bars: min to max</text>\n"
            "<text x=\"%.1f\" y=\"%.1f\" fill=\"#666\">hollow: extrapolated</text>\n",
            left + pw + 12, top + 64.0, left + pw + 12, top + 82.0);
    if (!strcmp(lf->cross_kind, "between") && lf->cross_interp > 0)
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e15759\" "
                "stroke-dasharray=\"4 3\"/><text x=\"%.1f\" y=\"%.1f\" fill=\"#e15759\">"
                "crossover ~%.0f</text>\n",
                LX(lf->cross_interp), top, LX(lf->cross_interp), top + ph,
                LX(lf->cross_interp) + 4, top + ph - 8, lf->cross_interp);
#undef LX
#undef LY
    return svg_close(f);
}

/* --- tables ---------------------------------------------------------------------------- */

static void out(FILE *a, FILE *b, const char *fmt, ...)
{
    va_list ap;
    for (int k = 0; k < 2; k++) {
        FILE *f = k ? b : a;
        if (!f)
            continue;
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
    }
}

static void commas(char *b, size_t n, double v)
{
    char t[64];
    snprintf(t, sizeof t, "%.0f", v);
    const size_t l = strlen(t);
    size_t o = 0;
    for (size_t i = 0; i < l && o + 2 < n; i++) {
        b[o++] = t[i];
        if (t[i] != '-' && (l - i - 1) % 3 == 0 && i + 1 < l)
            b[o++] = ',';
    }
    b[o] = 0;
}

static void table_throughput(FILE *md, const tfile_t *t)
{
    const cn_bench_results_t *res = &t->res;
    out(stdout, md, "\n### %s (`%s`)\n\n", t->label, res->network);
    out(stdout, md,
        "%d batches per configuration after one uncounted first batch, %s; %s%.0d%s.\n\n",
        res->reps, res->date,
        res->weight_bits ? "weights of " : "weight widths searched by the compiler",
        res->weight_bits, res->weight_bits ? " bits" : "");
    out(stdout, md,
        "| group | configuration | n | log2 qP | t moduli | images | server s "
        "(min-max) | ratio | encrypt s | e2e s | server pred/h | e2e pred/h | "
        "server MiB | client MiB | up MB | down MB | budget | exact |\n");
    out(stdout, md,
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | "
        "--- | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < res->nruns; i++) {
        const cn_bench_run_t *r = &res->runs[i];
        if (r->error) {
            out(stdout, md, "| %s | %s | not run: %s ||||||||||||||||\n", r->group, r->name,
                r->error);
            continue;
        }
        char a[32], b[32];
        commas(a, sizeof a, r->predictions_per_hour);
        commas(b, sizeof b, r->end_to_end_predictions_per_hour);
        out(stdout, md,
            "| %s | %s | %.0f | %.1f | %zu | %.0f | %.3f (%.3f-%.3f) | %.2f | %.3f | "
            "%.3f | %s | %s | %.0f | %.0f | %.1f | %.1f | %.0f / %.1f | %s |\n",
            r->group, r->name, r->n, r->log_q, r->nmoduli, r->images, r->server.median,
            r->server.min, r->server.max, r->server_time_ratio, r->encrypt.median,
            r->end_to_end.median, a, b, r->peak_rss_bytes / 1048576.0,
            r->client_peak_rss_bytes / 1048576.0, r->upload_bytes / 1e6,
            r->download_bytes / 1e6, r->budget_measured, r->budget_estimate,
            r->exact ? "yes" : "NO");
    }
    /* time per step of the threads group (or the single configuration) */
    size_t nthr = 0;
    const cn_bench_run_t *thr[8];
    for (size_t i = 0; i < res->nruns && nthr < 8; i++) {
        const cn_bench_run_t *r = &res->runs[i];
        if ((!strcmp(r->group, "threads") || !strcmp(r->group, "single")) && !r->error)
            thr[nthr++] = r;
    }
    if (!nthr)
        return;
    out(stdout, md, "\nServer time per step (median seconds):\n\n| step |");
    for (size_t k = 0; k < nthr; k++)
        out(stdout, md, " %d thread%s |", thr[k]->threads, thr[k]->threads == 1 ? "" : "s");
    out(stdout, md, "\n| --- |");
    for (size_t k = 0; k < nthr; k++)
        out(stdout, md, " --- |");
    out(stdout, md, "\n");
    for (size_t s = 0; s < thr[0]->nsteps; s++) { /* the steps' names from the first run */
        out(stdout, md, "| %s |", thr[0]->steps[s].name);
        for (size_t k = 0; k < nthr; k++)
            out(stdout, md, " %.3f |", s < thr[k]->nsteps ? thr[k]->steps[s].median : NAN);
        out(stdout, md, "\n");
    }
    out(stdout, md, "| **server total** |");
    for (size_t k = 0; k < nthr; k++)
        out(stdout, md, " **%.3f** |", thr[k]->server.median);
    out(stdout, md, "\n");
}

static void table_micro(FILE *md, const cn_bench_results_t *res, const char *file)
{
    out(stdout, md, "\n### bench/micro (`%s`), median microseconds\n\n", file);
    out(stdout, md, "| op | n | primes | bits | median us | min | max | NTT kernel |\n");
    out(stdout, md, "| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < res->nrows; i++) {
        const cn_bench_micro_row_t *r = &res->rows[i];
        if (!isnan(r->bytes)) {
            out(stdout, md, "| %s | %.0f | %.0f | | %.0f bytes | | | |\n", r->op, r->n,
                r->primes, r->bytes);
            continue;
        }
        out(stdout, md, "| %s | %.0f | %.0f | %.0f | %.2f | %.2f | %.2f | %s |\n", r->op, r->n,
            r->primes, r->bits, r->median_us, r->min_us, r->max_us, r->kernel);
    }
}

static void table_latency(FILE *md, const lat_file_t *lf)
{
    out(stdout, md, "\n### Latency against batch size (`%s`)\n\n", lf->file);
    out(stdout, md,
        "| layout | batch | end to end median (min-max) s | server s (CPU s) | first "
        "request s (setup s) | up MB | down MB | keys MB | predictions/h | peak MiB server / "
        "client | exact |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
        "---: "
        "| --- |\n");
    for (size_t i = 0; i < lf->nrows; i++) {
        const lat_row_t *r = &lf->rows[i];
        char pph[32], first[64] = "-";
        commas(pph, sizeof pph, r->pph);
        if (!isnan(r->first))
            snprintf(first, sizeof first, "%.3f (%.2f)", r->first, r->setup);
        if (r->extrapolated)
            out(stdout, md,
                "| %s | %g | %.3f (extrapolated) | %.3f (%.3f) | - | %.1f | %.2f | %.1f | %s | "
                "- | - |\n",
                r->packed ? "packed" : "batched", r->batch, r->med, r->server, r->server_cpu,
                r->up / 1e6, r->down / 1e6, r->keys / 1e6, pph);
        else
            out(stdout, md,
                "| %s | %g | %.3f (%.3f-%.3f) | %.3f (%.3f) | %s | %.1f | %.2f | %.1f "
                "| %s | %.0f / %.0f | %s |\n",
                r->packed ? "packed" : "batched", r->batch, r->med, r->min, r->max, r->server,
                r->server_cpu, first, r->up / 1e6, r->down / 1e6, r->keys / 1e6, pph,
                r->peak_srv / 1048576.0, r->peak_cli / 1048576.0, r->exact ? "yes" : "NO");
    }
    if (!strcmp(lf->cross_kind, "between"))
        out(stdout, md,
            "\nCrossover: the batched layout wins above %.0f and below %.0f inputs per "
            "request (interpolated: about %.0f).\n",
            lf->cross_above, lf->cross_below, lf->cross_interp);
    else
        out(stdout, md, "\nCrossover: %s.\n",
            !strcmp(lf->cross_kind, "below_first")  ? "the batched layout wins at every size"
            : !strcmp(lf->cross_kind, "above_last") ? "the packed layout wins at every size"
                                                    : "one layout only");
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *mdpath = NULL;
    tfile_t tf[16];
    size_t ntf = 0;
    cn_bench_results_t micro = {0};
    const char *micro_file = NULL;
    lat_file_t lat = {0};
    int have_lat = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            dir = argv[++i];
            continue;
        }
        if (!strcmp(argv[i], "--markdown") && i + 1 < argc) {
            mdpath = argv[++i];
            continue;
        }
        if (argv[i][0] == '-') {
            fprintf(stderr, "usage: report [--out DIR] [--markdown FILE] FILE.json ...\n");
            return 2;
        }
        if (!have_lat) {
            const int k = lat_load(&lat, argv[i]);
            if (k == 1) {
                have_lat = 1;
                continue;
            }
            if (k < 0) {
                json_decref(lat.doc);
                memset(&lat, 0, sizeof lat);
                rc = 1;
                continue;
            }
        }
        cn_bench_results_t v;
        char err[512];
        if (cn_bench_results_load(&v, argv[i], err, sizeof err) != CN_OK) {
            fprintf(stderr, "report: %s\n", err);
            rc = 1;
            continue;
        }
        if (v.kind == CN_BENCH_MICRO && !micro_file) {
            micro = v;
            micro_file = argv[i];
        } else if (v.kind == CN_BENCH_THROUGHPUT && ntf < 16) {
            tf[ntf].file = argv[i];
            tf[ntf].res = v;
            tf[ntf].label = strstr(v.network, "mnist")    ? "MNIST model"
                            : strstr(v.network, "random") ? "random CryptoNets shape"
                                                          : v.network;
            ntf++;
        } else {
            fprintf(stderr, "report: %s: left out: %s\n", argv[i],
                    v.kind == CN_BENCH_MICRO
                        ? "one bench/micro file is reported"
                        : "at most 16 bench/throughput files are reported");
            cn_bench_results_clear(&v);
            rc = 1;
        }
    }
    if (!ntf && !micro_file && !have_lat) {
        fprintf(stderr, "report: no benchmark results given\n");
        return 1;
    }
    FILE *md = NULL;
    if (mdpath && !(md = fopen(mdpath, "w"))) {
        fprintf(stderr, "report: %s: %s\n", mdpath, strerror(errno));
        return 1;
    }
    if (md)
        fprintf(md, "# Benchmark results (generated)\n\nWritten by `make bench-report` "
                    "(bench/report) from the JSON files of one `make bench` run; see "
                    "[benchmarks.md](benchmarks.md) for how to read them.\n");
    if (ntf)
        out(stdout, md, "\nMachine: %s, %d cores, flags: %s; NTT kernel: %s.\n", tf[0].res.cpu,
            tf[0].res.cores, tf[0].res.flags, tf[0].res.ntt_kernel);
    if (md && dir && have_lat)
        fprintf(md, "\n![latency against batch size](img/latency.svg)\n");
    if (have_lat)
        table_latency(md, &lat);
    if (md && dir && ntf)
        fprintf(md, "\n![time per step](img/layers.svg)\n\n![throughput against threads]"
                    "(img/threads.svg)\n\n![throughput against batch fill](img/fill.svg)\n\n"
                    "![optimizations off](img/opt.svg)\n");
    for (size_t i = 0; i < ntf; i++)
        table_throughput(md, &tf[i]);
    if (micro_file)
        table_micro(md, &micro, micro_file);
    if (md && fclose(md)) {
        fprintf(stderr, "report: %s: write failed\n", mdpath);
        rc = 1;
    }
    if (dir && have_lat && plot_latency(dir, &lat))
        rc = 1;
    if (dir && ntf) {
        if (plot_layers(dir, tf, ntf) ||
            plot_group(dir, "threads.svg", "threads", 0,
                       "Throughput against threads (one full batch)", "threads", tf, ntf) ||
            plot_group(dir, "fill.svg", "fill", 1, "Throughput against batch fill",
                       "images in the batch", tf, ntf) ||
            plot_opt(dir, tf, ntf))
            rc = 1;
    }
    for (size_t i = 0; i < ntf; i++)
        cn_bench_results_clear(&tf[i].res);
    cn_bench_results_clear(&micro);
    json_decref(lat.doc);
    return rc;
}
