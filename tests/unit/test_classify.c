/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for conn_track.c and rst_classify.c on constructed segment
 * sequences (tests/unit/conversation.h). */
#include "conversation.h"

static void assert_alternatives(const rst_diagnosis *d, const char *causes, const char *reasons)
{
    char buf[160];
    rst_cause_alt_tokens(d, buf, sizeof buf);
    g_assert_cmpstr(buf, ==, causes);
    rst_kernel_reason_alt_tokens(d, buf, sizeof buf);
    g_assert_cmpstr(buf, ==, reasons);
}

/* The server ACKs a 20,000-byte request with its window cut to 40,000 (the data
 * sits in its buffer), answers, and resets advertising window: */
static const rst_diagnosis *reset_after_window(conversation *c, uint32_t rst_window, gboolean peer_fin)
{
    open_connection(c);
    send(c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 20000, 100);
    c->window[SERVER] = 40000;
    send(c, SERVER, TCP_FLAG_ACK, 0, 40);
    send(c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 300, 200);
    send(c, CLIENT, TCP_FLAG_ACK | (peer_fin ? TCP_FLAG_FIN : 0), 0, 30);
    c->window[SERVER] = rst_window;
    return active_reset(c, SERVER, 100);
}

/* Twice the window, no update between: tcp_close() purged unread data (a read
 * would have sent the new window at once, tcp_cleanup_rbuf). */
static void test_window_doubled_by_purge(void)
{
    conversation c;
    const rst_diagnosis *d = reset_after_window(&c, 81000, FALSE);
    assert_diag(d, "server", "data", "active", "unread-data", "TCP_ABORT_ON_CLOSE");
    assert_alternatives(d, "", "");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_HIGH);
    g_assert_nonnull(strstr(d->evidence, "twice the window"));
}

/* A smaller rise: a read or the purge freed it; the purge is the best guess. */
static void test_window_grew_a_little(void)
{
    conversation c;
    const rst_diagnosis *d = reset_after_window(&c, 60000, FALSE);
    assert_diag(d, "server", "data", "active", "unread-data", "TCP_ABORT_ON_CLOSE");
    assert_alternatives(d, "abortive-close", "TCP_STATE");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
}

/* After the peer's FIN a read sends no window update: doubled proves nothing more. */
static void test_window_doubled_after_peer_fin(void)
{
    conversation c;
    const rst_diagnosis *d = reset_after_window(&c, 81000, TRUE);
    assert_diag(d, "server", "closing", "active", "unread-data", "TCP_ABORT_ON_CLOSE");
    assert_alternatives(d, "abortive-close", "TCP_STATE");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
}

/* The same window: nothing shows the request unread. */
static void test_window_unchanged(void)
{
    conversation c;
    const rst_diagnosis *d = reset_after_window(&c, 40000, FALSE);
    assert_diag(d, "server", "data", "active", "abortive-close", "TCP_STATE");
    assert_alternatives(d, "unread-data", "TCP_ABORT_ON_CLOSE");
}

/* Without an answer: the RST right after the ACK that showed the request queued. */
static void test_window_doubled_unanswered(void)
{
    conversation c;
    open_connection(&c);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 20000, 100);
    c.window[SERVER] = 30000;
    send(&c, SERVER, TCP_FLAG_ACK, 0, 40);
    c.window[SERVER] = 64000;
    const rst_diagnosis *d = active_reset(&c, SERVER, 200);
    assert_diag(d, "server", "data", "active", "unread-data", "TCP_ABORT_ON_CLOSE");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_HIGH);
}

/* Data that came after the last ACK may have raised the window by itself: medium. */
static void test_window_doubled_with_new_data(void)
{
    conversation c;
    open_connection(&c);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 20000, 100);
    c.window[SERVER] = 30000;
    send(&c, SERVER, TCP_FLAG_ACK, 0, 40);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 1000, 100);
    c.window[SERVER] = 64000;
    const rst_diagnosis *d = active_reset(&c, SERVER, 200);
    assert_diag(d, "server", "data", "active", "unread-data", "TCP_ABORT_ON_CLOSE");
    assert_alternatives(d, "abortive-close", "TCP_STATE");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
}

static void test_refused(void)
{
    conversation c;
    conv_init(&c, 1000, 5000);
    send(&c, CLIENT, TCP_FLAG_SYN, 0, 0);
    const rst_diagnosis *d = reset(&c, SERVER, TCP_FLAG_ACK, 0, 1001, 0, 40);
    assert_diag(d, "server", "syn", "passive", "refused", "NO_SOCKET");
    assert_token(rst_acceptability_token, d->acceptable, "exact");
    g_assert_cmpuint(d->trigger_frame, ==, 1);
    g_assert_cmpint(d->idle_us, ==, 40);
    g_assert_cmpint(d->age_us, ==, 40);
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_HIGH);
}

static void test_refused_rst_not_acking_syn_is_out_of_window(void)
{
    conversation c;
    conv_init(&c, 1000, 5000);
    send(&c, CLIENT, TCP_FLAG_SYN, 0, 0);
    const rst_diagnosis *d = reset(&c, SERVER, TCP_FLAG_ACK, 0, 999, 0, 40);
    assert_token(rst_acceptability_token, d->acceptable, "out-of-window");
}

/* A request the server ACKed and never answered: nothing shows it unread, so the
 * abort after reading it (SO_LINGER{1,0}) comes first, the unread close second. */
static void test_unanswered_request_at_server(void)
{
    conversation c;
    open_connection(&c);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 517, 100);
    send(&c, SERVER, TCP_FLAG_ACK, 0, 40);
    const rst_diagnosis *d = active_reset(&c, SERVER, 200);
    assert_diag(d, "server", "data", "active", "abortive-close", "TCP_STATE");
    assert_alternatives(d, "unread-data", "TCP_ABORT_ON_CLOSE");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
    assert_token(rst_acceptability_token, d->acceptable, "exact");
    g_assert_cmpuint(d->bytes_client, ==, 517);
    g_assert_cmpuint(d->bytes_server, ==, 0);
    g_assert_cmpuint(d->trigger_frame, ==, 0);
    g_assert_nonnull(strstr(d->evidence, "517 bytes"));
}

/* On a connection that has answered before (an interactive socket), a read leaves
 * the ACK of a single request to the delayed-ACK timer: a RST that first ACKs the
 * next request shows nothing, and the abort after reading it comes first. */
static void test_next_request_first_acked_by_rst(void)
{
    conversation c;
    open_connection(&c);
    request_response(&c, 100, 400);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 10);
    const rst_diagnosis *d = active_reset(&c, SERVER, 50);
    assert_diag(d, "server", "data", "active", "abortive-close", "TCP_STATE");
    assert_alternatives(d, "unread-data", "TCP_ABORT_ON_CLOSE");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
}

/* The same after two pushed writes: a read would have ACKed them at once. */
static void test_two_writes_first_acked_by_rst(void)
{
    conversation c;
    open_connection(&c);
    request_response(&c, 100, 400);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 10);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 10);
    const rst_diagnosis *d = active_reset(&c, SERVER, 50);
    assert_diag(d, "server", "data", "active", "unread-data", "TCP_ABORT_ON_CLOSE");
    assert_alternatives(d, "abortive-close", "TCP_STATE");
    g_assert_nonnull(strstr(d->evidence, "first ACK of the last"));
}

static void test_unread_first_acked_by_rst(void)
{
    conversation c;
    open_connection(&c);
    request_response(&c, 100, 500);
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 800, 100);   /* never ACKed before the RST */
    const rst_diagnosis *d = active_reset(&c, CLIENT, 15000);
    assert_diag(d, "client", "data", "active", "unread-data", "TCP_ABORT_ON_CLOSE");
    g_assert_nonnull(strstr(d->evidence, "first ACK of the last"));
}

