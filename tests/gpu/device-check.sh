#!/bin/bash
# device-check.sh — the ONE script run on a lent GPU machine (H100/H200, CUDA 13 driver, PyTorch
# 2.11 with its cuDNN/cuBLAS wheels, no GStreamer/ZeroMQ, no network), in the repository root,
# with the build made here by tests/gpu/build.sh carried along (build-gpu-dev/: the programs, and
# in its lib/ libyaml, libcmocka and the libcudart they were linked with; build-stamp.txt).
# A hard deadline: DEADLINE seconds (default 400) for everything; each step's timeout is clipped
# to the time left, a step that no longer fits is skipped, and the summary is written from an
# EXIT trap whatever happens (a failure, a timeout, SIGTERM). Steps, most important first:
#   1. environment: build stamp, GPU, driver, the cuDNN/cuBLAS/cudart versions actually loaded
#      (bench-infer-models --probe); an `ldd` "not found" is a loud failure;
#   2. inference parity (tests/test_cuda_infer: every layer type and zoo model, graph replay, GPU
#      preprocessing; cuDNN pinned to its GEMM family) and backend selection;
#   3. the two steering models: CUDA graph and eager, batch 1 and 256 (and every conv2d through
#      cuDNN), all in one process (bench-infer-models), and the PyTorch eager peer for the same two;
#   4. training parity (tests/test_cuda_train); data-parallel training on one GPU (tests/test_train_shard
#      cuda: a 2-way shard of two contexts against the whole batch);
#   5. training throughput (steerd's GPU trainer: kernels/bench/bench-train-step, and PyTorch,
#      batch 128);
#   6. compute-sanitizer memcheck of one small model's forward (the kernels carry -lineinfo);
#   7. everything else: training parity on the engine's own convolution kernels (the cuDNN
#      fallback), the other zoo models (one process) and their PyTorch eager peer;
#   8. torch.compile for the steering models, last.
# A GPU test that exits 77 (skip) counts as a FAILURE when nvidia-smi sees a GPU.
# Output: $OUT/device-check.txt (everything, also on stdout) and $OUT/summary.txt (the step
# verdicts and the tables of tests/gpu/summarize.py). Exit status 0 when every step passed.
# Environment: B (build dir), OUT, DEADLINE (s), PY (python with torch).
set -u
cd "$(dirname "$0")/../.."
B=${B:-build-gpu-dev}
OUT=${OUT:-/tmp/steerd-device-check}
DEADLINE=${DEADLINE:-400}
RESERVE=15 # seconds kept for the summary (and a killed step's grace period)
PY=${PY:-python3}
mkdir -p "$OUT"
RES="$OUT/device-check.txt"
SUM="$OUT/summary.txt"
: > "$RES"
exec > >(tee -a "$RES") 2>&1
T0=$(date +%s)
W=$(mktemp -d)
VERDICTS=()
FAILED=0
export PYTHONUNBUFFERED=1 STEERD_CUDA_VERBOSE=1
HAVE_GPU=0
nvidia-smi -L 2>/dev/null | grep -q GPU && HAVE_GPU=1

elapsed() { echo $(($(date +%s) - T0)); }
left() { echo $((DEADLINE - RESERVE - $(elapsed))); }
section() { echo; echo "## $*  (t=$(elapsed) s, $(left) s left)"; }
verdict() { # verdict NAME TEXT [fail]
    echo "RESULT $1: $2"
    VERDICTS+=("$1: $2")
    [ "${3:-}" = fail ] && FAILED=$((FAILED + 1))
    return 0
}

# step NAME TIMEOUT CMD...: runs CMD under min(TIMEOUT, time left) and records its verdict.
step() {
    local name=$1 want=$2
    shift 2
    local l t s rc
    l=$(left)
    if [ "$l" -lt 5 ]; then
        verdict "$name" "SKIPPED: deadline (${DEADLINE}s) reached" fail
        return 0
    fi
    t=$((want < l ? want : l))
    s=$(date +%s)
    timeout -k 3 "$t" "$@"
    rc=$?
    local d=$(($(date +%s) - s))
    case $rc in
    0) verdict "$name" "ok (${d}s)" ;;
    124 | 137) verdict "$name" "FAIL: timed out after ${t}s" fail ;;
    77) if [ $HAVE_GPU = 1 ]; then
            verdict "$name" "FAIL: skipped (exit 77) although nvidia-smi sees a GPU" fail
        else
            verdict "$name" "skipped: no GPU (exit 77, ${d}s)"
        fi ;;
    *) verdict "$name" "FAIL: exit $rc (${d}s)" fail ;;
    esac
}

finish() {
    local rc=$?
    trap - EXIT INT TERM
    {
        echo "# device check summary ($(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(elapsed) s of ${DEADLINE} s)"
        [ -f "$B/build-stamp.txt" ] && sed 's/^/build: /' "$B/build-stamp.txt"
        echo "gpu: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)"
        for v in "${VERDICTS[@]}"; do echo "- $v"; done
        echo "failed steps: $FAILED"
        timeout 20 "$PY" tests/gpu/summarize.py "$RES" 2>&1 || echo "(summarize.py failed)"
    } > "$SUM"
    section "summary"
    cat "$SUM"
    echo "total $(elapsed) s (deadline ${DEADLINE} s)"
    rm -rf "$W"
    sleep 1 # let tee write the results file
    [ "$FAILED" -eq 0 ] && [ "$rc" -eq 0 ] && exit 0
    exit 1
}
trap finish EXIT
trap 'verdict signal "FAIL: interrupted by a signal" fail; exit 1' INT TERM

