/* Tests of the `cryptonets` program for the faults of a new user's trial (2026-11-30,
 * docs/cli.md), run as a separate process like test_cli.c:
 *  - a calibration set too small to resolve the criterion is warned about, on stderr and
 *    in --json (quantization.warning, calibration_inputs_needed = 2 / tolerance, the rule
 *    docs/cli.md states), by compile and by run; a set large enough for its tolerance is
 *    not; --calib-count takes the first N inputs;
 *  - --input-shift N on an IDX file of 8-bit values written here (the MNIST path): compile
 *    --calib, encrypt and run take it, and the decrypted outputs equal the library's
 *    plaintext reference run on the values shifted here (v / 16); without it, or with a
 *    shift too small, the values are refused with the shift named;
 *  - the weight-width table's per-input cost: estimated_ms_per_input is
 *    1000 * estimated_seconds / n for every row, and the chosen row is within the choice
 *    rule's 15% of the least among the rows that meet the criterion (docs/net.md);
 *  - serve's per-job memory estimate (/metrics cryptonets_job_memory_bytes) is the plan's
 *    own bound (cn_plan_memory_estimate, rounded up) plus the evaluation-key container
 *    (header 96 bytes, record 24 and the keys, docs/cli.md "The tool's containers") plus
 *    the 16 MiB margin docs/service.md documents; infer --input-shift 4 through that
 *    server on an IDX file decrypts to the reference on the shifted values.
 * What is expected comes from the files written here, the library's reference and the
 * rules in the docs, never from the tool's own output. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/net_fixture.h"
#include "common/util.h"
#include "cryptonets/cryptonets.h"

#define NIN 6
#define NOUT 3

static char dir[64];                            /* this test's directory */
static char bin[4096];                          /* the program */
static char out_buf[1 << 20], err_buf[1 << 16]; /* the last run's stdout and stderr */

static void path(char *p, const char *name)
{
    snprintf(p, 256, "%s/%s", dir, name);
}

/* Runs the program with the NULL-terminated arguments, stdout and stderr into out_buf and
 * err_buf; its exit status (a signal or a sanitizer report fails). */
static int cli(const char *arg0, ...)
{
    const char *argv[40] = {bin};
    size_t n = 1;
    va_list ap;
    va_start(ap, arg0);
    for (const char *s = arg0; s; s = va_arg(ap, const char *)) {
        ck_assert(n < 39);
        argv[n++] = s;
    }
    va_end(ap);
    char o[256], e[256];
    path(o, "stdout.txt");
    path(e, "stderr.txt");
    return cn_test_run_tool(out_buf, sizeof out_buf, err_buf, sizeof err_buf, argv,
                            &(cn_test_spawn_t){.out = o, .err = e});
}

/* exit status want, and an error that mentions each NULL-terminated string */
static void expect(int rc, int want, ...)
{
    ck_assert_msg(rc == want, "exit %d, expected %d; stderr:\n%s", rc, want, err_buf);
    va_list ap;
    va_start(ap, want);
    for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
        ck_assert_msg(strstr(err_buf, s) != NULL, "stderr lacks '%s':\n%s", s, err_buf);
    va_end(ap);
}

static json_t *out_json(void)
{
    json_error_t je;
    json_t *doc = json_loads(out_buf, 0, &je);
    ck_assert_msg(doc != NULL, "JSON: %s\n%s", je.text, out_buf);
    return doc;
}

/* dense(4) -> square -> dense(3) on 6 raw inputs in [0, 15] (test_cli.c's model) */
static void make_model(const char *file)
{
    cn_model_t m;
    cn_net_diag_t d = {{0}};
    cn_test_tool_model(&m, 0);
    ck_assert_int_eq(cn_model_save(&m, file, &d), CN_OK);
    cn_model_clear(&m);
}

