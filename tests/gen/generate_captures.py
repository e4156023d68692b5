#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Ground-truth RST capture generator for rstdiag.

For every scenario: create two fresh network namespaces joined by a veth
pair, run bounded socket peers (tests/gen/peer.py) in them, capture with
tcpdump, and label every captured RST with the reason the Linux kernel
itself reported through the tcp:tcp_send_reset tracepoint.

Outputs tests/captures/<scenario>.pcap and tests/captures/labels.tsv.
Needs root. Stdlib only. See tests/gen/README.md.
"""
import argparse
import atexit
import collections
import fcntl
import ipaddress
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PEER = os.path.join(HERE, "peer.py")
DELAY_LINE = os.path.join(HERE, "keepalive_peers.py")   # its `delay` role
INJECTOR = os.path.join(HERE, "injector.py")
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
TRACEFS = "/sys/kernel/tracing"
SERVER_PORT = 8080
SNAPLEN = 256
OUR_NETS = [ipaddress.ip_network("198.18.0.0/15"), ipaddress.ip_network("fd00::/8")]
# iptables match for a bare ACK: no other flag and no payload (IPv4, timestamps)
BARE_ACK = ["--tcp-flags", "ALL", "ACK", "-m", "length", "--length", "0:64"]

LABEL_COLUMNS = ["capture", "frame", "stream", "src", "sport", "dst", "dport",
                 "sender", "phase", "kernel_reason", "kernel_state", "intent", "origin", "cause"]

VERBOSE = False
SEED = None   # --seed: peers vary sizes and pauses, family, background connections and path delay vary
# one-way delays a seeded pair scenario draws for each direction (seconds); the kernel here
# has no netem, so a user-space delay line between the two hosts adds them
PATH_DELAYS = (0.0, 0.005, 0.030)
# TCP settings a seeded pair scenario draws for each host (per network namespace): the
# options a SYN offers (RFC 7323 timestamps and window scale, RFC 2018 SACK) and the
# receive buffer's default size, which sets the windows a host advertises (tcp_rmem[1];
# 131072 is the kernel's own default)
STACK_CHOICES = (("net.ipv4.tcp_timestamps", (1, 0)),
                 ("net.ipv4.tcp_window_scaling", (1, 0)),
                 ("net.ipv4.tcp_sack", (1, 0)),
                 ("net.ipv4.tcp_rmem", ("4096 131072 6291456", "4096 32768 6291456",
                                        "4096 1048576 6291456")))

try:
    import ctypes
    _LIBC = ctypes.CDLL(None, use_errno=True)
except Exception:  # pragma: no cover
    _LIBC = None


def _die_with_parent(sig=signal.SIGKILL):
    """preexec_fn: the child gets `sig` if this script dies (even SIGKILL)."""
    def fn():
        if _LIBC is not None:
            _LIBC.prctl(1, int(sig), 0, 0, 0)  # PR_SET_PDEATHSIG
    return fn


def log(msg):
    print(msg, flush=True)


def vlog(msg):
    if VERBOSE:
        print("    " + msg, flush=True)


class GenError(Exception):
    pass


# ------------------------------------------------------------------ cleanup

class Registry:
    """Everything that must be undone on any exit path."""

    def __init__(self):
        self.procs = []          # Popen objects we started
        self.netns = []          # namespace names we created
        self.tracer = None
        self.lock = threading.Lock()
        self.cleaned = False

    def add_proc(self, p):
        with self.lock:
            self.procs.append(p)

    def kill_proc(self, p, grace=0.0):
        if p.poll() is not None:
            return
        try:
            if grace:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(grace)
                    return
                except subprocess.TimeoutExpired:
                    pass
            os.killpg(p.pid, signal.SIGKILL)  # own child's own session
        except ProcessLookupError:
            pass
        try:
            p.wait(3)
        except subprocess.TimeoutExpired:
            pass

    def del_netns(self, name):
        subprocess.run(["ip", "netns", "del", name], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=10)
        with self.lock:
            if name in self.netns:
                self.netns.remove(name)

    def cleanup(self):
        with self.lock:
            if self.cleaned:
                return
            self.cleaned = True
            procs = list(self.procs)
            nss = list(self.netns)
        for p in procs:
            self.kill_proc(p)
        for ns in nss:
            try:
                self.del_netns(ns)
            except Exception:
                pass
        if self.tracer:
            try:
                self.tracer.close()
            except Exception:
                pass


REG = Registry()


def _on_signal(signum, frame):
    raise SystemExit("interrupted by signal %d" % signum)


# ------------------------------------------------------------------ helpers

def stack_words(settings):
    """'tcp_timestamps=1 tcp_window_scaling=0 tcp_sack=1 tcp_rmem=32768': a host's
    drawn settings, the receive buffer by its default size"""
    return " ".join("%s=%s" % (key.rsplit(".", 1)[1], str(value).split()[1] if key.endswith("rmem") else value)
                    for key, value in settings)


def run(cmd, timeout=10, check=True):
    vlog("$ " + " ".join(cmd))
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise GenError("command failed (%d): %s\n%s" % (r.returncode, " ".join(cmd),
                                                       r.stderr.strip()))
    return r


def norm_ip(s):
    return ipaddress.ip_address(s.strip("[]")).compressed


def ours(ip):
    a = ipaddress.ip_address(ip)
    return any(a in n for n in OUR_NETS)


# ------------------------------------------------------------------ namespaces and capture
# Shared with generate_nginx_captures.py.

def add_netns(ns, family=4):
    """Create namespace `ns` (registered for cleanup), lo up; IPv6 off for
    family 4, DAD and router solicitations off for family 6."""
    run(["ip", "netns", "add", ns])
    with REG.lock:
        REG.netns.append(ns)
    for k in ("all", "default"):
        if family == 4:
            kvs = ["net.ipv6.conf.%s.disable_ipv6=1" % k]
        else:
            kvs = ["net.ipv6.conf.%s.accept_dad=0" % k,
                   "net.ipv6.conf.%s.router_solicitations=0" % k]
        for kv in kvs:
            run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", kv])
    run(["ip", "-n", ns, "link", "set", "lo", "up"])


def add_veth(ns_a, dev_a, ns_b, dev_b):
    """veth pair created directly inside the namespaces: never in the host ns"""
    run(["ip", "link", "add", dev_a, "netns", ns_a, "type", "veth",
         "peer", "name", dev_b, "netns", ns_b])


def addr_up(ns, dev, addr, plen, family=4):
    cmd = ["ip", "-n", ns, "addr", "add", "%s/%d" % (addr, plen), "dev", dev]
    if family == 6:
        cmd.append("nodad")
    run(cmd)
    run(["ip", "-n", ns, "link", "set", dev, "up"])


class Capture:
    """tcpdump on one interface of one namespace, writing a pcap (snaplen
    SNAPLEN). Registered for cleanup and bounded by timeout(1), so it stops
    even if this script is SIGKILLed."""

    def __init__(self, ns, dev, pcap, limit=90):
        self.pcap = pcap
        if os.path.exists(pcap):
            os.unlink(pcap)
        cmd = ["ip", "netns", "exec", ns, "timeout", "-s", "INT", str(limit),
               "tcpdump", "-U", "--immediate-mode",
               "-Z", "root", "-n", "-s", str(SNAPLEN), "-i", dev, "-w", pcap]
        vlog("$ " + " ".join(cmd))
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, start_new_session=True,
                             preexec_fn=_die_with_parent(signal.SIGINT))
        REG.add_proc(p)
        self.p = p
        self.err = []
        ready = threading.Event()

        def rd():
            for line in p.stderr:
                self.err.append(line.strip())
                if "listening on" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=rd, daemon=True).start()
        if not ready.wait(5) or p.poll() is not None:
            raise GenError("tcpdump did not start: %s" % self.err)
        time.sleep(0.1)

    def stop(self):
        p = self.p
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGINT)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                REG.kill_proc(p)
                raise GenError("tcpdump did not stop")
        time.sleep(0.05)
        for line in self.err:
            m = re.match(r"(\d+) packets? dropped by kernel", line)
            if m and int(m.group(1)):
                raise GenError("tcpdump dropped %s packets" % m.group(1))
        if not os.path.exists(self.pcap):
            raise GenError("no pcap written: %s" % self.err)


# ------------------------------------------------------------------ tracing

TRACE_RE = re.compile(r"(?:(\d+\.\d+): )?tcp_send_reset: skbaddr=(\S+) skaddr=(\S+) src=(\S+) dest=(\S+) "
                      r"state=(\S+) reason=(\S+)")


def split_ep(ep):
    """'198.18.0.2:8080' or '[fd00::2]:8080' -> (ip, port)"""
    if ep.startswith("["):
        host, _, port = ep[1:].partition("]:")
    else:
        host, _, port = ep.rpartition(":")
    return norm_ip(host), int(port)


class Tracer:
    """tcp:tcp_send_reset in a private tracefs instance (falls back to the
    global buffer, restoring the previous enable value on exit)."""

    def __init__(self, buffer_kb=4096):
        self.mounted = False
        if not os.path.isdir(os.path.join(TRACEFS, "events")):
            run(["mount", "-t", "tracefs", "nodev", TRACEFS])
            self.mounted = True
        if not os.path.isdir(os.path.join(TRACEFS, "events/tcp/tcp_send_reset")):
            raise GenError("kernel has no tcp:tcp_send_reset tracepoint")
        self.instance = None
        self.prev_enable = None
        self.mono = False
        inst = os.path.join(TRACEFS, "instances", "rstgen-%d" % os.getpid())
        try:
            os.mkdir(inst)
            self.instance = inst
            self.dir = inst
            try:
                self._write("buffer_size_kb", str(buffer_kb))
            except OSError:
                pass
            try:
                # CLOCK_MONOTONIC time stamps, which read() maps to the capture's wall clock
                self._write("trace_clock", "mono")
                self.mono = True
            except OSError:
                pass
        except OSError:
            self.dir = TRACEFS
            with open(self._p("events/tcp/tcp_send_reset/enable")) as f:
                self.prev_enable = f.read().strip()
        self._write("events/tcp/tcp_send_reset/enable", "1")
        with open(self._p("events/tcp/tcp_send_reset/format")) as f:
            fmt = f.read()
        if "reason" not in fmt:
            raise GenError("tcp_send_reset tracepoint has no reason field (kernel < 6.10?)")

    def _p(self, rel):
        return os.path.join(self.dir, rel)

    def _write(self, rel, val):
        with open(self._p(rel), "w") as f:
            f.write(val)

    def clear(self):
        with open(self._p("trace"), "w") as f:
            f.write("")

    def read(self, addrs=None):
        """Parsed events, in trace order, whose src is in our ranges (and,
        if addrs is given, in that set)."""
        evs = []
        with open(self._p("trace")) as f:
            text = f.read()
        to_wall = time.time() - time.clock_gettime(time.CLOCK_MONOTONIC)
        for line in text.splitlines():
            m = TRACE_RE.search(line)
            if not m:
                continue
            t = float(m.group(1)) + to_wall if self.mono and m.group(1) else None
            sip, sport = split_ep(m.group(4))
            dip, dport = split_ep(m.group(5))
            if not ours(sip):
                continue
            if addrs is not None and sip not in addrs:
                continue
            evs.append(dict(src=sip, sport=sport, dst=dip, dport=dport,
                            state=m.group(6), reason=m.group(7), t=t,
                            active=m.group(2).strip("0") == "", line=line.strip()))
        return evs

    def close(self):
        try:
            self._write("events/tcp/tcp_send_reset/enable",
                        self.prev_enable if self.prev_enable is not None else "0")
        except OSError:
            pass
        if self.instance:
            for _ in range(20):
                try:
                    os.rmdir(self.instance)
                    break
                except OSError:
                    time.sleep(0.1)
        if self.mounted:
            subprocess.run(["umount", TRACEFS], timeout=10)


# ------------------------------------------------------------------ peers

class Peer:
    def __init__(self, ctx, side, role, spec, script=PEER):
        self.name = "%s/%s" % (ctx.name, role)
        ns = ctx.ns[side]
        spec = dict(spec)
        spec.setdefault("hard", 15)
        cmd = ["ip", "netns", "exec", ns, PY, script, role, json.dumps(spec)]
        vlog("spawn %s in %s: %s" % (role, ns, json.dumps(spec)))
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, bufsize=1,
                                  start_new_session=True,
                                  preexec_fn=_die_with_parent(signal.SIGKILL))
        REG.add_proc(self.p)
        self.hard = spec["hard"]
        self.seen = []
        self.cond = threading.Condition()
        self.err = []
        threading.Thread(target=self._rd_out, daemon=True).start()
        threading.Thread(target=self._rd_err, daemon=True).start()

    def _rd_out(self):
        for line in self.p.stdout:
            line = line.rstrip("\n")
            vlog("[%s] %s" % (self.name, line))
            with self.cond:
                self.seen.append(line)
                self.cond.notify_all()
        with self.cond:
            self.seen.append("<EOF>")
            self.cond.notify_all()

    def _rd_err(self):
        for line in self.p.stderr:
            self.err.append(line.rstrip("\n"))

    def expect(self, what, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while what not in self.seen:
                if "<EOF>" in self.seen:
                    raise GenError("%s exited before '%s'; stderr: %s; out: %s" % (
                        self.name, what, " | ".join(self.err[-5:]), self.seen[-5:]))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise GenError("%s: timeout waiting for '%s' (seen %s)" % (
                        self.name, what, self.seen[-5:]))
                self.cond.wait(min(left, 0.2))

    def go(self, tag):
        try:
            self.p.stdin.write("GO %s\n" % tag)
            self.p.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise GenError("%s: cannot send GO %s (peer gone)" % (self.name, tag))

    def release(self):
        try:
            self.p.stdin.close()
        except (BrokenPipeError, ValueError, OSError):
            pass

    def wait_done(self, timeout, errors_ok=False):
        """Wait for a clean exit. errors_ok: a connection's own error (a timeout under
        load) is no failure of the run -- the kernel labels the RSTs either way."""
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            raise GenError("%s did not finish within %.1fs" % (self.name, timeout))
        if self.p.returncode != 0:
            raise GenError("%s exited %d: %s" % (self.name, self.p.returncode,
                                                 " | ".join(self.err[-5:])))
        time.sleep(0.05)  # let the reader thread drain stdout
        bad = [l for l in self.seen if " EXC " in l or l.startswith("LOG conn") and "EXC" in l]
        if bad and not errors_ok:
            raise GenError("%s reported errors: %s" % (self.name, bad))

    def logs(self):
        return [l[4:] for l in self.seen if l.startswith("LOG ")]


def stop_peers(peers):
    """release every peer, give each 2 s to exit, then kill it"""
    for p in peers:
        p.release()
    for p in peers:
        try:
            p.p.wait(2)
        except subprocess.TimeoutExpired:
            pass
        REG.kill_proc(p.p)


# ------------------------------------------------------------------ scenario context

class Ctx:
    """One scenario's hosts. Topologies:
      pair    client and server on one veth (198.18.N.1, .2)
      routed  client - router - server (198.18.N.1/25, router .126 and .129,
              server .130/25): the router forwards, and may reject or inject
      relay   client - relay - server, the relay a one-address proxy on
              198.18.N.3 (its lo), the capture on all its interfaces"""

    def __init__(self, gen, sd):
        self.gen = gen
        self.sd = sd
        self.name = sd["name"]
        self.idx = sd["idx"]
        self.topology = sd.get("topology", "pair")
        self.family = sd.get("family", 4)
        if SEED is not None and self.topology == "pair" and "family" not in sd:
            self.family = random.Random("%s-%s-family" % (SEED, sd["name"])).choice((4, 6))
        self.background = []         # ports of background connections (seeded runs)
        self.background_sent = False
        # one-way delay client->server, server->client (seeded pair runs; 0: a bare veth)
        self.delay = (0.0, 0.0)
        if SEED is not None and self.topology == "pair" and not sd.get("no_delay"):
            rng = random.Random("%s-%s-delay" % (SEED, sd["name"]))
            self.delay = (rng.choice(PATH_DELAYS), rng.choice(PATH_DELAYS))
        # TCP settings per host (seeded pair runs; None: the namespace's defaults)
        self.stack = None
        if SEED is not None and self.topology == "pair":
            rng = random.Random("%s-%s-stack" % (SEED, sd["name"]))
            self.stack = {side: [(key, rng.choice(values)) for key, values in STACK_CHOICES]
                          for side in ("client", "server")}
        pfx = "rstgen-%d-" % os.getpid()
        sides = {"pair": ("client", "server"), "routed": ("client", "router", "server"),
                 "relay": ("client", "relay", "server")}[self.topology]
        if any(self.delay):
            sides += ("delay",)
        self.ns = {side: pfx + "%02d%s" % (self.idx, side[0]) for side in sides}
        self.dev = {"client": "rstgen-c", "server": "rstgen-s"}
        if self.family == 6:
            if self.topology != "pair":
                raise GenError("%s: IPv6 is only set up for the pair topology" % self.name)
            self.caddr = "fd00:0:0:%x::1" % self.idx
            self.saddr = "fd00:0:0:%x::2" % self.idx
            self.plen = 64
        elif self.topology == "pair":
            self.caddr = "198.18.%d.1" % self.idx
            self.saddr = "198.18.%d.2" % self.idx
            self.plen = 24
        else:
            self.caddr = "198.18.%d.1" % self.idx
            self.saddr = "198.18.%d.130" % self.idx
            self.plen = 25
        self.addr = {"client": self.caddr, "server": self.saddr}
        if self.topology == "routed":
            self.addr["router"] = "198.18.%d.126" % self.idx
        if self.topology == "relay":
            self.raddr = "198.18.%d.3" % self.idx
            self.addr["relay"] = self.raddr
        self.peers = []
        self.intents = {}
        self.expected_causes = {}
        self.next_port = 41001
        self.tcpdump = None
        self.pcap = os.path.join(gen.outdir, self.name + ".pcap")
        self.notes = []

    # -- namespaces
    def setup(self):
        for side, ns in self.ns.items():
            add_netns(ns, 4 if side == "delay" else self.family)   # the delay line has no address
        if self.stack:
            for side, settings in self.stack.items():
                for key, value in settings:
                    self.sysctl(side, "%s=%s" % (key, value))
            self.notes.append("stack %s: %s" % (os.path.basename(self.pcap), "; ".join(
                "%s %s" % (side, stack_words(settings)) for side, settings in self.stack.items())))
        if self.topology == "pair" and any(self.delay):
            self.setup_delay_line()
            return
        if self.topology == "pair":
            add_veth(self.ns["client"], self.dev["client"], self.ns["server"], self.dev["server"])
            for side in ("client", "server"):
                addr_up(self.ns[side], self.dev[side], self.addr[side], self.plen, self.family)
            return
        middle = "router" if self.topology == "routed" else "relay"
        near, far = "198.18.%d.126" % self.idx, "198.18.%d.129" % self.idx
        add_veth(self.ns["client"], "rstgen-c", self.ns[middle], "rstgen-mc")
        add_veth(self.ns[middle], "rstgen-ms", self.ns["server"], "rstgen-s")
        addr_up(self.ns["client"], "rstgen-c", self.caddr, 25)
        addr_up(self.ns[middle], "rstgen-mc", near, 25)
        addr_up(self.ns[middle], "rstgen-ms", far, 25)
        addr_up(self.ns["server"], "rstgen-s", self.saddr, 25)
        if self.topology == "routed":
            self.sysctl("router", "net.ipv4.ip_forward=1")
            self.ns_run("client", ["ip", "route", "add", "198.18.%d.128/25" % self.idx, "via", near])
            self.ns_run("server", ["ip", "route", "add", "198.18.%d.0/25" % self.idx, "via", far])
        else:
            self.ns_run("relay", ["ip", "addr", "add", self.raddr + "/32", "dev", "lo"])
            self.ns_run("client", ["ip", "route", "add", self.raddr + "/32", "via", near])
            self.ns_run("server", ["ip", "route", "add", self.raddr + "/32", "via", far])

    def setup_delay_line(self):
        """client - delay - server: one link layer, bridged by keepalive_peers.py's delay
        line (AF_PACKET) that holds each frame self.delay[direction] seconds. The hosts send
        one segment per frame (gso_max_segs 1): the line forwards frames as they are, and a
        GSO super-frame is larger than the MTU of the veth it leaves on."""
        add_veth(self.ns["client"], self.dev["client"], self.ns["delay"], "rstgen-dc")
        add_veth(self.ns["delay"], "rstgen-ds", self.ns["server"], self.dev["server"])
        for side in ("client", "server"):
            run(["ip", "-n", self.ns[side], "link", "set", self.dev[side], "gso_max_segs", "1"])
            addr_up(self.ns[side], self.dev[side], self.addr[side], self.plen, self.family)
        for dev in ("rstgen-dc", "rstgen-ds"):
            run(["ip", "-n", self.ns["delay"], "link", "set", dev, "up"])
        line = Peer(self, "delay", "delay", {"devs": ["rstgen-dc", "rstgen-ds"], "delay": list(self.delay),
                                             "hard": 120}, script=DELAY_LINE)
        self.peers.append(line)
        line.expect("READY", 5)
        self.notes.append("path delay %s: %d ms client to server, %d ms server to client" % (
            os.path.basename(self.pcap), self.delay[0] * 1000, self.delay[1] * 1000))

    def teardown(self):
        stop_peers(self.peers)
        if self.tcpdump:
            REG.kill_proc(self.tcpdump, grace=2)
        for ns in self.ns.values():
            REG.del_netns(ns)

    def sysctl(self, side, kv):
        run(["ip", "netns", "exec", self.ns[side], "sysctl", "-q", "-w", kv])

    def ns_run(self, side, cmd, timeout=10, check=True):
        return run(["ip", "netns", "exec", self.ns[side]] + cmd, timeout=timeout, check=check)

    def ipt(self, side, *args):
        tool = "ip6tables" if self.family == 6 else "iptables"
        return self.ns_run(side, [tool, "-w", "5"] + list(args))

    def ipt_packets(self, side, chain, table="filter"):
        """total packet count of the rules in a chain"""
        tool = "ip6tables" if self.family == 6 else "iptables"
        r = self.ns_run(side, [tool, "-w", "5", "-t", table, "-n", "-v", "-x", "-L", chain])
        total = 0
        for line in r.stdout.splitlines()[2:]:
            f = line.split()
            if f and f[0].isdigit():
                total += int(f[0])
        return total

    # -- capture
    def start_capture(self, side):
        dev = "any" if side in ("router", "relay") else self.dev[side]
        self.capture = Capture(self.ns[side], dev, self.pcap)
        self.tcpdump = self.capture.p

    def stop_capture(self):
        self.capture.stop()

    # -- trace
    def trace_events(self):
        return self.gen.tracer.read(set(self.addr.values()))

    def clear_trace(self):
        self.gen.tracer.clear()

    def wait_trace(self, n, timeout):
        deadline = time.monotonic() + timeout
        for _ in range(10000):
            evs = self.trace_events()
            if len(evs) >= n or time.monotonic() >= deadline:
                return evs
            time.sleep(0.05)
        return self.trace_events()

    # -- peers
    def ports(self, n, intent, causes=None):
        """n client ports for `intent`; causes = {"endpoint": cause, "middlebox": cause}:
        the cause rstdiag must name for the RSTs of their streams, by who sent them
        (a traced RST is an end host's, an untraced one a device's)."""
        out = []
        for _ in range(n):
            p = self.next_port
            self.next_port += 1
            self.intents[p] = intent
            self.expected_causes[p] = causes or {}
            out.append(p)
        return out

    def _spec(self, extra):
        spec = {"family": self.family, "caddr": self.caddr, "saddr": self.saddr,
                "port": SERVER_PORT, "seed": SEED}
        spec.update(extra)
        return spec

    def server(self, handlers=None, listen=None, hold=False, hard=15):
        handlers = dict(handlers or {})
        if SEED is not None and not self.background and self.topology == "pair":
            # ordinary connections to the same host and port beside the scenario's
            n = random.Random("%s-%s-bg" % (SEED, self.name)).randint(0, 3)
            self.background = self.ports(n, "background")
            handlers.update({p: ["respond_close"] for p in self.background})
        spec = self._spec({"listen": listen or [{"port": SERVER_PORT, "backlog": 16}],
                           "handlers": {str(k): v for k, v in handlers.items()},
                           "hold": hold, "hard": hard})
        p = Peer(self, "server", "server", spec)
        self.peers.append(p)
        p.expect("READY", 5)
        return p

    def client(self, conns, parallel=False, hard=15, **kw):
        if self.background and not self.background_sent:
            conns = [{"cport": p, "b": "req_read_all"} for p in self.background] + list(conns)
            self.background_sent = True
        spec = self._spec({"conns": conns, "parallel": parallel, "hard": hard,
                           "stagger": 0.03})  # keeps stream numbering stable
        spec.update(kw)
        p = Peer(self, "client", "client", spec)
        self.peers.append(p)
        return p


# ------------------------------------------------------------------ scenarios
# Each function drives one scenario. The framework has already created the
# namespaces, started tcpdump and cleared the trace buffer; after the
# function returns it settles, stops the capture, reads the trace, tears
# everything down and labels the RSTs.

def uniform_scenario(intent, server, client, n=3, conn=None, causes=None, **client_opts):
    """A scenario whose n connections all run the same peer.py behaviours:
    `server` (None: nothing listens) and `client`.  `conn` is merged into each
    client connection spec, causes go to S.ports(), client_opts to S.client()."""
    def sc(S):
        ps = S.ports(n, intent, causes)
        if server:
            S.server({p: [server] for p in ps})
        cli = S.client([dict(conn or {}, cport=p, b=client) for p in ps], **client_opts)
        cli.wait_done(10)
        S.wait_trace(n, 1)
    return sc


sc_refused = uniform_scenario("refused", None, "refused", conn={"port": 9})
sc_unread_server = uniform_scenario("abort_on_close_unread", "unread", "send_wait")
sc_unread_pipelined = uniform_scenario("abort_on_close_pipelined", "pipelined", "pipelined")
sc_linger_client = uniform_scenario("linger0_client", "respond_hold", "req_read_linger")
sc_linger_server = uniform_scenario("linger0_server", "respond_linger", "req_read_all")
# The server reads the request and aborts with SO_LINGER{1,0} without answering, as a proxy
# refusing a request or an upstream failing under load does: TCP_STATE, or TCP_ABORT_ON_CLOSE
# when the client's (varied) write was more than the server read.
# Nothing on the wire shows whether the request was read: the cause named is the abort.
sc_reject_after_read = uniform_scenario("linger0_server_unanswered", "read_reject", "req_read_all",
                                        causes={"endpoint": "abortive-close"})
sc_handshake_abort = uniform_scenario("linger0_after_handshake", "hold", "connect_linger")
sc_response_timeout = uniform_scenario("client_timeout_linger0", "read_hold", "req_wait_linger",
                                       n=2, parallel=True, stagger=0.05)
# The client shuts its side, the server ACKs the FIN and keeps its own side open, and the
# client closes hard from FIN_WAIT2: SO_LINGER{1,0} (TCP_STATE) on two connections,
# TCP_LINGER2 < 0 (TCP_ABORT_ON_LINGER) on two. The same RST on the wire.
def sc_hard_close_after_shutdown(S):
    linger0 = S.ports(2, "linger0_after_own_fin")
    linger2 = S.ports(2, "linger2_after_own_fin")
    S.server({p: ["drain_hold"] for p in linger0 + linger2})
    cli = S.client([{"cport": p, "b": "req_shut_linger0"} for p in linger0]
                   + [{"cport": p, "b": "req_shut_linger2"} for p in linger2])
    cli.wait_done(10)
    S.wait_trace(4, 1)


sc_abort_after_fin = uniform_scenario("linger0_after_peer_fin", "shut_partial_linger",
                                      "req_shut_read", n=2)
# The client shut its side and reads nothing; the server answers into the shut window, then
# shutdown() (LAST_ACK, its FIN queued behind unsent data) and a linger-0 close: tcp_disconnect
# resets with TCP_DISCONNECT_WITH_DATA (snd_nxt != write_seq in LAST_ACK).
sc_disconnect_with_data = uniform_scenario("linger0_last_ack_fin_queued", "read_fill_shut_linger",
                                           "req_shut_stall", n=2)
# The server, done reading, writes into a shut window and close()s (FIN_WAIT1 orphan, FIN
# queued); the client's next data meets the orphan: tcp_rcv_state_process resets with
# TCP_ABORT_ON_DATA (RCV_SHUTDOWN and new data).
sc_abort_on_data_sending = uniform_scenario("data_reaches_orphan_still_sending", "read_fill_close",
                                            "req_stall_more", n=2)


def sc_probes(S):
    """FIN, NULL and XMAS scan segments to a port nothing listens on (no connection,
    no ACK flag): the kernel answers each with RST|ACK (NO_SOCKET)."""
    ps = S.ports(3, "stealth_probe_closed_port")
    S.client([{"cport": p, "b": "probe", "flags": f} for p, f in zip(ps, ("FIN", "NULL", "XMAS"))]).wait_done(5)
    S.wait_trace(len(ps), 2)


def sc_abort_midtransfer(S):
    """The client closes with ~110 KB unread while the server is blocked on
    a full window.  On a zero-delay veth nothing is in flight at that moment,
    so the abort alone yields no NO_SOCKET follow-ups (closing while the
    window is still open does, but a varying number of them).  For a
    deterministic follow-up, the third connection's RST|ACK is dropped at the
    server ("lost RST"): the server's retransmission timer then re-sends
    unacknowledged data, which meets no socket."""
    ps = S.ports(2, "abort_on_close_midtransfer")
    lost = S.ports(1, "abort_on_close_midtransfer_rst_lost")
    S.ipt("server", "-A", "INPUT", "-p", "tcp", "-s", S.caddr, "--sport", str(lost[0]),
          "--tcp-flags", "RST,ACK", "RST,ACK", "-j", "DROP")
    S.server({p: ["bulk"] for p in ps + lost})
    cli = S.client([{"cport": p, "b": "read_1k_close"} for p in ps + lost], gap=0.1)
    cli.wait_done(10)
    S.wait_trace(4, 3)


def sc_data_after_close(S):
    tw = S.ports(2, "data_after_close_timewait")
    fw1 = S.ports(2, "data_after_close_finwait1")
    for p in fw1:
        # server keeps its FIN unacknowledged: drop the client's pure ACKs
        S.ipt("server", "-A", "INPUT", "-p", "tcp", "-s", S.caddr, "--sport", str(p),
              "--dport", str(SERVER_PORT), *BARE_ACK, "-j", "DROP")
    S.server({p: ["respond_close"] for p in tw + fw1})
    cli = S.client([{"cport": p, "b": "data_after_fin"} for p in tw + fw1])
    cli.wait_done(12)
    S.wait_trace(4, 1)


def sc_keepalive(S):
    ps = S.ports(2, "keepalive_timeout")
    S.server({p: ["respond_hold_release"] for p in ps}, hold=True, hard=25)
    cli = S.client([{"cport": p, "b": "keepalive"} for p in ps], parallel=True, hard=20)
    for p in ps:
        cli.expect("STEP ka-%d" % p, 5)
    # the peer vanishes: everything from the client is dropped at the server
    S.ipt("server", "-A", "INPUT", "-s", S.caddr, "-j", "DROP")
    for p in ps:
        cli.go("ka-%d" % p)
        time.sleep(0.05)
    cli.wait_done(15)
    S.wait_trace(2, 1)


def _kill_client_sockets_silently(S, ps, side="client"):
    """ss -K one side's sockets of the client ports ps while its RSTs are
    dropped, then clear the trace buffer so those dropped RSTs are not paired."""
    S.ipt(side, "-A", "OUTPUT", "-p", "tcp", "--tcp-flags", "RST", "RST", "-j", "DROP")
    port_key = "sport" if side == "client" else "dport"
    for p in ps:
        S.ns_run(side, ["ss", "-K", "-t", "-n", port_key, "=", ":%d" % p])
    evs = S.wait_trace(len(ps), 2)
    S.notes.append("ss -K: %d RST(s) traced and dropped before the wire (%s)" % (
        len(evs), ",".join(sorted({"%s/%s" % (e["reason"], e["state"]) for e in evs}))))
    S.clear_trace()
    S.ipt(side, "-D", "OUTPUT", "-p", "tcp", "--tcp-flags", "RST", "RST", "-j", "DROP")


def sc_stale_half_open(S):
    ps = S.ports(3, "stale_peer_lost_state")
    srv = S.server({p: ["stale_send"] for p in ps})
    cli = S.client([{"cport": p, "b": "stale"} for p in ps], parallel=True)
    for p in ps:
        cli.expect("STEP stale-%d" % p, 5)
        srv.expect("STEP stale-send-%d" % p, 5)
    _kill_client_sockets_silently(S, ps)
    for p in ps:
        cli.go("stale-%d" % p)
    cli.wait_done(5)
    for p in ps:
        srv.go("stale-send-%d" % p)
        time.sleep(0.03)
    S.wait_trace(3, 2)
    srv.wait_done(6)


def sc_stale_server(S):
    """The server loses its connections silently (ss -K, its RSTs dropped)
    while its listener stays up; the clients' next requests reach the
    listener, which resets them (TCP_FLAGS)."""
    ps = S.ports(2, "server_lost_state_listener_up")
    srv = S.server({p: ["respond_step_stale"] for p in ps}, hold=True)
    cli = S.client([{"cport": p, "b": "req_read_pause_more"} for p in ps], parallel=True)
    for p in ps:
        cli.expect("STEP pause-%d" % p, 5)
        srv.expect("STEP srvstale-%d" % p, 5)
    _kill_client_sockets_silently(S, ps, side="server")
    for p in ps:
        srv.go("srvstale-%d" % p)
        cli.go("pause-%d" % p)
        time.sleep(0.03)
    cli.wait_done(6)
    S.wait_trace(len(ps), 2)


def sc_syn_retry_refused(S):
    """The first RST to a SYN for a closed port is lost before the client:
    its SYN, retransmitted with the same ISN a second later, is refused again."""
    ps = S.ports(2, "syn_retransmission_refused")
    # the client drops every other RST it receives: each connection's first
    S.ipt("client", "-A", "INPUT", "-p", "tcp", "--tcp-flags", "RST", "RST", "-m", "statistic",
          "--mode", "nth", "--every", "2", "--packet", "0", "-j", "DROP")
    S.client([{"cport": p, "b": "refused", "port": 9} for p in ps]).wait_done(10)
    S.wait_trace(2 * len(ps), 2)


def sc_listener_close_queue(S):
    """A listener that never accepts closes while handshaken connections, each
    with a request in it, wait in its accept queue: all are reset at once
    (inet_csk_listen_stop -> tcp_disconnect: TCP_STATE)."""
    ps = S.ports(3, "listener_closed_with_queue")
    srv = S.server(listen=[{"port": SERVER_PORT, "backlog": 16, "accept": False}])
    cli = S.client([{"cport": p, "b": "send_wait"} for p in ps], parallel=True)
    time.sleep(0.5)
    srv.release()
    cli.wait_done(6)
    S.wait_trace(len(ps), 2)


def sc_bad_handshake(S):
    ps = S.ports(2, "reuse_tuple_vs_stale_established")
    srv = S.server({p: ["stale_wait", "echo_graceful"] for p in ps})
    cli = S.client([{"cport": p, "b": "bad_handshake"} for p in ps], parallel=True)
    for p in ps:
        cli.expect("STEP stale-%d" % p, 5)
    _kill_client_sockets_silently(S, ps)
    for p in ps:
        cli.go("stale-%d" % p)
        time.sleep(0.05)
    cli.wait_done(10)
    srv.wait_done(8)
    S.wait_trace(2, 1)


def sc_accept_overflow(S):
    S.sysctl("server", "net.ipv4.tcp_abort_on_overflow=1")
    backlog = 2
    pre1 = S.ports(backlog, "accept_queue_prefill")
    b1 = S.ports(backlog + 1, "accept_overflow_on_data")
    pre2 = S.ports(backlog, "accept_queue_prefill")
    b2 = S.ports(backlog + 1, "accept_overflow_on_ack")
    S.server(listen=[{"port": 8080, "backlog": backlog, "accept": False},
                     {"port": 8081, "backlog": backlog, "accept": False}], hard=20)
    cli = S.client([{"b": "burst", "cport": b1[0], "port": 8080, "prefill": pre1,
                     "cports": b1, "send": True},
                    {"b": "burst", "cport": b2[0], "port": 8081, "prefill": pre2,
                     "cports": b2, "send": False}], parallel=True, hard=20)
    for port in (8080, 8081):
        cli.expect("STEP burst-%d" % port, 5)

    def drop_bare_acks(port):
        return ["INPUT", "-p", "tcp", "-s", S.caddr, "--dport", str(port), *BARE_ACK,
                "-j", "DROP"]

    # from now on the server never sees the clients' bare handshake ACKs,
    # so the burst piles up as request socks while the accept queue has room
    for port in (8080, 8081):
        S.ipt("server", "-A", *drop_bare_acks(port))
    # 8080: the clients' data completes the handshakes -> overflow.
    # 8081: let the ACKs through again; the server's SYN-ACK retransmit
    # (~1 s) draws bare ACKs that complete the handshakes -> overflow.
    cli.go("burst-8080")
    cli.expect("STEP burst-done-8080", 5)
    cli.go("burst-8081")
    cli.expect("STEP burst-done-8081", 5)
    S.ipt("server", "-D", *drop_bare_acks(8081))
    S.wait_trace(2 * backlog, 4)
    time.sleep(0.3)


def sc_connect_abandoned(S):
    ps = S.ports(3, "connect_timeout_then_synack")
    rule = ["INPUT", "-p", "tcp", "-s", S.saddr, "--sport", str(SERVER_PORT),
            "--tcp-flags", "SYN,ACK", "SYN,ACK", "-j", "DROP"]
    S.ipt("client", "-A", *rule)
    S.server(listen=[{"port": SERVER_PORT, "backlog": 16, "accept": False}])
    cli = S.client([{"cport": p, "b": "abandon", "wait": 0.3} for p in ps], parallel=True,
                   stagger=0.1)  # > timer-wheel granularity: keeps the retransmits ordered
    cli.wait_done(5)
    S.ipt("client", "-D", *rule)
    S.wait_trace(3, 3)


def sc_fin_straggler(S):
    """Both sides FIN. The first closer's final ACK is duplicated (TEE); the
    first pair is dropped at the second closer, whose FIN is then
    retransmitted from its timer; the re-ACK pair arrives, the first copy
    closes LAST_ACK, the second finds no socket.  (A duplicate of the very
    first final ACK does not work: it arrives while close() still holds the
    socket lock, goes to the socket backlog and is discarded in TCP_CLOSE.)"""
    sf = S.ports(2, "late_dup_ack_after_last_ack")
    cf = S.ports(1, "late_dup_ack_after_last_ack")
    handlers = {p: ["respond_step_close"] for p in sf}
    handlers.update({p: ["respond_wait_eof"] for p in cf})
    # the listener stays up, as a service's does: a straggler reaching the
    # server's port is then answered by it (TCP_FLAGS)
    srv = S.server(handlers, hold=True)
    conns = [{"cport": p, "b": "req_read_all"} for p in sf]
    conns += [{"cport": p, "b": "straggler_client_first"} for p in cf]
    cli = S.client(conns)

    def sel(side, cport):
        other = "client" if side == "server" else "server"
        me, peer = S.addr[side], S.addr[other]
        if side == "server":
            return ["-s", me, "--sport", str(SERVER_PORT), "-d", peer, "--dport", str(cport)]
        return ["-s", me, "--sport", str(cport), "-d", peer, "--dport", str(SERVER_PORT)]

    def arm(first, cport):
        second = "client" if first == "server" else "server"
        S.ipt(first, "-t", "mangle", "-A", "POSTROUTING", "-p", "tcp", *sel(first, cport),
              "--tcp-flags", "ALL", "ACK", "-j", "TEE", "--gateway", S.addr[second])
        drop = ["INPUT", "-p", "tcp", *sel(first, cport), *BARE_ACK, "-j", "DROP"]
        S.ipt(second, "-A", *drop)
        return second, drop

    def disarm(second, drop, n_before):
        # wait until the first (duplicated) final ACK pair has been dropped,
        # then let the re-ACK of the retransmitted FIN through
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if S.ipt_packets(second, "INPUT") >= 2:
                break
            time.sleep(0.01)
        else:
            raise GenError("fin_straggler: final ACK never reached the drop rule")
        S.ipt(second, "-D", *drop)
        S.wait_trace(n_before + 1, 3)

    n = 0
    # the first closer waits at its preclose step until the filters are armed
    for first, peer, ports in (("server", srv, sf), ("client", cli, cf)):
        for p in ports:
            peer.expect("STEP preclose-%d" % p, 8)
            second, drop = arm(first, p)
            peer.go("preclose-%d" % p)
            disarm(second, drop, n)
            n += 1
    cli.wait_done(10)
    S.wait_trace(n, 1)


# ---- devices in the path (topology "routed" or "relay"). Their RSTs are
# not traced: no kernel's TCP sends them, which is what labels them.

REJECT = ["-j", "REJECT", "--reject-with", "tcp-reset"]


def paused_clients(S, ps, **client_opts):
    """Clients on ports ps that made one request each and now wait for GO."""
    cli = S.client([{"cport": p, "b": "req_read_pause_more"} for p in ps], parallel=True, **client_opts)
    for p in ps:
        cli.expect("STEP pause-%d" % p, 5)
    return cli


def resume_paused(cli, ps):
    """Let the paused clients speak again, one after the other."""
    for p in ps:
        cli.go("pause-%d" % p)
        time.sleep(0.05)
    cli.wait_done(8)


def sc_firewall_reject(S):
    """The router rejects SYNs to port 8080 and requests that contain
    BLOCKME to port 8082 (iptables REJECT --reject-with tcp-reset). An
    allowed connection to 8081 comes first, as a busy host's would: it shows
    the server's own TTL."""
    allowed = S.ports(1, "allowed_baseline")
    syns = S.ports(2, "firewall_rejects_syn", {"middlebox": "blocked"})
    requests = S.ports(2, "firewall_rejects_first_data", {"middlebox": "blocked"})
    S.ipt("router", "-A", "FORWARD", "-p", "tcp", "--dport", "8080", "--syn", *REJECT)
    S.ipt("router", "-A", "FORWARD", "-p", "tcp", "--dport", "8082", "-m", "string",
          "--string", "BLOCKME", "--algo", "bm", *REJECT)
    handlers = {p: ["respond_close"] for p in allowed}
    handlers.update({p: ["hold"] for p in requests})
    S.server(handlers, listen=[{"port": port, "backlog": 16} for port in (8080, 8081, 8082)])
    S.client([{"cport": p, "b": "req_read_all"} for p in allowed], port=8081).wait_done(10)
    S.client([{"cport": p, "b": "refused", "port": 8080} for p in syns]).wait_done(10)
    S.client([{"cport": p, "b": "send_blocked"} for p in requests], port=8082).wait_done(10)
    # the server closes the blocked connections after 3 s; the clients, reset, answer its FIN
    S.wait_trace(len(requests), 6)


