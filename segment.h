/* SPDX-License-Identifier: GPL-2.0-or-later */
/* segment.h - the one place that turns a frame into TCP/IP facts, and what
 * the frames say about their hosts across streams.
 *
 * Glue (libwireshark types), like log_sources.c: packet-rstdiag.c and track-rstdiag.c call it;
 * it calls only the plain-C core (conn_track, rst_host, rst_origin, rst_vendor).
 */
#ifndef SEGMENT_H
#define SEGMENT_H

#include "packet-rstdiag.h"

#include "conn_track.h"
#include "rst_host.h"
#include "rst_origin.h"
#include "rst_vendor.h"

/* One frame's TCP segment, read once. */
typedef struct {
    tcp_segment seg;
    address src;          /* shallow: valid while the frame is dissected (or kept, segment_defer) */
    address dst;
    guint32 stream;       /* tcp.stream */
    gint tcp_header;      /* offset of its TCP header in the frame's bytes; -1: not found */
    syn_layout layout;    /* a SYN's option layout; LAYOUT_UNSEEN for other segments */
    gboolean tapped;      /* read from TCP's tap; FALSE: this pass runs no taps (tshark -2's first) */
} frame_segment;

/* Handoff: the tap and protocols the reader looks for, and the maps across
 * streams (emptied with each file). */
void segment_register(void);
/* Per file: the stream table and the deferred segments emptied; when rstdiag
 * is enabled, the helper tap listener that makes the taps queue their data. */
void segment_file_init(gboolean enabled);
void segment_file_cleanup(void);

/* The state of a tcp.stream (file scope; zeroed when first asked for), and
 * whether it holds a RST (SIDE_SENT_RST on either side) as
 * segment_stream_tracked last found it: told without touching that state. */
conn_stream *segment_stream(guint32 stream, gboolean *had_reset);
/* Call after tracking a segment that may change it: a RST, or a segment of a
 * stream that had one (a new attempt on its 4-tuple starts the state over). */
void segment_stream_tracked(guint32 stream, const conn_stream *st);

/* Segments whose tracking waits, with their streams: copies that outlive
 * their frames, in capture order. segment_defer is FALSE (nothing kept) for
 * an address longer than an IPv6 one. */
#define SEGMENT_DEFER_MAX 64
gboolean segment_defer(const frame_segment *fs, conn_stream *st);
guint segment_deferred_count(void);
const frame_segment *segment_deferred(guint index, conn_stream **st);
void segment_deferred_clear(void);

/* The frame's innermost TCP segment (not a header quoted in an ICMP error);
 * FALSE when it has none. A TCP header that could not be read is told once. */
gboolean segment_read(tvbuff_t *tvb, packet_info *pinfo, frame_segment *fs);

/* What a RST says about itself (MPTCP reason option, vendor code in its
 * window, its payload); NULL when nothing. File scope. */
rst_vendor_info *segment_vendor(tvbuff_t *tvb, const frame_segment *fs);

/* ---- hosts across streams --------------------------------------------- */

/* Learn from a segment its sender's TTL, IP ID, SYN option layout and the
 * handshake round trips; st is its stream before it. */
void hosts_learn(const frame_segment *fs, const conn_stream *st);
/* What the capture says about a host; NULL when nothing yet. */
const host_facts *hosts_find(const address *addr);
/* The sender's facts and a RST it received on another stream, in another
 * role, just before this one (rst_origin's relay sign), into facts. */
void hosts_path_facts(const frame_segment *fs, rst_sender role, path_facts *facts);
/* Remember the RST fs, sent by sender, as the latest its receiver got. */
void hosts_remember_reset(const frame_segment *fs, rst_sender sender);

#endif /* SEGMENT_H */
