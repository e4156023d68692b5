#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Tests of the Wireshark-facing side of rstdiag, with the real tshark:
field registration, preferences, expert info, Info column and filtering.

Usage: check_glue.py BUILD_DIR [unittest args]
"""
import os
import subprocess
import sys
import tempfile
import unittest

import tshark_run

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CAPTURES = os.path.join(HERE, "captures")
BUILD = None

# Expert severities as tshark prints _ws.expert.severity (epan/proto.h PI_*).
PI_NOTE, PI_WARN, PI_ERROR = 0x00400000, 0x00600000, 0x00800000


def tshark(*args):
    return tshark_run.tshark(BUILD, *args)


def capture(name):
    return os.path.join(CAPTURES, name)


def field_values(name, field, *extra):
    out, _ = tshark("-r", capture(name), *extra, "-Y", "rstdiag", "-T", "fields", "-e", field)
    return out.split("\n")[:-1]


class Registration(unittest.TestCase):
    def test_every_field_is_listed_with_a_description(self):
        out, _ = tshark("-G", "fields")
        fields = {}
        for line in out.splitlines():
            parts = line.split("\t")
            if parts[0] == "F" and len(parts) > 7 and parts[4] == "rstdiag":
                fields[parts[2]] = parts[7]
        expected = ["sender", "phase", "cause", "confidence", "kernel_reason", "evidence", "shape",
                    "acceptable", "trigger", "idle", "age", "bytes.client", "bytes.server", "log", "log.line",
                    "log.file", "log.lineno", "log.delta", "log.match", "log.leg", "log.level", "log.request",
                    "log.offset", "log.message", "log.peer", "log.upstream", "continued"]
        for name in expected:
            self.assertIn("rstdiag." + name, fields)
        for name, description in fields.items():   # every field, present and future
            if not name.startswith("rstdiag.expert."):
                self.assertGreater(len(description), 20, name)
        self.assertIn("rstdiag.expert.unread_data", fields)
        self.assertIn("rstdiag.expert.late_after_close", fields)

    def test_log_field_names_work_as_column_titles(self):
        out, _ = tshark("-G", "fields")
        names = {parts[2]: parts[1] for parts in (line.split("\t") for line in out.splitlines())
                 if parts[0] == "F" and len(parts) > 4 and parts[2].startswith("rstdiag.log.")}
        for abbrev, name in names.items():
            self.assertTrue(name.startswith("Log "), f"{abbrev}: {name}")
        self.assertEqual(names["rstdiag.log.line"], "Log line")
        self.assertEqual(names["rstdiag.log.file"], "Log file")

    def test_preferences_are_registered(self):
        out, _ = tshark("-G", "defaultprefs")
        self.assertIn("rstdiag.info_column", out)
        self.assertIn("rstdiag.response_timeout", out)


class Preferences(unittest.TestCase):
    def test_response_timeout_changes_the_verdict(self):
        self.assertEqual(field_values("response_timeout.pcap", "rstdiag.cause"), ["response-timeout"] * 2)
        self.assertEqual(field_values("response_timeout.pcap", "rstdiag.cause",
                                      "-o", "rstdiag.response_timeout:2000"), ["abortive-close"] * 2)

    def test_info_column_can_be_turned_off(self):
        on, _ = tshark("-r", capture("refused.pcap"), "-Y", "tcp.flags.reset == 1")
        off, _ = tshark("-r", capture("refused.pcap"), "-Y", "tcp.flags.reset == 1",
                        "-o", "rstdiag.info_column:FALSE")
        self.assertEqual(on.count("[RST: refused]"), 3)
        self.assertNotIn("[RST:", off)


class Filtering(unittest.TestCase):
    def test_tokens_filter_and_print(self):
        out, _ = tshark("-r", capture("refused.pcap"), "-Y", 'rstdiag.cause == "refused" && '
                        'rstdiag.kernel_reason == "NO_SOCKET" && rstdiag.phase == "syn"',
                        "-T", "fields", "-e", "rstdiag.sender")
        self.assertEqual(out.split(), ["server"] * 3)

    def test_only_rst_frames_carry_the_protocol(self):
        out, _ = tshark("-r", os.path.join(ROOT, "examples", "resets.pcap"),
                        "-Y", "rstdiag && tcp.flags.reset == 0")
        self.assertEqual(out, "")

    def test_trigger_points_at_the_answered_segment(self):
        out, _ = tshark("-r", capture("refused.pcap"), "-Y", "rstdiag", "-T", "fields",
                        "-e", "frame.number", "-e", "rstdiag.trigger")
        for line in out.splitlines():
            frame, trigger = map(int, line.split("\t"))
            self.assertEqual(trigger, frame - 1)


class ExpertInfo(unittest.TestCase):
    def severities(self, name):
        out, _ = tshark("-r", capture(name), "-Y", "rstdiag", "-T", "fields", "-E", "aggregator=;",
                        "-e", "_ws.expert.severity", "-e", "_ws.expert.message")
        result = []
        for line in out.splitlines():
            severities, messages = line.split("\t")
            for severity, message in zip(severities.split(";"), messages.split(";")):
                if message.startswith("TCP reset, cause"):
                    result.append(int(severity))
        return result

    def test_severity_fits_the_cause(self):
        self.assertEqual(self.severities("fin_straggler.pcap"), [PI_NOTE] * 3)
        self.assertEqual(self.severities("unread_server.pcap"), [PI_WARN] * 3)
        self.assertEqual(self.severities("accept_overflow.pcap"), [PI_ERROR] * 4)


class IncompleteCaptures(unittest.TestCase):
    """A capture that missed a segment: the verdicts of its stream are no longer high."""

    def verdicts(self, path):
        out, _ = tshark("-r", path, "-2", "-Y", "rstdiag", "-T", "fields", "-E", "separator=/t", "-e", "tcp.stream",
                        "-e", "rstdiag.cause", "-e", "rstdiag.confidence", "-e", "rstdiag.evidence")
        return {int(line.split("\t")[0]): line.split("\t")[1:] for line in out.splitlines()}

    def test_a_missed_request_lowers_its_streams_confidence(self):
        whole = self.verdicts(capture("fin_straggler.pcap"))
        self.assertEqual([whole[0][:2], whole[1][:2]], [["late-after-close", "high"]] * 2)
        with tempfile.TemporaryDirectory() as tmp:
            lossy = os.path.join(tmp, "lossy.pcap")
            # frame 6: the client's request on stream 0, which the server's ACK then acknowledges
            subprocess.run(["editcap", capture("fin_straggler.pcap"), lossy, "6"], check=True)
            lossy_verdicts = self.verdicts(lossy)
        cause, confidence, evidence = lossy_verdicts[0]
        self.assertEqual([cause, confidence], ["late-after-close", "medium"])
        self.assertIn("(segments missing from the capture)", evidence)
        self.assertEqual(lossy_verdicts[1], whole[1])

    def sender_signs(self, name):
        """origin signs of each RST of a capture cut to its segments without SYN, in one pass (with taps)"""
        with tempfile.TemporaryDirectory() as tmp:
            cut = os.path.join(tmp, "no-syn.pcap")
            subprocess.run(["tshark", "-r", capture(name), "-Y", "tcp.flags.syn == 0", "-w", cut],
                           check=True, capture_output=True)
            out, _ = tshark("-r", cut, "-Y", "rstdiag", "-T", "fields", "-E", "separator=/t",
                            "-e", "rstdiag.ttl_delta", "-e", "rstdiag.origin.evidence")
        return [line.split("\t") for line in out.splitlines()]

    def test_data_segments_alone_give_the_senders_ttl_and_ip_id(self):
        # without SYN-ACKs, the server's TTL (hop limit) and IP IDs are known only
        # from its data and ACK segments, read from the IP taps
        for delta, evidence in self.sender_signs("linger_server_v6.pcap"):
            self.assertEqual(delta, "0")
            self.assertIn("TTL 64, as the server's own packets", evidence)
        signs = self.sender_signs("linger_server.pcap")
        self.assertEqual(len(signs), 3)
        for delta, evidence in signs:
            self.assertEqual(delta, "0")
            self.assertIn("continues the server's own counter", evidence)


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv[1])
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
