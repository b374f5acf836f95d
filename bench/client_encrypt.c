/* bench/client_encrypt: the client's encryption of one batch (cn_client_encrypt), timed.
 *
 *   bench/client_encrypt PLAN [--threads T] [--reps R] [--images N] [--max V]
 *
 * Loads a plan (`cryptonets compile MODEL -o PLAN`), makes a client (keys from the OS),
 * and encrypts R batches (default 5) of N inputs (default: a full batch of n) whose raw
 * values are a fixed pattern in [0, V] (default 15, the MNIST model's input range) on T
 * threads (default 2). Prints the median, minimum and maximum of the wall-clock seconds
 * per batch and the median of the process's CPU seconds per batch (user and system, all
 * threads): on a shared machine the CPU time moves less than the wall time. Issue 17's
 * client encryption target is measured with it (docs/benchmarks.md). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cryptonets/cryptonets.h"

static double seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static int usage(void)
{
    fprintf(stderr, "usage: bench/client_encrypt PLAN [--threads T] [--reps R] [--images N] "
                    "[--max V]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    long threads = 2, reps = 5, images = 0, vmax = 15;
    for (int i = 1; i < argc; i++) {
        long *opt = strcmp(argv[i], "--threads") == 0  ? &threads
                    : strcmp(argv[i], "--reps") == 0   ? &reps
                    : strcmp(argv[i], "--images") == 0 ? &images
                    : strcmp(argv[i], "--max") == 0    ? &vmax
                                                       : NULL;
        if (opt && i + 1 < argc)
            *opt = strtol(argv[++i], NULL, 10);
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else
            return usage();
    }
    if (!path || threads < 1 || reps < 1 || reps > 1000 || images < 0 || vmax < 0)
        return usage();
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    uint8_t *bytes = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (len == cap && !(bytes = realloc(bytes, cap = cap ? 2 * cap : 1 << 20))) {
            fclose(f);
            return 1;
        }
        got = fread(bytes + len, 1, cap - len, f);
        len += got;
    } while (got);
    fclose(f);
    cn_net_diag_t d = {{0}};
    cn_plan_t *plan = NULL;
    cn_client_t *c = NULL;
    cn_status st = cn_plan_from_bytes(&plan, bytes, len, 0, &d);
    free(bytes);
    if (st == CN_OK)
        st = cn_client_create(&c, plan, NULL, 0);
    if (st != CN_OK) {
        fprintf(stderr, "bench/client_encrypt: %s%s%s\n", cn_strerror(st), d.msg[0] ? ": " : "",
                d.msg);
        cn_plan_free(plan);
        return 1;
    }
    cn_client_set_threads(c, (int)threads);
    const size_t n = cn_plan_params(plan)->n, nin = cn_plan_inputs(plan);
    const size_t count = images && (size_t)images < n ? (size_t)images : n;
    int64_t *x = malloc(count * nin * sizeof *x);
    double *wall = malloc((size_t)reps * sizeof *wall),
           *cpu = malloc((size_t)reps * sizeof *cpu);
    if (!x || !wall || !cpu)
        return 1;
    for (size_t i = 0; i < count * nin; i++)
        x[i] = (int64_t)((i * 2654435761u >> 7) % (uint64_t)(vmax + 1));
    size_t up = 0;
    for (long r = 0; r < reps && st == CN_OK; r++) {
        uint8_t *buf = NULL;
        const double w0 = seconds(CLOCK_MONOTONIC), c0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
        st = cn_client_encrypt(&buf, &up, c, x, count, &d);
        wall[r] = seconds(CLOCK_MONOTONIC) - w0;
        cpu[r] = seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
        free(buf);
    }
    if (st != CN_OK) {
        fprintf(stderr, "bench/client_encrypt: %s%s%s\n", cn_strerror(st), d.msg[0] ? ": " : "",
                d.msg);
    } else {
        qsort(wall, (size_t)reps, sizeof *wall, cmp_double);
        qsort(cpu, (size_t)reps, sizeof *cpu, cmp_double);
        printf(
            "inputs %zu x %zu, threads %ld, reps %ld, %zu bytes: wall median %.3f s (min %.3f, "
            "max %.3f), cpu median %.3f s\n",
            count, nin, threads, reps, up, wall[reps / 2], wall[0], wall[reps - 1],
            cpu[reps / 2]);
    }
    free(x);
    free(wall);
    free(cpu);
    cn_client_free(c);
    cn_plan_free(plan);
    return st == CN_OK ? 0 : 1;
}
