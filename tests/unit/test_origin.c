/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for rst_origin.c (who sent a RST, what followed it), rst_host.c
 * (what a host's packets show, its stack) and
 * rst_vendor.c (reasons devices write into their RSTs). */
#include "conversation.h"
#include "rst_origin.h"
#include "rst_vendor.h"

typedef struct {
    conversation c;
    idle_timer_table timers;
    path_facts facts;
    rst_followup followup;
} scene;

/* A client (ISN 1000) and a server (ISN 5000) before their handshake. */
static void scene_init(scene *s, const char *site_timers)
{
    char *error = NULL;
    conv_init(&s->c, 1000, 5000);
    g_assert_true(idle_timers_parse(site_timers, &s->timers, &error));
    memset(&s->facts, 0, sizeof s->facts);
    s->facts.timers = &s->timers;
}

/* Classify and attribute a RST as the glue does (judged against what its
 * claimed sender's packets showed), then track it and start following it. */
static const rst_diagnosis *attributed(scene *s, tcp_segment seg)
{
    int from = seg.src_port == 80 ? SERVER : CLIENT;
    s->facts.sender = s->c.host[from];
    rst_classify(&s->c.st, &seg, &s->c.settings, NULL, &s->c.diag);
    rst_attribute(&s->c.st, &seg, &s->facts, &s->c.diag);
    rst_followup_start(&s->followup, &s->c.st, &seg, s->c.diag.sender_side, -1);
    track(&s->c, from, &seg);
    return &s->c.diag;
}

/* A RST|ACK in `from`'s name at its next sequence number plus `offset`. */
static tcp_segment forged(scene *s, int from, uint32_t offset, uint8_t ttl, int64_t after_us)
{
    conversation *c = &s->c;
    tcp_segment seg = make_segment(c, from, TCP_FLAG_RST | TCP_FLAG_ACK, c->next_seq[from] + offset,
                                   c->next_seq[!from], 0, after_us);
    seg.ttl = ttl;
    return seg;
}

/* A passive RST (no ACK) in `from`'s name answering the peer's latest segment. */
static tcp_segment passive(scene *s, int from, int64_t after_us)
{
    conversation *c = &s->c;
    return make_segment(c, from, TCP_FLAG_RST, c->next_seq[from], 0, 0, after_us);
}

/* Packets `host` sent on `n` other streams: TTL `ttl`, IP IDs from `first_id`
 * stepping by `step` (one counter for all) or starting anywhere (per connection). */
static void other_streams(scene *s, int host, unsigned n, uint8_t ttl, uint16_t first_id, int step)
{
    uint16_t id = first_id;
    for (unsigned stream = 1; stream <= n; stream++) {
        for (unsigned k = 0; k < 3; k++) {
            tcp_segment seg = { .frame = 1, .flags = TCP_FLAG_ACK, .ttl = ttl, .ip_id = id };
            host_learn_packet(&s->c.host[host], &seg, stream);
            id = (uint16_t)(id + (step ? step : 1));
        }
        if (!step)
            id = (uint16_t)(id + 7919);   /* the next connection's counter starts elsewhere */
    }
    if (step)   /* the conversation's own packets go on with that counter */
        s->c.ip_id[host] = id;
}

/* Feed a later segment to the follow-up, then track it. */
static gboolean follow(scene *s, int from, uint16_t flags, uint32_t len, int64_t after_us)
{
    conversation *c = &s->c;
    uint32_t ack = (flags & TCP_FLAG_ACK) ? c->next_seq[!from] : 0;
    tcp_segment seg = make_segment(c, from, flags, c->next_seq[from], ack, len, after_us);
    gboolean changed = rst_follow_segment(&s->followup, &c->st, &seg, &c->diag);
    track(c, from, &seg);
    c->next_seq[from] += len + ((flags & TCP_FLAG_SYN) ? 1 : 0) + ((flags & TCP_FLAG_FIN) ? 1 : 0);
    return changed;
}

static void add_round_trips(scene *s, int host, int64_t rtt_us, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        host_facts_add_rtt(&s->c.host[host], rtt_us);
}

#define assert_origin(d, expected) g_assert_cmpstr(rst_origin_token((d)->origin), ==, expected)
#define assert_cause(d, expected) g_assert_cmpstr(rst_cause_token((d)->cause), ==, expected)
#define assert_stack(d, expected) g_assert_cmpstr(rst_stack_token((d)->stack), ==, expected)
#define assert_noted(text, part) g_assert_nonnull(strstr((text), (part)))
#define assert_not_noted(text, part) g_assert_null(strstr((text), (part)))

static void test_endpoint_active_reset(void)
{
    scene s;
    scene_init(&s, NULL);
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    tcp_segment seg = forged(&s, SERVER, 0, 64, 1000);   /* same TTL, next IP ID */
    const rst_diagnosis *d = attributed(&s, seg);
    assert_origin(d, "endpoint");
    g_assert_true(d->ttl_delta_known);
    g_assert_cmpint(d->ttl_delta, ==, 0);
    assert_noted(d->origin_evidence, "continues the server's own counter");
    assert_cause(d, "abortive-close");
    assert_stack(d, "unknown");   /* one connection: per connection or one counter? */
    assert_token(rst_kernel_reason_token, d->kernel_reason, "TCP_STATE");
}

static void test_ttl_delta_makes_a_middlebox(void)
{
    scene s;
    scene_init(&s, NULL);
    s.c.ttl[SERVER] = 57;   /* the server is seven hops away; the device one */
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    send(&s.c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 50000);
    tcp_segment seg = passive(&s, SERVER, 20);   /* a reject: seq = the segment's ack */
    seg.ttl = 64;
    const rst_diagnosis *d = attributed(&s, seg);
    assert_origin(d, "middlebox");
    g_assert_cmpint(d->ttl_delta, ==, 7);
    g_assert_cmpint(d->kernel_reason, ==, KR_NONE);
    assert_cause(d, "injected");
    assert_stack(d, "unknown");
}

/* A copied IP ID does not outweigh a hop distance unlike the host's. */
static void test_ttl_beats_a_copied_counter(void)
{
    scene s;
    scene_init(&s, NULL);
    s.c.ttl[SERVER] = 57;
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    const rst_diagnosis *d = attributed(&s, forged(&s, SERVER, 0, 63, 1000));   /* next IP ID, wrong distance */
    assert_origin(d, "middlebox");
    assert_noted(d->origin_evidence, "continues the server's own counter");
}

static void test_refused_syn_from_a_device(void)
{
    scene s;
    scene_init(&s, NULL);
    other_streams(&s, SERVER, 3, 61, 0x3000, 0);   /* the server, seen in other connections */
    send(&s.c, CLIENT, TCP_FLAG_SYN, 0, 0);
    tcp_segment seg = make_segment(&s.c, SERVER, TCP_FLAG_RST | TCP_FLAG_ACK, 0, 1001, 0, 30);
    seg.ttl = 64;
    seg.ip_id = 0;
    const rst_diagnosis *d = attributed(&s, seg);
    assert_origin(d, "middlebox");
    assert_noted(d->origin_evidence, "own packets arrive with 61");
    assert_cause(d, "blocked");
}

static void test_refused_syn_by_the_server(void)
{
    scene s;
    scene_init(&s, NULL);
    other_streams(&s, SERVER, 3, 61, 0x3000, 0);
    send(&s.c, CLIENT, TCP_FLAG_SYN, 0, 0);
    tcp_segment seg = make_segment(&s.c, SERVER, TCP_FLAG_RST | TCP_FLAG_ACK, 0, 1001, 0, 30);
    seg.ttl = 61;
    seg.ip_id = 0;
    const rst_diagnosis *d = attributed(&s, seg);
    assert_origin(d, "endpoint");
    assert_cause(d, "refused");
    assert_stack(d, "linux");
}

static void test_refused_syn_without_comparison_is_unknown(void)
{
    scene s;
    scene_init(&s, NULL);
    send(&s.c, CLIENT, TCP_FLAG_SYN, 0, 0);
    tcp_segment seg = make_segment(&s.c, SERVER, TCP_FLAG_RST | TCP_FLAG_ACK, 0, 1001, 0, 30);
    seg.ip_id = 0;
    const rst_diagnosis *d = attributed(&s, seg);
    assert_origin(d, "unknown");
    assert_cause(d, "refused");
    assert_noted(d->origin_evidence, "no earlier packet");
}

static void test_first_data_blocked(void)
{
    scene s;
    scene_init(&s, NULL);
    s.c.ttl[SERVER] = 60;
    handshake(&s.c);
    send(&s.c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 120, 100);   /* the request a filter matches */
    tcp_segment seg = passive(&s, SERVER, 15);
    seg.ttl = 64;
    const rst_diagnosis *d = attributed(&s, seg);
    assert_origin(d, "middlebox");
    assert_cause(d, "blocked");
}

/* One weak sign alone is named, and leaves the origin unknown. */
static void test_ip_id_copied_alone_is_unknown(void)
{
    scene s;
    scene_init(&s, NULL);
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    send(&s.c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 1000);
    tcp_segment seg = forged(&s, SERVER, 0, 64, 10);
    seg.ip_id = s.c.ip_id[CLIENT] - 1;   /* the ID of the client's segment it answers */
    const rst_diagnosis *d = attributed(&s, seg);
    assert_origin(d, "unknown");
    assert_noted(d->origin_evidence, "one weak sign of a device");
    assert_noted(d->origin_evidence, "copied from the segment it answers");
}

/* Hand-made traces send one ID everywhere (Scapy: 1): nothing is copied. */
static void test_constant_ip_ids_copy_nothing(void)
{
    scene s;
    scene_init(&s, NULL);
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    host_facts_init(&s.c.host[SERVER]);   /* the server's packets all said ID 1 */
    for (unsigned i = 0; i < 6; i++) {
        tcp_segment seg = { .flags = TCP_FLAG_ACK, .ttl = 64, .ip_id = 1 };
        host_learn_packet(&s.c.host[SERVER], &seg, 0);
    }
    s.c.ip_id[CLIENT] = 1;
    send(&s.c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 1000);
    tcp_segment seg = forged(&s, SERVER, 0, 64, 10);
    seg.ip_id = 1;
    const rst_diagnosis *d = attributed(&s, seg);
    assert_origin(d, "endpoint");
    assert_not_noted(d->origin_evidence, "copied");
}

static void test_two_weak_signs_make_a_middlebox(void)
{
    scene s;
    scene_init(&s, NULL);
    handshake(&s.c);
    add_round_trips(&s, SERVER, 80000, 3);   /* 80 ms to the server, three handshakes */
    request_response(&s.c, 100, 300);
    send(&s.c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 1000);
    tcp_segment seg = forged(&s, SERVER, 0, 64, 2000);   /* 2 ms later, the request's IP ID */
    seg.ip_id = s.c.ip_id[CLIENT] - 1;
    const rst_diagnosis *d = attributed(&s, seg);
    assert_origin(d, "middlebox");
    assert_noted(d->origin_evidence, "two independent weak signs");
    assert_noted(d->origin_evidence, "round trip");
}

/* A request answered 2 ms later by a passive RST with IP ID 0 in the name of a server
 * 80 ms away, that round trip measured on `handshakes` handshakes. */
static const rst_diagnosis *answered_in_2ms(scene *s, unsigned handshakes)
{
    scene_init(s, NULL);
    handshake(&s->c);
    add_round_trips(s, SERVER, 80000, handshakes);
    request_response(&s->c, 100, 300);
    send(&s->c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 1000);
    tcp_segment seg = passive(s, SERVER, 2000);
    seg.ip_id = 0;
    return attributed(s, seg);
}

static void test_faster_than_round_trip_alone_is_unknown(void)
{
    scene s;
    const rst_diagnosis *d = answered_in_2ms(&s, 2);
    assert_origin(d, "unknown");
    assert_noted(d->origin_evidence, "round trip");
}

/* One handshake does not measure a round trip well. */
static void test_faster_needs_a_measured_round_trip(void)
{
    scene s;
    const rst_diagnosis *d = answered_in_2ms(&s, 1);
    assert_not_noted(d->origin_evidence, "round trip");
}

/* A RST that copies nothing of the latest segment (an abort of the
 * server's own) may cross it: no timing against it. */
static void test_faster_only_against_the_true_trigger(void)
{
    scene s;
    scene_init(&s, NULL);
    handshake(&s.c);
    add_round_trips(&s, SERVER, 80000, 3);
    request_response(&s.c, 100, 300);
    send(&s.c, CLIENT, TCP_FLAG_ACK, 0, 1000);   /* a pure ACK: nothing for a RST|ACK to acknowledge */
    const rst_diagnosis *d = attributed(&s, forged(&s, SERVER, 0, 64, 2000));
    assert_not_noted(d->origin_evidence, "round trip");
    assert_origin(d, "endpoint");
}

/* Keep-alive race: the backend closed, the proxy's request crossed its FIN,
 * the backend's kernel reset it without ACK and with IP ID 0. */
static void test_keepalive_race_reset_is_the_hosts(void)
{
    scene s;
    scene_init(&s, NULL);
    other_streams(&s, SERVER, 3, 64, 0x3000, 0);   /* the backend's other keep-alive connections */
    handshake(&s.c);
    add_round_trips(&s, SERVER, 5000, 3);
    request_response(&s.c, 100, 300);
    send(&s.c, SERVER, TCP_FLAG_FIN | TCP_FLAG_ACK, 0, 5000000);
    send(&s.c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 200, 40);   /* the request, before the FIN arrived */
    tcp_segment seg = passive(&s, SERVER, 6000);
    seg.ip_id = 0;
    const rst_diagnosis *d = attributed(&s, seg);
    g_assert_cmpint(d->origin, !=, ORIGIN_MIDDLEBOX);
    assert_origin(d, "endpoint");
    assert_stack(d, "linux");
}

/* A scanner's raw SYN carries a TTL of its own choosing; its kernel's RST
 * to the SYN-ACK does not: still the scanner's. */
static void test_scanners_own_reset(void)
{
    scene s;
    scene_init(&s, NULL);
    s.c.ttl[CLIENT] = 44;
    send(&s.c, CLIENT, TCP_FLAG_SYN, 0, 0);
    send(&s.c, SERVER, TCP_FLAG_SYN | TCP_FLAG_ACK, 0, 300);
    tcp_segment seg = passive(&s, CLIENT, 40);
    seg.seq = 1001;
    seg.ttl = 64;
    seg.ip_id = 0;
    const rst_diagnosis *d = attributed(&s, seg);
    assert_origin(d, "endpoint");
    assert_noted(d->origin_evidence, "its own SYN");
}

/* A scanner building SYN and RST on a raw socket, on a host whose kernel uses TTL 64. */
static void test_scanners_crafted_reset(void)
{
    scene s;
    scene_init(&s, NULL);
    other_streams(&s, CLIENT, 3, 64, 0x3000, 0);
    s.c.ttl[CLIENT] = 44;
    send(&s.c, CLIENT, TCP_FLAG_SYN, 0, 0);
    send(&s.c, SERVER, TCP_FLAG_SYN | TCP_FLAG_ACK, 0, 300);
    tcp_segment seg = passive(&s, CLIENT, 40);
    seg.seq = 1001;
    seg.ip_id = 0x9999;
    const rst_diagnosis *d = attributed(&s, seg);
    assert_origin(d, "endpoint");
    assert_noted(d->origin_evidence, "own SYN here");
}

/* What the glue tells about the server's RST before the next one: gap_us ago, at the
 * server's next sequence number. */
static void after_server_rst(scene *s, int64_t gap_us)
{
    s->facts.has_prev_rst = TRUE;
    s->facts.prev_rst_side = SERVER;
    s->facts.prev_rst_seq = s->c.next_seq[SERVER];
    s->facts.prev_rst_gap_us = gap_us;
}

static void test_burst_with_moving_sequence(void)
{
    scene s;
    scene_init(&s, NULL);
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    const rst_diagnosis *first = attributed(&s, forged(&s, SERVER, 0, 64, 1000));
    assert_origin(first, "endpoint");   /* TTL and IP ID copied from the server's */
    rst_diagnosis first_copy = *first;
    /* the next RST of the burst: later frames reach the first one */
    tcp_segment second = forged(&s, SERVER, 1460, 64, 50);
    g_assert_true(rst_follow_segment(&s.followup, &s.c.st, &second, &first_copy));
    assert_origin(&first_copy, "middlebox");
    assert_noted(first_copy.origin_evidence, "injector's burst");
    after_server_rst(&s, 50);
    const rst_diagnosis *d = attributed(&s, second);
    assert_origin(d, "middlebox");
    assert_noted(d->origin_evidence, "second RST");
    assert_cause(d, "injected");
}

/* After its own RST, a stack answers each late segment of the peer; with the ACK
 * bit set too (Windows) at that segment's ack, one the client sent before its latest:
 * no injector's burst, neither for this RST nor, later, for the first. An injector's
 * second RST past the server's sequence numbers still is one (test above). */
static void test_rst_ack_at_an_earlier_ack_is_no_burst(void)
{
    scene s;
    scene_init(&s, NULL);
    handshake(&s.c);
    send(&s.c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 100);
    send(&s.c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 1460, 200);
    uint32_t earlier_ack = s.c.next_seq[SERVER];
    send(&s.c, CLIENT, TCP_FLAG_ACK, 0, 10);
    send(&s.c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 1460, 10);
    send(&s.c, CLIENT, TCP_FLAG_ACK, 0, 10);
    const rst_diagnosis *first = attributed(&s, forged(&s, SERVER, 0, 64, 100));
    rst_diagnosis first_copy = *first;
    tcp_segment answer = make_segment(&s.c, SERVER, TCP_FLAG_RST | TCP_FLAG_ACK, earlier_ack,
                                      s.c.next_seq[CLIENT], 0, 50);
    g_assert_false(rst_follow_segment(&s.followup, &s.c.st, &answer, &first_copy));
    assert_origin(&first_copy, "endpoint");
    after_server_rst(&s, 50);
    const rst_diagnosis *d = attributed(&s, answer);
    g_assert_cmpint(d->origin, !=, ORIGIN_MIDDLEBOX);
    g_assert_null(strstr(d->origin_evidence, "second RST"));
}

/* A request answered in two segments, each ACKed by the client (the last ACK in the
 * capture or not); returns what the first ACK acked. */
static uint32_t answer_in_two_segments(scene *s, gboolean last_ack_captured)
{
    scene_init(s, NULL);
    handshake(&s->c);
    send(&s->c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 100);
    send(&s->c, SERVER, TCP_FLAG_ACK, 1428, 200);
    send(&s->c, CLIENT, TCP_FLAG_ACK, 0, 10);
    uint32_t first_ack = s->c.next_seq[SERVER];
    send(&s->c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 972, 10);
    if (last_ack_captured)
        send(&s->c, CLIENT, TCP_FLAG_ACK, 0, 10);
    else
        send_unseen(&s->c, CLIENT, TCP_FLAG_ACK, 0, 10);
    return first_ack;
}

/* With latency on the path, the client's ACKs of two data segments are in flight
 * when the server aborts: its stack answers each with a bare RST at the sequence
 * number that ACK acked, the earlier one behind the abort's. No burst. */
static void test_answers_to_acks_in_flight_are_no_burst(void)
{
    scene s;
    uint32_t first_ack = answer_in_two_segments(&s, TRUE);
    const rst_diagnosis *first = attributed(&s, forged(&s, SERVER, 0, 64, 10));
    rst_diagnosis first_copy = *first;
    tcp_segment answer = make_segment(&s.c, SERVER, TCP_FLAG_RST, first_ack, 0, 0, 5000);
    g_assert_false(rst_follow_segment(&s.followup, &s.c.st, &answer, &first_copy));
    assert_origin(&first_copy, "endpoint");
    after_server_rst(&s, 5000);
    const rst_diagnosis *d = attributed(&s, answer);
    assert_origin(d, "endpoint");
}

/* The same with the client's last ACK missing from the capture: the stack's answer
 * to it sits at a sequence number the server sent, not yet seen acked. It may answer
 * a segment the capture missed, so it is no burst. */
static void test_answer_to_unseen_ack_is_no_burst(void)
{
    scene s;
    uint32_t first_ack = answer_in_two_segments(&s, FALSE);
    attributed(&s, forged(&s, SERVER, 0, 64, 10));
    tcp_segment answer = make_segment(&s.c, SERVER, TCP_FLAG_RST, first_ack, 0, 0, 5000);
    after_server_rst(&s, 5000);
    attributed(&s, answer);
    s.facts.prev_rst_seq = first_ack;
    tcp_segment unseen_answer = make_segment(&s.c, SERVER, TCP_FLAG_RST, s.c.next_seq[SERVER], 0, 0, 50);
    const rst_diagnosis *d = attributed(&s, unseen_answer);
    assert_origin(d, "endpoint");
    g_assert_null(strstr(d->origin_evidence, "second RST"));
    /* one past what the server sent: no stack answers with it */
    s.facts.prev_rst_seq = s.c.next_seq[SERVER];
    tcp_segment beyond = make_segment(&s.c, SERVER, TCP_FLAG_RST, s.c.next_seq[SERVER] + 1460, 0, 0, 50);
    d = attributed(&s, beyond);
    assert_origin(d, "middlebox");
    assert_noted(d->origin_evidence, "second RST");
}

/* The capture began during the transfer: the client's ACKs of data sent before
 * it are still in flight when the server aborts, and its stack answers them at
 * numbers behind all the data seen. Nothing shows what the server sent before,
 * so they are no burst; nor are bare RSTs from a sender that showed nothing else. */
static void test_answers_to_acks_before_the_capture_are_no_burst(void)
{
    scene s;
    scene_init(&s, NULL);
    s.c.next_seq[SERVER] += 20000;   /* sent before the capture began */
    send(&s.c, SERVER, TCP_FLAG_ACK, 1428, 0);
    send(&s.c, CLIENT, TCP_FLAG_ACK, 0, 10);
    send(&s.c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 860, 10);
    send(&s.c, CLIENT, TCP_FLAG_ACK, 0, 10);
    attributed(&s, forged(&s, SERVER, 0, 64, 10));
    tcp_segment answer = make_segment(&s.c, SERVER, TCP_FLAG_RST, s.c.next_seq[SERVER] - 8000, 0, 0, 30000);
    after_server_rst(&s, 30000);
    s.facts.prev_rst_side = conn_side_of(&s.c.st, &answer);   /* the server was seen first */
    const rst_diagnosis *d = attributed(&s, answer);
    g_assert_null(strstr(d->origin_evidence, "second RST"));

    scene_init(&s, NULL);
    attributed(&s, forged(&s, SERVER, 0, 64, 0));
    s.facts.prev_rst_seq = s.c.next_seq[SERVER];
    s.facts.has_prev_rst = TRUE;
    s.facts.prev_rst_gap_us = 50;
    tcp_segment second = make_segment(&s.c, SERVER, TCP_FLAG_RST, s.c.next_seq[SERVER] - 952, 0, 0, 50);
    s.facts.prev_rst_side = conn_side_of(&s.c.st, &second);
    d = attributed(&s, second);
    g_assert_null(strstr(d->origin_evidence, "second RST"));
}

/* ---- stacks ------------------------------------------------------------- */

/* Windows: TTL 128, one IP ID counter for everything. A jump of that counter
 * (other traffic took numbers) is no second sender. */
static void test_windows_counter_jump_is_no_second_sender(void)
{
    scene s;
    scene_init(&s, NULL);
    s.c.ttl[SERVER] = 128;
    other_streams(&s, SERVER, 3, 128, 0x4000, 3);
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    s.c.ip_id[SERVER] += 300;   /* the host sent 300 packets elsewhere meanwhile */
    const rst_diagnosis *d = attributed(&s, forged(&s, SERVER, 0, 128, 1000));
    g_assert_cmpint(d->origin, !=, ORIGIN_MIDDLEBOX);
    assert_not_noted(d->origin_evidence, "off the");
    assert_stack(d, "windows");
    assert_token(rst_kernel_reason_token, d->kernel_reason, "not-linux");
    assert_noted(d->evidence, "Windows stack");
}

static void test_windows_reset_after_retransmissions(void)
{
    scene s;
    scene_init(&s, NULL);
    s.c.ttl[CLIENT] = 128;
    other_streams(&s, CLIENT, 3, 128, 0x4000, 2);
    handshake(&s.c);
    send(&s.c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 100);   /* never acknowledged */
    const rst_diagnosis *d = attributed(&s, forged(&s, CLIENT, 0, 128, 21 * G_GINT64_CONSTANT(1000000)));
    assert_stack(d, "windows");
    assert_token(rst_kernel_reason_token, d->kernel_reason, "not-linux");
    assert_noted(d->evidence, "retransmission limit");
}

static void test_bsd_global_counter(void)
{
    scene s;
    scene_init(&s, NULL);
    other_streams(&s, SERVER, 3, 64, 0x5000, 2);
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    const rst_diagnosis *d = attributed(&s, forged(&s, SERVER, 0, 64, 1000));
    assert_origin(d, "endpoint");
    assert_stack(d, "bsd");
    assert_token(rst_kernel_reason_token, d->kernel_reason, "not-linux");
}

static void test_linux_per_connection_counters(void)
{
    scene s;
    scene_init(&s, NULL);
    other_streams(&s, SERVER, 3, 64, 0x5000, 0);
    g_assert_cmpint(host_ipid_pattern(&s.c.host[SERVER]), ==, IPID_PER_CONNECTION);
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    send(&s.c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 1000);
    tcp_segment seg = passive(&s, SERVER, 500);
    seg.ip_id = 0;   /* Linux's reply socket */
    const rst_diagnosis *d = attributed(&s, seg);
    assert_stack(d, "linux");
    assert_noted(d->stack_evidence, "per connection");
}

static void test_ip_id_patterns(void)
{
    host_facts h;
    host_facts_init(&h);
    for (unsigned i = 0; i < 6; i++) {
        tcp_segment seg = { .flags = TCP_FLAG_ACK, .ttl = 64, .ip_id = 0 };
        host_learn_packet(&h, &seg, i);
    }
    g_assert_cmpint(host_ipid_pattern(&h), ==, IPID_ZERO);
    host_facts_init(&h);
    for (unsigned i = 0; i < 6; i++) {
        tcp_segment seg = { .flags = TCP_FLAG_ACK, .ttl = 64, .ip_id = 1 };
        host_learn_packet(&h, &seg, i);
    }
    g_assert_cmpint(host_ipid_pattern(&h), ==, IPID_CONSTANT);
    tcp_segment syn = { .flags = TCP_FLAG_SYN, .ttl = 44, .ip_id = 777 };
    g_assert_false(host_learns_from(&syn));   /* raw-socket tools craft SYNs */
    g_assert_cmpuint(host_initial_ttl(57), ==, 64);
    g_assert_cmpuint(host_initial_ttl(113), ==, 128);
    g_assert_cmpuint(host_initial_ttl(250), ==, 255);
}

static void test_syn_option_layouts(void)
{
    static const uint8_t linux_syn[] = { 2, 4, 8, 1, 3 };
    static const uint8_t windows_syn[] = { 2, 1, 3, 1, 1, 4 };
    static const uint8_t freebsd_syn[] = { 2, 1, 3, 4, 8 };
    static const uint8_t macos_syn[] = { 2, 1, 3, 1, 1, 8, 4, 0 };
    static const uint8_t scanner_syn[] = { 2 };
    g_assert_cmpint(host_syn_layout(linux_syn, sizeof linux_syn), ==, LAYOUT_LINUX);
    g_assert_cmpint(host_syn_layout(windows_syn, sizeof windows_syn), ==, LAYOUT_WINDOWS);
    g_assert_cmpint(host_syn_layout(freebsd_syn, sizeof freebsd_syn), ==, LAYOUT_BSD);
    g_assert_cmpint(host_syn_layout(macos_syn, sizeof macos_syn), ==, LAYOUT_BSD);
    g_assert_cmpint(host_syn_layout(scanner_syn, sizeof scanner_syn), ==, LAYOUT_OTHER);
    host_facts h;
    host_facts_init(&h);
    host_learn_layout(&h, LAYOUT_LINUX);
    host_learn_layout(&h, LAYOUT_UNSEEN);
    g_assert_cmpint(h.layout, ==, LAYOUT_LINUX);
    host_learn_layout(&h, LAYOUT_WINDOWS);   /* two stacks behind one address */
    g_assert_cmpint(h.layout, ==, LAYOUT_OTHER);
}

/* FreeBSD with RFC 6864 sends its DF packets with ID 0: only its SYN options tell it from Linux. */
static void test_bsd_by_option_layout(void)
{
    scene s;
    scene_init(&s, NULL);
    host_learn_layout(&s.c.host[SERVER], LAYOUT_BSD);
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    send(&s.c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 1000);
    tcp_segment seg = passive(&s, SERVER, 500);
    seg.ip_id = 0;
    const rst_diagnosis *d = attributed(&s, seg);
    assert_stack(d, "bsd");
    assert_noted(d->stack_evidence, "FreeBSD");
    assert_token(rst_kernel_reason_token, d->kernel_reason, "not-linux");
}

/* The server's own abort a while after a RST forged in its name is no burst. */
static void test_late_second_reset_is_no_burst(void)
{
    scene s;
    scene_init(&s, NULL);
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    const rst_diagnosis *first = attributed(&s, forged(&s, SERVER, 3000, 64, 1000));
    rst_diagnosis first_copy = *first;
    tcp_segment second = forged(&s, SERVER, 0, 64, 2 * G_GINT64_CONSTANT(1000000));
    g_assert_false(rst_follow_segment(&s.followup, &s.c.st, &second, &first_copy));
    s.facts.has_prev_rst = TRUE;
    s.facts.prev_rst_side = SERVER;
    s.facts.prev_rst_seq = s.c.next_seq[SERVER] + 3000;
    s.facts.prev_rst_gap_us = 2 * G_GINT64_CONSTANT(1000000);
    const rst_diagnosis *d = attributed(&s, second);
    assert_not_noted(d->origin_evidence, "second RST");
    g_assert_cmpint(d->origin, !=, ORIGIN_MIDDLEBOX);
}

static void test_idle_timer_when_traffic_resumes(void)
{
    scene s;
    scene_init(&s, "edge-firewall=90");
    s.c.ttl[SERVER] = 62;
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    send(&s.c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 95 * G_GINT64_CONSTANT(1000000));
    tcp_segment seg = make_segment(&s.c, SERVER, TCP_FLAG_RST, s.c.next_seq[SERVER], 0, 0, 40);
    seg.ttl = 64;
    const rst_diagnosis *d = attributed(&s, seg);
    assert_origin(d, "middlebox");
    assert_cause(d, "idle-timeout");
    g_assert_nonnull(strstr(d->evidence, "edge-firewall"));
}

static void test_idle_timer_firing_by_itself(void)
{
    scene s;
    scene_init(&s, NULL);
    s.c.ttl[SERVER] = 55;
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    /* Azure LB with TCP reset on idle: RSTs at the timer, prompted by nothing */
    tcp_segment seg = forged(&s, SERVER, 0, 64, 240 * G_GINT64_CONSTANT(1000000) + 300000);
    const rst_diagnosis *d = attributed(&s, seg);
    assert_cause(d, "idle-timeout");
    g_assert_nonnull(strstr(d->evidence, "Azure"));
}

static void test_relayed_reset(void)
{
    scene s;
    scene_init(&s, NULL);
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    s.facts.relay_frame = 77;
    s.facts.relay_stream = 3;
    s.facts.relay_gap_us = 400;
    const rst_diagnosis *d = attributed(&s, forged(&s, SERVER, 0, 64, 1000));
    assert_cause(d, "relayed");
    assert_origin(d, "endpoint");
    g_assert_nonnull(strstr(d->evidence, "frame 77"));
}

static void test_sender_keeps_talking(void)
{
    scene s;
    scene_init(&s, NULL);
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    const rst_diagnosis *d = attributed(&s, forged(&s, SERVER, 0, 64, 1000));
    assert_origin(d, "endpoint");   /* nothing gave it away yet */
    g_assert_true(follow(&s, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 500, 3000));
    assert_origin(d, "middlebox");
    assert_cause(d, "injected");
    assert_noted(d->origin_evidence, "kept sending after this RST");
}

/* The server's ACK of the request, sent before its answer and its own RST but
 * delayed on the path, arrives after them: its sequence number is behind the
 * answer's, so it was sent before the RST and proves nothing. */
static void test_reordered_old_ack_proves_nothing(void)
{
    scene s;
    scene_init(&s, NULL);
    handshake(&s.c);
    send(&s.c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 800, 100);
    uint32_t before_answer = s.c.next_seq[SERVER];
    send(&s.c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 300, 30000);
    send(&s.c, CLIENT, TCP_FLAG_ACK, 0, 20);
    const rst_diagnosis *d = attributed(&s, forged(&s, SERVER, 0, 64, 200));
    tcp_segment old_ack = make_segment(&s.c, SERVER, TCP_FLAG_ACK, before_answer, s.c.next_seq[CLIENT], 0, 1300);
    g_assert_false(rst_follow_segment(&s.followup, &s.c.st, &old_ack, &s.c.diag));
    assert_origin(d, "endpoint");
    /* the same ACK at the server's next sequence number was sent after the RST */
    g_assert_true(follow(&s, SERVER, TCP_FLAG_ACK, 0, 100));
    assert_origin(d, "middlebox");
}

/* Two seconds after the RST the same ports carry a new connection whose SYN and
 * SYN-ACK the capture missed: its sequence numbers start tens of millions away
 * from the server's, far beyond any window the client offered, so it proves
 * nothing; the same segment within that window does. */
static void test_new_connection_without_syn_proves_nothing(void)
{
    for (int within_window = 0; within_window <= 1; within_window++) {
        scene s;
        scene_init(&s, NULL);
        handshake(&s.c);
        request_response(&s.c, 100, 300);
        const rst_diagnosis *d = attributed(&s, forged(&s, SERVER, 0, 64, 1000));
        uint32_t seq = s.c.next_seq[SERVER] + (within_window ? 1000 : 35000000);
        tcp_segment later = make_segment(&s.c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, seq, s.c.next_seq[CLIENT], 500,
                                         2000000);
        g_assert_cmpint(rst_follow_segment(&s.followup, &s.c.st, &later, &s.c.diag), ==, within_window);
        assert_origin(d, within_window ? "middlebox" : "endpoint");
    }
}

/* Long after the RST, the same ports prove nothing: a new connection whose SYN was missed. */
static void test_sender_talking_much_later_proves_nothing(void)
{
    scene s;
    scene_init(&s, NULL);
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    const rst_diagnosis *d = attributed(&s, forged(&s, SERVER, 0, 64, 1000));
    g_assert_false(follow(&s, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 500, 60 * G_GINT64_CONSTANT(1000000)));
    assert_origin(d, "endpoint");
}

static void test_challenge_ack_means_ignored(void)
{
    scene s;
    scene_init(&s, NULL);
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    const rst_diagnosis *d = attributed(&s, forged(&s, SERVER, 3000, 64, 1000));
    g_assert_cmpstr(rst_acceptability_token(d->acceptable), ==, "in-window");
    g_assert_true(follow(&s, CLIENT, TCP_FLAG_ACK, 0, 30));
    g_assert_cmpstr(rst_ignored_token(d->ignored), ==, "challenge-ack");
}

/* A duplicate ACK long after the RST may answer another segment (since Linux 42726ec644cb,
 * segments acknowledging unsent data draw challenge ACKs too): not taken as the RST's. */
static void test_late_duplicate_ack_is_no_challenge_ack(void)
{
    scene s;
    scene_init(&s, NULL);
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    const rst_diagnosis *d = attributed(&s, forged(&s, SERVER, 3000, 64, 1000));
    g_assert_false(follow(&s, CLIENT, TCP_FLAG_ACK, 0, 2000000));
    g_assert_cmpstr(rst_ignored_token(d->ignored), ==, "no");
}

/* A RST in the window but not exact reaching a server in SYN-RECEIVED (Linux a28c4fcbf774):
 * a challenge ACK, and the request socket stays (its SYN-ACK comes again). */
static void test_syn_received_keeps_its_request_socket(void)
{
    for (int retransmit = 0; retransmit < 2; retransmit++) {
        scene s;
        scene_init(&s, NULL);
        send(&s.c, CLIENT, TCP_FLAG_SYN, 0, 0);
        send(&s.c, SERVER, TCP_FLAG_SYN | TCP_FLAG_ACK, 0, 30);
        tcp_segment rst = make_segment(&s.c, CLIENT, TCP_FLAG_RST, s.c.next_seq[CLIENT] + 3000, 0, 0, 30);
        const rst_diagnosis *d = attributed(&s, rst);
        g_assert_cmpstr(rst_acceptability_token(d->acceptable), ==, "in-window");
        if (retransmit) {
            tcp_segment again = make_segment(&s.c, SERVER, TCP_FLAG_SYN | TCP_FLAG_ACK, s.c.next_seq[SERVER] - 1,
                                             s.c.next_seq[CLIENT], 0, 1000000);
            g_assert_true(rst_follow_segment(&s.followup, &s.c.st, &again, &s.c.diag));
        } else {
            g_assert_true(follow(&s, SERVER, TCP_FLAG_ACK, 0, 30));
        }
        g_assert_cmpstr(rst_ignored_token(d->ignored), ==, "challenge-ack");
    }
}

static void test_out_of_window_is_ignored(void)
{
    scene s;
    scene_init(&s, NULL);
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    const rst_diagnosis *d = attributed(&s, forged(&s, SERVER, 4000000, 64, 1000));
    g_assert_cmpstr(rst_ignored_token(d->ignored), ==, "out-of-window");
}

static void test_receiver_keeps_sending(void)
{
    scene s;
    scene_init(&s, NULL);
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    const rst_diagnosis *d = attributed(&s, forged(&s, SERVER, 0, 64, 1000));
    g_assert_false(follow(&s, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 50));   /* in flight */
    g_assert_true(follow(&s, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 900000));
    g_assert_cmpstr(rst_ignored_token(d->ignored), ==, "traffic-continued");
}

static void test_new_connection_ends_the_follow_up(void)
{
    scene s;
    scene_init(&s, NULL);
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    const rst_diagnosis *d = attributed(&s, forged(&s, CLIENT, 0, 64, 1000));
    g_assert_false(follow(&s, CLIENT, TCP_FLAG_SYN, 0, 1000000));
    g_assert_false(follow(&s, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 1000));
    assert_origin(d, "endpoint");
}

static void test_idle_timer_preference(void)
{
    idle_timer_table timers;
    char *error = NULL;
    g_assert_true(idle_timers_parse(" haproxy = 60 , 900 ", &timers, &error));
    g_assert_cmpstr(timers.timer[timers.count - 2].name, ==, "haproxy");
    g_assert_cmpuint(timers.timer[timers.count - 1].seconds, ==, 900);
    g_assert_false(idle_timers_parse("fw=abc, ok=5, =7, slow=9999999", &timers, &error));
    g_assert_nonnull(strstr(error, "\"fw=abc\""));
    g_assert_nonnull(strstr(error, "slow"));
    g_assert_cmpstr(timers.timer[timers.count - 1].name, ==, "ok");
    g_free(error);
}

/* ---- vendor reasons ------------------------------------------------------ */

static void test_netscaler_window_code(void)
{
    rst_vendor_info v;
    g_assert_true(rst_vendor_decode(9300, NULL, 0, &v));
    g_assert_cmpint(v.kind, ==, VENDOR_NETSCALER);
    g_assert_cmpuint(v.code, ==, 9300);
    assert_cause(&v, "idle-timeout");
    g_assert_nonnull(strstr(v.text, "idle"));
    g_assert_true(rst_vendor_decode(9830, NULL, 0, &v));
    assert_cause(&v, "blocked");
    g_assert_false(rst_vendor_decode(0, NULL, 0, &v));
    g_assert_false(rst_vendor_decode(502, NULL, 0, &v));   /* an ordinary scaled window */
}

static void test_f5_reset_cause_text(void)
{
    static const char payload[] = "BIG-IP: [0x2664c65:2574] Flow expired (sweeper)";
    rst_vendor_info v;
    g_assert_true(rst_vendor_decode(0, (const uint8_t *)payload, sizeof payload - 1, &v));
    g_assert_cmpint(v.kind, ==, VENDOR_F5);
    assert_cause(&v, "idle-timeout");
    g_assert_cmpstr(v.text, ==, "F5 BIG-IP: Flow expired (sweeper)");
    g_assert_true(v.from_device);
}

static void test_ietf_diagnostic_payloads(void)
{
    /* draft -11: cookie 12345, then {1: 14} (connection timeout) */
    static const uint8_t cbor[] = { 0x19, 0x30, 0x39, 0xa1, 0x01, 0x0e };
    /* draft -17: 0x33AA, code 9 (not authorized), PEN 0 */
    static const uint8_t fixed[] = { 0x33, 0xaa, 0x00, 0x09, 0, 0, 0, 0 };
    /* cookie, {3: "nat full"} */
    static const uint8_t text[] = { 0x19, 0x30, 0x39, 0xa1, 0x03, 0x68, 'n', 'a', 't', ' ', 'f', 'u', 'l', 'l' };
    /* the cookie, then a map that runs past the end: ignored as the draft asks */
    static const uint8_t broken[] = { 0x19, 0x30, 0x39, 0xa2, 0x01 };
    rst_vendor_info v;
    g_assert_true(rst_vendor_decode(0, cbor, sizeof cbor, &v));
    g_assert_cmpint(v.kind, ==, VENDOR_IETF);
    g_assert_cmpuint(v.code, ==, 14);
    assert_cause(&v, "idle-timeout");
    g_assert_true(rst_vendor_decode(0, fixed, sizeof fixed, &v));
    assert_cause(&v, "blocked");
    g_assert_nonnull(strstr(v.text, "not authorized"));
    g_assert_true(rst_vendor_decode(0, text, sizeof text, &v));
    g_assert_cmpstr(v.text, ==, "RST diagnostic: nat full");
    g_assert_false(rst_vendor_decode(0, broken, sizeof broken, &v));
}

static void test_other_payload_shown_as_text(void)
{
    static const uint8_t payload[] = "connection rejected\r\n\x01";
    static const uint8_t binary[] = { 0x00, 0x9f, 0x13, 0x88, 0xff, 0x01, 0x02, 0x03 };
    rst_vendor_info v;
    g_assert_true(rst_vendor_decode(0, payload, sizeof payload - 1, &v));
    g_assert_cmpint(v.kind, ==, VENDOR_TEXT);
    g_assert_cmpstr(v.text, ==, "payload text: connection rejected...");
    g_assert_false(v.from_device);
    g_assert_false(rst_vendor_decode(0, binary, sizeof binary, &v));
}

static void test_vendor_reason_becomes_the_cause(void)
{
    scene s;
    rst_vendor_info v;
    scene_init(&s, NULL);
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    g_assert_true(rst_vendor_decode(9700, NULL, 0, &v));
    s.facts.vendor = &v;
    /* the appliance sends with its own TTL: that corroborates the code */
    tcp_segment seg = forged(&s, SERVER, 0, 255, 1000);
    seg.window = 9700;
    const rst_diagnosis *d = attributed(&s, seg);
    assert_cause(d, "relayed");
    assert_origin(d, "middlebox");
    g_assert_cmpstr(d->evidence, ==, "the RST gives its own reason: NetScaler 9700: reset received on the "
                    "other side of the appliance, passed on");
    g_assert_nonnull(strstr(d->origin_evidence, "corroborated"));
}

/* A window that happens to be a NetScaler code on the stack's own RST means nothing. */
static void test_netscaler_code_needs_corroboration(void)
{
    scene s;
    rst_vendor_info v;
    scene_init(&s, NULL);
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    g_assert_true(rst_vendor_decode(9300, NULL, 0, &v));
    g_assert_true(v.needs_corroboration);
    s.facts.vendor = &v;
    tcp_segment seg = forged(&s, SERVER, 0, 64, 1000);   /* the server's TTL and IP ID counter */
    seg.window = 9300;
    const rst_diagnosis *d = attributed(&s, seg);
    assert_origin(d, "endpoint");
    assert_cause(d, "abortive-close");
    g_assert_nonnull(strstr(d->origin_evidence, "nothing else points to a NetScaler: not counted"));

    /* the same value as the window the server advertises: its own window even when a sign
     * of a device is there */
    scene_init(&s, NULL);
    handshake(&s.c);
    request_response(&s.c, 100, 300);
    s.facts.vendor = &v;
    seg = forged(&s, SERVER, 0, 250, 1000);
    d = attributed(&s, seg);
    g_assert_nonnull(strstr(d->origin_evidence, "own advertised window, not a NetScaler code"));
    g_assert_cmpint(d->cause, !=, CAUSE_IDLE_TIMEOUT);
}

/* The Linux payload of draft-ietf-tcpm-rst-diagnostic-payload Appendix A. */
static void linux_payload(uint8_t *p, uint8_t reason)
{
    memset(p, 0, 1000);
    p[0] = reason;
}

static void test_linux_reason_payload(void)
{
    uint8_t p[1000];
    rst_vendor_info v;
    linux_payload(p, 11);
    g_assert_true(rst_vendor_decode(0, p, sizeof p, &v));
    g_assert_cmpint(v.kind, ==, VENDOR_LINUX);
    g_assert_true(v.payload_is_diagnostic);
    g_assert_cmpstr(rst_kernel_reason_token(v.kernel_reason), ==, "TCP_ABORT_ON_CLOSE");
    linux_payload(p, 16);
    g_assert_true(rst_vendor_decode(0, p, sizeof p, &v));
    g_assert_cmpstr(rst_kernel_reason_token(v.kernel_reason), ==, "TCP_DISCONNECT_WITH_DATA");
    linux_payload(p, 17);   /* the first MPTCP reason */
    g_assert_true(rst_vendor_decode(0, p, sizeof p, &v));
    g_assert_cmpstr(rst_kernel_reason_token(v.kernel_reason), ==, "MPTCP_RST_EUNSPEC");
    linux_payload(p, 24);
    g_assert_true(rst_vendor_decode(0, p, sizeof p, &v));
    g_assert_cmpstr(rst_kernel_reason_token(v.kernel_reason), ==, "ERROR");
    linux_payload(p, 25);   /* MAX: no reason */
    g_assert_false(rst_vendor_decode(0, p, sizeof p, &v) && v.kind == VENDOR_LINUX);
    linux_payload(p, 1);
    p[500] = 1;             /* not zero-padded: some other payload */
    g_assert_false(rst_vendor_decode(0, p, sizeof p, &v) && v.kind == VENDOR_LINUX);
    linux_payload(p, 1);
    g_assert_false(rst_vendor_decode(0, p, 999, &v) && v.kind == VENDOR_LINUX);
}

/* The carried reason is the kernel reason; it confirms or corrects the rules' guess. */
static void test_linux_reason_checks_the_guess(void)
{
    uint8_t p[1000];
    scene s;
    rst_vendor_info v;

    scene_init(&s, NULL);
    handshake(&s.c);
    send(&s.c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 517, 100);   /* first ACKed by the RST */
    linux_payload(p, 11);   /* TCP_ABORT_ON_CLOSE */
    g_assert_true(rst_vendor_decode(0, p, sizeof p, &v));
    s.facts.vendor = &v;
    const rst_diagnosis *d = attributed(&s, forged(&s, SERVER, 0, 64, 200));
    assert_cause(d, "unread-data");
    assert_origin(d, "endpoint");
    g_assert_cmpstr(rst_kernel_reason_token(d->kernel_reason), ==, "TCP_ABORT_ON_CLOSE");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_HIGH);
    g_assert_true(g_str_has_prefix(d->evidence, "Linux reason 11 (TCP_ABORT_ON_CLOSE) in the RST's 1000-byte "
                                   "payload, as the rules guessed: "));
    g_assert_nonnull(strstr(d->origin_evidence, "its stack's own reason"));

    /* the same traffic, but the stack says it ran out of memory: the cause follows */
    scene_init(&s, NULL);
    handshake(&s.c);
    send(&s.c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 517, 100);
    send(&s.c, SERVER, TCP_FLAG_ACK, 0, 40);
    linux_payload(p, 13);   /* TCP_ABORT_ON_MEMORY */
    g_assert_true(rst_vendor_decode(0, p, sizeof p, &v));
    s.facts.vendor = &v;
    d = attributed(&s, forged(&s, SERVER, 0, 64, 200));
    g_assert_cmpstr(rst_kernel_reason_token(d->kernel_reason), ==, "TCP_ABORT_ON_MEMORY");
    assert_cause(d, "abortive-close");
    g_assert_nonnull(strstr(d->evidence, "the rules had guessed TCP_STATE (abortive-close)"));
}

