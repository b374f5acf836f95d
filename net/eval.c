/* The evaluator: client (keys, encryption, decryption, CRT decoding) and server (the plan
 * on an encrypted batch), exchanging serialized bytes only (docs/net.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <flint/fmpz.h>

#include "net_internal.h"

struct cn_client {
    const cn_plan_t *plan;
    int threads;
    cn_bfv_context_t *ctx;
    cn_rng_t rng;
    cn_bfv_secret_key_t sk;
    cn_bfv_relin_key_t rk;
    int has_rk;
};

struct cn_server {
    const cn_plan_t *plan;
    cn_bfv_context_t *ctx;
    cn_bfv_relin_key_t rk;
    int has_rk;
    int threads;
    cn_linear_mode linear_mode;
};

/* threads = 0: every core OpenMP offers */
static inline int nthreads(int threads)
{
#ifdef _OPENMP
    return threads > 0 ? threads : omp_get_max_threads();
#else
    (void)threads;
    return 1;
#endif
}

static int plan_needs_relin(const cn_plan_t *p)
{
    for (size_t i = 0; i < p->nops; i++)
        if (p->ops[i].kind == CN_OP_RELIN)
            return 1;
    return 0;
}

void cn_client_free(cn_client_t *c)
{
    if (!c)
        return;
    if (c->has_rk)
        cn_bfv_relin_key_clear(&c->rk);
    cn_bfv_secret_key_clear(&c->sk);
    cn_rng_clear(&c->rng);
    cn_bfv_context_free(c->ctx);
    free(c);
}

void cn_client_set_threads(cn_client_t *c, int threads) { c->threads = threads < 0 ? 0 : threads; }

cn_status cn_client_create(cn_client_t **out, const cn_plan_t *plan, const uint8_t *rng_seed,
                           uint64_t ack)
{
    *out = NULL;
    cn_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return CN_ERR_NO_MEMORY;
    c->plan = plan;
    cn_status st = cn_bfv_context_create(&c->ctx, &plan->prm);
    if (st == CN_OK)
        st = rng_seed ? cn_rng_init_insecure_deterministic(&c->rng, rng_seed, ack)
                      : cn_rng_init(&c->rng);
    if (st == CN_OK)
        st = cn_bfv_keygen_secret(&c->sk, c->ctx, &c->rng);
    if (st == CN_OK && plan_needs_relin(plan)) {
        st = cn_bfv_keygen_relin(&c->rk, &c->sk, c->ctx, &c->rng);
        c->has_rk = st == CN_OK;
    }
    if (st != CN_OK) {
        cn_client_free(c);
        return st;
    }
    *out = c;
    return CN_OK;
}

/* The evaluation keys: a relinearization key, or an empty batch when none is needed
 * (so the server still checks the parameters' fingerprint). */
cn_status cn_client_eval_keys(uint8_t **buf, size_t *len, cn_client_t *c)
{
    size_t sz = c->has_rk ? cn_io_size_relin_key(&c->rk, c->ctx)
                          : cn_io_size_ciphertext_batch(NULL, 0, 0, c->ctx);
    uint8_t *b = malloc(sz);
    if (!b)
        return CN_ERR_NO_MEMORY;
    cn_status st = c->has_rk ? cn_io_save_relin_key(b, sz, len, &c->rk, c->ctx)
                             : cn_io_save_ciphertext_batch(b, sz, len, NULL, 0, 0, c->ctx);
    if (st != CN_OK) {
        free(b);
        return st;
    }
    *buf = b;
    return CN_OK;
}

