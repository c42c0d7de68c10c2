#!/usr/bin/env python3
"""test_replay.py — recorded drives end to end, with real processes: steerd streaming the
image-sequence (multifilesrc) and video-file (filesrc ! decodebin) presets documented in
config/steerd.yaml, a hung inference stopping the systemd watchdog pings, and `steerctl replay`
on a Udacity simulator folder (CSV contents, MAE/RMSE recomputed here, --publish received by a
python3-zmq subscriber, the same predictions as steerd on the same frames, --rate pacing).
Frames and videos are made here with gst-launch-1.0 (gstreamer1.0-tools); nothing is downloaded.
Run one case:
    STEERD=build/steerd STEERCTL=build/steerctl STEERD_SOURCE_ROOT=. STEERD_TEST_DATA=build/tests \
        python3 tests/integration/test_replay.py Replay"""
import csv
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import zmq  # noqa: E402

GST_LAUNCH = shutil.which("gst-launch-1.0")
SKIP = 77  # meson: skipped


class QuickContext(zmq.Context):
    """Sockets that retry a connect every 10 ms (default 100 ms): the harness's SUB connects before
    steerd binds, and a file source starts publishing right after the bind (a PUB drops messages
    sent before a subscriber is connected)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setsockopt(zmq.RECONNECT_IVL, 10)


h.zmq.Context = QuickContext


def gst(pipeline):
    """Runs a gst-launch-1.0 pipeline given as one string (tokens split on spaces)."""
    r = subprocess.run([GST_LAUNCH, "-q"] + pipeline.split(), capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError("gst-launch-1.0 %s failed: %s" % (pipeline, r.stderr))


def make_frames(directory, n, ext, name="seq_%04d", width=320, height=160):
    """n test-pattern frames (jpg or png) named name % i + ext in directory."""
    enc = {"jpg": "jpegenc", "png": "pngenc"}[ext]
    gst("videotestsrc num-buffers=%d pattern=ball ! video/x-raw,width=%d,height=%d ! videoconvert ! %s ! "
        "multifilesink location=%s" % (n, width, height, enc, os.path.join(directory, name + "." + ext)))
    return [os.path.join(directory, name % i + "." + ext) for i in range(n)]


def preset(title):
    """The pipeline preset `title` as documented in config/steerd.yaml's comments."""
    with open(os.path.join(h.ROOT, "config", "steerd.yaml")) as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("  #   " + title):
            out = []
            for more in lines[i + 1:]:
                if not more.startswith("  #     "):
                    break
                out.append(more[len("  #     "):].strip())
            return " ".join(out)
    raise AssertionError("no preset %r in config/steerd.yaml" % title)


def check_tail(tc, steer, n, min_received=None):
    """steer messages for frames ..n-1 in order (the first few may leave before the SUB joined):
    at least min_received of them (default: more than half)."""
    ids = [m["frame_id"] for m in steer]
    tc.assertGreaterEqual(len(ids), n // 2 + 1 if min_received is None else min_received,
                          "too few steer messages received")
    tc.assertEqual(ids, list(range(n - len(ids), n)))


def run_to_eos(tc, pipeline, model="effnet-steer"):
    """steerd with this source in back-pressure mode until end of stream: (steer msgs, final stats)."""
    cfg = h.base_config(model)
    cfg["source"].update({"pipeline": pipeline, "drop": False, "on_eos": "exit"})
    d = h.Daemon(cfg)
    try:
        msgs = d.collect(lambda m: m[0] == "stats" and m[1]["final"], 1, timeout=180)
        tc.assertEqual(d.proc.wait(60), 0, d.stderr())
        steer = [m for t, m in msgs if t == "steer"]
        for m in steer:
            h.check_steer(tc, m)
        final = msgs[-1][1]
        h.check_stats(tc, final)
        tc.assertEqual(final["status"], "eos")
        tc.assertEqual(final["dropped"], 0)
        return steer, final, d.stderr()
    finally:
        d.close()


class ImageSequence(unittest.TestCase):
    """The documented multifilesrc preset: every image of a sequence becomes one steer message."""

    def test_image_sequence(self):
        n = 100
        with tempfile.TemporaryDirectory(prefix="steerd-seq-") as tmp:
            make_frames(tmp, n, "jpg", name="center_%04d")
            pipe = preset("image sequence").replace("/data/IMG", tmp)
            self.assertIn("multifilesrc location=%s/center_%%04d.jpg" % tmp, pipe)
            steer, final, err = run_to_eos(self, pipe)
            self.assertEqual(final["frames"], n, err)
            self.assertEqual(final["frames_in"], n, err)
            check_tail(self, steer, n)
            self.assertIn("end of stream after %d frames" % n, err)


