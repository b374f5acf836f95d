/* `cryptonets infer` (docs/service.md): the client of the private-inference service, on
 * libcurl. It fetches the server's plan and checks it is the one the client key was made
 * for, registers the evaluation keys once (their id is their hash, so a second
 * registration is a no-op), encrypts the inputs and uploads each record's bytes as soon as
 * they are encrypted (stream_t; a repeat encrypts them again from the job's secret seed,
 * the same bytes), waits for the job, downloads the encrypted result and decrypts it as
 * `cryptonets decrypt` does, in a private temporary directory. Every request is idempotent, so
 * each is retried on a lost connection and on 503/429. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "service.h"

int cli_decrypt(cli_args_t *a);

typedef struct {
    const char *server, *key, *eval_keys, *token_file, *cacert, *out, *format, *threads,
        *input_shift;
    const char *job; /* --job ID: an accepted job to wait for, download and decrypt */
    size_t retries;
    double wait;
    int json, raw, quiet, keep, del;
} infer_opts_t;

static const cli_args_t A = {.cmd = "infer"};

static void say(const infer_opts_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static double t_start; /* when the command started: progress lines give the time since */
#define TL(...) svc_timeline("infer", __VA_ARGS__) /* CRYPTONETS_TIMELINE (timeline.c) */

static void say(const infer_opts_t *o, const char *fmt, ...)
{
    if (o->quiet)
        return;
    va_list ap;
    fprintf(stderr, "cryptonets infer: [%.1f s] ", cli_now() - t_start);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static const char infer_help[] =
    "usage: cryptonets infer --server URL --key CLIENT_KEY INPUTS [-o OUT.csv] [--json]\n"
    "       cryptonets infer --server URL --key CLIENT_KEY --job ID [-o OUT.csv] [--json]\n\n"
    "Runs INPUTS (CSV, IDX or .npy, as for encrypt) through a `cryptonets serve` server:\n"
    "fetches its plan (refused unless CLIENT_KEY was made for it), registers the evaluation\n"
    "keys once, encrypts, uploads, waits, downloads and decrypts; prints the predictions as\n"
    "decrypt does. Progress on stderr. The secret key never leaves this process. Inputs\n"
    "that need more records than the server's --max-batches run as several jobs in turn.\n"
    "A job left on the server (--wait, a lost server, a signal) is named with the commands\n"
    "that resume and delete it.\n"
    "  --server URL        http://HOST:PORT or https://HOST:PORT\n"
    "  --key CLIENT_KEY    the client key (cryptonets keygen)\n"
    "  --eval-keys FILE    the evaluation keys to register (default CLIENT_KEY.eval-keys,\n"
    "                      made from the key on first use and kept, so the id is stable)\n"
    "  --token-file FILE   the bearer token (default: $CRYPTONETS_TOKEN)\n"
    "  --cacert FILE       the CA certificate(s) that sign the server's (PEM)\n"
    "  --retries N         attempts per request on a lost connection, 503 or 429 (default 8)\n"
    "  --wait S            longest wait for the result, seconds (default 86400)\n"
    "  --keep              leave the job on the server (default: deleted once downloaded)\n"
    "  --job ID            instead of INPUTS: wait for, download and decrypt a job accepted\n"
    "                      before (one whose --wait ran out), encrypted under CLIENT_KEY\n"
    "  --delete            with --job ID: delete that job on the server\n"
    "  -o OUT, --json, --raw, --format F, --input-shift N, --threads T, --quiet: as for\n"
    "                      encrypt and decrypt\n";

static int usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "cryptonets infer: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see `cryptonets infer --help`)\n");
    return CLI_USAGE;
}

static int parse_infer(infer_opts_t *o, int argc, char **argv, const char **inputs)
{
    enum {
        O_SERVER = 256,
        O_KEY,
        O_EVAL,
        O_TOKEN,
        O_CACERT,
        O_JSON,
        O_RAW,
        O_FORMAT,
        O_SHIFT,
        O_THREADS,
        O_QUIET,
        O_RETRIES,
        O_WAIT,
        O_KEEP,
        O_JOB,
        O_DELETE,
        O_HELP
    };
    static const struct option opts[] = {
        {"server", 1, 0, O_SERVER},
        {"key", 1, 0, O_KEY},
        {"eval-keys", 1, 0, O_EVAL},
        {"token-file", 1, 0, O_TOKEN},
        {"cacert", 1, 0, O_CACERT},
        {"json", 0, 0, O_JSON},
        {"raw", 0, 0, O_RAW},
        {"format", 1, 0, O_FORMAT},
        {"input-shift", 1, 0, O_SHIFT}, /* as encrypt's (docs/cli.md) */
        {"threads", 1, 0, O_THREADS},
        {"quiet", 0, 0, O_QUIET},
        {"retries", 1, 0, O_RETRIES},
        {"wait", 1, 0, O_WAIT},
        {"keep", 0, 0, O_KEEP},
        {"job", 1, 0, O_JOB},
        {"delete", 0, 0, O_DELETE},
        {"help", 0, 0, O_HELP},
        {0, 0, 0, 0},
    };
    *o = (infer_opts_t){.retries = 8, .wait = 86400};
    *inputs = NULL;
    optind = 1;
    opterr = 0;
    int c;
    char *e;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        /* a path option's empty value: refused before anything is read or sent */
        if ((c == 'o' || c == O_KEY || c == O_EVAL || c == O_TOKEN || c == O_CACERT) &&
            !*optarg) {
            for (size_t k = 0; c != 'o'; k++)
                if (opts[k].val == c)
                    return usage("--%s: an empty path", opts[k].name);
            return usage("%s", "-o: an empty path");
        }
        switch (c) {
        case O_SERVER:
            o->server = optarg;
            break;
        case O_KEY:
            o->key = optarg;
            break;
        case O_EVAL:
            o->eval_keys = optarg;
            break;
        case O_TOKEN:
            o->token_file = optarg;
            break;
        case O_CACERT:
            o->cacert = optarg;
            break;
        case O_JSON:
            o->json = 1;
            break;
        case O_RAW:
            o->raw = 1;
            break;
        case O_THREADS: {
            size_t t;
            if (cli_parse_size(&t, &A, "--threads", optarg, 4096))
                return CLI_USAGE;
            o->threads = optarg;
            break;
        }
        case O_FORMAT:
            if (strcmp(optarg, "csv") && strcmp(optarg, "idx") && strcmp(optarg, "npy"))
                return usage("--format: csv, idx or npy, got '%s'", optarg);
            o->format = optarg;
            break;
        case O_QUIET:
            o->quiet = 1;
            break;
        case O_SHIFT: {
            unsigned sh;
            if (cli_parse_shift(&sh, &A, optarg))
                return CLI_USAGE;
            o->input_shift = optarg;
            break;
        }
        case O_KEEP:
            o->keep = 1;
            break;
        case O_DELETE:
            o->del = 1;
            break;
        case 'o':
            o->out = optarg;
            break;
        case O_JOB:
            o->job = optarg;
            if (strlen(optarg) != 64 || strspn(optarg, "0123456789abcdef") != 64)
                return usage("--job: a job id is 64 lowercase hexadecimal digits, got '%s'",
                             optarg);
            break;
        case O_RETRIES:
            o->retries = strtoul(optarg, &e, 10);
            if (*e || !*optarg || o->retries < 1 || o->retries > 1000)
                return usage("--retries: 1 to 1000, got '%s'", optarg);
            break;
        case O_WAIT:
            o->wait = strtod(optarg, &e);
            if (*e || !(o->wait > 0))
                return usage("--wait: seconds > 0, got '%s'", optarg);
            break;
        case O_HELP:
            fputs(infer_help, stdout);
            return -1;
        default:
            return usage("unknown option or missing value: '%s'", argv[optind - 1]);
        }
    }
    if (o->job && optind != argc)
        return usage("%s", "--job ID resumes a job: no INPUTS with it");
    if (!o->job && optind + 1 != argc)
        return usage("%s", optind < argc ? "one INPUTS file expected, more given"
                                         : "INPUTS (the file of inputs) is required");
    *inputs = o->job ? NULL : argv[optind];
    if (*inputs && !**inputs)
        return usage("%s", "INPUTS: an empty path");
    if (o->out && !strcmp(o->out, "-"))
        o->out = "/dev/stdout"; /* "-o -": stdout, as the descriptor the shell gave */
    if (!o->server || !o->key)
        return usage("%s", "--server URL and --key CLIENT_KEY are required");
    if (strncmp(o->server, "http://", 7) != 0 && strncmp(o->server, "https://", 8) != 0)
        return usage("--server: http://HOST:PORT or https://HOST:PORT, got '%s'", o->server);
    /* the paths are appended to the URL ("/v1/plan"): a trailing slash is dropped, and a
     * URL that names the API's root already is refused with the base to give instead */
    static char server[2048];
    size_t n = strlen(o->server);
    while (n > 8 && o->server[n - 1] == '/')
        n--;
    if (n >= sizeof server)
        return usage("--server: a URL of at most 2047 characters, got '%.100s...'", o->server);
    snprintf(server, sizeof server, "%.*s", (int)n, o->server);
    if (n >= 3 && !strcmp(server + n - 3, "/v1")) {
        fprintf(stderr,
                "cryptonets infer: --server: the server's base URL, without /v1 (the "
                "requests add it): give '%.*s'\n",
                (int)(n - 3), server);
        return usage("--server: got '%s'", o->server);
    }
    o->server = server;
    if (o->del && !o->job)
        return usage("%s", "--delete deletes a job: give --job ID");
    return 0;
}

/* --- HTTP ------------------------------------------------------------------------------------
 */

typedef struct {
    CURL *h;
    const char *base, *cacert;
    char auth[1100];
    const infer_opts_t *o;
    const char *inm; /* an If-None-Match field for the next request, or NULL */
} http_t;

typedef struct {
    long status;
    char *body; /* the response body, NUL-terminated (when not written to sink) */
    size_t len;
    FILE *sink;
    double retry_after;
    char plan_sha[80];
    size_t max_records; /* X-Cryptonets-Max-Records of GET /v1/plan; 0: not said */
} resp_t;

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    resp_t *r = arg;
    const size_t n = size * nmemb;
    if (r->sink && r->status / 100 == 2)
        return fwrite(p, 1, n, r->sink);
    if (r->len + n > ((size_t)64 << 20)) /* a plan or a JSON document; nothing bigger */
        return 0;
    char *b = realloc(r->body, r->len + n + 1);
    if (!b)
        return 0;
    memcpy(b + r->len, p, n);
    r->len += n;
    b[r->len] = 0;
    r->body = b;
    return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
    resp_t *r = arg;
    const size_t n = size * nmemb;
    char line[256];
    snprintf(line, sizeof line, "%.*s", (int)(n < 255 ? n : 255), p);
    line[strcspn(line, "\r\n")] = 0;
    if (!strncmp(line, "HTTP/", 5)) { /* a new response (after 100 Continue): reset */
        r->status = strtol(strchr(line, ' ') ? strchr(line, ' ') : line, NULL, 10);
        r->retry_after = 0;
    } else if (!strncasecmp(line, "Retry-After:", 12)) {
        r->retry_after = strtod(line + 12, NULL);
    } else if (!strncasecmp(line, "X-Cryptonets-Plan-SHA256:", 25)) {
        const char *v = line + 25;
        while (*v == ' ')
            v++;
        snprintf(r->plan_sha, sizeof r->plan_sha, "%.64s", v);
    } else if (!strncasecmp(line, "X-Cryptonets-Max-Records:", 25)) {
        r->max_records = strtoul(line + 25, NULL, 10);
    }
    return n;
}

/* --- a job left on the server ----------------------------------------------------------
 * Once the server has accepted a job it keeps it (and its result) until it is deleted or
 * expires. Whatever ends infer before the job is downloaded and deleted (a lost server,
 * an error, --wait, a signal) prints its id and the commands that resume and delete it:
 * resume_text, made when the job is accepted, is written by the signal handler too. A
 * signal that arrives while POST /v1/jobs is in flight stops an upload still being sent,
 * but one sent whole waits for the server's answer, whose job id it prints. */