cn_status cn_client_encrypt(uint8_t **buf, size_t *len, cn_client_t *c, const int64_t *x,
                            size_t count, cn_net_diag_t *diag)
{
    const cn_plan_t *p = c->plan;
    const size_t n = p->prm.n, nt = p->prm.nt, nin = p->nin;
    if (diag)
        diag->msg[0] = 0;
    if (count == 0 || count > n) {
        cn_diag_set(diag, "count %zu: a batch holds 1 to n = %zu inputs", count, n);
        return CN_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < count * nin; i++)
        if (x[i] < p->in_min || x[i] > p->in_max) {
            cn_diag_set(diag, "input %zu, value %zu: %lld is outside the model's input range "
                        "[%lld, %lld]", i / nin, i % nin, (long long)x[i],
                        (long long)p->in_min, (long long)p->in_max);
            return CN_ERR_OUT_OF_RANGE;
        }
    /* one batch object per plaintext modulus, all of equal size: each ciphertext is
     * streamed into its record as soon as it is encrypted (no batch of ciphertexts is
     * held: a thread reuses one), then each part is sealed (header, checksum) */
    const size_t L = cn_bfv_context_params(c->ctx)->nq;
    const cn_io_batch_shape_t shape = {.size = 2, .level = L, .seeded = 1}; /* sk encryptions */
    const size_t part = cn_io_batch_writer_size(nin, &shape, c->ctx);
    cn_rng_t *rngs = calloc(nt * nin, sizeof *rngs);
    uint8_t *out = part && nt <= SIZE_MAX / part ? malloc(nt * part) : NULL;
    cn_status st = (rngs && out) ? CN_OK : CN_ERR_NO_MEMORY;
    /* one generator per ciphertext, forked in order: the bytes are the same for any
     * number of threads */
    for (size_t i = 0; st == CN_OK && i < nt * nin; i++)
        cn_rng_fork(&rngs[i], &c->rng);
    for (size_t ti = 0; st == CN_OK && ti < nt; ti++) {
        cn_io_batch_writer_t wr;
        st = cn_io_batch_writer_init(&wr, out + ti * part, part, nin, &shape, 0, c->ctx);
#pragma omp parallel num_threads(nthreads(c->threads))
        {
            int64_t *v = malloc(count * sizeof *v);
            cn_bfv_plaintext_t pt = {0};
            cn_bfv_ciphertext_t ct = {0};
            cn_status e = v ? cn_bfv_plaintext_init(&pt, c->ctx, ti) : CN_ERR_NO_MEMORY;
#pragma omp for schedule(dynamic, 8)
            for (long g = 0; g < (long)nin; g++) {
                if (e != CN_OK || st != CN_OK)
                    continue;
                for (size_t s = 0; s < count; s++)
                    v[s] = x[s * nin + (size_t)g];
                e = cn_bfv_encode_batch(&pt, v, count, c->ctx);
                if (e == CN_OK)
                    e = cn_bfv_encrypt_symmetric(&ct, &pt, &c->sk, c->ctx,
                                                 &rngs[ti * nin + (size_t)g]);
                if (e == CN_OK)
                    e = cn_io_batch_writer_put(&wr, (size_t)g, &ct);
            }
            if (e != CN_OK) {
#pragma omp critical
                st = e;
            }
            cn_bfv_ciphertext_clear(&ct);
            cn_bfv_plaintext_clear(&pt);
            free(v);
        }
        if (st == CN_OK)
            st = cn_io_batch_writer_final(&wr, NULL);
        cn_io_batch_writer_clear(&wr);
    }
    if (rngs)
        for (size_t i = 0; i < nt * nin; i++)
            cn_rng_clear(&rngs[i]);
    free(rngs);
    if (st != CN_OK) {
        free(out);
        return st;
    }
    *buf = out;
    *len = nt * part;
    return CN_OK;
}

/* The batch bytes of net/: one ciphertext-batch object per plaintext modulus, back to
 * back. Finds part ti: *off, *plen; CN_ERR_FORMAT unless the buffer holds exactly nt
 * such objects. */
static cn_status find_part(size_t *off, size_t *plen, const uint8_t *buf, size_t len, size_t nt,
                           size_t ti, cn_net_diag_t *diag)
{
    size_t o = 0;
    for (size_t i = 0; i < nt; i++) {
        cn_io_header_t h;
        if (len - o < CN_IO_HEADER_BYTES) {
            cn_diag_set(diag, "batch: %zu bytes hold %zu of the %zu parts (one per plaintext "
                        "modulus) the plan needs", len, i, nt);
            return CN_ERR_TRUNCATED;
        }
        cn_status st = cn_io_peek_header(&h, buf + o, len - o);
        if (st != CN_OK) {
            cn_diag_set(diag, "batch part %zu of %zu (byte %zu): %s", i + 1, nt, o,
                        cn_strerror(st));
            return st;
        }
        if (h.type != CN_IO_CIPHERTEXT_BATCH) {
            cn_diag_set(diag, "batch part %zu of %zu: an object of type %u, not a ciphertext "
                        "batch", i + 1, nt, (unsigned)h.type);
            return CN_ERR_FORMAT;
        }
        if (h.total_length > len - o || h.total_length < CN_IO_HEADER_BYTES) {
            cn_diag_set(diag, "batch part %zu of %zu: declares %llu bytes, %zu remain", i + 1,
                        nt, (unsigned long long)h.total_length, len - o);
            return h.total_length > len - o ? CN_ERR_TRUNCATED : CN_ERR_FORMAT;
        }
        if (i == ti) {
            *off = o;
            *plen = (size_t)h.total_length;
        }
        o += (size_t)h.total_length;
    }
    if (o != len) {
        cn_diag_set(diag, "batch: %zu bytes after the %zu parts the plan has (one per "
                    "plaintext modulus)", len - o, nt);
        return CN_ERR_FORMAT;
    }
    return CN_OK;
}

/* part ti of buf: exactly count ciphertexts of plaintext modulus ti (size and level
 * checked by the caller where it matters) */
