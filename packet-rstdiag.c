/* SPDX-License-Identifier: GPL-2.0-or-later */
/* packet-rstdiag.c - TCP RST diagnosis post-dissector: registration, fields,
 * preferences, expert info, the per-frame entry and tree rendering.
 *
 * The diagnosis itself lives in conn_track.c (per-stream state),
 * rst_classify.c (the rules), rst_origin.c (who sent it, what followed) and
 * rst_vendor.c (reasons in the RST); a frame's TCP/IP facts and the hosts
 * across streams in segment.c, the feeding of each frame and the stored
 * verdicts in track-rstdiag.c, the application logs in log_sources.c; this
 * file shows results.
 *
 * Each frame is processed once, in capture order, the first time it is dissected
 * (tshark's single pass or first pass, the GUI's loading pass); the verdict
 * of a RST is stored with the packet and every later pass only renders it.
 * Later frames of its stream may add to it (the claimed sender kept
 * talking, the receiver ignored it), which one-pass tshark cannot show.
 */
#include "packet-rstdiag.h"

#include <epan/expert.h>
#include <epan/prefs.h>
#include <epan/tap.h>
#include <epan/to_str.h>
#include <wsutil/report_message.h>

#include "log_sources.h"
#include "log_text.h"
#include "rst_classify.h"
#include "segment.h"
#include "track-rstdiag.h"

static int proto_rstdiag = -1;
/* The post-dissector's handle belongs to a "protocol in name only" of
 * rstdiag: Wireshark then calls it without pushing and popping a protocol
 * layer for every packet (a third of the plugin's per-packet cost), and it
 * is still enabled and disabled with rstdiag. */
static int proto_rstdiag_post = -1;

static int hf_sender = -1;
static int hf_phase = -1;
static int hf_cause = -1;
static int hf_confidence = -1;
static int hf_kernel_reason = -1;
static int hf_evidence = -1;
static int hf_cause_alt = -1;
static int hf_kernel_reason_alt = -1;
static int hf_shape = -1;
static int hf_acceptable = -1;
static int hf_trigger = -1;
static int hf_idle = -1;
static int hf_age = -1;
static int hf_bytes_client = -1;
static int hf_bytes_server = -1;
static int hf_origin = -1;
static int hf_origin_evidence = -1;
static int hf_ttl_delta = -1;
static int hf_stack = -1;
static int hf_stack_evidence = -1;
static int hf_ignored = -1;
static int hf_after_reset = -1;
static int hf_copy_of = -1;
static int hf_vendor = -1;
static int hf_vendor_code = -1;
static int hf_log = -1;
static int hf_log_line = -1;
static int hf_log_file = -1;
static int hf_log_lineno = -1;
static int hf_log_delta = -1;
static int hf_log_match = -1;
static int hf_log_leg = -1;
static int hf_log_offset = -1;
static int hf_log_level = -1;
static int hf_log_request = -1;
static int hf_log_message = -1;
static int hf_continued = -1;
static int hf_log_peer = -1;
static int hf_log_upstream = -1;

static gint ett_rstdiag = -1;
static gint ett_log = -1;
static gint ett_continued = -1;

static expert_field ei_cause[CAUSE_COUNT];
static expert_field ei_copy;

static int rstdiag_tap = -1;

/* Preferences. */
#define RESPONSE_TIMEOUT_DEFAULT_MS 1000
#define RESPONSE_TIMEOUT_MAX_MS (3600 * 1000)
static rstdiag_ws_bool_t pref_info_column = TRUE;
static guint pref_response_timeout_ms = RESPONSE_TIMEOUT_DEFAULT_MS;
static idle_timer_table idle_timers;
static rst_settings settings = { RESPONSE_TIMEOUT_DEFAULT_MS, &idle_timers };
static const char *pref_idle_timers = "";
/* ---- rendering ------------------------------------------------------------ */

static proto_item *add_token(proto_tree *tree, int hf, tvbuff_t *tvb, const char *token)
{
    proto_item *item = proto_tree_add_string(tree, hf, tvb, 0, 0, token);
    proto_item_set_generated(item);
    return item;
}

