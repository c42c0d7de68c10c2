#!/usr/bin/env bash
# digit-experiments.sh — the seed's digit experiments (docs/RESULTS.md): the six 28x28x1 models
# of the zoo (seed-mnist-{baseline,effnet}, paper-mnist-{baseline,mobilenet,shufflenet,effnet})
# trained by steer-train with one shared recipe per dataset, on the MNIST-10k split
# (scripts/get-mnist.sh) and on full Fashion-MNIST (Debian package dataset-fashion-mnist).
# Runs one job at a time under `nice` (the machine is shared), each into OUT/<set>-<model>/,
# its stderr in OUT/<set>-<model>.log and its wall time in OUT/<set>-<model>.time; then
# prints the table (scripts/results-table.py OUT).
#
# Usage: scripts/digit-experiments.sh [OUT] [--mnist-epochs N] [--fashion-epochs N]
#                                     [--threads N] [--only SUBSTR] [--steer-train PATH]
# (--only runs just the runs whose name <set>-<model> contains SUBSTR, e.g. fashion-paper-mnist-effnet.)
# Defaults: OUT data/runs/digits, 10 MNIST-10k epochs, 2 Fashion-MNIST epochs, 2 threads.
# The recipe is config/train-mnist-baseline.yaml (MNIST-10k) and config/train-fashion-effnet.yaml
# (Fashion-MNIST) with `--set model=...`, `--set epochs=...`: see docs/RESULTS.md.
# A run whose directory already holds final weights is skipped (rerun: delete its folder).
set -euo pipefail
cd "$(dirname "$0")/.."

out=data/runs/digits
mnist_epochs=10
fashion_epochs=2
threads=2
only=""
bin=build/steer-train
while [ $# -gt 0 ]; do
    case "$1" in
        --mnist-epochs) mnist_epochs=$2; shift 2 ;;
        --fashion-epochs) fashion_epochs=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        --steer-train) bin=$2; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        -*) echo "digit-experiments: unknown option $1" >&2; exit 2 ;;
        *) out=$1; shift ;;
    esac
done
[ -x "$bin" ] || { echo "digit-experiments: $bin not found (build it: ninja -C build)" >&2; exit 1; }
[ -f data/mnist10k/train-images-idx3-ubyte.gz ] || { echo "digit-experiments: run scripts/get-mnist.sh first" >&2; exit 1; }
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] ||
    { echo "digit-experiments: apt-get install dataset-fashion-mnist" >&2; exit 1; }
mkdir -p "$out"

models="seed-mnist-effnet seed-mnist-baseline paper-mnist-shufflenet paper-mnist-mobilenet paper-mnist-effnet paper-mnist-baseline"
for set in mnist10k fashion; do
    if [ $set = mnist10k ]; then cfg=config/train-mnist-baseline.yaml; ep=$mnist_epochs
    else cfg=config/train-fashion-effnet.yaml; ep=$fashion_epochs; fi
    for m in $models; do
        name=$set-$m
        case "$name" in *"$only"*) ;; *) continue ;; esac
        dir=$out/$name
        if [ -f "$dir/$m.safetensors" ]; then echo "$name: done already"; continue; fi
        rm -rf "$dir"
        cmd=("$bin" "$cfg" --set "model=models/$m.yaml" --set "epochs=$ep" --set "threads=$threads"
             --set "output=$dir")
        echo "${cmd[*]}" > "$out/$name.cmd"
        t0=$(date +%s.%N)
        if ! nice -n 10 "${cmd[@]}" 2> "$out/$name.log"; then
            echo "$name: FAILED: $(tail -1 "$out/$name.log")"; continue
        fi
        t1=$(date +%s.%N)
        echo "$t0 $t1" | awk '{printf "%.1f\n", $2 - $1}' > "$out/$name.time"
        echo "$name: $(tail -1 "$out/$name.log") ($(cat "$out/$name.time") s)"
    done
done
/usr/bin/python3 scripts/results-table.py "$out" --baseline seed-mnist-baseline,paper-mnist-baseline --models "${models// /,}"
