#!/usr/bin/env python3
"""The "TCP RST Diagnosis" stats tree (tshark -q -z rstdiag,tree[,filter])
against what tshark's display filters count on the same captures.

Usage: check_stats.py BUILD_DIR [unittest args]
"""
import glob
import os
import re
import shutil
import sys
import tempfile
import unittest

import tshark_run

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CAPTURES = os.path.join(HERE, "captures")
NGINX = os.path.join(CAPTURES, "nginx")
EXAMPLE = os.path.join(ROOT, "examples", "resets.pcap")
BUILD = None
ROW = re.compile(r"^( *)(\S.*?)\s{2,}(\d+)\s")


def tshark(*args):
    return tshark_run.tshark(BUILD, *args)


def tree(capture, *extra, tree_arg="rstdiag,tree"):
    """{(top-level node, child, grandchild): count} and stderr."""
    out, err = tshark("-r", capture, *extra, "-q", "-z", tree_arg)
    nodes, path = {}, []
    for line in out.splitlines():
        m = ROW.match(line)
        if not m or line.startswith("Topic"):
            continue
        depth = len(m.group(1))
        path = path[:depth] + [m.group(2)]
        nodes[tuple(path)] = int(m.group(3))
    return nodes, err


def count(capture, display_filter):
    out, _ = tshark("-r", capture, "-Y", display_filter, "-T", "fields", "-e", "frame.number")
    return len(out.split())


class StatsTree(unittest.TestCase):
    def test_totals_equal_rst_frames_on_every_capture(self):
        for capture in sorted(glob.glob(os.path.join(CAPTURES, "*.pcap"))) + [os.path.join(NGINX, "proxy.pcap")]:
            with self.subTest(capture=os.path.basename(capture)):
                nodes, _ = tree(capture)
                resets = count(capture, "tcp.flags.reset == 1")
                self.assertEqual(nodes[("All RSTs",)], resets)
                for top in ("By cause (phases beneath)", "By phase", "By sender role",
                            "By likely kernel reason", "By sender address"):
                    children = sum(v for k, v in nodes.items() if len(k) == 2 and k[0] == top)
                    self.assertEqual(children, resets, top)
                out, _ = tshark("-r", capture, "-Y", "tcp.flags.reset == 1", "-T", "fields", "-e", "tcp.stream")
                self.assertEqual(nodes[("Streams reset",)], len(set(out.split())))

    def test_each_cause_equals_its_display_filter(self):
        nodes, _ = tree(EXAMPLE)
        causes = {k[1]: v for k, v in nodes.items() if len(k) == 2 and k[0] == "By cause (phases beneath)"}
        self.assertGreaterEqual(len(causes), 10)
        for cause, n in causes.items():
            with self.subTest(cause=cause):
                self.assertEqual(n, count(EXAMPLE, f'rstdiag.cause == "{cause}"'))
                phases = {k[2]: v for k, v in nodes.items() if len(k) == 3 and k[1] == cause}
                self.assertEqual(sum(phases.values()), n)
                for phase, m in phases.items():
                    self.assertEqual(m, count(EXAMPLE, f'rstdiag.cause == "{cause}" && rstdiag.phase == "{phase}"'))

    def test_filter_argument_narrows(self):
        nodes, _ = tree(EXAMPLE, tree_arg='rstdiag,tree,rstdiag.sender == "server"')
        self.assertEqual(nodes[("All RSTs",)], count(EXAMPLE, 'rstdiag.sender == "server"'))
        self.assertEqual(set(k[1] for k in nodes if len(k) == 2 and k[0] == "By sender role"), {"server"})

    def test_log_correlation_and_unmatched_lines(self):
        tmp = tempfile.mkdtemp()
        try:
            os.chmod(tmp, 0o755)
            log = os.path.join(tmp, "error.log")
            shutil.copy(os.path.join(NGINX, "error.log"), log)
            os.chmod(log, 0o644)
            nodes, err = tree(os.path.join(NGINX, "proxy.pcap"), "-o", f"rstdiag.log_file:{log}")
            with_line = nodes[("Log correlation", "RSTs with a log line")]
            self.assertEqual(with_line, 12)
            self.assertEqual(with_line + nodes[("Log correlation", "RSTs without a log line")], nodes[("All RSTs",)])
            # line 7 is the one reset line whose connection started before the capture
            self.assertEqual(nodes[("Log correlation", "Log reset lines with no RST")], 1)
            self.assertIn(f"RSTDIAG: log file {log}: 13 reset lines: 12 explained by a RST, 1 in the capture's "
                          "time with no RST, 0 outside the capture's time\n"
                          "  in the capture's time with no RST: line 7\n", err)
            self.assertNotIn(("Log correlation", "Log reset lines with no RST", "In the capture's time"), nodes)
            nodes, _ = tree(os.path.join(NGINX, "proxy.pcap"), "-2", "-o", f"rstdiag.log_file:{log}")
            unmatched = ("Log correlation", "Log reset lines with no RST")
            self.assertEqual(nodes[unmatched + ("In the capture's time",)], 1)
            self.assertEqual(nodes[unmatched + ("In the capture's time", f"{log} line 7")], 1)
            self.assertEqual(nodes[unmatched + ("Outside the capture's time",)], 0)
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv[1])
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
