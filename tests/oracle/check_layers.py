#!/usr/bin/python3
"""check_layers.py — every steerd layer type against PyTorch, through the real `steerctl`.

For each generated case (one small model YAML + random float32 weights in PyTorch layouts with
non-trivial BatchNorm statistics + a random input batch of 2, NHWC) it runs
`steerctl model run` and compares the output with a float64 PyTorch reference built by
torchmodel.py straight from docs/FORMATS.md:

    tolerance:  max|steerd - torch| / max(1e-3, max|torch|)  <=  1e-5      (--tol)

Coverage: conv2d (kernels 1x1 3x3 5x5 1x3 3x1 2x1 2x2 x strides (1,1) (2,2) (1,2) (2,1) x padding
valid/same/explicit asymmetric x groups 1 2 4, bias and activation none/relu/leaky_relu drawn per
case), depthwise (dm 1 and 2), max/avg pooling (incl. TF "same", explicit padding, avg count_pad), global
average pooling, batch norm (after conv, dense, flatten), relu, leaky_relu, sigmoid, tanh, elu,
clip (both bounds, one bound), softmax, dense (flat
and spatial input), flatten, dropout, channel_shuffle, add/concat graphs, the composite blocks,
odd spatial sizes. Plus bad inputs that steerctl must reject cleanly: non-zero exit (not a
signal) and exactly one stderr line naming the offending file.

Output: one line per failure naming the case; last line exactly `N passed, N failed`; exit 1 on
any failure. Cases alternate steerctl --threads 1 and 2 unless --threads is given.
Usage: check_layers.py [--steerctl PATH] [--workdir DIR] [--filter SUBSTR] [--threads N] [--list]
"""
import argparse
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_common as oc  # noqa: E402

IN_C = 4


def model(layers, hwc, name="case"):
    h, w, c = hwc
    return {"name": name, "input": {"height": h, "width": w, "channels": c},
            "output": {"kind": "values"}, "layers": layers}


def act_keys(act, rnd):
    """activation (+ sometimes a non-default alpha) as YAML keys."""
    if act == "none":
        return {} if rnd.random() < 0.5 else {"activation": "none"}
    if act == "leaky_relu" and rnd.random() < 0.5:
        return {"activation": act, "alpha": 0.2}
    return {"activation": act}


def pad_str(p):
    return p if isinstance(p, str) else "[" + ",".join(map(str, p)) + "]"


def kstr(k):
    return f"{k[0]}x{k[1]}"


# ---------------------------------------------------------------------------- forward cases

KERNELS = [(1, 1), (3, 3), (5, 5), (1, 3), (3, 1), (2, 1), (2, 2)]
STRIDES = [(1, 1), (2, 2), (1, 2), (2, 1)]
SIZES = [(7, 9), (5, 6), (6, 7), (8, 8), (9, 5)]
EXPLICIT = [[1, 0, 2, 1], [0, 2, 1, 0], [2, 1, 0, 1]]


def conv_cases():
    rnd = random.Random(1)
    i = 0
    for k in KERNELS:
        for s in STRIDES:
            for pad in ("valid", "same", "explicit"):
                for g in (1, 2, 4):
                    p = EXPLICIT[i % 3] if pad == "explicit" else pad
                    i += 1
                    bias, act = rnd.random() < 0.5, rnd.choice(["none", "relu", "leaky_relu"])
                    cin, cout = rnd.choice([4, 8]), rnd.choice([4, 8, 12])
                    h, w = rnd.choice(SIZES)
                    layer = {"name": "c1", "type": "conv2d", "filters": cout,
                             "kernel": list(k) if k[0] != k[1] or rnd.random() < 0.5 else k[0],
                             "stride": list(s) if s[0] != s[1] or rnd.random() < 0.5 else s[0],
                             "padding": p, "groups": g, "bias": bias, **act_keys(act, rnd)}
                    name = (f"conv2d k{kstr(k)} s{kstr(s)} pad={pad_str(p)} g{g} bias={int(bias)} "
                            f"act={act} in={h}x{w}x{cin} out_c={cout}")
                    yield oc.Case(name, model([layer], (h, w, cin)))