static void test_pipelined_requests_answered_once(void)
{
    conversation c;
    open_connection(&c);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 100);
    send(&c, SERVER, TCP_FLAG_ACK, 0, 10);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 10);
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 200, 50000);
    send(&c, CLIENT, TCP_FLAG_ACK, 0, 30);
    const rst_diagnosis *d = active_reset(&c, SERVER, 30);
    assert_diag(d, "server", "data", "active", "unread-data", "TCP_ABORT_ON_CLOSE");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
}

static void test_accept_overflow_on_first_data(void)
{
    conversation c;
    conv_init(&c, 1000, 5000);
    send(&c, CLIENT, TCP_FLAG_SYN, 0, 0);
    send(&c, SERVER, TCP_FLAG_SYN | TCP_FLAG_ACK, 0, 30);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 40, 30);   /* data completes the handshake */
    const rst_diagnosis *d = passive_reset(&c, SERVER, 10);
    assert_diag(d, "server", "data", "passive", "accept-overflow", "INVALID_SYN");
}

static void test_server_with_full_socket_is_stale_not_overflow(void)
{
    conversation c;
    open_connection(&c);
    send(&c, SERVER, TCP_FLAG_ACK, 0, 1000);   /* a window update: the server had a socket */
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 40, 3000000);
    const rst_diagnosis *d = passive_reset(&c, SERVER, 10);
    assert_diag(d, "server", "data", "passive", "stale-connection", "NO_SOCKET");
}

static void test_server_linger_after_response(void)
{
    conversation c;
    open_connection(&c);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 300, 100);
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 500, 200);
    const rst_diagnosis *d = active_reset(&c, SERVER, 20);
    assert_diag(d, "server", "data", "active", "abortive-close", "TCP_STATE");
    /* whether it read the whole request is not on the wire */
    assert_alternatives(d, "unread-data", "TCP_ABORT_ON_CLOSE");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
}

static void test_client_linger_after_complete_response(void)
{
    conversation c;
    open_connection(&c);
    request_response(&c, 300, 500);
    const rst_diagnosis *d = active_reset(&c, CLIENT, 100);
    assert_diag(d, "client", "data", "active", "abortive-close", "TCP_STATE");
    assert_alternatives(d, "unread-data", "TCP_ABORT_ON_CLOSE");   /* it may not have read it all */
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
}

static void test_client_abort_mid_write(void)
{
    conversation c;
    open_connection(&c);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 100);
    send(&c, SERVER, TCP_FLAG_ACK, 1448, 100);   /* no PSH: the write goes on */
    send(&c, CLIENT, TCP_FLAG_ACK, 0, 30);
    const rst_diagnosis *d = active_reset(&c, CLIENT, 100);
    assert_diag(d, "client", "data", "active", "unread-data", "TCP_ABORT_ON_CLOSE");
}

static void test_client_abort_with_data_in_flight(void)
{
    conversation c;
    open_connection(&c);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 100);
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 1448, 100);
    uint32_t acked = c.next_seq[SERVER];
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 1448, 10);   /* not yet acked */
    const rst_diagnosis *d = reset(&c, CLIENT, TCP_FLAG_ACK, c.next_seq[CLIENT], acked, 0, 20);
    assert_diag(d, "client", "data", "active", "unread-data", "TCP_ABORT_ON_CLOSE");
    g_assert_nonnull(strstr(d->evidence, "more was in flight"));
}

static void test_response_timeout(void)
{
    conversation c;
    open_connection(&c);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 300, 100);
    send(&c, SERVER, TCP_FLAG_ACK, 0, 40);
    const rst_diagnosis *d = active_reset(&c, CLIENT, 1500000);
    assert_diag(d, "client", "data", "active", "response-timeout", "TCP_STATE");
    conversation c2;
    conv_init(&c2, 1000, 5000);
    c2.settings.response_timeout_ms = 2000;
    handshake(&c2);
    send(&c2, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 300, 100);
    d = active_reset(&c2, CLIENT, 1500000);
    assert_diag(d, "client", "data", "active", "abortive-close", "TCP_STATE");

    /* after an answer to an earlier request: whether the client read all of it is not
     * on the wire, and unread data makes close() reset with TCP_ABORT_ON_CLOSE */
    open_connection(&c);
    request_response(&c, 300, 2000);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 300, 100);
    send(&c, SERVER, TCP_FLAG_ACK, 0, 40);
    d = active_reset(&c, CLIENT, 1500000);
    assert_diag(d, "client", "data", "active", "response-timeout", "TCP_STATE");
    assert_alternatives(d, "unread-data", "TCP_ABORT_ON_CLOSE");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
}

static void test_handshake_abort(void)
{
    conversation c;
    open_connection(&c);
    const rst_diagnosis *d = active_reset(&c, CLIENT, 20);
    assert_diag(d, "client", "established", "active", "handshake-abort", "TCP_STATE");
}

static void test_accept_overflow(void)
{
    conversation c;
    open_connection(&c);
    const rst_diagnosis *d = passive_reset(&c, SERVER, 15);
    assert_diag(d, "server", "established", "passive", "accept-overflow", "INVALID_SYN");
    g_assert_cmpuint(d->trigger_frame, ==, 3);
}

static void test_connect_abandoned(void)
{
    conversation c;
    conv_init(&c, 1000, 5000);
    send(&c, CLIENT, TCP_FLAG_SYN, 0, 0);
    send(&c, SERVER, TCP_FLAG_SYN | TCP_FLAG_ACK, 0, 1000000);
    const rst_diagnosis *d = passive_reset(&c, CLIENT, 30);
    assert_diag(d, "client", "synack", "passive", "connect-abandoned", "NO_SOCKET");
    assert_token(rst_acceptability_token, d->acceptable, "exact");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_HIGH);

    /* the SYN not in the capture (begun late): whether the SYN-ACK acknowledged it is
     * not seen, so a SYN-SENT socket refusing it is as likely */
    conv_init(&c, 1000, 5000);
    c.next_seq[CLIENT] += 1;   /* the SYN, sent before the capture */
    send(&c, SERVER, TCP_FLAG_SYN | TCP_FLAG_ACK, 0, 0);
    d = passive_reset(&c, CLIENT, 30);
    assert_diag(d, "client", "synack", "passive", "connect-abandoned", "NO_SOCKET");
    assert_alternatives(d, "bad-handshake", "TCP_INVALID_ACK_SEQUENCE,TCP_FLAGS");   /* a listener on its port, unseen */
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
}

static void test_bad_handshake_challenge_ack(void)
{
    conversation c;
    conv_init(&c, 1000, 5000);
    send(&c, CLIENT, TCP_FLAG_SYN, 0, 0);
    send_raw(&c, SERVER, TCP_FLAG_ACK, 7000, 777, 0, 30);   /* an old connection's ACK */
    const rst_diagnosis *d = reset(&c, CLIENT, 0, 777, 0, 0, 20);
    assert_diag(d, "client", "syn", "passive", "bad-handshake", "TCP_INVALID_ACK_SEQUENCE");
}

static void test_data_after_close_timewait(void)
{
    conversation c;
    open_connection(&c);
    request_response(&c, 100, 200);
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_FIN, 0, 10);
    send(&c, CLIENT, TCP_FLAG_ACK, 0, 30);                   /* acks the FIN */
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 50000);
    const rst_diagnosis *d = passive_reset(&c, SERVER, 30);
    assert_diag(d, "server", "closing", "passive", "data-after-close", "TCP_TIMEWAIT_SOCKET");
    g_assert_cmpuint(d->trigger_frame, ==, c.frame - 1);
    /* 80 ms after its FIN: a lost ACK would not have shown as a resent FIN yet */
    assert_alternatives(d, "", "TCP_ABORT_ON_DATA");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
}