class VideoFile(unittest.TestCase):
    """The documented `filesrc ! decodebin` preset on videos made here: MJPEG in AVI and Theora in Ogg."""

    def test_video_files(self):
        encoders = {"mjpeg.avi": "jpegenc ! avimux", "theora.ogv": "theoraenc ! oggmux"}
        with tempfile.TemporaryDirectory(prefix="steerd-video-") as tmp:
            for name, enc in encoders.items():
                with self.subTest(video=name):
                    path = os.path.join(tmp, name)
                    gst("videotestsrc num-buffers=100 pattern=ball ! video/x-raw,width=320,height=160,framerate=30/1 ! "
                        "videoconvert ! %s ! filesink location=%s" % (enc, path))
                    pipe = preset("video file").replace("/data/drive.mp4", path)
                    self.assertIn("filesrc location=%s ! decodebin" % path, pipe)
                    steer, final, err = run_to_eos(self, pipe)
                    self.assertEqual(final["frames"], 100, err)
                    check_tail(self, steer, 100)


SLOW_MODEL = """\
name: slow-steer
description: "a deliberately slow steering model (~15 GMAC): stands in for a hung inference"
input: {height: 224, width: 224, channels: 3}
preprocess:
  source: {height: 160, width: 320}
  crop: {top: 0, bottom: 160, left: 0, right: 320}
  scale: 0.00392156862745098
  offset: -0.5
output: {kind: steering, scale_deg: 25.0}
layers:
%s  - {name: gap, type: global_avg_pool}
  - {name: out, type: dense, units: 1}
""" % "".join("  - {name: c%d, type: conv2d, filters: 64, kernel: 3, padding: same, activation: relu}\n" % i
              for i in range(8))


class WatchdogHang(unittest.TestCase):
    """WATCHDOG=1 comes from the frame loop, so an inference that does not return stops the pings
    (systemd's WatchdogSec would then kill and restart steerd). A model taking over a second per
    frame stands in for the hang; the same daemon with the zoo model never misses a ping."""

    WATCHDOG_USEC = 100000  # steerd pings every 50 ms; the slow model takes 0.4 s (release) to 4 s (ASan)

    def pings(self, cfg, want_steer, watchdog_usec, timeout=120.0):
        """Runs steerd; returns (WATCHDOG=1 arrival times after READY, steer messages)."""
        d = h.Daemon(cfg, watchdog_usec=watchdog_usec)
        try:
            d.wait_note("READY=1", timeout=60)
            times, steer, t_done = [], [], None
            deadline = time.monotonic() + timeout
            while t_done is None or not times or times[-1] < t_done:
                self.assertLess(time.monotonic(), deadline, "timed out; stderr:\n" + d.stderr())
                try:
                    while True:
                        if "WATCHDOG=1" in d.notify.recv(4096).decode():
                            times.append(time.monotonic())
                except BlockingIOError:
                    pass
                m = d.recv(0.005)
                if m and m[0] == "steer":
                    steer.append(m[1])
                    if len(steer) == want_steer:
                        t_done = time.monotonic()  # then wait for the ping after this frame
            rc, _ = d.stop(timeout=60)
            self.assertEqual(rc, 0, d.stderr())
            return times, steer
        finally:
            d.close()

    def test_hung_inference_stops_pings(self):
        with tempfile.TemporaryDirectory(prefix="steerd-wd-") as tmp:
            spec, weights = os.path.join(tmp, "slow.yaml"), os.path.join(tmp, "slow.safetensors")
            with open(spec, "w") as f:
                f.write(SLOW_MODEL)
            subprocess.run([h.STEERCTL, "model", "init", spec, "--seed", "1", "-o", weights], check=True, timeout=60)
            cfg = h.base_config()
            cfg["model"] = {"spec": spec, "weights": weights}
            times, steer = self.pings(cfg, 2, self.WATCHDOG_USEC)
            infer_s = min(m["latency_us"]["infer"] for m in steer) / 1e6
            limit_s = self.WATCHDOG_USEC / 1e6
            self.assertGreater(infer_s, 2 * limit_s, "the slow model must take well over WatchdogSec")
            gaps = [b - a for a, b in zip(times, times[1:])]
            self.assertGreater(max(gaps), limit_s, "pings continued during inference: %s" % gaps)
            self.assertGreater(max(gaps), 0.8 * infer_s, "gap %.2f s vs inference %.2f s" % (max(gaps), infer_s))
            print("slow model: inference %.2f s, longest gap between WATCHDOG=1 %.2f s (WatchdogSec %.2f s)"
                  % (infer_s, max(gaps), limit_s))

        # Control: the zoo model (a few ms per frame) never misses WatchdogSec (1 s here, pings every
        # 0.5 s: a loaded test machine may delay one ping by a scheduling slice, not by seconds).
        times, steer = self.pings(h.base_config(), 60, 1000000)
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertGreaterEqual(len(gaps), 2)
        self.assertLess(max(gaps), 1.0, gaps)
        print("zoo model: longest gap between WATCHDOG=1 %.3f s over %d pings" % (max(gaps), len(times)))


