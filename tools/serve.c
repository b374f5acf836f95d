/* `cryptonets serve` (docs/service.md): the server side of the private-inference service
 * on libmicrohttpd. It holds the plan and the tenants' public evaluation keys (never a
 * secret key: the library refuses one), accepts batches streamed to the state directory
 * and validated as they arrive, and evaluates them with a pool of workers. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <microhttpd.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "service.h"

#define HEAD_BYTES 96 /* a container's header (docs/cli.md, "The tool's containers") */
#define REC_BYTES 24  /* a record's header */
/* a job id's label (docs/service.md, "Identifiers"); 2: SHA-256 of the label, key id and
 * body, 1: the same with BLAKE2b-256 */
#define JOB_LABEL "cryptonets job 3"
/* the GMAC's nonce: one for every upload, which the HMAC-SHA-256 over the tag allows
 * (docs/service.md, "Choosing the job id"); 12 bytes, GCM's standard IV length */
#define JOB_NONCE "cn job id 3."
/* a 413's hint: where the limit on a job's records comes from, and how a client learns it */
#define JOB_LIMIT                                                                              \
    " (at most --max-batches records (requests) per job, the X-Cryptonets-Max-Records "        \
    "header of GET /v1/plan: split the inputs over several jobs)"

static const char *const reason_names[SVC_NREASONS] = {
    "bad_request", "unauthorized", "forbidden", "not_found", "mismatch", "too_large",
    "full",        "tenant_full",  "timeout",   "aborted",   "other"};

/* --- the configuration ----------------------------------------------------------------- */

typedef struct {
    const char *plan, *listen, *state_dir, *tokens, *tls_cert, *tls_key, *port_file;
    size_t workers, max_jobs, tenant_jobs, max_batches, threads, max_conn, http_threads;
    size_t per_ip; /* connections at once from one address; 0: no such limit */
    uint64_t mem_limit, job_mem;
    double timeout, request_timeout, expire, warm_idle;
    int allow_plain, quiet;
} serve_opts_t;

/* errors read "cryptonets serve: FILE: ..." as every command's (docs/cli.md) */
static const cli_args_t SERVE = {.cmd = "serve"};
#define TL(...) svc_timeline("serve", __VA_ARGS__) /* CRYPTONETS_TIMELINE (timeline.c) */

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "cryptonets serve: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see `cryptonets serve --help`)\n");
    return CLI_USAGE;
}

/* A size: decimal, optionally followed by K, M or G (powers of 1024). */
static int parse_bytes(uint64_t *v, const char *name, const char *text)
{
    char *e;
    if (!text || *text < '0' || *text > '9')
        return usage_error("%s: expected a number of bytes, got '%s'", name, text ? text : "");
    unsigned long long x = strtoull(text, &e, 10);
    const int shift = *e == 'K' ? 10 : *e == 'M' ? 20 : *e == 'G' ? 30 : 0;
    if (shift)
        e++;
    if (*e || x > (UINT64_MAX >> shift))
        return usage_error("%s: expected a number of bytes (K, M, G allowed), got '%s'", name,
                           text);
    *v = (uint64_t)x << shift;
    return 0;
}

static int parse_count(size_t *v, const char *name, const char *text, size_t lo, size_t hi)
{
    char *e;
    const unsigned long long x =
        text && *text >= '0' && *text <= '9' ? strtoull(text, &e, 10) : (e = (char *)"x", 0);
    if (*e || x < lo || x > hi)
        return usage_error("%s: expected a number from %zu to %zu, got '%s'", name, lo, hi,
                           text ? text : "");
    *v = (size_t)x;
    return 0;
}

static int parse_seconds(double *v, const char *name, const char *text)
{
    char *e;
    *v = text ? strtod(text, &e) : -1;
    if (!text || *e || !(*v > 0 && *v < 1e9))
        return usage_error("%s: expected seconds in (0, 1e9)%s, got '%s'", name,
                           strcmp(name, "--warm-idle") ? "" : " or 0 (never keep)",
                           text ? text : "");
    return 0;
}

static const char serve_help[] =
    "usage: cryptonets serve --plan PLAN --state-dir DIR [--listen ADDR:PORT] [--tokens FILE]\n"
    "        [--workers N] [--max-jobs M] [--memory-limit BYTES] [--tls-cert F --tls-key F]\n\n"
    "Serves the private-inference protocol of docs/service.md over HTTP: clients fetch the\n"
    "plan, register evaluation keys, upload encrypted batches and download encrypted\n"
    "results (`cryptonets infer`). Keys and accepted jobs are kept in DIR and survive a\n"
    "restart. SIGTERM stops accepting, finishes the running jobs and exits.\n"
    "  --listen ADDR:PORT     address (default 127.0.0.1:8470; port 0: any free port)\n"
    "  --tokens FILE          lines 'TENANT TOKEN': bearer tokens, one tenant each; without\n"
    "                         it anyone may connect, so only a loopback address is allowed\n"
    "  --workers N            evaluations at once (default 1; 0: accept jobs, evaluate\n"
    "                         none until a later start)\n"
    "  --threads T            threads per evaluation (default: every core)\n"
    "  --max-jobs M           queued and running jobs in all (default 16; then 503)\n"
    "  --tenant-jobs K        queued and running jobs per tenant (default M; then 429)\n"
    "  --max-batches B        batches (records) in one job (default 4)\n"
    "  --memory-limit BYTES   evaluations run at once only while their estimated peak\n"
    "                         memory fits (K, M, G suffixes; default: no limit)\n"
    "  --job-memory BYTES     the peak memory of one evaluation (default: estimated)\n"
    "  --warm-idle S          a worker keeps its evaluator (keys, buffers) for the next job\n"
    "                         of the same key up to S idle seconds (default 60; 0: never)\n"
    "  --timeout S            idle connections are closed after S seconds, and a\n"
    "                         request's headers must arrive within S seconds (default 30)\n"
    "  --request-timeout S    a request's body must arrive within S seconds (default 600)\n"
    "  --max-connections C    connections at once (default 64)\n"
    "  --http-threads H       threads serving connections (1..256, default 4)\n"
    "  --max-connections-per-ip C  connections at once from one address (default: no\n"
    "                         limit but --max-connections)\n"
    "  --expire S             finished jobs are removed S seconds after they end\n"
    "                         (default 86400)\n"
    "  --tls-cert F, --tls-key F  PEM certificate and key: HTTPS (GnuTLS)\n"
    "  --allow-plain-http     plain HTTP on a non-loopback address\n"
    "  --port-file F          write the port listened on into F (with port 0)\n"
    "  --quiet                no log lines\n";

static int parse_serve(serve_opts_t *o, int argc, char **argv)
{
    enum {
        O_PLAN = 256,
        O_LISTEN,
        O_STATE,
        O_TOKENS,
        O_WORKERS,
        O_THREADS,
        O_MAXJOBS,
        O_TJOBS,
        O_BATCHES,
        O_MEM,
        O_JOBMEM,
        O_TIMEOUT,
        O_RTIMEOUT,
        O_MAXCONN,
        O_PERIP,
        O_EXPIRE,
        O_CERT,
        O_KEY,
        O_PLAIN,
        O_PORTFILE,
        O_QUIET,
        O_HELP,
        O_HTTPTHREADS,
        O_WARM
    };
    static const struct option opts[] = {
        {"plan", 1, 0, O_PLAN},
        {"listen", 1, 0, O_LISTEN},
        {"state-dir", 1, 0, O_STATE},
        {"tokens", 1, 0, O_TOKENS},
        {"workers", 1, 0, O_WORKERS},
        {"threads", 1, 0, O_THREADS},
        {"max-jobs", 1, 0, O_MAXJOBS},
        {"tenant-jobs", 1, 0, O_TJOBS},
        {"max-batches", 1, 0, O_BATCHES},
        {"memory-limit", 1, 0, O_MEM},
        {"job-memory", 1, 0, O_JOBMEM},
        {"timeout", 1, 0, O_TIMEOUT},
        {"request-timeout", 1, 0, O_RTIMEOUT},
        {"max-connections", 1, 0, O_MAXCONN},
        {"max-connections-per-ip", 1, 0, O_PERIP},
        {"http-threads", 1, 0, O_HTTPTHREADS},
        {"warm-idle", 1, 0, O_WARM},
        {"expire", 1, 0, O_EXPIRE},
        {"tls-cert", 1, 0, O_CERT},
        {"tls-key", 1, 0, O_KEY},
        {"allow-plain-http", 0, 0, O_PLAIN},
        {"port-file", 1, 0, O_PORTFILE},
        {"quiet", 0, 0, O_QUIET},
        {"help", 0, 0, O_HELP},
        {0, 0, 0, 0},
    };
    *o = (serve_opts_t){.listen = "127.0.0.1:8470",
                        .workers = 1,
                        .max_jobs = 16,
                        .max_batches = 4,
                        .max_conn = 64,
                        .http_threads = 4,
                        .timeout = 30,
                        .request_timeout = 600,
                        .expire = 86400,
                        .warm_idle = 60};
    optind = 1;
    opterr = 0;
    int c, rc = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        /* a path option's empty value would be "/" once a separator is appended (the
         * state directory's files at the root): refused before anything is touched */
        if ((c == O_PLAN || c == O_STATE || c == O_TOKENS || c == O_CERT || c == O_KEY ||
             c == O_PORTFILE) &&
            !*optarg)
            for (size_t k = 0;; k++)
                if (opts[k].val == c)
                    return usage_error("--%s: an empty path", opts[k].name);
        switch (c) {
        case O_PLAN:
            o->plan = optarg;
            break;
        case O_LISTEN:
            o->listen = optarg;
            break;
        case O_STATE:
            o->state_dir = optarg;
            break;
        case O_TOKENS:
            o->tokens = optarg;
            break;
        case O_WORKERS:
            rc = parse_count(&o->workers, "--workers", optarg, 0, 256);
            break;
        case O_THREADS:
            rc = parse_count(&o->threads, "--threads", optarg, 0, 4096);
            break;
        case O_MAXJOBS:
            rc = parse_count(&o->max_jobs, "--max-jobs", optarg, 1, 1 << 20);
            break;
        case O_TJOBS:
            rc = parse_count(&o->tenant_jobs, "--tenant-jobs", optarg, 1, 1 << 20);
            break;
        case O_BATCHES:
            rc = parse_count(&o->max_batches, "--max-batches", optarg, 1, 1 << 16);
            break;
        case O_MEM:
            rc = parse_bytes(&o->mem_limit, "--memory-limit", optarg);
            break;
        case O_JOBMEM:
            rc = parse_bytes(&o->job_mem, "--job-memory", optarg);
            break;
        case O_TIMEOUT:
            rc = parse_seconds(&o->timeout, "--timeout", optarg);
            break;
        case O_RTIMEOUT:
            rc = parse_seconds(&o->request_timeout, "--request-timeout", optarg);
            break;
        case O_MAXCONN:
            rc = parse_count(&o->max_conn, "--max-connections", optarg, 1, 65536);
            break;
        case O_PERIP:
            rc = parse_count(&o->per_ip, "--max-connections-per-ip", optarg, 1, 65536);
            break;
        case O_HTTPTHREADS:
            rc = parse_count(&o->http_threads, "--http-threads", optarg, 1, 256);
            break;
        case O_EXPIRE:
            rc = parse_seconds(&o->expire, "--expire", optarg);
            break;
        case O_WARM:
            o->warm_idle = 0;
            if (strcmp(optarg, "0") != 0)
                rc = parse_seconds(&o->warm_idle, "--warm-idle", optarg);
            break;
        case O_CERT:
            o->tls_cert = optarg;
            break;
        case O_KEY:
            o->tls_key = optarg;
            break;
        case O_PLAIN:
            o->allow_plain = 1;
            break;
        case O_PORTFILE:
            o->port_file = optarg;
            break;
        case O_QUIET:
            o->quiet = 1;
            break;
        case O_HELP:
            fputs(serve_help, stdout);
            return -1;
        default:
            return usage_error("unknown option or missing value: '%s'", argv[optind - 1]);
        }
    }
    if (rc)
        return rc;
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (!o->plan || !o->state_dir)
        return usage_error("--plan PLAN and --state-dir DIR are required");
    if (!o->tls_cert != !o->tls_key)
        return usage_error("--tls-cert and --tls-key go together");
    if (!o->tenant_jobs)
        o->tenant_jobs = o->max_jobs;
    return 0;
}

