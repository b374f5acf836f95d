/* bench/report: reads the JSON files of one benchmark run (bench/micro and
 * bench/throughput) and writes a summary: a table on stdout, and with --out DIR the
 * plots DIR/layers.svg (time per step), DIR/threads.svg (throughput against threads),
 * DIR/fill.svg (throughput against batch fill), DIR/opt.svg (each compiler optimization
 * off, as a ratio) and a Markdown page of the tables
 * (--markdown FILE). `make bench-report` runs it on the latest run of `make bench`.
 *
 *   bench/report [--out DIR] [--markdown FILE] FILE.json ...
 *
 * The JSON reader is bench/json.h (files above 64 MiB, or not JSON, are refused with the
 * file and the offset). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* Parses file path into *v; prints an error and returns -1 on failure. */
static int jload(jv *v, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "report: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, len = 0, r;
    char *buf = malloc(cap);
    while (buf && (r = fread(buf + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len < cap)
            continue;
        char *nb = cap < ((size_t)64 << 20) ? realloc(buf, cap *= 2) : NULL;
        if (!nb)
            free(buf);
        buf = nb;
    }
    const int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        fprintf(stderr, "report: %s: %s\n", path, bad ? "read error" : "too large (> 64 MiB)");
        free(buf);
        return -1;
    }
    char err[160];
    const int rc = jparse(v, buf, len, err, sizeof err);
    if (rc)
        fprintf(stderr, "report: %s: %s\n", path, err);
    free(buf);
    return rc;
}

static double jstat(const jv *o, const char *key, const char *field)
{
    return jnum(jget(o, key), field, NAN);
}

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
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
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
    jv root;
    const char *label; /* short name of the network */
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
    static const char *kinds[] = {"load", "linear", "square", "relin", "modswitch", "save",
                                  "other"};
    for (int i = 0; i < 7; i++)
        if (!strcmp(k, kinds[i]))
            return i;
    return 6;
}

/* Time per step: one stacked bar per configuration of the threads group (or the single
 * configuration) of every network, a colour per kind of step. */
static int plot_layers(const char *dir, tfile_t *tf, size_t ntf)
{
    const jv *bars[32];
    const char *lab[32];
    size_t nb = 0;
    double tmax = 0;
    for (size_t f = 0; f < ntf; f++) {
        const jv *runs = jget(&tf[f].root, "runs");
        /* the threads group (or a single run); else the file's first configuration */
        int any = 0;
        for (size_t i = 0; runs && i < runs->n; i++)
            any |= !strcmp(jstr(&runs->items[i], "group"), "threads") ||
                   !strcmp(jstr(&runs->items[i], "group"), "single");
        for (size_t i = 0, taken = 0; runs && i < runs->n && nb < 32; i++) {
            const jv *r = &runs->items[i];
            const char *g = jstr(r, "group");
            if (jget(r, "error") || (any ? strcmp(g, "threads") && strcmp(g, "single") : taken))
                continue;
            taken++;
            bars[nb] = r;
            lab[nb++] = tf[f].label;
            const double t = jstat(r, "server_seconds", "median");
            if (t > tmax)
                tmax = t;
        }
    }
    if (!nb)
        return 0;
    const int left = 250, right = 70, top = 60, bh = 28, gap = 12, w = 960;
    const int h = top + (int)nb * (bh + gap) + 70;
    FILE *f = svg_open(dir, "layers.svg", w, h, "Server time per step of one batch (median seconds)");
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
                left - 8, y + bh / 2 + 4, lab[b], (int)jnum(bars[b], "threads", 0),
                jnum(bars[b], "threads", 0) == 1 ? "" : "s");
        const jv *ls = jget(bars[b], "layers");
        double x = left;
        for (size_t s = 0; ls && s < ls->n; s++) {
            const double sec = jnum(&ls->items[s], "median", 0);
            const char *nm = jstr(&ls->items[s], "name");
            const double wd = sec * sx;
            fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\" "
                       "stroke=\"white\"><title>%s: %.3f s</title></rect>\n",
                    x, y, wd, bh, palette[kind_index(kind_of(nm))], nm, sec);
            if (wd > 40)
                fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"white\" "
                           "font-size=\"10\">%.2f</text>\n",
                        x + wd / 2, y + bh / 2 + 4, sec);
            x += wd;
        }
        fprintf(f, "<text x=\"%.1f\" y=\"%d\">%.2f s</text>\n", x + 4, y + bh / 2 + 4,
                jstat(bars[b], "server_seconds", "median"));
    }
    static const char *kinds[] = {"load", "linear", "square", "relin", "modswitch", "save"};
    for (int k = 0; k < 6; k++) {
        const int x = left + k * 100;
        fprintf(f, "<rect x=\"%d\" y=\"32\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                   "<text x=\"%d\" y=\"42\">%s</text>\n",
                x, palette[k], x + 16, kinds[k]);
    }
    return svg_close(f);
}

