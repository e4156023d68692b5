# SPDX-License-Identifier: GPL-2.0-or-later
"""Reading an HTTP message head from a socket, for the generators' peers."""

HEAD_END = b"\r\n\r\n"


def read_head(sock, limit=None):
    """The bytes received until a head ends (HEAD_END in them), the peer closes,
    or more than `limit` bytes came; the caller checks for HEAD_END."""
    buf = b""
    while HEAD_END not in buf and (limit is None or len(buf) <= limit):
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf
