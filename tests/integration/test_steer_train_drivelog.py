#!/usr/bin/python3
"""test_steer_train_drivelog.py — steer-train end to end on driving logs the test generates in
the three layouts (frames: a bright road stripe whose position follows the steering; JPEG through
PIL when it is installed, PNG otherwise — the reader sniffs the format, not the name):
  Udacity      driving_log.csv (Windows paths of another machine) + IMG/ with left/right frames,
               the zoo's models/effnet-steer.yaml, every augmentation on (flip, brightness, side
               cameras, zero down-sampling): 2 epochs, outputs exist, losses finite, weights load
               in `steerctl model run`
  Sully        data.txt (`file angle,date time`, degrees) + data/, a small steering model whose
               output.scale_deg (90) converts the degrees
  Donkey       tub v2: manifest.json with deleted_indexes + 2 catalogs + images/
  Determinism  two runs of one augmented config -> the same weights (sha256)
  BadInput     each a one-line error and a non-zero exit, nothing written over a good run:
               missing images under 1% (trains, one note line) / over 1% (exit 1) /
               over 1% with --allow-missing (trains), corrupt JPEG (names log file, line, image),
               NaN angle in each format, empty log, model with 4 input channels,
               side_cameras on a Sully log (exit 78), a bad row in a log of an existing good run
Environment: STEER_TRAIN, STEERCTL (binaries), STEERD_SOURCE_ROOT, STEERD_TEST_DATA (scratch)."""
import hashlib
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np

TRAIN = os.environ["STEER_TRAIN"]
STEERCTL = os.environ["STEERCTL"]
ROOT = os.environ["STEERD_SOURCE_ROOT"]
SCRATCH = os.path.join(os.environ["STEERD_TEST_DATA"], "steer-train-drivelog")

FH, FW = 24, 48  # frame height, width (tiny; the models crop and resize them)

try:
    from PIL import Image  # python3-pil: real JPEGs
except ImportError:  # pragma: no cover - PNG written by hand instead
    Image = None

SMALL_MODEL = """name: small-steer
description: "test: 2 strided convs, batch norm, dense to one steering value"
input: {height: 12, width: 24, channels: %(channels)d}
preprocess:
  source: {height: 24, width: 48}
  crop: {top: 6, bottom: 24, left: 0, right: 48}
  scale: 0.00392156862745098
  offset: -0.5
output: {kind: steering, scale_deg: 90.0}
layers:
  - {name: c1, type: conv2d, filters: 4, kernel: 3, stride: 2, padding: same, activation: relu}
  - {name: bn, type: batch_norm}
  - {name: c2, type: conv2d, filters: 8, kernel: 3, stride: 2, padding: same, activation: relu}
  - {name: flatten, type: flatten}
  - {name: fc, type: dense, units: 1}
"""

CONFIG = """# the drive-log integration test's config
model: %(model)s
dataset:
  kind: %(kind)s
  train: %(train)s
  queue_depth: 3
task: regression
batch_size: 8
epochs: %(epochs)d
optimizer: {kind: adam, lr: 0.003}
loss: {kind: huber, delta: 0.2}
grad_clip: 5
%(aug)s
val_split: 0.25
seed: 5
threads: 2
output: run
"""

AUG_ALL = """augmentation:
  flip: true
  brightness: 0.3
  side_cameras: true
  steering_correction: 0.2
  zero_threshold: 0.05
  zero_keep: 0.5"""


def fail(msg):
    sys.stderr.write("FAIL: %s\n" % msg)
    sys.exit(1)


