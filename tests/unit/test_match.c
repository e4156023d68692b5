/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for log_match.c: RST events against an nginx log written in
 * another zone with a skewed clock. */
#include <glib.h>
#include <glib/gstdio.h>
#include <arpa/inet.h>
#include <string.h>

#include "log_match.h"

#define S 1000000LL
#define ZONE_SHANGHAI (8 * 3600 * S)
#define PROMPT_MARGIN_US (100 * 1000)   /* log_match.c's PROMPT_US: a line written that late still fits */

static const int64_t base_utc = 1700000000LL * S;   /* 2023-11-14 22:13:20 UTC */

typedef struct {
    char *path;
    log_index *index;
} fixture;

/* nginx line quoting `request` for an event at at_us (UTC), written in local
 * time zone_us ahead of UTC by a clock skew_us fast. */
static void add_request_line(GString *log, int64_t at_us, int64_t zone_us, int64_t skew_us, const char *leg_text,
                             const char *peer, const char *request)
{
    GDateTime *t = g_date_time_new_from_unix_utc((at_us + zone_us + skew_us) / S);
    char *stamp = g_date_time_format(t, "%Y/%m/%d %H:%M:%S");
    if (strcmp(leg_text, "client") == 0)
        g_string_append_printf(log, "%s [info] 1#1: *1 recv() failed (104: Connection reset by peer) while "
                               "sending to client, client: %s, server: _, request: \"%s HTTP/1.1\"\n", stamp, peer,
                               request);
    else
        g_string_append_printf(log, "%s [error] 1#1: *1 recv() failed (104: Connection reset by peer) while "
                               "reading response header from upstream, client: 198.18.100.1, server: _, "
                               "request: \"%s HTTP/1.1\", upstream: \"http://%s/\", host: \"x\"\n", stamp, request,
                               peer);
    g_free(stamp);
    g_date_time_unref(t);
}

static void add_line(GString *log, int64_t at_us, int64_t zone_us, int64_t skew_us, const char *leg_text,
                     const char *peer)
{
    add_request_line(log, at_us, zone_us, skew_us, leg_text, peer, "GET /");
}

static void fixture_load(fixture *f, GString *log)
{
    f->path = g_build_filename(g_get_tmp_dir(), "rstdiag-match.log", NULL);
    g_assert_true(g_file_set_contents(f->path, log->str, (gssize)log->len, NULL));
    char *error = NULL;
    f->index = log_index_load(f->path, LOG_FORMAT_AUTO, &error);
    g_assert_null(error);
}

static void fixture_free(fixture *f)
{
    log_index_free(f->index);
    g_remove(f->path);
    g_free(f->path);
}

static log_rst_event rst(uint32_t stream, int64_t at_us, const char *sender, uint16_t port, log_sender_role role)
{
    log_rst_event ev = { .stream = stream, .time_us = at_us, .role = role };
    ev.sender.family = strchr(sender, ':') ? 6 : 4;
    g_assert_cmpint(inet_pton(ev.sender.family == 6 ? AF_INET6 : AF_INET, sender, ev.sender.addr), ==, 1);
    ev.sender.port = port;
    return ev;
}

static guint lineno(const fixture *f, const log_match_result *r)
{
    return g_array_index(f->index->entries, log_entry, r->entry).lineno;
}

/* The line number matched to the rst-th RST added, 0 for none. */
static guint matched_line(const fixture *f, log_matcher *m, guint rst_number)
{
    log_match_result r;
    return log_matcher_result(m, rst_number, &r) ? lineno(f, &r) : 0;
}

/* Ten client resets from different clients a minute apart, logged in
 * Shanghai time by a clock 2.3 s fast, events 40 ms after each RST. */
static void build_shifted_log(GString *log)
{
    for (int i = 0; i < 10; i++) {
        char peer[32];
        g_snprintf(peer, sizeof peer, "198.18.100.%d", 10 + i);
        add_line(log, base_utc + i * 60 * S + 40000, ZONE_SHANGHAI, 2300000, "client", peer);
    }
}

