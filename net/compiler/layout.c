/* The packed layout's compiler stage (docs/net.md, "Packed layout"): from a plan's integer
 * network, the shapes of every layer in the slots, the rotations they need, the noise
 * estimate extended to rotations and products with plaintext vectors, and the parameter
 * search. The runtime (net/runtime/packed.c) follows these shapes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../packed.h"

static size_t pow2_ceil(size_t w)
{
    size_t m = 1;
    while (m < w)
        m <<= 1;
    return m;
}

static unsigned log2_exact(size_t m)
{
    unsigned k = 0;
    while (((size_t)1 << k) < m)
        k++;
    return k;
}

uint64_t cn_pk_elt_rows(const cn_packed_t *pk, size_t positions)
{
    const uint64_t n = pk->prm.n, m = 2 * n, half = n / 2;
    uint64_t k = (uint64_t)positions * pk->s % half, g = 1, b = 3;
    for (; k; k >>= 1, b = b * b % m)
        if (k & 1)
            g = g * b % m;
    return g;
}

size_t cn_pk_slot(const cn_packed_t *pk, size_t lane, size_t p, size_t r)
{
    const size_t half = pk->prm.n / 2;
    if (pk->rows_distinct) {
        r = lane / pk->s;
        lane %= pk->s;
    }
    return r * half + p * pk->s + lane;
}

static int cmp_u64(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void add_elt(cn_packed_t *pk, uint64_t g)
{
    if (g == 1)
        return;
    for (size_t i = 0; i < pk->nelts; i++)
        if (pk->elts[i] == g)
            return;
    if (pk->nelts < CN_PK_MAX_ELTS)
        pk->elts[pk->nelts++] = g;
}

cn_status cn_pk_shape(cn_packed_t *pk, size_t n, size_t baby, cn_net_diag_t *diag)
{
    const cn_plan_t *plan = pk->plan;
    const cn_op_t *net[CN_PLAN_MAX_OPS];
    size_t cnt = 0;
    for (size_t i = 0; i < plan->nops; i++)
        if (plan->ops[i].kind == CN_OP_LINEAR || plan->ops[i].kind == CN_OP_SQUARE)
            net[cnt++] = &plan->ops[i];
    if (cnt == 0 || net[0]->kind != CN_OP_LINEAR) {
        cn_diag_set(diag, "packed layout: the network must start with a linear layer");
        return CN_ERR_UNSUPPORTED;
    }
    size_t M = 1;
    for (size_t i = 0; i < cnt; i++)
        if (net[i]->kind == CN_OP_LINEAR && pow2_ceil(net[i]->lin.nout) > M)
            M = pow2_ceil(net[i]->lin.nout);
    const size_t half = n / 2;
    if (M > half) {
        cn_diag_set(diag,
                    "packed layout: a layer of %zu values (rounded up to a power of two) "
                    "does not fit the %zu slots of a row at n = %zu",
                    M, half, n);
        return CN_ERR_UNSUPPORTED;
    }
    const size_t cap = half / M, B = pk->batch;
    if (pow2_ceil(B) <= cap) {
        pk->s = pow2_ceil(B);
        pk->rows_distinct = 0;
        pk->per_set = pk->s;
        pk->nsets = 1;
    } else {
        pk->s = cap;
        pk->rows_distinct = 1;
        pk->per_set = 2 * cap;
        pk->nsets = (B + pk->per_set - 1) / pk->per_set;
    }
    pk->pos = half / pk->s;
    pk->nops = 0;
    pk->nelts = 0;
    size_t period = 0, ndiag = 0;
    for (size_t i = 0; i < cnt; i++) {
        cn_pk_op_t *o = &pk->ops[pk->nops++];
        memset(o, 0, sizeof *o);
        if (net[i]->kind == CN_OP_SQUARE) {
            /* a switch point before the square (its drop chosen with the parameters) */
            *o = (cn_pk_op_t){.kind = CN_PK_MODSWITCH};
            o = &pk->ops[pk->nops++];
            memset(o, 0, sizeof *o);
            o->kind = CN_PK_SQUARE;
            if (i + 1 < cnt) /* a rotation or another square follows: size 2 again */
                pk->ops[pk->nops++] = (cn_pk_op_t){.kind = CN_PK_RELIN};
            continue;
        }
        const cn_lin_t *lin = &net[i]->lin;
        o->lin = lin;
        o->m_out = pow2_ceil(lin->nout);
        if (i == 0) {
            o->kind = CN_PK_FIRST;
            for (size_t j = 0; j < lin->nout; j++)
                if (lin->row[j + 1] - lin->row[j] > o->K)
                    o->K = lin->row[j + 1] - lin->row[j];
            if (o->K == 0)
                o->K = 1;
            o->fb = pk->pos / o->m_out;
            if (pk->first_blocks && pk->first_blocks < o->fb)
                o->fb = pk->first_blocks;
            o->nb = o->fb * (pk->rows_distinct ? 1 : 2);
            o->nct = (o->K + o->nb - 1) / o->nb;
            for (size_t e = o->m_out; e < o->m_out * o->fb; e *= 2)
                add_elt(pk, cn_pk_elt_rows(pk, e));
            if (!pk->rows_distinct)
                add_elt(pk, 2 * (uint64_t)n - 1);
        } else {
            *o = (cn_pk_op_t){.kind = CN_PK_MODSWITCH}; /* a switch point */
            o = &pk->ops[pk->nops++];
            memset(o, 0, sizeof *o);
            o->lin = lin;
            o->m_out = pow2_ceil(lin->nout);
            o->kind = CN_PK_DIAG;
            o->m_in = period;
            o->D = o->m_in < o->m_out ? o->m_in : o->m_out;
            /* baby steps: the square root of D rounded down (128 diagonals: 8 x 16): on
             * MNIST 18 Galois keys instead of 25 (210 MB instead of 287) for 7% more
             * server time than rounding up (16 x 8; measured interleaved, docs/net.md) */
            if (pk->forced.nbabies) { /* recorded by a plan: taken as it is, or refused */
                if (ndiag >= pk->forced.nbabies || pk->forced.babies[ndiag] == 0 ||
                    (pk->forced.babies[ndiag] & (pk->forced.babies[ndiag] - 1)) ||
                    pk->forced.babies[ndiag] > o->D) {
                    cn_diag_set(diag, "packed layout: the recorded baby steps do not fit "
                                      "the diagonal layers");
                    return CN_ERR_FORMAT;
                }
                o->baby = pk->forced.babies[ndiag];
            } else {
                o->baby = baby ? baby : (size_t)1 << (log2_exact(o->D) / 2);
                if (o->baby > o->D)
                    o->baby = o->D;
            }
            ndiag++;
            o->giant = o->D / o->baby;
            for (size_t b = 1; b < o->baby; b++)
                add_elt(pk, cn_pk_elt_rows(pk, b));
            if (o->giant > 1)
                add_elt(pk, cn_pk_elt_rows(pk, o->baby));
            for (size_t e = o->m_out; e < o->m_in; e *= 2)
                add_elt(pk, cn_pk_elt_rows(pk, e));
        }
        period = o->m_out;
    }
    if (pk->forced.nbabies && ndiag != pk->forced.nbabies) {
        cn_diag_set(diag,
                    "packed layout: %zu recorded baby step counts for %zu diagonal layers",
                    pk->forced.nbabies, ndiag);
        return CN_ERR_FORMAT;
    }
    if (pk->nelts >= CN_PK_MAX_ELTS) {
        cn_diag_set(diag, "packed layout: more than %d rotations", CN_PK_MAX_ELTS - 1);
        return CN_ERR_UNSUPPORTED;
    }
    qsort(pk->elts, pk->nelts, sizeof *pk->elts, cmp_u64);
    return CN_OK;
}