static char resume_text[32768];
static volatile size_t resume_len;        /* 0: no job on the server */
static volatile sig_atomic_t posting;     /* POST /v1/jobs in flight */
static volatile sig_atomic_t rewriting;   /* resume_text being rewritten */
static volatile sig_atomic_t interrupted; /* a signal that arrived meanwhile */
static int token_from_env;                /* the token is $CRYPTONETS_TOKEN's */
static char job_part[4400]; /* which part of INPUTS the job holds, when there are several */

/* An argument as a POSIX shell reads it back: as is, or single-quoted. */
static size_t shell_arg(char *out, size_t cap, const char *arg)
{
    if (*arg && strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                            "_./:=@%+,-") == strlen(arg))
        return (size_t)snprintf(out, cap, " %s", arg);
    size_t k = (size_t)snprintf(out, cap, " '");
    for (; *arg && k + 5 < cap; arg++)
        k += *arg == '\'' ? (size_t)snprintf(out + k, cap - k, "'\\''")
                          : (size_t)snprintf(out + k, cap - k, "%c", *arg);
    return k + (size_t)snprintf(out + k, cap - k, "'");
}

/* The command `cryptonets infer` with the options that reach this server as this one did
 * (server, key, token file, CA), then --job job and extra ones. */
static size_t job_command(char *out, size_t cap, const infer_opts_t *o, const char *job,
                          const char *const *extra)
{
    const char *args[16] = {"--server", o->server, "--key", o->key};
    size_t n = 4;
    if (o->token_file) {
        args[n++] = "--token-file";
        args[n++] = o->token_file;
    }
    if (o->cacert) {
        args[n++] = "--cacert";
        args[n++] = o->cacert;
    }
    args[n++] = "--job";
    args[n++] = job;
    for (; *extra && n < 16; extra++)
        args[n++] = *extra;
    size_t k = (size_t)snprintf(out, cap, "  cryptonets infer");
    for (size_t i = 0; i < n && k < cap; i++)
        k += shell_arg(out + k, cap - k, args[i]);
    return k < cap ? k : cap - 1;
}

static void remove_tmp(void);
static void die_of_signal(void);
static int speaks_tls(const char *base);

/* --- the jobs of a split run ---------------------------------------------------------
 * INPUTS of more records than a job of the server holds go as several jobs, one after the
 * other. Each stays on the server until the whole run's predictions are written (then all
 * are deleted): whatever ends the run before (a signal, --wait, an error) loses no result,
 * and resume_text names every job with the inputs it holds and the command that resumes
 * it into an output of its own (OUT.inputs-A-B.csv: its rows are numbered from 1 and hold
 * inputs A to B), then the inputs never sent, then the commands that delete the jobs. */
typedef struct {
    char id[65];
    size_t base, rows; /* inputs [base, base + rows) of INPUTS */
    int failed;        /* the job failed: its inputs must be sent again */
} part_t;

static part_t *parts;                         /* [njobs] the jobs accepted and on the server */
static size_t nparts, max_parts;              /* max_parts: njobs of a split run, else 0 */
static size_t part_base, part_rows, run_rows; /* the job being sent; INPUTS' rows */
static size_t sent_rows;                      /* rows of INPUTS in accepted jobs */
static const char *run_inputs;
static int parts_written; /* the whole output is written: the jobs remain to be deleted */

/* OUT with ".inputs-A-B" before its extension (out.csv: out.inputs-3-4.csv). */
static void part_output(char *dst, size_t cap, const char *out, size_t a, size_t b)
{
    const char *slash = strrchr(out, '/'), *name = slash ? slash + 1 : out;
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name)
        dot = name + strlen(name);
    snprintf(dst, cap, "%.*s.inputs-%zu-%zu%s", (int)(dot - out), out, a, b, dot);
}

/* resume_text from the jobs of a split run (the handler may print it at any time: it
 * waits while the text is replaced, and a signal meanwhile is acted on after). */
static void parts_text(const infer_opts_t *o)
{
    static char t[sizeof resume_text];
    const size_t cap = sizeof t;
    size_t k = (size_t)snprintf(t, cap,
                                "cryptonets infer: %s: %zu inputs, sent as jobs of the "
                                "server's size; %s:\n",
                                run_inputs, run_rows,
                                parts_written ? "all are predicted and written, but these "
                                                "jobs were not deleted"
                                              : "not all are predicted");
    for (size_t i = 0; i < nparts && k < cap; i++) {
        const part_t *p = &parts[i];
        if (p->failed) {
            k += (size_t)snprintf(t + k, cap - k,
                                  "job %s (inputs %zu to %zu) failed: send those inputs "
                                  "again, and delete it\n",
                                  p->id, p->base + 1, p->base + p->rows);
            continue;
        }
        k += (size_t)snprintf(t + k, cap - k,
                              "job %s (inputs %zu to %zu) stays on the server (until it is "
                              "deleted, or expires: docs/service.md); to resume it (its "
                              "predictions numbered from 1: row i is input %zu + i):\n",
                              p->id, p->base + 1, p->base + p->rows, p->base);
        char name[4200];
        const char *extra[6] = {NULL};
        size_t n = 0;
        if (o->out) {
            part_output(name, sizeof name, o->out, p->base + 1, p->base + p->rows);
            extra[n++] = "-o";
            extra[n++] = name;
        }
        if (o->json)
            extra[n++] = "--json";
        if (o->raw)
            extra[n++] = "--raw";
        k += job_command(t + k, cap - k, o, p->id, extra);
        k += (size_t)snprintf(t + k, cap - k, "\n");
    }
    if (sent_rows < run_rows && k < cap)
        k += (size_t)snprintf(t + k, cap - k,
                              "inputs %zu to %zu of %s were never sent: run infer on them "
                              "again\n",
                              sent_rows + 1, run_rows, run_inputs);
    if (nparts && k < cap)
        k += (size_t)snprintf(t + k, cap - k, "to delete the jobs:\n");
    for (size_t i = 0; i < nparts && k < cap; i++) {
        k += job_command(t + k, cap - k, o, parts[i].id, (const char *[]){"--delete", NULL});
        k += (size_t)snprintf(t + k, cap - k, "\n");
    }
    if (nparts && token_from_env && k < cap)
        k += (size_t)snprintf(t + k, cap - k,
                              "(all with CRYPTONETS_TOKEN set to the token used now)\n");
    k = k < cap ? k : cap - 1;
    rewriting = 1;
    memcpy(resume_text, t, k + 1);
    resume_len = nparts || (sent_rows && sent_rows < run_rows) ? k : 0;
    rewriting = 0;
    if (interrupted && !posting)
        die_of_signal();
}

/* The job is no longer on the server (deleted, or unknown to it): not offered again. */
static void drop_job(const infer_opts_t *o, const char *job)
{
    if (!max_parts) {
        resume_len = 0;
        return;
    }
    for (size_t i = 0; i < nparts; i++)
        if (!strcmp(parts[i].id, job)) {
            memmove(parts + i, parts + i + 1, (nparts - i - 1) * sizeof *parts);
            nparts--;
            break;
        }
    parts_text(o);
}

/* Makes resume_text for the job just accepted. */
static void keep_job(const infer_opts_t *o, const char *job)
{
    if (max_parts) { /* a split run: the job joins the others */
        if (nparts < max_parts) {
            part_t *p = &parts[nparts++];
            snprintf(p->id, sizeof p->id, "%s", job);
            p->base = part_base;
            p->rows = part_rows;
            p->failed = 0;
            sent_rows = part_base + part_rows;
        }
        parts_text(o);
        return;
    }
    char *t = resume_text;
    const size_t cap = sizeof resume_text;
    size_t k = (size_t)snprintf(t, cap,
                                "cryptonets infer: job %s%s stays on the server (until it is "
                                "deleted, or expires: docs/service.md); to resume:\n",
                                job, job_part);
    const char *out[6] = {NULL};
    size_t n = 0;
    if (o->out) {
        out[n++] = "-o";
        out[n++] = o->out;
    }
    if (o->json)
        out[n++] = "--json";
    if (o->raw)
        out[n++] = "--raw";
    k += job_command(t + k, cap - k, o, job, out);
    k += (size_t)snprintf(t + k, cap - k, "\nto delete it:\n");
    k += job_command(t + k, cap - k, o, job, (const char *[]){"--delete", NULL});
    k += (size_t)snprintf(t + k, cap - k, "\n%s",
                          token_from_env ? "(both with CRYPTONETS_TOKEN set to the token "
                                           "used now)\n"
                                         : "");
    resume_len = k < cap ? k : cap - 1;
}

/* A signal, once libcurl returned (http_try): the job's commands if the upload was
 * accepted meanwhile, then the death of the signal. */
static void die_interrupted(const char *method, const char *path, CURLcode e, const resp_t *r,
                            const infer_opts_t *o)
{
    /* (a split run's earlier jobs are named already: this one joins them) */
    if (e == CURLE_OK && r->status == 202 && !strcmp(method, "POST") &&
        !strncmp(path, "/v1/jobs", 8)) {
        json_error_t je;
        json_t *d = r->body ? json_loads(r->body, 0, &je) : NULL;
        const char *job = d ? json_string_value(json_object_get(d, "job")) : NULL;
        if (job && strlen(job) == 64)
            keep_job(o, job);
        json_decref(d);
    }
    die_of_signal();
}

/* The end of an interrupted infer, outside the handler: the job's commands (or that none
 * was accepted), the temporary files removed, then the death of the signal. */
static void die_of_signal(void)
{
    if (resume_len)
        fputs(resume_text, stderr);
    else
        fputs("cryptonets infer: interrupted; no job of these inputs was accepted\n", stderr);
    remove_tmp();
    const int sig = interrupted;
    signal(sig, SIG_DFL);
    raise(sig);
}

/* A job's POST (all its attempts, and whatever the upload does after them) is over and
 * its answer, if it was a job, recorded by keep_job: until here the handler only notes a
 * signal (posting), which is acted on now, so that no signal can end infer between the
 * server's 202 and the job's commands being ready to print. */
static void upload_settled(void)
{
    posting = 0;
    if (interrupted)
        die_of_signal();
}

/* libcurl's progress callback: a signal stops the transfer, except a job's upload sent
 * whole, whose answer (the job id) is awaited. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)arg;
    (void)dltotal;
    (void)dlnow;
    if (!interrupted)
        return 0;
    return !(posting && ultotal > 0 && ulnow >= ultotal);
}

static void sleep_s(double s)
{
    /* in steps of 0.2 s: a signal taken by another thread interrupts no nanosleep here */
    for (double left = s; left > 0 && !interrupted; left -= 0.2) {
        const double step = left < 0.2 ? left : 0.2;
        struct timespec ts = {0, (long)(step * 1e9)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !interrupted) {
        }
    }
}

/* --- the batch, encrypted and uploaded at once ------------------------------------------
 * A producer thread encrypts the inputs record by record (cn_client_encrypt_window, n
 * inputs each), and the library hands out each record's bytes as they are encrypted
 * (headers first, then runs of 32 ciphertexts, then each part's checksum); POST /v1/jobs
 * sends the container from memory through a read callback that waits for the next bytes,
 * so the first bytes leave while the rest of the record is encrypted; a sent record is
 * freed by the producer when it needs the room, or after the request (never in the read
 * callback, which would hold back the bytes it just copied), and nothing is written to
 * disk. The encryption's randomness
 * comes from a 32-byte seed drawn from the OS for the job (docs/service.md, "The
 * client"): a repeated POST (a lost connection, 503, 429) encrypts the same inputs again
 * from the same seed, the same bytes, hence the same job, instead of keeping a copy of the
 * batch (629 MB for MNIST) for a retry that seldom comes. At most two records are in
 * progress at once (one being sent, one being encrypted), each through its window
 * (stream_room: the library writes over no byte before libcurl has copied it). */

