/* SPDX-License-Identifier: GPL-2.0-or-later */
/* packet-rstdiag.c - TCP RST diagnosis post-dissector: registration, fields,
 * preferences, expert info and tree rendering.
 *
 * The diagnosis itself lives in conn_track.c (per-stream state),
 * rst_classify.c (the rules), rst_origin.c (who sent it, what followed) and
 * rst_vendor.c (reasons in the RST), the application logs in
 * log_sources.c; this file only feeds them and shows results.
 *
 * Cost: the post-dissector reads TCP/IP values from the "tcp", "ip" and
 * "ipv6" taps (fetch_tapped_data) instead of asking for fields, so Wireshark
 * does not have to build a protocol tree for every packet; where no taps run
 * (tshark's first pass with -2) it reads them from the frame's bytes. Each
 * frame is processed once, in capture order, the first time it is dissected
 * (tshark's single pass or first pass, the GUI's loading pass); the verdict
 * of a RST is stored with p_add_proto_data and every later pass only renders
 * it. Later frames of its stream may add to it (the claimed sender kept
 * talking, the receiver ignored it), which one-pass tshark cannot show.
 */
#include "packet-rstdiag.h"

#include <epan/conversation.h>
#include <epan/expert.h>
#include <epan/ipproto.h>
#include <epan/prefs.h>
#include <epan/proto_data.h>
#include <epan/tap.h>
#include <epan/to_str.h>
#include <epan/dissectors/packet-ip.h>
#include <epan/dissectors/packet-tcp.h>
#include <wsutil/report_message.h>

#include "conn_track.h"
#include "log_sources.h"
#include "log_text.h"
#include "rst_classify.h"
#include "rst_origin.h"
#include "rst_vendor.h"

static int proto_rstdiag = -1;
/* The post-dissector's handle belongs to a "protocol in name only" of
 * rstdiag: Wireshark then calls it without pushing and popping a protocol
 * layer for every packet (a third of the plugin's per-packet cost), and it
 * is still enabled and disabled with rstdiag. */
static int proto_rstdiag_post = -1;

static int hf_sender = -1;
static int hf_phase = -1;
static int hf_cause = -1;
static int hf_confidence = -1;
static int hf_kernel_reason = -1;
static int hf_evidence = -1;
static int hf_cause_alt = -1;
static int hf_kernel_reason_alt = -1;
static int hf_shape = -1;
static int hf_acceptable = -1;
static int hf_trigger = -1;
static int hf_idle = -1;
static int hf_age = -1;
static int hf_bytes_client = -1;
static int hf_bytes_server = -1;
static int hf_origin = -1;
static int hf_origin_evidence = -1;
static int hf_ttl_delta = -1;
static int hf_stack = -1;
static int hf_stack_evidence = -1;
static int hf_ignored = -1;
static int hf_after_reset = -1;
static int hf_vendor = -1;
static int hf_vendor_code = -1;
static int hf_log = -1;
static int hf_log_line = -1;
static int hf_log_file = -1;
static int hf_log_lineno = -1;
static int hf_log_delta = -1;
static int hf_log_match = -1;
static int hf_log_leg = -1;
static int hf_log_offset = -1;
static int hf_log_level = -1;
static int hf_log_request = -1;
static int hf_log_message = -1;
static int hf_continued = -1;
static int hf_log_peer = -1;
static int hf_log_upstream = -1;

static gint ett_rstdiag = -1;
static gint ett_log = -1;
static gint ett_continued = -1;

static expert_field ei_cause[CAUSE_COUNT];

static int rstdiag_tap = -1;
static int tcp_tap_id = -1;
static int ip_tap_id = -1;
static int ipv6_tap_id = -1;

/* Preferences. */
#define RESPONSE_TIMEOUT_DEFAULT_MS 1000
#define RESPONSE_TIMEOUT_MAX_MS (3600 * 1000)
static rstdiag_ws_bool_t pref_info_column = TRUE;
static guint pref_response_timeout_ms = RESPONSE_TIMEOUT_DEFAULT_MS;
static idle_timer_table idle_timers;
static rst_settings settings = { RESPONSE_TIMEOUT_DEFAULT_MS, &idle_timers };
static const char *pref_idle_timers = "";
/* File-scope state: the conn_stream of every tcp.stream, in chunks of
 * STREAM_CHUNK. Stream numbers are dense (0, 1, 2, ...), so the index finds a
 * stream without hashing and a stream costs its 64 bytes. Allocated in file
 * scope; the pointers are cleared by the init and cleanup routines. */
#define STREAM_CHUNK 256
static conn_stream **stream_chunks;
static guint32 stream_chunk_count;
/* listening address:port pairs seen across streams (SYN-ACKs) */
static conn_listeners *listeners;
/* host address -> host_facts: TTLs and round trips seen across streams */
static wmem_map_t *hosts;
/* stream index -> reset_history, for streams that had a RST */
static wmem_map_t *reset_streams;
/* receiver address -> latest_reset: for RSTs passed on from one stream to another */
static wmem_map_t *latest_reset_by_receiver;

/* Proto-data keys: the RST verdict, and the "after a reset" mark of later frames. */
enum { PROTO_DATA_RECORD, PROTO_DATA_AFTER_RESET };

typedef struct {
    guint32 first_frame;       /* the stream's first RST */
    rstdiag_record *latest;    /* the one later frames are weighed against */
    rst_followup followup;     /* knows the latest RST's sender side */
    uint32_t latest_seq;
} reset_history;

typedef struct {
    int64_t time_us;
    guint32 frame;
    guint32 stream;
    rst_sender receiver_role;  /* the receiver's role on that stream */
} latest_reset;
/* Highest frame already fed to the tracker in this file. */
static guint32 last_tracked_frame;
static gboolean seen_rst;
/* Identifies our helper tap listener (any unique address will do). */
static int tap_helper_token;
static gboolean tap_helper_registered;

/* ---- reading the segment ------------------------------------------------ */

static const tcp_info_t *innermost_tcp_header(void)
{
    const tcp_info_t *found = NULL;
    const tcp_info_t *tcph;
    /* several entries when TCP is tunnelled; the last is the innermost */
    for (int idx = 0; (tcph = (const tcp_info_t *)fetch_tapped_data(tcp_tap_id, idx)) != NULL; idx++) {
        if (tcph->th_have_seglen)   /* not a header quoted in an ICMP error */
            found = tcph;
    }
    return found;
}

/* TTL or hop limit, and IPv4 ID, of the IP header that carried this TCP
 * header: the first of its family with its addresses (one pass over the tap
 * queue per packet; a tunnel's outer header has other addresses). */
static void read_carrier(const tcp_info_t *tcph, tcp_segment *seg)
{
    seg->ttl = 0;
    seg->ip_id = -1;
    if (tcph->ip_src.type == AT_IPv4) {
        const ws_ip4 *ip4;
        for (int idx = 0; (ip4 = (const ws_ip4 *)fetch_tapped_data(ip_tap_id, idx)) != NULL; idx++) {
            if (addresses_equal(&ip4->ip_src, &tcph->ip_src) && addresses_equal(&ip4->ip_dst, &tcph->ip_dst)) {
                seg->ttl = ip4->ip_ttl;
                seg->ip_id = ip4->ip_id;
                return;
            }
        }
    } else if (tcph->ip_src.type == AT_IPv6) {
        const ws_ip6 *ip6;
        for (int idx = 0; (ip6 = (const ws_ip6 *)fetch_tapped_data(ipv6_tap_id, idx)) != NULL; idx++) {
            if (addresses_equal(&ip6->ip6_src, &tcph->ip_src) && addresses_equal(&ip6->ip6_dst, &tcph->ip_dst)) {
                seg->ttl = ip6->ip6_hop;
                return;
            }
        }
    }
}

