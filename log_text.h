/* SPDX-License-Identifier: GPL-2.0-or-later */
/* log_text.h - the readable parts of a kept log line, for display: its
 * message without the program's prefix (time, level, process and connection
 * numbers) and the upstream it names.
 *
 * Plain C + GLib, no libwireshark. */
#ifndef LOG_TEXT_H
#define LOG_TEXT_H

#include <stddef.h>

#include "log_index.h"

/* The message of line, written in format (the one that parsed it), as a new
 * string (g_free): nginx without "time [level] pid#tid: *conn" and without
 * its ", client: ..." fields; Apache without its bracketed time, module, pid
 * and peer; others without a leading time and a "program[pid]: " prefix.
 * The whole line when no prefix is recognised. */
char *log_text_message(const char *line, log_format format);

/* The upstream the line names, as a new string (g_free), or NULL: nginx's
 * upstream: "URL", Apache's remote server, HAProxy's backend/server,
 * Envoy's upstream host. */
char *log_text_upstream(const char *line, log_format format);

#endif /* LOG_TEXT_H */
