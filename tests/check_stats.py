#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
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


CAUSE = "All RSTs by cause, phases beneath (rstdiag.cause)"
PHASE = "When: connection phase (rstdiag.phase)"
SENDER = "Sender role (rstdiag.sender)"
ADDRESS = "Sender address (ip.src, ipv6.src)"
ORIGIN = "Origin: endpoint or device in the path (rstdiag.origin)"
KERNEL = "Kernel reason, likely (rstdiag.kernel_reason)"
RACES = 'Idle gaps of keep-alive races (rstdiag.cause == "keepalive-race")'
STREAMS = "Connections reset (tcp.stream)"
LOG = "Application log: RSTs with a line (rstdiag.log)"
UNMATCHED = "Application log lines with no RST"


def tree(capture, *extra, tree_arg="rstdiag,tree"):
    """{(top-level node, child, grandchild): count} (in tshark's order) and stderr."""
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
                self.assertEqual(nodes[(CAUSE,)], resets)
                for top in (CAUSE, PHASE, SENDER, ORIGIN, KERNEL, ADDRESS):
                    children = sum(v for k, v in nodes.items() if len(k) == 2 and k[0] == top)
                    self.assertEqual(children, resets, top)
                out, _ = tshark("-r", capture, "-Y", "tcp.flags.reset == 1", "-T", "fields", "-e", "tcp.stream")
                self.assertEqual(nodes[(STREAMS,)], len(set(out.split())))

    def test_groups_in_reading_order_in_tshark_and_the_gui(self):
        """tshark keeps the top level in creation order and sorts inside the
        groups by count, largest first. The GUI's dialog (4.0 to 4.6) ignores
        the tree's sort flags: it opens sorted on the Topic column, descending
        (Qt's default sort indicator; stats_tree_sort_compare by name, the
        ST_FLG_SORT_TOP node first). Both must read cause, phase, sender,
        origin, kernel reason, log."""
        nodes, _ = tree(EXAMPLE)
        top = [k[0] for k in nodes if len(k) == 1]
        self.assertEqual(top, [CAUSE, PHASE, SENDER, ADDRESS, ORIGIN, KERNEL, RACES, STREAMS, LOG, UNMATCHED])
        self.assertEqual([CAUSE] + sorted(top[1:], key=str.encode, reverse=True), top)
        self.assertEqual([CAUSE] + sorted(top[1:], key=str.casefold, reverse=True), top)
        for parent in {k[:-1] for k in nodes if len(k) > 1}:   # tshark, inside every group: counts descending
            counts = [v for k, v in nodes.items() if k[:-1] == parent]
            self.assertEqual(counts, sorted(counts, reverse=True), parent)

    def test_each_cause_equals_its_display_filter(self):
        nodes, _ = tree(EXAMPLE)
        causes = {k[1]: v for k, v in nodes.items() if len(k) == 2 and k[0] == CAUSE}
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
        self.assertEqual(nodes[(CAUSE,)], count(EXAMPLE, 'rstdiag.sender == "server"'))
        self.assertEqual(set(k[1] for k in nodes if len(k) == 2 and k[0] == SENDER), {"server"})

    def test_log_correlation_and_unmatched_lines(self):
        tmp = tempfile.mkdtemp()
        try:
            os.chmod(tmp, 0o755)
            log = os.path.join(tmp, "error.log")
            shutil.copy(os.path.join(NGINX, "error.log"), log)
            os.chmod(log, 0o644)
            nodes, err = tree(os.path.join(NGINX, "proxy.pcap"), "-o", f"rstdiag.log_file:{log}")
            with_line = nodes[(LOG, "with a log line")]
            self.assertEqual(with_line, 12)
            self.assertEqual(with_line + nodes[(LOG, "without a log line")], nodes[(CAUSE,)])
            # line 7 is the one reset line whose connection started before the capture:
            # counted apart from the RSTs (log lines, not RSTs)
            self.assertEqual(nodes[(UNMATCHED,)], 1)
            self.assertIn(f"RSTDIAG: log file {log}: 13 reset lines: 12 explained by a RST, 1 in the capture's "
                          "time with no RST, 0 outside the capture's time\n"
                          "  in the capture's time with no RST: line 7\n", err)
            self.assertNotIn((UNMATCHED, "In the capture's time"), nodes)
            # listed in the tree by the second pass whatever the filter, as long as it shows any RST
            for tree_arg in ("rstdiag,tree", 'rstdiag,tree,rstdiag.cause == "refused"'):
                with self.subTest(tree_arg=tree_arg):
                    nodes, _ = tree(os.path.join(NGINX, "proxy.pcap"), "-2", "-o", f"rstdiag.log_file:{log}",
                                    tree_arg=tree_arg)
                    self.assertEqual(nodes[(UNMATCHED, "In the capture's time")], 1)
                    self.assertEqual(nodes[(UNMATCHED, "In the capture's time", f"{log} line 7")], 1)
                    self.assertEqual(nodes[(UNMATCHED, "Outside the capture's time")], 0)
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv[1])
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
