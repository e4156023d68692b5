#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""nginx under load: a capture, nginx's error.log and which RST caused each
reset line, for tests/check_nginx_load.py.

A real nginx (one worker, error_log info, TZ=UTC: the log host's clock is
the capture's) between a pool of client threads and a threaded upstream, in
the namespaces of generate_nginx_captures.py. Every request has its own path
/<behaviour>/<id>; client and upstream let the kernel pick ephemeral ports,
so ports are reused within the run. Behaviours: ok, the upstream resets
before answering, resets mid-answer, answers slowly while the client resets.
With --keepalive N nginx keeps N idle HTTP/1.1 connections to the upstream
(`keepalive N`).

Ground truth from nginx's own data, never from times:
- a line's `*N` is its client connection: the access log gives its client
  port and request, which must be the line's;
- a client-leg line's connection is the stream that carried its request (each
  path is sent once by the client), on the access log's client port;
- an upstream-leg line is one attempt of its request: nginx passes a request
  to the next upstream connection after an error (proxy_next_upstream, default
  "error timeout"), and after an error on a cached keep-alive connection it
  tries again even with a single server (ngx_http_upstream_next() adds a try
  for a cached peer). Each failed attempt is logged before the next one
  starts, so the k-th upstream-leg line of *N is the k-th upstream stream
  that carried the request, in capture order; the upstream's own record of
  nginx's source port for each request it read must agree;
- the RSTs that caused the line: the peer's RSTs on that stream after the
  request, each traced by the peer's kernel (tcp:tcp_send_reset).

Writes OUTDIR/{proxy.pcap.gz,error.log.gz,expected.tsv} (expected.tsv as in
tests/captures/nginx/: lineno leg peer stream rst_frames scenario).
Needs root, nginx-light, tracefs. Run under the generators' lock:

    flock /tmp/rstdiag-gen.lock tests/gen/generate_nginx_load.py --outdir tests/captures/nginx-load
    flock /tmp/rstdiag-gen.lock tests/gen/generate_nginx_load.py --keepalive 16 \\
        --outdir tests/captures/nginx-load-keepalive
