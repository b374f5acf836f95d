#!/usr/bin/env python3
"""Runs an exported ONNX file with a small numpy interpreter of its operators (written
from the ONNX operator specification, https://onnx.ai/onnx/operators/, not from torch),
in float64, on the MNIST test images; prints the accuracy and the largest difference
from the PyTorch logits in <file>_logits.csv. A check that the export says what the
PyTorch model computed, independent of PyTorch; it knows exactly the operators and
attributes the two example models use, and refuses anything else.

  /usr/bin/python3 examples/pytorch/onnx_check.py tests/fixtures/onnx/cryptonets_mnist.onnx
"""

import argparse
import sys

import numpy as np
import onnx
from onnx import numpy_helper

import mnist_data as md


def attrs_of(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def conv(x, w, b, at):
    """Conv, 2-D, group 1, dilations 1; pads [top, left, bottom, right]."""
    if at.get("group", 1) != 1 or any(d != 1 for d in at.get("dilations", [1, 1])):
        raise ValueError("Conv: only group 1 and dilations 1")
    if at.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise ValueError("Conv: auto_pad not handled here")
    kh, kw = w.shape[2], w.shape[3]
    sh, sw = at.get("strides", [1, 1])
    pt, pl, pb, pr = at.get("pads", [0, 0, 0, 0])
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    oh = (xp.shape[2] - kh) // sh + 1
    ow = (xp.shape[3] - kw) // sw + 1
    out = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for ky in range(kh):
        for kx in range(kw):
            win = xp[:, :, ky:ky + sh * (oh - 1) + 1:sh, kx:kx + sw * (ow - 1) + 1:sw]
            out += np.einsum("nchw,mc->nmhw", win, w[:, :, ky, kx])
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def run_node(node, v):
    at = attrs_of(node)
    ins = [v[i] if i else None for i in node.input]
    op = node.op_type
    if op == "Conv":
        return [conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, at)]
    if op in ("Mul", "Add", "Sub", "Div"):
        f = {"Mul": np.multiply, "Add": np.add, "Sub": np.subtract, "Div": np.divide}[op]
        return [f(ins[0], ins[1])]
    if op == "Flatten":
        axis = at.get("axis", 1)
        x = ins[0]
        return [x.reshape(int(np.prod(x.shape[:axis])), -1)]
    if op == "Gemm":
        a, b = ins[0], ins[1]
        if at.get("transA", 0):
            a = a.T
        if at.get("transB", 0):
            b = b.T
        y = at.get("alpha", 1.0) * (a @ b)
        if len(ins) > 2 and ins[2] is not None:
            y = y + at.get("beta", 1.0) * ins[2]
        return [y]
    if op == "BatchNormalization":
        if at.get("training_mode", 0):
            raise ValueError("BatchNormalization: training mode")
        x, scale, bias, mean, var = ins[:5]
        eps = at.get("epsilon", 1e-5)
        shp = (1, -1) + (1,) * (x.ndim - 2)
        return [(x - mean.reshape(shp)) / np.sqrt(var.reshape(shp) + eps) * scale.reshape(shp)
                + bias.reshape(shp)]
    if op == "Shape":
        return [np.array(ins[0].shape, dtype=np.int64)]
    if op == "Gather":
        return [np.take(ins[0], ins[1], axis=at.get("axis", 0))]
    if op == "Unsqueeze":  # opset 13: axes are the second input
        return [np.expand_dims(ins[0], tuple(int(a) for a in ins[1]))]
    if op == "Concat":
        return [np.concatenate([np.atleast_1d(i) for i in ins], axis=at["axis"])]
    if op == "Reshape":
        x, shape = ins[0], [int(s) for s in ins[1]]
        if at.get("allowzero", 0):
            raise ValueError("Reshape: allowzero not handled here")
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
        return [x.reshape(shape)]
    if op == "Constant":
        return [numpy_helper.to_array(at["value"])]
    if op == "Identity":
        return [ins[0]]
    raise ValueError("operator %s not handled by this checker" % op)


def run_graph(m, x):
    v = {}
    for t in m.graph.initializer:
        a = numpy_helper.to_array(t)
        v[t.name] = a.astype(np.float64) if a.dtype.kind == "f" else a
    v[m.graph.input[0].name] = x.astype(np.float64)
    for node in m.graph.node:
        for name, val in zip(node.output, run_node(node, v)):
            v[name] = val
    return v[m.graph.output[0].name]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("onnx_file")
    p.add_argument("--data", default="data/mnist")
    args = p.parse_args()
    m = onnx.load(args.onnx_file)
    onnx.checker.check_model(m)
    data = md.load_mnist(args.data)
    x = md.quantize(data["test_images"])
    y = data["test_labels"]
    logits = np.concatenate([run_graph(m, x[i:i + 1000]) for i in range(0, x.shape[0], 1000)])
    acc = float((logits.argmax(1) == y).mean())
    ref = np.loadtxt(args.onnx_file[:-len(".onnx")] + "_logits.csv", delimiter=",",
                     comments="#")
    if not np.array_equal(ref[:, 0], y[:100]):
        sys.exit("labels in the logits file differ from the MNIST test labels")
    diff = np.abs(logits[:100] - ref[:, 1:])
    rel = float((diff / np.maximum(np.abs(ref[:, 1:]), 1.0)).max())
    print("%s: numpy float64 run of the ONNX graph: test accuracy %.2f%%; first 100 images: "
          "max |logit - torch| = %.3g (relative %.3g), same argmax: %s"
          % (args.onnx_file, 100 * acc, float(diff.max()), rel,
             bool((logits[:100].argmax(1) == ref[:, 1:].argmax(1)).all())))
    if rel > 1e-4:
        sys.exit("the ONNX graph and the PyTorch logits differ")


if __name__ == "__main__":
    main()
