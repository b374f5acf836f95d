/* Tests of the private-inference service (docs/service.md): `cryptonets serve` and
 * `cryptonets infer` run as processes (the tool beside this runner, or $CN_CLI_BIN) on
 * loopback, on ports the kernel picks (--listen 127.0.0.1:0 --port-file), with bounded
 * waits everywhere:
 *  - the whole flow on a tiny model built here: the decrypted outputs must equal
 *    cn_plan_eval_plain on the plan read back from the tool's plan file (the library's
 *    plaintext reference, not the service), and a second run reuses the registered key;
 *  - 8 clients at once with their own tokens, keys and inputs: all right, and each
 *    tenant's ids are 404 to every other tenant;
 *  - kill -9 of a server holding acknowledged jobs, restart: every job completes;
 *  - garbage, truncated, wrong-key and oversized uploads, a client that disconnects mid
 *    upload, a slow sender, missing and wrong tokens: each gets its documented status
 *    and error code, and the server keeps serving;
 *  - TLS with a self-signed certificate made here with GnuTLS's certtool.
 * Raw requests are written on a socket here (the tests need to misbehave as no HTTP
 * library would); the service itself uses libmicrohttpd and libcurl. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
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
#define ROWS 5
#define CLIENTS 8

static char dir[64];   /* this test's directory */
static char bin[4096]; /* the program */

static void path(char *p, const char *name)
{
    snprintf(p, 256, "%s/%s", dir, name);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void nap(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static char *slurp(const char *file, size_t *len)
{
    FILE *f = fopen(file, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    const long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    const size_t got = fread(b, 1, (size_t)n, f);
    b[got] = 0;
    fclose(f);
    if (len)
        *len = got;
    return b;
}

static void write_bytes(const char *p, const void *b, size_t len)
{
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, len, f), len);
    fclose(f);
}

/* Starts the program with argv (NULL-terminated, without the program), stdout and
 * stderr into files named by tag in the test directory, CRYPTONETS_TOKEN = token (may
 * be NULL). */
static pid_t spawn(const char *tag, const char *token, const char *const *args)
{
    const char *argv[48] = {bin};
    size_t n = 1;
    for (; args[n - 1]; n++) {
        ck_assert(n < 47);
        argv[n] = args[n - 1];
    }
    argv[n] = NULL;
    char o[256], e[256], name[64];
    snprintf(name, sizeof name, "%.32s.out", tag);
    path(o, name);
    snprintf(name, sizeof name, "%.32s.err", tag);
    path(e, name);
    return cn_test_spawn(
        argv,
        &(cn_test_spawn_t){.out = o, .err = e, .threads = 1, .set_token = 1, .token = token});
}

/* Waits (at most limit seconds) for pid; its exit status, after checking it was not
 * killed and reported nothing from a sanitizer. */
static int finish(pid_t pid, const char *tag, double limit)
{
    int status = 0;
    const double t0 = now();
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && now() - t0 < limit)
        nap(0.02);
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ck_abort_msg("%s: still running after %.0f s", tag, limit);
    }
    char e[256], name[64];
    snprintf(name, sizeof name, "%.32s.err", tag);
    path(e, name);
    char *err = slurp(e, NULL);
    ck_assert_msg(WIFEXITED(status), "%s: killed by signal %d\n%s", tag, WTERMSIG(status),
                  err ? err : "");
    cn_test_tool_status(status, err ? err : "", tag);
    const int rc = WEXITSTATUS(status);
    free(err);
    return rc;
}

/* Runs the program to its end (at most 60 s); its exit status. */
static int tool(const char *tag, const char *token, const char *const *args)
{
    return finish(spawn(tag, token, args), tag, 60);
}

/* The stderr of a finished run, to be freed. */
static char *err_of(const char *tag)
{
    char e[256], name[64];
    snprintf(name, sizeof name, "%.32s.err", tag);
    path(e, name);
    return slurp(e, NULL);
}

static void err_has(const char *tag, const char *want);
static void err_lacks(const char *tag, const char *bad);

/* --- the server ------------------------------------------------------------------------ */

typedef struct {
    pid_t pid;
    int port;
    char tag[32];
} server_t;

/* Starts `cryptonets serve` on the plan with the state in DIR/state and extra options
 * (NULL-terminated); waits for its port. */
static void start_server(server_t *s, const char *tag, const char *const *extra)
{
    char plan[256], state[256], port[256];
    path(plan, "plan.cnp");
    path(state, "state");
    snprintf(port, sizeof port, "%s/%s.port", dir, tag);
    unlink(port);
    const char *args[40] = {
        "serve",       "--plan",      plan, "--state-dir", state, "--listen",
        "127.0.0.1:0", "--port-file", port, "--threads",   "1"};
    size_t n = 11;
    for (size_t i = 0; extra && extra[i]; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    snprintf(s->tag, sizeof s->tag, "%s", tag);
    s->pid = spawn(tag, NULL, args);
    const double t0 = now();
    char *text = NULL;
    while (!(text = slurp(port, NULL)) && now() - t0 < 30) {
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            char *err = err_of(tag);
            ck_abort_msg("%s: the server exited at start:\n%s", tag, err ? err : "");
        }
        nap(0.02);
    }
    ck_assert_msg(text != NULL, "%s: no port after 30 s", tag);
    s->port = atoi(text);
    free(text);
    ck_assert_int_gt(s->port, 0);
}

/* SIGTERM: the server must drain and exit with status 0. */
static void stop_server(server_t *s)
{
    kill(s->pid, SIGTERM);
    ck_assert_int_eq(finish(s->pid, s->tag, 60), 0);
}

static void kill_server(server_t *s)
{
    int st;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &st, 0);
    ck_assert(WIFSIGNALED(st));
}

static int connect_to(int port)
{
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_msg(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s",
                  strerror(errno));
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

static void send_all(int fd, const void *b, size_t len)
{
    const char *p = b;
    while (len) {
        const ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* the server may close early: its answer tells */
        p += w;
        len -= (size_t)w;
    }
}

/* Everything the server sends until it closes (at most cap - 1 bytes). */
static size_t recv_all(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    ssize_t r;
    while (got + 1 < cap && (r = recv(fd, buf + got, cap - 1 - got, 0)) > 0)
        got += (size_t)r;
    buf[got] = 0;
    return got;
}

typedef struct {
    int status;
    char body[65536];
} answer_t;

/* One request on a fresh connection: method, target, token (may be NULL), body. The
 * status (0 when the server closed without an answer) and the body. */
static int request(answer_t *a, int port, const char *method, const char *target,
                   const char *token, const void *body, size_t blen)
{
    char head[1024];
    int k =
        snprintf(head, sizeof head,
                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n", method, target);
    if (token)
        k += snprintf(head + k, sizeof head - (size_t)k, "Authorization: Bearer %s\r\n", token);
    if (body)
        k += snprintf(head + k, sizeof head - (size_t)k, "Content-Length: %zu\r\n", blen);
    snprintf(head + k, sizeof head - (size_t)k, "\r\n");
    const int fd = connect_to(port);
    send_all(fd, head, strlen(head));
    if (body)
        send_all(fd, body, blen);
    static char raw[1 << 20];
    recv_all(fd, raw, sizeof raw);
    close(fd);
    a->status = 0;
    a->body[0] = 0;
    if (strncmp(raw, "HTTP/1.1 ", 9) == 0)
        a->status = atoi(raw + 9);
    const char *b = strstr(raw, "\r\n\r\n");
    if (b)
        snprintf(a->body, sizeof a->body, "%s", b + 4);
    return a->status;
}

/* The request must get status want and, for an error, the JSON error code. */
static void expect(int port, const char *method, const char *target, const char *token,
                   const void *body, size_t blen, int want, const char *code)
{
    answer_t *a = malloc(sizeof *a);
    request(a, port, method, target, token, body, blen);
    ck_assert_msg(a->status == want, "%s %s: %d, expected %d: %s", method, target, a->status,
                  want, a->body);
    if (code) {
        json_error_t je;
        json_t *o = json_loads(a->body, 0, &je);
        ck_assert_msg(o != NULL, "%s %s: not JSON: %s", method, target, a->body);
        const char *c = json_string_value(json_object_get(o, "error"));
        ck_assert_msg(c && !strcmp(c, code), "%s %s: error %s, expected %s", method, target,
                      c ? c : "(none)", code);
        ck_assert_ptr_nonnull(json_string_value(json_object_get(o, "message")));
        json_decref(o);
    }
    free(a);
}

/* A JSON string field of the last answer. */
static void field(char *out, size_t cap, const answer_t *a, const char *name)
{
    json_error_t je;
    json_t *o = json_loads(a->body, 0, &je);
    const char *v = o ? json_string_value(json_object_get(o, name)) : NULL;
    snprintf(out, cap, "%s", v ? v : "");
    json_decref(o);
}

/* --- the model and the reference -------------------------------------------------------- */

/* A dense(4) -> square -> dense(3) model on 6 raw inputs in [0, 15] (as the CLI tests). */
static void make_model(cn_model_t *m)
{
    cn_test_tool_model(m, 0);
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
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < NIN; j++)
            fprintf(f, j + 1 < NIN ? "%lld," : "%lld\n", (long long)x[r * NIN + j]);
    fclose(f);
}

/* decrypt's CSV with --raw (in file csv) against the plaintext integer network of the
 * plan file plan_name on x (rows inputs, nout outputs each): every raw output equal, every
 * class its argmax. */
static void check_plan_outputs(const char *csv, const char *plan_name, const int64_t *x,
                               size_t rows, size_t nout)
{
    char plan[256];
    path(plan, plan_name);
    size_t len;
    char *pb = slurp(plan, &len);
    ck_assert_ptr_nonnull(pb);
    cn_plan_t *p;
    cn_net_diag_t d = {{0}};
    ck_assert_msg(cn_plan_from_bytes(&p, (const uint8_t *)pb, len, 0, &d) == CN_OK, "%s",
                  d.msg);
    free(pb);
    ck_assert_uint_eq(cn_plan_outputs(p), nout);
    cn_int128 *ref = malloc(rows * nout * sizeof *ref);
    ck_assert_int_eq(cn_plan_eval_plain(ref, p, x, rows), CN_OK);
    cn_plan_free(p);
    char *text = slurp(csv, NULL);
    ck_assert_msg(text != NULL, "%s: missing", csv);
    const char *q = strchr(text, '\n');
    ck_assert_ptr_nonnull(q);
    for (size_t r = 0; r < rows; r++) {
        char *e;
        ck_assert_uint_eq(strtoull(q + 1, &e, 10), r + 1);
        const size_t cls = strtoull(e + 1, &e, 10);
        for (size_t j = 0; j < nout; j++)
            (void)strtod(e + 1, &e);
        size_t best = 0;
        for (size_t j = 0; j < nout; j++) {
            const long long v = strtoll(e + 1, &e, 10); /* these outputs fit 64 bits */
            ck_assert_msg((cn_int128)v == ref[r * nout + j], "%s: row %zu output %zu differs",
                          csv, r + 1, j);
            if (ref[r * nout + j] > ref[r * nout + best])
                best = j;
        }
        ck_assert_uint_eq(cls, best);
        q = e;
    }
    ck_assert_msg(q[0] == '\n' && q[1] == 0, "%s: extra lines", csv);
    free(text);
    free(ref);
}

static void check_outputs(const char *csv, const int64_t *x, size_t rows)
{
    check_plan_outputs(csv, "plan.cnp", x, rows, NOUT);
}

/* The test directory with model.cnm, plan.cnp, client.key, eval.keys and in.csv (ROWS
 * inputs x). */
static void setup_dir(int64_t *x)
{
    cn_test_cli_bin(bin, sizeof bin);
    snprintf(dir, sizeof dir, "/tmp/cn_test_service_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char model[256], plan[256], key[256], keys[256], in[256];
    path(model, "model.cnm");
    path(plan, "plan.cnp");
    path(key, "client.key");
    path(keys, "eval.keys");
    path(in, "in.csv");
    cn_model_t m;
    cn_net_diag_t d = {{0}};
    make_model(&m);
    ck_assert_int_eq(cn_model_save(&m, model, &d), CN_OK);
    cn_model_clear(&m);
    inputs(x, ROWS, 71);
    write_csv(in, x, ROWS);
    ck_assert_int_eq(tool("compile", NULL,
                          (const char *[]){"compile", model, "-o", plan, "--weight-bits", "6",
                                           "--quiet", NULL}),
                     0);
    ck_assert_int_eq(
        tool("keygen", NULL,
             (const char *[]){"keygen", plan, "-o", key, "--eval-keys", keys, NULL}),
        0);
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* `infer` of file in with key, into out (--raw CSV); its exit status. */
static int infer(const char *tag, int port, const char *token, const char *key, const char *in,
                 const char *out, const char *scheme, const char *cacert)
{
    char url[128];
    snprintf(url, sizeof url, "%s://127.0.0.1:%d", scheme ? scheme : "http", port);
    const char *args[20] = {"infer", "--server", url, "--key", key, in, "-o", out, "--raw"};
    size_t n = 9;
    if (cacert) {
        args[n++] = "--cacert";
        args[n++] = cacert;
    }
    args[n++] = "--retries";
    args[n++] = "3";
    args[n] = NULL;
    return finish(spawn(tag, token, args), tag, 300);
}

/* --- the tests --------------------------------------------------------------------------- */

/* The whole flow; a second run reuses the registered key; health, metrics; SIGTERM */
START_TEST(test_service_flow)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    server_t s;
    start_server(&s, "serve", NULL);
    char *log = err_of("serve");
    ck_assert_msg(strstr(log, "no --tokens") != NULL, "no warning without tokens:\n%s", log);
    free(log);
    char key[256], in[256], out[256];
    path(key, "client.key");
    path(in, "in.csv");
    path(out, "out.csv");
    ck_assert_msg(infer("infer", s.port, NULL, key, in, out, NULL, NULL) == 0, "%s",
                  err_of("infer"));
    check_outputs(out, x, ROWS);
    char *err = err_of("infer");
    ck_assert_msg(strstr(err, "registering") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "timeline") == NULL, "a timeline unasked for:\n%s", err);
    free(err);
    unlink(out);
    /* INPUTS as a FIFO (as <(...) gives): read once, by the inputs' thread, and not opened
     * by the checks before (which would wait for the writer) */
    char fifo[256];
    path(fifo, "fifo.csv");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    const pid_t wr = fork();
    ck_assert(wr >= 0);
    if (wr == 0) {
        const int fi = open(in, O_RDONLY), fo = open(fifo, O_WRONLY);
        char b[4096];
        ssize_t k;
        while (fi >= 0 && fo >= 0 && (k = read(fi, b, sizeof b)) > 0)
            if (write(fo, b, (size_t)k) != k)
                _exit(1);
        _exit(fi >= 0 && fo >= 0 ? 0 : 1);
    }
    const int frc = infer("infer_fifo", s.port, NULL, key, fifo, out, NULL, NULL);
    if (frc != 0)
        kill(wr, SIGKILL); /* a writer nobody reads would wait for ever */
    int wst;
    ck_assert(waitpid(wr, &wst, 0) == wr);
    ck_assert_msg(frc == 0, "%s", err_of("infer_fifo"));
    ck_assert(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    check_outputs(out, x, ROWS);
    unlink(out);
    unlink(fifo);
    /* CRYPTONETS_TIMELINE (docs/service.md, "Timeline"): the steps of the run, in order,
     * each with the wall clock */
    setenv("CRYPTONETS_TIMELINE", "1", 1);
    const double w0 = (double)time(NULL);
    ck_assert_int_eq(infer("infer2", s.port, NULL, key, in, out, NULL, NULL), 0);
    unsetenv("CRYPTONETS_TIMELINE");
    check_outputs(out, x, ROWS);
    err = err_of("infer2");
    ck_assert_msg(strstr(err, "registering") == NULL, "the key was registered twice:\n%s", err);
    static const char *const steps[] = {"start",
                                        "plan received",
                                        "plan and key loaded",
                                        "inputs read",
                                        "evaluation keys checked",
                                        "upload: last bytes handed to libcurl",
                                        "202 received",
                                        "poll answered: done",
                                        "result downloaded",
                                        "decrypted, output written",
                                        "job deleted"};
    const char *at = err;
    double last = w0 - 1;
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        char want[128];
        snprintf(want, sizeof want, " %s", steps[i]); /* some end in details */
        const char *e = strstr(at, want);
        ck_assert_msg(e != NULL, "no step '%s' after the earlier ones:\n%s", steps[i], err);
        const char *ln = e;
        while (ln > err && ln[-1] != '\n')
            ln--;
        double when = 0;
        ck_assert_msg(sscanf(ln, "cryptonets infer: timeline %lf ", &when) == 1 &&
                          when >= last && when < w0 + 600,
                      "%.80s", ln);
        last = when;
        at = e;
    }
    free(err);
    log = err_of("serve");
    ck_assert_msg(strstr(log, "timeline") == NULL, "%s", log);
    free(log);
    answer_t *a = malloc(sizeof *a);
    ck_assert_int_eq(request(a, s.port, "GET", "/v1/health", NULL, NULL, 0), 200);
    ck_assert_int_eq(request(a, s.port, "GET", "/metrics", NULL, NULL, 0), 200);
    /* infer, infer_fifo, infer2 */
    ck_assert_msg(strstr(a->body, "cryptonets_jobs_finished_total{result=\"done\"} 3") != NULL,
                  "%s", a->body);
    ck_assert_ptr_nonnull(strstr(a->body, "cryptonets_memory_rss_bytes"));
    free(a);
    expect(s.port, "GET", "/v1/nothing", NULL, NULL, 0, 404, "not_found");
    expect(s.port, "PUT", "/v1/plan", NULL, NULL, 0, 405, "method_not_allowed");
    stop_server(&s);
    /* without tokens, only loopback */
    char plan[256], state[256];
    path(plan, "plan.cnp");
    path(state, "state");
    ck_assert_int_eq(tool("public", NULL,
                          (const char *[]){"serve", "--plan", plan, "--state-dir", state,
                                           "--listen", "0.0.0.0:0", NULL}),
                     2);
    /* with tokens, plain HTTP beyond loopback only when asked for */
    char tokens[256];
    path(tokens, "tokens.txt");
    write_bytes(tokens, "alice alice-token-1\n", 20);
    ck_assert_int_eq(tool("plain", NULL,
                          (const char *[]){"serve", "--plan", plan, "--state-dir", state,
                                           "--listen", "0.0.0.0:0", "--tokens", tokens, NULL}),
                     2);
    /* a memory limit below one evaluation's estimate cannot work */
    ck_assert_int_eq(tool("tiny", NULL,
                          (const char *[]){"serve", "--plan", plan, "--state-dir", state,
                                           "--memory-limit", "1K", NULL}),
                     2);
    /* the client retries a connection that fails: the server comes up a second late on
     * a port that was free */
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    const int port = ntohs(sa.sin_port);
    char listen[64], url[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    unlink(out);
    const pid_t late = spawn(
        "late", NULL,
        (const char *[]){"infer", "--server", url, "--key", key, in, "-o", out, "--raw", NULL});
    nap(1.0);
    start_server(&s, "serve2", (const char *[]){"--listen", listen, NULL});
    ck_assert_msg(finish(late, "late", 120) == 0, "%s", err_of("late"));
    check_outputs(out, x, ROWS);
    err = err_of("late");
    ck_assert_msg(strstr(err, "retrying") != NULL, "no retry:\n%s", err);
    free(err);
    stop_server(&s);
    remove_dir();
}
END_TEST

/* 8 tenants at once: every result right, every id invisible to the others */
START_TEST(test_service_tenants)
{
    int64_t x0[ROWS * NIN];
    setup_dir(x0);
    char tokens[256], plan[256];
    path(tokens, "tokens.txt");
    path(plan, "plan.cnp");
    FILE *f = fopen(tokens, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "# tenant token\n");
    for (int i = 0; i < CLIENTS; i++)
        fprintf(f, "t%d token-of-tenant-%d\n", i, i);
    fclose(f);
    server_t s;
    start_server(&s, "serve", (const char *[]){"--tokens", tokens, "--workers", "2", NULL});
    char key[CLIENTS][256], keys[CLIENTS][256], in[CLIENTS][256], out[CLIENTS][256],
        tok[CLIENTS][64], tag[CLIENTS][32];
    int64_t x[CLIENTS][ROWS * NIN];
    for (int i = 0; i < CLIENTS; i++) {
        char name[64];
        snprintf(name, sizeof name, "k%d.key", i);
        path(key[i], name);
        snprintf(name, sizeof name, "k%d.keys", i);
        path(keys[i], name);
        snprintf(name, sizeof name, "in%d.csv", i);
        path(in[i], name);
        snprintf(name, sizeof name, "out%d.csv", i);
        path(out[i], name);
        snprintf(tok[i], sizeof tok[i], "token-of-tenant-%d", i);
        snprintf(tag[i], sizeof tag[i], "infer%d", i);
        ck_assert_int_eq(
            tool("keygen", NULL,
                 (const char *[]){"keygen", plan, "-o", key[i], "--eval-keys", keys[i], NULL}),
            0);
        inputs(x[i], ROWS, 100 + (uint64_t)i);
        write_csv(in[i], x[i], ROWS);
    }
    pid_t pid[CLIENTS];
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    for (int i = 0; i < CLIENTS; i++)
        pid[i] = spawn(tag[i], tok[i],
                       (const char *[]){"infer", "--server", url, "--key", key[i], in[i], "-o",
                                        out[i], "--raw", "--keep", NULL});
    for (int i = 0; i < CLIENTS; i++)
        ck_assert_msg(finish(pid[i], tag[i], 120) == 0, "client %d:\n%s", i, err_of(tag[i]));
    for (int i = 0; i < CLIENTS; i++)
        check_outputs(out[i], x[i], ROWS);
    /* each tenant's job and key, by the state directory's names */
    char job[CLIENTS][65], kid[CLIENTS][65];
    for (int i = 0; i < CLIENTS; i++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "ls %s/state/tenants/t%d/jobs/ | sed -n 's/\\.job$//p'", dir,
                 i);
        FILE *p = popen(cmd, "r");
        ck_assert_ptr_nonnull(p);
        ck_assert_ptr_nonnull(fgets(job[i], sizeof job[i], p));
        pclose(p);
        snprintf(cmd, sizeof cmd, "ls %s/state/tenants/t%d/keys/ | sed -n 's/\\.keys$//p'", dir,
                 i);
        p = popen(cmd, "r");
        ck_assert_ptr_nonnull(p);
        ck_assert_ptr_nonnull(fgets(kid[i], sizeof kid[i], p));
        pclose(p);
        ck_assert_uint_eq(strlen(job[i]), 64);
        ck_assert_uint_eq(strlen(kid[i]), 64);
    }
    char t[256];
    for (int i = 0; i < CLIENTS; i++) {
        const int o = (i + 1) % CLIENTS;
        snprintf(t, sizeof t, "/v1/jobs/%.64s", job[i]);
        expect(s.port, "GET", t, tok[i], NULL, 0, 200, NULL);
        expect(s.port, "GET", t, tok[o], NULL, 0, 404, "not_found");
        expect(s.port, "DELETE", t, tok[o], NULL, 0, 404, "not_found");
        snprintf(t, sizeof t, "/v1/jobs/%.64s/result", job[i]);
        expect(s.port, "GET", t, tok[o], NULL, 0, 404, "not_found");
        expect(s.port, "GET", t, tok[i], NULL, 0, 200, NULL);
        snprintf(t, sizeof t, "/v1/keys/%.64s", kid[i]);
        expect(s.port, "GET", t, tok[o], NULL, 0, 404, "not_found");
        expect(s.port, "DELETE", t, tok[o], NULL, 0, 404, "not_found");
        expect(s.port, "GET", t, tok[i], NULL, 0, 200, NULL);
        /* another tenant's key id for a job: unknown */
        snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid[i]);
        expect(s.port, "POST", t, tok[o], "x", 1, 404, "unknown_key");
    }
    /* the owner deletes; then it is gone for the owner too */
    snprintf(t, sizeof t, "/v1/jobs/%.64s", job[0]);
    expect(s.port, "DELETE", t, tok[0], NULL, 0, 200, NULL);
    expect(s.port, "GET", t, tok[0], NULL, 0, 404, "not_found");
    stop_server(&s);
    remove_dir();
}
END_TEST

