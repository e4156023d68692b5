#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Peers for generate_keepalive_race.py, each run inside a network namespace
(via `ip netns exec`):

    keepalive_peers.py backend '<json spec>'   HTTP/1.1 keep-alive server that
        close()s a connection idle for spec["idle"] seconds after its last response
    keepalive_peers.py client  '<json spec>'   one request per gap in spec["gaps"],
        each sent that long after the previous response arrived
    keepalive_peers.py delay   '<json spec>'   an Ethernet delay line between two
        interfaces (AF_PACKET): spec["delay"] seconds each way, or a pair
        [first to second interface, second to first]. This kernel has no
        netem; it is the latency on the backend's side of the path (and on
        the path of generate_captures.py's seeded runs)

Control as peer.py's: READY when listening, `LOG <json>` per event, exit 0
when done; EOF on stdin ends the servers. Every socket has a timeout and a
hard alarm() bounds the process. Stdlib only.
"""
import heapq
import json
import os
import select
import signal
import socket
import struct
import sys
import threading
import time

from http_head import HEAD_END, read_head
from inet_checksum import tcp_checksum


def out(msg):
    sys.stdout.write(msg + "\n")
    sys.stdout.flush()


def log(**kw):
    out("LOG " + json.dumps(kw))


def until_stdin_eof():
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()


# ------------------------------------------------------------------ backend

def read_request(s):
    """One request head (no bodies here); None on EOF."""
    buf = read_head(s, limit=16384)
    if HEAD_END not in buf or len(buf) > 16384:
        return None
    return buf.split(b"\r\n", 1)[0].decode("latin-1")


def serve_connection(s, idle, port):
    body = b"ok\n"
    while True:
        s.settimeout(idle)
        try:
            line = read_request(s)
        except socket.timeout:
            log(event="idle_close", port=port)
            break
        except OSError as e:
            log(event="error", port=port, errno=e.errno)
            break
        if line is None:
            log(event="peer_closed", port=port)
            break
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: text/plain\r\n"
                  b"Connection: keep-alive\r\n\r\n%s" % (len(body), body))
        log(event="answered", port=port, request=line)
    s.close()


def run_backend(spec):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((spec["addr"], spec["port"]))
    ls.listen(16)
    until_stdin_eof()
    out("READY")
    while True:
        c, (_, port) = ls.accept()
        threading.Thread(target=serve_connection, args=(c, spec["idle"], port), daemon=True).start()


# ------------------------------------------------------------------ client

def run_client(spec):
    """Requests to nginx over one keep-alive connection (reconnecting if nginx
    closes it), each sent gap seconds after the previous response."""
    out("READY")
    s = None
    for i, gap in enumerate(spec["gaps"]):
        time.sleep(gap)
        if s is None:
            s = socket.create_connection((spec["saddr"], spec["port"]), timeout=5)
        path = "/race?n=%d&gap=%.3f" % (i, gap)
        s.sendall(("GET %s HTTP/1.1\r\nHost: rstdiag.test\r\n\r\n" % path).encode())
        head = read_head(s)
        status = head.split(b" ", 2)[1].decode() if head.count(b" ") >= 2 else "none"
        clen = 0
        for h in head.split(b"\r\n"):
            if h.lower().startswith(b"content-length:"):
                clen = int(h.split(b":")[1])
        body = head.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in head else b""
        while len(body) < clen:
            chunk = s.recv(clen - len(body))
            if not chunk:
                break
            body += chunk
        log(event="response", n=i, gap=gap, status=status)
        if b"connection: close" in head.lower():
            s.close()
            s = None
    if s:
        s.close()


# ------------------------------------------------------------------ delay line

ETH_P_ALL = 0x0003


def fix_tcp_checksum(frame):
    """Frames read off a veth may carry a partial checksum (offloaded): write a whole one.
    IPv4 or IPv6 (no extension headers: the generators send none)."""
    if len(frame) >= 34 and frame[12:14] == b"\x08\x00" and frame[23] == 6:
        ihl = (frame[14] & 0x0F) * 4
        start, end = 14 + ihl, 14 + struct.unpack("!H", frame[16:18])[0]
        src, dst = frame[26:30], frame[30:34]
    elif len(frame) >= 54 and frame[12:14] == b"\x86\xdd" and frame[20] == 6:
        start, end = 54, 54 + struct.unpack("!H", frame[18:20])[0]
        src, dst = frame[22:38], frame[38:54]
    else:
        return frame
    tcp = bytearray(frame[start:end])
    if len(tcp) < 20:
        return frame
    tcp[16:18] = b"\0\0"
    tcp[16:18] = struct.pack("!H", tcp_checksum(src, dst, tcp))
    return frame[:start] + bytes(tcp) + frame[end:]


def run_delay(spec):
    socks = []
    for dev in spec["devs"]:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((dev, 0))
        socks.append(s)
    delay = spec["delay"] if isinstance(spec["delay"], list) else [spec["delay"]] * 2
    until_stdin_eof()
    out("READY")
    due = []   # (time, seq, out socket, frame)
    seq = 0
    while True:
        timeout = max(0.0, due[0][0] - time.monotonic()) if due else 1.0
        ready, _, _ = select.select(socks, [], [], timeout)
        for i, s in enumerate(socks):
            if s not in ready:
                continue
            frame, addr = s.recvfrom(65535)
            if addr[2] == socket.PACKET_OUTGOING:
                continue   # our own transmission, seen again
            seq += 1
            heapq.heappush(due, (time.monotonic() + delay[i], seq, socks[1 - i], fix_tcp_checksum(frame)))
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, _, s, frame = heapq.heappop(due)
            s.send(frame)


def main():
    role, spec = sys.argv[1], json.loads(sys.argv[2])
    signal.alarm(int(spec.get("hard", 120)))
    {"backend": run_backend, "client": run_client, "delay": run_delay}[role](spec)
    out("DONE")


if __name__ == "__main__":
    main()
