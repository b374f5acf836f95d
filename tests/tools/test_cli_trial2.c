/* Tests of the `cryptonets` program for the faults of a new user's second trial
 * (2026-11-30, docs/cli.md "Commands" and "Input files", docs/service.md), run as a
 * separate process like test_cli.c:
 *  - an empty path in any option that names a file, in every command, serve and infer
 *    included: exit status 2, "OPTION: an empty path", the working directory unchanged
 *    and nothing created at the root (serve --state-dir "" used / before);
 *  - serve on a state directory of another plan: refused with nothing in it changed (its
 *    upload file kept, no lock file made);
 *  - compile's --input-shift and --format: range-checked at parse time, refused without
 *    --calib (exit status 2, no plan written);
 *  - "--" ends the options; "-o -" is stdout (the same bytes as -o FILE; no file "-");
 *  - CSV numbers read as exact decimals: spellings of one integer (leading zeros, a
 *    fraction of zeros, an exponent) decrypt to the very outputs of the plain integer,
 *    and near-integers, 100-digit integers, a 10 MB field, NaN and 1e18 are refused with
 *    what is wrong;
 *  - SIGQUIT removes the partial output (exit 131); OUT.partial-PID files of processes
 *    that are gone are removed when OUT is written, those of live processes and links are
 *    not;
 *  - infer: a trailing slash in --server, a URL ending in /v1 (a hint), a token file that
 *    is a directory, a 401 naming --token-file, a /v1/plan answer without the plan's
 *    header (a fake server in this test), and a key whose directory cannot be written
 *    (infer as `nobody` when the test runs as root: a warning, and the run completes).
 * The expected values come from the inputs written here (exact integers), the rules in
 * the docs, and the file system, never from the tool's own output. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
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

static char dir[64];                            /* this test's directory */
static char bin[4096];                          /* the program */
static char out_buf[1 << 20], err_buf[1 << 16]; /* the last run's stdout and stderr */
static const char *runner;                      /* NULL, or runuser to run as nobody */

static void path(char *p, const char *name)
{
    snprintf(p, 256, "%s/%s", dir, name);
}

/* Runs the program (through `runuser -u nobody --` when runner is set) in the test's
 * directory with the NULL-terminated arguments; its exit status. */
static int vcli(const char *arg0, va_list ap)
{
    const char *argv[48];
    size_t n = 0;
    if (runner) {
        argv[n++] = runner;
        argv[n++] = "-u";
        argv[n++] = "nobody";
        argv[n++] = "--";
    }
    argv[n++] = bin;
    for (const char *s = arg0; s; s = va_arg(ap, const char *)) {
        ck_assert(n < 47);
        argv[n++] = s;
    }
    argv[n] = NULL;
    char o[256], e[256];
    snprintf(o, sizeof o, "/tmp/%s.out", dir + 5);
    snprintf(e, sizeof e, "/tmp/%s.err", dir + 5);
    const int rc = cn_test_run_tool(out_buf, sizeof out_buf, err_buf, sizeof err_buf, argv,
                                    &(cn_test_spawn_t){.out = o, .err = e, .cwd = dir});
    unlink(o);
    unlink(e);
    return rc;
}

