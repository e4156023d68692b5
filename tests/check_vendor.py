#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Vendor reasons in RSTs decode to their documented meanings.

The captures in tests/captures/vendor/ are real connections whose RSTs
tests/gen/make_vendor_captures.py rewrote as a NetScaler, an F5 BIG-IP, an
IETF RST-diagnostic sender, a Linux kernel carrying its reset reason or an
MPTCP stack would; expected.tsv gives, per RST, the cause, origin, kernel
reason, rstdiag.vendor text and code the real tshark with the plugin must
show (an empty vendor: the RST says nothing about itself).
"""
import csv
import os
import sys

import tshark_run

HERE = os.path.dirname(os.path.abspath(__file__))
VENDOR = os.path.join(HERE, "captures", "vendor")
FIELDS = ["frame.number", "rstdiag.cause", "rstdiag.origin", "rstdiag.kernel_reason", "rstdiag.vendor",
          "rstdiag.vendor.code"]


def main():
    build = sys.argv[1]
    with open(os.path.join(VENDOR, "expected.tsv"), newline="") as f:
        expected = list(csv.DictReader(f, delimiter="\t"))
    problems = []
    diagnosed = {}
    for capture in sorted({row["capture"] for row in expected}):
        args = ["-r", os.path.join(VENDOR, capture), "-2", "-Y", "rstdiag", "-T", "fields", "-E", "separator=/t"]
        for field in FIELDS:
            args += ["-e", field]
        out, err = tshark_run.tshark(build, *args)
        if err.strip():
            problems.append(f"{capture}: tshark wrote to stderr: {err.strip()}")
        for line in out.splitlines():
            values = line.split("\t")
            diagnosed[(capture, values[0])] = dict(zip(FIELDS, values))
    for row in expected:
        got = diagnosed.get((row["capture"], row["frame"]))
        want = {"rstdiag.cause": row["cause"], "rstdiag.origin": row["origin"],
                "rstdiag.kernel_reason": row["kernel_reason"],
                "rstdiag.vendor": row["vendor"], "rstdiag.vendor.code": row["code"]}
        if got is None:
            problems.append(f"{row['capture']} frame {row['frame']}: not diagnosed")
            continue
        for field, value in want.items():
            if got[field] != value:
                problems.append(f"{row['capture']} frame {row['frame']}: {field} {got[field]!r}, expected {value!r}")
    for p in problems:
        print("FAIL", p)
    print(f"{len(expected)} RSTs with vendor reasons checked: {'FAILED' if problems else 'ok'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