/* levels[] of the element g: at least l */
static void use_at(size_t *levels, const cn_packed_t *pk, uint64_t g, size_t l)
{
    for (size_t i = 0; i < pk->nelts; i++)
        if (pk->elts[i] == g && levels[i] < l)
            levels[i] = l;
}

size_t cn_pk_key_levels(const cn_packed_t *pk, size_t *levels)
{
    const size_t n = pk->prm.n;
    size_t relin = 0;
    for (size_t i = 0; i < pk->nelts; i++)
        levels[i] = 0;
    for (size_t i = 0; i < pk->nops; i++) {
        const cn_pk_op_t *o = &pk->ops[i];
        const size_t in = i ? pk->ops[i - 1].level : pk->prm.nq; /* o->level: after */
        if (o->kind == CN_PK_RELIN && in > relin)
            relin = in;
        if (o->kind == CN_PK_FIRST) { /* folds after the early drop (eval_set) */
            for (size_t e = o->m_out; e < o->m_out * o->fb; e *= 2)
                use_at(levels, pk, cn_pk_elt_rows(pk, e), o->level);
            if (!pk->rows_distinct)
                use_at(levels, pk, 2 * (uint64_t)n - 1, o->level);
        }
        if (o->kind == CN_PK_DIAG) { /* baby steps at the input's level, then the drop */
            for (size_t b = 1; b < o->baby; b++)
                use_at(levels, pk, cn_pk_elt_rows(pk, b), in);
            if (o->giant > 1)
                use_at(levels, pk, cn_pk_elt_rows(pk, o->baby), o->level);
            for (size_t e = o->m_out; e < o->m_in; e *= 2)
                use_at(levels, pk, cn_pk_elt_rows(pk, e), o->level);
        }
    }
    return relin;
}

size_t cn_pk_early_drop(const cn_packed_t *pk, size_t i)
{
    const cn_pk_op_t *o = &pk->ops[i];
    if ((o->kind != CN_PK_FIRST && o->kind != CN_PK_DIAG) || i + 1 >= pk->nops ||
        (o->kind == CN_PK_FIRST && pk->late_first) || pk->ops[i + 1].kind != CN_PK_MODSWITCH)
        return 0;
    return pk->ops[i + 1].drop;
}

/* --- noise (log2 of the invariant noise, as net/compiler/noise.c) ------------------ */

static double lg_add(double a, double b)
{
    const double m = a > b ? a : b;
    return m + log2(exp2(a - m) + exp2(b - m));
}

/* The primes per digit of the key of element g (pk->edp, else pk->dp; at least 1). */
static size_t elt_dp(const cn_packed_t *pk, uint64_t g)
{
    for (size_t i = 0; i < pk->nelts; i++)
        if (pk->elts[i] == g && pk->edp[i])
            return pk->edp[i];
    return pk->dp ? pk->dp : 1;
}

/* The relinearization key's primes per digit. */
static size_t relin_dp(const cn_packed_t *pk)
{
    return pk->rdp ? pk->rdp : pk->dp ? pk->dp : 1;
}

/* One key switch (rotation or relinearization) at level l with a key of k primes per
 * digit, log2 of its invariant noise, worst case: t (nd n eta D / P + n / 2) / Q_l with
 * nd = ceil(l / k) digits, each below D = k q_max^min(k, l) after the base extension
 * (lib/bfv/digits.c); k = 1: the batched estimate's relinearization, l n eta q_max / P. */
static double pk_ks(const cn_bfv_params_t *prm, const double *lqp, double lqmax, size_t l,
                    size_t k)
{
    double lt = 0;
    for (size_t x = 0; x < prm->nt; x++)
        if (log2((double)prm->t[x]) > lt)
            lt = log2((double)prm->t[x]);
    const double ln = log2((double)prm->n), lp = prm->p ? log2((double)prm->p) : 0;
    const double nd = (double)((l + k - 1) / k),
                 ld = log2((double)k) + (double)(l < k ? l : k) * lqmax;
    return lt + log2(nd * exp2(ln) * CN_CBD_ETA * exp2(ld - lp) + exp2(ln - 1)) - lqp[l];
}

