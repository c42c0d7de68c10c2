#!/usr/bin/python3
"""test_steer_train_mpi.py — data-parallel steer-train under mpirun (src/train/comm.h) on the
dataset and model of test_steer_train.py (conv, batch norm, dropout, dense softmax). Cases:
  Parity  one process, `mpirun -np 2` and `-np 3` (batch 16 split 5/5/6) train the same weights
          (every tensor, batch-norm running statistics included) within BOUND relative (max |a-b|
          over max |a| per tensor; the value measured is printed) and the same log.csv; the
          2-rank run starts each rank in its own folder with a relative `output`, and only
          rank 0's folder gets a run directory
  Resume  rank 1 of a 2-rank run killed with SIGKILL during epoch 2: the whole job stops
          (mpirun's message, non-zero exit), the epoch-1 checkpoint is intact and no final
          weights exist; --resume with 1 rank and, from a copy, with 3 ranks both finish with
          the uninterrupted run's weights (within BOUND)
  Agree   a failure of rank 0 alone while the ranks set up (an existing run directory) stops
          every rank with that one message, exit 1
Ranks run with ASAN_OPTIONS=detect_leaks=0: Open MPI leaves its own allocations at MPI_Finalize.
Environment: STEER_TRAIN, STEERCTL, STEERD_TEST_DATA; MPIRUN (the launcher, default mpirun)."""
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_steer_train as base  # noqa: E402  (dataset, model, config, safetensors reader)

MPIRUN = os.environ.get("MPIRUN", "mpirun")
BOUND = 1e-4
MPI_ARGS = ["--allow-run-as-root", "--oversubscribe"]


def env():
    e = dict(os.environ)
    e["ASAN_OPTIONS"] = "detect_leaks=0"
    return e


def mpi(n, args, expect=0, cwd=None, timeout=180):
    cmd = [MPIRUN] + MPI_ARGS + ["-np", str(n), base.TRAIN] + args
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env(), cwd=cwd)
    if p.returncode != expect:
        base.fail("%s: exit %d (expected %d)\nstderr: %s" % (" ".join(cmd), p.returncode, expect, p.stderr))
    return p


def weights(rd):
    return base.st.load(os.path.join(rd, "tiny.safetensors"))[0]


def rel_diff(a_dir, b_dir):
    """max over tensors of max|a-b| / max|a|; fails when the tensor sets differ."""
    a, b = weights(a_dir), weights(b_dir)
    if sorted(a) != sorted(b):
        base.fail("tensor names differ: %s vs %s" % (sorted(a), sorted(b)))
    worst, where = 0.0, ""
    for k in a:
        x, y = np.asarray(a[k], np.float64), np.asarray(b[k], np.float64)
        r = float(np.max(np.abs(x - y)) / max(float(np.max(np.abs(x))), 1e-30))
        if r > worst:
            worst, where = r, k
    return worst, where


def check_close(a_dir, b_dir, what):
    r, k = rel_diff(a_dir, b_dir)
    if not r <= BOUND:
        base.fail("%s: weights differ by %.3g relative (tensor %s), bound %g" % (what, r, k, BOUND))
    return r


def check_logs(a_dir, b_dir, what):
    _, ra = base.read_csv(os.path.join(a_dir, "log.csv"))
    _, rb = base.read_csv(os.path.join(b_dir, "log.csv"))
    if len(ra) != len(rb):
        base.fail("%s: log.csv has %d rows, one process %d" % (what, len(rb), len(ra)))
    for x, y in zip(ra, rb):
        for key in ("train_loss", "val_loss", "train_acc", "val_acc"):
            if key in x and abs(float(x[key]) - float(y[key])) > 1e-3 * max(1.0, abs(float(x[key]))):
                base.fail("%s: log.csv %s %s vs one process %s" % (what, key, y[key], x[key]))


def case_parity():
    d, cfg, _, _ = base.setup("mpi-parity", epochs=3)
    base.write_idx(os.path.join(d, "data"), n=480)
    one = os.path.join(d, "one")
    base.run([cfg, "--set", "threads=1", "--set", "output=" + one])
    # two ranks, each in its own folder, relative output: only rank 0's folder may get it
    fa, fb = os.path.join(d, "rank0"), os.path.join(d, "rank1")
    os.makedirs(fa), os.makedirs(fb)
    run_args = [base.TRAIN, cfg, "--set", "threads=1", "--set", "output=out"]
    cmd = [MPIRUN] + MPI_ARGS + ["-np", "1", "-wdir", fa] + run_args + [":", "-np", "1", "-wdir", fb] + run_args
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env())
    if p.returncode != 0:
        base.fail("%s: exit %d\n%s" % (" ".join(cmd), p.returncode, p.stderr))
    if os.listdir(fb):
        base.fail("rank 1 wrote files: %s" % os.listdir(fb))
    two = os.path.join(fa, "out")
    if sorted(os.listdir(two)) != sorted(os.listdir(one)):
        base.fail("2 ranks wrote %s, one process %s" % (sorted(os.listdir(two)), sorted(os.listdir(one))))
    if p.stderr.count("steer-train: done:") != 1 or "2 ranks" not in p.stderr:
        base.fail("2 ranks: expected one 'done' line naming 2 ranks:\n%s" % p.stderr)
    r2 = check_close(one, two, "2 ranks")
    check_logs(one, two, "2 ranks")
    three = os.path.join(d, "three")
    mpi(3, [cfg, "--set", "threads=1", "--set", "output=" + three])
    r3 = check_close(one, three, "3 ranks")
    check_logs(one, three, "3 ranks")
    print("parity: weights of 2 / 3 ranks vs one process differ by %.3g / %.3g relative (bound %g)" % (r2, r3, BOUND))


