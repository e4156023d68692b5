/* SPDX-License-Identifier: GPL-2.0-or-later */
/* segment.c - a frame's TCP/IP facts, read in one place, and the hosts
 * across streams (see segment.h).
 *
 * Cost: no fields are asked for (they would make Wireshark build a
 * protocol tree for every packet). TCP's values come from its tap
 * (fetch_tapped_data), where taps run; the IP facts and the TCP header's
 * place from the frame's bytes, found at once through the addresses the
 * innermost IP dissector left in pinfo. Where no taps run (tshark's first
 * pass with -2) everything comes from the bytes and TCP's conversation.
 */
#include "segment.h"

#include <string.h>

#include <epan/conversation.h>
#include <epan/ipproto.h>
#include <epan/tap.h>
#include <epan/dissectors/packet-ip.h>
#include <epan/dissectors/packet-tcp.h>
#include <wsutil/report_message.h>

/* host address -> host_facts: TTLs and round trips seen across streams */
static wmem_map_t *hosts;
/* receiver address -> latest_reset: for RSTs passed on from one stream to another */
static wmem_map_t *latest_reset_by_receiver;

typedef struct {
    int64_t time_us;
    guint32 frame;
    guint32 stream;
    rst_sender receiver_role;  /* the receiver's role on that stream */
} latest_reset;

/* ---- reading the segment ------------------------------------------------ */

static int tcp_tap_id = -1;
static int ip_tap_id = -1;
static int ipv6_tap_id = -1;
/* Identifies our helper tap listener (any unique address will do). */
static int tap_helper_token;
static gboolean tap_helper_registered;
/* Protocol ids of the layers the reader looks for (the frame's layer list
 * holds ids: comparing them costs nothing next to comparing names). */
static int proto_tcp_id = -1;
static int proto_icmp_id = -1;
static int proto_icmpv6_id = -1;

/* Whether the frame has a TCP layer, and one that is no header quoted in
 * an ICMP error (one pass over its layers). */