#define LONG_POLL 20.0 /* seconds of one GET /v1/jobs/ID?wait= (under curl's 60 s stall) */
#define CONT_HEAD 96   /* the container's header and its checksum (docs/cli.md) */
#define CONT_REC 24    /* a record's header */
#define UPLOAD_BUFFER (2L << 20)     /* CURLOPT_UPLOAD_BUFFERSIZE: libcurl's largest */
#define DOWNLOAD_BUFFER (512L << 10) /* CURLOPT_BUFFERSIZE (16 KiB by default) */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* set before the thread starts */
    cn_client_t *c;
    const cli_matrix_t *x;
    size_t n, nin;
    const char *inputs;
    size_t base;         /* the first row of x in INPUTS (a job of a split run) */
    const uint8_t *seed; /* [CN_SEED_BYTES] the job's encryption seed (secret) */
    size_t tries;        /* attempts made before this one */
    cli_head_t h;
    uint8_t head[CONT_HEAD];
    uint64_t total;   /* bytes of the container */
    size_t rec_bytes; /* bytes of every record (cn_client_batch_bytes) */
    /* under mu */
    uint8_t **buf;         /* [records] record b's bytes while held, else NULL */
    size_t *avail;         /* [records] its final prefix (rec_bytes once sealed) */
    uint8_t *sent;         /* [records] 1 once uploaded */
    uint64_t ready, freed; /* records encrypted; records released, in order */
    int abandoned;         /* the upload no longer reads memory: the producer stops */
    int done, rc;          /* the producer ended; 0 or a CLI_* status with err */
    char err[CN_NET_DIAG_BYTES + 512];
    uint64_t sent_pos; /* bytes handed to libcurl, for stream_room (under mu) */
    int room_waiting;  /* stream_room calls waiting for sent_pos (under mu) */
    int enc_failed;    /* the record's encryption failed: stream_room stops (under mu) */
    /* the upload's cursor (the read callback only) */
    uint64_t pos;
} stream_t;

static void put64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Releases the records both sides are done with, in order, once the attempt is over
 * (mu held; while it lasts the producer frees the sent records itself). */
static void stream_release(stream_t *s)
{
    while (s->freed < s->ready && (s->sent[s->freed] || s->abandoned)) {
        cn_client_batch_free(s->buf[s->freed]);
        s->buf[s->freed] = NULL;
        s->freed++;
    }
    pthread_cond_broadcast(&s->cv);
}

/* The library's word that record's prefix buf[0, done) is final. */
typedef struct {
    stream_t *s;
    uint64_t b;
} stream_rec_t;

static void stream_ready(void *arg, const uint8_t *buf, size_t done)
{
    const stream_rec_t *r = arg;
    stream_t *s = r->s;
    pthread_mutex_lock(&s->mu);
    if (!buf) { /* the encryption failed: a stream_room waiting returns (stop) */
        s->enc_failed = 1;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    s->buf[r->b] = (uint8_t *)buf; /* the record's buffer, returned by the call too */
    s->avail[r->b] = done;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Waits on s->cv (mu held) for at most 0.2 s, so that a signal is seen soon. */
static void stream_wait(stream_t *s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 200000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

/* The library's question before it writes record b on through its window: whether the
 * bytes before need are sent (handed to libcurl, which copied them); waits until they
 * are, or stops the encryption (1) once the attempt is over or a signal came. */
static int stream_room(void *arg, size_t need)
{
    const stream_rec_t *r = arg;
    stream_t *s = r->s;
    if (need == 0) /* nothing is written over: no wait (record b may start before b - 1
                    * is sent) */
        return 0;
    const uint64_t want =
        CONT_HEAD + r->b * (CONT_REC + (uint64_t)s->rec_bytes) + CONT_REC + need;
    pthread_mutex_lock(&s->mu);
    s->room_waiting++;
    while (s->sent_pos < want && !s->abandoned && !s->enc_failed && !interrupted) {
        stream_wait(s);
    }
    s->room_waiting--;
    const int stop = s->sent_pos < want;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

/* Record b's seed: BLAKE2b-256 (RFC 7693, libsodium's crypto_generichash) keyed with the
 * job's seed, of a label and b as 8 little-endian bytes. Distinct records get independent
 * seeds (a keyed hash of distinct messages), and the job's seed is not recoverable from
 * them. */
static void record_seed(uint8_t out[CN_SEED_BYTES], const uint8_t job[CN_SEED_BYTES],
                        uint64_t b)
{
    static const char label[] = "cryptonets record seed 1";
    uint8_t m[sizeof label + 8];
    memcpy(m, label, sizeof label);
    put64le(m + sizeof label, b);
    crypto_generichash(out, CN_SEED_BYTES, m, sizeof m, job, CN_SEED_BYTES);
}

static void *stream_produce(void *arg)
{
    stream_t *s = arg;
    char err[CN_NET_DIAG_BYTES + 256];
    int rc = 0;
    for (uint64_t b = 0; rc == 0 && b < s->h.records; b++) {
        pthread_mutex_lock(&s->mu);
        while (b >= s->freed + 2 && !s->abandoned) {
            if (s->freed < s->ready && s->sent[s->freed]) { /* the oldest, sent: free it */
                uint8_t *old = s->buf[s->freed];
                s->buf[s->freed++] = NULL;
                pthread_mutex_unlock(&s->mu);
                cn_client_batch_free(old);
                pthread_mutex_lock(&s->mu);
                continue;
            }
            pthread_cond_wait(&s->cv, &s->mu);
        }
        const int stop = s->abandoned; /* the attempt is over: its bytes are not read */
        pthread_mutex_unlock(&s->mu);
        if (stop)
            break;
        const size_t first = (size_t)b * s->n;
        const size_t count = s->x->rows - first < s->n ? s->x->rows - first : s->n;
        uint8_t *buf = NULL;
        size_t len = 0;
        cn_net_diag_t d = {{0}};
        stream_rec_t rr = {s, b};
        /* record b of an attempt has the same bytes in every attempt: a seed of its own
         * per record, derived from the job's (the library forks its generator in order,
         * so records of one seed would repeat their randomness) */
        uint8_t seed[CN_SEED_BYTES];
        record_seed(seed, s->seed, b);
        /* through a window (cn_client_encrypt_window): the record is sent as it is
         * made and never held whole (MNIST's 629 MB in 106 MB of memory) */
        const cn_status st =
            cn_client_encrypt_window(&buf, &len, s->c, s->x->v + first * s->nin, count, seed,
                                     stream_ready, stream_room, &rr, &d);
        sodium_memzero(seed, sizeof seed);
        TL("record %llu encrypted", (unsigned long long)b + 1);
        pthread_mutex_lock(&s->mu);
        const int over = s->abandoned; /* the attempt ended: not an error of the record */
        pthread_mutex_unlock(&s->mu);
        if (st != CN_OK && over)
            break;
        if (st == CN_OK && len != s->rec_bytes) /* its buffer is freed with the others */
            snprintf(d.msg, sizeof d.msg, "a record of %zu bytes, not %zu", len, s->rec_bytes);
        if (st != CN_OK || len != s->rec_bytes) {
            size_t i, j;
            int k = 0;
            /* the library counts inputs within the batch: name the file's row */
            if (sscanf(d.msg, "input %zu, value %zu (counting from 1): %n", &i, &j, &k) == 2 &&
                k > 0)
                snprintf(err, sizeof err, "%s: input %zu, value %zu: %s", s->inputs,
                         s->base + first + i, j, d.msg + k);
            else
                snprintf(err, sizeof err, "%s: %s", s->inputs,
                         d.msg[0] ? d.msg : cn_strerror(st));
            rc = CLI_ERROR;
            break;
        }
        pthread_mutex_lock(&s->mu);
        s->buf[b] = buf;
        s->avail[b] = len;
        s->ready = b + 1;
        pthread_cond_broadcast(&s->cv); /* its bytes are final: stream_read may go on */
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_lock(&s->mu);
    s->rc = rc;
    if (rc)
        snprintf(s->err, sizeof s->err, "%s", err);
    s->done = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* libcurl's read callback: the container from memory, waiting for each record. */
static size_t stream_read(char *dst, size_t size, size_t nmemb, void *arg)
{
    stream_t *s = arg;
    const size_t cap = size * nmemb;
    size_t put = 0;
    if (s->pos == 0)
        TL("upload: first bytes handed to libcurl");
    while (put < cap && s->pos < s->total) {
        if (s->pos < CONT_HEAD) {
            const size_t k = CONT_HEAD - s->pos < cap - put ? CONT_HEAD - s->pos : cap - put;
            memcpy(dst + put, s->head + s->pos, k);
            put += k;
            s->pos += k;
            continue;
        }
        /* every record has one length, whatever its inputs */
        const uint64_t rlen = CONT_REC + s->rec_bytes;
        const uint64_t b = (s->pos - CONT_HEAD) / rlen, off = (s->pos - CONT_HEAD) % rlen;
        size_t k;
        if (off < CONT_REC) {
            uint8_t r[CONT_REC];
            const size_t first = (size_t)b * s->n;
            const size_t count = s->x->rows - first < s->n ? s->x->rows - first : s->n;
            put64le(r, count);
            put64le(r + 8, s->rec_bytes);
            put64le(r + 16, cn_io_checksum(r, 16));
            k = CONT_REC - (size_t)off < cap - put ? CONT_REC - (size_t)off : cap - put;
            memcpy(dst + put, r + off, k);
        } else {
            const size_t o = (size_t)(off - CONT_REC);
            pthread_mutex_lock(&s->mu);
            /* what is copied into dst already may be written over: said before waiting,
             * or the encryption, waiting for that room, would never make these bytes */
            s->sent_pos = s->pos;
            if (s->room_waiting)
                pthread_cond_broadcast(&s->cv);
            while (s->avail[b] <= o && !s->done && !interrupted) {
                stream_wait(s);
            }
            if (interrupted && s->avail[b] <= o) {
                pthread_mutex_unlock(&s->mu);
                return CURL_READFUNC_ABORT;
            }
            const uint8_t *rec = s->avail[b] > o ? s->buf[b] : NULL;
            const size_t have = s->avail[b];
            pthread_mutex_unlock(&s->mu);
            if (!rec) /* the encryption failed: s->err says why */
                return put ? put : CURL_READFUNC_ABORT;
            k = have - o < cap - put ? have - o : cap - put;
            memcpy(dst + put, rec + o, k);
        }
        put += k;
        s->pos += k;
        if ((s->pos - CONT_HEAD) % rlen == 0) { /* record b is sent */
            /* freed by the producer when it needs the room, or after the request: not
             * here, where unmapping a record (0.03 s for MNIST's 385 MB) would hold back
             * the bytes just copied for curl, the last ones of the upload among them */
            pthread_mutex_lock(&s->mu);
            s->sent[b] = 1;
            pthread_cond_broadcast(&s->cv);
            pthread_mutex_unlock(&s->mu);
        }
    }
    if (put) { /* libcurl copied them: the window may be written over */
        pthread_mutex_lock(&s->mu);
        s->sent_pos = s->pos;
        if (s->room_waiting)
            pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    if (s->pos == s->total && put)
        TL("upload: last bytes handed to libcurl");
    return put;
}

/* One request, retried on a lost connection and on 503/429 (every request of the
 * protocol is idempotent), up to --retries attempts. body: bytes in memory, or upload: a
 * file of ulen bytes, or stream: the batch being encrypted (one attempt only, after
 * stream->tries: *lost is set when it may be repeated, encrypted again); sink: where a 2xx body
 * goes (else into r->body). 0 with r->status set, or 1 with the reason printed. */
static int http_try1(http_t *c, const char *method, const char *path, const uint8_t *body,
                     size_t blen, FILE *upload, uint64_t ulen, stream_t *stream, int *lost_out,
                     FILE *sink, resp_t *r)
{
    char url[4096];
    snprintf(url, sizeof url, "%s%s", c->base, path);
    /* a stream's attempts are counted over its calls (one attempt each) */
    const size_t tries = stream ? stream->tries : 0;
    double backoff = 0.5;
    for (size_t i = 0; i < tries && backoff < 10; i++)
        backoff = backoff * 2 < 10 ? backoff * 2 : 10;
    for (size_t attempt = tries + 1;; attempt++) {
        if (interrupted)
            die_interrupted(method, path, CURLE_ABORTED_BY_CALLBACK, r, c->o);
        free(r->body);
        *r = (resp_t){.sink = sink};
        if (sink && (fflush(sink) != 0 || ftruncate(fileno(sink), 0) != 0 ||
                     fseek(sink, 0, SEEK_SET) != 0))
            return cli_fail(CLI_ERROR, &A, "cannot write the download");
        if (upload && fseek(upload, 0, SEEK_SET) != 0)
            return cli_fail(CLI_ERROR, &A, "cannot read the batch");
        CURL *h = c->h;
        curl_easy_reset(h);
        struct curl_slist *hd = NULL;
        if (c->auth[0])
            hd = curl_slist_append(hd, c->auth);
        if (c->inm)
            hd = curl_slist_append(hd, c->inm);
        if (body || upload || stream)
            hd = curl_slist_append(hd, "Content-Type: application/octet-stream");
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L); /* a stalled transfer: retried */
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        if (c->cacert)
            curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
        if (sink) /* a result: libcurl's largest receive buffer, 32 times fewer writes */
            curl_easy_setopt(h, CURLOPT_BUFFERSIZE, DOWNLOAD_BUFFER);
        if (body) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
        } else if (upload) {
            curl_easy_setopt(h, CURLOPT_POST, 1L);
            curl_easy_setopt(h, CURLOPT_READDATA, upload);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)ulen);
        } else if (stream) {
            stream->pos = 0;
            curl_easy_setopt(h, CURLOPT_POST, 1L);
            /* libcurl's largest upload buffer (2 MiB, against 64 KiB by default): 32 times
             * fewer read callbacks and send(2) calls for the 385 MB of an MNIST batch
             * (docs/service.md, "The client") */
            curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, UPLOAD_BUFFER);
            curl_easy_setopt(h, CURLOPT_READFUNCTION, stream_read);
            curl_easy_setopt(h, CURLOPT_READDATA, stream);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)stream->total);
        } else if (strcmp(method, "GET") != 0) {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        }
        const CURLcode e = curl_easy_perform(h);
        curl_slist_free_all(hd);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
        if (interrupted)
            die_interrupted(method, path, e, r, c->o);
        const int lost = e == CURLE_COULDNT_CONNECT || e == CURLE_SEND_ERROR ||
                         e == CURLE_RECV_ERROR || e == CURLE_OPERATION_TIMEDOUT ||
                         e == CURLE_GOT_NOTHING || e == CURLE_PARTIAL_FILE;
        if (attempt == 1 &&
            (e == CURLE_GOT_NOTHING || e == CURLE_RECV_ERROR || e == CURLE_WEIRD_SERVER_REPLY ||
             e == CURLE_UNSUPPORTED_PROTOCOL) &&
            speaks_tls(c->base)) /* not retried: every attempt would end the same */
            return cli_fail(CLI_ERROR, &A,
                            "%s speaks HTTPS (TLS), not plain HTTP: give --server https://%s "
                            "(with --cacert for a certificate of your own)",
                            c->base, c->base + 7);
        const int busy = e == CURLE_OK && (r->status == 503 || r->status == 429);
        if (stream && e == CURLE_ABORTED_BY_CALLBACK) {
            *lost_out = 1; /* the encryption failed: the caller reports it */
            return 0;
        }
        if (e != CURLE_OK && !lost)
            return cli_fail(CLI_ERROR, &A, "%s %s: %s", method, url, curl_easy_strerror(e));
        if (!lost && !busy)
            return 0;
        if (attempt >= c->o->retries) {
            if (busy)
                return 0; /* the caller reports the server's answer */
            return cli_fail(CLI_ERROR, &A, "%s %s: %s (after %zu attempts)", method, url,
                            curl_easy_strerror(e), attempt);
        }
        double wait = busy && r->retry_after > 0 ? r->retry_after : backoff;
        if (wait > 30)
            wait = 30;
        say(c->o, "%s %s: %s; retrying in %.1f s", method, path,
            busy ? (r->status == 503 ? "server busy (503)" : "too many jobs (429)")
                 : curl_easy_strerror(e),
            wait);
        sleep_s(wait);
        if (stream) { /* repeated by the caller, encrypted again from the same seed */
            *lost_out = 1;
            return 0;
        }
        backoff = backoff * 2 < 10 ? backoff * 2 : 10;
    }
}

