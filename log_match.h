/* SPDX-License-Identifier: GPL-2.0-or-later */
/* log_match.h - match TCP RSTs to the log lines they caused.
 *
 * A log has one clock. The matcher collects the capture's RSTs, then finds
 * that clock once for the whole file -- the zone in quarter-hours plus a skew
 * of a few seconds -- as the offset under which the most lines sit just
 * after a RST of their peer (a program writes a reset line after the RST
 * arrives, never before it beyond the log's time resolution). When two
 * offsets explain about as many lines, the one with the smaller skew wins and
 * the clock says so.
 *
 * Under that offset lines and RSTs are paired as an assignment: each line to
 * at most one stream, each stream to at most one line. A line fits a RST when
 * its peer is the RST's sender (address, and port when the log has one), its
 * leg agrees with the sender's role (client leg: the client reset; upstream
 * leg: the server reset), what its error means agrees with the RST (111 is a
 * refused connection: a RST answering a SYN), and it was written within the
 * window after the RST. When the line quotes a request and the capture shows
 * the stream's, the two name the connection: RSTs take lines in time order,
 * each the earliest line that fits, first among lines quoting the request
 * its stream carried, then among any written promptly, then within the
 * window. A different request is only a weaker fit, not none: the proxy may
 * rewrite the request upstream (nginx's proxy_pass with a URI), and a client
 * pipelining requests has sent the next one before the line is written.
 *
 * Answers depend on every RST added so far: after the last one (tshark -2,
 * the GUI once the file is loaded) they are final; tshark's single pass asks
 * while RSTs are still coming.
 */
#ifndef LOG_MATCH_H
#define LOG_MATCH_H

#include <string.h>

#include "log_index.h"

typedef enum { LOG_ZONE_AUTO, LOG_ZONE_LOCAL, LOG_ZONE_UTC, LOG_ZONE_FIXED } log_zone_mode;

typedef struct {
    log_zone_mode zone_mode;
    int32_t  fixed_offset_s;   /* LOG_ZONE_FIXED: the log's local time is UTC + this */
    gboolean skew_given;       /* else the skew is estimated */
    int64_t  skew_us;          /* added to log times */
    int64_t  window_us;        /* tolerance beyond the log's resolution; 0 = default */
} log_match_settings;

typedef struct {
    uint8_t  family;           /* 4 or 6 */
    uint8_t  addr[16];
    uint16_t port;
} log_endpoint;

typedef enum { LOG_SENDER_UNKNOWN, LOG_SENDER_CLIENT, LOG_SENDER_SERVER } log_sender_role;

typedef struct {
    uint32_t        stream;
    int64_t         time_us;
    log_endpoint    sender;
    log_sender_role role;
    gboolean        answers_syn;   /* a refused connection: the RST answers a SYN */
    gboolean        crossed_fin;   /* it killed a request that crossed the sender's idle-close FIN */
    const char     *request;       /* "METHOD target" of the stream's latest HTTP request before the
                                    * RST (log_request_read), or NULL; kept by the caller */
} log_rst_event;

/* The method and target of an HTTP/1 request line at the start of a segment's
 * payload ("GET /a?b=1" of "GET /a?b=1 HTTP/1.1\r\n..."), into out (size at
 * least LOG_REQUEST_MAX); FALSE when the payload does not start with one. */
gboolean log_request_read(const uint8_t *payload, size_t len, char *out);

/* The cheap half of log_request_read, for the caller to try first at every
 * payload: an upper-case method may open it, and it is not a response. */
static inline gboolean log_request_may_open(const uint8_t *payload, size_t len)
{
    return len > 5 && payload[0] >= 'A' && payload[0] <= 'Z' && memcmp(payload, "HTTP/", 5) != 0;
}

typedef enum {
    LOG_MATCH_TIME, LOG_MATCH_ADDRESS, LOG_MATCH_ADDRESS_PORT, LOG_MATCH_COUNT
} log_match_kind;

typedef struct {
    guint          entry;       /* index into the log's entries */
    log_match_kind kind;
    int64_t        delta_us;    /* log time (after the offset) minus packet time */
    int64_t        offset_us;   /* applied: UTC = log time - offset */
} log_match_result;

typedef struct log_matcher log_matcher;

log_matcher *log_matcher_new(const log_index *index, const log_match_settings *settings);
void log_matcher_free(log_matcher *m);

/* The log has been read further (log_index_follow): its new and rewritten
 * lines are taken in and the lines assigned again with them; the clock is
 * estimated again now while fewer than a firm number of pairs back it, else
 * on its usual schedule (the RSTs doubled, the end). */
void log_matcher_update(log_matcher *m);

/* Call for every RST in capture order; returns the RST's number for
 * log_matcher_result (0, 1, 2, ...). */
guint log_matcher_add(log_matcher *m, const log_rst_event *ev);

/* The line of the RST's stream, given every RST added so far; TRUE when
 * there is one. delta_us is measured from this RST. */
gboolean log_matcher_result(log_matcher *m, guint rst, log_match_result *out);

typedef struct {
    guint    rsts;             /* RSTs added so far */
    gboolean known;            /* FALSE while no pair supports an offset */
    int64_t  offset_us;        /* UTC = log time - offset (lines written with a zone: skew only) */
    guint    pairs;            /* lines matched through their address under it */
    gboolean undecided;        /* a few RSTs fit several offsets: no line tied yet */
    gboolean close_call;       /* another offset explained about as many lines */
    int64_t  other_offset_us;  /* that offset (with a larger skew) */
    guint    other_pairs;
} log_clock;

/* The log's clock, given every RST added so far. */
void log_matcher_clock(log_matcher *m, log_clock *out);

/* "clock offset +05:00 +3.000 s from 10 pairs", and the close call if any
 * (g_free it). */
char *log_clock_describe(const log_clock *clock);

/* Whether a line has been matched to some RST, and how many are. */
gboolean log_matcher_entry_used(log_matcher *m, guint entry);
guint log_matcher_used_count(log_matcher *m);

const char *log_match_kind_token(log_match_kind kind);

/* Where a log's reset lines fall against the capture, once every RST has
 * been matched: explained by a RST, written within the capture's time (after
 * the clock offset, with the match window) with no RST, or outside it. Only
 * the inside ones are listed, the first LOG_LISTED_MAX by line number. */
#define LOG_LISTED_MAX 20

typedef struct {
    guint    explained;
    guint    inside;
    guint    outside;
    gboolean offset_known;   /* FALSE: no offset supported yet, the times were taken as UTC */
    guint    listed;
    uint32_t listed_lineno[LOG_LISTED_MAX];
} log_census;

/* first_us..last_us: the capture's first and last packet times (UTC). */
void log_matcher_census(log_matcher *m, int64_t first_us, int64_t last_us, log_census *out);

/* Reads the user's settings: zone "auto" | "local" | "UTC" | "+HH:MM";
 * skew and window in seconds, empty for the defaults (estimate, 1 s).
 * Returns FALSE with a sentence in *error (free it) for a value it cannot
 * use; *out then holds the defaults for that value and valid others. */
gboolean log_match_settings_parse(const char *zone, const char *skew, const char *window,
                                  log_match_settings *out, char **error);

#endif /* LOG_MATCH_H */
