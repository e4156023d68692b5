#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Score rstdiag against the kernel's own reasons on the committed captures.

tests/captures/labels.tsv holds, for every RST frame of every capture, the
reason the sending kernel reported through the tcp:tcp_send_reset tracepoint
(made by tests/gen/generate_captures.py). This script runs the real tshark
with the built plugin over the captures, once in one pass and once with -2,
and checks:
  - every RST frame is diagnosed, and both passes give identical fields;
  - sender and phase equal the labels for every RST;
  - a `high` verdict: rstdiag.kernel_reason equals the traced reason, and the
    traced reason is one the diagnosed cause allows (tools/cause_table);
  - any verdict: the traced reason is named, as the best guess or in
    rstdiag.kernel_reason.alt, and allowed by the cause or an alternative one
    (a `medium` verdict says the wire cannot decide between its readings).
  - the origin: a RST no kernel traced (a device's) is diagnosed middlebox,
    a traced one never is, and its stack is linux or unknown; where a label
    names the expected cause (scenarios with devices in the path), the
    diagnosed cause is that one.
Evidence from later frames (the claimed sender kept talking, the receiver
ignored the RST) reaches the RST only in two passes, so those RSTs may
differ between the passes; the two-pass values are scored. A capture may
come with <name>.prefs: "-o" preferences, one per line.
A single capture (--capture) fails on any of these. With --all the run fails
only when the share of RSTs whose traced reason is named falls below
--min-agreement (the acceptance floor); the best guesses' agreement is
printed beside it, and --table prints the per-capture table for the README.
"""
import argparse
import collections
import csv
import os
import subprocess
import sys

import tshark_run

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIELDS = ["frame.number", "rstdiag.sender", "rstdiag.phase", "rstdiag.cause",
          "rstdiag.kernel_reason", "rstdiag.kernel_reason.alt", "rstdiag.cause.alt",
          "rstdiag.confidence", "rstdiag.shape",
          "rstdiag.acceptable", "rstdiag.trigger", "rstdiag.origin", "rstdiag.ignored",
          "rstdiag.origin.evidence", "rstdiag.evidence", "rstdiag.stack"]
LATER_FRAMES_NOTE = "after this RST"


def tshark(build, capture, *extra):
    out, err = tshark_run.tshark(build, "-r", capture, *extra)
    if err.strip():
        sys.exit(f"tshark wrote to stderr for {capture}:\n{err}")
    return out


def capture_prefs(capture):
    path = os.path.splitext(capture)[0] + ".prefs"
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [arg for line in f if line.strip() for arg in ("-o", line.strip())]


def diagnose(build, capture, two_pass):
    args = capture_prefs(capture) + ["-Y", "rstdiag", "-T", "fields", "-E", "separator=/t"]
    for field in FIELDS:
        args += ["-e", field]
    out = tshark(build, capture, *(["-2"] if two_pass else []), *args)
    rows = {}
    for line in out.splitlines():
        values = line.split("\t")
        rows[int(values[0])] = dict(zip(FIELDS, values))
    return rows, out


def reset_frames(build, capture):
    out = tshark(build, capture, "-Y", "tcp.flags.reset == 1", "-T", "fields", "-e", "frame.number")
    return {int(x) for x in out.split()}


def cause_reasons(build):
    out = subprocess.run([os.path.join(build, "cause_table"), "tsv"], capture_output=True,
                         text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        cause, reasons, _ = line.split("\t")
        table[cause] = set(reasons.split(",")) if cause != "unknown" else set()
    return table


def load_labels(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    by_capture = collections.OrderedDict()
    for row in rows:
        by_capture.setdefault(row["capture"], []).append(row)
    return by_capture


def check_capture(build, captures_dir, name, labels, allowed):
    """Returns (problems, disagreements, stats) for one capture: problems are
    always failures, disagreements with the traced reason count against the
    agreement figures."""
    path = os.path.join(captures_dir, name)
    problems = []
    disagreements = []
    one_pass, _ = diagnose(build, path, two_pass=False)
    two_pass, _ = diagnose(build, path, two_pass=True)
    for frame, final in two_pass.items():
        later = LATER_FRAMES_NOTE in final["rstdiag.origin.evidence"] or final["rstdiag.ignored"]
        if not later and one_pass.get(frame) != final:
            problems.append(f"frame {frame}: one-pass and two-pass (-2) diagnoses differ")
    resets = reset_frames(build, path)
    if set(one_pass) != resets or set(two_pass) != resets:
        problems.append(f"RST frames {sorted(resets)} but diagnosed {sorted(one_pass)}")
    stats = collections.Counter(rsts=len(labels))
    causes = collections.Counter()
    for label in labels:
        frame = int(label["frame"])
        got = two_pass.get(frame)
        if got is None:
            problems.append(f"frame {frame}: no rstdiag diagnosis")
            continue
        causes[got["rstdiag.cause"]] += 1
        for field, key in (("rstdiag.sender", "sender"), ("rstdiag.phase", "phase")):
            if got[field] != label[key]:
                problems.append(f"frame {frame}: {field} {got[field]!r}, label {label[key]!r}")
        origin_ok = (got["rstdiag.origin"] == "middlebox") == (label["origin"] == "middlebox")
        if not origin_ok:
            problems.append(f"frame {frame}: origin {got['rstdiag.origin']!r} for a RST "
                            f"{'no kernel traced' if label['origin'] == 'middlebox' else 'a kernel traced'}: "
                            f"{got['rstdiag.origin.evidence']}")
        if label["origin"] != "middlebox" and got["rstdiag.stack"] not in ("linux", "unknown"):
            problems.append(f"frame {frame}: stack {got['rstdiag.stack']!r} for a RST a Linux kernel traced")
        if label["cause"] and got["rstdiag.cause"] != label["cause"]:
            problems.append(f"frame {frame}: cause {got['rstdiag.cause']!r}, expected {label['cause']!r} "
                            f"({label['intent']}): {got['rstdiag.evidence']}")
        stats["origin_ok"] += origin_ok
        device = label["origin"] == "middlebox"
        stats["device_rsts" if device else "host_rsts"] += 1
        stats["device_flagged" if device else "host_flagged"] += got["rstdiag.origin"] == "middlebox"
        stats["sender_ok"] += got["rstdiag.sender"] == label["sender"]
        stats["phase_ok"] += got["rstdiag.phase"] == label["phase"]
        truth = label["kernel_reason"]
        reason_ok = got["rstdiag.kernel_reason"] == truth
        cause_ok = truth in allowed.get(got["rstdiag.cause"], set())
        alt_causes = [c for c in got["rstdiag.cause.alt"].split(",") if c]
        named_ok = ((reason_ok or truth in got["rstdiag.kernel_reason.alt"].split(","))
                    and any(truth in allowed.get(c, set()) for c in [got["rstdiag.cause"]] + alt_causes))
        stats["reason_ok"] += reason_ok
        stats["cause_ok"] += cause_ok
        stats["named_ok"] += named_ok
        said = (f"frame {frame}: traced {truth} ({label['intent']}), diagnosed "
                f"{got['rstdiag.cause']}/{got['rstdiag.kernel_reason']} ({got['rstdiag.confidence']}; "
                f"alternatives {got['rstdiag.kernel_reason.alt'] or 'none'}): {got['rstdiag.evidence']}")
        if not named_ok or (got["rstdiag.confidence"] == "high" and not (reason_ok and cause_ok)):
            disagreements.append(said)
        elif not (reason_ok and cause_ok):
            print(f"best guess missed, alternative named: {name}: {said}")
    stats["causes"] = causes
    return problems, disagreements, stats


def pct(n, d):
    return f"{100.0 * n / d:.0f} %" if d else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True, help="CMake build directory")
    ap.add_argument("--captures", default=os.path.join(HERE, "captures"))
    ap.add_argument("--capture", help="check only this capture (basename)")
    ap.add_argument("--all", action="store_true", help="check all captures and the agreement threshold")
    ap.add_argument("--min-agreement", type=float, default=0.95)
    ap.add_argument("--table", action="store_true", help="print the README agreement table")
    args = ap.parse_args()

    build = os.path.abspath(args.build)
    labels = load_labels(os.path.join(args.captures, "labels.tsv"))
    allowed = cause_reasons(build)
    names = [args.capture] if args.capture else list(labels)
    if args.capture and args.capture not in labels:
        sys.exit(f"no labels for {args.capture}")

    failed = False
    totals = collections.Counter()
    table = ["| Capture | RSTs | Sender | Phase | Origin | Kernel reason | Cause consistent | Best or alternative "
             "| Diagnosed causes |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in names:
        problems, disagreements, stats = check_capture(build, args.captures, name, labels[name], allowed)
        for p in problems:
            print(f"FAIL {name}: {p}")
        for d in disagreements:
            print(f"{'FAIL' if args.capture else 'disagreement'} {name}: {d}")
        failed |= bool(problems) or (bool(disagreements) and bool(args.capture))
        causes = ", ".join(f"{c} {n}" for c, n in sorted(stats.pop("causes").items()))
        totals.update(stats)
        n = stats["rsts"]
        table.append(f"| {name} | {n} | {pct(stats['sender_ok'], n)} | {pct(stats['phase_ok'], n)} | "
                     f"{pct(stats['origin_ok'], n)} | {pct(stats['reason_ok'], n)} | {pct(stats['cause_ok'], n)} | "
                     f"{pct(stats['named_ok'], n)} | {causes} |")
    n = totals["rsts"]
    table.append(f"| **all** | **{n}** | **{pct(totals['sender_ok'], n)}** | **{pct(totals['phase_ok'], n)}** | "
                 f"**{pct(totals['origin_ok'], n)}** | **{pct(totals['reason_ok'], n)}** | "
                 f"**{pct(totals['cause_ok'], n)}** | **{pct(totals['named_ok'], n)}** | |")
    if args.table:
        print("\n".join(table))
    if args.all:
        print(f"origin: host-stack RSTs flagged middlebox {totals['host_flagged']}/{totals['host_rsts']}, "
              f"device RSTs flagged middlebox {totals['device_flagged']}/{totals['device_rsts']}")
        for key, what in (("reason_ok", "kernel_reason agreement (best guess)"),
                          ("cause_ok", "cause consistency (best guess)")):
            print(f"{what}: {totals[key]}/{n} = {totals[key] / n if n else 0:.1%}")
        share = totals["named_ok"] / n if n else 0
        print(f"traced reason named (best guess or alternative): {totals['named_ok']}/{n} = {share:.1%} "
              f"(minimum {args.min_agreement:.0%})")
        if share < args.min_agreement:
            print("FAIL: the traced reasons named fall below the minimum")
            failed = True
    print(f"{len(names)} capture(s), {n} RSTs: {'FAILED' if failed else 'ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