def depthwise_cases():
    rnd = random.Random(2)
    i = 0
    for k in [(3, 3), (1, 3), (3, 1), (5, 5), (2, 2), (2, 1)]:
        for s in STRIDES:
            for pad in ("valid", "same", "explicit"):
                for dm in (1, 2):
                    p = EXPLICIT[i % 3] if pad == "explicit" else pad
                    i += 1
                    bias, act = rnd.random() < 0.5, rnd.choice(["none", "relu", "leaky_relu"])
                    h, w = rnd.choice(SIZES)
                    cin = rnd.choice([3, 4])
                    layer = {"name": "dw", "type": "depthwise_conv2d", "kernel": list(k),
                             "stride": list(s), "padding": p, "bias": bias, **act_keys(act, rnd)}
                    if dm != 1 or rnd.random() < 0.5:
                        layer["depth_multiplier"] = dm
                    name = (f"depthwise k{kstr(k)} s{kstr(s)} pad={pad_str(p)} dm{dm} bias={int(bias)} "
                            f"act={act} in={h}x{w}x{cin}")
                    yield oc.Case(name, model([layer], (h, w, cin)))


POOLS = [  # (pool, stride or None, padding)
    (2, None, "valid"), ([2, 1], None, "valid"), ([1, 2], None, "valid"), (3, 2, "same"),
    (3, 2, "valid"), (2, 1, "same"), (2, None, "same"), (2, None, [1, 0, 1, 0]),
    (3, 1, [1, 1, 1, 1]), (3, 2, [0, 2, 1, 2]), ([3, 2], [2, 1], "same"), ([2, 3], [1, 2], [1, 0, 0, 2]),
]


def pool_cases():
    for kind in ("max_pool2d", "avg_pool2d"):
        for pool, stride, pad in POOLS:
            for h, w in [(7, 9), (6, 5)]:
                layer = {"name": "p", "type": kind, "pool": pool, "padding": pad}
                if stride is not None:
                    layer["stride"] = stride
                name = f"{kind} pool={pool} stride={stride} pad={pad_str(pad)} in={h}x{w}x3"
                yield oc.Case(name, model([layer], (h, w, 3)))
    # avg_pool2d count_pad: padded zeros count in the divisor (PyTorch count_include_pad=True)
    for pool, stride, pad in [(3, 2, [1, 1, 1, 1]), (3, 1, [1, 1, 1, 1]), (2, None, [1, 0, 1, 0]),
                              (3, 2, [0, 2, 1, 2]), (3, 2, "same"), ([2, 3], [1, 2], [1, 0, 0, 2])]:
        for h, w in [(7, 9), (6, 5)]:
            layer = {"name": "p", "type": "avg_pool2d", "pool": pool, "padding": pad, "count_pad": True}
            if stride is not None:
                layer["stride"] = stride
            name = f"avg_pool2d count_pad pool={pool} stride={stride} pad={pad_str(pad)} in={h}x{w}x3"
            yield oc.Case(name, model([layer], (h, w, 3)))
    # pooling after a conv and chained pools
    layers = [{"name": "c", "type": "conv2d", "filters": 5, "kernel": 3, "padding": "same"},
              {"name": "p1", "type": "max_pool2d", "pool": 2, "padding": "same"},
              {"name": "p2", "type": "avg_pool2d", "pool": 3, "stride": 2, "padding": "same"}]
    yield oc.Case("pool chain conv3x3 -> max2 same -> avg3 s2 same in=9x11x2", model(layers, (9, 11, 2)))
    yield oc.Case("global_avg_pool in=7x9x5", model([{"name": "g", "type": "global_avg_pool"}], (7, 9, 5)))
    yield oc.Case("global_avg_pool after conv3x3 s2 in=5x6x3", model([
        {"name": "c", "type": "conv2d", "filters": 6, "kernel": 3, "stride": 2},
        {"name": "g", "type": "global_avg_pool"}], (5, 6, 3)))
    yield oc.Case("global_avg_pool -> flatten -> dense in=6x7x4", model([
        {"name": "g", "type": "global_avg_pool"}, {"name": "f", "type": "flatten"},
        {"name": "d", "type": "dense", "units": 3}], (6, 7, 4)))