/* Whether the server of an http:// URL that answered nothing (or not HTTP) speaks TLS: a
 * handshake alone (no request, hence no token, is sent; so its certificate need not be
 * checked). 1 when it does: the URL should be https://. */
static int speaks_tls(const char *base)
{
    if (strncasecmp(base, "http://", 7) != 0)
        return 0;
    char url[4200];
    snprintf(url, sizeof url, "https://%s", base + 7);
    CURL *h = curl_easy_init();
    if (!h)
        return 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    const int yes = curl_easy_perform(h) == CURLE_OK;
    curl_easy_cleanup(h);
    return yes;
}

/* http_try1, with a job's upload marked for the signal handler */
static int http_try(http_t *c, const char *method, const char *path, const uint8_t *body,
                    size_t blen, FILE *upload, uint64_t ulen, stream_t *stream, int *lost_out,
                    FILE *sink, resp_t *r)
{
    /* a job's POST stays marked after it returns: upload_settled ends the mark once the
     * answer is recorded (the upload may still join its encryption thread meanwhile) */
    if (!strcmp(method, "POST") && !strncmp(path, "/v1/jobs", 8))
        posting = 1;
    return http_try1(c, method, path, body, blen, upload, ulen, stream, lost_out, sink, r);
}

static int http_do(http_t *c, const char *method, const char *path, const uint8_t *body,
                   size_t blen, FILE *upload, uint64_t ulen, FILE *sink, resp_t *r)
{
    return http_try(c, method, path, body, blen, upload, ulen, NULL, NULL, sink, r);
}

/* The server's error document as one line: "STATUS CODE: message". */
static int server_error(const resp_t *r, const char *what)
{
    json_error_t je;
    json_t *o = r->body ? json_loads(r->body, 0, &je) : NULL;
    const char *code = NULL, *msg = NULL;
    int rc = r->status == 409 ? CLI_MISMATCH : CLI_ERROR;
    if (o && json_unpack(o, "{s:s, s:s}", "error", &code, "message", &msg) == 0)
        cli_fail(rc, &A, "%s: the server says %ld %s: %s", what, r->status, code, msg);
    else
        cli_fail(rc, &A, "%s: the server answered %ld", what, r->status);
    if (r->status == 401 || r->status == 403) /* the token: where it comes from */
        fprintf(stderr, "cryptonets infer: %s\n",
                r->status == 403 ? "the server does not know this token (from --token-file "
                                   "FILE or CRYPTONETS_TOKEN): check it against its --tokens"
                : token_from_env ? "the token came from CRYPTONETS_TOKEN: check it, or give "
                                   "--token-file FILE"
                                 : "the server wants a token: give the one its --tokens file "
                                   "lists for you with --token-file FILE or CRYPTONETS_TOKEN");
    json_decref(o);
    return rc;
}

/* A string field of a JSON response ("" when absent). */
static void json_field(char *out, size_t cap, const resp_t *r, const char *name)
{
    json_error_t je;
    json_t *o = r->body ? json_loads(r->body, 0, &je) : NULL;
    const char *v = o ? json_string_value(json_object_get(o, name)) : NULL;
    snprintf(out, cap, "%s", v ? v : "");
    json_decref(o);
}

/* --- the flow
 * ---------------------------------------------------------------------------------- */

static int read_token(char *auth, size_t cap, const infer_opts_t *o)
{
    char tok[1024] = "";
    if (o->token_file) {
        FILE *f = fopen(o->token_file, "r");
        if (!f)
            return cli_fail(CLI_ERROR, &A, "%s: %s", o->token_file, strerror(errno));
        struct stat sb; /* a directory opens for reading: say what it is, not "no token" */
        if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
            fclose(f);
            return cli_fail(CLI_ERROR, &A,
                            "%s: is a directory (--token-file names the file "
                            "that holds the token)",
                            o->token_file);
        }
        if (!fgets(tok, sizeof tok, f))
            tok[0] = 0;
        fclose(f);
    } else if (getenv("CRYPTONETS_TOKEN")) {
        snprintf(tok, sizeof tok, "%s", getenv("CRYPTONETS_TOKEN"));
        token_from_env = 1;
    }
    /* the token without the blanks around it (an editor's trailing space, a CRLF line),
     * as the server reads its tokens file; blanks inside are no token's */
    tok[strcspn(tok, "\r\n")] = 0;
    size_t lo = strspn(tok, " \t"), hi = strlen(tok);
    while (hi > lo && (tok[hi - 1] == ' ' || tok[hi - 1] == '\t'))
        hi--;
    tok[hi] = 0;
    const char *t = tok + lo;
    const char *from = o->token_file    ? o->token_file
                       : token_from_env ? "CRYPTONETS_TOKEN"
                                        : NULL;
    int rc = 0;
    if (from && !*t)
        rc = cli_fail(CLI_ERROR, &A, "%s: no token (empty, or only blanks)", from);
    else if (from && strpbrk(t, " \t"))
        rc = cli_fail(CLI_ERROR, &A,
                      "%s: a token has no blanks inside (the file holds the "
                      "token alone, not the tokens file's 'TENANT TOKEN' line)",
                      from);
    else if (*t)
        snprintf(auth, cap, "Authorization: Bearer %s", t);
    sodium_memzero(tok, sizeof tok);
    return rc;
}

/* Why the evaluation-key file at path cannot serve the key whose id is id under plan p
 * ("" when it can): read whole, as the server will, and checked against the key (its id,
 * in the file's header). */
static void keys_problem(char *why, size_t cap, const char *path, const cli_plan_t *p,
                         const char *key, const uint8_t id[32])
{
    char err[512] = "";
    cli_reader_t r;
    uint64_t count;
    uint8_t *b = NULL;
    size_t len;
    why[0] = 0;
    if (cli_reader_open(&r, path, CLI_KIND_KEYS, err, sizeof err))
        snprintf(why, cap, "%s", err);
    else if (memcmp(r.h.digest, p->digest, 32) != 0)
        snprintf(why, cap, "%s: evaluation keys for another plan", path);
    else if (memcmp(r.h.key_id, id, 32) != 0)
        snprintf(why, cap, "%s: evaluation keys of another client key than %s", path, key);
    else if (cli_reader_next(&r, &count, &b, &len, 0, err, sizeof err) ||
             cli_reader_end(&r, err, sizeof err))
        snprintf(why, cap, "%s", err);
    free(b);
    cli_reader_close(&r);
}

/* For --job: the id of KEY's evaluation keys (the SHA-256 of their file: --eval-keys, or
 * the cache KEY.eval-keys) when that file is there and fits the key and plan, else "":
 * compared with the job's "key" before anything is downloaded. */
static void cached_kid(char kid[65], const infer_opts_t *o, const cli_plan_t *p,
                       const cn_client_t *c, const cn_packed_client_t *pc)
{
    char def[4096], err[512], why[8400];
    snprintf(def, sizeof def, "%s.eval-keys", o->key);
    const char *path = o->eval_keys ? o->eval_keys : def;
    uint8_t id[32], d[32];
    uint8_t *buf = NULL;
    size_t len = 0;
    struct stat sb;
    kid[0] = 0;
    if (stat(path, &sb) != 0 || (pc ? cli_packed_key_id(id, pc) : cli_key_id(id, c)))
        return;
    keys_problem(why, sizeof why, path, p, o->key, id);
    if (why[0] || cli_read_file(&buf, &len, path, err, sizeof err))
        return;
    crypto_hash_sha256(d, buf, len);
    free(buf);
    svc_hex(kid, d, 32);
}

/* The evaluation keys to register: the file given (refused, named, when it does not fit
 * the key and plan), or the cache CLIENT_KEY.eval-keys, made from the key on first use
 * and made again, with a warning naming the file and the reason, when it is damaged or
 * belongs to another key or plan. Their bytes in *buf. */
/* The client key's id (docs/cli.md), for the evaluation keys' container and the batch's:
 * computed once per run (it serializes and hashes the key's state, about 15 ms on the
 * serial path before the upload starts), the client being the same throughout. 0, or 1
 * when out of memory. */
