#!/usr/bin/python3
"""check_train_steps.py — ten training steps of steer-train against PyTorch 1.13 from the same
initial weights, batches and optimizer.

For each case: a zoo model (models/seed-mnist-*.yaml) with its dropout removed (dropout layers
dropped, effnet_block `dropout` keys deleted: masks drawn by two different RNGs cannot agree;
everything else — batch norm in training mode, the final softmax — stays), a small IDX dataset
the check writes (56 random 28x28 digits-like images, labels 0..9), and a config with
val_split 0.1 (6 validation, 50 training items), batch_size 10, epochs 2: 10 steps over two
epoch orders and the seeded split (one case also with augmentation.shift, the random digit
shift, so its draws are checked too). Then:
  * `steerctl model init MODEL --seed S` writes the initial weights, which are steer-train's
    own (both call nn_model_init_he(model, seed));
  * `steer-train CONFIG --set log_steps=true --set threads=1` trains and writes steps.csv
    (epoch, batch, step, loss, lr of every step) and the final weights;
  * tests/oracle/trainref.py re-does the split, batch order, learning-rate schedule, optimizer
    (torch.optim SGD / Adam / AdamW) and loss in float64 PyTorch from the same weights.
The engine computes in float32; the reference is float64 PyTorch. Ten steps of a ReLU network
amplify float32 rounding (~1e-6 in the first gradients, checked by check_grads.py): a unit that
sits at its ReLU kink switches on in one implementation and not in the other, and Adam moves a
weight by ~lr whatever the size of its gradient. So the same ten steps also run in float32
PyTorch, and its distance from float64 PyTorch measures how much rounding this case amplifies
("noise"). Judged, with d(a, b) the distance named on each line:
  * learning rate of every step:      |engine - torch64| <= 1e-8 * lr (steps.csv prints 9 digits)
  * loss of every step:               |engine - torch64| <= LOSS_TOL * max(1, |loss|) + K * noise
                                      (LOSS_TOL 1e-4, K 10, noise = |torch32 - torch64| at that step)
  * each tensor's change over the ten steps (final - initial, parameters and batch-norm running
    statistics), L2 norms over the tensor (one Adam component that flips sign does not decide):
                                      ||engine - torch64|| / ||torch64 change|| <= PARAM_TOL + K * noise
                                      (PARAM_TOL 5e-3, noise = the same measure for torch32)
  * the case is well conditioned: noise <= 1e-3 on every loss (otherwise the check would be
    vacuous; the case's learning rates are chosen small enough).
A wrong batch order, split, schedule or optimizer formula moves the loss by 1e-2 or more within
the ten steps (seen while writing this check); measured errors are printed with each result.
Output: one line per case, last line exactly `N passed, N failed`; exit 1 on any failure.
Usage: check_train_steps.py --steer-train PATH --steerctl PATH [--models DIR] [--workdir DIR]
"""
import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
import trainref  # noqa: E402

LOSS_TOL = 1e-4
PARAM_TOL = 5e-3
LR_TOL = 1e-8
K = 10
MAX_NOISE = 1e-3
REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# (name, zoo model, seed, config overrides)
CASES = [
    ("effnet sgd nesterov wd const shift", "seed-mnist-effnet", 3,
     {"optimizer": {"kind": "sgd", "lr": 0.01, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4},
      "schedule": {"kind": "constant"}, "augmentation": {"shift": 2}}),
    ("effnet adam cosine warm-up", "seed-mnist-effnet", 4,
     {"optimizer": {"kind": "adam", "lr": 0.0003, "eps": 1e-4},
      "schedule": {"kind": "cosine", "warmup_epochs": 1, "warmup_start": 0.2, "min_lr": 1e-4}}),
    ("baseline sgd momentum step clip", "seed-mnist-baseline", 5,
     {"optimizer": {"kind": "sgd", "lr": 0.02, "momentum": 0.9},
      "schedule": {"kind": "step", "step_epochs": 1, "gamma": 0.5}, "grad_clip": 1.0}),
    ("baseline adamw wd", "seed-mnist-baseline", 6,
     {"optimizer": {"kind": "adamw", "lr": 0.0003, "eps": 1e-4, "weight_decay": 0.05}, "schedule": {"kind": "constant"}}),
]

