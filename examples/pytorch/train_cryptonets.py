#!/usr/bin/env python3
"""Trains the CryptoNets network (Gilad-Bachrach et al., ICML 2016) on MNIST in PyTorch
and exports it to ONNX (docs/pytorch.md):

  28x28 input (zero padding 1) -> conv 5 maps 5x5 stride 2 -> 5x13x13 = 845 -> square
  -> dense 100 -> square -> dense 10

the shape of examples/train_mnist.c and examples/models/cryptonets_mnist.cnm (CryptoNets'
scaled mean pool and dense layer are one linear map: a dense layer here). Square
activations are written x * x, so the exporter emits Mul(x, x).

Writes <out>/cryptonets_mnist.onnx, .json (command, seed, versions, accuracy, operators)
and _logits.csv (the float logits of the first 100 test images).

  /usr/bin/python3 examples/pytorch/train_cryptonets.py --epochs 12 --seed 1 --threads 2
"""

import argparse
import os

import torch
import torch.nn as nn

import mnist_common as mc


class Square(nn.Module):
    def forward(self, x):
        return x * x


class CryptoNets(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 5, kernel_size=5, stride=2, padding=1)
        self.act1 = Square()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(5 * 13 * 13, 100)
        self.act2 = Square()
        self.fc2 = nn.Linear(100, 10)
        # normal weights scaled for square activations (as examples/train_mnist.c), zero
        # biases: the squares neither vanish nor explode in the first steps
        with torch.no_grad():
            self.conv.weight.normal_(0, (1 / 25) ** 0.5)
            self.fc1.weight.normal_(0, 0.5 * (1 / 845) ** 0.5)
            self.fc2.weight.normal_(0, 0.5 * (1 / 100) ** 0.5)
            for layer in (self.conv, self.fc1, self.fc2):
                layer.bias.zero_()

    def forward(self, x):
        x = self.act1(self.conv(x))
        x = self.flatten(x)
        x = self.act2(self.fc1(x))
        return self.fc2(x)


def main():
    args = mc.common_args(argparse.ArgumentParser(description=__doc__.split("\n")[0]),
                          epochs=12, min_accuracy=0.99).parse_args()
    mc.setup_torch(args.seed, args.threads)
    data = mc.load_mnist(args.data)
    model = CryptoNets()
    log, secs = mc.train(model, data, args.epochs, args.batch, args.lr, args.shift, args.seed,
                         "train_cryptonets")
    os.makedirs(args.out, exist_ok=True)
    prefix = os.path.join(args.out, "cryptonets_mnist")
    m = mc.export_onnx(model, prefix + ".onnx", torch.onnx.TrainingMode.EVAL,
                       "CryptoNets on MNIST (examples/pytorch/train_cryptonets.py); input "
                       "N x 1 x 28 x 28 = raw / 15 with raw = pixel >> 4 in [0, 15]")
    shape = "conv 5x5x5 stride 2 pad 1, square, dense 845->100, square, dense 100->10"
    side = mc.write_sidecars(prefix, model, m, data, log, secs, args, {"model": shape})
    mc.check_accuracy(side, args)


if __name__ == "__main__":
    main()