def png_bytes(rgb, w, h):
    """A PNG of h rows of w RGB pixels (rgb: bytes), written by hand."""
    raw = b"".join(b"\x00" + rgb[y * w * 3:(y + 1) * w * 3] for y in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def frame(path, steering, shade=0):
    """A frame with a bright stripe at a column that follows the steering."""
    col = int(round((steering + 1) / 2 * (FW - 8)))
    px = bytearray()
    for y in range(FH):
        for x in range(FW):
            v = 220 if col <= x < col + 8 and y >= FH // 4 else 40 + shade + (x + y) % 7
            px += bytes((v, v, min(255, v + 10)))
    if Image is not None:
        Image.frombytes("RGB", (FW, FH), bytes(px)).save(path, format="JPEG", quality=90)
    else:
        with open(path, "wb") as f:
            f.write(png_bytes(bytes(px), FW, FH))


def steering_of(i):
    """Row i's steering: a third of the rows straight (0), the others spread over [-0.8, 0.8]."""
    return 0.0 if i % 3 == 0 else round(math.sin(i * 0.7) * 0.8, 4)


def udacity_log(folder, n, skip=(), bad_rows=None):
    """driving_log.csv (header, Windows paths) + IMG/: rows whose index is in skip have no centre
    image; bad_rows maps a row index to a replacement steering text."""
    os.makedirs(os.path.join(folder, "IMG"), exist_ok=True)
    lines = ["center,left,right,steering,throttle,brake,speed"]
    for i in range(n):
        s = steering_of(i)
        names = ["%s_2016_12_01_13_30_%02d_%03d.jpg" % (cam, i // 10, (i % 10) * 100) for cam in ("center", "left", "right")]
        if i not in skip:
            frame(os.path.join(folder, "IMG", names[0]), s)
        frame(os.path.join(folder, "IMG", names[1]), min(1.0, s + 0.2), shade=5)
        frame(os.path.join(folder, "IMG", names[2]), max(-1.0, s - 0.2), shade=9)
        st = (bad_rows or {}).get(i, "%g" % s)
        lines.append(",".join(["C:\\Users\\sim\\Desktop\\run\\IMG\\" + nm for nm in names] + [st, "0.5", "0", "30.1"]))
    with open(os.path.join(folder, "driving_log.csv"), "w") as f:
        f.write("\r\n".join(lines) + "\r\n")


def sully_log(folder, n, bad_rows=None):
    """data.txt (`file angle,date time`, degrees up to 72 of the model's 90) + data/ images."""
    os.makedirs(os.path.join(folder, "data"), exist_ok=True)
    lines = []
    for i in range(n):
        s = steering_of(i)
        frame(os.path.join(folder, "data", "%d.jpg" % i), s)
        deg = (bad_rows or {}).get(i, "%.6f" % (s * 90.0))
        lines.append("%d.jpg %s,2018-07-01 17:%02d:%02d:%03d" % (i, deg, 9 + i // 600, (i // 10) % 60, (i % 10) * 100))
    with open(os.path.join(folder, "data.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def donkey_tub(folder, n, deleted=(), bad_rows=None):
    """manifest.json (5 lines) + catalog_0/1.catalog (CRLF records, 20 per catalog) + images/."""
    os.makedirs(os.path.join(folder, "images"), exist_ok=True)
    per = 20
    paths = ["catalog_%d.catalog" % k for k in range((n + per - 1) // per)]
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        f.write(json.dumps(["cam/image_array", "user/angle", "user/throttle", "user/mode"]) + "\n")
        f.write(json.dumps(["image_array", "float", "float", "str"]) + "\n")
        f.write("{}\n")
        f.write(json.dumps({"created_at": 1613808000.0, "sessions": {"all_full_ids": ["21-02-20_0"]}}) + "\n")
        f.write(json.dumps({"paths": paths, "current_index": n, "max_len": per, "deleted_indexes": list(deleted)}) + "\n")
    for k, p in enumerate(paths):
        with open(os.path.join(folder, p), "w", newline="") as f:
            for i in range(k * per, min(n, (k + 1) * per)):
                name = "%d_cam_image_array_.jpg" % i
                frame(os.path.join(folder, "images", name), steering_of(i))
                rec = {"_index": i, "_session_id": "21-02-20_0", "_timestamp_ms": 1613808000000 + 50 * i,
                       "cam/image_array": name, "user/angle": steering_of(i), "user/mode": "user",
                       "user/throttle": 0.3}
                text = json.dumps(rec, sort_keys=True)
                if bad_rows and i in bad_rows:
                    text = text.replace('"user/angle": %s' % json.dumps(steering_of(i)), '"user/angle": ' + bad_rows[i])
                f.write(text + "\r\n")


def setup(case, kind, n=40, model=None, aug="", epochs=2, channels=3, **kw):
    """A case folder with the log (in data/), the model and train.yaml."""
    d = os.path.join(SCRATCH, case)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    data = os.path.join(d, "data")
    {"udacity": udacity_log, "sullychen": sully_log, "donkey": donkey_tub}[kind](data, n, **kw)
    if model is None:
        with open(os.path.join(d, "small.yaml"), "w") as f:
            f.write(SMALL_MODEL % {"channels": channels})
        model = "small.yaml"
    cfg = os.path.join(d, "train.yaml")
    with open(cfg, "w") as f:
        f.write(CONFIG % {"model": model, "kind": kind, "train": "data", "epochs": epochs, "aug": aug})
    return d, cfg


def run(args, expect=0, timeout=150):
    p = subprocess.run([TRAIN] + args, capture_output=True, text=True, timeout=timeout)
    if p.returncode != expect:
        fail("steer-train %s: exit %d (expected %d)\nstdout: %s\nstderr: %s" %
             (" ".join(args), p.returncode, expect, p.stdout, p.stderr))
    return p


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def check_run(d, weights, epochs=2):
    """The run directory's outputs exist; every logged loss is finite; returns metrics.json."""
    rd = os.path.join(d, "run")
    for f in [weights, "checkpoint.bin", "log.csv", "metrics.json", "curve.svg", "config.yaml"]:
        if not os.path.isfile(os.path.join(rd, f)):
            fail("missing %s in %s (has %s)" % (f, rd, os.listdir(rd)))
    with open(os.path.join(rd, "log.csv")) as f:
        lines = f.read().strip().split("\n")
    head = lines[0].split(",")
    rows = [dict(zip(head, l.split(","))) for l in lines[1:]]
    if len(rows) != epochs:
        fail("log.csv has %d rows, expected %d" % (len(rows), epochs))
    for r in rows:
        for k in ("train_loss", "val_loss", "train_mae", "val_mae"):
            if k in r and not math.isfinite(float(r[k])):
                fail("log.csv %s is not finite: %s" % (k, r))
    with open(os.path.join(rd, "metrics.json")) as f:
        m = json.load(f)
    return m, rows


def one_line_error(p, *needles):
    """stderr's last line has every needle; the error is that one line."""
    lines = [l for l in p.stderr.strip().split("\n") if l]
    if not lines:
        fail("no error message (exit %d)" % p.returncode)
    last = lines[-1]
    for n in needles:
        if n not in last:
            fail("error line lacks %r:\n%s" % (n, p.stderr))
    if not last.startswith("steer-train: "):
        fail("error line does not start with 'steer-train: ': %s" % last)
    return last


def case_udacity():
    d, cfg = setup("udacity", "udacity", n=24, model=os.path.join(ROOT, "models", "effnet-steer.yaml"), aug=AUG_ALL)
    p = run([cfg])
    m, rows = check_run(d, "effnet-steer.safetensors")
    # 24 rows -> 18 training rows, 6 straight: zero_keep 0.5 keeps 3 of those -> 15 per epoch, 1 batch
    if "18 train / 6 validation items, 1 batches of 8 per epoch" not in p.stderr:
        fail("expected an 18/6 split and 15 items (1 batch) per epoch:\n%s" % p.stderr)
    if "epoch 2/2" not in p.stderr:
        fail("no per-epoch line:\n%s" % p.stderr)
    # the trained weights load and run in the engine (steerctl model run): finite steering values
    x = os.path.join(d, "x.npy")
    y = os.path.join(d, "y.npy")
    np.save(x, np.linspace(-0.5, 0.5, 2 * 128 * 128 * 3, dtype=np.float32).reshape(2, 128, 128, 3))
    out = subprocess.run([STEERCTL, "model", "run", os.path.join(ROOT, "models", "effnet-steer.yaml"),
                          os.path.join(d, "run", "effnet-steer.safetensors"), "--input", x, "--output", y],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        fail("steerctl model run on the trained weights: exit %d\n%s%s" % (out.returncode, out.stdout, out.stderr))
    pred = np.load(y)
    if pred.shape != (2, 1) or not np.all(np.isfinite(pred)):
        fail("predictions %s" % pred)


def case_sully():
    d, cfg = setup("sully", "sullychen", n=40, aug="augmentation: {flip: true, brightness: 0.2}")
    run([cfg])
    m, rows = check_run(d, "small-steer.safetensors")


def case_donkey():
    d, cfg = setup("donkey", "donkey", n=44, deleted=(2, 21, 30, 31))
    p = run([cfg])
    check_run(d, "small-steer.safetensors")
    if "4 records marked deleted in manifest.json skipped" not in p.stderr:
        fail("no note about the deleted records:\n%s" % p.stderr)
    if "30 train / 10 validation items" not in p.stderr:
        fail("expected 40 records (44 - 4 deleted) split 30/10:\n%s" % p.stderr)


def case_determinism():
    d, cfg = setup("determinism", "udacity", n=32, aug=AUG_ALL)
    run([cfg])
    a = sha(os.path.join(d, "run", "small-steer.safetensors"))
    run([cfg, "--set", "output=%s" % os.path.join(d, "run2")])
    b = sha(os.path.join(d, "run2", "small-steer.safetensors"))
    if a != b:
        fail("same config and seed gave different weights: %s vs %s" % (a, b))
    run([cfg, "--set", "output=%s" % os.path.join(d, "run3"), "--set", "seed=6"])
    c = sha(os.path.join(d, "run3", "small-steer.safetensors"))
    if c == a:
        fail("another seed gave the same weights")


def case_bad_input():
    # missing images: 1 of 120 (0.8%) trains with a note; 2 of 120 (1.7%) fails unless allowed
    d, cfg = setup("missing-under", "udacity", n=120, skip=(7,), epochs=1)
    p = run([cfg])
    if "1 of 120 listed images are missing (0.83%): 1 rows left out, 119 used" not in p.stderr:
        fail("no note about the missing image:\n%s" % p.stderr)
    d, cfg = setup("missing-over", "udacity", n=120, skip=(7, 50), epochs=1)
    p = run([cfg], expect=1)
    one_line_error(p, "2 of 120 listed images are missing (1.7%, more than 1%; --allow-missing",
                   "driving_log.csv:9: center: image not found in ")
    if os.path.exists(os.path.join(d, "run")):
        fail("a failed start wrote the run directory")
    p = run([cfg, "--allow-missing"])
    check_run(d, "small-steer.safetensors", epochs=1)
    if "2 rows left out, 118 used" not in p.stderr:
        fail("no note with --allow-missing:\n%s" % p.stderr)
    # corrupt JPEG: a JPEG header then garbage in the middle of the log
    d, cfg = setup("corrupt", "udacity", n=24, epochs=1)
    with open(os.path.join(d, "data", "IMG", "center_2016_12_01_13_30_01_300.jpg"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xdb" + b"\x07" * 40)
    p = run([cfg, "--set", "val_split=0"], expect=1)
    one_line_error(p, "driving_log.csv:15: center: ", "center_2016_12_01_13_30_01_300.jpg: corrupt JPEG")
    if os.path.exists(os.path.join(d, "run", "small-steer.safetensors")):
        fail("weights written after a corrupt frame")
    # NaN / Inf / non-numeric angles, one per format
    d, cfg = setup("nan-udacity", "udacity", n=20, bad_rows={4: "nan"}, epochs=1)
    one_line_error(run([cfg], expect=1), "driving_log.csv:6: steering: expected a number (got 'nan')")
    d, cfg = setup("nan-sully", "sullychen", n=20, bad_rows={3: "inf"}, epochs=1)
    one_line_error(run([cfg], expect=1), "data.txt:4: angle: expected a number of degrees (got 'inf')")
    d, cfg = setup("nan-donkey", "donkey", n=20, bad_rows={5: "NaN"}, epochs=1)
    one_line_error(run([cfg], expect=1), "catalog_0.catalog:6: user/angle: expected a number (got 'NaN')")
    d, cfg = setup("text-sully", "sullychen", n=20, bad_rows={0: "left"}, epochs=1)
    one_line_error(run([cfg], expect=1), "data.txt:1: angle: expected a number of degrees (got 'left')")
    # an empty log
    d, cfg = setup("empty", "udacity", n=0, epochs=1)
    one_line_error(run([cfg], expect=1), "driving_log.csv: no rows (expected center,left,right,steering,")
    # a model taking 4 channels
    d, cfg = setup("channels", "udacity", n=20, channels=4, epochs=1)
    one_line_error(run([cfg], expect=1), "the model takes 12x24x4 (HxWxC) but driving-log frames are RGB")
    # side cameras on a one-camera log: a config error
    d, cfg = setup("sides-sully", "sullychen", n=20, aug="augmentation: {side_cameras: true}", epochs=1)
    one_line_error(run([cfg], expect=78), "augmentation.side_cameras: needs dataset.kind udacity")
    # a good run, then its log gets a bad row: the rerun fails first, the run stays as it was
    d, cfg = setup("good-then-bad", "sullychen", n=24, epochs=1)
    run([cfg])
    rd = os.path.join(d, "run")
    before = {f: sha(os.path.join(rd, f)) for f in os.listdir(rd)}
    with open(os.path.join(d, "data", "data.txt"), "a") as f:
        f.write("0.jpg nan\n")
    one_line_error(run([cfg, "--resume", rd], expect=1), "data.txt:25: angle: expected a number of degrees (got 'nan')")
    one_line_error(run([cfg], expect=1), "data.txt:25: angle")
    after = {f: sha(os.path.join(rd, f)) for f in os.listdir(rd)}
    if before != after:
        fail("the good run directory changed: %s -> %s" % (before, after))


CASES = {"Udacity": case_udacity, "Sully": case_sully, "Donkey": case_donkey, "Determinism": case_determinism,
         "BadInput": case_bad_input}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        sys.exit("usage: test_steer_train_drivelog.py %s" % "|".join(CASES))
    CASES[sys.argv[1]]()
    print("ok: %s" % sys.argv[1])
