/* packet-rstdiag.c - RSTDIAG post-dissector: registration, fields,
 * preferences, expert info and tree rendering.
 *
 * The diagnosis itself lives in conn_track.c (per-stream state) and
 * rst_classify.c (the rules); this file only feeds them and shows results.
 *
 * Cost: the post-dissector reads TCP/IP values from the "tcp", "ip" and
 * "ipv6" taps (fetch_tapped_data) instead of asking for fields, so Wireshark
 * does not have to build a protocol tree for every packet. Each frame is
 * processed once, in capture order, the first time it is dissected with taps
 * (tshark's single pass or second pass, the GUI's loading pass); the verdict
 * of a RST is stored with p_add_proto_data and every later pass only renders
 * it, so all passes show the same values.
 */
#include "packet-rstdiag.h"

#include <epan/expert.h>
#include <epan/prefs.h>
#include <epan/proto_data.h>
#include <epan/tap.h>
#include <epan/uat.h>
#include <epan/dissectors/packet-ip.h>
#include <epan/dissectors/packet-tcp.h>
#include <wsutil/report_message.h>

#include "conn_track.h"
#include "log_index.h"
#include "log_match.h"
#include "rst_classify.h"

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
static int hf_shape = -1;
static int hf_acceptable = -1;
static int hf_trigger = -1;
static int hf_idle = -1;
static int hf_age = -1;
static int hf_bytes_client = -1;
static int hf_bytes_server = -1;
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

static gint ett_rstdiag = -1;
static gint ett_log = -1;

static expert_field ei_cause[CAUSE_COUNT];

static int rstdiag_tap = -1;
static int tcp_tap_id = -1;
static int ip_tap_id = -1;
static int ipv6_tap_id = -1;

/* Preferences. */
#define RESPONSE_TIMEOUT_DEFAULT_MS 1000
#define RESPONSE_TIMEOUT_MAX_MS (3600 * 1000)
static rstdiag_ws_bool_t pref_info_column = TRUE;
static guint pref_response_timeout_ms = RESPONSE_TIMEOUT_DEFAULT_MS;
static rst_settings settings = { RESPONSE_TIMEOUT_DEFAULT_MS };
static const char *pref_log_file = "";
static gint pref_log_format = LOG_FORMAT_AUTO;
static const char *pref_log_timezone = "auto";
static const char *pref_log_clock_skew = "";
static const char *pref_log_window = "";

static enum_val_t log_format_values[LOG_FORMAT_COUNT + 1];   /* from log_format_name() */
static value_string log_format_names[LOG_FORMAT_COUNT + 1];

/* Log sources: the log_file preference first, then the rows of the "RSTDIAG
 * log sources" table. A log stays loaded across capture files; its matcher
 * lives for one capture file. */
#define MAX_LOG_SOURCES 8

typedef struct {
    char *path;
    gint format;
    log_match_settings settings;
    log_index *index;        /* NULL when the file could not be read */
    log_matcher *matcher;
} log_source;

static log_source log_sources[MAX_LOG_SOURCES];
static guint log_source_count;

typedef struct {
    char *file;
    guint format;
    char *timezone;
    char *skew;
} log_source_row;

static log_source_row *log_source_rows;
static guint log_source_row_count;

UAT_FILENAME_CB_DEF(log_source_rows, file, log_source_row)
UAT_VS_DEF(log_source_rows, format, log_source_row, guint, LOG_FORMAT_AUTO, "auto")
UAT_CSTRING_CB_DEF(log_source_rows, timezone, log_source_row)
UAT_CSTRING_CB_DEF(log_source_rows, skew, log_source_row)

/* File-scope state: the conn_stream of every tcp.stream, in chunks of
 * STREAM_CHUNK. Stream numbers are dense (0, 1, 2, ...), so the index finds a
 * stream without hashing and a stream costs its 64 bytes. Allocated in file
 * scope; the pointers are cleared by the init and cleanup routines. */
#define STREAM_CHUNK 256
static conn_stream **stream_chunks;
static guint32 stream_chunk_count;
/* Highest frame already fed to the tracker in this file. */
static guint32 last_tracked_frame;
static gboolean seen_rst;
/* tshark asked for the stats tree before the capture was read */
static gboolean unmatched_report_wanted;
/* Identifies our helper tap listener (any unique address will do). */
static int tap_helper_token;
static gboolean tap_helper_registered;

