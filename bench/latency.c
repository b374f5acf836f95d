/* bench/latency: latency against batch size in both layouts (docs/benchmarks.md,
 * "Latency"): the packed layout (cryptonets/packed.h, one or a few inputs in the slots of
 * a few ciphertexts) and the batched one (cryptonets/net.h, one input per slot) on a model
 * (default: the committed MNIST model, weights of 4 bits as `make bench` compiles it), at
 * batch sizes 1, 2, 8, 64, 512 and n (the batched plan's ring degree) by default.
 *
 * Every configuration runs as a client process and a server process that exchange only
 * bytes through pipes (plan bytes, evaluation keys, requests, replies), as bench/throughput
 * does: one pair per packed batch size (each a layout and keys of its own) and one pair
 * for the batched layout (its plan and keys do not depend on the batch size: a request of
 * b <= n inputs costs one full batch, more take ceil(b / n) batches). Requests of every
 * configuration are interleaved round by round, so the machine's drift hits them alike;
 * round 0 is each server's first request (a fresh process: its page faults and first
 * touches), reported apart. Per configuration: end-to-end latency (client encryption,
 * transfer, server, transfer, client decryption) as median, min and max over --reps
 * rounds; the server's wall and CPU seconds (all threads); predictions per hour; bytes
 * up and down; the evaluation keys' bytes; the peak memory of each process; the server's
 * setup (plan and keys loaded) and first request. Every decrypted output is checked
 * against the plan's integer network. Then the crossover: the batch size above which the
 * batched layout's median latency is below the packed one's (measured between two sizes,
 * and interpolated linearly between them).
 *
 * The packed layout is built for min(b, --chunk) inputs per request; a larger batch is
 * sent as ceil(b / chunk) requests one after another on one connection (its latency is
 * their sum), so that no request exceeds a few ciphertext sets of memory. A packed batch
 * above --packed-max inputs (default 512) is not run: its latency is extrapolated from
 * the largest measured batch (time per request times requests) and marked so (0: run
 * every batch; the MNIST model at 8192 inputs takes 128 requests, minutes each round).
 *
 *   latency [--model F] [--weight-bits B] [--sizes 1,2,8,64,512,n] [--reps R]
 *           [--threads T] [--layouts packed,batched] [--chunk C] [--packed-max B]
 *           [--json | --json-file F] [--n N] [--baby B] [--t-bits B] [--q-bits B]
 *           [--first-blocks F]
 * (--batches is --sizes; the last five force the packed layout's options, 0: chosen;
 * --json writes the JSON on stdout and the tables on stderr; bench/report plots the JSON:
 * latency.svg, latency against batch size.) */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cryptonets/cryptonets.h"
#include "common.h"
#include "results_json.h"

#define MAX_SIZES 16
#define MAX_REPS 64
#define MAX_CONF (MAX_SIZES + 1)
#define LATENCY_FORMAT 1

static void heap_keep(void)
{
    /* freed ciphertexts are reused by the next layer and request instead of going back to
     * the system and faulting in again (docs/net.md, Memory) */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, -1);
}

static int cmp_d(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    double med, min, max;
} stat_t;

static stat_t stat_of(const double *v, size_t k)
{
    stat_t s = {NAN, NAN, NAN};
    if (!k)
        return s;
    double t[MAX_REPS];
    memcpy(t, v, k * sizeof *t);
    qsort(t, k, sizeof *t, cmp_d);
    s.med = k % 2 ? t[k / 2] : (t[k / 2 - 1] + t[k / 2]) / 2;
    s.min = t[0];
    s.max = t[k - 1];
    return s;
}

/* --- options and configurations -------------------------------------------------------- */

typedef struct {
    const char *model;
    unsigned wbits;
    size_t sizes[MAX_SIZES], nsizes; /* 0 in sizes: n */
    size_t reps, chunk, packed_max;
    int threads, packed, batched, json_stdout;
    cn_packed_opts_t force; /* batch unused; any other field set forces the layout's */
    int forced;
} opts_t;

typedef enum { L_PACKED = 0, L_BATCHED = 1 } layout_t;

/* what a client process reports once set up */
typedef struct {
    int status;
    char msg[200];
    size_t key_bytes, n, nq, nt, lbatch, nelts;
    double log_qp, keygen_s, setup_s, budget_est;
} ready_t;

/* what the server answers per request */
typedef struct {
    int status;
    double wall, cpu;
    cn_packed_stats_t st;
} srv_ans_t;

/* one request of `count` inputs (several packed requests or batched batches) */
typedef struct {
    int status, exact;
    char msg[160];
    double enc, srv, cpu, dec, e2e;
    size_t up, down, requests;
    cn_packed_stats_t st; /* packed: the last request's steps */
} rep_t;

typedef struct {
    layout_t layout;
    size_t size; /* packed: the batch size; batched: 0 (every size) */
    pid_t pid;
    int cmd, res;
    ready_t ready;
    int failed;
    double peak_srv, peak_cli;
} conf_t;

/* per (layout, size) results */
typedef struct {
    rep_t first;
    rep_t r[MAX_REPS];
    size_t nr;
} res_t;

/* --- the server process ------------------------------------------------------------------ */

