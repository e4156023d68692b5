/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conn_track.h - per-TCP-stream state, built from segments in capture order.
 *
 * Plain C + GLib: no libwireshark types, so the state machine can be unit
 * tested directly. One conn_stream per tcp.stream; it is kept for the whole
 * file, so it is packed into 108 bytes.
 */
#ifndef CONN_TRACK_H
#define CONN_TRACK_H

#include <glib.h>
#include <stdint.h>

/* TCP header flag bits, as on the wire. */
enum {
    TCP_FLAG_FIN = 0x001,
    TCP_FLAG_SYN = 0x002,
    TCP_FLAG_RST = 0x004,
    TCP_FLAG_PSH = 0x008,
    TCP_FLAG_ACK = 0x010,
};

/* One TCP segment as the tracker needs it. */
typedef struct {
    uint32_t frame;         /* capture frame number */
    int64_t  time_us;       /* absolute capture time, microseconds */
    uint32_t src_key;       /* identity of the sending endpoint (address + port) */
    uint16_t src_port;
    uint16_t dst_port;
    uint32_t seq;           /* raw sequence number */
    uint32_t ack;           /* raw acknowledgement number */
    uint32_t payload_len;
    uint32_t window;        /* advertised window, scaled when the scale is known */
    uint16_t flags;         /* TCP_FLAG_* */
    uint8_t  ttl;           /* IPv4 TTL or IPv6 hop limit; 0 = unknown */
    int32_t  ip_id;         /* IPv4 identification; -1 for IPv6 or unknown */
} tcp_segment;

/* Per-side flags (conn_side.flags). */
enum {
    SIDE_SEEN           = 1u << 0,  /* sent at least one segment */
    SIDE_SENT_SYN       = 1u << 1,  /* sent a SYN without ACK: the client */
    SIDE_SENT_SYNACK    = 1u << 2,  /* sent a SYN-ACK: the server */
    SIDE_SENT_HS_ACK    = 1u << 3,  /* completed the handshake with a valid ACK */
    SIDE_BAD_HS_ACK     = 1u << 4,  /* acked the peer's SYN with a wrong number */
    SIDE_SENT_FIN       = 1u << 5,
    SIDE_FIN_FIRST      = 1u << 6,  /* closed before the peer did */
    SIDE_FIN_ACKED      = 1u << 7,  /* the peer acked our FIN in a pure ACK */
    SIDE_SENT_RST       = 1u << 8,
    SIDE_ACKED          = 1u << 9,  /* last_ack is valid */
    SIDE_LAST_DATA_PSH  = 1u << 10, /* our latest payload segment ended a write */
    SIDE_DATA_AFTER_FIN = 1u << 11, /* sent new payload after the peer's FIN */
    SIDE_SENT_LAST      = 1u << 12, /* sent the stream's latest segment */
    SIDE_FIN_ACK_LOST   = 1u << 13, /* FIN resent after its ACK: the peer's ACKs get lost */
    SIDE_SENT_PLAIN     = 1u << 14, /* sent a segment without SYN or RST: had a full socket */
    SIDE_IPID_SEQUENTIAL = 1u << 15, /* its latest IPv4 IDs went up in small steps (a counter) */
    /* the peer shut its window (0) after this side's latest new data: the side
     * had filled the peer's buffer and could send no more (RFC 9293 3.8.6.1) */
    SIDE_WINDOW_SHUT_ON   = 1u << 16,
    /* the capture missed some of this side's segments: a later one began past
     * its sequence space, or the peer acknowledged more than it showed (what
     * Wireshark calls "previous segment not captured" and "ACKed unseen segment";
     * next_seq and payload_bytes then count what the peer acknowledged) */
    SIDE_UNSEEN_DATA      = 1u << 17,
    /* the peer acked our FIN again in a pure ACK after we resent it (SIDE_FIN_ACK_LOST):
     * one ACK was lost, this one may have arrived */
    SIDE_FIN_REACKED      = 1u << 18,
};

#define CONN_COUNTER_MAX 15
/* The largest window (RFC 7323 2.3): sequence numbers further apart than this
 * are not one connection's. */
#define CONN_SEQ_SPAN_MAX (1u << 30)
/* Largest step between a side's consecutive IPv4 IDs that still looks like a counter. */
#define CONN_IPID_STEP_MAX 64

/* Stream times are absolute capture times in 10 us ticks, truncated to 32
 * bits. Only differences are used, and they are exact for spans up to
 * 11.9 hours, longer than every timer we reason about. */
#define CONN_TICK_US 10

