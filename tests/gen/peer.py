#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Small, bounded TCP peer used by generate_captures.py.

Runs inside a network namespace (via `ip netns exec`).  Usage:

    peer.py server '<json spec>'
    peer.py client '<json spec>'

Control protocol with the generator (line based):
  peer -> generator (stdout):  READY | STEP <tag> | LOG <text> | DONE
  generator -> peer (stdin):   GO <tag>; EOF on stdin means "release"
                               (peers that hold sockets exit then).

Every socket has a timeout, every wait is bounded, and the whole process
kills itself after spec["hard"] seconds (SIGALRM) no matter what.
Stdlib only.
"""
import errno
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import threading
import time

from inet_checksum import tcp_checksum

REQ_LEN = 100


def payload(tag, n):
    head = ("%s " % tag).encode()
    return (head + b"x" * n)[: n - 1] + b"\n"


class Ctl:
    """stdout/stdin control channel to the generator."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events = {}
        self.ev_lock = threading.Lock()
        self.release = threading.Event()
        t = threading.Thread(target=self._reader, daemon=True)
        t.start()

    def out(self, msg):
        with self.lock:
            sys.stdout.write(msg + "\n")
            sys.stdout.flush()

    def log(self, msg):
        self.out("LOG " + msg)

    def _ev(self, tag):
        with self.ev_lock:
            return self.events.setdefault(tag, threading.Event())

    def _reader(self):
        for _ in range(10000):
            line = sys.stdin.readline()
            if not line:
                break
            parts = line.split()
            if len(parts) == 2 and parts[0] == "GO":
                self._ev(parts[1]).set()
        self.release.set()
        # a release also unblocks any pending step
        with self.ev_lock:
            for ev in self.events.values():
                ev.set()

    def step(self, tag, timeout=10.0):
        self.out("STEP " + tag)
        if not self._ev(tag).wait(timeout):
            raise TimeoutError("no GO for step %s" % tag)

    def hold(self, timeout):
        self.release.wait(timeout)


CTL = None
SPEC = None


def family():
    return socket.AF_INET6 if SPEC["family"] == 6 else socket.AF_INET


def sockaddr(addr, port):
    if SPEC["family"] == 6:
        return (addr, port, 0, 0)
    return (addr, port)


def new_client_sock(cport, timeout=3.0):
    s = socket.socket(family(), socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(sockaddr(SPEC["caddr"], cport))
    return s


def linger0(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def recv_exact(s, n, timeout=3.0):
    s.settimeout(timeout)
    buf = b""
    for _ in range(100000):
        if len(buf) >= n:
            break
        chunk = s.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def drain(s, timeout=3.0, limit=10 ** 7):
    """recv until EOF, error or timeout. Returns (nbytes, outcome)."""
    s.settimeout(timeout)
    deadline = time.monotonic() + timeout
    total = 0
    for _ in range(100000):
        left = deadline - time.monotonic()
        if left <= 0:
            return total, "deadline"
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return total, "timeout"
        except OSError as e:
            return total, errname(e.errno)
        if not chunk:
            return total, "eof"
        total += len(chunk)
        if total >= limit:
            return total, "limit"
    return total, "loops"


def safe_close(s):
    try:
        s.close()
    except OSError:
        pass


def errname(num):
    return errno.errorcode.get(num, str(num))


def c_connect(s, port=None, timeout=3.0):
    s.settimeout(timeout)
    s.connect(sockaddr(SPEC["saddr"], port or SPEC["port"]))


# ---------------------------------------------------------------- behaviours
# Most behaviours are a list of steps run in order on one connected socket,
# which is then close()d.  A step is (op, *args); each op is an op_ function
# below, called as op_x(s, cport, *args), where cport is the client's port.

def op_connect(s, cp):
    c_connect(s)


def op_rcvbuf(s, cp, n):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, n)


def varied(cp, what, value, choices):
    """value times a factor drawn from choices for this connection, when the
    spec has a seed (tests/gen/sweep.py); value as given otherwise."""
    if SPEC.get("seed") is None:
        return value
    factor = random.Random("%s-%s-%s-%s" % (SPEC["seed"], SPEC.get("role"), cp, what)).choice(choices)
    return max(1, int(value * factor)) if isinstance(value, int) else value * factor


def op_sleep(s, cp, t):
    time.sleep(varied(cp, "sleep%s" % t, t, (0.5, 1, 1, 2)))


def op_send(s, cp, tag, n):
    # more than the peer reads leaves data unread (less would only stall the peer's read)
    s.sendall(payload(tag, varied(cp, "send-" + tag, n, (1, 1, 1, 2, 8))))


def op_send_into_reset(s, cp, tag, n):
    return send_into_reset(s, payload(tag, n))


def op_bulk_into_reset(s, cp, n):
    return send_into_reset(s, b"B" * n)


def op_trickle(s, cp, chunks, size, gap):
    """Send `chunks` writes of `size` bytes, `gap` seconds apart; stop at the first error."""
    for i in range(chunks):
        r = send_into_reset(s, payload("DATA%d" % i, size))
        if not r.startswith("sent="):
            return "trickle stopped at %d: %s" % (i, r)
        time.sleep(gap)
    return "trickle=%d" % chunks


def op_fill(s, cp, t):
    """Write until the send buffer has stayed full for t seconds (the peer's window is shut)."""
    s.settimeout(t)
    total = 0
    for _ in range(10000):
        try:
            total += s.send(b"F" * 65536)
        except socket.timeout:
            break
    return "filled=%d" % total


def op_read(s, cp, n):
    return "read=%d" % len(recv_exact(s, n))


def op_drain(s, cp, t):
    return "drain=%s" % (drain(s, t),)


def op_await_go(s, cp, tag):
    """Stop until the generator says GO (it arranges filters or kills first)."""
    CTL.step("%s-%d" % (tag, cp))


def op_hold(s, cp, t):
    """Keep the socket until the generator releases us (or t seconds)."""
    CTL.hold(t)


def op_quickack(s, cp):
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    except OSError:
        pass


def op_keepalive(s, cp, idle, intvl, cnt):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, intvl)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, cnt)


