#!/usr/bin/env bash
# deb-check.sh — builds the Debian packages (scripts/deb.sh), runs lintian (0 errors required) and
# checks the steerd package's contents. With --install it also installs them ON THIS MACHINE
# (dpkg -i), checks the installed system (binaries and --version, man pages, the unit enabled but
# not started, the conffile, `steerd --check-config /etc/steerd/steerd.yaml`, a steerd on the
# installed model and a test pattern publishing over ZeroMQ, the example built with the installed
# libsteer-dev), purges them and checks nothing they installed is left (file lists of /etc /usr
# /lib /var /opt before and after). Use --install only on a machine you may change.
# --arch arm64 (on an x86 machine) checks the cross-built arm64 packages (`make deb ARCH=arm64`)
# without installing them: lintian, contents, Depends, `file` on the programs, and the packaged
# programs run under qemu (scripts/arm64-run.sh) from an unpacked copy: --version, --check-config
# and a steerd publishing, on the packaged config and model.
#   scripts/deb-check.sh [--no-build] [--install] [--arch arm64]
set -uo pipefail
cd "$(dirname "$0")/.."
usage="usage: $0 [--no-build] [--install] [--arch arm64]"
native=$(dpkg-architecture -qDEB_BUILD_ARCH)
build=1 install=0 arch=$native
while [ $# -gt 0 ]; do
    case $1 in
        --no-build) build=0 ;;
        --install) install=1 ;;
        --arch) arch=${2:-}; shift ;;
        --arch=*) arch=${1#--arch=} ;;
        *) echo "$usage" >&2; exit 64 ;;
    esac
    shift
done
case $arch in
    "$native") run=() ;;
    arm64) run=(scripts/arm64-run.sh) ;;
    *) echo "deb-check: no check for $arch packages here" >&2; exit 64 ;;
esac
if [ $install = 1 ] && [ "$arch" != "$native" ]; then
    echo "deb-check: --install installs on this $native machine; check $arch packages without it (or on an $arch machine)" >&2
    exit 64