/* The server resends its FIN after the client's ACK of it: that ACK was lost on the
 * way. Data then meets the closed socket in FIN_WAIT1 (TCP_ABORT_ON_DATA); but had
 * the client's ACK of the resent FIN arrived, which the capture cannot tell, a
 * FIN_WAIT2 timewait socket (TCP_TIMEWAIT_SOCKET). */
static void test_data_after_resent_fin(void)
{
    for (int reacked = 0; reacked <= 1; reacked++) {
        conversation c;
        open_connection(&c);
        request_response(&c, 100, 200);
        uint32_t fin = c.next_seq[SERVER];
        send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_FIN, 0, 10);
        send(&c, CLIENT, TCP_FLAG_ACK, 0, 30);   /* lost before the server */
        send_raw(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_FIN, fin, c.next_seq[CLIENT], 0, 210000);
        if (reacked)
            send(&c, CLIENT, TCP_FLAG_ACK, 0, 30);
        send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 20000);
        const rst_diagnosis *d = passive_reset(&c, SERVER, 30);
        assert_diag(d, "server", "closing", "passive", "data-after-close", "TCP_ABORT_ON_DATA");
        assert_alternatives(d, "", reacked ? "TCP_TIMEWAIT_SOCKET" : "");
        g_assert_cmpint(d->confidence, ==, reacked ? CONFIDENCE_MEDIUM : CONFIDENCE_HIGH);
    }
}

static void test_data_after_close_fin_not_acked(void)
{
    conversation c;
    open_connection(&c);
    request_response(&c, 100, 200);
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_FIN, 0, 10);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 30);  /* data that also acks the FIN */
    const rst_diagnosis *d = passive_reset(&c, SERVER, 30);
    assert_diag(d, "server", "closing", "passive", "data-after-close", "TCP_ABORT_ON_DATA");
    /* the client had the FIN: an ACK of it alone, missed by the capture, leaves a timewait socket */
    assert_alternatives(d, "", "TCP_TIMEWAIT_SOCKET");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);

    /* data sent before the FIN reached the client (its ack is short of the FIN): FIN_WAIT1 for sure */
    open_connection(&c);
    request_response(&c, 100, 200);
    uint32_t before_fin = c.next_seq[SERVER];
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_FIN, 0, 10);
    send_raw(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, c.next_seq[CLIENT], before_fin, 100, 30);
    c.next_seq[CLIENT] += 100;
    d = reset(&c, SERVER, 0, before_fin, 0, 0, 30);
    assert_diag(d, "server", "closing", "passive", "data-after-close", "TCP_ABORT_ON_DATA");
    assert_alternatives(d, "", "");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_HIGH);
}

static void test_data_after_close_fin_ack_lost(void)
{
    conversation c;
    open_connection(&c);
    request_response(&c, 100, 200);
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_FIN, 0, 10);
    send(&c, CLIENT, TCP_FLAG_ACK, 0, 30);                   /* seen here, lost before the server */
    send_raw(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_FIN, c.next_seq[SERVER] - 1, c.next_seq[CLIENT], 0, 5000);
    send(&c, CLIENT, TCP_FLAG_ACK, 0, 10);                   /* duplicate ACK */
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 50000);
    const rst_diagnosis *d = passive_reset(&c, SERVER, 30);
    assert_diag(d, "server", "closing", "passive", "data-after-close", "TCP_ABORT_ON_DATA");
}

/* A pipelined request crosses the server's response and FIN (latency on the path):
 * it reaches the socket after close() -- the FIN acked only the first request -- and
 * the closed socket resets it, answering with the ack that request carried. */
static void test_data_crossing_own_fin(void)
{
    conversation c;
    open_connection(&c);
    uint32_t server_start = c.next_seq[SERVER];
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 100);
    uint32_t first_request_end = c.next_seq[CLIENT];
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 800, 100);
    send_raw(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, server_start, first_request_end, 1600, 30000);
    send_raw(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_FIN, server_start + 1600, first_request_end, 0, 10);
    c.next_seq[SERVER] = server_start + 1601;
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_FIN, 0, 10);
    const rst_diagnosis *d = reset(&c, SERVER, 0, server_start, 0, 0, 30000);
    assert_diag(d, "server", "closed", "passive", "data-after-close", "TCP_ABORT_ON_DATA");
}

static void test_data_with_fin_after_close(void)
{
    conversation c;
    open_connection(&c);
    request_response(&c, 100, 200);
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_FIN, 0, 10);
    send(&c, CLIENT, TCP_FLAG_ACK, 0, 30);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH | TCP_FLAG_FIN, 100, 30);
    const rst_diagnosis *d = passive_reset(&c, SERVER, 30);
    assert_diag(d, "server", "closed", "passive", "data-after-close", "TCP_TIMEWAIT_SOCKET");
}

/* Both close, then a duplicate of the client's last ACK draws the server's bare RST. */
static const rst_diagnosis *close_then_straggler(conversation *c)
{
    send(c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_FIN, 0, 10);
    send(c, SERVER, TCP_FLAG_ACK | TCP_FLAG_FIN, 0, 30);
    send(c, CLIENT, TCP_FLAG_ACK, 0, 30);
    send_raw(c, CLIENT, TCP_FLAG_ACK, c->next_seq[CLIENT], c->next_seq[SERVER], 0, 5);   /* duplicate */
    return passive_reset(c, SERVER, 20);
}

static void test_late_after_close(void)
{
    conversation c;
    open_connection(&c);
    request_response(&c, 100, 200);
    const rst_diagnosis *d = close_then_straggler(&c);
    assert_diag(d, "server", "closed", "passive", "late-after-close", "NO_SOCKET");
    g_assert_false(d->capture_gap);
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_HIGH);
}

/* Segments missing from the capture: a verdict that is high on a whole capture is
 * medium once the capture shows a hole, in the data (the server acks more than
 * the client showed) or in the RST (it acks data never seen). */
