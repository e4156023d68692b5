/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for log_index.c (and the census of log_match.c): one line of each documented format, the
 * fields taken from it, and lines that must not count as resets. */
#include <glib.h>
#include <glib/gstdio.h>
#include <arpa/inet.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "log_index.h"
#include "log_match.h"
#include "log_scan.h"

static GPtrArray *parsed_strings;   /* what parse() hands out, freed at the end */

static log_entry parse(const char *line)
{
    log_entry e;
    g_assert_true(log_parse_line(line, strlen(line), LOG_FORMAT_AUTO, &e));
    g_ptr_array_add(parsed_strings, e.request);
    return e;
}

static void assert_not_reset(const char *line)
{
    log_entry e;
    g_assert_false(log_parse_line(line, strlen(line), LOG_FORMAT_AUTO, &e));
}

static void assert_addr(const log_entry *e, const char *text, uint16_t port)
{
    uint8_t want[16] = { 0 };
    int family = strchr(text, ':') ? 6 : 4;
    g_assert_cmpint(inet_pton(family == 6 ? AF_INET6 : AF_INET, text, want), ==, 1);
    g_assert_cmpint(e->family, ==, family);
    g_assert_cmpmem(e->addr, family == 6 ? 16 : 4, want, family == 6 ? 16 : 4);
    g_assert_cmpuint(e->port, ==, port);
}

static void test_nginx_client_leg(void)
{
    log_entry e = parse("2015/12/01 15:49:48 [info] 20521#0: *55077498 recv() failed (104: Connection reset "
        "by peer) while sending to client, client: 10.255.252.31, server: manager.example.com, request: "
        "\"POST /WebPageAlipay/weixin/notify_url.htm HTTP/1.1\", upstream: \"http:/10.4.36.207:8080/"
        "WebPageAlipay/weixin/notify_url.htm\", host: \"manager.example.com\"");
    g_assert_cmpint(e.format, ==, LOG_FORMAT_NGINX);
    g_assert_cmpint(e.leg, ==, LOG_LEG_CLIENT);
    assert_addr(&e, "10.255.252.31", 0);
    g_assert_cmpint(e.time_us, ==, log_civil_to_us(2015, 12, 1, 15, 49, 48));
    g_assert_cmpuint(e.resolution_us, ==, 1000000);
    g_assert_false(e.has_zone);
    g_assert_cmpint(e.error_number, ==, 104);
    g_assert_cmpstr(e.level, ==, "info");
    g_assert_cmpstr(e.request, ==, "POST /WebPageAlipay/weixin/notify_url.htm HTTP/1.1");
}

static void test_nginx_upstream_leg(void)
{
    log_entry e = parse("2012/02/12 09:03:31 [error] 16939#0: *491 recv() failed (104: Connection reset by "
        "peer) while reading response header from upstream, client: 127.0.0.1, server: diana, request: "
        "\"GET /timeline HTTP/1.1\", upstream: \"http://198.18.101.2:8080/timeline\", host: \"diana\"");
    g_assert_cmpint(e.leg, ==, LOG_LEG_UPSTREAM);
    assert_addr(&e, "198.18.101.2", 8080);
}

static void test_nginx_ipv6_upstream(void)
{
    log_entry e = parse("2024/05/01 10:00:00 [error] 1#1: *2 connect() failed (111: Connection refused) "
        "while connecting to upstream, client: fd00::1, server: _, request: \"GET / HTTP/1.1\", upstream: "
        "\"http://[fd00::2]:8080/\", host: \"x\"");
    g_assert_cmpint(e.leg, ==, LOG_LEG_UPSTREAM);
    assert_addr(&e, "fd00::2", 8080);
    g_assert_cmpint(e.error_number, ==, 111);
}

static void test_nginx_keepalive_and_client_abort(void)
{
    log_entry e = parse("2026/11/24 07:14:41 [info] 52#52: *9 client 198.18.100.1 closed keepalive "
                        "connection (104: Connection reset by peer)");
    g_assert_cmpint(e.leg, ==, LOG_LEG_CLIENT);
    assert_addr(&e, "198.18.100.1", 0);
    g_assert_true(e.reports_rst);
    e = parse("2026/11/24 07:14:42 [info] 52#52: *13 epoll_wait() reported that client prematurely closed "
              "connection, so upstream connection is closed too (104: Connection reset by peer) while sending "
              "request to upstream, client: 198.18.100.1, server: x, request: \"GET /a HTTP/1.1\", upstream: "
              "\"http://198.18.101.2:8080/a\", host: \"x\"");
    g_assert_cmpint(e.leg, ==, LOG_LEG_CLIENT);   /* the client reset, whatever nginx was doing */
    assert_addr(&e, "198.18.100.1", 0);
    g_assert_cmpint(e.error_number, ==, 104);
}

