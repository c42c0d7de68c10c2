"""adv.py — the adversarial suite's helpers: run a program on hostile input with a hard time limit
and assert exactly how it failed (exit status, one clear line naming the file/field/value, no
sanitizer report, no hang, no file content echoed). The daemon cases reuse
tests/integration/harness.py's Daemon (real steerd, fake NOTIFY_SOCKET, python3-zmq subscriber).

Environment (set by tests/adversarial/meson.build): STEERD, STEERCTL, STEER_TRAIN,
STEERD_SOURCE_ROOT, STEERD_TEST_DATA."""
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402  (tests/integration/harness.py)

STEERD = os.environ["STEERD"]
STEERCTL = os.environ["STEERCTL"]
STEER_TRAIN = os.environ.get("STEER_TRAIN", "")
ROOT = os.environ["STEERD_SOURCE_ROOT"]
DATA = os.environ["STEERD_TEST_DATA"]
EX_CONFIG = 78

# What a sanitizer, a crash or an abort leaves on stderr.
CRASH_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "Segmentation fault",
               "Aborted", "core dumped", "Assertion", "double free", "stack smashing")


class Result:
    def __init__(self, rc, out, err, secs):
        self.rc, self.out, self.err, self.secs = rc, out, err, secs

    def __repr__(self):
        return "rc=%s in %.2f s\nstdout: %s\nstderr: %s" % (self.rc, self.secs, self.out[-2000:], self.err[-2000:])


def run(args, timeout=60, env=None, input=None, cwd=None):
    """Runs args; a run past timeout seconds is a hang and fails the calling test."""
    t0 = time.monotonic()
    try:
        p = subprocess.run(args, capture_output=True, text=True, errors="replace", timeout=timeout,
                           env=dict(os.environ, **(env or {})), input=input, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("hang: %s still running after %s s (stderr: %s)" % (args, timeout, e.stderr))
    return Result(p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


class AdvCase(unittest.TestCase):
    """Assertions shared by every adversarial case."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="steerd-adv-")
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def path(self, name, content=None, mode="w"):
        """A path in this case's temporary folder, written with content when given."""
        p = os.path.join(self.tmp, name)
        if content is not None:
            with open(p, mode) as f:
                f.write(content)
        return p

    def assert_no_crash(self, r):
        for m in CRASH_MARKS:
            self.assertNotIn(m, r.err, "crash/sanitizer report: %r" % r)
        self.assertGreaterEqual(r.rc, 0, "killed by signal %d: %r" % (-r.rc, r) if r.rc < 0 else "")

    def assert_fails(self, r, rc, pattern, leak=None):
        """Exit status rc, no crash, and an error line matching pattern (re.search) — one line:
        the matching line is the only one that says `error`. leak: a string from the input file
        that must not appear in the output (file contents are never echoed)."""
        self.assert_no_crash(r)
        self.assertEqual(r.rc, rc, "exit status: %r" % r)
        lines = [ln for ln in r.err.splitlines() if re.search(pattern, ln)]
        self.assertTrue(lines, "no error line matching %r: %r" % (pattern, r))
        if leak is not None:
            self.assertNotIn(leak, r.err + r.out, "file contents echoed: %r" % r)
        return lines[0]