/* rows of NIN values below lim, and each row's float-network class (the labels) */
static void make_inputs(int64_t *x, size_t *cls, size_t rows, int64_t lim, uint64_t stream,
                        int64_t shift)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, stream);
    for (size_t i = 0; i < rows * NIN; i++)
        x[i] = (int64_t)cn_test_rng_below(&r, (uint64_t)lim);
    cn_model_t m;
    cn_net_diag_t d = {{0}};
    char model[256];
    path(model, "model.cnm");
    ck_assert_int_eq(cn_model_load(&m, model, &d), CN_OK);
    for (size_t k = 0; k < rows; k++) {
        int64_t v[NIN];
        for (size_t j = 0; j < NIN; j++)
            v[j] = x[k * NIN + j] / ((int64_t)1 << shift); /* nonnegative: floor */
        double fo[NOUT];
        ck_assert_int_eq(cn_model_forward(fo, &m, v), CN_OK);
        cls[k] = 0;
        for (size_t j = 1; j < NOUT; j++)
            if (fo[j] > fo[cls[k]])
                cls[k] = j;
    }
    cn_model_clear(&m);
}

static void write_csv(const char *p, const int64_t *x, size_t rows, size_t cols)
{
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < cols; j++)
            fprintf(f, j + 1 < cols ? "%lld," : "%lld\n", (long long)x[r * cols + j]);
    fclose(f);
}

static void write_labels(const char *p, const size_t *cls, size_t rows)
{
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    for (size_t r = 0; r < rows; r++)
        fprintf(f, "%zu\n", cls[r]);
    fclose(f);
}

/* IDX files as MNIST's (LeCun's format: magic 0x00000803, big-endian dimensions, then
 * unsigned bytes): images of 2 x 3 values, and labels (magic 0x00000801) */
static void put32(FILE *f, uint32_t v)
{
    const uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                          (uint8_t)v};
    ck_assert_uint_eq(fwrite(b, 1, 4, f), 4);
}

static void write_idx(const char *images, const char *labels, const int64_t *x,
                      const size_t *cls, size_t rows)
{
    FILE *f = fopen(images, "wb");
    ck_assert_ptr_nonnull(f);
    put32(f, 0x00000803);
    put32(f, (uint32_t)rows);
    put32(f, 2);
    put32(f, 3);
    for (size_t i = 0; i < rows * NIN; i++)
        fputc((int)x[i], f);
    fclose(f);
    f = fopen(labels, "wb");
    ck_assert_ptr_nonnull(f);
    put32(f, 0x00000801);
    put32(f, (uint32_t)rows);
    for (size_t r = 0; r < rows; r++)
        fputc((int)cls[r], f);
    fclose(f);
}

