#!/usr/bin/env bash
# deb.sh — builds the Debian packages (`make deb`): steerd, libsteer0 and libsteer-dev, written to
# dist/ as steerd_<version>_<arch>.deb etc. The version is meson.build's (single source):
# debian/changelog is written from it in a copy of the tree, which is built there with
# dpkg-buildpackage -us -uc -b (debian/rules: meson, no tests, no CUDA), so the source tree
# gets no build droppings. Needs the Build-Depends of debian/control (scripts/deps.sh deb); no
# network.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
version=$(meson introspect meson.build --projectinfo | python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
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
echo "deb: building steerd $version for $arch in $work (log: dist/build.log)" >&2
mkdir -p dist
(cd "$src" && dpkg-buildpackage -us -uc -b) > dist/build.log 2>&1 || {
    tail -30 dist/build.log >&2
    echo "deb: dpkg-buildpackage failed (whole log: dist/build.log)" >&2
    exit 1
}
for p in steerd libsteer0 libsteer-dev; do
    cp "$work/${p}_${version}_${arch}.deb" dist/
done
rm -f dist/steerd_*.changes dist/steerd_*.buildinfo
cp "$work/steerd_${version}_${arch}.changes" "$work/steerd_${version}_${arch}.buildinfo" dist/ 2>/dev/null || true
echo "$root/dist/steerd_${version}_${arch}.deb"