/* --- the listening address and the tokens ------------------------------------------------ */

typedef struct {
    struct sockaddr_storage ss;
    int v6, loopback;
} listen_addr_t;

static int parse_listen(listen_addr_t *a, const char *text)
{
    *a = (listen_addr_t){0};
    char host[128];
    const char *colon = strrchr(text, ':');
    if (!colon || (size_t)(colon - text) >= sizeof host)
        return usage_error("--listen: expected ADDR:PORT, got '%s'", text);
    snprintf(host, sizeof host, "%.*s", (int)(colon - text), text);
    size_t port;
    if (parse_count(&port, "--listen port", colon + 1, 0, 65535))
        return CLI_USAGE;
    char *h = host;
    if (h[0] == '[' && h[strlen(h) - 1] == ']') {
        h++;
        h[strlen(h) - 1] = 0;
    }
    if (!strcmp(h, "localhost"))
        h = "127.0.0.1";
    struct sockaddr_in *v4 = (struct sockaddr_in *)&a->ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a->ss;
    if (inet_pton(AF_INET, h, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        a->loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
    } else if (inet_pton(AF_INET6, h, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        a->v6 = 1;
        a->loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
    } else {
        return usage_error("--listen: '%s' is not a numeric IPv4 or IPv6 address", host);
    }
    return 0;
}

static int valid_tenant(const char *t)
{
    const size_t n = strlen(t);
    if (n == 0 || n > 64 || t[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
              (t[i] >= '0' && t[i] <= '9') || t[i] == '_' || t[i] == '-' || t[i] == '.'))
            return 0;
    return 1;
}

/* --port-file F: written once the server listens, as every output of the tool is
 * (cli_out_open: F.partial-PID renamed over F, a link's target, or a FIFO written in
 * place), so F must be writable so (cli_check_output): checked before anything is bound or
 * created, CLI_USAGE with the reason (a server started without the file a script waits
 * for would be found by no one). */
static int check_port_file(const char *f)
{
    if (!*f)
        return usage_error("--port-file: an empty path");
    char err[4400];
    if (cli_check_output(f, "", err, sizeof err))
        return usage_error("--port-file %s", err);
    /* a FIFO would hold the main thread in open() until someone reads it: SIGTERM,
     * expiry and the long polls' deadlines wait on that thread */
    cli_target_t t;
    if (cli_out_target(&t, f, err, sizeof err) == 0 && t.kind == CLI_TARGET_STREAM && t.what &&
        !strcmp(t.what, "a FIFO"))
        return usage_error("--port-file %s: a FIFO (the server would wait for its reader "
                           "before serving its signals); give a regular file",
                           f);
    return 0;
}

/* The tokens file: lines "TENANT TOKEN" (blank lines and # comments skipped). */
static int load_tokens(svc_t *s, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return cli_fail(CLI_ERROR, &SERVE, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && (sb.st_mode & 077))
        fprintf(stderr,
                "cryptonets serve: warning: %s holds the tokens yet is readable or writable "
                "by %s (mode %04o): anyone who can read it can act as every tenant; "
                "chmod 600 it\n",
                path, sb.st_mode & 007 ? "anyone" : "its group", (unsigned)(sb.st_mode & 0777));
    char line[1024];
    size_t lineno = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char tenant[128], token[512], extra[8];
        const int k = sscanf(line, "%127s %511s %7s", tenant, token, extra);
        if (k <= 0 || tenant[0] == '#')
            continue;
        if (k != 2 || !valid_tenant(tenant) || strlen(token) < 8) {
            rc = cli_fail(CLI_ERROR, &SERVE,
                          "%s: line %zu: expected 'TENANT TOKEN' (tenant: 1 to 64 of "
                          "A-Z a-z 0-9 _ - ., token: at least 8 characters)",
                          path, lineno);
            break;
        }
        if (!strcmp(tenant, "anonymous")) { /* the one tenant of a server without tokens */
            rc = cli_fail(CLI_ERROR, &SERVE,
                          "%s: line %zu: 'anonymous' is reserved (the tenant of a "
                          "server without --tokens, whose state it would share): name the "
                          "tenant otherwise",
                          path, lineno);
            break;
        }
        uint8_t hash[32];
        crypto_hash_sha256(hash, (const uint8_t *)token, strlen(token));
        sodium_memzero(token, sizeof token);
        for (size_t i = 0; i < s->ntenants; i++)
            if (!strcmp(s->tenants[i].name, tenant) ||
                !memcmp(s->tenants[i].token_hash, hash, 32))
                rc = cli_fail(CLI_ERROR, &SERVE, "%s: line %zu: tenant or token repeated", path,
                              lineno);
        svc_tenant_t *g = rc ? NULL : realloc(s->tenants, (s->ntenants + 1) * sizeof *g);
        if (!g) {
            rc = rc ? rc : cli_fail(CLI_ERROR, &SERVE, "out of memory");
            break;
        }
        s->tenants = g;
        s->tenants[s->ntenants] = (svc_tenant_t){0};
        snprintf(s->tenants[s->ntenants].name, sizeof s->tenants[0].name, "%s", tenant);
        memcpy(s->tenants[s->ntenants].token_hash, hash, 32);
        s->ntenants++;
    }
    sodium_memzero(line, sizeof line);
    fclose(f);
    if (rc == 0 && s->ntenants == 0)
        rc = cli_fail(CLI_ERROR, &SERVE, "%s: no tokens", path);
    return rc;
}

/* --- the plan and the sizes it fixes ---------------------------------------------------- */

/* The sizes of a packed plan (docs/service.md, "Plans"): a record is one request of 1 to
 * the layout's batch inputs, whose bytes the library fixes only by encrypting one, so a
 * throwaway client (fresh keys) encrypts a full request of the smallest inputs; its
 * length is the most a record may hold (fewer inputs never take more ciphertexts), and
 * its evaluation keys' length the size of every key upload. */
static int load_packed(svc_t *s, const cli_args_t *a, const char *path, uint64_t job_mem)
{
    cn_net_diag_t d = {{0}};
    cn_status st = cn_plan_packed(&s->packed, s->plan.plan, &d);
    if (st != CN_OK)
        return cli_fail(CLI_ERROR, a, "%s: %s", path, d.msg[0] ? d.msg : cn_strerror(st));
    s->n = cn_packed_batch(s->packed);
    s->nin = cn_plan_inputs(s->plan.plan);
    cn_packed_client_t *c = NULL;
    uint8_t *keys = NULL, *req = NULL;
    size_t klen = 0, rlen = 0;
    int64_t *x = calloc(s->n * s->nin, sizeof *x);
    int64_t lo, hi; /* a request of the smallest valid input (its size is every request's) */
    cn_plan_input_range(s->plan.plan, &lo, &hi);
    for (size_t i = 0; x && i < s->n * s->nin; i++)
        x[i] = lo;
    st = x ? cn_packed_client_create(&c, s->packed, NULL, 0) : CN_ERR_NO_MEMORY;
    if (st == CN_OK)
        st = cn_packed_client_eval_keys(&keys, &klen, c);
    if (st == CN_OK)
        st = cn_packed_client_encrypt(&req, &rlen, c, x, s->n, &d);
    cn_packed_client_free(c);
    free(keys);
    free(req);
    free(x);
    if (st != CN_OK)
        return cli_fail(CLI_ERROR, a, "%s: sizing the plan's objects: %s", path,
                        d.msg[0] ? d.msg : cn_strerror(st));
    s->batch_bytes = rlen;
    s->key_bytes = HEAD_BYTES + REC_BYTES + (uint64_t)klen;
    /* a rough bound (docs/service.md, "Memory"): the request read, the keys as bytes and
     * loaded, and the ciphertexts of an evaluation, some times the request */
    s->job_mem = job_mem ? job_mem : 8 * s->batch_bytes + 2 * (uint64_t)klen;
    s->warm_mem = s->job_mem; /* the evaluator kept with its input buffer */
    return 0;
}

/* The service's own memory per evaluation beyond the library's estimate (docs/service.md,
 * "Memory"): the worker thread's stack (8 MiB, glibc's default) and its file and HTTP
 * buffers, with room to spare. */
#define SVC_JOB_MARGIN ((uint64_t)16 << 20)

/* The estimated peak memory of one evaluation of a batched plan: the compiler's bound
 * (cn_plan_memory_estimate, rounded up), the evaluation-key container as read (key_bytes)
 * and SVC_JOB_MARGIN. */
static uint64_t svc_job_memory(const cn_plan_t *plan, uint64_t key_bytes)
{
    return (uint64_t)cn_plan_memory_estimate(plan) + 1 + key_bytes + SVC_JOB_MARGIN;
}

static int load_plan(svc_t *s, const char *path, uint64_t job_mem)
{
    char err[512];
    const cli_args_t a = {.cmd = "serve"};
    if (cli_read_file(&s->plan_bytes, &s->plan_len, path, err, sizeof err))
        return cli_fail(CLI_ERROR, &a, "%s", err);
    int rc = cli_plan_load(&s->plan, &a, path);
    if (rc)
        return rc;
    uint8_t d[32];
    crypto_hash_sha256(d, s->plan_bytes, s->plan_len);
    if (memcmp(d, s->plan.digest, 32) != 0)
        return cli_fail(CLI_ERROR, &a, "%s: changed while it was read", path);
    svc_hex(s->plan_hex, d, 32);
    if (cn_plan_layout(s->plan.plan) == CN_LAYOUT_PACKED)
        return load_packed(s, &a, path, job_mem);
    const cn_bfv_params_t *prm = cn_plan_params(s->plan.plan);
    s->n = prm->n;
    s->nin = cn_plan_inputs(s->plan.plan);
    /* a batch: one seeded ciphertext batch of nin records per plaintext modulus
     * (cn_client_encrypt), the same bytes for any number of inputs */
    cn_bfv_context_t *ctx = NULL;
    cn_status st = cn_bfv_context_create(&ctx, prm);
    if (st != CN_OK)
        return cli_fail(CLI_ERROR, &a, "%s: %s", path, cn_strerror(st));
    const size_t L = prm->nq;
    const cn_io_batch_shape_t shape = {.size = 2, .level = L, .seeded = 1};
    s->batch_bytes = (uint64_t)prm->nt * cn_io_batch_writer_size(s->nin, &shape, ctx);
    cn_bfv_context_free(ctx);
    /* an evaluation-key container: its size does not depend on the key */
    cn_client_t *c = NULL;
    uint8_t *keys = NULL;
    size_t klen = 0;
    st = cn_client_create(&c, s->plan.plan, NULL, 0);
    if (st == CN_OK)
        st = cn_client_eval_keys(&keys, &klen, c);
    cn_client_free(c);
    free(keys);
    if (st != CN_OK || s->batch_bytes == 0)
        return cli_fail(CLI_ERROR, &a, "%s: sizing the plan's objects: %s", path,
                        cn_strerror(st));
    s->key_bytes = HEAD_BYTES + REC_BYTES + (uint64_t)klen;
    /* an evaluation: the compiler's bound on the server's peak for one batch
     * (cn_plan_memory_estimate: the batch, the pool at its peak with the chunked first
     * layers, the keys, the reply, the process), plus the service's own buffers, the
     * evaluation-key container as read and SVC_JOB_MARGIN: docs/service.md, "Memory" */
    s->job_mem = job_mem ? job_mem : svc_job_memory(s->plan.plan, s->key_bytes);
    /* a warm evaluator between jobs: the job's estimate (the buffers its first job
     * touched, the keys, and the input buffer a record is read into) */
    s->warm_mem = s->job_mem;
    return 0;
}

/* --- requests ------------------------------------------------------------------------------
 */

enum { RQ_KEYS = 1, RQ_JOBS = 2, RQ_WAIT = 3 };
enum { PH_HEAD, PH_REC, PH_BODY, PH_END };

typedef struct {
    int kind;
    size_t tenant;
    double deadline;
    int fd;
    char tmp[4096];
    uint64_t got, limit;
    uint64_t cap;                 /* the plan's largest upload of this kind: beyond it, 413 */
    crypto_hash_sha256_state sha; /* a key's id: SHA-256 of its bytes */
    /* a job's id: the GMAC (AES-256, GnuTLS: AES-NI and carry-less multiplication where
     * the CPU has them) of the label, key id and body under the server's job key, then
     * HMAC-SHA-256 of the tag (docs/service.md, "Identifiers"); NULL when not started or
     * finished */
    gnutls_hmac_hd_t job;
    /* a batch's structure, checked as it arrives */
    int phase;
    uint8_t hbuf[HEAD_BYTES];
    size_t hfill;
    cli_head_t h;
    uint64_t body_left, recs_left, counted;
    char key[65];
    uint8_t key_id[32];
    /* a refusal found while the body arrived */
    unsigned err_status;
    char err_code[32], err_msg[256];
    int err_reason, responded;
    int slot;           /* a job upload counted in S->uploads and its tenant's: released once */
    int spares_dropped; /* the spares were removed for this upload's full disk: once */
    uint64_t stored;    /* bytes written to fd */
    svc_wb_t wb;        /* their write-back, started as they arrive */
    /* a long poll (RQ_WAIT): GET /v1/jobs/ID?wait=S, suspended until the job changes */
    char wait_id[65];
    double wait_until;
    int wait_known;   /* the state the client last saw (?state=), or -1 */
    int counted_poll; /* counted in polls until the request ends */
    struct MHD_Connection *conn;
    int suspended; /* in the waiters' list (under S->mu) */
    void *wnext;   /* the next waiter */
    uint64_t result_bytes;
} req_t;

static svc_t *S;              /* the one service of this process */
static serve_opts_t OPTS;     /* its options */
static volatile int draining; /* SIGTERM received: new jobs are refused */

static void count_reject(int reason)
{
    pthread_mutex_lock(&S->mu);
    S->rejected[reason]++;
    pthread_mutex_unlock(&S->mu);
}

/* --- long polls ---------------------------------------------------------------------------
 * GET /v1/jobs/ID?wait=S on a queued or running job suspends its connection
 * (MHD_suspend_connection) in a list of waiters; it is resumed when the job changes state
 * or is deleted (S->on_change, called by the workers and by DELETE), when its S seconds
 * are up (the main thread looks every 0.1 s), or when the server stops; libmicrohttpd then
 * calls the handler again, which answers the job's status as it is then. A suspended
 * connection holds no thread. All under S->mu: a waiter is suspended before the lock that
 * let it see its job's state is released, so no change can slip between. */

#define WAIT_MAX 60.0 /* seconds a long poll may ask for */

static req_t *waiters; /* under S->mu */
static int no_waits;   /* under S->mu: the server stops; polls are answered at once */
static size_t polls;   /* under S->mu: long polls suspended and not yet answered */

/* Resumes waiter q and takes it off the list (S->mu held). */
static void wake(req_t *q, req_t **link)
{
    *link = q->wnext;
    q->suspended = 0;
    MHD_resume_connection(q->conn);
}

/* S->on_change: the job's waiters are answered (S->mu held). */
static void wake_job(const svc_job_t *j)
{
    for (req_t **l = &waiters; *l;)
        if ((*l)->tenant == j->tenant && !strcmp((*l)->wait_id, j->id))
            wake(*l, l);
        else
            l = (req_t **)&(*l)->wnext;
}

/* The waiters whose time is up (all of them with all = 1), from the main thread. */
static void wake_expired(double now, int all)
{
    pthread_mutex_lock(&S->mu);
    if (all)
        no_waits = 1;
    for (req_t **l = &waiters; *l;)
        if (all || now >= (*l)->wait_until)
            wake(*l, l);
        else
            l = (req_t **)&(*l)->wnext;
    pthread_mutex_unlock(&S->mu);
}

/* --- the headers' deadline ---------------------------------------------------------------
 * MHD_OPTION_CONNECTION_TIMEOUT closes a connection only when it is idle: a client that
 * sends one header line every few seconds would hold its slot forever, and a few such
 * clients every slot. So each connection carries a deadline (--timeout seconds after it
 * opened, or after its previous request ended) by which its request's headers must be
 * in; the main thread's once-a-second sweep shuts down the socket of a connection past
 * it, and libmicrohttpd closes it as a client that went away. */

typedef struct conn {
    double deadline; /* Unix time */
    int fd;          /* -1 once shut down */
    int in_request;  /* headers complete: the body and the answer have their own bounds */
    struct conn *prev, *next;
} conn_t;

static pthread_mutex_t conn_mu = PTHREAD_MUTEX_INITIALIZER;
static conn_t *conns; /* under conn_mu */

static void notify_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
                              enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    conn_t *k = *socket_ctx;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ci || !(k = calloc(1, sizeof *k)))
            return; /* untracked: only the idle timeout applies */
        k->fd = ci->connect_fd;
        k->deadline = svc_time() + OPTS.timeout;
        pthread_mutex_lock(&conn_mu);
        k->next = conns;
        if (conns)
            conns->prev = k;
        conns = k;
        pthread_mutex_unlock(&conn_mu);
        *socket_ctx = k;
    } else if (k) { /* closed: libmicrohttpd closes the socket after this returns */
        pthread_mutex_lock(&conn_mu);
        if (k->prev)
            k->prev->next = k->next;
        else
            conns = k->next;
        if (k->next)
            k->next->prev = k->prev;
        pthread_mutex_unlock(&conn_mu);
        free(k);
        *socket_ctx = NULL;
    }
}