def _conv(name, filters, k=3, **kw):
    return {"name": name, "type": "conv2d", "filters": filters, "kernel": k, **kw}


def norm_act_cases():
    yield oc.Case("batch_norm after conv2d eps=1e-3", model([
        _conv("c", 6, padding="same"), {"name": "bn", "type": "batch_norm", "eps": 1e-3}], (5, 6, 3)))
    yield oc.Case("batch_norm on input default eps", model([{"name": "bn", "type": "batch_norm"}], (7, 9, 4)))
    yield oc.Case("batch_norm momentum key -> relu", model([
        {"name": "bn", "type": "batch_norm", "momentum": 0.01}, {"name": "r", "type": "relu"}], (4, 3, 5)))
    yield oc.Case("batch_norm after dense", model([
        {"name": "d", "type": "dense", "units": 7}, {"name": "bn", "type": "batch_norm"}], (3, 5, 2)))
    yield oc.Case("batch_norm after flatten (CHW->HWC params)", model([
        _conv("c", 3, padding="same"), {"name": "f", "type": "flatten"},
        {"name": "bn", "type": "batch_norm", "eps": 1e-4}], (3, 4, 2)))
    yield oc.Case("batch_norm after flatten -> dense", model([
        {"name": "f", "type": "flatten"}, {"name": "bn", "type": "batch_norm"},
        {"name": "d", "type": "dense", "units": 4}], (3, 5, 2)))
    yield oc.Case("batch_norm after global_avg_pool", model([
        {"name": "g", "type": "global_avg_pool"}, {"name": "bn", "type": "batch_norm"}], (5, 5, 6)))
    yield oc.Case("relu on input", model([{"name": "r", "type": "relu"}], (7, 9, 3)))
    yield oc.Case("leaky_relu default alpha", model([{"name": "r", "type": "leaky_relu"}], (5, 6, 3)))
    yield oc.Case("leaky_relu alpha=0.3", model([{"name": "r", "type": "leaky_relu", "alpha": 0.3}], (5, 6, 3)))
    yield oc.Case("sigmoid on input x3", model([{"name": "s", "type": "sigmoid"}], (5, 6, 3)), x_scale=3.0)
    yield oc.Case("tanh after conv", model([_conv("c", 5, padding="same"), {"name": "t", "type": "tanh"}], (6, 7, 3)))
    yield oc.Case("elu default alpha on input x2", model([{"name": "e", "type": "elu"}], (5, 6, 3)), x_scale=2.0)
    yield oc.Case("elu alpha=0.7 after dense", model([
        {"name": "d", "type": "dense", "units": 9}, {"name": "e", "type": "elu", "alpha": 0.7}], (3, 4, 2)))
    yield oc.Case("clip min=0 max=6 (relu6) on input x5", model([
        {"name": "r6", "type": "clip", "min": 0, "max": 6}], (5, 6, 3)), x_scale=5.0)
    yield oc.Case("clip min=-1 max=1 after conv -> sigmoid", model([
        _conv("c", 4), {"name": "h", "type": "clip", "min": -1, "max": 1}, {"name": "s", "type": "sigmoid"}],
        (6, 5, 3)))
    yield oc.Case("clip max only, min only", model([
        {"name": "a", "type": "clip", "max": 0.5}, {"name": "b", "type": "clip", "min": -0.25}], (4, 5, 3)))
    yield oc.Case("softmax spatial over channels", model([{"name": "s", "type": "softmax"}], (5, 6, 7)))
    yield oc.Case("softmax after conv", model([_conv("c", 5), {"name": "s", "type": "softmax"}], (6, 7, 2)))
    yield oc.Case("softmax after flatten", model([
        {"name": "f", "type": "flatten"}, {"name": "s", "type": "softmax"}], (3, 4, 2)))
    yield oc.Case("dropout after conv", model([
        _conv("c", 4, activation="relu"), {"name": "do", "type": "dropout", "rate": 0.5}], (5, 6, 3)))
    yield oc.Case("dropout rate=0 after dense", model([
        {"name": "d", "type": "dense", "units": 5}, {"name": "do", "type": "dropout", "rate": 0.0}], (2, 3, 2)))


