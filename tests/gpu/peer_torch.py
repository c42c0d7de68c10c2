#!/usr/bin/env python3
"""peer_torch.py — the PyTorch peer of tests/gpu/device-check.sh, on the same GPU in the same run.

Builds the model from its YAML with tests/oracle/torchmodel.py and loads the same safetensors
weights steerctl runs, float32 with TF32 off (cuDNN and matmul), as the engine computes.
  --mode infer: each timed pass is what `steerctl bench --backend cuda` times: a pinned host
    batch [B, C, H, W] copied to the GPU, the forward pass, the output copied back (which waits).
    Variants: eager (contiguous and channels_last, the faster reported), and with --compile
    torch.compile(mode="reduce-overhead") (Inductor + CUDA graphs) where it works.
  --mode train: R full training steps on one fixed random batch on the GPU (train() mode, Adam
    lr 1e-3, cross-entropy on the softmax output for class models, MSE for steering), timed with
    a synchronize per step.
Prints one JSON line per model, batch and variant: {"peer": "torch", "model", "mode", "variant", "batch",
"median_us", "p99_us", "images_per_s"} (or {"peer": "torch", ..., "error": "..."} when a variant
fails). Timing only; no tolerance applies. Exit status 1 when any run gave an error (each named
on stderr: model, variant, batch), so the device check counts the step as failed; else 0.
"""
import argparse
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "oracle"))


def pct(sorted_vals, q):
    return sorted_vals[min(len(sorted_vals) - 1, max(0, math.ceil(q * len(sorted_vals)) - 1))]


def timed(step, runs, warmup, max_s):
    for _ in range(warmup):
        step()
    times = []
    deadline = time.perf_counter() + max_s
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        step()
        times.append((time.perf_counter_ns() - t0) / 1e3)
        if time.perf_counter() > deadline and len(times) >= 10:
            break
    times.sort()
    return pct(times, 0.5), pct(times, 0.99)


FAILED = []  # "model variant batch" of every run that gave an error (main's exit status)


def emit(a, name, variant, batch, med=None, p99=None, error=None):
    rec = {"peer": "torch", "model": name, "mode": a.mode, "variant": variant, "batch": batch}
    if error is not None:
        rec["error"] = error[:300]
        FAILED.append(f"{name} {variant} batch {batch}")
    else:
        rec.update(median_us=round(med, 1), p99_us=round(p99, 1), images_per_s=round(batch * 1e6 / med, 1))
    print(json.dumps(rec), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+", help="model YAML files")
    ap.add_argument("--weights-dir", help="NAME.safetensors per model (default: PyTorch's init)")
    ap.add_argument("--mode", choices=["infer", "train"], default="infer")
    ap.add_argument("--batches", default="1", help="comma-separated batch sizes")
    ap.add_argument("--runs", default="500", help="runs per batch size (comma-separated, like --batches)")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--max-seconds", type=float, default=4.0)
    ap.add_argument("--compile", default="", help="comma-separated model names also timed with torch.compile")
    ap.add_argument("--device", default="cuda", help="cuda (the check) or cpu (a dry run of this script)")
    ap.add_argument("--skip-eager", action="store_true", help="infer: time only torch.compile (the check's last step)")
    a = ap.parse_args()
    import torch
    batches = [int(b) for b in a.batches.split(",")]
    runs = [int(r) for r in a.runs.split(",")]
    runs += [runs[-1]] * (len(batches) - len(runs))
    for path in a.models:
        name = os.path.splitext(os.path.basename(path))[0]
        weights = os.path.join(a.weights_dir, name + ".safetensors") if a.weights_dir else None
        for b, r in zip(batches, runs):
            try:
                run_one(a, torch, path, weights, b, r, name in a.compile.split(","))
            except Exception as e:  # noqa: BLE001 (one line per failure, then the next model)
                emit(a, name, "setup", b, error=repr(e))
            if a.device == "cuda":
                torch.cuda.empty_cache()


def run_one(a, torch, model_path, weights, batch, runs, use_compile):
    import torchmodel as tm
    import st

    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    dev = torch.device(a.device)
    spec = tm.load_spec(model_path)
    name = spec.get("name")
    torch.manual_seed(1)
    net = tm.build(spec).float()
    if weights:
        tensors, _ = st.load(weights)
        tm.load_weights(net, {k: v for k, v in tensors.items() if not k.endswith("num_batches_tracked")})
    net = net.to(dev)
    h, w, c = net.in_hwc
    x_host = torch.randn(batch, c, h, w, generator=torch.Generator().manual_seed(1))
    if dev.type == "cuda":
        x_host = x_host.pin_memory()

    if a.mode == "infer":
        net.eval()
        best = None
        variants = () if a.skip_eager else (("eager", torch.contiguous_format),
                                             ("eager_channels_last", torch.channels_last))
        for variant, mf in variants:
            m = net.to(memory_format=mf)

            def step(m=m, mf=mf):
                with torch.no_grad():
                    y = m(x_host.to(dev, non_blocking=True).contiguous(memory_format=mf))
                    return y.cpu()

            try:
                med, p99 = timed(step, runs, a.warmup, a.max_seconds)
            except Exception as e:  # noqa: BLE001 (report and go on)
                emit(a, name, variant, batch, error=repr(e))
                continue
            if best is None or med < best[1]:
                best = (variant, med, p99)
        if best:
            emit(a, name, "eager", batch, best[1], best[2])
        if use_compile:
            try:
                cm = torch.compile(net.to(memory_format=torch.contiguous_format), mode="reduce-overhead")

                def cstep():
                    with torch.no_grad():
                        return cm(x_host.to(dev, non_blocking=True)).cpu()

                med, p99 = timed(cstep, runs, max(a.warmup, 5), a.max_seconds)
                emit(a, name, "compile", batch, med, p99)
            except Exception as e:  # noqa: BLE001
                emit(a, name, "compile", batch, error=repr(e))
        return

    # training
    out_kind = (spec.get("output") or {}).get("kind", "classes")
    x = x_host.to(dev)
    with torch.no_grad():
        n_out = int(net.eval()(x[:1]).reshape(1, -1).shape[1])
    net.train()
    gen = torch.Generator().manual_seed(2)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if out_kind == "classes":
        n_cls = n_out
        target = torch.randint(0, n_cls, (batch,), generator=gen).to(dev)

        def loss_fn(y):
            return torch.nn.functional.nll_loss(torch.log(y.clamp_min(1e-30)), target)
    else:
        target = torch.rand(batch, n_out, generator=gen).to(dev) * 2 - 1

        def loss_fn(y):
            return torch.nn.functional.mse_loss(y.reshape(batch, -1), target)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def tstep():
        opt.zero_grad(set_to_none=True)
        loss_fn(net(x)).backward()
        opt.step()
        sync()

    try:
        med, p99 = timed(tstep, runs, a.warmup, a.max_seconds)
        emit(a, name, "eager", batch, med, p99)
    except Exception as e:  # noqa: BLE001
        emit(a, name, "eager", batch, error=repr(e))


if __name__ == "__main__":
    main()
    if FAILED:
        print(f"peer_torch: {len(FAILED)} run(s) failed: {', '.join(FAILED)}", file=sys.stderr)
        sys.exit(1)
