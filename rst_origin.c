/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rst_origin.c - who really sent a RST (see rst_origin.h).
 *
 * Signs of a device speaking in an end host's name:
 *  - a TTL/hop limit other than the host's own packets arrive with (a host
 *    uses one initial TTL for all its segments, RSTs included, and one path);
 *  - an IPv4 ID copied from the segment it answers (Linux answers with ID 0
 *    from no socket, or its socket's next ID from a live one);
 *  - an answer sooner than the round trip to the host allows;
 *  - a second RST with another sequence number and no segment from the
 *    peer in between (a stack answers segments; it does not repeat itself);
 *  - frames from the claimed sender after its own RST (its socket is gone);
 *  - a device's own reason code in the RST.
 */
#include "rst_origin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- host facts ------------------------------------------------------------- */

void host_facts_init(host_facts *h)
{
    h->ttl_min = h->ttl_max = 0;
    h->rtt_us = -1;
}

void host_facts_add_ttl(host_facts *h, uint8_t ttl)
{
    if (ttl == 0)
        return;
    if (h->ttl_min == 0 || ttl < h->ttl_min)
        h->ttl_min = ttl;
    if (ttl > h->ttl_max)
        h->ttl_max = ttl;
}

void host_facts_add_rtt(host_facts *h, int64_t rtt_us)
{
    if (rtt_us >= 0 && (h->rtt_us < 0 || rtt_us < h->rtt_us))
        h->rtt_us = rtt_us;
}

/* ---- attribution ------------------------------------------------------------ */

typedef struct {
    const conn_stream *st;
    const tcp_segment *rst;
    const path_facts *facts;
    const conn_side *me;
    const conn_side *peer;
    unsigned me_idx;
    rst_diagnosis *diag;
    int device_signs;          /* strong signs of a device */
    int host_signs;            /* signs that the host's own stack sent it */
    int weak_device_signs;
    gboolean window_code_counts;   /* a NetScaler window code with corroboration */
    GString *why;
} attribution;

static void G_GNUC_PRINTF(2, 3) note(attribution *a, const char *fmt, ...)
{
    va_list ap;
    if (a->why->len)
        g_string_append(a->why, "; ");
    va_start(ap, fmt);
    g_string_append_vprintf(a->why, fmt, ap);
    va_end(ap);
}

static const char *sender_name(const rst_diagnosis *d)
{
    return d->sender == SENDER_CLIENT ? "client" : d->sender == SENDER_SERVER ? "server" : "sender";
}

static void weigh_ttl(attribution *a)
{
    const host_facts *host = &a->facts->sender;
    uint8_t usual = a->me->ttl;
    const char *whose = "in this connection";
    if (usual == 0 && host->ttl_min != 0 && host->ttl_min == host->ttl_max) {
        usual = host->ttl_min;
        whose = "in other connections";
    }
    if (usual == 0 || a->rst->ttl == 0) {
        note(a, "no earlier packet from the %s to compare TTLs with", sender_name(a->diag));
        return;
    }
    a->diag->ttl_delta_known = TRUE;
    a->diag->ttl_delta = (int)a->rst->ttl - (int)usual;
    if (a->diag->ttl_delta == 0) {
        a->host_signs++;
        note(a, "TTL %u, as the %s's packets %s", a->rst->ttl, sender_name(a->diag), whose);
    } else {
        a->device_signs++;
        note(a, "TTL %u, but the %s's packets %s arrive with %u: sent %d hop%s %s", a->rst->ttl,
             sender_name(a->diag), whose, usual, abs(a->diag->ttl_delta), abs(a->diag->ttl_delta) == 1 ? "" : "s",
             a->diag->ttl_delta > 0 ? "closer to the capture point" : "further away");
    }
}

static void weigh_ip_id(attribution *a)
{
    if (a->rst->ip_id < 0)
        return;
    uint16_t id = (uint16_t)a->rst->ip_id;
    if (id != 0 && (a->peer->flags & SIDE_SENT_LAST) && id == a->peer->ip_id) {
        a->device_signs++;
        note(a, "IP ID 0x%04x copied from the segment it answers", id);
        return;
    }
    if (!(a->me->flags & SIDE_IPID_SEQUENTIAL) || id == 0)
        return;
    uint16_t step = (uint16_t)(id - a->me->ip_id);
    if (step >= 1 && step <= CONN_IPID_STEP_MAX) {
        a->host_signs++;
        note(a, "IP ID 0x%04x continues the %s's counter", id, sender_name(a->diag));
    } else if (step > 16 * CONN_IPID_STEP_MAX && step < 65536 - 16 * CONN_IPID_STEP_MAX) {
        a->weak_device_signs++;
        note(a, "IP ID 0x%04x, off the %s's counter (0x%04x)", id, sender_name(a->diag), a->me->ip_id);
    }
}

/* Minimum round trip that counts: below it, scheduling noise dominates. */
#define RTT_FLOOR_US 1000

static void weigh_timing(attribution *a)
{
    int64_t rtt = a->facts->sender.rtt_us;
    int64_t answer_us = a->diag->idle_us;
    /* a keep-alive race's RST answers the request, not the FIN's ACK that may follow it */
    if (a->diag->cause == CAUSE_KEEPALIVE_RACE)
        answer_us = conn_ticks_us(conn_tick(a->rst->time_us), a->peer->last_data_tick);
    if (!(a->peer->flags & SIDE_SENT_LAST) || rtt < RTT_FLOOR_US || answer_us < 0)
        return;
    if (answer_us * 2 < rtt) {
        char answer[32], round_trip[32];
        rst_format_duration(answer, sizeof answer, answer_us);
        rst_format_duration(round_trip, sizeof round_trip, rtt);
        a->device_signs++;
        note(a, "answered %s after the segment it resets, but the %s is %s away (round trip)",
             answer, sender_name(a->diag), round_trip);
    }
}

static void weigh_burst(attribution *a)
{
    const path_facts *f = a->facts;
    /* a stack answers each segment in flight: a bare RST whose seq is the ack of the peer's
     * latest segment answers that one (tcp_v4_send_reset) */
    gboolean answers_latest = !(a->rst->flags & TCP_FLAG_ACK) && (a->peer->flags & SIDE_ACKED)
        && a->rst->seq == a->peer->last_ack;
    if (f->has_prev_rst && f->prev_rst_side == a->me_idx && (a->me->flags & SIDE_SENT_LAST)
        && f->prev_rst_seq != a->rst->seq && !answers_latest) {
        a->device_signs++;
        note(a, "a second RST with its sequence number moved by %d and nothing from the %s in between",
             (int32_t)(a->rst->seq - f->prev_rst_seq), a->diag->sender == SENDER_CLIENT ? "server" : "peer");
    }
}

static void weigh_vendor(attribution *a)
{
    const rst_vendor_info *v = a->facts->vendor;
    if (!v || v->needs_corroboration)
        return;
    if (v->from_device) {
        a->device_signs++;
        note(a, "%s", v->text);
    } else if (v->has_kernel_reason) {
        a->host_signs++;
        note(a, "it carries its stack's own reason (%s)", rst_kernel_reason_token(v->kernel_reason));
    }
}

/* A NetScaler code in the window counts only when another sign says a device
 * sent the RST, and never when it is the window the sender advertises anyway
 * (Wireshark decodes the codes for any RST, packet-tcp.c). */
static void weigh_window_code(attribution *a)
{
    const rst_vendor_info *v = a->facts->vendor;
    if (!v || !v->needs_corroboration)
        return;
    gboolean own_window = (a->me->flags & SIDE_SEEN) && a->me->window_code == conn_window_encode(a->rst->window);
    a->window_code_counts = !own_window && a->device_signs > 0;
    if (own_window)
        note(a, "window %u is the %s's own advertised window, not a NetScaler code", v->code,
             sender_name(a->diag));
    else if (a->window_code_counts)
        note(a, "%s, corroborated by the signs above", v->text);
    else
        note(a, "window %u would be %s, but nothing else points to a NetScaler: not counted", v->code, v->text);
}

/* Quiet time before the segment the RST answers, or before the RST itself
 * when it answers nothing fresh (a timer fired). */
static int64_t quiet_time_us(const attribution *a, gboolean *answers)
{
    const conn_stream *st = a->st;
    *answers = (a->peer->flags & SIDE_SENT_LAST) && a->diag->idle_us >= 0 && a->diag->idle_us < 1000000;
    if (!*answers)
        return a->diag->idle_us;
    uint32_t before = st->first_tick;
    if (a->me->payload_bytes && conn_ticks_us(a->me->last_data_tick, before) > 0)
        before = a->me->last_data_tick;
    if (a->peer->payload_bytes && a->peer->last_data_tick != st->last_tick
        && conn_ticks_us(a->peer->last_data_tick, before) > 0)
        before = a->peer->last_data_tick;
    return conn_ticks_us(st->last_tick, before);
}

/* The timer that explains a quiet time, or NULL. */
static const idle_timer *matching_timer(const idle_timer_table *timers, int64_t quiet_us, gboolean answers)
{
    const idle_timer *best = NULL;
    if (!timers || quiet_us < 0)
        return NULL;
    for (unsigned i = 0; i < timers->count; i++) {
        const idle_timer *t = &timers->timer[i];
        if (!(t->kind & TIMERS_IN_PATH))
            continue;   /* an application server's timer ends with its own FIN, not a device's RST */
        int64_t timer_us = (int64_t)t->seconds * 1000000;
        int64_t slack = MAX(1000000, timer_us / 50);
        /* a device that resets when traffic resumes: any quiet time past its timer;
         * one that resets at the timer itself: the quiet time is the timer */
        gboolean fits = answers ? quiet_us >= timer_us : (quiet_us >= timer_us - slack && quiet_us <= timer_us + slack);
        if (fits && (!best || t->seconds > best->seconds))
            best = t;
    }
    return best;
}

static void refine_device_cause(attribution *a)
{
    rst_diagnosis *d = a->diag;
    char evidence[RST_EVIDENCE_MAX];
    gboolean answers;
    int64_t quiet = quiet_time_us(a, &answers);
    const idle_timer *timer = matching_timer(a->facts->timers, quiet, answers);
    char quiet_text[32];
    rst_format_duration(quiet_text, sizeof quiet_text, quiet);

    if (d->phase == PHASE_SYN || d->phase == PHASE_SYNACK) {
        snprintf(evidence, sizeof evidence, "a device in the path answered the %s's handshake in the %s's "
                 "name: a firewall or policy rejects this connection", d->sender == SENDER_SERVER ? "client" : "peer",
                 sender_name(d));
        rst_set_cause(d, CAUSE_BLOCKED, KR_NONE, CONFIDENCE_HIGH, evidence);
    } else if (timer) {
        snprintf(evidence, sizeof evidence, "a device in the path reset the connection after %s of silence%s; "
                 "that fits the %s idle timer of %u s", quiet_text,
                 answers ? ", when traffic resumed" : "", timer->name, timer->seconds);
        rst_set_cause(d, CAUSE_IDLE_TIMEOUT, KR_NONE, CONFIDENCE_HIGH, evidence);
    } else if (answers && a->peer->payload_bytes > 0 && a->me->payload_bytes == 0 && a->peer->writes <= 1) {
        snprintf(evidence, sizeof evidence, "a device in the path answered the first data (%u bytes) in the %s's "
                 "name before it said anything: a filter rejected the request", a->peer->payload_bytes,
                 sender_name(d));
        rst_set_cause(d, CAUSE_BLOCKED, KR_NONE, CONFIDENCE_HIGH, evidence);
    } else {
        snprintf(evidence, sizeof evidence, "a device in the path reset the established connection in the %s's "
                 "name (%s after %s of silence; no known idle timer fits, see the idle_timers preference)",
                 sender_name(d), answers ? "answering a segment" : "unprompted", quiet_text);
        rst_set_cause(d, CAUSE_INJECTED, KR_NONE, quiet >= 30 * G_GINT64_CONSTANT(1000000) ? CONFIDENCE_MEDIUM
                                                                                        : CONFIDENCE_HIGH, evidence);
    }
}

/* The current kernel reason if the cause allows it, else the cause's first. */
static rst_kernel_reason fitting_reason(rst_cause cause, rst_kernel_reason current)
{
    const rst_kernel_reason *allowed = rst_cause_kernel_reasons(cause);
    for (const rst_kernel_reason *r = allowed; *r != KR_COUNT; r++) {
        if (*r == current)
            return current;
    }
    return allowed[0] != KR_COUNT ? allowed[0] : KR_NOT_SPECIFIED;
}

static void prefix_evidence(rst_diagnosis *d, const char *prefix)
{
    char *joined = g_strconcat(prefix, "; ", d->evidence, NULL);
    g_strlcpy(d->evidence, joined, sizeof d->evidence);
    g_free(joined);
}

void rst_attribute(const conn_stream *st, const tcp_segment *rst, const path_facts *facts, rst_diagnosis *diag)
{
    attribution a = { .st = st, .rst = rst, .facts = facts, .diag = diag, .why = g_string_new(NULL) };
    a.me_idx = conn_side_of(st, rst);
    a.me = &st->side[a.me_idx];
    a.peer = &st->side[!a.me_idx];

    weigh_vendor(&a);
    weigh_ttl(&a);
    weigh_ip_id(&a);
    weigh_timing(&a);
    weigh_burst(&a);
    weigh_window_code(&a);

    if (a.device_signs > 0)
        diag->origin = ORIGIN_MIDDLEBOX;
    else if (a.host_signs > 0)
        diag->origin = ORIGIN_ENDPOINT;
    else if (a.weak_device_signs > 0)
        diag->origin = ORIGIN_MIDDLEBOX;
    else
        diag->origin = ORIGIN_UNKNOWN;
    g_strlcpy(diag->origin_evidence, a.why->str, sizeof diag->origin_evidence);
    g_string_free(a.why, TRUE);

    const rst_vendor_info *vendor = facts->vendor;
    if (vendor && vendor->needs_corroboration && !a.window_code_counts)
        vendor = NULL;
    if (vendor && vendor->cause != CAUSE_UNKNOWN) {
        /* the device said why: that beats any inference */
        diag->cause = vendor->cause;
        diag->confidence = CONFIDENCE_HIGH;
        diag->kernel_reason = fitting_reason(vendor->cause, diag->origin == ORIGIN_MIDDLEBOX ? KR_NONE
                                                                                           : diag->kernel_reason);
        snprintf(diag->evidence, sizeof diag->evidence, "the RST gives its own reason: %s", vendor->text);
        return;
    }
    if (facts->relay_frame && diag->shape != SHAPE_PASSIVE) {
        char evidence[RST_EVIDENCE_MAX], gap[32];
        rst_format_duration(gap, sizeof gap, facts->relay_gap_us);
        snprintf(evidence, sizeof evidence, "%s reset this connection %s after it received a RST on its other "
                 "connection (frame %u, stream %u): a proxy passing the reset on", sender_name(diag), gap,
                 facts->relay_frame, facts->relay_stream);
        /* a proxy passes a reset on by aborting on purpose (SO_LINGER{1,0}), having read
         * what it forwarded */
        rst_set_cause(diag, CAUSE_RELAYED, diag->origin == ORIGIN_MIDDLEBOX ? KR_NONE : KR_TCP_STATE,
                      CONFIDENCE_HIGH, evidence);
        return;
    }
    if (diag->origin == ORIGIN_MIDDLEBOX)
        refine_device_cause(&a);
    if (vendor && vendor->has_kernel_reason)
        rst_vendor_check_guess(vendor, diag);
    else if (vendor)
        prefix_evidence(diag, vendor->text);
}

/* ---- after the RST ------------------------------------------------------------- */

void rst_followup_start(rst_followup *f, const conn_stream *st, const tcp_segment *rst, int64_t receiver_rtt_us)
{
    unsigned sender = conn_side_of(st, rst);
    const conn_side *receiver = &st->side[!sender];
    memset(f, 0, sizeof *f);
    f->sender_side = sender;
    f->receiver_next_seq = receiver->next_seq;
    f->receiver_last_ack = receiver->last_ack;
    f->rst_time_us = rst->time_us;
    f->receiver_rtt_us = receiver_rtt_us;
}

/* Without a measured round trip, data this long after a RST was not already in flight. */
#define IN_FLIGHT_GUESS_US 500000

static void append_origin_note(rst_diagnosis *d, const char *text)
{
    size_t len = strlen(d->origin_evidence);
    snprintf(d->origin_evidence + len, sizeof d->origin_evidence - len, "%s%s", len ? "; " : "", text);
}

gboolean rst_follow_segment(rst_followup *f, const conn_stream *st, const tcp_segment *seg, rst_diagnosis *diag)
{
    unsigned side = conn_side_of(st, seg);
    /* the receiver's SYN-ACK again, with its first ISN: its request socket outlived the RST */
    gboolean synack_again = side != f->sender_side && (seg->flags & (TCP_FLAG_SYN | TCP_FLAG_ACK))
        == (TCP_FLAG_SYN | TCP_FLAG_ACK) && seg->seq + 1 == f->receiver_next_seq;
    if ((seg->flags & TCP_FLAG_SYN) && !synack_again)
        f->new_connection = TRUE;   /* the same ports again: what follows belongs to it */
    if (f->new_connection || (seg->flags & TCP_FLAG_RST))
        return FALSE;
    char text[120];

    if (side == f->sender_side) {
        if (f->sender_spoke)
            return FALSE;
        f->sender_spoke = TRUE;
        snprintf(text, sizeof text, "the %s kept sending after this RST (frame %u): it did not send it",
                 sender_name(diag), seg->frame);
        append_origin_note(diag, text);
        diag->origin = ORIGIN_MIDDLEBOX;
        if (diag->cause != CAUSE_BLOCKED && diag->cause != CAUSE_IDLE_TIMEOUT && diag->cause != CAUSE_INJECTED) {
            char evidence[RST_EVIDENCE_MAX];
            snprintf(evidence, sizeof evidence, "forged in the %s's name while it kept talking (frame %u): an "
                     "on-path device injected this RST", sender_name(diag), seg->frame);
            rst_set_cause(diag, CAUSE_INJECTED, KR_NONE, CONFIDENCE_HIGH, evidence);
        }
        return TRUE;
    }

    gboolean first = !f->receiver_spoke;
    f->receiver_spoke = TRUE;
    if (diag->ignored != IGNORED_NO)
        return FALSE;
    int64_t in_flight = f->receiver_rtt_us >= 0 ? 2 * f->receiver_rtt_us + RTT_FLOOR_US : IN_FLIGHT_GUESS_US;
    /* Linux since a28c4fcbf774 (July 2026) keeps a request socket (SYN-RECEIVED) that gets an
     * in-window RST that is not exact and answers it with a challenge ACK, as RFC 5961 asks of
     * synchronized states; before, such a RST removed it */
    if (synack_again) {
        diag->ignored = diag->acceptable == ACCEPT_IN_WINDOW ? IGNORED_CHALLENGE_ACK : IGNORED_TRAFFIC_CONTINUED;
        return TRUE;
    }
    /* A challenge ACK answers the RST at once: since 42726ec644cb (April 2026) Linux also sends
     * them for segments acknowledging unsent data (SEG.ACK > SND.NXT), so a late duplicate ACK
     * may answer another segment */
    if (first && seg->payload_len == 0 && !(seg->flags & TCP_FLAG_FIN) && seg->ack == f->receiver_last_ack
        && seg->seq == f->receiver_next_seq && diag->acceptable == ACCEPT_IN_WINDOW
        && seg->time_us - f->rst_time_us <= in_flight) {
        diag->ignored = IGNORED_CHALLENGE_ACK;
        return TRUE;
    }
    uint32_t end = seg->seq + seg->payload_len + ((seg->flags & TCP_FLAG_FIN) ? 1 : 0);
    if (seq_after(end, f->receiver_next_seq) && seg->time_us - f->rst_time_us > in_flight) {
        diag->ignored = IGNORED_TRAFFIC_CONTINUED;
        return TRUE;
    }
    return FALSE;
}