static void test_capture_gap_caps_confidence(void)
{
    conversation c;
    open_connection(&c);   /* test_late_after_close: high on the whole capture */
    send_unseen(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 100);
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 200, 200);   /* acks the unseen request */
    send(&c, CLIENT, TCP_FLAG_ACK, 0, 30);
    const rst_diagnosis *d = close_then_straggler(&c);
    assert_diag(d, "server", "closed", "passive", "late-after-close", "NO_SOCKET");
    g_assert_true(d->capture_gap);
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
    g_assert_nonnull(strstr(d->evidence, "segments missing from the capture"));

    /* the server's answer missed, the client's ACK of it seen: the server sent it, so
     * its abort at the end of it is a live socket's (active), not a shape no stack sends */
    open_connection(&c);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 100);
    send_unseen(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 600, 200);
    send(&c, CLIENT, TCP_FLAG_ACK, 0, 30);
    g_assert_cmpuint(c.st.side[SERVER].next_seq, ==, c.next_seq[SERVER]);
    g_assert_cmpuint(c.st.side[SERVER].payload_bytes, ==, 600);
    d = active_reset(&c, SERVER, 20);
    assert_token(rst_shape_token, d->shape, "active");
    g_assert_true(d->capture_gap);
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);

    /* a hole in a side's own sequence numbers */
    open_connection(&c);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 100);
    send_unseen(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 10);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 10);
    g_assert_true(c.st.side[CLIENT].flags & SIDE_UNSEEN_DATA);

    /* only in the RST: its ack covers a request the capture missed */
    open_connection(&c);
    request_response(&c, 100, 200);
    send_unseen(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 100);
    d = active_reset(&c, SERVER, 20);
    assert_diag(d, "server", "data", "active", "abortive-close", "TCP_STATE");
    g_assert_true(d->capture_gap);
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);

    /* only in a bare RST: it copies an ack the client never showed, of the server's
     * answer, so it answers a client segment the capture missed (the same RST
     * after a client ACK that was captured is high) */
    for (int ack_seen = 0; ack_seen < 2; ack_seen++) {
        open_connection(&c);
        send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 100);
        send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 300, 10000);
        active_reset(&c, SERVER, 40);
        if (ack_seen)
            send(&c, CLIENT, TCP_FLAG_ACK, 0, 30);
        else
            send_unseen(&c, CLIENT, TCP_FLAG_ACK, 0, 30);
        d = passive_reset(&c, SERVER, 50);
        assert_diag(d, "server", "closed", "passive", "late-after-close", "NO_SOCKET");
        g_assert_cmpint(d->capture_gap, ==, !ack_seen);
        g_assert_cmpint(d->confidence, ==, ack_seen ? CONFIDENCE_HIGH : CONFIDENCE_MEDIUM);
    }

    /* a lone RST|ACK at sequence number 0: the answer to a segment without ACK (a
     * SYN) the capture missed, a refusal; with the SYN seen, high */
    conv_init(&c, 1000, 5000);
    d = reset(&c, SERVER, TCP_FLAG_ACK, 0, 1001, 0, 0);
    assert_diag(d, "server", "unknown", "passive", "refused", "NO_SOCKET");
    g_assert_true(d->capture_gap);
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
    g_assert_nonnull(strstr(d->evidence, "that the capture missed"));
    conv_init(&c, 1000, 5000);
    send(&c, CLIENT, TCP_FLAG_SYN, 0, 0);
    d = reset(&c, SERVER, TCP_FLAG_ACK, 0, 1001, 0, 30);
    assert_diag(d, "server", "syn", "passive", "refused", "NO_SOCKET");
    g_assert_false(d->capture_gap);
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_HIGH);
}

/* The capture began after the connection: no SYN-ACK of the server's port was
 * seen, so a listener there is not known either way, and a late bare RST is
 * NO_SOCKET or, from a listener, TCP_FLAGS. With the handshake in the capture
 * the server's own SYN-ACK tells (the listener table). */
static void test_late_after_close_without_handshake(void)
{
    conversation c;
    conv_init(&c, 1000, 5000);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 0);
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 200, 30);
    const rst_diagnosis *d = close_then_straggler(&c);
    assert_diag(d, "server", "closed", "passive", "late-after-close", "NO_SOCKET");
    assert_alternatives(d, "", "TCP_FLAGS");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
}

static void test_keepalive_timeout(void)
{
    conversation c;
    open_connection(&c);
    request_response(&c, 10, 10);
    for (int i = 0; i < 2; i++)
        send_raw(&c, CLIENT, TCP_FLAG_ACK, c.next_seq[CLIENT] - 1, c.next_seq[SERVER], 0, 1000000);
    const rst_diagnosis *d = active_reset(&c, CLIENT, 1000000);
    assert_diag(d, "client", "data", "active", "keepalive-timeout", "TCP_KEEPALIVE_TIMEOUT");
    g_assert_nonnull(strstr(d->evidence, "2 unanswered"));
}

static void test_answered_probes_are_not_a_timeout(void)
{
    conversation c;
    open_connection(&c);
    request_response(&c, 10, 10);
    send_raw(&c, CLIENT, TCP_FLAG_ACK, c.next_seq[CLIENT] - 1, c.next_seq[SERVER], 0, 1000000);
    send(&c, SERVER, TCP_FLAG_ACK, 0, 30);
    const rst_diagnosis *d = active_reset(&c, CLIENT, 100);
    g_assert_cmpstr(rst_cause_token(d->cause), !=, "keepalive-timeout");
}

static void test_stale_connection(void)
{
    conversation c;
    open_connection(&c);
    request_response(&c, 100, 100);
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 50, 5000000);
    const rst_diagnosis *d = passive_reset(&c, CLIENT, 30);
    assert_diag(d, "client", "data", "passive", "stale-connection", "NO_SOCKET");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_HIGH);

    /* the same RST 13 s after the segment whose ack it copies answers one the capture
     * missed (or the host reset on its own): no verdict is certain */
    open_connection(&c);
    request_response(&c, 100, 100);
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 50, 5000000);
    d = passive_reset(&c, CLIENT, 13000000);
    assert_diag(d, "client", "data", "passive", "stale-connection", "NO_SOCKET");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
    g_assert_nonnull(strstr(d->evidence, "(segments missing from the capture)"));
}

static void test_midstream_start_guesses_roles(void)
{
    conversation c;
    conv_init(&c, 1000, 5000);
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 0);
    send(&c, CLIENT, TCP_FLAG_ACK, 0, 30);
    const rst_diagnosis *d = active_reset(&c, CLIENT, 100);
    assert_token(rst_phase_token, d->phase, "data");   /* the payload shows it, handshake or not */
    assert_token(rst_sender_token, d->sender, "client");
    g_assert_true(d->roles_guessed);
    g_assert_cmpint(d->age_us, ==, -1);
    g_assert_cmpint(d->confidence, <, CONFIDENCE_HIGH);
    g_assert_nonnull(strstr(d->evidence, "guessed from ports"));
}

/* Mid-stream with bare ACKs only: the connection is up, but whether it has
 * carried data is not seen. */
static void test_midstream_acks_only(void)
{
    conversation c;
    conv_init(&c, 1000, 5000);
    send(&c, SERVER, TCP_FLAG_ACK, 0, 0);
    send(&c, CLIENT, TCP_FLAG_ACK, 0, 30);
    const rst_diagnosis *d = active_reset(&c, CLIENT, 100);
    assert_token(rst_phase_token, d->phase, "unknown");
    g_assert_cmpint(d->confidence, <, CONFIDENCE_HIGH);
}

static void test_lone_rst(void)
{
    conversation c;
    conv_init(&c, 1000, 5000);
    const rst_diagnosis *d = reset(&c, CLIENT, 0, 1234, 0, 0, 0);
    assert_token(rst_phase_token, d->phase, "unknown");
    assert_token(rst_acceptability_token, d->acceptable, "unknown");
    g_assert_cmpint(d->idle_us, ==, -1);
    g_assert_cmpuint(d->trigger_frame, ==, 0);

    /* a lone RST|ACK at a sequence number other than 0 (a capture begun late): a
     * socket's abort, as Linux answers segments with bare RSTs or RST|ACKs at 0; what
     * it received before is not seen, so unread data is as likely */
    conv_init(&c, 1000, 5000);
    d = reset(&c, SERVER, TCP_FLAG_ACK, 5000, 1000, 0, 0);
    assert_diag(d, "server", "unknown", "active", "abortive-close", "TCP_STATE");
    assert_alternatives(d, "unread-data", "TCP_ABORT_ON_CLOSE");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_LOW);
    g_assert_nonnull(strstr(d->evidence, "the first segment of the connection in the capture"));
}

static void test_retransmission_not_counted(void)
{
    conversation c;
    open_connection(&c);
    uint32_t seq = c.next_seq[CLIENT];
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 300, 100);
    send_raw(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, seq, c.next_seq[SERVER], 300, 200000);
    send_raw(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, seq + 100, c.next_seq[SERVER], 200, 200000);
    const rst_diagnosis *d = active_reset(&c, SERVER, 100);
    g_assert_cmpuint(d->bytes_client, ==, 300);
    assert_token(rst_cause_token, d->cause, "unread-data");
}

