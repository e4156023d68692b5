/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for rst_keepalive.c (keep-alive races) and rst_timers.c (the
 * idle timer table), through rst_classify() and rst_attribute() as the
 * glue calls them. */
#include "conversation.h"
#include "rst_origin.h"

typedef enum { CROSSED, AFTER_CLOSE, NO_FIN, UNREAD } race_kind;

/* A client that reuses a kept-alive connection after idle_us; the server's
 * idle timer closed it (CROSSED: its FIN crosses the request; AFTER_CLOSE:
 * the client had ACKed the FIN; NO_FIN: it dropped the connection; UNREAD:
 * its application closed as the request arrived). The
 * capture point is near the client. Returns the server's RST. */
static tcp_segment race(conversation *c, idle_timer_table *timers, const char *site, int64_t idle_us,
                        race_kind kind)
{
    char *error = NULL;
    open_connection(c);
    g_assert_true(idle_timers_parse(site, timers, &error));
    c->settings.timers = timers;
    request_response(c, 100, 300);
    uint32_t server_data_end = c->next_seq[SERVER];
    if (kind == AFTER_CLOSE) {
        send(c, SERVER, TCP_FLAG_FIN | TCP_FLAG_ACK, 0, idle_us - 50000);
        send(c, CLIENT, TCP_FLAG_ACK, 0, 200);
        send(c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 120, 50000 - 200);
    } else {
        send(c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 120, idle_us);
        if (kind == CROSSED) {
            /* the FIN left before the request arrived: it acks none of it */
            send_raw(c, SERVER, TCP_FLAG_FIN | TCP_FLAG_ACK, server_data_end, c->next_seq[CLIENT] - 120, 0, 2000);
            c->next_seq[SERVER]++;
            send(c, CLIENT, TCP_FLAG_ACK, 0, 40);
        }
    }
    if (kind == UNREAD)   /* active: RST|ACK at its next sequence number, acking the request */
        return make_segment(c, SERVER, TCP_FLAG_RST | TCP_FLAG_ACK, c->next_seq[SERVER], c->next_seq[CLIENT], 0,
                            300);
    /* passive: seq = the request's ack */
    return make_segment(c, SERVER, TCP_FLAG_RST, kind == CROSSED ? server_data_end : c->next_seq[SERVER], 0, 0,
                        2000);
}

static const rst_diagnosis *classified(conversation *c, tcp_segment rst)
{
    rst_classify(&c->st, &rst, &c->settings, &c->other_streams, &c->diag);
    return &c->diag;
}

static void assert_race(const rst_diagnosis *d, const char *reason, const char *idle_and_timer)
{
    assert_token(rst_cause_token, d->cause, "keepalive-race");
    assert_token(rst_kernel_reason_token, d->kernel_reason, reason);
    if (!strstr(d->evidence, idle_and_timer))
        g_error("evidence \"%s\" lacks \"%s\"", d->evidence, idle_and_timer);
    g_assert_nonnull(strstr(d->evidence, "fix: the client's idle timeout must be shorter than the server's"));
}

/* Application servers' defaults. */
static void test_application_server_timers(void)
{
    conversation c;
    idle_timer_table timers;
    const rst_diagnosis *d = classified(&c, race(&c, &timers, NULL, 5020000, CROSSED));
    assert_race(d, "TCP_ABORT_ON_DATA", "idle 5.02 s before the request: matches Node.js keepAliveTimeout 5 s");
    g_assert_nonnull(strstr(d->evidence, "the client's request crossed the server's idle-close FIN"));
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_HIGH);
    g_assert_cmpint(d->keepalive_idle_us, ==, 5020030);   /* from the response */
    d = classified(&c, race(&c, &timers, NULL, 2050000, AFTER_CLOSE));
    assert_race(d, "TCP_TIMEWAIT_SOCKET", "idle 2.05 s before the request: matches Gunicorn keepalive 2 s");
    g_assert_nonnull(strstr(d->evidence, "the client's request came just after the server's idle-close FIN"));
    d = classified(&c, race(&c, &timers, NULL, 20300000, CROSSED));
    assert_race(d, "TCP_ABORT_ON_DATA", "idle 20.30 s before the request: matches Puma persistent_timeout 20 s");
    d = classified(&c, race(&c, &timers, NULL, 75500000, CROSSED));
    assert_race(d, "TCP_ABORT_ON_DATA", "matches nginx keepalive_timeout 75 s");
}

/* Proxies and L7 load balancers closing their own idle connections. */
static void test_load_balancer_timers(void)
{
    conversation c;
    idle_timer_table timers;
    assert_race(classified(&c, race(&c, &timers, NULL, 60200000, CROSSED)), "TCP_ABORT_ON_DATA",
                "matches AWS ALB idle timeout 60 s");
    assert_race(classified(&c, race(&c, &timers, NULL, 600200000, AFTER_CLOSE)), "TCP_TIMEWAIT_SOCKET",
                "idle 600 s before the request: matches GCP external LB backend keep-alive 600 s");
}

