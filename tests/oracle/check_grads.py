#!/usr/bin/python3
"""check_grads.py — the training engine's gradients against PyTorch 1.13 autograd.

For each case (the forward case generators of check_layers.py, imported, plus a few training
cases of its own) it writes the model YAML, random float32 weights (PyTorch layouts), an input
batch X [N,H,W,C] and a random upstream gradient DY [N, outputs] (engine NHWC output order),
runs tests/grad_tool.c (one training-mode forward + backward of the C engine) and compares with
float64 PyTorch in training mode (batch norm on batch statistics, running statistics updated
with momentum; dropout with the engine's own mask, read back from grad_tool):

    L = sum(rows(model(X)) * DY)   ->  y, dL/dX, dL/dparam, running_mean/var after the step
    tolerance (every tensor):  max|engine - torch| / max(1e-3, max|torch|)  <=  1e-4   (--tol)

float32 engine vs float64 reference: 1e-4 leaves room for float32 summation over batch*H*W
(batch-norm statistics, weight gradients) while catching any wrong index or missing term. A
gradient that is analytically zero (a bias feeding a batch norm) is judged against the largest
parameter gradient of the case instead (compare()); batch-norm cases run with batch >= 4.
Cases with a final softmax go --through-softmax (dL/dy); the "logits mode" cases check the
default, where DY is dL/d(pre-softmax logits) and the softmax is skipped.
Output: one line per failure; last line exactly `N passed, N failed`; exit 1 on any failure.
Usage: check_grads.py --grad-tool PATH [--workdir DIR] [--filter SUBSTR] [--threads N] [--jobs N]
"""
import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_layers as cl  # noqa: E402
import oracle_common as oc  # noqa: E402
import st  # noqa: E402
import torchmodel as tm  # noqa: E402

TOL = 1e-4


def train_cases():
    """Cases specific to training: batch norm in several positions, dropout active, logits mode."""
    C = oc.Case
    m = cl.model
    yield C("train: conv -> bn -> relu -> dropout 0.5 -> dense", m([
        cl._conv("c", 6, padding="same"), {"name": "bn", "type": "batch_norm", "momentum": 0.3},
        {"name": "r", "type": "relu"}, {"name": "do", "type": "dropout", "rate": 0.5},
        {"name": "d", "type": "dense", "units": 4}], (5, 6, 3)), batch=3)
    yield C("train: dense -> bn1d -> leaky -> dropout 0.2 (last)", m([
        {"name": "d", "type": "dense", "units": 9}, {"name": "bn", "type": "batch_norm"},
        {"name": "r", "type": "leaky_relu", "alpha": 0.1},
        {"name": "do", "type": "dropout", "rate": 0.2}], (3, 4, 2)), batch=5)
    yield C("train: conv -> bn -> elu -> clip -> tanh -> dense -> sigmoid", m([
        cl._conv("c", 5, padding="same"), {"name": "bn", "type": "batch_norm"},
        {"name": "e", "type": "elu", "alpha": 0.6}, {"name": "k", "type": "clip", "min": -0.4, "max": 0.8},
        {"name": "t", "type": "tanh"}, {"name": "d", "type": "dense", "units": 3},
        {"name": "s", "type": "sigmoid"}], (5, 6, 3)), batch=4)
    yield C("train: effnet_block bn+dropout batch 4", m([
        {"name": "b1", "type": "effnet_block", "ch_mid": 6, "ch_out": 8, "batch_norm": True,
         "dropout": 0.3}], (8, 9, 4)), batch=4)
    yield C("logits mode: dense -> softmax", m([
        {"name": "d", "type": "dense", "units": 5}, {"name": "s", "type": "softmax"}], (3, 4, 2)))
    yield C("logits mode: conv -> flatten -> dense softmax", m([
        cl._conv("c", 3), {"name": "f", "type": "flatten"},
        {"name": "d", "type": "dense", "units": 6, "activation": "softmax"}], (5, 5, 2)), batch=3)


def all_cases():
    """Every forward case of check_layers.py (float32 input), batch >= 4 when the model has a batch
    norm (batch statistics of 2 samples make dL/dx an ill-conditioned cancellation), plus ours."""
    for gen in (cl.conv_cases, cl.depthwise_cases, cl.pool_cases, cl.norm_act_cases, cl.dense_cases,
                cl.shuffle_cases, cl.graph_cases, cl.block_cases, cl.hazard_cases, cl.size_cases, train_cases):
        for c in gen():
            if c.x_dtype != "<f4":
                continue
            if "batch_norm" in repr(c.spec) and c.batch < 4:
                c = dataclasses.replace(c, batch=4)
            yield c


def engine_to_torch(a, shape):
    """[N, size] in engine order -> the torch tensor layout of a value of this Shape."""
    n = a.shape[0]
    if not shape.flat:
        return a.reshape(n, shape.h, shape.w, shape.c).permute(0, 3, 1, 2)
    if shape.src is not None:
        c, h, w = shape.src
        return a.reshape(n, h, w, c).permute(0, 3, 1, 2).reshape(n, -1)
    return a.reshape(n, -1)