def op_shut_wr(s, cp):
    s.shutdown(socket.SHUT_WR)


def op_linger0(s, cp):
    linger0(s)


def op_linger2_off(s, cp):
    """TCP_LINGER2 < 0: close() in FIN_WAIT2 resets at once (tcp_close: TCP_ABORT_ON_LINGER)."""
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_LINGER2, -1)


OPS = {k[3:]: v for k, v in globals().items() if k.startswith("op_")}


def send_into_reset(s, data):
    """A send the peer is meant to answer with a RST: an error is the
    expected outcome, so it is reported rather than raised."""
    try:
        s.sendall(data)
        return "sent=%d" % len(data)
    except OSError as e:
        return "send=" + errname(e.errno)


def run_steps(s, cp, steps):
    out = [OPS[op](s, cp, *args) for op, *args in steps]
    safe_close(s)
    return " ".join(r for r in out if r)


# ---------------------------------------------------------------- client side

CLIENT_STEPS = {
    "send_wait": [("connect",), ("send", "POST", 300), ("drain", 2.0)],
    "pipelined": [("connect",), ("send", "GET/1", REQ_LEN), ("send", "GET/2", REQ_LEN),
                  ("drain", 2.0)],
    # the pause lets more data queue up unread before the close
    "read_1k_close": [("rcvbuf", 65536), ("connect",), ("send", "GET/big", REQ_LEN),
                      ("read", 1024), ("sleep", 0.02)],
    "req_read_linger": [("connect",), ("send", "GET", REQ_LEN), ("read", 500), ("linger0",)],
    "req_read_all": [("connect",), ("send", "GET", REQ_LEN), ("drain", 2.0)],
    "req_shut_read": [("connect",), ("send", "POST", REQ_LEN), ("shut_wr",), ("drain", 2.0)],
    "connect_linger": [("connect",), ("linger0",)],
    # shutdown(), the server ACKs the FIN (FIN_WAIT2; the drain waits, reading nothing), then a
    # hard close: SO_LINGER{1,0} (tcp_disconnect: TCP_STATE) or TCP_LINGER2 < 0 (TCP_ABORT_ON_LINGER)
    "req_shut_linger0": [("connect",), ("send", "POST", REQ_LEN), ("shut_wr",), ("drain", 0.5), ("linger0",)],
    "req_shut_linger2": [("connect",), ("send", "POST", REQ_LEN), ("shut_wr",), ("drain", 0.5),
                         ("linger2_off",)],
    # ACK the server's FIN at once rather than after delack, then send more
    "data_after_fin": [("connect",), ("send", "GET", REQ_LEN), ("drain", 2.0), ("quickack",),
                       ("sleep", 0.05), ("send_into_reset", "MORE", REQ_LEN), ("drain", 1.0)],
    "req_wait_linger": [("connect",), ("send", "GET/slow", REQ_LEN), ("drain", 1.5),
                        ("linger0",)],
    "keepalive": [("connect",), ("send", "GET", REQ_LEN), ("read", REQ_LEN), ("await_go", "ka"),
                  ("keepalive", 1, 1, 2), ("drain", 8.0)],
    # the generator kills the socket with ss -K before its GO
    "stale": [("connect",), ("send", "GET", REQ_LEN), ("read", REQ_LEN), ("await_go", "stale"),
              ("drain", 0.2)],
    "straggler_client_first": [("connect",), ("send", "GET", REQ_LEN), ("read", 300),
                               ("await_go", "preclose")],
    # a request a filter in the path rejects (it matches the tag)
    "send_blocked": [("connect",), ("send", "BLOCKME", REQ_LEN), ("drain", 1.0)],
    # the generator changes the path (a filter, a wait past a timer) before the GO
    # a tiny receive window never read: the server's data and its FIN queue up behind it
    "req_shut_stall": [("rcvbuf", 4096), ("connect",), ("send", "POST", REQ_LEN), ("shut_wr",),
                       ("sleep", 1.5)],
    # the same, then more data while the server, done, has closed with its FIN still queued
    "req_stall_more": [("rcvbuf", 4096), ("connect",), ("send", "GET", REQ_LEN), ("sleep", 1.5),
                       ("send_into_reset", "MORE", REQ_LEN), ("drain", 1.0)],
    "req_read_pause_more": [("connect",), ("send", "GET", REQ_LEN), ("read", REQ_LEN),
                            ("await_go", "pause"), ("send_into_reset", "MORE", REQ_LEN),
                            ("drain", 1.0)],
}


