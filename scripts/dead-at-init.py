#!/usr/bin/python3
"""dead-at-init.py — channels of a model that can never activate, from the initial weights alone.

In a ReLU network without biases whose input is non-negative (pixels * scale + offset with
offset >= 0), a convolution channel whose every weight that can reach real pixels is <= 0 outputs
<= 0 for every image: after its ReLU it is 0 forever and gets no gradient, so training cannot
revive it. seed-mnist-effnet has two such places where one sign decides: b1.conv1 is a 1x1
convolution of the 1-channel image (a channel with a negative weight is dead), and b4.dw2 is a
3x1 depthwise convolution of a 1-pixel-high map (with "same" padding only its middle tap touches
data). This script follows the non-negative tensors through the model (ReLU outputs, pooling,
dropout, flatten stops it) and counts, per layer, the channels dead by sign: a depthwise channel
whose input channel is dead or whose reachable taps are all <= 0; a convolution channel whose
weights on live input channels' reachable taps are all <= 0. Layers with a bias or a batch norm
end the analysis of that path (their output can be positive whatever the weights).

Initial weights: `steerctl model init MODEL --seed S` (steer-train's own He initialisation).
Prints, for each seed, the dead channels per layer and the totals; with --rank, the seeds with the
most live channels in the layers that --layers names (default: all) first.
Usage: dead-at-init.py MODEL.yaml [--seeds 1-40] [--rank] [--layers b1.conv1,b4.dw2] [--steerctl PATH]
"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "oracle"))
import numpy as np  # noqa: E402

import st  # noqa: E402
import torchmodel as tm  # noqa: E402


def reachable(size, k, stride, before, n_out):
    """Taps 0..k-1 of one axis that touch a real pixel for some of the n_out output positions."""
    return sorted({t for o in range(n_out) for t in range(k) if 0 <= o * stride - before + t < size})


def analyse(net, weights):
    """{layer: (dead channels, channels)} for the convolutions followed by a ReLU."""
    pre = net.spec.get("preprocess") or {}
    nonneg = {tm.INPUT: float(pre.get("offset", 0.0)) >= 0 and float(pre.get("scale", 1.0)) > 0}
    dead = {tm.INPUT: set()}
    result = {}
    shapes = net.shapes
    for p in net.prims:
        src = p.inputs[0] if p.inputs else None
        ok = src is not None and nonneg.get(src, False)
        nonneg[p.name], dead[p.name] = False, set()
        if p.type in ("max_pool2d", "avg_pool2d", "dropout") and ok:
            nonneg[p.name], dead[p.name] = True, set(dead[src])
        elif p.type == "relu":
            nonneg[p.name] = True
            dead[p.name] = set(dead[src]) if src in dead else set()
        elif p.type in ("conv2d", "depthwise_conv2d") and ok and not p.cfg["bias"]:
            w = weights[p.name + ".weight"]          # [out, in/groups, kh, kw]
            s = shapes[src]
            kh, kw = p.cfg["kernel"]
            sh, sw = p.cfg["stride"]
            pads, _, _ = net._spatial_window(p, s, (kh, kw), (sh, sw), p.cfg["padding"])
            o = shapes[p.name]
            rows = reachable(s.h, kh, sh, pads[2], o.h)
            cols = reachable(s.w, kw, sw, pads[0], o.w)
            wr = w[:, :, rows][:, :, :, cols]
            gone = set()
            for c in range(w.shape[0]):
                if p.type == "depthwise_conv2d":
                    ic = c // p.cfg["depth_multiplier"]
                    if ic in dead[src] or (wr[c] <= 0).all():
                        gone.add(c)
                else:
                    live = [i for i in range(w.shape[1]) if i not in dead[src]]
                    if not live or (wr[c, live] <= 0).all():
                        gone.add(c)
            dead[p.name] = gone
            result[p.name] = (len(gone), w.shape[0])
    return result


def seeds_of(text):
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--seeds", default="1-40")
    ap.add_argument("--rank", action="store_true")
    ap.add_argument("--layers", default="")
    ap.add_argument("--steerctl", default=os.path.join(HERE, "..", "build", "steerctl"))
    a = ap.parse_args()
    net = tm.build(a.model)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "w.safetensors")
        for seed in seeds_of(a.seeds):
            subprocess.run([a.steerctl, "model", "init", a.model, "--seed", str(seed), "-o", path], check=True,
                           capture_output=True)
            res = analyse(net, {k: np.asarray(v) for k, v in st.load(path)[0].items()})
            layers = [x for x in a.layers.split(",") if x] or list(res)
            live = sum(res[x][1] - res[x][0] for x in layers if x in res)
            rows.append((live, seed, res))
    if a.rank:
        rows.sort(key=lambda r: (-r[0], r[1]))
    for live, seed, res in rows:
        per = " ".join(f"{k}:{n}/{c}" for k, (n, c) in res.items() if n)
        print(f"seed {seed}: live channels in {a.layers or 'all layers'} {live}; dead: {per}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
