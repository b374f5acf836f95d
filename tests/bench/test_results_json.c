/* Tests of bench/results_json.c, the benchmark's own part of its JSON (the parsing and
 * printing are jansson's): result documents built here with jansson read back to the
 * values put in; the writing helpers' rounding, null and key order; and bad documents
 * (each required field missing, each of the wrong type, every truncation, other files,
 * random byte changes) refused with a message naming the file and the line and column
 * or the field at fault, never a crash or a leak (the suite also runs under ASan). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "../../bench/results_json.h"

/* A bench/throughput document: a run with every field, one that was not run, and one
 * whose baseline did not run (no server_time_ratio). */
static json_t *throughput_doc(void)
{
    json_t *ok = json_pack(
        "{s:s, s:s, s:i, s:b, s:b, s:s, s:i, s:i, s:f, s:[I, I], s:i, s:[{s:s, s:f, s:f, s:f}, "
        "{s:s, s:f, s:f, s:f}], s:{s:f, s:f, s:f, s:f}, s:{s:f, s:f, s:f, s:f}, "
        "s:{s:f, s:f, s:f, s:f}, s:{s:f, s:f, s:f, s:f}, s:f, s:i, s:i, s:s, s:f, s:f, "
        "s:f, s:i, s:i, s:i, s:I, s:i, s:f, s:i, s:b, s:b}",
        "group", "threads", "name", "threads=2", "threads", 2, "mod_switch", 1, "lazy_relin", 1,
        "linear", "blocked", "images", 8192, "n", 8192, "log_q", 216.0, "plaintext_moduli",
        (json_int_t)557057, (json_int_t)1032193, "batches", 3, "layers", "name", "load",
        "median", 0.5229, "min", 0.51, "max", 0.53, "name", "2:square", "median", 1.6828, "min",
        1.6, "max", 1.75, "server_seconds", "median", 3.6133, "min", 3.5, "max", 3.8,
        "spread_pct", 8.3, "encrypt_seconds", "median", 1.1398, "min", 1.1, "max", 1.2,
        "spread_pct", 8.8, "decrypt_seconds", "median", 0.0554, "min", 0.05, "max", 0.06,
        "spread_pct", 18.1, "end_to_end_seconds", "median", 4.8085, "min", 4.7, "max", 5.0,
        "spread_pct", 6.2, "first_batch_server_seconds", 3.8275, "predictions_per_hour",
        8161869, "end_to_end_predictions_per_hour", 6133161, "baseline", "threads=1",
        "server_time_ratio", 0.625, "compile_seconds", 0.011, "keygen_seconds", 0.021,
        "peak_rss_bytes", 1124585472, "client_peak_rss_bytes", 224358400, "upload_bytes",
        138122024, "download_bytes", (json_int_t)3963080, "eval_key_bytes", 1769516,
        "budget_estimate", 32.4, "budget_measured", 48, "exact", 1, "mod_t_only", 0);
    json_t *failed = json_pack("{s:s, s:s, s:i, s:b, s:b, s:s, s:s}", "group", "n", "name",
                               "n=16384", "threads", 1, "mod_switch", 1, "lazy_relin", 1,
                               "linear", "blocked", "error", "no parameters \"found\"\n");
    json_t *no_ratio = json_deep_copy(ok);
    ck_assert_ptr_nonnull(no_ratio);
    ck_assert_int_eq(json_object_del(no_ratio, "baseline"), 0);
    ck_assert_int_eq(json_object_del(no_ratio, "server_time_ratio"), 0);
    json_t *doc =
        json_pack("{s:s, s:i, s:s, s:s, s:i, s:i, s:{s:s, s:i, s:s, s:s}, "
                  "s:[o, o, o]}",
                  "bench", "throughput", "format", 2, "date", "2026-11-29T21:27:22Z", "network",
                  "examples/models/cryptonets_mnist.cnm", "weight_bits", 4, "reps", 3,
                  "machine", "cpu", "AMD EPYC", "cores", 2, "flags", "avx2 avx512f",
                  "ntt_kernel", "avx512ifma", "runs", ok, failed, no_ratio);
    ck_assert_ptr_nonnull(doc);
    return doc;
}

