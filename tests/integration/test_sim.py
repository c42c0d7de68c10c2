#!/usr/bin/env python3
"""test_sim.py — `steerctl sim` end to end with real processes: record mode writes a Udacity
folder that `steerctl replay` reads (same seed -> same bytes, another seed -> other bytes, an
existing recording is not overwritten); closed-loop drive mode starts a real steerd
(config/sim.yaml: frames through tcpclientsrc ! rawvideoparse, answers over ZeroMQ) with the
zoo's effnet-steer (He-initialised weights made at build time), prints per-road metrics, writes
JSON and a video; lockstep answers every frame; the expert drives without interventions; a steerd
started by hand is used through --endpoint; an endpoint that never answers, no steerd at all, a
steerd that dies mid-road, a config that does not read the simulator and bad options all end with
one clear line and a non-zero status, without hanging.
Run one case:
    STEERD=build/steerd STEERCTL=build/steerctl STEERD_SOURCE_ROOT=. STEERD_TEST_DATA=build/tests \
        python3 tests/integration/test_sim.py Record"""
import csv
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SIM_YAML = os.path.join(h.ROOT, "config", "sim.yaml")
SPEC, WEIGHTS = h.model_paths("effnet-steer")


def steerctl(*args, timeout=120, env=None):
    return subprocess.run([h.STEERCTL] + list(args), capture_output=True, text=True, timeout=timeout, env=env)


