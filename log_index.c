/* SPDX-License-Identifier: GPL-2.0-or-later */
/* log_index.c - reset lines of application logs (see log_index.h). */
#define _GNU_SOURCE   /* memmem */
#include "log_index.h"
#include "log_scan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define US_PER_SEC 1000000LL
#define READ_CHUNK (64 * 1024)
#define SNIFF_BYTES 4096          /* NUL bytes this early: not a text file */
#define STREAM_WAIT_MS 5000       /* how long a pipe or FIFO may stay silent */
#define MAX_DURATION_MS (366LL * 86400 * 1000)   /* a longer session time is garbage: not added */

static const char *const format_names[LOG_FORMAT_COUNT] = {
    "auto", "nginx", "apache", "haproxy", "envoy", "generic"
};
static const char *const leg_tokens[LOG_LEG_COUNT] = { "unknown", "client", "upstream" };
static const char *const month_names[12] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

const char *log_format_name(log_format format)
{
    return (unsigned)format < LOG_FORMAT_COUNT ? format_names[format] : "auto";
}

const char *log_leg_token(log_leg leg)
{
    return (unsigned)leg < LOG_LEG_COUNT ? leg_tokens[leg] : "unknown";
}

int64_t log_civil_to_us(int year, int month, int day, int hour, int minute, int second)
{
    /* days from 1970-01-01 in the proleptic Gregorian calendar */
    int y = year - (month <= 2);
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + doe - 719468;
    return ((days * 24 + hour) * 60 + minute) * 60 * US_PER_SEC + (int64_t)second * US_PER_SEC;
}

/* ---- a small cursor for hand-written parsers ------------------------------ */

typedef struct {
    const char *p;
    const char *end;
} cursor;

static gboolean at_end(const cursor *c) { return c->p >= c->end; }

static gboolean take_char(cursor *c, char ch)
{
    if (at_end(c) || *c->p != ch)
        return FALSE;
    c->p++;
    return TRUE;
}

static gboolean take_literal(cursor *c, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
        return FALSE;
    c->p += n;
    return TRUE;
}

/* Exactly n digits. */
static gboolean take_digits(cursor *c, int n, int *value)
{
    int v = 0;
    if (c->end - c->p < n)
        return FALSE;
    for (int i = 0; i < n; i++) {
        if (!g_ascii_isdigit(c->p[i]))
            return FALSE;
        v = v * 10 + (c->p[i] - '0');
    }
    c->p += n;
    *value = v;
    return TRUE;
}

/* One or more digits, at most 18. */
static gboolean take_number(cursor *c, int64_t *value)
{
    int64_t v = 0;
    int n = 0;
    while (!at_end(c) && g_ascii_isdigit(*c->p) && n < 18) {
        v = v * 10 + (*c->p++ - '0');
        n++;
    }
    *value = v;
    return n > 0;
}

/* Digits after a decimal point, as microseconds; returns the resolution. */
static uint32_t take_fraction(cursor *c, int64_t *us)
{
    int64_t v = 0;
    uint32_t scale = 1000000;
    *us = 0;
    if (!take_char(c, '.') && !take_char(c, ','))
        return US_PER_SEC;
    while (!at_end(c) && g_ascii_isdigit(*c->p)) {
        if (scale > 1) {
            scale /= 10;
            v += (*c->p - '0') * (int64_t)scale;
        }
        c->p++;
    }
    *us = v;
    return scale ? scale : 1;
}

static gboolean take_month(cursor *c, int *month)
{
    for (int i = 0; i < 12; i++) {
        if (take_literal(c, month_names[i])) {
            *month = i + 1;
            return TRUE;
        }
    }
    return FALSE;
}

static void skip_spaces(cursor *c)
{
    while (!at_end(c) && *c->p == ' ')
        c->p++;
}

static void skip_token(cursor *c)
{
    while (!at_end(c) && *c->p != ' ')
        c->p++;
}

static const char *find(const cursor *c, const char *needle)
{
    return memmem(c->p, (size_t)(c->end - c->p), needle, strlen(needle));
}

static gboolean contains(const char *line, size_t len, const char *needle)
{
    return memmem(line, len, needle, strlen(needle)) != NULL;
}

/* needle in lower case */
static gboolean contains_ci(const char *line, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++) {
        if ((line[i] | 0x20) == needle[0] && g_ascii_strncasecmp(line + i, needle, n) == 0)
            return TRUE;
    }
    return FALSE;
}

/* HH:MM:SS */
static gboolean take_clock(cursor *c, int *h, int *m, int *s)
{
    return take_digits(c, 2, h) && take_char(c, ':') && take_digits(c, 2, m) && take_char(c, ':')
        && take_digits(c, 2, s) && *h < 24 && *m < 60 && *s < 61;
}

