/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rst_classify.c - diagnose one TCP RST (see rst_classify.h).
 *
 * The rules follow how Linux builds resets (include/net/rstreason.h and the
 * callers of tcp_send_active_reset / tcp_v4_send_reset):
 *  - active form, from a live socket: RST|ACK, seq = snd_nxt;
 *  - passive form, answering a segment that has no socket or is not
 *    acceptable: no ACK flag and seq = that segment's ack, or RST|ACK with
 *    seq 0 when the segment carried no ACK (a SYN).
 * The phase says where in the connection we are; the shape and the traffic
 * before the RST say which kernel path sent it.
 */
#include "rst_classify.h"
#include "rst_keepalive.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const sender_tokens[SENDER_COUNT] = { "unknown", "client", "server" };
/* How evidence text names the sender and its peer, by the sender's role. */
static const char *const role_names[SENDER_COUNT][2] = {
    [SENDER_UNKNOWN] = { "sender", "peer" },
    [SENDER_CLIENT] = { "client", "server" },
    [SENDER_SERVER] = { "server", "client" },
};
static const char *const phase_tokens[PHASE_COUNT] = {
    "unknown", "syn", "synack", "established", "data", "closing", "closed"
};
static const char *const shape_tokens[SHAPE_COUNT] = { "active", "passive", "nonstandard" };
static const char *const acceptability_tokens[ACCEPT_COUNT] = {
    "unknown", "exact", "in-window", "out-of-window"
};
static const char *const confidence_tokens[CONFIDENCE_COUNT] = { "low", "medium", "high" };
static const char *const kernel_reason_tokens[KR_COUNT] = {
    "NOT_SPECIFIED", "NO_SOCKET", "TCP_INVALID_ACK_SEQUENCE", "TCP_RFC7323_PAWS",
    "TCP_TOO_OLD_ACK", "TCP_ACK_UNSENT_DATA", "TCP_FLAGS", "TCP_OLD_ACK",
    "TCP_ABORT_ON_DATA", "TCP_TIMEWAIT_SOCKET", "INVALID_SYN", "TCP_ABORT_ON_CLOSE",
    "TCP_ABORT_ON_LINGER", "TCP_ABORT_ON_MEMORY", "TCP_STATE", "TCP_KEEPALIVE_TIMEOUT",
    "TCP_DISCONNECT_WITH_DATA", "NONE",
    "MPTCP_RST_EUNSPEC", "MPTCP_RST_EMPTCP", "MPTCP_RST_ERESOURCE", "MPTCP_RST_EPROHIBIT",
    "MPTCP_RST_EWQ2BIG", "MPTCP_RST_EBADPERF", "MPTCP_RST_EMIDDLEBOX", "ERROR", "not-linux",
};

typedef struct {
    const char *token;
    const char *summary;
    rst_kernel_reason reasons[8];   /* KR_COUNT-terminated */
    /* note: harmless or routine (stragglers, probes, a client giving up);
     * error: the server drops connections it accepted (full accept queue) */
    rst_severity severity;
} cause_info;

static const cause_info causes[CAUSE_COUNT] = {
    [CAUSE_UNKNOWN] = { "unknown", "no rule matched the traffic before the reset",
        { KR_COUNT }, SEVERITY_WARN },
    [CAUSE_REFUSED] = { "refused", "SYN (or a scan probe) to a port with no listener",
        { KR_NO_SOCKET, KR_COUNT }, SEVERITY_WARN },
    [CAUSE_ACCEPT_OVERFLOW] = { "accept-overflow",
        "handshake ACK dropped by a full accept queue with tcp_abort_on_overflow=1",
        { KR_INVALID_SYN, KR_COUNT }, SEVERITY_ERROR },
    [CAUSE_BAD_HANDSHAKE] = { "bad-handshake",
        "unacceptable ACK or SYN-ACK during the handshake (often a stale 4-tuple)",
        { KR_TCP_INVALID_ACK_SEQUENCE, KR_TCP_RFC7323_PAWS, KR_TCP_FLAGS, KR_TCP_TOO_OLD_ACK,
          KR_TCP_ACK_UNSENT_DATA, KR_TCP_OLD_ACK, KR_INVALID_SYN, KR_COUNT }, SEVERITY_WARN },
    [CAUSE_CONNECT_ABANDONED] = { "connect-abandoned",
        "client gave up before the SYN-ACK arrived",
        { KR_NO_SOCKET, KR_TCP_FLAGS, KR_COUNT }, SEVERITY_NOTE },
    [CAUSE_HANDSHAKE_ABORT] = { "handshake-abort",
        "aborted right after the handshake, before any data (probe, health check, lost race)",
        { KR_TCP_STATE, KR_COUNT }, SEVERITY_NOTE },
    [CAUSE_UNREAD_DATA] = { "unread-data", "close() with received data not yet read",
        { KR_TCP_ABORT_ON_CLOSE, KR_COUNT }, SEVERITY_WARN },
    [CAUSE_ABORTIVE_CLOSE] = { "abortive-close",
        "SO_LINGER{1,0} or an equivalent hard close after normal traffic",
        { KR_TCP_STATE, KR_TCP_ABORT_ON_LINGER, KR_TCP_ABORT_ON_MEMORY,
          KR_TCP_DISCONNECT_WITH_DATA, KR_COUNT }, SEVERITY_WARN },
    [CAUSE_RESPONSE_TIMEOUT] = { "response-timeout",
        "a side sent a request, waited long for an answer, then aborted",
        { KR_TCP_STATE, KR_COUNT }, SEVERITY_WARN },
    [CAUSE_DATA_AFTER_CLOSE] = { "data-after-close", "data reached a side that had already closed",
        { KR_TCP_ABORT_ON_DATA, KR_TCP_TIMEWAIT_SOCKET, KR_NO_SOCKET, KR_TCP_FLAGS, KR_COUNT }, SEVERITY_WARN },
    [CAUSE_STALE_CONNECTION] = { "stale-connection",
        "segment for a connection the sender no longer knows (restart, expiry, failover)",
        { KR_NO_SOCKET, KR_TCP_FLAGS, KR_COUNT }, SEVERITY_WARN },
    [CAUSE_KEEPALIVE_TIMEOUT] = { "keepalive-timeout", "keepalive probes went unanswered",
        { KR_TCP_KEEPALIVE_TIMEOUT, KR_COUNT }, SEVERITY_WARN },
    [CAUSE_LATE_AFTER_CLOSE] = { "late-after-close",
        "harmless reset of a straggler after the connection was closed",
        { KR_NO_SOCKET, KR_TCP_TIMEWAIT_SOCKET, KR_TCP_FLAGS, KR_COUNT }, SEVERITY_NOTE },
    [CAUSE_BLOCKED] = { "blocked",
        "a device in the path rejected the connection (its SYN or first data) in the peer's name",
        { KR_NONE, KR_COUNT }, SEVERITY_WARN },
    [CAUSE_INJECTED] = { "injected",
        "a device in the path reset an established connection in an endpoint's name",
        { KR_NONE, KR_COUNT }, SEVERITY_WARN },
    [CAUSE_IDLE_TIMEOUT] = { "idle-timeout",
        "a load balancer, NAT or firewall forgot the connection after its idle timer",
        { KR_NONE, KR_COUNT }, SEVERITY_WARN },
    [CAUSE_RELAYED] = { "relayed",
        "a proxy passed on a reset from its other connection",
        { KR_TCP_STATE, KR_TCP_ABORT_ON_CLOSE, KR_NONE, KR_COUNT }, SEVERITY_WARN },
    [CAUSE_KEEPALIVE_RACE] = { "keepalive-race",
        "a request on an idle keep-alive connection met the peer's idle close (crossed its FIN, or came just after)",
        { KR_TCP_ABORT_ON_DATA, KR_TCP_TIMEWAIT_SOCKET, KR_NO_SOCKET, KR_TCP_FLAGS, KR_TCP_ABORT_ON_CLOSE,
          KR_COUNT }, SEVERITY_WARN },
};

