#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""On-path RST injector used by generate_captures.py (scenario "injected").

Runs in the router namespace:  injector.py inject '<json spec>'
  spec = {"dev": <router interface towards the server>, "server": <ip>,
          "port": <server port>, "targets": {"<client port>": {"after": N, "offset": K}},
          "ttl": <TTL of the forged RSTs>, "hard": <seconds>}

It watches the server's data segments to each target client port and, after
the N-th one, sends the client a RST|ACK in the server's name: sequence number
the server's next one plus K (0: exactly acceptable; inside the window: the
client answers with a challenge ACK), with its own TTL and a random IP ID.
Prints "INJECTED <client port> seq=<n>" per RST and "DONE". Stdlib only,
IPv4 only, bounded by spec["hard"].
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


def forged_rst(src, dst, sport, dport, seq, ack, ttl):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, 0x14, 0, 0, 0)
    tcp = tcp[:16] + struct.pack("!H", tcp_checksum(socket.inet_aton(src), socket.inet_aton(dst), tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.randrange(1, 65536), 0x4000,
                     ttl, 6, 0, socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp


def main():
    spec = json.loads(sys.argv[-1])
    targets = {int(k): v for k, v in spec["targets"].items()}
    seen = {port: 0 for port in targets}
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
    sniff.bind((spec["dev"], 0))
    sniff.settimeout(0.2)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    print("READY", flush=True)
    deadline = time.monotonic() + spec["hard"]
    while targets and time.monotonic() < deadline:
        try:
            frame, addr = sniff.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[2] == PACKET_OUTGOING:
            continue
        ip = frame[14:]
        if len(ip) < 40 or ip[9] != 6 or socket.inet_ntoa(ip[12:16]) != spec["server"]:
            continue
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        tcp = ip[ihl:]
        sport, dport, seq, ack, off = struct.unpack("!HHIIB", tcp[:13])
        payload = total - ihl - (off >> 4) * 4
        if sport != spec["port"] or dport not in targets or payload <= 0:
            continue
        seen[dport] += 1
        target = targets[dport]
        if seen[dport] < target["after"]:
            continue
        time.sleep(0.02)   # let the client ACK it first: the RST then answers nothing
        client = socket.inet_ntoa(ip[16:20])
        rst_seq = (seq + payload + target["offset"]) & 0xFFFFFFFF
        raw.sendto(forged_rst(spec["server"], client, sport, dport, rst_seq, ack, spec["ttl"]), (client, 0))
        print("INJECTED %d seq=%d" % (dport, rst_seq), flush=True)
        del targets[dport]
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
