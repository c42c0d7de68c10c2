#!/usr/bin/python3
"""peer-train.py — the PyTorch 1.13 peer of a finished steer-train run: the same architecture,
data, split, initial weights, batch order and hyper-parameters, trained by torch.optim; prints
both test accuracies and their difference (target: within 0.5 point).

Reads the run directory steer-train wrote (its effective config.yaml and metrics.json) and
re-does the run with tests/oracle/trainref.py in float32:
  * model: the config's YAML built by tests/oracle/torchmodel.py;
  * initial weights: RUN/init.safetensors when the run has one, else `steerctl model init MODEL
    --seed SEED` (steer-train's own He initialisation, nn_model_init_he(model, seed));
  * data: the config's IDX files, split, per-epoch batch order and augmentation.shift draws as
    steer-train's (trainref);
  * optimizer, learning-rate schedule (per step), weight decay, gradient clipping: the config's;
  * dropout: PyTorch's own masks (torch.manual_seed(seed), or --torch-seed) — the only thing not
    shared, so the two runs agree statistically, not bit for bit (a second --torch-seed shows how
    far two PyTorch runs that differ only in their dropout masks land apart);
  * test accuracy: eval mode (batch norm on running statistics) on the config's test set.
Writes PEER.json (default RUN/peer.json) with both results and the wall time.
Usage: scripts/peer-train.py RUN_DIR [--threads N] [--steerctl PATH] [--output PEER.json] [--torch-seed N]
Exit status 0 when both test accuracies are within --max-diff points (default 0.5), else 1.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "oracle"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import st  # noqa: E402
import trainref  # noqa: E402


def initial_weights(run, cfg, steerctl):
    own = os.path.join(run, "init.safetensors")
    if os.path.exists(own):
        return st.load(own)[0], own
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "init.safetensors")
        subprocess.run([steerctl, "model", "init", cfg["model"], "--seed", str(cfg["seed"]), "-o", path],
                       check=True, capture_output=True)
        return st.load(path)[0], f"steerctl model init --seed {cfg['seed']}"


def load_split(images_path, labels_path, spec):
    imgs = trainref.read_idx(images_path)
    labels = trainref.read_idx(labels_path or trainref.labels_path(images_path)).astype(np.int64)
    return trainref.to_input(imgs, spec), torch.from_numpy(labels)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="a finished steer-train run directory")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steerctl", default=os.path.join(REPO, "build", "steerctl"))
    ap.add_argument("--output", help="result JSON (default RUN/peer.json)")
    ap.add_argument("--max-diff", type=float, default=0.5, help="allowed |difference| in points")
    ap.add_argument("--torch-seed", type=int, help="PyTorch's dropout RNG seed (default: the run's seed); "
                    "a second seed measures PyTorch's own run-to-run spread")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    cfg = trainref.read_run_config(os.path.join(a.run, "config.yaml"))
    with open(os.path.join(a.run, "metrics.json")) as f:
        ours = json.load(f)
    if cfg["dataset.kind"] != "idx" or not cfg["dataset.test"]:
        sys.exit(f"peer-train: {a.run}: needs an idx dataset with a test set")
    torch_seed = cfg["seed"] if a.torch_seed is None else a.torch_seed
    torch.manual_seed(torch_seed)
    weights, init_from = initial_weights(a.run, cfg, a.steerctl)
    tr = trainref.Trainer(cfg["model"], weights, cfg)
    x, y = load_split(cfg["dataset.train"], cfg["dataset.train_labels"], tr.spec)
    xt, yt = load_split(cfg["dataset.test"], cfg["dataset.test_labels"], tr.spec)
    train_idx, val_idx = trainref.split(x.shape[0], cfg["val_split"], cfg["seed"])
    bs, epochs = cfg["batch_size"], cfg["epochs"]
    bpe = len(train_idx) // bs
    shift = int(cfg.get("augmentation.shift", 0))
    fill = float(np.float32((tr.spec.get("preprocess") or {}).get("offset", 0.0)))
    t0 = time.time()
    for e in range(epochs):
        te = time.time()
        loss_sum = 0.0
        for b in trainref.train_batches(train_idx, cfg["seed"], e, bs):
            xb = x[b]
            if shift:
                xb = trainref.shift_batch(xb, b, cfg["seed"], e, shift, fill)
            loss, lr = tr.train_step(xb, y[b], bpe)
            if not np.isfinite(loss):
                sys.exit(f"peer-train: epoch {e + 1}: loss is {loss}")
            loss_sum += loss
        line = f"epoch {e + 1}/{epochs}: train loss {loss_sum / bpe:.4f}"
        if len(val_idx):
            vl, va = tr.evaluate(x[val_idx], y[val_idx])
            line += f" | val loss {vl:.4f} acc {100 * va:.2f}%"
        print(line + f" | lr {lr:.3g} | {time.time() - te:.1f} s", file=sys.stderr, flush=True)
    secs = time.time() - t0
    test_loss, test_acc = tr.evaluate(xt, yt)
    theirs = 100.0 * test_acc
    mine = 100.0 * ours["test"]["accuracy"]
    diff = theirs - mine
    res = {"run": os.path.abspath(a.run), "model": ours["model"], "dataset": cfg["dataset.train"],
           "epochs": epochs, "initial_weights": init_from, "threads": a.threads, "torch_seed": torch_seed,
           "steer_train": {"test_accuracy": round(mine, 2), "test_loss": ours["test"]["loss"]},
           "pytorch": {"test_accuracy": round(theirs, 2), "test_loss": test_loss, "seconds": round(secs, 1),
                       "version": torch.__version__},
           "difference_points": round(diff, 2), "within": abs(diff) <= a.max_diff}
    out = a.output or os.path.join(a.run, "peer.json")
    with open(out, "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")
    print(f"{ours['model']}: steer-train test accuracy {mine:.2f}%, PyTorch {torch.__version__} {theirs:.2f}% "
          f"(difference {diff:+.2f} points, {'within' if res['within'] else 'OUTSIDE'} {a.max_diff}) -> {out}")
    return 0 if res["within"] else 1


if __name__ == "__main__":
    sys.exit(main())
