/* Check mode of the packed layout (cryptonets/packed.h, docs/net.md "Packed layout",
 * "Check mode"): as cn_client_check for the batched layout, the secret key holder runs
 * the layout through a real packed server (made from its own evaluation-key bytes) one op
 * at a time with the server's own code (cn_pk_server_ops), decrypts every ciphertext
 * after every op and compares every slot the layout defines (net/packed.h, "Slots": for
 * every input of the request, every position of its lane, in both row copies when they
 * are replicas) with the plan's integer network at that point modulo each t_i; then the
 * CRT-decoded outputs exactly. The reference is the plan's own ops (cn_op_eval_plain):
 * the k-th linear op of the layout is the plan's k-th linear layer, squares are the
 * plan's squares, relinearizations and modulus switches leave the values alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../packed.h"
#include "runtime.h"

static uint64_t mod_i128(cn_int128 v, uint64_t t)
{
    cn_int128 r = v % (cn_int128)t;
    return (uint64_t)(r < 0 ? r + (cn_int128)t : r);
}

/* The plan's k-th linear op (k from 0), or NULL. */
static const cn_op_t *plan_linear(const cn_plan_t *p, size_t k)
{
    for (size_t i = 0; i < p->nops; i++)
        if (p->ops[i].kind == CN_OP_LINEAR && k-- == 0)
            return &p->ops[i];
    return NULL;
}

typedef struct {
    const cn_packed_t *pk;
    const cn_bfv_context_t *ctx;
    const cn_bfv_secret_key_t *sk;
    uint64_t *slots; /* [n] */
} pk_check_t;

/* Compares the ciphertext sets v[0..nt) after op o (0-based) with ref[count][width] held
 * with period m (position p: ref[p mod m], or 0 when p mod m >= width), modulo each t_i;
 * fills rep at the first difference and lowers rep->min_budget. */
static cn_status compare_op(cn_check_report_t *rep, const pk_check_t *k, const cn_ctvec_t *v,
                            const cn_int128 *ref, size_t width, size_t m, size_t count,
                            size_t o)
{
    const cn_packed_t *pk = k->pk;
    cn_bfv_plaintext_t pt = {0};
    cn_status st = CN_OK;
    for (size_t ti = 0; st == CN_OK && ti < pk->prm.nt; ti++)
        for (size_t set = 0; st == CN_OK && set < pk->nsets; set++) {
            int bud;
            st = cn_bfv_noise_budget(&bud, &v[ti].ct[set], k->sk, k->ctx);
            if (st != CN_OK)
                break;
            if (bud < rep->min_budget)
                rep->min_budget = bud;
            st = cn_bfv_decrypt(&pt, &v[ti].ct[set], k->sk, k->ctx);
            if (st == CN_OK)
                st = cn_bfv_decode_batch_u64(k->slots, &pt, k->ctx);
            for (size_t lane = 0; st == CN_OK && lane < pk->per_set && rep->op == 0; lane++) {
                const size_t img = set * pk->per_set + lane;
                if (img >= count)
                    break;
                for (size_t r = 0; r < (pk->rows_distinct ? 1u : 2u) && rep->op == 0; r++)
                    for (size_t p = 0; p < pk->pos && rep->op == 0; p++) {
                        const size_t j = p % m, sl = cn_pk_slot(pk, lane, p, r);
                        const uint64_t want =
                            j < width ? mod_i128(ref[img * width + j], pk->prm.t[ti]) : 0;
                        if (k->slots[sl] == want)
                            continue;
                        rep->op = o + 1;
                        rep->reason = bud == 0 ? CN_CHECK_NOISE : CN_CHECK_OTHER;
                        snprintf(rep->msg, sizeof rep->msg,
                                 "op %zu, input %zu, value %zu (position %zu, row copy %zu), "
                                 "modulus %zu: decrypted %llu, integer network %llu; noise "
                                 "budget %d bits%s",
                                 o + 1, img, j, p, r, ti, (unsigned long long)k->slots[sl],
                                 (unsigned long long)want, bud,
                                 bud == 0 ? ": the noise is exhausted" : "");
                    }
            }
        }
    cn_bfv_plaintext_clear(&pt);
    return st;
}

/* The outputs matched mod every t_i: they are exact unless the range exceeds T/2. The
 * reply's bytes go through the client's own decryption. */
static cn_status compare_outputs(cn_check_report_t *rep, cn_packed_client_t *c,
                                 const pk_check_t *k, const cn_ctvec_t *v, const cn_int128 *ref,
                                 size_t count)
{
    const cn_packed_t *pk = k->pk;
    const size_t nout = pk->plan->nout;
    uint8_t *buf = NULL;
    size_t len = 0;
    cn_int128 *got = malloc(count * nout * sizeof *got);
    cn_status st = got ? cn_wire_save(&buf, &len, v, pk->prm.nt, k->ctx, 0) : CN_ERR_NO_MEMORY;
    if (st == CN_OK)
        st = cn_packed_client_decrypt(got, c, buf, len, count, NULL);
    for (size_t i = 0; st == CN_OK && i < count * nout && rep->op == 0; i++)
        if (got[i] != ref[i]) {
            rep->op = pk->nops;
            rep->reason = CN_CHECK_OVERFLOW;
            snprintf(rep->msg, sizeof rep->msg,
                     "output %zu of input %zu: decrypted %.6g, integer network %.6g; they "
                     "agree mod every t_i, so the value exceeds the plaintext range T/2 (more "
                     "or larger plaintext moduli needed)",
                     i % nout, i / nout, (double)got[i], (double)ref[i]);
        }
    free(buf);
    free(got);
    return st;
}

