"""check_cli.py — the command-line conventions of steerd, steerctl (every subcommand) and
steer-train, through the real binaries (src/common/opts.h):
  - `--help` of every program and subcommand prints usage on stdout and exits 0, stderr empty;
  - `--version` of every program and subcommand prints `<program> <version>` and exits 0;
  - an unknown option exits 64 (EX_USAGE) with one line on stderr naming it, stdout empty;
  - `--opt=value` and `--opt value` give the same result (the same output, the same file, the same
    error);
  - an input file named on the command line that does not exist exits 66 (EX_NOINPUT), one line;
  - steerd: publish.endpoint in a missing ipc folder is one line with the fix and exit 78 (EX_CONFIG);
    `--endpoint URL` replaces it, is checked the same way, and is kept across a SIGHUP reload.
steerctl's subcommands are read from `steerctl --help` (a new row there is checked too).

Environment (tests/cli/meson.build): STEERCTL, STEER_TRAIN, STEERD (absent without GStreamer/ZeroMQ),
STEERD_SOURCE_ROOT, STEERD_VERSION."""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

STEERCTL = os.environ["STEERCTL"]
STEER_TRAIN = os.environ["STEER_TRAIN"]
STEERD = os.environ.get("STEERD", "")
ROOT = os.environ["STEERD_SOURCE_ROOT"]
VERSION = os.environ["STEERD_VERSION"]
MODEL = os.path.join(ROOT, "models", "effnet-steer.yaml")
failures = []


def run(argv, timeout=60):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL: " + what)


def commands():
    """(program, words) of every program and subcommand to check."""
    out = run([STEERCTL, "--help"]).stdout
    subs = []
    for line in out.splitlines():
        m = re.match(r"^  ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?(?:\s|$)", line)
        if not m:
            continue
        for words in ([m.group(1)], [m.group(1), m.group(2)] if m.group(2) else None):
            if words and words not in subs:
                subs.append(words)
    check(["model", "info"] in subs and ["bench"] in subs, "steerctl --help does not list model info, bench: %r" % out)
    subs.append(["bench", "--train"])
    progs = [(STEERCTL, [])] + [(STEERCTL, w) for w in subs] + [(STEER_TRAIN, [])]
    if STEERD:
        progs.append((STEERD, []))
    return progs


def name(prog, words):
    return " ".join([os.path.basename(prog)] + words)


def check_help_version_unknown(prog, words):
    n = name(prog, words)
    r = run([prog] + words + ["--help"])
    check(r.returncode == 0, "%s --help: exit %d (%s)" % (n, r.returncode, r.stderr.strip()))
    check("usage" in r.stdout.lower(), "%s --help: no usage on stdout: %r" % (n, r.stdout[:200]))
    check(r.stderr == "", "%s --help: stderr %r" % (n, r.stderr))
    r = run([prog] + words + ["--version"])
    want = "%s %s\n" % (os.path.basename(prog), VERSION)
    check(r.returncode == 0 and r.stdout == want, "%s --version: exit %d, stdout %r (want %r)" %
          (n, r.returncode, r.stdout, want))
    for bad in ("--no-such-option", "--no-such-option=1"):
        r = run([prog] + words + [bad])
        lines = r.stderr.splitlines()
        check(r.returncode == 64, "%s %s: exit %d (want 64)" % (n, bad, r.returncode))
        check(len(lines) == 1 and bad.split("=")[0] in lines[0], "%s %s: stderr %r (want one line naming it)" %
              (n, bad, r.stderr))
        check(r.stdout == "", "%s %s: stdout %r" % (n, bad, r.stdout))


def same(a, b, what):
    ra, rb = run(a), run(b)
    check((ra.returncode, ra.stdout, ra.stderr) == (rb.returncode, rb.stdout, rb.stderr),
          "%s: %s -> %d %r %r but %s -> %d %r %r" % (what, a[1:], ra.returncode, ra.stdout[-200:], ra.stderr,
                                                    b[1:], rb.returncode, rb.stdout[-200:], rb.stderr))
    return ra


def check_value_forms(tmp):
    """--opt=value and --opt value: the same output, file or error."""
    r = same([STEERCTL, "explain", "--kernel=3", "--filters=8", "--input=6x6x2"],
             [STEERCTL, "explain", "--kernel", "3", "--filters", "8", "--input", "6x6x2"], "explain")
    check(r.returncode == 0 and "3x3" in r.stdout, "explain --kernel=3: %r" % r.stderr)
    r = same([STEERCTL, "sim", "drive", "--expert", "--roads=0"], [STEERCTL, "sim", "drive", "--expert", "--roads", "0"],
             "sim drive --roads")
    check(r.returncode == 64 and "--roads" in r.stderr, "sim drive --roads 0: exit %d %r" % (r.returncode, r.stderr))
    r = same([STEERCTL, "sim", "record", "--out=" + tmp + "/x", "--quality=0"],
             [STEERCTL, "sim", "record", "--out", tmp + "/x", "--quality", "0"], "sim record --quality")
    check(r.returncode == 64, "sim record --quality 0: exit %d" % r.returncode)
    r = same([STEERCTL, "bench", MODEL, "--threads=0"], [STEERCTL, "bench", MODEL, "--threads", "0"], "bench --threads")
    check(r.returncode == 64, "bench --threads 0: exit %d" % r.returncode)
    for i, form in enumerate((["--seed=3", "--output=" + tmp + "/a.st"], ["--seed", "3", "--output", tmp + "/b.st"])):
        r = run([STEERCTL, "model", "init", MODEL] + form)
        check(r.returncode == 0, "model init %s: exit %d %s" % (form, r.returncode, r.stderr))
    with open(tmp + "/a.st", "rb") as a, open(tmp + "/b.st", "rb") as b:
        check(a.read() == b.read(), "model init --seed=3 --output=F and --seed 3 --output F wrote different files")
    r = same([STEER_TRAIN, "--set=batch_size=-3", ROOT + "/config/train-mnist-effnet.yaml"],
             [STEER_TRAIN, "--set", "batch_size=-3", ROOT + "/config/train-mnist-effnet.yaml"], "steer-train --set")
    check(r.returncode == 78 and "batch_size" in r.stderr, "steer-train --set batch_size=-3: exit %d %r" %
          (r.returncode, r.stderr))
    if STEERD:
        cfg = ROOT + "/config/test.yaml"
        r = same([STEERD, "--check-config=" + cfg, "--endpoint=ipc://" + tmp + "/e.sock"],
                 [STEERD, "--check-config", cfg, "--endpoint", "ipc://" + tmp + "/e.sock"], "steerd --check-config")
        check(r.returncode == 0, "steerd --check-config config/test.yaml: exit %d %r" % (r.returncode, r.stderr))