static void test_nginx_fin_close_is_context_only(void)
{
    log_entry e = parse("2026/11/24 07:14:50 [error] 52#52: *28 upstream prematurely closed connection while "
                        "reading response header from upstream, client: 198.18.100.1, server: x, request: "
                        "\"GET /b HTTP/1.1\", upstream: \"http://198.18.101.2:8080/b\", host: \"x\"");
    g_assert_cmpint(e.leg, ==, LOG_LEG_UPSTREAM);
    g_assert_false(e.reports_rst);
}

static void test_nginx_other_lines_are_not_resets(void)
{
    assert_not_reset("2024/05/01 10:00:00 [error] 1#1: *2 open() \"/srv/x\" failed (2: No such file or "
        "directory), client: 198.18.0.1, server: _, request: \"GET /x HTTP/1.1\"");
    assert_not_reset("2024/05/01 10:00:00 [notice] 1#1: start worker processes");
}

static void test_apache_24(void)
{
    log_entry e = parse("[Mon Nov 16 08:47:16.133532 2020] [proxy_fcgi:error] [pid 164:tid 140137686042368] "
        "(104)Connection reset by peer: [client 10.33.206.158:27451] AH01075: Error dispatching request to :");
    g_assert_cmpint(e.format, ==, LOG_FORMAT_APACHE);
    g_assert_cmpint(e.leg, ==, LOG_LEG_UPSTREAM);
    g_assert_cmpint(e.time_us, ==, log_civil_to_us(2020, 11, 16, 8, 47, 16) + 133532);
    g_assert_cmpuint(e.resolution_us, ==, 1);
    g_assert_cmpint(e.error_number, ==, 104);
    g_assert_cmpstr(e.level, ==, "error");
}

static void test_apache_22_client(void)
{
    log_entry e = parse("[Sun Mar 07 16:05:49 2004] [info] [client 1.2.3.4] (104)Connection reset by peer: "
        "client stopped connection before send body completed");
    g_assert_cmpint(e.leg, ==, LOG_LEG_CLIENT);
    assert_addr(&e, "1.2.3.4", 0);
}

static void test_haproxy_http_server_abort(void)
{
    log_entry e = parse("Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] "
        "http-in static/srv1 10/0/30/69/109 502 2750 - - SD-- 1/1/1/1/0 0/0 {1wt.eu} {} \"GET /index.html HTTP/1.1\"");
    g_assert_cmpint(e.format, ==, LOG_FORMAT_HAPROXY);
    g_assert_cmpint(e.leg, ==, LOG_LEG_UPSTREAM);
    g_assert_cmpint(e.family, ==, 0);
    /* accept date plus the 109 ms total time */
    g_assert_cmpint(e.time_us, ==, log_civil_to_us(2009, 2, 6, 12, 14, 14) + 655000 + 109000);
    g_assert_cmpuint(e.resolution_us, ==, 1000);
    g_assert_cmpstr(e.request, ==, "GET /index.html HTTP/1.1");
}

static void test_haproxy_tcp_client_abort(void)
{
    log_entry e = parse("haproxy[14387]: 10.0.1.2:33313 [06/Feb/2009:12:12:51.443] fnt bck/srv1 0/0/5007 212 CD 0/0/0/0/3 0/0");
    g_assert_cmpint(e.leg, ==, LOG_LEG_CLIENT);
    assert_addr(&e, "10.0.1.2", 33313);
}

static void test_haproxy_normal_close_is_not_a_reset(void)
{
    assert_not_reset("haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 "
        "10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} \"GET /index.html HTTP/1.1\"");
    assert_not_reset("haproxy[18989]: 10.0.0.1:34552 [15/Oct/2003:15:26:31.462] px-http px-http/srv1 "
        "3183/-1/-1/-1/11215 503 0 - - cD-- 205/202/202/115/3 0/0 \"HEAD / HTTP/1.0\"");
}

