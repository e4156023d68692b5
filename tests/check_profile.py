#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The shareable "rstdiag" configuration profile (profiles/rstdiag/).

Every filter in it compiles (colour rules, buttons, IO graphs, macros);
with the profile installed, `tshark -C rstdiag` runs without a warning,
shows the diagnosis in the profile's columns and colours resets by cause;
the zip holds exactly the profile's files.

Usage: check_profile.py BUILD_DIR [unittest args]
"""
import json
import os
import re
import shutil
import subprocess
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


def legacy_rules():
    """[(name, filter, (bg r, g, b), (fg r, g, b), enabled)] of colorfilters."""
    rules = []
    with open(os.path.join(PROFILE, "colorfilters")) as f:
        for line in f:
            m = re.match(r"^(!?)@([^@]*)@([^@]*)@\[(\d+),(\d+),(\d+)\]\[(\d+),(\d+),(\d+)\]$", line.rstrip("\n"))
            if m:
                c = tuple(map(int, m.groups()[3:]))
                rules.append((m.group(2), m.group(3), c[:3], c[3:], m.group(1) != "!"))
    return rules


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
        self.assertIn(" abortive-close 8 ", lines[20])
        self.assertIn(" abortive-close 16 ", lines[152])
        self.assertIn(" refused 22 ", lines[196])

    def test_columns_stay_narrow(self):
        """Two diagnosis columns, short titles; everything else is in the tree."""
        with open(os.path.join(PROFILE, "preferences")) as f:
            columns = re.findall(r'^\t"([^"]+)", "%Cus:([^:]+):', f.read(), re.M)
        self.assertEqual(columns, [("RST cause", "rstdiag.cause"), ("Log", "rstdiag.log.lineno")])

    def test_six_buttons_one_question_each(self):
        rows = uat_rows("dfilter_buttons")
        self.assertLessEqual(len(rows), 6)
        labels = [row[1] for row in rows]
        self.assertEqual(len(set(labels)), len(labels))
        for enabled, label, display_filter, question in rows:
            self.assertTrue(question.startswith("Which ") and question.endswith("?"), label)
            self.assertLessEqual(len(label), 14, label)
        filters = [row[2] for row in rows]
        self.assertEqual(len(set(filters)), len(filters))

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
        # every cause the plugin knows (one expert entry each) has a family of its own colour; a
        # RST's copy (the other expert entry) shows its RST's cause, and that cause's colour
        fields, _ = self.tshark("-G", "fields")
        causes = [c for c in re.findall(r"\trstdiag\.expert\.(\w+)\t", fields) if c != "copy"]
        self.assertGreaterEqual(len(causes), 18)
        with open(os.path.join(PROFILE, "colorfilters")) as f:
            rst_rules = [line for line in f if line.startswith("@RST ")]
        for cause in causes:
            token = '"' + cause.replace("_", "-") + '"'
            self.assertTrue(any(token in rule for rule in rst_rules), f"no colour for cause {token}")
        # a log line changes no colour: the cause family stays visible
        without, _ = self.tshark("-C", "rstdiag", "-r", os.path.join(NGINX, "proxy.pcap"), "-Y", "rstdiag",
                                 "--color", "-T", "fields", "-e", "frame.number", "-e", "frame.coloring_rule.name")
        with_log, _ = self.tshark("-C", "rstdiag", "-r", os.path.join(NGINX, "proxy.pcap"),
                                  "-o", f"rstdiag.log_file:{self.log}", "-Y", "rstdiag", "--color",
                                  "-T", "fields", "-e", "frame.number", "-e", "frame.coloring_rule.name",
                                  "-e", "rstdiag.log.lineno")
        self.assertEqual(without.splitlines(), [line.rsplit("\t", 1)[0] for line in with_log.splitlines()])
        self.assertGreaterEqual(sum(1 for line in with_log.splitlines() if line.split("\t")[2]), 10)

    def test_rst_colours_are_pale_and_distinct(self):
        """Dark text on pale tints: no family looks like the (dark blue) selection bar."""
        rules = legacy_rules()
        rst = [r for r in rules if r[1].startswith("rstdiag")]
        self.assertGreaterEqual(len(rst), 8)
        backgrounds = [r[2] for r in rst]
        self.assertEqual(len(set(backgrounds)), len(backgrounds))
        for name, _, background, _, _ in rst:
            luminance = sum(w * c / 65535 for w, c in zip((0.2126, 0.7152, 0.0722), background))
            self.assertGreater(luminance, 0.6, name)

    def test_jsonc_rules_match_the_legacy_file(self):
        """Wireshark 5.0's coloring_rules.jsonc and the legacy colorfilters come from
        one table; read both as Wireshark does and compare."""
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "coloring_rules.py"), "--check"], check=True)
        with open(os.path.join(PROFILE, "coloring_rules.jsonc")) as f:
            text = re.sub(r"^\s*//.*$", "", f.read(), flags=re.M)   # JSONC line comments
        jsonc = []
        for element in json.loads(text):
            self.assertEqual(len(element), 1)
            (name, props), = element.items()
            bg, fg = (tuple(int(props[k][i:i + 2], 16) * 65535 // 255 for i in (1, 3, 5))
                      for k in ("background", "foreground"))
            jsonc.append((name, props["filter"], bg, fg, props.get("enabled", True)))
        self.assertEqual(jsonc, legacy_rules())

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
