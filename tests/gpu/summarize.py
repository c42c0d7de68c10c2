#!/usr/bin/env python3
"""summarize.py — the summary tables of a device-check results file (tests/gpu/device-check.sh).

Reads the JSON lines in the file (steerctl bench --json records: "backend": "cuda" with "mode"
graph / eager; PyTorch records: "peer": "torch"), prints markdown tables: batch-1 latency p50/p99
per zoo model (steerd CUDA graph, steerd eager, PyTorch eager, torch.compile) with the PyTorch
eager / steerd graph ratio, batch-256 throughput, training throughput, and the issue's targets
(p99 <= 100 us with the graph and >= 3x PyTorch eager at batch 1 for the steering models).
Usage: summarize.py RESULTS_FILE
"""
import json
import sys


def records(path):
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    return out


def fmt(r):
    return "%.1f / %.1f" % (r["median_us"], r["p99_us"]) if r and "median_us" in r else "—"


def main():
    recs = records(sys.argv[1])
    ours, torch, train = {}, {}, []
    for r in recs:
        if r.get("mode") == "train" or "train" in r.get("kind", ""):
            train.append(r)
        elif r.get("peer") == "torch":
            torch[(r["model"], r["variant"], r["batch"])] = r
        elif r.get("backend") == "cuda":
            mode = r["mode"] + ("-cudnn" if r.get("conv_direct_macs", 0) < 0 else "")
            ours[(r["model"], mode, r["batch"])] = r
    models = sorted({k[0] for k in ours} | {k[0] for k in torch})
    print("\nBatch 1, host input -> GPU -> host output, p50 / p99 in us:\n")
    print("| model | steerd graph | steerd eager | PyTorch eager | torch.compile | PyTorch eager / steerd graph (p50) |")
    print("|---|---|---|---|---|---|")
    for m in models:
        g, e = ours.get((m, "graph", 1)), ours.get((m, "eager", 1))
        te, tc = torch.get((m, "eager", 1)), torch.get((m, "compile", 1))
        ratio = "%.1fx" % (te["median_us"] / g["median_us"]) if g and te and "median_us" in te else "—"
        if tc and "error" in tc:
            tc = None
        print("| %s | %s | %s | %s | %s | %s |" % (m, fmt(g), fmt(e), fmt(te), fmt(tc), ratio))
    print("\nBatch 256 throughput, images/s:\n")
    print("| model | steerd (graph) | PyTorch eager | steerd / PyTorch |")
    print("|---|---|---|---|")
    for m in models:
        g, te = ours.get((m, "graph", 256)), torch.get((m, "eager", 256))
        gi = g.get("images_per_s") if g else None
        ti = te.get("images_per_s") if te else None
        print("| %s | %s | %s | %s |" % (m, "%.0f" % gi if gi else "—", "%.0f" % ti if ti else "—",
                                         "%.2fx" % (gi / ti) if gi and ti else "—"))
    print("\nBatch 1 with every conv2d through cuDNN (--conv-direct-macs -1) vs the default, graph, p50 / p99 us:\n")
    for m in models:
        c = ours.get((m, "graph-cudnn", 1))
        if c:
            print("    %s: cuDNN only %s, default %s" % (m, fmt(c), fmt(ours.get((m, "graph", 1)))))
    print("\nTraining (batch 128):\n")
    for r in train:
        print("    " + json.dumps(r))
    print("\nTargets (batch 1, CUDA graph):")
    for m in ("seed-steering-effnet", "effnet-steer"):
        g, te = ours.get((m, "graph", 1)), torch.get((m, "eager", 1))
        if not g:
            print("  %s: no steerd graph result" % m)
            continue
        ok99 = g["p99_us"] <= 100.0
        ratio = te["median_us"] / g["median_us"] if te and "median_us" in te else float("nan")
        print("  %s: p99 %.1f us (target <= 100: %s), %.1fx PyTorch eager (target >= 3: %s)" %
              (m, g["p99_us"], "met" if ok99 else "MISSED", ratio, "met" if ratio >= 3 else "MISSED"))


if __name__ == "__main__":
    main()
