/* SPDX-License-Identifier: GPL-2.0-or-later */
/* segment.c - a frame's TCP/IP facts, read in one place, and the hosts
 * across streams (see segment.h).
 *
 * Cost: the values come from the "tcp", "ip" and "ipv6" taps
 * (fetch_tapped_data) instead of fields, so Wireshark does not have to build
 * a protocol tree for every packet; where no taps run (tshark's first pass
 * with -2) they come from the frame's bytes.
 */
#include "segment.h"

#include <epan/conversation.h>
#include <epan/ipproto.h>
#include <epan/tap.h>
#include <epan/dissectors/packet-ip.h>
#include <epan/dissectors/packet-tcp.h>
#include <wsutil/report_message.h>

static int tcp_tap_id = -1;
static int ip_tap_id = -1;
static int ipv6_tap_id = -1;
/* Identifies our helper tap listener (any unique address will do). */
static int tap_helper_token;
static gboolean tap_helper_registered;
/* host address -> host_facts: TTLs and round trips seen across streams */
static wmem_map_t *hosts;
/* receiver address -> latest_reset: for RSTs passed on from one stream to another */
static wmem_map_t *latest_reset_by_receiver;

typedef struct {
    int64_t time_us;
    guint32 frame;
    guint32 stream;
} latest_reset;

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

