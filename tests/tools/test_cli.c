/* Tests of the `cryptonets` program (tools/, docs/cli.md), run as a separate process
 * (fork and exec of <build>/tools/cryptonets beside this runner, or $CN_CLI_BIN):
 *  - the whole flow on a tiny model built here with the model API: compile, keygen,
 *    encrypt (CSV, .npy of several dtypes, IDX; more inputs than one batch), eval,
 *    decrypt, whose exact integer outputs must equal cn_plan_eval_plain on the plan read
 *    back from the tool's plan file, and whose scores are those over the output scale;
 *    `run`, whose float accuracy against labels made here with cn_model_forward must be
 *    1 and whose outputs must all equal the integer network's;
 *  - bad files of every kind (truncated plan, garbage key, a key for another plan, a reply
 *    for another key, a batch for another plan, evaluation keys of another key, a file of
 *    the wrong kind, damaged batches, a directory, a missing file, malformed CSV and .npy)
 *    and bad command lines: each gives its documented exit status, an error naming the
 *    file, and no crash (no signal, no sanitizer report).
 * The expected outputs come from the library's plaintext reference run and the float
 * model, never from the tool. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/net_fixture.h"
#include "common/util.h"
#include "cryptonets/cryptonets.h"

#define NIN 6
#define NOUT 3
#define ROWS 7

static char dir[64];                            /* this test's directory */
static char bin[4096];                          /* the program */
static char out_buf[1 << 22], err_buf[1 << 16]; /* decrypt prints a line per input */

static void path(char *p, const char *name)
{
    snprintf(p, 256, "%s/%s", dir, name);
}

/* Runs the program with the NULL-terminated arguments; its stdout and stderr land in
 * out_buf and err_buf. Returns its exit status; a signal or a sanitizer report fails. */
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
    argv[n] = NULL;
    char o[256], e[256];
    path(o, "stdout.txt");
    path(e, "stderr.txt");
    return cn_test_run_tool(out_buf, sizeof out_buf, err_buf, sizeof err_buf, argv,
                            &(cn_test_spawn_t){.out = o, .err = e});
}

/* The call must fail with exit status want and an error that mentions each of the
 * NULL-terminated strings (file names, reasons). */
static void expect(int rc, int want, ...)
{
    ck_assert_msg(rc == want, "exit %d, expected %d; stderr:\n%s", rc, want, err_buf);
    ck_assert_msg(want == 0 || err_buf[0], "no error message");
    va_list ap;
    va_start(ap, want);
    for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
        ck_assert_msg(strstr(err_buf, s) != NULL, "error lacks '%s':\n%s", s, err_buf);
    va_end(ap);
}

static void write_bytes(const char *p, const void *b, size_t len)
{
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, len, f), len);
    fclose(f);
}

static uint8_t *read_bytes(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    ck_assert_msg(f != NULL, "%s: %s", p, strerror(errno));
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len + 1);
    ck_assert_uint_eq(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

/* A dense(4) -> square -> dense(3) model on 6 raw inputs in [0, 15]; variant changes the
 * weights (another plan of the same shape). */
static void make_model(cn_model_t *m, int variant)
{
    cn_test_tool_model(m, variant);
}

static void inputs(int64_t *x, size_t rows, uint64_t stream)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, stream);
    for (size_t i = 0; i < rows * NIN; i++)
        x[i] = (int64_t)cn_test_rng_below(&r, 16);
}

static void write_csv(const char *p, const int64_t *x, size_t rows)
{
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "a,b,c,d,e,f\n# a comment, then a blank line\n\n");
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < NIN; j++)
            fprintf(f, j + 1 < NIN ? "%lld, " : "%lld\n", (long long)x[r * NIN + j]);
    fclose(f);
}

/* A .npy file (format 1.0) of rows x NIN values with dtype descr, written here from the
 * format's definition (magic, version, header length, dict, padding to 64, data). */
static void write_npy(const char *p, const int64_t *x, size_t rows, const char *descr,
                      const char *extra_header, size_t cut)
{
    char h[256];
    int hl = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': %s, 'shape': (%zu, %d), }",
                      descr, extra_header ? extra_header : "False", rows, NIN);
    while ((10 + hl + 1) % 64)
        h[hl++] = ' ';
    h[hl++] = '\n';
    const size_t size = (size_t)(descr[2] - '0');
    size_t len = 10 + (size_t)hl + rows * NIN * size;
    uint8_t *b = malloc(len);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (uint8_t)hl;
    b[9] = (uint8_t)(hl >> 8);
    memcpy(b + 10, h, (size_t)hl);
    uint8_t *d = b + 10 + hl;
    for (size_t i = 0; i < rows * NIN; i++, d += size) {
        uint64_t u;
        if (descr[1] == 'f' && size == 8) {
            double v = (double)x[i];
            memcpy(&u, &v, 8);
        } else if (descr[1] == 'f') {
            float v = (float)x[i];
            uint32_t w;
            memcpy(&w, &v, 4);
            u = w;
        } else {
            u = (uint64_t)x[i];
        }
        for (size_t k = 0; k < size; k++) /* little-endian, or big-endian for '>' */
            d[descr[0] == '>' ? size - 1 - k : k] = (uint8_t)(u >> (8 * k));
    }
    write_bytes(p, b, len - cut);
    free(b);
}

/* Parses decrypt's CSV with --raw: rows of "input,class,score_*,raw_*". */
static void parse_raw_csv(cn_int128 *raw, size_t *cls, double *score, size_t rows,
                          const char *text)
{
    const char *p = strchr(text, '\n');
    ck_assert_ptr_nonnull(p);
    for (size_t r = 0; r < rows; r++) {
        p++;
        char *e;
        ck_assert_uint_eq(strtoull(p, &e, 10), r + 1);
        cls[r] = strtoull(e + 1, &e, 10);
        for (size_t j = 0; j < NOUT; j++)
            score[r * NOUT + j] = strtod(e + 1, &e);
        for (size_t j = 0; j < NOUT; j++)
            raw[r * NOUT + j] = strtoll(e + 1, &e, 10); /* small outputs: fit 64 bits */
        ck_assert_msg(*e == '\n', "row %zu: '%.20s'", r + 1, e);
        p = e;
    }
    ck_assert_int_eq(p[1], 0);
}

/* Checks decrypt's CSV (raw values and scores) against the reference run of the plan
 * file on x. */
