/* Tests of the `cryptonets` program's outputs, inputs and option values (tools/, docs/cli.md;
 * defects of a new user's trial, 2026-11-30), run as a separate process like test_cli.c:
 *  - an output over an input or over another output is refused (exit 2) by the files'
 *    identity, whatever the spelling ("./k.key" and "k.key", a symbolic link, "d/../k"),
 *    in every command and in infer (key, evaluation keys, inputs, token and CA files), and
 *    the input is left as it was;
 *  - an output that cannot be written (a directory, a missing directory) is refused before
 *    any work; a write that fails (a file size limit, RLIMIT_FSIZE: EFBIG, as a full disk
 *    gives ENOSPC) names the system's reason (strerror) and leaves no file, neither under
 *    the name nor a partial one;
 *  - SIGINT or SIGTERM during encrypt or eval removes the partial file and exits with
 *    128 + the signal's number, saying so;
 *  - input files: no rows, a shape too large, an integer beyond 64 bits (then the model's
 *    range), tabs as separators, a UTF-8 byte order mark, an empty field (its column);
 *  - option values out of range are usage errors (exit 2) with the accepted range;
 *  - packed eval --json reports predictions_per_hour and steps as the batched one does.
 * What is expected comes from the files written here and from POSIX (strerror of EFBIG,
 * the exit status of a signal), never from the tool. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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

/* How the next run is made: a file size limit (0: none), in the test's directory. */
static long fsize_limit;

static void path(char *p, const char *name)
{
    snprintf(p, 256, "%s/%s", dir, name);
}

/* Starts the program in the test's directory with the NULL-terminated arguments (argv
 * from ap), its stdout and stderr into files; returns its pid. */
static pid_t start(const char *arg0, va_list ap)
{
    const char *argv[40] = {bin};
    size_t n = 1;
    for (const char *s = arg0; s; s = va_arg(ap, const char *)) {
        ck_assert(n < 39);
        argv[n++] = s;
    }
    argv[n] = NULL;
    char o[256], e[256];
    path(o, "stdout.txt");
    path(e, "stderr.txt");
    return cn_test_spawn(
        argv, &(cn_test_spawn_t){.out = o, .err = e, .cwd = dir, .fsize_limit = fsize_limit});
}