static void test_envoy_upstream_reset(void)
{
    log_entry e = parse("[2016-04-15T20:17:00.310Z] \"POST /api/v1/locations HTTP/2\" 503 UC 154 0 226 - "
        "\"10.0.35.28\" \"nsq2http\" \"cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2\" \"locations\" \"tcp://10.0.2.1:80\"");
    g_assert_cmpint(e.format, ==, LOG_FORMAT_ENVOY);
    g_assert_true(e.has_zone);
    g_assert_cmpint(e.leg, ==, LOG_LEG_UPSTREAM);
    assert_addr(&e, "10.0.2.1", 80);
    g_assert_cmpint(e.time_us, ==, log_civil_to_us(2016, 4, 15, 20, 17, 0) + 310000 + 226000);
    g_assert_cmpstr(e.request, ==, "POST /api/v1/locations HTTP/2");
}

static void test_envoy_without_reset_flags(void)
{
    assert_not_reset("[2016-04-15T20:17:00.310Z] \"POST /api/v1/locations HTTP/2\" 204 - 154 0 226 100 "
        "\"10.0.35.28\" \"nsq2http\" \"cc21d9b0\" \"locations\" \"tcp://10.0.2.1:80\"");
}

static void test_generic_go(void)
{
    log_entry e = parse("2024-03-05T10:11:12.345678+01:00 level=error msg=\"read tcp 198.18.0.1:5555->"
        "198.18.0.2:80: read: connection reset by peer\"");
    g_assert_cmpint(e.format, ==, LOG_FORMAT_GENERIC);
    g_assert_true(e.has_zone);
    g_assert_cmpint(e.time_us, ==, log_civil_to_us(2024, 3, 5, 9, 11, 12) + 345678);
    assert_addr(&e, "198.18.0.2", 80);
}

static void test_generic_java_python_node_curl(void)
{
    log_entry e = parse("2024-03-05 10:11:12,345 ERROR [main] java.net.SocketException: Connection reset");
    g_assert_cmpint(e.family, ==, 0);
    g_assert_cmpuint(e.resolution_us, ==, 1000);
    e = parse("2024-03-05 10:11:12 ConnectionResetError: [Errno 104] Connection reset by peer");
    g_assert_cmpint(e.error_number, ==, 104);
    e = parse("2024-03-05T10:11:12Z Error: connect ECONNRESET 198.18.0.2:443");
    assert_addr(&e, "198.18.0.2", 443);
    e = parse("Mar  5 10:11:12 host app[12]: curl: (56) Recv failure: Connection reset by peer");
    g_assert_false(e.has_year);
    assert_not_reset("2024-03-05 10:11:12 INFO connection established to 198.18.0.2:443");
}

static void test_hostile_lines(void)
{
    log_entry e;
    const char *fmt = "2024/05/01 10:00:00 [info] 1#1: *2 recv() failed (104: Connection reset by peer) "
        "while sending to client, client: %s%n%x, server: _";
    g_assert_true(log_parse_line(fmt, strlen(fmt), LOG_FORMAT_AUTO, &e));
    g_assert_cmpint(e.family, ==, 0);
    const char *bad_time = "2024/13/45 25:61:00 [info] 1#1: *2 recv() failed (104: Connection reset by peer)";
    g_assert_false(log_parse_line(bad_time, strlen(bad_time), LOG_FORMAT_NGINX, &e));
}

static char *write_file(const char *name, const char *content, gsize len)
{
    char *path = g_build_filename(g_get_tmp_dir(), name, NULL);
    g_assert_true(g_file_set_contents(path, content, (gssize)len, NULL));
    return path;
}

static void test_load_sorts_and_counts(void)
{
    const char *content =
        "2024/05/01 10:00:05 [info] 1#1: *3 recv() failed (104: Connection reset by peer) while sending to client, client: 198.18.0.9, server: _\r\n"
        "2024/05/01 10:00:00 [notice] 1#1: start worker processes\n"
        "garbage \xff\xfe with a reset word but no time: Connection reset by peer\n"
        "2024/05/01 10:00:01 [info] 1#1: *2 recv() failed (104: Connection reset by peer) while sending to client, client: 198.18.0.8, server: _";
    char *path = write_file("rstdiag-test.log", content, strlen(content));
    char *error = NULL;
    log_index *index = log_index_load(path, LOG_FORMAT_AUTO, &error);
    g_assert_null(error);
    g_assert_nonnull(index);
    g_assert_cmpuint(index->lines_read, ==, 4);
    g_assert_cmpuint(index->entries->len, ==, 2);
    g_assert_cmpuint(index->lines_unparsed, ==, 1);
    g_assert_cmpuint(index->first_unparsed, ==, 3);
    const log_entry *first = &g_array_index(index->entries, log_entry, 0);
    g_assert_cmpuint(first->lineno, ==, 4);   /* sorted by time, not by line */
    g_assert_null(strchr(g_array_index(index->entries, log_entry, 1).text, '\r'));
    g_assert_cmpuint(log_index_lower_bound(index, log_civil_to_us(2024, 5, 1, 10, 0, 2)), ==, 1);
    log_index_free(index);
    g_remove(path);
    g_free(path);
}