/* The key's id (the hash of its bytes) and its registration. */
static void register_key(char id[65], int port, const char *token)
{
    char keys[256];
    path(keys, "eval.keys");
    size_t len;
    char *b = slurp(keys, &len);
    ck_assert_ptr_nonnull(b);
    answer_t *a = malloc(sizeof *a);
    const int st = request(a, port, "POST", "/v1/keys", token, b, len);
    ck_assert_msg(st == 201 || st == 200, "POST /v1/keys: %d %s", st, a->body);
    field(id, 65, a, "key");
    ck_assert_uint_eq(strlen(id), 64);
    free(a);
    free(b);
}

/* A batch of the first rows inputs of x in file name (cryptonets encrypt). */
static char *make_batch(const char *name, const char *key_file, const int64_t *x, size_t rows,
                        size_t *len)
{
    char in[256], plan[256], batch[256];
    path(in, "part.csv");
    path(plan, "plan.cnp");
    path(batch, name);
    write_csv(in, x, rows);
    ck_assert_int_eq(
        tool("encrypt", NULL,
             (const char *[]){"encrypt", key_file, in, "--plan", plan, "-o", batch, NULL}),
        0);
    return slurp(batch, len);
}

/* kill -9 of a server that holds acknowledged jobs; a restart completes them */
START_TEST(test_service_restart)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    server_t s;
    start_server(&s, "serve", (const char *[]){"--workers", "0", "--max-jobs", "3", NULL});
    char kid[65], key[256], t[256], job[3][65];
    path(key, "client.key");
    register_key(kid, s.port, NULL);
    snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid);
    answer_t *a = malloc(sizeof *a);
    for (size_t j = 0; j < 3; j++) {
        size_t len;
        char *b = make_batch("batch.bin", key, x, j + 1, &len);
        ck_assert_int_eq(request(a, s.port, "POST", t, NULL, b, len), 202);
        field(job[j], 65, a, "job");
        char st[32];
        field(st, sizeof st, a, "state");
        ck_assert_str_eq(st, "queued");
        free(b);
    }
    /* the queue is full: 503 before the body is read */
    expect(s.port, "POST", t, NULL, "x", 1, 503, "full");
    kill_server(&s);
    /* what a crash mid upload leaves: a temporary upload and a partial file */
    char p[512];
    snprintf(p, sizeof p, "%s/state/tmp/upload-1-1", dir);
    write_bytes(p, "junk", 4);
    snprintf(p, sizeof p, "%s/state/tenants/anonymous/jobs/x.job.partial-1", dir);
    write_bytes(p, "junk", 4);
    start_server(&s, "serve2", NULL);
    char *log = err_of("serve2");
    ck_assert_msg(strstr(log, "3 job(s) recovered") != NULL, "%s", log);
    free(log);
    for (size_t j = 0; j < 3; j++) {
        char st[32] = "";
        snprintf(t, sizeof t, "/v1/jobs/%.64s", job[j]);
        const double t0 = now();
        while (now() - t0 < 60) {
            ck_assert_int_eq(request(a, s.port, "GET", t, NULL, NULL, 0), 200);
            field(st, sizeof st, a, "state");
            if (!strcmp(st, "done") || !strcmp(st, "failed"))
                break;
            nap(0.05);
        }
        ck_assert_msg(!strcmp(st, "done"), "job %zu: %s", j, a->body);
    }
    kill_server(&s); /* the results are on disk: a second crash loses none */
    ck_assert_int_ne(access(p, F_OK), 0);
    start_server(&s, "serve3", NULL);
    /* a client that goes away mid download costs nobody anything */
    for (size_t j = 0; j < 2; j++) {
        snprintf(t, sizeof t, "GET /v1/jobs/%.64s/result HTTP/1.1\r\nHost: x\r\n\r\n", job[2]);
        const int fd = connect_to(s.port);
        send_all(fd, t, strlen(t));
        char some[100];
        ck_assert_int_gt(recv(fd, some, sizeof some, 0), 0);
        close(fd);
    }
    for (size_t j = 0; j < 3; j++) {
        snprintf(t, sizeof t, "/v1/jobs/%.64s/result", job[j]);
        const int fd = connect_to(s.port);
        char head[512];
        snprintf(head, sizeof head, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 t);
        send_all(fd, head, strlen(head));
        static char raw[1 << 24];
        const size_t got = recv_all(fd, raw, sizeof raw);
        close(fd);
        ck_assert_msg(!strncmp(raw, "HTTP/1.1 200", 12), "%.200s", raw);
        const char *body = strstr(raw, "\r\n\r\n");
        ck_assert_ptr_nonnull(body);
        body += 4;
        char reply[256], out[256], plan[256];
        path(reply, "reply.bin");
        path(out, "out.csv");
        path(plan, "plan.cnp");
        write_bytes(reply, body, got - (size_t)(body - raw));
        ck_assert_int_eq(tool("decrypt", NULL,
                              (const char *[]){"decrypt", key, reply, "--plan", plan, "--raw",
                                               "-o", out, NULL}),
                         0);
        check_outputs(out, x, j + 1);
    }
    /* SIGTERM at once after a 202: the job, running or queued, is not lost */
    size_t len;
    char *b = make_batch("batch.bin", key, x, ROWS, &len);
    snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid);
    ck_assert_int_eq(request(a, s.port, "POST", t, NULL, b, len), 202);
    char last[65], st[32] = "";
    field(last, sizeof last, a, "job");
    stop_server(&s);
    start_server(&s, "serve4", NULL);
    snprintf(t, sizeof t, "/v1/jobs/%.64s", last);
    for (const double t0 = now(); now() - t0 < 60; nap(0.05)) {
        ck_assert_int_eq(request(a, s.port, "GET", t, NULL, NULL, 0), 200);
        field(st, sizeof st, a, "state");
        if (!strcmp(st, "done") || !strcmp(st, "failed"))
            break;
    }
    ck_assert_msg(!strcmp(st, "done"), "%s", a->body);
    /* the same bytes again after the restarts: the same job, since the job ids' key
     * (STATE/job-id.key) is kept, so a retry whose answer was lost still finds its job */
    snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid);
    ck_assert_int_eq(request(a, s.port, "POST", t, NULL, b, len), 202);
    free(b);
    char again[65];
    field(again, sizeof again, a, "job");
    ck_assert_str_eq(again, last);
    ck_assert_ptr_nonnull(strstr(a->body, "\"duplicate\":true"));
    free(a);
    stop_server(&s);
    /* a damaged key stops the start, naming it (a new key would give every retried
     * upload a new job) */
    char plan[256], state[256];
    path(plan, "plan.cnp");
    path(state, "state");
    path(p, "state/job-id.key");
    ck_assert_int_eq(truncate(p, 63), 0);
    ck_assert_int_ne(tool("serve5", NULL,
                          (const char *[]){"serve", "--plan", plan, "--state-dir", state,
                                           "--listen", "127.0.0.1:0", NULL}),
                     0);
    log = err_of("serve5");
    ck_assert_msg(strstr(log, "job-id.key: damaged") != NULL, "%s", log);
    free(log);
    remove_dir();
}
END_TEST

/* Bad requests of every kind; the server serves the others throughout */
START_TEST(test_service_faults)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    char tokens[256], key[256], key2[256], keys2[256], plan[256], in[256], out[256];
    path(tokens, "tokens.txt");
    path(key, "client.key");
    path(key2, "other.key");
    path(keys2, "other.keys");
    path(plan, "plan.cnp");
    path(in, "in.csv");
    path(out, "out.csv");
    write_bytes(tokens, "alice alice-token-1\nbob bob-token-22\n", 37);
    server_t s;
    start_server(
        &s, "serve",
        (const char *[]){"--tokens", tokens, "--request-timeout", "2", "--timeout", "3", NULL});
    const char *A = "alice-token-1", *B = "bob-token-22";
    /* tokens */
    expect(s.port, "GET", "/v1/plan", NULL, NULL, 0, 401, "unauthorized");
    expect(s.port, "GET", "/v1/plan", "alice-token-2", NULL, 0, 403, "forbidden");
    expect(s.port, "GET", "/v1/plan", A, NULL, 0, 200, NULL);
    char kid[65], t[256];
    register_key(kid, s.port, A);
    snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid);
    /* keys: garbage, too large, of another plan */
    expect(s.port, "POST", "/v1/keys", A, "garbage", 7, 400, "bad_keys");
    static char big[1 << 20];
    memset(big, 'x', sizeof big);
    expect(s.port, "POST", "/v1/keys", A, big, sizeof big, 413, "too_large");
    /* batches: garbage, truncated, under another key, for no key */
    expect(s.port, "POST", t, A, "garbage!", 8, 400, "bad_batch");
    expect(s.port, "POST", t, A, big, 4096, 400, "bad_batch");
    size_t len;
    char *b = make_batch("batch.bin", key, x, ROWS, &len);
    expect(s.port, "POST", t, A, b, len / 2, 400, "bad_batch");
    expect(s.port, "POST", t, A, b, 100, 400, "bad_batch");
    char *padded = malloc(len + 1);
    memcpy(padded, b, len);
    padded[len] = 0;
    expect(s.port, "POST", t, A, padded, len + 1, 400, "bad_batch");
    free(padded);
    ck_assert_int_eq(
        tool("keygen", NULL,
             (const char *[]){"keygen", plan, "-o", key2, "--eval-keys", keys2, NULL}),
        0);
    size_t len2;
    char *b2 = make_batch("batch2.bin", key2, x, ROWS, &len2);
    expect(s.port, "POST", t, A, b2, len2, 409, "key_mismatch");
    free(b2);
    expect(s.port, "POST", "/v1/jobs?key=00", A, b, len, 404, "unknown_key");
    expect(s.port, "POST", "/v1/jobs", A, b, len, 404, "unknown_key");
    /* an oversized body is refused at its headers, before it is sent */
    int fd = connect_to(s.port);
    char head[512];
    snprintf(head, sizeof head,
             "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Length: 1000000000000\r\nExpect: 100-continue\r\n\r\n",
             t, A);
    send_all(fd, head, strlen(head));
    static char raw[1 << 16];
    recv_all(fd, raw, sizeof raw);
    close(fd);
    ck_assert_msg(!strncmp(raw, "HTTP/1.1 413", 12), "%.300s", raw);
    ck_assert_ptr_nonnull(strstr(raw, "too_large"));
    /* a client that goes away mid upload */
    fd = connect_to(s.port);
    snprintf(head, sizeof head,
             "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Length: %zu\r\n\r\n",
             t, A, len);
    send_all(fd, head, strlen(head));
    send_all(fd, b, len / 2);
    close(fd);
    /* a slow sender: a byte at a time, cut off by --request-timeout (2 s) */
    fd = connect_to(s.port);
    send_all(fd, head, strlen(head));
    const double t0 = now();
    int closed = 0;
    for (size_t i = 0; i < 100 && !closed; i++) {
        nap(0.1);
        closed = send(fd, b + i, 1, MSG_NOSIGNAL) < 0;
        if (!closed) {
            char c;
            closed = recv(fd, &c, 1, MSG_DONTWAIT) == 0;
        }
    }
    close(fd);
    ck_assert_msg(closed, "a slow sender was not cut off after %.1f s", now() - t0);
    ck_assert_msg(now() - t0 < 8, "a slow sender was cut off only after %.1f s", now() - t0);
    /* nothing of those uploads is left, and a real one still works */
    nap(0.2);
    char cmd[512];
    /* (refused uploads' files are kept for reuse, as spare-PID-SEQ: docs/service.md) */
    snprintf(cmd, sizeof cmd, "test -z \"$(ls %s/state/tmp | grep -v '^spare-')\"", dir);
    ck_assert_msg(system(cmd) == 0, "uploads left in tmp/");
    answer_t *a = malloc(sizeof *a);
    ck_assert_int_eq(request(a, s.port, "POST", t, A, b, len), 202);
    char job[65];
    field(job, sizeof job, a, "job");
    /* the same batch again is the same job */
    ck_assert_int_eq(request(a, s.port, "POST", t, A, b, len), 202);
    char again[65];
    field(again, sizeof again, a, "job");
    ck_assert_str_eq(job, again);
    ck_assert_ptr_nonnull(strstr(a->body, "\"duplicate\":true"));
    /* a well-formed container around damaged ciphertexts: accepted (only the container is
     * checked on the way in), then the library refuses it and the job fails with why */
    char *bad = malloc(len);
    memcpy(bad, b, len);
    bad[96 + 24 + 40] ^= 0x55; /* inside the library's first object, past its header */
    ck_assert_int_eq(request(a, s.port, "POST", t, A, bad, len), 202);
    free(bad);
    char fjob[65], fst[32] = "", ft[256];
    field(fjob, sizeof fjob, a, "job");
    snprintf(ft, sizeof ft, "/v1/jobs/%.64s", fjob);
    for (const double t1 = now(); now() - t1 < 60; nap(0.05)) {
        ck_assert_int_eq(request(a, s.port, "GET", ft, A, NULL, 0), 200);
        field(fst, sizeof fst, a, "state");
        if (!strcmp(fst, "done") || !strcmp(fst, "failed"))
            break;
    }
    ck_assert_msg(!strcmp(fst, "failed"), "%s", a->body);
    ck_assert_msg(strstr(a->body, "\"bad_batch\"") != NULL, "%s", a->body);
    snprintf(ft, sizeof ft, "/v1/jobs/%.64s/result", fjob);
    expect(s.port, "GET", ft, A, NULL, 0, 422, "job_failed");
    /* bob sees none of it */
    snprintf(t, sizeof t, "/v1/jobs/%.64s", job);
    expect(s.port, "GET", t, B, NULL, 0, 404, "not_found");
    expect(s.port, "GET", "/v1/jobs/0123", A, NULL, 0, 404, "not_found");
    snprintf(t, sizeof t, "/v1/keys/%.64s", kid);
    expect(s.port, "GET", t, B, NULL, 0, 404, "not_found");
    ck_assert_int_eq(request(a, s.port, "GET", "/metrics", A, NULL, 0), 200);
    ck_assert_msg(strstr(a->body, "cryptonets_rejected_requests_total{reason=\"timeout\"} 0") ==
                      NULL,
                  "%s", a->body);
    free(a);
    free(b);
    /* the whole flow still works */
    char tf[256];
    path(tf, "alice.token");
    write_bytes(tf, "alice-token-1\n", 14);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    ck_assert_int_eq(tool("infer", NULL,
                          (const char *[]){"infer", "--server", url, "--key", key, in, "-o",
                                           out, "--raw", "--token-file", tf, NULL}),
                     0);
    check_outputs(out, x, ROWS);
    ck_assert_int_eq(infer("nobody", s.port, NULL, key, in, out, NULL, NULL), 1);
    /* a client key of another plan: exit status 3 */
    char model2[256], plan2[256], key3[256], keys3[256];
    path(model2, "model.cnm");
    path(plan2, "plan2.cnp");
    path(key3, "k3.key");
    path(keys3, "k3.keys");
    ck_assert_int_eq(tool("compile", NULL,
                          (const char *[]){"compile", model2, "-o", plan2, "--weight-bits", "5",
                                           "--quiet", NULL}),
                     0);
    ck_assert_int_eq(
        tool("keygen", NULL,
             (const char *[]){"keygen", plan2, "-o", key3, "--eval-keys", keys3, NULL}),
        0);
    ck_assert_int_eq(infer("otherplan", s.port, A, key3, in, out, NULL, NULL), 3);
    stop_server(&s);
    remove_dir();
}
END_TEST

/* Queue limits: per tenant (429) and in all (503), both before the body is read, with
 * Retry-After; a deleted key is gone */
START_TEST(test_service_limits)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    char tokens[256], key[256];
    path(tokens, "tokens.txt");
    path(key, "client.key");
    write_bytes(tokens, "alice alice-token-1\nbob bob-token-22\n", 37);
    server_t s;
    start_server(&s, "serve",
                 (const char *[]){"--tokens", tokens, "--workers", "0", "--max-jobs", "2",
                                  "--tenant-jobs", "1", NULL});
    const char *A = "alice-token-1", *B = "bob-token-22";
    char ka[65], kb[65], ta[256], tb[256];
    register_key(ka, s.port, A);
    register_key(kb, s.port, B);
    ck_assert_str_eq(ka, kb); /* the same bytes: the same id, in two separate tenants */
    snprintf(ta, sizeof ta, "/v1/jobs?key=%.64s", ka);
    snprintf(tb, sizeof tb, "/v1/jobs?key=%.64s", kb);
    size_t l1, l2;
    char *b1 = make_batch("b1.bin", key, x, 1, &l1), *b2 = make_batch("b2.bin", key, x, 2, &l2);
    expect(s.port, "POST", ta, A, b1, l1, 202, NULL);
    expect(s.port, "POST", ta, A, b2, l2, 429, "tenant_full");
    expect(s.port, "POST", tb, B, b2, l2, 202, NULL);
    expect(s.port, "POST", tb, B, b1, l1, 503, "full");
    /* Retry-After on both */
    const int fd = connect_to(s.port);
    char head[512];
    snprintf(head, sizeof head,
             "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n",
             ta, A, l1);
    send_all(fd, head, strlen(head));
    static char raw[1 << 16];
    recv_all(fd, raw, sizeof raw);
    close(fd);
    ck_assert_msg(strstr(raw, "Retry-After: ") != NULL, "%.300s", raw);
    /* a deleted key is gone for its tenant only */
    char t[256];
    snprintf(t, sizeof t, "/v1/keys/%.64s", ka);
    expect(s.port, "DELETE", t, A, NULL, 0, 200, NULL);
    expect(s.port, "GET", t, A, NULL, 0, 404, "not_found");
    expect(s.port, "GET", t, B, NULL, 0, 200, NULL);
    free(b1);
    free(b2);
    stop_server(&s);
    remove_dir();
}
END_TEST

/* --memory-limit: with room for one evaluation, two workers never run two at once (their
 * running intervals, from the status documents, do not overlap) */
START_TEST(test_service_memory)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    server_t s;
    start_server(&s, "serve",
                 (const char *[]){"--workers", "2", "--job-memory", "100M", "--memory-limit",
                                  "150M", NULL});
    char kid[65], key[256], t[256], job[4][65];
    path(key, "client.key");
    register_key(kid, s.port, NULL);
    snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid);
    answer_t *a = malloc(sizeof *a);
    char *b[4];
    size_t len[4];
    for (size_t j = 0; j < 4; j++)
        b[j] = make_batch("batch.bin", key, x, j + 1, &len[j]);
    for (size_t j = 0; j < 4; j++) {
        ck_assert_int_eq(request(a, s.port, "POST", t, NULL, b[j], len[j]), 202);
        field(job[j], 65, a, "job");
        free(b[j]);
    }
    double start[4], end[4];
    for (size_t j = 0; j < 4; j++) {
        snprintf(t, sizeof t, "/v1/jobs/%.64s", job[j]);
        char st[32] = "";
        for (const double t0 = now(); now() - t0 < 60; nap(0.05)) {
            ck_assert_int_eq(request(a, s.port, "GET", t, NULL, NULL, 0), 200);
            field(st, sizeof st, a, "state");
            if (!strcmp(st, "done"))
                break;
        }
        ck_assert_msg(!strcmp(st, "done"), "%s", a->body);
        json_error_t je;
        json_t *o = json_loads(a->body, 0, &je);
        start[j] = json_real_value(json_object_get(o, "started"));
        end[j] = json_real_value(json_object_get(o, "finished"));
        json_decref(o);
        ck_assert(start[j] > 0 && end[j] >= start[j]);
    }
    for (size_t i = 0; i < 4; i++)
        for (size_t j = i + 1; j < 4; j++)
            ck_assert_msg(end[i] <= start[j] || end[j] <= start[i],
                          "jobs %zu and %zu ran at once", i, j);
    free(a);
    stop_server(&s);
    remove_dir();
}
END_TEST