cn_status cn_packed_client_check(cn_check_report_t *rep, cn_packed_client_t *c,
                                 const int64_t *x, size_t count)
{
    memset(rep, 0, sizeof *rep);
    rep->min_budget = 1 << 20;
    pk_check_t k = {0};
    k.sk = cn_pk_client_secret(c, &k.ctx, &k.pk);
    const cn_packed_t *pk = k.pk;
    const cn_plan_t *p = pk->plan;
    const size_t nt = pk->prm.nt, ns = pk->nsets, nct = pk->ops[0].nct;
    if (count == 0 || count > pk->batch)
        return CN_ERR_INVALID_ARG;
    /* the server of a deployment, from the client's evaluation-key bytes */
    uint8_t *keys = NULL, *buf = NULL;
    size_t klen = 0, len = 0;
    cn_packed_server_t *srv = NULL;
    cn_ctvec_t in[CN_BFV_MAX_T] = {{0}}, v[CN_BFV_MAX_T] = {{0}};
    cn_status st = cn_packed_client_eval_keys(&keys, &klen, c);
    if (st == CN_OK)
        st = cn_packed_server_create(&srv, pk, keys, klen, 0, NULL);
    free(keys);
    if (st == CN_OK)
        st = cn_packed_client_encrypt(&buf, &len, c, x, count, NULL);
    for (size_t ti = 0; st == CN_OK && ti < nt; ti++)
        st = cn_wire_load_part(&in[ti], buf, len, nt, ti, ns * nct, k.ctx, NULL, 0, NULL);
    free(buf);
    for (size_t ti = 0; st == CN_OK && ti < nt; ti++) {
        v[ti].ct = calloc(ns, sizeof *v[ti].ct);
        v[ti].len = ns;
        if (!v[ti].ct)
            st = CN_ERR_NO_MEMORY;
    }
    size_t maxw = p->nin;
    for (size_t o = 0; o < p->nops; o++)
        if (p->ops[o].width > maxw)
            maxw = p->ops[o].width;
    cn_int128 *ra = malloc(count * maxw * sizeof *ra);
    cn_int128 *rb = malloc(count * maxw * sizeof *rb);
    k.slots = malloc(pk->prm.n * sizeof *k.slots);
    if (st == CN_OK && (!ra || !rb || !k.slots))
        st = CN_ERR_NO_MEMORY;
    for (size_t i = 0; st == CN_OK && i < count * p->nin; i++)
        ra[i] = x[i];
    size_t width = p->nin, m = 1, nlin = 0;
    for (size_t o = 0; st == CN_OK && o < pk->nops && rep->op == 0; o++) {
        const cn_pk_op_t *op = &pk->ops[o];
        for (size_t ti = 0; st == CN_OK && ti < nt; ti++)
            for (size_t set = 0; st == CN_OK && set < ns; set++)
                st = cn_pk_server_ops(&v[ti].ct[set], in[ti].ct + set * nct, ti, o, o + 1, srv);
        if (st != CN_OK)
            break;
        const cn_op_t *ref = NULL;
        cn_op_t sq = {0};
        if (op->kind == CN_PK_FIRST || op->kind == CN_PK_DIAG) {
            ref = plan_linear(p, nlin++);
            m = op->m_out;
            if (!ref) {
                st = CN_ERR_SHAPE_MISMATCH; /* a layout of another plan */
                break;
            }
        } else if (op->kind == CN_PK_SQUARE) {
            sq.kind = CN_OP_SQUARE;
            sq.width = width;
            ref = &sq;
        }
        if (ref) {
            cn_op_eval_plain(rb, ra, width, ref, count);
            width = ref->width;
            cn_int128 *tmp = ra;
            ra = rb;
            rb = tmp;
        }
        st = compare_op(rep, &k, v, ra, width, m, count, o);
    }
    if (st == CN_OK && rep->op == 0)
        st = compare_outputs(rep, c, &k, v, ra, count);
    for (size_t ti = 0; ti < nt; ti++) {
        cn_ctvec_clear(&in[ti]);
        cn_ctvec_clear(&v[ti]);
    }
    cn_packed_server_free(srv);
    free(ra);
    free(rb);
    free(k.slots);
    if (st == CN_OK && rep->op == 0)
        snprintf(rep->msg, sizeof rep->msg,
                 "every op matched the integer network on every slot");
    return st;
}
