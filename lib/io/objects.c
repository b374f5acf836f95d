/* The bodies of the serialized objects (docs/format.md), and the typed save/load API. */
#include <stdlib.h>
#include <string.h>

#include "../internal/mem.h"
#include "../bfv/check.h"
#include "io_internal.h"

/* ciphertext body flags */
#define CT_SEEDED 1u
#define CT_TRANSPARENT 2u

/* ---- generic save and load -------------------------------------------------- */

typedef void (*put_fn)(cn_wr_t *w, const void *obj, unsigned flags,
                       const cn_bfv_context_t *ctx);

typedef struct {
    cn_io_type type;
    uint32_t count;
    uint64_t fingerprint;
    size_t total;
} save_spec;

/* The version and flags of a header (the key section's seeded objects differ). */
typedef struct {
    unsigned flags; /* header flags */
    unsigned minor; /* minor version: the lowest that reads the object */
} hdr_ver;

static const hdr_ver hdr_v1_0 = {0, CN_IO_VERSION_MINOR};

/* cn_wr_header's header, with v's minor version in place of CN_IO_VERSION_MINOR */
static void put_header(cn_wr_t *w, const save_spec *sp, hdr_ver v)
{
    uint8_t h[CN_IO_HEADER_BYTES];
    cn_wr_t t = {.buf = h, .cap = sizeof h, .nohash = 1};
    cn_wr_header(&t, sp->type, v.flags, sp->count, sp->total, sp->fingerprint);
    h[6] = (uint8_t)v.minor;
    h[7] = (uint8_t)(v.minor >> 8);
    cn_wr_bytes(w, h, sizeof h);
}

static cn_status save_obj_v(uint8_t *buf, size_t cap, size_t *written, FILE *f,
                            const save_spec *sp, hdr_ver v, put_fn put, const void *obj,
                            unsigned flags, const cn_bfv_context_t *ctx)
{
    if (written)
        *written = 0;
    if (!f && (!buf || cap < sp->total))
        return CN_ERR_OUT_OF_RANGE;
    cn_wr_t w = {.buf = buf, .cap = cap, .f = f};
    cn_hash_init(&w.hs);
    put_header(&w, sp, v);
    put(&w, obj, flags, ctx);
    cn_wr_trailer(&w);
    if (w.err == CN_OK && !f && w.pos != sp->total)
        return CN_ERR_INVALID_ARG; /* size and body disagree: a bug, reported not hidden */
    if (written && w.err == CN_OK)
        *written = f ? sp->total : w.pos;
    return w.err;
}

static cn_status save_obj(uint8_t *buf, size_t cap, size_t *written, FILE *f,
                          const save_spec *sp, put_fn put, const void *obj, unsigned flags,
                          const cn_bfv_context_t *ctx)
{
    return save_obj_v(buf, cap, written, f, sp, hdr_v1_0, put, obj, flags, ctx);
}

static void rd_init(cn_rd_t *r, const uint8_t *buf, size_t len, FILE *f)
{
    memset(r, 0, sizeof *r);
    r->buf = buf;
    r->len = buf ? len : 0;
    r->f = f;
    cn_hash_init(&r->hs);
}

/* The four entry points of an object type whose functions take (object, context):
 * save into a buffer, write to a FILE, load from a buffer, read from a FILE. */
#define IO_FAMILY(name, type_t, spec_fn, put_fn, load_fn)                                      \
    cn_status cn_io_save_##name(uint8_t *buf, size_t cap, size_t *written, const type_t *obj,  \
                                const cn_bfv_context_t *ctx)                                   \
    {                                                                                          \
        save_spec sp;                                                                          \
        cn_status st = spec_fn(&sp, obj, ctx);                                                 \
        return st != CN_OK ? st : save_obj(buf, cap, written, NULL, &sp, put_fn, obj, 0, ctx); \
    }                                                                                          \
    cn_status cn_io_write_##name(FILE *f, const type_t *obj, const cn_bfv_context_t *ctx)      \
    {                                                                                          \
        save_spec sp;                                                                          \
        cn_status st = spec_fn(&sp, obj, ctx);                                                 \
        return st != CN_OK ? st : save_obj(NULL, 0, NULL, f, &sp, put_fn, obj, 0, ctx);        \
    }                                                                                          \
    cn_status cn_io_load_##name(type_t *obj, const uint8_t *buf, size_t len,                   \
                                const cn_bfv_context_t *ctx)                                   \
    {                                                                                          \
        cn_rd_t r;                                                                             \
        rd_init(&r, buf, len, NULL);                                                           \
        return load_fn(obj, &r, ctx);                                                          \
    }                                                                                          \
    cn_status cn_io_read_##name(type_t *obj, FILE *f, const cn_bfv_context_t *ctx)             \
    {                                                                                          \
        cn_rd_t r;                                                                             \
        rd_init(&r, NULL, 0, f);                                                               \
        return load_fn(obj, &r, ctx);                                                          \
    }

/* ---- polynomial rows ----------------------------------------------------------- */

static size_t rows_bytes(size_t k, const cn_bfv_context_t *ctx)
{
    size_t b = 0;
    for (size_t j = 0; j < k; j++)
        b += cn_io_packed_bytes(ctx->n, cn_io_bits(ctx->ring.base.q[j]));
    return b;
}

static void put_rows(cn_wr_t *w, const cn_poly_t *p, size_t k, const cn_bfv_context_t *ctx)
{
    for (size_t j = 0; j < k; j++)
        cn_wr_packed(w, p->data + j * ctx->n, ctx->n, cn_io_bits(ctx->ring.base.q[j]));
}

/* p = k rows read from r, in the given form */
static void get_rows(cn_rd_t *r, cn_poly_t *p, size_t k, cn_form form,
                     const cn_bfv_context_t *ctx)
{
    if (r->err != CN_OK)
        return;
    if (!p->data || p->k != k) {
        cn_poly_clear(p);
        cn_status st = cn_poly_init(p, &ctx->ring, k);
        if (st != CN_OK) {
            cn_rd_fail(r, st);
            return;
        }
    }
    for (size_t j = 0; j < k; j++) {
        const uint64_t q = ctx->ring.base.q[j];
        cn_rd_packed(r, p->data + j * ctx->n, ctx->n, cn_io_bits(q), q);
    }
    p->form = form;
}

/* ---- parameters ---------------------------------------------------------------- */

static size_t params_body(const cn_bfv_params_t *prm)
{
    return 16 + 8 + 8 * prm->nq + 8 * prm->nt;
}

size_t cn_io_size_params(const cn_bfv_params_t *prm)
{
    return CN_IO_HEADER_BYTES + params_body(prm) + CN_IO_TRAILER_BYTES;
}

