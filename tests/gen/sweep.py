#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Accuracy sweep: rstdiag against the kernel's own reasons on captures made
with varied parameters.

For each seed, tests/gen/generate_captures.py runs every scenario (or those
named) with that seed: the peers vary their write sizes (as much as or more
than the other side reads) and pauses (shorter or longer), the pair scenarios
draw IPv4 or IPv6, zero to three ordinary background connections to the
same host and port, a path delay, and each host's TCP options and receive
buffer. Every RST is labelled by the tcp:tcp_send_reset tracepoint as in the
committed captures. The built plugin then diagnoses each
capture (two passes, as tests/check_captures.py scores) and this script
prints agreement per kernel reason and per confidence level, and writes
docs/accuracy.md. With --loss (default 1 % and 5 %) it scores copies of the
captures again that miss that share of their frames, as a busy capture host
would, and with --late (default 30 %) copies started after that share of their
frames, to check that the confidence levels hold on incomplete captures.
With --nginx-runs (default 4) it also runs tests/gen/generate_nginx_load.py
that many times (a real nginx under load, its upstream keep-alive off and on
in turn) and scores every RST of nginx's capture against its traced reason;
with --proxy-runs (default 2) it does the same for
tests/gen/generate_proxy_captures.py's HAProxy (HTTP and TCP mode) and Apache.

Not a CI test: it needs root, network namespaces and the tracepoint, and it
takes minutes. Each generator run holds /tmp/rstdiag-gen.lock (one tracer at
a time). Run: python3 tests/gen/sweep.py --build build --seeds 20
"""
import argparse
import collections
import concurrent.futures
import csv
import glob
import gzip
import io
import os
import platform
import random
import re
import shutil
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import check_captures  # noqa: E402  (cause table, labels format)
import derive_captures  # noqa: E402  (the IPv4 header checksum)
import tshark_run  # noqa: E402

GENERATOR = os.path.join(HERE, "generate_captures.py")
NGINX_GENERATOR = os.path.join(HERE, "generate_nginx_load.py")
PROXY_GENERATOR = os.path.join(HERE, "generate_proxy_captures.py")
PROXY_PROGRAMS = ("haproxy", "haproxy-tcp", "apache")
LOCK = "/tmp/rstdiag-gen.lock"
FIELDS = ["frame.number", "rstdiag.sender", "rstdiag.phase", "rstdiag.cause", "rstdiag.kernel_reason",
          "rstdiag.confidence", "rstdiag.cause.alt", "rstdiag.kernel_reason.alt", "rstdiag.origin"]
CONFIDENCES = ["high", "medium", "low"]
# the generator's note on a capture made through its delay line
PATH_DELAY_RE = re.compile(r"note: path delay (\S+): (\d+) ms client to server, (\d+) ms server to client")
# its note on the TCP settings it drew for a capture's two hosts
STACK_RE = re.compile(r"note: stack (\S+): client ([^;\n]*); server ([^\n]*)")
# the settings the report splits the RSTs by: (sysctl, row title, how the pair of hosts reads)
STACK_ROWS = [("tcp_timestamps", "timestamps (RFC 7323)", "negotiated"),
              ("tcp_window_scaling", "window scaling (RFC 7323)", "negotiated"),
              ("tcp_sack", "SACK (RFC 2018)", "negotiated"),
              ("tcp_rmem", "receive buffer default of the server, bytes", "server")]


def scenario_names():
    out = subprocess.run([sys.executable, GENERATOR, "--list"], capture_output=True, text=True, check=True)
    return out.stdout.split()


def generate(seed, names, outdir, labels_name):
    """Label rows of one seeded run (the generator prints them with --only),
    kept beside the captures as labels_name."""
    os.makedirs(outdir, exist_ok=True)
    cmd = ["flock", LOCK, sys.executable, GENERATOR, "--seed", str(seed), "--outdir", outdir,
           "--only", ",".join(names)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    text = run.stdout
    start = text.find("capture\t")
    if run.returncode != 0 or start < 0:
        sys.stderr.write("seed %d: generator failed (%d)\n%s%s" % (seed, run.returncode, text[-2000:],
                                                                  run.stderr[-2000:]))
        return [], text
    table = "".join(line + "\n" for line in text[start:].splitlines()
                    if line.startswith("capture\t") or ".pcap\t" in line)
    with open(os.path.join(outdir, labels_name), "w") as f:
        f.write(table)
    with open(os.path.join(outdir, "paths-" + labels_name), "w") as f:
        f.writelines("%s\t%s/%s\n" % m.groups() for m in PATH_DELAY_RE.finditer(text))
    with open(os.path.join(outdir, "stacks-" + labels_name), "w") as f:
        f.writelines("%s\t%s\t%s\n" % m.groups() for m in STACK_RE.finditer(text))
    return list(csv.DictReader(io.StringIO(table), delimiter="\t")), text


def kept_notes(outdir, kind):
    """capture -> the rest of its line in the <kind>-*.tsv files earlier runs kept:
    "paths" gives 'c2s/s2c' one-way delays in ms (captures without one went over a
    bare link), "stacks" the two hosts' TCP settings"""
    notes = {}
    for path in glob.glob(os.path.join(outdir, kind + "-*.tsv")):
        with open(path) as f:
            notes.update(line.rstrip("\n").split("\t", 1) for line in f if "\t" in line)
    return notes


