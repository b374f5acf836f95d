/* What the runtime's files share (docs/net.md): the client and server objects, an owned
 * vector of ciphertexts, the wire framing of batches, one linear layer and one server
 * step. Files:
 *   wire.c          batch bytes: one ciphertext-batch object per plaintext modulus
 *   client.c        keys, encryption, decryption with CRT decoding, client state files
 *   server.c        the op loop on an encrypted batch
 *   linear_layer.c  a linear layer on ciphertexts (blocked kernels, or one at a time)
 *   pool.c          the server's polynomial buffers, reused across layers and batches
 *   check.c         check mode: the server's steps, decrypted after each op
 *   evalkeys.c      the evaluation-key bytes: relinearization and Galois keys */
#ifndef CN_NET_RUNTIME_H
#define CN_NET_RUNTIME_H

#include "../net_internal.h"

/* The client state (client.c; docs/cli.md, "Client state format"), shared by the
 * batched and the packed client (packed_state.c): bytes of a secret key for a plan; the
 * key object in such bytes, once their plan digest is checked; a state file written with
 * mode 0600 and read back (release the bytes with cn_client_state_free). */
cn_status cn_state_to_bytes(uint8_t **buf, size_t *len, const cn_plan_t *plan,
                            const cn_bfv_secret_key_t *sk, const cn_bfv_context_t *ctx);
cn_status cn_state_open(const uint8_t **key, size_t *klen, const cn_plan_t *plan,
                        const uint8_t *frame, size_t flen, cn_net_diag_t *diag);
cn_status cn_state_save(const uint8_t *b, size_t len, const char *path, cn_net_diag_t *diag);
cn_status cn_state_load(uint8_t **b, size_t *len, const char *path, cn_net_diag_t *diag);

struct cn_client {
    const cn_plan_t *plan; /* borrowed: outlives the client (net.h) */
    int threads;
    cn_bfv_context_t *ctx;
    cn_rng_t rng;
    cn_bfv_secret_key_t sk;
    cn_bfv_relin_key_t rk;
    int has_rk;
    cn_bfv_galois_keys_t gk; /* the plan's rotations (evalkeys.c) */
    int has_gk;
};

/* The server's polynomial buffers (pool.c): an arena of cap blocks of L rows of n words
 * and a stack of the free ones. */
typedef struct {
    uint64_t *base; /* the arena (page aligned), or NULL: every block from malloc */
    size_t cap;     /* blocks in the arena */
    size_t words;   /* words from one block to the next: n * L and five cache lines */
    size_t n, L;
    uint64_t **free_; /* [cap] */
    size_t nfree;
    size_t misses; /* blocks taken from malloc because the arena was empty */
} cn_pool_t;

struct cn_server {
    const cn_plan_t *plan; /* borrowed: outlives the server (net.h) */
    cn_bfv_context_t *ctx;
    cn_pool_t *pool; /* the buffers of every batch; shared by its threads (locked) */
    cn_bfv_relin_key_t rk;
    int has_rk;
    cn_bfv_galois_keys_t gk; /* the plan's rotations (evalkeys.c) */
    int has_gk;
    int threads;
    cn_linear_mode linear_mode;
    cn_segment_t seg; /* the first segment's chunks (seg.nchunks 0: layer by layer) */
};

/* An owned vector of ciphertexts (one per value of a layer, one plaintext modulus). */
typedef struct {
    cn_bfv_ciphertext_t *ct;
    size_t len;
} cn_ctvec_t;

/* Clears every ciphertext and frees the vector; v is then empty. */
void cn_ctvec_clear(cn_ctvec_t *v);

/* The one idiom for a cn_status from the iterations of an OpenMP loop: a failing
 * iteration stores its status under a named critical section (which failure is kept
 * when several fail is unspecified; the loop runs to its end). Without OpenMP the pragma
 * is ignored and the last failure is kept.
 *     #pragma omp parallel for
 *     for (long i = 0; i < n; i++)
 *         CN_OMP_COLLECT(st, work(i)); */
#define CN_OMP_COLLECT(st, expr)                                                               \
    do {                                                                                       \
        const cn_status cn_omp_e_ = (expr);                                                    \
        if (cn_omp_e_ != CN_OK) {                                                              \
            _Pragma("omp critical(cn_omp_collect)")(st) = cn_omp_e_;                           \
        }                                                                                      \
    } while (0)

