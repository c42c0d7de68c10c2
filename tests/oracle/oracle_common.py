"""oracle_common.py — shared machinery of the oracle checkers (check_layers.py, check_zoo.py).

A Case is one model YAML + weights + input; prepare() writes the files into its own work
directory and computes the float64 PyTorch reference, run_cases() runs `steerctl model run` for
every case (in parallel, --jobs) and judges:
  * forward cases: max|steerd - torch| / max(1e-3, max|torch|) <= tol (default 1e-5), output
    [N, outputs] float32, all finite;
  * bad-input cases (culprit set): exit status > 0 (a signal is a failure), exactly one line on
    stderr, and that line names the offending file.
Also: the weight-file mutators used by the bad-input cases and steerctl discovery.
"""
import glob
import os
import re
import subprocess
import sys
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
import torchmodel as tm  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TOL = 1e-5
RUN_TIMEOUT_S = 180


@dataclass
class Case:
    name: str
    spec: dict
    culprit: Optional[str] = None        # "model" | "weights" | "input": the run must fail
    mutate: Optional[Callable] = None    # tensors dict -> weights file bytes
    checksum: bool = True
    add_nbt: bool = False                # add BatchNorm num_batches_tracked (I64, shape [])
    f16: bool = False                    # every tensor written F16 (the reference uses the same rounded values)
    metadata: Optional[dict] = None
    x_dtype: str = "<f4"
    batch: int = 2
    yaml_text: Optional[str] = None      # verbatim model file (malformed YAML)
    x_grow_axis: Optional[int] = None    # input one larger along this axis
    x_rank2: bool = False                # input [N*H*W, C] instead of [N, H, W, C]
    x_scale: float = 1.0                 # input = N(0, 1) * x_scale + x_shift
    x_shift: float = 0.0
    remove: Optional[str] = None         # delete this file ("model", "weights", "input") before the run
    bad_output: bool = False             # --output in a directory that does not exist
    files: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------- cli

