/* The layout stage of the compiler and the plan's layout (docs/net.md, "Choosing the
 * layout"): with a batch size B, the batched plan's estimate for B inputs (ceil(B / n)
 * batches of net/compiler/cost.c's seconds per batch) against the packed layout's
 * (net/compiler/layout.c's seconds per request of B inputs); the cheaper wins. A packed
 * plan keeps the layout's options with the parameters the search chose forced, so that
 * loading the plan recreates the same layout on any machine (the search's cost model
 * reads the CPU's features; forced parameters leave it one candidate). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../net_internal.h"
#include "../packed.h"

/* bits of x > 0: x in [2^(b-1), 2^b) */
static unsigned bits_of(uint64_t x)
{
    return 64u - (unsigned)__builtin_clzll(x);
}

static int same_params(const cn_bfv_params_t *a, const cn_bfv_params_t *b)
{
    if (a->n != b->n || a->nq != b->nq || a->nt != b->nt || a->p != b->p)
        return 0;
    for (size_t i = 0; i < a->nq; i++)
        if (a->q[i] != b->q[i])
            return 0;
    for (size_t i = 0; i < a->nt; i++)
        if (a->t[i] != b->t[i])
            return 0;
    return 1;
}

/* the same shapes op by op (what the recorded choices must reproduce) */
static int same_ops(const cn_packed_t *a, const cn_packed_t *b)
{
    if (a->nops != b->nops || a->s != b->s || a->nsets != b->nsets || a->nelts != b->nelts ||
        a->late_first != b->late_first)
        return 0;
    for (size_t i = 0; i < a->nops; i++) {
        const cn_pk_op_t *x = &a->ops[i], *y = &b->ops[i];
        if (x->kind != y->kind || x->fb != y->fb || x->nct != y->nct || x->baby != y->baby ||
            x->giant != y->giant || x->drop != y->drop || x->level != y->level)
            return 0;
    }
    return 1;
}

/* the reason printed with the choice */
static void set_why(cn_layout_report_t *r, const cn_plan_t *p, const char *packed_diag)
{
    const size_t n = p->prm.n, nb = (r->batch_size + n - 1) / n;
    if (r->packed_s < 0)
        snprintf(r->why, sizeof r->why, "batched: the packed layout does not apply (%s)",
                 packed_diag && packed_diag[0] ? packed_diag : "no parameters");
    else
        snprintf(r->why, sizeof r->why,
                 "%s%s: %zu inputs per request cost %.3g s packed against %.3g s batched "
                 "(%zu batch%s of %zu slots) on one core (cost model)",
                 r->chosen == CN_LAYOUT_PACKED ? "packed" : "batched",
                 r->forced ? " (forced)" : "", r->batch_size, r->packed_s, r->batched_s, nb,
                 nb == 1 ? "" : "es", n);
}

/* The layout of popts for plan p, checked to have the parameters popts forces. */
static cn_status recreate(cn_packed_t **out, const cn_plan_t *p, const cn_packed_opts_t *po,
                          cn_net_diag_t *diag)
{
    cn_packed_t *pk = NULL;
    cn_status st = cn_pk_create(&pk, p, po, &p->pforced, diag);
    if (st != CN_OK)
        return st;
    const cn_bfv_params_t *prm = cn_packed_params(pk);
    if (prm->n != po->n || prm->nq != po->nq || bits_of(prm->q[0]) != po->q_bits ||
        bits_of(prm->t[0]) != po->t_bits || pk->batch != po->batch) {
        cn_diag_set(diag, "plan: its packed layout's options give other parameters");
        cn_packed_free(pk);
        return CN_ERR_FORMAT;
    }
    *out = pk;
    return CN_OK;
}

