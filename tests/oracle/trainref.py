"""trainref.py — steer-train's data pipeline and training step re-done in PyTorch 1.13, for the
ten-step loss check (tests/oracle/check_train_steps.py) and the peer trainer
(scripts/peer-train.py).

Written from steer-train's documented behaviour (src/train/dataset.h, optim.h, trainer.c):
  * splitmix64 (ds_rng_next), unbiased ds_rng_below, the Fisher-Yates shuffle, ds_split (the
    validation split: a permutation seeded by seed ^ 0x5eed5eed5eed5eed, the first
    round(n * val_split) items go to validation, both lists ascending) and ds_epoch_order;
  * the trainer's batch order: epoch e's loader is seeded with seed * 0x9E3779B97F4A7C15 + e + 1
    and its first (only) epoch order is ds_epoch_order(train, n, that seed, 0); batches are
    consecutive slices, a last partial batch is dropped;
  * pixels: x = float32(pixel) * float32(scale) + float32(offset) (the model's preprocess);
  * augmentation.shift (idx): each training item moved by (dy, dx) drawn by shift.c's
    shift_draw (seeded by seed, epoch, item), the border filled with a black pixel's value;
  * learning rate lr_at(step) (constant | step | cosine with linear warm-up), evaluated at the
    optimizer step count before the step (0, 1, ...);
  * the optimizer: torch.optim.SGD / Adam / AdamW with the config's hyper-parameters over all
    trainable tensors (weight decay on every one, as steer-train), global-norm gradient clipping
    (torch.nn.utils.clip_grad_norm_) when grad_clip > 0;
  * the loss: mean softmax cross-entropy on the logits (a final softmax is skipped), MSE or Huber.
Everything is deterministic except dropout masks (PyTorch's own RNG, seeded from the config).
"""
import gzip
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torchmodel as tm  # noqa: E402

M64 = (1 << 64) - 1


# ---------------------------------------------------------------------------- seeded order

class Rng:
    """splitmix64 (ds_rng in src/train/dataset.c)."""

    def __init__(self, seed):
        self.s = seed & M64

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def below(self, bound):
        if bound <= 1:
            return 0
        limit = M64 - M64 % bound
        while True:
            x = self.next()
            if x < limit:
                return x % bound


def shuffle(a, rng):
    """In place, as dataset.c's shuffle: for i = n..2: swap a[i-1], a[below(i)]."""
    for i in range(len(a), 1, -1):
        j = rng.below(i)
        a[i - 1], a[j] = a[j], a[i - 1]


def c_llround(x):
    """C llround: halves away from zero."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def split(n, val_fraction, seed):
    """ds_split: (train indices, validation indices), both ascending."""
    nv = c_llround(n * val_fraction)
    perm = list(range(n))
    shuffle(perm, Rng(seed ^ 0x5EED5EED5EED5EED))
    is_val = np.zeros(n, bool)
    is_val[perm[:nv]] = True
    idx = np.arange(n)
    return idx[~is_val], idx[is_val]


def epoch_order(indices, seed, epoch):
    """ds_epoch_order(indices, n, seed, epoch)."""
    out = list(int(i) for i in indices)
    r = Rng(seed)
    r.s = r.next() ^ ((0xD1B54A32D192ED03 * (epoch + 1)) & M64)
    shuffle(out, r)
    return out


def train_batches(train_idx, seed, epoch, batch_size):
    """The dataset items of each batch of training epoch `epoch` (0-based), as steer-train."""
    loader_seed = (seed * 0x9E3779B97F4A7C15 + epoch + 1) & M64
    order = epoch_order(train_idx, loader_seed, 0)
    nb = len(order) // batch_size
    return [order[b * batch_size:(b + 1) * batch_size] for b in range(nb)]


def shift_draw(seed, epoch, item, max_shift):
    """shift.c shift_draw: (dy, dx) of item `item` in epoch `epoch`."""
    r = Rng(seed ^ ((0xA24BAED4963EE407 * (epoch + 1)) & M64) ^ ((0x9FB21C651E98DF25 * (item + 1)) & M64))
    span = 2 * max_shift + 1
    dy = r.below(span) - max_shift
    return dy, r.below(span) - max_shift


def shift_batch(x, items, seed, epoch, max_shift, fill):
    """[N, C, H, W] batch of items -> each image moved by its shift_draw, border = fill."""
    out = torch.full_like(x, fill)
    h, w = x.shape[2], x.shape[3]
    for r, item in enumerate(items):
        dy, dx = shift_draw(seed, epoch, int(item), max_shift)
        ys, yd = (0, dy) if dy >= 0 else (-dy, 0)
        xs, xd = (0, dx) if dx >= 0 else (-dx, 0)
        hh, ww = h - abs(dy), w - abs(dx)
        if hh > 0 and ww > 0:
            out[r, :, yd:yd + hh, xd:xd + ww] = x[r, :, ys:ys + hh, xs:xs + ww]
    return out


# ---------------------------------------------------------------------------- data

def read_idx(path):
    """IDX file (raw or gzip) -> ndarray (uint8 images [N, H, W] or labels [N])."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    magic, = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def write_idx(path, arr):
    """uint8 ndarray -> raw IDX file (magic 0x0000080N)."""
    arr = np.ascontiguousarray(arr, np.uint8)
    with open(path, "wb") as f:
        f.write(struct.pack(">I", 0x800 | arr.ndim))
        f.write(struct.pack(">" + "I" * arr.ndim, *arr.shape))
        f.write(arr.tobytes())


