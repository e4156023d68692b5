/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conn_track.c - per-TCP-stream state machine (see conn_track.h). */
#include "conn_track.h"

#include <string.h>

/* A code: the shift in the top 5 bits, the window's top 11 bits below them
 * (shift 0: the window itself). */
#define WINDOW_MANTISSA_BITS 11

uint16_t conn_window_encode(uint32_t window_bytes)
{
    unsigned bits = g_bit_storage(window_bytes);
    if (bits <= WINDOW_MANTISSA_BITS)
        return (uint16_t)window_bytes;
    unsigned shift = bits - WINDOW_MANTISSA_BITS;
    return (uint16_t)(shift << WINDOW_MANTISSA_BITS | window_bytes >> shift);
}

uint32_t conn_window_bytes_max(uint16_t code)
{
    unsigned shift = code >> WINDOW_MANTISSA_BITS;
    uint64_t mantissa = code & ((1u << WINDOW_MANTISSA_BITS) - 1);
    return (uint32_t)(((mantissa + 1) << shift) - 1);
}

uint32_t conn_window_bytes(uint16_t code)
{
    unsigned shift = code >> WINDOW_MANTISSA_BITS;
    uint32_t mantissa = code & ((1u << WINDOW_MANTISSA_BITS) - 1);
    return shift ? (mantissa << shift) + (1u << (shift - 1)) : mantissa;   /* the middle of the bucket */
}

struct conn_listeners {
    GHashTable *endpoints;   /* GBytes (address bytes, then the port) -> listener_entry */
};

typedef struct {
    gboolean listening;       /* it sent a SYN-ACK */
    gboolean aborted_queued;  /* it aborted a connection it never answered */
    int64_t  aborted_us;      /* when, the latest time */
} listener_entry;

conn_listeners *conn_listeners_new(void)
{
    conn_listeners *l = g_new(conn_listeners, 1);
    l->endpoints = g_hash_table_new_full(g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref, g_free);
    return l;
}

void conn_listeners_free(conn_listeners *l)
{
    if (!l)
        return;
    g_hash_table_destroy(l->endpoints);
    g_free(l);
}

static GBytes *listener_key(const void *addr, size_t addr_len, uint16_t port)
{
    guint8 key[16 + 2];
    addr_len = MIN(addr_len, (size_t)16);
    memcpy(key, addr, addr_len);
    key[addr_len] = (guint8)(port >> 8);
    key[addr_len + 1] = (guint8)port;
    return g_bytes_new(key, addr_len + 2);
}

static const listener_entry *listener_find(const conn_listeners *l, const void *addr, size_t addr_len,
                                           uint16_t port)
{
    if (!l)
        return NULL;
    GBytes *key = listener_key(addr, addr_len, port);
    const listener_entry *entry = g_hash_table_lookup(l->endpoints, key);
    g_bytes_unref(key);
    return entry;
}

static listener_entry *listener_entry_of(conn_listeners *l, const void *addr, size_t addr_len, uint16_t port)
{
    listener_entry *entry = (listener_entry *)listener_find(l, addr, addr_len, port);
    if (!entry) {
        entry = g_new0(listener_entry, 1);
        g_hash_table_insert(l->endpoints, listener_key(addr, addr_len, port), entry);
    }
    return entry;
}

void conn_listeners_learn(conn_listeners *l, const void *addr, size_t addr_len, const conn_stream *st,
                          const tcp_segment *seg)
{
    if (!l)
        return;
    if ((seg->flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) == (TCP_FLAG_SYN | TCP_FLAG_ACK)) {
        listener_entry_of(l, addr, addr_len, seg->src_port)->listening = TRUE;
        return;
    }
    /* an active RST from a server that never sent anything but its SYN-ACK and ACKs */
    if ((seg->flags & (TCP_FLAG_RST | TCP_FLAG_ACK)) != (TCP_FLAG_RST | TCP_FLAG_ACK))
        return;
    const conn_side *me = &st->side[conn_side_of(st, seg)];
    if ((me->flags & SIDE_SENT_SYNACK) && me->payload_bytes == 0 && !(me->flags & SIDE_SENT_FIN)) {
        listener_entry *entry = listener_entry_of(l, addr, addr_len, seg->src_port);
        entry->aborted_queued = TRUE;
        entry->aborted_us = seg->time_us;
    }
}

