#!/usr/bin/env bash
# eval-sim-models.sh — the steering targets of docs/RESULTS.md in one command: for each bundled
# steering model (models/<model>.safetensors), its cost (params, MACs, weights on disk), its
# open-loop MAE on the held-out drives (steerctl replay on data/sim/heldout, recorded by
# scripts/train-sim-models.sh; recorded here when missing) and its closed-loop autonomy on
# unseen roads through a real steerd (steerctl sim drive --lockstep: every frame waits for its
# own answer, so a loaded machine gives the same result), plus the expert as the ceiling.
#   scripts/eval-sim-models.sh [BUILD] [MODEL ...]
#   env: ROADS (10), SECONDS_PER_ROAD (60), SEED (1000: roads no recording used), OUT (data/eval),
#        WEIGHTS (models: the folder with <model>.safetensors; a trained candidate before bundling)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
shift || true
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(seed-steering-baseline seed-steering-effnet effnet-steer)
roads=${ROADS:-10}
seconds=${SECONDS_PER_ROAD:-60}
seed=${SEED:-1000}
out=${OUT:-$root/data/eval}
weights=${WEIGHTS:-models}
ctl="$build/steerctl"
cd "$root"
[ -x "$ctl" ] || { echo "eval-sim-models: $ctl not found (make build)" >&2; exit 1; }
mkdir -p "$out"
if [ ! -f data/sim/heldout/driving_log.csv ]; then
    rm -rf data/sim/heldout
    "$ctl" sim record --out data/sim/heldout --seed 200 --roads 2 --seconds 30 >/dev/null
fi
specs=()
for m in "${models[@]}"; do specs+=("models/$m.yaml"); done
"$ctl" model table "${specs[@]}"
echo
echo "closed loop: $roads unseen roads x $seconds s (seed $seed), lockstep; open loop: data/sim/heldout (seed 200)"
printf '%-24s %10s %12s %12s %14s %10s %14s %12s\n' model weights "held-out MAE" interventions autonomy "|cte| mean" "|pred-expert|" "latency p50"
for m in "${models[@]}"; do
    w="$weights/$m.safetensors"
    if [ ! -f "$w" ]; then
        printf '%-24s %10s\n' "$m" "not bundled"
        continue
    fi
    mae=$("$ctl" replay data/sim/heldout/driving_log.csv --model "models/$m.yaml" --weights "$w" --rate max 2>&1 |
        sed -n 's/^mae: //p')
    echo "  $ctl sim drive --config config/sim.yaml --model models/$m.yaml --weights $w --roads $roads --seconds $seconds --seed $seed --lockstep --json $out/$m.json --trace $out/$m.csv" >"$out/$m.cmd"
    "$ctl" sim drive --config config/sim.yaml --model "models/$m.yaml" --weights "$w" --roads "$roads" \
        --seconds "$seconds" --seed "$seed" --lockstep --json "$out/$m.json" --trace "$out/$m.csv" >"$out/$m.txt" 2>&1 ||
        { echo "eval-sim-models: $m: the closed loop failed (see $out/$m.txt)" >&2; exit 1; }
    /usr/bin/python3 - "$out/$m.json" "$m" "$(stat -c %s "$w")" "$mae" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))["total"]
print("%-24s %7.1f KiB %12.4f %12d %13.1f%% %8.3f m %14.4f %9.2f ms" % (
    sys.argv[2], int(sys.argv[3]) / 1024, float(sys.argv[4]), t["interventions"], t["autonomy_pct"],
    t["mean_abs_cte_m"], t["mean_abs_steer_err"], t["latency_ms"]["p50"]))
EOF
done
"$ctl" sim drive --expert --roads "$roads" --seconds "$seconds" --seed "$seed" --json "$out/expert.json" >"$out/expert.txt"
/usr/bin/python3 - "$out/expert.json" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))["total"]
print("%-24s %10s %12s %12d %13.1f%% %8.3f m" % ("expert (ceiling)", "-", "-", t["interventions"], t["autonomy_pct"],
                                                t["mean_abs_cte_m"]))
EOF
echo "per-road lines: $out/<model>.txt; per-frame traces: $out/<model>.csv; metrics: $out/<model>.json"