/* Durations as people read them: milliseconds below a second, else seconds. */
static char *duration_text(wmem_allocator_t *pool, int64_t us, gboolean sign)
{
    double value = (double)us / (us > -1000000 && us < 1000000 ? 1000.0 : 1000000.0);
    const char *unit = us > -1000000 && us < 1000000 ? "ms" : "s";
    return wmem_strdup_printf(pool, sign ? "%+.3f %s" : "%.3f %s", value, unit);
}

static void add_time(proto_tree *tree, int hf, tvbuff_t *tvb, int64_t us, const char *shown)
{
    /* nstime_t keeps the sign in both parts */
    nstime_t t = { (time_t)(us / 1000000), (int)(us % 1000000) * 1000 };
    proto_item_set_generated(proto_tree_add_time_format_value(tree, hf, tvb, 0, 0, &t, "%s", shown));
}

/* Durations: negative means "not known". */
static void add_duration(proto_tree *tree, int hf, tvbuff_t *tvb, packet_info *pinfo, int64_t us)
{
    if (us >= 0)
        add_time(tree, hf, tvb, us, duration_text(pinfo->pool, us, FALSE));
}

/* Tree labels hold ITEM_LABEL_LENGTH (240) bytes: longer text is shown in
 * pieces of at most this many bytes, cut between UTF-8 characters. */
#define LABEL_TEXT_MAX 180

static const char *piece_end(const char *text)
{
    size_t len = strlen(text);
    if (len <= LABEL_TEXT_MAX)
        return text + len;
    /* after a space in the piece's last quarter, else between two characters */
    for (const char *p = text + LABEL_TEXT_MAX; p > text + LABEL_TEXT_MAX * 3 / 4; p--) {
        if (p[-1] == ' ')
            return p;
    }
    return g_utf8_find_prev_char(text, text + LABEL_TEXT_MAX + 1);
}

/* text as a label: whole, or its first piece and an ellipsis. */
static const char *label_text(wmem_allocator_t *pool, const char *text)
{
    const char *end = piece_end(text);
    return *end ? wmem_strdup_printf(pool, "%.*s\u2026", (int)(end - text), text) : text;
}

/* Text that may be long (a log line, evidence): whole as the field's value (columns,
 * filters, -T fields, Copy Value); in the tree its first piece, and the
 * rest in pieces beneath. */
static proto_item *add_long_string(proto_tree *tree, int hf, tvbuff_t *tvb, packet_info *pinfo, const char *text)
{
    proto_item *item = proto_tree_add_string_format_value(tree, hf, tvb, 0, 0, text, "%s",
                                                          label_text(pinfo->pool, text));
    proto_item_set_generated(item);
    const char *rest = piece_end(text);
    if (!*rest)
        return item;
    proto_tree *pieces = proto_item_add_subtree(item, ett_continued);
    while (*rest) {
        const char *end = piece_end(rest);
        proto_item_set_generated(proto_tree_add_none_format(pieces, hf_continued, tvb, 0, 0, "\u2026%.*s",
                                                            (int)(end - rest), rest));
        rest = end;
    }
    return item;
}

static const char *endpoint_text(wmem_allocator_t *pool, const log_entry *line)
{
    address addr;
    set_address(&addr, line->family == 6 ? AT_IPv6 : AT_IPv4, line->family == 6 ? 16 : 4, line->addr);
    const char *host = address_to_str(pool, &addr);
    if (!line->port)
        return host;
    return wmem_strdup_printf(pool, line->family == 6 ? "[%s]:%u" : "%s:%u", host, line->port);
}

/* The log's clock offset as a zone (the nearest quarter hour, as the
 * matcher's estimate votes) and the skew left over. */
static const char *offset_text(wmem_allocator_t *pool, int64_t offset_us)
{
    const int64_t quarter_us = G_GINT64_CONSTANT(900000000);
    int64_t zone_us = (offset_us >= 0 ? offset_us + quarter_us / 2 : offset_us - quarter_us / 2) / quarter_us
                      * quarter_us;
    int64_t zone_min = (zone_us < 0 ? -zone_us : zone_us) / 60000000;
    return wmem_strdup_printf(pool, "%c%02d:%02d zone, skew %s", zone_us < 0 ? '-' : '+', (int)(zone_min / 60),
                              (int)(zone_min % 60), duration_text(pool, offset_us - zone_us, TRUE));
}

