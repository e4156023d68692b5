#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make_capture.py OUTDIR [--requests N]: a large, real HTTP capture for the benchmark.

Two fresh network namespaces, rdbench-<pid>-c (client, 198.18.100.1) and
rdbench-<pid>-p (nginx on 198.18.100.2:80), joined by a veth pair; no route
out. `wrk` (2 threads, 32 connections, script bench/wrk-mix.lua) sends N
requests: keep-alive and `Connection: close` mixed over three file sizes,
3 % to a location that nginx answers with a RST (return 444 with
reset_timedout_connection), then a bounded loop of connects to a closed port
(refused: RST from the kernel). tcpdump on nginx's side keeps the headers
only (snaplen 256, as the test captures).

Writes OUTDIR/capture.pcap, OUTDIR/nginx-error.log (nginx's own log, level
info) and OUTDIR/capture.json (what was made). Needs root, nginx-light, wrk.
Namespaces, nginx, wrk and tcpdump are removed on every exit path (the
helpers of tests/gen/, which also bound every process with timeout(1)).
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "gen"))

import generate_captures as gc  # noqa: E402
import generate_nginx_captures as gnc  # noqa: E402
from generate_captures import REG, GenError, add_netns, add_veth, addr_up, log, run  # noqa: E402

NS_PREFIX = "rdbench"
WRK_LUA = os.path.join(HERE, "wrk-mix.lua")
WRK_LIMIT_S = 240            # wrk's -d: the run ends by then whatever happens
REFUSED_CONNECTS = 500
CLOSED_PORT = 81

NGINX_HTTP = """\
    access_log off;
    keepalive_requests 200;        # then nginx closes the connection (FIN)
    reset_timedout_connection on;  # 444 resets the connection
    types {{ text/plain txt; text/html html; application/javascript js; }}

    server {{
        listen {listen};
        server_name rstdiag.test;
        location /static/ {{
            root {d}/html;
        }}
        location /reset/ {{
            return 444;
        }}
    }}
}}
"""

FILES = {"small.txt": 300, "page.html": 3000, "app.js": 12000}