static void put_params(cn_wr_t *w, const void *obj, unsigned flags, const cn_bfv_context_t *ctx)
{
    const cn_bfv_params_t *prm = obj;
    (void)flags, (void)ctx;
    cn_wr_u32(w, (uint32_t)prm->n);
    cn_wr_u32(w, (uint32_t)prm->nq);
    cn_wr_u32(w, (uint32_t)prm->nt);
    cn_wr_u32(w, (uint32_t)prm->security);
    cn_wr_u64(w, prm->p);
    for (size_t i = 0; i < prm->nq; i++)
        cn_wr_u64(w, prm->q[i]);
    for (size_t i = 0; i < prm->nt; i++)
        cn_wr_u64(w, prm->t[i]);
}

static cn_status params_spec(save_spec *sp, const cn_bfv_params_t *prm)
{
    if (prm->nq == 0 || prm->nq > CN_BFV_MAX_Q || prm->nt == 0 || prm->nt > CN_BFV_MAX_T ||
        prm->n > CN_BFV_MAX_N)
        return CN_ERR_INVALID_ARG;
    *sp = (save_spec){CN_IO_PARAMS, 1, cn_bfv_params_fingerprint(prm), cn_io_size_params(prm)};
    return CN_OK;
}

cn_status cn_io_save_params(uint8_t *buf, size_t cap, size_t *written,
                            const cn_bfv_params_t *prm)
{
    save_spec sp;
    cn_status st = params_spec(&sp, prm);
    return st != CN_OK ? st : save_obj(buf, cap, written, NULL, &sp, put_params, prm, 0, NULL);
}

cn_status cn_io_write_params(FILE *f, const cn_bfv_params_t *prm)
{
    save_spec sp;
    cn_status st = params_spec(&sp, prm);
    return st != CN_OK ? st : save_obj(NULL, 0, NULL, f, &sp, put_params, prm, 0, NULL);
}

static cn_status load_params(cn_bfv_params_t *prm, cn_rd_t *r, int allow_insecure)
{
    cn_io_header_t h;
    memset(prm, 0, sizeof *prm);
    cn_rd_header(r, &h, CN_IO_PARAMS, 0, NULL);
    const uint32_t n = cn_rd_u32(r), nq = cn_rd_u32(r), nt = cn_rd_u32(r), sec = cn_rd_u32(r);
    if (r->err == CN_OK && (h.count != 1 || nq == 0 || nq > CN_BFV_MAX_Q || nt == 0 ||
                            nt > CN_BFV_MAX_T || n > CN_BFV_MAX_N ||
                            (sec != CN_SEC_128 && sec != CN_SEC_192 && sec != CN_SEC_256 &&
                             sec != CN_SEC_NONE_INSECURE)))
        cn_rd_fail(r, CN_ERR_FORMAT);
    if (r->err == CN_OK) {
        prm->n = n;
        prm->nq = nq;
        prm->nt = nt;
        prm->security = (cn_security)sec;
        prm->p = cn_rd_u64(r);
        for (size_t i = 0; i < nq; i++)
            prm->q[i] = cn_rd_u64(r);
        for (size_t i = 0; i < nt; i++)
            prm->t[i] = cn_rd_u64(r);
    }
    cn_rd_trailer(r);
    cn_status st = r->err;
    if (st == CN_OK && cn_bfv_params_fingerprint(prm) != h.fingerprint)
        st = CN_ERR_FORMAT;
    if (st == CN_OK && prm->security == CN_SEC_NONE_INSECURE && !allow_insecure)
        st = CN_ERR_INSECURE;
    if (st == CN_OK)
        st = cn_bfv_params_validate(prm);
    if (st != CN_OK)
        memset(prm, 0, sizeof *prm);
    return st;
}

cn_status cn_io_load_params(cn_bfv_params_t *prm, const uint8_t *buf, size_t len,
                            int allow_insecure)
{
    cn_rd_t r;
    rd_init(&r, buf, len, NULL);
    return load_params(prm, &r, allow_insecure);
}

cn_status cn_io_read_params(cn_bfv_params_t *prm, FILE *f, int allow_insecure)
{
    cn_rd_t r;
    rd_init(&r, NULL, 0, f);
    return load_params(prm, &r, allow_insecure);
}

/* ---- public key ------------------------------------------------------------------ */

size_t cn_io_size_public_key(const cn_bfv_public_key_t *pk, const cn_bfv_context_t *ctx)
{
    (void)pk;
    return CN_IO_HEADER_BYTES + 2 * rows_bytes(ctx->L, ctx) + CN_IO_TRAILER_BYTES;
}

static void put_pk(cn_wr_t *w, const void *obj, unsigned flags, const cn_bfv_context_t *ctx)
{
    const cn_bfv_public_key_t *pk = obj;
    (void)flags;
    put_rows(w, &pk->p0, ctx->L, ctx);
    put_rows(w, &pk->p1, ctx->L, ctx);
}

static cn_status pk_spec(save_spec *sp, const cn_bfv_public_key_t *pk,
                         const cn_bfv_context_t *ctx)
{
    const cn_status st = cn_bfv_check_pk(pk, ctx);
    if (st != CN_OK)
        return st;
    *sp = (save_spec){CN_IO_PUBLIC_KEY, 1, ctx->fingerprint, cn_io_size_public_key(pk, ctx)};
    return CN_OK;
}

static cn_status load_pk(cn_bfv_public_key_t *pk, cn_rd_t *r, const cn_bfv_context_t *ctx)
{
    cn_io_header_t h;
    cn_bfv_public_key_clear(pk);
    cn_rd_header(r, &h, CN_IO_PUBLIC_KEY, 0, ctx);
    if (r->err == CN_OK && h.count != 1)
        cn_rd_fail(r, CN_ERR_FORMAT);
    get_rows(r, &pk->p0, ctx->L, CN_FORM_NTT, ctx);
    get_rows(r, &pk->p1, ctx->L, CN_FORM_NTT, ctx);
    cn_rd_trailer(r);
    if (r->err != CN_OK) {
        cn_bfv_public_key_clear(pk);
        return r->err;
    }
    pk->fingerprint = ctx->fingerprint;
    return CN_OK;
}

IO_FAMILY(public_key, cn_bfv_public_key_t, pk_spec, put_pk, load_pk)

/* ---- key switching keys (relinearization, Galois) --------------------------------- */

/* Header flag of types 4 and 5 (format 1.1): every key switching key of the object is
 * written as its 32-byte seed and its k0 rows; k1 is expanded from the seed on load
 * (docs/format.md, "Seeded key switching keys"). A reader of 1.0 refuses any header flag,
 * so it never misreads such a key. */
#define HDR_SEEDED_KEYS 1u
#define MINOR_SEEDED_KEYS 1u

static size_t K_rows(const cn_bfv_context_t *ctx)
{
    return ctx->ring.base.k; /* q_1..q_L and P */
}

/* Keys at a level below L (format 1.2): a key switching key of d < L digits, each over
 * q_1..q_d and P. Files of 1.0 and 1.1 hold d = L only (their readers refuse d != L). */
#define MINOR_LEVEL_KEYS 2u