double cn_pk_noise(cn_packed_t *pk)
{
    const cn_bfv_params_t *prm = &pk->prm;
    double lt = 0, lqp[CN_BFV_MAX_Q + 1] = {0}, lqmax = 0;
    for (size_t x = 0; x < prm->nt; x++)
        if (log2((double)prm->t[x]) > lt)
            lt = log2((double)prm->t[x]);
    for (size_t i = 0; i < prm->nq; i++) {
        const double lq = log2((double)prm->q[i]);
        lqp[i + 1] = lqp[i] + lq;
        if (lq > lqmax)
            lqmax = lq;
    }
    const double ln = log2((double)prm->n);
    const uint64_t swap = 2 * (uint64_t)prm->n - 1;
    size_t level = prm->nq, size = 2;
    int early = 0; /* the last op switched already: its MODSWITCH is done */
    /* fresh secret-key encryption, as the batched estimate */
    double v = log2(exp2(lt) * CN_CBD_ETA + exp2(2 * lt)) - lqp[level];
    for (size_t i = 0; i < pk->nops; i++) {
        cn_pk_op_t *o = &pk->ops[i];
        double lq = lqp[level];
#define PK_KS(lev, g) pk_ks(prm, lqp, lqmax, (lev), elt_dp(pk, (g)))
        /* product with a plaintext vector: its polynomial has centered coefficients of at
         * most t/2, and ||d v|| <= 2 sqrt(n) ||d|| ||v||: the expansion factor of a product
         * of the square's estimate (canonical-embedding heuristic, Costache and Smart,
         * CT-RSA 2016) instead of the worst case n; tests/net/test_packed.c checks it
         * against measured budgets on random networks */
        const double pmul = 1 + ln / 2 + lt - 1;
        /* a linear layer followed by a modulus switch switches right after its products,
         * so that its folds and giant steps run on fewer primes: the rounding to Q' of a
         * size-2 ciphertext, t (1 + n) / (2 Q'), as the modulus switch below */
        const size_t drop = cn_pk_early_drop(pk, i);
#define PK_SWITCH_EARLY()                                                                      \
    do {                                                                                       \
        if (drop) {                                                                            \
            level -= drop;                                                                     \
            v = lg_add(v, lt + log2(1 + exp2(ln)) - 1 - lqp[level]);                           \
            lq = lqp[level];                                                                   \
        }                                                                                      \
    } while (0)
        const int was_early = early;
        early = drop != 0;
        switch (o->kind) {
        case CN_PK_FIRST: {
            v += pmul + log2((double)o->nct);
            PK_SWITCH_EARLY();
            /* x + rot(x): 2 ||x|| + ks, each fold with its element's key */
            for (size_t e = o->m_out; e < o->m_out * o->fb; e *= 2)
                v = lg_add(v + 1, PK_KS(level, cn_pk_elt_rows(pk, e)));
            if (!pk->rows_distinct)
                v = lg_add(v + 1, PK_KS(level, swap));
            v = lg_add(v, 2 * lt - lq); /* bias, as the batched estimate */
            break;
        }
        case CN_PK_DIAG: {
            double kb = -INFINITY; /* the baby rotations' worst key */
            for (size_t b = 1; b < o->baby; b++) {
                const double k = PK_KS(level, cn_pk_elt_rows(pk, b));
                kb = k > kb ? k : kb;
            }
            const double vb = o->baby > 1 ? lg_add(v, kb) : v;
            v = vb + pmul + log2((double)o->baby); /* each giant step's sum */
            PK_SWITCH_EARLY();
            /* Horner over the giant steps: G ||P|| + (G - 1) ks */
            if (o->giant > 1)
                v = lg_add(v + log2((double)o->giant),
                           PK_KS(level, cn_pk_elt_rows(pk, o->baby)) +
                               log2((double)(o->giant - 1)));
            for (size_t e = o->m_out; e < o->m_in; e *= 2)
                v = lg_add(v + 1, PK_KS(level, cn_pk_elt_rows(pk, e)));
            v = lg_add(v, 2 * lt - lq);
            break;
        }
        case CN_PK_SQUARE: /* as the batched estimate (net/compiler/noise.c) */
            v = lg_add(v + 2 + lt + ln, lt + 2 * ln - lq);
            size = 3;
            break;
        case CN_PK_RELIN:
            v = lg_add(v, pk_ks(prm, lqp, lqmax, level, relin_dp(pk)));
            size = 2;
            break;
        case CN_PK_MODSWITCH: {
            if (o->drop == 0 || was_early) /* unused, or done by the layer before */
                break;
            level -= o->drop;
            const double e = size == 3 ? log2(1 + exp2(ln) + exp2(2 * ln)) : log2(1 + exp2(ln));
            v = lg_add(v, lt + e - 1 - lqp[level]);
            break;
        }
        }
#undef PK_SWITCH_EARLY
#undef PK_KS
        o->level = level;
        o->size = size;
        o->noise_bits = v;
    }
    return v;
}

/* --- parameters --------------------------------------------------------------------- */

void cn_packed_free(cn_packed_t *pk)
{
    free(pk);
}

/* The cost model, in transforms of length n (n log2 n operations) per plaintext modulus
 * and ciphertext set, at each op's level l: a key switch lifts and transforms its
 * nd = ceil(l / k) digits (k = pk->dp primes each) to l + 1 primes and transforms two
 * results back (nd (l + 1) + 2 (l + 1)); a product of rows (with a plaintext vector or a
 * key) costs about 4 / log2 n transforms per polynomial and prime (one multiply-add per
 * coefficient against the transform's (log2 n) / 2), so a doubly hoisted baby step costs
 * its key products 2 nd (l + 1) and each giant step its products over Q and P and one
 * inverse transform and division; a square about 6 l + 3 (the full-RNS tensor product).
 * Folds and giant steps run after the layer's modulus switch. */
static double pk_cost(const cn_packed_t *pk)
{
    /* pk->dp only: keys of more primes per digit (pk->edp, pk->rdp) only remove work */
    const double ln = log2((double)pk->prm.n), pm = 4 / ln;
    const size_t dp = pk->dp ? pk->dp : 1;
    double c = 0;
    size_t l = pk->prm.nq;
    int early = 0;
    for (size_t i = 0; i < pk->nops; i++) {
        const cn_pk_op_t *o = &pk->ops[i];
        const double L = (double)l;
        const size_t drop = cn_pk_early_drop(pk, i);
        const double L2 = (double)(l - drop); /* folds and giant steps after the switch */
        const double D = (double)((l + dp - 1) / dp), D2 = (double)((l - drop + dp - 1) / dp);
        const double ks = D * (L + 1) + 2 * (L + 1), ks2 = D2 * (L2 + 1) + 2 * (L2 + 1);
        const int was_early = early;
        early = drop != 0;
        switch (o->kind) {
        case CN_PK_FIRST:
            c += (double)o->nct * 2 * L * (1 + pm) + 2 * L +
                 ks2 * (double)(log2_exact(o->fb) + (pk->rows_distinct ? 0 : 1));
            l -= drop;
            break;
        case CN_PK_DIAG:
            c += D * (L + 1) + (double)(o->baby - 1) * 2 * D * (L + 1) * pm +
                 (double)o->giant * (2 * (L + 1) + (double)o->baby * 2 * (L + 1) * pm) +
                 ks2 * (double)(o->giant - 1 + log2_exact(o->m_in / o->m_out));
            l -= drop;
            break;
        case CN_PK_SQUARE:
            c += 6 * L + 3;
            break;
        case CN_PK_RELIN:
            c += ks;
            break;
        case CN_PK_MODSWITCH:
            if (!was_early)
                l -= o->drop;
            break;
        }
    }
    return c;
}

