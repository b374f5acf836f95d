/* bench/throughput: a network encrypted end to end through the client/server API (bytes
 * only): by default the CryptoNets shape (conv 5x5 stride 2 with 5 maps on 28x28 -> 845,
 * square, dense 845 -> 100, square, dense 100 -> 10) with random weights, or a model file.
 * Reports time per step (median, min, max over --reps batches), the parameters,
 * predictions per hour, peak memory and bytes up and down, and checks the decrypted
 * outputs against the integer network on every slot.
 *
 * Each configuration runs as a client process and a server process that exchange only
 * bytes (plan, evaluation keys, batches, replies), each with its own heap and peak memory.
 * --sweep runs groups of configurations in one run, the configurations of a group alive
 * together and their batches interleaved round by round (so the machine's drift hits
 * them alike), and reports each one's time as a ratio to the group's baseline:
 *   threads  1, 2, 4, ... up to the cores (baseline: 1 thread)
 *   fill     1, 64, 1024 images and a full batch (baseline: full)
 *   n        ring degree 8192 and 16384, where the compiler finds parameters (baseline: 8192)
 *   opt      every optimization on (baseline), then each one off alone (at the baseline's
 *            parameters): modulus switching,
 *            lazy relinearization (relinearize right after each square instead), blocked
 *            linear layers (one ciphertext at a time through the BFV API instead)
 * docs/benchmarks.md shows the output; the JSON is written with jansson
 * (bench/results_json.h), and bench/report turns it into tables and plots. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cryptonets/cryptonets.h"
#include "cryptonets/idx.h"
#include "common.h"
#include "results_json.h"

#define MAX_STEPS 32
#define MAX_CONF 16
#define MAX_REPS 64

/* splitmix64: the random weights and inputs (reproducible, not secret) */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double uniform_pm1(uint64_t *s)
{
    return (double)(next_u64(s) >> 11) * 0x1p-52 - 1.0;
}

/* --- configurations ------------------------------------------------------------------- */

typedef struct {
    char group[12]; /* "single", "threads", "fill", "n", "opt" */
    char name[32];  /* e.g. "threads=1", "no modulus switching" */
    int threads;
    size_t images; /* 0: a full batch */
    size_t n;      /* 0: as the options say */
    int no_mod_switch, eager_relin, per_ct;
    /* parameters forced to another configuration's (the opt group: the baseline's, so
     * an optimization turned off changes nothing else) */
    int forced;
    size_t f_n, f_nq, f_nt;
    unsigned f_qbits, f_tbits;
} conf_t;

/* What a configuration's process reports once it is ready. */
typedef struct {
    int status; /* 0 ok, else failed (msg) */
    char msg[CN_NET_DIAG_BYTES + 64];
    size_t n, images, nt, nops;
    double log_qp;
    uint64_t t[8];
    double compile_s, keygen_s;
    size_t up_bytes, down_bytes, key_bytes;
    double budget_est;
    int budget_measured, wraps;
    size_t nsteps;
    char step[MAX_STEPS][24];
} ready_t;

/* One batch: client encryption, server evaluation (per step), client decryption. */
typedef struct {
    int status;
    char msg[120];
    double enc, server, dec;
    double steps[MAX_STEPS];
    int exact;
} rep_t;

typedef struct {
    conf_t conf;
    pid_t pid;
    int cmd_fd, res_fd;
    ready_t ready;
    rep_t cold; /* the first batch of the process: page faults, not counted */
    rep_t reps[MAX_REPS];
    int nreps;
    double peak_rss;        /* the server process's */
    double client_peak_rss; /* the client process's */
    int failed;
    char why[200];
} run_t;

typedef struct {
    const char *model_path;
    unsigned wbits, tbits, logq, qbits;
    size_t n, moduli, nq, images;
    int threads;
    uint64_t seed;
    int wbits_given;            /* --weight-bits was given: it forces the width */
    size_t ncalib;              /* --calib: labelled training images for the width search */
    const char *data_dir;       /* --data: the MNIST files (data by default) */
    int64_t *calib, *calib_lab; /* ncalib raw inputs and their labels */
} opts_t;

/* The CryptoNets shape with random float weights (about 1 in 8 of the dense ones zero). */
static cn_status random_model(cn_model_t *m, uint64_t seed, cn_net_diag_t *d)
{
    uint64_t s = seed;
    double *w1 = malloc(125 * sizeof *w1), *w2 = malloc(84500 * sizeof *w2), b1[5], b2[100],
           *w3 = malloc(1000 * sizeof *w3), b3[10];
    cn_status st = w1 && w2 && w3 ? CN_OK : CN_ERR_NO_MEMORY;
    for (size_t i = 0; st == CN_OK && i < 125; i++)
        w1[i] = uniform_pm1(&s);
    for (size_t i = 0; st == CN_OK && i < 84500; i++)
        w2[i] = next_u64(&s) % 8 ? uniform_pm1(&s) : 0;
    for (size_t i = 0; st == CN_OK && i < 1000; i++)
        w3[i] = uniform_pm1(&s);
    for (size_t i = 0; i < 5; i++)
        b1[i] = uniform_pm1(&s);
    for (size_t i = 0; i < 100; i++)
        b2[i] = uniform_pm1(&s);
    for (size_t i = 0; i < 10; i++)
        b3[i] = uniform_pm1(&s);
    if (st == CN_OK)
        st = cn_model_init(m, 1, 28, 28, 1.0 / 255, 0, 255);
    if (st == CN_OK)
        st = cn_model_add_conv2d(m, 5, 5, 5, 2, 1, w1, b1, d);
    if (st == CN_OK)
        st = cn_model_add_square(m, d);
    if (st == CN_OK)
        st = cn_model_add_dense(m, 100, w2, b2, d);
    if (st == CN_OK)
        st = cn_model_add_square(m, d);
    if (st == CN_OK)
        st = cn_model_add_dense(m, 10, w3, b3, d);
    free(w1);
    free(w2);
    free(w3);
    return st;
}