static gboolean valid_date(int year, int month, int day)
{
    return year >= 1970 && year < 2400 && month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

/* ---- addresses ------------------------------------------------------------ */

static uint16_t port_after(const char *p, const char *end)
{
    cursor c = { p, end };
    int64_t v;
    return take_char(&c, ':') && take_number(&c, &v) && v > 0 && v < 65536 ? (uint16_t)v : 0;
}

/* Parses "a.b.c.d", "a.b.c.d:port", "[v6]", "[v6]:port" or a bare "v6" at s.
 * (A bare IPv6 address never carries a port: the colon would be ambiguous.) */
static gboolean parse_address(const char *s, const char *end, log_entry *e)
{
    char buf[64];
    gboolean bracketed = s < end && *s == '[';
    const char *p = s + bracketed;
    size_t n = 0;
    while (p + n < end && n < sizeof buf - 1 && (g_ascii_isxdigit(p[n]) || p[n] == '.' || p[n] == ':'))
        n++;
    while (n > 0 && (p[n - 1] == '.' || (p[n - 1] == ':' && !bracketed)))
        n--;   /* punctuation ending a sentence */
    memcpy(buf, p, n);
    buf[n] = '\0';

    if (bracketed) {
        if (p + n >= end || p[n] != ']' || inet_pton(AF_INET6, buf, e->addr) != 1)
            return FALSE;
        e->family = 6;
        e->port = port_after(p + n + 1, end);
        return TRUE;
    }
    char *colon = strchr(buf, ':');
    if (colon && colon == strrchr(buf, ':')) {
        *colon = '\0';
        if (inet_pton(AF_INET, buf, e->addr) != 1)
            return FALSE;
        e->family = 4;
        e->port = port_after(p + (colon - buf), end);
        return TRUE;
    }
    if (inet_pton(AF_INET, buf, e->addr) == 1) {
        e->family = 4;
        e->port = 0;
        return TRUE;
    }
    if (colon && inet_pton(AF_INET6, buf, e->addr) == 1) {
        e->family = 6;
        e->port = 0;
        return TRUE;
    }
    return FALSE;
}

/* "scheme://host:port/path" or "host:port" */
static void parse_url_host(const char *s, const char *end, log_entry *e)
{
    const char *scheme = memmem(s, (size_t)(end - s), "://", 3);
    parse_address(scheme ? scheme + 3 : s, end, e);
}

/* The text between the quotes that follow marker ("" marker: the first quotes). */
static void take_request(const char *line, size_t len, const char *marker, log_entry *e)
{
    const char *m = *marker ? memmem(line, len, marker, strlen(marker)) : line;
    if (!m)
        return;
    const char *open = memchr(m, '"', (size_t)(line + len - m));
    const char *close = open ? memchr(open + 1, '"', (size_t)(line + len - open - 1)) : NULL;
    if (close && close > open + 1)
        e->request = g_strndup(open + 1, MIN((size_t)(close - open - 1), LOG_REQUEST_MAX));
}

static void take_level(const char *start, const char *end, log_entry *e)
{
    size_t n = 0;
    while (start + n < end && n < sizeof e->level - 1 && g_ascii_isalpha(start[n]))
        n++;
    memcpy(e->level, start, n);
    e->level[n] = '\0';
}

static int error_number_after(const char *line, size_t len, const char *marker)
{
    const char *m = memmem(line, len, marker, strlen(marker));
    if (!m)
        return 0;
    cursor c = { m + strlen(marker), line + len };
    int64_t v;
    return take_number(&c, &v) && v < 100000 ? (int)v : 0;
}

/* ---- nginx error log ------------------------------------------------------ */

static gboolean nginx_reports_reset(const char *line, size_t len)
{
    return contains(line, len, "(104: ") || contains(line, len, "(54: ")
        || contains(line, len, "(32: ") || contains(line, len, "(111: ")
        || contains(line, len, "prematurely closed connection")
        || contains(line, len, "Connection reset by peer");
}

static gboolean parse_nginx(const char *line, size_t len, log_entry *e)
{
    cursor c = { line, line + len };
    int y, mo, d, h, mi, s;
    if (!(take_digits(&c, 4, &y) && take_char(&c, '/') && take_digits(&c, 2, &mo) && take_char(&c, '/')
          && take_digits(&c, 2, &d) && take_char(&c, ' ') && take_clock(&c, &h, &mi, &s)
          && take_literal(&c, " [") && valid_date(y, mo, d)))
        return FALSE;
    if (!nginx_reports_reset(line, len))
        return FALSE;
    take_level(c.p, c.end, e);
    take_request(line, len, ", request: \"", e);
    e->time_us = log_civil_to_us(y, mo, d, h, mi, s);
    e->resolution_us = US_PER_SEC;
    e->has_year = TRUE;
    e->error_number = error_number_after(line, len, " (");
    e->reports_rst = e->error_number != 0;

    /* The message says whose connection closed; "while ..." only says what nginx
     * was doing, e.g. "client prematurely closed connection ... while sending
     * request to upstream" is the client's reset. */
    const char *action = find(&c, " while ");
    const char *client = find(&c, ", client: ");
    gboolean client_closed = contains(line, len, "client prematurely closed")
        || contains(line, len, "closed keepalive connection");
    const char *action_end = client && client > action ? client : line + len;   /* ", client:" may come first */
    gboolean upstream = !client_closed
        && ((action && memmem(action, (size_t)(action_end - action), "upstream", 8))
            || contains(line, len, "upstream prematurely closed"));
    e->leg = upstream ? LOG_LEG_UPSTREAM : LOG_LEG_CLIENT;
    if (upstream) {
        const char *url = find(&c, ", upstream: \"");
        if (url)
            parse_url_host(url + 13, line + len, e);
    } else {
        /* ", client: A" in request context; "client A closed keepalive connection" without */
        const char *named = client ? client + 10 : find(&c, " client ");
        if (named && !client)
            named += 8;
        if (named)
            parse_address(named, line + len, e);
        e->port = 0;   /* nginx writes the client address without its port */
    }
    return TRUE;
}

/* ---- Apache error log ----------------------------------------------------- */

/* mod_proxy_http's messages about reading the request body from the client
 * (AH01095 "prefetch request body failed", AH02608 "read request body
 * failed"): they name the backend, but the failed read, and the reset, is the
 * client's. */
static gboolean reads_client_body(const char *line, size_t len)
{
    return contains(line, len, "AH01095:") || contains(line, len, "AH02608:");
}

static gboolean parse_apache(const char *line, size_t len, log_entry *e)
{
    cursor c = { line, line + len };
    int mo, d, h, mi, s, y;
    int64_t frac;
    if (!take_char(&c, '['))
        return FALSE;
    skip_token(&c);   /* weekday */
    skip_spaces(&c);
    if (!take_month(&c, &mo))
        return FALSE;
    skip_spaces(&c);
    if (!((take_digits(&c, 2, &d) || take_digits(&c, 1, &d)) && take_char(&c, ' ')
          && take_clock(&c, &h, &mi, &s)))
        return FALSE;
    uint32_t resolution = take_fraction(&c, &frac);
    if (!(take_char(&c, ' ') && take_digits(&c, 4, &y) && take_char(&c, ']') && valid_date(y, mo, d)))
        return FALSE;
    if (!(contains(line, len, "(104)") || contains(line, len, "(32)Broken pipe")
          || contains(line, len, "Connection reset by peer") || contains(line, len, "(111)Connection refused")))
        return FALSE;
    e->time_us = log_civil_to_us(y, mo, d, h, mi, s) + frac;
    e->resolution_us = resolution;
    e->has_year = TRUE;
    e->error_number = contains(line, len, "(104)") ? 104 : contains(line, len, "(32)") ? 32
                    : contains(line, len, "(111)") ? 111 : 0;
    cursor level = c;   /* "[module:level]" (2.4) or "[level]" (2.2) */
    if (take_literal(&level, " [")) {
        const char *close = memchr(level.p, ']', (size_t)(level.end - level.p));
        const char *colon = close ? memchr(level.p, ':', (size_t)(close - level.p)) : NULL;
        take_level(colon ? colon + 1 : level.p, close ? close : level.end, e);
    }

    const char *remote = find(&c, "[remote ");
    const char *remote_server = find(&c, "remote server ");
    const char *connect_to = find(&c, "attempt to connect to ");   /* AH00957: a refused backend */
    gboolean upstream = remote || remote_server || connect_to
        || (find(&c, " [proxy") && !reads_client_body(line, len));
    e->leg = upstream ? LOG_LEG_UPSTREAM : LOG_LEG_CLIENT;
    if (remote)
        parse_address(remote + 8, line + len, e);
    else if (remote_server)
        parse_address(remote_server + 14, line + len, e);
    else if (connect_to)
        parse_address(connect_to + 22, line + len, e);
    else if (!upstream) {
        const char *client = find(&c, "[client ");
        if (client)
            parse_address(client + 8, line + len, e);
    }
    return TRUE;
}

/* ---- HAProxy HTTP/TCP log ------------------------------------------------- */

static gboolean parse_haproxy(const char *line, size_t len, log_entry *e)
{
    cursor c = { line, line + len };
    const char *tag = find(&c, "haproxy[");
    if (tag) {
        const char *colon = memmem(tag, (size_t)(c.end - tag), "]: ", 3);
        if (!colon)
            return FALSE;
        c.p = colon + 3;
    }
    log_entry peer = { 0 };
    const char *client_start = c.p;
    skip_token(&c);
    if (!parse_address(client_start, c.p, &peer))
        return FALSE;
    int d, mo, y, h, mi, s;
    int64_t frac;
    if (!(take_literal(&c, " [") && take_digits(&c, 2, &d) && take_char(&c, '/') && take_month(&c, &mo)
          && take_char(&c, '/') && take_digits(&c, 4, &y) && take_char(&c, ':')
          && take_clock(&c, &h, &mi, &s) && valid_date(y, mo, d)))
        return FALSE;
    uint32_t resolution = take_fraction(&c, &frac);
    if (!take_char(&c, ']'))
        return FALSE;

    /* frontend, backend/server, then the timers: 5 in the HTTP log, 3 in the TCP log */
    const char *fields[16];
    int n = 0;
    while (n < 16) {
        skip_spaces(&c);
        if (at_end(&c) || *c.p == '{' || *c.p == '"')
            break;
        fields[n++] = c.p;
        skip_token(&c);
    }
    if (n < 5)
        return FALSE;
    int timers = 1;
    for (const char *p = fields[2]; p < fields[3]; p++)
        timers += *p == '/';
    int state_field = timers == 5 ? 7 : timers == 3 ? 4 : -1;
    if (state_field < 0 || state_field >= n)
        return FALSE;
    char first = fields[state_field][0];
    if (first != 'C' && first != 'S')
        return FALSE;   /* only client or server aborts are resets */

    /* the accept date plus the total time is when the session ended */
    const char *total = fields[2];
    for (const char *p = fields[2]; p < fields[3]; p++)
        if (*p == '/')
            total = p + 1;
    cursor tc = { total + (*total == '+'), fields[3] };
    int64_t total_ms = 0;
    if (!take_number(&tc, &total_ms) || total_ms > MAX_DURATION_MS)
        total_ms = 0;
    e->time_us = log_civil_to_us(y, mo, d, h, mi, s) + frac + total_ms * 1000;
    e->resolution_us = resolution;
    e->has_year = TRUE;
    take_request(fields[state_field], (size_t)(c.end - fields[state_field]), "", e);
    if (first == 'C') {
        e->leg = LOG_LEG_CLIENT;
        e->family = peer.family;
        memcpy(e->addr, peer.addr, sizeof e->addr);
        e->port = peer.port;
    } else {
        e->leg = LOG_LEG_UPSTREAM;   /* the log names the server, not its address */
    }
    return TRUE;
}

/* ---- Envoy default access log --------------------------------------------- */

/* YYYY-MM-DD[T ]HH:MM:SS[.frac][Z|+HH:MM|+HHMM] */
static gboolean take_iso_time(cursor *c, log_entry *e)
{
    int y, mo, d, h, mi, s;
    int64_t frac;
    if (!(take_digits(c, 4, &y) && take_char(c, '-') && take_digits(c, 2, &mo) && take_char(c, '-')
          && take_digits(c, 2, &d) && (take_char(c, 'T') || take_char(c, ' '))
          && take_clock(c, &h, &mi, &s) && valid_date(y, mo, d)))
        return FALSE;
    e->resolution_us = take_fraction(c, &frac);
    e->time_us = log_civil_to_us(y, mo, d, h, mi, s) + frac;
    e->has_year = TRUE;
    if (take_char(c, 'Z')) {
        e->has_zone = TRUE;
    } else if (!at_end(c) && (*c->p == '+' || *c->p == '-')) {
        int sign = *c->p == '-' ? -1 : 1;
        int zh, zm;
        cursor z = { c->p + 1, c->end };
        if (take_digits(&z, 2, &zh) && (take_char(&z, ':'), take_digits(&z, 2, &zm)) && zh < 15) {
            e->has_zone = TRUE;
            e->time_us -= sign * ((int64_t)zh * 3600 + zm * 60) * US_PER_SEC;
            c->p = z.p;
        }
    }
    return TRUE;
}

static gboolean parse_envoy(const char *line, size_t len, log_entry *e)
{
    cursor c = { line, line + len };
    const char *open = memchr(line, '[', len < 32 ? len : 32);
    if (!open)
        return FALSE;
    c.p = open + 1;
    if (!take_iso_time(&c, e) || !take_literal(&c, "] \""))
        return FALSE;
    const char *request_end = memchr(c.p, '"', (size_t)(c.end - c.p));
    if (!request_end)
        return FALSE;
    const char *request = c.p;
    c.p = request_end + 1;
    skip_spaces(&c);
    skip_token(&c);   /* response code */
    skip_spaces(&c);
    const char *flags = c.p;
    skip_token(&c);
    size_t flags_len = (size_t)(c.p - flags);
    gboolean upstream = memmem(flags, flags_len, "UC", 2) || memmem(flags, flags_len, "UF", 2)
        || memmem(flags, flags_len, "UR", 2);
    gboolean downstream = memmem(flags, flags_len, "DC", 2) != NULL;
    if (!upstream && !downstream)
        return FALSE;
    int64_t numbers[3] = { 0 };   /* bytes received, bytes sent, duration */
    for (int i = 0; i < 3; i++) {
        skip_spaces(&c);
        if (!take_number(&c, &numbers[i]))
            return FALSE;
    }
    if (numbers[2] <= MAX_DURATION_MS)
        e->time_us += numbers[2] * 1000;   /* the start time plus the duration */
    if (request_end > request)
        e->request = g_strndup(request, MIN((size_t)(request_end - request), LOG_REQUEST_MAX));
    e->leg = upstream ? LOG_LEG_UPSTREAM : LOG_LEG_CLIENT;
    if (upstream) {
        /* the last quoted field is %UPSTREAM_HOST% */
        const char *last_close = NULL, *last_open = NULL;
        for (const char *p = c.end - 1; p >= c.p; p--) {
            if (*p == '"') {
                if (!last_close)
                    last_close = p;
                else {
                    last_open = p;
                    break;
                }
            }
        }
        if (last_open)
            parse_url_host(last_open + 1, last_close, e);
    }
    return TRUE;
}

/* ---- generic: a time, a reset phrase, maybe an address -------------------- */

static gboolean generic_reports_reset(const char *line, size_t len)
{
    static const char *const phrases[] = {
        "connection reset", "reset by peer", "econnreset", "errno 104", "recv failure", "broken pipe",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(phrases); i++) {
        if (contains_ci(line, len, phrases[i]))
            return TRUE;
    }
    return FALSE;
}

/* "Mmm dd HH:MM:SS" at the start of the line (syslog, no year) */
static gboolean take_syslog_time(cursor *c, log_entry *e)
{
    int mo, d, h, mi, s;
    if (!take_month(c, &mo) || !take_char(c, ' '))
        return FALSE;
    take_char(c, ' ');
    if (!((take_digits(c, 2, &d) || take_digits(c, 1, &d)) && take_char(c, ' ')
          && take_clock(c, &h, &mi, &s)))
        return FALSE;
    e->time_us = log_civil_to_us(1970, mo, d, h, mi, s);   /* year filled in when matching */
    e->resolution_us = US_PER_SEC;
    e->has_year = FALSE;
    return TRUE;
}

static gboolean parse_generic(const char *line, size_t len, log_entry *e)
{
    if (!generic_reports_reset(line, len))
        return FALSE;
    cursor c = { line, line + len };
    const char *time_end = NULL;
    if (take_syslog_time(&c, e)) {
        time_end = c.p;
    } else {
        for (const char *p = line; p + 19 <= line + len && !time_end; p++) {
            cursor t = { p, line + len };
            if (g_ascii_isdigit(*p) && take_iso_time(&t, e))
                time_end = t.p;
        }
    }
    if (!time_end)
        return FALSE;
    e->leg = LOG_LEG_UNKNOWN;
    e->error_number = contains_ci(line, len, "errno 104") || contains(line, len, "(104") ? 104 : 0;
    /* Go prints "local->remote"; otherwise take the first address after the time */
    const char *arrow = memmem(time_end, (size_t)(line + len - time_end), "->", 2);
    if (arrow && parse_address(arrow + 2, line + len, e))
        return TRUE;
    for (const char *p = time_end; p < line + len; p++) {
        gboolean word_start = !g_ascii_isalnum(p[-1]) && p[-1] != '.' && p[-1] != ':';
        if (word_start && (g_ascii_isxdigit(*p) || *p == '[') && parse_address(p, line + len, e))
            return TRUE;
    }
    e->family = 0;
    return TRUE;
}

/* ---- lines and files -------------------------------------------------------- */

static char *safe_text(const char *line, size_t len);

typedef gboolean (*line_parser)(const char *line, size_t len, log_entry *e);

static const line_parser parsers[LOG_FORMAT_COUNT] = {
    [LOG_FORMAT_NGINX] = parse_nginx,
    [LOG_FORMAT_APACHE] = parse_apache,
    [LOG_FORMAT_HAPROXY] = parse_haproxy,
    [LOG_FORMAT_ENVOY] = parse_envoy,
    [LOG_FORMAT_GENERIC] = parse_generic,
};

static gboolean worth_parsing(const char *line, size_t len)
{
    const char *end = line + len;
    log_scan_needle which;
    for (const char *at = line; (at = log_scan_next(at, end, &which, NULL)) != NULL; at++) {
        /* the HAProxy date counts in the line's first bracket, near its start */
        if (which != LOG_SCAN_HAPROXY_DATE
            || (at - line < 64 && memchr(line, '[', (size_t)(at - line)) == NULL && end - at > 8))
            return TRUE;
    }
    return FALSE;
}

static gboolean parse_candidate(const char *line, size_t len, log_format format, log_entry *out)
{
    for (int f = LOG_FORMAT_NGINX; f < LOG_FORMAT_COUNT; f++) {
        if (format != LOG_FORMAT_AUTO && format != (log_format)f)
            continue;
        memset(out, 0, sizeof *out);
        out->reports_rst = TRUE;   /* the parsers say when a line is only about a FIN */
        if (parsers[f](line, len, out)) {
            out->format = (uint8_t)f;
            if (out->request) {
                char *safe = safe_text(out->request, strlen(out->request));
                g_free(out->request);
                out->request = safe;
            }
            return TRUE;
        }
        g_free(out->request);
    }
    memset(out, 0, sizeof *out);
    return FALSE;
}

gboolean log_parse_line(const char *line, size_t len, log_format format, log_entry *out)
{
    gboolean reset = worth_parsing(line, len) && parse_candidate(line, len, format, out);
    if (!reset)
        memset(out, 0, sizeof *out);
    return reset;
}

/* The line as safe text: at most LOG_LINE_MAX bytes, no control characters,
 * valid UTF-8 (it is untrusted input shown in the GUI). */
static char *safe_text(const char *line, size_t len)
{
    char buf[LOG_LINE_MAX + 1];
    size_t n = len < LOG_LINE_MAX ? len : LOG_LINE_MAX;
    unsigned char seen = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)line[i];
        buf[i] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
        seen |= ch;
    }
    buf[n] = '\0';
    /* ASCII (most log lines) is valid UTF-8 as it is */
    return seen < 0x80 ? g_strndup(buf, n) : g_utf8_make_valid(buf, (gssize)n);
}

