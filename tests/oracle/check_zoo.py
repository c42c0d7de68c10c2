#!/usr/bin/python3
"""check_zoo.py — every zoo model (models/*.yaml) against PyTorch, through the real `steerctl`.

Per model, three checks (each counted in the summary):
  forward  random float32 weights (PyTorch layouts, non-trivial BN stats) and a random input
           batch of 2: `steerctl model run` vs the float64 torchmodel.py reference,
           max|steerd - torch| / max(1e-3, max|torch|) <= 1e-5 (--tol);
  info     `steerctl model info --json` totals equal the torch counts exactly: total_params
           (all stored elements, BN 4 per channel), trainable_params (nn.Parameters), macs (forward
           hooks on Conv2d/Linear, per sample); on a mismatch the differing layers are listed;
  init     `steerctl model init --seed 1` writes F32 tensors with exactly the documented names and
           shapes, all finite, with a valid sha256 checksum in __metadata__.
Output: one line per failure; last line exactly `N passed, N failed`; exit 1 on any failure,
77 (meson: skipped) when there is no model to check.
Usage: check_zoo.py [--models DIR] [--steerctl PATH] [--workdir DIR] [--filter SUBSTR] [--threads N]
"""
import argparse
import glob
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle_common as oc  # noqa: E402
import st  # noqa: E402
import torchmodel as tm  # noqa: E402


def torch_layer_costs(net):
    """{primitive name: (params, trainable, macs)} for primitives that own tensors or MACs."""
    names = tm.tensor_names(net)
    trainable = {n for n, _ in net.named_parameters()}
    _, macs = tm.count_macs(net)
    out = {}
    for p in net.prims:
        mine = [k for k in names if k.startswith(p.name + ".") and k.count(".") == p.name.count(".") + 1]
        if mine or p.name in macs:
            out[p.name] = (sum(int(np.prod(names[k])) for k in mine),
                           sum(int(np.prod(names[k])) for k in mine if k in trainable), macs.get(p.name, 0))
    return out


def check_info(steerctl, path, net, spec):
    proc = oc.run_cmd(steerctl + ["model", "info", path, "--json"])
    if proc.returncode != 0:
        return f"exit {proc.returncode}: {proc.stderr.strip()[:300]}"
    try:
        info = json.loads(proc.stdout)
    except ValueError as e:
        return f"output is not JSON: {e}"
    total, trainable = tm.count_params(net)
    macs, _ = tm.count_macs(net)
    want = {"total_params": total, "trainable_params": trainable, "macs": macs}
    bad = [f"{k} {info.get(k)} != torch {v}" for k, v in want.items() if info.get(k) != v]
    if info.get("name") != spec.get("name"):
        bad.append(f"name {info.get('name')!r} != {spec.get('name')!r}")
    layers = info.get("layers") or []
    if layers and list(layers[-1].get("output", [])) != net.out_shape.hwc():
        bad.append(f"last layer output {layers[-1].get('output')} != torch {net.out_shape.hwc()}")
    if bad:
        return "; ".join(bad) + layer_diff(layers, net)
    return None


def layer_diff(layers, net):
    """Per-layer differences for names both sides know (debugging aid)."""
    ref = torch_layer_costs(net)
    diffs = []
    for l in layers:
        r = ref.get(l.get("name"))
        if r is None:
            continue
        got = (l.get("params"), l.get("trainable_params"), l.get("macs"))
        if got != r:
            diffs.append(f"{l['name']}: (params, trainable, macs) {got} != torch {r}")
    return (" | layers: " + "; ".join(diffs[:8])) if diffs else ""


def check_init(steerctl, path, net, workdir):
    out = os.path.join(workdir, "init.safetensors")
    if os.path.exists(out):
        os.remove(out)
    proc = oc.run_cmd(steerctl + ["model", "init", path, "--seed", "1", "-o", out])
    if proc.returncode != 0:
        return f"exit {proc.returncode}: {proc.stderr.strip()[:300]}"
    try:
        with open(out, "rb") as f:
            header, data = st.split(f.read())
        tensors, meta = st.load(out)
    except (OSError, ValueError) as e:
        return f"unreadable: {e}"
    want = tm.tensor_names(net)
    have = {k: v for k, v in header.items() if k != "__metadata__" and not k.endswith("num_batches_tracked")}
    bad = []
    if set(have) != set(want):
        bad.append(f"missing {sorted(set(want) - set(have))[:5]} extra {sorted(set(have) - set(want))[:5]}")
    bad += [f"{k}: shape {v['shape']} != {list(want[k])}" for k, v in have.items()
            if k in want and tuple(v["shape"]) != want[k]]
    bad += [f"{k}: dtype {v['dtype']}" for k, v in have.items() if v.get("dtype") != "F32"]
    bad += [f"{k}: non-finite values" for k, v in tensors.items() if not np.all(np.isfinite(v))]
    if not str(meta.get("checksum", "")).startswith("sha256:"):
        bad.append(f"no sha256 checksum in __metadata__ ({meta})")
    return "; ".join(bad[:6]) or None


def check_model(path, steerctl, a, idx, pool):
    """Returns a list of (check name, future or message)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    work = os.path.join(a.workdir, stem)
    os.makedirs(work, exist_ok=True)
    try:
        spec = tm.load_spec(path)
        net = tm.build(spec)
    except Exception as e:
        return [(f"zoo {stem}: oracle", f"torch model cannot be built: {type(e).__name__}: {e}")]
    case = oc.Case(f"zoo {stem} forward", spec)
    threads = a.threads or 2
    ref = oc.prepare(case, work, 0)
    case.files["model"] = path      # run the zoo file itself, not the re-dumped copy
    return [(f"zoo {stem} forward threads={threads}", pool.submit(oc.run_one, steerctl, case, ref, threads, a.tol)),
            (f"zoo {stem} info", pool.submit(check_info, steerctl, path, net, spec)),
            (f"zoo {stem} init", pool.submit(check_init, steerctl, path, net, work))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    oc.add_common_args(ap, "oracle-zoo")
    ap.add_argument("--models", default=os.path.join(oc.REPO, "models"))
    a = ap.parse_args()
    paths = sorted(p for p in glob.glob(os.path.join(a.models, "*.yaml")) if a.filter in os.path.basename(p))
    if not paths:
        print(f"no model YAML in {a.models} (skipped)")
        print("0 passed, 0 failed")
        return 77
    steerctl = oc.find_steerctl(a.steerctl)
    if steerctl is None:
        print("steerctl not found (pass --steerctl PATH)")
        print("0 passed, 1 failed")
        return 1
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        checks = [c for i, p in enumerate(paths) for c in check_model(p, steerctl, a, i, pool)]
        results = [(n, f.result() if hasattr(f, "result") else f) for n, f in checks]
    return 1 if oc.report(results) else 0


if __name__ == "__main__":
    sys.exit(main())
