#!/usr/bin/env python3
"""Trains a small MNIST network with batch normalization and a learned polynomial
activation a*x^2 + b*x + c (the HE-friendly activation of several papers after
CryptoNets) and exports it to ONNX (docs/pytorch.md):

  28x28 input (no padding) -> conv 8 maps 3x3 stride 2 -> 8x13x13 = 1352
  -> BatchNormalization -> poly -> flatten (as x.view(N, -1)) -> dense 32 -> poly
  -> dense 10

Each polynomial has its own three scalar coefficients, written x * x * a + x * b + c so
the exporter emits Mul and Add nodes. The model is exported with
TrainingMode.PRESERVE from eval mode: inference-mode BatchNormalization stays a node of
its own (with TrainingMode.EVAL the exporter folds it into the convolution before it).
The flatten is written x.view(x.size(0), -1) so that the file has the
Shape/Gather/Unsqueeze/Concat/Reshape chain exporters produce for a dynamic batch.

Writes <out>/polybn_mnist.onnx, .json and _logits.csv (see train_cryptonets.py).

  /usr/bin/python3 examples/pytorch/train_polybn.py --epochs 6 --seed 1 --threads 2
"""

import argparse
import os

import torch
import torch.nn as nn

import mnist_common as mc


class Poly(nn.Module):
    """a*x^2 + b*x + c with learned scalars; starts at x^2/4 + x/2, a smooth
    stand-in for a ReLU on roughly unit-variance inputs."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(0.25))
        self.b = nn.Parameter(torch.tensor(0.5))
        self.c = nn.Parameter(torch.tensor(0.0))

    def forward(self, x):
        return x * x * self.a + x * self.b + self.c


class PolyBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, kernel_size=3, stride=2, padding=0)
        self.bn = nn.BatchNorm2d(8)
        self.act1 = Poly()
        self.fc1 = nn.Linear(8 * 13 * 13, 32)
        self.act2 = Poly()
        self.fc2 = nn.Linear(32, 10)
        with torch.no_grad():
            self.fc1.weight.normal_(0, (1 / 1352) ** 0.5)
            self.fc2.weight.normal_(0, (1 / 32) ** 0.5)

    def forward(self, x):
        x = self.act1(self.bn(self.conv(x)))
        x = x.view(x.size(0), -1)
        x = self.act2(self.fc1(x))
        return self.fc2(x)


def main():
    args = mc.common_args(argparse.ArgumentParser(description=__doc__.split("\n")[0]),
                          epochs=6).parse_args()
    mc.setup_torch(args.seed, args.threads)
    data = mc.load_mnist(args.data)
    model = PolyBN()
    log, secs = mc.train(model, data, args.epochs, args.batch, args.lr, args.shift, args.seed,
                         "train_polybn")
    os.makedirs(args.out, exist_ok=True)
    prefix = os.path.join(args.out, "polybn_mnist")
    m = mc.export_onnx(model, prefix + ".onnx", torch.onnx.TrainingMode.PRESERVE,
                       "Conv + BatchNormalization + polynomial activations on MNIST "
                       "(examples/pytorch/train_polybn.py); input N x 1 x 28 x 28 = raw / 15 "
                       "with raw = pixel >> 4 in [0, 15]")
    coef = {name: [round(float(getattr(act, k)), 9) for k in "abc"]
            for name, act in (("act1", model.act1), ("act2", model.act2))}
    bn = {"eps": model.bn.eps, "momentum_torch": model.bn.momentum}
    shape = ("conv 8x3x3 stride 2 pad 0, BatchNormalization, poly, dense 1352->32, poly, "
             "dense 32->10")
    side = mc.write_sidecars(prefix, model, m, data, log, secs, args,
                             {"model": shape, "poly_coefficients_abc": coef, "batchnorm": bn})
    mc.check_accuracy(side, args)


if __name__ == "__main__":
    main()
