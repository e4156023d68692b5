#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Awkward captures made from the real ones in tests/captures/, for the
bad-input tests and the sanitizer runs: the same packets in a VLAN, in
IPv6 extension headers, in GRE, VXLAN and IP-in-IP tunnels, with sequence
numbers that wrap around 2^32, without their handshake, cut to the headers,
with each RST or each datagram captured twice, RSTs carrying data, a RST quoted in an ICMP
error and a RST with a broken TCP header. Plain Python, deterministic output.
TCP checksums are left as captured (tshark does not check them by default).

Usage: derive_captures.py OUT_DIR   (writes every derived capture there)
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURES = os.path.join(HERE, "captures")

ETH_IPV4, ETH_IPV6 = 0x0800, 0x86DD
TCP_FIN, TCP_SYN, TCP_RST, TCP_ACK = 0x01, 0x02, 0x04, 0x10


# ---- pcap files -------------------------------------------------------------

def read_pcap(path):
    """(header bytes, [(ts_sec, ts_usec, orig_len, frame bytes)]) of a little-endian Ethernet pcap."""
    with open(path, "rb") as f:
        data = f.read()
    magic, _, _, _, _, _, linktype = struct.unpack_from("<IHHiIII", data)
    if magic != 0xA1B2C3D4 or linktype != 1:
        raise ValueError(f"{path}: not a little-endian Ethernet pcap")
    records, pos = [], 24
    while pos + 16 <= len(data):
        sec, usec, caplen, orig = struct.unpack_from("<IIII", data, pos)
        records.append((sec, usec, orig, data[pos + 16:pos + 16 + caplen]))
        pos += 16 + caplen
    return data[:24], records


def write_pcap(path, header, records):
    with open(path, "wb") as f:
        f.write(header)
        for sec, usec, orig, frame in records:
            f.write(struct.pack("<IIII", sec, usec, len(frame), max(orig, len(frame))))
            f.write(frame)
    os.chmod(path, 0o644)


def resized(records, transform):
    """records with frame -> transform(frame); orig_len grows or shrinks with the frame."""
    out = []
    for sec, usec, orig, frame in records:
        new = transform(frame)
        out.append((sec, usec, orig + len(new) - len(frame), new))
    return out


# ---- packet pieces ----------------------------------------------------------

def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4_header(src, dst, proto, payload_len, ident=0, ttl=64):
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, ident, 0x4000, ttl, proto, 0, src, dst)
    return head[:10] + struct.pack("!H", checksum(head)) + head[12:]


class Packet:
    """An Ethernet frame with IPv4 or IPv6 and TCP, with offsets into it."""

    def __init__(self, frame):
        self.frame = bytearray(frame)
        self.ethertype = struct.unpack_from("!H", frame, 12)[0]
        self.ip = 14
        if self.ethertype == ETH_IPV4:
            self.src, self.dst = bytes(frame[26:30]), bytes(frame[30:34])
            self.tcp = self.ip + (frame[14] & 0x0F) * 4 if frame[23] == 6 else None
        elif self.ethertype == ETH_IPV6:
            self.src, self.dst = bytes(frame[22:38]), bytes(frame[38:54])
            self.tcp = self.ip + 40 if frame[20] == 6 else None
        else:
            self.src = self.dst = None
            self.tcp = None

    def tcp_fields(self):
        sport, dport, seq, ack, off, flags = struct.unpack_from("!HHIIBB", self.frame, self.tcp)
        return sport, dport, seq, ack, (off >> 4) * 4, flags

    def flags(self):
        return self.frame[self.tcp + 13] if self.tcp else 0

    def set_ip_payload_len(self, delta):
        """Grows (or shrinks) the IP length fields by delta bytes."""
        if self.ethertype == ETH_IPV4:
            total = struct.unpack_from("!H", self.frame, 16)[0] + delta
            struct.pack_into("!HH", self.frame, 16, total, 0)
            struct.pack_into("!H", self.frame, 24, 0)
            struct.pack_into("!H", self.frame, 24, checksum(bytes(self.frame[14:34])))
        else:
            plen = struct.unpack_from("!H", self.frame, 18)[0] + delta
            struct.pack_into("!H", self.frame, 18, plen)

    def ip_packet(self):
        return bytes(self.frame[14:])