static void read_segment(const tcp_info_t *tcph, const packet_info *pinfo, frame_segment *fs)
{
    tcp_segment *seg = &fs->seg;
    copy_address_shallow(&fs->src, &tcph->ip_src);
    copy_address_shallow(&fs->dst, &tcph->ip_dst);
    fs->stream = tcph->th_stream;
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

gboolean segment_read(tvbuff_t *tvb, packet_info *pinfo, frame_segment *fs)
{
    tcp_info_t from_bytes;
    const tcp_info_t *tcph = innermost_tcp_header();
    if (tcph)
        read_carrier(tcph, &fs->seg);
    else {
        frame_bytes_result bytes = read_frame_bytes(tvb, pinfo, &from_bytes, &fs->seg);
        if (bytes != BYTES_READ) {
            if (bytes == BYTES_UNREADABLE || tcp_header_lost(pinfo))
                tell_unreadable_tcp(pinfo);
            return FALSE;
        }
        tcph = &from_bytes;
    }
    read_segment(tcph, pinfo, fs);
    return TRUE;
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

/* The TCP header of seg in the frame's bytes: the last place where its ports,
 * sequence and acknowledgement numbers appear (the innermost, if tunnelled). */
static gint find_tcp_header(const guint8 *data, gint len, const tcp_segment *seg)
{
    guint8 pattern[12];
    put_be16(pattern, seg->src_port);
    put_be16(pattern + 2, seg->dst_port);
    put_be32(pattern + 4, seg->seq);
    put_be32(pattern + 8, seg->ack);
    for (gint offset = len - 20; offset >= 0; offset--) {
        if (memcmp(data + offset, pattern, sizeof pattern) == 0)
            return offset;
    }
    return -1;
}

/* What a RST says about itself: an MPTCP reason among its options, a vendor
 * code in its window, or its payload. */
rst_vendor_info *segment_vendor(tvbuff_t *tvb, const frame_segment *fs)
{
    gint len = (gint)tvb_captured_length(tvb);
    const guint8 *data = tvb_get_ptr(tvb, 0, len);
    gint header = find_tcp_header(data, len, &fs->seg);
    if (header < 0)
        return NULL;
    guint16 raw_window = get_be16(data + header + 14);
    gint payload = header + (data[header + 12] >> 4) * 4;
    size_t payload_len = 0;
    if (payload >= header + 20 && payload < len)
        payload_len = MIN((size_t)fs->seg.payload_len, (size_t)(len - payload));
    size_t options_len = payload > header + 20 ? (size_t)(MIN(payload, len) - (header + 20)) : 0;

    rst_vendor_info info;
    if (!rst_vendor_decode_options(data + header + 20, options_len, &info)
        && !rst_vendor_decode(raw_window, payload_len ? data + payload : NULL, payload_len, &info))
        return NULL;
    return (rst_vendor_info *)wmem_memdup(wmem_file_scope(), &info, sizeof info);
}

/* The option layout of a SYN or SYN-ACK: its option kinds in order, up to the first EOL. */
static syn_layout read_syn_layout(tvbuff_t *tvb, const tcp_segment *seg)
{
    gint len = (gint)tvb_captured_length(tvb);
    const guint8 *data = tvb_get_ptr(tvb, 0, len);
    gint header = find_tcp_header(data, len, seg);
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
void hosts_learn(tvbuff_t *tvb, const frame_segment *fs, const conn_stream *st)
{
    const tcp_segment *seg = &fs->seg;
    gboolean syn = (seg->flags & TCP_FLAG_SYN) != 0, ack = (seg->flags & TCP_FLAG_ACK) != 0;
    if (seg->flags & TCP_FLAG_RST)
        return;
    host_facts *facts = host_entry(&fs->src, TRUE);
    if (syn)
        host_learn_layout(facts, read_syn_layout(tvb, seg));
    if (!host_learns_from(seg))
        return;
    unsigned dir = conn_side_of(st, seg);
    const conn_side *me = &st->side[dir], *peer = &st->side[!dir];
    /* SYN -> SYN-ACK: the round trip from the capture point to the server */
    gboolean synack_rtt = syn && ack && dir == 1 && (peer->flags & SIDE_SENT_SYN) && !(me->flags & SIDE_SEEN);
    /* SYN-ACK -> ACK: the round trip to the client */
    gboolean ack_rtt = !syn && ack && (me->flags & SIDE_SENT_SYN) && (peer->flags & SIDE_SENT_SYNACK)
        && (peer->flags & SIDE_SENT_LAST) && !(me->flags & (SIDE_SENT_HS_ACK | SIDE_BAD_HS_ACK));
    host_learn_packet(facts, seg, fs->stream);
    uint32_t now = conn_tick(seg->time_us);
    if (synack_rtt)
        host_facts_add_rtt(facts, conn_ticks_us(now, st->first_tick));
    if (ack_rtt)
        host_facts_add_rtt(facts, conn_ticks_us(now, st->last_tick));
}

const host_facts *hosts_find(const address *addr)
{
    return host_entry(addr, FALSE);
}

void hosts_path_facts(const frame_segment *fs, path_facts *facts)
{
    const host_facts *sender = host_entry(&fs->src, FALSE);
    if (sender)
        facts->sender = *sender;
    else
        host_facts_init(&facts->sender);
    /* a RST this sender received on another stream just before its own */
    int64_t time_us = fs->seg.time_us;
    const latest_reset *received = (const latest_reset *)wmem_map_lookup(latest_reset_by_receiver, &fs->src);
    if (received && received->stream != fs->stream && time_us >= received->time_us
        && time_us - received->time_us <= RELAY_WINDOW_US) {
        facts->relay_frame = received->frame;
        facts->relay_stream = received->stream;
        facts->relay_gap_us = time_us - received->time_us;
    }
}

void hosts_remember_reset(const frame_segment *fs)
{
    latest_reset *entry = (latest_reset *)wmem_map_lookup(latest_reset_by_receiver, &fs->dst);
    if (entry == NULL) {
        entry = wmem_new(wmem_file_scope(), latest_reset);
        wmem_map_insert(latest_reset_by_receiver, address_key(&fs->dst), entry);
    }
    *entry = (latest_reset){ fs->seg.time_us, fs->seg.frame, fs->stream };
}

/* ---- life cycle ----------------------------------------------------------- */

void segment_register(void)
{
    tcp_tap_id = find_tap_id("tcp");
    ip_tap_id = find_tap_id("ip");
    ipv6_tap_id = find_tap_id("ipv6");
    hosts = wmem_map_new_autoreset(wmem_epan_scope(), wmem_file_scope(), address_hash, address_equal);
    latest_reset_by_receiver = wmem_map_new_autoreset(wmem_epan_scope(), wmem_file_scope(), address_hash,
                                                      address_equal);
}

void segment_file_init(gboolean enabled)
{
    if (!enabled || tap_helper_registered)
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

void segment_file_cleanup(void)
{
    if (tap_helper_registered) {
        remove_tap_listener(&tap_helper_token);
        tap_helper_registered = FALSE;
    }
}
