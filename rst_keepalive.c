/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rst_keepalive.c - the keep-alive race (see rst_keepalive.h).
 *
 * What the closer's kernel does with the request (net/ipv4/tcp_input.c,
 * tcp_minisocks.c, tcp_ipv4.c), always answering in the passive form (no
 * ACK flag, seq = the request's ack):
 *  - its FIN not yet acknowledged: the orphan in FIN_WAIT1, receive side shut,
 *    gets new data: TCP_ABORT_ON_DATA, and the request's ack is the FIN's own
 *    sequence number (the requester had not seen the FIN: they crossed);
 *  - its FIN acknowledged: a FIN_WAIT2 timewait socket gets new data:
 *    TCP_TIMEWAIT_SOCKET (after tcp_fin_timeout, none: NO_SOCKET, or
 *    TCP_FLAGS from the listener);
 *  - no FIN at all: the closer dropped the connection silently and answers
 *    from its listener (TCP_FLAGS) or from no socket (NO_SOCKET); only the
 *    idle gap matching a known timer tells that from a restart.
 * And in the active form (RST|ACK at its next sequence number, no FIN): the
 * request arrived just before the closer's application closed the idle
 * socket, so close() found it unread (TCP_ABORT_ON_CLOSE, net/ipv4/tcp.c);
 * again only a matching timer makes that a race.
 */
#include "rst_keepalive.h"

#include <stdio.h>

/* The shortest idle timer the table can hold (1 s, the idle_timers minimum) less its slack. */
#define RACE_MIN_IDLE_US (G_USEC_PER_SEC * 3 / 4)

void rst_keepalive_race(const conn_stream *st, const tcp_segment *rst, const rst_settings *settings,
                        rst_diagnosis *out)
{
    const conn_side *closer = &st->side[out->sender_side], *reuser = &st->side[!out->sender_side];
    if (rst->payload_len || ((closer->flags | reuser->flags) & SIDE_SENT_RST) || (reuser->flags & SIDE_FIN_FIRST))
        return;
    /* RFC 9112 §9.6: the race is a client's request on a persistent connection
     * crossing the server's close. Data from a server after its client closed
     * is a late answer to a request the client gave up on, not a new request. */
    if (out->sender != SENDER_SERVER)
        return;
    /* an exchange, then idle, then the reuser's request */
    if (!closer->payload_bytes || !reuser->payload_bytes)
        return;
    int64_t idle = conn_ticks_us(reuser->last_data_tick, closer->last_data_tick);
    if (idle < RACE_MIN_IDLE_US)
        return;

    gboolean closed = (closer->flags & SIDE_SENT_FIN) != 0;
    gboolean passive = !(rst->flags & TCP_FLAG_ACK);
    gboolean crossed = passive && closed && rst->seq == closer->next_seq - 1;
    gboolean after_close = passive && closed && rst->seq == closer->next_seq;
    gboolean dropped = passive && !closed && rst->seq == closer->next_seq;
    gboolean unread = !passive && !closed && rst->seq == closer->next_seq;
    const idle_timer *timer = idle_timer_nearest(settings->timers, idle, TIMERS_CLOSING);
    if (!crossed && !after_close && !((dropped || unread) && timer))
        return;

    const char *me = rst_role_name(out->sender), *peer = rst_peer_role_name(out->sender);
    char what[112], gap[32], matches[64];
    rst_kernel_reason reason;
    rst_confidence confidence;
    if (crossed) {
        reason = KR_TCP_ABORT_ON_DATA;
        confidence = CONFIDENCE_HIGH;
        snprintf(what, sizeof what, "the %s's request crossed the %s's idle-close FIN", peer, me);
    } else if (after_close) {
        reason = KR_TCP_TIMEWAIT_SOCKET;
        confidence = timer ? CONFIDENCE_HIGH : CONFIDENCE_MEDIUM;
        snprintf(what, sizeof what, "the %s's request came just after the %s's idle-close FIN", peer, me);
    } else if (unread) {
        /* no FIN shows the close came first: an application that read the request
         * and aborted with SO_LINGER{1,0} (TCP_STATE) looks the same, at any idle */
        reason = KR_TCP_ABORT_ON_CLOSE;
        confidence = CONFIDENCE_MEDIUM;
        snprintf(what, sizeof what, "the %s's request came as the %s closed the idle connection, unread", peer,
                 me);
    } else {
        reason = (closer->flags & SIDE_SENT_SYNACK) ? KR_TCP_FLAGS : KR_NO_SOCKET;
        confidence = CONFIDENCE_MEDIUM;
        snprintf(what, sizeof what, "the %s had dropped the idle connection (no FIN) before the %s's request",
                 me, peer);
    }
    rst_format_duration(gap, sizeof gap, idle);
    if (timer)
        snprintf(matches, sizeof matches, "matches %s %u s", timer->name, timer->seconds);
    else
        snprintf(matches, sizeof matches, "no known default timer (see idle_timers)");
    char *evidence = g_strdup_printf("keep-alive race: %s; idle %s before the request: %s; fix: the %s's idle "
                                     "timeout must be shorter than the %s's", what, gap, matches, peer, me);
    rst_set_cause(out, CAUSE_KEEPALIVE_RACE, reason, confidence, evidence);
    g_free(evidence);
    if (unread)
        rst_add_alternative(out, CAUSE_ABORTIVE_CLOSE, KR_TCP_STATE);
    out->keepalive_idle_us = idle;
}
