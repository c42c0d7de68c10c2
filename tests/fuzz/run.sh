#!/usr/bin/env bash
# run.sh — builds the libFuzzer target tests/fuzz/fuzz_<target>.c with clang
# (-fsanitize=fuzzer,address,undefined, UB fatal) and runs it for <seconds>.
#
# Usage: tests/fuzz/run.sh <target> <seconds> [extra libFuzzer flags...]
#   e.g. tests/fuzz/run.sh safetensors 600
# <target> all: every tests/fuzz/fuzz_*.c in turn, <seconds> each (`make fuzz`: 600 each); the
# status is non-zero when any of them failed, and the failed ones are named at the end. There h5
# runs with -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1: libhdf5 1.10.8 itself
# crashes on damaged files (steerctl parses them in a child process, src/import/isolate.c), so
# its artifacts are kept instead of ending the run; it still counts as failed when it saved any
# (tests/fuzz/README.md).
#
# Sources: by default the whole engine and trainer (src/common/*.c src/nn/*.c src/nn/format/*.c
# src/nn/cpu/*.c src/train/*.c, linked with -lyaml -lz -lpthread -lm); set FUZZ_SOURCES to a space-separated list
# (globs allowed) to build from fewer files, e.g.
#   FUZZ_SOURCES="src/common/err.c src/common/sha256.c src/nn/format/*.c" tests/fuzz/run.sh npy 60
# Outputs go to $FUZZ_BUILD_DIR (default build-fuzz/, not tracked): the binary fuzz_<target>,
# the working corpus corpus/<target>/ (grows; the seeds in tests/fuzz/corpus/<target>/ are read
# but not written) and crash artifacts artifacts/<target>/.
# MERGE=1: afterwards, merge inputs that add coverage into tests/fuzz/corpus/<target>/
# (-set_cover_merge=1 keeps only new-coverage files, so the committed corpus stays small).
# Exit status: 0 when the run finished without a crash/leak/timeout, libFuzzer's non-zero
# status otherwise (the reproducer is in artifacts/<target>/).
set -euo pipefail

if [ $# -lt 2 ]; then
    sed -n '2,24p' "$0" >&2
    exit 2
fi
target=$1
secs=$2
shift 2

cd "$(dirname "$0")/../.."
if [ "$target" = all ]; then
    failed=()
    for h in tests/fuzz/fuzz_*.c; do
        t=${h#tests/fuzz/fuzz_}
        t=${t%.c}
        known=()
        [ "$t" != h5 ] || known=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
        "$0" "$t" "$secs" "${known[@]}" "$@" || failed+=("$t")
    done
    [ ${#failed[@]} -eq 0 ] || { echo "run.sh: all: FAILED: ${failed[*]}" >&2; exit 1; }
    echo "run.sh: all: every target ran $secs s without a failure" >&2
    exit 0
fi
harness=tests/fuzz/fuzz_$target.c
[ -f "$harness" ] || { echo "run.sh: no harness $harness" >&2; exit 2; }
out=${FUZZ_BUILD_DIR:-build-fuzz}
seeds=tests/fuzz/corpus/$target
mkdir -p "$out/corpus/$target" "$out/artifacts/$target" "$seeds"

shopt -s nullglob
if [ -n "${FUZZ_SOURCES:-}" ]; then
    # shellcheck disable=SC2206 # intentional word splitting and glob expansion
    srcs=($FUZZ_SOURCES)
else
    srcs=(src/common/*.c src/nn/*.c src/nn/format/*.c src/nn/cpu/*.c src/train/*.c)
    for i in "${!srcs[@]}"; do # steer-train's main() would clash with libFuzzer's; MPI / NCCL:
        case "${srcs[$i]}" in      # optional back-ends (meson builds them only when found)
            src/train/main.c | src/train/comm_mpi.c | src/train/comm_nccl.c) unset "srcs[$i]" ;;
        esac
    done
fi
shopt -u nullglob
extra=()
if [ "$target" = onnx ]; then # the ONNX importer: onnx.proto compiled by protoc-c, libprotobuf-c
    mkdir -p "$out/gen"
    protoc-c --c_out="$out/gen" --proto_path=src/import src/import/onnx.proto
    srcs+=(src/import/imodel.c src/import/onnx_*.c "$out/gen/onnx.pb-c.c")
    extra=(-I"$out/gen" -lprotobuf-c)
fi
if [ "$target" = h5 ]; then # the Keras .h5 importer: libhdf5 (Debian's serial build)
    srcs+=(src/import/imodel.c src/import/kjson.c src/import/keras_h5.c src/import/keras_import.c)
    extra=(-I/usr/include/hdf5/serial -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5)
fi

bin=$out/fuzz_$target
echo "run.sh: building $bin from $harness + ${#srcs[@]} sources" >&2
${CC_FUZZ:-clang} -std=c11 -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -Isrc -D_GNU_SOURCE "$harness" "${srcs[@]}" "${extra[@]}" -lyaml -lz -lpthread -lm -o "$bin"

dict=()
[ -f "tests/fuzz/$target.dict" ] && dict=(-dict="tests/fuzz/$target.dict")

rc=0
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/$target/" "${dict[@]}" "$@" \
    "$out/corpus/$target" "$seeds" || rc=$?

if [ "$rc" -eq 0 ] && [ "${MERGE:-0}" = 1 ]; then
    "$bin" -set_cover_merge=1 "$seeds" "$out/corpus/$target"
    echo "run.sh: $(find "$seeds" -type f | wc -l) files in $seeds" >&2
fi
if [ "$rc" -ne 0 ]; then
    echo "run.sh: fuzz_$target FAILED (status $rc); reproducers in $out/artifacts/$target/" >&2
fi
exit "$rc"
