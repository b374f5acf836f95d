/* The server (docs/net.md): the plan and the client's public evaluation keys (bytes only;
 * a secret key's bytes are refused), and the op loop on an encrypted batch, one
 * plaintext modulus at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "runtime.h"

void cn_server_free(cn_server_t *s)
{
    if (!s)
        return;
    if (s->has_rk)
        cn_bfv_relin_key_clear(&s->rk);
    if (s->has_gk)
        cn_bfv_galois_keys_clear(&s->gk);
    if (s->pool)
        cn_pool_clear(s->pool);
    cn_segment_clear(&s->seg);
    free(s->pool);
    cn_bfv_context_free(s->ctx);
    free(s);
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
    if (plan->packed) {
        cn_diag_set(diag,
                    "this plan uses the packed layout (compiled for %zu inputs per "
                    "request): use the packed server (cn_plan_packed)",
                    plan->lrep.batch_size);
        return CN_ERR_UNSUPPORTED;
    }
    cn_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return CN_ERR_NO_MEMORY;
    s->plan = plan;
    s->threads = threads;
    cn_status st = cn_bfv_context_create(&s->ctx, &plan->prm);
    /* the buffers of every batch, sized from the plan (reserved here, touched by the
     * first batch) */
    if (st == CN_OK && !(s->pool = malloc(sizeof *s->pool)))
        st = CN_ERR_NO_MEMORY;
    if (st == CN_OK)
        st = cn_pool_init(s->pool, cn_pool_blocks(plan, threads), plan->prm.n, plan->prm.nq);
    /* the first segment in chunks when the plan's memory needs them (cn_plan_chunks) */
    if (st == CN_OK)
        st = cn_server_set_chunks(s,
                                  cn_plan_chunks(plan->ops, plan->nops, plan->nin, &plan->prm));
    if (st == CN_OK)
        st = cn_evalkeys_load(s, keys, len, diag); /* the reason in diag */
    if (st != CN_OK) {
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

/* the name of an op in the timing (bench/report reads these) */
static const char *step_name(const cn_op_t *op)
{
    return op->kind == CN_OP_LINEAR   ? "linear"
           : op->kind == CN_OP_SQUARE ? "square"
           : op->kind == CN_OP_RELIN  ? "relin"
                                      : "modswitch";
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* one element-wise op (square, relinearization, modulus switch) on one ciphertext: the
 * output in blocks of the pool, the input's blocks back */
static cn_status elementwise(cn_bfv_ciphertext_t *cur, const cn_op_t *op, const cn_server_t *s)
{
    const cn_bfv_context_t *ctx = s->ctx;
    cn_pool_t *pool = s->pool;
    cn_status e = CN_OK;
    cn_bfv_ciphertext_t out = {0};
    if (op->kind == CN_OP_SQUARE) {
        e = cn_pool_shape(pool, &out, 3, cur->level, ctx);
        if (e == CN_OK)
            e = cn_bfv_square(&out, cur, ctx);
    } else if (op->kind == CN_OP_RELIN) {
        e = cn_pool_shape(pool, &out, 2, cur->level, ctx);
        if (e == CN_OK)
            e = cn_bfv_relinearize(&out, cur, &s->rk, ctx);
    } else {
        /* each switch into blocks of the pool, the input's blocks back */
        for (size_t d = 0; d < op->drop && e == CN_OK; d++) {
            e = cn_pool_shape(pool, &out, cur->size, cur->level - 1, ctx);
            if (e == CN_OK)
                e = cn_bfv_mod_switch(&out, cur, ctx);
            cn_pool_put(pool, cur);
            *cur = out;
            memset(&out, 0, sizeof out);
        }
        return e;
    }
    cn_pool_put(pool, cur);
    *cur = out;
    return e;
}

/* a square and the modulus switch after it (sw) on one ciphertext, the switch's first
 * prime folded into the square's scaling (the same words as the two ops one after the
 * other); 1 when done, 0 when the ops do not fuse (the ciphertext below level 2) */
static int square_switch(cn_status *e, cn_bfv_ciphertext_t *cur, const cn_op_t *sw,
                         const cn_server_t *s)
{
    if (cur->level < 2 || cur->size != 2 || sw->drop < 1)
        return 0;
    cn_bfv_ciphertext_t out = {0};
    *e = cn_pool_shape(s->pool, &out, 3, cur->level - 1, s->ctx);
    if (*e == CN_OK)
        *e = cn_bfv_square_mod_switch(&out, cur, s->ctx);
    cn_pool_put(s->pool, cur);
    *cur = out;
    if (*e == CN_OK && sw->drop > 1) {
        cn_op_t rest = *sw;
        rest.drop--;
        *e = elementwise(cur, &rest, s);
    }
    return 1;
}

cn_status cn_server_step(cn_ctvec_t *v, const cn_op_t *op, size_t ti, const cn_server_t *s)
{
    const cn_bfv_context_t *ctx = s->ctx;
    cn_pool_t *pool = s->pool;
    cn_status st = CN_OK;
    if (op->kind == CN_OP_LINEAR) {
        cn_ctvec_t nx = {calloc(op->lin.nout, sizeof *nx.ct), op->lin.nout};
        if (!nx.ct || !v->len) {
            free(nx.ct);
            return nx.ct ? CN_ERR_SHAPE_MISMATCH : CN_ERR_NO_MEMORY;
        }
        /* the outputs in the pool's blocks, in the shape the layer writes */
        for (size_t j = 0; j < nx.len && st == CN_OK; j++)
            st = cn_pool_shape(pool, &nx.ct[j], v->ct[0].size, v->ct[0].level, ctx);
        if (st == CN_OK)
            st = cn_linear_layer(nx.ct, v->ct, &op->lin, ti, s);
        cn_pool_put_vec(pool, v);
        *v = nx;
        return st;
    }
    cn_bfv_ciphertext_t *cur = v->ct;
    const long w = (long)v->len;
    /* each output is written beside its input, in blocks of the output's shape, and the
     * input's blocks go back: the library neither allocates nor frees a polynomial */
#pragma omp parallel for schedule(dynamic, 4) num_threads(cn_nthreads(s->threads))
    for (long i = 0; i < w; i++)
        CN_OMP_COLLECT(st, elementwise(&cur[i], op, s));
    return st;
}

cn_status cn_server_steps_fused(cn_ctvec_t *v, const cn_op_t *ops, size_t nops,
                                const cn_server_t *s, double *seconds)
{
    cn_status st = CN_OK;
    cn_bfv_ciphertext_t *cur = v->ct;
    const long w = (long)v->len;
    const int nth = cn_nthreads(s->threads);
    /* per thread and op: seconds spent in the op's calls, to share out the wall time */
    double *busy = calloc((size_t)(nth > 0 ? nth : 1) * (nops ? nops : 1), sizeof *busy);
    if (!busy)
        return CN_ERR_NO_MEMORY;
    const double t0 = now_s();
#pragma omp parallel num_threads(nth)
    {
#ifdef _OPENMP
        const int me = omp_get_thread_num();
#else
        const int me = 0;
#endif
        double *mine = busy + (size_t)me * nops;
#pragma omp for schedule(dynamic, 4)
        for (long i = 0; i < w; i++)
            for (size_t o = 0; o < nops; o++) {
                const double a = now_s();
                cn_status e = CN_OK;
                const size_t k = o; /* the op its time goes to */
                /* a square followed by a modulus switch: one op (its time is the square's) */
                if (ops[o].kind == CN_OP_SQUARE && o + 1 < nops &&
                    ops[o + 1].kind == CN_OP_MODSWITCH &&
                    square_switch(&e, &cur[i], &ops[o + 1], s))
                    o++;
                else
                    e = elementwise(&cur[i], &ops[o], s);
                mine[k] += now_s() - a;
                if (e != CN_OK) {
                    CN_OMP_COLLECT(st, e);
                    break;
                }
            }
    }
    const double wall = now_s() - t0;
    double all = 0;
    for (size_t k = 0; k < (size_t)nth * nops; k++)
        all += busy[k];
    for (size_t o = 0; seconds && o < nops; o++) {
        double b = 0;
        for (int t = 0; t < nth; t++)
            b += busy[(size_t)t * nops + o];
        seconds[o] += all > 0 ? wall * b / all : wall / (double)nops;
    }
    free(busy);
    return st;
}

cn_status cn_server_eval(uint8_t **outbuf, size_t *outlen, cn_server_t *s, const uint8_t *in,
                         size_t len, cn_server_timing_t *timing, cn_net_diag_t *diag)
{
    if (diag)
        diag->msg[0] = 0;
    const cn_plan_t *p = s->plan;
    const cn_bfv_context_t *ctx = s->ctx;
    const size_t nt = p->prm.nt, L = cn_bfv_context_params(ctx)->nq;
    *outbuf = NULL;
    if (timing) {
        memset(timing, 0, sizeof *timing);
        snprintf(timing->name[0], sizeof timing->name[0], "load");
        timing->nsteps = 1 + p->nops; /* at most CN_PLAN_MAX_OPS: the loader's limit */
    }
    /* the whole shape first: nt parts, before any work */
    size_t off, plen;
    cn_status st = cn_wire_find_part(&off, &plen, in, len, nt, 0, diag);
    cn_ctvec_t res[CN_BFV_MAX_T] = {{0}};
    /* one plaintext modulus at a time: its memory is reused by the next */
    if (timing)
        for (size_t o = 0; o < p->nops; o++)
            snprintf(timing->name[1 + o], sizeof timing->name[0], "%u:%.12s", (unsigned)(o + 1),
                     step_name(&p->ops[o]));
    /* with chunks, the first segment's ops run in cn_chunked_part */
    const size_t o0 = s->seg.nchunks ? s->seg.end + 1 : 0;
    for (size_t ti = 0; st == CN_OK && ti < nt; ti++) {
        double ts = now_s();
        cn_ctvec_t *cur = &res[ti];
        if (o0) {
            st = cn_chunked_part(cur, in, len, ti, s, timing ? timing->seconds : NULL, diag);
            ts = now_s();
        } else {
            st =
                cn_wire_load_part(cur, in, len, nt, ti, p->nin, ctx, s->pool, s->threads, diag);
        }
        for (size_t i = 0; st == CN_OK && !o0 && i < cur->len; i++)
            if (cur->ct[i].size != 2 || cur->ct[i].level != L) {
                cn_diag_set(diag,
                            "batch part %zu, ciphertext %zu: size %u at level %u; the "
                            "server takes fresh ciphertexts (size 2, all %zu primes)",
                            ti + 1, i + 1, (unsigned)cur->ct[i].size,
                            (unsigned)cur->ct[i].level, L);
                st = CN_ERR_SHAPE_MISMATCH;
            }
        if (timing && !o0)
            timing->seconds[0] += now_s() - ts;
        for (size_t o = o0; st == CN_OK && o < p->nops; o++) {
            const cn_op_t *op = &p->ops[o];
            if (op->kind != CN_OP_LINEAR) {
                /* a run of element-wise ops, fused: each ciphertext through all of them */
                size_t e = o + 1;
                while (e < p->nops && p->ops[e].kind != CN_OP_LINEAR)
                    e++;
                st = cn_server_steps_fused(cur, op, e - o, s,
                                           timing ? timing->seconds + 1 + o : NULL);
                if (st != CN_OK)
                    cn_diag_set(diag, "ops %zu-%zu (plaintext modulus %zu): %s", o + 1, e,
                                ti + 1, cn_strerror(st));
                o = e - 1;
                continue;
            }
            ts = now_s();
            st = cn_server_step(cur, op, ti, s);
            if (st != CN_OK)
                cn_diag_set(diag, "op %zu (plaintext modulus %zu): %s", o + 1, ti + 1,
                            cn_strerror(st));
            if (timing)
                timing->seconds[1 + o] += now_s() - ts;
        }
    }
    if (st == CN_OK) {
        const double ts = now_s();
        st = cn_wire_save(outbuf, outlen, res, nt, ctx, s->threads);
        if (st != CN_OK)
            cn_diag_set(diag, "reply: %s", cn_strerror(st));
        if (timing) {
            snprintf(timing->name[timing->nsteps], sizeof timing->name[0], "save");
            timing->seconds[timing->nsteps++] = now_s() - ts;
        }
    }
    for (size_t ti = 0; ti < nt; ti++)
        cn_pool_put_vec(s->pool, &res[ti]);
    return st;
}