gboolean conn_listeners_has(const conn_listeners *l, const void *addr, size_t addr_len, uint16_t port)
{
    const listener_entry *entry = listener_find(l, addr, addr_len, port);
    return entry && entry->listening;
}

gboolean conn_listeners_queue_burst(const conn_listeners *l, const void *addr, size_t addr_len, uint16_t port,
                                    int64_t time_us)
{
    const listener_entry *entry = listener_find(l, addr, addr_len, port);
    return entry && entry->aborted_queued && time_us >= entry->aborted_us
        && time_us - entry->aborted_us <= CONN_QUEUE_BURST_US;
}

uint32_t conn_tick(int64_t time_us)
{
    return (uint32_t)(uint64_t)(time_us / CONN_TICK_US);
}

int64_t conn_ticks_us(uint32_t later, uint32_t earlier)
{
    return (int64_t)(int32_t)(later - earlier) * CONN_TICK_US;
}

gboolean conn_side_tracked(const conn_side *side)
{
    return (side->flags & (SIDE_SENT_PLAIN | SIDE_SENT_SYN | SIDE_SENT_SYNACK)) != 0;
}

gboolean conn_capture_gap(const conn_stream *st, unsigned sender, const tcp_segment *rst)
{
    const conn_side *me = &st->side[sender], *peer = &st->side[!sender];
    if ((me->flags | peer->flags) & SIDE_UNSEEN_DATA)
        return TRUE;
    /* a RST|ACK acknowledging more than the peer showed */
    return (rst->flags & TCP_FLAG_ACK) && conn_side_tracked(me) && conn_side_tracked(peer)
        && seq_after(rst->ack, peer->next_seq);
}

gboolean conn_answers_unseen(const conn_stream *st, unsigned sender, const tcp_segment *rst)
{
    const conn_side *me = &st->side[sender], *peer = &st->side[!sender];
    if (rst->flags & TCP_FLAG_ACK)
        return rst->seq == 0 && !conn_side_tracked(me) && !(peer->flags & SIDE_SEEN);
    return conn_side_tracked(me) && (peer->flags & SIDE_ACKED) && seq_after(rst->seq, peer->last_ack)
        && !seq_after(rst->seq, me->next_seq);
}

gboolean conn_is_new(const conn_stream *st)
{
    return st->side[0].flags == 0 && st->side[1].flags == 0;
}

unsigned conn_side_of(const conn_stream *st, const tcp_segment *seg)
{
    return conn_is_new(st) || seg->src_key == st->first_key ? 0 : 1;
}

/* Handshake bookkeeping: who is client and server, and whether each
 * acknowledged the other's SYN correctly. */
static void track_handshake(conn_side *me, const conn_side *peer, const tcp_segment *seg)
{
    gboolean syn = (seg->flags & TCP_FLAG_SYN) != 0;
    gboolean ack = (seg->flags & TCP_FLAG_ACK) != 0;

    if (syn && !ack) {
        me->flags |= SIDE_SENT_SYN;
    } else if (syn && ack) {
        me->flags |= SIDE_SENT_SYNACK;
        if ((peer->flags & SIDE_SENT_SYN) && seg->ack != peer->next_seq)
            me->flags |= SIDE_BAD_HS_ACK;
    } else if (ack && !(seg->flags & TCP_FLAG_RST)) {
        gboolean handshake_open = (peer->flags & SIDE_SENT_SYN) && !(me->flags & SIDE_SENT_SYNACK)
            && !(peer->flags & SIDE_SENT_HS_ACK);
        if (handshake_open && seg->ack != peer->next_seq) {
            /* an ACK instead of a SYN-ACK that does not cover the SYN:
             * typically the challenge ACK of a stale connection */
            me->flags |= SIDE_BAD_HS_ACK;
        } else if ((me->flags & SIDE_SENT_SYN) && (peer->flags & SIDE_SENT_SYNACK)
                   && !(me->flags & SIDE_SENT_HS_ACK)) {
            me->flags |= seg->ack == peer->next_seq ? SIDE_SENT_HS_ACK : SIDE_BAD_HS_ACK;
        }
    }
}

/* payload_bytes grows by n, saturating. */
static void add_payload(conn_side *side, uint32_t n)
{
    side->payload_bytes = side->payload_bytes > G_MAXUINT32 - n ? G_MAXUINT32 : side->payload_bytes + n;
}

