/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_log_reader.c - libFuzzer harness for the log reader and the matcher.
 *
 * The input is a 16-byte header and a log's text. The text is parsed line by
 * line with log_parse_line(), written to a file (plain or gzip, whole, cut
 * short or in two gzip members) and read with log_index_load() as the plugin
 * reads a log, then RST events near the lines it kept are matched against it.
 * Every line, index and match is checked against invariants.
 *
 * Header bytes:
 *   0      format (modulo LOG_FORMAT_COUNT; 0 = auto, every parser in turn)
 *   1      file: 0 plain, 1 gzip, 2 gzip cut short at byte 15's share, 3 two gzip members
 *   2-4    time zone setting (none, auto, local, UTC, +HH:MM from 3-4)
 *   5-6    clock skew setting (0x8000: none; else tenths of a second)
 *   7      match window setting (0: none; else 50 ms units)
 *   8      how many RST events to match (modulo 33)
 *   9-12   seed of the events' times, addresses, roles and streams
 *   13     first year of the capture (for syslog times without a year)
 *   14     lines checked one by one with log_parse_line (modulo 64)
 *   15     where a cut gzip file ends (share of 256)
 */
#include "fuzz_common.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <unistd.h>
#include <zlib.h>

#include "log_index.h"
#include "log_match.h"

#define HEADER 16
#define US_PER_SEC 1000000LL

static char *log_path;

static void remove_log_file(void)
{
    g_unlink(log_path);
}

/* One scratch file per process, rewritten for every input; in memory
 * (/dev/shm) where there is one: the disk costs more than the parsing. */
static const char *scratch_path(void)
{
    if (!log_path) {
        const char *dir = g_file_test("/dev/shm", G_FILE_TEST_IS_DIR) && access("/dev/shm", W_OK) == 0
            ? "/dev/shm" : g_get_tmp_dir();
        log_path = g_build_filename(dir, "rstdiag-fuzz-XXXXXX.log", NULL);
        int fd = g_mkstemp(log_path);
        if (fd < 0) {
            fprintf(stderr, "fuzz_log_reader: cannot create %s: %s\n", log_path, g_strerror(errno));
            abort();
        }
        close(fd);
        atexit(remove_log_file);
    }
    return log_path;
}