cn_status cn_plan_choose_layout(cn_plan_t *p, const cn_compile_opts_t *o, cn_net_diag_t *diag)
{
    const size_t B = o->batch_size;
    if (B == 0)
        return CN_OK;
    cn_layout_report_t *r = &p->lrep;
    memset(r, 0, sizeof *r);
    r->batch_size = B;
    /* the server's part of the batched estimate (the packed one counts the server only) */
    r->batched_s = (double)((B + p->prm.n - 1) / p->prm.n) *
                   (p->cost_server > 0 ? p->cost_server : p->cost);
    cn_packed_opts_t po = {.batch = B, .margin_bits = o->margin_bits, .security = o->security};
    cn_packed_t *pk = NULL;
    cn_net_diag_t pd = {{0}};
    cn_status st = cn_packed_create(&pk, p, &po, &pd);
    if (st == CN_ERR_NO_MEMORY)
        return st;
    if (st != CN_OK && o->force_layout == 2) {
        cn_diag_set(diag, "the packed layout was asked for: %s", pd.msg);
        return st;
    }
    if (st != CN_OK) {
        r->packed_s = -1;
        r->chosen = CN_LAYOUT_BATCHED;
        set_why(r, p, pd.msg);
        return CN_OK;
    }
    r->packed_s = pk->cost;
    r->chosen = o->force_layout == 2         ? CN_LAYOUT_PACKED
                : o->force_layout == 1       ? CN_LAYOUT_BATCHED
                : r->packed_s < r->batched_s ? CN_LAYOUT_PACKED
                                             : CN_LAYOUT_BATCHED;
    r->forced = o->force_layout != 0;
    set_why(r, p, NULL);
    if (r->chosen == CN_LAYOUT_BATCHED) {
        cn_packed_free(pk);
        return CN_OK;
    }
    /* the options that recreate this layout wherever the plan is loaded */
    const cn_bfv_params_t *prm = cn_packed_params(pk);
    po.n = prm->n;
    po.nq = prm->nq;
    po.q_bits = bits_of(prm->q[0]);
    po.t_bits = bits_of(prm->t[0]);
    /* and the layout's choices, so that a later rule does not change an old plan's layout
     * (format 1.2): the first layer's blocks per row and every diagonal layer's baby steps */
    po.first_blocks = pk->ops[0].fb;
    memset(&p->pforced, 0, sizeof p->pforced);
    for (size_t i = 0; i < pk->nops; i++) {
        if (pk->ops[i].kind == CN_PK_DIAG)
            p->pforced.babies[p->pforced.nbabies++] = pk->ops[i].baby;
        if (pk->ops[i].kind == CN_PK_MODSWITCH && p->pforced.ndrops < CN_PK_MAX_SWITCH)
            p->pforced.drops[p->pforced.ndrops++] = pk->ops[i].drop;
    }
    p->pforced.late_first = pk->late_first;
    cn_packed_t *again = NULL;
    st = recreate(&again, p, &po, diag);
    if (st == CN_OK && (!same_params(cn_packed_params(again), prm) || !same_ops(again, pk))) {
        cn_diag_set(diag, "compiler: the packed layout's forced parameters differ");
        st = CN_ERR_UNSUPPORTED;
    }
    cn_packed_free(pk);
    if (st != CN_OK) {
        cn_packed_free(again);
        return st;
    }
    p->popts = po;
    p->packed = again;
    return CN_OK;
}

void cn_plan_layout_write(cn_io_writer_t *b, const cn_plan_t *p)
{
    const cn_packed_opts_t *o = &p->popts;
    cn_io_put_u64(b, CN_LAYOUT_PACKED);
    cn_io_put_u64(b, (uint64_t)p->lrep.forced);
    cn_io_put_u64(b, p->lrep.batch_size);
    cn_io_put_f64(b, p->lrep.batched_s);
    cn_io_put_f64(b, p->lrep.packed_s);
    cn_io_put_u64(b, o->batch);
    cn_io_put_u64(b, o->n);
    cn_io_put_u64(b, o->t_bits);
    cn_io_put_u64(b, o->q_bits);
    cn_io_put_u64(b, o->nq);
    cn_io_put_u64(b, o->margin_bits);
    cn_io_put_u64(b, (uint64_t)o->security);
    cn_io_put_u64(b, o->baby);
    /* 1.2: the first layer's blocks per row, the diagonal layers' baby steps, the modulus
     * switches' drops */
    const cn_pk_forced_t *f = &p->pforced;
    cn_io_put_u64(b, o->first_blocks);
    cn_io_put_u64(b, f->nbabies);
    cn_io_put_u64(b, f->ndrops);
    for (size_t i = 0; i < f->nbabies; i++)
        cn_io_put_u64(b, f->babies[i]);
    for (size_t i = 0; i < f->ndrops; i++)
        cn_io_put_u64(b, f->drops[i]);
    /* 1.3 (written only then): the first layer switches after its folds */
    if (f->late_first)
        cn_io_put_u64(b, 1);
}