/* Throughput (predictions per hour, server and end to end) against a group's parameter:
 * threads (linear axes) or fill (log axes). */
static int plot_group(const char *dir, const char *file, const char *group, const char *param,
                      int logx, const char *title, const char *xlabel, tfile_t *tf, size_t ntf)
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
        const jv *runs = jget(&tf[f].root, "runs");
        series_t *a = &se[ns], *b = &se[ns + 1];
        memset(a, 0, 2 * sizeof *a);
        snprintf(a->name, sizeof a->name, "%s, server", tf[f].label);
        snprintf(b->name, sizeof b->name, "%s, end to end", tf[f].label);
        for (size_t i = 0; runs && i < runs->n && a->n < 16; i++) {
            const jv *r = &runs->items[i];
            if (strcmp(jstr(r, "group"), group) || jget(r, "error"))
                continue;
            const double x = jnum(r, param, 0);
            a->x[a->n] = b->x[b->n] = x;
            a->y[a->n++] = jnum(r, "predictions_per_hour", 0);
            b->y[b->n++] = jnum(r, "end_to_end_predictions_per_hour", 0);
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
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                   "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                left, y, left + pw, y, left - 6, y + 4, lb);
    }
    /* x ticks at the measured points */
    for (size_t i = 0; i < se[0].n; i++) {
        const double x = PX(se[0].x[i]);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                x, top, x, top + ph, x, top + ph + 16, se[0].x[i]);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", left + pw / 2,
            h - 20, xlabel);
    /* CryptoNets (Gilad-Bachrach et al., ICML 2016): about 59,000 predictions per hour */
    if (!logx || (59000 >= pow(10, y0) && 59000 <= pow(10, y1)))
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\" "
                   "stroke-dasharray=\"2 3\"/><text x=\"%.1f\" y=\"%.1f\" fill=\"#666\" "
                   "text-anchor=\"end\">CryptoNets 2016: 59,000/h</text>\n",
                left, PY(59000.0), left + pw, PY(59000.0), left + pw - 4, PY(59000.0) - 4);
    /* ideal scaling from the first point of each server series (threads: linear) */
    for (size_t s = 0; !logx && s < ns; s += 2) {
        if (se[s].n < 2 || !(se[s].x[0] > 0))
            continue;
        const double xe = se[s].x[se[s].n - 1], ye = se[s].y[0] * xe / se[s].x[0];
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                   "stroke-opacity=\"0.4\" stroke-dasharray=\"1 3\"/>\n",
                PX(se[s].x[0]), PY(se[s].y[0]), PX(xe), PY(ye), palette[(s / 2) % 10]);
    }
    fprintf(f, "<text x=\"18\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 18 %.1f)\">"
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
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>%s: %s"
                       "</title></circle>\n",
                    PX(se[s].x[i]), PY(se[s].y[i] > 0 ? se[s].y[i] : 1), col, se[s].name, lb);
        }
        const double ly = top + 10 + 20.0 * (double)s;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
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
    const jv *bars[32];
    const char *lab[32];
    size_t nb = 0;
    double rmax = 1;
    for (size_t f = 0; f < ntf; f++) {
        const jv *runs = jget(&tf[f].root, "runs");
        for (size_t i = 0; runs && i < runs->n && nb < 32; i++) {
            const jv *r = &runs->items[i];
            if (strcmp(jstr(r, "group"), "opt") || jget(r, "error") ||
                !(jnum(r, "server_time_ratio", 0) > 0))
                continue;
            bars[nb] = r;
            lab[nb++] = tf[f].label;
            rmax = fmax(rmax, jnum(r, "server_time_ratio", 0));
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
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n"
                   "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.3g</text>\n",
                x, top - 5, x, h - 50, x, h - 35, xmax * t / 10);
    }
    fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333\" "
               "stroke-dasharray=\"4 3\"/>\n<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">"
               "server time / server time with every optimization (1 = no effect)</text>\n",
            left + sx, top - 5, left + sx, h - 50, left + (w - left - right) / 2, h - 15);
    for (size_t b = 0; b < nb; b++) {
        const int y = top + (int)b * (bh + gap);
        const double r = jnum(bars[b], "server_time_ratio", 0);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s: %s</text>\n"
                   "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n"
                   "<text x=\"%.1f\" y=\"%d\">%.2fx</text>\n",
                left - 8, y + bh / 2 + 4, lab[b], jstr(bars[b], "name"), left, y, r * sx, bh,
                palette[strstr(lab[b], "MNIST") ? 0 : 1], left + r * sx + 4, y + bh / 2 + 4, r);
    }
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
    const jv *root = &t->root, *runs = jget(root, "runs");
    out(stdout, md, "\n### %s (`%s`)\n\n", t->label, jstr(root, "network"));
    out(stdout, md, "%d batches per configuration after one uncounted first batch, %s; "
                    "weights of %d bits.\n\n",
        (int)jnum(root, "reps", 0), jstr(root, "date"), (int)jnum(root, "weight_bits", 0));
    out(stdout, md, "| group | configuration | n | log2 qP | t moduli | images | server s "
                    "(min-max) | ratio | encrypt s | e2e s | server pred/h | e2e pred/h | "
                    "server MiB | client MiB | up MB | down MB | budget | exact |\n");
    out(stdout, md, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | "
                    "--- | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; runs && i < runs->n; i++) {
        const jv *r = &runs->items[i];
        if (jget(r, "error")) {
            out(stdout, md, "| %s | %s | not run: %s ||||||||||||||||\n", jstr(r, "group"),
                jstr(r, "name"), jstr(r, "error"));
            continue;
        }
        char a[32], b[32];
        commas(a, sizeof a, jnum(r, "predictions_per_hour", 0));
        commas(b, sizeof b, jnum(r, "end_to_end_predictions_per_hour", 0));
        const jv *tm = jget(r, "plaintext_moduli");
        out(stdout, md, "| %s | %s | %.0f | %.1f | %zu | %.0f | %.3f (%.3f-%.3f) | %.2f | %.3f | "
                        "%.3f | %s | %s | %.0f | %.0f | %.1f | %.1f | %.0f / %.1f | %s |\n",
            jstr(r, "group"), jstr(r, "name"), jnum(r, "n", 0), jnum(r, "log_q", 0),
            tm ? tm->n : 0, jnum(r, "images", 0), jstat(r, "server_seconds", "median"),
            jstat(r, "server_seconds", "min"), jstat(r, "server_seconds", "max"),
            jnum(r, "server_time_ratio", NAN), jstat(r, "encrypt_seconds", "median"),
            jstat(r, "end_to_end_seconds", "median"), a, b,
            jnum(r, "peak_rss_bytes", 0) / 1048576.0,
            jnum(r, "client_peak_rss_bytes", 0) / 1048576.0, jnum(r, "upload_bytes", 0) / 1e6,
            jnum(r, "download_bytes", 0) / 1e6, jnum(r, "budget_measured", 0),
            jnum(r, "budget_estimate", 0), jnum(r, "exact", 0) ? "yes" : "NO");
    }
    /* time per step of the threads group (or the single configuration) */
    size_t nthr = 0;
    const jv *thr[8];
    for (size_t i = 0; runs && i < runs->n && nthr < 8; i++) {
        const jv *r = &runs->items[i];
        const char *g = jstr(r, "group");
        if ((!strcmp(g, "threads") || !strcmp(g, "single")) && !jget(r, "error"))
            thr[nthr++] = r;
    }
    if (!nthr)
        return;
    out(stdout, md, "\nServer time per step (median seconds):\n\n| step |");
    for (size_t k = 0; k < nthr; k++)
        out(stdout, md, " %d thread%s |", (int)jnum(thr[k], "threads", 0),
            jnum(thr[k], "threads", 0) == 1 ? "" : "s");
    out(stdout, md, "\n| --- |");
    for (size_t k = 0; k < nthr; k++)
        out(stdout, md, " --- |");
    out(stdout, md, "\n");
    const jv *ls = jget(thr[0], "layers"); /* the steps' names */
    for (size_t s = 0; ls && s < ls->n; s++) {
        out(stdout, md, "| %s |", jstr(&ls->items[s], "name"));
        for (size_t k = 0; k < nthr; k++) {
            const jv *l2 = jget(thr[k], "layers");
            out(stdout, md, " %.3f |", l2 && s < l2->n ? jnum(&l2->items[s], "median", 0) : NAN);
        }
        out(stdout, md, "\n");
    }
    out(stdout, md, "| **server total** |");
    for (size_t k = 0; k < nthr; k++)
        out(stdout, md, " **%.3f** |", jstat(thr[k], "server_seconds", "median"));
    out(stdout, md, "\n");
}

