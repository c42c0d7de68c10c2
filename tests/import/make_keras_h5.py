#!/usr/bin/python3
"""make_keras_h5.py — a zoo model with its weights (models/NAME.yaml + NAME.safetensors) written as
the files Keras 2 writes, for trying `steerctl import` without TensorFlow (README "Bring your own
model") and for the tests: by default a model.save file (root attributes model_config,
keras_version, backend; model_weights/<layer>/<layer>/<w>:0); with --config JSON a
model.save_weights file (the same groups at the root) plus JSON, the architecture as
model.to_json() writes it. Keras layouts: check_keras.py's keras_from_spec (HWIO kernels,
depthwise [kh, kw, C, dm], Dense rows in channels_last order after a Flatten). The zoo's
preprocessing is not part of a Keras model (the seed did it in a Lambda layer): set it in the
imported YAML. Needs python3-h5py and python3-torch (tests/oracle/torchmodel.py reads the YAML).
usage: make_keras_h5.py NAME OUT.h5 [--config OUT.json] [--models DIR]"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check_keras as ck  # noqa: E402  (h5py, torch; adds tests/oracle to the path)
import h5py  # noqa: E402
import st  # noqa: E402
import torchmodel as tm  # noqa: E402
from import_common import write_weight_groups  # noqa: E402


def write(spec, weights, out, config=None):
    """spec, weights: a model's YAML and safetensors; out: the .h5; config: the to_json file or None."""
    net = tm.build(spec)
    layers, kw = ck.keras_from_spec(net, st.load(weights)[0])
    if config is None:
        ck.save_h5(out, layers, kw)
        return
    with h5py.File(out, "w") as f:
        write_weight_groups(f, [l["config"]["name"] for l in layers], kw)
    with open(config, "w") as f:
        name = os.path.splitext(os.path.basename(spec))[0]
        json.dump({"class_name": "Sequential", "config": {"name": name, "layers": layers},
                   "keras_version": "2.11.0", "backend": "tensorflow"}, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("name", help="a zoo model: models/NAME.yaml and models/NAME.safetensors")
    ap.add_argument("out", help="the .h5 to write")
    ap.add_argument("--config", help="write a save_weights file and the architecture JSON here")
    ap.add_argument("--models", default=os.path.join(HERE, "..", "..", "models"))
    a = ap.parse_args()
    spec, weights = (os.path.join(a.models, a.name + e) for e in (".yaml", ".safetensors"))
    for p in (spec, weights):
        if not os.path.isfile(p):
            sys.exit(f"make_keras_h5.py: {p}: no such file (a zoo model with weights: models/*.safetensors)")
    write(spec, weights, a.out, a.config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
