#!/bin/sh
# valgrind_steerd.sh — steerd on config/test.yaml under valgrind's memcheck for a few seconds of
# live frames, then SIGTERM: exit status 0 (valgrind's --error-exitcode turns any memory error or
# definite/indirect leak into status 1). Exit 77 (skipped) when valgrind is not installed.
# Usage: valgrind_steerd.sh STEERD CONFIG WEIGHTS_DIR [SECONDS]
# STEERD must not be ASan-instrumented (tests/meson.build builds a plain one for sanitized builds).
set -eu
steerd=$1
config=$2
data=$3
secs=${4:-4}
if ! command -v valgrind >/dev/null 2>&1; then
    echo "skipped: valgrind not installed"
    exit 77
fi
if ldd "$steerd" 2>/dev/null | grep -q libasan; then
    echo "error: $steerd is ASan-instrumented; valgrind needs a build without sanitizers"
    exit 1
fi
root=$(cd "$(dirname "$config")/.." && pwd)
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
# Own endpoint and absolute model paths (the copy no longer sits next to models/).
sed -e "s#endpoint: .*#endpoint: ipc://$tmp/steer.sock#" \
    -e "s#: \.\./models/#: $root/models/#" "$config" > "$tmp/test.yaml"
STEERD_TEST_DATA=$data G_SLICE=always-malloc G_DEBUG=gc-friendly \
    valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --show-leak-kinds=definite,indirect --num-callers=30 \
    "$steerd" -c "$tmp/test.yaml" > "$tmp/out.log" 2> "$tmp/valgrind.log" &
pid=$!
# Wait until it serves (model loaded, pipeline playing); valgrind makes start-up slow.
i=0
until grep -q "serving " "$tmp/valgrind.log"; do
    i=$((i + 1))
    if [ $i -gt 1200 ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "steerd did not start under valgrind:"; cat "$tmp/valgrind.log"; exit 1
    fi
    sleep 0.1
done
sleep "$secs"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
frames=$(sed -n 's/.*stopping on signal after \([0-9]*\) frames.*/\1/p' "$tmp/valgrind.log")
grep -E "ERROR SUMMARY|definitely lost|indirectly lost|stopping on signal" "$tmp/valgrind.log" || true
if [ "$rc" -ne 0 ]; then
    echo "steerd under valgrind exited with status $rc; log:"; cat "$tmp/valgrind.log"; exit 1
fi
if [ -z "$frames" ] || [ "$frames" -eq 0 ]; then
    echo "steerd processed no frames under valgrind; log:"; cat "$tmp/valgrind.log"; exit 1
fi
echo "valgrind: exit 0 after $frames frames, no memory errors, no definite/indirect leaks"