static void test_auto_zone_and_skew(void)
{
    GString *log = g_string_new(NULL);
    build_shifted_log(log);
    fixture f;
    fixture_load(&f, log);
    log_match_settings settings = { .zone_mode = LOG_ZONE_AUTO };
    log_matcher *m = log_matcher_new(f.index, &settings);
    for (int i = 0; i < 10; i++) {
        char sender[32];
        g_snprintf(sender, sizeof sender, "198.18.100.%d", 10 + i);
        log_rst_event ev = rst(100 + i, base_utc + i * 60 * S, sender, 50000 + i, LOG_SENDER_CLIENT);
        g_assert_cmpuint(log_matcher_add(m, &ev), ==, (guint)i);
    }
    for (guint i = 0; i < 10; i++) {
        log_match_result r;
        g_assert_true(log_matcher_result(m, i, &r));
        g_assert_cmpuint(lineno(&f, &r), ==, i + 1);
        g_assert_cmpint(r.kind, ==, LOG_MATCH_ADDRESS);
        g_assert_cmpint(llabs(r.offset_us - ZONE_SHANGHAI - 2300000), <, S);
        g_assert_cmpint(llabs(r.delta_us), <, 2 * S);
    }
    log_clock clock;
    log_matcher_clock(m, &clock);
    g_assert_true(clock.known);
    g_assert_cmpuint(clock.pairs, ==, 10);
    g_assert_false(clock.close_call);
    g_assert_cmpint(clock.offset_us / (900 * S), ==, 32);   /* +08:00 */
    log_matcher_free(m);
    fixture_free(&f);
    g_string_free(log, TRUE);
}

/* A matcher in UTC over a log with one line at base_utc. */
static log_matcher *single_line_matcher(fixture *f, const char *leg, const char *peer)
{
    GString *log = g_string_new(NULL);
    add_line(log, base_utc, 0, 0, leg, peer);
    fixture_load(f, log);
    g_string_free(log, TRUE);
    log_match_settings settings = { .zone_mode = LOG_ZONE_UTC };
    return log_matcher_new(f->index, &settings);
}

static void finish(log_matcher *m, fixture *f)
{
    log_matcher_free(m);
    fixture_free(f);
}

static void test_leg_and_port_must_agree(void)
{
    fixture f;
    log_matcher *m = single_line_matcher(&f, "upstream", "198.18.101.2:8080");
    log_match_result r;
    log_rst_event wrong_role = rst(1, base_utc - 100000, "198.18.101.2", 8080, LOG_SENDER_CLIENT);
    log_rst_event wrong_port = rst(2, base_utc - 100000, "198.18.101.2", 8081, LOG_SENDER_SERVER);
    log_rst_event refused = rst(3, base_utc - 100000, "198.18.101.2", 8080, LOG_SENDER_SERVER);
    refused.answers_syn = TRUE;   /* a refused connect() reads 111, not the line's 104 */
    log_rst_event right = rst(4, base_utc - 100000, "198.18.101.2", 8080, LOG_SENDER_SERVER);
    log_matcher_add(m, &wrong_role);
    log_matcher_add(m, &wrong_port);
    log_matcher_add(m, &refused);
    log_matcher_add(m, &right);
    g_assert_false(log_matcher_result(m, 0, &r));
    g_assert_false(log_matcher_result(m, 1, &r));
    g_assert_false(log_matcher_result(m, 2, &r));
    g_assert_true(log_matcher_result(m, 3, &r));
    g_assert_cmpint(r.kind, ==, LOG_MATCH_ADDRESS_PORT);
    finish(m, &f);
}

