/* SPDX-License-Identifier: GPL-2.0-or-later */
/* conversation.h - scripted TCP conversations for the unit tests: a client
 * (port 40000) and a server (port 80) putting segments on the wire the way a
 * Linux stack would, fed to conn_track.c and rst_classify.c, and what each
 * host's packets show to rst_host.c (as the glue learns them). Each side's
 * IPv4 ID counts up by one per segment, and its TTL is 64 unless changed. */
#ifndef TEST_CONVERSATION_H
#define TEST_CONVERSATION_H

#include <glib.h>
#include <string.h>

#include "conn_track.h"
#include "rst_classify.h"

enum { CLIENT = 0, SERVER = 1 };

typedef struct {
    conn_stream st;
    int64_t now_us;
    uint32_t frame;
    uint32_t next_seq[2];   /* what each endpoint will send next */
    uint16_t ip_id[2];      /* each side's next IPv4 ID */
    uint8_t ttl[2];         /* each side's TTL as the capture sees it */
    uint32_t window[2];     /* the window each side advertises */
    host_facts host[2];     /* what each side's packets showed so far */
    rst_settings settings;
    rst_host_facts other_streams;   /* what other streams show about the RST's sender */
    rst_diagnosis diag;
} conversation;

static G_GNUC_UNUSED void conv_init(conversation *c, uint32_t client_isn, uint32_t server_isn)
{
    memset(c, 0, sizeof *c);
    c->now_us = 1700000000LL * 1000000;
    c->next_seq[CLIENT] = client_isn;
    c->next_seq[SERVER] = server_isn;
    c->settings.response_timeout_ms = 1000;
    c->ip_id[CLIENT] = 0x1000;
    c->ip_id[SERVER] = 0x2000;
    c->ttl[CLIENT] = c->ttl[SERVER] = 64;
    c->window[CLIENT] = c->window[SERVER] = 65535;
    host_facts_init(&c->host[CLIENT]);
    host_facts_init(&c->host[SERVER]);
}

/* Track a segment, after its host learnt from it as the glue does (stream 0). */
static G_GNUC_UNUSED void track(conversation *c, int from, const tcp_segment *seg)
{
    if (host_learns_from(seg))
        host_learn_packet(&c->host[from], seg, 0);
    conn_track_segment(&c->st, seg);
}

static G_GNUC_UNUSED tcp_segment make_segment(conversation *c, int from, uint16_t flags, uint32_t seq, uint32_t ack,
                                uint32_t len, int64_t after_us)
{
    c->now_us += after_us;
    tcp_segment seg = {
        .frame = ++c->frame,
        .time_us = c->now_us,
        .src_key = from == CLIENT ? 0x1111 : 0x2222,
        .src_port = from == CLIENT ? 40000 : 80,
        .dst_port = from == CLIENT ? 80 : 40000,
        .seq = seq, .ack = ack, .payload_len = len, .window = c->window[from], .flags = flags,
        .ttl = c->ttl[from], .ip_id = c->ip_id[from]++,
    };
    return seg;
}

/* A regular segment at the sender's next sequence number. */
static G_GNUC_UNUSED void send(conversation *c, int from, uint16_t flags, uint32_t len, int64_t after_us)
{
    uint32_t ack = (flags & TCP_FLAG_ACK) ? c->next_seq[!from] : 0;
    tcp_segment seg = make_segment(c, from, flags, c->next_seq[from], ack, len, after_us);
    track(c, from, &seg);
    c->next_seq[from] += len + ((flags & TCP_FLAG_SYN) ? 1 : 0) + ((flags & TCP_FLAG_FIN) ? 1 : 0);
}

/* A segment with explicit numbers (retransmissions, probes, stale ACKs). */
static G_GNUC_UNUSED void send_raw(conversation *c, int from, uint16_t flags, uint32_t seq, uint32_t ack, uint32_t len,
                     int64_t after_us)
{
    tcp_segment seg = make_segment(c, from, flags, seq, ack, len, after_us);
    track(c, from, &seg);
}

/* A regular segment the capture missed: sent (the numbers move on) but not tracked. */
static G_GNUC_UNUSED void send_unseen(conversation *c, int from, uint16_t flags, uint32_t len, int64_t after_us)
{
    make_segment(c, from, flags, c->next_seq[from], 0, len, after_us);
    c->next_seq[from] += len + ((flags & TCP_FLAG_FIN) ? 1 : 0);
}

static G_GNUC_UNUSED const rst_diagnosis *reset(conversation *c, int from, uint16_t flags, uint32_t seq, uint32_t ack,
                                  uint32_t len, int64_t after_us)
{
    tcp_segment seg = make_segment(c, from, flags | TCP_FLAG_RST, seq, ack, len, after_us);
    rst_classify(&c->st, &seg, &c->settings, &c->other_streams, &c->diag);
    track(c, from, &seg);
    return &c->diag;
}

/* Active reset: RST|ACK at the sender's next sequence number. */
static G_GNUC_UNUSED const rst_diagnosis *active_reset(conversation *c, int from, int64_t after_us)
{
    return reset(c, from, TCP_FLAG_ACK, c->next_seq[from], c->next_seq[!from], 0, after_us);
}

/* Passive reset answering the peer's latest segment (which carried ACK). */
static G_GNUC_UNUSED const rst_diagnosis *passive_reset(conversation *c, int from, int64_t after_us)
{
    return reset(c, from, 0, c->next_seq[from], 0, 0, after_us);
}

static G_GNUC_UNUSED void handshake(conversation *c)
{
    send(c, CLIENT, TCP_FLAG_SYN, 0, 0);
    send(c, SERVER, TCP_FLAG_SYN | TCP_FLAG_ACK, 0, 30);
    send(c, CLIENT, TCP_FLAG_ACK, 0, 30);
}

/* A client (ISN 1000) and a server (ISN 5000) after a completed handshake. */
static G_GNUC_UNUSED void open_connection(conversation *c)
{
    conv_init(c, 1000, 5000);
    handshake(c);
}

static G_GNUC_UNUSED void request_response(conversation *c, uint32_t request, uint32_t response)
{
    send(c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, request, 100);
    send(c, SERVER, TCP_FLAG_ACK, 0, 30);
    send(c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, response, 200);
    send(c, CLIENT, TCP_FLAG_ACK, 0, 30);
}

#define assert_token(fn, value, expected) g_assert_cmpstr(fn(value), ==, expected)

static G_GNUC_UNUSED void assert_diag(const rst_diagnosis *d, const char *sender, const char *phase, const char *shape,
                        const char *cause, const char *kernel_reason)
{
    assert_token(rst_sender_token, d->sender, sender);
    assert_token(rst_phase_token, d->phase, phase);
    assert_token(rst_shape_token, d->shape, shape);
    assert_token(rst_cause_token, d->cause, cause);
    assert_token(rst_kernel_reason_token, d->kernel_reason, kernel_reason);
    g_assert_cmpuint(strlen(d->evidence), >, 20);
}

#endif /* TEST_CONVERSATION_H */