fi
version=$(meson introspect meson.build --projectinfo | python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
debs=(dist/libsteer0_${version}_$arch.deb dist/libsteer-dev_${version}_$arch.deb dist/steerd_${version}_$arch.deb)
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# test_config CONFIG PREFIX SOCKET: CONFIG (the packaged /etc/steerd/steerd.yaml) with a test
# pattern instead of the camera, the models under PREFIX (empty: installed) and publishing on the
# ipc SOCKET, where a user may bind
test_config() {
    sed -e 's#^    v4l2src device=/dev/video0 ! video/x-raw,framerate=30/1 ! videoconvert ! videoscale !$#    videotestsrc is-live=true ! video/x-raw,width=320,height=160,framerate=30/1 ! videoconvert !#' \
        -e 's#^    video/x-raw,width=320,height=160 ! appsink name=sink$#    appsink name=sink#' \
        -e "s#/usr/share/steerd/#$2/usr/share/steerd/#" \
        -e "s#ipc:///run/steerd/steer.sock#ipc://$3#" "$1" > "$tmp/run.yaml"
    grep -q videotestsrc "$tmp/run.yaml" || bad "test config: the default pipeline was not replaced"
}

# steerd_publishes SOCKET STEERD...: runs STEERD -c $tmp/run.yaml (a command: the program, maybe
# under qemu), takes one steer message from SOCKET over ZeroMQ, stops it with SIGTERM (exit 0)
steerd_publishes() {
    local sock=$1 msg rc
    shift
    "$@" -c "$tmp/run.yaml" > "$tmp/steerd.log" 2>&1 &
    pid=$!
    msg=$(/usr/bin/python3 - "$sock" <<'PY'
import json, sys, zmq
s = zmq.Context().socket(zmq.SUB)
s.setsockopt(zmq.SUBSCRIBE, b"steer ")
s.setsockopt(zmq.RCVTIMEO, 60000)
s.connect("ipc://" + sys.argv[1])
topic, body = s.recv().split(b" ", 1)
m = json.loads(body)
print(m["model"]["name"], "angle_deg", m.get("angle_deg"), "seq", m.get("seq"))
PY
    ) && ok "a steer message from the packaged steerd over ZeroMQ: $msg" || { bad "no steer message:"; tail -5 "$tmp/steerd.log"; }
    grep -q effnet-steer <<<"$msg" || bad "the message does not name effnet-steer"
    kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
    [ $rc = 0 ] && ok "steerd stopped by SIGTERM, exit 0" || bad "steerd exit $rc after SIGTERM"
}

if [ $build = 1 ]; then
    scripts/deb.sh --arch "$arch" || { echo "FAIL: scripts/deb.sh --arch $arch"; exit 1; }
fi
for d in "${debs[@]}"; do [ -f "$d" ] || { echo "FAIL: $d missing (run without --no-build)"; exit 1; }; done
ok "built ${debs[*]}"

# lintian: no errors; warnings and infos are listed
lint=$(lintian --display-info "${debs[@]}" 2>/dev/null)
errors=$(grep -c '^E:' <<<"$lint")
echo "lintian: $errors error(s), $(grep -c '^W:' <<<"$lint") warning(s), $(grep -c '^I:' <<<"$lint") info(s)"
grep -E '^[EWI]:' <<<"$lint" | sort -u | sed 's/^/  /'
[ "$errors" = 0 ] && ok "lintian: 0 errors" || bad "lintian: $errors errors"

# contents of the steerd package
contents=$(dpkg-deb -c "dist/steerd_${version}_$arch.deb" | awk '{print $6}' | sed 's#^\./#/#')
for f in /usr/bin/steerd /usr/bin/steerctl /usr/bin/steer-train /etc/steerd/steerd.yaml \
         /lib/systemd/system/steerd.service /usr/share/steerd/models/effnet-steer.yaml \
         /usr/share/steerd/models/effnet-steer.safetensors /usr/share/steerd/models/mnist10k/seed-mnist-effnet.safetensors \
         /usr/share/man/man8/steerd.8.gz /usr/share/man/man1/steerctl.1.gz /usr/share/man/man1/steer-train.1.gz \
         /usr/share/bash-completion/completions/steerctl /usr/share/doc/steerd/README.md.gz /usr/share/doc/steerd/copyright; do
    grep -qxF "$f" <<<"$contents" && ok "package has $f" || bad "package lacks $f"
done
deps=$(dpkg-deb -f "dist/steerd_${version}_$arch.deb" Depends)
echo "steerd Depends: $deps"
grep -q 'libsteer\|-dev' <<<"$deps" && bad "steerd depends on a -dev package or libsteer" || ok "steerd depends on runtime libraries only"
for lib in libc6 libglib2.0-0 libgstreamer1.0-0 libgstreamer-plugins-base1.0-0 libzmq5 libyaml-0-2 libjpeg62-turbo libpng16-16 zlib1g; do
    grep -qE "(^|, )$lib( |,|$)" <<<"$deps" || bad "steerd Depends lacks $lib"
done
for d in "${debs[@]}"; do
    a=$(dpkg-deb -f "$d" Architecture)
    [ "$a" = "$arch" ] && ok "$d: Architecture: $a" || bad "$d: Architecture: $a (want $arch)"
done

# the programs and the library are built for the package's architecture
root=$tmp/root
dpkg-deb -x "dist/steerd_${version}_$arch.deb" "$root" && dpkg-deb -x "dist/libsteer0_${version}_$arch.deb" "$root"
case $arch in amd64) elf=x86-64 ;; arm64) elf="ARM aarch64" ;; *) elf="$arch" ;; esac
for f in "$root"/usr/bin/steerd "$root"/usr/bin/steerctl "$root"/usr/bin/steer-train "$root"/usr/lib/*/libsteer.so.0; do
    desc=$(file -L "$f")
    grep -q "ELF 64-bit.*$elf" <<<"$desc" && ok "${f#"$root"}: ELF $elf" || bad "${f#"$root"}: $desc"
done

if [ "$arch" != "$native" ]; then
    # the packaged programs from the unpacked copy, under qemu with the sysroot's libraries
    for p in steerd steerctl steer-train; do
        v=$("${run[@]}" "$root/usr/bin/$p" --version 2>&1 | head -1)
        [ "$v" = "$p $version" ] && ok "$p --version ($arch, ${run[*]}): $v" || bad "$p --version ($arch): '$v' (want '$p $version')"
    done
    test_config "$root/etc/steerd/steerd.yaml" "$root" "$tmp/steer.sock"
    "${run[@]}" "$root/usr/bin/steerd" --check-config "$tmp/run.yaml" > "$tmp/check.out" 2>&1 \
        && ok "steerd --check-config on the packaged config (test pattern, unpacked models) ($arch)" \
        || { bad "steerd --check-config on the packaged config ($arch):"; tail -3 "$tmp/check.out"; }
    steerd_publishes "$tmp/steer.sock" "${run[@]}" "$root/usr/bin/steerd"
    echo "(not installed: $arch packages; install them on an $arch machine: apt install ./${debs[2]#dist/} ...)"
    [ $fails = 0 ] && echo "deb-check: all checks passed" || echo "deb-check: $fails check(s) failed"
    exit $((fails > 0))
fi
if [ $install = 0 ]; then
    echo "(not installed: run with --install to install, check and purge on this machine)"
    [ $fails = 0 ] && echo "deb-check: all checks passed" || echo "deb-check: $fails check(s) failed"
    exit $((fails > 0))
fi

# ---- installed on this machine ----
if dpkg-query -W steerd >/dev/null 2>&1; then
    echo "FAIL: steerd is already installed here; purge it first (dpkg --purge libsteer-dev libsteer0 steerd)"
    exit 1
fi
snapshot() { find /etc /usr /lib /var /opt -xdev \( -path /var/log -o -path /var/cache -o -path /var/tmp \
             -o -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/backups \) -prune -o -print 2>/dev/null | sort; }
snapshot > "$tmp/before"
ls /var/lib/dpkg/info/ > "$tmp/dpkg-info-before"
dpkg -i "${debs[@]}" > "$tmp/dpkg-i.log" 2>&1 && ok "dpkg -i ${debs[*]}" || { bad "dpkg -i:"; cat "$tmp/dpkg-i.log"; }

for p in steerd steerctl steer-train; do
    v=$("/usr/bin/$p" --version 2>&1 | head -1)
    [ "$v" = "$p $version" ] && ok "/usr/bin/$p --version: $v" || bad "/usr/bin/$p --version: '$v' (want '$p $version')"
    check "man page of $p ($(man -w "$p" 2>/dev/null))" sh -c "man -w $p | grep -q '^/usr/share/man/' && MANWIDTH=80 man $p 2>/dev/null | grep -q 'EXIT STATUS'"
done
unit=/lib/systemd/system/steerd.service
check "unit: ExecStart=/usr/bin/steerd -c /etc/steerd/steerd.yaml" grep -qx 'ExecStart=/usr/bin/steerd -c /etc/steerd/steerd.yaml' $unit
check "unit enabled (multi-user.target.wants/steerd.service)" test -L /etc/systemd/system/multi-user.target.wants/steerd.service
check "steerd not started by the installation" sh -c '! pgrep -f "^/usr/bin/steerd( |$)"'
check "/etc/steerd/steerd.yaml is a conffile" sh -c "dpkg-query -W -f='\${Conffiles}' steerd | grep -q '/etc/steerd/steerd.yaml'"
check "the config names the installed model" grep -qx '  spec: /usr/share/steerd/models/effnet-steer.yaml' /etc/steerd/steerd.yaml

# --check-config on the installed config: its endpoint's folder /run/steerd is made by the unit
# (RuntimeDirectory=steerd), so outside systemd it is made here for the check, then removed.
made_run=0
[ -d /run/steerd ] || { mkdir /run/steerd && made_run=1; }
/usr/bin/steerd --check-config /etc/steerd/steerd.yaml > "$tmp/check.out" 2>&1 && ok "steerd --check-config /etc/steerd/steerd.yaml" \
    || { bad "steerd --check-config /etc/steerd/steerd.yaml:"; tail -3 "$tmp/check.out"; }
[ $made_run = 1 ] && rmdir /run/steerd

# steerd on the installed model and a test pattern, publishing where a user may bind
test_config /etc/steerd/steerd.yaml "" "$tmp/steer.sock"
steerd_publishes "$tmp/steer.sock" /usr/bin/steerd

# libsteer-dev: the example against the installed header, pkg-config file and library
if cc -std=c11 -Wall -Werror examples/steer-run.c -o "$tmp/steer-run" $(pkg-config --cflags --libs steer) 2> "$tmp/cc.err"; then
    out=$("$tmp/steer-run" /usr/share/steerd/models/effnet-steer.yaml /usr/share/steerd/models/effnet-steer.safetensors)
    [ -n "$out" ] && ok "steer-run built with pkg-config steer, on the installed model: $out" || bad "steer-run printed nothing"
else
    bad "cc steer-run.c \$(pkg-config --cflags --libs steer): $(cat "$tmp/cc.err")"
fi

# purge: nothing left
dpkg --purge libsteer-dev libsteer0 steerd > "$tmp/purge.log" 2>&1 && ok "dpkg --purge libsteer-dev libsteer0 steerd" \
    || { bad "dpkg --purge:"; cat "$tmp/purge.log"; }
snapshot > "$tmp/after"
left=$(comm -13 "$tmp/before" "$tmp/after")
[ -z "$left" ] && ok "after purge no file under /etc /usr /lib /var /opt that was not there before" \
    || { bad "left after purge:"; echo "$left" | sed 's/^/  /'; }
ls /var/lib/dpkg/info/ > "$tmp/dpkg-info-after"
cmp -s "$tmp/dpkg-info-before" "$tmp/dpkg-info-after" && ok "dpkg's database holds nothing of the packages" \
    || { bad "dpkg info files left:"; comm -13 "$tmp/dpkg-info-before" "$tmp/dpkg-info-after"; }
check "dpkg-query knows no steerd" sh -c '! dpkg-query -W -f="\${Status}" steerd 2>/dev/null | grep -q installed'
[ $fails = 0 ] && echo "deb-check: all checks passed" || echo "deb-check: $fails check(s) failed"
exit $((fails > 0))