class BenchLab(gnc.Lab):
    """nginx of the test generator's lab, serving files; no upstream."""

    def __init__(self, workdir):
        super().__init__(None, workdir)
        self.name = "bench"
        pfx = "%s-%d-" % (NS_PREFIX, os.getpid())
        self.ns = {"client": pfx + "c", "proxy": pfx + "p"}

    def setup(self):
        for ns in self.ns.values():
            add_netns(ns)
        add_veth(self.ns["client"], "nx-c", self.ns["proxy"], "nx-pc")
        addr_up(self.ns["client"], "nx-c", gnc.CLIENT_IP, 24)
        addr_up(self.ns["proxy"], "nx-pc", gnc.PROXY_C_IP, 24)
        # many short connections from one client address
        run(["ip", "netns", "exec", self.ns["client"], "sysctl", "-q", "-w",
             "net.ipv4.ip_local_port_range=1024 65000"])

    def write_config(self):
        os.chmod(self.d, 0o755)   # workers run as nobody: must reach html/
        for sub in ("tmp", "html", "html/static"):
            os.makedirs(os.path.join(self.d, sub), exist_ok=True)
        for name, size in FILES.items():
            with open(os.path.join(self.d, "html", "static", name), "w") as f:
                f.write(("rstdiag bench %s\n" % name) * (size // 20))
        self.conf = os.path.join(self.d, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(gnc.nginx_conf("bench/make_capture.py", self.d, 1024, NGINX_HTTP.format(
                d=self.d, listen="%s:%d" % (gnc.PROXY_C_IP, gnc.LISTEN_PORT))))
        self.errlog = os.path.join(self.d, "error.log")

    def start_capture(self):
        self.captures.append(gc.Capture(self.ns["proxy"], "nx-pc",
                                        os.path.join(self.d, "nx-pc.pcap"), limit=WRK_LIMIT_S + 60))

    def wrk(self, requests):
        per_thread = max(1, requests // 2)
        cmd = ["ip", "netns", "exec", self.ns["client"], "timeout", "-s", "KILL", str(WRK_LIMIT_S + 10),
               "wrk", "-t2", "-c32", "-d%ds" % WRK_LIMIT_S, "--timeout", "2s", "-s", WRK_LUA,
               "http://%s:%d/" % (gnc.PROXY_C_IP, gnc.LISTEN_PORT), "--", str(per_thread)]
        log("$ " + " ".join(cmd))
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True, preexec_fn=gc._die_with_parent())
        REG.add_proc(p)
        # wrk's threads stop after their requests (wrk-mix.lua) but wrk itself
        # waits for -d: interrupt it (it then prints its summary) once the
        # capture has stopped growing for 2 s.
        pcap, size, quiet = self.captures[0].pcap, -1, 0
        deadline = time.monotonic() + WRK_LIMIT_S + 20
        while p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
            now = os.path.getsize(pcap) if os.path.exists(pcap) else 0
            quiet = quiet + 1 if now == size else 0
            size = now
            if quiet >= 4:
                os.killpg(p.pid, signal.SIGINT)   # timeout(1) leads wrk's own process group
                break
        out, _ = p.communicate(timeout=30)
        if p.returncode not in (0, -signal.SIGINT, 128 + signal.SIGINT):
            raise GenError("wrk exited %d: %s" % (p.returncode, out))
        return out

    def refused(self):
        """connects to a port where nothing listens, one at a time"""
        code = ("import socket,sys\n"
                "for i in range(%d):\n"
                "    s=socket.socket(); s.settimeout(1)\n"
                "    try: s.connect(('%s',%d))\n"
                "    except OSError: pass\n"
                "    s.close()\n") % (REFUSED_CONNECTS, gnc.PROXY_C_IP, CLOSED_PORT)
        run(["ip", "netns", "exec", self.ns["client"], "timeout", "60", gc.PY, "-c", code], timeout=70)


def summarize(pcap):
    """packets, TCP streams and RSTs of the capture (stock tshark, one pass)"""
    r = subprocess.run(["tshark", "-n", "-r", pcap, "-T", "fields", "-e", "tcp.stream",
                        "-e", "tcp.flags.reset"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True, timeout=900, check=True)
    packets = streams = rsts = 0
    for line in r.stdout.splitlines():
        packets += 1
        f = line.split("\t")
        if f[0]:
            streams = max(streams, int(f[0]) + 1)
        if len(f) > 1 and f[1] in ("1", "True"):
            rsts += 1
    return packets, streams, rsts


def version(cmd, pattern):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for word in r.stdout.split():
        if pattern in word:
            return word
    return r.stdout.strip().splitlines()[0] if r.stdout.strip() else "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--requests", type=int, default=200000, help="wrk requests (default 200000)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise GenError("must run as root")
    for tool in ("ip", "tcpdump", "tshark", "mergecap", "wrk", "timeout"):
        if not shutil.which(tool):
            raise GenError("missing tool: %s" % tool)
    if not os.access(gnc.NGINX, os.X_OK):
        raise GenError("%s missing: apt-get install nginx-light" % gnc.NGINX)
    lockf = gc.guard_run(os.path.abspath(__file__),   # noqa: F841 (held)
                         lambda: gc.sweep_stale_netns(NS_PREFIX))

    t0 = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="%s-%d-" % (NS_PREFIX, os.getpid()))
    lab = BenchLab(workdir)
    pcap = os.path.join(workdir, "capture.pcap")
    try:
        lab.setup()
        lab.write_config()
        lab.start_nginx()
        lab.start_capture()
        time.sleep(0.3)
        wrk_out = lab.wrk(args.requests)
        lab.refused()
        time.sleep(0.5)
        lab.stop_capture(pcap)
        lab.stop_nginx()
    finally:
        lab.teardown()
        REG.cleanup()
    os.makedirs(args.outdir, exist_ok=True)
    shutil.copyfile(pcap, os.path.join(args.outdir, "capture.pcap"))
    shutil.copyfile(lab.errlog, os.path.join(args.outdir, "nginx-error.log"))
    shutil.rmtree(workdir, True)
    packets, streams, rsts = summarize(os.path.join(args.outdir, "capture.pcap"))
    meta = dict(requests=args.requests, packets=packets, streams=streams, rsts=rsts,
                snaplen=gc.SNAPLEN, bytes=os.path.getsize(os.path.join(args.outdir, "capture.pcap")),
                nginx=gnc.nginx_version(), wrk=version(["wrk", "--version"], "4."),
                made=time.strftime("%Y-%m-%d %H:%M:%S %z"), seconds=round(time.monotonic() - t0, 1),
                wrk_summary=[l.strip() for l in wrk_out.splitlines() if "requests in" in l
                             or "Non-2xx" in l or "Socket errors" in l])
    with open(os.path.join(args.outdir, "capture.json"), "w") as f:
        json.dump(meta, f, indent=1)
    log("capture: %d packets, %d TCP streams, %d RSTs, %.1f MB, %.0f s" % (
        packets, streams, rsts, meta["bytes"] / 1e6, meta["seconds"]))
    return 0


if __name__ == "__main__":
    gc.run_main(main, "make_capture")