section "1. environment"
date -u
if [ -f "$B/build-stamp.txt" ]; then cat "$B/build-stamp.txt"; else verdict stamp "FAIL: no $B/build-stamp.txt (run tests/gpu/build.sh)" fail; fi
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv 2>&1 || true
# cuDNN / cuBLAS from the Python environment's nvidia-* wheels (or /usr/local/cuda); cudart: ours first.
NV=$(timeout 20 "$PY" -c 'import nvidia; print(" ".join(nvidia.__path__))' 2>/dev/null)
LIBDIRS="$PWD/$B/lib"
for lib in libcudnn.so.9 libcublas.so.13 libcublasLt.so.13; do
    f=$(find $NV /usr/local/cuda/lib64 /usr/local/cuda/targets -name "$lib" 2>/dev/null | head -1)
    echo "$lib: ${f:-NOT FOUND}"
    [ -n "$f" ] && LIBDIRS="$LIBDIRS:$(dirname "$f")"
done
export LD_LIBRARY_PATH="$LIBDIRS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
missing=0
for exe in "$B/kernels/bench/bench-infer-models" "$B/tests/test_cuda_infer" "$B/tests/test_cuda_train" "$B/tests/test_train_shard" \
    "$B/steerctl"; do
    [ -x "$exe" ] || { echo "FAIL: $exe missing"; missing=1; continue; }
    if ldd "$exe" | grep "not found"; then
        echo "FAIL: $exe: a shared library is not found (above)"
        missing=1
    fi
done
[ $missing = 0 ] && verdict ldd ok || verdict ldd "FAIL: missing programs or libraries (see above)" fail
step probe 30 "$B/kernels/bench/bench-infer-models" --probe
git log -1 --format='tree commit %H %s' 2>/dev/null || true

section "2. inference parity (test_cuda_infer; 1e-4 relative, cuDNN pinned to GEMM; graph replay)"
step infer-parity 150 "$B/tests/test_cuda_infer" gpu models
step backend-select 30 "$B/tests/test_cuda_infer" select models

section "3. the two steering models: graph / eager, batch 1 and 256, one process; PyTorch eager peer"
STEER="models/seed-steering-effnet.yaml models/effnet-steer.yaml"
init_weights() { # the weights both engines read: every zoo model, He-initialised with seed 1
    local bad=0
    for m in models/*.yaml; do
        "$B/steerctl" model init "$m" --seed 1 -o "$W/$(basename "$m" .yaml).safetensors" >/dev/null || bad=1
    done
    return $bad
}
step weights 60 bash -c "$(declare -f init_weights); B='$B' W='$W'; init_weights"
step steer-bench 60 "$B/kernels/bench/bench-infer-models" --weights-dir "$W" --cudnn --seconds 20 $STEER
step steer-torch-eager 75 "$PY" tests/gpu/peer_torch.py $STEER --weights-dir "$W" --batches 1,256 --runs 1000,30 \
    --max-seconds 2

section "4. training parity (test_cuda_train; cuDNN pinned to GEMM)"
step train-parity 120 "$B/tests/test_cuda_train" models
step train-shard 45 "$B/tests/test_train_shard" cuda

section "5. training throughput (batch 128)"
TRAIN="seed-mnist-effnet seed-steering-effnet"
tag_train() { # bench-train-step's JSON line, tagged for summarize.py; its exit status kept
    set -o pipefail
    "$B/kernels/bench/bench-train-step" "models/$1.yaml" --backend cuda --batch 128 --runs 30 --json |
        sed 's/^{/{"engine": "steerd", "mode": "train", /'
}
for n in $TRAIN; do # forward, loss, backward, clip, Adam: nn_train_step, as steer-train runs it
    step "train-bench-$n" 45 bash -c "$(declare -f tag_train); B='$B'; tag_train $n"
done
step train-torch 60 "$PY" tests/gpu/peer_torch.py $(for n in $TRAIN; do echo "models/$n.yaml"; done) --mode train \
    --batches 128 --runs 30 --warmup 3 --max-seconds 10

section "6. compute-sanitizer memcheck (seed-mnist-effnet forward: graph, eager, batch 256; -lineinfo)"
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
if [ -n "$CS" ]; then
    step memcheck 75 "$CS" --tool memcheck --error-exitcode 3 --print-limit 20 "$B/kernels/bench/bench-infer-models" --runs 5 \
        --seconds 30 models/seed-mnist-effnet.yaml
else
    verdict memcheck "not run: no compute-sanitizer on this machine"
fi

section "7. everything else: own conv kernels (training parity), the other zoo models, their PyTorch peer"
step train-parity-own-conv 90 env STEERD_CUDA_CONV_OWN=1 "$B/tests/test_cuda_train" models
OTHERS=$(ls models/*.yaml | grep -v -e seed-steering-effnet -e effnet-steer)
step zoo-bench 90 "$B/kernels/bench/bench-infer-models" --weights-dir "$W" --seconds 1.5 $OTHERS
step zoo-torch-eager 60 "$PY" tests/gpu/peer_torch.py $OTHERS --weights-dir "$W" --batches 1,256 --runs 300,10 \
    --max-seconds 1

section "8. torch.compile (reduce-overhead) for the steering models"
step torch-compile 90 "$PY" tests/gpu/peer_torch.py $STEER --weights-dir "$W" --batches 1 --runs 1000 \
    --max-seconds 2 --compile seed-steering-effnet,effnet-steer --skip-eager