static cn_status load_part(cn_bfv_ciphertext_t **cts, const uint8_t *buf, size_t len, size_t nt,
                           size_t ti, size_t count, const cn_bfv_context_t *ctx, int threads,
                           cn_net_diag_t *diag)
{
    size_t off = 0, plen = 0, cnt = 0;
    *cts = NULL;
    cn_status st = find_part(&off, &plen, buf, len, nt, ti, diag);
    if (st != CN_OK)
        return st;
    st = cn_io_load_ciphertext_batch_flags(cts, &cnt, buf + off, plen, CN_IO_DEFER_SEED, ctx);
    if (st != CN_OK) {
        cn_diag_set(diag, "batch part %zu of %zu: %s", ti + 1, nt, cn_strerror(st));
        return st;
    }
    cn_bfv_ciphertext_t *c = *cts;
    if (cnt != count) {
        cn_diag_set(diag, "batch part %zu of %zu holds %zu ciphertexts; the plan expects %zu",
                    ti + 1, nt, cnt, count);
        st = CN_ERR_SHAPE_MISMATCH;
    }
    for (size_t i = 0; st == CN_OK && i < cnt; i++)
        if (c[i].t_index != ti) {
            cn_diag_set(diag, "batch part %zu of %zu: ciphertext %zu is for plaintext modulus "
                        "%u, not %zu (parts out of order?)", ti + 1, nt, i + 1,
                        (unsigned)c[i].t_index + 1, ti + 1);
            st = CN_ERR_SHAPE_MISMATCH;
        }
    /* the seeds' expansion (most of the loading, deferred by the loader) in parallel, once
     * the shape is right */
    if (st == CN_OK) {
#pragma omp parallel for schedule(dynamic, 8) num_threads(nthreads(threads))
        for (long i = 0; i < (long)cnt; i++) {
            if (c[i].has_seed && cn_bfv_expand_seed(&c[i], ctx) != CN_OK) {
#pragma omp critical
                st = CN_ERR_FORMAT;
            }
        }
    }
    if (st != CN_OK) {
        cn_io_free_ciphertexts(*cts, cnt);
        *cts = NULL;
    }
    return st;
}

/* writes nt parts of count ciphertexts each (res[ti * count + j]), each part's records
 * streamed by the threads */
static cn_status save_parts(uint8_t **buf, size_t *len, const cn_bfv_ciphertext_t *res,
                            size_t nt, size_t count, const cn_bfv_context_t *ctx, int threads)
{
    const unsigned fl = CN_IO_ALLOW_TRANSPARENT;
    cn_io_batch_shape_t shape;
    size_t total = 0;
    for (size_t ti = 0; ti < nt; ti++) {
        cn_io_batch_shape_of(&shape, res + ti * count, fl, ctx);
        total += cn_io_batch_writer_size(count, &shape, ctx);
    }
    uint8_t *out = malloc(total ? total : 1);
    if (!out)
        return CN_ERR_NO_MEMORY;
    size_t o = 0;
    cn_status st = CN_OK;
    for (size_t ti = 0; st == CN_OK && ti < nt; ti++) {
        cn_io_batch_writer_t w;
        cn_io_batch_shape_of(&shape, res + ti * count, fl, ctx);
        st = cn_io_batch_writer_init(&w, out + o, total - o, count, &shape, fl, ctx);
        if (st == CN_OK) {
#pragma omp parallel for schedule(dynamic, 8) num_threads(nthreads(threads))
            for (long i = 0; i < (long)count; i++) {
                const cn_status e = cn_io_batch_writer_put(&w, (size_t)i, &res[ti * count + i]);
                if (e != CN_OK) {
#pragma omp critical
                    st = e;
                }
            }
        }
        if (st == CN_OK)
            st = cn_io_batch_writer_final(&w, NULL);
        o += w.total;
        cn_io_batch_writer_clear(&w);
    }
    if (st != CN_OK) {
        free(out);
        return st;
    }
    *buf = out;
    *len = o;
    return CN_OK;
}

/* value in (-T/2, T/2] from residues r[i] mod t[i] (fmpz CRT), as a 128-bit integer */
static cn_status crt_join(cn_int128 *out, const uint64_t *r, const uint64_t *t, size_t k)
{
    fmpz_t x, mod, tmp;
    fmpz_init(x);
    fmpz_init(mod);
    fmpz_init(tmp);
    fmpz_set_ui(x, r[0] % t[0]);
    fmpz_set_ui(mod, t[0]);
    for (size_t i = 1; i < k; i++) {
        fmpz_t ri, ti;
        fmpz_init_set_ui(ri, r[i]);
        fmpz_init_set_ui(ti, t[i]);
        fmpz_CRT(x, x, mod, ri, ti, 0);
        fmpz_mul(mod, mod, ti);
        fmpz_clear(ri);
        fmpz_clear(ti);
    }
    fmpz_fdiv_q_2exp(tmp, mod, 1);
    if (fmpz_cmp(x, tmp) > 0)
        fmpz_sub(x, x, mod);
    cn_status st = CN_OK;
    if (fmpz_bits(x) > 126) {
        st = CN_ERR_OUT_OF_RANGE;
    } else {
        fmpz_abs(tmp, x);
        fmpz_t hi;
        fmpz_init(hi);
        fmpz_fdiv_q_2exp(hi, tmp, 64);
        fmpz_fdiv_r_2exp(tmp, tmp, 64);
        unsigned __int128 u = ((unsigned __int128)fmpz_get_ui(hi) << 64) | fmpz_get_ui(tmp);
        *out = fmpz_sgn(x) < 0 ? -(cn_int128)u : (cn_int128)u;
        fmpz_clear(hi);
    }
    fmpz_clear(x);
    fmpz_clear(mod);
    fmpz_clear(tmp);
    return st;
}

