#!/usr/bin/python3
"""check_install.py — `meson install --destdir` of this build into a temporary folder, then checks
the tree the Debian package and a vehicle install rely on (issue 14):
  - bin/steerd steerctl steer-train; libsteer (SONAME link, header, pkg-config file);
  - the systemd unit in a systemd/system folder with ExecStart=PREFIX/BINDIR/steerd -c SYSCONFDIR/...;
  - SYSCONFDIR/steerd/steerd.yaml: the source config with only model.spec/model.weights pointed
    at DATADIR/steerd/models, the systemd endpoint kept; it validates with the installed steerd
    (`--check-config`) once the two model paths are prefixed with the DESTDIR (the files are not
    at their final place yet) and the endpoint moved to a folder that exists outside systemd
    (/run/steerd is the unit's RuntimeDirectory);
  - every bundled model (YAML + safetensors, digit subfolders too), byte for byte;
  - man pages steerd(8), steerctl(1), steer-train(1) as roff; bash completion loading in bash;
    the docs in DATADIR/doc/steerd;
  - examples/steer-run.c compiled against the installed header and pkg-config file (prefix
    redefined to the DESTDIR tree), run against the installed libsteer.so: the same outputs as
    the build tree's steer-run; the library exports steer_* only.
Usage: check_install.py MESON BUILD_ROOT SOURCE_ROOT STEER_RUN"""
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile

failures = []


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        failures.append(what)
    return ok


