#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Log sources follow the active configuration profile.

Two profiles in a temporary configuration folder: "withlog" names the nginx
error.log in its preferences, "nolog" leaves every rstdiag preference at its
default. tests/profile_switch (the real libwireshark) switches between them
the way the GUI does (prefs_reset, reading the new profile, prefs_apply_all,
redissection) and counts the RSTs with a log line after each switch: the
lines must appear with "withlog" and disappear with "nolog" or the default
profile, whatever came before. tshark -C with each profile must agree.

Usage: check_profile_switch.py BUILD_DIR [unittest args]
"""
import os
import shutil
import sys
import tempfile
import unittest

import tshark_run

HERE = os.path.dirname(os.path.abspath(__file__))
NGINX = os.path.join(HERE, "captures", "nginx")
CAPTURE = os.path.join(NGINX, "proxy.pcap")
BUILD = None


class ProfileSwitch(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rstdiag-switch-")
        cls.config = os.path.join(cls.tmp, "config")
        log = os.path.join(cls.tmp, "error.log")
        shutil.copy(os.path.join(NGINX, "error.log"), log)
        for name, prefs in (("withlog", f"rstdiag.log_file: {log}\nrstdiag.response_timeout: 500\n"),
                            ("nolog", "tcp.analyze_sequence_numbers: TRUE\n")):
            os.makedirs(os.path.join(cls.config, "profiles", name))
            with open(os.path.join(cls.config, "profiles", name, "preferences"), "w") as f:
                f.write(prefs)
        for d, _, files in os.walk(cls.tmp):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)
        os.environ["WIRESHARK_CONFIG_DIR"] = cls.config
        # the number of RSTs nginx logged, from tshark with the log given on the command line
        out, _ = tshark_run.tshark(BUILD, "-r", CAPTURE, "-o", f"rstdiag.log_file:{log}", "-Y", "rstdiag.log",
                                   "-T", "fields", "-e", "frame.number")
        cls.logged = len(out.split())

    @classmethod
    def tearDownClass(cls):
        del os.environ["WIRESHARK_CONFIG_DIR"]
        shutil.rmtree(cls.tmp)

    def switch(self, *profiles):
        """[(profile, RSTs with a log line)] after each switch."""
        os.environ["RSTDIAG_TSHARK_PROGRAM"] = os.path.join(BUILD, "tests", "profile_switch")
        try:
            out, err = tshark_run.tshark(BUILD, "-r", CAPTURE, "-Y", "rstdiag.log", *profiles)
        finally:
            del os.environ["RSTDIAG_TSHARK_PROGRAM"]
        self.assertNotIn("rstdiag", tshark_run.without_log_clocks(err).lower(), err)
        return [(name, int(count)) for name, count in (line.split("\t") for line in out.splitlines())]

    def test_the_log_is_there_to_switch(self):
        self.assertGreaterEqual(self.logged, 5)

    def test_lines_disappear_and_come_back(self):
        self.assertEqual(self.switch("withlog", "nolog", "withlog", "Default", "withlog"),
                         [("withlog", self.logged), ("nolog", 0), ("withlog", self.logged),
                          ("Default", 0), ("withlog", self.logged)])

    def test_lines_appear_after_starting_without(self):
        self.assertEqual(self.switch("nolog", "withlog"), [("nolog", 0), ("withlog", self.logged)])

    def test_tshark_agrees_per_profile(self):
        for profile, expected in (("withlog", self.logged), ("nolog", 0)):
            out, _ = tshark_run.tshark(BUILD, "-C", profile, "-r", CAPTURE, "-Y", "rstdiag.log",
                                       "-T", "fields", "-e", "frame.number")
            self.assertEqual(len(out.split()), expected, profile)


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv.pop(1))
    unittest.main()