def rank_pid(mpirun_pid, rank):
    """The pid of rank `rank` among mpirun's children (their OMPI_COMM_WORLD_RANK)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != mpirun_pid:
                continue
            with open("/proc/%s/environ" % pid, "rb") as f:
                if b"OMPI_COMM_WORLD_RANK=%d\0" % rank in f.read():
                    return int(pid)
        except (OSError, ValueError, IndexError):
            continue
    return None


def case_resume():
    d, cfg, _, _ = base.setup("mpi-resume", epochs=4)
    base.write_idx(os.path.join(d, "data"), n=1200)
    ref = os.path.join(d, "ref")
    base.run([cfg, "--set", "threads=1", "--set", "output=" + ref])
    rd = os.path.join(d, "run")
    log = os.path.join(rd, "log.csv")
    killed = None
    for attempt in range(3):
        shutil.rmtree(rd, ignore_errors=True)
        cmd = [MPIRUN] + MPI_ARGS + ["-np", "2", base.TRAIN, cfg, "--set", "threads=1"]
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env())
        t0 = time.time()
        while p.poll() is None and time.time() - t0 < 120:
            if os.path.exists(log) and len(base.read_csv(log)[1]) >= 1:
                pid = rank_pid(p.pid, 1)
                if pid:
                    os.kill(pid, signal.SIGKILL)
                    killed = len(base.read_csv(log)[1]) + 1
                break
            time.sleep(0.002)
        _, err = p.communicate(timeout=120)
        if killed == 2 and p.returncode != 0:
            break
        killed = None
    if killed is None:
        base.fail("could not kill rank 1 during epoch 2")
    if "signal 9" not in err and "Killed" not in err:
        base.fail("mpirun did not report the killed rank:\n%s" % err)
    if os.path.exists(os.path.join(rd, "tiny.safetensors")):
        base.fail("a stopped job has final weights")
    if [f for f in os.listdir(rd) if f.startswith(".")]:
        base.fail("a temporary file was left: %s" % os.listdir(rd))
    copy = os.path.join(d, "copy")
    shutil.copytree(rd, copy)
    p = base.run(["--resume", rd, "--set", "threads=1"])
    if "resuming after epoch 1 of 4" not in p.stderr:
        base.fail("no resume line:\n%s" % p.stderr)
    r1 = check_close(ref, rd, "killed at 2 ranks, resumed with 1")
    p = mpi(3, ["--resume", copy, "--set", "threads=1"])
    _, rows = base.read_csv(os.path.join(copy, "log.csv"))
    if [int(r["epoch"]) for r in rows] != [1, 2, 3, 4]:
        base.fail("resumed log.csv epochs %s" % [r["epoch"] for r in rows])
    r3 = check_close(ref, copy, "killed at 2 ranks, resumed with 3")
    print("resume: rank 1 killed in epoch 2 stopped the job; resumed with 1 / 3 ranks: %.3g / %.3g relative to the "
          "uninterrupted run" % (r1, r3))


def case_agree():
    d, cfg, _, _ = base.setup("mpi-agree", epochs=2)
    rd = os.path.join(d, "taken")
    os.makedirs(rd)
    with open(os.path.join(rd, "keep.txt"), "w") as f:
        f.write("x")
    p = mpi(2, [cfg, "--set", "output=" + rd], expect=1)
    lines = [l for l in p.stderr.splitlines() if l.startswith("steer-train:")]
    if len(lines) != 1 or "rank" in lines[0]:
        base.fail("expected rank 0's one message, got:\n%s" % p.stderr)
    if os.listdir(rd) != ["keep.txt"]:
        base.fail("the existing directory changed: %s" % os.listdir(rd))
    print("agree: %s" % lines[0])


CASES = {"Parity": case_parity, "Resume": case_resume, "Agree": case_agree}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        sys.exit("usage: test_steer_train_mpi.py %s" % "|".join(CASES))
    CASES[sys.argv[1]]()