static void render_log(const rstdiag_log_hit *hit, tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree)
{
    const char *path;
    const log_entry *line = log_sources_hit_line(hit, &path);
    if (!line)
        return;
    char *message = log_text_message(line->text, (log_format)line->format);
    char *upstream = log_text_upstream(line->text, (log_format)line->format);
    proto_item *item = proto_tree_add_item(tree, hf_log, tvb, 0, 0, ENC_NA);
    proto_item_set_generated(item);
    proto_item_append_text(item, ": %s (line %u)", label_text(pinfo->pool, message), line->lineno);
    proto_tree *sub = proto_item_add_subtree(item, ett_log);
    add_long_string(sub, hf_log_message, tvb, pinfo, message);
    add_long_string(sub, hf_log_line, tvb, pinfo, line->text);
    if (line->family)
        add_token(sub, hf_log_peer, tvb, endpoint_text(pinfo->pool, line));
    if (upstream)
        add_long_string(sub, hf_log_upstream, tvb, pinfo, upstream);
    if (line->request)
        add_long_string(sub, hf_log_request, tvb, pinfo, line->request);
    if (line->level[0])
        add_token(sub, hf_log_level, tvb, line->level);
    add_token(sub, hf_log_leg, tvb, log_leg_token((log_leg)line->leg));
    add_long_string(sub, hf_log_file, tvb, pinfo, path);
    proto_item_set_generated(proto_tree_add_uint(sub, hf_log_lineno, tvb, 0, 0, line->lineno));
    add_token(sub, hf_log_match, tvb, log_match_kind_token(hit->match.kind));
    add_time(sub, hf_log_delta, tvb, hit->match.delta_us, duration_text(pinfo->pool, hit->match.delta_us, TRUE));
    add_time(sub, hf_log_offset, tvb, hit->match.offset_us, offset_text(pinfo->pool, hit->match.offset_us));
    g_free(message);
    g_free(upstream);
}