static void check_outputs(const char *plan_file, const int64_t *x, size_t rows,
                          const char *text)
{
    size_t len;
    uint8_t *pb = read_bytes(plan_file, &len);
    cn_plan_t *p;
    cn_net_diag_t d = {{0}};
    ck_assert_msg(cn_plan_from_bytes(&p, pb, len, 0, &d) == CN_OK, "%s", d.msg);
    free(pb);
    cn_int128 *ref = malloc(rows * NOUT * sizeof *ref),
              *raw = malloc(rows * NOUT * sizeof *raw);
    double *score = malloc(rows * NOUT * sizeof *score);
    size_t *cls = malloc(rows * sizeof *cls);
    ck_assert_int_eq(cn_plan_eval_plain(ref, p, x, rows), CN_OK);
    parse_raw_csv(raw, cls, score, rows, text);
    const double scale = cn_plan_output_scale(p);
    for (size_t r = 0; r < rows; r++) {
        size_t best = 0;
        for (size_t j = 0; j < NOUT; j++) {
            const cn_int128 v = ref[r * NOUT + j];
            ck_assert_msg(raw[r * NOUT + j] == v, "row %zu output %zu differs", r + 1, j);
            const double want = (double)v / scale;
            ck_assert_msg(fabs(score[r * NOUT + j] - want) <= 1e-7 * (1 + fabs(want)),
                          "row %zu score %zu: %g, expected %g", r + 1, j, score[r * NOUT + j],
                          want);
            if (v > ref[r * NOUT + best])
                best = j;
        }
        ck_assert_uint_eq(cls[r], best);
    }
    free(ref);
    free(raw);
    free(score);
    free(cls);
    cn_plan_free(p);
}

static void make_dir(void)
{
    cn_test_cli_bin(bin, sizeof bin);
    snprintf(dir, sizeof dir, "/tmp/cn_test_cli_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* the files every test starts from: model.cnm, plan.cnp, client.key, eval.keys, in.csv,
 * batch.bin, reply.bin (ROWS inputs x) */
static void base_flow(int64_t *x)
{
    char model[256], plan[256], key[256], keys[256], in[256], batch[256], reply[256];
    path(model, "model.cnm");
    path(plan, "plan.cnp");
    path(key, "client.key");
    path(keys, "eval.keys");
    path(in, "in.csv");
    path(batch, "batch.bin");
    path(reply, "reply.bin");
    cn_model_t m;
    cn_net_diag_t d = {{0}};
    make_model(&m, 0);
    ck_assert_int_eq(cn_model_save(&m, model, &d), CN_OK);
    cn_model_clear(&m);
    inputs(x, ROWS, 61);
    write_csv(in, x, ROWS);
    expect(cli("compile", model, "-o", plan, "--weight-bits", "6", NULL), 0, NULL);
    ck_assert_msg(strstr(out_buf, "plan:") != NULL, "compile prints the plan:\n%s", out_buf);
    ck_assert_int_eq(cli("keygen", plan, "-o", key, "--eval-keys", keys, NULL), 0);
    struct stat sb;
    ck_assert_int_eq(stat(key, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0600);
    ck_assert_int_eq(cli("encrypt", key, in, "--plan", plan, "-o", batch, "--quiet", NULL), 0);
    ck_assert_int_eq(cli("eval", plan, keys, batch, "-o", reply, NULL), 0);
}

/* The whole flow, with every input format and several batches */
START_TEST(test_cli_flow)
{
    make_dir();
    int64_t x[ROWS * NIN];
    base_flow(x);
    char plan[256], key[256], keys[256], batch[256], reply[256], p2[256], out[256];
    path(plan, "plan.cnp");
    path(key, "client.key");
    path(keys, "eval.keys");
    path(batch, "batch.bin");
    path(reply, "reply.bin");
    ck_assert_int_eq(cli("decrypt", key, reply, "--plan", plan, "--raw", NULL), 0);
    check_outputs(plan, x, ROWS, out_buf);
    /* to a file, the same */
    path(out, "out.csv");
    ck_assert_int_eq(cli("decrypt", key, reply, "--plan", plan, "--raw", "-o", out, NULL), 0);
    cn_test_slurp(out_buf, sizeof out_buf, out);
    check_outputs(plan, x, ROWS, out_buf);

    /* JSON: the classes agree with the CSV's */
    ck_assert_int_eq(cli("decrypt", key, reply, "--plan", plan, "--json", "--raw", NULL), 0);
    json_error_t je;
    json_t *doc = json_loads(out_buf, 0, &je);
    ck_assert_msg(doc != NULL, "JSON: %s", je.text);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "inputs")), ROWS);
    json_t *preds = json_object_get(doc, "predictions");
    ck_assert_uint_eq(json_array_size(preds), ROWS);
    json_decref(doc);

    /* .npy in several dtypes, and IDX: the same outputs */
    const char *dtypes[] = {"|u1", "<i2", "<i4", "<i8", "<u2", "<f4", "<f8", "<i1"};
    for (size_t t = 0; t < sizeof dtypes / sizeof *dtypes; t++) {
        path(p2, "in.npy");
        write_npy(p2, x, ROWS, dtypes[t], NULL, 0);
        ck_assert_msg(cli("encrypt", key, p2, "--plan", plan, "-o", batch, NULL) == 0, "%s: %s",
                      dtypes[t], err_buf);
        ck_assert_int_eq(cli("eval", plan, keys, batch, "-o", reply, "--json", NULL), 0);
        ck_assert_int_eq(cli("decrypt", key, reply, "--plan", plan, "--raw", NULL), 0);
        check_outputs(plan, x, ROWS, out_buf);
    }
    uint8_t idx[4 + 12 + ROWS * NIN] = {0, 0, 8, 3, 0, 0, 0, ROWS, 0, 0, 0, 2, 0, 0, 0, 3};
    for (size_t i = 0; i < ROWS * NIN; i++)
        idx[16 + i] = (uint8_t)x[i];
    path(p2, "in.idx");
    write_bytes(p2, idx, sizeof idx);
    ck_assert_int_eq(cli("encrypt", key, p2, "--plan", plan, "-o", batch, NULL), 0);
    ck_assert_int_eq(cli("eval", plan, keys, batch, "-o", reply, NULL), 0);
    ck_assert_int_eq(cli("decrypt", key, reply, "--plan", plan, "--raw", NULL), 0);
    check_outputs(plan, x, ROWS, out_buf);

    /* more inputs than one batch: n + 3 inputs in two batches of one file */
    size_t len;
    uint8_t *pb = read_bytes(plan, &len);
    cn_plan_t *p;
    ck_assert_int_eq(cn_plan_from_bytes(&p, pb, len, 0, NULL), CN_OK);
    const size_t n = cn_plan_params(p)->n, rows = n + 3;
    cn_plan_free(p);
    free(pb);
    int64_t *xs = malloc(rows * NIN * sizeof *xs);
    inputs(xs, rows, 62);
    path(p2, "many.npy");
    write_npy(p2, xs, rows, "<i8", NULL, 0);
    ck_assert_int_eq(cli("encrypt", key, p2, "--plan", plan, "-o", batch, "--json", NULL), 0);
    doc = json_loads(out_buf, 0, &je);
    ck_assert_msg(doc != NULL, "JSON: %s", je.text);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "batches")), 2);
    json_decref(doc);
    ck_assert_int_eq(cli("eval", plan, keys, batch, "-o", reply, "--quiet", NULL), 0);
    ck_assert_int_eq(cli("decrypt", key, reply, "--plan", plan, "--raw", NULL), 0);
    check_outputs(plan, xs, rows, out_buf);
    free(xs);
    remove_dir();
}
END_TEST