"""
import argparse
import collections
import gzip
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from http_head import HEAD_END, read_head  # noqa: E402  (beside this script)

BEHAVIOURS = ("ok", "ok", "reset", "mid", "slow")
NS_PREFIX = "rstld"
SNAPLEN = 160                 # headers and the request line: the capture stays small
COLUMNS = ["lineno", "leg", "peer", "stream", "rst_frames", "scenario"]


def linger0(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def upstream(addr, port, seconds):
    """threaded HTTP upstream, behaviour from the path's first segment; prints
    {"path", "nginx_port"} for every request it read"""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(1024)
    ls.settimeout(0.5)
    end = time.monotonic() + seconds + 5
    seen, lock = [], threading.Lock()

    def handle(c, nginx_port):
        c.settimeout(5)
        try:
            for _ in range(100):   # keep-alive: several requests per connection
                buf = read_head(c)
                if HEAD_END not in buf:
                    return
                path = buf.split(b" ", 2)[1].decode()
                with lock:
                    seen.append(dict(path=path, nginx_port=nginx_port))
                kind = path.split("/")[1]
                if kind == "reset":
                    return linger0(c)
                if kind == "mid":
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
                    time.sleep(0.05)
                    return linger0(c)
                if kind == "slow":
                    time.sleep(0.3)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except OSError:
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    while time.monotonic() < end:
        try:
            c, peer = ls.accept()
        except socket.timeout:
            continue
        threading.Thread(target=handle, args=(c, peer[1]), daemon=True).start()
    with lock:
        for r in seen:
            print(json.dumps(r))


def clients(addr, port, seconds, threads):
    """client threads, each request on its own connection; prints {"path",
    "cport"} for every connection made"""
    end = time.monotonic() + seconds
    counter = iter(range(10 ** 9))
    lock = threading.Lock()
    made = []

    def run(seed):
        rnd = random.Random(seed)
        while time.monotonic() < end:
            with lock:
                n = next(counter)
            kind = rnd.choice(BEHAVIOURS)
            path = "/%s/%d" % (kind, n)
            s = socket.socket()
            s.settimeout(3)
            try:
                s.connect((addr, port))
                with lock:
                    made.append(dict(path=path, cport=s.getsockname()[1]))
                s.sendall(b"GET %s HTTP/1.1\r\nHost: load.test\r\n\r\n" % path.encode())
                if kind == "slow":          # the client gives up first, with a RST
                    time.sleep(0.1)
                    linger0(s)
                    continue
                while s.recv(65536):
                    pass
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for r in made:
        print(json.dumps(r))


NGINX_HTTP = """\
    log_format conn '$connection $remote_addr:$remote_port "$request" $status '
                    'up=$upstream_addr';
    access_log {d}/access.log conn;
    upstream app {{
        server {upstream};
        {keepalive}
    }}
    server {{
        listen {listen} backlog=4096;
        keepalive_timeout 0;
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


def http_requests(pcap):
    """[(frame, stream, dport, uri)] of every HTTP request, in capture order"""
    r = subprocess.run(["tshark", "-n", "-r", pcap, "-Y", "http.request", "-T", "fields", "-e", "frame.number",
                        "-e", "tcp.stream", "-e", "tcp.dstport", "-e", "http.request.uri"],
                       capture_output=True, text=True, check=True, timeout=300)
    return [(int(f), int(s), int(d), u) for f, s, d, u in (l.split("\t") for l in r.stdout.splitlines())]


def build_rows(lines, access, requests, pkts, made, upstream_seen, traced, gn, gc):
    """expected.tsv's rows: one per reset-like line (see the module's doc)"""
    streams = collections.defaultdict(list)
    for p in pkts:
        streams[p["stream"]].append(p)
    client_stream, attempts = {}, collections.defaultdict(list)
    for frame, stream, dport, uri in requests:
        if dport == gn.LISTEN_PORT:
            if uri in client_stream:
                raise gc.GenError("the client sent %s twice" % uri)
            client_stream[uri] = (frame, stream)
        else:
            attempts[uri].append((frame, stream))
    cport_of = {r["path"]: r["cport"] for r in made}
    nginx_ports = collections.defaultdict(set)
    for r in upstream_seen:
        nginx_ports[r["path"]].add(r["nginx_port"])
    upstream_lines = collections.Counter()
    rows = []
    for rec in lines:
        if not rec["resetlike"]:
            continue
        acc = access.get(rec["conn"])
        path = (rec["request"] or "").split(" ")[1:2]
        if acc is None or not path or acc[2].split(" ")[1] != path[0] or acc[0] != gn.CLIENT_IP:
            raise gc.GenError("line %d (*%s): access log says %s" % (rec["lineno"], rec["conn"], acc))
        path = path[0]
        if cport_of.get(path) != acc[1]:
            raise gc.GenError("line %d: %s from port %s, access log says %d" % (
                rec["lineno"], path, cport_of.get(path), acc[1]))
        leg = gn.leg_of(rec)
        if leg == "client":
            peer_ep = (gn.CLIENT_IP, acc[1])
            request_frame, stream = client_stream[path]
        else:
            k = upstream_lines[rec["conn"]]
            upstream_lines[rec["conn"]] += 1
            if k >= len(attempts[path]):
                raise gc.GenError("line %d: attempt %d of %s, the capture has %d" % (
                    rec["lineno"], k + 1, path, len(attempts[path])))
            peer_ep = (gn.UPSTREAM_IP, gn.UPSTREAM_PORT)
            request_frame, stream = attempts[path][k]
        ends = {(p["src"], p["sport"]) for p in streams[stream]}
        if peer_ep not in ends:
            raise gc.GenError("line %d: stream %d is not %s:%d's" % (rec["lineno"], stream, *peer_ep))
        nginx_port = next(p["sport"] for p in streams[stream] if (p["src"], p["sport"]) != peer_ep)
        if leg == "upstream" and nginx_ports[path] and nginx_port not in nginx_ports[path]:
            raise gc.GenError("line %d: stream %d from nginx port %d; the upstream read %s from %s" % (
                rec["lineno"], stream, nginx_port, path, sorted(nginx_ports[path])))
        rsts = [p["frame"] for p in streams[stream]
                if p["flags"] & gc.F_RST and p["frame"] > request_frame and (p["src"], p["sport"]) == peer_ep]
        untraced = [f for f in rsts if f not in traced]
        if untraced:
            raise gc.GenError("line %d: RST frame(s) %s not traced by %s's kernel" % (
                rec["lineno"], untraced, peer_ep[0]))
        rows.append(dict(lineno=rec["lineno"], leg=leg, peer=peer_ep[0], stream=stream if rsts else "-",
                         rst_frames=",".join(map(str, rsts)) or "-", scenario=path.split("/")[1]))
    return rows


def main():
    if len(sys.argv) > 2 and sys.argv[1] in ("upstream", "clients"):
        role, addr, port, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
        return upstream(addr, port, seconds) if role == "upstream" else clients(addr, port, seconds, int(sys.argv[5]))
    import generate_captures as gc
    import generate_nginx_captures as gn
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--keepalive", type=int, default=0, help="idle upstream connections nginx keeps")
    ap.add_argument("--kernel-labels", help="also write every RST's traced kernel reason to this file "
                    "(tests/gen/sweep.py --nginx-runs)")
    args = ap.parse_args()
    gn.check_env()
    work = tempfile.mkdtemp(prefix="%s-%d-" % (NS_PREFIX, os.getpid()))
    lab = gn.Lab(work, work)
    lab.tz = "UTC"
    pfx = "%s-%d-" % (NS_PREFIX, os.getpid())
    lab.ns = {"client": pfx + "c", "proxy": pfx + "p", "upstream": pfx + "u"}
    pcap = os.path.join(work, "proxy.pcap")
    tracer = None
    t_start = time.monotonic()
    try:
        lab.setup()
        os.chmod(work, 0o755)
        os.makedirs(os.path.join(work, "tmp"), exist_ok=True)
        lab.conf = os.path.join(work, "nginx.conf")
        with open(lab.conf, "w") as f:
            f.write(gn.nginx_conf("tests/gen/generate_nginx_load.py", work, 4096, NGINX_HTTP.format(
                d=work, listen="%s:%d" % (gn.PROXY_C_IP, gn.LISTEN_PORT),
                upstream="%s:%d" % (gn.UPSTREAM_IP, gn.UPSTREAM_PORT),
                keepalive="keepalive %d;" % args.keepalive if args.keepalive else "")))
        lab.errlog = os.path.join(work, "error.log")
        lab.acclog = os.path.join(work, "access.log")
        lab.start_nginx()
        up = subprocess.Popen(["ip", "netns", "exec", lab.ns["upstream"], sys.executable, __file__, "upstream",
                               gn.UPSTREAM_IP, str(gn.UPSTREAM_PORT), str(args.seconds)],
                              stdout=subprocess.PIPE, text=True)
        gc.REG.add_proc(up)
        tracer = gc.Tracer(buffer_kb=16384)   # every RST of the run: thousands
        tracer.clear()
        time.sleep(0.5)
        lab.start_capture()
        time.sleep(0.3)
        made = subprocess.run(["ip", "netns", "exec", lab.ns["client"], sys.executable, __file__, "clients",
                               gn.PROXY_C_IP, str(gn.LISTEN_PORT), str(args.seconds), str(args.threads)],
                              capture_output=True, text=True, timeout=args.seconds + 30, check=True).stdout
        time.sleep(1.5)
        lab.stop_capture(pcap)
        events = tracer.read({gn.UPSTREAM_IP, gn.PROXY_U_IP, gn.PROXY_C_IP, gn.CLIENT_IP})
        lab.stop_nginx()
        upstream_seen = up.communicate(timeout=args.seconds + 15)[0]
    finally:
        if tracer:
            tracer.close()
        lab.teardown()
        gc.REG.cleanup()

    pkts = gc.read_packets(pcap)
    rsts = [p for p in pkts if p["flags"] & gc.F_RST]
    traced = gc.pair_events(type("S", (), dict(name="nginx-load", notes=[]))(), rsts, events)
    rows = build_rows(gn.parse_error_log(lab.errlog), gn.parse_access_log(lab.acclog), http_requests(pcap), pkts,
                      [json.loads(l) for l in made.splitlines()],
                      [json.loads(l) for l in upstream_seen.splitlines()], traced, gn, gc)
    os.makedirs(args.outdir, exist_ok=True)
    small = os.path.join(work, "proxy-snapped.pcap")   # editcap cannot write over its input
    subprocess.run(["editcap", "-F", "pcap", "-s", str(SNAPLEN), pcap, small], check=True, timeout=120)
    for src, name in ((small, "proxy.pcap.gz"), (lab.errlog, "error.log.gz")):
        with open(src, "rb") as f, gzip.GzipFile(os.path.join(args.outdir, name), "wb", mtime=0) as out:
            shutil.copyfileobj(f, out)
    gc.write_tsv(os.path.join(args.outdir, "expected.tsv"), COLUMNS, rows)
    if args.kernel_labels:
        gc.write_kernel_labels(args.kernel_labels, rsts, traced,
                               {(gn.UPSTREAM_IP, gn.UPSTREAM_PORT), (gn.PROXY_C_IP, gn.LISTEN_PORT)})
    tuples = collections.Counter((p["src"], p["sport"], p["dst"], p["dport"]) for p in pkts
                                 if p["flags"] & gc.F_SYN and not p["flags"] & gc.F_ACK)
    gc.log("nginx %s, keepalive %d: %d packets, %d RSTs (%d traced), %d connections (%d 4-tuples used again); "
           "%d reset-like lines, %d caused by a captured RST; %.1fs" % (
               gn.nginx_version(), args.keepalive, len(pkts), len(rsts), len(traced), sum(tuples.values()),
               sum(1 for n in tuples.values() if n > 1), len(rows), sum(1 for r in rows if r["stream"] != "-"),
               time.monotonic() - t_start))
    shutil.rmtree(work, True)
    return 0


if __name__ == "__main__":
    import generate_captures
    generate_captures.run_main(main, "generate_nginx_load")
