#!/usr/bin/env python3
"""The shareable "rstdiag" configuration profile (profiles/rstdiag/).

Every filter in it compiles (colour rules, buttons, IO graphs, macros);
with the profile installed, `tshark -C rstdiag` runs without a warning,
shows the diagnosis in the profile's columns and colours resets by cause;
the zip holds exactly the profile's files.

Usage: check_profile.py BUILD_DIR [unittest args]
"""
import os
import re
import shutil
import sys
import tempfile
import unittest
import zipfile

import tshark_run

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROFILE = os.path.join(ROOT, "profiles", "rstdiag")
NGINX = os.path.join(HERE, "captures", "nginx")
EXAMPLE = os.path.join(ROOT, "examples", "resets.pcap")
BUILD = None


def uat_rows(name):
    """Rows of a UAT file: lists of the quoted fields, \\x22 unescaped."""
    rows = []
    with open(os.path.join(PROFILE, name)) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            rows.append([v.replace("\\x22", '"') for v in re.findall(r'"((?:[^"\\]|\\.)*)"', line)])
    return rows


def profile_filters():
    filters = []
    with open(os.path.join(PROFILE, "colorfilters")) as f:
        for line in f:
            if line.startswith("@"):
                filters.append(("colorfilters", line.split("@")[2]))
    filters += [("dfilter_buttons", row[2]) for row in uat_rows("dfilter_buttons")]
    filters += [("io_graphs", row[2]) for row in uat_rows("io_graphs")]
    return filters


class Profile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rstdiag-profile-")
        cls.config = os.path.join(cls.tmp, "config")
        shutil.copytree(PROFILE, os.path.join(cls.config, "profiles", "rstdiag"))
        cls.log = os.path.join(cls.tmp, "error.log")
        shutil.copy(os.path.join(NGINX, "error.log"), cls.log)
        for d, _, files in os.walk(cls.tmp):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def tshark(self, *args):
        os.environ["WIRESHARK_CONFIG_DIR"] = self.config
        try:
            return tshark_run.tshark(BUILD, *args)
        finally:
            del os.environ["WIRESHARK_CONFIG_DIR"]

    def test_every_filter_compiles(self):
        filters = profile_filters()
        self.assertGreaterEqual(len(filters), 20)
        for source, display_filter in filters:
            with self.subTest(source=source, filter=display_filter):
                _, err = self.tshark("-r", EXAMPLE, "-c", "1", "-Y", display_filter)
                self.assertEqual(err, "")

    def test_macros_expand_and_compile(self):
        samples = {"rst_host": "198.18.100.1", "rst_host6": "fd00::1", "rst_from": "198.18.100.1",
                   "rst_cause": "refused", "rst_stream": "3"}
        names = [row[0] for row in uat_rows("dfilter_macros")]
        with open(os.path.join(PROFILE, "dmacros")) as f:
            self.assertEqual(names, re.findall(r'^"([^"]+)" ', f.read(), re.M))
        self.assertEqual(sorted(names), sorted(samples))
        for name in names:
            with self.subTest(macro=name):
                out, err = self.tshark("-C", "rstdiag", "-r", os.path.join(NGINX, "proxy.pcap"),
                                       "-Y", "${%s:%s}" % (name, samples[name]))
                self.assertEqual(err, "")
        out, _ = self.tshark("-C", "rstdiag", "-r", os.path.join(NGINX, "proxy.pcap"), "-Y", "${rst_host:198.18.100.1}")
        self.assertEqual(len(out.splitlines()), 9)

    def test_columns_show_the_diagnosis(self):
        out, err = self.tshark("-C", "rstdiag", "-r", os.path.join(NGINX, "proxy.pcap"),
                               "-o", f"rstdiag.log_file:{self.log}", "-Y", "frame.number in {20, 152, 196}")
        self.assertEqual(tshark_run.log_clocks(err), {self.log: "clock offset +08:00 +0.000 s from 12 pairs"})
        self.assertEqual(tshark_run.without_log_clocks(err), "")
        lines = {int(line.split()[0]): line for line in out.splitlines()}
        self.assertIn(" client closing abortive-close 8 ", lines[20])
        self.assertIn(" server data unread-data 16 ", lines[152])
        self.assertIn(" server syn refused 22 ", lines[196])

    def test_colours_by_cause_family(self):
        out, _ = self.tshark("-C", "rstdiag", "-r", EXAMPLE, "-Y", "rstdiag", "--color", "-T", "fields",
                             "-e", "rstdiag.cause", "-e", "frame.coloring_rule.name")
        families = {"refused": "RST refused or blocked", "unread-data": "RST application abort",
                    "abortive-close": "RST application abort", "response-timeout": "RST application abort",
                    "handshake-abort": "RST in the handshake", "data-after-close": "RST data after close",
                    "late-after-close": "RST stale or late", "keepalive-timeout": "RST timeout"}
        for line in out.splitlines():
            cause, rule = line.split("\t")
            if cause in families:
                self.assertEqual(rule, families[cause], cause)
        out, _ = self.tshark("-C", "rstdiag", "-r", os.path.join(NGINX, "proxy.pcap"),
                             "-o", f"rstdiag.log_file:{self.log}", "-Y", "rstdiag.log", "--color",
                             "-T", "fields", "-e", "frame.coloring_rule.name")
        self.assertEqual(set(out.split("\n")[:-1]), {"RST with a log line"})

    def test_device_resets_and_later_frames(self):
        capture = os.path.join(HERE, "captures", "injected.pcap")
        for display_filter, rule, count in (
                ('rstdiag.origin == "middlebox"', "RST injected or passed on", 2),
                ("rstdiag.after_reset && tcp.flags.reset == 0 && !tcp.analysis.flags", "After a reset", 10)):
            out, _ = self.tshark("-C", "rstdiag", "-r", capture, "-2", "--color", "-Y", display_filter,
                                 "-T", "fields", "-e", "frame.coloring_rule.name")
            rules = out.split()
            self.assertGreaterEqual(len(rules), count, display_filter)
            self.assertEqual(set(out.splitlines()), {rule}, display_filter)

    def test_zip_holds_exactly_the_profile(self):
        with zipfile.ZipFile(os.path.join(BUILD, "rstdiag-profile.zip")) as z:
            names = {n for n in z.namelist() if not n.endswith("/")}
        self.assertEqual(names, {f"rstdiag/{f}" for f in os.listdir(PROFILE)})


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv[1])
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
