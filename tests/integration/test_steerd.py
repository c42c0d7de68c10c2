#!/usr/bin/env python3
"""test_steerd.py — steerd end to end: real processes, a live GStreamer source, the CPU engine,
and real ZeroMQ subscribers (python3-zmq and `steerctl sub`). Run one case:
    STEERD=build/steerd STEERCTL=build/steerctl STEERD_SOURCE_ROOT=. STEERD_TEST_DATA=build/tests \
        python3 tests/integration/test_steerd.py Stream"""
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


class Stream(unittest.TestCase):
    """>= 100 steer messages with a valid schema and increasing seq, stats, systemd notifications,
    `steerctl sub`, and SIGTERM -> exit 0 within 1 s."""

    def test_stream(self):
        d = h.Daemon(h.base_config(), watchdog_usec=1000000)
        try:
            d.wait_note("READY=1")
            msgs = d.collect(lambda m: m[0] == "steer", 100)
            steer = [m for t, m in msgs if t == "steer"]
            for m in steer:
                h.check_steer(self, m)
                self.assertEqual(m["model"]["name"], "effnet-steer")
            seqs = [m["seq"] for m in steer]
            self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), "seq must increase by 1")
            ids = [m["frame_id"] for m in steer]
            self.assertTrue(all(b > a for a, b in zip(ids, ids[1:])), "frame_id must increase")
            stats = [m for t, m in d.collect(lambda m: m[0] == "stats", 2) if t == "stats"]
            for m in stats:
                h.check_stats(self, m)
                self.assertFalse(m["final"])
                self.assertEqual(m["status"], "running")
            self.assertGreater(stats[-1]["frames"], 0)
            self.assertGreater(stats[-1]["fps_in"], 0)
            self.assertEqual(stats[-1]["model"]["name"], "effnet-steer")
            # the project's own subscriber
            out = subprocess.run([h.STEERCTL, "sub", d.endpoint, "--topic", "steer", "--count", "3", "--timeout",
                                  "60"], capture_output=True, text=True, timeout=90)
            self.assertEqual(out.returncode, 0, out.stderr)
            lines = out.stdout.splitlines()
            self.assertEqual(len(lines), 3)
            for line in lines:
                t, m = h.parse(line.encode())
                self.assertEqual(t, "steer")
                h.check_steer(self, m)
            d.wait_note("WATCHDOG=1")
            rc, secs = d.stop()
            self.assertEqual(rc, 0, d.stderr())
            self.assertLess(secs, 1.0, "SIGTERM -> exit took %.2f s" % secs)
            d.wait_note("STOPPING=1", timeout=1)
            # the live source paced itself on steerd's clock (source.clock_spin_us, default 500)
            self.assertIn("source: playing (live source, clock steerd-spin-clock)", d.stderr())
        finally:
            d.close()

    def test_clock_spin_off(self):
        """source.clock_spin_us: 0 leaves the pipeline on GStreamer's system clock; frames still flow."""
        cfg = h.base_config()
        cfg["source"]["clock_spin_us"] = 0
        d = h.Daemon(cfg)
        try:
            steer = [m for t, m in d.collect(lambda m: m[0] == "steer", 10) if t == "steer"]
            self.assertGreaterEqual(len(steer), 10)
            rc, _ = d.stop()
            self.assertEqual(rc, 0, d.stderr())
            self.assertIn("source: playing (live source, clock GstSystemClock)", d.stderr())
        finally:
            d.close()


class Realtime(unittest.TestCase):
    """realtime_priority: every thread of steerd (frame loop, GStreamer's, workers) runs SCHED_FIFO
    at that priority when the process may (root / CAP_SYS_NICE); otherwise one warning and it serves
    as usual."""

    def test_realtime_priority(self):
        cfg = h.base_config()
        cfg["realtime_priority"] = 10
        cfg["threads"] = 2
        allowed = subprocess.run(["chrt", "-f", "10", "true"], capture_output=True).returncode == 0
        d = h.Daemon(cfg)
        try:
            d.wait_note("READY=1")
            d.collect(lambda m: m[0] == "steer", 10)
            tasks = os.listdir("/proc/%d/task" % d.proc.pid)
            policies = {}
            for tid in tasks:
                with open("/proc/%d/task/%s/stat" % (d.proc.pid, tid)) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                policies[tid] = (int(fields[38]), int(fields[37]))  # (policy, rt_priority): stat fields 41, 40
            self.assertGreaterEqual(len(tasks), 3, "frame loop, worker and GStreamer threads expected")
            if allowed:
                self.assertEqual(set(policies.values()), {(1, 10)}, "SCHED_FIFO 10 for every thread: %s" % policies)
                self.assertIn("realtime_priority: every thread runs SCHED_FIFO 10", d.stderr())
            else:
                self.assertEqual({p for p, _ in policies.values()}, {0}, policies)
                self.assertIn("realtime_priority: cannot switch to SCHED_FIFO 10", d.stderr())
            rc, _ = d.stop()
            self.assertEqual(rc, 0, d.stderr())
        finally:
            d.close()


