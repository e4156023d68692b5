# SPDX-License-Identifier: GPL-2.0-or-later
"""Internet checksums (RFC 1071) for the packets the generators write by hand."""
import struct


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def tcp_checksum(src, dst, segment):
    """src, dst: the 4-byte IPv4 or 16-byte IPv6 addresses; segment: TCP header and payload,
    checksum field zero. The pseudo-header is RFC 793's for IPv4, RFC 8200 section 8.1's for IPv6."""
    if len(src) == 16:
        pseudo = bytes(src) + bytes(dst) + struct.pack("!I3xB", len(segment), 6)
    else:
        pseudo = bytes(src) + bytes(dst) + struct.pack("!BBH", 0, 6, len(segment))
    return checksum(pseudo + bytes(segment))
