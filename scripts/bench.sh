#!/usr/bin/env bash
# bench.sh — steerd vs PyTorch on the zoo models: same weights, same batch, same thread count.
#
# For each model (default: models/*.yaml) it makes one weights file with `steerctl model init`,
# then for every batch size (default 1 and 32) and thread count (default 1 and 2) runs
#   steerctl bench MODEL --weights W --threads T --batch B --runs R --json
#   scripts/bench_torch.py MODEL --weights W --threads T --batch B --runs R
# and prints a markdown table (median/p99 µs of both, ratio steerd/torch, steerd GMAC/s, SGEMM
# peak GMAC/s, the memory format torch was faster with) headed by the exact command line.
# Needs OpenBLAS (Debian libopenblas0-pthread): installed with apt-get when run as root,
# otherwise the apt command is printed and the script stops.
#
# With -B BASE, a second steerctl (e.g. a build of an older commit) runs the same rows right after
# steerd, for before/after numbers in one run (extra columns: base median, steerd/base).
#
# Usage: scripts/bench.sh [-t "1 2"] [-b "1 32"] [-r RUNS] [-s STEERCTL] [-B BASE] [-o OUT.md] [MODEL.yaml...]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY=/usr/bin/python3
THREADS="1 2"
BATCHES="1 32"
RUNS=""
STEERCTL="${STEERCTL:-}"
BASE=""
OUT=""
CMDLINE="$0 $*"

usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while getopts "t:b:r:s:B:o:h" opt; do
    case "$opt" in
        t) THREADS="$OPTARG" ;;
        b) BATCHES="$OPTARG" ;;
        r) RUNS="$OPTARG" ;;
        s) STEERCTL="$OPTARG" ;;
        B) BASE="$OPTARG" ;;
        o) OUT="$OPTARG" ;;
        h) usage 0 ;;
        *) usage 2 ;;
    esac
done
shift $((OPTIND - 1))

# shellcheck source=scripts/bench-common.sh
. "$ROOT/scripts/bench-common.sh"

runs_for() {   # default run count: fewer for big batches, to keep the whole script ~10 minutes
    if [ -n "$RUNS" ]; then echo "$RUNS"; elif [ "$1" -le 4 ]; then echo 50; else echo 10; fi
}

require_openblas
STEERCTL="$(find_steerctl)"
echo "steerctl: $STEERCTL" >&2
if [ $# -gt 0 ]; then MODELS=("$@"); else MODELS=("$ROOT"/models/*.yaml); fi
[ -e "${MODELS[0]}" ] || { echo "no models to benchmark" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/steerd-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
RESULTS="$WORK/results.jsonl"
: > "$RESULTS"

for model in "${MODELS[@]}"; do
    w="$WORK/$(basename "$model" .yaml).safetensors"
    if ! "$STEERCTL" model init "$model" --seed 1 -o "$w" 2> "$WORK/err"; then
        echo "skip $model: $(head -n1 "$WORK/err")" >&2
        continue
    fi
    for b in $BATCHES; do
        r="$(runs_for "$b")"
        for t in $THREADS; do
            echo "bench $(basename "$model") batch $b threads $t ..." >&2
            s="$("$STEERCTL" bench "$model" --weights "$w" --threads "$t" --batch "$b" --runs "$r" --json \
                2> "$WORK/err" || echo "{\"error\": \"$(head -n1 "$WORK/err" | tr -d '"\\')\"}")"
            o="null"
            if [ -n "$BASE" ]; then
                o="$("$BASE" bench "$model" --weights "$w" --threads "$t" --batch "$b" --runs "$r" --json \
                    2> "$WORK/err" || echo "{\"error\": \"$(head -n1 "$WORK/err" | tr -d '"\\')\"}")"
            fi
            p="$(OPENBLAS_NUM_THREADS="$t" OMP_NUM_THREADS="$t" "$PY" "$ROOT/scripts/bench_torch.py" "$model" \
                --weights "$w" --threads "$t" --batch "$b" --runs "$r" --warmup 3 --max-seconds 2 \
                2> "$WORK/err" || echo "{\"error\": \"$(tail -n1 "$WORK/err" | tr -d '"\\')\"}")"
            printf '{"file": "%s", "batch": %s, "threads": %s, "runs": %s, "steerd": %s, "torch": %s, "base": %s}\n' \
                "$(basename "$model" .yaml)" "$b" "$t" "$r" "$s" "$p" "$o" >> "$RESULTS"
        done
    done
done

render() {
    local blas cpu
    blas="$(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | sed -n 's/^Value: //p')"
    cpu="$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)"
    echo "Command: \`$CMDLINE\`"
    echo
    echo "Per row: \`$STEERCTL bench MODEL --weights W --threads T --batch B --runs R --json\` and"
    echo "\`OPENBLAS_NUM_THREADS=T $PY scripts/bench_torch.py MODEL --weights W --threads T --batch B --runs R\`"
    echo "(W made once per model by \`steerctl model init MODEL --seed 1\`)."
    [ -z "$BASE" ] || echo "Base: the same \`bench\` of \`$BASE\`, run right after steerd's in each row."
    echo "Machine: $cpu, $(nproc) CPUs; libblas.so.3 -> ${blas:-unknown}; $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    "$PY" - "$RESULTS" "$BASE" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
base = bool(sys.argv[2])
print("| model | batch | threads | steerd median µs | steerd p99 µs | torch median µs | torch p99 µs "
      "| steerd/torch | steerd GMAC/s | SGEMM peak GMAC/s | torch format |"
      + (" base median µs | steerd/base |" if base else ""))
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|" + ("---:|---:|" if base else ""))
f = lambda v, d=1: "—" if v is None else f"{v:.{d}f}"
for r in rows:
    s, t, o = r["steerd"], r["torch"], r.get("base") or {}
    sm, tm, om = s.get("median_us"), t.get("median_us"), o.get("median_us")
    ratio = sm / tm if sm and tm else None
    note = s.get("error") or t.get("error") or o.get("error") or t.get("format", "")
    extra = f" {f(om)} | {f(sm / om if sm and om else None, 2)} |" if base else ""
    print(f"| {s.get('model', r['file'])} | {r['batch']} | {r['threads']} | {f(sm)} | {f(s.get('p99_us'))} "
          f"| {f(tm)} | {f(t.get('p99_us'))} | {f(ratio, 2)} | {f(s.get('gmacs'), 2)} "
          f"| {f(s.get('peak_gmacs'), 2)} | {note} |" + extra)
EOF
}

if [ -n "$OUT" ]; then render | tee "$OUT"; else render; fi
