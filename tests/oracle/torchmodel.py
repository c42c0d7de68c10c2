"""torchmodel.py — PyTorch reference model built from a steerd model YAML (docs/FORMATS.md).

Written from the document and PyTorch only (independently of the C engine):
  * expand(spec) turns the YAML layer list into primitives, expanding the composite blocks
    (effnet_block, mobilenet_block, shuffle_unit) and `activation:` keys (`<name>.act`);
  * SteerNet(spec) is an nn.Module whose state_dict() names are the documented tensor names
    (a block `b1` is a sub-module with children conv1, conv1_bn, dw1, ...; a layer `conv1` is
    the attribute conv1); forward runs in NCHW with explicit asymmetric padding (F.pad, TF
    "same"), max-pool padding with -inf, average pooling over real cells only, dense on spatial
    input flattening like torch.flatten(x, 1);
  * to_nhwc_rows(y, shape) gives the engine's output convention ([N, outputs], NHWC order; a
    flatten of a spatial tensor keeps its HWC element order in the engine);
  * count_params / count_macs: the cost rules of `steerctl model info` (MACs from forward hooks
    on Conv2d / Linear measuring the real output shapes, per sample).

A name used in `input:` / `inputs:` refers to the layer's final primitive, i.e. its output after
its own activation (and, for a composite block, the block's last primitive).
No tolerance here; the checkers compare against the engine (see check_layers.py).
"""
import math
from dataclasses import dataclass, field
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

REQ = object()   # marks a required key
INPUT = "__input__"


class SpecError(ValueError):
    """Invalid model YAML (unknown key/type, bad value, shape that cannot propagate)."""


# ---------------------------------------------------------------------------- spec tables

ACT = {"activation": "none", "alpha": 0.01}
LAYER_KEYS = {
    "conv2d": {"filters": REQ, "kernel": REQ, "stride": 1, "padding": "valid", "groups": 1,
               "bias": True, **ACT},
    "depthwise_conv2d": {"kernel": REQ, "stride": 1, "padding": "valid", "depth_multiplier": 1,
                         "bias": True, **ACT},
    "max_pool2d": {"pool": REQ, "stride": None, "padding": "valid"},
    "avg_pool2d": {"pool": REQ, "stride": None, "padding": "valid", "count_pad": False},
    "global_avg_pool": {},
    "batch_norm": {"eps": 1e-5, "momentum": 0.1},
    "relu": {},
    "leaky_relu": {"alpha": 0.01},
    "softmax": {},
    "sigmoid": {},
    "tanh": {},
    "elu": {"alpha": 1.0},
    "clip": {"min": None, "max": None},
    "dense": {"units": REQ, "bias": True, **ACT},
    "flatten": {},
    "dropout": {"rate": REQ},
    "channel_shuffle": {"groups": REQ},
    "add": {"inputs": REQ},
    "concat": {"inputs": REQ},
    "effnet_block": {"ch_mid": REQ, "ch_out": REQ, "activation": "relu", "alpha": 0.01,
                     "batch_norm": False, "depth_multiplier": 1, "dropout": 0.0, "bias": False},
    "mobilenet_block": {"filters": REQ, "stride": 1, "activation": "relu", "alpha": 0.01,
                        "batch_norm": False, "bias": True},
    "shuffle_unit": {"ch_mid": REQ, "filters": REQ, "groups": REQ, "stride": 1,
                     "activation": "relu", "alpha": 0.01, "batch_norm": False, "bias": True},
}
COMMON_KEYS = {"name", "type", "input", "inputs"}
TOP_KEYS = {"name", "description", "input", "preprocess", "output", "layers"}
ACTIVATIONS = {"none", "relu", "leaky_relu", "softmax"}


@dataclass
class Prim:
    """One primitive layer after expansion: dotted name, type, resolved config, input names."""
    name: str
    type: str
    cfg: dict
    inputs: list