/* Loads the plan bytes and the keys ('k'; answers status and setup seconds), evaluates
 * requests ('b': answer + reply), reports its peak RSS ('q') and exits. */
static void server_main(int in, int out, layout_t lay, const uint8_t *pb, size_t pl,
                        const opts_t *op, size_t lbatch)
{
    heap_keep();
    cn_plan_t *plan = NULL;
    cn_packed_t *own = NULL;
    const cn_packed_t *pk = NULL;
    cn_server_t *bs = NULL;
    cn_packed_server_t *ps = NULL;
    uint8_t *buf = NULL;
    size_t cap = 0;
    uint64_t len;
    char tag;
    while (recv_msg(in, &tag, &buf, &cap, &len) == 0) {
        if (tag == 'k') {
            cn_net_diag_t d = {{0}};
            const double t0 = now_s();
            int st = cn_plan_from_bytes(&plan, pb, pl, 0, &d);
            if (st == CN_OK && lay == L_BATCHED)
                st = cn_server_create(&bs, plan, buf, (size_t)len, op->threads, &d);
            else if (st == CN_OK) {
                if (op->forced) {
                    cn_packed_opts_t po = op->force;
                    po.batch = lbatch;
                    st = cn_packed_create(&own, plan, &po, &d);
                    pk = own;
                } else
                    st = cn_plan_packed(&pk, plan, &d);
                if (st == CN_OK)
                    st = cn_packed_server_create(&ps, pk, buf, (size_t)len, op->threads, &d);
            }
            const double setup = now_s() - t0;
            if (write_full(out, &st, sizeof st) || write_full(out, &setup, sizeof setup))
                break;
        } else if (tag == 'b') {
            srv_ans_t a;
            memset(&a, 0, sizeof a);
            uint8_t *reply = NULL;
            size_t rl = 0;
            const double t0 = now_s(), c0 = cpu_s();
            if (bs)
                a.status = cn_server_eval(&reply, &rl, bs, buf, (size_t)len, NULL, NULL);
            else if (ps)
                a.status =
                    cn_packed_server_eval(&reply, &rl, ps, buf, (size_t)len, &a.st, NULL);
            else
                a.status = CN_ERR_NO_KEY;
            a.wall = now_s() - t0;
            a.cpu = cpu_s() - c0;
            const int bad = write_full(out, &a, sizeof a) ||
                            send_msg(out, 'r', reply, a.status == CN_OK ? rl : 0);
            free(reply);
            if (bad)
                break;
        } else {
            const double peak = peak_rss();
            (void)write_full(out, &peak, sizeof peak);
            break;
        }
    }
    cn_server_free(bs);
    cn_packed_server_free(ps);
    cn_packed_free(own);
    cn_plan_free(plan);
    free(buf);
    _exit(0);
}

/* --- the client process ------------------------------------------------------------------ */

typedef struct {
    layout_t lay;
    cn_plan_t *plan;
    cn_packed_t *own;
    const cn_packed_t *pk;
    cn_client_t *bc;
    cn_packed_client_t *pc;
    int to_srv, from_srv;
    pid_t srv;
    const int64_t *x;
    const cn_int128 *ref;
    cn_int128 *got;
    size_t nin, nout, lbatch, n;
    uint8_t *reply;
    size_t reply_cap;
} client_t;

/* outputs equal to the integer network's (mod every t_i when the plan wraps) */
static int outputs_exact(const client_t *c, size_t count)
{
    const cn_bfv_params_t *prm = cn_plan_params(c->plan);
    for (size_t i = 0; i < count * c->nout; i++) {
        const cn_int128 diff = c->got[i] - c->ref[i];
        if (!cn_plan_wraps(c->plan) && diff != 0)
            return 0;
        for (size_t k = 0; k < prm->nt; k++)
            if (diff % (cn_int128)prm->t[k] != 0)
                return 0;
    }
    return 1;
}

/* count inputs: ceil(count / lbatch) requests, each encrypted, sent, evaluated, received
 * and decrypted in turn */
static void client_request(client_t *c, size_t count, rep_t *rp)
{
    memset(rp, 0, sizeof *rp);
    rp->exact = 1;
    const double t0 = now_s();
    for (size_t done = 0; done < count && !rp->status;) {
        const size_t k = count - done < c->lbatch ? count - done : c->lbatch;
        uint8_t *up = NULL;
        size_t ul = 0;
        uint64_t dl = 0;
        srv_ans_t a;
        memset(&a, 0, sizeof a);
        char tag;
        cn_net_diag_t d = {{0}};
        const int64_t *xi = c->x + done * c->nin;
        double t = now_s();
        cn_status st = c->lay == L_BATCHED
                           ? cn_client_encrypt(&up, &ul, c->bc, xi, k, &d)
                           : cn_packed_client_encrypt(&up, &ul, c->pc, xi, k, &d);
        rp->enc += now_s() - t;
        if (st == CN_OK &&
            (send_msg(c->to_srv, 'b', up, ul) || read_full(c->from_srv, &a, sizeof a) ||
             recv_msg(c->from_srv, &tag, &c->reply, &c->reply_cap, &dl)))
            st = CN_ERR_IO;
        free(up);
        if (st == CN_OK)
            st = (cn_status)a.status;
        rp->srv += a.wall;
        rp->cpu += a.cpu;
        rp->up += ul;
        rp->down += (size_t)dl;
        rp->st = a.st;
        t = now_s();
        if (st == CN_OK)
            st = c->lay == L_BATCHED
                     ? cn_client_decrypt(c->got, c->bc, c->reply, (size_t)dl, k, &d)
                     : cn_packed_client_decrypt(c->got, c->pc, c->reply, (size_t)dl, k, &d);
        rp->dec += now_s() - t;
        if (st != CN_OK) {
            rp->status = 1;
            snprintf(rp->msg, sizeof rp->msg, "%s%s%.100s", cn_strerror(st),
                     d.msg[0] ? ": " : "", d.msg);
            break;
        }
        /* compare against the reference of these inputs */
        const cn_int128 *ref = c->ref;
        c->ref += done * c->nout;
        rp->exact &= outputs_exact(c, k);
        c->ref = ref;
        rp->requests++;
        done += k;
    }
    rp->e2e = now_s() - t0;
}