/* Sequence space, new payload and probes of the sending side. */
static void track_sequence(conn_side *me, conn_side *peer, const tcp_segment *seg, uint32_t now)
{
    uint32_t syn = (seg->flags & TCP_FLAG_SYN) ? 1 : 0;
    uint32_t fin = (seg->flags & TCP_FLAG_FIN) ? 1 : 0;
    uint32_t data_start = seg->seq + syn;
    uint32_t data_end = data_start + seg->payload_len;

    if (seg->payload_len > 0 && seq_after(data_end, me->next_seq)) {
        uint32_t from = seq_after(data_start, me->next_seq) ? data_start : me->next_seq;
        uint32_t fresh = data_end - from;
        if (peer->payload_bytes && (me->payload_bytes == 0
                                    || conn_ticks_us(peer->last_data_tick, me->last_data_tick) > 0))
            me->writes = 0;   /* a new burst: the peer spoke since our last data */
        if ((seg->flags & TCP_FLAG_PSH) && me->writes < CONN_COUNTER_MAX)
            me->writes++;
        add_payload(me, fresh);
        me->last_data_tick = now;
        if (seg->flags & TCP_FLAG_PSH)
            me->flags |= SIDE_LAST_DATA_PSH;
        else
            me->flags &= ~SIDE_LAST_DATA_PSH;
        if (peer->flags & SIDE_SENT_FIN)
            me->flags |= SIDE_DATA_AFTER_FIN;
        me->flags &= ~SIDE_WINDOW_SHUT_ON;
    } else if (!syn && !fin && seg->payload_len <= 1 && seg->seq == me->next_seq - 1
               && (seg->flags & TCP_FLAG_ACK)) {
        /* seq = snd_una - 1: a keepalive (or zero-window) probe */
        if (me->probes < CONN_COUNTER_MAX)
            me->probes++;
    }
    if (seq_after(data_end + fin, me->next_seq) || syn)
        me->next_seq = data_end + fin;
}

/* Remember seg as the side's latest segment; the previous one stays as the
 * earlier candidate trigger when its ack differs. */
static void remember_segment(conn_side *me, const tcp_segment *seg, uint32_t now)
{
    if ((seg->flags & TCP_FLAG_ACK) && (me->flags & SIDE_ACKED) && seg->ack != me->last_ack) {
        uint32_t frames_back = seg->frame - me->seg_frame;
        uint32_t ticks_back = now - me->seg_tick;
        gboolean near = me->seg_frame && frames_back <= G_MAXUINT16 && ticks_back < G_MAXUINT16;
        me->prev_ack = me->last_ack;
        me->prev_frames_back = near ? (uint16_t)frames_back : 0;
        me->prev_ticks_back = near ? (uint16_t)(ticks_back + 1) : 0;   /* +1: 0 means none */
    }
    me->seg_frame = seg->frame;
    me->seg_tick = now;
}

gboolean conn_find_trigger(const conn_stream *st, unsigned sender, const tcp_segment *rst,
                           uint32_t *frame, uint32_t *tick)
{
    const conn_side *peer = &st->side[!sender];
    if (!peer->seg_frame || rst->payload_len)
        return FALSE;
    gboolean latest;
    if (!(rst->flags & TCP_FLAG_ACK)) {
        if (!(peer->flags & SIDE_ACKED))
            return FALSE;
        if (rst->seq == peer->last_ack)
            latest = TRUE;
        else if (peer->prev_frames_back && rst->seq == peer->prev_ack)
            latest = FALSE;
        else
            return FALSE;
    } else if (rst->seq == 0 && rst->ack == peer->next_seq) {
        latest = TRUE;
    } else {
        return FALSE;
    }
    *frame = latest ? peer->seg_frame : peer->seg_frame - peer->prev_frames_back;
    *tick = latest ? peer->seg_tick : peer->seg_tick - (peer->prev_ticks_back - 1u);
    return TRUE;
}

gboolean conn_seq_acked(const conn_stream *st, unsigned sender, uint32_t seq)
{
    const conn_side *me = &st->side[sender], *peer = &st->side[!sender];
    /* +2: the sequence numbers of a SYN and a FIN */
    return (peer->flags & SIDE_ACKED) && peer->last_ack - seq <= me->payload_bytes + 2u;
}