N_ITEMS, BATCH, EPOCHS, VAL_SPLIT = 56, 10, 2, 0.1


def strip_dropout(spec):
    """The zoo model without dropout: dropout layers removed, block dropout keys deleted."""
    out = dict(spec)
    layers = []
    for layer in spec["layers"]:
        if layer["type"] == "dropout":
            continue
        layer = {k: v for k, v in layer.items() if not (k == "dropout" and layer["type"] == "effnet_block")}
        layers.append(layer)
    out["layers"] = layers
    out["name"] = spec["name"] + "-nodrop"
    return out


def make_dataset(d, rng):
    """56 digits-like 28x28 images: a class-dependent blob plus noise, labels 0..9."""
    labels = np.arange(N_ITEMS) % 10
    rng.shuffle(labels)
    yy, xx = np.mgrid[0:28, 0:28]
    imgs = np.empty((N_ITEMS, 28, 28), np.float64)
    for i, c in enumerate(labels):
        cy, cx = 6 + 2 * (c % 5) * 1.5, 8 + 6 * (c // 5)
        imgs[i] = 180 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 18.0)
    imgs += rng.uniform(0, 60, imgs.shape)
    path = os.path.join(d, "train-images-idx3-ubyte")
    trainref.write_idx(path, np.clip(imgs, 0, 255).astype(np.uint8))
    trainref.write_idx(os.path.join(d, "train-labels-idx1-ubyte"), labels.astype(np.uint8))
    return path


def write_config(d, model_path, images, seed, over):
    cfg = {"model": model_path, "dataset": {"kind": "idx", "train": images, "classes": 10},
           "task": "classification", "batch_size": BATCH, "epochs": EPOCHS, "val_split": VAL_SPLIT,
           "seed": seed, "threads": 1, "output": os.path.join(d, "run")}
    for k, v in over.items():
        cfg[k] = v
    path = os.path.join(d, "train.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f)
    return path


def flat_config(cfg):
    """Nested config -> the dotted keys trainref reads (as in a run's config.yaml)."""
    out = {}
    for k, v in cfg.items():
        if isinstance(v, dict):
            for k2, v2 in v.items():
                out[f"{k}.{k2}"] = v2
        else:
            out[k] = v
    return out


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, errors="replace")
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()[-400:]}")
    return p


def torch_steps(model_path, init, cfg_flat, images_path, seed, dtype):
    """PyTorch in dtype: [(loss, lr)] of every step and the final parameters (float64 arrays)."""
    images = trainref.read_idx(images_path)
    labels = trainref.read_idx(trainref.labels_path(images_path)).astype(np.int64)
    tr = trainref.Trainer(model_path, init, cfg_flat, dtype=dtype)
    x_all = trainref.to_input(images, tr.spec, dtype)
    y_all = torch.from_numpy(labels)
    train_idx, _ = trainref.split(len(images), VAL_SPLIT, seed)
    out = []
    bpe = len(train_idx) // BATCH
    shift = cfg_flat.get("augmentation.shift", 0)
    fill = float(np.float32(tr.spec["preprocess"]["offset"]))
    for e in range(EPOCHS):
        for b in trainref.train_batches(train_idx, seed, e, BATCH):
            x = trainref.shift_batch(x_all[b], b, seed, e, shift, fill) if shift else x_all[b]
            out.append(tr.train_step(x, y_all[b], bpe))
    return out, {k: v.detach().double().numpy() for k, v in tr.net.state_dict().items() if "num_batches" not in k}


def change_error(got, ref, init):
    """||got - ref|| / ||ref - init|| (L2 over the tensor: the error relative to its change)."""
    return float(np.linalg.norm(got - ref)) / max(1e-12, float(np.linalg.norm(ref - init)))