/* bytes of one key row set of a key at level d: rows q_1..q_d, then P */
static size_t key_rows_bytes(size_t d, const cn_bfv_context_t *ctx)
{
    return rows_bytes(d, ctx) +
           cn_io_packed_bytes(ctx->n, cn_io_bits(ctx->ring.base.q[ctx->L]));
}

/* Keys with digits of several primes (format 1.3, header flag 2): every key record
 * carries its primes per digit k after its level d, and holds ceil(d / k) digits. */
#define HDR_DIGIT_PRIMES 2u
#define MINOR_DIGIT_PRIMES 3u

/* bytes of one key switching key: its level (and primes per digit when grouped), then k0
 * and k1 of every digit, or the seed and every k0 */
static size_t ksk_body(int seeded, int grouped, const cn_bfv_relin_key_t *k,
                       const cn_bfv_context_t *ctx)
{
    const size_t rows = cn_bfv_ksk_count(k) * key_rows_bytes(k->ndigits, ctx);
    return 4 + (grouped ? 4 : 0) + (seeded ? CN_SEED_BYTES + rows : 2 * rows);
}

/* rows q_1..q_d and P of p (which holds all K rows of the ring) */
static void put_key_rows(cn_wr_t *w, const cn_poly_t *p, size_t d, const cn_bfv_context_t *ctx)
{
    put_rows(w, p, d, ctx);
    const uint64_t P = ctx->ring.base.q[ctx->L];
    cn_wr_packed(w, p->data + ctx->L * ctx->n, ctx->n, cn_io_bits(P));
}

/* p (all K rows, NTT form) = rows q_1..q_d and P read from r; rows q_{d+1}..q_L zero */
static void get_key_rows(cn_rd_t *r, cn_poly_t *p, size_t d, const cn_bfv_context_t *ctx)
{
    const size_t n = ctx->n, L = ctx->L;
    if (r->err != CN_OK)
        return;
    cn_status st = cn_poly_init(p, &ctx->ring, L + 1);
    if (st != CN_OK) {
        cn_rd_fail(r, st);
        return;
    }
    for (size_t j = 0; j < d; j++) {
        const uint64_t q = ctx->ring.base.q[j];
        cn_rd_packed(r, p->data + j * n, n, cn_io_bits(q), q);
    }
    memset(p->data + d * n, 0, (L - d) * n * sizeof *p->data);
    const uint64_t P = ctx->ring.base.q[L];
    cn_rd_packed(r, p->data + L * n, n, cn_io_bits(P), P);
    p->form = CN_FORM_NTT;
}

static void put_ksk(cn_wr_t *w, const cn_bfv_relin_key_t *k, int seeded, int grouped,
                    const cn_bfv_context_t *ctx)
{
    cn_wr_u32(w, (uint32_t)k->ndigits);
    if (grouped)
        cn_wr_u32(w, (uint32_t)(k->digit_primes > 1 ? k->digit_primes : 1));
    if (seeded)
        cn_wr_bytes(w, k->seed, CN_SEED_BYTES);
    for (size_t i = 0; i < cn_bfv_ksk_count(k); i++) {
        put_key_rows(w, &k->k0[i], k->ndigits, ctx);
        if (!seeded)
            put_key_rows(w, &k->k1[i], k->ndigits, ctx);
    }
}

/* A key of the object's header h: d = L, or 1 <= d <= L from format 1.2 on; with the
 * header's digit-primes flag (1.3) its primes per digit k, 1 <= k <= L. */
static void get_ksk(cn_rd_t *r, cn_bfv_relin_key_t *k, int seeded, const cn_io_header_t *h,
                    const cn_bfv_context_t *ctx)
{
    memset(k, 0, sizeof *k);
    const uint32_t d = cn_rd_u32(r);
    const uint32_t dp = (h->flags & HDR_DIGIT_PRIMES) ? cn_rd_u32(r) : 1;
    if (r->err != CN_OK)
        return;
    if (d == 0 || d > ctx->L || (d != ctx->L && h->minor < MINOR_LEVEL_KEYS) || dp == 0 ||
        dp > ctx->L) {
        cn_rd_fail(r, CN_ERR_FORMAT);
        return;
    }
    const size_t nd = (d + dp - 1) / dp;
    k->k0 = calloc(nd, sizeof *k->k0);
    k->k1 = calloc(nd, sizeof *k->k1);
    if (!k->k0 || !k->k1) {
        cn_rd_fail(r, CN_ERR_NO_MEMORY);
        return;
    }
    k->ndigits = d;
    k->digit_primes = dp > 1 ? dp : 0;
    if (seeded) {
        cn_rd_bytes(r, k->seed, CN_SEED_BYTES);
        k->has_seed = 1;
    }
    for (size_t i = 0; i < nd && r->err == CN_OK; i++) {
        get_key_rows(r, &k->k0[i], d, ctx);
        if (!seeded) {
            get_key_rows(r, &k->k1[i], d, ctx);
            continue;
        }
        cn_status st = cn_poly_init(&k->k1[i], &ctx->ring, ctx->ring.base.k);
        if (st == CN_OK)
            st = cn_bfv_ksk_expand_digit(k, i, ctx);
        if (st != CN_OK)
            cn_rd_fail(r, st);
    }
    k->fingerprint = ctx->fingerprint;
}

/* The header's flags for seeded keys: a seeded-keys flag must come with version 1.1 or
 * later, and a Galois object with it must hold a key (one encoding per object); a
 * digit-primes flag with 1.3 or later. */
static int ksk_header_seeded(cn_rd_t *r, const cn_io_header_t *h)
{
    const int seeded = (h->flags & HDR_SEEDED_KEYS) != 0;
    if (r->err == CN_OK && seeded && (h->minor < MINOR_SEEDED_KEYS || h->count == 0))
        cn_rd_fail(r, CN_ERR_FORMAT);
    if (r->err == CN_OK && (h->flags & HDR_DIGIT_PRIMES) && h->minor < MINOR_DIGIT_PRIMES)
        cn_rd_fail(r, CN_ERR_FORMAT);
    return seeded;
}

/* IO_FAMILY for the key objects: the header says whether the keys are seeded. */
#define KEY_IO_FAMILY(name, type_t, spec_fn, put_fn, load_fn, seeded, low, grouped)            \
    cn_status cn_io_save_##name(uint8_t *buf, size_t cap, size_t *written, const type_t *obj,  \
                                const cn_bfv_context_t *ctx)                                   \
    {                                                                                          \
        save_spec sp;                                                                          \
        cn_status st = spec_fn(&sp, obj, ctx);                                                 \
        return st != CN_OK                                                                     \
                   ? st                                                                        \
                   : save_obj_v(buf, cap, written, NULL, &sp,                                  \
                                ksk_version(seeded, low, grouped), put_fn, obj, 0, ctx);       \
    }                                                                                          \
    cn_status cn_io_write_##name(FILE *f, const type_t *obj, const cn_bfv_context_t *ctx)      \
    {                                                                                          \
        save_spec sp;                                                                          \
        cn_status st = spec_fn(&sp, obj, ctx);                                                 \
        return st != CN_OK                                                                     \
                   ? st                                                                        \
                   : save_obj_v(NULL, 0, NULL, f, &sp, ksk_version(seeded, low, grouped),      \
                                put_fn, obj, 0, ctx);                                          \
    }                                                                                          \
    cn_status cn_io_load_##name(type_t *obj, const uint8_t *buf, size_t len,                   \
                                const cn_bfv_context_t *ctx)                                   \
    {                                                                                          \
        cn_rd_t r;                                                                             \
        rd_init(&r, buf, len, NULL);                                                           \
        return load_fn(obj, &r, ctx);                                                          \
    }                                                                                          \
    cn_status cn_io_read_##name(type_t *obj, FILE *f, const cn_bfv_context_t *ctx)             \
    {                                                                                          \
        cn_rd_t r;                                                                             \
        rd_init(&r, NULL, 0, f);                                                               \
        return load_fn(obj, &r, ctx);                                                          \
    }