/* threads = 0: every core OpenMP offers */
int cn_nthreads(int threads);
int cn_plan_needs_relin(const cn_plan_t *p);

/* --- evalkeys.c: the evaluation-key bytes (docs/format.md, "Evaluation keys of net/") */

/* The Galois elements the plan's ops rotate by (none in the batched layout): how many,
 * and the first min(that, max) of them in elts (which may be NULL when max is 0). */
size_t cn_plan_galois_elts(const cn_plan_t *p, uint64_t *elts, size_t max);
/* The client's Galois keys: exactly the plan's elements (has_gk stays 0 without any);
 * _elts: exactly elts[0..count) instead (replacing earlier ones). */
cn_status cn_client_make_galois(cn_client_t *c);
cn_status cn_client_make_galois_elts(cn_client_t *c, const uint64_t *elts, size_t count);
/* The bytes of the client's evaluation keys (malloc'ed). */
cn_status cn_evalkeys_save(uint8_t **buf, size_t *len, const cn_client_t *c);
/* The server's keys (s->rk, s->gk) from the bytes, checked against s->plan; why they are
 * refused in diag. */
cn_status cn_evalkeys_load(cn_server_t *s, const uint8_t *keys, size_t len,
                           cn_net_diag_t *diag);
/* As cn_evalkeys_load, with need[0..ng) in place of the plan's Galois elements (s->plan
 * still says whether a relinearization key comes first). */
cn_status cn_evalkeys_load_elts(cn_server_t *s, const uint8_t *keys, size_t len,
                                const uint64_t *need, size_t ng, cn_net_diag_t *diag);

/* --- wire.c: batch bytes are nt ciphertext-batch objects (format.md), one per
 * plaintext modulus in order, each of the same count ------------------------------ */

/* Checks that buf holds exactly nt parts and finds part ti (*off, *plen). */
cn_status cn_wire_find_part(size_t *off, size_t *plen, const uint8_t *buf, size_t len,
                            size_t nt, size_t ti, cn_net_diag_t *diag);
/* Part ti as exactly count ciphertexts of plaintext modulus ti: records decoded at their
 * offsets and seeds expanded on threads threads, into blocks of pool (NULL: malloc; v is
 * then released by cn_ctvec_clear, else by cn_pool_put_vec). */
cn_status cn_wire_load_part(cn_ctvec_t *v, const uint8_t *buf, size_t len, size_t nt, size_t ti,
                            size_t count, const cn_bfv_context_t *ctx, cn_pool_t *pool,
                            int threads, cn_net_diag_t *diag);
/* Every part: v[0..nt), count ciphertexts each. */
cn_status cn_wire_load_all(cn_ctvec_t *v, const uint8_t *buf, size_t len, size_t nt,
                           size_t count, const cn_bfv_context_t *ctx, cn_net_diag_t *diag);
/* Writes v[0..nt) (each of equal length) as batch bytes. */
cn_status cn_wire_save(uint8_t **buf, size_t *len, const cn_ctvec_t *v, size_t nt,
                       const cn_bfv_context_t *ctx, int threads);

/* --- pool.c: every polynomial of the server's ciphertexts is a block of the pool or a
 * buffer malloc gave (the library's, or the pool's when its arena is empty) ---------- */

/* An arena of `blocks` blocks for polynomials of ring degree n and up to L rows,
 * reserved, not touched (blocks 0: no arena). CN_ERR_NO_MEMORY. */
cn_status cn_pool_init(cn_pool_t *p, size_t blocks, size_t n, size_t L);
void cn_pool_clear(cn_pool_t *p);
/* ct gets exactly `size` polynomials of `level` rows, in coefficient form and of
 * unspecified contents (its own kept where they fit, the others given back), so that a
 * library function writing a ciphertext of that shape into ct allocates and frees
 * nothing. Sets size, level and the fingerprint. p may be NULL (malloc). Thread-safe. */
cn_status cn_pool_shape(cn_pool_t *p, cn_bfv_ciphertext_t *ct, size_t size, size_t level,
                        const cn_bfv_context_t *ctx);
/* Gives back ct's polynomials (blocks to the arena, other buffers to free); ct is then
 * zeroed. Thread-safe. */