def labels_path(images):
    """The default labels file of an images file (dataset.c: images-idx3 -> labels-idx1)."""
    d, b = os.path.split(images)
    return os.path.join(d, b.replace("images-idx3", "labels-idx1", 1))


def to_input(pixels, spec, dtype=torch.float32):
    """uint8 [N, H, W] (or [N, H, W, C]) -> [N, C, H, W] tensor with the model's preprocess,
    computed in float32 as the engine does."""
    pre = spec.get("preprocess") or {}
    scale = np.float32(pre.get("scale", 1.0))
    offset = np.float32(pre.get("offset", 0.0))
    x = pixels.astype(np.float32) * scale + offset
    if x.ndim == 3:
        x = x[..., None]
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).to(dtype)


# ---------------------------------------------------------------------------- schedule, optimizer, loss

def lr_at(cfg, step, batches_per_epoch):
    """optim.c lr_at for the config's schedule (warm-up / step sizes in epochs * batches)."""
    lr = cfg["optimizer.lr"]
    kind = cfg.get("schedule.kind", "constant")
    if kind == "constant":
        return lr
    if kind == "step":
        size = max(1, cfg["schedule.step_epochs"] * batches_per_epoch)
        return lr * cfg["schedule.gamma"] ** (step // size)
    warm = cfg.get("schedule.warmup_epochs", 0) * batches_per_epoch
    total = cfg["epochs"] * batches_per_epoch
    start, min_lr = cfg.get("schedule.warmup_start", 0.1), cfg.get("schedule.min_lr", 0.0)
    if step < warm:
        return lr * (start + (1.0 - start) * step / warm)
    span, u = total - warm, min(step - warm, total - warm)
    return min_lr + (lr - min_lr) * (1.0 + math.cos(math.pi * u / span)) / 2.0


def make_optimizer(cfg, params):
    kind = cfg.get("optimizer.kind", "adam")
    lr, wd = cfg["optimizer.lr"], cfg.get("optimizer.weight_decay", 0.01 if kind == "adamw" else 0.0)
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.get("optimizer.momentum", 0.0),
                               dampening=cfg.get("optimizer.dampening", 0.0),
                               nesterov=bool(cfg.get("optimizer.nesterov", False)), weight_decay=wd)
    betas = tuple(cfg.get("optimizer.betas", (0.9, 0.999)))
    eps = cfg.get("optimizer.eps", 1e-8)
    cls = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
    return cls(params, lr=lr, betas=betas, eps=eps, weight_decay=wd)


class Trainer:
    """A SteerNet trained step by step as steer-train does. net.steps without a final softmax
    give the logits (the engine's logits mode)."""

    def __init__(self, model_yaml, weights, cfg, dtype=torch.float32):
        self.spec = tm.load_spec(model_yaml)
        self.net = tm.SteerNet(self.spec).to(dtype)
        self.dtype = dtype
        tm.load_weights(self.net, {k: np.asarray(v, np.float64 if dtype == torch.float64 else np.float32)
                                   for k, v in weights.items()})
        last = self.net.prims[-1]
        self.softmax_out = last.type == "softmax"
        self.cfg = cfg
        self.opt = make_optimizer(cfg, list(self.net.parameters()))
        self.step = 0
        self.loss_kind = cfg.get("loss.kind", "cross_entropy")

    def logits(self, x):
        vals = {tm.INPUT: x}
        steps = self.net.steps[:-1] if self.softmax_out else self.net.steps
        for name, fn, inputs, _ in steps:
            vals[name] = fn([vals[i] for i in inputs])
        y = vals[steps[-1][0]]
        return tm.to_nhwc_rows(y, steps[-1][3])

    def loss(self, y, target):
        if self.loss_kind == "cross_entropy":
            return F.cross_entropy(y, target)
        if self.loss_kind == "huber":
            return F.huber_loss(y, target, delta=self.cfg.get("loss.delta", 1.0))
        return F.mse_loss(y, target)

    def train_step(self, x, target, batches_per_epoch):
        """One step; returns (loss, lr) as steer-train logs them."""
        self.net.train()
        lr = lr_at(self.cfg, self.step, batches_per_epoch)
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.opt.zero_grad(set_to_none=False)
        loss = self.loss(self.logits(x), target)
        loss.backward()
        clip = self.cfg.get("grad_clip", 0.0)
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), clip)
        self.opt.step()
        self.step += 1
        return float(loss), lr

    @torch.no_grad()
    def evaluate(self, x, labels, batch=256):
        """(mean loss, accuracy) in eval mode (batch norm on running statistics, no dropout)."""
        self.net.eval()
        loss_sum, correct = 0.0, 0
        for i in range(0, x.shape[0], batch):
            y = self.logits(x[i:i + batch])
            t = labels[i:i + batch]
            loss_sum += float(F.cross_entropy(y, t, reduction="sum"))
            correct += int((y.argmax(1) == t).sum())
        return loss_sum / x.shape[0], correct / x.shape[0]


def read_run_config(path):
    """A run directory's config.yaml (steer-train's dump: `key: value` with dotted keys)."""
    import yaml
    with open(path) as f:
        cfg = yaml.safe_load(f)
    for k, v in cfg.items():  # PyYAML (YAML 1.1) reads "1e-08" as a string
        if isinstance(v, str) and k not in ("model", "output") and not k.startswith("dataset."):
            try:
                cfg[k] = float(v)
            except ValueError:
                pass
    return cfg
