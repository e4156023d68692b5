/* SPDX-License-Identifier: GPL-2.0-or-later */
/* log_text.c - the readable parts of a kept log line (see log_text.h). The
 * layouts are the ones log_index.c reads: nginx's ngx_log_error_core()
 * ("time [level] pid#tid: *conn message, client: ..."), Apache 2.4's default
 * ErrorLogFormat, HAProxy's httplog/tcplog behind a syslog prefix, Envoy's
 * default access log format. */
#include "log_text.h"

#include <string.h>

/* The text after the first occurrence of marker in [p, end), or NULL. */
static const char *after(const char *p, const char *end, const char *marker)
{
    size_t n = strlen(marker);
    for (; p + n <= end; p++) {
        if (memcmp(p, marker, n) == 0)
            return p + n;
    }
    return NULL;
}

static const char *skip_spaces(const char *p, const char *end)
{
    while (p < end && *p == ' ')
        p++;
    return p;
}

static const char *word_end(const char *p, const char *end)
{
    const char *space = memchr(p, ' ', (size_t)(end - p));
    return space ? space : end;
}

/* Past leading "[...]" groups (Apache's time, module and pid; Envoy's time). */
static const char *skip_brackets(const char *p, const char *end)
{
    while (p < end && *p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close)
            break;
        p = skip_spaces(close + 1, end);
    }
    return p;
}

/* "2015/12/01 15:49:48 [info] 20521#0: *55077498 recv() failed ..., client: ..." */
static char *nginx_message(const char *line, const char *end)
{
    const char *p = after(line, end, "#");
    p = p ? after(p, end, ": ") : NULL;
    if (!p)
        return g_strndup(line, (size_t)(end - line));
    if (*p == '*')   /* the connection number */
        p = skip_spaces(word_end(p, end), end);
    const char *fields = after(p, end, ", client: ");
    const char *stop = fields ? fields - strlen(", client: ") : end;
    return g_strndup(p, (size_t)(stop - p));
}

/* "[time] [module:level] [pid N:tid M] (104)Connection reset by peer: [client A:P] AH01102: ..." */
static char *apache_message(const char *line, const char *end)
{
    const char *p = skip_brackets(line, end);
    GString *message = g_string_sized_new((gsize)(end - p));
    while (p < end) {
        const char *peer = after(p, end, "[client ");
        if (!peer)
            peer = after(p, end, "[remote ");
        const char *close = peer ? memchr(peer, ']', (size_t)(end - peer)) : NULL;
        if (!close)
            break;
        g_string_append_len(message, p, (gssize)(peer - strlen("[client ") - p));
        p = skip_spaces(close + 1, end);
    }
    g_string_append_len(message, p, (gssize)(end - p));
    return g_string_free(message, FALSE);
}

/* Others: a leading time (a bracketed one, or words starting with a digit),
 * then maybe "host program[pid]: " (syslog, HAProxy). */
static char *plain_message(const char *line, const char *end)
{
    const char *p = skip_brackets(line, end);
    while (p < end && *p >= '0' && *p <= '9' && word_end(p, end) < end)
        p = skip_spaces(word_end(p, end), end);
    const char *program = after(p, p + MIN((size_t)(end - p), 64), "]: ");
    if (program)
        p = program;
    if (p == end)
        p = line;
    return g_strndup(p, (size_t)(end - p));
}

char *log_text_message(const char *line, log_format format)
{
    const char *end = line + strlen(line);
    switch (format) {
    case LOG_FORMAT_NGINX:
        return nginx_message(line, end);
    case LOG_FORMAT_APACHE:
        return apache_message(line, end);
    default:
        return plain_message(line, end);
    }
}

/* The text between open and the next close after it, or NULL. */
static char *between(const char *line, const char *end, const char *open, char close)
{
    const char *start = after(line, end, open);
    const char *stop = start ? memchr(start, close, (size_t)(end - start)) : NULL;
    return stop && stop > start ? g_strndup(start, (size_t)(stop - start)) : NULL;
}

/* The word after marker, or NULL. */
static char *word_after(const char *line, const char *end, const char *marker)
{
    const char *start = after(line, end, marker);
    return start && word_end(start, end) > start ? g_strndup(start, (size_t)(word_end(start, end) - start)) : NULL;
}

/* HAProxy: "program[pid]: client:port [accept date] frontend backend/server ...":
 * the backend/server word. */
static char *haproxy_server(const char *line, const char *end)
{
    const char *p = after(line, end, "]: ");
    for (int word = 0; p && word < 3; word++)
        p = word_end(p, end) < end ? skip_spaces(word_end(p, end), end) : NULL;
    if (!p || !memchr(p, '/', (size_t)(word_end(p, end) - p)))
        return NULL;
    return g_strndup(p, (size_t)(word_end(p, end) - p));
}

/* Envoy: the default format's last field is "%UPSTREAM_HOST%", quoted. */
static char *envoy_upstream(const char *line, const char *end)
{
    while (end > line && end[-1] == ' ')
        end--;
    if (end - line < 3 || end[-1] != '"')
        return NULL;
    const char *open = end - 1;
    while (open > line && open[-1] != '"')
        open--;
    size_t len = (size_t)(end - 1 - open);
    if (open == line || len == 0 || (len == 1 && *open == '-'))   /* "-": no upstream */
        return NULL;
    return g_strndup(open, len);
}

char *log_text_upstream(const char *line, log_format format)
{
    const char *end = line + strlen(line);
    switch (format) {
    case LOG_FORMAT_NGINX:
        return between(line, end, ", upstream: \"", '"');
    case LOG_FORMAT_APACHE: {
        char *remote = between(line, end, "[remote ", ']');
        return remote ? remote : word_after(line, end, "remote server ");
    }
    case LOG_FORMAT_HAPROXY:
        return haproxy_server(line, end);
    case LOG_FORMAT_ENVOY:
        return envoy_upstream(line, end);
    default:
        return NULL;
    }
}
