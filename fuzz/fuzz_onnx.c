/* libFuzzer target for the ONNX importer (cn_model_from_onnx_bytes, docs/onnx.md). Built
 * by `make fuzz` like fuzz/fuzz_load.c. protobuf-c decides what parses; the importer's
 * graph walk must then return a status for every graph it is given and never crash,
 * hang, leak or read out of bounds. An accepted model must be a valid model: it saves to
 * bytes that load back, and its float forward pass runs. With CN_FUZZ_SEED_DIR set, the
 * target first writes valid ONNX models there (the CryptoNets-shaped network with and
 * without a final Softmax, and a small one with batch normalization and a polynomial
 * activation, and a program for the structure-aware mode below) as the seed corpus. */
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
    /* a program for the structure-aware mode */
    uint8_t prog[256];
    for (size_t i = 0; i < sizeof prog; i++)
        prog[i] = (uint8_t)(i * 37 + 11);
    prog[0] = 0xFE;
    char path[4096];
    snprintf(path, sizeof path, "%s/seed_program", dir);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(prog, 1, sizeof prog, f);
        fclose(f);
    }
    return 0;
}

/* Structure-aware mode (inputs starting with 0xFE): the bytes are a program that builds
 * a graph of random operators, operands and attributes, so that the graph walk sees far
 * more graphs than byte mutations of valid protobuf would reach. */
typedef struct {
    const uint8_t *p;
    size_t n;
} prog_t;

static unsigned next(prog_t *g)
{
    if (!g->n)
        return 0;
    g->n--;
    return *g->p++;
}

static uint8_t *build_program(const uint8_t *data, size_t size, size_t *len)
{
    static const char *const ops[] = {"Add",
                                      "Sub",
                                      "Mul",
                                      "Div",
                                      "Pow",
                                      "Neg",
                                      "Identity",
                                      "Dropout",
                                      "Conv",
                                      "Gemm",
                                      "MatMul",
                                      "AveragePool",
                                      "GlobalAveragePool",
                                      "BatchNormalization",
                                      "Flatten",
                                      "Reshape",
                                      "Shape",
                                      "Gather",
                                      "Unsqueeze",
                                      "Squeeze",
                                      "Concat",
                                      "Cast",
                                      "Transpose",
                                      "Constant",
                                      "Softmax",
                                      "Relu"};
    static const char *const attrs[] = {
        "pads",      "strides", "kernel_shape", "auto_pad", "axis", "transB",
        "alpha",     "beta",    "group",        "perm",     "axes", "count_include_pad",
        "ceil_mode", "epsilon", "value",        "dilations"};
    prog_t g = {data, size};
    ob_t b;
    ob_init(&b, 6 + next(&g) % 13);
    int64_t in[4] = {-1, 1 + next(&g) % 4, 1 + next(&g) % 6, 1 + next(&g) % 6};
    ob_input(&b, "v0", 2 + next(&g) % 3, in);
    char names[64][8];
    size_t nn = 1;
    snprintf(names[0], 8, "v0");
    /* constants: scalars, vectors, matrices, conv weights, shapes */
    double vals[64];
    for (int i = 0; i < 64; i++)
        vals[i] = ((int)next(&g) - 128) / 32.0;
    const int64_t shapes[6][4] = {{1, 0, 0, 0}, {4, 0, 0, 0}, {4, 4, 0, 0},
                                  {2, 1, 2, 2}, {2, 0, 0, 0}, {3, 0, 0, 0}};
    const size_t ranks[6] = {0, 1, 2, 4, 1, 1};
    for (int i = 0; i < 6; i++) {
        snprintf(names[nn], 8, "c%d", i);
        ob_initializer(&b, names[nn], ranks[i], shapes[i], vals, i == 4 ? 'i' : "frdDfi"[i]);
        nn++;
    }
    const size_t nodes = 1 + next(&g) % 12;
    for (size_t k = 0; k < nodes && nn < 64 && g.n; k++) {
        const char *op = ops[next(&g) % (sizeof ops / sizeof *ops)];
        const size_t nin = next(&g) % 4;
        const char *in_[3];
        for (size_t i = 0; i < nin && i < 3; i++)
            in_[i] = next(&g) & 1 ? names[nn - 1] : names[next(&g) % nn];
        char out[8];
        snprintf(out, 8, "v%zu", nn);
        Onnx__NodeProto *n = nin == 0   ? ob_node(&b, op, out, 0)
                             : nin == 1 ? ob_node(&b, op, out, 1, in_[0])
                             : nin == 2 ? ob_node(&b, op, out, 2, in_[0], in_[1])
                                        : ob_node(&b, op, out, 3, in_[0], in_[1], in_[2]);
        const size_t na = next(&g) % 4;
        for (size_t a = 0; a < na; a++) {
            const char *an = attrs[next(&g) % (sizeof attrs / sizeof *attrs)];
            const unsigned kind = next(&g) % 4;
            int64_t iv[4];
            for (int i = 0; i < 4; i++)
                iv[i] = (int64_t)(next(&g) % 7) - 1;
            if (kind == 0)
                ob_attr_i(&b, n, an, iv[0]);
            else if (kind == 1)
                ob_attr_ints(&b, n, an, 1 + next(&g) % 4, iv);
            else if (kind == 2)
                ob_attr_f(&b, n, an, (float)vals[a]);
            else if (strcmp(an, "value") == 0)
                ob_attr_t(&b, n, an, ob_tensor(&b, "t", 1, shapes[1], vals, 'f'));
            else
                ob_attr_s(&b, n, an, next(&g) & 1 ? "SAME_UPPER" : "VALID");
        }
        memcpy(names[nn++], out, 8);
    }
    ob_output(&b, names[nn - 1]);
    uint8_t *buf = ob_pack(&b, len);
    ob_free(&b);
    return buf;
}

static int import_one(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == 0xFE) {
        size_t len;
        uint8_t *buf = build_program(data + 1, size - 1, &len);
        import_one(buf, len);
        free(buf);
        return 0;
    }
    return import_one(data, size);
}

static int import_one(const uint8_t *data, size_t size)
{
    const cn_onnx_opts_t opts = {.input_min = 0,
                                 .input_max = 255,
                                 .input_scale = 1.0 / 255,
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
    /* cn_model_from_bytes wants at least 68 bytes, so a model of one square or flatten
     * layer (64 bytes) does not load back: a reader issue outside the importer */
    if (cn_model_from_bytes(&m2, buf, len, &d) != CN_OK && len >= 68) {
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