static void make_dir(void)
{
    cn_test_cli_bin(bin, sizeof bin);
    snprintf(dir, sizeof dir, "/tmp/cn_test_trial_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char model[256];
    path(model, "model.cnm");
    make_model(model);
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* A calibration set too small for the criterion: warned about (stderr and --json), with
 * the number the rule gives; large enough for a looser tolerance: no warning */
START_TEST(test_trial_calib_size)
{
    make_dir();
    char model[256], in[256], lab[256], plan[256];
    path(model, "model.cnm");
    path(in, "calib.csv");
    path(lab, "labels.csv");
    path(plan, "plan.cnp");
    enum { ROWS = 60 };
    int64_t x[ROWS * NIN];
    size_t cls[ROWS];
    make_inputs(x, cls, ROWS, 16, 71, 0);
    write_csv(in, x, ROWS, NIN);
    write_labels(lab, cls, ROWS);
    /* labelled, the default tolerance 0.002: 2 / 0.002 = 1000 needed */
    expect(
        cli("compile", model, "-o", plan, "--calib", in, "--calib-labels", lab, "--json", NULL),
        0, "warning", "60 calibration inputs", "1000", "--weight-bits 8", NULL);
    json_t *doc = out_json(), *q = json_object_get(doc, "quantization");
    ck_assert_int_eq(json_integer_value(json_object_get(q, "calibration_inputs")), ROWS);
    ck_assert_int_eq(json_integer_value(json_object_get(q, "calibration_inputs_needed")), 1000);
    ck_assert_msg(json_is_string(json_object_get(q, "warning")), "%s", out_buf);
    json_decref(doc);
    /* the first 20 of them (--calib-count): one wrong prediction is 5 points */
    expect(cli("compile", model, "-o", plan, "--calib", in, "--calib-labels", lab,
               "--calib-count", "20", "--json", NULL),
           0, "20 calibration inputs", "5.00 points", NULL);
    doc = out_json();
    q = json_object_get(doc, "quantization");
    ck_assert_int_eq(json_integer_value(json_object_get(q, "calibration_inputs")), 20);
    json_decref(doc);
    /* unlabelled, tolerance 0.05: 2 / 0.05 = 40 <= 60, no warning */
    expect(
        cli("compile", model, "-o", plan, "--calib", in, "--tolerance", "0.05", "--json", NULL),
        0, NULL);
    ck_assert_msg(!strstr(err_buf, "warning"), "%s", err_buf);
    doc = out_json();
    q = json_object_get(doc, "quantization");
    ck_assert_int_eq(json_integer_value(json_object_get(q, "calibration_inputs_needed")), 40);
    ck_assert(json_is_null(json_object_get(q, "warning")));
    json_decref(doc);
    /* --exact counts as 0.002; a warning is not progress: --quiet keeps it */
    expect(
        cli("compile", model, "-o", plan, "--calib", in, "--exact", "--json", "--quiet", NULL),
        0, "warning", "too few", NULL);
    doc = out_json();
    q = json_object_get(doc, "quantization");
    ck_assert_int_eq(json_integer_value(json_object_get(q, "calibration_inputs_needed")), 1000);
    ck_assert(json_is_string(json_object_get(q, "warning")));
    json_decref(doc);
    /* run calibrates on its inputs by default: the same warning */
    expect(cli("run", model, in, "--labels", lab, "--json", NULL), 0, "warning",
           "60 calibration inputs", NULL);
    doc = out_json();
    q = json_object_get(json_object_get(doc, "plan"), "quantization");
    ck_assert_msg(json_is_string(json_object_get(q, "warning")), "%s", out_buf);
    json_decref(doc);
    /* --calib-count without calibration, or 0 */
    expect(cli("compile", model, "-o", plan, "--calib-count", "5", NULL), 2, "--calib", NULL);
    expect(cli("compile", model, "-o", plan, "--calib", in, "--calib-count", "0", NULL), 2,
           "--calib-count", NULL);
    remove_dir();
}
END_TEST

/* the decrypted raw outputs of decrypt --raw (CSV) against the reference on v */
static void check_raw(const char *plan_file, const int64_t *v, size_t rows)
{
    FILE *f = fopen(plan_file, "rb");
    ck_assert_ptr_nonnull(f);
    uint8_t *pb = malloc(1 << 24);
    const size_t len = fread(pb, 1, 1 << 24, f);
    fclose(f);
    cn_plan_t *p;
    cn_net_diag_t d = {{0}};
    ck_assert_msg(cn_plan_from_bytes(&p, pb, len, 0, &d) == CN_OK, "%s", d.msg);
    free(pb);
    cn_int128 *ref = malloc(rows * NOUT * sizeof *ref);
    ck_assert_int_eq(cn_plan_eval_plain(ref, p, v, rows), CN_OK);
    const char *s = strchr(out_buf, '\n');
    ck_assert_ptr_nonnull(s);
    for (size_t r = 0; r < rows; r++) {
        char *e = (char *)s + 1;
        for (size_t k = 0; k < 2 + NOUT; k++) /* input, class, scores */
            e = strchr(e, ',') + 1;
        for (size_t j = 0; j < NOUT; j++) {
            const long long got = strtoll(e, &e, 10);
            ck_assert_msg(got == (long long)ref[r * NOUT + j], "input %zu output %zu", r + 1,
                          j);
            e++;
        }
        s = strchr(s + 1, '\n');
        ck_assert_ptr_nonnull(s);
    }
    free(ref);
    cn_plan_free(p);
}

/* --input-shift on 8-bit IDX data, as MNIST's for the example model */
START_TEST(test_trial_input_shift)
{
    make_dir();
    char model[256], img[256], lab[256], plan[256], key[256], keys[256], batch[256], reply[256];
    path(model, "model.cnm");
    path(img, "images-idx3-ubyte");
    path(lab, "labels-idx1-ubyte");
    path(plan, "plan.cnp");
    path(key, "client.key");
    path(keys, "eval.keys");
    path(batch, "batch.bin");
    path(reply, "reply.bin");
    enum { ROWS = 50 };
    int64_t x[ROWS * NIN], v[ROWS * NIN];
    size_t cls[ROWS];
    make_inputs(x, cls, ROWS, 256, 72, 4);
    write_idx(img, lab, x, cls, ROWS);
    for (size_t i = 0; i < ROWS * NIN; i++)
        v[i] = x[i] / 16; /* the values the model takes */
    /* 8-bit values refused, with the shift that fits them */
    expect(cli("compile", model, "-o", plan, "--calib", img, "--calib-labels", lab, NULL), 1,
           img, "[0, 15]", "--input-shift 4", NULL);
    expect(cli("compile", model, "-o", plan, "--calib", img, "--calib-labels", lab,
               "--input-shift", "2", NULL),
           1, img, "after --input-shift 2", NULL);
    ck_assert_msg(!strstr(err_buf, "8-bit values?"), "%s", err_buf);
    expect(cli("compile", model, "-o", plan, "--calib", img, "--input-shift", "63", NULL), 2,
           "--input-shift", NULL);
    /* compile --calib IDX --input-shift 4: calibrated on every image */
    expect(cli("compile", model, "-o", plan, "--calib", img, "--calib-labels", lab,
               "--input-shift", "4", "--json", NULL),
           0, NULL);
    json_t *doc = out_json(), *q = json_object_get(doc, "quantization");
    ck_assert_int_eq(json_integer_value(json_object_get(q, "calibration_inputs")), ROWS);
    json_decref(doc);
    /* encrypt the IDX with the shift; the outputs are the reference's on v */
    expect(cli("keygen", plan, "-o", key, "--eval-keys", keys, NULL), 0, NULL);
    expect(cli("encrypt", key, img, "--plan", plan, "-o", batch, NULL), 1, "--input-shift 4",
           NULL);
    expect(cli("encrypt", key, img, "--plan", plan, "-o", batch, "--input-shift", "4", NULL), 0,
           NULL);
    expect(cli("eval", plan, keys, batch, "-o", reply, NULL), 0, NULL);
    expect(cli("decrypt", key, reply, "--plan", plan, "--raw", NULL), 0, NULL);
    check_raw(plan, v, ROWS);
    /* run on the IDX and its labels */
    expect(cli("run", model, img, "--labels", lab, "--input-shift", "4", "--weight-bits", "6",
               "--json", "--quiet", NULL),
           0, NULL);
    doc = out_json();
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "value_mismatches")), 0);
    ck_assert(json_real_value(json_object_get(doc, "float_accuracy")) == 1.0);
    json_decref(doc);
    remove_dir();
}
END_TEST