/* Sets up the configuration (starting its server process first: OpenMP's threads do not
 * survive a fork), reports ready, then runs one request per command (the input count)
 * and answers; count 0 reports the two peak RSS figures and exits. */
static void client_main(int cmd, int res, layout_t lay, size_t size, const uint8_t *pb,
                        size_t pl, const opts_t *op, const int64_t *x, const cn_int128 *ref)
{
    ready_t r;
    memset(&r, 0, sizeof r);
    client_t c;
    memset(&c, 0, sizeof c);
    c.lay = lay;
    c.x = x;
    c.ref = ref;
    c.lbatch = size < op->chunk ? size : op->chunk;
    int c2s[2], s2c[2];
    if (pipe(c2s) || pipe(s2c)) {
        r.status = 1;
        snprintf(r.msg, sizeof r.msg, "pipes failed");
        (void)write_full(res, &r, sizeof r);
        _exit(1);
    }
    fflush(NULL);
    c.srv = fork();
    if (c.srv == 0) {
        close(c2s[1]);
        close(s2c[0]);
        close(cmd);
        close(res);
        server_main(c2s[0], s2c[1], lay, pb, pl, op, c.lbatch);
    }
    close(c2s[0]);
    close(s2c[1]);
    c.to_srv = c2s[1];
    c.from_srv = s2c[0];
    heap_keep();
    cn_net_diag_t d = {{0}};
    cn_status st = c.srv < 0 ? CN_ERR_IO : cn_plan_from_bytes(&c.plan, pb, pl, 0, &d);
    const cn_bfv_params_t *prm = NULL;
    if (st == CN_OK && lay == L_PACKED) {
        if (op->forced) {
            cn_packed_opts_t po = op->force;
            po.batch = c.lbatch;
            st = cn_packed_create(&c.own, c.plan, &po, &d);
            c.pk = c.own;
        } else
            st = cn_plan_packed(&c.pk, c.plan, &d);
    }
    if (st == CN_OK) {
        c.nin = cn_plan_inputs(c.plan);
        c.nout = cn_plan_outputs(c.plan);
        prm = lay == L_PACKED ? cn_packed_params(c.pk) : cn_plan_params(c.plan);
        c.n = prm->n;
        if (lay == L_BATCHED)
            c.lbatch = prm->n;
        r.n = prm->n;
        r.nq = prm->nq;
        r.nt = prm->nt;
        r.log_qp = cn_bfv_params_log_qp(prm);
        r.lbatch = c.lbatch;
        if (lay == L_PACKED) {
            FILE *txt = op->json_stdout ? stderr : stdout;
            fprintf(txt, "packed, batch %zu: ", size);
            cn_packed_print(c.pk, txt);
            fflush(txt);
            r.budget_est = cn_packed_output_budget(c.pk);
            r.nelts = cn_packed_galois_elts(c.pk, NULL, 0);
        } else
            r.budget_est = cn_plan_output_budget(c.plan);
        c.got = malloc((c.lbatch ? c.lbatch : 1) * c.nout * sizeof *c.got);
        if (!c.got)
            st = CN_ERR_NO_MEMORY;
    }
    uint8_t *keys = NULL;
    const uint8_t seed[CN_SEED_BYTES] = {7};
    double t0 = now_s();
    if (st == CN_OK && lay == L_BATCHED) {
        st = cn_client_create(&c.bc, c.plan, seed, CN_RNG_INSECURE_ACK);
        if (st == CN_OK) {
            cn_client_set_threads(c.bc, op->threads);
            st = cn_client_eval_keys(&keys, &r.key_bytes, c.bc);
        }
    } else if (st == CN_OK) {
        st = cn_packed_client_create(&c.pc, c.pk, seed, CN_RNG_INSECURE_ACK);
        if (st == CN_OK) {
            cn_packed_client_set_threads(c.pc, op->threads);
            st = cn_packed_client_eval_keys(&keys, &r.key_bytes, c.pc);
        }
    }
    r.keygen_s = now_s() - t0;
    int sst = CN_OK;
    if (st == CN_OK && (send_msg(c.to_srv, 'k', keys, r.key_bytes) ||
                        read_full(c.from_srv, &sst, sizeof sst) ||
                        read_full(c.from_srv, &r.setup_s, sizeof r.setup_s)))
        sst = CN_ERR_IO;
    free(keys);
    if (st == CN_OK)
        st = (cn_status)sst;
    if (st != CN_OK) {
        r.status = 1;
        snprintf(r.msg, sizeof r.msg, "setup: %s%s%.120s", cn_strerror(st),
                 d.msg[0] ? ": " : "", d.msg);
    }
    if (write_full(res, &r, sizeof r) || r.status)
        _exit(1);
    size_t count;
    while (read_full(cmd, &count, sizeof count) == 0 && count) {
        rep_t rp;
        client_request(&c, count, &rp);
        if (write_full(res, &rp, sizeof rp))
            break;
    }
    double peaks[2] = {-1, peak_rss()};
    if (send_msg(c.to_srv, 'q', NULL, 0) || read_full(c.from_srv, &peaks[0], sizeof peaks[0]))
        peaks[0] = -1;
    close(c.to_srv);
    close(c.from_srv);
    int wst;
    waitpid(c.srv, &wst, 0);
    (void)write_full(res, peaks, sizeof peaks);
    cn_client_free(c.bc);
    cn_packed_client_free(c.pc);
    cn_packed_free(c.own);
    cn_plan_free(c.plan);
    free(c.got);
    free(c.reply);
    _exit(0);
}

