#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Bad input, one test each (the README's robustness table): a bad log file,
bad lines in a good one, absurd preference values, damaged or awkward
captures. For each: the user is told once, in words this test spells out
(on tshark's stderr; the GUI shows the same words in a dialog), and the
diagnosis of everything else still comes out, checked value by value
against the kernel's labels (tests/captures/labels.tsv) or the nginx
example's known matches.

Usage: check_bad_inputs.py BUILD_DIR [unittest args]
"""
import csv
import datetime
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import zlib

import derive_captures
import tshark_run

HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURES = os.path.join(HERE, "captures")
NGINX = os.path.join(CAPTURES, "nginx")
BUILD = None
DIAGNOSIS = ("rstdiag.sender", "rstdiag.phase", "rstdiag.cause", "rstdiag.kernel_reason")
WITHOUT_LINES = "resets are diagnosed without its lines"


def run(capture, *extra, fields=DIAGNOSIS):
    """(exit code, [(frame, values...)] of every diagnosed RST, stderr)."""
    args = ["-r", capture, *extra, "-Y", "rstdiag", "-T", "fields", "-e", "frame.number"]
    for field in fields:
        args += ["-e", field]
    result = tshark_run.tshark_result(BUILD, *args)
    rows = [tuple(line.split("\t")) for line in result.stdout.splitlines()]
    return result.returncode, [(int(row[0]), *row[1:]) for row in rows], result.stderr


def run_fed(capture, log_bytes, how, *extra, fields=DIAGNOSIS, delay=0.0, hold=0.0):
    """run() with the log given as a stream: how is "stdin" (log_file "-"),
    "pipe" (/dev/fd/N, as bash's <(...) gives) or a FIFO path (written to
    after `delay` seconds). A thread writes, so a log larger than a pipe's
    buffer cannot block, and keeps the stream open `hold` seconds more."""
    read_end = None
    if how == "stdin":
        read_end, write_end = os.pipe()
        log_path, pass_fds, stdin = "-", (), read_end
    elif how == "pipe":
        read_end, write_end = os.pipe()
        if os.getuid() == 0:
            os.fchown(read_end, 65534, 65534)   # tshark-with-plugin runs tshark as nobody
        log_path, pass_fds, stdin = f"/dev/fd/{read_end}", (read_end,), subprocess.DEVNULL
    else:
        log_path, pass_fds, stdin, write_end = how, (), subprocess.DEVNULL, None

    def write():
        time.sleep(delay)
        fd = write_end if write_end is not None else os.open(how, os.O_WRONLY)
        with os.fdopen(fd, "wb") as f:
            f.write(log_bytes)
            f.flush()
            time.sleep(hold)

    args = ["-r", capture, "-o", f"rstdiag.log_file:{log_path}", *extra, "-Y", "rstdiag", "-T", "fields",
            "-e", "frame.number"]
    for field in fields:
        args += ["-e", field]
    proc = subprocess.Popen([os.path.join(tshark_run.ROOT, "tools", "tshark-with-plugin"), BUILD, *args],
                            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            pass_fds=pass_fds)
    if read_end is not None:
        os.close(read_end)
    writer = threading.Thread(target=write)
    writer.start()
    out, err = proc.communicate(timeout=300)
    writer.join()
    rows = [tuple(line.split("\t")) for line in out.splitlines()]
    return proc.returncode, [(int(row[0]), *row[1:]) for row in rows], err


def labels(name):
    """[(frame, sender, phase, kernel reason)] the kernel traced for a committed capture."""
    with open(os.path.join(CAPTURES, "labels.tsv"), newline="") as f:
        return [(int(r["frame"]), r["sender"], r["phase"], r["kernel_reason"])
                for r in csv.DictReader(f, delimiter="\t") if r["capture"] == name]


def without_cause(rows):
    return [(frame, sender, phase, reason) for frame, sender, phase, _, reason in rows]


class BadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rstdiag-bad-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp)   # also when a subclass's setUpClass fails
        os.chmod(cls.tmp, 0o755)   # tshark runs as nobody when we are root
        cls.derived_dir = os.path.join(cls.tmp, "derived")
        os.mkdir(cls.derived_dir)
        os.chmod(cls.derived_dir, 0o755)

    def file(self, name, content):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(content)
        os.chmod(path, 0o644)
        return path

    def assert_told_once(self, err, message):
        """message is on stderr once, and it is the only thing rstdiag said
        (besides the log's clock, told at the end)."""
        err = tshark_run.without_log_clocks(err)
        self.assertEqual(err.count(message), 1, err)
        self.assertEqual(err.count("RSTDIAG"), message.count("RSTDIAG"), err)


class LogFiles(BadInput):
    """A log that cannot be used: told once; refused.pcap is still diagnosed."""

    def diagnosed_with_log(self, path, *extra):
        rc, rows, err = run(os.path.join(CAPTURES, "refused.pcap"), "-o", f"rstdiag.log_file:{path}", *extra)
        self.assertEqual(rc, 0, err)
        self.assertEqual(without_cause(rows), labels("refused.pcap"))
        self.assertEqual([row[3] for row in rows], ["refused"] * 3)
        return err

    def test_missing(self):
        err = self.diagnosed_with_log("/nonexistent/error.log")
        self.assert_told_once(err, "RSTDIAG: cannot open log file /nonexistent/error.log: "
                                   f"No such file or directory; {WITHOUT_LINES}")

    def test_directory(self):
        err = self.diagnosed_with_log(self.tmp)
        self.assert_told_once(err, f"RSTDIAG: log file {self.tmp} is a directory; {WITHOUT_LINES}")

    def test_unreadable(self):
        path = self.file("unreadable.log", b"2024/05/01 10:00:00 [info] 1#1: *1 recv() failed (104: "
                                           b"Connection reset by peer)\n")
        os.chmod(path, 0)
        if os.getuid() != 0 and os.access(path, os.R_OK):
            self.skipTest("this user can read a mode-0 file")
        err = self.diagnosed_with_log(path)
        self.assert_told_once(err, f"RSTDIAG: cannot open log file {path}: Permission denied; {WITHOUT_LINES}")

    def test_binary(self):
        path = self.file("binary.log", b"\x7fELF\x02\x01\x01\x00" * 512)
        err = self.diagnosed_with_log(path)
        self.assert_told_once(err, f"RSTDIAG: log file {path} is not text (it contains NUL bytes); {WITHOUT_LINES}")

    def test_empty(self):
        path = self.file("empty.log", b"")
        err = self.diagnosed_with_log(path)
        self.assert_told_once(err, f"RSTDIAG: log file {path} is empty; {WITHOUT_LINES}")

    def test_no_reset_lines(self):
        path = self.file("quiet.log", b"2024/05/01 10:00:00 [notice] 1#1: start worker processes\n")
        err = self.diagnosed_with_log(path)
        self.assert_told_once(err, f"RSTDIAG: log file {path} has no reset lines (1 lines read, "
                                   "0 mentioning a reset in no known format)")

    def test_sparse_2_gb(self):
        path = self.file("sparse.log", b"")
        os.truncate(path, 2 << 30)   # a hole: no disk used
        start = time.monotonic()
        err = self.diagnosed_with_log(path)
        self.assertLess(time.monotonic() - start, 30)
        self.assert_told_once(err, f"RSTDIAG: log file {path} is not text (it contains NUL bytes); {WITHOUT_LINES}")

    def test_fifo_without_writer(self):
        """Nothing is written to the FIFO: told after 5 s, not waited on forever."""
        path = os.path.join(self.tmp, "nobody-writes.fifo")
        os.mkfifo(path)
        os.chmod(path, 0o666)
        err = self.diagnosed_with_log(path)
        self.assert_told_once(err, f"RSTDIAG: log file {path} could not be read (nothing came in 5 s: no program "
                                   f"writes to it); {WITHOUT_LINES}")

    def test_format_strings_in_the_path(self):
        err = self.diagnosed_with_log("/nonexistent/%s%n%x.log")
        self.assert_told_once(err, "RSTDIAG: cannot open log file /nonexistent/%s%n%x.log: "
                                   f"No such file or directory; {WITHOUT_LINES}")


class LogLines(BadInput):
    """Bad lines in the nginx example's error.log: the good lines still land
    on their RSTs (the matches the untouched log gives, line numbers kept)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open(os.path.join(NGINX, "error.log"), "rb") as f:
            cls.lines = f.read().splitlines(keepends=True)
        path = os.path.join(cls.tmp, "error.log")
        shutil.copy(os.path.join(NGINX, "error.log"), path)
        os.chmod(path, 0o644)
        cls.expected, err = cls.matches(path)
        assert err == "" and len(cls.expected) == 12, (cls.expected, err)

    @staticmethod
    def matches(log, *extra):
        """({RST frame: line number} of the matched RSTs, stderr besides the log's clock)."""
        rc, rows, err = run(os.path.join(NGINX, "proxy.pcap"), "-o", f"rstdiag.log_file:{log}", *extra,
                            fields=("rstdiag.log.lineno",))
        assert rc == 0, err
        return {frame: int(lineno) for frame, lineno in rows if lineno}, tshark_run.without_log_clocks(err)

    def log(self, name, lines):
        return self.file(name, b"".join(lines))

    def assert_same_matches(self, log, shift=0, *extra):
        found, err = self.matches(log, *extra)
        self.assertEqual(found, {frame: line + shift for frame, line in self.expected.items()})
        return err

    def line_texts(self, log):
        _, rows, _ = run(os.path.join(NGINX, "proxy.pcap"), "-o", f"rstdiag.log_file:{log}",
                         fields=("rstdiag.log.line",))
        return [text for _, text in rows if text]

    def test_crlf(self):
        err = self.assert_same_matches(self.log("crlf.log", [l.replace(b"\n", b"\r\n") for l in self.lines]))
        self.assertEqual(err, "")

    def test_invalid_utf8(self):
        log = self.log("utf8.log", [l.replace(b"notify_url", b"notify\xff\xfe\xc3(url") for l in self.lines])
        self.assertEqual(self.assert_same_matches(log), "")
        texts = self.line_texts(log)
        self.assertTrue(any("notify\ufffd" in t for t in texts), texts)

    def test_format_strings_in_lines(self):
        log = self.log("fmt.log", [l.replace(b"notify_url", b"%s%n%x%p%%") for l in self.lines])
        self.assertEqual(self.assert_same_matches(log), "")
        self.assertTrue(any("/WebPageAlipay/weixin/%s%n%x%p%%.htm" in t for t in self.line_texts(log)))

    def test_one_megabyte_lines(self):
        """A 1 MB line of garbage first, and the first reset line 1 MB long: no
        message; line numbers count the long line once; shown cut to 1024 bytes."""
        long_reset = self.lines[7].rstrip(b"\n") + b" " + b"y" * (1 << 20) + b"\n"
        log = self.log("long.log", [b"x" * (1 << 20) + b"\n"] + self.lines[:7] + [long_reset] + self.lines[8:])
        self.assertEqual(self.assert_same_matches(log, 1), "")
        self.assertIn(1024, [len(t.encode()) for t in self.line_texts(log)])

    def test_impossible_timestamps(self):
        """Line 7 (a reset before the capture) on the 45th of the 13th month."""
        lines = list(self.lines)
        lines[6] = lines[6].replace(b"2026/11/24 07:14:42", b"2026/13/45 25:61:99")
        err = self.assert_same_matches(self.log("impossible.log", lines))
        self.assert_told_once(err, f"RSTDIAG: log file {self.tmp}/impossible.log: 1 line mentions a reset in no "
                                   "known format or with an impossible time (the first is line 7); not matched")

    def test_nul_bytes_after_the_text(self):
        """What copytruncate leaves: the log, then a 2 GB hole. Reading stops there."""
        log = self.log("copytruncated.log", self.lines)
        os.truncate(log, 2 << 30)
        start = time.monotonic()
        err = self.assert_same_matches(log)
        self.assertLess(time.monotonic() - start, 30)
        self.assert_told_once(err, f"RSTDIAG: log file {log}: reading stopped at line 38 (NUL bytes, not text); "
                                   "the 15 reset lines before it are used")

    def test_gzip_cut_short(self):
        data = gzip.compress(b"".join(self.lines), mtime=0)
        log = self.file("cut.log.gz", data[:len(data) * 2 // 3])
        found, err = self.matches(log)
        told = re.search(r"RSTDIAG: log file \S+: reading stopped at line (\d+) \(gzip data cut short\); "
                         r"the (\d+) reset lines before it are used", err)
        self.assertTrue(told, err)
        self.assert_told_once(err, told.group(0))
        whole = {frame: line for frame, line in self.expected.items() if line < int(told.group(1))}
        self.assertTrue(whole)
        self.assertEqual({f: n for f, n in found.items() if n < int(told.group(1))}, whole)


    def stream_matches(self, lines, how, **kwargs):
        rc, rows, err = run_fed(os.path.join(NGINX, "proxy.pcap"), b"".join(lines), how,
                                fields=("rstdiag.log.lineno",), **kwargs)
        self.assertEqual(rc, 0, err)
        return {frame: int(lineno) for frame, lineno in rows if lineno}, tshark_run.without_log_clocks(err)

    # 200 lines before the log: more than the 4 KiB a sniff might take from a stream
    FILLER = [b"2026/11/24 07:14:40 [notice] 4063#4063: a line before the log's own\n"] * 200

    def test_pipe(self):
        """What bash's <(cat error.log) gives: /dev/fd/N, a pipe that cannot be rewound."""
        found, err = self.stream_matches(self.FILLER + self.lines, "pipe")
        self.assertEqual(found, {frame: line + 200 for frame, line in self.expected.items()})
        self.assertEqual(err, "")

    def test_short_log_through_a_pipe(self):
        found, err = self.stream_matches(self.lines, "pipe")
        self.assertEqual(found, self.expected)
        self.assertEqual(err, "")

    def test_standard_input(self):
        found, err = self.stream_matches(self.FILLER + self.lines, "stdin")
        self.assertEqual(found, {frame: line + 200 for frame, line in self.expected.items()})
        self.assertEqual(err, "")

    def test_fifo_with_a_late_writer(self):
        path = os.path.join(self.tmp, "late-writer.fifo")
        os.mkfifo(path)
        os.chmod(path, 0o666)
        found, err = self.stream_matches(self.FILLER + self.lines, path, delay=1.0)
        self.assertEqual(found, {frame: line + 200 for frame, line in self.expected.items()})
        self.assertEqual(err, "")

    def test_fifo_writer_goes_silent(self):
        """Like tail -f: the writer stays but writes no more. After 5 s of
        silence reading stops, told, and the lines read are used."""
        path = os.path.join(self.tmp, "silent-writer.fifo")
        os.mkfifo(path)
        os.chmod(path, 0o666)
        found, err = self.stream_matches(self.lines, path, hold=7.0)
        self.assertEqual(found, self.expected)
        self.assert_told_once(err, f"RSTDIAG: log file {path}: reading stopped at line {len(self.lines) + 1} "
                                   "(nothing more came in 5 s); the 15 reset lines before it are used")

    def test_gzip_of_two_members(self):
        """Concatenated gzip files (rotated logs put together) are read as one, as gzip reads them."""
        data = gzip.compress(b"".join(self.lines[:20]), mtime=0) + gzip.compress(b"".join(self.lines[20:]), mtime=0)
        self.assertEqual(self.assert_same_matches(self.file("two.log.gz", data)), "")

    def test_gzip_damaged(self):
        """The second of two gzip members is damaged at its first block: the
        first member's 20 lines are used, and the message says where it stopped."""
        first = gzip.compress(b"".join(self.lines[:20]), mtime=0)
        second = bytearray(gzip.compress(b"".join(self.lines[20:]), mtime=0))
        second[10] = 0xff   # the first block's header: block type 3, which does not exist
        log = self.file("damaged.log.gz", first + bytes(second))
        found, err = self.matches(log)
        told = re.search(rf"RSTDIAG: log file {re.escape(log)}: reading stopped at line 21 \(gzip data damaged "
                         r"near byte (\d+) of the file: invalid block type\); the \d+ reset lines before it are used",
                         err)
        self.assertTrue(told, err)
        self.assertLessEqual(abs(int(told.group(1)) - (len(first) + 10)), 2)
        self.assert_told_once(err, told.group(0))
        self.assertEqual(found, {frame: line for frame, line in self.expected.items() if line <= 20})

    def test_reset_phrase_after_100_kilobytes(self):
        """Each line is searched whole: the reset of line 8 comes after 100 KB of text."""
        lines = list(self.lines)
        lines[7] = lines[7].replace(b"*3 recv()", b"*3 " + b"z" * 100_000 + b" recv()")
        self.assertEqual(self.assert_same_matches(self.log("far-phrase.log", lines)), "")

    def test_line_longer_than_the_search_limit(self):
        """A 5 MiB line first: its first 4 MiB are searched, the cut is told, the rest of the log is used."""
        log = self.log("huge-line.log", [b"x" * (5 << 20) + b"\n"] + self.lines)
        err = self.assert_same_matches(log, 1)
        self.assert_told_once(err, f"RSTDIAG: log file {log}: 1 line is longer than 4 MiB; a reset is looked for "
                                   "only in the first 4 MiB (the first such line is line 1)")


class Preferences(BadInput):
    """Absurd values: told once, the default used, the rest goes on."""

    def test_response_timeout_out_of_range(self):
        for value in ("0", "3600001"):
            with self.subTest(value=value):
                rc, rows, err = run(os.path.join(CAPTURES, "response_timeout.pcap"),
                                    "-o", f"rstdiag.response_timeout:{value}")
                self.assertEqual(rc, 0, err)
                self.assertEqual(without_cause(rows), labels("response_timeout.pcap"))
                self.assertEqual([row[3] for row in rows], ["response-timeout"] * 2)
                self.assert_told_once(err, f"RSTDIAG: response_timeout {value} ms is outside 1..3600000 ms; "
                                           "using 1000 ms")

    def test_clock_settings(self):
        """Garbage zone, skew and window, also with table rows (tshark applies
        the preferences once per row): one message; zone and skew estimated."""
        log = os.path.join(self.tmp, "error.log")
        shutil.copy(os.path.join(NGINX, "error.log"), log)
        os.chmod(log, 0o644)
        bad = ("-o", "rstdiag.log_timezone:Mars/Olympus", "-o", "rstdiag.log_clock_skew:nan",
               "-o", "rstdiag.log_window:-3")
        told = ('RSTDIAG: log_timezone "Mars/Olympus" is not auto, local, UTC or +HH:MM; using auto. '
                'log_clock_skew "nan" is not a number of seconds within a day; estimating it. '
                'log_window "-3" is not 0.001 to 3600 seconds; using 1 s.')
        good, _ = LogLines.matches(log)
        for rows in ((), ("-o", f'uat:rstdiag_log_sources:"{self.tmp}/none1.log","nginx","UTC",""',
                          "-o", f'uat:rstdiag_log_sources:"{self.tmp}/none2.log","nginx","UTC",""')):
            with self.subTest(table_rows=len(rows) // 2):
                found, err = LogLines.matches(log, *bad, *rows)
                self.assertEqual(found, good)
                self.assertEqual(err.count(told), 1, err)
                self.assertEqual(tshark_run.without_log_clocks(err).count("RSTDIAG"), 1 + len(rows) // 2, err)   # and each missing file once

    def test_more_than_eight_log_sources(self):
        rows = []
        for n in range(10):
            rows += ["-o", f'uat:rstdiag_log_sources:"{self.tmp}/source{n}.log","nginx","UTC",""']
        rc, diagnosed, err = run(os.path.join(CAPTURES, "refused.pcap"), *rows)
        self.assertEqual(rc, 0, err)
        self.assertEqual(without_cause(diagnosed), labels("refused.pcap"))
        self.assertEqual(err.count("RSTDIAG: only 8 log sources are used (the log_file preference first, then "
                                   "the table's rows); the other rows are left out"), 1, err)
        self.assertEqual(err.count("cannot open log file"), 8, err)

    def test_bad_table_row_on_the_command_line(self):
        """A bad time zone in a row: the row is named, used with the zone estimated, and tshark goes on."""
        rc, rows, err = run(os.path.join(CAPTURES, "refused.pcap"),
                            "-o", 'uat:rstdiag_log_sources:"/nonexistent/x.log","nginx","Mars",""')
        self.assertEqual(rc, 0, err)
        self.assertEqual(without_cause(rows), labels("refused.pcap"))
        self.assertEqual(err.count('RSTDIAG: log sources row 1 (/nonexistent/x.log): log_timezone "Mars" is not '
                                   'auto, local, UTC or +HH:MM; using auto.'), 1, err)
        self.assertEqual(err.count("RSTDIAG: cannot open log file /nonexistent/x.log"), 1, err)
        self.assertEqual(err.count("RSTDIAG"), 2, err)

    def test_bad_rows_in_a_profile_table(self):
        """A profile's table with a row of garbage skew and a row without a
        file: both named; the good row still gives the nginx matches."""
        config = os.path.join(self.tmp, "config")
        os.makedirs(config, exist_ok=True)
        log = os.path.join(self.tmp, "profile-error.log")
        shutil.copy(os.path.join(NGINX, "error.log"), log)
        os.chmod(log, 0o644)
        with open(os.path.join(config, "rstdiag_log_sources"), "w") as f:
            f.write('"/nonexistent/bad.log","nginx","auto","nan"\n"","nginx","auto",""\n'
                    f'"{log}","nginx","auto",""\n')
        os.environ["WIRESHARK_CONFIG_DIR"] = config
        try:
            found, err = LogLines.matches(os.path.join(self.tmp, "none.log"))
        finally:
            del os.environ["WIRESHARK_CONFIG_DIR"]
        self.assertEqual(len(found), 12, err)
        self.assertEqual(err.count('RSTDIAG: log sources row 1 (/nonexistent/bad.log): log_clock_skew "nan" is not '
                                   'a number of seconds within a day; estimating it.'), 1, err)
        self.assertEqual(err.count("RSTDIAG: log sources row 2 names no file; it is left out"), 1, err)
        self.assertNotIn("Error loading table", err)


class DayOfLogs(BadInput):
    """A day of nginx error log, 1,000,000 lines, against the 20 s nginx
    capture: the 37 lines nginx wrote during the capture, amid a day of other
    lines, 10,000 of them reset lines of a client the capture does not have.
    Both passes finish; the lines are placed against the capture's time; only
    the first 20 within it are listed. (Not timed: bench/ measures.)"""

    LINES = 1_000_000
    CLIENT = "198.19.77.7"   # in no packet of the capture
    ZONE = datetime.timedelta(hours=8)   # nginx wrote local time, Asia/Shanghai

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        out, _ = tshark_run.tshark(BUILD, "-r", os.path.join(NGINX, "proxy.pcap"), "-T", "fields",
                                   "-e", "frame.time_epoch")
        times = [float(t) for t in out.split()]
        zone = cls.ZONE.total_seconds()
        first, last = min(times) + zone, max(times) + zone   # as nginx's clock reads them, "UTC" = local
        with open(os.path.join(NGINX, "error.log"), "rb") as f:
            own = f.read().splitlines(keepends=True)
        epoch = datetime.datetime(1970, 1, 1)
        own_times = [(datetime.datetime.strptime(line[:19].decode(), "%Y/%m/%d %H:%M:%S") - epoch).total_seconds()
                     for line in own]
        start = own_times[0] - 12 * 3600
        step = 86400 / cls.LINES
        stamps = {}
        cls.inside, cls.outside, cls.own_lineno = [], 0, {}
        lines, n = [], 0
        for i in range(cls.LINES):
            t = start + i * step
            while len(cls.own_lineno) < len(own) and own_times[len(cls.own_lineno)] <= t:
                n += 1
                lines.append(own[len(cls.own_lineno)])
                cls.own_lineno[len(cls.own_lineno) + 1] = n
            n += 1
            second = int(t)
            if second not in stamps:
                stamps[second] = (epoch + datetime.timedelta(seconds=second)).strftime("%Y/%m/%d %H:%M:%S")
            # nowhere near the capture's edges (the clock's skew is estimated), dense within it
            near_edge = abs(second - first) < 5 or abs(second - last) < 5
            within = first < second < last
            if not near_edge and (i % 100 == 0 or (within and i % 2 == 0)):
                lines.append(f"{stamps[second]} [info] 4064#4064: *{i} recv() failed (104: Connection reset by "
                             f"peer) while sending to client, client: {cls.CLIENT}, server: rstdiag.test\n".encode())
                if within:
                    cls.inside.append(n)
                else:
                    cls.outside += 1
            else:
                lines.append(f"{stamps[second]} [notice] 4064#4064: *{i} a quiet line\n".encode())
        cls.log = os.path.join(cls.tmp, "day.log")
        with open(cls.log, "wb") as f:
            f.writelines(lines)
        os.chmod(cls.log, 0o644)

    def tree(self, *passes):
        start = time.monotonic()
        out, err = tshark_run.tshark(BUILD, "-r", os.path.join(NGINX, "proxy.pcap"), *passes,
                                     "-o", f"rstdiag.log_file:{self.log}", "-q", "-z", "rstdiag,tree")
        sys.stderr.write(f"[{' '.join(passes) or 'one pass'}: {time.monotonic() - start:.2f} s] ")
        return out, err

    def test_one_pass(self):
        """The lines are placed at the end, on stderr."""
        out, err = self.tree()
        # line 7 of error.log is the one reset line nginx wrote within the capture with no RST
        inside = sorted(self.inside + [self.own_lineno[7]])
        reset_lines = 13 + len(self.inside) + self.outside
        self.assertIn(f"RSTDIAG: log file {self.log}: {reset_lines} reset lines: 12 explained by a RST, "
                      f"{len(inside)} in the capture's time with no RST, {self.outside} outside the capture's time\n"
                      f"  in the capture's time with no RST: line {', '.join(map(str, inside[:20]))} "
                      f"(the first 20 of {len(inside)})\n", err)
        self.assertEqual(tshark_run.without_log_clocks(err).count("RSTDIAG"), 1, err)
        self.assertRegex(out, rf"\nApplication log lines with no RST +{len(inside) + self.outside} ")

    def test_two_passes(self):
        """The stats tree: counts, and a node for each of the first 20 lines only."""
        out, _ = self.tree("-2")
        inside = sorted(self.inside + [self.own_lineno[7]])
        rows = {m.group(1).strip(): int(m.group(2)) for m in re.finditer(r"\n( *\S.*?)\s{2,}(\d+)\s", out)}
        self.assertEqual(rows["Application log lines with no RST"], len(inside) + self.outside)
        self.assertEqual(rows["In the capture's time"], len(inside))
        self.assertEqual(rows["Outside the capture's time"], self.outside)
        listed = [n for n in rows if n.startswith(f"{self.log} line ")]
        self.assertEqual(sorted(int(n.rsplit(" ", 1)[1]) for n in listed), inside[:20])
        self.assertEqual(rows[f"{self.log}: more lines, not listed"], len(inside) - 20)


class Captures(BadInput):
    """Damaged or awkward captures, most made by tests/derive_captures.py from
    the committed ones: the RSTs come out as the kernel labelled them."""

    def derived(self, name):
        return derive_captures.derive(name, self.derived_dir)

    originals = {}

    def original(self, source):
        """The diagnosis of a committed capture, checked against its labels (once)."""
        if source not in self.originals:
            rc, rows, err = run(os.path.join(CAPTURES, source))
            self.assertEqual((rc, err), (0, ""))
            self.assertEqual(without_cause(rows), labels(source))
            self.originals[source] = rows
        return self.originals[source]

    def assert_same_as_original(self, name):
        """One pass and two (-2): the diagnosis of the capture it comes from, nothing said."""
        source = derive_captures.DERIVED[name][0]
        path = self.derived(name)
        for passes in ((), ("-2",)):
            rc, rows, err = run(path, *passes)
            self.assertEqual((rc, err), (0, ""), passes)
            self.assertEqual(rows, self.original(source), passes)

    def test_vlan(self):
        self.assert_same_as_original("vlan")

    def test_qinq(self):
        self.assert_same_as_original("qinq")

    def test_ipv6_extension_headers(self):
        self.assert_same_as_original("ipv6_ext_headers")

    def test_gre(self):
        self.assert_same_as_original("gre")
        self.assert_same_as_original("gre_v6")

    def test_vxlan(self):
        self.assert_same_as_original("vxlan")

    def test_ip_in_ip(self):
        self.assert_same_as_original("ipip")
        self.assert_same_as_original("ip6in4")

    def test_sequence_numbers_wrap_around(self):
        for name in ("seq_wrap_reject", "seq_wrap_midtransfer", "seq_wrap_linger"):
            with self.subTest(name=name):
                self.assert_same_as_original(name)

    def test_rst_quoted_in_icmp_error(self):
        """An ICMP error quoting each RST, just before it: the quotes are no RSTs."""
        rc, rows, err = run(self.derived("icmp_quoted_rst"))
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(rows, [(f + n + 1, *rest) for n, (f, *rest) in enumerate(self.original("refused.pcap"))])

    def test_truncated(self):
        """Cut in the middle of the last packet, the third RST: tshark says so,
        the two RSTs before are diagnosed."""
        with open(os.path.join(CAPTURES, "reject_after_read.pcap"), "rb") as f:
            data = f.read()
        path = self.file("truncated.pcap", data[:-10])
        rc, rows, err = run(path)
        self.assertNotEqual(rc, 0)   # 2 up to 4.4, 14 from 4.6: a read error either way
        self.assert_told_once(err, "appears to have been cut short in the middle of a packet")
        self.assertEqual(rows, self.original("reject_after_read.pcap")[:2])

    def test_headers_only_snaplen(self):
        """66 and 54 bytes: the TCP options (the SYNs') or all of them are cut,
        but the fixed header is there; rstdiag reads it from the frame where
        Wireshark gave up, so nothing is lost: the RSTs come out as labelled."""
        for name in ("snaplen_headers", "snaplen54"):
            for passes in ((), ("-2",)):
                rc, rows, err = run(self.derived(name), *passes)
                self.assertEqual((rc, err), (0, ""), (name, passes))
                self.assertEqual(rows, self.original("linger_server.pcap"), (name, passes))

    def test_snaplen_cutting_every_tcp_header(self):
        """44 bytes leave 10 of each TCP header: told once, in either pass."""
        for passes in ((), ("-2",)):
            rc, rows, err = run(self.derived("snaplen44"), *passes)
            self.assertEqual((rc, rows), (0, []))
            self.assert_told_once(err, "RSTDIAG: frame 3: its TCP header could not be read")

    def test_malformed_tcp_header(self):
        """The first RST's data offset is 8 bytes: told, the other RSTs diagnosed."""
        rc, rows, err = run(self.derived("broken_tcp_header"))
        self.assertEqual(rc, 0, err)
        self.assert_told_once(err, "RSTDIAG: frame 8: its TCP header could not be read")
        self.assertEqual(rows, self.original("reject_after_read.pcap")[1:])

    def test_midstream_start(self):
        """No handshake: phase data (the request is in the capture), the roles
        guessed from the ports (right here)."""
        rc, rows, err = run(self.derived("midstream"), fields=DIAGNOSIS + ("rstdiag.evidence",))
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual([row[1:5] for row in rows], [("server", "data", "abortive-close", "TCP_STATE")] * 3)

    def test_duplicate_rsts(self):
        """Each RST twice, the very same datagram (its IPv4 ID): the copy shows
        the RST's own diagnosis and names its frame, in one pass and two; the
        stats tree counts each RST once."""
        original = self.original("linger_server.pcap")
        path = self.derived("duplicate_rsts")
        for passes in ((), ("-2",)):
            rc, rows, err = run(path, *passes, fields=DIAGNOSIS + ("rstdiag.copy_of",))
            self.assertEqual((rc, err), (0, ""), passes)
            self.assertEqual(rows[0::2], [(f + n, *rest, "") for n, (f, *rest) in enumerate(original)], passes)
            self.assertEqual(rows[1::2], [(f + n + 1, *rest, str(f + n)) for n, (f, *rest) in enumerate(original)],
                             passes)
        result = tshark_run.tshark_result(BUILD, "-r", path, "-q", "-z", "rstdiag,tree")
        counts = re.search(r"^All RSTs by cause, phases beneath \(rstdiag.cause\) +(\d+)", result.stdout, re.M)
        self.assertEqual(int(counts.group(1)), len(original), result.stdout)

    def test_captured_twice(self):
        """Every IP datagram again after the frame that follows it, one hop
        further (a capture on both sides of a router): the RSTs diagnosed as
        at the one capture point, in one pass and two; the copy of a RST shows
        its verdict and frame, found by its IPv4 ID or, without one (IPv6, ID 0),
        by its numbers and other hop limit (alike RSTs answering segments in
        flight, and refusals of a SYN sent again, paired in order)."""
        keys = ("ip.id", "ip.ttl", "ipv6.hlim", "tcp.seq_raw")
        for name in ("twice_injected", "twice_reject_after_read", "twice_unread_pipelined",
                     "twice_data_after_close", "twice_linger_server_v6", "twice_refused_v6",
                     "twice_syn_retry_refused"):
            rc, want, err = run(os.path.join(CAPTURES, derive_captures.DERIVED[name][0]), fields=DIAGNOSIS + keys)
            path = self.derived(name)
            for passes in ((), ("-2",)):
                rc, rows, err = run(path, *passes, fields=DIAGNOSIS + keys + ("rstdiag.copy_of",))
                self.assertEqual((rc, err), (0, ""), (name, passes))
                self.assertEqual(len(rows), 2 * len(want), (name, passes))
                originals = {}
                for row in rows:
                    hops = int(row[6] or row[7])
                    if row[9] == "":
                        originals.setdefault((row[5], hops, row[8]), []).append(row)
                for frame, *verdict, ip_id, ttl, hlim, seq in want:
                    first = originals[(ip_id, int(ttl or hlim), seq)].pop(0)
                    self.assertEqual(tuple(first[1:5]), tuple(verdict), (name, passes, frame))
                    copies = [row for row in rows if row[9] == str(first[0])]
                    self.assertEqual(len(copies), 1, (name, passes, frame))
                    self.assertEqual(tuple(copies[0][1:5]), tuple(verdict), (name, passes, frame))
                    self.assertEqual(int(copies[0][6] or copies[0][7]), int(ttl or hlim) - 1, (name, passes))

    def test_rst_with_payload(self):
        """No Linux stack puts data in a RST: sender and phase as labelled, the
        shape nonstandard, the cause unknown, and the evidence says why."""
        rc, rows, err = run(self.derived("rst_payload"), fields=DIAGNOSIS + ("rstdiag.shape", "rstdiag.evidence"))
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual([(f, s, p) for f, s, p, *_ in rows], [l[:3] for l in labels("reject_after_read.pcap")])
        for _, _, _, cause, reason, shape, evidence in rows:
            self.assertEqual((cause, reason, shape), ("unknown", "NONE", "nonstandard"))
            self.assertIn(f"server sent a RST carrying {len(derive_captures.RST_PAYLOAD)} bytes of data, "
                          "which Linux never does", evidence)

    def test_corrupted_bytes(self):
        """editcap -E, as in Wireshark's fuzz tests (thousands more in tests/check_sanitized.sh)."""
        source = os.path.join(CAPTURES, "abort_midtransfer.pcap")
        path = os.path.join(self.tmp, "corrupted.pcap")
        subprocess.run(["editcap", "-E", "0.02", "--seed", "7", source, path], check=True, capture_output=True)
        os.chmod(path, 0o644)
        rc, rows, err = run(path)
        self.assertIn(rc, (0, 2), err)
        self.assertNotIn("RSTDIAG", err)
        labelled = {l[0]: l for l in labels("abort_midtransfer.pcap")}
        intact = [row for row in without_cause(rows) if labelled.get(row[0]) == row]
        self.assertGreaterEqual(len(intact), 1, rows)


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv[1])
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
