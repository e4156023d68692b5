/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rst_origin.c - who really sent a RST (see rst_origin.h).
 *
 * The signs are one table (origin_signs), each with its weight and why it
 * holds; weigh_signs() turns the signs present into a verdict, top to
 * bottom: a decisive sign of a device makes a middlebox, then a decisive
 * sign of the host an endpoint, then two independent weak signs of a device
 * a middlebox; one weak sign alone leaves the origin unknown and is named in
 * the evidence. Frames after the RST may add a decisive sign later (the
 * claimed sender kept talking, or sprayed more RSTs).
 */
#include "rst_origin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- attribution ------------------------------------------------------------ */

typedef struct {
    const conn_stream *st;
    const tcp_segment *rst;
    const path_facts *facts;
    const conn_side *me;
    const conn_side *peer;
    unsigned me_idx;
    rst_diagnosis *diag;
    gboolean window_code_counts;   /* a NetScaler window code with corroboration */
} attribution;

static gboolean small_id_step(uint16_t from, uint16_t to, unsigned max)
{
    uint16_t step = (uint16_t)(to - from);
    return step >= 1 && step <= max;
}

/* Each sign below writes its note and returns TRUE when present. */

static gboolean device_names_itself(const attribution *a, char *note, size_t size)
{
    const rst_vendor_info *v = a->facts->vendor;
    if (!v || v->needs_corroboration || !v->from_device)
        return FALSE;
    snprintf(note, size, "%s", v->text);
    return TRUE;
}

static gboolean stack_names_its_reason(const attribution *a, char *note, size_t size)
{
    const rst_vendor_info *v = a->facts->vendor;
    if (!v || v->needs_corroboration || v->from_device || !v->has_kernel_reason)
        return FALSE;
    snprintf(note, size, "it carries its stack's own reason (%s)", rst_kernel_reason_token(v->kernel_reason));
    return TRUE;
}

/* The TTL/hop limit the host's own packets arrive with, from all its streams. */
static gboolean ttl_known(const attribution *a)
{
    return a->facts->sender.ttl_min != 0 && a->rst->ttl != 0;
}

/* The RST's TTL minus the nearest TTL in the host's range (0 inside it). */
static int ttl_delta(const attribution *a)
{
    const host_facts *host = &a->facts->sender;
    uint8_t ttl = a->rst->ttl;
    return ttl > host->ttl_max ? ttl - host->ttl_max : ttl < host->ttl_min ? ttl - host->ttl_min : 0;
}

/* "63", or "62-64" for a host seen over several paths (or a NAT's many hosts). */
static void format_ttl_range(char *buf, size_t size, const host_facts *host)
{
    if (host->ttl_min == host->ttl_max)
        snprintf(buf, size, "%u", host->ttl_min);
    else
        snprintf(buf, size, "%u-%u", host->ttl_min, host->ttl_max);
}

/* The claimed sender sent only its SYN here, and the RST has that SYN's TTL: a
 * raw-socket tool (a scanner) built both, whatever TTL its host's kernel uses. */
static gboolean ttl_as_own_syn(const attribution *a)
{
    return (a->me->flags & SIDE_SENT_SYN) && !(a->me->flags & SIDE_SENT_PLAIN) && a->rst->ttl != 0
        && a->rst->ttl == a->me->ttl;
}

static gboolean ttl_unlike_host(const attribution *a, char *note, size_t size)
{
    const host_facts *host = &a->facts->sender;
    int delta = ttl_known(a) ? ttl_delta(a) : 0;
    if (delta == 0 || ttl_as_own_syn(a))
        return FALSE;
    char usual[16];
    format_ttl_range(usual, sizeof usual, host);
    snprintf(note, size, "TTL %u, but the %s's own packets arrive with %s: sent %d hop%s %s", a->rst->ttl,
             rst_role_name(a->diag->sender), usual, abs(delta), abs(delta) == 1 ? "" : "s",
             delta > 0 ? "closer to the capture point" : "further away");
    return TRUE;
}

