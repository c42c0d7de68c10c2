#!/usr/bin/env bash
# arm64-run.sh — runs an arm64 (aarch64) program on this x86 machine under qemu-user.
#   scripts/arm64-run.sh BINARY ARGS...     e.g. scripts/arm64-run.sh build-arm64/steerctl model info models/pilotnet.yaml
# The program's loader and libraries come from build-arm64-sysroot/ (scripts/arm64-sysroot.sh),
# GStreamer's plugins from the sysroot's gstreamer-1.0 folder. The meson cross file
# (scripts/arm64-linux.ini) uses this script as its exe_wrapper, so `meson test -C build-arm64`
# runs the tests through it. STEERD_ARM64_SYSROOT names another sysroot.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sysroot=${STEERD_ARM64_SYSROOT:-$top/build-arm64-sysroot}
if [ $# -eq 0 ]; then
  echo "usage: $0 BINARY [ARGS...]" >&2
  exit 2
fi
if [ ! -f "$1" ] || [ ! -r "$1" ]; then
  echo "arm64-run: $1: no such program" >&2
  exit 2
fi
if [ ! -f "$sysroot/.stamp" ]; then
  echo "arm64-run: no arm64 sysroot at $sysroot; make it with: scripts/deps.sh cross-arm64" >&2
  exit 2
fi
qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
if [ -z "$qemu" ]; then
  echo "arm64-run: qemu-aarch64-static not found (Debian package qemu-user-static)" >&2
  exit 2
fi
multiarch="$sysroot/lib/aarch64-linux-gnu:$sysroot/usr/lib/aarch64-linux-gnu"
export QEMU_LD_PREFIX="$sysroot"
export LD_LIBRARY_PATH="$multiarch${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# GStreamer: only the sysroot's plugins, scanned in-process (its helper, gst-plugin-scanner, is an
# arm64 program the kernel cannot start here), registry cached apart from the host's.
export GST_PLUGIN_SYSTEM_PATH="$sysroot/usr/lib/aarch64-linux-gnu/gstreamer-1.0"
export GST_PLUGIN_SCANNER=/nonexistent
export GST_REGISTRY_FORK=no
export GST_REGISTRY="$sysroot/gst-registry-arm64.bin"
exec "$qemu" -L "$sysroot" "$@"