static const char *const origin_tokens[ORIGIN_COUNT] = { "unknown", "endpoint", "middlebox" };
static const char *const ignored_tokens[IGNORED_COUNT] = {
    "no", "out-of-window", "challenge-ack", "traffic-continued"
};

/* Time within which a lost ACK of a FIN need not yet show as a resent FIN: the
 * retransmission timeout before any RTT sample (RFC 6298 2.1, Linux TCP_TIMEOUT_INIT),
 * above srtt + TCP_RTO_MIN (200 ms) on any path with a round trip below 800 ms. */
#define FIN_RESEND_BOUND_US 1000000
/* A stack answers a segment on receipt (tcp_v4_send_reset runs in the receive path), so
 * a passive RST follows the segment it answers within a round trip from the capture
 * point: one a second or more after the segment whose ack it copies (the initial RTO,
 * RFC 6298 2.1, above any usual round trip) answers a later one the capture missed. */
#define ANSWER_LATE_US 1000000
/* RFC 1122 4.2.2.6: the MSS a host assumes without the option, the smallest in common use */
#define DEFAULT_MSS 536

#define TOKEN(table, v) ((unsigned)(v) < G_N_ELEMENTS(table) ? (table)[v] : "unknown")

const char *rst_sender_token(rst_sender v) { return TOKEN(sender_tokens, v); }
const char *rst_role_name(rst_sender v) { return role_names[(unsigned)v < SENDER_COUNT ? v : SENDER_UNKNOWN][0]; }
const char *rst_peer_role_name(rst_sender v) { return role_names[(unsigned)v < SENDER_COUNT ? v : SENDER_UNKNOWN][1]; }
const char *rst_phase_token(rst_phase v) { return TOKEN(phase_tokens, v); }
const char *rst_shape_token(rst_shape v) { return TOKEN(shape_tokens, v); }
const char *rst_acceptability_token(rst_acceptability v) { return TOKEN(acceptability_tokens, v); }
const char *rst_confidence_token(rst_confidence v) { return TOKEN(confidence_tokens, v); }
const char *rst_kernel_reason_token(rst_kernel_reason v) { return TOKEN(kernel_reason_tokens, v); }
const char *rst_origin_token(rst_origin v) { return TOKEN(origin_tokens, v); }
const char *rst_ignored_token(rst_ignored v) { return TOKEN(ignored_tokens, v); }

const char *rst_cause_token(rst_cause v)
{
    return (unsigned)v < CAUSE_COUNT ? causes[v].token : "unknown";
}

const char *rst_cause_summary(rst_cause v)
{
    return (unsigned)v < CAUSE_COUNT ? causes[v].summary : "";
}

rst_severity rst_cause_severity(rst_cause v)
{
    return (unsigned)v < CAUSE_COUNT ? causes[v].severity : SEVERITY_WARN;
}

const rst_kernel_reason *rst_cause_kernel_reasons(rst_cause v)
{
    return causes[(unsigned)v < CAUSE_COUNT ? v : CAUSE_UNKNOWN].reasons;
}

/* Everything the rules look at, computed once. */
typedef struct {
    const conn_stream *st;
    const tcp_segment *rst;
    const rst_settings *settings;
    const rst_host_facts *host; /* what other streams showed about the sender; may be NULL */
    const conn_side *me;        /* the RST's sender */
    const conn_side *peer;
    const char *me_name;        /* "client", "server" or "sender" */
    const char *peer_name;
    gboolean me_client;
    gboolean me_server;
    uint32_t now;               /* tick of the RST */
    gboolean answers;           /* a passive RST whose trigger is known */
    gboolean answers_unseen;    /* a passive RST whose trigger the capture missed */
    uint32_t trigger_tick;      /* when that trigger was sent */
    rst_diagnosis *out;
} rst_context;

void rst_format_duration(char *buf, size_t size, int64_t us)
{
    if (us < 0)
        g_strlcpy(buf, "?", size);
    else if (us < 1000)
        snprintf(buf, size, "%.3f ms", us / 1000.0);
    else if (us < 10000)
        snprintf(buf, size, "%.1f ms", us / 1000.0);
    else if (us < 1000000)
        snprintf(buf, size, "%.0f ms", us / 1000.0);
    else if (us < 100000000)
        snprintf(buf, size, "%.2f s", us / 1e6);
    else
        snprintf(buf, size, "%.0f s", us / 1e6);
}

void rst_text_append(char *text, size_t size, const char *separator, const char *fmt, ...)
{
    size_t len = strlen(text);
    if (len && len + 1 < size)
        len += g_strlcpy(text + len, separator, size - len);
    if (len + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text + len, size - len, fmt, ap);
    va_end(ap);
}

/* Evidence read from an incomplete capture says so. */
static void note_capture_gap(rst_diagnosis *d)
{
    if (d->capture_gap)
        rst_text_append(d->evidence, sizeof d->evidence, " ", "(segments missing from the capture)");
}

void rst_set_cause(rst_diagnosis *d, rst_cause cause, rst_kernel_reason reason, rst_confidence confidence,
                   const char *evidence)
{
    d->cause_alt = 0;
    d->kernel_reason_alt = 0;
    d->cause = cause;
    d->kernel_reason = reason;
    d->confidence = d->capture_gap ? MIN(confidence, CONFIDENCE_MEDIUM) : confidence;
    g_strlcpy(d->evidence, evidence, sizeof d->evidence);
    note_capture_gap(d);
}

static void set_verdict(rst_context *c, rst_cause cause, rst_kernel_reason reason,
                        rst_confidence confidence)
{
    c->out->cause = cause;
    c->out->kernel_reason = reason;
    c->out->confidence = confidence;
}

void rst_add_alternative(rst_diagnosis *d, rst_cause cause, rst_kernel_reason reason)
{
    if (cause < CAUSE_COUNT && cause != d->cause)
        d->cause_alt |= 1u << cause;
    if (reason < KR_COUNT && reason != d->kernel_reason)
        d->kernel_reason_alt |= 1u << reason;
}

static void alt_tokens(uint32_t bits, unsigned count, const char *(*token)(unsigned), char *buf, size_t size)
{
    buf[0] = '\0';
    for (unsigned i = 0; i < count; i++) {
        if (bits & (1u << i)) {
            if (buf[0])
                g_strlcat(buf, ",", size);
            g_strlcat(buf, token(i), size);
        }
    }
}

