#!/usr/bin/env bash
# deb.sh — builds the Debian packages (`make deb`): steerd, libsteer0 and libsteer-dev, written to
# dist/ as steerd_<version>_<arch>.deb etc. The version is meson.build's (single source):
# debian/changelog is written from it in a copy of the tree, which is built there with
# dpkg-buildpackage -us -uc -b (debian/rules: meson, no tests, no CUDA), so the source tree
# gets no build droppings. Needs the Build-Depends of debian/control (scripts/deps.sh deb); no
# network.
#   scripts/deb.sh [--arch arm64]
# --arch arm64 on an x86 machine cross-builds the arm64 packages (`make deb ARCH=arm64`) with the
# toolchain and sysroot of `make cross-arm64` (scripts/deps.sh cross-arm64): dpkg-buildpackage
# -a arm64 -d, as the :arm64 Build-Depends are in the sysroot, not installed (debian/rules).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
arch=$(dpkg-architecture -qDEB_BUILD_ARCH)
case "${1:-}" in
    "") ;;
    --arch) arch=${2:?usage: $0 [--arch arm64]} ;;
    --arch=*) arch=${1#--arch=} ;;
    *) echo "usage: $0 [--arch arm64]" >&2; exit 64 ;;
esac
cross=()
if [ "$arch" != "$(dpkg-architecture -qDEB_BUILD_ARCH)" ]; then
    if [ "$arch" != arm64 ]; then
        echo "deb: cannot build for $arch here (native, or arm64 with the cross toolchain)" >&2
        exit 64
    fi
    if [ ! -f build-arm64-sysroot/DEBIAN/symbols ]; then
        echo "deb: no arm64 sysroot (with its symbols files) in build-arm64-sysroot/; make it with: scripts/deps.sh cross-arm64" >&2
        exit 1
    fi
    cross=(-a "$arch" -d)
    # The compiler dpkg-architecture checks the host type against (meson takes the cross file's);
    # no test run, as the package is built without the test suite anyway (debian/rules).
    export CC=aarch64-linux-gnu-gcc DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}"
fi
version=$(meson introspect meson.build --projectinfo | python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
work=$(mktemp -d "${TMPDIR:-/tmp}/steerd-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src="$work/steerd-$version"
mkdir -p "$src"
# The files git knows (tracked, or new and not ignored): what a fresh clone would build.
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [ -e "$f" ] && printf '%s\0' "$f"
done | tar -c --null -T - -f - | tar -x -C "$src"
{
    echo "steerd ($version) unstable; urgency=medium"
    echo
    echo "  * steerd $version (version from meson.build)."
    echo
    echo " -- steerd maintainers <steerd@example.org>  $(date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")"
} > "$src/debian/changelog"
[ ${#cross[@]} = 0 ] || ln -s "$root/build-arm64-sysroot" "$src/build-arm64-sysroot"
log=dist/build$([ ${#cross[@]} = 0 ] || echo "-$arch").log
echo "deb: building steerd $version for $arch in $work (log: $log)" >&2
mkdir -p dist
start=$(date +%s)
(cd "$src" && dpkg-buildpackage -us -uc -b "${cross[@]}") > "$log" 2>&1 || {
    tail -30 "$log" >&2
    echo "deb: dpkg-buildpackage failed (whole log: $log)" >&2
    exit 1
}
echo "deb: built in $(( $(date +%s) - start )) s" >&2
for p in steerd libsteer0 libsteer-dev; do
    cp "$work/${p}_${version}_${arch}.deb" dist/
done
rm -f dist/steerd_*_"$arch".changes dist/steerd_*_"$arch".buildinfo
cp "$work/steerd_${version}_${arch}.changes" "$work/steerd_${version}_${arch}.buildinfo" dist/ 2>/dev/null || true
echo "$root/dist/steerd_${version}_${arch}.deb"
