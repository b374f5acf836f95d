/* The first segment of a batched plan evaluated in chunks (docs/net.md, "Chunked
 * evaluation"): the linear layer that reads the inputs (L1), the element-wise ops after it
 * (squares, relinearizations, modulus switches) and the linear layer that closes the
 * segment (L2), run over chunks of L1's outputs. A chunk's L1 outputs read only the inputs
 * their sparse rows name, so only a window of the inputs is decoded at a time; L2 is a
 * sum over its inputs, so its outputs accumulate chunk by chunk (bias once) to the same
 * residues. This file is the schedule (which outputs form each chunk, when each input is
 * first and last read) and the server's peak of polynomial blocks with and without it, which
 * the pool (net/runtime/pool.c) and the compiler's memory estimate (net/compiler/cost.c)
 * share; net/runtime/chunked.c runs it. */
#include <stdint.h>
#include <stdlib.h>

#include "../net_internal.h"

size_t cn_segment_end(const cn_op_t *ops, size_t nops)
{
    if (nops < 2 || ops[0].kind != CN_OP_LINEAR)
        return 0;
    for (size_t o = 1; o < nops; o++)
        if (ops[o].kind == CN_OP_LINEAR)
            return ops[o].lin.nin == ops[0].lin.nout ? o : 0;
    return 0;
}

void cn_segment_clear(cn_segment_t *sg)
{
    free(sg->order);
    free(sg->cstart);
    free(sg->first);
    free(sg->last);
    *sg = (cn_segment_t){0};
}

typedef struct {
    size_t key, j;
} keyed_t;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed_t *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->j < y->j ? -1 : x->j > y->j;
}

