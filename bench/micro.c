/* bench/micro: micro benchmarks of the library's primitives.
 *
 *   bench/micro [--json] [--json-file F] [--reps R] [WORD ...]
 *
 * Runs every benchmark whose op name contains one of the WORDs (all when none is
 * given), each R times (default 201) after a warm-up, and reports the median and the
 * spread (min, max) in microseconds. --json prints one JSON array of records
 * {"op": ..., "n": ..., "primes": ..., "bits": ..., "median_us": ...}; --json-file F
 * writes that array to F and keeps the table on stdout. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cryptonets/cryptonets.h"

typedef struct {
    const char *op;
    size_t n;        /* ring degree */
    size_t primes;   /* number of RNS primes */
    unsigned bits;   /* bits of each prime */
} bench_spec;

/* One benchmark instance: setup builds state, run does one operation. */
typedef struct {
    cn_ring_t ring;
    cn_poly_t a, b, c;
    uint64_t *vec;
} bench_state;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static void die(const char *what, cn_status st)
{
    fprintf(stderr, "bench/micro: %s: %s\n", what, cn_strerror(st));
    exit(1);
}

/* deterministic filler for inputs (not secret, not random-quality) */
static uint64_t fill_state = 0x243f6a8885a308d3ULL;
static uint64_t fill_next(void)
{
    fill_state ^= fill_state << 13;
    fill_state ^= fill_state >> 7;
    fill_state ^= fill_state << 17;
    return fill_state;
}

static void fill_poly(cn_poly_t *p, const cn_ring_t *r)
{
    for (size_t i = 0; i < p->k; i++)
        for (size_t j = 0; j < p->n; j++)
            p->data[i * p->n + j] = fill_next() % r->base.q[i];
}

static void setup(bench_state *s, const bench_spec *b)
{
    uint64_t primes[CN_RNS_MAX_PRIMES];
    cn_status st;
    memset(s, 0, sizeof *s);
    if ((st = cn_primes_ntt(primes, b->primes, b->bits, b->n, NULL, 0, 1)) != CN_OK)
        die("prime search", st);
    if ((st = cn_ring_init(&s->ring, b->n, primes, b->primes)) != CN_OK)
        die("ring", st);
    if ((st = cn_poly_init(&s->a, &s->ring, b->primes)) != CN_OK ||
        (st = cn_poly_init(&s->b, &s->ring, b->primes)) != CN_OK ||
        (st = cn_poly_init(&s->c, &s->ring, b->primes)) != CN_OK)
        die("poly", st);
    fill_poly(&s->a, &s->ring);
    fill_poly(&s->b, &s->ring);
    s->vec = s->a.data;
}

static void teardown(bench_state *s)
{
    cn_poly_clear(&s->a);
    cn_poly_clear(&s->b);
    cn_poly_clear(&s->c);
    cn_ring_clear(&s->ring);
}

/* Each run function performs one operation; the state is restored so every
 * repetition sees valid inputs. */
static void run_ntt_fwd(bench_state *s)
{
    cn_ntt_forward(s->vec, &s->ring.ntt[0]);
}

static void run_ntt_inv(bench_state *s)
{
    cn_ntt_inverse(s->vec, &s->ring.ntt[0]);
}

/* product of two coefficient-form polynomials: 2 forward NTTs, pointwise, 1 inverse
 * per prime (operands stay in coefficient form) */
static void run_poly_mul(bench_state *s)
{
    if (cn_poly_mul(&s->c, &s->a, &s->b, &s->ring) != CN_OK)
        die("poly_mul", CN_ERR_INVALID_ARG);
}

typedef struct {
    bench_spec spec;
    void (*run)(bench_state *);
} bench_entry;