/* every part: nt * count ciphertexts, modulus-major */
static cn_status load_all(cn_bfv_ciphertext_t **cts, const uint8_t *buf, size_t len, size_t nt,
                          size_t count, const cn_bfv_context_t *ctx, cn_net_diag_t *diag)
{
    cn_bfv_ciphertext_t *all = calloc(nt * count, sizeof *all);
    cn_status st = all ? CN_OK : CN_ERR_NO_MEMORY;
    for (size_t ti = 0; st == CN_OK && ti < nt; ti++) {
        cn_bfv_ciphertext_t *part;
        st = load_part(&part, buf, len, nt, ti, count, ctx, 0, diag);
        if (st != CN_OK)
            break;
        memcpy(all + ti * count, part, count * sizeof *part); /* the records move */
        free(part);
    }
    if (st != CN_OK) {
        if (all)
            cn_io_free_ciphertexts(all, nt * count);
        return st;
    }
    *cts = all;
    return CN_OK;
}

static cn_status load_reply(cn_bfv_ciphertext_t **cts, size_t *cnt, cn_client_t *c,
                            const uint8_t *buf, size_t len, cn_net_diag_t *diag)
{
    const cn_plan_t *p = c->plan;
    *cnt = p->prm.nt * p->nout;
    return load_all(cts, buf, len, p->prm.nt, p->nout, c->ctx, diag);
}

/* out[count][nout] from the nt * nout reply ciphertexts (modulus-major): decryption (a
 * result whose noise is exhausted is refused), decoding, CRT over the t_i */
static cn_status decrypt_outputs(cn_int128 *out, cn_client_t *c, const cn_bfv_ciphertext_t *cts,
                                 size_t count)
{
    const cn_plan_t *p = c->plan;
    const size_t n = p->prm.n, nt = p->prm.nt, nout = p->nout;
    uint64_t *res = malloc(nt * nout * n * sizeof *res);
    cn_bfv_plaintext_t pt = {0};
    cn_status st = res ? CN_OK : CN_ERR_NO_MEMORY;
    for (size_t i = 0; st == CN_OK && i < nt * nout; i++) {
        cn_bfv_plaintext_clear(&pt);
        st = cn_bfv_decrypt_checked(&pt, &cts[i], &c->sk, c->ctx);
        if (st == CN_OK)
            st = cn_bfv_decode_batch_u64(res + i * n, &pt, c->ctx);
    }
    cn_bfv_plaintext_clear(&pt);
    for (size_t s = 0; st == CN_OK && s < count; s++)
        for (size_t j = 0; st == CN_OK && j < nout; j++) {
            uint64_t r[CN_BFV_MAX_T];
            for (size_t ti = 0; ti < nt; ti++)
                r[ti] = res[(ti * nout + j) * n + s];
            st = crt_join(&out[s * nout + j], r, p->prm.t, nt);
        }
    free(res);
    return st;
}

cn_status cn_client_decrypt(cn_int128 *out, cn_client_t *c, const uint8_t *buf, size_t len,
                            size_t count, cn_net_diag_t *diag)
{
    if (diag)
        diag->msg[0] = 0;
    if (count > c->plan->prm.n) {
        cn_diag_set(diag, "count %zu: a reply holds at most n = %zu results", count,
                    c->plan->prm.n);
        return CN_ERR_INVALID_ARG;
    }
    cn_bfv_ciphertext_t *cts;
    size_t cnt;
    cn_status st = load_reply(&cts, &cnt, c, buf, len, diag);
    if (st != CN_OK)
        return st;
    st = decrypt_outputs(out, c, cts, count);
    if (st == CN_ERR_NOISE_EXHAUSTED)
        cn_diag_set(diag, "reply: a result's noise budget is exhausted (wrong key, another "
                    "plan, or a damaged reply): its decryption cannot be trusted");
    else if (st != CN_OK)
        cn_diag_set(diag, "reply: %s", cn_strerror(st));
    cn_io_free_ciphertexts(cts, cnt);
    return st;
}

cn_status cn_client_reply_budget(int *bits, cn_client_t *c, const uint8_t *buf, size_t len,
                                 cn_net_diag_t *diag)
{
    if (diag)
        diag->msg[0] = 0;
    cn_bfv_ciphertext_t *cts;
    size_t cnt;
    cn_status st = load_reply(&cts, &cnt, c, buf, len, diag);
    if (st != CN_OK)
        return st;
    *bits = 1 << 20;
    for (size_t i = 0; st == CN_OK && i < cnt; i++) {
        int b;
        st = cn_bfv_noise_budget(&b, &cts[i], &c->sk, c->ctx);
        if (st == CN_OK && b < *bits)
            *bits = b;
    }
    cn_io_free_ciphertexts(cts, cnt);
    return st;
}

/* --- server ------------------------------------------------------------------------- */

void cn_server_free(cn_server_t *s)
{
    if (!s)
        return;
    if (s->has_rk)
        cn_bfv_relin_key_clear(&s->rk);
    cn_bfv_context_free(s->ctx);
    free(s);
}

static const char *io_type_name(unsigned type)
{
    static const char *const names[] = {"?", "parameters", "secret key", "public key",
                                        "relinearization key", "Galois keys", "plaintext",
                                        "ciphertext", "ciphertext batch"};
    return type < sizeof names / sizeof names[0] ? names[type] : "unknown object";
}

