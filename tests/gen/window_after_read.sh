#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# window_after_read.sh: does a Linux server's advertised window show whether it read a
# request before resetting? (Not a CI test; root: network namespaces.)
# For each request size M, one connection where the server reads all M bytes and one
# where it reads 100, then answers 300 bytes and closes with SO_LINGER{1,0} (TCP_STATE
# when all was read, TCP_ABORT_ON_CLOSE when not). Prints each connection's segments
# as side+flags:length:window; the server's windows are the same in each pair.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "window_after_read: needs root" >&2; exit 1; }
tag=rstwin-$$
dir=$(mktemp -d /tmp/$tag.XXXXXX)
capture_pid=
cleanup() {
    [ -n "$capture_pid" ] && kill "$capture_pid" 2>/dev/null
    ip netns del $tag-c 2>/dev/null; ip netns del $tag-s 2>/dev/null; rm -rf "$dir"
}
trap cleanup EXIT
ip netns add $tag-c; ip netns add $tag-s
link=rw$$   # interface names: 15 characters at most, whatever the PID
ip link add ${link}c type veth peer name ${link}s
ip link set ${link}c netns $tag-c; ip link set ${link}s netns $tag-s
ip -n $tag-c addr add 198.18.77.1/24 dev ${link}c; ip -n $tag-s addr add 198.18.77.2/24 dev ${link}s
for ns in c s; do ip -n $tag-$ns link set $link$ns up; ip -n $tag-$ns link set lo up; done

cases="100:100 800:800 800:100 1400:1400 1400:100 4000:4000 4000:100 10000:10000 10000:100"
cat > "$dir/server.py" <<'PY'
import socket, struct, sys, time
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("198.18.77.2", 9000))
ls.listen(16)
ls.settimeout(10)
for case in sys.argv[1:]:
    size, read = map(int, case.split(":"))
    conn, _ = ls.accept()
    got = 0
    while got < read:
        chunk = conn.recv(read - got)
        if not chunk:
            break
        got += len(chunk)
    time.sleep(0.05)
    conn.send(b"x" * 300)
    time.sleep(0.05)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
PY
cat > "$dir/client.py" <<'PY'
import socket, sys, time
for case in sys.argv[1:]:
    size, _ = map(int, case.split(":"))
    s = socket.create_connection(("198.18.77.2", 9000), timeout=5)
    s.sendall(b"y" * size)
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass
    s.close()
    time.sleep(0.1)
PY
ip netns exec $tag-s tcpdump --immediate-mode -i ${link}s -w "$dir/capture.pcap" -U tcp port 9000 2>/dev/null &
capture_pid=$!
sleep 1
ip netns exec $tag-s timeout 30 python3 "$dir/server.py" $cases &
server_pid=$!
sleep 0.5
ip netns exec $tag-c timeout 30 python3 "$dir/client.py" $cases
wait $server_pid
sleep 0.5
kill $capture_pid; wait $capture_pid 2>/dev/null || true; capture_pid=
echo "request bytes:bytes read  segments (C client, S server; flags:length:window)"
tshark -r "$dir/capture.pcap" -T fields -e tcp.stream -e tcp.srcport -e tcp.flags.str -e tcp.len \
       -e tcp.window_size 2>/dev/null | sed 's/·//g' | awk -v cases="$cases" '
    BEGIN { n = split(cases, c, " ") }
    { if (NR == 1 || $1 != stream) { if (NR > 1) print ""; stream = $1; printf "%-12s", c[$1 + 1] }
      printf " %s%s:%s:%s", ($2 == 9000 ? "S" : "C"), $3, $4, $5 }
    END { print "" }'
