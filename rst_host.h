/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rst_host.h - what a whole capture says about one host (one address).
 *
 * Plain C + GLib, no libwireshark. The glue keeps one host_facts per
 * address and feeds it every packet the address sent, in capture order,
 * from all its streams; rst_origin.c judges a RST against the host whose
 * address it carries. Two kinds of packets are left out: RSTs (a device may
 * send those in the host's name: that is the question) and bare SYNs
 * (scanners and flood tools build them on raw sockets, with TTLs and IP IDs
 * of their own choosing).
 */
#ifndef RST_HOST_H
#define RST_HOST_H

#include "conn_track.h"

/* How a host numbers the IPv4 IDs of its packets. */
typedef enum {
    IPID_UNKNOWN,         /* too few packets to tell */
    IPID_ZERO,            /* always 0 (DF packets of FreeBSD with RFC 6864, Linux's SYN-ACKs and no-socket RSTs) */
    IPID_CONSTANT,        /* always one other value (hand-made traces: Scapy's default is 1) */
    IPID_PER_CONNECTION,  /* counts up inside each connection from its own start (Linux, RFC 6864 3.1) */
    IPID_GLOBAL,          /* one counter for all its connections (Windows, older BSDs) */
    IPID_COUNT
} ipid_pattern;

/* The TCP/IP stack a host runs, as far as its packets tell. */
typedef enum { STACK_UNKNOWN, STACK_LINUX, STACK_WINDOWS, STACK_BSD, STACK_COUNT } rst_stack;

/* The order of the options in a host's SYNs and SYN-ACKs, as p0f v3 fingerprints
 * (p0f.fp) tell stacks apart. */
typedef enum {
    LAYOUT_UNSEEN,
    LAYOUT_LINUX,     /* mss,sok,ts,nop,ws (or nop,nop in place of sok or ts) */
    LAYOUT_WINDOWS,   /* mss,nop,ws,nop,nop,sok */
    LAYOUT_BSD,       /* FreeBSD mss,nop,ws,sok,ts; macOS mss,nop,ws,nop,nop,ts,sok,eol */
    LAYOUT_OTHER,     /* none of those, or several on one address */
    LAYOUT_COUNT
} syn_layout;

/* Longest option list a layout is read from (40 bytes of options). */
#define SYN_OPTION_KINDS_MAX 40

typedef struct {
    uint8_t ttl_min;            /* TTL/hop limit of its packets; 0 = none seen */
    uint8_t ttl_max;
    uint16_t rtt_samples;       /* handshakes that measured the round trip */
    int64_t rtt_us;             /* shortest handshake round trip to it from the capture point; -1 = unknown */
    /* IPv4 IDs */
    uint32_t id_packets;        /* IPv4 packets */
    uint32_t id_zero;           /* ... with ID 0 */
    uint32_t id_as_first;       /* ... with the ID of its first one */
    uint16_t id_first;
    uint16_t id_last;           /* ID of its latest IPv4 packet */
    uint32_t id_last_stream;    /* stream of that packet */
    uint32_t id_switches;       /* consecutive non-zero IDs from two different streams */
    uint32_t id_switch_steps;   /* ... that went up by a small step: one counter for all streams */
    uint32_t id_runs;           /* consecutive non-zero IDs within one stream */
    uint32_t id_run_steps;      /* ... that went up by a small step */
    syn_layout layout;          /* of its SYNs and SYN-ACKs */
} host_facts;

/* Below this a round trip is mostly scheduling noise. */
#define HOST_RTT_FLOOR_US 1000

/* At least this many packets before an IP ID pattern is named. */
#define HOST_IPID_MIN_PACKETS 4

void host_facts_init(host_facts *h);
/* One packet the host sent on stream `stream` (neither a RST nor a bare SYN). */
void host_learn_packet(host_facts *h, const tcp_segment *seg, uint32_t stream);
void host_facts_add_rtt(host_facts *h, int64_t rtt_us);
/* The layout of the option kinds (NOP and EOL included, lengths left out) of
 * one SYN or SYN-ACK; and learning it for its sender. */
syn_layout host_syn_layout(const uint8_t *kinds, size_t count);
void host_learn_layout(host_facts *h, syn_layout layout);

/* TRUE for segments host_learn_packet may learn from. */
gboolean host_learns_from(const tcp_segment *seg);

ipid_pattern host_ipid_pattern(const host_facts *h);
const char *host_ipid_pattern_text(ipid_pattern p);

/* The usual initial TTL (64, 128 or 255) below which `ttl` was seen; 0 when ttl is 0. */
uint8_t host_initial_ttl(uint8_t ttl);

/* The round trip is known from several handshakes and long enough to time answers against. */
gboolean host_rtt_well_measured(const host_facts *h);

/* The stack that sent rst in h's name, with its evidence; STACK_UNKNOWN (and
 * evidence saying what is missing) when the packets do not tell. ipid_continues:
 * the RST's IP ID continues the host's or the connection's counter. */
rst_stack host_stack_of_reset(const host_facts *h, const tcp_segment *rst, gboolean ipid_continues,
                              char *evidence, size_t size);
const char *rst_stack_token(rst_stack s);

#endif /* RST_HOST_H */