/* copy: the frame repeats the RST of the record (the same datagram, captured again) */
static G_GNUC_NO_INLINE void render(const rstdiag_record *record, gboolean copy, tvbuff_t *tvb, packet_info *pinfo,
                                    proto_tree *tree)
{
    const rst_diagnosis *diag = &record->diag;
    const char *cause = rst_cause_token(diag->cause);
    const char *path;
    const log_entry *line = record->hit_count ? log_sources_hit_line(&record->hits[0], &path) : NULL;

    const char *copy_text = copy ? wmem_strdup_printf(pinfo->pool, ", copy of frame %u", record->frame) : "";

    if (pref_info_column && line)
        col_append_fstr(pinfo->cinfo, COL_INFO, " [RST: %s, log line %u%s]", cause, line->lineno, copy_text);
    else if (pref_info_column)
        col_append_fstr(pinfo->cinfo, COL_INFO, " [RST: %s%s]", cause, copy_text);

    proto_item *top = proto_tree_add_item(tree, proto_rstdiag, tvb, 0, 0, ENC_NA);
    proto_item_set_generated(top);
    proto_item_append_text(top, ": %s by %s, phase %s (%s confidence)%s", cause,
                           rst_sender_token(diag->sender), rst_phase_token(diag->phase),
                           rst_confidence_token(diag->confidence), copy_text);

    proto_tree *sub = proto_item_add_subtree(top, ett_rstdiag);
    if (copy) {   /* its verdict is the RST's own: the expert infos count that RST once */
        proto_item *item = proto_tree_add_uint(sub, hf_copy_of, tvb, 0, 0, record->frame);
        proto_item_set_generated(item);
        expert_add_info(pinfo, item, &ei_copy);
    }
    add_token(sub, hf_sender, tvb, rst_sender_token(diag->sender));
    add_token(sub, hf_phase, tvb, rst_phase_token(diag->phase));
    proto_item *cause_item = add_token(sub, hf_cause, tvb, cause);
    if (!copy)
        expert_add_info(pinfo, cause_item, &ei_cause[diag->cause]);
    add_token(sub, hf_confidence, tvb, rst_confidence_token(diag->confidence));
    add_token(sub, hf_kernel_reason, tvb, rst_kernel_reason_token(diag->kernel_reason));
    char alt[160];
    rst_cause_alt_tokens(diag, alt, sizeof alt);
    if (alt[0])
        add_token(sub, hf_cause_alt, tvb, alt);
    rst_kernel_reason_alt_tokens(diag, alt, sizeof alt);
    if (alt[0])
        add_token(sub, hf_kernel_reason_alt, tvb, alt);
    add_long_string(sub, hf_evidence, tvb, pinfo, diag->evidence);
    add_token(sub, hf_shape, tvb, rst_shape_token(diag->shape));
    add_token(sub, hf_acceptable, tvb, rst_acceptability_token(diag->acceptable));
    if (diag->trigger_frame)
        proto_item_set_generated(proto_tree_add_uint(sub, hf_trigger, tvb, 0, 0, diag->trigger_frame));
    add_duration(sub, hf_idle, tvb, pinfo, diag->idle_us);
    add_duration(sub, hf_age, tvb, pinfo, diag->age_us);
    proto_item_set_generated(proto_tree_add_uint(sub, hf_bytes_client, tvb, 0, 0, diag->bytes_client));
    proto_item_set_generated(proto_tree_add_uint(sub, hf_bytes_server, tvb, 0, 0, diag->bytes_server));
    add_token(sub, hf_origin, tvb, rst_origin_token(diag->origin));
    if (diag->origin_evidence[0])
        add_long_string(sub, hf_origin_evidence, tvb, pinfo, diag->origin_evidence);
    if (diag->ttl_delta_known)
        proto_item_set_generated(proto_tree_add_int(sub, hf_ttl_delta, tvb, 0, 0, diag->ttl_delta));
    add_token(sub, hf_stack, tvb, rst_stack_token(diag->stack));
    if (diag->stack_evidence[0])
        add_token(sub, hf_stack_evidence, tvb, diag->stack_evidence);
    if (diag->ignored != IGNORED_NO)
        add_token(sub, hf_ignored, tvb, rst_ignored_token(diag->ignored));
    if (record->after_reset)
        proto_item_set_generated(proto_tree_add_uint(sub, hf_after_reset, tvb, 0, 0, record->after_reset));
    if (record->vendor) {
        add_token(sub, hf_vendor, tvb, record->vendor->text);
        if (record->vendor->has_code)
            proto_item_set_generated(proto_tree_add_uint(sub, hf_vendor_code, tvb, 0, 0, record->vendor->code));
    }
    for (guint i = 0; i < record->hit_count; i++)
        render_log(&record->hits[i], tvb, pinfo, sub);
}

static G_GNUC_NO_INLINE void queue_tap(packet_info *pinfo, const rstdiag_record *record, gboolean later_pass)
{
    if (!have_tap_listener(rstdiag_tap))
        return;
    rstdiag_tap_data *data = wmem_new(pinfo->pool, rstdiag_tap_data);
    *data = (rstdiag_tap_data){ .record = record };
    log_sources_tap_view(data, later_pass, track_last_frame());
    tap_queue_packet(rstdiag_tap, pinfo, data);
}

static int dissect_rstdiag(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    guint32 after_reset;
    gboolean later_pass = pinfo->num <= track_last_frame();
    rstdiag_record *record = track_record(tvb, pinfo, later_pass, &after_reset);
    if (record == NULL) {
        /* a later frame of a reset stream: a bare mark, outside the rstdiag item so
         * that the filter "rstdiag" keeps meaning "a diagnosed RST" */
        if (after_reset)
            proto_item_set_generated(proto_tree_add_uint(tree, hf_after_reset, tvb, 0, 0, after_reset));
        return 0;
    }
    const char *saved_proto = pinfo->current_proto;
    pinfo->current_proto = RSTDIAG_NAME;   /* the expert infos' protocol: not set for a pino */
    log_sources_refresh_hits(record);
    gboolean copy = record->frame != pinfo->num;
    render(record, copy, tvb, pinfo, tree);
    if (!copy)   /* a copy's RST is counted once */
        queue_tap(pinfo, record, later_pass);
    pinfo->current_proto = saved_proto;
    return tvb_captured_length(tvb);
}