/* --- the driver -------------------------------------------------------------------------- */

static int spawn(conf_t *cf, const uint8_t *pb, size_t pl, const opts_t *op, const int64_t *x,
                 const cn_int128 *ref)
{
    int cmd[2], res[2];
    if (pipe(cmd) || pipe(res))
        return -1;
    fflush(NULL);
    cf->pid = fork();
    if (cf->pid == 0) {
        close(cmd[1]);
        close(res[0]);
        client_main(cmd[0], res[1], cf->layout, cf->size, pb, pl, op, x, ref);
    }
    close(cmd[0]);
    close(res[1]);
    cf->cmd = cmd[1];
    cf->res = res[0];
    if (cf->pid < 0 || read_full(cf->res, &cf->ready, sizeof cf->ready)) {
        cf->failed = 1;
        snprintf(cf->ready.msg, sizeof cf->ready.msg, "the client process failed");
        return -1;
    }
    return cf->ready.status ? -1 : 0;
}

static void finish(conf_t *cf)
{
    double peaks[2] = {-1, -1};
    if (cf->pid > 0) {
        const size_t zero = 0;
        if (!cf->failed)
            (void)(write_full(cf->cmd, &zero, sizeof zero) ||
                   read_full(cf->res, peaks, sizeof peaks));
        close(cf->cmd);
        close(cf->res);
        int wst;
        waitpid(cf->pid, &wst, 0);
    }
    cf->peak_srv = peaks[0];
    cf->peak_cli = peaks[1];
}

static int run_one(conf_t *cf, size_t count, rep_t *rp)
{
    if (cf->failed)
        return -1;
    if (write_full(cf->cmd, &count, sizeof count) || read_full(cf->res, rp, sizeof *rp)) {
        cf->failed = 1;
        return -1;
    }
    return rp->status;
}

static void machine(char *model, size_t mlen)
{
    snprintf(model, mlen, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            char *v = strchr(line, ':') + 1;
            while (*v == ' ')
                v++;
            v[strcspn(v, "\n")] = 0;
            snprintf(model, mlen, "%s", v);
            break;
        }
    fclose(f);
}

static json_t *jstat(stat_t s)
{
    return json_pack("{s:o, s:o, s:o}", "median", cn_bench_json_real(s.med, 4), "min",
                     cn_bench_json_real(s.min, 4), "max", cn_bench_json_real(s.max, 4));
}

typedef struct {
    int ok, extrapolated, exact;
    const conf_t *c;
    size_t batch, requests;
    stat_t e2e, srv, cpu, enc, dec;
    double first_e2e, first_srv, up, down, pph;
    cn_packed_stats_t st;
} row_t;

/* The crossover: the first size (ascending) where the batched layout's median is below
 * the packed one's (end to end, or with cpu the server's CPU seconds: the steadier figure
 * on a loaded machine), interpolated linearly in the difference between it and the size
 * before. kind 0: not both layouts, 1: between lo and hi, 2: below the first size, 3:
 * above the last. */
typedef struct {
    int kind;
    size_t lo, hi;
    double at;
} cross_t;

static cross_t crossover(row_t rows[2][MAX_SIZES], const opts_t *op, int cpu)
{
    cross_t c = {0, 0, 0, NAN};
    if (!op->packed || !op->batched)
        return c;
    c.kind = 3;
    double dprev = NAN;
    for (size_t s = 0; s < op->nsizes; s++) {
        const row_t *p = &rows[L_PACKED][s], *b = &rows[L_BATCHED][s];
        if (!p->ok || !b->ok)
            continue;
        const double diff = cpu ? b->cpu.med - p->cpu.med : b->e2e.med - p->e2e.med;
        if (diff < 0) { /* the batched layout faster */
            c.hi = op->sizes[s];
            c.kind = isnan(dprev) ? 2 : 1;
            if (c.kind == 1)
                c.at = (double)c.lo + (double)(c.hi - c.lo) * dprev / (dprev - diff);
            break;
        }
        dprev = diff;
        c.lo = op->sizes[s];
    }
    return c;
}

