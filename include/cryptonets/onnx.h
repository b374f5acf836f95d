/* ONNX import: reads an ONNX model (a chain of convolutions, dense layers, average pools,
 * elementwise affine maps, batch normalizations and square or degree-2 polynomial
 * activations) into a cn_model_t (cryptonets/net.h), folding what the model layers do not
 * have (normalization, batch normalization, scalar arithmetic) into the neighbouring
 * linear layers. docs/onnx.md lists the operators and attributes, the folding rules and
 * what is refused; every refusal names the node, its operator and what to use instead.
 * The file is parsed with protobuf-c from the schema of the ONNX project (onnx.proto). */
#ifndef CRYPTONETS_ONNX_H
#define CRYPTONETS_ONNX_H

#include "cryptonets/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the ONNX file does not say: the raw integer inputs the client will encrypt and how
 * they map to the float input of the network (float = raw * input_scale). A zeroed struct
 * (or opts = NULL) means 8-bit pixels fed to the network as raw / 255, which is what
 * PyTorch's ToTensor() produces: input_min = 0, input_max = 255, input_scale = 1/255.
 * Other common cases (docs/onnx.md): pixels as trained on raw 0..255 values: scale 1;
 * signed 8-bit data: [-128, 127]. A normalization the network does itself (x - mean) /
 * std, as a Sub and a Div node, is folded and needs nothing here. */
typedef struct {
    int64_t input_min, input_max; /* raw range; both 0: [0, 255] */
    double input_scale;           /* > 0; 0: 1/255 */
    int drop_final_softmax;       /* 1: a Softmax or LogSoftmax as the very last node is
                                   * dropped (argmax is unchanged; the model's outputs are
                                   * then the scores before it) and a note says so in
                                   * diag; 0 (default): refused */
} cn_onnx_opts_t;

/* Reads the ONNX model in buf[0..len) into m (zeroed or cleared; cleared on error).
 * Errors: CN_ERR_FORMAT (not an ONNX model, or an inconsistent graph: a missing input,
 * a tensor whose data does not match its shape), CN_ERR_VERSION (an opset outside the
 * supported range), CN_ERR_UNSUPPORTED (an operator, attribute or graph shape the
 * model layers cannot represent: the diag names the node and what to do instead),
 * CN_ERR_SHAPE_MISMATCH (shapes that do not fit, or exceed the model limits),
 * CN_ERR_INVALID_ARG (opts, or non-finite weights), CN_ERR_NO_MEMORY. diag says why;
 * on success it is empty or holds a note (a dropped Softmax). */
CN_API CN_WARN_UNUSED cn_status cn_model_from_onnx_bytes(cn_model_t *m, const uint8_t *buf,
                                                         size_t len, const cn_onnx_opts_t *opts,
                                                         cn_net_diag_t *diag);
/* The same from a file; CN_ERR_IO when it cannot be read. */
CN_API CN_WARN_UNUSED cn_status cn_model_load_onnx(cn_model_t *m, const char *path,
                                                   const cn_onnx_opts_t *opts,
                                                   cn_net_diag_t *diag);

#ifdef __cplusplus
}
#endif

#endif
