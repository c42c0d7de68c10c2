#!/usr/bin/env bash
# train-sim-models.sh — makes the bundled steering weights (models/<model>.safetensors) from the
# simulator's recordings, one documented command (docs/RESULTS.md):
#   scripts/train-sim-models.sh [BUILD] [MODEL ...]      (default: effnet-steer seed-steering-effnet
#                                                         seed-steering-baseline)
# 1. records the training drives (576 roads x 10 s at 10 fps, seed 100, 3 cameras, expert labels
#    with recovery noise 1.5: many short roads = many looks; train144 = its first 144 roads, the
#    same bytes; ~5 min and 2 GB) and held-out drives (2 roads x 30 s, seed 200) unless data/sim/
#    has them;
# 2. trains each model with config/train-sim-steering.yaml (same recipe and seed for all), with
#    what the bundled weights got on this 2-core machine's budget: effnet-steer on train576,
#    10 epochs, 1 thread (~55 min); seed-steering-effnet on train576, 8 epochs, 2 threads (~40 min);
#    seed-steering-baseline on train144, 4 epochs, 2 threads (its compute per image is ~25x
#    effnet-steer's). Threads are part of the bit-exact recipe;
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
record() { # DIR SEED ROADS SECONDS [OPTION ...]
    if [ ! -f "$1/driving_log.csv" ]; then
        rm -rf "$1"
        mkdir -p "$(dirname "$1")"
        "$build/steerctl" sim record --out "$1" --seed "$2" --roads "$3" --seconds "$4" "${@:5}"
    fi
}
record data/sim/train576 100 576 10 --noise 1.5
record data/sim/train144 100 144 10 --noise 1.5
record data/sim/heldout 200 2 30
for m in "${models[@]}"; do
    run=data/runs/sim-$m
    rm -rf "$run"
    case $m in # the bundled weights' recipes (epochs, threads) on this 2-core machine's budget
        seed-steering-effnet) extra=(--set epochs=8 --set threads=2) ;;
        seed-steering-baseline) extra=(--set dataset.train=data/sim/train144 --set epochs=4 --set threads=2) ;;
        *) extra=() ;;
    esac
    echo "== $m: $build/steer-train config/train-sim-steering.yaml --set model=models/$m.yaml ${extra[*]} --set output=$run"
    "$build/steer-train" config/train-sim-steering.yaml --set model="models/$m.yaml" "${extra[@]}" --set output="$run"
    cp "$run/$m.safetensors" "models/$m.safetensors"
    echo "== models/$m.safetensors ($(stat -c %s "models/$m.safetensors") bytes)"
done