def sc_firewall_midstream(S):
    """A REJECT rule for the client's traffic appears while its connections
    are open; its next request draws the router's RST."""
    ps = S.ports(2, "firewall_rule_added_midstream", {"middlebox": "injected"})
    S.server({p: ["respond_drain"] for p in ps}, hard=20)
    cli = paused_clients(S, ps)
    S.ipt("router", "-I", "FORWARD", "-p", "tcp", "-s", S.caddr, "--dport", str(SERVER_PORT), *REJECT)
    resume_paused(cli, ps)


def sc_firewall_idle(S):
    """The router's conntrack forgets established connections after 3 s
    (tests/captures/firewall_idle.prefs tells rstdiag about that timer) and
    rejects segments it does not know; the client speaks again after 5 s."""
    ps = S.ports(2, "conntrack_entry_expired", {"middlebox": "idle-timeout"})
    S.ipt("router", "-A", "FORWARD", "-p", "tcp", "-m", "conntrack", "--ctstate", "INVALID", *REJECT)
    S.sysctl("router", "net.netfilter.nf_conntrack_tcp_timeout_established=3")
    S.sysctl("router", "net.netfilter.nf_conntrack_tcp_loose=0")
    S.server({p: ["respond_drain"] for p in ps}, hard=20)
    cli = paused_clients(S, ps, hard=20)
    time.sleep(5)
    resume_paused(cli, ps)


