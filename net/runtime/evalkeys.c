/* The evaluation-key bytes (docs/format.md, "Evaluation keys of net/"): the client's
 * public keys for one plan, as lib/io objects one after the other,
 *   1. the relinearization key (type 4) when the plan relinearizes, else an empty
 *      ciphertext batch (type 8, 40 bytes) that still carries the parameters'
 *      fingerprint;
 *   2. when the plan's ops rotate slots, Galois keys (type 5) for exactly the Galois
 *      elements the plan lists (cn_plan_galois_elts).
 * A plan without rotations has the single object of before. The server loads them and
 * checks them against the plan, with a reason in diag when it refuses them. */
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

size_t cn_plan_galois_elts(const cn_plan_t *p, uint64_t *elts, size_t max)
{
    /* The ops of the batched layout (linear, square, relinearize, modulus switch) act
     * slot by slot and rotate nothing. An op that rotates adds its elements here (in
     * order of first use, without repeats), and the client then makes exactly those. */
    (void)p, (void)elts, (void)max;
    return 0;
}

/* The plan's elements in a malloc'ed array (*elts NULL when there are none). */
static cn_status plan_elts(uint64_t **elts, size_t *count, const cn_plan_t *p)
{
    *elts = NULL;
    *count = cn_plan_galois_elts(p, NULL, 0);
    if (*count == 0)
        return CN_OK;
    if (!(*elts = malloc(*count * sizeof **elts)))
        return CN_ERR_NO_MEMORY;
    cn_plan_galois_elts(p, *elts, *count);
    return CN_OK;
}

cn_status cn_client_make_galois_elts(cn_client_t *c, const uint64_t *elts, size_t count)
{
    if (c->has_gk)
        cn_bfv_galois_keys_clear(&c->gk);
    c->has_gk = 0;
    if (count == 0)
        return CN_OK;
    cn_status st = cn_bfv_keygen_galois_elts(&c->gk, &c->sk, elts, count, c->ctx, &c->rng);
    c->has_gk = st == CN_OK;
    return st;
}

cn_status cn_client_make_galois(cn_client_t *c)
{
    uint64_t *elts;
    size_t count;
    cn_status st = plan_elts(&elts, &count, c->plan);
    if (st == CN_OK)
        st = cn_client_make_galois_elts(c, elts, count);
    free(elts);
    return st;
}

cn_status cn_evalkeys_save(uint8_t **buf, size_t *len, const cn_client_t *c)
{
    *buf = NULL;
    *len = 0;
    const size_t first = c->has_rk ? cn_io_size_relin_key(&c->rk, c->ctx)
                                   : cn_io_size_ciphertext_batch(NULL, 0, 0, c->ctx);
    const size_t second = c->has_gk ? cn_io_size_galois_keys(&c->gk, c->ctx) : 0;
    uint8_t *b = malloc(first + second);
    if (!b)
        return CN_ERR_NO_MEMORY;
    size_t w1 = 0, w2 = 0;
    cn_status st = c->has_rk ? cn_io_save_relin_key(b, first, &w1, &c->rk, c->ctx)
                             : cn_io_save_ciphertext_batch(b, first, &w1, NULL, 0, 0, c->ctx);
    if (st == CN_OK && c->has_gk)
        st = cn_io_save_galois_keys(b + first, second, &w2, &c->gk, c->ctx);
    if (st != CN_OK) {
        free(b);
        return st;
    }
    *buf = b;
    *len = w1 + w2;
    return CN_OK;
}

static const char *io_type_name(unsigned type)
{
    static const char *const names[] = {
        "?",           "parameters", "secret key", "public key",      "relinearization key",
        "Galois keys", "plaintext",  "ciphertext", "ciphertext batch"};
    return type < sizeof names / sizeof names[0] ? names[type] : "unknown object";
}

/* Says why the first object of the evaluation keys was refused (st): what it is, what
 * was expected. */
static void first_diag(cn_net_diag_t *diag, cn_status st, const uint8_t *keys, size_t len,
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

/* The first object: the relinearization key, or the empty batch. */
static cn_status load_first(cn_server_t *s, const uint8_t *keys, size_t len, int needs_rk)
{
    if (needs_rk) {
        cn_status st = cn_io_load_relin_key(&s->rk, keys, len, s->ctx);
        s->has_rk = st == CN_OK;
        return st;
    }
    cn_bfv_ciphertext_t *none;
    size_t cnt;
    cn_status st = cn_io_load_ciphertext_batch(&none, &cnt, keys, len, s->ctx);
    if (st == CN_OK) {
        cn_io_free_ciphertexts(none, cnt);
        if (cnt != 0)
            st = CN_ERR_FORMAT;
    }
    return st;
}

/* The Galois keys: exactly one object, holding a key for every element in need[]. */
static cn_status load_galois(cn_server_t *s, const uint8_t *keys, size_t len,
                             const uint64_t *need, size_t count, cn_net_diag_t *diag)
{
    cn_status st = cn_io_load_galois_keys(&s->gk, keys, len, s->ctx);
    if (st != CN_OK) {
        cn_io_header_t h;
        if (len == 0)
            cn_diag_set(diag, "evaluation keys: no Galois keys after the first object; this "
                              "plan rotates slots and needs them");
        else if (cn_io_peek_header(&h, keys, len) == CN_OK && h.type != CN_IO_GALOIS_KEYS)
            cn_diag_set(diag,
                        "evaluation keys: a %s after the first object; the server "
                        "takes Galois keys there",
                        io_type_name(h.type));
        else
            cn_diag_set(diag, "evaluation keys: Galois keys (%zu bytes): %s", len,
                        cn_strerror(st));
        return st;
    }
    s->has_gk = 1;
    for (size_t i = 0; i < count; i++) {
        size_t j = 0;
        while (j < s->gk.count && s->gk.elt[j] != need[i])
            j++;
        if (j == s->gk.count) {
            cn_diag_set(diag,
                        "evaluation keys: no Galois key for element %llu, which the "
                        "plan uses (keys made for another plan?)",
                        (unsigned long long)need[i]);
            return CN_ERR_NO_KEY;
        }
    }
    return CN_OK;
}

cn_status cn_evalkeys_load_elts(cn_server_t *s, const uint8_t *keys, size_t len,
                                const uint64_t *need, size_t ng, cn_net_diag_t *diag)
{
    const int needs_rk = cn_plan_needs_relin(s->plan);
    /* the first object ends where its header says (the loader checks the rest) */
    size_t first = len;
    cn_io_header_t h;
    if (cn_io_peek_header(&h, keys, len) == CN_OK && h.total_length < len)
        first = (size_t)h.total_length;
    cn_status st = load_first(s, keys, first, needs_rk);
    if (st != CN_OK) {
        first_diag(diag, st, keys, first, needs_rk);
        return st;
    }
    if (ng == 0) {
        if (first == len)
            return CN_OK;
        cn_diag_set(diag,
                    "evaluation keys: %zu bytes after the %s; this plan needs nothing "
                    "more (it rotates no slots)",
                    len - first, needs_rk ? "relinearization key" : "empty batch");
        return CN_ERR_FORMAT;
    }
    return load_galois(s, keys + first, len - first, need, ng, diag);
}

cn_status cn_evalkeys_load(cn_server_t *s, const uint8_t *keys, size_t len, cn_net_diag_t *diag)
{
    uint64_t *need;
    size_t ng;
    cn_status st = plan_elts(&need, &ng, s->plan);
    if (st == CN_OK)
        st = cn_evalkeys_load_elts(s, keys, len, need, ng, diag);
    free(need);
    return st;
}