/* Says why the evaluation-key bytes were refused (st): what they are, what was expected. */
static void keys_diag(cn_net_diag_t *diag, cn_status st, const uint8_t *keys, size_t len,
                      int needs_rk)
{
    const char *want = needs_rk ? "a relinearization key"
                                : "an empty ciphertext batch (this plan needs no "
                                  "relinearization key)";
    cn_io_header_t h;
    if (cn_io_peek_header(&h, keys, len) == CN_OK &&
        h.type != (needs_rk ? CN_IO_RELIN_KEY : CN_IO_CIPHERTEXT_BATCH)) {
        cn_diag_set(diag, "evaluation keys: the bytes are a %s; the server takes %s%s",
                    io_type_name(h.type), want,
                    h.type == CN_IO_SECRET_KEY ? ", never a secret key" : "");
    } else if (st == CN_ERR_CONTEXT_MISMATCH) {
        cn_diag_set(diag, "evaluation keys: made for other encryption parameters than the "
                    "plan's (keys of another plan?)");
    } else {
        cn_diag_set(diag, "evaluation keys (%zu bytes, %s expected): %s", len, want,
                    cn_strerror(st));
    }
}

cn_status cn_server_create(cn_server_t **out, const cn_plan_t *plan, const uint8_t *keys,
                           size_t len, int threads, cn_net_diag_t *diag)
{
    *out = NULL;
    if (diag)
        diag->msg[0] = 0;
    if (threads < 0) {
        cn_diag_set(diag, "threads %d: must be >= 0 (0: every core)", threads);
        return CN_ERR_INVALID_ARG;
    }
    cn_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return CN_ERR_NO_MEMORY;
    s->plan = plan;
    s->threads = threads;
    const int needs_rk = plan_needs_relin(plan);
    cn_status st = cn_bfv_context_create(&s->ctx, &plan->prm);
    if (st == CN_OK && needs_rk) {
        st = cn_io_load_relin_key(&s->rk, keys, len, s->ctx);
        s->has_rk = st == CN_OK;
    } else if (st == CN_OK) {
        cn_bfv_ciphertext_t *none;
        size_t cnt;
        st = cn_io_load_ciphertext_batch(&none, &cnt, keys, len, s->ctx);
        if (st == CN_OK) {
            cn_io_free_ciphertexts(none, cnt);
            if (cnt != 0)
                st = CN_ERR_FORMAT;
        }
    }
    if (st != CN_OK) {
        keys_diag(diag, st, keys, len, needs_rk);
        cn_server_free(s);
        return st;
    }
    *out = s;
    return CN_OK;
}

cn_status cn_server_set_linear_mode(cn_server_t *s, cn_linear_mode mode)
{
    if (mode != CN_LINEAR_BLOCKED && mode != CN_LINEAR_PER_CIPHERTEXT)
        return CN_ERR_INVALID_ARG;
    s->linear_mode = mode;
    return CN_OK;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* coefficients per task of the linear layers: a multiple of the kernels' block */
#define CN_LIN_TILE 64

/* out[0..nout) = lin(in[0..nin)) without biases, for ciphertexts of plaintext modulus
 * ti: the blocked kernels (docs/net.md, "Linear kernel"). */
static cn_status eval_linear_blocked(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *in,
                                     const cn_lin_t *lin, size_t ti, const cn_server_t *s)
{
    const cn_bfv_context_t *ctx = s->ctx;
    const size_t size = in[0].size, level = in[0].level, n = cn_bfv_context_params(ctx)->n;
    const cn_mod_t *qm = cn_bfv_context_level_primes(ctx, level, NULL);
    cn_status st = CN_OK;
    for (size_t j = 0; j < lin->nout && st == CN_OK; j++) {
        st = cn_bfv_ciphertext_reshape(&out[j], size, level, CN_BFV_NO_ZERO_FILL,
                                       ctx); /* the kernel writes all */
        out[j].t_index = ti;
        out[j].transparent = 0;
        out[j].has_seed = 0;
    }
    const uint64_t **xr = malloc(lin->nin * sizeof *xr);
    uint64_t **orow = malloc(lin->nout * sizeof *orow);
    const size_t nnz = lin->row[lin->nout];
    uint64_t *wmod = malloc((nnz ? nnz : 1) * sizeof *wmod);
    if (!xr || !orow || !wmod)
        st = CN_ERR_NO_MEMORY;
    for (size_t r = 0; st == CN_OK && r < level; r++)
        for (size_t c = 0; c < size; c++) {
            for (size_t i = 0; i < lin->nin; i++)
                xr[i] = in[i].c[c].data + r * n;
            for (size_t j = 0; j < lin->nout; j++)
                orow[j] = out[j].c[c].data + r * n;
            const cn_mod_t m = qm[r];
            const cn_lin_kernel_fn kern = cn_lin_kernel(m.p, NULL);
            if (c == 0)
                for (size_t k = 0; k < nnz; k++)
                    wmod[k] = cn_mod_from_int64(lin->w[k], m);
            /* coefficient blocks over the threads, every output in each: a block of the
             * inputs stays in cache while the outputs sweep it */
            const long nblk = (long)((n + CN_LIN_TILE - 1) / CN_LIN_TILE);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads(s->threads))
            for (long b = 0; b < nblk; b++) {
                const size_t cs = (size_t)b * CN_LIN_TILE;
                const size_t ce = cs + CN_LIN_TILE < n ? cs + CN_LIN_TILE : n;
                kern(orow, xr, lin, wmod, 0, lin->nout, cs, ce, m);
            }
        }
    free(xr);
    free(orow);
    free(wmod);
    return st;
}

