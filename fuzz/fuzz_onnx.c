/* libFuzzer target for the ONNX importer (cn_model_from_onnx_bytes, docs/onnx.md). Built
 * by `make fuzz` like fuzz/fuzz_load.c. protobuf-c decides what parses; the importer's
 * graph walk must then return a status for every graph it is given and never crash,
 * hang, leak or read out of bounds. An accepted model must be a valid model: it saves to
 * bytes that load back, and its float forward pass runs. With CN_FUZZ_SEED_DIR set, the
 * target first writes valid ONNX models there (the CryptoNets-shaped network with and
 * without a final Softmax, and a small one with batch normalization and a polynomial
 * activation) as the seed corpus. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cryptonets/cryptonets.h"
#include "../tests/onnx/onnx_build.h"

static void write_seed(const char *dir, const char *name, ob_t *b)
{
    size_t len;
    uint8_t *buf = ob_pack(b, &len);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(buf, 1, len, f);
        fclose(f);
    }
    free(buf);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("CN_FUZZ_SEED_DIR");
    if (!dir)
        return 0;
    static ob_cnet_t c;
    ob_cnet_weights(&c);
    for (int sm = 0; sm < 2; sm++) {
        ob_t b;
        ob_cnet(&b, &c, sm);
        write_seed(dir, sm ? "seed_cnet_softmax.onnx" : "seed_cnet.onnx", &b);
        ob_free(&b);
    }
    static ob_small_t sm;
    ob_small_weights(&sm);
    ob_t b;
    ob_small(&b, &sm);
    write_seed(dir, "seed_small.onnx", &b);
    ob_free(&b);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const cn_onnx_opts_t opts = {.input_min = 0, .input_max = 255, .input_scale = 1.0 / 255,
                                 .drop_final_softmax = size & 1};
    cn_model_t m;
    cn_net_diag_t d;
    if (cn_model_from_onnx_bytes(&m, data, size, &opts, &d) != CN_OK)
        return 0;
    uint8_t *buf;
    size_t len;
    if (cn_model_to_bytes(&buf, &len, &m) != CN_OK)
        abort();
    cn_model_t m2;
    if (cn_model_from_bytes(&m2, buf, len, &d) != CN_OK) {
        fprintf(stderr, "an imported model does not load back: %s\n", d.msg);
        abort();
    }
    cn_model_clear(&m2);
    free(buf);
    const size_t nin = cn_model_inputs(&m), nout = cn_model_outputs(&m);
    int64_t *x = calloc(nin, sizeof *x);
    double *y = malloc(nout * sizeof *y);
    if (x && y && cn_model_forward(y, &m, x) != CN_OK)
        abort();
    free(x);
    free(y);
    cn_model_clear(&m);
    return 0;
}
