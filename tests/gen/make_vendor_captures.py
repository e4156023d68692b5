#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Constructed captures for the vendor reason codes (tests/captures/vendor/).

No device here writes NetScaler, F5 or IETF reasons into its RSTs, and no
kernel here carries its reset reason, so these captures take real
connections from the ground-truth captures and rewrite only their RSTs the
way those senders do:
  netscaler.pcap  window field = NetScaler reset code (CTX200852); two with
                  the appliance's own TTL (the corroboration the code needs),
                  one with the server's (a window value alone: not counted)
  payload.pcap    RST payload: F5 BIG-IP tm.rstcause.pkt text, the IETF RST
                  diagnostic payload (CBOR form of draft -11, fixed form of
                  draft -17) and plain text
  linux_reason.pcap  the 1000-byte payload whose first byte is the Linux
                  sk_rst_reason (draft-ietf-tcpm-rst-diagnostic-payload
                  Appendix A): once the traced reason, once another one; and
                  the MPTCP MP_TCPRST option (RFC 8684 3.6)
The expected decoding is in tests/captures/vendor/expected.tsv, checked by
tests/check_vendor.py. Deterministic; stdlib only:

    tests/gen/make_vendor_captures.py
"""
import os
import struct

from inet_checksum import checksum, tcp_checksum

HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURES = os.path.join(os.path.dirname(HERE), "captures")
OUT = os.path.join(CAPTURES, "vendor")
ETHERNET = 14


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    header, records, at = data[:24], [], 24
    while at + 16 <= len(data):
        ts_sec, ts_usec, caplen, length = struct.unpack("<IIII", data[at:at + 16])
        records.append([ts_sec, ts_usec, bytearray(data[at + 16:at + 16 + caplen]), length])
        at += 16 + caplen
    return header, records


def write_pcap(path, header, records):
    with open(path, "wb") as f:
        f.write(header)
        for ts_sec, ts_usec, frame, length in records:
            f.write(struct.pack("<IIII", ts_sec, ts_usec, len(frame), length) + bytes(frame))


def rewrite_rst(record, window=None, payload=b"", ttl=None, options=b""):
    """Set the window field or TTL, add TCP options (a multiple of 4 bytes) and/or
    append a payload to the IPv4 TCP RST in record."""
    frame = record[2]
    ip = ETHERNET
    ihl = (frame[ip] & 0x0F) * 4
    tcp = ip + ihl
    assert frame[ip + 9] == 6 and frame[tcp + 13] & 0x04, "not a TCP RST"
    assert len(options) % 4 == 0
    header_len = (frame[tcp + 12] >> 4) * 4
    segment = frame[tcp:tcp + header_len] + options + payload
    segment[12] = ((header_len + len(options)) // 4) << 4 | (segment[12] & 0x0F)
    if window is not None:
        segment[14:16] = struct.pack("!H", window)
    segment[16:18] = b"\0\0"
    segment[16:18] = struct.pack("!H", tcp_checksum(frame[ip + 12:ip + 16], frame[ip + 16:ip + 20], segment))
    ip_header = frame[ip:tcp]
    ip_header[2:4] = struct.pack("!H", ihl + len(segment))
    if ttl is not None:
        ip_header[8] = ttl
    ip_header[10:12] = b"\0\0"
    ip_header[10:12] = struct.pack("!H", checksum(bytes(ip_header)))
    record[2] = frame[:ip] + ip_header + segment
    record[3] = len(record[2])


def rst_frames(records):
    return [i for i, r in enumerate(records)
            if r[2][ETHERNET + 9] == 6 and r[2][ETHERNET + (r[2][ETHERNET] & 0x0F) * 4 + 13] & 0x04]


def main():
    os.makedirs(OUT, exist_ok=True)
    # three server abortive closes (SO_LINGER{1,0} after the response)
    header, records = read_pcap(os.path.join(CAPTURES, "linger_server.pcap"))
    first, second, third = rst_frames(records)
    rewrite_rst(records[first], window=9300, ttl=255)     # zombie/idle timeout
    rewrite_rst(records[second], window=9830, ttl=255)    # ACL deny
    rewrite_rst(records[third], window=9700)              # the server's own RST: uncorroborated
    write_pcap(os.path.join(OUT, "netscaler.pcap"), header, records)

    header, records = read_pcap(os.path.join(CAPTURES, "linger_client.pcap"))
    first, second, third = rst_frames(records)
    rewrite_rst(records[first], payload=b"BIG-IP: [0x2664c65:2574] Policy action")
    rewrite_rst(records[second], payload=bytes([0x19, 0x30, 0x39, 0xA1, 0x01, 0x0E]))  # {1: 14}
    rewrite_rst(records[third], payload=b"closed by the application gateway")
    header2, records2 = read_pcap(os.path.join(CAPTURES, "handshake_abort.pcap"))
    rewrite_rst(records2[rst_frames(records2)[0]], payload=bytes([0x33, 0xAA, 0, 9, 0, 0, 0, 0]))
    write_pcap(os.path.join(OUT, "payload.pcap"), header, records)
    write_pcap(os.path.join(OUT, "ietf_fixed.pcap"), header2, records2)

    # three servers closing with the request unread (traced: TCP_ABORT_ON_CLOSE = 11)
    header, records = read_pcap(os.path.join(CAPTURES, "unread_server.pcap"))
    first, second, third = rst_frames(records)
    rewrite_rst(records[first], payload=bytes([11]) + bytes(999))
    rewrite_rst(records[second], payload=bytes([13]) + bytes(999))   # TCP_ABORT_ON_MEMORY
    rewrite_rst(records[third], options=bytes([1, 1, 30, 4, 0x80, 2, 0, 0]))   # MP_TCPRST, lack of resources
    write_pcap(os.path.join(OUT, "linux_reason.pcap"), header, records)


if __name__ == "__main__":
    main()
