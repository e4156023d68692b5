#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tools/spdx.sh [--check]
# Puts the licence line "SPDX-License-Identifier: GPL-2.0-or-later" (see
# LICENSE) at the top of every source file of this repository that lacks it:
# C sources and headers, Python, shell and Lua scripts, CMake files; after a
# shebang line when there is one. Idempotent: a file with the line in its
# first five lines is left alone, so it can run again after a merge. With
# --check it changes nothing and fails, naming the files without the line.
#
# It works on this repository only: the files git tracks, or, in a copy
# without git (tools/compat.sh), the files below the folder holding this
# script's tools/ -- and refuses to run anywhere that is not an rstdiag tree.

# Everything is in main(), read whole before it runs: the script edits itself.
main() {
    set -euo pipefail
    local root
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    if [ ! -f "$root/tools/spdx.sh" ] || [ ! -f "$root/packet-rstdiag.c" ] \
        || ! grep -q '^project(rstdiag' "$root/CMakeLists.txt" 2>/dev/null; then
        echo "tools/spdx.sh: $root is not an rstdiag source tree; nothing done" >&2
        exit 2
    fi
    cd "$root"
    local id="SPDX-License-Identifier: GPL-2.0-or-later" check=false
    [ "${1:-}" = --check ] && check=true

    local missing=() file line tmp
    while IFS= read -r -d '' file; do
        [ -f "$file" ] && [ ! -L "$file" ] || continue
        line=$(comment_for "$file" "$id")
        [ -n "$line" ] || continue
        head -5 "$file" | grep -qE "^(#|/\*|--) $id" && continue
        if $check; then
            missing+=("$file")
            continue
        fi
        tmp=$(mktemp)
        if head -1 "$file" | grep -q '^#!'; then
            { head -1 "$file"; echo "$line"; tail -n +2 "$file"; } > "$tmp"
        else
            { echo "$line"; cat "$file"; } > "$tmp"
        fi
        cat "$tmp" > "$file"   # keeps the file's mode
        rm -f "$tmp"
    done < <(source_files)

    if [ ${#missing[@]} -gt 0 ]; then
        printf 'no SPDX-License-Identifier line: %s\n' "${missing[@]}" >&2
        echo "run tools/spdx.sh" >&2
        exit 1
    fi
}

# The repository's files, NUL-separated, relative to its root.
source_files() {
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1 && [ "$(git rev-parse --show-toplevel)" = "$PWD" ]; then
        git ls-files -z
    else
        find . -xdev -type f -not -path './build*' -not -path './.git/*' -printf '%P\0'
    fi
}

# The licence line in the comment syntax of a file, or nothing when it is no source.
comment_for() {
    local id=$2
    case "$1" in
        *.c | *.h) echo "/* $id */" ;;
        *.py | *.sh | CMakeLists.txt | */CMakeLists.txt | *.cmake) echo "# $id" ;;
        *.lua) echo "-- $id" ;;
        *)  # scripts without an extension
            if [ -x "$1" ] && head -1 "$1" | grep -qE '^#!.*(ba)?sh|^#!.*python'; then echo "# $id"; fi ;;
    esac
}

main "$@"; exit   # one line: nothing more is read from the edited file
