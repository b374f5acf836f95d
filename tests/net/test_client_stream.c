/* Tests of cn_client_encrypt_stream (net/runtime/client.c): the batch it hands out is
 * byte for byte the batch cn_client_encrypt writes for a client made from the same seed
 * (the oracle: the one-shot call, tested against decryption and the integer network in
 * test_net.c), every prefix it declares final already holds those final bytes when it is
 * declared, the prefixes grow call after call in pieces finer than a part (one per
 * plaintext modulus: one per 32 records on one thread), one call at a time, and the refusals
 * match cn_client_encrypt's. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "../../net/net_internal.h"
#include "cryptonets/cryptonets.h"

#define NIN 100 /* more than one work item (32 inputs) per part */

/* What the ready callback saw. */
typedef struct {
    const uint8_t *ref; /* the one-shot batch */
    size_t ref_len;
    size_t calls, last;
    const uint8_t *buf; /* the buffer of every call */
    int bad_prefix, not_growing, other_buf, overlap;
    int inside; /* callers inside at once (must stay 1) */
} seen_t;

static void on_ready(void *arg, const uint8_t *buf, size_t done)
{
    seen_t *s = arg;
    if (__atomic_add_fetch(&s->inside, 1, __ATOMIC_SEQ_CST) != 1)
        s->overlap = 1;
    if (s->calls && buf != s->buf)
        s->other_buf = 1;
    s->buf = buf;
    if (done <= s->last || done > s->ref_len)
        s->not_growing = 1;
    else if (memcmp(buf, s->ref, done) != 0)
        s->bad_prefix = 1;
    s->last = done;
    s->calls++;
    __atomic_sub_fetch(&s->inside, 1, __ATOMIC_SEQ_CST);
}

