#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""valgrind memcheck over the stock tshark with the built plugin.

Every committed capture (tests/captures/*.pcap, the nginx capture, the
example) is read once under memcheck, two-pass (-2) with full trees (-V),
the nginx error.log as log_file and the stats tree (-z rstdiag,tree), so
tracking, classifying, matching, rendering and the tap all run. It fails on
any memcheck error (invalid read or write, uninitialised value, bad free...)
and on any definite leak with a frame in the plugin (rstdiag.so or its
sources); tshark's own leaks at exit are not ours, nor are the nodes of the
-z stats tree, which tshark never frees. The plugin is unloaded at
exit, so --keep-debuginfo=yes keeps its frames named.

Usage: check_valgrind.py BUILD_DIR [CAPTURE...]   (default: all of them)
Exits 77 (skipped) when valgrind is not installed.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUR_SOURCES = {"plugin.c", "packet-rstdiag.c", "track-rstdiag.c", "segment.c", "log_sources.c", "stats-rstdiag.c",
               "conn_track.c", "rst_classify.c", "log_index.c", "log_match.c"}


def ours(frame):
    obj = frame.findtext("obj") or ""
    return os.path.basename(obj) == "rstdiag.so" or frame.findtext("file") in OUR_SOURCES


def describe(error):
    lines = [error.findtext("kind") + ": " + (error.findtext("what") or error.findtext("xwhat/text") or "")]
    for frame in error.find("stack").iter("frame"):
        where = frame.findtext("fn") or frame.findtext("ip")
        if frame.findtext("file"):
            where += f" ({frame.findtext('file')}:{frame.findtext('line')})"
        lines.append(f"    {where} in {os.path.basename(frame.findtext('obj') or '?')}")
    return "\n".join(lines[:14])


def leak_is_ours(error):
    """A definite leak with a plugin frame, unless the stats_tree framework
    allocated it: tshark never frees the trees of -z (its own ip_srcdst,tree
    leaks the same way), and the plugin cannot free them."""
    for frame in error.find("stack").iter("frame"):   # innermost first
        if ours(frame):
            return True
        if (frame.findtext("fn") or "").startswith("stats_tree_"):
            return False
    return False


def problems(xml_path):
    """Memcheck errors, and definite leaks through plugin code."""
    found = []
    for error in ET.parse(xml_path).getroot().iter("error"):
        kind = error.findtext("kind")
        if kind.startswith("Leak_"):
            if kind == "Leak_DefinitelyLost" and leak_is_ours(error):
                found.append(describe(error))
        else:
            found.append(describe(error))
    return found


def main():
    build = os.path.abspath(sys.argv[1])
    captures = sys.argv[2:] or (sorted(glob.glob(os.path.join(ROOT, "tests", "captures", "*.pcap")))
                                + [os.path.join(ROOT, "tests", "captures", "nginx", "proxy.pcap"),
                                   os.path.join(ROOT, "examples", "resets.pcap")])
    if not shutil.which("valgrind"):   # the Debian chroots of tools/compat.sh have none
        print("SKIPPED: valgrind is not installed (apt-get install valgrind); nothing was checked")
        return 77
    scratch = tempfile.mkdtemp(prefix="rstdiag-valgrind.")
    os.chmod(scratch, 0o777)   # tshark may run as nobody (tools/tshark-with-plugin)
    log = os.path.join(scratch, "error.log")
    shutil.copy(os.path.join(ROOT, "tests", "captures", "nginx", "error.log"), log)
    os.chmod(log, 0o644)
    failures = 0
    try:
        for capture in captures:
            name = os.path.relpath(capture, ROOT)
            xml = os.path.join(scratch, "memcheck.xml")
            env = dict(os.environ, RSTDIAG_TSHARK_PREFIX=" ".join([
                "valgrind", "--tool=memcheck", "--keep-debuginfo=yes", "--leak-check=full",
                "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite", "--num-callers=40",
                "--xml=yes", f"--xml-file={xml}"]))
            run = subprocess.run([os.path.join(ROOT, "tools", "tshark-with-plugin"), build, "-r", capture,
                                  "-2", "-V", "-o", f"rstdiag.log_file:{log}", "-z", "rstdiag,tree"],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=600)
            found = problems(xml) if os.path.exists(xml) else ["valgrind wrote no report"]
            if run.returncode != 0:
                found.append(f"tshark exited with {run.returncode}: {run.stderr.strip()[-2000:]}")
            print(f"{'FAIL' if found else 'ok  '} {name}: {len(found)} problem(s)")
            for problem in found:
                print("  " + problem.replace("\n", "\n  "))
            failures += bool(found)
            if os.path.exists(xml):
                os.remove(xml)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"memcheck over {len(captures)} captures: {failures} with problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
