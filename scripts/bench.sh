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
# ARM mode (automatic when `uname -m` is aarch64, e.g. a Raspberry Pi 4/5 or a Jetson; -a forces
# it elsewhere): the same table, with PyTorch as the peer only when python3 can import torch (else
# steerd's numbers alone and a line saying the peer is missing; OpenBLAS is not required), then a
# second table of the kernels' instruction sets: each row again with `--isa scalar`, against the
# flavour steerd picked (neon on ARM): median µs of both and scalar/picked.
#
# Usage: scripts/bench.sh [-a] [-t "1 2"] [-b "1 32"] [-r RUNS] [-s STEERCTL] [-B BASE] [-o OUT.md] [MODEL.yaml...]
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

usage() { sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

ARM=0
[ "$(uname -m)" != aarch64 ] || ARM=1
while getopts "at:b:r:s:B:o:h" opt; do
    case "$opt" in
        a) ARM=1 ;;
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

PEER=1   # PyTorch runs each row; ARM mode: only when it is installed
if [ "$ARM" = 1 ]; then
    if ! PEER_WHY="$("$PY" -c 'import numpy, torch, yaml' 2>&1)"; then
        PEER=0
        echo "PyTorch peer missing ($(echo "$PEER_WHY" | tail -n1)): steerd's numbers only" >&2
    fi
else
    require_openblas
fi
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
            q="null"
            if [ "$ARM" = 1 ]; then
                q="$("$STEERCTL" bench "$model" --weights "$w" --threads "$t" --batch "$b" --runs "$r" --json \
                    --isa scalar 2> "$WORK/err" || echo "{\"error\": \"$(head -n1 "$WORK/err" | tr -d '"\\')\"}")"
            fi
            p="{}"
            if [ "$PEER" = 1 ]; then
                p="$(OPENBLAS_NUM_THREADS="$t" OMP_NUM_THREADS="$t" "$PY" "$ROOT/scripts/bench_torch.py" "$model" \
                    --weights "$w" --threads "$t" --batch "$b" --runs "$r" --warmup 3 --max-seconds 2 \
                    2> "$WORK/err" || echo "{\"error\": \"$(tail -n1 "$WORK/err" | tr -d '"\\')\"}")"
            fi
            printf '{"file": "%s", "batch": %s, "threads": %s, "runs": %s, "steerd": %s, "torch": %s, "base": %s, "scalar": %s}\n' \
                "$(basename "$model" .yaml)" "$b" "$t" "$r" "$s" "$p" "$o" "$q" >> "$RESULTS"
        done
    done
done

render() {
    local blas cpu
    blas="$(update-alternatives --query "libblas.so.3-$(uname -m)-linux-gnu" 2>/dev/null | sed -n 's/^Value: //p')"
    cpu="$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)"
    if [ "$ARM" = 1 ] && [ -z "$cpu" ]; then  # ARM: no "model name"; the core from lscpu, the board from the device tree
        cpu="$(lscpu 2>/dev/null | sed -n 's/^Model name:\s*//p' | head -n1)"
        cpu="$(tr -d '\0' < /proc/device-tree/model 2>/dev/null || true)${cpu:+ ($cpu)}"
    fi
    echo "Command: \`$CMDLINE\`"
    echo
    if [ "$PEER" = 1 ]; then
        echo "Per row: \`$STEERCTL bench MODEL --weights W --threads T --batch B --runs R --json\` and"
        echo "\`OPENBLAS_NUM_THREADS=T $PY scripts/bench_torch.py MODEL --weights W --threads T --batch B --runs R\`"
    else
        echo "Per row: \`$STEERCTL bench MODEL --weights W --threads T --batch B --runs R --json\`."
        echo "Peer missing: PyTorch is not installed here ($PY cannot import numpy, torch and yaml), so these"
        echo "are steerd's numbers alone (for the peer: \`pip install torch numpy pyyaml\` or Debian's python3-torch)."
    fi
    [ "$ARM" = 0 ] || echo "ISA table: each row again with \`--isa scalar\` (the portable C kernels)."
    echo "(W made once per model by \`steerctl model init MODEL --seed 1\`)."
    [ -z "$BASE" ] || echo "Base: the same \`bench\` of \`$BASE\`, run right after steerd's in each row."
    echo "Machine: $cpu, $(nproc) CPUs; libblas.so.3 -> ${blas:-unknown}; $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    "$PY" - "$RESULTS" "$BASE" "$PEER" "$ARM" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
base, peer, arm = bool(sys.argv[2]), sys.argv[3] == "1", sys.argv[4] == "1"
print("| model | batch | threads | steerd median µs | steerd p99 µs |"
      + (" torch median µs | torch p99 µs | steerd/torch |" if peer else "")
      + " steerd GMAC/s | SGEMM peak GMAC/s |" + (" torch format |" if peer else " note |")
      + (" base median µs | steerd/base |" if base else ""))
print("|---|---:|---:|---:|---:|" + ("---:|---:|---:|" if peer else "") + "---:|---:|---|"
      + ("---:|---:|" if base else ""))
f = lambda v, d=1: "—" if v is None else f"{v:.{d}f}"
for r in rows:
    s, t, o = r["steerd"], r["torch"], r.get("base") or {}
    sm, tm, om = s.get("median_us"), t.get("median_us"), o.get("median_us")
    ratio = sm / tm if sm and tm else None
    note = s.get("error") or t.get("error") or o.get("error") or t.get("format", "")
    extra = f" {f(om)} | {f(sm / om if sm and om else None, 2)} |" if base else ""
    torch = f" {f(tm)} | {f(t.get('p99_us'))} | {f(ratio, 2)} |" if peer else ""
    print(f"| {s.get('model', r['file'])} | {r['batch']} | {r['threads']} | {f(sm)} | {f(s.get('p99_us'))} |"
          f"{torch} {f(s.get('gmacs'), 2)} | {f(s.get('peak_gmacs'), 2)} | {note} |" + extra)
if arm:  # the kernels' instruction sets: the flavour steerd picked (neon on ARM) vs --isa scalar
    print()
    print("| model | batch | threads | isa | median µs | scalar median µs | scalar/isa | note |")
    print("|---|---:|---:|---|---:|---:|---:|---|")
    for r in rows:
        s, q = r["steerd"], r.get("scalar") or {}
        sm, qm = s.get("median_us"), q.get("median_us")
        print(f"| {s.get('model', r['file'])} | {r['batch']} | {r['threads']} | {s.get('isa', '—')} | {f(sm)} "
              f"| {f(qm)} | {f(qm / sm if sm and qm else None, 2)} | {s.get('error') or q.get('error') or ''} |")
EOF
}

if [ -n "$OUT" ]; then render | tee "$OUT"; else render; fi