static void test_one_line_per_stream_and_stream_reuse(void)
{
    fixture f;
    log_matcher *m = single_line_matcher(&f, "client", "198.18.100.9");
    log_rst_event first = rst(7, base_utc - 50000, "198.18.100.9", 41000, LOG_SENDER_CLIENT);
    log_rst_event other = rst(8, base_utc - 20000, "198.18.100.9", 41001, LOG_SENDER_CLIENT);
    log_rst_event again = rst(7, base_utc + 3 * S, "198.18.100.9", 41000, LOG_SENDER_CLIENT);
    log_matcher_add(m, &first);
    log_matcher_add(m, &other);
    log_matcher_add(m, &again);
    g_assert_cmpuint(matched_line(&f, m, 0), ==, 1);
    g_assert_cmpuint(matched_line(&f, m, 1), ==, 0);   /* the line is taken */
    g_assert_cmpuint(matched_line(&f, m, 2), ==, 1);   /* same stream: same line */
    g_assert_true(log_matcher_entry_used(m, 0));
    g_assert_cmpuint(log_matcher_used_count(m), ==, 1);
    finish(m, &f);
}

static void test_unrelated_rst_and_time_window(void)
{
    fixture f;
    log_matcher *m = single_line_matcher(&f, "client", "198.18.100.9");
    log_rst_event elsewhere = rst(1, base_utc, "198.18.100.10", 41000, LOG_SENDER_CLIENT);
    log_rst_event too_early = rst(2, base_utc - 10 * S, "198.18.100.9", 41000, LOG_SENDER_CLIENT);
    log_matcher_add(m, &elsewhere);
    log_matcher_add(m, &too_early);
    g_assert_cmpuint(matched_line(&f, m, 0), ==, 0);
    g_assert_cmpuint(matched_line(&f, m, 1), ==, 0);
    g_assert_false(log_matcher_entry_used(m, 0));
    finish(m, &f);
}

static void test_explicit_zone_and_skew(void)
{
    GString *log = g_string_new(NULL);
    build_shifted_log(log);
    fixture f;
    fixture_load(&f, log);
    log_match_settings settings = { .zone_mode = LOG_ZONE_FIXED, .fixed_offset_s = 8 * 3600,
                                    .skew_given = TRUE, .skew_us = -2300000 };
    log_matcher *m = log_matcher_new(f.index, &settings);
    log_match_result r;
    log_rst_event ev = rst(1, base_utc + 5 * 60 * S, "198.18.100.15", 40000, LOG_SENDER_CLIENT);
    log_matcher_add(m, &ev);
    g_assert_true(log_matcher_result(m, 0, &r));
    g_assert_cmpuint(lineno(&f, &r), ==, 6);
    g_assert_cmpint(r.offset_us, ==, ZONE_SHANGHAI + 2300000);
    log_match_settings wrong = { .zone_mode = LOG_ZONE_UTC, .skew_given = TRUE };
    log_matcher *m2 = log_matcher_new(f.index, &wrong);
    log_matcher_add(m2, &ev);
    g_assert_false(log_matcher_result(m2, 0, &r));
    log_matcher_free(m);
    log_matcher_free(m2);
    fixture_free(&f);
    g_string_free(log, TRUE);
}

/* When the i-th of a dense run of RSTs is sent: irregular gaps of 0.05 to
 * 0.9 s (regular ones would fit a log under several clocks alike). */
static int64_t dense_time(int i)
{
    static const int64_t gaps_ms[] = { 130, 710, 50, 420, 900, 270, 330, 80, 560 };
    int64_t t = base_utc;
    for (int k = 0; k < i; k++)
        t += gaps_ms[k % G_N_ELEMENTS(gaps_ms)] * 1000;
    return t;
}

/* A dense upstream log written 5 h 3 s off: RSTs from one upstream a few
 * per second, lines with whole seconds, and between them RSTs from the same
 * address that no line is about (sent as a client, on connections the
 * upstream host opened). One clock for the file puts each line on its own
 * RST, in order; the clock is told with its support. */