/* ---- reading the segment ------------------------------------------------ */

static const tcp_info_t *innermost_tcp_header(void)
{
    const tcp_info_t *found = NULL;
    const tcp_info_t *tcph;
    /* several entries when TCP is tunnelled; the last is the innermost */
    for (int idx = 0; (tcph = (const tcp_info_t *)fetch_tapped_data(tcp_tap_id, idx)) != NULL; idx++) {
        if (tcph->th_have_seglen)   /* not a header quoted in an ICMP error */
            found = tcph;
    }
    return found;
}

/* TTL or hop limit of the IP header that carried this TCP header. */
static guint8 carrier_ttl(const tcp_info_t *tcph)
{
    const ws_ip4 *ip4;
    const ws_ip6 *ip6;
    guint8 ttl = 0;

    for (int idx = 0; (ip4 = (const ws_ip4 *)fetch_tapped_data(ip_tap_id, idx)) != NULL; idx++) {
        if (addresses_equal(&ip4->ip_src, &tcph->ip_src) && addresses_equal(&ip4->ip_dst, &tcph->ip_dst))
            ttl = ip4->ip_ttl;
    }
    for (int idx = 0; (ip6 = (const ws_ip6 *)fetch_tapped_data(ipv6_tap_id, idx)) != NULL; idx++) {
        if (addresses_equal(&ip6->ip6_src, &tcph->ip_src) && addresses_equal(&ip6->ip6_dst, &tcph->ip_dst))
            ttl = ip6->ip6_hop;
    }
    return ttl;
}

static guint32 endpoint_key(const address *addr, guint16 port)
{
    guint hash = add_address_to_hash(0, addr);
    return (guint32)(hash * 65599u + port);
}

static void read_segment(const tcp_info_t *tcph, const packet_info *pinfo, tcp_segment *seg)
{
    seg->frame = pinfo->num;
    seg->time_us = (int64_t)pinfo->abs_ts.secs * 1000000 + pinfo->abs_ts.nsecs / 1000;
    seg->src_key = endpoint_key(&tcph->ip_src, tcph->th_sport);
    seg->src_port = tcph->th_sport;
    seg->dst_port = tcph->th_dport;
    seg->seq = tcph->th_rawseq;
    seg->ack = tcph->th_rawack;
    seg->payload_len = tcph->th_seglen;
    seg->window = tcph->th_win;
    seg->flags = tcph->th_flags;
    seg->ttl = 0;   /* carrier_ttl(), only where it is used: see track_frame */
}

static void read_endpoint(const address *addr, guint16 port, log_endpoint *out)
{
    memset(out, 0, sizeof *out);
    if (addr->type == AT_IPv4 && addr->len == 4)
        out->family = 4;
    else if (addr->type == AT_IPv6 && addr->len == 16)
        out->family = 6;
    else
        return;
    memcpy(out->addr, addr->data, (size_t)addr->len);
    out->port = port;
}

static void match_log_lines(rstdiag_record *record, const tcp_info_t *tcph, int64_t time_us)
{
    log_rst_event ev = {
        .stream = tcph->th_stream,
        .time_us = time_us,
        .role = record->diag.sender == SENDER_CLIENT ? LOG_SENDER_CLIENT
              : record->diag.sender == SENDER_SERVER ? LOG_SENDER_SERVER : LOG_SENDER_UNKNOWN,
    };
    read_endpoint(&tcph->ip_src, tcph->th_sport, &ev.sender);
    if (ev.sender.family == 0)
        return;
    rstdiag_log_hit hits[MAX_LOG_SOURCES];
    guint count = 0;
    for (guint i = 0; i < log_source_count; i++) {
        if (log_sources[i].matcher && log_matcher_match(log_sources[i].matcher, &ev, &hits[count].match))
            hits[count++].source = (guint8)i;
    }
    if (count) {
        record->hits = (rstdiag_log_hit *)wmem_memdup(wmem_file_scope(), hits, count * sizeof hits[0]);
        record->hit_count = (guint8)count;
    }
}