def reference(case, masks, dy):
    """float64 torch, training mode: (y rows, dx NHWC, {grad name: array}, {buffer: array})."""
    net = tm.build(case.spec).double().train()
    tensors = st.load(case.files["weights"])[0]
    tm.load_weights(net, {k: np.asarray(v, np.float64) for k, v in tensors.items()})
    x_np = np.load(case.files["input"]).astype(np.float64)
    x = torch.from_numpy(x_np).permute(0, 3, 1, 2).contiguous().requires_grad_(True)
    vals = {tm.INPUT: x}
    logits = case.name.startswith("logits mode")
    steps = net.steps[:-1] if logits else net.steps
    for name, fn, inputs, shape in steps:
        prim = next(p for p in net.prims if p.name == name)
        if prim.type == "dropout":
            mk = torch.from_numpy(masks[name].astype(np.float64))
            vals[name] = vals[inputs[0]] * engine_to_torch(mk, shape)
        else:
            vals[name] = fn([vals[i] for i in inputs])
    last = steps[-1]
    y = tm.to_nhwc_rows(vals[last[0]], last[3])
    loss = (y * torch.from_numpy(dy.astype(np.float64))).sum()
    loss.backward()
    grads = {k: p.grad.numpy() for k, p in net.named_parameters()}
    bufs = {k: v.numpy() for k, v in net.state_dict().items() if "running" in k}
    y_full = tm.to_nhwc_rows(net.steps[-1][1]([vals[i] for i in net.steps[-1][2]]), net.out_shape) if logits else y
    return y_full.detach().numpy(), x.grad.permute(0, 2, 3, 1).numpy(), grads, bufs


def compare(what, got, ref, tol, scale=0.0):
    """Relative error against max|ref|; a tensor whose true value is (analytically) zero, like the
    gradient of a bias (or of a 1-channel 1x1 conv) feeding a batch norm (max|ref| < 1e-4 scale),
    is judged against `scale`, the largest max|ref| of the case's parameter gradients (float32
    leaves rounding noise there)."""
    got = np.asarray(got, np.float64)
    if got.shape != ref.shape:
        return f"{what}: shape {list(got.shape)} != {list(ref.shape)}"
    if not np.all(np.isfinite(got)):
        return f"{what}: non-finite values"
    top = float(np.max(np.abs(ref))) if ref.size else 0.0
    den = scale if top < 1e-4 * scale else max(1e-3, top)
    err = float(np.max(np.abs(got - ref))) / den if ref.size else 0.0
    if not err <= tol:
        i = np.unravel_index(np.argmax(np.abs(got - ref)), ref.shape)
        return f"{what}: rel err {err:.3g} > {tol:g} (at {list(map(int, i))}: engine {got[i]:.7g} torch {ref[i]:.7g})"
    return None


def run_case(tool, case, idx, a):
    threads = a.threads if a.threads else 1 + idx % 2
    name = f"{case.name} threads={threads}"
    try:
        oc.prepare(case, a.workdir, idx)
        d = os.path.dirname(case.files["input"])
        net = tm.build(case.spec)
        outs = net.out_shape.size()
        rng = np.random.default_rng(oc.seed_of(case.name) + 1)
        dy = rng.standard_normal((case.batch, outs)).astype(np.float32)
        dy_path = os.path.join(d, "dy.npy")
        np.save(dy_path, dy)
        cmd = [tool, case.files["model"], case.files["weights"], case.files["input"], dy_path, d,
               "--threads", str(threads)]
        logits = case.name.startswith("logits mode")
        if not logits:
            cmd.append("--through-softmax")
        else:
            dy = rng.standard_normal((case.batch, net.steps[-2][3].size())).astype(np.float32)
            np.save(dy_path, dy)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=oc.RUN_TIMEOUT_S)
        if proc.returncode != 0:
            return name, f"grad_tool exit {proc.returncode}: {proc.stderr.strip()[:300]}"
        masks = {p.name: np.load(os.path.join(d, f"mask_{p.name}.npy")) for p in net.prims if p.type == "dropout"}
        y_ref, dx_ref, g_ref, b_ref = reference(case, masks, dy)
        errs = [compare("y", np.load(os.path.join(d, "y.npy")), y_ref, a.tol),
                compare("dx", np.load(os.path.join(d, "dx.npy")), dx_ref, a.tol)]
        grads = st.load(os.path.join(d, "grads.safetensors"))[0]
        if set(grads) != set(g_ref):
            errs.append(f"grad names {sorted(grads)} != {sorted(g_ref)}")
        else:
            scale = max([float(np.max(np.abs(v))) for v in g_ref.values() if v.size] + [1e-3])
            errs += [compare("d " + k, grads[k], g_ref[k], a.tol, scale) for k in sorted(g_ref)]
        state = st.load(os.path.join(d, "state.safetensors"))[0]
        errs += [compare(k + " after step", state[k], b_ref[k], a.tol) for k in sorted(b_ref)]
        errs = [e for e in errs if e]
        return name, "; ".join(errs) if errs else None
    except Exception as e:  # an oracle bug is a failure too
        return name, f"oracle error: {type(e).__name__}: {e}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--grad-tool", required=True)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "steerd-oracle-grads"))
    ap.add_argument("--filter", default="")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--tol", type=float, default=TOL)
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.workdir, exist_ok=True)
    cases = [c for c in all_cases() if a.filter in c.name]
    with ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        results = list(pool.map(lambda ic: run_case(a.grad_tool, ic[1], ic[0], a), enumerate(cases)))
    return 1 if oc.report(results) else 0


if __name__ == "__main__":
    sys.exit(main())
