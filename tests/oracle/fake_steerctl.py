#!/usr/bin/python3
"""fake_steerctl.py — a slow NumPy stand-in for `steerctl`, used only to self-test the oracle.

It implements the steerctl command contract the oracle checkers rely on (`model run`,
`model info --json`, `model init`, `bench --json`) with an NHWC float64 NumPy forward pass
written the way the C engine is described (docs/FORMATS.md, src/nn/graph.h): weights are
repacked from PyTorch layouts at load, flatten keeps HWC element order and the per-feature
parameters after it (dense weights, batch-norm vectors) are permuted from CHW to HWC.
Because it shares nothing with torchmodel.py's forward (only the YAML expansion), agreement
between the two is a self-consistency check of the oracle itself (tolerance as in
check_layers.py). Errors: exit status 1 with one line on stderr naming the file.

Usage: check_layers.py --steerctl tests/oracle/fake_steerctl.py
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
import torchmodel as tm  # noqa: E402


class Fail(Exception):
    pass


# ---------------------------------------------------------------------------- graph

def load_graph(path):
    """YAML -> (spec, prims, shapes{name: Shape}) using shape propagation of the torch model."""
    try:
        with open(path) as f:
            spec = yaml.safe_load(f)
    except OSError as e:
        raise Fail(f"{path}: cannot read: {e.strerror}")
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{mark.line + 1}:{mark.column + 1}: " if mark else ""
        raise Fail(f"{path}:{where}malformed YAML: {getattr(e, 'problem', e)}")
    try:
        net = tm.SteerNet(spec)
    except (tm.SpecError, TypeError, KeyError) as e:
        raise Fail(f"{path}: {e}")
    return spec, net


def read_weights(path, net):
    try:
        with open(path, "rb") as f:
            buf = f.read()
    except OSError as e:
        raise Fail(f"{path}: cannot read: {e.strerror}")
    try:
        header, data = st.split(buf)
    except (ValueError, UnicodeDecodeError) as e:
        raise Fail(f"{path}: {e}")
    meta = header.pop("__metadata__", {}) or {}
    want = tm.tensor_names(net)
    out = {}
    for name, info in header.items():
        if name.endswith("num_batches_tracked"):
            continue
        if name not in want:
            raise Fail(f"{path}: {name}: unexpected tensor")
        if info.get("dtype") != "F32":
            raise Fail(f"{path}: {name}: dtype must be F32 (got {info.get('dtype')})")
        if tuple(info["shape"]) != want[name]:
            raise Fail(f"{path}: {name}: shape {info['shape']} != {list(want[name])}")
        b, e = info["data_offsets"]
        if not (0 <= b <= e <= len(data)) or e - b != 4 * int(np.prod(want[name])):
            raise Fail(f"{path}: {name}: data_offsets [{b}, {e}] outside data ({len(data)} bytes)")
        out[name] = np.frombuffer(data[b:e], "<f4").reshape(want[name]).astype(np.float64)
    for name in want:
        if name not in out:
            raise Fail(f"{path}: {name}: missing tensor")
    cs = meta.get("checksum")
    if cs is not None and cs != "sha256:" + st.sha256_hex(data):
        raise Fail(f"{path}: checksum mismatch (metadata {cs})")
    return out


# ---------------------------------------------------------------------------- NHWC forward

def _window(x, k, s, pads, fill):
    """x [N,H,W,C] padded -> generator of (i, j, strided view [N,oh,ow,C])."""
    t, b, l, r = pads
    xp = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=fill)
    oh = (xp.shape[1] - k[0]) // s[0] + 1
    ow = (xp.shape[2] - k[1]) // s[1] + 1
    for i in range(k[0]):
        for j in range(k[1]):
            yield i, j, xp[:, i:i + s[0] * (oh - 1) + 1:s[0], j:j + s[1] * (ow - 1) + 1:s[1], :]


def _pads(cfg_pad, h, w, k, s):
    t, b, _ = tm.resolve_padding(cfg_pad, h, k[0], s[0], 0)
    l, r, _ = tm.resolve_padding(cfg_pad, w, k[1], s[1], 1)
    return t, b, l, r


def _conv(x, wt, bias, k, s, pad, groups):
    n, h, w, c = x.shape
    cout = wt.shape[0]
    cg, og = c // groups, cout // groups
    # OIHW -> [g][kh][kw][cin/g][cout/g]
    wg = wt.reshape(groups, og, cg, k[0], k[1]).transpose(0, 3, 4, 2, 1)
    y = None
    for i, j, v in _window(x, k, s, _pads(pad, h, w, k, s), 0.0):
        parts = [v[..., g * cg:(g + 1) * cg] @ wg[g, i, j] for g in range(groups)]
        term = np.concatenate(parts, axis=3)
        y = term if y is None else y + term
    return y if bias is None else y + bias


def _depthwise(x, wt, bias, k, s, pad, dm):
    n, h, w, c = x.shape
    wk = wt.reshape(c * dm, k[0], k[1]).transpose(1, 2, 0)   # [kh][kw][c*dm]
    xr = np.repeat(x, dm, axis=3)                            # channel o reads input o/dm
    y = None
    for i, j, v in _window(xr, k, s, _pads(pad, h, w, k, s), 0.0):
        y = v * wk[i, j] if y is None else y + v * wk[i, j]
    return y if bias is None else y + bias


def _pool(x, k, s, pad, kind, count_pad=False):
    n, h, w, c = x.shape
    pads = _pads(pad, h, w, k, s)
    if kind == "max":
        return np.max(np.stack([v for _, _, v in _window(x, k, s, pads, -np.inf)]), axis=0)
    sums = sum(v for _, _, v in _window(x, k, s, pads, 0.0))
    if count_pad:  # padded cells count: the window's size
        return sums / (k[0] * k[1])
    cnt = sum(v for _, _, v in _window(np.ones((1, h, w, 1)), k, s, pads, 0.0))
    return sums / cnt


def _chw_to_hwc(vec_or_mat, src):
    """Permutes the last axis from CHW to HWC order."""
    c, h, w = src
    lead = vec_or_mat.shape[:-1]
    return vec_or_mat.reshape(*lead, c, h, w).swapaxes(-3, -2).swapaxes(-2, -1).reshape(*lead, -1)


def forward(net, W, x):
    """x [N,H,W,C] float64 -> [N, outputs] in the engine's NHWC convention."""
    vals = {tm.INPUT: x}
    for p in net.prims:
        xs = [vals[i] for i in p.inputs]
        ins = net.shapes[p.inputs[0]]
        a, c = xs[0], p.cfg
        n = a.shape[0]
        wt, b = W.get(p.name + ".weight"), W.get(p.name + ".bias")
        if p.type == "conv2d":
            y = _conv(a, wt, b, c["kernel"], c["stride"], c["padding"], c["groups"])
        elif p.type == "depthwise_conv2d":
            y = _depthwise(a, wt, b, c["kernel"], c["stride"], c["padding"], c["depth_multiplier"])
        elif p.type in ("max_pool2d", "avg_pool2d"):
            y = _pool(a, c["pool"], c["stride"], c["padding"], p.type[:3], c.get("count_pad", False))
        elif p.type == "global_avg_pool":
            y = a.mean(axis=(1, 2), keepdims=True)
        elif p.type == "batch_norm":
            g, m, v = wt, W[p.name + ".running_mean"], W[p.name + ".running_var"]
            if ins.flat and ins.src:
                g, b, m, v = (_chw_to_hwc(t, ins.src) for t in (g, b, m, v))
            y = (a - m) / np.sqrt(v + c["eps"]) * g + b
        elif p.type == "relu":
            y = np.maximum(a, 0)
        elif p.type == "leaky_relu":
            y = np.where(a > 0, a, a * c["alpha"])
        elif p.type == "softmax":
            e = np.exp(a - a.max(axis=-1, keepdims=True))
            y = e / e.sum(axis=-1, keepdims=True)
        elif p.type == "dense":
            mat = wt
            if not ins.flat and ins.h * ins.w > 1:
                mat = _chw_to_hwc(wt, (ins.c, ins.h, ins.w))
            elif ins.flat and ins.src:
                mat = _chw_to_hwc(wt, ins.src)
            y = a.reshape(n, 1, 1, -1) @ mat.T + (0 if b is None else b)
        elif p.type == "flatten":
            y = a.reshape(n, 1, 1, -1)
        elif p.type == "dropout":
            y = a
        elif p.type == "channel_shuffle":
            g = c["groups"]
            y = a.reshape(*a.shape[:3], g, -1).swapaxes(3, 4).reshape(a.shape)
        elif p.type == "add":
            y = sum(xs)
        elif p.type == "concat":
            y = np.concatenate(xs, axis=3)
        else:
            raise AssertionError(p.type)
        vals[p.name] = y
    return vals[net.prims[-1].name].reshape(x.shape[0], -1)