def check_missing_inputs(tmp):
    gone = os.path.join(tmp, "nothing-here.yaml")
    cases = [[STEERCTL, "model", "info", gone], [STEERCTL, "model", "table", MODEL, gone],
             [STEERCTL, "model", "run", MODEL, gone, "--input", gone, "--output", tmp + "/y.npy"],
             [STEERCTL, "bench", gone], [STEERCTL, "bench", gone, "--train"], [STEER_TRAIN, gone],
             [STEER_TRAIN, "--resume", gone]]
    if STEERD:
        cases += [[STEERD, "-c", gone], [STEERD, "--check-config", gone]]
    for argv in cases:
        r = run(argv)
        lines = r.stderr.splitlines()
        check(r.returncode == 66 and len(lines) == 1 and gone in lines[0],
              "%s: exit %d, stderr %r (want 66 and one line naming the file)" % (argv[1:], r.returncode, r.stderr))


def check_steerd_endpoint(tmp):
    """Item 6: a hand run of a config whose ipc folder does not exist, and --endpoint."""
    with open(ROOT + "/config/test.yaml") as f:
        text = f.read()
    text = text.replace("ipc:///tmp/steerd-test.sock", "ipc:///run/steerd-nonexistent-folder/steer.sock")
    text = text.replace("../models/", ROOT + "/models/")
    cfg = os.path.join(tmp, "c.yaml")
    with open(cfg, "w") as f:
        f.write(text)
    for flag in ("-c", "--check-config"):
        r = run([STEERD, flag, cfg])
        lines = r.stderr.splitlines()
        check(r.returncode == 78 and len(lines) == 1, "steerd %s (missing ipc folder): exit %d %r" %
              (flag, r.returncode, r.stderr))
        line = lines[-1] if lines else ""
        for needle in ("publish.endpoint", "folder /run/steerd-nonexistent-folder", "does not exist",
                       "RuntimeDirectory=", "--endpoint ipc:///tmp/steer.sock"):
            check(needle in line, "steerd %s (missing ipc folder): %r lacks %r" % (flag, line, needle))
    r = run([STEERD, "--check-config", cfg, "--endpoint", "ipc:///run/steerd-nonexistent-folder/x.sock"])
    check(r.returncode == 78 and r.stderr.strip().endswith("does not exist (got "
                                                           "'ipc:///run/steerd-nonexistent-folder/x.sock')")
          and "--endpoint: folder" in r.stderr, "steerd --endpoint in a missing folder: %d %r" %
          (r.returncode, r.stderr))
    ep = "ipc://%s/hand.sock" % tmp
    r = run([STEERD, "--check-config", cfg, "--endpoint", ep])
    check(r.returncode == 0 and ('publish.endpoint: "%s"    # --endpoint' % ep) in r.stdout,
          "steerd --check-config --endpoint: exit %d %r" % (r.returncode, r.stderr))
    # a live run: publishes at --endpoint, and a reload of the same file keeps running
    log = open(os.path.join(tmp, "steerd.log"), "w+")
    p = subprocess.Popen([STEERD, "-c", cfg, "--endpoint", ep], stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(ep[len("ipc://"):]) and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        check(os.path.exists(ep[len("ipc://"):]), "steerd -c --endpoint: no socket at %s" % ep)
        p.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and p.poll() is None:
            log.seek(0)
            seen = log.read()
            if "reloaded: serving" in seen or "reload failed" in seen:
                break
            time.sleep(0.05)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
    log.seek(0)
    text = log.read()
    check("reloaded: serving" in text and p.returncode == 0, "steerd --endpoint + SIGHUP: exit %s, log %r" %
          (p.returncode, text[-600:]))


def main():
    progs = commands()
    for prog, words in progs:
        check_help_version_unknown(prog, words)
    for argv in ([STEERCTL], [STEERCTL, "model"], [STEERCTL, "nosuch"], [STEER_TRAIN], [STEERD]):
        if argv[0]:
            r = run(argv)
            check(r.returncode == 64 and r.stdout == "", "%s: exit %d (want 64, nothing on stdout)" %
                  (argv, r.returncode))
    with tempfile.TemporaryDirectory(prefix="steerd-cli-") as tmp:
        check_value_forms(tmp)
        check_missing_inputs(tmp)
        if STEERD:
            check_steerd_endpoint(tmp)
    print("checked %d programs and subcommands: %s" % (len(progs), ", ".join(name(p, w) for p, w in progs)))
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