static void test_dense_log_one_clock(void)
{
    const int64_t zone = 5 * 3600 * S, skew = 3 * S;
    GString *log = g_string_new(NULL);
    guint lines = 40;
    for (guint i = 0; i < lines; i++)
        add_line(log, dense_time((int)i) + 2000, zone, skew, "upstream", "198.18.101.2:8080");
    fixture f;
    fixture_load(&f, log);
    log_match_settings settings = { .zone_mode = LOG_ZONE_AUTO };
    log_matcher *m = log_matcher_new(f.index, &settings);
    for (guint i = 0; i < lines; i++) {
        log_rst_event ev = rst(2 * i, dense_time((int)i), "198.18.101.2", 8080, LOG_SENDER_SERVER);
        log_rst_event other = rst(2 * i + 1, dense_time((int)i) + 10000, "198.18.101.2", 50000, LOG_SENDER_CLIENT);
        log_matcher_add(m, &ev);
        log_matcher_add(m, &other);
    }
    for (guint i = 0; i < lines; i++) {
        g_assert_cmpuint(matched_line(&f, m, 2 * i), ==, i + 1);
        g_assert_cmpuint(matched_line(&f, m, 2 * i + 1), ==, 0);
    }
    log_clock clock;
    log_matcher_clock(m, &clock);
    g_assert_true(clock.known);
    g_assert_cmpuint(clock.pairs, ==, lines);
    g_assert_cmpint(clock.offset_us - zone - skew, >, -S / 2);
    g_assert_cmpint(clock.offset_us - zone - skew, <=, 0);
    char *text = log_clock_describe(&clock);
    g_assert_true(g_str_has_prefix(text, "clock offset +05:00 +2."));
    g_free(text);
    finish(m, &f);
    g_string_free(log, TRUE);
}

/* A single pass asks for each RST's line as it comes, a second pass only at
 * the end. Between the upstream's RSTs come RSTs of hosts no line names,
 * which can take no line (and are added without pairing the others again):
 * once the clock is settled each upstream RST has its line when asked, and
 * at the end every RST has the line the second pass gives it. */
static void test_asked_after_each_rst_as_at_the_end(void)
{
    const int64_t zone = 5 * 3600 * S, skew = 3 * S;
    GString *log = g_string_new(NULL);
    guint lines = 100;   /* past the few RSTs whose clock is estimated again each time */
    for (guint i = 0; i < lines; i++)
        add_line(log, dense_time((int)i) + 2000, zone, skew, "upstream", "198.18.101.2:8080");
    fixture f;
    fixture_load(&f, log);
    log_match_settings settings = { .zone_mode = LOG_ZONE_AUTO };
    log_matcher *each = log_matcher_new(f.index, &settings), *at_end = log_matcher_new(f.index, &settings);
    for (guint i = 0; i < lines; i++) {
        char stranger[32];
        g_snprintf(stranger, sizeof stranger, "198.18.60.%u", 1 + i % 200);
        log_rst_event events[] = {
            rst(3 * i, dense_time((int)i), "198.18.101.2", 8080, LOG_SENDER_SERVER),
            rst(3 * i + 1, dense_time((int)i) + 5000, stranger, 41000, LOG_SENDER_CLIENT),
            rst(3 * i + 2, dense_time((int)i) + 10000, "198.18.101.2", 50000, LOG_SENDER_CLIENT),
        };
        for (guint k = 0; k < G_N_ELEMENTS(events); k++) {
            log_matcher_add(at_end, &events[k]);
            guint line = matched_line(&f, each, log_matcher_add(each, &events[k]));
            if (i >= 10)   /* the clock settled: each RST of the upstream has its line at once */
                g_assert_cmpuint(line, ==, k == 0 ? i + 1 : 0);
        }
    }
    for (guint i = 0; i < lines; i++) {
        g_assert_cmpuint(matched_line(&f, each, 3 * i), ==, i + 1);
        for (guint k = 0; k < 3; k++)
            g_assert_cmpuint(matched_line(&f, each, 3 * i + k), ==, matched_line(&f, at_end, 3 * i + k));
    }
    log_clock clock_each, clock_at_end;
    log_matcher_clock(each, &clock_each);
    log_matcher_clock(at_end, &clock_at_end);
    g_assert_cmpuint(clock_each.pairs, ==, lines);
    g_assert_cmpuint(clock_at_end.pairs, ==, lines);
    g_assert_cmpint(clock_each.offset_us, ==, clock_at_end.offset_us);
    g_assert_cmpuint(log_matcher_used_count(each), ==, lines);
    g_assert_cmpuint(log_matcher_used_count(at_end), ==, lines);
    log_matcher_free(at_end);
    finish(each, &f);
    g_string_free(log, TRUE);
}