static conn_stream *stream_state(guint32 stream)
{
    guint32 chunk = stream / STREAM_CHUNK;
    if (chunk >= stream_chunk_count) {
        guint32 count = MAX(MAX(stream_chunk_count * 2, chunk + 1), 16);
        stream_chunks = (conn_stream **)wmem_realloc(wmem_file_scope(), stream_chunks,
                                                     count * sizeof *stream_chunks);
        memset(stream_chunks + stream_chunk_count, 0, (count - stream_chunk_count) * sizeof *stream_chunks);
        stream_chunk_count = count;
    }
    if (stream_chunks[chunk] == NULL)
        stream_chunks[chunk] = (conn_stream *)wmem_alloc0(wmem_file_scope(), STREAM_CHUNK * sizeof(conn_stream));
    return &stream_chunks[chunk][stream % STREAM_CHUNK];
}

/* First sight of a frame with tap data: update its stream and, for a RST,
 * return the stored verdict. */
static rstdiag_record *track_frame(packet_info *pinfo)
{
    const tcp_info_t *tcph = innermost_tcp_header();
    if (tcph == NULL)
        return NULL;
    last_tracked_frame = pinfo->num;

    tcp_segment seg;
    read_segment(tcph, pinfo, &seg);

    conn_stream *st = stream_state(tcph->th_stream);

    /* The TTL is kept from each side's first segment and looked at for a
     * RST: skip the search through the IP taps for every other packet. */
    if ((seg.flags & TCP_FLAG_RST) || st->side[conn_side_of(st, &seg)].ttl == 0)
        seg.ttl = carrier_ttl(tcph);

    rstdiag_record *record = NULL;
    if (seg.flags & TCP_FLAG_RST) {
        record = wmem_new0(wmem_file_scope(), rstdiag_record);
        rst_classify(st, &seg, &settings, &record->diag);
        record->stream = tcph->th_stream;
        record->first_in_stream = !((st->side[0].flags | st->side[1].flags) & SIDE_SENT_RST);
        record->first_in_capture = !seen_rst;
        seen_rst = TRUE;
        match_log_lines(record, tcph, seg.time_us);
        p_add_proto_data(wmem_file_scope(), pinfo, proto_rstdiag, 0, record);
    }
    conn_track_segment(st, &seg);
    return record;
}

/* ---- rendering ------------------------------------------------------------ */

static proto_item *add_token(proto_tree *tree, int hf, tvbuff_t *tvb, const char *token)
{
    proto_item *item = proto_tree_add_string(tree, hf, tvb, 0, 0, token);
    proto_item_set_generated(item);
    return item;
}

static void add_time(proto_tree *tree, int hf, tvbuff_t *tvb, int64_t us)
{
    /* nstime_t keeps the sign in both parts */
    nstime_t t = { (time_t)(us / 1000000), (int)(us % 1000000) * 1000 };
    proto_item_set_generated(proto_tree_add_time(tree, hf, tvb, 0, 0, &t));
}

/* Durations: negative means "not known". */
static void add_duration(proto_tree *tree, int hf, tvbuff_t *tvb, int64_t us)
{
    if (us >= 0)
        add_time(tree, hf, tvb, us);
}

/* The line a hit points at, or NULL (the logs may have been reloaded since). */
static const log_entry *hit_line(const rstdiag_log_hit *hit)
{
    const log_index *index = hit->source < log_source_count ? log_sources[hit->source].index : NULL;
    if (!index || hit->match.entry >= index->entries->len)
        return NULL;
    return &g_array_index(index->entries, log_entry, hit->match.entry);
}

static void render_log(const rstdiag_log_hit *hit, tvbuff_t *tvb, proto_tree *tree)
{
    const log_entry *line = hit_line(hit);
    if (!line)
        return;
    const char *path = log_sources[hit->source].path;
    proto_item *item = proto_tree_add_item(tree, hf_log, tvb, 0, 0, ENC_NA);
    proto_item_set_generated(item);
    proto_item_append_text(item, ": line %u of %s (%s)", line->lineno, path,
                           log_match_kind_token(hit->match.kind));
    proto_tree *sub = proto_item_add_subtree(item, ett_log);
    add_token(sub, hf_log_line, tvb, line->text);
    add_token(sub, hf_log_file, tvb, path);
    proto_item_set_generated(proto_tree_add_uint(sub, hf_log_lineno, tvb, 0, 0, line->lineno));
    add_time(sub, hf_log_delta, tvb, hit->match.delta_us);
    add_token(sub, hf_log_match, tvb, log_match_kind_token(hit->match.kind));
    add_token(sub, hf_log_leg, tvb, log_leg_token((log_leg)line->leg));
    if (line->level[0])
        add_token(sub, hf_log_level, tvb, line->level);
    if (line->request)
        add_token(sub, hf_log_request, tvb, line->request);
    add_time(sub, hf_log_offset, tvb, hit->match.offset_us);
}