cn_status cn_plan_layout_read(cn_plan_t *p, cn_io_reader_t *r, unsigned minor,
                              cn_net_diag_t *diag)
{
    const uint64_t kind = cn_io_get_u64(r), forced = cn_io_get_u64(r), bs = cn_io_get_u64(r);
    const double bsec = cn_io_get_f64(r), psec = cn_io_get_f64(r);
    uint64_t v[8];
    for (int i = 0; i < 8; i++)
        v[i] = cn_io_get_u64(r);
    if (r->status != CN_OK) {
        cn_diag_set(diag, "plan: truncated layout section");
        return CN_ERR_FORMAT;
    }
    const uint64_t sec = v[6];
    if (kind != CN_LAYOUT_PACKED || forced > 1 || bs == 0 || bs > ((uint64_t)1 << 20) ||
        v[0] != bs || !(bsec >= 0) || !isfinite(bsec) || !(psec >= 0) || !isfinite(psec) ||
        v[1] < CN_BFV_MIN_N || v[1] > CN_BFV_MAX_N || (v[1] & (v[1] - 1)) || v[2] < 14 ||
        v[2] > 60 || v[3] < 30 || v[3] > 60 || v[4] == 0 || v[4] > CN_BFV_MAX_Q || v[5] > 60 ||
        v[7] > CN_BFV_MAX_N ||
        (sec != CN_SEC_128 && sec != CN_SEC_192 && sec != CN_SEC_256 &&
         sec != CN_SEC_NONE_INSECURE)) {
        cn_diag_set(diag,
                    "plan: layout section out of range (layout %llu, batch size %llu, n "
                    "%llu, t bits %llu, q bits %llu, %llu primes)",
                    (unsigned long long)kind, (unsigned long long)bs, (unsigned long long)v[1],
                    (unsigned long long)v[2], (unsigned long long)v[3],
                    (unsigned long long)v[4]);
        return CN_ERR_FORMAT;
    }
    cn_packed_opts_t o = {.batch = (size_t)v[0],
                          .n = (size_t)v[1],
                          .t_bits = (unsigned)v[2],
                          .q_bits = (unsigned)v[3],
                          .nq = (size_t)v[4],
                          .margin_bits = (unsigned)v[5],
                          .security = (cn_security)sec,
                          .baby = (size_t)v[7]};
    cn_pk_forced_t *f = &p->pforced;
    memset(f, 0, sizeof *f);
    f->legacy = minor < 2;
    if (minor >= 2) { /* the recorded choices; 1.1 plans recompute them by the 1.1 rules */
        const uint64_t fb = cn_io_get_u64(r), nb = cn_io_get_u64(r), nd = cn_io_get_u64(r);
        if (r->status != CN_OK || fb == 0 || fb > CN_BFV_MAX_N || (fb & (fb - 1)) ||
            nb > CN_PLAN_MAX_OPS || nd > CN_PK_MAX_SWITCH) {
            cn_diag_set(diag,
                        "plan: layout section: first blocks %llu, %llu baby step counts, %llu "
                        "drops",
                        (unsigned long long)fb, (unsigned long long)nb, (unsigned long long)nd);
            return CN_ERR_FORMAT;
        }
        for (uint64_t i = 0; i < nb + nd; i++) {
            const uint64_t b = cn_io_get_u64(r);
            const int baby = i < nb;
            if (r->status != CN_OK ||
                (baby ? b == 0 || b > CN_BFV_MAX_N || (b & (b - 1)) : b > CN_BFV_MAX_Q)) {
                cn_diag_set(diag, "plan: layout section: %s %llu", baby ? "baby steps" : "drop",
                            (unsigned long long)b);
                return CN_ERR_FORMAT;
            }
            if (baby)
                f->babies[f->nbabies++] = (size_t)b;
            else
                f->drops[f->ndrops++] = (size_t)b;
        }
        o.first_blocks = (size_t)fb;
    }
    if (minor >= 3) { /* the first layer's switch after its folds (1.3 plans only) */
        const uint64_t late = cn_io_get_u64(r);
        if (r->status != CN_OK || late != 1) {
            cn_diag_set(diag, "plan: layout section: late first switch %llu",
                        (unsigned long long)late);
            return CN_ERR_FORMAT;
        }
        f->late_first = 1;
    }
    p->popts = o;
    p->lrep = (cn_layout_report_t){.chosen = CN_LAYOUT_PACKED,
                                   .forced = (int)forced,
                                   .batch_size = (size_t)bs,
                                   .batched_s = bsec,
                                   .packed_s = psec};
    set_why(&p->lrep, p, NULL);
    return CN_OK;
}

/* After the plan's ops are read and checked: the layout from its options. */
cn_status cn_plan_layout_load(cn_plan_t *p, int allow_insecure, cn_net_diag_t *diag)
{
    if (!p->lrep.batch_size)
        return CN_OK;
    if (p->popts.security == CN_SEC_NONE_INSECURE && !allow_insecure) {
        cn_diag_set(diag, "plan: its packed layout has no security level (tests only)");
        return CN_ERR_INSECURE;
    }
    cn_net_diag_t d = {{0}};
    const cn_status st = recreate(&p->packed, p, &p->popts, &d);
    if (st != CN_OK)
        cn_diag_set(diag, "plan: its packed layout cannot be recreated: %s",
                    d.msg[0] ? d.msg : cn_strerror(st));
    return st;
}

void cn_plan_layout_print(const cn_plan_t *p, FILE *f)
{
    if (!p->lrep.batch_size)
        return;
    fprintf(f, "  layout: %s\n", p->lrep.why);
    if (p->packed)
        cn_packed_print(p->packed, f);
}

cn_layout_kind cn_plan_layout(const cn_plan_t *plan)
{
    return plan->packed ? CN_LAYOUT_PACKED : CN_LAYOUT_BATCHED;
}

int cn_plan_layout_report(cn_layout_report_t *rep, const cn_plan_t *plan)
{
    if (!plan->lrep.batch_size)
        return 0;
    *rep = plan->lrep;
    return 1;
}

cn_status cn_plan_packed(const cn_packed_t **pk, const cn_plan_t *plan, cn_net_diag_t *diag)
{
    *pk = plan->packed;
    if (plan->packed)
        return CN_OK;
    cn_diag_set(diag, "this plan uses the batched layout (one input per slot): use the "
                      "batched client and server (compile with a batch size for the "
                      "packed layout)");
    return CN_ERR_UNSUPPORTED;
}

cn_status cn_plan_packed_opts(cn_packed_opts_t *o, const cn_plan_t *plan)
{
    if (!plan->packed)
        return CN_ERR_UNSUPPORTED;
    *o = plan->popts;
    return CN_OK;
}
