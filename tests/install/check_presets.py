#!/usr/bin/python3
"""check_presets.py — every camera preset documented in config/steerd.yaml (the comment block
under `source:` Presets, read from the file so the docs are what is tested), run with
gst-launch-1.0 as steerd would run it: a camera source this machine lacks (no /dev/video0 here, no
libcamera, no Jetson) is replaced by videotestsrc giving the same caps (MJPEG: encoded by
jpegenc), an element this machine lacks by what it does (nvvidconv: videoconvert ! videoscale,
NVMM memory: system memory), `appsink name=sink` becomes steerd's RGB caps and a fakesink; 10
frames must pass. The property names given to a replaced element that is installed are checked with
gst-inspect-1.0; for an absent one they cannot be, and the output says so (SKIP lines).
Usage: check_presets.py CONFIG.yaml"""
import re
import subprocess
import sys

CAMERAS = {"v4l2src", "libcamerasrc", "nvarguscamerasrc"}
STAND_INS = {"nvvidconv": "videoconvert ! videoscale"}


def presets(path):
    """(label, pipeline) of each preset in the Presets comment block."""
    out, label, lines, inside = [], None, [], False
    with open(path) as f:
        for ln in f:
            if "# Presets:" in ln:
                inside = True
                continue
            if not inside:
                continue
            if not ln.startswith("  #") or "check_presets.py" in ln:
                break
            m = re.match(r"  #     (\S.*)$", ln)
            if m:
                lines.append(m.group(1).strip())
                continue
            m = re.match(r"  #   (\S.*)$", ln)
            if m:
                if label and lines:
                    out.append((label, " ".join(lines)))
                if lines or not label:
                    label, lines = m.group(1), []
    if label and lines:
        out.append((label, " ".join(lines)))
    return out


def have(element):
    return subprocess.run(["gst-inspect-1.0", "--exists", element]).returncode == 0


def props_ok(element, props):
    text = subprocess.run(["gst-inspect-1.0", element], capture_output=True, text=True).stdout
    return [p for p in props if not re.search(rf"^\s+{re.escape(p)}\s*:", text, re.M)]


def runnable(pipeline, notes):
    elems = [e.strip() for e in pipeline.split(" ! ")]
    out = []
    i = 0
    while i < len(elems):
        e = elems[i]
        name = e.split()[0]
        props = [kv.split("=")[0] for kv in e.split()[1:] if "=" in kv]
        if name in CAMERAS:
            caps = elems[i + 1] if i + 1 < len(elems) else "video/x-raw"
            if have(name):
                bad = props_ok(name, props)
                notes.append(f"{name}: no camera here, replaced by videotestsrc with caps {caps}; properties "
                             + (f"unknown: {bad}" if bad else f"{props} exist"))
                if bad:
                    return None
            else:
                notes.append(f"SKIP {name}: not installed here (a camera stack this machine lacks); replaced by "
                             f"videotestsrc with caps {caps}; its properties {props} not checked")
            plain = re.sub(r"\(memory:NVMM\)", "", caps)
            if plain.startswith("image/jpeg"):
                out += ["videotestsrc num-buffers=10", plain.replace("image/jpeg", "video/x-raw", 1), "jpegenc", plain]
            else:
                out += ["videotestsrc num-buffers=10", plain]
            i += 2
            continue
        if "(memory:NVMM)" in e:
            notes.append("SKIP caps (memory:NVMM): NVIDIA memory; checked as system memory")
            e = e.replace("(memory:NVMM)", "")
        elif not re.match(r"[a-z-]+/", e) and not have(name):
            if name not in STAND_INS:
                notes.append(f"{name}: not installed and no stand-in: cannot run")
                return None
            notes.append(f"SKIP {name}: not installed here; replaced by {STAND_INS[name]}; its properties "
                         f"{props} not checked")
            e = STAND_INS[name]
        if e == "appsink name=sink":  # steerd sets RGB caps on its appsink; fakesink runs to the end alone
            out += ["capsfilter caps=video/x-raw,format=RGB", "fakesink"]
        else:
            out.append(e)
        i += 1
    return " ! ".join(out)


def main():
    found = presets(sys.argv[1])
    labels = [label for label, _ in found]
    need = ["camera", "USB camera", "Raspberry Pi", "Jetson CSI", "aspectratiocrop"]
    missing = [n for n in need if not any(n in label for label in labels)]
    if missing:
        sys.exit(f"FAIL: presets not found in {sys.argv[1]}: {missing} (found {labels})")
    fails = 0
    for label, pipeline in found:
        if "appsrc" in pipeline or "filesrc" in pipeline or "multifilesrc" in pipeline or "videotestsrc" in pipeline:
            continue  # files, drive logs and the test pattern: the integration tests run those
        notes = []
        p = runnable(pipeline, notes)
        for n in notes:
            print(f"  {n}")
        if p is None:
            print(f"FAIL: {label}: cannot be run here")
            fails += 1
            continue
        r = subprocess.run(["gst-launch-1.0", "--gst-debug-level=0", "-q", *p.split()], capture_output=True,
                           text=True, timeout=60)
        if r.returncode == 0:
            print(f"ok: {label}\n    as run: {p}")
        else:
            print(f"FAIL: {label}: gst-launch-1.0 {p}: exit {r.returncode}: {(r.stderr or r.stdout).strip()[-300:]}")
            fails += 1
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