static void render(const rstdiag_record *record, tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree)
{
    const rst_diagnosis *diag = &record->diag;
    const char *cause = rst_cause_token(diag->cause);
    const log_entry *line = record->hit_count ? hit_line(&record->hits[0]) : NULL;

    if (pref_info_column && line)
        col_append_fstr(pinfo->cinfo, COL_INFO, " [RST: %s, log line %u]", cause, line->lineno);
    else if (pref_info_column)
        col_append_fstr(pinfo->cinfo, COL_INFO, " [RST: %s]", cause);

    proto_item *top = proto_tree_add_item(tree, proto_rstdiag, tvb, 0, 0, ENC_NA);
    proto_item_set_generated(top);
    proto_item_append_text(top, ": %s by %s, phase %s (%s confidence)", cause,
                           rst_sender_token(diag->sender), rst_phase_token(diag->phase),
                           rst_confidence_token(diag->confidence));

    proto_tree *sub = proto_item_add_subtree(top, ett_rstdiag);
    add_token(sub, hf_sender, tvb, rst_sender_token(diag->sender));
    add_token(sub, hf_phase, tvb, rst_phase_token(diag->phase));
    expert_add_info(pinfo, add_token(sub, hf_cause, tvb, cause), &ei_cause[diag->cause]);
    add_token(sub, hf_confidence, tvb, rst_confidence_token(diag->confidence));
    add_token(sub, hf_kernel_reason, tvb, rst_kernel_reason_token(diag->kernel_reason));
    add_token(sub, hf_evidence, tvb, diag->evidence);
    add_token(sub, hf_shape, tvb, rst_shape_token(diag->shape));
    add_token(sub, hf_acceptable, tvb, rst_acceptability_token(diag->acceptable));
    if (diag->trigger_frame)
        proto_item_set_generated(proto_tree_add_uint(sub, hf_trigger, tvb, 0, 0, diag->trigger_frame));
    add_duration(sub, hf_idle, tvb, diag->idle_us);
    add_duration(sub, hf_age, tvb, diag->age_us);
    proto_item_set_generated(proto_tree_add_uint(sub, hf_bytes_client, tvb, 0, 0, diag->bytes_client));
    proto_item_set_generated(proto_tree_add_uint(sub, hf_bytes_server, tvb, 0, 0, diag->bytes_server));
    for (guint i = 0; i < record->hit_count; i++)
        render_log(&record->hits[i], tvb, sub);
}

static int dissect_rstdiag(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    rstdiag_record *record;
    if (pinfo->num > last_tracked_frame)   /* first sight: nothing stored for it yet */
        record = track_frame(pinfo);
    else
        record = (rstdiag_record *)p_get_proto_data(wmem_file_scope(), pinfo, proto_rstdiag, 0);
    if (record == NULL)
        return 0;
    const char *saved_proto = pinfo->current_proto;
    pinfo->current_proto = "RSTDIAG";   /* the expert infos' protocol: not set for a pino */
    render(record, tvb, pinfo, tree);
    tap_queue_packet(rstdiag_tap, pinfo, record);
    pinfo->current_proto = saved_proto;
    return tvb_captured_length(tvb);
}

static gint compare_uint(gconstpointer a, gconstpointer b)
{
    guint x = *(const guint *)a, y = *(const guint *)b;
    return x < y ? -1 : x > y;
}

/* ---- for the stats tree -------------------------------------------------- */

void rstdiag_log_line_counts(guint *lines, guint *unmatched)
{
    *lines = *unmatched = 0;
    for (guint i = 0; i < log_source_count; i++) {
        const log_index *index = log_sources[i].index;
        if (!index)
            continue;
        guint used = log_sources[i].matcher ? log_matcher_used_count(log_sources[i].matcher) : 0;
        *lines += index->lines_reporting_rst;
        *unmatched += index->lines_reporting_rst - used;
    }
}