static void test_load_errors(void)
{
    char *error = NULL;
    g_assert_null(log_index_load("/nonexistent/rstdiag.log", LOG_FORMAT_AUTO, &error));
    g_assert_nonnull(strstr(error, "No such file"));
    g_clear_pointer(&error, g_free);

    g_assert_null(log_index_load(g_get_tmp_dir(), LOG_FORMAT_AUTO, &error));
    g_assert_nonnull(strstr(error, "directory"));
    g_clear_pointer(&error, g_free);

    char *empty = write_file("rstdiag-empty.log", "", 0);
    g_assert_null(log_index_load(empty, LOG_FORMAT_AUTO, &error));
    g_assert_nonnull(strstr(error, "empty"));
    g_clear_pointer(&error, g_free);

    char *binary = write_file("rstdiag-binary.log", "\x7f" "ELF\0\0\0\1\2\3", 10);
    g_assert_null(log_index_load(binary, LOG_FORMAT_AUTO, &error));
    g_assert_nonnull(strstr(error, "not text"));
    g_clear_pointer(&error, g_free);
    g_remove(empty);
    g_remove(binary);
    g_free(empty);
    g_free(binary);
}

static void test_long_line_is_cut_not_fatal(void)
{
    GString *s = g_string_new("2024/05/01 10:00:00 [info] 1#1: *2 recv() failed (104: Connection reset by "
                              "peer) while sending to client, client: 198.18.0.7, server: ");
    for (int i = 0; i < 200000; i++)
        g_string_append_c(s, 'x');
    g_string_append(s, "\n2024/05/01 10:00:01 [info] 1#1: *3 recv() failed (104: Connection reset by peer) "
                       "while sending to client, client: 198.18.0.6, server: _\n");
    char *path = write_file("rstdiag-long.log", s->str, s->len);
    char *error = NULL;
    log_index *index = log_index_load(path, LOG_FORMAT_AUTO, &error);
    g_assert_nonnull(index);
    g_assert_cmpuint(index->lines_read, ==, 2);
    g_assert_cmpuint(index->lines_cut, ==, 1);
    g_assert_cmpuint(index->entries->len, ==, 2);
    g_assert_cmpuint(strlen(g_array_index(index->entries, log_entry, 0).text), <=, LOG_LINE_MAX);
    log_index_free(index);
    g_remove(path);
    g_free(path);
    g_string_free(s, TRUE);
}

/* A hole of NUL bytes after the first 4 KB (what copytruncate leaves behind):
 * the lines before it are kept, reading stops there. */
static void test_nul_bytes_stop_reading(void)
{
    GString *s = g_string_new("2024/05/01 10:00:00 [info] 1#1: *2 recv() failed (104: Connection reset by "
                              "peer) while sending to client, client: 198.18.0.7, server: _\n");
    while (s->len < 8192)
        g_string_append(s, "2024/05/01 10:00:00 [notice] 1#1: start worker processes\n");
    guint lines = 0;
    for (gsize i = 0; i < s->len; i++)
        lines += s->str[i] == '\n';
    gsize text_len = s->len;
    g_string_set_size(s, text_len + 1000000);
    memset(s->str + text_len, 0, 1000000);   /* set_size leaves the new bytes undefined */
    char *path = write_file("rstdiag-hole.log", s->str, s->len);
    char *error = NULL;
    log_index *index = log_index_load(path, LOG_FORMAT_AUTO, &error);
    g_assert_null(error);
    g_assert_nonnull(index);
    g_assert_cmpuint(index->entries->len, ==, 1);
    g_assert_cmpuint(index->lines_read, ==, lines);
    g_assert_cmpuint(index->stop_line, ==, lines + 1);
    g_assert_nonnull(strstr(index->stop_reason, "NUL"));
    log_index_free(index);
    g_remove(path);
    g_free(path);
    g_string_free(s, TRUE);
}


