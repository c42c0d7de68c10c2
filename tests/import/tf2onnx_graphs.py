"""tf2onnx_graphs.py — hand-built ONNX graphs in the shapes tf2onnx writes for Keras models (tf2onnx
itself needs TensorFlow, which is not installable here), for check_onnx.py: an NHWC input behind
Transpose [0, 3, 1, 2], Transpose pairs left around element-wise ops, Identity chains, TF 'SAME'
convolutions as asymmetric pads (stride 2: the extra cell at the bottom / right) or auto_pad,
HWIO kernels transposed by a Transpose of the initializer, MatMul + Add for Dense, a Reshape whose
shape is computed by Shape -> Gather -> Unsqueeze -> Concat, Flatten / Reshape of NHWC tensors
(features in H, W, C order), ReduceMean / GlobalAveragePool with Squeeze / Unsqueeze, dynamic
batch dimensions named, unnamed or static 1, at opsets 11, 13, 15 and 17.

The oracle is `evaluate`: a direct numpy / float64 reading of the ONNX operator definitions
(onnx.ai/onnx/operators) for the operators these graphs use (python3-onnx 1.12 has no
onnx.reference), run on the same model file that is imported, so float16 or float_data variants
are judged against their own stored weights. `refusals()` are the new unsupported patterns and
malformed files: (name, model, words the one-line error must hold).
"""
import numpy as np
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper


# ---------------------------------------------------------------- the oracle

def _axes(node, ins, idx, attrs):
    if len(ins) > idx and ins[idx] is not None:
        return [int(a) for a in ins[idx]]
    return list(attrs.get("axes", []))


