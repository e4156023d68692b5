/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_tracker.c - libFuzzer harness for the state machine and the classifier.
 *
 * The input is decoded into TCP segments of up to four interleaved streams,
 * fed to conn_track/rst_classify in the order track-rstdiag.c uses (a RST
 * is classified against the state before it, then tracked), and every
 * verdict and state is checked against invariants.
 *
 * Input layout (little-endian; missing bytes read as 0):
 *   header: response timeout (3 bytes), then per stream: port A (2), port B (2),
 *           key byte (bit 0: both ends share one endpoint key)
 *   segments, until the input ends:
 *     control (1): bits 0-1 stream, bit 2 sender (0: A, 1: B), bits 3-5 time
 *                  move, bits 6-7 frames skipped before it
 *     flags (2), masked to TCP's 12 flag bits
 *     modes (1): bits 0-2 seq, bits 3-4 ack, bits 5-6 payload length, bit 7 window
 *     then the operands the modes ask for, a TTL byte, and the time operand
 * Sequence and ack numbers are mostly moves relative to what each side sent
 * and acknowledged so far (fuzz/make_seeds.py keeps the same model), so
 * mutations stay meaningful; raw values cover the rest, wraparound included.
 */
#include "fuzz_common.h"

#include "conn_track.h"
#include "rst_classify.h"
#include "rst_origin.h"

#define STREAMS 4
#define RESPONSE_TIMEOUT_MAX_MS (3600 * 1000)   /* the preference's range, as packet-rstdiag.c */

enum { SEQ_NEXT, SEQ_PROBE, SEQ_MOVE16, SEQ_RAW, SEQ_PEER_ACK, SEQ_ZERO, SEQ_MOVE32, SEQ_BACK8 };
enum { ACK_PEER_NEXT, ACK_MOVE16, ACK_RAW, ACK_ZERO };
enum { TIME_SAME, TIME_US8, TIME_US16, TIME_MS16, TIME_S16, TIME_BACK_US16, TIME_MIN16, TIME_ABSOLUTE };

/* What the input's relative moves refer to: per stream and sender. */
typedef struct {
    gboolean seen;
    uint32_t next;      /* one past the highest sequence number it sent */
    uint32_t last_ack;  /* its latest ack number */
} sender_model;

typedef struct {
    uint16_t port[2];
    uint32_t key[2];
    sender_model model[2];
    conn_stream st;
    gboolean reset;           /* a RST was seen: later segments are followed */
    uint32_t rst_seq;
    unsigned rst_side;
    rst_followup followup;
    rst_diagnosis diag;       /* the latest RST's, as later segments change it */
} stream_slot;

static const uint16_t sticky_flags = SIDE_SEEN | SIDE_SENT_SYN | SIDE_SENT_SYNACK | SIDE_SENT_HS_ACK
    | SIDE_BAD_HS_ACK | SIDE_SENT_FIN | SIDE_FIN_FIRST | SIDE_SENT_RST | SIDE_ACKED | SIDE_DATA_AFTER_FIN
    | SIDE_FIN_ACK_LOST | SIDE_SENT_PLAIN;

static uint32_t decode_seq(fuzz_input *in, unsigned mode, const sender_model *me, const sender_model *peer)
{
    switch (mode) {
    case SEQ_NEXT:     return me->next;
    case SEQ_PROBE:    return me->next - 1;
    case SEQ_MOVE16:   return me->next + (uint32_t)(int32_t)(int16_t)fuzz_u16(in);
    case SEQ_RAW:      return fuzz_u32(in);
    case SEQ_PEER_ACK: return peer->last_ack;
    case SEQ_ZERO:     return 0;
    case SEQ_MOVE32:   return me->next + fuzz_u32(in);
    default:           return me->next - fuzz_u8(in);
    }
}

static uint32_t decode_ack(fuzz_input *in, unsigned mode, const sender_model *peer)
{
    switch (mode) {
    case ACK_PEER_NEXT: return peer->next;
    case ACK_MOVE16:    return peer->next + (uint32_t)(int32_t)(int16_t)fuzz_u16(in);
    case ACK_RAW:       return fuzz_u32(in);
    default:            return 0;
    }
}

static uint32_t decode_length(fuzz_input *in, unsigned mode)
{
    switch (mode) {
    case 0:  return 0;
    case 1:  return fuzz_u8(in);
    case 2:  return fuzz_u16(in);
    default: return fuzz_u32(in);
    }
}