/* A TCP relay between a client and the server that breaks the first POST /v1/jobs once:
 * drop_after > 0 closes both sides after that many bytes of the request have passed
 * (a connection lost mid upload); drop_after = 0 passes the whole request and closes the
 * connection instead of passing the answer (other than "100 Continue"): the job was
 * accepted, the client never heard. One connection at a time (the client has one).
 * Runs in a child process; the port it listens on is returned. */
static pid_t start_relay(int *port, int server_port, size_t drop_after)
{
    const int ls = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(ls, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    ck_assert_int_eq(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(ls, 8), 0);
    ck_assert_int_eq(getsockname(ls, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    const pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid > 0) {
        close(ls);
        return pid;
    }
    int broken = 0;
    static char buf[1 << 16];
    for (;;) {
        const int cs = accept(ls, NULL, NULL);
        if (cs < 0)
            _exit(1);
        const int ss = connect_to(server_port);
        size_t seen = 0; /* request bytes since "POST /v1/jobs" on this connection */
        int in_post = 0;
        for (int open = 1; open;) {
            struct pollfd pf[2] = {{cs, POLLIN, 0}, {ss, POLLIN, 0}};
            if (poll(pf, 2, 60000) <= 0)
                break;
            for (int k = 0; k < 2 && open; k++) {
                if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
                    continue;
                const ssize_t r = recv(k ? ss : cs, buf, sizeof buf, 0);
                if (r <= 0) {
                    open = 0;
                    break;
                }
                size_t n = (size_t)r;
                if (k == 0 && !broken) {
                    for (size_t i = 0; !in_post && i + 13 <= n; i++)
                        in_post = !memcmp(buf + i, "POST /v1/jobs", 13);
                    if (in_post && drop_after && seen + n >= drop_after) {
                        send_all(ss, buf, drop_after - seen);
                        broken = 1;
                        open = 0;
                        break;
                    }
                    seen += in_post ? n : 0;
                }
                if (k == 1 && in_post && !broken && strncmp(buf, "HTTP/1.1 100", 12) != 0) {
                    broken = 1; /* the answer to the whole upload: lost */
                    open = 0;
                    break;
                }
                send_all(k ? cs : ss, buf, n);
            }
        }
        close(cs);
        close(ss);
    }
}

/* The metric line NAME (with its labels) of the server's /metrics: its value. */
static long metric(int port, const char *name)
{
    answer_t *a = malloc(sizeof *a);
    ck_assert_int_eq(request(a, port, "GET", "/metrics", NULL, NULL, 0), 200);
    const char *p = strstr(a->body, name);
    ck_assert_msg(p != NULL, "no %s in\n%s", name, a->body);
    const long v = strtol(p + strlen(name), NULL, 10);
    free(a);
    return v;
}

/* A second client key for plan.cnp, DIR/other.key, with its evaluation keys where infer
 * looks first (key2 + ".eval-keys", into keys2). */
static void other_key(char key2[256], char keys2[300])
{
    char plan[256];
    path(plan, "plan.cnp");
    path(key2, "other.key");
    snprintf(keys2, 300, "%s.eval-keys", key2);
    ck_assert_int_eq(
        tool("keygen2", NULL,
             (const char *[]){"keygen", plan, "-o", key2, "--eval-keys", keys2, NULL}),
        0);
}

/* Warm evaluators (docs/service.md): a worker keeps the evaluator of its last job's key
 * (counted in the reserved memory) and uses it for the next job of that key; a job of
 * another key gets a fresh one (a reused evaluator of the wrong keys would give wrong
 * outputs); after --warm-idle seconds without a job it is freed and its memory given
 * back; with --warm-idle 0 nothing is kept and the outputs are the same */
START_TEST(test_service_warm)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    char key[256], key2[256], plan[256], in[256], out[256];
    path(key, "client.key");
    path(plan, "plan.cnp");
    path(in, "in.csv");
    path(out, "out.csv");
    char keys2[300];
    other_key(key2, keys2);
    server_t s;
    start_server(&s, "serve", (const char *[]){"--warm-idle", "3", NULL});
    ck_assert_int_eq(metric(s.port, "\ncryptonets_warm_evaluators "), 0);
    const char *keys[3] = {key, key2, key};
    for (int i = 0; i < 3; i++) {
        char tag[16];
        snprintf(tag, sizeof tag, "infer%d", i);
        unlink(out);
        ck_assert_msg(infer(tag, s.port, NULL, keys[i], in, out, NULL, NULL) == 0, "%s",
                      err_of(tag));
        check_outputs(out, x, ROWS);
        ck_assert_int_eq(metric(s.port, "\ncryptonets_warm_evaluators "), 1);
        ck_assert_int_gt(metric(s.port, "\ncryptonets_memory_reserved_bytes "), 0);
    }
    long warm = 1;
    for (const double t0 = now(); warm && now() - t0 < 20; nap(0.2))
        warm = metric(s.port, "\ncryptonets_warm_evaluators ");
    ck_assert_int_eq(warm, 0);
    ck_assert_int_eq(metric(s.port, "\ncryptonets_memory_reserved_bytes "), 0);
    stop_server(&s);
    /* --warm-idle 0: nothing kept, the batch file mapped instead of read into a buffer
     * (docs/service.md, "Memory"); the same outputs */
    start_server(&s, "serve0", (const char *[]){"--warm-idle", "0", NULL});
    for (int i = 0; i < 2; i++) {
        unlink(out);
        ck_assert_msg(infer("infer0", s.port, NULL, keys[i], in, out, NULL, NULL) == 0, "%s",
                      err_of("infer0"));
        check_outputs(out, x, ROWS);
        ck_assert_int_eq(metric(s.port, "\ncryptonets_warm_evaluators "), 0);
    }
    stop_server(&s);
    remove_dir();
}
END_TEST

/* The client encrypts and uploads at once; an upload cut mid body, or whose answer is
 * lost, is repeated encrypted again from the job's seed (nothing is kept on disk): the
 * same bytes, so exactly one job (an answer lost after the server accepted the job, then
 * a repeat with other bytes, would make a second one), with the outputs of the plaintext
 * network. The inputs span two records (n + 3 rows), so the first record is sent while the
 * second is encrypted, and each record has its own seed. */
START_TEST(test_service_stream_retry)
{
    int64_t x0[ROWS * NIN];
    setup_dir(x0);
    char plan[256], key[256], in[256], out[256];
    path(plan, "plan.cnp");
    path(key, "client.key");
    path(in, "in2.csv");
    path(out, "out.csv");
    size_t plen;
    char *pb = slurp(plan, &plen);
    cn_plan_t *p;
    cn_net_diag_t d = {{0}};
    ck_assert_int_eq(cn_plan_from_bytes(&p, (const uint8_t *)pb, plen, 0, &d), CN_OK);
    const size_t rows = cn_plan_params(p)->n + 3;
    cn_plan_free(p);
    free(pb);
    int64_t *x = malloc(rows * NIN * sizeof *x);
    inputs(x, rows, 72);
    write_csv(in, x, rows);
    server_t s;
    start_server(&s, "serve", NULL);
    const size_t drops[2] = {5000, 0}; /* mid upload; after the whole upload */
    for (int k = 0; k < 2; k++) {
        int rport;
        const pid_t relay = start_relay(&rport, s.port, drops[k]);
        char tag[16];
        snprintf(tag, sizeof tag, "infer%d", k);
        unlink(out);
        const int rc = infer(tag, rport, NULL, key, in, out, NULL, NULL);
        kill(relay, SIGKILL);
        waitpid(relay, NULL, 0);
        char *err = err_of(tag);
        ck_assert_msg(rc == 0, "%s", err);
        ck_assert_msg(strstr(err, "as it is encrypted") != NULL, "no streamed upload:\n%s",
                      err);
        ck_assert_msg(strstr(err, "POST /v1/jobs") && strstr(err, "retrying"),
                      "the upload was not repeated:\n%s", err);
        ck_assert_msg(strstr(err, "encrypted again from the job's seed") != NULL,
                      "the repeat was not encrypted again:\n%s", err);
        free(err);
        check_plan_outputs(out, "plan.cnp", x, rows, NOUT);
        /* one job per run: an upload repeated with other bytes would be a second job,
         * evaluated too (or still queued or running) */
        ck_assert_int_eq(metric(s.port, "cryptonets_jobs_finished_total{result=\"done\"}"),
                         k + 1);
        ck_assert_int_eq(metric(s.port, "cryptonets_jobs{state=\"queued\"}"), 0);
        ck_assert_int_eq(metric(s.port, "cryptonets_jobs{state=\"running\"}"), 0);
    }
    ck_assert_int_eq(metric(s.port, "cryptonets_rejected_requests_total{reason=\"aborted\"}"),
                     1);
    stop_server(&s);
    free(x);
    remove_dir();
}
END_TEST

/* HTTPS with a self-signed certificate made here (GnuTLS certtool) */
START_TEST(test_service_tls)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    char cmd[2048], cert[256], tkey[256], tmpl[256];
    path(cert, "cert.pem");
    path(tkey, "tls.key");
    path(tmpl, "cert.cfg");
    const char cfg[] = "cn = 127.0.0.1\nip_address = 127.0.0.1\ndns_name = localhost\n"
                       "expiration_days = 2\nca\ntls_www_server\nsigning_key\nencryption_key\n"
                       "cert_signing_key\n";
    write_bytes(tmpl, cfg, sizeof cfg - 1);
    snprintf(cmd, sizeof cmd,
             "certtool --generate-privkey --key-type ecdsa --outfile %s >/dev/null 2>&1 && "
             "certtool --generate-self-signed --load-privkey %s --template %s --outfile %s "
             ">/dev/null 2>&1",
             tkey, tkey, tmpl, cert);
    ck_assert_msg(system(cmd) == 0, "certtool failed (gnutls-bin: scripts/setup.sh)");
    server_t s;
    start_server(&s, "serve", (const char *[]){"--tls-cert", cert, "--tls-key", tkey, NULL});
    char key[256], in[256], out[256];
    path(key, "client.key");
    path(in, "in.csv");
    path(out, "out.csv");
    ck_assert_msg(infer("infer", s.port, NULL, key, in, out, "https", cert) == 0, "%s",
                  err_of("infer"));
    check_outputs(out, x, ROWS);
    /* without the certificate the client cannot verify the server, and stops */
    ck_assert_int_eq(infer("noca", s.port, NULL, key, in, out, "https", NULL), 1);
    /* infer with http:// to it: told to use https://, at once, without retries */
    const double t0 = now();
    ck_assert_int_eq(infer("plain", s.port, NULL, key, in, out, "http", NULL), 1);
    ck_assert_double_lt(now() - t0, 20);
    err_has("plain", "give --server https://");
    err_lacks("plain", "retrying");
    /* plain HTTP to a TLS port gets no answer */
    answer_t *a = malloc(sizeof *a);
    ck_assert_int_ne(request(a, s.port, "GET", "/v1/health", NULL, NULL, 0), 200);
    free(a);
    stop_server(&s);
    remove_dir();
}
END_TEST

/* One batch of MNIST test images through the service with the committed model (4-bit
 * weights, 128-bit parameters as `make bench`): outputs equal to the integer network's.
 * Needs the MNIST data (skipped without it) and takes about a minute on 2 cores; skipped
 * in the sanitizer build, where it would take many. */
START_TEST(test_service_mnist)
{
#if defined(__SANITIZE_ADDRESS__)
    fprintf(stderr, "test_service_mnist: skipped in the sanitizer build\n");
    return;
#endif
    cn_idx_t img = {0};
    cn_net_diag_t d = {{0}};
    if (cn_idx_load(&img, "data/mnist/t10k-images-idx3-ubyte", &d) != CN_OK) {
        fprintf(stderr, "test_service_mnist: skipped, no MNIST data in data/mnist\n");
        return;
    }
    cn_test_cli_bin(bin, sizeof bin);
    snprintf(dir, sizeof dir, "/tmp/cn_test_service_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    cn_model_t m;
    ck_assert_int_eq(cn_model_load(&m, "examples/models/cryptonets_mnist.cnm", &d), CN_OK);
    int shift = 0; /* the model takes pixel >> shift, in [0, input_max] */
    while ((255 >> shift) > m.input_max)
        shift++;
    const size_t rows = 64, nin = 784;
    int64_t *x = malloc(rows * nin * sizeof *x);
    for (size_t i = 0; i < rows * nin; i++)
        x[i] = img.data[i] >> shift;
    cn_idx_clear(&img);
    cn_model_clear(&m);
    char plan[256], key[256], keys[256], in[256], out[256];
    path(plan, "plan.cnp");
    path(key, "client.key");
    path(keys, "eval.keys");
    path(in, "in.csv");
    path(out, "out.csv");
    FILE *f = fopen(in, "w");
    for (size_t i = 0; i < rows * nin; i++)
        fprintf(f, i % nin + 1 < nin ? "%lld," : "%lld\n", (long long)x[i]);
    fclose(f);
    ck_assert_int_eq(tool("compile", NULL,
                          (const char *[]){"compile", "examples/models/cryptonets_mnist.cnm",
                                           "-o", plan, "--weight-bits", "4", "--quiet", NULL}),
                     0);
    ck_assert_int_eq(
        tool("keygen", NULL,
             (const char *[]){"keygen", plan, "-o", key, "--eval-keys", keys, NULL}),
        0);
    server_t s;
    start_server(&s, "serve", (const char *[]){"--threads", "2", NULL});
    ck_assert_msg(infer("infer", s.port, NULL, key, in, out, NULL, NULL) == 0, "%s",
                  err_of("infer"));
    check_plan_outputs(out, "plan.cnp", x, rows, 10);
    stop_server(&s);
    free(x);
    remove_dir();
}
END_TEST

/* Slow headers (defect: 4 sockets sending a header line every 0.5 s held every slot of
 * --max-connections 4 past the idle --timeout): their headers are late after --timeout
 * seconds, their connections are closed, and a normal request gets through */
START_TEST(test_service_slow_headers)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    server_t s;
    start_server(&s, "serve",
                 (const char *[]){"--max-connections", "4", "--timeout", "2", NULL});
    int slow[4];
    for (size_t i = 0; i < 4; i++) {
        slow[i] = connect_to(s.port);
        send_all(slow[i], "GET /v1/health HTTP/1.1\r\n", 25);
    }
    nap(0.3);
    /* the health request waits (in the kernel's backlog, or is closed and asked again)
     * while the slow senders keep sending a line every 0.5 s: never idle */
    static const char health[] =
        "GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    static char raw[1 << 16];
    const double t0 = now();
    double last = 0;
    size_t got = 0;
    int fd = -1, ok = 0;
    while (!ok && now() - t0 < 12) {
        if (now() - last >= 0.5) {
            for (size_t i = 0; i < 4; i++)
                send_all(slow[i], "X-Slow: 1\r\n", 11);
            last = now();
        }
        if (fd < 0) {
            fd = connect_to(s.port);
            send_all(fd, health, strlen(health));
            got = 0;
        }
        const ssize_t r = recv(fd, raw + got, sizeof raw - 1 - got, MSG_DONTWAIT);
        if (r > 0) {
            got += (size_t)r;
            raw[got] = 0;
            ok = !strncmp(raw, "HTTP/1.1 200", 12) && strstr(raw, "\r\n\r\n");
        } else if (r == 0) { /* closed without an answer: ask again */
            close(fd);
            fd = -1;
        } else {
            nap(0.02);
        }
    }
    if (fd >= 0)
        close(fd);
    ck_assert_msg(ok, "/v1/health starved by slow headers for %.1f s", now() - t0);
    ck_assert_msg(now() - t0 < 6, "/v1/health answered only after %.1f s", now() - t0);
    for (size_t i = 0; i < 4; i++) { /* each slow connection was closed */
        char c;
        struct timeval tv = {2, 0};
        setsockopt(slow[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ck_assert_int_le(recv(slow[i], &c, 1, 0), 0);
        close(slow[i]);
    }
    stop_server(&s);
    remove_dir();
}
END_TEST

/* Two servers on one state directory (defect: the second emptied tmp/ under the first's
 * upload): the second refuses to start, and the first keeps its upload in progress */
START_TEST(test_service_lock)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    server_t s;
    start_server(&s, "serve", NULL);
    char kid[65], t[256], key[256], head[512];
    path(key, "client.key");
    register_key(kid, s.port, NULL);
    snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid);
    size_t len;
    char *b = make_batch("batch.bin", key, x, ROWS, &len);
    const int fd = connect_to(s.port); /* an upload in progress */
    snprintf(head, sizeof head,
             "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
             t, len);
    send_all(fd, head, strlen(head));
    send_all(fd, b, len / 2);
    nap(0.3);
    char plan[256], state[256];
    path(plan, "plan.cnp");
    path(state, "state");
    ck_assert_int_eq(tool("second", NULL,
                          (const char *[]){"serve", "--plan", plan, "--state-dir", state,
                                           "--listen", "127.0.0.1:0", NULL}),
                     1);
    char *err = err_of("second");
    ck_assert_msg(err && strstr(err, "another server is using this state directory"), "%s",
                  err ? err : "");
    free(err);
    send_all(fd, b + len / 2, len - len / 2);
    static char raw[1 << 16];
    recv_all(fd, raw, sizeof raw);
    close(fd);
    ck_assert_msg(!strncmp(raw, "HTTP/1.1 202", 12), "%.300s", raw);
    free(b);
    stop_server(&s);
    /* the lock goes with the process: a new server starts */
    start_server(&s, "serve2", NULL);
    stop_server(&s);
    remove_dir();
}
END_TEST

/* Polls job id (at most 60 s) until it is done or failed; its status document in a. */
static void wait_job(answer_t *a, int port, const char *token, const char *id)
{
    char t[256], st[32] = "";
    snprintf(t, sizeof t, "/v1/jobs/%.64s", id);
    for (const double t0 = now(); now() - t0 < 60; nap(0.05)) {
        ck_assert_int_eq(request(a, port, "GET", t, token, NULL, 0), 200);
        field(st, sizeof st, a, "state");
        if (!strcmp(st, "done") || !strcmp(st, "failed"))
            return;
    }
    ck_abort_msg("job %s: %s after 60 s", id, st);
}

/* The failure's error code and message of a status document. */
static void failure_of(const answer_t *a, char *code, char *msg, size_t cap)
{
    json_error_t je;
    json_t *o = json_loads(a->body, 0, &je);
    json_t *f = o ? json_object_get(o, "failure") : NULL;
    const char *c = json_string_value(json_object_get(f, "error"));
    const char *m = json_string_value(json_object_get(f, "message"));
    ck_assert_msg(c && m, "no failure: %s", a->body);
    snprintf(code, cap, "%s", c);
    snprintf(msg, cap, "%s", m);
    json_decref(o);
}

/* Why a job failed (defect: damaged ciphertexts were reported as "ID.reply: write failed",
 * a deleted key with the server's path of it): the library's diagnostic, as offline
 * `cryptonets eval` gives it, and never a path of the server */
START_TEST(test_service_job_reasons)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    char key[256], key2[256], keys[256], keys2[256], plan[256], badp[256], reply[256];
    path(key, "client.key");
    path(key2, "other.key");
    path(keys, "eval.keys");
    path(keys2, "other.keys");
    path(plan, "plan.cnp");
    path(badp, "bad.bin");
    path(reply, "reply.bin");
    ck_assert_int_eq(
        tool("keygen", NULL,
             (const char *[]){"keygen", plan, "-o", key2, "--eval-keys", keys2, NULL}),
        0);
    server_t s;
    start_server(&s, "serve", (const char *[]){"--workers", "0", NULL});
    char k1[65], k2[65], t[256];
    register_key(k1, s.port, NULL);
    size_t len, l2;
    char *b2 = slurp(keys2, &l2), *b = make_batch("batch.bin", key, x, ROWS, &len);
    answer_t *a = malloc(sizeof *a);
    ck_assert_int_eq(request(a, s.port, "POST", "/v1/keys", NULL, b2, l2), 201);
    field(k2, sizeof k2, a, "key");
    free(b2);
    b[96 + 24 + 40] ^= 0x55; /* damaged ciphertexts in a well-formed container */
    write_bytes(badp, b, len);
    snprintf(t, sizeof t, "/v1/jobs?key=%.64s", k1);
    ck_assert_int_eq(request(a, s.port, "POST", t, NULL, b, len), 202);
    char jbad[65], jkey[65];
    field(jbad, sizeof jbad, a, "job");
    free(b);
    b = make_batch("batch2.bin", key2, x, ROWS, &len);
    snprintf(t, sizeof t, "/v1/jobs?key=%.64s", k2);
    ck_assert_int_eq(request(a, s.port, "POST", t, NULL, b, len), 202);
    field(jkey, sizeof jkey, a, "job");
    free(b);
    snprintf(t, sizeof t, "/v1/keys/%.64s", k2); /* its key is gone before it runs */
    expect(s.port, "DELETE", t, NULL, NULL, 0, 200, NULL);
    stop_server(&s);
    start_server(&s, "serve2", NULL);
    char code[512], msg[512];
    wait_job(a, s.port, NULL, jbad);
    failure_of(a, code, msg, sizeof code);
    ck_assert_str_eq(code, "bad_batch");
    ck_assert_int_eq(
        tool("eval", NULL,
             (const char *[]){"eval", plan, keys, badp, "-o", reply, "--quiet", NULL}),
        1);
    char *offline = err_of("eval");
    ck_assert_msg(offline && strstr(offline, msg) && !strncmp(msg, "batch 1: ", 9),
                  "the job says '%s', offline eval '%s'", msg, offline ? offline : "");
    free(offline);
    wait_job(a, s.port, NULL, jkey);
    failure_of(a, code, msg, sizeof code);
    ck_assert_str_eq(code, "unknown_key");
    ck_assert_msg(!strstr(msg, dir) && !strstr(msg, "tenants") && !strstr(msg, ".keys"), "%s",
                  msg);
    snprintf(t, sizeof t, "/v1/jobs/%.64s/result", jkey);
    expect(s.port, "GET", t, NULL, NULL, 0, 422, "job_failed");
    request(a, s.port, "GET", t, NULL, NULL, 0);
    ck_assert_msg(!strstr(a->body, dir) && !strstr(a->body, "tenants"), "%s", a->body);
    free(a);
    stop_server(&s);
    remove_dir();
}
END_TEST