/* The idle_timers preference adds the site's own. */
static void test_site_timer(void)
{
    conversation c;
    idle_timer_table timers;
    assert_race(classified(&c, race(&c, &timers, "upstream-pool=30", 30400000, CROSSED)), "TCP_ABORT_ON_DATA",
                "matches upstream-pool 30 s");
    const rst_diagnosis *d = classified(&c, race(&c, &timers, NULL, 30400000, CROSSED));
    assert_race(d, "TCP_ABORT_ON_DATA", "no known default timer");
}

/* Without a FIN only a known timer tells a race from a restart. */
static void test_no_fin_variant(void)
{
    conversation c;
    idle_timer_table timers;
    const rst_diagnosis *d = classified(&c, race(&c, &timers, NULL, 5100000, NO_FIN));
    assert_race(d, "TCP_FLAGS", "matches Node.js keepAliveTimeout 5 s");
    g_assert_nonnull(strstr(d->evidence, "the server had dropped the idle connection (no FIN)"));
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
    d = classified(&c, race(&c, &timers, NULL, 7500000, NO_FIN));
    assert_token(rst_cause_token, d->cause, "stale-connection");
    /* a device's timer (AWS NLB 350 s) is no endpoint's close */
    d = classified(&c, race(&c, &timers, NULL, 350500000, NO_FIN));
    assert_token(rst_cause_token, d->cause, "stale-connection");
}

/* The request came as the server's application closed: close() found it unread. */
static void test_unread_variant(void)
{
    conversation c;
    idle_timer_table timers;
    const rst_diagnosis *d = classified(&c, race(&c, &timers, NULL, 1990000, UNREAD));
    assert_race(d, "TCP_ABORT_ON_CLOSE", "idle 1.99 s before the request: matches Gunicorn keepalive 2 s");
    g_assert_nonnull(strstr(d->evidence, "the client's request came as the server closed the idle connection, "
                                         "unread"));
    /* without a FIN, the abort after reading the request is as likely */
    g_assert_cmpint(d->confidence, ==, CONFIDENCE_MEDIUM);
    char alt[64];
    rst_cause_alt_tokens(d, alt, sizeof alt);
    g_assert_cmpstr(alt, ==, "abortive-close");
    rst_kernel_reason_alt_tokens(d, alt, sizeof alt);
    g_assert_cmpstr(alt, ==, "TCP_STATE");
    /* no timer matches: nothing shows the request unread, the abort after reading it comes first */
    d = classified(&c, race(&c, &timers, NULL, 3000000, UNREAD));
    assert_token(rst_cause_token, d->cause, "abortive-close");
    rst_cause_alt_tokens(d, alt, sizeof alt);
    g_assert_cmpstr(alt, ==, "unread-data");
}

/* A request right after the response that crosses a FIN is no idle race. */
static void test_busy_connection_is_no_race(void)
{
    conversation c;
    idle_timer_table timers;
    const rst_diagnosis *d = classified(&c, race(&c, &timers, NULL, 300000, CROSSED));
    g_assert_cmpint(d->cause, !=, CAUSE_KEEPALIVE_RACE);
}

/* A client that gave up on its request and closed; the server's answer comes
 * 1.5 s later and the client's closed socket resets it: a late answer, no race
 * (the same shapes with the roles swapped). */
static void test_late_answer_is_no_race(void)
{
    conversation c;
    idle_timer_table timers;
    char *error = NULL;
    open_connection(&c);
    g_assert_true(idle_timers_parse(NULL, &timers, &error));
    c.settings.timers = &timers;
    send(&c, CLIENT, TCP_FLAG_ACK | TCP_FLAG_PSH, 200, 1000);
    send(&c, SERVER, TCP_FLAG_ACK, 0, 200);
    send(&c, CLIENT, TCP_FLAG_FIN | TCP_FLAG_ACK, 0, 300000);
    send(&c, SERVER, TCP_FLAG_ACK, 0, 200);
    send(&c, SERVER, TCP_FLAG_ACK | TCP_FLAG_PSH, 150, 1500000);
    const rst_diagnosis *d = passive_reset(&c, CLIENT, 100);
    g_assert_cmpint(d->cause, !=, CAUSE_KEEPALIVE_RACE);
    assert_token(rst_kernel_reason_token, d->kernel_reason, "TCP_TIMEWAIT_SOCKET");
}