/* A client's line written 0.5 s after its first RST is that RST's in the
 * late round; a second RST of the client 50 ms before the line then takes it
 * in the prompt round, which comes first, and the first RST's connection
 * keeps none, as when all are paired at once. Likewise a RST that comes in
 * after another but was sent before it takes the prompt line first. Eight
 * other clients' prompt pairs come before, so that each RST is added to the
 * last assignment where that gives the same lines, not paired with all again. */
static void test_later_rst_takes_a_late_pairs_line(void)
{
    const int64_t line_at = base_utc + 600 * S;   /* a whole second: the line's time */
    enum { WARM = 8 };
    GString *log = g_string_new(NULL);
    char peers[WARM][32];
    for (int i = 0; i < WARM; i++) {
        g_snprintf(peers[i], sizeof peers[i], "198.18.100.%d", 20 + i);
        add_line(log, line_at - (100 - 10 * i) * S, 0, 0, "client", peers[i]);
    }
    add_line(log, line_at, 0, 0, "client", "198.18.100.9");              /* line WARM + 1 */
    add_line(log, line_at + 200 * S, 0, 0, "client", "198.18.100.50");   /* line WARM + 2 */
    fixture f;
    fixture_load(&f, log);
    log_match_settings settings = { .zone_mode = LOG_ZONE_UTC, .skew_given = TRUE };
    log_matcher *each = log_matcher_new(f.index, &settings), *at_end = log_matcher_new(f.index, &settings);
    for (int i = 0; i < WARM; i++) {
        log_rst_event ev = rst((uint32_t)i, line_at - (100 - 10 * i) * S - 30000, peers[i], 40000,
                               LOG_SENDER_CLIENT);
        log_matcher_add(each, &ev);
        log_matcher_add(at_end, &ev);
    }
    for (guint i = 0; i < WARM; i++)
        g_assert_cmpuint(matched_line(&f, each, i), ==, i + 1);
    log_rst_event events[] = {
        rst(10, line_at - 500000, "198.18.100.9", 41000, LOG_SENDER_CLIENT),     /* late for its line */
        rst(11, line_at - 50000, "198.18.100.9", 41001, LOG_SENDER_CLIENT),      /* prompt: takes it */
        rst(10, line_at + 5 * S, "198.18.100.9", 41000, LOG_SENDER_CLIENT),      /* the first's stream again */
        rst(20, line_at + 200 * S - 30000, "198.18.100.50", 41000, LOG_SENDER_CLIENT),
        rst(21, line_at + 200 * S - 60000, "198.18.100.50", 41001, LOG_SENDER_CLIENT),   /* sent before */
    };
    const guint when_added[] = { WARM + 1, WARM + 1, 0, WARM + 2, WARM + 2 };
    const guint at_the_end[] = { 0, WARM + 1, 0, 0, WARM + 2 };
    for (guint k = 0; k < G_N_ELEMENTS(events); k++) {
        log_matcher_add(at_end, &events[k]);
        g_assert_cmpuint(matched_line(&f, each, log_matcher_add(each, &events[k])), ==, when_added[k]);
    }
    for (guint k = 0; k < G_N_ELEMENTS(events); k++) {
        g_assert_cmpuint(matched_line(&f, at_end, WARM + k), ==, at_the_end[k]);
        g_assert_cmpuint(matched_line(&f, each, WARM + k), ==, at_the_end[k]);
    }
    g_assert_cmpuint(log_matcher_used_count(each), ==, WARM + 2);
    log_matcher_free(at_end);
    finish(each, &f);
    g_string_free(log, TRUE);
}