static guint32 endpoint_key(const address *addr, guint16 port)
{
    guint hash = add_address_to_hash(0, addr);
    return (guint32)(hash * 65599u + port);
}

static void read_segment(const tcp_info_t *tcph, const packet_info *pinfo, tcp_segment *seg)
{
    seg->frame = pinfo->num;
    /* any time a pcapng can hold, kept within what microseconds can count */
    int64_t secs = CLAMP((int64_t)pinfo->abs_ts.secs, -G_GINT64_CONSTANT(9000000000000),
                         G_GINT64_CONSTANT(9000000000000));
    seg->time_us = secs * 1000000 + pinfo->abs_ts.nsecs / 1000;
    seg->src_key = endpoint_key(&tcph->ip_src, tcph->th_sport);
    seg->src_port = tcph->th_sport;
    seg->dst_port = tcph->th_dport;
    seg->seq = tcph->th_rawseq;
    seg->ack = tcph->th_rawack;
    seg->payload_len = tcph->th_seglen;
    seg->window = tcph->th_win;
    seg->flags = tcph->th_flags;
}

/* Big-endian header fields in the frame's bytes (wsutil/pint.h renamed its
 * helpers in 4.6; these are the same on every release). */
static guint32 get_be16(const guint8 *p)
{
    return (guint32)p[0] << 8 | p[1];
}

static guint32 get_be32(const guint8 *p)
{
    return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 | p[3];
}

static void put_be16(guint8 *p, guint32 value)
{
    p[0] = (guint8)(value >> 8);
    p[1] = (guint8)value;
}

static void put_be32(guint8 *p, guint32 value)
{
    put_be16(p, value >> 16);
    put_be16(p + 2, value);
}

/* IPv6 extension headers TCP may sit behind (hop-by-hop, routing, destination options). */
static gboolean ipv6_extension(guint8 next_header)
{
    return next_header == 0 || next_header == 43 || next_header == 60;
}

/* The TCP header after the IP header at ip, and the bytes the IP length
 * field gives it (header included); -1 when no TCP header follows. */
static gint tcp_after_ip(const guint8 *data, gint len, gint ip, gboolean v6, guint32 *tcp_bytes)
{
    if (!v6) {
        gint ihl = (data[ip] & 0x0f) * 4;
        guint16 total = get_be16(data + ip + 2);
        if (ihl < 20 || data[ip + 9] != IP_PROTO_TCP || total < ihl)
            return -1;
        *tcp_bytes = (guint32)(total - ihl);
        return ip + ihl;
    }
    guint8 next = data[ip + 6];
    gint at = ip + 40;
    gint64 left = get_be16(data + ip + 4);
    for (int hops = 0; hops < 8 && ipv6_extension(next); hops++) {
        if (at + 2 > len)
            return -1;
        gint size = (data[at + 1] + 1) * 8;
        next = data[at];
        at += size;
        left -= size;
    }
    if (next != IP_PROTO_TCP || left < 0)
        return -1;
    *tcp_bytes = (guint32)left;
    return at;
}

/* tshark's first pass with -2 runs no taps: there the same facts come from
 * the frame's bytes, found through what Wireshark left in pinfo (the
 * innermost addresses and ports): the last IP header with those addresses
 * and the TCP header behind it. The stream index is TCP's own. */
typedef enum { BYTES_NO_TCP, BYTES_READ, BYTES_UNREADABLE } frame_bytes_result;

static frame_bytes_result read_frame_bytes(tvbuff_t *tvb, packet_info *pinfo, tcp_info_t *tcph, tcp_segment *seg)
{
    if (pinfo->ptype != PT_TCP || pinfo->flags.in_error_pkt || pinfo->net_src.type != pinfo->net_dst.type
        || (pinfo->net_src.type != AT_IPv4 && pinfo->net_src.type != AT_IPv6))
        return BYTES_NO_TCP;
    /* a TCP header quoted in an ICMP error is not a segment (the tap marks it; here we must) */
    if (proto_is_frame_protocol(pinfo->layers, "icmp") || proto_is_frame_protocol(pinfo->layers, "icmpv6"))
        return BYTES_NO_TCP;
    conversation_t *conv = find_conversation_pinfo(pinfo, 0);
    struct tcp_analysis *tcpd = conv ? get_tcp_conversation_data(conv, pinfo) : NULL;
    if (tcpd == NULL)
        return BYTES_NO_TCP;

    gboolean v6 = pinfo->net_src.type == AT_IPv6;
    gint addr_len = v6 ? 16 : 4, addr_at = v6 ? 8 : 12;
    gint len = (gint)tvb_captured_length(tvb);
    const guint8 *data = tvb_get_ptr(tvb, 0, len);
    for (gint ip = len - (v6 ? 40 : 20); ip >= 0; ip--) {   /* innermost first */
        if ((data[ip] >> 4) != (v6 ? 6 : 4) || memcmp(data + ip + addr_at, pinfo->net_src.data, addr_len) != 0
            || memcmp(data + ip + addr_at + addr_len, pinfo->net_dst.data, addr_len) != 0)
            continue;
        guint32 tcp_bytes;
        gint tcp = tcp_after_ip(data, len, ip, v6, &tcp_bytes);
        if (tcp < 0)
            continue;
        if (tcp + 4 <= len && (get_be16(data + tcp) != pinfo->srcport || get_be16(data + tcp + 2) != pinfo->destport))
            continue;
        guint32 header = tcp + 20 <= len ? (data[tcp + 12] >> 4) * 4u : 0;
        if (header < 20)
            return BYTES_UNREADABLE;   /* cut short, or malformed as Wireshark finds it */
        memset(tcph, 0, sizeof *tcph);
        copy_address_shallow(&tcph->ip_src, &pinfo->net_src);
        copy_address_shallow(&tcph->ip_dst, &pinfo->net_dst);
        tcph->th_sport = pinfo->srcport;
        tcph->th_dport = pinfo->destport;
        tcph->th_rawseq = get_be32(data + tcp + 4);
        tcph->th_rawack = get_be32(data + tcp + 8);
        tcph->th_flags = get_be16(data + tcp + 12) & 0x0fff;
        tcph->th_win = get_be16(data + tcp + 14);
        if (!(tcph->th_flags & TH_SYN) && tcpd->fwd->win_scale >= 0)
            tcph->th_win <<= tcpd->fwd->win_scale;
        tcph->th_seglen = tcp_bytes > header ? tcp_bytes - header : 0;
        tcph->th_have_seglen = TRUE;
        tcph->th_stream = tcpd->stream;
        seg->ttl = data[ip + (v6 ? 7 : 8)];
        seg->ip_id = v6 ? -1 : (int32_t)get_be16(data + ip + 4);
        return BYTES_READ;
    }
    return BYTES_NO_TCP;
}

/* ---- facts across streams ------------------------------------------------- */