def dense_cases():
    for act in ("none", "relu", "leaky_relu", "softmax"):
        for bias in (True, False):
            yield oc.Case(f"dense flat act={act} bias={int(bias)}", model([
                {"name": "f", "type": "flatten"},
                {"name": "d", "type": "dense", "units": 6, "bias": bias, "activation": act}], (3, 5, 2)))
    yield oc.Case("dense on spatial input 5x6x3 (CHW flatten order)", model([
        {"name": "d", "type": "dense", "units": 5}], (5, 6, 3)))
    yield oc.Case("dense on spatial after conv s2 same", model([
        _conv("c", 4, stride=2, padding="same"), {"name": "d", "type": "dense", "units": 3}], (7, 9, 2)))
    yield oc.Case("dense -> dense -> softmax", model([
        {"name": "d1", "type": "dense", "units": 9, "activation": "relu"},
        {"name": "d2", "type": "dense", "units": 4}, {"name": "s", "type": "softmax"}], (4, 3, 3)))
    yield oc.Case("flatten final (NHWC output order)", model([
        _conv("c", 3, padding="same"), {"name": "f", "type": "flatten"}], (3, 4, 2)))
    yield oc.Case("flatten of input", model([{"name": "f", "type": "flatten"}], (2, 3, 4)))
    yield oc.Case("flatten -> relu -> dense", model([
        {"name": "f", "type": "flatten"}, {"name": "r", "type": "relu"},
        {"name": "d", "type": "dense", "units": 3, "bias": False}], (3, 3, 3)))


def shuffle_cases():
    for g in (2, 4):
        yield oc.Case(f"channel_shuffle g{g} on input c=8", model([
            {"name": "cs", "type": "channel_shuffle", "groups": g}], (5, 6, 8)))
        yield oc.Case(f"channel_shuffle g{g} after grouped conv", model([
            _conv("c", 8, 1, groups=g), {"name": "cs", "type": "channel_shuffle", "groups": g},
            _conv("c2", 8, 1, groups=g)], (5, 7, 4)))
    yield oc.Case("channel_shuffle g2 after dense", model([
        {"name": "d", "type": "dense", "units": 6}, {"name": "cs", "type": "channel_shuffle", "groups": 2}],
        (2, 3, 2)))


def graph_cases():
    base = _conv("c0", 4, padding="same")
    yield oc.Case("add 2 inputs (conv3x3 same, conv1x1 from c0)", model([
        base, _conv("a", 4, padding="same"), _conv("b", 4, 1, input="c0"),
        {"name": "s", "type": "add", "inputs": ["a", "b"]}], (5, 6, 3)))
    yield oc.Case("add 3 inputs incl. residual", model([
        base, _conv("a", 4, padding="same"), _conv("b", 4, 1, input="c0"),
        {"name": "s", "type": "add", "inputs": ["a", "b", "c0"]}], (7, 9, 2)))
    yield oc.Case("concat 2 inputs different channels", model([
        base, _conv("a", 3, padding="same"), _conv("b", 5, 1, input="c0"),
        {"name": "cat", "type": "concat", "inputs": ["a", "b"]}], (5, 6, 3)))
    yield oc.Case("concat 3 inputs -> conv1x1", model([
        base, _conv("a", 3, padding="same"), {"name": "p", "type": "max_pool2d", "pool": 3, "stride": 1,
                                                "padding": "same", "input": "c0"},
        {"name": "cat", "type": "concat", "inputs": ["c0", "a", "p"]}, _conv("o", 6, 1)], (6, 7, 3)))
    yield oc.Case("input: references a layer with activation (post-activation output)", model([
        _conv("c0", 4, padding="same", activation="leaky_relu", alpha=0.1),
        _conv("a", 4, padding="same", activation="relu"),
        {"name": "s", "type": "add", "inputs": ["c0", "a"]}], (5, 6, 3)))
    yield oc.Case("input: skips back over layers (branch from c0 after pool)", model([
        base, {"name": "p", "type": "max_pool2d", "pool": 2},
        _conv("b", 2, 1, input="c0")], (6, 6, 3)))
    yield oc.Case("residual around mobilenet_block (block name as input)", model([
        base, {"name": "m", "type": "mobilenet_block", "filters": 4, "batch_norm": True},
        {"name": "s", "type": "add", "inputs": ["c0", "m"]}, {"name": "r", "type": "relu"}], (6, 7, 3)))
    yield oc.Case("concat after global pools of two branches -> dense", model([
        base, {"name": "g1", "type": "global_avg_pool"}, _conv("b", 3, 3, input="c0"),
        {"name": "g2", "type": "global_avg_pool"}, {"name": "cat", "type": "concat", "inputs": ["g1", "g2"]},
        {"name": "d", "type": "dense", "units": 2}], (6, 6, 3)))