/* The request's headers are in (in_request 1), or its answer is sent and the next
 * request's headers are awaited (0): the deadline restarts. */
static void headers_done(struct MHD_Connection *c, int in_request)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_t *k = ci ? ci->socket_context : NULL;
    if (!k)
        return;
    pthread_mutex_lock(&conn_mu);
    k->in_request = in_request;
    k->deadline = svc_time() + OPTS.timeout;
    pthread_mutex_unlock(&conn_mu);
}

/* Shuts down the connections whose headers are late (the main thread, once a second). */
static void sweep_connections(double now)
{
    size_t late = 0;
    pthread_mutex_lock(&conn_mu);
    for (conn_t *k = conns; k; k = k->next)
        if (!k->in_request && k->fd >= 0 && now > k->deadline) {
            shutdown(k->fd, SHUT_RDWR);
            k->fd = -1;
            late++;
        }
    pthread_mutex_unlock(&conn_mu);
    if (late) {
        pthread_mutex_lock(&S->mu);
        S->rejected[SVC_R_TIMEOUT] += late;
        pthread_mutex_unlock(&S->mu);
    }
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *type,
                                 char *text, double retry_after)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (retry_after > 0) {
        char ra[32];
        snprintf(ra, sizeof ra, "%.0f", retry_after);
        MHD_add_response_header(r, "Retry-After", ra);
    }
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"cryptonets\"");
    const enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* A JSON document (freed) as the response. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *doc,
                                 double retry_after)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return MHD_NO;
    const size_t n = strlen(text);
    char *t = realloc(text, n + 2);
    if (!t) {
        free(text);
        return MHD_NO;
    }
    t[n] = '\n';
    t[n + 1] = 0;
    return send_text(c, status, "application/json", t, retry_after);
}

/* The error body of docs/service.md: {"error": CODE, "message": TEXT}. */
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, int reason,
                                  const char *code, double retry_after, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, int reason,
                                  const char *code, double retry_after, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* a message may quote the request (a URL, an id): bytes outside printable ASCII
     * (invalid UTF-8 among them, which json_pack refuses) become '?' */
    for (char *m = msg; *m; m++)
        if ((unsigned char)*m < 0x20 || (unsigned char)*m >= 0x7f)
            *m = '?';
    count_reject(reason);
    return send_json(c, status, json_pack("{s:s, s:s}", "error", code, "message", msg),
                     retry_after);
}

/* --- framing checks that libmicrohttpd 0.9.75 does not make ------------------------------
 * Checked 2026-11-30 against the server: libmicrohttpd answers an HTTP/1.1 request
 * without a Host header, or with two, as any other, and of two Content-Length headers
 * with different values silently uses one. RFC 9112 3.2: a server MUST answer 400 to an
 * HTTP/1.1 request without Host and to any request with more than one Host; RFC 9112 6.3
 * (RFC 9110 8.6): Content-Length headers that differ make the framing unknowable, an
 * unrecoverable error (400, and the connection closed: where the body ends is not known).
 * Identical repeated values are accepted (RFC 9110 8.6 allows either). A Content-Length
 * beside Transfer-Encoding: chunked is left to libmicrohttpd, which frames by the chunks
 * as RFC 9112 6.1 says. */
typedef struct {
    size_t hosts, lengths, auths;
    const char *length; /* the first Content-Length */
    int differ;
} framing_t;

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    framing_t *f = cls;
    if (!strcasecmp(key, "Host"))
        f->hosts++;
    if (!strcasecmp(key, "Authorization"))
        f->auths++;
    if (!strcasecmp(key, "Content-Length")) {
        if (f->lengths++ == 0)
            f->length = value;
        else if (strcmp(f->length, value) != 0)
            f->differ = 1;
    }
    return MHD_YES;
}

/* 1 with *ret the 400 (the connection closed) when the request's framing headers are
 * bad, else 0. */
static int bad_framing(struct MHD_Connection *c, const char *version, enum MHD_Result *ret)
{
    framing_t f = {0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
    const char *why = f.differ ? "Content-Length headers with different values (RFC 9112 6.3)"
                      : f.hosts > 1 ? "more than one Host header (RFC 9112 3.2)"
                      : f.auths > 1 ? "more than one Authorization header (RFC 9110 5.3: "
                                      "not a list; which token would be meant?)"
                      : f.hosts == 0 && !strcmp(version, "HTTP/1.1")
                          ? "an HTTP/1.1 request without a Host header (RFC 9112 3.2)"
                          : NULL;
    if (!why)
        return 0;
    count_reject(SVC_R_BAD_REQUEST);
    json_t *o = json_pack("{s:s, s:s}", "error", "bad_request", "message", why);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    struct MHD_Response *r =
        text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE)
             : NULL;
    if (!r) {
        free(text);
        *ret = MHD_NO;
        return 1;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "Connection", "close");
    *ret = MHD_queue_response(c, MHD_HTTP_BAD_REQUEST, r);
    MHD_destroy_response(r);
    return 1;
}

/* The methods a resource allows (the Allow header a 405 must carry, RFC 9110 15.5.6). */
static const char *allowed_methods(const char *url)
{
    if (!strcmp(url, "/v1/jobs"))
        return "GET, HEAD, POST"; /* the tenant's jobs; a new job */
    if (!strcmp(url, "/v1/keys"))
        return "POST";
    if (!strncmp(url, "/v1/jobs/", 9) && strchr(url + 9, '/'))
        return "GET, HEAD"; /* /v1/jobs/ID/result */
    if (!strncmp(url, "/v1/keys/", 9) || !strncmp(url, "/v1/jobs/", 9))
        return "GET, HEAD, DELETE";
    return "GET, HEAD";
}

/* 405 method_not_allowed with its Allow header. */
static enum MHD_Result send_not_allowed(struct MHD_Connection *c, const char *method,
                                        const char *url)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s is not allowed on %s (allowed: %s)", method, url,
             allowed_methods(url));
    for (char *m = msg; *m; m++) /* as send_error: the request's bytes, printable */
        if ((unsigned char)*m < 0x20 || (unsigned char)*m >= 0x7f)
            *m = '?';
    count_reject(SVC_R_BAD_REQUEST);
    json_t *o = json_pack("{s:s, s:s}", "error", "method_not_allowed", "message", msg);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    struct MHD_Response *r =
        text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE)
             : NULL;
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "Allow", allowed_methods(url));
    const enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
    MHD_destroy_response(r);
    return ok;
}

/* Records a refusal found while a body arrives; it is sent when MHD allows. */
__attribute__((format(printf, 5, 6))) static void refuse(req_t *q, unsigned status, int reason,
                                                         const char *code, const char *fmt, ...)
{
    if (q->err_status)
        return;
    q->err_status = status;
    q->err_reason = reason;
    snprintf(q->err_code, sizeof q->err_code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->err_msg, sizeof q->err_msg, fmt, ap);
    va_end(ap);
}

/* The tenant of the request's bearer token: 0 and *t, or 401 (no token) / 403 (a token
 * that is not in the tokens file) sent. Without --tokens every request is tenant 0. */
