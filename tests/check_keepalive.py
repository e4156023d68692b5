#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The real keep-alive race (tests/captures/keepalive/, made by
tests/gen/generate_keepalive_race.py): nginx reusing an upstream keep-alive
connection that the backend closes after 2 s idle, 25 ms away.

labels.tsv holds every RST's reason as the backend's kernel traced it and
whether it answered a request on a reused idle connection. Every such RST
must be keepalive-race, origin endpoint, with the kernel's own reason, its
evidence naming the idle gap and the backend's 2 s timer (Gunicorn's
default); no RST of the capture may be called a middlebox's; the statistics
tree counts them under its keep-alive races group, at their idle gap. Each race
RST carries nginx's "upstream prematurely closed connection" line of the
request it killed: the line's request is the last one nginx sent on that
stream (read from the capture's HTTP, not from times).

Usage: check_keepalive.py BUILD_DIR
"""
import csv
import os
import re
import shutil
import sys
import tempfile

import tshark_run

HERE = os.path.dirname(os.path.abspath(__file__))
DIR = os.path.join(HERE, "captures", "keepalive")
FIELDS = ["frame.number", "tcp.stream", "rstdiag.cause", "rstdiag.origin", "rstdiag.kernel_reason",
          "rstdiag.evidence", "rstdiag.log.lineno", "rstdiag.log.request"]
EVIDENCE = re.compile(r"idle \d\.\d\d s before the request: matches Gunicorn keepalive 2 s; fix: ")


def main():
    build = sys.argv[1]
    with open(os.path.join(DIR, "labels.tsv"), newline="") as f:
        labels = list(csv.DictReader(f, delimiter="\t"))
    # tshark may run as an unprivileged user (tools/tshark-with-plugin): a copy it can read
    tmp = tempfile.mkdtemp(prefix="rstdiag-keepalive-")
    try:
        os.chmod(tmp, 0o755)
        log = shutil.copy(os.path.join(DIR, "error.log"), tmp)
        os.chmod(log, 0o644)
        out, err = tshark_run.tshark(build, "-r", os.path.join(DIR, "race.pcap"), "-2", "-o",
                                     "rstdiag.log_file:" + log, "-Y", "rstdiag",
                                     "-T", "fields", "-E", "separator=/t", *sum((["-e", f] for f in FIELDS), []))
    finally:
        shutil.rmtree(tmp)
    told = tshark_run.without_log_clocks(err).strip()
    problems = [f"tshark wrote to stderr: {told}"] if told else []
    got = {}
    for line in out.splitlines():
        values = dict(zip(FIELDS, line.split("\t")))
        got[values["frame.number"]] = values
    races = [row for row in labels if row["race"] == "1"]
    if not races:
        problems.append("labels.tsv has no race RST")
    for row in labels:
        d = got.get(row["frame"])
        if d is None:
            problems.append(f"frame {row['frame']}: not diagnosed")
            continue
        if d["rstdiag.origin"] == "middlebox":
            problems.append(f"frame {row['frame']}: origin middlebox ({d['rstdiag.evidence']})")
        if row["race"] != "1":
            continue
        want = {"rstdiag.cause": "keepalive-race", "rstdiag.origin": "endpoint",
                "rstdiag.kernel_reason": row["kernel_reason"]}
        for field, value in want.items():
            if d[field] != value:
                problems.append(f"frame {row['frame']}: {field} {d[field]!r}, expected {value!r}")
        if not EVIDENCE.search(d["rstdiag.evidence"]):
            problems.append(f"frame {row['frame']}: evidence names no idle gap and timer: {d['rstdiag.evidence']}")
    # the statistics tree: the races, under their idle gap to the second
    tree, _ = tshark_run.tshark(build, "-r", os.path.join(DIR, "race.pcap"), "-q", "-z", "rstdiag,tree")
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S.*?|\s\S.*?)\s{2,}(\d+)\s", tree, re.M)}
    diagnosed_races = sum(1 for d in got.values() if d["rstdiag.cause"] == "keepalive-race")
    group = 'Idle gaps of keep-alive races (rstdiag.cause == "keepalive-race")'
    if counts.get(group) != diagnosed_races or counts.get(" idle 2 s before the request") != len(races):
        problems.append(f"stats tree: keep-alive races {counts.get(group)}, idle 2 s "
                        f"{counts.get(' idle 2 s before the request')}; expected {diagnosed_races} and {len(races)}")
    # the request each stream carried last, as nginx sent it to the backend
    requests, _ = tshark_run.tshark(build, "-r", os.path.join(DIR, "race.pcap"), "-Y", "http.request",
                                    "-T", "fields", "-e", "tcp.stream", "-e", "http.request.method",
                                    "-e", "http.request.uri", "-e", "http.request.version")
    last_request = {}
    for line in requests.splitlines():
        stream, method, uri, version = line.split("\t")
        last_request[stream] = f"{method} {uri} {version}"
    lines_used = []
    for row in races:
        d = got.get(row["frame"], {})
        want = last_request.get(d.get("tcp.stream"))
        if not d.get("rstdiag.log.lineno") or d.get("rstdiag.log.request") != want:
            problems.append(f"frame {row['frame']}: log line {d.get('rstdiag.log.lineno')!r} with request "
                            f"{d.get('rstdiag.log.request')!r}, expected nginx's line for {want!r}")
        lines_used.append(d.get("rstdiag.log.lineno"))
    if len(set(lines_used)) != len(lines_used):
        problems.append(f"a line on two race RSTs: {lines_used}")
    for p in problems:
        print("FAIL", p)
    print(f"{len(labels)} RSTs, {len(races)} keep-alive races checked, each with nginx's line of its request: "
          f"{'FAILED' if problems else 'ok'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