def stack_keys(words):
    """the totals keys of one capture's TCP settings ('client words\tserver words',
    words as 'tcp_sack=0 ...'): an option is on only when both hosts offer it"""
    hosts = [dict(word.split("=") for word in side.split()) for side in words.split("\t")]
    keys = []
    for sysctl, _, reading in STACK_ROWS:
        if reading == "negotiated":
            value = "on" if all(host[sysctl] == "1" for host in hosts) else "off"
        else:
            value = hosts[1][sysctl]
        keys.append("stack:%s:%s" % (sysctl, value))
    return keys


def saved_labels(outdir):
    """Label rows earlier runs kept beside their captures (--rescore): every
    labels*.tsv, one per run with its own scenarios."""
    rows = []
    for path in sorted(glob.glob(os.path.join(outdir, "labels*.tsv"))):
        with open(path, newline="") as f:
            rows += list(csv.DictReader(f, delimiter="\t"))
    return rows


def read_records(src):
    """(header bytes, byte order, link type, records) of the pcap src."""
    with open(src, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError("%s: not a pcap file" % src)
    records, at = [], 24
    while at + 16 <= len(data):
        size = 16 + struct.unpack(endian + "I", data[at + 8:at + 12])[0]
        records.append(data[at:at + size])
        at += size
    return data[:24], endian, struct.unpack(endian + "I", data[20:24])[0], records


def drop_frames(src, dst, dropped):
    """Copy the pcap src to dst without the frames for which dropped(number,
    count) is true; returns old frame number -> new one for the frames kept."""
    header, _, _, records = read_records(src)
    out, kept = [header], {}
    for number, record in enumerate(records, 1):
        if not dropped(number, len(records)):
            out.append(record)
            kept[number] = len(kept) + 1
    with open(dst, "wb") as f:
        f.write(b"".join(out))
    return kept


# where the IP header starts, by link type: Ethernet, Linux cooked v2 (capture on "any")
IP_AT = {1: (14, 12), 276: (20, 0)}   # (IP header, its EtherType)


def copy_frames(src, dst, hops):
    """Copy the pcap src to dst with each IP datagram again right after it
    (1 us later, before the next frame), its TTL or hop limit `hops` lower:
    a capture taken on both sides of a router. Returns old frame number -> new."""
    header, endian, linktype, records = read_records(src)
    out, kept = [header], {}
    ip_at, type_at = IP_AT.get(linktype, (None, None))
    for number, record in enumerate(records, 1):
        out.append(record)
        kept[number] = len(out) - 1
        frame = bytearray(record[16:])
        if ip_at is None or len(frame) < ip_at + 40:
            continue
        ethertype = struct.unpack("!H", frame[type_at:type_at + 2])[0]
        if ethertype == 0x0800:
            frame[ip_at + 8] = max(1, frame[ip_at + 8] - hops)
            ihl = (frame[ip_at] & 0x0f) * 4
            frame[ip_at + 10:ip_at + 12] = b"\0\0"
            frame[ip_at + 10:ip_at + 12] = struct.pack("!H", derive_captures.checksum(bytes(frame[ip_at:ip_at + ihl])))
        elif ethertype == 0x86DD:
            frame[ip_at + 7] = max(1, frame[ip_at + 7] - hops)
        else:
            continue
        sec, usec = struct.unpack(endian + "II", record[:8])
        when = sec * 1000000 + usec + 1
        if number < len(records):
            nsec, nusec = struct.unpack(endian + "II", records[number][:8])
            when = min(when, nsec * 1000000 + nusec)
        out.append(struct.pack(endian + "II", when // 1000000, when % 1000000) + record[8:16] + bytes(frame))
    with open(dst, "wb") as f:
        f.write(b"".join(out))
    return kept


def derived_copy(outdir, copydir, rows, kind, share, seed):
    """The captures of outdir as a lesser capture would have shown them, in
    copydir with the label rows renumbered: kind "loss", a capture host that
    misses that share of the frames (drawn per seed and capture; the scored RSTs
    are kept), "late", one started after that share of them, or "twice", one
    taken on both sides of a router `share` hops long (copy_frames)."""
    os.makedirs(copydir, exist_ok=True)
    for path in glob.glob(os.path.join(outdir, "paths-*.tsv")) + glob.glob(os.path.join(outdir, "stacks-*.tsv")):
        shutil.copy(path, copydir)
    scored = collections.defaultdict(set)
    for row in rows:
        scored[row["capture"]].add(int(row["frame"]))
    renumbered = {}
    for capture, frames in scored.items():
        if kind == "twice":
            renumbered[capture] = copy_frames(os.path.join(outdir, capture), os.path.join(copydir, capture),
                                              int(share))
            continue
        if kind == "loss":
            rng = random.Random("%d/%s/%g" % (seed, capture, share))
            dropped = lambda number, count: number not in frames and rng.random() < share  # noqa: E731
        else:
            dropped = lambda number, count: number <= int(count * share)  # noqa: E731
        renumbered[capture] = drop_frames(os.path.join(outdir, capture), os.path.join(copydir, capture), dropped)
    rows = [dict(row, frame=str(renumbered[row["capture"]][int(row["frame"])])) for row in rows
            if int(row["frame"]) in renumbered[row["capture"]]]
    with open(os.path.join(copydir, "labels.tsv"), "w", newline="") as f:   # to look into misses
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t")
        writer.writeheader()
        writer.writerows(rows)
    return rows


def diagnose(build, pcap):
    args = ["-r", pcap, "-2", "-Y", "rstdiag", "-T", "fields", "-E", "separator=/t"]
    for field in FIELDS:
        args += ["-e", field]
    out, _ = tshark_run.tshark(build, *args)
    rows = {}
    for line in out.splitlines():
        values = line.split("\t")
        rows[int(values[0])] = dict(zip(FIELDS, values))
    return rows


class Score:
    def __init__(self):
        self.n = 0
        self.hits = collections.Counter()

    def add(self, **checks):
        self.n += 1
        for key, ok in checks.items():
            self.hits[key] += bool(ok)

    def pct(self, key):
        return "%.1f %%" % (100.0 * self.hits[key] / self.n) if self.n else "-"


def verdict_checks(got, label, allowed):
    """sender, kernel reason (best guess), cause and named readings against a label"""
    truth = label["kernel_reason"]
    alts = set(filter(None, got["rstdiag.kernel_reason.alt"].split(",")))
    return dict(sender=got["rstdiag.sender"] == label["sender"],
                reason=got["rstdiag.kernel_reason"] == truth,
                cause=truth in allowed.get(got["rstdiag.cause"], set()),
                named=got["rstdiag.kernel_reason"] == truth or truth in alts)


def traced_run(build, run_dir, generator, tag, rescore, allowed, totals):
    """One run of a generator of proxied traffic (generator: its script and arguments
    but --outdir and --kernel-labels): every RST of its capture, proxy.pcap (or .gz),
    scored against the reason its sender's kernel traced; tag names the run in the
    misses."""
    labels = os.path.join(run_dir, "kernel-labels.tsv")
    if not rescore:
        os.makedirs(run_dir, exist_ok=True)
        cmd = ["flock", LOCK, sys.executable] + generator + ["--outdir", run_dir, "--kernel-labels", labels]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if run.returncode != 0:
            sys.stderr.write("%s: generator failed (%d)\n%s" % (run_dir, run.returncode, run.stderr[-2000:]))
            return
    if not os.path.exists(labels):
        return
    pcap = os.path.join(run_dir, "proxy.pcap")
    if os.path.exists(pcap + ".gz"):
        with gzip.open(pcap + ".gz", "rb") as f, open(pcap, "wb") as out:
            shutil.copyfileobj(f, out)
    got_rows = diagnose(build, pcap)
    with open(labels, newline="") as f:
        for label in csv.DictReader(f, delimiter="\t"):
            got = got_rows.get(int(label["frame"])) or dict.fromkeys(FIELDS, "")
            checks = verdict_checks(got, label, allowed)
            for key in ("all", "confidence:" + (got["rstdiag.confidence"] or "none"),
                        "reason:" + label["kernel_reason"]):
                totals[key].add(**checks)
            if not checks["reason"]:
                totals["misses"][(label["kernel_reason"], got["rstdiag.kernel_reason"], got["rstdiag.cause"],
                                  tag)] += 1


def score_run(build, outdir, rows, allowed, totals):
    delays = kept_notes(outdir, "paths")
    stacks = kept_notes(outdir, "stacks")
    by_capture = collections.defaultdict(list)
    for row in rows:
        by_capture[row["capture"]].append(row)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        diagnosed = dict(zip(by_capture, pool.map(lambda c: diagnose(build, os.path.join(outdir, c)),
                                                   by_capture)))
    for capture, labels in by_capture.items():
        got_rows = diagnosed[capture]
        for label in labels:
            got = got_rows.get(int(label["frame"]))
            truth = label["kernel_reason"]
            if got is None:
                got = dict.fromkeys(FIELDS, "")
            checks = dict(verdict_checks(got, label, allowed),
                          phase=got["rstdiag.phase"] == label["phase"],
                          origin=(got["rstdiag.origin"] == "middlebox") == (label["origin"] == "middlebox"))
            totals["all"].add(**checks)
            totals["reason:" + truth].add(**checks)
            totals["confidence:" + (got["rstdiag.confidence"] or "none")].add(**checks)
            totals["delay:" + delays.get(capture, "0/0")].add(**checks)
            for key in stack_keys(stacks[capture]) if capture in stacks else ():
                totals[key].add(**checks)
                if got["rstdiag.confidence"] == "high":
                    totals["high " + key].add(**checks)
            totals["group:" + ("load" if capture == "load.pcap" else "scenarios")].add(**checks)
            if not checks["reason"]:
                totals["misses"][(truth, got["rstdiag.kernel_reason"], got["rstdiag.cause"],
                                  label["intent"])] += 1


def confidence_table(w, totals):
    all_ = totals["all"]
    w("| confidence | RSTs | share | kernel reason right | cause consistent | best or alternative right |")
    w("|---|---|---|---|---|---|")
    for conf in CONFIDENCES:
        s = totals["confidence:" + conf]
        w("| %s | %d | %.1f %% | %s | %s | %s |" % (conf, s.n, 100.0 * s.n / all_.n if all_.n else 0,
                                                  s.pct("reason"), s.pct("cause"), s.pct("named")))
    w("| all | %d | 100.0 %% | %s | %s | %s |" % (all_.n, all_.pct("reason"), all_.pct("cause"), all_.pct("named")))


def report(totals, args, names, seeds_done, skipped, elapsed):
    lines = []
    w = lines.append
    all_ = totals["all"]
    w("# Accuracy: rstdiag against the kernel's own reasons")
    w("")
    w("Measured by `python3 tests/gen/sweep.py --build build --seeds %d` (not a CI test) on %s, "
      "Linux %s, %s." % (args.seeds, time.strftime("%Y-%m-%d"), platform.release(),
                         "all scenarios" if not args.scenarios else "scenarios " + args.scenarios))
    w("Each seed runs every scenario of tests/gen/generate_captures.py with varied parameters: write "
      "sizes (1x, 2x or 8x: as much as or more than the peer reads) and pauses (0.5x to 2x), IPv4 or IPv6, "
      "0 to 3 background connections to the same host and port, a one-way delay of 0, 5 or 30 ms "
      "in each direction, each host's TCP options (timestamps, window scaling, SACK) and receive buffer. "
      "The truth is the reason the sending "
      "kernel reported through the tcp:tcp_send_reset tracepoint (NONE: no kernel sent it, a device "
      "did). The diagnosis is the plugin's, in two passes.")
    w("")
    w("Seeds %d to %d: %d RSTs in %d seeded runs; %d of %d scenario runs skipped (a varied parameter "
      "broke the scenario's own choreography, e.g. a step waited for data that never came, or no RST "
      "resulted); %s. The phase is scored against the generator's labels of the time." % (
          args.first_seed, args.first_seed + args.seeds - 1, all_.n, seeds_done, skipped,
          seeds_done * len(names), "captures re-diagnosed with --rescore in %.0f min" % (elapsed / 60)
          if args.rescore else "%.0f min" % (elapsed / 60)))
    w("")
    w("| measure | all RSTs |")
    w("|---|---|")
    w("| sender role | %s |" % all_.pct("sender"))
    w("| phase (generator's definition) | %s |" % all_.pct("phase"))
    w("| kernel reason right | %s |" % all_.pct("reason"))
    w("| cause consistent with the kernel's reason | %s |" % all_.pct("cause"))
    w("| best guess or named alternative right | %s |" % all_.pct("named"))
    w("| origin (middlebox or not) | %s |" % all_.pct("origin"))
    w("")
    w("`high` is given only where no other reading fits the traffic; `medium` names the readings the wire "
      "cannot rule out in rstdiag.cause.alt / rstdiag.kernel_reason.alt. The largest such pair is a reset "
      "after normal traffic with no FIN: SO_LINGER{1,0} (TCP_STATE) or close() with received data left "
      "unread (TCP_ABORT_ON_CLOSE) look the same on the wire unless data was still in flight, the "
      "receive window had shrunk, or the RST advertises a window the unread data had cut. rstdiag's "
      "best guess is then the abort that needs no unread data (SO_LINGER{1,0}, as proxies and failing upstreams refuse a request they have read: see nginx "
      "below). The sweep's writes of 2x and 8x what the peer reads, and its servers that never read, "
      "make the other reading common here, so the best-guess figure for TCP_ABORT_ON_CLOSE says more "
      "about the sweep's mix than about traffic elsewhere; the named-alternative figure does not depend "
      "on it. (Checked directly: a Linux server that reads 100 bytes of an 800 to 10,000-byte request "
      "advertises the same window in its answer as one that reads it all.)")
    w("")
    w("Known limits the wire leaves (see the misses below): the first RST of a listener closing with "
      "connections in its accept queue looks like an abort after reading one request (medium, "
      "TCP_ABORT_ON_CLOSE named); only the next RSTs of the burst, from the same port within a "
      "millisecond, show the listener. Results are stored once per packet and must be the same in one "
      "and two passes, so a burst recognised later cannot change the first RST. After the first RST of "
      "a connection, whether a straggler meets the listener (TCP_FLAGS) or no socket at all (NO_SOCKET) "
      "depends on whether the listener was closed meanwhile, which the capture does not show.")
    w("")
    w("## Per confidence level")
    w("")
    confidence_table(w, totals)
    w("")
    # the lesser captures: (kind, shares, heading, what it shows, a table's title)
    lesser = [
        ("loss", args.loss, "Captures that miss packets",
         "A capture host under load, or a mirror port, misses packets the hosts did exchange. The same "
         "captures again, each frame but the scored RSTs dropped at random with the probability given "
         "(drawn per seed and capture). A lost segment may be the one a rule rests on (the unread data, "
         "the ACK of a FIN, the peer's ACK a second RST answers), so a RST whose stream shows a hole "
         "(a segment starting past what its side sent before, an ACK of data never seen) is at most "
         "`medium`, and so is a RST whose numbers copy a segment the capture does not show (a bare RST "
         "at an ack the peer never showed, a RST|ACK at sequence number 0 with nothing of the peer seen): "
         "it answers that missed segment.", "Frames dropped: %g %%"),
        ("late", args.late, "Captures that begin late",
         "A capture started while connections were open misses their handshakes: roles are then guessed "
         "from the ports, the phase may be `unknown`, and neither what a side sent before nor whether a "
         "listener is there shows. The same captures again without their first frames (the share "
         "given); the RSTs left are scored for their kernel reasons (the phase labels describe the "
         "whole connection, so they are not scored here).", "First %g %% of the frames cut"),
        ("twice", args.twice, "Captures taken at two points",
         "A capture on both sides of a router (or of a bridge's ports with a router between) shows every "
         "datagram twice, the copy with a TTL or hop limit one lower. The same captures again with each IP "
         "datagram copied right after itself, the given number of hops further; the original RSTs are "
         "scored. A copy is told by its IPv4 ID (conn_is_copy) or, without one (IPv6, ID 0), by its "
         "numbers and other hop limit (conn_recent_copy); it teaches the tracker nothing, and a RST's "
         "copy shows its RST's verdict. Without that the copy of an ACK after a RST reads as the peer "
         "sending on, and a RST's copy as a second RST.", "Each datagram again, %g hop(s) further"),
    ]
    for kind, shares, heading, text, title in lesser:
        if not shares or not seeds_done:
            continue
        w("## " + heading)
        w("")
        w(text)
        w("")
        for share in shares:
            w(title % (share if kind == "twice" else 100 * share))
            w("")
            confidence_table(w, totals["%s:%g" % (kind, share)])
            w("")
    w("## The load scenario and the rest")
    w("")
    w("`load`: hundreds of connections at once to one server port (40, 80 or 160 per behaviour, drawn per "
      "seed), unread requests, linger-0 closes on either side, data after the server's close, refused "
      "connections and ordinary ones side by side, every client port used twice (tests/gen/"
      "generate_captures.py sc_load). Its RSTs would dominate the totals above, so here apart.")
    w("")
    w("| scenarios | RSTs | sender | kernel reason right | cause consistent | best or alternative right | origin |")
    w("|---|---|---|---|---|---|---|")
    for key in ("group:scenarios", "group:load"):
        s = totals[key]
        w("| %s | %d | %s | %s | %s | %s | %s |" % ("load" if key.endswith("load") else "all others", s.n,
                                                   s.pct("sender"), s.pct("reason"), s.pct("cause"),
                                                   s.pct("named"), s.pct("origin")))
    w("")
    w("## Per path delay")
    w("")
    w("One-way delay client to server / server to client, in ms, drawn per pair scenario from "
      "0, 5 and 30 ms each way (a user-space delay line between the hosts; the devices' scenarios "
      "run without one).")
    w("")
    w("| delay (ms) | RSTs | kernel reason right | cause consistent | best or alternative right | phase |")
    w("|---|---|---|---|---|---|")
    for key in sorted((k for k in totals if k.startswith("delay:")),
                      key=lambda k: tuple(int(x) for x in k[6:].split("/"))):
        s = totals[key]
        w("| %s | %d | %s | %s | %s | %s |" % (key[6:], s.n, s.pct("reason"), s.pct("cause"), s.pct("named"),
                                               s.pct("phase")))
    w("")
    w("## Per TCP setting")
    w("")
    w("Each host of a pair scenario draws its own settings (per network namespace): whether its SYN offers "
      "timestamps, window scaling and SACK (an option is used only when both hosts offer it), and the "
      "default size of its receive buffer (tcp_rmem: 32 KB, the kernel's 128 KB, or 1 MB), which sets the "
      "windows it advertises. The devices' scenarios keep the kernel's defaults.")
    w("")
    w("| setting | value | RSTs | kernel reason right | `high`: RSTs, right | best or alternative right | phase |")
    w("|---|---|---|---|---|---|---|")
    for sysctl, title, _ in STACK_ROWS:
        for key in sorted((k for k in totals if k.startswith("stack:%s:" % sysctl)),
                          key=lambda k: (len(k), k)):
            s, high = totals[key], totals["high " + key]
            w("| %s | %s | %d | %s | %d, %s | %s | %s |" % (title, key.rsplit(":", 1)[1], s.n, s.pct("reason"),
                                                            high.n, high.pct("reason"), s.pct("named"),
                                                            s.pct("phase")))
    w("")
    w("## Per kernel reason (the truth)")
    w("")
    reason_table(w, totals)
    w("")
    w("## Largest misses (kernel reason)")
    w("")
    misses_table(w, totals, "scenario intent", 15)
    traced_section(w, totals["nginx"], "Through nginx under load",
                   "tests/gen/generate_nginx_load.py, %d runs (nginx keeping no idle upstream connections, and "
                   "16, in turn): a real nginx between threaded clients and a threaded upstream for 10 s, requests "
                   "that go through, an upstream that reads a request and resets it with SO_LINGER{1,0} before or "
                   "in the middle of its answer, clients that reset a slow answer; ephemeral ports reused. Every "
                   "RST of nginx's capture is scored against the reason its sender's kernel traced (sender, "
                   "kernel reason, cause; the generator labels no phases)." % args.nginx_runs,
                   "nginx's upstream keep-alive")
    traced_section(w, totals["proxies"], "Through HAProxy and Apache",
                   "tests/gen/generate_proxy_captures.py, %d run%s of each program (HAProxy in HTTP and in TCP "
                   "mode, Apache httpd with mod_proxy): a client that gives up on a slow answer with "
                   "SO_LINGER{1,0}, an upstream that resets before and while answering, an upstream port nothing "
                   "listens on, a client that resets before its request, an aborted upload. Every RST of the "
                   "proxy's capture is scored against the reason its sender's kernel traced; the RSTs the "
                   "programs themselves send are among them." % (args.proxy_runs, "" if args.proxy_runs == 1 else "s"),
                   "proxy")
    return "\n".join(lines) + "\n"


def traced_section(w, totals, heading, text, what):
    """the scores of traced_run's runs, when there are any"""
    if not totals["all"].n:
        return
    w("")
    w("## " + heading)
    w("")
    w(text)
    w("")
    w("| measure | all RSTs |")
    w("|---|---|")
    w("| sender role | %s |" % totals["all"].pct("sender"))
    w("")
    confidence_table(w, totals)
    w("")
    reason_table(w, totals)
    w("")
    misses_table(w, totals, what, 8)


def reason_table(w, totals):
    w("| kernel reason | RSTs | reason right | cause consistent | best or alternative right |")
    w("|---|---|---|---|---|")
    for key in sorted(k for k in totals if k.startswith("reason:")):
        s = totals[key]
        w("| %s | %d | %s | %s | %s |" % (key[7:], s.n, s.pct("reason"), s.pct("cause"), s.pct("named")))


def misses_table(w, totals, what, rows):
    if not totals["misses"]:
        w("No misses.")
        return
    w("| truth | diagnosed reason | diagnosed cause | %s | RSTs |" % what)
    w("|---|---|---|---|---|")
    for (truth, reason, cause, intent), n in totals["misses"].most_common(rows):
        w("| %s | %s | %s | %s | %d |" % (truth, reason or "(none)", cause or "(none)", intent, n))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True, help="CMake build directory with the plugin")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--scenarios", help="comma-separated scenario names (default: all)")
    ap.add_argument("--workdir", default="/tmp/rstdiag-sweep", help="where the captures go")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "accuracy.md"))
    ap.add_argument("--rescore", action="store_true",
                    help="diagnose the captures an earlier run left in --workdir again, generating none")
    ap.add_argument("--loss", default="0.01,0.05", type=lambda v: [float(x) for x in v.split(",") if x],
                    help="also score copies of the captures missing this share of their frames "
                         "(comma-separated; empty: none)")
    ap.add_argument("--nginx-runs", type=int, default=4,
                    help="also score this many runs of nginx under load (tests/gen/generate_nginx_load.py)")
    ap.add_argument("--proxy-runs", type=int, default=2,
                    help="also score this many runs of each of tests/gen/generate_proxy_captures.py's programs")
    ap.add_argument("--twice", default="1", type=lambda v: [int(x) for x in v.split(",") if x],
                    help="also score copies of the captures showing each IP datagram again, this many hops "
                         "further, as a capture on both sides of a router (comma-separated; empty: none)")
    ap.add_argument("--late", default="0.3", type=lambda v: [float(x) for x in v.split(",") if x],
                    help="also score copies of the captures without this share of their first frames, "
                         "as a capture started late (comma-separated; empty: none)")
    args = ap.parse_args()
    if os.geteuid() != 0 and not args.rescore:
        sys.exit("sweep: needs root (network namespaces, tracepoint)")

    build = os.path.abspath(args.build)
    names = args.scenarios.split(",") if args.scenarios else scenario_names()
    allowed = check_captures.cause_reasons(build)
    totals = collections.defaultdict(Score)
    totals["misses"] = collections.Counter()
    t0 = time.monotonic()
    seeds_done = skipped = 0
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        outdir = os.path.join(args.workdir, "seed-%d" % seed)
        if args.rescore:
            rows = saved_labels(outdir)
        else:
            labels_name = "labels.tsv" if not args.scenarios else "labels-%s.tsv" % "-".join(names)
            rows, log = generate(seed, names, outdir, labels_name)
            skipped += log.count(" skipped with seed ")
            with open(os.path.join(outdir, "skipped-" + labels_name), "w") as f:
                f.write("%d\n" % log.count(" skipped with seed "))
        if args.rescore:
            for path in glob.glob(os.path.join(outdir, "skipped*")):
                with open(path) as f:
                    skipped += int(f.read())
        if not rows:
            continue
        seeds_done += 1
        score_run(build, outdir, rows, allowed, totals)
        for kind, share in ([("loss", rate) for rate in args.loss] + [("late", share) for share in args.late]
                            + [("twice", hops) for hops in args.twice]):
            key = "%s:%g" % (kind, share)
            copydir = os.path.join(args.workdir, "%s-%g" % (kind, share), "seed-%d" % seed)
            totals.setdefault(key, collections.defaultdict(Score))
            totals[key].setdefault("misses", collections.Counter())
            score_run(build, copydir, derived_copy(outdir, copydir, rows, kind, share, seed), allowed, totals[key])
        all_ = totals["all"]
        print("seed %d: %d RSTs so far; kernel reason %s, cause %s, best-or-alternative %s" % (
            seed, all_.n, all_.pct("reason"), all_.pct("cause"), all_.pct("named")), flush=True)
    nginx = totals["nginx"] = collections.defaultdict(Score)
    nginx["misses"] = collections.Counter()
    for run in range(args.nginx_runs):
        keepalive = 16 if run % 2 else 0
        traced_run(build, os.path.join(args.workdir, "nginx-load-%d" % (run + 1)),
                   [NGINX_GENERATOR, "--keepalive", str(keepalive)], "keepalive %d" % keepalive,
                   args.rescore, allowed, nginx)
    proxies = totals["proxies"] = collections.defaultdict(Score)
    proxies["misses"] = collections.Counter()
    for run in range(args.proxy_runs):
        for program in PROXY_PROGRAMS:
            traced_run(build, os.path.join(args.workdir, "%s-%d" % (program, run + 1)), [PROXY_GENERATOR, program],
                       program, args.rescore, allowed, proxies)
    text = report(totals, args, names, seeds_done, skipped, time.monotonic() - t0)
    sys.stdout.write("\n" + text)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