/* Waits for pid; its output lands in out_buf and err_buf. The exit status, or -signal. */
static int finish(pid_t pid)
{
    int status;
    ck_assert(waitpid(pid, &status, 0) == pid);
    char o[256], e[256];
    path(o, "stdout.txt");
    path(e, "stderr.txt");
    cn_test_slurp(out_buf, sizeof out_buf, o);
    cn_test_slurp(err_buf, sizeof err_buf, e);
    cn_test_tool_status(status, err_buf, "the tool");
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

static int cli(const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    const pid_t pid = start(arg0, ap);
    va_end(ap);
    const int rc = finish(pid);
    ck_assert_msg(rc >= 0, "killed by signal %d\n%s", -rc, err_buf);
    return rc;
}

/* The exit status must be want and stderr must mention each NULL-terminated string. */
static void expect(int rc, int want, ...)
{
    ck_assert_msg(rc == want, "exit %d, expected %d; stderr:\n%s", rc, want, err_buf);
    va_list ap;
    va_start(ap, want);
    for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
        ck_assert_msg(strstr(err_buf, s) != NULL, "error lacks '%s':\n%s", s, err_buf);
    va_end(ap);
}

static void write_text(const char *name, const char *text)
{
    char p[256];
    path(p, name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* The bytes of file name in the test's directory (NUL-terminated), and their count. */
static char *read_all(const char *name, size_t *len)
{
    char p[256];
    path(p, name);
    FILE *f = fopen(p, "rb");
    ck_assert_msg(f != NULL, "%s: %s", p, strerror(errno));
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(*len + 1);
    ck_assert_uint_eq(fread(b, 1, *len, f), *len);
    b[*len] = 0;
    fclose(f);
    return b;
}

static int exists(const char *name)
{
    char p[256];
    struct stat sb;
    path(p, name);
    return stat(p, &sb) == 0;
}

/* No file of the directory has ".partial-" in its name. */
static void no_partial(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -q '\\.partial-'", dir);
    ck_assert_msg(system(cmd) != 0, "a partial file is left in %s", dir);
}

/* A dense(4) -> square -> dense(3) model on 6 raw inputs in [0, 15]. */
static void make_model(const char *name)
{
    cn_model_t m;
    cn_net_diag_t d = {{0}};
    char p[256];
    path(p, name);
    cn_test_tool_model(&m, 0);
    ck_assert_int_eq(cn_model_save(&m, p, &d), CN_OK);
    cn_model_clear(&m);
}

/* rows inputs of NIN values in [0, 15] as CSV, separated by sep */
static void write_inputs(const char *name, size_t rows, const char *sep)
{
    char p[256];
    path(p, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    cn_test_rng_t r;
    cn_test_rng_init(&r, 71);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < NIN; j++)
            fprintf(f, "%u%s", (unsigned)cn_test_rng_below(&r, 16), j + 1 < NIN ? sep : "\n");
    fclose(f);
}

static void make_dir(void)
{
    cn_test_cli_bin(bin, sizeof bin);
    fsize_limit = 0;
    snprintf(dir, sizeof dir, "/tmp/cn_test_cliout_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* model.cnm, plan.cnp, client.key, eval.keys, in.csv (7 inputs), batch.bin, reply.bin; the
 * tool runs in dir, so relative names are the test's files */
static void base_files(void)
{
    make_model("model.cnm");
    write_inputs("in.csv", 7, ",");
    expect(cli("compile", "model.cnm", "-o", "plan.cnp", "--weight-bits", "6", NULL), 0, NULL);
    expect(cli("keygen", "plan.cnp", "-o", "client.key", "--eval-keys", "eval.keys", NULL), 0,
           NULL);
    expect(
        cli("encrypt", "client.key", "in.csv", "--plan", "plan.cnp", "-o", "batch.bin", NULL),
        0, NULL);
    expect(cli("eval", "plan.cnp", "eval.keys", "batch.bin", "-o", "reply.bin", NULL), 0, NULL);
}

/* Outputs over inputs or over each other, by identity: every spelling is refused (exit 2)
 * and the file is left as it was. */
START_TEST(test_cliout_same_file)
{
    make_dir();
    base_files();
    size_t klen, klen2;
    char *key = read_all("client.key", &klen);
    /* keygen: two spellings of one new file, of one existing file, and through a link */
    expect(cli("keygen", "plan.cnp", "-o", "./kk2.key", "--eval-keys", "kk2.key", NULL), 2,
           "the same file for two outputs", NULL);
    ck_assert(!exists("kk2.key"));
    char sub[256];
    path(sub, "sub");
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    expect(cli("keygen", "plan.cnp", "-o", "sub/../kk3.key", "--eval-keys", "kk3.key", NULL), 2,
           "the same file for two outputs", NULL);
    ck_assert(!exists("kk3.key"));
    expect(cli("keygen", "plan.cnp", "-o", "./client.key", "--eval-keys", "client.key", NULL),
           2, "two outputs", NULL);
    char link[256], target[256];
    path(link, "key.link");
    path(target, "client.key");
    ck_assert_int_eq(symlink(target, link), 0);
    /* an output over an input, spelt otherwise: plan, key, inputs, batch, reply */
    expect(cli("keygen", "./plan.cnp", "-o", "plan.cnp", "--eval-keys", "e2", NULL), 2,
           "would overwrite", NULL);
    expect(cli("encrypt", "client.key", "in.csv", "--plan", "plan.cnp", "-o", "./client.key",
               NULL),
           2, "would overwrite", NULL);
    expect(cli("encrypt", "client.key", "in.csv", "--plan", "plan.cnp", "-o", "key.link", NULL),
           2, "would overwrite", NULL);
    expect(cli("encrypt", "client.key", "in.csv", "--plan", "plan.cnp", "-o", "sub/../in.csv",
               NULL),
           2, "would overwrite", NULL);
    expect(cli("eval", "plan.cnp", "eval.keys", "batch.bin", "-o", "./eval.keys", NULL), 2,
           "would overwrite", NULL);
    expect(
        cli("decrypt", "client.key", "reply.bin", "--plan", "plan.cnp", "-o", "key.link", NULL),
        2, "would overwrite", NULL);
    expect(cli("run", "model.cnm", "in.csv", "-o", "./model.cnm", NULL), 2, "would overwrite",
           NULL);
    /* infer: checked before the server is asked anything (none listens on port 9) */
    write_text("token", "secret-token\n");
    write_text("ca.pem", "not a certificate\n");
    const char *outs[] = {"client.key", "./client.key", "key.link", "eval.keys",
                          "./in.csv",   "token",        "ca.pem"};
    for (size_t i = 0; i < sizeof outs / sizeof *outs; i++)
        expect(cli("infer", "--server", "http://127.0.0.1:9", "--token-file", "token",
                   "--cacert", "ca.pem", "--key", "client.key", "--eval-keys", "eval.keys",
                   "in.csv", "-o", outs[i], NULL),
               2, "would overwrite", NULL);
    /* without --eval-keys infer reads the cache CLIENT_KEY.eval-keys */
    expect(cli("infer", "--server", "http://127.0.0.1:9", "--key", "client.key", "in.csv", "-o",
               "./client.key.eval-keys", NULL),
           2, "would overwrite", NULL);
    char *key2 = read_all("client.key", &klen2);
    ck_assert_uint_eq(klen, klen2);
    ck_assert(memcmp(key, key2, klen) == 0);
    free(key);
    free(key2);
    remove_dir();
}
END_TEST

/* Outputs that cannot be written are refused before the work; failed writes say why (the
 * system's strerror) and leave nothing. */
START_TEST(test_cliout_write_errors)
{
    make_dir();
    base_files();
    char sub[256];
    path(sub, "sub");
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    /* a directory, a missing directory: refused at once (no "encrypting" work first) */
    expect(cli("encrypt", "client.key", "in.csv", "--plan", "plan.cnp", "-o", "sub/", NULL), 1,
           "sub/", "is a directory", NULL);
    expect(cli("encrypt", "client.key", "in.csv", "--plan", "plan.cnp", "-o", "sub", NULL), 1,
           "is a directory", NULL);
    expect(cli("compile", "model.cnm", "-o", "nodir/p.cnp", NULL), 1, "nodir/p.cnp",
           strerror(ENOENT), NULL);
    expect(cli("keygen", "plan.cnp", "-o", "k.key", "--eval-keys", "nodir/e", NULL), 1,
           "nodir/e", strerror(ENOENT), NULL);
    ck_assert(!exists("k.key"));
    expect(cli("infer", "--server", "http://127.0.0.1:9", "--key", "client.key", "in.csv", "-o",
               "sub", NULL),
           1, "is a directory", NULL);
    /* a file size limit of 64 bytes: every write of more fails with EFBIG */
    const char *why = strerror(EFBIG);
    size_t len;
    char *before = read_all("batch.bin", &len);
    fsize_limit = 64;
    expect(
        cli("encrypt", "client.key", "in.csv", "--plan", "plan.cnp", "-o", "batch.bin", NULL),
        1, "batch.bin", why, NULL);
    expect(cli("encrypt", "client.key", "in.csv", "--plan", "plan.cnp", "-o", "b2.bin", NULL),
           1, "b2.bin", why, NULL);
    expect(cli("eval", "plan.cnp", "eval.keys", "batch.bin", "-o", "r2.bin", NULL), 1, "r2.bin",
           why, NULL);
    expect(cli("keygen", "plan.cnp", "-o", "k2.key", "--eval-keys", "e2.keys", NULL), 1, why,
           NULL);
    expect(
        cli("decrypt", "client.key", "reply.bin", "--plan", "plan.cnp", "-o", "out.csv", NULL),
        1, "out.csv", why, NULL);
    expect(cli("decrypt", "client.key", "reply.bin", "--plan", "plan.cnp", "--json", "-o",
               "out.json", NULL),
           1, "out.json", why, NULL);
    expect(cli("compile", "model.cnm", "-o", "p2.cnp", "--weight-bits", "6", NULL), 1, "p2.cnp",
           why, NULL);
    fsize_limit = 0;
    const char *none[] = {"b2.bin",  "r2.bin",   "k2.key", "e2.keys",
                          "out.csv", "out.json", "p2.cnp"};
    for (size_t i = 0; i < sizeof none / sizeof *none; i++)
        ck_assert_msg(!exists(none[i]), "%s left after a failed write", none[i]);
    no_partial();
    size_t len2;
    char *after = read_all("batch.bin", &len2); /* the file already there is kept */
    ck_assert_uint_eq(len, len2);
    ck_assert(memcmp(before, after, len) == 0);
    free(before);
    free(after);
    remove_dir();
}
END_TEST

/* Sends sig to a command once its partial file exists; it must remove the file, say so and
 * exit with 128 + sig. */
static void interrupt(int sig, const char *out, const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    const pid_t pid = start(arg0, ap);
    va_end(ap);
    char part[160];
    snprintf(part, sizeof part, "%s.partial-%ld", out, (long)pid);
    int seen = 0;
    for (int i = 0; i < 60000 && !seen; i++) { /* up to 60 s */
        seen = exists(part);
        if (!seen) {
            int st;
            ck_assert_msg(waitpid(pid, &st, WNOHANG) == 0, "%s ended before its partial file",
                          arg0);
            nanosleep(&(struct timespec){0, 1000000}, NULL);
        }
    }
    ck_assert_msg(seen, "%s: no %s", arg0, part);
    ck_assert_int_eq(kill(pid, sig), 0);
    const int rc = finish(pid);
    ck_assert_msg(rc == 128 + sig, "%s: exit %d, expected %d\n%s", arg0, rc, 128 + sig,
                  err_buf);
    ck_assert_msg(strstr(err_buf, "interrupted by SIG") != NULL, "%s", err_buf);
    ck_assert_msg(strstr(err_buf, "partial output was removed") != NULL, "%s", err_buf);
    ck_assert(!exists(part));
    ck_assert(!exists(out));
    no_partial();
}

START_TEST(test_cliout_interrupt)
{
    make_dir();
    base_files();
    /* inputs for many batches (about 120 at n = 8192, 100 MB): encrypt and eval each take
     * about a second on one thread after the partial file appears, time enough for the
     * signal even on a loaded machine */
    write_inputs("many.csv", 1000000, ",");
    interrupt(SIGINT, "big.bin", "encrypt", "client.key", "many.csv", "--plan", "plan.cnp",
              "-o", "big.bin", "--threads", "1", "--quiet", NULL);
    expect(cli("encrypt", "client.key", "many.csv", "--plan", "plan.cnp", "-o", "many.bin",
               "--threads", "2", "--quiet", NULL),
           0, NULL);
    interrupt(SIGINT, "big.reply", "eval", "plan.cnp", "eval.keys", "many.bin", "-o",
              "big.reply", "--threads", "1", "--quiet", NULL);
    interrupt(SIGTERM, "big.reply", "eval", "plan.cnp", "eval.keys", "many.bin", "-o",
              "big.reply", "--threads", "1", "--quiet", NULL);
    remove_dir();
}
END_TEST

/* A NumPy .npy 1.0 file of dtype descr with the given shape and no data: magic,
 * version, header length, the header dict padded with blanks to a multiple of 64. */
static void write_npy_typed(const char *name, const char *descr, const char *shape)
{
    char h[160];
    int hl = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                      descr, shape);
    ck_assert(hl > 0 && hl < 150);
    while ((10 + hl + 1) % 64)
        h[hl++] = ' ';
    h[hl++] = '\n';
    char npy[256];
    path(npy, name);
    FILE *f = fopen(npy, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc(hl & 255, f);
    fputc(hl >> 8, f);
    fwrite(h, 1, (size_t)hl, f);
    fclose(f);
}

/* write_npy_typed of unsigned bytes */
static void write_npy_header(const char *name, const char *shape)
{
    write_npy_typed(name, "|u1", shape);
}

/* Input files whose trouble the message must name. */
START_TEST(test_cliout_inputs)
{
    make_dir();
    base_files();
    /* a .npy of shape (0, 6): no inputs */
    write_npy_header("empty.npy", "(0, 6)");
    expect(cli("encrypt", "client.key", "empty.npy", "--plan", "plan.cnp", "-o", "b.bin", NULL),
           1, "empty.npy", "no inputs", NULL);
    /* 2^62 x 2^62: the shape is too large (not a malformed header) */
    write_npy_header("huge.npy", "(4611686018427387904, 4611686018427387904)");
    expect(cli("encrypt", "client.key", "huge.npy", "--plan", "plan.cnp", "-o", "b.bin", NULL),
           1, "huge.npy", "too large", NULL);
    ck_assert_msg(!strstr(err_buf, "malformed"), "%s", err_buf);
    /* an integer beyond 64 bits: said so, with the model's range [0, 15] */
    write_text("wide.csv", "1,2,3,4,5,6\n1,99999999999999999999999,3,4,5,6\n");
    expect(cli("encrypt", "client.key", "wide.csv", "--plan", "plan.cnp", "-o", "b.bin", NULL),
           1, "wide.csv", "line 2, column 2", "64-bit integer", "[0, 15]", NULL);
    ck_assert_msg(!strstr(err_buf, "not an integer"), "%s", err_buf);
    write_text("wneg.csv", "-99999999999999999999999,2,3,4,5,6\n");
    expect(cli("encrypt", "client.key", "wneg.csv", "--plan", "plan.cnp", "-o", "b.bin", NULL),
           1, "column 1", "64-bit integer", NULL);
    /* tabs separate values as commas do: the same batch size as the CSV gives */
    write_inputs("tabs.tsv", 7, "\t");
    expect(cli("encrypt", "client.key", "tabs.tsv", "--format", "csv", "--plan", "plan.cnp",
               "-o", "tabs.bin", "--json", NULL),
           0, NULL);
    json_error_t je;
    json_t *doc = json_loads(out_buf, 0, &je);
    ck_assert_msg(doc != NULL, "%s", je.text);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "inputs")), 7);
    json_decref(doc);
    /* a UTF-8 byte order mark before a header line, and before a row of numbers */
    write_text("bom1.csv", "\xEF\xBB\xBF"
                           "a,b,c,d,e,f\n1,2,3,4,5,6\n");
    expect(cli("encrypt", "client.key", "bom1.csv", "--plan", "plan.cnp", "-o", "b.bin", NULL),
           0, NULL);
    write_text("bom2.csv", "\xEF\xBB\xBF"
                           "1,2,3,4,5,6\n");
    expect(cli("encrypt", "client.key", "bom2.csv", "--plan", "plan.cnp", "-o", "b.bin", NULL),
           0, NULL);
    /* an empty field: its column, in the first row as in later ones */
    write_text("gap1.csv", ",2,3,4,5,6\n");
    expect(cli("encrypt", "client.key", "gap1.csv", "--plan", "plan.cnp", "-o", "b.bin", NULL),
           1, "line 1, column 1", "empty field", NULL);
    write_text("gap2.csv", "1,2,3,4,5,6\n1,2,,4,5,6\n");
    expect(cli("encrypt", "client.key", "gap2.csv", "--plan", "plan.cnp", "-o", "b.bin", NULL),
           1, "line 2, column 3", "empty field", NULL);
    write_text("word.csv", "1,x,3,4,5,6\n");
    expect(cli("encrypt", "client.key", "word.csv", "--plan", "plan.cnp", "-o", "b.bin", NULL),
           1, "line 1, column 2", "'x' is not a number", NULL);
    remove_dir();
}
END_TEST

/* A NumPy .npy 1.0 file of rows inputs of NIN little-endian int64 values in [0, 15]. */
static void write_npy_i8(const char *name, size_t rows)
{
    char shape[64], p[256];
    snprintf(shape, sizeof shape, "(%zu, %d)", rows, NIN);
    write_npy_typed(name, "<i8", shape);
    path(p, name);
    FILE *f = fopen(p, "ab");
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < rows * NIN; i++) {
        const uint64_t v = (i * 7 + i / NIN) % 16;
        uint8_t le[8];
        for (int b = 0; b < 8; b++)
            le[b] = (uint8_t)(v >> (8 * b));
        fwrite(le, 1, 8, f);
    }
    ck_assert_int_eq(fclose(f), 0);
}

/* The tool with the NULL-terminated arguments, started and not waited for. */
static pid_t start_args(const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    const pid_t pid = start(arg0, ap);
    va_end(ap);
    return pid;
}

/* A .npy of int64 is used where it lies in the page cache (the tool maps it): an
 * --input-shift on its values does not reach the file, and a file cut short by another
 * program while the tool uses it ends the run with exit 1 naming the file (the mapping's
 * SIGBUS handled, not a crash). */
START_TEST(test_cliout_input_cut)
{
    make_dir();
    base_files();
    size_t plen, blen;
    char *pb = read_all("plan.cnp", &plen);
    cn_plan_t *p;
    ck_assert_int_eq(cn_plan_from_bytes(&p, (const uint8_t *)pb, plen, 0, NULL), CN_OK);
    const size_t n = cn_plan_params(p)->n;
    cn_plan_free(p);
    free(pb);
    /* three records: the second and third read after the first is written */
    write_npy_i8("big.npy", 2 * n + 1);
    char *before = read_all("big.npy", &blen);
    expect(cli("encrypt", "client.key", "big.npy", "--plan", "plan.cnp", "-o", "s.bin",
               "--input-shift", "1", "--quiet", NULL),
           0, NULL);
    size_t alen;
    char *after = read_all("big.npy", &alen);
    ck_assert_uint_eq(alen, blen);
    ck_assert_msg(memcmp(before, after, blen) == 0, "--input-shift changed the input file");
    free(after);
    /* the shifted values are the ones encrypted: the same outputs as a CSV of v >> 1 */
    char csv[256];
    path(csv, "shifted.csv");
    FILE *f = fopen(csv, "w");
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < (2 * n + 1) * NIN; i++)
        fprintf(f, "%u%s", (unsigned)(((i * 7 + i / NIN) % 16) >> 1),
                (i + 1) % NIN ? "," : "\n");
    ck_assert_int_eq(fclose(f), 0);
    expect(cli("encrypt", "client.key", "shifted.csv", "--plan", "plan.cnp", "-o", "c.bin",
               "--quiet", NULL),
           0, NULL);
    char *outs[2];
    const char *batches[2] = {"s.bin", "c.bin"};
    for (int k = 0; k < 2; k++) {
        expect(cli("eval", "plan.cnp", "eval.keys", batches[k], "-o", "r.bin", "--quiet", NULL),
               0, NULL);
        expect(cli("decrypt", "client.key", "r.bin", "--plan", "plan.cnp", "--raw", NULL), 0,
               NULL);
        outs[k] = strdup(out_buf);
    }
    ck_assert_str_eq(outs[0], outs[1]);
    free(outs[0]);
    free(outs[1]);
    free(before);

    /* cut short: the output is a FIFO, so the tool waits on it after its first record
     * until this reader drains it, and the file is cut meanwhile */
    char fifo[256], big[256];
    path(fifo, "out.fifo");
    path(big, "big.npy");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    const pid_t pid = start_args("encrypt", "client.key", "big.npy", "--plan", "plan.cnp", "-o",
                                 "out.fifo", "--threads", "1", "--quiet", NULL);
    const int fd = open(fifo, O_RDONLY); /* returns once the tool opened it to write */
    ck_assert(fd >= 0);
    ck_assert_int_eq(truncate(big, 100), 0);
    char buf[65536];
    while (read(fd, buf, sizeof buf) > 0)
        ;
    close(fd);
    expect(finish(pid), 1, "cryptonets encrypt: ", "big.npy", "cut short", NULL);
    remove_dir();
}
END_TEST