# ---------------------------------------------------------------------------- cost (analytic)

def layer_costs(net):
    """Per primitive: (params, trainable, macs) from the documented formulas."""
    rows = []
    for p in net.prims:
        s_in, s_out = net.shapes[p.inputs[0]], net.shapes[p.name]
        c = p.cfg
        params = trainable = macs = 0
        if p.type == "conv2d":
            kk = c["kernel"][0] * c["kernel"][1]
            trainable = c["filters"] * (s_in.c // c["groups"]) * kk + (c["filters"] if c["bias"] else 0)
            macs = s_out.size() * (s_in.c // c["groups"]) * kk
        elif p.type == "depthwise_conv2d":
            kk = c["kernel"][0] * c["kernel"][1]
            trainable = s_out.c * kk + (s_out.c if c["bias"] else 0)
            macs = s_out.size() * kk
        elif p.type == "dense":
            trainable = s_in.size() * c["units"] + (c["units"] if c["bias"] else 0)
            macs = s_in.size() * c["units"]
        elif p.type == "batch_norm":
            trainable = 2 * s_in.c
            params = 2 * s_in.c
        params += trainable
        rows.append({"name": p.name, "type": p.type, "output": s_out.hwc(), "params": params,
                     "trainable_params": trainable, "macs": macs,
                     "activation_bytes": 4 * s_out.size()})
    return rows


# ---------------------------------------------------------------------------- commands

def cmd_run(a):
    spec, net = load_graph(a.model)
    W = read_weights(a.weights, net)
    try:
        x = np.load(a.input, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise Fail(f"{a.input}: cannot read .npy: {e}")
    if x.dtype.kind not in "biuf":
        raise Fail(f"{a.input}: dtype {x.dtype.str} is not numeric")
    if x.ndim != 4 or tuple(x.shape[1:]) != net.in_hwc:
        raise Fail(f"{a.input}: shape {list(x.shape)} != [N, {', '.join(map(str, net.in_hwc))}]")
    y = forward(net, W, x.astype(np.float32).astype(np.float64))
    try:
        np.save(a.output, y.astype(np.float32))
    except OSError as e:
        raise Fail(f"{a.output}: cannot write: {e.strerror}")


def cmd_info(a):
    spec, net = load_graph(a.model)
    rows = layer_costs(net)
    out = {"name": spec.get("name"), "layers": rows}
    for k in ("params", "trainable_params", "macs", "activation_bytes"):
        out["total_params" if k == "params" else k] = sum(r[k] for r in rows)
    print(json.dumps(out))


def cmd_init(a):
    spec, net = load_graph(a.model)
    rng = np.random.default_rng(a.seed)
    st.save(a.o, tm.random_weights(net, rng), {"model": str(spec.get("name"))})


def cmd_bench(a):
    spec, net = load_graph(a.model)
    W = read_weights(a.weights, net) if a.weights else tm.random_weights(net, np.random.default_rng(0))
    W = {k: np.asarray(v, np.float64) for k, v in W.items()}
    x = np.random.default_rng(1).standard_normal((a.batch, *net.in_hwc))
    times = []
    for _ in range(a.runs):
        t0 = time.perf_counter_ns()
        forward(net, W, x)
        times.append((time.perf_counter_ns() - t0) / 1e3)
    times.sort()
    macs = sum(r["macs"] for r in layer_costs(net)) * a.batch
    med = times[len(times) // 2]
    print(json.dumps({"model": spec.get("name"), "batch": a.batch, "threads": a.threads,
                      "median_us": med, "p99_us": times[min(len(times) - 1, math.ceil(0.99 * len(times)) - 1)],
                      "gmacs": macs / med / 1e3, "peak_gmacs": 0.0, "layers": []}))


def main():
    ap = argparse.ArgumentParser(prog="steerctl")
    sub = ap.add_subparsers(dest="cmd", required=True)
    model = sub.add_parser("model").add_subparsers(dest="sub", required=True)
    r = model.add_parser("run")
    r.add_argument("model")
    r.add_argument("weights")
    r.add_argument("--input", required=True)
    r.add_argument("--output", required=True)
    r.add_argument("--threads", type=int, default=1)
    i = model.add_parser("info")
    i.add_argument("model")
    i.add_argument("--json", action="store_true")
    n = model.add_parser("init")
    n.add_argument("model")
    n.add_argument("--seed", type=int, default=0)
    n.add_argument("-o", required=True)
    b = sub.add_parser("bench")
    b.add_argument("model")
    b.add_argument("--weights")
    b.add_argument("--threads", type=int, default=1)
    b.add_argument("--batch", type=int, default=1)
    b.add_argument("--runs", type=int, default=5)
    b.add_argument("--json", action="store_true")
    a = ap.parse_args()
    fn = {"run": cmd_run, "info": cmd_info, "init": cmd_init}.get(getattr(a, "sub", None), cmd_bench)
    try:
        fn(a)
    except Fail as e:
        print(f"steerctl: {e}".replace("\n", " "), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
