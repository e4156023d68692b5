/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for log_text.c: the message and the upstream of real lines of
 * each format (tests/fixtures/logs and tests/captures/nginx). */
#include <glib.h>
#include <string.h>

#include "log_text.h"

typedef struct {
    log_format format;
    const char *line;
    const char *message;
    const char *upstream;   /* NULL: none */
} text_case;

static const text_case cases[] = {
    { LOG_FORMAT_NGINX,
      "2026/11/24 07:14:42 [info] 4064#4064: *1 recv() failed (104: Connection reset by peer) while sending to "
      "client, client: 198.18.100.1, server: rstdiag.test, request: \"POST /notify_url.htm?id=0 HTTP/1.1\", "
      "upstream: \"http://198.18.101.2:8080/notify_url.htm?id=0\", host: \"rstdiag.test\"",
      "recv() failed (104: Connection reset by peer) while sending to client",
      "http://198.18.101.2:8080/notify_url.htm?id=0" },
    { LOG_FORMAT_NGINX,
      "2026/11/24 07:14:41 [notice] 4063#4063: start worker processes",
      "start worker processes", NULL },
    { LOG_FORMAT_APACHE,
      "[Mon Nov 16 08:47:17.000001 2020] [proxy_http:error] [pid 164:tid 140137686042368] (104)Connection reset "
      "by peer: [client 10.33.206.158:27452] AH01102: error reading status line from remote server 198.18.101.2:8080",
      "(104)Connection reset by peer: AH01102: error reading status line from remote server 198.18.101.2:8080",
      "198.18.101.2:8080" },
    { LOG_FORMAT_APACHE,
      "[Mon Nov 16 08:47:18.250000 2020] [proxy_http:error] [pid 164:tid 140137686042368] (104)Connection reset "
      "by peer: [remote 198.18.101.2:8080] AH01110: Network error reading response",
      "(104)Connection reset by peer: AH01110: Network error reading response", "198.18.101.2:8080" },
    { LOG_FORMAT_HAPROXY,
      "Feb  6 12:14:15 localhost haproxy[14389]: 10.0.1.3:33318 [06/Feb/2009:12:14:15.001] http-in static/srv1 "
      "10/0/30/-1/45 -1 0 - - SH-- 1/1/1/1/0 0/0 \"GET /slow HTTP/1.1\"",
      "10.0.1.3:33318 [06/Feb/2009:12:14:15.001] http-in static/srv1 10/0/30/-1/45 -1 0 - - SH-- 1/1/1/1/0 0/0 "
      "\"GET /slow HTTP/1.1\"",
      "static/srv1" },
    { LOG_FORMAT_ENVOY,
      "[2016-04-15T20:17:01.000Z] \"GET /api/v1/orders HTTP/1.1\" 503 UC 0 95 12 - \"10.0.35.29\" \"curl/8.0\" "
      "\"0d1b4a7e\" \"orders\" \"10.0.2.7:8080\"",
      "\"GET /api/v1/orders HTTP/1.1\" 503 UC 0 95 12 - \"10.0.35.29\" \"curl/8.0\" \"0d1b4a7e\" \"orders\" "
      "\"10.0.2.7:8080\"",
      "10.0.2.7:8080" },
    { LOG_FORMAT_GENERIC,
      "Mar  5 10:11:16 host app[12]: curl: (56) Recv failure: Connection reset by peer",
      "curl: (56) Recv failure: Connection reset by peer", NULL },
    { LOG_FORMAT_GENERIC,
      "2024-03-05 10:11:14 ERROR ConnectionResetError: [Errno 104] Connection reset by peer",
      "ERROR ConnectionResetError: [Errno 104] Connection reset by peer", NULL },
    { LOG_FORMAT_GENERIC,
      "2024-03-05T10:11:17Z write tcp [fd00::1]:40000->[fd00::2]:443: write: broken pipe",
      "write tcp [fd00::1]:40000->[fd00::2]:443: write: broken pipe", NULL },
    { LOG_FORMAT_GENERIC, "connection reset", "connection reset", NULL },
};

static void test_cases(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        const text_case *c = &cases[i];
        char *message = log_text_message(c->line, c->format);
        char *upstream = log_text_upstream(c->line, c->format);
        g_assert_cmpstr(message, ==, c->message);
        g_assert_cmpstr(upstream, ==, c->upstream);
        g_free(message);
        g_free(upstream);
    }
}

/* A line that ends where a field would start gives no field, and no read past its end. */
static void test_cut_lines(void)
{
    const text_case *nginx = &cases[0];
    for (size_t len = 0; len <= strlen(nginx->line); len++) {
        char *line = g_strndup(nginx->line, len);
        for (int format = 0; format < LOG_FORMAT_COUNT; format++) {
            char *message = log_text_message(line, (log_format)format);
            g_assert_nonnull(message);
            g_assert_cmpuint(strlen(message), <=, len);
            g_free(message);
            g_free(log_text_upstream(line, (log_format)format));
        }
        g_free(line);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/log_text/cases", test_cases);
    g_test_add_func("/log_text/cut_lines", test_cut_lines);
    return g_test_run();
}
