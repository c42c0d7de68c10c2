#!/usr/bin/python3
"""check_onnx.py — `steerctl import` of ONNX models against PyTorch, through the real steerctl.

Forward cases: a PyTorch module (every zoo model, built from its YAML by tests/oracle/torchmodel.py
with random weights, at opsets 11, 13 and 17; single-operator modules, the activations Sigmoid /
Tanh / ELU / ReLU6 / Hardtanh / clamp among them, at 11, 13, 14 and 17) exported by
torch.onnx.export with a dynamic batch; tf2onnx-style graphs (tf2onnx_graphs.py, judged by a
numpy evaluation of the file); a few hand-built graphs (onnx.helper: NHWC / Keras-style transposes);
variants whose initializers are float16 or typed float_data; Clip with opset-10 attributes. Each is imported, run with
`steerctl model run` on a random batch of 2, and compared with the float64 PyTorch output
(NHWC row order): max|steerd - torch| / max(1e-3, max|torch|) <= 1e-5.
Refusal cases (unsupported operators or attributes, malformed files): exit status 65 or 78, one
line on stderr naming the node and its operator (or the file), and no file left in --out.
Last line: `N passed, N failed`; exit 1 on any failure.
Usage: check_onnx.py --steerctl PATH [--workdir DIR] [--filter SUBSTR]
"""
import argparse
import glob
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "oracle"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import torch
    import torch.nn as nn
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:  # meson: skipped
    print(f"skipped: {e} (install python3-torch python3-onnx)")
    sys.exit(77)
import torchmodel as tm  # noqa: E402
import tf2onnx_graphs as tfg  # noqa: E402
from import_common import Results, check_refusal, check_run, run  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
warnings.filterwarnings("ignore")


def export(module, x_nchw, path, opset):
    torch.onnx.export(module.float().eval(), x_nchw.float(), path, opset_version=opset, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})


def rows(y):
    y = y.detach().double()
    return (y.permute(0, 2, 3, 1) if y.dim() == 4 else y).reshape(y.shape[0], -1).numpy()


# ---------------------------------------------------------------- single-operator modules

class Seq(nn.Sequential):
    pass


