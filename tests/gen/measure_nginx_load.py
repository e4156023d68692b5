#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""nginx under load: how many of its reset lines rstdiag ties to the RST
that caused them, with default preferences.

A real nginx (one worker, error_log info, `keepalive N` to the upstream with
--keepalive) between a pool of client threads and a threaded upstream, in the
namespaces of generate_nginx_captures.py. Every request has its own path
/<behaviour>/<id>; client and upstream both let the kernel pick ephemeral
ports, so ports are reused. Behaviours: ok, the upstream resets before
answering, resets mid-answer, answers slowly while the client resets.

Ground truth from nginx's own words: each reset line quotes its request; the
stream carrying that request line (tshark's http.request.uri on the leg the
line names) is the connection, and the line's peer's RSTs on it are the
cause. Prints lines tied right / total; writes nothing to the repository
unless --outdir is given (the capture is a few MB). Needs root, nginx-light.

Usage: flock /tmp/rstdiag-gen.lock tests/gen/measure_nginx_load.py BUILD_DIR [--seconds 20]
"""
import argparse
import collections
import os
import random
import re
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

BEHAVIOURS = ("ok", "ok", "reset", "mid", "slow")


def linger0(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def upstream(addr, port, seconds):
    """threaded HTTP upstream: behaviour from the path's first segment"""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(1024)
    ls.settimeout(0.5)
    end = time.monotonic() + seconds + 5

    def handle(c):
        c.settimeout(5)
        try:
            for _ in range(100):   # keep-alive: several requests per connection
                buf = b""
                while b"\r\n\r\n" not in buf:
                    chunk = c.recv(4096)
                    if not chunk:
                        return
                    buf += chunk
                path = buf.split(b" ", 2)[1].decode()
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
            c, _ = ls.accept()
        except socket.timeout:
            continue
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def clients(addr, port, seconds, threads):
    end = time.monotonic() + seconds
    counter = iter(range(10 ** 9))
    lock = threading.Lock()

    def run(seed):
        rnd = random.Random(seed)
        while time.monotonic() < end:
            with lock:
                n = next(counter)
            kind = rnd.choice(BEHAVIOURS)
            s = socket.socket()
            s.settimeout(3)
            try:
                s.connect((addr, port))
                s.sendall(b"GET /%s/%d HTTP/1.1\r\nHost: load.test\r\n\r\n" % (kind.encode(), n))
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


