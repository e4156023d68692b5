#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/log-index.sh [BUILD_DIR] [LINES]
# Indexes a generated nginx error log of LINES lines (default 1,000,000, one in
# a hundred a reset line), plain and gzipped, three times each, and prints the
# time and peak memory of each run. A benchmark, not a test: nothing asserts.
set -euo pipefail
build=${1:-build}
lines=${2:-1000000}
dir=$(mktemp -d /tmp/rstdiag-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
python3 "$(dirname "$0")/make_error_log.py" "$lines" > "$dir/error.log"
gzip -k "$dir/error.log"
echo "log: $lines lines, $(du -h "$dir/error.log" | cut -f1) plain, $(du -h "$dir/error.log.gz" | cut -f1) gzip"
for file in error.log error.log.gz; do
    for run in 1 2 3; do
        echo "$file run $run: $("$build/index_log" "$dir/$file")"
    done
done