static gint compare_entries(gconstpointer a, gconstpointer b)
{
    const log_entry *x = a, *y = b;
    if (x->time_us != y->time_us)
        return x->time_us < y->time_us ? -1 : 1;
    return x->lineno < y->lineno ? -1 : x->lineno > y->lineno;
}

/* ---- reading: a file, pipe or FIFO, plain or gzip --------------------------- */

/* The reader sniffs the first bytes it reads (the gzip magic, NUL bytes) and
 * keeps them as the start of the text, so nothing is read twice and a pipe,
 * which cannot be rewound, loses nothing. A pipe or FIFO is read without
 * blocking: it may stay silent STREAM_WAIT_MS at most, so a FIFO no program
 * writes to is reported instead of stopping Wireshark before the first packet. */

typedef struct {
    int fd;
    gboolean stream;            /* a pipe, FIFO or terminal: wait for data with poll() */
    gboolean gzip;
    gboolean raw_end;           /* the file has no more bytes */
    z_stream z;
    unsigned char raw[READ_CHUNK];
    size_t raw_len;             /* bytes in raw */
    size_t head_given;          /* plain text: bytes of raw (the sniffed head) already handed out */
    uint64_t raw_offset;        /* bytes of the file read so far */
    char *stop_reason;          /* why reading ended early; NULL at the true end */
} log_reader;