static void test_out_of_order_segments(void)
{
    conversation c;
    open_connection(&c);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 10, 100);
    uint32_t seq = c.next_seq[SERVER];
    send_raw(&c, SERVER, TCP_FLAG_ACK, seq + 1000, c.next_seq[CLIENT], 500, 100);   /* arrives first */
    send_raw(&c, SERVER, TCP_FLAG_ACK, seq, c.next_seq[CLIENT], 1000, 10);
    c.next_seq[SERVER] = seq + 1500;
    send(&c, CLIENT, TCP_FLAG_ACK, 0, 30);
    const rst_diagnosis *d = active_reset(&c, SERVER, 20);
    g_assert_cmpuint(d->bytes_server, >=, 500);
    assert_token(rst_shape_token, d->shape, "active");
    assert_token(rst_acceptability_token, d->acceptable, "exact");
}

/* A datagram captured twice (both sides of a router, a bridge and its port)
 * is one segment: the copy has its sender's IPv4 ID, seen lately, and nothing
 * new; a retransmission has an ID of its own, a host that sends one ID for
 * all or ID 0 is never judged so. */
static void test_copies_of_datagrams(void)
{
    conversation c;
    open_connection(&c);
    tcp_segment request = make_segment(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, c.next_seq[CLIENT],
                                       c.next_seq[SERVER], 300, 100);
    g_assert_false(conn_is_copy(&c.st, &request));
    track(&c, CLIENT, &request);
    c.next_seq[CLIENT] += 300;
    tcp_segment copy = request;
    copy.frame = ++c.frame;
    copy.ttl = 63;   /* one hop further */
    g_assert_true(conn_is_copy(&c.st, &copy));

    /* resent with a new ID: a retransmission, tracked */
    tcp_segment again = make_segment(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, request.seq, request.ack, 300, 200000);
    g_assert_false(conn_is_copy(&c.st, &again));
    track(&c, CLIENT, &again);
    /* the copy still, late and out of order, behind newer IDs */
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 500, 100);
    send(&c, CLIENT, TCP_FLAG_ACK, 0, 30);
    g_assert_true(conn_is_copy(&c.st, &copy));
    /* the ID again with new data is no copy (a counter that wrapped, a host reusing IDs) */
    tcp_segment reused = copy;
    reused.seq = c.next_seq[CLIENT];
    g_assert_false(conn_is_copy(&c.st, &reused));
    /* too far behind the side's newest ID to be remembered */
    for (int i = 0; i < CONN_IDS_KEPT; i++)
        send(&c, CLIENT, TCP_FLAG_ACK, 0, 10);
    g_assert_false(conn_is_copy(&c.st, &copy));

    /* RSTs are never judged here (the glue matches them to the RSTs it diagnosed),
     * and their IDs, which a device forging them chooses, are not remembered */
    tcp_segment rst = make_segment(&c, CLIENT, TCP_FLAG_RST | TCP_FLAG_ACK, c.next_seq[CLIENT], c.next_seq[SERVER],
                                   0, 10);
    rst.ip_id = copy.ip_id + 2;
    track(&c, CLIENT, &rst);
    g_assert_false(conn_is_copy(&c.st, &rst));
    tcp_segment late = make_segment(&c, CLIENT, TCP_FLAG_ACK, c.next_seq[CLIENT], c.next_seq[SERVER], 0, 10);
    late.ip_id = rst.ip_id;
    g_assert_false(conn_is_copy(&c.st, &late));

    /* hosts that send ID 0, or one ID for all their datagrams */
    for (int id = 0; id <= 7; id += 7) {
        open_connection(&c);
        tcp_segment data = { 0 };
        for (int i = 0; i < 3; i++) {
            data = make_segment(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, c.next_seq[SERVER], c.next_seq[CLIENT], 10,
                                10);
            data.ip_id = id;
            track(&c, SERVER, &data);
            c.next_seq[SERVER] += 10;
        }
        tcp_segment same = data;
        same.frame = ++c.frame;
        g_assert_false(conn_is_copy(&c.st, &same));
    }
}

/* Without a counted ID (IPv6, ID 0) a copy differs from its datagram in the hop
 * limit alone, and comes soon after it. */
static void test_copies_without_ids(void)
{
    conversation c;
    conn_recent recent = { 0 };
    open_connection(&c);
    tcp_segment request = make_segment(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, c.next_seq[CLIENT],
                                       c.next_seq[SERVER], 300, 100);
    request.ip_id = -1;
    g_assert_null(conn_recent_copy(&recent, 0, &request));
    tcp_segment copy = request;
    copy.frame = ++c.frame;
    copy.ttl = 63;   /* one hop further */
    g_assert_cmpuint(conn_recent_copy(&recent, 0, &copy)->frame, ==, request.frame);
    /* at one capture point, a retransmission keeps its sender's hop limit */
    tcp_segment again = request;
    again.frame = ++c.frame;
    g_assert_null(conn_recent_copy(&recent, 0, &again));
    /* another receiving port, or anything else changed: no copy */
    tcp_segment other = copy;
    other.dst_port += 1;
    g_assert_null(conn_recent_copy(&recent, 0, &other));
    other = copy;
    other.window += 1;
    g_assert_null(conn_recent_copy(&recent, 0, &other));
    /* in another tcp.stream (Wireshark 4.4 on opens one for a SYN after a RST, and so
     * for its copy): the copy still, with the stream of the datagram it repeats */
    tcp_segment syn = make_segment(&c, CLIENT, TCP_FLAG_SYN, 77, 0, 0, 10);
    syn.ip_id = -1;
    g_assert_null(conn_recent_copy(&recent, 0, &syn));
    tcp_segment syn_copy = syn;
    syn_copy.frame = ++c.frame;
    syn_copy.ttl = 63;
    const conn_recent_segment *found = conn_recent_copy(&recent, 1, &syn_copy);
    g_assert_nonnull(found);
    g_assert_cmpuint(found->frame, ==, syn.frame);
    g_assert_cmpuint(found->stream, ==, 0);

    /* two alike RSTs (answering two segments in flight): each copy pairs with the
     * oldest not yet copied, as copies come in the order of their originals */
    tcp_segment first = make_segment(&c, SERVER, TCP_FLAG_RST, c.next_seq[SERVER], 0, 0, 10);
    first.ip_id = 0;
    tcp_segment second = first;
    second.frame = ++c.frame;
    g_assert_null(conn_recent_copy(&recent, 0, &first));
    g_assert_null(conn_recent_copy(&recent, 0, &second));
    tcp_segment first_copy = first, second_copy = second;
    first_copy.ttl = second_copy.ttl = 63;
    first_copy.frame = ++c.frame;
    second_copy.frame = ++c.frame;
    g_assert_cmpuint(conn_recent_copy(&recent, 0, &first_copy)->frame, ==, first.frame);
    g_assert_cmpuint(conn_recent_copy(&recent, 0, &second_copy)->frame, ==, second.frame);

    /* a counted ID decides (conn_is_copy), and so does an unread hop limit */
    tcp_segment counted = copy;
    counted.ip_id = 7;
    g_assert_null(conn_recent_copy(&recent, 0, &counted));
    tcp_segment unread = first;
    unread.ttl = 0;
    g_assert_null(conn_recent_copy(&recent, 0, &unread));

    /* only the latest CONN_RECENT_KEPT are kept */
    for (int i = 0; i < CONN_RECENT_KEPT; i++) {
        tcp_segment ack = make_segment(&c, CLIENT, TCP_FLAG_ACK, c.next_seq[CLIENT], c.next_seq[SERVER] + i, 0, 10);
        ack.ip_id = -1;
        g_assert_null(conn_recent_copy(&recent, 0, &ack));
    }
    copy.frame = ++c.frame;
    g_assert_null(conn_recent_copy(&recent, 0, &copy));
}

