/* bench/keys: key switching keys, generated, serialized and loaded.
 *
 *   bench/keys [--reps R]
 *
 * At the parameters of bench/micro (n = 8192: q of 44, 44, 43, 43 bits, P of 44; n =
 * 16384: q of 3 x 48 + 5 x 49 bits, P of 49), the median over R repetitions (default 21)
 * of the CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID: the time waiting for a
 * busy machine's cores does not count) for cn_bfv_keygen_relin, cn_bfv_keygen_galois
 * (steps {1}: the rotation by 1 and the column swap) and cn_io_load_relin_key /
 * cn_io_load_galois_keys on their saved bytes, with the bytes. Uses the public API only,
 * so the same source measures an older library too (docs/benchmarks.md, issue 16). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cryptonets/cryptonets.h"

static void check(cn_status st, const char *what)
{
    if (st != CN_OK) {
        fprintf(stderr, "bench/keys: %s: %s\n", what, cn_strerror(st));
        exit(1);
    }
}

static double cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* bench/micro's BFV parameters at n = 8192 or 16384 */
static void params(cn_bfv_params_t *p, size_t n)
{
    static const unsigned b8[] = {44, 44, 43, 43}, b16[] = {48, 48, 48, 49, 49, 49, 49, 49};
    const unsigned *bits = n == 8192 ? b8 : b16;
    memset(p, 0, sizeof *p);
    p->n = n;
    p->nq = n == 8192 ? 4 : 8;
    p->nt = 1;
    p->security = CN_SEC_128;
    check(cn_primes_ntt(&p->p, 1, n == 8192 ? 44 : 49, n, NULL, 0, 1), "special prime");
    uint64_t used[CN_BFV_MAX_Q + 1] = {p->p};
    for (size_t i = 0; i < p->nq; i++) {
        check(cn_primes_ntt(&p->q[i], 1, bits[i], n, used, i + 1, 1), "prime");
        used[i + 1] = p->q[i];
    }
    check(cn_primes_ntt(&p->t[0], 1, 20, n, NULL, 0, 0), "plaintext prime");
}

typedef enum { KEYGEN_RELIN, KEYGEN_GALOIS, LOAD_RELIN, LOAD_GALOIS } op_t;

typedef struct {
    cn_bfv_context_t *ctx;
    cn_rng_t rng;
    cn_bfv_secret_key_t sk;
    cn_bfv_relin_key_t rk;
    cn_bfv_galois_keys_t gk;
    uint8_t *brk, *bgk;
    size_t lrk, lgk;
} state_t;

static const int64_t steps[] = {1};

static void run(state_t *s, op_t op)
{
    switch (op) {
    case KEYGEN_RELIN:
        cn_bfv_relin_key_clear(&s->rk);
        check(cn_bfv_keygen_relin(&s->rk, &s->sk, s->ctx, &s->rng), "keygen_relin");
        break;
    case KEYGEN_GALOIS:
        cn_bfv_galois_keys_clear(&s->gk);
        check(cn_bfv_keygen_galois(&s->gk, &s->sk, steps, 1, s->ctx, &s->rng), "keygen_galois");
        break;
    case LOAD_RELIN: {
        cn_bfv_relin_key_t k = {0};
        check(cn_io_load_relin_key(&k, s->brk, s->lrk, s->ctx), "load_rlk");
        cn_bfv_relin_key_clear(&k);
        break;
    }
    case LOAD_GALOIS: {
        cn_bfv_galois_keys_t k = {0};
        check(cn_io_load_galois_keys(&k, s->bgk, s->lgk, s->ctx), "load_gk");
        cn_bfv_galois_keys_clear(&k);
        break;
    }
    }
}

int main(int argc, char **argv)
{
    int reps = 21;
    if (argc == 3 && strcmp(argv[1], "--reps") == 0)
        reps = atoi(argv[2]);
    if ((argc != 1 && argc != 3) || reps < 1 || reps > 100000) {
        fprintf(stderr, "usage: bench/keys [--reps R]\n");
        return 2;
    }
    static const char *const names[] = {"keygen_relin", "keygen_galois", "load_rlk", "load_gk"};
    double *t = malloc((size_t)reps * sizeof *t);
    if (!t)
        return 1;
    printf("%-14s %6s %12s %12s\n", "op", "n", "cpu_ms", "bytes");
    for (size_t n = 8192; n <= 16384; n *= 2) {
        cn_bfv_params_t prm;
        state_t s;
        memset(&s, 0, sizeof s);
        const uint8_t seed[CN_SEED_BYTES] = {1, 2, 3};
        params(&prm, n);
        check(cn_bfv_context_create(&s.ctx, &prm), "context");
        /* reproducible benchmark: the deterministic generator, asked for by name */
        check(cn_rng_init_insecure_deterministic(&s.rng, seed, CN_RNG_INSECURE_ACK), "rng");
        check(cn_bfv_keygen_secret(&s.sk, s.ctx, &s.rng), "keygen_secret");
        for (op_t op = KEYGEN_RELIN; op <= LOAD_GALOIS; op++) {
            if (op == LOAD_RELIN) { /* the keys of the last keygen, saved */
                s.lrk = cn_io_size_relin_key(&s.rk, s.ctx);
                s.lgk = cn_io_size_galois_keys(&s.gk, s.ctx);
                s.brk = malloc(s.lrk);
                s.bgk = malloc(s.lgk);
                if (!s.brk || !s.bgk)
                    check(CN_ERR_NO_MEMORY, "buffers");
                check(cn_io_save_relin_key(s.brk, s.lrk, NULL, &s.rk, s.ctx), "save_rlk");
                check(cn_io_save_galois_keys(s.bgk, s.lgk, NULL, &s.gk, s.ctx), "save_gk");
            }
            run(&s, op); /* warm-up */
            for (int r = 0; r < reps; r++) {
                const double t0 = cpu_us();
                run(&s, op);
                t[r] = cpu_us() - t0;
            }
            qsort(t, (size_t)reps, sizeof *t, cmp_double);
            const size_t bytes = op == KEYGEN_RELIN || op == LOAD_RELIN
                                     ? cn_io_size_relin_key(&s.rk, s.ctx)
                                     : cn_io_size_galois_keys(&s.gk, s.ctx);
            printf("%-14s %6zu %12.3f %12zu\n", names[op], n, t[reps / 2] / 1e3, bytes);
            fflush(stdout);
        }
        free(s.brk);
        free(s.bgk);
        cn_bfv_galois_keys_clear(&s.gk);
        cn_bfv_relin_key_clear(&s.rk);
        cn_bfv_secret_key_clear(&s.sk);
        cn_rng_clear(&s.rng);
        cn_bfv_context_free(s.ctx);
    }
    free(t);
    return 0;
}
