/* bench/results_json.h: the JSON of the benchmark's result files, through jansson
 * (Debian's libjansson-dev; docs/benchmarks.md describes the fields). bench/micro and
 * bench/throughput write with the helpers below; bench/report reads a file with
 * cn_bench_results_load, which checks every field the report uses and names the one that
 * is missing or of the wrong type. Compiled into the bench programs and the tests only:
 * libcryptonets.a does not depend on jansson. */
#ifndef CN_BENCH_RESULTS_JSON_H
#define CN_BENCH_RESULTS_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "cryptonets/common.h"

/* The "format" of bench/throughput's file that is written and read. */
#define CN_BENCH_THROUGHPUT_FORMAT 2

/* --- writing --------------------------------------------------------------------------- */

/* v rounded to `decimals` places (0..9: the precision the figure has, so the file shows
 * 1.2346 and not 1.23456789012), JSON null when v is not finite; NULL only when out of
 * memory. */
json_t *cn_bench_json_real(double v, int decimals);

/* v rounded to the nearest integer as a JSON integer (a count of bytes, predictions per
 * hour), JSON null when v is not finite or beyond +-2^62. */
json_t *cn_bench_json_round(double v);

/* s as a JSON string; bytes of s that are not valid UTF-8 (a file name in another
 * encoding) become '?'. NULL only when out of memory. */
json_t *cn_bench_json_string(const char *s);

/* Writes doc to f: two-space indent, keys in the order they were set, reals in their
 * short decimal form, a final newline. CN_ERR_NO_MEMORY when doc is NULL (a constructor
 * failed), CN_ERR_IO when writing fails. */
cn_status cn_bench_json_write(FILE *f, const json_t *doc) CN_WARN_UNUSED;

/* --- reading (bench/report) ------------------------------------------------------------ */

typedef struct {
    double median, min, max; /* seconds */
} cn_bench_stat_t;

typedef struct {
    const char *name; /* e.g. "2:square" */
    double median, min, max;
} cn_bench_step_t;

/* One configuration of bench/throughput ("runs" of the file). */
typedef struct {
    const char *group, *name;
    int threads;
    const char *error; /* NULL when the configuration ran; else why not, and the fields
                          below are not set */
    double images, n, log_q;
    size_t nmoduli; /* plaintext moduli */
    cn_bench_step_t *steps;
    size_t nsteps;
    cn_bench_stat_t server, encrypt, end_to_end;
    double predictions_per_hour, end_to_end_predictions_per_hour;
    double server_time_ratio; /* NAN when the file has none (the baseline did not run) */
    double peak_rss_bytes, client_peak_rss_bytes, upload_bytes, download_bytes;
    double budget_estimate, budget_measured;
    int exact; /* 1: every decrypted output equal to the integer network's */
} cn_bench_run_t;

/* One row of bench/micro: a timing, or a serialized size (bytes >= 0). */
typedef struct {
    const char *op;
    double n, primes, bits;
    double bytes;                     /* NAN on a timing row */
    double median_us, min_us, max_us; /* NAN on a size row */
    const char *kernel;               /* NULL on a size row */
} cn_bench_micro_row_t;

typedef enum { CN_BENCH_MICRO, CN_BENCH_THROUGHPUT } cn_bench_kind;

/* A result file as read. The strings point into doc and live as long as it does. A
 * number written as null (not finite) is read as NAN. */
typedef struct {
    cn_bench_kind kind;
    json_t *doc;
    /* bench/throughput */
    const char *date, *network;
    int reps, weight_bits;
    const char *cpu, *flags, *ntt_kernel;
    int cores;
    cn_bench_run_t *runs;
    size_t nruns;
    /* bench/micro */
    cn_bench_micro_row_t *rows;
    size_t nrows;
} cn_bench_results_t;

/* Reads buf[0..len), named `name` in messages, into *res (free with
 * cn_bench_results_clear). On failure *res is empty and err holds one line: the name,
 * then where and why: "line L, column C: <parser's reason>" for text that is not JSON,
 * "runs[2].server_seconds: missing \"median\"" or "runs[2].threads: a string where an
 * integer belongs" for a document that is not a result file. CN_ERR_FORMAT for those,
 * CN_ERR_VERSION for a throughput file of another format, CN_ERR_NO_MEMORY. */
cn_status cn_bench_results_read(cn_bench_results_t *res, const char *buf, size_t len,
                                const char *name, char *err, size_t errlen) CN_WARN_UNUSED;

/* The same from the file at path (CN_ERR_IO with the system's reason when it cannot be
 * read). */
cn_status cn_bench_results_load(cn_bench_results_t *res, const char *path, char *err,
                                size_t errlen) CN_WARN_UNUSED;

void cn_bench_results_clear(cn_bench_results_t *res);

#endif