void rstdiag_foreach_unmatched_line(void (*fn)(const char *path, guint lineno, void *data), void *data)
{
    for (guint i = 0; i < log_source_count; i++) {
        const log_index *index = log_sources[i].index;
        if (!index)
            continue;
        GArray *linenos = g_array_new(FALSE, FALSE, sizeof(guint));
        for (guint e = 0; e < index->entries->len; e++) {
            const log_entry *line = &g_array_index(index->entries, log_entry, e);
            if (line->reports_rst && !(log_sources[i].matcher && log_matcher_entry_used(log_sources[i].matcher, e)))
                g_array_append_val(linenos, line->lineno);
        }
        g_array_sort(linenos, compare_uint);   /* the index is in time order */
        for (guint n = 0; n < linenos->len; n++)
            fn(log_sources[i].path, g_array_index(linenos, guint, n), data);
        g_array_free(linenos, TRUE);
    }
}

gboolean rstdiag_matching_final(guint32 num)
{
    return num < last_tracked_frame;
}

void rstdiag_report_unmatched_at_close(void)
{
    unmatched_report_wanted = TRUE;
}

/* ---- life cycle ----------------------------------------------------------- */

static void rstdiag_init(void)
{
    stream_chunks = NULL;
    stream_chunk_count = 0;
    last_tracked_frame = 0;
    seen_rst = FALSE;
    for (guint i = 0; i < log_source_count; i++) {
        if (log_sources[i].index)
            log_sources[i].matcher = log_matcher_new(log_sources[i].index, &log_sources[i].settings);
    }
    if (!proto_is_protocol_enabled(find_protocol_by_id(proto_rstdiag)) || tap_helper_registered)
        return;
    /* A listener without callbacks: it only makes the tcp/ip taps queue their
     * data so fetch_tapped_data() works; it does not ask for a tree. */
    GString *error = register_tap_listener("tcp", &tap_helper_token, NULL, TL_IS_DISSECTOR_HELPER,
                                           NULL, NULL, NULL, NULL);
    if (error) {
        report_failure("RSTDIAG: cannot read TCP headers (tap listener: %s); resets will not be diagnosed",
                       error->str);
        g_string_free(error, TRUE);
        return;
    }
    tap_helper_registered = TRUE;
}

static void print_unmatched_line(const char *path, guint lineno, void *data)
{
    const char **last_path = (const char **)data;
    if (*last_path == NULL || strcmp(*last_path, path) != 0)
        fprintf(stderr, "%s%s line %u", *last_path ? "\n  " : "  ", path, lineno);
    else
        fprintf(stderr, ", %u", lineno);
    *last_path = path;
}

static void rstdiag_cleanup(void)
{
    if (unmatched_report_wanted) {
        guint lines, unmatched;
        rstdiag_log_line_counts(&lines, &unmatched);
        if (unmatched) {
            const char *last_path = NULL;
            fflush(stdout);   /* after tshark's statistics, not inside them */
            fprintf(stderr, "RSTDIAG: %u of %u log reset lines have no RST in the capture:\n", unmatched, lines);
            rstdiag_foreach_unmatched_line(print_unmatched_line, &last_path);
            fprintf(stderr, "\n");
        }
        unmatched_report_wanted = FALSE;
    }
    stream_chunks = NULL;   /* freed with the file scope */
    stream_chunk_count = 0;
    for (guint i = 0; i < log_source_count; i++) {
        log_matcher_free(log_sources[i].matcher);
        log_sources[i].matcher = NULL;
    }
    if (tap_helper_registered) {
        remove_tap_listener(&tap_helper_token);
        tap_helper_registered = FALSE;
    }
}

static log_index *load_log_file(const char *path, gint format)
{
    char *error = NULL;
    log_index *index = log_index_load(path, (log_format)format, &error);
    if (!index) {
        report_failure("RSTDIAG: %s; resets are diagnosed without its lines", error);
        g_free(error);
    } else if (index->entries->len == 0) {
        report_warning("RSTDIAG: log file %s has no reset lines (%u lines read, %u mentioning a reset "
                       "in no known format)", path, index->lines_read, index->lines_unparsed);
    } else {
        ws_info("log file %s: %u reset lines of %u (%u unparsed, %u cut)", path, index->entries->len,
                index->lines_read, index->lines_unparsed, index->lines_cut);
    }
    return index;
}