static double pk_key_digits(cn_packed_t *pk, double margin);

/* The search's best so far: drops, cost, and whether its keys exceed pk->key_bound. */
typedef struct {
    size_t drops[CN_PK_MAX_OPS];
    double cost;
    int over; /* 0, 1, or 2: none found yet */
} pk_best_t;

/* Whether the keys of pk's drops (with its per-key digits, pk_key_digits, when
 * pk->per_key) exceed pk->key_bound; pk's digits are left as they were (none chosen). */
static int pk_keys_over(cn_packed_t *pk, double margin)
{
    if (pk->key_bound <= 0)
        return 0;
    if (pk->per_key)
        pk_key_digits(pk, margin);
    const int over = cn_pk_key_bytes(pk) > pk->key_bound;
    memset(pk->edp, 0, sizeof pk->edp);
    pk->rdp = 0;
    return over;
}

/* The drops at the switch points from `from` on (those before fixed) that minimize
 * pk_cost with the final budget at the margin or above, among those whose keys fit
 * pk->key_bound when any does (pk_keys_over); depth-first, pruned where the budget with
 * no further drops is already below the margin (a drop never adds budget). */
static void pk_drops_search(cn_packed_t *pk, size_t from, double margin, pk_best_t *best)
{
    size_t i = from;
    while (i < pk->nops && pk->ops[i].kind != CN_PK_MODSWITCH)
        i++;
    if (i >= pk->nops) {
        const double c = pk_cost(pk);
        if (!best->over && c >= best->cost - 1e-9)
            return; /* a fitting one as cheap is known: no need to price the keys */
        const int over = pk_keys_over(pk, margin);
        if (over < best->over || (over == best->over && c < best->cost - 1e-9)) {
            best->cost = c;
            best->over = over;
            for (size_t k = 0; k < pk->nops; k++)
                best->drops[k] = pk->ops[k].drop;
        }
        return;
    }
    cn_pk_op_t *o = &pk->ops[i];
    o->drop = 0; /* the level before the switch (a linear layer's early drop is this one) */
    double b = -cn_pk_noise(pk) - 1;
    const size_t level = i ? pk->ops[i - 1].level : pk->prm.nq;
    for (size_t d = 0; d < level && b >= margin;) {
        pk_drops_search(pk, i + 1, margin, best);
        if (++d < level) {
            o->drop = d;
            b = -cn_pk_noise(pk) - 1;
        }
    }
    o->drop = 0;
}

/* pk_schedule's drops replaced by the cheapest ones in the cost model that keep the
 * margin and fit the key bound if any do (pk_drops_search), when better; sets
 * pk->keys_over; returns the final budget */
static double pk_schedule_cost(cn_packed_t *pk, double margin)
{
    pk_best_t best;
    for (size_t k = 0; k < pk->nops; k++)
        best.drops[k] = pk->ops[k].drop;
    best.cost = pk_cost(pk);
    best.over = pk_keys_over(pk, margin);
    for (size_t k = 0; k < pk->nops; k++)
        if (pk->ops[k].kind == CN_PK_MODSWITCH)
            pk->ops[k].drop = 0;
    pk_drops_search(pk, 0, margin, &best);
    /* and with the first layer's switch after its folds: its fold and swap keys at the
     * level above, where they take more primes per digit (MNIST at one image: 41.3 ->
     * 39.4 MB; the key switches with them do no more work) */
    const int folds = pk->nops > 1 && pk->ops[0].kind == CN_PK_FIRST &&
                      pk->ops[1].kind == CN_PK_MODSWITCH &&
                      (pk->ops[0].fb > 1 || !pk->rows_distinct);
    if (folds && pk->key_bound > 0) {
        pk->late_first = 1;
        const pk_best_t early = best;
        best.over = 2; /* the late ones compete on their own */
        pk_drops_search(pk, 0, margin, &best);
        if (best.over > early.over ||
            (best.over == early.over && best.cost >= early.cost - 1e-9)) {
            best = early;
            pk->late_first = 0;
        }
    }
    for (size_t k = 0; k < pk->nops; k++)
        pk->ops[k].drop = best.drops[k];
    pk->keys_over = best.over;
    return -cn_pk_noise(pk) - 1;
}

/* The drops at the switch points, in order (as the batched schedule, net/compiler/
 * schedule.c): the most primes whose drop raises the noise estimate by at most half a bit
 * and keeps the final budget at the margin or above. Returns the final budget. */
static double pk_schedule(cn_packed_t *pk, double margin)
{
    pk->late_first = pk->forced.late_first; /* recorded, else chosen below (0 first) */
    if (pk->forced.ndrops) { /* recorded: the switch points', then maybe the end's */
        size_t k = 0;
        for (size_t i = 0; i < pk->nops; i++)
            if (pk->ops[i].kind == CN_PK_MODSWITCH)
                pk->ops[i].drop = k < pk->forced.ndrops ? pk->forced.drops[k++] : 0;
        size_t sum = 0; /* all of them leave level 1 at least (checked before the noise
                         * estimate walks the levels) */
        for (size_t j = 0; j < pk->forced.ndrops; j++)
            sum += pk->forced.drops[j] < pk->prm.nq ? pk->forced.drops[j] : pk->prm.nq;
        if ((k != pk->forced.ndrops && k + 1 != pk->forced.ndrops) || sum >= pk->prm.nq)
            return -INFINITY;
        return -cn_pk_noise(pk) - 1;
    }
    for (size_t i = 0; i < pk->nops; i++)
        if (pk->ops[i].kind == CN_PK_MODSWITCH)
            pk->ops[i].drop = 0;
    double budget = -cn_pk_noise(pk) - 1;
    if (budget < margin)
        return budget;
    for (size_t i = 0; i < pk->nops; i++) {
        cn_pk_op_t *o = &pk->ops[i];
        if (o->kind != CN_PK_MODSWITCH)
            continue;
        const size_t level = i ? pk->ops[i - 1].level : pk->prm.nq;
        const double before = i ? pk->ops[i - 1].noise_bits : -INFINITY;
        size_t best = 0;
        for (size_t d = level - 1; d >= 1 && !best; d--) {
            o->drop = d;
            const double b = -cn_pk_noise(pk) - 1;
            if (b >= margin && o->noise_bits <= before + 0.5)
                best = d;
        }
        o->drop = best;
    }
    if (!pk->forced.legacy)
        return pk_schedule_cost(pk, margin);
    return -cn_pk_noise(pk) - 1;
}

