/* Check mode (docs/net.md, "Check mode"): the secret key holder runs the plan through a
 * real server (made from the client's own evaluation-key bytes) one step at a time,
 * decrypts every ciphertext after every op and compares every slot with the integer
 * network modulo each t_i, then the CRT-decoded outputs exactly; the first op that
 * differs is reported with the reason (noise exhausted, or outputs beyond T/2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

static uint64_t mod_i128(cn_int128 v, uint64_t t)
{
    cn_int128 r = v % (cn_int128)t;
    return (uint64_t)(r < 0 ? r + (cn_int128)t : r);
}

/* Compares the ciphertexts v[0..nt) after op o with the integer values ref[count][width]
 * (slot by slot, modulo each t_i); fills rep at the first difference. */
static cn_status compare_op(cn_check_report_t *rep, cn_client_t *c, const cn_ctvec_t *v,
                            const cn_int128 *ref, size_t width, size_t count, size_t o,
                            uint64_t *slots)
{
    const cn_plan_t *p = c->plan;
    cn_bfv_plaintext_t pt = {0};
    cn_status st = CN_OK;
    rep->min_budget = 1 << 20;
    for (size_t ti = 0; st == CN_OK && ti < p->prm.nt; ti++)
        for (size_t j = 0; st == CN_OK && j < width; j++) {
            int bud;
            st = cn_bfv_noise_budget(&bud, &v[ti].ct[j], &c->sk, c->ctx);
            if (st != CN_OK)
                break;
            if (bud < rep->min_budget)
                rep->min_budget = bud;
            st = cn_bfv_decrypt(&pt, &v[ti].ct[j], &c->sk, c->ctx);
            if (st == CN_OK)
                st = cn_bfv_decode_batch_u64(slots, &pt, c->ctx);
            for (size_t sl = 0; st == CN_OK && sl < count && rep->op == 0; sl++) {
                const uint64_t want = mod_i128(ref[sl * width + j], p->prm.t[ti]);
                if (slots[sl] == want)
                    continue;
                rep->op = o + 1;
                rep->reason = bud == 0 ? CN_CHECK_NOISE : CN_CHECK_OTHER;
                snprintf(rep->msg, sizeof rep->msg,
                         "op %zu, value %zu, slot %zu, modulus %zu: decrypted %llu, integer "
                         "network %llu; noise budget %d bits%s",
                         o + 1, j, sl, ti, (unsigned long long)slots[sl],
                         (unsigned long long)want, bud,
                         bud == 0 ? ": the noise is exhausted" : "");
            }
        }
    cn_bfv_plaintext_clear(&pt);
    return st;
}

/* The outputs matched mod every t_i: they are exact unless the range exceeds T/2. */
static cn_status compare_outputs(cn_check_report_t *rep, cn_client_t *c, const cn_ctvec_t *v,
                                 const cn_int128 *ref, size_t count)
{
    const cn_plan_t *p = c->plan;
    cn_int128 *got = malloc((count ? count : 1) * p->nout * sizeof *got);
    cn_status st = got ? cn_client_decrypt_outputs(got, c, v, count) : CN_ERR_NO_MEMORY;
    for (size_t i = 0; st == CN_OK && i < count * p->nout && rep->op == 0; i++)
        if (got[i] != ref[i]) {
            rep->op = p->nops;
            rep->reason = CN_CHECK_OVERFLOW;
            snprintf(rep->msg, sizeof rep->msg,
                     "output %zu of slot %zu: decrypted %.6g, integer network %.6g; they agree "
                     "mod every t_i, so the value exceeds the plaintext range T/2 (more or "
                     "larger plaintext moduli needed)",
                     i % p->nout, i / p->nout, (double)got[i], (double)ref[i]);
        }
    free(got);
    return st;
}

cn_status cn_client_check(cn_check_report_t *rep, cn_client_t *c, const int64_t *x,
                          size_t count)
{
    const cn_plan_t *p = c->plan;
    const size_t nt = p->prm.nt;
    memset(rep, 0, sizeof *rep);
    rep->min_budget = 1 << 20;
    /* the server of a deployment, from the client's evaluation-key bytes */
    uint8_t *keys = NULL, *buf = NULL;
    size_t klen = 0, len = 0;
    cn_server_t *srv = NULL;
    cn_ctvec_t v[CN_BFV_MAX_T] = {{0}};
    cn_status st = cn_client_eval_keys(&keys, &klen, c);
    if (st == CN_OK)
        st = cn_server_create(&srv, p, keys, klen, c->threads, NULL);
    free(keys);
    if (st == CN_OK)
        st = cn_client_encrypt(&buf, &len, c, x, count, NULL);
    if (st == CN_OK)
        st = cn_wire_load_all(v, buf, len, nt, p->nin, c->ctx, NULL);
    free(buf);
    size_t maxw = p->nin;
    for (size_t o = 0; o < p->nops; o++)
        if (p->ops[o].width > maxw)
            maxw = p->ops[o].width;
    cn_int128 *ra = malloc((count ? count : 1) * maxw * sizeof *ra);
    cn_int128 *rb = malloc((count ? count : 1) * maxw * sizeof *rb);
    uint64_t *slots = malloc(p->prm.n * sizeof *slots);
    if (st == CN_OK && (!ra || !rb || !slots))
        st = CN_ERR_NO_MEMORY;
    for (size_t i = 0; st == CN_OK && i < count * p->nin; i++)
        ra[i] = x[i];
    size_t width = p->nin;
    for (size_t o = 0; st == CN_OK && o < p->nops && rep->op == 0; o++) {
        const cn_op_t *op = &p->ops[o];
        for (size_t ti = 0; st == CN_OK && ti < nt; ti++)
            st = cn_server_step(&v[ti], op, ti, srv);
        if (st != CN_OK)
            break;
        cn_op_eval_plain(rb, ra, width, op, count);
        width = op->width;
        st = compare_op(rep, c, v, rb, width, count, o, slots);
        cn_int128 *tmp = ra;
        ra = rb;
        rb = tmp;
    }
    if (st == CN_OK && rep->op == 0)
        st = compare_outputs(rep, c, v, ra, count);
    for (size_t ti = 0; ti < nt; ti++)
        cn_pool_put_vec(srv ? srv->pool : NULL, &v[ti]);
    cn_server_free(srv);
    free(ra);
    free(rb);
    free(slots);
    if (st == CN_OK && rep->op == 0)
        snprintf(rep->msg, sizeof rep->msg,
                 "every op matched the integer network on every slot");
    return st;
}
