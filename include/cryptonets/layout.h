/* The layout a plan runs in (docs/net.md, "Choosing the layout"): batched (one input per
 * slot, cryptonets/net.h's client and server) or packed (the inputs of a request in the
 * slots of a few ciphertexts, cryptonets/packed.h). cn_plan_compile chooses between them
 * when cn_compile_opts_t.batch_size is set; the plan bytes carry the choice and the
 * packed layout's options, and loading a packed plan recreates its layout. A batched
 * plan is refused by the packed roles and a packed plan by the batched ones, with the
 * reason in diag. */
#ifndef CRYPTONETS_LAYOUT_H
#define CRYPTONETS_LAYOUT_H

#include "cryptonets/packed.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { CN_LAYOUT_BATCHED = 0, CN_LAYOUT_PACKED = 1 } cn_layout_kind;

/* What the compiler weighed (both estimates: seconds on one core, cost model of
 * docs/net.md, "Parameters and cost" and "Packed layout"). */
typedef struct {
    cn_layout_kind chosen;
    size_t batch_size; /* inputs per request the plan was compiled for (0: not asked) */
    double batched_s;  /* ceil(batch_size / n) batches of the batched plan */
    double packed_s;   /* one request of batch_size inputs in the packed layout; < 0:
                        * no packed layout (why says why) */
    int forced;        /* the choice was forced (cn_compile_opts_t.force_layout) */
    char why[200];     /* the reason, for people */
} cn_layout_report_t;

CN_API cn_layout_kind cn_plan_layout(const cn_plan_t *plan);
/* The compiler's report: 1 and *rep filled when the plan was compiled (or loaded) with
 * a batch size, else 0. */
CN_API int cn_plan_layout_report(cn_layout_report_t *rep, const cn_plan_t *plan);
/* The packed layout a packed plan carries (owned by the plan; *pk valid until
 * cn_plan_free); CN_ERR_UNSUPPORTED with the reason in diag for a batched plan. */
CN_API CN_WARN_UNUSED cn_status cn_plan_packed(const cn_packed_t **pk, const cn_plan_t *plan,
                                               cn_net_diag_t *diag);
/* The options the plan's packed layout is recreated from (with the parameters the
 * compiler chose forced); CN_ERR_UNSUPPORTED for a batched plan. */
CN_API CN_WARN_UNUSED cn_status cn_plan_packed_opts(cn_packed_opts_t *o, const cn_plan_t *plan);

/* The packed client's secret state, as cn_client_to_bytes and friends (net.h, same
 * format: the secret key and the SHA-256 of the plan's bytes): the client of the layout
 * a packed plan carries (cn_plan_packed); CN_ERR_INVALID_ARG for a layout no plan
 * carries. Loading needs the packed plan the key was made for (CN_ERR_CONTEXT_MISMATCH
 * otherwise; CN_ERR_UNSUPPORTED for a batched plan), and the loaded client encrypts with
 * fresh randomness from the OS. Release the bytes with cn_client_state_free. */
CN_API CN_WARN_UNUSED cn_status cn_packed_client_to_bytes(uint8_t **buf, size_t *len,
                                                          const cn_packed_client_t *c);
CN_API CN_WARN_UNUSED cn_status cn_packed_client_from_bytes(cn_packed_client_t **c,
                                                            const cn_plan_t *plan,
                                                            const uint8_t *buf, size_t len,
                                                            cn_net_diag_t *diag);
CN_API CN_WARN_UNUSED cn_status cn_packed_client_save(const cn_packed_client_t *c,
                                                      const char *path, cn_net_diag_t *diag);
CN_API CN_WARN_UNUSED cn_status cn_packed_client_load(cn_packed_client_t **c,
                                                      const cn_plan_t *plan, const char *path,
                                                      cn_net_diag_t *diag);

#ifdef __cplusplus
}
#endif

#endif
