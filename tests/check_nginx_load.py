#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Log correlation under load: nginx with thousands of RSTs and reset lines
and ports reused (tests/captures/nginx-load*/, made once by
tests/gen/generate_nginx_load.py), without and with upstream keep-alive.

expected.tsv says which RST frames of which stream caused each reset line,
from nginx's own data (its `*N`, access log, the request it sent on each
upstream attempt, the upstream's record of nginx's port, the kernel's
tcp:tcp_send_reset), never from times. With default preferences, in two
passes and in one, with the log host's clock equal to the capture's and
with the log written 5 h 3 s ahead: every line must be on one of its RST
frames (in one pass, in the output or in the end report of lines tied after
their frame was shown) and no frame on a line that is not its stream's.

Usage: check_nginx_load.py BUILD_DIR [unittest args]
"""
import datetime
import gzip
import os
import re
import sys
import tempfile
import unittest

import tshark_run

HERE = os.path.dirname(os.path.abspath(__file__))
SETUPS = ("nginx-load", "nginx-load-keepalive")
SHIFTS = {"same clock": datetime.timedelta(0), "5 h 3 s ahead": datetime.timedelta(hours=5, seconds=3)}
PASSES = {"two passes": ("-2",), "one pass": ()}
STAMP = re.compile(r"^(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) ")
BUILD = None


def load_expected(setup):
    with open(os.path.join(HERE, "captures", setup, "expected.tsv")) as f:
        header, *rows = (line.rstrip("\n").split("\t") for line in f)
    return [dict(zip(header, row)) for row in rows]


def shifted_log(setup, directory, shift):
    """the setup's error.log, every time moved by shift, readable by tshark's user"""
    def move(match):
        t = datetime.datetime.strptime(match.group(1), "%Y/%m/%d %H:%M:%S") + shift
        return t.strftime("%Y/%m/%d %H:%M:%S ")
    path = os.path.join(directory, f"{setup}.log")
    with gzip.open(os.path.join(HERE, "captures", setup, "error.log.gz"), "rt") as src, open(path, "w") as dst:
        for line in src:
            dst.write(STAMP.sub(move, line))
    os.chmod(path, 0o644)
    return path


def tally(expected, found):
    """(right, wrong frames, untied lines): lines on one of their RST frames, frames on a
    line that is not their stream's, lines a captured RST caused that no frame carries"""
    line_of = {int(r["lineno"]): r for r in expected}
    on = {}
    wrong = 0
    for frame, (stream, lineno) in found.items():
        if lineno is None:
            continue
        on.setdefault(lineno, set()).add(frame)
        row = line_of.get(lineno)
        wrong += row is None or row["stream"] == "-" or int(row["stream"]) != stream
    caused = [r for r in expected if r["stream"] != "-"]
    right = sum(1 for r in caused if on.get(int(r["lineno"]), set()) & {int(f) for f in r["rst_frames"].split(",")})
    return right, wrong, len(caused) - right


class NginxUnderLoad(unittest.TestCase):
    def check(self, setup):
        expected = load_expected(setup)
        self.assertGreater(sum(1 for r in expected if r["stream"] != "-"), 1000)
        pcap = os.path.join(HERE, "captures", setup, "proxy.pcap.gz")
        tmp = tempfile.TemporaryDirectory(prefix="rstdiag-nginx-load-")
        self.addCleanup(tmp.cleanup)
        os.chmod(tmp.name, 0o755)   # tshark may run as nobody (tools/tshark-with-plugin)
        for clock, shift in SHIFTS.items():
            log = shifted_log(setup, tmp.name, shift)
            for passes, args in PASSES.items():
                with self.subTest(clock=clock, passes=passes):
                    found, _, _ = tshark_run.log_matches(BUILD, pcap, log, *args)
                    right, wrong, untied = tally(expected, found)
                    print(f"{setup}, {clock}, {passes}: lines tied right {right}, untied {untied}; "
                          f"frames on a wrong line {wrong}", flush=True)
                    # one pass: lines tied after their frame was shown are in tshark's end report
                    problems = tshark_run.misplaced_lines(expected, found)
                    self.assertEqual(problems[:20], [], f"{len(problems)} problems")

    def test_nginx(self):
        self.check("nginx-load")

    def test_nginx_upstream_keepalive(self):
        self.check("nginx-load-keepalive")


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv[1])
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
