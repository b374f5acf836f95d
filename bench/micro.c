/* bench/micro: micro benchmarks of the library's primitives.
 *
 *   bench/micro [--json] [--json-file F] [--reps R] [WORD ...]
 *
 * Runs every benchmark whose op name contains one of the WORDs (all when none is
 * given), each R times (default 201) after a warm-up, and reports the median and the
 * spread (min, max) in microseconds. --json prints one JSON array of records
 * {"op": ..., "n": ..., "primes": ..., "bits": ..., "median_us": ...} (written with jansson
 * through bench/results_json.h) once every row has run; --json-file F writes that array
 * to F and keeps the table on stdout. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cryptonets/cryptonets.h"
#include "results_json.h"

typedef struct {
    const char *op;
    size_t n;      /* ring degree */
    size_t primes; /* number of RNS primes */
    unsigned bits; /* bits of each prime */
} bench_spec;

/* One benchmark instance: setup builds state, run does one operation. */
typedef struct {
    cn_ring_t ring;
    cn_poly_t a, b, c;
    uint64_t *vec;
    uint8_t *bytes; /* keystream rows: the output buffer, of nbytes */
    size_t nbytes;
    /* BFV */
    cn_bfv_context_t *ctx;
    cn_bfv_secret_key_t sk;
    cn_bfv_public_key_t pk;
    cn_bfv_relin_key_t rk;
    cn_bfv_plaintext_t pt, pt2;
    cn_bfv_ciphertext_t x, y, z, z3;
    cn_rng_t rng;
    cn_bfv_galois_keys_t gk; /* key rows: made on first use */
    uint8_t *kbuf;           /* key rows: a serialized key, of klen bytes */
    size_t klen;
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
    if (b->primes == 0) { /* a keystream row: n bytes from a seeded generator */
        uint8_t seed[CN_SEED_BYTES] = {1, 2, 3};
        if ((st = cn_rng_init_insecure_deterministic(&s->rng, seed, CN_RNG_INSECURE_ACK)) !=
            CN_OK)
            die("rng", st);
        s->nbytes = b->n;
        if (!(s->bytes = malloc(b->n)))
            die("buffer", CN_ERR_NO_MEMORY);
        return;
    }
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
    if (s->bytes) {
        free(s->bytes);
        cn_rng_clear(&s->rng);
        return;
    }
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

/* bulk keystream of the generator (ChaCha20), n bytes per call */
static void run_chacha20(bench_state *s)
{
    cn_rng_bytes(&s->rng, s->bytes, s->nbytes);
}

/* product of two coefficient-form polynomials: 2 forward NTTs, pointwise, 1 inverse
 * per prime (operands stay in coefficient form) */
static void run_poly_mul(bench_state *s)
{
    if (cn_poly_mul(&s->c, &s->a, &s->b, &s->ring) != CN_OK)
        die("poly_mul", CN_ERR_INVALID_ARG);
}

/* BFV parameters of the comparison with SEAL 4.4: n = 8192 with primes of
 * 44, 44, 43, 43 bits and a 44-bit P (log2 qP = 218); n = 16384 with 3 x 48 and 5 x 49
 * bits and a 49-bit P (438); one 20-bit batching t. n = 16384 with nq = 4: the MNIST
 * plan's shape, 4 x 49 bits and a 49-bit P. */
static void bfv_params(cn_bfv_params_t *p, size_t n, size_t nq)
{
    static const unsigned b8192[] = {44, 44, 43, 43};
    static const unsigned b16384[] = {48, 48, 48, 49, 49, 49, 49, 49};
    static const unsigned b16384x4[] = {49, 49, 49, 49};
    const unsigned *bits = n == 8192 ? b8192 : nq == 4 ? b16384x4 : b16384;
    unsigned pbits = n == 8192 ? 44 : 49;
    cn_status st;
    memset(p, 0, sizeof *p);
    p->n = n;
    p->nq = nq;
    p->nt = 1;
    if ((st = cn_primes_ntt(&p->p, 1, pbits, n, NULL, 0, 1)) != CN_OK)
        die("prime search", st);
    uint64_t used[CN_BFV_MAX_Q + 1];
    size_t nused = 0;
    used[nused++] = p->p;
    for (size_t i = 0; i < nq; i++) {
        if ((st = cn_primes_ntt(&p->q[i], 1, bits[i], n, used, nused, 1)) != CN_OK)
            die("prime search", st);
        used[nused++] = p->q[i];
    }
    if ((st = cn_primes_ntt(&p->t[0], 1, 20, n, NULL, 0, 0)) != CN_OK)
        die("plaintext prime", st);
}

static void bfv_setup(bench_state *s, const bench_spec *b)
{
    cn_bfv_params_t prm;
    cn_status st;
    uint8_t seed[CN_SEED_BYTES] = {1, 2, 3};
    memset(s, 0, sizeof *s);
    bfv_params(&prm, b->n, b->primes);
    if ((st = cn_bfv_context_create(&s->ctx, &prm)) != CN_OK)
        die("context", st);
    /* reproducible benchmark: the deterministic generator, asked for by name */
    if ((st = cn_rng_init_insecure_deterministic(&s->rng, seed, CN_RNG_INSECURE_ACK)) !=
            CN_OK ||
        (st = cn_bfv_keygen_secret(&s->sk, s->ctx, &s->rng)) != CN_OK ||
        (st = cn_bfv_keygen_public(&s->pk, &s->sk, s->ctx, &s->rng)) != CN_OK ||
        (st = cn_bfv_keygen_relin(&s->rk, &s->sk, s->ctx, &s->rng)) != CN_OK ||
        (st = cn_bfv_plaintext_init(&s->pt, s->ctx, 0)) != CN_OK ||
        (st = cn_bfv_plaintext_init(&s->pt2, s->ctx, 0)) != CN_OK)
        die("keys", st);
    for (size_t i = 0; i < prm.n; i++) {
        s->pt.coeffs[i] = fill_next() % prm.t[0];
        s->pt2.coeffs[i] = fill_next() % prm.t[0];
    }
    if ((st = cn_bfv_encrypt(&s->x, &s->pt, &s->pk, s->ctx, &s->rng)) != CN_OK ||
        (st = cn_bfv_encrypt(&s->y, &s->pt2, &s->pk, s->ctx, &s->rng)) != CN_OK ||
        (st = cn_bfv_mul(&s->z3, &s->x, &s->y, s->ctx)) != CN_OK)
        die("encrypt", st);
}

static void bfv_teardown(bench_state *s)
{
    cn_bfv_ciphertext_clear(&s->x);
    cn_bfv_ciphertext_clear(&s->y);
    cn_bfv_ciphertext_clear(&s->z);
    cn_bfv_ciphertext_clear(&s->z3);
    cn_bfv_plaintext_clear(&s->pt);
    cn_bfv_plaintext_clear(&s->pt2);
    cn_bfv_galois_keys_clear(&s->gk);
    free(s->kbuf);
    cn_bfv_relin_key_clear(&s->rk);
    cn_bfv_public_key_clear(&s->pk);
    cn_bfv_secret_key_clear(&s->sk);
    cn_rng_clear(&s->rng);
    cn_bfv_context_free(s->ctx);
}

static void check(cn_status st, const char *what)
{
    if (st != CN_OK)
        die(what, st);
}

static void run_keygen(bench_state *s)
{
    cn_bfv_secret_key_t sk;
    cn_bfv_public_key_t pk;
    cn_bfv_relin_key_t rk;
    check(cn_bfv_keygen_secret(&sk, s->ctx, &s->rng), "keygen");
    check(cn_bfv_keygen_public(&pk, &sk, s->ctx, &s->rng), "keygen");
    check(cn_bfv_keygen_relin(&rk, &sk, s->ctx, &s->rng), "keygen");
    cn_bfv_relin_key_clear(&rk);
    cn_bfv_public_key_clear(&pk);
    cn_bfv_secret_key_clear(&sk);
}

static void run_encrypt_pk(bench_state *s)
{
    check(cn_bfv_encrypt(&s->z, &s->pt, &s->pk, s->ctx, &s->rng), "encrypt_pk");
}

static void run_encrypt_sk(bench_state *s)
{
    check(cn_bfv_encrypt_symmetric(&s->z, &s->pt, &s->sk, s->ctx, &s->rng), "encrypt_sk");
}

/* seed expansion: the uniform c1 of a seeded ciphertext (every row, by rejection) rebuilt
 * from its 32-byte seed; the first call makes the seeded ciphertext */
static void run_seed_expand(bench_state *s)
{
    if (!s->z.has_seed)
        check(cn_bfv_encrypt_symmetric(&s->z, &s->pt, &s->sk, s->ctx, &s->rng), "encrypt_sk");
    check(cn_bfv_expand_seed(&s->z, s->ctx), "seed_expand");
}

static void run_decrypt(bench_state *s)
{
    check(cn_bfv_decrypt(&s->pt2, &s->x, &s->sk, s->ctx), "decrypt");
}

/* a size-3 ciphertext (a product before relinearization, as the replies of the MNIST
 * plans): plain decryption, the checked decryption clients use (the noise checked from
 * the same phase in RNS), and the exact big-integer noise budget it replaced */
static void run_decrypt3(bench_state *s)
{
    check(cn_bfv_decrypt(&s->pt2, &s->z3, &s->sk, s->ctx), "decrypt");
}

static void run_decrypt3_checked(bench_state *s)
{
    check(cn_bfv_decrypt_checked(&s->pt2, &s->z3, &s->sk, s->ctx), "decrypt_checked");
}

static void run_noise_budget3(bench_state *s)
{
    int bits;
    check(cn_bfv_noise_budget(&bits, &s->z3, &s->sk, s->ctx), "noise_budget");
}

static void run_add(bench_state *s)
{
    check(cn_bfv_add(&s->z, &s->x, &s->y, s->ctx), "add");
}

static void run_mul_scalar(bench_state *s)
{
    check(cn_bfv_mul_scalar(&s->z, &s->x, -77, s->ctx), "mul_scalar");
}

static void run_mul_plain(bench_state *s)
{
    check(cn_bfv_mul_plain(&s->z, &s->x, &s->pt, s->ctx), "mul_plain");
}

static void run_mul(bench_state *s)
{
    check(cn_bfv_mul(&s->z, &s->x, &s->y, s->ctx), "mul");
}

static void run_square(bench_state *s)
{
    check(cn_bfv_square(&s->z, &s->x, s->ctx), "square");
}

static void run_relin(bench_state *s)
{
    check(cn_bfv_relinearize(&s->z, &s->z3, &s->rk, s->ctx), "relin");
}

static void run_mul_relin(bench_state *s)
{
    check(cn_bfv_mul(&s->z, &s->x, &s->y, s->ctx), "mul");
    check(cn_bfv_relinearize(&s->z, &s->z, &s->rk, s->ctx), "relin");
}

static void run_mod_switch(bench_state *s)
{
    check(cn_bfv_mod_switch(&s->z, &s->x, s->ctx), "mod_switch");
}

/* Serialized sizes (cryptonets/io.h): these rows report bytes, not time. */
static size_t size_ct(bench_state *s)
{
    return cn_io_size_ciphertext(&s->x, 0, s->ctx);
}

static size_t size_ct_seeded(bench_state *s)
{
    check(cn_bfv_encrypt_symmetric(&s->z, &s->pt, &s->sk, s->ctx, &s->rng), "encrypt_sk");
    return cn_io_size_ciphertext(&s->z, 0, s->ctx);
}

static size_t size_pk(bench_state *s)
{
    return cn_io_size_public_key(&s->pk, s->ctx);
}

static size_t size_rlk(bench_state *s)
{
    return cn_io_size_relin_key(&s->rk, s->ctx);
}

/* Galois keys for the rotation by 1 and the column swap (two keys; the default set of
 * cn_bfv_keygen_galois, log2(n/2) + 1 keys, is that many times one key's bytes) */
static const int64_t gk_steps[] = {1};

static void make_gk(bench_state *s)
{
    cn_bfv_galois_keys_clear(&s->gk);
    check(cn_bfv_keygen_galois(&s->gk, &s->sk, gk_steps, 1, s->ctx, &s->rng), "keygen_galois");
}

static size_t size_gk(bench_state *s)
{
    make_gk(s);
    return cn_io_size_galois_keys(&s->gk, s->ctx);
}

static void run_keygen_relin(bench_state *s)
{
    cn_bfv_relin_key_t rk;
    check(cn_bfv_keygen_relin(&rk, &s->sk, s->ctx, &s->rng), "keygen_relin");
    cn_bfv_relin_key_clear(&rk);
}

static void run_keygen_galois(bench_state *s)
{
    make_gk(s);
}

/* loading a serialized key (the server's side of the one-time upload; a seeded key's k1
 * is expanded here); the first call serializes it */
static void run_load_rlk(bench_state *s)
{
    if (!s->kbuf) {
        s->klen = cn_io_size_relin_key(&s->rk, s->ctx);
        if (!(s->kbuf = malloc(s->klen)))
            die("load_rlk", CN_ERR_NO_MEMORY);
        check(cn_io_save_relin_key(s->kbuf, s->klen, NULL, &s->rk, s->ctx), "save_rlk");
    }
    cn_bfv_relin_key_t rk = {0};
    check(cn_io_load_relin_key(&rk, s->kbuf, s->klen, s->ctx), "load_rlk");
    cn_bfv_relin_key_clear(&rk);
}

static void run_load_gk(bench_state *s)
{
    if (!s->kbuf) {
        make_gk(s);
        s->klen = cn_io_size_galois_keys(&s->gk, s->ctx);
        if (!(s->kbuf = malloc(s->klen)))
            die("load_gk", CN_ERR_NO_MEMORY);
        check(cn_io_save_galois_keys(s->kbuf, s->klen, NULL, &s->gk, s->ctx), "save_gk");
    }
    cn_bfv_galois_keys_t gk = {0};
    check(cn_io_load_galois_keys(&gk, s->kbuf, s->klen, s->ctx), "load_gk");
    cn_bfv_galois_keys_clear(&gk);
}

typedef struct {
    bench_spec spec;
    void (*run)(bench_state *);
    int bfv;                       /* uses the BFV setup */
    size_t (*size)(bench_state *); /* a size row: bytes instead of time */
} bench_entry;

static const bench_entry entries[] = {
    {{"ntt_fwd", 4096, 1, 60}, run_ntt_fwd, 0, NULL},
    {{"ntt_fwd", 8192, 1, 60}, run_ntt_fwd, 0, NULL},
    {{"ntt_fwd", 8192, 1, 44}, run_ntt_fwd, 0, NULL},
    {{"ntt_fwd", 16384, 1, 60}, run_ntt_fwd, 0, NULL},
    {{"ntt_fwd", 16384, 1, 49}, run_ntt_fwd, 0, NULL},
    {{"ntt_fwd", 32768, 1, 60}, run_ntt_fwd, 0, NULL},
    {{"ntt_inv", 4096, 1, 60}, run_ntt_inv, 0, NULL},
    {{"ntt_inv", 8192, 1, 60}, run_ntt_inv, 0, NULL},
    {{"ntt_inv", 8192, 1, 44}, run_ntt_inv, 0, NULL},
    {{"ntt_inv", 16384, 1, 60}, run_ntt_inv, 0, NULL},
    {{"ntt_inv", 16384, 1, 49}, run_ntt_inv, 0, NULL},
    {{"ntt_inv", 32768, 1, 60}, run_ntt_inv, 0, NULL},
    {{"poly_mul", 8192, 4, 60}, run_poly_mul, 0, NULL},
    {{"poly_mul", 8192, 4, 44}, run_poly_mul, 0, NULL},
    {{"chacha20", 65536, 0, 0}, run_chacha20, 0, NULL},
#define BFV_ROWS(n, k)                                                                         \
    {{"keygen", n, k, 0}, run_keygen, 1, NULL},                                                \
        {{"encrypt_pk", n, k, 0}, run_encrypt_pk, 1, NULL},                                    \
        {{"encrypt_sk", n, k, 0}, run_encrypt_sk, 1, NULL},                                    \
        {{"decrypt", n, k, 0}, run_decrypt, 1, NULL}, {{"add", n, k, 0}, run_add, 1, NULL},    \
        {{"mul_scalar", n, k, 0}, run_mul_scalar, 1, NULL},                                    \
        {{"mul_plain", n, k, 0}, run_mul_plain, 1, NULL},                                      \
        {{"mul", n, k, 0}, run_mul, 1, NULL}, {{"square", n, k, 0}, run_square, 1, NULL},      \
        {{"relin", n, k, 0}, run_relin, 1, NULL},                                              \
        {{"mul_relin", n, k, 0}, run_mul_relin, 1, NULL},                                      \
    {                                                                                          \
        {"mod_switch", n, k, 0}, run_mod_switch, 1, NULL                                       \
    }
#define SIZE_ROWS(n, k)                                                                        \
    {{"size_ct", n, k, 0}, NULL, 1, size_ct},                                                  \
        {{"size_ct_seeded", n, k, 0}, NULL, 1, size_ct_seeded},                                \
        {{"size_pk", n, k, 0}, NULL, 1, size_pk}, {{"size_rlk", n, k, 0}, NULL, 1, size_rlk},  \
    {                                                                                          \
        {"size_gk", n, k, 0}, NULL, 1, size_gk                                                 \
    }
#define KEY_ROWS(n, k)                                                                         \
    {{"keygen_relin", n, k, 0}, run_keygen_relin, 1, NULL},                                    \
        {{"keygen_galois", n, k, 0}, run_keygen_galois, 1, NULL},                              \
        {{"load_rlk", n, k, 0}, run_load_rlk, 1, NULL},                                        \
    {                                                                                          \
        {"load_gk", n, k, 0}, run_load_gk, 1, NULL                                             \
    }
    BFV_ROWS(8192, 4),
    {{"seed_expand", 8192, 4, 0}, run_seed_expand, 1, NULL},
    {{"decrypt3", 8192, 4, 0}, run_decrypt3, 1, NULL},
    {{"decrypt3_checked", 8192, 4, 0}, run_decrypt3_checked, 1, NULL},
    {{"noise_budget3", 8192, 4, 0}, run_noise_budget3, 1, NULL},
    BFV_ROWS(16384, 8),
    {{"square", 16384, 4, 0}, run_square, 1, NULL},
    {{"mul_relin", 16384, 4, 0}, run_mul_relin, 1, NULL},
    SIZE_ROWS(8192, 4),
    SIZE_ROWS(16384, 8),
    KEY_ROWS(8192, 4),
    KEY_ROWS(16384, 8),
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
    fprintf(stderr,
            "usage: bench/micro [--json] [--json-file F] [--reps R] [WORD ...]\n"
            "  runs the ops whose name contains a WORD (all by default)\n"
            "  ops: ntt_fwd ntt_inv poly_mul keygen encrypt_pk encrypt_sk decrypt add\n"
            "       mul_scalar mul_plain mul square relin mul_relin mod_switch\n"
            "       seed_expand (c1 of a seeded ciphertext from its seed)\n"
            "       decrypt3 decrypt3_checked noise_budget3 (size-3 ciphertexts)\n"
            "       chacha20 (n = bytes of keystream from the generator)\n"
            "       size_ct size_ct_seeded size_pk size_rlk size_gk (serialized bytes)\n"
            "       keygen_relin keygen_galois load_rlk load_gk (one key switching key;\n"
            "       gk: the rotation by 1 and the column swap, two keys)\n"
            "  (BFV rows: n = 8192, log2 qP = 218, 4 + 1 primes; n = 16384, 438, 8 + 1;\n"
            "   square and mul_relin also at n = 16384 with 4 + 1 primes of 49 bits;\n"
            "   t of 20 bits; 'bits' is 0 there)\n");
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
    /* the rows, in the order they ran; written once at the end */
    json_t *rows = json_array();
    int lost = 0; /* a row that could not be built or appended (out of memory) */
    if (json)
        jf = stdout;
    if (!json)
        printf("%-12s %6s %6s %5s %12s %12s %12s  %s\n", "op", "n", "primes", "bits",
               "median_us", "min_us", "max_us", "ntt_kernel");
    for (size_t e = 0; e < sizeof entries / sizeof *entries; e++) {
        const bench_entry *be = &entries[e];
        if (!selected(be->spec.op, nwords, words))
            continue;
        bench_state s;
        if (be->bfv)
            bfv_setup(&s, &be->spec);
        else
            setup(&s, &be->spec);
        if (be->size) {
            size_t bytes = be->size(&s);
            json_t *row = json_pack(
                "{s:s, s:I, s:I, s:i, s:I}", "op", be->spec.op, "n", (json_int_t)be->spec.n,
                "primes", (json_int_t)be->spec.primes, "bits", 0, "bytes", (json_int_t)bytes);
            lost |= json_array_append_new(rows, row) != 0;
            if (!json)
                printf("%-14s %6zu %6zu %5s %12zu bytes\n", be->spec.op, be->spec.n,
                       be->spec.primes, "", bytes);
            bfv_teardown(&s);
            continue;
        }
        double w0 = now_us();
        be->run(&s);
        double one = now_us() - w0;
        for (int w = 0; w < 3; w++)
            be->run(&s);
        /* slow operations: at least 11 repetitions, about 3 s per row at most */
        int nrep = reps;
        if (one > 0 && one * nrep > 3e6)
            nrep = (int)(3e6 / one) | 1;
        if (nrep < 11)
            nrep = reps < 11 ? reps : 11;
        for (int r = 0; r < nrep; r++) {
            /* short ops are timed over a batch so the clock's resolution does not count */
            int inner = !be->bfv && be->spec.n <= 8192 && be->spec.primes == 1 ? 8 : 1;
            double t0 = now_us();
            for (int k = 0; k < inner; k++)
                be->run(&s);
            t[r] = (now_us() - t0) / inner;
        }
        qsort(t, (size_t)nrep, sizeof *t, cmp_double);
        double med = t[nrep / 2];
        /* the NTT kernel of the row's first prime (BFV rows: the ciphertext primes') */
        const char *kern =
            s.bytes ? "-"
                    : cn_ntt_table_kernel_name(be->bfv ? &cn_bfv_context_ring(s.ctx)->ntt[0]
                                                       : &s.ring.ntt[0]);
        json_t *row =
            json_pack("{s:s, s:I, s:I, s:i, s:o, s:o, s:o, s:i, s:s}", "op", be->spec.op, "n",
                      (json_int_t)be->spec.n, "primes", (json_int_t)be->spec.primes, "bits",
                      (int)be->spec.bits, "median_us", cn_bench_json_real(med, 3), "min_us",
                      cn_bench_json_real(t[0], 3), "max_us", cn_bench_json_real(t[nrep - 1], 3),
                      "reps", nrep, "kernel", kern);
        lost |= json_array_append_new(rows, row) != 0;
        if (!json)
            printf("%-12s %6zu %6zu %5u %12.2f %12.2f %12.2f  %s\n", be->spec.op, be->spec.n,
                   be->spec.primes, be->spec.bits, med, t[0], t[nrep - 1], kern);
        fflush(stdout);
        if (be->bfv)
            bfv_teardown(&s);
        else
            teardown(&s);
    }
    int status = 0;
    if (jf) {
        const int bad = lost || cn_bench_json_write(jf, rows) != CN_OK;
        if ((jf != stdout && fclose(jf)) || bad) {
            fprintf(stderr, "bench/micro: writing the JSON failed\n");
            status = 1;
        }
    }
    json_decref(rows);
    if (!json)
        printf("(best NTT kernel on this CPU: %s; CN_SIMD=portable forces portable C)\n",
               cn_ntt_kernel_name());
    free(t);
    free(words);
    return status;
}