typedef struct {
    uint32_t next_seq;        /* one past the highest sequence number sent */
    uint32_t last_ack;        /* ack number of the latest segment with ACK */
    uint32_t payload_bytes;   /* new payload bytes sent (no retransmissions), or acknowledged by the peer */
    uint32_t last_data_tick;  /* when new payload was last sent */
    uint16_t window_code;     /* latest advertised window, conn_window_encode() */
    uint16_t peak_window_code; /* largest advertised window, conn_window_encode() */
    uint32_t flags;           /* SIDE_* */
    uint16_t ip_id;           /* IPv4 ID of its latest packet that was not a RST */
    uint8_t  ttl;             /* TTL/hop limit of the side's first packet */
    uint8_t  probes : 4;      /* keepalive/window probes not answered yet */
    uint8_t  writes : 4;      /* writes (PSH-ended payload) in the side's latest burst */
    /* What a passive RST may answer: it copies the ack of the segment it answers
     * (conn_find_trigger). Its latest segment other than a RST, and the latest one
     * before it that carried another ack (data, then a FIN sent after the peer's FIN),
     * kept as frames and ticks back from the latest: 0 = none or too far back. */
    uint32_t seg_frame;       /* frame of its latest segment (not a RST) */
    uint32_t seg_tick;        /* when it was sent */
    uint32_t prev_ack;        /* ack of the earlier segment */
    uint16_t prev_frames_back;
    uint16_t prev_ticks_back;
    /* The IPv4 IDs of its latest segments (conn_is_copy; a RST's only where it
     * continues them): the highest, and a bit for it and each of the
     * CONN_IDS_KEPT - 1 below it seen. */
    uint16_t id_top;
    uint16_t id_seen;
} conn_side;

typedef struct {
    conn_side side[2];        /* [0] is the endpoint seen first */
    uint32_t  first_tick;     /* time of the first segment */
    uint32_t  last_tick;      /* time of the latest segment */
    uint32_t  first_key;      /* src_key of side[0] */
} conn_stream;

#define CONN_IDS_KEPT 16

G_STATIC_ASSERT(sizeof(conn_side) == 48);
G_STATIC_ASSERT(sizeof(conn_stream) == 108);

/* TRUE until the first segment has been tracked. */
gboolean conn_is_new(const conn_stream *st);

/* The side sent a segment other than a RST: its sequence space is known. */
gboolean conn_side_tracked(const conn_side *side);

/* The capture missed segments of the stream (SIDE_UNSEEN_DATA on either side), or
 * rst, from side `sender`, acknowledges data the capture never showed: evidence
 * read from what was seen may be incomplete. */
gboolean conn_capture_gap(const conn_stream *st, unsigned sender, const tcp_segment *rst);

/* rst, from side `sender`, answers a segment of the peer the capture never showed.
 * A RST answering a segment takes its numbers from it (RFC 9293 3.10.7.1): a bare
 * RST the segment's ack, so one past the peer's latest ack, of data `sender` did
 * send, copies an ack the peer sent unseen (a peer acks only what it got); a
 * RST|ACK at sequence number 0 answers a segment without ACK (a SYN or a probe),
 * unseen when nothing of the peer was. */
gboolean conn_answers_unseen(const conn_stream *st, unsigned sender, const tcp_segment *rst);

/* Index of the side that sent seg (0 or 1). */
unsigned conn_side_of(const conn_stream *st, const tcp_segment *seg);

/* TRUE when seg opens a new connection attempt on the 4-tuple of an ended one
 * (a SYN after a RST or both FINs), which Wireshark may keep in the same
 * stream: conn_track_segment() then starts the state over. */
gboolean conn_starts_over(const conn_stream *st, const tcp_segment *seg);

/* TRUE when seg, no RST, repeats a datagram of the stream already captured:
 * the same side's IPv4 ID seen lately (a host that counts its IDs gives each
 * datagram its own, retransmissions included: RFC 6864 4.1, Linux's
 * per-socket counter, Windows' global one), and nothing in it is new: what
 * it acknowledges was acknowledged, its sequence numbers were sent. (The
 * glue knows the RSTs it diagnosed and tells their copies.) A capture taken
 * at two points (both sides of a router, a bridge and its ports, a SPAN of
 * several VLANs) shows every datagram twice; the copy is no new segment. Packets with ID 0 and hosts sending one ID for all are
 * never judged so; random IDs fall among the latest 16 rarely, and their
 * datagrams then still bring something new. */
gboolean conn_is_copy(const conn_stream *st, const tcp_segment *seg);

/* The latest segments without a counted IPv4 ID (IPv6, ID 0), across streams:
 * where conn_is_copy cannot tell, the hop limit can (conn_recent_copy). */
