#!/usr/bin/env bash
# train-sim-models.sh — makes the bundled steering weights (models/<model>.safetensors) from the
# simulator's recordings, one documented command (docs/RESULTS.md):
#   scripts/train-sim-models.sh [BUILD] [MODEL ...]      (default: effnet-steer seed-steering-effnet
#                                                         seed-steering-baseline)
# 1. records the training drives (24 roads x 40 s at 10 fps, seed 100, 3 cameras, expert labels with
#    recovery noise) and held-out drives (2 roads x 30 s, seed 200) unless data/sim/ has them;
# 2. trains each model with config/train-sim-steering.yaml (same recipe, seed and data for all);
# 3. copies the final weights (metrics and config hash in their metadata) into models/.
# Deterministic on the CPU: same build, threads and seed -> the same bytes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
shift || true
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(effnet-steer seed-steering-effnet seed-steering-baseline)
cd "$root"
if [ ! -x "$build/steer-train" ] || [ ! -x "$build/steerctl" ]; then
    scripts/deps.sh build
    [ -f "$build/build.ninja" ] || meson setup "$build" -Dtests=disabled >/dev/null
    ninja -C "$build" >/dev/null
fi
record() { # DIR SEED ROADS SECONDS
    if [ ! -f "$1/driving_log.csv" ]; then
        rm -rf "$1"
        mkdir -p "$(dirname "$1")"
        "$build/steerctl" sim record --out "$1" --seed "$2" --roads "$3" --seconds "$4"
    fi
}
record data/sim/train 100 24 40
record data/sim/heldout 200 2 30
for m in "${models[@]}"; do
    run=data/runs/sim-$m
    rm -rf "$run"
    echo "== $m: $build/steer-train config/train-sim-steering.yaml --set model=models/$m.yaml --set output=$run"
    "$build/steer-train" config/train-sim-steering.yaml --set model="models/$m.yaml" --set output="$run"
    cp "$run/$m.safetensors" "models/$m.safetensors"
    echo "== models/$m.safetensors ($(stat -c %s "models/$m.safetensors") bytes)"
done