static gboolean ttl_as_host(const attribution *a, char *note, size_t size)
{
    if (ttl_as_own_syn(a)) {
        snprintf(note, size, "TTL %u, as the %s's own SYN here", a->rst->ttl, rst_role_name(a->diag->sender));
        return TRUE;
    }
    if (!ttl_known(a) || ttl_delta(a) != 0)
        return FALSE;
    snprintf(note, size, "TTL %u, as the %s's own packets", a->rst->ttl, rst_role_name(a->diag->sender));
    return TRUE;
}

/* A bare RST at a sequence number the sender has sent may answer one of the peer's
 * segments: a stack answers each segment that crosses its reset (RFC 9293
 * 3.10.7.1), copying its ack -- a keep-alive race's request, then the FIN's ACK;
 * with latency, every ACK still in flight; and an ACK the capture missed looks
 * like nothing from the peer in between. An injector aims into the window instead.
 * With nothing of the sender's captured but RSTs, its sequence space is unknown:
 * its bare RSTs may answer what the peer sent before the capture began. */
static gboolean answers_peer_segment(const conn_stream *st, unsigned sender, const tcp_segment *rst)
{
    /* with the ACK bit too (a late ACK after close draws a RST from Windows, MS
     * KB152474): at an ack the peer sent before its latest, a sequence number
     * behind the sender's, where no injector aims */
    if (rst->flags & TCP_FLAG_ACK)
        return conn_seq_acked(st, sender, rst->seq) && rst->seq != st->side[!sender].last_ack;
    return conn_seq_sent(st, sender, rst->seq);
}

static gboolean injector_burst(const attribution *a, char *note, size_t size)
{
    const path_facts *f = a->facts;
    if (!(f->has_prev_rst && f->prev_rst_side == a->me_idx && (a->me->flags & SIDE_SENT_LAST)
          && f->prev_rst_seq != a->rst->seq && f->prev_rst_gap_us >= 0 && f->prev_rst_gap_us <= BURST_WINDOW_US)
        || answers_peer_segment(a->st, a->me_idx, a->rst))
        return FALSE;
    snprintf(note, size, "a second RST with its sequence number moved by %d and nothing from the %s in between",
             (int32_t)(a->rst->seq - f->prev_rst_seq), a->diag->sender == SENDER_CLIENT ? "server" : "peer");
    return TRUE;
}

/* The RST's IPv4 ID follows the host's own counter: the connection's (Linux
 * counts per socket) or the one it uses for everything (Windows). */
static gboolean ipid_continues(const attribution *a)
{
    if (a->rst->ip_id <= 0)
        return FALSE;
    uint16_t id = (uint16_t)a->rst->ip_id;
    const host_facts *host = &a->facts->sender;
    return ((a->me->flags & SIDE_IPID_SEQUENTIAL) && small_id_step(a->me->ip_id, id, CONN_IPID_STEP_MAX))
        || (host_ipid_pattern(host) == IPID_GLOBAL && small_id_step(host->id_last, id, CONN_IPID_STEP_MAX));
}

static gboolean ipid_continues_host(const attribution *a, char *note, size_t size)
{
    if (!ipid_continues(a))
        return FALSE;
    ipid_pattern ids = host_ipid_pattern(&a->facts->sender);
    snprintf(note, size, "IP ID 0x%04x continues the %s's own counter%s%s%s", (unsigned)a->rst->ip_id,
             rst_role_name(a->diag->sender), ids == IPID_UNKNOWN ? "" : " (", ids == IPID_UNKNOWN ? "" : host_ipid_pattern_text(ids),
             ids == IPID_UNKNOWN ? "" : ")");
    return TRUE;
}