static void test_timer_table(void)
{
    idle_timer_table timers;
    char *error = NULL;
    g_assert_true(idle_timers_parse("edge=900", &timers, &error));
    g_assert_cmpstr(idle_timer_nearest(&timers, 5 * G_USEC_PER_SEC, TIMERS_CLOSING)->name, ==,
                    "Node.js keepAliveTimeout");
    /* seen from the reusing side, the request may precede the close by a round trip */
    g_assert_cmpstr(idle_timer_nearest(&timers, 4900000, TIMERS_CLOSING)->name, ==, "Node.js keepAliveTimeout");
    g_assert_cmpstr(idle_timer_nearest(&timers, 1800000, TIMERS_CLOSING)->name, ==, "Gunicorn keepalive");
    g_assert_null(idle_timer_nearest(&timers, 4400000, TIMERS_CLOSING));
    g_assert_null(idle_timer_nearest(&timers, 2300000, TIMERS_CLOSING));
    g_assert_null(idle_timer_nearest(&timers, 351 * G_USEC_PER_SEC, TIMERS_CLOSING));
    g_assert_cmpstr(idle_timer_nearest(&timers, 351 * G_USEC_PER_SEC, TIMERS_IN_PATH)->name, ==, "AWS NLB");
    g_assert_null(idle_timer_nearest(&timers, 5 * G_USEC_PER_SEC, TIMERS_IN_PATH));
    g_assert_cmpstr(idle_timer_nearest(&timers, 950 * G_USEC_PER_SEC, TIMERS_IN_PATH)->name, ==, "edge");
    g_assert_cmpstr(idle_timer_nearest(&timers, 950 * G_USEC_PER_SEC, TIMERS_CLOSING)->name, ==, "edge");
    g_assert_cmpstr(idle_timer_nearest(&timers, 1300 * G_USEC_PER_SEC, TIMERS_IN_PATH)->name, ==,
                    "GCP Cloud NAT");
    g_assert_cmpstr(idle_timer_nearest(&timers, 240 * G_USEC_PER_SEC, TIMERS_IN_PATH)->name, ==,
                    "Azure Load Balancer");
}

/* Origin stays endpoint: the RST answers the request a round trip earlier, not the
 * FIN's ACK just before it, and the second RST answers that ACK. */
static void test_origin_stays_endpoint(void)
{
    conversation c;
    idle_timer_table timers;
    tcp_segment rst = race(&c, &timers, NULL, 5020000, CROSSED);
    path_facts facts = { .timers = &timers, .sender = c.host[SERVER] };
    /* the request went 4.04 ms before the RST, the ACK 2 ms; two handshakes measured 5 ms */
    host_facts_add_rtt(&facts.sender, 5000);
    host_facts_add_rtt(&facts.sender, 5000);
    const rst_diagnosis *d = classified(&c, rst);
    rst_attribute(&c.st, &rst, &facts, &c.diag);
    assert_token(rst_origin_token, d->origin, "endpoint");
    assert_token(rst_cause_token, d->cause, "keepalive-race");
    conn_track_segment(&c.st, &rst);

    /* the client's ACK of the FIN, sent before the first RST arrived, draws a second one */
    tcp_segment second = make_segment(&c, SERVER, TCP_FLAG_RST, c.next_seq[SERVER], 0, 0, 1000);
    facts.has_prev_rst = TRUE;
    facts.prev_rst_side = conn_side_of(&c.st, &second);
    facts.prev_rst_seq = rst.seq;
    facts.prev_rst_gap_us = 1000;
    rst_classify(&c.st, &second, &c.settings, &c.other_streams, &c.diag);
    rst_attribute(&c.st, &second, &facts, &c.diag);
    assert_token(rst_origin_token, c.diag.origin, "endpoint");
}

/* A device's RST is never explained by an application server's timer. */
static void test_device_rule_ignores_server_timers(void)
{
    conversation c;
    idle_timer_table timers;
    char *error = NULL;
    open_connection(&c);
    g_assert_true(idle_timers_parse(NULL, &timers, &error));
    request_response(&c, 100, 300);
    /* unprompted, 5.2 s after the last segment, with a TTL the server never used */
    tcp_segment rst = make_segment(&c, SERVER, TCP_FLAG_RST | TCP_FLAG_ACK, c.next_seq[SERVER], c.next_seq[CLIENT],
                                   0, 5200000);
    rst.ttl = 50;
    path_facts facts = { .timers = &timers, .sender = c.host[SERVER] };
    rst_classify(&c.st, &rst, &c.settings, &c.other_streams, &c.diag);
    rst_attribute(&c.st, &rst, &facts, &c.diag);
    assert_token(rst_origin_token, c.diag.origin, "middlebox");
    assert_token(rst_cause_token, c.diag.cause, "injected");
    g_assert_null(strstr(c.diag.evidence, "Node.js"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/keepalive/application-servers", test_application_server_timers);
    g_test_add_func("/keepalive/load-balancers", test_load_balancer_timers);
    g_test_add_func("/keepalive/site-timer", test_site_timer);
    g_test_add_func("/keepalive/no-fin", test_no_fin_variant);
    g_test_add_func("/keepalive/busy-connection", test_busy_connection_is_no_race);
    g_test_add_func("/keepalive/unread", test_unread_variant);
    g_test_add_func("/keepalive/late-answer", test_late_answer_is_no_race);
    g_test_add_func("/keepalive/timer-table", test_timer_table);
    g_test_add_func("/keepalive/origin-endpoint", test_origin_stays_endpoint);
    g_test_add_func("/keepalive/device-rule", test_device_rule_ignores_server_timers);
    return g_test_run();
}