#define RESET_LINE(time, client) time " [info] 1#1: *2 recv() failed (104: Connection reset by peer) " \
    "while sending to client, client: " client ", server: _\n"

/* A pipe cannot be rewound: the bytes read to sniff the format are the
 * start of the text, not lost. */
static void test_pipe_loses_nothing(void)
{
    GString *s = g_string_new(NULL);
    while (s->len < 10000)
        g_string_append(s, RESET_LINE("2024/05/01 10:00:00", "198.18.0.7"));
    int fds[2];
    g_assert_cmpint(pipe(fds), ==, 0);
    g_assert_cmpint(write(fds[1], s->str, s->len), ==, (gssize)s->len);   /* within the pipe's buffer */
    close(fds[1]);
    char *path = g_strdup_printf("/dev/fd/%d", fds[0]);
    char *error = NULL;
    log_index *index = log_index_load(path, LOG_FORMAT_AUTO, &error);
    g_assert_null(error);
    g_assert_cmpuint(index->lines_read * strlen(RESET_LINE("2024/05/01 10:00:00", "198.18.0.7")), ==, s->len);
    g_assert_cmpuint(index->entries->len, ==, index->lines_read);
    g_assert_null(index->stop_reason);
    log_index_free(index);
    close(fds[0]);
    g_free(path);
    g_string_free(s, TRUE);
}

static GByteArray *gzip_bytes(const char *text)
{
    z_stream z = { 0 };
    GByteArray *out = g_byte_array_sized_new((guint)strlen(text) + 64);
    g_byte_array_set_size(out, (guint)strlen(text) + 64);
    g_assert_cmpint(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), ==, Z_OK);
    z.next_in = (Bytef *)text;
    z.avail_in = (uInt)strlen(text);
    z.next_out = out->data;
    z.avail_out = out->len;
    g_assert_cmpint(deflate(&z, Z_FINISH), ==, Z_STREAM_END);
    g_byte_array_set_size(out, (guint)z.total_out);
    deflateEnd(&z);
    return out;
}

/* Two gzip members, the second damaged in its first block header: the first
 * member's lines are kept and the stop says where. */
static void test_gzip_members_and_damage(void)
{
    GByteArray *first = gzip_bytes(RESET_LINE("2024/05/01 10:00:00", "198.18.0.7")
                                   RESET_LINE("2024/05/01 10:00:01", "198.18.0.8"));
    GByteArray *second = gzip_bytes(RESET_LINE("2024/05/01 10:00:02", "198.18.0.9"));
    GByteArray *both = g_byte_array_new();
    g_byte_array_append(both, first->data, first->len);
    g_byte_array_append(both, second->data, second->len);
    char *path = write_file("rstdiag-two.log.gz", (const char *)both->data, both->len);
    char *error = NULL;
    log_index *index = log_index_load(path, LOG_FORMAT_AUTO, &error);
    g_assert_cmpuint(index->entries->len, ==, 3);
    g_assert_null(index->stop_reason);
    log_index_free(index);

    both->data[first->len + 10] = 0xff;   /* block type 3: invalid */
    g_assert_true(g_file_set_contents(path, (const char *)both->data, both->len, NULL));
    index = log_index_load(path, LOG_FORMAT_AUTO, &error);
    g_assert_null(error);
    g_assert_cmpuint(index->entries->len, ==, 2);
    g_assert_cmpuint(index->stop_line, ==, 3);
    g_assert_nonnull(strstr(index->stop_reason, "gzip data damaged"));
    log_index_free(index);
    g_remove(path);
    g_free(path);
    g_byte_array_free(first, TRUE);
    g_byte_array_free(second, TRUE);
    g_byte_array_free(both, TRUE);
}

/* A reset far into a long line is found; past LOG_SCAN_MAX it is not, and
 * the line is counted as not searched whole. */
static void test_long_lines_searched_whole(void)
{
    for (gsize filler = 100000; filler <= (gsize)LOG_SCAN_MAX; filler += LOG_SCAN_MAX - 100000) {
        GString *s = g_string_new("2024/05/01 10:00:00 [info] 1#1: *2 ");
        for (gsize i = 0; i < filler; i++)
            g_string_append_c(s, 'x');
        g_string_append(s, " recv() failed (104: Connection reset by peer) while sending to client, client: "
                           "198.18.0.7, server: _\n" RESET_LINE("2024/05/01 10:00:01", "198.18.0.8"));
        char *path = write_file("rstdiag-far.log", s->str, s->len);
        char *error = NULL;
        log_index *index = log_index_load(path, LOG_FORMAT_AUTO, &error);
        gboolean searched_whole = filler < (gsize)LOG_SCAN_MAX;
        g_assert_cmpuint(index->lines_read, ==, 2);
        g_assert_cmpuint(index->entries->len, ==, searched_whole ? 2 : 1);
        g_assert_cmpuint(index->lines_unscanned, ==, !searched_whole);
        g_assert_cmpuint(index->first_unscanned, ==, !searched_whole);
        log_index_free(index);
        g_remove(path);
        g_free(path);
        g_string_free(s, TRUE);
    }
}

