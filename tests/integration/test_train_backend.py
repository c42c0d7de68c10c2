#!/usr/bin/python3
"""test_train_backend.py — steer-train's `backend` key (cpu | cuda | auto) end to end, on the
dataset, model and config of test_steer_train.py. Cases (one per meson test):
  Cuda  backend: cuda. Without a usable GPU: exit 1 and exactly one stderr line naming the config
        key and the reason ("this build has no CUDA backend" in a build without it, else "no CUDA
        device (...)"), no run directory written. With a GPU: the run trains (loss falls, the
        weights load) and its per-epoch training losses agree with backend: cpu within 1e-3.
  Auto  backend: auto always trains (the CPU without a GPU; "training on the GPU" only with one).
Environment: STEER_TRAIN, STEERCTL, STEERD_TEST_DATA, STEERD_CUDA_BUILT ("1" when this build has
the CUDA backend)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_steer_train as st  # noqa: E402  (shares the dataset, model and config)

CUDA_BUILT = os.environ.get("STEERD_CUDA_BUILT", "0") == "1"


def losses(run_dir):
    _, rows = st.read_csv(os.path.join(run_dir, "log.csv"))
    return [float(r["train_loss"]) for r in rows]


def case_cuda():
    d, cfg, _, _ = st.setup("backend-cuda", epochs=2)
    rd = os.path.join(d, "run")
    p = subprocess.run([st.TRAIN, cfg, "--set", "backend=cuda"], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        lines = p.stderr.strip().split("\n")
        want = "no CUDA device" if CUDA_BUILT else "this build has no CUDA backend"
        if p.returncode != 1 or len(lines) != 1 or want not in lines[0] or "backend" not in lines[0]:
            st.fail("backend: cuda without a GPU: exit %d, stderr %r (want exit 1, one line naming `backend` "
                    "and %r)" % (p.returncode, p.stderr, want))
        if os.path.exists(os.path.join(rd, "checkpoint.bin")):
            st.fail("a failed start wrote a checkpoint")
        print("no GPU here: %s" % lines[0])
        return
    if not CUDA_BUILT:
        st.fail("backend: cuda trained in a build without the CUDA backend")
    if "training on the GPU (backend cuda)" not in p.stderr:
        st.fail("no 'training on the GPU' line: %s" % p.stderr)
    gpu = losses(rd)
    if not gpu[-1] < gpu[0]:
        st.fail("GPU training loss did not decrease: %s" % gpu)
    if not os.path.isfile(os.path.join(rd, "tiny.safetensors")):
        st.fail("no weights after GPU training: %s" % os.listdir(rd))
    st.run([cfg, "--set", "backend=cpu", "--set", "output=run-cpu"])
    cpu = losses(os.path.join(d, "run-cpu"))
    for e, (g, c) in enumerate(zip(gpu, cpu)):
        if abs(g - c) > 1e-3 * abs(c):
            st.fail("epoch %d training loss: cuda %.7g, cpu %.7g (more than 1e-3 apart)" % (e + 1, g, c))
    print("GPU and CPU training losses agree: %s vs %s" % (gpu, cpu))


def case_auto():
    d, cfg, _, _ = st.setup("backend-auto", epochs=2)
    p = st.run([cfg, "--set", "backend=auto"], timeout=300)
    if not os.path.isfile(os.path.join(d, "run", "tiny.safetensors")):
        st.fail("backend: auto did not train: %s" % p.stderr)
    if "training on the GPU" in p.stderr and not CUDA_BUILT:
        st.fail("backend: auto claims the GPU in a build without the CUDA backend")
    with open(os.path.join(d, "run", "config.yaml")) as f:
        if "backend: auto" not in f.read():
            st.fail("the run's config.yaml does not record `backend: auto`")


CASES = {"Cuda": case_cuda, "Auto": case_auto}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        sys.exit("usage: test_train_backend.py {%s}" % "|".join(CASES))
    CASES[sys.argv[1]]()
