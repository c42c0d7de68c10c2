#!/usr/bin/env bash
# arm64-sysroot.sh — the arm64 sysroot the cross build links against and qemu runs with.
#   scripts/arm64-sysroot.sh [DIR]   (default: build-arm64-sysroot/ at the top of the repository)
# Debian 12's :arm64 -dev packages cannot all be installed next to their amd64 twins
# (libgstreamer-plugins-base1.0-dev:arm64 removes the amd64 one), so nothing is installed: the
# :arm64 packages are fetched with `apt-get download` and unpacked with `dpkg -x` into DIR (their
# symbols and shlibs files into DIR/DEBIAN/, for the arm64 Debian package: scripts/deb.sh). Needs
# the arm64 architecture in apt (`dpkg --add-architecture arm64 && apt-get update`, done by
# scripts/deps.sh cross-arm64). Skipped when DIR was made from this same script (a stamp holds its
# hash); otherwise DIR is made again from scratch.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build-arm64-sysroot}

# What the programs and tests run with: these libraries and their Depends closure (libraries only).
# gstreamer1.0-plugins-base holds videotestsrc, videoconvert and appsink (config/test.yaml).
runtime=(libc6 libgcc-s1 libstdc++6 libglib2.0-0 libgstreamer1.0-0 libgstreamer-plugins-base1.0-0
  gstreamer1.0-plugins-base libzmq5 libyaml-0-2 libcmocka0 libjpeg62-turbo libpng16-16 zlib1g)
# What the build compiles and links against: headers, .so links and the .pc files pkg-config
# follows (Requires and Requires.private), without their own Depends (which pull in Mesa and LLVM).
# glibc's headers come from the cross toolchain (libc6-dev-arm64-cross), not from here.
dev=(libglib2.0-dev libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev liborc-0.4-dev
  libzmq3-dev libyaml-dev libcmocka-dev libjpeg62-turbo-dev libpng-dev zlib1g-dev
  libffi-dev libpcre2-dev libmount-dev libblkid-dev libselinux1-dev libsepol-dev libunwind-dev
  libdw-dev libelf-dev liblzma-dev libzstd-dev libbz2-dev libsodium-dev libpgm-dev libnorm-dev
  libkrb5-dev krb5-multidev libbsd-dev libmd-dev libxml2-dev)

stamp=$(sha256sum "$0" | cut -d' ' -f1)
if [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$stamp" ]; then
  exit 0
fi
if ! apt-cache show libc6:arm64 >/dev/null 2>&1; then
  echo "arm64-sysroot: apt has no arm64 packages; run as root:" >&2
  echo "  dpkg --add-architecture arm64 && apt-get update" >&2
  exit 1
fi

start=$(date +%s)
args=()
for p in "${runtime[@]}"; do args+=("$p:arm64"); done
# The closure: every :arm64 library package (and zlib1g) reached through Depends (no tools such as
# dpkg or tar).
mapfile -t closure < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances "${args[@]}" |
  grep -E '^(lib[^ ]*|zlib1g|gstreamer1\.0-plugins-base):arm64$' | grep -v -- '-bin:arm64$' | sort -u)
for p in "${dev[@]}"; do closure+=("$p:arm64"); done

tmp="$dir.tmp"
rm -rf "$tmp" "$dir"
mkdir -p "$tmp/debs"
(cd "$tmp/debs" && apt-get download -q "${closure[@]}" >/dev/null 2>"$tmp/download.log") || {
  cat "$tmp/download.log" >&2; echo "arm64-sysroot: apt-get download failed" >&2; exit 1; }
# The packages' symbols and shlibs control files, gathered into DIR/DEBIAN/ (dpkg -x leaves them
# out): the arm64 Debian package build (scripts/deb.sh --arch arm64) computes its Depends from them
# with `dpkg-shlibdeps -S DIR`, which reads DEBIAN/ at the root of a tree it finds libraries in.
mkdir -p "$tmp/root/DEBIAN"
for deb in "$tmp"/debs/*.deb; do
  dpkg -x "$deb" "$tmp/root"
  rm -rf "$tmp/control"
  dpkg-deb -e "$deb" "$tmp/control"
  for f in symbols shlibs; do
    [ ! -f "$tmp/control/$f" ] || cat "$tmp/control/$f" >> "$tmp/root/DEBIAN/$f"
  done
done
rm -rf "$tmp/control"
# Absolute symbolic links (libfoo.so -> /lib/...) would point into this machine: make them relative.
while IFS= read -r link; do
  target=$(readlink "$link")
  ln -sfr "$tmp/root$target" "$link"
done < <(find "$tmp/root" -type l -lname '/*')
# Not needed to link or run: documentation, translations, GObject introspection data, glibc's
# iconv modules and static archives (the build links shared libraries).
rm -rf "$tmp"/root/usr/share/{doc,man,info,locale,gir-1.0,lintian,bug} "$tmp"/root/usr/lib/aarch64-linux-gnu/gconv
find "$tmp/root" -name '*.a' -delete
# Every module the build asks pkg-config for must resolve (with the Requires.private it follows).
PKG_CONFIG_LIBDIR="$tmp/root/usr/lib/aarch64-linux-gnu/pkgconfig:$tmp/root/usr/share/pkgconfig" \
  PKG_CONFIG_SYSROOT_DIR="$tmp/root" pkg-config --cflags --libs gstreamer-1.0 gstreamer-app-1.0 \
  gstreamer-video-1.0 libzmq yaml-0.1 cmocka libjpeg libpng zlib >/dev/null
echo "$stamp" > "$tmp/root/.stamp"
mv "$tmp/root" "$dir"
rm -rf "$tmp"
echo "arm64-sysroot: $dir: ${#closure[@]} packages, $(du -sh "$dir" | cut -f1), $(( $(date +%s) - start )) s" >&2