/* The compile options of configuration c. */
static int compile_opts(cn_compile_opts_t *o, const opts_t *op, const conf_t *c, char *err,
                        size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->weight_bits = op->wbits;
    if (op->ncalib && !op->wbits_given) { /* the compiler's default: the width search */
        o->weight_bits = 0;
        o->calib = op->calib;
        o->calib_labels = op->calib_lab;
        o->ncalib = op->ncalib;
    }
    o->n = c->n ? c->n : op->n;
    o->t_bits = op->tbits;
    o->nt = op->moduli;
    o->q_bits = op->qbits;
    o->nq = op->nq;
    o->experimental.no_mod_switch = c->no_mod_switch;
    o->experimental.eager_relin = c->eager_relin;
    if (op->logq) {
        /* nq primes of qb bits and P of qb + 1 bits: the split nearest 44-bit primes */
        size_t best = 0;
        for (size_t nq = 1; nq <= 20; nq++) {
            const unsigned qb = (op->logq - 1) / (unsigned)(nq + 1);
            if (qb < 30 || qb > 60)
                continue;
            if (!best || abs((int)qb - 44) < abs((int)((op->logq - 1) / (best + 1)) - 44))
                best = nq;
        }
        if (!best) {
            snprintf(err, errlen, "--logq %u: no split into 30..60-bit primes", op->logq);
            return -1;
        }
        o->nq = best;
        o->q_bits = (op->logq - 1) / (unsigned)(best + 1);
    }
    if (c->forced) {
        o->n = c->f_n;
        o->nq = c->f_nq;
        o->q_bits = c->f_qbits;
        o->nt = c->f_nt;
        o->t_bits = c->f_tbits;
    }
    return 0;
}

/* --- a configuration's processes ------------------------------------------------------ */

/* Each configuration runs as two processes that share nothing but bytes, as a real
 * deployment: the client (keys, encryption, decryption, checks; it talks to the parent)
 * and the server (plan bytes, evaluation keys, batches). Each has its own heap and peak
 * memory; the server's time is measured inside the server process. */

static void heap_keep(void)
{
    /* a server keeps its heap: freed ciphertexts are reused by the next layer and batch
     * instead of going back to the system and faulting in again (docs/net.md, Memory) */
    mallopt(M_MMAP_THRESHOLD, 32 << 20); /* glibc's largest on 64-bit */
    mallopt(M_TRIM_THRESHOLD, -1);       /* never give the heap back */
}

/* What the server answers per batch. */
typedef struct {
    int status;
    double seconds;
    cn_server_timing_t tm;
} srv_ans_t;

/* The server process: loads the plan bytes (128-bit parameters only) and the evaluation
 * keys ('k'), evaluates batches ('b': answer + reply bytes), reports its peak RSS ('q'). */