def cl_refused(c):
    s = new_client_sock(c["cport"])
    try:
        c_connect(s, c.get("port"))
        return "connected?!"
    except ConnectionRefusedError:
        return "refused"
    finally:
        safe_close(s)


def cl_bad_handshake(c):
    first = run_steps(new_client_sock(c["cport"]), c["cport"], CLIENT_STEPS["stale"])
    s = new_client_sock(c["cport"], timeout=4.0)
    t0 = time.monotonic()
    c_connect(s, timeout=4.0)
    dt = time.monotonic() - t0
    s.sendall(payload("GET/again", REQ_LEN))
    got = recv_exact(s, REQ_LEN)
    safe_close(s)  # graceful: we close first, server then closes
    return "%s reconnect=%.2fs read=%d" % (first, dt, len(got))


def cl_burst(c):
    """Fill part of the accept queue, then several non-blocking connects in
    a burst (accept_overflow)."""
    port = c["port"]
    socks = []
    held = []
    for cp in c.get("prefill", []):
        s = new_client_sock(cp)
        c_connect(s, port)
        held.append(s)
    CTL.step("burst-%d" % port)
    for cp in c["cports"]:
        s = new_client_sock(cp)
        s.setblocking(False)
        s.connect_ex(sockaddr(SPEC["saddr"], port))
        socks.append(s)
    # wait until each is writable (handshake done from our side)
    for s in socks:
        select.select([], [s], [], 1.0)
    if c.get("send"):
        for s in socks:
            try:
                s.send(payload("HI", 20))
            except OSError as e:
                CTL.log("send err %s" % e)
    CTL.out("STEP burst-done-%d" % port)  # informational, no GO needed
    CTL.hold(c.get("hold", 15))
    res = []
    for s in socks:
        try:
            e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            res.append(errname(e) if e else "ok")
        except OSError:
            res.append("err")
        safe_close(s)
    for s in held:
        safe_close(s)
    return "burst=" + ",".join(res)


def cl_abandon(c):
    s = new_client_sock(c["cport"])
    s.setblocking(False)
    rc = s.connect_ex(sockaddr(SPEC["saddr"], SPEC["port"]))
    _, w, _ = select.select([], [s], [], c.get("wait", 0.3))
    safe_close(s)
    return "rc=%s writable=%s" % (errname(rc), bool(w))


PROBE_FLAGS = {"FIN": 0x01, "NULL": 0x00, "XMAS": 0x29}   # XMAS: FIN|PSH|URG