def sc_injected(S):
    """An on-path injector (tests/gen/injector.py, in the router) forges RSTs
    in the server's name with TTL 41 while the server keeps sending: one
    exactly acceptable (the client's socket dies; it answers the server's
    next data with RSTs of its own), one inside the window but not exact (the
    client answers with a challenge ACK and carries on)."""
    ignored = S.ports(1, "injected_in_window", {"middlebox": "injected"})
    accepted = S.ports(1, "injected_exact", {"middlebox": "injected"})
    targets = {str(ignored[0]): {"after": 5, "offset": 3000},
               str(accepted[0]): {"after": 5, "offset": 0}}
    injector = Peer(S, "router", "inject", {"dev": "rstgen-ms", "server": S.saddr, "port": SERVER_PORT,
                                            "targets": targets, "ttl": 41, "hard": 12}, script=INJECTOR)
    S.peers.append(injector)
    injector.expect("READY", 5)
    S.server({p: ["trickle"] for p in ignored + accepted})
    cli = S.client([{"cport": p, "b": "req_read_all"} for p in ignored + accepted], parallel=True)
    injector.expect("DONE", 10)
    cli.wait_done(12)
    S.wait_trace(1, 3)


def sc_nat_expiry(S):
    """A NAT that forgets connections idle for 2 s and resets both ends
    (tests/gen/injector.py reap, in the router; the .prefs files name the
    timer): the client sees a RST in the server's name (nat_expiry, captured
    at the client), the server one in the client's (nat_expiry_server). The
    clients speak again after 3 s into dead sockets."""
    ps = S.ports(2, "nat_resets_expired_flow", {"middlebox": "idle-timeout"})
    reaper = Peer(S, "router", "reap", {"server": S.saddr, "port": SERVER_PORT, "idle": 2, "conns": len(ps),
                                        "ttl": 64, "hard": 12}, script=INJECTOR)
    S.peers.append(reaper)
    reaper.expect("READY", 5)
    S.server({p: ["respond_drain"] for p in ps}, hard=20)
    cli = paused_clients(S, ps, hard=20)
    reaper.expect("DONE", 8)
    time.sleep(1)
    resume_paused(cli, ps)