void cn_pool_put(cn_pool_t *p, cn_bfv_ciphertext_t *ct);
/* cn_pool_put on every ciphertext of v, then frees the vector; v is then empty. */
void cn_pool_put_vec(cn_pool_t *p, cn_ctvec_t *v);
/* Blocks the plan's server needs at most at once (one plaintext modulus at a time, on
 * threads threads). */
size_t cn_pool_blocks(const cn_plan_t *plan, int threads);

/* --- linear_layer.c --------------------------------------------------------------- */

/* out[0..lin->nout) = lin(in) with biases, for ciphertexts of plaintext modulus ti, in the
 * server's linear mode. out holds lin->nout zeroed ciphertexts. */
cn_status cn_linear_layer(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *in,
                          const cn_lin_t *lin, size_t ti, const cn_server_t *s);
/* A thread's contiguous copy of one tile of coefficients of nin input rows and nout output
 * rows (net/runtime/linear_layer.c: rows n words apart share cache sets). xs[i] and os[j]
 * point at tile words each. */
typedef struct {
    size_t nin, nout;
    uint64_t *buf;
    uint64_t **xs, **os;
} cn_lin_tiles_t;
cn_status cn_lin_tiles_init(cn_lin_tiles_t *t, size_t nin, size_t nout, size_t tile);
void cn_lin_tiles_clear(cn_lin_tiles_t *t);
/* xs[i][0..len) = x[i][cs..cs+len) */
void cn_lin_tiles_load(cn_lin_tiles_t *t, const uint64_t *const *x, size_t cs, size_t len);
/* out[j][cs..cs+len) = os[j][0..len) */
void cn_lin_tiles_store(uint64_t *const *out, const cn_lin_tiles_t *t, size_t cs, size_t len);
/* The biases alone: out[j] += Delta bias_j (what cn_linear_layer adds after the sums). */
cn_status cn_linear_bias(cn_bfv_ciphertext_t *out, const cn_lin_t *lin, size_t ti,
                         const cn_server_t *s);

/* --- chunked.c: the plan's first segment in chunks (docs/net.md, "Chunked evaluation";
 * the schedule in net/plan/segment.c) ------------------------------------------------- */

/* Part ti of the batch bytes in[0, len) through ops[0 .. s->seg.end] in s->seg's chunks:
 * only the records each chunk reads are decoded, as the window slides; *v = L2's outputs
 * (the same residues as layer by layer), in blocks of s's pool. seconds (NULL: none)
 * [1 + nops] gets the load's and each op's time added (index 0 the load). */
cn_status cn_chunked_part(cn_ctvec_t *v, const uint8_t *in, size_t len, size_t ti,
                          const cn_server_t *s, double *seconds, cn_net_diag_t *diag);
/* The server's chunks: 0 layer by layer, k >= 1 the first segment in k chunks (for tests
 * and measurements; the server takes cn_plan_chunks's at creation). CN_ERR_INVALID_ARG
 * when the plan has no segment or fewer than k outputs of L1. */
cn_status cn_server_set_chunks(cn_server_t *s, size_t chunks);

/* --- server.c ---------------------------------------------------------------------- */

/* Applies op to v (plaintext modulus ti): a linear op replaces v by its outputs. The
 * results are in blocks of s's pool: release v with cn_pool_put_vec(s->pool, v). */
cn_status cn_server_step(cn_ctvec_t *v, const cn_op_t *op, size_t ti, const cn_server_t *s);
/* Applies the element-wise ops ops[0..nops) (squares, relinearizations, switches; no
 * linear op) to v, each ciphertext through all of them in turn on one thread, so that a
 * square's output is switched while it is in cache: the same calls on the same inputs as
 * nops cn_server_step calls, so the same bytes. seconds[o] (if not NULL) += op o's share
 * of the wall time, shared out by the time the threads spent in its calls. */
cn_status cn_server_steps_fused(cn_ctvec_t *v, const cn_op_t *ops, size_t nops,
                                const cn_server_t *s, double *seconds);

/* --- client.c ---------------------------------------------------------------------- */

/* out[count][nout] from v[0..nt) (nout ciphertexts each): decryption (a result whose noise
 * is exhausted is refused), decoding, CRT over the t_i. */
cn_status cn_client_decrypt_outputs(cn_int128 *out, cn_client_t *c, const cn_ctvec_t *v,
                                    size_t count);

#endif