static int authenticate(struct MHD_Connection *c, size_t *t, enum MHD_Result *ret)
{
    *t = 0;
    if (!S->auth)
        return 0;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    /* no token at all, "Bearer" alone or followed by blanks only, is 401: no credentials */
    if (h && strncasecmp(h, "Bearer", 6) == 0 && h[strspn(h + 6, " \t") + 6] == 0)
        h = NULL;
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
        *ret = send_error(c, MHD_HTTP_UNAUTHORIZED, SVC_R_UNAUTHORIZED, "unauthorized", 0,
                          "a bearer token is required (Authorization: Bearer TOKEN)");
        return 1;
    }
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    uint8_t hash[32];
    crypto_hash_sha256(hash, (const uint8_t *)tok, strlen(tok));
    int found = -1;
    for (size_t i = 0; i < S->ntenants; i++) /* every entry is compared: constant time */
        if (sodium_memcmp(hash, S->tenants[i].token_hash, 32) == 0)
            found = (int)i;
    if (found < 0) {
        *ret = send_error(c, MHD_HTTP_FORBIDDEN, SVC_R_FORBIDDEN, "forbidden", 0,
                          "this token is not valid here");
        return 1;
    }
    *t = (size_t)found;
    return 0;
}

static int is_id(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static json_t *job_json(const svc_job_t *j)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:f}", "job", j->id, "state",
                  svc_state_name(j->state), "key", j->key, "batches", (json_int_t)j->records,
                  "inputs", (json_int_t)j->inputs, "created", j->created);
    if (j->state >= SVC_RUNNING)
        json_object_set_new(o, "started", json_real(j->started));
    if (j->state >= SVC_DONE) {
        json_object_set_new(o, "finished", json_real(j->finished));
        json_object_set_new(o, "seconds", json_real(j->seconds));
        json_object_set_new(o, "expires", json_real(j->finished + S->expire));
    }
    if (j->state == SVC_DONE)
        json_object_set_new(o, "result_bytes", json_integer((json_int_t)j->bytes_out));
    if (j->state == SVC_FAILED)
        json_object_set_new(o, "failure",
                            json_pack("{s:s, s:s}", "error", j->code, "message", j->reason));
    return o;
}

/* The resident set size (Linux /proc/self/statm), 0 when unknown. */
static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%llu %llu", &size, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

static enum MHD_Result get_metrics(struct MHD_Connection *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return MHD_NO;
    size_t count[4] = {0};
    pthread_mutex_lock(&S->mu);
    for (const svc_job_t *j = S->jobs; j; j = j->next)
        count[j->state]++;
    fprintf(f, "# HELP cryptonets_jobs Jobs in the table, by state.\n"
               "# TYPE cryptonets_jobs gauge\n");
    for (int i = 0; i < 4; i++)
        fprintf(f, "cryptonets_jobs{state=\"%s\"} %zu\n", svc_state_name((svc_state)i),
                count[i]);
    fprintf(f,
            "# HELP cryptonets_jobs_finished_total Evaluations finished since the start.\n"
            "# TYPE cryptonets_jobs_finished_total counter\n"
            "cryptonets_jobs_finished_total{result=\"done\"} %llu\n"
            "cryptonets_jobs_finished_total{result=\"failed\"} %llu\n"
            "# HELP cryptonets_evaluation_seconds Seconds of successful evaluations.\n"
            "# TYPE cryptonets_evaluation_seconds summary\n"
            "cryptonets_evaluation_seconds_sum %.6f\n"
            "cryptonets_evaluation_seconds_count %llu\n"
            "# HELP cryptonets_received_bytes_total Request body bytes received.\n"
            "# TYPE cryptonets_received_bytes_total counter\n"
            "cryptonets_received_bytes_total %llu\n"
            "# HELP cryptonets_sent_bytes_total Result bytes sent.\n"
            "# TYPE cryptonets_sent_bytes_total counter\n"
            "cryptonets_sent_bytes_total %llu\n"
            "# HELP cryptonets_requests_total Requests received.\n"
            "# TYPE cryptonets_requests_total counter\n"
            "cryptonets_requests_total %llu\n"
            "# HELP cryptonets_rejected_requests_total Requests refused, by reason.\n"
            "# TYPE cryptonets_rejected_requests_total counter\n",
            (unsigned long long)S->done_total, (unsigned long long)S->failed_total,
            S->eval_seconds, (unsigned long long)S->eval_count, (unsigned long long)S->bytes_in,
            (unsigned long long)S->bytes_out, (unsigned long long)S->requests);
    for (int i = 0; i < SVC_NREASONS; i++)
        fprintf(f, "cryptonets_rejected_requests_total{reason=\"%s\"} %llu\n", reason_names[i],
                (unsigned long long)S->rejected[i]);
    fprintf(f,
            "# HELP cryptonets_memory_rss_bytes Resident memory of the server.\n"
            "# TYPE cryptonets_memory_rss_bytes gauge\n"
            "cryptonets_memory_rss_bytes %llu\n"
            "# HELP cryptonets_memory_reserved_bytes Estimated peak memory of the running "
            "evaluations and the warm evaluators.\n"
            "# TYPE cryptonets_memory_reserved_bytes gauge\n"
            "cryptonets_memory_reserved_bytes %llu\n"
            "# HELP cryptonets_job_memory_bytes The estimated peak memory of one "
            "evaluation.\n"
            "# TYPE cryptonets_job_memory_bytes gauge\n"
            "cryptonets_job_memory_bytes %llu\n"
            "# HELP cryptonets_memory_limit_bytes The --memory-limit (0: none).\n"
            "# TYPE cryptonets_memory_limit_bytes gauge\n"
            "cryptonets_memory_limit_bytes %llu\n"
            "# HELP cryptonets_warm_evaluators Evaluators kept by idle workers for the "
            "next job of their key (their memory is in memory_reserved).\n"
            "# TYPE cryptonets_warm_evaluators gauge\n"
            "cryptonets_warm_evaluators %zu\n"
            "# HELP cryptonets_long_polls Job status requests waiting for a change "
            "(?wait=).\n"
            "# TYPE cryptonets_long_polls gauge\n"
            "cryptonets_long_polls %zu\n"
            "# HELP cryptonets_spare_batch_files Finished jobs' batch files kept in tmp/ for "
            "the next uploads to write over.\n"
            "# TYPE cryptonets_spare_batch_files gauge\n"
            "cryptonets_spare_batch_files %zu\n",
            (unsigned long long)rss_bytes(), (unsigned long long)S->mem_reserved,
            (unsigned long long)S->job_mem, (unsigned long long)S->mem_limit, S->nwarm, polls,
            S->nspares);
    pthread_mutex_unlock(&S->mu);
    if (fclose(f) != 0) {
        free(buf);
        return MHD_NO;
    }
    return send_text(c, MHD_HTTP_OK, "text/plain; version=0.0.4", buf, 0);
}

/* Whether an If-None-Match field value (RFC 9110 13.1.2: "*" or a list of entity tags,
 * compared weakly, so W/ is ignored) names the plan's ETag "DIGEST". */
static int plan_tag_matches(const char *v)
{
    while (v && *v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        if (*v == '*')
            return 1;
        if (!strncmp(v, "W/", 2))
            v += 2;
        const char *end = *v == '"' ? strchr(v + 1, '"') : NULL;
        if (!end)
            return 0; /* not an entity tag: nothing further is read */
        if (end - v - 1 == 64 && !strncmp(v + 1, S->plan_hex, 64))
            return 1;
        v = end + 1;
    }
    return 0;
}

static enum MHD_Result get_plan(struct MHD_Connection *c)
{
    /* a client that holds the plan already (its ETag in If-None-Match): 304, no body */
    const int same =
        plan_tag_matches(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match"));
    struct MHD_Response *r =
        same ? MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT)
             : MHD_create_response_from_buffer(S->plan_len, S->plan_bytes,
                                               MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    char etag[80];
    snprintf(etag, sizeof etag, "\"%s\"", S->plan_hex);
    MHD_add_response_header(r, "Content-Type", "application/octet-stream");
    MHD_add_response_header(r, "X-Cryptonets-Plan-SHA256", S->plan_hex);
    /* a job's limits, for a client to split its inputs before encrypting them */
    char num[32];
    snprintf(num, sizeof num, "%zu", S->max_records);
    MHD_add_response_header(r, "X-Cryptonets-Max-Records", num);
    snprintf(num, sizeof num, "%zu", S->n);
    MHD_add_response_header(r, "X-Cryptonets-Record-Inputs", num);
    MHD_add_response_header(r, "ETag", etag);
    const enum MHD_Result ok =
        MHD_queue_response(c, same ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

/* A registered key's file for the tenant: 0 when it exists. */
static int key_file(char *p, size_t cap, size_t tenant, const char *id)
{
    struct stat sb;
    return !is_id(id) || svc_path(p, cap, S, tenant, "keys", id, ".keys") || stat(p, &sb) != 0;
}

static enum MHD_Result get_key(struct MHD_Connection *c, size_t tenant, const char *id, int del)
{
    char p[4096];
    if (key_file(p, sizeof p, tenant, id))
        return send_error(c, MHD_HTTP_NOT_FOUND, SVC_R_NOT_FOUND, "not_found", 0,
                          "no key %.64s", id);
    if (del) {
        unlink(p);
        svc_sync_dir(p);
    }
    return send_json(
        c, MHD_HTTP_OK,
        json_pack("{s:s, s:s}", "key", id, "state", del ? "deleted" : "registered"), 0);
}

/* GET /v1/jobs: the tenant's own jobs (id, state, key, inputs, created), oldest first, so
 * that a client that lost a job's id (a killed client, a lost terminal) can find it, and
 * resume or delete it; another tenant's jobs are never listed. Jobs whose acceptance is
 * still in progress (pending) are not listed, as GET /v1/jobs/ID does not know them. */
static enum MHD_Result list_jobs(struct MHD_Connection *c, size_t tenant)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&S->mu);
    size_t n = 0;
    for (const svc_job_t *j = S->jobs; j; j = j->next)
        n += j->tenant == tenant && !j->deleted && !j->pending;
    const svc_job_t **v = n ? malloc(n * sizeof *v) : NULL;
    size_t k = 0;
    for (const svc_job_t *j = S->jobs; v && j; j = j->next)
        if (j->tenant == tenant && !j->deleted && !j->pending)
            v[k++] = j;
    for (size_t a = 1; a < k; a++) /* by creation time (insertion sort: a tenant's few) */
        for (size_t b = a; b > 0 && v[b - 1]->created > v[b]->created; b--) {
            const svc_job_t *t = v[b];
            v[b] = v[b - 1];
            v[b - 1] = t;
        }
    for (size_t i = 0; arr && i < k; i++)
        json_array_append_new(arr,
                              json_pack("{s:s, s:s, s:s, s:I, s:f}", "job", v[i]->id, "state",
                                        svc_state_name(v[i]->state), "key", v[i]->key, "inputs",
                                        (json_int_t)v[i]->inputs, "created", v[i]->created));
    pthread_mutex_unlock(&S->mu);
    free(v);
    if (!arr || (n && !v)) {
        json_decref(arr);
        return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, SVC_R_OTHER, "internal", 0,
                          "out of memory");
    }
    return send_json(c, MHD_HTTP_OK, json_pack("{s:o}", "jobs", arr), 0);
}

/* GET, HEAD or DELETE of /v1/jobs/ID and /v1/jobs/ID/result. wq (may be NULL): a long
 * poll's request, suspended when the job is queued or running. */