/* The same linear layer one ciphertext at a time, through the public BFV API (for each
 * output, a scalar product and an addition per term over whole ciphertexts, as an
 * application of a general-purpose HE library writes it): the baseline of the blocked
 * kernels in bench/throughput. The residues equal the blocked kernels' (both compute
 * sum w x mod p exactly; |w| < t/2, so mul_scalar's centered w mod t is w). */
static cn_status eval_linear_per_ct(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *in,
                                    const cn_lin_t *lin, size_t ti, const cn_server_t *s)
{
    const cn_bfv_context_t *ctx = s->ctx;
    cn_status st = CN_OK;
#pragma omp parallel num_threads(nthreads(s->threads))
    {
        cn_bfv_ciphertext_t tmp = {0};
#pragma omp for schedule(dynamic, 1)
        for (long jj = 0; jj < (long)lin->nout; jj++) {
            const size_t j = (size_t)jj;
            /* the sum starts at zero */
            cn_status e = cn_bfv_ciphertext_reshape(&out[j], in[0].size, in[0].level, 0, ctx);
            if (e == CN_OK) {
                out[j].t_index = ti;
                out[j].has_seed = 0;
            }
            for (size_t k = lin->row[j]; e == CN_OK && k < lin->row[j + 1]; k++) {
                e = cn_bfv_mul_scalar(&tmp, &in[lin->col[k]], lin->w[k], ctx);
                if (e == CN_OK)
                    e = cn_bfv_add(&out[j], &out[j], &tmp, ctx);
            }
            out[j].transparent = 0;
            if (e != CN_OK) {
#pragma omp critical
                st = e;
            }
        }
        cn_bfv_ciphertext_clear(&tmp);
    }
    return st;
}

/* out[0..nout) = lin(in[0..nin)) for ciphertexts of plaintext modulus ti. */
static cn_status eval_linear(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *in,
                             const cn_lin_t *lin, size_t ti, const cn_server_t *s)
{
    const cn_bfv_context_t *ctx = s->ctx;
    cn_status st = s->linear_mode == CN_LINEAR_PER_CIPHERTEXT
                       ? eval_linear_per_ct(out, in, lin, ti, s)
                       : eval_linear_blocked(out, in, lin, ti, s);
    /* biases: Delta b on the constant coefficient (a constant plaintext) */
    cn_bfv_plaintext_t pt = {0};
    if (st == CN_OK)
        st = cn_bfv_plaintext_init(&pt, ctx, ti);
    const cn_mod_t tm = cn_bfv_context_plain_moduli(ctx, NULL)[ti];
    for (size_t j = 0; st == CN_OK && j < lin->nout; j++) {
        cn_int128 b = lin->bias[j];
        unsigned __int128 ub = b < 0 ? -(unsigned __int128)b : (unsigned __int128)b;
        uint64_t bm = (uint64_t)(ub % tm.p);
        if (b < 0)
            bm = cn_mod_neg(bm, tm);
        if (bm == 0)
            continue;
        pt.coeffs[0] = bm;
        st = cn_bfv_add_plain(&out[j], &out[j], &pt, ctx);
    }
    cn_bfv_plaintext_clear(&pt);
    return st;
}

/* Applies op to the width ciphertexts *cur (plaintext modulus ti); a linear op replaces
 * *cur by a fresh array (*owned = 1) and frees the old one if owned. */
static cn_status run_op(cn_bfv_ciphertext_t **curp, size_t *widthp, int *owned,
                        const cn_op_t *op, size_t ti, const cn_server_t *s)
{
    cn_bfv_ciphertext_t *cur = *curp;
    const cn_bfv_context_t *ctx = s->ctx;
    cn_status st = CN_OK;
    if (op->kind == CN_OP_LINEAR) {
        cn_bfv_ciphertext_t *nx = calloc(op->lin.nout, sizeof *nx);
        if (!nx)
            return CN_ERR_NO_MEMORY;
        st = eval_linear(nx, cur, &op->lin, ti, s);
        for (size_t i = 0; i < *widthp; i++)
            cn_bfv_ciphertext_clear(&cur[i]);
        if (*owned)
            free(cur);
        *curp = nx;
        *owned = 1;
        *widthp = op->lin.nout;
        return st;
    }
    const long w = (long)*widthp;
#pragma omp parallel for schedule(dynamic, 4) num_threads(nthreads(s->threads))
    for (long i = 0; i < w; i++) {
        cn_status e = CN_OK;
        if (op->kind == CN_OP_SQUARE) {
            e = cn_bfv_square(&cur[i], &cur[i], ctx);
        } else if (op->kind == CN_OP_RELIN) {
            e = cn_bfv_relinearize(&cur[i], &cur[i], &s->rk, ctx);
        } else {
            for (size_t d = 0; d < op->drop && e == CN_OK; d++)
                e = cn_bfv_mod_switch(&cur[i], &cur[i], ctx);
        }
        if (e != CN_OK) {
#pragma omp critical
            st = e;
        }
    }
    return st;
}