/* Lines placed against a capture from 10:00:00 to 10:01:00 UTC, the log in
 * UTC: one matched, two inside with no RST, two outside (one just beyond the
 * window). */
static void test_census(void)
{
    const char *content =
        RESET_LINE("2024/05/01 09:00:00", "198.18.0.1")
        RESET_LINE("2024/05/01 10:00:10", "198.18.0.2")
        RESET_LINE("2024/05/01 10:00:30", "198.18.0.3")
        RESET_LINE("2024/05/01 10:00:59", "198.18.0.4")
        RESET_LINE("2024/05/01 10:01:02", "198.18.0.5");
    char *path = write_file("rstdiag-census.log", content, strlen(content));
    char *error = NULL;
    log_index *index = log_index_load(path, LOG_FORMAT_AUTO, &error);
    log_match_settings settings;
    g_assert_true(log_match_settings_parse("UTC", "0", "", &settings, &error));
    log_matcher *m = log_matcher_new(index, &settings);
    int64_t first = log_civil_to_us(2024, 5, 1, 10, 0, 0), last = log_civil_to_us(2024, 5, 1, 10, 1, 0);
    log_rst_event ev = { .stream = 0, .time_us = log_civil_to_us(2024, 5, 1, 10, 0, 30) + 200000,
                         .sender = { .family = 4, .addr = { 198, 18, 0, 3 } }, .role = LOG_SENDER_CLIENT };
    log_match_result result;
    g_assert_true(log_matcher_result(m, log_matcher_add(m, &ev), &result));
    log_census c;
    log_matcher_census(m, first, last, &c);
    g_assert_true(c.offset_known);
    g_assert_cmpuint(c.explained, ==, 1);
    g_assert_cmpuint(c.inside, ==, 2);
    g_assert_cmpuint(c.outside, ==, 2);
    g_assert_cmpuint(c.listed, ==, 2);
    g_assert_cmpuint(c.listed_lineno[0], ==, 2);
    g_assert_cmpuint(c.listed_lineno[1], ==, 4);
    log_matcher_free(m);
    log_index_free(index);
    g_remove(path);
    g_free(path);
}

/* "a.b.c.d:port", "[v6]:port", without ":port" when the log gave none, "-" without an address */
static char *peer_text(const log_entry *e)
{
    char addr[64];
    if (e->family == 0)
        return g_strdup("-");
    inet_ntop(e->family == 6 ? AF_INET6 : AF_INET, e->addr, addr, sizeof addr);
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, e->family == 6 ? "[%s]" : "%s", addr);
    if (e->port)
        g_string_append_printf(s, ":%u", e->port);
    return g_string_free(s, FALSE);
}

/* Every fixture line listed in expected.tsv is kept with its format, leg and
 * peer; no other line is kept. */