static enum MHD_Result job_request(struct MHD_Connection *c, size_t tenant, const char *id,
                                   const char *what, const char *method, req_t *wq)
{
    pthread_mutex_lock(&S->mu);
    svc_job_t *j = is_id(id) ? svc_job_find(S, tenant, id) : NULL;
    if (!j) {
        pthread_mutex_unlock(&S->mu);
        return send_error(c, MHD_HTTP_NOT_FOUND, SVC_R_NOT_FOUND, "not_found", 0,
                          "no job %.64s", id);
    }
    if (!strcmp(method, "DELETE")) {
        if (*what) {
            pthread_mutex_unlock(&S->mu);
            return send_not_allowed(c, method, "/v1/jobs/ID/result");
        }
        json_t *o = json_pack("{s:s, s:s}", "job", j->id, "state", "deleted");
        svc_job_delete(S, j);
        pthread_cond_broadcast(&S->cv);
        pthread_mutex_unlock(&S->mu);
        return send_json(c, MHD_HTTP_OK, o, 0);
    }
    if (!*what && wq && (j->state == SVC_QUEUED || j->state == SVC_RUNNING) && !no_waits &&
        !draining && (wq->wait_known < 0 || wq->wait_known == (int)j->state)) {
        /* a long poll: suspended here, under the lock, answered when the job changes */
        snprintf(wq->wait_id, sizeof wq->wait_id, "%s", j->id);
        wq->conn = c;
        wq->suspended = 1;
        wq->counted_poll = 1;
        polls++;
        wq->wnext = waiters;
        waiters = wq;
        MHD_suspend_connection(c);
        pthread_mutex_unlock(&S->mu);
        return MHD_YES;
    }
    if (!*what) {
        json_t *o = job_json(j);
        const svc_state st = j->state;
        pthread_mutex_unlock(&S->mu);
        TL("job %.16s: status answered (%s)", id, svc_state_name(st));
        return send_json(c, MHD_HTTP_OK, o, 0);
    }
    if (strcmp(what, "/result") != 0) {
        pthread_mutex_unlock(&S->mu);
        return send_error(c, MHD_HTTP_NOT_FOUND, SVC_R_NOT_FOUND, "not_found", 0,
                          "no such resource");
    }
    const svc_state st = j->state;
    char code[32], reason[256], p[4096];
    snprintf(code, sizeof code, "%s", j->code);
    snprintf(reason, sizeof reason, "%s", j->reason);
    svc_path(p, sizeof p, S, tenant, "jobs", j->id, ".reply");
    /* opened under the lock: a DELETE cannot remove it between the check and the open */
    const int fd = st == SVC_DONE ? open(p, O_RDONLY) : -1;
    pthread_mutex_unlock(&S->mu);
    if (st == SVC_FAILED)
        return send_error(c, MHD_HTTP_UNPROCESSABLE_CONTENT, SVC_R_OTHER, "job_failed", 0,
                          "%s: %s", code, reason);
    if (st != SVC_DONE)
        return send_error(c, MHD_HTTP_CONFLICT, SVC_R_OTHER, "not_ready", 1, "the job is %s",
                          svc_state_name(st));
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        if (fd >= 0)
            close(fd);
        return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, SVC_R_OTHER, "internal", 0,
                          "the result cannot be read");
    }
    struct MHD_Response *r = MHD_create_response_from_fd64((uint64_t)sb.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/octet-stream");
    MHD_add_response_header(r, "X-Cryptonets-Job", id);
    TL("job %.16s: result queued (%lld bytes)", id, (long long)sb.st_size);
    const enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    pthread_mutex_lock(&S->mu);
    S->bytes_out += (uint64_t)sb.st_size;
    pthread_mutex_unlock(&S->mu);
    return ok;
}

/* --- uploads ------------------------------------------------------------------------------ */

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Checks a batch container's bytes as they arrive (the header, each record's header, the
 * lengths the plan fixes), so that a wrong or damaged upload is refused at its first bad
 * byte. */
static void check_batch(req_t *q, const uint8_t *p, size_t len)
{
    while (len && !q->err_status) {
        if (q->phase == PH_HEAD || q->phase == PH_REC) {
            const size_t want = q->phase == PH_HEAD ? HEAD_BYTES : REC_BYTES;
            const size_t take = want - q->hfill < len ? want - q->hfill : len;
            memcpy(q->hbuf + q->hfill, p, take);
            q->hfill += take;
            p += take;
            len -= take;
            char what[96]; /* another kind of file is named (a frame's type: 10 bytes) */
            if (q->phase == PH_HEAD && q->hfill >= 4 && memcmp(q->hbuf, "CNTB", 4) != 0 &&
                (memcmp(q->hbuf, "CNHE", 4) != 0 || q->hfill >= 10))
                return cli_what_is(what, sizeof what, q->hbuf, q->hfill)
                           ? refuse(q, MHD_HTTP_BAD_REQUEST, SVC_R_BAD_REQUEST, "bad_batch",
                                    "the body is %s, not a batch (made by `cryptonets "
                                    "encrypt`)",
                                    what)
                           : refuse(q, MHD_HTTP_BAD_REQUEST, SVC_R_BAD_REQUEST, "bad_batch",
                                    "not a cryptonets batch (bad magic)");
            if (q->hfill < want)
                return;
            q->hfill = 0;
            const uint8_t *b = q->hbuf;
            if (q->phase == PH_HEAD) {
                if (memcmp(b, "CNTB", 4) != 0)
                    return refuse(q, MHD_HTTP_BAD_REQUEST, SVC_R_BAD_REQUEST, "bad_batch",
                                  "not a cryptonets batch (bad magic)");
                if ((b[4] | b[5] << 8) != 1)
                    return refuse(q, MHD_HTTP_BAD_REQUEST, SVC_R_BAD_REQUEST, "bad_batch",
                                  "batch format version %u; this server reads 1.x",
                                  b[4] | b[5] << 8);
                if ((b[6] | b[7] << 8) != (S->packed ? 1 : 0)) /* minor: the layout */
                    return refuse(q, MHD_HTTP_CONFLICT, SVC_R_MISMATCH, "plan_mismatch",
                                  "a batch of the %s layout; this server's plan uses the %s "
                                  "layout",
                                  S->packed ? "batched" : "packed",
                                  S->packed ? "packed" : "batched");
                if (cn_io_checksum(b, HEAD_BYTES - 8) != get64(b + HEAD_BYTES - 8))
                    return refuse(q, MHD_HTTP_BAD_REQUEST, SVC_R_BAD_REQUEST, "bad_batch",
                                  "header checksum mismatch (damaged)");
                if (memcmp(b + 8, S->plan.digest, 32) != 0)
                    return refuse(q, MHD_HTTP_CONFLICT, SVC_R_MISMATCH, "plan_mismatch",
                                  "a batch for another plan than this server's");
                if (memcmp(b + 40, q->key_id, 32) != 0)
                    return refuse(q, MHD_HTTP_CONFLICT, SVC_R_MISMATCH, "key_mismatch",
                                  "a batch encrypted under another key than key %s", q->key);
                q->h.records = get64(b + 72);
                q->h.inputs = get64(b + 80);
                if (q->h.records == 0 || q->h.records > S->max_records)
                    return refuse(q, MHD_HTTP_CONTENT_TOO_LARGE, SVC_R_TOO_LARGE, "too_large",
                                  "%llu batches; a job holds 1 to %zu%s",
                                  (unsigned long long)q->h.records, S->max_records, JOB_LIMIT);
                if (q->h.inputs == 0 || q->h.inputs > q->h.records * S->n)
                    return refuse(q, MHD_HTTP_BAD_REQUEST, SVC_R_BAD_REQUEST, "bad_batch",
                                  "%llu inputs in %llu batches",
                                  (unsigned long long)q->h.inputs,
                                  (unsigned long long)q->h.records);
                q->limit = HEAD_BYTES + q->h.records * (REC_BYTES + S->batch_bytes);
                q->recs_left = q->h.records;
                q->phase = PH_REC;
            } else {
                if (cn_io_checksum(b, 16) != get64(b + 16))
                    return refuse(q, MHD_HTTP_BAD_REQUEST, SVC_R_BAD_REQUEST, "bad_batch",
                                  "batch %llu: header checksum mismatch (damaged)",
                                  (unsigned long long)(q->h.records - q->recs_left + 1));
                const uint64_t count = get64(b), blen = get64(b + 8);
                if (count == 0 || count > S->n || count > q->h.inputs - q->counted)
                    return refuse(q, MHD_HTTP_BAD_REQUEST, SVC_R_BAD_REQUEST, "bad_batch",
                                  "batch %llu: %llu inputs",
                                  (unsigned long long)(q->h.records - q->recs_left + 1),
                                  (unsigned long long)count);
                if (S->packed ? blen == 0 || blen > S->batch_bytes : blen != S->batch_bytes)
                    return refuse(q, MHD_HTTP_BAD_REQUEST, SVC_R_BAD_REQUEST, "bad_batch",
                                  "batch %llu: %llu bytes; this plan's batches have %s%llu",
                                  (unsigned long long)(q->h.records - q->recs_left + 1),
                                  (unsigned long long)blen, S->packed ? "at most " : "",
                                  (unsigned long long)S->batch_bytes);
                q->counted += count;
                q->body_left = blen;
                q->phase = PH_BODY;
            }
        } else if (q->phase == PH_BODY) {
            const size_t take = q->body_left < len ? (size_t)q->body_left : len;
            q->body_left -= take;
            p += take;
            len -= take;
            if (q->body_left == 0)
                q->phase = --q->recs_left ? PH_REC : PH_END;
        } else {
            return refuse(q, MHD_HTTP_BAD_REQUEST, SVC_R_BAD_REQUEST, "bad_batch",
                          "bytes after the last batch");
        }
    }
}

/* Releases a job upload's place in the limits (mu held); once. */
static void release_slot(req_t *q)
{
    if (!q->slot)
        return;
    q->slot = 0;
    S->uploads--;
    S->tenants[q->tenant].uploads--;
}

/* Faults for the tests (CRYPTONETS_SERVE_FAULT, docs/service.md "Evaluation before the
 * 202"): "stall=S" sleeps S seconds once a new job's description is durable and before
 * its batch is renamed into place (a test kills the server there, the worst moment: the
 * description on disk, the batch still in tmp/, the evaluation done and waiting),
 * "fsync=N" makes the next N job uploads' fsync fail, "upload=enospc" and
 * "upload=enospc-spare" its writes (svc_fault_nospace). */
static double fault_stall;
static long fault_fsync; /* under S->mu */
static int fault_upload; /* 1: svc_fault_nospace(S, "upload") is asked at every write */

/* The spare at spare (svc_spare_take) opened for writing and renamed to name, the
 * upload's: its descriptor, or -1 (spare removed where it can be) when it is not what the
 * server left there: anything but a regular file with one link (a directory, a FIFO, a
 * file hard-linked elsewhere, whose other name would see the upload's bytes) is not
 * written to, and the caller creates name afresh. */
static int spare_open(const char *spare, const char *name)
{
    /* O_NONBLOCK: a FIFO put there is refused at once (ENXIO), not waited on; O_NOFOLLOW:
     * a symbolic link is refused (ELOOP) */
    const int fd = open(spare, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat sb, nb;
    if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_nlink == 1 &&
        rename(spare, name) == 0) {
        /* the file under the upload's name is the one opened (nothing swapped in between
         * the check and the rename): finish_job takes the upload by its name */
        if (lstat(name, &nb) == 0 && nb.st_dev == sb.st_dev && nb.st_ino == sb.st_ino)
            return fd;
        close(fd);
        unlink(name);
        return -1;
    }
    if (fd >= 0)
        close(fd);
    unlink(spare);
    return -1;
}

/* The start of an upload (headers only): limits, the key, the temporary file. 0 to read
 * the body, 1 with a response sent. */