def block_cases():
    eff = {"name": "b1", "type": "effnet_block", "ch_mid": 6, "ch_out": 8}
    variants = [("default", {}), ("batch_norm", {"batch_norm": True}),
                ("leaky alpha=0.2", {"activation": "leaky_relu", "alpha": 0.2}),
                ("dm2", {"depth_multiplier": 2}), ("dropout=0.3", {"dropout": 0.3}), ("bias", {"bias": True}),
                ("activation none", {"activation": "none"}),
                ("bn+leaky+dm2+dropout+bias", {"batch_norm": True, "activation": "leaky_relu",
                                               "depth_multiplier": 2, "dropout": 0.2, "bias": True})]
    for label, extra in variants:
        for hwc in [(8, 9, 4), (7, 10, 3)]:
            yield oc.Case(f"effnet_block {label} in={hwc[0]}x{hwc[1]}x{hwc[2]}", model([{**eff, **extra}], hwc))
    yield oc.Case("effnet 2 blocks + flatten + dense softmax (mini EffNet)", model([
        {**eff, "batch_norm": True, "activation": "leaky_relu"},
        {"name": "b2", "type": "effnet_block", "ch_mid": 8, "ch_out": 12, "batch_norm": True, "dropout": 0.1},
        {"name": "f", "type": "flatten"}, {"name": "fc", "type": "dense", "units": 10, "activation": "softmax"}],
        (12, 12, 1)))
    for stride in (1, 2):
        for bn in (False, True):
            for hwc in [(7, 9, 4), (6, 6, 3)]:
                yield oc.Case(f"mobilenet_block stride={stride} bn={int(bn)} in={hwc[0]}x{hwc[1]}x{hwc[2]}", model([
                    {"name": "m1", "type": "mobilenet_block", "filters": 6, "stride": stride, "batch_norm": bn}],
                    hwc))
    yield oc.Case("mobilenet_block leaky no-bias stride 2", model([
        {"name": "m1", "type": "mobilenet_block", "filters": 5, "stride": 2, "activation": "leaky_relu",
         "alpha": 0.2, "bias": False}], (9, 7, 3)))
    for g in (2, 4):
        for stride in (1, 2):
            for bn in (False, True):
                yield oc.Case(f"shuffle_unit g{g} stride={stride} bn={int(bn)} in=7x9x8", model([
                    {"name": "s1", "type": "shuffle_unit", "ch_mid": 8, "filters": 12, "groups": g,
                     "stride": stride, "batch_norm": bn}], (7, 9, 8)))
    yield oc.Case("shuffle_unit leaky no-bias -> global pool -> dense", model([
        {"name": "s1", "type": "shuffle_unit", "ch_mid": 4, "filters": 8, "groups": 2, "stride": 2,
         "activation": "leaky_relu", "bias": False, "batch_norm": True},
        {"name": "g", "type": "global_avg_pool"}, {"name": "d", "type": "dense", "units": 3}], (6, 5, 4)))


def weights_format_cases():
    """Valid files written differently: must load and agree."""
    layers = [_conv("c", 4, padding="same"), {"name": "bn", "type": "batch_norm"},
              {"name": "d", "type": "dense", "units": 3}]
    spec = model(layers, (4, 5, 3))
    yield oc.Case("weights without checksum metadata (save_file style)", spec, checksum=False)
    yield oc.Case("weights with num_batches_tracked I64 (accepted, ignored)", spec, add_nbt=True)
    yield oc.Case("weights with extra metadata keys", spec, metadata={"model": "case", "epochs": "3"})
    yield oc.Case("input .npy float64 (converted)", spec, x_dtype="<f8")
    yield oc.Case("input .npy uint8 (converted)", spec, x_dtype="|u1")
    yield oc.Case("batch of 5", spec, batch=5)
    yield oc.Case("weights F16 (converted exactly)", spec, f16=True)
    yield oc.Case("weights F16, effnet_block (converted exactly)", model([
        {"name": "b", "type": "effnet_block", "ch_mid": 6, "ch_out": 8, "batch_norm": True},
        {"name": "g", "type": "global_avg_pool"},
        {"name": "d", "type": "dense", "units": 3}], (8, 10, 4)), f16=True)


