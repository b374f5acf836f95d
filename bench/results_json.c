/* bench/results_json.c: writing and reading the benchmark's JSON files with jansson (see
 * results_json.h). */
#include "results_json.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* --- writing --------------------------------------------------------------------------- */

json_t *cn_bench_json_real(double v, int decimals)
{
    if (!isfinite(v))
        return json_null();
    const double scale = pow(10, decimals < 0 ? 0 : decimals > 9 ? 9 : decimals);
    const double r = round(v * scale) / scale;
    return json_real(isfinite(r) ? r : v);
}

json_t *cn_bench_json_round(double v)
{
    if (!(fabs(v) < 0x1p62))
        return json_null();
    return json_integer((json_int_t)llround(v));
}

json_t *cn_bench_json_string(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    /* not UTF-8 (json_string refuses it): keep ASCII, replace every other byte */
    const size_t len = strlen(s);
    char *t = malloc(len + 1);
    if (!t)
        return NULL;
    for (size_t i = 0; i <= len; i++)
        t[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    j = json_string(t);
    free(t);
    return j;
}

cn_status cn_bench_json_write(FILE *f, const json_t *doc)
{
    if (!doc)
        return CN_ERR_NO_MEMORY;
    /* JSON_PRESERVE_ORDER: insertion order (always so since jansson 2.8, asked anyway);
     * 15 significant digits print a value rounded by cn_bench_json_real as written */
    const size_t flags = JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15);
    if (json_dumpf(doc, f, flags) || fputc('\n', f) == EOF || fflush(f))
        return CN_ERR_IO;
    return CN_OK;
}

/* --- reading --------------------------------------------------------------------------- */

/* The reader's state: the file's name and the first error. */
typedef struct {
    const char *name;
    char *err;
    size_t errlen;
    cn_status st;
} reader_t;