/* run: the float network's predictions as labels (cn_model_forward), so the float
 * accuracy must be 1; every output equal to the integer network's */
START_TEST(test_cli_run)
{
    make_dir();
    char model[256], in[256], lab[256], out[256];
    path(model, "model.cnm");
    path(in, "in.csv");
    path(lab, "labels.csv");
    path(out, "pred.csv");
    cn_model_t m;
    cn_net_diag_t d = {{0}};
    make_model(&m, 0);
    ck_assert_int_eq(cn_model_save(&m, model, &d), CN_OK);
    const size_t rows = 40;
    int64_t x[40 * NIN];
    inputs(x, rows, 63);
    write_csv(in, x, rows);
    FILE *f = fopen(lab, "w");
    for (size_t r = 0; r < rows; r++) {
        double fo[NOUT];
        ck_assert_int_eq(cn_model_forward(fo, &m, x + r * NIN), CN_OK);
        size_t b = 0;
        for (size_t j = 1; j < NOUT; j++)
            if (fo[j] > fo[b])
                b = j;
        fprintf(f, "%zu\n", b);
    }
    fclose(f);
    cn_model_clear(&m);
    ck_assert_msg(cli("run", model, in, "--labels", lab, "--json", "-o", out, NULL) == 0, "%s",
                  err_buf);
    json_error_t je;
    json_t *doc = json_loads(out_buf, 0, &je);
    ck_assert_msg(doc != NULL, "JSON: %s\n%s", je.text, out_buf);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "inputs")), (json_int_t)rows);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "value_mismatches")), 0);
    ck_assert(json_real_value(json_object_get(doc, "float_accuracy")) == 1.0);
    ck_assert(json_is_object(json_object_get(doc, "seconds")));
    json_decref(doc);
    cn_test_slurp(out_buf, sizeof out_buf, out);
    ck_assert(strncmp(out_buf, "input,class,score_0", 19) == 0);
    ck_assert_int_eq(cli("run", model, in, "--weight-bits", "5", "--quiet", NULL), 0);
    ck_assert_msg(strstr(out_buf, "every output equal") != NULL, "%s", out_buf);
    remove_dir();
}
END_TEST

/* files that do not belong together: exit status 3 and the file named */
START_TEST(test_cli_mismatch)
{
    make_dir();
    int64_t x[ROWS * NIN];
    base_flow(x);
    char model2[256], plan[256], plan2[256], key[256], key2[256], key3[256], keys[256],
        keys2[256], keys3[256], in[256], batch[256], batch2[256], reply[256], r2[256];
    path(model2, "model2.cnm");
    path(plan, "plan.cnp");
    path(plan2, "plan2.cnp");
    path(key, "client.key");
    path(key2, "client2.key");
    path(key3, "client3.key");
    path(keys, "eval.keys");
    path(keys2, "eval2.keys");
    path(keys3, "eval3.keys");
    path(in, "in.csv");
    path(batch, "batch.bin");
    path(batch2, "batch2.bin");
    path(reply, "reply.bin");
    path(r2, "reply2.bin");
    cn_model_t m;
    cn_net_diag_t d = {{0}};
    make_model(&m, 1);
    ck_assert_int_eq(cn_model_save(&m, model2, &d), CN_OK);
    cn_model_clear(&m);
    ck_assert_int_eq(cli("compile", model2, "-o", plan2, "--weight-bits", "6", "--json", NULL),
                     0);
    ck_assert_int_eq(cli("keygen", plan2, "-o", key2, "--eval-keys", keys2, NULL), 0);
    ck_assert_int_eq(cli("keygen", plan, "-o", key3, "--eval-keys", keys3, NULL), 0);
    /* a key for another plan */
    expect(cli("encrypt", key2, in, "--plan", plan, "-o", batch2, NULL), 3, key2,
           "another plan", NULL);
    expect(cli("decrypt", key2, reply, "--plan", plan, NULL), 3, key2, "another plan", NULL);
    /* a batch for another plan */
    ck_assert_int_eq(cli("encrypt", key2, in, "--plan", plan2, "-o", batch2, NULL), 0);
    expect(cli("eval", plan, keys, batch2, "-o", r2, NULL), 3, batch2, "another plan", NULL);
    /* evaluation keys for another plan, and of another key */
    expect(cli("eval", plan, keys2, batch, "-o", r2, NULL), 3, keys2, "another plan", NULL);
    expect(cli("eval", plan, keys3, batch, "-o", r2, NULL), 3, batch, "another key", NULL);
    ck_assert_int_ne(access(r2, F_OK), 0); /* no reply left behind */
    /* a reply for another key, and for another plan */
    expect(cli("decrypt", key3, reply, "--plan", plan, NULL), 3, reply, "another key", NULL);
    ck_assert_int_eq(cli("eval", plan2, keys2, batch2, "-o", r2, NULL), 0);
    expect(cli("decrypt", key, r2, "--plan", plan, NULL), 3, r2, "another plan", NULL);
    remove_dir();
}
END_TEST

/* Flips byte i of file src into dst (or cuts it at i when cut). */
static void damage(const char *dst, const char *src, size_t i, int cut)
{
    size_t len;
    uint8_t *b = read_bytes(src, &len);
    if (!cut)
        b[i % len] ^= 0x20;
    write_bytes(dst, b, cut ? i : len);
    free(b);
}