/* Maps keyed by a host's address, with Wireshark's own address hashing. */
static guint address_hash(gconstpointer key)
{
    return add_address_to_hash(0, (const address *)key);
}

static gboolean address_equal(gconstpointer a, gconstpointer b)
{
    return addresses_equal((const address *)a, (const address *)b);
}

/* A file-scope copy of addr, to keep as a map key. */
static address *address_key(const address *addr)
{
    address *key = wmem_new(wmem_file_scope(), address);
    copy_address_wmem(wmem_file_scope(), key, addr);
    return key;
}

/* What the capture says about a host; NULL if nothing (and create is FALSE). */
static host_facts *host_entry(const address *addr, gboolean create)
{
    host_facts *facts = (host_facts *)wmem_map_lookup(hosts, addr);
    if (facts == NULL && create) {
        facts = wmem_new(wmem_file_scope(), host_facts);
        host_facts_init(facts);
        wmem_map_insert(hosts, address_key(addr), facts);
    }
    return facts;
}

/* The TCP header of tcph in the frame's bytes: the last place where its ports,
 * sequence and acknowledgement numbers appear (the innermost, if tunnelled). */
static gint find_tcp_header(const guint8 *data, gint len, const tcp_info_t *tcph)
{
    guint8 pattern[12];
    put_be16(pattern, tcph->th_sport);
    put_be16(pattern + 2, tcph->th_dport);
    put_be32(pattern + 4, tcph->th_rawseq);
    put_be32(pattern + 8, tcph->th_rawack);
    for (gint offset = len - 20; offset >= 0; offset--) {
        if (memcmp(data + offset, pattern, sizeof pattern) == 0)
            return offset;
    }
    return -1;
}

/* What a RST says about itself: an MPTCP reason among its options, a vendor
 * code in its window, or its payload. */
static rst_vendor_info *read_vendor(tvbuff_t *tvb, const tcp_info_t *tcph)
{
    gint len = (gint)tvb_captured_length(tvb);
    const guint8 *data = tvb_get_ptr(tvb, 0, len);
    gint header = find_tcp_header(data, len, tcph);
    if (header < 0)
        return NULL;
    guint16 raw_window = get_be16(data + header + 14);
    gint payload = header + (data[header + 12] >> 4) * 4;
    size_t payload_len = 0;
    if (payload >= header + 20 && payload < len)
        payload_len = MIN((size_t)tcph->th_seglen, (size_t)(len - payload));
    size_t options_len = payload > header + 20 ? (size_t)(MIN(payload, len) - (header + 20)) : 0;

    rst_vendor_info info;
    if (!rst_vendor_decode_options(data + header + 20, options_len, &info)
        && !rst_vendor_decode(raw_window, payload_len ? data + payload : NULL, payload_len, &info))
        return NULL;
    return (rst_vendor_info *)wmem_memdup(wmem_file_scope(), &info, sizeof info);
}

/* The option layout of a SYN or SYN-ACK: its option kinds in order, up to the first EOL. */
static syn_layout read_syn_layout(tvbuff_t *tvb, const tcp_info_t *tcph)
{
    gint len = (gint)tvb_captured_length(tvb);
    const guint8 *data = tvb_get_ptr(tvb, 0, len);
    gint header = find_tcp_header(data, len, tcph);
    if (header < 0 || header + 20 > len)
        return LAYOUT_UNSEEN;
    gint end = MIN(header + (data[header + 12] >> 4) * 4, len);
    guint8 kinds[SYN_OPTION_KINDS_MAX];
    size_t count = 0;
    for (gint at = header + 20; at < end && count < sizeof kinds;) {
        guint8 kind = data[at];
        kinds[count++] = kind;
        if (kind == 0)
            break;
        if (kind == 1) {
            at++;
            continue;
        }
        if (at + 1 >= end || data[at + 1] < 2)
            break;
        at += data[at + 1];
    }
    return host_syn_layout(kinds, count);
}

/* What the sender's packets show (TTL, IP ID, SYN option layout, from all
 * its streams) and the handshake round trips, learnt before seg is tracked. */
static void learn_host(tvbuff_t *tvb, const tcp_info_t *tcph, const conn_stream *st, const tcp_segment *seg)
{
    gboolean syn = (seg->flags & TCP_FLAG_SYN) != 0, ack = (seg->flags & TCP_FLAG_ACK) != 0;
    if (seg->flags & TCP_FLAG_RST)
        return;
    host_facts *facts = host_entry(&tcph->ip_src, TRUE);
    if (syn)
        host_learn_layout(facts, read_syn_layout(tvb, tcph));
    if (!host_learns_from(seg))
        return;
    unsigned dir = conn_side_of(st, seg);
    const conn_side *me = &st->side[dir], *peer = &st->side[!dir];
    /* SYN -> SYN-ACK: the round trip from the capture point to the server */
    gboolean synack_rtt = syn && ack && dir == 1 && (peer->flags & SIDE_SENT_SYN) && !(me->flags & SIDE_SEEN);
    /* SYN-ACK -> ACK: the round trip to the client */
    gboolean ack_rtt = !syn && ack && (me->flags & SIDE_SENT_SYN) && (peer->flags & SIDE_SENT_SYNACK)
        && (peer->flags & SIDE_SENT_LAST) && !(me->flags & (SIDE_SENT_HS_ACK | SIDE_BAD_HS_ACK));
    host_learn_packet(facts, seg, tcph->th_stream);
    uint32_t now = conn_tick(seg->time_us);
    if (synack_rtt)
        host_facts_add_rtt(facts, conn_ticks_us(now, st->first_tick));
    if (ack_rtt)
        host_facts_add_rtt(facts, conn_ticks_us(now, st->last_tick));
}

/* A RST this sender received on another stream just before its own, on the other leg
 * of a proxy: a proxy passes a reset from the connection it opened to the one it
 * accepted, or the other way round, so its role differs on the two streams. A busy
 * server reset by one client and resetting another holds the same role on both. */
static void find_relay(const tcp_info_t *tcph, int64_t time_us, rst_sender role, path_facts *facts)
{
    const latest_reset *received = (const latest_reset *)wmem_map_lookup(latest_reset_by_receiver, &tcph->ip_src);
    if (received && received->stream != tcph->th_stream && role != SENDER_UNKNOWN
        && received->receiver_role != SENDER_UNKNOWN && received->receiver_role != role
        && time_us >= received->time_us
        && time_us - received->time_us <= RELAY_WINDOW_US) {
        facts->relay_frame = received->frame;
        facts->relay_stream = received->stream;
        facts->relay_gap_us = time_us - received->time_us;
    }
}

static void remember_received_reset(const tcp_info_t *tcph, int64_t time_us, guint32 frame, rst_sender sender)
{
    latest_reset *entry = (latest_reset *)wmem_map_lookup(latest_reset_by_receiver, &tcph->ip_dst);
    if (entry == NULL) {
        entry = wmem_new(wmem_file_scope(), latest_reset);
        wmem_map_insert(latest_reset_by_receiver, address_key(&tcph->ip_dst), entry);
    }
    rst_sender receiver_role = sender == SENDER_CLIENT ? SENDER_SERVER
                             : sender == SENDER_SERVER ? SENDER_CLIENT : SENDER_UNKNOWN;
    *entry = (latest_reset){ time_us, frame, tcph->th_stream, receiver_role };
}

