/* The packed (latency) layout (docs/net.md, "Packed layout"): the values of one input in
 * the slots of a few ciphertexts, instead of one input per slot as the batched layout of
 * cryptonets/net.h. A compiled plan's integer network (linear layers and squares) runs
 * on it with the same exact integer results:
 *   - the first linear layer in LoLa's convolution representation (Brutzkus, Elisha,
 *     Gilad-Bachrach, ICML 2019, section 4): the client lays out, for every term k of
 *     the layer's rows, the input value each output reads as its k-th term; the server
 *     multiplies by plaintext weight vectors, adds, and folds the blocks by rotations;
 *   - every other linear layer by generalized diagonals (Halevi, Shoup, CRYPTO 2014) with
 *     baby-step giant-step rotations, the baby steps hoisted (Halevi, Shoup, CRYPTO 2018);
 *   - squares as ciphertext squares, relinearized before the next rotation.
 * Several inputs share the ciphertexts, interleaved slot by slot (up to n / 2^k per
 * ciphertext set, 2^k the largest layer width rounded up to a power of two; more inputs
 * take further ciphertext sets).
 *
 * Keys: a relinearization key and Galois keys for exactly the rotations the layout uses
 * (cn_packed_galois_elts). Parameters are chosen for the layout (the rotations and the
 * products with plaintext vectors cost noise the batched plan does not have). */
#ifndef CRYPTONETS_PACKED_H
#define CRYPTONETS_PACKED_H

#include "cryptonets/net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    size_t batch;         /* inputs per request the layout is built for (1 .. 2^20) */
    size_t n;             /* ring degree; 0: chosen (8192 .. 32768 at the security level) */
    unsigned t_bits;      /* plaintext prime size; 0: chosen */
    unsigned q_bits;      /* ciphertext prime size; 0: chosen */
    size_t nq;            /* ciphertext primes; 0: chosen */
    unsigned margin_bits; /* noise budget kept at the end; 0: 10 */
    cn_security security; /* CN_SEC_128 (0) by default */
    size_t baby;          /* baby steps of the diagonal layers (a power of two); 0: the
                           * square root of the diagonals, rounded down to a power of 2 */
    size_t first_blocks;  /* blocks per row the first layer fills (a power of two; the
                           * client repeats them along the row): fewer mean fewer folds,
                           * so fewer Galois keys at the top level, for more uploaded
                           * ciphertexts; 0: every block of the row (docs/net.md, "Keys") */
    size_t digit_primes;  /* primes per key-switching digit of every key (1: one per prime,
                           * the keys of before); 0: per key, as many as keep the noise
                           * estimate within half a bit (docs/net.md, "Keys"). Plans do not
                           * record it (a loaded plan chooses per key) */
    size_t max_key_bytes; /* a bound on the evaluation keys' bytes (0: the default,
                           * CN_PACKED_KEY_BYTES_DEFAULT; CN_PACKED_KEYS_UNBOUNDED: none):
                           * the cheapest layout in the cost model whose keys fit, chosen
                           * through the modulus switches' drops, where the first layer
                           * switches, and the 8 cheapest parameter sets; else the
                           * cheapest, with a note (docs/net.md, "The key bound"). Plans
                           * record the choices, not the bound */
} cn_packed_opts_t;

/* The default key bound: the 40 MB of Galois and relinearization keys of issue 16. */
#define CN_PACKED_KEY_BYTES_DEFAULT ((size_t)40000000)
#define CN_PACKED_KEYS_UNBOUNDED ((size_t)-1)

typedef struct cn_packed cn_packed_t;

/* The packed layout of plan's integer network for opts->batch inputs per request. The
 * plan is borrowed (it must outlive the layout). CN_ERR_UNSUPPORTED (a plan that does not
 * start with a linear layer; a layer wider than n/2 slots), CN_ERR_NOISE_EXHAUSTED or
 * CN_ERR_INSECURE (no parameters fit), with the reason in diag. */
CN_API CN_WARN_UNUSED cn_status cn_packed_create(cn_packed_t **pk, const cn_plan_t *plan,
                                                 const cn_packed_opts_t *opts,
                                                 cn_net_diag_t *diag);
CN_API void cn_packed_free(cn_packed_t *pk);
CN_API void cn_packed_print(const cn_packed_t *pk, FILE *f);
CN_API const cn_bfv_params_t *cn_packed_params(const cn_packed_t *pk);
/* The largest number of inputs per request (opts->batch). */
CN_API size_t cn_packed_batch(const cn_packed_t *pk);
/* Estimated noise budget (bits) left in the outputs: a lower bound the tests check. */
CN_API double cn_packed_output_budget(const cn_packed_t *pk);
/* The bytes of the evaluation keys the client makes for this layout
 * (cn_packed_client_eval_keys: the relinearization key and the Galois keys at their
 * levels and digits, seeded; docs/format.md), without making them. */
