/* bench/latency: the packed (latency) layout (cryptonets/packed.h) end to end on a model
 * (default: the committed MNIST model, weights of 4 bits as `make bench` compiles it),
 * for several batch sizes: the layout and parameters, key generation, the bytes of the
 * keys, of a request and of a reply, and per request the client's encryption, the
 * server's evaluation (with its steps) and the client's decryption, as median, min and
 * max over --reps requests whose batch sizes are interleaved round by round, and the
 * server's CPU seconds (all threads; on a loaded machine the steadier figure). Every
 * decrypted output is checked against the plan's integer network.
 *
 * One process plays both roles (bytes are still what passes between them); the first
 * request of each batch size is reported apart (a fresh server's first request).
 *   latency [--model F] [--weight-bits B] [--batches 1,2,8,64] [--reps R] [--threads T]
 *           [--n N] [--baby B] [--t-bits B] [--q-bits B] [--first-blocks F]
 *           (forced parameters and layout options; 0: chosen) */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cryptonets/cryptonets.h"

#define MAX_B 8
#define MAX_REPS 64

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void stats3(const double *v, size_t k, double *med, double *mn, double *mx)
{
    double s[MAX_REPS];
    memcpy(s, v, k * sizeof *s);
    qsort(s, k, sizeof *s, cmp_d);
    *med = k % 2 ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
    *mn = s[0];
    *mx = s[k - 1];
}

typedef struct {
    size_t batch;
    cn_packed_t *pk;
    cn_packed_client_t *c;
    cn_packed_server_t *s;
    size_t keys_len;
    double keygen_s, server_create_s;
    double enc[MAX_REPS], srv[MAX_REPS], dec[MAX_REPS], e2e[MAX_REPS], cpu[MAX_REPS];
    double first_e2e, first_srv;
    size_t up, down;
    cn_packed_stats_t st;
} conf_t;

