"""import_common.py — what the import checkers (check_onnx.py, check_keras*.py) share: running
steerctl, an import + `model run` judged against a float64 reference (max|steerd - ref| /
max(1e-3, max|ref|) <= 1e-5), a refusal judged as exit 65 or 78 (or the codes given), exactly
one stderr line holding the given words, and nothing left in --out; and Keras 2's layout of a
model's weights in an HDF5 group (write_weight_groups)."""
import os
import shutil
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "oracle"))
import st  # noqa: E402

TOL = 1e-5


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def fresh(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def check_run(steerctl, work, name, path, hwc, ref_fn, rng, want_in_yaml=(), extra=(), x=None):
    """Imports path as m into work/name (extra: more import arguments), runs x (default: a random
    batch of 2 NHWC inputs), compares with ref_fn(x)."""
    out = fresh(os.path.join(work, name))
    p = run(steerctl + ["import", path, "--name", "m", "--out", out] + list(extra))
    if p.returncode != 0:
        return f"import exit {p.returncode}: {p.stderr.strip()[:300]}"
    text = open(os.path.join(out, "m.yaml")).read()
    for w in want_in_yaml:
        if w not in text:
            return f"m.yaml lacks {w!r}"
    if x is None:
        x = rng.standard_normal((2,) + tuple(hwc)).astype(np.float32)
    st.save_npy(os.path.join(out, "x.npy"), x)
    p = run(steerctl + ["model", "run", os.path.join(out, "m.yaml"), os.path.join(out, "m.safetensors"), "--input",
                        os.path.join(out, "x.npy"), "--output", os.path.join(out, "y.npy")])
    if p.returncode != 0:
        return f"model run exit {p.returncode}: {p.stderr.strip()[:300]}"
    y, ref = st.load_npy(os.path.join(out, "y.npy")), ref_fn(x)
    if y.shape != ref.shape:
        return f"output shape {y.shape} != reference {ref.shape}"
    err = float(np.max(np.abs(y - ref)) / max(1e-3, float(np.max(np.abs(ref)))))
    return None if err <= TOL else f"relative error {err:.3g} > {TOL}"


def check_refusal(steerctl, work, name, path, words, extra=(), codes=(65, 78)):
    out = fresh(os.path.join(work, "bad-" + name))
    p = run(steerctl + ["import", path, "--out", out] + list(extra))
    lines = p.stderr.strip().splitlines()
    if p.returncode not in codes:
        return f"exit {p.returncode} (want {' or '.join(map(str, codes))}): {p.stderr.strip()[:300]}"
    if len(lines) != 1 or not all(w in lines[0] for w in words):
        return f"stderr {lines!r} does not name {words}"
    return f"files left in --out: {os.listdir(out)}" if os.listdir(out) else None


def write_weight_groups(g, layers, weights, version=b"2.11.0"):
    """Keras 2 save_weights_to_hdf5_group (keras/saving/hdf5_format.py) into the h5py group g (the
    file's root for model.save_weights, model_weights/ for model.save): attributes layer_names,
    backend, keras_version; per layer a group with attribute weight_names ("<layer>/kernel:0"...)
    and each weight at <layer>/<layer>/<w>. layers: all layer names; weights: {layer: [(w, array)]}."""
    g.attrs["layer_names"] = np.array([n.encode() for n in layers], dtype="S")
    g.attrs["backend"] = b"tensorflow"
    g.attrs["keras_version"] = version
    for n in layers:
        lg = g.create_group(n)
        ws = weights.get(n, [])
        lg.attrs["weight_names"] = np.array([f"{n}/{w}".encode() for w, _ in ws], dtype="S")
        for w, a in ws:
            lg.create_dataset(f"{n}/{w}", data=np.asarray(a, np.float32))


class Results:
    """Collects (case, failure or None); prints failures as they come and the summary line."""

    def __init__(self):
        self.items = []

    def record(self, name, msg):
        self.items.append((name, msg))
        if msg:
            print(f"FAIL {name}: {msg}")

    def finish(self):
        failed = sum(1 for _, m in self.items if m)
        print(f"{len(self.items) - failed} passed, {failed} failed")
        return 1 if failed else 0