/* Long polls (GET /v1/jobs/ID?wait=S): the answer comes when the time is up (the job
 * still queued: a server with no worker), at once when the job changes (deleted by
 * another request), at once for a finished job and for S = 0, and when the server stops
 * (SIGTERM answers the suspended polls before it exits 0); bad S is 400 */
START_TEST(test_service_long_poll)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    char key[256], t[256], j1[65], j2[65];
    path(key, "client.key");
    server_t s;
    start_server(&s, "serve", (const char *[]){"--workers", "0", NULL});
    char kid[65];
    register_key(kid, s.port, NULL);
    answer_t *a = malloc(sizeof *a);
    size_t len;
    char *b = make_batch("batch.bin", key, x, 2, &len);
    snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid);
    ck_assert_int_eq(request(a, s.port, "POST", t, NULL, b, len), 202);
    field(j1, sizeof j1, a, "job");
    free(b);
    b = make_batch("batch2.bin", key, x, 3, &len);
    ck_assert_int_eq(request(a, s.port, "POST", t, NULL, b, len), 202);
    field(j2, sizeof j2, a, "job");
    free(b);
    /* the time runs out: still queued, after about the time asked for */
    snprintf(t, sizeof t, "/v1/jobs/%.64s?wait=1.5", j1);
    double t0 = now();
    ck_assert_int_eq(request(a, s.port, "GET", t, NULL, NULL, 0), 200);
    double dt = now() - t0;
    char st[32];
    field(st, sizeof st, a, "state");
    ck_assert_str_eq(st, "queued");
    ck_assert_msg(dt >= 1.4 && dt < 10, "answered after %.2f s", dt);
    /* 0 and bad values */
    snprintf(t, sizeof t, "/v1/jobs/%.64s?wait=0", j1);
    t0 = now();
    ck_assert_int_eq(request(a, s.port, "GET", t, NULL, NULL, 0), 200);
    ck_assert(now() - t0 < 1);
    const char *bad[] = {"abc", "-1", "61", "1x", ""};
    for (size_t i = 0; i < 5; i++) {
        snprintf(t, sizeof t, "/v1/jobs/%.64s?wait=%s", j1, bad[i]);
        expect(s.port, "GET", t, NULL, NULL, 0, 400, "bad_request");
    }
    /* the state the client last saw: another one than the job's answers at once */
    snprintf(t, sizeof t, "/v1/jobs/%.64s?wait=30&state=running", j1);
    t0 = now();
    ck_assert_int_eq(request(a, s.port, "GET", t, NULL, NULL, 0), 200);
    ck_assert_msg(now() - t0 < 5, "answered after %.2f s", now() - t0);
    snprintf(t, sizeof t, "/v1/jobs/%.64s?wait=1&state=queued", j1);
    t0 = now();
    ck_assert_int_eq(request(a, s.port, "GET", t, NULL, NULL, 0), 200);
    ck_assert(now() - t0 >= 0.9);
    snprintf(t, sizeof t, "/v1/jobs/%.64s?wait=1&state=bogus", j1);
    expect(s.port, "GET", t, NULL, NULL, 0, 400, "bad_request");
    /* a change (a DELETE from another connection) answers at once: 404, the job is gone */
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        nap(0.5);
        answer_t *ca = malloc(sizeof *ca);
        char ct[256];
        snprintf(ct, sizeof ct, "/v1/jobs/%.64s", j1);
        _exit(request(ca, s.port, "DELETE", ct, NULL, NULL, 0) == 200 ? 0 : 1);
    }
    snprintf(t, sizeof t, "/v1/jobs/%.64s?wait=30", j1);
    t0 = now();
    ck_assert_int_eq(request(a, s.port, "GET", t, NULL, NULL, 0), 404);
    dt = now() - t0;
    ck_assert_msg(dt >= 0.4 && dt < 10, "answered after %.2f s", dt);
    int cs;
    ck_assert_int_eq(waitpid(child, &cs, 0), child);
    ck_assert(WIFEXITED(cs) && WEXITSTATUS(cs) == 0);
    /* SIGTERM: the suspended poll is answered, the server exits cleanly (the signal once
     * the poll is waiting: /metrics counts it) */
    child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        answer_t *ca = malloc(sizeof *ca);
        for (const double c0 = now(); now() - c0 < 20; nap(0.05))
            if (request(ca, s.port, "GET", "/metrics", NULL, NULL, 0) == 200 &&
                strstr(ca->body, "\ncryptonets_long_polls 1"))
                break;
        kill(s.pid, SIGTERM);
        _exit(0);
    }
    snprintf(t, sizeof t, "/v1/jobs/%.64s?wait=30", j2);
    t0 = now();
    ck_assert_int_eq(request(a, s.port, "GET", t, NULL, NULL, 0), 200);
    dt = now() - t0;
    field(st, sizeof st, a, "state");
    ck_assert_str_eq(st, "queued");
    ck_assert_msg(dt < 25, "answered after %.2f s", dt);
    ck_assert_int_eq(waitpid(child, &cs, 0), child);
    ck_assert_int_eq(finish(s.pid, s.tag, 60), 0);
    /* a finished job is answered at once */
    start_server(&s, "serve2", NULL);
    snprintf(t, sizeof t, "/v1/jobs/%.64s", j2);
    wait_job(a, s.port, NULL, j2);
    snprintf(t, sizeof t, "/v1/jobs/%.64s?wait=30", j2);
    t0 = now();
    ck_assert_int_eq(request(a, s.port, "GET", t, NULL, NULL, 0), 200);
    ck_assert(now() - t0 < 5);
    field(st, sizeof st, a, "state");
    ck_assert_str_eq(st, "done");
    free(a);
    stop_server(&s);
    remove_dir();
}
END_TEST

/* A plan of the packed layout (compiled with --batch-size 1 --layout packed) through the
 * service: serve starts on it (it refused such plans before), infer registers the packed
 * evaluation keys and sends one request per input, and the outputs equal the plan's
 * integer network (twice: the second run finds its key registered); a client key of
 * the batched plan is refused as made for another plan (exit status 3) */
START_TEST(test_service_packed)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    char model[256], plan[256], pkey[256], pkeys[300], in[256], out[256], key[256];
    path(model, "model.cnm");
    path(plan, "packed.cnp");
    path(pkey, "packed.key");
    snprintf(pkeys, sizeof pkeys, "%s.eval-keys", pkey);
    path(in, "in.csv");
    path(out, "out.csv");
    path(key, "client.key");
    ck_assert_int_eq(
        tool("pcompile", NULL,
             (const char *[]){"compile", model, "-o", plan, "--weight-bits", "6",
                              "--batch-size", "1", "--layout", "packed", "--quiet", NULL}),
        0);
    ck_assert_int_eq(
        tool("pkeygen", NULL,
             (const char *[]){"keygen", plan, "-o", pkey, "--eval-keys", pkeys, NULL}),
        0);
    char state[256], port[256];
    path(state, "pstate");
    path(port, "pserve.port");
    server_t s = {0};
    snprintf(s.tag, sizeof s.tag, "pserve");
    s.pid = spawn("pserve", NULL,
                  (const char *[]){"serve", "--plan", plan, "--state-dir", state, "--listen",
                                   "127.0.0.1:0", "--port-file", port, "--threads", "1",
                                   "--max-batches", "8", NULL});
    char *text = NULL;
    for (const double t0 = now(); !(text = slurp(port, NULL)) && now() - t0 < 60; nap(0.05)) {
        int st;
        ck_assert_msg(waitpid(s.pid, &st, WNOHANG) != s.pid, "%s", err_of("pserve"));
    }
    ck_assert_ptr_nonnull(text);
    s.port = atoi(text);
    free(text);
    ck_assert_msg(infer("pinfer", s.port, NULL, pkey, in, out, NULL, NULL) == 0, "%s",
                  err_of("pinfer"));
    check_plan_outputs(out, "packed.cnp", x, ROWS, NOUT);
    /* the same inputs again: the key is registered, a new job */
    unlink(out);
    ck_assert_msg(infer("pinfer2", s.port, NULL, pkey, in, out, NULL, NULL) == 0, "%s",
                  err_of("pinfer2"));
    check_plan_outputs(out, "packed.cnp", x, ROWS, NOUT);
    /* a client key of the batched plan is refused: another plan (exit status 3) */
    ck_assert_int_eq(infer("binfer", s.port, NULL, key, in, out, NULL, NULL), 3);
    stop_server(&s);
    remove_dir();
}
END_TEST

/* The status line's code of a raw request text, sent on a fresh connection. */
static int raw_status(int port, const char *text, char *body, size_t cap)
{
    const int fd = connect_to(port);
    send_all(fd, text, strlen(text));
    char buf[4096];
    recv_all(fd, buf, sizeof buf);
    close(fd);
    const char *b = strstr(buf, "\r\n\r\n");
    snprintf(body, cap, "%s", b ? b + 4 : "");
    int code = 0;
    sscanf(buf, "HTTP/1.%*d %d", &code);
    return code;
}

/* Leftovers of a user's trial (2026-11-30), each checked to fail before its fix:
 * - framing libmicrohttpd accepts: an HTTP/1.1 request without Host, two Host headers,
 *   two Content-Length headers that differ: 400 (RFC 9112 3.2, 6.3); HTTP/1.0 without
 *   Host stays fine;
 * - infer --job ID resumes a job whose --wait ran out (the message names the command);
 * - a CSV value in hexadecimal (0x5, which strtod reads) is refused with its line and
 *   column;
 * - keygen's eval_key_bytes is the library's key bytes, as run's: the file less its 120
 *   bytes of container. */
START_TEST(test_service_leftovers)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    char key[256], keys[256], plan[256], in[256], out[256], hex[256];
    path(key, "client.key");
    path(keys, "eval.keys");
    path(plan, "plan.cnp");
    path(in, "in.csv");
    path(out, "out.csv");
    path(hex, "hex.csv");
    server_t s;
    start_server(&s, "serve", (const char *[]){"--workers", "0", NULL});
    char body[1024];
    ck_assert_int_eq(raw_status(s.port, "GET /v1/health HTTP/1.1\r\nConnection: close\r\n\r\n",
                                body, sizeof body),
                     400);
    ck_assert_msg(strstr(body, "bad_request") && strstr(body, "Host"), "%s", body);
    ck_assert_int_eq(raw_status(s.port,
                                "GET /v1/health HTTP/1.1\r\nHost: a\r\nHost: b\r\n"
                                "Connection: close\r\n\r\n",
                                body, sizeof body),
                     400);
    ck_assert_int_eq(raw_status(s.port,
                                "POST /v1/keys HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                                "Content-Length: 7\r\n\r\nhello",
                                body, sizeof body),
                     400);
    ck_assert_msg(strstr(body, "Content-Length"), "%s", body);
    ck_assert_int_eq(raw_status(s.port, "GET /v1/health HTTP/1.0\r\n\r\n", body, sizeof body),
                     200);
    ck_assert_int_eq(raw_status(s.port,
                                "GET /v1/health HTTP/1.1\r\nHost: a\r\nConnection: close"
                                "\r\n\r\n",
                                body, sizeof body),
                     200);
    /* --wait runs out (no worker): the job stays, and --job resumes it after a restart */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    ck_assert_int_eq(tool("waitout", NULL,
                          (const char *[]){"infer", "--server", url, "--key", key, in, "-o",
                                           out, "--raw", "--wait", "1", NULL}),
                     1);
    char *err = err_of("waitout");
    const char *jp = err ? strstr(err, "--job ") : NULL;
    ck_assert_msg(jp != NULL, "%s", err ? err : "");
    char job[65];
    snprintf(job, sizeof job, "%.64s", jp + 6);
    free(err);
    ck_assert_int_eq(
        tool("both", NULL,
             (const char *[]){"infer", "--server", url, "--key", key, in, "--job", job, NULL}),
        2);
    ck_assert_int_eq(
        tool("badjob", NULL,
             (const char *[]){"infer", "--server", url, "--key", key, "--job", "xyz", NULL}),
        2);
    stop_server(&s);
    start_server(&s, "serve2", NULL);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    unlink(out);
    ck_assert_msg(tool("resume", NULL,
                       (const char *[]){"infer", "--server", url, "--key", key, "--job", job,
                                        "-o", out, "--raw", NULL}) == 0,
                  "%s", err_of("resume"));
    check_outputs(out, x, ROWS);
    answer_t *a = malloc(sizeof *a);
    char t[128];
    snprintf(t, sizeof t, "/v1/jobs/%.64s", job); /* downloaded, then deleted */
    ck_assert_int_eq(request(a, s.port, "GET", t, NULL, NULL, 0), 404);
    free(a);
    /* hexadecimal in a CSV */
    char line[8 * NIN + 8] = "";
    for (int i = 0; i < NIN; i++)
        strcat(line, i == 1 ? "0x5," : "1,");
    line[strlen(line) - 1] = '\n';
    write_bytes(hex, line, strlen(line));
    ck_assert_int_eq(
        tool("hex", NULL,
             (const char *[]){"infer", "--server", url, "--key", key, hex, "-o", out, NULL}),
        1);
    err = err_of("hex");
    ck_assert_msg(err && strstr(err, "line 1, column 2: '0x5' is hexadecimal"), "%s",
                  err ? err : "");
    free(err);
    stop_server(&s);
    /* keygen's eval_key_bytes: the keys, not the file */
    char k3[256], e3[256], j3[256];
    path(k3, "k3.key");
    path(e3, "k3.keys");
    path(j3, "keygen3.out");
    ck_assert_int_eq(
        tool("keygen3", NULL,
             (const char *[]){"keygen", plan, "-o", k3, "--eval-keys", e3, "--json", NULL}),
        0);
    char *js = slurp(j3, NULL); /* --json goes to stdout */
    ck_assert_ptr_nonnull(js);
    const char *kb = strstr(js, "\"eval_key_bytes\":");
    ck_assert_msg(kb != NULL, "%s", js);
    struct stat sb;
    ck_assert_int_eq(stat(e3, &sb), 0);
    ck_assert_int_eq(strtoll(kb + 17, NULL, 10), (long long)sb.st_size - 120);
    free(js);
    remove_dir();
}
END_TEST

/* Odd bytes in a URL (defect: /v1/keys/%ff got no answer, json_pack refusing the invalid
 * UTF-8 quoted in the message): 404 with a JSON error, for every route that quotes it */
START_TEST(test_service_odd_bytes)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    server_t s;
    start_server(&s, "serve", NULL);
    static const char *const targets[] = {
        "/v1/keys/%ff", "/v1/jobs/%ff%fe", "/v1/jobs/\xff\xfe", "/v1/keys/\xc3",
        "/v1/\xff",     "/v1/jobs/%00x",   "/%ff%c3%28",        "/v1/keys/%1b[31m"};
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++)
        expect(s.port, "GET", targets[i], NULL, NULL, 0, 404, NULL);
    answer_t *a = malloc(sizeof *a);
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
        request(a, s.port, "DELETE", targets[i], NULL, NULL, 0);
        json_error_t je;
        json_t *o = json_loads(a->body, 0, &je);
        ck_assert_msg(a->status == 404 && o, "DELETE %s: %d %s", targets[i], a->status,
                      a->body);
        json_decref(o);
    }
    expect(s.port, "PUT", "/v1/keys/\xff", NULL, NULL, 0, 405, "method_not_allowed");
    free(a);
    stop_server(&s);
    remove_dir();
}
END_TEST

/* POST of body in chunks (Transfer-Encoding: chunked, no Content-Length); the status and
 * the JSON error code (0 and "" when the server closed without an answer). */
static int post_chunked(char code[32], int port, const char *target, const char *body,
                        size_t blen)
{
    char head[512];
    snprintf(head, sizeof head,
             "POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
             "Connection: close\r\n\r\n",
             target);
    const int fd = connect_to(port);
    send_all(fd, head, strlen(head));
    for (size_t off = 0; off < blen; off += 65536) {
        const size_t n = blen - off < 65536 ? blen - off : 65536;
        char sz[32];
        snprintf(sz, sizeof sz, "%zx\r\n", n);
        send_all(fd, sz, strlen(sz));
        send_all(fd, body + off, n);
        send_all(fd, "\r\n", 2);
    }
    send_all(fd, "0\r\n\r\n", 5);
    static char raw[1 << 16];
    recv_all(fd, raw, sizeof raw);
    close(fd);
    code[0] = 0;
    const char *e = strstr(raw, "\"error\":\"");
    if (e)
        snprintf(code, 32, "%.*s", (int)strcspn(e + 9, "\""), e + 9);
    return strncmp(raw, "HTTP/1.1 ", 9) ? 0 : atoi(raw + 9);
}

/* Chunked uploads get the answers of the same bodies with a Content-Length (defect: one
 * past the size limit was dropped without an answer): 400 for bytes after the last batch,
 * 413 past the plan's size, 202 for a good batch */
START_TEST(test_service_chunked)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    server_t s;
    start_server(&s, "serve", (const char *[]){"--workers", "0", "--max-batches", "2", NULL});
    char kid[65], t[256], key[256], code[32];
    path(key, "client.key");
    register_key(kid, s.port, NULL);
    snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid);
    size_t len;
    char *b = make_batch("batch.bin", key, x, ROWS, &len);
    const size_t big = 4 * len + 4096; /* past 96 + 2 records */
    char *padded = calloc(1, big);
    memcpy(padded, b, len);
    expect(s.port, "POST", t, NULL, padded, len + 1, 400, "bad_batch");
    ck_assert_int_eq(post_chunked(code, s.port, t, padded, len + 1), 400);
    ck_assert_str_eq(code, "bad_batch");
    expect(s.port, "POST", t, NULL, padded, big, 413, "too_large");
    ck_assert_int_eq(post_chunked(code, s.port, t, padded, big), 413);
    ck_assert_str_eq(code, "too_large");
    memset(padded, 'x', big); /* garbage from the first byte, past the size too */
    ck_assert_int_eq(post_chunked(code, s.port, t, padded, big), 413);
    expect(s.port, "POST", "/v1/keys", NULL, padded, big, 413, "too_large");
    ck_assert_int_eq(post_chunked(code, s.port, "/v1/keys", padded, big), 413);
    ck_assert_str_eq(code, "too_large");
    ck_assert_int_eq(post_chunked(code, s.port, t, b, len), 202);
    free(padded);
    free(b);
    stop_server(&s);
    remove_dir();
}
END_TEST

/* Uploads in progress count against the job limits (defect: with --tenant-jobs 2, four
 * concurrent uploads of one tenant all streamed to tmp/): a third is refused at its
 * headers; a closed upload gives its place back */
START_TEST(test_service_upload_limits)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    server_t s;
    start_server(&s, "serve", (const char *[]){"--workers", "0", "--tenant-jobs", "2", NULL});
    char kid[65], t[256], key[256], head[512];
    path(key, "client.key");
    register_key(kid, s.port, NULL);
    snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid);
    size_t len, l2;
    char *b = make_batch("batch.bin", key, x, ROWS, &len);
    char *b2 = make_batch("batch2.bin", key, x, 2, &l2);
    snprintf(head, sizeof head,
             "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
             t, len);
    int up[2];
    for (size_t i = 0; i < 2; i++) { /* two uploads in progress */
        up[i] = connect_to(s.port);
        send_all(up[i], head, strlen(head));
        send_all(up[i], b, len / 2);
    }
    nap(0.3);
    expect(s.port, "POST", t, NULL, b2, l2, 429, "tenant_full");
    close(up[0]); /* gone: its place is free again */
    nap(0.3);
    expect(s.port, "POST", t, NULL, b2, l2, 202, NULL);
    send_all(up[1], b + len / 2, len - len / 2);
    static char raw[1 << 16];
    recv_all(up[1], raw, sizeof raw);
    close(up[1]);
    ck_assert_msg(!strncmp(raw, "HTTP/1.1 202", 12), "%.300s", raw);
    char *b3 = make_batch("batch3.bin", key, x, 3, &len);
    expect(s.port, "POST", t, NULL, b3, len, 429, "tenant_full");
    free(b3);
    free(b2);
    free(b);
    stop_server(&s);
    remove_dir();
}
END_TEST

/* A number field of a status document (0 when absent). */
static double number_of(const answer_t *a, const char *name)
{
    json_error_t je;
    json_t *o = json_loads(a->body, 0, &je);
    const double v = o ? json_number_value(json_object_get(o, name)) : 0;
    json_decref(o);
    return v;
}

/* The state at start (defects: a truncated .job beside its .reply removed silently, a
 * .batch without a .job left forever, finished jobs' timings lost): every repair is
 * logged, orphans are removed, timings survive a restart */