static gboolean frame_has_tcp(const packet_info *pinfo, gboolean *quoted)
{
    gboolean tcp = FALSE;
    *quoted = pinfo->flags.in_error_pkt;
    for (wmem_list_frame_t *layer = wmem_list_head(pinfo->layers); layer; layer = wmem_list_frame_next(layer)) {
        int proto = GPOINTER_TO_INT(wmem_list_frame_data(layer));
        tcp = tcp || proto == proto_tcp_id;
        *quoted = *quoted || proto == proto_icmp_id || proto == proto_icmpv6_id;
    }
    return tcp;
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

/* IPv6 extension headers TCP may sit behind (hop-by-hop, routing, destination options). */
static gboolean ipv6_extension(guint8 next_header)
{
    return next_header == 0 || next_header == 43 || next_header == 60;
}

/* Where a frame's TCP segment sits in its bytes. */
typedef struct {
    const address *src;   /* the segment's addresses and ports */
    const address *dst;
    guint32 src_port;
    guint32 dst_port;
    tvbuff_t *tvb;
    const guint8 *data;
    gint len;             /* captured bytes */
    gboolean v6;
    gint ip;              /* the IP header that carried it */
    gint tcp;             /* its TCP header */
    guint32 tcp_bytes;    /* TCP header and payload, as the IP header counts them */
} frame_bytes;

/* Is there, at fb->ip, an IP header with the segment's addresses and a TCP
 * header behind it with its ports? Fills fb->tcp and fb->tcp_bytes. */
static gboolean carries_segment(frame_bytes *fb)
{
    const guint8 *data = fb->data;
    gint ip = fb->ip, addr_len = fb->v6 ? 16 : 4, addr_at = fb->v6 ? 8 : 12;
    const guint8 *src = data + ip + addr_at, *dst = src + addr_len;
    /* the addresses are compared only when they were not read from here */
    if (ip < 0 || ip > fb->len - (fb->v6 ? 40 : 20) || (data[ip] >> 4) != (fb->v6 ? 6 : 4)
        || (src != fb->src->data && memcmp(src, fb->src->data, addr_len) != 0)
        || (dst != fb->dst->data && memcmp(dst, fb->dst->data, addr_len) != 0))
        return FALSE;
    if (!fb->v6) {
        gint ihl = (data[ip] & 0x0f) * 4;
        gint total = (gint)get_be16(data + ip + 2);
        if (total == 0)   /* segmentation offload: the length is the frame's, as Wireshark presumes */
            total = (gint)tvb_reported_length(fb->tvb) - ip;
        if (ihl < 20 || data[ip + 9] != IP_PROTO_TCP || total < ihl)
            return FALSE;
        fb->tcp = ip + ihl;
        fb->tcp_bytes = (guint32)(total - ihl);
    } else {
        guint8 next = data[ip + 6];
        gint at = ip + 40;
        gint64 left = get_be16(data + ip + 4);
        for (int hops = 0; hops < 8 && ipv6_extension(next); hops++) {
            if (at + 2 > fb->len)
                return FALSE;
            gint size = (data[at + 1] + 1) * 8;
            next = data[at];
            at += size;
            left -= size;
        }
        if (next != IP_PROTO_TCP || left < 0)
            return FALSE;
        fb->tcp = at;
        fb->tcp_bytes = (guint32)left;
    }
    gint tcp = fb->tcp;
    return tcp + 4 > fb->len || (get_be16(data + tcp) == fb->src_port && get_be16(data + tcp + 2) == fb->dst_port);
}

/* The innermost IP header with the segment's addresses and ports. The
 * innermost IP dissector left the addresses pointing into the frame's bytes
 * (unless the packet was reassembled or decrypted): that header is tried
 * first, then the bytes from the end. */
static gboolean find_segment(tvbuff_t *tvb, frame_bytes *fb)
{
    if (fb->src->type != fb->dst->type || (fb->src->type != AT_IPv4 && fb->src->type != AT_IPv6))
        return FALSE;
    fb->tvb = tvb;
    fb->len = (gint)tvb_captured_length(tvb);
    fb->v6 = fb->src->type == AT_IPv6;
    fb->data = tvb_get_ptr(tvb, 0, fb->len);
    uintptr_t start = (uintptr_t)fb->data, at = (uintptr_t)fb->src->data;
    uintptr_t addr_at = fb->v6 ? 8 : 12;
    if (at >= start + addr_at && at < start + (uintptr_t)fb->len) {
        fb->ip = (gint)(at - start - addr_at);
        if (carries_segment(fb))
            return TRUE;
    }
    for (fb->ip = fb->len - (fb->v6 ? 40 : 20); fb->ip >= 0; fb->ip--) {
        if (carries_segment(fb))
            return TRUE;
    }
    return FALSE;
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

/* 32 well-mixed bits of an address: its 4-byte words folded by Fibonacci
 * hashing (one multiply per word; Wireshark's add_address_to_hash works
 * byte by byte). One-to-one on IPv4 addresses. */
static guint32 address_bits(const address *addr)
{
    const guint8 *bytes = (const guint8 *)addr->data;
    guint32 hash = (guint32)addr->type;
    for (int at = 0; at + 4 <= addr->len; at += 4) {
        guint32 word;
        memcpy(&word, bytes + at, sizeof word);
        hash = (hash ^ word) * 0x9e3779b1u;
    }
    return hash;
}

/* What every segment carries besides its TCP header fields. */
static void read_frame(const packet_info *pinfo, const address *src, const address *dst, guint32 src_port,
                       guint32 dst_port, frame_segment *fs)
{
    tcp_segment *seg = &fs->seg;
    copy_address_shallow(&fs->src, src);
    copy_address_shallow(&fs->dst, dst);
    seg->frame = pinfo->num;
    /* any time a pcapng can hold, kept within what microseconds can count */
    int64_t secs = CLAMP((int64_t)pinfo->abs_ts.secs, -G_GINT64_CONSTANT(9000000000000),
                         G_GINT64_CONSTANT(9000000000000));
    seg->time_us = secs * 1000000 + pinfo->abs_ts.nsecs / 1000;
    seg->src_key = address_bits(src) * 65599u + src_port;   /* address + port */
    seg->src_port = (uint16_t)src_port;
    seg->dst_port = (uint16_t)dst_port;
}

/* The IP facts (TTL or hop limit, IPv4 ID) and the TCP header's place, from the bytes. */
static void read_carrier(const frame_bytes *fb, frame_segment *fs)
{
    fs->seg.ttl = fb->data[fb->ip + (fb->v6 ? 7 : 8)];
    fs->seg.ip_id = fb->v6 ? -1 : (int32_t)get_be16(fb->data + fb->ip + 4);
    fs->tcp_header = fb->tcp;
}

/* The IP facts of the header that carried tcph, from the IP dissectors' own
 * taps (queued with TCP's): the IPv4 entry whose source address is the very
 * bytes TCP's points at, the IPv6 entry with TCP's addresses (IPv6 copies
 * them). FALSE when none is. Cheaper than finding the header in the
 * frame's bytes, which is left for the SYNs and RSTs whose TCP header is read
 * again (bench/notes.md). */
static gboolean read_ip_tap(const tcp_info_t *tcph, tcp_segment *seg)
{
    const void *entry;
    if (tcph->ip_src.type == AT_IPv4) {
        for (int idx = 0; (entry = fetch_tapped_data(ip_tap_id, idx)) != NULL; idx++) {
            const ws_ip4 *ip = (const ws_ip4 *)entry;
            if (ip->ip_src.data == tcph->ip_src.data) {
                seg->ttl = ip->ip_ttl;
                seg->ip_id = ip->ip_id;
                return TRUE;
            }
        }
    } else if (tcph->ip_src.type == AT_IPv6) {
        for (int idx = 0; (entry = fetch_tapped_data(ipv6_tap_id, idx)) != NULL; idx++) {
            const ws_ip6 *ip = (const ws_ip6 *)entry;
            if (addresses_equal(&ip->ip6_src, &tcph->ip_src) && addresses_equal(&ip->ip6_dst, &tcph->ip_dst)) {
                seg->ttl = ip->ip6_hop;
                seg->ip_id = -1;
                return TRUE;
            }
        }
    }
    return FALSE;
}

/* The IP facts and the TCP header's place from the frame's bytes, for a
 * tapped segment (a SYN or a RST, or one whose IP tap entry is missing).
 * Apart from read_tapped, which runs for every frame. */
static G_GNUC_NO_INLINE void read_tapped_bytes(tvbuff_t *tvb, const tcp_info_t *tcph, frame_segment *fs)
{
    frame_bytes fb = { .src = &tcph->ip_src, .dst = &tcph->ip_dst, .src_port = tcph->th_sport,
                       .dst_port = tcph->th_dport };
    if (find_segment(tvb, &fb))
        read_carrier(&fb, fs);
    else {   /* reassembled or decrypted: TCP's values hold, the IP facts are unknown */
        fs->seg.ttl = 0;
        fs->seg.ip_id = -1;
    }
}

/* With taps (tshark's single pass, its second with -2, the GUI): TCP's own
 * values from its tap, the innermost header that is no quote in an ICMP
 * error; the IP facts from the IP taps, or from the bytes, which also give a
 * SYN's or a RST's TCP header its place. */
static gboolean read_tapped(tvbuff_t *tvb, packet_info *pinfo, frame_segment *fs)
{
    const tcp_info_t *tcph = (const tcp_info_t *)fetch_tapped_data(tcp_tap_id, 0), *entry;
    /* The first entry is the innermost header when pinfo still holds its
     * addresses (TCP's are shallow copies of them) and ports, as nearly always:
     * no later entry to look for. A tunnel's inner TCP moves them; a quote in
     * an ICMP error restores them, and carries no segment. */
    gboolean only = tcph && tcph->th_have_seglen && pinfo->ptype == PT_TCP && tcph->ip_src.data == pinfo->src.data
        && tcph->th_sport == pinfo->srcport && tcph->th_dport == pinfo->destport;
    if (G_UNLIKELY(!only)) {
        tcph = NULL;
        for (int idx = 0; (entry = (const tcp_info_t *)fetch_tapped_data(tcp_tap_id, idx)) != NULL; idx++) {
            if (entry->th_have_seglen)
                tcph = entry;
        }
    }
    if (tcph == NULL)
        return FALSE;
    read_frame(pinfo, &tcph->ip_src, &tcph->ip_dst, tcph->th_sport, tcph->th_dport, fs);
    fs->stream = tcph->th_stream;
    tcp_segment *seg = &fs->seg;
    seg->seq = tcph->th_rawseq;
    seg->ack = tcph->th_rawack;
    seg->flags = (uint16_t)tcph->th_flags;
    seg->window = tcph->th_win;
    seg->payload_len = tcph->th_seglen;
    fs->tcp_header = -1;
    if (G_LIKELY(!(seg->flags & (TCP_FLAG_SYN | TCP_FLAG_RST)) && read_ip_tap(tcph, seg)))
        return TRUE;
    read_tapped_bytes(tvb, tcph, fs);
    return TRUE;
}

/* Without taps (tshark's first pass with -2): everything from the bytes,
 * found through what Wireshark left in pinfo (the innermost addresses and
 * ports), the stream number and window scale from TCP's conversation data. */
static G_GNUC_NO_INLINE gboolean read_untapped(tvbuff_t *tvb, packet_info *pinfo, frame_segment *fs)
{
    gboolean quoted;
    if (!frame_has_tcp(pinfo, &quoted) || quoted)
        return FALSE;
    conversation_t *conv = pinfo->ptype == PT_TCP ? find_conversation_pinfo(pinfo, 0) : NULL;
    struct tcp_analysis *tcpd = conv ? get_tcp_conversation_data(conv, pinfo) : NULL;
    frame_bytes fb = { .src = &pinfo->net_src, .dst = &pinfo->net_dst, .src_port = pinfo->srcport,
                       .dst_port = pinfo->destport };
    guint32 header = 0;
    if (tcpd && find_segment(tvb, &fb) && fb.tcp + 20 <= fb.len)
        header = (fb.data[fb.tcp + 12] >> 4) * 4u;
    if (header < 20) {   /* TCP was called, but its header is cut short or malformed */
        tell_unreadable_tcp(pinfo);
        return FALSE;
    }
    const guint8 *tcp = fb.data + fb.tcp;
    read_frame(pinfo, &pinfo->net_src, &pinfo->net_dst, pinfo->srcport, pinfo->destport, fs);
    fs->stream = tcpd->stream;
    tcp_segment *seg = &fs->seg;
    seg->seq = get_be32(tcp + 4);
    seg->ack = get_be32(tcp + 8);
    seg->flags = (uint16_t)(get_be16(tcp + 12) & 0x0fff);
    seg->window = get_be16(tcp + 14);
    if (!(seg->flags & TCP_FLAG_SYN) && tcpd->fwd->win_scale >= 0)   /* scaled as TCP's tap has it */
        seg->window <<= tcpd->fwd->win_scale;
    seg->payload_len = fb.tcp_bytes > header ? fb.tcp_bytes - header : 0;
    read_carrier(&fb, fs);
    return TRUE;
}

/* The option layout of a SYN or SYN-ACK: its option kinds in order, up to the first EOL. */
static G_GNUC_NO_INLINE syn_layout read_syn_layout(tvbuff_t *tvb, const frame_segment *fs)
{
    gint len = (gint)tvb_captured_length(tvb);
    const guint8 *data = tvb_get_ptr(tvb, 0, len);
    gint header = fs->tcp_header;
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

gboolean segment_read(tvbuff_t *tvb, packet_info *pinfo, frame_segment *fs)
{
    fs->tapped = read_tapped(tvb, pinfo, fs);
    if (G_UNLIKELY(!fs->tapped) && !read_untapped(tvb, pinfo, fs))
        return FALSE;
    fs->layout = G_UNLIKELY(fs->seg.flags & TCP_FLAG_SYN) ? read_syn_layout(tvb, fs) : LAYOUT_UNSEEN;
    return TRUE;
}

/* ---- the streams' state, and segments whose tracking waits ---------------- */

/* The conn_stream of every tcp.stream, in chunks of STREAM_CHUNK. Stream
 * numbers are dense (0, 1, 2, ...), so the index finds a stream without
 * hashing and a stream costs its 108 bytes. Beside each chunk, a bit per
 * stream: it sent a RST. Deciding whether a frame's tracking may wait reads
 * that bit, not the stream's own state, which the frames of other streams
 * have mostly evicted from the cache by then (bench/notes.md). Allocated in
 * file scope; the pointers are cleared with each file. */
#define STREAM_CHUNK 256
typedef struct {
    conn_stream *streams;
    guint32 reset[STREAM_CHUNK / 32];
} stream_chunk;
static stream_chunk *stream_chunks;
static guint32 stream_chunk_count;

static stream_chunk *chunk_of(guint32 stream)
{
    guint32 chunk = stream / STREAM_CHUNK;
    if (chunk >= stream_chunk_count) {
        guint32 count = MAX(MAX(stream_chunk_count * 2, chunk + 1), 16);
        stream_chunks = (stream_chunk *)wmem_realloc(wmem_file_scope(), stream_chunks,
                                                     count * sizeof *stream_chunks);
        memset(stream_chunks + stream_chunk_count, 0, (count - stream_chunk_count) * sizeof *stream_chunks);
        stream_chunk_count = count;
    }
    return &stream_chunks[chunk];
}

conn_stream *segment_stream(guint32 stream, gboolean *had_reset)
{
    stream_chunk *chunk = chunk_of(stream);
    guint32 at = stream % STREAM_CHUNK;
    if (chunk->streams == NULL)
        chunk->streams = (conn_stream *)wmem_alloc0(wmem_file_scope(), STREAM_CHUNK * sizeof(conn_stream));
    *had_reset = (chunk->reset[at / 32] >> (at % 32)) & 1;
    return &chunk->streams[at];
}

void segment_stream_tracked(guint32 stream, const conn_stream *st)
{
    guint32 at = stream % STREAM_CHUNK, bit = 1u << (at % 32);
    guint32 *word = &chunk_of(stream)->reset[at / 32];
    if ((st->side[0].flags | st->side[1].flags) & SIDE_SENT_RST)
        *word |= bit;
    else
        *word &= ~bit;
}

#define KEPT_ADDRESS_MAX 16   /* an IPv6 address */
typedef struct {
    frame_segment fs;   /* its addresses point at the bytes below */
    conn_stream *st;    /* its stream (chunks never move) */
    guint8 src[KEPT_ADDRESS_MAX];
    guint8 dst[KEPT_ADDRESS_MAX];
} kept_segment;
static kept_segment deferred[SEGMENT_DEFER_MAX];
static guint deferred_count;

/* Points addr at a copy of its bytes in room (an IPv4 address copied
 * without a call to memcpy: most segments carry one). */
static void keep_address(address *addr, guint8 *room)
{
    if (addr->len == 4)
        memcpy(room, addr->data, 4);
    else if (addr->len > 0)
        memcpy(room, addr->data, (size_t)addr->len);
    addr->data = room;
}

gboolean segment_defer(const frame_segment *fs, conn_stream *st)
{
    if (deferred_count >= SEGMENT_DEFER_MAX || fs->src.len > KEPT_ADDRESS_MAX || fs->dst.len > KEPT_ADDRESS_MAX)
        return FALSE;
    kept_segment *kept = &deferred[deferred_count++];
    kept->fs = *fs;
    kept->st = st;
    keep_address(&kept->fs.src, kept->src);
    keep_address(&kept->fs.dst, kept->dst);
    return TRUE;
}

guint segment_deferred_count(void)
{
    return deferred_count;
}

const frame_segment *segment_deferred(guint index, conn_stream **st)
{
    *st = deferred[index].st;
    return &deferred[index].fs;
}

void segment_deferred_clear(void)
{
    deferred_count = 0;
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

/* Most packets come from a few hosts: the latest ones, by a cheap hash of
 * their address bytes, are looked up here before the map (whose hashing
 * would cost more than the rest of a packet's host learning). Emptied with
 * the file, as the map. */
#define HOST_CACHE_BITS 6
static struct {
    const address *key;   /* the map's own key */
    host_facts *facts;
} host_cache[1 << HOST_CACHE_BITS];

static guint host_cache_slot(const address *addr)
{
    return address_bits(addr) >> (32 - HOST_CACHE_BITS);
}

/* addresses_equal() for the IP addresses segments carry, without a call to memcmp. */
static gboolean same_address(const address *a, const address *b)
{
    if (a->type != b->type || a->len != b->len)
        return FALSE;
    if (a->len != 4)
        return memcmp(a->data, b->data, (size_t)a->len) == 0;
    guint32 wa, wb;
    memcpy(&wa, a->data, sizeof wa);
    memcpy(&wb, b->data, sizeof wb);
    return wa == wb;
}

/* What the capture says about a host; NULL if nothing (and create is FALSE). */
static host_facts *host_entry(const address *addr, gboolean create)
{
    guint slot = host_cache_slot(addr);
    if (host_cache[slot].key && same_address(host_cache[slot].key, addr))
        return host_cache[slot].facts;
    const void *key = NULL;
    void *value = NULL;
    if (!wmem_map_lookup_extended(hosts, addr, &key, &value)) {
        if (!create)
            return NULL;
        address *copy = address_key(addr);
        value = wmem_new(wmem_file_scope(), host_facts);
        host_facts_init((host_facts *)value);
        wmem_map_insert(hosts, copy, value);
        key = copy;
    }
    host_cache[slot].key = (const address *)key;
    host_cache[slot].facts = (host_facts *)value;
    return (host_facts *)value;
}

/* What a RST says about itself: an MPTCP reason among its options, a vendor
 * code in its window, or its payload. */
rst_vendor_info *segment_vendor(tvbuff_t *tvb, const frame_segment *fs)
{
    gint len = (gint)tvb_captured_length(tvb);
    const guint8 *data = tvb_get_ptr(tvb, 0, len);
    gint header = fs->tcp_header;
    if (header < 0 || header + 20 > len)
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

/* What the sender's packets show (TTL, IP ID, SYN option layout, from all
 * its streams) and the handshake round trips, learnt before seg is tracked. */
void hosts_learn(const frame_segment *fs, const conn_stream *st)
{
    const tcp_segment *seg = &fs->seg;
    gboolean syn = (seg->flags & TCP_FLAG_SYN) != 0, ack = (seg->flags & TCP_FLAG_ACK) != 0;
    if (seg->flags & TCP_FLAG_RST)
        return;
    host_facts *facts = host_entry(&fs->src, TRUE);
    if (syn)
        host_learn_layout(facts, fs->layout);
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

void hosts_path_facts(const frame_segment *fs, rst_sender role, path_facts *facts)
{
    const host_facts *sender = host_entry(&fs->src, FALSE);
    if (sender)
        facts->sender = *sender;
    else
        host_facts_init(&facts->sender);
    /* a RST this sender received on another stream just before its own, on the
     * other leg of a proxy: a proxy passes a reset from the connection it opened
     * to the one it accepted, or back, so its role differs on the two streams; a
     * busy server reset by one client and resetting another has one role on both */
    int64_t time_us = fs->seg.time_us;
    const latest_reset *received = (const latest_reset *)wmem_map_lookup(latest_reset_by_receiver, &fs->src);
    if (received && received->stream != fs->stream && role != SENDER_UNKNOWN
        && received->receiver_role != SENDER_UNKNOWN && received->receiver_role != role
        && time_us >= received->time_us && time_us - received->time_us <= RELAY_WINDOW_US) {
        facts->relay_frame = received->frame;
        facts->relay_stream = received->stream;
        facts->relay_gap_us = time_us - received->time_us;
    }
}

void hosts_remember_reset(const frame_segment *fs, rst_sender sender)
{
    latest_reset *entry = (latest_reset *)wmem_map_lookup(latest_reset_by_receiver, &fs->dst);
    if (entry == NULL) {
        entry = wmem_new(wmem_file_scope(), latest_reset);
        wmem_map_insert(latest_reset_by_receiver, address_key(&fs->dst), entry);
    }
    rst_sender receiver_role = sender == SENDER_CLIENT ? SENDER_SERVER
                             : sender == SENDER_SERVER ? SENDER_CLIENT : SENDER_UNKNOWN;
    *entry = (latest_reset){ fs->seg.time_us, fs->seg.frame, fs->stream, receiver_role };
}

/* ---- life cycle ----------------------------------------------------------- */

void segment_register(void)
{
    tcp_tap_id = find_tap_id("tcp");
    ip_tap_id = find_tap_id("ip");
    ipv6_tap_id = find_tap_id("ipv6");
    proto_tcp_id = proto_get_id_by_filter_name("tcp");
    proto_icmp_id = proto_get_id_by_filter_name("icmp");
    proto_icmpv6_id = proto_get_id_by_filter_name("icmpv6");
    hosts = wmem_map_new_autoreset(wmem_epan_scope(), wmem_file_scope(), address_hash, address_equal);
    latest_reset_by_receiver = wmem_map_new_autoreset(wmem_epan_scope(), wmem_file_scope(), address_hash,
                                                      address_equal);
}

void segment_file_init(gboolean enabled)
{
    memset(host_cache, 0, sizeof host_cache);   /* the last file's keys went with its file scope */
    stream_chunks = NULL;
    stream_chunk_count = 0;
    deferred_count = 0;
    if (!enabled || tap_helper_registered)
        return;
    /* A listener without callbacks: it only makes the taps queue their data
     * so that fetch_tapped_data() finds TCP's; it does not ask for a tree. */
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
    stream_chunks = NULL;   /* freed with the file scope */
    stream_chunk_count = 0;
    deferred_count = 0;
    if (tap_helper_registered) {
        remove_tap_listener(&tap_helper_token);
        tap_helper_registered = FALSE;
    }
}