static void test_mptcp_reset_option(void)
{
    /* NOP, NOP, MP_TCPRST: kind 30, length 4, subtype 8 with the T flag, reason 2 */
    static const uint8_t resource[] = { 1, 1, 30, 4, 0x81, 2 };
    /* a timestamp option first, then MP_TCPRST with middlebox interference */
    static const uint8_t middlebox[] = { 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 30, 4, 0x80, 6, 0, 0 };
    static const uint8_t unassigned[] = { 30, 4, 0x80, 9 };
    static const uint8_t add_addr[] = { 30, 8, 0x30, 1, 198, 18, 0, 1 };   /* another MPTCP subtype */
    static const uint8_t broken[] = { 30, 9, 0x80, 2 };
    rst_vendor_info v;
    g_assert_true(rst_vendor_decode_options(resource, sizeof resource, &v));
    g_assert_cmpint(v.kind, ==, VENDOR_MPTCP);
    g_assert_cmpuint(v.code, ==, 2);
    g_assert_cmpstr(rst_kernel_reason_token(v.kernel_reason), ==, "MPTCP_RST_ERESOURCE");
    g_assert_cmpstr(v.text, ==, "MPTCP MP_TCPRST reason 2: lack of resources (transient)");
    g_assert_false(v.from_device);
    g_assert_true(rst_vendor_decode_options(middlebox, sizeof middlebox, &v));
    g_assert_cmpstr(rst_kernel_reason_token(v.kernel_reason), ==, "MPTCP_RST_EMIDDLEBOX");
    g_assert_true(rst_vendor_decode_options(unassigned, sizeof unassigned, &v));
    g_assert_false(v.has_kernel_reason);
    g_assert_false(rst_vendor_decode_options(add_addr, sizeof add_addr, &v));
    g_assert_false(rst_vendor_decode_options(broken, sizeof broken, &v));
    g_assert_false(rst_vendor_decode_options(NULL, 0, &v));
}

/* draft-ietf-tcpm-rst-diagnostic-payload, sections 4 and 5 (its figures). */
static void test_ietf_working_group_draft(void)
{
    static const uint8_t listen_ack[] = { 0x33, 0xaa, 0x00, 0x02, 0, 0, 0, 0 };           /* figure 1 */
    static const uint8_t nat_timeout[] = { 0x33, 0xaa, 0x00, 0x0e, 0, 0, 0, 0 };          /* figure 2 */
    static const uint8_t vendor_code[] = { 0x33, 0xaa, 0x04, 0xd2, 0, 0, 0x7e, 0xd9 };    /* figure 3 */
    static const uint8_t mptcp_code[] = { 0x33, 0xaa, 0x00, 0x11, 0, 0, 0, 0 };
    static const uint8_t reserved[] = { 0x33, 0xaa, 0x00, 0x00, 0, 0, 0, 0 };
    static const uint8_t too_long[] = { 0x33, 0xaa, 0x00, 0x0e, 0, 0, 0, 0, 0 };
    rst_vendor_info v;
    g_assert_true(rst_vendor_decode(0, listen_ack, sizeof listen_ack, &v));
    g_assert_cmpstr(v.text, ==, "RST diagnostic 2: desynchronized state");
    g_assert_false(v.from_device);
    g_assert_true(v.payload_is_diagnostic);
    g_assert_true(rst_vendor_decode(0, nat_timeout, sizeof nat_timeout, &v));
    assert_cause(&v, "idle-timeout");
    g_assert_true(v.from_device);   /* 8-14: service functions */
    g_assert_true(rst_vendor_decode(0, vendor_code, sizeof vendor_code, &v));
    g_assert_cmpstr(v.text, ==, "RST diagnostic: code 1234 of enterprise 32473");
    g_assert_true(rst_vendor_decode(0, mptcp_code, sizeof mptcp_code, &v));
    g_assert_false(v.from_device);  /* RFC 8684's reasons come from the endpoint */
    assert_cause(&v, "unknown");
    /* malformed with the magic number: ignored (section 4.2) */
    g_assert_false(rst_vendor_decode(0, reserved, sizeof reserved, &v));
    g_assert_false(rst_vendor_decode(0, too_long, sizeof too_long, &v) && v.kind == VENDOR_IETF);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/origin/endpoint-active", test_endpoint_active_reset);
    g_test_add_func("/origin/ttl-delta", test_ttl_delta_makes_a_middlebox);
    g_test_add_func("/origin/ttl-beats-copied-counter", test_ttl_beats_a_copied_counter);
    g_test_add_func("/origin/refused-by-device", test_refused_syn_from_a_device);
    g_test_add_func("/origin/refused-by-server", test_refused_syn_by_the_server);
    g_test_add_func("/origin/refused-unknown", test_refused_syn_without_comparison_is_unknown);
    g_test_add_func("/origin/first-data-blocked", test_first_data_blocked);
    g_test_add_func("/origin/ip-id-copied-alone", test_ip_id_copied_alone_is_unknown);
    g_test_add_func("/origin/constant-ip-ids", test_constant_ip_ids_copy_nothing);
    g_test_add_func("/origin/two-weak-signs", test_two_weak_signs_make_a_middlebox);
    g_test_add_func("/origin/faster-than-rtt-alone", test_faster_than_round_trip_alone_is_unknown);
    g_test_add_func("/origin/faster-needs-measured-rtt", test_faster_needs_a_measured_round_trip);
    g_test_add_func("/origin/faster-true-trigger", test_faster_only_against_the_true_trigger);
    g_test_add_func("/origin/keepalive-race", test_keepalive_race_reset_is_the_hosts);
    g_test_add_func("/origin/scanner", test_scanners_own_reset);
    g_test_add_func("/origin/scanner-crafted", test_scanners_crafted_reset);
    g_test_add_func("/origin/burst", test_burst_with_moving_sequence);
    g_test_add_func("/origin/rst-ack-answer-is-no-burst", test_rst_ack_at_an_earlier_ack_is_no_burst);
    g_test_add_func("/origin/answers-to-acks-in-flight", test_answers_to_acks_in_flight_are_no_burst);
    g_test_add_func("/origin/late-second-reset", test_late_second_reset_is_no_burst);
    g_test_add_func("/origin/answer-to-unseen-ack", test_answer_to_unseen_ack_is_no_burst);
    g_test_add_func("/origin/answers-to-acks-before-the-capture",
                    test_answers_to_acks_before_the_capture_are_no_burst);
    g_test_add_func("/stack/windows-counter-jump", test_windows_counter_jump_is_no_second_sender);
    g_test_add_func("/stack/windows-retransmissions", test_windows_reset_after_retransmissions);
    g_test_add_func("/stack/bsd", test_bsd_global_counter);
    g_test_add_func("/stack/linux", test_linux_per_connection_counters);
    g_test_add_func("/stack/ip-id-patterns", test_ip_id_patterns);
    g_test_add_func("/stack/syn-option-layouts", test_syn_option_layouts);
    g_test_add_func("/stack/bsd-by-layout", test_bsd_by_option_layout);
    g_test_add_func("/origin/idle-timer-resume", test_idle_timer_when_traffic_resumes);
    g_test_add_func("/origin/idle-timer-fires", test_idle_timer_firing_by_itself);
    g_test_add_func("/origin/relayed", test_relayed_reset);
    g_test_add_func("/origin/idle-timer-preference", test_idle_timer_preference);
    g_test_add_func("/followup/sender-keeps-talking", test_sender_keeps_talking);
    g_test_add_func("/followup/sender-much-later", test_sender_talking_much_later_proves_nothing);
    g_test_add_func("/origin/new-connection-without-syn", test_new_connection_without_syn_proves_nothing);
    g_test_add_func("/followup/reordered-old-ack", test_reordered_old_ack_proves_nothing);
    g_test_add_func("/followup/challenge-ack", test_challenge_ack_means_ignored);
    g_test_add_func("/followup/out-of-window", test_out_of_window_is_ignored);
    g_test_add_func("/followup/late-duplicate-ack", test_late_duplicate_ack_is_no_challenge_ack);
    g_test_add_func("/followup/syn-received-challenge-ack", test_syn_received_keeps_its_request_socket);
    g_test_add_func("/followup/receiver-keeps-sending", test_receiver_keeps_sending);
    g_test_add_func("/followup/new-connection", test_new_connection_ends_the_follow_up);
    g_test_add_func("/vendor/netscaler", test_netscaler_window_code);
    g_test_add_func("/vendor/f5", test_f5_reset_cause_text);
    g_test_add_func("/vendor/ietf", test_ietf_diagnostic_payloads);
    g_test_add_func("/vendor/text", test_other_payload_shown_as_text);
    g_test_add_func("/vendor/becomes-cause", test_vendor_reason_becomes_the_cause);
    g_test_add_func("/vendor/netscaler-corroboration", test_netscaler_code_needs_corroboration);
    g_test_add_func("/vendor/linux-reason", test_linux_reason_payload);
    g_test_add_func("/vendor/linux-reason-checks-guess", test_linux_reason_checks_the_guess);
    g_test_add_func("/vendor/mptcp", test_mptcp_reset_option);
    g_test_add_func("/vendor/ietf-wg-draft", test_ietf_working_group_draft);
    return g_test_run();
}