/* Random logs and RSTs (a fixed seed): five clients, lines at random times,
 * RSTs a little before or after them, some sent before the RST that came in
 * ahead of them, some on a connection that had one already. Asked after each
 * RST, the matcher gives it the line a matcher given all RSTs so far at once
 * gives it (the clock is given, so both measure it alike). */
static void test_each_rst_as_if_all_were_paired_again(void)
{
    GRand *rand = g_rand_new_with_seed(20261130);
    for (int trial = 0; trial < 20; trial++) {
        const int clients = 5, lines = 150, rsts = 200;
        const int64_t span = 60 * S;
        GString *log = g_string_new(NULL);
        int64_t at = base_utc;
        for (int i = 0; i < lines; i++) {
            at += g_rand_int_range(rand, 0, (int32_t)(2 * span / lines / 1000)) * 1000LL;
            char peer[32];
            g_snprintf(peer, sizeof peer, "198.18.100.%d", 1 + g_rand_int_range(rand, 0, clients));
            add_line(log, at, 0, 0, "client", peer);
        }
        fixture f;
        fixture_load(&f, log);
        log_match_settings settings = { .zone_mode = LOG_ZONE_UTC, .skew_given = TRUE };
        log_matcher *each = log_matcher_new(f.index, &settings);
        GArray *events = g_array_new(FALSE, FALSE, sizeof(log_rst_event));
        int64_t t = base_utc;
        for (int r = 0; r < rsts; r++) {
            t += g_rand_int_range(rand, 0, (int32_t)(span / rsts / 1000)) * 1000LL;
            int64_t sent = g_rand_int_range(rand, 0, 10) == 0 ? t - g_rand_int_range(rand, 1, 2000) * 1000LL : t;
            char peer[32];
            g_snprintf(peer, sizeof peer, "198.18.100.%d", 1 + g_rand_int_range(rand, 0, clients));
            uint32_t stream = g_rand_int_range(rand, 0, 10) == 0 && r > 0 ? (uint32_t)g_rand_int_range(rand, 0, r)
                                                                           : (uint32_t)r;
            log_rst_event ev = rst(stream, sent, peer, (uint16_t)(40000 + stream), LOG_SENDER_CLIENT);
            g_array_append_val(events, ev);
            guint line = matched_line(&f, each, log_matcher_add(each, &ev));
            log_matcher *at_once = log_matcher_new(f.index, &settings);
            for (guint k = 0; k < events->len; k++)
                log_matcher_add(at_once, &g_array_index(events, log_rst_event, k));
            g_assert_cmpuint(line, ==, matched_line(&f, at_once, (guint)r));
            log_matcher_free(at_once);
        }
        g_array_free(events, TRUE);
        finish(each, &f);
        g_string_free(log, TRUE);
    }
    g_rand_free(rand);
}

/* One RST, two lines of its client 3 s apart: either clock explains one
 * line. The smaller skew wins, and the clock says it was a close call. */
static void test_close_call_takes_smaller_skew(void)
{
    GString *log = g_string_new(NULL);
    add_line(log, base_utc, 0, 0, "client", "198.18.100.9");
    add_line(log, base_utc + 3 * S, 0, 0, "client", "198.18.100.9");
    fixture f;
    fixture_load(&f, log);
    log_match_settings settings = { .zone_mode = LOG_ZONE_AUTO };
    log_matcher *m = log_matcher_new(f.index, &settings);
    log_rst_event ev = rst(1, base_utc + 500000, "198.18.100.9", 41000, LOG_SENDER_CLIENT);
    log_matcher_add(m, &ev);
    g_assert_cmpuint(matched_line(&f, m, 0), ==, 1);
    log_clock clock;
    log_matcher_clock(m, &clock);
    g_assert_true(clock.close_call);
    g_assert_cmpint(llabs(clock.offset_us), <, S);
    g_assert_cmpint(clock.other_offset_us, >, 2 * S);
    g_assert_cmpuint(clock.other_pairs, ==, 1);
    finish(m, &f);
    g_string_free(log, TRUE);
}

