#!/usr/bin/env bash
# bench-steerd.sh — steerd's own performance (not a test; numbers for docs/BENCHMARKS.md):
#   (a) live 30 fps sources: capture -> publish overhead excluding inference, per frame
#       (total - infer from each `steer` message: queue + preprocess + formatting), p50/p99/max,
#       for (a1) videotestsrc is-live=true and (a2) a camera-like source: a generated 30 fps
#       Udacity drive log played by source.drive_log at source.rate: recorded (appsrc stamps each
#       frame when steerd's feed thread pushes it, as a camera driver's dequeue; the frames are
#       uncompressed PNG, or JPEG with CAMERA_FORMAT=jpg, made with gst-launch-1.0 and decoded to
#       RGB by the feed thread before the push);
#   (b) non-live videotestsrc (is-live=false, source.drop false = back-pressure, nothing dropped):
#       maximum sustained fps per zoo steering model on the CPU backend, 1 and 2 threads;
#   (c) RSS over 100,000 frames (VmRSS from /proc/PID/status after warm-up and at the end) with
#       the smallest steering model on small (160x80) frames.
# Prints a markdown table and the exact commands. Uses a release build (default build/, made
# like `make build`) and He-initialised weights (speed does not depend on the values).
# Usage: scripts/bench-steerd.sh [BUILD_DIR]   env: LIVE_S (20), FPS_S (8), RSS_FRAMES (100000),
#        ONLY_LIVE=1 (run (a) only), LIVE_SOURCES ("videotestsrc camera": which of (a1), (a2)),
#        LIVE_PATTERN (videotestsrc pattern of (a1), default ball), CAMERA_FORMAT (png or jpg, (a2)),
#        SPIN_US (source.spin_us, default 1500), CLOCK_SPIN_US (source.clock_spin_us, default
#        500), RT_PRIO (realtime_priority, default 0 = off;
#        SCHED_FIFO needs root or CAP_SYS_NICE)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
if [ ! -x "$build/steerd" ]; then
    scripts/deps.sh build
    [ -f "$build/build.ninja" ] || meson setup "$build" -Dtests=disabled >/dev/null
    ninja -C "$build" >/dev/null
fi
/usr/bin/python3 -c 'import zmq, yaml' 2>/dev/null || { echo "bench-steerd: needs python3-zmq python3-yaml" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for m in seed-steering-baseline seed-steering-effnet effnet-steer pilotnet; do
    "$build/steerctl" model init "models/$m.yaml" --seed 1 -o "$tmp/$m.safetensors" >/dev/null
done
STEERD="$build/steerd" BENCH_TMP="$tmp" LIVE_S=${LIVE_S:-20} FPS_S=${FPS_S:-8} RSS_FRAMES=${RSS_FRAMES:-100000} \
    /usr/bin/python3 - <<'EOF'
import json, os, platform, signal, subprocess, time
import yaml, zmq

STEERD, TMP = os.environ["STEERD"], os.environ["BENCH_TMP"]
LIVE_S, FPS_S, RSS_FRAMES = float(os.environ["LIVE_S"]), float(os.environ["FPS_S"]), int(os.environ["RSS_FRAMES"])
LOAD_BEFORE = open("/proc/loadavg").read().split()[0]
MODELS = ["seed-steering-baseline", "seed-steering-effnet", "effnet-steer", "pilotnet"]
commands = []


def config(name, model, pipeline, drop, threads, source_extra=None, interval_ms=1000):
    cfg = {"source": {"pipeline": pipeline, "drop": drop, "on_eos": "exit",
                      "spin_us": int(os.environ.get("SPIN_US", "1500")),
                      "clock_spin_us": int(os.environ.get("CLOCK_SPIN_US", "500"))},
           "model": {"spec": os.path.abspath("models/%s.yaml" % model), "weights": "%s/%s.safetensors" % (TMP, model)},
           "backend": "cpu", "threads": threads, "realtime_priority": int(os.environ.get("RT_PRIO", "0")),
           "publish": {"endpoint": "ipc://%s/%s.sock" % (TMP, name), "sndhwm": 100000},
           "stats": {"interval_ms": interval_ms}, "log": {"level": "warning"}}
    cfg["source"].update(source_extra or {})
    path = "%s/%s.yaml" % (TMP, name)
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f)
    commands.append("%s -c %s   # %s: model %s, threads %d, source: %s, drop: %s%s"
                    % (STEERD, path, name, model, threads, pipeline, str(drop).lower(),
                       "".join(", %s: %s" % kv for kv in sorted((source_extra or {}).items()))))
    return path, cfg["publish"]["endpoint"]