static rstdiag_record *diagnose_reset(tvbuff_t *tvb, packet_info *pinfo, const tcp_info_t *tcph,
                                      const conn_stream *st, const tcp_segment *seg, reset_history *history,
                                      gboolean first_in_connection, gboolean first_in_stream)
{
    rstdiag_record *record = wmem_new0(wmem_file_scope(), rstdiag_record);
    record->vendor = read_vendor(tvb, tcph);
    /* a diagnostic payload explains the RST; the stack rules judge the RST without it */
    tcp_segment judged = *seg;
    if (record->vendor && record->vendor->payload_is_diagnostic)
        judged.payload_len = 0;
    const void *src = tcph->ip_src.data;
    size_t src_len = (size_t)tcph->ip_src.len;
    rst_host_facts host = {
        .listening = conn_listeners_has(listeners, src, src_len, seg->src_port),
        .queue_burst = conn_listeners_queue_burst(listeners, src, src_len, seg->src_port, seg->time_us),
    };
    rst_classify(st, &judged, &settings, &host, &record->diag);
    record->stream = tcph->th_stream;
    record->first_in_stream = first_in_stream;
    record->first_in_capture = !seen_rst;
    record->after_reset = first_in_connection ? 0 : history->first_frame;
    seen_rst = TRUE;

    path_facts facts = { .vendor = record->vendor, .timers = &idle_timers };
    const host_facts *sender = host_entry(&tcph->ip_src, FALSE);
    if (sender)
        facts.sender = *sender;
    else
        host_facts_init(&facts.sender);
    if (!first_in_connection) {
        facts.has_prev_rst = TRUE;
        facts.prev_rst_side = history->followup.sender_side;
        facts.prev_rst_seq = history->latest_seq;
        facts.prev_rst_gap_us = seg->time_us - history->followup.rst_time_us;
    }
    find_relay(tcph, seg->time_us, record->diag.sender, &facts);
    rst_attribute(st, seg, &facts, &record->diag);
    log_sources_add_rst(record, &tcph->ip_src, tcph->th_sport, tcph->th_stream, seg->time_us);
    p_add_proto_data(wmem_file_scope(), pinfo, proto_rstdiag, PROTO_DATA_RECORD, record);

    const host_facts *receiver = host_entry(&tcph->ip_dst, FALSE);
    rst_followup_start(&history->followup, st, seg, receiver ? receiver->rtt_us : -1);
    history->latest = record;
    history->latest_seq = seg->seq;
    remember_received_reset(tcph, seg->time_us, pinfo->num, record->diag.sender);
    return record;
}

/* A TCP segment whose header could not be read (cut short by the snapshot
 * length, or malformed): told once, in every pass that meets it first. */
static void tell_unreadable_tcp(const packet_info *pinfo)
{
    static gboolean told;
    if (told)
        return;
    told = TRUE;
    report_warning("RSTDIAG: frame %u: its TCP header could not be read (cut short by the capture's "
                   "snapshot length, or malformed); segments like it are left out of the diagnosis", pinfo->num);
}

/* With taps: the IP layer queued its data, TCP did not (and it is no header
 * quoted in an ICMP error, which is often cut). */
static gboolean tcp_header_lost(const packet_info *pinfo)
{
    return fetch_tapped_data(tcp_tap_id, 0) == NULL
        && (fetch_tapped_data(ip_tap_id, 0) != NULL || fetch_tapped_data(ipv6_tap_id, 0) != NULL)
        && proto_is_frame_protocol(pinfo->layers, "tcp")
        && !proto_is_frame_protocol(pinfo->layers, "icmp") && !proto_is_frame_protocol(pinfo->layers, "icmpv6");
}

static conn_stream *stream_state(guint32 stream)
{
    guint32 chunk = stream / STREAM_CHUNK;
    if (chunk >= stream_chunk_count) {
        guint32 count = MAX(MAX(stream_chunk_count * 2, chunk + 1), 16);
        stream_chunks = (conn_stream **)wmem_realloc(wmem_file_scope(), stream_chunks,
                                                     count * sizeof *stream_chunks);
        memset(stream_chunks + stream_chunk_count, 0, (count - stream_chunk_count) * sizeof *stream_chunks);
        stream_chunk_count = count;
    }
    if (stream_chunks[chunk] == NULL)
        stream_chunks[chunk] = (conn_stream *)wmem_alloc0(wmem_file_scope(), STREAM_CHUNK * sizeof(conn_stream));
    return &stream_chunks[chunk][stream % STREAM_CHUNK];
}

/* First sight of a frame: update its stream and, for a RST,
 * return the stored verdict. */
static rstdiag_record *track_frame(tvbuff_t *tvb, packet_info *pinfo, guint32 *after_reset)
{
    tcp_info_t from_bytes;
    tcp_segment seg;
    const tcp_info_t *tcph = innermost_tcp_header();
    if (tcph)
        read_carrier(tcph, &seg);
    else {
        frame_bytes_result bytes = read_frame_bytes(tvb, pinfo, &from_bytes, &seg);
        if (bytes != BYTES_READ) {
            if (bytes == BYTES_UNREADABLE || tcp_header_lost(pinfo))
                tell_unreadable_tcp(pinfo);
            return NULL;
        }
        tcph = &from_bytes;
    }
    read_segment(tcph, pinfo, &seg);
    last_tracked_frame = pinfo->num;

    conn_stream *st = stream_state(tcph->th_stream);
    learn_host(tvb, tcph, st, &seg);

    rstdiag_record *record = NULL;
    reset_history *history = NULL;
    gpointer key = GUINT_TO_POINTER(tcph->th_stream + 1);
    if ((st->side[0].flags | st->side[1].flags) & SIDE_SENT_RST)
        history = (reset_history *)wmem_map_lookup(reset_streams, key);
    if (history)   /* later frames, RSTs too, may show who sent the stream's latest RST */
        rst_follow_segment(&history->followup, st, &seg, &history->latest->diag);
    if (seg.flags & TCP_FLAG_RST) {
        /* a new connection attempt on the 4-tuple (conn_starts_over) has a history of its own */
        gboolean first = history == NULL;
        gboolean first_in_stream = first && wmem_map_lookup(reset_streams, key) == NULL;
        if (first) {
            history = wmem_new0(wmem_file_scope(), reset_history);
            history->first_frame = pinfo->num;
        }
        record = diagnose_reset(tvb, pinfo, tcph, st, &seg, history, first, first_in_stream);
        if (first)
            wmem_map_insert(reset_streams, key, history);
    } else if (history) {
        p_add_proto_data(wmem_file_scope(), pinfo, proto_rstdiag, PROTO_DATA_AFTER_RESET,
                         GUINT_TO_POINTER(history->first_frame));
        *after_reset = history->first_frame;
    }
    conn_listeners_learn(listeners, tcph->ip_src.data, (size_t)tcph->ip_src.len, st, &seg);
    conn_track_segment(st, &seg);
    return record;
}

/* ---- rendering ------------------------------------------------------------ */

static proto_item *add_token(proto_tree *tree, int hf, tvbuff_t *tvb, const char *token)
{
    proto_item *item = proto_tree_add_string(tree, hf, tvb, 0, 0, token);
    proto_item_set_generated(item);
    return item;
}

