#!/usr/bin/python3
"""bench_torch.py — the PyTorch peer benchmark for `steerctl bench` (same model, same weights).

Builds the model from its YAML with tests/oracle/torchmodel.py (weights from a safetensors file,
or PyTorch's default initialisation with --seed), then in eval() and torch.no_grad() with
torch.set_num_threads(T) and torch.set_num_interop_threads(1) times R forward passes of a
[B, C, H, W] float32 input with time.perf_counter_ns after a warm-up. Both the contiguous (NCHW)
and the channels_last memory formats are timed (and TorchScript-frozen variants with --jit);
the faster by median is reported, with its name in "format". No tolerance applies: timing only.

Prints one JSON line: {"model", "batch", "threads", "median_us", "p99_us", "format"}.
Usage: bench_torch.py MODEL.yaml [--weights W.safetensors] [--threads T] [--batch B] [--runs R]
"""
import argparse
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "oracle"))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--weights", help="safetensors with PyTorch names (default: torch init)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--max-seconds", type=float, default=5.0, help="time budget per format")
    ap.add_argument("--jit", action="store_true", help="also time torch.jit.trace + freeze")
    ap.add_argument("--verbose", action="store_true", help="every format's numbers on stderr")
    return ap.parse_args()


def percentile(sorted_vals, q):
    i = min(len(sorted_vals) - 1, max(0, math.ceil(q * len(sorted_vals)) - 1))
    return sorted_vals[i]


def time_runs(fn, x, runs, warmup, max_s):
    """Median and p99 in µs of up to `runs` calls (stops early past max_s seconds)."""
    for _ in range(warmup):
        fn(x)
    times = []
    deadline = time.perf_counter_ns() + int(max_s * 1e9)
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        fn(x)
        t1 = time.perf_counter_ns()
        times.append((t1 - t0) / 1e3)
        if t1 > deadline and len(times) >= 5:
            break
    times.sort()
    return percentile(times, 0.5), percentile(times, 0.99)


def build_model(a, torch, tm):
    import st
    spec = tm.load_spec(a.model)
    torch.manual_seed(a.seed)
    net = tm.build(spec).float()
    if a.weights:
        tensors, _ = st.load(a.weights)
        tm.load_weights(net, {k: v for k, v in tensors.items() if not k.endswith("num_batches_tracked")})
    return spec, net.eval()


def variants(net, x, torch, use_jit):
    """(format name, callable, input) for each memory format / execution mode."""
    out = []
    for fmt, mf in (("contiguous", torch.contiguous_format), ("channels_last", torch.channels_last)):
        xm = x.contiguous(memory_format=mf)
        m = net.to(memory_format=mf)
        out.append((fmt, m, xm))
        if use_jit:
            traced = torch.jit.freeze(torch.jit.trace(m, xm))
            out.append((fmt + "+jit", traced, xm))
    return out


def main():
    a = parse_args()
    import torch
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    import torchmodel as tm
    spec, net = build_model(a, torch, tm)
    h, w, c = net.in_hwc
    x = torch.randn(a.batch, c, h, w, generator=torch.Generator().manual_seed(1))
    best = None
    with torch.no_grad():
        for fmt, fn, xm in variants(net, x, torch, a.jit):
            med, p99 = time_runs(fn, xm, a.runs, a.warmup, a.max_seconds)
            if a.verbose:
                print(f"{fmt}: median {med:.1f} us p99 {p99:.1f} us", file=sys.stderr)
            if best is None or med < best[1]:
                best = (fmt, med, p99)
    print(json.dumps({"model": spec.get("name"), "batch": a.batch, "threads": a.threads,
                      "median_us": round(best[1], 1), "p99_us": round(best[2], 1), "format": best[0]}))


if __name__ == "__main__":
    main()