class Run:
    """steerd + a SUB socket; on_msg(topic, obj) returns True to stop."""

    def __init__(self, name, model, pipeline, drop, threads, source_extra=None):
        path, ep = config(name, model, pipeline, drop, threads, source_extra)
        self.ctx = zmq.Context()
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.setsockopt(zmq.RCVHWM, 0)
        self.sub.setsockopt(zmq.RECONNECT_IVL, 10)
        self.sub.connect(ep)
        self.proc = subprocess.Popen([STEERD, "-c", path], stderr=subprocess.PIPE, text=True)

    def loop(self, on_msg, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.sub.poll(100):
                topic, _, body = self.sub.recv().partition(b" ")
                if on_msg(topic.decode(), json.loads(body)):
                    return True
            elif self.proc.poll() is not None:
                return False
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(60)
        err = self.proc.stderr.read()
        self.sub.close(0)
        self.ctx.term()
        if rc != 0:
            raise SystemExit("steerd exited with %d: %s" % (rc, err))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


rows = []
# (a) live sources: overhead = total - infer (queue + preprocess + message formatting).
# (a1) videotestsrc is-live=true: the source produces RGB itself, as a camera with an RGB mode
# does (no conversion element, so the overhead measured is steerd's: appsink hand-over, slot,
# preprocess, message, not videoconvert's). Its PTS is the clock time it waits for before
# pushing, so "source" includes GStreamer's clock wait wake-up.
# (a2) camera-like: source.drive_log with source.rate: recorded on a generated 30 fps Udacity log
# (appsrc, is-live, do-timestamp: each frame is stamped when steerd's feed thread pushes it, like
# a camera driver's dequeue): uncompressed PNG, or with CAMERA_FORMAT=jpg JPEG (quality 90, as the
# simulator records), decoded to RGB by the feed thread before the push (as a camera delivers
# decoded frames), so the pipeline is appsrc ! appsink with no decoder or conversion element.


CAMERA_FORMAT = os.environ.get("CAMERA_FORMAT", "png")
if CAMERA_FORMAT not in ("png", "jpg"):
    raise SystemExit("bench-steerd: CAMERA_FORMAT: expected png or jpg (got %r)" % CAMERA_FORMAT)


def make_drive_log(n, fps=30):
    """A Udacity folder of n 320x160 frames, time-stamped 1/fps apart (ms): uncompressed PNG
    (decoded straight to RGB, the nearest to a raw camera) or JPEG quality 90 (as recorded)."""
    root = os.path.join(TMP, "drive")
    img = os.path.join(root, "IMG")
    os.makedirs(img, exist_ok=True)
    enc = ["pngenc", "compression-level=0"] if CAMERA_FORMAT == "png" else ["jpegenc", "quality=90"]
    subprocess.run(["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=%d" % n, "pattern=ball", "!",
                    "video/x-raw,format=RGB,width=320,height=160", "!", "videoconvert", "!"] + enc +
                   ["!", "multifilesink", "location=%s/f_%%05d.%s" % (img, CAMERA_FORMAT)], check=True, timeout=600)
    lines = ["center,left,right,steering,throttle,brake,speed"]
    for i in range(n):
        ms = int(round(i * 1000.0 / fps))
        name = "center_2024_01_01_00_%02d_%02d_%03d.%s" % (ms // 60000, ms // 1000 % 60, ms % 1000, CAMERA_FORMAT)
        os.rename(os.path.join(img, "f_%05d.%s" % (i, CAMERA_FORMAT)), os.path.join(img, name))
        lines.append("IMG/%s, , ,0.0,0.0,0.0,0.0" % name)
    path = os.path.join(root, "driving_log.csv")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def live_row(name, label, pipeline, source_extra=None):
    r = Run(name, "effnet-steer", pipeline, True, 1, source_extra)
    v = {k: [] for k in ("over", "own", "source", "queue", "pre", "infer")}
    t0 = [None]

    def on_live(topic, m):
        if topic != "steer":
            return False
        if t0[0] is None:
            t0[0] = time.monotonic()
        if time.monotonic() - t0[0] < 2.0:  # warm-up
            return False
        lat = m["latency_us"]
        v["over"].append(lat["total"] - lat["infer"])
        v["own"].append(lat["total"] - lat["infer"] - lat["source"])
        v["source"].append(lat["source"])
        v["pre"].append(lat["preprocess"])
        v["queue"].append(lat["queue"])
        v["infer"].append(lat["infer"])
        return time.monotonic() - t0[0] >= 2.0 + LIVE_S

    r.loop(on_live, LIVE_S + 60)
    r.stop()
    if not v["over"]:
        raise SystemExit("bench-steerd: no steer messages from %s" % name)
    return ("| %s | capture→publish excluding inference (total − infer), %d frames | "
            "p50 %.1f µs, p99 **%.1f µs**, max %.1f µs (target p99 ≤ 300 µs); of which source (capture stamp → appsink) "
            "p50 %.1f, p99 %.1f, max %.1f µs; steerd's own (arrival → publish − infer) p50 %.1f, p99 **%.1f µs**, max %.1f µs; "
            "queue p50 %.1f, p99 %.1f; preprocess p50 %.1f, p99 %.1f; infer p50 %.1f µs |"
            % (label, len(v["over"]), pct(v["over"], 50), pct(v["over"], 99), max(v["over"]), pct(v["source"], 50),
               pct(v["source"], 99), max(v["source"]), pct(v["own"], 50), pct(v["own"], 99), max(v["own"]),
               pct(v["queue"], 50), pct(v["queue"], 99), pct(v["pre"], 50), pct(v["pre"], 99), pct(v["infer"], 50)))


live = ("videotestsrc is-live=true pattern=%s ! video/x-raw,format=RGB,width=320,height=160,framerate=30/1 ! "
        "appsink name=sink" % os.environ.get("LIVE_PATTERN", "ball"))
which = os.environ.get("LIVE_SOURCES", "videotestsrc camera")
if "videotestsrc" in which:
    rows.append(live_row("live", "live 30 fps videotestsrc, effnet-steer, 1 thread, 320x160 RGB", live))
if "camera" in which:
    log = make_drive_log(int((LIVE_S + 6) * 30))
    rows.append(live_row("camera", "live 30 fps camera-like (drive log of %s frames, recorded rate, stamped on push), "
                                   "effnet-steer, 1 thread, 320x160 RGB" % CAMERA_FORMAT.upper(),
                         "appsrc name=src ! appsink name=sink",
                         {"drive_log": log, "rate": "recorded"}))

if os.environ.get("ONLY_LIVE") == "1":  # quick check of (a) alone
    print("\n".join(rows))
    print("load average: %s before, %s after; realtime_priority %s" % (LOAD_BEFORE, open("/proc/loadavg").read().split()[0],
                                                                       os.environ.get("RT_PRIO", "0")))
    raise SystemExit(0)

# (b) non-live, back-pressure: sustained fps per model and thread count.
nonlive = "videotestsrc is-live=false pattern=ball ! video/x-raw,width=320,height=160 ! videoconvert ! appsink name=sink"
fps_rows = []
for model in MODELS:
    for threads in (1, 2):
        r = Run("fps-%s-%d" % (model, threads), model, nonlive, False, threads)
        t_start, first, last = [None], [None], [None]

        def on_fps(topic, m):
            if topic != "steer":
                return False
            now = m["t_publish_ns"]
            if t_start[0] is None:
                t_start[0] = now
            if now - t_start[0] < 2e9:  # warm-up
                return False
            if first[0] is None:
                first[0] = (now, m["seq"])
            last[0] = (now, m["seq"])
            return now - first[0][0] >= FPS_S * 1e9

        r.loop(on_fps, FPS_S + 120)
        r.stop()
        (ta, sa), (tb, sb) = first[0], last[0]
        fps = (sb - sa) / ((tb - ta) / 1e9)
        fps_rows.append((model, threads, fps, sb - sa))
for model, threads, fps, n in fps_rows:
    rows.append("| non-live 320x160, back-pressure, %s, %d thread%s | max sustained fps (%d frames) | **%.0f fps** (%.2f ms/frame) |"
                % (model, threads, "" if threads == 1 else "s", n, fps, 1000.0 / fps))

# (c) RSS over RSS_FRAMES frames.
small = ("videotestsrc is-live=false num-buffers=%d pattern=ball ! video/x-raw,width=160,height=80 ! videoconvert ! "
         "appsink name=sink" % RSS_FRAMES)
r = Run("rss", "effnet-steer", small, False, 1)
pid = r.proc.pid
samples = []
state = {"start": None, "end": None, "final": None, "t": time.monotonic(), "warm": max(1000, RSS_FRAMES // 100)}


def on_rss(topic, m):
    now = time.monotonic()
    if topic == "steer":
        seq = m["seq"]
        if state["start"] is None and seq >= state["warm"]:
            state["start"] = (seq, rss_kib(pid))
        if seq >= RSS_FRAMES - 1000 and state["end"] is None:
            state["end"] = (seq, rss_kib(pid))
        if now - state["t"] >= 5.0 and state["start"] is not None:
            samples.append(rss_kib(pid))
            state["t"] = now
    elif topic == "stats" and m["final"]:
        state["final"] = m
        return True
    return False


t_rss = time.monotonic()
r.loop(on_rss, 1800)
wall = time.monotonic() - t_rss
r.stop()
(s0, k0), (s1, k1) = state["start"], state["end"]
fin = state["final"]
rows.append("| non-live 160x80, back-pressure, effnet-steer, 1 thread | VmRSS over %d frames (%.0f s) | "
            "%d KiB after %d frames → %d KiB after %d frames: **%+d KiB** (max of %d samples in between %d KiB); "
            "frames %d, dropped %d (target ±1 MiB) |"
            % (RSS_FRAMES, wall, k0, s0, k1, s1, k1 - k0, len(samples), max(samples + [k1]), fin["frames"], fin["dropped"]))

cpu = ""
with open("/proc/cpuinfo") as f:
    for line in f:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
print("### steerd daemon (scripts/bench-steerd.sh)\n")
print("Machine: %s, %d CPUs, %s; load average before: %s\n" % (cpu, os.cpu_count(), platform.platform(),
                                                                 LOAD_BEFORE))
print("| setup | measure | result |")
print("|---|---|---|")
for row in rows:
    print(row)
print("\nCommands (configs written by the script; weights: `steerctl model init models/M.yaml --seed 1`):\n")
print("```")
print("LIVE_S=%g FPS_S=%g RSS_FRAMES=%d scripts/bench-steerd.sh BUILD   # all of the below" % (LIVE_S, FPS_S, RSS_FRAMES))
for c in commands:
    print(c)
print("```")
EOF
