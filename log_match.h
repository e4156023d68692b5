/* SPDX-License-Identifier: GPL-2.0-or-later */
/* log_match.h - match TCP RSTs to the log lines they caused.
 *
 * A line matches a RST when the line's peer is the RST's sender (address,
 * and port when the log has one), its leg agrees with the sender's role
 * (client leg: the client reset; upstream leg: the server reset), and its
 * time, after the clock offset, falls within the window. RSTs are matched in
 * capture order, so every dissection pass gets the same answers.
 *
 * The clock offset is the log's zone (local time without a zone is common)
 * plus a small skew. By default it is estimated from the traffic itself:
 * every address-consistent (RST, line) pair votes for the quarter-hour zone
 * offset that explains it, and the mean remainder of the winning zone's pairs
 * is the skew.
 */
#ifndef LOG_MATCH_H
#define LOG_MATCH_H

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
} log_rst_event;

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

/* Call for every RST in capture order. TRUE when a line matches. */
gboolean log_matcher_match(log_matcher *m, const log_rst_event *ev, log_match_result *out);

/* The offset in use (estimated or given); FALSE while nothing supports one. */
gboolean log_matcher_offset(const log_matcher *m, int64_t *offset_us);

/* Whether a line has been matched to some RST. */
gboolean log_matcher_entry_used(const log_matcher *m, guint entry);

/* How many lines have been matched so far. */
guint log_matcher_used_count(const log_matcher *m);

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
void log_matcher_census(const log_matcher *m, int64_t first_us, int64_t last_us, log_census *out);

/* Reads the user's settings: zone "auto" | "local" | "UTC" | "+HH:MM";
 * skew and window in seconds, empty for the defaults (estimate, 1 s).
 * Returns FALSE with a sentence in *error (free it) for a value it cannot
 * use; *out then holds the defaults for that value and valid others. */
gboolean log_match_settings_parse(const char *zone, const char *skew, const char *window,
                                  log_match_settings *out, char **error);

#endif /* LOG_MATCH_H */