static int key_id(uint8_t id[32], const cn_client_t *c, const cn_packed_client_t *pc)
{
    static uint8_t known[32];
    static int have;
    if (!have && (pc ? cli_packed_key_id(known, pc) : cli_key_id(known, c)))
        return 1;
    have = 1;
    memcpy(id, known, 32);
    return 0;
}

static int eval_keys(uint8_t **buf, size_t *len, const infer_opts_t *o, const cli_plan_t *p,
                     cn_client_t *c, cn_packed_client_t *pc)
{
    char def[4096], err[512], why[8400];
    snprintf(def, sizeof def, "%s.eval-keys", o->key);
    const char *path = o->eval_keys ? o->eval_keys : def;
    uint8_t id[32];
    if (key_id(id, c, pc))
        return cli_fail(CLI_ERROR, &A, "out of memory");
    struct stat sb;
    const int exists = stat(path, &sb) == 0;
    if (exists || o->eval_keys) {
        keys_problem(why, sizeof why, path, p, o->key, id);
        if (!why[0])
            return cli_read_file(buf, len, path, err, sizeof err)
                       ? cli_fail(CLI_ERROR, &A, "%s", err)
                       : 0;
        if (o->eval_keys)
            return cli_fail(CLI_MISMATCH, &A,
                            "%s (--eval-keys): not usable with %s: make them again with "
                            "`cryptonets keygen`, or leave out --eval-keys (then %s is used)",
                            why, o->key, def);
        fprintf(stderr,
                "cryptonets infer: %s; the cached evaluation keys are made again from %s\n",
                why, o->key);
    }
    uint8_t *keys = NULL;
    size_t klen = 0;
    if ((pc ? cn_packed_client_eval_keys(&keys, &klen, pc)
            : cn_client_eval_keys(&keys, &klen, c)) != CN_OK)
        return cli_fail(CLI_ERROR, &A, "making the evaluation keys failed");
    cli_head_t h = {.kind = CLI_KIND_KEYS,
                    .records = 1,
                    .layout = pc ? CN_LAYOUT_PACKED : CN_LAYOUT_BATCHED};
    memcpy(h.digest, p->digest, 32);
    memcpy(h.key_id, id, 32);
    int rc = 0;
    /* the cache, else (its directory not writable, say) a file of a private temporary
     * directory, read back and removed: the keys are made again at every run then */
    char tdir[4096] = "", tpath[4200];
    for (int attempt = 0; attempt < 2; attempt++) {
        cli_writer_t w;
        if (!(cli_writer_open(&w, path, &h, err, sizeof err) ||
              cli_writer_put(&w, 0, keys, klen, err, sizeof err) ||
              cli_writer_close(&w, err, sizeof err)))
            break;
        if (w.f)
            (void)cli_writer_close(&w, why, sizeof why);
        const char *td = getenv("TMPDIR");
        snprintf(tdir, sizeof tdir, "%s/cryptonets-keys-XXXXXX", td && *td ? td : "/tmp");
        if (attempt || o->eval_keys || !mkdtemp(tdir)) {
            tdir[0] = 0;
            rc = cli_fail(CLI_ERROR, &A, "%s", err);
            break;
        }
        fprintf(stderr,
                "cryptonets infer: warning: the evaluation keys are not cached (%s); they "
                "are made again at every run: to keep them, keep the key in a directory "
                "you can write, or give --eval-keys FILE (those `cryptonets keygen` wrote "
                "with it)\n",
                err);
        snprintf(tpath, sizeof tpath, "%s/eval-keys", tdir);
        path = tpath;
    }
    free(keys);
    if (rc == 0 && cli_read_file(buf, len, path, err, sizeof err))
        rc = cli_fail(CLI_ERROR, &A, "%s", err);
    if (tdir[0]) {
        unlink(tpath);
        rmdir(tdir);
    }
    return rc;
}

/* The evaluation keys to register when they are at hand and fit the key and plan (the
 * file of --eval-keys, or the cache CLIENT_KEY.eval-keys): read and checked, with their id,
 * while the inputs' thread still reads INPUTS (they took 0.014 s after it on the quiet
 * test machine). 0 with *buf set, or 1 with nothing said or made: eval_keys decides once
 * the inputs are checked (it makes, or refuses, what is not at hand). */
static int eval_keys_ready(uint8_t **buf, size_t *len, const infer_opts_t *o,
                           const cli_plan_t *p, const cn_client_t *c,
                           const cn_packed_client_t *pc)
{
    char def[4096], err[512], why[8400];
    snprintf(def, sizeof def, "%s.eval-keys", o->key);
    const char *path = o->eval_keys ? o->eval_keys : def;
    uint8_t id[32];
    struct stat sb;
    *buf = NULL;
    *len = 0;
    if (stat(path, &sb) != 0 || key_id(id, c, pc))
        return 1;
    keys_problem(why, sizeof why, path, p, o->key, id);
    if (why[0] || cli_read_file(buf, len, path, err, sizeof err)) {
        free(*buf);
        *buf = NULL;
        return 1;
    }
    return 0;
}

/* The private temporary directory and every file infer may leave in it (the files, and
 * the NAME.partial-PID names they are written under), as paths made before any signal can
 * arrive: an interrupted infer (SIGINT, SIGTERM, SIGHUP, SIGQUIT) removes them too, with only
 * async-signal-safe calls, then dies of the signal as it would have. */
#define TMP_FILES 8
static char tmp_dir[4096], tmp_files[TMP_FILES][4200];

static void remove_tmp(void)
{
    for (size_t i = 0; i < TMP_FILES; i++)
        if (tmp_files[i][0])
            unlink(tmp_files[i]);
    rmdir(tmp_dir);
}

static void on_signal(int sig)
{
    if (rewriting && !interrupted) { /* resume_text is being replaced: acted on after */
        interrupted = sig;
        return;
    }
    if (posting && !interrupted) { /* http_try ends the upload, or awaits its job id */
        interrupted = sig;
        static const char m[] = "\ncryptonets infer: interrupted: stopping the upload, or, "
                                "if it was sent whole, waiting for the server's answer to "
                                "print the job id (again to quit at once)\n";
        if (write(2, m, sizeof m - 1) < 0) {
        }
        return;
    }
    if (resume_len && write(2, resume_text, resume_len) < 0) {
    }
    remove_tmp();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void watch_tmp(const char *dir)
{
    static const char *const names[] = {"plan.cnp", "batch.bin", "reply.bin", "part.bin"};
    snprintf(tmp_dir, sizeof tmp_dir, "%s", dir);
    for (size_t i = 0; i < 4; i++) {
        snprintf(tmp_files[2 * i], sizeof tmp_files[0], "%s/%s", dir, names[i]);
        snprintf(tmp_files[2 * i + 1], sizeof tmp_files[0], "%s/%s.partial-%ld", dir, names[i],
                 (long)getpid());
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT}; /* SIGQUIT: as cli_catch_signals */
    for (size_t i = 0; i < 4; i++)
        sigaction(sigs[i], &sa, NULL);
}

static size_t server_max_records; /* a job's records at most (GET /v1/plan); 0: unknown */

/* Encrypts the rows [base, base + rows) of INPUTS' matrix all (as `cryptonets encrypt`
 * does) and uploads the batch to path while it is encrypted (stream_t), from a fresh
 * secret seed: every attempt (a lost connection, 503, 429) encrypts the same bytes again.
 * 0 with r's status, or a CLI_* status with the reason printed. */
static int encrypt_upload(http_t *c, const infer_opts_t *o, cn_client_t *cl,
                          const cli_plan_t *p, const char *inputs, const cli_matrix_t *all,
                          size_t base, size_t rows, const char *path, resp_t *r)
{
    size_t threads = 0;
    if (o->threads && cli_parse_size(&threads, &A, "--threads", o->threads, 4096))
        return CLI_USAGE;
    cn_client_set_threads(cl, (int)threads);
    const size_t nin = cn_plan_inputs(p->plan), n = cn_plan_params(p->plan)->n;
    const cli_matrix_t x = {.rows = rows, .cols = nin, .v = all->v + base * nin};
    say(o, "encrypting %s%s", inputs, rows < all->rows ? " (this job's part)" : "");
    /* the job's seed: fresh from the OS, used for this job's inputs only, wiped at the end */
    uint8_t seed[CN_SEED_BYTES];
    cn_rng_t os;
    if (cn_rng_init(&os) != CN_OK)
        return cli_fail(CLI_ERROR, &A, "no randomness from the operating system");
    cn_rng_bytes(&os, seed, sizeof seed);
    cn_rng_clear(&os);
    stream_t s = {
        .c = cl, .x = &x, .n = n, .nin = nin, .inputs = inputs, .base = base, .seed = seed};
    s.h =
        (cli_head_t){.kind = CLI_KIND_BATCH, .records = (x.rows + n - 1) / n, .inputs = x.rows};
    memcpy(s.h.digest, p->digest, 32);
    int rc = key_id(s.h.key_id, cl, NULL) ? cli_fail(CLI_ERROR, &A, "out of memory") : 0;
    /* the container's header, as cli_writer_open writes it (docs/cli.md) */
    memcpy(s.head, "CNTB", 4);
    s.head[4] = 1; /* version 1.0 */
    memcpy(s.head + 8, s.h.digest, 32);
    memcpy(s.head + 40, s.h.key_id, 32);
    put64le(s.head + 72, s.h.records);
    put64le(s.head + 80, s.h.inputs);
    put64le(s.head + CONT_HEAD - 8, cn_io_checksum(s.head, CONT_HEAD - 8));
    const size_t R = (size_t)s.h.records;
    s.buf = calloc(R, sizeof *s.buf);
    s.avail = calloc(R, sizeof *s.avail);
    s.sent = calloc(R, 1);
    s.rec_bytes = cn_client_batch_bytes(cl);
    s.total = CONT_HEAD + s.h.records * (CONT_REC + (uint64_t)s.rec_bytes);
    if (rc == 0 && (!s.buf || !s.avail || !s.sent || !s.rec_bytes))
        rc = cli_fail(CLI_ERROR, &A, "out of memory");
    for (int lost = 1; rc == 0 && lost; s.tries++) {
        lost = 0;
        for (size_t b = 0; b < R; b++) { /* a fresh attempt: nothing held, nothing sent */
            s.buf[b] = NULL;
            s.avail[b] = 0;
            s.sent[b] = 0;
        }
        s.ready = s.freed = s.sent_pos = 0;
        s.abandoned = s.done = s.rc = s.room_waiting = s.enc_failed = 0;
        pthread_t th;
        pthread_mutex_init(&s.mu, NULL);
        pthread_cond_init(&s.cv, NULL);
        if (pthread_create(&th, NULL, stream_produce, &s) != 0) {
            pthread_cond_destroy(&s.cv);
            pthread_mutex_destroy(&s.mu);
            rc = cli_fail(CLI_ERROR, &A, "cannot start a thread");
            break;
        }
        /* the request starts at once: the sizes are known, and the first bytes are
         * encrypted while the server reads the header */
        if (s.tries == 0)
            say(o, "uploading %.1f MB as it is encrypted", (double)s.total / 1e6);
        else
            say(o, "uploading again (attempt %zu), encrypted again from the job's seed",
                s.tries + 1);
        rc = http_try(c, "POST", path, NULL, 0, NULL, 0, &s, &lost, NULL, r);
        pthread_mutex_lock(&s.mu);
        s.abandoned = 1; /* whatever happened, this attempt's bytes are no longer read */
        stream_release(&s);
        pthread_mutex_unlock(&s.mu);
        pthread_join(th, NULL);
        if (s.rc)
            rc = cli_fail(s.rc, &A, "%s", s.err);
        for (size_t b = 0; b < R; b++)
            cn_client_batch_free(s.buf[b]);
        pthread_cond_destroy(&s.cv);
        pthread_mutex_destroy(&s.mu);
    }
    sodium_memzero(seed, sizeof seed);
    free(s.buf);
    free(s.avail);
    free(s.sent);
    return rc;
}

/* The packed layout (docs/service.md, "Plans"): INPUTS encrypted request by request (at
 * most the layout's batch inputs each) into the batch file, which is then uploaded (the
 * library has no streamed packed encryption; a request is small). 0 with r's status, or a
 * CLI_* status with the reason printed. */
static int encrypt_upload_packed(http_t *c, const infer_opts_t *o, cn_packed_client_t *pc,
                                 const cli_plan_t *p, const char *inputs,
                                 const cli_matrix_t *all, size_t base, size_t rows,
                                 const char *batch_path, const char *path, resp_t *r)
{
    size_t threads = 0;
    if (o->threads && cli_parse_size(&threads, &A, "--threads", o->threads, 4096))
        return CLI_USAGE;
    cn_packed_client_set_threads(pc, (int)threads);
    const cn_packed_t *pk = NULL;
    if (cn_plan_packed(&pk, p->plan, NULL) != CN_OK)
        return cli_fail(CLI_ERROR, &A, "the plan's packed layout cannot be read");
    const size_t nin = cn_plan_inputs(p->plan), B = cn_packed_batch(pk);
    const cli_matrix_t x = {.rows = rows, .cols = nin, .v = all->v + base * nin};
    char err[CN_NET_DIAG_BYTES + 512];
    say(o, "encrypting %s%s (packed layout, %zu input(s) per request)", inputs,
        rows < all->rows ? " (this job's part)" : "", B);
    cli_head_t h = {.kind = CLI_KIND_BATCH,
                    .layout = CN_LAYOUT_PACKED,
                    .records = (x.rows + B - 1) / B,
                    .inputs = x.rows};
    memcpy(h.digest, p->digest, 32);
    int rc = key_id(h.key_id, NULL, pc) ? cli_fail(CLI_ERROR, &A, "out of memory") : 0;
    cli_writer_t w = {0};
    if (rc == 0 && cli_writer_open(&w, batch_path, &h, err, sizeof err))
        rc = cli_fail(CLI_ERROR, &A, "%s", err);
    for (size_t b = 0; rc == 0 && b < h.records; b++) {
        const size_t first = b * B, count = x.rows - first < B ? x.rows - first : B;
        uint8_t *buf = NULL;
        size_t len = 0;
        cn_net_diag_t d = {{0}};
        const cn_status st =
            cn_packed_client_encrypt(&buf, &len, pc, x.v + first * nin, count, &d);
        if (st != CN_OK)
            rc = cli_fail(CLI_ERROR, &A, "%s: request %zu (inputs %zu..%zu): %s", inputs, b + 1,
                          base + first + 1, base + first + count,
                          d.msg[0] ? d.msg : cn_strerror(st));
        else if (cli_writer_put(&w, count, buf, len, err, sizeof err))
            rc = cli_fail(CLI_ERROR, &A, "%s", err);
        free(buf);
    }
    if (w.f) {
        if (rc)
            w.bad = 1;
        if (cli_writer_close(&w, err, sizeof err) && rc == 0)
            rc = cli_fail(CLI_ERROR, &A, "%s", err);
    }
    if (rc)
        return rc;
    FILE *bf = fopen(batch_path, "rb");
    struct stat sb;
    if (!bf || fstat(fileno(bf), &sb) != 0)
        rc = cli_fail(CLI_ERROR, &A, "%s: cannot read", batch_path);
    else {
        say(o, "uploading %.1f MB", (double)sb.st_size / 1e6);
        rc = http_do(c, "POST", path, NULL, 0, bf, (uint64_t)sb.st_size, NULL, r);
    }
    if (bf)
        fclose(bf);
    return rc;
}

/* DELETE /v1/jobs/ID once its result is here; a failure is said, with the commands. */
static void delete_job(http_t *c, const infer_opts_t *o, const char *job, resp_t *r)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s", job);
    if (http_do(c, "DELETE", path, NULL, 0, NULL, 0, NULL, r) == 0 && r->status == 200) {
        drop_job(o, job);
    } else {
        say(o, "the job could not be deleted (%ld)", r->status);
        if (resume_len)
            fputs(resume_text, stderr);
    }
}

