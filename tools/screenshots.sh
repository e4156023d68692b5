#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tools/screenshots.sh [BUILD_DIR]
# Regenerates the README's screenshots (docs/gui-*.png) in the real
# Wireshark GUI on a virtual X display, with the plugin from BUILD_DIR
# (default build) and the rstdiag profile. A command to run by hand after a
# change to what the GUI shows, not a test. Needs (Debian):
#   apt-get install xvfb wireshark-qt xdotool x11-apps netpbm
# Clicks and keys are those of Wireshark 4.0's Qt GUI at 1400x900; another
# release may lay its menus out differently.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=$(realpath "${1:-build}")
for tool in Xvfb wireshark xdotool xwd xwdtopnm pnmtopng pnmcut; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install xvfb wireshark-qt xdotool x11-apps netpbm" >&2; exit 1; }
done

scratch=$(mktemp -d /tmp/rstdiag-shots.XXXXXX)
xvfb_pid=""
ws_pid=""
cleanup() {
    [ -n "$ws_pid" ] && kill "$ws_pid" 2>/dev/null || true
    [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null || true
    rm -rf "$scratch"
}
trap cleanup EXIT

# Wireshark as root ignores personal plugins: run it as "nobody" on copies.
cp -R "$build_dir/plugins" "$scratch/plugins"
mkdir -p "$scratch/home" "$scratch/config/profiles"
cp -R profiles/rstdiag "$scratch/config/profiles/"
# the whole screen, and more room for the tree than the shipped layout gives
printf 'gui.geometry_main_upper_pane: 300\n' >> "$scratch/config/profiles/rstdiag/recent"
printf 'gui.geometry_main_%s\n' x:\ 0 y:\ 0 width:\ 1400 height:\ 900 maximized:\ FALSE \
    > "$scratch/config/recent_common"
cp tests/captures/nginx/proxy.pcap tests/captures/nginx/error.log tests/captures/injected.pcap examples/resets.pcap "$scratch/"
chmod -R a+rX "$scratch"
run_as=()
if [ "$(id -u)" -eq 0 ]; then
    chown -R nobody:nogroup "$scratch"
    run_as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi

display=:$((90 + RANDOM % 9))
Xvfb "$display" -screen 0 1400x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb_pid=$!
export DISPLAY=$display
sleep 1

# start_wireshark ARGS...: opens a capture, waits for its window, fills the screen
start_wireshark() {
    "${run_as[@]}" env -i PATH="$PATH" HOME="$scratch/home" DISPLAY="$display" LANG=C.UTF-8 \
        WIRESHARK_PLUGIN_DIR="$scratch/plugins" WIRESHARK_CONFIG_DIR="$scratch/config" \
        wireshark -C rstdiag "$@" >/dev/null 2>&1 &
    ws_pid=$!
    main=""
    for _ in $(seq 60); do
        main=$(xdotool search --class wireshark 2>/dev/null | head -1) && [ -n "$main" ] && break
        sleep 1
    done
    [ -n "$main" ] || { echo "Wireshark did not open a window" >&2; exit 1; }
    sleep 4   # the capture loads and the filter applies
    xdotool windowmove "$main" 0 0 windowsize "$main" 1400 900
    sleep 1
    xdotool windowfocus "$main"
}

stop_wireshark() {
    kill "$ws_pid" 2>/dev/null || true
    wait "$ws_pid" 2>/dev/null || true
    ws_pid=""
}

# shot NAME [WINDOW [X Y W H]]: the screen (or a window, or part of it) as docs/NAME.png
shot() {
    local name=$1 window=${2:-root}
    local args=(-root)
    [ "$window" != root ] && args=(-id "$window")
    if [ $# -ge 6 ]; then
        xwd "${args[@]}" -silent | xwdtopnm 2>/dev/null | pnmcut "$3" "$4" "$5" "$6" | pnmtopng > "docs/$name.png"
    else
        xwd "${args[@]}" -silent | xwdtopnm 2>/dev/null | pnmtopng > "docs/$name.png"
    fi
    echo "docs/$name.png"
}

# the newest window whose title matches a regular expression
window_named() {
    local w
    for _ in $(seq 20); do
        w=$(xdotool search --name "$1" 2>/dev/null | tail -1) && [ -n "$w" ] && { echo "$w"; return; }
        sleep 1
    done
    echo "no window named $1" >&2
    exit 1
}

# Expands the "TCP RST diagnosis (rstdiag)" item of the details pane: the
# last yellow row (its expert warning colours it, as TCP's does the row above).
expand_diagnosis() {
    local y
    y=$(xwd -root -silent | xwdtopnm 2>/dev/null | python3 -c '
import sys
data = sys.stdin.buffer.read()
fields, at = [], 0
while len(fields) < 4:                        # P6 width height maxval
    end = data.index(b"\n" if len(fields) == 3 else b"\n", at)
    for word in data[at:end].split():
        fields.append(word)
    at = end + 1
width, height = int(fields[1]), int(fields[2])
pixel = lambda x, y: data[at + 3 * (y * width + x): at + 3 * (y * width + x) + 3]
rows = [y for y in range(height // 3, height) if (lambda p: p[0] > 200 and p[1] > 200 and p[2] < 150)(pixel(60, y))]
print(rows[-1] - 6 if rows else -1)')
    [ "$y" -gt 0 ] || { echo "the diagnosis item is not on screen" >&2; exit 1; }
    xdotool mousemove 200 "$y" click 1
    sleep 0.5
    xdotool key shift+Right
    sleep 1
}

log="$scratch/error.log"

# 1. The nginx example with its log: a RST, its diagnosis and its log line.
start_wireshark -r "$scratch/proxy.pcap" -o "rstdiag.log_file:$log" -Y rstdiag -g 20
expand_diagnosis
shot gui-rst-diagnosis
xdotool key End   # the end of the tree: the log line
sleep 1
shot gui-log-line
xdotool key Home

# 2. The statistics dialog (Statistics, last item).
xdotool key alt+s
sleep 1
xdotool key Up Return
sleep 4
dialog=$(window_named "RST diagnosis .rstdiag. ·")
xdotool windowmove "$dialog" 100 20 windowsize "$dialog" 1000 860
sleep 2
shot gui-stats-tree "$dialog"
xdotool key --window "$dialog" Escape
sleep 1

# 3. Expert Information (Analyze menu).
xdotool windowfocus "$main"
xdotool key alt+a
sleep 1
xdotool key Up Return   # the menu's last item
sleep 4
expert=$(window_named "Expert Information")
xdotool windowmove "$expert" 100 40 windowsize "$expert" 1000 600
sleep 2
shot gui-expert-info "$expert"
stop_wireshark

# 4. The profile on every kind of reset: colours, columns, buttons.
start_wireshark -r "$scratch/resets.pcap" -Y rstdiag
shot gui-profile
stop_wireshark

# 5. A reset a device in the path injected: the origin fields.
first=$("${run_as[@]}" env -i PATH="$PATH" HOME="$scratch/home" WIRESHARK_PLUGIN_DIR="$scratch/plugins" \
    tshark -r "$scratch/injected.pcap" -Y 'rstdiag.origin == "middlebox"' -T fields -e frame.number 2>/dev/null |
    awk 'NR == 1')
start_wireshark -r "$scratch/injected.pcap" -Y rstdiag -g "$first"
expand_diagnosis
shot gui-origin root 0 388 900 470
stop_wireshark