static void reader_stop(log_reader *r, char *reason /* taken */)
{
    if (r->stop_reason)
        g_free(reason);
    else
        r->stop_reason = reason;
}

/* Reads up to cap bytes of the file; 0 at its end or when reading stopped. */
static size_t read_raw(log_reader *r, unsigned char *buf, size_t cap)
{
    while (!r->raw_end && !r->stop_reason) {
        if (r->stream) {
            struct pollfd p = { .fd = r->fd, .events = POLLIN };
            int ready = poll(&p, 1, STREAM_WAIT_MS);
            if (ready < 0 && errno == EINTR)
                continue;
            if (ready == 0) {
                reader_stop(r, r->raw_offset == 0
                    ? g_strdup_printf("nothing came in %d s: no program writes to it", STREAM_WAIT_MS / 1000)
                    : g_strdup_printf("nothing more came in %d s", STREAM_WAIT_MS / 1000));
                break;
            }
        }
        gssize n = read(r->fd, buf, cap);
        if (n > 0) {
            r->raw_offset += (uint64_t)n;
            return (size_t)n;
        }
        if (n == 0)
            r->raw_end = TRUE;
        else if (errno != EINTR && errno != EAGAIN)
            reader_stop(r, g_strdup_printf("read error: %s", g_strerror(errno)));
    }
    return 0;
}