static int cli(const char *arg0, ...)
{
    va_list ap;
    va_start(ap, arg0);
    const int rc = vcli(arg0, ap);
    va_end(ap);
    return rc;
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

/* src's first cap - 1 bytes into dst, NUL-terminated */
static void copy_text(char *dst, size_t cap, const char *src)
{
    const size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = 0;
}

static int exists(const char *name)
{
    char p[256];
    path(p, name);
    struct stat sb;
    return lstat(p, &sb) == 0;
}

static void write_text(const char *name, const char *text)
{
    char p[256];
    path(p, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* A listing of the directory d (names, sizes, modification times), sorted: the oracle of
 * "nothing was created or changed" */
static void listing(char *buf, size_t cap, const char *d)
{
    struct dirent **e;
    const int n = scandir(d, &e, NULL, alphasort);
    ck_assert(n >= 0);
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < n; i++) {
        char p[512];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", d, e[i]->d_name);
        if (strcmp(e[i]->d_name, "..") != 0 && lstat(p, &sb) == 0 && k < cap)
            k += (size_t)snprintf(buf + k, cap - k, "%s %lld %lld.%09ld\n", e[i]->d_name,
                                  (long long)sb.st_size, (long long)sb.st_mtim.tv_sec,
                                  sb.st_mtim.tv_nsec);
        free(e[i]);
    }
    free(e);
    ck_assert(k < cap);
}

static void make_dir(void)
{
    cn_test_cli_bin(bin, sizeof bin);
    snprintf(dir, sizeof dir, "/tmp/cn_test_trial2_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char model[256];
    path(model, "model.cnm");
    cn_model_t m;
    cn_net_diag_t d = {{0}};
    cn_test_tool_model(&m, 0); /* dense(4) -> square -> dense(3), 6 inputs in [0, 15] */
    ck_assert_int_eq(cn_model_save(&m, model, &d), CN_OK);
    cn_model_clear(&m);
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* plan.cnp, client.key, eval.keys and in.csv (2 rows) in the test's directory */
static void base_files(void)
{
    expect(cli("compile", "model.cnm", "-o", "plan.cnp", "--weight-bits", "6", "--quiet", NULL),
           0, NULL);
    expect(cli("keygen", "plan.cnp", "-o", "client.key", "--eval-keys", "eval.keys", "--quiet",
               NULL),
           0, NULL);
    write_text("in.csv", "1,2,3,4,5,6\n7,8,9,10,11,12\n");
}

/* Every path option of every command given "": refused at parse time, named, and the
 * directory (and the root, which serve's state files went to) left as it was */
START_TEST(test_trial2_empty_paths)
{
    make_dir();
    base_files();
    expect(cli("encrypt", "client.key", "in.csv", "--plan", "plan.cnp", "-o", "batch.bin",
               "--quiet", NULL),
           0, NULL);
    static const char *const roots[] = {"/plan", "/lock", "/job-id.key", "/tenants"};
    int root_had[4];
    for (size_t i = 0; i < 4; i++)
        root_had[i] = access(roots[i], F_OK) == 0;
    static char before[1 << 14], after[1 << 14];
    listing(before, sizeof before, dir);
    static const struct {
        const char *argv[16], *named;
    } cases[] = {
        {{"compile", "model.cnm", "-o", ""}, "-o: an empty path"},
        {{"compile", "", "-o", "p.cnp"}, "argument 1: an empty path"},
        {{"compile", "model.cnm", "-o", "p.cnp", "--calib", ""}, "--calib: an empty path"},
        {{"compile", "model.cnm", "-o", "p.cnp", "--calib", "in.csv", "--calib-labels", ""},
         "--calib-labels: an empty path"},
        {{"keygen", "plan.cnp", "-o", "k.key", "--eval-keys", ""},
         "--eval-keys: an empty path"},
        {{"keygen", "plan.cnp", "-o", "", "--eval-keys", "e.keys"}, "-o: an empty path"},
        {{"encrypt", "client.key", "", "--plan", "plan.cnp", "-o", "b.bin"},
         "argument 2: an empty path"},
        {{"encrypt", "client.key", "in.csv", "--plan", "", "-o", "b.bin"},
         "--plan: an empty path"},
        {{"encrypt", "client.key", "in.csv", "--plan=", "-o", "b.bin"},
         "--plan: an empty path"},
        {{"eval", "plan.cnp", "eval.keys", "batch.bin", "-o", ""}, "-o: an empty path"},
        {{"eval", "plan.cnp", "", "batch.bin", "-o", "r.bin"}, "argument 2: an empty path"},
        {{"decrypt", "client.key", "r.bin", "--plan", "plan.cnp", "-o", ""},
         "-o: an empty path"},
        {{"run", "model.cnm", "in.csv", "--labels", ""}, "--labels: an empty path"},
        {{"run", "model.cnm", "in.csv", "-o", ""}, "-o: an empty path"},
        {{"serve", "--plan", "plan.cnp", "--state-dir", ""}, "--state-dir: an empty path"},
        {{"serve", "--plan", "plan.cnp", "--state-dir="}, "--state-dir: an empty path"},
        {{"serve", "--plan", "", "--state-dir", "st"}, "--plan: an empty path"},
        {{"serve", "--plan", "plan.cnp", "--state-dir", "st", "--tokens", ""},
         "--tokens: an empty path"},
        {{"serve", "--plan", "plan.cnp", "--state-dir", "st", "--port-file", ""},
         "--port-file: an empty path"},
        {{"serve", "--plan", "plan.cnp", "--state-dir", "st", "--tls-cert", "", "--tls-key",
          "k.pem"},
         "--tls-cert: an empty path"},
        {{"serve", "--plan", "plan.cnp", "--state-dir", "st", "--tls-cert", "c.pem",
          "--tls-key", ""},
         "--tls-key: an empty path"},
        {{"infer", "--server", "http://127.0.0.1:1", "--key", "", "in.csv"},
         "--key: an empty path"},
        {{"infer", "--server", "http://127.0.0.1:1", "--key", "client.key", "--eval-keys", "",
          "in.csv"},
         "--eval-keys: an empty path"},
        {{"infer", "--server", "http://127.0.0.1:1", "--key", "client.key", "--token-file", "",
          "in.csv"},
         "--token-file: an empty path"},
        {{"infer", "--server", "http://127.0.0.1:1", "--key", "client.key", "--cacert", "",
          "in.csv"},
         "--cacert: an empty path"},
        {{"infer", "--server", "http://127.0.0.1:1", "--key", "client.key", "-o", "", "in.csv"},
         "-o: an empty path"},
        {{"infer", "--server", "http://127.0.0.1:1", "--key", "client.key", ""},
         "INPUTS: an empty path"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *const *v = cases[c].argv;
        const int rc = cli(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], NULL);
        ck_assert_msg(rc == 2, "case %zu (%s): exit %d\n%s", c, v[0], rc, err_buf);
        ck_assert_msg(strstr(err_buf, cases[c].named) != NULL, "case %zu: no '%s' in\n%s", c,
                      cases[c].named, err_buf);
        listing(after, sizeof after, dir);
        ck_assert_msg(!strcmp(before, after), "case %zu (%s) changed the directory:\n%s\n%s", c,
                      v[0], before, after);
    }
    for (size_t i = 0; i < 4; i++)
        ck_assert_msg((access(roots[i], F_OK) == 0) == root_had[i], "%s appeared", roots[i]);
    remove_dir();
}
END_TEST

/* serve on another plan's state directory: refused, and nothing in it touched */
START_TEST(test_trial2_serve_foreign_state)
{
    make_dir();
    base_files();
    char f[256], tmp[256];
    path(f, "f");
    ck_assert_int_eq(mkdir(f, 0700), 0);
    path(tmp, "f/tmp");
    ck_assert_int_eq(mkdir(tmp, 0700), 0);
    write_text("f/tmp/upload-1-1", "x\n");
    write_text("f/plan", "mine\n");
    static char before[4096], after[4096], tbefore[4096], tafter[4096];
    listing(before, sizeof before, f);
    listing(tbefore, sizeof tbefore, tmp);
    expect(cli("serve", "--plan", "plan.cnp", "--state-dir", "f", "--listen", "127.0.0.1:0",
               "--quiet", NULL),
           1, "belongs to another plan", NULL);
    listing(after, sizeof after, f);
    listing(tafter, sizeof tafter, tmp);
    ck_assert_msg(!strcmp(before, after), "f changed:\n%s\n%s", before, after);
    ck_assert_msg(!strcmp(tbefore, tafter), "f/tmp changed:\n%s\n%s", tbefore, tafter);
    ck_assert(!exists("f/lock"));
    ck_assert(exists("f/tmp/upload-1-1"));
    remove_dir();
}
END_TEST

/* compile's --input-shift and --format: range-checked, and refused without --calib */
START_TEST(test_trial2_compile_options)
{
    make_dir();
    write_text("in.csv", "1,2,3,4,5,6\n");
    static const char *const bad[] = {"-1", "abc", "99999999999999999999", "63", "", "4.0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect(cli("compile", "model.cnm", "-o", "p.cnp", "--input-shift", bad[i], NULL), 2,
               "--input-shift", NULL);
        expect(cli("compile", "model.cnm", "-o", "p.cnp", "--calib", "in.csv", "--input-shift",
                   bad[i], NULL),
               2, "--input-shift", "0 to 62", NULL);
        expect(cli("encrypt", "k.key", "in.csv", "--plan", "p.cnp", "-o", "b.bin",
                   "--input-shift", bad[i], NULL),
               2, "--input-shift", NULL);
    }
    expect(cli("compile", "model.cnm", "-o", "p.cnp", "--input-shift", "4", NULL), 2,
           "--input-shift", "needs --calib", NULL);
    expect(cli("compile", "model.cnm", "-o", "p.cnp", "--format", "csv", NULL), 2, "--format",
           "needs --calib", NULL);
    expect(cli("compile", "model.cnm", "-o", "p.cnp", "--format", "xls", NULL), 2, "--format",
           "xls", NULL);
    ck_assert(!exists("p.cnp"));
    /* with --calib both apply */
    expect(cli("compile", "model.cnm", "-o", "p.cnp", "--calib", "in.csv", "--format", "csv",
               "--input-shift", "0", "--quiet", NULL),
           0, NULL);
    ck_assert(exists("p.cnp"));
    remove_dir();
}
END_TEST

/* "--" ends the options; "-o -" is stdout */
START_TEST(test_trial2_dashes)
{
    make_dir();
    base_files();
    expect(cli("encrypt", "client.key", "in.csv", "--plan", "plan.cnp", "-o", "batch.bin",
               "--quiet", NULL),
           0, NULL);
    expect(
        cli("eval", "plan.cnp", "eval.keys", "batch.bin", "-o", "reply.bin", "--quiet", NULL),
        0, NULL);
    expect(
        cli("decrypt", "client.key", "reply.bin", "--plan", "plan.cnp", "-o", "pred.csv", NULL),
        0, NULL);
    static char file[1 << 14];
    char p[256];
    path(p, "pred.csv");
    cn_test_slurp(file, sizeof file, p);
    ck_assert(strlen(file) > 0);
    expect(cli("decrypt", "client.key", "reply.bin", "--plan", "plan.cnp", "-o", "-", NULL), 0,
           NULL);
    ck_assert_msg(!strcmp(out_buf, file), "-o - wrote\n%s\nnot\n%s", out_buf, file);
    ck_assert(!exists("-"));
    /* "--": the rest are file arguments, even one that begins with '-' */
    char k2[256], k[256];
    path(k, "client.key");
    path(k2, "-odd.key");
    ck_assert_int_eq(link(k, k2), 0);
    expect(cli("decrypt", "--plan", "plan.cnp", "--", "-odd.key", "reply.bin", NULL), 0, NULL);
    ck_assert_msg(!strcmp(out_buf, file), "after --:\n%s", out_buf);
    expect(cli("decrypt", "--plan", "plan.cnp", "--", "client.key", "reply.bin", "-o", "x.csv",
               NULL),
           2, "unexpected argument '-o'", NULL);
    expect(cli("decrypt", "-odd.key", "reply.bin", "--plan", "plan.cnp", NULL), 2,
           "unknown option '-odd.key'", NULL);
    ck_assert(!exists("x.csv"));
    remove_dir();
}
END_TEST

/* CSV numbers as exact decimals (docs/cli.md, "Input files") */
START_TEST(test_trial2_csv_numbers)
{
    make_dir();
    base_files();
    /* pairs of rows: a spelling of an integer, then the integer; each pair must decrypt
     * to the same outputs (the network is a function of the integers alone) */
    static char zeros[80];
    memset(zeros, '0', 70);
    zeros[70] = 0;
    char rows[4096];
    snprintf(rows, sizeof rows,
             "%s5,1,2,3,4,5\n5,1,2,3,4,5\n"
             "0.5e1,1,2,3,4,5\n5,1,2,3,4,5\n"
             "500e-2,150e-1,2,3,4,5\n5,15,2,3,4,5\n"
             "7.000,-0.0,+2,3E0,4,5\n7,0,2,3,4,5\n"
             "0.000000000000000000009e21,1,2,3,4,5\n9,1,2,3,4,5\n",
             zeros);
    write_text("ok.csv", rows);
    expect(cli("encrypt", "client.key", "ok.csv", "--plan", "plan.cnp", "-o", "ok.bin",
               "--quiet", NULL),
           0, NULL);
    expect(cli("eval", "plan.cnp", "eval.keys", "ok.bin", "-o", "ok.reply", "--quiet", NULL), 0,
           NULL);
    expect(cli("decrypt", "client.key", "ok.reply", "--plan", "plan.cnp", "--raw", NULL), 0,
           NULL);
    /* CSV: a header, then "k,class,scores...,raw..." per row: compare after the index */
    char *line[11], *save = NULL;
    size_t nl = 0;
    for (char *t = strtok_r(out_buf, "\n", &save); t && nl < 11;
         t = strtok_r(NULL, "\n", &save))
        line[nl++] = t;
    ck_assert_uint_eq(nl, 11);
    for (size_t r = 1; r < 11; r += 2)
        ck_assert_msg(!strcmp(strchr(line[r], ','), strchr(line[r + 1], ',')),
                      "row %zu: %s\nrow %zu: %s", r, line[r], r + 1, line[r + 1]);
    /* refused, with what is wrong */
    static const struct {
        const char *field, *says;
    } bad[] = {
        {"4.9999999999999999", "4.9999999999999999 is not an integer"},
        {"15.0000000000000001", "15.0000000000000001 is not an integer"},
        {"1.5", "1.5 is not an integer"},
        {"5e-1", "5e-1 is not an integer"},
        {"1e18", "1000000000000000000 is outside the model's input range [0, 15]"},
        {"1000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "000000000000000000",
         "(100 characters) is out of the range of a signed 64-bit integer"},
        {"9223372036854775808", "9223372036854775808 is out of the range of a signed 64-bit"},
        {"-9223372036854775808", "-9223372036854775808 is outside the model's input range"},
        {"NaN", "NaN is not finite"},
        {"-inf", "-inf is not finite"},
        {"1e", "'1e' is not a number"},
        {".", "'.' is not a number"},
        {"0x5", "hexadecimal"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(rows, sizeof rows, "%s,1,2,3,4,5\n", bad[i].field);
        write_text("bad.csv", rows);
        expect(cli("encrypt", "client.key", "bad.csv", "--plan", "plan.cnp", "-o", "bad.bin",
                   "--quiet", NULL),
               1, "bad.csv: ", bad[i].says, NULL);
        ck_assert(!exists("bad.bin"));
    }
    /* a 10 MB field: its length, not a message cut off */
    const size_t big = 10u << 20;
    char *huge = malloc(big + 64);
    ck_assert_ptr_nonnull(huge);
    memset(huge, '7', big);
    memcpy(huge + big, ",1,2,3,4,5\n", 12);
    write_text("huge.csv", huge);
    expect(cli("encrypt", "client.key", "huge.csv", "--plan", "plan.cnp", "-o", "bad.bin",
               "--quiet", NULL),
           1, "(10485760 characters) is out of the range of a signed 64-bit integer", NULL);
    huge[5] = 'x';
    write_text("huge.csv", huge);
    expect(cli("encrypt", "client.key", "huge.csv", "--plan", "plan.cnp", "-o", "bad.bin",
               "--quiet", NULL),
           1, "(a field of 10485760 characters)' is not a number", NULL);
    free(huge);
    ck_assert(!exists("bad.bin"));
    remove_dir();
}
END_TEST

/* a pid that was a process of ours and is gone (reaped) */
static long dead_pid(void)
{
    const pid_t p = fork();
    ck_assert(p >= 0);
    if (p == 0)
        _exit(0);
    ck_assert(waitpid(p, NULL, 0) == p);
    return (long)p;
}

/* SIGQUIT during encrypt; stale partial files */
START_TEST(test_trial2_partials)
{
    make_dir();
    base_files();
    char name[128];
    const long d1 = dead_pid(), d2 = dead_pid(), d3 = dead_pid();
    snprintf(name, sizeof name, "out.cnp.partial-%ld", d1);
    write_text(name, "stale\n");
    snprintf(name, sizeof name, "out.cnp.partial-%ld-0123abcd", d2);
    write_text(name, "stale\n");
    snprintf(name, sizeof name, "out.cnp.partial-%ld", (long)getpid()); /* alive: kept */
    write_text(name, "live\n");
    write_text("out.cnp.partial-notapid", "other\n");
    char target[256], lnk[256];
    path(target, "elsewhere");
    write_text("elsewhere", "kept\n");
    snprintf(name, sizeof name, "out.cnp.partial-%ld", d3); /* a link: not removed */
    path(lnk, name);
    ck_assert_int_eq(symlink(target, lnk), 0);
    expect(cli("compile", "model.cnm", "-o", "out.cnp", "--weight-bits", "6", "--quiet", NULL),
           0, "removed", NULL);
    snprintf(name, sizeof name, "out.cnp.partial-%ld", d1);
    ck_assert(!exists(name));
    snprintf(name, sizeof name, "out.cnp.partial-%ld-0123abcd", d2);
    ck_assert(!exists(name));
    snprintf(name, sizeof name, "out.cnp.partial-%ld", (long)getpid());
    ck_assert(exists(name));
    ck_assert(exists("out.cnp.partial-notapid"));
    snprintf(name, sizeof name, "out.cnp.partial-%ld", d3);
    ck_assert(exists(name) && exists("elsewhere"));
    ck_assert(exists("out.cnp"));

    /* SIGQUIT: like SIGTERM, the partial file removed, exit 128 + 3 */
    char many[256];
    path(many, "many.csv");
    FILE *f = fopen(many, "w");
    ck_assert_ptr_nonnull(f);
    for (size_t r = 0; r < 300000; r++)
        fprintf(f, "%zu,%zu,%zu,%zu,%zu,%zu\n", r % 16, (r / 16) % 16, r % 7, r % 11, r % 13,
                r % 5);
    fclose(f);
    const char *argv[] = {bin,  "encrypt",  "client.key", "many.csv", "--plan",  "plan.cnp",
                          "-o", "many.bin", "--threads",  "1",        "--quiet", NULL};
    char o[256], e[256];
    path(o, "q.out");
    path(e, "q.err");
    const pid_t pid = cn_test_spawn(argv, &(cn_test_spawn_t){.out = o, .err = e, .cwd = dir});
    snprintf(name, sizeof name, "many.bin.partial-%ld", (long)pid);
    int seen = 0;
    for (int i = 0; i < 60000 && !seen; i++) { /* up to 60 s */
        seen = exists(name);
        if (!seen) {
            int st;
            ck_assert_msg(waitpid(pid, &st, WNOHANG) == 0, "encrypt ended before its partial");
            nanosleep(&(struct timespec){0, 1000000}, NULL);
        }
    }
    ck_assert_msg(seen, "no %s", name);
    ck_assert_int_eq(kill(pid, SIGQUIT), 0);
    int st;
    ck_assert(waitpid(pid, &st, 0) == pid);
    cn_test_slurp(err_buf, sizeof err_buf, e);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 131, "status %d\n%s", st, err_buf);
    ck_assert_msg(strstr(err_buf, "interrupted by SIGQUIT; the partial output was removed"),
                  "%s", err_buf);
    ck_assert(!exists(name));
    ck_assert(!exists("many.bin"));
    remove_dir();
}
END_TEST

/* a server that answers every request 200 with a body and no cryptonets header */
static int fake_fd;
static void *fake_server(void *arg)
{
    (void)arg;
    for (;;) {
        const int c = accept(fake_fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char req[4096];
        ssize_t got = read(c, req, sizeof req);
        (void)got;
        static const char ans[] = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                                  "Content-Length: 12\r\nConnection: close\r\n\r\n"
                                  "<html></html";
        ssize_t put = write(c, ans, sizeof ans - 1);
        (void)put;
        close(c);
    }
}

static pid_t serve_pid;
static int start_serve(const char *tokens)
{
    char plan[256], state[256], portf[256], log[256];
    path(plan, "plan.cnp");
    path(state, "state");
    path(portf, "port");
    path(log, "serve.log");
    serve_pid = fork();
    ck_assert(serve_pid >= 0);
    if (serve_pid == 0) {
        const int fe = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fe < 0 || dup2(fe, 2) < 0)
            _exit(127);
        execl(bin, bin, "serve", "--plan", plan, "--state-dir", state, "--listen",
              "127.0.0.1:0", "--port-file", portf, "--tokens", tokens, (char *)NULL);
        _exit(127);
    }
    return cn_test_wait_port(portf, serve_pid);
}

START_TEST(test_trial2_infer)
{
    make_dir();
    base_files();
    char tokens[256], url[128];
    path(tokens, "tokens.txt");
    write_text("tokens.txt", "alice 0123456789abcdef0123456789abcdef\n");
    write_text("alice.tok", "0123456789abcdef0123456789abcdef\n");
    const int port = start_serve(tokens);
    /* a trailing slash (or two) is the same server */
    snprintf(url, sizeof url, "http://127.0.0.1:%d//", port);
    const int rc1 = cli("infer", "--server", url, "--key", "client.key", "--eval-keys",
                        "eval.keys", "--token-file", "alice.tok", "in.csv", "--quiet", NULL);
    static char first[1 << 14];
    copy_text(first, sizeof first, out_buf);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", port);
    const int rc2 = cli("infer", "--server", url, "--key", "client.key", "--token-file",
                        "alice.tok", "in.csv", NULL);
    static char err2[4096];
    copy_text(err2, sizeof err2, err_buf);
    char adir[256];
    path(adir, "adir");
    ck_assert_int_eq(mkdir(adir, 0700), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    const int rc3 = cli("infer", "--server", url, "--key", "client.key", "--token-file", "adir",
                        "in.csv", NULL);
    static char err3[4096];
    copy_text(err3, sizeof err3, err_buf);
    const int rc4 = cli("infer", "--server", url, "--key", "client.key", "in.csv", NULL);
    static char err4[4096];
    copy_text(err4, sizeof err4, err_buf);

    /* a key in a directory infer cannot write: as nobody, when root can switch to it */
    int rc5 = -1;
    static char err5[8192], out5[1 << 14];
    const struct passwd *pw = getpwnam("nobody");
    const char *ru = access("/usr/sbin/runuser", X_OK) == 0 ? "/usr/sbin/runuser"
                     : access("/sbin/runuser", X_OK) == 0   ? "/sbin/runuser"
                                                            : NULL;
    if (geteuid() == 0 && pw && ru) {
        char ro[256], k[256], k2[256];
        path(ro, "ro");
        ck_assert_int_eq(mkdir(ro, 0755), 0);
        path(k, "client.key");
        path(k2, "ro/client.key");
        char cmd[600];
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", k, k2);
        ck_assert_int_eq(system(cmd), 0);
        ck_assert_int_eq(chown(k2, pw->pw_uid, pw->pw_gid), 0);
        write_text("ro/alice.tok", "0123456789abcdef0123456789abcdef\n");
        write_text("ro/in.csv", "1,2,3,4,5,6\n7,8,9,10,11,12\n");
        ck_assert_int_eq(chmod(dir, 0755), 0);
        /* only where nobody can reach the tool and the key (a checkout under a 0700
         * directory, as mktemp -d makes, hides them: then this part is skipped) */
        static char probe[4096 + 1024];
        snprintf(probe, sizeof probe,
                 "%s -u nobody -- sh -c \"test -x '%s' && test -r '%s'\" 2>/dev/null", ru, bin,
                 k2);
        if (system(probe) == 0) {
            runner = ru;
            rc5 = cli("infer", "--server", url, "--key", "ro/client.key", "--token-file",
                      "ro/alice.tok", "ro/in.csv", "--quiet", NULL);
            runner = NULL;
            copy_text(err5, sizeof err5, err_buf);
            copy_text(out5, sizeof out5, out_buf);
        } else {
            fprintf(stderr,
                    "test_trial2_infer: nobody cannot reach %s: the unwritable key "
                    "directory's case skipped\n",
                    bin);
        }
    }
    kill(serve_pid, SIGTERM);
    int st;
    ck_assert(waitpid(serve_pid, &st, 0) == serve_pid);
    ck_assert_msg(rc1 == 0, "infer with a trailing slash: exit %d\n%s", rc1, err_buf);
    ck_assert_msg(strstr(first, "input,class") == first, "%s", first);
    ck_assert_msg(rc2 == 2 && strstr(err2, "without /v1") && strstr(err2, url), "exit %d\n%s",
                  rc2, err2);
    ck_assert_msg(rc3 == 1 && strstr(err3, "adir: is a directory"), "exit %d\n%s", rc3, err3);
    ck_assert_msg(rc4 == 1 && strstr(err4, "401") && strstr(err4, "--token-file"),
                  "exit %d\n%s", rc4, err4);
    if (rc5 != -1) {
        ck_assert_msg(rc5 == 0, "infer as nobody: exit %d\n%s", rc5, err5);
        ck_assert_msg(strstr(err5, "the evaluation keys are not cached"), "%s", err5);
        ck_assert_msg(!strcmp(out5, first), "as nobody:\n%s\nnot\n%s", out5, first);
        ck_assert(!exists("ro/client.key.eval-keys"));
    }

    /* a server that is not a cryptonets server: the missing header named */
    fake_fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert(fake_fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fake_fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    ck_assert_int_eq(getsockname(fake_fd, (struct sockaddr *)&a, &al), 0);
    ck_assert_int_eq(listen(fake_fd, 8), 0);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, fake_server, NULL), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    const int rc6 = cli("infer", "--server", url, "--key", "client.key", "in.csv", NULL);
    shutdown(fake_fd, SHUT_RDWR);
    close(fake_fd);
    pthread_join(th, NULL);
    expect(rc6, 1, "no X-Cryptonets-Plan-SHA256 header", "not a cryptonets server", NULL);
    remove_dir();
}
END_TEST

/* input messages of the other readers: NaN and infinity in .npy, a u8 past int64, an IDX
 * file of 0 items, a client key given to compile */
static void write_npy(const char *name, const char *descr, const void *data, size_t bytes,
                      size_t rows)
{
    char hdr[128];
    int k =
        snprintf(hdr, sizeof hdr,
                 "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, 6), }", descr, rows);
    while ((10 + k + 1) % 64)
        hdr[k++] = ' ';
    hdr[k++] = '\n';
    char p[256];
    path(p, name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    const unsigned char pre[10] = {
        0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)k, (unsigned char)(k >> 8)};
    ck_assert_uint_eq(fwrite(pre, 1, 10, f), 10);
    ck_assert_uint_eq(fwrite(hdr, 1, (size_t)k, f), (size_t)k);
    ck_assert_uint_eq(fwrite(data, 1, bytes, f), bytes);
    fclose(f);
}

START_TEST(test_trial2_input_messages)
{
    make_dir();
    base_files();
    double fv[6] = {1, 2, 3, 4, 5, 6};
    fv[2] = NAN;
    write_npy("nan.npy", "<f8", fv, sizeof fv, 1);
    expect(cli("encrypt", "client.key", "nan.npy", "--plan", "plan.cnp", "-o", "b.bin", NULL),
           1, "input 1, value 3: NaN", NULL);
    fv[2] = -INFINITY;
    write_npy("inf.npy", "<f8", fv, sizeof fv, 1);
    expect(cli("encrypt", "client.key", "inf.npy", "--plan", "plan.cnp", "-o", "b.bin", NULL),
           1, "input 1, value 3: an infinity", NULL);
    uint64_t uv[6] = {((uint64_t)1 << 63) + 5, 1, 2, 3, 4, 5};
    write_npy("u8.npy", "<u8", uv, sizeof uv, 1);
    expect(cli("encrypt", "client.key", "u8.npy", "--plan", "plan.cnp", "-o", "b.bin", NULL), 1,
           "9223372036854775813 is out of the range of a signed 64-bit integer, [-2^63, 2^63 - "
           "1]",
           NULL);
    /* IDX: magic 0 0 8 (unsigned bytes) 3 dimensions, 0 items of 2 x 3 */
    const unsigned char idx[16] = {0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 3};
    char p[256];
    path(p, "zero.idx");
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(idx, 1, 16, f), 16);
    fclose(f);
    expect(cli("encrypt", "client.key", "zero.idx", "--plan", "plan.cnp", "-o", "b.bin", NULL),
           1, "zero.idx: no inputs", NULL);
    ck_assert(!exists("b.bin"));
    expect(cli("compile", "client.key", "-o", "p.cnp", NULL), 1,
           "client.key is a client key, not a model (a .cnm or .onnx file)", NULL);
    ck_assert(!exists("p.cnp"));
    remove_dir();
}
END_TEST

/* One huge weight among small ones: 8-bit quantization (scale 255 / 3e38) rounds every
 * weight of 1 to 0, and compile says so; the ordinary model gets no such warning */
START_TEST(test_trial2_zeroed_weights)
{
    make_dir();
    cn_model_t m;
    cn_net_diag_t d = {{0}};
    ck_assert_int_eq(cn_model_init(&m, 1, 1, NIN, 1.0, 0, 15), CN_OK);
    double w[2 * NIN], b[2] = {0, 0};
    for (size_t i = 0; i < 2 * NIN; i++)
        w[i] = 1.0;
    w[3] = 3e38;
    ck_assert_int_eq(cn_model_add_dense(&m, 2, w, b, &d), CN_OK);
    char p[256];
    path(p, "huge.cnm");
    ck_assert_int_eq(cn_model_save(&m, p, &d), CN_OK);
    cn_model_clear(&m);
    expect(cli("compile", "huge.cnm", "-o", "huge.cnp", "--quiet", NULL), 0,
           "model layer 1 (dense): 8-bit weights turn 11 of its 12 nonzero weights into 0",
           NULL);
    expect(cli("compile", "model.cnm", "-o", "plan.cnp", "--quiet", NULL), 0, NULL);
    ck_assert_msg(!strstr(err_buf, "weights into 0"), "%s", err_buf);
    remove_dir();
}
END_TEST

CN_SUITE(cli_trial2)
{
    Suite *s = suite_create("cli_trial2");
    TCase *tc = cn_tcase("cli_trial2", 600);
    tcase_add_test(tc, test_trial2_empty_paths);
    tcase_add_test(tc, test_trial2_serve_foreign_state);
    tcase_add_test(tc, test_trial2_compile_options);
    tcase_add_test(tc, test_trial2_dashes);
    tcase_add_test(tc, test_trial2_csv_numbers);
    tcase_add_test(tc, test_trial2_partials);
    tcase_add_test(tc, test_trial2_infer);
    tcase_add_test(tc, test_trial2_input_messages);
    tcase_add_test(tc, test_trial2_zeroed_weights);
    suite_add_tcase(s, tc);
    return s;
}