@dataclass
class Shape:
    """Per-sample shape. flat tensors are [F] (h = w = 1, c = F); src = (c, h, w) when the flat
    tensor is a flatten of a spatial one (its engine element order is then HWC)."""
    c: int
    h: int = 1
    w: int = 1
    flat: bool = False
    src: Optional[Tuple[int, int, int]] = None

    def size(self):
        return self.c * self.h * self.w

    def hwc(self):
        return [self.h, self.w, self.c]


# ---------------------------------------------------------------------------- small parsers

def pair(v, what):
    """`k` or `[a, b]` -> (a, b) of positive ints."""
    if isinstance(v, bool):
        raise SpecError(f"{what}: expected int or [a, b] (got {v})")
    if isinstance(v, int):
        v = [v, v]
    if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) and not isinstance(x, bool)
                                                        and x >= 1 for x in v)):
        raise SpecError(f"{what}: expected positive int or [a, b] (got {v})")
    return tuple(v)


def check_padding(v, what):
    if v in ("valid", "same"):
        return v
    if isinstance(v, list) and len(v) == 4 and all(isinstance(x, int) and not isinstance(x, bool)
                                                   and x >= 0 for x in v):
        return tuple(v)
    raise SpecError(f"{what}: expected valid, same or [top, bottom, left, right] (got {v})")


def resolve_padding(pad, size, k, s, axis):
    """One axis (0 = height, 1 = width): returns (before, after, out) per docs/FORMATS.md:
    "same" is TF/Keras (out = ceil(in / s), the odd pixel of padding goes after)."""
    if pad == "same":
        out = -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        return total // 2, total - total // 2, out
    before, after = (0, 0) if pad == "valid" else pad[2 * axis:2 * axis + 2]
    out = (size + before + after - k) // s + 1
    return before, after, out


def with_defaults(layer, where):
    """Checks the keys of one YAML layer and fills the defaults."""
    t = layer.get("type")
    if t not in LAYER_KEYS:
        raise SpecError(f"{where}: type: unknown layer type (got {t})")
    table = LAYER_KEYS[t]
    for k in layer:
        if k not in table and k not in COMMON_KEYS:
            raise SpecError(f"{where}: {k}: unknown key (got {layer[k]})")
    if "inputs" in layer and t not in ("add", "concat"):
        raise SpecError(f"{where}: inputs: only for add/concat")
    cfg = {}
    for k, d in table.items():
        if k in layer:
            cfg[k] = layer[k]
        elif d is REQ:
            raise SpecError(f"{where}: {k}: required key missing")
        else:
            cfg[k] = d
    if cfg.get("activation", "none") not in ACTIVATIONS:
        raise SpecError(f"{where}: activation: unknown (got {cfg['activation']})")
    if cfg.get("activation") == "softmax" and t != "dense":
        raise SpecError(f"{where}: activation: softmax is for dense only")
    if t == "clip" and cfg["min"] is None and cfg["max"] is None:
        raise SpecError(f"{where}: min: a clip needs min, max or both")
    if t == "clip" and None not in (cfg["min"], cfg["max"]) and cfg["min"] > cfg["max"]:
        raise SpecError(f"{where}: max: below min")
    return cfg


# ---------------------------------------------------------------------------- expansion

def _act_prims(name, act, alpha):
    if act == "none":
        return []
    cfg = {"alpha": alpha} if act == "leaky_relu" else {}
    return [Prim(name + ".act", act, cfg, [])]


def _block_conv(b, conv, ptype, cfg, act, alpha, bn):
    """A block convolution `<b>.<conv>` followed by `<b>.<conv>_bn` and `<b>.<conv>.act`."""
    name = f"{b}.{conv}"
    out = [Prim(name, ptype, cfg, [])]
    if bn:
        out.append(Prim(f"{b}.{conv}_bn", "batch_norm", {"eps": 1e-5, "momentum": 0.1}, []))
    return out + _act_prims(name, act, alpha)