/* A job that failed (its result is the server's 422): no resume to offer, for it would
 * fail again; the command that deletes it instead (docs/service.md, "Failures"). */
static void job_failed(const infer_opts_t *o, const char *job)
{
    if (max_parts) { /* a split run: named among the others */
        for (size_t i = 0; i < nparts; i++)
            if (!strcmp(parts[i].id, job))
                parts[i].failed = 1;
        fprintf(stderr,
                "cryptonets infer: job %s failed for good (resuming it would fail "
                "the same way)\n",
                job);
        parts_text(o);
        return;
    }
    char t[8192];
    size_t k = (size_t)snprintf(t, sizeof t,
                                "cryptonets infer: job %s%s failed for good (resuming it "
                                "would fail the same way; run infer on its inputs again); "
                                "to delete it:\n",
                                job, job_part);
    k += job_command(t + k, sizeof t - k, o, job, (const char *[]){"--delete", NULL});
    fprintf(stderr, "%.*s\n", (int)k, t);
    resume_len = 0;
}

/* The result at path is for the client key of --key (its header's key id), checked before
 * it is decrypted: else a job of another key (--job) is named, not the temporary file. */
static int reply_key_check(const infer_opts_t *o, const char *path, const char *job,
                           const cn_client_t *cl, const cn_packed_client_t *pcl)
{
    char err[512];
    uint8_t id[32];
    cli_reader_t rd;
    const int bad_read = cli_reader_open(&rd, path, CLI_KIND_REPLY, err, sizeof err);
    const int bad_id = key_id(id, cl, pcl); /* computed once per run */
    if (bad_read || bad_id) {
        cli_reader_close(&rd);
        return cli_fail(CLI_ERROR, &A, "job %.16s...: its result cannot be read", job);
    }
    uint8_t made_for[32];
    memcpy(made_for, rd.h.key_id, 32);
    cli_reader_close(&rd);
    const int other = memcmp(id, made_for, 32) != 0;
    if (!other)
        return 0;
    drop_job(o, job); /* not this key's: its commands with --key would fail the same way */
    char want[65], have[65];
    svc_hex(want, made_for, 32);
    svc_hex(have, id, 32);
    return cli_fail(CLI_MISMATCH, &A,
                    "job %s was uploaded with another client key than %s: its result is for "
                    "client key id %.16s..., %s's is %.16s...; resume it with --key of the "
                    "key it was uploaded with",
                    job, o->key, want, o->key, have);
}

/* Appends the records of one job's result (the container at part) to the result of all
 * the jobs being written to path by w (opened with the first part's header, records and
 * inputs the whole run's): the one result decrypt reads, as if one job had held all. */
static int merge_reply(cli_writer_t *w, const char *path, const char *part, size_t records,
                       size_t inputs)
{
    char err[512];
    cli_reader_t r;
    if (cli_reader_open(&r, part, CLI_KIND_REPLY, err, sizeof err)) {
        cli_reader_close(&r);
        return cli_fail(CLI_ERROR, &A, "%s", err);
    }
    int rc = 0;
    if (!w->f) {
        cli_head_t h = r.h;
        h.records = records;
        h.inputs = inputs;
        if (cli_writer_open(w, path, &h, err, sizeof err))
            rc = cli_fail(CLI_ERROR, &A, "%s", err);
    }
    for (uint64_t b = 0; rc == 0 && b < r.h.records; b++) {
        uint64_t count;
        uint8_t *buf = NULL;
        size_t len;
        if (cli_reader_next(&r, &count, &buf, &len, UINT64_MAX, err, sizeof err) ||
            cli_writer_put(w, count, buf, len, err, sizeof err))
            rc = cli_fail(CLI_ERROR, &A, "%s", err);
        free(buf);
    }
    if (rc == 0 && cli_reader_end(&r, err, sizeof err))
        rc = cli_fail(CLI_ERROR, &A, "%s", err);
    cli_reader_close(&r);
    return rc;
}

/* INPUTS read and range-checked by a thread of its own while the client key is loaded and
 * the evaluation keys are checked (docs/service.md, "The client": the two took about 0.05
 * s each, one after the other, before the encryption could start). */