/* Fills raw with at least two bytes (the gzip magic) unless the file is shorter. */
static void sniff(log_reader *r)
{
    while (r->raw_len < 2) {
        size_t n = read_raw(r, r->raw + r->raw_len, sizeof r->raw - r->raw_len);
        if (n == 0)
            break;
        r->raw_len += n;
    }
    r->gzip = r->raw_len >= 2 && r->raw[0] == 0x1f && r->raw[1] == 0x8b;
    if (r->gzip) {
        inflateInit2(&r->z, 15 + 16);   /* gzip wrapper */
        r->z.next_in = r->raw;
        r->z.avail_in = (uInt)r->raw_len;
    }
}

/* After one gzip member: another may follow (concatenated files, as gzip
 * itself reads them). TRUE if one does. */
static gboolean next_member(log_reader *r)
{
    while (r->z.avail_in < 2) {
        memmove(r->raw, r->z.next_in, r->z.avail_in);
        size_t n = read_raw(r, r->raw + r->z.avail_in, sizeof r->raw - r->z.avail_in);
        r->z.next_in = r->raw;
        if (n == 0)
            break;
        r->z.avail_in += (uInt)n;
    }
    if (r->z.avail_in == 0)
        return FALSE;
    if (r->z.avail_in >= 2 && r->z.next_in[0] == 0x1f && r->z.next_in[1] == 0x8b) {
        inflateReset(&r->z);
        return TRUE;
    }
    reader_stop(r, g_strdup_printf("bytes after the gzip data at byte %" G_GUINT64_FORMAT " are not gzip",
                                   r->raw_offset - r->z.avail_in));
    return FALSE;
}