class Reload(unittest.TestCase):
    """SIGHUP to a valid model switches `model` with no gap in seq; SIGHUP to a corrupt model keeps
    serving the old one and says why (log, status message, stats)."""

    def test_reload(self):
        cfg = h.base_config()
        d = h.Daemon(cfg)
        try:
            d.wait_note("READY=1")
            before = [m for t, m in d.collect(lambda m: m[0] == "steer", 10) if t == "steer"]
            spec, weights = h.model_paths("pilotnet")
            cfg["model"] = {"spec": spec, "weights": weights}
            # a new pipeline too: the source restarts, frame_id goes on (issue 12)
            cfg["source"]["pipeline"] = cfg["source"]["pipeline"].replace("pattern=ball", "pattern=snow")
            h.write_config(d.cfg_path, cfg)
            d.signal(signal.SIGHUP)
            note = d.wait_note("RELOADING=1")
            self.assertIn("MONOTONIC_USEC=", note)
            d.wait_note("READY=1")
            msgs = d.collect(lambda m: m[0] == "steer" and m[1]["model"]["name"] == "pilotnet", 20)
            # The same SUB socket throughout: the last message before SIGHUP, then everything after
            # it (a quick reload may swap before the next frame, so the old model's last message
            # can be the one collected before the signal).
            steer = before[-1:] + [m for t, m in msgs if t == "steer"]
            names = [m["model"]["name"] for m in steer]
            self.assertEqual(names[0], "effnet-steer")  # the old model served until the swap
            first = names.index("pilotnet")
            self.assertTrue(all(n == "effnet-steer" for n in names[:first]))
            self.assertTrue(all(n == "pilotnet" for n in names[first:]), "no switching back")
            seqs = [m["seq"] for m in steer]
            self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), "no gap in seq across the swap")
            status = [m for t, m in msgs if t == "status"]
            self.assertTrue(any("reloaded" in m["message"] and "pilotnet" in m["message"] and
                                "source restarted" in m["message"] for m in status), status)
            ids = [m["frame_id"] for m in steer]
            self.assertTrue(all(b > a for a, b in zip(ids, ids[1:])), "frame_id went back at the reload: %s" % ids)

            # corrupt weights: truncated copy
            bad = os.path.join(d.dir, "bad.safetensors")
            with open(weights, "rb") as f, open(bad, "wb") as g:
                g.write(f.read()[:1000])
            cfg["model"]["weights"] = bad
            h.write_config(d.cfg_path, cfg)
            d.signal(signal.SIGHUP)
            d.wait_note("RELOADING=1")
            d.wait_note("READY=1")
            msgs = d.collect(lambda m: m[0] == "stats" and m[1]["reload_failures"] == 1, 1)
            msgs += d.collect(lambda m: m[0] == "steer", 20)
            steer = [m for t, m in msgs if t == "steer"]
            self.assertTrue(all(m["model"]["name"] == "pilotnet" for m in steer), "keeps serving the old model")
            stats = [m for t, m in msgs if t == "stats"][-1]
            self.assertEqual(stats["reloads"], 1)
            self.assertIn("reload failed", stats["message"])
            self.assertIn("bad.safetensors", stats["message"])
            self.assertIn("reload failed", d.stderr())
            # a config that no longer parses is rejected the same way
            with open(d.cfg_path, "a") as f:
                f.write("bogus_key: 1\n")
            d.signal(signal.SIGHUP)
            d.collect(lambda m: m[0] == "stats" and m[1]["reload_failures"] == 2, 1)
            self.assertIn("bogus_key: unknown key", d.stderr())
            d.collect(lambda m: m[0] == "steer", 5)
            rc, secs = d.stop()
            self.assertEqual(rc, 0, d.stderr())
        finally:
            d.close()


class SourceFailure(unittest.TestCase):
    """A source that fails mid-run is logged, reported and retried; the daemon keeps serving."""

    def test_retry(self):
        cfg = h.base_config()
        cfg["source"]["pipeline"] = ("videotestsrc is-live=true ! video/x-raw,width=160,height=80,framerate=30/1 ! "
                                     "identity error-after=15 ! videoconvert ! appsink name=sink")
        d = h.Daemon(cfg, watchdog_usec=2000000)
        try:
            d.wait_note("READY=1")
            msgs = d.collect(lambda m: m[0] == "stats" and m[1]["source_restarts"] >= 2, 1, timeout=90)
            status = [m for t, m in msgs if t == "status"]
            self.assertTrue(any(m["status"] == "source-retry" and "error" in m["message"] for m in status), status)
            self.assertTrue(any(m["status"] == "running" and "restarted" in m["message"] for m in status), status)
            steer = [m for t, m in msgs if t == "steer"]
            self.assertGreater(len(steer), 15)
            self.assertGreater(max(m["frame_id"] for m in steer), 15, "frames after the restart")
            ids = [m["frame_id"] for m in steer]
            self.assertTrue(all(b > a for a, b in zip(ids, ids[1:])), "frame_id went back at a restart: %s" % ids)
            self.assertIn("retrying", d.stderr())
            d.wait_note("WATCHDOG=1")  # fed while the source is down
            self.assertIsNone(d.proc.poll())
            rc, _ = d.stop()
            self.assertEqual(rc, 0, d.stderr())
        finally:
            d.close()


