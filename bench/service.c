/* bench/service: the cost of the HTTP service (docs/service.md) against evaluation in one
 * process. A model (default: the committed MNIST model, 4-bit weights, as `make bench`)
 * is compiled and keyed with the `cryptonets` tool; then, round by round and in
 * alternating order so that the machine's drift hits both alike:
 *   in-process  encrypt, evaluate and decrypt one full batch through the library's
 *               client/server API (cn_client_encrypt, cn_server_eval, cn_client_decrypt)
 *   service     `cryptonets infer` of the same inputs against `cryptonets serve` on
 *               loopback: a new process that fetches the plan, checks the key, encrypts,
 *               uploads, waits, downloads and decrypts (the key is registered beforehand)
 * and reports each one's end-to-end seconds per batch (median, min, max), predictions per
 * hour, the ratio service / in-process (the target: at most 1.10), and the peak
 * resident memory of the server while --queued jobs are submitted at once (one worker:
 * the others wait in the queue). Both sides use --threads threads. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "cryptonets/cryptonets.h"

#define MAX_REPS 64

static char tool[4096], dir[64];

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "bench/service: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(1);
}

static void path(char *p, size_t cap, const char *name)
{
    snprintf(p, cap, "%s/%s", dir, name);
}

extern char **environ;

/* Starts the tool with args (NULL-terminated); stdout and stderr to DIR/tag.log. */
static pid_t spawn(const char *tag, const char *const *args)
{
    const char *argv[40] = {tool};
    size_t n = 1;
    for (; args[n - 1] && n < 39; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    char log[256], name[64];
    snprintf(name, sizeof name, "%.32s.log", tag);
    path(log, sizeof log, name);
    /* posix_spawn, not fork: a fork makes every page of this process's heap (the
     * in-process client's and server's buffers, a GB) copy-on-write until the child
     * execs, and each then costs the in-process half a page fault at its next write
     * (measured: 1.5 s more per in-process batch after a service half on the test VM) */
    posix_spawn_file_actions_t fa;
    pid_t pid;
    if (posix_spawn_file_actions_init(&fa) != 0 ||
        posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600) ||
        posix_spawn_file_actions_adddup2(&fa, 1, 2) ||
        posix_spawn(&pid, tool, &fa, NULL, (char *const *)argv, environ) != 0)
        die("cannot start %s", tool);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

/* Waits for pid, which must exit with 0; its resource use into ru (may be NULL). */
static void wait_ok(pid_t pid, const char *tag, struct rusage *ru)
{
    int st;
    if (wait4(pid, &st, 0, ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char log[256], name[64];
        snprintf(name, sizeof name, "%.32s.log", tag);
        path(log, sizeof log, name);
        die("%s failed: see its log", log);
    }
}

static void run_tool(const char *tag, const char *const *args)
{
    wait_ok(spawn(tag, args), tag, NULL);
}

static double tv_s(struct timeval t)
{
    return (double)t.tv_sec + 1e-6 * (double)t.tv_usec;
}

/* run_tool, returning the CPU seconds (user + system, every thread) the tool used. */
static double run_tool_cpu(const char *tag, const char *const *args)
{
    struct rusage ru;
    wait_ok(spawn(tag, args), tag, &ru);
    return tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
}

/* This process's CPU seconds so far (every thread). */
static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
}

/* The CPU seconds process pid has used so far (/proc/PID/stat: utime + stime, in clock
 * ticks). */
static double proc_cpu(pid_t pid)
{
    char p[64], buf[2048];
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(p, "r");
    size_t k = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[k] = 0;
    const char *q = strrchr(buf, ')'); /* the command name may hold blanks */
    unsigned long long ut = 0, stt = 0;
    if (!q ||
        sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stt) != 2)
        return 0;
    return (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
}

static uint8_t *read_all(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        die("%s: cannot read", p);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len ? *len : 1);
    if (!b || fread(b, 1, *len, f) != *len)
        die("%s: cannot read", p);
    fclose(f);
    return b;
}

