/* SPDX-License-Identifier: GPL-2.0-or-later */
/* track-rstdiag.c - the first sight of each frame (see track-rstdiag.h). */
#include "track-rstdiag.h"

#include <string.h>

#include <epan/proto_data.h>

#include "conn_track.h"
#include "log_sources.h"
#include "rst_origin.h"
#include "segment.h"

/* The protocol whose proto data holds the verdicts, and the settings of this file. */
static int proto_rstdiag_data = -1;
static const rst_settings *settings;

/* listening address:port pairs seen across streams (SYN-ACKs) */
static conn_listeners *listeners;
/* stream index -> reset_history, for streams that had a RST */
static wmem_map_t *reset_streams;

/* Proto-data keys: the RST verdict, and the "after a reset" mark of later frames. */
enum { PROTO_DATA_RECORD, PROTO_DATA_AFTER_RESET };

typedef struct {
    guint32 first_frame;       /* the stream's first RST */
    rstdiag_record *latest;    /* the one later frames are weighed against */
    rst_followup followup;     /* knows the latest RST's sender side */
} reset_history;

/* The history of a stream that had a RST; NULL when it had none. */
static reset_history *history_of(guint32 stream)
{
    return (reset_history *)wmem_map_lookup(reset_streams, GUINT_TO_POINTER(stream + 1));
}

/* The latest segments without a counted IPv4 ID, to tell their copies (conn_recent_copy). */
static conn_recent recent_unnumbered;

/* Highest frame already fed to the tracker in this file. */
static guint32 last_tracked_frame;
static gboolean seen_rst;
static gboolean logs_loaded;   /* this file's: request lines are worth noting */

static G_GNUC_NO_INLINE rstdiag_record *diagnose_reset(tvbuff_t *tvb, packet_info *pinfo, const frame_segment *fs,
                                                       const conn_stream *st, reset_history *history,
                                                       gboolean first_in_connection, gboolean first_in_stream)
{
    const tcp_segment *seg = &fs->seg;
    rstdiag_record *record = wmem_new0(wmem_file_scope(), rstdiag_record);
    record->vendor = segment_vendor(tvb, fs);
    /* a diagnostic payload explains the RST, and a NetScaler code may stand in its
     * window: the stack rules judge the RST without them (a window of 0 shows no
     * freed buffer) */
    tcp_segment judged = *seg;
    if (record->vendor && record->vendor->payload_is_diagnostic)
        judged.payload_len = 0;
    if (record->vendor && record->vendor->needs_corroboration)
        judged.window = 0;
    const void *src = fs->src.data;
    size_t src_len = (size_t)fs->src.len;
    rst_host_facts host = {
        .listening = conn_listeners_has(listeners, src, src_len, seg->src_port),
        .queue_burst = conn_listeners_queue_burst(listeners, src, src_len, seg->src_port, seg->time_us),
    };
    rst_classify(st, &judged, settings, &host, &record->diag);
    record->frame = pinfo->num;
    record->seq = seg->seq;
    record->ack = seg->ack;
    record->flags = seg->flags;
    record->ip_id = seg->ip_id;
    record->earlier = history->latest;
    record->stream = fs->stream;
    record->first_in_stream = first_in_stream;
    record->first_in_capture = !seen_rst;
    record->after_reset = first_in_connection ? 0 : history->first_frame;
    seen_rst = TRUE;

    path_facts facts = { .vendor = record->vendor, .timers = settings->timers };
    hosts_path_facts(fs, record->diag.sender, &facts);
    if (!first_in_connection) {
        facts.has_prev_rst = TRUE;
        facts.prev_rst_side = history->followup.sender_side;
        facts.prev_rst_seq = history->latest->seq;
        facts.prev_rst_gap_us = seg->time_us - history->followup.rst_time_us;
    }
    rst_attribute(st, seg, &facts, &record->diag);
    log_sources_add_rst(record, &fs->src, seg->src_port, fs->stream, seg->time_us);
    p_add_proto_data(wmem_file_scope(), pinfo, proto_rstdiag_data, PROTO_DATA_RECORD, record);

    const host_facts *receiver = hosts_find(&fs->dst);
    rst_followup_start(&history->followup, st, seg, record->diag.sender_side, receiver ? receiver->rtt_us : -1);
    history->latest = record;
    hosts_remember_reset(fs, record->diag.sender);
    return record;
}