gboolean conn_seq_sent(const conn_stream *st, unsigned sender, uint32_t seq)
{
    const conn_side *me = &st->side[sender];
    uint32_t back = me->next_seq - seq;
    if (!conn_side_tracked(me))
        return TRUE;   /* nothing but RSTs of it captured: its sequence space is unknown */
    if (!(me->flags & (SIDE_SENT_SYN | SIDE_SENT_SYNACK)))
        return back < CONN_SEQ_SPAN_MAX;
    return back <= me->payload_bytes + 2u;   /* +2: the sequence numbers of a SYN and a FIN */
}

gboolean conn_is_copy(const conn_stream *st, const tcp_segment *seg)
{
    if (seg->ip_id <= 0 || (seg->flags & TCP_FLAG_RST) || conn_is_new(st))
        return FALSE;
    const conn_side *me = &st->side[conn_side_of(st, seg)];
    uint16_t back = (uint16_t)(me->id_top - (uint16_t)seg->ip_id);
    /* a host that sends one ID for all never showed two lately */
    if (!(me->id_seen & ~1u) || back >= CONN_IDS_KEPT || !((me->id_seen >> back) & 1))
        return FALSE;
    uint32_t end = seg->seq + seg->payload_len + ((seg->flags & (TCP_FLAG_SYN | TCP_FLAG_FIN)) ? 1 : 0);
    return !seq_after(end, me->next_seq) && (!(seg->flags & TCP_FLAG_ACK) || !seq_after(seg->ack, me->last_ack));
}

const conn_recent_segment *conn_recent_copy(conn_recent *recent, uint32_t stream, const tcp_segment *seg)
{
    if (seg->ip_id > 0 || seg->ttl == 0)
        return NULL;
    /* Two segments may be alike (a SYN sent again, two passive RSTs answering two
     * segments in flight): copies come in the order of their originals, so each is
     * the oldest alike not yet copied with its hop limit. */
    for (unsigned i = 0; i < CONN_RECENT_KEPT; i++) {
        conn_recent_segment *k = &recent->kept[(recent->next + i) % CONN_RECENT_KEPT];
        if (k->frame && k->src_key == seg->src_key && k->dst_port == seg->dst_port && k->ttl != seg->ttl
            && k->copied_ttl != seg->ttl && k->seq == seg->seq && k->ack == seg->ack && k->flags == seg->flags
            && k->window == seg->window && k->payload_len == seg->payload_len) {
            k->copied_ttl = seg->ttl;
            return k;
        }
    }
    recent->kept[recent->next] = (conn_recent_segment){
        .frame = seg->frame, .stream = stream, .src_key = seg->src_key, .dst_port = seg->dst_port,
        .seq = seg->seq, .ack = seg->ack, .window = seg->window, .payload_len = seg->payload_len,
        .flags = seg->flags, .ttl = seg->ttl,
    };
    recent->next = (recent->next + 1) % CONN_RECENT_KEPT;
    return NULL;
}

/* Marks id as seen in the side's window of recent IDs (conn_is_copy). A RST's
 * ID counts only where it continues the side's counter: a device forging one
 * may choose any. */
static void remember_ip_id(conn_side *me, uint16_t id, gboolean rst)
{
    uint16_t ahead = (uint16_t)(id - me->id_top);
    if (rst && (me->id_seen == 0 || ahead == 0 || ahead >= CONN_IDS_KEPT))
        return;
    if (me->id_seen == 0 || (ahead != 0 && ahead < 0x8000)) {   /* the first, or a new highest */
        me->id_seen = me->id_seen && ahead < CONN_IDS_KEPT ? (uint16_t)(me->id_seen << ahead) | 1u : 1u;
        me->id_top = id;
    } else if ((uint16_t)-ahead < CONN_IDS_KEPT) {   /* the top again, or one below it */
        me->id_seen |= (uint16_t)(1u << (uint16_t)-ahead);
    }
}

gboolean conn_starts_over(const conn_stream *st, const tcp_segment *seg)
{
    if ((seg->flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) != TCP_FLAG_SYN || conn_is_new(st))
        return FALSE;
    /* a SYN sent again after a RST (same ISN or a new one) is a new attempt too:
     * the RST ended whatever the 4-tuple held */
    uint32_t any = st->side[0].flags | st->side[1].flags;
    return (any & SIDE_SENT_RST) || (st->side[0].flags & st->side[1].flags & SIDE_SENT_FIN);
}

