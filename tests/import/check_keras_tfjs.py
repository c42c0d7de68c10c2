#!/usr/bin/python3
"""check_keras_tfjs.py — `steerctl import` of Keras models against a real Keras implementation:
TensorFlow.js' tfjs-layers under node (keras_oracle.js), installed by scripts/deps.sh into
tests/import/keras-oracle/node_modules (package.json + package-lock.json there pin the versions).

keras_oracle.js builds the seed's four models and a functional layer-coverage graph in tfjs with
seeded random weights and writes, per model, tfjs' model.toJSON() (the Keras model config), the
weights, an input batch and tfjs' output. Here each model becomes, with h5py:
  full      a model.save file (Keras 2 layout, as check_keras.py: root attributes model_config,
            keras_version, backend; model_weights/<layer>/<layer>/<w>:0);
  weights   a model.save_weights file (keras/saving/hdf5_format.py save_weights_to_hdf5_group:
            root attributes layer_names, backend, keras_version; <layer>/<layer>/<w>:0, each group
            with weight_names) imported with --config MODEL.json, the toJSON text as
            model.to_json() writes it (the coverage model wrapped as tfjs-layers' model.json,
            {"modelTopology": ...}; the MNIST EffNet as the tfjs converter's,
            {"modelTopology": {"model_config": ...}});
both imported, run with `steerctl model run` on the oracle's input (cropped as the model's
Cropping2D says: the crop becomes the YAML's preprocess) and compared with tfjs' output
(max|steerd - tfjs| / max(1e-3, max|tfjs|) <= 1e-5); the two imports' safetensors must be equal.
Refusals (one line, nothing written): a save_weights file without --config (64), --config with an
ONNX file (64), a config whose layer has another shape than its weight (65), a weight missing, a
weight group of a layer the config lacks (65).
Last line: `N passed, N failed`; exit 1 on any failure (a missing node or tfjs too: CI installs
them), 77 without h5py or .h5 support in steerctl.
"""
import argparse
import base64
import json
import os
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
try:
    import h5py
except ImportError as e:  # meson: skipped
    print(f"skipped: {e} (install python3-h5py)")
    sys.exit(77)
from import_common import Results, check_refusal, check_run, run, write_weight_groups  # noqa: E402

MODULES = os.path.join(HERE, "keras-oracle", "node_modules")


def arr(d):
    return np.frombuffer(base64.b64decode(d["data"]), "<f4").reshape(d["shape"])


def weights_of(doc):
    """{layer: [(weight name 'kernel:0', array)]} in the oracle's (Keras') order."""
    w = {}
    for t in doc["weights"]:
        w.setdefault(t["layer"], []).append((t["name"] + ":0", arr(t)))
    return w


def layer_names(cfg):
    return [l["config"]["name"] if "name" not in l else l["name"] for l in cfg["config"]["layers"]]


def save_full(path, cfg, weights):
    version = cfg.get("keras_version", "2.11.0").encode()
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = version
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps({"class_name": cfg["class_name"], "config": cfg["config"]}).encode()
        write_weight_groups(f.create_group("model_weights"), layer_names(cfg), weights, version)


def save_weights(path, cfg, weights):
    with h5py.File(path, "w") as f:
        write_weight_groups(f, layer_names(cfg), weights, cfg.get("keras_version", "2.11.0").encode())


def tensors(path):
    """A safetensors file's tensors (header entries and data), without its __metadata__ (which names the source)."""
    buf = open(path, "rb").read()
    n = int.from_bytes(buf[:8], "little")
    head = json.loads(buf[8:8 + n])
    head.pop("__metadata__", None)
    return head, buf[8 + n:]


def model_input(cfg, x):
    """x as `steerctl model run` takes it: after a Cropping2D of the input (the YAML's preprocess)."""
    for l in cfg["config"]["layers"]:
        if l["class_name"] == "Cropping2D":
            (t, b), (lf, r) = l["config"]["cropping"]
            return np.ascontiguousarray(x[:, t:x.shape[1] - b, lf:x.shape[2] - r, :])
    return x