/* threads take (modulus, set) pairs: per pair, in seconds of the transforms' n log2 n
 * at 0.45 ns each (CPU seconds: 1 ns overestimated the measured server CPU time of one
 * MNIST image, 0.42 s, by 2.2 times; docs/net.md "The crossover", issue 17's
 * recalibration of the batched model, net/compiler/cost.c) */
static double pk_seconds(const cn_packed_t *pk, int ifma)
{
    const double n = (double)pk->prm.n;
    return (double)pk->prm.nt * (double)pk->nsets * n * log2(n) * 0.45e-9 * pk_cost(pk) *
           (ifma && pk->prm.q[0] < ((uint64_t)1 << 50) ? 1.0 : 2.2);
}

/* About the bytes of a request: per plaintext modulus a batch object of the first
 * layer's ciphertexts, seeded (docs/format.md, "Sizes") */
static double pk_request_bytes(const cn_packed_t *pk)
{
    double rl = 0;
    for (size_t j = 0; j < pk->prm.nq; j++) {
        unsigned b = 0;
        while (b < 64 && ((pk->prm.q[j] - 1) >> b))
            b++;
        rl += (double)((pk->prm.n * b + 7) / 8);
    }
    return (double)pk->prm.nt * (40 + (double)(pk->nsets * pk->ops[0].nct) * (48 + rl));
}

/* The upload target per request (16 MB): the first layer's blocks per row are
 * halved while the request stays within it */
#define PK_REQUEST_MAX 16e6

/* bytes of one seeded key switching key record at level d (docs/format.md: level, primes
 * per digit from 1.3 on, seed, then ceil(d / k) digits of rows q_1..q_d and P, packed) */
static double pk_row_bytes(size_t n, uint64_t q)
{
    unsigned b = 0; /* bits of q - 1, as lib/io packs residues */
    while (b < 64 && ((q - 1) >> b))
        b++;
    return (double)((n * b + 7) / 8);
}

static double pk_ksk_bytes(const cn_bfv_params_t *prm, size_t d, size_t dp)
{
    double rows = pk_row_bytes(prm->n, prm->p);
    for (size_t j = 0; j < d; j++)
        rows += pk_row_bytes(prm->n, prm->q[j]);
    return 4 + (dp > 1 ? 4 : 0) + CN_SEED_BYTES + (double)((d + dp - 1) / dp) * rows;
}

size_t cn_pk_key_digits(const cn_packed_t *pk, size_t *dps)
{
    for (size_t i = 0; i < pk->nelts; i++)
        dps[i] = elt_dp(pk, pk->elts[i]);
    return relin_dp(pk);
}

double cn_pk_key_bytes(const cn_packed_t *pk)
{
    size_t levels[CN_PK_MAX_ELTS];
    const size_t relin = cn_pk_key_levels(pk, levels);
    double b = relin ? 40 + pk_ksk_bytes(&pk->prm, relin, relin_dp(pk)) : 0;
    int grouped = 0; /* the Galois object's records carry k when one key has k > 1 */
    for (size_t i = 0; i < pk->nelts; i++)
        grouped |= elt_dp(pk, pk->elts[i]) > 1;
    if (pk->nelts)
        b += 40;
    for (size_t i = 0; i < pk->nelts; i++)
        b += 8 +
             pk_ksk_bytes(&pk->prm, levels[i] ? levels[i] : pk->prm.nq,
                          grouped ? elt_dp(pk, pk->elts[i]) : 1) +
             (grouped && elt_dp(pk, pk->elts[i]) == 1 ? 4 : 0);
    return b;
}

/* Keys of several primes per digit where the noise allows (the schedule fixed): every
 * key, the largest first (highest level), takes the most primes per digit that keep the
 * final noise estimate within half a bit of the one-prime keys' (all keys together) and
 * the budget at the margin. Returns the budget. Keys at the top level gain most: their
 * key switches add noise against the largest Q (MNIST at n = 16384: 47 -> 38 MB). */
/* The largest drop at the end (after the last op) that keeps the margin with pk's keys
 * as they are, or 0; pk is left as it was. */
static size_t pk_end_drop_fit(cn_packed_t *pk, double margin)
{
    const size_t last = pk->ops[pk->nops - 1].level;
    size_t fit = 0;
    for (size_t d = last - 1; d >= 1 && !fit; d--) {
        pk->ops[pk->nops++] = (cn_pk_op_t){.kind = CN_PK_MODSWITCH, .drop = d};
        if (-cn_pk_noise(pk) - 1 >= margin)
            fit = d;
        pk->nops--;
    }
    cn_pk_noise(pk); /* the ops' levels and noise as they were */
    return fit;
}

