#!/usr/bin/env bash
# bench-sim.sh — the simulator's speed (not a test; numbers for docs/BENCHMARKS.md):
#   (a) render: CPU time per 320x160 frame (user+sys of `steerctl sim drive --expert`, which does
#       nothing but render, step the car and run the expert) and its wall-time p50/p99;
#   (b) record: frames/s of `steerctl sim record` (3 cameras rendered + 3 JPEG encodes + CSV);
#   (c) closed loop: `steerctl sim drive` against a real steerd (effnet-steer, He-initialised
#       weights: speed does not depend on the values) at 30 fps in real time: frame rendered ->
#       steer message received latency p50/p99, answered frames, CPU of both processes.
# The reference is the 30 fps frame budget (33.3 ms): the ratio says how much of one core the
# simulator takes from the daemon. Prints a markdown table and the exact commands. Uses a release
# build (default build/, made like `make build`).
# Usage: scripts/bench-sim.sh [BUILD_DIR]   env: ROADS (3), SECONDS_PER_ROAD (30)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
if [ ! -x "$build/steerd" ] || [ ! -x "$build/steerctl" ]; then
    scripts/deps.sh build
    [ -f "$build/build.ninja" ] || meson setup "$build" -Dtests=disabled >/dev/null
    ninja -C "$build" >/dev/null
fi
roads=${ROADS:-3}
secs=${SECONDS_PER_ROAD:-30}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/steerctl" model init models/effnet-steer.yaml --seed 1 -o "$tmp/effnet-steer.safetensors" >/dev/null
load_before=$(cut -d' ' -f1 /proc/loadavg)

# /usr/bin/time is not always installed: bash's `times` after a subshell gives the children's CPU.
cpu_of() { # cpu_of OUTFILE CMD... -> prints user+sys seconds of CMD
    local out=$1; shift
    ( "$@" >"$out"; times ) | tail -1 | awk '{ split($1, u, "m"); split($2, s, "m");
        sub("s", "", u[2]); sub("s", "", s[2]); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }'
}

cmd_a=("$build/steerctl" sim drive --expert --seed 1 --roads "$roads" --seconds "$secs" --json "$tmp/a.json")
t0=$(date +%s.%N)
cpu_a=$(cpu_of "$tmp/a.out" "${cmd_a[@]}")
wall_a=$(awk "BEGIN { print $(date +%s.%N) - $t0 }")

cmd_b=("$build/steerctl" sim record --out "$tmp/rec" --seed 1 --roads "$roads" --seconds "$secs" --fps 10)
t0=$(date +%s.%N)
cpu_b=$(cpu_of "$tmp/b.out" "${cmd_b[@]}")
wall_b=$(awk "BEGIN { print $(date +%s.%N) - $t0 }")

cmd_c=("$build/steerctl" sim drive --config config/sim.yaml --model models/effnet-steer.yaml
       --weights "$tmp/effnet-steer.safetensors" --steerd "$build/steerd" --seed 1 --roads "$roads"
       --seconds "$secs" --json "$tmp/c.json")
t0=$(date +%s.%N)
cpu_c=$(cpu_of "$tmp/c.out" "${cmd_c[@]}")
wall_c=$(awk "BEGIN { print $(date +%s.%N) - $t0 }")

CPU_A=$cpu_a WALL_A=$wall_a CPU_B=$cpu_b WALL_B=$wall_b CPU_C=$cpu_c WALL_C=$wall_c TMP=$tmp \
LOAD_BEFORE=$load_before CMD_A="${cmd_a[*]}" CMD_B="${cmd_b[*]}" CMD_C="${cmd_c[*]}" /usr/bin/python3 - <<'PY'
import json, os, platform, re
e = os.environ
a, c = json.load(open(e["TMP"] + "/a.json")), json.load(open(e["TMP"] + "/c.json"))
frames_a = a["total"]["frames"]
cpu_frame_ms = float(e["CPU_A"]) * 1000 / frames_a
b = open(e["TMP"] + "/b.out").read()
frames_b = int(re.search(r"frames: (\d+)", b).group(1))
rend_b = re.search(r"render_us: p50 (\d+) p99 (\d+)", b)
jpeg_b = re.search(r"jpeg_us: p50 (\d+) p99 (\d+)", b)
t = c["total"]
print("machine: %s, %d CPUs, load average before %s" % (platform.processor() or platform.machine(), os.cpu_count(),
                                                        e["LOAD_BEFORE"]))
print()
print("| measure | value | vs the 33.3 ms frame budget |")
print("|---|---|---|")
print("| (a) render + car + expert, CPU per frame | %.2f ms | %.1f %% of a core at 30 fps |" %
      (cpu_frame_ms, cpu_frame_ms / 33.33 * 100))
print("| (a) render wall time p50 / p99 | %.2f / %.2f ms | |" % (a["total"]["render_ms"]["p50"],
                                                                  a["total"]["render_ms"]["p99"]))
print("| (b) record: frames/s (3 cameras + 3 JPEGs each) | %.0f (CPU %.2f ms per frame) | |" %
      (frames_b / float(e["WALL_B"]), float(e["CPU_B"]) * 1000 / frames_b))
print("| (b) record: render / JPEG p50 per image | %s / %s us | |" % (rend_b.group(1), jpeg_b.group(1)))
print("| (c) closed loop: latency frame -> steer message p50 / p99 | %.2f / %.2f ms | |" %
      (t["latency_ms"]["p50"], t["latency_ms"]["p99"]))
print("| (c) closed loop: frames answered | %d / %d | |" % (t["answered"], t["frames"]))
print("| (c) closed loop: CPU of simulator + steerd together | %.1f %% of a core | |" %
      (float(e["CPU_C"]) / float(e["WALL_C"]) * 100))
print()
print("commands:")
for k in ("CMD_A", "CMD_B", "CMD_C"):
    print("  " + e[k])
PY
