#!/usr/bin/python3
"""bench_torch_train.py — the PyTorch peer for `steerctl bench --train` (training throughput).

Builds the model from its YAML with tests/oracle/torchmodel.py (PyTorch's default initialisation,
seed --seed), puts it in train() mode (batch statistics, dropout active), and times R full
training steps on one fixed random batch with torch.set_num_threads(T) and
torch.set_num_interop_threads(1):
    opt.zero_grad(set_to_none=True); y = net(x); loss(y).backward(); opt.step()
with torch.optim.Adam(lr=1e-3). The loss is the one steer-train uses for the model's output:
cross-entropy on the softmax output (nll of log y) for class models, MSE for steering models.
Both the contiguous (NCHW) and the channels_last memory formats are timed after a warm-up; the
faster by median is reported, with its name in "format". Timing only; no tolerance applies.

Prints one JSON line: {"model", "batch", "threads", "median_us", "p10_us", "cpu_us" (process CPU
time per step, all threads), "images_per_s", "format"}.
Usage: bench_torch_train.py MODEL.yaml [--threads T] [--batch B] [--runs R] [--warmup W]
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
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--max-seconds", type=float, default=20.0, help="time budget per format")
    ap.add_argument("--formats", default="contiguous,channels_last")
    ap.add_argument("--verbose", action="store_true", help="every format's numbers on stderr")
    return ap.parse_args()


def percentile(sorted_vals, q):
    i = min(len(sorted_vals) - 1, max(0, math.ceil(q * len(sorted_vals)) - 1))
    return sorted_vals[i]


def main():
    a = parse_args()
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    import torchmodel as tm
    spec = tm.load_spec(a.model)
    classes = (spec.get("output") or {}).get("kind") == "classes"
    gen = torch.Generator().manual_seed(1)
    best = None
    for fmt in a.formats.split(","):
        mf = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}[fmt]
        torch.manual_seed(a.seed)
        net = tm.build(spec).float().train().to(memory_format=mf)
        h, w, c = net.in_hwc
        x = (torch.rand(a.batch, c, h, w, generator=gen) - 0.5).contiguous(memory_format=mf)
        n_out = net.out_shape.size()
        if classes:
            labels = torch.randint(0, n_out, (a.batch,), generator=gen)
            loss_fn = lambda y: F.nll_loss(torch.log(y.clamp_min(1e-30)), labels)
        else:
            target = torch.rand(a.batch, n_out, generator=gen) - 0.5
            loss_fn = lambda y: F.mse_loss(y.reshape(a.batch, -1), target)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x))
            loss.backward()
            opt.step()

        for _ in range(a.warmup):
            step()
        times = []
        c0 = time.process_time_ns()
        deadline = time.perf_counter_ns() + int(a.max_seconds * 1e9)
        for _ in range(a.runs):
            t0 = time.perf_counter_ns()
            step()
            t1 = time.perf_counter_ns()
            times.append((t1 - t0) / 1e3)
            if t1 > deadline and len(times) >= 5:
                break
        cpu = (time.process_time_ns() - c0) / 1e3 / len(times)
        times.sort()
        med, p10 = percentile(times, 0.5), percentile(times, 0.1)
        if a.verbose:
            print(f"{fmt}: median {med:.1f} us p10 {p10:.1f} us ({len(times)} steps)", file=sys.stderr)
        if best is None or med < best[1]:
            best = (fmt, med, p10, cpu)
    print(json.dumps({"model": spec.get("name"), "batch": a.batch, "threads": a.threads,
                      "median_us": round(best[1], 1), "p10_us": round(best[2], 1), "cpu_us": round(best[3], 1),
                      "images_per_s": round(a.batch * 1e6 / best[1], 1), "format": best[0]}))


if __name__ == "__main__":
    main()