class Shuffle(nn.Module):
    def __init__(self, g):
        super().__init__()
        self.g = g
        self.conv = nn.Conv2d(8, 8, 1)

    def forward(self, x):
        x = self.conv(x)
        n, c, h, w = x.shape
        return x.reshape(n, self.g, c // self.g, h, w).transpose(1, 2).reshape(n, c, h, w)


class Branches(nn.Module):
    def __init__(self, op):
        super().__init__()
        self.op = op
        self.a = nn.Conv2d(3, 6, 3, padding=1)
        self.b = nn.Conv2d(3, 6, 1)

    def forward(self, x):
        a, b = self.a(x), self.b(x)
        return a + b if self.op == "add" else torch.cat([a, b], 1)


class MatMulAdd(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(48, 5) * 0.2)
        self.b = nn.Parameter(torch.randn(5) * 0.1)

    def forward(self, x):
        return torch.matmul(x.reshape(x.shape[0], -1), self.w) + self.b


class Clamp(nn.Module):  # torch.clamp with one bound: Clip with an empty min or max input
    def __init__(self, lo=None, hi=None):
        super().__init__()
        self.lo, self.hi = lo, hi

    def forward(self, x):
        return torch.clamp(x, min=self.lo, max=self.hi)


def scaled(conv, k):
    """conv with its weights times k (outputs that reach a clip's bounds)."""
    with torch.no_grad():
        conv.weight.mul_(k)
    return conv


def activation_ops():
    """Sigmoid, Tanh, Elu and Clip (ReLU6, Hardtanh, one-bound clamps) as exported by PyTorch."""
    return [
        ("sigmoid", Seq(nn.Conv2d(3, 4, 3), nn.Sigmoid()), (3, 7, 6)),
        ("tanh", Seq(nn.Conv2d(3, 4, 3, padding=1), nn.Tanh()), (3, 6, 5)),
        ("elu", Seq(nn.Conv2d(3, 4, 3), nn.ELU(0.7)), (3, 7, 6)),
        ("relu6", Seq(scaled(nn.Conv2d(3, 4, 3), 20.0), nn.ReLU6(), nn.Conv2d(4, 2, 1)), (3, 7, 6)),
        ("hardtanh", Seq(nn.Hardtanh(-0.5, 0.5), nn.Conv2d(3, 4, 1)), (3, 5, 5)),
        ("clamp_min", Seq(nn.Conv2d(3, 4, 1), Clamp(lo=-0.2)), (3, 5, 4)),
        ("clamp_max", Seq(nn.Conv2d(3, 4, 1), Clamp(hi=0.3)), (3, 5, 4)),
        ("clamp_relu", Seq(nn.Conv2d(3, 4, 1), Clamp(lo=0.0)), (3, 5, 4)),
    ]


def clip_opset10():
    """Clip with min/max attributes (opset 10) on a convolution: (graph, input HWC, reference)."""
    conv = helper.make_node("Conv", ["x", "w"], ["c"], name="conv")
    clip = helper.make_node("Clip", ["c"], ["y"], min=-0.25, max=0.5, name="clip")
    wt = torch.from_numpy(W).double()

    def ref(x_nhwc):
        c = torch.nn.functional.conv2d(torch.from_numpy(x_nhwc).double().permute(0, 3, 1, 2), wt)
        return rows(torch.clamp(c, -0.25, 0.5))
    return graph([conv, clip], {"w": W}, opset=10), (6, 6, 3), ref


def single_ops():
    """(name, module, input CHW)."""
    return activation_ops() + [
        ("conv_groups", Seq(nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=2), nn.ReLU()), (4, 9, 9)),
        ("conv_depthwise_dm2", Seq(nn.Conv2d(4, 8, (1, 3), padding=(0, 1), groups=4)), (4, 7, 6)),
        ("conv_asym_pad", Seq(nn.ZeroPad2d((0, 1, 1, 0)), nn.Conv2d(3, 5, 2, stride=2)), (3, 8, 7)),
        ("bn_leaky", Seq(nn.Conv2d(3, 6, 3), nn.LeakyReLU(0.2), nn.BatchNorm2d(6)), (3, 8, 8)),
        ("maxpool_pad", Seq(nn.MaxPool2d(3, 2, padding=1)), (3, 9, 9)),
        ("avgpool", Seq(nn.AvgPool2d(2)), (3, 8, 6)),
        ("avgpool_pad_exclude", Seq(nn.AvgPool2d(3, 2, padding=1, count_include_pad=False)), (3, 9, 9)),
        ("avgpool_pad_include", Seq(nn.AvgPool2d(3, 2, padding=1, count_include_pad=True)), (3, 9, 9)),
        ("avgpool_pad_include_even", Seq(nn.AvgPool2d(3, 2, padding=1, count_include_pad=True)), (3, 8, 7)),
        ("avgpool_zeropad_asym", Seq(nn.ZeroPad2d((0, 1, 1, 0)), nn.AvgPool2d(2, 1)), (3, 6, 5)),
        ("avgpool_ceil_exclude", Seq(nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=False)),
         (3, 8, 8)),
        ("maxpool_ceil", Seq(nn.MaxPool2d(2, 2, ceil_mode=True)), (3, 9, 7)),
        ("maxpool_ceil_pad", Seq(nn.MaxPool2d(3, 2, padding=1, ceil_mode=True)), (3, 8, 8)),
        ("maxpool_ceil_last_dropped", Seq(nn.MaxPool2d(2, 2, padding=1, ceil_mode=True)), (3, 5, 5)),
        ("global_avgpool", Seq(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)), (3, 7, 7)),
        ("flatten_gemm_softmax", Seq(nn.Flatten(), nn.Linear(48, 10), nn.Dropout(0.5), nn.Softmax(1)), (3, 4, 4)),
        ("linear_bn1d", Seq(nn.Flatten(), nn.Linear(48, 6), nn.ReLU(), nn.BatchNorm1d(6), nn.Linear(6, 2)), (3, 4, 4)),
        ("matmul_add", MatMulAdd(), (3, 4, 4)),
        ("channel_shuffle", Shuffle(4), (8, 5, 5)),
        ("add", Branches("add"), (3, 6, 6)),
        ("concat", Branches("concat"), (3, 6, 6)),
    ]


class MeanHW(nn.Module):
    """Conv -> mean over H, W (ReduceMean, keepdims 0 or 1 + Squeeze) or pooled features unsqueezed
    back to [N, C, 1, 1] for a 1x1 Conv -> Linear (Squeeze / Unsqueeze: axes attribute before
    opset 13, an input from 13 on)."""

    def __init__(self, form):
        super().__init__()
        self.form = form
        self.conv = nn.Conv2d(3, 6, 3)
        self.conv2 = nn.Conv2d(6, 4, 1)
        self.fc = nn.Linear(6 if form != "unsqueeze" else 4, 3)

    def forward(self, x):
        x = self.conv(x)
        if self.form == "mean":
            x = x.mean((2, 3))
        elif self.form == "keep_squeeze":
            x = x.mean((2, 3), keepdim=True).squeeze(3).squeeze(2)
        else:
            x = self.conv2(x.mean((2, 3)).unsqueeze(-1).unsqueeze(-1)).flatten(1)
        return self.fc(x)


