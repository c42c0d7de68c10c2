#!/usr/bin/python3
"""check_sim_import.py — issue 16's "done when": the seed steering EffNet imported from a Keras .h5
drives in `steerctl sim drive` exactly like the zoo one with the same weights.

The zoo's models/seed-steering-effnet.{yaml,safetensors} are written as a Keras 2 model.save .h5
(make_keras_h5.py: the inverse of the importer's mapping, HWIO kernels,
depthwise [kh, kw, C, dm], Dense rows in channels_last order after the Flatten), imported with
`steerctl import`, and the imported YAML given the zoo's preprocess and output blocks (in the seed
the normalisation was a Lambda layer, which the importer refuses: README "Bring your own model").
Checks: every zoo tensor comes back bit-identical in the imported safetensors; then two closed-loop
drives through a real steerd (config/sim.yaml, --lockstep, same seed, one short road), one with
each model, whose --trace files (per frame: pose, cross-track error, expert and applied steering)
must be byte-identical, with the model really steering (its steering varies over the road).
Exit 0 pass, 1 fail, 77 without h5py/torch or .h5 support.
"""
import argparse
import csv
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "oracle"))
try:
    import make_keras_h5  # h5py, torch
    import st
except ImportError as e:
    print(f"skipped: {e} (install python3-h5py python3-torch)")
    sys.exit(77)

MODEL = "seed-steering-effnet"


def run(cmd, timeout=600):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def fail(msg):
    print(f"FAIL: {msg}")
    return 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steerctl", required=True)
    ap.add_argument("--workdir", default="/tmp/steerd-sim-import")
    a = ap.parse_args()
    if "h5" not in run([a.steerctl, "import", "--help"]).stdout:
        print("steerctl import without .h5 support: skipped")
        return 77
    shutil.rmtree(a.workdir, ignore_errors=True)
    os.makedirs(a.workdir)
    spec, weights = (os.path.join(REPO, "models", MODEL + e) for e in (".yaml", ".safetensors"))
    zoo, _ = st.load(weights)
    h5 = os.path.join(a.workdir, MODEL + ".h5")
    make_keras_h5.write(spec, weights, h5)
    out = os.path.join(a.workdir, "imported")
    os.makedirs(out)
    p = run([a.steerctl, "import", h5, "--name", "seed", "--out", out])
    if p.returncode != 0:
        return fail(f"import exit {p.returncode}: {p.stderr.strip()}")
    got, _ = st.load(os.path.join(out, "seed.safetensors"))
    for name, v in zoo.items():  # b1.conv1.weight -> b1_conv1.weight
        layer, _, suffix = name.rpartition(".")
        w = got.get(layer.replace(".", "_") + "." + suffix)
        if w is None or w.dtype != v.dtype or w.shape != v.shape or w.tobytes() != v.tobytes():
            return fail(f"{name}: not bit-identical in the imported weights")
    if len(got) != len(zoo):
        return fail(f"imported weights hold {len(got)} tensors, the zoo's {len(zoo)}")
    # the zoo's preprocess and output blocks in place of the importer's `output: {kind: values}`
    text, zoo_yaml = (open(f).read() for f in (os.path.join(out, "seed.yaml"), spec))
    blocks = re.search(r"^preprocess:.*?(?=^layers:)", zoo_yaml, re.S | re.M).group(0)
    if "output: {kind: values}\n" not in text:
        return fail("imported YAML lacks `output: {kind: values}`")
    with open(os.path.join(out, "seed.yaml"), "w") as f:
        f.write(text.replace("output: {kind: values}\n", blocks))
    traces = []
    for tag, m, w in (("zoo", spec, weights), ("imported", os.path.join(out, "seed.yaml"),
                                                os.path.join(out, "seed.safetensors"))):
        trace = os.path.join(a.workdir, tag + ".csv")
        p = run([a.steerctl, "sim", "drive", "--config", os.path.join(REPO, "config", "sim.yaml"), "--model", m,
                 "--weights", w, "--seed", "16", "--roads", "1", "--seconds", "3", "--fps", "10", "--lockstep",
                 "--trace", trace, "--daemon-log", os.path.join(a.workdir, tag + ".log")])
        if p.returncode != 0:
            return fail(f"sim drive with the {tag} model: exit {p.returncode}: {p.stderr.strip()[-300:]}")
        traces.append(open(trace).read())
    rows = list(csv.DictReader(traces[0].splitlines()))
    steer = {r["steer"] for r in rows}
    if len(rows) != 30 or len(steer) < 5:
        return fail(f"zoo drive: {len(rows)} frames, {len(steer)} distinct steering values (want 30 and >= 5)")
    if traces[0] != traces[1]:
        diff = next(i for i, (x, y) in enumerate(zip(traces[0].splitlines(), traces[1].splitlines())) if x != y)
        return fail(f"the drives differ from trace line {diff + 1}: {traces[0].splitlines()[diff]!r} vs "
                    f"{traces[1].splitlines()[diff]!r}")
    print(f"ok: {len(zoo)} tensors bit-identical; drives identical over {len(rows)} frames "
          f"(steer {min(map(float, steer)):.3f} .. {max(map(float, steer)):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