def _conv_cfg(filters, kernel, stride=1, padding="valid", groups=1, bias=True):
    return {"filters": filters, "kernel": pair(kernel, "kernel"), "stride": pair(stride, "stride"),
            "padding": padding, "groups": groups, "bias": bias}


def _dw_cfg(kernel, stride=1, padding="same", dm=1, bias=True):
    return {"kernel": pair(kernel, "kernel"), "stride": pair(stride, "stride"), "padding": padding,
            "depth_multiplier": dm, "bias": bias}


def expand_block(name, t, c):
    """Composite block -> primitive list (inputs left empty: they chain)."""
    act, alpha, bn, bias = c["activation"], c["alpha"], c["batch_norm"], c["bias"]
    if t == "effnet_block":
        dm = c["depth_multiplier"]
        p = _block_conv(name, "conv1", "conv2d", _conv_cfg(c["ch_mid"], 1, bias=bias), act, alpha, bn)
        p += _block_conv(name, "dw1", "depthwise_conv2d", _dw_cfg([1, 3], dm=dm, bias=bias), act, alpha, bn)
        p.append(Prim(f"{name}.pool", "max_pool2d",
                      {"pool": (2, 1), "stride": (2, 1), "padding": "valid"}, []))
        p += _block_conv(name, "dw2", "depthwise_conv2d", _dw_cfg([3, 1], dm=dm, bias=bias), act, alpha, bn)
        p += _block_conv(name, "conv2", "conv2d",
                         _conv_cfg(c["ch_out"], [2, 1], [1, 2], "same", bias=bias), act, alpha, bn)
        if c["dropout"]:
            p.append(Prim(f"{name}.drop", "dropout", {"rate": c["dropout"]}, []))
        return p
    if t == "mobilenet_block":
        p = _block_conv(name, "dw", "depthwise_conv2d", _dw_cfg(3, c["stride"], bias=bias), act, alpha, bn)
        return p + _block_conv(name, "pw", "conv2d", _conv_cfg(c["filters"], 1, bias=bias), act, alpha, bn)
    if t == "shuffle_unit":
        g = c["groups"]
        p = _block_conv(name, "gconv1", "conv2d", _conv_cfg(c["ch_mid"], 1, groups=g, bias=bias),
                        act, alpha, bn)
        p.append(Prim(f"{name}.shuffle", "channel_shuffle", {"groups": g}, []))
        p += _block_conv(name, "dw", "depthwise_conv2d", _dw_cfg(3, c["stride"], bias=bias), "none", alpha, bn)
        return p + _block_conv(name, "gconv2", "conv2d", _conv_cfg(c["filters"], 1, groups=g, bias=bias),
                               act, alpha, bn)
    raise AssertionError(t)


def expand_layer(name, t, cfg):
    """One YAML layer (not a block) -> its primitive plus its optional `.act`."""
    cfg = dict(cfg)
    act, alpha = cfg.pop("activation", "none"), cfg.pop("alpha", 0.01)
    if t in ("conv2d", "depthwise_conv2d"):
        cfg["kernel"] = pair(cfg["kernel"], f"{name}: kernel")
        cfg["stride"] = pair(cfg["stride"], f"{name}: stride")
        cfg["padding"] = check_padding(cfg["padding"], f"{name}: padding")
    elif t in ("max_pool2d", "avg_pool2d"):
        cfg["pool"] = pair(cfg["pool"], f"{name}: pool")
        cfg["stride"] = cfg["pool"] if cfg["stride"] is None else pair(cfg["stride"], f"{name}: stride")
        cfg["padding"] = check_padding(cfg["padding"], f"{name}: padding")
    elif t in ("leaky_relu", "elu"):
        cfg["alpha"] = alpha
    if t in ("add", "concat"):
        cfg.pop("inputs")
    return [Prim(name, t, cfg, [])] + _act_prims(name, act, alpha)