static const char *cause_token_of(unsigned v) { return rst_cause_token((rst_cause)v); }
static const char *kernel_reason_token_of(unsigned v) { return rst_kernel_reason_token((rst_kernel_reason)v); }

void rst_cause_alt_tokens(const rst_diagnosis *d, char *buf, size_t size)
{
    alt_tokens(d->cause_alt, CAUSE_COUNT, cause_token_of, buf, size);
}

void rst_kernel_reason_alt_tokens(const rst_diagnosis *d, char *buf, size_t size)
{
    alt_tokens(d->kernel_reason_alt, KR_COUNT, kernel_reason_token_of, buf, size);
}

/* The reason of a bare RST from a host with no socket for the segment it
 * answers. If a listener holds the port, the segment reaches it and, carrying
 * an ACK, is reset from there (tcp_rcv_state_process, TCP_LISTEN: TCP_FLAGS);
 * with none, tcp_v4_rcv/tcp_v6_rcv reset it (NO_SOCKET). A listener seen in
 * the capture may have closed since: NO_SOCKET stays the alternative. */
static rst_kernel_reason no_socket_reason(const rst_context *c)
{
    return !(c->rst->flags & TCP_FLAG_ACK) && c->host && c->host->listening ? KR_TCP_FLAGS : KR_NO_SOCKET;
}

static void set_no_socket_verdict(rst_context *c, rst_cause cause, rst_confidence confidence)
{
    rst_kernel_reason reason = no_socket_reason(c);
    set_verdict(c, cause, reason, confidence);
    if (reason == KR_TCP_FLAGS)
        rst_add_alternative(c->out, CAUSE_COUNT, KR_NO_SOCKET);
    else if (!(c->rst->flags & TCP_FLAG_ACK) && !(c->me->flags & (SIDE_SENT_SYN | SIDE_SENT_SYNACK)))
        /* the stream's handshake was not captured, nor a SYN-ACK from that port
         * elsewhere: a listener there answers the same way, unseen when the
         * capture began after the connection did */
        rst_add_alternative(c->out, CAUSE_COUNT, KR_TCP_FLAGS);
}

static void G_GNUC_PRINTF(2, 3) say(rst_context *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->out->evidence, sizeof c->out->evidence, fmt, ap);
    va_end(ap);
}

static int64_t since_us(const rst_context *c, uint32_t tick)
{
    return conn_ticks_us(c->now, tick);
}

/* How long a passive RST took to answer its trigger (the stream's quiet time
 * when the trigger is not known). */
static void format_answer_time(const rst_context *c, char *buf, size_t size)
{
    rst_format_duration(buf, size, c->answers ? c->out->response_us : c->out->idle_us);
}

/* ---- roles, phase, shape, acceptability -------------------------------- */

/* Index of the client side, or -1 when it cannot be told. */
static int find_client(const conn_stream *st, const tcp_segment *rst, unsigned sender, gboolean *guessed)
{
    *guessed = FALSE;
    for (int i = 0; i < 2; i++) {
        if (st->side[i].flags & SIDE_SENT_SYN)
            return i;
    }
    for (int i = 0; i < 2; i++) {
        if (st->side[i].flags & SIDE_SENT_SYNACK)
            return !i;
    }
    /* No handshake captured: servers listen on the lower port (well-known
     * and registered ports sit below the ephemeral range). */
    *guessed = TRUE;
    if (rst->src_port == rst->dst_port)
        return -1;
    return rst->src_port > rst->dst_port ? (int)sender : (int)!sender;
}

static rst_phase find_phase(const conn_stream *st, int client)
{
    const conn_side *a = &st->side[0], *b = &st->side[1];
    uint32_t any = a->flags | b->flags;

    /* only SYNs (and RSTs) so far: a SYN sent again after a refusal is refused again */
    if ((any & SIDE_SENT_SYN) && !(any & (SIDE_SENT_SYNACK | SIDE_SENT_PLAIN)))
        return PHASE_SYN;
    /* no handshake and no ACK from anyone: FIN, NULL or XMAS probes, no connection */
    if (!(any & (SIDE_SENT_SYN | SIDE_SENT_SYNACK)) && !(any & SIDE_ACKED))
        return PHASE_UNKNOWN;
    if ((any & SIDE_SENT_RST) || ((a->flags & b->flags) & SIDE_SENT_FIN))
        return PHASE_CLOSED;
    if (any & SIDE_SENT_FIN)
        return PHASE_CLOSING;
    /* payload says data even without the handshake: the connection was carrying
     * it (Zeek's history `...D...R` reads the same for a partial connection) */
    if (a->payload_bytes || b->payload_bytes)
        return PHASE_DATA;
    if (!(any & (SIDE_SENT_SYN | SIDE_SENT_SYNACK)))
        return PHASE_UNKNOWN;
    if (client >= 0 && (st->side[client].flags & SIDE_SENT_HS_ACK))
        return PHASE_ESTABLISHED;
    if (any & SIDE_SENT_SYNACK)
        return PHASE_SYNACK;
    return PHASE_SYN;
}

static rst_shape find_shape(const rst_context *c)
{
    const tcp_segment *rst = c->rst;
    const conn_side *me = c->me, *peer = c->peer;

    if (rst->payload_len > 0)
        return SHAPE_NONSTANDARD;
    if (c->answers_unseen)
        return SHAPE_PASSIVE;
    if (!(rst->flags & TCP_FLAG_ACK)) {
        /* seq copied from the ack of the segment it answers: the latest ones are
         * remembered (c->answers), older ones still in flight are behind them */
        if (!(peer->flags & SIDE_ACKED) || c->answers
            || conn_seq_acked(c->st, (unsigned)(me - c->st->side), rst->seq))
            return SHAPE_PASSIVE;
        return SHAPE_NONSTANDARD;
    }
    /* answer to a segment without ACK: a SYN (unless the sender's own sequence
     * numbers have just wrapped around to 0) */
    gboolean me_sent = conn_side_tracked(me);
    if (rst->seq == 0 && (peer->flags & SIDE_SEEN) && rst->ack == peer->next_seq
        && !(me_sent && me->next_seq == 0))
        return SHAPE_PASSIVE;
    if (me->flags & SIDE_SEEN) {
        if (rst->seq == me->next_seq)
            return SHAPE_ACTIVE;
        /* Linux uses the right edge of the peer's window when snd_nxt is beyond it */
        if ((peer->flags & SIDE_ACKED) && !seq_after(peer->last_ack, rst->seq)
            && !seq_after(rst->seq, me->next_seq))
            return SHAPE_ACTIVE;
        return SHAPE_NONSTANDARD;
    }
    if ((peer->flags & SIDE_ACKED) && rst->seq == peer->last_ack)
        return SHAPE_ACTIVE;
    /* Nothing else of the connection seen (a capture begun late): Linux answers a
     * segment with a bare RST, or a RST|ACK at 0 (tcp_v4_send_reset), so a RST|ACK at
     * another sequence number comes from a socket (tcp_send_active_reset). */
    if (!(peer->flags & SIDE_SEEN) && rst->seq != 0)
        return SHAPE_ACTIVE;
    return SHAPE_NONSTANDARD;
}

