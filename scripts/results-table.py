#!/usr/bin/python3
"""results-table.py — the Markdown tables of docs/RESULTS.md from steer-train run directories.

For each run directory under OUT (scripts/digit-experiments.sh writes OUT/<set>-<model>/ plus
<set>-<model>.time and .cmd) prints one row: model, parameters and MACs per image (the cost
rules of `steerctl model info`, recomputed here with tests/oracle/torchmodel.py), epochs, test
accuracy and loss (metrics.json), seconds per epoch and the wall time of the whole run (the
.time file, else epochs x seconds per epoch). A second table per set compares every model with
the set's baseline (the row named by --baseline): MACs and parameters as a fraction of it and
the accuracy difference in points (--baseline takes a comma-separated list: one table each).
Usage: scripts/results-table.py OUT [--baseline paper-mnist-baseline] [--models M1,M2,...]
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "oracle"))
import torchmodel as tm  # noqa: E402


def cost(model_path):
    net = tm.build(model_path)
    total, _ = tm.count_params(net)
    macs, _ = tm.count_macs(net)
    return total, macs


def rows_of(out):
    rows = []
    for name in sorted(os.listdir(out)):
        d = os.path.join(out, name)
        mpath = os.path.join(d, "metrics.json")
        if not os.path.isfile(mpath):
            continue
        with open(mpath) as f:
            m = json.load(f)
        if "test" not in m or m.get("epochs_done") != m.get("epochs_planned"):
            continue
        tfile = os.path.join(out, name + ".time")
        wall = float(open(tfile).read()) if os.path.exists(tfile) else m["epochs_done"] * m["seconds_per_epoch"]
        params, macs = cost(m["model_path"])
        rows.append({"set": name.split("-", 1)[0], "model": m["model"], "params": params, "macs": macs,
                     "epochs": m["epochs_done"], "acc": 100 * m["test"]["accuracy"], "loss": m["test"]["loss"],
                     "n_test": m["test"]["items"], "spe": m["seconds_per_epoch"], "wall": wall,
                     "ips": m["images_per_s"]})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--baseline", default="paper-mnist-baseline")
    ap.add_argument("--models", default="", help="comma-separated models expected in every set: "
                    "a missing one gets a `not run` row")
    a = ap.parse_args()
    rows = rows_of(a.out)
    for s in sorted({r["set"] for r in rows}):
        rs = sorted((r for r in rows if r["set"] == s), key=lambda r: r["macs"])
        print(f"\n{s}\n")
        print("| model | params | MACs / image | epochs | test accuracy | test loss | s / epoch | train img/s | wall time |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rs:
            print(f"| {r['model']} | {r['params']:,} | {r['macs']:,} | {r['epochs']} | {r['acc']:.2f}% "
                  f"| {r['loss']:.4f} | {r['spe']:.1f} | {r['ips']:.0f} | {r['wall'] / 60:.1f} min |")
        for m in [m for m in a.models.split(",") if m and m not in {r["model"] for r in rs}]:
            params, macs = cost(os.path.join(HERE, "..", "models", m + ".yaml"))
            print(f"| {m} | {params:,} | {macs:,} | not run | | | | | |")
        for bname in a.baseline.split(","):
            base = next((r for r in rs if r["model"] == bname), None)
            if not base:
                continue
            print(f"\n{s}, relative to {bname}:\n")
            print("| model | params | MACs | test accuracy |")
            print("|---|---:|---:|---:|")
            for r in rs:
                print(f"| {r['model']} | {r['params'] / base['params']:.2f}x | {r['macs'] / base['macs']:.3f}x "
                      f"| {r['acc'] - base['acc']:+.2f} points |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