/* the table's per-input cost (docs/net.md, "Quantization policy") */
START_TEST(test_trial_cost_per_input)
{
    make_dir();
    char model[256], in[256], plan[256];
    path(model, "model.cnm");
    path(in, "calib.csv");
    path(plan, "plan.cnp");
    enum { ROWS = 60 };
    int64_t x[ROWS * NIN];
    size_t cls[ROWS];
    make_inputs(x, cls, ROWS, 16, 73, 0);
    write_csv(in, x, ROWS, NIN);
    expect(
        cli("compile", model, "-o", plan, "--calib", in, "--tolerance", "0.05", "--json", NULL),
        0, NULL);
    json_t *doc = out_json(), *q = json_object_get(doc, "quantization"),
           *c = json_object_get(q, "candidates");
    double best = INFINITY, chosen = -1;
    for (size_t i = 0; i < json_array_size(c); i++) {
        json_t *r = json_array_get(c, i);
        const double s = json_real_value(json_object_get(r, "estimated_seconds"));
        const double n = (double)json_integer_value(json_object_get(r, "n"));
        const double ms = json_real_value(json_object_get(r, "estimated_ms_per_input"));
        ck_assert_msg(fabs(ms - 1000 * s / n) <= 1e-9 * ms, "row %zu: %g ms, %g s, n %g", i, ms,
                      s, n);
        if (json_is_true(json_object_get(r, "meets")) && ms < best)
            best = ms;
        if (json_is_true(json_object_get(r, "chosen")))
            chosen = ms;
    }
    ck_assert_msg(chosen > 0 && chosen <= 1.05 * best * (1 + 1e-9), "chosen %g, least %g",
                  chosen, best);
    json_decref(doc);
    expect(cli("compile", model, "-o", plan, "--calib", in, "--tolerance", "0.05", NULL), 0,
           NULL);
    ck_assert_msg(strstr(out_buf, "ms/input"), "%s", out_buf);
    remove_dir();
}
END_TEST