START_TEST(test_service_state_repair)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    server_t s;
    start_server(&s, "serve", NULL);
    char kid[65], t[256], key[256], job[65];
    path(key, "client.key");
    register_key(kid, s.port, NULL);
    snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid);
    size_t len;
    char *b = make_batch("batch.bin", key, x, ROWS, &len);
    answer_t *a = malloc(sizeof *a);
    ck_assert_int_eq(request(a, s.port, "POST", t, NULL, b, len), 202);
    field(job, sizeof job, a, "job");
    free(b);
    wait_job(a, s.port, NULL, job);
    const double started = number_of(a, "started"), secs = number_of(a, "seconds");
    ck_assert(started > 0 && secs > 0);
    /* every file of the state, the reply among them, is the server's alone (defect: ID.reply
     * was 0644) */
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "test -z \"$(find %s/state -perm /077)\" && ls %s/state/tenants/*/jobs/*.reply "
             ">/dev/null",
             dir, dir);
    ck_assert_msg(system(cmd) == 0, "files of the state readable by others (or no reply)");
    stop_server(&s);
    /* damage: an orphan batch, a truncated description beside a reply */
    char jobs[256], p[512];
    snprintf(jobs, sizeof jobs, "%s/state/tenants/anonymous/jobs", dir);
    const char *orphan = "1111111111111111111111111111111111111111111111111111111111111111";
    const char *trunc = "2222222222222222222222222222222222222222222222222222222222222222";
    snprintf(p, sizeof p, "%s/%s.batch", jobs, orphan);
    write_bytes(p, "x", 1);
    snprintf(p, sizeof p, "%s/%s.job", jobs, trunc);
    write_bytes(p, "{\"id\":", 6);
    snprintf(p, sizeof p, "%s/%s.reply", jobs, trunc);
    write_bytes(p, "y", 1);
    start_server(&s, "serve2", NULL);
    char *log = err_of("serve2");
    ck_assert_msg(log && strstr(log, orphan) && strstr(log, trunc) &&
                      strstr(log, "state repaired"),
                  "%s", log ? log : "");
    free(log);
    snprintf(p, sizeof p, "%s/%s.batch", jobs, orphan);
    ck_assert_int_ne(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/%s.reply", jobs, trunc);
    ck_assert_int_ne(access(p, F_OK), 0);
    /* the finished job's timings, as before the restart */
    snprintf(t, sizeof t, "/v1/jobs/%.64s", job);
    ck_assert_int_eq(request(a, s.port, "GET", t, NULL, NULL, 0), 200);
    ck_assert_msg(fabs(number_of(a, "started") - started) < 1e-3 &&
                      fabs(number_of(a, "seconds") - secs) < 1e-6,
                  "%s (started %f, seconds %f before)", a->body, started, secs);
    free(a);
    stop_server(&s);
    remove_dir();
}
END_TEST

/* Downloads job id's result, decrypts it with the tool and compares it with the integer
 * network on the first rows of x. */
static void result_right(int port, const char *id, const char *key, const int64_t *x,
                         size_t rows)
{
    char head[512];
    snprintf(head, sizeof head,
             "GET /v1/jobs/%.64s/result HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", id);
    const int fd = connect_to(port);
    send_all(fd, head, strlen(head));
    static char raw[1 << 24];
    const size_t got = recv_all(fd, raw, sizeof raw);
    close(fd);
    ck_assert_msg(!strncmp(raw, "HTTP/1.1 200", 12), "%.200s", raw);
    const char *body = strstr(raw, "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    body += 4;
    char reply[256], out[256], plan[256];
    path(reply, "reply.bin");
    path(out, "out.csv");
    path(plan, "plan.cnp");
    write_bytes(reply, body, got - (size_t)(body - raw));
    ck_assert_int_eq(
        tool("decrypt", NULL,
             (const char *[]){"decrypt", key, reply, "--plan", plan, "--raw", "-o", out, NULL}),
        0);
    check_outputs(out, x, rows);
}

/* The names in the tenant's jobs directory, space-separated (at most cap bytes). */
static void jobs_dir(char *out, size_t cap)
{
    char p[256];
    snprintf(p, sizeof p, "%s/state/tenants/anonymous/jobs", dir);
    out[0] = 0;
    DIR *d = opendir(p);
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.') {
            const size_t k = strlen(out);
            snprintf(out + k, cap - k, "%s ", e->d_name);
        }
    closedir(d);
}

/* Evaluation before the 202 (docs/service.md): a worker starts a job as soon as its body
 * is in and checked, while the server makes it durable; the 202 still waits for that; a
 * server killed before it leaves nothing of the job (no result for a job that was never
 * accepted), and a failed fsync answers 500 and leaves nothing either. The fault hook
 * CRYPTONETS_SERVE_FAULT holds the server at the worst moment or fails the fsync. The
 * job id is checked against SHA-256 computed here (libsodium's, not the server's GnuTLS) */
START_TEST(test_service_early_start)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    server_t s;
    setenv("CRYPTONETS_SERVE_FAULT", "stall=2", 1);
    start_server(&s, "serve", NULL);
    unsetenv("CRYPTONETS_SERVE_FAULT");
    char kid[65], key[256], t[256], job[65], st[32];
    path(key, "client.key");
    register_key(kid, s.port, NULL);
    snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid);
    size_t len;
    char *b = make_batch("batch.bin", key, x, ROWS, &len);
    /* the job id (docs/service.md, "Identifiers"): with K1, K2 the two halves of
     * STATE/job-id.key, HMAC-SHA-256 under K2 of the GMAC under K1 (AES-256, the nonce
     * "cn job id 3.") of "cryptonets job 3\0", the key id in hex and the body. The oracle
     * is libsodium's AES-256-GCM (its tag over an empty plaintext is the GMAC of the
     * associated data) and HMAC-SHA-256, another implementation than the server's GnuTLS;
     * libsodium has AES-GCM only with AES-NI, so without it the id is not checked. */
    char want[65] = "";
    char kp[256];
    path(kp, "state/job-id.key");
    size_t kl;
    uint8_t *jk = (uint8_t *)slurp(kp, &kl);
    ck_assert_uint_eq(kl, 64);
    if (crypto_aead_aes256gcm_is_available()) {
        uint8_t *ad = malloc(17 + 64 + len), tag[16], h[32];
        ck_assert_ptr_nonnull(ad);
        memcpy(ad, "cryptonets job 3", 17);
        memcpy(ad + 17, kid, 64);
        memcpy(ad + 81, b, len);
        unsigned long long tl;
        uint8_t none = 0; /* the empty plaintext's (and ciphertext's) place */
        ck_assert_int_eq(
            crypto_aead_aes256gcm_encrypt_detached(&none, tag, &tl, &none, 0, ad, 81 + len,
                                                   NULL, (const uint8_t *)"cn job id 3.", jk),
            0);
        ck_assert_uint_eq(tl, 16);
        crypto_auth_hmacsha256_state hs;
        crypto_auth_hmacsha256_init(&hs, jk + 32, 32);
        crypto_auth_hmacsha256_update(&hs, tag, 16);
        crypto_auth_hmacsha256_final(&hs, h);
        for (size_t i = 0; i < 32; i++)
            snprintf(want + 2 * i, 3, "%02x", h[i]);
        free(ad);
    }
    free(jk);
    answer_t *a = malloc(sizeof *a);
    double t0 = now();
    ck_assert_int_eq(request(a, s.port, "POST", t, NULL, b, len), 202);
    const double took = now() - t0;
    field(job, sizeof job, a, "job");
    if (want[0])
        ck_assert_str_eq(job, want);
    /* held 2 s before the 202, during which the job started (the tiny model's evaluation
     * takes milliseconds: it ended and waited for the job to be durable) */
    field(st, sizeof st, a, "state");
    ck_assert_msg(took >= 2 && !strcmp(st, "running") &&
                      number_of(a, "started") - number_of(a, "created") < 1.5,
                  "%.2f s: %s", took, a->body);
    wait_job(a, s.port, NULL, job);
    field(st, sizeof st, a, "state");
    ck_assert_msg(!strcmp(st, "done"), "%s", a->body);
    result_right(s.port, job, key, x, ROWS);
    snprintf(t, sizeof t, "/v1/jobs/%.64s", job);
    expect(s.port, "DELETE", t, NULL, NULL, 0, 200, NULL);
    /* its worker removes its files once it ends (a DELETE just after a job is done is
     * answered at once; the files go when the worker wakes): until then the same bytes
     * would get 503 busy */
    char names[4096] = "";
    for (const double d0 = now(); now() - d0 < 10; nap(0.05)) {
        jobs_dir(names, sizeof names);
        if (!names[0])
            break;
    }

    /* kill -9 while held: the description is on disk, the batch in tmp/, the reply
     * evaluated and waiting; after the restart nothing of the job is left, and the same
     * upload is a new job */
    snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid);
    char head[512];
    snprintf(head, sizeof head,
             "POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n",
             t, len);
    int fd = connect_to(s.port);
    send_all(fd, head, strlen(head));
    send_all(fd, b, len);
    names[0] = 0;
    t0 = now();
    /* the hold begins once the description is renamed into place ("ID.job "): the
     * worker's reply may be waiting before that (a tiny model evaluates in microseconds) */
    while (now() - t0 < 1.8 && !(strstr(names, ".reply.partial-") && strstr(names, ".job ")))
        nap(0.02), jobs_dir(names, sizeof names);
    ck_assert_msg(strstr(names, ".reply.partial-") && strstr(names, ".job ") &&
                      !strstr(names, ".batch"),
                  "not held with a reply waiting: %s", names);
    kill_server(&s);
    char raw[256];
    ck_assert_uint_eq(recv_all(fd, raw, sizeof raw), 0); /* no 202 */
    close(fd);
    start_server(&s, "serve2", NULL);
    jobs_dir(names, sizeof names);
    ck_assert_msg(names[0] == 0, "left after the crash: %s", names);
    char *log = err_of("serve2");
    ck_assert_msg(log && strstr(log, "never accepted"), "%s", log ? log : "");
    free(log);
    snprintf(t, sizeof t, "/v1/jobs/%.64s", job);
    expect(s.port, "GET", t, NULL, NULL, 0, 404, "not_found");
    snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid);
    ck_assert_int_eq(request(a, s.port, "POST", t, NULL, b, len), 202);
    ck_assert_ptr_null(strstr(a->body, "duplicate"));
    wait_job(a, s.port, NULL, job);
    result_right(s.port, job, key, x, ROWS);
    snprintf(t, sizeof t, "/v1/jobs/%.64s", job);
    expect(s.port, "DELETE", t, NULL, NULL, 0, 200, NULL);
    stop_server(&s);

    /* a failed fsync: 500, nothing stored, nothing evaluated is kept; a retry is new */
    setenv("CRYPTONETS_SERVE_FAULT", "fsync=1", 1);
    start_server(&s, "serve3", NULL);
    unsetenv("CRYPTONETS_SERVE_FAULT");
    snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid);
    expect(s.port, "POST", t, NULL, b, len, 500, "internal");
    nap(0.5); /* a worker that took the job has ended it */
    jobs_dir(names, sizeof names);
    ck_assert_msg(names[0] == 0, "left after a failed fsync: %s", names);
    ck_assert_int_eq(metric(s.port, "cryptonets_jobs{state=\"queued\"} "), 0);
    ck_assert_int_eq(metric(s.port, "cryptonets_jobs{state=\"running\"} "), 0);
    ck_assert_int_eq(metric(s.port, "cryptonets_jobs{state=\"failed\"} "), 0);
    snprintf(t, sizeof t, "/v1/jobs/%.64s", job);
    expect(s.port, "GET", t, NULL, NULL, 0, 404, "not_found");
    snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid);
    ck_assert_int_eq(request(a, s.port, "POST", t, NULL, b, len), 202);
    ck_assert_ptr_null(strstr(a->body, "duplicate"));
    wait_job(a, s.port, NULL, job);
    result_right(s.port, job, key, x, ROWS);
    free(a);
    free(b);
    stop_server(&s);
    remove_dir();
}
END_TEST

/* Done at once (docs/service.md, "Evaluation before the 202" and "GET /v1/jobs/ID"): a
 * job is done, and its long polls answered, as soon as its reply is durable under its
 * name; its description's timings and the removal of its batch follow. The fault hook
 * CRYPTONETS_SERVE_FAULT=finish=S holds the worker S seconds in between: the job is done
 * and its result right during the hold; a DELETE then is answered at once and the job is
 * gone, and nothing of it is left once the worker ends (it wrote no description after the
 * DELETE); a server killed during the hold finds the job done after its restart, the
 * batch removed, the result right. */
START_TEST(test_service_done_early)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    server_t s;
    setenv("CRYPTONETS_SERVE_FAULT", "finish=3", 1);
    start_server(&s, "serve", NULL);
    unsetenv("CRYPTONETS_SERVE_FAULT");
    char kid[65], key[256], t[256], job[65], st[32], names[4096];
    path(key, "client.key");
    register_key(kid, s.port, NULL);
    size_t len;
    char *b = make_batch("batch.bin", key, x, ROWS, &len);
    answer_t *a = malloc(sizeof *a);
    ck_assert_ptr_nonnull(a);
    for (int round = 0; round < 2; round++) {
        snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid);
        const double t0 = now();
        ck_assert_int_eq(request(a, s.port, "POST", t, NULL, b, len), 202);
        field(job, sizeof job, a, "job");
        /* a long poll from the state the 202 gave: answered done well before the hold ends */
        field(st, sizeof st, a, "state");
        while (strcmp(st, "done") != 0 && now() - t0 < 2) {
            snprintf(t, sizeof t, "/v1/jobs/%.64s?wait=10&state=%s", job, st);
            ck_assert_int_eq(request(a, s.port, "GET", t, NULL, NULL, 0), 200);
            field(st, sizeof st, a, "state");
        }
        ck_assert_msg(!strcmp(st, "done") && now() - t0 < 2, "%.2f s: %s", now() - t0, a->body);
        ck_assert(number_of(a, "finished") > 0 && number_of(a, "result_bytes") > 0);
        /* within the hold: the batch still there beside the reply, the result right */
        jobs_dir(names, sizeof names);
        ck_assert_msg(strstr(names, ".reply ") && strstr(names, ".batch "), "%s", names);
        result_right(s.port, job, key, x, ROWS);
        if (round == 0) {
            snprintf(t, sizeof t, "/v1/jobs/%.64s", job);
            const double d0 = now();
            expect(s.port, "DELETE", t, NULL, NULL, 0, 200, NULL);
            ck_assert(now() - d0 < 2);
            expect(s.port, "GET", t, NULL, NULL, 0, 404, "not_found");
            snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid);
            for (const double w0 = now(); now() - w0 < 10; nap(0.1)) {
                jobs_dir(names, sizeof names);
                if (!names[0])
                    break;
            }
            ck_assert_msg(names[0] == 0, "left after a DELETE in the hold: %s", names);
            nap(0.5); /* nothing reappears */
            jobs_dir(names, sizeof names);
            ck_assert_msg(names[0] == 0, "written after the DELETE: %s", names);
            ck_assert_int_eq(metric(s.port, "cryptonets_jobs{state=\"done\"} "), 0);
        } else {
            kill_server(&s);
            start_server(&s, "serve2", NULL);
            snprintf(t, sizeof t, "/v1/jobs/%.64s", job);
            ck_assert_int_eq(request(a, s.port, "GET", t, NULL, NULL, 0), 200);
            field(st, sizeof st, a, "state");
            ck_assert_str_eq(st, "done");
            jobs_dir(names, sizeof names);
            ck_assert_msg(!strstr(names, ".batch"), "%s", names);
            result_right(s.port, job, key, x, ROWS);
        }
    }
    free(a);
    free(b);
    stop_server(&s);
    remove_dir();
}
END_TEST

/* GET /v1/plan with If-None-Match (docs/service.md, "GET /v1/plan"; RFC 9110 13.1.2):
 * the plan's ETag, alone, in a list, weak, or "*": 304 without a body but with the
 * digest, the ETag and the job limits; another tag: 200 with the plan's bytes. The ETag
 * expected is SHA-256 of plan.cnp computed here (libsodium). */
static int plan_get(int port, const char *inm, char **body, size_t *blen, char *head,
                    size_t hcap)
{
    char req[512];
    snprintf(req, sizeof req,
             "GET /v1/plan HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s%s\r\n",
             inm ? "If-None-Match: " : "", inm ? inm : "", inm ? "\r\n" : "");
    const int fd = connect_to(port);
    send_all(fd, req, strlen(req));
    static char raw[1 << 23];
    const size_t got = recv_all(fd, raw, sizeof raw - 1);
    close(fd);
    raw[got] = 0;
    char *end = strstr(raw, "\r\n\r\n");
    ck_assert_ptr_nonnull(end);
    snprintf(head, hcap, "%.*s", (int)(end - raw), raw);
    *body = end + 4;
    *blen = got - (size_t)(end + 4 - raw);
    int status = 0;
    ck_assert_int_eq(sscanf(raw, "HTTP/1.1 %d", &status), 1);
    return status;
}

START_TEST(test_service_plan_etag)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    server_t s;
    start_server(&s, "serve", NULL);
    char plan[256], hex[65], tag[80], head[4096], inm[512];
    path(plan, "plan.cnp");
    size_t plen, blen;
    char *pb = slurp(plan, &plen), *body;
    uint8_t d[32];
    crypto_hash_sha256(d, (const uint8_t *)pb, plen);
    for (size_t i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    snprintf(tag, sizeof tag, "\"%s\"", hex);
    /* without the header, and with another tag: the bytes */
    const char *other = "\"0000000000000000000000000000000000000000000000000000000000000000\"";
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(plan_get(s.port, i ? other : NULL, &body, &blen, head, sizeof head),
                         200);
        ck_assert_uint_eq(blen, plen);
        ck_assert(memcmp(body, pb, plen) == 0);
        ck_assert_msg(strstr(head, tag), "%s", head);
    }
    const char *same[4] = {tag, NULL, NULL, "*"};
    snprintf(inm, sizeof inm, "%s, W/%s", other, tag);
    same[1] = inm;
    char weak[96];
    snprintf(weak, sizeof weak, "W/%s", tag);
    same[2] = weak;
    for (int i = 0; i < 4; i++) {
        ck_assert_msg(plan_get(s.port, same[i], &body, &blen, head, sizeof head) == 304,
                      "If-None-Match: %s: %s", same[i], head);
        ck_assert_uint_eq(blen, 0);
        ck_assert_msg(strstr(head, tag) && strstr(head, hex) &&
                          strstr(head, "X-Cryptonets-Max-Records: ") &&
                          strstr(head, "X-Cryptonets-Record-Inputs: "),
                      "%s", head);
    }
    free(pb);
    stop_server(&s);
    remove_dir();
}
END_TEST

/* Small things a new user found: the start-up line names the port listened on; --quiet
 * silences libmicrohttpd's lines too */
START_TEST(test_service_small)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    server_t s;
    start_server(&s, "serve", (const char *[]){"--max-connections", "1", NULL});
    char want[64];
    snprintf(want, sizeof want, "http://127.0.0.1:%d,", s.port);
    char *log = err_of("serve");
    ck_assert_msg(log && strstr(log, want), "no '%s' in: %s", want, log ? log : "");
    free(log);
    /* a connection past --max-connections makes libmicrohttpd log a line */
    int c1 = connect_to(s.port), c2 = connect_to(s.port);
    nap(0.3);
    close(c2);
    close(c1);
    /* (0.9.75 logs nothing for that: this passed on its option-order warning) a header
     * line without a colon it does log */
    static const char no_colon[] = "GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n";
    c1 = connect_to(s.port);
    send_all(c1, no_colon, sizeof no_colon - 1);
    nap(0.3);
    close(c1);
    stop_server(&s);
    log = err_of("serve");
    ck_assert_msg(log && strstr(log, "cryptonets serve: libmicrohttpd: "), "%s", log);
    free(log);
    start_server(&s, "quiet", (const char *[]){"--max-connections", "1", "--quiet", NULL});
    c1 = connect_to(s.port);
    c2 = connect_to(s.port);
    nap(0.3);
    close(c2);
    close(c1);
    c1 = connect_to(s.port);
    send_all(c1, no_colon, sizeof no_colon - 1);
    nap(0.3);
    close(c1);
    stop_server(&s);
    log = err_of("quiet");
    ck_assert_msg(!log || !*log, "--quiet, yet: %s", log);
    free(log);
    char tokens[256], plan[256], state[256];
    path(tokens, "tokens.txt");
    path(plan, "plan.cnp");
    path(state, "state");
    /* an empty bearer token is no credentials: 401, like none; a wrong one 403 */
    write_bytes(tokens, "alice alice-token-1\n", 20);
    start_server(&s, "auth", (const char *[]){"--tokens", tokens, NULL});
    static const char *const empty[] = {"Bearer", "Bearer ", "Bearer   ", "bearer \t"};
    static char raw[1 << 16];
    for (size_t i = 0; i < 4; i++) {
        char head[256];
        snprintf(head, sizeof head,
                 "GET /v1/plan HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
                 "Connection: close\r\n\r\n",
                 empty[i]);
        const int fd = connect_to(s.port);
        send_all(fd, head, strlen(head));
        recv_all(fd, raw, sizeof raw);
        close(fd);
        ck_assert_msg(!strncmp(raw, "HTTP/1.1 401", 12) && strstr(raw, "unauthorized"),
                      "'%s': %.200s", empty[i], raw);
    }
    expect(s.port, "GET", "/v1/plan", "x", NULL, 0, 403, "forbidden");
    /* a 405 says what is allowed (RFC 9110: Allow) */
    static const char *const m405[][3] = {
        {"PUT", "/v1/health", "Allow: GET, HEAD\r\n"},
        {"DELETE", "/v1/jobs", "Allow: GET, HEAD, POST\r\n"},
        {"PUT", "/v1/keys/ab", "Allow: GET, HEAD, DELETE\r\n"},
        {"POST", "/metrics", "Allow: GET, HEAD\r\n"}};
    for (size_t i = 0; i < 4; i++) {
        char head[256];
        snprintf(head, sizeof head,
                 "%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer alice-token-1\r\n"
                 "Content-Length: 0\r\nConnection: close\r\n\r\n",
                 m405[i][0], m405[i][1]);
        const int fd = connect_to(s.port);
        send_all(fd, head, strlen(head));
        recv_all(fd, raw, sizeof raw);
        close(fd);
        ck_assert_msg(!strncmp(raw, "HTTP/1.1 405", 12) && strstr(raw, m405[i][2]) &&
                          strstr(raw, "method_not_allowed"),
                      "%s %s: %.300s", m405[i][0], m405[i][1], raw);
    }
    stop_server(&s);
    /* --max-connections-per-ip: a third connection from 127.0.0.1 is closed unanswered,
     * and once the two others are gone a request gets through */
    start_server(&s, "perip", (const char *[]){"--max-connections-per-ip", "2", NULL});
    c1 = connect_to(s.port);
    c2 = connect_to(s.port);
    nap(0.3);
    answer_t *a = malloc(sizeof *a);
    ck_assert_int_eq(request(a, s.port, "GET", "/v1/health", NULL, NULL, 0), 0);
    close(c1);
    close(c2);
    nap(0.3);
    ck_assert_int_eq(request(a, s.port, "GET", "/v1/health", NULL, NULL, 0), 200);
    free(a);
    stop_server(&s);
    /* a tokens file may not name the tenant of a server without tokens */
    write_bytes(tokens, "anonymous anon-token-1\n", 23);
    ck_assert_int_eq(
        tool("anon", NULL,
             (const char *[]){"serve", "--plan", plan, "--state-dir", state, "--tokens", tokens,
                              "--listen", "127.0.0.1:0", NULL}),
        1);
    log = err_of("anon");
    ck_assert_msg(log && strstr(log, "'anonymous' is reserved"), "%s", log ? log : "");
    free(log);
    remove_dir();
}
END_TEST