static void test_fixtures(void)
{
    const char *dir = RSTDIAG_FIXTURES "/logs";
    char *table_path = g_build_filename(dir, "expected.tsv", NULL);
    char *table = NULL;
    g_assert_true(g_file_get_contents(table_path, &table, NULL, NULL));
    char **rows = g_strsplit(table, "\n", -1);
    GHashTable *expected_per_file = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint r = 1; rows[r] && *rows[r]; r++) {
        char **col = g_strsplit(rows[r], "\t", -1);
        g_assert_cmpuint(g_strv_length(col), ==, 6);
        guint count = GPOINTER_TO_UINT(g_hash_table_lookup(expected_per_file, col[0]));
        g_hash_table_replace(expected_per_file, g_strdup(col[0]), GUINT_TO_POINTER(count + 1));

        char *path = g_build_filename(dir, col[0], NULL);
        char *error = NULL;
        log_index *index = log_index_load(path, LOG_FORMAT_AUTO, &error);
        g_assert_null(error);
        const log_entry *found = NULL;
        for (guint i = 0; i < index->entries->len; i++) {
            const log_entry *e = &g_array_index(index->entries, log_entry, i);
            if (e->lineno == (guint)g_ascii_strtoull(col[1], NULL, 10))
                found = e;
        }
        if (!found)
            g_error("%s line %s was not kept", col[0], col[1]);
        char *peer = peer_text(found);
        g_assert_cmpstr(log_format_name((log_format)found->format), ==, col[2]);
        g_assert_cmpstr(log_leg_token((log_leg)found->leg), ==, col[3]);
        g_assert_cmpstr(peer, ==, col[4]);
        g_assert_cmpint(found->reports_rst, ==, strcmp(col[5], "yes") == 0);
        g_free(peer);
        log_index_free(index);
        g_free(path);
        g_strfreev(col);
    }
    /* nothing else kept */
    GHashTableIter it;
    gpointer file, count;
    g_hash_table_iter_init(&it, expected_per_file);
    while (g_hash_table_iter_next(&it, &file, &count)) {
        char *path = g_build_filename(dir, (const char *)file, NULL);
        char *error = NULL;
        log_index *index = log_index_load(path, LOG_FORMAT_AUTO, &error);
        g_assert_cmpuint(index->entries->len, ==, GPOINTER_TO_UINT(count));
        log_index_free(index);
        g_free(path);
    }
    g_hash_table_destroy(expected_per_file);
    g_strfreev(rows);
    g_free(table);
    g_free(table_path);
}

/* The scan finds each needle wherever it stands, the block ends and the
 * tail included, and its fast way (AVX2, where the CPU has it) finds the
 * same as the portable one, hit by hit, in text dense with anchor bytes. */
