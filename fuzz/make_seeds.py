#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Writes the seed inputs of the fuzz corpora (fuzz/corpus/*/seed-*).

tracker: the TCP segments of every committed capture, four streams per
input, in fuzz_tracker.c's encoding (sequence and ack numbers relative to
what each side sent, as the harness models it, where they fit).
log_reader: every committed log, under a few header variants (each format,
plain and gzip, several matcher settings), in fuzz_log_reader.c's layout.

Found inputs (crash-*, or kept for coverage) live beside the seeds and are
never rewritten. Usage: fuzz/make_seeds.py (needs tshark).
"""
import decimal
import glob
import os
import struct
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
STREAMS = 4
FIELDS = ["tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.seq_raw",
          "tcp.ack_raw", "tcp.len", "tcp.window_size", "ip.ttl", "ipv6.hlim", "frame.time_epoch",
          "frame.number"]
SYN, FIN, RST, ACK = 0x002, 0x001, 0x004, 0x010
M32 = 0xFFFFFFFF


def segments(capture):
    out = subprocess.run(["tshark", "-r", capture, "-Y", "tcp", "-T", "fields", "-E", "occurrence=l"]
                         + [x for f in FIELDS for x in ("-e", f)],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        v = dict(zip(FIELDS, line.split("\t")))
        yield {
            "stream": int(v["tcp.stream"]),
            "src": (v["ip.src"] or v["ipv6.src"], int(v["tcp.srcport"])),
            "sport": int(v["tcp.srcport"]), "dport": int(v["tcp.dstport"]),
            "flags": int(v["tcp.flags"], 16) & 0x0FFF,
            "seq": int(v["tcp.seq_raw"]), "ack": int(v["tcp.ack_raw"]), "len": int(v["tcp.len"]),
            "win": int(v["tcp.window_size"] or 0), "ttl": int(v["ip.ttl"] or v["ipv6.hlim"] or 0),
            "us": int(decimal.Decimal(v["frame.time_epoch"]) * 1000000), "frame": int(v["frame.number"]),
        }


def seq_after(a, b):
    d = (a - b) & M32
    return d != 0 and d < 0x80000000


def encode_time(now, us):
    """(mode, operand bytes) for the move from now to us."""
    d = us - now
    if d == 0:
        return 0, b""
    if 0 < d < 256:
        return 1, struct.pack("<B", d)
    if 0 < d < 65536:
        return 2, struct.pack("<H", d)
    if d > 0 and d % 1000 == 0 and d // 1000 < 65536:
        return 3, struct.pack("<H", d // 1000)
    if d > 0 and d % 1000000 == 0 and d // 1000000 < 65536:
        return 4, struct.pack("<H", d // 1000000)
    if -65536 < d < 0:
        return 5, struct.pack("<H", -d)
    return 7, struct.pack("<Q", (us + (1 << 60)) << 3)   # absolute


def encode_tracker(group):
    """group: up to four lists of segments, one per stream."""
    header = bytearray(struct.pack("<HB", 1000 & 0xFFFF, 1000 >> 16))   # response timeout 1001 ms
    ends = []
    for segs in group + [[]] * (STREAMS - len(group)):
        a = segs[0]["src"] if segs else None
        ends.append(a)
        header += struct.pack("<HHB", segs[0]["sport"] if segs else 0, segs[0]["dport"] if segs else 0, 0)
    order = sorted(((s, i) for i, segs in enumerate(group) for s in segs), key=lambda x: x[0]["frame"])
    model = {}   # (stream, side) -> [seen, next, last_ack]
    body = bytearray()
    frame, now = 0, 0
    for seg, i in order:
        side = 0 if seg["src"] == ends[i] else 1
        me = model.setdefault((i, side), [False, 0, 0])
        peer = model.setdefault((i, 1 - side), [False, 0, 0])
        gap = max(0, min(3, seg["frame"] - frame - 1))
        frame += 1 + gap
        tmode, toperand = encode_time(now, seg["us"])
        now = seg["us"]
        if seg["seq"] == me[1]:
            smode, soperand = 0, b""
        else:
            smode, soperand = 3, struct.pack("<I", seg["seq"])
        if seg["ack"] == peer[1]:
            amode, aoperand = 0, b""
        else:
            amode, aoperand = 2, struct.pack("<I", seg["ack"])
        lmode = 0 if seg["len"] == 0 else 1 if seg["len"] < 256 else 2 if seg["len"] < 65536 else 3
        loperand = b"" if lmode == 0 else struct.pack(["<B", "<H", "<I"][lmode - 1], seg["len"])
        win, shift = seg["win"], 0
        while win >= 65536:
            win >>= 1
            shift += 1
        body += struct.pack("<BHB", i | side << 2 | tmode << 3 | gap << 6, seg["flags"],
                            smode | amode << 3 | lmode << 5 | (0x80 if shift else 0))
        body += soperand + aoperand + loperand + struct.pack("<H", win)
        if shift:
            body += struct.pack("<B", shift)
        body += struct.pack("<B", seg["ttl"] & 0xFF) + toperand
        # the harness's model (fuzz_tracker.c model_segment)
        if seg["flags"] & ACK:
            me[2] = seg["ack"]
        if not seg["flags"] & RST:
            end = (seg["seq"] + (1 if seg["flags"] & SYN else 0) + seg["len"] + (1 if seg["flags"] & FIN else 0)) & M32
            if not me[0] or seq_after(end, me[1]):
                me[1] = end
            me[0] = True
    return bytes(header + body)


def write(harness, name, data):
    path = os.path.join(CORPUS, harness, name)
    with open(path, "wb") as f:
        f.write(data)


def tracker_seeds():
    captures = sorted(glob.glob(os.path.join(ROOT, "tests", "captures", "*.pcap")))
    captures += [os.path.join(ROOT, "tests", "captures", "nginx", "proxy.pcap"),
                 os.path.join(ROOT, "examples", "resets.pcap")]
    for capture in captures:
        streams = {}
        for seg in segments(capture):
            streams.setdefault(seg["stream"], []).append(seg)
        ids = sorted(streams)
        name = os.path.splitext(os.path.basename(capture))[0]
        if capture.endswith("proxy.pcap"):
            name = "nginx_proxy"
        for n in range(0, len(ids), STREAMS):
            group = [streams[s] for s in ids[n:n + STREAMS]]
            write("tracker", f"seed-{name}-{n // STREAMS}", encode_tracker(group))


def log_header(fmt, storage, zone=0, skew=0x8000, window=0, events=64, seed=1, lines=16, cut=128):
    return struct.pack("<BBBBBHBBIBBB", fmt, storage, zone, 0, 0, skew, window, events, seed, 33, lines, cut)


def log_seeds():
    logs = {name: os.path.join(ROOT, "tests", "fixtures", "logs", f"{name}.log")
            for name in ("apache", "envoy", "generic", "haproxy")}
    logs["nginx"] = os.path.join(ROOT, "tests", "captures", "nginx", "error.log")
    formats = {"nginx": 1, "apache": 2, "haproxy": 3, "envoy": 4, "generic": 5}
    for name, path in logs.items():
        with open(path, "rb") as f:
            text = f.read()
        if name == "nginx":
            text = text[:4000]   # within the fuzzer's max_len
        write("log_reader", f"seed-{name}-auto", log_header(0, 0) + text)
        write("log_reader", f"seed-{name}-own-format", log_header(formats[name], 0, zone=3) + text)
        write("log_reader", f"seed-{name}-gzip", log_header(0, 1, zone=4, skew=23, window=4, seed=7) + text)
    write("log_reader", "seed-gzip-cut", log_header(0, 2, cut=100) + text)
    write("log_reader", "seed-gzip-two-members", log_header(0, 3, zone=2) + text)
    write("log_reader", "seed-binary", log_header(0, 0) + b"2023/11/14 22:13:20 [error]\0 reset")


if __name__ == "__main__":
    for harness in ("tracker", "log_reader"):
        os.makedirs(os.path.join(CORPUS, harness), exist_ok=True)
        for old in glob.glob(os.path.join(CORPUS, harness, "seed-*")):
            os.remove(old)
    tracker_seeds()
    log_seeds()