/* bad files of every kind: exit status 1, the file named, no crash */
START_TEST(test_cli_bad_files)
{
    make_dir();
    int64_t x[ROWS * NIN];
    base_flow(x);
    char plan[256], key[256], keys[256], in[256], batch[256], reply[256], bad[256], o[256],
        missing[256];
    path(plan, "plan.cnp");
    path(key, "client.key");
    path(keys, "eval.keys");
    path(in, "in.csv");
    path(batch, "batch.bin");
    path(reply, "reply.bin");
    path(bad, "bad");
    path(o, "o.bin");
    path(missing, "missing.bin");
    size_t len;
    /* truncated plan, damaged plan, garbage as a plan */
    uint8_t *pb = read_bytes(plan, &len);
    write_bytes(bad, pb, len / 2);
    expect(cli("keygen", bad, "-o", o, "--eval-keys", missing, NULL), 1, bad, NULL);
    expect(cli("encrypt", key, in, "--plan", bad, "-o", o, NULL), 1, bad, NULL);
    expect(cli("eval", bad, keys, batch, "-o", o, NULL), 1, bad, NULL);
    damage(bad, plan, len / 3, 0);
    expect(cli("decrypt", key, reply, "--plan", bad, NULL), 1, bad, "checksum", NULL);
    free(pb);
    /* garbage key, truncated key, a plan given as a key */
    write_bytes(bad, "this is not a key at all, just text\n", 36);
    expect(cli("encrypt", bad, in, "--plan", plan, "-o", o, NULL), 1, bad, "magic", NULL);
    uint8_t *kb = read_bytes(key, &len);
    for (size_t cut = 0; cut < len; cut += 1 + len / 7) {
        write_bytes(bad, kb, cut);
        expect(cli("decrypt", bad, reply, "--plan", plan, NULL), 1, bad, NULL);
    }
    damage(bad, key, len / 2, 0);
    expect(cli("decrypt", bad, reply, "--plan", plan, NULL), 1, bad, "checksum", NULL);
    free(kb);
    expect(cli("decrypt", plan, reply, "--plan", plan, NULL), 1, plan, NULL);
    /* batches: truncated at several places, damaged header, damaged payload, a reply
     * given as a batch, evaluation keys given as a batch */
    uint8_t *bb = read_bytes(batch, &len);
    const size_t cuts[] = {0, 3, 50, 96, 110, 120, 121, 4000, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        write_bytes(bad, bb, cuts[i]);
        expect(cli("eval", plan, keys, bad, "-o", o, NULL), 1, bad, NULL);
    }
    free(bb);
    damage(bad, batch, 20, 0);
    expect(cli("eval", plan, keys, bad, "-o", o, NULL), 1, bad, "checksum", NULL);
    damage(bad, batch, 100, 0);
    expect(cli("eval", plan, keys, bad, "-o", o, NULL), 1, bad, NULL);
    damage(bad, batch, len / 2, 0);
    expect(cli("eval", plan, keys, bad, "-o", o, NULL), 1, bad, NULL);
    expect(cli("eval", plan, keys, reply, "-o", o, NULL), 1, reply,
           "is a reply, not a batch (made by `cryptonets encrypt`)", NULL);
    expect(cli("eval", plan, batch, batch, "-o", o, NULL), 1, batch, NULL);
    ck_assert_int_ne(access(o, F_OK), 0); /* no partial reply left behind */
    /* a damaged reply; a batch given as a reply */
    uint8_t *rb = read_bytes(reply, &len);
    write_bytes(bad, rb, len - 5);
    expect(cli("decrypt", key, bad, "--plan", plan, NULL), 1, bad, NULL);
    free(rb);
    damage(bad, reply, len / 2, 0);
    expect(cli("decrypt", key, bad, "--plan", plan, NULL), 1, bad, NULL);
    expect(cli("decrypt", key, batch, "--plan", plan, NULL), 1, batch, NULL);
    /* a directory, a missing file, an unwritable output */
    expect(cli("encrypt", key, dir, "--format", "csv", "--plan", plan, "-o", o, NULL), 1, dir,
           NULL);
    expect(cli("encrypt", dir, in, "--plan", plan, "-o", o, NULL), 1, dir, "directory", NULL);
    expect(cli("eval", plan, keys, dir, "-o", o, NULL), 1, dir, "directory", NULL);
    expect(cli("decrypt", key, missing, "--plan", plan, NULL), 1, missing, "No such file",
           NULL);
    expect(cli("keygen", missing, "-o", o, "--eval-keys", bad, NULL), 1, missing, NULL);
    path(bad, "missing.cnm");
    expect(cli("compile", bad, "-o", o, NULL), 1, bad, "No such file", NULL);
    expect(cli("encrypt", key, in, "--plan", plan, "-o", dir, NULL), 1, dir, NULL);
    /* keygen that cannot write its evaluation keys leaves an existing client key (and
     * the old evaluation keys) byte for byte, and no partial file */
    size_t klen0, klen1, elen0, elen1;
    uint8_t *k0 = read_bytes(key, &klen0), *e0 = read_bytes(keys, &elen0);
    char nodir[300];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/eval.keys", dir);
    expect(cli("keygen", plan, "-o", key, "--eval-keys", nodir, NULL), 1, nodir, NULL);
    expect(cli("keygen", plan, "-o", key, "--eval-keys", dir, NULL), 1, dir, NULL);
    uint8_t *k1 = read_bytes(key, &klen1), *e1 = read_bytes(keys, &elen1);
    ck_assert_msg(klen0 == klen1 && memcmp(k0, k1, klen0) == 0,
                  "a failed keygen changed the existing client key");
    ck_assert(elen0 == elen1 && memcmp(e0, e1, elen0) == 0);
    free(k0), free(k1), free(e0), free(e1);
    DIR *dd = opendir(dir);
    ck_assert_ptr_nonnull(dd);
    for (struct dirent *de; (de = readdir(dd));)
        ck_assert_msg(!strstr(de->d_name, ".partial-"), "left behind: %s", de->d_name);
    closedir(dd);
    remove_dir();
}
END_TEST

/* malformed inputs: CSV and .npy, each named with the line or value */
START_TEST(test_cli_bad_inputs)
{
    make_dir();
    int64_t x[ROWS * NIN];
    base_flow(x);
    char plan[256], key[256], bad[256], o[256], model[256];
    path(plan, "plan.cnp");
    path(key, "client.key");
    path(bad, "bad.csv");
    path(o, "o.bin");
    path(model, "model.cnm");
    static const struct {
        const char *text, *says;
    } csv[] = {
        {"1,2,3,4,5,6\n1,2,x,4,5,6\n", "line 2, column 3"},
        {"1,2,3,4,5\n", "5 values, the model takes 6"},
        {"1,2,3,4,5,6,7\n", "7 values"},
        {"1,2,3,4,5,2.5\n", "not an integer"},
        {"1,2,3,4,5,nan\n", "nan is not finite (NaN or infinity)"},
        {"1,2,3,4,5,6\n1,2,3,99,5,6\n", "input 2, value 4"},
        {"1,2,3,4,5,-1\n", "outside"},
        {"", "no inputs"},
        {"a,b,c,d,e,f\n", "no inputs"},
        {"1,2,3,4,5,6\na,b,c,d,e,f\n", "not a number"},
        {"1,,3,4,5,6\n", "column 2"},
    };
    for (size_t i = 0; i < sizeof csv / sizeof *csv; i++) {
        write_bytes(bad, csv[i].text, strlen(csv[i].text));
        expect(cli("encrypt", key, bad, "--plan", plan, "-o", o, NULL), 1, bad, csv[i].says,
               NULL);
    }
    /* integral floats are accepted */
    write_bytes(bad, "1.0,2,3e0,4,5,6\n", 16);
    ck_assert_int_eq(cli("encrypt", key, bad, "--plan", plan, "-o", o, NULL), 0);
    path(bad, "bad.npy");
    static const struct {
        const char *descr, *fortran, *says;
        size_t cut;
    } npy[] = {
        {">i4", NULL, "big-endian", 0},    {"<i4", "True", "Fortran", 0},
        {"<c8", NULL, "not supported", 0}, {"<i4", NULL, "truncated", 3},
        {"<b1", NULL, "not supported", 0}, {"<i4", "Maybe", "malformed", 0},
    };
    for (size_t i = 0; i < sizeof npy / sizeof *npy; i++) {
        write_npy(bad, x, ROWS, npy[i].descr, npy[i].fortran, npy[i].cut);
        expect(cli("encrypt", key, bad, "--plan", plan, "-o", o, NULL), 1, bad, npy[i].says,
               NULL);
    }
    int64_t half[ROWS * NIN];
    memcpy(half, x, sizeof half);
    write_npy(bad, half, ROWS, "<f8", NULL, 0);
    size_t len;
    uint8_t *b = read_bytes(bad, &len);
    const double h = 2.5;
    memcpy(b + len - 8 * (NIN + 2), &h, 8); /* input ROWS - 1, value NIN - 1 */
    write_bytes(bad, b, len);
    expect(cli("encrypt", key, bad, "--plan", plan, "-o", o, NULL), 1, bad, "not an integer",
           "input 6, value 5", NULL);
    write_bytes(bad, "\x93NUMPX", 6);
    expect(cli("encrypt", key, bad, "--plan", plan, "-o", o, NULL), 1, bad, "magic", NULL);
    memcpy(b + 8, "\xff\xff", 2); /* header longer than the file */
    write_bytes(bad, b, len);
    expect(cli("encrypt", key, bad, "--plan", plan, "-o", o, NULL), 1, bad, "header", NULL);
    free(b);
    expect(cli("encrypt", key, plan, "--plan", plan, "-o", o, NULL), 1, plan, "format", NULL);
    /* compile's calibration inputs go through the same readers */
    path(bad, "bad.csv");
    write_bytes(bad, "1,2\n", 4);
    expect(cli("compile", model, "--calib", bad, "-o", o, NULL), 1, bad, NULL);
    remove_dir();
}
END_TEST

