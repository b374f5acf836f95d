/* bench/throughput: the CryptoNets-shaped network (conv 5x5 stride 2 with 5 maps on
 * 28x28 -> 845, square, dense 845 -> 100, square, dense 100 -> 10) with random weights,
 * encrypted end to end through the client/server API on one batch; prints time per step,
 * the parameters, predictions per hour, peak memory and bytes up and down, and checks the
 * decrypted outputs against the integer network on every slot. */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cryptonets/cryptonets.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t next_u64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double uniform_pm1(void) { return (double)(next_u64() >> 11) * 0x1p-52 - 1.0; }

static void usage(void)
{
    fprintf(stderr,
            "usage: throughput [--threads T] [--json] [--images N] [--weight-bits W]\n"
            "                  [--t-bits B] [--moduli K] [--n N] [--logq L] [--seed S]\n"
            "                  [--reps R] [--q-bits B] [--nq K] [--model FILE]\n"
            "  --model: a model file (e.g. examples/models/cryptonets_mnist.cnm) instead of\n"
            "  the random-weight CryptoNets shape; --weight-bits still applies\n"
            "  --reps: server evaluations of the batch (median per step reported; default 3)\n"
            "  --t-bits/--moduli force the plaintext side (e.g. --t-bits 20 --moduli 1, as\n"
            "  other libraries' one-modulus runs; outputs then match mod T only), --n and\n"
            "  --logq the ring and the ciphertext modulus (log2 of q times P).\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int threads = 0, json = 0, reps = 3;
    const char *model_path = NULL;
    size_t images = 0, n = 0, moduli = 0;
    unsigned wbits = 5, tbits = 0, logq = 0, qbits = 0;
    size_t nq_opt = 0;
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
        if (!strcmp(a, "--threads"))
            threads = atoi(v);
        else if (!strcmp(a, "--images"))
            images = (size_t)atol(v);
        else if (!strcmp(a, "--weight-bits"))
            wbits = (unsigned)atoi(v);
        else if (!strcmp(a, "--t-bits"))
            tbits = (unsigned)atoi(v);
        else if (!strcmp(a, "--moduli"))
            moduli = (size_t)atol(v);
        else if (!strcmp(a, "--n"))
            n = (size_t)atol(v);
        else if (!strcmp(a, "--logq"))
            logq = (unsigned)atoi(v);
        else if (!strcmp(a, "--q-bits"))
            qbits = (unsigned)atoi(v);
        else if (!strcmp(a, "--nq"))
            nq_opt = (size_t)atol(v);
        else if (!strcmp(a, "--model"))
            model_path = v;
        else if (!strcmp(a, "--reps"))
            reps = atoi(v) < 1 ? 1 : atoi(v);
        else if (!strcmp(a, "--seed"))
            rng_state = strtoull(v, NULL, 0);
        else
            usage();
    }
    /* a server keeps its heap: freed ciphertexts are reused by the next layer and batch
     * instead of going back to the system and faulting in again (docs/net.md, Memory) */
    mallopt(M_MMAP_THRESHOLD, 32 << 20); /* glibc's largest on 64-bit */
    mallopt(M_TRIM_THRESHOLD, -1);       /* never give the heap back */
#ifdef _OPENMP
    if (threads <= 0)
        threads = omp_get_num_procs();
#else
    threads = 1;
#endif

    /* the model: random float weights (about 1 in 8 zero) */
    cn_model_t m;
    cn_net_diag_t d = {{0}};
    double *w1 = malloc(5 * 25 * sizeof *w1), b1[5], *w2 = malloc(100 * 845 * sizeof *w2),
           b2[100], w3[1000], b3[10];
    for (size_t i = 0; i < 125; i++)
        w1[i] = uniform_pm1();
    for (size_t i = 0; i < 84500; i++)
        w2[i] = next_u64() % 8 ? uniform_pm1() : 0;
    for (size_t i = 0; i < 1000; i++)
        w3[i] = uniform_pm1();
    for (size_t i = 0; i < 5; i++)
        b1[i] = uniform_pm1();
    for (size_t i = 0; i < 100; i++)
        b2[i] = uniform_pm1();
    for (size_t i = 0; i < 10; i++)
        b3[i] = uniform_pm1();
    cn_status st = CN_OK;
    if (model_path) {
        /* a model file instead of the random-weight shape (inputs drawn in its range) */
        st = cn_model_load(&m, model_path, &d);
        free(w1);
        free(w2);
        if (st != CN_OK) {
            fprintf(stderr, "throughput: %s\n", d.msg);
            return 1;
        }
        goto compile;
    }
    st = cn_model_init(&m, 1, 28, 28, 1.0 / 255, 0, 255);
    if (st == CN_OK)
        st = cn_model_add_conv2d(&m, 5, 5, 5, 2, 1, w1, b1, &d);
    if (st == CN_OK)
        st = cn_model_add_square(&m, &d);
    if (st == CN_OK)
        st = cn_model_add_dense(&m, 100, w2, b2, &d);
    if (st == CN_OK)
        st = cn_model_add_square(&m, &d);
    if (st == CN_OK)
        st = cn_model_add_dense(&m, 10, w3, b3, &d);
    free(w1);
    free(w2);
    if (st != CN_OK) {
        fprintf(stderr, "throughput: model: %s: %s\n", cn_strerror(st), d.msg);
        return 1;
    }

compile:;
    cn_compile_opts_t o = {0};
    o.weight_bits = wbits;
    o.n = n;
    o.t_bits = tbits;
    o.nt = moduli;
    o.q_bits = qbits;
    o.nq = nq_opt;
    if (logq) {
        /* nq primes of qb bits and P of qb + 1 bits: the split nearest 44-bit primes */
        size_t best = 0;
        for (size_t nq = 1; nq <= 20; nq++) {
            const unsigned qb = (logq - 1) / (unsigned)(nq + 1);
            if (qb < 30 || qb > 60)
                continue;
            if (!best || abs((int)qb - 44) < abs((int)((logq - 1) / (best + 1)) - 44))
                best = nq;
        }
        if (!best) {
            fprintf(stderr, "throughput: --logq %u: no split into 30..60-bit primes\n", logq);
            return 2;
        }
        o.nq = best;
        o.q_bits = (logq - 1) / (unsigned)(best + 1);
    }
    cn_plan_t *plan;
    double t0 = now_s();
    st = cn_plan_compile(&plan, &m, &o, &d);
    const double t_compile = now_s() - t0;
    if (st != CN_OK) {
        fprintf(stderr, "throughput: compile: %s: %s\n", cn_strerror(st), d.msg);
        return 1;
    }
    const cn_bfv_params_t *prm = cn_plan_params(plan);
    if (!images || images > prm->n)
        images = prm->n;
    const size_t nin = cn_plan_inputs(plan), nout = cn_plan_outputs(plan);
    int64_t *x = malloc(images * nin * sizeof *x);
    cn_int128 *ref = malloc(images * nout * sizeof *ref), *got = malloc(images * nout * sizeof *got);
    for (size_t i = 0; i < images * nin; i++)
        x[i] = m.input_min +
               (int64_t)(next_u64() % (uint64_t)(m.input_max - m.input_min + 1));
    if (!json)
        cn_plan_print(plan, stdout);

    /* client keys, server, encrypt, evaluate, decrypt */
    uint8_t seed[CN_SEED_BYTES] = {7};
    cn_client_t *c;
    cn_server_t *s;
    uint8_t *keys, *up, *down;
    size_t keys_len, up_len, down_len;
    cn_server_timing_t tm;
    t0 = now_s();
    st = cn_client_create(&c, plan, seed, CN_RNG_INSECURE_ACK);
    if (st == CN_OK) {
        cn_client_set_threads(c, threads);
        st = cn_client_eval_keys(&keys, &keys_len, c);
    }
    const double t_keygen = now_s() - t0;
    if (st == CN_OK)
        st = cn_server_create(&s, plan, keys, keys_len, threads);
    t0 = now_s();
    if (st == CN_OK)
        st = cn_client_encrypt(&up, &up_len, c, x, images);
    const double t_enc = now_s() - t0;
    /* reps evaluations of the same batch; medians per step and in total */
    double *runs = calloc((size_t)reps * 33, sizeof *runs);
    for (int rep = 0; st == CN_OK && rep < reps; rep++) {
        if (rep > 0)
            free(down);
        t0 = now_s();
        st = cn_server_eval(&down, &down_len, s, up, up_len, &tm);
        runs[(size_t)rep * 33 + 32] = now_s() - t0;
        for (size_t i = 0; i < tm.nsteps && i < 32; i++)
            runs[(size_t)rep * 33 + i] = tm.seconds[i];
    }
    for (size_t i = 0; st == CN_OK && i <= 32; i++) {
        double v[64];
        int k = reps < 64 ? reps : 64;
        for (int r = 0; r < k; r++)
            v[r] = runs[(size_t)r * 33 + i];
        for (int a = 1; a < k; a++)
            for (int b = a; b > 0 && v[b - 1] > v[b]; b--) {
                double tmp = v[b];
                v[b] = v[b - 1];
                v[b - 1] = tmp;
            }
        const double med = k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
        if (i < 32)
            tm.seconds[i] = med;
        else
            runs[0] = med;
    }
    const double t_server = runs[0];
    free(runs);
    t0 = now_s();
    if (st == CN_OK)
        st = cn_client_decrypt(got, c, down, down_len, images);
    const double t_dec = now_s() - t0;
    int budget = -1;
    if (st == CN_OK)
        st = cn_client_reply_budget(&budget, c, down, down_len);
    if (st != CN_OK) {
        fprintf(stderr, "throughput: %s\n", cn_strerror(st));
        return 1;
    }
    if ((st = cn_plan_eval_plain(ref, plan, x, images)) != CN_OK)
        return 1;
    /* exact: equal, or equal mod T when the plaintext side was forced below the range */
    int exact = 1;
    for (size_t i = 0; i < images * nout; i++) {
        cn_int128 diff = got[i] - ref[i];
        if (cn_plan_wraps(plan)) {
            for (size_t k = 0; k < prm->nt; k++)
                if (diff % (cn_int128)prm->t[k] != 0)
                    exact = 0;
        } else if (diff != 0) {
            exact = 0;
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const double peak = (double)ru.ru_maxrss * 1024.0;
    const double e2e = t_enc + t_server + t_dec;
    const double pph = 3600.0 * (double)images / t_server;
    const double pph_e2e = 3600.0 * (double)images / e2e;
    double logqp = cn_bfv_params_log_qp(prm);
    if (json) {
        printf("{\"bench\":\"throughput\",\"network\":\"%s\",\"images\":%zu,"
               "\"threads\":%d,\"n\":%zu,\"log_q\":%.1f,\"plaintext_moduli\":[",
               model_path ? model_path : "cryptonets-shape-random", images, threads, prm->n, logqp);
        for (size_t k = 0; k < prm->nt; k++)
            printf("%s%llu", k ? "," : "", (unsigned long long)prm->t[k]);
        printf("],\"weight_bits\":%u,\"reps\":%d,\"layers\":[", wbits, reps);
        for (size_t i = 0; i < tm.nsteps; i++)
            printf("%s{\"name\":\"%s\",\"seconds\":%.4f}", i ? "," : "", tm.name[i], tm.seconds[i]);
        printf("],\"total_seconds\":%.4f,\"compile_seconds\":%.3f,\"keygen_seconds\":%.3f,"
               "\"encrypt_seconds\":%.3f,\"decrypt_seconds\":%.3f,\"predictions_per_hour\":%.0f,"
               "\"end_to_end_predictions_per_hour\":%.0f,\"peak_rss_bytes\":%.0f,"
               "\"upload_bytes\":%zu,\"download_bytes\":%zu,\"eval_key_bytes\":%zu,"
               "\"budget_estimate\":%.1f,\"budget_measured\":%d,"
               "\"exact\":%s,\"mod_t_only\":%s}\n",
               t_server, t_compile, t_keygen, t_enc, t_dec, pph, pph_e2e, peak, up_len,
               down_len, keys_len, cn_plan_output_budget(plan), budget, exact ? "true" : "false",
               cn_plan_wraps(plan) ? "true" : "false");
    } else {
        printf("\nthroughput: %zu images, %d threads, n = %zu, log2(qP) = %.1f (medians of %d "
               "server runs)\n", images, threads, prm->n, logqp, reps);
        printf("  %-14s %10s\n", "step", "seconds");
        for (size_t i = 0; i < tm.nsteps; i++)
            printf("  %-14s %10.3f\n", tm.name[i], tm.seconds[i]);
        printf("  %-14s %10.3f\n", "server total", t_server);
        printf("  client: keygen %.3f s, encrypt %.3f s, decrypt %.3f s\n", t_keygen, t_enc,
               t_dec);
        printf("  predictions per hour: %.0f (server), %.0f (end to end)\n", pph, pph_e2e);
        printf("  bytes: up %zu, down %zu, evaluation keys %zu; peak RSS %.0f MiB\n", up_len,
               down_len, keys_len, peak / 1048576.0);
        printf("  noise budget of the outputs: %d bits measured, %.1f estimated (lower bound)\n",
               budget, cn_plan_output_budget(plan));
        printf("  decrypted outputs %s the integer network on every slot%s\n",
               exact ? "match" : "DO NOT match", cn_plan_wraps(plan) ? " (mod T)" : "");
    }
    free(up);
    free(down);
    free(keys);
    free(x);
    free(ref);
    free(got);
    cn_server_free(s);
    cn_client_free(c);
    cn_plan_free(plan);
    cn_model_clear(&m);
    return exact ? 0 : 1;
}