static void server_main(int in, int out, const uint8_t *plan_bytes, size_t plan_len,
                        const conf_t *cf)
{
    heap_keep();
    cn_plan_t *plan = NULL;
    cn_server_t *s = NULL;
    uint8_t *buf = NULL;
    size_t cap = 0;
    uint64_t len;
    char tag;
    while (recv_msg(in, &tag, &buf, &cap, &len) == 0) {
        if (tag == 'k') {
            cn_net_diag_t d;
            int st = cn_plan_from_bytes(&plan, plan_bytes, plan_len, 0, &d);
            if (st == CN_OK)
                st = cn_server_create(&s, plan, buf, (size_t)len, cf->threads, NULL);
            if (st == CN_OK && cf->per_ct)
                st = cn_server_set_linear_mode(s, CN_LINEAR_PER_CIPHERTEXT);
            if (write_full(out, &st, sizeof st))
                break;
        } else if (tag == 'b') {
            srv_ans_t a;
            memset(&a, 0, sizeof a);
            uint8_t *reply = NULL;
            size_t rl = 0;
            const double t0 = now_s();
            a.status = s ? cn_server_eval(&reply, &rl, s, buf, (size_t)len, &a.tm, NULL)
                         : CN_ERR_NO_KEY;
            a.seconds = now_s() - t0;
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
    cn_server_free(s);
    cn_plan_free(plan);
    free(buf);
    _exit(0);
}

typedef struct {
    cn_plan_t *plan;
    cn_client_t *c;
    int to_srv, from_srv;
    pid_t srv;
    int64_t *x;
    cn_int128 *ref, *got;
    size_t images;
    uint8_t *reply;
    size_t reply_cap;
} worker_t;

/* outputs equal to the integer network's (mod T when the plan wraps) */
static int outputs_exact(const worker_t *w)
{
    const cn_bfv_params_t *prm = cn_plan_params(w->plan);
    const size_t cnt = w->images * cn_plan_outputs(w->plan);
    for (size_t i = 0; i < cnt; i++) {
        const cn_int128 diff = w->got[i] - w->ref[i];
        if (!cn_plan_wraps(w->plan) && diff != 0)
            return 0;
        for (size_t k = 0; k < prm->nt; k++)
            if (diff % (cn_int128)prm->t[k] != 0)
                return 0;
    }
    return 1;
}

/* cn_plan_compile; a compile with the width search (calibration inputs) runs in a child
 * process that hands back the plan's bytes: the search's OpenMP threads would make every
 * later fork's child hang in its first parallel region (libgomp is not fork-safe), and
 * this program forks a server per configuration. */
static cn_status compile_plan(cn_plan_t **p, const cn_model_t *m, const cn_compile_opts_t *o,
                              cn_net_diag_t *d)
{
    if (!o->ncalib)
        return cn_plan_compile(p, m, o, d);
    int fd[2];
    if (pipe(fd))
        return CN_ERR_IO;
    fflush(NULL);
    const pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return CN_ERR_IO;
    }
    if (pid == 0) { /* child: status, diagnostic, length, bytes */
        close(fd[0]);
        cn_plan_t *cp = NULL;
        uint8_t *b = NULL;
        size_t len = 0;
        cn_status st = cn_plan_compile(&cp, m, o, d);
        if (st == CN_OK)
            st = cn_plan_to_bytes(&b, &len, cp);
        const int32_t code = (int32_t)st;
        const uint64_t l64 = st == CN_OK ? len : 0;
        int ok = write_full(fd[1], &code, sizeof code) == 0 &&
                 write_full(fd[1], d->msg, sizeof d->msg) == 0 &&
                 write_full(fd[1], &l64, sizeof l64) == 0 &&
                 (!l64 || write_full(fd[1], b, len) == 0);
        _exit(ok ? 0 : 1);
    }
    close(fd[1]);
    int32_t code = CN_ERR_IO;
    uint64_t len = 0;
    uint8_t *b = NULL;
    cn_status st = CN_ERR_IO;
    if (read_full(fd[0], &code, sizeof code) == 0 &&
        read_full(fd[0], d->msg, sizeof d->msg) == 0 &&
        read_full(fd[0], &len, sizeof len) == 0) {
        st = (cn_status)code;
        if (st == CN_OK && (len == 0 || len > ((uint64_t)1 << 34) || !(b = malloc(len))))
            st = CN_ERR_NO_MEMORY;
        if (st == CN_OK && read_full(fd[0], b, len) != 0)
            st = CN_ERR_IO;
    }
    close(fd[0]);
    int ws;
    waitpid(pid, &ws, 0);
    if (st == CN_OK)
        st = cn_plan_from_bytes(p, b, len, 0, d);
    free(b);
    return st;
}

/* Compiles the plan and starts the server process (before any thread of this process
 * starts: OpenMP's threads do not survive a fork). */
static void worker_setup(worker_t *w, ready_t *r, const cn_model_t *m, const opts_t *op,
                         const conf_t *cf)
{
    memset(w, 0, sizeof *w);
    memset(r, 0, sizeof *r);
    w->srv = -1;
    cn_compile_opts_t o;
    cn_net_diag_t d = {{0}};
    if (compile_opts(&o, op, cf, r->msg, sizeof r->msg)) {
        r->status = 1;
        return;
    }
    double t0 = now_s();
    cn_status st = compile_plan(&w->plan, m, &o, &d);
    r->compile_s = now_s() - t0;
    if (st != CN_OK) {
        snprintf(r->msg, sizeof r->msg, "compile: %s: %s", cn_strerror(st), d.msg);
        r->status = 1;
        return;
    }
    uint8_t *pb;
    size_t pl;
    int c2s[2], s2c[2];
    if (cn_plan_to_bytes(&pb, &pl, w->plan) != CN_OK || pipe(c2s) || pipe(s2c)) {
        snprintf(r->msg, sizeof r->msg, "plan bytes or pipes failed");
        r->status = 1;
        return;
    }
    w->srv = fork();
    if (w->srv == 0) {
        close(c2s[1]);
        close(s2c[0]);
        server_main(c2s[0], s2c[1], pb, pl, cf);
    }
    free(pb);
    close(c2s[0]);
    close(s2c[1]);
    w->to_srv = c2s[1];
    w->from_srv = s2c[0];
    if (w->srv < 0) {
        snprintf(r->msg, sizeof r->msg, "fork failed");
        r->status = 1;
        return;
    }
    heap_keep();
    const cn_bfv_params_t *prm = cn_plan_params(w->plan);
    const size_t full = prm->n;
    w->images = cf->images ? cf->images : op->images;
    if (!w->images || w->images > full)
        w->images = full;
    r->n = prm->n;
    r->images = w->images;
    r->log_qp = cn_bfv_params_log_qp(prm);
    r->nt = prm->nt < 8 ? prm->nt : 8;
    for (size_t k = 0; k < r->nt; k++)
        r->t[k] = prm->t[k];
    r->budget_est = cn_plan_output_budget(w->plan);
    r->wraps = cn_plan_wraps(w->plan);
    const size_t nin = cn_plan_inputs(w->plan), nout = cn_plan_outputs(w->plan);
    w->x = malloc(w->images * nin * sizeof *w->x);
    w->ref = malloc(w->images * nout * sizeof *w->ref);
    w->got = malloc(w->images * nout * sizeof *w->got);
    if (!w->x || !w->ref || !w->got) {
        snprintf(r->msg, sizeof r->msg, "out of memory");
        r->status = 1;
        return;
    }
    /* the same inputs for every configuration of a run */
    uint64_t s = op->seed ^ 0x5bd1e995u;
    for (size_t i = 0; i < w->images * nin; i++)
        w->x[i] = m->input_min +
                  (int64_t)(next_u64(&s) % (uint64_t)(m->input_max - m->input_min + 1));
    const uint8_t seed[CN_SEED_BYTES] = {7};
    uint8_t *keys = NULL;
    t0 = now_s();
    st = cn_client_create(&w->c, w->plan, seed, CN_RNG_INSECURE_ACK);
    if (st == CN_OK) {
        cn_client_set_threads(w->c, cf->threads);
        st = cn_client_eval_keys(&keys, &r->key_bytes, w->c);
    }
    r->keygen_s = now_s() - t0;
    int sst = CN_OK;
    if (st == CN_OK && (send_msg(w->to_srv, 'k', keys, r->key_bytes) ||
                        read_full(w->from_srv, &sst, sizeof sst)))
        sst = CN_ERR_IO;
    if (st == CN_OK)
        st = (cn_status)sst;
    free(keys);
    if (st == CN_OK)
        st = cn_plan_eval_plain(w->ref, w->plan, w->x, w->images);
    if (st != CN_OK) {
        snprintf(r->msg, sizeof r->msg, "setup: %s", cn_strerror(st));
        r->status = 1;
    }
}

/* One batch: encrypt, evaluate (the server process), decrypt, compare; the first also
 * fills r's sizes. */
static void worker_rep(worker_t *w, rep_t *rp, ready_t *r)
{
    memset(rp, 0, sizeof *rp);
    uint8_t *up = NULL;
    size_t ul = 0;
    uint64_t dl = 0;
    srv_ans_t a;
    memset(&a, 0, sizeof a);
    char tag;
    double t0 = now_s();
    cn_status st = cn_client_encrypt(&up, &ul, w->c, w->x, w->images, NULL);
    rp->enc = now_s() - t0;
    if (st == CN_OK &&
        (send_msg(w->to_srv, 'b', up, ul) || read_full(w->from_srv, &a, sizeof a) ||
         recv_msg(w->from_srv, &tag, &w->reply, &w->reply_cap, &dl)))
        st = CN_ERR_IO;
    if (st == CN_OK)
        st = (cn_status)a.status;
    rp->server = a.seconds;
    t0 = now_s();
    if (st == CN_OK)
        st = cn_client_decrypt(w->got, w->c, w->reply, (size_t)dl, w->images, NULL);
    rp->dec = now_s() - t0;
    if (st == CN_OK && r) {
        r->up_bytes = ul;
        r->down_bytes = (size_t)dl;
        r->nsteps = a.tm.nsteps < MAX_STEPS ? a.tm.nsteps : MAX_STEPS;
        for (size_t i = 0; i < r->nsteps; i++)
            snprintf(r->step[i], sizeof r->step[i], "%s", a.tm.name[i]);
        if (cn_client_reply_budget(&r->budget_measured, w->c, w->reply, (size_t)dl, NULL) !=
            CN_OK)
            r->budget_measured = -1;
    }
    if (st == CN_OK) {
        for (size_t i = 0; i < a.tm.nsteps && i < MAX_STEPS; i++)
            rp->steps[i] = a.tm.seconds[i];
        rp->exact = outputs_exact(w);
    } else {
        rp->status = 1;
        snprintf(rp->msg, sizeof rp->msg, "%s", cn_strerror(st));
    }
    free(up);
}

/* Stops the server process; its peak RSS, or -1. */
static double worker_free(worker_t *w)
{
    double peak = -1;
    if (w->srv > 0) {
        if (send_msg(w->to_srv, 'q', NULL, 0) || read_full(w->from_srv, &peak, sizeof peak))
            peak = -1;
        close(w->to_srv);
        close(w->from_srv);
        int wst;
        waitpid(w->srv, &wst, 0);
    }
    cn_client_free(w->c);
    cn_plan_free(w->plan);
    free(w->x);
    free(w->ref);
    free(w->got);
    free(w->reply);
    return peak;
}

/* The configuration's client process: sets up (starting the server process), runs the
 * first batch (sizes, budget) and reports ready, then runs one batch per 'r' on cmd_fd
 * and answers on res_fd; 'q' reports the two peak RSS figures and exits. */
static void worker_main(int cmd_fd, int res_fd, const cn_model_t *m, const opts_t *op,
                        const conf_t *cf)
{
    worker_t w;
    ready_t r;
    rep_t rp;
    memset(&rp, 0, sizeof rp);
    worker_setup(&w, &r, m, op, cf);
    if (r.status == 0) {
        worker_rep(&w, &rp, &r);
        if (rp.status) {
            r.status = 1;
            snprintf(r.msg, sizeof r.msg, "first batch: %s", rp.msg);
        }
    }
    if (write_full(res_fd, &r, sizeof r) || write_full(res_fd, &rp, sizeof rp))
        _exit(1);
    char cmd;
    while (read_full(cmd_fd, &cmd, 1) == 0 && cmd == 'r') {
        worker_rep(&w, &rp, NULL);
        if (write_full(res_fd, &rp, sizeof rp))
            _exit(1);
    }
    double peaks[2];
    peaks[1] = peak_rss();
    peaks[0] = worker_free(&w);
    (void)write_full(res_fd, peaks, sizeof peaks);
    _exit(0);
}

static int spawn(run_t *run, const cn_model_t *m, const opts_t *op)
{
    int cmd[2], res[2];
    if (pipe(cmd) || pipe(res))
        return -1;
    fflush(stdout);
    fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(cmd[1]);
        close(res[0]);
        worker_main(cmd[0], res[1], m, op, &run->conf);
    }
    close(cmd[0]);
    close(res[1]);
    run->pid = pid;
    run->cmd_fd = cmd[1];
    run->res_fd = res[0];
    return 0;
}