/* Would the receiver's TCP accept this RST (RFC 9293 3.10.7, RFC 5961 3)? */
static rst_acceptability find_acceptability(const rst_context *c)
{
    const tcp_segment *rst = c->rst;
    const conn_side *me = c->me, *peer = c->peer;

    if ((peer->flags & SIDE_SENT_SYN) && !(me->flags & SIDE_SENT_SYNACK)) {
        /* receiver in SYN-SENT: acceptable only if it acknowledges the SYN */
        return (rst->flags & TCP_FLAG_ACK) && rst->ack == peer->next_seq ? ACCEPT_EXACT
                                                                         : ACCEPT_OUT_OF_WINDOW;
    }
    if (!(peer->flags & SIDE_ACKED))
        return ACCEPT_UNKNOWN;
    /* the receiver's rcv_nxt: what it acked last, or all we sent if it is still in flight */
    if (rst->seq == peer->last_ack || ((me->flags & SIDE_SEEN) && rst->seq == me->next_seq))
        return ACCEPT_EXACT;
    uint32_t window = conn_window_bytes(peer->window_code);
    if (seq_after(rst->seq, peer->last_ack) && (rst->seq - peer->last_ack) < (window ? window : 1))
        return ACCEPT_IN_WINDOW;
    return ACCEPT_OUT_OF_WINDOW;
}

/* ---- causes -------------------------------------------------------------- */

/* The sequence number after a side's last data byte (its FIN, if sent, takes one more). */
static uint32_t data_end(const conn_side *side)
{
    return side->next_seq - ((side->flags & SIDE_SENT_FIN) ? 1 : 0);
}

/* A RST|ACK from a live socket after payload: which close path sent it. */
static void classify_active_abort(rst_context *c)
{
    const conn_side *me = c->me, *peer = c->peer;
    char idle[32], wait[32];
    gboolean peer_spoke_last = peer->payload_bytes > 0
        && (me->payload_bytes == 0 || conn_ticks_us(peer->last_data_tick, me->last_data_tick) > 0);
    /* its receive window shrank to a quarter of its peak: received data piled up unread */
    gboolean window_filled = peer->payload_bytes > 0 && me->peak_window_code > 0
        && conn_window_bytes(me->window_code) * 4u < conn_window_bytes(me->peak_window_code);
    /* The RST advertises more window than the sender's last segment: its receive buffer
     * was freed since, by a read or by tcp_close(), which purges unread data before it
     * resets (TCP_ABORT_ON_CLOSE). A read that frees enough to double the window sends
     * the new window at once (tcp_cleanup_rbuf; not once the peer's FIN came), so a
     * window doubled with no update between was freed by the purge, if no data came
     * since (its arrival may raise the window too, tcp_grow_window). */
    uint32_t last_window = conn_window_bytes_max(me->window_code);
    gboolean window_freed = peer->payload_bytes > 0 && (me->flags & SIDE_SENT_PLAIN)
        && c->rst->window > last_window;
    gboolean window_purged = window_freed && c->rst->window / 2 >= last_window && !(peer->flags & SIDE_SENT_FIN)
        && c->rst->ack == me->last_ack;

    rst_format_duration(idle, sizeof idle, c->out->idle_us);
    /* Keepalive probes go out only with nothing queued to send (tcp_keepalive_timer);
     * probes of a window the peer shut are window probes, which end without a RST
     * (tcp_probe_timer -> tcp_write_err). */
    if (me->probes > 0 && !(me->flags & SIDE_WINDOW_SHUT_ON)) {
        set_verdict(c, CAUSE_KEEPALIVE_TIMEOUT, KR_TCP_KEEPALIVE_TIMEOUT, CONFIDENCE_HIGH);
        say(c, "%s sent %u unanswered keepalive probe%s (last %s before the reset), then reset: "
            "the %s stopped answering", c->me_name, me->probes, me->probes == 1 ? "" : "s", idle,
            c->peer_name);
        return;
    }
    if (peer_spoke_last) {
        uint32_t peer_data_end = data_end(peer);
        gboolean in_flight = (c->rst->flags & TCP_FLAG_ACK) && seq_after(peer_data_end, c->rst->ack);
        gboolean mid_write = !(peer->flags & SIDE_LAST_DATA_PSH);
        /* The RST is the first ACK of the peer's latest data. A read sends a pending ACK
         * at once (tcp_cleanup_rbuf) after two pushed writes, or from a socket that is not
         * interactive ("pingpong": one that has sent no data); otherwise a read leaves it
         * to the delayed-ACK timer and the RST may come first either way. */
        gboolean first_ack = (c->rst->flags & TCP_FLAG_ACK) && (me->flags & SIDE_ACKED)
            && seq_after(c->rst->ack, me->last_ack) && (peer->writes >= 2 || me->payload_bytes == 0);

        /* data the RST's sender never got (in flight) or could not take in (its window
         * shrank) was surely unread. tcp_close() resets with TCP_ABORT_ON_CLOSE only when
         * unread data is left; an application that read it all and then aborted
         * (SO_LINGER{1,0}, as proxies and servers refuse a request they have read) resets
         * with TCP_STATE, and so does a listener closing with the connection still in its
         * accept queue (inet_csk_listen_stop -> tcp_disconnect). */
        gboolean surely_unread = in_flight || window_filled || window_purged;

        rst_format_duration(wait, sizeof wait, since_us(c, peer->last_data_tick));
        if (c->me_server && me->payload_bytes == 0 && c->host && c->host->queue_burst && !surely_unread) {
            set_verdict(c, CAUSE_ABORTIVE_CLOSE, KR_TCP_STATE, CONFIDENCE_HIGH);
            rst_add_alternative(c->out, CAUSE_UNREAD_DATA, KR_TCP_ABORT_ON_CLOSE);
            say(c, "server reset %s after %u bytes from the client, never having answered, together with "
                "other never-answered connections of its port: a listener closing with them still in its "
                "accept queue", wait, peer->payload_bytes);
            return;
        }
        if (surely_unread || mid_write || first_ack || window_freed) {
            set_verdict(c, CAUSE_UNREAD_DATA, KR_TCP_ABORT_ON_CLOSE, CONFIDENCE_HIGH);
            if (!surely_unread)
                rst_add_alternative(c->out, CAUSE_ABORTIVE_CLOSE, KR_TCP_STATE);
            say(c, "%s reset %s after %s data it had not read (%u bytes received%s%s%s%s%s): "
                "close() with unread data; no FIN", c->me_name, wait, c->peer_name,
                peer->payload_bytes, in_flight ? "; more was in flight" : "",
                window_filled ? "; its receive window had shrunk" : "",
                window_purged ? "; the RST's window is at least twice its last, with no update between"
                : window_freed ? "; the RST's window is larger than its last" : "",
                mid_write ? "; the last segment ended mid-write" : "",
                first_ack ? "; the RST was the first ACK of the last of it" : "");
            return;
        }
        /* nothing on the wire shows data left unread: the abort that needs none is the
         * best guess, the close with unread data its alternative */
        set_verdict(c, CAUSE_ABORTIVE_CLOSE, KR_TCP_STATE, CONFIDENCE_HIGH);
        rst_add_alternative(c->out, CAUSE_UNREAD_DATA, KR_TCP_ABORT_ON_CLOSE);
        say(c, "%s reset %s after %s data it had ACKed (%u bytes received, %u sent), from a live socket "
            "with no FIN: SO_LINGER{1,0} close after reading it (TCP_ABORT_ON_CLOSE if it was left unread)",
            c->me_name, wait, c->peer_name, peer->payload_bytes, me->payload_bytes);
        return;
    }
    if (me->payload_bytes > 0) {
        int64_t waited = since_us(c, me->last_data_tick);
        rst_format_duration(wait, sizeof wait, waited);
        if (window_freed) {
            set_verdict(c, CAUSE_UNREAD_DATA, KR_TCP_ABORT_ON_CLOSE, CONFIDENCE_HIGH);
            if (!window_purged)
                rst_add_alternative(c->out, CAUSE_ABORTIVE_CLOSE, KR_TCP_STATE);
            say(c, "%s reset %s after its own last data (%u bytes sent, %u received), advertising %s "
                "its last segment: close() freed %s data it had not read; no FIN",
                c->me_name, wait, me->payload_bytes, peer->payload_bytes,
                window_purged ? "at least twice the window of" : "a larger window than", c->peer_name);
            return;
        }
        if (peer->writes > me->writes) {
            /* more requests than answers: e.g. a pipelined request left unread */
            set_verdict(c, CAUSE_UNREAD_DATA, KR_TCP_ABORT_ON_CLOSE, CONFIDENCE_MEDIUM);
            rst_add_alternative(c->out, CAUSE_ABORTIVE_CLOSE, KR_TCP_STATE);
            say(c, "%s reset %s after answering %u %s write%s with %u of its own: the rest, %s, "
                "sat unread (close() with unread data; TCP_STATE if it was SO_LINGER{1,0}); no FIN",
                c->me_name, wait, peer->writes, c->peer_name, peer->writes == 1 ? "" : "s", me->writes,
                "e.g. a pipelined request");
            return;
        }
        if (c->me_client && waited >= (int64_t)c->settings->response_timeout_ms * 1000) {
            set_verdict(c, CAUSE_RESPONSE_TIMEOUT, KR_TCP_STATE, CONFIDENCE_HIGH);
            /* the same close as below: data the server sent before may have been left unread */
            if (peer->payload_bytes)
                rst_add_alternative(c->out, CAUSE_UNREAD_DATA, KR_TCP_ABORT_ON_CLOSE);
            say(c, "client reset after waiting %s for an answer to its last request "
                "(%u bytes sent, %u received); no FIN", wait, me->payload_bytes, peer->payload_bytes);
            return;
        }
        set_verdict(c, CAUSE_ABORTIVE_CLOSE, KR_TCP_STATE, CONFIDENCE_HIGH);
        /* whether the application read all the peer sent is not on the wire: what it
         * left unread makes tcp_close() reset with TCP_ABORT_ON_CLOSE instead */
        if (peer->payload_bytes)
            rst_add_alternative(c->out, CAUSE_UNREAD_DATA, KR_TCP_ABORT_ON_CLOSE);
        say(c, "%s reset %s after its own last data (%u bytes sent, %u received), from a live "
            "socket with no FIN: SO_LINGER{1,0} or a similar hard close", c->me_name, wait,
            me->payload_bytes, peer->payload_bytes);
        return;
    }
    set_verdict(c, CAUSE_ABORTIVE_CLOSE, KR_TCP_STATE, CONFIDENCE_LOW);
    /* without the start of the connection, data the peer sent before may sit unread */
    if (c->out->roles_guessed || !(peer->flags & SIDE_SEEN))
        rst_add_alternative(c->out, CAUSE_UNREAD_DATA, KR_TCP_ABORT_ON_CLOSE);
    if (conn_is_new(c->st))
        say(c, "%s reset from a live socket (a RST|ACK at a sequence number other than 0), the first "
            "segment of the connection in the capture", c->me_name);
    else
        say(c, "%s reset from a live socket after %s idle; no payload seen from it", c->me_name, idle);
}