def load(name):
    return read_pcap(os.path.join(CAPTURES, name))


# ---- encapsulations -----------------------------------------------------------

def vlan(records, tags=((0x8100, 100),)):
    """802.1Q tags (outermost first) after the MAC addresses."""
    inserted = b"".join(struct.pack("!HH", tpid, vid) for tpid, vid in tags)
    return resized(records, lambda f: f[:12] + inserted + f[12:])


def ipv6_extension_headers(records):
    """Hop-by-Hop and Destination Options headers (PadN) between IPv6 and TCP."""
    def insert(frame):
        p = Packet(frame)
        if p.ethertype != ETH_IPV6 or p.tcp is None:
            return frame
        hop_by_hop = bytes([60, 0, 1, 4, 0, 0, 0, 0])      # next: destination options
        destination = bytes([6, 0, 1, 4, 0, 0, 0, 0])      # next: TCP
        p.frame[20] = 0                                     # next: hop-by-hop
        p.set_ip_payload_len(len(hop_by_hop) + len(destination))
        return bytes(p.frame[:54]) + hop_by_hop + destination + bytes(p.frame[54:])
    return resized(records, insert)


TUNNEL_A, TUNNEL_B = bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])


def tunnelled(records, wrap):
    """Each IP packet inside an outer IPv4 header from TUNNEL_A to TUNNEL_B
    (or back, for the other direction); wrap(packet, uncaptured) gives
    (protocol, payload), uncaptured being the bytes the snapshot length cut
    off (the committed captures keep 256 bytes of each frame)."""
    first_src = Packet(records[0][3]).src
    out = []
    for n, (sec, usec, orig, frame) in enumerate(records):
        p = Packet(frame)
        if p.src is None:   # ARP stays outside
            out.append((sec, usec, orig, frame))
            continue
        uncaptured = orig - len(frame)
        proto, payload = wrap(p, uncaptured)
        src, dst = (TUNNEL_A, TUNNEL_B) if p.src == first_src else (TUNNEL_B, TUNNEL_A)
        outer = ipv4_header(src, dst, proto, len(payload) + uncaptured, n)
        new = frame[:12] + struct.pack("!H", ETH_IPV4) + outer + payload
        out.append((sec, usec, orig + len(new) - len(frame), new))
    return out


def gre(records):
    return tunnelled(records, lambda p, _: (47, struct.pack("!HH", 0, p.ethertype) + p.ip_packet()))


def ip_in_ip(records):
    return tunnelled(records, lambda p, _: (4 if p.ethertype == ETH_IPV4 else 41, p.ip_packet()))


def vxlan(records):
    def wrap(p, uncaptured):
        inner = bytes(p.frame)
        udp_len = 8 + 8 + len(inner) + uncaptured
        udp = struct.pack("!HHHH", 49200, 4789, udp_len, 0)
        return 17, udp + struct.pack("!II", 0x08000000, 42 << 8) + inner
    return tunnelled(records, wrap)


# ---- rewriting TCP ----------------------------------------------------------------

def streams_by_direction(records):
    """{(src, sport, dst, dport): [first seq, highest seq + length]} over the records."""
    extent = {}
    for _, _, _, frame in records:
        p = Packet(frame)
        if p.tcp is None:
            continue
        sport, dport, seq, _, off, flags = p.tcp_fields()
        if flags & TCP_RST and seq == 0:
            continue
        length = len(frame) - p.tcp - off + bool(flags & TCP_SYN) + bool(flags & TCP_FIN)
        key = (p.src, sport, p.dst, dport)
        if key not in extent:
            extent[key] = [seq, seq]
        first = extent[key][0]
        extent[key][1] = first + max(extent[key][1] - first, (seq - first) % 2**32 + length)
    return extent