static int start_upload(struct MHD_Connection *c, req_t *q, enum MHD_Result *ret)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    const uint64_t max = q->kind == RQ_KEYS
                             ? S->key_bytes
                             : HEAD_BYTES + S->max_records * (REC_BYTES + S->batch_bytes);
    q->limit = q->cap = max;
    if (cl) {
        char *e;
        const unsigned long long n = strtoull(cl, &e, 10);
        if (*e == 0 && n > max) {
            *ret = send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, SVC_R_TOO_LARGE, "too_large", 0,
                              "%llu bytes; this plan's %s are at most %llu bytes%s", n,
                              q->kind == RQ_KEYS ? "evaluation keys" : "jobs",
                              (unsigned long long)max, q->kind == RQ_KEYS ? "" : JOB_LIMIT);
            return 1;
        }
    }
    if (q->kind == RQ_JOBS) {
        if (draining) {
            *ret = send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, SVC_R_FULL, "shutting_down", 5,
                              "the server is shutting down");
            return 1;
        }
        const char *key = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "key");
        char p[4096], err[512];
        if (!key || key_file(p, sizeof p, q->tenant, key)) {
            *ret = send_error(c, MHD_HTTP_NOT_FOUND, SVC_R_NOT_FOUND, "unknown_key", 0,
                              "no key %.64s: register it with POST /v1/keys first",
                              key ? key : "(none: ?key=ID is required)");
            return 1;
        }
        snprintf(q->key, sizeof q->key, "%s", key);
        cli_reader_t r;
        if (cli_reader_open(&r, p, CLI_KIND_KEYS, err, sizeof err)) {
            cli_reader_close(&r);
            *ret = send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, SVC_R_OTHER, "internal", 0,
                              "the key cannot be read");
            return 1;
        }
        memcpy(q->key_id, r.h.key_id, 32);
        cli_reader_close(&r);
        /* uploads in progress count as jobs: else any number of them could stream to
         * tmp/ at once, each refused only at its end */
        pthread_mutex_lock(&S->mu);
        const size_t all = S->nqueued + S->nrunning + S->uploads;
        const size_t mine = S->tenants[q->tenant].jobs + S->tenants[q->tenant].uploads;
        if (all < S->max_jobs && mine < S->tenant_jobs) {
            S->uploads++;
            S->tenants[q->tenant].uploads++;
            q->slot = 1;
        }
        pthread_mutex_unlock(&S->mu);
        if (all >= S->max_jobs) {
            *ret =
                send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, SVC_R_FULL, "full", 10,
                           "%zu jobs queued, running or being uploaded: try again later", all);
            return 1;
        }
        if (mine >= S->tenant_jobs) {
            *ret =
                send_error(c, MHD_HTTP_TOO_MANY_REQUESTS, SVC_R_TENANT_FULL, "tenant_full", 10,
                           "you have %zu jobs queued, running or being uploaded: try "
                           "again later",
                           mine);
            return 1;
        }
        static const char label[] = JOB_LABEL;
        if (gnutls_hmac_init(&q->job, GNUTLS_MAC_AES_GMAC_256, S->job_key, 32) != 0) {
            q->job = NULL;
            *ret = send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, SVC_R_OTHER, "internal", 0,
                              "cannot hash the upload");
            return 1;
        }
        TL("job upload: headers");
        gnutls_hmac_set_nonce(q->job, JOB_NONCE, 12);
        gnutls_hmac(q->job, label, sizeof label);
        gnutls_hmac(q->job, q->key, 64);
    } else {
        crypto_hash_sha256_init(&q->sha);
    }
    static unsigned long seq;
    pthread_mutex_lock(&S->mu);
    const unsigned long k = ++seq;
    pthread_mutex_unlock(&S->mu);
    q->fd = -1;
    snprintf(q->tmp, sizeof q->tmp, "%s/tmp/upload-%ld-%lu", S->state_dir, (long)getpid(), k);
    /* a batch: written over a finished one's file where there is one (its pages are in
     * the page cache already: svc_spare_put), renamed as an upload in progress, and cut
     * to the body's length once complete */
    char spare[4096];
    if (q->kind == RQ_JOBS && svc_spare_take(S, spare, sizeof spare))
        q->fd = spare_open(spare, q->tmp);
    if (q->fd < 0)
        q->fd = open(q->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_EXCL | O_CLOEXEC, 0600);
    if (q->fd < 0) {
        q->tmp[0] = 0;
        *ret = send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, SVC_R_OTHER, "internal", 0,
                          "cannot store the upload: %s", strerror(errno));
        return 1;
    }
    q->deadline = svc_time() + OPTS.request_timeout;
    return 0;
}

/* Body bytes: checked, hashed and written to the temporary file. */
static void upload_data(req_t *q, const char *data, size_t len)
{
    if (q->err_status) { /* refused: the rest is counted and dropped */
        q->got += len;
        if (q->got > q->cap && q->err_status != MHD_HTTP_CONTENT_TOO_LARGE) {
            /* the answer a Content-Length this large gets at the headers */
            q->err_status = 0;
            refuse(q, MHD_HTTP_CONTENT_TOO_LARGE, SVC_R_TOO_LARGE, "too_large",
                   "more than %llu bytes; this plan's %s are at most that",
                   (unsigned long long)q->cap, q->kind == RQ_KEYS ? "evaluation keys" : "jobs");
        }
        return;
    }
    if (q->got + len > q->limit && (q->kind == RQ_KEYS || q->phase == PH_HEAD)) {
        q->got += len;
        return refuse(q, MHD_HTTP_CONTENT_TOO_LARGE, SVC_R_TOO_LARGE, "too_large",
                      "more than %llu bytes", (unsigned long long)q->limit);
    }
    q->got += len;
    if (q->kind == RQ_JOBS)
        check_batch(q, (const uint8_t *)data, len);
    if (q->err_status)
        return;
    if (q->kind == RQ_JOBS)
        gnutls_hmac(q->job, data, len);
    else
        crypto_hash_sha256_update(&q->sha, (const uint8_t *)data, len);
    while (len) {
        const int fault = fault_upload && q->kind == RQ_JOBS && svc_fault_nospace(S, "upload");
        const ssize_t w = fault ? (errno = ENOSPC, -1) : write(q->fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            const int e = errno;
            /* the batch files kept for reuse give their room back, and the write is
             * made again, once per upload (other jobs may keep spares meanwhile) */
            size_t dropped;
            if ((e == ENOSPC || e == EDQUOT) && !q->spares_dropped &&
                (dropped = svc_spare_drop_all(S)) > 0) {
                q->spares_dropped = 1;
                if (!OPTS.quiet)
                    fprintf(stderr,
                            "cryptonets serve: the disk is full: %zu batch file%s kept for "
                            "reuse removed, the upload's write made again\n",
                            dropped, dropped == 1 ? "" : "s");
                continue;
            }
            return refuse(q, MHD_HTTP_INSUFFICIENT_STORAGE, SVC_R_OTHER, "internal",
                          "cannot store the upload: %s", strerror(e));
        }
        data += w;
        len -= (size_t)w;
        q->stored += (uint64_t)w;
    }
    if (q->kind == RQ_JOBS)
        svc_writeback(&q->wb, q->fd, q->stored);
}

static void drop_tmp(req_t *q)
{
    if (q->job)
        gnutls_hmac_deinit(q->job, NULL);
    q->job = NULL;
    if (q->fd >= 0)
        close(q->fd);
    q->fd = -1;
    /* a job upload that was not accepted: its file is kept for reuse like a finished
     * job's (nothing refers to it: finish_job removes the file itself once a job was made
     * from it) */
    if (q->tmp[0] && q->kind == RQ_JOBS)
        svc_spare_put(S, q->tmp);
    else if (q->tmp[0])
        unlink(q->tmp);
    q->tmp[0] = 0;
}

/* The complete body of POST /v1/keys: validated (the container, the plan, the library's
 * own checks through cn_server_create), then stored under its hash. */
static enum MHD_Result finish_key(struct MHD_Connection *c, req_t *q)
{
    char err[512], p[4096], id[65];
    uint8_t h[32];
    crypto_hash_sha256_final(&q->sha, h);
    svc_hex(id, h, 32);
    const int synced = fsync(q->fd) == 0;
    close(q->fd);
    q->fd = -1;
    cli_reader_t r;
    uint8_t *keys = NULL;
    size_t klen = 0;
    uint64_t kc;
    if (cli_reader_open(&r, q->tmp, CLI_KIND_KEYS, err, sizeof err) ||
        cli_reader_next(&r, &kc, &keys, &klen, 0, err, sizeof err) ||
        cli_reader_end(&r, err, sizeof err)) {
        cli_reader_close(&r);
        free(keys);
        /* the reason without the temporary file's name: an empty body, another kind of
         * file named, or what is wrong with the container */
        const size_t tl = strlen(q->tmp);
        const char *why = !strncmp(err, q->tmp, tl) ? err + tl : err;
        if (!strncmp(why, ": empty file", 12))
            return send_error(c, MHD_HTTP_BAD_REQUEST, SVC_R_BAD_REQUEST, "bad_keys", 0,
                              "empty body: POST /v1/keys takes evaluation keys (made by "
                              "`cryptonets keygen --eval-keys`)");
        if (!strncmp(why, " is ", 4))
            return send_error(c, MHD_HTTP_BAD_REQUEST, SVC_R_BAD_REQUEST, "bad_keys", 0,
                              "the body%s", why);
        why = !strncmp(why, ": ", 2) ? why + 2 : why;
        return send_error(c, MHD_HTTP_BAD_REQUEST, SVC_R_BAD_REQUEST, "bad_keys", 0,
                          "not evaluation keys: %s", why);
    }
    cli_reader_close(&r);
    if (memcmp(r.h.digest, S->plan.digest, 32) != 0) {
        free(keys);
        return send_error(c, MHD_HTTP_CONFLICT, SVC_R_MISMATCH, "plan_mismatch", 0,
                          "evaluation keys for another plan than this server's");
    }
    svc_eval_t ev;
    cn_net_diag_t d = {{0}};
    const cn_status st = svc_eval_create(&ev, S, keys, klen, 1, &d);
    svc_eval_free(&ev);
    free(keys);
    if (st != CN_OK)
        return send_error(
            c, st == CN_ERR_CONTEXT_MISMATCH ? MHD_HTTP_CONFLICT : MHD_HTTP_BAD_REQUEST,
            st == CN_ERR_CONTEXT_MISMATCH ? SVC_R_MISMATCH : SVC_R_BAD_REQUEST,
            st == CN_ERR_CONTEXT_MISMATCH ? "plan_mismatch" : "bad_keys", 0,
            "evaluation keys refused: %s", d.msg[0] ? d.msg : cn_strerror(st));
    svc_path(p, sizeof p, S, q->tenant, "keys", id, ".keys");
    struct stat sb;
    const int existed = stat(p, &sb) == 0;
    if (!existed && (!synced || rename(q->tmp, p) != 0 || svc_sync_dir(p)))
        return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, SVC_R_OTHER, "internal", 0,
                          "cannot store the key");
    if (!existed)
        q->tmp[0] = 0;
    return send_json(c, existed ? MHD_HTTP_OK : MHD_HTTP_CREATED,
                     json_pack("{s:s, s:s}", "key", id, "state", "registered"), 0);
}

