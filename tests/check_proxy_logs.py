#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Log correlation on real HAProxy and Apache logs (tests/captures/haproxy,
haproxy-tcp, apache; made by tests/gen/generate_proxy_captures.py).

Each directory holds the proxy's capture, its own log and expected.tsv: the
stream and RST frames that caused each reset line, from the program's own
words (client ports, request paths), never from times. With default
preferences (only rstdiag.log_file), every reset line must land on its
stream's RST and no RST frame on a wrong line -- with the log host's clock
equal to the capture's, and with the log written 5 h 3 s ahead (final
answers: two passes).

Usage: check_proxy_logs.py BUILD_DIR [unittest args]
"""
import csv
import datetime
import os
import re
import shutil
import sys
import tempfile
import unittest

import tshark_run

HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURES = os.path.join(HERE, "captures")
PROGRAMS = ("haproxy", "haproxy-tcp", "apache")
BUILD = None
FIVE_HOURS_THREE_SECONDS = datetime.timedelta(hours=5, seconds=3)

HAPROXY_TIME = re.compile(r"\[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d)(\.\d+)?\]")
APACHE_TIME = re.compile(r"\[([A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d)(\.\d+)? (\d{4})\]")
SYSLOG_TIME = re.compile(r"^(<\d+>)?([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d)")


def haproxy_shifted(m, shift):
    t = datetime.datetime.strptime(m.group(1), "%d/%b/%Y:%H:%M:%S") + shift
    return "[%s%s]" % (t.strftime("%d/%b/%Y:%H:%M:%S"), m.group(2) or "")


def apache_shifted(m, shift):
    t = datetime.datetime.strptime(m.group(1) + " " + m.group(3), "%a %b %d %H:%M:%S %Y") + shift
    return "[%s%s %s]" % (t.strftime("%a %b %d %H:%M:%S"), m.group(2) or "", t.strftime("%Y"))


def syslog_shifted(m, shift):
    t = datetime.datetime.strptime("2000 " + m.group(2).replace("  ", " 0"), "%Y %b %d %H:%M:%S") + shift
    return (m.group(1) or "") + t.strftime("%b ") + ("%2d" % t.day) + t.strftime(" %H:%M:%S")


def shift_line(line, shift):
    """line with every time it carries moved by shift, as if written on a clock that far ahead"""
    line = HAPROXY_TIME.sub(lambda m: haproxy_shifted(m, shift), line)
    line = APACHE_TIME.sub(lambda m: apache_shifted(m, shift), line)
    return SYSLOG_TIME.sub(lambda m: syslog_shifted(m, shift), line)


def load_expected(program):
    with open(os.path.join(CAPTURES, program, "expected.tsv"), newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def matches(program, log_path, *extra):
    """{frame: (stream, lineno or None)} for every RST frame, and tshark's stderr."""
    found, _, err = tshark_run.log_matches(BUILD, os.path.join(CAPTURES, program, "proxy.pcap"), log_path, *extra)
    return found, err


class ProxyLogs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rstdiag-proxy-")
        os.chmod(cls.tmp, 0o755)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def log_copy(self, program, shift):
        path = os.path.join(self.tmp, f"{program}-{int(shift.total_seconds())}.log")
        with open(os.path.join(CAPTURES, program, "proxy.log")) as src, open(path, "w") as dst:
            for line in src:
                dst.write(shift_line(line, shift))
        os.chmod(path, 0o644)
        return path

    def assert_every_line_on_its_rst(self, program, found):
        self.assertEqual(tshark_run.misplaced_lines(load_expected(program), found), [], program)

    def test_same_clock(self):
        for program in PROGRAMS:
            with self.subTest(program=program):
                found, _ = matches(program, self.log_copy(program, datetime.timedelta(0)), "-2")
                self.assert_every_line_on_its_rst(program, found)

    def test_log_written_five_hours_three_seconds_ahead(self):
        for program in PROGRAMS:
            with self.subTest(program=program):
                found, err = matches(program, self.log_copy(program, FIVE_HOURS_THREE_SECONDS), "-2")
                self.assert_every_line_on_its_rst(program, found)
                self.assertRegex(tshark_run.log_clocks(err).popitem()[1], r"^clock offset \+05:00 \+[23]\.\d{3} s ")

    def test_one_pass_ties_no_frame_to_a_wrong_line(self):
        """In tshark's single pass a RST is answered before the later RSTs are
        known (the clock is not settled yet): some lines may stay unmatched
        there, but no frame may be tied to another connection's line."""
        for program in PROGRAMS:
            for shift in (datetime.timedelta(0), FIVE_HOURS_THREE_SECONDS):
                with self.subTest(program=program, shift=str(shift)):
                    found, _ = matches(program, self.log_copy(program, shift))
                    stream_of_line = {int(row["lineno"]): row["stream"] for row in load_expected(program)}
                    for frame, (stream, lineno) in found.items():
                        if lineno:
                            self.assertEqual(stream_of_line.get(lineno), str(stream), f"frame {frame}")


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv[1])
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
