/* SPDX-License-Identifier: GPL-2.0-or-later */
/* log_scan.h - the fast pass over a log's text that lets most lines of a
 * large log go unparsed: where the next reset phrase, or the mark of a format
 * whose resets are flags, stands, and how many lines lie before it.
 *
 * Plain C + GLib, no libwireshark. */
#ifndef LOG_SCAN_H
#define LOG_SCAN_H

#include <stddef.h>

/* What the pass looks for. */
typedef enum {
    LOG_SCAN_RESET,           /* "eset": reset, Reset */
    LOG_SCAN_RESET_UPPER,     /* "ESET": ECONNRESET */
    LOG_SCAN_BROKEN_PIPE,
    LOG_SCAN_PREMATURELY,     /* nginx: "prematurely closed connection" */
    LOG_SCAN_REFUSED,
    LOG_SCAN_HAPROXY_TAG,     /* "haproxy[" */
    LOG_SCAN_ENVOY_REQUEST,   /* "] \"": Envoy's time, then its request */
    LOG_SCAN_HAPROXY_DATE,    /* "[dd/Mmm/yyyy": HAProxy without a syslog tag */
    LOG_SCAN_NEEDLES
} log_scan_needle;

/* The first needle in [p, end): where it is anchored (a few bytes into it)
 * and which (*which); NULL if none. newlines, unless NULL, is increased by
 * the newlines the search passed: those in [p, the anchor), or in [p, end). */
const char *log_scan_next(const char *p, const char *end, log_scan_needle *which, size_t *newlines);

/* The same search on any CPU; log_scan_next takes a faster way where the CPU
 * has one (tests compare the two). */
const char *log_scan_next_portable(const char *p, const char *end, log_scan_needle *which, size_t *newlines);

#endif /* LOG_SCAN_H */