static void nap_seconds(double secs)
{
    struct timespec ts = {.tv_sec = (time_t)secs,
                          .tv_nsec = (long)((secs - (double)(time_t)secs) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void parse_faults(void)
{
    const char *f = getenv("CRYPTONETS_SERVE_FAULT");
    if (!f)
        return;
    if (!strncmp(f, "stall=", 6))
        fault_stall = strtod(f + 6, NULL);
    else if (!strncmp(f, "fsync=", 6))
        fault_fsync = strtol(f + 6, NULL, 10);
    else if (!strncmp(f, "upload=", 7))
        fault_upload = 1;
}

/* The upload's fsync, or the injected failure. */
static int upload_fsync(int fd)
{
    pthread_mutex_lock(&S->mu);
    const int fail = fault_fsync > 0;
    fault_fsync -= fail;
    pthread_mutex_unlock(&S->mu);
    if (fail) {
        errno = EIO;
        return -1;
    }
    return fsync(fd);
}

/* The complete body of POST /v1/jobs. The same batch for the same key is the same job
 * (its id is a hash of both), so a repeated upload changes nothing. A new job enters the
 * table and the queue at once, pending (docs/service.md, "Evaluation before the 202"): a
 * worker may start it, reading the upload's file through a descriptor, while this thread
 * makes it durable (fsync of the batch, its description written, the batch renamed into
 * place, the directory fsynced); only then is the job visible and 202 sent. Its worker
 * publishes nothing before that, and a failure deletes it (500). */
static enum MHD_Result finish_job(struct MHD_Connection *c, req_t *q)
{
    if (q->phase != PH_END && q->got == 0)
        return send_error(c, MHD_HTTP_BAD_REQUEST, SVC_R_BAD_REQUEST, "bad_batch", 0,
                          "empty body: POST /v1/jobs takes a batch (made by `cryptonets "
                          "encrypt`)");
    if (q->phase != PH_END)
        return send_error(c, MHD_HTTP_BAD_REQUEST, SVC_R_BAD_REQUEST, "bad_batch", 0,
                          "truncated: %llu bytes", (unsigned long long)q->got);
    if (q->counted != q->h.inputs)
        return send_error(c, MHD_HTTP_BAD_REQUEST, SVC_R_BAD_REQUEST, "bad_batch", 0,
                          "%llu inputs, the header announces %llu",
                          (unsigned long long)q->counted, (unsigned long long)q->h.inputs);
    TL("job upload: body complete and checked (%llu bytes)", (unsigned long long)q->got);
    /* a reused file (svc_spare_take) may be longer than this batch: cut before anything
     * reads it */
    if (ftruncate(q->fd, (off_t)q->stored) != 0)
        return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, SVC_R_OTHER, "internal", 0,
                          "cannot store the upload: %s", strerror(errno));
    uint8_t tag[16], h[32];
    gnutls_hmac_deinit(q->job, tag);
    q->job = NULL;
    if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, S->job_key + 32, 32, tag, sizeof tag, h) != 0)
        return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, SVC_R_OTHER, "internal", 0,
                          "cannot hash the upload");
    svc_job_t *j = calloc(1, sizeof *j);
    const int src = j ? open(q->tmp, O_RDONLY | O_CLOEXEC) : -1;
    if (!j || src < 0) {
        free(j);
        return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, SVC_R_OTHER, "internal", 0,
                          "cannot store the upload");
    }
    svc_hex(j->id, h, 32);
    memcpy(j->key, q->key, 65);
    j->tenant = q->tenant;
    j->created = svc_time();
    j->records = q->h.records;
    j->inputs = q->h.inputs;
    j->bytes_in = q->got;
    j->src_fd = src;
    j->has_src = 1;
    j->pending = 1;
    pthread_mutex_lock(&S->mu);
    release_slot(q); /* from here the job itself is counted, or nothing */
    svc_job_t *old = svc_job_find(S, q->tenant, j->id);
    if (old) { /* a repeated upload: its bytes are dropped without an fsync */
        json_t *o = job_json(old);
        pthread_mutex_unlock(&S->mu);
        close(src);
        free(j);
        json_object_set_new(o, "duplicate", json_true());
        return send_json(c, MHD_HTTP_ACCEPTED, o, 0);
    }
    for (const svc_job_t *o = S->jobs; o; o = o->next)
        if ((o->deleted || o->pending) && o->tenant == q->tenant && !strcmp(o->id, j->id)) {
            /* deleted while running, its files not yet removed (the same job again must
             * wait for that, or the removal would take the new files), or the same batch
             * being made durable by another request (answered 202 once it is) */
            pthread_mutex_unlock(&S->mu);
            close(src);
            free(j);
            return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, SVC_R_FULL, "busy", 2,
                              "this job is being %s: try again shortly",
                              o->deleted ? "deleted" : "stored");
        }
    if (S->nqueued + S->nrunning >= S->max_jobs ||
        S->tenants[q->tenant].jobs >= S->tenant_jobs) {
        const int mine = S->tenants[q->tenant].jobs >= S->tenant_jobs;
        pthread_mutex_unlock(&S->mu);
        close(src);
        free(j);
        return send_error(c, mine ? MHD_HTTP_TOO_MANY_REQUESTS : MHD_HTTP_SERVICE_UNAVAILABLE,
                          mine ? SVC_R_TENANT_FULL : SVC_R_FULL, mine ? "tenant_full" : "full",
                          10, "the queue filled up while the batch arrived: try again later");
    }
    j->state = SVC_QUEUED;
    const svc_job_t desc = *j; /* what svc_job_save writes: read without mu below */
    svc_job_add(S, j);
    pthread_cond_broadcast(&S->cv);
    pthread_mutex_unlock(&S->mu);
    TL("job %.16s: queued, pending", desc.id);

    /* durability, while a worker may already evaluate the job */
    char p[4096], meta[4096], err[512];
    int ok = !svc_path(p, sizeof p, S, q->tenant, "jobs", desc.id, ".batch") &&
             !svc_path(meta, sizeof meta, S, q->tenant, "jobs", desc.id, ".job");
    ok = ok && upload_fsync(q->fd) == 0;
    TL("job %.16s: upload fsynced", desc.id);
    close(q->fd);
    q->fd = -1;
    ok = ok && svc_job_save(S, &desc, err, sizeof err) == 0;
    if (ok && fault_stall > 0)
        nap_seconds(fault_stall);
    ok = ok && rename(q->tmp, p) == 0;
    if (ok)
        q->tmp[0] = 0;
    ok = ok && svc_sync_dir(p) == 0;
    pthread_mutex_lock(&S->mu);
    j->pending = 0;
    if (j->has_src) { /* no worker took it: it reads ID.batch when it does */
        close(j->src_fd);
        j->has_src = 0;
    }
    if (!ok) {
        /* nothing of it survives: its files go now (queued) or when its worker ends
         * (running), and that worker writes nothing; the upload's file is removed here,
         * not kept for reuse (drop_tmp), since a running worker may still read it */
        unlink(meta);
        if (q->tmp[0])
            unlink(q->tmp);
        q->tmp[0] = 0;
        svc_job_delete(S, j);
        pthread_cond_broadcast(&S->cv);
        pthread_mutex_unlock(&S->mu);
        return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, SVC_R_OTHER, "internal", 0,
                          "cannot store the job");
    }
    json_t *o = job_json(j);
    pthread_cond_broadcast(&S->cv);
    pthread_mutex_unlock(&S->mu);
    TL("job %.16s: durable, 202 queued", desc.id);
    return send_json(c, MHD_HTTP_ACCEPTED, o, 0);
}

/* --- the router -----------------------------------------------------------------------------
 */

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **ctx)
{
    (void)cls;
    req_t *q = *ctx;
    if (q) { /* more of a body, or its end */
        if (*size) {
            if (svc_time() > q->deadline) {
                count_reject(SVC_R_TIMEOUT);
                q->responded = 1; /* counted */
                return MHD_NO;    /* a slow sender: the connection is closed */
            }
            pthread_mutex_lock(&S->mu);
            S->bytes_in += *size;
            pthread_mutex_unlock(&S->mu);
            upload_data(q, data, *size);
            *size = 0;
            /* refused at its first bad byte: the rest is read and dropped (libmicrohttpd
             * 0.9 answers only once the body is in), with or without a Content-Length,
             * within --request-timeout; a chunked body past the plan's size gets the 413
             * a Content-Length that large gets at its headers */
            return MHD_YES;
        }
        if (q->responded)
            return MHD_YES;
        if (q->kind == RQ_WAIT) { /* resumed: the job's status as it is now */
            q->responded = 1;
            return job_request(c, q->tenant, q->wait_id, "", "GET", NULL);
        }
        q->responded = 1;
        if (q->err_status)
            return send_error(c, q->err_status, q->err_reason, q->err_code, 0, "%s",
                              q->err_msg);
        return q->kind == RQ_KEYS ? finish_key(c, q) : finish_job(c, q);
    }
    headers_done(c, 1);
    pthread_mutex_lock(&S->mu);
    S->requests++;
    pthread_mutex_unlock(&S->mu);
    const int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    const int post = !strcmp(method, "POST"), del = !strcmp(method, "DELETE");
    size_t tenant;
    enum MHD_Result ret;
    if (bad_framing(c, version, &ret))
        return ret;
    if (authenticate(c, &tenant, &ret))
        return ret;
    if (!strcmp(url, "/v1/health") && get) {
        pthread_mutex_lock(&S->mu);
        json_t *o =
            json_pack("{s:s, s:s, s:I, s:I, s:I}", "status", draining ? "draining" : "ok",
                      "plan", S->plan_hex, "queued", (json_int_t)S->nqueued, "running",
                      (json_int_t)S->nrunning, "workers", (json_int_t)S->workers);
        pthread_mutex_unlock(&S->mu);
        return send_json(c, MHD_HTTP_OK, o, 0);
    }
    if (!strcmp(url, "/metrics") && get)
        return get_metrics(c);
    if (!strcmp(url, "/v1/plan") && get)
        return get_plan(c);
    if (!strncmp(url, "/v1/keys/", 9) && (get || del))
        return get_key(c, tenant, url + 9, del);
    if (!strcmp(url, "/v1/jobs") && get)
        return list_jobs(c, tenant);
    if (!strncmp(url, "/v1/jobs/", 9) && (get || del)) {
        char id[65];
        snprintf(id, sizeof id, "%.64s", url + 9);
        const char *rest = strlen(url + 9) >= 64 ? url + 9 + 64 : "";
        const char *wait = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "wait");
        if (!wait || !get || *rest)
            return job_request(c, tenant, id, rest, method, NULL);
        char *e;
        const double secs = strtod(wait, &e);
        if (e == wait || *e || !(secs >= 0 && secs <= WAIT_MAX))
            return send_error(c, MHD_HTTP_BAD_REQUEST, SVC_R_BAD_REQUEST, "bad_request", 0,
                              "wait: seconds from 0 to %.0f", WAIT_MAX);
        const char *known = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "state");
        int ks = -1;
        for (int k = SVC_QUEUED; known && k <= SVC_FAILED; k++)
            if (!strcmp(known, svc_state_name((svc_state)k)))
                ks = k;
        if (known && ks < 0)
            return send_error(c, MHD_HTTP_BAD_REQUEST, SVC_R_BAD_REQUEST, "bad_request", 0,
                              "state: queued, running, done or failed");
        if (secs == 0)
            return job_request(c, tenant, id, rest, method, NULL);
        q = aligned_alloc(_Alignof(req_t), sizeof *q);
        if (!q)
            return MHD_NO;
        memset(q, 0, sizeof *q);
        q->fd = -1;
        q->tenant = tenant;
        q->kind = RQ_WAIT;
        q->wait_until = svc_time() + secs;
        q->wait_known = ks;
        *ctx = q;
        const enum MHD_Result r = job_request(c, tenant, id, rest, method, q);
        if (!q->suspended)
            q->responded = 1; /* answered at once */
        return r;
    }
    if ((!strcmp(url, "/v1/keys") || !strcmp(url, "/v1/jobs")) && post) {
        /* aligned as req_t asks (its hash states), whatever that is beyond malloc's */
        q = aligned_alloc(_Alignof(req_t), sizeof *q);
        if (!q)
            return MHD_NO;
        memset(q, 0, sizeof *q);
        q->fd = -1;
        q->tenant = tenant;
        q->kind = url[4] == 'k' ? RQ_KEYS : RQ_JOBS;
        *ctx = q;
        if (start_upload(c, q, &ret)) {
            q->responded = 1;
            return ret;
        }
        return MHD_YES;
    }
    const int known = !strcmp(url, "/v1/health") || !strcmp(url, "/metrics") ||
                      !strcmp(url, "/v1/plan") || !strcmp(url, "/v1/keys") ||
                      !strcmp(url, "/v1/jobs") || !strncmp(url, "/v1/keys/", 9) ||
                      !strncmp(url, "/v1/jobs/", 9);
    if (known)
        return send_not_allowed(c, method, url);
    return send_error(c, MHD_HTTP_NOT_FOUND, SVC_R_NOT_FOUND, "not_found", 0,
                      "no such resource: %s", url);
}

/* The end of a request: an upload that did not complete leaves nothing behind. */
static void completed(void *cls, struct MHD_Connection *c, void **ctx,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    headers_done(c, 0);
    req_t *q = *ctx;
    if (!q)
        return;
    pthread_mutex_lock(&S->mu);
    for (req_t **l = &waiters; q->suspended && *l; l = (req_t **)&(*l)->wnext)
        if (*l == q) { /* never resumed (cannot happen: kept for safety) */
            *l = q->wnext;
            q->suspended = 0;
            break;
        }
    release_slot(q);
    if (q->counted_poll) {
        q->counted_poll = 0;
        polls--;
    }
    pthread_mutex_unlock(&S->mu);
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && !q->responded)
        count_reject(toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? SVC_R_TIMEOUT
                                                                   : SVC_R_ABORTED);
    drop_tmp(q);
    free(q);
    *ctx = NULL;
}

/* --- main ------------------------------------------------------------------------------------
 */

/* libmicrohttpd's own messages (MHD_OPTION_EXTERNAL_LOGGER): prefixed like the server's,
 * and silent under --quiet. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    if (OPTS.quiet)
        return;
    fprintf(stderr, "cryptonets serve: libmicrohttpd: ");
    vfprintf(stderr, fmt, ap);
}

static char *read_text(const char *path)
{
    uint8_t *b;
    size_t len;
    char err[512];
    if (cli_read_file(&b, &len, path, err, sizeof err)) {
        fprintf(stderr, "cryptonets serve: %s\n", err);
        return NULL;
    }
    char *t = realloc(b, len + 1);
    if (!t) {
        free(b);
        return NULL;
    }
    t[len] = 0;
    return t;
}

/* The certificate and key of --tls-cert/--tls-key, checked at start (RFC 5280 4.2.1.3 and
 * 4.2.1.12) rather than at every handshake: PEM both, the key the certificate's, and a
 * certificate a TLS server may present (its key usage, when stated, allows
 * digitalSignature or keyEncipherment; its extended key usage, when stated, names
 * serverAuth or any purpose). 0, or 1 with the bad file named. */
