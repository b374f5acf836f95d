/* The packed layout's roles (cryptonets/packed.h, docs/net.md "Packed layout"): the
 * client arranges, encrypts, decrypts and un-arranges; the server evaluates the layout of
 * net/compiler/layout.c: products with plaintext weight vectors in the NTT domain (one
 * lazy 128-bit sum per coefficient), rotations by key switching (hoisted baby steps,
 * lib/bfv/hoist.c), squares and relinearizations of lib/bfv. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../packed.h"
#include "runtime.h"

struct cn_packed_client {
    const cn_packed_t *pk;
    int threads;
    cn_bfv_context_t *ctx;
    cn_rng_t rng;
    cn_bfv_secret_key_t sk;
    cn_bfv_relin_key_t rk;
    int has_rk;
    cn_bfv_galois_keys_t gk;
};

/* The weight vectors of one linear op for one plaintext modulus, NTT form over the op's
 * level: FIRST nct of them, DIAG D (pre-rotated for the giant steps); and the bias. */
typedef struct {
    size_t count;
    cn_poly_t *w;
    cn_bfv_plaintext_t bias;
} pk_weights_t;

struct cn_packed_server {
    const cn_packed_t *pk;
    cn_bfv_context_t *ctx;
    cn_bfv_relin_key_t rk;
    int has_rk;
    cn_bfv_galois_keys_t gk;
    int threads;
    pk_weights_t *wt; /* [nt * nops] */
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int pk_needs_relin(const cn_packed_t *pk)
{
    for (size_t i = 0; i < pk->nops; i++)
        if (pk->ops[i].kind == CN_PK_RELIN)
            return 1;
    return 0;
}

/* --- client ------------------------------------------------------------------------- */

void cn_packed_client_free(cn_packed_client_t *c)
{
    if (!c)
        return;
    if (c->has_rk)
        cn_bfv_relin_key_clear(&c->rk);
    cn_bfv_galois_keys_clear(&c->gk);
    cn_bfv_secret_key_clear(&c->sk);
    cn_rng_clear(&c->rng);
    cn_bfv_context_free(c->ctx);
    free(c);
}

void cn_packed_client_set_threads(cn_packed_client_t *c, int threads)
{
    c->threads = threads < 0 ? 0 : threads;
}

cn_status cn_packed_client_create(cn_packed_client_t **out, const cn_packed_t *pk,
                                  const uint8_t *rng_seed, uint64_t ack)
{
    return cn_pk_client_make(out, pk, rng_seed, ack, NULL, 0);
}

const cn_bfv_secret_key_t *cn_pk_client_secret(const cn_packed_client_t *c,
                                               const cn_bfv_context_t **ctx,
                                               const cn_packed_t **pk)
{
    *ctx = c->ctx;
    *pk = c->pk;
    return &c->sk;
}

cn_status cn_pk_client_make(cn_packed_client_t **out, const cn_packed_t *pk,
                            const uint8_t *rng_seed, uint64_t ack, const uint8_t *sk,
                            size_t sklen)
{
    *out = NULL;
    cn_packed_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return CN_ERR_NO_MEMORY;
    c->pk = pk;
    cn_status st = cn_bfv_context_create(&c->ctx, &pk->prm);
    if (st == CN_OK)
        st = rng_seed ? cn_rng_init_insecure_deterministic(&c->rng, rng_seed, ack)
                      : cn_rng_init(&c->rng);
    if (st == CN_OK)
        st = sk ? cn_io_load_secret_key(&c->sk, sk, sklen, c->ctx)
                : cn_bfv_keygen_secret(&c->sk, c->ctx, &c->rng);
    /* every key at the highest level it is used at (smaller: docs/net.md "Keys") */
    size_t levels[CN_PK_MAX_ELTS], dps[CN_PK_MAX_ELTS];
    const size_t relin = cn_pk_key_levels(pk, levels), rdp = cn_pk_key_digits(pk, dps);
    if (st == CN_OK && pk_needs_relin(pk)) {
        st = cn_bfv_keygen_relin_digits(&c->rk, &c->sk, relin, rdp, c->ctx, &c->rng);
        c->has_rk = st == CN_OK;
    }
    if (st == CN_OK)
        st = cn_bfv_keygen_galois_digits(&c->gk, &c->sk, pk->elts, levels, pk->nelts, dps,
                                         c->ctx, &c->rng);
    if (st != CN_OK) {
        cn_packed_client_free(c);
        return st;
    }
    *out = c;
    return CN_OK;
}

cn_status cn_packed_client_eval_keys(uint8_t **buf, size_t *len, cn_packed_client_t *c)
{
    const size_t a = c->has_rk ? cn_io_size_relin_key(&c->rk, c->ctx) : 0;
    const size_t b = cn_io_size_galois_keys(&c->gk, c->ctx);
    uint8_t *p = malloc(a + b);
    if (!p)
        return CN_ERR_NO_MEMORY;
    size_t wa = 0, wb = 0;
    cn_status st = c->has_rk ? cn_io_save_relin_key(p, a, &wa, &c->rk, c->ctx) : CN_OK;
    if (st == CN_OK)
        st = cn_io_save_galois_keys(p + wa, a + b - wa, &wb, &c->gk, c->ctx);
    if (st != CN_OK) {
        free(p);
        return st;
    }
    *buf = p;
    *len = wa + wb;
    return CN_OK;
}

/* The slots of ciphertext c of set `set` of the first layer for inputs x (count). */
static void arrange(int64_t *v, const cn_packed_t *pk, size_t set, size_t c, const int64_t *x,
                    size_t count)
{
    const cn_pk_op_t *o = &pk->ops[0];
    const cn_lin_t *lin = o->lin;
    const size_t nin = pk->plan->nin, nbr = pk->pos / o->m_out;
    memset(v, 0, pk->prm.n * sizeof *v);
    for (size_t lane = 0; lane < pk->per_set; lane++) {
        const size_t img = set * pk->per_set + lane;
        if (img >= count)
            break;
        /* block pb of row copy r holds term beta = r fb + pb mod fb (the row repeats its
         * fb blocks, so the log2 fb folds leave the full sum in every block) */
        for (size_t r = 0; r < (pk->rows_distinct ? 1u : 2u); r++)
            for (size_t pb = 0; pb < nbr; pb++) {
                const size_t k = c * o->nb + r * o->fb + pb % o->fb;
                if (k >= o->K)
                    continue;
                const size_t off = pb * o->m_out;
                for (size_t j = 0; j < lin->nout; j++)
                    if (lin->row[j] + k < lin->row[j + 1])
                        v[cn_pk_slot(pk, lane, off + j, r)] =
                            x[img * nin + lin->col[lin->row[j] + k]];
            }
    }
}

cn_status cn_packed_client_encrypt(uint8_t **buf, size_t *len, cn_packed_client_t *c,
                                   const int64_t *x, size_t count, cn_net_diag_t *diag)
{
    const cn_packed_t *pk = c->pk;
    const cn_plan_t *p = pk->plan;
    const size_t nt = pk->prm.nt, nin = p->nin, nct = pk->ops[0].nct, n = pk->prm.n;
    if (diag)
        diag->msg[0] = 0;
    if (count == 0 || count > pk->batch) {
        cn_diag_set(diag, "count %zu: a packed request holds 1 to %zu inputs", count,
                    pk->batch);
        return CN_ERR_INVALID_ARG;
    }
    cn_status rst = cn_net_check_inputs(x, count, nin, p->in_min, p->in_max, "input", diag);
    if (rst != CN_OK)
        return rst;
    const size_t per_t = pk->nsets * nct, total = nt * per_t;
    cn_ctvec_t v[CN_BFV_MAX_T] = {{0}};
    cn_rng_t *rngs = calloc(total, sizeof *rngs);
    cn_status st = rngs ? CN_OK : CN_ERR_NO_MEMORY;
    for (size_t ti = 0; st == CN_OK && ti < nt; ti++) {
        v[ti].ct = calloc(per_t, sizeof *v[ti].ct);
        v[ti].len = per_t;
        if (!v[ti].ct)
            st = CN_ERR_NO_MEMORY;
    }
    for (size_t i = 0; st == CN_OK && i < total; i++)
        cn_rng_fork(&rngs[i], &c->rng);
    if (st == CN_OK) {
#pragma omp parallel num_threads(cn_nthreads(c->threads))
        {
            int64_t *vec = malloc(n * sizeof *vec);
            cn_bfv_plaintext_t pt = {0};
            cn_status e = vec ? CN_OK : CN_ERR_NO_MEMORY;
#pragma omp for schedule(dynamic, 1)
            for (long g = 0; g < (long)total; g++) {
                if (e != CN_OK)
                    continue;
                const size_t ti = (size_t)g / per_t, r = (size_t)g % per_t;
                arrange(vec, pk, r / nct, r % nct, x, count);
                cn_bfv_plaintext_clear(&pt);
                e = cn_bfv_plaintext_init(&pt, c->ctx, ti);
                if (e == CN_OK)
                    e = cn_bfv_encode_batch(&pt, vec, n, c->ctx);
                if (e == CN_OK)
                    e = cn_bfv_encrypt_symmetric(&v[ti].ct[r], &pt, &c->sk, c->ctx, &rngs[g]);
            }
            CN_OMP_COLLECT(st, e);
            cn_bfv_plaintext_clear(&pt);
            free(vec);
        }
    }
    if (st == CN_OK)
        st = cn_wire_save(buf, len, v, nt, c->ctx, c->threads);
    for (size_t ti = 0; ti < nt; ti++)
        cn_ctvec_clear(&v[ti]);
    if (rngs)
        for (size_t i = 0; i < total; i++)
            cn_rng_clear(&rngs[i]);
    free(rngs);
    return st;
}

cn_status cn_packed_client_decrypt(cn_int128 *out, cn_packed_client_t *c, const uint8_t *buf,
                                   size_t len, size_t count, cn_net_diag_t *diag)
{
    const cn_packed_t *pk = c->pk;
    const size_t nt = pk->prm.nt, nout = pk->plan->nout, n = pk->prm.n, ns = pk->nsets;
    if (diag)
        diag->msg[0] = 0;
    if (count == 0 || count > pk->batch) {
        cn_diag_set(diag, "count %zu: a packed reply holds 1 to %zu outputs", count, pk->batch);
        return CN_ERR_INVALID_ARG;
    }
    uint64_t *res = malloc(nt * count * nout * sizeof *res);
    uint64_t *slots = malloc(n * sizeof *slots);
    cn_plain_crt_t crt = {0};
    cn_bfv_plaintext_t pt = {0};
    cn_status st = res && slots ? cn_plain_crt_init(&crt, pk->prm.t, nt) : CN_ERR_NO_MEMORY;
    for (size_t ti = 0; st == CN_OK && ti < nt; ti++) {
        cn_ctvec_t v = {0};
        st = cn_wire_load_part(&v, buf, len, nt, ti, ns, c->ctx, NULL, c->threads, diag);
        const cn_pk_op_t *last = &pk->ops[pk->nops - 1];
        for (size_t set = 0; st == CN_OK && set < ns; set++)
            if (v.ct[set].level != last->level || v.ct[set].size != last->size) {
                cn_diag_set(diag,
                            "reply part %zu, ciphertext %zu: level %zu and size %zu, not the "
                            "layout's output (level %zu, size %zu)",
                            ti + 1, set + 1, v.ct[set].level, v.ct[set].size, last->level,
                            last->size);
                st = CN_ERR_SHAPE_MISMATCH;
            }
        for (size_t set = 0; st == CN_OK && set < ns; set++) {
            cn_bfv_plaintext_clear(&pt);
            st = cn_bfv_decrypt_checked(&pt, &v.ct[set], &c->sk, c->ctx);
            if (st == CN_OK)
                st = cn_bfv_decode_batch_u64(slots, &pt, c->ctx);
            for (size_t lane = 0; st == CN_OK && lane < pk->per_set; lane++) {
                const size_t img = set * pk->per_set + lane;
                if (img >= count)
                    break;
                for (size_t j = 0; j < nout; j++)
                    res[(ti * count + img) * nout + j] = slots[cn_pk_slot(pk, lane, j, 0)];
            }
        }
        cn_ctvec_clear(&v);
    }
    cn_bfv_plaintext_clear(&pt);
    if (st == CN_OK) {
        const uint64_t *r[CN_BFV_MAX_T];
        for (size_t ti = 0; ti < nt; ti++)
            r[ti] = res + ti * count * nout;
        st = cn_plain_crt_join_i128(out, r, count * nout, &crt);
    }
    cn_plain_crt_clear(&crt);
    free(res);
    free(slots);
    return st;
}

cn_status cn_packed_client_reply_budget(int *bits, cn_packed_client_t *c, const uint8_t *buf,
                                        size_t len, cn_net_diag_t *diag)
{
    const cn_packed_t *pk = c->pk;
    int best = 1 << 30;
    cn_status st = CN_OK;
    for (size_t ti = 0; st == CN_OK && ti < pk->prm.nt; ti++) {
        cn_ctvec_t v = {0};
        st = cn_wire_load_part(&v, buf, len, pk->prm.nt, ti, pk->nsets, c->ctx, NULL,
                               c->threads, diag);
        for (size_t i = 0; st == CN_OK && i < v.len; i++) {
            int b;
            st = cn_bfv_noise_budget(&b, &v.ct[i], &c->sk, c->ctx);
            if (st == CN_OK && b < best)
                best = b;
        }
        cn_ctvec_clear(&v);
    }
    if (st == CN_OK)
        *bits = best;
    return st;
}

/* --- server: weight vectors ---------------------------------------------------------- */

/* w = the slot vector v (n values, any sign) as a plaintext of modulus ti, centered,
 * lifted to the first l primes and transformed (NTT form). */
static cn_status encode_ntt(cn_poly_t *w, const int64_t *v, size_t ti, size_t l,
                            const cn_bfv_context_t *ctx)
{
    const size_t n = cn_bfv_context_params(ctx)->n;
    const cn_mod_t tm = cn_bfv_context_plain_moduli(ctx, NULL)[ti];
    const cn_ring_t *ring = cn_bfv_context_ring(ctx);
    cn_bfv_plaintext_t pt = {0};
    int64_t *cc = malloc(n * sizeof *cc);
    cn_status st = cc ? cn_bfv_plaintext_init(&pt, ctx, ti) : CN_ERR_NO_MEMORY;
    if (st == CN_OK)
        st = cn_bfv_encode_batch(&pt, v, n, ctx);
    if (st == CN_OK) {
        for (size_t i = 0; i < n; i++)
            cc[i] = cn_mod_center(pt.coeffs[i], tm);
        st = cn_poly_init(w, ring, l);
    }
    if (st == CN_OK)
        st = cn_poly_set_int64(w, cc, ring);
    if (st == CN_OK)
        st = cn_poly_to_ntt(w, ring);
    cn_bfv_plaintext_clear(&pt);
    free(cc);
    return st;
}

/* The largest s such that every row of w[0..count) (NTT form, n words) is made of blocks
 * of 2^s equal values: a slot vector invariant under the rotation by (n/2) / 2^s positions
 * in both rows (a diagonal of period m s slots: 2^s = n / (2 m s)) is a polynomial in
 * X^(2^s), whose transform in bit-reversed order repeats each value 2^s times
 * (cn_bfv_hoisted_dot). Checked on the values, so any vector is safe. */
static unsigned block_shift(const cn_poly_t *w, size_t count)
{
    const size_t n = count ? w[0].n : 1;
    unsigned s = 0;
    while (((size_t)2 << s) <= n) {
        const size_t b = (size_t)2 << s; /* try blocks of b */
        int ok = 1;
        for (size_t c = 0; ok && c < count; c++)
            for (size_t i = 0; ok && i < w[c].k * n; i += b)
                for (size_t j = 1; ok && j < b; j++)
                    ok = w[c].data[i + j] == w[c].data[i];
        if (!ok)
            break;
        s++;
    }
    return s;
}

/* w[0..count) with one value per block of 2^s (block_shift): rows of n / 2^s words. */
static cn_status compress_blocks(cn_poly_t *w, size_t count, unsigned s)
{
    for (size_t c = 0; s && c < count; c++) {
        const size_t n = w[c].n, m = n >> s;
        uint64_t *d = malloc(w[c].k * m * sizeof *d);
        if (!d)
            return CN_ERR_NO_MEMORY;
        for (size_t r = 0; r < w[c].k; r++)
            for (size_t b = 0; b < m; b++)
                d[r * m + b] = w[c].data[r * n + (b << s)];
        free(w[c].data);
        w[c].data = d;
        w[c].n = m;
    }
    return CN_OK;
}

static int64_t mod_t(cn_int128 b, uint64_t t)
{
    cn_int128 r = b % (cn_int128)t;
    return (int64_t)(r < 0 ? r + (cn_int128)t : r);
}

/* The weight vectors and bias of op o (index i) for plaintext modulus ti. */
static cn_status build_weights(pk_weights_t *pw, const cn_packed_t *pk, const cn_pk_op_t *o,
                               size_t ti, const cn_bfv_context_t *ctx)
{
    const size_t n = pk->prm.n, half = n / 2, pos = pk->pos, s = pk->s;
    const cn_lin_t *lin = o->lin;
    pw->count = o->kind == CN_PK_FIRST ? o->nct : o->D;
    pw->w = calloc(pw->count, sizeof *pw->w);
    int64_t *v = malloc(n * sizeof *v);
    int64_t *W = NULL; /* DIAG: the dense matrix [nout][nin] */
    cn_status st = pw->w && v ? CN_OK : CN_ERR_NO_MEMORY;
    if (st == CN_OK && o->kind == CN_PK_DIAG) {
        W = calloc(lin->nout * lin->nin, sizeof *W);
        if (!W)
            st = CN_ERR_NO_MEMORY;
        for (size_t j = 0; st == CN_OK && j < lin->nout; j++)
            for (size_t k = lin->row[j]; k < lin->row[j + 1]; k++)
                W[j * lin->nin + lin->col[k]] = lin->w[k];
    }
    const size_t Mp = o->m_in > o->m_out ? o->m_in : o->m_out;
    for (size_t c = 0; st == CN_OK && c < pw->count; c++) {
        for (size_t r = 0; r < 2; r++)
            for (size_t p = 0; p < pos; p++) {
                int64_t w = 0;
                if (o->kind == CN_PK_FIRST) {
                    const size_t beta =
                        (pk->rows_distinct ? 0 : r * o->fb) + (p / o->m_out) % o->fb;
                    const size_t j = p % o->m_out, k = c * o->nb + beta;
                    if (j < lin->nout && lin->row[j] + k < lin->row[j + 1])
                        w = lin->w[lin->row[j] + k];
                } else {
                    /* diagonal i = c, pre-rotated right by its giant step g * baby */
                    const size_t g = c / o->baby;
                    const size_t q = (p + pos - (g * o->baby) % pos) % pos;
                    const size_t k = q % Mp;
                    const size_t j = o->m_out <= o->m_in ? k % o->m_out : k;
                    const size_t col = (k + c) % o->m_in;
                    if (j < lin->nout && col < lin->nin)
                        w = W[j * lin->nin + col];
                }
                for (size_t b = 0; b < s; b++)
                    v[r * half + p * s + b] = w;
            }
        /* diagonal layers: over every prime and P (cn_bfv_hoisted_dot) */
        st = encode_ntt(&pw->w[c], v, ti,
                        o->kind == CN_PK_DIAG ? cn_bfv_context_ring(ctx)->base.k : pk->prm.nq,
                        ctx);
    }
    /* weight vectors of a period below the row: one value per block of their transform
     * (MNIST, one image: the 845 -> 100 layer's 128 diagonals in 8 times less memory, read
     * 8 times less per request; the first layer's in 4 times less) */
    if (st == CN_OK)
        st = compress_blocks(pw->w, pw->count, block_shift(pw->w, pw->count));
    if (st == CN_OK) {
        const uint64_t t = pk->prm.t[ti];
        for (size_t r = 0; r < 2; r++)
            for (size_t p = 0; p < pos; p++) {
                const size_t j = p % o->m_out;
                const int64_t b = j < lin->nout ? mod_t(lin->bias[j], t) : 0;
                for (size_t x = 0; x < s; x++)
                    v[r * half + p * s + x] = b;
            }
        st = cn_bfv_plaintext_init(&pw->bias, ctx, ti);
        if (st == CN_OK)
            st = cn_bfv_encode_batch(&pw->bias, v, n, ctx);
    }
    free(v);
    free(W);
    return st;
}

static void weights_clear(pk_weights_t *pw)
{
    if (pw->w)
        for (size_t c = 0; c < pw->count; c++)
            cn_poly_clear(&pw->w[c]);
    free(pw->w);
    cn_bfv_plaintext_clear(&pw->bias);
    memset(pw, 0, sizeof *pw);
}

void cn_packed_server_free(cn_packed_server_t *s)
{
    if (!s)
        return;
    if (s->wt)
        for (size_t i = 0; i < s->pk->prm.nt * s->pk->nops; i++)
            weights_clear(&s->wt[i]);
    free(s->wt);
    if (s->has_rk)
        cn_bfv_relin_key_clear(&s->rk);
    cn_bfv_galois_keys_clear(&s->gk);
    cn_bfv_context_free(s->ctx);
    free(s);
}

cn_status cn_packed_server_create(cn_packed_server_t **out, const cn_packed_t *pk,
                                  const uint8_t *keys, size_t len, int threads,
                                  cn_net_diag_t *diag)
{
    *out = NULL;
    if (diag)
        diag->msg[0] = 0;
    cn_packed_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return CN_ERR_NO_MEMORY;
    s->pk = pk;
    s->threads = threads;
    cn_status st = cn_bfv_context_create(&s->ctx, &pk->prm);
    size_t off = 0;
    if (st == CN_OK && pk_needs_relin(pk)) {
        cn_io_header_t h;
        st = cn_io_peek_header(&h, keys, len);
        if (st == CN_OK && (h.type != CN_IO_RELIN_KEY || h.total_length > len))
            st = CN_ERR_FORMAT;
        if (st == CN_OK)
            st = cn_io_load_relin_key(&s->rk, keys, (size_t)h.total_length, s->ctx);
        s->has_rk = st == CN_OK;
        if (st == CN_OK)
            off = (size_t)h.total_length;
        else
            cn_diag_set(diag, "evaluation keys: the relinearization key: %s", cn_strerror(st));
    }
    if (st == CN_OK) {
        st = cn_io_load_galois_keys(&s->gk, keys + off, len - off, s->ctx);
        if (st != CN_OK)
            cn_diag_set(diag, "evaluation keys: the Galois keys: %s", cn_strerror(st));
    }
    size_t levels[CN_PK_MAX_ELTS];
    const size_t relin = cn_pk_key_levels(pk, levels);
    if (st == CN_OK && s->has_rk && s->rk.ndigits < relin) {
        cn_diag_set(diag, "evaluation keys: the relinearization key is at level %zu, below %zu",
                    s->rk.ndigits, relin);
        st = CN_ERR_LEVEL_MISMATCH;
    }
    for (size_t i = 0; st == CN_OK && i < pk->nelts; i++) {
        const cn_bfv_relin_key_t *key = NULL;
        for (size_t j = 0; j < s->gk.count; j++)
            if (s->gk.elt[j] == pk->elts[i])
                key = &s->gk.key[j];
        if (!key) {
            cn_diag_set(diag, "evaluation keys: no Galois key for element %llu",
                        (unsigned long long)pk->elts[i]);
            st = CN_ERR_NO_KEY;
        } else if (key->ndigits < levels[i]) {
            cn_diag_set(diag,
                        "evaluation keys: the Galois key of element %llu is at level %zu, "
                        "below %zu",
                        (unsigned long long)pk->elts[i], key->ndigits, levels[i]);
            st = CN_ERR_LEVEL_MISMATCH;
        }
    }
    const size_t nw = pk->prm.nt * pk->nops;
    if (st == CN_OK && !(s->wt = calloc(nw, sizeof *s->wt)))
        st = CN_ERR_NO_MEMORY;
    if (st == CN_OK) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(cn_nthreads(threads))
        for (long i = 0; i < (long)nw; i++) {
            const cn_pk_op_t *o = &pk->ops[(size_t)i % pk->nops];
            if (o->kind == CN_PK_FIRST || o->kind == CN_PK_DIAG)
                CN_OMP_COLLECT(st,
                               build_weights(&s->wt[i], pk, o, (size_t)i / pk->nops, s->ctx));
        }
    }
    if (st != CN_OK) {
        cn_packed_server_free(s);
        return st;
    }
    *out = s;
    return CN_OK;
}