/* A bare RST for a connection the sender has no (full) socket for. */
static void classify_no_socket(rst_context *c)
{
    char answer[32];
    format_answer_time(c, answer, sizeof answer);
    if (c->me_server && (c->me->flags & SIDE_SENT_SYNACK) && !(c->me->flags & SIDE_SENT_PLAIN)) {
        /* The server never sent anything but its SYN-ACK: the connection never left the
         * listener's request queue, and the listener refused to promote it. */
        if (c->peer->flags & SIDE_BAD_HS_ACK) {
            set_verdict(c, CAUSE_BAD_HANDSHAKE, KR_TCP_FLAGS, CONFIDENCE_MEDIUM);
            say(c, "server reset the client's handshake ACK for %u (its SYN-ACK needs %u)",
                c->peer->last_ack, c->me->next_seq);
        } else {
            set_verdict(c, CAUSE_ACCEPT_OVERFLOW, KR_INVALID_SYN, CONFIDENCE_HIGH);
            say(c, "server answered the client's first segment after the handshake with a bare "
                "RST after %s, never having sent anything but its SYN-ACK: the accept queue was "
                "full and tcp_abort_on_overflow=1", answer);
        }
        return;
    }
    /* New data reaching a socket the application has closed (an orphan in FIN_WAIT1,
     * its FIN still queued behind unsent data) resets it: tcp_rcv_state_process,
     * TCP_ABORT_ON_DATA. The sender still had data in flight when the trigger left
     * the peer, so it had a socket moments before: not a forgotten connection. */
    gboolean trigger_data = c->answers && c->peer->payload_bytes && c->peer->last_data_tick == c->trigger_tick;
    if (trigger_data && c->me->payload_bytes && seq_after(c->me->next_seq, c->rst->seq)) {
        set_verdict(c, CAUSE_DATA_AFTER_CLOSE, KR_TCP_ABORT_ON_DATA, CONFIDENCE_MEDIUM);
        say(c, "%s data reached the %s %s after the %s was still sending (%u bytes of it not yet "
            "acked): its application had closed the socket with its FIN queued behind unsent data, "
            "and the orphan reset the new data", c->peer_name, c->me_name, answer, c->me_name,
            c->me->next_seq - c->rst->seq);
        return;
    }
    /* The same orphan when the peer's zero window held its data back: nothing was in
     * flight, but a receiver shuts its window only on a sender that filled it, which
     * had more to send (RFC 9293 3.8.6.1). A host that lost the socket since (a
     * reboot, an orphan given up after its window probes, tcp_orphan_retries) answers
     * alike. The peer's segments since the sender's last one all carry one ack, so
     * the RST may seem to answer a window update after the data; but a pure ACK draws
     * no RST from a live orphan, so the first RST answers the data. */
    gboolean data_since = c->answers && c->peer->payload_bytes
        && conn_ticks_us(c->peer->last_data_tick, c->me->seg_tick) > 0;
    if (data_since && (c->me->flags & SIDE_WINDOW_SHUT_ON)) {
        set_verdict(c, CAUSE_DATA_AFTER_CLOSE, KR_TCP_ABORT_ON_DATA, CONFIDENCE_MEDIUM);
        rst_add_alternative(c->out, CAUSE_STALE_CONNECTION, KR_NO_SOCKET);
        rst_add_alternative(c->out, CAUSE_COUNT, no_socket_reason(c));
        say(c, "%s data reached the %s %s after the %s had shut its window on the %s's data: "
            "the socket was closed with data still to send, its FIN queued behind it, and the "
            "orphan reset the new data (or the socket was gone)",
            c->peer_name, c->me_name, answer, c->peer_name, c->me_name);
        return;
    }
    set_no_socket_verdict(c, CAUSE_STALE_CONNECTION, CONFIDENCE_HIGH);
    say(c, "%s no longer has this connection: it answered a %s segment with a bare RST %s "
        "later; it restarted, expired the connection or lost it in a failover%s", c->me_name,
        c->peer_name, answer, c->out->kernel_reason == KR_TCP_FLAGS ? " (its listener answered)" : "");
}

