#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""make_error_log.py N [RESET_EVERY [START SPAN [CLIENT]]] > error.log: an nginx
error log of N lines in which one line in RESET_EVERY (default 100) reports a
connection reset. The lines are spread evenly over SPAN seconds from START
(Unix time, written as UTC; default 1700000000 and 50 lines a second); the
reset lines name client CLIENT (default: addresses that vary)."""
import sys
import time

n = int(sys.argv[1])
every = int(sys.argv[2]) if len(sys.argv) > 2 else 100
start = float(sys.argv[3]) if len(sys.argv) > 3 else 1700000000
span = float(sys.argv[4]) if len(sys.argv) > 4 else n / 50
fixed_client = sys.argv[5] if len(sys.argv) > 5 else None
out = sys.stdout
for i in range(n):
    stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(int(start + span * i / n)))
    client = fixed_client or "198.18.%d.%d" % ((i // 250) % 250, i % 250)
    if i % every == 0:
        out.write(f'{stamp} [info] 4064#4064: *{i} recv() failed (104: Connection reset by peer) while sending '
                  f'to client, client: {client}, server: rstdiag.test, request: "POST /api/item?id={i} HTTP/1.1", '
                  f'upstream: "http://198.18.101.2:8080/api/item?id={i}", host: "rstdiag.test"\n')
    else:
        out.write(f'{stamp} [warn] 4064#4064: *{i} an upstream response is buffered to a temporary file '
                  f'/var/cache/nginx/proxy_temp/{i % 10}/00/{i:010d} while reading upstream, client: {client}, '
                  f'server: rstdiag.test, request: "GET /static/{i}.js HTTP/1.1", host: "rstdiag.test"\n')
