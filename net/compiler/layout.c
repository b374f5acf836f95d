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
    size_t period = 0;
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
            o->baby = baby ? baby : (size_t)1 << (log2_exact(o->D) / 2);
            if (o->baby > o->D)
                o->baby = o->D;
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
        pk->ops[i + 1].kind != CN_PK_MODSWITCH)
        return 0;
    return pk->ops[i + 1].drop;
}

/* --- noise (log2 of the invariant noise, as net/compiler/noise.c) ------------------ */

static double lg_add(double a, double b)
{
    const double m = a > b ? a : b;
    return m + log2(exp2(a - m) + exp2(b - m));
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
    const double ln = log2((double)prm->n), lp = prm->p ? log2((double)prm->p) : 0;
    size_t level = prm->nq, size = 2;
    int early = 0; /* the last op switched already: its MODSWITCH is done */
    /* fresh secret-key encryption, as the batched estimate */
    double v = log2(exp2(lt) * CN_CBD_ETA + exp2(2 * lt)) - lqp[level];
    for (size_t i = 0; i < pk->nops; i++) {
        cn_pk_op_t *o = &pk->ops[i];
        double lq = lqp[level];
        /* one key switch (rotation or relinearization), worst case: t (l n eta q_max / P
         * + n / 2) / Q, as the batched estimate's relinearization */
#define PK_KS(lev)                                                                             \
    (lt + log2((double)(lev)*exp2(ln) * CN_CBD_ETA * exp2(lqmax - lp) + exp2(ln - 1)) -        \
     lqp[lev])
        double ks = PK_KS(level);
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
            ks = PK_KS(level);                                                                 \
        }                                                                                      \
    } while (0)
        const int was_early = early;
        early = drop != 0;
        switch (o->kind) {
        case CN_PK_FIRST: {
            v += pmul + log2((double)o->nct);
            PK_SWITCH_EARLY();
            size_t folds = log2_exact(o->fb) + (pk->rows_distinct ? 0 : 1);
            for (size_t f = 0; f < folds; f++) /* x + rot(x): 2 ||x|| + ks */
                v = lg_add(v + 1, ks);
            v = lg_add(v, 2 * lt - lq); /* bias, as the batched estimate */
            break;
        }
        case CN_PK_DIAG: {
            const double vb = o->baby > 1 ? lg_add(v, ks) : v; /* baby rotations */
            v = vb + pmul + log2((double)o->baby);             /* each giant step's sum */
            PK_SWITCH_EARLY();
            /* Horner over the giant steps: G ||P|| + (G - 1) ks */
            v = o->giant > 1
                    ? lg_add(v + log2((double)o->giant), ks + log2((double)(o->giant - 1)))
                    : v;
            for (size_t e = o->m_out; e < o->m_in; e *= 2)
                v = lg_add(v + 1, ks);
            v = lg_add(v, 2 * lt - lq);
            break;
        }
        case CN_PK_SQUARE: /* as the batched estimate (net/compiler/noise.c) */
            v = lg_add(v + 2 + lt + ln, lt + 2 * ln - lq);
            size = 3;
            break;
        case CN_PK_RELIN:
            v = lg_add(v, ks);
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
 * and ciphertext set, at each op's level l: a key switch lifts and transforms l digits to
 * l + 1 primes and transforms two results back (l (l + 1) + 2 (l + 1)); a product of
 * rows (with a plaintext vector or a key) costs about 4 / log2 n transforms per
 * polynomial and prime (one multiply-add per coefficient against the transform's
 * (log2 n) / 2), so a doubly hoisted baby step costs its key products 2 l (l + 1) and
 * each giant step its products over Q and P and one inverse transform and division; a
 * square about 6 l + 3 (the full-RNS tensor product). Folds and giant steps run after the
 * layer's modulus switch. */
static double pk_cost(const cn_packed_t *pk)
{
    const double ln = log2((double)pk->prm.n), pm = 4 / ln;
    double c = 0;
    size_t l = pk->prm.nq;
    int early = 0;
    for (size_t i = 0; i < pk->nops; i++) {
        const cn_pk_op_t *o = &pk->ops[i];
        const double L = (double)l;
        const size_t drop = cn_pk_early_drop(pk, i);
        const double L2 = (double)(l - drop); /* folds and giant steps after the switch */
        const double ks = L * (L + 1) + 2 * (L + 1), ks2 = L2 * (L2 + 1) + 2 * (L2 + 1);
        const int was_early = early;
        early = drop != 0;
        switch (o->kind) {
        case CN_PK_FIRST:
            c += (double)o->nct * 2 * L * (1 + pm) + 2 * L +
                 ks2 * (double)(log2_exact(o->fb) + (pk->rows_distinct ? 0 : 1));
            l -= drop;
            break;
        case CN_PK_DIAG:
            c += L * (L + 1) + (double)(o->baby - 1) * 2 * L * (L + 1) * pm +
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

/* The drops at the switch points, in order (as the batched schedule, net/compiler/
 * schedule.c): the most primes whose drop raises the noise estimate by at most half a bit
 * and keeps the final budget at the margin or above. Returns the final budget. */
static double pk_schedule(cn_packed_t *pk, double margin)
{
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

/* pk (chosen with every block of a row in the first layer) with the fewest blocks per
 * row whose request stays within PK_REQUEST_MAX bytes and whose budget keeps the margin:
 * each halving removes one fold, so one Galois key at the top level (for MNIST, one
 * image: 58 -> 47 MB of keys, 2.75 -> 8.3 MB of upload; docs/net.md, "Keys"). */
static void pk_fewer_blocks(cn_packed_t *pk, size_t baby, double margin, int ifma)
{
    cn_packed_t *c = malloc(sizeof *c);
    if (!c)
        return; /* the layout with every block is valid */
    for (size_t fb = pk->ops[0].fb / 2; fb >= 1; fb /= 2) {
        *c = *pk;
        c->first_blocks = fb;
        if (cn_pk_shape(c, c->prm.n, baby, NULL) != CN_OK ||
            pk_request_bytes(c) > PK_REQUEST_MAX)
            break;
        const double budget = pk_schedule(c, margin);
        if (budget < margin)
            break;
        c->budget = budget;
        c->cost = pk_seconds(c, ifma);
        *pk = *c;
    }
    free(c);
}

cn_status cn_packed_create(cn_packed_t **out, const cn_plan_t *plan, const cn_packed_opts_t *o,
                           cn_net_diag_t *diag)
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
                    const double budget = pk_schedule(cand, margin);
                    if (budget > best_budget)
                        best_budget = budget;
                    if (budget < margin)
                        continue;
                    const double cost = pk_seconds(cand, ifma);
                    if (cost < best) {
                        *pk = *cand;
                        pk->budget = budget;
                        pk->cost = cost;
                        best = cost;
                    }
                    break; /* more primes only cost more */
                }
            }
        }
    }
    free(cand);
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
    if (!o->first_blocks)
        pk_fewer_blocks(pk, o->baby, margin, ifma);
    /* drop the primes the end does not need: smaller replies */
    const size_t last = pk->ops[pk->nops - 1].level;
    for (size_t drop = last - 1; drop >= 1; drop--) {
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
            "  %zu Galois keys; estimated budget %.1f bits, %.3f s per request on one core "
            "(cost model)\n",
            pk->nelts, pk->budget, pk->cost);
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
size_t cn_packed_galois_elts(const cn_packed_t *pk, uint64_t *elts, size_t cap)
{
    for (size_t i = 0; i < pk->nelts && i < cap; i++)
        elts[i] = pk->elts[i];
    return pk->nelts;
}