typedef struct {
    cli_matrix_t *x;
    const char *path, *format;
    size_t cols;
    unsigned shift; /* --input-shift */
    int64_t lo, hi;
    int bad; /* 1: err says why */
    char err[CN_NET_DIAG_BYTES + 512];
    /* a .npy read from infer's start (early): its bytes are read at once, and checked once
     * the plan gives the shape and range (shaped), or dropped (cancel); under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int early, shaped, cancel;
} inputs_read_t;

static void *read_inputs(void *arg)
{
    inputs_read_t *in = arg;
    if (!in->early) {
        in->bad = cli_read_inputs(in->x, in->path, in->format, in->cols, in->shift, in->lo,
                                  in->hi, in->err, sizeof in->err);
        return NULL;
    }
    cli_bytes_t b = {0};
    const int unread = cli_map_file(&b, in->path, in->err, sizeof in->err);
    pthread_mutex_lock(&in->mu);
    while (!in->shaped && !in->cancel)
        pthread_cond_wait(&in->cv, &in->mu);
    const int go = in->shaped && !in->cancel;
    pthread_mutex_unlock(&in->mu);
    if (!go) {
        cli_bytes_free(&b);
        return NULL;
    }
    in->bad = unread || cli_read_inputs_npy(in->x, &b, in->path, in->cols, in->shift, in->lo,
                                            in->hi, in->err, sizeof in->err);
    return NULL;
}

/* The inputs' thread ends without reading on (an early one waiting for a shape). */
static void inputs_cancel(inputs_read_t *in)
{
    pthread_mutex_lock(&in->mu);
    in->cancel = 1;
    pthread_cond_broadcast(&in->cv);
    pthread_mutex_unlock(&in->mu);
}

/* The plan digest a client key file records (docs/cli.md, "Client state format": the
 * 32-byte frame header, magic CNCS, version, then the digest at bytes [40, 72), before any
 * secret byte), read without loading the key: the tag infer asks the server's plan by.
 * Only a hint: the cached plan's bytes are hashed, and the key loaded, before either is
 * trusted. 0, or 1 when the file is not a client key. */
static int key_plan_digest(uint8_t out[32], const char *key)
{
    uint8_t h[72];
    const int fd = open(key, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    size_t got = 0;
    while (got < sizeof h) {
        const ssize_t k = read(fd, h + got, sizeof h - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (got < sizeof h || memcmp(h + 32, "CNCS", 4) != 0)
        return 1;
    memcpy(out, h + 40, 32);
    return 0;
}

static int is_fifo(const char *path);

/* GET /v1/plan, in a thread of its own while the cached plan is loaded (run, step 1). */
typedef struct {
    http_t *c;
    resp_t *r;
    int rc; /* http_do's */
} plan_get_t;

static void *plan_get(void *arg)
{
    plan_get_t *g = arg;
    g->rc = http_do(g->c, "GET", "/v1/plan", NULL, 0, NULL, 0, NULL, g->r);
    return NULL;
}

/* What a plan's bytes start: the plan loaded, INPUTS being read by their thread (their
 * shape and range are the plan's), the client key loaded for the plan. */
typedef struct {
    const infer_opts_t *o;
    cli_plan_t *p;
    cn_client_t **cl;
    cn_packed_client_t **pcl;
    inputs_read_t *in;
    pthread_t *in_thread;
    int *in_started;
    cn_status st; /* the key's load: CN_OK, or why not (nd) */
    cn_net_diag_t nd;
} loaded_t;

/* Loads the plan of bytes b (digest d), starts reading INPUTS and loads the client key
 * for that plan (ld->st says whether the key fits it). ahead: the bytes are the cached
 * plan, loaded before the server confirmed it, so a plan that cannot be loaded is no
 * error yet (it is fetched). 0, or 1 (ahead), or a CLI_* status with the reason printed. */
static int load_plan_key(loaded_t *ld, const uint8_t *b, size_t len, const uint8_t d[32],
                         int ahead)
{
    cn_net_diag_t pd = {{0}};
    const cn_status pst = cn_plan_from_bytes(&ld->p->plan, b, len, 0, &pd);
    if (pst != CN_OK)
        return ahead ? 1
                     : cli_fail(CLI_ERROR, &A, "the server's plan: %s",
                                pd.msg[0] ? pd.msg : cn_strerror(pst));
    memcpy(ld->p->digest, d, 32);
    TL("plan loaded");
    if (!ld->o->job) {
        inputs_read_t *in = ld->in;
        in->cols = cn_plan_inputs(ld->p->plan);
        cn_plan_input_range(ld->p->plan, &in->lo, &in->hi);
        int rc = cli_parse_shift(&in->shift, &A, ld->o->input_shift); /* checked before */
        if (rc) {
            cli_plan_clear(ld->p);
            return rc;
        }
        if (*ld->in_started && in->early && !in->shaped) { /* reading since the start */
            pthread_mutex_lock(&in->mu);
            in->shaped = 1;
            pthread_cond_broadcast(&in->cv);
            pthread_mutex_unlock(&in->mu);
        } else {
            *ld->in_started = pthread_create(ld->in_thread, NULL, read_inputs, in) == 0;
        }
    }
    ld->st = cn_plan_layout(ld->p->plan) == CN_LAYOUT_PACKED
                 ? cn_packed_client_load(ld->pcl, ld->p->plan, ld->o->key, &ld->nd)
                 : cn_client_load(ld->cl, ld->p->plan, ld->o->key, &ld->nd);
    return 0;
}

/* Undoes load_plan_key (its inputs' thread joined, what it read dropped). */
static void undo_loaded(loaded_t *ld)
{
    if (*ld->in_started)
        pthread_join(*ld->in_thread, NULL);
    *ld->in_started = 0;
    ld->in->early = ld->in->shaped = 0; /* read again, from the file */
    cli_matrix_clear(ld->in->x);
    ld->in->bad = 0;
    ld->in->err[0] = 0;
    cn_client_free(*ld->cl);
    *ld->cl = NULL;
    cn_packed_client_free(*ld->pcl);
    *ld->pcl = NULL;
    cli_plan_clear(ld->p);
    ld->st = CN_OK;
    ld->nd = (cn_net_diag_t){{0}};
}

static int run(http_t *c, const infer_opts_t *o, const char *inputs, const char *dir)
{
    char batch_path[4200], reply_path[4200], part_path[4200], path[512];
    char kid[65] = "", job[65] = "";
    snprintf(part_path, sizeof part_path, "%s/part.bin", dir);
    snprintf(batch_path, sizeof batch_path, "%s/batch.bin", dir);
    snprintf(reply_path, sizeof reply_path, "%s/reply.bin", dir);
    resp_t r = {0};
    int rc;
    cli_plan_t p = {0};
    cn_client_t *cl = NULL;         /* kept for the encryption; p must outlive it */
    cn_packed_client_t *pcl = NULL; /* the same, for a plan of the packed layout */
    cli_matrix_t x = {0};           /* INPUTS */
    inputs_read_t in = {.x = &x, .path = inputs, .format = o->format};
    pthread_t in_thread;
    int in_started = 0, in_joined = 0; /* the thread reading INPUTS */
    cli_writer_t merged = {0};         /* the jobs' results as one, when there are several */
    uint8_t *keys = NULL;              /* the evaluation keys' bytes, until registered */
    size_t klen = 0;
    char err[512];
    const double t0 = cli_now();
    if (o->del) { /* --job ID --delete */
        snprintf(path, sizeof path, "/v1/jobs/%s", o->job);
        if ((rc = http_do(c, "DELETE", path, NULL, 0, NULL, 0, NULL, &r)) == 0) {
            if (r.status == 200 || r.status == 204)
                say(o, "job %.16s... deleted", o->job);
            else
                rc = server_error(&r, path);
        }
        free(r.body);
        return rc;
    }
    /* 0. a .npy of inputs is read from the start, its shape and range checked once the
     * plan is loaded (the read, mostly the fresh buffer's page faults, took about 0.04 s of
     * the 0.055 s the inputs' thread needed after the plan's load) */
    pthread_mutex_init(&in.mu, NULL);
    pthread_cond_init(&in.cv, NULL);
    if (!o->job && inputs && !is_fifo(inputs) && cli_inputs_npy(inputs, o->format)) {
        in.early = 1;
        in_started = pthread_create(&in_thread, NULL, read_inputs, &in) == 0;
        in.early = in_started;
    }
    /* 1. the plan, checked against its digest and against the key: the cache
     * CLIENT_KEY.plan when the server answers 304 to its tag (docs/service.md, "The
     * client"). While GET /v1/plan is in flight (a thread of its own), the cached plan is
     * read, hashed and loaded, and with it the key and (by their thread) the inputs: work
     * kept only when the server answers 304 for that very plan, else undone and done
     * again from the server's answer, as before */
    char cache[4200];
    snprintf(cache, sizeof cache, "%s.plan", o->key);
    uint8_t d[32], want[32];
    char hex[65], inm[128];
    const uint8_t *pb = NULL; /* the plan's bytes: r.body or cached */
    size_t plen = 0;
    uint8_t *cached = NULL;
    struct stat cst;
    const int tagged = stat(cache, &cst) == 0 && key_plan_digest(want, o->key) == 0;
    if (tagged) {
        svc_hex(hex, want, 32);
        snprintf(inm, sizeof inm, "If-None-Match: \"%s\"", hex);
        c->inm = inm;
    }
    plan_get_t g = {.c = c, .r = &r};
    pthread_t gt;
    const int g_started = pthread_create(&gt, NULL, plan_get, &g) == 0;
    if (!g_started) /* no thread: asked first, nothing ahead */
        plan_get(&g);
    loaded_t ld = {.o = o,
                   .p = &p,
                   .cl = &cl,
                   .pcl = &pcl,
                   .in = &in,
                   .in_thread = &in_thread,
                   .in_started = &in_started};
    int ahead = 0; /* 1: the cached plan, its key and inputs are loaded (or being read) */
    /* (not with INPUTS a FIFO: read ahead and then undone, its bytes would be gone) */
    if (tagged && g_started && !(inputs && is_fifo(inputs)) &&
        cli_read_file(&cached, &plen, cache, err, sizeof err) == 0) {
        crypto_hash_sha256(d, cached, plen);
        ahead = memcmp(d, want, 32) == 0 && load_plan_key(&ld, cached, plen, d, 1) == 0;
        if (ahead)
            TL("cached plan and key loaded while the plan is asked for");
    }
    if (g_started)
        pthread_join(gt, NULL);
    c->inm = NULL;
    rc = g.rc;
    if (ahead && !(rc == 0 && r.status == 304 && strcmp(hex, r.plan_sha) == 0)) {
        undo_loaded(&ld); /* not confirmed: as if never loaded */
        ahead = 0;
    }
    if (!ahead) {
        free(cached);
        cached = NULL;
        plen = 0;
    }
    if (rc)
        goto done;
    if (ahead) {
        pb = cached;
        TL("plan received (304: %s, %zu bytes)", cache, plen);
    } else if (tagged && r.status == 304) {
        /* the server's plan is the key's: the cached bytes serve when they are that plan */
        const int unread = cli_read_file(&cached, &plen, cache, err, sizeof err);
        if (!unread) {
            crypto_hash_sha256(d, cached, plen);
            if (memcmp(d, want, 32) == 0 && strcmp(hex, r.plan_sha) == 0)
                pb = cached;
        }
        if (!pb) {
            fprintf(stderr, "cryptonets infer: %s: %s; the plan is fetched again\n", cache,
                    unread ? err : "not the plan the server named (damaged or replaced)");
            if ((rc = http_do(c, "GET", "/v1/plan", NULL, 0, NULL, 0, NULL, &r)))
                goto done;
        } else {
            TL("plan received (304: %s, %zu bytes)", cache, plen);
        }
    }
    if (!pb) {
        if (r.status != 200) {
            rc = server_error(&r, "GET /v1/plan");
            goto done;
        }
        TL("plan received (%zu bytes)", r.len);
        pb = (const uint8_t *)r.body;
        plen = r.len;
    }
    if (!ahead) /* (ahead: d is the cached bytes' hash already) */
        crypto_hash_sha256(d, pb, plen);
    svc_hex(hex, d, 32);
    server_max_records = r.max_records;
    if (!r.plan_sha[0]) {
        rc = cli_fail(CLI_ERROR, &A,
                      "%s/v1/plan: the answer has no X-Cryptonets-Plan-SHA256 header: not a "
                      "cryptonets server? (check --server)",
                      o->server);
        goto done;
    }
    if (strcmp(hex, r.plan_sha) != 0) {
        rc = cli_fail(CLI_ERROR, &A, "the plan's bytes do not match their SHA-256 header");
        goto done;
    }
    if (!ahead && (rc = load_plan_key(&ld, pb, plen, d, 0)))
        goto done;
    const int packed = cn_plan_layout(p.plan) == CN_LAYOUT_PACKED;
    if (ld.st != CN_OK) {
        rc = cli_fail(cli_status_code(ld.st), &A, "%s%s",
                      ld.nd.msg[0] ? ld.nd.msg : cn_strerror(ld.st),
                      ld.st == CN_ERR_CONTEXT_MISMATCH ? " (the server's plan is not the one "
                                                         "this key was made for)"
                                                       : "");
        goto done;
    }
    say(o, "plan %.16s... matches %s", hex, o->key);
    TL("plan and key loaded");
    if (pb != cached) { /* fetched: kept for the next run (not needed by this one) */
        if (cli_write_file(cache, pb, plen, err, sizeof err))
            fprintf(stderr, "cryptonets infer: the plan is not cached: %s\n", err);
        TL("plan cached");
    }
    free(cached);
    cached = NULL;
    /* the evaluation keys, when at hand, checked while the inputs are read (step 3) */
    if (!o->job && eval_keys_ready(&keys, &klen, o, &p, cl, pcl) == 0)
        TL("evaluation keys read and checked");
    /* 2. the inputs (read and range-checked by their thread once the plan said their shape
     * and range), checked before any key is made, registered or cached (a bad value costs
     * no upload and leaves no file), and split over jobs of at most the server's
     * X-Cryptonets-Max-Records records each (docs/service.md, "The client") */
    size_t njobs = 1, job_rows = 0, records = 0;
    if (!o->job) {
        const cn_packed_t *pk = NULL;
        if (packed && cn_plan_packed(&pk, p.plan, NULL) != CN_OK) {
            rc = cli_fail(CLI_ERROR, &A, "the plan's packed layout cannot be read");
            goto done;
        }
        const size_t per = packed ? cn_packed_batch(pk) : cn_plan_params(p.plan)->n;
        if (in_started) {
            pthread_join(in_thread, NULL);
            in_joined = 1;
        } else { /* no thread: read here */
            read_inputs(&in);
        }
        if (in.bad) {
            rc = cli_fail(CLI_ERROR, &A, "%s", in.err);
            goto done;
        }
        TL("inputs read (%zu rows)", x.rows);
        records = (x.rows + per - 1) / per;
        const size_t per_job =
            server_max_records && server_max_records < records ? server_max_records : records;
        njobs = (records + per_job - 1) / per_job;
        job_rows = per_job * per;
        if (njobs > 1) {
            say(o,
                "%zu inputs make %zu requests (records) of up to %zu inputs; this server takes "
                "%zu per job (its --max-batches): %zu jobs, one after the other",
                x.rows, records, per, per_job, njobs);
            parts = calloc(njobs, sizeof *parts);
            if (!parts) {
                rc = cli_fail(CLI_ERROR, &A, "out of memory");
                goto done;
            }
            max_parts = njobs;
            run_rows = x.rows;
            run_inputs = inputs;
        }
    }
    /* 3. the evaluation keys, registered once (a job accepted before needs none) */
    rc = o->job || keys ? 0 : eval_keys(&keys, &klen, o, &p, cl, pcl);
    if (rc)
        goto done;
    crypto_hash_sha256(d, keys, klen);
    svc_hex(kid, d, 32);
    if (o->job) /* the id of this key's evaluation keys, when they are at hand, else "" */
        cached_kid(kid, o, &p, cl, pcl);
    snprintf(path, sizeof path, "/v1/keys/%s", kid);
    rc = o->job ? 0 : http_do(c, "GET", path, NULL, 0, NULL, 0, NULL, &r);
    if (o->job) {
    } else if (rc == 0 && r.status == 404) {
        say(o, "registering evaluation keys %.16s... (%zu bytes)", kid, klen);
        rc = http_do(c, "POST", "/v1/keys", keys, klen, NULL, 0, NULL, &r);
        if (rc == 0 && r.status != 200 && r.status != 201)
            rc = server_error(&r, "POST /v1/keys");
    } else if (rc == 0 && r.status != 200) {
        rc = server_error(&r, path);
    }
    free(keys);
    keys = NULL;
    if (rc)
        goto done;
    TL("evaluation keys checked");
    for (size_t jn = 0; jn < njobs; jn++) {
        const size_t base = jn * job_rows;
        const size_t rows = o->job ? 0 : x.rows - base < job_rows ? x.rows - base : job_rows;
        if (o->job) { /* a job accepted before: straight to the wait */
            snprintf(job, sizeof job, "%s", o->job);
            say(o, "resuming job %.16s...", job);
            keep_job(o, job);
        } else {
            /* encrypt and upload at once; the same bytes are the same job, so a retry
             * (encrypted again from the job's seed, or sent again from the packed
             * layout's file) cannot make two */
            snprintf(path, sizeof path, "/v1/jobs?key=%s", kid);
            part_base = base;
            part_rows = rows;
            if (njobs > 1) /* before the upload: a signal's message names the part too */
                snprintf(job_part, sizeof job_part,
                         " (job %zu of %zu: inputs %zu to %zu of %s, which become rows %zu "
                         "to %zu of the predictions)",
                         jn + 1, njobs, base + 1, base + rows, inputs, base + 1, base + rows);
            if ((rc = packed ? encrypt_upload_packed(c, o, pcl, &p, inputs, &x, base, rows,
                                                     batch_path, path, &r)
                             : encrypt_upload(c, o, cl, &p, inputs, &x, base, rows, path, &r)))
                goto done;
            if (r.status != 202) {
                rc = server_error(&r, "POST /v1/jobs");
                goto done;
            }
            TL("202 received");
            json_field(job, sizeof job, &r, "job");
            if (strlen(job) != 64) {
                rc = cli_fail(CLI_ERROR, &A, "POST /v1/jobs: no job id in the answer");
                goto done;
            }
            keep_job(o, job);
            upload_settled();
            say(o, "job %.16s... accepted%s", job, job_part);
        }
        /* wait: long polls (the server answers when the job changes state, or after the
         * seconds asked for), with a short pause only when an answer brings no change (a
         * poll's time ran out, or a server that ignores ?wait) */
        char state[32] = "", last[32] = "";
        if (!o->job) /* the 202's status document: the state the first poll starts from */
            json_field(last, sizeof last, &r, "state");
        double poll = 0.1, t_said = cli_now();
        for (;;) {
            const double left = o->wait - (cli_now() - t0);
            /* with the state last seen: a change before the poll arrived answers at once;
             * a resumed job (no state seen yet) is asked at once, so its state is shown
             * without waiting for the first long poll */
            const double w = o->job && !last[0] ? 0
                             : left > LONG_POLL ? LONG_POLL
                             : left > 0.1       ? left
                                                : 0.1;
            snprintf(path, sizeof path, "/v1/jobs/%s?wait=%.1f%s%s", job, w,
                     last[0] ? "&state=" : "", last);
            if ((rc = http_do(c, "GET", path, NULL, 0, NULL, 0, NULL, &r)))
                goto done;
            if (r.status != 200) {
                if (r.status == 404)
                    drop_job(o, job); /* no such job (any more): nothing to resume */
                rc = server_error(&r, path);
                goto done;
            }
            json_field(state, sizeof state, &r, "state");
            TL("poll answered: %s", state);
            char jkey[65];
            json_field(jkey, sizeof jkey, &r, "key");
            if (o->job && kid[0] && jkey[0] && strcmp(jkey, kid) != 0) {
                drop_job(o, job); /* its commands with this --key would fail the same way */
                rc = cli_fail(CLI_MISMATCH, &A,
                              "job %s was uploaded with another client key than %s: the job "
                              "is for evaluation keys %.16s..., %s's are %.16s...; resume it "
                              "with --key of the key it was uploaded with",
                              job, o->key, jkey, o->key, kid);
                goto done;
            }
            const int changed = strcmp(state, last) != 0;
            if (changed) {
                say(o, "job %.16s... %s", job, state);
                t_said = cli_now();
            } else if (cli_now() - t_said >= 10) { /* progress: a line every 10 s or so */
                say(o, "job %.16s... still %s (%.0f s)", job, state, cli_now() - t0);
                t_said = cli_now();
            }
            snprintf(last, sizeof last, "%s", state);
            if (!strcmp(state, "done") || !strcmp(state, "failed"))
                break;
            if (cli_now() - t0 > o->wait) {
                rc = cli_fail(CLI_ERROR, &A, "job %s: still %s after %.0f s (--wait)", job,
                              state, o->wait);
                goto done;
            }
            if (!changed) {
                sleep_s(poll);
                poll = poll * 1.5 < 0.25 ? poll * 1.5 : 0.25;
            }
        }
        /* download (several jobs: each into part.bin, its records appended to the
         * result being assembled, and the job deleted) */
        const char *dst = njobs > 1 ? part_path : reply_path;
        snprintf(path, sizeof path, "/v1/jobs/%s/result", job);
        FILE *rf = fopen(dst, "w+b");
        if (!rf) {
            rc = cli_fail(CLI_ERROR, &A, "%s: %s", dst, strerror(errno));
            goto done;
        }
        rc = http_do(c, "GET", path, NULL, 0, NULL, 0, rf, &r);
        if (fclose(rf) != 0 && rc == 0)
            rc = cli_fail(CLI_ERROR, &A, "%s: write failed", dst);
        if (rc == 0 && r.status != 200) {
            rc = server_error(&r, path);
            if (r.status == 422) /* failed: a resume would fail the same way */
                job_failed(o, job);
        }
        if (rc == 0 && (rc = reply_key_check(o, dst, job, cl, pcl)))
            goto done;
        if (rc)
            goto done;
        TL("result downloaded");
        struct stat sb;
        if (stat(dst, &sb) == 0)
            say(o, "downloaded %.1f MB", (double)sb.st_size / 1e6);
        if (njobs > 1) {
            if ((rc = merge_reply(&merged, reply_path, part_path, records, x.rows)))
                goto done;
            job_part[0] = 0; /* the job stays until the predictions of all are written */
        }
    }
    if (merged.f && cli_writer_close(&merged, err, sizeof err)) {
        rc = cli_fail(CLI_ERROR, &A, "%s", err);
        goto done;
    }
    say(o, "decrypting");
    cli_args_t da = {.cmd = "infer",
                     .pos = {o->key, reply_path},
                     .npos = 2,
                     .plan = "the server's plan", /* in messages only: it is loaded */
                     .out = o->out,
                     .json = o->json,
                     .raw = o->raw,
                     .quiet = 1};
    /* the batched layout: with the plan and key loaded for the encryption (reading them
     * again took 0.05 to 0.15 s after the result had arrived) */
    uint8_t kidb[32];
    if (!pcl && key_id(kidb, cl, NULL)) {
        rc = cli_fail(CLI_ERROR, &A, "out of memory");
        goto done;
    }
    if ((rc = pcl ? cli_decrypt_packed(&da, &p) : cli_decrypt_loaded(&da, &p, cl, kidb)))
        goto done;
    TL("decrypted, output written");
    say(o, "done");
    if (njobs == 1 && !o->keep)
        delete_job(c, o, job, &r);
    TL("job deleted");
    parts_written = 1;
    if (max_parts)
        parts_text(o);
    while (njobs > 1 && !o->keep && nparts) { /* written: the jobs are done with */
        char id[65];
        snprintf(id, sizeof id, "%s", parts[0].id);
        const size_t before = nparts;
        delete_job(c, o, id, &r);
        if (nparts == before)
            break; /* said, with the commands of those left */
    }
    if (o->keep)
        resume_len = 0; /* kept as asked */
done:
    if (in_started && !in_joined) { /* an error before the inputs were needed */
        inputs_cancel(&in);         /* (an early thread may still wait for a shape) */
        pthread_join(in_thread, NULL);
    }
    if (posting) /* a job's POST that ended in an error: a signal meanwhile ends infer */
        upload_settled();
    if (merged.f) {
        merged.bad = 1;
        (void)cli_writer_close(&merged, err, sizeof err);
    }
    cli_matrix_clear(&x);
    if (rc && resume_len)
        fputs(resume_text, stderr);
    resume_len = 0; /* said: the texts go */
    max_parts = nparts = 0;
    parts_written = 0;
    free(parts);
    parts = NULL;
    cn_client_free(cl);
    cn_packed_client_free(pcl);
    cli_plan_clear(&p);
    free(r.body);
    free(cached);
    free(keys);
    pthread_cond_destroy(&in.cv);
    pthread_mutex_destroy(&in.mu);
    return rc;
}

/* -o OUT can be written (not a directory, in a writable directory) and is none of the
 * files infer reads (the key, the evaluation keys, the inputs, the token and CA files),
 * by identity (cli_same_file): checked before anything is uploaded, so that the result
 * cannot be lost at the end, and refused as every command refuses it (exit 2). */
static int check_output(const infer_opts_t *o, const char *inputs)
{
    if (!o->out)
        return 0;
    const char *ins[] = {o->key, o->eval_keys, inputs, o->token_file, o->cacert};
    for (size_t i = 0; i < sizeof ins / sizeof ins[0]; i++)
        if (ins[i] && cli_same_file(o->out, ins[i]))
            return cli_fail(CLI_USAGE, &A, "%s: the output would overwrite the input %s",
                            o->out, ins[i]);
    if (o->eval_keys == NULL) { /* the cache of evaluation keys beside the key */
        char def[4200];
        snprintf(def, sizeof def, "%s.eval-keys", o->key);
        if (cli_same_file(o->out, def))
            return cli_fail(CLI_USAGE, &A, "%s: the output would overwrite the input %s",
                            o->out, def);
    }
    char err[4400];
    return cli_check_output(o->out, " (-o)", err, sizeof err)
               ? cli_fail(CLI_ERROR, &A, "%s", err)
               : 0;
}

/* 1 when path names a FIFO (an input given as <(...)): it is read once, by the inputs'
 * thread, and is not opened before (opening would wait for its writer) */
static int is_fifo(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISFIFO(sb.st_mode);
}

int cli_infer(int argc, char **argv)
{
    t_start = cli_now();
    TL("start");
    cli_map_context("infer", NULL);
    infer_opts_t o;
    const char *inputs;
    int rc = parse_infer(&o, argc, argv, &inputs);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    if (!o.del && (rc = check_output(&o, inputs)))
        return rc;
    char ierr[4400]; /* the key and the inputs can be read: before the server is asked */
    if (!o.del &&
        ((!o.job && inputs && !is_fifo(inputs) && cli_check_input(inputs, ierr, sizeof ierr)) ||
         cli_check_input(o.key, ierr, sizeof ierr) ||
         cli_check_kind(o.key, CLI_FILE_KEY, ierr, sizeof ierr) ||
         (o.eval_keys && cli_check_kind(o.eval_keys, CLI_FILE_EVAL_KEYS, ierr, sizeof ierr))))
        return cli_fail(CLI_ERROR, &A, "%s", ierr);
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return cli_fail(CLI_ERROR, &A, "cannot start libsodium or libcurl");
    http_t c = {.base = o.server, .cacert = o.cacert, .o = &o};
    if ((rc = read_token(c.auth, sizeof c.auth, &o)))
        return rc;
    const char *tmpdir = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/cryptonets-infer-XXXXXX",
             tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(dir))
        return cli_fail(CLI_ERROR, &A, "%s: %s", dir, strerror(errno));
    watch_tmp(dir);
    cli_map_context("infer", remove_tmp); /* INPUTS cut short: the directory goes too */
    c.h = curl_easy_init();
    if (!c.h)
        rc = cli_fail(CLI_ERROR, &A, "cannot start libcurl");
    else
        rc = run(&c, &o, inputs, dir);
    if (c.h)
        curl_easy_cleanup(c.h);
    sodium_memzero(c.auth, sizeof c.auth);
    remove_tmp();
    curl_global_cleanup();
    return rc;
}