static void print_cross(FILE *f, const char *what, cross_t c)
{
    if (c.kind == 1)
        fprintf(f,
                "crossover (%s): the batched layout wins above %zu and below %zu inputs per "
                "request (interpolated: about %.0f)\n",
                what, c.lo, c.hi, c.at);
    else if (c.kind == 2)
        fprintf(f, "crossover (%s): the batched layout wins at every size measured\n", what);
    else if (c.kind == 3)
        fprintf(f, "crossover (%s): the packed layout wins at every size measured\n", what);
}

static json_t *json_cross(cross_t c)
{
    return json_pack("{s:s, s:o, s:o, s:o}", "kind",
                     c.kind == 1   ? "between"
                     : c.kind == 2 ? "below_first"
                     : c.kind == 3 ? "above_last"
                                   : "none",
                     "above", cn_bench_json_round((double)c.lo), "below",
                     cn_bench_json_round((double)c.hi), "interpolated",
                     cn_bench_json_real(c.at, 0));
}

static void usage(void)
{
    fprintf(stderr, "usage: latency [--model F] [--weight-bits B] [--sizes 1,2,8,64,512,n] "
                    "[--reps R] [--threads T] [--layouts packed,batched] [--chunk C] "
                    "[--packed-max B] [--json | --json-file F] [--n N] [--baby B] "
                    "[--t-bits B] [--q-bits B] [--first-blocks F]\n");
}