/* --- what a new user found on a clean clone (issue 15) --------------------------------- */

/* The stderr of a run contains want (the log in the message on failure). */
static void err_has(const char *tag, const char *want)
{
    char *log = err_of(tag);
    ck_assert_msg(log && strstr(log, want), "%s: no '%s' in:\n%s", tag, want, log ? log : "");
    free(log);
}

static void err_lacks(const char *tag, const char *bad)
{
    char *log = err_of(tag);
    ck_assert_msg(!log || !strstr(log, bad), "%s: '%s' in:\n%s", tag, bad, log);
    free(log);
}

/* --state-dir: an ordinary directory is refused and nothing in it touched (defect: the
 * start-up repair emptied DIR/tmp); the repair removes only the server's own temporary
 * files and logs what it did; a port in use is refused clearly and leaves no state; the
 * start line counts finished jobs; serve's errors read "cryptonets serve: ..." */
START_TEST(test_service_state_dir)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    char plan[256], home[256], p[512], q[512];
    path(plan, "plan.cnp");
    path(home, "home");
    snprintf(p, sizeof p, "%s/tmp/sub", home);
    ck_assert_int_eq(mkdir(home, 0700), 0);
    snprintf(q, sizeof q, "%s/tmp", home);
    ck_assert_int_eq(mkdir(q, 0700), 0);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    snprintf(q, sizeof q, "%s/tmp/notes.txt", home);
    write_bytes(q, "mine\n", 5);
    ck_assert_int_eq(tool("home", NULL,
                          (const char *[]){"serve", "--plan", plan, "--state-dir", home,
                                           "--listen", "127.0.0.1:0", NULL}),
                     1);
    err_has("home", "cryptonets serve: ");
    err_has("home", "not a state directory");
    err_lacks("home", "cryptonets: serve:");
    ck_assert_msg(access(q, F_OK) == 0 && access(p, F_OK) == 0, "files of DIR/tmp removed");
    snprintf(q, sizeof q, "%s/plan", home);
    ck_assert_int_ne(access(q, F_OK), 0);
    /* a state directory: one finished job, then files left in its tmp/ and jobs/ */
    server_t s;
    start_server(&s, "serve", NULL);
    err_lacks("serve", "libmicrohttpd"); /* its option-order warning at every start */
    char kid[65], t[256], key[256], job[65];
    path(key, "client.key");
    register_key(kid, s.port, NULL);
    snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid);
    size_t len;
    char *b = make_batch("batch.bin", key, x, ROWS, &len);
    answer_t *a = malloc(sizeof *a);
    ck_assert_int_eq(request(a, s.port, "POST", t, NULL, b, len), 202);
    free(b);
    field(job, sizeof job, a, "job");
    wait_job(a, s.port, NULL, job);
    stop_server(&s);
    char own[512], dirlike[512], notes[512], jpart[512], other[512];
    snprintf(own, sizeof own, "%s/state/tmp/upload-123-4", dir);
    snprintf(dirlike, sizeof dirlike, "%s/state/tmp/upload-5-6", dir);
    snprintf(notes, sizeof notes, "%s/state/tmp/notes.txt", dir);
    snprintf(jpart, sizeof jpart, "%s/state/tenants/anonymous/jobs/%s.job.partial-77", dir,
             "3333333333333333333333333333333333333333333333333333333333333333");
    snprintf(other, sizeof other, "%s/state/tenants/anonymous/jobs/notes.partial-1", dir);
    char rpart[512]; /* a reply written under its temporary name when the server died */
    snprintf(rpart, sizeof rpart, "%s/state/tenants/anonymous/jobs/%s.reply.partial-78", dir,
             "4444444444444444444444444444444444444444444444444444444444444444");
    write_bytes(own, "u", 1);
    ck_assert_int_eq(mkdir(dirlike, 0700), 0);
    write_bytes(notes, "n", 1);
    write_bytes(jpart, "{", 1);
    write_bytes(other, "o", 1);
    write_bytes(rpart, "r", 1);
    start_server(&s, "again", NULL);
    ck_assert_int_ne(access(own, F_OK), 0);
    ck_assert_int_ne(access(jpart, F_OK), 0);
    ck_assert_int_ne(access(rpart, F_OK), 0);
    ck_assert_msg(access(dirlike, F_OK) == 0 && access(notes, F_OK) == 0 &&
                      access(other, F_OK) == 0,
                  "a file not of the server's own removed");
    char want[600];
    snprintf(want, sizeof want, "%s: an upload in progress when the server stopped, removed",
             own);
    err_has("again", want);
    snprintf(want, sizeof want, "%s: an interrupted write, removed", jpart);
    err_has("again", want);
    snprintf(want, sizeof want, "%s: not a file of this server: left in place", notes);
    err_has("again", want);
    snprintf(want, sizeof want, "%s: an upload in progress when the server stopped, but",
             dirlike);
    err_has("again", want);
    snprintf(want, sizeof want, "%s, removed", dirlike);
    err_lacks("again", want);
    err_has("again", "1 job(s) recovered (0 queued, 1 finished)");
    /* the port of a running server: refused before any state is made */
    char state2[256], port[32];
    path(state2, "state2");
    snprintf(port, sizeof port, "127.0.0.1:%d", s.port);
    ck_assert_int_eq(tool("busy", NULL,
                          (const char *[]){"serve", "--plan", plan, "--state-dir", state2,
                                           "--listen", port, NULL}),
                     1);
    snprintf(want, sizeof want, "cryptonets serve: cannot listen on %s: Address already in use",
             port);
    err_has("busy", want);
    err_lacks("busy", "Failed to bind");
    ck_assert_msg(access(state2, F_OK) != 0, "a state directory made by a start that failed");
    /* two Authorization headers: which one is meant? 400 */
    static char raw[1 << 16];
    const char head[] = "GET /v1/health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\n"
                        "Authorization: Bearer b\r\nConnection: close\r\n\r\n";
    const int fd = connect_to(s.port);
    send_all(fd, head, strlen(head));
    recv_all(fd, raw, sizeof raw);
    close(fd);
    ck_assert_msg(!strncmp(raw, "HTTP/1.1 400", 12) && strstr(raw, "Authorization"), "%.300s",
                  raw);
    free(a);
    stop_server(&s);
    /* a missing tokens file: "cryptonets serve: FILE: ..." */
    ck_assert_int_eq(tool("notokens", NULL,
                          (const char *[]){"serve", "--plan", plan, "--state-dir", state2,
                                           "--tokens", "/nonexistent/tokens", NULL}),
                     1);
    err_has("notokens", "cryptonets serve: /nonexistent/tokens: ");
    remove_dir();
}
END_TEST

/* --tls-cert/--tls-key checked at start: a file that is not PEM is named; a certificate
 * whose key usage allows certificate signing only is refused (every handshake would
 * fail); a key that is not the certificate's is refused; none of them makes a state */
START_TEST(test_service_tls_checks)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    char plan[256], state[256], tokens[256], cert[256], tkey[256], tmpl[256], key2[256];
    char cmd[2048];
    path(plan, "plan.cnp");
    path(state, "state");
    path(tokens, "tokens.txt");
    path(cert, "ca.pem");
    path(tkey, "tls.key");
    path(key2, "other.key");
    path(tmpl, "cert.cfg");
    write_bytes(tokens, "alice alice-token-1\n", 20);
    ck_assert_int_eq(
        tool("notpem", NULL,
             (const char *[]){"serve", "--plan", plan, "--state-dir", state, "--listen",
                              "127.0.0.1:0", "--tls-cert", tokens, "--tls-key", tokens, NULL}),
        1);
    char want[512];
    snprintf(want, sizeof want, "cryptonets serve: %s: not a PEM certificate", tokens);
    err_has("notpem", want);
    err_lacks("notpem", "cannot listen");
    const char cfg[] = "cn = 127.0.0.1\nip_address = 127.0.0.1\nexpiration_days = 2\nca\n"
                       "cert_signing_key\n";
    write_bytes(tmpl, cfg, sizeof cfg - 1);
    snprintf(cmd, sizeof cmd,
             "certtool --generate-privkey --key-type ecdsa --outfile %s >/dev/null 2>&1 && "
             "certtool --generate-privkey --key-type ecdsa --outfile %s >/dev/null 2>&1 && "
             "certtool --generate-self-signed --load-privkey %s --template %s --outfile %s "
             ">/dev/null 2>&1",
             tkey, key2, tkey, tmpl, cert);
    ck_assert_msg(system(cmd) == 0, "certtool failed (gnutls-bin: scripts/setup.sh)");
    ck_assert_int_eq(
        tool("causage", NULL,
             (const char *[]){"serve", "--plan", plan, "--state-dir", state, "--listen",
                              "127.0.0.1:0", "--tls-cert", cert, "--tls-key", tkey, NULL}),
        1);
    snprintf(want, sizeof want, "cryptonets serve: %s: the certificate's key usage", cert);
    err_has("causage", want);
    ck_assert_int_eq(
        tool("notpemkey", NULL,
             (const char *[]){"serve", "--plan", plan, "--state-dir", state, "--listen",
                              "127.0.0.1:0", "--tls-cert", cert, "--tls-key", tokens, NULL}),
        1);
    snprintf(want, sizeof want, "cryptonets serve: %s: not a PEM private key", tokens);
    err_has("notpemkey", want);
    ck_assert_int_eq(
        tool("mismatch", NULL,
             (const char *[]){"serve", "--plan", plan, "--state-dir", state, "--listen",
                              "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key2, NULL}),
        1);
    err_has("mismatch", "the key is not the certificate's");
    ck_assert_msg(access(state, F_OK) != 0, "a state directory made by a start that failed");
    remove_dir();
}
END_TEST

/* A line of text that starts with "  cryptonets infer" and holds want, as a command for
 * sh (the program replaced by the tool's path); 0 when there is none. */
static int printed_command(char *cmd, size_t cap, const char *tag, const char *want)
{
    char *log = err_of(tag);
    ck_assert_ptr_nonnull(log);
    int found = 0;
    for (char *line = strtok(log, "\n"); line && !found; line = strtok(NULL, "\n"))
        if (!strncmp(line, "  cryptonets infer ", 19) && strstr(line, want)) {
            snprintf(cmd, cap, "'%s' infer %s >/dev/null 2>&1", bin, line + 19);
            found = 1;
        }
    free(log);
    return found;
}

/* The job descriptions in alice's jobs directory of DIR/state. */
static size_t count_jobs(void)
{
    char p[256];
    snprintf(p, sizeof p, "%s/state/tenants/alice/jobs", dir);
    DIR *d = opendir(p);
    ck_assert_ptr_nonnull(d);
    size_t k = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        k += strlen(e->d_name) > 4 && !strcmp(e->d_name + strlen(e->d_name) - 4, ".job");
    closedir(d);
    return k;
}

/* infer's client side: bad option values exit 2; -o checked before anything is sent; a
 * job accepted and left on the server (--wait ran out, the server died, a signal) always
 * names its id and the commands that resume and delete it, with --token-file (never the
 * token), and those commands work; more inputs than a job of the server holds are split
 * over several jobs; the cached evaluation keys, damaged or another key's, are named and
 * made again */
START_TEST(test_service_client)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    char key[256], in[256], out[256], tokens[256], tfile[256], url[64], plan[256];
    path(key, "client.key");
    path(in, "in.csv");
    path(out, "out.csv");
    path(tokens, "tokens.txt");
    path(tfile, "alice.token");
    path(plan, "plan.cnp");
    write_bytes(tokens, "alice alice-token-1\n", 20);
    write_bytes(tfile, "alice-token-1\n", 14);
    ck_assert_int_eq(tool("ftp", NULL,
                          (const char *[]){"infer", "--server", "ftp://127.0.0.1:1", "--key",
                                           key, in, NULL}),
                     2);
    ck_assert_int_eq(tool("threads", NULL,
                          (const char *[]){"infer", "--server", "http://127.0.0.1:1", "--key",
                                           key, in, "--threads", "many", NULL}),
                     2);
    /* no evaluation: every job stays queued */
    server_t s;
    start_server(&s, "serve", (const char *[]){"--tokens", tokens, "--workers", "0", NULL});
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    ck_assert_int_eq(
        tool("badout", NULL,
             (const char *[]){"infer", "--server", url, "--key", key, in, "--token-file", tfile,
                              "-o", "/nonexistent/o.csv", NULL}),
        1);
    err_has("badout", "/nonexistent/o.csv (-o)");
    err_lacks("badout", "uploading");
    ck_assert_int_eq(
        tool("wait", NULL,
             (const char *[]){"infer", "--server", url, "--key", key, in, "--token-file", tfile,
                              "-o", out, "--raw", "--wait", "1", NULL}),
        1);
    err_has("wait", "stays on the server");
    err_lacks("wait", "alice-token-1");
    char resume[8192], del[8192];
    ck_assert_msg(printed_command(resume, sizeof resume, "wait", "--token-file"),
                  "no resume command with --token-file");
    /* the token from the environment: said so, not shown */
    ck_assert_int_eq(
        tool("waitenv", "alice-token-1",
             (const char *[]){"infer", "--server", url, "--key", key, in, "--wait", "1", NULL}),
        1);
    err_has("waitenv", "CRYPTONETS_TOKEN");
    err_lacks("waitenv", "alice-token-1");
    ck_assert_msg(printed_command(del, sizeof del, "waitenv", "--delete"), "no delete command");
    /* the server killed while infer waits: the id and the commands once it gives up */
    const pid_t inf = spawn("killed", NULL,
                            (const char *[]){"infer", "--server", url, "--key", key, in,
                                             "--token-file", tfile, "--retries", "2", NULL});
    for (const double t0 = now(); now() - t0 < 60; nap(0.05)) {
        char *log = err_of("killed");
        const int accepted = log && strstr(log, "accepted");
        free(log);
        if (accepted)
            break;
    }
    kill_server(&s);
    ck_assert_int_eq(finish(inf, "killed", 120), 1);
    err_has("killed", "stays on the server");
    err_has("killed", "--job");
    /* a signal while infer waits for its job: the same */
    start_server(&s, "serve2", (const char *[]){"--tokens", tokens, "--workers", "0", NULL});
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    const pid_t sig = spawn("sigint", NULL,
                            (const char *[]){"infer", "--server", url, "--key", key, in,
                                             "--token-file", tfile, NULL});
    for (const double t0 = now(); now() - t0 < 60; nap(0.05)) {
        char *log = err_of("sigint");
        const int accepted = log && strstr(log, "accepted");
        free(log);
        if (accepted)
            break;
    }
    nap(0.2);
    kill(sig, SIGINT);
    int st;
    waitpid(sig, &st, 0);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGINT);
    err_has("sigint", "stays on the server");
    /* evaluated now: the printed commands resume and delete, verbatim */
    stop_server(&s);
    start_server(&s, "serve3", (const char *[]){"--tokens", tokens, NULL});
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    char *url_at = strstr(resume, "http://127.0.0.1:");
    ck_assert_ptr_nonnull(url_at);
    char fixed[8192]; /* the port of the restarted server */
    const char *rest = strchr(url_at + 17, ' ');
    snprintf(fixed, sizeof fixed, "%.*s%s%s", (int)(url_at - resume), resume, url, rest);
    unlink(out);
    ck_assert_msg(system(fixed) == 0, "%s: failed", fixed);
    check_outputs(out, x, ROWS);
    url_at = strstr(del, "http://127.0.0.1:");
    rest = strchr(url_at + 17, ' ');
    snprintf(fixed, sizeof fixed, "CRYPTONETS_TOKEN=alice-token-1 %.*s%s%s",
             (int)(url_at - del), del, url, rest);
    ck_assert_msg(system(fixed) == 0, "%s: failed", fixed);
    ck_assert_msg(system(fixed) != 0, "%s: a deleted job deleted again", fixed);
    stop_server(&s);
    /* more inputs than a job of the server takes (--max-batches 1: n inputs): split over
     * two jobs, one after the other, and the predictions of all of them, in order */
    start_server(&s, "one", (const char *[]){"--tokens", tokens, "--max-batches", "1", NULL});
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    size_t plen;
    char *pb = slurp(plan, &plen);
    cn_plan_t *pl;
    cn_net_diag_t d = {{0}};
    ck_assert_int_eq(cn_plan_from_bytes(&pl, (const uint8_t *)pb, plen, 0, &d), CN_OK);
    free(pb);
    const size_t n = cn_plan_params(pl)->n, rows = n + 3;
    cn_plan_free(pl);
    int64_t *big = malloc(rows * NIN * sizeof *big);
    inputs(big, rows, 72);
    char bigin[256], bigout[256];
    path(bigin, "big.csv");
    path(bigout, "big.out.csv");
    write_csv(bigin, big, rows);
    const size_t jobs_before = count_jobs();
    ck_assert_int_eq(tool("split", NULL,
                          (const char *[]){"infer", "--server", url, "--key", key, bigin,
                                           "--token-file", tfile, "-o", bigout, "--raw", NULL}),
                     0);
    err_has("split", "this server takes 1 per job (its --max-batches): 2 jobs");
    check_plan_outputs(bigout, "plan.cnp", big, rows, NOUT);
    free(big);
    ck_assert_uint_eq(count_jobs(), jobs_before); /* both deleted once their results came */
    /* the cached evaluation keys: truncated, then another key's: named, made again */
    char cache[300], other[256], other_keys[256];
    snprintf(cache, sizeof cache, "%s.eval-keys", key);
    path(other, "other.key");
    path(other_keys, "other.eval-keys");
    ck_assert_int_eq(infer("first", s.port, "alice-token-1", key, in, out, NULL, NULL), 0);
    size_t klen;
    char *kb = slurp(cache, &klen);
    ck_assert_ptr_nonnull(kb);
    write_bytes(cache, kb, klen / 2);
    free(kb);
    ck_assert_int_eq(infer("trunc", s.port, "alice-token-1", key, in, out, NULL, NULL), 0);
    check_outputs(out, x, ROWS);
    err_has("trunc", cache);
    err_has("trunc", "made again");
    ck_assert_int_eq(
        tool("keygen2", NULL,
             (const char *[]){"keygen", plan, "-o", other, "--eval-keys", other_keys, NULL}),
        0);
    kb = slurp(other_keys, &klen);
    write_bytes(cache, kb, klen);
    free(kb);
    ck_assert_int_eq(infer("another", s.port, "alice-token-1", key, in, out, NULL, NULL), 0);
    check_outputs(out, x, ROWS);
    err_has("another", "another client key");
    err_has("another", "made again");
    /* --eval-keys of another key: refused, the file named */
    ck_assert_int_eq(tool("givenbad", "alice-token-1",
                          (const char *[]){"infer", "--server", url, "--key", key, in,
                                           "--eval-keys", other_keys, NULL}),
                     3);
    err_has("givenbad", "(--eval-keys)");
    stop_server(&s);
    remove_dir();
}
END_TEST

/* The id of the one job of alice's (DIR/state) that is not in seen (ids joined), or 0. */
static int new_job(char id[65], const char *seen)
{
    char p[256];
    snprintf(p, sizeof p, "%s/state/tenants/alice/jobs", dir);
    DIR *d = opendir(p);
    ck_assert_ptr_nonnull(d);
    int found = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        const size_t n = strlen(e->d_name);
        char one[65];
        snprintf(one, sizeof one, "%.64s", e->d_name);
        if (n == 68 && !strcmp(e->d_name + 64, ".job") && !strstr(seen, one)) {
            snprintf(id, 65, "%s", one);
            found = 1;
        }
    }
    closedir(d);
    return found;
}

/* SIGINT at the moment the server has accepted a job (its description renamed into
 * place), then up to 11.5 ms later in steps of 0.5 ms: infer dies of the signal after printing
 * the job's id and commands whenever the server holds the job, and says no job was accepted
 * only when it holds none (defect: a signal between the 202 and the job's commands being
 * ready, while the upload ended, killed infer silently and left a job nobody could find);
 * GET /v1/jobs lists alice's jobs, all of them, oldest first, and none to bob */