cn_status cn_server_eval(uint8_t **outbuf, size_t *outlen, cn_server_t *s, const uint8_t *in,
                         size_t len, cn_server_timing_t *timing, cn_net_diag_t *diag)
{
    if (diag)
        diag->msg[0] = 0;
    const cn_plan_t *p = s->plan;
    const cn_bfv_context_t *ctx = s->ctx;
    const size_t nt = p->prm.nt;
    *outbuf = NULL;
    if (timing) {
        memset(timing, 0, sizeof *timing);
        snprintf(timing->name[0], sizeof timing->name[0], "load");
        timing->nsteps = 1 + p->nops; /* at most CN_PLAN_MAX_OPS: the loader's limit */
    }
    /* the whole shape first: nt parts, before any work */
    size_t off, plen;
    cn_status st = find_part(&off, &plen, in, len, nt, 0, diag);
    cn_bfv_ciphertext_t *res = st == CN_OK ? calloc(p->nout * nt, sizeof *res) : NULL;
    if (st == CN_OK && !res)
        st = CN_ERR_NO_MEMORY;
    /* one plaintext modulus at a time: its memory is reused by the next */
    for (size_t ti = 0; st == CN_OK && ti < nt; ti++) {
        double ts = now_s();
        cn_bfv_ciphertext_t *cur;
        st = load_part(&cur, in, len, nt, ti, p->nin, ctx, s->threads, diag);
        for (size_t i = 0; st == CN_OK && i < p->nin; i++)
            if (cur[i].size != 2 || cur[i].level != cn_bfv_context_params(ctx)->nq) {
                cn_diag_set(diag, "batch part %zu, ciphertext %zu: size %u at level %u; the "
                            "server takes fresh ciphertexts (size 2, all %zu primes)", ti + 1,
                            i + 1, (unsigned)cur[i].size, (unsigned)cur[i].level,
                            cn_bfv_context_params(ctx)->nq);
                st = CN_ERR_SHAPE_MISMATCH;
            }
        if (timing)
            timing->seconds[0] += now_s() - ts;
        if (st != CN_OK) {
            if (cur)
                cn_io_free_ciphertexts(cur, p->nin);
            break;
        }
        size_t width = p->nin;
        int owned = 1;
        for (size_t o = 0; st == CN_OK && o < p->nops; o++) {
            const cn_op_t *op = &p->ops[o];
            ts = now_s();
            st = run_op(&cur, &width, &owned, op, ti, s);
            if (st != CN_OK)
                cn_diag_set(diag, "op %zu (plaintext modulus %zu): %s", o + 1, ti + 1,
                            cn_strerror(st));
            if (timing && ti == 0) {
                const char *nm = op->kind == CN_OP_LINEAR   ? "linear"
                                 : op->kind == CN_OP_SQUARE ? "square"
                                 : op->kind == CN_OP_RELIN  ? "relin"
                                                            : "modswitch";
                snprintf(timing->name[1 + o], sizeof timing->name[0], "%u:%.12s",
                         (unsigned)(o + 1), nm);
            }
            if (timing)
                timing->seconds[1 + o] += now_s() - ts;
        }
        for (size_t j = 0; st == CN_OK && j < p->nout; j++) {
            res[ti * p->nout + j] = cur[j];
            memset(&cur[j], 0, sizeof cur[j]);
        }
        cn_io_free_ciphertexts(cur, width);
    }
    if (st == CN_OK) {
        const double ts = now_s();
        st = save_parts(outbuf, outlen, res, nt, p->nout, ctx, s->threads);
        if (st != CN_OK)
            cn_diag_set(diag, "reply: %s", cn_strerror(st));
        if (timing) {
            snprintf(timing->name[timing->nsteps], sizeof timing->name[0], "save");
            timing->seconds[timing->nsteps++] = now_s() - ts;
        }
    }
    if (res)
        cn_io_free_ciphertexts(res, p->nout * nt);
    return st;
}

/* --- check mode ---------------------------------------------------------------------- */

static uint64_t mod_i128(cn_int128 v, uint64_t t)
{
    cn_int128 r = v % (cn_int128)t;
    return (uint64_t)(r < 0 ? r + (cn_int128)t : r);
}

