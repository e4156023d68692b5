# SPDX-License-Identifier: GPL-2.0-or-later
"""Running the system tshark with the built plugin, for the test scripts."""
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tshark_result(build, *args, timeout=300):
    """The CompletedProcess (text) of tshark with the plugin from build, whatever its exit."""
    cmd = [os.path.join(ROOT, "tools", "tshark-with-plugin"), build, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def tshark(build, *args):
    """(stdout, stderr) of tshark with the plugin from build; fails on a non-zero exit."""
    result = tshark_result(build, *args)
    if result.returncode != 0:
        raise AssertionError(f"tshark failed ({result.returncode}): {' '.join(args)}\n{result.stderr}")
    return result.stdout, result.stderr


CLOCK_LINE = re.compile(r"^RSTDIAG: (.+): (clock offset .*)\n?", re.M)


def log_clocks(err):
    """{log path: its clock sentence}, as rstdiag tells it on stderr at the end."""
    return dict(CLOCK_LINE.findall(err))


# the end report of RSTs tied to a line after their frame was shown (one pass, live capture)
LATE_BLOCK = re.compile(r"^RSTDIAG: log file .+: lines written or tied after their RST's frame was shown:\n"
                        r"(?:  .*\n?)*", re.M)
LATE_TIE = re.compile(r"^  frame (\d+) \(stream (\d+)\): line (\d+)(?: \(line \d+ was shown\))?: ", re.M)


def late_ties(err):
    """{RST frame: (stream, line number)} from the end report of late ties"""
    return {int(f): (int(s), int(n)) for block in LATE_BLOCK.finditer(err)
            for f, s, n in LATE_TIE.findall(block.group(0))}


def without_log_clocks(err):
    """stderr without the clock sentences and the late ties: what else was said."""
    return LATE_BLOCK.sub("", CLOCK_LINE.sub("", err))


def log_matches(build, pcap, log_path, *extra):
    """({RST frame: (stream, matched line number or None)}, stdout, stderr) with log_path as the
    log file, the lines tied after a frame was shown (tshark's end report) taken in; fails when
    tshark says anything besides the log's clock and that report."""
    out, err = tshark(build, "-r", pcap, "-o", f"rstdiag.log_file:{log_path}", *extra, "-Y", "rstdiag",
                      "-T", "fields", "-e", "frame.number", "-e", "tcp.stream", "-e", "rstdiag.log.lineno",
                      "-e", "rstdiag.log.delta", "-e", "rstdiag.log.offset")
    if without_log_clocks(err).strip():
        raise AssertionError(f"tshark complained:\n{err}")
    found = {}
    for line in out.splitlines():
        frame, stream, lineno = line.split("\t")[:3]
        found[int(frame)] = (int(stream), int(lineno) if lineno else None)
    found.update(late_ties(err))
    return found, out, err


def misplaced_lines(expected, found):
    """What is wrong with found ({frame: (stream, lineno)}) against expected.tsv's rows
    (lineno, stream, rst_frames, scenario): a line not on one of its RST frames, on a frame of
    another stream, a line no captured RST caused that got one, a line that is in no row."""
    problems = []
    for row in expected:
        lineno = int(row["lineno"])
        frames = {f for f, (_, n) in found.items() if n == lineno}
        if row["stream"] == "-":
            if frames:
                problems.append(f"line {lineno} ({row['scenario']}) must stay unmatched, is on {sorted(frames)}")
            continue
        if not frames & {int(f) for f in row["rst_frames"].split(",")}:
            problems.append(f"line {lineno} ({row['scenario']}) not on frames {row['rst_frames']}")
        problems += [f"line {lineno} on frame {f} of stream {found[f][0]}" for f in sorted(frames)
                     if found[f][0] != int(row["stream"])]
    known = {int(row["lineno"]) for row in expected}
    stray = {n for _, n in found.values() if n} - known
    if stray:
        problems.append(f"lines matched that no RST caused: {sorted(stray)}")
    return problems
