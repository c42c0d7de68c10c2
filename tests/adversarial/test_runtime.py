"""test_runtime.py — adversarial cases for steerd's runtime (issue 12 defects 4, 6, 7, 8, 10, 13):
bad publish endpoints (exit 78 at --check-config and start, `file:line:col: publish.endpoint:`), a
second instance on a live ipc endpoint (refused, the first keeps serving), stale and foreign files
at the socket path, the socket file removed at exit, a FIFO as model.spec (start, --check-config,
reload), a reload stuck past reload_timeout_ms (the STEERD_TEST_RELOAD_DELAY_MS test hook stalls the
loader: a hung NFS file cannot be made without root), SIGTERM during a reload, a SIGHUP storm,
stalled and churning subscribers, `steerctl sub` reporting seq gaps, `steerctl sim drive` leaving
no socket file, and non-finite outputs counted as inference errors (OVERFLOW_YAML: a model that
passes the engine's load-time self-check, whose test image has a dark first pixel, and overflows
to infinity on every white frame).

Run: meson test -C build adversarial_runtime (or python3 test_runtime.py -v with its environment)."""
import json
import os
import signal
import socket
import struct
import subprocess
import time
import unittest

import zmq

import adv
from adv import harness as h

# A tiny model on 32x16 frames: 4x4x3 input, flatten, one dense unit (`steerctl sub` gap test and
# the non-finite test need many frames per second on a shared 2-core machine).
TINY_YAML = """name: tiny-%(name)s
input: {height: 4, width: 4, channels: 3}
preprocess:
  source: {height: 16, width: 32}
  scale: %(scale)s
  offset: 0.0
output: {kind: steering, scale_deg: 25.0}
layers:
  - {name: flatten, type: flatten}
  - {name: dense, type: dense, units: 1}
"""
TINY_PIPELINE = ("videotestsrc is-live=%s pattern=white ! video/x-raw,width=32,height=16%s ! videoconvert ! "
                 "appsink name=sink")


def write_safetensors(path, tensors):
    """tensors: name -> (shape, list of floats), written as F32 without a checksum."""
    header, data = {}, b""
    for name, (shape, values) in tensors.items():
        blob = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    hb = json.dumps(header).encode()
    hb += b" " * (-len(hb) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb + data)


def tiny_model(folder, name, scale, weight):
    spec, weights = os.path.join(folder, name + ".yaml"), os.path.join(folder, name + ".safetensors")
    with open(spec, "w") as f:
        f.write(TINY_YAML % {"name": name, "scale": scale})
    write_safetensors(weights, {"dense.weight": ([1, 48], [weight] * 48), "dense.bias": ([1], [0.0])})
    return spec, weights


# Finite for the engine's self-check (nn_infer_selfcheck's test image has 11/255 in the first value:
# the gate is negative, relu gives 0, 0 x 3e38 x 3e38 = 0) and infinite on a white frame (first value
# 1.0: gate 0.5, 0.5 x 3e38 = 1.5e38, x 3e38 = inf), so only the per-frame check can catch it.
OVERFLOW_YAML = """name: tiny-overflow
input: {height: 4, width: 4, channels: 3}
preprocess:
  source: {height: 16, width: 32}
  scale: 0.00392156862745098
  offset: 0.0
output: {kind: steering, scale_deg: 25.0}
layers:
  - {name: flatten, type: flatten}
  - {name: gate, type: dense, units: 1}
  - {name: relu, type: relu}
  - {name: amp1, type: dense, units: 1}
  - {name: amp2, type: dense, units: 1}
"""


def overflow_model(folder):
    spec, weights = os.path.join(folder, "overflow.yaml"), os.path.join(folder, "overflow.safetensors")
    with open(spec, "w") as f:
        f.write(OVERFLOW_YAML)
    write_safetensors(weights, {"gate.weight": ([1, 48], [1.0] + [0.0] * 47), "gate.bias": ([1], [-0.5]),
                                "amp1.weight": ([1, 1], [3e38]), "amp1.bias": ([1], [0.0]),
                                "amp2.weight": ([1, 1], [3e38]), "amp2.bias": ([1], [0.0])})
    return spec, weights