def _conv(x, w, b, a):
    kh, kw = w.shape[2:]
    sh, sw = a.get("strides", [1, 1])
    if a.get("auto_pad", b"NOTSET") in (b"SAME_UPPER", "SAME_UPPER"):
        ph = max((-(-x.shape[2] // sh) - 1) * sh + kh - x.shape[2], 0)
        pw = max((-(-x.shape[3] // sw) - 1) * sw + kw - x.shape[3], 0)
        pads = [ph // 2, pw // 2, ph - ph // 2, pw - pw // 2]
    else:
        pads = a.get("pads", [0, 0, 0, 0])
    t = F.pad(torch.from_numpy(x), (pads[1], pads[3], pads[0], pads[2]))
    y = F.conv2d(t, torch.from_numpy(w), None if b is None else torch.from_numpy(b), stride=(sh, sw),
                 groups=a.get("group", 1))
    return y.numpy()


def _reshape(x, shape, allowzero):
    s = [int(v) for v in shape]
    s = [x.shape[i] if v == 0 and not allowzero else v for i, v in enumerate(s)]
    return x.reshape(s)


def _node(op, a, ins):
    x = ins[0]
    if op in ("Identity", "Dropout"):
        return x
    if op == "Transpose":
        return np.transpose(x, a.get("perm", None))
    if op == "Conv":
        return _conv(x, ins[1], ins[2] if len(ins) > 2 else None, a)
    if op == "Relu":
        return np.maximum(x, 0)
    if op == "MatMul":
        return x @ ins[1]
    if op == "Add":
        return x + ins[1]
    if op == "Gemm":
        b = ins[1].T if a.get("transB", 0) else ins[1]
        return x @ b + (ins[2] if len(ins) > 2 else 0)
    if op == "Shape":
        return np.array(x.shape, np.int64)
    if op == "Gather":
        return np.take(x, ins[1], axis=a.get("axis", 0))
    if op == "Unsqueeze":
        for ax in sorted(_axes(None, ins, 1, a)):
            x = np.expand_dims(x, ax)
        return x
    if op == "Squeeze":
        ax = _axes(None, ins, 1, a)
        return np.squeeze(x, tuple(ax)) if ax else np.squeeze(x)
    if op == "Concat":
        return np.concatenate(ins, axis=a["axis"])
    if op == "Reshape":
        return _reshape(x, ins[1], a.get("allowzero", 0))
    if op == "Flatten":
        ax = a.get("axis", 1)
        return x.reshape(int(np.prod(x.shape[:ax])), -1)
    if op == "GlobalAveragePool":
        return x.mean(axis=(2, 3), keepdims=True)
    if op == "ReduceMean":
        return x.mean(axis=tuple(_axes(None, ins, 1, a)), keepdims=bool(a.get("keepdims", 1)))
    if op == "BatchNormalization":
        sh = (1, -1) + (1,) * (x.ndim - 2)
        s, b, m, v = (t.reshape(sh) for t in ins[1:5])
        return (x - m) / np.sqrt(v + a.get("epsilon", 1e-5)) * s + b
    if op == "Softmax":
        e = np.exp(x - x.max(axis=a.get("axis", -1), keepdims=True))
        return e / e.sum(axis=a.get("axis", -1), keepdims=True)
    raise ValueError(f"oracle: no operator {op}")


def evaluate(model, x):
    """Runs the graph on x (float64) and returns its single output."""
    env = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    env = {k: v.astype(np.float64) if v.dtype.kind == "f" else v.astype(np.int64) for k, v in env.items()}
    env[model.graph.input[0].name] = x.astype(np.float64)
    for n in model.graph.node:
        a = {at.name: helper.get_attribute_value(at) for at in n.attribute}
        if n.op_type == "Constant":
            env[n.output[0]] = numpy_helper.to_array(a["value"]).astype(np.int64)
            continue
        env[n.output[0]] = _node(n.op_type, a, [env[i] if i else None for i in n.input])
    return env[model.graph.output[0].name]


# ---------------------------------------------------------------- the graphs

def _model(nodes, inits, in_shape, opset):
    g = helper.make_graph(nodes, "tf2onnx", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(g, producer_name="tf2onnx", opset_imports=[helper.make_opsetid("", opset)])


def _w(rng, *shape, s=0.3):
    # float16-representable, so the float16 variant stores exactly these weights
    return (rng.standard_normal(shape) * s).astype(np.float16).astype(np.float32)


def _t(name, src, dst, perm):
    return helper.make_node("Transpose", [src], [dst], perm=perm, name=name)


def _axes_in(opset, name, axes):
    """Squeeze / Unsqueeze axes: an attribute before opset 13, an input from 13 on."""
    return ({"axes": axes}, []) if opset < 13 else ({}, [name])


def cnn(rng, opset=13):
    """Conv (HWIO kernel, SAME stride 2 = pads [0, 0, 1, 1]) -> NHWC Relu between a Transpose pair ->
    Identity chain -> 1x1 Conv -> NHWC -> Reshape [Shape[0], -1] (Shape->Gather->Unsqueeze->Concat)
    -> MatMul + Add -> Relu -> MatMul + Add (bias first). Input [unk__0, 12, 10, 3]."""
    uk, ua = _axes_in(opset, "ax0", [0])
    inits = {"k_hwio": _w(rng, 3, 3, 3, 8), "b1": _w(rng, 8, s=0.1), "w2": _w(rng, 6, 8, 1, 1),
             "b2": _w(rng, 6, s=0.1), "idx0": np.array(0, np.int64), "minus1": np.array([-1], np.int64),
             "d1": _w(rng, 6 * 5 * 6, 7, s=0.1), "db1": _w(rng, 7, s=0.1), "d2": _w(rng, 7, 3),
             "db2": _w(rng, 3, s=0.1)}
    if opset >= 13:
        inits["ax0"] = np.array([0], np.int64)
    nodes = [_t("input_nchw", "x", "t0", [0, 3, 1, 2]),
             _t("kernel_oihw", "k_hwio", "k", [3, 2, 0, 1]),
             helper.make_node("Conv", ["t0", "k", "b1"], ["c1"], strides=[2, 2], pads=[0, 0, 1, 1],
                              kernel_shape=[3, 3], name="conv1"),
             _t("conv1_nhwc", "c1", "c1t", [0, 2, 3, 1]),
             helper.make_node("Relu", ["c1t"], ["r1"], name="relu1"),
             helper.make_node("Identity", ["r1"], ["i1"], name="id1"),
             helper.make_node("Identity", ["i1"], ["i2"], name="id2"),
             _t("relu1_nchw", "i2", "r1t", [0, 3, 1, 2]),
             helper.make_node("Conv", ["r1t", "w2", "b2"], ["c2"], name="conv2"),
             _t("conv2_nhwc", "c2", "c2t", [0, 2, 3, 1]),
             helper.make_node("Shape", ["c2t"], ["shp"], name="flatten_shape"),
             helper.make_node("Gather", ["shp", "idx0"], ["n"], axis=0, name="flatten_gather"),
             helper.make_node("Unsqueeze", ["n"] + ua, ["n1"], name="flatten_unsqueeze", **uk),
             helper.make_node("Concat", ["n1", "minus1"], ["shape"], axis=0, name="flatten_concat"),
             helper.make_node("Reshape", ["c2t", "shape"], ["f"], name="flatten"),
             helper.make_node("MatMul", ["f", "d1"], ["m1"], name="dense1"),
             helper.make_node("Add", ["m1", "db1"], ["a1"], name="dense1_bias"),
             helper.make_node("Relu", ["a1"], ["r2"], name="relu2"),
             helper.make_node("MatMul", ["r2", "d2"], ["m2"], name="dense2"),
             helper.make_node("Add", ["db2", "m2"], ["y"], name="dense2_bias")]
    return _model(nodes, inits, ["unk__0", 12, 10, 3], opset), (12, 10, 3)


def gap_reduce(rng, opset):
    """Conv auto_pad SAME_UPPER stride 2 -> Transpose to NHWC -> ReduceMean axes [1, 2] keepdims ->
    Squeeze [1, 2] -> MatMul + Add -> Softmax. Input batch unnamed."""
    sk, sa = _axes_in(opset, "ax12", [1, 2])
    inits = {"w": _w(rng, 6, 4, 3, 3), "b": _w(rng, 6, s=0.1), "d": _w(rng, 6, 5), "db": _w(rng, 5, s=0.1)}
    if opset >= 13:
        inits["ax12"] = np.array([1, 2], np.int64)
    nodes = [_t("input_nchw", "x", "t0", [0, 3, 1, 2]),
             helper.make_node("Conv", ["t0", "w", "b"], ["c"], strides=[2, 2], auto_pad="SAME_UPPER", name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             _t("relu_nhwc", "r", "rt", [0, 2, 3, 1]),
             helper.make_node("ReduceMean", ["rt"], ["gm"], axes=[1, 2], keepdims=1, name="gap"),
             helper.make_node("Squeeze", ["gm"] + sa, ["s"], name="gap_squeeze", **sk),
             helper.make_node("MatMul", ["s", "d"], ["m"], name="dense"),
             helper.make_node("Add", ["m", "db"], ["a"], name="dense_bias"),
             helper.make_node("Softmax", ["a"], ["y"], axis=1 if opset < 13 else -1, name="softmax")]
    return _model(nodes, inits, [None, 9, 9, 4], opset), (9, 9, 4)


def squeeze_excite(rng, opset):
    """GlobalAveragePool -> Squeeze (no axes) -> Unsqueeze [2, 3] -> 1x1 Conv -> Relu -> Add with the
    pooled tensor (ReduceMean axes [2, 3] keepdims) -> Flatten -> Gemm transB. Static batch 1."""
    uk, ua = _axes_in(opset, "ax23", [2, 3])
    inits = {"w": _w(rng, 5, 3, 3, 3), "w2": _w(rng, 5, 5, 1, 1), "b2": _w(rng, 5, s=0.1),
             "g": _w(rng, 4, 5), "gb": _w(rng, 4, s=0.1)}
    if opset >= 13:
        inits["ax23"] = np.array([2, 3], np.int64)
    nodes = [_t("input_nchw", "x", "t0", [0, 3, 1, 2]),
             helper.make_node("Conv", ["t0", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("GlobalAveragePool", ["c"], ["p"], name="pool"),
             helper.make_node("Squeeze", ["p"], ["s"], name="pool_squeeze"),
             helper.make_node("Unsqueeze", ["s"] + ua, ["u"], name="se_unsqueeze", **uk),
             helper.make_node("Conv", ["u", "w2", "b2"], ["e"], name="se_conv"),
             helper.make_node("Relu", ["e"], ["er"], name="se_relu"),
             helper.make_node("ReduceMean", ["c"], ["q"], axes=[2, 3], keepdims=1, name="mean"),
             helper.make_node("Add", ["er", "q"], ["sum"], name="se_add"),
             helper.make_node("Flatten", ["sum"], ["f"], axis=1, name="flatten"),
             helper.make_node("Gemm", ["f", "g", "gb"], ["y"], transB=1, name="head")]
    return _model(nodes, inits, [1, 7, 6, 3], opset), (7, 6, 3)


def flatten_nhwc(rng, opset):
    """Conv -> Transpose to NHWC -> Flatten (H, W, C order) -> BatchNormalization over the features
    (Keras BN after Flatten) -> Gemm transB. Input batch named N."""
    inits = {"w": _w(rng, 4, 2, 3, 3), "b": _w(rng, 4, s=0.1), "s": _w(rng, 80) + 1, "bb": _w(rng, 80, s=0.1),
             "m": _w(rng, 80, s=0.1), "v": np.abs(_w(rng, 80)) + 0.5, "g": _w(rng, 3, 80, s=0.1),
             "gb": _w(rng, 3, s=0.1)}
    nodes = [_t("input_nchw", "x", "t0", [0, 3, 1, 2]),
             helper.make_node("Conv", ["t0", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             _t("conv_nhwc", "c", "ct", [0, 2, 3, 1]),
             helper.make_node("Flatten", ["ct"], ["f"], axis=1, name="flatten"),
             helper.make_node("BatchNormalization", ["f", "s", "bb", "m", "v"], ["n"], epsilon=1e-3, name="bn"),
             helper.make_node("Gemm", ["n", "g", "gb"], ["y"], transB=1, name="head")]
    return _model(nodes, inits, ["N", 5, 4, 2], opset), (5, 4, 2)


def graphs(rng):
    """(name, model, input HWC)."""
    out = []
    for opset in (11, 13, 17):
        m, hwc = cnn(rng, opset)
        out.append((f"tf-cnn-opset{opset}", m, hwc))
    for opset in (11, 13, 17):
        m, hwc = gap_reduce(rng, opset)
        out.append((f"tf-gap-opset{opset}", m, hwc))
    for opset in (11, 17):
        m, hwc = squeeze_excite(rng, opset)
        out.append((f"tf-se-opset{opset}", m, hwc))
    m, hwc = flatten_nhwc(rng, 15)
    out.append(("tf-flatten-nhwc-opset15", m, hwc))
    return out


# ---------------------------------------------------------------- refusals

def refusals():
    """(name, model, words the one-line error must hold) for the patterns above used wrongly, and
    malformed graphs."""
    W = np.full((4, 3, 3, 3), 0.1, np.float32)
    conv = helper.make_node("Conv", ["t0", "w"], ["c"], name="conv")
    nchw = _t("input_nchw", "x", "t0", [0, 3, 1, 2])
    nhwc_in = ["N", 6, 6, 3]

    def g(nodes, inits=None, in_shape=None, opset=13):
        return _model(nodes, {"w": W, **(inits or {})}, in_shape or nhwc_in, opset)

    ax = {"ax23": np.array([2, 3], np.int64), "ax4": np.array([4], np.int64)}
    out = [
        ("squeeze_not_1x1", g([nchw, conv, helper.make_node("Squeeze", ["c", "ax23"], ["y"], name="sq")], ax),
         ["'sq'", "Squeeze", "axes", "4x4x4"]),
        ("unsqueeze_4d", g([nchw, conv, helper.make_node("Unsqueeze", ["c", "ax4"], ["y"], name="unsq")], ax),
         ["'unsq'", "Unsqueeze", "axes"]),
        ("unsqueeze_flattened", g([nchw, conv, helper.make_node("Flatten", ["c"], ["f"], name="fl"),
                                   helper.make_node("Unsqueeze", ["f", "ax23"], ["y"], name="unsq")], ax),
         ["'unsq'", "Unsqueeze", "flattened 4x4x4"]),
        ("squeeze_to_3d", g([nchw, conv, helper.make_node("GlobalAveragePool", ["c"], ["p"], name="gap"),
                             helper.make_node("Squeeze", ["p", "ax3"], ["s"], name="sq"),
                             helper.make_node("Relu", ["s"], ["y"], name="r")], {"ax3": np.array([3], np.int64)}),
         ["'r'", "Relu", "3-D"]),
        ("dropout_training", g([nchw, conv, helper.make_node("Dropout", ["c", "ratio", "train"], ["y"], name="drop")],
                               {"ratio": np.array(0.5, np.float32), "train": np.array(True)}),
         ["'drop'", "Dropout", "training_mode"]),
        ("fold_budget", g([helper.make_node("ConstantOfShape", ["big_shape"], ["big"], name="zeros"),
                           helper.make_node("Concat", ["big"] * 4, ["big4"], axis=0, name="cat4"), nchw, conv,
                           helper.make_node("Relu", ["c"], ["y"], name="r")],
                          {"big_shape": np.array([1024, 1024], np.int64)}), ["'cat4'", "Concat", "constant folding"]),
        ("bn_nhwc", g([nchw, conv, _t("to_nhwc", "c", "ct", [0, 2, 3, 1]),
                       helper.make_node("BatchNormalization", ["ct", "s", "b", "m", "v"], ["y"], name="bn")],
                      {k: np.ones(4, np.float32) for k in "sbmv"}), ["'bn'", "BatchNormalization", "NHWC"]),
        ("bn_training", g([nchw, conv, helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["y"],
                                                        training_mode=1, name="bn")],
                          {k: np.ones(4, np.float32) for k in "sbmv"}, opset=15),
         ["'bn'", "BatchNormalization", "training_mode"]),
        ("concat_hwc_flat", g([nchw, conv, _t("to_nhwc", "c", "ct", [0, 2, 3, 1]),
                               helper.make_node("Flatten", ["ct"], ["f1"], name="fl1"),
                               helper.make_node("Flatten", ["c"], ["f2"], name="fl2"),
                               helper.make_node("Concat", ["f1", "f2"], ["y"], axis=1, name="cat")]),
         ["'cat'", "Concat", "a flattened NHWC tensor"]),
        ("reducemean_channels", g([nchw, conv, helper.make_node("ReduceMean", ["c"], ["y"], axes=[1], name="rm")]),
         ["'rm'", "ReduceMean", "axes"]),
        ("transpose_twice_nhwc", g([nchw, conv, _t("a", "c", "ct", [0, 2, 3, 1]), _t("b", "ct", "y", [0, 2, 3, 1])]),
         ["'b'", "Transpose", "perm [0, 2, 3, 1]", "NHWC"]),
        # malformed graphs
        ("cyclic", g([nchw, helper.make_node("Add", ["t0", "b2"], ["a"], name="a"),
                      helper.make_node("Add", ["a", "t0"], ["b2"], name="b2"),
                      helper.make_node("Relu", ["b2"], ["y"], name="r")]), ["'a'", "input 1 'b2' is missing"]),
        ("used_before_defined", g([nchw, helper.make_node("Relu", ["c"], ["y"], name="early"), conv]),
         ["'early'", "input 0 'c' is missing"]),
        ("huge_input_dims", g([nchw, conv, helper.make_node("Relu", ["c"], ["y"], name="r")],
                              in_shape=["N", 1 << 40, 6, 3]), ["graph input 'x'", "dimension 1"]),
    ]
    m = g([nchw, conv, helper.make_node("Relu", ["c"], ["y"], name="r")])
    del m.graph.initializer[0].dims[:]
    m.graph.initializer[0].dims.extend([1 << 31, 1 << 31, 3, 3])
    out.append(("huge_initializer_dims", m, ["tensor 'w'", "too large"]))
    return out