static double pk_key_digits(cn_packed_t *pk, double margin)
{
    size_t levels[CN_PK_MAX_ELTS];
    memset(pk->edp, 0, sizeof pk->edp);
    pk->rdp = 0;
    const double base = -cn_pk_noise(pk) - 1;
    /* the end's drop (cn_pk_create adds it last: the reply's size, 1.18 -> 0.79 MB for
     * MNIST at one image) must still fit with the digits chosen here */
    const size_t end = pk_end_drop_fit(pk, margin);
    const size_t relin = cn_pk_key_levels(pk, levels);
    for (size_t lev = pk->prm.nq; lev >= 2; lev--) {
        for (size_t i = 0; i <= pk->nelts; i++) {
            const size_t li = i < pk->nelts ? (levels[i] ? levels[i] : pk->prm.nq) : relin;
            if (li != lev)
                continue;
            size_t *slot = i < pk->nelts ? &pk->edp[i] : &pk->rdp;
            for (size_t k = lev; k >= 2; k--) {
                *slot = k;
                const double b = -cn_pk_noise(pk) - 1;
                if (b >= base - 0.5 && b >= margin &&
                    (!end || pk_end_drop_fit(pk, margin) >= end))
                    break;
                *slot = 0;
            }
        }
    }
    return -cn_pk_noise(pk) - 1;
}

/* pk (chosen with every block of a row in the first layer) with the fewest blocks per
 * row whose request stays within PK_REQUEST_MAX bytes and whose budget keeps the margin:
 * each halving removes one fold, so one Galois key at the top level (for MNIST, one
 * image: 58 -> 47 MB of keys, 2.75 -> 8.3 MB of upload; docs/net.md, "Keys"). */
static void pk_fewer_blocks(cn_packed_t *pk, size_t baby, double margin, int ifma, int per_key)
{
    cn_packed_t *c = malloc(sizeof *c);
    if (!c)
        return; /* the layout with every block is valid */
    for (size_t fb = pk->ops[0].fb / 2; fb >= 1; fb /= 2) {
        *c = *pk;
        c->first_blocks = fb;
        memset(c->edp, 0, sizeof c->edp); /* the elements change with the shape */
        c->rdp = 0;
        if (cn_pk_shape(c, c->prm.n, baby, NULL) != CN_OK ||
            pk_request_bytes(c) > PK_REQUEST_MAX)
            break;
        double budget = pk_schedule(c, margin);
        if (budget < margin)
            break;
        if (per_key)
            budget = pk_key_digits(c, margin);
        c->budget = budget;
        c->cost = pk_seconds(c, ifma);
        *pk = *c;
    }
    free(c);
}

/* Parameters the search found, and their cost with every block in the first layer and
 * the cheapest drops; the PK_KEPT cheapest are rebuilt with the key bound. */
typedef struct {
    size_t n, nt;
    unsigned tb, qb;
    size_t nq;
    double cost;
} pk_param_t;

#define PK_KEPT 8

/* kept[0 .. *nkept) ascending by cost, at most PK_KEPT */
static void pk_keep(pk_param_t *kept, size_t *nkept, pk_param_t x)
{
    size_t i = *nkept < PK_KEPT ? (*nkept)++ : PK_KEPT;
    if (i == PK_KEPT) {
        if (x.cost >= kept[PK_KEPT - 1].cost)
            return;
        i = PK_KEPT - 1;
    }
    for (; i > 0 && kept[i - 1].cost > x.cost; i--)
        kept[i] = kept[i - 1];
    kept[i] = x;
}

/* c: the layout of proto's plan and options for parameters x, with the cheapest drops
 * whose keys fit bound (0: none) when any do, the per-key digits, and (o->first_blocks
 * 0) the fewest blocks in the first layer; 0 when they miss the margin */
static int pk_build(cn_packed_t *c, const cn_packed_t *proto, const pk_param_t *x,
                    const cn_packed_opts_t *o, double margin, int ifma, double bound)
{
    memset(c, 0, sizeof *c);
    c->plan = proto->plan;
    c->batch = proto->batch;
    c->first_blocks = proto->first_blocks;
    c->forced = proto->forced;
    c->per_key = proto->per_key;
    c->key_bound = bound;
    c->prm.n = x->n;
    if (cn_pk_shape(c, x->n, o->baby, NULL) != CN_OK ||
        cn_bfv_params_default(&c->prm, x->n, x->nq, x->qb, x->qb + 1, x->nt, x->tb,
                              o->security) != CN_OK)
        return 0;
    c->dp = !o->digit_primes ? 1 : o->digit_primes < x->nq ? o->digit_primes : x->nq;
    double budget = pk_schedule(c, margin);
    if (budget < margin)
        return 0;
    if (!o->digit_primes)
        budget = pk_key_digits(c, margin);
    c->budget = budget;
    c->cost = pk_seconds(c, ifma);
    if (!o->first_blocks)
        pk_fewer_blocks(c, o->baby, margin, ifma, !o->digit_primes);
    return 1;
}

cn_status cn_packed_create(cn_packed_t **out, const cn_plan_t *plan, const cn_packed_opts_t *o,
                           cn_net_diag_t *diag)
{
    return cn_pk_create(out, plan, o, NULL, diag);
}