def sc_router_refusal(S):
    """The router refuses SYNs to port 8080 in the server's name (REJECT
    --reject-with tcp-reset) while the server, busy on port 8081, answers
    other connections and refuses port 8083 itself (nothing listens): the
    device's refusals and the host's side by side."""
    rounds = 2
    served, by_router, by_server = (S.ports(rounds, "allowed_baseline"),
                                    S.ports(rounds, "router_refuses_syn", {"middlebox": "blocked"}),
                                    S.ports(rounds, "server_refuses_syn", {"endpoint": "refused"}))
    S.ipt("router", "-A", "FORWARD", "-p", "tcp", "--dport", "8080", "--syn", *REJECT)
    S.server({p: ["respond_close"] for p in served}, listen=[{"port": 8081, "backlog": 16}])
    for i in range(rounds):
        S.client([{"cport": served[i], "b": "req_read_all"}], port=8081).wait_done(10)
        S.client([{"cport": by_router[i], "b": "refused", "port": 8080}]).wait_done(10)
        S.client([{"cport": by_server[i], "b": "refused", "port": 8083}]).wait_done(10)
    S.wait_trace(rounds, 2)


def sc_injector_copy(S):
    """An injector that copies the server: its burst of three RSTs leaves
    the router with the TTL the server's forwarded packets have and IP IDs
    that continue the server's counter; only the burst (and the server
    talking on) gives it away."""
    ps = S.ports(1, "injected_burst_copying_server", {"middlebox": "injected"})
    injector = Peer(S, "router", "inject", {"dev": "rstgen-ms", "server": S.saddr, "port": SERVER_PORT,
                                            "targets": {str(ps[0]): {"after": 5, "offset": 0}},
                                            "copy": True, "burst": 3, "ttl": 64, "hard": 12}, script=INJECTOR)
    S.peers.append(injector)
    injector.expect("READY", 5)
    S.server({p: ["trickle"] for p in ps})
    cli = S.client([{"cport": p, "b": "req_read_all"} for p in ps])
    injector.expect("DONE", 10)
    cli.wait_done(12)
    S.wait_trace(1, 3)