/* Durations as people read them: milliseconds below a second, else seconds. */
static char *duration_text(wmem_allocator_t *pool, int64_t us, gboolean sign)
{
    double value = (double)us / (us > -1000000 && us < 1000000 ? 1000.0 : 1000000.0);
    const char *unit = us > -1000000 && us < 1000000 ? "ms" : "s";
    return wmem_strdup_printf(pool, sign ? "%+.3f %s" : "%.3f %s", value, unit);
}

static void add_time(proto_tree *tree, int hf, tvbuff_t *tvb, int64_t us, const char *shown)
{
    /* nstime_t keeps the sign in both parts */
    nstime_t t = { (time_t)(us / 1000000), (int)(us % 1000000) * 1000 };
    proto_item_set_generated(proto_tree_add_time_format_value(tree, hf, tvb, 0, 0, &t, "%s", shown));
}

/* Durations: negative means "not known". */
static void add_duration(proto_tree *tree, int hf, tvbuff_t *tvb, packet_info *pinfo, int64_t us)
{
    if (us >= 0)
        add_time(tree, hf, tvb, us, duration_text(pinfo->pool, us, FALSE));
}

/* Tree labels hold ITEM_LABEL_LENGTH (240) bytes: longer text is shown in
 * pieces of at most this many bytes, cut between UTF-8 characters. */
#define LABEL_TEXT_MAX 180

static const char *piece_end(const char *text)
{
    size_t len = strlen(text);
    if (len <= LABEL_TEXT_MAX)
        return text + len;
    /* after a space in the piece's last quarter, else between two characters */
    for (const char *p = text + LABEL_TEXT_MAX; p > text + LABEL_TEXT_MAX * 3 / 4; p--) {
        if (p[-1] == ' ')
            return p;
    }
    return g_utf8_find_prev_char(text, text + LABEL_TEXT_MAX + 1);
}

/* text as a label: whole, or its first piece and an ellipsis. */
static const char *label_text(wmem_allocator_t *pool, const char *text)
{
    const char *end = piece_end(text);
    return *end ? wmem_strdup_printf(pool, "%.*s\u2026", (int)(end - text), text) : text;
}

/* Text that may be long (a log line, evidence): whole as the field's value (columns,
 * filters, -T fields, Copy Value); in the tree its first piece, and the
 * rest in pieces beneath. */
static proto_item *add_long_string(proto_tree *tree, int hf, tvbuff_t *tvb, packet_info *pinfo, const char *text)
{
    proto_item *item = proto_tree_add_string_format_value(tree, hf, tvb, 0, 0, text, "%s",
                                                          label_text(pinfo->pool, text));
    proto_item_set_generated(item);
    const char *rest = piece_end(text);
    if (!*rest)
        return item;
    proto_tree *pieces = proto_item_add_subtree(item, ett_continued);
    while (*rest) {
        const char *end = piece_end(rest);
        proto_item_set_generated(proto_tree_add_none_format(pieces, hf_continued, tvb, 0, 0, "\u2026%.*s",
                                                            (int)(end - rest), rest));
        rest = end;
    }
    return item;
}

static const char *endpoint_text(wmem_allocator_t *pool, const log_entry *line)
{
    address addr;
    set_address(&addr, line->family == 6 ? AT_IPv6 : AT_IPv4, line->family == 6 ? 16 : 4, line->addr);
    const char *host = address_to_str(pool, &addr);
    if (!line->port)
        return host;
    return wmem_strdup_printf(pool, line->family == 6 ? "[%s]:%u" : "%s:%u", host, line->port);
}

/* The log's clock offset as a zone (the nearest quarter hour, as the
 * matcher's estimate votes) and the skew left over. */
static const char *offset_text(wmem_allocator_t *pool, int64_t offset_us)
{
    const int64_t quarter_us = G_GINT64_CONSTANT(900000000);
    int64_t zone_us = (offset_us >= 0 ? offset_us + quarter_us / 2 : offset_us - quarter_us / 2) / quarter_us
                      * quarter_us;
    int64_t zone_min = (zone_us < 0 ? -zone_us : zone_us) / 60000000;
    return wmem_strdup_printf(pool, "%c%02d:%02d zone, skew %s", zone_us < 0 ? '-' : '+', (int)(zone_min / 60),
                              (int)(zone_min % 60), duration_text(pool, offset_us - zone_us, TRUE));
}

static void render_log(const rstdiag_log_hit *hit, tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree)
{
    const char *path;
    const log_entry *line = log_sources_hit_line(hit, &path);
    if (!line)
        return;
    char *message = log_text_message(line->text, (log_format)line->format);
    char *upstream = log_text_upstream(line->text, (log_format)line->format);
    proto_item *item = proto_tree_add_item(tree, hf_log, tvb, 0, 0, ENC_NA);
    proto_item_set_generated(item);
    proto_item_append_text(item, ": %s (line %u)", label_text(pinfo->pool, message), line->lineno);
    proto_tree *sub = proto_item_add_subtree(item, ett_log);
    add_long_string(sub, hf_log_message, tvb, pinfo, message);
    add_long_string(sub, hf_log_line, tvb, pinfo, line->text);
    if (line->family)
        add_token(sub, hf_log_peer, tvb, endpoint_text(pinfo->pool, line));
    if (upstream)
        add_long_string(sub, hf_log_upstream, tvb, pinfo, upstream);
    if (line->request)
        add_long_string(sub, hf_log_request, tvb, pinfo, line->request);
    if (line->level[0])
        add_token(sub, hf_log_level, tvb, line->level);
    add_token(sub, hf_log_leg, tvb, log_leg_token((log_leg)line->leg));
    add_long_string(sub, hf_log_file, tvb, pinfo, path);
    proto_item_set_generated(proto_tree_add_uint(sub, hf_log_lineno, tvb, 0, 0, line->lineno));
    add_token(sub, hf_log_match, tvb, log_match_kind_token(hit->match.kind));
    add_time(sub, hf_log_delta, tvb, hit->match.delta_us, duration_text(pinfo->pool, hit->match.delta_us, TRUE));
    add_time(sub, hf_log_offset, tvb, hit->match.offset_us, offset_text(pinfo->pool, hit->match.offset_us));
    g_free(message);
    g_free(upstream);
}

