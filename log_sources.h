/* SPDX-License-Identifier: GPL-2.0-or-later */
/* log_sources.h - the application logs matched to the RSTs: their
 * preferences and table, loading, the matchers, and the read-only view the
 * stats tree gets through the tap. Glue (libwireshark), like packet-rstdiag.c. */
#ifndef LOG_SOURCES_H
#define LOG_SOURCES_H

#include "packet-rstdiag.h"

#include <epan/prefs.h>

#include "log_index.h"

/* The log preferences (log_file ... log_window) in the dissector's module,
 * whose apply callback calls log_sources_configure; then, apart (the
 * preferences' order), the table of further sources, which calls apply. */
void log_sources_register_preferences(module_t *module);
void log_sources_register_table(module_t *module, void (*apply)(void));

/* Rebuilds the sources from the preferences and tells the problems found
 * (those found before by the caller first). */
void log_sources_configure(GPtrArray *problems /* taken */);

/* A capture file begins: a matcher per loaded log. TRUE when a log is
 * loaded: only then are payloads worth noting (log_sources_note_payload). */
gboolean log_sources_file_init(void);
/* A pass that prints nothing (tshark -2's first, without taps): what its
 * frames were tied to first is not what anyone was shown. */
void log_sources_note_silent_pass(void);
/* Every frame seen for the first time: the capture's time span. */
void log_sources_note_frame(const packet_info *pinfo);
/* A TCP segment's payload (the frame's last payload_len > 0 bytes): a
 * request line opening it is kept for the stream's RSTs. */
void log_sources_note_payload(const packet_info *pinfo, tvbuff_t *tvb, guint payload_len, guint32 stream);
/* Hands a diagnosed RST sent from src:port to every log's matcher, with the
 * stream's latest HTTP request. */
void log_sources_add_rst(rstdiag_record *record, const address *src, guint16 port, guint32 stream,
                         int64_t time_us);
/* The record's lines as of now (they depend on the RSTs that follow). */
void log_sources_refresh_hits(rstdiag_record *record);
/* The line a hit points at and its file, or NULL (the logs may have been reloaded since). */
const log_entry *log_sources_hit_line(const rstdiag_log_hit *hit, const char **path);
/* The read-only view of the logs put in the tap record; tracked_frame: the
 * highest frame tracked so far. */
void log_sources_tap_view(rstdiag_tap_data *data, gboolean later_pass, guint32 tracked_frame);
/* A capture file ends: the clocks and unmatched lines on stderr, the matchers freed. */
void log_sources_file_cleanup(guint32 tracked_frame);
/* At exit. */
void log_sources_shutdown(void);

#endif /* LOG_SOURCES_H */