static void test_sequence_wraparound(void)
{
    conversation c;
    conv_init(&c, 0xFFFFFF00u, 0xFFFFFFF0u);
    handshake(&c);
    request_response(&c, 1000, 2000);
    g_assert_cmpuint(c.next_seq[CLIENT], <, 0x1000);   /* both wrapped */
    const rst_diagnosis *d = active_reset(&c, SERVER, 20);
    g_assert_cmpuint(d->bytes_client, ==, 1000);
    g_assert_cmpuint(d->bytes_server, ==, 2000);
    assert_token(rst_shape_token, d->shape, "active");
    assert_token(rst_acceptability_token, d->acceptable, "exact");
}

static void test_follow_up_rsts_after_own_reset(void)
{
    conversation c;
    open_connection(&c);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 100);
    send(&c, SERVER, TCP_FLAG_ACK, 1448, 100);
    active_reset(&c, CLIENT, 20);
    send(&c, SERVER, TCP_FLAG_ACK, 1448, 5);   /* was in flight */
    const rst_diagnosis *d = passive_reset(&c, CLIENT, 10);
    assert_diag(d, "client", "closed", "passive", "data-after-close", "NO_SOCKET");
}

static void test_rst_with_payload_is_nonstandard(void)
{
    conversation c;
    open_connection(&c);
    request_response(&c, 100, 100);
    const rst_diagnosis *d = reset(&c, SERVER, TCP_FLAG_ACK, c.next_seq[SERVER], c.next_seq[CLIENT], 20, 10);
    assert_diag(d, "server", "data", "nonstandard", "unknown", "NONE");
}

static void test_abort_after_peer_fin(void)
{
    conversation c;
    open_connection(&c);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 100);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_FIN, 0, 1);
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 300, 200);
    const rst_diagnosis *d = active_reset(&c, SERVER, 10);
    assert_diag(d, "server", "closing", "active", "abortive-close", "TCP_STATE");
}

/* Data, then a FIN sent after the server's FIN arrived: both in flight to a
 * server that has closed. Each RST copies the ack of the segment it answers, so
 * the two differ by one in seq and each names its own trigger. */
static void test_two_segments_in_flight_two_triggers(void)
{
    conversation c;
    open_connection(&c);
    request_response(&c, 100, 200);
    uint32_t fin_seq = c.next_seq[SERVER];
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_FIN, 0, 10);
    send_raw(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, c.next_seq[CLIENT], fin_seq, 100, 5);  /* before the FIN */
    uint32_t data_frame = c.frame;
    c.next_seq[CLIENT] += 100;
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_FIN, 0, 2000);                                 /* after it */
    uint32_t fin_frame = c.frame;
    const rst_diagnosis *d = reset(&c, SERVER, 0, fin_seq, 0, 0, 300);
    assert_diag(d, "server", "closed", "passive", "data-after-close", "TCP_ABORT_ON_DATA");
    g_assert_cmpuint(d->trigger_frame, ==, data_frame);
    g_assert_cmpint(d->response_us, ==, 2300);   /* from the data, not from the FIN */
    d = reset(&c, SERVER, 0, fin_seq + 1, 0, 0, 20);
    assert_diag(d, "server", "closed", "passive", "late-after-close", "NO_SOCKET");
    g_assert_cmpuint(d->trigger_frame, ==, fin_frame);
    g_assert_cmpint(d->response_us, ==, 320);
}

/* A RST answering nothing the peer sent has no trigger, even right after a segment. */
static void test_active_rst_has_no_trigger(void)
{
    conversation c;
    open_connection(&c);
    request_response(&c, 100, 200);
    const rst_diagnosis *d = active_reset(&c, SERVER, 10);
    g_assert_cmpuint(d->trigger_frame, ==, 0);
    g_assert_cmpint(d->response_us, ==, -1);
}

/* A segment with explicit numbers and window (zero-window states). */
static void send_window(conversation *c, int from, uint16_t flags, uint32_t len, uint32_t window, int64_t after_us)
{
    uint32_t ack = (flags & TCP_FLAG_ACK) ? c->next_seq[!from] : 0;
    tcp_segment seg = make_segment(c, from, flags, c->next_seq[from], ack, len, after_us);
    seg.window = window;
    conn_track_segment(&c->st, &seg);
    c->next_seq[from] += len + ((flags & TCP_FLAG_FIN) ? 1 : 0);
}


/* A stale ACK reaching a port with a listener is reset by the listener. */
static void test_listener_resets_stale_segment(void)
{
    conversation c;
    open_connection(&c);
    request_response(&c, 100, 100);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 50, 5000000);
    c.other_streams.listening = TRUE;
    const rst_diagnosis *d = passive_reset(&c, SERVER, 30);
    assert_diag(d, "server", "data", "passive", "stale-connection", "TCP_FLAGS");
    assert_alternatives(d, "", "NO_SOCKET");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
    c.other_streams.listening = FALSE;   /* the same RST with no listener known */
    open_connection(&c);
    request_response(&c, 100, 100);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 50, 5000000);
    d = passive_reset(&c, SERVER, 30);
    assert_diag(d, "server", "data", "passive", "stale-connection", "NO_SOCKET");
    assert_alternatives(d, "", "");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_HIGH);
}

/* The server closed while its response was still going out (FIN queued behind
 * unsent data); the client's next data reaches the orphan. */
static void test_data_reaching_socket_closed_while_sending(void)
{
    conversation c;
    open_connection(&c);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 100);
    send(&c, SERVER, TCP_FLAG_ACK, 1448, 200);
    uint32_t client_acks = c.next_seq[SERVER];
    send(&c, SERVER, TCP_FLAG_ACK, 1448, 10);          /* still sending */
    send_raw(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, c.next_seq[CLIENT], client_acks, 100, 5);
    uint32_t trigger = c.frame;
    c.next_seq[CLIENT] += 100;
    const rst_diagnosis *d = reset(&c, SERVER, 0, client_acks, 0, 0, 40);
    assert_diag(d, "server", "data", "passive", "data-after-close", "TCP_ABORT_ON_DATA");
    g_assert_cmpuint(d->trigger_frame, ==, trigger);
}

/* The server's response filled the client's window, which the client then shut; the
 * server closed with the rest of its response held back (FIN queued behind it), and
 * the client's next data, followed by a window update, reaches the orphan. With
 * `more_data` the window opened and the server sent again, and the client's window
 * stayed open: nothing was held back. */
static const rst_diagnosis *reset_after_zero_window(conversation *c, gboolean more_data)
{
    open_connection(c);
    send(c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 100);
    send(c, SERVER, TCP_FLAG_ACK, 1448, 200);
    send(c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 1448, 10);
    send_window(c, CLIENT, TCP_FLAG_ACK, 0, 0, 30);              /* window shut */
    if (more_data) {
        send_window(c, CLIENT, TCP_FLAG_ACK, 0, 2896, 200000);
        send(c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 1448, 30);
        send(c, CLIENT, TCP_FLAG_ACK, 0, 30);
    }
    send_window(c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, more_data ? 2896 : 0, 300000);
    send_window(c, CLIENT, TCP_FLAG_ACK, 0, 2896, 20);           /* window update */
    return passive_reset(c, SERVER, 30000);
}

static void test_data_reaching_orphan_held_back_by_zero_window(void)
{
    conversation c;
    const rst_diagnosis *d = reset_after_zero_window(&c, FALSE);
    assert_diag(d, "server", "data", "passive", "data-after-close", "TCP_ABORT_ON_DATA");
    assert_alternatives(d, "stale-connection", "NO_SOCKET");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
    g_assert_nonnull(strstr(d->evidence, "(or the socket was gone)"));   /* not cut short */
    d = reset_after_zero_window(&c, TRUE);
    assert_diag(d, "server", "data", "passive", "stale-connection", "NO_SOCKET");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_HIGH);
}