static void fail(run_t *run, const char *why)
{
    if (!run->failed)
        snprintf(run->why, sizeof run->why, "%s", why);
    run->failed = 1;
}

static void finish(run_t *run)
{
    if (run->pid <= 0)
        return;
    if (!run->failed) {
        const char q = 'q';
        double peaks[2];
        if (write_full(run->cmd_fd, &q, 1) || read_full(run->res_fd, peaks, sizeof peaks))
            fail(run, "the configuration's process died");
        run->peak_rss = peaks[0];
        run->client_peak_rss = peaks[1];
    } else {
        kill(run->pid, SIGKILL);
    }
    close(run->cmd_fd);
    close(run->res_fd);
    int wst;
    waitpid(run->pid, &wst, 0);
    run->pid = 0;
}

/* Runs the configurations of one group: all alive together, reps interleaved. The
 * first batch of each process (reported with ready) pays for its fresh memory: it is
 * kept apart (first_batch_seconds), not counted in the statistics. */
static void run_group(run_t *runs, size_t nrun, int reps, const cn_model_t *m, const opts_t *op)
{
    for (size_t i = 0; i < nrun; i++) {
        if (spawn(&runs[i], m, op)) {
            fail(&runs[i], "fork failed");
            continue;
        }
        rep_t rp;
        if (read_full(runs[i].res_fd, &runs[i].ready, sizeof runs[i].ready) ||
            read_full(runs[i].res_fd, &rp, sizeof rp)) {
            fail(&runs[i], "the configuration's process died while setting up");
            finish(&runs[i]);
            continue;
        }
        if (runs[i].ready.status) {
            fail(&runs[i], runs[i].ready.msg);
            finish(&runs[i]);
            continue;
        }
        runs[i].cold = rp;
        fprintf(stderr,
                "throughput: [%s] %s: n = %zu, %zu images, first batch (not counted): "
                "server %.3f s\n",
                runs[i].conf.group, runs[i].conf.name, runs[i].ready.n, runs[i].ready.images,
                rp.server);
    }
    /* round robin, each round starting one configuration later (no configuration always
     * runs right after the same one) */
    for (int rep = 0; rep < reps; rep++)
        for (size_t k = 0; k < nrun; k++) {
            run_t *r = &runs[(k + (size_t)rep) % nrun];
            if (r->failed)
                continue;
            const char c = 'r';
            rep_t rp;
            if (write_full(r->cmd_fd, &c, 1) || read_full(r->res_fd, &rp, sizeof rp)) {
                fail(r, "the configuration's process died");
                continue;
            }
            if (rp.status) {
                fail(r, rp.msg);
                continue;
            }
            r->reps[r->nreps++] = rp;
            fprintf(stderr, "throughput: [%s] %s: batch %d/%d: server %.3f s\n", r->conf.group,
                    r->conf.name, rep + 1, reps, rp.server);
        }
    for (size_t i = 0; i < nrun; i++)
        finish(&runs[i]);
}

/* --- statistics and output ----------------------------------------------------------- */

typedef struct {
    double med, min, max;
} stat_t;

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median, min and max of v[0..k) (sorted in place) */
static stat_t stat_values(double *v, int k)
{
    stat_t s = {0, 0, 0};
    if (!k)
        return s;
    qsort(v, (size_t)k, sizeof *v, cmp_double);
    s.med = k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
    s.min = v[0];
    s.max = v[k - 1];
    return s;
}

/* field at byte offset off of each rep (a double) */
static stat_t stat_of(const run_t *r, size_t off)
{
    double v[MAX_REPS];
    for (int i = 0; i < r->nreps; i++)
        v[i] = *(const double *)((const char *)&r->reps[i] + off);
    return stat_values(v, r->nreps);
}

