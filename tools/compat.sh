#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tools/compat.sh [bookworm|trixie|sid ...]
# Builds the plugin and runs the whole test suite against the Wireshark of
# Debian bookworm (4.0), trixie (4.4) and sid (4.6), each in a minimal
# debootstrap chroot, then builds the .deb there, installs it with dpkg and
# checks that tshark loads the plugin from the global folder. The chroots are made once and cached outside the clone
# (RSTDIAG_CHROOTS, default /var/tmp/rstdiag-chroots), so later runs only copy
# the tree in, build and test. Needs root (or sudo). A build or test failure
# fails; a release whose package mirror cannot be reached prints SKIPPED.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${RSTDIAG_CHROOTS:-/var/tmp/rstdiag-chroots}
mirror=${RSTDIAG_MIRROR:-http://deb.debian.org/debian}
if [ $# -gt 0 ]; then suites=("$@"); else suites=(bookworm trixie sid); fi
packages="libwireshark-dev wireshark-dev tshark cmake gcc make pkg-config libglib2.0-dev zlib1g-dev python3"

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        exec sudo -E "$0" "$@"
    fi
    echo "SKIPPED: tools/compat.sh needs root (debootstrap, chroot)"
    exit 0
fi
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9   # one run at a time per cache

# Makes the chroot once; returns 2 when the mirror cannot be reached.
prepare() {
    local suite=$1 root=$cache/$1
    [ -f "$root/.rstdiag-ready" ] && return 0
    rm -rf "$root"
    if ! debootstrap --variant=minbase "$suite" "$root" "$mirror" > "$cache/$suite.log" 2>&1; then
        grep -qE "Failed getting release file|Could not resolve|Connection refused|Network is unreachable|Temporary failure" \
            "$cache/$suite.log" && return 2
        tail -5 "$cache/$suite.log"
        return 1
    fi
    cp /etc/resolv.conf "$root/etc/"
    chroot "$root" /bin/bash -c "echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages" >> "$cache/$suite.log" 2>&1 \
        || { tail -5 "$cache/$suite.log"; return 1; }
    touch "$root/.rstdiag-ready"
}

# Copies the tracked files in, builds and runs ctest; the chroot stays clean.
# The memory checks (sanitizers, valgrind, fuzzing) run once, on the host's
# build: they test the same C code, and would triple CI's time here.
build_and_test() {
    local root=$cache/$1
    rm -rf "$root/root/rstdiag"
    mkdir -p "$root/root/rstdiag"
    git ls-files -z | xargs -0 tar -c | tar -x -C "$root/root/rstdiag"
    mount -t proc proc "$root/proc"
    local rc=0
    # the package first, so that ctest's summary closes the output
    chroot "$root" /bin/bash -c 'cd /root/rstdiag && tshark --version | head -1 &&
        cmake -S . -B build-deb -DRSTDIAG_INSTALL_GLOBAL=ON -DBUILD_TESTING=OFF -DRSTDIAG_WERROR=ON >/dev/null &&
        cmake --build build-deb --target package >/dev/null && dpkg -i build-deb/rstdiag-wireshark*.deb >/dev/null &&
        tshark -G plugins | grep -E "^rstdiag\.so\s.*/wireshark/plugins/.*/epan/rstdiag\.so$" &&
        test -f /usr/share/wireshark/profiles/rstdiag/colorfilters &&
        echo "the .deb installs and tshark loads the plugin"' || rc=$?
    # leave the cached chroot as it was, whatever happened
    chroot "$root" /bin/bash -c 'dpkg -l "rstdiag-wireshark*" 2>/dev/null | awk "/^ii/ {print \$2}" | xargs -r dpkg -r' >/dev/null
    [ $rc -eq 0 ] && chroot "$root" /bin/bash -c 'cd /root/rstdiag &&
        cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRSTDIAG_WERROR=ON >/dev/null && cmake --build build -j "$(nproc)" >/dev/null &&
        ctest --test-dir build --output-on-failure -E "^(sanitized|valgrind|fuzz\.short)$"' || rc=$?
    umount "$root/proc"
    rm -rf "$root/root/rstdiag"
    return $rc
}

failed=0
for suite in "${suites[@]}"; do
    echo "== Wireshark of Debian $suite"
    status=0
    prepare "$suite" || status=$?
    if [ $status -eq 2 ]; then
        echo "SKIPPED: Debian $suite: the package mirror $mirror cannot be reached"
        continue
    elif [ $status -ne 0 ]; then
        echo "FAILED: Debian $suite: could not make the chroot (see $cache/$suite.log)"
        failed=1
        continue
    fi
    build_and_test "$suite" || { echo "FAILED: Debian $suite: build or tests"; failed=1; }
done
exit $failed
