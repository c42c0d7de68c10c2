#!/bin/bash
# device-check.sh — the ONE script run on the lent GPU machine (H100/H200, CUDA 13 driver, PyTorch
# 2.11 with its cuDNN/cuBLAS wheels, no GStreamer/ZeroMQ), in the repository root, with the build
# made here by tests/gpu/build.sh carried along (build-gpu-dev/, libyaml + libcmocka in its lib/).
# Finishes in about 5 minutes (every step has its own timeout; the whole must stay under 8).
# Everything goes to ONE results file, $OUT/device-check.txt (also echoed to stdout):
#   1. environment: GPU, driver, the cuDNN/cuBLAS/cudart the binaries load (from the Python
#      environment's nvidia-* wheels, or /usr/local/cuda), torch version;
#   2. parity: tests/test_cuda_infer (every layer type and zoo model GPU vs CPU, graph replay,
#      GPU preprocessing), the backend-selection test, and tests/test_cuda_train (GPU training
#      steps vs CPU) when the build has it;
#   3. inference, every zoo model, same weights (steerctl model init --seed 1) in both engines:
#      steerd batch 1 with the CUDA Graph and eager (p50/p99 of host input -> GPU -> host output),
#      batch 256 throughput; PyTorch eager (and torch.compile for the steering models) the same;
#   4. training throughput of seed-mnist-effnet and seed-steering-effnet, steerd's GPU trainer
#      (when this build has it: `steerctl bench --train --backend cuda`) and PyTorch, batch 128;
#   5. a summary table (tests/gpu/summarize.py) — the lines to copy into docs/BENCHMARKS.md.
set -u
cd "$(dirname "$0")/../.."
B=${B:-build-gpu-dev}
OUT=${OUT:-/tmp/steerd-device-check}
mkdir -p "$OUT"
RES="$OUT/device-check.txt"
: > "$RES"
exec > >(tee -a "$RES") 2>&1
T0=$(date +%s)
section() { echo; echo "## $*  (t=$(($(date +%s) - T0)) s)"; }
PY=${PY:-python3}
export PYTHONUNBUFFERED=1
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

section "1. environment"
date -u
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv || true
NV=$($PY -c 'import nvidia; print(" ".join(nvidia.__path__))' 2>/dev/null)
LIBDIRS="$PWD/$B/lib"
for lib in libcudnn.so.9 libcublas.so.13 libcublasLt.so.13 libcudart.so.13; do
    f=$(find $NV /usr/local/cuda/lib64 /usr/local/cuda/targets -name "$lib" 2>/dev/null | head -1)
    echo "$lib: ${f:-NOT FOUND}"
    [ -n "$f" ] && LIBDIRS="$LIBDIRS:$(dirname "$f")"
done
export LD_LIBRARY_PATH="$LIBDIRS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
ldd "$B/steerctl" | grep -E "not found|libcud|libcublas|libyaml"
$PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(), torch.cuda.get_device_name(0))'
git log -1 --format='commit %H %s' 2>/dev/null || true

section "2. parity (tests/test_cuda_infer.c; tolerance 1e-4 relative, graph replay bit-exact)"
timeout 240 "$B/tests/test_cuda_infer" gpu models
echo "RESULT parity exit=$?"
timeout 60 "$B/tests/test_cuda_infer" select models >/dev/null
echo "RESULT select exit=$?"
if [ -x "$B/tests/test_cuda_train" ]; then   # GPU training parity (the GPU-training work), when built
    timeout 200 "$B/tests/test_cuda_train" models
    echo "RESULT cuda_train exit=$?"
else
    echo "RESULT cuda_train not available in this build"
fi

section "3. inference: steerd (CUDA graph, eager, batch 256)"
MODELS=$(ls models/*.yaml)
for m in $MODELS; do
    n=$(basename "$m" .yaml)
    "$B/steerctl" model init "$m" --seed 1 -o "$W/$n.safetensors" || continue
    timeout 60 "$B/steerctl" bench "$m" --weights "$W/$n.safetensors" --backend cuda --batch 1 --runs 3000 --json
    timeout 60 "$B/steerctl" bench "$m" --weights "$W/$n.safetensors" --backend cuda --batch 1 --runs 1000 --eager --json
    timeout 60 "$B/steerctl" bench "$m" --weights "$W/$n.safetensors" --backend cuda --batch 256 --runs 30 --json
done
section "3b. the two steering models: every conv2d through cuDNN (graph), and a per-step profile (CUDA events, eager)"
for n in seed-steering-effnet effnet-steer; do
    timeout 60 "$B/steerctl" bench "models/$n.yaml" --weights "$W/$n.safetensors" --backend cuda --batch 1 --runs 3000 \
        --conv-direct-macs -1 --json
    timeout 60 "$B/steerctl" bench "models/$n.yaml" --weights "$W/$n.safetensors" --backend cuda --batch 1 --runs 200 --profile
done

section "3c. inference: PyTorch peer (same weights; eager; torch.compile reduce-overhead for the steering models)"
timeout 200 $PY tests/gpu/peer_torch.py $MODELS --weights-dir "$W" --batches 1,256 --runs 1000,30 --max-seconds 2 \
    --compile seed-steering-effnet,effnet-steer
echo "RESULT torch-infer exit=$?"

section "4. training throughput (batch 128)"
TRAIN="seed-mnist-effnet seed-steering-effnet"
if [ -x "$B/kernels/bench/bench-train-step" ]; then   # forward, loss, backward, clip, Adam: as steer-train
    for n in $TRAIN; do
        timeout 90 "$B/kernels/bench/bench-train-step" "models/$n.yaml" --backend cuda --batch 128 --runs 30 --json |
            sed 's/^{/{"engine": "steerd", "mode": "train", /'
    done
elif "$B/steerctl" bench models/seed-mnist-effnet.yaml --train --help 2>&1 | grep -q -- "--backend"; then
    for n in $TRAIN; do
        timeout 90 "$B/steerctl" bench "models/$n.yaml" --train --backend cuda --batch 128 --runs 30 --json
    done
else
    for n in $TRAIN; do
        echo "{\"engine\": \"steerd\", \"mode\": \"train\", \"model\": \"$n\", \"error\": \"not available: this build's steerctl bench --train has no --backend cuda (GPU training not landed)\"}"
    done
fi
timeout 120 $PY tests/gpu/peer_torch.py $(for n in $TRAIN; do echo "models/$n.yaml"; done) --mode train --batches 128 \
    --runs 30 --warmup 3 --max-seconds 10
echo "RESULT torch-train exit=$?"

section "5. summary"
$PY tests/gpu/summarize.py "$RES"
echo "total $(($(date +%s) - T0)) s"
sleep 1 # let tee finish writing the results file