size_t cn_io_size_relin_key(const cn_bfv_relin_key_t *rk, const cn_bfv_context_t *ctx)
{
    return CN_IO_HEADER_BYTES + ksk_body(rk->has_seed, rk->digit_primes > 1, rk, ctx) +
           CN_IO_TRAILER_BYTES;
}

static void put_rk(cn_wr_t *w, const void *obj, unsigned flags, const cn_bfv_context_t *ctx)
{
    const cn_bfv_relin_key_t *rk = obj;
    (void)flags;
    put_ksk(w, rk, rk->has_seed, rk->digit_primes > 1, ctx);
}

static cn_status rk_spec(save_spec *sp, const cn_bfv_relin_key_t *rk,
                         const cn_bfv_context_t *ctx)
{
    const cn_status st = cn_bfv_check_ksk(rk, ctx);
    if (st != CN_OK)
        return st;
    *sp = (save_spec){CN_IO_RELIN_KEY, 1, ctx->fingerprint, cn_io_size_relin_key(rk, ctx)};
    return CN_OK;
}

/* seeded: bit 0 of the flags and 1.1; below level L: 1.2; digits of several primes: bit
 * 1 and 1.3 (the lowest that reads it) */
static hdr_ver ksk_version(int seeded, int low, int grouped)
{
    hdr_ver v = seeded ? (hdr_ver){HDR_SEEDED_KEYS, MINOR_SEEDED_KEYS} : hdr_v1_0;
    if (low)
        v.minor = MINOR_LEVEL_KEYS;
    if (grouped) {
        v.flags |= HDR_DIGIT_PRIMES;
        v.minor = MINOR_DIGIT_PRIMES;
    }
    return v;
}

static cn_status load_rk(cn_bfv_relin_key_t *rk, cn_rd_t *r, const cn_bfv_context_t *ctx)
{
    cn_io_header_t h;
    cn_bfv_relin_key_clear(rk);
    cn_rd_header(r, &h, CN_IO_RELIN_KEY, HDR_SEEDED_KEYS | HDR_DIGIT_PRIMES, ctx);
    const int seeded = ksk_header_seeded(r, &h);
    if (r->err == CN_OK && h.count != 1)
        cn_rd_fail(r, CN_ERR_FORMAT);
    if (r->err == CN_OK)
        get_ksk(r, rk, seeded, &h, ctx);
    cn_rd_trailer(r);
    if (r->err != CN_OK)
        cn_bfv_relin_key_clear(rk);
    return r->err;
}

KEY_IO_FAMILY(relin_key, cn_bfv_relin_key_t, rk_spec, put_rk, load_rk, obj->has_seed,
              obj->ndigits<ctx->L, obj->digit_primes> 1)

/* Galois keys are written seeded when every key has its seed (all keys from keygen). */
static int gk_seeded(const cn_bfv_galois_keys_t *gk)
{
    for (size_t i = 0; i < gk->count; i++)
        if (!gk->key[i].has_seed)
            return 0;
    return gk->count > 0;
}

/* Some key is below level L (format 1.2). */
static int gk_low(const cn_bfv_galois_keys_t *gk, const cn_bfv_context_t *ctx)
{
    for (size_t i = 0; i < gk->count; i++)
        if (gk->key[i].ndigits < ctx->L)
            return 1;
    return 0;
}

/* Some key has digits of several primes (format 1.3). */
static int gk_grouped(const cn_bfv_galois_keys_t *gk)
{
    for (size_t i = 0; i < gk->count; i++)
        if (gk->key[i].digit_primes > 1)
            return 1;
    return 0;
}

size_t cn_io_size_galois_keys(const cn_bfv_galois_keys_t *gk, const cn_bfv_context_t *ctx)
{
    size_t b = CN_IO_HEADER_BYTES + CN_IO_TRAILER_BYTES;
    for (size_t i = 0; i < gk->count; i++)
        b += 8 + ksk_body(gk_seeded(gk), gk_grouped(gk), &gk->key[i], ctx);
    return b;
}

static void put_gk(cn_wr_t *w, const void *obj, unsigned flags, const cn_bfv_context_t *ctx)
{
    const cn_bfv_galois_keys_t *gk = obj;
    const int seeded = gk_seeded(gk), grouped = gk_grouped(gk);
    (void)flags;
    for (size_t i = 0; i < gk->count; i++) {
        cn_wr_u64(w, gk->elt[i]);
        put_ksk(w, &gk->key[i], seeded, grouped, ctx);
    }
}

static cn_status gk_spec(save_spec *sp, const cn_bfv_galois_keys_t *gk,
                         const cn_bfv_context_t *ctx)
{
    const cn_status st = cn_bfv_check_galois(gk, ctx);
    if (st != CN_OK)
        return st;
    *sp = (save_spec){CN_IO_GALOIS_KEYS, (uint32_t)gk->count, ctx->fingerprint,
                      cn_io_size_galois_keys(gk, ctx)};
    return CN_OK;
}

static cn_status load_gk(cn_bfv_galois_keys_t *gk, cn_rd_t *r, const cn_bfv_context_t *ctx)
{
    cn_io_header_t h;
    cn_bfv_galois_keys_clear(gk);
    cn_rd_header(r, &h, CN_IO_GALOIS_KEYS, HDR_SEEDED_KEYS | HDR_DIGIT_PRIMES, ctx);
    const int seeded = ksk_header_seeded(r, &h);
    if (r->err == CN_OK && h.count > ctx->n)
        cn_rd_fail(r, CN_ERR_FORMAT);
    if (r->err == CN_OK && h.count) {
        gk->elt = calloc(h.count, sizeof *gk->elt);
        gk->key = calloc(h.count, sizeof *gk->key);
        if (!gk->elt || !gk->key)
            cn_rd_fail(r, CN_ERR_NO_MEMORY);
    }
    for (size_t i = 0; i < h.count && r->err == CN_OK; i++) {
        const uint64_t g = cn_rd_u64(r);
        int bad = g % 2 == 0 || g < 3 || g >= 2 * (uint64_t)ctx->n;
        for (size_t j = 0; j < i && !bad; j++)
            bad = gk->elt[j] == g;
        if (r->err == CN_OK && bad)
            cn_rd_fail(r, CN_ERR_FORMAT);
        if (r->err != CN_OK)
            break;
        gk->elt[i] = g;
        get_ksk(r, &gk->key[i], seeded, &h, ctx);
        gk->count = i + 1; /* cleared with the rest on failure */
    }
    cn_rd_trailer(r);
    if (r->err != CN_OK) {
        cn_bfv_galois_keys_clear(gk);
        return r->err;
    }
    gk->fingerprint = ctx->fingerprint;
    return CN_OK;
}