static void table_micro(FILE *md, const jv *root, const char *file)
{
    out(stdout, md, "\n### bench/micro (`%s`), median microseconds\n\n", file);
    out(stdout, md, "| op | n | primes | bits | median us | min | max | NTT kernel |\n");
    out(stdout, md, "| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < root->n; i++) {
        const jv *r = &root->items[i];
        if (jget(r, "bytes")) {
            out(stdout, md, "| %s | %.0f | %.0f | | %.0f bytes | | | |\n", jstr(r, "op"),
                jnum(r, "n", 0), jnum(r, "primes", 0), jnum(r, "bytes", 0));
            continue;
        }
        out(stdout, md, "| %s | %.0f | %.0f | %.0f | %.2f | %.2f | %.2f | %s |\n", jstr(r, "op"),
            jnum(r, "n", 0), jnum(r, "primes", 0), jnum(r, "bits", 0), jnum(r, "median_us", 0),
            jnum(r, "min_us", 0), jnum(r, "max_us", 0), jstr(r, "kernel"));
    }
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *mdpath = NULL;
    tfile_t tf[16];
    size_t ntf = 0;
    jv micro = {0};
    const char *micro_file = NULL;
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
        jv v;
        if (jload(&v, argv[i])) {
            rc = 1;
            continue;
        }
        if (v.k == J_ARR && !micro_file) {
            micro = v;
            micro_file = argv[i];
        } else if (v.k == J_OBJ && !strcmp(jstr(&v, "bench"), "throughput") && ntf < 16) {
            tf[ntf].file = argv[i];
            tf[ntf].root = v;
            const char *nw = jstr(&v, "network");
            tf[ntf].label = strstr(nw, "mnist") ? "MNIST model"
                            : strstr(nw, "random") ? "random CryptoNets shape"
                                                   : nw;
            ntf++;
        } else {
            fprintf(stderr, "report: %s: neither bench/micro nor bench/throughput output\n",
                    argv[i]);
            jfree(&v);
            rc = 1;
        }
    }
    if (!ntf && !micro_file) {
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
    const jv *mach = ntf ? jget(&tf[0].root, "machine") : NULL;
    if (mach)
        out(stdout, md, "\nMachine: %s, %d cores, flags: %s; NTT kernel: %s.\n",
            jstr(mach, "cpu"), (int)jnum(mach, "cores", 0), jstr(mach, "flags"),
            jstr(mach, "ntt_kernel"));
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
    if (dir) {
        if (plot_layers(dir, tf, ntf) ||
            plot_group(dir, "threads.svg", "threads", "threads", 0,
                       "Throughput against threads (one full batch)", "threads", tf, ntf) ||
            plot_group(dir, "fill.svg", "fill", "images", 1,
                       "Throughput against batch fill", "images in the batch", tf, ntf) ||
            plot_opt(dir, tf, ntf))
            rc = 1;
    }
    for (size_t i = 0; i < ntf; i++)
        jfree(&tf[i].root);
    jfree(&micro);
    return rc;
}
