#!/usr/bin/python3
"""check_example.py — examples/steer-run (libsteer's public API) against `steerctl model run` (the
engine as the programs use it) on bundled models and weights: the same random batch through both
must give the same float32 outputs, bit for bit (one engine, one library). Also its errors: a
missing weights file and an input of the wrong size are one line and a non-zero exit.
Usage: check_example.py STEER_RUN STEERCTL MODELS_DIR WORKDIR"""
import os
import subprocess
import sys

import numpy as np
import yaml

CASES = [  # (model YAML, weights under models/, batch)
    ("effnet-steer.yaml", "effnet-steer.safetensors", 3),
    ("seed-mnist-effnet.yaml", "mnist10k/seed-mnist-effnet.safetensors", 2),
]


def run_example(exe, spec, weights, x_path):
    p = subprocess.run([exe, spec, weights, x_path], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        sys.exit(f"FAIL: steer-run {spec}: exit {p.returncode}: {p.stderr.strip()}")
    return np.array([[float(v) for v in line.split()] for line in p.stdout.splitlines()], dtype=np.float32)


def main():
    steer_run, steerctl, models, work = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(14)
    for spec_name, weights_name, batch in CASES:
        spec, weights = os.path.join(models, spec_name), os.path.join(models, weights_name)
        with open(spec) as f:
            inp = yaml.safe_load(f)["input"]
        h, w, c = inp["height"], inp["width"], inp["channels"]
        x = rng.uniform(-1, 1, size=(batch, h, w, c)).astype(np.float32)
        x_npy, x_raw, y_npy = (os.path.join(work, n) for n in ("x.npy", "x.f32", "y.npy"))
        np.save(x_npy, x)
        x.tofile(x_raw)
        subprocess.run([steerctl, "model", "run", spec, weights, "--input", x_npy, "--output", y_npy], check=True,
                       capture_output=True, timeout=120)
        want = np.load(y_npy)
        got = run_example(steer_run, spec, weights, x_raw)
        if got.shape != want.shape or not np.array_equal(got, want):
            sys.exit(f"FAIL: {spec_name}: steer-run {got.tolist()} != steerctl model run {want.tolist()}")
        print(f"ok: {spec_name} batch {batch}: {want.shape[1]} outputs per image, identical")
    # errors: one line, non-zero exit
    spec = os.path.join(models, "effnet-steer.yaml")
    p = subprocess.run([steer_run, spec, os.path.join(work, "missing.safetensors")], capture_output=True, text=True)
    if p.returncode != 1 or len(p.stderr.strip().splitlines()) != 1 or "missing.safetensors" not in p.stderr:
        sys.exit(f"FAIL: missing weights: exit {p.returncode}, stderr {p.stderr!r}")
    bad = os.path.join(work, "bad.f32")
    np.zeros(7, dtype=np.float32).tofile(bad)
    p = subprocess.run([steer_run, spec, os.path.join(models, "effnet-steer.safetensors"), bad], capture_output=True,
                       text=True)
    if p.returncode != 65 or "expected 1..64 images" not in p.stderr:
        sys.exit(f"FAIL: short input: exit {p.returncode}, stderr {p.stderr!r}")
    print("ok: errors are one line and a non-zero exit")


if __name__ == "__main__":
    main()
