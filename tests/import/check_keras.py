#!/usr/bin/python3
"""check_keras.py — `steerctl import` of Keras 2 `.h5` files, through the real steerctl.

The files are written with h5py in Keras 2's model.save layout (keras/saving/hdf5_format.py,
save_model_to_hdf5 + save_weights_to_hdf5_group, Keras 2.4-2.11): root attributes
`model_config` (the JSON of model.get_config() under {"class_name", "config"}), `keras_version`
and `backend` (byte strings); group `model_weights` with attributes `layer_names`, `backend`,
`keras_version`; per layer a group `model_weights/<layer>` with attribute `weight_names`
(byte strings such as `conv1/kernel:0`) and each weight at `model_weights/<layer>/<weight name>`
(so `model_weights/conv1/conv1/kernel:0`). Keras layouts: Conv2D kernel HWIO [kh, kw, in, out],
DepthwiseConv2D [kh, kw, C, dm], SeparableConv2D depthwise [kh, kw, C, dm] + pointwise
[1, 1, C*dm, F], Dense [in, out] with `in` in channels_last (H, W, C) order after a Flatten,
BatchNormalization gamma, beta, moving_mean, moving_variance.

Cases:
  seed models  models/seed-*.yaml (the seed's MNIST and steering EffNets and baseline CNNs) as
               Sequential Keras models with random weights; expected output: the float64
               PyTorch reference (tests/oracle/torchmodel.py) with the same weights in PyTorch
               layouts; `steerctl model run` within 1e-5 relative;
  functional   a hand-written functional graph (ZeroPadding2D, SeparableConv2D, Add,
               Concatenate, GlobalAveragePooling2D, Dense softmax) whose reference is computed
               in PyTorch directly from the Keras weights with Keras conventions ('same'
               padding, HWIO, depthwise [kh, kw, C, dm]);
  pooling      AveragePooling2D 'same' (TensorFlow's average divides by the real cells, the extra
               padding at the bottom / right), ZeroPadding2D before AveragePooling2D (its zeros
               count: the YAML's count_pad), MaxPooling2D 'same';
  crop         Cropping2D on the input becomes the YAML's preprocess crop;
  activations  sigmoid / tanh / elu / relu6 as `activation` of Conv2D, DepthwiseConv2D,
               SeparableConv2D, Dense and Activation, the ELU and ReLU(max_value) layers;
               reference in PyTorch with Keras' definitions;
  refusals     Lambda (the message says how to declare preprocessing), selu activation, ReLU
               with max_value and negative_slope or a threshold, a truncated file, a missing
               weight: one line, exit 65/78, nothing written;
  bad-gheap    the global-heap object holding `model_config` claims 1 GiB (what tests/fuzz/fuzz_h5
               found): libhdf5 1.10.8's H5HG_read copies that much and crashes (SIGSEGV; under
               ASan a report and exit 1); steerctl parses .h5 files in a child process and says so
               in one line, exit 65, nothing written.
Last line: `N passed, N failed`; exit 1 on any failure, 77 without h5py/torch or .h5 support.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "oracle"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import h5py
    import torch
    import torch.nn.functional as F
except ImportError as e:  # meson: skipped
    print(f"skipped: {e} (install python3-h5py python3-torch)")
    sys.exit(77)
import torchmodel as tm  # noqa: E402
from import_common import Results, check_refusal, check_run, run, write_weight_groups  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def save_h5(path, layers, weights, functional=None):
    """layers: Keras layer dicts {class_name, config[, inbound_nodes]}; weights: {layer: [(wname, array)]}."""
    if functional:
        cfg = {"class_name": "Functional", "config": {"name": "m", "layers": layers, **functional}}
    else:
        cfg = {"class_name": "Sequential", "config": {"name": "m", "layers": layers}}
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.11.0"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(cfg).encode("utf8")
        write_weight_groups(f.create_group("model_weights"), [l["config"]["name"] for l in layers], weights)


def pads_of(pad):
    return pad if isinstance(pad, list) else None


def keras_from_spec(net, tensors):
    """Sequential Keras layers + weights for a steerd model (torchmodel prims, PyTorch weights)."""
    h, w, c = net.in_hwc
    layers = [{"class_name": "InputLayer", "config": {"name": "input_1", "batch_input_shape": [None, h, w, c],
                                                      "dtype": "float32"}}]
    weights = {}
    for p in net.prims:
        name = p.name.replace(".", "_")
        cfg = {"name": name}
        t = p.type
        k = lambda s: tensors[f"{p.name}.{s}"]  # noqa: E731
        ins = net.shapes[p.inputs[0]]
        if t in ("conv2d", "depthwise_conv2d"):
            pad = p.cfg["padding"]
            if isinstance(pad, list):
                layers.append({"class_name": "ZeroPadding2D", "config": {"name": name + "_pad",
                               "padding": [[pad[0], pad[1]], [pad[2], pad[3]]]}})
                pad = "valid"
            cfg.update(kernel_size=list(p.cfg["kernel"]), strides=list(p.cfg["stride"]), padding=pad,
                       data_format="channels_last", dilation_rate=[1, 1], activation="linear",
                       use_bias=p.cfg["bias"])
            wt = k("weight")
            if t == "conv2d":
                cfg.update(filters=p.cfg["filters"], groups=p.cfg["groups"])
                ws = [("kernel:0", wt.transpose(2, 3, 1, 0))]
                cls = "Conv2D"
            else:
                dm = p.cfg["depth_multiplier"]
                cfg.update(depth_multiplier=dm)
                ws = [("depthwise_kernel:0", wt.reshape(ins.c, dm, *wt.shape[2:]).transpose(2, 3, 0, 1))]
                cls = "DepthwiseConv2D"
            if p.cfg["bias"]:
                ws.append(("bias:0", k("bias")))
            weights[name] = ws
        elif t in ("max_pool2d", "avg_pool2d"):
            cls = "MaxPooling2D" if t == "max_pool2d" else "AveragePooling2D"
            assert not isinstance(p.cfg["padding"], list)
            cfg.update(pool_size=list(p.cfg["pool"]), strides=list(p.cfg["stride"]), padding=p.cfg["padding"],
                       data_format="channels_last")
        elif t == "batch_norm":
            cls = "BatchNormalization"
            cfg.update(axis=-1, epsilon=p.cfg["eps"], momentum=1 - p.cfg["momentum"], center=True, scale=True)
            weights[name] = [("gamma:0", k("weight")), ("beta:0", k("bias")), ("moving_mean:0", k("running_mean")),
                             ("moving_variance:0", k("running_var"))]
        elif t == "relu":
            cls, cfg["activation"] = "Activation", "relu"
        elif t == "softmax":
            cls, cfg["activation"] = "Activation", "softmax"
        elif t == "leaky_relu":
            cls, cfg["alpha"] = "LeakyReLU", p.cfg["alpha"]
        elif t == "dropout":
            cls, cfg["rate"] = "Dropout", p.cfg["rate"]
        elif t == "flatten":
            cls, cfg["data_format"] = "Flatten", "channels_last"
        elif t == "global_avg_pool":
            cls, cfg["data_format"] = "GlobalAveragePooling2D", "channels_last"
        elif t == "dense":
            if not ins.flat:
                layers.append({"class_name": "Flatten", "config": {"name": name + "_flatten"}})
            wt = k("weight")
            src = ins.src if ins.flat else (ins.c, ins.h, ins.w)
            if src is not None and src[1] * src[2] > 1:  # Keras rows in H, W, C order
                kern = wt.reshape(wt.shape[0], *src).transpose(2, 3, 1, 0).reshape(-1, wt.shape[0])
            else:
                kern = wt.T
            cls = "Dense"
            cfg.update(units=p.cfg["units"], activation="linear", use_bias=p.cfg["bias"])
            weights[name] = [("kernel:0", kern)] + ([("bias:0", k("bias"))] if p.cfg["bias"] else [])
        else:
            raise ValueError(f"no Keras layer for {t}")
        layers.append({"class_name": cls, "config": cfg})
    return layers, weights


def functional_case(path, rng):
    r = lambda *s: (rng.standard_normal(s) * 0.3).astype(np.float32)  # noqa: E731
    dk, pk, pb = r(3, 3, 4, 2), r(1, 1, 8, 6), r(6)
    ck, cb = r(3, 3, 4, 6), r(6)
    dw2 = r(2, 2, 12, 1)
    fk, fb = r(12, 5), r(5)
    L = lambda cls, name, ins, **cfg: {"class_name": cls, "config": {"name": name, **cfg},  # noqa: E731
                                       "inbound_nodes": [[[i, 0, 0, {}] for i in ins]] if ins else []}
    layers = [L("InputLayer", "in", [], batch_input_shape=[None, 9, 8, 4]),
              L("ZeroPadding2D", "zp", ["in"], padding=[[1, 1], [1, 1]]),
              L("SeparableConv2D", "sep", ["zp"], kernel_size=[3, 3], strides=[1, 1], padding="valid",
                depth_multiplier=2, activation="relu", use_bias=True),
              L("Conv2D", "conv", ["in"], filters=6, kernel_size=[3, 3], strides=[1, 1], padding="same",
                activation="linear", use_bias=True, dilation_rate=[1, 1]),
              L("Add", "add", ["sep", "conv"]),
              L("Concatenate", "cat", ["add", "conv"], axis=-1),
              L("DepthwiseConv2D", "dw", ["cat"], kernel_size=[2, 2], strides=[2, 2], padding="same",
                depth_multiplier=1, activation="linear", use_bias=False),
              L("GlobalAveragePooling2D", "gap", ["dw"]),
              L("Dense", "fc", ["gap"], units=5, activation="softmax", use_bias=True)]
    weights = {"sep": [("depthwise_kernel:0", dk), ("pointwise_kernel:0", pk), ("bias:0", pb)],
               "conv": [("kernel:0", ck), ("bias:0", cb)], "dw": [("depthwise_kernel:0", dw2)],
               "fc": [("kernel:0", fk), ("bias:0", fb)]}
    save_h5(path, layers, weights, {"input_layers": [["in", 0, 0]], "output_layers": [["fc", 0, 0]]})

    def T(a):
        return torch.from_numpy(np.asarray(a, np.float64))

    def same(x, k, s):  # TensorFlow 'same': the extra cell at the bottom / right
        hh, ww = x.shape[2], x.shape[3]
        ph = max((-(-hh // s) - 1) * s + k[0] - hh, 0)
        pw = max((-(-ww // s) - 1) * s + k[1] - ww, 0)
        return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))

    def ref(x_nhwc):
        x = T(x_nhwc).permute(0, 3, 1, 2)
        d = F.conv2d(F.pad(x, (1, 1, 1, 1)), T(dk).permute(2, 3, 0, 1).reshape(8, 1, 3, 3), groups=4)
        sep = F.relu(F.conv2d(d, T(pk).permute(3, 2, 0, 1), T(pb)))
        conv = F.conv2d(same(x, (3, 3), 1), T(ck).permute(3, 2, 0, 1), T(cb))
        cat = torch.cat([sep + conv, conv], 1)
        dw = F.conv2d(same(cat, (2, 2), 2), T(dw2).permute(2, 3, 0, 1).reshape(12, 1, 2, 2), stride=2, groups=12)
        return torch.softmax(dw.mean((2, 3)) @ T(fk) + T(fb), 1).numpy()
    return (9, 8, 4), ref


def pooling_case(path, rng):
    """AveragePooling2D 'same' (TensorFlow divides by the real cells), ZeroPadding2D then
    AveragePooling2D (its zeros count), MaxPooling2D 'same', Flatten, Dense."""
    fk, fb = (rng.standard_normal((3 * 2 * 3, 2)) * 0.3).astype(np.float32), np.float32([0.1, -0.2])
    layers = [{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [None, 9, 8, 3]}},
              {"class_name": "AveragePooling2D", "config": {"name": "ap_same", "pool_size": [3, 3], "strides": [2, 2],
                                                            "padding": "same", "data_format": "channels_last"}},
              {"class_name": "ZeroPadding2D", "config": {"name": "zp", "padding": [[1, 0], [0, 1]]}},
              {"class_name": "AveragePooling2D", "config": {"name": "ap_zp", "pool_size": [2, 2], "strides": [1, 1],
                                                            "padding": "valid", "data_format": "channels_last"}},
              {"class_name": "MaxPooling2D", "config": {"name": "mp_same", "pool_size": [2, 2], "strides": [2, 2],
                                                        "padding": "same", "data_format": "channels_last"}},
              {"class_name": "Flatten", "config": {"name": "flat"}},
              {"class_name": "Dense", "config": {"name": "fc", "units": 2, "activation": "linear"}}]
    save_h5(path, layers, {"fc": [("kernel:0", fk), ("bias:0", fb)]})

    def ref(x_nhwc):
        x = torch.from_numpy(x_nhwc).double().permute(0, 3, 1, 2)  # 9x8
        pads = (0, 1, 1, 1)  # 'same' 3x3 stride 2: rows 1 + 1, columns 0 + 1 (the extra one after)
        sums = F.avg_pool2d(F.pad(x, pads), 3, 2, divisor_override=1)
        x = sums / F.avg_pool2d(F.pad(torch.ones(1, 1, 9, 8, dtype=torch.float64), pads), 3, 2, divisor_override=1)
        x = F.avg_pool2d(F.pad(x, (0, 1, 1, 0)), 2, 1)  # 5x4 -> 6x5 -> 5x4, zeros counted
        x = F.max_pool2d(F.pad(x, (0, 0, 0, 1), value=-np.inf), 2, 2)  # 'same': 3x2
        return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1).numpy() @ fk.astype(np.float64) + fb
    return (9, 8, 3), ref


def activations_case(path, rng):
    """Sequential: Conv2D sigmoid, Conv2D tanh, DepthwiseConv2D elu, SeparableConv2D relu6, ELU(0.5),
    ReLU(max_value=2.5), Flatten, Dense + Activation('relu6'), Dense elu, Activation('sigmoid');
    weights scaled so that the clips bind for 15-45% of the values. Reference: PyTorch float64 with
    Keras' definitions (elu alpha 1 for the string, relu6 = min(max(x, 0), 6), ReLU(max_value=m) =
    min(max(x, 0), m))."""
    r = lambda k, *s: (rng.standard_normal(s) * k).astype(np.float32)  # noqa: E731
    k1, b1, k2, b2 = r(0.5, 3, 3, 3, 4), r(0.2, 4), r(1.0, 1, 1, 4, 6), r(0.2, 6)
    dk, db, sd, sp, sb = r(0.8, 3, 3, 6, 1), r(0.2, 6), r(1.0, 2, 2, 6, 1), r(1.5, 1, 1, 6, 5), r(1.0, 5)
    fk, fb, gk, gb = r(0.3, 60, 4), r(1.0, 4), r(0.5, 4, 3), r(0.2, 3)
    L = lambda cls, name, **cfg: {"class_name": cls, "config": {"name": name, **cfg}}  # noqa: E731
    conv = dict(strides=[1, 1], padding="valid", use_bias=True, dilation_rate=[1, 1])
    layers = [L("InputLayer", "in", batch_input_shape=[None, 9, 8, 3]),
              L("Conv2D", "c1", filters=4, kernel_size=[3, 3], activation="sigmoid", **conv),
              L("Conv2D", "c2", filters=6, kernel_size=[1, 1], activation="tanh", **conv),
              L("DepthwiseConv2D", "dw", kernel_size=[3, 3], depth_multiplier=1, activation="elu", **conv),
              L("SeparableConv2D", "sep", filters=5, kernel_size=[2, 2], depth_multiplier=1, activation="relu6",
                **conv),
              L("ELU", "elu", alpha=0.5),
              L("ReLU", "r", max_value=2.5, negative_slope=0.0, threshold=0.0),
              L("Flatten", "f", data_format="channels_last"),
              L("Dense", "fc", units=4, activation="linear", use_bias=True),
              L("Activation", "a6", activation="relu6"),
              L("Dense", "fc2", units=3, activation="elu", use_bias=True),
              L("Activation", "sg", activation="sigmoid")]
    save_h5(path, layers, {"c1": [("kernel:0", k1), ("bias:0", b1)], "c2": [("kernel:0", k2), ("bias:0", b2)],
                           "dw": [("depthwise_kernel:0", dk), ("bias:0", db)],
                           "sep": [("depthwise_kernel:0", sd), ("pointwise_kernel:0", sp), ("bias:0", sb)],
                           "fc": [("kernel:0", fk), ("bias:0", fb)], "fc2": [("kernel:0", gk), ("bias:0", gb)]})

    def T(a):
        return torch.from_numpy(np.asarray(a, np.float64))

    def dw_conv(x, k, b=None):  # depthwise [kh, kw, C, dm] -> [C*dm, 1, kh, kw]
        c = k.shape[2]
        return F.conv2d(x, T(k).permute(2, 3, 0, 1).reshape(c * k.shape[3], 1, k.shape[0], k.shape[1]),
                        None if b is None else T(b), groups=c)

    def ref(x_nhwc):
        x = T(x_nhwc).permute(0, 3, 1, 2)
        x = torch.sigmoid(F.conv2d(x, T(k1).permute(3, 2, 0, 1), T(b1)))
        x = torch.tanh(F.conv2d(x, T(k2).permute(3, 2, 0, 1), T(b2)))
        x = F.elu(dw_conv(x, dk, db), 1.0)
        x = torch.clamp(F.conv2d(dw_conv(x, sd), T(sp).permute(3, 2, 0, 1), T(sb)), 0, 6)
        x = torch.clamp(F.elu(x, 0.5), 0, 2.5)
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        x = torch.clamp(x @ T(fk) + T(fb), 0, 6)
        return torch.sigmoid(F.elu(x @ T(gk) + T(gb), 1.0)).numpy()
    return (9, 8, 3), ref


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steerctl", required=True)
    ap.add_argument("--workdir", default="/tmp/steerd-import-keras")
    ap.add_argument("--filter", default="")
    a = ap.parse_args()
    steerctl = [a.steerctl]
    if "h5" not in run(steerctl + ["import", "--help"]).stdout:
        print("steerctl import without .h5 support: skipped")
        return 77
    os.makedirs(a.workdir, exist_ok=True)
    rng = np.random.default_rng(3)
    res = Results()
    record = res.record

    for m in ("seed-mnist-baseline", "seed-mnist-effnet", "seed-steering-baseline", "seed-steering-effnet"):
        if a.filter not in m:
            continue
        net = tm.build(os.path.join(REPO, "models", m + ".yaml"))
        w = tm.random_weights(net, rng)
        layers, weights = keras_from_spec(net, w)
        path = os.path.join(a.workdir, m + ".h5")
        save_h5(path, layers, weights)
        record(m, check_run(steerctl, a.workdir, m, path, net.in_hwc, lambda x, net=net, w=w: tm.reference(net, w, x),
                            rng))
    if a.filter in "functional":
        path = os.path.join(a.workdir, "functional.h5")
        hwc, ref = functional_case(path, rng)
        record("functional", check_run(steerctl, a.workdir, "functional", path, hwc, ref, rng))
    if a.filter in "pooling":
        path = os.path.join(a.workdir, "pooling.h5")
        hwc, ref = pooling_case(path, rng)
        record("pooling", check_run(steerctl, a.workdir, "pooling", path, hwc, ref, rng, ["count_pad: true"]))
    if a.filter in "crop":
        k, b = (rng.standard_normal((7 * 9 * 3, 2)) * 0.1).astype(np.float32), np.float32([0.1, -0.2])
        path = os.path.join(a.workdir, "crop.h5")
        save_h5(path, [{"class_name": "Cropping2D", "config": {"name": "crop", "batch_input_shape": [None, 10, 12, 3],
                                                                "cropping": [[2, 1], [0, 3]]}},
                       {"class_name": "Flatten", "config": {"name": "flat"}},
                       {"class_name": "Dense", "config": {"name": "fc", "units": 2, "activation": "linear"}}],
                {"fc": [("kernel:0", k), ("bias:0", b)]})
        record("crop", check_run(steerctl, a.workdir, "crop", path, (7, 9, 3),
                                 lambda x: x.reshape(2, -1).astype(np.float64) @ k + b, rng,
                                 ["crop: {top: 2, bottom: 9, left: 0, right: 9}", "input: {height: 7, width: 9"]))
    if a.filter in "activations":
        path = os.path.join(a.workdir, "activations.h5")
        hwc, ref = activations_case(path, rng)
        record("activations", check_run(steerctl, a.workdir, "activations", path, hwc, ref, rng,
                                        ["type: sigmoid", "type: tanh", "type: elu, alpha: 1", "alpha: 0.5",
                                         "type: clip, min: 0, max: 6", "type: clip, min: 0, max: 2.5"]))
    bad = []
    inp = {"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [None, 8, 8, 3]}}
    lam = {"class_name": "Lambda", "config": {"name": "norm", "function": ["4wEAAAAAAAAA", None, None]}}
    bad.append(("lambda", [inp, lam], {}, ["'norm'", "Lambda", "preprocess", "scale"]))
    sig = {"class_name": "Conv2D", "config": {"name": "c", "filters": 2, "kernel_size": [1, 1], "padding": "valid",
                                              "activation": "selu", "use_bias": False}}
    bad.append(("selu", [inp, sig], {"c": [("kernel:0", np.ones((1, 1, 3, 2)))]}, ["'c'", "Conv2D", "selu"]))
    relu = {"class_name": "ReLU", "config": {"name": "r", "max_value": 6.0, "negative_slope": 0.1}}
    bad.append(("relu_max_slope", [inp, relu], {}, ["'r'", "ReLU", "max_value 6", "negative_slope 0.1"]))
    relu = {"class_name": "ReLU", "config": {"name": "r", "threshold": 0.5}}
    bad.append(("relu_threshold", [inp, relu], {}, ["'r'", "ReLU", "threshold 0.5"]))
    sig2 = dict(sig, config=dict(sig["config"], activation="relu"))
    bad.append(("missing_weight", [inp, sig2], {}, ["'c'", "kernel:0", "missing"]))
    for name, layers, weights, words in bad:
        if a.filter in "bad-" + name:
            path = os.path.join(a.workdir, name + ".h5")
            save_h5(path, layers, weights)
            record("bad-" + name, check_refusal(steerctl, a.workdir, name, path, words))
    if a.filter in "bad-truncated":
        src = os.path.join(a.workdir, "selu.h5")
        data = open(src, "rb").read()
        path = os.path.join(a.workdir, "truncated.h5")
        open(path, "wb").write(data[: len(data) // 2])
        record("bad-truncated", check_refusal(steerctl, a.workdir, "truncated", path, ["truncated.h5"]))
    if a.filter in "bad-gheap":
        src, path = os.path.join(a.workdir, "gheap-src.h5"), os.path.join(a.workdir, "gheap.h5")
        save_h5(src, [inp, sig2], {"c": [("kernel:0", np.ones((1, 1, 3, 2)))]})
        record("bad-gheap", corrupt_global_heap(src, path) or
               check_refusal(steerctl, a.workdir, "gheap", path,
                             ["gheap.h5: the HDF5 library failed reading this file (", "): the file is damaged or "
                              "not a Keras .h5"]))
    return res.finish()


def corrupt_global_heap(src, path):
    """Copies src with the size of its global-heap object holding model_config (a variable-length
    string, starting with '{') set to 1 GiB. HDF5 global heap collection: "GCOL", version, 3
    reserved, 8-byte collection size; objects: 2-byte index, 2-byte refcount, 4 reserved, 8-byte
    size, data padded to 8 (HDF5 file format spec, III.E). None when done, else why not."""
    d = bytearray(open(src, "rb").read())
    g = d.find(b"GCOL")
    if g < 0:
        return f"{src}: no global heap collection"
    end = g + struct.unpack_from("<Q", d, g + 8)[0]
    p = g + 16
    while p + 16 <= min(end, len(d)):
        idx, size = struct.unpack_from("<H", d, p)[0], struct.unpack_from("<Q", d, p + 8)[0]
        if idx and d[p + 16:p + 17] == b"{":
            struct.pack_into("<Q", d, p + 8, 1 << 30)
            open(path, "wb").write(d)
            return None
        p += 16 + (size + 7) // 8 * 8
    return f"{src}: model_config not found in the global heap"


if __name__ == "__main__":
    sys.exit(main())
