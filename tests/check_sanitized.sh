#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/check_sanitized.sh SOURCE_DIR WORK_DIR [CORRUPTED_CAPTURES]
# Builds the plugin with AddressSanitizer and UndefinedBehaviorSanitizer into
# WORK_DIR, loads it into the stock tshark (the sanitizer runtime preloaded)
# and runs it over every committed capture, one-pass and -2 with the full
# tree, with and without the nginx log, and over the awkward captures
# derived from them (tests/derive_captures.py: tunnels, VLAN, wrapped
# sequence numbers, cut headers...); then over CORRUPTED_CAPTURES (default
# 200) copies corrupted with editcap -E and cut short, each under a time
# limit (a run that hits it is a hang). Fails on any sanitizer report, crash
# or hang; tshark refusing a damaged file is fine.
# Long campaign (README): nice -n 19 taskset -c 1 tests/check_sanitized.sh . build/asan 2000
set -euo pipefail
src=$(cd "$1" && pwd)
work=$2
count=${3:-200}
cmake -S "$src" -B "$work" -DRSTDIAG_SANITIZE=ON -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$work" --target rstdiag -j "$(nproc)" >/dev/null
# only for tshark: the sanitizer runtime must come first in the process
sanitizer_env=(LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1   # leaks: valgrind's job; tshark itself is not instrumented
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1)
scratch=$(mktemp -d /tmp/rstdiag-sanitized.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
chmod 755 "$scratch"
cp "$src/tests/captures/nginx/error.log" "$scratch/error.log"
chmod 644 "$scratch/error.log"

reports=0
refused=0   # damaged files tshark stopped reading with an error of its own
run() {   # run LABEL TIMEOUT tshark-args...
    local label=$1 limit=$2 rc=0
    shift 2
    env "${sanitizer_env[@]}" timeout "$limit" "$src/tools/tshark-with-plugin" "$work" "$@" \
        > /dev/null 2> "$scratch/err" || rc=$?
    if [ $rc -ge 124 ] || grep -qE "AddressSanitizer|runtime error:|LeakSanitizer" "$scratch/err"; then
        [ $rc -eq 124 ] && echo "FAIL $label: hang, still running after $limit s" || echo "FAIL $label (exit $rc)"
        head -30 "$scratch/err"
        reports=$((reports + 1))
    elif [ $rc -ne 0 ]; then
        refused=$((refused + 1))
    fi
}

python3 "$src/tests/derive_captures.py" "$scratch/derived" > /dev/null
captures=("$src"/tests/captures/*.pcap "$src/tests/captures/nginx/proxy.pcap" "$src/examples/resets.pcap"
          "$scratch"/derived/*.pcap)
for capture in "${captures[@]}"; do
    run "$(basename "$capture")" 120 -r "$capture" -V -o "rstdiag.log_file:$scratch/error.log"
    run "$(basename "$capture") -2" 120 -r "$capture" -2 -V -q -z rstdiag,tree
done
echo "sanitized runs over ${#captures[@]} captures: $reports problem(s)"
refused=0

for i in $(seq 1 "$count"); do
    capture=${captures[$((i % ${#captures[@]}))]}
    corrupted="$scratch/corrupt.pcap"
    if [ $((i % 4)) -eq 0 ]; then   # cut short somewhere in the file
        head -c $(( $(stat -c %s "$capture") * (i % 97 + 1) / 100 )) "$capture" > "$corrupted"
    else
        editcap -E 0.0$((i % 5 + 1)) --seed "$i" "$capture" "$corrupted" 2>/dev/null
    fi
    run "corrupted #$i from $(basename "$capture")" 60 -r "$corrupted" -V -o "rstdiag.log_file:$scratch/error.log"
done
echo "corrupted captures: $count run ($refused stopped by tshark as damaged), $reports problem(s) in all, ${SECONDS} s"
[ $reports -eq 0 ]