/* --- server: evaluation ----------------------------------------------------------------- */

/* A ciphertext's two polynomials in NTT form (copies). */
typedef struct {
    cn_poly_t c[2];
} pk_nct_t;

static void nct_clear(pk_nct_t *a)
{
    cn_poly_clear(&a->c[0]);
    cn_poly_clear(&a->c[1]);
}

static cn_status nct_from(pk_nct_t *a, const cn_bfv_ciphertext_t *ct, const cn_ring_t *ring)
{
    cn_status st = CN_OK;
    for (int h = 0; h < 2 && st == CN_OK; h++) {
        if (a->c[h].data && a->c[h].k != ct->level)
            cn_poly_clear(&a->c[h]);
        if (!a->c[h].data)
            st = cn_poly_init(&a->c[h], ring, ct->level);
        if (st == CN_OK)
            st = cn_poly_copy(&a->c[h], &ct->c[h]);
        if (st == CN_OK)
            st = cn_poly_to_ntt(&a->c[h], ring);
    }
    return st;
}

/* out (size 2, coefficient form) = sum_c a[c] * w[c] for c < cnt, in the NTT domain
 * (cn_bfv_dot2_ntt: lazy sums in the key-switching kernel). */
static cn_status dot(cn_bfv_ciphertext_t *out, const pk_nct_t *a, const cn_poly_t *w,
                     size_t cnt, size_t ti, const cn_bfv_context_t *ctx)
{
    const cn_ring_t *ring = cn_bfv_context_ring(ctx);
    const size_t l = a[0].c[0].k;
    cn_status st = cn_bfv_ciphertext_reshape(out, 2, l, CN_BFV_NO_ZERO_FILL, ctx);
    if (st != CN_OK)
        return st;
    out->t_index = ti;
    out->transparent = 0;
    const cn_poly_t **rows = malloc(2 * (cnt ? cnt : 1) * sizeof *rows);
    if (!rows)
        return CN_ERR_NO_MEMORY;
    for (size_t c = 0; c < cnt; c++) {
        rows[c] = &a[c].c[0];
        rows[cnt + c] = &a[c].c[1];
    }
    st = cn_bfv_dot2_ntt(&out->c[0], &out->c[1], w, rows, rows + cnt, cnt, ctx);
    free(rows);
    for (int h = 0; h < 2 && st == CN_OK; h++)
        st = cn_poly_from_ntt(&out->c[h], ring);
    return st;
}