# (client behaviour, server behaviour or None, intent, the port the client connects to or None)
LOAD_MIX = [
    ("send_wait", "unread", "load_unread", None),                     # TCP_ABORT_ON_CLOSE
    ("req_read_all", "respond_linger", "load_linger0_server", None),  # TCP_STATE
    ("req_read_linger", "respond_hold", "load_linger0_client", None),  # TCP_STATE
    ("data_after_fin", "respond_close", "load_data_after_close", None),  # TCP_TIMEWAIT_SOCKET
    ("req_read_all", "respond_close", "load_clean", None),            # no RST
    ("refused", None, "load_refused", 9),                             # NO_SOCKET
]


def sc_load(S):
    """Many connections at once, the behaviours of LOAD_MIX side by side on one server
    port, every client port used again in a second round (the 4-tuple reused after the
    first connection's RST or close): rules meet each other's traffic. A connection that
    fails on its own under load is no failure of the run: the kernel labels every RST."""
    per_behaviour, rounds = 80, 2
    if SEED is not None:
        per_behaviour = random.Random("%s-%s-load" % (SEED, S.name)).choice((40, 80, 160))
    mix = [(cb, sb, S.ports(per_behaviour, intent), port) for cb, sb, intent, port in LOAD_MIX]
    handlers = {p: [sb] * rounds for cb, sb, ps, port in mix if sb for p in ps}
    srv = S.server(handlers, listen=[{"port": SERVER_PORT, "backlog": 4096}], hard=60)
    conns = [dict({"cport": p, "b": cb}, **({"port": port} if port else {}))
             for cb, sb, ps, port in mix for p in ps]
    random.Random("%s-%s-order" % (SEED, S.name)).shuffle(conns)
    for _ in range(rounds):
        cli = S.client(conns, parallel=True, stagger=0.002, hard=40)
        cli.wait_done(45, errors_ok=True)
    srv.wait_done(30, errors_ok=True)
    time.sleep(1)