static gboolean ipid_copied(const attribution *a, char *note, size_t size)
{
    const host_facts *host = &a->facts->sender;
    if (a->rst->ip_id <= 0 || !(a->peer->flags & SIDE_SENT_LAST) || (uint16_t)a->rst->ip_id != a->peer->ip_id)
        return FALSE;
    /* a host that always sends this ID (hand-made traces) copies nothing */
    if (host->id_packets == 0 || (host->id_as_first == host->id_packets && host->id_first == a->peer->ip_id))
        return FALSE;
    snprintf(note, size, "IP ID 0x%04x copied from the segment it answers (the %s's own IDs are %s)",
             (unsigned)a->rst->ip_id, rst_role_name(a->diag->sender), host_ipid_pattern_text(host_ipid_pattern(host)));
    return TRUE;
}

static gboolean ipid_off_counter(const attribution *a, char *note, size_t size)
{
    /* only a host counting per connection: a counter shared with other
     * traffic jumps between two packets of one connection */
    if (a->rst->ip_id <= 0 || !(a->me->flags & SIDE_IPID_SEQUENTIAL)
        || host_ipid_pattern(&a->facts->sender) != IPID_PER_CONNECTION)
        return FALSE;
    uint16_t id = (uint16_t)a->rst->ip_id;
    uint16_t step = (uint16_t)(id - a->me->ip_id);
    if (step <= 16 * CONN_IPID_STEP_MAX || step >= 65536 - 16 * CONN_IPID_STEP_MAX)
        return FALSE;
    snprintf(note, size, "IP ID 0x%04x, off the %s's connection counter (0x%04x)", id, rst_role_name(a->diag->sender),
             a->me->ip_id);
    return TRUE;
}

/* The segment the RST answers, when its numbers show it: a passive RST's
 * sequence number is that segment's ack (RFC 9293 3.10.7.1), and a RST|ACK
 * acknowledges the data, SYN or FIN that segment carried. NULL-like FALSE
 * when the RST answers nothing visible (a timer, an application's abort) or
 * the stream's latest segment was a RST (no RST answers a RST). */
static gboolean answers_latest_segment(const attribution *a)
{
    const conn_side *peer = a->peer;
    if (!(peer->flags & SIDE_SENT_LAST) || (peer->flags & SIDE_SENT_RST) || a->diag->idle_us < 0)
        return FALSE;
    if (!(a->rst->flags & TCP_FLAG_ACK))
        return (peer->flags & SIDE_ACKED) && a->rst->seq == peer->last_ack;
    gboolean carried_new = a->diag->phase == PHASE_SYN
        || (peer->payload_bytes && peer->last_data_tick == a->st->last_tick);
    return carried_new && a->rst->ack == peer->next_seq;
}

static gboolean faster_than_round_trip(const attribution *a, char *note, size_t size)
{
    const host_facts *host = &a->facts->sender;
    int64_t answer_us = a->diag->idle_us;
    /* a keep-alive race's RST answers the request, not the FIN's ACK that may follow it */
    if (a->diag->cause == CAUSE_KEEPALIVE_RACE)
        answer_us = conn_ticks_us(conn_tick(a->rst->time_us), a->peer->last_data_tick);
    else if (!answers_latest_segment(a))
        return FALSE;
    if (!host_rtt_well_measured(host) || answer_us < 0 || answer_us * 2 >= host->rtt_us)
        return FALSE;
    char answer[32], round_trip[32];
    rst_format_duration(answer, sizeof answer, answer_us);
    rst_format_duration(round_trip, sizeof round_trip, host->rtt_us);
    snprintf(note, size, "answered %s after the segment it resets, but the %s is %s away (round trip, %u "
             "handshakes)", answer, rst_role_name(a->diag->sender), round_trip, host->rtt_samples);
    return TRUE;
}

static gboolean answers_own_handshake(const attribution *a, char *note, size_t size)
{
    const conn_side *me = a->me, *peer = a->peer;
    if (!(me->flags & SIDE_SENT_SYN) || (me->flags & SIDE_SENT_PLAIN) || !(peer->flags & SIDE_SENT_SYNACK)
        || (a->rst->flags & TCP_FLAG_ACK) || !(peer->flags & SIDE_ACKED) || a->rst->seq != peer->last_ack)
        return FALSE;
    snprintf(note, size, "answers the SYN-ACK to its own SYN: its kernel had no socket for it (a scanner's "
             "raw SYN, or a connect given up)");
    return TRUE;
}