/* Probes of a window the client shut are window probes, not keepalives: the
 * server's later abort is its application's (SO_LINGER{1,0}: TCP_STATE). */
static void test_abort_after_window_probes_is_no_keepalive_timeout(void)
{
    conversation c;
    open_connection(&c);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 100);
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 1448, 200);
    send_window(&c, CLIENT, TCP_FLAG_ACK, 0, 0, 30);              /* window shut */
    send_raw(&c, SERVER, TCP_FLAG_ACK, c.next_seq[SERVER] - 1, c.next_seq[CLIENT], 0, 200000);
    send_raw(&c, SERVER, TCP_FLAG_ACK, c.next_seq[SERVER] - 1, c.next_seq[CLIENT], 0, 400000);
    const rst_diagnosis *d = active_reset(&c, SERVER, 100000);
    assert_diag(d, "server", "data", "active", "abortive-close", "TCP_STATE");
}

/* The client closed, its window `window` bytes (shut, or less than an MSS); the
 * server, with data it could not send, aborts without a FIN of its own. */
static void check_disconnect_with_fin_behind_unsent_data(uint32_t window)
{
    conversation c;
    open_connection(&c);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 100);
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 1448, 200);
    send_window(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_FIN, 0, window, 30);
    const rst_diagnosis *d = active_reset(&c, SERVER, 300);
    assert_diag(d, "server", "closing", "active", "abortive-close", "TCP_DISCONNECT_WITH_DATA");
    assert_alternatives(d, "", "TCP_STATE");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
}

static void test_disconnect_with_fin_behind_unsent_data(void)
{
    check_disconnect_with_fin_behind_unsent_data(0);
}

/* a window of a few bytes holds the data back as well: Linux sends only whole MSS */
static void test_disconnect_with_fin_behind_unsent_data_small_window(void)
{
    check_disconnect_with_fin_behind_unsent_data(24);
}

/* With latency, the client's ACKs of two data segments are in flight when the
 * server aborts; the answer to the older one is a bare RST at the sequence number
 * it acked, behind the abort's. */
static void test_answer_to_older_ack_in_flight(void)
{
    conversation c;
    open_connection(&c);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 100);
    send(&c, SERVER, TCP_FLAG_ACK, 1428, 200);
    send(&c, CLIENT, TCP_FLAG_ACK, 0, 10);
    uint32_t first_ack = c.next_seq[SERVER];
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 1428, 10);
    send(&c, CLIENT, TCP_FLAG_ACK, 0, 10);
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 1428, 10);
    send(&c, CLIENT, TCP_FLAG_ACK, 0, 10);
    active_reset(&c, SERVER, 10);
    const rst_diagnosis *d = reset(&c, SERVER, 0, first_ack, 0, 0, 5000);
    assert_diag(d, "server", "closed", "passive", "late-after-close", "NO_SOCKET");
}

/* shutdown(), the FIN is acked, then a hard close: SO_LINGER{1,0} or TCP_LINGER2 < 0. */
static void test_hard_close_after_shutdown(void)
{
    conversation c;
    open_connection(&c);
    request_response(&c, 100, 300);
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_FIN, 0, 10);
    send(&c, CLIENT, TCP_FLAG_ACK, 0, 30);
    const rst_diagnosis *d = active_reset(&c, SERVER, 50);
    assert_diag(d, "server", "closing", "active", "abortive-close", "TCP_STATE");
    assert_alternatives(d, "", "TCP_ABORT_ON_LINGER");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
}

/* A SYN retransmitted with the same ISN after a refusal is refused again. */
static void test_syn_retransmission_refused_again(void)
{
    conversation c;
    conv_init(&c, 1000, 5000);
    send(&c, CLIENT, TCP_FLAG_SYN, 0, 0);
    reset(&c, SERVER, TCP_FLAG_ACK, 0, 1001, 0, 40);
    send_raw(&c, CLIENT, TCP_FLAG_SYN, 1000, 0, 0, 1000000);
    const rst_diagnosis *d = reset(&c, SERVER, TCP_FLAG_ACK, 0, 1001, 0, 40);
    assert_diag(d, "server", "syn", "passive", "refused", "NO_SOCKET");
    g_assert_cmpuint(d->trigger_frame, ==, 3);
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_HIGH);
}

/* A FIN probe to a closed port: no connection, so no closing phase. */
static void test_fin_probe_without_connection(void)
{
    conversation c;
    conv_init(&c, 1000, 5000);
    send(&c, CLIENT, TCP_FLAG_FIN, 0, 0);
    const rst_diagnosis *d = reset(&c, SERVER, TCP_FLAG_ACK, 0, 1001, 0, 40);
    assert_diag(d, "server", "unknown", "passive", "refused", "NO_SOCKET");
    g_assert_cmpuint(d->trigger_frame, ==, 1);
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);   /* lowered once, no handshake */
}

/* A RST that first ACKs the request of a server that has sent nothing: a read
 * would have sent that ACK at once, so the request was most likely unread; an
 * abort after reading it (TCP_STATE) is named. */
static void test_unread_or_read_then_reset(void)
{
    conversation c;
    open_connection(&c);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 300, 100);
    const rst_diagnosis *d = active_reset(&c, SERVER, 400);
    assert_diag(d, "server", "data", "active", "unread-data", "TCP_ABORT_ON_CLOSE");
    assert_alternatives(d, "abortive-close", "TCP_STATE");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
}

/* Mid-stream (no handshake) an abortive close loses one level, once. */
static void test_midstream_confidence_lowered_once(void)
{
    conversation c;
    conv_init(&c, 1000, 5000);
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 0);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 200, 30);
    send(&c, SERVER, TCP_FLAG_ACK, 0, 30);
    const rst_diagnosis *d = active_reset(&c, CLIENT, 100);
    assert_token(rst_phase_token, d->phase, "data");
    assert_token(rst_cause_token, d->cause, "abortive-close");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
}

/* A listener closing with connections in its accept queue resets them all in
 * one go: a second never-answered abort from the same port right after another. */
static void test_listener_closing_with_queue(void)
{
    conversation c;
    open_connection(&c);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 300, 100);
    send(&c, SERVER, TCP_FLAG_ACK, 0, 40);
    c.other_streams.queue_burst = TRUE;
    const rst_diagnosis *d = active_reset(&c, SERVER, 200000);
    assert_diag(d, "server", "data", "active", "abortive-close", "TCP_STATE");
    assert_alternatives(d, "unread-data", "TCP_ABORT_ON_CLOSE");
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
}

/* conn_listeners: SYN-ACKs make listeners, never-answered aborts make bursts. */
static void test_listener_knowledge(void)
{
    conversation c;
    open_connection(&c);   /* the tracker state is only read for aborts */
    conn_listeners *l = conn_listeners_new();
    const guint8 addr[4] = { 198, 18, 0, 2 }, other[4] = { 198, 18, 0, 3 };
    tcp_segment synack = { .src_port = 80, .flags = TCP_FLAG_SYN | TCP_FLAG_ACK, .time_us = 1000 };
    conn_listeners_learn(l, addr, 4, &c.st, &synack);
    g_assert_true(conn_listeners_has(l, addr, 4, 80));
    g_assert_false(conn_listeners_has(l, addr, 4, 81));
    g_assert_false(conn_listeners_has(l, other, 4, 80));
    tcp_segment abort = { .src_key = 0x2222, .src_port = 80, .flags = TCP_FLAG_RST | TCP_FLAG_ACK,
                          .time_us = 5000000 };
    conn_listeners_learn(l, addr, 4, &c.st, &abort);
    g_assert_true(conn_listeners_queue_burst(l, addr, 4, 80, 5000000 + CONN_QUEUE_BURST_US));
    g_assert_false(conn_listeners_queue_burst(l, addr, 4, 80, 5000000 + CONN_QUEUE_BURST_US + 1));
    g_assert_false(conn_listeners_queue_burst(l, other, 4, 80, 5000000));
    conn_listeners_free(l);
}