cn_status cn_pk_create(cn_packed_t **out, const cn_plan_t *plan, const cn_packed_opts_t *o,
                       const cn_pk_forced_t *f, cn_net_diag_t *diag)
{
    *out = NULL;
    if (diag)
        diag->msg[0] = 0;
    if (!o || o->batch == 0 || o->batch > ((size_t)1 << 20)) {
        cn_diag_set(diag, "packed layout: the batch must be 1 .. 2^20 inputs");
        return CN_ERR_INVALID_ARG;
    }
    if (o->first_blocks & (o->first_blocks - 1)) {
        cn_diag_set(diag, "packed layout: first blocks %zu is not a power of two",
                    o->first_blocks);
        return CN_ERR_INVALID_ARG;
    }
    if (o->baby & (o->baby - 1)) {
        cn_diag_set(diag, "packed layout: baby steps %zu is not a power of two", o->baby);
        return CN_ERR_INVALID_ARG;
    }
    if (f && (f->nbabies > CN_PLAN_MAX_OPS || f->ndrops > CN_PK_MAX_SWITCH)) {
        cn_diag_set(diag, "packed layout: %zu baby step counts, %zu drops", f->nbabies,
                    f->ndrops);
        return CN_ERR_INVALID_ARG;
    }
    cn_packed_t *pk = calloc(1, sizeof *pk), *cand = calloc(1, sizeof *cand);
    if (!pk || !cand) {
        free(pk);
        free(cand);
        return CN_ERR_NO_MEMORY;
    }
    const double margin = o->margin_bits ? o->margin_bits : 10;
    static const size_t ns[] = {4096, 8192, 16384, 32768};
    const size_t *nlist = o->n ? &o->n : ns;
    const size_t nn = o->n ? 1 : sizeof ns / sizeof ns[0];
    double best = INFINITY, best_budget = -INFINITY;
    /* the key bound (0: the default; CN_PACKED_KEYS_UNBOUNDED: none) */
    const size_t kb = o->max_key_bytes ? o->max_key_bytes : CN_PACKED_KEY_BYTES_DEFAULT;
    pk_param_t kept[PK_KEPT];
    size_t nkept = 0;
    cn_status st = CN_OK, shape_st = CN_OK;
    size_t secure = 0;
    /* the AVX-512 IFMA kernels (primes below 2^50) key-switch about 2.2 times faster
     * (docs/net.md, "Parameters and cost": relinearization 0.05 against 0.11 ms l (l+1)) */
    const int ifma = (cn_cpu_features() & CN_CPU_AVX512IFMA) != 0;
    for (size_t ni = 0; ni < nn; ni++) {
        const size_t n = nlist[ni];
        if (o->security != CN_SEC_NONE_INSECURE && cn_security_max_log_q(n, o->security) == 0)
            continue;
        memset(cand, 0, sizeof *cand);
        cand->plan = plan;
        cand->batch = o->batch;
        cand->prm.n = n;
        cand->first_blocks = o->first_blocks;
        if (f)
            cand->forced = *f;
        cand->per_key = !o->digit_primes; /* key_bound 0: the cheapest drops */
        if ((shape_st = cn_pk_shape(cand, n, o->baby, diag)) != CN_OK)
            continue;
        for (unsigned tb = 14; tb <= 60; tb++) {
            if (o->t_bits ? o->t_bits != tb : tb % 2 != 0)
                continue;
            uint64_t tp[CN_BFV_MAX_T];
            size_t nt = 0;
            for (size_t k = 1; k <= CN_BFV_MAX_T && !nt; k++) {
                if (cn_primes_ntt(tp, k, tb, n, NULL, 0, 0) != CN_OK)
                    break;
                if (cn_plan_moduli_fit(tp, k, plan->out_bound_bits))
                    nt = k;
            }
            if (!nt)
                continue;
            for (unsigned qb = 30; qb <= 60; qb++) {
                if (o->q_bits ? o->q_bits != qb : (qb % 2 && qb != 43 && qb != 49))
                    continue;
                size_t nq_max = o->nq;
                if (!nq_max) {
                    nq_max = o->security == CN_SEC_NONE_INSECURE
                                 ? 16
                                 : cn_bfv_params_max_primes(n, qb, qb + 1, o->security);
                    if (nq_max > CN_BFV_MAX_Q)
                        nq_max = CN_BFV_MAX_Q;
                }
                for (size_t nq = o->nq ? o->nq : 1; nq <= nq_max; nq++) {
                    if (cn_bfv_params_default(&cand->prm, n, nq, qb, qb + 1, nt, tb,
                                              o->security) != CN_OK)
                        continue;
                    secure++;
                    /* one prime per key-switching digit for the schedule, then keys of
                     * several where the noise allows (or the option's for all) */
                    cand->dp = !o->digit_primes       ? 1
                               : o->digit_primes < nq ? o->digit_primes
                                                      : nq;
                    memset(cand->edp, 0, sizeof cand->edp);
                    cand->rdp = 0;
                    double budget = pk_schedule(cand, margin);
                    if (budget > best_budget)
                        best_budget = budget;
                    if (budget < margin)
                        continue;
                    if (!o->digit_primes)
                        budget = pk_key_digits(cand, margin);
                    const double cost = pk_seconds(cand, ifma);
                    if (cost < best) {
                        *pk = *cand;
                        pk->budget = budget;
                        pk->cost = cost;
                        best = cost;
                    }
                    pk_keep(kept, &nkept, (pk_param_t){n, nt, tb, qb, nq, cost});
                    break; /* more primes only cost more */
                }
            }
        }
    }
    if (best < INFINITY) {
        /* the cheapest parameters, each with the cheapest drops whose keys fit the bound
         * and its fewest blocks: the cheapest whose keys fit, else the cheapest */
        cn_packed_t *c = calloc(1, sizeof *c);
        if (!c) {
            free(cand);
            free(pk);
            return CN_ERR_NO_MEMORY;
        }
        const double bound = kb == CN_PACKED_KEYS_UNBOUNDED ? 0 : (double)kb;
        double fastest = INFINITY;
        int best_over = 2;
        best = INFINITY;
        for (size_t k = 0; k < nkept; k++) {
            if (!pk_build(c, cand, &kept[k], o, margin, ifma, bound))
                continue;
            const int over = bound > 0 && cn_pk_key_bytes(c) > bound;
            if (over < best_over || (over == best_over && c->cost < best)) {
                *pk = *c;
                best = c->cost;
                best_over = over;
            }
        }
        /* the cheapest without the bound, for the printout */
        for (size_t k = 0; bound > 0 && k < nkept; k++)
            if (pk_build(c, cand, &kept[k], o, margin, ifma, 0) && c->cost < fastest)
                fastest = c->cost;
        pk->fastest_cost = fastest < INFINITY ? fastest : 0;
        free(c);
    }
    free(cand);
    if (best == INFINITY && f && f->ndrops) {
        free(pk);
        cn_diag_set(diag, "packed layout: the recorded drops do not fit the levels or the "
                          "noise margin");
        return CN_ERR_FORMAT;
    }
    if (best == INFINITY) {
        free(pk);
        if (shape_st != CN_OK && secure == 0)
            return shape_st;
        if (secure == 0) {
            cn_diag_set(diag, "packed layout: no parameters the options allow meet the "
                              "security level");
            return CN_ERR_INSECURE;
        }
        cn_diag_set(diag,
                    "packed layout: no parameters leave the %.0f-bit noise budget margin "
                    "(best %.1f bits); allow a larger n",
                    margin, best_budget);
        return CN_ERR_NOISE_EXHAUSTED;
    }
    /* drop the primes the end does not need: smaller replies (recorded: the end's drop,
     * when the plan has one) */
    size_t nsw = 0;
    for (size_t i = 0; i < pk->nops; i++)
        nsw += pk->ops[i].kind == CN_PK_MODSWITCH;
    const size_t last = pk->ops[pk->nops - 1].level;
    if (pk->forced.ndrops && pk->forced.ndrops == nsw + 1) {
        const size_t drop = pk->forced.drops[nsw];
        pk->ops[pk->nops++] = (cn_pk_op_t){.kind = CN_PK_MODSWITCH, .drop = drop};
        const double budget = -cn_pk_noise(pk) - 1;
        if (drop == 0 || drop >= last || budget < margin) {
            cn_diag_set(diag, "packed layout: the recorded final drop %zu does not fit", drop);
            free(pk);
            return CN_ERR_FORMAT;
        }
        pk->budget = budget;
    }
    for (size_t drop = pk->forced.ndrops ? 0 : last - 1; drop >= 1; drop--) {
        cn_pk_op_t *m = &pk->ops[pk->nops];
        *m = (cn_pk_op_t){.kind = CN_PK_MODSWITCH, .drop = drop};
        pk->nops++;
        const double budget = -cn_pk_noise(pk) - 1;
        if (budget >= margin) {
            pk->budget = budget;
            break;
        }
        pk->nops--;
    }
    cn_pk_noise(pk);
    pk->keys_over = pk->key_bound > 0 && cn_pk_key_bytes(pk) > pk->key_bound;
    *out = pk;
    return st;
}