/* ---- life cycle ----------------------------------------------------------- */

static void apply_preferences(void);

static void rstdiag_init(void)
{
    /* A profile switch resets the preferences to their defaults without
     * marking them changed (prefs_reset), so prefs_apply_all() does not call
     * the apply callback for a module the new profile leaves at its defaults;
     * the redissection that follows (epan_new) runs the init routines. So the
     * settings are derived from the preferences again here, for every file
     * and every redissection. */
    apply_preferences();
    track_file_init(&settings, log_sources_file_init());
    segment_file_init(proto_is_protocol_enabled(find_protocol_by_id(proto_rstdiag)));
}

static void rstdiag_cleanup(void)
{
    fflush(stdout);   /* after tshark's output, not inside it */
    log_sources_file_cleanup(track_last_frame());
    track_file_cleanup();
    segment_file_cleanup();
}

/* At exit: the plugin is unloaded, so what only its statics point at must go now. */
static void rstdiag_shutdown(void)
{
    log_sources_shutdown();
}
/* Everything derived from the preferences; idempotent (see rstdiag_init). */
static void apply_preferences(void)
{
    if (pref_response_timeout_ms == 0 || pref_response_timeout_ms > RESPONSE_TIMEOUT_MAX_MS) {
        report_failure("RSTDIAG: response_timeout %u ms is outside 1..%u ms; using %u ms",
                       pref_response_timeout_ms, RESPONSE_TIMEOUT_MAX_MS, RESPONSE_TIMEOUT_DEFAULT_MS);
        pref_response_timeout_ms = RESPONSE_TIMEOUT_DEFAULT_MS;
    }
    settings.response_timeout_ms = pref_response_timeout_ms;

    GPtrArray *problems = g_ptr_array_new_with_free_func(g_free);
    char *error = NULL;
    if (!idle_timers_parse(pref_idle_timers, &idle_timers, &error))
        g_ptr_array_add(problems, error);
    log_sources_configure(problems);
}

static void register_expert_fields(void)
{
    static const int expert_severity[] = { [SEVERITY_NOTE] = PI_NOTE, [SEVERITY_WARN] = PI_WARN,
                                           [SEVERITY_ERROR] = PI_ERROR };
    static ei_register_info ei[CAUSE_COUNT + 1];
    /* Wireshark keeps pointers to these until exit; in the plugin's own static
     * storage they are not leaked when it is unloaded (valgrind) */
    static char names[CAUSE_COUNT][64], summaries[CAUSE_COUNT][256];
    for (int i = 0; i < CAUSE_COUNT; i++) {
        const char *token = rst_cause_token((rst_cause)i);
        int severity = expert_severity[rst_cause_severity((rst_cause)i)];
        g_snprintf(names[i], sizeof names[i], "rstdiag.expert.%s", token);
        g_strdelimit(names[i], "-", '_');   /* field names: letters, digits, '_' and '.' */
        g_snprintf(summaries[i], sizeof summaries[i], "TCP reset, cause %s: %s", token,
                   rst_cause_summary((rst_cause)i));
        ei_cause[i] = (expert_field)EI_INIT;
        ei[i] = (ei_register_info){ &ei_cause[i], { names[i], PI_SEQUENCE, severity, summaries[i], EXPFILL } };
    }
    ei_copy = (expert_field)EI_INIT;
    ei[CAUSE_COUNT] = (ei_register_info){ &ei_copy, { "rstdiag.expert.copy", PI_SEQUENCE, PI_NOTE,
        "A RST captured again (the same datagram seen at another point): its diagnosis is that RST's", EXPFILL } };
    expert_module_t *module = expert_register_protocol(proto_rstdiag);
    expert_register_field_array(module, ei, G_N_ELEMENTS(ei));
}

#define TOKEN_FIELD(var, name, abbrev, blurb) \
    { &var, { name, abbrev, FT_STRING, BASE_NONE, NULL, 0x0, blurb, HFILL } }