def hazard_cases():
    """Graphs where inference fusion (BN folding, activation epilogues, in-place ops) would be
    wrong because an intermediate output has another consumer; numerically delicate inputs."""
    c0 = _conv("c0", 4, padding="same")
    yield oc.Case("fusion hazard: relu layer after conv whose raw output is also added", model([
        c0, {"name": "r", "type": "relu"}, {"name": "s", "type": "add", "inputs": ["c0", "r"]}], (5, 6, 3)))
    yield oc.Case("fusion hazard: batch_norm after conv whose raw output is also concatenated", model([
        c0, {"name": "bn", "type": "batch_norm"}, {"name": "cat", "type": "concat", "inputs": ["bn", "c0"]}],
        (5, 6, 3)))
    yield oc.Case("fusion hazard: dense -> batch_norm -> relu, dense also read later", model([
        {"name": "d", "type": "dense", "units": 6}, {"name": "bn", "type": "batch_norm"},
        {"name": "r", "type": "leaky_relu", "alpha": 0.2}, {"name": "s", "type": "add", "inputs": ["r", "d"]}],
        (3, 4, 2)))
    yield oc.Case("fusion hazard: activated conv read before and after a following relu", model([
        {**c0, "activation": "leaky_relu"}, {"name": "r", "type": "relu"},
        {"name": "s", "type": "add", "inputs": ["c0", "r", "c0"]}], (4, 5, 3)))
    yield oc.Case("add of a layer with itself", model([
        c0, {"name": "s", "type": "add", "inputs": ["c0", "c0"]}], (5, 6, 3)))
    yield oc.Case("concat of a layer with itself", model([
        c0, {"name": "cat", "type": "concat", "inputs": ["c0", "c0"]}, _conv("o", 3, 1)], (5, 6, 3)))
    yield oc.Case("dropout then branch back to pre-dropout layer", model([
        c0, {"name": "do", "type": "dropout", "rate": 0.5},
        {"name": "s", "type": "add", "inputs": ["do", "c0"]}], (4, 4, 2)))
    yield oc.Case("max pool over all-negative input (padding must be -inf)", model([
        {"name": "p", "type": "max_pool2d", "pool": 3, "stride": 2, "padding": "same"}], (6, 7, 3)), x_shift=-4.0)
    yield oc.Case("max pool explicit padding, all-negative input", model([
        {"name": "p", "type": "max_pool2d", "pool": 2, "stride": 1, "padding": [1, 1, 1, 1]}], (4, 5, 2)),
        x_shift=-4.0)
    yield oc.Case("softmax of large logits (needs max subtraction)", model([
        {"name": "s", "type": "softmax"}], (3, 4, 6)), x_scale=80.0)
    yield oc.Case("dense softmax of large logits", model([
        {"name": "d", "type": "dense", "units": 5, "activation": "softmax"}], (2, 3, 4)), x_scale=60.0)
    yield oc.Case("leaky_relu alpha=1 (identity) and alpha=0 (relu)", model([
        {"name": "a", "type": "leaky_relu", "alpha": 1.0}, {"name": "b", "type": "leaky_relu", "alpha": 0.0}],
        (3, 4, 2)))