def check_model(steerctl, work, doc, rng):
    """Two results: the full-model import and the save_weights + --config import."""
    name, cfg, w = doc["name"], doc["config"], weights_of(doc)
    x, y = model_input(cfg, arr(doc["input"])), arr(doc["output"]).astype(np.float64)
    full, sw = os.path.join(work, name + ".h5"), os.path.join(work, name + "-weights.h5")
    save_full(full, cfg, w)
    save_weights(sw, cfg, w)
    js = os.path.join(work, name + ".json")
    wrap = {"coverage": {"modelTopology": cfg, "weightsManifest": []},  # tfjs-layers' model.save
            "seed-mnist-effnet": {"format": "layers-model", "modelTopology": {  # the tfjs converter's
                "keras_version": cfg["keras_version"], "backend": cfg["backend"], "model_config": cfg}}}
    with open(js, "w") as f:  # model.to_json(), or one of the model.json forms
        json.dump(wrap.get(name, cfg), f)
    hwc = x.shape[1:]
    r1 = check_run(steerctl, work, name, full, hwc, lambda _: y, rng, x=x)
    r2 = check_run(steerctl, work, name + "-weights", sw, hwc, lambda _: y, rng, extra=["--config", js], x=x)
    if not r1 and not r2:
        a, b = (tensors(os.path.join(work, d, "m.safetensors")) for d in (name, name + "-weights"))
        r2 = None if a == b else "save_weights import's tensors differ from the model.save import's"
    return r1, r2, (full, sw, js)


def refusals(steerctl, work, files, res):
    """Refusals built from the mnist baseline's files (full .h5, weights .h5, config JSON)."""
    full, sw, js = files
    res.record("bad-no-config", check_refusal(steerctl, work, "no-config", sw, [
        "-weights.h5 has no model_config: a save_weights file; give its architecture with --config MODEL.json"],
        codes=(64,)))
    onnx = os.path.join(work, "m.onnx")
    open(onnx, "wb").write(b"\x08\x07")
    res.record("bad-config-onnx", check_refusal(steerctl, work, "config-onnx", onnx, ["--config", "Keras"],
                                                extra=["--config", js], codes=(64,)))
    cfg = json.load(open(js))
    for l in cfg["config"]["layers"]:
        if l["config"]["name"] == "conv2":
            l["config"]["filters"] = 48
    bad = os.path.join(work, "bad-shape.json")
    json.dump(cfg, open(bad, "w"))
    res.record("bad-config-shape", check_refusal(steerctl, work, "config-shape", sw, [
        "layer 'conv2' ('Conv2D'): weight 'kernel:0' is 3x3x32x64, the config and the layer's input give 3x3x32x48"],
        extra=["--config", bad]))
    cut = os.path.join(work, "cut-weights.h5")
    shutil.copy(sw, cut)
    with h5py.File(cut, "a") as f:
        del f["dense1"]["dense1"]["kernel:0"]
    res.record("bad-weight-missing", check_refusal(steerctl, work, "weight-missing", cut, [
        "layer 'dense1': weight 'kernel:0' is missing (<layer>/<layer>/kernel:0)"], extra=["--config", js]))
    extra = os.path.join(work, "extra-weights.h5")
    shutil.copy(sw, extra)
    with h5py.File(extra, "a") as f:
        f.attrs["layer_names"] = np.append(f.attrs["layer_names"], b"head2")
        g = f.create_group("head2")
        g.attrs["weight_names"] = np.array([b"head2/kernel:0"])
        g.create_dataset("head2/kernel:0", data=np.ones((3, 3), np.float32))
    res.record("bad-extra-layer", check_refusal(steerctl, work, "extra-layer", extra, [
        "layer 'head2' has weights in the file but is not in ", os.path.basename(js)],
        extra=["--config", js]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steerctl", required=True)
    ap.add_argument("--workdir", default="/tmp/steerd-import-keras-tfjs")
    ap.add_argument("--node", default=shutil.which("node") or "node")
    a = ap.parse_args()
    steerctl = [a.steerctl]
    if "h5" not in run(steerctl + ["import", "--help"]).stdout:
        print("steerctl import without .h5 support: skipped")
        return 77
    if not shutil.which(a.node) or not os.path.isdir(os.path.join(MODULES, "@tensorflow", "tfjs-layers")):
        print(f"FAIL: node ({a.node}) or tfjs-layers in {MODULES} missing: run scripts/deps.sh (it installs both)")
        return 1
    shutil.rmtree(a.workdir, ignore_errors=True)
    oracle = os.path.join(a.workdir, "oracle")
    p = subprocess.run([a.node, os.path.join(HERE, "keras_oracle.js"), oracle],
                       capture_output=True, text=True, timeout=600, env=dict(os.environ, NODE_PATH=MODULES))
    if p.returncode != 0:
        print(f"FAIL: keras_oracle.js exit {p.returncode}: {p.stderr.strip()[-500:]}")
        return 1
    rng = np.random.default_rng(16)
    res = Results()
    names = ["seed-mnist-baseline", "seed-mnist-effnet", "seed-steering-baseline", "seed-steering-effnet",
             "coverage", "activations"]
    files = None
    for n in names:
        doc = json.load(open(os.path.join(oracle, n + ".json")))
        r1, r2, f = check_model(steerctl, a.workdir, doc, rng)
        res.record(n, r1)
        res.record(n + "-save_weights", r2)
        files = files or f
    refusals(steerctl, a.workdir, files, res)
    return res.finish()


if __name__ == "__main__":
    sys.exit(main())