CN_API uint64_t cn_packed_key_bytes(const cn_packed_t *pk);
/* The Galois elements of every rotation the server applies (row rotations and, when
 * used, the column swap), ascending; returns their number and writes at most cap. */
CN_API size_t cn_packed_galois_elts(const cn_packed_t *pk, uint64_t *elts, size_t cap);

typedef struct cn_packed_client cn_packed_client_t;
typedef struct cn_packed_server cn_packed_server_t;

/* As cn_client_create (rng_seed: tests and reproducible benchmarks only, with
 * CN_RNG_INSECURE_ACK). The layout is borrowed. */
CN_API CN_WARN_UNUSED cn_status cn_packed_client_create(cn_packed_client_t **c,
                                                        const cn_packed_t *pk,
                                                        const uint8_t *rng_seed, uint64_t ack);
CN_API void cn_packed_client_free(cn_packed_client_t *c);
CN_API void cn_packed_client_set_threads(cn_packed_client_t *c, int threads);
/* The evaluation keys: a relinearization key object (when the network squares) then a
 * Galois keys object (format.md), back to back. */
CN_API CN_WARN_UNUSED cn_status cn_packed_client_eval_keys(uint8_t **buf, size_t *len,
                                                           cn_packed_client_t *c);
/* Encrypts count (1 .. cn_packed_batch) inputs of cn_plan_inputs raw values each:
 * one ciphertext batch object per plaintext modulus (docs/net.md, "Packed layout"). */
CN_API CN_WARN_UNUSED cn_status cn_packed_client_encrypt(uint8_t **buf, size_t *len,
                                                         cn_packed_client_t *c,
                                                         const int64_t *x, size_t count,
                                                         cn_net_diag_t *diag);
/* out[count][cn_plan_outputs] from the server's reply; errors as cn_client_decrypt. */
CN_API CN_WARN_UNUSED cn_status cn_packed_client_decrypt(cn_int128 *out, cn_packed_client_t *c,
                                                         const uint8_t *buf, size_t len,
                                                         size_t count, cn_net_diag_t *diag);
/* Smallest noise budget (bits) of the ciphertexts of a reply. */
CN_API CN_WARN_UNUSED cn_status cn_packed_client_reply_budget(int *bits, cn_packed_client_t *c,
                                                              const uint8_t *buf, size_t len,
                                                              cn_net_diag_t *diag);

/* Check mode (secret key holder only; docs/net.md, "Packed layout", "Check mode"): as
 * cn_client_check for the packed layout. Runs the layout on x (count inputs, 1 ..
 * cn_packed_batch) through a server made from the client's own evaluation keys, one op of
 * cn_packed_print's list at a time with the server's code, decrypts after every op and
 * compares every slot the layout defines (each input's positions, both row copies when
 * they are replicas) with the plan's integer network modulo each t_i, then the outputs
 * exactly. rep->op is the first differing op (1-based, in the layout's op list; 0 if
 * none), rep->min_budget the smallest noise budget measured. Slow: a debugging aid. */
CN_API CN_WARN_UNUSED cn_status cn_packed_client_check(cn_check_report_t *rep,
                                                       cn_packed_client_t *c, const int64_t *x,
                                                       size_t count);

/* What one cn_packed_server_eval did: seconds per step, rotations (key switches), the
 * distinct Galois elements applied (ascending), products with plaintext vectors. The
 * seconds are wall-clock: the steps that run on several threads at once (first to
 * modswitch) share the wall time of that part in proportion to their thread time, so
 * load + ... + save is about the call's time, whatever the thread count. */
typedef struct {
    double load_s, first_s, square_s, relin_s, diag_s, modswitch_s, save_s;
    size_t rotations, hoisted, products;
    size_t nelts;
    uint64_t elts[128];
} cn_packed_stats_t;

/* The server: the layout and the client's evaluation keys (bytes). threads = 0: all
 * cores. Creating it encodes every weight vector (per plaintext modulus). */
CN_API CN_WARN_UNUSED cn_status cn_packed_server_create(cn_packed_server_t **s,
                                                        const cn_packed_t *pk,
                                                        const uint8_t *keys, size_t len,
                                                        int threads, cn_net_diag_t *diag);
CN_API void cn_packed_server_free(cn_packed_server_t *s);
/* Evaluates a request; reply bytes in *out (free with free()). stats may be NULL. */
CN_API CN_WARN_UNUSED cn_status cn_packed_server_eval(uint8_t **out, size_t *outlen,
                                                      cn_packed_server_t *s, const uint8_t *in,
                                                      size_t len, cn_packed_stats_t *stats,
                                                      cn_net_diag_t *diag);

#ifdef __cplusplus
}
#endif

#endif