/* How much a sign weighs. A host's signs can be imitated by a device
 * (copying a TTL or an IP ID), so no host sign outweighs a decisive sign
 * of a device; a device's weak sign can be chance, so one is not enough. */
typedef enum { WEIGHT_HOST, WEIGHT_HOST_DECISIVE, WEIGHT_DEVICE_WEAK, WEIGHT_DEVICE_DECISIVE } sign_weight;

/* What a sign reads: weak signs reading the same thing are one sign. */
typedef enum { READS_VENDOR, READS_TTL, READS_SEQUENCE, READS_IPID, READS_TIMING, READS_HANDSHAKE } sign_reads;

typedef struct {
    const char *name;
    sign_weight weight;
    sign_reads reads;
    /* TRUE when present, with its note; NULL: read from the frames after the RST (rst_follow_segment) */
    gboolean (*present)(const attribution *a, char *note, size_t size);
    const char *source;   /* why the sign holds */
} origin_sign;

static const origin_sign origin_signs[] = {
    { "the device's own reason code", WEIGHT_DEVICE_DECISIVE, READS_VENDOR, device_names_itself,
      "NetScaler and F5 documentation; draft-ietf-tcpm-rst-diagnostic-payload" },
    { "TTL / hop limit unlike the claimed host's own packets on all its streams (and unlike its own SYN "
      "when it sent nothing else here)", WEIGHT_DEVICE_DECISIVE,
      READS_TTL, ttl_unlike_host,
      "a host sends every packet, RSTs included, with one initial TTL (RFC 1122 3.2.1.7) over one path" },
    { "a second RST, sequence number moved, nothing from the peer in between", WEIGHT_DEVICE_DECISIVE,
      READS_SEQUENCE, injector_burst, "a stack answers each segment once (RFC 9293 3.10.7); injectors spray" },
    { "later: another such RST right after this one", WEIGHT_DEVICE_DECISIVE, READS_SEQUENCE, NULL,
      "as above, for the burst's first RST" },
    { "later: the claimed sender goes on in its sequence space within 10 s", WEIGHT_DEVICE_DECISIVE,
      READS_SEQUENCE, NULL, "RFC 9293 3.10.7: a RST's sender has deleted the connection" },
    { "the stack's own Linux reason in the RST's payload", WEIGHT_HOST_DECISIVE, READS_VENDOR,
      stack_names_its_reason, "draft-ietf-tcpm-rst-diagnostic-payload Appendix A: a Linux patch that writes "
      "sk_rst_reason into its RSTs" },
    { "IP ID continues the claimed host's own counter", WEIGHT_HOST_DECISIVE, READS_IPID, ipid_continues_host,
      "Linux numbers a live socket's packets, RSTs included, with the socket's counter (ip_select_ident_segs); "
      "Windows uses one counter" },
    { "IP ID copied from the segment it answers, from a host that does not always send that ID",
      WEIGHT_DEVICE_WEAK, READS_IPID, ipid_copied,
      "some devices copy it; chance and hand-made traces (one ID everywhere) do too" },
    { "IP ID far off the connection's counter, from a host counting per connection", WEIGHT_DEVICE_WEAK,
      READS_IPID, ipid_off_counter,
      "Linux's live-socket RSTs take the next ID, its no-socket RSTs 0; a counter shared by all connections "
      "jumps and proves nothing" },
    { "answer sooner than half the round trip, timed from the segment whose numbers it copies",
      WEIGHT_DEVICE_WEAK, READS_TIMING, faster_than_round_trip,
      "an answer needs the round trip; needs two handshakes of 1 ms or more, and an RST that demonstrably "
      "answers (seq = its ack, or acking its data)" },
    { "TTL / hop limit as the claimed host's own packets, or as its own SYN when it sent nothing else here",
      WEIGHT_HOST, READS_TTL, ttl_as_host,
      "a device can copy it; a scanner builds its SYN and its RST with one TTL of its own" },
    { "the initiator answering the SYN-ACK to its own SYN", WEIGHT_HOST, READS_HANDSHAKE, answers_own_handshake,
      "RFC 9293 3.10.7.3: a scanner's kernel (raw SYN, no socket) or a connect given up" },
};