def jpeg_size(path):
    """(height, width) from a JPEG's SOF marker."""
    with open(path, "rb") as f:
        b = f.read()
    assert b[:2] == b"\xff\xd8", path
    i = 2
    while i < len(b):
        assert b[i] == 0xFF, path
        marker, seg = b[i + 1], int.from_bytes(b[i + 2:i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            return int.from_bytes(b[i + 5:i + 7], "big"), int.from_bytes(b[i + 7:i + 9], "big")
        i += 2 + seg
    raise AssertionError("no SOF in " + path)


def tree_digest(d):
    m = hashlib.sha256()
    for root, _, files in sorted(os.walk(d)):
        for n in sorted(files):
            p = os.path.join(root, n)
            m.update(os.path.relpath(p, d).encode())
            with open(p, "rb") as f:
                m.update(f.read())
    return m.hexdigest()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def drive_args(*extra):
    return ["sim", "drive", "--config", SIM_YAML, "--model", SPEC, "--weights", WEIGHTS] + list(extra)


class Sim(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="steerctl-sim-")
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def one_line_error(self, r, rc, needle):
        self.assertEqual(r.returncode, rc, r.stdout + r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn(needle, lines[0])

    def test_Record(self):
        out = os.path.join(self.dir, "rec")
        args = ["--seed", "4", "--roads", "2", "--frames", "15", "--fps", "5"]
        r = steerctl("sim", "record", "--out", out, *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("frames: 30", r.stdout)
        self.assertIn("render_us: p50", r.stdout)
        with open(os.path.join(out, "driving_log.csv")) as f:
            rows = list(csv.reader(f))
        self.assertEqual(rows[0], ["center", "left", "right", "steering", "throttle", "brake", "speed"])
        rows = rows[1:]
        self.assertEqual(len(rows), 30)
        self.assertEqual(len(os.listdir(os.path.join(out, "IMG"))), 90)
        steer = [float(x[3]) for x in rows]
        self.assertTrue(all(-1 <= s <= 1 for s in steer))
        self.assertGreater(max(abs(s) for s in steer), 0.005)
        for row in rows[:3] + rows[-3:]:
            for cam, p in zip(("center", "left", "right"), row[:3]):
                self.assertTrue(p.startswith("IMG/" + cam + "_2024_01_01_"), p)
                self.assertEqual(jpeg_size(os.path.join(out, p)), (160, 320))
            self.assertAlmostEqual(float(row[6]), 10 * 2.2369362920544, places=3)  # 10 m/s in mph
        # 5 fps: names 200 ms apart; the second road starts one second after the first ends
        self.assertTrue(rows[1][0].endswith("00_00_00_200.jpg"), rows[1][0])
        self.assertTrue(rows[15][0].endswith("00_00_04_000.jpg"), rows[15][0])
        # the same seed gives the same bytes, another seed other bytes
        same, other = os.path.join(self.dir, "same"), os.path.join(self.dir, "other")
        self.assertEqual(steerctl("sim", "record", "--out", same, *args).returncode, 0)
        self.assertEqual(steerctl("sim", "record", "--out", other, *(args[2:] + ["--seed", "5"])).returncode, 0)
        self.assertEqual(tree_digest(out), tree_digest(same))
        self.assertNotEqual(tree_digest(out), tree_digest(other))
        # an existing recording is not overwritten
        r = steerctl("sim", "record", "--out", out, *args)
        self.one_line_error(r, 1, "already exists")
        # steerctl replay reads it: every frame through the daemon's preprocessing and engine
        pred = os.path.join(self.dir, "pred.csv")
        r = steerctl("replay", os.path.join(out, "driving_log.csv"), "--model", SPEC, "--weights", WEIGHTS,
                     "--output", pred)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("frames: 30", r.stdout)
        with open(pred) as f:
            got = list(csv.DictReader(f))
        self.assertEqual(len(got), 30)
        for g, row in zip(got, rows):
            self.assertAlmostEqual(float(g["recorded"]), float(row[3]), places=5)

    def test_Drive(self):
        js, video = os.path.join(self.dir, "m.json"), os.path.join(self.dir, "run.webm")
        r = steerctl(*drive_args("--roads", "2", "--seconds", "3", "--seed", "9", "--json", js, "--video", video))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith("steerd: frames on 127.0.0.1:"), lines)
        self.assertTrue(lines[1].startswith("road 1/2: ok"), lines)
        self.assertTrue(lines[2].startswith("road 2/2: ok"), lines)
        self.assertTrue(any(x.startswith("summary: roads 2/2 ok") for x in lines), lines)
        with open(js) as f:
            m = json.load(f)
        self.assertEqual(m["mode"], "steerd")
        self.assertEqual(len(m["roads"]), 2)
        for road in m["roads"]:
            self.assertTrue(road["ok"], road)
            self.assertEqual(road["frames"], 90)
            self.assertAlmostEqual(road["seconds"], 3.0)
            self.assertAlmostEqual(road["distance_m"], 30.0, delta=0.5)
            # steerd answered (the car was steered by it) and the latency is measured
            self.assertGreater(road["answered"], 20, road)
            lat = road["latency_ms"]
            self.assertEqual(lat["n"], road["answered"])
            self.assertTrue(0 < lat["p50"] <= lat["p99"] <= lat["max"] * 1.0001 < 2000, lat)
            a = 100.0 * max(0.0, 1 - road["interventions"] * 6.0 / road["seconds"])
            self.assertAlmostEqual(road["autonomy_pct"], a, places=3)
        self.assertEqual(m["total"]["roads_ok"], 2)
        with open(video, "rb") as f:
            head = f.read(4)
        self.assertEqual(head, b"\x1a\x45\xdf\xa3")  # EBML (WebM)
        self.assertGreater(os.path.getsize(video), 10000)

    def test_Lockstep(self):
        js, trace = os.path.join(self.dir, "m.json"), os.path.join(self.dir, "trace.csv")
        r = steerctl(*drive_args("--roads", "1", "--seconds", "2", "--lockstep", "--json", js, "--trace", trace))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(js) as f:
            road = json.load(f)["roads"][0]
        self.assertEqual(road["answered"], road["frames"])  # every frame got its own answer
        self.assertEqual(road["frames"], 60)
        # --trace: one row per frame, consistent with the metrics
        with open(trace) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 60)
        self.assertEqual([int(x["frame"]) for x in rows], list(range(60)))
        self.assertEqual({x["road"] for x in rows}, {"1"})
        self.assertAlmostEqual(float(rows[-1]["t_s"]), 2.0, places=3)
        ctes = [abs(float(x["cte_m"])) for x in rows]
        self.assertAlmostEqual(sum(ctes) / len(ctes), road["mean_abs_cte_m"], places=3)
        self.assertAlmostEqual(max(ctes), road["max_abs_cte_m"], places=3)
        self.assertEqual(sum(int(x["intervention"]) for x in rows), road["interventions"])
        err = sum(abs(float(x["steer"]) - float(x["expert"])) for x in rows[1:]) / (len(rows) - 1)
        self.assertLess(abs(err - road["mean_abs_steer_err"]), 0.05)  # steer = the answer in use
        self.assertTrue(all(float(b["s_m"]) > float(a["s_m"]) for a, b in zip(rows, rows[1:])))

    def test_Expert(self):
        js, video = os.path.join(self.dir, "m.json"), os.path.join(self.dir, "expert.avi")
        r = steerctl("sim", "drive", "--expert", "--roads", "2", "--seconds", "12", "--json", js, "--video", video)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(js) as f:
            m = json.load(f)
        self.assertEqual(m["mode"], "expert")
        self.assertEqual(m["total"]["interventions"], 0)
        self.assertEqual(m["total"]["autonomy_pct"], 100)
        self.assertLess(m["total"]["max_abs_cte_m"], 0.5)
        self.assertAlmostEqual(m["total"]["distance_m"], 240, delta=1)
        with open(video, "rb") as f:
            self.assertEqual(f.read(4), b"RIFF")

    def start_steerd(self, port):
        env = dict(os.environ, STEERD_SIM_PORT=str(port), STEERD_SIM_MODEL=SPEC, STEERD_SIM_WEIGHTS=WEIGHTS)
        log = open(os.path.join(self.dir, "steerd.log"), "w")
        p = subprocess.Popen([h.STEERD, "-c", SIM_YAML], stdout=log, stderr=log, env=env)
        self.addCleanup(log.close)
        return p

    def test_External(self):
        port = free_port()
        endpoint = "ipc:///tmp/steerd-sim-%d.sock" % port
        # no steerd at all: no connection, a clear line, no hang
        t0 = time.monotonic()
        r = steerctl("sim", "drive", "--endpoint", endpoint, "--listen", str(port), "--timeout", "1")
        self.one_line_error(r, 1, "no connection from steerd on 127.0.0.1:%d within 1.0 s" % port)
        self.assertLess(time.monotonic() - t0, 10)
        d = self.start_steerd(port)
        try:
            # a steerd started by hand, found through its endpoint
            r = steerctl("sim", "drive", "--endpoint", endpoint, "--listen", str(port), "--roads", "1",
                         "--seconds", "2", "--timeout", "20")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("road 1/1: ok", r.stdout)
            # it reconnects for the next run; a subscriber endpoint that never answers times out
            t0 = time.monotonic()
            r = steerctl("sim", "drive", "--endpoint", "ipc://%s/nobody.sock" % self.dir, "--listen", str(port),
                         "--timeout", "5")
            self.one_line_error(r, 1, "no steer message from ipc://%s/nobody.sock within 5.0 s" % self.dir)
            self.assertLess(time.monotonic() - t0, 30)
            self.assertIsNone(d.poll())
        finally:
            d.send_signal(signal.SIGTERM)
            self.assertEqual(d.wait(30), 0)

    def test_DaemonDies(self):
        p = subprocess.Popen([h.STEERCTL] + drive_args("--roads", "3", "--seconds", "60"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            first = p.stdout.readline()  # after the first steer message
            self.assertTrue(first.startswith("steerd: frames on"), first)
            time.sleep(1.0)
            kids = []
            for tid in os.listdir("/proc/%d/task" % p.pid):
                with open("/proc/%d/task/%s/children" % (p.pid, tid)) as f:
                    kids += [int(x) for x in f.read().split()]
            self.assertEqual(len(kids), 1, kids)
            t0 = time.monotonic()
            os.kill(kids[0], signal.SIGKILL)
            out, err = p.communicate(timeout=30)
            self.assertLess(time.monotonic() - t0, 15)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 1, out + err)
        self.assertIn("road 1/3: FAILED", out)
        self.assertIn("summary: roads 0/3 ok", out)
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, err)
        self.assertIn("road 1 failed", lines[0])
        self.assertIn("steerd was killed by signal 9", lines[0])

    def test_BadInput(self):
        d = os.path.join(self.dir, "x")
        usage = [
            (["sim", "record", "--out", d, "--bogus"], "unknown option '--bogus'"),
            (["sim", "record", "--out", d, "--speed", "-3"], "--speed: expected a number in (0, 40] m/s (got '-3')"),
            (["sim", "record", "--out", d, "--lane-width", "0"], "--lane-width: expected a number in [2, 6] m (got '0')"),
            (["sim", "record", "--out", d, "--frames", "0"], "--frames"),
            (["sim", "record", "--out", d, "--quality", "101"], "--quality"),
            (["sim", "record", "--out"], "--out: missing value"),
            (["sim", "record"], "--out DIR is required"),
            (["sim", "fly"], "unknown command 'fly'"),
            (["sim", "drive", "--expert", "--endpoint", "ipc:///x"], "exactly one of"),
            (["sim", "drive"], "exactly one of"),
            (["sim", "drive", "--expert", "--timeout", "0"], "--timeout"),
            (["sim", "drive", "--expert", "--speed", "nan"], "--speed"),
            (["sim", "drive", "--expert", "--listen", "70000"], "--listen"),
            (["sim", "drive", "--expert", "--model", SPEC], "--model / --weights go with --config"),
        ]
        for args, needle in usage:
            with self.subTest(args=args):
                self.one_line_error(steerctl(*args), 64, needle)
        self.assertFalse(os.path.exists(d))
        env = dict(os.environ)
        env.pop("STEERD_SIM_MODEL", None)
        env.pop("STEERD_SIM_WEIGHTS", None)
        fails = [
            (["sim", "drive", "--expert", "--seconds", "1", "--video", os.path.join(self.dir, "v.mp4")],
             ".webm or .avi"),
            (["sim", "drive", "--expert", "--seconds", "1", "--trace", "/nonexistent/dir/t.csv"],
             "--trace: /nonexistent/dir/t.csv"),
            (["sim", "drive", "--config", os.path.join(h.ROOT, "config", "test.yaml")],
             "source.pipeline: does not read the simulator's frames"),
            (["sim", "drive", "--config", SIM_YAML], "STEERD_SIM_MODEL"),
            (["sim", "drive", "--config", SIM_YAML, "--model", "/nonexistent.yaml", "--weights", WEIGHTS],
             "--model: /nonexistent.yaml", 66),  # EX_NOINPUT
            # steerd refuses the model (the weights are not safetensors): it exits 78 before connecting
            (["sim", "drive", "--config", SIM_YAML, "--model", SPEC, "--weights", SPEC],
             "steerd exited with status 78"),
            (["sim", "drive", "--config", SIM_YAML, "--model", SPEC, "--weights", WEIGHTS, "--steerd",
              "/nonexistent/steerd"], "--steerd: /nonexistent/steerd"),
        ]
        for args, needle, *rc in fails:
            with self.subTest(args=args):
                self.one_line_error(steerctl(*args, env=env), rc[0] if rc else 1, needle)


if __name__ == "__main__":
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        sys.argv[1] = "Sim.test_" + sys.argv[1]
    unittest.main(verbosity=2)