/* Giant steps whose sums cn_bfv_hoisted_dots computes in one pass: their accumulators over
 * Q and P (2 (l + 1) n words each: 1.5 MB for MNIST) stay in the last-level cache for 4
 * (6 MB) where 16 (25 MB) went to memory and back; the baby rotations are read 4 times
 * instead of once (MNIST, quiet machine, eight images: server 0.167 -> 0.144 s in two
 * interleaved rounds, one image unchanged). */
#define PK_GIANT_GROUP 4

typedef struct {
    cn_packed_stats_t st;
    uint8_t used[CN_PK_MAX_ELTS];
} pk_run_t;

static void note_elt(pk_run_t *run, const cn_packed_t *pk, uint64_t g, int hoisted)
{
    if (g == 1)
        return;
    run->st.rotations++;
    run->st.hoisted += hoisted != 0;
    for (size_t i = 0; i < pk->nelts; i++)
        if (pk->elts[i] == g)
            run->used[i] = 1;
}

/* y += rot(y) by Galois element g */
static cn_status add_rotated(cn_bfv_ciphertext_t *y, cn_bfv_ciphertext_t *tmp, uint64_t g,
                             const cn_packed_server_t *s, pk_run_t *run)
{
    cn_status st = cn_bfv_apply_galois(tmp, y, g, &s->gk, s->ctx);
    note_elt(run, s->pk, g, 0);
    return st == CN_OK ? cn_bfv_add(y, y, tmp, s->ctx) : st;
}

