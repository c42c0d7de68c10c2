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

# $STEERCTL when set, else the newest build*/steerctl that is not a sanitizer build.
find_steerctl() {
    if [ -n "$STEERCTL" ]; then echo "$STEERCTL"; return; fi
    local best="" f
    for f in "$ROOT"/build*/steerctl "$ROOT"/build*/src/tools/steerctl; do
        [ -x "$f" ] || continue
        if grep -q -a -e __asan_init -e __ubsan_handle "$f"; then continue; fi
        if [ -z "$best" ] || [ "$f" -nt "$best" ]; then best="$f"; fi
    done
    [ -n "$best" ] || { echo "no non-sanitizer build*/steerctl: build one or pass -s PATH" >&2; exit 1; }
    echo "$best"
}