int main(int argc, char **argv)
{
    opts_t op = {.model = "examples/models/cryptonets_mnist.cnm",
                 .wbits = 4,
                 .sizes = {1, 2, 8, 64, 512, 0},
                 .nsizes = 6,
                 .reps = 3,
                 .chunk = 64,
                 .packed_max = 512,
                 .packed = 1,
                 .batched = 1};
    int json_stdout = 0;
    const char *json_file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v && strcmp(a, "--json")) {
            usage();
            return 2;
        }
        if (!strcmp(a, "--json")) {
            json_stdout = 1;
            continue;
        }
        i++;
        if (!strcmp(a, "--model"))
            op.model = v;
        else if (!strcmp(a, "--weight-bits"))
            op.wbits = (unsigned)atoi(v);
        else if (!strcmp(a, "--reps"))
            op.reps = (size_t)atol(v);
        else if (!strcmp(a, "--threads"))
            op.threads = atoi(v);
        else if (!strcmp(a, "--chunk"))
            op.chunk = (size_t)atol(v);
        else if (!strcmp(a, "--packed-max"))
            op.packed_max = (size_t)atol(v);
        else if (!strcmp(a, "--json-file"))
            json_file = v;
        else if (!strcmp(a, "--n"))
            op.force.n = (size_t)atol(v);
        else if (!strcmp(a, "--baby"))
            op.force.baby = (size_t)atol(v);
        else if (!strcmp(a, "--t-bits"))
            op.force.t_bits = (unsigned)atoi(v);
        else if (!strcmp(a, "--q-bits"))
            op.force.q_bits = (unsigned)atoi(v);
        else if (!strcmp(a, "--first-blocks"))
            op.force.first_blocks = (size_t)atol(v);
        else if (!strcmp(a, "--layouts")) {
            op.packed = strstr(v, "packed") != NULL;
            op.batched = strstr(v, "batched") != NULL;
        } else if (!strcmp(a, "--sizes") || !strcmp(a, "--batches")) {
            char tmp[256];
            snprintf(tmp, sizeof tmp, "%s", v);
            op.nsizes = 0;
            for (char *p = strtok(tmp, ","); p && op.nsizes < MAX_SIZES; p = strtok(NULL, ","))
                op.sizes[op.nsizes++] = !strcmp(p, "n") ? 0 : (size_t)atol(p);
        } else {
            usage();
            return 2;
        }
    }
    op.forced = op.force.n || op.force.baby || op.force.t_bits || op.force.q_bits ||
                op.force.first_blocks;
    if (op.reps < 1 || op.reps > MAX_REPS || !op.nsizes || op.chunk < 1 ||
        (!op.packed && !op.batched)) {
        usage();
        return 2;
    }
    op.json_stdout = json_stdout;
    FILE *txt = json_stdout ? stderr : stdout;
    cn_model_t m;
    cn_net_diag_t d = {{0}};
    if (cn_model_load(&m, op.model, &d) != CN_OK) {
        fprintf(stderr, "latency: %s\n", d.msg);
        return 1;
    }
    /* the batched plan (no threads are started before the forks: the compiler starts none) */
    cn_compile_opts_t co = {.weight_bits = op.wbits};
    cn_plan_t *plan;
    if (cn_plan_compile(&plan, &m, &co, &d) != CN_OK) {
        fprintf(stderr, "latency: compile: %s\n", d.msg);
        return 1;
    }
    const size_t N = cn_plan_params(plan)->n, nin = cn_plan_inputs(plan),
                 nout = cn_plan_outputs(plan);
    size_t maxb = 1;
    for (size_t s = 0; s < op.nsizes; s++) {
        if (!op.sizes[s])
            op.sizes[s] = N;
        if (op.sizes[s] > maxb)
            maxb = op.sizes[s];
    }
    /* inputs: reproducible pseudo-random pixels in the model's range */
    int64_t *x = malloc(maxb * nin * sizeof *x);
    cn_int128 *ref = malloc(maxb * nout * sizeof *ref);
    if (!x || !ref)
        return 1;
    uint64_t z = 12345;
    for (size_t i = 0; i < maxb * nin; i++) {
        z = z * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = m.input_min + (int64_t)((z >> 33) % (uint64_t)(m.input_max - m.input_min + 1));
    }
    if (cn_plan_eval_plain(ref, plan, x, maxb) != CN_OK)
        return 1;
    fprintf(txt,
            "latency: %s, weights of %u bits, outputs below 2^%.1f, %d threads, %zu reps, "
            "packed requests of at most %zu inputs\n",
            op.model, op.wbits, cn_plan_output_bits(plan), op.threads, op.reps, op.chunk);
    uint8_t *bpb = NULL;
    size_t bpl = 0;
    if (cn_plan_to_bytes(&bpb, &bpl, plan) != CN_OK)
        return 1;
    /* configurations: one packed per size (the plan compiled for min(size, chunk) inputs
     * per request, the packed layout forced), one batched */
    conf_t cf[MAX_CONF];
    uint8_t *pbs[MAX_CONF] = {0};
    size_t pls[MAX_CONF] = {0}, ncf = 0;
    res_t res[2][MAX_SIZES];
    memset(res, 0, sizeof res);
    memset(cf, 0, sizeof cf);
    for (size_t s = 0; s < op.nsizes && op.packed; s++) {
        if (op.packed_max && op.sizes[s] > op.packed_max)
            continue; /* extrapolated */
        conf_t *c = &cf[ncf];
        c->layout = L_PACKED;
        c->size = op.sizes[s];
        const size_t lb = c->size < op.chunk ? c->size : op.chunk;
        if (op.forced) {
            pbs[ncf] = bpb;
            pls[ncf] = bpl;
        } else {
            cn_compile_opts_t pc = {
                .weight_bits = op.wbits, .batch_size = lb, .force_layout = 2};
            cn_plan_t *pp;
            if (cn_plan_compile(&pp, &m, &pc, &d) != CN_OK ||
                cn_plan_to_bytes(&pbs[ncf], &pls[ncf], pp) != CN_OK) {
                fprintf(stderr, "latency: packed plan for %zu inputs: %s\n", lb, d.msg);
                return 1;
            }
            cn_plan_free(pp);
        }
        ncf++;
    }
    if (op.batched) {
        cf[ncf].layout = L_BATCHED;
        pbs[ncf] = bpb;
        pls[ncf] = bpl;
        ncf++;
    }
    /* the packed sizes to run: within --packed-max-sets (the others extrapolated) */
    for (size_t i = 0; i < ncf; i++) {
        conf_t *c = &cf[i];
        if (spawn(c, pbs[i], pls[i], &op, x, ref)) {
            fprintf(stderr, "latency: %s, batch %zu: %s\n",
                    c->layout == L_PACKED ? "packed" : "batched", c->size, c->ready.msg);
            c->failed = 1;
        }
    }
    int bad = 0;
    for (size_t r = 0; r <= op.reps; r++)
        for (size_t s = 0; s < op.nsizes; s++)
            for (size_t i = 0; i < ncf; i++) {
                conf_t *c = &cf[i];
                if (c->failed || (c->layout == L_PACKED && c->size != op.sizes[s]))
                    continue;
                const size_t b = op.sizes[s];
                res_t *rs = &res[c->layout][s];
                rep_t rp;
                if (run_one(c, b, &rp)) {
                    fprintf(stderr, "latency: %s, batch %zu: %s\n",
                            c->layout == L_PACKED ? "packed" : "batched", b,
                            c->failed ? "the client process failed" : rp.msg);
                    c->failed = 1;
                    bad = 1;
                    continue;
                }
                if (!rp.exact) {
                    fprintf(stderr, "latency: %s, batch %zu: outputs differ\n",
                            c->layout == L_PACKED ? "packed" : "batched", b);
                    bad = 1;
                }
                if (r == 0)
                    rs->first = rp;
                else
                    rs->r[rs->nr++] = rp;
            }
    for (size_t i = 0; i < ncf; i++)
        finish(&cf[i]);
    double load[3] = {-1, -1, -1};
    if (getloadavg(load, 3) < 3)
        load[0] = load[1] = load[2] = -1;

    /* rows: statistics per (layout, size); packed sizes past --packed-max extrapolated
     * from the largest measured packed size */
    row_t rows[2][MAX_SIZES];
    memset(rows, 0, sizeof rows);
    for (int l = 0; l < 2; l++) {
        const conf_t *c = NULL;
        size_t lastm = SIZE_MAX;
        for (size_t s = 0; s < op.nsizes; s++) {
            row_t *w = &rows[l][s];
            w->batch = op.sizes[s];
            c = NULL;
            for (size_t i = 0; i < ncf; i++)
                if (cf[i].layout == (layout_t)l && (l == L_BATCHED || cf[i].size == w->batch))
                    c = &cf[i];
            w->c = c;
            const res_t *rs = &res[l][s];
            const int extra = l == L_PACKED && op.packed_max && w->batch > op.packed_max;
            if (rs->nr) {
                double v[5][MAX_REPS];
                w->exact = 1;
                for (size_t k = 0; k < rs->nr; k++) {
                    v[0][k] = rs->r[k].e2e;
                    v[1][k] = rs->r[k].srv;
                    v[2][k] = rs->r[k].cpu;
                    v[3][k] = rs->r[k].enc;
                    v[4][k] = rs->r[k].dec;
                    w->exact &= rs->r[k].exact;
                }
                w->e2e = stat_of(v[0], rs->nr);
                w->srv = stat_of(v[1], rs->nr);
                w->cpu = stat_of(v[2], rs->nr);
                w->enc = stat_of(v[3], rs->nr);
                w->dec = stat_of(v[4], rs->nr);
                /* a fresh server's first request: each packed size's own server; the
                 * batched server's is its first size's (later sizes follow it) */
                const int fresh = l == L_PACKED || s == 0;
                w->first_e2e = fresh ? rs->first.e2e : NAN;
                w->first_srv = fresh ? rs->first.srv : NAN;
                w->up = (double)rs->r[0].up;
                w->down = (double)rs->r[0].down;
                w->requests = rs->r[0].requests;
                w->st = rs->r[rs->nr - 1].st;
                w->ok = 1;
                lastm = s;
            } else if (extra && lastm != SIZE_MAX) {
                const row_t *m0 = &rows[l][lastm];
                c = w->c = m0->c; /* its keys and processes stand for this size's */
                const size_t reqs = (w->batch + op.chunk - 1) / op.chunk;
                /* by requests when the measured size filled them, else by inputs */
                const double f = m0->batch >= op.chunk ? (double)reqs / (double)m0->requests
                                                       : (double)w->batch / (double)m0->batch;
                w->e2e = (stat_t){m0->e2e.med * f, m0->e2e.min * f, m0->e2e.max * f};
                w->srv = (stat_t){m0->srv.med * f, m0->srv.min * f, m0->srv.max * f};
                w->cpu = (stat_t){m0->cpu.med * f, m0->cpu.min * f, m0->cpu.max * f};
                w->enc = (stat_t){m0->enc.med * f, NAN, NAN};
                w->dec = (stat_t){m0->dec.med * f, NAN, NAN};
                w->first_e2e = w->first_srv = NAN;
                w->up = m0->up * f;
                w->down = m0->down * f;
                w->requests = reqs;
                w->ok = w->extrapolated = 1;
                w->exact = 1;
            }
            if (w->ok)
                w->pph = 3600.0 * (double)w->batch / w->e2e.med;
        }
    }
    /* the crossover: the first size (ascending) where the batched median is below the
     * packed one; linear interpolation of the difference between it and the size before */
    cross_t cx = crossover(rows, &op, 0), cc = crossover(rows, &op, 1);

    fprintf(txt,
            "\n%-8s %6s %9s %9s %9s %9s %9s %8s %8s %9s %9s %8s %8s %9s %9s %12s %8s %8s\n",
            "layout", "batch", "e2e_med", "e2e_min", "e2e_max", "server", "srv_cpu", "encrypt",
            "decrypt", "first", "first_srv", "keys_MB", "up_MB", "down_MB", "setup_s", "img/h",
            "srv_MiB", "cli_MiB");
    for (size_t s = 0; s < op.nsizes; s++)
        for (int l = 0; l < 2; l++) {
            const row_t *w = &rows[l][s];
            if (!w->ok)
                continue;
            const conf_t *c = w->c;
            fprintf(txt,
                    "%-8s %6zu %9.3f %9.3f %9.3f %9.3f %9.3f %8.3f %8.3f %9.3f %9.3f %8.1f "
                    "%8.2f %9.2f %9.2f %12.0f %8.0f %8.0f%s\n",
                    l == L_PACKED ? "packed" : "batched", w->batch, w->e2e.med, w->e2e.min,
                    w->e2e.max, w->srv.med, w->cpu.med, w->enc.med, w->dec.med, w->first_e2e,
                    w->first_srv, c->ready.key_bytes / 1e6, w->up / 1e6, w->down / 1e6,
                    c->ready.setup_s, w->pph, c->peak_srv / 1048576.0, c->peak_cli / 1048576.0,
                    w->extrapolated ? "  (extrapolated)" : "");
        }
    for (size_t s = 0; s < op.nsizes; s++) {
        const row_t *w = &rows[L_PACKED][s];
        if (!w->ok || w->extrapolated)
            continue;
        fprintf(txt,
                "packed %zu: %zu request%s of <= %zu; server steps of the last request (CPU s, "
                "all threads): first %.3f, squares %.3f, relin %.3f, diagonals %.3f, "
                "modswitch %.3f, load %.3f, save %.3f; %zu rotations; keygen %.2f s\n",
                w->batch, w->requests, w->requests == 1 ? "" : "s", w->c->ready.lbatch,
                w->st.first_s, w->st.square_s, w->st.relin_s, w->st.diag_s, w->st.modswitch_s,
                w->st.load_s, w->st.save_s, w->st.rotations, w->c->ready.keygen_s);
    }
    print_cross(txt, "end to end", cx);
    print_cross(txt, "server CPU", cc);
    fprintf(txt, "load average at the end: %.2f %.2f %.2f (%ld cores)\n", load[0], load[1],
            load[2], sysconf(_SC_NPROCESSORS_ONLN));

    if (json_stdout || json_file) {
        char model[256], date[32];
        machine(model, sizeof model);
        const time_t tnow = time(NULL);
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&tnow));
        json_t *runs = json_array();
        int jbad = !runs;
        for (size_t s = 0; s < op.nsizes; s++)
            for (int l = 0; l < 2; l++) {
                const row_t *w = &rows[l][s];
                if (!w->ok)
                    continue;
                const conf_t *c = w->c;
                json_t *o = json_pack(
                    "{s:s, s:I, s:b, s:b, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, "
                    "s:o, s:o, s:{s:o, s:o, s:o}, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                    "layout", l == L_PACKED ? "packed" : "batched", "batch",
                    (json_int_t)w->batch, "exact", w->exact, "extrapolated", w->extrapolated,
                    "requests", (json_int_t)w->requests, "n", (json_int_t)c->ready.n, "primes",
                    (json_int_t)c->ready.nq, "plaintext_moduli", (json_int_t)c->ready.nt,
                    "log_qp", cn_bench_json_real(c->ready.log_qp, 1), "end_to_end",
                    jstat(w->e2e), "server", jstat(w->srv), "server_cpu", jstat(w->cpu),
                    "encrypt", jstat(w->enc), "decrypt", jstat(w->dec), "predictions_per_hour",
                    cn_bench_json_round(w->pph), "budget_estimate",
                    cn_bench_json_real(c->ready.budget_est, 1), "first", "end_to_end",
                    cn_bench_json_real(w->first_e2e, 4), "server",
                    cn_bench_json_real(w->first_srv, 4), "server_setup",
                    cn_bench_json_real(c->ready.setup_s, 4), "upload_bytes",
                    cn_bench_json_round(w->up), "download_bytes", cn_bench_json_round(w->down),
                    "key_bytes", cn_bench_json_round((double)c->ready.key_bytes), "keygen",
                    cn_bench_json_real(c->ready.keygen_s, 3), "peak_rss_bytes",
                    cn_bench_json_round(c->peak_srv), "client_peak_rss_bytes",
                    cn_bench_json_round(c->peak_cli), "request_inputs",
                    cn_bench_json_round((double)c->ready.lbatch), "galois_keys",
                    cn_bench_json_round((double)c->ready.nelts));
                if (o && l == L_PACKED && !w->extrapolated)
                    jbad |= json_object_set_new(
                        o, "steps_cpu",
                        json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I}", "first",
                                  cn_bench_json_real(w->st.first_s, 4), "squares",
                                  cn_bench_json_real(w->st.square_s, 4), "relin",
                                  cn_bench_json_real(w->st.relin_s, 4), "diagonals",
                                  cn_bench_json_real(w->st.diag_s, 4), "modswitch",
                                  cn_bench_json_real(w->st.modswitch_s, 4), "load",
                                  cn_bench_json_real(w->st.load_s, 4), "save",
                                  cn_bench_json_real(w->st.save_s, 4), "rotations",
                                  (json_int_t)w->st.rotations));
                jbad |= !o || json_array_append_new(runs, o);
            }
        json_t *cr = json_cross(cx), *crc = json_cross(cc);
        json_t *doc = json_pack(
            "{s:s, s:i, s:s, s:s, s:i, s:i, s:i, s:I, s:{s:o, s:i, s:s, s:[f, f, f]}, "
            "s:o, s:o, s:o}",
            "bench", "latency", "format", LATENCY_FORMAT, "date", date, "network", op.model,
            "weight_bits", (int)op.wbits, "reps", (int)op.reps, "threads", op.threads,
            "packed_request_max", (json_int_t)op.chunk, "machine", "cpu",
            cn_bench_json_string(model), "cores", (int)sysconf(_SC_NPROCESSORS_ONLN),
            "ntt_kernel", cn_ntt_kernel_name(), "load_average", load[0], load[1], load[2],
            "crossover", cr, "crossover_server_cpu", crc, "runs", runs);
        FILE *jf = json_file ? fopen(json_file, "w") : stdout;
        if (!doc || jbad || !jf || cn_bench_json_write(jf, doc) != CN_OK ||
            (json_file && fclose(jf))) {
            fprintf(stderr, "latency: writing the JSON failed\n");
            bad = 1;
        }
        json_decref(doc);
    }
    for (size_t i = 0; i < ncf; i++)
        if (pbs[i] != bpb)
            free(pbs[i]);
    free(bpb);
    free(x);
    free(ref);
    cn_plan_free(plan);
    cn_model_clear(&m);
    for (size_t i = 0; i < ncf; i++)
        if (cf[i].failed)
            bad = 1;
    return bad;
}