static int check_tls(const char *cert_path, const char *cert, const char *key_path,
                     const char *key)
{
    gnutls_datum_t c = {(unsigned char *)cert, (unsigned)strlen(cert)};
    gnutls_datum_t k = {(unsigned char *)key, (unsigned)strlen(key)};
    gnutls_x509_crt_t *crts = NULL;
    unsigned ncrt = 0;
    int e = gnutls_x509_crt_list_import2(&crts, &ncrt, &c, GNUTLS_X509_FMT_PEM, 0);
    if (e < 0 || ncrt == 0)
        return cli_fail(CLI_ERROR, &SERVE, "%s: not a PEM certificate (--tls-cert): %s",
                        cert_path, e < 0 ? gnutls_strerror(e) : "none found");
    int rc = 0;
    gnutls_x509_privkey_t pk = NULL;
    if (gnutls_x509_privkey_init(&pk) < 0 ||
        (e = gnutls_x509_privkey_import2(pk, &k, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0)
        rc = cli_fail(CLI_ERROR, &SERVE, "%s: not a PEM private key (--tls-key): %s", key_path,
                      gnutls_strerror(e));
    gnutls_certificate_credentials_t cr = NULL;
    if (rc == 0 && gnutls_certificate_allocate_credentials(&cr) >= 0 &&
        (e = gnutls_certificate_set_x509_key_mem(cr, &c, &k, GNUTLS_X509_FMT_PEM)) < 0)
        rc =
            cli_fail(CLI_ERROR, &SERVE, "%s, %s: %s", cert_path, key_path,
                     e == GNUTLS_E_CERTIFICATE_KEY_MISMATCH ? "the key is not the certificate's"
                                                            : gnutls_strerror(e));
    unsigned usage = 0, critical = 0;
    if (rc == 0 && gnutls_x509_crt_get_key_usage(crts[0], &usage, &critical) >= 0 &&
        !(usage & (GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT)))
        rc = cli_fail(CLI_ERROR, &SERVE,
                      "%s: the certificate's key usage allows neither digitalSignature nor "
                      "keyEncipherment, so no TLS client would accept it from a server "
                      "(RFC 5280 4.2.1.3): make one for TLS server use",
                      cert_path);
    int purposes = 0, server = 0;
    for (unsigned i = 0; rc == 0; i++) {
        char oid[128];
        size_t len = sizeof oid;
        if (gnutls_x509_crt_get_key_purpose_oid(crts[0], i, oid, &len, NULL) < 0)
            break;
        purposes++;
        server |= !strcmp(oid, GNUTLS_KP_TLS_WWW_SERVER) || !strcmp(oid, GNUTLS_KP_ANY);
    }
    if (rc == 0 && purposes && !server)
        rc = cli_fail(CLI_ERROR, &SERVE,
                      "%s: the certificate's extended key usage does not include TLS server "
                      "authentication (RFC 5280 4.2.1.12): make one for TLS server use",
                      cert_path);
    if (rc == 0 && gnutls_x509_crt_get_expiration_time(crts[0]) < time(NULL))
        rc = cli_fail(CLI_ERROR, &SERVE, "%s: the certificate has expired", cert_path);
    if (cr)
        gnutls_certificate_free_credentials(cr);
    if (pk)
        gnutls_x509_privkey_deinit(pk);
    for (unsigned i = 0; i < ncrt; i++)
        gnutls_x509_crt_deinit(crts[i]);
    gnutls_free(crts);
    return rc;
}

/* The listening socket, bound before the state directory is touched: a port in use or an
 * address not on this host is refused with its reason, and leaves nothing behind. The
 * socket and *port (the port bound), or -1 with the reason printed. */
static int listen_on(const listen_addr_t *la, const char *text, unsigned *port)
{
    const int fd = socket(la->v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        cli_fail(CLI_ERROR, &SERVE, "cannot listen on %s: %s", text, strerror(errno));
        return -1;
    }
    const int one = 1; /* as libmicrohttpd does on the sockets it makes itself */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (la->v6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    const socklen_t len = la->v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    struct sockaddr_storage got;
    socklen_t glen = sizeof got;
    if (bind(fd, (const struct sockaddr *)&la->ss, len) != 0 || listen(fd, SOMAXCONN) != 0 ||
        getsockname(fd, (struct sockaddr *)&got, &glen) != 0) {
        const int e = errno;
        close(fd);
        cli_fail(CLI_ERROR, &SERVE, "cannot listen on %s: %s", text, strerror(e));
        return -1;
    }
    *port = ntohs(la->v6 ? ((const struct sockaddr_in6 *)&got)->sin6_port
                         : ((const struct sockaddr_in *)&got)->sin_port);
    return fd;
}

int cli_serve(int argc, char **argv)
{
    serve_opts_t *o = &OPTS;
    int rc = parse_serve(o, argc, argv);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    listen_addr_t la;
    if ((rc = parse_listen(&la, o->listen)))
        return rc;
    if (!o->tokens && !la.loopback)
        return usage_error("without --tokens anyone could use the service: only a loopback "
                           "address (127.0.0.1, ::1) may be given to --listen");
    if (!o->tls_cert && !la.loopback && !o->allow_plain)
        return usage_error("plain HTTP on a non-loopback address: give --tls-cert and "
                           "--tls-key, or --allow-plain-http");
    if (o->port_file && (rc = check_port_file(o->port_file)))
        return rc;
    if (sodium_init() < 0)
        return cli_fail(CLI_ERROR, &SERVE, "libsodium failed to start");
    parse_faults();
    static svc_t svc;
    S = &svc;
    svc_t *s = S;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->state_dir = o->state_dir;
    s->workers = o->workers;
    s->max_jobs = o->max_jobs;
    s->tenant_jobs = o->tenant_jobs;
    s->max_records = o->max_batches;
    s->mem_limit = o->mem_limit;
    s->threads = (int)o->threads;
    s->expire = o->expire;
    s->warm_idle = o->warm_idle;
    s->quiet = o->quiet;
    if (o->tokens) {
        s->auth = 1;
        if ((rc = load_tokens(s, o->tokens)))
            return rc;
    } else {
        s->tenants = calloc(1, sizeof *s->tenants);
        if (!s->tenants)
            return CLI_ERROR;
        snprintf(s->tenants[0].name, sizeof s->tenants[0].name, "anonymous");
        s->ntenants = 1;
    }
    if ((rc = load_plan(s, o->plan, o->job_mem)))
        return rc;
    if (s->mem_limit && s->job_mem > s->mem_limit)
        return usage_error("--memory-limit %llu is below one evaluation's estimated peak, "
                           "%llu bytes",
                           (unsigned long long)s->mem_limit, (unsigned long long)s->job_mem);
    char err[512];
    int start_failed = 0; /* the port file could not be written: stop at once */
    /* everything that can be checked without touching the state directory first: the
     * certificate, then the address (a refused start leaves no state behind) */
    char *cert = NULL, *key = NULL;
    if (o->tls_cert && (!(cert = read_text(o->tls_cert)) || !(key = read_text(o->tls_key)) ||
                        check_tls(o->tls_cert, cert, o->tls_key, key))) {
        free(cert);
        free(key);
        return CLI_ERROR;
    }
    unsigned port = 0;
    const int lsock = listen_on(&la, o->listen, &port);
    if (lsock < 0) {
        free(cert);
        free(key);
        return CLI_ERROR;
    }
    /* every file and directory the server creates is its own alone (0600, 0700): the
     * replies too, which cli_writer_open makes with fopen */
    umask(077);
    s->on_change = wake_job;
    if (svc_state_open(s, err, sizeof err)) {
        close(lsock);
        free(cert);
        free(key);
        return cli_fail(CLI_ERROR, &SERVE, "%s", err);
    }

    /* signals are taken by the main thread alone (sigtimedwait below) */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* what the state held at start: queued jobs (run again), finished ones (downloadable
     * until deleted or expired) */
    size_t finished = 0;
    for (const svc_job_t *j = s->jobs; j; j = j->next)
        finished += j->state == SVC_DONE || j->state == SVC_FAILED;
    const size_t queued = s->nqueued;
    pthread_t *th = calloc(s->workers + 1, sizeof *th);
    if (!th || svc_workers_start(s, th)) {
        close(lsock);
        svc_state_undo(s);
        return cli_fail(CLI_ERROR, &SERVE, "cannot start the workers");
    }
    /* MHD_OPTION_EXTERNAL_LOGGER first: libmicrohttpd logs the options that follow it
     * through it, and warns when it comes later */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | (la.v6 ? MHD_USE_IPv6 : 0) |
                     (cert ? MHD_USE_TLS : 0);
    struct MHD_OptionItem tls[] = {
        {cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, key},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)lsock, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)(o->http_threads > 1 ? o->http_threads : 0), /* 1: warned about, ignored */
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_conn, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)(o->timeout + 0.5), MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)1024 * 1024,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
        notify_connection, NULL, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)o->per_ip,
        MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    if (!d) {
        const int e = errno;
        svc_workers_stop(s, th);
        close(lsock);
        svc_state_undo(s);
        return cli_fail(CLI_ERROR, &SERVE,
                        "cannot serve on %s: libmicrohttpd failed to start (%s)", o->listen,
                        strerror(e));
    }
    if (!o->quiet) {
        if (!s->auth)
            fprintf(stderr, "cryptonets serve: no --tokens: every client is one tenant, "
                            "without authentication; listening on loopback only\n");
        svc_note_unlisted_tenants(s, stderr);
        fprintf(stderr,
                "cryptonets serve: %s://%.*s:%u, plan %.16s..., %zu worker(s), jobs "
                "of up to %zu batch(es) of %llu bytes; %zu job(s) recovered (%zu queued, "
                "%zu finished), %zu expired and removed\n",
                cert ? "https" : "http", (int)(strrchr(o->listen, ':') - o->listen), o->listen,
                port, s->plan_hex, s->workers, s->max_records,
                (unsigned long long)s->batch_bytes, queued + finished, queued, finished,
                s->expired_at_start);
    }
    if (o->port_file) { /* last: a script that waits for it finds the log written */
        char text[16];
        snprintf(text, sizeof text, "%u\n", port);
        if (cli_write_file(o->port_file, (const uint8_t *)text, strlen(text), err,
                           sizeof err)) {
            /* checked at start, yet unwritable now (a full disk): a server nobody can find
             * stops, as if it never started */
            fprintf(stderr, "cryptonets serve: --port-file %s; stopping\n", err);
            start_failed = 1;
        }
    }
    double last_sweep = 0;
    while (!start_failed) {
        struct timespec ts = {0, 100000000}; /* long polls end within 0.1 s of their time */
        const int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        const double now = svc_time();
        wake_expired(now, 0);
        if (now - last_sweep < 1)
            continue;
        last_sweep = now;
        pthread_mutex_lock(&s->mu);
        svc_expire(s, now);
        pthread_mutex_unlock(&s->mu);
        sweep_connections(now);
    }
    draining = 1;
    /* every long poll answered (none may stay suspended when the daemon stops), and given
     * up to 5 s to be sent before the connections are closed */
    wake_expired(svc_time(), 1);
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&s->mu);
        const size_t left = polls;
        pthread_mutex_unlock(&s->mu);
        if (!left)
            break;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    if (!o->quiet)
        fprintf(stderr, "cryptonets serve: stopping: running jobs finish, queued jobs stay "
                        "for the next start\n");
    const MHD_socket ls = MHD_quiesce_daemon(d); /* no new connections */
    if (ls != MHD_INVALID_SOCKET)
        close(ls);
    svc_workers_stop(s, th);
    MHD_stop_daemon(d);
    svc_spare_drop_all(s); /* no batch file is left for reuse by a stopped server */
    free(th);
    free(cert);
    if (key)
        sodium_memzero(key, strlen(key));
    free(key);
    pthread_mutex_lock(&s->mu);
    for (svc_job_t *j = s->jobs, *next; j; j = next) {
        next = j->next;
        free(j);
    }
    s->jobs = NULL;
    pthread_mutex_unlock(&s->mu);
    sodium_memzero(s->job_key, sizeof s->job_key); /* the job-id keys (secret) */
    free(s->tenants);
    free(s->plan_bytes);
    cli_plan_clear(&s->plan);
    if (!o->quiet)
        fprintf(stderr, "cryptonets serve: stopped\n");
    return start_failed ? CLI_ERROR : CLI_OK;
}
