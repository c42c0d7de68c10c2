#!/usr/bin/env bash
# bench-train.sh — training throughput (images/s) of steerd vs PyTorch 1.13: same model (built
# from the same YAML), same batch, same thread count, Adam, training mode, in the same run.
#
# For each model (default: seed-mnist-effnet, seed-steering-effnet, effnet-steer), batch size
# (default 32 and 64) and thread count (default 1 and 2) it runs, ROUNDS times alternating,
#   steerctl bench MODEL --train --threads T --batch B --runs R --json
#   OPENBLAS_NUM_THREADS=T scripts/bench_torch_train.py MODEL --threads T --batch B --runs R
# and keeps each side's best (lowest) median step time over the rounds: on a shared machine the
# least disturbed round is the closest to the real speed, and alternating gives both sides the
# same chances. With -B BASE, a second steerctl (e.g. an older build) runs in the same rounds
# too, for before/after numbers. Prints a markdown table (median step ms, images/s, process CPU
# ms per step, speed-up steerd/torch in images/s; with -B also the base and steerd/base) headed
# by the exact command line. Needs OpenBLAS (libopenblas0-pthread; scripts/deps.sh bench).
#
# -f channels_last times only that PyTorch memory format (default: contiguous and channels_last,
# the faster reported).
#
# Usage: scripts/bench-train.sh [-t "1 2"] [-b "32 64"] [-r RUNS] [-n ROUNDS] [-f FORMATS] [-s STEERCTL]
#                               [-B BASE] [-o OUT.md] [MODEL.yaml...]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY=/usr/bin/python3
THREADS="1 2"
BATCHES="32 64"
RUNS=""
ROUNDS=2
STEERCTL="${STEERCTL:-}"
BASE=""
FORMATS="contiguous,channels_last"
OUT=""
CMDLINE="$0 $*"

usage() { sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while getopts "t:b:r:n:f:s:B:o:h" opt; do
    case "$opt" in
        t) THREADS="$OPTARG" ;;
        b) BATCHES="$OPTARG" ;;
        r) RUNS="$OPTARG" ;;
        n) ROUNDS="$OPTARG" ;;
        s) STEERCTL="$OPTARG" ;;
        B) BASE="$OPTARG" ;;
        f) FORMATS="$OPTARG" ;;
        o) OUT="$OPTARG" ;;
        h) usage 0 ;;
        *) usage 2 ;;
    esac
done
shift $((OPTIND - 1))

# shellcheck source=scripts/bench-common.sh
. "$ROOT/scripts/bench-common.sh"

runs_for() {   # default steps per measurement: fewer for the big models
    if [ -n "$RUNS" ]; then echo "$RUNS"; return; fi
    case "$(basename "$1" .yaml)" in
        *mnist*) echo 30 ;;
        *) echo 6 ;;
    esac
}