static const char *const weight_names[] = {
    [WEIGHT_HOST] = "endpoint, weak", [WEIGHT_HOST_DECISIVE] = "endpoint, decisive",
    [WEIGHT_DEVICE_WEAK] = "device, weak", [WEIGHT_DEVICE_DECISIVE] = "device, decisive",
};

gboolean rst_origin_sign_describe(unsigned i, const char **name, const char **weight, const char **source)
{
    if (i >= G_N_ELEMENTS(origin_signs))
        return FALSE;
    *name = origin_signs[i].name;
    *weight = weight_names[origin_signs[i].weight];
    *source = origin_signs[i].source;
    return TRUE;
}

#define ORIGIN_NOTE_MAX 200

/* Notes are joined with "; " and cut at the field's size. */
static void append_note(char *text, size_t size, const char *note)
{
    rst_text_append(text, size, "; ", "%s", note);
}

/* The verdict from the signs present, read top to bottom. */
static rst_origin weigh_signs(unsigned weak_device_reads, gboolean device_decisive, gboolean host_decisive,
                              gboolean host, const char **why)
{
    gboolean weak_signs_two = (weak_device_reads & (weak_device_reads - 1)) != 0;
    *why = "";
    if (device_decisive)
        return ORIGIN_MIDDLEBOX;
    if (host_decisive)
        return ORIGIN_ENDPOINT;
    if (weak_signs_two) {
        *why = "two independent weak signs of a device: ";
        return ORIGIN_MIDDLEBOX;
    }
    if (weak_device_reads) {
        *why = "one weak sign of a device, not enough alone: ";
        return ORIGIN_UNKNOWN;
    }
    return host ? ORIGIN_ENDPOINT : ORIGIN_UNKNOWN;
}

static void weigh_origin(attribution *a)
{
    char notes[RST_ORIGIN_EVIDENCE_MAX] = "", note[ORIGIN_NOTE_MAX];
    unsigned weak_device_reads = 0;
    gboolean device_decisive = FALSE, host_decisive = FALSE, host = FALSE;
    for (size_t i = 0; i < G_N_ELEMENTS(origin_signs); i++) {
        const origin_sign *sign = &origin_signs[i];
        if (!sign->present || !sign->present(a, note, sizeof note))
            continue;
        append_note(notes, sizeof notes, note);
        switch (sign->weight) {
        case WEIGHT_DEVICE_DECISIVE: device_decisive = TRUE; break;
        case WEIGHT_DEVICE_WEAK: weak_device_reads |= 1u << sign->reads; break;
        case WEIGHT_HOST_DECISIVE: host_decisive = TRUE; break;
        case WEIGHT_HOST: host = TRUE; break;
        }
    }
    if (a->facts->sender.ttl_min == 0)
        append_note(notes, sizeof notes, "no earlier packet from this address to compare TTLs with");
    const char *why;
    a->diag->origin = weigh_signs(weak_device_reads, device_decisive, host_decisive, host, &why);
    snprintf(a->diag->origin_evidence, sizeof a->diag->origin_evidence, "%s%s", why, notes);

    a->diag->ttl_delta_known = ttl_known(a);
    a->diag->ttl_delta = a->diag->ttl_delta_known ? ttl_delta(a) : 0;
}

/* A NetScaler code in the window counts only when the signs already make a
 * middlebox, and never when it is the window the sender advertises anyway
 * (Wireshark decodes the codes for any RST, packet-tcp.c). */