START_TEST(test_service_interrupt)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    char key[256], in[256], tokens[256], tfile[256], url[64], seen[8192] = "";
    path(key, "client.key");
    path(in, "in.csv");
    path(tokens, "tokens.txt");
    path(tfile, "alice.token");
    write_bytes(tokens, "alice alice-token-1\nbob bob-token-22\n", 36);
    write_bytes(tfile, "alice-token-1\n", 14);
    chmod(tokens, 0600);
    server_t s; /* no evaluation: every job stays */
    start_server(
        &s, "serve",
        (const char *[]){"--tokens", tokens, "--workers", "0", "--max-jobs", "64", NULL});
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    /* the key registered first, so that each run's upload starts at once */
    ck_assert_int_eq(tool("first", NULL,
                          (const char *[]){"infer", "--server", url, "--key", key, in,
                                           "--token-file", tfile, "--wait", "0.5", NULL}),
                     1);
    char id[65];
    ck_assert(new_job(id, seen));
    strcat(seen, id);
    /* each run its own inputs (another batch: another job), of 4 records: the upload's
     * file is still being written and synced when the 202 comes */
    char plan[256];
    path(plan, "plan.cnp");
    size_t plen;
    char *pb = slurp(plan, &plen);
    cn_plan_t *pl;
    cn_net_diag_t d = {{0}};
    ck_assert_int_eq(cn_plan_from_bytes(&pl, (const uint8_t *)pb, plen, 0, &d), CN_OK);
    free(pb);
    const size_t rows = 4 * cn_plan_params(pl)->n;
    cn_plan_free(pl);
    int64_t *y = malloc(rows * NIN * sizeof *y);
    for (int run = 0; run < 24; run++) {
        char tag[32], file[256];
        snprintf(tag, sizeof tag, "int%d", run);
        snprintf(file, sizeof file, "%s/in%d.csv", dir, run);
        inputs(y, rows, 100 + (uint64_t)run);
        write_csv(file, y, rows);
        const pid_t pid = spawn(tag, NULL,
                                (const char *[]){"infer", "--server", url, "--key", key, file,
                                                 "--token-file", tfile, NULL});
        int accepted = 0;
        for (const double t0 = now(); now() - t0 < 60 && !accepted;)
            if (!(accepted = new_job(id, seen)))
                nap(0.0005);
        ck_assert_msg(accepted, "%s: no job after 60 s", tag);
        nap(0.0005 * run); /* 0 to 11.5 ms after the job is on the server's disk */
        kill(pid, SIGINT);
        int st;
        const double t0 = now();
        while (waitpid(pid, &st, WNOHANG) == 0 && now() - t0 < 60)
            nap(0.01);
        ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGINT, "%s: not ended by SIGINT",
                      tag);
        strcat(seen, id);
        err_has(tag, id); /* the server holds it: named, with its commands */
        err_has(tag, "stays on the server");
        err_has(tag, "--delete");
        err_lacks(tag, "no job of these inputs was accepted");
    }
    free(y);
    /* GET /v1/jobs: alice's 25 jobs, every one seen, oldest first; none to bob */
    answer_t *a = malloc(sizeof *a);
    ck_assert_int_eq(request(a, s.port, "GET", "/v1/jobs", "alice-token-1", NULL, 0), 200);
    json_error_t je;
    json_t *doc = json_loads(a->body, 0, &je);
    json_t *list = json_object_get(doc, "jobs");
    ck_assert_uint_eq(json_array_size(list), 25);
    double last = 0;
    for (size_t i = 0; i < 25; i++) {
        json_t *j = json_array_get(list, i);
        const char *jid = json_string_value(json_object_get(j, "job"));
        ck_assert_msg(jid && strlen(jid) == 64 && strstr(seen, jid), "job %zu not seen", i);
        ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "queued");
        const double created = json_real_value(json_object_get(j, "created"));
        ck_assert(created >= last);
        last = created;
    }
    json_decref(doc);
    ck_assert_int_eq(request(a, s.port, "GET", "/v1/jobs", "bob-token-22", NULL, 0), 200);
    doc = json_loads(a->body, 0, &je);
    ck_assert_ptr_nonnull(doc);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "jobs")), 0);
    ck_assert_ptr_nonnull(json_object_get(doc, "jobs"));
    json_decref(doc);
    ck_assert_int_eq(request(a, s.port, "GET", "/v1/jobs", NULL, NULL, 0), 401);
    free(a);
    stop_server(&s);
    remove_dir();
}
END_TEST

/* Files serve must write at start and the tokens it reads: an unwritable --port-file (its
 * directory missing, or a directory itself) is refused with exit 2 before anything is
 * bound or created (defect: logged, and the server kept serving unfound); a tokens file
 * others can read is warned about; tokens are read without the blanks around them on
 * both sides (defect: ' token ' gave 403), and an empty token file is refused */
START_TEST(test_service_start_files)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    char plan[256], state[256], tokens[256], tfile[256], key[256], in[256], out[256];
    char url[64];
    path(plan, "plan.cnp");
    path(state, "fresh-state");
    path(tokens, "tokens.txt");
    path(tfile, "alice.token");
    path(key, "client.key");
    path(in, "in.csv");
    path(out, "out.csv");
    const char *bad_ports[] = {"/nonexistent/p", dir};
    for (size_t i = 0; i < 2; i++) {
        ck_assert_int_eq(
            tool("badport", NULL,
                 (const char *[]){"serve", "--plan", plan, "--state-dir", state, "--listen",
                                  "127.0.0.1:0", "--port-file", bad_ports[i], NULL}),
            2);
        err_has("badport", "--port-file");
        struct stat sb;
        ck_assert_msg(stat(state, &sb) != 0, "a refused start created its state directory");
    }
    /* tokens: a 0644 file is warned about; blanks around the tokens are no part of them */
    write_bytes(tokens, "alice\t alice-token-1 \r\n", 23);
    chmod(tokens, 0644);
    server_t s;
    start_server(&s, "serve", (const char *[]){"--tokens", tokens, NULL});
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    err_has("serve", "chmod 600");
    write_bytes(tfile, "  alice-token-1 \r\n", 18);
    ck_assert_msg(tool("blanks", NULL,
                       (const char *[]){"infer", "--server", url, "--key", key, in,
                                        "--token-file", tfile, "-o", out, "--raw", NULL}) == 0,
                  "%s", err_of("blanks"));
    check_outputs(out, x, ROWS);
    write_bytes(tfile, " \n", 2);
    ck_assert_int_eq(tool("empty", NULL,
                          (const char *[]){"infer", "--server", url, "--key", key, in,
                                           "--token-file", tfile, NULL}),
                     1);
    err_has("empty", "no token");
    stop_server(&s);
    chmod(tokens, 0600);
    start_server(&s, "serve600", (const char *[]){"--tokens", tokens, NULL});
    err_lacks("serve600", "chmod 600");
    stop_server(&s);
    remove_dir();
}
END_TEST

/* A job whose reply cannot be written (a full disk, CRYPTONETS_SERVE_FAULT=reply=enospc):
 * failed with the system's reason, in its status and in the server's log; infer calls
 * it failed for good and offers the delete command, not a resume (defect: 'write failed'
 * without ENOSPC, nothing logged, a resume that repeats the 422). --job of another
 * client key's job: refused as such (from the status when that key's evaluation keys are
 * cached, else from the result's header), no temporary path shown, no resume offered */
START_TEST(test_service_job_failures)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    char key[256], in[256], out[256], other[256], other_keys[256], plan[256], url[64];
    path(key, "client.key");
    path(in, "in.csv");
    path(out, "out.csv");
    path(other, "other.key");
    path(other_keys, "other.eval-keys");
    path(plan, "plan.cnp");
    setenv("CRYPTONETS_SERVE_FAULT", "reply=enospc", 1);
    server_t s;
    start_server(&s, "serve", NULL);
    unsetenv("CRYPTONETS_SERVE_FAULT");
    ck_assert_int_eq(infer("full", s.port, NULL, key, in, out, NULL, NULL), 1);
    err_has("full", "No space left on device");
    err_has("full", "failed for good");
    err_has("full", "--delete");
    err_lacks("full", "to resume");
    stop_server(&s);
    err_has("serve", "failed: internal: the reply");
    err_has("serve", "No space left on device");
    /* another key's job */
    start_server(&s, "serve2", (const char *[]){"--workers", "0", NULL});
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    ck_assert_int_eq(tool("wait", NULL,
                          (const char *[]){"infer", "--server", url, "--key", key, in, "--wait",
                                           "0.5", NULL}),
                     1);
    char resume[8192];
    ck_assert(printed_command(resume, sizeof resume, "wait", "--job"));
    const char *at = strstr(resume, "--job ");
    ck_assert_ptr_nonnull(at);
    char job[65];
    snprintf(job, sizeof job, "%.64s", at + 6);
    stop_server(&s);
    start_server(&s, "serve3", NULL);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    ck_assert_int_eq(
        tool("keygen2", NULL,
             (const char *[]){"keygen", plan, "-o", other, "--eval-keys", other_keys, NULL}),
        0);
    ck_assert_int_eq(tool("otherkey", NULL,
                          (const char *[]){"infer", "--server", url, "--key", other, "--job",
                                           job, "-o", out, NULL}),
                     3);
    err_has("otherkey", "another client key");
    err_has("otherkey", "its result is for client key id");
    err_lacks("otherkey", "cryptonets-infer-");
    err_lacks("otherkey", "to resume");
    /* with that key's evaluation keys cached: refused from the job's status, before any
     * download */
    char cache[300];
    snprintf(cache, sizeof cache, "%s.eval-keys", other);
    size_t klen;
    char *kb = slurp(other_keys, &klen);
    ck_assert_ptr_nonnull(kb);
    write_bytes(cache, kb, klen);
    free(kb);
    ck_assert_int_eq(tool("otherkey2", NULL,
                          (const char *[]){"infer", "--server", url, "--key", other, "--job",
                                           job, "-o", out, NULL}),
                     3);
    err_has("otherkey2", "the job is for evaluation keys");
    err_lacks("otherkey2", "downloaded");
    err_lacks("otherkey2", "to resume");
    /* the right key still resumes it */
    ck_assert_int_eq(tool("rightkey", NULL,
                          (const char *[]){"infer", "--server", url, "--key", key, "--job", job,
                                           "-o", out, "--raw", NULL}),
                     0);
    check_outputs(out, x, ROWS);
    stop_server(&s);
    remove_dir();
}
END_TEST

/* A split run (--max-batches 1: a job holds n inputs; 2n + 3 inputs: 3 jobs) that ends
 * early: every job on the server is named with its inputs and a resume command into an
 * output of its own (OUT.inputs-A-B.csv, rows numbered from 1), the inputs never sent are
 * named, and no job is deleted before the whole output is written (defect: job 1's
 * predictions, downloaded and the job deleted, were lost; the resume of job 2 wrote inputs
 * n+1.. as rows 1..; jobs 2 and 3 unmentioned after --wait) */
START_TEST(test_service_split_interrupt)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    char key[256], plan[256], bigin[256], out[256], url[64], text[512];
    path(key, "client.key");
    path(plan, "plan.cnp");
    path(bigin, "big.csv");
    path(out, "p2.csv");
    size_t plen;
    char *pb = slurp(plan, &plen);
    cn_plan_t *pl;
    cn_net_diag_t d = {{0}};
    ck_assert_int_eq(cn_plan_from_bytes(&pl, (const uint8_t *)pb, plen, 0, &d), CN_OK);
    free(pb);
    const size_t n = cn_plan_params(pl)->n, rows = 2 * n + 3;
    cn_plan_free(pl);
    int64_t *big = malloc(rows * NIN * sizeof *big);
    inputs(big, rows, 73);
    write_csv(bigin, big, rows);
    /* --wait runs out on job 1 (nothing evaluates): it and the inputs never sent */
    server_t s;
    start_server(&s, "idle", (const char *[]){"--max-batches", "1", "--workers", "0", NULL});
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    ck_assert_int_eq(tool("wait", NULL,
                          (const char *[]){"infer", "--server", url, "--key", key, bigin, "-o",
                                           out, "--wait", "1", NULL}),
                     1);
    snprintf(text, sizeof text, "(inputs 1 to %zu) stays on the server", n);
    err_has("wait", text);
    snprintf(text, sizeof text, "inputs %zu to %zu of %s were never sent", n + 1, rows, bigin);
    err_has("wait", text);
    stop_server(&s);
    /* SIGINT while job 2's upload waits for its 202 (held 1 s by the server), job 1's
     * result downloaded: both named, job 1 still there and its command resumes it */
    setenv("CRYPTONETS_SERVE_FAULT", "stall=1", 1);
    start_server(&s, "stall", (const char *[]){"--max-batches", "1", NULL});
    unsetenv("CRYPTONETS_SERVE_FAULT");
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    const pid_t pid = spawn("split", NULL,
                            (const char *[]){"infer", "--server", url, "--key", key, bigin,
                                             "-o", out, "--raw", NULL});
    int seen = 0;
    for (const double t0 = now(); now() - t0 < 60 && !seen; nap(0.02)) {
        char *log = err_of("split");
        seen = log && strstr(log, "downloaded") && strstr(log, "job 2 of 3") == NULL &&
               strstr(log, "uploading") && strstr(strstr(log, "downloaded"), "uploading");
        free(log);
    }
    ck_assert_msg(seen, "split: job 2's upload did not start");
    nap(0.3);
    kill(pid, SIGINT);
    int st;
    waitpid(pid, &st, 0);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGINT);
    snprintf(text, sizeof text, "(inputs 1 to %zu) stays on the server", n);
    err_has("split", text);
    snprintf(text, sizeof text, "(inputs %zu to %zu) stays on the server", n + 1, 2 * n);
    err_has("split", text);
    snprintf(text, sizeof text, "inputs %zu to %zu of %s were never sent", 2 * n + 1, rows,
             bigin);
    err_has("split", text);
    struct stat sb;
    ck_assert_msg(stat(out, &sb) != 0, "a partial output written as if whole");
    char cmd[8192], want[64], part[256];
    snprintf(want, sizeof want, "p2.inputs-1-%zu.csv", n);
    ck_assert_msg(printed_command(cmd, sizeof cmd, "split", want), "no resume into %s", want);
    ck_assert_msg(system(cmd) == 0, "%s: failed", cmd);
    path(part, want);
    check_outputs(part, big, n);
    snprintf(want, sizeof want, "p2.inputs-%zu-%zu.csv", n + 1, 2 * n);
    ck_assert_msg(printed_command(cmd, sizeof cmd, "split", want), "no resume into %s", want);
    ck_assert_msg(system(cmd) == 0, "%s: failed", cmd);
    path(part, want);
    check_outputs(part, big + n * NIN, n);
    stop_server(&s);
    free(big);
    remove_dir();
}
END_TEST

/* infer checks its inputs before it makes, caches or registers any key (docs/service.md,
 * "The client"): a value outside the model's input range (16 in [0, 15]) fails with the
 * range named, leaving no CLIENT_KEY.eval-keys and nothing registered (the next good run
 * registers the key); a missing or directory INPUTS fails before the server is asked at
 * all (no server listens on port 9, so a request would say so or retry). */
START_TEST(test_service_bad_inputs)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    server_t s;
    start_server(&s, "serve", NULL);
    char key[256], in[256], big[256], out[256], cache[256];
    path(key, "client.key");
    path(in, "in.csv");
    path(big, "big.csv");
    path(out, "out.csv");
    path(cache, "client.key.eval-keys");
    const char *bad = "1,2,3,4,5,6\n1,2,3,16,5,6\n";
    write_bytes(big, bad, strlen(bad));
    ck_assert_int_eq(infer("big", s.port, NULL, key, big, out, NULL, NULL), 1);
    err_has("big", "big.csv");
    err_has("big", "16");
    err_has("big", "input range");
    err_lacks("big", "registering");
    ck_assert_msg(access(cache, F_OK) != 0, "infer made %s for bad inputs", cache);
    ck_assert_msg(access(out, F_OK) != 0, "infer wrote %s for bad inputs", out);
    ck_assert_int_eq(infer("good", s.port, NULL, key, in, out, NULL, NULL), 0);
    err_has("good", "registering"); /* nothing was registered by the failed run */
    /* the server names what it got instead of "bad magic": an empty body, a file of
     * another kind (evaluation keys as a batch, a batch as evaluation keys) */
    char kid[65], t[256];
    register_key(kid, s.port, NULL);
    snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid);
    answer_t *ans = malloc(sizeof *ans);
    ck_assert_int_eq(request(ans, s.port, "POST", "/v1/keys", NULL, "", 0), 400);
    ck_assert_msg(strstr(ans->body, "empty body") && !strstr(ans->body, "magic"), "%s",
                  ans->body);
    ck_assert_int_eq(request(ans, s.port, "POST", t, NULL, "", 0), 400);
    ck_assert_msg(strstr(ans->body, "empty body") && !strstr(ans->body, "magic"), "%s",
                  ans->body);
    char keys[256];
    path(keys, "eval.keys");
    size_t klen, blen;
    char *kb = slurp(keys, &klen);
    ck_assert_int_eq(request(ans, s.port, "POST", t, NULL, kb, klen), 400);
    ck_assert_msg(strstr(ans->body, "the body is evaluation keys, not a batch"), "%s",
                  ans->body);
    char *bb = make_batch("b1.bin", key, x, 1, &blen);
    ck_assert(blen > 16); /* the batch's first bytes: a whole one is above the keys' limit */
    ck_assert_int_eq(request(ans, s.port, "POST", "/v1/keys", NULL, bb, 16), 400);
    ck_assert_msg(strstr(ans->body, "the body is a batch, not evaluation keys"), "%s",
                  ans->body);
    ck_assert_msg(!strstr(ans->body, "cn_test_service"), "a path: %s", ans->body);
    free(kb);
    free(bb);
    free(ans);
    stop_server(&s);
    char missing[256];
    path(missing, "missing.csv");
    unlink(cache);
    ck_assert_int_eq(infer("missing", 9, NULL, key, missing, out, NULL, NULL), 1);
    err_has("missing", "missing.csv: No such file or directory");
    err_lacks("missing", "retrying");
    ck_assert_int_eq(infer("isdir", 9, NULL, key, dir, out, NULL, NULL), 1);
    err_has("isdir", "is a directory");
    err_lacks("isdir", "retrying");
    ck_assert(access(cache, F_OK) != 0);
    remove_dir();
}
END_TEST

/* infer --job ID on a job still waiting shows its state at once (a poll without wait), then
 * a progress line about every 10 s (before: nothing for the first 20 s long poll). A
 * server of --workers 0 keeps the job queued; --wait 12 ends the wait. */
START_TEST(test_service_resume_state)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    server_t s;
    start_server(&s, "serve", (const char *[]){"--workers", "0", NULL});
    char kid[65], t[256], key[256], id[65], url[64];
    register_key(kid, s.port, NULL);
    snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid);
    path(key, "client.key");
    size_t blen;
    char *bb = make_batch("b1.bin", key, x, 2, &blen);
    answer_t *ans = malloc(sizeof *ans);
    ck_assert_int_eq(request(ans, s.port, "POST", t, NULL, bb, blen), 202);
    field(id, sizeof id, ans, "job");
    ck_assert_uint_eq(strlen(id), 64);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    ck_assert_int_eq(
        finish(spawn("resume", NULL,
                     (const char *[]){"infer", "--server", url, "--key", key, "--job", id,
                                      "--wait", "12", "--keep", NULL}),
               "resume", 60),
        1);
    char *err = err_of("resume");
    char want[64];
    snprintf(want, sizeof want, "job %.16s... queued", id);
    const char *line = strstr(err, want);
    ck_assert_msg(line != NULL, "no state line:\n%s", err);
    const char *stamp = line; /* "cryptonets infer: [T s] job ..." : T before the line */
    while (stamp > err && stamp[-1] != '[')
        stamp--;
    ck_assert_msg(stamp > err && atof(stamp) < 3, "the state came late:\n%s", err);
    snprintf(want, sizeof want, "job %.16s... still queued", id);
    ck_assert_msg(strstr(err, want) != NULL, "no progress line:\n%s", err);
    free(err);
    free(bb);
    free(ans);
    stop_server(&s);
    remove_dir();
}
END_TEST

/* serve's --port-file is an output like the others (docs/cli.md, "Outputs"): a symbolic
 * link is followed (its dangling target receives the port, the link stays a link) */
START_TEST(test_service_port_link)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    char plan[256], state[256], link[256], target[256];
    path(plan, "plan.cnp");
    path(state, "state");
    path(link, "port.link");
    path(target, "port.real");
    ck_assert_int_eq(symlink("port.real", link), 0);
    /* a FIFO is refused at start: the server's main thread would wait in open() for a
     * reader, and SIGTERM with it */
    char fifo[256];
    path(fifo, "port.fifo");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(
        tool("pfifo", NULL,
             (const char *[]){"serve", "--plan", plan, "--state-dir", state, "--listen",
                              "127.0.0.1:0", "--port-file", fifo, NULL}),
        2);
    char *ferr = err_of("pfifo");
    ck_assert_msg(strstr(ferr, "a FIFO") != NULL, "%s", ferr);
    free(ferr);
    const pid_t pid =
        spawn("plink", NULL,
              (const char *[]){"serve", "--plan", plan, "--state-dir", state, "--listen",
                               "127.0.0.1:0", "--port-file", link, "--threads", "1", NULL});
    char *text = NULL;
    const double t0 = now();
    while (!(text = slurp(target, NULL)) && now() - t0 < 30)
        nap(0.05);
    ck_assert_msg(text != NULL, "no port in %s:\n%s", target, err_of("plink"));
    ck_assert_int_gt(atoi(text), 0);
    free(text);
    struct stat sb;
    ck_assert_int_eq(lstat(link, &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode));
    kill(pid, SIGTERM);
    ck_assert_int_eq(finish(pid, "plink", 60), 0);
    remove_dir();
}
END_TEST

/* The plan cache CLIENT_KEY.plan (docs/service.md, "The client"): made by the first run,
 * byte for byte the server's plan (the oracle: plan.cnp as compiled here); the next run
 * asks with its tag and uses it on 304; a damaged cache, an empty one and one holding
 * another plan are detected, fetched again and rewritten; the predictions equal the
 * integer network's every time. */