static void render(const rstdiag_record *record, tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree)
{
    const rst_diagnosis *diag = &record->diag;
    const char *cause = rst_cause_token(diag->cause);
    const char *path;
    const log_entry *line = record->hit_count ? log_sources_hit_line(&record->hits[0], &path) : NULL;

    if (pref_info_column && line)
        col_append_fstr(pinfo->cinfo, COL_INFO, " [RST: %s, log line %u]", cause, line->lineno);
    else if (pref_info_column)
        col_append_fstr(pinfo->cinfo, COL_INFO, " [RST: %s]", cause);

    proto_item *top = proto_tree_add_item(tree, proto_rstdiag, tvb, 0, 0, ENC_NA);
    proto_item_set_generated(top);
    proto_item_append_text(top, ": %s by %s, phase %s (%s confidence)", cause,
                           rst_sender_token(diag->sender), rst_phase_token(diag->phase),
                           rst_confidence_token(diag->confidence));

    proto_tree *sub = proto_item_add_subtree(top, ett_rstdiag);
    add_token(sub, hf_sender, tvb, rst_sender_token(diag->sender));
    add_token(sub, hf_phase, tvb, rst_phase_token(diag->phase));
    expert_add_info(pinfo, add_token(sub, hf_cause, tvb, cause), &ei_cause[diag->cause]);
    add_token(sub, hf_confidence, tvb, rst_confidence_token(diag->confidence));
    add_token(sub, hf_kernel_reason, tvb, rst_kernel_reason_token(diag->kernel_reason));
    char alt[160];
    rst_cause_alt_tokens(diag, alt, sizeof alt);
    if (alt[0])
        add_token(sub, hf_cause_alt, tvb, alt);
    rst_kernel_reason_alt_tokens(diag, alt, sizeof alt);
    if (alt[0])
        add_token(sub, hf_kernel_reason_alt, tvb, alt);
    add_long_string(sub, hf_evidence, tvb, pinfo, diag->evidence);
    add_token(sub, hf_shape, tvb, rst_shape_token(diag->shape));
    add_token(sub, hf_acceptable, tvb, rst_acceptability_token(diag->acceptable));
    if (diag->trigger_frame)
        proto_item_set_generated(proto_tree_add_uint(sub, hf_trigger, tvb, 0, 0, diag->trigger_frame));
    add_duration(sub, hf_idle, tvb, pinfo, diag->idle_us);
    add_duration(sub, hf_age, tvb, pinfo, diag->age_us);
    proto_item_set_generated(proto_tree_add_uint(sub, hf_bytes_client, tvb, 0, 0, diag->bytes_client));
    proto_item_set_generated(proto_tree_add_uint(sub, hf_bytes_server, tvb, 0, 0, diag->bytes_server));
    add_token(sub, hf_origin, tvb, rst_origin_token(diag->origin));
    if (diag->origin_evidence[0])
        add_long_string(sub, hf_origin_evidence, tvb, pinfo, diag->origin_evidence);
    if (diag->ttl_delta_known)
        proto_item_set_generated(proto_tree_add_int(sub, hf_ttl_delta, tvb, 0, 0, diag->ttl_delta));
    add_token(sub, hf_stack, tvb, rst_stack_token(diag->stack));
    if (diag->stack_evidence[0])
        add_token(sub, hf_stack_evidence, tvb, diag->stack_evidence);
    if (diag->ignored != IGNORED_NO)
        add_token(sub, hf_ignored, tvb, rst_ignored_token(diag->ignored));
    if (record->after_reset)
        proto_item_set_generated(proto_tree_add_uint(sub, hf_after_reset, tvb, 0, 0, record->after_reset));
    if (record->vendor) {
        add_token(sub, hf_vendor, tvb, record->vendor->text);
        if (record->vendor->has_code)
            proto_item_set_generated(proto_tree_add_uint(sub, hf_vendor_code, tvb, 0, 0, record->vendor->code));
    }
    for (guint i = 0; i < record->hit_count; i++)
        render_log(&record->hits[i], tvb, pinfo, sub);
}

static void queue_tap(packet_info *pinfo, const rstdiag_record *record, gboolean later_pass)
{
    if (!have_tap_listener(rstdiag_tap))
        return;
    rstdiag_tap_data *data = wmem_new(pinfo->pool, rstdiag_tap_data);
    *data = (rstdiag_tap_data){ .record = record };
    log_sources_tap_view(data, later_pass, last_tracked_frame);
    tap_queue_packet(rstdiag_tap, pinfo, data);
}

static int dissect_rstdiag(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    rstdiag_record *record;
    guint32 after_reset = 0;
    gboolean later_pass = pinfo->num <= last_tracked_frame;
    if (!later_pass) {   /* first sight: nothing stored for it yet */
        log_sources_note_frame(pinfo);
        record = track_frame(tvb, pinfo, &after_reset);
    } else {
        record = (rstdiag_record *)p_get_proto_data(wmem_file_scope(), pinfo, proto_rstdiag, PROTO_DATA_RECORD);
        if (record == NULL)
            after_reset = GPOINTER_TO_UINT(p_get_proto_data(wmem_file_scope(), pinfo, proto_rstdiag,
                                                            PROTO_DATA_AFTER_RESET));
    }
    if (record == NULL) {
        /* a later frame of a reset stream: a bare mark, outside the rstdiag item so
         * that the filter "rstdiag" keeps meaning "a diagnosed RST" */
        if (after_reset)
            proto_item_set_generated(proto_tree_add_uint(tree, hf_after_reset, tvb, 0, 0, after_reset));
        return 0;
    }
    const char *saved_proto = pinfo->current_proto;
    pinfo->current_proto = RSTDIAG_NAME;   /* the expert infos' protocol: not set for a pino */
    log_sources_refresh_hits(record);
    render(record, tvb, pinfo, tree);
    queue_tap(pinfo, record, later_pass);
    pinfo->current_proto = saved_proto;
    return tvb_captured_length(tvb);
}

/* ---- life cycle ----------------------------------------------------------- */

static void apply_preferences(void);

static void rstdiag_init(void)
{
    /* A profile switch resets the preferences to their defaults without
     * marking them changed (prefs_reset), so prefs_apply_all() does not call
     * the apply callback for a module the new profile leaves at its defaults;
     * the redissection that follows (epan_new) runs the init routines. So the
     * settings are derived from the preferences again here, for every file
     * and every redissection. */
    apply_preferences();
    stream_chunks = NULL;
    stream_chunk_count = 0;
    last_tracked_frame = 0;
    seen_rst = FALSE;
    conn_listeners_free(listeners);   /* normally freed by the cleanup already */
    listeners = conn_listeners_new();
    log_sources_file_init();
    if (!proto_is_protocol_enabled(find_protocol_by_id(proto_rstdiag)) || tap_helper_registered)
        return;
    /* A listener without callbacks: it only makes the tcp/ip taps queue their
     * data so fetch_tapped_data() works; it does not ask for a tree. */
    GString *error = register_tap_listener("tcp", &tap_helper_token, NULL, TL_IS_DISSECTOR_HELPER,
                                           NULL, NULL, NULL, NULL);
    if (error) {
        report_failure("RSTDIAG: cannot read TCP headers (tap listener: %s); resets will not be diagnosed",
                       error->str);
        g_string_free(error, TRUE);
        return;
    }
    tap_helper_registered = TRUE;
}

static void rstdiag_cleanup(void)
{
    fflush(stdout);   /* after tshark's output, not inside it */
    log_sources_file_cleanup(last_tracked_frame);
    stream_chunks = NULL;   /* freed with the file scope */
    stream_chunk_count = 0;
    conn_listeners_free(listeners);
    listeners = NULL;
    if (tap_helper_registered) {
        remove_tap_listener(&tap_helper_token);
        tap_helper_registered = FALSE;
    }
}

/* At exit: the plugin is unloaded, so what only its statics point at must go now. */
static void rstdiag_shutdown(void)
{
    log_sources_shutdown();
}
/* Everything derived from the preferences; idempotent (see rstdiag_init). */
static void apply_preferences(void)
{
    if (pref_response_timeout_ms == 0 || pref_response_timeout_ms > RESPONSE_TIMEOUT_MAX_MS) {
        report_failure("RSTDIAG: response_timeout %u ms is outside 1..%u ms; using %u ms",
                       pref_response_timeout_ms, RESPONSE_TIMEOUT_MAX_MS, RESPONSE_TIMEOUT_DEFAULT_MS);
        pref_response_timeout_ms = RESPONSE_TIMEOUT_DEFAULT_MS;
    }
    settings.response_timeout_ms = pref_response_timeout_ms;

    GPtrArray *problems = g_ptr_array_new_with_free_func(g_free);
    char *error = NULL;
    if (!idle_timers_parse(pref_idle_timers, &idle_timers, &error))
        g_ptr_array_add(problems, error);
    log_sources_configure(problems);
}

