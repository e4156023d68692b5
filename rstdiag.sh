#!/usr/bin/env bash
# rstdiag.sh example | test | build
#   example  set up, build, and diagnose every RST of the bundled example capture
#   test     set up, build, and run the whole test suite with ctest
#   build    set up and build only
# Set-up installs the missing Debian/Ubuntu packages with apt (through sudo
# when not root). The build goes to ./build (override with RSTDIAG_BUILD).
set -euo pipefail
cd "$(dirname "$0")"
build_dir=${RSTDIAG_BUILD:-build}
packages=(cmake make gcc pkg-config libglib2.0-dev zlib1g-dev wireshark-dev libwireshark-dev tshark python3)

install_missing_packages() {
    local missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    echo "Installing: ${missing[*]}"
    # tshark asks whether non-root users may capture; answer no without a prompt
    echo "wireshark-common wireshark-common/install-setuid boolean false" | "${sudo[@]}" debconf-set-selections
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() {
    install_missing_packages
    cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$build_dir" -j "$(nproc)" >/dev/null
}

example() {
    # A reproduction of the classic case: nginx logs "recv() failed (104: Connection
    # reset by peer) while sending to client"; which packet was it, and why?
    local capture=examples/nginx-seed/proxy.pcap log=examples/nginx-seed/error.log
    # tshark may run as "nobody" (see tools/tshark-with-plugin): give it a copy it can read
    log_copy=$(mktemp /tmp/rstdiag-log.XXXXXX)
    trap 'rm -f "$log_copy"' EXIT
    cp "$log" "$log_copy"
    chmod 644 "$log_copy"
    echo "== Every TCP RST in $capture, with the line of $log it caused =="
    tools/tshark-with-plugin "$build_dir" -r "$capture" -o "rstdiag.log_file:$log_copy" \
        -Y rstdiag -T fields -E header=y -E occurrence=l \
        -e frame.number -e ip.src -e tcp.srcport -e rstdiag.sender -e rstdiag.phase -e rstdiag.cause \
        -e rstdiag.kernel_reason -e rstdiag.evidence -e rstdiag.log.lineno -e rstdiag.log.line
    echo
    echo "== Summary: RSTs by cause and phase, and how many have a log line =="
    tools/tshark-with-plugin "$build_dir" -r "$capture" -o "rstdiag.log_file:$log_copy" \
        -Y rstdiag -T fields -e rstdiag.cause -e rstdiag.phase -e rstdiag.log.lineno |
        awk -F'\t' '{ n[$1 "\t" $2]++; if ($3 != "") logged++ }
                    END { for (k in n) printf "%7d  %s\n", n[k], k | "sort -rn"; close("sort -rn")
                          printf "%7d  RSTs matched to a log line\n", logged }'
}

case "${1:-}" in
    example) build; example ;;
    test) build; ctest --test-dir "$build_dir" --output-on-failure ;;
    build) build ;;
    *) echo "usage: $0 example|test|build" >&2; exit 2 ;;
esac