/* A dense(4) -> square -> dense(3) plan on nin inputs at n = 2048, nt plaintext moduli. */
static void make_plan_nin(cn_plan_t **p, size_t nt, size_t nin)
{
    double *w1 = malloc(4 * nin * sizeof *w1), b1[4] = {0.1, -0.2, 0.3, 0}, w2[3 * 4],
           b2[3] = {0};
    ck_assert_ptr_nonnull(w1);
    for (size_t i = 0; i < 4 * nin; i++)
        w1[i] = (double)((int)(i * 7 % 13) - 6) / 6.0;
    for (int i = 0; i < 12; i++)
        w2[i] = ((i * 5) % 9 - 4) / 4.0;
    cn_model_t m;
    cn_net_diag_t d = {{0}};
    ck_assert_int_eq(cn_model_init(&m, 1, 1, nin, 1.0 / 15, 0, 15), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(&m, 4, w1, b1, &d), CN_OK);
    free(w1);
    ck_assert_int_eq(cn_model_add_square(&m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(&m, 3, w2, b2, &d), CN_OK);
    cn_compile_opts_t o = {.weight_bits = 5, .n = 2048, .security = CN_SEC_NONE_INSECURE};
    if (nt > 1) { /* several plaintext moduli: several parts */
        o.t_bits = 17;
        o.nt = nt;
    }
    ck_assert_msg(cn_plan_compile(p, &m, &o, &d) == CN_OK, "compile: %s", d.msg);
    cn_model_clear(&m);
}

static void make_plan(cn_plan_t **p, size_t nt)
{
    make_plan_nin(p, nt, NIN);
}

START_TEST(test_encrypt_stream_bytes)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 1601);
    for (size_t nt = 1; nt <= 3; nt += 2) {
        cn_plan_t *p;
        make_plan(&p, nt);
        const size_t n = cn_plan_params(p)->n;
        ck_assert_uint_eq(cn_plan_params(p)->nt, nt);
        int64_t *x = malloc(n * NIN * sizeof *x);
        for (size_t i = 0; i < n * NIN; i++)
            x[i] = (int64_t)cn_test_rng_below(&r, 16);
        const size_t counts[] = {1, 77, n};
        for (size_t ci = 0; ci < 3; ci++)
            for (int threads = 1; threads <= 3; threads += 2) {
                const uint8_t seed[CN_SEED_BYTES] = {16, (uint8_t)ci, (uint8_t)nt};
                cn_client_t *c1, *c2;
                ck_assert_int_eq(cn_client_create(&c1, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
                ck_assert_int_eq(cn_client_create(&c2, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
                cn_client_set_threads(c2, threads);
                uint8_t *ref, *got = NULL;
                size_t rl, gl = 0;
                ck_assert_int_eq(cn_client_encrypt(&ref, &rl, c1, x, counts[ci], NULL), CN_OK);
                ck_assert_uint_eq(cn_client_batch_bytes(c1), rl);
                seen_t s = {.ref = ref, .ref_len = rl};
                ck_assert_int_eq(
                    cn_client_encrypt_stream(&got, &gl, c2, x, counts[ci], on_ready, &s, NULL),
                    CN_OK);
                ck_assert_uint_eq(gl, rl);
                ck_assert_msg(memcmp(got, ref, rl) == 0,
                              "nt %zu, count %zu, %d threads: other bytes", nt, counts[ci],
                              threads);
                ck_assert_msg(!s.bad_prefix && !s.not_growing && !s.other_buf && !s.overlap,
                              "prefix %d growing %d buffer %d overlap %d", s.bad_prefix,
                              s.not_growing, s.other_buf, s.overlap);
                ck_assert_ptr_eq(s.buf, got);
                ck_assert_uint_eq(s.last, rl);
                /* on one thread the items come in order: the first header, then one
                 * prefix per run of 32 records, the last of a part with its checksum and
                 * the next part's header; on several, runs may be told together */
                if (threads == 1)
                    ck_assert_uint_eq(s.calls, 1 + nt * ((NIN + 31) / 32));
                else
                    ck_assert_uint_ge(s.calls, 2);
                free(ref);
                free(got);
                cn_client_free(c1);
                cn_client_free(c2);
            }
        /* the refusals of cn_client_encrypt, and a NULL callback */
        const uint8_t seed[CN_SEED_BYTES] = {17};
        cn_client_t *c;
        ck_assert_int_eq(cn_client_create(&c, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
        uint8_t *b = NULL;
        size_t bl = 0;
        seen_t s = {.ref_len = SIZE_MAX};
        ck_assert_int_eq(cn_client_encrypt_stream(&b, &bl, c, x, 1, NULL, NULL, NULL),
                         CN_ERR_INVALID_ARG);
        ck_assert_int_eq(cn_client_encrypt_stream(&b, &bl, c, x, 0, on_ready, &s, NULL),
                         CN_ERR_INVALID_ARG);
        ck_assert_int_eq(cn_client_encrypt_stream(&b, &bl, c, x, n + 1, on_ready, &s, NULL),
                         CN_ERR_INVALID_ARG);
        x[5] = 99; /* outside the model's input range [0, 15] */
        cn_net_diag_t d = {{0}};
        ck_assert_int_eq(cn_client_encrypt_stream(&b, &bl, c, x, 1, on_ready, &s, &d),
                         CN_ERR_OUT_OF_RANGE);
        ck_assert_ptr_null(b);
        ck_assert_uint_eq(s.calls, 0);
        ck_assert_msg(strstr(d.msg, "input 1, value 6") != NULL, "%s", d.msg);
        cn_client_free(c);
        free(x);
        cn_plan_free(p);
    }
}
END_TEST

/* A reader of cn_client_encrypt_window's batch in a thread of its own, as a client that
 * sends it: it copies what ready declared final into a whole copy, a piece at a time, but
 * only while room is waiting for it (or once the call returned), so that the encryption
 * must wait for it whenever the batch is longer than the window. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const uint8_t *buf; /* the window's batch */
    uint8_t *copy;      /* [len] what was read */
    size_t len, told, read, max_need;
    size_t stop_at; /* room says stop once asked for this much (SIZE_MAX: never) */
    int once;       /* ... to the first such call only; the others wait as usual */
    int failed;     /* ready(arg, NULL, 0) calls: the encryption failed */
    int end, waits, stopped, bad;
    int asking, drain; /* room calls waiting; the call returned: read what is told */
} reader_t;

static void w_ready(void *arg, const uint8_t *buf, size_t done)
{
    reader_t *r = arg;
    pthread_mutex_lock(&r->mu);
    if (!buf) { /* the encryption failed: rooms waiting stop */
        r->failed++;
        if (done != 0)
            r->bad = 1;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        return;
    }
    if (done <= r->told || done > r->len || (r->buf && buf != r->buf))
        r->bad = 1;
    r->buf = buf;
    r->told = done;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static int w_room(void *arg, size_t need)
{
    reader_t *r = arg;
    pthread_mutex_lock(&r->mu);
    if (need > r->max_need)
        r->max_need = need;
    if (need >= r->stop_at && !(r->once && r->stopped)) {
        r->stopped = 1;
        pthread_mutex_unlock(&r->mu);
        return 1;
    }
    if (r->read < need)
        r->waits++;
    r->asking++;
    pthread_cond_broadcast(&r->cv);
    while (r->read < need && !r->end && !r->failed)
        pthread_cond_wait(&r->cv, &r->mu);
    r->asking--;
    const int stop = r->read < need; /* the reader ended first */
    pthread_mutex_unlock(&r->mu);
    return stop;
}

static void *w_reader(void *arg)
{
    reader_t *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->end) {
        if (r->read == r->told || (!r->asking && !r->drain)) {
            pthread_cond_wait(&r->cv, &r->mu);
            continue;
        }
        /* at most 256 KiB at a time, outside the lock */
        const size_t from = r->read,
                     k = r->told - from < (256u << 10) ? r->told - from : (256u << 10);
        const uint8_t *src = r->buf;
        pthread_mutex_unlock(&r->mu);
        memcpy(r->copy + from, src + from, k);
        pthread_mutex_lock(&r->mu);
        r->read = from + k;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* One cn_client_encrypt_window call read by w_reader; returns the call's status and
 * leaves the reader's state in r (its copy the bytes read). */
static cn_status window_run(reader_t *r, cn_client_t *c, const int64_t *x, size_t count,
                            const uint8_t seed[CN_SEED_BYTES], size_t len, cn_net_diag_t *d)
{
    const size_t stop_at = r->stop_at;
    const int once = r->once;
    memset(r, 0, sizeof *r);
    r->once = once;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->len = len;
    r->copy = calloc(len, 1);
    r->stop_at = stop_at ? stop_at : SIZE_MAX;
    ck_assert_ptr_nonnull(r->copy);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, w_reader, r), 0);
    uint8_t *b = NULL;
    size_t bl = 0;
    const cn_status st =
        cn_client_encrypt_window(&b, &bl, c, x, count, seed, w_ready, w_room, r, d);
    /* the reader finishes what was told, then ends */
    pthread_mutex_lock(&r->mu);
    r->drain = 1;
    pthread_cond_broadcast(&r->cv);
    while (st == CN_OK && r->read < r->told)
        pthread_cond_wait(&r->cv, &r->mu);
    r->end = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(th, NULL);
    ck_assert_uint_eq(bl, st == CN_OK ? len : 0);
    cn_client_batch_free(b);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    return st;
}

/* cn_client_encrypt_window: the bytes read through the window are cn_client_encrypt_seeded's
 * for the same seed (the oracle: test_client_seeded.c ties those to decryption), on 1 and
 * 3 threads, with one and three parts, for batches several windows long (the window's
 * memory reused) and shorter; room is asked for in order and waited on; a room that
 * says stop ends the call with CN_ERR_IO and frees everything (ASan); the refusals. */
START_TEST(test_encrypt_window)
{
    cn_test_rng_t rg;
    cn_test_rng_init(&rg, 1602);
    int aliased = 0;
    for (size_t nt = 1; nt <= 3; nt += 2) {
        /* 300 inputs (10 work items a part): with three parts, several windows */
        cn_plan_t *p;
        make_plan_nin(&p, nt, 300);
        const size_t n = cn_plan_params(p)->n;
        int64_t *x = malloc(n * 300 * sizeof *x);
        for (size_t i = 0; i < n * 300; i++)
            x[i] = (int64_t)cn_test_rng_below(&rg, 16);
        for (int threads = 1; threads <= 3; threads += 2) {
            const uint8_t seed[CN_SEED_BYTES] = {18, (uint8_t)nt, (uint8_t)threads};
            cn_client_t *c;
            ck_assert_int_eq(cn_client_create(&c, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
            cn_client_set_threads(c, threads);
            uint8_t *ref;
            size_t rl;
            ck_assert_int_eq(
                cn_client_encrypt_seeded(&ref, &rl, c, x, n, seed, NULL, NULL, NULL), CN_OK);
            const size_t W = cn_client_window_bytes(c);
            ck_assert_uint_eq(W % (2u << 20), 0);
            aliased |= rl > 2 * W;
            reader_t r = {0};
            cn_net_diag_t d = {{0}};
            ck_assert_msg(window_run(&r, c, x, n, seed, rl, &d) == CN_OK, "%s", d.msg);
            ck_assert_msg(!r.bad, "ready's prefixes do not grow or the buffer moved");
            ck_assert_uint_eq(r.read, rl);
            ck_assert_msg(memcmp(r.copy, ref, rl) == 0, "nt %zu, %d threads: other bytes", nt,
                          threads);
            /* room asks for whole 2 MiB chunks (the window moves by chunks), never for
             * bytes the batch does not have */
            const size_t C = 2u << 20;
            ck_assert_uint_le(r.max_need, rl > W ? (rl - W + C - 1) / C * C : 0);
            ck_assert_uint_lt(r.max_need, rl);
            if (rl > 2 * W) /* the reader reads only when asked: the encryption waited */
                ck_assert_int_gt(r.waits, 0);
            free(r.copy);
            /* the same bytes where the kernel cannot move pages (fresh ones instead) */
            if (rl > 2 * W && threads == 3) {
                reader_t f = {0};
                cn_client_window_fresh_pages(1);
                const cn_status fst = window_run(&f, c, x, n, seed, rl, &d);
                cn_client_window_fresh_pages(0);
                ck_assert_msg(fst == CN_OK, "%s", d.msg);
                ck_assert_msg(memcmp(f.copy, ref, rl) == 0, "fresh pages: other bytes");
                free(f.copy);
            }
            /* stopped by room halfway through a long batch: CN_ERR_IO, nothing leaked */
            if (rl > 2 * W) {
                reader_t s = {.stop_at = rl / 2};
                ck_assert_int_eq(window_run(&s, c, x, n, seed, rl, &d), CN_ERR_IO);
                ck_assert_int_eq(s.stopped, 1);
                ck_assert_int_eq(s.failed, 1); /* told once, whatever the threads */
                ck_assert_msg(strstr(d.msg, "stopped") != NULL, "%s", d.msg);
                free(s.copy);
                /* one item fails (its room says stop) while the other threads wait in
                 * room for bytes that will never come: ready(arg, NULL, 0) lets them go
                 * (before, the call hung) */
                reader_t o = {.stop_at = rl / 2, .once = 1};
                ck_assert_int_eq(window_run(&o, c, x, n, seed, rl, &d), CN_ERR_IO);
                ck_assert_int_eq(o.failed, 1);
                ck_assert(!o.bad);
                free(o.copy);
            }
            free(ref);
            cn_client_free(c);
        }
        /* refusals: no seed, ready or room; cn_client_encrypt's own */
        const uint8_t seed[CN_SEED_BYTES] = {19};
        cn_client_t *c;
        ck_assert_int_eq(cn_client_create(&c, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
        uint8_t *b = NULL;
        size_t bl = 0;
        reader_t r = {0};
        ck_assert_int_eq(
            cn_client_encrypt_window(&b, &bl, c, x, 1, NULL, w_ready, w_room, &r, NULL),
            CN_ERR_INVALID_ARG);
        ck_assert_int_eq(
            cn_client_encrypt_window(&b, &bl, c, x, 1, seed, NULL, w_room, &r, NULL),
            CN_ERR_INVALID_ARG);
        ck_assert_int_eq(
            cn_client_encrypt_window(&b, &bl, c, x, 1, seed, w_ready, NULL, &r, NULL),
            CN_ERR_INVALID_ARG);
        ck_assert_int_eq(
            cn_client_encrypt_window(&b, &bl, c, x, 0, seed, w_ready, w_room, &r, NULL),
            CN_ERR_INVALID_ARG);
        ck_assert_ptr_null(b);
        cn_client_free(c);
        cn_client_batch_free(NULL);
        free(x);
        cn_plan_free(p);
    }
    ck_assert_msg(aliased, "no batch was longer than two windows: the window went untested");
}
END_TEST

CN_SUITE(client_stream)
{
    Suite *s = suite_create("client_stream");
    TCase *tc = cn_tcase("core", 300);
    tcase_add_test(tc, test_encrypt_stream_bytes);
    tcase_add_test(tc, test_encrypt_window);
    suite_add_tcase(s, tc);
    return s;
}
