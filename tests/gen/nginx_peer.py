#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""HTTP peers for generate_nginx_captures.py: a load-balancer-like client in
front of nginx and the application server (upstream) behind it.

Runs inside a network namespace (via `ip netns exec`).  Usage:

    nginx_peer.py client   '<json spec>'
    nginx_peer.py upstream '<json spec>'

Same control protocol, limits and helpers as peer.py (READY / LOG / DONE
on stdout, EOF on stdin releases; socket timeouts everywhere, a hard
alarm()).  Every LOG line this peer prints is `LOG <json>`, one per
connection, so the generator knows which port carried which request.
Stdlib only.
"""
import json
import socket
import threading
import time

import peer
from peer import drain, errname, linger0, safe_close

HEADER_LIMIT = 16384


def read_http(s, timeout=3.0):
    """Read one HTTP message (head, then a Content-Length body).
    Returns (head_text, body_bytes, outcome)."""
    s.settimeout(timeout)
    buf = b""
    for _ in range(1000):
        if b"\r\n\r\n" in buf or len(buf) > HEADER_LIMIT:
            break
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            return buf.decode("latin-1"), b"", "timeout"
        except OSError as e:
            return buf.decode("latin-1"), b"", errname(e.errno)
        if not chunk:
            return buf.decode("latin-1"), b"", "eof"
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    head = head.decode("latin-1")
    clen = 0
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            clen = int(v.strip())
    for _ in range(1000):
        if len(body) >= clen:
            break
        try:
            chunk = s.recv(clen - len(body))
        except socket.timeout:
            return head, body, "timeout"
        except OSError as e:
            return head, body, errname(e.errno)
        if not chunk:
            return head, body, "eof"
        body += chunk
    return head, body, "ok"


def report(**kw):
    peer.CTL.log(json.dumps(kw, sort_keys=True))


# ---------------------------------------------------------------- upstream
# What the application server does once it has read a request; chosen by
# the request's path (spec["paths"]: path -> behaviour).

def up_ok(s, spec):
    """answer 200 at once, then wait for nginx to close"""
    body = b"success"
    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
              b"Connection: close\r\n\r\n%s" % (len(body), body))
    return "answered; then %s" % (drain(s, 3.0),)


def up_slow(s, spec):
    """think for a while, then try to answer"""
    time.sleep(spec.get("slow", 1.5))
    try:
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nlate")
    except OSError as e:
        return "late answer: " + errname(e.errno)
    return "late answer sent; then %s" % (drain(s, 1.0),)


def up_reset(s, spec):
    """SO_LINGER{1,0} close without answering"""
    linger0(s)
    return "reset"


def up_fin(s, spec):
    """close without answering (FIN)"""
    return "closed"


def up_reset_mid(s, spec):
    """send the head and part of a long body, then SO_LINGER{1,0} close"""
    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n" + b"x" * 2000)
    time.sleep(0.2)
    linger0(s)
    return "reset while answering"


def up_trickle(s, spec):
    """send the head and part of a long body, the rest 1.5 s later"""
    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n" + b"x" * 2000)
    time.sleep(1.5)
    try:
        s.sendall(b"x" * 98000)
    except OSError as e:
        return "rest of the body: " + errname(e.errno)
    return "answered slowly; then %s" % (drain(s, 1.0),)


UPSTREAM = {k[3:]: v for k, v in globals().items() if k.startswith("up_")}


def run_upstream():
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((peer.SPEC["addr"], peer.SPEC["port"]))
    ls.listen(16)
    ls.settimeout(0.2)
    paths = peer.SPEC["paths"]
    threads = []
    peer.CTL.out("READY")

    def handle(conn, addr):
        rec = {"nginx_ip": addr[0], "nginx_port": addr[1]}
        try:
            head, body, outcome = read_http(conn)
            line = head.split("\r\n", 1)[0]
            rec["request"] = line
            target = line.split(" ")[1] if line.count(" ") >= 2 else ""
            b = paths.get(target)
            rec["behaviour"] = b
            if outcome != "ok" or b is None:
                rec["result"] = "EXC unexpected request (%s)" % outcome
            else:
                rec["result"] = UPSTREAM[b](conn, peer.SPEC)
        except Exception as e:  # report, never crash silently
            rec["result"] = "EXC %s: %s" % (type(e).__name__, e)
        safe_close(conn)
        report(**rec)

    deadline = time.monotonic() + peer.SPEC["hard"] - 1
    for _ in range(100000):
        if peer.CTL.release.is_set() or time.monotonic() >= deadline:
            break
        if len(threads) >= peer.SPEC.get("max_conns", 64):
            break
        try:
            conn, addr = ls.accept()
        except socket.timeout:
            continue
        conn.settimeout(3.0)
        t = threading.Thread(target=handle, args=(conn, addr), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    safe_close(ls)


# ---------------------------------------------------------------- client
# One connection per entry of spec["conns"], one after the other, each from
# its own source port: {"cport", "method", "path", "b", ...}.

def request_bytes(c):
    body = c.get("body", "").encode()
    head = "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: rstdiag-lb/1.0\r\n" % (
        c.get("method", "GET"), c["path"], peer.SPEC.get("host", "rstdiag.test"))
    if body:
        head += "Content-Type: application/x-www-form-urlencoded\r\n"
        head += "Content-Length: %d\r\n" % len(body)
    return (head + "\r\n").encode() + body


def status_of(head):
    parts = head.split(" ", 2)
    return parts[1] if len(parts) > 1 else "-"


def cl_read_reset(s, c):
    """read the whole response (so it is ACKed), then SO_LINGER{1,0} close"""
    head, body, outcome = read_http(s)
    time.sleep(c.get("pause", 0.1))
    linger0(s)
    return dict(status=status_of(head), body=len(body), read=outcome, close="rst")


def cl_wait_reset(s, c):
    """give up after `wait` seconds with no response: SO_LINGER{1,0} close"""
    n, outcome = drain(s, c.get("wait", 0.3))
    linger0(s)
    return dict(status="-", read="%d bytes, %s" % (n, outcome), close="rst")


def cl_wait_close(s, c):
    """give up after `wait` seconds with no response: plain close (FIN)"""
    n, outcome = drain(s, c.get("wait", 0.3))
    return dict(status="-", read="%d bytes, %s" % (n, outcome), close="fin")


def cl_silent_reset(s, c):
    """connect, send nothing, SO_LINGER{1,0} close after `wait` seconds"""
    time.sleep(c.get("wait", 0.2))
    linger0(s)
    return dict(status="-", read="-", close="rst")


def cl_upload_reset(s, c):
    """announce a long body, send part of it, SO_LINGER{1,0} close"""
    head = "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 100000\r\n\r\n" % (
        c["path"], peer.SPEC.get("host", "rstdiag.test"))
    s.sendall(head.encode() + b"y" * 2000)
    time.sleep(c.get("wait", 0.3))
    linger0(s)
    return dict(status="-", read="-", close="rst")


def cl_read_close(s, c):
    """read the response and close normally"""
    head, body, outcome = read_http(s)
    return dict(status=status_of(head), body=len(body), read=outcome, close="fin")


CLIENT = {k[3:]: v for k, v in globals().items() if k.startswith("cl_")}


def run_client():
    for c in peer.SPEC["conns"]:
        rec = {"cport": c["cport"], "path": c["path"], "b": c["b"]}
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.settimeout(3.0)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((peer.SPEC["caddr"], c["cport"]))
            s.connect((peer.SPEC["saddr"], peer.SPEC["port"]))
            if c["b"] not in ("silent_reset", "upload_reset"):   # they write their own
                s.sendall(request_bytes(c))
            rec.update(CLIENT[c["b"]](s, c))
        except Exception as e:
            rec["result"] = "EXC %s: %s" % (type(e).__name__, e)
        safe_close(s)
        report(**rec)
        time.sleep(peer.SPEC.get("gap", 0.3))


def run_client_ready():
    peer.CTL.out("READY")
    run_client()


def main():
    peer.serve({"upstream": run_upstream, "client": run_client_ready}, hard=20)


if __name__ == "__main__":
    main()