def expand(spec):
    """Model spec (dict from YAML) -> list of Prim with resolved input names.

    The model input is the pseudo-layer INPUT. A layer name used as an input refers to the last
    primitive of that layer's expansion."""
    if not isinstance(spec, dict):
        raise SpecError("model: expected a mapping")
    for k in spec:
        if k not in TOP_KEYS:
            raise SpecError(f"{k}: unknown key")
    layers = spec.get("layers")
    if not isinstance(layers, list) or not layers:
        raise SpecError("layers: expected a non-empty list")
    alias, prims, prev = {}, [], INPUT
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or "name" not in layer:
            raise SpecError(f"layers[{i}]: expected a mapping with a name")
        name = layer["name"]
        if name in alias:
            raise SpecError(f"{name}: name: duplicate layer name")
        t = layer.get("type")
        cfg = with_defaults(layer, name)
        if t in ("add", "concat"):
            refs = layer["inputs"]
            if not isinstance(refs, list) or len(refs) < 2:
                raise SpecError(f"{name}: inputs: expected >= 2 layer names (got {refs})")
        else:
            refs = [layer["input"]] if "input" in layer else None
        if refs is not None:
            for r in refs:
                if r not in alias:
                    raise SpecError(f"{name}: input: not an earlier layer (got {r})")
            first_inputs = [alias[r] for r in refs]
        else:
            first_inputs = [prev]
        if t in ("effnet_block", "mobilenet_block", "shuffle_unit"):
            group = expand_block(name, t, cfg)
        else:
            group = expand_layer(name, t, cfg)
        group[0].inputs = first_inputs
        for a, b in zip(group, group[1:]):
            b.inputs = [a.name]
        prims += group
        prev = alias[name] = group[-1].name
    return prims


def load_spec(path):
    with open(path) as f:
        return yaml.safe_load(f)


# ---------------------------------------------------------------------------- modules

def _register(root, dotted, module):
    """Places module at a dotted path, creating plain container modules on the way."""
    parts = dotted.split(".")
    parent = root
    for p in parts[:-1]:
        if p not in parent._modules:
            parent.add_module(p, nn.Module())
        parent = parent._modules[p]
    parent.add_module(parts[-1], module)


def _to4d(x):
    return x if x.dim() == 4 else x.reshape(x.shape[0], -1, 1, 1)


def _pool_counts(h, w, pads, k, s, like):
    ones = torch.ones(1, 1, h, w, dtype=like.dtype)
    ones = F.pad(ones, pads)
    return F.avg_pool2d(ones, k, s, divisor_override=1)