def sequence_wrap(records):
    """Every direction's sequence numbers shifted so that they wrap around
    2^32 halfway through what it sends; acks and SACK blocks follow. A RST
    with sequence number 0 (the answer to a SYN) keeps it."""
    shift = {key: (2**32 - first - max(1, (end - first) // 2)) % 2**32
             for key, (first, end) in streams_by_direction(records).items()}

    def rewrite(frame):
        p = Packet(frame)
        if p.tcp is None:
            return frame
        sport, dport, seq, ack, off, flags = p.tcp_fields()
        mine = shift.get((p.src, sport, p.dst, dport), 0)
        theirs = shift.get((p.dst, dport, p.src, sport), 0)
        if not (flags & TCP_RST and seq == 0):
            struct.pack_into("!I", p.frame, p.tcp + 4, (seq + mine) % 2**32)
        if flags & TCP_ACK:
            struct.pack_into("!I", p.frame, p.tcp + 8, (ack + theirs) % 2**32)
        pos, end = p.tcp + 20, p.tcp + off
        while pos < end and p.frame[pos] != 0:          # options: SACK blocks are the peer's numbers
            if p.frame[pos] == 1:
                pos += 1
                continue
            kind, length = p.frame[pos], p.frame[pos + 1]
            if kind == 5:
                for edge in range(pos + 2, pos + length, 4):
                    value = struct.unpack_from("!I", p.frame, edge)[0]
                    struct.pack_into("!I", p.frame, edge, (value + theirs) % 2**32)
            pos += max(length, 2)
        return bytes(p.frame)
    return resized(records, rewrite)


def without_handshake(records):
    """The capture started after the handshakes: no SYN or SYN-ACK."""
    return [r for r in records if not Packet(r[3]).flags() & TCP_SYN]


def snaplen(records, length):
    return [(sec, usec, orig, frame[:length]) for sec, usec, orig, frame in records]


def duplicate_rsts(records):
    """Every RST twice, the copy 1 us later."""
    out = []
    for sec, usec, orig, frame in records:
        out.append((sec, usec, orig, frame))
        if Packet(frame).flags() & TCP_RST:
            out.append((sec, usec + 1, orig, frame))
    return out


def captured_twice(records):
    """A capture taken on both sides of a router: each IP datagram again
    50 us later with its TTL or hop limit one lower, after the frame that
    follows it."""
    out, held = [], None
    for sec, usec, orig, frame in records + [(0, 0, 0, None)]:
        if frame is not None:
            out.append((sec, usec, orig, frame))
        if held is not None:
            copy = Packet(held[3])
            if copy.ethertype == ETH_IPV4:
                copy.frame[22] -= 1
                struct.pack_into("!H", copy.frame, 24, 0)
                struct.pack_into("!H", copy.frame, 24, checksum(bytes(copy.frame[14:34])))
            else:   # the hop limit; no header checksum, and TCP's does not cover it
                copy.frame[21] -= 1
            when = max(held[0] * 1000000 + held[1] + 50, out[-1][0] * 1000000 + out[-1][1])
            out.append((when // 1000000, when % 1000000, held[2], bytes(copy.frame)))
        held = (sec, usec, orig, frame) if frame is not None and Packet(frame).ethertype in (ETH_IPV4, ETH_IPV6) \
            else None
    return out


RST_PAYLOAD = b"connection reset: peer gone\n"   # RFC 9293 3.5.3: a RST may carry diagnostic text


def rsts_with_payload(records):
    def add(frame):
        p = Packet(frame)
        if not p.flags() & TCP_RST:
            return frame
        p.set_ip_payload_len(len(RST_PAYLOAD))
        return bytes(p.frame) + RST_PAYLOAD
    return resized(records, add)


def icmp_quoting_rsts(records):
    """Before every RST, an ICMP host-unreachable from a router quoting that RST."""
    out = []
    for sec, usec, orig, frame in records:
        p = Packet(frame)
        if p.ethertype == ETH_IPV4 and p.flags() & TCP_RST:
            icmp = bytearray(struct.pack("!BBHI", 3, 1, 0, 0) + p.ip_packet())
            struct.pack_into("!H", icmp, 2, checksum(bytes(icmp)))
            router = bytes([198, 18, 255, 1])
            new = frame[:12] + struct.pack("!H", ETH_IPV4) + ipv4_header(router, p.src, 1, len(icmp)) + bytes(icmp)
            out.append((sec, usec, len(new), new))
        out.append((sec, usec + (1 if p.flags() & TCP_RST else 0), orig, frame))
    return out


def broken_tcp_header_in_first_rst(records):
    """The first RST's TCP data offset says 8 bytes (less than the 20 of any header)."""
    out, done = [], False
    for sec, usec, orig, frame in records:
        p = Packet(frame)
        if not done and p.flags() & TCP_RST:
            p.frame[p.tcp + 12] = (2 << 4) | (p.frame[p.tcp + 12] & 0x0F)
            frame, done = bytes(p.frame), True
        out.append((sec, usec, orig, frame))
    return out


# ---- what is derived from what -------------------------------------------------------

DERIVED = {
    # name: (source capture, transform)
    "vlan": ("reject_after_read.pcap", vlan),
    "qinq": ("linger_client.pcap", lambda r: vlan(r, ((0x88A8, 10), (0x8100, 100)))),
    "ipv6_ext_headers": ("linger_server_v6.pcap", ipv6_extension_headers),
    "gre": ("abort_midtransfer.pcap", gre),
    "gre_v6": ("refused_v6.pcap", gre),
    "vxlan": ("data_after_close.pcap", vxlan),
    "ipip": ("keepalive.pcap", ip_in_ip),
    "ip6in4": ("linger_server_v6.pcap", ip_in_ip),
    "seq_wrap_reject": ("reject_after_read.pcap", sequence_wrap),
    "seq_wrap_midtransfer": ("abort_midtransfer.pcap", sequence_wrap),
    "seq_wrap_linger": ("linger_client.pcap", sequence_wrap),
    "midstream": ("reject_after_read.pcap", without_handshake),
    "snaplen44": ("linger_server.pcap", lambda r: snaplen(r, 44)),
    "snaplen54": ("linger_server.pcap", lambda r: snaplen(r, 54)),
    "snaplen_headers": ("linger_server.pcap", lambda r: snaplen(r, 66)),
    "duplicate_rsts": ("linger_server.pcap", duplicate_rsts),
    "twice_injected": ("injected.pcap", captured_twice),
    "twice_reject_after_read": ("reject_after_read.pcap", captured_twice),
    "twice_unread_pipelined": ("unread_pipelined.pcap", captured_twice),
    "twice_data_after_close": ("data_after_close.pcap", captured_twice),
    "twice_linger_server_v6": ("linger_server_v6.pcap", captured_twice),
    "twice_refused_v6": ("refused_v6.pcap", captured_twice),
    "twice_syn_retry_refused": ("syn_retry_refused.pcap", captured_twice),
    "rst_payload": ("reject_after_read.pcap", rsts_with_payload),
    "icmp_quoted_rst": ("refused.pcap", icmp_quoting_rsts),
    "broken_tcp_header": ("reject_after_read.pcap", broken_tcp_header_in_first_rst),
}


def derive(name, out_dir):
    """Writes OUT_DIR/NAME.pcap; returns its path."""
    source, transform = DERIVED[name]
    header, records = load(source)
    path = os.path.join(out_dir, name + ".pcap")
    write_pcap(path, header, transform(records))
    return path


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    for name in DERIVED:
        print(derive(name, out_dir))


if __name__ == "__main__":
    main()