void conn_track_segment(conn_stream *st, const tcp_segment *seg)
{
    uint32_t now = conn_tick(seg->time_us);
    if (conn_starts_over(st, seg))
        memset(st, 0, sizeof *st);
    if (conn_is_new(st)) {
        st->first_key = seg->src_key;
        st->first_tick = now;
    }
    unsigned dir = conn_side_of(st, seg);
    conn_side *me = &st->side[dir];
    conn_side *peer = &st->side[!dir];
    gboolean rst = (seg->flags & TCP_FLAG_RST) != 0;

    gboolean seen_before = conn_side_tracked(me);
    if (!(me->flags & SIDE_SEEN)) {
        me->flags |= SIDE_SEEN;
        me->next_seq = seg->seq;
    }
    if (!rst && me->ttl == 0)
        me->ttl = seg->ttl;
    if (!rst && seg->ip_id >= 0) {
        uint16_t step = (uint16_t)((uint16_t)seg->ip_id - me->ip_id);
        if (step >= 1 && step <= CONN_IPID_STEP_MAX && seen_before)
            me->flags |= SIDE_IPID_SEQUENTIAL;
        else
            me->flags &= ~SIDE_IPID_SEQUENTIAL;
        me->ip_id = (uint16_t)seg->ip_id;
    }
    if (seg->ip_id > 0)
        remember_ip_id(me, (uint16_t)seg->ip_id, rst);

    if (!rst && !(seg->flags & TCP_FLAG_SYN) && seen_before && seq_after(seg->seq, me->next_seq))
        me->flags |= SIDE_UNSEEN_DATA;
    track_handshake(me, peer, seg);
    if (rst) {
        me->flags |= SIDE_SENT_RST;
    } else {
        if (!(seg->flags & TCP_FLAG_SYN))
            me->flags |= SIDE_SENT_PLAIN;
        remember_segment(me, seg, now);
        track_sequence(me, peer, seg, now);
        me->window_code = conn_window_encode(seg->window);
        if (seg->window == 0 && !(seg->flags & TCP_FLAG_SYN) && peer->payload_bytes)
            peer->flags |= SIDE_WINDOW_SHUT_ON;
        if (me->window_code > me->peak_window_code)
            me->peak_window_code = me->window_code;
    }
    peer->probes = 0;   /* anything from us answers the peer's probes */

    if ((seg->flags & TCP_FLAG_ACK) && !rst && conn_side_tracked(peer) && seq_after(seg->ack, peer->next_seq)) {
        /* what the peer acknowledges was sent, though the capture missed it */
        peer->flags |= SIDE_UNSEEN_DATA;
        add_payload(peer, seg->ack - peer->next_seq);
        peer->next_seq = seg->ack;
    }
    if (seg->flags & TCP_FLAG_ACK) {
        me->last_ack = seg->ack;
        me->flags |= SIDE_ACKED;
        if ((peer->flags & SIDE_SENT_FIN) && seg->ack == peer->next_seq && seg->payload_len == 0
            && !(seg->flags & (TCP_FLAG_FIN | TCP_FLAG_RST)))
            peer->flags |= (peer->flags & SIDE_FIN_ACK_LOST) ? SIDE_FIN_REACKED : SIDE_FIN_ACKED;
    }
    if ((seg->flags & TCP_FLAG_FIN) && !rst && (me->flags & (SIDE_FIN_ACKED | SIDE_FIN_REACKED))) {
        /* the FIN again although we saw it acked: the ACK never reached this side, so a
         * later ACK is no proof either (it may arrive, or be lost the same way) */
        me->flags = (me->flags & ~(SIDE_FIN_ACKED | SIDE_FIN_REACKED)) | SIDE_FIN_ACK_LOST;
    }
    if ((seg->flags & TCP_FLAG_FIN) && !rst && !(me->flags & SIDE_SENT_FIN)) {
        me->flags |= SIDE_SENT_FIN;
        if (!(peer->flags & SIDE_SENT_FIN))
            me->flags |= SIDE_FIN_FIRST;
    }

    me->flags |= SIDE_SENT_LAST;
    peer->flags &= ~SIDE_SENT_LAST;
    st->last_tick = now;
}