def size_cases():
    """Channel counts and batch sizes big enough to reach blocked/vectorised/threaded paths,
    strides larger than kernels, kernels larger than the input, single-channel input."""
    yield oc.Case("big conv3x3 same 32->64 in=13x15 batch 3", model([
        _conv("c", 64, 3, padding="same", activation="relu")], (13, 15, 32)), batch=3)
    yield oc.Case("big conv1x1 64->96 in=9x11 batch 5", model([_conv("c", 96, 1)], (9, 11, 64)), batch=5)
    yield oc.Case("big grouped conv3x3 s2 g4 48->64 in=12x13", model([
        _conv("c", 64, 3, stride=2, padding="same", groups=4, bias=False)], (12, 13, 48)), batch=3)
    yield oc.Case("big depthwise 3x3 s2 same c=67 dm2 in=11x10", model([
        {"name": "dw", "type": "depthwise_conv2d", "kernel": 3, "stride": 2, "padding": "same",
         "depth_multiplier": 2}], (11, 10, 67)), batch=3)
    yield oc.Case("big dense 1200->130 batch 7", model([
        {"name": "d", "type": "dense", "units": 130, "activation": "relu"}], (10, 12, 10)), batch=7)
    yield oc.Case("big conv5x5 valid 17->33 odd channels in=15x16", model([_conv("c", 33, 5)], (15, 16, 17)))
    yield oc.Case("big mobilenet 2 blocks c=40 in=16x17 batch 4", model([
        {"name": "m1", "type": "mobilenet_block", "filters": 48, "stride": 2, "batch_norm": True},
        {"name": "m2", "type": "mobilenet_block", "filters": 64, "batch_norm": True}], (16, 17, 40)), batch=4)
    yield oc.Case("conv k1 stride 3 (stride > kernel)", model([_conv("c", 5, 1, stride=3)], (8, 10, 3)))
    yield oc.Case("conv k2 stride [3,2] same", model([_conv("c", 5, 2, stride=[3, 2], padding="same")], (8, 7, 3)))
    yield oc.Case("pool 2 stride 3 valid", model([{"name": "p", "type": "avg_pool2d", "pool": 2, "stride": 3}],
                                                 (8, 10, 3)))
    yield oc.Case("conv 5x5 same on 3x2 input (kernel > input)", model([_conv("c", 4, 5, padding="same")],
                                                                      (3, 2, 3)))
    yield oc.Case("conv 7x7 stride 3 same in=5x6", model([_conv("c", 4, 7, stride=3, padding="same")], (5, 6, 2)))
    yield oc.Case("conv 3x3 input channels 1 (MNIST-like) 28x28", model([_conv("c", 8, 3, activation="relu")],
                                                                       (28, 28, 1)))
    yield oc.Case("depthwise dm3 on c=1", model([
        {"name": "dw", "type": "depthwise_conv2d", "kernel": 3, "depth_multiplier": 3}], (6, 5, 1)))
    yield oc.Case("channel_shuffle groups = channels (g6, c6)", model([
        {"name": "cs", "type": "channel_shuffle", "groups": 6}], (3, 4, 6)))
    yield oc.Case("channel_shuffle groups 1 (identity)", model([
        {"name": "cs", "type": "channel_shuffle", "groups": 1}], (3, 4, 6)))
    yield oc.Case("1x1 input spatial: conv3x3 same on 1x1", model([_conv("c", 4, 3, padding="same")], (1, 1, 5)))
    yield oc.Case("batch 1", model([_conv("c", 4, 3, padding="same"), {"name": "d", "type": "dense", "units": 3}],
                                   (5, 6, 3)), batch=1)


def forward_cases():
    for gen in (conv_cases, depthwise_cases, pool_cases, norm_act_cases, dense_cases, shuffle_cases,
                graph_cases, block_cases, weights_format_cases, hazard_cases, size_cases):
        yield from gen()


# ---------------------------------------------------------------------------- bad inputs

BAD_BASE = model([_conv("c", 4, padding="same"), {"name": "bn", "type": "batch_norm"},
                  {"name": "d", "type": "dense", "units": 3}], (4, 5, 3))


