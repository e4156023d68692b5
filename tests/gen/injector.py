#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""On-path devices used by generate_captures.py, run in the router namespace.

injector.py inject '<json spec>'   (scenarios "injected", "injector_copy")
  spec = {"dev": <router interface towards the server>, "server": <ip>,
          "port": <server port>, "targets": {"<client port>": {"after": N, "offset": K}},
          "ttl": <TTL of the forged RSTs>, "copy": <bool>, "burst": <RSTs per target>,
          "hard": <seconds>}

It watches the server's data segments to each target client port and, after
the N-th one, sends the client RST|ACKs in the server's name: sequence number
the server's next one plus K (0: exactly acceptable; inside the window: the
client answers with a challenge ACK), then K + 1460, K + 2920 ... for a burst,
with its own TTL and a random IP ID -- or, with "copy", the TTL the server's
segment leaves the router with and the IP IDs that continue the server's.
Prints "INJECTED <client port> seq=<n>" per RST and "DONE".

injector.py reap '<json spec>'     (scenario "nat_expiry")
  spec = {"server": <ip>, "port": <server port>, "idle": <seconds>, "conns": N,
          "ttl": <TTL>, "hard": <seconds>}

A NAT/firewall that forgets idle connections and resets both ends: it watches
every connection to the server on all the router's interfaces and, once one
has been quiet for spec["idle"] seconds, sends a RST|ACK to the client in the
server's name and one to the server in the client's name, at each one's next
sequence number. Prints "REAPED <client port>" per connection and "DONE".

Stdlib only, IPv4 only, bounded by spec["hard"].
"""
import json
import random
import socket
import struct
import sys
import time

from inet_checksum import checksum, tcp_checksum

ETH_P_IP = 0x0800
PACKET_OUTGOING = 4


def forged_rst(src, dst, sport, dport, seq, ack, ttl, ip_id=None):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, 0x14, 0, 0, 0)
    tcp = tcp[:16] + struct.pack("!H", tcp_checksum(socket.inet_aton(src), socket.inet_aton(dst), tcp)) + tcp[18:]
    ident = random.randrange(1, 65536) if ip_id is None else ip_id & 0xFFFF
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ident, 0x4000,
                     ttl, 6, 0, socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp


def sniffer(dev=None):
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
    if dev:
        sniff.bind((dev, 0))
    sniff.settimeout(0.2)
    return sniff


def incoming_tcp(sniff):
    """(ip header fields, tcp fields, payload length) of the next incoming TCP/IPv4 packet, or None."""
    try:
        frame, addr = sniff.recvfrom(65535)
    except socket.timeout:
        return None
    if addr[2] == PACKET_OUTGOING:
        return None
    ip = frame[14:]
    if len(ip) < 40 or ip[9] != 6:
        return None
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    ident = struct.unpack("!H", ip[4:6])[0]
    tcp = ip[ihl:]
    sport, dport, seq, ack, off, flags = struct.unpack("!HHIIBB", tcp[:14])
    return {"src": socket.inet_ntoa(ip[12:16]), "dst": socket.inet_ntoa(ip[16:20]), "ttl": ip[8],
            "id": ident, "sport": sport, "dport": dport, "seq": seq, "ack": ack, "flags": flags,
            "payload": total - ihl - (off >> 4) * 4}


def inject(spec, raw):
    targets = {int(k): v for k, v in spec["targets"].items()}
    seen = {port: 0 for port in targets}
    sniff = sniffer(spec["dev"])
    print("READY", flush=True)
    deadline = time.monotonic() + spec["hard"]
    while targets and time.monotonic() < deadline:
        p = incoming_tcp(sniff)
        if not p or p["src"] != spec["server"] or p["sport"] != spec["port"] or p["dport"] not in targets \
                or p["payload"] <= 0:
            continue
        dport = p["dport"]
        seen[dport] += 1
        target = targets[dport]
        if seen[dport] < target["after"]:
            continue
        time.sleep(0.02)   # let the client ACK it first: the RST then answers nothing
        copy = spec.get("copy", False)
        ttl = p["ttl"] - 1 if copy else spec["ttl"]   # as the router forwards the server's packets
        for k in range(spec.get("burst", 1)):
            rst_seq = (p["seq"] + p["payload"] + target["offset"] + 1460 * k) & 0xFFFFFFFF
            raw.sendto(forged_rst(spec["server"], p["dst"], p["sport"], dport, rst_seq, p["ack"], ttl,
                                  p["id"] + 1 + k if copy else None), (p["dst"], 0))
            print("INJECTED %d seq=%d" % (dport, rst_seq), flush=True)
        del targets[dport]


def next_seq(p):
    return (p["seq"] + p["payload"] + (1 if p["flags"] & 0x03 else 0)) & 0xFFFFFFFF


def reap(spec, raw):
    flows = {}   # client port -> {"client": ip, "cnext", "snext", "last"}
    reaped = 0
    sniff = sniffer()
    print("READY", flush=True)
    deadline = time.monotonic() + spec["hard"]
    while reaped < spec["conns"] and time.monotonic() < deadline:
        p = incoming_tcp(sniff)
        now = time.monotonic()
        if p and spec["server"] in (p["src"], p["dst"]) and spec["port"] in (p["sport"], p["dport"]) \
                and not p["flags"] & 0x04:
            from_server = p["src"] == spec["server"]
            cport = p["dport"] if from_server else p["sport"]
            flow = flows.setdefault(cport, {"client": p["dst"] if from_server else p["src"]})
            flow["snext" if from_server else "cnext"] = next_seq(p)
            flow["last"] = now
        for cport, flow in list(flows.items()):
            if "snext" not in flow or "cnext" not in flow or now - flow["last"] < spec["idle"]:
                continue
            raw.sendto(forged_rst(spec["server"], flow["client"], spec["port"], cport, flow["snext"],
                                  flow["cnext"], spec["ttl"]), (flow["client"], 0))
            raw.sendto(forged_rst(flow["client"], spec["server"], cport, spec["port"], flow["cnext"],
                                  flow["snext"], spec["ttl"]), (spec["server"], 0))
            print("REAPED %d" % cport, flush=True)
            del flows[cport]
            reaped += 1


def main():
    spec = json.loads(sys.argv[-1])
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    {"inject": inject, "reap": reap}[sys.argv[1]](spec, raw)
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