static void fail(reader_t *r, cn_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(reader_t *r, cn_status st, const char *fmt, ...)
{
    if (r->st)
        return; /* the first error is the one reported */
    r->st = st;
    if (!r->errlen)
        return;
    const int k = snprintf(r->err, r->errlen, "%s: ", r->name);
    if (k >= 0 && (size_t)k < r->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err + k, r->errlen - (size_t)k, fmt, ap);
        va_end(ap);
    }
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* What a field must hold. */
typedef enum { F_NUMBER, F_INTEGER, F_STRING, F_BOOLEAN, F_OBJECT, F_ARRAY } ftype;

static const char *ftype_name(ftype t)
{
    static const char *names[] = {"a number",  "an integer", "a string",
                                  "a boolean", "an object",  "an array"};
    return names[t];
}

static int has_type(const json_t *v, ftype t)
{
    switch (t) {
    case F_NUMBER:
        return json_is_number(v) || json_is_null(v); /* null: not finite */
    case F_INTEGER:
        return json_is_integer(v);
    case F_STRING:
        return json_is_string(v);
    case F_BOOLEAN:
        return json_is_boolean(v);
    case F_OBJECT:
        return json_is_object(v);
    default:
        return json_is_array(v);
    }
}

/* obj[key] of type t, where obj sits at path `at` ("" for the root); NULL after an error
 * when it is missing or of another type, or when an error came before. */
static const json_t *field(reader_t *r, const json_t *obj, const char *at, const char *key,
                           ftype t)
{
    if (r->st)
        return NULL;
    const json_t *v = json_object_get(obj, key);
    if (!v)
        fail(r, CN_ERR_FORMAT, "%s%smissing \"%s\" (%s)", at, *at ? ": " : "", key,
             ftype_name(t));
    else if (!has_type(v, t))
        fail(r, CN_ERR_FORMAT, "%s%s%s: %s where %s belongs", at, *at ? "." : "", key,
             type_name(v), ftype_name(t));
    return r->st ? NULL : v;
}

/* an optional field: NULL when absent, else as field() */
static const json_t *optional(reader_t *r, const json_t *obj, const char *at, const char *key,
                              ftype t)
{
    return json_object_get(obj, key) ? field(r, obj, at, key, t) : NULL;
}

static double number(reader_t *r, const json_t *obj, const char *at, const char *key)
{
    const json_t *v = field(r, obj, at, key, F_NUMBER);
    return v && !json_is_null(v) ? json_number_value(v) : NAN;
}

static const char *string(reader_t *r, const json_t *obj, const char *at, const char *key)
{
    const json_t *v = field(r, obj, at, key, F_STRING);
    return v ? json_string_value(v) : "";
}

/* an integer field that fits an int */
static int integer(reader_t *r, const json_t *obj, const char *at, const char *key)
{
    const json_t *v = field(r, obj, at, key, F_INTEGER);
    if (!v)
        return 0;
    const json_int_t i = json_integer_value(v);
    if (i < INT_MIN || i > INT_MAX) {
        fail(r, CN_ERR_FORMAT, "%s%s%s: %lld is out of range", at, *at ? "." : "", key,
             (long long)i);
        return 0;
    }
    return (int)i;
}

/* {"median", "min", "max"} at obj[key] */
static cn_bench_stat_t stats(reader_t *r, const json_t *obj, const char *at, const char *key)
{
    cn_bench_stat_t s = {NAN, NAN, NAN};
    const json_t *o = field(r, obj, at, key, F_OBJECT);
    if (!o)
        return s;
    char in[96];
    snprintf(in, sizeof in, "%s.%s", at, key);
    s.median = number(r, o, in, "median");
    s.min = number(r, o, in, "min");
    s.max = number(r, o, in, "max");
    return s;
}

static void read_run(reader_t *r, cn_bench_run_t *run, const json_t *o, size_t i)
{
    char at[64];
    snprintf(at, sizeof at, "runs[%zu]", i);
    if (!json_is_object(o)) {
        fail(r, CN_ERR_FORMAT, "%s: %s where an object belongs", at, type_name(o));
        return;
    }
    run->group = string(r, o, at, "group");
    run->name = string(r, o, at, "name");
    run->threads = integer(r, o, at, "threads");
    const json_t *e = optional(r, o, at, "error", F_STRING);
    if (e) {
        run->error = json_string_value(e);
        return;
    }
    run->images = number(r, o, at, "images");
    run->n = number(r, o, at, "n");
    run->log_q = number(r, o, at, "log_q");
    const json_t *t = field(r, o, at, "plaintext_moduli", F_ARRAY);
    run->nmoduli = t ? json_array_size(t) : 0;
    const json_t *ls = field(r, o, at, "layers", F_ARRAY);
    const size_t nl = ls ? json_array_size(ls) : 0;
    if (nl && !(run->steps = calloc(nl, sizeof *run->steps))) {
        fail(r, CN_ERR_NO_MEMORY, "out of memory");
        return;
    }
    for (size_t s = 0; s < nl && !r->st; s++, run->nsteps++) {
        char in[96];
        snprintf(in, sizeof in, "%s.layers[%zu]", at, s);
        const json_t *l = json_array_get(ls, s);
        if (!json_is_object(l)) {
            fail(r, CN_ERR_FORMAT, "%s: %s where an object belongs", in, type_name(l));
            break;
        }
        run->steps[s].name = string(r, l, in, "name");
        run->steps[s].median = number(r, l, in, "median");
        run->steps[s].min = number(r, l, in, "min");
        run->steps[s].max = number(r, l, in, "max");
    }
    run->server = stats(r, o, at, "server_seconds");
    run->encrypt = stats(r, o, at, "encrypt_seconds");
    run->end_to_end = stats(r, o, at, "end_to_end_seconds");
    run->predictions_per_hour = number(r, o, at, "predictions_per_hour");
    run->end_to_end_predictions_per_hour = number(r, o, at, "end_to_end_predictions_per_hour");
    run->server_time_ratio = optional(r, o, at, "server_time_ratio", F_NUMBER)
                                 ? number(r, o, at, "server_time_ratio")
                                 : NAN;
    run->peak_rss_bytes = number(r, o, at, "peak_rss_bytes");
    run->client_peak_rss_bytes = number(r, o, at, "client_peak_rss_bytes");
    run->upload_bytes = number(r, o, at, "upload_bytes");
    run->download_bytes = number(r, o, at, "download_bytes");
    run->budget_estimate = number(r, o, at, "budget_estimate");
    run->budget_measured = number(r, o, at, "budget_measured");
    const json_t *x = field(r, o, at, "exact", F_BOOLEAN);
    run->exact = x && json_is_true(x);
}

static void read_throughput(reader_t *r, cn_bench_results_t *res, const json_t *doc)
{
    res->kind = CN_BENCH_THROUGHPUT;
    const json_t *fmt = field(r, doc, "", "format", F_INTEGER);
    if (fmt && json_integer_value(fmt) != CN_BENCH_THROUGHPUT_FORMAT)
        fail(r, CN_ERR_VERSION, "format %lld, where this program reads format %d",
             (long long)json_integer_value(fmt), CN_BENCH_THROUGHPUT_FORMAT);
    res->date = string(r, doc, "", "date");
    res->network = string(r, doc, "", "network");
    res->weight_bits = integer(r, doc, "", "weight_bits");
    res->reps = integer(r, doc, "", "reps");
    const json_t *m = field(r, doc, "", "machine", F_OBJECT);
    res->cpu = string(r, m, "machine", "cpu");
    res->cores = integer(r, m, "machine", "cores");
    res->flags = string(r, m, "machine", "flags");
    res->ntt_kernel = string(r, m, "machine", "ntt_kernel");
    const json_t *runs = field(r, doc, "", "runs", F_ARRAY);
    const size_t n = runs ? json_array_size(runs) : 0;
    if (n && !(res->runs = calloc(n, sizeof *res->runs))) {
        fail(r, CN_ERR_NO_MEMORY, "out of memory");
        return;
    }
    for (size_t i = 0; i < n && !r->st; i++, res->nruns++)
        read_run(r, &res->runs[i], json_array_get(runs, i), i);
}

static void read_micro(reader_t *r, cn_bench_results_t *res, const json_t *doc)
{
    res->kind = CN_BENCH_MICRO;
    const size_t n = json_array_size(doc);
    if (n && !(res->rows = calloc(n, sizeof *res->rows))) {
        fail(r, CN_ERR_NO_MEMORY, "out of memory");
        return;
    }
    for (size_t i = 0; i < n && !r->st; i++, res->nrows++) {
        char at[32];
        snprintf(at, sizeof at, "[%zu]", i);
        const json_t *o = json_array_get(doc, i);
        cn_bench_micro_row_t *row = &res->rows[i];
        if (!json_is_object(o)) {
            fail(r, CN_ERR_FORMAT, "%s: %s where an object belongs", at, type_name(o));
            break;
        }
        row->op = string(r, o, at, "op");
        row->n = number(r, o, at, "n");
        row->primes = number(r, o, at, "primes");
        row->bits = number(r, o, at, "bits");
        row->bytes = row->median_us = row->min_us = row->max_us = NAN;
        if (optional(r, o, at, "bytes", F_NUMBER)) {
            row->bytes = number(r, o, at, "bytes");
            continue;
        }
        row->median_us = number(r, o, at, "median_us");
        row->min_us = number(r, o, at, "min_us");
        row->max_us = number(r, o, at, "max_us");
        row->kernel = string(r, o, at, "kernel");
    }
}

cn_status cn_bench_results_read(cn_bench_results_t *res, const char *buf, size_t len,
                                const char *name, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (errlen)
        err[0] = 0;
    reader_t r = {name, err, errlen, CN_OK};
    json_error_t je;
    /* a key twice is refused: the reader could not tell which one was meant */
    res->doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!res->doc) {
        fail(&r,
             json_error_code(&je) == json_error_out_of_memory ? CN_ERR_NO_MEMORY
                                                              : CN_ERR_FORMAT,
             "line %d, column %d: %s", je.line, je.column, je.text);
        return r.st;
    }
    const json_t *bench = json_object_get(res->doc, "bench");
    if (json_is_array(res->doc))
        read_micro(&r, res, res->doc);
    else if (json_is_string(bench) && !strcmp(json_string_value(bench), "throughput"))
        read_throughput(&r, res, res->doc);
    else
        fail(&r, CN_ERR_FORMAT,
             "neither bench/micro's output (an array of rows) nor "
             "bench/throughput's (an object with \"bench\": \"throughput\")");
    if (r.st)
        cn_bench_results_clear(res);
    return r.st;
}

