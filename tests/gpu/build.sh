#!/bin/sh
# build.sh — builds, on this (CPU) machine, what tests/gpu/device-check.sh runs on the lent GPU
# machine: a release build with the CUDA backend of steerctl, steer-train and the GPU tests in
# build-gpu-dev/ (no GStreamer, ZeroMQ, libjpeg or libpng: the GPU machine has none of them, so
# pkg-config is shown only libyaml and cmocka, and CMake lookups are turned off), plus the two
# shared libraries the GPU machine lacks (libyaml, libcmocka) and the libcudart the programs were
# linked with in build-gpu-dev/lib/, and build-gpu-dev/build-stamp.txt (commit, date, nvcc,
# architectures) that device-check.sh prints.
# Usage: tests/gpu/build.sh [BUILD_DIR]   (run from the repository root)
set -eu
B=${1:-build-gpu-dev}
export PATH="$PATH:/usr/local/cuda/bin"
pc="$PWD/$B/pkgconfig-only"   # kept: meson re-reads it when it regenerates
mkdir -p "$pc"
for p in yaml-0.1 cmocka; do
    f=$(pkg-config --variable=pcfiledir "$p")/$p.pc
    cp "$f" "$pc/"
done
printf "[binaries]\ncmake = 'false'\n" > "$pc/native.ini"
if [ ! -f "$B/build.ninja" ]; then
    PKG_CONFIG_LIBDIR="$pc" meson setup "$B" --native-file "$pc/native.ini" -Dbuildtype=release \
        -Dcuda=enabled -Dtests=enabled
fi
# meson 1.0 gives nvcc no dependency file, so a changed header does not rebuild the CUDA objects:
# drop every CUDA object older than the newest header it may include.
newest=$(ls -t kernels/*.h kernels/*.cuh kernels/body/*.h src/nn/*.h src/nn/*/*.h 2>/dev/null | head -1)
[ -d "$B/kernels" ] && find "$B/kernels" -name '*.cu.o' ! -newer "$newest" -delete
targets="steerctl steer-train tests/test_cuda_infer tests/test_train_shard kernels/bench/bench-infer-models"
# The GPU-training parity test, when this tree has it (its own helper's work).
if ninja -C "$B" -t query tests/test_cuda_train >/dev/null 2>&1; then targets="$targets tests/test_cuda_train"; fi
if ninja -C "$B" -t query kernels/bench/bench-train-step >/dev/null 2>&1; then
    targets="$targets kernels/bench/bench-train-step"
fi
PKG_CONFIG_LIBDIR="$pc" ninja -C "$B" $targets
mkdir -p "$B/lib"
for exe in "$B/steerctl" "$B/tests/test_cuda_infer" "$B/tests/test_cuda_train" "$B/tests/test_train_shard" \
    "$B/kernels/bench/bench-infer-models" \
    "$B/kernels/bench/bench-train-step"; do
    [ -f "$exe" ] || continue
    ldd "$exe" | awk '/libyaml|libcmocka|libcudart/ {print $3}' | while read -r so; do cp -L "$so" "$B/lib/"; done
done
{
    echo "commit $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "built $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(uname -m)"
    echo "nvcc $(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
    echo "gencode $(grep -o "arch=compute_[0-9]*,code=[^']*" kernels/meson.build | tr '\n' ' ')"
} > "$B/build-stamp.txt"
cat "$B/build-stamp.txt"
echo "built $B: $(du -sh "$B" | cut -f1); libraries carried: $(ls "$B/lib" | tr '\n' ' ')"