/* Up to cap bytes of text; 0 at the end (r->stop_reason says if it came early). */
static size_t read_text(log_reader *r, char *out, size_t cap)
{
    if (r->stop_reason)
        return 0;
    if (!r->gzip) {
        if (r->head_given < r->raw_len) {
            size_t n = MIN(cap, r->raw_len - r->head_given);
            memcpy(out, r->raw + r->head_given, n);
            r->head_given += n;
            return n;
        }
        return read_raw(r, (unsigned char *)out, cap);
    }
    r->z.next_out = (Bytef *)out;
    r->z.avail_out = (uInt)cap;
    while (r->z.avail_out == cap && !r->stop_reason) {
        if (r->z.avail_in == 0) {
            r->z.avail_in = (uInt)read_raw(r, r->raw, sizeof r->raw);
            r->z.next_in = r->raw;
        }
        gboolean no_input = r->z.avail_in == 0;
        int rc = inflate(&r->z, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) {
            if (!next_member(r))
                break;
        } else if (rc == Z_BUF_ERROR && no_input) {
            if (!r->stop_reason)
                reader_stop(r, g_strdup("gzip data cut short"));
        } else if (rc != Z_OK && rc != Z_BUF_ERROR && r->z.msg && strstr(r->z.msg, "check")) {
            /* the checksum at a member's end: the damage may be anywhere in that member */
            reader_stop(r, g_strdup_printf("gzip data damaged before byte %" G_GUINT64_FORMAT " of the file (%s); "
                                           "the last lines read may be garbled", r->raw_offset - r->z.avail_in,
                                           r->z.msg));
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            reader_stop(r, g_strdup_printf("gzip data damaged near byte %" G_GUINT64_FORMAT " of the file: %s",
                                           r->raw_offset - r->z.avail_in, r->z.msg ? r->z.msg : "bad data"));
        }
    }
    return cap - r->z.avail_out;
}

/* Opens path for reading without blocking on a FIFO ("-": standard input);
 * -1 with *error set if it cannot be read at all. */
