#!/usr/bin/env python3
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
import select
import signal
import socket
import struct
import sys
import threading
import time

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
            return total, errno.errorcode.get(e.errno, str(e.errno))
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


# ---------------------------------------------------------------- client side

def c_connect(s, port=None, timeout=3.0):
    s.settimeout(timeout)
    s.connect(sockaddr(SPEC["saddr"], port or SPEC["port"]))


def cl_refused(c):
    s = new_client_sock(c["cport"])
    try:
        c_connect(s, c.get("port"))
        return "connected?!"
    except ConnectionRefusedError:
        return "refused"
    finally:
        safe_close(s)


def cl_send_wait(c):
    s = new_client_sock(c["cport"])
    c_connect(s)
    s.sendall(payload("POST", 300))
    r = drain(s, 2.0)
    safe_close(s)
    return "drain=%s" % (r,)


def cl_pipelined(c):
    s = new_client_sock(c["cport"])
    c_connect(s)
    s.send(payload("GET/1", REQ_LEN))
    s.send(payload("GET/2", REQ_LEN))
    r = drain(s, 2.0)
    safe_close(s)
    return "drain=%s" % (r,)


def cl_read_1k_close(c):
    s = new_client_sock(c["cport"])
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, c.get("rcvbuf", 65536))
    c_connect(s)
    s.sendall(payload("GET/big", REQ_LEN))
    got = recv_exact(s, 1024)
    time.sleep(c.get("pause", 0.02))  # let more data queue up unread
    safe_close(s)
    return "read=%d" % len(got)


def cl_req_read_linger(c):
    s = new_client_sock(c["cport"])
    c_connect(s)
    s.sendall(payload("GET", REQ_LEN))
    got = recv_exact(s, c.get("resp", 500))
    linger0(s)
    safe_close(s)
    return "read=%d" % len(got)


def cl_req_read_all(c):
    s = new_client_sock(c["cport"])
    c_connect(s)
    s.sendall(payload("GET", REQ_LEN))
    r = drain(s, 2.0)
    safe_close(s)
    return "drain=%s" % (r,)


def cl_connect_linger(c):
    s = new_client_sock(c["cport"])
    c_connect(s)
    linger0(s)
    safe_close(s)
    return "aborted"


def cl_data_after_fin(c):
    s = new_client_sock(c["cport"])
    c_connect(s)
    s.sendall(payload("GET", REQ_LEN))
    r = drain(s, 2.0)
    # make sure our kernel ACKs the FIN now rather than after delack
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    except OSError:
        pass
    time.sleep(0.05)
    try:
        s.send(payload("MORE", REQ_LEN))
        r2 = drain(s, 1.0)
    except OSError as e:
        r2 = ("send", errno.errorcode.get(e.errno))
    safe_close(s)
    return "first=%s second=%s" % (r, r2)


def cl_req_wait_linger(c):
    s = new_client_sock(c["cport"])
    c_connect(s)
    s.sendall(payload("GET/slow", REQ_LEN))
    r = drain(s, c.get("wait", 1.5))
    linger0(s)
    safe_close(s)
    return "drain=%s" % (r,)


def cl_keepalive(c):
    s = new_client_sock(c["cport"])
    c_connect(s)
    s.sendall(payload("GET", REQ_LEN))
    got = recv_exact(s, REQ_LEN)
    CTL.step("ka-%d" % c["cport"])
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
    r = drain(s, 8.0)
    safe_close(s)
    return "read=%d drain=%s" % (len(got), r)


def cl_stale(c):
    s = new_client_sock(c["cport"])
    c_connect(s)
    s.sendall(payload("GET", REQ_LEN))
    got = recv_exact(s, REQ_LEN)
    CTL.step("stale-%d" % c["cport"])
    # socket was killed with ss -K meanwhile
    r = drain(s, 0.2)
    safe_close(s)
    return "read=%d after_kill=%s" % (len(got), r)


def cl_bad_handshake(c):
    first = cl_stale(c)
    s = new_client_sock(c["cport"], timeout=4.0)
    t0 = time.monotonic()
    c_connect(s, timeout=4.0)
    dt = time.monotonic() - t0
    s.sendall(payload("GET/again", REQ_LEN))
    got = recv_exact(s, REQ_LEN)
    safe_close(s)  # graceful: we close first, server then closes
    return "%s reconnect=%.2fs read=%d" % (first, dt, len(got))


def cl_hold(c):
    s = new_client_sock(c["cport"])
    c_connect(s, c.get("port"))
    CTL.hold(c.get("hold", 15))
    safe_close(s)
    return "held"


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
            res.append(errno.errorcode.get(e, str(e)) if e else "ok")
        except OSError as e:
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
    return "rc=%s writable=%s" % (errno.errorcode.get(rc, rc), bool(w))


def cl_straggler_server_first(c):
    s = new_client_sock(c["cport"])
    c_connect(s)
    s.sendall(payload("GET", REQ_LEN))
    r = drain(s, 2.0)
    safe_close(s)
    return "drain=%s" % (r,)


