#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The keep-alive race, for real: nginx with an upstream keep-alive pool in
front of a backend that closes idle connections, and the backend's kernel
resetting the requests that cross its FIN.

Namespaces rstka-<pid>-c (client), -p (nginx), -d (a delay line) and -u
(backend), with the addresses of generate_nginx_captures.py: client
198.18.100.1 -> nginx 198.18.100.2:80; nginx 198.18.101.1 -> backend
198.18.101.2:8080. Between nginx and the backend, keepalive_peers.py delay
forwards Ethernet frames 25 ms late each way (this kernel has no netem): the
latency on the backend's side that opens the race window. nginx keeps one
idle upstream connection (`keepalive 1`, HTTP/1.1); the backend close()s a
connection idle for 2 s (Gunicorn's default); the client sends each request
a gap after the previous response, the gaps swept around 2 s, so some
requests leave nginx before the backend's FIN arrives and reach the backend
after it left.

Writes tests/captures/keepalive/{race.pcap,error.log,labels.tsv}: the capture
on nginx's two veths, nginx's error.log, and one row per RST with the
kernel's own reason from the tcp:tcp_send_reset tracepoint, and whether it
answered a request sent on a reused idle connection (`race` 1/0, from the
packets: the stream's first RST, the proxy's request at least 0.75 s after
the backend's last response on that connection).

Needs root, nginx-light, tracefs. Run under the generators' lock:
    flock /tmp/rstdiag-gen.lock tests/gen/generate_keepalive_race.py
"""
import argparse
import atexit
import json
import os
import shutil
import subprocess
import tempfile
import time
import types

import generate_captures as gc
import generate_nginx_captures as gnc
from generate_captures import F_RST, REG, GenError, Peer, add_netns, add_veth, log, read_packets, run

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(HERE, "keepalive_peers.py")
NS_PREFIX = "rstka"
BACKEND_IDLE = 2.0            # the backend's idle close, seconds (Gunicorn keepalive)
ONE_WAY_DELAY = 0.025         # the delay line, each way
# the race window is the round trip on the backend's side just below the idle time
GAPS = [0.0] + [round(BACKEND_IDLE - 0.10 + 0.005 * i, 3) for i in range(25)]
MIN_IDLE = 0.75               # a request this long after the backend's last data reuses an idle connection
COLUMNS = ["frame", "stream", "src", "sport", "dst", "dport", "kernel_reason", "kernel_state", "race"]

NGINX_HTTP = """\
    access_log off;
    upstream backend {{
        server {backend};
        keepalive 1;
    }}
    server {{
        listen {listen};
        server_name rstdiag.test;
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


class RaceLab(gnc.Lab):
    """generate_nginx_captures' lab with a delay line between nginx and the backend."""

    def __init__(self, outdir, workdir):
        super().__init__(outdir, workdir)
        self.name = "keepalive"
        pfx = "%s-%d-" % (NS_PREFIX, os.getpid())
        self.ns = {"client": pfx + "c", "proxy": pfx + "p", "delay": pfx + "d", "upstream": pfx + "u"}

    def setup(self):
        for ns in self.ns.values():
            add_netns(ns)
        add_veth(self.ns["client"], "nx-c", self.ns["proxy"], "nx-pc")
        add_veth(self.ns["proxy"], "nx-pu", self.ns["delay"], "ka-dp")
        add_veth(self.ns["delay"], "ka-du", self.ns["upstream"], "nx-u")
        gc.addr_up(self.ns["client"], "nx-c", gnc.CLIENT_IP, 24)
        gc.addr_up(self.ns["proxy"], "nx-pc", gnc.PROXY_C_IP, 24)
        gc.addr_up(self.ns["proxy"], "nx-pu", gnc.PROXY_U_IP, 24)
        gc.addr_up(self.ns["upstream"], "nx-u", gnc.UPSTREAM_IP, 24)
        for dev in ("ka-dp", "ka-du"):
            run(["ip", "-n", self.ns["delay"], "link", "set", dev, "up"])

    def write_config(self):
        os.chmod(self.d, 0o755)
        os.makedirs(os.path.join(self.d, "tmp"), exist_ok=True)
        self.conf = os.path.join(self.d, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(gnc.nginx_conf("tests/gen/generate_keepalive_race.py", self.d, 64, NGINX_HTTP.format(
                listen="%s:%d" % (gnc.PROXY_C_IP, gnc.LISTEN_PORT),
                backend="%s:%d" % (gnc.UPSTREAM_IP, gnc.UPSTREAM_PORT))))
        self.errlog = os.path.join(self.d, "error.log")

    def race_peer(self, side, role, spec):
        p = Peer(self, side, role, spec, script=PEERS)
        self.peers.append(p)
        p.expect("READY", 5)
        return p


def frame_times(pcap):
    r = run(["tshark", "-n", "-r", pcap, "-T", "fields", "-e", "frame.number", "-e", "frame.time_epoch"],
            timeout=60)
    return {int(n): float(t) for n, t in (l.split("\t") for l in r.stdout.splitlines())}


def label(pkts, times, events):
    """One row per captured RST with its traced event (generate_captures.pair_events: per
    directed 4-tuple in order; the listener's own, addressed to 0.0.0.0:0, by source)."""
    rsts = [p for p in pkts if p["flags"] & F_RST]
    match = gc.pair_events(types.SimpleNamespace(name="keepalive", notes=[]), rsts, events)
    rows, last_data, reset = [], {}, set()
    for p in pkts:
        if p["len"] and not p["flags"] & F_RST:
            last_data[(p["stream"], p["src"])] = times[p["frame"]]
        if not p["flags"] & F_RST:
            continue
        if p["frame"] not in match:
            raise GenError("frame %d: RST with no tcp_send_reset event" % p["frame"])
        e = match[p["frame"]]
        mine, theirs = last_data.get((p["stream"], p["src"])), last_data.get((p["stream"], p["dst"]))
        # the stream's first RST answers the request; later ones, what was still in flight
        race = p["stream"] not in reset and mine is not None and theirs is not None and theirs - mine >= MIN_IDLE
        reset.add(p["stream"])
        rows.append(dict(frame=p["frame"], stream=p["stream"], src=p["src"], sport=p["sport"], dst=p["dst"],
                         dport=p["dport"], kernel_reason=e["reason"], kernel_state=e["state"], race=int(race)))
    return rows


def sweep_stale():
    gc.sweep_stale_netns(NS_PREFIX)
    gc.sweep_stale()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--outdir", default=os.path.join(gc.REPO, "tests", "captures", "keepalive"))
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    gc.VERBOSE = args.verbose
    gnc.check_env()
    lockf = gc.guard_run(os.path.abspath(__file__), sweep_stale)  # noqa: F841 (held)

    t_start = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="%s-%d-" % (NS_PREFIX, os.getpid()))
    atexit.register(shutil.rmtree, workdir, True)
    pcap = os.path.join(workdir, "race.pcap")
    lab = RaceLab(args.outdir, workdir)
    tracer = None
    try:
        lab.setup()
        lab.race_peer("delay", "delay", dict(devs=["ka-dp", "ka-du"], delay=ONE_WAY_DELAY, hard=150))
        lab.write_config()
        lab.start_nginx()
        lab.race_peer("upstream", "backend", dict(addr=gnc.UPSTREAM_IP, port=gnc.UPSTREAM_PORT,
                                                  idle=BACKEND_IDLE, hard=150))
        tracer = gc.Tracer()
        tracer.clear()
        lab.start_capture()
        time.sleep(0.5)
        client = lab.race_peer("client", "client", dict(saddr=gnc.PROXY_C_IP, port=gnc.LISTEN_PORT, gaps=GAPS,
                                                        hard=120))
        client.wait_done(110)
        time.sleep(BACKEND_IDLE + 0.5)   # the last connection's idle close
        lab.stop_capture(pcap)
        events = tracer.read({gnc.UPSTREAM_IP, gnc.PROXY_U_IP, gnc.PROXY_C_IP, gnc.CLIENT_IP})
        lab.stop_nginx()
        responses = [json.loads(l) for l in client.logs()]
    finally:
        if tracer:
            tracer.close()
        lab.teardown()
        REG.cleanup()

    bad = [r for r in responses if r["status"] != "200"]
    if len(responses) != len(GAPS) or bad:
        raise GenError("client: %d responses of %d, not 200: %s" % (len(responses), len(GAPS), bad))
    pkts = read_packets(pcap)
    rows = label(pkts, frame_times(pcap), events)
    races = [r for r in rows if r["race"]]
    if not races:
        raise GenError("no request crossed the backend's FIN; RSTs: %s" % rows)
    os.makedirs(args.outdir, exist_ok=True)
    shutil.copyfile(pcap, os.path.join(args.outdir, "race.pcap"))
    shutil.copyfile(lab.errlog, os.path.join(args.outdir, "error.log"))
    gc.write_tsv(os.path.join(args.outdir, "labels.tsv"), COLUMNS, rows)
    for r in rows:
        log("frame %-5d stream %-3d %s:%d -> %s:%d %-22s race=%d" % (
            r["frame"], r["stream"], r["src"], r["sport"], r["dst"], r["dport"], r["kernel_reason"], r["race"]))
    log("nginx %s: %d RSTs, %d answering a reused idle connection; %d packets; %.1fs" % (
        gnc.nginx_version(), len(rows), len(races), len(pkts), time.monotonic() - t_start))
    return 0


if __name__ == "__main__":
    gc.run_main(main, "generate_keepalive_race")