/* The resident memory of pid (VmRSS or VmHWM from /proc), bytes. */
static double proc_mem(pid_t pid, const char *field)
{
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "r");
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, strlen(field)))
            kb = strtod(line + strlen(field) + 1, NULL);
    if (f)
        fclose(f);
    return kb * 1024;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void stats(const double *v, size_t k, double *med, double *lo, double *hi)
{
    double s[MAX_REPS];
    memcpy(s, v, k * sizeof *s);
    qsort(s, k, sizeof *s, cmp_double);
    *med = k % 2 ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
    *lo = s[0];
    *hi = s[k - 1];
}

int main(int argc, char **argv)
{
    const char *model = "examples/models/cryptonets_mnist.cnm", *wbits = "4", *threads = "0";
    size_t reps = 3, queued = 3;
    int keep = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--model") && v)
            model = argv[++i];
        else if (!strcmp(a, "--weight-bits") && v)
            wbits = argv[++i];
        else if (!strcmp(a, "--threads") && v)
            threads = argv[++i];
        else if (!strcmp(a, "--batches") && v)
            reps = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--queued") && v)
            queued = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--keep"))
            keep = 1;
        else if (!strcmp(a, "--tool") && v)
            snprintf(tool, sizeof tool, "%s", argv[++i]);
        else {
            fprintf(stderr,
                    "usage: bench/service [--model M.cnm] [--weight-bits B] "
                    "[--batches R] [--queued K] [--threads T] [--tool PATH] [--keep]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS || queued > 16)
        die("%s", "--batches: 1 to 64, --queued: 0 to 16");
    if (!tool[0]) { /* build/bench/service -> build/tools/cryptonets */
        char self[4000];
        const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        self[n > 0 ? n : 0] = 0;
        char *p = strstr(self, "/bench/service");
        if (!p)
            die("%s", "cannot place the tool: give --tool");
        *p = 0;
        snprintf(tool, sizeof tool, "%s/tools/cryptonets", self);
    }
    if (access(tool, X_OK) != 0)
        die("%s: not built (make tools)", tool);
    snprintf(dir, sizeof dir, "/tmp/cn_bench_service_XXXXXX");
    if (!mkdtemp(dir))
        die("mkdtemp: %s", strerror(errno));
    char plan[256], key[256], keys[256], in[256], out[256], state[256], portf[256];
    path(plan, sizeof plan, "plan.cnp");
    path(key, sizeof key, "client.key");
    path(keys, sizeof keys, "eval.keys");
    path(in, sizeof in, "in.npy");
    path(out, sizeof out, "out.csv");
    path(state, sizeof state, "state");
    path(portf, sizeof portf, "port");

    /* the plan, the key, one full batch of inputs in the model's range */
    run_tool("compile", (const char *[]){"compile", model, "-o", plan, "--weight-bits", wbits,
                                         "--quiet", NULL});
    run_tool("keygen", (const char *[]){"keygen", plan, "-o", key, "--eval-keys", keys, NULL});
    cn_model_t m;
    cn_net_diag_t d = {{0}};
    if (cn_model_load(&m, model, &d) != CN_OK)
        die("%s: cannot load", model);
    size_t plen, klen;
    uint8_t *pb = read_all(plan, &plen), *kb = read_all(keys, &klen);
    cn_plan_t *p = NULL;
    if (cn_plan_from_bytes(&p, pb, plen, 0, &d) != CN_OK)
        die("%s: cannot load", plan);
    const size_t n = cn_plan_params(p)->n, nin = cn_plan_inputs(p), k = cn_plan_outputs(p);
    int64_t *x = malloc(n * nin * sizeof *x);
    cn_int128 *y = malloc(n * k * sizeof *y);
    uint64_t s = 0x5eed;
    FILE *f = fopen(in, "wb");
    if (!x || !y || !f)
        die("%s", "out of memory");
    /* NumPy .npy 1.0 of little-endian int64 (what a data owner would hand over; parsed in
     * a blink, so the comparison is of the service, not of a CSV reader): magic, version,
     * header length, the header dict padded with blanks to a multiple of 64, then data */
    char hdr[128];
    int hl =
        snprintf(hdr, sizeof hdr,
                 "{'descr': '<i8', 'fortran_order': False, 'shape': (%zu, %zu), }", n, nin);
    while ((10 + hl + 1) % 64)
        hdr[hl++] = ' ';
    hdr[hl++] = '\n';
    const uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)hl, 0};
    fwrite(pre, 1, sizeof pre, f);
    fwrite(hdr, 1, (size_t)hl, f);
    const uint64_t span = (uint64_t)(m.input_max - m.input_min) + 1;
    for (size_t i = 0; i < n * nin; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = m.input_min + (int64_t)((s >> 33) % span);
        uint8_t le[8];
        for (int b = 0; b < 8; b++)
            le[b] = (uint8_t)((uint64_t)x[i] >> (8 * b));
        fwrite(le, 1, 8, f);
    }
    if (fclose(f) != 0)
        die("%s: cannot write", in);
    cn_model_clear(&m);
    const int nthreads = atoi(threads);
    cn_client_t *c = NULL;
    cn_server_t *srv = NULL;
    if (cn_client_load(&c, p, key, &d) != CN_OK ||
        cn_server_create(&srv, p, kb + 120, klen - 120, nthreads, &d) != CN_OK)
        die("in-process client or server: %s", d.msg);
    cn_client_set_threads(c, nthreads);

    /* the server, and a first request that registers the key */
    const pid_t server = spawn(
        "serve", (const char *[]){"serve", "--plan", plan, "--state-dir", state, "--listen",
                                  "127.0.0.1:0", "--port-file", portf, "--threads", threads,
                                  "--max-batches", "1", "--max-jobs", "32", NULL});
    char url[64] = "";
    for (int i = 0; i < 600 && !url[0]; i++) {
        FILE *pf = fopen(portf, "r");
        int port = 0;
        if (pf && fscanf(pf, "%d", &port) == 1)
            snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
        if (pf)
            fclose(pf);
        if (!url[0])
            usleep(100000);
    }
    if (!url[0])
        die("%s", "the server did not start");
    const char *infer_args[] = {"infer", "--server", url,         "--key", key,       in,
                                "-o",    out,        "--threads", threads, "--quiet", NULL};
    run_tool("warmup", infer_args);
    printf("bench/service: %s, n = %zu (%zu inputs per batch), %s thread(s), tool %s\n", model,
           n, n, nthreads ? threads : "all", tool);

    double tin[MAX_REPS], tsv[MAX_REPS], tenc[MAX_REPS], teval[MAX_REPS], tdec[MAX_REPS];
    double cin[MAX_REPS], cenc[MAX_REPS], cinf[MAX_REPS], csrv[MAX_REPS]; /* CPU seconds */
    size_t up = 0, down = 0;
    for (size_t r = 0; r < reps; r++) {
        for (int half = 0; half < 2; half++) {
            if ((half == 0) == (r % 2 == 0)) { /* in-process */
                uint8_t *ub = NULL, *db = NULL;
                const double c0 = self_cpu();
                const double t0 = now_s();
                if (cn_client_encrypt(&ub, &up, c, x, n, &d) != CN_OK)
                    die("in-process: %s", d.msg);
                const double t1 = now_s();
                cenc[r] = self_cpu() - c0;
                if (cn_server_eval(&db, &down, srv, ub, up, NULL, &d) != CN_OK)
                    die("in-process: %s", d.msg);
                const double t2 = now_s();
                if (cn_client_decrypt(y, c, db, down, n, &d) != CN_OK)
                    die("in-process: %s", d.msg);
                tin[r] = now_s() - t0;
                cin[r] = self_cpu() - c0;
                tenc[r] = t1 - t0;
                teval[r] = t2 - t1;
                tdec[r] = tin[r] - (t2 - t0);
                free(ub);
                free(db);
            } else { /* through the service */
                const double s0 = proc_cpu(server);
                const double t0 = now_s();
                cinf[r] = run_tool_cpu("infer", infer_args);
                tsv[r] = now_s() - t0;
                /* the server's share, once it is idle again (the job's files are removed
                 * after infer's DELETE): its CPU unchanged over 0.2 s, at most 3 s */
                double c1 = proc_cpu(server), c2 = -1;
                for (int w = 0; w < 15 && c2 != c1; w++) {
                    c2 = c1;
                    usleep(200000);
                    c1 = proc_cpu(server);
                }
                csrv[r] = c1 - s0;
            }
        }
        printf("  batch %zu: in-process %.2f s (encrypt %.2f, evaluate %.2f, decrypt %.2f), "
               "service %.2f s\n",
               r + 1, tin[r], tenc[r], teval[r], tdec[r], tsv[r]);
        fflush(stdout);
    }
    double mi, li, hi, ms, ls, hs;
    stats(tin, reps, &mi, &li, &hi);
    stats(tsv, reps, &ms, &ls, &hs);
    printf("end to end per batch (median, min, max over %zu):\n", reps);
    printf("  in-process  %8.2f %8.2f %8.2f s  %10.0f predictions/hour\n", mi, li, hi,
           3600.0 * (double)n / mi);
    printf("  service     %8.2f %8.2f %8.2f s  %10.0f predictions/hour\n", ms, ls, hs,
           3600.0 * (double)n / ms);
    printf("  overhead ratio (service / in-process, medians): %.3f (target <= 1.10)\n",
           ms / mi);
    double me, md, mx, lo, up_;
    stats(tenc, reps, &me, &lo, &up_);
    stats(teval, reps, &mx, &lo, &up_);
    stats(tdec, reps, &md, &lo, &up_);
    printf("  in-process parts (medians): encrypt %.3f s, evaluate %.3f s, decrypt %.3f s\n",
           me, mx, md);
    double mci, mcc, mcs, mce;
    stats(cin, reps, &mci, &lo, &up_);
    stats(cenc, reps, &mce, &lo, &up_);
    stats(cinf, reps, &mcc, &lo, &up_);
    stats(csrv, reps, &mcs, &lo, &up_);
    printf("  CPU seconds per batch (medians): in-process %.2f (encryption %.2f); service "
           "%.2f = infer %.2f + serve %.2f\n",
           mci, mce, mcc + mcs, mcc, mcs);
    printf("  bytes per batch: up %zu, down %zu\n", up, down);

    /* peak memory of the server with jobs queued behind one worker */
    if (queued) {
        pid_t q[16];
        char tag[16][16];
        double peak = 0;
        for (size_t i = 0; i < queued; i++) {
            snprintf(tag[i], sizeof tag[i], "queued%zu", i);
            q[i] = spawn(tag[i], infer_args);
        }
        for (size_t done = 0; done < queued;) {
            const double rss = proc_mem(server, "VmRSS:");
            peak = rss > peak ? rss : peak;
            int st;
            const pid_t w = waitpid(-1, &st, WNOHANG);
            if (w > 0 && w != server)
                done++;
            else
                usleep(50000);
        }
        (void)q;
        printf("server with %zu jobs submitted at once (1 worker): peak RSS %.0f MiB sampled, "
               "%.0f MiB high-water mark\n",
               queued, peak / 1048576.0, proc_mem(server, "VmHWM:") / 1048576.0);
    }
    kill(server, SIGTERM);
    wait_ok(server, "serve", NULL);
    cn_server_free(srv);
    cn_client_free(c);
    cn_plan_free(p);
    free(pb);
    free(kb);
    free(x);
    free(y);
    if (keep) {
        printf("working directory (plan, keys, inputs, each tool's log) kept: %s\n", dir);
        return 0;
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench/service: %s left behind\n", dir);
    return 0;
}