def tiny_config(folder, name, scale=None, weight=None, live=True):
    """A config for the tiny model (name "overflow": overflow_model) on white 32x16 frames."""
    cfg = h.base_config()
    model = overflow_model(folder) if name == "overflow" else tiny_model(folder, name, scale, weight)
    cfg["model"]["spec"], cfg["model"]["weights"] = model
    cfg["source"]["pipeline"] = TINY_PIPELINE % (("true", ",framerate=100/1") if live else ("false", ""))
    cfg["stats"]["interval_ms"] = 200
    return cfg


def messages(d, topic, n, timeout=30.0):
    return [m for t, m in d.collect(lambda m: m[0] == topic, n, timeout) if t == topic]


def until(d, pred, timeout=30.0):
    """Messages until one satisfies pred(topic, msg); returns that one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = d.recv(deadline - time.monotonic())
        if m and pred(*m):
            return m[1]
    raise AssertionError("no matching message within %s s; stderr:\n%s" % (timeout, d.stderr()))


class DaemonCase(adv.AdvCase):
    """Starts harness Daemons and always closes them."""

    def setUp(self):
        super().setUp()
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            d.close()
        super().tearDown()

    def daemon(self, cfg, env=None):
        old = {k: os.environ.get(k) for k in (env or {})}
        os.environ.update(env or {})
        try:
            d = h.Daemon(cfg)
        finally:
            for k, v in old.items():
                if v is None:
                    del os.environ[k]
                else:
                    os.environ[k] = v
        self.daemons.append(d)
        return d

    def stop_ok(self, d, limit=1.0):
        rc, secs = d.stop()
        err = d.stderr()
        self.assert_no_crash(adv.Result(rc, "", err, secs))
        self.assertEqual(rc, 0, err)
        self.assertLess(secs, limit, "SIGTERM -> exit took %.2f s" % secs)
        return err

    def config_file(self, name, endpoint=None, **edits):
        cfg = h.base_config()
        if endpoint is not None:
            cfg["publish"]["endpoint"] = endpoint
        for k, v in edits.items():
            cfg[k] = v
        p = self.path(name)
        h.write_config(p, cfg)
        return p


class Endpoints(DaemonCase):
    """Defect 8: every bad endpoint form exits 78 at --check-config and at start, naming the key."""

    BAD = [
        ("tcp://127.0.0.1:99999", r"port 99999 is out of range 1\.\.65535"),
        ("tcp://127.0.0.1:0", r"port 0 means a random port"),
        ("tcp://127.0.0.1:http", r"port 'http' is not a number 1\.\.65535"),
        ("tcp://127.0.0.1", r"tcp endpoint needs a port"),
        ("tcp://nosuch-host.invalid:5555", r"host 'nosuch-host\.invalid' is not an IP address or a network interface"),
        ("tcp://192.0.2.1:5555", r"192\.0\.2\.1 is not an address of this machine"),
        ("ipc:///nonexistent-steerd-dir/x.sock", r"folder /nonexistent-steerd-dir: does not exist"),
        ("ipc:///tmp/" + "x" * 120 + ".sock", r"ipc path is 130 bytes, longer than 107"),
        ("ipc://relative.sock", r"ipc path must be absolute"),
        ("inproc://steer", r"inproc:// reaches only the same process"),
        ("udp://127.0.0.1:5555", r"transport 'udp' is not supported"),
    ]

    def test_bad_endpoints_exit_78(self):
        for ep, pattern in self.BAD:
            with self.subTest(endpoint=ep):
                cfg = self.config_file("bad.yaml", ep)
                for args in (["--check-config", cfg], ["-c", cfg]):
                    r = adv.run([adv.STEERD] + args, timeout=60)
                    self.assert_fails(r, adv.EX_CONFIG, r"bad\.yaml:\d+:\d+: publish\.endpoint: .*" + pattern)

    def test_foreign_file_at_socket_path_kept(self):
        target = self.path("precious.txt", "keep me\n")
        cfg = self.config_file("c.yaml", "ipc://" + target)
        r = adv.run([adv.STEERD, "-c", cfg], timeout=60)
        self.assert_fails(r, adv.EX_CONFIG, r"publish\.endpoint: .*precious\.txt is a regular file, not a socket")
        with open(target) as f:
            self.assertEqual(f.read(), "keep me\n")

    def test_steerctl_sub_bad_endpoints(self):
        for ep, pattern in [("tcp://127.0.0.1:99999", r"port 99999 is out of range"),
                            ("tcp://nosuch-host.invalid:5555", r"cannot resolve host 'nosuch-host\.invalid'"),
                            ("tcp://*:5555", r"host \* is for a bind"), ("bogus", r"expected ipc://PATH")]:
            with self.subTest(endpoint=ep):
                r = adv.run([adv.STEERCTL, "sub", ep, "--count", "1", "--timeout", "5"], timeout=30)
                self.assert_fails(r, 64, r"^steerctl: sub: " + pattern)
                # sim drive connects to a running steerd the same way: checked before anything starts
                r = adv.run([adv.STEERCTL, "sim", "drive", "--endpoint", ep, "--roads", "1", "--seconds", "1"],
                            timeout=30)
                self.assert_fails(r, 1, r"^steerctl: sim drive: --endpoint: " + pattern)


class IpcOwnership(DaemonCase):
    """Defects 6 and 13: a live endpoint is never taken over, a stale one is replaced, the socket
    file is removed at exit."""

    def test_second_instance_refused_first_keeps_serving(self):
        d = self.daemon(h.base_config())
        d.wait_note("READY=1")
        sock = d.endpoint[len("ipc://"):]
        ino = os.stat(sock).st_ino
        r = adv.run([adv.STEERD, "-c", d.cfg_path], timeout=60)
        self.assert_fails(r, 1, r"publish: ipc://.*steer\.sock: is in use by another process \(a second steerd\?\)")
        self.assertEqual(os.stat(sock).st_ino, ino, "the first instance's socket file was replaced")
        # the first one still reaches a new subscriber
        out = adv.run([adv.STEERCTL, "sub", d.endpoint, "--topic", "steer", "--count", "3", "--timeout", "30"],
                      timeout=60)
        self.assertEqual(out.rc, 0, out)
        self.assertEqual(len(out.out.splitlines()), 3)
        self.stop_ok(d)
        self.assertFalse(os.path.exists(sock), "socket file left behind at exit")

    def test_stale_socket_replaced(self):
        cfg = h.base_config()
        d = self.daemon(cfg)  # harness: endpoint in its own folder
        d.wait_note("READY=1")
        self.stop_ok(d)
        sock = d.endpoint[len("ipc://"):]
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(sock)  # a socket file nobody listens on: what a kill -9 leaves
        s.close()
        self.assertTrue(os.path.exists(sock))
        p = subprocess.Popen([adv.STEERD, "-c", d.cfg_path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, env=dict(os.environ, STEERD_TEST_DATA=adv.DATA))
        try:
            out = adv.run([adv.STEERCTL, "sub", d.endpoint, "--topic", "steer", "--count", "2", "--timeout", "60"],
                          timeout=90)
            self.assertEqual(out.rc, 0, out)
        finally:
            p.send_signal(signal.SIGTERM)
            _, err = p.communicate(timeout=10)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("replaced a stale socket file (nobody was listening on it)", err)
        self.assertFalse(os.path.exists(sock), "socket file left behind at exit")


class SimSockets(DaemonCase):
    """Defect 13: `steerctl sim drive` leaves no /tmp/steerd-sim-PORT.sock behind, neither after an
    orderly run (steerd removes its own) nor when its steerd was killed with SIGKILL (sim removes
    the stale file)."""

    def drive(self, port, *extra):
        spec, weights = h.model_paths("effnet-steer")
        return [adv.STEERCTL, "sim", "drive", "--config", os.path.join(adv.ROOT, "config", "sim.yaml"), "--model",
                spec, "--weights", weights, "--listen", str(port)] + list(extra)

    def free_port(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        return port

    def test_orderly_run(self):
        port = self.free_port()
        sock = "/tmp/steerd-sim-%d.sock" % port
        r = adv.run(self.drive(port, "--roads", "1", "--seconds", "1"), timeout=120)
        self.assertEqual(r.rc, 0, r)
        self.assertFalse(os.path.exists(sock), "socket file left behind: " + sock)

    def test_steerd_killed(self):
        port = self.free_port()
        sock = "/tmp/steerd-sim-%d.sock" % port
        p = subprocess.Popen(self.drive(port, "--roads", "2", "--seconds", "60"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            self.assertTrue(p.stdout.readline().startswith("steerd: frames on"))
            self.assertTrue(os.path.exists(sock))
            kids = []
            for tid in os.listdir("/proc/%d/task" % p.pid):
                with open("/proc/%d/task/%s/children" % (p.pid, tid)) as f:
                    kids += [int(x) for x in f.read().split()]
            self.assertEqual(len(kids), 1, kids)
            os.kill(kids[0], signal.SIGKILL)  # no chance to remove its socket file
            p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 1)
        self.assertFalse(os.path.exists(sock), "stale socket file left behind: " + sock)


class Reloads(DaemonCase):
    """Defect 4: a FIFO as model.spec, a stuck reload, SIGTERM during a reload, a SIGHUP storm."""

    def test_fifo_model_spec_start_and_check_config(self):
        fifo = self.path("model.fifo")
        os.mkfifo(fifo)
        cfg = h.base_config()
        cfg["model"]["spec"] = fifo
        p = self.path("c.yaml")
        h.write_config(p, cfg)
        for args in (["--check-config", p], ["-c", p]):
            r = adv.run([adv.STEERD] + args, timeout=20)  # before: blocked forever in fopen
            self.assert_fails(r, adv.EX_CONFIG, r"model\.fifo: is a FIFO, expected a regular file")

    def test_fifo_model_spec_reload_fails_old_model_serves(self):
        d = self.daemon(h.base_config())
        first = messages(d, "steer", 3)[-1]
        cfg = h.base_config()
        cfg["publish"]["endpoint"] = d.endpoint
        fifo = os.path.join(d.dir, "model.fifo")
        os.mkfifo(fifo)
        cfg["model"]["spec"] = fifo
        h.write_config(d.cfg_path, cfg)
        d.signal(signal.SIGHUP)
        st = until(d, lambda t, m: t == "status" and "reload failed" in m["message"], 20)
        self.assertRegex(st["message"], r"model\.fifo: is a FIFO, expected a regular file; still serving effnet-steer")
        after = messages(d, "steer", 5)
        self.assertEqual(after[-1]["model"], first["model"])
        seqs = [m["seq"] for m in after]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
        self.stop_ok(d)

    def stuck_daemon(self, timeout_ms):
        cfg = h.base_config()
        cfg["reload_timeout_ms"] = timeout_ms
        d = self.daemon(cfg, env={"STEERD_TEST_RELOAD_DELAY_MS": "4000"})
        messages(d, "steer", 3)
        return d

    def test_stuck_reload_times_out_old_model_serves(self):
        d = self.stuck_daemon(300)
        d.signal(signal.SIGHUP)
        t0 = time.monotonic()
        st = until(d, lambda t, m: t == "status" and "reload failed" in m["message"], 10)
        self.assertLess(time.monotonic() - t0, 2.0)
        self.assertRegex(st["message"], r"still loading .*steerd\.yaml after 300 ms \(reload_timeout_ms\); the loader "
                                        r"is abandoned; still serving effnet-steer")
        self.assertEqual(st["status"], "running")
        # a second SIGHUP while the abandoned loader has not returned: refused, counted, no second thread
        d.signal(signal.SIGHUP)
        st = until(d, lambda t, m: t == "status" and "reload failed" in m["message"], 10)
        self.assertIn("has not returned yet", st["message"])
        stats = until(d, lambda t, m: t == "stats", 10)
        self.assertEqual(stats["reload_failures"], 2)
        self.assertEqual(stats["reloads"], 0)
        seqs = [m["seq"] for m in messages(d, "steer", 10)]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
        err = self.stop_ok(d)  # SIGTERM <= 1 s with a loader still stalled
        self.assertIn("a reload was still loading: abandoned", err)

    def test_abandoned_loader_returns_then_reloads_start_again(self):
        cfg = h.base_config()
        cfg["reload_timeout_ms"] = 300
        d = self.daemon(cfg, env={"STEERD_TEST_RELOAD_DELAY_MS": "800"})
        messages(d, "steer", 3)
        d.signal(signal.SIGHUP)
        until(d, lambda t, m: t == "status" and "reload failed" in m["message"], 10)
        deadline = time.monotonic() + 10
        while "its result is discarded" not in d.stderr() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertRegex(d.stderr(), r"the reload abandoned \d+\.\d s ago returned; its result is discarded")
        # the loader slot is free again: the next SIGHUP starts a new loader (which times out too)
        d.signal(signal.SIGHUP)
        st = until(d, lambda t, m: t == "status" and "reload failed" in m["message"], 10)
        self.assertIn("the loader is abandoned", st["message"])
        self.assertNotIn("has not returned yet", st["message"])
        self.stop_ok(d)

    def test_sigterm_during_reload(self):
        d = self.stuck_daemon(30000)
        d.signal(signal.SIGHUP)
        d.wait_note("RELOADING=1", 10)
        time.sleep(0.2)
        err = self.stop_ok(d)  # before: pthread_join on the loader
        self.assertIn("a reload was still loading: abandoned", err)

    def test_sighup_storm(self):
        d = self.daemon(h.base_config())
        before = messages(d, "steer", 3)
        for _ in range(100):
            d.signal(signal.SIGHUP)
            time.sleep(0.005)
        self.assertIsNone(d.proc.poll(), d.stderr())
        # everything that arrives after the storm: seq continues, reloads happened, none failed
        got = d.collect(lambda m: m[0] == "stats" and m[1]["reloads"] >= 1 and "reloaded" in m[1]["message"], 1, 60)
        got += d.collect(lambda m: m[0] == "steer", 10)
        seqs = [before[-1]["seq"]] + [m["seq"] for t, m in got if t == "steer"]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), "seq gap or restart during the storm")
        stats = until(d, lambda t, m: t == "stats", 10)
        self.assertEqual(stats["reload_failures"], 0)
        self.assertGreaterEqual(stats["reloads"], 1)
        self.assertLessEqual(stats["reloads"], 100)
        self.stop_ok(d)  # LeakSanitizer runs at exit: a leaked model fails the exit status


class Subscribers(DaemonCase):
    """Defect 10: stalled and churning subscribers never hold steerd up; the connections are counted;
    `steerctl sub` reports the messages it lost."""

    def test_stalled_subscriber(self):
        cfg = h.base_config()
        cfg["publish"]["sndhwm"] = 5
        d = self.daemon(cfg)
        messages(d, "steer", 2)
        ctx = zmq.Context()
        stalled = ctx.socket(zmq.SUB)
        stalled.setsockopt(zmq.SUBSCRIBE, b"")
        stalled.setsockopt(zmq.RCVHWM, 1)
        stalled.setsockopt(zmq.RCVBUF, 4096)
        stalled.connect(d.endpoint)  # never reads
        try:
            steer = messages(d, "steer", 60, 60)
            seqs = [m["seq"] for m in steer]
            self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), "the reading subscriber lost messages")
            stats = until(d, lambda t, m: t == "stats" and m["subscribers"] == 2, 10)
            self.assertGreaterEqual(stats["subscriber_connects"], 2)
        finally:
            stalled.close(0)
            ctx.term()
        self.stop_ok(d)

    def test_churning_subscribers(self):
        d = self.daemon(h.base_config())
        before = messages(d, "steer", 2)
        ctx = zmq.Context()
        for _ in range(100):
            s = ctx.socket(zmq.SUB)
            s.setsockopt(zmq.SUBSCRIBE, b"steer")
            s.connect(d.endpoint)
            s.poll(20)
            s.close(0)
        ctx.term()
        self.assertIsNone(d.proc.poll(), d.stderr())
        stats = until(d, lambda t, m: t == "stats" and m["subscribers"] == 1 and m["subscriber_connects"] >= 101, 20)
        self.assertEqual(stats["subscriber_disconnects"], stats["subscriber_connects"] - 1)
        after = messages(d, "steer", 5)
        self.assertGreater(after[0]["seq"], before[-1]["seq"])
        self.stop_ok(d)

    def test_sub_reports_seq_gaps(self):
        cfg = tiny_config(self.tmp, "fast", 1.0 / 255.0, 0.01, live=False)
        cfg["publish"]["sndhwm"] = 10
        d = self.daemon(cfg)
        messages(d, "steer", 5)
        p = subprocess.Popen([adv.STEERCTL, "sub", d.endpoint, "--topic", "steer", "--timeout", "5"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1.0)
            p.send_signal(signal.SIGSTOP)  # a subscriber that stops reading: its queue overflows
            # Stopped until steerd has published more than the subscriber's queue and the socket
            # buffers can hold (ZeroMQ's receive high-water mark is 1000 messages; a steer message
            # is ~0.5 KB), whatever the frame rate on a loaded machine.
            first = until(d, lambda t, m: t == "steer", 10)["seq"]
            until(d, lambda t, m: t == "steer" and m["seq"] >= first + 4000, 60)
            p.send_signal(signal.SIGCONT)
            _, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 0, err)
        self.assertRegex(err, r"steerctl: sub: seq gap: \d+ steer messages? lost \(seq \d+\.\.\d+\)")
        self.assertRegex(err, r"steerctl: sub: \d+ steer messages? lost in \d+ seq gaps? \(\d+ received\)")
        stats = until(d, lambda t, m: t == "stats", 10)
        self.assertEqual(stats["publish_dropped"], 0)  # the documented limit: PUB drops per subscriber, unseen
        self.stop_ok(d)


class NonFinite(DaemonCase):
    """Defect 7 (daemon part): a non-finite output is an inference error in stats, published as
    steering: null, and the status says why."""

    def test_infinite_outputs_counted(self):
        d = self.daemon(tiny_config(self.tmp, "overflow"))
        st = until(d, lambda t, m: t == "status" and m["status"] == "infer-error", 30)
        self.assertRegex(st["message"], r"the model's output is not finite \(NaN or infinity\); published as "
                                        r"steering: null")
        steer = messages(d, "steer", 5)
        for m in steer:
            self.assertIsNone(m["steering"])
        stats = until(d, lambda t, m: t == "stats" and m["frames"] >= 5, 30)
        self.assertEqual(stats["status"], "infer-error")
        self.assertEqual(stats["infer_errors"], stats["frames"])  # every frame counted
        self.stop_ok(d)

    def test_reload_to_a_sane_model_clears_the_status(self):
        d = self.daemon(tiny_config(self.tmp, "overflow"))
        until(d, lambda t, m: t == "status" and m["status"] == "infer-error", 30)
        cfg = tiny_config(self.tmp, "sane", 1.0 / 255.0, 0.01)
        cfg["publish"]["endpoint"] = d.endpoint
        h.write_config(d.cfg_path, cfg)
        d.signal(signal.SIGHUP)
        st = until(d, lambda t, m: t == "status" and "finite again" in m["message"], 30)
        self.assertEqual(st["status"], "running")
        steer = messages(d, "steer", 3)
        self.assertIsInstance(steer[-1]["steering"], float)
        stats = until(d, lambda t, m: t == "stats", 10)
        errors = stats["infer_errors"]
        self.assertGreater(errors, 0)
        self.assertEqual(until(d, lambda t, m: t == "stats", 10)["infer_errors"], errors)  # no new ones
        self.stop_ok(d)

    def test_finite_model_has_no_errors(self):
        d = self.daemon(tiny_config(self.tmp, "sane", 1.0 / 255.0, 0.01))
        steer = messages(d, "steer", 5)
        for m in steer:
            self.assertIsInstance(m["steering"], float)
        stats = until(d, lambda t, m: t == "stats" and m["frames"] >= 5, 30)
        self.assertEqual((stats["infer_errors"], stats["status"]), (0, "running"))
        self.stop_ok(d)


if __name__ == "__main__":
    unittest.main()
