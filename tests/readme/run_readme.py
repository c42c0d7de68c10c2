"""run_readme.py — README.md's command blocks, run as written: every ```sh block, in order, with
bash -e (-o pipefail), in a fresh copy of the tree (the files git tracks: no data/, no build
folders) whose build/ is a link to the build under test, so the README cannot rot. The marker
convention (README.md's top comment), on the line just before a block:
  <!-- readme-test: skip (REASON) -->           not run; REASON is printed
  <!-- readme-test: small (A -> B; C -> D) -->  run with the text A replaced by B (each A must occur)
Background jobs a block starts (`steerd ... &`) are waited for at its end, and killed with its
process group when the block fails or runs past its time. Prints one line per block (ran in N s,
skipped and why) and the total time.

usage: run_readme.py SOURCE_ROOT BUILD_DIR"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BLOCK_TIMEOUT_S = 300
MARKER = re.compile(r"^<!--\s*readme-test:\s*(\w+)\s*\((.*)\)\s*-->\s*$")


class Block:
    def __init__(self, line, text, marker):
        self.line, self.text, self.marker = line, text, marker


def blocks(readme):
    """The ```sh blocks of README text, each with the marker on the line before it (or None)."""
    out, lines = [], readme.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^```\s*(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        start, lang = i, fence.group(1)
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            i += 1
        if i >= len(lines):
            raise SystemExit("README.md:%d: a ``` block that never ends" % (start + 1))
        body = "\n".join(lines[start + 1:i]) + "\n"
        i += 1
        if lang not in ("sh", "bash", "shell"):
            continue
        before = lines[start - 1] if start > 0 else ""
        marker = None
        if "readme-test" in before:
            m = MARKER.match(before.strip())
            if not m or m.group(1) not in ("skip", "small") or not m.group(2).strip():
                raise SystemExit("README.md:%d: malformed marker %r (expected <!-- readme-test: skip (REASON) --> "
                                 "or <!-- readme-test: small (A -> B; ...) -->)" % (start, before))
            marker = (m.group(1), m.group(2).strip())
        out.append(Block(start + 1, body, marker))
    return out


def shrink(block):
    """The block's text with a `small` marker's replacements applied (each must occur)."""
    text = block.text
    for pair in block.marker[1].split(";"):
        old, arrow, new = pair.partition("->")
        old, new = old.strip(), new.strip()
        if not arrow or not old:
            raise SystemExit("README.md:%d: small: expected 'A -> B' (got %r)" % (block.line - 1, pair))
        if old not in text:
            raise SystemExit("README.md:%d: small: %r does not occur in the block (keep the marker true)" %
                             (block.line - 1, old))
        text = text.replace(old, new)
    return text


def fresh_copy(root, dest):
    """The files git tracks (as a fresh clone has them), or the tree less build and data folders."""
    try:
        files = subprocess.run(["git", "-C", root, "ls-files", "-z"], capture_output=True, check=True).stdout
        names = [n for n in files.decode().split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = []
    if not names:
        ignore = shutil.ignore_patterns("build*", "data", ".git")
        shutil.copytree(root, dest, ignore=ignore, dirs_exist_ok=True, symlinks=True)
        return
    for n in names:
        src = os.path.join(root, n)
        if not os.path.lexists(src):  # deleted in the work tree
            continue
        os.makedirs(os.path.dirname(os.path.join(dest, n)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, n), follow_symlinks=False)


def run_block(text, cwd):
    script = "set -eo pipefail\n" + text + "set +e\nwait\n"
    t0 = time.monotonic()
    p = subprocess.Popen(["bash", "-c", script], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True, text=True)
    try:
        out, _ = p.communicate(timeout=BLOCK_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        return None, out, time.monotonic() - t0
    try:
        os.killpg(p.pid, signal.SIGKILL)  # anything the block left running
    except ProcessLookupError:
        pass
    return p.returncode, out, time.monotonic() - t0


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 64
    root, build = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    with open(os.path.join(root, "README.md")) as f:
        bl = blocks(f.read())
    if not bl:
        print("README.md: no ```sh blocks found")
        return 1
    t_all = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="steerd-readme-") as tmp:
        fresh_copy(root, tmp)
        if os.path.lexists(os.path.join(tmp, "build")):
            shutil.rmtree(os.path.join(tmp, "build"))
        os.symlink(build, os.path.join(tmp, "build"))
        print("fresh copy of %s in %s; build/ -> %s" % (root, tmp, build))
        ran = skipped = 0
        for b in bl:
            where = "README.md:%d" % b.line
            first = b.text.strip().splitlines()[0] if b.text.strip() else ""
            if b.marker and b.marker[0] == "skip":
                print("%s: skipped (%s): %s" % (where, b.marker[1], first))
                skipped += 1
                continue
            text = shrink(b) if b.marker else b.text
            rc, out, secs = run_block(text, tmp)
            if rc != 0:
                print("%s: FAILED (%s) after %.1f s; the block as run:\n%s--- output (last 4000 characters):\n%s" %
                      (where, "timed out" if rc is None else "exit %d" % rc, secs, text, out[-4000:]))
                return 1
            print("%s: ok in %.1f s%s: %s" % (where, secs, " (small)" if b.marker else "", first))
            ran += 1
    print("README.md: %d blocks ran, %d skipped, %.1f s in all" % (ran, skipped, time.monotonic() - t_all))
    return 0


if __name__ == "__main__":
    sys.exit(main())