static int cmp_size(const void *a, const void *b)
{
    const size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

cn_status cn_segment_init(cn_segment_t *sg, const cn_op_t *ops, size_t nops, size_t nin,
                          size_t nchunks)
{
    *sg = (cn_segment_t){0};
    sg->end = cn_segment_end(ops, nops);
    const cn_lin_t *l1 = &ops[0].lin;
    const size_t m = l1->nout;
    if (!sg->end || nchunks < 1 || nchunks > m || l1->nin != nin)
        return CN_ERR_INVALID_ARG;
    sg->nchunks = nchunks;
    sg->nout1 = m;
    sg->nin = nin;
    keyed_t *kv = malloc(m * sizeof *kv);
    sg->order = malloc(m * sizeof *sg->order);
    sg->cstart = malloc((nchunks + 1) * sizeof *sg->cstart);
    sg->first = malloc((nin ? nin : 1) * sizeof *sg->first);
    sg->last = malloc((nin ? nin : 1) * sizeof *sg->last);
    if (!kv || !sg->order || !sg->cstart || !sg->first || !sg->last) {
        free(kv);
        cn_segment_clear(sg);
        return CN_ERR_NO_MEMORY;
    }
    /* outputs in the order of the last input they read (ties by index): for inputs in
     * raster order and a local layer (a convolution), the input window then slides */
    for (size_t j = 0; j < m; j++) {
        size_t key = 0;
        for (size_t k = l1->row[j]; k < l1->row[j + 1]; k++)
            if (l1->col[k] > key)
                key = l1->col[k];
        kv[j] = (keyed_t){key, j};
    }
    qsort(kv, m, sizeof *kv, cmp_keyed);
    for (size_t j = 0; j < m; j++)
        sg->order[j] = kv[j].j;
    free(kv);
    /* chunks of equal size (to one output), each in ascending order of output (a dense
     * L2 restricted to a chunk stays dense, in column order) */
    for (size_t c = 0; c <= nchunks; c++)
        sg->cstart[c] = c * m / nchunks;
    for (size_t c = 0; c < nchunks; c++)
        qsort(sg->order + sg->cstart[c], sg->cstart[c + 1] - sg->cstart[c], sizeof(size_t),
              cmp_size);
    for (size_t i = 0; i < nin; i++)
        sg->first[i] = sg->last[i] = SIZE_MAX;
    for (size_t c = 0; c < nchunks; c++)
        for (size_t a = sg->cstart[c]; a < sg->cstart[c + 1]; a++) {
            const size_t j = sg->order[a];
            for (size_t k = l1->row[j]; k < l1->row[j + 1]; k++) {
                const size_t i = l1->col[k];
                if (sg->first[i] == SIZE_MAX)
                    sg->first[i] = c;
                sg->last[i] = c;
            }
        }
    return CN_OK;
}

/* The blocks of a polynomial each op of ops[from, nops) holds at once (one plaintext
 * modulus; a square or relinearization holds one output beside its input per thread),
 * starting from w ciphertexts of `size` polynomials and `other` blocks held beside them;
 * the peak, at least `peak`. The rules of cn_pool_blocks before the chunks. */
static size_t ops_peak(const cn_op_t *ops, size_t from, size_t to, size_t *w, size_t *size,
                       size_t other, size_t th, size_t peak)
{
    size_t live = *w * *size;
    for (size_t o = from; o < to; o++) {
        const cn_op_t *op = &ops[o];
        size_t during = live;
        if (op->kind == CN_OP_LINEAR) {
            during = live + op->lin.nout * *size;
            *w = op->lin.nout;
        } else if (op->kind == CN_OP_SQUARE) {
            *size = 3;
            during = 3 * *w + 3 * th;
        } else if (op->kind == CN_OP_RELIN) {
            during = live + 2 * th;
            *size = 2;
        } else { /* a modulus switch: one output beside its input per thread */
            during = live + *size * th;
        }
        live = *w * *size;
        if (other + during > peak)
            peak = other + during;
    }
    return peak;
}

size_t cn_segment_peak(const cn_segment_t *sg, const cn_op_t *ops, size_t nops, size_t th)
{
    const size_t end = sg->end, nout2 = ops[end].lin.nout;
    size_t peak = 0, acc = 0, size = 2;
    size_t *cnt = calloc(sg->nchunks + 1, 2 * sizeof *cnt);
    if (!cnt)
        return SIZE_MAX;
    /* cnt[c]: inputs first read by chunk c; cnt[nchunks + 1 + c]: last read by chunk c */
    for (size_t i = 0; i < sg->nin; i++)
        if (sg->first[i] != SIZE_MAX) {
            cnt[sg->first[i]]++;
            cnt[sg->nchunks + 1 + sg->last[i]]++;
        }
    size_t loaded = 0;
    for (size_t c = 0; c < sg->nchunks; c++) {
        const size_t cn = sg->cstart[c + 1] - sg->cstart[c];
        loaded += cnt[c];
        /* the window decoded and L1's outputs of the chunk (the size of the inputs) */
        size_t during = acc + 2 * loaded + 2 * cn + (c == 0 ? 2 * th : 0);
        if (during > peak)
            peak = during;
        loaded -= cnt[sg->nchunks + 1 + c];
        /* the element-wise ops on the chunk beside the window and the sums */
        size_t w = cn;
        size = 2;
        peak = ops_peak(ops, 1, end, &w, &size, acc + 2 * loaded, th, peak);
        /* L2's partial sums into the accumulators */
        during = 2 * loaded + cn * size + nout2 * size;
        if (during > peak)
            peak = during;
        acc = nout2 * size;
    }
    free(cnt);
    /* the rest of the plan layer by layer from L2's outputs */
    size_t w = nout2;
    return ops_peak(ops, end + 1, nops, &w, &size, 0, th, peak);
}

size_t cn_plan_peak_blocks(const cn_op_t *ops, size_t nops, size_t nin, size_t nt, size_t th,
                           size_t chunks)
{
    /* the outputs of the plaintext moduli done stay beside the next one's work */
    const size_t done =
        nops && nt > 1 ? (nt - 1) * ops[nops - 1].width * ops[nops - 1].size : 0;
    if (chunks) {
        cn_segment_t sg;
        if (cn_segment_init(&sg, ops, nops, nin, chunks) == CN_OK) {
            const size_t b = cn_segment_peak(&sg, ops, nops, th);
            cn_segment_clear(&sg);
            return b == SIZE_MAX ? b : b + done;
        }
    }
    size_t w = nin, size = 2;
    return ops_peak(ops, 0, nops, &w, &size, 0, th, 2 * nin) + done;
}

size_t cn_plan_chunks(const cn_op_t *ops, size_t nops, size_t nin, const cn_bfv_params_t *prm)
{
    const double limit = (double)CN_PLAN_MEMORY_DEFAULT;
    if (!cn_segment_end(ops, nops) || cn_plan_memory_chunks(ops, nops, nin, prm, 0) <= limit)
        return 0;
    /* the fewest chunks within the default bound (each chunk more is one more pass of L2
     * over its outputs; a coarse list of counts: the compiler asks for each candidate of
     * its search); none fits: the fewest with the least memory */
    static const size_t counts[] = {2, 3, 4, 5, 6, 8, 10, 13, 16, 24, 32, 48, 64};
    const size_t m = ops[0].lin.nout;
    size_t best = 0;
    double best_mem = cn_plan_memory_chunks(ops, nops, nin, prm, 0);
    for (size_t x = 0; x < sizeof counts / sizeof *counts && counts[x] <= m; x++) {
        const size_t k = counts[x];
        const double mem = cn_plan_memory_chunks(ops, nops, nin, prm, k);
        if (mem <= limit)
            return k;
        if (mem < best_mem) {
            best_mem = mem;
            best = k;
        }
    }
    return best;
}