def cl_straggler_client_first(c):
    s = new_client_sock(c["cport"])
    c_connect(s)
    s.sendall(payload("GET", REQ_LEN))
    got = recv_exact(s, 300)
    CTL.step("preclose-%d" % c["cport"])
    safe_close(s)
    return "read=%d" % len(got)


def cl_req_shut_read(c):
    s = new_client_sock(c["cport"])
    c_connect(s)
    s.sendall(payload("POST", REQ_LEN))
    s.shutdown(socket.SHUT_WR)
    r = drain(s, 2.0)
    safe_close(s)
    return "drain=%s" % (r,)


CLIENT = {k[3:]: v for k, v in globals().items() if k.startswith("cl_")}


def run_client():
    conns = SPEC["conns"]
    results = {}

    def one(c):
        try:
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

def sv_unread(s, cp):
    time.sleep(0.05)
    safe_close(s)
    return "closed unread"


def sv_pipelined(s, cp):
    time.sleep(0.05)
    got = recv_exact(s, REQ_LEN)
    s.sendall(payload("200", 200))
    safe_close(s)
    return "read=%d" % len(got)


def sv_bulk(s, cp):
    got = recv_exact(s, REQ_LEN)
    s.settimeout(3.0)
    try:
        s.sendall(b"B" * 400000)
        r = "sent all"
    except OSError as e:
        r = "send " + errno.errorcode.get(e.errno, str(e.errno))
    safe_close(s)
    return "read=%d %s" % (len(got), r)


def sv_respond_hold(s, cp):
    got = recv_exact(s, REQ_LEN)
    s.sendall(payload("200", 500))
    r = drain(s, 3.0)
    safe_close(s)
    return "read=%d drain=%s" % (len(got), r)


def sv_respond_linger(s, cp):
    got = recv_exact(s, REQ_LEN)
    s.sendall(payload("200", 300))
    linger0(s)
    safe_close(s)
    return "read=%d" % len(got)


def sv_hold(s, cp):
    r = drain(s, 3.0)
    safe_close(s)
    return "drain=%s" % (r,)


def sv_respond_close(s, cp):
    got = recv_exact(s, REQ_LEN)
    s.sendall(payload("200", 300))
    safe_close(s)
    return "read=%d" % len(got)


def sv_read_hold(s, cp):
    got = recv_exact(s, REQ_LEN)
    r = drain(s, 4.0)
    safe_close(s)
    return "read=%d drain=%s" % (len(got), r)


def sv_respond_hold_release(s, cp):
    got = recv_exact(s, REQ_LEN)
    s.sendall(payload("200", REQ_LEN))
    CTL.hold(20)
    safe_close(s)
    return "read=%d" % len(got)


def sv_stale_send(s, cp):
    got = recv_exact(s, REQ_LEN)
    s.sendall(payload("200", REQ_LEN))
    CTL.step("stale-send-%d" % cp)
    s.sendall(payload("PUSH", 200))
    r = drain(s, 2.0)
    safe_close(s)
    return "read=%d drain=%s" % (len(got), r)


def sv_stale_wait(s, cp):
    got = recv_exact(s, REQ_LEN)
    s.sendall(payload("200", REQ_LEN))
    r = drain(s, 6.0)
    safe_close(s)
    return "read=%d drain=%s" % (len(got), r)


def sv_echo_graceful(s, cp):
    got = recv_exact(s, REQ_LEN)
    s.sendall(payload("200", REQ_LEN))
    r = drain(s, 3.0)
    safe_close(s)
    return "read=%d drain=%s" % (len(got), r)


def sv_respond_wait_eof(s, cp):
    got = recv_exact(s, REQ_LEN)
    s.sendall(payload("200", 300))
    r = drain(s, 3.0)
    safe_close(s)
    return "read=%d drain=%s" % (len(got), r)


def sv_respond_step_close(s, cp):
    got = recv_exact(s, REQ_LEN)
    s.sendall(payload("200", 300))
    CTL.step("preclose-%d" % cp)
    safe_close(s)
    return "read=%d" % len(got)


def sv_shut_partial_linger(s, cp):
    r = drain(s, 2.0)
    s.sendall(payload("206", 1000))
    linger0(s)
    safe_close(s)
    return "drain=%s" % (r,)


SERVER = {k[3:]: v for k, v in globals().items() if k.startswith("sv_")}


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
            r = SERVER[b](conn, cp)
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


def main():
    global CTL, SPEC
    role = sys.argv[1]
    SPEC = json.loads(sys.argv[2])
    SPEC.setdefault("hard", 15)
    signal.signal(signal.SIGALRM, lambda *a: os._exit(3))
    signal.alarm(int(SPEC["hard"]) + 1)
    CTL = Ctl()
    if role == "server":
        run_server()
    elif role == "client":
        run_client()
    else:
        raise SystemExit("unknown role %r" % role)
    CTL.out("DONE")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
