/* The network layer: models of scaled-integer networks, the compiler that turns them
 * into homomorphic plans, and the evaluator (client and server roles).
 *
 * A model (cn_model_t) is a list of layers on a (channels, height, width) input of raw
 * integers in [input_min, input_max] (pixels, say), whose float value is raw *
 * input_scale. Layers: conv2d, dense, square, pool (a scaled sum over a window: scale 1
 * is a sum pool, 1/(window^2) a mean pool), flatten, poly (a*x^2 + b*x + c elementwise).
 * Models are read and written in the format of docs/model-format.md; ONNX files are
 * imported by cryptonets/onnx.h.
 *
 * A plan (cn_plan_t) is the model compiled for encrypted evaluation: folded linear
 * layers with integer weights, exact value ranges, plaintext moduli, BFV parameters and
 * the schedule of relinearizations and modulus switches (docs/net.md). Client and server
 * each build or load the same plan; they exchange only serialized bytes. */
#ifndef CRYPTONETS_NET_H
#define CRYPTONETS_NET_H

#include <stdio.h>

#include "cryptonets/bfv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A reason for a failure of the model and plan functions, for people (file, layer,
 * what is wrong); empty when there was none. CN_NET_DIAG_BYTES holds the longest message
 * the library writes (a compile failure's reasons); a longer one would be cut. */
#define CN_NET_DIAG_BYTES 1024
typedef struct {
    char msg[CN_NET_DIAG_BYTES];
} cn_net_diag_t;

typedef enum {
    CN_LAYER_CONV2D = 1,
    CN_LAYER_DENSE = 2,
    CN_LAYER_SQUARE = 3,
    CN_LAYER_POOL = 4,
    CN_LAYER_FLATTEN = 5,
    CN_LAYER_POLY = 6 /* a*x^2 + b*x + c elementwise (HE-friendly activation) */
} cn_layer_kind;

typedef struct {
    cn_layer_kind kind;
    size_t maps;             /* conv2d: output maps; dense: outputs */
    size_t kh, kw;           /* conv2d, pool: window */
    size_t stride;           /* conv2d, pool */
    size_t pad;              /* conv2d: zeros on every side */
    double scale;            /* pool: factor applied to each window's sum */
    double poly[3];          /* poly: a, b, c of a*x^2 + b*x + c (finite) */
    double *w;               /* conv2d: [maps][in_c][kh][kw]; dense: [maps][in_c*in_h*in_w] */
    double *b;               /* conv2d, dense: [maps] */
    size_t in_c, in_h, in_w; /* shapes, set as layers are added */
    size_t out_c, out_h, out_w;
} cn_layer_t;

typedef struct {
    size_t in_c, in_h, in_w;
    double input_scale; /* float input = raw * input_scale (> 0) */
    int64_t input_min, input_max;
    size_t nlayers;
    cn_layer_t *layers;
} cn_model_t;

/* Largest dimensions the model functions accept (bounds every allocation a file drives). */
#define CN_MODEL_MAX_LAYERS 64
#define CN_MODEL_MAX_VALUES ((size_t)1 << 20)  /* values per layer output */
#define CN_MODEL_MAX_WEIGHTS ((size_t)1 << 26) /* weights per layer */
#define CN_MODEL_MAX_MAPS 4096                 /* conv2d output maps */
#define CN_MODEL_MAX_WINDOW 64                 /* conv2d/pool window side, stride, padding */

/* An empty model for inputs of shape (c, h, w); raw inputs in [in_min, in_max]. */
CN_API CN_WARN_UNUSED cn_status cn_model_init(cn_model_t *m, size_t c, size_t h, size_t w,
                                              double input_scale, int64_t in_min,
                                              int64_t in_max);
CN_API void cn_model_clear(cn_model_t *m);
/* Layers, appended; weights are copied. CN_ERR_SHAPE_MISMATCH (with a reason in diag, if
 * given) when a layer does not fit the current shape; CN_ERR_INVALID_ARG for a NaN or
 * infinite weight. w of a conv2d: [maps][in_c][kh][kw]; of a dense: [out][inputs]. */
CN_API CN_WARN_UNUSED cn_status cn_model_add_conv2d(cn_model_t *m, size_t maps, size_t kh,
                                                    size_t kw, size_t stride, size_t pad,
                                                    const double *w, const double *b,
                                                    cn_net_diag_t *diag);
CN_API CN_WARN_UNUSED cn_status cn_model_add_dense(cn_model_t *m, size_t out, const double *w,
                                                   const double *b, cn_net_diag_t *diag);
CN_API CN_WARN_UNUSED cn_status cn_model_add_square(cn_model_t *m, cn_net_diag_t *diag);
CN_API CN_WARN_UNUSED cn_status cn_model_add_pool(cn_model_t *m, size_t kh, size_t kw,
                                                  size_t stride, double scale,
                                                  cn_net_diag_t *diag);
CN_API CN_WARN_UNUSED cn_status cn_model_add_flatten(cn_model_t *m, cn_net_diag_t *diag);
/* y = a*x^2 + b*x + c on every value (shape unchanged); CN_ERR_INVALID_ARG for a NaN or
 * infinite coefficient. The compiler does not support it yet (CN_ERR_UNSUPPORTED). */
CN_API CN_WARN_UNUSED cn_status cn_model_add_poly(cn_model_t *m, double a, double b, double c,
                                                  cn_net_diag_t *diag);
/* Number of outputs of the model (of its last layer, or inputs if none). */
CN_API size_t cn_model_outputs(const cn_model_t *m);
CN_API size_t cn_model_inputs(const cn_model_t *m);

/* Model files (docs/model-format.md). Loading validates everything (magic, version,
 * kinds, shapes, sizes, finite values, checksum, nothing after the end) and explains a
 * refusal in diag: CN_ERR_FORMAT, CN_ERR_TRUNCATED, CN_ERR_VERSION, CN_ERR_SHAPE_MISMATCH,
 * CN_ERR_INVALID_ARG, CN_ERR_IO. m must be zeroed or cleared; it stays cleared on error. */
CN_API CN_WARN_UNUSED cn_status cn_model_save(const cn_model_t *m, const char *path,
                                              cn_net_diag_t *diag);
CN_API CN_WARN_UNUSED cn_status cn_model_load(cn_model_t *m, const char *path,
                                              cn_net_diag_t *diag);
CN_API CN_WARN_UNUSED cn_status cn_model_to_bytes(uint8_t **buf, size_t *len,
                                                  const cn_model_t *m);
CN_API CN_WARN_UNUSED cn_status cn_model_from_bytes(cn_model_t *m, const uint8_t *buf,
                                                    size_t len, cn_net_diag_t *diag);
/* The float network on raw inputs x[cn_model_inputs]: out[cn_model_outputs]. */
CN_API CN_WARN_UNUSED cn_status cn_model_forward(double *out, const cn_model_t *m,
                                                 const int64_t *x);

/* --- the compiler ------------------------------------------------------------------ */

/* The SIMD the plan's server has, which decides which kernels run and so the cost of
 * each candidate: CN_COST_HOST asks cn_cpu_features() of the compiling process. */
typedef enum {
    CN_COST_HOST = 0,
    CN_COST_PORTABLE = 1,  /* no AVX-512: portable kernels */
    CN_COST_AVX512 = 2,    /* AVX-512 F without IFMA */
    CN_COST_AVX512IFMA = 3 /* AVX-512 IFMA: the fast kernels for primes below 2^50 */
} cn_cost_profile;

/* The calibration criterion of the weight-width search (cn_compile_opts_t). */
typedef enum {
    CN_CALIB_DEFAULT = 0, /* accuracy within a tolerance (labels), or 99.5% agreement */
    CN_CALIB_EXACT = 1    /* every calibration prediction as the float network's */
} cn_calib_criterion;

typedef struct {
    /* Quantization (docs/net.md, "Quantization policy"): each linear layer's weights
     * become round(w * s) with s chosen so the largest |weight| of the layer is 2^b - 1.
     * weight_bits > 0 forces b for every layer. weight_bits = 0 with calibration inputs:
     * the compiler searches a width per layer, the fewest plaintext bits (outputs' range)
     * that meet the calibration criterion below (or, failing that, the widths that come
     * closest); without calibration inputs, 2 bits. */
    unsigned weight_bits;
    const int64_t *calib; /* ncalib inputs of cn_model_inputs raw values each */
    size_t ncalib;
    /* The calibration criterion. CN_CALIB_DEFAULT: with calib_labels, the integer
     * (= encrypted) network's accuracy on the calibration inputs is at most
     * calib_tolerance below the float network's (0 means 0.002: 0.2 points); without
     * labels, at most a fraction calib_tolerance of the calibration predictions (argmax)
     * differ from the float network's (0 means 0.005: 99.5% agree). CN_CALIB_EXACT: every
     * calibration prediction equals the float network's (calib_tolerance unused). */
    double calib_tolerance;
    const int64_t *calib_labels; /* NULL, or ncalib true classes in [0, outputs) */
    cn_calib_criterion calib_criterion;
    /* Encryption parameters; 0 means "the compiler chooses" (docs/net.md). */
    size_t n;             /* ring degree */
    unsigned t_bits;      /* bits of each plaintext modulus */
    size_t nt;            /* number of plaintext moduli (with t_bits: forced) */
    unsigned q_bits;      /* bits of each ciphertext prime */
    size_t nq;            /* number of ciphertext primes (forced chain length) */
    unsigned margin_bits; /* noise budget kept in reserve at the end; 0: 10 */
    cn_security security; /* CN_SEC_128 (0) by default */
    /* The machine the plan will run on, for the cost model (docs/net.md, "Parameters and
     * cost"): the compiler never reads the compiling machine's CPU unless asked to, so a
     * client can compile for a server with other SIMD. */
    cn_cost_profile cost_profile; /* CN_COST_HOST (0): the machine compiling */
    /* Experimental and benchmark knobs (docs/net.md, "Experiments"): baselines for the
     * benchmark's comparisons and the check mode's tests; not for deployments. */
    struct {
        int no_mod_switch;    /* 1: keep every prime to the end */
        int eager_relin;      /* 1: relinearize right after every square instead of just
                               * before the next square (more relinearizations, smaller
                               * linear layers) */
        int allow_undersized; /* 1: accept parameters whose noise estimate misses the
                               * margin (tests of the check mode) */
        int chunked_bound;    /* unused since the memory bound counts the server's
                               * chunked evaluation of the first segment by default
                               * (docs/net.md, "Chunked evaluation"); kept so that callers
                               * that set it still compile */
        int layer_bound;      /* 1: the memory bound counts the layer-by-layer peak, as
                               * before issue 17's chunks (MNIST then stays at n = 8192;
                               * the baseline of docs/benchmarks.md's comparisons) */
    } experimental;
    /* Inputs the client will send per request (docs/net.md, "Choosing the layout"):
     * 0 (the default) compiles the batched layout, one input per slot, as always; 1 ..
     * 2^20 lets the compiler choose between the batched and the packed layout
     * (cryptonets/packed.h) by the cost model's seconds for that many inputs; the plan
     * then carries the choice (cryptonets/layout.h). */
    size_t batch_size;
    /* With batch_size: 0 takes the cheaper estimate; 1 forces the batched layout, 2 the
     * packed one (both estimates still reported; for tests and measurements). */
    int force_layout;
    /* Bound on the server's peak memory for one batch, bytes, as the compiler estimates it
     * (cn_plan_memory_estimate; docs/net.md "Parameters and cost"): the parameter search
     * takes the cheapest candidate within it, or, when every candidate the other options
     * allow needs more (e.g. a forced n), the cheapest of all. 0: CN_PLAN_MEMORY_DEFAULT;
     * UINT64_MAX: no bound. */
    uint64_t memory_limit;
} cn_compile_opts_t;

/* The default memory_limit: 1.3 GiB, the MNIST server's peak before issue 17. */
#define CN_PLAN_MEMORY_DEFAULT ((uint64_t)1331 << 20)

typedef struct cn_plan cn_plan_t;

/* Most ops in a plan (linear layers, squares, relinearizations and modulus switches
 * after scheduling; docs/net.md). */
#define CN_PLAN_MAX_OPS 64

/* Compiles model m. diag explains a refusal (CN_ERR_OUT_OF_RANGE: values wider than 126
 * bits; CN_ERR_INSECURE: no parameters meet the noise at this security; ...). */
CN_API CN_WARN_UNUSED cn_status cn_plan_compile(cn_plan_t **plan, const cn_model_t *m,
                                                const cn_compile_opts_t *opts,
                                                cn_net_diag_t *diag);
CN_API void cn_plan_free(cn_plan_t *plan);
/* The plan in a readable form. */
CN_API void cn_plan_print(const cn_plan_t *plan, FILE *f);
CN_API const cn_bfv_params_t *cn_plan_params(const cn_plan_t *plan);
CN_API size_t cn_plan_inputs(const cn_plan_t *plan);
CN_API size_t cn_plan_outputs(const cn_plan_t *plan);
/* The raw input range [*lo, *hi] the plan takes (the model's input_min, input_max):
 * every input value given to the client must lie in it. */
CN_API void cn_plan_input_range(const cn_plan_t *plan, int64_t *lo, int64_t *hi);
/* Calibration inputs whose argmax differs between the plan's integer network and the
 * float network. */
CN_API size_t cn_plan_calibration_mismatches(const cn_plan_t *plan);
/* Weight width (bits of the largest |weight|) of the plan's k-th linear op (0-based, in
 * order; 0 when it has no nonzero weight), and the number of linear ops. */
CN_API size_t cn_plan_linear_layers(const cn_plan_t *plan);
CN_API unsigned cn_plan_layer_weight_bits(const cn_plan_t *plan, size_t k);

/* What the weight-width search saw (docs/net.md, "Quantization policy"): one candidate
 * per row, the Pareto front of plaintext bits against calibration score among the
 * widths it evaluated, the plan's own included. */
#define CN_QUANT_MAX_ROWS 32
typedef struct {
    size_t nlayers;                      /* linear layers of the folded network */
    unsigned char bits[CN_PLAN_MAX_OPS]; /* weight width of each, in order */
    double output_bits;                  /* log2 of the largest |output| (exact ranges) */
    size_t agree;   /* calibration predictions equal to the float network's */
    size_t correct; /* calibration predictions equal to the label (0 without labels) */
    int meets;      /* 1 when the candidate meets the criterion */
    int chosen;     /* 1 for the plan's candidate */
    /* the parameter search on this candidate (moduli = 0: no parameters fit) */
    size_t moduli;   /* plaintext moduli */
    unsigned t_bits; /* bits of each */
    size_t n;
    double log_qp;
    double seconds; /* cost model: seconds per batch of n on one core */
} cn_quant_row_t;
typedef struct {
    size_t ncalib;
    int labelled;         /* the criterion used labels */
    int exact;            /* CN_CALIB_EXACT */
    double tolerance;     /* as applied (fraction) */
    size_t float_correct; /* the float network's correct predictions (labelled) */
    size_t evaluated;     /* candidates the search evaluated */
    size_t nrows;
    cn_quant_row_t rows[CN_QUANT_MAX_ROWS]; /* by output bits, increasing */
} cn_quant_report_t;
/* The search's report: 1 and *rep filled when the compiler searched the widths (not for
 * forced weight_bits, nor for a plan loaded from bytes, which do not carry it), else 0. */
CN_API int cn_plan_quant_report(cn_quant_report_t *rep, const cn_plan_t *plan);
/* The server's estimated peak memory (bytes) for one batch of the plan (docs/net.md,
 * "Parameters and cost"), and the cost model's estimate: seconds per batch on one core,
 * server and client (encryption, decryption) together; *server_s (may be NULL) the
 * server's part (0 for a plan loaded from bytes, which carry the total only). */
CN_API double cn_plan_memory_estimate(const cn_plan_t *plan);
CN_API double cn_plan_cost_estimate(const cn_plan_t *plan, double *server_s);
/* Predicted noise budget (bits) left in the outputs: a lower bound the tests check. */
CN_API double cn_plan_output_budget(const cn_plan_t *plan);
/* 1 when the options forced fewer plaintext moduli than the outputs' range needs: the
 * decrypted outputs then equal the integer network's only modulo T = t_1 ... t_k. */
CN_API int cn_plan_wraps(const cn_plan_t *plan);
/* The scale of the integer outputs: integer output = float output * scale, up to the
 * quantization error (to read the encrypted results as the float network's values). */
CN_API double cn_plan_output_scale(const cn_plan_t *plan);
/* log2 of the largest |output| the range analysis allows (the plaintext bits needed,
 * less the sign bit). */
CN_API double cn_plan_output_bits(const cn_plan_t *plan);
/* Plan bytes (docs/net.md, "Plan format"): a client and a server load the same plan.
 * Loading validates everything: that the ops form a runnable chain; the ranges, which
 * are recomputed (CN_ERR_OUT_OF_RANGE past 126 bits, or when the outputs exceed what
 * the plaintext moduli carry and the plan does not declare wrapping); the noise
 * estimate, recomputed (CN_ERR_NOISE_EXHAUSTED when it leaves no budget). Insecure
 * parameters and plans without budget (tests of the check mode) are refused unless
 * allow_insecure. diag says why. */
CN_API CN_WARN_UNUSED cn_status cn_plan_to_bytes(uint8_t **buf, size_t *len,
                                                 const cn_plan_t *plan);
CN_API CN_WARN_UNUSED cn_status cn_plan_from_bytes(cn_plan_t **plan, const uint8_t *buf,
                                                   size_t len, int allow_insecure,
                                                   cn_net_diag_t *diag);

/* The reference run: the plan on plaintext integers (no encryption). x holds count
 * inputs of cn_plan_inputs raw values each; out count rows of cn_plan_outputs. */
CN_API CN_WARN_UNUSED cn_status cn_plan_eval_plain(cn_int128 *out, const cn_plan_t *plan,
                                                   const int64_t *x, size_t count);

/* --- client and server -------------------------------------------------------------- */

typedef struct cn_client cn_client_t;
typedef struct cn_server cn_server_t;

/* The client: makes keys (fresh randomness from the OS unless rng_seed is given, which
 * is for tests and reproducible benchmarks only and needs CN_RNG_INSECURE_ACK). The
 * client borrows plan: it must stay alive, unchanged, until cn_client_free (the same
 * holds for cn_server_create's plan). One thread at a time per client. A plan of the
 * packed layout (cryptonets/layout.h) is refused with CN_ERR_UNSUPPORTED, as by
 * cn_server_create and cn_client_from_bytes (with the reason in diag). */
CN_API CN_WARN_UNUSED cn_status cn_client_create(cn_client_t **c, const cn_plan_t *plan,
                                                 const uint8_t *rng_seed, uint64_t ack);
CN_API void cn_client_free(cn_client_t *c);
/* Threads for encryption (0, the default: all cores); the bytes do not depend on it. */
CN_API void cn_client_set_threads(cn_client_t *c, int threads);
/* The public evaluation keys the server needs (relinearization key), as bytes. */
CN_API CN_WARN_UNUSED cn_status cn_client_eval_keys(uint8_t **buf, size_t *len, cn_client_t *c);
/* Encrypts count <= n inputs (count rows of cn_plan_inputs raw values, each within the
 * model's input range; CN_ERR_OUT_OF_RANGE otherwise) into one batch of bytes. diag (may
 * be NULL) names a refused input. */
CN_API CN_WARN_UNUSED cn_status cn_client_encrypt(uint8_t **buf, size_t *len, cn_client_t *c,
                                                  const int64_t *x, size_t count,
                                                  cn_net_diag_t *diag);
/* Bytes of the batch cn_client_encrypt writes for this client's plan (the same for any
 * count of inputs); 0 when they do not fit a size_t. */
CN_API size_t cn_client_batch_bytes(const cn_client_t *c);
/* Told by cn_client_encrypt_stream that buf[0, done) is final: done grows from call to
 * call and ends at the batch's length. Called from the encrypting threads, one call at a
 * time; it should return quickly (the encryption waits for it) and must not call into
 * the client. */
typedef void (*cn_client_ready_fn)(void *arg, const uint8_t *buf, size_t done);
/* cn_client_encrypt, handing out the batch while it is written (to send it while the
 * rest is encrypted, docs/net.md "Streamed encryption"): the same bytes as
 * cn_client_encrypt for the same client state (the same seed gives the same batch), into
 * a buffer this call allocates and returns in *buf as cn_client_encrypt does. Each part's
 * header is written first, the records follow in the order they are encrypted (parts in
 * order, GATHER = 32 inputs at a time), and ready(arg, buf, done) is called whenever the
 * final prefix grows: with the header at once, then each run of records, then a part's
 * checksum once it is sealed. buf stays valid (the same address) until the caller frees
 * *buf; bytes at or past done may still change. On an error after ready was first called,
 * *buf still receives the buffer (the caller may be reading its prefix; it frees it when
 * done) and *len 0: the batch was never completed. ready NULL: CN_ERR_INVALID_ARG;
 * otherwise cn_client_encrypt's errors. */
CN_API CN_WARN_UNUSED cn_status cn_client_encrypt_stream(uint8_t **buf, size_t *len,
                                                         cn_client_t *c, const int64_t *x,
                                                         size_t count, cn_client_ready_fn ready,
                                                         void *arg, cn_net_diag_t *diag);
/* cn_client_encrypt_stream (ready NULL: cn_client_encrypt) with every random value of the
 * encryption (each ciphertext's error and the public seed of its uniform half) expanded
 * from seed by the library's ChaCha20 generator (cryptonets/rand.h) instead of drawn from
 * the client's: the same key, inputs and seed give the same bytes on any number of
 * threads, so a batch that must be sent again (an upload retried after a lost connection)
 * can be encrypted again instead of kept (docs/net.md, "Seeded encryption"). The seed is
 * as secret as the key: it gives every error of the batch, and the errors are what hides
 * the inputs from whoever holds the bytes. Draw it fresh from the OS for every batch (e.g.
 * cn_rng_init then cn_rng_bytes), use it for no other inputs (two batches of one seed
 * give away the difference of their inputs), and wipe it once the batch is delivered.
 * The client's own generator is neither used nor advanced. seed NULL: CN_ERR_INVALID_ARG;
 * otherwise cn_client_encrypt_stream's errors and contract. */
CN_API CN_WARN_UNUSED cn_status cn_client_encrypt_seeded(uint8_t **buf, size_t *len,
                                                         cn_client_t *c, const int64_t *x,
                                                         size_t count,
                                                         const uint8_t seed[CN_SEED_BYTES],
                                                         cn_client_ready_fn ready, void *arg,
                                                         cn_net_diag_t *diag);
/* Asked by cn_client_encrypt_window before it writes on: return once the caller no longer
 * needs the batch's bytes before offset need (it has sent or copied them: they will be
 * overwritten), or nonzero to stop the encryption (it then fails with CN_ERR_IO). Called
 * from the encrypting threads, possibly at the same time; it may block. */
typedef int (*cn_client_room_fn)(void *arg, size_t need);
/* cn_client_encrypt_seeded with ready, the same bytes for the same key, inputs and seed,
 * written through a window: of the batch's address range *buf[0, len) only a window of
 * cn_client_window_bytes(c) bytes is memory at any time (a batch of 16,384 MNIST inputs
 * is 629 MB; its window with 2 threads 106 MB), so a client that sends the batch as it
 * is made (docs/net.md, "Streamed encryption") never holds it whole, and the window's
 * pages, made present once, move on with it (mremap) instead of fresh pages faulting in.
 * Before writing past need + window, the encryption calls room(arg, need), need 0 (no
 * byte will be written over: return at once) or a multiple of 2 MiB below len;
 * ready(arg, buf, done) says, as for cn_client_encrypt_stream, that buf[0, done) is
 * final; bytes before the offset the caller last let room pass are no longer mapped
 * (reading them faults). When the encryption fails after ready was first called,
 * ready(arg, NULL, 0) is called once (from an encrypting thread) so that a room waiting
 * in another thread for bytes that will not come can return (nonzero: stop). The buffer
 * (also on an error after ready was first called, with *len 0) is released with
 * cn_client_batch_free, not free. A batch no longer than the window is whole in memory.
 * seed, ready or room NULL: CN_ERR_INVALID_ARG; room saying stop: CN_ERR_IO; the kernel
 * refusing to map the window: CN_ERR_NO_MEMORY; otherwise cn_client_encrypt_seeded's
 * errors (the first error wins over the stops it caused). Thread-safety as
 * cn_client_encrypt (one call per client at a time). Linux only (mmap, mremap). */
CN_API CN_WARN_UNUSED cn_status cn_client_encrypt_window(
    uint8_t **buf, size_t *len, cn_client_t *c, const int64_t *x, size_t count,
    const uint8_t seed[CN_SEED_BYTES], cn_client_ready_fn ready, cn_client_room_fn room,
    void *arg, cn_net_diag_t *diag);
/* Bytes of memory behind cn_client_encrypt_window's batch for this client's threads
 * (cn_client_set_threads): (threads + 2) work items of 32 ciphertexts, rounded up to
 * 2 MiB, and 2 MiB more. */
CN_API size_t cn_client_window_bytes(const cn_client_t *c);
/* Releases a batch of cn_client_encrypt_window. NULL: nothing. */
CN_API void cn_client_batch_free(uint8_t *buf);
/* Decrypts the server's reply into out[count][cn_plan_outputs]. CN_ERR_NOISE_EXHAUSTED
 * if a result cannot be trusted; CN_ERR_FORMAT, CN_ERR_TRUNCATED, CN_ERR_SHAPE_MISMATCH
 * or CN_ERR_CONTEXT_MISMATCH for bytes that are not a reply of this plan and key, with
 * the reason in diag (may be NULL). */
CN_API CN_WARN_UNUSED cn_status cn_client_decrypt(cn_int128 *out, cn_client_t *c,
                                                  const uint8_t *buf, size_t len, size_t count,
                                                  cn_net_diag_t *diag);
/* Smallest noise budget (bits) of the ciphertexts in a reply (secret key holder only). */
CN_API CN_WARN_UNUSED cn_status cn_client_reply_budget(int *bits, cn_client_t *c,
                                                       const uint8_t *buf, size_t len,
                                                       cn_net_diag_t *diag);

/* The client's secret state (docs/cli.md, "Client state format"): the secret key and the
 * SHA-256 of the bytes of the plan it belongs to, so that a client can encrypt in one
 * process and decrypt in another. The relinearization key is not part of it: a loaded
 * client makes a fresh one for cn_client_eval_keys, and evaluation keys given out before
 * stay valid (both are derived from the same secret key). A loaded client encrypts with
 * fresh randomness from the OS. Loading checks the magic, version, lengths and checksum,
 * then the plan: a state made for another plan is refused with CN_ERR_CONTEXT_MISMATCH
 * ("this key was made for another plan"); diag (may be NULL) says why. The plan is
 * borrowed, as by cn_client_create. */
/* The state as bytes, as secret as the key: release them with cn_client_state_free,
 * which wipes them. */
CN_API CN_WARN_UNUSED cn_status cn_client_to_bytes(uint8_t **buf, size_t *len,
                                                   const cn_client_t *c);
CN_API void cn_client_state_free(uint8_t *buf, size_t len);
CN_API CN_WARN_UNUSED cn_status cn_client_from_bytes(cn_client_t **c, const cn_plan_t *plan,
                                                     const uint8_t *buf, size_t len,
                                                     cn_net_diag_t *diag);
/* The state as a file of mode 0600: written whole to PATH.partial-PID, synced, then
 * renamed over path, so a failure at any point leaves path as it was (an existing key is
 * never lost or left half-written; CN_ERR_IO with the path and reason in diag). Every buffer
 * that held secret bytes is wiped; no stdio buffer ever holds them. */
CN_API CN_WARN_UNUSED cn_status cn_client_save(const cn_client_t *c, const char *path,
                                               cn_net_diag_t *diag);
CN_API CN_WARN_UNUSED cn_status cn_client_load(cn_client_t **c, const cn_plan_t *plan,
                                               const char *path, cn_net_diag_t *diag);

/* Check mode (secret key holder only): runs the plan encrypted on x (count inputs) op by
 * op, decrypts every ciphertext after every op and compares every slot with the integer
 * network (modulo each t_i), then the outputs exactly. The report names the first op
 * that differs and why: its noise budget ran out (CN_CHECK_NOISE), or the outputs'
 * range exceeds the plaintext moduli (CN_CHECK_OVERFLOW). Slow: a debugging aid. */
typedef enum {
    CN_CHECK_OK = 0,
    CN_CHECK_NOISE = 1,
    CN_CHECK_OVERFLOW = 2,
    CN_CHECK_OTHER = 3
} cn_check_reason;
typedef struct {
    cn_check_reason reason;
    size_t op;      /* first op (1-based) whose decryption differs; 0 if none */
    int min_budget; /* smallest noise budget (bits) measured after the last op run */
    char msg[256];
} cn_check_report_t;
CN_API CN_WARN_UNUSED cn_status cn_client_check(cn_check_report_t *rep, cn_client_t *c,
                                                const int64_t *x, size_t count);

/* Seconds spent in each step of the last cn_server_eval: "load", one per op of the plan
 * ("1:linear", "2:square", ...; summed over the plaintext moduli), then "save". */
typedef struct {
    size_t nsteps;
    char name[CN_PLAN_MAX_OPS + 2][24];
    double seconds[CN_PLAN_MAX_OPS + 2];
} cn_server_timing_t;

/* The server: the plan and the client's public evaluation keys (bytes); there is no way
 * to give it a secret key (a secret key's bytes are refused as the wrong type). threads
 * = 0: all cores. diag (may be NULL) says why key bytes were refused: what they are and
 * what the plan needs. */
CN_API CN_WARN_UNUSED cn_status cn_server_create(cn_server_t **s, const cn_plan_t *plan,
                                                 const uint8_t *keys, size_t len, int threads,
                                                 cn_net_diag_t *diag);
CN_API void cn_server_free(cn_server_t *s);
/* How the server evaluates linear layers. CN_LINEAR_BLOCKED (the default): tiles of
 * coefficients of every input, all outputs of the layer per tile, lazy reduction, SIMD
 * kernels. CN_LINEAR_PER_CIPHERTEXT: one ciphertext scalar product and addition per
 * weight through the public BFV API (what a general-purpose HE library does): the
 * baseline the benchmark compares against. Both give identical bytes. */
typedef enum { CN_LINEAR_BLOCKED = 0, CN_LINEAR_PER_CIPHERTEXT = 1 } cn_linear_mode;
CN_API CN_WARN_UNUSED cn_status cn_server_set_linear_mode(cn_server_t *s, cn_linear_mode mode);
/* Evaluates the plan on an encrypted batch; reply bytes in *out (free with free()).
 * Bytes that are not a batch for this plan and key are refused (CN_ERR_FORMAT,
 * CN_ERR_TRUNCATED, CN_ERR_SHAPE_MISMATCH, CN_ERR_CONTEXT_MISMATCH) with the part,
 * ciphertext and reason in diag (may be NULL). timing may be NULL. Calls on one server
 * from several threads at once are safe (the server is not modified), each with its own
 * diag and timing. */
CN_API CN_WARN_UNUSED cn_status cn_server_eval(uint8_t **out, size_t *outlen, cn_server_t *s,
                                               const uint8_t *in, size_t len,
                                               cn_server_timing_t *timing, cn_net_diag_t *diag);

#ifdef __cplusplus
}
#endif

#endif