static int open_log(const char *path, gboolean *stream, struct stat *st, char **error)
{
    int fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 || fstat(fd, st) != 0) {
        *error = g_strdup_printf("cannot open log file %s: %s", path, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (S_ISDIR(st->st_mode)) {
        *error = g_strdup_printf("log file %s is a directory", path);
        close(fd);
        return -1;
    }
    *stream = !S_ISREG(st->st_mode) && !S_ISBLK(st->st_mode);
    if (*stream)
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);   /* a dup'ed standard input too */
    return fd;
}

/* One line (no newline): parsed when it may report a reset. */
static void index_line(log_index *index, char *line, size_t len, log_format format)
{
    while (len > 0 && line[len - 1] == '\r')
        len--;
    if (!worth_parsing(line, len))
        return;
    log_entry e;
    if (parse_candidate(line, len, format, &e)) {
        e.lineno = index->lines_read;
        e.text = safe_text(line, len);
        index->lines_cut += len > LOG_LINE_MAX;
        index->lines_reporting_rst += e.reports_rst;
        if (index->tail_entry && e.lineno == index->tail_lineno) {
            /* the line read before without its end (log_index_follow): now whole */
            log_entry *old = &g_array_index(index->entries, log_entry, index->tail_entry - 1);
            index->lines_reporting_rst -= old->reports_rst;
            g_free(old->text);
            g_free(old->request);
            *old = e;
            index->revision++;
        } else {
            g_array_append_val(index->entries, e);
        }
    } else if (generic_reports_reset(line, len) || nginx_reports_reset(line, len)) {
        if (index->lines_unparsed++ == 0)
            index->first_unparsed = index->lines_read;
    }
}

/* The whole lines of [p, end) (end follows a newline): only those in which a
 * needle is found are looked at one by one, the others are only counted. */
static void index_block(log_index *index, char *p, char *end, log_format format)
{
    char *counted = p;   /* the lines before it are counted */
    const char *hit;
    log_scan_needle which;
    size_t newlines = 0;   /* in [counted, hit): those before the hit's line, which holds none before it */
    while ((hit = log_scan_next(counted, end, &which, &newlines)) != NULL) {
        char *line = memrchr(counted, '\n', (size_t)(hit - counted));
        line = line ? line + 1 : counted;
        char *nl = memchr(counted + (hit - counted), '\n', (size_t)(end - hit));   /* hit, writable */
        index->lines_read += newlines + 1;
        newlines = 0;
        index_line(index, line, (size_t)(nl - line), format);
        counted = nl + 1;
    }
    index->lines_read += newlines;
}

/* Splits the text, which begins at text_offset in the file, into lines. A
 * line is searched whole up to LOG_SCAN_MAX bytes; the rest of a longer one is
 * skipped and counted. A last line without its newline is read as it is and
 * remembered (the tail), to be read again whole if the file grows. Returns
 * FALSE when the head of the file holds NUL bytes: not a text file. */
static gboolean index_lines(log_index *index, log_reader *r, log_format format, uint64_t text_offset /* of buf[0] */)
{
    size_t cap = 256 * 1024, len = 0, start = 0;
    gboolean skipping = FALSE;      /* in the unsearched rest of a long line */
    gboolean text = TRUE;
    char *buf = g_malloc(cap);
    for (;;) {
        char *nl = skipping ? memchr(buf + start, '\n', len - start) : NULL;
        if (nl) {   /* the end of the long line */
            skipping = FALSE;
            start = (size_t)(nl - buf) + 1;
        }
        char *block_end = skipping || len == start ? NULL : memrchr(buf + start, '\n', len - start);
        if (block_end) {
            index_block(index, buf + start, block_end + 1, format);
            start = (size_t)(block_end - buf) + 1;
        }
        /* no newline in buf[start, len): make room, then read more */
        if (skipping)
            start = len;
        memmove(buf, buf + start, len - start);
        text_offset += start;
        len -= start;
        start = 0;
        if (len == cap && cap < LOG_SCAN_MAX) {
            cap *= 2;
            buf = g_realloc(buf, cap);
        } else if (len == cap) {
            index->lines_read++;
            if (index->lines_unscanned++ == 0)
                index->first_unscanned = index->lines_read;
            index_line(index, buf, len, format);
            skipping = TRUE;
            text_offset += len;
            len = 0;
        }
        size_t n = read_text(r, buf + len, cap - len);
        if (n == 0)
            break;
        char *nul = memchr(buf + len, '\0', n);
        if (nul) {
            if (text_offset + (uint64_t)(nul - buf) < SNIFF_BYTES) {
                text = FALSE;
                break;
            }
            /* e.g. the hole copytruncate leaves: the text ends in the line before */
            len = (size_t)(nul - buf);
            reader_stop(r, g_strdup("NUL bytes, not text"));
            char *last_nl = len > start ? memrchr(buf + start, '\n', len - start) : NULL;
            len = last_nl ? (size_t)(last_nl - buf) + 1 : start;
            continue;
        }
        len += n;
    }
    index->read_to = text_offset + start;
    guint tail_entry = 0;
    if (text && len > start && !skipping && !r->stop_reason) {   /* a last line without a newline */
        guint before = index->entries->len;
        index->lines_read++;
        index_line(index, buf + start, len - start, format);
        tail_entry = index->entries->len > before ? index->entries->len
                   : index->tail_lineno == index->lines_read ? index->tail_entry : 0;
        index->tail_lineno = index->lines_read;
    }
    index->tail_entry = tail_entry;
    if (r->stop_reason) {
        index->stop_line = index->lines_read + 1;
        index->stop_reason = g_steal_pointer(&r->stop_reason);
    }
    g_free(buf);
    return text;
}