/* the command line: help, version, usage errors (exit status 2), and ONNX's message */
/* compile --calib with --calib-labels, --exact, --tolerance: the search's table in --json
 * (one chosen candidate, meeting the criterion, with the plan's per-layer widths); wrong
 * combinations refused with the reason */
START_TEST(test_cli_calib)
{
    make_dir();
    char model[256], in[256], lab[256], plan[256], lab2[256];
    path(model, "model.cnm");
    path(in, "calib.csv");
    path(lab, "calib_labels.csv");
    path(lab2, "short_labels.csv");
    path(plan, "plan.cnp");
    cn_model_t m;
    cn_net_diag_t d = {{0}};
    make_model(&m, 0);
    ck_assert_int_eq(cn_model_save(&m, model, &d), CN_OK);
    const size_t rows = 60;
    int64_t x[60 * NIN];
    inputs(x, rows, 64);
    write_csv(in, x, rows);
    FILE *f = fopen(lab, "w"), *g = fopen(lab2, "w");
    for (size_t r = 0; r < rows; r++) {
        double fo[NOUT];
        ck_assert_int_eq(cn_model_forward(fo, &m, x + r * NIN), CN_OK);
        size_t b = 0;
        for (size_t j = 1; j < NOUT; j++)
            if (fo[j] > fo[b])
                b = j;
        fprintf(f, "%zu\n", r % 10 ? b : (b + 1) % NOUT); /* float accuracy 90% */
        if (r % 2)
            fprintf(g, "%zu\n", b);
    }
    fclose(f);
    fclose(g);
    cn_model_clear(&m);
    const char *crit[3] = {"accuracy", "exact", "agreement"};
    for (int mode = 0; mode < 3; mode++) {
        const int rc = mode == 0   ? cli("compile", model, "-o", plan, "--calib", in,
                                         "--calib-labels", lab, "--json", NULL)
                       : mode == 1 ? cli("compile", model, "-o", plan, "--calib", in, "--exact",
                                         "--json", NULL)
                                   : cli("compile", model, "-o", plan, "--calib", in,
                                         "--tolerance", "0.05", "--json", NULL);
        ck_assert_msg(rc == 0, "%s", err_buf);
        json_error_t je;
        json_t *doc = json_loads(out_buf, 0, &je);
        ck_assert_msg(doc != NULL, "JSON: %s\n%s", je.text, out_buf);
        json_t *q = json_object_get(doc, "quantization");
        ck_assert_msg(json_is_object(q), "%s", out_buf);
        ck_assert_str_eq(json_string_value(json_object_get(q, "criterion")), crit[mode]);
        ck_assert_int_eq(json_integer_value(json_object_get(q, "calibration_inputs")), 60);
        if (mode == 0)
            ck_assert(json_real_value(json_object_get(q, "float_accuracy")) == 0.9);
        json_t *cands = json_object_get(q, "candidates"),
               *wb = json_object_get(doc, "layer_weight_bits");
        ck_assert_uint_ge(json_array_size(cands), 1);
        ck_assert_uint_eq(json_array_size(wb), 2);
        size_t chosen = 0;
        for (size_t i = 0; i < json_array_size(cands); i++) {
            json_t *c = json_array_get(cands, i);
            ck_assert(json_integer_value(json_object_get(c, "plaintext_moduli")) >= 1);
            ck_assert(json_real_value(json_object_get(c, "estimated_seconds")) > 0);
            ck_assert(json_real_value(json_object_get(c, "log_qp")) > 0);
            if (!json_is_true(json_object_get(c, "chosen")))
                continue;
            chosen++;
            ck_assert(json_is_true(json_object_get(c, "meets")));
            ck_assert(json_equal(json_object_get(c, "layer_weight_bits"), wb));
            ck_assert(json_real_value(json_object_get(c, "output_bits")) ==
                      json_real_value(json_object_get(doc, "output_bits")));
            if (mode == 1)
                ck_assert(json_real_value(json_object_get(c, "agreement")) == 1.0);
        }
        ck_assert_uint_eq(chosen, 1);
        if (mode == 1)
            ck_assert_int_eq(json_integer_value(json_object_get(doc, "calibration_mismatches")),
                             0);
        json_decref(doc);
    }
    /* the printout shows the table */
    ck_assert_int_eq(cli("compile", model, "-o", plan, "--calib", in, NULL), 0);
    ck_assert_msg(strstr(out_buf, "weight widths searched on 60 calibration inputs"), "%s",
                  out_buf);
    expect(cli("compile", model, "-o", plan, "--calib-labels", lab, NULL), 2, "--calib", NULL);
    expect(cli("compile", model, "-o", plan, "--n", "1000", NULL), 2, "--n", NULL);
    expect(cli("compile", model, "-o", plan, "--calib", in, "--format", "foo", NULL), 2,
           "--format", NULL);
    /* a criterion without calibration inputs is refused, not ignored */
    expect(cli("compile", model, "-o", plan, "--tolerance", "0.01", NULL), 2, "--calib", NULL);
    expect(cli("compile", model, "-o", plan, "--exact", NULL), 2, "--calib", NULL);
    expect(
        cli("compile", model, "-o", plan, "--calib", in, "--exact", "--weight-bits", "4", NULL),
        2, "--weight-bits", NULL);
    expect(
        cli("compile", model, "-o", plan, "--calib", in, "--exact", "--tolerance", "0.1", NULL),
        2, "--exact", NULL);
    expect(cli("compile", model, "-o", plan, "--calib", in, "--tolerance", "0", NULL), 2,
           "--tolerance", NULL);
    expect(cli("compile", model, "-o", plan, "--calib", in, "--calib-labels", lab2, NULL), 1,
           "30 labels for 60", NULL);
    remove_dir();
}
END_TEST

