/* SPDX-License-Identifier: GPL-2.0-or-later */
/* log_index.h - read an application log once and keep the lines that report
 * a connection reset, with their time, peer address and leg, sorted by time.
 *
 * Plain C + GLib + zlib, no libwireshark. Formats: nginx error log, Apache
 * 2.2/2.4 error log, HAProxy HTTP/TCP logs, Envoy default access log, and a
 * generic rule (an ISO-8601 or syslog time, a reset phrase, maybe an address).
 */
#ifndef LOG_INDEX_H
#define LOG_INDEX_H

#include <glib.h>
#include <stdint.h>

typedef enum {
    LOG_FORMAT_AUTO, LOG_FORMAT_NGINX, LOG_FORMAT_APACHE, LOG_FORMAT_HAPROXY,
    LOG_FORMAT_ENVOY, LOG_FORMAT_GENERIC, LOG_FORMAT_COUNT
} log_format;

/* Which connection of the logging program was reset: the one to its client,
 * or the one it opened to an upstream. Either way the RST came from the peer. */
typedef enum { LOG_LEG_UNKNOWN, LOG_LEG_CLIENT, LOG_LEG_UPSTREAM, LOG_LEG_COUNT } log_leg;

#define LOG_LINE_MAX 1024   /* longer lines are kept cut to this many bytes */
#define LOG_SCAN_MAX (4 << 20)   /* longer lines are searched for a reset in this many bytes */

typedef struct {
    int64_t  time_us;        /* the written wall-clock time, read as if it were UTC */
    uint32_t resolution_us;  /* what the format can express: 1 s, 1 ms, 1 us */
    uint32_t lineno;         /* 1-based line number in the file */
    gboolean has_zone;       /* time_us is true UTC (the line gave a zone) */
    gboolean has_year;       /* FALSE for syslog times: the year is taken from the capture */
    gboolean reports_rst;    /* FALSE for lines about a FIN close ("prematurely closed" with
                              * no error): kept as context, never matched to a RST */
    uint8_t  family;         /* 0 = no peer address, 4 or 6 */
    uint8_t  addr[16];
    uint16_t port;           /* 0 = the log gave none */
    uint8_t  leg;            /* log_leg */
    uint8_t  format;         /* log_format that parsed it */
    int      error_number;   /* errno in the line, 0 if none */
    char     level[8];       /* "info", "error", ... as the log wrote it; "" if none */
    char    *request;        /* the request line the log quotes, or NULL */
    char    *text;           /* the line as valid UTF-8 without control characters */
} log_entry;

#define LOG_REQUEST_MAX 256   /* longer request lines are kept cut */

typedef struct {
    char     *path;
    GArray   *entries;       /* log_entry: those read when loaded sorted by time_us, then
                              * those read by log_index_follow in the order written */
    guint     revision;      /* changes when entries are added or rewritten */
    uint32_t  lines_read;
    uint32_t  lines_reporting_rst;   /* entries with reports_rst */
    uint32_t  lines_unparsed;  /* mention a reset but fit no format */
    uint32_t  first_unparsed;  /* line number of the first of them, 0 if none */
    uint32_t  lines_cut;       /* reset lines longer than LOG_LINE_MAX: kept cut */
    uint32_t  lines_unscanned; /* longer than LOG_SCAN_MAX: the rest not searched */
    uint32_t  first_unscanned; /* line number of the first of them, 0 if none */
    char     *stop_reason;     /* NULL, or why reading stopped early (for the user) */
    uint32_t  stop_line;       /* the line it stopped in */
    /* where reading ended, for log_index_follow */
    gboolean  followable;      /* a plain regular file */
    int       fd;              /* that file, held open; -1: none */
    uint64_t  device, inode;   /* of the file read */
    uint64_t  size_read;       /* bytes of it read */
    uint64_t  read_to;         /* offset after its last newline read */
    uint32_t  tail_lineno;     /* the last line read without its newline (the tail), */
    guint     tail_entry;      /* and its entry + 1 (0: none): rewritten when read again whole */
} log_index;

/* Reads path: a file, pipe or FIFO ("-": standard input), plain or gzip.
 * A pipe or FIFO silent for 5 s ends the reading (stop_reason says so). On failure returns NULL and sets *error to a
 * sentence for the user (free with g_free). An empty result is not a failure. */
log_index *log_index_load(const char *path, log_format format, char **error);
void log_index_free(log_index *index);

/* Reads what was written to a plain log file since it was last read, for a
 * live capture: the lines added (their entries appended), the last line read
 * without its newline again (its entry rewritten in place), or -- when the
 * file was truncated or another file took its name (rotation; the old one is
 * read to its end first) -- the new file from its start, its lines numbered
 * from 1; the entries read before stay. An fstat() and a stat() when nothing
 * changed. Gzip files, pipes and a file whose reading stopped early are not
 * followed. TRUE when entries were added or rewritten (the revision changed);
 * a problem that stops it sets stop_reason. */
gboolean log_index_follow(log_index *index, log_format format);

/* An index with no lines for a log not written yet (missing or empty), to
 * be followed from its first line. */
log_index *log_index_new_waiting(const char *path);

/* Parses one line (no newline); TRUE when it reports a reset. Exposed for
 * tests; the caller owns out->request (g_free). */
gboolean log_parse_line(const char *line, size_t len, log_format format, log_entry *out);

/* Index of the first entry with time_us >= t (entries.len if none). */
guint log_index_lower_bound(const log_index *index, int64_t t);

const char *log_format_name(log_format format);
const char *log_leg_token(log_leg leg);

/* Civil date and time (UTC) to microseconds since the epoch. */
int64_t log_civil_to_us(int year, int month, int day, int hour, int minute, int second);

#endif /* LOG_INDEX_H */