/* Ops [from, to) of one ciphertext set, plaintext modulus ti: the first layer's
 * cts[0..nct) in when from = 0 (else *y, the result of op from - 1), the result in *y. */
static cn_status eval_ops(cn_bfv_ciphertext_t *y, const cn_bfv_ciphertext_t *cts, size_t ti,
                          size_t from, size_t to, const cn_packed_server_t *s, pk_run_t *run)
{
    const cn_packed_t *pk = s->pk;
    const cn_bfv_context_t *ctx = s->ctx;
    const cn_ring_t *ring = cn_bfv_context_ring(ctx);
    const size_t n = pk->prm.n;
    cn_bfv_ciphertext_t tmp = {0};
    size_t nct = 1, nbaby = 1; /* the first layer's ciphertexts, the most baby steps */
    for (size_t i = 0; i < pk->nops; i++) {
        if (pk->ops[i].kind == CN_PK_FIRST && pk->ops[i].nct > nct)
            nct = pk->ops[i].nct;
        if (pk->ops[i].kind == CN_PK_DIAG && pk->ops[i].baby > nbaby)
            nbaby = pk->ops[i].baby;
    }
    pk_nct_t *nc = calloc(nct, sizeof *nc);
    uint64_t *elts = calloc(nbaby, sizeof *elts);
    cn_status st = nc && elts ? CN_OK : CN_ERR_NO_MEMORY;
    for (size_t i = from; st == CN_OK && i < to && i < pk->nops; i++) {
        const cn_pk_op_t *o = &pk->ops[i];
        const pk_weights_t *pw = &s->wt[ti * pk->nops + i];
        const size_t drop = cn_pk_early_drop(pk, i);
        double t0 = now();
        switch (o->kind) {
        case CN_PK_FIRST:
            for (size_t c = 0; st == CN_OK && c < o->nct; c++)
                st = nct_from(&nc[c], &cts[c], ring);
            if (st == CN_OK)
                st = dot(y, nc, pw->w, o->nct, ti, ctx);
            run->st.products += o->nct;
            for (size_t d = 0; st == CN_OK && d < drop; d++) /* before the folds */
                st = cn_bfv_mod_switch(y, y, ctx);
            for (size_t e = o->m_out; st == CN_OK && e < o->m_out * o->fb; e *= 2)
                st = add_rotated(y, &tmp, cn_pk_elt_rows(pk, e), s, run);
            if (st == CN_OK && !pk->rows_distinct)
                st = add_rotated(y, &tmp, 2 * (uint64_t)n - 1, s, run);
            if (st == CN_OK)
                st = cn_bfv_add_plain(y, y, &pw->bias, ctx);
            run->st.first_s += now() - t0;
            break;
        case CN_PK_DIAG: {
            for (size_t b = 0; b < o->baby; b++) {
                elts[b] = cn_pk_elt_rows(pk, b);
                note_elt(run, pk, elts[b], 1);
            }
            cn_bfv_hoisted_t *h = NULL;
            st = cn_bfv_hoist(&h, y, elts, o->baby, &s->gk, ctx);
            /* the giant steps' sums P_g, PK_GIANT_GROUP per pass over the baby steps */
            cn_bfv_ciphertext_t *pg = calloc(o->giant, sizeof *pg);
            if (st == CN_OK && !pg)
                st = CN_ERR_NO_MEMORY;
            for (size_t g0 = 0; st == CN_OK && g0 < o->giant; g0 += PK_GIANT_GROUP) {
                const size_t ng =
                    o->giant - g0 < PK_GIANT_GROUP ? o->giant - g0 : PK_GIANT_GROUP;
                st = cn_bfv_hoisted_dots(pg + g0, ng, h, pw->w + g0 * o->baby, ctx);
            }
            cn_bfv_hoisted_free(h);
            const uint64_t gstep = cn_pk_elt_rows(pk, o->baby);
            for (size_t g = o->giant; st == CN_OK && g-- > 0;) {
                for (size_t d = 0; st == CN_OK && d < drop; d++) /* before the giant steps */
                    st = cn_bfv_mod_switch(&pg[g], &pg[g], ctx);
                if (g + 1 == o->giant) { /* y = P_{G-1} (y's input goes with pg) */
                    const cn_bfv_ciphertext_t x = *y;
                    *y = pg[g];
                    pg[g] = x;
                } else {
                    /* Horner: y = rot(y, baby) + P_g */
                    if (st == CN_OK)
                        st = cn_bfv_apply_galois(y, y, gstep, &s->gk, ctx);
                    note_elt(run, pk, gstep, 0);
                    if (st == CN_OK)
                        st = cn_bfv_add(y, y, &pg[g], ctx);
                }
                run->st.products += o->baby;
            }
            for (size_t g = 0; pg && g < o->giant; g++)
                cn_bfv_ciphertext_clear(&pg[g]);
            free(pg);
            for (size_t e = o->m_out; st == CN_OK && e < o->m_in; e *= 2)
                st = add_rotated(y, &tmp, cn_pk_elt_rows(pk, e), s, run);
            if (st == CN_OK)
                st = cn_bfv_add_plain(y, y, &pw->bias, ctx);
            run->st.diag_s += now() - t0;
            break;
        }
        case CN_PK_SQUARE:
            st = cn_bfv_square(y, y, ctx);
            run->st.square_s += now() - t0;
            break;
        case CN_PK_RELIN:
            st = cn_bfv_relinearize(y, y, &s->rk, ctx);
            run->st.relin_s += now() - t0;
            break;
        case CN_PK_MODSWITCH: /* to the op's level (a linear layer may have switched) */
            while (st == CN_OK && y->level > o->level)
                st = cn_bfv_mod_switch(y, y, ctx);
            run->st.modswitch_s += now() - t0;
            break;
        }
    }
    for (size_t c = 0; c < nct && nc; c++)
        nct_clear(&nc[c]);
    cn_bfv_ciphertext_clear(&tmp);
    free(nc);
    free(elts);
    return st;
}