void proto_register_rstdiag(void)
{
    static hf_register_info hf[] = {
        TOKEN_FIELD(hf_sender, "Sender", "rstdiag.sender",
            "Role of the endpoint whose address the RST carries: client (sent the SYN), server, "
            "or unknown; without a captured handshake the roles are guessed from the ports"),
        TOKEN_FIELD(hf_phase, "Phase", "rstdiag.phase",
            "Where in the connection the RST came: syn, synack, established (no data yet), data, "
            "closing (after one FIN), closed (after both FINs or an earlier RST), unknown (no handshake, payload or FIN "
            "captured before it)"),
        TOKEN_FIELD(hf_cause, "Cause", "rstdiag.cause",
            "Likely cause: refused, accept-overflow, bad-handshake, connect-abandoned, handshake-abort, "
            "unread-data, abortive-close, response-timeout, data-after-close, stale-connection, "
            "keepalive-timeout, late-after-close, blocked, injected, idle-timeout, relayed, keepalive-race "
            "or unknown"),
        TOKEN_FIELD(hf_confidence, "Confidence", "rstdiag.confidence",
            "How firmly the traffic supports the cause: high (no other reading fits), medium (an "
            "alternative is named, or the handshake was not captured) or low"),
        TOKEN_FIELD(hf_kernel_reason, "Likely kernel reason", "rstdiag.kernel_reason",
            "The Linux sk_rst_reason the sender's kernel would most likely report for this RST "
            "(tcp:tcp_send_reset tracepoint), NONE when no end host's stack would send it, or not-linux "
            "when the sender runs another stack (rstdiag.stack)"),
        TOKEN_FIELD(hf_cause_alt, "Alternative causes", "rstdiag.cause.alt",
            "Other causes the traffic cannot rule out, comma-separated (present only when there are some; "
            "the confidence is then at most medium)"),
        TOKEN_FIELD(hf_kernel_reason_alt, "Alternative kernel reasons", "rstdiag.kernel_reason.alt",
            "Other kernel reasons the traffic cannot rule out, comma-separated (e.g. TCP_STATE when the "
            "application may have read the data before an SO_LINGER{1,0} close)"),
        TOKEN_FIELD(hf_evidence, "Evidence", "rstdiag.evidence",
            "The observations and numbers that led to the cause, in plain words"),
        TOKEN_FIELD(hf_shape, "Shape", "rstdiag.shape",
            "active: RST|ACK with the sender's next sequence number, from a live socket; passive: "
            "answer to an unacceptable segment (seq copied from its ack, or seq 0 to a SYN); nonstandard: anything else"),
        TOKEN_FIELD(hf_acceptable, "Acceptable", "rstdiag.acceptable",
            "Whether the receiver's TCP would accept the RST (RFC 9293, RFC 5961): exact, in-window, "
            "out-of-window or unknown"),
        { &hf_trigger, { "Answers frame", "rstdiag.trigger", FT_FRAMENUM, BASE_NONE, NULL, 0x0,
            "The frame whose arrival this RST answers", HFILL } },
        { &hf_idle, { "Idle before RST", "rstdiag.idle", FT_RELATIVE_TIME, BASE_NONE, NULL, 0x0,
            "Time since the stream's previous segment", HFILL } },
        { &hf_age, { "Connection age", "rstdiag.age", FT_RELATIVE_TIME, BASE_NONE, NULL, 0x0,
            "Time since the stream's SYN (absent when the SYN was not captured)", HFILL } },
        { &hf_bytes_client, { "Client payload bytes", "rstdiag.bytes.client", FT_UINT32, BASE_DEC, NULL, 0x0,
            "New payload bytes the client sent before the RST (retransmissions not counted)", HFILL } },
        { &hf_bytes_server, { "Server payload bytes", "rstdiag.bytes.server", FT_UINT32, BASE_DEC, NULL, 0x0,
            "New payload bytes the server sent before the RST (retransmissions not counted)", HFILL } },
        TOKEN_FIELD(hf_origin, "Origin", "rstdiag.origin",
            "Who put the RST on the wire: endpoint (the host whose address it carries), middlebox (a "
            "device in the path speaking in its name), or unknown"),
        TOKEN_FIELD(hf_origin_evidence, "Origin evidence", "rstdiag.origin.evidence",
            "What the origin rests on: TTL, IP ID, timing against the round trip, repeated RSTs, vendor "
            "codes, and traffic from the claimed sender after its own RST"),
        { &hf_ttl_delta, { "TTL delta", "rstdiag.ttl_delta", FT_INT32, BASE_DEC, NULL, 0x0,
            "The RST's TTL or hop limit minus the nearest of those the claimed sender's own packets "
            "arrive with on all its streams (0: same distance; anything else: sent from elsewhere)", HFILL } },
        TOKEN_FIELD(hf_stack, "Sender's stack", "rstdiag.stack",
            "The TCP/IP stack that sent the RST, from the sender's packets on all its streams: linux, "
            "windows, bsd or unknown (also for a device's RST); rstdiag.kernel_reason is not-linux for the others"),
        TOKEN_FIELD(hf_stack_evidence, "Stack evidence", "rstdiag.stack.evidence",
            "What the stack rests on: initial TTL (64, 128, 255), the order of its SYN options, and how "
            "the sender numbers its IP IDs (per connection, one counter, always 0)"),
        TOKEN_FIELD(hf_ignored, "Ignored by the receiver", "rstdiag.ignored",
            "Why the receiver evidently did not accept the RST: out-of-window, challenge-ack (RFC 5961) "
            "or traffic-continued; absent when nothing says so (known after later frames: two-pass and GUI)"),
        { &hf_after_reset, { "After the reset in frame", "rstdiag.after_reset", FT_FRAMENUM, BASE_NONE, NULL, 0x0,
            "This frame comes after a RST of its stream: the stream's first RST", HFILL } },
        { &hf_copy_of, { "Copy of the RST in frame", "rstdiag.copy_of", FT_FRAMENUM, BASE_NONE, NULL, 0x0,
            "The same datagram as that RST (its sender, sequence numbers and flags, and its IPv4 ID or, without "
            "one, another hop limit), captured again at another point of the path: it shows that RST's diagnosis "
            "and is counted once", HFILL } },
        TOKEN_FIELD(hf_vendor, "Vendor reason", "rstdiag.vendor",
            "The reason the RST carries itself: NetScaler code in the window field, F5 BIG-IP reset cause, "
            "IETF RST diagnostic payload, Linux reset reason payload, MPTCP MP_TCPRST reason, or other "
            "payload text"),
        { &hf_vendor_code, { "Vendor reason code", "rstdiag.vendor.code", FT_UINT32, BASE_DEC, NULL, 0x0,
            "The numeric reason code: NetScaler, IETF diagnostic, Linux sk_rst_reason or MP_TCPRST reason",
            HFILL } },
        { &hf_log, { "Application log", "rstdiag.log", FT_NONE, BASE_NONE, NULL, 0x0,
            "The application log line this RST caused (preferences log_file and log_sources); the tree shows "
            "its message", HFILL } },
        TOKEN_FIELD(hf_log_message, "Log message", "rstdiag.log.message",
            "The line's message without the program's prefix (time, level, process and connection numbers) "
            "and without the fields shown apart (client, request, upstream)"),
        TOKEN_FIELD(hf_log_line, "Log line", "rstdiag.log.line",
            "The whole matched line (up to 1024 bytes, control characters and invalid UTF-8 replaced); the tree "
            "shows it in pieces, the field's value is whole"),
        { &hf_continued, { "Continued", "rstdiag.continued", FT_NONE, BASE_NONE, NULL, 0x0,
            "A further piece of a text too long for one line of the tree (log line, evidence); the field "
            "itself holds the whole text", HFILL } },
        TOKEN_FIELD(hf_log_peer, "Log peer", "rstdiag.log.peer",
            "The address (and port) the line names as the other end of the reset connection"),
        TOKEN_FIELD(hf_log_upstream, "Log upstream", "rstdiag.log.upstream",
            "The upstream the line names: nginx upstream URL, Apache remote server, HAProxy backend/server, "
            "Envoy upstream host"),
        TOKEN_FIELD(hf_log_file, "Log file", "rstdiag.log.file", "The log file the line comes from"),
        { &hf_log_lineno, { "Log line number", "rstdiag.log.lineno", FT_UINT32, BASE_DEC, NULL, 0x0,
            "1-based line number of the matched line in the log file", HFILL } },
        { &hf_log_delta, { "Log time minus RST time", "rstdiag.log.delta", FT_RELATIVE_TIME, BASE_NONE, NULL, 0x0,
            "The line's time after the clock offset, minus the RST's capture time", HFILL } },
        TOKEN_FIELD(hf_log_match, "Log matched on", "rstdiag.log.match",
            "What tied the line to the RST besides time: address+port, address, or time alone"),
        TOKEN_FIELD(hf_log_leg, "Log leg", "rstdiag.log.leg",
            "Which connection of the logging program was reset: client (from its client) or upstream"),
        TOKEN_FIELD(hf_log_level, "Log level", "rstdiag.log.level",
            "The line's severity as the log wrote it (nginx and Apache: info, error, ...)"),
        TOKEN_FIELD(hf_log_request, "Log request", "rstdiag.log.request",
            "The request line the log quotes (nginx, HAProxy, Envoy), cut to 256 bytes"),
        { &hf_log_offset, { "Log clock offset", "rstdiag.log.offset", FT_RELATIVE_TIME, BASE_NONE, NULL, 0x0,
            "Offset between the log's clock and UTC applied to the line: its zone (shown as +HH:MM) plus "
            "clock skew (estimated from the traffic unless set in the preferences)", HFILL } },
    };
    static gint *ett[] = { &ett_rstdiag, &ett_log, &ett_continued };

    /* one name wherever Wireshark shows one: tree, preferences, Expert
     * Information, statistics; the filter name inside it */
    proto_rstdiag = proto_register_protocol(RSTDIAG_NAME, RSTDIAG_NAME, "rstdiag");
    proto_rstdiag_post = proto_register_protocol_in_name_only(RSTDIAG_NAME " post-dissector",
        "rstdiag (TCP RST diagnosis) post-dissector", "rstdiag.postdissector", proto_rstdiag, FT_PROTOCOL);
    rstdiag_tap = register_tap("rstdiag");
    proto_register_field_array(proto_rstdiag, hf, array_length(hf));
    proto_register_subtree_array(ett, array_length(ett));
    register_expert_fields();

    module_t *module = prefs_register_protocol(proto_rstdiag, apply_preferences);
    prefs_register_bool_preference(module, "info_column", "Show the cause in the Info column",
        "Append \"[RST: cause]\" to the Info column of every diagnosed RST", &pref_info_column);
    prefs_register_uint_preference(module, "response_timeout", "Response timeout (ms)",
        "A client that resets after waiting at least this long for an answer to its data is "
        "diagnosed as response-timeout (1 to 3600000 ms)", 10, &pref_response_timeout_ms);
    log_sources_register_preferences(module);
    prefs_register_string_preference(module, "idle_timers", "Site idle timers",
        "Idle timers of your own load balancers, NATs and firewalls, added to the known defaults "
        "(AWS NLB 350 s, Azure LB 240 s, F5 300 s, GCP Cloud NAT 1200 s, ...): name=seconds, comma separated, "
        "e.g. \"edge-fw=900, haproxy=60\"", &pref_idle_timers);
    log_sources_register_table(module, apply_preferences);
    /* a pointer under R in the preferences' protocol list, where the filter
     * name would have it */
    module_t *pointer = prefs_register_protocol(proto_rstdiag_post, NULL);
    prefs_register_static_text_preference(pointer, "see", "The settings are under Protocols \u203a " RSTDIAG_NAME,
        "rstdiag's settings are those of " RSTDIAG_NAME);

    track_register(proto_rstdiag);
    char *no_error;
    idle_timers_parse(NULL, &idle_timers, &no_error);   /* the known timers until preferences are read */
    register_init_routine(rstdiag_init);
    register_cleanup_routine(rstdiag_cleanup);
    register_shutdown_routine(rstdiag_shutdown);
}

void proto_reg_handoff_rstdiag(void)
{
    segment_register();
    register_postdissector(create_dissector_handle(dissect_rstdiag, proto_rstdiag_post));
}