KEY_IO_FAMILY(galois_keys, cn_bfv_galois_keys_t, gk_spec, put_gk, load_gk, gk_seeded(obj),
              gk_low(obj, ctx), gk_grouped(obj))

/* ---- plaintext ------------------------------------------------------------------ */

size_t cn_io_size_plaintext(const cn_bfv_plaintext_t *pt, const cn_bfv_context_t *ctx)
{
    const uint64_t t = ctx->prm.t[pt->t_index < ctx->nt ? pt->t_index : 0];
    return CN_IO_HEADER_BYTES + 8 + cn_io_packed_bytes(ctx->n, cn_io_bits(t)) +
           CN_IO_TRAILER_BYTES;
}

static void put_pt(cn_wr_t *w, const void *obj, unsigned flags, const cn_bfv_context_t *ctx)
{
    const cn_bfv_plaintext_t *pt = obj;
    (void)flags;
    cn_wr_u32(w, (uint32_t)pt->t_index);
    cn_wr_u32(w, 0);
    cn_wr_packed(w, pt->coeffs, ctx->n, cn_io_bits(ctx->prm.t[pt->t_index]));
}

static cn_status pt_spec(save_spec *sp, const cn_bfv_plaintext_t *pt,
                         const cn_bfv_context_t *ctx)
{
    const cn_status st = cn_bfv_check_message(pt, ctx);
    if (st != CN_OK)
        return st;
    *sp = (save_spec){CN_IO_PLAINTEXT, 1, ctx->fingerprint, cn_io_size_plaintext(pt, ctx)};
    return CN_OK;
}

static cn_status load_pt(cn_bfv_plaintext_t *pt, cn_rd_t *r, const cn_bfv_context_t *ctx)
{
    cn_io_header_t h;
    cn_bfv_plaintext_clear(pt);
    cn_rd_header(r, &h, CN_IO_PLAINTEXT, 0, ctx);
    const uint32_t ti = cn_rd_u32(r), zero = cn_rd_u32(r);
    if (r->err == CN_OK && (h.count != 1 || ti >= ctx->nt || zero != 0))
        cn_rd_fail(r, CN_ERR_FORMAT);
    if (r->err == CN_OK) {
        cn_status st = cn_bfv_plaintext_init(pt, ctx, ti);
        if (st != CN_OK)
            cn_rd_fail(r, st);
        else
            cn_rd_packed(r, pt->coeffs, ctx->n, cn_io_bits(ctx->prm.t[ti]), ctx->prm.t[ti]);
    }
    cn_rd_trailer(r);
    if (r->err != CN_OK)
        cn_bfv_plaintext_clear(pt);
    return r->err;
}

IO_FAMILY(plaintext, cn_bfv_plaintext_t, pt_spec, put_pt, load_pt)

/* ---- ciphertexts ----------------------------------------------------------------- */

static int ct_seeded(const cn_bfv_ciphertext_t *ct, unsigned flags, const cn_bfv_context_t *ctx)
{
    return ct->has_seed && !(flags & CN_IO_NO_SEED) && ct->size == 2 && ct->level == ctx->L;
}

static size_t ct_body(const cn_bfv_ciphertext_t *ct, unsigned flags,
                      const cn_bfv_context_t *ctx)
{
    const size_t rows = rows_bytes(ct->level, ctx);
    return 16 + rows * (ct->size - (size_t)ct_seeded(ct, flags, ctx)) +
           (ct_seeded(ct, flags, ctx) ? CN_SEED_BYTES : 0);
}

static cn_status ct_check(const cn_bfv_ciphertext_t *ct, unsigned flags,
                          const cn_bfv_context_t *ctx)
{
    cn_status st = cn_bfv_check_ct(ct, ctx);
    if (st != CN_OK)
        return st;
    if (ct->transparent && !(flags & CN_IO_ALLOW_TRANSPARENT))
        return CN_ERR_UNSUPPORTED;
    return CN_OK;
}

static void put_ct1(cn_wr_t *w, const cn_bfv_ciphertext_t *ct, unsigned flags,
                    const cn_bfv_context_t *ctx)
{
    const int seeded = ct_seeded(ct, flags, ctx);
    cn_wr_u32(w, (uint32_t)ct->size);
    cn_wr_u32(w, (uint32_t)ct->level);
    cn_wr_u32(w, (uint32_t)ct->t_index);
    cn_wr_u32(w, (seeded ? CT_SEEDED : 0) | (ct->transparent ? CT_TRANSPARENT : 0));
    put_rows(w, &ct->c[0], ct->level, ctx);
    if (seeded)
        cn_wr_bytes(w, ct->seed, CN_SEED_BYTES);
    else
        put_rows(w, &ct->c[1], ct->level, ctx);
    if (ct->size == 3)
        put_rows(w, &ct->c[2], ct->level, ctx);
}

/* ct = the next ciphertext body of r */
static void get_ct1(cn_rd_t *r, cn_bfv_ciphertext_t *ct, const cn_bfv_context_t *ctx)
{
    const uint32_t size = cn_rd_u32(r), level = cn_rd_u32(r), ti = cn_rd_u32(r),
                   fl = cn_rd_u32(r);
    if (r->err != CN_OK)
        return;
    const int seeded = (fl & CT_SEEDED) != 0;
    if (size < 2 || size > 3 || level < 1 || level > ctx->L || ti >= ctx->nt ||
        (fl & ~(CT_SEEDED | CT_TRANSPARENT)) || (seeded && (size != 2 || level != ctx->L))) {
        cn_rd_fail(r, CN_ERR_FORMAT);
        return;
    }
    /* every row is read below, or expanded from the seed (a failure clears ct) */
    cn_status st = cn_bfv_ct_reshape_uninit(ct, size, level, ctx);
    if (st != CN_OK) {
        cn_rd_fail(r, st);
        return;
    }
    get_rows(r, &ct->c[0], level, CN_FORM_COEFF, ctx);
    if (seeded)
        cn_rd_bytes(r, ct->seed, CN_SEED_BYTES);
    else
        get_rows(r, &ct->c[1], level, CN_FORM_COEFF, ctx);
    if (size == 3)
        get_rows(r, &ct->c[2], level, CN_FORM_COEFF, ctx);
    ct->t_index = ti;
    ct->transparent = (fl & CT_TRANSPARENT) != 0;
    ct->has_seed = seeded;
    if (r->err == CN_OK && seeded && !r->defer_seed &&
        (st = cn_bfv_expand_seed(ct, ctx)) != CN_OK)
        cn_rd_fail(r, st);
}

