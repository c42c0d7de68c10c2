#!/usr/bin/python3
"""test_steer_train.py — steer-train end to end on a dataset the test writes itself: 240
synthetic 8x8 grey images of 3 separable classes (IDX, one file gzip-compressed) and a tiny
model (2 convolutions, batch norm, dropout, dense softmax). Cases (one per meson test):
  Train        loss decreases, accuracy above chance, log.csv / metrics.json / curve.svg parse,
               the .safetensors loads in `steerctl model run` and classifies the training images
  Determinism  two runs of one config -> the same weights (sha256)
  Resume       kill -9 during epoch 2, --resume (both forms) -> same weights as an uninterrupted run
  ResumeArch   --resume after the model file changed with the same parameter count (relu ->
               leaky_relu) or the dataset's labels changed: refused by name (exit 1, nothing
               written); --force continues with a warning; a version 1 checkpoint (no hashes) is
               accepted with a warning and gives the run's weights
  Diverge      lr 1e300 stops with a clear message (NaN loss / NaN gradient norm), exit 1, no
               weights or checkpoint
  Refuse       an existing run directory is not overwritten (exit 1, files unchanged)
  BadInput     bad config (exit 78, file:line:col), bad --set (exit 78, one line), channel mismatch
Environment: STEER_TRAIN, STEERCTL (binaries), STEERD_TEST_DATA (a scratch folder)."""
import gzip
import hashlib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
import xml.dom.minidom

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "oracle"))
import st  # noqa: E402  (the tests' safetensors reader)

TRAIN = os.environ["STEER_TRAIN"]
STEERCTL = os.environ["STEERCTL"]
SCRATCH = os.path.join(os.environ["STEERD_TEST_DATA"], "steer-train")

MODEL = """name: tiny
description: "test model: 2 convs, batch norm, dropout, dense softmax"
input: {height: 8, width: 8, channels: %d}
preprocess: {scale: 0.00392156862745098, offset: 0.0}
output: {kind: classes, labels: ["top", "left", "diag"]}
layers:
  - {name: c1, type: conv2d, filters: 4, kernel: 3, padding: same, activation: relu}
  - {name: p1, type: max_pool2d, pool: 2}
  - {name: c2, type: conv2d, filters: 8, kernel: 3, padding: same, activation: relu}
  - {name: bn, type: batch_norm}
  - {name: p2, type: max_pool2d, pool: 2}
  - {name: flatten, type: flatten}
  - {name: drop, type: dropout, rate: 0.2}
  - {name: fc, type: dense, units: 3, activation: softmax}
"""

CONFIG = """# the integration test's config
model: tiny.yaml
dataset:
  kind: idx
  train: data/train-images-idx3-ubyte.gz
  train_labels: data/train-labels-idx1-ubyte
  classes: 3
task: classification
batch_size: 16
epochs: %(epochs)d
optimizer: {kind: adam, lr: 0.01}
schedule: {kind: cosine, warmup_epochs: 1}
grad_clip: 5
val_split: 0.25
seed: 3
threads: 2
output: %(output)s
"""


def fail(msg):
    sys.stderr.write("FAIL: %s\n" % msg)
    sys.exit(1)


def images(n, seed):
    """n 8x8 images, labels 0 (bright top half), 1 (bright left half), 2 (bright diagonal)."""
    rng = np.random.RandomState(seed)
    x = rng.randint(0, 60, size=(n, 8, 8)).astype(np.int32)
    y = np.arange(n) % 3
    for i in range(n):
        if y[i] == 0:
            x[i, :4, :] += 150
        elif y[i] == 1:
            x[i, :, :4] += 150
        else:
            for k in range(8):
                x[i, k, max(0, k - 1):k + 2] += 150
    return np.clip(x, 0, 255).astype(np.uint8), y.astype(np.uint8)


