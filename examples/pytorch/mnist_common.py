"""Shared parts of the PyTorch examples (docs/pytorch.md): the inputs as tensors (the
IDX reader and the quantization are in mnist_data.py), a deterministic training loop,
the ONNX export and its sidecar files.

Inputs, as in examples/train_mnist.c with --input-bits 4: raw = pixel >> 4, an integer
in [0, 15]; the network's float input is raw / 15, in [0, 1]. The exported ONNX files
take that float tensor (shape N x 1 x 28 x 28); the C side compiles them with raw
integers in [0, 15] and input scale 1/15.

Debian packages only: python3-torch, python3-onnx, python3-numpy (scripts/setup.sh
pytorch).
"""

import hashlib
import json
import math
import os
import platform
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F

import mnist_data as md
from mnist_data import INPUT_BITS, QMAX, IMG, load_mnist  # noqa: F401 (re-exported)

OPSET = 13


def quantize(images):
    """mnist_data.quantize as a torch tensor."""
    return torch.from_numpy(np.ascontiguousarray(md.quantize(images)))


def setup_torch(seed, threads):
    """Deterministic CPU run: fixed seed, deterministic kernels, a fixed thread count (the
    order of floating-point sums depends on it)."""
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)


def shifted_batch(padded, idx, shift, gen):
    """Images idx of `padded` (N x 1 x (28+2s) x (28+2s), zero border of s = shift), each
    moved by a random (dy, dx) in [-s, s]^2 with zero fill: a 28x28 window at offset
    (s - dy, s - dx). Offsets drawn from `gen`, so the run is repeatable."""
    x = padded[idx]
    n = x.shape[0]
    if shift == 0:
        return x
    side = IMG + 2 * shift
    oy = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
    ox = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
    ar = torch.arange(IMG)
    rows = (oy[:, None] + ar[None, :]).view(n, 1, IMG, 1).expand(n, 1, IMG, side)
    x = x.gather(2, rows)
    cols = (ox[:, None] + ar[None, :]).view(n, 1, 1, IMG).expand(n, 1, IMG, IMG)
    return x.gather(3, cols)


@torch.no_grad()
def logits_of(model, x, batch=1000):
    model.eval()
    return torch.cat([model(x[i:i + batch]) for i in range(0, x.shape[0], batch)])


def accuracy(model, x, y):
    return (logits_of(model, x).argmax(1) == y).float().mean().item()