static void test_request_read(void)
{
    char out[LOG_REQUEST_MAX + 1];
    /* may_open: what the cheap test first says (log_request_may_open) */
    static const struct { const char *payload; const char *request; gboolean may_open; } cases[] = {
        { "GET /reset/1004?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", "GET /reset/1004?x=1", TRUE },
        { "POST /notify HTTP/1.0\r\n", "POST /notify", TRUE },
        { "HTTP/1.1 200 OK\r\n", NULL, FALSE },              /* a response */
        { "GET /cut-by-the-snapshot-len", NULL, TRUE },      /* no version: the target may be cut */
        { "get / HTTP/1.1\r\n", NULL, FALSE },
        { "\x16\x03\x01\x02\x00", NULL, FALSE },              /* TLS */
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        const uint8_t *payload = (const uint8_t *)cases[i].payload;
        gboolean read = log_request_read(payload, strlen(cases[i].payload), out);
        g_assert_cmpint(read, ==, cases[i].request != NULL);
        if (read)
            g_assert_cmpstr(out, ==, cases[i].request);
        g_assert_cmpint(log_request_may_open(payload, strlen(cases[i].payload)), ==, cases[i].may_open);
    }
}

/* nginx passes a request to a new upstream connection after an error on a
 * kept-alive one (proxy_next_upstream) and logs both attempts alike, within
 * the same second as other requests' lines: the request a line quotes and
 * the request its RST's stream carried tie them, whatever their order in the
 * second. A line quoting another request goes to a RST only when no RST of
 * its request takes it (the proxy may rewrite the request upstream). */
static void test_request_names_the_connection(void)
{
    GString *log = g_string_new(NULL);
    add_request_line(log, base_utc, 0, 0, "upstream", "198.18.101.2:8080", "GET /b");    /* line 1 */
    add_request_line(log, base_utc, 0, 0, "upstream", "198.18.101.2:8080", "GET /a");    /* line 2 */
    add_request_line(log, base_utc, 0, 0, "upstream", "198.18.101.2:8080", "GET /a");    /* line 3 */
    add_request_line(log, base_utc, 0, 0, "client", "198.18.100.9", "GET /x");           /* line 4 */
    add_request_line(log, base_utc, 0, 0, "client", "198.18.100.9", "GET /y");           /* line 5 */
    add_request_line(log, base_utc + 5 * S, 0, 0, "upstream", "198.18.101.2:8080", "GET /old");  /* line 6 */
    fixture f;
    fixture_load(&f, log);
    log_match_settings settings = { .zone_mode = LOG_ZONE_UTC };
    log_matcher *m = log_matcher_new(f.index, &settings);
    log_rst_event first_try = rst(1, base_utc + 100000, "198.18.101.2", 8080, LOG_SENDER_SERVER);
    log_rst_event second_try = rst(2, base_utc + 200000, "198.18.101.2", 8080, LOG_SENDER_SERVER);
    log_rst_event other = rst(3, base_utc + 300000, "198.18.101.2", 8080, LOG_SENDER_SERVER);
    log_rst_event client = rst(4, base_utc + 50000, "198.18.100.9", 41000, LOG_SENDER_CLIENT);
    log_rst_event later_client = rst(6, base_utc + 60000, "198.18.100.9", 41001, LOG_SENDER_CLIENT);
    log_rst_event rewritten = rst(5, base_utc + 5 * S - 10000, "198.18.101.2", 8080, LOG_SENDER_SERVER);
    first_try.request = second_try.request = "GET /a";
    other.request = "GET /b";
    client.request = "GET /y";
    later_client.request = "GET /x";
    rewritten.request = "GET /new";
    log_rst_event *events[] = { &first_try, &second_try, &other, &client, &rewritten, &later_client };
    for (guint i = 0; i < G_N_ELEMENTS(events); i++)
        log_matcher_add(m, events[i]);
    g_assert_cmpuint(matched_line(&f, m, 0), ==, 2);
    g_assert_cmpuint(matched_line(&f, m, 1), ==, 3);
    g_assert_cmpuint(matched_line(&f, m, 2), ==, 1);
    g_assert_cmpuint(matched_line(&f, m, 3), ==, 5);
    g_assert_cmpuint(matched_line(&f, m, 4), ==, 6);
    g_assert_cmpuint(matched_line(&f, m, 5), ==, 4);
    finish(m, &f);
    g_string_free(log, TRUE);
}