static void register_expert_fields(void)
{
    static const int expert_severity[] = { [SEVERITY_NOTE] = PI_NOTE, [SEVERITY_WARN] = PI_WARN,
                                           [SEVERITY_ERROR] = PI_ERROR };
    static ei_register_info ei[CAUSE_COUNT];
    /* Wireshark keeps pointers to these until exit; in the plugin's own static
     * storage they are not leaked when it is unloaded (valgrind) */
    static char names[CAUSE_COUNT][64], summaries[CAUSE_COUNT][256];
    for (int i = 0; i < CAUSE_COUNT; i++) {
        const char *token = rst_cause_token((rst_cause)i);
        int severity = expert_severity[rst_cause_severity((rst_cause)i)];
        g_snprintf(names[i], sizeof names[i], "rstdiag.expert.%s", token);
        g_strdelimit(names[i], "-", '_');   /* field names: letters, digits, '_' and '.' */
        g_snprintf(summaries[i], sizeof summaries[i], "TCP reset, cause %s: %s", token,
                   rst_cause_summary((rst_cause)i));
        ei_cause[i] = (expert_field)EI_INIT;
        ei[i] = (ei_register_info){ &ei_cause[i], { names[i], PI_SEQUENCE, severity, summaries[i], EXPFILL } };
    }
    expert_module_t *module = expert_register_protocol(proto_rstdiag);
    expert_register_field_array(module, ei, CAUSE_COUNT);
}

#define TOKEN_FIELD(var, name, abbrev, blurb) \
    { &var, { name, abbrev, FT_STRING, BASE_NONE, NULL, 0x0, blurb, HFILL } }

