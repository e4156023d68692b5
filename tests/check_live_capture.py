#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""check_live_capture.py BUILD_DIR: a live capture with the log followed as it
is written.

Two network namespaces joined by a veth (198.18.201.0/30 only, nothing routed
out): a client and a real nginx serving a large file, its error log at info
level. tshark captures on nginx's side of the veth (`tshark -i`, with
`-o rstdiag.log_file:` naming the error log, which does not exist yet when
tshark starts: nginx starts after it). Each client connection asks for the
file, reads nothing and resets the connection; nginx writes "client prematurely
closed connection (104: Connection reset by peer)" *after* the RST has come.
After the first connection the log is rotated as logrotate does it (renamed,
then nginx told to reopen it: SIGUSR1), so the later lines are in a new file.
The test asserts that every client RST is tied to the line nginx wrote for its
own request -- in tshark's output, or in the end report on stderr that lists the
lines tied after a frame was shown -- and to no other line.

tshark runs as the unprivileged user "nobody" (tools/tshark-with-plugin: tshark
as root ignores the plugin folder), given CAP_NET_RAW and CAP_NET_ADMIN as
ambient capabilities so that the dumpcap it starts may capture
(RSTDIAG_TSHARK_CAPTURE=1). Needs root (namespaces) and nginx; skipped (77)
without them. Every step has a timeout; the namespaces, nginx and tshark are
removed on exit, also after a failure."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "gen"))
import generate_captures as gc  # noqa: E402  (namespaces, registered for cleanup)
from generate_nginx_captures import nginx_conf  # noqa: E402

WRAPPER = os.path.join(HERE, "..", "tools", "tshark-with-plugin")
PREFIX = "rdlive%d" % os.getpid()       # unique to this run; swept on exit
NS_CLIENT, NS_SERVER = PREFIX + "c", PREFIX + "s"
CLIENT, SERVER = "198.18.201.1", "198.18.201.2"
CONNECTIONS = 3
CAPTURE_S = 10                          # tshark stops by itself after this

# the rest of the http block of tests/gen's nginx.conf: the large file, no access log
NGINX_HTTP = """\
    access_log off;
    types {{ application/octet-stream bin; }}
    server {{
        listen {server}:80;
        location / {{ root {d}/html; }}
    }}
}}
"""


# One client connection: asks for the file (a request naming the connection),
# reads nothing, then closes with SO_LINGER 0: a RST while nginx is still sending.
CLIENT_CODE = r"""
import socket, struct, sys, time
s = socket.create_connection((sys.argv[1], 80), timeout=3)
s.sendall(b"GET /big.bin?conn=%s HTTP/1.1\r\nHost: live.test\r\n\r\n" % sys.argv[2].encode())
time.sleep(0.5)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
print(s.getsockname()[1], flush=True)
s.close()
"""


def run(cmd, timeout=20, **kw):
    return subprocess.run(cmd, check=True, timeout=timeout, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, **kw)


def in_ns(ns, *cmd):
    return ["ip", "netns", "exec", ns] + list(cmd)


def setup_network():
    for ns in (NS_CLIENT, NS_SERVER):
        gc.add_netns(ns)
    gc.add_veth(NS_CLIENT, "vc", NS_SERVER, "vs")
    gc.addr_up(NS_CLIENT, "vc", CLIENT, 30)
    gc.addr_up(NS_SERVER, "vs", SERVER, 30)


def cleanup(procs, work):
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
    gc.REG.cleanup()   # the namespaces
    shutil.rmtree(work, ignore_errors=True)