/* The loaded (or found unreadable) source for this file and format, taken
 * out of the old list; NULL if there is none. */
static log_source *take_old_source(const char *path, gint format)
{
    for (guint i = 0; i < log_source_count; i++) {
        log_source *old = &log_sources[i];
        if (old->path && strcmp(old->path, path) == 0 && old->format == format)
            return old;
    }
    return NULL;
}

/* Rebuilds the source list from the preferences and the table. A file
 * already read, or already found unreadable, with the same format is kept as
 * it is, so each problem is told once; new files are read now. */
static void configure_log_sources(void)
{
    log_source wanted[MAX_LOG_SOURCES];
    guint count = 0, rows_left_out = 0;
    char *error = NULL;

    log_match_settings settings;
    if (!log_match_settings_parse(pref_log_timezone, pref_log_clock_skew, pref_log_window, &settings, &error)) {
        report_failure("RSTDIAG: %s", error);
        g_clear_pointer(&error, g_free);
    }
    if (pref_log_file && *pref_log_file) {
        wanted[count] = (log_source){ .path = g_strdup(pref_log_file), .format = pref_log_format,
                                      .settings = settings };
        count++;
    }
    for (guint r = 0; r < log_source_row_count; r++) {
        const log_source_row *row = &log_source_rows[r];
        if (!row->file || !*row->file)
            continue;
        if (count == MAX_LOG_SOURCES) {
            rows_left_out++;
            continue;
        }
        wanted[count] = (log_source){ .path = g_strdup(row->file), .format = (gint)row->format };
        /* rows were checked when entered; a bad value falls back to its default */
        log_match_settings_parse(row->timezone, row->skew, pref_log_window, &wanted[count].settings, &error);
        g_clear_pointer(&error, g_free);
        count++;
    }
    if (rows_left_out)
        report_warning("RSTDIAG: only %d log sources are used; %u left out", MAX_LOG_SOURCES, rows_left_out);

    for (guint w = 0; w < count; w++) {
        log_source *old = take_old_source(wanted[w].path, wanted[w].format);
        if (old) {
            wanted[w].index = old->index;
            old->index = NULL;
            g_clear_pointer(&old->path, g_free);
        } else {
            wanted[w].index = load_log_file(wanted[w].path, wanted[w].format);
        }
    }
    for (guint i = 0; i < log_source_count; i++) {
        log_index_free(log_sources[i].index);
        g_free(log_sources[i].path);
    }
    memcpy(log_sources, wanted, sizeof wanted[0] * count);
    log_source_count = count;
}

/* ---- the log sources table --------------------------------------------------- */

static void *copy_log_source_row(void *dest, const void *source, size_t len _U_)
{
    log_source_row *d = (log_source_row *)dest;
    const log_source_row *s = (const log_source_row *)source;
    d->file = g_strdup(s->file);
    d->format = s->format;
    d->timezone = g_strdup(s->timezone);
    d->skew = g_strdup(s->skew);
    return d;
}

static void free_log_source_row(void *record)
{
    log_source_row *row = (log_source_row *)record;
    g_free(row->file);
    g_free(row->timezone);
    g_free(row->skew);
}

static rstdiag_ws_bool_t check_log_source_row(void *record, char **error)
{
    const log_source_row *row = (const log_source_row *)record;
    log_match_settings unused;
    if (!row->file || !*row->file) {
        *error = g_strdup("A log source needs a file");
        return FALSE;
    }
    return log_match_settings_parse(row->timezone, row->skew, NULL, &unused, error);
}

static uat_t *register_log_source_table(void)
{
    static uat_field_t fields[] = {
        UAT_FLD_FILENAME_OTHER(log_source_rows, file, "Log file", NULL, "Path of the log (plain or gzip)"),
        UAT_FLD_VS(log_source_rows, format, "Format", log_format_names, "Log format; auto detects it per line"),
        UAT_FLD_CSTRING(log_source_rows, timezone, "Time zone", "auto, local, UTC or +HH:MM"),
        UAT_FLD_CSTRING(log_source_rows, skew, "Clock skew (s)", "Seconds added to its times; empty: estimated"),
        UAT_END_FIELDS
    };
    return uat_new("RSTDIAG log sources", sizeof(log_source_row), "rstdiag_log_sources", TRUE,
                   &log_source_rows, &log_source_row_count, UAT_AFFECTS_DISSECTION, NULL,
                   copy_log_source_row, check_log_source_row, free_log_source_row, configure_log_sources,
                   NULL, fields);
}