void proto_register_rstdiag(void)
{
    static hf_register_info hf[] = {
        TOKEN_FIELD(hf_sender, "Sender", "rstdiag.sender",
            "Role of the endpoint whose address the RST carries: client (sent the SYN), server, "
            "or unknown; without a captured handshake the roles are guessed from the ports"),
        TOKEN_FIELD(hf_phase, "Phase", "rstdiag.phase",
            "Where in the connection the RST came: syn, synack, established (no data yet), data, "
            "closing (after one FIN), closed (after both FINs or an earlier RST), unknown (start not captured)"),
        TOKEN_FIELD(hf_cause, "Cause", "rstdiag.cause",
            "Likely cause: refused, accept-overflow, bad-handshake, connect-abandoned, handshake-abort, "
            "unread-data, abortive-close, response-timeout, data-after-close, stale-connection, "
            "keepalive-timeout, late-after-close, blocked, injected, idle-timeout, relayed, keepalive-race "
            "or unknown"),
        TOKEN_FIELD(hf_confidence, "Confidence", "rstdiag.confidence",
            "How firmly the traffic supports the cause: high (no other reading fits), medium (an "
            "alternative is named, or the handshake was not captured) or low"),
        TOKEN_FIELD(hf_kernel_reason, "Likely kernel reason", "rstdiag.kernel_reason",
            "The Linux sk_rst_reason the sender's kernel would most likely report for this RST "
            "(tcp:tcp_send_reset tracepoint), NONE when no end host's stack would send it, or not-linux "
            "when the sender runs another stack (rstdiag.stack)"),
        TOKEN_FIELD(hf_cause_alt, "Alternative causes", "rstdiag.cause.alt",
            "Other causes the traffic cannot rule out, comma-separated (present only when there are some; "
            "the confidence is then at most medium)"),
        TOKEN_FIELD(hf_kernel_reason_alt, "Alternative kernel reasons", "rstdiag.kernel_reason.alt",
            "Other kernel reasons the traffic cannot rule out, comma-separated (e.g. TCP_STATE when the "
            "application may have read the data before an SO_LINGER{1,0} close)"),
        TOKEN_FIELD(hf_evidence, "Evidence", "rstdiag.evidence",
            "The observations and numbers that led to the cause, in plain words"),
        TOKEN_FIELD(hf_shape, "Shape", "rstdiag.shape",
            "active: RST|ACK with the sender's next sequence number, from a live socket; passive: "
            "answer to an unacceptable segment (seq copied from its ack, or seq 0 to a SYN); nonstandard: anything else"),
        TOKEN_FIELD(hf_acceptable, "Acceptable", "rstdiag.acceptable",
            "Whether the receiver's TCP would accept the RST (RFC 9293, RFC 5961): exact, in-window, "
            "out-of-window or unknown"),
        { &hf_trigger, { "Answers frame", "rstdiag.trigger", FT_FRAMENUM, BASE_NONE, NULL, 0x0,
            "The frame whose arrival this RST answers", HFILL } },
        { &hf_idle, { "Idle before RST", "rstdiag.idle", FT_RELATIVE_TIME, BASE_NONE, NULL, 0x0,
            "Time since the stream's previous segment", HFILL } },
        { &hf_age, { "Connection age", "rstdiag.age", FT_RELATIVE_TIME, BASE_NONE, NULL, 0x0,
            "Time since the stream's SYN (absent when the SYN was not captured)", HFILL } },
        { &hf_bytes_client, { "Client payload bytes", "rstdiag.bytes.client", FT_UINT32, BASE_DEC, NULL, 0x0,
            "New payload bytes the client sent before the RST (retransmissions not counted)", HFILL } },
        { &hf_bytes_server, { "Server payload bytes", "rstdiag.bytes.server", FT_UINT32, BASE_DEC, NULL, 0x0,
            "New payload bytes the server sent before the RST (retransmissions not counted)", HFILL } },
        TOKEN_FIELD(hf_origin, "Origin", "rstdiag.origin",
            "Who put the RST on the wire: endpoint (the host whose address it carries), middlebox (a "
            "device in the path speaking in its name), or unknown"),
        TOKEN_FIELD(hf_origin_evidence, "Origin evidence", "rstdiag.origin.evidence",
            "What the origin rests on: TTL, IP ID, timing against the round trip, repeated RSTs, vendor "
            "codes, and traffic from the claimed sender after its own RST"),
        { &hf_ttl_delta, { "TTL delta", "rstdiag.ttl_delta", FT_INT32, BASE_DEC, NULL, 0x0,
            "The RST's TTL or hop limit minus the nearest of those the claimed sender's own packets "
            "arrive with on all its streams (0: same distance; anything else: sent from elsewhere)", HFILL } },
        TOKEN_FIELD(hf_stack, "Sender's stack", "rstdiag.stack",
            "The TCP/IP stack that sent the RST, from the sender's packets on all its streams: linux, "
            "windows, bsd or unknown (also for a device's RST); rstdiag.kernel_reason is not-linux for the others"),
        TOKEN_FIELD(hf_stack_evidence, "Stack evidence", "rstdiag.stack.evidence",
            "What the stack rests on: initial TTL (64, 128, 255), the order of its SYN options, and how "
            "the sender numbers its IP IDs (per connection, one counter, always 0)"),
        TOKEN_FIELD(hf_ignored, "Ignored by the receiver", "rstdiag.ignored",
            "Why the receiver evidently did not accept the RST: out-of-window, challenge-ack (RFC 5961) "
            "or traffic-continued; absent when nothing says so (known after later frames: two-pass and GUI)"),
        { &hf_after_reset, { "After the reset in frame", "rstdiag.after_reset", FT_FRAMENUM, BASE_NONE, NULL, 0x0,
            "This frame comes after a RST of its stream: the stream's first RST", HFILL } },
        TOKEN_FIELD(hf_vendor, "Vendor reason", "rstdiag.vendor",
            "The reason the RST carries itself: NetScaler code in the window field, F5 BIG-IP reset cause, "
            "IETF RST diagnostic payload, Linux reset reason payload, MPTCP MP_TCPRST reason, or other "
            "payload text"),
        { &hf_vendor_code, { "Vendor reason code", "rstdiag.vendor.code", FT_UINT32, BASE_DEC, NULL, 0x0,
            "The numeric reason code: NetScaler, IETF diagnostic, Linux sk_rst_reason or MP_TCPRST reason",
            HFILL } },
        { &hf_log, { "Application log", "rstdiag.log", FT_NONE, BASE_NONE, NULL, 0x0,
            "The application log line this RST caused (preferences log_file and log_sources); the tree shows "
            "its message", HFILL } },
        TOKEN_FIELD(hf_log_message, "Log message", "rstdiag.log.message",
            "The line's message without the program's prefix (time, level, process and connection numbers) "
            "and without the fields shown apart (client, request, upstream)"),
        TOKEN_FIELD(hf_log_line, "Log line", "rstdiag.log.line",
            "The whole matched line (up to 1024 bytes, control characters and invalid UTF-8 replaced); the tree "
            "shows it in pieces, the field's value is whole"),
        { &hf_continued, { "Continued", "rstdiag.continued", FT_NONE, BASE_NONE, NULL, 0x0,
            "A further piece of a text too long for one line of the tree (log line, evidence); the field "
            "itself holds the whole text", HFILL } },
        TOKEN_FIELD(hf_log_peer, "Log peer", "rstdiag.log.peer",
            "The address (and port) the line names as the other end of the reset connection"),
        TOKEN_FIELD(hf_log_upstream, "Log upstream", "rstdiag.log.upstream",
            "The upstream the line names: nginx upstream URL, Apache remote server, HAProxy backend/server, "
            "Envoy upstream host"),
        TOKEN_FIELD(hf_log_file, "Log file", "rstdiag.log.file", "The log file the line comes from"),
        { &hf_log_lineno, { "Log line number", "rstdiag.log.lineno", FT_UINT32, BASE_DEC, NULL, 0x0,
            "1-based line number of the matched line in the log file", HFILL } },
        { &hf_log_delta, { "Log time minus RST time", "rstdiag.log.delta", FT_RELATIVE_TIME, BASE_NONE, NULL, 0x0,
            "The line's time after the clock offset, minus the RST's capture time", HFILL } },
        TOKEN_FIELD(hf_log_match, "Log matched on", "rstdiag.log.match",
            "What tied the line to the RST besides time: address+port, address, or time alone"),
        TOKEN_FIELD(hf_log_leg, "Log leg", "rstdiag.log.leg",
            "Which connection of the logging program was reset: client (from its client) or upstream"),
        TOKEN_FIELD(hf_log_level, "Log level", "rstdiag.log.level",
            "The line's severity as the log wrote it (nginx and Apache: info, error, ...)"),
        TOKEN_FIELD(hf_log_request, "Log request", "rstdiag.log.request",
            "The request line the log quotes (nginx, HAProxy, Envoy), cut to 256 bytes"),
        { &hf_log_offset, { "Log clock offset", "rstdiag.log.offset", FT_RELATIVE_TIME, BASE_NONE, NULL, 0x0,
            "Offset between the log's clock and UTC applied to the line: its zone (shown as +HH:MM) plus "
            "clock skew (estimated from the traffic unless set in the preferences)", HFILL } },
    };
    static gint *ett[] = { &ett_rstdiag, &ett_log, &ett_continued };

    /* one name wherever Wireshark shows one: tree, preferences, Expert
     * Information, statistics; the filter name inside it */
    proto_rstdiag = proto_register_protocol(RSTDIAG_NAME, RSTDIAG_NAME, "rstdiag");
    proto_rstdiag_post = proto_register_protocol_in_name_only(RSTDIAG_NAME " post-dissector",
        "rstdiag (TCP RST diagnosis) post-dissector", "rstdiag.postdissector", proto_rstdiag, FT_PROTOCOL);
    rstdiag_tap = register_tap("rstdiag");
    register_rstdiag_stats();
    proto_register_field_array(proto_rstdiag, hf, array_length(hf));
    proto_register_subtree_array(ett, array_length(ett));
    register_expert_fields();

    module_t *module = prefs_register_protocol(proto_rstdiag, apply_preferences);
    prefs_register_bool_preference(module, "info_column", "Show the cause in the Info column",
        "Append \"[RST: cause]\" to the Info column of every diagnosed RST", &pref_info_column);
    prefs_register_uint_preference(module, "response_timeout", "Response timeout (ms)",
        "A client that resets after waiting at least this long for an answer to its data is "
        "diagnosed as response-timeout (1 to 3600000 ms)", 10, &pref_response_timeout_ms);
    log_sources_register_preferences(module);
    prefs_register_string_preference(module, "idle_timers", "Site idle timers",
        "Idle timers of your own load balancers, NATs and firewalls, added to the known defaults "
        "(AWS NLB 350 s, Azure LB 240 s, F5 300 s, GCP Cloud NAT 1200 s, ...): name=seconds, comma separated, "
        "e.g. \"edge-fw=900, haproxy=60\"", &pref_idle_timers);
    log_sources_register_table(module, apply_preferences);
    /* a pointer under R in the preferences' protocol list, where the filter
     * name would have it */
    module_t *pointer = prefs_register_protocol(proto_rstdiag_post, NULL);
    prefs_register_static_text_preference(pointer, "see", "The settings are under Protocols \u203a " RSTDIAG_NAME,
        "rstdiag's settings are those of " RSTDIAG_NAME);

    reset_streams = wmem_map_new_autoreset(wmem_epan_scope(), wmem_file_scope(), g_direct_hash, g_direct_equal);
    hosts = wmem_map_new_autoreset(wmem_epan_scope(), wmem_file_scope(), address_hash, address_equal);
    latest_reset_by_receiver = wmem_map_new_autoreset(wmem_epan_scope(), wmem_file_scope(), address_hash,
                                                      address_equal);
    char *no_error;
    idle_timers_parse(NULL, &idle_timers, &no_error);   /* the known timers until preferences are read */
    register_init_routine(rstdiag_init);
    register_cleanup_routine(rstdiag_cleanup);
    register_shutdown_routine(rstdiag_shutdown);
}

void proto_reg_handoff_rstdiag(void)
{
    tcp_tap_id = find_tap_id("tcp");
    ip_tap_id = find_tap_id("ip");
    ipv6_tap_id = find_tap_id("ipv6");
    register_postdissector(create_dissector_handle(dissect_rstdiag, proto_rstdiag_post));
}
