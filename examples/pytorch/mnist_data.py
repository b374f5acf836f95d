"""MNIST for the PyTorch examples, with numpy alone (so that onnx_check.py runs without
PyTorch): the IDX reader and the input quantization the encrypted network uses.

Inputs, as in examples/train_mnist.c with --input-bits 4: raw = pixel >> 4, an integer
in [0, 15]; the network's float input is raw / 15, in [0, 1].
"""

import os
import struct
import sys

import numpy as np

INPUT_BITS = 4
QMAX = (1 << INPUT_BITS) - 1  # raw inputs in [0, QMAX]
IMG = 28
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def read_idx(path):
    """An IDX file of unsigned bytes (LeCun's MNIST format: 00 00 08 d, d big-endian
    32-bit dimensions, then the bytes in row-major order) as a numpy uint8 array.
    Raises ValueError on a wrong magic, a zero dimension or a size that does not match."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 4 or blob[0] != 0 or blob[1] != 0 or blob[2] != 0x08 or blob[3] == 0:
        raise ValueError("%s: not an IDX file of unsigned bytes" % path)
    ndims = blob[3]
    head = 4 + 4 * ndims
    if len(blob) < head:
        raise ValueError("%s: truncated header" % path)
    dims = struct.unpack(">%dI" % ndims, blob[4:head])
    count = 1
    for d in dims:
        if d == 0:
            raise ValueError("%s: a dimension is zero" % path)
        count *= d
    if len(blob) != head + count:
        raise ValueError("%s: %d data bytes expected, %d present" % (path, count, len(blob) - head))
    return np.frombuffer(blob, dtype=np.uint8, offset=head).reshape(dims)


def load_mnist(directory):
    """The four MNIST files of `directory` (scripts/fetch_mnist.sh puts them in
    data/mnist), shapes checked."""
    out = {}
    for key, name in MNIST_FILES.items():
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            sys.exit("%s is missing: run `sh scripts/fetch_mnist.sh` first" % path)
        out[key] = read_idx(path)
    for part in ("train", "test"):
        img, lab = out[part + "_images"], out[part + "_labels"]
        if img.ndim != 3 or img.shape[1:] != (IMG, IMG) or lab.shape != (img.shape[0],):
            sys.exit("%s: unexpected shapes %s and %s" % (directory, img.shape, lab.shape))
    return out


def quantize(images):
    """uint8 images (N x 28 x 28) -> float32 array N x 1 x 28 x 28 of raw / QMAX, with
    raw = pixel >> (8 - INPUT_BITS) in [0, QMAX] (examples/train_mnist.c's convention)."""
    raw = images >> (8 - INPUT_BITS)
    return (raw.astype(np.float32) / np.float32(QMAX))[:, None, :, :]