static void test_scan_ways_agree(void)
{
    static const struct { const char *text; log_scan_needle needle; } planted[] = {
        { "reset", LOG_SCAN_RESET }, { "ECONNRESET", LOG_SCAN_RESET_UPPER },
        { "Broken pipe", LOG_SCAN_BROKEN_PIPE }, { "prematurely", LOG_SCAN_PREMATURELY },
        { "refused", LOG_SCAN_REFUSED }, { "haproxy[", LOG_SCAN_HAPROXY_TAG },
        { "] \"", LOG_SCAN_ENVOY_REQUEST }, { "[12/Dec/", LOG_SCAN_HAPROXY_DATE },
    };
    char buf[160];
    for (guint k = 0; k < G_N_ELEMENTS(planted); k++) {
        size_t n = strlen(planted[k].text);
        for (size_t at = 0; at + n <= 100; at++) {
            for (size_t len = at + n; len <= at + n + 40; len += 13) {
                memset(buf, 'x', sizeof buf);
                memcpy(buf + at, planted[k].text, n);
                log_scan_needle fast = LOG_SCAN_NEEDLES, portable = LOG_SCAN_NEEDLES;
                const char *hit = log_scan_next(buf, buf + len, &fast, NULL);
                g_assert_nonnull(hit);
                g_assert_true(hit >= buf + at && hit < buf + at + n);
                g_assert_cmpint(fast, ==, planted[k].needle);
                g_assert_true(log_scan_next_portable(buf, buf + len, &portable, NULL) == hit);
                g_assert_cmpint(portable, ==, fast);
                g_assert_null(log_scan_next(buf, buf + at + n - 1, &fast, NULL));   /* cut: not whole */
            }
        }
    }
    static const char alphabet[] = "eEsStTkoOmaufyrR[]\"/ .-pix\n";
    static const char *const pieces[] = { "eset", "ESET", "roken pipe", "rematurely", "refused", "haproxy[",
                                          "] \"", "[01/Jan/", "ese", "ES", "roke", "] ", "[0" };
    GRand *rand = g_rand_new_with_seed(20261201);
    guint hits = 0;
    for (int round = 0; round < 2000; round++) {
        int len = g_rand_int_range(rand, 0, (gint32)sizeof buf);
        for (int i = 0; i < len;) {
            if (g_rand_int_range(rand, 0, 8) == 0) {
                const char *piece = pieces[g_rand_int_range(rand, 0, G_N_ELEMENTS(pieces))];
                for (size_t j = 0; piece[j] && i < len; j++)
                    buf[i++] = piece[j];
            } else {
                buf[i++] = alphabet[g_rand_int_range(rand, 0, (gint32)sizeof alphabet - 1)];
            }
        }
        const char *fast_at = buf, *portable_at = buf, *end = buf + len;
        for (int step = 0; step < len + 1; step++) {   /* as the index goes on after each hit */
            log_scan_needle fast = LOG_SCAN_NEEDLES, portable = LOG_SCAN_NEEDLES;
            size_t fast_lines = 0, portable_lines = 0, lines = 0;
            const char *from = fast_at;
            fast_at = log_scan_next(fast_at, end, &fast, &fast_lines);
            portable_at = log_scan_next_portable(portable_at, end, &portable, &portable_lines);
            g_assert_true(fast_at == portable_at);
            for (const char *c = from; c < (fast_at ? fast_at : end); c++)
                lines += *c == '\n';
            g_assert_cmpuint(fast_lines, ==, lines);
            g_assert_cmpuint(portable_lines, ==, lines);
            if (!fast_at)
                break;
            g_assert_cmpint(fast, ==, portable);
            hits++;
            fast_at++, portable_at++;
        }
    }
    g_assert_cmpuint(hits, >, 1000);
    g_rand_free(rand);

    /* counts past what a byte per position holds (255 blocks of newlines) */
    size_t long_len = 20000;
    char *text = g_malloc(long_len);
    memset(text, '\n', long_len);
    for (int planted_reset = 0; planted_reset < 2; planted_reset++) {
        if (planted_reset)
            memcpy(text + 19000, "reset", 5);
        size_t fast_lines = 0, portable_lines = 0;
        log_scan_needle fast, portable;
        const char *fast_at = log_scan_next(text, text + long_len, &fast, &fast_lines);
        const char *portable_at = log_scan_next_portable(text, text + long_len, &portable, &portable_lines);
        g_assert_true(fast_at == portable_at);
        g_assert_true(planted_reset ? fast_at != NULL : fast_at == NULL);
        size_t expected = planted_reset ? 19000 : long_len;   /* the newlines before "reset" */
        g_assert_cmpuint(fast_lines, ==, expected);
        g_assert_cmpuint(portable_lines, ==, expected);
    }
    g_free(text);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    parsed_strings = g_ptr_array_new_with_free_func(g_free);
    g_test_add_func("/log/nginx/client-leg", test_nginx_client_leg);
    g_test_add_func("/log/nginx/upstream-leg", test_nginx_upstream_leg);
    g_test_add_func("/log/nginx/ipv6-upstream", test_nginx_ipv6_upstream);
    g_test_add_func("/log/nginx/keepalive-and-client-abort", test_nginx_keepalive_and_client_abort);
    g_test_add_func("/log/nginx/fin-close", test_nginx_fin_close_is_context_only);
    g_test_add_func("/log/nginx/not-resets", test_nginx_other_lines_are_not_resets);
    g_test_add_func("/log/apache/2.4", test_apache_24);
    g_test_add_func("/log/apache/2.2-client", test_apache_22_client);
    g_test_add_func("/log/haproxy/http-server-abort", test_haproxy_http_server_abort);
    g_test_add_func("/log/haproxy/tcp-client-abort", test_haproxy_tcp_client_abort);
    g_test_add_func("/log/haproxy/not-resets", test_haproxy_normal_close_is_not_a_reset);
    g_test_add_func("/log/envoy/upstream-reset", test_envoy_upstream_reset);
    g_test_add_func("/log/envoy/not-resets", test_envoy_without_reset_flags);
    g_test_add_func("/log/generic/go", test_generic_go);
    g_test_add_func("/log/generic/others", test_generic_java_python_node_curl);
    g_test_add_func("/log/hostile", test_hostile_lines);
    g_test_add_func("/log/load/sorted", test_load_sorts_and_counts);
    g_test_add_func("/log/load/errors", test_load_errors);
    g_test_add_func("/log/load/long-line", test_long_line_is_cut_not_fatal);
    g_test_add_func("/log/load/nul-bytes", test_nul_bytes_stop_reading);
    g_test_add_func("/log/load/pipe", test_pipe_loses_nothing);
    g_test_add_func("/log/load/gzip-members-and-damage", test_gzip_members_and_damage);
    g_test_add_func("/log/load/long-lines-searched-whole", test_long_lines_searched_whole);
    g_test_add_func("/log/scan/ways-agree", test_scan_ways_agree);
    g_test_add_func("/log/census", test_census);
    g_test_add_func("/log/fixtures", test_fixtures);
    int result = g_test_run();
    g_ptr_array_free(parsed_strings, TRUE);
    return result;
}
