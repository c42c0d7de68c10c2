"""test_train.py — adversarial cases for steer-train and the drive-log readers (issue 12): hostile
datasets (truncated IDX, IDX dimensions that would overflow or exceed the limits, labels out of
range, empty drive logs), every non-regular file kind where a file is expected (config, model,
IDX files, drive logs, images a log names, the checkpoint; a FIFO must never block), damaged
checkpoints on --resume (truncated, flipped byte, foreign magic, another model's) and --resume
after the model file or the dataset changed. Each asserts the exit status, one line naming the
file/field/value, no crash or sanitizer report, no hang, and that nothing in a good run's
directory changed. The datasets and models come from the integration tests' generators."""
import gzip
import hashlib
import os
import re
import shutil
import struct
import sys
import unittest

import adv
import test_steer_train as idxgen  # tests/integration (on adv's path): tiny IDX model and data
import test_steer_train_drivelog as dlgen  # tests/integration: drive logs in the three layouts

EX_FAIL = 1


def sha_tree(folder):
    """{name: sha256} of every file in folder (a good run's directory)."""
    out = {}
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as f:
            out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def replace_with(path, kind):
    """Replaces the file at path by a directory, a FIFO (no writer) or a character device."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)
    if kind == "a directory":
        os.mkdir(path)
    elif kind == "a FIFO":
        os.mkfifo(path)
    else:
        os.symlink("/dev/zero", path)


KINDS = ("a directory", "a FIFO", "a character device")


class TrainCase(adv.AdvCase):
    """A folder with the tiny IDX model, its data (raw labels, gzip images) and train.yaml."""

    def setUp(self):
        super().setUp()
        self.data = os.path.join(self.tmp, "data")
        self.x, self.y = idxgen.write_idx(self.data, n=60)
        self.images = os.path.join(self.data, "train-images-idx3-ubyte.gz")
        self.labels = os.path.join(self.data, "train-labels-idx1-ubyte")
        self.model = self.path("tiny.yaml", idxgen.MODEL % 1)
        self.cfg = self.path("train.yaml", idxgen.CONFIG % {"epochs": 2, "output": "run"})
        self.rd = os.path.join(self.tmp, "run")

    def train(self, *args, timeout=60):
        return adv.run([adv.STEER_TRAIN] + list(args), timeout=timeout)

    def fails(self, args, rc, pattern, no_run=True):
        """steer-train args fails with rc and one line matching pattern; with no_run, no run
        directory was created."""
        r = self.train(*args)
        line = self.assert_fails(r, rc, pattern)
        self.assertEqual(len([ln for ln in r.err.splitlines() if ln.strip()]), 1, "more than one line: %r" % r)
        if no_run:
            self.assertFalse(os.path.exists(self.rd), "a run directory was written: %r" % r)
        return line

    def write_images(self, header, data):
        with open(self.images, "wb") as f:
            f.write(gzip.compress(header + data))


class HostileIdx(TrainCase):
    def test_truncated_images(self):
        raw = struct.pack(">IIII", 0x803, 60, 8, 8) + self.x.tobytes()
        self.write_images(raw[:16], raw[16:-100])
        self.fails([self.cfg], EX_FAIL, r"^steer-train: \S*train-images-idx3-ubyte\.gz: truncated image data "
                   r"\(expected 3840 bytes, got 3740\)$")

    def test_truncated_header_and_labels(self):
        with open(self.labels, "wb") as f:
            f.write(struct.pack(">I", 0x801) + b"\x00\x00")
        self.fails([self.cfg], EX_FAIL, r"train-labels-idx1-ubyte: truncated IDX header \(expected 8 bytes, got 6\)$")
        with open(self.labels, "wb") as f:
            f.write(struct.pack(">II", 0x801, 60) + self.y.tobytes()[:59])
        self.fails([self.cfg], EX_FAIL, r"train-labels-idx1-ubyte: truncated label data \(expected 60 bytes, got 59\)$")

    def test_dimensions_overflow_or_exceed(self):
        # count * rows * cols = 2^32 * 2^12 * 2^12 would overflow 32 and be 2^56 bytes: refused by the limit
        for dims, pattern in [((0xFFFFFFFF, 4096, 4096), r"IDX data too large \(expected at most 8589934592 bytes, "
                                                         r"got 72057594021150720\)"),
                              ((60, 0, 8), r"image rows out of range \(expected 1\.\.4096, got 0\)"),
                              ((60, 8, 4097), r"image cols out of range \(expected 1\.\.4096, got 4097\)"),
                              ((60, 0x80000000, 0x80000000), r"image rows out of range \(expected 1\.\.4096, "
                                                             r"got 2147483648\)"),
                              ((0, 8, 8), r"empty IDX images file \(expected a count >= 1, got 0\)")]:
            self.write_images(struct.pack(">IIII", 0x803, *dims), b"\x01" * 64)
            self.fails([self.cfg], EX_FAIL, r"train-images-idx3-ubyte\.gz: " + pattern)

    def test_labels_out_of_range(self):
        y = bytearray(self.y.tobytes())
        y[41] = 7
        with open(self.labels, "wb") as f:
            f.write(struct.pack(">II", 0x801, 60) + bytes(y))
        self.fails([self.cfg], EX_FAIL, r"train-labels-idx1-ubyte: record 41: label out of range "
                   r"\(expected 0\.\.2, got 7\)$")

    def test_count_mismatch_and_swapped_files(self):
        with open(self.labels, "wb") as f:
            f.write(struct.pack(">II", 0x801, 59) + self.y.tobytes()[:59])
        self.fails([self.cfg], EX_FAIL, r"label count does not match the images of \S+ \(expected 60, got 59\)$")
        self.fails([self.cfg, "--set", "dataset.train_labels=" + self.images], EX_FAIL,
                   r"bad magic number for an IDX labels file \(expected 0x00000801, got 0x00000803 = an images file\)")


class NonRegularFiles(TrainCase):
    """A directory, a FIFO (no writer: must not block) and a device where steer-train reads a file."""

    def check(self, victim, args, rc, no_run=True):
        with open(victim, "rb") as f:
            keep = f.read()
        for kind in KINDS:
            replace_with(victim, kind)
            self.fails(args, rc, r"^steer-train: %s: is %s, expected a regular file$" % (
                re.escape(victim), kind), no_run=no_run)
        os.remove(victim)
        with open(victim, "wb") as f:
            f.write(keep)

    def test_config(self):
        self.check(self.cfg, [self.cfg], adv.EX_CONFIG)

    def test_model(self):
        self.check(self.model, [self.cfg], EX_FAIL)

    def test_idx_files(self):
        self.check(self.images, [self.cfg], EX_FAIL)
        self.check(self.labels, [self.cfg], EX_FAIL)

    def test_checkpoint_and_run_config(self):
        r = self.train(self.cfg)
        self.assert_no_crash(r)
        self.assertEqual(r.rc, 0, r)
        ck = os.path.join(self.rd, "checkpoint.bin")
        before = sha_tree(self.rd)
        self.check(ck, ["--resume", self.rd], EX_FAIL, no_run=False)
        self.check(os.path.join(self.rd, "config.yaml"), ["--resume", self.rd], adv.EX_CONFIG, no_run=False)
        self.assertEqual(sha_tree(self.rd), before, "a refused resume changed the run directory")


class DamagedCheckpoint(TrainCase):
    """--resume on a good run whose checkpoint.bin is damaged: one line, exit 1, nothing written."""

    def setUp(self):
        super().setUp()
        r = self.train(self.cfg)
        self.assert_no_crash(r)
        self.assertEqual(r.rc, 0, r)
        self.ck = os.path.join(self.rd, "checkpoint.bin")
        with open(self.ck, "rb") as f:
            self.good = f.read()

    def resume_fails(self, content, pattern, *extra):
        with open(self.ck, "wb") as f:
            f.write(content)
        before = sha_tree(self.rd)
        self.fails(["--resume", self.rd] + list(extra), EX_FAIL, r"^steer-train: \S*run/checkpoint\.bin: " + pattern,
                   no_run=False)
        self.assertEqual(sha_tree(self.rd), before, "a refused resume changed the run directory")

    def test_truncated(self):
        for keep in (0, 100, 280, len(self.good) // 2, len(self.good) - 1):
            self.resume_fails(self.good[:keep], r"truncated")

    def test_oversized(self):
        self.resume_fails(self.good + b"\x00" * 64, r"truncated or oversized checkpoint \(its header announces "
                          r"\d+ parameters, \d+ state floats and 2 epochs; the file has \d+ bytes\)$")

    def test_flipped_byte(self):
        for at in (300, len(self.good) // 2, len(self.good) - 40):
            b = bytearray(self.good)
            b[at] ^= 0x10
            self.resume_fails(bytes(b), r"checksum mismatch \(corrupt checkpoint\)$")

    def test_lying_header(self):
        # parameter count near 2^64: the size arithmetic must not wrap into a "valid" length
        b = bytearray(self.good)
        struct.pack_into("<Q", b, 8 + 8 + 72 + 16 + 8, (1 << 64) - 1)
        self.resume_fails(bytes(b), r"truncated or oversized checkpoint \(its header announces "
                          r"18446744073709551615 parameters")

    def test_foreign_file(self):
        self.resume_fails(b"root:x:0:0:secret-content\n" * 20, r"not a steer-train checkpoint \(bad magic\)$")
        self.assertNotIn("secret-content", self.train("--resume", self.rd).err)
        b = bytearray(self.good)
        struct.pack_into("<I", b, 8, 7)
        self.resume_fails(bytes(b), r"checkpoint version 7 \(header 280 bytes\) is not one this steer-train reads "
                          r"\(1 or 2\)$")

    def test_other_models_checkpoint(self):
        # a run of a wider model: its checkpoint names another model file and holds more parameters
        other = os.path.join(self.tmp, "other")
        os.mkdir(other)
        shutil.copytree(self.data, os.path.join(other, "data"))
        with open(os.path.join(other, "tiny.yaml"), "w") as f:
            f.write((idxgen.MODEL % 1).replace("filters: 8", "filters: 6"))
        cfg = os.path.join(other, "train.yaml")
        with open(cfg, "w") as f:
            f.write(idxgen.CONFIG % {"epochs": 2, "output": "run"})
        r = self.train(cfg)
        self.assertEqual(r.rc, 0, r)
        with open(os.path.join(other, "run", "checkpoint.bin"), "rb") as f:
            foreign = f.read()
        self.resume_fails(foreign, r"the model file \S*tiny\.yaml changed since the checkpoint \(sha256:[0-9a-f]+"
                          r"\.\.\. now sha256:[0-9a-f]+\.\.\.\); resume with the original one, or pass --force")
        # --force cannot make the sizes fit: still refused, by the sizes
        self.resume_fails(foreign, r"sizes do not match the model and optimizer \(expected \d+ parameters", "--force")

    def test_changed_model_and_dataset(self):
        with open(self.model) as f:
            text = f.read()
        with open(self.model, "w") as f:
            f.write(text.replace("activation: relu}", "activation: leaky_relu}", 1))
        self.resume_fails(self.good, r"the model file \S*tiny\.yaml changed since the checkpoint")
        with open(self.model, "w") as f:
            f.write(text)
        y = bytearray(self.y.tobytes())
        y[0] = (y[0] + 1) % 3
        with open(self.labels, "wb") as f:
            f.write(struct.pack(">II", 0x801, 60) + bytes(y))
        self.resume_fails(self.good, r"the dataset \S*train-images-idx3-ubyte\.gz changed since the checkpoint")


class HostileDriveLogs(adv.AdvCase):
    """steer-train on drive logs in each layout: empty, non-regular log file, an image that is a
    FIFO, a denormal angle (accepted)."""

    LOGS = {"udacity": ("driving_log.csv", "IMG/center_2016_12_01_13_30_00_000.jpg", "center"),
            "sullychen": ("data.txt", "data/0.jpg", "file"),
            "donkey": ("catalog_0.catalog", "images/0_cam_image_array_.jpg", "cam/image_array")}

    def setup_log(self, kind, n=12):
        data = os.path.join(self.tmp, kind)
        {"udacity": dlgen.udacity_log, "sullychen": dlgen.sully_log, "donkey": dlgen.donkey_tub}[kind](data, n)
        model = self.path("small.yaml", dlgen.SMALL_MODEL % {"channels": 3})
        cfg = self.path(kind + ".yaml", dlgen.CONFIG % {"model": model, "kind": kind, "train": data, "epochs": 1,
                                                        "aug": ""})
        return data, cfg

    def train_fails(self, cfg, pattern):
        r = adv.run([adv.STEER_TRAIN, cfg], timeout=60)
        self.assert_fails(r, EX_FAIL, pattern)
        self.assertEqual(len([ln for ln in r.err.splitlines() if ln.strip()]), 1, "more than one line: %r" % r)
        self.assertFalse(os.path.exists(self.path("run")), "a run directory was written: %r" % r)

    def test_empty_logs(self):
        for kind, (name, _, _) in self.LOGS.items():
            data, cfg = self.setup_log(kind, n=3)
            with open(os.path.join(data, name), "w"):
                pass
            self.train_fails(cfg, r"^steer-train: \S*%s: no rows \(expected " % re.escape(
                "manifest.json" if kind == "donkey" else name))

    def test_log_file_not_regular(self):
        for kind, (name, _, _) in self.LOGS.items():
            data, cfg = self.setup_log(kind, n=3)
            for k in KINDS:
                replace_with(os.path.join(data, name), k)
                want = re.escape(os.path.join(data, name)) + ": is " + k + ", expected a regular file$"
                if kind == "donkey":
                    want = r"manifest\.json:5: paths: catalog " + want
                self.train_fails(cfg, want)
            shutil.rmtree(data)

    def test_image_not_regular(self):
        for kind, (_, image, field) in self.LOGS.items():
            data, cfg = self.setup_log(kind, n=3)
            for k in KINDS:
                replace_with(os.path.join(data, image), k)
                self.train_fails(cfg, r":[12]: %s: image is %s, expected a regular file \(got '\S*%s'\)$" % (
                    re.escape(field), k, re.escape(os.path.basename(image))))
            shutil.rmtree(data)

    def test_denormal_angle_trains(self):
        data, cfg = self.setup_log("sullychen", n=16)
        with open(os.path.join(data, "data.txt")) as f:
            lines = f.read().splitlines()
        lines[1] = "1.jpg 1e-320," + lines[1].split(",", 1)[1]
        with open(os.path.join(data, "data.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        r = adv.run([adv.STEER_TRAIN, cfg, "--set", "output=" + self.path("run")], timeout=90)
        self.assert_no_crash(r)
        self.assertEqual(r.rc, 0, r)
        self.assertTrue(os.path.isfile(self.path("run/small-steer.safetensors")), r)


if __name__ == "__main__":
    if not adv.STEER_TRAIN:
        print("skipped: steer-train is not built")
        sys.exit(77)
    unittest.main()