START_TEST(test_cli_usage)
{
    make_dir();
    static const char *cmds[] = {"compile", "keygen", "encrypt", "eval", "decrypt", "run"};
    ck_assert_int_eq(cli("help", NULL), 0);
    for (size_t i = 0; i < 6; i++) {
        ck_assert_int_eq(cli("help", cmds[i], NULL), 0);
        ck_assert_msg(strstr(out_buf, cmds[i]) != NULL, "%s", out_buf);
        ck_assert_int_eq(cli(cmds[i], "--help", NULL), 0);
    }
    ck_assert_int_eq(cli("--version", NULL), 0);
    ck_assert(
        strncmp(out_buf, "cryptonets " CN_VERSION_STRING, 11 + strlen(CN_VERSION_STRING)) == 0);
    expect(cli("help", "nosuch", NULL), 2, "nosuch", NULL);
    expect(cli("nosuch", NULL), 2, "nosuch", NULL);
    expect(cli(NULL), 2, "usage", NULL);
    expect(cli("compile", "m.cnm", NULL), 2, "-o PLAN", NULL);
    expect(cli("compile", "m.cnm", "-o", NULL), 2, "needs a value", NULL);
    expect(cli("compile", "m.cnm", "-o", "p", "--bogus", NULL), 2, "--bogus", NULL);
    expect(cli("compile", "m.cnm", "-o", "p", "--raw", NULL), 2, "--raw", NULL);
    expect(cli("compile", "a.cnm", "b.cnm", "-o", "p", NULL), 2, "b.cnm", NULL);
    expect(cli("encrypt", "k", "i.csv", "-o", "b", NULL), 2, "--plan", NULL);
    expect(cli("eval", "p", "k", "b", NULL), 2, "-o REPLY", NULL);
    expect(cli("eval", "p", "k", "b", "-o", "r", "--threads", "x", NULL), 2, "--threads", NULL);
    expect(cli("decrypt", "k", "r", NULL), 2, "--plan", NULL);
    expect(cli("keygen", "p", "-o", "k", NULL), 2, "--eval-keys", NULL);
    expect(cli("keygen", "p", "-o", "k", "--eval-keys", "k", NULL), 2, "two outputs", NULL);
    char o[256], model[256];
    path(o, "p.cnp");
    path(model, "m.onnx");
    write_bytes(model, "onnx", 4);
    expect(cli("compile", model, "-o", o, NULL), 1, model, NULL); /* 4 bytes: no ONNX model */
    expect(cli("compile", "model.pt", "-o", o, NULL), 2, "model.pt", NULL);
    /* an output over one of the inputs (the key, the plan, the data) is refused */
    expect(cli("compile", model, "-o", model, NULL), 2, "would overwrite", NULL);
    expect(cli("encrypt", model, "i.csv", "--plan", o, "-o", model, NULL), 2, "would overwrite",
           NULL);
    expect(cli("keygen", o, "-o", model, "--eval-keys", model, NULL), 2, "two outputs", NULL);
    expect(cli("compile", "m.cnm", "-o", o, "--security", "100", NULL), 2, "--security", NULL);
    expect(cli("compile", "m.cnm", "-o", o, "--input-range", "5:1", NULL), 2, "--input-range",
           NULL);
    expect(cli("compile", "m.cnm", "-o", o, "--input-scale", "-1", NULL), 2, "--input-scale",
           NULL);
    remove_dir();
}
END_TEST

/* The packed layout (--batch-size): compile chooses it for 4 inputs per request and
 * says why; keygen, encrypt (7 inputs: requests of 4 and 3), eval and decrypt give the
 * integer network's outputs (cn_plan_eval_plain on the plan file); the containers of one
 * layout are refused with a plan of the other; run checks every output itself. */
