#!/usr/bin/env python3
"""Tests of the Wireshark-facing side of rstdiag, with the real tshark:
field registration, preferences, expert info, Info column and filtering.

Usage: check_glue.py BUILD_DIR [unittest args]
"""
import os
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
                    "log.offset"]
        for name in expected:
            self.assertIn("rstdiag." + name, fields)
        for name, description in fields.items():   # every field, present and future
            if not name.startswith("rstdiag.expert."):
                self.assertGreater(len(description), 20, name)
        self.assertIn("rstdiag.expert.unread_data", fields)
        self.assertIn("rstdiag.expert.late_after_close", fields)

    def test_preferences_are_registered(self):
        out, _ = tshark("-G", "defaultprefs")
        self.assertIn("rstdiag.info_column", out)
        self.assertIn("rstdiag.response_timeout", out)


class Preferences(unittest.TestCase):
    def test_response_timeout_changes_the_verdict(self):
        self.assertEqual(field_values("response_timeout.pcap", "rstdiag.cause"), ["response-timeout"] * 2)
        self.assertEqual(field_values("response_timeout.pcap", "rstdiag.cause",
                                      "-o", "rstdiag.response_timeout:2000"), ["abortive-close"] * 2)

    def test_absurd_value_is_reported_once_and_dissection_goes_on(self):
        out, err = tshark("-r", capture("response_timeout.pcap"), "-o", "rstdiag.response_timeout:0",
                          "-Y", "rstdiag", "-T", "fields", "-e", "rstdiag.cause")
        self.assertEqual(out.split(), ["response-timeout"] * 2)
        self.assertEqual(err.count("response_timeout"), 1, err)
        self.assertIn("using 1000 ms", err)

    def test_info_column_can_be_turned_off(self):
        on, _ = tshark("-r", capture("refused.pcap"), "-Y", "tcp.flags.reset == 1")
        off, _ = tshark("-r", capture("refused.pcap"), "-Y", "tcp.flags.reset == 1",
                        "-o", "rstdiag.info_column:FALSE")
        self.assertEqual(on.count("[RST: refused]"), 3)
        self.assertNotIn("[RST:", off)


class LogFileProblems(unittest.TestCase):
    """A bad log file is told once on stderr and the diagnosis goes on."""

    def run_with_log(self, path, *extra):
        out, err = tshark("-r", capture("refused.pcap"), "-o", f"rstdiag.log_file:{path}", *extra,
                          "-Y", "rstdiag", "-T", "fields", "-e", "rstdiag.cause")
        self.assertEqual(out.split(), ["refused"] * 3)
        return err

    def assert_told_once(self, err, words):
        self.assertEqual(err.count("RSTDIAG"), 1, err)
        self.assertIn(words, err)

    def test_missing(self):
        self.assert_told_once(self.run_with_log("/nonexistent/error.log"), "No such file")

    def test_directory(self):
        self.assert_told_once(self.run_with_log("/tmp"), "is a directory")

    def test_empty_and_binary(self):
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o755)
            empty = os.path.join(d, "empty.log")
            binary = os.path.join(d, "binary.log")
            open(empty, "w").close()
            with open(binary, "wb") as f:
                f.write(b"\x7fELF\x00\x00\x01" * 100)
            for path in (empty, binary):
                os.chmod(path, 0o644)
            self.assert_told_once(self.run_with_log(empty), "is empty")
            self.assert_told_once(self.run_with_log(binary), "not text")

    def test_unreadable(self):
        with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
            f.write("2024/05/01 10:00:00 [info] 1#1: *1 recv() failed (104: Connection reset by peer)\n")
        os.chmod(f.name, 0)
        try:
            if os.getuid() != 0 and os.access(f.name, os.R_OK):
                self.skipTest("this user can read a mode-0 file")
            self.assert_told_once(self.run_with_log(f.name), "Permission denied")
        finally:
            os.unlink(f.name)

    def test_no_reset_lines(self):
        with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
            f.write("2024/05/01 10:00:00 [notice] 1#1: start worker processes\n")
        os.chmod(f.name, 0o644)
        try:
            self.assert_told_once(self.run_with_log(f.name), "no reset lines")
        finally:
            os.unlink(f.name)

    def test_absurd_clock_settings(self):
        err = self.run_with_log("", "-o", "rstdiag.log_timezone:Mars/Olympus", "-o", "rstdiag.log_window:-3")
        self.assert_told_once(err, "log_timezone")
        self.assertIn("log_window", err)


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


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv[1])
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