def cl_probe(c):
    """One segment of a FIN, NULL or XMAS scan (c["flags"]) from cport, written on a raw
    socket: no connection and no ACK flag."""
    s = socket.socket(family(), socket.SOCK_RAW, socket.IPPROTO_TCP)
    try:
        seg = bytearray(struct.pack("!HHIIBBHHH", c["cport"], c.get("port", SPEC["port"]),
                                    random.getrandbits(32), 0, 5 << 4, PROBE_FLAGS[c["flags"]], 1024, 0, 0))
        src, dst = (socket.inet_pton(family(), a) for a in (SPEC["caddr"], SPEC["saddr"]))
        seg[16:18] = struct.pack("!H", tcp_checksum(src, dst, seg))
        s.sendto(bytes(seg), sockaddr(SPEC["saddr"], 0))
        time.sleep(0.2)
        return "probe %s sent" % c["flags"]
    finally:
        safe_close(s)


CLIENT = {k[3:]: v for k, v in globals().items() if k.startswith("cl_")}


def run_client():
    conns = SPEC["conns"]
    results = {}

    def one(c):
        try:
            if c["b"] in CLIENT_STEPS:
                s = new_client_sock(c["cport"])
                results[c["cport"]] = run_steps(s, c["cport"], CLIENT_STEPS[c["b"]])
            else:
                results[c["cport"]] = CLIENT[c["b"]](c)
        except Exception as e:  # report, never crash silently
            results[c["cport"]] = "EXC %s: %s" % (type(e).__name__, e)

    if SPEC.get("parallel"):
        ts = [threading.Thread(target=one, args=(c,), daemon=True) for c in conns]
        for t in ts:
            t.start()
            time.sleep(SPEC.get("stagger", 0.0))
        for t in ts:
            t.join(SPEC["hard"])
    else:
        for c in conns:
            one(c)
            time.sleep(SPEC.get("gap", 0.02))
    for cp in sorted(results):
        CTL.log("conn %s: %s" % (cp, results[cp]))


# ---------------------------------------------------------------- server side
# The accepted socket already has a 3 s timeout.

SERVER = {
    "hold": [("drain", 3.0)],
    "unread": [("sleep", 0.05)],
    "pipelined": [("sleep", 0.05), ("read", REQ_LEN), ("send", "200", 200)],
    "bulk": [("read", REQ_LEN), ("bulk_into_reset", 400000)],
    "read_hold": [("read", REQ_LEN), ("drain", 4.0)],
    # read to the client's FIN, keep the socket open (CLOSE_WAIT) a while, sending nothing
    "drain_hold": [("drain", 2.0), ("sleep", 2.0)],
    "respond_close": [("read", REQ_LEN), ("send", "200", 300)],
    "respond_linger": [("read", REQ_LEN), ("send", "200", 300), ("linger0",)],
    # refuse a request it has read, without an answer (a proxy or a flaky upstream's abort)
    "read_reject": [("read", REQ_LEN), ("linger0",)],
    "respond_hold": [("read", REQ_LEN), ("send", "200", 500), ("drain", 3.0)],
    "respond_wait_eof": [("read", REQ_LEN), ("send", "200", 300), ("drain", 3.0)],
    "respond_step_close": [("read", REQ_LEN), ("send", "200", 300), ("await_go", "preclose")],
    # the generator kills this socket (ss -K) at the step; the close after it finds nothing
    "respond_step_stale": [("read", REQ_LEN), ("send", "200", REQ_LEN), ("await_go", "srvstale")],
    "respond_hold_release": [("read", REQ_LEN), ("send", "200", REQ_LEN), ("hold", 20)],
    "echo_graceful": [("read", REQ_LEN), ("send", "200", REQ_LEN), ("drain", 3.0)],
    "stale_wait": [("read", REQ_LEN), ("send", "200", REQ_LEN), ("drain", 6.0)],
    "stale_send": [("read", REQ_LEN), ("send", "200", REQ_LEN), ("await_go", "stale-send"),
                   ("send", "PUSH", 200), ("drain", 2.0)],
    "shut_partial_linger": [("drain", 2.0), ("send", "206", 1000), ("linger0",)],
    "respond_drain": [("read", REQ_LEN), ("send", "200", REQ_LEN), ("drain", 8.0)],
    "trickle": [("read", REQ_LEN), ("trickle", 16, 1000, 0.05), ("drain", 1.0)],
    # answer into a shut window, shutdown(): LAST_ACK with the FIN behind unsent data; linger-0 close
    "read_fill_shut_linger": [("drain", 1.0), ("fill", 0.2), ("shut_wr",), ("sleep", 0.1), ("linger0",)],
    # answer into a shut window and close: FIN_WAIT1, the FIN behind unsent data
    "read_fill_close": [("drain", 0.3), ("fill", 0.2)],
}


