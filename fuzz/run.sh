#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# fuzz/run.sh short [WORK_DIR]
# fuzz/run.sh long [EXECUTIONS] [WORK_DIR]
# Builds the libFuzzer harnesses with clang (ASan + UBSan) into WORK_DIR and
# runs each from the committed corpus fuzz/corpus/NAME:
#   short  RSTDIAG_FUZZ_SECONDS (default 25) seconds each: the ctest fuzz.short
#   long   EXECUTIONS (default 10,000,000) executions each, at most
#          RSTDIAG_FUZZ_MAX_SECONDS (default 3 h) each; the figures go to WORK_DIR/NAME.log
# New interesting inputs go to WORK_DIR/corpus/NAME (the committed corpus is
# only read). A crash, leak, sanitizer report, broken invariant or timeout
# fails the run; the input is saved as WORK_DIR/findings/NAME-crash-* (keep it
# in fuzz/corpus/NAME as a regression test once fixed). Exits 77 (skipped)
# when clang or its libFuzzer runtime (libclang-rt-14-dev) is missing.
# The fuzzers run under nice -n 19 on CPU RSTDIAG_FUZZ_CPU (default 1);
# RSTDIAG_FUZZ_HARNESSES picks some (default: "log_reader tracker").
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-}
case "$mode" in
    short) limit=(-max_total_time="${RSTDIAG_FUZZ_SECONDS:-25}"); work=${2:-$src/build/fuzz-clang} ;;
    long) limit=(-runs="${2:-10000000}" -max_total_time="${RSTDIAG_FUZZ_MAX_SECONDS:-10800}")
          work=${3:-$src/build-fuzz} ;;
    *) echo "usage: $0 short [WORK_DIR] | long [EXECUTIONS] [WORK_DIR]" >&2; exit 2 ;;
esac
clang=${RSTDIAG_FUZZ_CC:-clang}
mkdir -p "$work/findings"
work=$(cd "$work" && pwd)

probe="$work/probe.c"
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return d && n; }' > "$probe"
if ! command -v "$clang" >/dev/null || ! "$clang" -fsanitize=fuzzer,address,undefined "$probe" -o "$work/probe" 2>/dev/null; then
    echo "SKIPPED: no clang with libFuzzer here (Debian: apt-get install clang libclang-rt-14-dev); nothing was fuzzed"
    exit 77
fi

cmake -S "$src" -B "$work" -DCMAKE_C_COMPILER="$clang" -DRSTDIAG_FUZZ=ON -DBUILD_TESTING=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$work" --target fuzz_log_reader fuzz_tracker -j "$(nproc)" >/dev/null

run=(nice -n 19)
cpu=${RSTDIAG_FUZZ_CPU:-1}
if taskset -c "$cpu" true 2>/dev/null; then
    run+=(taskset -c "$cpu")
fi

status=0
for harness in ${RSTDIAG_FUZZ_HARNESSES:-log_reader tracker}; do
    case "$harness" in
        log_reader) max_len=4096 ;;
        *) max_len=1024 ;;   # about 120 segments
    esac
    mkdir -p "$work/corpus/$harness"
    echo "== fuzz_$harness (${limit[*]})"
    rc=0
    # no allocation stacks (twice the speed): fuzz.replay.* shows them for a kept input
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:malloc_context_size=0:quarantine_size_mb=64} \
        "${run[@]}" "$work/fuzz/fuzz_$harness" "${limit[@]}" -max_len=$max_len -timeout=25 -print_final_stats=1 \
        -artifact_prefix="$work/findings/$harness-" "$work/corpus/$harness" "$src/fuzz/corpus/$harness" \
        > "$work/$harness.log" 2>&1 || rc=$?
    # the last status line (executions, coverage) and the final statistics
    grep -E '^#[0-9]+' "$work/$harness.log" | tail -1 || true
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$work/$harness.log" || true
    if [ $rc -ne 0 ]; then
        echo "FAIL fuzz_$harness (exit $rc): see $work/$harness.log"
        grep -E 'ERROR:|invariant failed|runtime error:|Test unit written' "$work/$harness.log" | head -10 || true
        status=1
    fi
done
exit $status
