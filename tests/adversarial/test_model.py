"""test_model.py — adversarial cases for the model area (issue 12, defects 1, 7, 11, 13): hostile model
YAMLs (huge dimensions in every field and layer type) through `steerctl model info/init/run`, crafted
safetensors (bad header length, truncation, NaN/inf, negative batch-norm variance, 3e38 weights) through
`steerctl model run` and `steerd --check-config`, hostile .npy inputs, a secret file given as spec,
weights, input and config, and non-regular files (FIFO, directory, /dev/zero) as spec and weights (--input may be a stream: a
FIFO is read like cat; a character device that is not a terminal, /dev/zero, is refused). Every case
asserts the exit status, the message, no crash (ASan/UBSan), no hang and no echo of file contents."""
import json
import os
import struct
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adv  # noqa: E402
import harness  # noqa: E402  (tests/integration/harness.py, put on the path by adv)

# A small model with every parameter kind: conv (weight, bias), batch norm (4 vectors), dense.
SMALL = """name: small
input: {height: 4, width: 4, channels: 3}
output: {kind: steering, scale_deg: 25}
layers:
  - {name: c, type: conv2d, filters: 3, kernel: 1}
  - {name: bn, type: batch_norm}
  - {name: r, type: relu}
  - {name: f, type: flatten}
  - {name: d, type: dense, units: 1}
"""

# A line of /etc/shadow: what must never reach a message.
SECRET = "root:$6$Zq8hUeWm3Kx9$Yb0sVQp1tLr7cN2gHdJf4aEi6oMkWzXu5yS8vTnB3qRlCeD1GhPjA0F9KwI7mU2xZ" \
         ":19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"
SECRET_PART = "Zq8hUeWm3Kx9"

EXCEEDS = r"exceeds the limit of \d+"


def yaml_model(h, w, c, layers):
    return "name: m\ninput: {height: %s, width: %s, channels: %s}\noutput: {kind: values}\nlayers:\n%s" % (
        h, w, c, "".join("  - %s\n" % l for l in layers))