void cn_packed_print(const cn_packed_t *pk, FILE *f)
{
    const cn_bfv_params_t *prm = &pk->prm;
    fprintf(f,
            "packed layout: %zu inputs per request, %zu per ciphertext set (%zu sets), "
            "stride %zu, rows %s\n",
            pk->batch, pk->per_set, pk->nsets, pk->s,
            pk->rows_distinct ? "distinct" : "replicated");
    fprintf(f,
            "  n = %zu, log2(qP) = %.1f (%zu primes of %.0f bits, P of %.0f), %zu "
            "plaintext moduli of %.0f bits, security %s\n",
            prm->n, cn_bfv_params_log_qp(prm), prm->nq, log2((double)prm->q[0]),
            log2((double)prm->p), prm->nt, log2((double)prm->t[0]),
            prm->security == CN_SEC_NONE_INSECURE ? "NONE (insecure)" : "128+");
    for (size_t i = 0; i < pk->nops; i++) {
        const cn_pk_op_t *o = &pk->ops[i];
        if (o->kind == CN_PK_MODSWITCH && o->drop == 0)
            continue;
        switch (o->kind) {
        case CN_PK_FIRST:
            fprintf(f,
                    "  %-3zu first      %zu -> %zu (period %zu): %zu terms in %zu "
                    "ciphertexts of %zu blocks (%zu of %zu per row, %u folds)",
                    i + 1, o->lin->nin, o->lin->nout, o->m_out, o->K, o->nct, o->nb, o->fb,
                    pk->pos / o->m_out, log2_exact(o->fb));
            if (pk->late_first)
                fprintf(f, ", switching after them");
            break;
        case CN_PK_DIAG:
            fprintf(f,
                    "  %-3zu diagonals  %zu -> %zu (period %zu -> %zu): %zu diagonals, "
                    "%zu baby x %zu giant",
                    i + 1, o->lin->nin, o->lin->nout, o->m_in, o->m_out, o->D, o->baby,
                    o->giant);
            break;
        case CN_PK_SQUARE:
            fprintf(f, "  %-3zu square    ", i + 1);
            break;
        case CN_PK_RELIN:
            fprintf(f, "  %-3zu relin     ", i + 1);
            break;
        case CN_PK_MODSWITCH:
            fprintf(f, "  %-3zu modswitch  -%zu", i + 1, o->drop);
            break;
        }
        fprintf(f, "  [level %zu, budget %.1f]\n", o->level, -o->noise_bits - 1);
    }
    fprintf(f,
            "  %zu Galois keys (%.1f MB of keys with the relinearization key); estimated "
            "budget %.1f bits, %.3f s per request on one core (cost model)\n",
            pk->nelts, cn_pk_key_bytes(pk) / 1e6, pk->budget, pk->cost);
    size_t levels[CN_PK_MAX_ELTS], dps[CN_PK_MAX_ELTS];
    const size_t rl = cn_pk_key_levels(pk, levels), rdp = cn_pk_key_digits(pk, dps);
    fprintf(f, "  keys (element:level/primes per digit):");
    if (rl)
        fprintf(f, " relin:%zu/%zu", rl, rdp);
    for (size_t i = 0; i < pk->nelts; i++)
        fprintf(f, " %llu:%zu/%zu", (unsigned long long)pk->elts[i],
                levels[i] ? levels[i] : prm->nq, dps[i]);
    fprintf(f, "\n");
    if (pk->key_bound > 0 && !pk->keys_over) {
        fprintf(f, "  keys within the %.1f MB bound (cn_packed_opts_t.max_key_bytes)",
                pk->key_bound / 1e6);
        if (pk->fastest_cost > 0 && pk->cost > pk->fastest_cost * (1 + 1e-9))
            fprintf(f,
                    ": the cheapest parameters and drops whose keys fit, %.1f %% above the "
                    "cheapest without the bound (%.3f s, cost model)",
                    100 * (pk->cost / pk->fastest_cost - 1), pk->fastest_cost);
        fprintf(f, "\n");
    } else if (pk->key_bound > 0) {
        fprintf(f,
                "  note: keys above the %.1f MB bound (cn_packed_opts_t.max_key_bytes): the "
                "parameters and drops of the %d cheapest do not fit it; the cheapest\n",
                pk->key_bound / 1e6, PK_KEPT);
    }
}

const cn_bfv_params_t *cn_packed_params(const cn_packed_t *pk)
{
    return &pk->prm;
}
size_t cn_packed_batch(const cn_packed_t *pk)
{
    return pk->batch;
}
double cn_packed_output_budget(const cn_packed_t *pk)
{
    return pk->budget;
}
uint64_t cn_packed_key_bytes(const cn_packed_t *pk)
{
    return (uint64_t)llround(cn_pk_key_bytes(pk));
}
size_t cn_packed_galois_elts(const cn_packed_t *pk, uint64_t *elts, size_t cap)
{
    for (size_t i = 0; i < pk->nelts && i < cap; i++)
        elts[i] = pk->elts[i];
    return pk->nelts;
}
