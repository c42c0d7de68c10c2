"""harness.py — starts real steerd processes for the integration tests: writes a config derived
from config/test.yaml into a temporary directory (own ipc endpoint, absolute model paths), runs
steerd with a fake NOTIFY_SOCKET, and subscribes with python3-zmq.

Environment (set by tests/meson.build): STEERD, STEERCTL (binaries), STEERD_SOURCE_ROOT,
STEERD_TEST_DATA (directory with the weights made at build time)."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

import yaml
import zmq

STEERD = os.environ["STEERD"]
STEERCTL = os.environ["STEERCTL"]
ROOT = os.environ["STEERD_SOURCE_ROOT"]
DATA = os.environ["STEERD_TEST_DATA"]
EX_CONFIG = 78

STEER_FIELDS = {"v", "seq", "frame_id", "t_capture_ns", "t_publish_ns", "steering", "angle_deg", "latency_us",
                "model", "backend"}
STATS_FIELDS = {"v", "t_ns", "uptime_s", "window_s", "fps_in", "fps_out", "frames_in", "frames", "dropped",
                "bad_frames", "skipped", "publish_dropped", "infer_errors", "latency_us", "backend", "model", "reloads",
                "reload_failures", "source_restarts", "subscribers", "subscriber_connects", "subscriber_disconnects",
                "status", "message", "final"}
STAGES = {"queue", "preprocess", "infer", "publish", "total"}


def model_paths(name):
    return os.path.join(ROOT, "models", name + ".yaml"), os.path.join(DATA, name + ".safetensors")


def base_config(model="effnet-steer"):
    with open(os.path.join(ROOT, "config", "test.yaml")) as f:
        cfg = yaml.safe_load(f)
    spec, weights = model_paths(model)
    cfg["model"] = {"spec": spec, "weights": weights}
    return cfg


def write_config(path, cfg):
    with open(path + ".new", "w") as f:
        yaml.safe_dump(cfg, f)
    os.replace(path + ".new", path)


def parse(raw):
    topic, _, body = raw.decode().partition(" ")
    return topic, json.loads(body)


class Daemon:
    """A steerd process with a config file, a notify socket and a SUB socket."""

    def __init__(self, cfg, watchdog_usec=None):
        self.tmp = tempfile.TemporaryDirectory(prefix="steerd-it-")
        self.dir = self.tmp.name
        cfg["publish"]["endpoint"] = "ipc://" + os.path.join(self.dir, "steer.sock")
        self.endpoint = cfg["publish"]["endpoint"]
        self.cfg_path = os.path.join(self.dir, "steerd.yaml")
        write_config(self.cfg_path, cfg)
        self.notify_path = os.path.join(self.dir, "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.notify.setblocking(False)
        self.notes = []
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path, STEERD_TEST_DATA=DATA)
        if watchdog_usec:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.err = open(self.stderr_path, "w")
        self.ctx = zmq.Context()
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.setsockopt(zmq.LINGER, 0)
        # before the bind: zmq retries until steerd is up, every 10 ms (default 100 ms) so that a
        # short source's first frames are not all gone by then
        self.sub.setsockopt(zmq.RECONNECT_IVL, 10)
        self.sub.connect(self.endpoint)
        self.proc = subprocess.Popen([STEERD, "-c", self.cfg_path], stdout=subprocess.DEVNULL, stderr=self.err,
                                     env=env)

    def recv(self, timeout=30.0):
        """Next (topic, message) or None after timeout seconds."""
        if self.sub.poll(int(timeout * 1000)):
            return parse(self.sub.recv())
        return None

    def collect(self, pred, n, timeout=60.0):
        """Messages until n of them satisfy pred (returns all received); fails on timeout."""
        got, hits = [], 0
        deadline = time.monotonic() + timeout
        while hits < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out after %d/%d matching messages; stderr:\n%s" % (hits, n, self.stderr()))
            m = self.recv(left)
            if m is None:
                continue
            got.append(m)
            hits += bool(pred(m))
        return got

    def read_notes(self):
        while True:
            try:
                self.notes.append(self.notify.recv(4096).decode())
            except BlockingIOError:
                return self.notes

    def wait_note(self, needle, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, n in enumerate(self.read_notes()):
                if needle in n:
                    del self.notes[: i + 1]
                    return n
            time.sleep(0.02)
        raise AssertionError("no notification %r; stderr:\n%s" % (needle, self.stderr()))

    def stderr(self):
        self.err.flush()
        with open(self.stderr_path) as f:
            return f.read()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=10.0):
        """SIGTERM; returns (exit status, seconds from the signal to the exit)."""
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout)
        return rc, time.monotonic() - t0

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.sub.close(0)
        self.ctx.term()
        self.notify.close()
        self.err.close()
        self.tmp.cleanup()


def check_steer(tc, m):
    tc.assertTrue({"v", "seq", "frame_id", "t_capture_ns", "t_publish_ns", "steering", "latency_us", "model",
                   "backend"} <= set(m), m)
    tc.assertLessEqual(set(m), STEER_FIELDS | {"outputs"})
    tc.assertEqual(m["v"], 1)
    for k in ("seq", "frame_id", "t_capture_ns", "t_publish_ns"):
        tc.assertIsInstance(m[k], int)
        tc.assertGreaterEqual(m[k], 0)
    tc.assertGreaterEqual(m["t_publish_ns"], m["t_capture_ns"])
    tc.assertIsInstance(m["steering"], float)
    tc.assertAlmostEqual(m["angle_deg"], m["steering"] * 25.0, delta=1e-3 * max(1.0, abs(m["angle_deg"])))
    lat = m["latency_us"]
    tc.assertEqual(set(lat), {"source", "queue", "preprocess", "infer", "total"})
    for v in lat.values():
        tc.assertGreaterEqual(v, 0)
    tc.assertGreaterEqual(lat["total"] + 0.2, lat["source"] + lat["queue"] + lat["preprocess"] + lat["infer"])
    tc.assertEqual(set(m["model"]), {"name", "weights"})
    tc.assertTrue(m["model"]["weights"].startswith("sha256:"))
    tc.assertEqual(m["backend"], "cpu")


def check_stats(tc, m):
    tc.assertEqual(set(m), STATS_FIELDS)
    tc.assertEqual(m["v"], 1)
    tc.assertEqual(set(m["latency_us"]), STAGES)
    for st in m["latency_us"].values():
        tc.assertEqual(set(st), {"n", "p50", "p90", "p99", "max"})
        if st["n"]:
            tc.assertTrue(0 <= st["p50"] <= st["p90"] <= st["p99"] <= st["max"] * 1.0001 + 0.1, st)
    tc.assertGreaterEqual(m["frames_in"], m["frames"])
    tc.assertGreaterEqual(m["fps_in"], 0)
    tc.assertEqual(m["backend"], "cpu")