def npy_bytes(shape, values, descr="<f4", extra=""):
    """A version 1.0 .npy file (no numpy needed); extra is inserted into the header dict."""
    hdr = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), %s}" % (
        descr, "".join("%d, " % d for d in shape) if len(shape) != 1 else "%d," % shape[0], extra)
    hdr += " " * (63 - (10 + len(hdr)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + struct.pack("<%df" % len(values),
                                                                                          *values)


def read_st(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), bytearray(raw[8 + n:])


def write_st(path, header, data):
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + bytes(data))


class ModelCase(adv.AdvCase):
    def steerctl(self, *args, **kw):
        return adv.run([adv.STEERCTL] + list(args), **kw)

    def small(self):
        """The small model's spec and He-initialised weights (without a checksum, so they can be edited)."""
        spec = self.path("small.yaml", SMALL)
        w = self.path("small.safetensors")
        r = self.steerctl("model", "init", spec, "--seed", "1", "-o", w)
        self.assertEqual(r.rc, 0, r)
        header, data = read_st(w)
        header.get("__metadata__", {}).pop("checksum", None)
        write_st(w, header, data)
        return spec, w

    def set_values(self, w, tensor, index, values):
        header, data = read_st(w)
        begin = header[tensor]["data_offsets"][0]
        for k, v in enumerate(values):
            struct.pack_into("<f", data, begin + 4 * (index + k), v)
        write_st(w, header, data)

    def x_input(self, n=1, value=0.5):
        return self.path("x.npy", npy_bytes([n, 4, 4, 3], [value] * (n * 48)), "wb")

    def model_run(self, spec, w, x=None, out=None):
        return self.steerctl("model", "run", spec, w, "--input", x or self.x_input(),
                             "--output", out or self.path("y.npy"))

    def check_config(self, spec, w):
        cfg = harness.base_config()
        cfg["model"] = {"spec": spec, "weights": w}
        path = self.path("steerd.yaml")
        harness.write_config(path, cfg)
        env = {"STEERD_TEST_DATA": adv.DATA}
        return adv.run([adv.STEERD, "--check-config", path], env=env)


class HugeDimensions(ModelCase):
    """Defect 1: every size product is checked against the documented limits before allocation."""

    # (what, yaml) -> refused with the limit message by info, init and run
    CASES = [
        ("issue input 7604x8069x70 + dense", yaml_model(7604, 8069, 70, ["{name: d, type: dense, units: 1}"])),
        ("1 TiB input", yaml_model(8192, 8192, 4096, ["{name: d, type: dense, units: 1}"])),
        ("conv2d filters", yaml_model(8192, 8192, 16, ["{name: c, type: conv2d, filters: 65536, kernel: 1}"])),
        ("conv2d kernel (parameters)", yaml_model(8, 8, 4096, [
            "{name: c, type: conv2d, filters: 65536, kernel: 4096, padding: same}"])),
        ("conv2d padding", yaml_model(8192, 8192, 16, [
            "{name: c, type: conv2d, filters: 16, kernel: 3, padding: [4000, 4000, 4000, 4000]}"])),
        ("depthwise depth_multiplier", yaml_model(4096, 4096, 64, [
            "{name: d, type: depthwise_conv2d, kernel: 1, depth_multiplier: 256}"])),
        ("max_pool2d padding", yaml_model(8192, 8192, 16, [
            "{name: p, type: max_pool2d, pool: 4096, stride: 1, padding: [4095, 4095, 4095, 4095]}"])),
        ("dense units", yaml_model(1024, 1024, 1, ["{name: d, type: dense, units: 1048576}"])),
        ("concat", yaml_model(8192, 8192, 16, ["{name: j, type: concat, inputs: [input, input]}"])),
        ("effnet_block ch_mid", yaml_model(8192, 8192, 1, [
            "{name: b, type: effnet_block, ch_mid: 65536, ch_out: 8}"])),
        ("mobilenet_block filters", yaml_model(8192, 8192, 1, ["{name: b, type: mobilenet_block, filters: 65536}"])),
        ("shuffle_unit ch_mid", yaml_model(8192, 8192, 2, [
            "{name: b, type: shuffle_unit, ch_mid: 65536, filters: 64, groups: 2}"])),
        ("activations of one sample", yaml_model(4096, 4096, 64, ["{name: r%d, type: relu}" % i for i in range(5)])),
    ]

    def test_every_layer_type_refused_by_info_init_run(self):
        w = self.path("w.safetensors", "")
        for what, text in self.CASES:
            with self.subTest(what):
                spec = self.path("m.yaml", text)
                for args in (["model", "info", spec], ["model", "init", spec, "--seed", "1", "-o", w],
                             ["model", "run", spec, w, "--input", w, "--output", self.path("y.npy")]):
                    r = self.steerctl(*args)
                    self.assert_fails(r, 1, r"m\.yaml:\d+:\d+: .*" + EXCEEDS)
                self.assertFalse(os.path.exists(self.path("y.npy")))

    def test_issue_message(self):
        spec = self.path("m.yaml", self.CASES[0][1])
        r = self.steerctl("model", "info", spec)
        self.assert_fails(r, 1, r"m\.yaml:2:8: input: shape 7604x8069x70 = 4\.29e\+09 elements exceeds the limit of "
                          r"1073741824 elements per tensor")

    def test_out_of_range_values(self):
        for value in ("99999999", "2147483648", "4294967296", "9223372036854775808", "-1"):
            for layer in ("{name: c, type: conv2d, filters: %s, kernel: 1}", "{name: c, type: conv2d, filters: 2, "
                          "kernel: %s}", "{name: d, type: dense, units: %s}", "{name: d, type: depthwise_conv2d, "
                          "kernel: 1, depth_multiplier: %s}"):
                with self.subTest(value=value, layer=layer):
                    r = self.steerctl("model", "info", self.path("m.yaml", yaml_model(8, 8, 4, [layer % value])))
                    self.assert_fails(r, 1, r"m\.yaml:5:\d+: \w+: (must be in \[|expected an integer)")
            for field in ("height", "width", "channels"):
                dims = {"height": 8, "width": 8, "channels": 4}
                dims[field] = value
                text = yaml_model(dims["height"], dims["width"], dims["channels"], ["{name: r, type: relu}"])
                r = self.steerctl("model", "info", self.path("m.yaml", text))
                self.assert_fails(r, 1, r"m\.yaml:2:\d+: input\.%s: (must be in \[|expected an integer)" % field)

    def test_daemon_refuses_huge_model(self):
        spec = self.path("m.yaml", self.CASES[0][1])
        r = self.check_config(spec, self.path("w.safetensors", ""))
        self.assert_fails(r, adv.EX_CONFIG, EXCEEDS)


class CraftedWeights(ModelCase):
    """Defects 7 and 13: weights are validated on load and by a self-check forward pass."""

    def test_sound_weights_run(self):
        spec, w = self.small()
        r = self.model_run(spec, w)
        self.assertEqual(r.rc, 0, r)
        self.assert_no_crash(r)

    def test_non_finite_values(self):
        for tensor, index, value, shown in (("c.weight", 2, float("nan"), "nan"), ("d.weight", 7, float("inf"), "inf"),
                                            ("bn.running_mean", 0, float("-inf"), "-inf"),
                                            ("c.bias", 1, float("nan"), "nan")):
            with self.subTest(tensor=tensor):
                spec, w = self.small()
                self.set_values(w, tensor, index, [value])
                r = self.model_run(spec, w)
                self.assert_fails(r, 1, r"small\.safetensors: tensor '%s': value %s at index %d \(must be finite\)" % (
                    tensor, shown, index))
                r = self.check_config(spec, w)
                self.assert_fails(r, adv.EX_CONFIG, r"tensor '%s': value %s at index %d" % (tensor, shown, index))

    def test_negative_bn_variance(self):
        spec, w = self.small()
        self.set_values(w, "bn.running_var", 1, [-1.0])
        r = self.model_run(spec, w)
        self.assert_fails(r, 1, r"small\.safetensors: tensor 'bn\.running_var': value -1 at index 1 \(must be >= 0\)")
        r = self.check_config(spec, w)
        self.assert_fails(r, adv.EX_CONFIG, r"tensor 'bn\.running_var': value -1 at index 1 \(must be >= 0\)")

    def test_huge_weights_fail_the_self_check(self):
        spec, w = self.small()
        self.set_values(w, "d.weight", 0, [3e38] * 48)
        r = self.model_run(spec, w)
        self.assert_fails(r, 1, r"small\.safetensors: self-check: output 0 is -?(inf|nan) for the fixed test input "
                          r"\(non-finite values start at layer 'd' \(dense\)\)")
        self.assertFalse(os.path.exists(self.path("y.npy")))
        r = self.check_config(spec, w)
        self.assert_fails(r, adv.EX_CONFIG, r"self-check: output 0 is")

    def test_non_finite_input_and_output(self):
        spec, w = self.small()
        r = self.model_run(spec, w, x=self.x_input(2, float("nan")))
        self.assert_fails(r, 1, r"x\.npy: sample 0: input value 0 is nan \(non-finite\)")
        # finite weights and input, an output that overflows: refused, naming the sample and output
        r = self.model_run(spec, w, x=self.x_input(2, -3e38))
        self.assert_fails(r, 1, r"small\.safetensors: sample 0: output 0 is -?(inf|nan) \(non-finite\)")
        self.assertFalse(os.path.exists(self.path("y.npy")))

    def test_bad_header_length(self):
        spec, w = self.small()
        for length, pattern in ((2 ** 63 + 12345, r"not a safetensors file: the header length \(bytes 0-7, "
                                 r"little-endian\) exceeds the limit of 100000000 bytes"),
                                (5000000, r"the header length \(bytes 0-7\) exceeds the \d+ bytes after the length "
                                 r"field \(truncated file\?\)")):
            with open(w, "r+b") as f:
                f.write(struct.pack("<Q", length))
            r = self.model_run(spec, w)
            self.assert_fails(r, 1, pattern)
            self.assertNotIn(str(length), r.err)

    def test_truncated(self):
        spec, w = self.small()
        size = os.path.getsize(w)
        for keep in (size - 4, size // 2, 9, 3, 0):
            with self.subTest(keep=keep):
                with open(w, "r+b") as f:
                    f.truncate(keep)
                r = self.model_run(spec, w)
                self.assert_fails(r, 1, r"small\.safetensors: .*(past end of data|exceeds the \d+ bytes|too short|"
                                  r"invalid JSON)")


class HostileNpy(ModelCase):
    def test_inputs(self):
        spec, w = self.small()
        good = npy_bytes([1, 4, 4, 3], [0.5] * 48)
        cases = [
            ("no magic", b"PK\x03\x04" + b"\0" * 60, r"not a \.npy file"),
            ("truncated data", good[:-8], r"truncated: expected 192 bytes of data, found 184"),
            ("wrong shape", npy_bytes([1, 4, 4, 2], [0.5] * 32), r"shape \[1, 4, 4, 2\], expected \[N, 4, 4, 3\]"),
            ("huge shape", npy_bytes([2 ** 40, 2 ** 40, 4, 2], []), r"shape is too large|truncated"),
            ("big-endian", npy_bytes([1, 4, 4, 3], [0.5] * 48, ">f4"), r"unsupported dtype '>f4'"),
            ("secret key", npy_bytes([1, 4, 4, 3], [0.5] * 48, extra="'" + SECRET.split("\n")[0][:30] + "': 1, "),
             r"x\.npy: header: unknown key <30 bytes, not shown>"),
            ("secret garbage", npy_bytes([1, 4, 4, 3], [0.5] * 48, extra=SECRET.split("\n")[0][:40]),
             r"x\.npy: header: expected a quoted key at byte \d+$"),
            ("secret dtype", npy_bytes([1, 4, 4, 3], [0.5] * 48, descr=SECRET[:39]),
             r"x\.npy: unsupported dtype <39 bytes, not shown>"),
        ]
        for what, raw, pattern in cases:
            with self.subTest(what):
                x = self.path("x.npy", raw, "wb")
                r = self.model_run(spec, w, x=x)
                self.assert_fails(r, 1, pattern, leak=SECRET_PART)


class SecretFiles(ModelCase):
    """Defect 11: a file's bytes never reach a message."""

    def test_secret_as_spec_weights_input_config(self):
        spec, w = self.small()
        secret = self.path("shadow", SECRET)
        variants = [SECRET, "root: " + SECRET, "{" + SECRET.replace("\n", " ") + ": 1}",
                    "name: m\n" + SECRET, "name: m\ninput: {height: " + SECRET.split("\n")[0] + "}\n"]
        for i, text in enumerate(variants):
            with self.subTest(variant=i):
                with open(secret, "w") as f:
                    f.write(text)
                for args in (["model", "info", secret], ["model", "run", secret, w, "--input", self.x_input(),
                                                          "--output", self.path("y.npy")],
                             ["model", "run", spec, secret, "--input", self.x_input(), "--output", self.path("y.npy")],
                             ["model", "run", spec, w, "--input", secret, "--output", self.path("y.npy")]):
                    r = self.steerctl(*args)
                    self.assert_fails(r, 1, r"shadow", leak=SECRET_PART)
                r = adv.run([adv.STEERD, "--check-config", secret])
                self.assert_fails(r, adv.EX_CONFIG, r"shadow", leak=SECRET_PART)
                r = self.check_config(secret, w)
                self.assert_fails(r, adv.EX_CONFIG, r"shadow", leak=SECRET_PART)
                r = self.check_config(spec, secret)
                self.assert_fails(r, adv.EX_CONFIG, r"shadow", leak=SECRET_PART)

    def test_weights_header_as_number(self):
        spec, _ = self.small()
        secret = self.path("shadow", SECRET)
        r = self.model_run(spec, secret)
        self.assert_fails(r, 1, r"shadow: not a safetensors file", leak=SECRET_PART)
        self.assertNotIn(str(struct.unpack("<Q", SECRET[:8].encode())[0]), r.err)


class NonRegularFiles(ModelCase):
    def test_fifo_directory_device(self):
        spec, w = self.small()
        fifo = self.path("fifo")
        os.mkfifo(fifo)
        for other, kind in ((fifo, "a FIFO"), (self.tmp, "a directory"), ("/dev/zero", "a character device")):
            for role in ("spec", "weights"):
                with self.subTest(kind=kind, role=role):
                    args = {"spec": [other, w], "weights": [spec, other]}[role]
                    r = self.model_run(*args)
                    self.assert_fails(r, 1, r"%s: is %s, expected a regular file" % (other, kind))
            r = self.steerctl("model", "info", other)
            self.assert_fails(r, 1, r"is %s, expected a regular file" % kind)
            r = self.check_config(spec, other)
            self.assert_fails(r, adv.EX_CONFIG, r"is %s, expected a regular file" % kind)
        # --input is a command-line input: a directory is refused, a FIFO is read as a stream (like cat)
        r = self.model_run(spec, w, x=self.tmp)
        self.assert_fails(r, 1, r"%s: is a directory, expected a file or a stream" % self.tmp)
        r = self.model_run(spec, w, x="/dev/zero")
        self.assert_fails(r, 1, r"/dev/zero: is a character device, expected a file or a stream")
        self.assertLess(r.secs, 10, "read /dev/zero instead of refusing it: %r" % r)
        def write_fifo():
            with open(fifo, "wb") as f:
                f.write(npy_bytes([1, 4, 4, 3], [0.5] * 48))
        writer = threading.Thread(target=write_fifo)
        writer.start()
        r = self.model_run(spec, w, x=fifo)
        writer.join(10)
        self.assertEqual(r.rc, 0, r)
        self.assert_no_crash(r)


if __name__ == "__main__":
    unittest.main()