size_t cn_io_size_ciphertext(const cn_bfv_ciphertext_t *ct, unsigned flags,
                             const cn_bfv_context_t *ctx)
{
    return CN_IO_HEADER_BYTES + ct_body(ct, flags, ctx) + CN_IO_TRAILER_BYTES;
}

static void put_ct(cn_wr_t *w, const void *obj, unsigned flags, const cn_bfv_context_t *ctx)
{
    put_ct1(w, obj, flags, ctx);
}

static cn_status ct_spec(save_spec *sp, const cn_bfv_ciphertext_t *ct, unsigned flags,
                         const cn_bfv_context_t *ctx)
{
    cn_status st = ct_check(ct, flags, ctx);
    if (st != CN_OK)
        return st;
    *sp = (save_spec){CN_IO_CIPHERTEXT, 1, ctx->fingerprint,
                      cn_io_size_ciphertext(ct, flags, ctx)};
    return CN_OK;
}

cn_status cn_io_save_ciphertext(uint8_t *buf, size_t cap, size_t *written,
                                const cn_bfv_ciphertext_t *ct, unsigned flags,
                                const cn_bfv_context_t *ctx)
{
    save_spec sp;
    cn_status st = ct_spec(&sp, ct, flags, ctx);
    return st != CN_OK ? st : save_obj(buf, cap, written, NULL, &sp, put_ct, ct, flags, ctx);
}

cn_status cn_io_write_ciphertext(FILE *f, const cn_bfv_ciphertext_t *ct, unsigned flags,
                                 const cn_bfv_context_t *ctx)
{
    save_spec sp;
    cn_status st = ct_spec(&sp, ct, flags, ctx);
    return st != CN_OK ? st : save_obj(NULL, 0, NULL, f, &sp, put_ct, ct, flags, ctx);
}

static cn_status load_ct(cn_bfv_ciphertext_t *ct, cn_rd_t *r, const cn_bfv_context_t *ctx)
{
    cn_io_header_t h; /* ct's polynomials are reused when their shape fits */
    cn_rd_header(r, &h, CN_IO_CIPHERTEXT, 0, ctx);
    if (r->err == CN_OK && h.count != 1)
        cn_rd_fail(r, CN_ERR_FORMAT);
    if (r->err == CN_OK)
        get_ct1(r, ct, ctx);
    cn_rd_trailer(r);
    if (r->err != CN_OK)
        cn_bfv_ciphertext_clear(ct);
    return r->err;
}

cn_status cn_io_load_ciphertext(cn_bfv_ciphertext_t *ct, const uint8_t *buf, size_t len,
                                const cn_bfv_context_t *ctx)
{
    cn_rd_t r;
    rd_init(&r, buf, len, NULL);
    return load_ct(ct, &r, ctx);
}

cn_status cn_io_read_ciphertext(cn_bfv_ciphertext_t *ct, FILE *f, const cn_bfv_context_t *ctx)
{
    cn_rd_t r;
    rd_init(&r, NULL, 0, f);
    return load_ct(ct, &r, ctx);
}

/* ---- ciphertext batch ------------------------------------------------------------ */

typedef struct {
    const cn_bfv_ciphertext_t *cts;
    size_t count;
} batch_t;

size_t cn_io_size_ciphertext_batch(const cn_bfv_ciphertext_t *cts, size_t count, unsigned flags,
                                   const cn_bfv_context_t *ctx)
{
    size_t b = CN_IO_HEADER_BYTES + CN_IO_TRAILER_BYTES;
    for (size_t i = 0; i < count; i++)
        b += ct_body(&cts[i], flags, ctx);
    return b;
}

static void put_batch(cn_wr_t *w, const void *obj, unsigned flags, const cn_bfv_context_t *ctx)
{
    const batch_t *b = obj;
    for (size_t i = 0; i < b->count && w->err == CN_OK; i++)
        put_ct1(w, &b->cts[i], flags, ctx);
}

static cn_status batch_spec(save_spec *sp, const cn_bfv_ciphertext_t *cts, size_t count,
                            unsigned flags, const cn_bfv_context_t *ctx)
{
    if (count > CN_IO_MAX_BATCH || (count && !cts))
        return CN_ERR_INVALID_ARG;
    for (size_t i = 0; i < count; i++) {
        cn_status st = ct_check(&cts[i], flags, ctx);
        if (st != CN_OK)
            return st;
    }
    *sp = (save_spec){CN_IO_CIPHERTEXT_BATCH, (uint32_t)count, ctx->fingerprint,
                      cn_io_size_ciphertext_batch(cts, count, flags, ctx)};
    return CN_OK;
}

cn_status cn_io_save_ciphertext_batch(uint8_t *buf, size_t cap, size_t *written,
                                      const cn_bfv_ciphertext_t *cts, size_t count,
                                      unsigned flags, const cn_bfv_context_t *ctx)
{
    save_spec sp;
    batch_t b = {cts, count};
    cn_status st = batch_spec(&sp, cts, count, flags, ctx);
    return st != CN_OK ? st : save_obj(buf, cap, written, NULL, &sp, put_batch, &b, flags, ctx);
}

/* ---- streaming batch writer ---- */

static int shape_ok(const cn_io_batch_shape_t *sh, const cn_bfv_context_t *ctx)
{
    return sh && sh->size >= 2 && sh->size <= 3 && sh->level >= 1 && sh->level <= ctx->L &&
           (sh->seeded == 0 || (sh->seeded == 1 && sh->size == 2 && sh->level == ctx->L));
}

/* bytes of one record of the shape: ct_body of a ciphertext of that shape */
static size_t shape_record_bytes(const cn_io_batch_shape_t *sh, const cn_bfv_context_t *ctx)
{
    return 16 + rows_bytes(sh->level, ctx) * (sh->size - (size_t)sh->seeded) +
           (sh->seeded ? CN_SEED_BYTES : 0);
}

void cn_io_batch_shape_of(cn_io_batch_shape_t *shape, const cn_bfv_ciphertext_t *ct,
                          unsigned flags, const cn_bfv_context_t *ctx)
{
    shape->size = ct->size;
    shape->level = ct->level;
    shape->seeded = ct_seeded(ct, flags, ctx);
}

size_t cn_io_batch_writer_size(size_t count, const cn_io_batch_shape_t *shape,
                               const cn_bfv_context_t *ctx)
{
    if (count > CN_IO_MAX_BATCH || !shape_ok(shape, ctx))
        return 0;
    return CN_IO_HEADER_BYTES + count * shape_record_bytes(shape, ctx) + CN_IO_TRAILER_BYTES;
}