def run_server():
    listeners = []
    for L in SPEC["listen"]:
        ls = socket.socket(family(), socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(sockaddr(SPEC["saddr"], L["port"]))
        ls.listen(L.get("backlog", 16))
        ls.settimeout(0.2)
        listeners.append((ls, L))
    handlers = {int(k): list(v) for k, v in SPEC.get("handlers", {}).items()}
    expect = sum(len(v) for v in handlers.values())
    results = []
    threads = []
    CTL.out("READY")

    def handle(conn, cp, b):
        try:
            r = run_steps(conn, cp, SERVER[b])
        except Exception as e:
            r = "EXC %s: %s" % (type(e).__name__, e)
            safe_close(conn)
        results.append("conn %d %s: %s" % (cp, b, r))

    deadline = time.monotonic() + SPEC["hard"] - 1
    accepted = 0
    accepting = [x for x in listeners if x[1].get("accept", True)]
    while accepting and accepted < expect and time.monotonic() < deadline:
        if CTL.release.is_set():
            break
        for ls, L in accepting:
            try:
                conn, addr = ls.accept()
            except socket.timeout:
                continue
            cp = addr[1]
            queue = handlers.get(cp) or ["hold"]
            b = queue.pop(0) if queue else "hold"
            accepted += 1
            conn.settimeout(3.0)
            t = threading.Thread(target=handle, args=(conn, cp, b), daemon=True)
            t.start()
            threads.append(t)
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    if SPEC.get("hold") or not accepting:
        CTL.hold(max(0.1, deadline - time.monotonic()))
    for r in results:
        CTL.log(r)
    for ls, _ in listeners:
        safe_close(ls)


def run_relay():
    """A one-address TCP proxy: accepts on raddr, connects to saddr from raddr,
    copies both ways; when the upstream resets, it resets the client at once
    (SO_LINGER{1,0}), passing the reset on."""
    ls = socket.socket(family(), socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(sockaddr(SPEC["raddr"], SPEC["port"]))
    ls.listen(16)
    ls.settimeout(0.2)
    CTL.out("READY")
    deadline = time.monotonic() + SPEC["hard"] - 1
    done = 0
    while done < SPEC["conns"] and time.monotonic() < deadline and not CTL.release.is_set():
        try:
            client, addr = ls.accept()
        except socket.timeout:
            continue
        up = socket.socket(family(), socket.SOCK_STREAM)
        up.settimeout(3.0)
        up.bind(sockaddr(SPEC["raddr"], addr[1] + 1000))   # the generator knows the port
        up.connect(sockaddr(SPEC["saddr"], SPEC["port"]))
        result = "timeout"
        for _ in range(200):
            readable, _, _ = select.select([client, up], [], [], 0.05)
            for src in readable:
                dst = up if src is client else client
                try:
                    data = src.recv(65536)
                except ConnectionResetError:
                    result = "reset from %s" % ("upstream" if src is up else "client")
                    linger0(dst)
                    break
                if not data:
                    result = "eof"
                    break
                dst.sendall(data)
            if result != "timeout":
                break
        CTL.log("relay conn %d: %s" % (addr[1], result))
        safe_close(client)
        safe_close(up)
        done += 1
    safe_close(ls)


def serve(roles, hard=15):
    """Entry point shared with nginx_peer.py: `<script> ROLE '<json spec>'`
    runs roles[ROLE]() with SPEC and CTL set, under a hard alarm()."""
    global CTL, SPEC
    role = sys.argv[1]
    SPEC = json.loads(sys.argv[2])
    SPEC["role"] = role
    SPEC.setdefault("hard", hard)
    signal.signal(signal.SIGALRM, lambda *a: os._exit(3))
    signal.alarm(int(SPEC["hard"]) + 1)
    CTL = Ctl()
    if role not in roles:
        raise SystemExit("unknown role %r" % role)
    roles[role]()
    CTL.out("DONE")
    sys.stdout.flush()
    os._exit(0)


def main():
    serve({"server": run_server, "client": run_client, "relay": run_relay})


if __name__ == "__main__":
    main()