class EndOfStream(unittest.TestCase):
    """A finite source drains, publishes final stats and exits 0; back-pressure mode drops nothing."""

    def test_eos(self):
        cfg = h.base_config()
        cfg["source"]["pipeline"] = ("videotestsrc is-live=true num-buffers=60 ! "
                                     "video/x-raw,width=320,height=160,framerate=30/1 ! videoconvert ! "
                                     "appsink name=sink")
        cfg["source"]["drop"] = False
        d = h.Daemon(cfg)
        try:
            msgs = d.collect(lambda m: m[0] == "stats" and m[1]["final"], 1, timeout=120)
            final = msgs[-1][1]
            h.check_stats(self, final)
            self.assertEqual(final["frames"], 60)
            self.assertEqual(final["frames_in"], 60)
            self.assertEqual(final["dropped"], 0)
            self.assertEqual(final["status"], "eos")
            self.assertEqual(final["latency_us"]["total"]["n"], 60)
            self.assertEqual(d.proc.wait(30), 0, d.stderr())
            self.assertIn("end of stream after 60 frames", d.stderr())
        finally:
            d.close()


class BadConfig(unittest.TestCase):
    """Each bad config gives one line `file:line:col: key: problem` and exit status 78."""

    CASES = [
        ("threads: 0\n", 10, "threads: must be in [1, 256] (got 0)"),
        ("thread: 2\n", 1, "thread: unknown key"),
        # A CUDA build refuses it when the model loads (no device here), a CPU-only build at parsing.
        ("backend: cuda\n", 10, "backend: cuda: no CUDA device" if os.environ.get("STEERD_CUDA_BUILT") == "1"
         else "backend: this build has no CUDA backend"),
        ("backend: gpu\n", 10, "backend:"),
        ("stats: {interval_ms: fast}\n", 22, "stats.interval_ms: expected an integer"),
        ("log: [info]\n", 6, "log: expected a mapping"),
    ]

    def run_steerd(self, path, check, isa=None):
        args = [h.STEERD, "--check-config" if check else "-c", path]
        env = dict(os.environ, STEERD_TEST_DATA=h.DATA)
        env.pop("JOURNAL_STREAM", None)
        env.pop("STEERD_ISA", None)
        if isa:
            env["STEERD_ISA"] = isa
        return subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)

    def expect(self, path, text, line, col, needle):
        with open(path, "w") as f:
            f.write(text)
        for check in (True, False):
            r = self.run_steerd(path, check)
            self.assertEqual(r.returncode, h.EX_CONFIG, r.stderr)
            lines = r.stderr.splitlines()
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertIn("%s:%d:%d: " % (path, line, col), lines[0])
            self.assertIn(needle, lines[0])

    def test_bad_configs(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "bad.yaml")
            spec, weights = h.model_paths("effnet-steer")
            # the endpoint's folder is checked at config time (the default /run/steerd exists only
            # under systemd): a folder of this test's
            ep = "ipc://%s/s.sock" % tmp
            good = ("source:\n  pipeline: videotestsrc ! videoconvert ! appsink name=sink\n"
                    "model:\n  spec: %s\n  weights: %s\npublish: {endpoint: '%s'}\n" % (spec, weights, ep))
            n = good.count("\n") + 1
            for extra, col, needle in self.CASES:
                with self.subTest(extra=extra):
                    self.expect(path, good + extra, n, col, needle)
            with self.subTest("endpoint without a port"):
                self.expect(path, good.replace(ep, "tcp://*"), n - 1, 21, "publish.endpoint: tcp endpoint needs a port")
            with self.subTest("missing key"):
                self.expect(path, "model: {spec: a, weights: b}\n", 1, 1, "source.pipeline: required key is missing")
            with self.subTest("unknown element"):
                self.expect(path, good.replace("videotestsrc", "nosuchsrc"), 2, 13, "nosuchsrc")
            with self.subTest("no appsink"):
                self.expect(path, good.replace("appsink name=sink", "fakesink"), 2, 13, "appsink name=sink")
            with self.subTest("missing weights"):
                with open(path, "w") as f:
                    f.write(good.replace(weights, os.path.join(tmp, "none.safetensors")))
                r = self.run_steerd(path, True)
                self.assertEqual(r.returncode, h.EX_CONFIG, r.stderr)
                self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
                self.assertIn("none.safetensors", r.stderr)
            with self.subTest("valid"):
                with open(path, "w") as f:
                    f.write(good)
                r = self.run_steerd(path, True)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("configuration OK", r.stdout)
                self.assertIn("backend: auto    # default", r.stdout)
                self.assertIn("using the CPU backend", r.stderr)
                self.assertRegex(r.stderr, r"cpu backend, isa (avx512|avx2|neon|scalar)\n")  # the best this CPU has
                r = self.run_steerd(path, True, isa="scalar")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("cpu backend, isa scalar\n", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