/* Option values outside their range: exit 2 naming the accepted range, in every command;
 * packed eval --json as the batched one. */
START_TEST(test_cliout_options)
{
    make_dir();
    make_model("model.cnm");
    const char *ns[] = {"131072", "65536", "1000", "8", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++)
        expect(cli("compile", "model.cnm", "-o", "p.cnp", "--n", ns[i], NULL), 2, "--n", NULL);
    expect(cli("compile", "model.cnm", "-o", "p.cnp", "--n", "131072", NULL), 2, "16", "32768",
           NULL);
    expect(cli("run", "model.cnm", "in.csv", "--n", "131072", NULL), 2, "--n", NULL);
    expect(cli("compile", "model.cnm", "-o", "p.cnp", "--weight-bits", "1", NULL), 2,
           "--weight-bits", NULL);
    expect(cli("compile", "model.cnm", "-o", "p.cnp", "--tolerance", "0", NULL), 2,
           "--tolerance", NULL);
    expect(cli("compile", "model.cnm", "-o", "p.cnp", "--batch-size", "2000000", NULL), 2,
           "--batch-size", NULL);
    expect(cli("eval", "p", "k", "b", "-o", "r", "--threads", "99999", NULL), 2, "--threads",
           NULL);
    expect(cli("infer", "--server", "http://127.0.0.1:9", "--key", "k", "in.csv", "--retries",
               "0", NULL),
           2, "--retries", NULL);
    /* every numeric option's message states its own range and the text given, whatever
     * is wrong with it (before: "expected a number up to 18446744073709551615") */
    const char *wb[] = {"4.0", "-3", "", "x", "17", "1", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof wb / sizeof *wb; i++) {
        char got[64];
        snprintf(got, sizeof got, "got '%s'", wb[i]);
        expect(cli("compile", "model.cnm", "-o", "p.cnp", "--weight-bits", wb[i], NULL), 2,
               "--weight-bits: a whole number of bits from 2 to 16", got, NULL);
        ck_assert_msg(!strstr(err_buf, "18446744073709551615"), "%s", err_buf);
    }
    expect(cli("compile", "model.cnm", "-o", "p.cnp", "--n", "4.0", NULL), 2,
           "--n: a power of two from 16 to 32768, got '4.0'", NULL);
    expect(cli("compile", "model.cnm", "-o", "p.cnp", "--n", "100", NULL), 2,
           "--n: a power of two from 16 to 32768, got '100'", NULL);
    expect(cli("compile", "model.cnm", "-o", "p.cnp", "--batch-size", "0", NULL), 2,
           "--batch-size: 1 to 2^20 inputs per request, got '0'", NULL);
    expect(cli("eval", "p", "k", "b", "-o", "r", "--threads", "two", NULL), 2,
           "--threads: 0 (all cores) to 4096 threads, got 'two'", NULL);
    expect(cli("infer", "--server", "http://127.0.0.1:9", "--key", "k", "in.csv", "--threads",
               "1e3", NULL),
           2, "--threads: a whole number from 0 to 4096, got '1e3'", NULL);
    /* packed eval --json: the fields docs/cli.md lists for eval */
    write_inputs("in.csv", 5, ",");
    expect(cli("compile", "model.cnm", "-o", "pk.cnp", "--weight-bits", "6", "--batch-size",
               "4", "--layout", "packed", NULL),
           0, NULL);
    expect(cli("keygen", "pk.cnp", "-o", "pk.key", "--eval-keys", "pk.keys", NULL), 0, NULL);
    expect(cli("encrypt", "pk.key", "in.csv", "--plan", "pk.cnp", "-o", "pk.batch", NULL), 0,
           NULL);
    expect(cli("eval", "pk.cnp", "pk.keys", "pk.batch", "-o", "pk.reply", "--json", NULL), 0,
           NULL);
    json_error_t je;
    json_t *doc = json_loads(out_buf, 0, &je);
    ck_assert_msg(doc != NULL, "%s\n%s", je.text, out_buf);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "inputs")), 5);
    ck_assert(json_real_value(json_object_get(doc, "predictions_per_hour")) > 0);
    json_t *steps = json_object_get(doc, "steps");
    ck_assert(json_is_object(steps) && json_object_size(steps) > 0);
    const char *k;
    json_t *v;
    json_object_foreach(steps, k, v)
        ck_assert_msg(json_is_real(v) && json_real_value(v) >= 0, "step %s", k);
    json_decref(doc);
    remove_dir();
}
END_TEST