def add_common_args(ap, workname):
    ap.add_argument("--steerctl", help="steerctl binary (a .py path runs with this python)")
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "steerd-" + workname))
    ap.add_argument("--filter", default="", help="only cases whose name contains SUBSTR")
    ap.add_argument("--threads", type=int, help="steerctl --threads (default: alternate 1 and 2)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="parallel steerctl runs")
    ap.add_argument("--tol", type=float, default=TOL)


def find_steerctl(path):
    """Command prefix for steerctl: the given path, else the newest build*/steerctl in the repo."""
    if path:
        if path.endswith(".py"):
            return [sys.executable, path]
        return [path] if os.access(path, os.X_OK) else None
    found = [p for pat in ("build*/steerctl", "build*/src/tools/steerctl")
             for p in glob.glob(os.path.join(REPO, pat)) if os.access(p, os.X_OK)]
    return [max(found, key=os.path.getmtime)] if found else None


def slug(i, name):
    return f"{i:04d}-" + re.sub(r"[^A-Za-z0-9_.=-]+", "_", name)[:80]


def seed_of(name):
    return zlib.crc32(name.encode())


# ---------------------------------------------------------------------------- weight mutators

def drop_tensor(name):
    return lambda t: st.encode({k: v for k, v in t.items() if k != name})


def extra_tensor(name):
    return lambda t: st.encode({**t, name: np.zeros(3, np.float32)})


def reshape_tensor(name):
    return lambda t: st.encode({**t, name: t[name].reshape(t[name].shape[0], -1, 1, 1)})


def transpose_tensor(name):
    return lambda t: st.encode({**t, name: t[name].T})


def dtype_tensor(name, dtype, value=None):
    """Tensor `name` written as `dtype` (and, with value, every element set to it)."""
    def mutate(t):
        t = dict(t)
        if value is not None:
            t[name] = np.full_like(t[name], value)
        return st.encode(t, dtype_override={name: dtype})
    return mutate


def truncate(nbytes):
    return lambda t: st.encode(t)[:-nbytes]


def header_past_end(t):
    buf = st.encode(t)
    return (len(buf) + 100).to_bytes(8, "little") + buf[8:]


def wrong_checksum(t):
    data = st.encode(t, checksum=False)
    header, raw = st.split(data)
    good = st.sha256_hex(raw)
    bad = ("0" if good[0] != "0" else "1") + good[1:]
    return st.encode(t, checksum="sha256:" + bad)


def header_not_json(t):
    body = b'{"c.weight": [1, 2' + b" " * 6
    return len(body).to_bytes(8, "little") + body + b"\0" * 64


def offsets_past_end(t):
    header, raw = st.split(st.encode(t, checksum=False))
    last = max((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][1])
    b, e = header[last]["data_offsets"]
    header[last]["data_offsets"] = [b + 8, e + 8]
    return st.pack(header, raw)


# ---------------------------------------------------------------------------- preparation

def make_input(case, hwc, rng):
    h, w, c = hwc
    shape = [case.batch, h, w, c]
    if case.x_grow_axis is not None:
        shape[case.x_grow_axis] += 1
    if case.x_rank2:
        shape = [int(np.prod(shape[:3])), shape[3]]
    if case.x_dtype == "<U3":
        return np.full(shape, "abc", dtype="<U3")
    if case.x_dtype == "|u1":
        return rng.integers(0, 256, shape).astype(np.uint8)
    return (rng.standard_normal(shape) * case.x_scale + case.x_shift).astype(case.x_dtype)


def prepare(case, workdir, idx):
    """Writes model.yaml, weights.safetensors, x.npy; returns the reference (None for bad cases)."""
    d = os.path.join(workdir, slug(idx, case.name))
    os.makedirs(d, exist_ok=True)
    f = case.files = {k: os.path.join(d, n) for k, n in
                      (("model", "model.yaml"), ("weights", "weights.safetensors"), ("input", "x.npy"),
                       ("output", "y.npy"))}
    with open(f["model"], "w") as fh:
        fh.write(case.yaml_text if case.yaml_text is not None else yaml.safe_dump(case.spec, sort_keys=False))
    rng = np.random.default_rng(seed_of(case.name))
    try:
        net = tm.build(case.spec)
    except tm.SpecError:
        if case.culprit is None:
            raise
        net = None
    tensors = tm.random_weights(net, rng) if net is not None else {}
    if case.f16:  # F16 on disk; the engine converts exactly, so the reference sees the rounded values
        tensors = {k: v.astype(np.float16).astype(np.float32) for k, v in tensors.items()}
    if case.mutate is not None:
        blob = case.mutate(tensors)
    else:
        extra = {}
        if case.add_nbt:
            extra = {k.rsplit(".", 1)[0] + ".num_batches_tracked": np.array(7, np.int64)
                     for k in tensors if k.endswith("running_var")}
        override = {k: "I64" for k in extra}
        if case.f16:
            override.update({k: "F16" for k in tensors})
        blob = st.encode({**tensors, **extra}, case.metadata, case.checksum, dtype_override=override)
    with open(f["weights"], "wb") as fh:
        fh.write(blob)
    i = case.spec.get("input") or {}
    hwc = net.in_hwc if net is not None else (i.get("height", 4), i.get("width", 5), i.get("channels", 3))
    x = make_input(case, hwc, rng)
    np.save(f["input"], x)
    if os.path.exists(f["output"]):
        os.remove(f["output"])
    if case.remove:
        os.remove(f[case.remove])
    if case.bad_output:
        f["output"] = os.path.join(d, "no-such-dir", "y.npy")
    if case.culprit is not None:
        return None
    return tm.reference(net, tensors, x.astype(np.float32))


# ---------------------------------------------------------------------------- judging

def relative_error(y, ref):
    return float(np.max(np.abs(y.astype(np.float64) - ref))) / max(1e-3, float(np.max(np.abs(ref))))


def judge_forward(proc, case, ref, tol):
    if proc.returncode != 0:
        return f"exit {proc.returncode}: {proc.stderr.strip()[:300]}"
    try:
        y = np.load(case.files["output"], allow_pickle=False)
    except (OSError, ValueError) as e:
        return f"cannot read output: {e}"
    if y.dtype != np.float32:
        return f"output dtype {y.dtype} != float32"
    if y.shape != ref.shape:
        return f"output shape {list(y.shape)} != {list(ref.shape)}"
    if not np.all(np.isfinite(y)):
        return "output has non-finite values"
    err = relative_error(y, ref)
    if not err <= tol:
        i = np.unravel_index(np.argmax(np.abs(y - ref)), y.shape)
        return f"rel err {err:.3g} > {tol:g} (worst at {list(map(int, i))}: steerd {y[i]:.7g} torch {ref[i]:.7g})"
    return None


def judge_bad(proc, case):
    lines = proc.stderr.splitlines()
    culprit = os.path.basename(case.files[case.culprit])
    if proc.returncode < 0:
        return f"killed by signal {-proc.returncode}"
    if proc.returncode == 0:
        return "exit 0 (should fail)"
    if len(lines) != 1:
        return f"{len(lines)} stderr lines (want 1): {proc.stderr.strip()[:300]!r}"
    if culprit not in lines[0]:
        return f"stderr does not name {culprit}: {lines[0][:300]!r}"
    return None


def run_cmd(cmd, timeout=RUN_TIMEOUT_S):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, errors="replace")
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 124, "", f"timeout after {timeout} s\n")


def run_one(steerctl, case, ref, threads, tol):
    f = case.files
    cmd = steerctl + ["model", "run", f["model"], f["weights"], "--input", f["input"],
                      "--output", f["output"], "--threads", str(threads)]
    proc = run_cmd(cmd)
    if proc.returncode == 124 and "timeout" in proc.stderr:
        return "timeout"
    return judge_bad(proc, case) if case.culprit else judge_forward(proc, case, ref, tol)


def report(results):
    """results: list of (name, failure message or None). Prints failures and the summary."""
    failed = [(n, m) for n, m in results if m is not None]
    for n, m in failed:
        print(f"FAIL [{n}]: {m}")
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return len(failed)


def run_cases(cases, steerctl, a):
    """Prepares every case (main thread) while steerctl runs in a pool; prints the report."""
    os.makedirs(a.workdir, exist_ok=True)
    futures = []
    with ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        for i, c in enumerate(cases):
            threads = a.threads if a.threads else 1 + i % 2
            try:
                ref = prepare(c, a.workdir, i)
            except Exception as e:  # a bug in the case generator is a failure too
                futures.append((c.name + f" threads={threads}", None, f"oracle error: {type(e).__name__}: {e}"))
                continue
            futures.append((c.name + f" threads={threads}",
                            pool.submit(run_one, steerctl, c, ref, threads, a.tol), None))
        results = [(n, fut.result() if fut is not None else msg) for n, fut, msg in futures]
    return report(results)
