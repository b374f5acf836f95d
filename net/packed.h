/* Internal: the packed layout (cryptonets/packed.h, docs/net.md "Packed layout"), shared
 * by its compiler stage (net/compiler/layout.c: shapes, rotations, noise, parameters)
 * and its roles (net/runtime/packed.c: client and server).
 *
 * Slots. Row r in {0, 1}, column c in [0, n/2); inputs are interleaved with stride s (a
 * power of two): column c = p s + b holds position p in [0, n / (2 s)) of input lane b in
 * [0, s). With rows_distinct, row r holds inputs r s + b; otherwise both rows hold the
 * same inputs (a replica). One ciphertext set carries `per_set` inputs; a request of
 * more takes `nsets` sets. A vector of width w is held with period m = 2^ceil(log2 w):
 * position p holds value p mod m (zero when p mod m >= w). */
#ifndef CN_NET_PACKED_H
#define CN_NET_PACKED_H

#include "net_internal.h"

typedef enum {
    CN_PK_FIRST = 1, /* the client-arranged first linear layer */
    CN_PK_DIAG = 2,  /* a linear layer by diagonals */
    CN_PK_SQUARE = 3,
    CN_PK_RELIN = 4,
    CN_PK_MODSWITCH = 5
} cn_pk_kind;

typedef struct {
    cn_pk_kind kind;
    const cn_lin_t *lin; /* FIRST, DIAG: the plan's layer (borrowed) */
    size_t m_in, m_out;  /* periods of the input and output vectors (positions) */
    /* FIRST: K terms (the longest row), nb blocks per ciphertext, nct ciphertexts; fb
     * distinct blocks per row (a divisor of pos / m_out; the row repeats them), folded
     * by log2 fb rotations */
    size_t K, nb, nct, fb;
    /* DIAG: D = min(m_in, m_out) diagonals = baby * giant */
    size_t D, baby, giant;
    size_t drop;        /* MODSWITCH */
    size_t level, size; /* after the op */
    double noise_bits;  /* estimated log2 ||v|| after the op */
} cn_pk_op_t;

#define CN_PK_MAX_OPS (3 * CN_PLAN_MAX_OPS + 2)

#define CN_PK_MAX_ELTS 128

struct cn_packed {
    const cn_plan_t *plan;
    cn_bfv_params_t prm;
    size_t batch;
    size_t s;          /* interleaving stride */
    int rows_distinct; /* the two rows carry different inputs */
    size_t per_set, nsets;
    size_t pos;            /* positions per row: n / (2 s) */
    size_t first_blocks;   /* the option (cn_packed_opts_t): 0, or a power of two */
    cn_pk_forced_t forced; /* a plan's recorded choices (net/plan/layout_choice.c) */
    size_t nops;
    cn_pk_op_t ops[CN_PK_MAX_OPS];
    size_t nelts;
    uint64_t elts[CN_PK_MAX_ELTS]; /* ascending */
    double budget;
    double cost;
    /* primes per key-switching digit of the client's keys (lib/bfv/digits.c; 0 or 1:
     * one per prime): dp for every key (the option cn_packed_opts_t.digit_primes), or
     * per key, edp[i] for the key of elts[i] and rdp for the relinearization key (0:
     * dp), as many as leave the noise estimate within half a bit (docs/net.md, "Keys") */
    size_t dp;
    size_t edp[CN_PK_MAX_ELTS];
    size_t rdp;
    /* the key-byte bound of the modulus-switch search (cn_packed_opts_t.max_key_bytes;
     * 0: none): drops whose keys fit it (with the per-key digits when per_key) are
     * preferred to cheaper ones; keys_over: the chosen keys exceed it (nothing fit) */
    double key_bound;
    int per_key;
    int keys_over;
    /* the first layer's modulus switch after its folds rather than before (its fold and
     * swap keys at the higher level, where they take more primes per digit) */
    int late_first;
    double fastest_cost; /* seconds (cost model) of the cheapest layout without the bound
                          * (0: not known) */
};

/* cn_packed_create with a plan's recorded choices f (NULL: chosen): a recorded count
 * that does not fit the layout (a baby step count not a power of two or above its
 * layer's diagonals, not one per diagonal layer, drops that do not fit the levels or the
 * noise margin) gives CN_ERR_FORMAT. A plan recreates its layout through it. */
cn_status cn_pk_create(cn_packed_t **out, const cn_plan_t *plan, const cn_packed_opts_t *o,
                       const cn_pk_forced_t *f, cn_net_diag_t *diag);
/* The layout's shapes and rotations for parameters of degree n (no noise yet). */
cn_status cn_pk_shape(cn_packed_t *pk, size_t n, size_t baby, cn_net_diag_t *diag);
/* The drop of the modulus switch that follows op i when op i is a linear layer (which
 * then switches right after its products, before its folds and giant steps), else 0. */
size_t cn_pk_early_drop(const cn_packed_t *pk, size_t i);
/* The noise estimate through pk->ops for pk->prm; returns the final log2 ||v||. */
double cn_pk_noise(cn_packed_t *pk);
/* The level of every key the layout uses (after cn_pk_noise has set the ops' levels):
 * levels[i] (i < pk->nelts) the highest level of a ciphertext that pk->elts[i] rotates;
 * returns the highest level of a ciphertext relinearized (0: none). A key at that level
 * is all the server needs, and smaller than one at level L (cn_bfv_keygen_galois_levels). */
size_t cn_pk_key_levels(const cn_packed_t *pk, size_t *levels);
/* The bytes of the evaluation keys the client sends for pk (relinearization key and
 * Galois keys at their levels, seeded, digits of their primes: docs/format.md). */
double cn_pk_key_bytes(const cn_packed_t *pk);
/* The primes per digit of every key (after cn_pk_noise): dps[i] (i < pk->nelts) for
 * pk->elts[i]; returns the relinearization key's. */
size_t cn_pk_key_digits(const cn_packed_t *pk, size_t *dps);
/* The Galois element of a rotation by `positions` positions (all rows). */
uint64_t cn_pk_elt_rows(const cn_packed_t *pk, size_t positions);
/* The slot index (r n/2 + column) of position p of lane `lane` (input index within the
 * set) in row copy r (r = 0 when rows_distinct: the row follows from the lane). */
size_t cn_pk_slot(const cn_packed_t *pk, size_t lane, size_t p, size_t r);

/* Hooks of the packed client's state (net/runtime/packed_state.c): the client's secret
 * key, context and layout; a client (keys made as by cn_packed_client_create) whose secret key
 * is the lib/io secret key object sk[0, sklen) instead of a fresh one (sk NULL: fresh). */
const cn_bfv_secret_key_t *cn_pk_client_secret(const cn_packed_client_t *c,
                                               const cn_bfv_context_t **ctx,
                                               const cn_packed_t **pk);
cn_status cn_pk_client_make(cn_packed_client_t **out, const cn_packed_t *pk,
                            const uint8_t *rng_seed, uint64_t ack, const uint8_t *sk,
                            size_t sklen);

/* The server's ops [from, to) of one ciphertext set for plaintext modulus ti, the code
 * cn_packed_server_eval runs (the check mode steps through it, net/runtime/packed_check.c):
 * from = 0 reads the first layer's ciphertexts cts[0..nct) and writes *y; later ops
 * transform *y in place. */
cn_status cn_pk_server_ops(cn_bfv_ciphertext_t *y, const cn_bfv_ciphertext_t *cts, size_t ti,
                           size_t from, size_t to, const cn_packed_server_t *s);

#endif