def bad_cases():
    B = BAD_BASE
    yield oc.Case("bad: missing tensor c.bias", B, culprit="weights", mutate=oc.drop_tensor("c.bias"))
    yield oc.Case("bad: extra tensor zzz.weight", B, culprit="weights", mutate=oc.extra_tensor("zzz.weight"))
    yield oc.Case("bad: misshaped tensor c.weight", B, culprit="weights", mutate=oc.reshape_tensor("c.weight"))
    yield oc.Case("bad: dense weight transposed", B, culprit="weights", mutate=oc.transpose_tensor("d.weight"))
    yield oc.Case("bad: wrong dtype F64 c.weight", B, culprit="weights", mutate=oc.dtype_tensor("c.weight", "F64"))
    yield oc.Case("bad: F16 c.weight holding inf", B, culprit="weights",
                  mutate=oc.dtype_tensor("c.weight", "F16", float("inf")))
    yield oc.Case("bad: truncated weights file", B, culprit="weights", mutate=oc.truncate(13))
    yield oc.Case("bad: header length past end", B, culprit="weights", mutate=oc.header_past_end)
    yield oc.Case("bad: checksum mismatch", B, culprit="weights", mutate=oc.wrong_checksum)
    yield oc.Case("bad: data_offsets past end", B, culprit="weights", mutate=oc.offsets_past_end)
    yield oc.Case("bad: non-numeric .npy <U3", B, culprit="input", x_dtype="<U3")
    for axis, label in ((1, "H"), (2, "W"), (3, "C")):
        yield oc.Case(f"bad: input .npy wrong {label}", B, culprit="input", x_grow_axis=axis)
    yield oc.Case("bad: input .npy rank 2", B, culprit="input", x_rank2=True)
    yield oc.Case("bad: malformed YAML", B, culprit="model",
                  yaml_text="name: bad\ninput: {height: 4, width: 5, channels: 3}\nlayers:\n"
                            "  - {name: c, type: conv2d, filters: 4\n")
    yield oc.Case("bad: unknown layer type conv3d", model([{"name": "c", "type": "conv3d", "filters": 4,
                                                           "kernel": 3}], (4, 5, 3)), culprit="model")
    yield oc.Case("bad: unknown key filterz", model([{"name": "c", "type": "conv2d", "filterz": 4,
                                                     "filters": 4, "kernel": 3}], (4, 5, 3)), culprit="model")
    yield oc.Case("bad: input too small for pooling chain", model([
        {"name": f"p{i}", "type": "max_pool2d", "pool": 2} for i in range(3)], (4, 4, 2)), culprit="model")
    yield oc.Case("bad: groups do not divide channels", model([_conv("c", 4, 1, groups=2)], (4, 5, 3)),
                  culprit="model")
    yield oc.Case("bad: model file does not exist", B, culprit="model", remove="model")
    yield oc.Case("bad: weights file does not exist", B, culprit="weights", remove="weights")
    yield oc.Case("bad: input file does not exist", B, culprit="input", remove="input")
    yield oc.Case("bad: output directory does not exist", B, culprit="output", bad_output=True)
    yield oc.Case("bad: weights header is not JSON", B, culprit="weights", mutate=oc.header_not_json)
    yield oc.Case("bad: empty weights file", B, culprit="weights", mutate=lambda t: b"")
    yield oc.Case("bad: dropout rate 1", model([{"name": "d", "type": "dropout", "rate": 1.0}], (4, 5, 3)),
                  culprit="model")
    yield oc.Case("bad: duplicate layer name", model([_conv("c", 4), _conv("c", 4)], (6, 6, 3)), culprit="model")
    yield oc.Case("bad: input names a later layer", model([_conv("a", 4, input="b"), _conv("b", 4)], (6, 6, 3)),
                  culprit="model")
    yield oc.Case("bad: add of different shapes", model([
        _conv("a", 4, padding="same"), _conv("b", 5, 1, input="a"),
        {"name": "s", "type": "add", "inputs": ["a", "b"]}], (4, 5, 3)), culprit="model")


# ---------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    oc.add_common_args(ap, "oracle-layers")
    ap.add_argument("--list", action="store_true", help="list the case names and exit")
    a = ap.parse_args()
    cases = [c for c in list(forward_cases()) + list(bad_cases()) if a.filter in c.name]
    if a.list:
        for c in cases:
            print(c.name)
        return 0
    steerctl = oc.find_steerctl(a.steerctl)
    if steerctl is None:
        print("steerctl not found (pass --steerctl PATH)")
        print("0 passed, 1 failed")
        return 1
    failed = oc.run_cases(cases, steerctl, a)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