/* lstat's file type of name in the test's directory (0: missing) */
static mode_t type_of(const char *name)
{
    char p[256];
    struct stat sb;
    path(p, name);
    return lstat(p, &sb) == 0 ? sb.st_mode & S_IFMT : 0;
}

/* Outputs that are not plain files (docs/cli.md, "Outputs"): a symbolic link is followed
 * (its target written, the link kept; a dangling link's target created); a FIFO and a
 * character device are written in place (the FIFO's reader gets the bytes, /dev/null stays
 * a device); a socket is refused; the secret key goes only to a regular file. */
START_TEST(test_cliout_special)
{
    make_dir();
    base_files();
    char p[256], q[256];
    /* the reference: decrypt into a plain file */
    expect(cli("decrypt", "client.key", "reply.bin", "--plan", "plan.cnp", "-o", "plain.csv",
               NULL),
           0, NULL);
    size_t plen, len;
    char *plain = read_all("plain.csv", &plen);
    ck_assert(strstr(plain, "input,class") == plain);
    /* a dangling link: its target is created, the link kept (twice: then replaced) */
    path(p, "sub");
    ck_assert_int_eq(mkdir(p, 0700), 0);
    ck_assert_int_eq(symlink("sub/real.csv", (path(q, "link.csv"), q)), 0);
    for (int round = 0; round < 2; round++) {
        expect(cli("decrypt", "client.key", "reply.bin", "--plan", "plan.cnp", "-o", "link.csv",
                   NULL),
               0, NULL);
        ck_assert_uint_eq(type_of("link.csv"), S_IFLNK);
        ck_assert_uint_eq(type_of("sub/real.csv"), S_IFREG);
        char *got = read_all("sub/real.csv", &len);
        ck_assert(len == plen && memcmp(got, plain, len) == 0);
        free(got);
    }
    path(p, "sub/real.csv");
    struct stat sb;
    ck_assert_int_eq(stat(p, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0600); /* decrypted results are private */
    /* the containers' writer and a chain of two links */
    ck_assert_int_eq(symlink("link2", (path(q, "link1"), q)), 0);
    ck_assert_int_eq(symlink("sub/reply2.bin", (path(q, "link2"), q)), 0);
    expect(cli("eval", "plan.cnp", "eval.keys", "batch.bin", "-o", "link1", NULL), 0, NULL);
    ck_assert_uint_eq(type_of("link1"), S_IFLNK);
    ck_assert_uint_eq(type_of("link2"), S_IFLNK);
    ck_assert_uint_eq(type_of("sub/reply2.bin"), S_IFREG);
    expect(cli("decrypt", "client.key", "link1", "--plan", "plan.cnp", "-o", "p2.csv", NULL), 0,
           NULL);
    char *got = read_all("p2.csv", &len);
    ck_assert(len == plen && memcmp(got, plain, len) == 0);
    free(got);
    no_partial();
    path(p, "sub");
    {
        char cmd[320];
        snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -q '\\.partial-'", p);
        ck_assert_msg(system(cmd) != 0, "a partial file is left in %s", p);
    }
    /* the identity checks see through a link to be created: an output over another */
    ck_assert_int_eq(symlink("sub/new.key", (path(q, "nk.link"), q)), 0);
    expect(cli("keygen", "plan.cnp", "-o", "nk.link", "--eval-keys", "sub/new.key", NULL), 2,
           "the same file for two outputs", NULL);
    ck_assert(!exists("sub/new.key"));
    /* keygen through a link: the target made, mode 0600, the link kept */
    expect(cli("keygen", "plan.cnp", "-o", "nk.link", "--eval-keys", "nk.keys", NULL), 0, NULL);
    ck_assert_uint_eq(type_of("nk.link"), S_IFLNK);
    path(p, "sub/new.key");
    ck_assert_int_eq(stat(p, &sb), 0);
    ck_assert(S_ISREG(sb.st_mode));
    ck_assert_uint_eq(sb.st_mode & 0777, 0600);
    /* a FIFO: written in place, its reader gets the very bytes of the plain file */
    path(p, "fifo");
    ck_assert_int_eq(mkfifo(p, 0600), 0);
    {
        /* the tool runs from a child of the test (opening the FIFO blocks until this
         * reader opens it) */
        const pid_t pid = fork();
        ck_assert(pid >= 0);
        if (pid == 0) {
            int rc = cli("decrypt", "client.key", "reply.bin", "--plan", "plan.cnp", "-o",
                         "fifo", NULL);
            _exit(rc == 0 ? 0 : 1);
        }
        const int fd = open(p, O_RDONLY);
        ck_assert(fd >= 0);
        char *buf = malloc(plen + 4096);
        size_t n = 0;
        for (ssize_t k; (k = read(fd, buf + n, plen + 4096 - n)) > 0;)
            n += (size_t)k;
        close(fd);
        int status;
        ck_assert(waitpid(pid, &status, 0) == pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ck_assert_uint_eq(n, plen);
        ck_assert(memcmp(buf, plain, plen) == 0);
        free(buf);
    }
    ck_assert_uint_eq(type_of("fifo"), S_IFIFO);
    no_partial();
    /* an input given as a FIFO is read once, by its loader (the kind check does not open
     * it): compile reads the model from a writer child */
    path(p, "model.fifo.cnm");
    ck_assert_int_eq(mkfifo(p, 0600), 0);
    {
        size_t mlen;
        char *mb = read_all("model.cnm", &mlen);
        const pid_t w = fork();
        ck_assert(w >= 0);
        if (w == 0) {
            const int fd = open(p, O_WRONLY);
            size_t off = 0;
            while (fd >= 0 && off < mlen) {
                const ssize_t k = write(fd, mb + off, mlen - off);
                if (k <= 0)
                    break;
                off += (size_t)k;
            }
            _exit(off == mlen ? 0 : 1);
        }
        expect(cli("compile", "model.fifo.cnm", "-o", "pf.cnp", "--weight-bits", "6", NULL), 0,
               NULL);
        int status;
        ck_assert(waitpid(w, &status, 0) == w);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        free(mb);
        ck_assert(exists("pf.cnp"));
    }
    /* /dev/null: accepted, still a character device; every writer (CSV, containers) */
    expect(cli("decrypt", "client.key", "reply.bin", "--plan", "plan.cnp", "-o", "/dev/null",
               NULL),
           0, NULL);
    expect(
        cli("encrypt", "client.key", "in.csv", "--plan", "plan.cnp", "-o", "/dev/null", NULL),
        0, NULL);
    expect(cli("eval", "plan.cnp", "eval.keys", "batch.bin", "-o", "/dev/null", NULL), 0, NULL);
    ck_assert_int_eq(stat("/dev/null", &sb), 0);
    ck_assert(S_ISCHR(sb.st_mode));
    /* the secret key: only a regular file (exit 2, nothing written) */
    expect(cli("keygen", "plan.cnp", "-o", "/dev/null", "--eval-keys", "e5.keys", NULL), 2,
           "/dev/null: is a character device", "regular file", NULL);
    expect(cli("keygen", "plan.cnp", "-o", "fifo", "--eval-keys", "e5.keys", NULL), 2,
           "fifo: is a FIFO", NULL);
    ck_assert(!exists("e5.keys"));
    ck_assert_int_eq(stat("/dev/null", &sb), 0);
    ck_assert(S_ISCHR(sb.st_mode));
    /* a socket: refused before any work, left as it was */
    path(p, "sock");
    const int sfd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert(sfd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    ck_assert(strlen(p) < sizeof sa.sun_path);
    memcpy(sa.sun_path, p, strlen(p) + 1);
    ck_assert_int_eq(bind(sfd, (struct sockaddr *)&sa, sizeof sa), 0);
    expect(cli("encrypt", "client.key", "in.csv", "--plan", "plan.cnp", "-o", "sock", NULL), 1,
           "sock: is a socket", NULL);
    expect(cli("decrypt", "client.key", "reply.bin", "--plan", "plan.cnp", "-o", "sock", NULL),
           1, "sock: is a socket", NULL);
    close(sfd);
    ck_assert_uint_eq(type_of("sock"), S_IFSOCK);
    free(plain);
    remove_dir();
}
END_TEST

/* keygen never replaces a secret key without --force (the replies made under it could no
 * longer be decrypted): exit 2, the file named, nothing written; with --force it does. */
START_TEST(test_cliout_keygen_force)
{
    make_dir();
    base_files();
    size_t klen, k2;
    char *key = read_all("client.key", &klen);
    expect(cli("keygen", "plan.cnp", "-o", "client.key", "--eval-keys", "e2.keys", NULL), 2,
           "client.key: a client key is there already", "--force", NULL);
    ck_assert(!exists("e2.keys"));
    char *same = read_all("client.key", &k2);
    ck_assert(k2 == klen && memcmp(same, key, klen) == 0);
    free(same);
    /* through a link too */
    char q[256];
    ck_assert_int_eq(symlink("client.key", (path(q, "k.link"), q)), 0);
    expect(cli("keygen", "plan.cnp", "-o", "k.link", "--eval-keys", "e2.keys", NULL), 2,
           "a client key is there already", NULL);
    ck_assert(!exists("e2.keys"));
    expect(cli("keygen", "plan.cnp", "-o", "client.key", "--eval-keys", "e2.keys", "--force",
               NULL),
           0, NULL);
    char *fresh = read_all("client.key", &k2);
    ck_assert(k2 != klen || memcmp(fresh, key, klen) != 0); /* a new key */
    free(fresh);
    free(key);
    ck_assert(exists("e2.keys"));
    remove_dir();
}
END_TEST

/* Runs "cd DIR && " followed by the formatted shell command, BIN standing for the program
 * (sh(1) for the redirections); its exit status. */
__attribute__((format(printf, 1, 2))) static int shell(const char *fmt, ...)
{
    char body[1024], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    ck_assert((size_t)snprintf(cmd, sizeof cmd, "cd '%s' && BIN='%s' && %s", dir, bin, body) <
              sizeof cmd);
    const int st = system(cmd);
    ck_assert(st != -1 && WIFEXITED(st));
    return WEXITSTATUS(st);
}

/* The file name's bytes are the text then the bytes of the file ref (read_all). */
static void expect_concat(const char *name, const char *text, const char *ref)
{
    size_t len, rlen;
    char *got = read_all(name, &len), *want = read_all(ref, &rlen);
    const size_t tl = strlen(text);
    ck_assert_msg(len == tl + rlen && !memcmp(got, text, tl) && !memcmp(got + tl, want, rlen),
                  "%s: %zu bytes, expected %zu + %zu", name, len, tl, rlen);
    free(got);
    free(want);
}

/* -o naming this process's own descriptor (/dev/stdout, /proc/self/fd/1, /dev/fd/N) is
 * written through that descriptor: the shell's truncation and append mode hold (a reopen
 * by name wrote at offset 0, over the file's first bytes), and the report, when stdout is
 * the output, goes to stderr instead of into the output. The expected bytes: the plan
 * compiled into an ordinary file (same model, same options). */
START_TEST(test_cliout_own_fd)
{
    make_dir();
    make_model("model.cnm");
    expect(cli("compile", "model.cnm", "-o", "plan.cnp", "--weight-bits", "8", NULL), 0, NULL);
    const char *outs[3] = {"/dev/stdout", "/proc/self/fd/1", "/dev/fd/1"};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(shell("\"$BIN\" compile model.cnm -o %s --weight-bits 8 > over.cnp "
                               "2> rep.txt",
                               outs[i]),
                         0);
        expect_concat("over.cnp", "", "plan.cnp");
        size_t rl;
        char *rep = read_all("rep.txt", &rl);
        ck_assert_msg(rl > 0, "%s: the report is not on stderr", outs[i]);
        free(rep);
        write_text("app.cnp", "an existing line\n");
        ck_assert_int_eq(
            shell("\"$BIN\" compile model.cnm -o %s --weight-bits 8 >> app.cnp 2> rep.txt",
                  outs[i]),
            0);
        expect_concat("app.cnp", "an existing line\n", "plan.cnp");
    }
    /* /dev/fd/3 open on a regular file (appending): written in place, through fd 3, not
     * replaced by a new file (its inode kept), the report on stdout */
    write_text("fd3.cnp", "kept\n");
    char p[256];
    struct stat before, after;
    ck_assert_int_eq(stat((path(p, "fd3.cnp"), p), &before), 0);
    ck_assert_int_eq(shell("exec 3>>fd3.cnp; \"$BIN\" compile model.cnm -o /dev/fd/3 "
                           "--weight-bits 8 > rep.txt"),
                     0);
    ck_assert_int_eq(stat(p, &after), 0);
    ck_assert(before.st_ino == after.st_ino);
    expect_concat("fd3.cnp", "kept\n", "plan.cnp");
    no_partial();
    remove_dir();
}
END_TEST

/* The temporary file is created, never opened if there: a symbolic link and a file
 * planted under OUT.partial-PID (PID known: sh execs the tool) receive nothing, stay as
 * they were, and the output is made under another name and renamed as usual. */
START_TEST(test_cliout_planted_partial)
{
    make_dir();
    base_files();
    expect(cli("decrypt", "client.key", "reply.bin", "--plan", "plan.cnp", "-o", "plain.csv",
               NULL),
           0, NULL);
    write_text("victim.csv", "the victim's\n");
    write_text("empty", "");
    ck_assert_int_eq(shell("ln -s victim.csv out.csv.partial-$$ && exec \"$BIN\" decrypt "
                           "client.key reply.bin --plan plan.cnp -o out.csv"),
                     0);
    expect_concat("victim.csv", "the victim's\n", "empty");
    expect_concat("out.csv", "", "plain.csv");
    char p[256];
    struct stat sb;
    ck_assert_int_eq(stat((path(p, "out.csv"), p), &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0600); /* decrypted results stay private */
    ck_assert_int_eq(shell("echo planted > out2.csv.partial-$$ && exec \"$BIN\" decrypt "
                           "client.key reply.bin --plan plan.cnp -o out2.csv"),
                     0);
    expect_concat("out2.csv", "", "plain.csv");
    ck_assert_int_eq(shell("test \"$(ls out2.csv.partial-* | wc -l)\" = 1 && "
                           "grep -qx planted out2.csv.partial-* && "
                           "test \"$(ls out.csv.partial-* | wc -l)\" = 1"),
                     0);
    remove_dir();
}
END_TEST

/* An output name longer than the error buffer (5001 bytes): refused with the reason, the
 * message built without reading past the buffer (it read from e + strlen(path)). */
START_TEST(test_cliout_long_name)
{
    make_dir();
    make_model("model.cnm");
    char *name = malloc(5002);
    ck_assert_ptr_nonnull(name);
    for (int i = 0; i < 2500; i++)
        memcpy(name + 2 * i, "y/", 2);
    memcpy(name + 5000, "o", 2);
    const int rc = cli("compile", "model.cnm", "-o", name, NULL);
    ck_assert_msg(rc == 1 || rc == 2, "exit %d", rc);
    ck_assert_msg(strstr(err_buf, "name too long") != NULL, "%s", err_buf);
    free(name);
    remove_dir();
}
END_TEST

CN_SUITE(cli_outputs)
{
    Suite *s = suite_create("cli_outputs");
    TCase *tc = cn_tcase("cli_outputs", 600);
    tcase_add_test(tc, test_cliout_same_file);
    tcase_add_test(tc, test_cliout_write_errors);
    tcase_add_test(tc, test_cliout_interrupt);
    tcase_add_test(tc, test_cliout_inputs);
    tcase_add_test(tc, test_cliout_options);
    tcase_add_test(tc, test_cliout_special);
    tcase_add_test(tc, test_cliout_keygen_force);
    tcase_add_test(tc, test_cliout_own_fd);
    tcase_add_test(tc, test_cliout_planted_partial);
    tcase_add_test(tc, test_cliout_long_name);
    tcase_add_test(tc, test_cliout_input_cut);
    suite_add_tcase(s, tc);
    return s;
}