cn_status cn_io_batch_writer_init(cn_io_batch_writer_t *w, uint8_t *buf, size_t cap,
                                  size_t count, const cn_io_batch_shape_t *shape,
                                  unsigned flags, const cn_bfv_context_t *ctx)
{
    memset(w, 0, sizeof *w);
    if (count > CN_IO_MAX_BATCH || !shape_ok(shape, ctx) || (flags & ~CN_IO_ALLOW_TRANSPARENT))
        return CN_ERR_INVALID_ARG;
    const size_t total = cn_io_batch_writer_size(count, shape, ctx);
    if (!buf || cap < total)
        return CN_ERR_OUT_OF_RANGE;
    uint8_t *done = calloc(count ? count : 1, 1);
    if (!done)
        return CN_ERR_NO_MEMORY;
    w->count = count;
    w->record_bytes = shape_record_bytes(shape, ctx);
    w->total = total;
    w->buf_ = buf;
    w->shape_ = *shape;
    w->flags_ = flags | (shape->seeded ? 0 : CN_IO_NO_SEED);
    w->ctx_ = ctx;
    w->done_ = done;
    return CN_OK;
}

cn_status cn_io_batch_writer_put(cn_io_batch_writer_t *w, size_t i,
                                 const cn_bfv_ciphertext_t *ct)
{
    if (!w->done_ || i >= w->count)
        return CN_ERR_INVALID_ARG;
    const cn_bfv_context_t *ctx = w->ctx_;
    cn_status st = ct_check(ct, w->flags_, ctx);
    if (st != CN_OK)
        return st;
    if (ct->size != w->shape_.size || ct->level != w->shape_.level ||
        ct_seeded(ct, w->flags_, ctx) != w->shape_.seeded)
        return CN_ERR_SHAPE_MISMATCH;
    w->done_[i] = 0; /* a failure below leaves the record unwritten */
    /* the checksum is taken over every record at final */
    cn_wr_t wr = {.buf = w->buf_ + CN_IO_HEADER_BYTES + i * w->record_bytes,
                  .cap = w->record_bytes,
                  .nohash = 1};
    put_ct1(&wr, ct, w->flags_, ctx);
    if (wr.err == CN_OK && wr.pos != w->record_bytes)
        wr.err = CN_ERR_INVALID_ARG; /* shape and body disagree: a bug, reported not hidden */
    w->done_[i] = wr.err == CN_OK;
    return wr.err;
}

cn_status cn_io_batch_writer_head(cn_io_batch_writer_t *w)
{
    if (!w->done_)
        return CN_ERR_INVALID_ARG;
    cn_wr_t wr = {.buf = w->buf_, .cap = CN_IO_HEADER_BYTES};
    cn_hash_init(&wr.hs);
    cn_wr_header(&wr, CN_IO_CIPHERTEXT_BATCH, 0, (uint32_t)w->count, w->total,
                 w->ctx_->fingerprint);
    w->head_ = wr.err == CN_OK;
    return wr.err;
}

_Static_assert(sizeof(cn_hash_t) <= sizeof(((cn_io_batch_writer_t *)0)->hash_),
               "the writer's hash state");

cn_status cn_io_batch_writer_absorb(cn_io_batch_writer_t *w, size_t upto)
{
    const size_t end = CN_IO_HEADER_BYTES + w->count * w->record_bytes;
    if (!w->done_ || !w->head_ || upto < w->absorbed_ || upto > end)
        return CN_ERR_INVALID_ARG;
    cn_hash_t hs;
    if (w->absorbed_ == 0)
        cn_hash_init(&hs);
    else
        memcpy(&hs, w->hash_, sizeof hs);
    cn_hash_update(&hs, w->buf_ + w->absorbed_, upto - w->absorbed_);
    memcpy(w->hash_, &hs, sizeof hs);
    w->absorbed_ = upto;
    return CN_OK;
}

cn_status cn_io_batch_writer_final(cn_io_batch_writer_t *w, size_t *written)
{
    if (written)
        *written = 0;
    if (!w->done_)
        return CN_ERR_INVALID_ARG;
    for (size_t i = 0; i < w->count; i++)
        if (!w->done_[i])
            return CN_ERR_INVALID_ARG;
    cn_wr_t wr = {.buf = w->buf_, .cap = w->total};
    cn_hash_init(&wr.hs);
    if (w->absorbed_) { /* hashed already, up to there: on from that state */
        memcpy(&wr.hs, w->hash_, sizeof wr.hs);
        wr.pos = w->absorbed_;
    } else if (w->head_) { /* written already, maybe being read: hashed where it lies */
        cn_hash_update(&wr.hs, w->buf_, CN_IO_HEADER_BYTES);
        wr.pos = CN_IO_HEADER_BYTES;
    } else {
        cn_wr_header(&wr, CN_IO_CIPHERTEXT_BATCH, 0, (uint32_t)w->count, w->total,
                     w->ctx_->fingerprint);
    }
    const size_t end = CN_IO_HEADER_BYTES + w->count * w->record_bytes;
    cn_hash_update(&wr.hs, w->buf_ + wr.pos, end - wr.pos);
    wr.pos = end;
    cn_wr_trailer(&wr);
    if (wr.err == CN_OK && written)
        *written = w->total;
    return wr.err;
}

void cn_io_batch_writer_clear(cn_io_batch_writer_t *w)
{
    free(w->done_);
    memset(w, 0, sizeof *w);
}

cn_status cn_io_write_ciphertext_batch(FILE *f, const cn_bfv_ciphertext_t *cts, size_t count,
                                       unsigned flags, const cn_bfv_context_t *ctx)
{
    save_spec sp;
    batch_t b = {cts, count};
    cn_status st = batch_spec(&sp, cts, count, flags, ctx);
    return st != CN_OK ? st : save_obj(NULL, 0, NULL, f, &sp, put_batch, &b, flags, ctx);
}

void cn_io_free_ciphertexts(cn_bfv_ciphertext_t *cts, size_t count)
{
    if (!cts)
        return;
    for (size_t i = 0; i < count; i++)
        cn_bfv_ciphertext_clear(&cts[i]);
    free(cts);
}

/* The array grows with the ciphertexts actually read (doubling), so a forged count
 * costs nothing until the bytes are there. */
static cn_status load_batch(cn_bfv_ciphertext_t **out, size_t *count, cn_rd_t *r,
                            const cn_bfv_context_t *ctx)
{
    cn_io_header_t h;
    cn_bfv_ciphertext_t *cts = NULL;
    size_t have = 0, cap = 0;
    *out = NULL;
    *count = 0;
    cn_rd_header(r, &h, CN_IO_CIPHERTEXT_BATCH, 0, ctx);
    if (r->err == CN_OK && h.count > CN_IO_MAX_BATCH)
        cn_rd_fail(r, CN_ERR_FORMAT);
    while (r->err == CN_OK && have < h.count) {
        if (have == cap) {
            size_t nc = cap ? 2 * cap : 16;
            cn_bfv_ciphertext_t *g = realloc(cts, nc * sizeof *g);
            if (!g) {
                cn_rd_fail(r, CN_ERR_NO_MEMORY);
                break;
            }
            memset(g + cap, 0, (nc - cap) * sizeof *g);
            cts = g;
            cap = nc;
        }
        get_ct1(r, &cts[have], ctx);
        have++;
    }
    cn_rd_trailer(r);
    if (r->err != CN_OK) {
        cn_io_free_ciphertexts(cts, have);
        return r->err;
    }
    *out = cts;
    *count = have;
    return CN_OK;
}

