#!/usr/bin/env bash
# deps.sh — makes sure the Debian 12 packages steerd needs are installed.
#   scripts/deps.sh build   packages to build and run steerd
#   scripts/deps.sh test    plus the test suite's (cmocka, PyTorch oracle)
#   scripts/deps.sh bench   plus the benchmark peer's (PyTorch with OpenBLAS)
#   scripts/deps.sh deb     plus the Debian packaging tools (make deb, scripts/deb-check.sh)
#   scripts/deps.sh cross-arm64  the arm64 cross toolchain, qemu and the arm64 sysroot (`test` too)
# As root it installs what is missing with apt-get; otherwise it prints the one command to run.
set -euo pipefail

build_pkgs=(gcc pkg-config meson ninja-build scdoc libyaml-dev zlib1g-dev libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-plugins-base gstreamer1.0-plugins-good libzmq3-dev libjpeg-dev libpng-dev)
test_pkgs=(libcmocka-dev dataset-fashion-mnist python3 python3-numpy python3-yaml python3-torch python3-zmq valgrind systemd gstreamer1.0-tools)
bench_pkgs=(python3 python3-numpy python3-yaml python3-torch libopenblas0-pthread)
fuzz_pkgs=(clang libclang-rt-dev)
# make deb: debian/control's Build-Depends beyond build_pkgs, and the checks of scripts/deb-check.sh
deb_pkgs=(debhelper dpkg-dev lintian man-db python3 python3-zmq)
# arm64: cross compiler + glibc, qemu-user; the :arm64 libraries go into a sysroot (below).
cross_pkgs=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static)
cross=0
# data-parallel steer-train (mpirun -np N, -Dmpi=auto): MPI to build it, mpirun to run it and its tests
build_pkgs+=(libopenmpi-dev openmpi-bin)
# steerctl import: ONNX (libprotobuf-c, protoc-c compiles src/import/onnx.proto) and Keras .h5 (libhdf5);
# its tests build ONNX and .h5 files.
build_pkgs+=(libprotobuf-c-dev protobuf-c-compiler libhdf5-dev)
test_pkgs+=(python3-onnx python3-h5py)
fuzz_pkgs+=(libprotobuf-c-dev protobuf-c-compiler)
# The Keras oracle of the import tests (tests/import/check_keras_tfjs.py): TensorFlow.js' tfjs-layers
# under node, pinned by tests/import/keras-oracle/package-lock.json, installed into its node_modules/
# (ignored by git) by keras_oracle below; quick when that lock file is already installed.
test_pkgs+=(nodejs)
command -v npm >/dev/null || test_pkgs+=(npm) # NodeSource's nodejs has npm inside and conflicts with Debian's
keras_oracle() {
  [ "${1:-build}" = test ] || return 0
  local d; d="$(cd "$(dirname "$0")/../tests/import/keras-oracle" && pwd)"
  cmp -s "$d/package-lock.json" "$d/node_modules/.steerd-installed" && return 0
  echo "deps: installing the Keras oracle (npm ci in $d)" >&2
  (cd "$d" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) &&
    cp "$d/package-lock.json" "$d/node_modules/.steerd-installed"
}

want=("${build_pkgs[@]}")
case "${1:-build}" in
  build) ;;
  test) want+=("${test_pkgs[@]}" "${cross_pkgs[@]}"); cross=1 ;;
  bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  fuzz) want+=("${fuzz_pkgs[@]}") ;;
  deb) want+=("${deb_pkgs[@]}") ;;
  cross-arm64) want+=("${cross_pkgs[@]}"); cross=1 ;;
  *) echo "usage: $0 build|test|bench|fuzz|deb|cross-arm64" >&2; exit 2 ;;
esac

# The arm64 sysroot (scripts/arm64-sysroot.sh: apt-get download + dpkg -x of :arm64 packages,
# nothing installed; skipped when already made). apt needs the arm64 architecture for it.
if [ $cross -eq 1 ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "deps: apt lacks the arm64 architecture; run:" >&2
      echo "  sudo dpkg --add-architecture arm64 && sudo apt-get update" >&2
      exit 1
    fi
    echo "deps: adding the arm64 architecture to apt" >&2
    dpkg --add-architecture arm64
    apt-get update -q >/dev/null
  fi
  "$(dirname "$0")/arm64-sysroot.sh"
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && { keras_oracle "${1:-build}"; exit 0; }

if [ "$(id -u)" -eq 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  keras_oracle "${1:-build}"
else
  echo "deps: missing Debian packages; run:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