def write_idx(folder, n=240):
    os.makedirs(folder, exist_ok=True)
    x, y = images(n, 7)
    with gzip.open(os.path.join(folder, "train-images-idx3-ubyte.gz"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 8, 8) + x.tobytes())
    with open(os.path.join(folder, "train-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + y.tobytes())
    return x, y


def setup(case, epochs=3, channels=1):
    d = os.path.join(SCRATCH, case)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    x, y = write_idx(os.path.join(d, "data"))
    with open(os.path.join(d, "tiny.yaml"), "w") as f:
        f.write(MODEL % channels)
    cfg = os.path.join(d, "train.yaml")
    with open(cfg, "w") as f:
        f.write(CONFIG % {"epochs": epochs, "output": "run"})
    return d, cfg, x, y


def run(args, expect=0, timeout=120):
    p = subprocess.run([TRAIN] + args, capture_output=True, text=True, timeout=timeout)
    if p.returncode != expect:
        fail("steer-train %s: exit %d (expected %d)\nstdout: %s\nstderr: %s" %
             (" ".join(args), p.returncode, expect, p.stdout, p.stderr))
    return p


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def read_csv(path):
    with open(path) as f:
        lines = f.read().strip().split("\n")
    head = lines[0].split(",")
    return head, [dict(zip(head, l.split(","))) for l in lines[1:]]


def case_train():
    d, cfg, x, y = setup("train")
    p = run([cfg])
    rd = os.path.join(d, "run")
    for f in ["tiny.safetensors", "checkpoint.bin", "log.csv", "metrics.json", "curve.svg", "config.yaml"]:
        if not os.path.isfile(os.path.join(rd, f)):
            fail("missing %s in the run directory (has %s)" % (f, os.listdir(rd)))
    if "epoch 3/3" not in p.stderr:
        fail("no per-epoch line on a non-TTY stderr:\n%s" % p.stderr)
    head, rows = read_csv(os.path.join(rd, "log.csv"))
    if head != ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "images_per_s", "seconds"]:
        fail("log.csv header %s" % head)
    if len(rows) != 3:
        fail("log.csv has %d rows, expected 3" % len(rows))
    losses = [float(r["train_loss"]) for r in rows]
    if not losses[-1] < losses[0]:
        fail("training loss did not decrease: %s" % losses)
    val_acc = float(rows[-1]["val_acc"])
    if not val_acc > 0.6:
        fail("validation accuracy %.3f not above chance (1/3) by a margin" % val_acc)
    with open(os.path.join(rd, "metrics.json")) as f:
        m = json.load(f)
    if m["epochs_done"] != 3 or m["model"] != "tiny" or m["stopped"] is not None or len(m["history"]) != 3:
        fail("metrics.json: %s" % m)
    if abs(m["final"]["val_accuracy"] - val_acc) > 1e-5 or m["train_items"] != 180 or m["val_items"] != 60:
        fail("metrics.json final/items disagree with log.csv: %s" % m)
    if not m["config_hash"].startswith("sha256:"):
        fail("metrics.json config_hash %r" % m["config_hash"])
    svg = xml.dom.minidom.parse(os.path.join(rd, "curve.svg"))
    if svg.documentElement.tagName != "svg" or len(svg.getElementsByTagName("polyline")) != 4:
        fail("curve.svg: expected an <svg> with 4 polylines")
    # the weights: loadable by steerctl (metadata included) and they classify the training images
    xin = os.path.join(d, "x.npy")
    yout = os.path.join(d, "y.npy")
    np.save(xin, (x.astype(np.float32) / 255.0).reshape(-1, 8, 8, 1))
    q = subprocess.run([STEERCTL, "model", "run", os.path.join(d, "tiny.yaml"), os.path.join(rd, "tiny.safetensors"),
                        "--input", xin, "--output", yout], capture_output=True, text=True, timeout=60)
    if q.returncode != 0:
        fail("steerctl model run: %s" % q.stderr)
    acc = float((np.load(yout).argmax(1) == y).mean())
    if acc < 0.6:
        fail("steerctl's accuracy with the trained weights is %.3f" % acc)
    with open(os.path.join(rd, "tiny.safetensors"), "rb") as f:
        meta = st.split(f.read())[0]["__metadata__"]
    for k in ["model", "dataset", "epochs", "config_hash", "val_accuracy", "train_loss"]:
        if k not in meta:
            fail("safetensors metadata lacks %s: %s" % (k, meta))
    if meta["epochs"] != "3" or meta["config_hash"] != m["config_hash"]:
        fail("safetensors metadata: %s" % meta)
    print("train: losses %s, val acc %.3f, steerctl acc %.3f" % (losses, val_acc, acc))


def case_determinism():
    d, cfg, _, _ = setup("determinism")
    run([cfg, "--set", "output=" + os.path.join(d, "a")])
    run([cfg, "--set", "output=" + os.path.join(d, "b")])
    a, b = sha(os.path.join(d, "a", "tiny.safetensors")), sha(os.path.join(d, "b", "tiny.safetensors"))
    if a != b:
        fail("two runs of one config differ: %s vs %s" % (a, b))
    print("determinism: both runs %s" % a)


def case_resume():
    # enough epochs and images that epoch 2 lasts long enough to be interrupted
    d, cfg, _, _ = setup("resume", epochs=4)
    write_idx(os.path.join(d, "data"), n=1200)
    ref = os.path.join(d, "ref")
    run([cfg, "--set", "output=" + ref])
    rd = os.path.join(d, "run")
    killed_in = None
    for attempt in range(3):
        shutil.rmtree(rd, ignore_errors=True)
        p = subprocess.Popen([TRAIN, cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        log = os.path.join(rd, "log.csv")
        t0 = time.time()
        while p.poll() is None and time.time() - t0 < 120:
            if os.path.exists(log) and len(read_csv(log)[1]) >= 1:
                os.kill(p.pid, signal.SIGKILL)
                break
            time.sleep(0.002)
        p.wait()
        if p.returncode == -signal.SIGKILL:
            killed_in = len(read_csv(log)[1]) + 1
            if killed_in == 2:
                break
    if killed_in is None:
        fail("could not interrupt a run")
    if os.path.exists(os.path.join(rd, "tiny.safetensors")):
        fail("an interrupted run has final weights")
    # resume with the run's own config, then check the result equals the uninterrupted run
    p = run(["--resume", rd])
    if "resuming after epoch %d of 4" % (killed_in - 1) not in p.stderr:
        fail("no resume line:\n%s" % p.stderr)
    _, rows = read_csv(os.path.join(rd, "log.csv"))
    if [int(r["epoch"]) for r in rows] != [1, 2, 3, 4]:
        fail("resumed log.csv epochs %s" % [r["epoch"] for r in rows])
    a, b = sha(os.path.join(ref, "tiny.safetensors")), sha(os.path.join(rd, "tiny.safetensors"))
    if a != b:
        fail("resumed weights differ from the uninterrupted run's (%s vs %s)" % (b, a))
    # resuming a complete run with the original config does nothing new and keeps the result
    run([cfg, "--resume", rd])
    if sha(os.path.join(rd, "tiny.safetensors")) != a:
        fail("resuming a complete run changed its weights")
    # a different configuration is refused
    p = run([cfg, "--resume", rd, "--set", "optimizer.lr=0.02"], expect=1)
    if "configuration differs" not in p.stderr:
        fail("changed config on resume: %s" % p.stderr)
    print("resume: killed during epoch %d, resumed weights equal the uninterrupted run's (%s)" % (killed_in, a))


def run_files(rd):
    return {f: sha(os.path.join(rd, f)) for f in sorted(os.listdir(rd))}


def one_line(p, pattern):
    """The one stderr line that matches pattern (regex); there must be exactly one stderr line."""
    lines = p.stderr.strip().split("\n")
    if len(lines) != 1 or not re.search(pattern, lines[0]):
        fail("expected one line matching %r, got %r" % (pattern, p.stderr))
    return lines[0]


def to_v1(ck_path):
    """Rewrites a version 2 checkpoint as version 1 wrote it: 136-byte header, no model/dataset
    hashes (the 144 bytes after it), SHA-256 of the rest recomputed."""
    with open(ck_path, "rb") as f:
        b = f.read()
    if struct.unpack_from("<II", b, 8) != (2, 280):
        fail("checkpoint header: version/size %s, expected (2, 280)" % (struct.unpack_from("<II", b, 8),))
    body = bytearray(b[:136]) + b[280:-32]
    struct.pack_into("<II", body, 8, 1, 136)
    with open(ck_path, "wb") as f:
        f.write(bytes(body) + hashlib.sha256(bytes(body)).digest())


def case_resume_arch():
    d, cfg, _, y = setup("resumearch", epochs=2)
    rd = os.path.join(d, "run")
    run([cfg])
    good = run_files(rd)
    model = os.path.join(d, "tiny.yaml")
    with open(model) as f:
        original = f.read()
    # same parameter count, different architecture: refused by name, nothing written
    with open(model, "w") as f:
        f.write(original.replace("filters: 4, kernel: 3, padding: same, activation: relu",
                                 "filters: 4, kernel: 3, padding: same, activation: leaky_relu"))
    for args in ([cfg, "--resume", rd], ["--resume", rd]):
        p = run(args, expect=1)
        one_line(p, r"^steer-train: .*run/checkpoint\.bin: the model file \S*tiny\.yaml changed since the "
                    r"checkpoint \(sha256:[0-9a-f]+\.\.\. now sha256:[0-9a-f]+\.\.\.\); resume with the original "
                    r"one, or pass --force")
        if run_files(rd) != good:
            fail("a refused resume changed the run directory")
    with open(model, "w") as f:
        f.write(original)
    # a label changed, same file size: the dataset is refused by name
    labels = os.path.join(d, "data", "train-labels-idx1-ubyte")
    with open(labels, "r+b") as f:
        f.seek(8)
        f.write(bytes([(int(y[0]) + 1) % 3]))
    p = run(["--resume", rd], expect=1)
    one_line(p, r"run/checkpoint\.bin: the dataset \S*train-images-idx3-ubyte\.gz changed since the checkpoint")
    if run_files(rd) != good:
        fail("a refused resume changed the run directory")
    write_idx(os.path.join(d, "data"))
    # the same images compressed again at another time (another gzip header): the same dataset
    images = os.path.join(d, "data", "train-images-idx3-ubyte.gz")
    with gzip.open(images, "rb") as f:
        raw = f.read()
    with open(images, "wb") as f:
        f.write(gzip.compress(raw, mtime=12345))
    # the same model and data again: accepted (a complete run stays as it was)
    run(["--resume", rd])
    if run_files(rd)["tiny.safetensors"] != good["tiny.safetensors"]:
        fail("resuming an unchanged complete run changed its weights")
    # --force only goes with --resume
    run([cfg, "--force"], expect=64)  # EX_USAGE
    # --force: a changed model file is a warning and the run goes on
    with open(model, "w") as f:
        f.write(original.replace("activation: relu}", "activation: leaky_relu}", 1))
    p = run(["--resume", rd, "--force"])
    if not re.search(r"steer-train: warning: .*the model file \S*tiny\.yaml changed since the checkpoint .*"
                     r"continuing \(--force\)", p.stderr):
        fail("--force: no warning: %r" % p.stderr)
    with open(model, "w") as f:
        f.write(original)
    # a version 1 checkpoint (no hashes): accepted with a warning; the weights come from it
    os.remove(os.path.join(rd, "tiny.safetensors"))
    to_v1(os.path.join(rd, "checkpoint.bin"))
    p = run(["--resume", rd])
    if not re.search(r"steer-train: warning: \S*checkpoint\.bin: a version 1 checkpoint \(written before model "
                     r"and dataset hashes\)", p.stderr) or "(already complete)" not in p.stderr:
        fail("version 1 checkpoint: %r" % p.stderr)
    if sha(os.path.join(rd, "tiny.safetensors")) != good["tiny.safetensors"]:
        fail("the weights resumed from a version 1 checkpoint differ from the run's")
    print("resume-arch: model, dataset and version 1 cases as expected")


def case_diverge():
    d, cfg, _, _ = setup("diverge")
    # relu and the loss's clamp can hide NaN parameters behind a finite loss: the gradient norm is
    # checked every step, clipping or not
    for clip in ["0", "5"]:
        shutil.rmtree(os.path.join(d, "run"), ignore_errors=True)
        p = run([cfg, "--set", "optimizer.lr=1e300", "--set", "grad_clip=" + clip], expect=1)
        msg = p.stderr.strip().split("\n")[-1]
        if "training diverged at epoch 1, batch" not in msg or ("loss is" not in msg and "norm is" not in msg) \
                or "stopped before the first checkpoint" not in msg:
            fail("divergence message: %s" % p.stderr)
    rd = os.path.join(d, "run")
    if os.path.exists(os.path.join(rd, "tiny.safetensors")):
        fail("weights written after divergence")
    with open(os.path.join(rd, "metrics.json")) as f:
        m = json.load(f)
    if not m["stopped"]:
        fail("metrics.json does not say why the run stopped: %s" % m)
    if os.path.exists(os.path.join(rd, "checkpoint.bin")) or len(read_csv(os.path.join(rd, "log.csv"))[1]) != 0:
        fail("a checkpoint or log row was written for the diverged epoch")
    print("diverge: %s" % msg)


def case_refuse():
    d, cfg, _, _ = setup("refuse", epochs=2)
    run([cfg])
    rd = os.path.join(d, "run")
    before = {f: sha(os.path.join(rd, f)) for f in os.listdir(rd)}
    p = run([cfg], expect=1)
    if "refusing to overwrite" not in p.stderr or "--resume" not in p.stderr:
        fail("no refusal: %s" % p.stderr)
    after = {f: sha(os.path.join(rd, f)) for f in os.listdir(rd)}
    if before != after:
        fail("the existing run directory changed")
    p = run(["--resume", os.path.join(d, "nothing-here")], expect=66)  # EX_NOINPUT
    # a run killed during its first epoch (config.yaml, no checkpoint) starts over on --resume
    os.remove(os.path.join(rd, "checkpoint.bin"))
    os.remove(os.path.join(rd, "tiny.safetensors"))
    q = run(["--resume", rd])
    if "starting over" not in q.stderr or sha(os.path.join(rd, "tiny.safetensors")) != before["tiny.safetensors"]:
        fail("resume without a checkpoint: %s" % q.stderr)
    print("refuse: %s" % p.stderr.strip())


def case_bad_input():
    d, cfg, _, _ = setup("bad")
    with open(cfg, "a") as f:
        f.write("optimizer.lr_typo: 3\n")
    p = run([cfg], expect=78)
    want = "%s:18:1: optimizer.lr_typo: unknown key" % cfg
    if want not in p.stderr or p.stderr.count("\n") != 1:
        fail("bad config: expected one line with %r, got %r" % (want, p.stderr))
    d, cfg, _, _ = setup("badset")
    p = run([cfg, "--set", "batch_size=-3"], expect=78)
    if p.stderr.strip() != "steer-train: --set batch_size=-3: must be in [1, 65536] (got -3)":
        fail("bad --set: %r" % p.stderr)
    d, cfg, _, _ = setup("channels", channels=3)
    p = run([cfg], expect=1)
    if "images are 8x8x1 but model tiny takes 8x8x3" not in p.stderr:
        fail("channel mismatch: %r" % p.stderr)
    if os.path.exists(os.path.join(d, "run")):
        fail("a run directory was created for a bad dataset")
    p = run([], expect=64)
    print("bad input: ok")


CASES = {"Train": case_train, "Determinism": case_determinism, "Resume": case_resume, "ResumeArch": case_resume_arch,
         "Diverge": case_diverge, "Refuse": case_refuse, "BadInput": case_bad_input}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        sys.exit("usage: test_steer_train.py %s" % "|".join(CASES))
    CASES[sys.argv[1]]()
