/* bench/calibrate: the per-operation costs of the compiler's cost model
 * (net/compiler/cost.c, docs/benchmarks.md "Calibrating the cost model").
 *
 *   bench/calibrate [--model F.cnm] [--weight-bits B] [--reps R] [N:QBITS:NQ ...]
 *   bench/calibrate --validate [--model F.cnm] [--reps R] WB:TB:NT:N:QB ...
 *
 * For each point (ring degree N, ciphertext primes of QBITS bits, NQ of them; default a
 * grid over 4096..16384, 44/49/54 bits, 2 and 5 primes) the model (default the
 * committed MNIST model) is compiled with those primes forced, one plaintext modulus of
 * 24 bits, no modulus switching and no security check (the costs do not depend on them),
 * and run in this process on one thread: client encryption of a full batch, then the
 * server's evaluation, R times after one not counted (the server's first batch faults its
 * memory in). Times are CPU seconds of the process
 * (CLOCK_PROCESS_CPUTIME_ID), so other processes on a loaded machine stretch them less
 * than wall-clock times; the server's CPU time is split over its steps in proportion to
 * their wall-clock times (cn_server_timing_t). Each step is printed in CPU seconds, with
 * seconds per ciphertext and prime for encryption, loading, saving and decryption; the
 * plan printout beside gives the widths and multiply-adds the squares, relinearizations
 * and linear layers are divided by (docs/benchmarks.md shows the fit).
 *
 * --validate compiles the model as a user would (128-bit security, modulus switching,
 * weight bits WB, t bits TB, NT plaintext moduli, ring degree N, q bits QB; 0 lets the
 * compiler choose; no memory bound) and prints the plan, the measured CPU seconds of the
 * server and the client against the cost model's estimates, and their ratios
 * (docs/benchmarks.md, "The cost model against measurements"). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "cryptonets/cryptonets.h"

static int cmp_double(const void *x, const void *y)
{
    const double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define MAX_REPS 15

/* One point: compiles with o, encrypts, evaluates reps times; prints one line per step
 * (grid) or the measured totals against the cost model's (validate). */
static int point(const cn_model_t *m, const cn_compile_opts_t *po, int validate, int reps)
{
    const cn_compile_opts_t o = *po;
    const size_t nq = o.nq;
    const unsigned qb = o.q_bits;
    cn_plan_t *plan;
    cn_net_diag_t d;
    cn_status st = cn_plan_compile(&plan, m, &o, &d);
    if (st != CN_OK) {
        fprintf(stderr, "calibrate: n %zu, %u bits x %zu: %s\n", o.n, qb, nq, d.msg);
        return 1;
    }
    const size_t nin = cn_plan_inputs(plan), nout = cn_plan_outputs(plan);
    const size_t n = cn_plan_params(plan)->n;
    int64_t *x = calloc(n * nin, sizeof *x);
    cn_int128 *out = calloc(n * nout, sizeof *out);
    static const uint8_t seed[32] = {7};
    cn_client_t *c = NULL;
    cn_server_t *s = NULL;
    uint8_t *keys = NULL, *batch = NULL, *reply = NULL;
    size_t klen = 0, blen = 0, rlen = 0;
    for (size_t i = 0; x && i < n * nin; i++)
        x[i] = (int64_t)(i * 2654435761u % 16);
    st = x && out ? cn_client_create(&c, plan, seed, CN_RNG_INSECURE_ACK) : CN_ERR_NO_MEMORY;
    if (st == CN_OK) {
        cn_client_set_threads(c, 1);
        st = cn_client_eval_keys(&keys, &klen, c);
    }
    if (st == CN_OK)
        st = cn_server_create(&s, plan, keys, klen, 1, NULL);
    double enc[MAX_REPS], dec[MAX_REPS], srvs[MAX_REPS], steps[CN_PLAN_MAX_OPS + 2][MAX_REPS];
    cn_server_timing_t tm = {0};
    /* rep -1 warms up (the server's first batch faults its memory in: not counted) */
    for (int r = -1; st == CN_OK && r < reps; r++) {
        free(batch);
        free(reply);
        batch = reply = NULL;
        double t = cpu_s();
        st = cn_client_encrypt(&batch, &blen, c, x, n, NULL);
        const double te = cpu_s() - t;
        t = cpu_s();
        if (st == CN_OK)
            st = cn_server_eval(&reply, &rlen, s, batch, blen, &tm, NULL);
        const double srv = cpu_s() - t;
        double wall = 0;
        for (size_t k = 0; k < tm.nsteps; k++)
            wall += tm.seconds[k];
        if (r >= 0)
            srvs[r] = srv;
        for (size_t k = 0; k < tm.nsteps && r >= 0; k++)
            steps[k][r] = wall > 0 ? srv * tm.seconds[k] / wall : 0;
        t = cpu_s();
        if (st == CN_OK) {
            cn_status e = cn_client_decrypt(out, c, reply, rlen, n, NULL);
            (void)e; /* undersized plans may decrypt wrongly: only the time counts */
        }
        if (r >= 0) {
            enc[r] = te;
            dec[r] = cpu_s() - t;
        }
    }
    if (st != CN_OK) {
        fprintf(stderr, "calibrate: n %zu, %u bits x %zu: %s\n", n, qb, nq, cn_strerror(st));
    } else if (validate) {
        double ms = 0;
        const double mt = cn_plan_cost_estimate(plan, &ms);
        const double e = median(enc, reps), dd = median(dec, reps), sv = median(srvs, reps);
        const cn_bfv_params_t *prm = cn_plan_params(plan);
        cn_plan_print(plan, stdout);
        printf("validate: n %zu, %zu primes, %zu plaintext moduli: measured server %.3f s, "
               "client %.3f s (encrypt %.3f, decrypt %.3f), total %.3f; model server %.3f s, "
               "total %.3f; model / measured: server %.2f, total %.2f; per 8192 inputs: "
               "server %.3f s measured, %.3f s model\n",
               n, prm->nq, prm->nt, sv, e + dd, e, dd, sv + e + dd, ms, mt, ms / sv,
               mt / (sv + e + dd), sv * 8192 / (double)n, ms * 8192 / (double)n);
        fflush(stdout);
    } else {
        const double L = (double)nq;
        const cn_bfv_params_t *prm = cn_plan_params(plan);
        printf("# n %zu, %zu primes of %u bits (largest %llu), %zu inputs, %zu outputs\n", n,
               nq, qb, (unsigned long long)prm->q[0], nin, nout);
        cn_plan_print(plan, stdout); /* the linear layers' outputs and multiply-adds */
        printf("%-6s %2s %-10s %12s %12s\n", "n", "L", "step", "cpu s", "unit");
        printf("%-6zu %2zu %-10s %12.4f %12.4e\n", n, nq, "encrypt", median(enc, reps),
               median(enc, reps) / ((double)nin * L));
        /* the squares, relinearizations and linear layers by their widths and sizes in
         * the plan printed above (no modulus switching: every op at NQ primes) */
        for (size_t k = 0; k < tm.nsteps; k++) {
            const double v = median(steps[k], reps);
            const char *nm = strchr(tm.name[k], ':') ? strchr(tm.name[k], ':') + 1 : tm.name[k];
            const double units = !strcmp(nm, "load")   ? (double)nin * L
                                 : !strcmp(nm, "save") ? (double)nout * L
                                                       : 0;
            printf("%-6zu %2zu %-10s %12.4f %12.4e\n", n, nq, tm.name[k], v,
                   units > 0 ? v / units : 0);
        }
        printf("%-6zu %2zu %-10s %12.4f %12.4e\n", n, nq, "decrypt", median(dec, reps),
               median(dec, reps) / ((double)nout * L));
        fflush(stdout);
    }
    cn_server_free(s);
    cn_client_free(c);
    cn_plan_free(plan);
    free(keys);
    free(batch);
    free(reply);
    free(x);
    free(out);
    return st != CN_OK;
}

