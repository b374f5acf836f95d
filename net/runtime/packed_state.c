/* The packed client's state (cryptonets/layout.h; docs/cli.md, "Client state format"):
 * the batched client's format (client.c: the SHA-256 of the plan's bytes and the secret
 * key object) for the packed layout's secret key, so that a packed client can encrypt in
 * one process and decrypt in another. Only a layout a packed plan carries has a state
 * (the plan file is what recreates the layout). */
#include "../packed.h"
#include "runtime.h"

cn_status cn_packed_client_to_bytes(uint8_t **buf, size_t *len, const cn_packed_client_t *c)
{
    const cn_bfv_context_t *ctx;
    const cn_packed_t *pk;
    const cn_bfv_secret_key_t *sk = cn_pk_client_secret(c, &ctx, &pk);
    if (pk->plan->packed != pk)
        return CN_ERR_INVALID_ARG;
    return cn_state_to_bytes(buf, len, pk->plan, sk, ctx);
}

cn_status cn_packed_client_from_bytes(cn_packed_client_t **c, const cn_plan_t *plan,
                                      const uint8_t *buf, size_t len, cn_net_diag_t *diag)
{
    *c = NULL;
    if (diag)
        diag->msg[0] = 0;
    const cn_packed_t *pk;
    cn_status st = cn_plan_packed(&pk, plan, diag);
    if (st != CN_OK)
        return st;
    const uint8_t *key;
    size_t klen;
    st = cn_state_open(&key, &klen, plan, buf, len, diag);
    if (st != CN_OK)
        return st;
    st = cn_pk_client_make(c, pk, NULL, 0, key, klen);
    if (st != CN_OK)
        cn_diag_set(diag, "client state: secret key refused: %s", cn_strerror(st));
    return st;
}

cn_status cn_packed_client_save(const cn_packed_client_t *c, const char *path,
                                cn_net_diag_t *diag)
{
    if (diag)
        diag->msg[0] = 0;
    uint8_t *b;
    size_t len;
    cn_status st = cn_packed_client_to_bytes(&b, &len, c);
    if (st != CN_OK) {
        cn_diag_set(diag, "%s: %s%s", path, cn_strerror(st),
                    st == CN_ERR_INVALID_ARG ? " (a layout no packed plan carries)" : "");
        return st;
    }
    st = cn_state_save(b, len, path, diag);
    cn_client_state_free(b, len);
    return st;
}

cn_status cn_packed_client_load(cn_packed_client_t **c, const cn_plan_t *plan, const char *path,
                                cn_net_diag_t *diag)
{
    *c = NULL;
    if (diag)
        diag->msg[0] = 0;
    uint8_t *b;
    size_t len;
    cn_status st = cn_state_load(&b, &len, path, diag);
    if (st != CN_OK)
        return st;
    cn_net_diag_t d = {{0}};
    st = cn_packed_client_from_bytes(c, plan, b, len, &d);
    if (st != CN_OK)
        cn_diag_set(diag, "%s: %s", path, d.msg);
    cn_client_state_free(b, len ? len : 1);
    return st;
}