def check_case(name, zoo, seed, over, a, workdir):
    d = os.path.join(workdir, name.replace(" ", "_"))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    with open(os.path.join(a.models, zoo + ".yaml")) as f:
        spec = strip_dropout(yaml.safe_load(f))
    model_path = os.path.join(d, "model.yaml")
    with open(model_path, "w") as f:
        yaml.safe_dump(spec, f, sort_keys=False)
    images = make_dataset(d, np.random.default_rng(seed))
    cfg_path = write_config(d, model_path, images, seed, over)
    init_path = os.path.join(d, "init.safetensors")
    run([a.steerctl, "model", "init", model_path, "--seed", str(seed), "-o", init_path])
    run([a.steer_train, cfg_path, "--set", "log_steps=true", "--set", "threads=1"])
    with open(os.path.join(d, "run", "steps.csv")) as f:
        rows = list(csv.DictReader(f))
    with open(cfg_path) as f:
        cfg_flat = flat_config(yaml.safe_load(f))
    init = st.load(init_path)[0]
    ref, ref_params = torch_steps(model_path, init, cfg_flat, images, seed, torch.float64)
    ref32, ref32_params = torch_steps(model_path, init, cfg_flat, images, seed, torch.float32)
    if len(rows) != len(ref):
        return f"{len(rows)} steps logged, {len(ref)} expected"
    worst_loss = worst_param = worst_noise = 0.0
    for i, (row, (loss, lr), (loss32, _)) in enumerate(zip(rows, ref, ref32)):
        if int(row["step"]) != i + 1:
            return f"steps.csv row {i + 1}: step {row['step']}"
        elr = float(row["lr"])
        if abs(elr - lr) > LR_TOL * lr:
            return f"step {i + 1}: lr {elr:.9g}, torch {lr:.9g}"
        el = float(row["loss"])
        noise = abs(loss32 - loss)
        worst_noise = max(worst_noise, noise)
        if noise > MAX_NOISE:
            return f"step {i + 1}: ill-conditioned case: float32 torch {loss32:.7g} vs float64 {loss:.7g}"
        err = abs(el - loss)
        worst_loss = max(worst_loss, err)
        tol = LOSS_TOL * max(1.0, abs(loss)) + K * noise
        if err > tol:
            return f"step {i + 1}: loss {el:.7g}, torch {loss:.7g} (error {err:.2e} > {tol:.2e})"
    final = st.load(os.path.join(d, "run", spec["name"] + ".safetensors"))[0]
    for k, ref_v in ref_params.items():
        init_v = np.asarray(init[k], np.float64)
        err = change_error(np.asarray(final[k], np.float64), ref_v, init_v)
        noise = change_error(ref32_params[k], ref_v, init_v)
        worst_param = max(worst_param, err)
        tol = PARAM_TOL + K * noise
        if err > tol:
            return f"final {k}: error {err:.2e} of its change over ten steps > {tol:.2e}"
    first, last = ref[0][0], ref[-1][0]
    print(f"ok [{name}]: losses {first:.4f} -> {last:.4f}; worst loss error {worst_loss:.1e} "
          f"(float32 torch: {worst_noise:.1e}), worst error of a tensor's change {worst_param:.1e}")
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steer-train", required=True)
    ap.add_argument("--steerctl", required=True)
    ap.add_argument("--models", default=os.path.join(REPO, "models"))
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "steerd-train-steps"))
    ap.add_argument("--filter", default="")
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.workdir, exist_ok=True)
    failed = passed = 0
    for name, zoo, seed, over in CASES:
        if a.filter not in name:
            continue
        try:
            msg = check_case(name, zoo, seed, over, a, a.workdir)
        except Exception as e:  # a failing run or a bug in the checker is a failure too
            msg = f"{type(e).__name__}: {e}"
        if msg:
            print(f"FAIL [{name}]: {msg}")
            failed += 1
        else:
            passed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