/* Capture times stay within +-2^62 us, far beyond any capture's. */
static int64_t decode_time(fuzz_input *in, unsigned mode, int64_t now)
{
    switch (mode) {
    case TIME_SAME:      return now;
    case TIME_US8:       return now + fuzz_u8(in);
    case TIME_US16:      return now + fuzz_u16(in);
    case TIME_MS16:      return now + (int64_t)fuzz_u16(in) * 1000;
    case TIME_S16:       return now + (int64_t)fuzz_u16(in) * 1000000;
    case TIME_BACK_US16: return now - fuzz_u16(in);   /* captures are not always in time order */
    case TIME_MIN16:     return now + (int64_t)fuzz_u16(in) * 60000000;   /* past the 32-bit tick wrap */
    default:             return (int64_t)(fuzz_u64(in) >> 3) - ((int64_t)1 << 60);
    }
}

static gboolean in_list(rst_kernel_reason reason, const rst_kernel_reason *list)
{
    for (; *list != KR_COUNT; list++) {
        if (*list == reason)
            return TRUE;
    }
    return FALSE;
}

static void check_token(const char *token)
{
    fuzz_check_text(token, 64);
    FUZZ_CHECK(token[0] != '\0');
}

/* The verdict on seg against the state st it was classified with. */
static void check_diagnosis(const conn_stream *st, const tcp_segment *seg, const rst_diagnosis *d)
{
    uint32_t any = st->side[0].flags | st->side[1].flags;

    FUZZ_CHECK((unsigned)d->sender < SENDER_COUNT);
    FUZZ_CHECK((unsigned)d->phase < PHASE_COUNT);
    FUZZ_CHECK((unsigned)d->shape < SHAPE_COUNT);
    FUZZ_CHECK((unsigned)d->acceptable < ACCEPT_COUNT);
    FUZZ_CHECK((unsigned)d->cause < CAUSE_COUNT);
    FUZZ_CHECK((unsigned)d->confidence < CONFIDENCE_COUNT);
    FUZZ_CHECK((unsigned)d->kernel_reason < KR_COUNT);
    check_token(rst_sender_token(d->sender));
    check_token(rst_phase_token(d->phase));
    check_token(rst_shape_token(d->shape));
    check_token(rst_acceptability_token(d->acceptable));
    check_token(rst_cause_token(d->cause));
    check_token(rst_confidence_token(d->confidence));
    check_token(rst_kernel_reason_token(d->kernel_reason));
    fuzz_check_text(rst_cause_summary(d->cause), 512);
    FUZZ_CHECK(rst_cause_summary(d->cause)[0] != '\0');

    /* evidence: always some, bounded, printable */
    fuzz_check_text(d->evidence, RST_EVIDENCE_MAX);
    FUZZ_CHECK(d->evidence[0] != '\0');

    /* the kernel reason is one the cause allows (README "Causes") */
    if (d->cause == CAUSE_UNKNOWN)
        FUZZ_CHECK(d->kernel_reason == KR_NOT_SPECIFIED || d->kernel_reason == KR_NONE);
    else
        FUZZ_CHECK(in_list(d->kernel_reason, rst_cause_kernel_reasons(d->cause)));

    /* roles come from the handshake, else from the ports */
    FUZZ_CHECK(d->roles_guessed == !(any & (SIDE_SENT_SYN | SIDE_SENT_SYNACK)));
    if (d->sender == SENDER_UNKNOWN)
        FUZZ_CHECK(d->roles_guessed && seg->src_port == seg->dst_port);

    /* phases */
    gboolean only_syns = (any & SIDE_SENT_SYN) && !(any & (SIDE_SENT_SYNACK | SIDE_SENT_PLAIN));
    gboolean no_connection = !(any & (SIDE_SENT_SYN | SIDE_SENT_SYNACK | SIDE_ACKED));
    if (d->phase == PHASE_UNKNOWN) {
        /* no handshake, and closes only when nobody ever acked (probes) */
        FUZZ_CHECK(!(any & (SIDE_SENT_SYN | SIDE_SENT_SYNACK)));
        FUZZ_CHECK(no_connection || !(any & (SIDE_SENT_FIN | SIDE_SENT_RST)));
        FUZZ_CHECK(d->confidence != CONFIDENCE_HIGH);   /* lowered without the handshake */
    }
    if (d->phase == PHASE_DATA && d->roles_guessed)   /* payload, no handshake: lowered too */
        FUZZ_CHECK(d->confidence != CONFIDENCE_HIGH);
    FUZZ_CHECK((d->phase == PHASE_CLOSED)
               == (!only_syns && !no_connection
                   && ((any & SIDE_SENT_RST) || (st->side[0].flags & st->side[1].flags & SIDE_SENT_FIN))));
    if (seg->payload_len > 0)
        FUZZ_CHECK(d->shape == SHAPE_NONSTANDARD);

    /* alternatives: known values only, never the verdict itself, and they cap the confidence */
    FUZZ_CHECK((d->cause_alt >> CAUSE_COUNT) == 0 && !(d->cause_alt & (1u << d->cause)));
    FUZZ_CHECK((d->kernel_reason_alt >> KR_COUNT) == 0 && !(d->kernel_reason_alt & (1u << d->kernel_reason)));
    if (d->cause_alt || d->kernel_reason_alt)
        FUZZ_CHECK(d->confidence != CONFIDENCE_HIGH);

    /* numbers */
    FUZZ_CHECK((d->idle_us == -1) == conn_is_new(st));
    FUZZ_CHECK((d->age_us == -1) == !(any & SIDE_SENT_SYN));
    FUZZ_CHECK((uint64_t)d->bytes_client + d->bytes_server
               == (uint64_t)st->side[0].payload_bytes + st->side[1].payload_bytes);
    const conn_side *peer = &st->side[!conn_side_of(st, seg)];
    FUZZ_CHECK(d->trigger_frame == 0 || (d->shape == SHAPE_PASSIVE && d->trigger_frame <= peer->seg_frame));
    FUZZ_CHECK((d->response_us == -1) == (d->trigger_frame == 0));
}