/* A bench/micro document: a timing row and a size row. */
static json_t *micro_doc(void)
{
    json_t *doc =
        json_pack("[{s:s, s:i, s:i, s:i, s:f, s:f, s:f, s:i, s:s}, "
                  "{s:s, s:i, s:i, s:i, s:I}]",
                  "op", "ntt_fwd", "n", 4096, "primes", 1, "bits", 60, "median_us", 16.186,
                  "min_us", 16.051, "max_us", 16.277, "reps", 3, "kernel", "avx512", "op",
                  "size_ct", "n", 16384, "primes", 8, "bits", 0, "bytes", (json_int_t)1593400);
    ck_assert_ptr_nonnull(doc);
    return doc;
}

/* doc's text, as bench/throughput writes it */
static char *text_of(const json_t *doc)
{
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* reads doc's text; the status, with err filled */
static cn_status read_doc(cn_bench_results_t *res, const json_t *doc, char *err, size_t errlen)
{
    char *s = text_of(doc);
    const cn_status st = cn_bench_results_read(res, s, strlen(s), "doc.json", err, errlen);
    free(s);
    return st;
}

/* The value at a path such as "runs[0].layers[1]" ("" is doc itself). */
static json_t *walk(json_t *doc, const char *path)
{
    json_t *v = doc;
    const char *p = path;
    while (*p && v) {
        if (*p == '.')
            p++;
        if (*p == '[') {
            char *end;
            v = json_array_get(v, strtoul(p + 1, &end, 10));
            p = end + 1;
            continue;
        }
        char key[64];
        size_t k = strcspn(p, ".[");
        ck_assert_uint_lt(k, sizeof key);
        memcpy(key, p, k);
        key[k] = 0;
        v = json_object_get(v, key);
        p += k;
    }
    ck_assert_msg(v != NULL, "no %s in the test's document", path);
    return v;
}

static void assert_err(const char *err, const char *want)
{
    ck_assert_msg(strstr(err, want) != NULL, "message \"%s\" lacks \"%s\"", err, want);
}

START_TEST(test_results_read_throughput)
{
    json_t *doc = throughput_doc();
    cn_bench_results_t res;
    char err[256];
    ck_assert_msg(read_doc(&res, doc, err, sizeof err) == CN_OK, "%s", err);
    ck_assert_int_eq(res.kind, CN_BENCH_THROUGHPUT);
    ck_assert_str_eq(res.date, "2026-11-29T21:27:22Z");
    ck_assert_str_eq(res.network, "examples/models/cryptonets_mnist.cnm");
    ck_assert_int_eq(res.weight_bits, 4);
    ck_assert_int_eq(res.reps, 3);
    ck_assert_str_eq(res.cpu, "AMD EPYC");
    ck_assert_int_eq(res.cores, 2);
    ck_assert_str_eq(res.flags, "avx2 avx512f");
    ck_assert_str_eq(res.ntt_kernel, "avx512ifma");
    ck_assert_uint_eq(res.nruns, 3);
    const cn_bench_run_t *r = &res.runs[0];
    ck_assert_str_eq(r->group, "threads");
    ck_assert_str_eq(r->name, "threads=2");
    ck_assert_int_eq(r->threads, 2);
    ck_assert_ptr_null(r->error);
    ck_assert(r->images == 8192 && r->n == 8192 && r->log_q == 216.0);
    ck_assert_uint_eq(r->nmoduli, 2);
    ck_assert_uint_eq(r->nsteps, 2);
    ck_assert_str_eq(r->steps[0].name, "load");
    ck_assert(r->steps[0].median == 0.5229 && r->steps[0].min == 0.51 &&
              r->steps[0].max == 0.53);
    ck_assert_str_eq(r->steps[1].name, "2:square");
    ck_assert(r->steps[1].median == 1.6828 && r->steps[1].min == 1.6 &&
              r->steps[1].max == 1.75);
    ck_assert(r->server.median == 3.6133 && r->server.min == 3.5 && r->server.max == 3.8);
    ck_assert(r->encrypt.median == 1.1398 && r->encrypt.min == 1.1 && r->encrypt.max == 1.2);
    ck_assert(r->end_to_end.median == 4.8085 && r->end_to_end.min == 4.7 &&
              r->end_to_end.max == 5.0);
    ck_assert(r->predictions_per_hour == 8161869);
    ck_assert(r->end_to_end_predictions_per_hour == 6133161);
    ck_assert(r->server_time_ratio == 0.625);
    ck_assert(r->peak_rss_bytes == 1124585472 && r->client_peak_rss_bytes == 224358400);
    ck_assert(r->upload_bytes == 138122024 && r->download_bytes == 3963080);
    ck_assert(r->budget_estimate == 32.4 && r->budget_measured == 48);
    ck_assert_int_eq(r->exact, 1);
    /* the run that was not run: its reason, quotes and newline kept */
    ck_assert_str_eq(res.runs[1].name, "n=16384");
    ck_assert_str_eq(res.runs[1].error, "no parameters \"found\"\n");
    ck_assert_uint_eq(res.runs[1].nsteps, 0);
    /* no baseline: no ratio */
    ck_assert(isnan(res.runs[2].server_time_ratio));
    ck_assert(res.runs[2].server.median == 3.6133);
    cn_bench_results_clear(&res);
    ck_assert_ptr_null(res.doc);
    ck_assert_uint_eq(res.nruns, 0);
    /* a number written as null (not finite) reads as NAN; exact false reads as 0 */
    json_object_set_new(walk(doc, "runs[0].server_seconds"), "median", json_null());
    json_object_set_new(walk(doc, "runs[0]"), "exact", json_false());
    ck_assert_msg(read_doc(&res, doc, err, sizeof err) == CN_OK, "%s", err);
    ck_assert(isnan(res.runs[0].server.median));
    ck_assert_int_eq(res.runs[0].exact, 0);
    cn_bench_results_clear(&res);
    json_decref(doc);
}
END_TEST

START_TEST(test_results_read_micro)
{
    json_t *doc = micro_doc();
    cn_bench_results_t res;
    char err[256];
    ck_assert_msg(read_doc(&res, doc, err, sizeof err) == CN_OK, "%s", err);
    ck_assert_int_eq(res.kind, CN_BENCH_MICRO);
    ck_assert_uint_eq(res.nrows, 2);
    const cn_bench_micro_row_t *t = &res.rows[0], *z = &res.rows[1];
    ck_assert_str_eq(t->op, "ntt_fwd");
    ck_assert(t->n == 4096 && t->primes == 1 && t->bits == 60);
    ck_assert(t->median_us == 16.186 && t->min_us == 16.051 && t->max_us == 16.277);
    ck_assert_str_eq(t->kernel, "avx512");
    ck_assert(isnan(t->bytes));
    ck_assert_str_eq(z->op, "size_ct");
    ck_assert(z->n == 16384 && z->primes == 8 && z->bits == 0 && z->bytes == 1593400);
    ck_assert(isnan(z->median_us));
    ck_assert_ptr_null(z->kernel);
    cn_bench_results_clear(&res);
    /* an empty array is a micro file without rows */
    ck_assert_int_eq(cn_bench_results_read(&res, "[]", 2, "e.json", err, sizeof err), CN_OK);
    ck_assert_int_eq(res.kind, CN_BENCH_MICRO);
    ck_assert_uint_eq(res.nrows, 0);
    cn_bench_results_clear(&res);
    json_decref(doc);
}
END_TEST

/* cn_bench_json_real(v, decimals) as a double, NAN for JSON null */
static double rounded(double v, int decimals)
{
    json_t *j = cn_bench_json_real(v, decimals);
    ck_assert(json_is_real(j) || json_is_null(j));
    const double x = json_is_null(j) ? NAN : json_real_value(j);
    json_decref(j);
    return x;
}

/* What the writers produce: rounded reals, null for what is not finite, integers, strings
 * made UTF-8, keys in the order set; written to a file and loaded back. */
START_TEST(test_results_write)
{
    ck_assert(rounded(1.23456789, 4) == 1.2346);
    ck_assert(rounded(-2.5e-5, 4) == 0);
    ck_assert(rounded(216.04, 1) == 216.0);
    ck_assert(rounded(0.1 + 0.2, 9) == 0.3);
    ck_assert(isnan(rounded(NAN, 3)));
    ck_assert(isnan(rounded(INFINITY, 3)));
    json_t *i = cn_bench_json_round(3500000.4);
    ck_assert(json_is_integer(i) && json_integer_value(i) == 3500000);
    json_decref(i);
    i = cn_bench_json_round(-7.5);
    ck_assert(json_is_integer(i) && json_integer_value(i) == -8);
    json_decref(i);
    ck_assert(json_is_null(cn_bench_json_round(1e300)));
    ck_assert(json_is_null(cn_bench_json_round(-INFINITY)));
    json_t *s = cn_bench_json_string("caf\xe9 \xc3\xa9");
    ck_assert_str_eq(json_string_value(s), "caf? ??");
    json_decref(s);
    s = cn_bench_json_string("plain \"quoted\"");
    ck_assert_str_eq(json_string_value(s), "plain \"quoted\"");
    json_decref(s);
    ck_assert_int_eq(cn_bench_json_write(stdout, NULL), CN_ERR_NO_MEMORY);

    /* a micro document through the helpers, keys set in an order that is not sorted */
    json_t *doc =
        json_pack("[{s:s, s:i, s:i, s:i, s:o, s:o, s:o, s:i, s:s}]", "op", "mul", "n", 8192,
                  "primes", 4, "bits", 0, "median_us", cn_bench_json_real(1079.123456, 3),
                  "min_us", cn_bench_json_real(1000.0004, 3), "max_us",
                  cn_bench_json_real(NAN, 3), "reps", 11, "kernel", "avx512ifma");
    ck_assert_ptr_nonnull(doc);
    char path[] = "/tmp/cn_test_results_XXXXXX";
    const int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w+");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(cn_bench_json_write(f, doc), CN_OK);
    rewind(f);
    char text[1024];
    const size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = 0;
    fclose(f);
    /* the short decimal form, insertion order, a final newline */
    assert_err(text, "\"median_us\": 1079.123,");
    assert_err(text, "\"min_us\": 1000.0,");
    assert_err(text, "\"max_us\": null,");
    ck_assert(strstr(text, "\"op\"") < strstr(text, "\"n\""));
    ck_assert(strstr(text, "\"reps\"") < strstr(text, "\"kernel\""));
    ck_assert_int_eq(text[len - 1], '\n');
    cn_bench_results_t res;
    char err[256];
    ck_assert_msg(cn_bench_results_load(&res, path, err, sizeof err) == CN_OK, "%s", err);
    ck_assert_uint_eq(res.nrows, 1);
    ck_assert(res.rows[0].median_us == 1079.123 && res.rows[0].min_us == 1000.0);
    ck_assert(isnan(res.rows[0].max_us));
    cn_bench_results_clear(&res);
    unlink(path);
    json_decref(doc);

    /* a file that is not there */
    ck_assert_int_eq(cn_bench_results_load(&res, path, err, sizeof err), CN_ERR_IO);
    assert_err(err, path);
    assert_err(err, strerror(ENOENT));
    ck_assert_ptr_null(res.doc);
    /* a directory; a file without end (stopped at 64 MiB) */
    ck_assert_int_eq(cn_bench_results_load(&res, "/tmp", err, sizeof err), CN_ERR_IO);
    assert_err(err, strerror(EISDIR));
    ck_assert_int_eq(cn_bench_results_load(&res, "/dev/zero", err, sizeof err), CN_ERR_FORMAT);
    assert_err(err, "/dev/zero: larger than 64 MiB");
}
END_TEST

/* Each field the report reads, removed: refused, the message names the file, where the
 * field belongs and the field. */
START_TEST(test_results_missing)
{
    static const struct {
        const char *at, *key;
    } tput[] = {
        {"", "format"},
        {"", "date"},
        {"", "network"},
        {"", "weight_bits"},
        {"", "reps"},
        {"", "machine"},
        {"", "runs"},
        {"machine", "cpu"},
        {"machine", "cores"},
        {"machine", "flags"},
        {"machine", "ntt_kernel"},
        {"runs[0]", "group"},
        {"runs[0]", "name"},
        {"runs[0]", "threads"},
        {"runs[0]", "images"},
        {"runs[0]", "n"},
        {"runs[0]", "log_q"},
        {"runs[0]", "plaintext_moduli"},
        {"runs[0]", "layers"},
        {"runs[0]", "server_seconds"},
        {"runs[0]", "encrypt_seconds"},
        {"runs[0]", "end_to_end_seconds"},
        {"runs[0]", "predictions_per_hour"},
        {"runs[0]", "end_to_end_predictions_per_hour"},
        {"runs[0]", "peak_rss_bytes"},
        {"runs[0]", "client_peak_rss_bytes"},
        {"runs[0]", "upload_bytes"},
        {"runs[0]", "download_bytes"},
        {"runs[0]", "budget_estimate"},
        {"runs[0]", "budget_measured"},
        {"runs[0]", "exact"},
        {"runs[0].layers[1]", "name"},
        {"runs[0].layers[1]", "median"},
        {"runs[0].layers[1]", "min"},
        {"runs[0].layers[1]", "max"},
        {"runs[0].server_seconds", "median"},
        {"runs[0].encrypt_seconds", "median"},
        {"runs[0].end_to_end_seconds", "max"},
        {"runs[1]", "group"},
        {"runs[1]", "name"},
        {"runs[1]", "threads"},
        {"runs[2]", "exact"},
    };
    static const struct {
        const char *at, *key;
    } micro[] = {
        {"[0]", "op"},        {"[0]", "n"},      {"[0]", "primes"}, {"[0]", "bits"},
        {"[0]", "median_us"}, {"[0]", "min_us"}, {"[0]", "max_us"}, {"[0]", "kernel"},
        {"[1]", "op"},        {"[1]", "n"},      {"[1]", "primes"}, {"[1]", "bits"},
    };
    char err[256], want[128];
    for (int kind = 0; kind < 2; kind++) {
        const size_t n = kind ? sizeof micro / sizeof *micro : sizeof tput / sizeof *tput;
        for (size_t i = 0; i < n; i++) {
            const char *at = kind ? micro[i].at : tput[i].at;
            const char *key = kind ? micro[i].key : tput[i].key;
            json_t *doc = kind ? micro_doc() : throughput_doc();
            ck_assert_int_eq(json_object_del(walk(doc, at), key), 0);
            cn_bench_results_t res;
            const cn_status st = read_doc(&res, doc, err, sizeof err);
            ck_assert_msg(st == CN_ERR_FORMAT, "%s.%s removed: status %d", at, key, st);
            ck_assert_ptr_null(res.doc);
            ck_assert_ptr_null(res.runs);
            assert_err(err, "doc.json: ");
            snprintf(want, sizeof want, "%s%smissing \"%s\"", at, *at ? ": " : "", key);
            assert_err(err, want);
            json_decref(doc);
        }
    }
    /* without "bench" a document is not a throughput file */
    json_t *doc = throughput_doc();
    json_object_del(doc, "bench");
    cn_bench_results_t res;
    ck_assert_int_eq(read_doc(&res, doc, err, sizeof err), CN_ERR_FORMAT);
    assert_err(err, "neither bench/micro's output");
    json_decref(doc);
    /* a size row without "bytes" is a timing row without its times */
    doc = micro_doc();
    json_object_del(walk(doc, "[1]"), "bytes");
    ck_assert_int_eq(read_doc(&res, doc, err, sizeof err), CN_ERR_FORMAT);
    assert_err(err, "[1]: missing \"median_us\"");
    json_decref(doc);
}
END_TEST

/* Fields of the wrong type: refused, the message names the field, what it holds and what
 * belongs there; the format version and the range of an int checked. */
START_TEST(test_results_wrong_type)
{
    static const struct {
        const char *at, *key;
        const char *json; /* the wrong value */
        const char *want; /* in the message */
    } cases[] = {
        {"", "format", "2.0", "format: a real number where an integer belongs"},
        {"", "date", "20261129", "date: an integer where a string belongs"},
        {"", "reps", "\"3\"", "reps: a string where an integer belongs"},
        {"", "machine", "[]", "machine: an array where an object belongs"},
        {"", "runs", "{}", "runs: an object where an array belongs"},
        {"machine", "cores", "true", "machine.cores: a boolean where an integer belongs"},
        {"runs[0]", "threads", "2.5",
         "runs[0].threads: a real number where an integer belongs"},
        {"runs[0]", "images", "\"8192\"", "runs[0].images: a string where a number belongs"},
        {"runs[0]", "layers", "{}", "runs[0].layers: an object where an array belongs"},
        {"runs[0]", "plaintext_moduli", "557057",
         "runs[0].plaintext_moduli: an integer where an array belongs"},
        {"runs[0]", "server_seconds", "3.6",
         "runs[0].server_seconds: a real number where an object belongs"},
        {"runs[0]", "exact", "1", "runs[0].exact: an integer where a boolean belongs"},
        {"runs[0]", "server_time_ratio", "\"0.6\"",
         "runs[0].server_time_ratio: a string where a number belongs"},
        {"runs[0]", "error", "false", "runs[0].error: a boolean where a string belongs"},
        {"runs[0].layers[0]", "median", "[1]",
         "runs[0].layers[0].median: an array where a number belongs"},
        {"runs[0].layers[0]", "name", "null", "runs[0].layers[0].name: null where a string"},
        {"runs[0].server_seconds", "min", "{}",
         "runs[0].server_seconds.min: an object where a number belongs"},
        {"runs", NULL, "7", "runs[1]: an integer where an object belongs"},
        {"runs[0].layers", NULL, "\"x\"", "runs[0].layers[2]: a string where an object"},
        {"", "format", "3", "format 3, where this program reads format 2"},
        {"runs[0]", "threads", "4294967296", "runs[0].threads: 4294967296 is out of range"},
    };
    char err[256];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *doc = throughput_doc();
        json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
        ck_assert_ptr_nonnull(v);
        json_t *at = walk(doc, cases[i].at);
        if (cases[i].key)
            json_object_set_new(at, cases[i].key, v);
        else if (!strcmp(cases[i].at, "runs"))
            json_array_set_new(at, 1, v);
        else
            json_array_append_new(at, v);
        cn_bench_results_t res;
        const cn_status st = read_doc(&res, doc, err, sizeof err);
        ck_assert_msg(st ==
                          (strstr(cases[i].want, "format 3") ? CN_ERR_VERSION : CN_ERR_FORMAT),
                      "case %zu: status %d (%s)", i, st, err);
        ck_assert_ptr_null(res.doc);
        assert_err(err, "doc.json: ");
        assert_err(err, cases[i].want);
        json_decref(doc);
    }
    /* micro rows */
    json_t *doc = micro_doc();
    json_object_set_new(walk(doc, "[1]"), "bytes", json_string("1593400"));
    cn_bench_results_t res;
    ck_assert_int_eq(read_doc(&res, doc, err, sizeof err), CN_ERR_FORMAT);
    assert_err(err, "[1].bytes: a string where a number belongs");
    json_array_append_new(doc, json_integer(5));
    json_object_set_new(walk(doc, "[1]"), "bytes", json_integer(1));
    ck_assert_int_eq(read_doc(&res, doc, err, sizeof err), CN_ERR_FORMAT);
    assert_err(err, "[2]: an integer where an object belongs");
    json_decref(doc);
}
END_TEST