static void weigh_window_code(attribution *a)
{
    const rst_vendor_info *v = a->facts->vendor;
    if (!v || !v->needs_corroboration)
        return;
    char note[RST_ORIGIN_EVIDENCE_MAX];
    gboolean own_window = (a->me->flags & SIDE_SEEN) && a->me->window_code == conn_window_encode(a->rst->window);
    a->window_code_counts = !own_window && a->diag->origin == ORIGIN_MIDDLEBOX;
    if (own_window)
        snprintf(note, sizeof note, "window %u is the %s's own advertised window, not a NetScaler code", v->code,
                 rst_role_name(a->diag->sender));
    else if (a->window_code_counts)
        snprintf(note, sizeof note, "%s, corroborated by the signs above", v->text);
    else
        snprintf(note, sizeof note, "window %u would be %s, but nothing else points to a NetScaler: not counted",
                 v->code, v->text);
    append_note(a->diag->origin_evidence, sizeof a->diag->origin_evidence, note);
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
                 rst_role_name(d->sender));
        rst_set_cause(d, CAUSE_BLOCKED, KR_NONE, CONFIDENCE_HIGH, evidence);
    } else if (timer) {
        snprintf(evidence, sizeof evidence, "a device in the path reset the connection after %s of silence%s; "
                 "that fits the %s idle timer of %u s", quiet_text,
                 answers ? ", when traffic resumed" : "", timer->name, timer->seconds);
        rst_set_cause(d, CAUSE_IDLE_TIMEOUT, KR_NONE, CONFIDENCE_HIGH, evidence);
    } else if (answers && a->peer->payload_bytes > 0 && a->me->payload_bytes == 0 && a->peer->writes <= 1) {
        snprintf(evidence, sizeof evidence, "a device in the path answered the first data (%u bytes) in the %s's "
                 "name before it said anything: a filter rejected the request", a->peer->payload_bytes,
                 rst_role_name(d->sender));
        rst_set_cause(d, CAUSE_BLOCKED, KR_NONE, CONFIDENCE_HIGH, evidence);
    } else {
        snprintf(evidence, sizeof evidence, "a device in the path reset the established connection in the %s's "
                 "name (%s after %s of silence; no known idle timer fits, see the idle_timers preference)",
                 rst_role_name(d->sender), answers ? "answering a segment" : "unprompted", quiet_text);
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

/* Cause refinements that come from outside the stream: the device's own
 * reason, a proxy passing a reset on, a device's timer or filter. */
static void refine_cause(attribution *a)
{
    rst_diagnosis *diag = a->diag;
    const path_facts *facts = a->facts;
    const rst_vendor_info *vendor = facts->vendor;
    if (vendor && vendor->needs_corroboration && !a->window_code_counts)
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
                 "connection (frame %u, stream %u): a proxy passing the reset on", rst_role_name(diag->sender), gap,
                 facts->relay_frame, facts->relay_stream);
        /* a proxy passes a reset on by aborting on purpose (SO_LINGER{1,0}), having read
         * what it forwarded */
        rst_set_cause(diag, CAUSE_RELAYED, diag->origin == ORIGIN_MIDDLEBOX ? KR_NONE : KR_TCP_STATE,
                      CONFIDENCE_HIGH, evidence);
        return;
    }
    if (diag->origin == ORIGIN_MIDDLEBOX)
        refine_device_cause(a);
    if (vendor && vendor->has_kernel_reason)
        rst_vendor_check_guess(vendor, diag);
    else if (vendor)
        prefix_evidence(diag, vendor->text);
}

static const char *const stack_names[STACK_COUNT] = { "unknown", "Linux", "Windows", "BSD" };