/* Under load a peer's lines are interchangeable by time: hundreds a second,
 * whole seconds, written 5 h 3 s ahead. A clock off by most of a second
 * still pairs about as many RSTs with a neighbour's line; the lines quoting
 * their RST's request find the clock, and every RST its own line. */
static void test_load_clock_from_requests(void)
{
    const int64_t zone = 5 * 3600 * S, skew = 3 * S;
    enum { RSTS = 1500 };
    static char requests[RSTS][24];
    GString *log = g_string_new(NULL);
    int64_t t = base_utc, times[RSTS];
    for (guint i = 0; i < RSTS; i++) {
        t += 1000 + (int64_t)(i * 7919 % 5000);   /* 1 to 6 ms apart */
        times[i] = t;
        g_snprintf(requests[i], sizeof requests[i], "GET /r/%u", i);
        add_request_line(log, t + 300, zone, skew, "upstream", "198.18.101.2:8080", requests[i]);
    }
    fixture f;
    fixture_load(&f, log);
    log_match_settings settings = { .zone_mode = LOG_ZONE_AUTO };
    log_matcher *m = log_matcher_new(f.index, &settings);
    for (guint i = 0; i < RSTS; i++) {
        log_rst_event ev = rst(i, times[i], "198.18.101.2", 8080, LOG_SENDER_SERVER);
        ev.request = requests[i];
        log_matcher_add(m, &ev);
    }
    for (guint i = 0; i < RSTS; i++)
        g_assert_cmpuint(matched_line(&f, m, i), ==, i + 1);
    log_clock clock;
    log_matcher_clock(m, &clock);
    g_assert_cmpuint(clock.pairs, ==, RSTS);
    g_assert_false(clock.close_call);
    g_assert_cmpint(clock.offset_us - zone - skew, >=, -PROMPT_MARGIN_US);
    g_assert_cmpint(clock.offset_us - zone - skew, <=, 0);
    finish(m, &f);
    g_string_free(log, TRUE);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/match/auto-zone-and-skew", test_auto_zone_and_skew);
    g_test_add_func("/match/leg-and-port", test_leg_and_port_must_agree);
    g_test_add_func("/match/one-line-per-stream", test_one_line_per_stream_and_stream_reuse);
    g_test_add_func("/match/unrelated", test_unrelated_rst_and_time_window);
    g_test_add_func("/match/explicit-clock", test_explicit_zone_and_skew);
    g_test_add_func("/match/dense-log-one-clock", test_dense_log_one_clock);
    g_test_add_func("/match/close-call", test_close_call_takes_smaller_skew);
    g_test_add_func("/match/asked-each-time-as-at-the-end", test_asked_after_each_rst_as_at_the_end);
    g_test_add_func("/match/later-rst-takes-a-late-pairs-line", test_later_rst_takes_a_late_pairs_line);
    g_test_add_func("/match/each-rst-as-if-all-were-paired-again", test_each_rst_as_if_all_were_paired_again);
    g_test_add_func("/match/request-read", test_request_read);
    g_test_add_func("/match/request-names-the-connection", test_request_names_the_connection);
    g_test_add_func("/match/load-clock-from-requests", test_load_clock_from_requests);
    return g_test_run();
}