/* Every strict prefix of a document is refused with the line and column, no crash. */
START_TEST(test_results_truncated)
{
    for (int kind = 0; kind < 2; kind++) {
        json_t *doc = kind ? micro_doc() : throughput_doc();
        char *s = text_of(doc);
        const size_t len = strlen(s);
        char err[256];
        for (size_t l = 0; l < len; l++) {
            cn_bench_results_t res;
            ck_assert_msg(cn_bench_results_read(&res, s, l, "cut.json", err, sizeof err) ==
                              CN_ERR_FORMAT,
                          "a prefix of %zu bytes of %zu read", l, len);
            ck_assert_ptr_null(res.doc);
            ck_assert_msg(!strncmp(err, "cut.json: line ", 15) && strstr(err, ", column "),
                          "%s", err);
        }
        free(s);
        json_decref(doc);
    }
}
END_TEST

/* Text that is not JSON, JSON that is not a result file, random byte changes. */
START_TEST(test_results_not_json)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"", "x.json: line 1, column 0: "},
        {"nul", "x.json: line 1, column "},
        {"{\n  \"bench\": \"throughput\",\n  \"format\": 2,\n  oops\n}",
         "x.json: line 4, column "},
        {"{\"bench\": \"throughput\", \"bench\": \"throughput\"}", "duplicate object key"},
        {"[{\"op\": \"a\"}] [", "x.json: line 1, column "},
        {"42", "x.json: line 1, column "}, /* a result file is an object or an array */
        {"\"throughput\"", "x.json: line 1, column "},
        {"{\"bench\": \"micro\"}", "neither bench/micro's output"},
        {"{\"bench\": 1}", "neither bench/micro's output"},
    };
    char err[256];
    cn_bench_results_t res;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ck_assert_int_eq(cn_bench_results_read(&res, cases[i].text, strlen(cases[i].text),
                                               "x.json", err, sizeof err),
                         CN_ERR_FORMAT);
        assert_err(err, cases[i].want);
    }
    /* a message cut to a small buffer stays a terminated string */
    char small[12];
    ck_assert_int_eq(cn_bench_results_read(&res, "{", 1, "x.json", small, sizeof small),
                     CN_ERR_FORMAT);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    /* random byte changes: read or refused, never a crash or a leak */
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1301);
    for (int kind = 0; kind < 2; kind++) {
        json_t *doc = kind ? micro_doc() : throughput_doc();
        char *s = text_of(doc);
        const size_t len = strlen(s);
        for (int m = 0; m < 400; m++) {
            char *c = malloc(len);
            ck_assert_ptr_nonnull(c);
            memcpy(c, s, len);
            for (int k = 0; k < 1 + m % 3; k++)
                c[cn_test_rng_below(&r, len)] = (char)cn_test_rng_below(&r, 256);
            if (cn_bench_results_read(&res, c, len, "m.json", err, sizeof err) == CN_OK)
                cn_bench_results_clear(&res);
            else
                ck_assert(!strncmp(err, "m.json: ", 8));
            free(c);
        }
        free(s);
        json_decref(doc);
    }
}
END_TEST

CN_SUITE(bench_results)
{
    Suite *s = suite_create("bench_results");
    TCase *tc = cn_tcase("core", 60);
    tcase_add_test(tc, test_results_read_throughput);
    tcase_add_test(tc, test_results_read_micro);
    tcase_add_test(tc, test_results_write);
    tcase_add_test(tc, test_results_missing);
    tcase_add_test(tc, test_results_wrong_type);
    tcase_add_test(tc, test_results_truncated);
    tcase_add_test(tc, test_results_not_json);
    suite_add_tcase(s, tc);
    return s;
}