/* What attribution and the follow-up may leave in a verdict. */
static void check_attribution(const rst_diagnosis *d)
{
    FUZZ_CHECK((unsigned)d->origin < ORIGIN_COUNT);
    FUZZ_CHECK((unsigned)d->ignored < IGNORED_COUNT);
    check_token(rst_origin_token(d->origin));
    check_token(rst_ignored_token(d->ignored));
    fuzz_check_text(d->origin_evidence, RST_ORIGIN_EVIDENCE_MAX);
    fuzz_check_text(d->evidence, RST_EVIDENCE_MAX);
    FUZZ_CHECK(d->evidence[0] != '\0');
    FUZZ_CHECK((unsigned)d->stack < STACK_COUNT);
    check_token(rst_stack_token(d->stack));
    fuzz_check_text(d->stack_evidence, RST_EVIDENCE_MAX);
    /* another stack's RST has no Linux reason */
    FUZZ_CHECK((d->kernel_reason == KR_NOT_LINUX) == ((d->stack == STACK_WINDOWS || d->stack == STACK_BSD)
                                                      && d->kernel_reason != KR_NONE));
    if (d->cause != CAUSE_UNKNOWN && d->kernel_reason != KR_NOT_LINUX)
        FUZZ_CHECK(in_list(d->kernel_reason, rst_cause_kernel_reasons(d->cause)));
    if (d->ttl_delta_known)
        FUZZ_CHECK(d->ttl_delta >= -255 && d->ttl_delta <= 255);
    if (d->origin == ORIGIN_MIDDLEBOX && d->cause != CAUSE_UNKNOWN)
        FUZZ_CHECK(d->kernel_reason == KR_NONE || d->cause == CAUSE_RELAYED || d->cause == CAUSE_STALE_CONNECTION
                   || d->cause == CAUSE_KEEPALIVE_TIMEOUT || d->cause == CAUSE_BAD_HANDSHAKE
                   || d->cause == CAUSE_DATA_AFTER_CLOSE || d->cause == CAUSE_ABORTIVE_CLOSE);
}

