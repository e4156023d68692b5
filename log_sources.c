/* SPDX-License-Identifier: GPL-2.0-or-later */
/* log_sources.c - the application logs matched to the RSTs: the log
 * preferences and the "log sources" table, loading each log once
 * (log_index), a matcher per capture file (log_match), the lines of each RST,
 * and what the stats tree and the end report say about the logs. */
#include "log_sources.h"

#include <errno.h>
#include <sys/stat.h>

#include <epan/uat.h>
#include <wsutil/report_message.h>

#include "log_match.h"

static const char *pref_log_file = "";
static gint pref_log_format = LOG_FORMAT_AUTO;
static const char *pref_log_timezone = "auto";
static const char *pref_log_clock_skew = "";
static const char *pref_log_window = "";

static enum_val_t log_format_values[LOG_FORMAT_COUNT + 1];   /* from log_format_name() */
static value_string log_format_names[LOG_FORMAT_COUNT + 1];

/* Log sources: the log_file preference first, then the rows of the "log
 * sources" table. A log stays loaded across capture files; its matcher
 * lives for one capture file. */
#define MAX_LOG_SOURCES 8

typedef struct {
    char *path;
    gint format;
    log_match_settings settings;
    log_index *index;        /* NULL when the file could not be read */
    log_matcher *matcher;
    gboolean not_written_yet;    /* not read: missing or empty; a live capture waits for its lines */
    gboolean follow_stop_told;   /* why following it stopped has been told */
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

/* the stats tree listens in the only pass: the log lines are placed at the end */
static gboolean unmatched_report_wanted;

/* ---- following the logs during a live capture ---------------------------------
 * A frame stamped within LIVE_LAG_US of the wall clock is being captured now:
 * its RST's line may not be written yet. Then, every FOLLOW_EVERY_FRAMES new
 * frames, at most every FOLLOW_INTERVAL_US, the logs are read further (one
 * stat() each when nothing changed) and the matchers take the new lines in;
 * frames dissected again show them (the GUI), and the lines tied after a RST's
 * frame was shown are listed when the capture ends (tshark). A capture file
 * read from disk is not followed: its logs are what was read at its opening --
 * after a live capture, the logs are read further once at each opening. */
#define LIVE_LAG_US (30 * G_USEC_PER_SEC)
#define FOLLOW_EVERY_FRAMES 16
#define FOLLOW_INTERVAL_US (G_USEC_PER_SEC / 4)
#define LATE_LISTED_MAX 50

static gboolean capture_is_live;      /* this capture file: a frame was live */
static gboolean followed_live;        /* some capture was, since the plugin loaded */
static guint frames_until_follow;
static gint64 followed_at_us;         /* monotonic */
static guint32 current_frame;         /* the frame being tracked (log_sources_note_frame) */
static gboolean first_pass_silent;    /* the frames are shown in a later pass (tshark -2) */

/* Each RST given to the matchers: its frame and stream, and the line of each
 * source shown at its first dissection (entry + 1, 0: none). */
typedef struct {
    guint32 frame;
    guint32 stream;
    gboolean shown_known;
    guint32 shown[MAX_LOG_SOURCES];
} rst_shown;

static GArray *rsts_shown;

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

/* stream index -> request_slot (file scope) holding "METHOD target" of its
 * latest HTTP request (a RST keeps a copy of its own): a log line quoting it
 * names the stream. An array, and a slot rewritten in place while the next
 * request fits (keep-alive connections send many), taken from the file
 * scope's blocks, not malloc: this runs at every request of the capture.
 * Filled only while a log is loaded. */
static GPtrArray *request_of_stream;

typedef struct {
    guint16 room;        /* bytes text[] holds */
    char text[];
} request_slot;

#define REQUEST_SLOT_MIN 64   /* room for most request lines, so that a stream's next fits */

/* The payload ends the frame (a request line is longer than any Ethernet
 * padding); a request line cut by the snapshot length is not read. */
void log_sources_note_payload(const packet_info *pinfo, tvbuff_t *tvb, guint payload_len, guint32 stream)
{
    /* the frame's lengths from its frame_data, not from calls into the tvb:
     * at every payload each call is a miss in the instruction cache */
    guint reported = pinfo->fd->pkt_len, captured = pinfo->fd->cap_len;
    if (payload_len > reported || reported - payload_len >= captured)
        return;
    guint at = reported - payload_len;
    const uint8_t *payload = tvb_get_ptr(tvb, at, captured - at);
    char request[LOG_REQUEST_MAX + 1];
    if (!log_request_may_open(payload, captured - at) || !log_request_read(payload, captured - at, request))
        return;
    if (stream >= request_of_stream->len)
        g_ptr_array_set_size(request_of_stream, stream + 1);
    request_slot **slot = (request_slot **)&g_ptr_array_index(request_of_stream, stream);
    size_t size = strlen(request) + 1;
    if (!*slot || size > (*slot)->room) {   /* a slot outgrown stays in the file scope, unused */
        guint16 room = (guint16)MAX(size, REQUEST_SLOT_MIN);
        *slot = wmem_alloc(wmem_file_scope(), sizeof **slot + room);
        (*slot)->room = room;
    }
    memcpy((*slot)->text, request, size);
}

/* Hands the RST to every log's matcher; its lines are asked for at each
 * dissection (log_sources_refresh_hits), as they depend on the RSTs that follow. */
void log_sources_add_rst(rstdiag_record *record, const address *src, guint16 port, guint32 stream,
                         int64_t time_us)
{
    log_rst_event ev = {
        .stream = stream,
        .time_us = time_us,
        .role = record->diag.sender == SENDER_CLIENT ? LOG_SENDER_CLIENT
              : record->diag.sender == SENDER_SERVER ? LOG_SENDER_SERVER : LOG_SENDER_UNKNOWN,
        .answers_syn = record->diag.phase == PHASE_SYN,
        .crossed_fin = record->diag.cause == CAUSE_KEEPALIVE_RACE
            && (record->diag.kernel_reason == KR_TCP_ABORT_ON_DATA || record->diag.kernel_reason == KR_TCP_TIMEWAIT_SOCKET),
    };
    read_endpoint(src, port, &ev.sender);
    if (ev.sender.family == 0 || log_source_count == 0)
        return;
    const request_slot *latest = stream < request_of_stream->len ? g_ptr_array_index(request_of_stream, stream) : NULL;
    if (latest)
        ev.request = wmem_strdup(wmem_file_scope(), latest->text);
    for (guint i = 0; i < log_source_count; i++) {
        if (log_sources[i].matcher)   /* every matcher numbers the RSTs alike */
            record->log_rst = log_matcher_add(log_sources[i].matcher, &ev) + 1;
    }
    if (record->log_rst) {
        record->hits = wmem_alloc_array(wmem_file_scope(), rstdiag_log_hit, MAX_LOG_SOURCES);
        rst_shown shown = { .frame = current_frame, .stream = stream };
        g_array_append_val(rsts_shown, shown);
    }
}

void log_sources_refresh_hits(rstdiag_record *record)
{
    guint count = 0;
    for (guint i = 0; record->log_rst && i < log_source_count; i++) {
        if (log_sources[i].matcher
            && log_matcher_result(log_sources[i].matcher, record->log_rst - 1, &record->hits[count].match))
            record->hits[count++].source = (guint8)i;
    }
    record->hit_count = (guint8)count;
    rst_shown *shown = record->log_rst ? &g_array_index(rsts_shown, rst_shown, record->log_rst - 1) : NULL;
    if (shown && !shown->shown_known) {
        shown->shown_known = TRUE;
        for (guint h = 0; h < count; h++)
            shown->shown[record->hits[h].source] = record->hits[h].match.entry + 1;
    }
}

static void follow_logs(void)
{
    for (guint i = 0; i < log_source_count; i++) {
        log_source *source = &log_sources[i];
        if (!source->index || !source->matcher)
            continue;
        if (log_index_follow(source->index, (log_format)source->format))
            log_matcher_update(source->matcher);
        if (source->index->stop_reason && !source->follow_stop_told) {
            report_warning("RSTDIAG: log file %s: following it stopped at line %u (%s); the lines read before "
                           "are used", source->path, source->index->stop_line, source->index->stop_reason);
            source->follow_stop_told = TRUE;
        }
    }
}

/* A live capture begins (before its first RST): a log missing or empty is
 * followed from its first line, with a matcher like the others. */
static void wait_for_unwritten_logs(void)
{
    for (guint i = 0; i < log_source_count; i++) {
        log_source *source = &log_sources[i];
        if (source->index || !source->not_written_yet)
            continue;
        source->index = log_index_new_waiting(source->path);
        source->matcher = log_matcher_new(source->index, &source->settings);
    }
}

/* Every FOLLOW_EVERY_FRAMES new frames: is the capture live, and is it time to read the logs further? */
static void follow_if_live(int64_t frame_us)
{
    if (--frames_until_follow > 0)
        return;
    frames_until_follow = FOLLOW_EVERY_FRAMES;
    gint64 now = g_get_monotonic_time();
    if (now - followed_at_us < FOLLOW_INTERVAL_US)
        return;
    followed_at_us = now;
    if (llabs(g_get_real_time() - frame_us) > LIVE_LAG_US)
        return;
    if (rsts_shown->len == 0)
        wait_for_unwritten_logs();
    capture_is_live = followed_live = TRUE;
    follow_logs();
}

/* At the end of a live capture or of tshark's single pass: the RSTs tied to
 * lines after their frames were shown (tshark prints a frame once, at its
 * first dissection: before its line was written, or while the first RSTs
 * still fitted several clocks). */
static void report_late_ties(void)
{
    for (guint i = 0; i < log_source_count; i++) {
        const log_source *source = &log_sources[i];
        guint late = 0;
        log_clock clock;
        for (int settle = 0; source->matcher && settle < 2; settle++)
            log_matcher_clock(source->matcher, &clock);   /* the second question after the last RST is final */
        for (guint r = 0; source->matcher && r < rsts_shown->len; r++) {
            const rst_shown *shown = &g_array_index(rsts_shown, rst_shown, r);
            log_match_result match;
            if (!log_matcher_result(source->matcher, r, &match) || match.entry + 1 == shown->shown[i])
                continue;
            if (late++ == 0)
                fprintf(stderr, "RSTDIAG: log file %s: lines written or tied after their RST's frame was shown:\n",
                        source->path);
            if (late > LATE_LISTED_MAX)
                continue;
            const log_entry *line = &g_array_index(source->index->entries, log_entry, match.entry);
            fprintf(stderr, "  frame %u (stream %u): line %u", shown->frame, shown->stream, line->lineno);
            if (shown->shown[i])
                fprintf(stderr, " (line %u was shown)", g_array_index(source->index->entries, log_entry,
                                                                      shown->shown[i] - 1).lineno);
            fprintf(stderr, ": %s\n", line->text);
        }
        if (late > LATE_LISTED_MAX)
            fprintf(stderr, "  and %u more\n", late - LATE_LISTED_MAX);
    }
}

const log_entry *log_sources_hit_line(const rstdiag_log_hit *hit, const char **path)
{
    const log_index *index = hit->source < log_source_count ? log_sources[hit->source].index : NULL;
    if (!index || hit->match.entry >= index->entries->len)
        return NULL;
    *path = log_sources[hit->source].path;
    return &g_array_index(index->entries, log_entry, hit->match.entry);
}

/* ---- what the stats tree and the end report say about the logs ---------------- */

static rstdiag_log_summary log_summaries[MAX_LOG_SOURCES];
static guint log_summary_count;
static guint32 log_summaries_placed_at;   /* the tracked frame when placed; 0: not placed */
static int64_t capture_first_us, capture_last_us;   /* times of the first and last frame */
static gboolean capture_seen;

void log_sources_note_silent_pass(void)
{
    first_pass_silent = TRUE;
}

void log_sources_note_frame(const packet_info *pinfo)
{
    current_frame = pinfo->num;
    if (log_source_count == 0)   /* the capture's span is only placed against logs */
        return;
    int64_t t = (int64_t)pinfo->abs_ts.secs * 1000000 + pinfo->abs_ts.nsecs / 1000;
    follow_if_live(t);
    if (!capture_seen || t < capture_first_us)
        capture_first_us = t;
    if (!capture_seen || t > capture_last_us)
        capture_last_us = t;
    capture_seen = TRUE;
}

/* The sources' counts; placed against the capture when every RST has been
 * matched (a later pass; at the end of the only one), again only when frames
 * have been tracked since (a live capture). */
static void update_log_summaries(gboolean every_rst_matched, guint32 tracked_frame)
{
    if (log_summaries_placed_at && log_summaries_placed_at == tracked_frame)
        return;
    log_summary_count = 0;
    for (guint i = 0; i < log_source_count; i++) {
        const log_source *source = &log_sources[i];
        if (!source->index || !source->matcher)
            continue;
        rstdiag_log_summary *s = &log_summaries[log_summary_count++];
        s->path = source->path;
        s->lines = source->index->lines_reporting_rst;
        s->placed = every_rst_matched;
        log_matcher_clock(source->matcher, &s->clock);
        if (every_rst_matched)
            log_matcher_census(source->matcher, capture_first_us, capture_last_us, &s->census);
        else
            s->census = (log_census){ .explained = log_matcher_used_count(source->matcher) };
    }
    log_summaries_placed_at = every_rst_matched ? MAX(tracked_frame, 1) : 0;
}

void log_sources_tap_view(rstdiag_tap_data *data, gboolean later_pass, guint32 tracked_frame)
{
    update_log_summaries(later_pass, tracked_frame);
    /* the only pass (tshark without -2): the lines are placed at the end, on stderr */
    unmatched_report_wanted |= !later_pass && log_summary_count > 0;
    data->log_count = log_summary_count;
    data->logs = log_summaries;
}

static void report_unmatched_lines(guint32 tracked_frame)
{
    update_log_summaries(TRUE, tracked_frame);
    fflush(stdout);   /* after tshark's statistics, not inside them */
    for (guint i = 0; i < log_summary_count; i++) {
        const rstdiag_log_summary *s = &log_summaries[i];
        const log_census *c = &s->census;
        fprintf(stderr, "RSTDIAG: log file %s: %u reset lines: %u explained by a RST, %u in the capture's time "
                "with no RST, %u outside the capture's time%s\n", s->path, s->lines, c->explained, c->inside,
                c->outside, c->offset_known ? "" : " (no clock offset could be estimated: its times were read as UTC)");
        if (c->listed == 0)
            continue;
        fprintf(stderr, "  in the capture's time with no RST: line");
        for (guint n = 0; n < c->listed; n++)
            fprintf(stderr, "%s %u", n ? "," : "", c->listed_lineno[n]);
        if (c->listed < c->inside)
            fprintf(stderr, " (the first %u of %u)", c->listed, c->inside);
        fprintf(stderr, "\n");
    }
}

/* Each log's clock, once, at the end: the offset found from all its RSTs. */
static void print_log_clocks(void)
{
    for (guint i = 0; i < log_source_count; i++) {
        log_clock clock;
        if (!log_sources[i].matcher || log_sources[i].index->lines_reporting_rst == 0)
            continue;   /* nothing to tell: its emptiness was told when it was read */
        log_matcher_clock(log_sources[i].matcher, &clock);
        if (clock.rsts == 0)
            continue;
        char *text = log_clock_describe(&clock);
        fprintf(stderr, "RSTDIAG: %s: %s\n", log_sources[i].path, text);
        g_free(text);
    }
}

gboolean log_sources_file_init(void)
{
    capture_seen = FALSE;
    log_summaries_placed_at = 0;
    log_summary_count = 0;
    capture_is_live = FALSE;
    first_pass_silent = FALSE;
    frames_until_follow = 1;   /* the first frame tells whether the capture is live */
    followed_at_us = 0;
    rsts_shown = g_array_new(FALSE, FALSE, sizeof(rst_shown));
    request_of_stream = g_ptr_array_new();
    for (guint i = 0; i < log_source_count; i++) {
        if (log_sources[i].index)
            log_sources[i].matcher = log_matcher_new(log_sources[i].index, &log_sources[i].settings);
    }
    if (followed_live)
        follow_logs();   /* what was written since, e.g. a redissection after a live capture */
    return log_source_count > 0;
}

void log_sources_file_cleanup(guint32 tracked_frame)
{
    if (capture_is_live)
        follow_logs();   /* the lines written until the capture stopped */
    if (!first_pass_silent)
        report_late_ties();
    print_log_clocks();
    if (unmatched_report_wanted) {
        report_unmatched_lines(tracked_frame);
        unmatched_report_wanted = FALSE;
    }
    for (guint i = 0; i < log_source_count; i++) {
        log_matcher_free(log_sources[i].matcher);
        log_sources[i].matcher = NULL;
    }
    g_array_free(rsts_shown, TRUE);
    rsts_shown = NULL;
    g_ptr_array_free(request_of_stream, TRUE);
    request_of_stream = NULL;
}

static log_index *load_log_file(const char *path, gint format, gboolean *not_written_yet)
{
    char *error = NULL;
    log_index *index = log_index_load(path, (log_format)format, &error);
    struct stat st;
    int stat_result = index ? 0 : stat(path, &st);
    *not_written_yet = !index && (stat_result == 0 ? S_ISREG(st.st_mode) && st.st_size == 0 : errno == ENOENT);
    if (!index) {
        report_failure("RSTDIAG: %s; resets are diagnosed without its lines", error);
        g_free(error);
    } else if (index->stop_reason) {
        report_warning("RSTDIAG: log file %s: reading stopped at line %u (%s); the %u reset lines before "
                       "it are used", path, index->stop_line, index->stop_reason, index->entries->len);
    } else if (index->entries->len == 0) {
        report_warning("RSTDIAG: log file %s has no reset lines (%u lines read, %u mentioning a reset "
                       "in no known format)", path, index->lines_read, index->lines_unparsed);
    } else if (index->lines_unparsed) {
        report_warning("RSTDIAG: log file %s: %u %s a reset in no known format or with an impossible "
                       "time (the first is line %u); not matched", path, index->lines_unparsed,
                       index->lines_unparsed == 1 ? "line mentions" : "lines mention", index->first_unparsed);
    } else {
        ws_info("log file %s: %u reset lines of %u (%u unparsed, %u cut)", path, index->entries->len,
                index->lines_read, index->lines_unparsed, index->lines_cut);
    }
    if (index && index->lines_unscanned)
        report_warning("RSTDIAG: log file %s: %u %s longer than %d MiB; a reset is looked for only in the "
                       "first %d MiB (the first such line is line %u)", path, index->lines_unscanned,
                       index->lines_unscanned == 1 ? "line is" : "lines are", LOG_SCAN_MAX >> 20,
                       LOG_SCAN_MAX >> 20, index->first_unscanned);
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

/* Problems with the preferences and table rows already told: they are
 * applied again for every table row given with -o and for every file, and
 * each problem is told only once, again only after it has gone away. */
static GPtrArray *told_settings_problems;
static gboolean told_sources_left_out;

static gboolean problem_told(const GPtrArray *told, const char *problem)
{
    for (guint i = 0; told && i < told->len; i++) {
        if (strcmp((const char *)g_ptr_array_index(told, i), problem) == 0)
            return TRUE;
    }
    return FALSE;
}

static void tell_settings_problems(GPtrArray *problems /* taken */)
{
    for (guint i = 0; i < problems->len; i++) {
        const char *problem = (const char *)g_ptr_array_index(problems, i);
        if (!problem_told(told_settings_problems, problem))
            report_failure("RSTDIAG: %s", problem);
    }
    if (told_settings_problems)
        g_ptr_array_free(told_settings_problems, TRUE);
    told_settings_problems = problems;
}

/* A table row's values: a bad time zone or skew falls back to its default,
 * and the problem is told with the row's number and file (rows are not
 * refused when entered: Wireshark would then drop the whole table). */
static gboolean read_source_row(const log_source_row *row, guint number, const log_match_settings *preferences,
                                log_source *out, GPtrArray *problems)
{
    char *error = NULL;
    if (!row->file || !*row->file) {
        g_ptr_array_add(problems, g_strdup_printf("log sources row %u names no file; it is left out", number));
        return FALSE;
    }
    *out = (log_source){ .path = g_strdup(row->file), .format = (gint)row->format };
    if (!log_match_settings_parse(row->timezone, row->skew, NULL, &out->settings, &error))
        g_ptr_array_add(problems, g_strdup_printf("log sources row %u (%s): %s", number, row->file, error));
    out->settings.window_us = preferences->window_us;   /* the window is a preference of all sources */
    g_free(error);
    return TRUE;
}

/* Rebuilds the source list from the preferences and the table. A file
 * already read, or already found unreadable, with the same format is kept as
 * it is, so each problem is told once; new files are read now. */
void log_sources_configure(GPtrArray *problems /* taken: found before, told with the log's */)
{
    log_source wanted[MAX_LOG_SOURCES];
    guint count = 0, rows_left_out = 0;
    char *error = NULL;

    log_match_settings log_file_settings;   /* of the log_file preference */
    if (!log_match_settings_parse(pref_log_timezone, pref_log_clock_skew, pref_log_window, &log_file_settings, &error))
        g_ptr_array_add(problems, g_steal_pointer(&error));
    if (pref_log_file && *pref_log_file) {
        wanted[count] = (log_source){ .path = g_strdup(pref_log_file), .format = pref_log_format,
                                      .settings = log_file_settings };
        count++;
    }
    for (guint r = 0; r < log_source_row_count; r++) {
        if (count == MAX_LOG_SOURCES) {
            rows_left_out += log_source_rows[r].file && *log_source_rows[r].file;
            continue;
        }
        count += read_source_row(&log_source_rows[r], r + 1, &log_file_settings, &wanted[count], problems);
    }
    tell_settings_problems(problems);
    if (rows_left_out && !told_sources_left_out)
        report_warning("RSTDIAG: only %d log sources are used (the log_file preference first, then the "
                       "table's rows); the other rows are left out", MAX_LOG_SOURCES);
    told_sources_left_out = rows_left_out > 0;

    for (guint w = 0; w < count; w++) {
        log_source *old = take_old_source(wanted[w].path, wanted[w].format);
        if (old) {
            wanted[w].index = old->index;
            wanted[w].not_written_yet = old->not_written_yet;
            wanted[w].follow_stop_told = old->follow_stop_told;
            old->index = NULL;
            g_clear_pointer(&old->path, g_free);
        } else {
            wanted[w].index = load_log_file(wanted[w].path, wanted[w].format, &wanted[w].not_written_yet);
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

static uat_t *register_log_source_table(void (*apply)(void))
{
    static uat_field_t fields[] = {
        UAT_FLD_FILENAME_OTHER(log_source_rows, file, "Log file", NULL, "Path of the log (plain or gzip)"),
        UAT_FLD_VS(log_source_rows, format, "Format", log_format_names, "Log format; auto detects it per line"),
        UAT_FLD_CSTRING(log_source_rows, timezone, "Time zone", "auto, local, UTC or +HH:MM"),
        UAT_FLD_CSTRING(log_source_rows, skew, "Clock skew (s)", "Seconds added to its times; empty: estimated"),
        UAT_END_FIELDS
    };
    return uat_new(RSTDIAG_NAME " log sources", sizeof(log_source_row), "rstdiag_log_sources", TRUE,
                   &log_source_rows, &log_source_row_count, UAT_AFFECTS_DISSECTION, NULL,
                   copy_log_source_row, NULL, free_log_source_row, apply,
                   NULL, fields);
}

void log_sources_register_preferences(module_t *module)
{
    for (int f = 0; f < LOG_FORMAT_COUNT; f++) {
        log_format_values[f] = (enum_val_t){ log_format_name((log_format)f), log_format_name((log_format)f), f };
        log_format_names[f] = (value_string){ (guint32)f, log_format_name((log_format)f) };
    }
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
}

void log_sources_register_table(module_t *module, void (*apply)(void))
{
    prefs_register_uat_preference(module, "log_sources", "More log sources",
        "Further logs to match resets with, e.g. the upstream's next to the proxy's, each with its own "
        "format, time zone and clock skew", register_log_source_table(apply));
}

/* At exit: the plugin is unloaded, so what only its statics point at must go now. */
void log_sources_shutdown(void)
{
    for (guint i = 0; i < log_source_count; i++) {
        log_matcher_free(log_sources[i].matcher);
        log_index_free(log_sources[i].index);
        g_free(log_sources[i].path);
    }
    log_source_count = 0;
    if (told_settings_problems)
        g_ptr_array_free(told_settings_problems, TRUE);
    told_settings_problems = NULL;
}

