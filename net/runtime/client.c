/* The client (docs/net.md): keys from the OS (or a seed, for tests), encryption of a
 * batch straight into its bytes, decryption with CRT decoding over the plaintext moduli,
 * and the client's state as a file (secret key and the plan it belongs to). */
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

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
    if (st == CN_OK && cn_plan_needs_relin(plan)) {
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
#pragma omp parallel num_threads(cn_nthreads(c->threads))
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

cn_status cn_client_decrypt_outputs(cn_int128 *out, cn_client_t *c, const cn_ctvec_t *v,
                                    size_t count)
{
    const cn_plan_t *p = c->plan;
    const size_t n = p->prm.n, nt = p->prm.nt, nout = p->nout;
    uint64_t *res = malloc(nt * nout * n * sizeof *res);
    cn_int128 *col = malloc((count ? count : 1) * sizeof *col);
    cn_plain_crt_t crt = {0};
    cn_bfv_plaintext_t pt = {0};
    cn_status st = res && col ? cn_plain_crt_init(&crt, p->prm.t, nt) : CN_ERR_NO_MEMORY;
    for (size_t ti = 0; st == CN_OK && ti < nt; ti++)
        for (size_t j = 0; st == CN_OK && j < nout; j++) {
            cn_bfv_plaintext_clear(&pt);
            st = cn_bfv_decrypt_checked(&pt, &v[ti].ct[j], &c->sk, c->ctx);
            if (st == CN_OK)
                st = cn_bfv_decode_batch_u64(res + (ti * nout + j) * n, &pt, c->ctx);
        }
    cn_bfv_plaintext_clear(&pt);
    /* output j of every slot: its residues mod t_0 .. t_{nt-1}, joined by lib/encode's CRT */
    for (size_t j = 0; st == CN_OK && j < nout; j++) {
        const uint64_t *r[CN_BFV_MAX_T];
        for (size_t ti = 0; ti < nt; ti++)
            r[ti] = res + (ti * nout + j) * n;
        st = cn_plain_crt_join_i128(col, r, count, &crt);
        for (size_t s = 0; st == CN_OK && s < count; s++)
            out[s * nout + j] = col[s];
    }
    if (crt.base.k)
        cn_plain_crt_clear(&crt);
    free(res);
    free(col);
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
    const size_t nt = c->plan->prm.nt;
    cn_ctvec_t v[CN_BFV_MAX_T];
    cn_status st = cn_wire_load_all(v, buf, len, nt, c->plan->nout, c->ctx, diag);
    if (st != CN_OK)
        return st;
    st = cn_client_decrypt_outputs(out, c, v, count);
    if (st == CN_ERR_NOISE_EXHAUSTED)
        cn_diag_set(diag, "reply: a result's noise budget is exhausted (wrong key, another "
                    "plan, or a damaged reply): its decryption cannot be trusted");
    else if (st != CN_OK)
        cn_diag_set(diag, "reply: %s", cn_strerror(st));
    for (size_t ti = 0; ti < nt; ti++)
        cn_ctvec_clear(&v[ti]);
    return st;
}

cn_status cn_client_reply_budget(int *bits, cn_client_t *c, const uint8_t *buf, size_t len,
                                 cn_net_diag_t *diag)
{
    if (diag)
        diag->msg[0] = 0;
    const size_t nt = c->plan->prm.nt;
    cn_ctvec_t v[CN_BFV_MAX_T];
    cn_status st = cn_wire_load_all(v, buf, len, nt, c->plan->nout, c->ctx, diag);
    if (st != CN_OK)
        return st;
    *bits = 1 << 20;
    for (size_t ti = 0; ti < nt; ti++)
        for (size_t i = 0; st == CN_OK && i < v[ti].len; i++) {
            int b;
            st = cn_bfv_noise_budget(&b, &v[ti].ct[i], &c->sk, c->ctx);
            if (st == CN_OK && b < *bits)
                *bits = b;
        }
    for (size_t ti = 0; ti < nt; ti++)
        cn_ctvec_clear(&v[ti]);
    return st;
}