def train(model, data, epochs, batch, lr, shift, seed, name):
    """Softmax cross entropy, Adam (Kingma and Ba, ICLR 2015) with a cosine learning-rate
    schedule to 0 over all steps, minibatches of `batch` in a fresh random order each
    epoch, random shifts of up to `shift` pixels. Prints one line per epoch; returns the
    per-epoch log and the seconds spent."""
    xtrain = quantize(data["train_images"])
    ytrain = torch.from_numpy(data["train_labels"].astype(np.int64))
    xtest = quantize(data["test_images"])
    ytest = torch.from_numpy(data["test_labels"].astype(np.int64))
    padded = F.pad(xtrain, (shift, shift, shift, shift)) if shift else xtrain
    ntrain = xtrain.shape[0]
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps_total = epochs * math.ceil(ntrain / batch)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps_total)))
    print("%s: %d training and %d test images, %d threads, seed %d, inputs of %d bits, "
          "%d epochs" % (name, ntrain, xtest.shape[0], torch.get_num_threads(), seed,
                         INPUT_BITS, epochs), flush=True)
    log = []
    t0 = time.monotonic()
    for ep in range(1, epochs + 1):
        model.train()
        order = torch.randperm(ntrain, generator=gen)
        loss_sum, correct = 0.0, 0
        for b0 in range(0, ntrain, batch):
            idx = order[b0:b0 + batch]
            x = shifted_batch(padded, idx, shift, gen)
            y = ytrain[idx]
            out = model(x)
            loss = F.cross_entropy(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * idx.shape[0]
            correct += (out.argmax(1) == y).sum().item()
        acc = accuracy(model, xtest, ytest)
        secs = time.monotonic() - t0
        log.append({"epoch": ep, "loss": round(loss_sum / ntrain, 6),
                    "train_accuracy": round(correct / ntrain, 6),
                    "test_accuracy": round(acc, 6), "seconds": round(secs, 1)})
        print("epoch %3d  loss %.4f  train %.2f%%  test %.2f%%  (%.0f s)"
              % (ep, loss_sum / ntrain, 100 * correct / ntrain, 100 * acc, secs), flush=True)
    return log, time.monotonic() - t0


def export_onnx(model, path, training_mode, doc):
    """torch.onnx.export at opset OPSET with a dynamic batch axis "N" (input "input",
    N x 1 x 28 x 28 floats raw / 15; output "logits", N x 10), then the input convention
    written into the file's metadata and the checker run on it."""
    import onnx

    model.eval()
    dummy = torch.zeros(1, 1, IMG, IMG)
    # torch 1.13 warns about constant folding under TrainingMode.PRESERVE whatever the
    # model's mode; the model is in eval mode here, where folding is what we want
    warnings.filterwarnings("ignore", message="It is recommended that constant folding")
    torch.onnx.export(model, dummy, path, opset_version=OPSET, input_names=["input"],
                      output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      do_constant_folding=True, training=training_mode)
    m = onnx.load(path)
    m.doc_string = doc
    for key, value in (("cryptonets.input_raw_range", "0:%d" % QMAX),
                       ("cryptonets.input_scale", "1/%d" % QMAX),
                       ("cryptonets.input_raw_from_pixel", "pixel >> %d" % (8 - INPUT_BITS))):
        p = m.metadata_props.add()
        p.key, p.value = key, value
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return m


def describe_onnx(m):
    """The operator counts and one line per node (op, inputs -> outputs, attributes):
    what a loader of the file must understand."""
    import onnx
    from onnx import numpy_helper

    counts = {}
    lines = []
    inits = {t.name: list(t.dims) for t in m.graph.initializer}
    for node in m.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
        attrs = []
        for a in node.attribute:
            v = onnx.helper.get_attribute_value(a)
            if isinstance(v, bytes):
                v = v.decode()
            elif isinstance(v, onnx.TensorProto):
                v = "tensor%s %s" % (list(v.dims), numpy_helper.to_array(v).tolist())
            attrs.append("%s=%s" % (a.name, v))
        ins = ["%s%s" % (i, inits[i] if i in inits else "") for i in node.input]
        lines.append("%s(%s) -> %s%s" % (node.op_type, ", ".join(ins), ", ".join(node.output),
                                          "  [" + ", ".join(attrs) + "]" if attrs else ""))
    return counts, lines


def write_sidecars(prefix, model, m, data, log, seconds, args, extra):
    """<prefix>.json (command, seed, versions, accuracy, operators, timings) and
    <prefix>_logits.csv: for the first 100 test images, the label and the 10 float32
    logits of the PyTorch model (9 significant digits: the float32 round-trips)."""
    import onnx

    xtest = quantize(data["test_images"])
    ytest = torch.from_numpy(data["test_labels"].astype(np.int64))
    logits = logits_of(model, xtest[:100]).numpy()
    with open(prefix + "_logits.csv", "w") as f:
        f.write("# label,logit0..logit9 of the first 100 MNIST test images (t10k), input "
                "raw = pixel >> 4, float input raw / 15\n")
        for i in range(100):
            f.write("%d,%s\n" % (int(ytest[i]), ",".join("%.9g" % v for v in logits[i])))
    counts, lines = describe_onnx(m)
    with open(prefix + ".onnx", "rb") as f:
        blob = f.read()
    side = {
        "file": os.path.basename(prefix) + ".onnx",
        "bytes": len(blob),
        "sha256": hashlib.sha256(blob).hexdigest(),
        "command": " ".join(["python3"] + sys.argv),
        "seed": args.seed,
        "threads": args.threads,
        "epochs": args.epochs,
        "batch": args.batch,
        "lr": args.lr,
        "shift": args.shift,
        "float_test_accuracy": round(accuracy(model, xtest, ytest), 6),
        "train_seconds": round(seconds, 1),
        "input": {"name": "input", "shape": ["N", 1, IMG, IMG], "raw_range": [0, QMAX],
                  "raw_from_pixel": "pixel >> %d" % (8 - INPUT_BITS),
                  "scale": "1/%d" % QMAX, "float_value": "raw / %d" % QMAX},
        "output": {"name": "logits", "shape": ["N", 10]},
        "opset": OPSET,
        "operators": counts,
        "nodes": lines,
        "versions": {"torch": torch.__version__, "onnx": onnx.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
        "log": log,
    }
    side.update(extra)
    with open(prefix + ".json", "w") as f:
        json.dump(side, f, indent=1)
        f.write("\n")
    print("%s.onnx: %d bytes, float test accuracy %.2f%%" % (prefix, len(blob),
                                                              100 * side["float_test_accuracy"]))
    print("operators: %s" % ", ".join("%s x%d" % kv for kv in sorted(counts.items())))
    for line in lines:
        print("  " + line)
    return side


def common_args(parser, epochs, min_accuracy=0.0):
    parser.add_argument("--data", default="data/mnist", help="MNIST IDX files")
    parser.add_argument("--out", default="tests/fixtures/onnx", help="output directory")
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--shift", type=int, default=1, help="augmentation shift, pixels")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-accuracy", type=float, default=min_accuracy,
                        help="exit status 1 if the float test accuracy is lower")
    return parser


def check_accuracy(side, args):
    """Exit status 1 when the model misses --min-accuracy (make pytorch-models, CI)."""
    if side["float_test_accuracy"] < args.min_accuracy:
        sys.exit("float test accuracy %.2f%% below the required %.2f%%"
                 % (100 * side["float_test_accuracy"], 100 * args.min_accuracy))