class ViewFlatten(nn.Module):
    """x.reshape(x.size(0), -1): a Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain; clamp(min=0):
    Clip with inputs (opset 11+)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 5 * 4, 2)

    def forward(self, x):
        x = torch.clamp(self.conv(x), min=0)
        return self.fc(x.reshape(x.size(0), -1))


def opset_forms():
    """Single operators whose exported form changed between opsets 11 and 17 (name, module, CHW)."""
    return [("mean_hw", MeanHW("mean"), (3, 6, 5)), ("mean_keep_squeeze", MeanHW("keep_squeeze"), (3, 6, 5)),
            ("unsqueeze_conv", MeanHW("unsqueeze"), (3, 6, 5)), ("view_flatten_clip", ViewFlatten(), (3, 5, 4))]


# ---------------------------------------------------------------- hand-built graphs

def keras_style(path, rng):
    """NHWC input -> Transpose -> Conv -> Relu -> Transpose back -> Flatten (HWC order) -> Gemm."""
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32) * 0.3
    b = rng.standard_normal(4).astype(np.float32) * 0.1
    fw = rng.standard_normal((5 * 6 * 4, 3)).astype(np.float32) * 0.1
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2], name="to_nchw"),
             helper.make_node("Conv", ["t", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Transpose", ["r"], ["u"], perm=[0, 2, 3, 1], name="to_nhwc"),
             helper.make_node("Flatten", ["u"], ["f"], axis=1, name="flatten"),
             helper.make_node("MatMul", ["f", "fw"], ["y"], name="dense")]
    g = helper.make_graph(nodes, "keras", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5, 6, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"),
                           numpy_helper.from_array(fw, "fw")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)

    def ref(x_nhwc):
        t = torch.from_numpy(x_nhwc).double().permute(0, 3, 1, 2)
        c = torch.relu(torch.nn.functional.conv2d(t, torch.from_numpy(w).double(), torch.from_numpy(b).double(),
                                                  padding=1))
        return (c.permute(0, 2, 3, 1).reshape(c.shape[0], -1) @ torch.from_numpy(fw).double()).numpy()
    return (5, 6, 2), ref


def avg_asym(path, include):
    """AveragePool 3x3 stride 2 with pads top 1, left 0, bottom 0, right 1 and count_include_pad 0 / 1."""
    node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 0, 1],
                            count_include_pad=include, name="ap")
    onnx.save(graph([node], {}, in_shape=("N", 3, 8, 7)), path)

    def ref(x_nhwc):
        F = torch.nn.functional
        sums = F.avg_pool2d(F.pad(torch.from_numpy(x_nhwc).double().permute(0, 3, 1, 2), (0, 1, 1, 0)), 3, 2,
                            divisor_override=1)
        cells = F.avg_pool2d(F.pad(torch.ones(1, 1, 8, 7, dtype=torch.float64), (0, 1, 1, 0)), 3, 2,
                             divisor_override=1)
        return rows(sums / (9 if include else cells))
    return (8, 7, 3), ref


def graph(nodes, inits, in_shape=("N", 3, 6, 6), out="y", opset=13):
    g = helper.make_graph(nodes, "bad", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


W = np.ones((4, 3, 3, 3), np.float32) * 0.1


def refusals():
    """(name, model bytes, words the message must hold)."""
    conv = helper.make_node("Conv", ["x", "w"], ["c"], name="conv")
    out = []
    out.append(("selu", graph([conv, helper.make_node("Selu", ["c"], ["y"], name="act")], {"w": W}),
                ["'act'", "Selu", "no Selu activation"]))
    out.append(("elu_alpha", graph([conv, helper.make_node("Elu", ["c"], ["y"], alpha=-1.0, name="e")], {"w": W}),
                ["'e'", "Elu", "alpha -1"]))
    clip = helper.make_node("Clip", ["c", "c"], ["y"], name="clipx")
    out.append(("clip_tensor_min", graph([conv, clip], {"w": W}), ["'clipx'", "Clip", "input min", "constant"]))
    clip = helper.make_node("Clip", ["c", "lo", "hi"], ["y"], name="clipr")
    out.append(("clip_reversed", graph([conv, clip], {"w": W, "lo": np.float32(6), "hi": np.float32(0)}),
                ["'clipr'", "Clip", "min must be <= max"]))
    flat = helper.make_node("Flatten", ["x"], ["f"], name="flat")
    mm = helper.make_node("MatMul", ["f", "wm"], ["m"], name="mm")
    addb = helper.make_node("Add", ["m", "b"], ["mb"], name="addb")
    both = helper.make_node("Add", ["mb", "m"], ["y"], name="both")  # reads m without the bias
    out.append(("bias_shared", graph([flat, mm, addb, both], {"wm": np.ones((108, 4)) * 0.01, "b": np.ones(4)}),
                ["'addb'", "Add", "nothing else reads"]))
    out.append(("dilation", graph([helper.make_node("Conv", ["x", "w"], ["y"], dilations=[2, 2], name="dil")],
                                  {"w": W}), ["'dil'", "dilations"]))
    out.append(("avg_include_pad_ceil", graph([helper.make_node(
        "AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1,
        ceil_mode=1, name="ap")], {}), ["'ap'", "ceil_mode", "count_include_pad"]))
    pad = helper.make_node("Pad", ["x", "pads"], ["p"], mode="constant", name="pad")
    pads = np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)
    mixed = graph([pad, helper.make_node("AveragePool", ["p"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                                         name="ap")], {})
    mixed.graph.initializer.append(numpy_helper.from_array(pads, "pads"))
    out.append(("avg_pad_then_pads_exclude", mixed, ["'ap'", "pads after a Pad", "count_include_pad 0"]))
    out.append(("transpose_perm", graph([helper.make_node("Transpose", ["x"], ["y"], perm=[0, 1, 3, 2],
                                                          name="tr")], {}), ["'tr'", "perm"]))
    out.append(("unknown_op", graph([helper.make_node("LRN", ["x"], ["y"], size=3, name="lrn")], {}),
                ["'lrn'", "LRN", "not supported"]))
    out.append(("missing_initializer", graph([helper.make_node("Conv", ["x", "nowhere"], ["y"], name="conv")], {}),
                ["'conv'", "weight 'nowhere'", "missing"]))
    bn = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn")
    out.append(("shape_mismatch", graph([bn], {"s": np.ones(4), "b": np.zeros(3), "m": np.zeros(3),
                                               "v": np.ones(3)}), ["'bn'", "shape 4", "expected 3"]))
    out.append(("conv_weight_shape", graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")],
                                           {"w": np.ones((4, 2, 3, 3))}), ["'conv'", "4x2x3x3"]))
    good = graph([conv, helper.make_node("Relu", ["c"], ["y"], name="r")], {"w": W}).SerializeToString()
    out.append(("truncated", good[: len(good) // 2], ["not a valid ONNX file"]))
    out.append(("not_onnx", b"\x89HDF\r\n\x1a\n" + bytes(64), ["not a valid ONNX file"]))
    return out


# ---------------------------------------------------------------- running

def f16_initializers(path, out_path):
    m = onnx.load(path)
    for t in m.graph.initializer:
        if t.data_type == TensorProto.FLOAT:
            a = numpy_helper.to_array(t).astype(np.float16)
            t.CopyFrom(numpy_helper.from_array(a, t.name))
    onnx.save(m, out_path)


def typed_initializers(path, out_path):
    m = onnx.load(path)
    for t in m.graph.initializer:
        if t.data_type == TensorProto.FLOAT:
            a = numpy_helper.to_array(t)
            t.ClearField("raw_data")
            t.float_data.extend(a.ravel().tolist())
    onnx.save(m, out_path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steerctl", required=True)
    ap.add_argument("--workdir", default="/tmp/steerd-import-onnx")
    ap.add_argument("--filter", default="")
    a = ap.parse_args()
    steerctl = [a.steerctl]
    probe = run(steerctl + ["import", "--help"])
    if "ONNX" not in probe.stdout:
        print("steerctl import not built: skipped")
        return 77
    os.makedirs(a.workdir, exist_ok=True)
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    res = Results()
    record = res.record

    cases = []
    for path in sorted(glob.glob(os.path.join(REPO, "models", "*.yaml"))):
        net = tm.build(path)
        w = tm.random_weights(net, rng)
        tm.load_weights(net, w)
        cases.append(("zoo-" + os.path.basename(path)[:-5], net, net.in_hwc,
                      lambda x, net=net, w=w: tm.reference(net, w, x)))
    for name, mod, chw in single_ops() + opset_forms():
        mod.eval()
        for m in mod.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
        cases.append(("op-" + name, mod, (chw[1], chw[2], chw[0]),
                      lambda x, mod=mod: rows(mod.double()(torch.from_numpy(x).double().permute(0, 3, 1, 2)))))
    for name, mod, hwc, ref in cases:
        # the zoo at 11, 13 and 17 (the issue asks for 11 and 13; 17 is the newest PyTorch 1.13 writes)
        for opset in (11, 13, 17) if name.startswith("zoo-") else (11, 13, 14, 17):
            cname = f"{name}-opset{opset}"
            if a.filter not in cname:
                continue
            path = os.path.join(a.workdir, cname + ".onnx")
            x = torch.zeros((2, hwc[2], hwc[0], hwc[1]))
            export(mod, x, path, opset)
            record(cname, check_run(steerctl, a.workdir, cname, path, hwc, ref, rng))
            if opset == 13 and name in ("zoo-seed-steering-effnet", "op-linear_bn1d", "op-conv_groups"):
                typed = path[:-5] + "-typed.onnx"
                typed_initializers(path, typed)
                record(cname + "-typed", check_run(steerctl, a.workdir, cname + "-typed", typed, hwc, ref, rng))
    if a.filter in "f16":  # float16 initializers; the reference uses the same rounded weights
        net = tm.build(os.path.join(REPO, "models", "seed-mnist-effnet.yaml"))
        w = {k: v.astype(np.float16).astype(np.float32) for k, v in tm.random_weights(net, rng).items()}
        tm.load_weights(net, w)
        path = os.path.join(a.workdir, "f16-full.onnx")
        export(net, torch.zeros((2, 1, 28, 28)), path, 13)
        f16_initializers(path, path[:-5] + "-f16.onnx")
        # No BN is folded into a convolution here (the blocks have none; the head's BN follows a dense
        # layer), so every exported initializer is one of the rounded weights, exact in float16.
        record("f16-initializers", check_run(steerctl, a.workdir, "f16", path[:-5] + "-f16.onnx", (28, 28, 1),
                                             lambda x: tm.reference(net, w, x), rng))
    for include in (0, 1):
        cname = f"avgpool-asym-include{include}"
        if a.filter in cname:
            path = os.path.join(a.workdir, cname + ".onnx")
            hwc, ref = avg_asym(path, include)
            record(cname, check_run(steerctl, a.workdir, cname, path, hwc, ref, rng))
    if a.filter in "clip-opset10":
        path = os.path.join(a.workdir, "clip-opset10.onnx")
        model, hwc, ref = clip_opset10()
        onnx.save(model, path)
        record("clip-opset10", check_run(steerctl, a.workdir, "clip-opset10", path, hwc, ref, rng))
    if a.filter in "keras-style":
        path = os.path.join(a.workdir, "keras-style.onnx")
        hwc, ref = keras_style(path, rng)
        record("keras-style", check_run(steerctl, a.workdir, "keras-style", path, hwc, ref, rng))
    for name, model, hwc in tfg.graphs(rng):  # tf2onnx-style graphs, judged by their own evaluation
        variants = [(name, None)] + ([(name + "-f16", f16_initializers), (name + "-typed", typed_initializers)]
                                     if name == "tf-cnn-opset13" else [])
        for vname, convert in variants:
            if a.filter not in vname:
                continue
            path = os.path.join(a.workdir, vname + ".onnx")
            onnx.save(model, path)
            if convert:
                convert(path, path)
            stored = onnx.load(path)
            record(vname, check_run(steerctl, a.workdir, vname, path, hwc,
                                    lambda x, m=stored: tfg.evaluate(m, x), rng))
    for name, model, words in tfg.refusals():
        if a.filter in "bad-" + name:
            path = os.path.join(a.workdir, name + ".onnx")
            onnx.save(model, path)
            record("bad-" + name, check_refusal(steerctl, a.workdir, name, path, words))
    for name, data, words in refusals():
        if a.filter in "bad-" + name:
            path = os.path.join(a.workdir, name + ".onnx")
            with open(path, "wb") as f:
                f.write(data if isinstance(data, bytes) else data.SerializeToString())
            record("bad-" + name, check_refusal(steerctl, a.workdir, name, path, words))
    return res.finish()


if __name__ == "__main__":
    sys.exit(main())