cn_status cn_pk_server_ops(cn_bfv_ciphertext_t *y, const cn_bfv_ciphertext_t *cts, size_t ti,
                           size_t from, size_t to, const cn_packed_server_t *s)
{
    pk_run_t run = {0};
    return eval_ops(y, cts, ti, from, to, s, &run);
}

cn_status cn_packed_server_eval(uint8_t **out, size_t *outlen, cn_packed_server_t *s,
                                const uint8_t *in, size_t len, cn_packed_stats_t *stats,
                                cn_net_diag_t *diag)
{
    const cn_packed_t *pk = s->pk;
    const size_t nt = pk->prm.nt, ns = pk->nsets, nct = pk->ops[0].nct;
    if (diag)
        diag->msg[0] = 0;
    double t0 = now();
    cn_ctvec_t in_v[CN_BFV_MAX_T] = {{0}}, out_v[CN_BFV_MAX_T] = {{0}};
    cn_status st = CN_OK;
    for (size_t ti = 0; st == CN_OK && ti < nt; ti++)
        st = cn_wire_load_part(&in_v[ti], in, len, nt, ti, ns * nct, s->ctx, NULL, s->threads,
                               diag);
    for (size_t ti = 0; st == CN_OK && ti < nt; ti++)
        for (size_t i = 0; st == CN_OK && i < in_v[ti].len; i++)
            if (in_v[ti].ct[i].level != pk->prm.nq || in_v[ti].ct[i].size != 2) {
                cn_diag_set(diag,
                            "request part %zu, ciphertext %zu: level %zu and size %zu, not "
                            "fresh encryptions (level %zu, size 2)",
                            ti + 1, i + 1, in_v[ti].ct[i].level, in_v[ti].ct[i].size,
                            pk->prm.nq);
                st = CN_ERR_SHAPE_MISMATCH;
            }
    for (size_t ti = 0; st == CN_OK && ti < nt; ti++) {
        out_v[ti].ct = calloc(ns, sizeof *out_v[ti].ct);
        out_v[ti].len = ns;
        if (!out_v[ti].ct)
            st = CN_ERR_NO_MEMORY;
    }
    pk_run_t total = {0};
    total.st.load_s = now() - t0;
    const size_t tasks = nt * ns;
    const double tp = now();
    if (st == CN_OK) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(cn_nthreads(s->threads))
        for (long k = 0; k < (long)tasks; k++) {
            pk_run_t run = {0};
            const size_t ti = (size_t)k / ns, set = (size_t)k % ns;
            cn_status e =
                eval_ops(&out_v[ti].ct[set], in_v[ti].ct + set * nct, ti, 0, pk->nops, s, &run);
            CN_OMP_COLLECT(st, e);
#pragma omp critical(cn_packed_stats)
            {
                total.st.first_s += run.st.first_s;
                total.st.diag_s += run.st.diag_s;
                total.st.square_s += run.st.square_s;
                total.st.relin_s += run.st.relin_s;
                total.st.modswitch_s += run.st.modswitch_s;
                total.st.rotations += run.st.rotations;
                total.st.hoisted += run.st.hoisted;
                total.st.products += run.st.products;
                for (size_t i = 0; i < CN_PK_MAX_ELTS; i++)
                    total.used[i] |= run.used[i];
            }
        }
    }
    /* the tasks' step times are thread time, summed over the threads: scaled to the
     * parallel part's wall time (as the batched server's fused steps), so that the steps
     * add up to the evaluation's time */
    const double wall = now() - tp, busy = total.st.first_s + total.st.diag_s +
                                           total.st.square_s + total.st.relin_s +
                                           total.st.modswitch_s;
    if (busy > 0) {
        const double f = wall / busy;
        total.st.first_s *= f;
        total.st.diag_s *= f;
        total.st.square_s *= f;
        total.st.relin_s *= f;
        total.st.modswitch_s *= f;
    }
    for (size_t ti = 0; ti < nt; ti++)
        cn_ctvec_clear(&in_v[ti]);
    double t1 = now();
    if (st == CN_OK)
        st = cn_wire_save(out, outlen, out_v, nt, s->ctx, s->threads);
    for (size_t ti = 0; ti < nt; ti++)
        cn_ctvec_clear(&out_v[ti]);
    if (stats) {
        *stats = total.st;
        stats->save_s = now() - t1;
        stats->nelts = 0;
        for (size_t i = 0; i < pk->nelts && i < CN_PK_MAX_ELTS; i++)
            if (total.used[i] && stats->nelts < sizeof stats->elts / sizeof stats->elts[0])
                stats->elts[stats->nelts++] = pk->elts[i];
    }
    return st;
}