int main(int argc, char **argv)
{
    const char *model = "examples/models/cryptonets_mnist.cnm";
    unsigned wbits = 4;
    size_t batches[MAX_B] = {1, 2, 8, 64}, nb = 4, reps = 5, n = 0, baby = 0, first_blocks = 0;
    unsigned t_bits = 0, q_bits = 0;
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--weight-bits") && i + 1 < argc)
            wbits = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = (size_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--n") && i + 1 < argc)
            n = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--t-bits") && i + 1 < argc)
            t_bits = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--q-bits") && i + 1 < argc)
            q_bits = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--baby") && i + 1 < argc)
            baby = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--first-blocks") && i + 1 < argc)
            first_blocks = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--batches") && i + 1 < argc) {
            nb = 0;
            for (char *p = strtok(argv[++i], ","); p && nb < MAX_B; p = strtok(NULL, ","))
                batches[nb++] = (size_t)atol(p);
        } else {
            fprintf(stderr,
                    "usage: latency [--model F] [--weight-bits B] [--batches 1,2,8,64] "
                    "[--reps R] [--threads T] [--n N] [--baby B] [--t-bits B] [--q-bits B] "
                    "[--first-blocks F]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS)
        reps = 5;
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, -1);
    cn_model_t m;
    cn_net_diag_t d;
    if (cn_model_load(&m, model, &d) != CN_OK) {
        fprintf(stderr, "latency: %s\n", d.msg);
        return 1;
    }
    cn_compile_opts_t co = {.weight_bits = wbits};
    cn_plan_t *plan;
    if (cn_plan_compile(&plan, &m, &co, &d) != CN_OK) {
        fprintf(stderr, "latency: compile: %s\n", d.msg);
        return 1;
    }
    const size_t nin = cn_plan_inputs(plan), nout = cn_plan_outputs(plan);
    size_t maxb = 1;
    for (size_t b = 0; b < nb; b++)
        if (batches[b] > maxb)
            maxb = batches[b];
    /* inputs: reproducible pseudo-random pixels in the model's range */
    int64_t *x = malloc(maxb * nin * sizeof *x);
    uint64_t z = 12345;
    for (size_t i = 0; i < maxb * nin; i++) {
        z = z * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (int64_t)((z >> 33) % (uint64_t)(m.input_max + 1));
    }
    cn_int128 *ref = malloc(maxb * nout * sizeof *ref),
              *got = malloc(maxb * nout * sizeof *got);
    if (cn_plan_eval_plain(ref, plan, x, maxb) != CN_OK)
        return 1;
    printf("latency: %s, weights of %u bits, outputs below 2^%.1f, %d threads\n", model, wbits,
           cn_plan_output_bits(plan), threads);
    conf_t *cf = calloc(nb, sizeof *cf);
    for (size_t b = 0; b < nb; b++) {
        conf_t *c = &cf[b];
        c->batch = batches[b];
        cn_packed_opts_t po = {.batch = c->batch,
                               .n = n,
                               .baby = baby,
                               .t_bits = t_bits,
                               .q_bits = q_bits,
                               .first_blocks = first_blocks};
        if (cn_packed_create(&c->pk, plan, &po, &d) != CN_OK) {
            fprintf(stderr, "latency: batch %zu: %s\n", c->batch, d.msg);
            return 1;
        }
        cn_packed_print(c->pk, stdout);
        double t0 = now_s();
        uint8_t *keys;
        if (cn_packed_client_create(&c->c, c->pk, NULL, 0) != CN_OK ||
            cn_packed_client_eval_keys(&keys, &c->keys_len, c->c) != CN_OK)
            return 1;
        cn_packed_client_set_threads(c->c, threads);
        c->keygen_s = now_s() - t0;
        t0 = now_s();
        if (cn_packed_server_create(&c->s, c->pk, keys, c->keys_len, threads, &d) != CN_OK) {
            fprintf(stderr, "latency: server: %s\n", d.msg);
            return 1;
        }
        c->server_create_s = now_s() - t0;
        free(keys);
    }
    for (size_t r = 0; r <= reps; r++)
        for (size_t b = 0; b < nb; b++) {
            conf_t *c = &cf[b];
            uint8_t *up, *down;
            double t0 = now_s();
            if (cn_packed_client_encrypt(&up, &c->up, c->c, x, c->batch, &d) != CN_OK)
                return 1;
            double t1 = now_s(), c1 = cpu_s();
            if (cn_packed_server_eval(&down, &c->down, c->s, up, c->up, &c->st, &d) != CN_OK) {
                fprintf(stderr, "latency: eval: %s\n", d.msg);
                return 1;
            }
            double t2 = now_s(), c2 = cpu_s();
            if (cn_packed_client_decrypt(got, c->c, down, c->down, c->batch, &d) != CN_OK) {
                fprintf(stderr, "latency: decrypt: %s\n", d.msg);
                return 1;
            }
            double t3 = now_s();
            for (size_t i = 0; i < c->batch * nout; i++)
                if (got[i] != ref[i]) {
                    fprintf(stderr, "latency: batch %zu: output %zu differs\n", c->batch, i);
                    return 1;
                }
            free(up);
            free(down);
            if (r == 0) {
                c->first_e2e = t3 - t0;
                c->first_srv = t2 - t1;
            } else {
                c->enc[r - 1] = t1 - t0;
                c->srv[r - 1] = t2 - t1;
                c->cpu[r - 1] = c2 - c1;
                c->dec[r - 1] = t3 - t2;
                c->e2e[r - 1] = t3 - t0;
            }
        }
    printf("\n%6s %9s %9s %9s %9s %9s %9s %9s %9s %9s %9s %8s %8s %9s\n", "batch", "e2e_med",
           "e2e_min", "e2e_max", "server", "srv_cpu", "encrypt", "decrypt", "first", "keys_MB",
           "up_MB", "down_MB", "rot", "img/h");
    for (size_t b = 0; b < nb; b++) {
        conf_t *c = &cf[b];
        double e, emn, emx, sv, smn, smx, en, dn, x1, x2, cp;
        stats3(c->e2e, reps, &e, &emn, &emx);
        stats3(c->srv, reps, &sv, &smn, &smx);
        stats3(c->enc, reps, &en, &x1, &x2);
        stats3(c->dec, reps, &dn, &x1, &x2);
        stats3(c->cpu, reps, &cp, &x1, &x2);
        printf("%6zu %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %9.1f %9.2f %8.2f %8zu "
               "%9.0f\n",
               c->batch, e, emn, emx, sv, cp, en, dn, c->first_e2e, c->keys_len / 1e6,
               c->up / 1e6, c->down / 1e6, c->st.rotations, 3600.0 * (double)c->batch / e);
        printf("       server steps (last request, summed over threads): first %.3f, "
               "squares %.3f, relin %.3f, diagonals %.3f, modswitch %.3f, load %.3f, "
               "save %.3f; keygen %.2f s, server setup %.2f s\n",
               c->st.first_s, c->st.square_s, c->st.relin_s, c->st.diag_s, c->st.modswitch_s,
               c->st.load_s, c->st.save_s, c->keygen_s, c->server_create_s);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak memory (both roles, all batch sizes) %.0f MiB\n", ru.ru_maxrss / 1024.0);
    for (size_t b = 0; b < nb; b++) {
        cn_packed_server_free(cf[b].s);
        cn_packed_client_free(cf[b].c);
        cn_packed_free(cf[b].pk);
    }
    free(cf);
    free(x);
    free(ref);
    free(got);
    cn_plan_free(plan);
    cn_model_clear(&m);
    return 0;
}