def sc_relay(S):
    """A one-address proxy (peer.py relay) in front of the server: the
    server resets its leg (close with the request unread) and the proxy
    resets the client's leg at once. The capture is on the proxy."""
    ps = S.ports(2, "proxy_passes_upstream_reset", {"endpoint": "relayed"})
    S.server({p + 1000: ["unread"] for p in ps})
    relay = Peer(S, "relay", "relay", S._spec({"raddr": S.raddr, "conns": len(ps)}))
    S.peers.append(relay)
    relay.expect("READY", 5)
    S.client([{"cport": p, "b": "send_wait"} for p in ps], saddr=S.raddr).wait_done(10)
    S.wait_trace(2 * len(ps), 3)


SCENARIOS = [
    dict(name="refused", fn=sc_refused, expect={"NO_SOCKET"}),
    dict(name="refused_v6", fn=sc_refused, family=6, expect={"NO_SOCKET"}),
    dict(name="unread_server", fn=sc_unread_server, expect={"TCP_ABORT_ON_CLOSE"}),
    dict(name="unread_pipelined", fn=sc_unread_pipelined, expect={"TCP_ABORT_ON_CLOSE"}),
    dict(name="abort_midtransfer", fn=sc_abort_midtransfer,
         expect={"TCP_ABORT_ON_CLOSE", "NO_SOCKET"}),
    dict(name="linger_client", fn=sc_linger_client, expect={"TCP_STATE"}),
    dict(name="linger_server", fn=sc_linger_server, expect={"TCP_STATE"}),
    dict(name="handshake_abort", fn=sc_handshake_abort, expect={"TCP_STATE"}),
    dict(name="data_after_close", fn=sc_data_after_close,
         expect={"TCP_TIMEWAIT_SOCKET", "TCP_ABORT_ON_DATA"}),
    dict(name="response_timeout", fn=sc_response_timeout, expect={"TCP_STATE"}),
    dict(name="keepalive", fn=sc_keepalive, capture="server",
         expect={"TCP_KEEPALIVE_TIMEOUT"}),
    dict(name="stale_half_open", fn=sc_stale_half_open, expect={"NO_SOCKET"}),
    dict(name="bad_handshake", fn=sc_bad_handshake, expect={"TCP_INVALID_ACK_SEQUENCE"}),
    dict(name="accept_overflow", fn=sc_accept_overflow, expect={"INVALID_SYN"}),
    dict(name="connect_abandoned", fn=sc_connect_abandoned, expect={"NO_SOCKET"}),
    dict(name="fin_straggler", fn=sc_fin_straggler, expect={"NO_SOCKET", "TCP_FLAGS"}),
    dict(name="linger_server_v6", fn=sc_linger_server, family=6, expect={"TCP_STATE"}),
    dict(name="abort_after_fin", fn=sc_abort_after_fin, expect={"TCP_STATE"}),
    dict(name="firewall_reject", fn=sc_firewall_reject, topology="routed",
         expect={"NONE", "NO_SOCKET"}),
    dict(name="firewall_midstream", fn=sc_firewall_midstream, topology="routed", expect={"NONE"}),
    dict(name="firewall_idle", fn=sc_firewall_idle, topology="routed", expect={"NONE"}),
    dict(name="injected", fn=sc_injected, topology="routed", expect={"NONE", "NO_SOCKET"}),
    dict(name="relay", fn=sc_relay, topology="relay", capture="relay",
         expect={"TCP_ABORT_ON_CLOSE", "TCP_STATE", "TCP_ABORT_ON_LINGER"}),
    dict(name="nat_expiry", fn=sc_nat_expiry, topology="routed", expect={"NONE"}),
    dict(name="router_refusal", fn=sc_router_refusal, topology="routed", expect={"NONE", "NO_SOCKET"}),
    dict(name="injector_copy", fn=sc_injector_copy, topology="routed", expect={"NONE", "NO_SOCKET"}),
    dict(name="nat_expiry_server", fn=sc_nat_expiry, topology="routed", capture="server", expect={"NONE"}),
    dict(name="stale_server", fn=sc_stale_server, expect={"TCP_FLAGS"}),
    dict(name="syn_retry_refused", fn=sc_syn_retry_refused, expect={"NO_SOCKET"}),
    dict(name="listener_close_queue", fn=sc_listener_close_queue, expect={"TCP_STATE"}),
    dict(name="disconnect_with_data", fn=sc_disconnect_with_data, sweep_only=True,
         expect={"TCP_DISCONNECT_WITH_DATA"}),
    dict(name="abort_on_data_sending", fn=sc_abort_on_data_sending, sweep_only=True,
         expect={"TCP_ABORT_ON_DATA", "NO_SOCKET", "TCP_FLAGS"}),
    dict(name="probes", fn=sc_probes, sweep_only=True, expect={"NO_SOCKET"}),
    dict(name="hard_close_after_shutdown", fn=sc_hard_close_after_shutdown, sweep_only=True,
         expect={"TCP_STATE", "TCP_ABORT_ON_LINGER"}),
    dict(name="load", fn=sc_load, sweep_only=True,
         expect={"TCP_ABORT_ON_CLOSE", "TCP_STATE", "TCP_TIMEWAIT_SOCKET", "TCP_ABORT_ON_DATA", "NO_SOCKET",
                 "TCP_FLAGS"}),
    dict(name="reject_after_read", fn=sc_reject_after_read, expect={"TCP_STATE", "TCP_ABORT_ON_CLOSE"}),
]
for _i, _sd in enumerate(SCENARIOS, 1):
    _sd["idx"] = _i