log_index *log_index_load(const char *path, log_format format, char **error)
{
    *error = NULL;
    log_reader r = { 0 };
    struct stat st;
    r.fd = open_log(path, &r.stream, &st, error);
    if (r.fd < 0)
        return NULL;
    log_index *index = g_new0(log_index, 1);
    index->path = g_strdup(path);
    index->entries = g_array_new(FALSE, FALSE, sizeof(log_entry));
    sniff(&r);
    gboolean text = index_lines(index, &r, format, 0);
    index->followable = !r.stream && !r.gzip && strcmp(path, "-") != 0;
    index->device = (uint64_t)st.st_dev;
    index->inode = (uint64_t)st.st_ino;
    index->size_read = r.raw_offset;
    index->fd = index->followable && !index->stop_reason ? r.fd : -1;   /* held: read further when followed */
    if (r.gzip)
        inflateEnd(&r.z);
    if (index->fd < 0)
        close(r.fd);
    g_free(r.stop_reason);

    if (!text)
        *error = g_strdup_printf("log file %s is not text (it contains NUL bytes)", path);
    else if (index->lines_read == 0 && index->stop_reason)
        *error = g_strdup_printf("log file %s could not be read (%s)", path, index->stop_reason);
    else if (index->lines_read == 0)
        *error = g_strdup_printf("log file %s is empty", path);
    if (*error) {
        log_index_free(index);
        return NULL;
    }
    g_array_sort(index->entries, compare_entries);
    if (index->tail_entry) {   /* where the sorting put it */
        for (guint i = 0; i < index->entries->len; i++) {
            if (g_array_index(index->entries, log_entry, i).lineno == index->tail_lineno)
                index->tail_entry = i + 1;
        }
    }
    return index;
}

log_index *log_index_new_waiting(const char *path)
{
    log_index *index = g_new0(log_index, 1);
    index->path = g_strdup(path);
    index->entries = g_array_new(FALSE, FALSE, sizeof(log_entry));
    index->followable = TRUE;   /* no file read: the first one found is new */
    index->fd = -1;
    return index;
}

/* Reads the held file from `from` (0: again from its start, as a new file) to its end. */
static void read_further(log_index *index, log_format format, uint64_t from)
{
    if (from == 0) {   /* its lines are numbered from 1 */
        index->lines_read = 0;
        index->tail_entry = 0;
    } else if (index->read_to < index->size_read) {
        index->lines_read--;   /* the tail is read again, whole if its newline has come */
    }
    log_reader r = { .fd = index->fd };
    gboolean text = lseek(r.fd, (off_t)from, SEEK_SET) == (off_t)from && index_lines(index, &r, format, from);
    if (!text && !index->stop_reason) {
        index->stop_reason = g_strdup("the file now holds NUL bytes, not text");
        index->stop_line = index->lines_read + 1;
    }
    g_free(r.stop_reason);
    index->size_read = from + r.raw_offset;
}

/* The file held open is read to its end first: after a rotation it may still
 * get lines (until the program reopens its log), and those written before the
 * rotation was seen are read from it. Then a new file of that name is taken. */
gboolean log_index_follow(log_index *index, log_format format)
{
    if (!index->followable)
        return FALSE;
    guint before = index->entries->len, revision = index->revision;
    struct stat held, named;
    if (index->fd >= 0 && !index->stop_reason && fstat(index->fd, &held) == 0
        && (uint64_t)held.st_size != index->size_read)
        read_further(index, format, (uint64_t)held.st_size < index->size_read ? 0 : index->read_to);   /* truncated */
    if (!index->stop_reason && stat(index->path, &named) == 0 && S_ISREG(named.st_mode)
        && ((uint64_t)named.st_dev != index->device || (uint64_t)named.st_ino != index->inode)) {
        int fd = open(index->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0 && fstat(fd, &named) == 0) {
            if (index->fd >= 0)
                close(index->fd);
            index->fd = fd;
            index->device = (uint64_t)named.st_dev;
            index->inode = (uint64_t)named.st_ino;
            index->size_read = index->read_to = 0;
            read_further(index, format, 0);
        } else if (fd >= 0) {
            close(fd);
        }
    }
    if (index->entries->len != before)
        index->revision++;
    return index->revision != revision;
}

void log_index_free(log_index *index)
{
    if (index == NULL)
        return;
    for (guint i = 0; i < index->entries->len; i++) {
        g_free(g_array_index(index->entries, log_entry, i).text);
        g_free(g_array_index(index->entries, log_entry, i).request);
    }
    g_array_free(index->entries, TRUE);
    if (index->fd >= 0)
        close(index->fd);
    g_free(index->stop_reason);
    g_free(index->path);
    g_free(index);
}

guint log_index_lower_bound(const log_index *index, int64_t t)
{
    guint lo = 0, hi = index->entries->len;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        if (g_array_index(index->entries, log_entry, mid).time_us < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