require_openblas
STEERCTL="$(find_steerctl)"
echo "steerctl: $STEERCTL" >&2
if [ $# -gt 0 ]; then MODELS=("$@"); else
    MODELS=("$ROOT/models/seed-mnist-effnet.yaml" "$ROOT/models/seed-steering-effnet.yaml" "$ROOT/models/effnet-steer.yaml")
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/steerd-bench-train.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
RESULTS="$WORK/results.jsonl"
: > "$RESULTS"

for model in "${MODELS[@]}"; do
    r="$(runs_for "$model")"
    for b in $BATCHES; do
        for t in $THREADS; do
            for round in $(seq 1 "$ROUNDS"); do
                echo "bench $(basename "$model") batch $b threads $t round $round ..." >&2
                s="$("$STEERCTL" bench "$model" --train --threads "$t" --batch "$b" --runs "$r" --json \
                    2> "$WORK/err" || echo "{\"error\": \"$(head -n1 "$WORK/err" | tr -d '"\\')\"}")"
                o="null"
                if [ -n "$BASE" ]; then
                    o="$("$BASE" bench "$model" --train --threads "$t" --batch "$b" --runs "$r" --json \
                        2> "$WORK/err" || echo "{\"error\": \"$(head -n1 "$WORK/err" | tr -d '"\\')\"}")"
                fi
                p="$(OPENBLAS_NUM_THREADS="$t" OMP_NUM_THREADS="$t" "$PY" "$ROOT/scripts/bench_torch_train.py" \
                    "$model" --threads "$t" --batch "$b" --runs "$r" --warmup 2 --formats "$FORMATS" \
                    2> "$WORK/err" || echo "{\"error\": \"$(tail -n1 "$WORK/err" | tr -d '"\\')\"}")"
                printf '{"file": "%s", "batch": %s, "threads": %s, "runs": %s, "steerd": %s, "torch": %s, "base": %s}\n' \
                    "$(basename "$model" .yaml)" "$b" "$t" "$r" "$s" "$p" "$o" >> "$RESULTS"
            done
        done
    done
done

render() {
    local blas cpu
    blas="$(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | sed -n 's/^Value: //p')"
    cpu="$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)"
    echo "Command: \`$CMDLINE\`"
    echo
    echo "Per row, $ROUNDS rounds alternating: \`$STEERCTL bench MODEL --train --threads T --batch B --runs R --json\`"
    echo "and \`OPENBLAS_NUM_THREADS=T $PY scripts/bench_torch_train.py MODEL --threads T --batch B --runs R\`"
    [ -z "$BASE" ] || echo "and the same \`bench --train\` of the base build \`$BASE\`"
    echo "(R: ${RUNS:-30 for MNIST models, 6 otherwise}); each side's best median over the rounds."
    echo "Machine: $cpu, $(nproc) CPUs;"
    echo "libblas.so.3 -> ${blas:-unknown}; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg);"
    echo "$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    "$PY" - "$RESULTS" "$BASE" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
has_base = bool(sys.argv[2])
best = {}
for r in rows:   # keep each side's lowest median over the rounds
    key = (r["file"], r["batch"], r["threads"])
    cur = best.setdefault(key, {"runs": r["runs"], "steerd": None, "torch": None, "base": None})
    for side in ("steerd", "torch", "base"):
        v = r.get(side)
        if v is None:
            continue
        if "error" in v:
            cur.setdefault(side + "_error", v["error"])
        elif cur[side] is None or v["median_us"] < cur[side]["median_us"]:
            cur[side] = v
base_h = "| base step ms | base img/s | steerd/base " if has_base else ""
print("| model | batch | threads | steerd step ms | steerd img/s | steerd CPU ms | torch step ms "
      "| torch img/s | torch CPU ms | steerd/torch (img/s) " + base_h + "| torch format |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|---:|" if has_base else "") + "---|")
f = lambda v, d=1: "—" if v is None else f"{v:.{d}f}"
for (name, b, t), c in best.items():
    s, p = c["steerd"] or {}, c["torch"] or {}
    sm, pm = s.get("median_us"), p.get("median_us")
    ratio = pm / sm if sm and pm else None
    note = c.get("steerd_error") or c.get("torch_error") or c.get("base_error") or p.get("format", "")
    ms = lambda v: None if v is None else v / 1e3
    cols = ""
    if has_base:
        o = c["base"] or {}
        om = o.get("median_us")
        cols = f"| {f(ms(om))} | {f(b * 1e6 / om if om else None)} | {f(om / sm if om and sm else None, 2)} "
    print(f"| {name} | {b} | {t} | {f(ms(sm))} | {f(b * 1e6 / sm if sm else None)} | {f(ms(s.get('cpu_us')))} "
          f"| {f(ms(pm))} | {f(b * 1e6 / pm if pm else None)} | {f(ms(p.get('cpu_us')))} | {f(ratio, 2)} {cols}| {note} |")
EOF
}

if [ -n "$OUT" ]; then render | tee "$OUT"; else render; fi
