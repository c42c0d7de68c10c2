#!/usr/bin/env bash
# main-job.sh — the README's main job (`make run`): the closed-loop demo. steerd runs the bundled
# effnet-steer and drives unseen simulated roads in real time: the simulator renders each frame,
# sends it through steerd's GStreamer source (tcpclientsrc ! rawvideoparse, config/sim.yaml), and
# steers by steerd's ZeroMQ `steer` messages. A live line per second shows the steering and the
# latency; at the end: autonomy, latency p50/p99, a table comparing the seed's baseline, the seed's
# EffNet and effnet-steer (params, MACs, weights on disk, CPU latency, autonomy), and a video.
#   scripts/main-job.sh [BUILD]     env: DEMO_ROADS (3), DEMO_SECONDS (30), CMP_ROADS (2),
#                                        CMP_SECONDS (20), DEMO_OUT (data/demo)
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
ctl="$build/steerctl"
out=${DEMO_OUT:-$root/data/demo}
roads=${DEMO_ROADS:-3}
seconds=${DEMO_SECONDS:-30}
cmp_roads=${CMP_ROADS:-2}
cmp_seconds=${CMP_SECONDS:-20}
models=(seed-steering-baseline seed-steering-effnet effnet-steer)
specs=()
for m in "${models[@]}"; do specs+=("$root/models/$m.yaml"); done
mkdir -p "$out"

if [ ! -f "$root/models/effnet-steer.safetensors" ]; then
    echo "main-job: models/effnet-steer.safetensors is missing: make it with scripts/train-sim-models.sh $build" >&2
    exit 1
fi

echo "== closed loop: steerd + effnet-steer drives $roads unseen roads (seed 9000) for $seconds s each =="
echo "   $ctl sim drive --config config/sim.yaml --model models/effnet-steer.yaml \\"
echo "     --weights models/effnet-steer.safetensors --roads $roads --seconds $seconds --seed 9000 --video $out/drive.webm"
port=$((20000 + RANDOM % 20000))
"$ctl" sim drive --config "$root/config/sim.yaml" --model "$root/models/effnet-steer.yaml" \
    --weights "$root/models/effnet-steer.safetensors" --roads "$roads" --seconds "$seconds" --seed 9000 \
    --listen "$port" --video "$out/drive.webm" --json "$out/demo.json" > "$out/demo.txt" 2>&1 &
sim=$!
# The live summary: steerd's own steer messages, one line a second (30 fps).
"$ctl" sub "ipc:///tmp/steerd-sim-$port.sock" --topic steer --timeout $((roads * seconds + 60)) 2>/dev/null |
    awk 'NR % 30 == 0 {
        match($0, /"steering":[-0-9.e]+/); s = substr($0, RSTART + 11, RLENGTH - 11)
        match($0, /"angle_deg":[-0-9.e]+/); a = substr($0, RSTART + 12, RLENGTH - 12)
        match($0, /"infer":[0-9]+/); i = substr($0, RSTART + 8, RLENGTH - 8)
        match($0, /"total":[0-9]+/); t = substr($0, RSTART + 8, RLENGTH - 8)
        printf "  t=%4ds  steering %+.3f (%+.1f deg)  latency: inference %5d us, capture->publish %5d us\n", NR / 30, s, a, i, t
        fflush() }' &
live=$!
rc=0
wait "$sim" || rc=$?
kill "$live" 2>/dev/null || true
wait "$live" 2>/dev/null || true
grep -v '^video:' "$out/demo.txt"
[ "$rc" -eq 0 ] || { echo "main-job: the closed-loop demo failed (exit $rc)" >&2; exit "$rc"; }
echo "video: $out/drive.webm (red: steerd's steering, green: the expert's)"
echo

echo "== the three steering models: cost on the CPU and closed-loop autonomy ($cmp_roads roads x $cmp_seconds s, seed 9100, lockstep) =="
"$ctl" model table "${specs[@]}"
printf '\n%-24s %12s %14s %14s %12s\n' model "weights" "CPU p50 (1t)" "autonomy" "|cte| mean"
for m in "${models[@]}"; do
    spec="$root/models/$m.yaml" weights="$root/models/$m.safetensors"
    lat=$("$ctl" bench "$spec" --threads 1 --batch 1 2>/dev/null | sed -n 's/^latency: median \([0-9.]*\) us.*/\1 us/p')
    if [ -f "$weights" ]; then
        size="$(( $(stat -c %s "$weights") / 1024 )) KiB"
        "$ctl" sim drive --config "$root/config/sim.yaml" --model "$spec" --weights "$weights" --roads "$cmp_roads" \
            --seconds "$cmp_seconds" --seed 9100 --lockstep --json "$out/cmp-$m.json" > "$out/cmp-$m.txt" 2>&1 || true
        auto=$(sed -n 's/.*"total":.*"autonomy_pct":\([0-9.]*\).*/\1 %/p' "$out/cmp-$m.json" 2>/dev/null || true)
        cte=$(sed -n 's/.*"total":.*"mean_abs_cte_m":\([0-9.]*\).*/\1 m/p' "$out/cmp-$m.json" 2>/dev/null || true)
    else
        size="not bundled" auto="-" cte="-"
    fi
    printf '%-24s %12s %14s %14s %12s\n' "$m" "$size" "${lat:--}" "${auto:-failed}" "${cte:--}"
done
echo
echo "The ceiling, the expert itself on the same roads:"
"$ctl" sim drive --expert --roads "$cmp_roads" --seconds "$cmp_seconds" --seed 9100 | tail -n 1
