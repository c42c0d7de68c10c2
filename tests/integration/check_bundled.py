#!/usr/bin/python3
"""check_bundled.py — the trained weights bundled under models/ are what models/README.md says:

* every models/**/<name>.safetensors loads with models/<name>.yaml (`steerctl model run` on a
  small batch: the right output shape, finite values, class probabilities that sum to 1), and its
  metadata names that model and carries the test metric of the run that made it;
* each steering model reproduces its stored held-out MAE (`test_mae`) when `steerctl replay`
  runs it on the held-out drives recorded again from scratch (`steerctl sim record --seed 200
  --roads 2 --seconds 30`, as scripts/train-sim-models.sh records them): the recording, JPEG
  decoding, preprocessing and forward pass are deterministic, so the two agree to rounding.

usage: check_bundled.py --steerctl BUILD/steerctl --models models/ --workdir DIR"""
import argparse
import glob
import os
import shutil
import subprocess
import sys

import numpy as np
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "oracle"))
import st  # noqa: E402  (the tests' safetensors reader)


def metadata(path):
    with open(path, "rb") as f:
        header, _ = st.split(f.read())
    return header.get("__metadata__", {})


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise AssertionError("%s -> exit %d: %s" % (" ".join(cmd), r.returncode, r.stderr.strip()[-500:]))
    return r.stdout + r.stderr


def check_forward(steerctl, spec, weights, workdir):
    with open(spec) as f:
        model = yaml.safe_load(f)
    shape = model["input"]
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 1, size=(2, shape["height"], shape["width"], shape["channels"])).astype(np.float32)
    xin, yout = os.path.join(workdir, "x.npy"), os.path.join(workdir, "y.npy")
    np.save(xin, x)
    run([steerctl, "model", "run", spec, weights, "--input", xin, "--output", yout])
    y = np.load(yout).reshape(2, -1)
    assert np.all(np.isfinite(y)), "%s: non-finite output" % weights
    if model["output"]["kind"] == "classes":
        assert y.shape[1] == len(model["output"]["labels"]), "%s: %d outputs" % (weights, y.shape[1])
        assert np.allclose(y.sum(axis=1), 1, atol=1e-4), "%s: class probabilities sum to %s" % (weights, y.sum(1))
    else:
        assert y.shape[1] == 1, "%s: %d outputs for a steering model" % (weights, y.shape[1])
        assert np.all(np.abs(y) < 10), "%s: steering %s" % (weights, y.ravel())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steerctl", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    shutil.rmtree(a.workdir, ignore_errors=True)
    os.makedirs(a.workdir)
    bundled = sorted(glob.glob(os.path.join(a.models, "**", "*.safetensors"), recursive=True))
    assert bundled, "no bundled weights under %s" % a.models
    steering = []
    for w in bundled:
        name = os.path.basename(w)[: -len(".safetensors")]
        spec = os.path.join(a.models, name + ".yaml")
        assert os.path.exists(spec), "%s: no %s" % (w, spec)
        meta = metadata(w)
        assert meta.get("model") == name, "%s: metadata model %r" % (w, meta.get("model"))
        metric = "test_accuracy" if "test_accuracy" in meta else "test_mae"
        assert metric in meta, "%s: no test metric in the metadata" % w
        check_forward(a.steerctl, spec, w, a.workdir)
        print("%-60s %-24s %s %s" % (os.path.relpath(w, a.models), name, metric, meta[metric]))
        if metric == "test_mae":
            steering.append((name, spec, w, float(meta["test_mae"])))
    if steering:
        drives = os.path.join(a.workdir, "heldout")
        run([a.steerctl, "sim", "record", "--out", drives, "--seed", "200", "--roads", "2", "--seconds", "30"])
        log = os.path.join(drives, "driving_log.csv")
        for name, spec, w, stored in steering:
            out = run([a.steerctl, "replay", log, "--model", spec, "--weights", w, "--rate", "max"])
            mae = float([ln.split()[1] for ln in out.splitlines() if ln.startswith("mae:")][0])
            print("%-24s replay MAE %.6f, stored test_mae %.6f" % (name, mae, stored))
            assert abs(mae - stored) <= 1e-4 + 1e-3 * stored, "%s: replay MAE %.6f != stored %.6f" % (name, mae, stored)
    print("ok: %d bundled weight files, %d steering models reproduce their held-out MAE" % (len(bundled), len(steering)))


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print("check_bundled: %s" % e, file=sys.stderr)
        sys.exit(1)