/* The state after seg, against the state before it. */
static void check_tracking(const conn_stream *before, const conn_stream *st, const tcp_segment *seg)
{
    unsigned me = conn_side_of(st, seg);
    FUZZ_CHECK(me <= 1);
    FUZZ_CHECK(!conn_is_new(st));
    FUZZ_CHECK(st->side[me].flags & SIDE_SEEN);
    FUZZ_CHECK((st->side[me].flags & SIDE_SENT_LAST) && !(st->side[!me].flags & SIDE_SENT_LAST));
    if (!(seg->flags & TCP_FLAG_RST))
        FUZZ_CHECK(st->side[me].seg_frame == seg->frame);
    FUZZ_CHECK(st->last_tick == conn_tick(seg->time_us));
    FUZZ_CHECK(st->first_key == (conn_is_new(before) ? seg->src_key : before->first_key));
    if (!conn_is_new(before))
        FUZZ_CHECK(st->first_tick == before->first_tick);
    FUZZ_CHECK(!(st->side[0].flags & st->side[1].flags & SIDE_FIN_FIRST));

    for (int i = 0; i < 2; i++) {
        const conn_side *s = &st->side[i], *was = &before->side[i], *peer = &st->side[!i];
        FUZZ_CHECK((was->flags & sticky_flags & ~s->flags) == 0);
        FUZZ_CHECK(s->payload_bytes >= was->payload_bytes);
        FUZZ_CHECK(s->peak_window_code >= s->window_code);
        FUZZ_CHECK(s->peak_window_code >= was->peak_window_code);
        FUZZ_CHECK(!(s->flags & SIDE_FIN_FIRST) || (s->flags & SIDE_SENT_FIN));
        FUZZ_CHECK(!((s->flags & SIDE_FIN_ACKED) && (s->flags & SIDE_FIN_ACK_LOST)));
        FUZZ_CHECK(!(s->flags & SIDE_DATA_AFTER_FIN) || (peer->flags & SIDE_SENT_FIN));
        FUZZ_CHECK(!(s->flags & SIDE_SENT_HS_ACK) || (s->flags & SIDE_SENT_SYN));
        FUZZ_CHECK(!(s->flags & ~SIDE_SEEN) || (s->flags & SIDE_SEEN));
        if (s->payload_bytes == 0)
            FUZZ_CHECK(!(s->flags & SIDE_DATA_AFTER_FIN));
        if (i != (int)me) {   /* the other side's state only changes through what we ack */
            /* an ack past its sequence space: it sent that much, the capture missed it */
            uint32_t unseen = seg->ack - was->next_seq;
            if ((seg->flags & TCP_FLAG_ACK) && !(seg->flags & TCP_FLAG_RST) && conn_side_tracked(was)
                && seq_after(seg->ack, was->next_seq))
                FUZZ_CHECK(s->next_seq == seg->ack && (s->flags & SIDE_UNSEEN_DATA)
                           && s->payload_bytes == MIN((uint64_t)was->payload_bytes + unseen, G_MAXUINT32));
            else
                FUZZ_CHECK(s->next_seq == was->next_seq && s->payload_bytes == was->payload_bytes);
            FUZZ_CHECK(s->last_ack == was->last_ack && s->window_code == was->window_code && s->ip_id == was->ip_id);
        }
    }
}