class SteerNet(nn.Module):
    """The reference network. self.steps: (name, fn, input names, Shape) in execution order."""

    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        inp = spec.get("input") or {}
        try:
            self.in_hwc = (int(inp["height"]), int(inp["width"]), int(inp["channels"]))
        except (KeyError, TypeError, ValueError):
            raise SpecError("input: expected {height, width, channels}")
        self.prims = expand(spec)
        self.shapes = {INPUT: Shape(self.in_hwc[2], self.in_hwc[0], self.in_hwc[1])}
        self.steps = []
        for p in self.prims:
            ins = [self.shapes[n] for n in p.inputs]
            fn, out = self._build(p, ins)
            if out.h < 1 or out.w < 1 or out.c < 1:
                raise SpecError(f"{p.name}: shape: output {out.hwc()} is empty (input {ins[0].hwc()})")
            self.shapes[p.name] = out
            self.steps.append((p.name, fn, p.inputs, out))
        self.out_shape = self.steps[-1][3]

    # -- builders: each returns (fn(list of tensors) -> tensor, output Shape)
    def _build(self, p, ins):
        return getattr(self, "_b_" + p.type)(p, p.cfg, ins)

    def _spatial_window(self, p, s, k, st, pad):
        t, b, o_h = resolve_padding(pad, s.h, k[0], st[0], 0)
        l, r, o_w = resolve_padding(pad, s.w, k[1], st[1], 1)
        if o_h < 1 or o_w < 1:
            raise SpecError(f"{p.name}: shape: input {s.hwc()} too small for window {list(k)}")
        return (l, r, t, b), o_h, o_w

    def _b_conv2d(self, p, c, ins):
        s = ins[0]
        g = c["groups"]
        if s.c % g or c["filters"] % g:
            raise SpecError(f"{p.name}: groups: must divide {s.c} and {c['filters']} (got {g})")
        pads, oh, ow = self._spatial_window(p, s, c["kernel"], c["stride"], c["padding"])
        conv = nn.Conv2d(s.c, c["filters"], c["kernel"], c["stride"], groups=g, bias=c["bias"])
        _register(self, p.name, conv)
        return (lambda xs: conv(F.pad(_to4d(xs[0]), pads))), Shape(c["filters"], oh, ow)

    def _b_depthwise_conv2d(self, p, c, ins):
        s = ins[0]
        cout = s.c * c["depth_multiplier"]
        pads, oh, ow = self._spatial_window(p, s, c["kernel"], c["stride"], c["padding"])
        conv = nn.Conv2d(s.c, cout, c["kernel"], c["stride"], groups=s.c, bias=c["bias"])
        _register(self, p.name, conv)
        return (lambda xs: conv(F.pad(_to4d(xs[0]), pads))), Shape(cout, oh, ow)

    def _b_max_pool2d(self, p, c, ins):
        pads, oh, ow = self._spatial_window(p, ins[0], c["pool"], c["stride"], c["padding"])
        k, st = c["pool"], c["stride"]
        return (lambda xs: F.max_pool2d(F.pad(_to4d(xs[0]), pads, value=-math.inf), k, st)), \
            Shape(ins[0].c, oh, ow)

    def _b_avg_pool2d(self, p, c, ins):
        s = ins[0]
        pads, oh, ow = self._spatial_window(p, s, c["pool"], c["stride"], c["padding"])
        k, st = c["pool"], c["stride"]

        l, r, t, b = pads
        if t == b and l == r and 2 * t <= k[0] and 2 * l <= k[1]:  # PyTorch's own padding
            return (lambda xs: F.avg_pool2d(_to4d(xs[0]), k, st, padding=(t, l),
                                            count_include_pad=c["count_pad"])), Shape(s.c, oh, ow)

        def f(xs):
            x = _to4d(xs[0])
            if c["count_pad"]:  # zeros padded in: every window divides by its size
                return F.avg_pool2d(F.pad(x, pads), k, st)
            sums = F.avg_pool2d(F.pad(x, pads), k, st, divisor_override=1)
            return sums / _pool_counts(s.h, s.w, pads, k, st, x)
        return f, Shape(s.c, oh, ow)

    def _b_global_avg_pool(self, p, c, ins):
        return (lambda xs: _to4d(xs[0]).mean((2, 3), keepdim=True)), Shape(ins[0].c, 1, 1)

    def _b_batch_norm(self, p, c, ins):
        s = ins[0]
        bn = (nn.BatchNorm1d if s.flat else nn.BatchNorm2d)(s.c, eps=c["eps"], momentum=c["momentum"])
        _register(self, p.name, bn)
        return (lambda xs: bn(xs[0])), s

    def _b_relu(self, p, c, ins):
        return (lambda xs: F.relu(xs[0])), ins[0]

    def _b_leaky_relu(self, p, c, ins):
        a = c["alpha"]
        return (lambda xs: F.leaky_relu(xs[0], a)), ins[0]

    def _b_pointwise(self, p, c, ins):
        """sigmoid, tanh, elu (alpha), clip [min, max]: F.hardtanh when both bounds are given (its
        gradient is 0 at the bounds, as the engine's), else torch.clamp on the one bound."""
        lo, hi, a = c.get("min"), c.get("max"), c.get("alpha")
        fn = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "elu": lambda x: F.elu(x, a),
              "clip": (lambda x: torch.clamp(x, min=lo, max=hi)) if lo is None or hi is None
              else (lambda x: F.hardtanh(x, float(lo), float(hi)))}[p.type]
        return (lambda xs: fn(xs[0])), ins[0]

    _b_sigmoid = _b_tanh = _b_elu = _b_clip = _b_pointwise

    def _b_softmax(self, p, c, ins):
        return (lambda xs: F.softmax(xs[0], dim=1)), ins[0]

    def _b_dense(self, p, c, ins):
        lin = nn.Linear(ins[0].size(), c["units"], bias=c["bias"])
        _register(self, p.name, lin)
        return (lambda xs: lin(torch.flatten(xs[0], 1))), Shape(c["units"], flat=True)

    def _b_flatten(self, p, c, ins):
        s = ins[0]
        src = s.src if s.flat else (s.c, s.h, s.w)
        return (lambda xs: torch.flatten(xs[0], 1)), Shape(s.size(), flat=True, src=src)

    def _b_dropout(self, p, c, ins):
        rate = c["rate"]
        if not (0 <= rate < 1):
            raise SpecError(f"{p.name}: rate: must be in [0, 1) (got {rate})")
        return (lambda xs: F.dropout(xs[0], rate, self.training)), ins[0]

    def _b_channel_shuffle(self, p, c, ins):
        s, g = ins[0], c["groups"]
        if s.c % g:
            raise SpecError(f"{p.name}: groups: must divide channels {s.c} (got {g})")

        def f(xs):
            x = xs[0]
            n, ch = x.shape[0], x.shape[1]
            rest = x.shape[2:]
            return x.reshape(n, g, ch // g, *rest).transpose(1, 2).reshape(x.shape)
        return f, s

    def _b_add(self, p, c, ins):
        if any((s.c, s.h, s.w) != (ins[0].c, ins[0].h, ins[0].w) for s in ins):
            raise SpecError(f"{p.name}: inputs: shapes differ {[s.hwc() for s in ins]}")

        def f(xs):
            if len({x.dim() for x in xs}) > 1:
                xs = [_to4d(x) for x in xs]
            out = xs[0]
            for x in xs[1:]:
                out = out + x
            return out
        return f, ins[0]

    def _b_concat(self, p, c, ins):
        if any((s.h, s.w) != (ins[0].h, ins[0].w) for s in ins):
            raise SpecError(f"{p.name}: inputs: height/width differ {[s.hwc() for s in ins]}")
        total = sum(s.c for s in ins)
        flat = all(s.flat for s in ins)

        def f(xs):
            if len({x.dim() for x in xs}) > 1:
                xs = [_to4d(x) for x in xs]
            return torch.cat(xs, 1)
        return f, Shape(total, ins[0].h, ins[0].w, flat=flat)

    # -- forward
    def forward(self, x):
        """x: [N, C, H, W] -> output of the last primitive (NCHW or [N, F])."""
        vals = {INPUT: x}
        for name, fn, inputs, _ in self.steps:
            vals[name] = fn([vals[i] for i in inputs])
        return vals[self.steps[-1][0]]


# ---------------------------------------------------------------------------- conventions

def to_nhwc_rows(y, shape):
    """Torch output -> the engine's [N, outputs] rows in NHWC order."""
    n = y.shape[0]
    if y.dim() == 4:
        return y.permute(0, 2, 3, 1).reshape(n, -1)
    if shape.src is not None:
        c, h, w = shape.src
        return y.reshape(n, c, h, w).permute(0, 2, 3, 1).reshape(n, -1)
    return y.reshape(n, -1)


def build(spec_or_path):
    spec = load_spec(spec_or_path) if isinstance(spec_or_path, str) else spec_or_path
    return SteerNet(spec).eval()


def tensor_names(model):
    """{name: shape} of every tensor a weights file must hold (num_batches_tracked excluded)."""
    return {k: tuple(v.shape) for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}


def random_weights(model, rng):
    """Random float32 weights in PyTorch layouts: He-uniform conv/dense weights, small biases,
    non-trivial BatchNorm affine parameters and running statistics."""
    out = {}
    for k, shape in tensor_names(model).items():
        if k.endswith("running_mean"):
            v = rng.uniform(-0.3, 0.3, shape)
        elif k.endswith("running_var"):
            v = rng.uniform(0.5, 2.0, shape)
        elif len(shape) == 1 and _is_bn_param(model, k):
            v = rng.uniform(0.5, 1.5, shape) if k.endswith("weight") else rng.uniform(-0.3, 0.3, shape)
        elif k.endswith("bias"):
            v = rng.uniform(-0.2, 0.2, shape)
        else:
            fan_in = int(np.prod(shape[1:]))
            v = rng.uniform(-1, 1, shape) * math.sqrt(6.0 / fan_in)
        out[k] = v.astype(np.float32)
    return out


def _is_bn_param(model, key):
    mod = model.get_submodule(key.rsplit(".", 1)[0])
    return isinstance(mod, nn.modules.batchnorm._BatchNorm)


def load_weights(model, tensors):
    """Loads {name: ndarray}; the name set must equal tensor_names(model) exactly."""
    want = tensor_names(model)
    missing = sorted(set(want) - set(tensors))
    extra = sorted(set(tensors) - set(want))
    if missing or extra:
        raise SpecError(f"weights: missing {missing} extra {extra}")
    sd = model.state_dict()
    for k, v in tensors.items():
        if tuple(v.shape) != want[k]:
            raise SpecError(f"weights: {k}: shape {tuple(v.shape)} != {want[k]}")
        sd[k] = torch.from_numpy(np.asarray(v)).to(sd[k].dtype)
    model.load_state_dict(sd)


def reference(model, tensors, x_nhwc):
    """float64 forward of x [N, H, W, C] with the given weights -> [N, outputs] float64 ndarray."""
    m = model.double().eval()
    load_weights(m, {k: np.asarray(v, np.float64) for k, v in tensors.items()})
    x = torch.from_numpy(np.asarray(x_nhwc, np.float64)).permute(0, 3, 1, 2).contiguous()
    with torch.no_grad():
        y = m(x)
    return to_nhwc_rows(y, model.out_shape).numpy()


# ---------------------------------------------------------------------------- cost counters

def count_params(model):
    """(total, trainable): total counts every stored tensor element (BN: 4 per channel,
    num_batches_tracked excluded); trainable = nn.Parameters (no running stats)."""
    total = sum(int(np.prod(s)) for s in tensor_names(model).values())
    trainable = sum(p.numel() for p in model.parameters())
    return total, trainable


def count_macs(model):
    """Multiply-adds per sample of Conv2d (incl. depthwise) and Linear modules, measured with
    forward hooks on a batch-1 forward pass: conv out_h*out_w*out_c*(in_c/groups)*kh*kw,
    dense in*out. Returns (total, {module name: macs})."""
    per = {}

    def hook(name):
        def f(mod, inp, out):
            if isinstance(mod, nn.Conv2d):
                kh, kw = mod.kernel_size
                per[name] = out[0].numel() * (mod.in_channels // mod.groups) * kh * kw
            else:
                per[name] = mod.in_features * mod.out_features
        return f

    handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        h, w, c = model.in_hwc
        dtype = next((p.dtype for p in model.parameters()), torch.float32)
        with torch.no_grad():
            model.eval()(torch.zeros(1, c, h, w, dtype=dtype))
    finally:
        for hd in handles:
            hd.remove()
    return sum(per.values()), per