START_TEST(test_cli_packed)
{
    make_dir();
    int64_t x[ROWS * NIN];
    base_flow(x); /* the batched files: plan.cnp, client.key, eval.keys, batch.bin */
    char model[256], plan[256], key[256], keys[256], in[256], batch[256], reply[256];
    char pplan[256], pkey[256], pkeys[256], pbatch[256], preply[256];
    path(model, "model.cnm");
    path(plan, "plan.cnp");
    path(key, "client.key");
    path(keys, "eval.keys");
    path(in, "in.csv");
    path(batch, "batch.bin");
    path(reply, "reply.bin");
    path(pplan, "packed.cnp");
    path(pkey, "packed.key");
    path(pkeys, "packed.keys");
    path(pbatch, "packed.batch");
    path(preply, "packed.reply");
    expect(cli("compile", model, "-o", pplan, "--weight-bits", "6", "--batch-size", "4",
               "--layout", "packed", NULL),
           0, NULL);
    ck_assert_msg(strstr(out_buf, "layout: packed") != NULL, "compile says why:\n%s", out_buf);
    size_t len;
    uint8_t *pb = read_bytes(pplan, &len);
    cn_plan_t *p;
    ck_assert_int_eq(cn_plan_from_bytes(&p, pb, len, 0, NULL), CN_OK);
    ck_assert_int_eq(cn_plan_layout(p), CN_LAYOUT_PACKED);
    const cn_packed_t *pk;
    ck_assert_int_eq(cn_plan_packed(&pk, p, NULL), CN_OK);
    ck_assert_uint_eq(cn_packed_batch(pk), 4);
    cn_plan_free(p);
    free(pb);
    /* --json: both estimates and the choice */
    expect(cli("compile", model, "-o", pplan, "--weight-bits", "6", "--batch-size", "4",
               "--layout", "packed", "--json", NULL),
           0, NULL);
    json_error_t je;
    json_t *doc = json_loads(out_buf, 0, &je);
    ck_assert_msg(doc != NULL, "JSON: %s", je.text);
    json_t *lay = json_object_get(doc, "layout");
    ck_assert_str_eq(json_string_value(json_object_get(lay, "chosen")), "packed");
    ck_assert_int_eq(json_integer_value(json_object_get(lay, "batch_size")), 4);
    ck_assert(json_real_value(json_object_get(lay, "packed_seconds")) > 0);
    ck_assert(json_real_value(json_object_get(lay, "batched_seconds")) > 0);
    const json_int_t key_bytes = json_integer_value(json_object_get(lay, "key_bytes"));
    json_decref(doc);
    /* the keys keygen makes are the bytes the compiler counted */
    expect(cli("keygen", pplan, "-o", pkey, "--eval-keys", pkeys, "--json", NULL), 0, NULL);
    doc = json_loads(out_buf, 0, &je);
    ck_assert_msg(doc != NULL, "JSON: %s", je.text);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "eval_key_bytes")), key_bytes);
    json_decref(doc);
    expect(cli("encrypt", pkey, in, "--plan", pplan, "-o", pbatch, "--json", NULL), 0, NULL);
    doc = json_loads(out_buf, 0, &je);
    ck_assert_msg(doc != NULL, "JSON: %s", je.text);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "requests")), 2);
    json_decref(doc);
    expect(cli("eval", pplan, pkeys, pbatch, "-o", preply, NULL), 0, NULL);
    expect(cli("decrypt", pkey, preply, "--plan", pplan, "--raw", NULL), 0, NULL);
    check_outputs(pplan, x, ROWS, out_buf);
    /* one layout's files with the other's plan */
    expect(cli("eval", pplan, keys, pbatch, "-o", preply, NULL), 3, keys, "batched layout",
           NULL);
    expect(cli("eval", pplan, pkeys, batch, "-o", preply, NULL), 3, batch, "batched layout",
           NULL);
    expect(cli("eval", plan, pkeys, batch, "-o", reply, NULL), 3, pkeys, "packed layout", NULL);
    expect(cli("eval", plan, keys, pbatch, "-o", reply, NULL), 3, pbatch, "packed layout",
           NULL);
    expect(cli("decrypt", key, preply, "--plan", plan, NULL), 3, preply, "packed layout", NULL);
    expect(cli("decrypt", pkey, reply, "--plan", pplan, NULL), 3, reply, "batched layout",
           NULL);
    expect(cli("encrypt", key, in, "--plan", pplan, "-o", pbatch, NULL), 3, "another plan",
           NULL);
    expect(cli("encrypt", pkey, in, "--plan", plan, "-o", batch, NULL), 3, "another plan",
           NULL);
    /* run: every output checked by the tool against the integer network */
    expect(cli("run", model, in, "--weight-bits", "6", "--batch-size", "3", "--layout",
               "packed", "--json", NULL),
           0, NULL);
    doc = json_loads(out_buf, 0, &je);
    ck_assert_msg(doc != NULL, "JSON: %s\n%s", je.text, out_buf);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "layout")), "packed");
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "inputs")), ROWS);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "requests")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "value_mismatches")), 0);
    /* the fields docs/cli.md lists for run --json, as for the batched layout */
    ck_assert(json_real_value(json_object_get(doc, "predictions_per_hour")) > 0);
    ck_assert(json_real_value(json_object_get(doc, "end_to_end_predictions_per_hour")) > 0);
    ck_assert(json_is_object(json_object_get(doc, "plan")));
    ck_assert_int_ge(json_integer_value(json_object_get(doc, "threads")), 1);
    ck_assert_int_gt(json_integer_value(json_object_get(doc, "peak_rss_bytes")), 0);
    json_t *rs = json_object_get(doc, "seconds");
    ck_assert(json_real_value(json_object_get(rs, "total")) >=
              json_real_value(json_object_get(rs, "server_total")));
    ck_assert(json_is_real(json_object_get(rs, "server_diagonals")));
    json_decref(doc);
    expect(cli("compile", model, "-o", pplan, "--batch-size", "0", NULL), 2, "--batch-size",
           NULL);
    expect(cli("compile", model, "-o", pplan, "--layout", "packed", NULL), 2, "--layout", NULL);
    /* (the service takes packed plans too since 2026-11-30: test_service_packed) */
    /* without --layout the cost model decides: the cheaper of its two printed estimates */
    expect(cli("compile", model, "-o", pplan, "--weight-bits", "6", "--batch-size", "4", NULL),
           0, NULL);
    const char *why = strstr(out_buf, "layout: ");
    ck_assert_msg(why != NULL, "%s", out_buf);
    char chosen[16] = "";
    double packed_s = -1, batched_s = -1;
    ck_assert_msg(sscanf(why,
                         "layout: %15[a-z]: 4 inputs per request cost %lf s packed against "
                         "%lf s batched",
                         chosen, &packed_s, &batched_s) == 3,
                  "%s", why);
    ck_assert_str_eq(chosen, packed_s < batched_s ? "packed" : "batched");
    remove_dir();
}
END_TEST

/* Messages name the file the user gave and what is wrong with it (a new user's trial,
 * 2026-11-30): keygen's key path (not a temporary name), inputs outside the model's range
 * (file, row, value; 8-bit data for a 4-bit model gets the shift), calibration inputs and
 * labels named by their own files; decrypted predictions written with mode 0600. */
