/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rst_keepalive.h - the keep-alive race, one step of the classifier ladder.
 *
 * A connection kept open between requests (HTTP keep-alive, a proxy's
 * upstream pool) is closed by one side's idle timer just as the other side
 * reuses it: the request crosses the closer's FIN, or reaches it just after,
 * and the closer's kernel resets it. Plain C + GLib.
 */
#ifndef RST_KEEPALIVE_H
#define RST_KEEPALIVE_H

#include "rst_classify.h"

/* Called by rst_classify() after the other rules: when rst is the closer's
 * answer to a request sent after the connection sat idle, re-diagnose out as
 * a keep-alive race (cause, kernel reason, evidence, keepalive_idle_us). */
void rst_keepalive_race(const conn_stream *st, const tcp_segment *rst, const rst_settings *settings,
                        rst_diagnosis *out);

#endif /* RST_KEEPALIVE_H */