static const bench_entry entries[] = {
    {{"ntt_fwd", 4096, 1, 60}, run_ntt_fwd},
    {{"ntt_fwd", 8192, 1, 60}, run_ntt_fwd},
    {{"ntt_fwd", 8192, 1, 44}, run_ntt_fwd},
    {{"ntt_fwd", 16384, 1, 60}, run_ntt_fwd},
    {{"ntt_fwd", 16384, 1, 49}, run_ntt_fwd},
    {{"ntt_fwd", 32768, 1, 60}, run_ntt_fwd},
    {{"ntt_inv", 4096, 1, 60}, run_ntt_inv},
    {{"ntt_inv", 8192, 1, 60}, run_ntt_inv},
    {{"ntt_inv", 8192, 1, 44}, run_ntt_inv},
    {{"ntt_inv", 16384, 1, 60}, run_ntt_inv},
    {{"ntt_inv", 16384, 1, 49}, run_ntt_inv},
    {{"ntt_inv", 32768, 1, 60}, run_ntt_inv},
    {{"poly_mul", 8192, 4, 60}, run_poly_mul},
    {{"poly_mul", 8192, 4, 44}, run_poly_mul},
};

static int selected(const char *op, int nwords, char **words)
{
    if (nwords == 0)
        return 1;
    for (int i = 0; i < nwords; i++)
        if (strstr(op, words[i]))
            return 1;
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench/micro [--json] [--json-file F] [--reps R] [WORD ...]\n"
                    "  runs the ops whose name contains a WORD (all by default)\n"
                    "  ops: ntt_fwd ntt_inv poly_mul\n");
}

int main(int argc, char **argv)
{
    int json = 0, reps = 201, nwords = 0;
    FILE *jf = NULL;
    char **words = calloc((size_t)argc, sizeof *words);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--json-file") == 0 && i + 1 < argc) {
            if (!(jf = fopen(argv[++i], "w"))) {
                perror(argv[i]);
                return 1;
            }
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
            if (reps < 1 || reps > 1000000) {
                usage();
                return 2;
            }
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 0;
        } else if (argv[i][0] == '-') {
            usage();
            return 2;
        } else {
            words[nwords++] = argv[i];
        }
    }
    double *t = malloc((size_t)reps * sizeof *t);
    int first = 1;
    if (json)
        jf = stdout;
    if (jf)
        fprintf(jf, "[");
    if (!json)
        printf("%-12s %6s %6s %5s %12s %12s %12s\n", "op", "n", "primes", "bits",
               "median_us", "min_us", "max_us");
    for (size_t e = 0; e < sizeof entries / sizeof *entries; e++) {
        const bench_entry *be = &entries[e];
        if (!selected(be->spec.op, nwords, words))
            continue;
        bench_state s;
        setup(&s, &be->spec);
        for (int w = 0; w < 10; w++)
            be->run(&s);
        for (int r = 0; r < reps; r++) {
            /* short ops are timed over a batch so the clock's resolution does not count */
            int inner = be->spec.n <= 8192 && be->spec.primes == 1 ? 8 : 1;
            double t0 = now_us();
            for (int k = 0; k < inner; k++)
                be->run(&s);
            t[r] = (now_us() - t0) / inner;
        }
        qsort(t, (size_t)reps, sizeof *t, cmp_double);
        double med = t[reps / 2];
        if (jf)
            fprintf(jf, "%s\n  {\"op\": \"%s\", \"n\": %zu, \"primes\": %zu, \"bits\": %u, "
                   "\"median_us\": %.3f, \"min_us\": %.3f, \"max_us\": %.3f, \"reps\": %d}",
                   first ? "" : ",", be->spec.op, be->spec.n, be->spec.primes, be->spec.bits,
                   med, t[0], t[reps - 1], reps);
        if (!json)
            printf("%-12s %6zu %6zu %5u %12.2f %12.2f %12.2f\n", be->spec.op, be->spec.n,
                   be->spec.primes, be->spec.bits, med, t[0], t[reps - 1]);
        fflush(stdout);
        first = 0;
        teardown(&s);
    }
    if (jf)
        fprintf(jf, "\n]\n");
    if (jf && jf != stdout)
        fclose(jf);
    if (!json)
        printf("(NTT kernel: %s)\n", cn_ntt_kernel_name());
    free(t);
    free(words);
    return 0;
}