static void classify_syn_phase(rst_context *c)
{
    char rtt[32];
    format_answer_time(c, rtt, sizeof rtt);
    if ((c->peer->flags & SIDE_SENT_SYN) && !(c->me->flags & SIDE_SENT_SYN)) {
        set_verdict(c, CAUSE_REFUSED, KR_NO_SOCKET,
                    c->out->shape == SHAPE_PASSIVE ? CONFIDENCE_HIGH : CONFIDENCE_MEDIUM);
        say(c, "%s answered the SYN from port %u with a RST after %s: nothing listens on port %u",
            c->me_name, c->rst->dst_port, rtt, c->rst->src_port);
        return;
    }
    if ((c->me->flags & SIDE_SENT_SYN) && (c->peer->flags & SIDE_BAD_HS_ACK)) {
        set_verdict(c, CAUSE_BAD_HANDSHAKE, KR_TCP_INVALID_ACK_SEQUENCE, CONFIDENCE_HIGH);
        say(c, "client's SYN was answered by an ACK for %u instead of a SYN-ACK for %u; it reset "
            "it: the server still holds an older connection on this 4-tuple",
            c->peer->last_ack, c->me->next_seq);
        return;
    }
    set_verdict(c, CAUSE_UNKNOWN, KR_NOT_SPECIFIED, CONFIDENCE_LOW);
    say(c, "%s reset during the SYN exchange with no SYN-ACK seen", c->me_name);
}

static void classify_synack_phase(rst_context *c)
{
    char gap[32];
    rst_format_duration(gap, sizeof gap, since_us(c, c->st->first_tick));
    if (c->me->flags & SIDE_SENT_SYN) {
        if (c->peer->flags & SIDE_BAD_HS_ACK) {
            set_verdict(c, CAUSE_BAD_HANDSHAKE, KR_TCP_INVALID_ACK_SEQUENCE, CONFIDENCE_HIGH);
            say(c, "client reset a SYN-ACK that acknowledged %u instead of %u", c->peer->last_ack,
                c->me->next_seq);
        } else if (c->out->shape == SHAPE_PASSIVE) {
            set_no_socket_verdict(c, CAUSE_CONNECT_ABANDONED, CONFIDENCE_HIGH);
            say(c, "client answered the SYN-ACK (%s after its SYN) with a bare RST: its connect() "
                "had already given up and the socket was gone", gap);
        } else {
            set_verdict(c, CAUSE_HANDSHAKE_ABORT, KR_TCP_STATE, CONFIDENCE_MEDIUM);
            say(c, "client reset from a live socket right after the SYN-ACK (%s after its SYN), "
                "before any data: an SO_LINGER{1,0} close of a fresh connection", gap);
        }
        return;
    }
    if (c->peer->flags & SIDE_BAD_HS_ACK) {
        set_verdict(c, CAUSE_BAD_HANDSHAKE, KR_TCP_FLAGS, CONFIDENCE_MEDIUM);
        say(c, "server reset the client's handshake ACK for %u (its SYN-ACK needs %u)",
            c->peer->last_ack, c->me->next_seq);
        return;
    }
    if (c->me_client && c->out->shape == SHAPE_PASSIVE && !(c->rst->flags & TCP_FLAG_ACK)) {
        /* its SYN not in the capture: no socket answers the SYN-ACK so, and neither
         * does a SYN-SENT socket whose SYN it does not acknowledge
         * (tcp_rcv_synsent_state_process), which only the SYN would show */
        set_no_socket_verdict(c, CAUSE_CONNECT_ABANDONED, CONFIDENCE_MEDIUM);
        rst_add_alternative(c->out, CAUSE_BAD_HANDSHAKE, KR_TCP_INVALID_ACK_SEQUENCE);
        say(c, "client answered the SYN-ACK with a bare RST, its SYN not in the capture: no socket for "
            "it (its connect() had given up), or an older one whose SYN the SYN-ACK does not acknowledge");
        return;
    }
    set_verdict(c, CAUSE_UNKNOWN, KR_NOT_SPECIFIED, CONFIDENCE_LOW);
    say(c, "%s reset after the SYN-ACK, before the handshake completed", c->me_name);
}

static void classify_established_phase(rst_context *c)
{
    char idle[32], age[32];
    rst_format_duration(idle, sizeof idle, c->out->idle_us);
    rst_format_duration(age, sizeof age, c->out->age_us);
    if (c->out->shape == SHAPE_ACTIVE) {
        if (c->me->probes > 0) {
            classify_active_abort(c);
            return;
        }
        set_verdict(c, CAUSE_HANDSHAKE_ABORT, KR_TCP_STATE, CONFIDENCE_HIGH);
        say(c, "%s reset %s after the SYN, with the handshake done and no data either way, from "
            "a live socket with no FIN: an SO_LINGER{1,0} close (probe, health check, lost race)",
            c->me_name, age);
        return;
    }
    if (c->out->shape == SHAPE_PASSIVE) {
        classify_no_socket(c);
        return;
    }
    set_verdict(c, CAUSE_UNKNOWN, KR_NONE, CONFIDENCE_LOW);
    say(c, "%s sent a RST whose sequence number fits no socket state", c->me_name);
}

/* Before any FIN (phases data and unknown) and when only the peer closed. */
static void classify_open_connection(rst_context *c)
{
    const conn_side *me = c->me, *peer = c->peer;
    gboolean me_spoke_last = me->payload_bytes > 0
        && (peer->payload_bytes == 0 || conn_ticks_us(me->last_data_tick, peer->last_data_tick) >= 0);
    /* Linux sends a segment only when a full MSS of it fits the window (tcp_snd_wnd_test), so
     * a window below the smallest usual MSS (536 bytes, RFC 1122 4.2.2.6) holds the data back as
     * surely as a zero one */
    gboolean peer_window_shut = conn_window_bytes(peer->window_code) < DEFAULT_MSS;
    if (c->out->shape == SHAPE_ACTIVE && (peer->flags & SIDE_SENT_FIN) && !(me->flags & SIDE_SENT_FIN)
        && me_spoke_last && peer_window_shut && me->probes == 0) {
        /* The peer closed and its window is shut: our FIN waits behind unsent data. A
         * linger-0 close() after shutdown() (LAST_ACK) resets with
         * TCP_DISCONNECT_WITH_DATA (tcp_disconnect); without the shutdown() (CLOSE_WAIT)
         * with TCP_STATE. The wire shows neither call. */
        set_verdict(c, CAUSE_ABORTIVE_CLOSE, KR_TCP_DISCONNECT_WITH_DATA, CONFIDENCE_HIGH);
        rst_add_alternative(c->out, CAUSE_COUNT, KR_TCP_STATE);
        say(c, "%s reset with data it could not send (the %s's window was closed) after the %s's "
            "FIN and no FIN of its own: a hard close with its FIN queued behind unsent data",
            c->me_name, c->peer_name, c->peer_name);
        return;
    }
    if (c->out->shape == SHAPE_ACTIVE) {
        classify_active_abort(c);
    } else if (c->out->shape == SHAPE_PASSIVE) {
        classify_no_socket(c);
    } else if (c->rst->payload_len) {
        set_verdict(c, CAUSE_UNKNOWN, KR_NONE, CONFIDENCE_LOW);
        say(c, "%s sent a RST carrying %u bytes of data, which Linux never does (another stack or a "
            "middlebox may, RFC 9293 3.5.3)", c->me_name, c->rst->payload_len);
    } else {
        set_verdict(c, CAUSE_UNKNOWN, KR_NONE, CONFIDENCE_LOW);
        say(c, "%s sent a RST whose sequence number fits no socket state of a TCP stack", c->me_name);
    }
}

