/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rst_host.c - what a capture says about one host (see rst_host.h). */
#include "rst_host.h"

#include <stdio.h>
#include <string.h>

static const char *const stack_tokens[STACK_COUNT] = { "unknown", "linux", "windows", "bsd" };
static const char *const ipid_pattern_texts[IPID_COUNT] = {
    "not known", "always 0", "always the same", "counted per connection", "one counter for all connections"
};

const char *rst_stack_token(rst_stack s)
{
    return (unsigned)s < STACK_COUNT ? stack_tokens[s] : "unknown";
}

const char *host_ipid_pattern_text(ipid_pattern p)
{
    return (unsigned)p < IPID_COUNT ? ipid_pattern_texts[p] : "not known";
}

void host_facts_init(host_facts *h)
{
    memset(h, 0, sizeof *h);
    h->rtt_us = -1;
}

gboolean host_learns_from(const tcp_segment *seg)
{
    gboolean bare_syn = (seg->flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN;
    return !(seg->flags & TCP_FLAG_RST) && !bare_syn;
}

static gboolean small_step(uint16_t from, uint16_t to)
{
    uint16_t step = (uint16_t)(to - from);
    return step >= 1 && step <= CONN_IPID_STEP_MAX;
}

void host_learn_packet(host_facts *h, const tcp_segment *seg, uint32_t stream)
{
    if (seg->ttl != 0) {
        if (h->ttl_min == 0 || seg->ttl < h->ttl_min)
            h->ttl_min = seg->ttl;
        if (seg->ttl > h->ttl_max)
            h->ttl_max = seg->ttl;
    }
    if (seg->ip_id < 0)
        return;
    uint16_t id = (uint16_t)seg->ip_id;
    if (h->id_packets == 0)
        h->id_first = id;
    else if (id != 0 && h->id_last != 0) {
        gboolean step = small_step(h->id_last, id);
        if (stream == h->id_last_stream) {
            h->id_runs++;
            h->id_run_steps += step;
        } else {
            h->id_switches++;
            h->id_switch_steps += step;
        }
    }
    h->id_packets++;
    h->id_zero += id == 0;
    h->id_as_first += id == h->id_first;
    h->id_last = id;
    h->id_last_stream = stream;
}

void host_facts_add_rtt(host_facts *h, int64_t rtt_us)
{
    if (rtt_us < 0)
        return;
    if (h->rtt_us < 0 || rtt_us < h->rtt_us)
        h->rtt_us = rtt_us;
    if (h->rtt_samples < G_MAXUINT16)
        h->rtt_samples++;
}

gboolean host_rtt_well_measured(const host_facts *h)
{
    return h->rtt_samples >= 2 && h->rtt_us >= HOST_RTT_FLOOR_US;
}

/* p0f v3 (p0f.fp) option layouts of SYNs and SYN-ACKs; option kinds: 0 EOL, 1 NOP,
 * 2 MSS, 3 window scale, 4 SACK permitted, 8 timestamps (RFC 9293, 2018, 7323). The
 * kinds are read up to the first EOL, included. */
static const struct {
    syn_layout layout;
    uint8_t kinds[8];
    size_t count;
} known_layouts[] = {
    { LAYOUT_LINUX, { 2, 4, 8, 1, 3 }, 5 },
    { LAYOUT_LINUX, { 2, 1, 1, 4, 1, 3 }, 6 },       /* timestamps off */
    { LAYOUT_LINUX, { 2, 1, 1, 8, 1, 3 }, 6 },       /* SACK off */
    { LAYOUT_WINDOWS, { 2, 1, 3, 1, 1, 4 }, 6 },
    { LAYOUT_BSD, { 2, 1, 3, 4, 8 }, 5 },            /* FreeBSD */
    { LAYOUT_BSD, { 2, 1, 3, 1, 1, 8, 4, 0 }, 8 },   /* macOS */
};

syn_layout host_syn_layout(const uint8_t *kinds, size_t count)
{
    for (size_t i = 0; i < G_N_ELEMENTS(known_layouts); i++) {
        size_t n = known_layouts[i].count;
        if (count == n && memcmp(kinds, known_layouts[i].kinds, n) == 0)
            return known_layouts[i].layout;
    }
    return LAYOUT_OTHER;
}

void host_learn_layout(host_facts *h, syn_layout layout)
{
    if (layout == LAYOUT_UNSEEN)
        return;
    if (h->layout == LAYOUT_UNSEEN)
        h->layout = layout;
    else if (h->layout != layout)
        h->layout = LAYOUT_OTHER;   /* several stacks behind one address */
}

ipid_pattern host_ipid_pattern(const host_facts *h)
{
    if (h->id_packets < HOST_IPID_MIN_PACKETS)
        return IPID_UNKNOWN;
    if (h->id_zero == h->id_packets)
        return IPID_ZERO;
    if (h->id_as_first == h->id_packets)
        return IPID_CONSTANT;
    /* three in four steps small: a counter (other traffic, not captured, takes numbers too) */
    if (h->id_switches >= 2 && h->id_switch_steps * 4 >= h->id_switches * 3)
        return IPID_GLOBAL;
    /* counting inside connections, jumping between them: only several connections tell */
    if (h->id_runs >= 2 && h->id_run_steps * 4 >= h->id_runs * 3 && h->id_switches >= 2
        && h->id_switch_steps * 4 < h->id_switches)
        return IPID_PER_CONNECTION;
    return IPID_UNKNOWN;
}

uint8_t host_initial_ttl(uint8_t ttl)
{
    return ttl == 0 ? 0 : ttl <= 64 ? 64 : ttl <= 128 ? 128 : 255;
}

/* The rules, first match wins. Sources: nmap-os-db and nmap.org/book/osdetect-methods.html
 * (initial TTLs, IP ID sequences of RSTs); p0f v3 p0f.fp (option layouts); Linux
 * ip_select_ident_segs() (DF packets: a connected socket's own counter, else ID 0 -- the
 * reply socket of no-socket RSTs); RFC 6864 3.1 (atomic datagrams may carry any ID). */
rst_stack host_stack_of_reset(const host_facts *h, const tcp_segment *rst, gboolean ipid_continues,
                              char *evidence, size_t size)
{
    uint8_t initial = host_initial_ttl(h->ttl_max ? h->ttl_max : rst->ttl);
    ipid_pattern ids = host_ipid_pattern(h);
    gboolean v4 = rst->ip_id >= 0;

    if (initial == 128) {
        snprintf(evidence, size, "initial TTL 128 (Windows' default)%s%s",
                 h->layout == LAYOUT_WINDOWS ? "; SYN options in Windows' order" : "",
                 v4 && rst->ip_id != 0 && ipid_continues ? "; the RST's IP ID counts on with its other packets"
                                                         : "");
        return STACK_WINDOWS;
    }
    if (initial == 255) {
        snprintf(evidence, size, "initial TTL 255: a network operating system or Solaris, not Linux, "
                 "Windows or BSD");
        return STACK_UNKNOWN;
    }
    if (initial != 64) {
        snprintf(evidence, size, "no TTL to go by");
        return STACK_UNKNOWN;
    }
    if (h->layout == LAYOUT_WINDOWS || h->layout == LAYOUT_BSD) {
        snprintf(evidence, size, "initial TTL 64, SYN options in %s order",
                 h->layout == LAYOUT_WINDOWS ? "Windows'" : "FreeBSD's or macOS's");
        return h->layout == LAYOUT_WINDOWS ? STACK_WINDOWS : STACK_BSD;
    }
    if (h->layout == LAYOUT_LINUX) {
        snprintf(evidence, size, "initial TTL 64, SYN options in Linux's order (mss,sok,ts,nop,ws)%s",
                 v4 && rst->ip_id == 0 ? ", the RST's IP ID 0 as Linux's reply socket sends" : "");
        return STACK_LINUX;
    }
    if (v4 && ids == IPID_PER_CONNECTION && (rst->ip_id == 0 || ipid_continues)) {
        snprintf(evidence, size, "initial TTL 64, IP IDs counted per connection, the RST's %s (Linux)",
                 rst->ip_id == 0 ? "ID 0 as Linux's reply socket sends" : "continuing its connection's counter");
        return STACK_LINUX;
    }
    if (v4 && ids == IPID_GLOBAL && rst->ip_id != 0 && ipid_continues) {
        snprintf(evidence, size, "initial TTL 64 and one IP ID counter for all its connections, RSTs "
                 "included (BSD; Linux counts per connection and sends no-socket RSTs with ID 0)");
        return STACK_BSD;
    }
    snprintf(evidence, size, "initial TTL 64 (Linux, BSD or macOS); IP IDs %s; SYN options %s",
             v4 ? host_ipid_pattern_text(ids) : "absent (IPv6)",
             h->layout == LAYOUT_UNSEEN ? "not seen" : "in no known order");
    return STACK_UNKNOWN;
}