cn_status cn_io_load_ciphertext_batch(cn_bfv_ciphertext_t **cts, size_t *count,
                                      const uint8_t *buf, size_t len,
                                      const cn_bfv_context_t *ctx)
{
    cn_rd_t r;
    rd_init(&r, buf, len, NULL);
    return load_batch(cts, count, &r, ctx);
}

cn_status cn_io_load_ciphertext_batch_flags(cn_bfv_ciphertext_t **cts, size_t *count,
                                            const uint8_t *buf, size_t len, unsigned flags,
                                            const cn_bfv_context_t *ctx)
{
    if (flags & ~CN_IO_DEFER_SEED) {
        *cts = NULL;
        *count = 0;
        return CN_ERR_INVALID_ARG;
    }
    cn_rd_t r;
    rd_init(&r, buf, len, NULL);
    r.defer_seed = (flags & CN_IO_DEFER_SEED) != 0;
    return load_batch(cts, count, &r, ctx);
}

cn_status cn_io_read_ciphertext_batch(cn_bfv_ciphertext_t **cts, size_t *count, FILE *f,
                                      const cn_bfv_context_t *ctx)
{
    cn_rd_t r;
    rd_init(&r, NULL, 0, f);
    return load_batch(cts, count, &r, ctx);
}

/* ---- secret key --------------------------------------------------------------------- */

size_t cn_io_size_secret_key(const cn_bfv_secret_key_t *sk, const cn_bfv_context_t *ctx)
{
    (void)sk;
    return CN_IO_HEADER_BYTES + cn_io_packed_bytes(ctx->n, 2) + CN_IO_TRAILER_BYTES;
}

/* The ternary coefficients as codes 0 (0), 1 (1), 2 (-1), from row 0 of s. */
static cn_status sk_codes(uint64_t *codes, const cn_bfv_secret_key_t *sk,
                          const cn_bfv_context_t *ctx)
{
    const size_t n = ctx->n;
    cn_poly_t x = {0};
    cn_status st = cn_poly_init(&x, &ctx->ring, 1);
    if (st != CN_OK)
        return st;
    memcpy(x.data, sk->s.data, n * sizeof *x.data);
    x.form = CN_FORM_NTT;
    if ((st = cn_poly_from_ntt(&x, &ctx->ring)) == CN_OK) {
        const uint64_t q = ctx->ring.base.q[0];
        for (size_t i = 0; i < n && st == CN_OK; i++) {
            const uint64_t v = x.data[i];
            if (v == 0 || v == 1)
                codes[i] = v;
            else if (v == q - 1)
                codes[i] = 2;
            else
                st = CN_ERR_INVALID_ARG; /* not a ternary key */
        }
    }
    cn_poly_clear(&x); /* wiped */
    return st;
}

static void put_sk(cn_wr_t *w, const void *obj, unsigned flags, const cn_bfv_context_t *ctx)
{
    (void)flags;
    cn_wr_packed(w, obj, ctx->n, 2);
}

static cn_status save_sk(uint8_t *buf, size_t cap, size_t *written, FILE *f,
                         const cn_bfv_secret_key_t *sk, const cn_bfv_context_t *ctx)
{
    cn_status cst = cn_bfv_check_sk(sk, ctx);
    if (cst != CN_OK)
        return cst;
    uint64_t *codes = cn_alloc(ctx->n, sizeof *codes);
    if (!codes)
        return CN_ERR_NO_MEMORY;
    save_spec sp = {CN_IO_SECRET_KEY, 1, ctx->fingerprint, cn_io_size_secret_key(sk, ctx)};
    cn_status st = sk_codes(codes, sk, ctx);
    if (st == CN_OK)
        st = save_obj(buf, cap, written, f, &sp, put_sk, codes, 0, ctx);
    cn_wipe(codes, ctx->n * sizeof *codes);
    free(codes);
    return st;
}

cn_status cn_io_save_secret_key(uint8_t *buf, size_t cap, size_t *written,
                                const cn_bfv_secret_key_t *sk, const cn_bfv_context_t *ctx)
{
    return save_sk(buf, cap, written, NULL, sk, ctx);
}

cn_status cn_io_write_secret_key(FILE *f, const cn_bfv_secret_key_t *sk,
                                 const cn_bfv_context_t *ctx)
{
    return save_sk(NULL, 0, NULL, f, sk, ctx);
}

static cn_status load_sk(cn_bfv_secret_key_t *sk, cn_rd_t *r, const cn_bfv_context_t *ctx)
{
    cn_io_header_t h;
    const size_t n = ctx->n;
    cn_bfv_secret_key_clear(sk);
    uint64_t *codes = cn_alloc(n, sizeof *codes);
    int64_t *v = cn_alloc(n, sizeof *v);
    if (!codes || !v) {
        free(codes);
        free(v);
        return CN_ERR_NO_MEMORY;
    }
    cn_rd_header(r, &h, CN_IO_SECRET_KEY, 0, ctx);
    if (r->err == CN_OK && h.count != 1)
        cn_rd_fail(r, CN_ERR_FORMAT);
    if (r->err == CN_OK)
        cn_rd_packed(r, codes, n, 2, 3); /* code 3 is not a ternary value */
    cn_rd_trailer(r);
    cn_status st = r->err;
    if (st == CN_OK) {
        for (size_t i = 0; i < n; i++)
            v[i] = codes[i] == 2 ? -1 : (int64_t)codes[i];
        if ((st = cn_poly_init(&sk->s, &ctx->ring, K_rows(ctx))) == CN_OK &&
            (st = cn_poly_set_int64(&sk->s, v, &ctx->ring)) == CN_OK)
            st = cn_poly_to_ntt(&sk->s, &ctx->ring);
    }
    cn_wipe(codes, n * sizeof *codes);
    cn_wipe(v, n * sizeof *v);
    free(codes);
    free(v);
    if (st != CN_OK) {
        cn_bfv_secret_key_clear(sk);
        return st;
    }
    sk->fingerprint = ctx->fingerprint;
    return CN_OK;
}

cn_status cn_io_load_secret_key(cn_bfv_secret_key_t *sk, const uint8_t *buf, size_t len,
                                const cn_bfv_context_t *ctx)
{
    cn_rd_t r;
    rd_init(&r, buf, len, NULL);
    return load_sk(sk, &r, ctx);
}

cn_status cn_io_read_secret_key(cn_bfv_secret_key_t *sk, FILE *f, const cn_bfv_context_t *ctx)
{
    cn_rd_t r;
    rd_init(&r, NULL, 0, f);
    return load_sk(sk, &r, ctx);
}