# ------------------------------------------------------------------ labelling

TSHARK_FIELDS = ["frame.number", "tcp.stream", "ip.src", "ipv6.src", "tcp.srcport",
                 "ip.dst", "ipv6.dst", "tcp.dstport", "tcp.flags", "tcp.len", "frame.time_epoch"]

F_FIN, F_SYN, F_RST, F_ACK = 0x01, 0x02, 0x04, 0x10


def read_packets(pcap):
    cmd = ["tshark", "-n", "-r", pcap, "-Y", "tcp && !icmp && !icmpv6", "-T", "fields",
           "-E", "separator=/t", "-E", "occurrence=f"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    r = run(cmd, timeout=120)
    pkts = []
    for line in r.stdout.splitlines():
        c = line.split("\t")
        if len(c) < len(TSHARK_FIELDS):
            continue
        src = c[2] or c[3]
        dst = c[5] or c[6]
        pkts.append(dict(frame=int(c[0]), stream=int(c[1]), src=norm_ip(src),
                         sport=int(c[4]), dst=norm_ip(dst), dport=int(c[7]),
                         flags=int(c[8], 16), len=int(c[9] or 0), t=float(c[10])))
    return pkts


def client_endpoint(stream_pkts):
    """(ip, port) of the host that sent the pure SYN, or None."""
    for p in stream_pkts:
        if p["flags"] & F_SYN and not p["flags"] & F_ACK:
            return (p["src"], p["sport"])
    return None


def compute_phase(before, client_ep):
    """Phase of a RST from the packets of its stream that precede it.
    First match wins: syn (only SYNs and RSTs so far: a SYN sent again after a
    refusal), unknown (no handshake and no ACK: probes), closed, closing,
    data (payload, handshake or not), unknown, established, synack, syn. A
    SYN after a RST or both FINs starts a new connection attempt on the
    4-tuple: only what follows counts."""
    start, fins, ended = 0, set(), False
    for i, p in enumerate(before):
        if p["flags"] & F_SYN and not p["flags"] & F_ACK and ended:
            start, fins, ended = i, set(), False
        if p["flags"] & F_FIN:
            fins.add((p["src"], p["sport"]))
        ended = ended or bool(p["flags"] & F_RST) or len(fins) >= 2
    before = before[start:]
    if any(p["flags"] & F_SYN and not p["flags"] & F_ACK for p in before) \
            and all(p["flags"] & F_RST or (p["flags"] & F_SYN and not p["flags"] & F_ACK) for p in before):
        return "syn"
    if not any(p["flags"] & (F_SYN | F_ACK) for p in before):
        return "unknown"
    if any(p["flags"] & F_RST for p in before):
        return "closed"
    fin_senders = {(p["src"], p["sport"]) for p in before if p["flags"] & F_FIN}
    if len(fin_senders) >= 2:
        return "closed"
    if fin_senders:
        return "closing"
    client_syn = None
    if client_ep:
        for p in before:
            if (p["src"], p["sport"]) == client_ep and p["flags"] & F_SYN \
                    and not p["flags"] & F_ACK:
                client_syn = p
                break
    if any(p["len"] > 0 for p in before):
        return "data"
    if client_syn is None:
        return "unknown"
    synack_seen = False
    for p in before:
        if p["flags"] & F_SYN and p["flags"] & F_ACK and (p["src"], p["sport"]) != client_ep:
            synack_seen = True
        elif synack_seen and (p["src"], p["sport"]) == client_ep and p["flags"] & F_ACK \
                and not p["flags"] & F_SYN:
            return "established"
    return "synack" if synack_seen else "syn"


def is_wildcard(ip, port):
    return port == 0 and ipaddress.ip_address(ip).is_unspecified


# how much sooner than its trace event a RST may appear in the capture (clock reading jitter)
TRACE_CLOCK_SLACK = 0.005


def pair_events_by_time(S, rsts, events, untraced_ok):
    """frame number -> trace event, for events with time stamps: each captured RST, in
    capture order, takes the earliest unpaired event sent no later than it that is
    addressed to its 4-tuple, else the earliest such listener-addressed event from its
    source (see pair_events). Under load with reused 4-tuples, pairing by order alone
    mixes a tuple's two connections: the listener's events interleave with them.
    Bare RSTs go first and take only answering events (skbaddr set): an active reset
    (tcp_send_active_reset) always carries an ACK, and two CPUs may trace an active and
    a passive RST of one 4-tuple within a microsecond, in either order."""
    unused = sorted(events, key=lambda e: e["t"])
    match, problems = {}, []
    for p in sorted(rsts, key=lambda p: (bool(p["flags"] & F_ACK), p["frame"])):
        key = (p["src"], p["sport"], p["dst"], p["dport"])
        fits = [e for e in unused if e["t"] <= p["t"] + TRACE_CLOCK_SLACK and (e["src"], e["sport"]) == key[:2]
                and (p["flags"] & F_ACK or not e["active"])]
        exact = [e for e in fits if (e["dst"], e["dport"]) == key[2:]]
        wild = [e for e in fits if is_wildcard(e["dst"], e["dport"])]
        e = (exact or wild or [None])[0]
        if e is None:
            if not untraced_ok:
                problems.append("frame %d (%s:%d -> %s:%d): no traced RST before it" % ((p["frame"],) + key))
            continue
        unused.remove(e)
        match[p["frame"]] = e
    problems += ["traced but not captured: %s" % e["line"] for e in unused]
    if problems:
        raise GenError("%s: captured RSTs and traced RSTs do not pair up:\n  %s" % (S.name, "\n  ".join(problems)))
    return match


def pair_events(S, rsts, events, untraced_ok=False, by_time=False):
    """frame number -> trace event (by_time: pair_events_by_time, when every event and
    frame has a time stamp).

    Pairing is per directed 4-tuple, in order: the k-th traced RST src->dst is
    the k-th captured RST frame src->dst.  Exception: when the kernel emits a
    RST on behalf of a *listening* socket (e.g. INVALID_SYN on accept-queue
    overflow) the tracepoint takes the addresses from that socket, so it
    prints dest=0.0.0.0:0 / [::]:0.  Such events are paired, in order, with
    the captured RSTs from the same src ip:port that no exact event claimed.
    With untraced_ok (scenarios with a device in the path), captured RSTs that
    no event claims at all were not sent by any kernel's TCP: they stay
    unpaired, and are the device's.
    """
    if by_time and all(e.get("t") is not None for e in events) and all("t" in p for p in rsts):
        return pair_events_by_time(S, rsts, events, untraced_ok)
    cap_q = collections.defaultdict(list)
    for p in rsts:
        cap_q[(p["src"], p["sport"], p["dst"], p["dport"])].append(p)
    ev_q = collections.defaultdict(list)
    wild_q = collections.defaultdict(list)
    for e in events:
        if is_wildcard(e["dst"], e["dport"]):
            wild_q[(e["src"], e["sport"])].append(e)
        else:
            ev_q[(e["src"], e["sport"], e["dst"], e["dport"])].append(e)
    match = {}
    leftover = collections.defaultdict(list)
    problems = []
    for key in sorted(set(cap_q) | set(ev_q)):
        frames, evs = cap_q.get(key, []), ev_q.get(key, [])
        for p, e in zip(frames, evs):
            match[p["frame"]] = e
        if len(evs) > len(frames):
            problems.append("%s:%d -> %s:%d: %d RST frame(s) captured (%s) but %d traced" % (
                key[0], key[1], key[2], key[3], len(frames),
                ",".join(str(p["frame"]) for p in frames), len(evs)))
        leftover[key[:2]].extend(frames[len(evs):])
    for src in sorted(set(leftover) | set(wild_q)):
        frames = sorted(leftover.get(src, []), key=lambda p: p["frame"])
        evs = wild_q.get(src, [])
        if untraced_ok and not evs:
            continue
        if len(frames) != len(evs):
            problems.append("from %s:%d: %d captured RST frame(s) (%s) without a traced "
                            "RST for their 4-tuple, %d listener-addressed trace event(s)" % (
                                src[0], src[1], len(frames),
                                ",".join(str(p["frame"]) for p in frames), len(evs)))
            continue
        for p, e in zip(frames, evs):
            match[p["frame"]] = e
        if evs:
            S.notes.append("%d trace event(s) from %s:%d carry a wildcard dest "
                           "(listener-addressed: %s), paired by src in order" % (
                               len(evs), src[0], src[1],
                               ",".join(sorted({e["reason"] + "/" + e["state"] for e in evs}))))
    if problems:
        raise GenError("%s: captured RSTs and traced RSTs do not pair up:\n  %s\n"
                       "trace:\n  %s" % (S.name, "\n  ".join(problems),
                                         "\n  ".join(e["line"] for e in events) or "(none)"))
    return match


def label_capture(S, events):
    pkts = read_packets(S.pcap)
    by_stream = collections.defaultdict(list)
    for p in pkts:
        by_stream[p["stream"]].append(p)
    rsts = [p for p in pkts if p["flags"] & F_RST]

    match = pair_events(S, rsts, events, untraced_ok=S.topology != "pair", by_time=True)

    rows = []
    for p in rsts:
        e = match.get(p["frame"], dict(reason="NONE", state="-"))
        origin = "endpoint" if p["frame"] in match else "middlebox"
        spkts = by_stream[p["stream"]]
        cep = client_endpoint(spkts)
        if cep is None:
            # no SYN in the capture: fall back to the listening port
            cep = (p["dst"], p["dport"]) if p["sport"] in (SERVER_PORT, 8081) \
                else (p["src"], p["sport"])
            S.notes.append("stream %d has no SYN; sender guessed from port" % p["stream"])
        sender = "client" if (p["src"], p["sport"]) == cep else "server"
        before = [q for q in spkts if q["frame"] < p["frame"]]
        phase = compute_phase(before, client_endpoint(spkts))
        cport = cep[1]
        rows.append(dict(capture=os.path.basename(S.pcap), frame=p["frame"],
                         stream=p["stream"], src=p["src"], sport=p["sport"], dst=p["dst"],
                         dport=p["dport"], sender=sender, phase=phase,
                         kernel_reason=e["reason"], kernel_state=e["state"],
                         intent=S.intents.get(cport, S.name), origin=origin,
                         cause=S.expected_causes.get(cport, {}).get(origin, "")))
    return rows


# ------------------------------------------------------------------ driver

class Generator:
    def __init__(self, outdir):
        self.outdir = outdir
        self.tracer = None

    def run_one(self, sd):
        S = Ctx(self, sd)
        t0 = time.monotonic()
        try:
            S.setup()
            S.start_capture(sd.get("capture", "client"))
            S.clear_trace()
            sd["fn"](S)
            time.sleep(0.3)  # stragglers
            S.stop_capture()
            events = S.trace_events()
        finally:
            S.teardown()
        if SEED is not None:   # the sweep keeps the truth beside its capture
            with open(os.path.splitext(S.pcap)[0] + ".trace", "w") as f:
                f.writelines(e["line"] + "\n" for e in events)
        rows = label_capture(S, events)
        if not rows:
            raise GenError("%s: no RST captured or traced" % S.name)
        return S, rows, time.monotonic() - t0


def write_tsv(path, columns, rows):
    """rows (dicts) as a tab-separated file with a header line"""
    with open(path, "w") as f:
        f.write("\t".join(columns) + "\n")
        for r in rows:
            f.write("\t".join(str(r[k]) for k in columns) + "\n")


KERNEL_LABEL_COLUMNS = ["frame", "src", "sport", "dst", "dport", "sender", "kernel_reason"]


def write_kernel_labels(path, rsts, traced, listeners):
    """every traced RST with the reason its kernel gave (tests/gen/sweep.py scores
    them); its sender is the server when it came from one of the listeners"""
    write_tsv(path, KERNEL_LABEL_COLUMNS, [
        dict(frame=p["frame"], src=p["src"], sport=p["sport"], dst=p["dst"], dport=p["dport"],
             sender="server" if (p["src"], p["sport"]) in listeners else "client",
             kernel_reason=traced[p["frame"]]["reason"]) for p in rsts if p["frame"] in traced])


def pid_dead(pid):
    try:
        os.kill(pid, 0)
        return False
    except ProcessLookupError:
        return True
    except PermissionError:
        return False


def sweep_stale_netns(prefix):
    """Delete namespaces named <prefix>-<pid>-<suffix> whose pid is dead:
    left by an earlier, SIGKILLed run. Processes still inside such a
    namespace (started by that run) are killed first."""
    r = run(["ip", "netns", "list"], check=False)
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.match(r"%s-(\d+)-[0-9a-z]+$" % re.escape(prefix), name)
        if m and int(m.group(1)) != os.getpid() and pid_dead(int(m.group(1))):
            log("removing stale namespace %s" % name)
            pids = run(["ip", "netns", "pids", name], check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            run(["ip", "netns", "del", name], check=False)


def sweep_stale():
    """Remove namespaces / trace instances left by an earlier run of this
    script that was SIGKILLed (name rstgen-<pid>-..., pid no longer alive)."""
    sweep_stale_netns("rstgen")
    inst_dir = os.path.join(TRACEFS, "instances")
    if os.path.isdir(inst_dir):
        for name in os.listdir(inst_dir):
            m = re.match(r"rstgen-(\d+)$", name)
            if m and int(m.group(1)) != os.getpid() and pid_dead(int(m.group(1))):
                log("removing stale trace instance %s" % name)
                try:
                    with open(os.path.join(inst_dir, name,
                                           "events/tcp/tcp_send_reset/enable"), "w") as f:
                        f.write("0")
                    os.rmdir(os.path.join(inst_dir, name))
                except OSError:
                    pass


def guard_run(script, sweep):
    """One run of `script` at a time (flock on the script itself: its
    subnets and names are fixed), then sweep() what an earlier, SIGKILLed run
    left, and clean up on every exit path from here on. Keep the returned
    file open for the whole run."""
    lockf = open(script)
    try:
        fcntl.flock(lockf, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise GenError("another %s run is in progress" % os.path.basename(script))
    sweep()
    atexit.register(REG.cleanup)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    return lockf


def run_main(main, name):
    """sys.exit(main()); a GenError cleans up and exits 1 with its message"""
    try:
        sys.exit(main())
    except GenError as e:
        REG.cleanup()
        sys.stderr.write("%s: ERROR: %s\n" % (name, e))
        sys.exit(1)


def check_env():
    if os.geteuid() != 0:
        raise GenError("must run as root")
    for tool in ("ip", "tcpdump", "tshark", "iptables", "ip6tables", "ss", "sysctl", "timeout"):
        if not shutil.which(tool):
            raise GenError("missing tool: %s" % tool)


def main():
    global VERBOSE, SEED
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="comma-separated scenario names (labels.tsv is then "
                    "not rewritten; rows are printed)")
    ap.add_argument("--outdir", default=os.path.join(REPO, "tests", "captures"))
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--list", action="store_true", help="list scenarios and exit")
    ap.add_argument("--seed", type=int, help="vary each scenario's parameters from this seed "
                    "(tests/gen/sweep.py); a scenario that fails is then skipped, not fatal")
    args = ap.parse_args()
    VERBOSE = args.verbose
    SEED = args.seed
    if args.list:
        for sd in SCENARIOS:
            print(sd["name"])
        return 0

    check_env()
    lockf = guard_run(os.path.abspath(__file__), sweep_stale)  # noqa: F841 (held)

    # the sweep's scenarios (too large for the committed captures) run only when named
    todo = [sd for sd in SCENARIOS if not sd.get("sweep_only")]
    if args.only:
        names = args.only.split(",")
        unknown = set(names) - {sd["name"] for sd in SCENARIOS}
        if unknown:
            raise GenError("unknown scenario(s): %s" % ", ".join(sorted(unknown)))
        todo = [sd for sd in SCENARIOS if sd["name"] in names]

    os.makedirs(args.outdir, exist_ok=True)
    gen = Generator(args.outdir)
    t_start = time.monotonic()
    all_rows = []
    summary = []
    try:
        REG.tracer = gen.tracer = Tracer()
        for sd in todo:
            try:
                S, rows, dt = gen.run_one(sd)
            except GenError as e:
                if SEED is None:
                    raise
                log("%-20s skipped with seed %d: %s" % (sd["name"], SEED, e))
                continue
            all_rows.extend(rows)
            reasons = collections.Counter(r["kernel_reason"] for r in rows)
            unexpected = set(reasons) - sd["expect"]
            summary.append((S, rows, dt, reasons, unexpected))
            log("%-20s %2d RST  %5.2fs  %s%s" % (
                S.name, len(rows), dt,
                " ".join("%s x%d" % kv for kv in sorted(reasons.items())),
                "   [NOTE: unexpected %s]" % ",".join(sorted(unexpected)) if unexpected else ""))
            for n in S.notes:
                log("%-20s   note: %s" % ("", n))
    finally:
        REG.cleanup()

    text = "\t".join(LABEL_COLUMNS) + "\n" + "".join(
        "\t".join(str(r[c]) for c in LABEL_COLUMNS) + "\n" for r in all_rows)
    if args.only:
        sys.stdout.write(text)
    else:
        with open(os.path.join(args.outdir, "labels.tsv"), "w") as f:
            f.write(text)
    total = sum(os.path.getsize(os.path.join(args.outdir, sd["name"] + ".pcap"))
                for sd in todo)
    log("%d scenarios, %d labelled RSTs, %.1f KB of pcap, %.1fs" % (
        len(todo), len(all_rows), total / 1024.0, time.monotonic() - t_start))
    return 0


if __name__ == "__main__":
    run_main(main, "generate_captures")