START_TEST(test_cli_messages)
{
    make_dir();
    int64_t x[ROWS * NIN];
    base_flow(x);
    char model[256], plan[256], key[256], keys[256], reply[256], out[256], in8[256], nodir[320],
        lab[256], good[256];
    path(model, "model.cnm");
    path(plan, "plan.cnp");
    path(key, "client.key");
    path(keys, "eval.keys");
    path(reply, "reply.bin");
    path(out, "out.csv");
    path(in8, "pixels8.csv");
    path(lab, "labels.csv");
    path(good, "calib.csv");
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/k.key", dir);
    /* keygen into a missing directory: the path asked for, and no temporary name */
    expect(cli("keygen", plan, "-o", nodir, "--eval-keys", keys, NULL), 1, nodir,
           "No such file", NULL);
    ck_assert_msg(!strstr(err_buf, ".partial-"), "a temporary name:\n%s", err_buf);
    /* 8-bit values for the model's [0, 15]: input 2, value 3 is the first outside */
    FILE *f = fopen(in8, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "1,2,3,4,5,6\n7,8,200,9,10,11\n");
    fclose(f);
    expect(cli("encrypt", key, in8, "--plan", plan, "-o", out, NULL), 1, in8, "input 2",
           "value 3", "200", "[0, 15]", ">> 4", NULL);
    expect(cli("compile", model, "-o", out, "--calib", in8, NULL), 1, in8, "input 2", NULL);
    ck_assert_msg(!strstr(err_buf, "model.cnm"), "blames the model:\n%s", err_buf);
    /* labels that are not class indices (the model has NOUT outputs) */
    int64_t c[ROWS * NIN];
    inputs(c, ROWS, 62);
    write_csv(good, c, ROWS);
    f = fopen(lab, "w");
    ck_assert_ptr_nonnull(f);
    for (int r = 0; r < ROWS; r++)
        fprintf(f, "%d\n", r == 4 ? NOUT : r % NOUT);
    fclose(f);
    expect(cli("compile", model, "-o", out, "--calib", good, "--calib-labels", lab, NULL), 1,
           lab, "label 5", "class indices", NULL);
    expect(cli("run", model, good, "--labels", lab, "--weight-bits", "6", NULL), 1, lab,
           "label 5", "class indices", "one integer class per line", NULL);
    /* a labels file gets the labels' words, not the inputs' (before: "784 values, the
     * model takes 1", "raw inputs are integers in the model's input range") */
    expect(cli("run", model, good, "--labels", good, "--weight-bits", "6", NULL), 1, good,
           "6 values (a labels file holds one integer class per line", NULL);
    ck_assert_msg(!strstr(err_buf, "the model takes"), "%s", err_buf);
    f = fopen(lab, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "1\n7.5\n");
    fclose(f);
    expect(cli("run", model, good, "--labels", lab, "--weight-bits", "6", NULL), 1, lab,
           "line 2", "7.5 is not an integer", "one integer class per line, 0 to classes - 1",
           NULL);
    ck_assert_msg(!strstr(err_buf, "raw inputs"), "%s", err_buf);
    /* predictions are the data owner's: 0600, also over an existing file of mode 0644 */
    f = fopen(out, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(chmod(out, 0644), 0);
    ck_assert_int_eq(cli("decrypt", key, reply, "--plan", plan, "-o", out, NULL), 0);
    struct stat sb;
    ck_assert_int_eq(stat(out, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0600);
    ck_assert_int_eq(remove(out), 0);
    ck_assert_int_eq(cli("decrypt", key, reply, "--plan", plan, "--json", "-o", out, NULL), 0);
    ck_assert_int_eq(stat(out, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0600);
    remove_dir();
}
END_TEST

/* A file given where another kind goes is named as what it is, by its header
 * (docs/format.md's framing types, the tool's containers' magics), with what was expected:
 * exit 1 before any work (before: "plan.cnp: 1666944 bytes, larger than any client state",
 * "plan: the bytes are another kind of object (type 0x102)"). The words are docs/cli.md's. */
START_TEST(test_cli_kinds)
{
    make_dir();
    int64_t x[ROWS * NIN];
    base_flow(x);
    char model[256], plan[256], key[256], keys[256], in[256], batch[256], reply[256], fake[256],
        out[256];
    path(model, "model.cnm");
    path(plan, "plan.cnp");
    path(key, "client.key");
    path(keys, "eval.keys");
    path(in, "in.csv");
    path(batch, "batch.bin");
    path(reply, "reply.bin");
    path(fake, "fake.cnm");
    path(out, "o.bin");
    const char *const KEY = "not a client key (the key made by `cryptonets keygen -o`)";
    const char *const PLAN = "not a plan (made by `cryptonets compile`)";
    expect(cli("encrypt", plan, in, "--plan", plan, "-o", out, NULL), 1, plan, "is a plan", KEY,
           NULL);
    expect(cli("encrypt", keys, in, "--plan", plan, "-o", out, NULL), 1, "is evaluation keys",
           KEY, NULL);
    expect(cli("encrypt", key, in, "--plan", key, "-o", out, NULL), 1, "is a client key", PLAN,
           NULL);
    expect(cli("decrypt", keys, reply, "--plan", plan, NULL), 1, "is evaluation keys", KEY,
           NULL);
    expect(cli("decrypt", key, batch, "--plan", plan, NULL), 1, "is a batch",
           "not a reply (made by `cryptonets eval`)", NULL);
    expect(cli("keygen", key, "-o", "k2.key", "--eval-keys", "k2.keys", NULL), 1,
           "is a client key", PLAN, NULL);
    expect(cli("eval", plan, key, batch, "-o", out, NULL), 1, "is a client key",
           "not evaluation keys (made by `cryptonets keygen --eval-keys`)", NULL);
    expect(cli("eval", plan, keys, reply, "-o", out, NULL), 1, "is a reply",
           "not a batch (made by `cryptonets encrypt`)", NULL);
    expect(cli("eval", model, keys, batch, "-o", out, NULL), 1, "is a model", PLAN, NULL);
    /* a plan named .cnm */
    size_t len;
    uint8_t *b = read_bytes(plan, &len);
    write_bytes(fake, b, len);
    free(b);
    expect(cli("compile", fake, "-o", out, NULL), 1, "fake.cnm is a plan",
           "not a model (a .cnm or .onnx file)", NULL);
    ck_assert_msg(!strstr(err_buf, "0x101") || strstr(err_buf, "plan"), "%s", err_buf);
    /* infer: --key and --eval-keys, before the server is asked (none listens on port 9) */
    expect(cli("infer", "--server", "http://127.0.0.1:9", "--key", keys, in, NULL), 1,
           "is evaluation keys", KEY, NULL);
    expect(cli("infer", "--server", "http://127.0.0.1:9", "--key", key, "--eval-keys", plan, in,
               NULL),
           1, "is a plan", "not evaluation keys", NULL);
    ck_assert(access(out, F_OK) != 0);
    /* every input reader names the system's reason: a directory, a missing file; an empty
     * ONNX file is "empty", a text file "not an ONNX model" */
    char d1[256], d2[256], d3[256], onnx[256], txt[256];
    path(d1, "dir.csv");
    path(d2, "dir.npy");
    path(d3, "dir.cnm");
    ck_assert_int_eq(mkdir(d1, 0700), 0);
    ck_assert_int_eq(mkdir(d2, 0700), 0);
    ck_assert_int_eq(mkdir(d3, 0700), 0);
    expect(cli("encrypt", key, d1, "--plan", plan, "-o", out, NULL), 1,
           "dir.csv: is a directory", NULL);
    expect(cli("encrypt", key, d2, "--plan", plan, "-o", out, NULL), 1,
           "dir.npy: is a directory", NULL);
    expect(cli("compile", d3, "-o", out, NULL), 1, "dir.cnm: is a directory", NULL);
    path(onnx, "empty.onnx");
    write_bytes(onnx, "", 0);
    expect(cli("compile", onnx, "-o", out, NULL), 1, "empty.onnx: empty file", NULL);
    path(txt, "text.onnx");
    write_bytes(txt, "hello, not a model\n", 19);
    expect(cli("compile", txt, "-o", out, NULL), 1, "text.onnx: not an ONNX model", NULL);
    remove_dir();
}
END_TEST

CN_SUITE(cli)
{
    Suite *s = suite_create("cli");
    TCase *tc = cn_tcase("cli", 600);
    tcase_add_test(tc, test_cli_usage);
    tcase_add_test(tc, test_cli_flow);
    tcase_add_test(tc, test_cli_run);
    tcase_add_test(tc, test_cli_calib);
    tcase_add_test(tc, test_cli_mismatch);
    tcase_add_test(tc, test_cli_bad_files);
    tcase_add_test(tc, test_cli_bad_inputs);
    tcase_add_test(tc, test_cli_packed);
    tcase_add_test(tc, test_cli_messages);
    tcase_add_test(tc, test_cli_kinds);
    suite_add_tcase(s, tc);
    return s;
}