/* The peer's data crossed the sender's FIN: sent before the peer saw the FIN, it is
 * beyond what the sender's FIN and later segments acked (their ack is rcv_nxt when sent),
 * so it reached the socket after close(); had it come before, unread, close() would have
 * reset (TCP_ABORT_ON_CLOSE) instead of sending the FIN. */
static gboolean data_crossed_own_fin(const rst_context *c)
{
    const conn_side *me = c->me, *peer = c->peer;
    return (me->flags & SIDE_SENT_FIN) && !(peer->flags & SIDE_DATA_AFTER_FIN) && peer->payload_bytes
        && (me->flags & SIDE_ACKED) && seq_after(data_end(peer), me->last_ack);
}

/* The sender had sent a FIN (alone, or both sides had). */
static void classify_after_own_fin(rst_context *c)
{
    if (c->out->shape == SHAPE_PASSIVE && data_crossed_own_fin(c)) {
        /* it came before the peer could ACK the FIN (the peer had not seen it): the
         * closed socket was still in FIN_WAIT1 (tcp_rcv_state_process, RCV_SHUTDOWN) */
        set_verdict(c, CAUSE_DATA_AFTER_CLOSE, KR_TCP_ABORT_ON_DATA, CONFIDENCE_HIGH);
        say(c, "%s data sent before its FIN reached the %s arrived after the %s had closed (%u bytes "
            "it never acked): the closed socket reset it", c->peer_name, c->peer_name, c->me_name,
            data_end(c->peer) - c->me->last_ack);
        return;
    }
    if (c->out->shape == SHAPE_PASSIVE && (c->peer->flags & SIDE_DATA_AFTER_FIN)) {
        gboolean fin_acked = (c->me->flags & SIDE_FIN_ACKED) != 0;
        /* An ACK on the wire may still be lost after the capture point (or dropped by the
         * receiver's filter): the socket then stays in FIN_WAIT1 and resets the data with
         * TCP_ABORT_ON_DATA. The loss shows only as a resent FIN, one retransmission timeout
         * after the sender's FIN (RTO >= srtt + 200 ms; 1 s before any RTT sample, RFC 6298
         * 2.1, TCP_TIMEOUT_INIT): a RST sooner than that after its latest segment leaves it open. */
        gboolean ack_may_be_lost = fin_acked && since_us(c, c->me->seg_tick) < FIN_RESEND_BOUND_US;
        /* The other way round: the data itself acked the FIN (the RST copies its ack), so
         * the peer had the FIN before it and may have acked it alone first; such an ACK,
         * missed by the capture, would have left a FIN_WAIT2 timewait socket. */
        gboolean ack_may_be_unseen = !fin_acked && !(c->me->flags & SIDE_FIN_ACK_LOST)
            && c->rst->seq == c->me->next_seq;
        /* An ACK of the resent FIN: the ACK before it was lost on the way, this one may have
         * arrived (a FIN_WAIT2 timewait socket then) or not; losses need not repeat (a
         * duplicate ACK carries a D-SACK block, RFC 2883, and so differs in size). */
        gboolean reack_may_have_arrived = (c->me->flags & SIDE_FIN_REACKED) != 0;
        set_verdict(c, CAUSE_DATA_AFTER_CLOSE, fin_acked ? KR_TCP_TIMEWAIT_SOCKET : KR_TCP_ABORT_ON_DATA,
                    CONFIDENCE_HIGH);
        if (ack_may_be_lost)
            rst_add_alternative(c->out, CAUSE_COUNT, KR_TCP_ABORT_ON_DATA);
        if (ack_may_be_unseen || reack_may_have_arrived)
            rst_add_alternative(c->out, CAUSE_COUNT, KR_TCP_TIMEWAIT_SOCKET);
        say(c, "%s had closed (FIN) when %s data arrived; %s", c->me_name, c->peer_name,
            ack_may_be_lost ? "its FIN was ACKed on the wire, so a FIN_WAIT2 timewait socket reset it (had "
                              "that ACK been lost before it, too soon for a resent FIN to show, the closed "
                              "socket in FIN_WAIT1)"
            : fin_acked ? "its FIN was already ACKed, so a FIN_WAIT2 timewait socket reset it"
            : reack_may_have_arrived
                ? "it had resent its FIN, so an ACK never reached it and the closed socket reset it (had the "
                  "ACK of the resent FIN arrived, a FIN_WAIT2 timewait socket)"
            : (c->me->flags & SIDE_FIN_ACK_LOST)
                ? "it had resent its FIN, so the ACK never reached it and the closed socket reset it"
            : ack_may_be_unseen
                ? "no ACK of its FIN came before, so the closed socket reset it (had the capture missed "
                  "one, a FIN_WAIT2 timewait socket)"
                : "its FIN was not yet ACKed, so the closed socket reset it");
        return;
    }
    if (c->out->shape == SHAPE_PASSIVE) {
        set_no_socket_verdict(c, CAUSE_LATE_AFTER_CLOSE, CONFIDENCE_MEDIUM);
        say(c, "%s, already closed, answered a late %s segment with a bare RST", c->me_name,
            c->peer_name);
        return;
    }
    if (c->out->shape == SHAPE_ACTIVE && (c->me->flags & SIDE_FIN_ACKED)
        && !(c->peer->flags & (SIDE_SENT_FIN | SIDE_DATA_AFTER_FIN)) && c->me->probes == 0) {
        /* FIN_WAIT2 after shutdown(), nothing unread: close() resets through
         * tcp_disconnect() with SO_LINGER{1,0} (TCP_STATE), or at once with
         * TCP_LINGER2 < 0 (tcp_close: TCP_ABORT_ON_LINGER); the same segment on the wire. */
        char wait[32];
        rst_format_duration(wait, sizeof wait, c->out->idle_us);
        set_verdict(c, CAUSE_ABORTIVE_CLOSE, KR_TCP_STATE, CONFIDENCE_HIGH);
        rst_add_alternative(c->out, CAUSE_COUNT, KR_TCP_ABORT_ON_LINGER);
        say(c, "%s reset %s after the %s ACKed its FIN, from a live socket: a hard close after "
            "shutdown() (SO_LINGER{1,0}, or TCP_LINGER2 < 0)", c->me_name, wait, c->peer_name);
        return;
    }
    classify_open_connection(c);
}