def main():
    meson, build, src, steer_run = sys.argv[1:5]
    opts = {o["name"]: o["value"] for o in
            json.loads(subprocess.run([meson, "introspect", build, "--buildoptions"], capture_output=True,
                                      check=True, text=True).stdout)}
    prefix = opts["prefix"]
    d = {k: os.path.join(prefix, opts[k]) for k in ("bindir", "sysconfdir", "datadir", "mandir", "libdir",
                                                     "includedir")}
    modeldir = os.path.join(d["datadir"], "steerd", "models")
    tmp = tempfile.mkdtemp(prefix="steerd-install-")
    try:
        dest = os.path.join(tmp, "dest")
        p = subprocess.run([meson, "install", "-C", build, "--no-rebuild", "--quiet", "--destdir", dest],
                           capture_output=True, text=True, timeout=300)
        if not check(p.returncode == 0, f"meson install --destdir (exit {p.returncode}) {p.stderr.strip()[-400:]}"):
            return
        D = lambda path: dest + path  # noqa: E731  where an installed absolute path is in the DESTDIR tree

        # programs
        for prog in ("steerd", "steerctl", "steer-train"):
            f = D(os.path.join(d["bindir"], prog))
            check(os.path.isfile(f) and os.access(f, os.X_OK), f"{d['bindir']}/{prog} installed, executable")

        # systemd unit
        units = [os.path.join(r, n) for r, _, ns in os.walk(dest) for n in ns if n == "steerd.service"]
        if check(len(units) == 1 and units[0].endswith("/systemd/system/steerd.service"),
                 f"one steerd.service in a systemd/system folder: {[u[len(dest):] for u in units]}"):
            with open(units[0]) as f:
                execs = [ln.strip() for ln in f if ln.startswith("ExecStart=")]
            want = f"ExecStart={d['bindir']}/steerd -c {d['sysconfdir']}/steerd/steerd.yaml"
            check(execs == [want], f"unit {execs} == [{want}]")

        # config
        cfg = D(os.path.join(d["sysconfdir"], "steerd", "steerd.yaml"))
        with open(cfg) as f:
            installed = f.read().splitlines()
        with open(os.path.join(src, "config", "steerd.yaml")) as f:
            source = f.read().splitlines()
        changed = [(a, b) for a, b in zip(source, installed) if a != b]
        check(len(installed) == len(source) and changed == [
            ("  spec: ../models/effnet-steer.yaml", f"  spec: {modeldir}/effnet-steer.yaml"),
            ("  weights: ../models/effnet-steer.safetensors", f"  weights: {modeldir}/effnet-steer.safetensors")],
            f"installed config = source config with the model paths in {modeldir}: changed {changed}")
        check("  endpoint: ipc:///run/steerd/steer.sock" in installed, "installed config keeps the systemd endpoint")
        steerd = D(os.path.join(d["bindir"], "steerd"))
        if os.path.isfile(steerd):
            sock = os.path.join(tmp, "steer.sock")
            moved = os.path.join(tmp, "steerd-destdir.yaml")
            with open(moved, "w") as f:
                for ln in installed:
                    ln = ln.replace(f": {modeldir}/", f": {D(modeldir)}/")
                    ln = ln.replace("ipc:///run/steerd/steer.sock", "ipc://" + sock)
                    f.write(ln + "\n")
            p = subprocess.run([steerd, "--check-config", moved], capture_output=True, text=True, timeout=120)
            check(p.returncode == 0 and D(modeldir) in p.stdout + p.stderr,
                  f"installed steerd --check-config on the installed config (models in DESTDIR): exit {p.returncode}"
                  f" {p.stderr.strip()[-300:]}")

        # models
        srcmodels = os.path.join(src, "models")
        want = sorted(os.path.relpath(os.path.join(r, n), srcmodels) for r, _, ns in os.walk(srcmodels) for n in ns
                      if n.endswith((".yaml", ".safetensors")))
        missing = [m for m in want if not os.path.isfile(os.path.join(D(modeldir), m))
                   or not filecmp.cmp(os.path.join(srcmodels, m), os.path.join(D(modeldir), m), shallow=False)]
        check(len(want) > 20 and any(m.startswith("mnist10k/") for m in want) and not missing,
              f"{len(want)} model files in {modeldir} (digit subfolders too), identical; missing/different: {missing}")

        # man pages, completion, docs
        for page, sec in (("steerd", "8"), ("steerctl", "1"), ("steer-train", "1")):
            f = D(os.path.join(d["mandir"], "man" + sec, f"{page}.{sec}"))
            ok = os.path.isfile(f)
            if ok:
                with open(f) as fh:
                    text = fh.read()
                ok = f'.TH "{page}" "{sec}"' in text and ".SH NAME" in text and "EXIT STATUS" in text
            check(ok, f"man page {page}({sec}) in {d['mandir']}/man{sec}: roff with NAME and EXIT STATUS")
        comps = [os.path.join(r, n) for r, _, ns in os.walk(dest) for n in ns
                 if r.endswith("bash-completion/completions")]
        for prog in ("steerd", "steerctl", "steer-train"):
            f = [c for c in comps if os.path.basename(c) == prog]
            ok = len(f) == 1 and subprocess.run(["bash", "-c", f'source "{f[0]}" && complete -p {prog}'],
                                                capture_output=True).returncode == 0
            check(ok, f"bash completion for {prog} loads and registers")
        for doc in ("README.md", "FORMATS.md", "ARCHITECTURE.md", "FAILURES.md"):
            check(os.path.isfile(D(os.path.join(d["datadir"], "doc", "steerd", doc))), f"doc/steerd/{doc}")

        # libsteer: SONAME link, header, pkg-config, exports, the example built against the install
        lib = D(d["libdir"])
        check(os.path.islink(os.path.join(lib, "libsteer.so")) and os.path.islink(os.path.join(lib, "libsteer.so.0")),
              f"{d['libdir']}/libsteer.so -> libsteer.so.0 -> libsteer.so.<version>")
        check(os.path.isfile(D(os.path.join(d["includedir"], "steer", "steer.h"))), "include/steer/steer.h")
        syms = subprocess.run(["nm", "-D", "--defined-only", os.path.join(lib, "libsteer.so.0")], capture_output=True,
                              text=True).stdout.split()
        exported = sorted({s.split("@")[0] for s in syms if "steer" in s.lower() or s.startswith("nn_")})
        check(exported and all(s.startswith("steer_") or s == "STEER_1" for s in exported),
              f"libsteer exports steer_* only ({len(exported)} symbols)")
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(lib, "pkgconfig"))
        pc = subprocess.run(["pkg-config", f"--define-variable=prefix={D(prefix)}", "--cflags", "--libs", "steer"],
                            capture_output=True, text=True, env=env)
        if not check(pc.returncode == 0 and D(prefix) in pc.stdout, f"pkg-config steer from the DESTDIR tree: "
                     f"{pc.stdout.strip()} {pc.stderr.strip()}"):
            return
        exe = os.path.join(tmp, "steer-run")
        # A sanitized library (-Db_sanitize) needs a sanitized program (the runtime must load first).
        san = [f"-fsanitize={opts['b_sanitize']}"] if opts["b_sanitize"] not in ("none", "") else []
        cc = subprocess.run([os.environ.get("CC", "cc"), "-std=c11", "-Wall", "-Werror", *san,
                             os.path.join(src, "examples", "steer-run.c"), "-o", exe, *pc.stdout.split()],
                            capture_output=True, text=True)
        if not check(cc.returncode == 0, f"cc examples/steer-run.c $(pkg-config ... steer): {cc.stderr.strip()}"):
            return
        run_env = dict(os.environ, LD_LIBRARY_PATH=lib)
        ldd = subprocess.run(["ldd", exe], capture_output=True, text=True, env=run_env).stdout
        check(f"libsteer.so.0 => {lib}/libsteer.so.0" in ldd, "the example loads the installed libsteer.so.0")
        spec = os.path.join(D(modeldir), "effnet-steer.yaml")
        weights = os.path.join(D(modeldir), "effnet-steer.safetensors")
        a = subprocess.run([exe, spec, weights], capture_output=True, text=True, env=run_env, timeout=120)
        b = subprocess.run([steer_run, spec, weights], capture_output=True, text=True, timeout=120)
        check(a.returncode == 0 and a.stdout.strip() and a.stdout == b.stdout,
              f"installed example on the installed model: {a.stdout.strip()!r} == build tree's {b.stdout.strip()!r}"
              f" {a.stderr.strip()}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
    if failures:
        sys.exit(f"{len(failures)} check(s) failed")
