# bench-common.sh — sourced by bench.sh and bench-train.sh (ROOT and STEERCTL set by the caller):
# the checks both peer benchmarks need before they start.

# OpenBLAS for a fair PyTorch peer (without it Debian's torch uses the reference BLAS): installed
# with scripts/deps.sh bench when running as root, else the command is printed and we stop.
require_openblas() {
    if dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q "install ok installed"; then
        echo "OpenBLAS: libopenblas0-pthread installed" >&2
        return 0
    fi
    echo "OpenBLAS (libopenblas0-pthread) is not installed; benchmarks need it: scripts/deps.sh bench" >&2
    if [ "$(id -u)" = 0 ]; then
        "$ROOT/scripts/deps.sh" bench >&2 || { echo "scripts/deps.sh bench failed" >&2; exit 1; }
    else
        exit 1
    fi
}

# The ELF e_machine bytes of this machine's binaries ("3e00" x86-64, "b700" AArch64; empty: other).
host_elf_machine() {
    case "$(uname -m)" in x86_64) echo 3e00 ;; aarch64) echo b700 ;; *) echo "" ;; esac
}

# $STEERCTL when set, else the newest build*/steerctl that is not a sanitizer build and is built
# for this machine (a cross build's build-arm64/steerctl next to the x86 builds is skipped).
find_steerctl() {
    if [ -n "$STEERCTL" ]; then echo "$STEERCTL"; return; fi
    local best="" f host
    host="$(host_elf_machine)"
    for f in "$ROOT"/build*/steerctl "$ROOT"/build*/src/tools/steerctl; do
        [ -x "$f" ] || continue
        if [ -n "$host" ] && [ "$(od -An -tx1 -j18 -N2 "$f" | tr -d ' \n')" != "$host" ]; then continue; fi
        if grep -q -a -e __asan_init -e __ubsan_handle "$f"; then continue; fi
        if [ -z "$best" ] || [ "$f" -nt "$best" ]; then best="$f"; fi
    done
    [ -n "$best" ] || { echo "no non-sanitizer build*/steerctl: build one or pass -s PATH" >&2; exit 1; }
    echo "$best"
}