/* The stack of the host that sent it; Linux's reasons only for Linux's RSTs. */
static void name_stack(attribution *a)
{
    rst_diagnosis *d = a->diag;
    if (d->origin == ORIGIN_MIDDLEBOX) {
        d->stack = STACK_UNKNOWN;
        g_strlcpy(d->stack_evidence, "a device in the path sent it, not a host's stack", sizeof d->stack_evidence);
        return;
    }
    d->stack = host_stack_of_reset(&a->facts->sender, a->rst, ipid_continues(a), d->stack_evidence,
                                   sizeof d->stack_evidence);
    if (d->stack != STACK_WINDOWS && d->stack != STACK_BSD)
        return;
    if (d->kernel_reason != KR_NONE)
        d->kernel_reason = KR_NOT_LINUX;
    char prefix[160];
    gboolean unacked = (a->peer->flags & SIDE_ACKED) && a->peer->last_ack != a->me->next_seq
        && d->shape == SHAPE_ACTIVE;
    /* Windows gives up on unacknowledged data after TcpMaxDataRetransmissions (5 by
     * default) and may reset then; Linux stays silent (taxonomy 8.4, nmap-os-db) */
    snprintf(prefix, sizeof prefix, "%s stack, so no Linux kernel reason%s", stack_names[d->stack],
             d->stack == STACK_WINDOWS && unacked ? "; Windows resets after its retransmission limit "
                                                    "(TcpMaxDataRetransmissions, 5 by default) with data unacknowledged"
                                                  : "");
    prefix_evidence(d, prefix);
}

void rst_attribute(const conn_stream *st, const tcp_segment *rst, const path_facts *facts, rst_diagnosis *diag)
{
    attribution a = { .st = st, .rst = rst, .facts = facts, .diag = diag };
    a.me_idx = diag->sender_side;
    a.me = &st->side[a.me_idx];
    a.peer = &st->side[!a.me_idx];
    weigh_origin(&a);
    weigh_window_code(&a);
    refine_cause(&a);
    name_stack(&a);
}

/* ---- after the RST ------------------------------------------------------------- */

void rst_followup_start(rst_followup *f, const conn_stream *st, const tcp_segment *rst, unsigned sender,
                        int64_t receiver_rtt_us)
{
    const conn_side *receiver = &st->side[!sender];
    memset(f, 0, sizeof *f);
    f->sender_side = sender;
    f->rst_seq = rst->seq;
    f->sender_next_seq = st->side[sender].next_seq;
    f->receiver_next_seq = receiver->next_seq;
    f->receiver_last_ack = receiver->last_ack;
    /* A live sender sends within the window its peer offered (RFC 9293 3.8.6); a new
     * connection on the same ports starts from a new ISN, which Linux moves on by
     * about 15 million a second (secure_tcp_seq, RFC 6528). At least an unscaled
     * window's 64 KB, whatever the peer showed. */
    f->sender_reach = receiver->peak_window_code
        ? MAX(conn_window_bytes_max(receiver->peak_window_code), (uint32_t)G_MAXUINT16) : CONN_SEQ_SPAN_MAX;
    f->rst_time_us = rst->time_us;
    f->receiver_rtt_us = receiver_rtt_us;
}

/* Without a measured round trip, data this long after a RST was not already in flight. */
#define IN_FLIGHT_GUESS_US 500000
/* A socket that outlives a RST forged in its name goes on sending within its
 * retransmission timeouts; much later the same ports may be a new connection
 * whose SYN was not captured, so later segments prove nothing. */
#define KEPT_TALKING_WINDOW_US (10 * G_GINT64_CONSTANT(1000000))

/* Later frames proved the RST was not the claimed sender's: a decisive sign. */
static void mark_forged(rst_diagnosis *diag, const char *note, uint32_t frame)
{
    append_note(diag->origin_evidence, sizeof diag->origin_evidence, note);
    diag->origin = ORIGIN_MIDDLEBOX;
    diag->stack = STACK_UNKNOWN;
    g_strlcpy(diag->stack_evidence, "a device in the path sent it, not a host's stack", sizeof diag->stack_evidence);
    if (diag->kernel_reason == KR_NOT_LINUX)
        diag->kernel_reason = KR_NONE;
    if (diag->cause != CAUSE_BLOCKED && diag->cause != CAUSE_IDLE_TIMEOUT && diag->cause != CAUSE_INJECTED) {
        char evidence[RST_EVIDENCE_MAX];
        snprintf(evidence, sizeof evidence, "forged in the %s's name (frame %u shows it): an on-path device "
                 "injected this RST", rst_role_name(diag->sender), frame);
        rst_set_cause(diag, CAUSE_INJECTED, KR_NONE, CONFIDENCE_HIGH, evidence);
    }
}