/* Learning that waits (track_frame): the sender's host, the listeners, the stream. */
static G_GNUC_NO_INLINE void track_deferred(void)
{
    guint count = segment_deferred_count();
    for (guint i = 0; i < count; i++) {
        conn_stream *st;
        const frame_segment *fs = segment_deferred(i, &st);
        if (conn_is_copy(st, &fs->seg))
            continue;
        hosts_learn(fs, st);
        conn_listeners_learn(listeners, fs->src.data, (size_t)fs->src.len, st, &fs->seg);
        conn_track_segment(st, &fs->seg);
    }
    segment_deferred_clear();
}

/* The mark of a frame after its stream's first RST. */
static void mark_after_reset(packet_info *pinfo, const reset_history *history, guint32 *after_reset)
{
    p_add_proto_data(wmem_file_scope(), pinfo, proto_rstdiag_data, PROTO_DATA_AFTER_RESET,
                     GUINT_TO_POINTER(history->first_frame));
    *after_reset = history->first_frame;
}

/* The RST that seg, a RST, repeats: the same datagram captured again, an
 * earlier RST of the stream from the same side with the same IPv4 ID and
 * numbers (a counted ID is each datagram's own, RFC 6864 4.1). Without an ID
 * (ID 0, IPv6) nothing tells a copy: the passive RSTs that answer two
 * segments in flight are alike in every field. */
static rstdiag_record *repeated_rst(const reset_history *history, const conn_stream *st, const tcp_segment *seg)
{
    if (seg->ip_id <= 0 || history == NULL)
        return NULL;
    unsigned side = conn_side_of(st, seg);
    for (rstdiag_record *record = history->latest; record; record = record->earlier) {
        if (record->diag.sender_side == side && record->ip_id == seg->ip_id && record->seq == seg->seq
            && record->ack == seg->ack && record->flags == seg->flags)
            return record;
    }
    return NULL;
}

/* A frame repeating a datagram already captured teaches nothing: the copy
 * of a RST shows the verdict of the RST it repeats, any other copy in a reset
 * stream the usual mark. */
static rstdiag_record *note_copy(packet_info *pinfo, rstdiag_record *original, const reset_history *history,
                                 guint32 *after_reset)
{
    if (original)
        p_add_proto_data(wmem_file_scope(), pinfo, proto_rstdiag_data, PROTO_DATA_RECORD, original);
    else if (history)
        mark_after_reset(pinfo, history, after_reset);
    return original;
}

/* A frame repeating an earlier one without an ID to tell (conn_recent_copy):
 * as note_copy, the RST it repeats found by its frame in the stream of that
 * RST (the stream's RSTs before a new attempt on its 4-tuple too). */
static G_GNUC_NO_INLINE rstdiag_record *note_unnumbered_copy(packet_info *pinfo, guint32 stream,
                                                             const conn_recent_segment *earlier, gboolean rst,
                                                             gboolean reset_stream, guint32 *after_reset)
{
    rstdiag_record *original = NULL;
    if (rst) {
        const reset_history *theirs = history_of(earlier->stream);
        for (original = theirs ? theirs->latest : NULL; original && original->frame != earlier->frame;)
            original = original->earlier;
    }
    return note_copy(pinfo, original, reset_stream ? history_of(stream) : NULL, after_reset);
}

/* A frame that is tracked at once (a RST, a frame of a reset stream, one the
 * queue of waiting segments could not take): the waiting ones first, then
 * this one; for a RST, the stored verdict. Apart from track_frame, which
 * runs for every frame, so that its short path stays small in the
 * instruction cache (bench/notes.md). */
static G_GNUC_NO_INLINE rstdiag_record *track_now(tvbuff_t *tvb, packet_info *pinfo, const frame_segment *fs,
                                                  conn_stream *st, gboolean reset_stream, guint32 *after_reset)
{
    const tcp_segment *seg = &fs->seg;
    track_deferred();
    rstdiag_record *record = NULL;
    reset_history *history = NULL;
    gpointer key = GUINT_TO_POINTER(fs->stream + 1);
    if (reset_stream)
        history = history_of(fs->stream);
    rstdiag_record *original = (seg->flags & TCP_FLAG_RST) ? repeated_rst(history, st, seg) : NULL;
    if (original || conn_is_copy(st, seg))
        return note_copy(pinfo, original, history, after_reset);
    hosts_learn(fs, st);

    if (history)   /* later frames, RSTs too, may show who sent the stream's latest RST */
        rst_follow_segment(&history->followup, st, seg, &history->latest->diag);
    if (seg->flags & TCP_FLAG_RST) {
        /* a new connection attempt on the 4-tuple (conn_starts_over) has a history of its own */
        gboolean first = history == NULL;
        gboolean first_in_stream = first && history_of(fs->stream) == NULL;
        if (first) {
            history = wmem_new0(wmem_file_scope(), reset_history);
            history->first_frame = pinfo->num;
        }
        record = diagnose_reset(tvb, pinfo, fs, st, history, first, first_in_stream);
        if (first)
            wmem_map_insert(reset_streams, key, history);
    } else if (history) {
        mark_after_reset(pinfo, history, after_reset);
    }
    conn_listeners_learn(listeners, fs->src.data, (size_t)fs->src.len, st, seg);
    conn_track_segment(st, seg);
    segment_stream_tracked(fs->stream, st);
    return record;
}