static void test_new_connection_on_reused_tuple(void)
{
    conversation c;
    open_connection(&c);
    request_response(&c, 100, 200);
    active_reset(&c, CLIENT, 10);
    c.next_seq[CLIENT] += 100000;   /* a new ISN */
    c.next_seq[SERVER] += 300000;
    handshake(&c);
    g_assert_false(c.st.side[0].flags & SIDE_SENT_RST);
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 100, 100);
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 600, 200);
    const rst_diagnosis *d = active_reset(&c, CLIENT, 10);
    assert_diag(d, "client", "data", "active", "abortive-close", "TCP_STATE");   /* the new connection's own traffic */
    g_assert_cmpuint(d->bytes_server, ==, 600);
}

static void test_every_cause_has_kernel_reasons(void)
{
    for (int i = 0; i < CAUSE_COUNT; i++) {
        g_assert_cmpstr(rst_cause_token((rst_cause)i), !=, "");
        g_assert_cmpstr(rst_cause_summary((rst_cause)i), !=, "");
        const rst_kernel_reason *r = rst_cause_kernel_reasons((rst_cause)i);
        if (i != CAUSE_UNKNOWN)
            g_assert_cmpint(r[0], !=, KR_COUNT);
    }
    g_assert_cmpstr(rst_cause_token(CAUSE_COUNT), ==, "unknown");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/classify/refused", test_refused);
    g_test_add_func("/classify/refused-out-of-window", test_refused_rst_not_acking_syn_is_out_of_window);
    g_test_add_func("/classify/unanswered-request", test_unanswered_request_at_server);
    g_test_add_func("/classify/window-doubled-by-purge", test_window_doubled_by_purge);
    g_test_add_func("/classify/window-grew-a-little", test_window_grew_a_little);
    g_test_add_func("/classify/window-doubled-after-peer-fin", test_window_doubled_after_peer_fin);
    g_test_add_func("/classify/window-unchanged", test_window_unchanged);
    g_test_add_func("/classify/window-doubled-unanswered", test_window_doubled_unanswered);
    g_test_add_func("/classify/window-doubled-with-new-data", test_window_doubled_with_new_data);
    g_test_add_func("/classify/next-request-first-acked", test_next_request_first_acked_by_rst);
    g_test_add_func("/classify/two-writes-first-acked", test_two_writes_first_acked_by_rst);
    g_test_add_func("/classify/unread-first-acked-by-rst", test_unread_first_acked_by_rst);
    g_test_add_func("/classify/pipelined-answered-once", test_pipelined_requests_answered_once);
    g_test_add_func("/classify/accept-overflow-on-data", test_accept_overflow_on_first_data);
    g_test_add_func("/classify/full-socket-not-overflow", test_server_with_full_socket_is_stale_not_overflow);
    g_test_add_func("/classify/linger-server", test_server_linger_after_response);
    g_test_add_func("/classify/linger-client", test_client_linger_after_complete_response);
    g_test_add_func("/classify/abort-mid-write", test_client_abort_mid_write);
    g_test_add_func("/classify/abort-in-flight", test_client_abort_with_data_in_flight);
    g_test_add_func("/classify/response-timeout", test_response_timeout);
    g_test_add_func("/classify/handshake-abort", test_handshake_abort);
    g_test_add_func("/classify/accept-overflow", test_accept_overflow);
    g_test_add_func("/classify/connect-abandoned", test_connect_abandoned);
    g_test_add_func("/classify/bad-handshake", test_bad_handshake_challenge_ack);
    g_test_add_func("/classify/data-after-close-timewait", test_data_after_close_timewait);
    g_test_add_func("/classify/data-crossing-own-fin", test_data_crossing_own_fin);
    g_test_add_func("/classify/data-after-close-finwait1", test_data_after_close_fin_not_acked);
    g_test_add_func("/classify/data-after-resent-fin", test_data_after_resent_fin);
    g_test_add_func("/classify/data-after-close-fin-ack-lost", test_data_after_close_fin_ack_lost);
    g_test_add_func("/classify/data-with-fin-after-close", test_data_with_fin_after_close);
    g_test_add_func("/classify/late-after-close", test_late_after_close);
    g_test_add_func("/classify/keepalive-timeout", test_keepalive_timeout);
    g_test_add_func("/classify/answered-probes", test_answered_probes_are_not_a_timeout);
    g_test_add_func("/classify/stale-connection", test_stale_connection);
    g_test_add_func("/classify/abort-after-peer-fin", test_abort_after_peer_fin);
    g_test_add_func("/classify/follow-up-rsts", test_follow_up_rsts_after_own_reset);
    g_test_add_func("/classify/listener-resets-stale", test_listener_resets_stale_segment);
    g_test_add_func("/classify/abort-on-data-while-sending", test_data_reaching_socket_closed_while_sending);
    g_test_add_func("/classify/capture-gap-caps-confidence", test_capture_gap_caps_confidence);
    g_test_add_func("/classify/late-after-close-without-handshake", test_late_after_close_without_handshake);
    g_test_add_func("/classify/abort-on-data-held-back-by-zero-window",
                    test_data_reaching_orphan_held_back_by_zero_window);
    g_test_add_func("/classify/window-probes-are-no-keepalives", test_abort_after_window_probes_is_no_keepalive_timeout);
    g_test_add_func("/classify/disconnect-with-data", test_disconnect_with_fin_behind_unsent_data);
    g_test_add_func("/classify/answer-to-older-ack-in-flight", test_answer_to_older_ack_in_flight);
    g_test_add_func("/classify/disconnect-with-data-small-window",
                    test_disconnect_with_fin_behind_unsent_data_small_window);
    g_test_add_func("/classify/hard-close-after-shutdown", test_hard_close_after_shutdown);
    g_test_add_func("/classify/syn-retransmission-refused", test_syn_retransmission_refused_again);
    g_test_add_func("/classify/fin-probe", test_fin_probe_without_connection);
    g_test_add_func("/classify/unread-or-read-then-reset", test_unread_or_read_then_reset);
    g_test_add_func("/classify/midstream-confidence-once", test_midstream_confidence_lowered_once);
    g_test_add_func("/classify/listener-closing-with-queue", test_listener_closing_with_queue);
    g_test_add_func("/track/listener-knowledge", test_listener_knowledge);
    g_test_add_func("/track/new-connection-same-tuple", test_new_connection_on_reused_tuple);
    g_test_add_func("/classify/two-triggers", test_two_segments_in_flight_two_triggers);
    g_test_add_func("/classify/active-no-trigger", test_active_rst_has_no_trigger);
    g_test_add_func("/classify/rst-with-payload", test_rst_with_payload_is_nonstandard);
    g_test_add_func("/track/midstream-start", test_midstream_start_guesses_roles);
    g_test_add_func("/track/midstream-acks-only", test_midstream_acks_only);
    g_test_add_func("/track/lone-rst", test_lone_rst);
    g_test_add_func("/track/retransmission", test_retransmission_not_counted);
    g_test_add_func("/track/out-of-order", test_out_of_order_segments);
    g_test_add_func("/track/sequence-wraparound", test_sequence_wraparound);
    g_test_add_func("/track/copies", test_copies_of_datagrams);
    g_test_add_func("/track/copies-without-ids", test_copies_without_ids);
    g_test_add_func("/tables/causes", test_every_cause_has_kernel_reasons);
    return g_test_run();
}