static gboolean sender_follows(rst_followup *f, const conn_stream *st, const tcp_segment *seg, rst_diagnosis *diag)
{
    char text[160];
    if (seg->flags & TCP_FLAG_RST) {
        /* a stack answers each segment once: another RST at once, at another
         * sequence number, with nothing from the peer in between, is a spray */
        if (f->receiver_spoke || f->sender_spoke || seg->seq == f->rst_seq
            || seg->time_us - f->rst_time_us > BURST_WINDOW_US || answers_peer_segment(st, f->sender_side, seg))
            return FALSE;
        f->sender_spoke = TRUE;
        snprintf(text, sizeof text, "another RST in the %s's name after this RST (frame %u, sequence moved by %d) "
                 "with nothing from the peer in between: an injector's burst", rst_role_name(diag->sender), seg->frame,
                 (int32_t)(seg->seq - f->rst_seq));
        mark_forged(diag, text, seg->frame);
        return TRUE;
    }
    /* a pure ACK carries the sender's next sequence number when it was sent: one
     * behind the sender's data before the RST left before that data and was
     * reordered on the path, so it says nothing of after the RST */
    if (seg->payload_len == 0 && !(seg->flags & (TCP_FLAG_SYN | TCP_FLAG_FIN))
        && seq_after(f->sender_next_seq, seg->seq))
        return FALSE;
    gboolean soon = seg->time_us - f->rst_time_us <= KEPT_TALKING_WINDOW_US;
    /* a segment further from the sender's sequence space than its peer's window is
     * not that connection's (a new one whose SYN the capture missed) */
    gboolean same_connection = (uint32_t)(seg->seq - f->sender_next_seq + f->sender_reach)
                               <= 2 * f->sender_reach;
    if (f->sender_spoke || !soon || !same_connection) {
        f->sender_spoke = TRUE;
        return FALSE;
    }
    f->sender_spoke = TRUE;
    snprintf(text, sizeof text, "the %s kept sending after this RST (frame %u): it did not send it",
             rst_role_name(diag->sender), seg->frame);
    mark_forged(diag, text, seg->frame);
    return TRUE;
}

gboolean rst_follow_segment(rst_followup *f, const conn_stream *st, const tcp_segment *seg, rst_diagnosis *diag)
{
    unsigned side = conn_side_of(st, seg);
    /* the receiver's SYN-ACK again, with its first ISN: its request socket outlived the RST */
    gboolean synack_again = side != f->sender_side && (seg->flags & (TCP_FLAG_SYN | TCP_FLAG_ACK))
        == (TCP_FLAG_SYN | TCP_FLAG_ACK) && seg->seq + 1 == f->receiver_next_seq;
    if ((seg->flags & TCP_FLAG_SYN) && !synack_again)
        f->new_connection = TRUE;   /* the same ports again: what follows belongs to it */
    if (f->new_connection)
        return FALSE;
    if (side == f->sender_side)
        return sender_follows(f, st, seg, diag);
    if (seg->flags & TCP_FLAG_RST)
        return FALSE;

    gboolean first = !f->receiver_spoke;
    f->receiver_spoke = TRUE;
    if (diag->ignored != IGNORED_NO)
        return FALSE;
    int64_t in_flight = f->receiver_rtt_us >= 0 ? 2 * f->receiver_rtt_us + HOST_RTT_FLOOR_US : IN_FLIGHT_GUESS_US;
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
