/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rst_origin.h - who really put a RST on the wire, and what happened after.
 *
 * Plain C + GLib, no libwireshark. rst_classify() says what an end host's
 * TCP stack would have meant by the RST; rst_attribute() then weighs the
 * signs, from a table, that a device in the path sent it in that host's name
 * or that the host did (TTL, IPv4 ID, timing against the measured round
 * trip, bursts, vendor codes), judged against what the host's packets on all
 * its streams show (rst_host.h); it names the sender's stack and refines the
 * cause: blocked, injected, idle-timeout or relayed. rst_follow_segment()
 * watches the frames after a RST: a claimed sender that keeps talking or
 * sends another RST at once did not send it, and a receiver that keeps
 * talking did not accept it.
 */
#ifndef RST_ORIGIN_H
#define RST_ORIGIN_H

#include "conn_track.h"
#include "rst_classify.h"
#include "rst_host.h"
#include "rst_timers.h"
#include "rst_vendor.h"

/* Facts from outside the RST's stream. */
typedef struct {
    host_facts sender;                /* the address the RST carries, from all its streams */
    gboolean has_prev_rst;            /* the stream had a RST before */
    unsigned prev_rst_side;           /* its sender's side index */
    uint32_t prev_rst_seq;
    int64_t prev_rst_gap_us;          /* time since it */
    uint32_t relay_frame;             /* RST this sender received on another stream just before; 0 = none */
    uint32_t relay_stream;
    int64_t relay_gap_us;
    const rst_vendor_info *vendor;    /* NULL when the RST says nothing about itself */
    const idle_timer_table *timers;
} path_facts;

/* How soon after one RST of a device's burst the next comes (they are sent back to back; a
 * host's own RST long after a forged one is no burst). */
#define BURST_WINDOW_US 200000

/* How soon after a RST received on another stream a host's own RST counts as passing it on. */
#define RELAY_WINDOW_US 20000

/* Fill diag's origin, ttl_delta, origin_evidence and stack, and refine its cause.
 * st is the stream before rst; diag comes from rst_classify(). */
void rst_attribute(const conn_stream *st, const tcp_segment *rst, const path_facts *facts, rst_diagnosis *diag);

/* Row i of the table of signs weighed (README "Who sent it"); FALSE past the last. */
gboolean rst_origin_sign_describe(unsigned i, const char **name, const char **weight, const char **source);

/* The frames after a RST. */
typedef struct {
    unsigned sender_side;             /* side index of the RST's claimed sender */
    uint32_t rst_seq;
    uint32_t sender_next_seq;         /* the claimed sender's sequence space when the RST came */
    uint32_t receiver_next_seq;       /* the receiver's sequence space when the RST came */
    uint32_t receiver_last_ack;
    uint32_t sender_reach;            /* how far from sender_next_seq the claimed sender could still send */
    int64_t rst_time_us;
    int64_t receiver_rtt_us;          /* -1 = unknown */
    gboolean receiver_spoke;          /* a segment from the receiver has followed */
    gboolean sender_spoke;
    gboolean new_connection;          /* a SYN came: later frames are another connection's */
} rst_followup;

/* sender: the RST's sender side (rst_diagnosis.sender_side). */
void rst_followup_start(rst_followup *f, const conn_stream *st, const tcp_segment *rst, unsigned sender,
                        int64_t receiver_rtt_us);

/* One later segment of the stream (st before it), RSTs included. Returns
 * TRUE when it changed diag: the claimed sender kept sending or sent another
 * RST at another sequence number at once (origin middlebox, cause injected),
 * or the receiver evidently ignored the RST. */
gboolean rst_follow_segment(rst_followup *f, const conn_stream *st, const tcp_segment *seg, rst_diagnosis *diag);

#endif /* RST_ORIGIN_H */
