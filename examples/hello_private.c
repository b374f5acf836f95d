/* examples/hello_private: private inference with the public API, in one page (docs/net.md).
 *
 * A tiny network (4 inputs -> dense 3 -> square -> dense 2) is built in code and compiled
 * into a plan at 128-bit security. The client makes keys and encrypts three inputs (one per
 * slot); the server gets the plan and the client's public evaluation keys as bytes, and
 * turns encrypted bytes into encrypted bytes; the client decrypts. Exit status 1 if any
 * step fails or a decrypted output differs from the plan's integer network. */
#include <stdio.h>
#include <stdlib.h>

#include "cryptonets/cryptonets.h"

#define NIN 4   /* raw inputs in [0, 15]; the float network sees raw / 15 */
#define NHID 3  /* hidden units, squared */
#define NOUT 2  /* outputs */
#define COUNT 3 /* inputs encrypted in one batch */

/* every call returns a cn_status (CN_OK = 0); on the first failure, report it and stop */
#define TRY(call)                                                                              \
    if ((st = (call)) != CN_OK) {                                                              \
        fprintf(stderr, "hello_private: %s: %s%s%s\n", #call, cn_strerror(st),                 \
                d.msg[0] ? ": " : "", d.msg);                                                  \
        goto done;                                                                             \
    }

int main(void)
{
    static const double w1[NHID * NIN] = {0.5, -1.0, 0.25, 0.8, -0.3, 0.6,
                                          1.0, -0.7, 0.9,  0.1, -0.4, 0.2};
    static const double b1[NHID] = {0.1, -0.2, 0.05};
    static const double w2[NOUT * NHID] = {1.0, -0.5, 0.7, -0.8, 0.4, 0.6}, b2[NOUT] = {0, 0.3};
    static const int64_t x[COUNT * NIN] = {3, 0, 15, 7, 12, 5, 1, 9, 0, 15, 8, 2};
    cn_net_diag_t d = {{0}}; /* the model and plan functions say here why they failed */
    cn_model_t model = {0};
    cn_plan_t *plan = NULL, *server_plan = NULL;
    cn_client_t *client = NULL;
    cn_server_t *server = NULL;
    uint8_t *plan_bytes = NULL, *keys = NULL, *up = NULL, *down = NULL;
    size_t plan_len, keys_len, up_len, down_len;
    cn_int128 ref[COUNT * NOUT], got[COUNT * NOUT];
    double flt[NOUT];
    cn_status st;
    int differ = 0;

    /* the model, and its plan: the compiler quantizes the weights (checking the predictions
     * on the calibration inputs) and chooses the encryption parameters */
    TRY(cn_model_init(&model, 1, 1, NIN, 1.0 / 15, 0, 15));
    TRY(cn_model_add_dense(&model, NHID, w1, b1, &d));
    TRY(cn_model_add_square(&model, &d));
    TRY(cn_model_add_dense(&model, NOUT, w2, b2, &d));
    const cn_compile_opts_t opts = {.calib = x, .ncalib = COUNT, .security = CN_SEC_128};
    TRY(cn_plan_compile(&plan, &model, &opts, &d));
    cn_plan_print(plan, stdout);

    /* client: keys from the OS's randomness; the plan, evaluation keys and batch as bytes */
    TRY(cn_plan_to_bytes(&plan_bytes, &plan_len, plan));
    TRY(cn_client_create(&client, plan, NULL, 0));
    TRY(cn_client_eval_keys(&keys, &keys_len, client));
    TRY(cn_client_encrypt(&up, &up_len, client, x, COUNT, &d));
    /* server: gets bytes only (plan, public keys, batch) and returns the encrypted outputs */
    TRY(cn_plan_from_bytes(&server_plan, plan_bytes, plan_len, 0, &d));
    TRY(cn_server_create(&server, server_plan, keys, keys_len, 0, &d));
    TRY(cn_server_eval(&down, &down_len, server, up, up_len, NULL, &d));
    /* client: decrypt; the reference is the same integer network run in the clear */
    TRY(cn_client_decrypt(got, client, down, down_len, COUNT, &d));
    TRY(cn_plan_eval_plain(ref, plan, x, COUNT));

    printf("\ninput          float network     integer reference    decrypted\n");
    for (size_t s = 0; s < COUNT; s++) {
        const int64_t *in = x + s * NIN;
        const cn_int128 *r = ref + s * NOUT, *g = got + s * NOUT; /* |values| < 2^53 here */
        TRY(cn_model_forward(flt, &model, in));
        printf("%2d %2d %2d %2d   %7.3f %7.3f   %9.0f %9.0f   %9.0f %9.0f\n", (int)in[0],
               (int)in[1], (int)in[2], (int)in[3], flt[0], flt[1], (double)r[0], (double)r[1],
               (double)g[0], (double)g[1]);
        differ |= r[0] != g[0] || r[1] != g[1];
    }
    printf("integer output = float output * %.6g, up to the weights' rounding\n",
           cn_plan_output_scale(plan));
    puts(differ ? "ERROR: decrypted outputs differ from the integer reference"
                : "every decrypted output equals the integer reference");
done:
    free(down);
    free(up);
    free(keys);
    free(plan_bytes);
    cn_server_free(server);
    cn_plan_free(server_plan);
    cn_client_free(client);
    cn_plan_free(plan);
    cn_model_clear(&model);
    return st != CN_OK || differ;
}