#define CONN_RECENT_KEPT 8
typedef struct {
    uint32_t frame;     /* 0: empty */
    uint32_t stream;
    uint32_t src_key;
    uint32_t seq;
    uint32_t ack;
    uint32_t window;
    uint32_t payload_len;
    uint16_t dst_port;
    uint16_t flags;
    uint8_t  ttl;
    uint8_t  copied_ttl;   /* the hop limit of its copy seen, 0: none */
} conn_recent_segment;

typedef struct {
    conn_recent_segment kept[CONN_RECENT_KEPT];
    unsigned next;      /* the slot the next one takes */
} conn_recent;

/* The datagram that seg (of tcp.stream `stream`, RSTs included) repeats, or
 * NULL after remembering seg. Without a counted ID, a copy shows as one of the
 * latest segments again, from the same sender to the same port with the same
 * TCP numbers, flags and window, and another hop limit: the same datagram
 * captured on the far side of a router, which took one off (RFC 8200 3). A
 * host sends each segment with one hop limit, so at one capture point a
 * retransmission keeps it, and two RSTs answering two segments in flight are
 * alike in all but their frames. The stream may differ: Wireshark (4.4 on)
 * opens a new one for a SYN after a RST, and so for its copy. Segments with a
 * counted ID (conn_is_copy) and those with no hop limit read are not looked at. */
const conn_recent_segment *conn_recent_copy(conn_recent *recent, uint32_t stream, const tcp_segment *seg);

/* Apply one segment (in capture order). A zeroed conn_stream is a new stream. */
void conn_track_segment(conn_stream *st, const tcp_segment *seg);

/* The segment from `sender`'s peer that a passive RST from `sender` answers:
 * Linux copies that segment's ack into the RST's seq (RST without ACK), or acks
 * all of it (RST|ACK with seq 0, answering a SYN) -- tcp_v4_send_reset(). FALSE
 * when no remembered segment fits. */
gboolean conn_find_trigger(const conn_stream *st, unsigned sender, const tcp_segment *rst,
                           uint32_t *frame, uint32_t *tick);

/* TRUE when seq is a sequence number the peer of `sender` has acknowledged: at or
 * behind its latest ack, within what `sender` sent. A bare RST there answers one of
 * the peer's segments (tcp_v4_send_reset copies the ack of the segment it answers);
 * with latency on the path, each of the peer's ACKs still in flight draws one. */
gboolean conn_seq_acked(const conn_stream *st, unsigned sender, uint32_t seq);

/* TRUE when seq is a sequence number `sender` may have sent (at or behind its next
 * one): one the peer may acknowledge, in a segment the capture shows or in one it
 * missed. Without the side's SYN in the capture, what it sent before is unknown:
 * any number within a window behind its next one; with nothing but its RSTs
 * captured, any number. */
gboolean conn_seq_sent(const conn_stream *st, unsigned sender, uint32_t seq);

/* Listening endpoints seen anywhere in the capture: knowledge across streams,
 * keyed by the address's raw bytes (4 or 16) and the port. A SYN-ACK from an
 * address and port proves a listener there; an active RST from a server that
 * never answered its connection may be the listener closing with that
 * connection still in its accept queue (inet_csk_listen_stop), which resets
 * every queued connection in one go. */
typedef struct conn_listeners conn_listeners;
conn_listeners *conn_listeners_new(void);
void conn_listeners_free(conn_listeners *l);
/* Learn from one segment sent by addr, st being its stream before it. */
void conn_listeners_learn(conn_listeners *l, const void *addr, size_t addr_len, const conn_stream *st,
                          const tcp_segment *seg);
gboolean conn_listeners_has(const conn_listeners *l, const void *addr, size_t addr_len, uint16_t port);
/* The endpoint aborted another never-answered connection at most
 * CONN_QUEUE_BURST_US before time_us: one loop over an accept queue. */
#define CONN_QUEUE_BURST_US 1000
gboolean conn_listeners_queue_burst(const conn_listeners *l, const void *addr, size_t addr_len, uint16_t port,
                                    int64_t time_us);

/* Windows are kept as 16-bit floating point numbers (11-bit mantissa: exact
 * below 2 KiB, else within 1/1024 of the value; codes order as the windows):
 * they decide whether a sequence number lies inside a window and whether a
 * window shrank or grew. */
uint16_t conn_window_encode(uint32_t window_bytes);
uint32_t conn_window_bytes(uint16_t code);
/* The largest window a code stands for. */
uint32_t conn_window_bytes_max(uint16_t code);

/* Time helpers. */
uint32_t conn_tick(int64_t time_us);
/* Microseconds from tick `earlier` to tick `later` (wrap-aware, may be < 0). */
int64_t conn_ticks_us(uint32_t later, uint32_t earlier);

/* Sequence-space comparison (RFC 1982 style). */
static inline gboolean seq_after(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }

#endif /* CONN_TRACK_H */