/* encrypt + server + decrypt of each rep */
static stat_t stat_e2e(const run_t *r)
{
    double v[MAX_REPS];
    for (int i = 0; i < r->nreps; i++)
        v[i] = r->reps[i].enc + r->reps[i].server + r->reps[i].dec;
    return stat_values(v, r->nreps);
}

static int run_exact(const run_t *r)
{
    int ok = r->cold.exact;
    for (int i = 0; i < r->nreps; i++)
        ok &= r->reps[i].exact;
    return ok;
}

/* {"median", "min", "max", "spread_pct"} of a statistic in seconds */
static json_t *json_stat(stat_t s)
{
    const double spread = s.med > 0 ? 100.0 * (s.max - s.min) / s.med : 0;
    return json_pack("{s:o, s:o, s:o, s:o}", "median", cn_bench_json_real(s.med, 4), "min",
                     cn_bench_json_real(s.min, 4), "max", cn_bench_json_real(s.max, 4),
                     "spread_pct", cn_bench_json_real(spread, 1));
}

/* The machine: CPU model and the SIMD flags the kernels care about, from /proc/cpuinfo. */
static void machine(char *model, size_t mlen, char *flags, size_t flen)
{
    snprintf(model, mlen, "unknown");
    flags[0] = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[8192];
    int got_model = 0, got_flags = 0;
    while (fgets(line, sizeof line, f) && !(got_model && got_flags)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        char *v = colon + 1;
        while (*v == ' ')
            v++;
        v[strcspn(v, "\n")] = 0;
        if (!got_model && !strncmp(line, "model name", 10)) {
            snprintf(model, mlen, "%s", v);
            got_model = 1;
        } else if (!got_flags && !strncmp(line, "flags", 5)) {
            static const char *want[] = {"avx2",       "avx512f",  "avx512dq",
                                         "avx512bw",   "avx512vl", "avx512ifma",
                                         "avx512vbmi", "bmi2",     "adx"};
            for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
                char pat[32];
                snprintf(pat, sizeof pat, " %s ", want[i]);
                char padded[8200];
                snprintf(padded, sizeof padded, " %s ", v);
                if (strstr(padded, pat) && strlen(flags) + strlen(want[i]) + 2 < flen) {
                    strcat(flags, flags[0] ? " " : "");
                    strcat(flags, want[i]);
                }
            }
            got_flags = 1;
        }
    }
    fclose(f);
}

/* the baseline of run i's group (the runs of a group are adjacent) */
static const run_t *baseline_of(const run_t *runs, size_t nrun, size_t i)
{
    const char *g = runs[i].conf.group;
    size_t a = i, b = i;
    while (a > 0 && !strcmp(runs[a - 1].conf.group, g))
        a--;
    while (b < nrun && !strcmp(runs[b].conf.group, g))
        b++;
    for (size_t k = a; k < b; k++) {
        const char *nm = runs[k].conf.name;
        if (strstr(nm, "baseline") || !strcmp(nm, "threads=1") || !strcmp(nm, "fill=full") ||
            !strcmp(nm, "n=8192"))
            return &runs[k];
    }
    return &runs[a];
}

/* run i's object of the file's "runs" (docs/benchmarks.md lists the fields); NULL when
 * out of memory */