cn_status cn_client_check(cn_check_report_t *rep, cn_client_t *c, const int64_t *x,
                          size_t count)
{
    const cn_plan_t *p = c->plan;
    const size_t n = p->prm.n, nt = p->prm.nt;
    memset(rep, 0, sizeof *rep);
    rep->min_budget = 1 << 20;
    uint8_t *buf;
    size_t len;
    cn_status st = cn_client_encrypt(&buf, &len, c, x, count, NULL);
    if (st != CN_OK)
        return st;
    cn_bfv_ciphertext_t *cts;
    const size_t cnt = nt * p->nin;
    st = load_all(&cts, buf, len, nt, p->nin, c->ctx, NULL);
    free(buf);
    if (st != CN_OK)
        return st;
    size_t maxw = p->nin;
    for (size_t o = 0; o < p->nops; o++)
        if (p->ops[o].width > maxw)
            maxw = p->ops[o].width;
    cn_int128 *ra = malloc(count * maxw * sizeof *ra), *rb = malloc(count * maxw * sizeof *rb);
    cn_bfv_ciphertext_t **cur = calloc(nt, sizeof *cur);
    int *owned = calloc(nt, sizeof *owned);
    uint64_t *slots = malloc(n * sizeof *slots);
    if (!ra || !rb || !cur || !owned || !slots)
        st = CN_ERR_NO_MEMORY;
    for (size_t i = 0; st == CN_OK && i < count * p->nin; i++)
        ra[i] = x[i];
    for (size_t ti = 0; st == CN_OK && ti < nt; ti++)
        cur[ti] = cts + ti * p->nin;
    /* a server over the client's own context and relinearization key */
    cn_server_t srv = {.plan = p, .ctx = c->ctx, .threads = c->threads};
    if (c->has_rk)
        srv.rk = c->rk;
    size_t width = p->nin;
    cn_bfv_plaintext_t pt = {0};
    for (size_t o = 0; st == CN_OK && o < p->nops && rep->op == 0; o++) {
        const cn_op_t *op = &p->ops[o];
        size_t wnext = width;
        for (size_t ti = 0; st == CN_OK && ti < nt; ti++) {
            wnext = width;
            st = run_op(&cur[ti], &wnext, &owned[ti], op, ti, &srv);
        }
        if (st != CN_OK)
            break;
        cn_op_eval_plain(rb, ra, width, op, count);
        width = wnext;
        rep->min_budget = 1 << 20;
        for (size_t ti = 0; st == CN_OK && ti < nt; ti++)
            for (size_t j = 0; st == CN_OK && j < width; j++) {
                int bud;
                st = cn_bfv_noise_budget(&bud, &cur[ti][j], &c->sk, c->ctx);
                if (st != CN_OK)
                    break;
                if (bud < rep->min_budget)
                    rep->min_budget = bud;
                cn_bfv_plaintext_clear(&pt);
                st = cn_bfv_decrypt(&pt, &cur[ti][j], &c->sk, c->ctx);
                if (st == CN_OK)
                    st = cn_bfv_decode_batch_u64(slots, &pt, c->ctx);
                for (size_t sl = 0; st == CN_OK && sl < count && rep->op == 0; sl++)
                    if (slots[sl] != mod_i128(rb[sl * width + j], p->prm.t[ti])) {
                        rep->op = o + 1;
                        rep->reason = bud == 0 ? CN_CHECK_NOISE : CN_CHECK_OTHER;
                        snprintf(rep->msg, sizeof rep->msg,
                                 "op %zu, value %zu, slot %zu, modulus %zu: decrypted %llu, "
                                 "integer network %llu; noise budget %d bits%s",
                                 o + 1, j, sl, ti, (unsigned long long)slots[sl],
                                 (unsigned long long)mod_i128(rb[sl * width + j], p->prm.t[ti]),
                                 bud, bud == 0 ? ": the noise is exhausted" : "");
                    }
            }
        cn_int128 *tmp = ra;
        ra = rb;
        rb = tmp;
    }
    cn_bfv_plaintext_clear(&pt);
    /* the outputs matched mod every t_i: they are exact unless the range exceeds T */
    if (st == CN_OK && rep->op == 0) {
        cn_int128 *got = malloc(count * p->nout * sizeof *got);
        cn_bfv_ciphertext_t *res = calloc(p->nout * nt, sizeof *res);
        if (!got || !res)
            st = CN_ERR_NO_MEMORY;
        for (size_t ti = 0; st == CN_OK && ti < nt; ti++)
            for (size_t j = 0; j < p->nout; j++)
                res[ti * p->nout + j] = cur[ti][j];
        if (st == CN_OK)
            st = decrypt_outputs(got, c, res, count);
        for (size_t i = 0; st == CN_OK && i < count * p->nout && rep->op == 0; i++)
            if (got[i] != ra[i]) {
                rep->op = p->nops;
                rep->reason = CN_CHECK_OVERFLOW;
                snprintf(rep->msg, sizeof rep->msg,
                         "output %zu of slot %zu: decrypted %.6g, integer network %.6g; they "
                         "agree mod every t_i, so the value exceeds the plaintext range T/2 "
                         "(more or larger plaintext moduli needed)",
                         i % p->nout, i / p->nout, (double)got[i], (double)ra[i]);
            }
        free(got);
        free(res); /* the ciphertexts themselves are cleared with cur below */
    }
    for (size_t ti = 0; cur && ti < nt; ti++) {
        if (!cur[ti])
            continue;
        const size_t w = owned[ti] ? width : p->nin;
        for (size_t i = 0; i < w; i++)
            cn_bfv_ciphertext_clear(&cur[ti][i]);
        if (owned[ti])
            free(cur[ti]);
    }
    cn_io_free_ciphertexts(cts, cnt);
    free(cur);
    free(owned);
    free(ra);
    free(rb);
    free(slots);
    if (st == CN_OK && rep->op == 0)
        snprintf(rep->msg, sizeof rep->msg, "every op matched the integer network on every slot");
    return st;
}