/* At exit: the plugin is unloaded, so what only its statics point at must go now. */
static void rstdiag_shutdown(void)
{
    for (guint i = 0; i < log_source_count; i++) {
        log_matcher_free(log_sources[i].matcher);
        log_index_free(log_sources[i].index);
        g_free(log_sources[i].path);
    }
    log_source_count = 0;
}

static void rstdiag_prefs_changed(void)
{
    if (pref_response_timeout_ms == 0 || pref_response_timeout_ms > RESPONSE_TIMEOUT_MAX_MS) {
        report_failure("RSTDIAG: response_timeout %u ms is outside 1..%u ms; using %u ms",
                       pref_response_timeout_ms, RESPONSE_TIMEOUT_MAX_MS, RESPONSE_TIMEOUT_DEFAULT_MS);
        pref_response_timeout_ms = RESPONSE_TIMEOUT_DEFAULT_MS;
    }
    settings.response_timeout_ms = pref_response_timeout_ms;

    configure_log_sources();
}

static void register_expert_fields(void)
{
    static ei_register_info ei[CAUSE_COUNT];
    for (int i = 0; i < CAUSE_COUNT; i++) {
        const char *token = rst_cause_token((rst_cause)i);
        int severity = PI_WARN;
        if (i == CAUSE_LATE_AFTER_CLOSE || i == CAUSE_HANDSHAKE_ABORT || i == CAUSE_CONNECT_ABANDONED)
            severity = PI_NOTE;
        else if (i == CAUSE_ACCEPT_OVERFLOW)
            severity = PI_ERROR;
        char *name = g_strdup_printf("rstdiag.expert.%s", token);
        g_strdelimit(name, "-", '_');   /* field names: letters, digits, '_' and '.' */
        ei_cause[i] = (expert_field)EI_INIT;
        ei[i] = (ei_register_info){ &ei_cause[i],
            { name, PI_SEQUENCE, severity,
              g_strdup_printf("TCP reset, cause %s: %s", token, rst_cause_summary((rst_cause)i)),
              EXPFILL } };
    }
    expert_module_t *module = expert_register_protocol(proto_rstdiag);
    expert_register_field_array(module, ei, CAUSE_COUNT);
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
            "closing (after one FIN), closed (after both FINs or an earlier RST), unknown (start not captured)"),
        TOKEN_FIELD(hf_cause, "Cause", "rstdiag.cause",
            "Likely cause: refused, accept-overflow, bad-handshake, connect-abandoned, handshake-abort, "
            "unread-data, abortive-close, response-timeout, data-after-close, stale-connection, "
            "keepalive-timeout, late-after-close or unknown"),
        TOKEN_FIELD(hf_confidence, "Confidence", "rstdiag.confidence",
            "How firmly the traffic supports the cause: high, medium or low"),
        TOKEN_FIELD(hf_kernel_reason, "Likely kernel reason", "rstdiag.kernel_reason",
            "The Linux sk_rst_reason the sender's kernel would most likely report for this RST "
            "(tcp:tcp_send_reset tracepoint), or NONE when no end host's stack would send it"),
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
        { &hf_log, { "Log line", "rstdiag.log", FT_NONE, BASE_NONE, NULL, 0x0,
            "The application log line this RST caused (preference log_file)", HFILL } },
        TOKEN_FIELD(hf_log_line, "Text", "rstdiag.log.line",
            "The matched log line, cut to 1024 bytes, control characters and invalid UTF-8 replaced"),
        TOKEN_FIELD(hf_log_file, "File", "rstdiag.log.file", "The log file the line comes from"),
        { &hf_log_lineno, { "Line number", "rstdiag.log.lineno", FT_UINT32, BASE_DEC, NULL, 0x0,
            "1-based line number of the matched line in the log file", HFILL } },
        { &hf_log_delta, { "Log time minus packet time", "rstdiag.log.delta", FT_RELATIVE_TIME, BASE_NONE, NULL, 0x0,
            "The line's time after the clock offset, minus the RST's capture time", HFILL } },
        TOKEN_FIELD(hf_log_match, "Matched on", "rstdiag.log.match",
            "What tied the line to the RST besides time: address+port, address, or time alone"),
        TOKEN_FIELD(hf_log_leg, "Leg", "rstdiag.log.leg",
            "Which connection of the logging program was reset: client (from its client) or upstream"),
        TOKEN_FIELD(hf_log_level, "Level", "rstdiag.log.level",
            "The line's severity as the log wrote it (nginx and Apache: info, error, ...)"),
        TOKEN_FIELD(hf_log_request, "Request", "rstdiag.log.request",
            "The request line the log quotes (nginx, HAProxy, Envoy), cut to 256 bytes"),
        { &hf_log_offset, { "Clock offset", "rstdiag.log.offset", FT_RELATIVE_TIME, BASE_NONE, NULL, 0x0,
            "Offset between the log's clock and UTC applied to the line: its zone plus clock skew "
            "(estimated from the traffic unless set in the preferences)", HFILL } },
    };
    static gint *ett[] = { &ett_rstdiag, &ett_log };

    proto_rstdiag = proto_register_protocol("TCP RST diagnosis", "RSTDIAG", "rstdiag");
    proto_rstdiag_post = proto_register_protocol_in_name_only("TCP RST diagnosis (post-dissector)",
        "RSTDIAG post-dissector", "rstdiag.postdissector", proto_rstdiag, FT_PROTOCOL);
    rstdiag_tap = register_tap("rstdiag");
    register_rstdiag_stats();
    proto_register_field_array(proto_rstdiag, hf, array_length(hf));
    proto_register_subtree_array(ett, array_length(ett));
    register_expert_fields();

    for (int f = 0; f < LOG_FORMAT_COUNT; f++) {
        log_format_values[f] = (enum_val_t){ log_format_name((log_format)f), log_format_name((log_format)f), f };
        log_format_names[f] = (value_string){ (guint32)f, log_format_name((log_format)f) };
    }
    module_t *module = prefs_register_protocol(proto_rstdiag, rstdiag_prefs_changed);
    prefs_register_bool_preference(module, "info_column", "Show the cause in the Info column",
        "Append \"[RST: cause]\" to the Info column of every diagnosed RST", &pref_info_column);
    prefs_register_uint_preference(module, "response_timeout", "Response timeout (ms)",
        "A client that resets after waiting at least this long for an answer to its data is "
        "diagnosed as response-timeout (1 to 3600000 ms)", 10, &pref_response_timeout_ms);
    prefs_register_filename_preference(module, "log_file", "Application log file",
        "Log to match resets with (nginx error log, Apache error log, HAProxy, Envoy, or any line with a "
        "time, a reset phrase and an address); plain or gzip. Empty: no log matching", &pref_log_file, FALSE);
    prefs_register_enum_preference(module, "log_format", "Log format",
        "Format of the log file; auto detects it line by line", &pref_log_format, log_format_values, FALSE);
    prefs_register_string_preference(module, "log_timezone", "Log time zone",
        "Zone of log times written without one: auto (estimated from the traffic), local, UTC, or +HH:MM",
        &pref_log_timezone);
    prefs_register_string_preference(module, "log_clock_skew", "Log clock skew (s)",
        "Seconds added to log times to correct the logging host's clock; empty: estimated from the traffic",
        &pref_log_clock_skew);
    prefs_register_string_preference(module, "log_window", "Log match window (s)",
        "How far, beyond the log's time resolution, a line may be from the RST; empty: 1 s",
        &pref_log_window);
    prefs_register_uat_preference(module, "log_sources", "More log sources",
        "Further logs to match resets with, e.g. the upstream's next to the proxy's, each with its own "
        "format, time zone and clock skew", register_log_source_table());

    register_init_routine(rstdiag_init);
    register_cleanup_routine(rstdiag_cleanup);
    register_shutdown_routine(rstdiag_shutdown);
}

void proto_reg_handoff_rstdiag(void)
{
    tcp_tap_id = find_tap_id("tcp");
    ip_tap_id = find_tap_id("ip");
    ipv6_tap_id = find_tap_id("ipv6");
    register_postdissector(create_dissector_handle(dissect_rstdiag, proto_rstdiag_post));
}