/* text as gzip member(s): split = where the second member starts (0: one). */
static GByteArray *gzip_text(const uint8_t *text, size_t len, size_t split)
{
    GByteArray *out = g_byte_array_new();
    size_t parts[2][2] = { { 0, split ? split : len }, { split, split ? len : split } };
    for (int i = 0; i < 2; i++) {
        if (i == 1 && !split)
            break;
        z_stream z = { 0 };
        FUZZ_CHECK(deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
        uLong bound = deflateBound(&z, (uLong)(parts[i][1] - parts[i][0]));
        guint start = out->len;
        g_byte_array_set_size(out, start + (guint)bound);
        z.next_in = (Bytef *)(uintptr_t)(text + parts[i][0]);
        z.avail_in = (uInt)(parts[i][1] - parts[i][0]);
        z.next_out = out->data + start;
        z.avail_out = (uInt)bound;
        FUZZ_CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
        g_byte_array_set_size(out, start + (guint)z.total_out);
        deflateEnd(&z);
    }
    return out;
}

static void write_log(const uint8_t *h, const uint8_t *text, size_t len)
{
    const char *path = scratch_path();
    unsigned storage = h[1] & 3;
    GByteArray *gz = storage ? gzip_text(text, len, storage == 3 ? len / 2 : 0) : NULL;
    const uint8_t *bytes = gz ? gz->data : text;
    size_t size = gz ? gz->len : len;
    if (storage == 2)
        size = size * h[15] / 256;
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(fwrite(bytes, 1, size, f) == size);
    FUZZ_CHECK(fclose(f) == 0);
    if (gz)
        g_byte_array_free(gz, TRUE);
}

/* What any parsed line must look like; line: its raw text, NULL for a line
 * read from a file (which never holds a NUL: the reader cuts lines there). */
static void check_entry(const log_entry *e, log_format format, const char *line, size_t len)
{
    FUZZ_CHECK(e->format > LOG_FORMAT_AUTO && e->format < LOG_FORMAT_COUNT);
    FUZZ_CHECK(format == LOG_FORMAT_AUTO || e->format == format);
    FUZZ_CHECK(e->leg < LOG_LEG_COUNT);
    FUZZ_CHECK(e->family == 0 || e->family == 4 || e->family == 6);
    FUZZ_CHECK(e->resolution_us >= 1 && e->resolution_us <= US_PER_SEC);
    FUZZ_CHECK(e->error_number >= 0 && e->error_number < 100000);
    FUZZ_CHECK(e->has_year || !e->has_zone);
    /* years 1970 to 2399, a zone of at most 15 h, a duration of at most a year or so */
    FUZZ_CHECK(e->time_us > -86400 * US_PER_SEC);
    FUZZ_CHECK(e->time_us < log_civil_to_us(2401, 1, 1, 0, 0, 0));
    fuzz_check_text(e->level, sizeof e->level);
    for (const char *p = e->level; *p; p++)
        FUZZ_CHECK(g_ascii_isalpha(*p));
    if (e->request) {
        /* cut to LOG_REQUEST_MAX bytes; a replaced invalid byte takes 3 */
        fuzz_check_text(e->request, 3 * LOG_REQUEST_MAX + 1);
        FUZZ_CHECK(e->request[0] != '\0' || (line && memchr(line, '\0', len)));   /* cut at a NUL */
    }
}

/* log_parse_line() on the first lines, as the unit tests and tools call it. */
static void check_lines(const uint8_t *text, size_t len, log_format format, unsigned max_lines)
{
    const char *p = (const char *)text, *end = p + len;
    for (unsigned n = 0; n < max_lines && p < end; n++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t line_len = (size_t)((nl ? nl : end) - p);
        log_entry e;
        memset(&e, 0xa5, sizeof e);   /* whatever the caller had there */
        if (log_parse_line(p, line_len, format, &e)) {
            check_entry(&e, format, p, line_len);
            FUZZ_CHECK(e.text == NULL);   /* only log_index_load() keeps the text */
        } else {
            static const log_entry zero;
            FUZZ_CHECK(memcmp(&e, &zero, sizeof e) == 0);
        }
        g_free(e.request);
        p += line_len + 1;
    }
}

static void check_index(const log_index *index, const char *path, log_format format)
{
    FUZZ_CHECK(strcmp(index->path, path) == 0);
    FUZZ_CHECK(index->lines_read > 0);
    FUZZ_CHECK(index->entries->len + index->lines_unparsed <= index->lines_read);
    FUZZ_CHECK(index->lines_reporting_rst <= index->entries->len);
    FUZZ_CHECK(index->lines_cut <= index->lines_read);
    guint reporting = 0;
    for (guint i = 0; i < index->entries->len; i++) {
        const log_entry *e = &g_array_index(index->entries, log_entry, i);
        check_entry(e, format, NULL, 0);
        FUZZ_CHECK(e->lineno >= 1 && e->lineno <= index->lines_read);
        /* cut to LOG_LINE_MAX bytes; a replaced invalid byte takes 3 */
        fuzz_check_text(e->text, 3 * LOG_LINE_MAX + 1);
        reporting += e->reports_rst;
        if (i > 0) {   /* by time, then line */
            const log_entry *prev = e - 1;
            FUZZ_CHECK(prev->time_us < e->time_us || (prev->time_us == e->time_us && prev->lineno < e->lineno));
        }
    }
    FUZZ_CHECK(reporting == index->lines_reporting_rst);
    for (guint i = 0; i <= index->entries->len; i++) {
        int64_t t = i < index->entries->len ? g_array_index(index->entries, log_entry, i).time_us : INT64_MAX;
        guint at = log_index_lower_bound(index, t);
        FUZZ_CHECK(at <= i);
        FUZZ_CHECK(at == index->entries->len || g_array_index(index->entries, log_entry, at).time_us >= t);
        FUZZ_CHECK(at == 0 || g_array_index(index->entries, log_entry, at - 1).time_us < t);
    }
}

/* The matcher settings as a user would type them, from header bytes 2-7. */
static void read_settings(const uint8_t *h, log_match_settings *settings)
{
    static const char *const zones[] = { "", "auto", "local", "UTC" };
    char zone[16], skew[16] = "", window[16] = "", *error = NULL;
    if (h[2] % 5 < 4)
        g_strlcpy(zone, zones[h[2] % 5], sizeof zone);
    else   /* hours up to 15 and minutes up to 63: some are refused */
        g_snprintf(zone, sizeof zone, "%c%02d:%02d", (h[3] & 1) ? '-' : '+', (h[3] >> 1) % 16, h[4] % 64);
    int16_t tenths = (int16_t)(h[5] | h[6] << 8);
    if (tenths != INT16_MIN)
        g_snprintf(skew, sizeof skew, "%d.%d", tenths / 10, abs(tenths % 10));
    if (h[7])
        g_snprintf(window, sizeof window, "%.2f", h[7] * 0.05);
    gboolean ok = log_match_settings_parse(zone, skew, window, settings, &error);
    FUZZ_CHECK(ok == (error == NULL));
    if (error)
        fuzz_check_text(error, 1024);
    g_free(error);
    FUZZ_CHECK(settings->zone_mode <= LOG_ZONE_FIXED);
    FUZZ_CHECK(settings->fixed_offset_s >= -15 * 3600 && settings->fixed_offset_s <= 15 * 3600);
    FUZZ_CHECK(settings->skew_us >= -86400 * US_PER_SEC && settings->skew_us <= 86400 * US_PER_SEC);
    FUZZ_CHECK(settings->window_us >= 0 && settings->window_us <= 3600 * US_PER_SEC);
}

static uint64_t next_random(uint64_t *state)
{
    /* splitmix64 */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* RST events in "capture order": mostly near a line's time (after a zone and
 * a skew) from its address, some from elsewhere. */
static void match_events(const log_index *index, const uint8_t *h)
{
    log_match_settings settings;
    read_settings(h, &settings);
    log_matcher *m = log_matcher_new(index, &settings);
    guint len = index->entries->len;
    uint32_t *claimed = g_new0(uint32_t, len + 1);   /* entry -> stream + 1 */
    gint64 stream_line[16];
    for (int s = 0; s < 16; s++)
        stream_line[s] = -1;
    uint64_t state = (uint64_t)h[9] | (uint64_t)h[10] << 8 | (uint64_t)h[11] << 16 | (uint64_t)h[12] << 24;
    int64_t year_start = log_civil_to_us(1990 + h[13] % 64, 1, 1, 0, 0, 0);
    guint used = 0;

    GArray *events = g_array_new(FALSE, FALSE, sizeof(log_rst_event));
    for (unsigned i = 0; i < h[8] % 33u; i++) {
        uint64_t r = next_random(&state), r2 = next_random(&state);
        log_rst_event ev = { .stream = (uint32_t)(r % 16), .role = (log_sender_role)((r >> 4) % 3),
                             .answers_syn = (r >> 62) & 1 };
        guint pick = (guint)((r >> 8) % (len + 1));
        if (pick < len && (r >> 40) % 8 != 0) {
            const log_entry *e = &g_array_index(index->entries, log_entry, pick);
            ev.sender.family = e->family ? e->family : 4;
            memcpy(ev.sender.addr, e->addr, sizeof ev.sender.addr);
            ev.sender.port = (r >> 43) % 4 ? e->port : (uint16_t)(r >> 45);
            /* a zone of -14 to +14 h in quarters, and up to +-6 s */
            int64_t quarters = (int64_t)((r >> 16) % 113) - 56;
            int64_t jitter = (int64_t)(r2 % (12 * US_PER_SEC)) - 6 * US_PER_SEC;
            ev.time_us = e->time_us + (e->has_year ? 0 : year_start) - quarters * 900 * US_PER_SEC + jitter;
        } else {
            ev.sender.family = (r >> 41) & 1 ? 6 : 4;
            for (int b = 0; b < 16; b++)
                ev.sender.addr[b] = (uint8_t)(r2 >> (b % 8 * 8));
            ev.sender.port = (uint16_t)(r >> 45);
            /* any time a capture can hold: +-2^62 us */
            ev.time_us = (int64_t)(next_random(&state) >> 1) - ((int64_t)1 << 62);
        }
        g_array_append_val(events, ev);
        FUZZ_CHECK(log_matcher_add(m, &ev) == events->len - 1);
    }
    /* one line per stream, and a line belongs to one stream */
    for (guint r = 0; r < events->len; r++) {
        const log_rst_event *ev = &g_array_index(events, log_rst_event, r);
        log_match_result out;
        if (!log_matcher_result(m, r, &out))
            continue;
        FUZZ_CHECK(out.entry < len);
        const log_entry *e = &g_array_index(index->entries, log_entry, out.entry);
        FUZZ_CHECK(e->reports_rst);
        FUZZ_CHECK((unsigned)out.kind < LOG_MATCH_COUNT);
        FUZZ_CHECK(out.kind == (e->family == 0 ? LOG_MATCH_TIME : e->port ? LOG_MATCH_ADDRESS_PORT : LOG_MATCH_ADDRESS));
        FUZZ_CHECK(log_matcher_entry_used(m, out.entry));
        FUZZ_CHECK(stream_line[ev->stream] < 0 || stream_line[ev->stream] == out.entry);
        FUZZ_CHECK(claimed[out.entry] == 0 || claimed[out.entry] == ev->stream + 1);
        if (!claimed[out.entry])
            used++;
        stream_line[ev->stream] = out.entry;
        claimed[out.entry] = ev->stream + 1;
    }
    FUZZ_CHECK(log_matcher_used_count(m) == used);
    log_clock clock;   /* a zone within 15 h plus a skew of a day at most; known once a line matched */
    log_matcher_clock(m, &clock);
    if (clock.known)
        FUZZ_CHECK(clock.offset_us >= -(15 * 3600 + 86400) * US_PER_SEC && clock.offset_us <= (15 * 3600 + 86400) * US_PER_SEC);
    else
        FUZZ_CHECK(used == 0);
    g_free(log_clock_describe(&clock));
    for (guint e = 0; e < len; e++)
        FUZZ_CHECK(log_matcher_entry_used(m, e) == (claimed[e] != 0));
    FUZZ_CHECK(!log_matcher_entry_used(m, len));
    g_array_free(events, TRUE);
    g_free(claimed);
    log_matcher_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t h[HEADER] = { 0 };
    memcpy(h, data, MIN(size, (size_t)HEADER));
    const uint8_t *text = data + MIN(size, (size_t)HEADER);
    size_t len = size - MIN(size, (size_t)HEADER);
    log_format format = (log_format)(h[0] % LOG_FORMAT_COUNT);

    check_lines(text, len, format, h[14] % 64u);

    write_log(h, text, len);
    char *error = NULL;
    log_index *index = log_index_load(scratch_path(), format, &error);
    if (!index) {   /* empty, binary or broken gzip: a sentence for the user */
        FUZZ_CHECK(error != NULL);
        fuzz_check_text(error, 4096);
        g_free(error);
        return 0;
    }
    FUZZ_CHECK(error == NULL);
    check_index(index, scratch_path(), format);
    match_events(index, h);
    log_index_free(index);
    return 0;
}
