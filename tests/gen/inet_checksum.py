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
    """src, dst: the 4-byte IPv4 addresses; segment: TCP header and payload, checksum field zero."""
    return checksum(bytes(src) + bytes(dst) + struct.pack("!BBH", 0, 6, len(segment)) + bytes(segment))