/* GET /metrics on 127.0.0.1:port: the value of the line starting with name */
static unsigned long long metric(int port, const char *name)
{
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    ck_assert_int_eq(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
    static char body[1 << 16];
    size_t len = 0;
    ssize_t k;
    while (len + 1 < sizeof body && (k = read(fd, body + len, sizeof body - 1 - len)) > 0)
        len += (size_t)k;
    body[len] = 0;
    close(fd);
    char want[128];
    snprintf(want, sizeof want, "\n%s ", name);
    const char *p = strstr(body, want);
    ck_assert_msg(p != NULL, "no %s in\n%s", name, body);
    return strtoull(p + strlen(want), NULL, 10);
}

/* serve's per-job memory: the plan's bound + the key container + 16 MiB; and infer
 * --input-shift through that server */
START_TEST(test_trial_serve_memory)
{
    make_dir();
    char model[256], plan[256], state[256], portf[256], log[256], key[256], keys[256], img[256],
        lab[256], pred[256], url[64];
    path(model, "model.cnm");
    path(plan, "plan.cnp");
    path(state, "state");
    path(portf, "port");
    path(log, "serve.log");
    path(key, "client.key");
    path(keys, "eval.keys");
    path(img, "images-idx3-ubyte");
    path(lab, "labels-idx1-ubyte");
    path(pred, "pred.csv");
    enum { ROWS = 9 };
    int64_t x[ROWS * NIN], v[ROWS * NIN];
    size_t cls[ROWS];
    make_inputs(x, cls, ROWS, 256, 74, 4);
    write_idx(img, lab, x, cls, ROWS);
    for (size_t i = 0; i < ROWS * NIN; i++)
        v[i] = x[i] / 16;
    expect(cli("compile", model, "-o", plan, "--weight-bits", "6", NULL), 0, NULL);
    expect(cli("keygen", plan, "-o", key, "--eval-keys", keys, NULL), 0, NULL);
    const pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        const int fe = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fe < 0 || dup2(fe, 2) < 0)
            _exit(127);
        execl(bin, bin, "serve", "--plan", plan, "--state-dir", state, "--listen",
              "127.0.0.1:0", "--port-file", portf, (char *)NULL);
        _exit(127);
    }
    const int port = cn_test_wait_port(portf, pid);
    const unsigned long long got = metric(port, "cryptonets_job_memory_bytes");
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    const int irc = cli("infer", "--server", url, "--key", key, "--eval-keys", keys, img,
                        "--input-shift", "4", "--raw", "-o", pred, "--quiet", NULL);
    kill(pid, SIGTERM);
    int status;
    ck_assert(waitpid(pid, &status, 0) == pid);
    /* the plan's own bound and its evaluation-key container's size */
    FILE *f = fopen(plan, "rb");
    ck_assert_ptr_nonnull(f);
    uint8_t *pb = malloc(1 << 24);
    const size_t len = fread(pb, 1, 1 << 24, f);
    fclose(f);
    cn_plan_t *p;
    cn_net_diag_t d = {{0}};
    ck_assert_msg(cn_plan_from_bytes(&p, pb, len, 0, &d) == CN_OK, "%s", d.msg);
    free(pb);
    cn_client_t *c;
    uint8_t *kb;
    size_t klen;
    ck_assert_int_eq(cn_client_create(&c, p, NULL, 0), CN_OK);
    ck_assert_int_eq(cn_client_eval_keys(&kb, &klen, c), CN_OK);
    const unsigned long long want =
        (unsigned long long)cn_plan_memory_estimate(p) + 1 + 96 + 24 + klen + (16ull << 20);
    ck_assert_msg(got == want, "job memory %llu, expected %llu", got, want);
    ck_assert_msg(irc == 0, "infer: exit %d\n%s", irc, err_buf);
    cn_test_slurp(out_buf, sizeof out_buf, pred);
    check_raw(plan, v, ROWS);
    free(kb);
    cn_client_free(c);
    cn_plan_free(p);
    remove_dir();
}
END_TEST

CN_SUITE(cli_trial)
{
    Suite *s = suite_create("cli_trial");
    TCase *tc = cn_tcase("cli_trial", 600);
    tcase_add_test(tc, test_trial_calib_size);
    tcase_add_test(tc, test_trial_input_shift);
    tcase_add_test(tc, test_trial_cost_per_input);
    tcase_add_test(tc, test_trial_serve_memory);
    suite_add_tcase(s, tc);
    return s;
}