def wait_for(predicate, what, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise SystemExit("FAIL: timed out waiting for %s" % what)


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: check_live_capture.py BUILD_DIR")
    if os.geteuid() != 0 or not shutil.which("nginx"):
        print("SKIP: needs root (network namespaces) and nginx")
        return 77
    build = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix=PREFIX + "-")
    procs = []
    try:
        os.chmod(work, 0o755)   # nginx's worker and tshark run as nobody
        for sub in ("html", "tmp"):
            os.makedirs(os.path.join(work, sub))
            os.chmod(os.path.join(work, sub), 0o755)
        with open(os.path.join(work, "html", "big.bin"), "wb") as f:
            f.write(b"\0" * (16 << 20))   # far more than the socket buffers hold
        os.chmod(os.path.join(work, "html", "big.bin"), 0o644)
        errlog = os.path.join(work, "error.log")   # nginx creates it, mode 644
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_conf("tests/check_live_capture.py", work, 64, NGINX_HTTP.format(d=work, server=SERVER)))
        setup_network()

        tshark_err = open(os.path.join(work, "tshark.err"), "w+")
        env = dict(os.environ, RSTDIAG_TSHARK_CAPTURE="1")
        tshark = subprocess.Popen(
            in_ns(NS_SERVER, "timeout", "-s", "KILL", str(CAPTURE_S + 30), WRAPPER, build, "-i", "vs",
                  "-f", "tcp port 80", "-a", "duration:%d" % CAPTURE_S, "-l", "-n",
                  "-o", "rstdiag.log_file:" + errlog, "-Y", "rstdiag",
                  "-T", "fields", "-E", "separator=|", "-e", "frame.number", "-e", "tcp.stream",
                  "-e", "ip.src", "-e", "tcp.srcport", "-e", "rstdiag.log.lineno", "-e", "rstdiag.log.line"),
            stdout=subprocess.PIPE, stderr=tshark_err, text=True, env=env)
        procs.append(tshark)

        def capturing():
            tshark_err.seek(0)
            return "Capturing on" in tshark_err.read() or tshark.poll() is not None
        wait_for(capturing, "tshark to start capturing", 30)
        if tshark.poll() is not None:
            tshark_err.seek(0)
            raise SystemExit("FAIL: tshark stopped: %s" % tshark_err.read())

        nginx = subprocess.Popen(in_ns(NS_SERVER, "nginx", "-c", conf, "-p", work), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
        procs.append(nginx)
        wait_for(lambda: os.path.exists(os.path.join(work, "nginx.pid")) or nginx.poll() is not None,
                 "nginx", 10)
        if nginx.poll() is not None:
            raise SystemExit("FAIL: nginx did not start: %s" % nginx.stderr.read())

        ports = {}   # client port -> connection number
        for conn in range(CONNECTIONS):
            client = run(in_ns(NS_CLIENT, "timeout", "10", sys.executable, "-c", CLIENT_CODE, SERVER, str(conn)),
                         timeout=20)
            ports[int(client.stdout.strip())] = conn
            time.sleep(1.0)
            if conn == 0:   # logrotate: rename, then nginx reopens its log under the old name
                os.rename(errlog, errlog + ".1")
                with open(os.path.join(work, "nginx.pid")) as f:
                    os.kill(int(f.read().strip()), signal.SIGUSR1)
                wait_for(lambda: os.path.exists(errlog), "nginx to reopen its log", 10)
        out, _ = tshark.communicate(timeout=CAPTURE_S + 40)
        tshark_err.seek(0)
        err = tshark_err.read()
        print(out, end="")
        print(err, end="")

        # nginx's line for each connection, as (line number in its file, text)
        line_of_conn = {}
        for path in (errlog + ".1", errlog):
            with open(path) as f:
                for number, text in enumerate(f.read().split("\n"), 1):
                    m = re.search(r"\(104: Connection reset by peer\).*GET /big\.bin\?conn=(\d+) ", text)
                    if m:
                        line_of_conn.setdefault(int(m.group(1)), (number, text))
        if len(line_of_conn) != CONNECTIONS:
            raise SystemExit("FAIL: nginx logged a reset for %d of %d connections" % (len(line_of_conn), CONNECTIONS))

        late = {}   # frame -> (line number, text), from the end report
        for m in re.finditer(r"^  frame (\d+) \(stream \d+\): line (\d+)(?: \(line \d+ was shown\))?: (.*)$",
                             err, re.M):
            late[int(m.group(1))] = (int(m.group(2)), m.group(3))
        tied = {}   # client port -> the lines its RSTs were tied to
        for row in out.split("\n"):
            if not row:
                continue
            frame, _stream, src, sport, lineno, text = row.split("|", 5)
            if src != CLIENT or int(sport) not in ports:
                continue
            line = late.get(int(frame)) or ((int(lineno), text) if lineno else None)
            tied.setdefault(int(sport), set()).add(line)
        failures = []
        for port, conn in sorted(ports.items()):
            want = line_of_conn[conn]
            got = tied.get(port)
            if not got:
                failures.append("connection %d (port %d): no RST from the client captured" % (conn, port))
            elif got != {want}:
                failures.append("connection %d (port %d): RST tied to %s; nginx wrote line %d: %s"
                                % (conn, port, sorted(got, key=str), want[0], want[1]))
        if failures:
            raise SystemExit("FAIL:\n  " + "\n  ".join(failures))
        print("PASS: %d client RSTs captured live, each tied to the line nginx wrote after it (%d of them "
              "reported at the end)" % (len(ports), sum(1 for f in late)))
        return 0
    finally:
        cleanup(procs, work)


if __name__ == "__main__":
    sys.exit(main())
