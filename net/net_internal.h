/* Internal declarations of net/: the compiled plan and its pieces. */
#ifndef CN_NET_INTERNAL_H
#define CN_NET_INTERNAL_H

#include <stdarg.h>

#include "cryptonets/cryptonets.h"
#include "cryptonets/net.h"
#include "cryptonets/layout.h"

/* The whole file at path (at most maxlen bytes: CN_ERR_FORMAT beyond), for the model
 * loaders; CN_ERR_IO with the path and the system's reason. Free *buf with free(). */
cn_status cn_file_read(uint8_t **buf, size_t *len, const char *path, size_t maxlen,
                       cn_net_diag_t *diag);

/* diag may be NULL. */
void cn_diag_set(cn_net_diag_t *diag, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Refuses raw inputs outside the model's range [lo, hi]: x is count rows of nin values;
 * the first value outside gives CN_ERR_OUT_OF_RANGE, with what ("input", "calibration
 * input"), its row and column counted from 1, the value and the range in diag. */
cn_status cn_net_check_inputs(const int64_t *x, size_t count, size_t nin, int64_t lo,
                              int64_t hi, const char *what, cn_net_diag_t *diag);

/* Model, plan and client-state files are frames of lib/io (docs/format.md, "Framing"):
 * the common 32-byte header and checksum around a body that starts with the file's own
 * magic (4 bytes) and version (u16 major, u16 minor), written and read with lib/io's
 * byte writer and reader (io.h). */
#define CN_NET_MODEL_TYPE (CN_IO_EXTERNAL_TYPE + 0)
#define CN_NET_PLAN_TYPE (CN_IO_EXTERNAL_TYPE + 1)
#define CN_NET_STATE_TYPE (CN_IO_EXTERNAL_TYPE + 2) /* a client's secret state */
/* Opens the body of a file of the given type (bytes.c): the frame, or with format1 a file
 * of format 1 (which began with magic and ended with an FNV-1a trailer: still read), then
 * the body's magic and major version. On CN_OK *r reads the body from just after its
 * version and *minor is the minor version. Otherwise the reason is in diag:
 * CN_ERR_TRUNCATED, CN_ERR_FORMAT (bad magic, checksum, another type; a major version
 * below major), CN_ERR_VERSION (a newer major version). */
cn_status cn_net_body_open(cn_io_reader_t *r, unsigned *minor, const uint8_t *buf, size_t len,
                           unsigned type, const char *magic, unsigned major, int format1,
                           cn_net_diag_t *diag);

/* A linear layer with integer weights, as sparse rows (CSR): out_j = bias_j + sum over
 * k in [row[j], row[j+1]) of w[k] * in[col[k]]. Dense layers have every column. */
typedef struct {
    size_t nin, nout;
    size_t *row;     /* [nout + 1] */
    uint32_t *col;   /* [nnz] */
    int64_t *w;      /* [nnz], |w| < 2^31 */
    cn_int128 *bias; /* [nout] */
    int dense;       /* every row has every column */
    uint64_t wmax;   /* max |w| */
    size_t *rneg;    /* [nout]: row j holds w >= 0 in [row[j], rneg[j]), w < 0 after
                      * (sparse layers; dense layers keep their column order) */
    uint64_t *woff;  /* dense layers: w + wmax (>= 0), row-major [nout][nin] */
    uint32_t *wpair; /* dense layers with 2 wmax < 2^CN_LIN_SPLIT_BITS: row j's offset
                      * weights in pairs, woff[j][2q] | woff[j][2q + 1] << 16 (0 past nin),
                      * row-major [nout][(nin + 1) / 2] (the IFMA split kernel's) */
    double l1max;    /* max over rows of sum |w| (the noise estimate's factor) */
    double l2max;    /* max over rows of sqrt(sum w^2) (the probabilistic estimate's) */
    double rowmult;  /* most nonzero rows proportional to one another (>= 1; noise.c) */
} cn_lin_t;

/* cn_client_encrypt_window without mremap's MREMAP_DONTUNMAP (as on kernels before 5.7):
 * on (nonzero), each chunk the window leaves is freed and fresh pages are mapped ahead.
 * For tests of that path; not thread-safe (set it before encrypting). */
void cn_client_window_fresh_pages(int on);

/* Fills wmax; for a sparse layer orders each row's terms, nonnegative weights first, and
 * fills rneg; for a dense one fills woff. */
cn_status cn_lin_partition(cn_lin_t *l);

typedef enum {
    CN_OP_LINEAR = 1, /* lin */
    CN_OP_SQUARE = 2,
    CN_OP_RELIN = 3,
    CN_OP_MODSWITCH = 4 /* drop `drop` primes */
} cn_op_kind;

typedef struct {
    cn_op_kind kind;
    cn_lin_t lin;
    size_t drop;
    size_t width;      /* number of ciphertexts after the op */
    size_t level;      /* primes after the op */
    size_t size;       /* ciphertext size after the op (2 or 3) */
    double range_bits; /* log2 of the largest |value| after the op */
    double noise_bits; /* estimated log2 of the invariant noise after the op (< -1 ok) */
} cn_op_t;

#define CN_PK_MAX_SWITCH                                                                       \
    (2 * CN_PLAN_MAX_OPS + 1) /* switch points: a square or a                                  \
                               * diagonal layer each, and the end */

/* Choices a packed plan records (format 1.2) so that loading it recreates the same layout
 * whatever the rules of a later library: with nbabies, the baby steps of the diagonal
 * layers in order; with ndrops, the drops of the modulus switches in order (the last one
 * the end's, when the layout has one). legacy: the rules of plans of format 1.1 (the
 * half-bit drop rule, without the cost search). All zero: chosen. */
typedef struct {
    size_t nbabies, babies[CN_PLAN_MAX_OPS];
    size_t ndrops, drops[CN_PK_MAX_SWITCH];
    int legacy;
    int late_first; /* plan format 1.3: the first layer switches after its folds */
} cn_pk_forced_t;

struct cn_plan {
    size_t nin, nout;
    int64_t in_min, in_max;
    size_t nops;
    cn_op_t *ops;
    cn_bfv_params_t prm;
    unsigned weight_bits;
    size_t calib_mismatch;
    int wraps;                /* plaintext moduli forced below the range: exact mod T only */
    double out_bound_bits;    /* log2 of the largest |output| */
    double out_scale;         /* integer output = float output * out_scale (about) */
    double budget;            /* predicted final budget (bits) */
    double cost;              /* cost model: estimated seconds per batch on one core */
    double cost_server;       /* the server's part of cost (0: not known, a loaded plan) */
    cn_quant_report_t *quant; /* the weight-width search's table (NULL: none; not in the
                               * plan bytes) */
    /* the layout (net/plan/layout_choice.c): set when compiled with a batch size */
    cn_layout_report_t lrep; /* batch_size 0: none */
    cn_packed_opts_t popts;  /* packed: the layout's options, parameters forced (and, from
                              * plan format 1.2, the first layer's blocks) */
    cn_pk_forced_t pforced;  /* packed: the layout's recorded choices (format 1.2) */
    cn_packed_t *packed;     /* packed: the layout, owned (NULL: batched) */
};

/* The layout stage of the compiler (after the parameter search): with opts->batch_size,
 * the packed layout's and the batched plan's estimates for that many inputs, and the
 * cheaper chosen. */
cn_status cn_plan_choose_layout(cn_plan_t *p, const cn_compile_opts_t *opts,
                                cn_net_diag_t *diag);
/* The plan bytes' layout section (format 1.1, packed plans only; 1.2 adds the first
 * layer's blocks and the diagonal layers' baby steps; docs/net.md). minor: the version
 * the bytes declare. */
void cn_plan_layout_write(cn_io_writer_t *b, const cn_plan_t *p);
cn_status cn_plan_layout_read(cn_plan_t *p, cn_io_reader_t *r, unsigned minor,
                              cn_net_diag_t *diag);
void cn_plan_layout_print(const cn_plan_t *p, FILE *f);
/* After a read plan's checks: recreates its packed layout (CN_ERR_INSECURE for one
 * without security unless allow_insecure). */
cn_status cn_plan_layout_load(cn_plan_t *p, int allow_insecure, cn_net_diag_t *diag);

/* Linear kernels, one prime: out[j][c] = sum_k w[k] x[col[k]][c] mod p for the outputs
 * j in [j0, j1) and coefficients c in [c0, c1), coefficient blocks outermost so a block
 * of every input stays in cache while all outputs sweep it; inputs in [0, p),
 * 2^12 <= p < 2^61; outputs in [0, p). wmod[k] = w[k] mod p (used by the IFMA kernel). */
typedef void (*cn_lin_kernel_fn)(uint64_t *const *out, const uint64_t *const *x,
                                 const cn_lin_t *lin, const uint64_t *wmod, size_t j0,
                                 size_t j1, size_t c0, size_t c1, cn_mod_t m);
void cn_lin_apply_portable(uint64_t *const *out, const uint64_t *const *x, const cn_lin_t *lin,
                           const uint64_t *wmod, size_t j0, size_t j1, size_t c0, size_t c1,
                           cn_mod_t m);
void cn_lin_apply_avx512(uint64_t *const *out, const uint64_t *const *x, const cn_lin_t *lin,
                         const uint64_t *wmod, size_t j0, size_t j1, size_t c0, size_t c1,
                         cn_mod_t m);
void cn_lin_apply_ifma(uint64_t *const *out, const uint64_t *const *x, const cn_lin_t *lin,
                       const uint64_t *wmod, size_t j0, size_t j1, size_t c0, size_t c1,
                       cn_mod_t m);
/* Whether the IFMA kernel's dense split kernel (linear_avx512ifma.c) takes a dense layer
 * at prime p when the small-weight one (2 wmax p < 2^52) does not: p < 2^50 and
 * 2 wmax < 2^12 (its 16-bit products and 32-bit sums; wpair filled). The cost model asks
 * it too. */
#define CN_LIN_SPLIT_BITS 12
static inline int cn_lin_dense_split_ok(const cn_lin_t *lin, uint64_t p)
{
    return lin->dense && lin->woff && lin->wpair && p < ((uint64_t)1 << 50) &&
           2 * lin->wmax < ((uint64_t)1 << CN_LIN_SPLIT_BITS);
}
/* The kernel for this CPU and prime p (CN_SIMD=portable forces the portable one), and
 * its name. */
cn_lin_kernel_fn cn_lin_kernel(uint64_t p, const char **name);

/* Most terms one accumulator block may take: lo and hi parts of 31 and 30 bits times
 * |w| <= wmax stay below 2^63 in magnitude. */
static inline size_t cn_lin_block_terms(uint64_t wmax)
{
    if (wmax == 0)
        return (size_t)1 << 30;
    uint64_t m = (((uint64_t)1 << 32) - 1) / wmax;
    return m > ((uint64_t)1 << 30) ? (size_t)1 << 30 : (size_t)m;
}

void cn_lin_clear(cn_lin_t *l);
/* b[s][j] = op applied on integers to a[s][i] (count rows of win values; the rows of b
 * have the op's width): one step of the reference run. */
void cn_op_eval_plain(cn_int128 *b, const cn_int128 *a, size_t win, const cn_op_t *op,
                      size_t count);
/* The reference run of count inputs through ops (cn_plan_eval_plain on bare ops). */
cn_status cn_ops_eval_plain(cn_int128 *out, const cn_op_t *ops, size_t nops, size_t nin,
                            size_t nout, const int64_t *x, size_t count);
/* "dense", "sparse", "square", "relin" or "modswitch". */
const char *cn_op_name(const cn_op_t *op);
/* Exact ranges of nops ops on nin inputs in [in_min, in_max] (compiler stage 3): sets
 * every op's range_bits and *out_bits (log2 of the largest |output|); CN_ERR_OUT_OF_RANGE,
 * with the op and the value in diag, when a value or a partial sum of the reference run
 * reaches 2^126. */
cn_status cn_ops_ranges(cn_op_t *ops, size_t nops, size_t nin, int64_t in_min, int64_t in_max,
                        double *out_bits, cn_net_diag_t *diag);
/* Recomputes the exact ranges of every op (range_bits, out_bound_bits);
 * CN_ERR_OUT_OF_RANGE, with the op and the value in diag, when a value or a partial sum
 * of the reference run reaches 2^126. */
cn_status cn_plan_ranges(cn_plan_t *p, cn_net_diag_t *diag);
/* The noise estimate (docs/net.md): runs it through the ops, storing each op's
 * noise_bits, level and size; returns the final log2 of the invariant noise. */
double cn_plan_noise(cn_op_t *ops, size_t nops, const cn_bfv_params_t *prm);
/* The cost model (net/compiler/cost.c): estimated seconds per batch on one core, every
 * plaintext modulus, server and client (encryption and decryption), on a server of the
 * given profile (CN_COST_HOST: this process's CPU). */
double cn_plan_cost(const cn_op_t *ops, size_t nops, size_t nin, const cn_bfv_params_t *prm,
                    cn_cost_profile profile);
/* The cost model's parts, and the server's estimated peak memory for one batch. */
typedef struct {
    double seconds;  /* server_s + client_s */
    double server_s; /* loading and the ops, every plaintext modulus, one core */
    double client_s; /* encryption and decryption of the batch, one core */
    double memory;   /* bytes: cn_plan_memory */
} cn_plan_estimate_t;
void cn_plan_estimate(cn_plan_estimate_t *e, const cn_op_t *ops, size_t nops, size_t nin,
                      const cn_bfv_params_t *prm, cn_cost_profile profile);
/* As cn_plan_estimate with the first segment in `chunks` chunks (0: layer by layer)
 * instead of cn_plan_chunks's (which searches the counts: the parameter search asks for 0
 * first and for the counts only for a candidate that can win, or for 0 alone under
 * experimental.layer_bound, then estimates the plan it takes in full). */
void cn_plan_estimate_chunks(cn_plan_estimate_t *e, const cn_op_t *ops, size_t nops, size_t nin,
                             const cn_bfv_params_t *prm, cn_cost_profile profile,
                             size_t chunks);
/* The server's estimated peak memory (bytes) for one batch of a plan with these ops
 * (scheduled: widths, levels and sizes set) and parameters (docs/net.md, "Memory"). */
double cn_plan_memory(const cn_op_t *ops, size_t nops, size_t nin, const cn_bfv_params_t *prm);
/* As cn_plan_memory with the first segment in `chunks` chunks (0: layer by layer;
 * net/plan/segment.c); cn_plan_memory takes cn_plan_chunks's. */
double cn_plan_memory_chunks(const cn_op_t *ops, size_t nops, size_t nin,
                             const cn_bfv_params_t *prm, size_t chunks);

/* --- net/plan/segment.c: the first segment of a batched plan in chunks (docs/net.md,
 * "Chunked evaluation"): ops[0] a linear layer L1 on the inputs, then element-wise ops,
 * then ops[end] a linear layer L2 on L1's outputs, evaluated over chunks of L1's outputs
 * with only the inputs a chunk reads decoded, L2's outputs summed over the chunks --- */
typedef struct {
    size_t end;     /* ops[end] is L2 */
    size_t nchunks; /* >= 1 */
    size_t nout1;   /* L1's outputs */
    size_t nin;     /* the plan's inputs */
    size_t *order;  /* [nout1]: L1's outputs, chunk after chunk, ascending in each */
    size_t *cstart; /* [nchunks + 1]: chunk c is order[cstart[c], cstart[c + 1]) */
    size_t *first;  /* [nin]: the first chunk reading input i (SIZE_MAX: none) */
    size_t *last;   /* [nin]: the last one */
} cn_segment_t;
/* The index of L2 when the ops begin with such a segment, else 0. */
size_t cn_segment_end(const cn_op_t *ops, size_t nops);
/* The schedule in nchunks chunks (1 .. L1's outputs). CN_ERR_INVALID_ARG without a
 * segment or for such a count, CN_ERR_NO_MEMORY; on failure sg needs no clear. */
cn_status cn_segment_init(cn_segment_t *sg, const cn_op_t *ops, size_t nops, size_t nin,
                          size_t nchunks);
void cn_segment_clear(cn_segment_t *sg);
/* Blocks of a polynomial the server holds at most at once (one plaintext modulus, th
 * threads) when it runs sg then the rest of the ops layer by layer (SIZE_MAX: no memory). */
size_t cn_segment_peak(const cn_segment_t *sg, const cn_op_t *ops, size_t nops, size_t th);
/* The same for a plan of nt plaintext moduli in `chunks` chunks (0, or no segment: layer
 * by layer), the outputs of the moduli done included. */
size_t cn_plan_peak_blocks(const cn_op_t *ops, size_t nops, size_t nin, size_t nt, size_t th,
                           size_t chunks);
/* The server's choice, from the plan alone: 0 (layer by layer) when the plan's estimated
 * memory fits CN_PLAN_MEMORY_DEFAULT or it has no segment; else the fewest chunks of 2, 3,
 * 4, 5, 6, 8, 10, 13, 16, 24, 32, 48, 64 (at most L1's outputs) that fit it, or, when none
 * does, the count with the least memory. */
size_t cn_plan_chunks(const cn_op_t *ops, size_t nops, size_t nin, const cn_bfv_params_t *prm);
/* 1 when the plaintext moduli t[0..k) carry outputs of |value| < 2^out_bits exactly
 * (their product exceeds 2^(out_bits + 2)); the compiler and the plan loader agree. */
int cn_plan_moduli_fit(const uint64_t *t, size_t k, double out_bits);
/* Prints the weight-width search's table (cn_plan_print's last lines). */
void cn_quant_report_print(const cn_quant_report_t *q, FILE *f);
/* The ops form a runnable chain (widths, sizes, levels, bounds). */
cn_status cn_plan_check(const cn_plan_t *p, cn_net_diag_t *diag);

#endif
