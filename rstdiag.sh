#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# rstdiag.sh example | test | build
#   example  set up, build, and diagnose every RST of the bundled example capture
#   test     set up, build (warnings are errors), and run the whole test suite with ctest
#   build    set up and build only
# Set-up installs the missing Debian/Ubuntu packages with apt (through sudo
# when not root). The build goes to ./build (override with RSTDIAG_BUILD).
set -euo pipefail
cd "$(dirname "$0")"
build_dir=${RSTDIAG_BUILD:-build}
packages=(cmake make gcc pkg-config libglib2.0-dev zlib1g-dev wireshark-dev libwireshark-dev tshark python3 nginx)
# for the valgrind and fuzz.short tests only, which are skipped without them
optional_packages=(valgrind clang libclang-rt-14-dev)

install_missing_packages() {
    local missing=() optional=()
    for p in "${optional_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || optional+=("$p")
    done
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && [ ${#optional[@]} -eq 0 ] && return
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    echo "Installing: ${missing[*]} ${optional[*]}"
    # tshark asks whether non-root users may capture; answer no without a prompt
    echo "wireshark-common wireshark-common/install-setuid boolean false" | "${sudo[@]}" debconf-set-selections
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    [ ${#missing[@]} -eq 0 ] ||
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ ${#optional[@]} -eq 0 ] ||
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${optional[@]}" >/dev/null ||
        echo "Could not install ${optional[*]}: the tests that need them will be skipped"
}

build() {
    install_missing_packages
    cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    cmake --build "$build_dir" -j "$(nproc)" >/dev/null
}

example() {
    # A reproduction of the classic case: nginx logs "recv() failed (104: Connection
    # reset by peer) while sending to client"; which packet was it, and why?
    local capture=examples/nginx-seed/proxy.pcap log=examples/nginx-seed/error.log
    # tshark may run as "nobody" (see tools/tshark-with-plugin): give it a copy it can read
    log_dir=$(mktemp -d /tmp/rstdiag-log.XXXXXX)
    trap 'rm -rf "$log_dir"' EXIT
    log_copy="$log_dir/error.log"
    cp "$log" "$log_copy"
    chmod 755 "$log_dir"
    chmod 644 "$log_copy"
    echo "== Every TCP RST in $capture, with the line of $log it caused =="
    tools/tshark-with-plugin "$build_dir" -r "$capture" -o "rstdiag.log_file:$log_copy" \
        -Y rstdiag -T fields -E header=y -E occurrence=l \
        -e frame.number -e ip.src -e tcp.srcport -e rstdiag.sender -e rstdiag.origin -e rstdiag.phase -e rstdiag.cause \
        -e rstdiag.kernel_reason -e rstdiag.evidence -e rstdiag.log.lineno -e rstdiag.log.line
    echo
    echo "== The TCP RST diagnosis (rstdiag) statistics (tshark -q -z rstdiag,tree) =="
    tools/tshark-with-plugin "$build_dir" -r "$capture" -o "rstdiag.log_file:$log_copy" -q -z rstdiag,tree
}

case "${1:-}" in
    example) build; example ;;
    test) build -DRSTDIAG_WERROR=ON; ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" ;;
    build) build ;;
    *) echo "usage: $0 example|test|build" >&2; exit 2 ;;
esac