int main(int argc, char **argv)
{
    const char *model = "examples/models/cryptonets_mnist.cnm";
    unsigned wb = 4;
    int reps = 3, rc = 0, npts = 0, validate = 0;
    static const char *grid[] = {"4096:44:2",  "4096:44:5",  "8192:44:2", "8192:44:5",
                                 "8192:49:4",  "8192:54:2",  "8192:54:5", "16384:44:2",
                                 "16384:44:5", "16384:54:2", "16384:54:5"};
    const char *pts[64];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--weight-bits") && i + 1 < argc)
            wb = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--validate"))
            validate = 1;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (argv[i][0] != '-' && npts < 64)
            pts[npts++] = argv[i];
        else {
            fprintf(stderr, "usage: bench/calibrate [--model F.cnm] [--weight-bits B] "
                            "[--reps R] [N:QBITS:NQ ...]\n"
                            "       bench/calibrate --validate [--model F.cnm] [--reps R] "
                            "WB:TB:NT:N:QB ...\n");
            return 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS)
        reps = 3;
    if (!npts && !validate)
        for (size_t i = 0; i < sizeof grid / sizeof grid[0]; i++)
            pts[npts++] = grid[i];
    cn_model_t m;
    cn_net_diag_t d;
    if (cn_model_load(&m, model, &d) != CN_OK) {
        fprintf(stderr, "calibrate: %s: %s\n", model, d.msg);
        return 1;
    }
    for (int i = 0; i < npts; i++) {
        size_t n, nq, nt;
        unsigned qb, tb, pwb;
        cn_compile_opts_t o = {0};
        if (validate) {
            /* WB:TB:NT:N:QB, 0 where the compiler chooses; 128-bit security */
            if (sscanf(pts[i], "%u:%u:%zu:%zu:%u", &pwb, &tb, &nt, &n, &qb) != 5) {
                fprintf(stderr, "calibrate: %s: not WB:TB:NT:N:QB\n", pts[i]);
                rc = 2;
                continue;
            }
            o.weight_bits = pwb;
            o.t_bits = tb;
            o.nt = nt;
            o.n = n;
            o.q_bits = qb;
            o.memory_limit = UINT64_MAX; /* what was asked, whatever its memory */
        } else {
            if (sscanf(pts[i], "%zu:%u:%zu", &n, &qb, &nq) != 3) {
                fprintf(stderr, "calibrate: %s: not N:QBITS:NQ\n", pts[i]);
                rc = 2;
                continue;
            }
            o.weight_bits = wb;
            o.n = n;
            o.q_bits = qb;
            o.nq = nq;
            o.t_bits = 24;
            o.nt = 1;
            o.security = CN_SEC_NONE_INSECURE;
            o.experimental.no_mod_switch = 1;
            o.experimental.allow_undersized = 1; /* the outputs are not checked */
        }
        rc |= point(&m, &o, validate, reps);
    }
    cn_model_clear(&m);
    return rc;
}
