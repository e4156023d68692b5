#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Log correlation on a real nginx reverse proxy (tests/captures/nginx/).

nginx wrote error.log in Asia/Shanghai time while the capture is in UTC;
expected.tsv says which RST frames of which stream caused each reset line
(from nginx's own connection numbers and request paths, never from times).
With log_timezone left at auto, every line must land on its stream's RST,
lines about connections outside the capture or FIN closes must stay
unmatched, and no other line may be matched. The same must hold when the
log's clock is moved by a whole zone plus a few seconds of skew.

Usage: check_nginx.py BUILD_DIR [unittest args]
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
ROOT = os.path.dirname(HERE)
NGINX = os.path.join(HERE, "captures", "nginx")
BUILD = None
STAMP = re.compile(r"^(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) ")


def load_expected():
    with open(os.path.join(NGINX, "expected.tsv"), newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def shifted_log(directory, shift):
    """error.log with every time moved by `shift` (a datetime.timedelta)."""
    def move(match):
        t = datetime.datetime.strptime(match.group(1), "%Y/%m/%d %H:%M:%S") + shift
        return t.strftime("%Y/%m/%d %H:%M:%S ")
    path = os.path.join(directory, "error.log")
    with open(os.path.join(NGINX, "error.log")) as src, open(path, "w") as dst:
        for line in src:
            dst.write(STAMP.sub(move, line))
    os.chmod(path, 0o644)
    return path


def clocks_told(err):
    """{log path: its clock sentence} from tshark's stderr; anything else there fails."""
    if tshark_run.without_log_clocks(err).strip():
        raise AssertionError(f"tshark complained:\n{err}")
    return tshark_run.log_clocks(err)


def matches(log_path, *extra):
    """{frame: (stream, lineno or None)} for every RST frame, and the raw output."""
    found, out, _ = tshark_run.log_matches(BUILD, os.path.join(NGINX, "proxy.pcap"), log_path, *extra)
    return found, out


class NginxLog(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.expected = load_expected()
        cls.tmp = tempfile.mkdtemp(prefix="rstdiag-nginx-")
        os.chmod(cls.tmp, 0o755)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def assert_matched_as_expected(self, found):
        self.assertEqual(tshark_run.misplaced_lines(self.expected, found), [])

    def test_auto_clock_matches_every_line(self):
        found, _ = matches(shifted_log(self.tmp, datetime.timedelta(0)))
        self.assert_matched_as_expected(found)

    def test_clock_told_once_with_its_support(self):
        """12 reset lines have their RST in the capture (every row but 3)."""
        log = shifted_log(self.tmp, datetime.timedelta(0))
        for passes in ((), ("-2",)):
            _, err = tshark_run.tshark(BUILD, "-r", os.path.join(NGINX, "proxy.pcap"), "-o",
                                       f"rstdiag.log_file:{log}", *passes, "-q", "-Y", "rstdiag")
            self.assertEqual(clocks_told(err), {log: "clock offset +08:00 +0.000 s from 12 pairs"})

    def test_another_zone_and_skew(self):
        """The clock is found from all RSTs: final in two passes. (In one pass
        the first RSTs are matched before the later ones are known.)"""
        for shift in (datetime.timedelta(hours=-13, seconds=3.0),     # Shanghai -> UTC-5, clock 3 s fast
                      datetime.timedelta(hours=-3, seconds=3),   # written 5 h 3 s ahead of UTC
                      datetime.timedelta(hours=1, minutes=45, seconds=-2)):   # +09:45, 2 s slow
            with self.subTest(shift=str(shift)):
                found, _ = matches(shifted_log(self.tmp, shift), "-2")
                self.assert_matched_as_expected(found)

    def test_explicit_zone(self):
        found, _ = matches(shifted_log(self.tmp, datetime.timedelta(0)), "-o", "rstdiag.log_timezone:+08:00")
        self.assert_matched_as_expected(found)

    def test_wrong_explicit_zone_matches_nothing(self):
        found, _ = matches(shifted_log(self.tmp, datetime.timedelta(0)), "-o", "rstdiag.log_timezone:UTC")
        self.assertEqual({n for _, n in found.values() if n}, set())

    def test_two_log_sources(self):
        """nginx logs upstream-side resets at [error] and client-side ones at
        [info]: the [info] lines through log_file, the [error] lines in a
        second file an hour ahead, named in the log sources table (UAT) with
        its zone. Blank lines keep every line at its original number."""
        full = shifted_log(self.tmp, datetime.timedelta(0))
        info_log, error_log = (os.path.join(self.tmp, n) for n in ("info.log", "error-level.log"))
        hour_ahead = lambda m: (datetime.datetime.strptime(m.group(1), "%Y/%m/%d %H:%M:%S")
                                + datetime.timedelta(hours=1)).strftime("%Y/%m/%d %H:%M:%S ")
        with open(full) as src, open(info_log, "w") as info, open(error_log, "w") as error:
            for line in src:
                upstream_side = " [error] " in line
                error.write(STAMP.sub(hour_ahead, line) if upstream_side else "\n")
                info.write("\n" if upstream_side else line)
        for path in (info_log, error_log):
            os.chmod(path, 0o644)
        found, _ = matches(info_log, "-o", f'uat:rstdiag_log_sources:"{error_log}","nginx","+09:00",""')
        self.assert_matched_as_expected(found)

    def test_one_pass_equals_two_pass(self):
        log = shifted_log(self.tmp, datetime.timedelta(0))
        _, one = matches(log)
        _, two = matches(log, "-2")
        self.assertEqual(one, two)


class NginxTree(unittest.TestCase):
    """How the matched line reads in the packet tree (tshark -V shows the
    GUI's tree labels): the message without nginx's prefix, request, peer
    and upstream apart, the whole line in pieces that are never
    "[truncated]" (lines up to the 1 KB kept), the offset as a zone."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rstdiag-nginx-tree-")
        os.chmod(cls.tmp, 0o755)
        cls.log = os.path.join(cls.tmp, "error.log")
        # every reset line made about 1000 bytes long, as nginx writes long hosts and URLs
        with open(os.path.join(NGINX, "error.log")) as src, open(cls.log, "w") as dst:
            for line in src:
                line = line.rstrip("\n")
                if "Connection reset by peer" in line and line.endswith('"'):   # ..., host: "name"
                    line = line[:-1] + "." + "x" * (999 - len(line)) + '"'
                dst.write(line + "\n")
        os.chmod(cls.log, 0o644)
        with open(cls.log) as f:
            cls.lines = f.read().split("\n")
        cls.tree, _ = tshark_run.tshark(BUILD, "-r", os.path.join(NGINX, "proxy.pcap"), "-o",
                                        f"rstdiag.log_file:{cls.log}", "-Y", "rstdiag.log", "-O", "rstdiag", "-V")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def log_items(self):
        """[{label: text}] per "Application log" subtree, continuation pieces joined to their line."""
        items, current, last = [], None, None
        for raw in self.tree.splitlines():
            text = raw.strip()
            if not text.startswith("[") or not text.endswith("]"):
                current = None
                continue
            text = text[1:-1]
            if text.startswith("Application log: "):
                current = {"Application log": text[len("Application log: "):]}
                items.append(current)
            elif current is not None and text.startswith("\u2026"):
                current[last] = current[last].rstrip("\u2026") + text[1:]
            elif current is not None and ": " in text:
                last, value = text.split(": ", 1)
                current[last] = value
        return items

    def test_no_label_is_truncated(self):
        self.assertNotIn("[truncated]", self.tree)
        self.assertNotIn("truncated", self.tree)

    def test_the_whole_line_is_in_the_tree(self):
        items = self.log_items()
        self.assertGreaterEqual(len(items), 5)
        for item in items:
            lineno = int(item["Log line number"])
            self.assertEqual(item["Log line"], self.lines[lineno - 1])
        self.assertGreaterEqual(sum(len(item["Log line"]) == 1000 for item in items), 5)

    def test_message_and_fields_apart(self):
        for item in self.log_items():
            line = item["Log line"]
            summary = item["Application log"].rsplit(" (line ", 1)[0]
            self.assertTrue(item["Log message"].startswith(summary.rstrip("\u2026")), item)
            self.assertNotRegex(item["Log message"], r"^\d{4}/|#\d+:|^\*\d|, client: ")
            self.assertRegex(item["Log message"], r"\(1\d\d: Connection [a-z ]+\)")
            for field, form in (("Log request", 'request: "{}"'), ("Log upstream", 'upstream: "{}"')):
                if form.split(" ")[0] in line:
                    self.assertIn(form.format(item[field]), line)
                else:
                    self.assertNotIn(field, item)
            # the client, or the upstream when the upstream's connection was reset
            self.assertIn(item["Log peer"], line)

    def test_offset_is_a_zone_and_times_are_in_ms(self):
        for item in self.log_items():
            self.assertRegex(item["Log clock offset"], r"^\+08:00 zone, skew [+-]\d+\.\d{3} m?s$")
            self.assertRegex(item["Log time minus RST time"], r"^[+-]\d+\.\d{3} m?s$")


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv[1])
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