static void classify_closed_phase(rst_context *c)
{
    gboolean earlier_rst = ((c->me->flags | c->peer->flags) & SIDE_SENT_RST) != 0;
    if (!earlier_rst) {
        if (c->out->shape == SHAPE_PASSIVE && !(c->peer->flags & SIDE_DATA_AFTER_FIN)
            && !data_crossed_own_fin(c)) {
            set_no_socket_verdict(c, CAUSE_LATE_AFTER_CLOSE, CONFIDENCE_HIGH);
            say(c, "after both FINs, %s answered a straggling %s segment with a bare RST: "
                "harmless, its socket was already gone", c->me_name, c->peer_name);
            return;
        }
        classify_after_own_fin(c);
        return;
    }
    if ((c->me->flags & SIDE_SENT_RST) && c->out->shape == SHAPE_PASSIVE) {
        /* follow-ups: the peer's segments still arriving after our own RST */
        gboolean data = c->answers && c->peer->payload_bytes > 0 && c->peer->last_data_tick == c->trigger_tick;
        set_no_socket_verdict(c, data ? CAUSE_DATA_AFTER_CLOSE : CAUSE_LATE_AFTER_CLOSE, CONFIDENCE_HIGH);
        say(c, "%s had already reset this connection; a %s %s still in flight drew this bare RST",
            c->me_name, c->peer_name, data ? "data segment" : "segment");
        return;
    }
    classify_open_connection(c);
    if (c->me->flags & SIDE_SENT_RST)   /* e.g. a duplicate in the capture */
        rst_text_append(c->out->evidence, sizeof c->out->evidence, "; ",
                        "a repeat: the %s's earlier RST had already ended the connection", c->me_name);
}

/* A RST|ACK answering a FIN, NULL or XMAS probe (no ACK flag, no connection):
 * a listener drops such segments silently (tcp_rcv_state_process, TCP_LISTEN),
 * so the port has none. */
static void classify_probe(rst_context *c)
{
    char answer[32];
    format_answer_time(c, answer, sizeof answer);
    /* a listener drops a segment without SYN or ACK and answers a SYN with a SYN-ACK */
    set_verdict(c, CAUSE_REFUSED, KR_NO_SOCKET, CONFIDENCE_HIGH);
    if (c->answers_unseen)
        say(c, "%s answered a segment without ACK that the capture missed (sequence number 0 with an "
            "ACK: a SYN or a probe) from port %u: nothing listens on port %u", c->me_name,
            c->rst->dst_port, c->rst->src_port);
    else
        say(c, "%s answered a probe without ACK or SYN from port %u after %s: nothing listens on port %u",
            c->me_name, c->rst->dst_port, answer, c->rst->src_port);
}

/* Confidence adjustments, each made here once: without the handshake every
 * rule about an open connection rests on less; a named alternative caps the
 * verdict at medium, and so does a gap in the capture (a lost segment may be
 * the one that decides: the unread data, the FIN, the sender's latest data). */
static void settle_confidence(rst_diagnosis *out)
{
    gboolean open_unseen_start = out->roles_guessed && (out->phase == PHASE_UNKNOWN || out->phase == PHASE_DATA);
    if (open_unseen_start && out->confidence > CONFIDENCE_LOW)
        out->confidence--;
    if ((out->cause_alt || out->kernel_reason_alt || out->capture_gap) && out->confidence > CONFIDENCE_MEDIUM)
        out->confidence = CONFIDENCE_MEDIUM;
}

void rst_classify(const conn_stream *st, const tcp_segment *rst, const rst_settings *settings,
                  const rst_host_facts *host, rst_diagnosis *out)
{
    rst_context c = { .st = st, .rst = rst, .settings = settings, .host = host, .out = out };
    unsigned me_idx = conn_side_of(st, rst);
    gboolean guessed;
    int client = find_client(st, rst, me_idx, &guessed);

    memset(out, 0, sizeof *out);
    out->sender_side = me_idx;
    c.me = &st->side[me_idx];
    c.peer = &st->side[!me_idx];
    c.now = conn_tick(rst->time_us);
    c.me_client = client >= 0 && (unsigned)client == me_idx;
    c.me_server = client >= 0 && (unsigned)client != me_idx;
    out->sender = c.me_client ? SENDER_CLIENT : c.me_server ? SENDER_SERVER : SENDER_UNKNOWN;
    c.me_name = rst_role_name(out->sender);
    c.peer_name = rst_peer_role_name(out->sender);
    out->roles_guessed = guessed;
    out->capture_gap = conn_capture_gap(st, me_idx, rst);
    out->phase = find_phase(st, client);
    c.answers = conn_find_trigger(st, me_idx, rst, &out->trigger_frame, &c.trigger_tick);
    c.answers_unseen = !c.answers && conn_answers_unseen(st, me_idx, rst);
    if (c.answers_unseen)
        out->capture_gap = TRUE;
    out->shape = find_shape(&c);
    if (out->shape != SHAPE_PASSIVE) {
        c.answers = FALSE;   /* an active RST answers nothing */
        out->trigger_frame = 0;
    }
    out->response_us = c.answers ? since_us(&c, c.trigger_tick) : -1;
    if (out->response_us > ANSWER_LATE_US)
        out->capture_gap = TRUE;
    out->acceptable = find_acceptability(&c);
    out->ignored = out->acceptable == ACCEPT_OUT_OF_WINDOW ? IGNORED_OUT_OF_WINDOW : IGNORED_NO;
    out->idle_us = conn_is_new(st) ? -1 : since_us(&c, st->last_tick);
    out->age_us = ((st->side[0].flags | st->side[1].flags) & SIDE_SENT_SYN) ? since_us(&c, st->first_tick) : -1;
    {
        const conn_side *client_side = &st->side[client == 1 ? 1 : 0];
        const conn_side *server_side = &st->side[client == 1 ? 0 : 1];
        out->bytes_client = client_side->payload_bytes;
        out->bytes_server = server_side->payload_bytes;
    }

    switch (out->phase) {
    case PHASE_SYN:         classify_syn_phase(&c); break;
    case PHASE_SYNACK:      classify_synack_phase(&c); break;
    case PHASE_ESTABLISHED: classify_established_phase(&c); break;
    case PHASE_CLOSING:
        if (c.me->flags & SIDE_SENT_FIN)
            classify_after_own_fin(&c);
        else
            classify_open_connection(&c);
        break;
    case PHASE_CLOSED:      classify_closed_phase(&c); break;
    default:
        if ((c.answers || c.answers_unseen) && (rst->flags & TCP_FLAG_ACK) && !(c.peer->flags & SIDE_ACKED))
            classify_probe(&c);
        else
            classify_open_connection(&c);
        break;
    }
    note_capture_gap(out);   /* before the refinements: rst_set_cause() notes it again */
    rst_keepalive_race(st, rst, settings, out);
    settle_confidence(out);
    if (guessed && out->sender != SENDER_UNKNOWN)
        rst_text_append(out->evidence, sizeof out->evidence, " ", "(roles guessed from ports)");
}