START_TEST(test_service_plan_cache)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    server_t s;
    start_server(&s, "serve", NULL);
    char key[256], in[256], out[256], plan[256], model[256], other[256], cache[300];
    path(key, "client.key");
    path(in, "in.csv");
    path(out, "out.csv");
    path(plan, "plan.cnp");
    path(model, "model.cnm");
    path(other, "other.cnp");
    snprintf(cache, sizeof cache, "%s.plan", key);
    ck_assert_msg(infer("pc1", s.port, NULL, key, in, out, NULL, NULL) == 0, "%s",
                  err_of("pc1"));
    check_outputs(out, x, ROWS);
    unlink(out);
    size_t plen = 0, clen = 0;
    char *pb = slurp(plan, &plen), *cb = slurp(cache, &clen);
    ck_assert_ptr_nonnull(pb);
    ck_assert_msg(cb != NULL && clen == plen && memcmp(cb, pb, plen) == 0,
                  "%s is not the server's plan", cache);
    free(cb);
    setenv("CRYPTONETS_TIMELINE", "1", 1);
    ck_assert_msg(infer("pc2", s.port, NULL, key, in, out, NULL, NULL) == 0, "%s",
                  err_of("pc2"));
    check_outputs(out, x, ROWS);
    unlink(out);
    err_has("pc2", "plan received (304");
    err_has("pc2", "cached plan and key loaded while the plan is asked for");
    err_lacks("pc2", "fetched again");
    /* one byte changed, nothing, another plan of the same model: each fetched again */
    ck_assert_int_eq(tool("other", NULL,
                          (const char *[]){"compile", model, "-o", other, "--weight-bits", "5",
                                           "--quiet", NULL}),
                     0);
    size_t olen = 0;
    char *ob = slurp(other, &olen);
    ck_assert_ptr_nonnull(ob);
    ck_assert(olen != plen || memcmp(ob, pb, plen) != 0);
    static const char *const tags[] = {"pc3", "pc4", "pc5"};
    for (int i = 0; i < 3; i++) {
        if (i == 0) {
            pb[plen / 2] ^= 1;
            write_bytes(cache, pb, plen);
            pb[plen / 2] ^= 1;
        } else if (i == 1) {
            write_bytes(cache, "", 0);
        } else {
            write_bytes(cache, ob, olen);
        }
        ck_assert_msg(infer(tags[i], s.port, NULL, key, in, out, NULL, NULL) == 0, "%s",
                      err_of(tags[i]));
        check_outputs(out, x, ROWS);
        unlink(out);
        err_has(tags[i], "fetched again");
        err_lacks(tags[i], "plan received (304");
        cb = slurp(cache, &clen);
        ck_assert_msg(cb != NULL && clen == plen && memcmp(cb, pb, plen) == 0,
                      "%s: %s not rewritten", tags[i], cache);
        free(cb);
    }
    /* a key of the other plan, its cache that plan (so loaded ahead, with the inputs,
     * while the server is asked): the server's plan differs, so the work done ahead is
     * undone and the key refused as before (exit status 3), nothing registered or sent */
    char k5[256], k5keys[256], k5cache[300];
    path(k5, "k5.key");
    path(k5keys, "k5.keys");
    snprintf(k5cache, sizeof k5cache, "%s.plan", k5);
    ck_assert_int_eq(
        tool("k5gen", NULL,
             (const char *[]){"keygen", other, "-o", k5, "--eval-keys", k5keys, NULL}),
        0);
    write_bytes(k5cache, ob, olen);
    ck_assert_int_eq(infer("pc6", s.port, NULL, k5, in, out, NULL, NULL), 3);
    err_has("pc6", "cached plan and key loaded while the plan is asked for");
    err_has("pc6", "the server's plan is not the one this key was made for");
    err_lacks("pc6", "plan received (304");
    err_lacks("pc6", "evaluation keys");
    err_lacks("pc6", "upload");
    struct stat ost;
    ck_assert_int_ne(stat(out, &ost), 0);
    cb = slurp(k5cache, &clen);
    ck_assert_msg(cb != NULL && clen == olen && memcmp(cb, ob, olen) == 0,
                  "%s: the cache of the key's own plan was replaced", k5cache);
    free(cb);
    unsetenv("CRYPTONETS_TIMELINE");
    free(ob);
    free(pb);
    stop_server(&s);
    remove_dir();
}
END_TEST

/* The finished jobs' batch files kept in STATE/tmp for reuse ("spare-PID-SEQ"): their
 * number and sizes, the size of the last one found into *size. */
static ino_t spare_ino;      /* the inode of the last spare spares() found */
static char spare_name[600]; /* and its path */

static size_t spares(uint64_t *size)
{
    char p[256], f[600];
    snprintf(p, sizeof p, "%s/state/tmp", dir);
    DIR *d = opendir(p);
    ck_assert_ptr_nonnull(d);
    size_t k = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (!strncmp(e->d_name, "spare-", 6)) {
            struct stat sb;
            snprintf(f, sizeof f, "%s/%s", p, e->d_name);
            ck_assert_int_eq(stat(f, &sb), 0);
            *size = (uint64_t)sb.st_size;
            spare_ino = sb.st_ino;
            snprintf(spare_name, sizeof spare_name, "%s", f);
            k++;
        }
    closedir(d);
    return k;
}

/* Waits up to 10 s for want spares in tmp/ and in the server's pool (its metric: a spare
 * is renamed, then fsynced, then handed out); returns the last one's size. */
static uint64_t wait_spares(int port, size_t want)
{
    uint64_t size = 0;
    size_t k = 0;
    long pool = -1;
    answer_t *a = malloc(sizeof *a);
    ck_assert_ptr_nonnull(a);
    for (const double t0 = now(); now() - t0 < 10; nap(0.05)) {
        ck_assert_int_eq(request(a, port, "GET", "/metrics", "token-of-a", NULL, 0), 200);
        const char *m = strstr(a->body, "\ncryptonets_spare_batch_files ");
        ck_assert_ptr_nonnull(m);
        pool = strtol(m + 30, NULL, 10);
        if ((k = spares(&size)) == want && pool == (long)want)
            break;
    }
    free(a);
    ck_assert_msg(pool == (long)want, "%ld spare batch files in the pool, not %zu", pool, want);
    ck_assert_msg(k == want, "%zu spare batch files in tmp/, not %zu", k, want);
    return size;
}

/* The job of the batch b (len bytes) posted through the HTTP API with token under the key
 * kid: its id into job. */
static void reuse_post(char job[65], int port, const char *token, const char *kid,
                       const char *b, size_t len, const char *tag)
{
    char t[128];
    answer_t *a = malloc(sizeof *a);
    ck_assert_ptr_nonnull(a);
    snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid);
    const int code = request(a, port, "POST", t, token, b, len);
    ck_assert_msg(code == 202, "%s: %d %s", tag, code, a->body);
    field(job, 65, a, "job");
    free(a);
}

/* Waits for the job (of the tenant of token), which must end done, then downloads and
 * decrypts it with infer --job and the client key key (which deletes it): its outputs
 * equal the plan's on x. */
static void reuse_check(int port, const char *token, const char *job, const char *key,
                        const int64_t *x, size_t rows, const char *tag)
{
    char url[64], out[256], name[64], st[32];
    answer_t *a = malloc(sizeof *a);
    ck_assert_ptr_nonnull(a);
    wait_job(a, port, token, job);
    field(st, sizeof st, a, "state");
    ck_assert_msg(!strcmp(st, "done"), "%s: %s", tag, a->body);
    free(a);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    snprintf(name, sizeof name, "%s.out", tag);
    path(out, name);
    ck_assert_int_eq(finish(spawn(tag, token,
                                  (const char *[]){"infer", "--server", url, "--key", key,
                                                   "--job", job, "-o", out, "--raw", NULL}),
                            tag, 120),
                     0);
    check_plan_outputs(out, "plan.cnp", x, rows, NOUT);
}

/* Reused upload files (docs/service.md): a finished job's batch file is renamed into tmp/
 * and the next upload writes over it; a shorter batch over a longer file is cut to its
 * own length (its result right, the file as long as its body); another tenant's upload
 * over it gets its own result; a clean stop leaves none, and a restart after kill -9
 * removes them. */
START_TEST(test_service_reuse)
{
    int64_t x0[ROWS * NIN];
    setup_dir(x0);
    char plan[256], key[256], key2[256], keys2[300], tokens[256];
    path(plan, "plan.cnp");
    path(key, "client.key");
    path(tokens, "tokens.txt");
    other_key(key2, keys2);
    static const char tenants[] = "a token-of-a\nb token-of-b\n";
    write_bytes(tokens, tenants, sizeof tenants - 1);
    chmod(tokens, 0600);
    size_t plen;
    char *pb = slurp(plan, &plen);
    cn_plan_t *p;
    cn_net_diag_t d = {{0}};
    ck_assert_int_eq(cn_plan_from_bytes(&p, (const uint8_t *)pb, plen, 0, &d), CN_OK);
    const size_t rows = cn_plan_params(p)->n + 3; /* two records */
    cn_plan_free(p);
    free(pb);
    int64_t *x = malloc(rows * NIN * sizeof *x), y[ROWS * NIN];
    ck_assert_ptr_nonnull(x);
    inputs(x, rows, 73);
    inputs(y, ROWS, 74);
    server_t s;
    start_server(&s, "serve", (const char *[]){"--tokens", tokens, "--workers", "1", NULL});
    answer_t *a = malloc(sizeof *a);
    ck_assert_ptr_nonnull(a);
    char kid[65], kid2[65], t[256], job[65], in[256], out[256];
    register_key(kid, s.port, "token-of-a");
    /* tenant b's key */
    size_t klen;
    char *kb = slurp(keys2, &klen);
    ck_assert_int_eq(request(a, s.port, "POST", "/v1/keys", "token-of-b", kb, klen) / 100, 2);
    field(kid2, sizeof kid2, a, "key");
    free(kb);
    ck_assert_uint_eq(spares(&(uint64_t){0}), 0);
    /* tenant a: two records, then deleted: its batch file becomes a spare of its length */
    size_t len1, len2;
    char *b1 = make_batch("big.bin", key, x, rows, &len1);
    reuse_post(job, s.port, "token-of-a", kid, b1, len1, "big");
    wait_job(a, s.port, "token-of-a", job);
    snprintf(t, sizeof t, "/v1/jobs/%.64s", job);
    expect(s.port, "DELETE", t, "token-of-a", NULL, 0, 200, NULL);
    ck_assert_uint_eq(wait_spares(s.port, 1), len1);
    const ino_t ino = spare_ino;
    /* a refused upload (garbage) takes it and gives it back */
    snprintf(t, sizeof t, "/v1/jobs?key=%.64s", kid2);
    expect(s.port, "POST", t, "token-of-b", "garbage", 7, 400, "bad_batch");
    wait_spares(s.port, 1);
    ck_assert_msg(spare_ino == ino, "a refused upload did not give the spare back");
    /* tenant b: one record written over it (the same file: its inode), cut to its own
     * length, its own result */
    char *b2 = make_batch("small.bin", key2, y, ROWS, &len2);
    ck_assert_uint_lt(len2, len1);
    reuse_post(job, s.port, "token-of-b", kid2, b2, len2, "small");
    ck_assert_uint_eq(spares(&(uint64_t){0}), 0); /* taken by the upload */
    /* its result, downloaded and decrypted by the client (which deletes the job) */
    reuse_check(s.port, "token-of-b", job, key2, y, ROWS, "resume");
    ck_assert_uint_eq(wait_spares(s.port, 1), len2);
    ck_assert_msg(spare_ino == ino, "the upload did not write over the spare");
    /* through the client too: tenant a again, two records over the short file */
    path(in, "reuse.csv");
    path(out, "reuse.out");
    write_csv(in, x, rows);
    const int rc = infer("infer", s.port, "token-of-a", key, in, out, NULL, NULL);
    char *err = err_of("infer");
    ck_assert_msg(rc == 0, "%s", err);
    free(err);
    check_plan_outputs(out, "plan.cnp", x, rows, NOUT);
    ck_assert_uint_eq(wait_spares(s.port, 1), len1);
    /* a clean stop removes it */
    stop_server(&s);
    ck_assert_uint_eq(spares(&(uint64_t){0}), 0);
    /* kill -9 leaves one; the next start removes it and says so */
    start_server(&s, "serve2", (const char *[]){"--tokens", tokens, "--workers", "1", NULL});
    reuse_post(job, s.port, "token-of-b", kid2, b2, len2, "small2");
    wait_job(a, s.port, "token-of-b", job);
    snprintf(t, sizeof t, "/v1/jobs/%.64s", job);
    expect(s.port, "DELETE", t, "token-of-b", NULL, 0, 200, NULL);
    wait_spares(s.port, 1);
    kill_server(&s);
    ck_assert_uint_eq(spares(&(uint64_t){0}), 1);
    start_server(&s, "serve3", (const char *[]){"--tokens", tokens, "--workers", "1", NULL});
    ck_assert_uint_eq(spares(&(uint64_t){0}), 0);
    err_has("serve3", "kept for reuse when the server stopped, removed");
    stop_server(&s);
    free(a);
    free(b1);
    free(b2);
    free(x);
    remove_dir();
}
END_TEST

static void reuse_job(int port, const char *kid, const char *key, const int64_t *x, size_t rows,
                      const char *tag)
{
    char job[65], name[64];
    size_t len;
    snprintf(name, sizeof name, "%s.bin", tag);
    char *b = make_batch(name, key, x, rows, &len);
    reuse_post(job, port, "token-of-a", kid, b, len, tag);
    free(b);
    reuse_check(port, "token-of-a", job, key, x, rows, tag);
}

/* Tenant a's jobs of x and x2 (ROWS rows each) posted one after the other: their ids
 * into job1 and job2. */
static void reuse_queue(char job1[65], char job2[65], int port, const char *kid,
                        const char *key, const int64_t *x, const int64_t *x2)
{
    size_t len1, len2;
    char *b1 = make_batch("queue1.bin", key, x, ROWS, &len1);
    char *b2 = make_batch("queue2.bin", key, x2, ROWS, &len2);
    reuse_post(job1, port, "token-of-a", kid, b1, len1, "queue1");
    reuse_post(job2, port, "token-of-a", kid, b2, len2, "queue2");
    free(b1);
    free(b2);
}

/* A spare that is not what the server left in tmp/ (a file hard-linked elsewhere, a
 * directory, a FIFO) is never written to: the upload gets a new file, its job is right,
 * the other name's bytes are unchanged, nothing hangs (defects: the hard link written
 * through, a directory giving 500 "File exists"); a reply that cannot be written for want
 * of space while spares are kept (CRYPTONETS_SERVE_FAULT=reply=enospc-spare) removes them
 * and is written again: its job is done, not failed; so is an upload's write
 * (upload=enospc-spare): 202, not 507; a start-up names a directory under a
 * spare's name as a directory. */
START_TEST(test_service_reuse_faults)
{
    int64_t x[ROWS * NIN];
    setup_dir(x);
    char key[256], tokens[256], linked[256], kid[65];
    path(key, "client.key");
    path(tokens, "tokens.txt");
    path(linked, "hardlink.bin");
    static const char tenants[] = "a token-of-a\n";
    write_bytes(tokens, tenants, sizeof tenants - 1);
    chmod(tokens, 0600);
    const char *const opts[] = {"--tokens", tokens, "--workers", "1", NULL};
    server_t s;
    start_server(&s, "serve", opts);
    register_key(kid, s.port, "token-of-a");
    reuse_job(s.port, kid, key, x, ROWS, "first");
    wait_spares(s.port, 1);
    /* a hard link to the spare: its bytes stay the first job's */
    ck_assert_int_eq(link(spare_name, linked), 0);
    size_t before_len, after_len;
    char *before = slurp(linked, &before_len);
    const ino_t ino = spare_ino;
    inputs(x, ROWS, 81);
    reuse_job(s.port, kid, key, x, ROWS, "linked");
    char *after = slurp(linked, &after_len);
    ck_assert_msg(
        after_len == before_len && !memcmp(before, after, before_len),
        "an upload was written through a hard link to a spare (%zu bytes, %zu before)",
        after_len, before_len);
    free(before);
    free(after);
    wait_spares(s.port, 1);
    ck_assert_msg(spare_ino != ino, "a hard-linked spare was kept");
    /* a directory, then a FIFO, in the spare's place */
    for (int k = 0; k < 2; k++) {
        char name[600];
        snprintf(name, sizeof name, "%s", spare_name);
        ck_assert_int_eq(unlink(name), 0);
        ck_assert_int_eq(k == 0 ? mkdir(name, 0700) : mkfifo(name, 0600), 0);
        inputs(x, ROWS, 82 + k);
        reuse_job(s.port, kid, key, x, ROWS, k == 0 ? "dir" : "fifo");
        /* the directory is left where it is (a FIFO is removed as the spare's name) */
        struct stat sb;
        if (k == 0) {
            ck_assert_int_eq(lstat(name, &sb), 0);
            ck_assert(S_ISDIR(sb.st_mode));
            ck_assert_int_eq(rmdir(name), 0);
        } else {
            ck_assert_int_ne(lstat(name, &sb), 0);
        }
        wait_spares(s.port, 1);
    }
    stop_server(&s);
    /* two jobs queued by a server with no worker, so that both batches are in place
     * before either runs (no upload can take a spare between them) */
    int64_t x2[ROWS * NIN];
    char job1[65], job2[65];
    const char *const idle[] = {"--tokens", tokens, "--workers", "0", NULL};
    start_server(&s, "queue", idle);
    inputs(x, ROWS, 84);
    inputs(x2, ROWS, 85);
    reuse_queue(job1, job2, s.port, kid, key, x, x2);
    stop_server(&s);
    /* a directory under a spare's name at start: named as such, left in place */
    char d[300];
    snprintf(d, sizeof d, "%s/state/tmp/spare-1-1", dir);
    ck_assert_int_eq(mkdir(d, 0700), 0);
    /* a full disk for the reply while a spare is kept: the first job's reply is written
     * with no spare; its batch becomes one before the second runs, whose reply then
     * cannot be written until the spare is removed: done, not failed, its outputs right */
    setenv("CRYPTONETS_SERVE_FAULT", "reply=enospc-spare", 1);
    start_server(&s, "serve2", opts);
    unsetenv("CRYPTONETS_SERVE_FAULT");
    err_has("serve2", "spare-1-1: a batch file kept for reuse when the server stopped, but "
                      "not a regular file (a directory): left in place");
    ck_assert_int_eq(rmdir(d), 0);
    reuse_check(s.port, "token-of-a", job1, key, x, ROWS, "nospace1");
    reuse_check(s.port, "token-of-a", job2, key, x2, ROWS, "nospace2");
    wait_spares(s.port, 1); /* the second's batch (the first's was removed) */
    stop_server(&s);
    err_has("serve2", "1 batch file kept for reuse removed, the reply written again");
    /* a full disk for an upload while a spare is kept: two queued jobs leave two spares;
     * an upload takes one, and its write fails for want of space until the other is
     * removed: accepted (202), done, right */
    start_server(&s, "queue2", idle);
    inputs(x, ROWS, 86);
    inputs(x2, ROWS, 87);
    reuse_queue(job1, job2, s.port, kid, key, x, x2);
    stop_server(&s);
    setenv("CRYPTONETS_SERVE_FAULT", "upload=enospc-spare", 1);
    start_server(&s, "serve3", opts);
    unsetenv("CRYPTONETS_SERVE_FAULT");
    reuse_check(s.port, "token-of-a", job1, key, x, ROWS, "upload1");
    reuse_check(s.port, "token-of-a", job2, key, x2, ROWS, "upload2");
    wait_spares(s.port, 2);
    inputs(x, ROWS, 88);
    reuse_job(s.port, kid, key, x, ROWS, "upload3");
    stop_server(&s);
    err_has("serve3", "1 batch file kept for reuse removed, the upload's write made again");
    remove_dir();
}
END_TEST

CN_SUITE(service)
{
    Suite *s = suite_create("service");
    TCase *tc = cn_tcase("service", 300);
    tcase_add_test(tc, test_service_flow);
    tcase_add_test(tc, test_service_done_early);
    tcase_add_test(tc, test_service_plan_etag);
    tcase_add_test(tc, test_service_tenants);
    tcase_add_test(tc, test_service_restart);
    tcase_add_test(tc, test_service_faults);
    tcase_add_test(tc, test_service_limits);
    tcase_add_test(tc, test_service_memory);
    tcase_add_test(tc, test_service_tls);
    tcase_add_test(tc, test_service_stream_retry);
    tcase_add_test(tc, test_service_warm);
    tcase_add_test(tc, test_service_mnist);
    tcase_add_test(tc, test_service_slow_headers);
    tcase_add_test(tc, test_service_lock);
    tcase_add_test(tc, test_service_job_reasons);
    tcase_add_test(tc, test_service_odd_bytes);
    tcase_add_test(tc, test_service_long_poll);
    tcase_add_test(tc, test_service_leftovers);
    tcase_add_test(tc, test_service_packed);
    tcase_add_test(tc, test_service_chunked);
    tcase_add_test(tc, test_service_upload_limits);
    tcase_add_test(tc, test_service_state_repair);
    tcase_add_test(tc, test_service_small);
    tcase_add_test(tc, test_service_early_start);
    tcase_add_test(tc, test_service_state_dir);
    tcase_add_test(tc, test_service_tls_checks);
    tcase_add_test(tc, test_service_client);
    tcase_add_test(tc, test_service_interrupt);
    tcase_add_test(tc, test_service_start_files);
    tcase_add_test(tc, test_service_job_failures);
    tcase_add_test(tc, test_service_split_interrupt);
    tcase_add_test(tc, test_service_bad_inputs);
    tcase_add_test(tc, test_service_resume_state);
    tcase_add_test(tc, test_service_port_link);
    tcase_add_test(tc, test_service_plan_cache);
    tcase_add_test(tc, test_service_reuse);
    tcase_add_test(tc, test_service_reuse_faults);
    suite_add_tcase(s, tc);
    return s;
}