/* First sight of a frame: update its stream and, for a RST,
 * return the stored verdict. */
static rstdiag_record *track_frame(tvbuff_t *tvb, packet_info *pinfo, guint32 *after_reset)
{
    frame_segment fs;
    if (!segment_read(tvb, pinfo, &fs))
        return NULL;
    if (G_UNLIKELY(!fs.tapped))
        log_sources_note_silent_pass();
    const tcp_segment *seg = &fs.seg;
    last_tracked_frame = pinfo->num;
    if (logs_loaded && seg->payload_len && !(seg->flags & TCP_FLAG_RST))   /* a request line for its stream's RSTs */
        log_sources_note_payload(pinfo, tvb, seg->payload_len, fs.stream);

    /* only a RST sets reset_stream, and RSTs are never deferred: learning the queue keeps it */
    gboolean reset_stream;
    conn_stream *st = segment_stream(fs.stream, &reset_stream);
    const conn_recent_segment *earlier = seg->ip_id <= 0 ? conn_recent_copy(&recent_unnumbered, fs.stream, seg) : NULL;
    if (G_UNLIKELY(earlier != NULL))
        return note_unnumbered_copy(pinfo, fs.stream, earlier, (seg->flags & TCP_FLAG_RST) != 0, reset_stream,
                                    after_reset);
    /* A segment of a stream without a RST is learnt later, with others: nothing
     * reads its stream or hosts before the next RST or a frame of a reset stream,
     * which catch up first; the tracker's code is then fetched once for many
     * frames (per frame, it was the largest part of the cost: bench/notes.md). */
    if (G_LIKELY(!(seg->flags & TCP_FLAG_RST) && !reset_stream && segment_defer(&fs, st))) {
        if (segment_deferred_count() == SEGMENT_DEFER_MAX)
            track_deferred();
        return NULL;
    }
    return track_now(tvb, pinfo, &fs, st, reset_stream, after_reset);
}

/* ---- the entry ------------------------------------------------------------- */

void track_register(int proto)
{
    proto_rstdiag_data = proto;
    reset_streams = wmem_map_new_autoreset(wmem_epan_scope(), wmem_file_scope(), g_direct_hash, g_direct_equal);
}

void track_file_init(const rst_settings *file_settings, gboolean file_logs_loaded)
{
    settings = file_settings;
    logs_loaded = file_logs_loaded;
    last_tracked_frame = 0;
    seen_rst = FALSE;
    memset(&recent_unnumbered, 0, sizeof recent_unnumbered);
    conn_listeners_free(listeners);   /* normally freed by the cleanup already */
    listeners = conn_listeners_new();
}

void track_file_cleanup(void)
{
    conn_listeners_free(listeners);
    listeners = NULL;
}

guint32 track_last_frame(void)
{
    return last_tracked_frame;
}

rstdiag_record *track_record(tvbuff_t *tvb, packet_info *pinfo, gboolean later_pass, guint32 *after_reset)
{
    *after_reset = 0;
    if (!later_pass) {   /* first sight: nothing stored for it yet */
        log_sources_note_frame(pinfo);
        return track_frame(tvb, pinfo, after_reset);
    }
    rstdiag_record *record = (rstdiag_record *)p_get_proto_data(wmem_file_scope(), pinfo, proto_rstdiag_data,
                                                                PROTO_DATA_RECORD);
    if (record == NULL)
        *after_reset = GPOINTER_TO_UINT(p_get_proto_data(wmem_file_scope(), pinfo, proto_rstdiag_data,
                                                         PROTO_DATA_AFTER_RESET));
    return record;
}