static void model_segment(sender_model *m, const tcp_segment *seg)
{
    if (seg->flags & TCP_FLAG_ACK)
        m->last_ack = seg->ack;
    if (seg->flags & TCP_FLAG_RST)
        return;
    uint32_t end = seg->seq + ((seg->flags & TCP_FLAG_SYN) ? 1 : 0) + seg->payload_len
        + ((seg->flags & TCP_FLAG_FIN) ? 1 : 0);
    if (!m->seen || seq_after(end, m->next))
        m->next = end;
    m->seen = TRUE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = { data, size };
    stream_slot streams[STREAMS];
    memset(streams, 0, sizeof streams);

    uint32_t timeout = fuzz_u16(&in) | (uint32_t)fuzz_u8(&in) << 16;
    idle_timer_table timers;
    char *timer_error = NULL;
    idle_timers_parse("site=3, other=90", &timers, &timer_error);
    rst_settings settings = { 1 + timeout % RESPONSE_TIMEOUT_MAX_MS, &timers };
    for (unsigned s = 0; s < STREAMS; s++) {
        streams[s].port[0] = fuzz_u16(&in);
        streams[s].port[1] = fuzz_u16(&in);
        uint8_t key = fuzz_u8(&in);
        streams[s].key[0] = 0x5eed0000u + 2 * s;
        streams[s].key[1] = (key & 1) ? streams[s].key[0] : streams[s].key[0] + 1;
    }

    uint32_t frame = 0;
    int64_t now = 0;
    conn_listeners *listeners = conn_listeners_new();   /* as in track-rstdiag.c, keyed by src_key */
    conn_recent recent = { 0 };
    while (!fuzz_done(&in)) {
        uint8_t control = fuzz_u8(&in);
        stream_slot *slot = &streams[control & 3];
        unsigned from = (control >> 2) & 1;
        frame += 1 + (control >> 6);

        tcp_segment seg = { .frame = frame };
        seg.flags = fuzz_u16(&in) & 0x0fff;
        uint8_t modes = fuzz_u8(&in);
        sender_model *me = &slot->model[from], *peer = &slot->model[!from];
        seg.seq = decode_seq(&in, modes & 7, me, peer);
        seg.ack = decode_ack(&in, (modes >> 3) & 3, peer);
        seg.payload_len = decode_length(&in, (modes >> 5) & 3);
        uint32_t window = fuzz_u16(&in);
        seg.window = (modes & 0x80) ? window << (fuzz_u8(&in) % 15) : window;
        seg.ttl = fuzz_u8(&in);
        /* no input bytes of its own (the corpus keeps its meaning): an IPv4 ID counting
         * with the frames, jumping when the TTL byte changes; IPv6 for odd TTLs */
        seg.ip_id = (seg.ttl & 1) ? -1 : (int32_t)(uint16_t)(frame + seg.ttl * 251u);
        now = decode_time(&in, (control >> 3) & 7, now);
        seg.time_us = now;
        seg.src_key = slot->key[from];
        seg.src_port = slot->port[from];
        seg.dst_port = slot->port[!from];

        /* as track_frame() in track-rstdiag.c: a datagram captured again teaches nothing
         * (IDs repeat here when the TTL byte changes); with an ID, a RST is never judged
         * so, without one its hop limit tells (a RST's copy shows its RST's verdict) */
        const conn_recent_segment *copied = seg.ip_id <= 0 ? conn_recent_copy(&recent, control & 3, &seg) : NULL;
        FUZZ_CHECK(copied == NULL || (copied->frame < frame && copied->ttl != seg.ttl));
        if (copied || conn_is_copy(&slot->st, &seg)) {
            FUZZ_CHECK(copied || (!(seg.flags & TCP_FLAG_RST) && seg.ip_id > 0));
            model_segment(me, &seg);
            continue;
        }
        conn_stream before = slot->st;
        if (slot->reset) {
            rst_follow_segment(&slot->followup, &slot->st, &seg, &slot->diag);
            check_attribution(&slot->diag);
        }
        if (seg.flags & TCP_FLAG_RST) {
            rst_diagnosis diag, again;
            rst_host_facts host = {
                .listening = conn_listeners_has(listeners, &seg.src_key, sizeof seg.src_key, seg.src_port),
                .queue_burst = conn_listeners_queue_burst(listeners, &seg.src_key, sizeof seg.src_key,
                                                          seg.src_port, seg.time_us),
            };
            rst_classify(&slot->st, &seg, &settings, &host, &diag);
            FUZZ_CHECK(memcmp(&before, &slot->st, sizeof before) == 0);
            check_diagnosis(&slot->st, &seg, &diag);
            rst_classify(&slot->st, &seg, &settings, &host, &again);   /* every pass gets the same verdict */
            FUZZ_CHECK(memcmp(&diag, &again, sizeof diag) == 0);

            /* as diagnose_reset(): facts from other streams come from the input too */
            rst_vendor_info vendor;
            host_facts sender;
            host_facts_init(&sender);
            tcp_segment earlier = seg;   /* one packet of the sender's on another stream */
            earlier.flags = TCP_FLAG_ACK;
            earlier.ttl = (uint8_t)(seg.ttl ^ (control & 0x38));
            host_learn_packet(&sender, &earlier, 1);
            host_facts_add_rtt(&sender, (int64_t)(seg.window & 0xfff) * 100);
            host_facts_add_rtt(&sender, (int64_t)(seg.window & 0xfff) * 100);
            path_facts facts = { .sender = sender, .timers = &timers, .has_prev_rst = slot->reset,
                                 .prev_rst_seq = slot->rst_seq, .prev_rst_side = slot->rst_side,
                                 .prev_rst_gap_us = seg.time_us - slot->followup.rst_time_us,
                                 .relay_frame = (control & 0x40) ? frame - 1 : 0, .relay_stream = 1,
                                 .relay_gap_us = control };
            if (rst_vendor_decode((uint16_t)seg.window, NULL, 0, &vendor))
                facts.vendor = &vendor;
            rst_attribute(&slot->st, &seg, &facts, &diag);
            check_attribution(&diag);
            slot->diag = diag;
            slot->reset = TRUE;
            slot->rst_seq = seg.seq;
            slot->rst_side = diag.sender_side;
            rst_followup_start(&slot->followup, &slot->st, &seg, diag.sender_side, sender.rtt_us);
        }
        conn_listeners_learn(listeners, &seg.src_key, sizeof seg.src_key, &slot->st, &seg);
        if (conn_starts_over(&slot->st, &seg))
            memset(&before, 0, sizeof before);   /* a new connection on the same 4-tuple */
        conn_track_segment(&slot->st, &seg);
        check_tracking(&before, &slot->st, &seg);
        model_segment(me, &seg);
    }
    conn_listeners_free(listeners);
    return 0;
}