def write_udacity(root, frames, steering, header, stamp=True):
    """A Udacity folder: frames moved to IMG/ under simulator names (100 ms apart when stamp),
    driving_log.csv with absolute Windows paths of another machine. Returns the CSV path."""
    os.makedirs(os.path.join(root, "IMG"), exist_ok=True)
    rows = []
    for i, (src, st) in enumerate(zip(frames, steering)):
        ext = os.path.splitext(src)[1]
        ms = 48287 + 100 * i
        name = ("center_2016_12_01_13_30_%02d_%03d%s" % (ms // 1000, ms % 1000, ext)) if stamp else \
            ("frame%d%s" % (i, ext))
        shutil.copy(src, os.path.join(root, "IMG", name))
        rows.append("C:\\Users\\driver\\Desktop\\run1\\IMG\\%s, , ,%.6f,0.4,0,30.19" % (name, st))
    path = os.path.join(root, "driving_log.csv")
    with open(path, "w") as f:
        if header:
            f.write("center,left,right,steering,throttle,brake,speed\n")
        f.write("\n".join(rows) + "\n")
    return path


def summary(text):
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(": ")
        out[k] = v
    return out


class Replay(unittest.TestCase):
    """steerctl replay: CSV, MAE/RMSE, published steer messages, the daemon's predictions, pacing."""

    def replay(self, log, *extra, check=True):
        spec, weights = h.model_paths("effnet-steer")
        r = subprocess.run([h.STEERCTL, "replay", log, "--model", spec, "--weights", weights] + list(extra),
                           capture_output=True, text=True, timeout=120)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def test_replay(self):
        with tempfile.TemporaryDirectory(prefix="steerctl-replay-") as tmp:
            frames = make_frames(tmp, 6, "png")
            steering = [0.3 * math.sin(i) for i in range(6)]
            log = write_udacity(os.path.join(tmp, "drive"), frames, steering, header=False)
            out_csv = os.path.join(tmp, "out.csv")
            endpoint = "ipc://" + os.path.join(tmp, "replay.sock")
            ctx = zmq.Context()
            sub = ctx.socket(zmq.SUB)
            sub.setsockopt(zmq.SUBSCRIBE, b"")
            sub.setsockopt(zmq.LINGER, 0)
            sub.connect(endpoint)
            try:
                r = self.replay(log, "--rate", "max", "--output", out_csv, "--publish", endpoint, "--threads", "2")
                msgs = []
                while sub.poll(3000):
                    msgs.append(h.parse(sub.recv()))
                    if msgs[-1][0] == "stats":
                        break
            finally:
                sub.close(0)
                ctx.term()

            with open(out_csv) as f:
                rows = list(csv.DictReader(f))
            self.assertEqual(list(rows[0]), ["frame", "image", "recorded", "predicted", "abs_error", "latency_us"])
            self.assertEqual([int(x["frame"]) for x in rows], list(range(6)))
            for x, st in zip(rows, steering):
                self.assertTrue(x["image"].startswith(os.path.join(tmp, "drive", "IMG", "center_2016_12_01_")), x)
                self.assertAlmostEqual(float(x["recorded"]), st, places=6)
                self.assertAlmostEqual(float(x["abs_error"]), abs(float(x["predicted"]) - float(x["recorded"])),
                                       places=7)
                self.assertGreater(float(x["latency_us"]), 0)
            errs = [abs(float(x["predicted"]) - float(x["recorded"])) for x in rows]
            s = summary(r.stdout)
            self.assertEqual(int(s["frames"]), 6)
            self.assertAlmostEqual(float(s["mae"]), sum(errs) / 6, delta=1e-7)
            self.assertAlmostEqual(float(s["rmse"]), math.sqrt(sum(e * e for e in errs) / 6), delta=1e-7)
            self.assertAlmostEqual(float(s["mae_deg"]), 25 * sum(errs) / 6, delta=1e-4)
            p = dict(zip(["p50", "p90", "p99", "max"], [float(v) for v in s["latency_us"].split()[1::2]]))
            self.assertTrue(0 < p["p50"] <= p["p90"] <= p["p99"] <= p["max"], p)

            # --publish: the daemon's steer schema, one per frame in order, then a final stats.
            steer = [m for t, m in msgs if t == "steer"]
            self.assertEqual([m["seq"] for m in steer], list(range(6)), msgs)
            for m, x in zip(steer, rows):
                h.check_steer(self, m)
                self.assertEqual(m["frame_id"], int(x["frame"]))
                self.assertAlmostEqual(m["steering"], float(x["predicted"]), delta=1e-6 * max(1, abs(m["steering"])))
            self.assertEqual(msgs[-1][0], "stats")
            self.assertTrue(msgs[-1][1]["final"])
            self.assertEqual(msgs[-1][1]["frames"], 6)

            # The same frames through steerd (multifilesrc + pngdec: lossless): the same predictions.
            # identity sleep-time paces the frames (0.2 s) so the subscriber sees every one.
            pipe = ("multifilesrc location=%s index=0 caps=image/png,framerate=10/1 ! pngdec ! videoconvert ! "
                    "identity sleep-time=200000 ! appsink name=sink" % os.path.join(tmp, "seq_%04d.png"))
            daemon_steer, final, err = run_to_eos(self, pipe)
            self.assertEqual(len(daemon_steer), 6, err)
            for m, x in zip(daemon_steer, rows):
                self.assertAlmostEqual(m["steering"], float(x["predicted"]), delta=1e-6 * max(1, abs(m["steering"])))

            # CSV to stdout: the summary moves to stderr.
            r = self.replay(log, "--output", "-")
            self.assertEqual(len(r.stdout.splitlines()), 7)
            self.assertIn("mae: ", r.stderr)

    def test_rate_and_errors(self):
        with tempfile.TemporaryDirectory(prefix="steerctl-replay-") as tmp:
            frames = make_frames(tmp, 6, "jpg")
            log = write_udacity(os.path.join(tmp, "timed"), frames, [0.0] * 6, header=True)
            # --rate recorded: the file names are 100 ms apart -> at least 0.5 s for 6 frames.
            s = summary(self.replay(log, "--rate", "recorded").stdout)
            self.assertGreaterEqual(float(s["wall_s"]), 0.49)
            self.assertLess(float(s["wall_s"]), 5.0)
            # No times in the names: the documented 10 Hz default.
            log2 = write_udacity(os.path.join(tmp, "untimed"), frames[:4], [0.0] * 4, header=False, stamp=False)
            s = summary(self.replay(log2, "--rate", "recorded").stdout)
            self.assertGreaterEqual(float(s["wall_s"]), 0.29)
            s = summary(self.replay(log2, "--rate", "max").stdout)
            self.assertEqual(int(s["frames"]), 4)
            # A bad row: one line naming file, line, field and value; exit 1.
            with open(log2, "a") as f:
                f.write("IMG/frame0.jpg,,,steep,0,0,0\n")
            r = self.replay(log2, check=False)
            self.assertEqual(r.returncode, 1)
            self.assertEqual(r.stderr.splitlines(),
                             ["steerctl: replay: %s:5: steering: expected a number (got 'steep')" % log2])
            # A corrupt image: one line naming the image.
            bad = os.path.join(tmp, "untimed", "IMG", "frame2.jpg")
            with open(bad, "r+b") as f:
                f.truncate(100)
            with open(log2, "w") as f:
                f.write("IMG/frame2.jpg,,,0,0,0,0\n")
            r = self.replay(log2, check=False)
            self.assertEqual(r.returncode, 1)
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
            self.assertIn("frame2.jpg: corrupt JPEG", r.stderr)
            # Usage errors.
            r = self.replay(log2, "--rate", "fast", check=False)
            self.assertEqual(r.returncode, 64)
            self.assertIn("--rate: expected recorded or max (got 'fast')", r.stderr)


DRIVE_PIPELINE = "appsrc name=src ! decodebin ! videoconvert ! appsink name=sink"


class DriveLog(unittest.TestCase):
    """A Udacity folder fed into steerd itself through `appsrc name=src` (source.drive_log): every
    centre image (PNG and JPEG mixed) becomes one steer message in max mode (back-pressure), the
    recorded mode keeps the recorded pace and accounts for every row, and a bad log is a one-line
    config error (exit 78)."""

    def run_log(self, log, rate, drop):
        cfg = h.base_config()
        cfg["source"].update({"pipeline": DRIVE_PIPELINE, "drive_log": log, "rate": rate, "drop": drop,
                              "on_eos": "exit"})
        d = h.Daemon(cfg)
        try:
            t0 = time.monotonic()
            msgs = d.collect(lambda m: m[0] == "stats" and m[1]["final"], 1, timeout=180)
            wall = time.monotonic() - t0
            self.assertEqual(d.proc.wait(60), 0, d.stderr())
            steer = [m for t, m in msgs if t == "steer"]
            for m in steer:
                h.check_steer(self, m)
            final = msgs[-1][1]
            self.assertEqual(final["status"], "eos")
            return steer, final, wall, d.stderr()
        finally:
            d.close()

    def test_max_and_recorded(self):
        n = 30
        with tempfile.TemporaryDirectory(prefix="steerd-drive-") as tmp:
            # the first image a PNG, the rest JPEG: each is recognised by its content (issue 12)
            frames = make_frames(tmp, 1, "png") + make_frames(tmp, n, "jpg")[1:]
            log = write_udacity(os.path.join(tmp, "drive"), frames, [0.0] * n, header=True)
            steer, final, wall, err = self.run_log(log, "max", False)
            self.assertEqual(final["frames_in"], n, err)
            self.assertEqual(final["frames"], n, err)
            self.assertEqual(final["dropped"], 0, err)
            check_tail(self, steer, n)
            self.assertIn("drive log %s, %d frames, max rate" % (log, n), err)
            # recorded: names 100 ms apart -> the 30 frames take about 2.9 s, as a live camera would.
            steer, final, wall, err = self.run_log(log, "recorded", True)
            self.assertGreaterEqual(wall, 2.8, err)
            self.assertLess(wall, 30.0, err)
            self.assertGreater(final["frames"], n // 2, err)
            self.assertEqual(final["bad_frames"], 0, err)
            # every row is accounted for: processed, or dropped (appsrc's queue or the slot) like a camera's
            self.assertEqual(final["frames"] + final["dropped"] + final["skipped"] + final["infer_errors"], n, final)
            self.assertIn("live source", err)

    def test_bad_logs(self):
        with tempfile.TemporaryDirectory(prefix="steerd-drive-") as tmp:
            frames = make_frames(tmp, 3, "png")
            log = write_udacity(os.path.join(tmp, "drive"), frames, [0.0] * 3, header=False)
            with open(log, "a") as f:
                f.write("IMG/missing.png,,,0.1,0,0,0\n")
            cfg = h.base_config()
            cfg["source"].update({"pipeline": DRIVE_PIPELINE, "drive_log": log})
            path = os.path.join(tmp, "bad.yaml")
            h.write_config(path, cfg)
            r = subprocess.run([h.STEERD, "--check-config", path], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 78, r.stderr)
            lines = r.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertIn("source.drive_log: %s:4: center: image not found" % log, lines[0])
            self.assertIn("'IMG/missing.png'", lines[0])
            # A drive log needs an appsrc to push into.
            cfg["source"]["pipeline"] = "videotestsrc ! appsink name=sink"
            h.write_config(path, cfg)
            r = subprocess.run([h.STEERD, "--check-config", path], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 78, r.stderr)
            self.assertIn("source.pipeline: source.drive_log is set: the pipeline must start with `appsrc name=src`",
                          r.stderr)


if __name__ == "__main__":
    if GST_LAUNCH is None:
        print("skipped: gst-launch-1.0 not installed (Debian package gstreamer1.0-tools)")
        sys.exit(SKIP)
    unittest.main(verbosity=2)