static json_t *json_run(const run_t *runs, size_t nrun, size_t i)
{
    const run_t *r = &runs[i];
    json_t *o = json_pack(
        "{s:o, s:o, s:i, s:b, s:b, s:s}", "group", cn_bench_json_string(r->conf.group), "name",
        cn_bench_json_string(r->conf.name), "threads", r->conf.threads, "mod_switch",
        !r->conf.no_mod_switch, "lazy_relin", !r->conf.eager_relin, "linear",
        r->conf.per_ct ? "per_ciphertext" : "blocked");
    if (r->failed) {
        if (json_object_set_new(o, "error", cn_bench_json_string(r->why))) {
            json_decref(o);
            return NULL;
        }
        return o;
    }
    const ready_t *rd = &r->ready;
    int bad = 0;
    json_t *moduli = json_array(), *layers = json_array();
    for (size_t k = 0; k < rd->nt; k++)
        bad |= json_array_append_new(moduli, json_integer((json_int_t)rd->t[k]));
    for (size_t s = 0; s < rd->nsteps; s++) {
        const stat_t st = stat_of(r, offsetof(rep_t, steps) + s * sizeof(double));
        bad |= json_array_append_new(layers, json_pack("{s:o, s:o, s:o, s:o}", "name",
                                                       cn_bench_json_string(rd->step[s]),
                                                       "median", cn_bench_json_real(st.med, 4),
                                                       "min", cn_bench_json_real(st.min, 4),
                                                       "max", cn_bench_json_real(st.max, 4)));
    }
    const stat_t srv = stat_of(r, offsetof(rep_t, server)), e2e = stat_e2e(r);
    const double img = (double)rd->images;
    bad |= json_object_update_new(
        o,
        json_pack("{s:I, s:I, s:o, s:o, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "images",
                  (json_int_t)rd->images, "n", (json_int_t)rd->n, "log_q",
                  cn_bench_json_real(rd->log_qp, 1), "plaintext_moduli", moduli, "batches",
                  r->nreps, "layers", layers, "server_seconds", json_stat(srv),
                  "encrypt_seconds", json_stat(stat_of(r, offsetof(rep_t, enc))),
                  "decrypt_seconds", json_stat(stat_of(r, offsetof(rep_t, dec))),
                  "end_to_end_seconds", json_stat(e2e), "first_batch_server_seconds",
                  cn_bench_json_real(r->cold.server, 4), "predictions_per_hour",
                  cn_bench_json_round(3600 * img / srv.med), "end_to_end_predictions_per_hour",
                  cn_bench_json_round(3600 * img / e2e.med)));
    const run_t *base = baseline_of(runs, nrun, i);
    if (!base->failed && base->nreps) {
        const stat_t bs = stat_of(base, offsetof(rep_t, server));
        bad |= json_object_update_new(
            o, json_pack("{s:o, s:o}", "baseline", cn_bench_json_string(base->conf.name),
                         "server_time_ratio", cn_bench_json_real(srv.med / bs.med, 3)));
    }
    bad |= json_object_update_new(
        o, json_pack("{s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:o, s:i, s:b, s:b}",
                     "compile_seconds", cn_bench_json_real(rd->compile_s, 3), "keygen_seconds",
                     cn_bench_json_real(rd->keygen_s, 3), "peak_rss_bytes",
                     cn_bench_json_round(r->peak_rss), "client_peak_rss_bytes",
                     cn_bench_json_round(r->client_peak_rss), "upload_bytes",
                     (json_int_t)rd->up_bytes, "download_bytes", (json_int_t)rd->down_bytes,
                     "eval_key_bytes", (json_int_t)rd->key_bytes, "budget_estimate",
                     cn_bench_json_real(rd->budget_est, 1), "budget_measured",
                     rd->budget_measured, "exact", run_exact(r), "mod_t_only", rd->wraps));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The run's JSON file (docs/benchmarks.md), written with jansson. */
static cn_status write_json(FILE *f, const run_t *runs, size_t nrun, const opts_t *op, int reps,
                            const char *network, int cores)
{
    char model[256], flags[256], date[32];
    machine(model, sizeof model, flags, sizeof flags);
    const time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    json_t *arr = json_array();
    int bad = 0;
    for (size_t i = 0; i < nrun; i++)
        bad |= json_array_append_new(arr, json_run(runs, nrun, i));
    json_t *doc =
        json_pack("{s:s, s:i, s:s, s:o, s:i, s:i, s:{s:o, s:i, s:o, s:s}, s:o}", "bench",
                  "throughput", "format", CN_BENCH_THROUGHPUT_FORMAT, "date", date, "network",
                  cn_bench_json_string(network), "weight_bits",
                  op->ncalib && !op->wbits_given ? 0 : (int)op->wbits, "reps", reps, "machine",
                  "cpu", cn_bench_json_string(model), "cores", cores, "flags",
                  cn_bench_json_string(flags), "ntt_kernel", cn_ntt_kernel_name(), "runs", arr);
    const cn_status st = bad ? CN_ERR_NO_MEMORY : cn_bench_json_write(f, doc);
    json_decref(doc);
    return st;
}

static void print_steps(const run_t *r)
{
    const ready_t *rd = &r->ready;
    printf("\n%s, %s: %zu images, %d threads, n = %zu, log2(qP) = %.1f, %zu plaintext "
           "moduli (median, min, max of %d batches)\n",
           r->conf.group, r->conf.name, rd->images, r->conf.threads, rd->n, rd->log_qp, rd->nt,
           r->nreps);
    printf("  %-14s %9s %9s %9s\n", "step", "median s", "min", "max");
    for (size_t s = 0; s < rd->nsteps; s++) {
        const stat_t st = stat_of(r, offsetof(rep_t, steps) + s * sizeof(double));
        printf("  %-14s %9.3f %9.3f %9.3f\n", rd->step[s], st.med, st.min, st.max);
    }
    const stat_t srv = stat_of(r, offsetof(rep_t, server));
    printf("  %-14s %9.3f %9.3f %9.3f\n", "server total", srv.med, srv.min, srv.max);
    printf("  (the process's first batch, not counted: server %.3f s)\n", r->cold.server);
    const stat_t enc = stat_of(r, offsetof(rep_t, enc)), dec = stat_of(r, offsetof(rep_t, dec));
    printf("  client: keygen %.3f s, encrypt %.3f s, decrypt %.3f s\n", rd->keygen_s, enc.med,
           dec.med);
    printf("  bytes: up %zu, down %zu, evaluation keys %zu; peak RSS: server %.0f MiB, client "
           "%.0f MiB\n",
           rd->up_bytes, rd->down_bytes, rd->key_bytes, r->peak_rss / 1048576.0,
           r->client_peak_rss / 1048576.0);
    printf("  noise budget of the outputs: %d bits measured, %.1f estimated (lower bound)\n",
           rd->budget_measured, rd->budget_est);
    printf("  decrypted outputs %s the integer network on every slot%s\n",
           run_exact(r) ? "match" : "DO NOT match", rd->wraps ? " (mod T)" : "");
}

static void print_table(const run_t *runs, size_t nrun)
{
    printf("\n%-8s %-28s %6s %7s %9s %9s %6s %11s %11s %8s %8s %8s\n", "group", "configuration",
           "n", "images", "server s", "spread", "ratio", "server/h", "e2e/h", "peak MiB",
           "up MB", "down MB");
    for (size_t i = 0; i < nrun; i++) {
        const run_t *r = &runs[i];
        if (r->failed) {
            printf("%-8s %-28s  not run: %s\n", r->conf.group, r->conf.name, r->why);
            continue;
        }
        const run_t *base = baseline_of(runs, nrun, i);
        const stat_t srv = stat_of(r, offsetof(rep_t, server)), e2e = stat_e2e(r);
        const double ratio =
            base->failed ? 0 : srv.med / stat_of(base, offsetof(rep_t, server)).med;
        const double img = (double)r->ready.images;
        printf("%-8s %-28s %6zu %7zu %9.3f %8.1f%% %6.2f %11.0f %11.0f %8.0f %8.1f %8.1f%s\n",
               r->conf.group, r->conf.name, r->ready.n, r->ready.images, srv.med,
               100.0 * (srv.max - srv.min) / srv.med, ratio, 3600 * img / srv.med,
               3600 * img / e2e.med, r->peak_rss / 1048576.0, (double)r->ready.up_bytes / 1e6,
               (double)r->ready.down_bytes / 1e6, run_exact(r) ? "" : "  WRONG OUTPUTS");
    }
    printf("(ratio: server time over the group's baseline: threads=1, fill=full, n=8192, "
           "baseline; spread: (max - min) / median)\n");
}

/* --- main ---------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(
        stderr,
        "usage: throughput [--model FILE] [--threads T] [--images N] [--reps R]\n"
        "                  [--weight-bits W] [--t-bits B] [--moduli K] [--n N] [--logq L]\n"
        "                  [--q-bits B] [--nq K] [--seed S] [--sweep LIST]\n"
        "                  [--calib N [--data DIR]] [--json | --json-file F]\n"
        "  --model: a model file (e.g. examples/models/cryptonets_mnist.cnm) instead of\n"
        "  the random-weight CryptoNets shape; --weight-bits still applies (default 5)\n"
        "  --reps: batches per configuration (median, min and max reported; default 3)\n"
        "  --images: images in the batch (default: a full batch of n)\n"
        "  --t-bits/--moduli force the plaintext side (e.g. --t-bits 20 --moduli 1, as\n"
        "  other libraries' one-modulus runs; outputs then match mod T only), --n and\n"
        "  --logq the ring and the ciphertext modulus (log2 of q times P)\n"
        "  --sweep: comma-separated groups of threads, fill, n, opt (or all), each run\n"
        "  in one process per configuration with interleaved batches and reported as\n"
        "  ratios to the group's baseline\n"
        "  --calib N: with --model, the compiler's default choice of weight widths: the\n"
        "  width search on the first N labelled MNIST training images of DIR (data/mnist),\n"
        "  as examples/mnist_private (5000); --weight-bits then forces a width instead\n"
        "  --json: JSON on stdout instead of tables; --json-file F: tables on stdout and\n"
        "  JSON in F\n");
    exit(2);
}

/* --calib: the first op->ncalib MNIST training images of op->data_dir (and their labels)
 * as the model's raw inputs (pixel >> (8 - b) for a model on [0, 2^b - 1], as the
 * trainer quantized them); 0, or 1 with the reason on stderr. */
static int load_calibration(opts_t *op, const cn_model_t *m)
{
    const char *dir = op->data_dir ? op->data_dir : "data/mnist";
    int bits = 0;
    while (bits < 8 && ((int64_t)1 << bits) - 1 < m->input_max)
        bits++;
    if (!op->model_path || m->input_min != 0 || ((int64_t)1 << bits) - 1 != m->input_max ||
        cn_model_inputs(m) != 784) {
        fprintf(stderr, "throughput: --calib needs --model, a 784-input MNIST model on "
                        "inputs [0, 2^b - 1] with b <= 8\n");
        return 1;
    }
    cn_idx_t img = {0}, lab = {0};
    cn_net_diag_t d = {{0}};
    char pi[1024], pl[1024];
    snprintf(pi, sizeof pi, "%s/train-images-idx3-ubyte", dir);
    snprintf(pl, sizeof pl, "%s/train-labels-idx1-ubyte", dir);
    if (cn_idx_load(&img, pi, &d) != CN_OK || cn_idx_load(&lab, pl, &d) != CN_OK) {
        fprintf(stderr, "throughput: %s (`make data` fetches MNIST)\n", d.msg);
        cn_idx_clear(&img);
        return 1;
    }
    int st = 0;
    if (img.ndims != 3 || img.dims[1] * img.dims[2] != 784 || lab.ndims != 1 ||
        lab.dims[0] != img.dims[0] || op->ncalib > img.dims[0]) {
        fprintf(stderr,
                "throughput: %s: expected at least %zu images of 28 x 28 and as "
                "many labels\n",
                dir, op->ncalib);
        st = 1;
    }
    op->calib = st ? NULL : malloc(op->ncalib * 784 * sizeof *op->calib);
    op->calib_lab = st ? NULL : malloc(op->ncalib * sizeof *op->calib_lab);
    if (!st && (!op->calib || !op->calib_lab)) {
        fprintf(stderr, "throughput: out of memory\n");
        st = 1;
    }
    for (size_t i = 0; !st && i < op->ncalib * 784; i++)
        op->calib[i] = img.data[i] >> (8 - bits);
    for (size_t i = 0; !st && i < op->ncalib; i++)
        op->calib_lab[i] = lab.data[i];
    cn_idx_clear(&img);
    cn_idx_clear(&lab);
    return st;
}

/* word is one of the comma-separated items of list */
static int has_word(const char *list, const char *word)
{
    const size_t l = strlen(word);
    for (const char *p = list; *p;) {
        const size_t k = strcspn(p, ",");
        if (k == l && !strncmp(p, word, l))
            return 1;
        p += k + (p[k] == ',');
    }
    return 0;
}

static size_t add_conf(conf_t *c, size_t k, const char *group, const char *name, int threads)
{
    if (k >= MAX_CONF)
        return k;
    memset(&c[k], 0, sizeof c[k]);
    snprintf(c[k].group, sizeof c[k].group, "%s", group);
    snprintf(c[k].name, sizeof c[k].name, "%s", name);
    c[k].threads = threads;
    return k + 1;
}

int main(int argc, char **argv)
{
    opts_t op = {.wbits = 5, .seed = 0x9e3779b97f4a7c15ull};
    int json = 0, reps = 3;
    const char *json_file = NULL, *sweep = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) {
            json = 1;
            continue;
        }
        if (!v)
            usage();
        i++;
        char *end;
        const long long num = strtoll(v, &end, 0);
        const int isnum = *end == 0 && num >= 0;
        if (!strcmp(a, "--model"))
            op.model_path = v;
        else if (!strcmp(a, "--json-file"))
            json_file = v;
        else if (!strcmp(a, "--sweep"))
            sweep = v;
        else if (!strcmp(a, "--data"))
            op.data_dir = v;
        else if (!isnum)
            usage();
        else if (!strcmp(a, "--threads"))
            op.threads = (int)num;
        else if (!strcmp(a, "--images"))
            op.images = (size_t)num;
        else if (!strcmp(a, "--weight-bits")) {
            op.wbits = (unsigned)num;
            op.wbits_given = 1;
        } else if (!strcmp(a, "--calib"))
            op.ncalib = (size_t)num;
        else if (!strcmp(a, "--t-bits"))
            op.tbits = (unsigned)num;
        else if (!strcmp(a, "--moduli"))
            op.moduli = (size_t)num;
        else if (!strcmp(a, "--n"))
            op.n = (size_t)num;
        else if (!strcmp(a, "--logq"))
            op.logq = (unsigned)num;
        else if (!strcmp(a, "--q-bits"))
            op.qbits = (unsigned)num;
        else if (!strcmp(a, "--nq"))
            op.nq = (size_t)num;
        else if (!strcmp(a, "--reps"))
            reps = num < 1 ? 1 : num > MAX_REPS ? MAX_REPS : (int)num;
        else if (!strcmp(a, "--seed"))
            op.seed = (uint64_t)strtoull(v, NULL, 0);
        else
            usage();
    }
    /* a configuration's process that died makes writes to it fail (EPIPE), not kill us */
    signal(SIGPIPE, SIG_IGN);
    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    const int cores = ncpu > 0 ? (int)ncpu : 1;
    const int threads = op.threads > 0 ? op.threads : cores;

    /* the model, built once here (no threads are started before the fork) */
    cn_model_t m;
    cn_net_diag_t d = {{0}};
    cn_status st =
        op.model_path ? cn_model_load(&m, op.model_path, &d) : random_model(&m, op.seed, &d);
    if (st != CN_OK) {
        fprintf(stderr, "throughput: model: %s: %s\n", cn_strerror(st), d.msg);
        return 1;
    }

    if (op.ncalib && load_calibration(&op, &m))
        return 1;

    conf_t conf[MAX_CONF];
    size_t nconf = 0;
    if (!sweep) {
        nconf = add_conf(conf, 0, "single", "as given", threads);
    } else {
        const int all = has_word(sweep, "all");
        int known = all;
        char nm[32];
        if (all || has_word(sweep, "threads")) {
            known = 1;
            for (int t = 1;; t = t * 2 < cores ? t * 2 : cores) {
                snprintf(nm, sizeof nm, "threads=%d", t);
                nconf = add_conf(conf, nconf, "threads", nm, t);
                if (t >= cores)
                    break;
            }
        }
        if (all || has_word(sweep, "fill")) {
            known = 1;
            static const size_t fills[] = {1, 64, 1024, 0};
            for (size_t i = 0; i < 4; i++) {
                if (fills[i])
                    snprintf(nm, sizeof nm, "fill=%zu", fills[i]);
                else
                    snprintf(nm, sizeof nm, "fill=full");
                nconf = add_conf(conf, nconf, "fill", nm, threads);
                conf[nconf - 1].images = fills[i];
            }
        }
        if (all || has_word(sweep, "n")) {
            known = 1;
            for (size_t n = 8192; n <= 16384; n *= 2) {
                snprintf(nm, sizeof nm, "n=%zu", n);
                nconf = add_conf(conf, nconf, "n", nm, threads);
                conf[nconf - 1].n = n;
            }
        }
        if (all || has_word(sweep, "opt")) {
            known = 1;
            nconf = add_conf(conf, nconf, "opt", "baseline (all on)", threads);
            nconf = add_conf(conf, nconf, "opt", "no modulus switching", threads);
            conf[nconf - 1].no_mod_switch = 1;
            nconf = add_conf(conf, nconf, "opt", "eager relinearization", threads);
            conf[nconf - 1].eager_relin = 1;
            nconf = add_conf(conf, nconf, "opt", "one ciphertext at a time", threads);
            conf[nconf - 1].per_ct = 1;
        }
        for (const char *p = sweep; *p;) {
            const size_t k = strcspn(p, ",");
            static const char *words[] = {"all", "threads", "fill", "n", "opt"};
            int ok = 0;
            for (size_t w = 0; w < 5; w++)
                ok |= k == strlen(words[w]) && !strncmp(p, words[w], k);
            if (!ok) {
                fprintf(stderr, "throughput: --sweep: unknown group '%.*s'\n", (int)k, p);
                usage();
            }
            p += k + (p[k] == ',');
        }
        if (!known)
            usage();
    }

    /* the plan of the first configuration, readable, before the runs */
    if (!json) {
        cn_compile_opts_t o;
        cn_plan_t *p;
        char err[200];
        if (compile_opts(&o, &op, &conf[0], err, sizeof err) == 0 &&
            compile_plan(&p, &m, &o, &d) == CN_OK) {
            cn_plan_print(p, stdout);
            cn_plan_free(p);
        }
    }
    /* the opt group runs at the parameters the compiler picks with every optimization on
     * (compiled here: the compiler starts no threads, so the fork stays safe) */
    for (size_t i = 0; i < nconf; i++) {
        if (strcmp(conf[i].group, "opt"))
            continue;
        cn_compile_opts_t o;
        cn_plan_t *p;
        char err[200];
        conf_t all_on = conf[i];
        all_on.no_mod_switch = all_on.eager_relin = all_on.per_ct = 0;
        if (compile_opts(&o, &op, &all_on, err, sizeof err) ||
            compile_plan(&p, &m, &o, &d) != CN_OK)
            break; /* each configuration reports its own refusal */
        const cn_bfv_params_t *prm = cn_plan_params(p);
        for (size_t j = i; j < nconf && !strcmp(conf[j].group, "opt"); j++) {
            conf[j].forced = 1;
            conf[j].f_n = prm->n;
            conf[j].f_nq = prm->nq;
            conf[j].f_qbits = (unsigned)(64 - __builtin_clzll(prm->q[0]));
            conf[j].f_nt = prm->nt;
            conf[j].f_tbits = (unsigned)(64 - __builtin_clzll(prm->t[0]));
        }
        cn_plan_free(p);
        break;
    }
    run_t *runs = calloc(nconf, sizeof *runs);
    if (!runs)
        return 1;
    for (size_t i = 0; i < nconf; i++)
        runs[i].conf = conf[i];
    for (size_t a = 0; a < nconf;) {
        size_t b = a;
        while (b < nconf && !strcmp(conf[b].group, conf[a].group))
            b++;
        run_group(runs + a, b - a, reps, &m, &op);
        a = b;
    }
    const char *network = op.model_path ? op.model_path : "cryptonets-shape-random";
    /* a configuration the compiler refuses (e.g. a ring too small) is reported, not an
     * error of a sweep; wrong outputs always are */
    int status = 0;
    for (size_t i = 0; i < nconf; i++)
        if (runs[i].failed ? !sweep : !run_exact(&runs[i]))
            status = 1;
    if (json) {
        if (write_json(stdout, runs, nconf, &op, reps, network, cores) != CN_OK) {
            fprintf(stderr, "throughput: writing the JSON failed\n");
            status = 1;
        }
    } else {
        for (size_t i = 0; i < nconf; i++)
            if (!runs[i].failed && (!sweep || !strcmp(runs[i].conf.group, "threads")))
                print_steps(&runs[i]);
        print_table(runs, nconf);
    }
    if (json_file) {
        FILE *f = fopen(json_file, "w");
        if (!f) {
            fprintf(stderr, "throughput: %s: %s\n", json_file, strerror(errno));
            status = 1;
        } else {
            const cn_status wst = write_json(f, runs, nconf, &op, reps, network, cores);
            if (fclose(f) || wst != CN_OK) {
                fprintf(stderr, "throughput: %s: write failed\n", json_file);
                status = 1;
            }
        }
    }
    for (size_t i = 0; i < nconf; i++)
        if (runs[i].failed)
            fprintf(stderr, "throughput: %s: not run: %s\n", runs[i].conf.name, runs[i].why);
    free(runs);
    cn_model_clear(&m);
    return status;
}
