#!/usr/bin/env bash
# main-job.sh — the README's main job until the daemon lands: the zoo's cost table and the
# separable-convolution explainer, computed by the real engine from models/*.yaml.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
ctl="$build/steerctl"

echo "== steerd model zoo: parameters and multiply-adds per image (steerctl model table) =="
echo
echo "-- steering models (ratios vs the seed's baseline) --"
"$ctl" model table "$root"/models/seed-steering-baseline.yaml "$root"/models/seed-steering-effnet.yaml \
  "$root"/models/effnet-steer.yaml "$root"/models/pilotnet.yaml
echo
echo "-- digit models, 28x28x1 (ratios vs the seed's baseline) --"
"$ctl" model table "$root"/models/seed-mnist-baseline.yaml "$root"/models/seed-mnist-effnet.yaml \
  "$root"/models/paper-mnist-baseline.yaml "$root"/models/paper-mnist-mobilenet.yaml \
  "$root"/models/paper-mnist-shufflenet.yaml "$root"/models/paper-mnist-effnet.yaml
echo
echo "-- the EffNet paper's Cifar10 models, 32x32x3 (ratios vs the baseline) --"
"$ctl" model table "$root"/models/paper-cifar-baseline.yaml "$root"/models/paper-cifar-mobilenet.yaml \
  "$root"/models/paper-cifar-shufflenet.yaml "$root"/models/paper-cifar-effnet.yaml
echo
echo "== why separable convolutions are cheaper (steerctl explain) =="
echo
"$ctl" explain
