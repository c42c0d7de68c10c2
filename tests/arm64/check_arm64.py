#!/usr/bin/python3
"""check_arm64.py — the arm64 build (make cross-arm64) under qemu-user against the x86 build.
One case per run:
  zoo     every zoo model (models/*.yaml): `steerctl model run` of the arm64 build (through
          scripts/arm64-run.sh) and of the x86 build on the same weights (the bundled ones, else the
          x86 `steerctl model init --seed 1`) and the same input (batch 2, seeded normal):
          max|arm64 - x86| / max(1e-3, max|x86|) <= 1e-5 (--tol);
  isa     on arm64, NEON (the default, `--isa neon`) against the forced scalar path (`--isa scalar`)
          on the same models and inputs (same tolerance); `steerctl bench --json` reports
          "isa": "neon"; an ISA the CPU lacks (`--isa avx2`) is one clear error line;
  steerd  the arm64 steerd on config/test.yaml's test pattern with the bundled effnet-steer weights,
          publishing over ipc: READY=1, >= 20 steer messages with the schema and increasing seq, a
          stats message, SIGTERM -> exit 0 (tests/integration/harness.py subscribes with python3-zmq).
Environment (tests/arm64/meson.build): STEERCTL, STEERD (arm64 programs), ARM64_RUN, STEERD_SOURCE_ROOT,
STEERD_TEST_DATA; STEERD_X86_STEERCTL (set by `make test`; else build-test/ or build/ steerctl when
x86-64; without one the zoo case is skipped). Prints one line per failure and `N passed, N failed`;
exit 1 on a failure, 77 (skip) when a case cannot run here, saying why.
Usage: check_arm64.py zoo|isa|steerd [--filter SUBSTR] [--tol T] [--jobs N]
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import unittest
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import yaml

ROOT = os.environ["STEERD_SOURCE_ROOT"]
RUN = os.environ["ARM64_RUN"]
ARM_STEERCTL = [RUN, os.environ["STEERCTL"]]
TIMEOUT_S = 300
SKIP = 77


def run(cmd, timeout=TIMEOUT_S):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, errors="replace")
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 124, "", f"timeout after {timeout} s\n")


def is_x86_64_elf(path):
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return False
    return head[:4] == b"\x7fELF" and int.from_bytes(head[18:20], "little") == 62  # EM_X86_64


def x86_steerctl():
    """The x86 steerctl: $STEERD_X86_STEERCTL (an error when it is not an x86-64 program), else
    build-test/steerctl or build/steerctl; None when there is none."""
    env = os.environ.get("STEERD_X86_STEERCTL")
    if env:
        if not is_x86_64_elf(env):
            raise SystemExit(f"STEERD_X86_STEERCTL={env}: not an x86-64 program (build it: make test)")
        return env
    cands = [os.path.join(ROOT, d, "steerctl") for d in ("build-test", "build")]
    return next((c for c in cands if is_x86_64_elf(c)), None)


def bundled_weights(name):
    for d in ("", "mnist10k"):
        p = os.path.join(ROOT, "models", d, name + ".safetensors")
        if os.path.exists(p):
            return p
    return None


def prepare(workdir, models, x86):
    """Per model: (name, yaml, weights, x.npy) in workdir; weights bundled or made by the x86 build."""
    cases = []
    for i, path in enumerate(models):
        name = os.path.splitext(os.path.basename(path))[0]
        with open(path) as f:
            spec = yaml.safe_load(f)
        inp = spec["input"]
        rng = np.random.default_rng(1000 + i)
        x = rng.standard_normal((2, inp["height"], inp["width"], inp["channels"])).astype(np.float32)
        xpath = os.path.join(workdir, name + ".x.npy")
        np.save(xpath, x)
        w = bundled_weights(name)
        if w is None:
            w = os.path.join(workdir, name + ".safetensors")
            p = run(x86 + ["model", "init", path, "--seed", "1", "-o", w])
            if p.returncode != 0:
                raise RuntimeError(f"{name}: x86 model init: exit {p.returncode}: {p.stderr.strip()[:300]}")
        cases.append((name, path, w, xpath))
    return cases


def forward(steerctl, case, workdir, tag, extra=()):
    """`steerctl model run` of one case; (output array, None) or (None, error line)."""
    name, path, w, xpath = case
    out = os.path.join(workdir, f"{name}.{tag}.npy")
    p = run(steerctl + ["model", "run", path, w, "--input", xpath, "--output", out] + list(extra))
    if p.returncode != 0:
        return None, f"{tag}: exit {p.returncode}: {p.stderr.strip()[:300]}"
    y = np.load(out, allow_pickle=False)
    if y.dtype != np.float32 or not np.all(np.isfinite(y)):
        return None, f"{tag}: output dtype {y.dtype} or non-finite values"
    return y, None


def compare(name, y, ref, tol, what):
    """(max|y - ref| / max(1e-3, max|ref|), None when <= tol else the failure line)."""
    if y.shape != ref.shape:
        return float("inf"), f"{name}: {what}: shape {list(y.shape)} != {list(ref.shape)}"
    diff = np.abs(y.astype(np.float64) - ref)
    err = float(np.max(diff)) / max(1e-3, float(np.max(np.abs(ref))))
    if not err <= tol:
        i = np.unravel_index(np.argmax(diff), y.shape)
        return err, f"{name}: {what}: rel err {err:.3g} > {tol:g} (worst at {list(map(int, i))}: {y[i]:.7g} vs {ref[i]:.7g})"
    return err, None


def pairs(cases, jobs, a, b, what, tol):
    """Runs a(case) and b(case) for every case in parallel and compares; the failure lines (one
    None per pass). Prints the largest relative error."""
    def one(case):
        ya, ea = a(case)
        yb, eb = b(case)
        if ea or eb:
            return float("inf"), f"{case[0]}: {ea or eb}"
        return compare(case[0], ya, yb, tol, what)
    with ThreadPoolExecutor(max_workers=jobs) as ex:
        res = list(ex.map(one, cases))
    worst = max(range(len(res)), key=lambda i: res[i][0])
    print(f"{what}: {len(cases)} models, largest rel err {res[worst][0]:.3g} ({cases[worst][0]})")
    return [line for _, line in res]


def report(results):
    fails = [r for r in results if r]
    for f in fails:
        print("FAIL " + f)
    print(f"{len(results) - len(fails)} passed, {len(fails)} failed")
    return 1 if fails else 0


def zoo(args, models, workdir):
    x86 = x86_steerctl()
    if x86 is None:
        print("skipped: no x86 steerctl (set STEERD_X86_STEERCTL, or build build-test/ or build/)")
        return SKIP
    cases = prepare(workdir, models, [x86])
    return report(pairs(cases, args.jobs, lambda c: forward(ARM_STEERCTL, c, workdir, "arm64"),
                        lambda c: forward([x86], c, workdir, "x86"), "arm64 vs x86", args.tol))


def isa(args, models, workdir):
    x86 = x86_steerctl()  # initial weights (models without bundled ones) from either build
    cases = prepare(workdir, models, [x86] if x86 else ARM_STEERCTL)
    results = pairs(cases, args.jobs, lambda c: forward(ARM_STEERCTL, c, workdir, "neon", ["--isa", "neon"]),
                    lambda c: forward(ARM_STEERCTL, c, workdir, "scalar", ["--isa", "scalar"]), "neon vs scalar",
                    args.tol)
    effnet = os.path.join(ROOT, "models", "effnet-steer.yaml")
    p = run(ARM_STEERCTL + ["bench", effnet, "--runs", "3", "--json"])
    try:
        got = json.loads(p.stdout).get("isa") if p.returncode == 0 else f"exit {p.returncode}: {p.stderr.strip()[:200]}"
    except ValueError as e:
        got = f"not JSON: {e}"
    results.append(None if got == "neon" else f"bench --json: isa {got!r}, want 'neon'")
    p = run(ARM_STEERCTL + ["bench", effnet, "--runs", "1", "--isa", "avx2"])
    lines = p.stderr.splitlines()
    ok = p.returncode > 0 and len(lines) == 1 and "avx2" in lines[0]
    results.append(None if ok else f"--isa avx2 on arm64: exit {p.returncode}, stderr {p.stderr.strip()[:300]!r} "
                   "(want one line naming avx2)")
    return report(results)


def steerd(args, models, workdir):
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    # harness.py starts $STEERD: a script that runs the arm64 steerd through qemu
    wrapper = os.path.join(workdir, "steerd-arm64")
    with open(wrapper, "w") as f:
        f.write(f'#!/bin/sh\nexec "{RUN}" "{os.environ["STEERD"]}" "$@"\n')
    os.chmod(wrapper, 0o755)
    os.environ["STEERD"] = wrapper
    import harness as h  # noqa: E402 (reads STEERD when imported)
    tc = unittest.TestCase()
    cfg = h.base_config()
    cfg["model"]["weights"] = bundled_weights("effnet-steer")
    d = h.Daemon(cfg)
    try:
        d.wait_note("READY=1", timeout=120)
        steer = [m for t, m in d.collect(lambda m: m[0] == "steer", 20, timeout=180) if t == "steer"]
        for m in steer:
            h.check_steer(tc, m)
            tc.assertEqual(m["model"]["name"], "effnet-steer")
        seqs = [m["seq"] for m in steer]
        tc.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), "seq must increase by 1")
        stats = [m for t, m in d.collect(lambda m: m[0] == "stats", 1, timeout=60) if t == "stats"]
        h.check_stats(tc, stats[-1])
        rc, secs = d.stop(timeout=30)
        tc.assertEqual(rc, 0, d.stderr())
        print(f"steerd (arm64, emulated): {len(steer)} steer messages, exit 0 {secs:.2f} s after SIGTERM")
    except AssertionError as e:
        return report([f"steerd: {e}"])
    finally:
        d.close()
    return report([None])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", choices=["zoo", "isa", "steerd"])
    ap.add_argument("--filter", default="", help="only models whose file name contains this")
    ap.add_argument("--tol", type=float, default=1e-5)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    models = sorted(p for p in glob.glob(os.path.join(ROOT, "models", "*.yaml")) if args.filter in os.path.basename(p))
    os.makedirs(os.environ["STEERD_TEST_DATA"], exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"arm64-{args.case}-", dir=os.environ["STEERD_TEST_DATA"]) as workdir:
        return {"zoo": zoo, "isa": isa, "steerd": steerd}[args.case](args, models, workdir)


if __name__ == "__main__":
    sys.exit(main())