/* files above this size are refused (the suite's are a few hundred KiB) */
#define MAX_FILE_BYTES ((size_t)64 << 20)

cn_status cn_bench_results_load(cn_bench_results_t *res, const char *path, char *err,
                                size_t errlen)
{
    memset(res, 0, sizeof *res);
    reader_t r = {path, err, errlen, CN_OK};
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail(&r, CN_ERR_IO, "%s", strerror(errno));
        return r.st;
    }
    size_t cap = (size_t)1 << 16, len = 0, got;
    char *buf = malloc(cap);
    if (!buf)
        fail(&r, CN_ERR_NO_MEMORY, "out of memory");
    while (!r.st && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len < cap)
            continue;
        if (cap >= MAX_FILE_BYTES) {
            fail(&r, CN_ERR_FORMAT, "larger than %zu MiB", MAX_FILE_BYTES >> 20);
            break;
        }
        char *nb = realloc(buf, 2 * cap);
        if (!nb) {
            fail(&r, CN_ERR_NO_MEMORY, "out of memory");
            break;
        }
        buf = nb;
        cap *= 2;
    }
    if (!r.st && ferror(f))
        fail(&r, CN_ERR_IO, "%s", strerror(errno));
    fclose(f);
    if (!r.st)
        r.st = cn_bench_results_read(res, buf, len, path, err, errlen);
    free(buf);
    return r.st;
}

void cn_bench_results_clear(cn_bench_results_t *res)
{
    for (size_t i = 0; i < res->nruns; i++)
        free(res->runs[i].steps);
    free(res->runs);
    free(res->rows);
    json_decref(res->doc);
    memset(res, 0, sizeof *res);
}