NGINX_HTTP = """\
    access_log off;
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

LINE_RE = re.compile(r'^\S+ \S+ \[(\w+)\] \d+#\d+: \*\d+ (.*?)(?:, client: (\S+?))?, server: .*?request: "\S+ (\S+) ')


def main():
    if len(sys.argv) > 2 and sys.argv[1] in ("upstream", "clients"):
        role, addr, port, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
        return upstream(addr, port, seconds) if role == "upstream" else clients(addr, port, seconds, int(sys.argv[5]))
    import generate_captures as gc
    import generate_nginx_captures as gn
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--threads", type=int, default=24)
    ap.add_argument("--keepalive", type=int, default=0)
    ap.add_argument("--outdir")
    ap.add_argument("--shift", type=float, default=0, help="move the log's times by this many seconds")
    ap.add_argument("--one-pass", action="store_true", help="tshark's single pass instead of -2")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="rstlm-load-")
    lab = gn.Lab(work, work)
    pfx = "rstlm-%d-" % os.getpid()
    lab.ns = {"client": pfx + "c", "proxy": pfx + "p", "upstream": pfx + "u"}
    pcap = os.path.join(work, "proxy.pcap")
    try:
        lab.setup()
        os.chmod(work, 0o755)
        os.makedirs(os.path.join(work, "tmp"), exist_ok=True)
        lab.conf = os.path.join(work, "nginx.conf")
        with open(lab.conf, "w") as f:
            f.write(gn.nginx_conf("tests/gen/measure_nginx_load.py", work, 4096, NGINX_HTTP.format(
                listen="%s:80" % gn.PROXY_C_IP, upstream="%s:8080" % gn.UPSTREAM_IP,
                keepalive="keepalive %d;" % args.keepalive if args.keepalive else "")))
        lab.errlog = os.path.join(work, "error.log")
        lab.start_nginx()
        up = subprocess.Popen(["ip", "netns", "exec", lab.ns["upstream"], sys.executable, __file__, "upstream",
                               gn.UPSTREAM_IP, "8080", str(args.seconds)])
        gc.REG.add_proc(up)
        time.sleep(0.5)
        lab.start_capture()
        time.sleep(0.3)
        subprocess.run(["ip", "netns", "exec", lab.ns["client"], sys.executable, __file__, "clients",
                        gn.PROXY_C_IP, "80", str(args.seconds), str(args.threads)], timeout=args.seconds + 30)
        time.sleep(1.5)
        lab.stop_capture(pcap)
        lab.stop_nginx()
        up.wait(10)
    finally:
        lab.teardown()
        gc.REG.cleanup()

    # the stream of each request, per leg (nginx talks HTTP/1.1 to the upstream, port 8080)
    r = subprocess.run(["tshark", "-n", "-r", pcap, "-Y", "http.request", "-T", "fields", "-e", "tcp.stream",
                        "-e", "tcp.dstport", "-e", "http.request.uri"], capture_output=True, text=True, check=True)
    stream_of = {}
    for line in r.stdout.splitlines():
        stream, dport, uri = line.split("\t")
        stream_of[(uri, "upstream" if dport == "8080" else "client")] = int(stream)
    r = subprocess.run(["tshark", "-n", "-r", pcap, "-Y", "tcp.flags.reset == 1", "-T", "fields", "-e", "frame.number",
                        "-e", "tcp.stream", "-e", "ip.src"], capture_output=True, text=True, check=True)
    rsts = collections.defaultdict(set)
    for line in r.stdout.splitlines():
        frame, stream, src = line.split("\t")
        rsts[(int(stream), src)].add(int(frame))
    truth = {}
    unexplained = []
    total_lines = 0
    with open(lab_errlog_copy(lab, work, args.shift)) as f:
        for n, line in enumerate(f, 1):
            if "(104: " not in line and "(111: " not in line:
                continue
            total_lines += 1
            m = LINE_RE.match(line)
            if not m:
                continue
            # the RST's side: "client prematurely closed" and "while ... to client" are the client's
            upstream_side = "upstream" in m.group(2).split(" while ")[-1] and "client prematurely" not in m.group(2)
            leg = "upstream" if upstream_side else "client"
            peer = gn.UPSTREAM_IP if leg == "upstream" else gn.CLIENT_IP
            stream = stream_of.get((m.group(4), leg))
            if stream is not None and rsts.get((stream, peer)):
                truth[n] = (stream, rsts[(stream, peer)])
            elif len(unexplained) < 5:
                unexplained.append(line.strip())
    out = subprocess.run([os.path.join(gc.REPO, "tools", "tshark-with-plugin"), args.build, "-r", pcap, *([] if args.one_pass else ["-2"]),
                          "-o", "rstdiag.log_file:" + os.path.join(work, "error.copy.log"), "-Y", "rstdiag",
                          "-T", "fields", "-e", "frame.number", "-e", "tcp.stream", "-e", "rstdiag.log.lineno"],
                         capture_output=True, text=True, check=True)
    tied = collections.defaultdict(set)
    wrong_frames = 0
    for line in out.stdout.splitlines():
        frame, stream, lineno = line.split("\t")
        if lineno:
            tied[int(lineno)].add(int(frame))
            if int(lineno) not in truth or truth[int(lineno)][0] != int(stream):
                wrong_frames += 1
    right = sum(1 for n, (_, frames) in truth.items() if tied[n] & frames)
    n_rst = sum(len(v) for v in rsts.values())
    print("packets in %s: %d RSTs; %d reset lines (104/111), %d caused by a captured RST; tied right %d / %d; "
          "frames tied to a wrong line %d" % (pcap, n_rst, total_lines, len(truth), right, len(truth), wrong_frames))
    print(out.stderr.strip())
    print("\n".join("no RST found for: " + u for u in unexplained))
    if args.outdir:
        os.makedirs(args.outdir, exist_ok=True)
        shutil.copy(pcap, args.outdir)
        shutil.copy(os.path.join(work, "error.copy.log"), os.path.join(args.outdir, "error.log"))
    shutil.rmtree(work, True)


def lab_errlog_copy(lab, work, shift):
    """nginx's log, readable by tshark's user, its times moved by shift seconds"""
    import datetime
    copy = os.path.join(work, "error.copy.log")
    move = lambda m: (datetime.datetime.strptime(m.group(1), "%Y/%m/%d %H:%M:%S")
                      + datetime.timedelta(seconds=shift)).strftime("%Y/%m/%d %H:%M:%S")
    with open(lab.errlog) as src, open(copy, "w") as dst:
        for line in src:
            dst.write(re.sub(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d)", move, line))
    os.chmod(copy, 0o644)
    return copy


if __name__ == "__main__":
    main()
