/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rst_timers.c - the idle timer table (see rst_timers.h). */
#include "rst_timers.h"

#include <string.h>

/* Defaults as documented by each vendor (README "Idle timers"). */
static const idle_timer known_timers[] = {
    /* nodejs.org/api/http.html, server.keepAliveTimeout: 5000 ms */
    { "Node.js keepAliveTimeout", 5, TIMER_SERVER },
    /* docs.gunicorn.org, settings: keepalive = 2 s */
    { "Gunicorn keepalive", 2, TIMER_SERVER },
    /* httpd.apache.org/docs/2.4/mod/core.html#keepalivetimeout: 5 s */
    { "Apache KeepAliveTimeout", 5, TIMER_SERVER },
    /* puma.io, persistent_timeout: 20 s (PERSISTENT_TIMEOUT in lib/puma/const.rb) */
    { "Puma persistent_timeout", 20, TIMER_SERVER },
    /* nginx.org/en/docs/http/ngx_http_core_module.html#keepalive_timeout: 75 s */
    { "nginx keepalive_timeout", 75, TIMER_SERVER },
    /* docs.aws.amazon.com, Application Load Balancer: connection idle timeout 60 s */
    { "AWS ALB idle timeout", 60, TIMER_PROXY },
    /* cloud.google.com/load-balancing/docs/https, timeouts: backend keepalive 600 s */
    { "GCP external LB backend keep-alive", 600, TIMER_PROXY },
    /* learn.microsoft.com, Azure Load Balancer TCP idle timeout: 4 min */
    { "Azure Load Balancer", 240, TIMER_DEVICE },
    /* F5 K7166: the tcp profile's idle timeout, 300 s */
    { "F5 BIG-IP TCP profile", 300, TIMER_DEVICE },
    /* docs.aws.amazon.com, Network Load Balancer: TCP idle timeout 350 s */
    { "AWS NLB", 350, TIMER_DEVICE },
    /* cloud.google.com/nat/docs, tcpEstablishedIdleTimeoutSec: 1200 s */
    { "GCP Cloud NAT", 1200, TIMER_DEVICE },
    /* Cisco ASA command reference, timeout conn: 1:00:00 */
    { "Cisco ASA", 3600, TIMER_DEVICE },
    /* PAN-OS session settings, TCP timeout: 3600 s */
    { "Palo Alto", 3600, TIMER_DEVICE },
    /* Linux nf_conntrack_tcp_timeout_established: 432000 s (5 days) */
    { "Linux conntrack (established)", 432000, TIMER_DEVICE },
};

G_STATIC_ASSERT(G_N_ELEMENTS(known_timers) < IDLE_TIMERS_MAX);

gboolean idle_timers_parse(const char *spec, idle_timer_table *table, char **error)
{
    memset(table, 0, sizeof *table);
    for (size_t i = 0; i < G_N_ELEMENTS(known_timers); i++)
        table->timer[table->count++] = known_timers[i];
    *error = NULL;
    if (!spec || !*spec)
        return TRUE;

    gchar **items = g_strsplit(spec, ",", -1);
    GString *bad = g_string_new(NULL);
    for (gchar **item = items; *item; item++) {
        char *text = g_strstrip(*item);
        if (!*text)
            continue;
        char *as_written = g_strdup(text);
        char *eq = strchr(text, '=');
        const char *name = "site timer";
        const char *number = text;
        if (eq) {
            *eq = '\0';
            name = g_strstrip(text);
            number = g_strstrip(eq + 1);
        }
        char *end;
        double seconds = g_ascii_strtod(number, &end);
        gboolean good = *number != '\0' && *end == '\0' && seconds >= 1 && seconds <= 864000 && *name;
        if (!good || table->count == IDLE_TIMERS_MAX) {
            g_string_append_printf(bad, "%s\"%s\"%s", bad->len ? ", " : "", as_written,
                                   good ? " (too many timers)" : "");
            g_free(as_written);
            continue;
        }
        g_free(as_written);
        idle_timer *t = &table->timer[table->count++];
        g_strlcpy(t->name, name, sizeof t->name);
        t->seconds = (uint32_t)seconds;
        t->kind = TIMER_SITE;
    }
    g_strfreev(items);
    if (bad->len == 0) {
        g_string_free(bad, TRUE);
        return TRUE;
    }
    *error = g_strdup_printf("idle_timers: %s not name=seconds (1 to 864000); left out", bad->str);
    g_string_free(bad, TRUE);
    return FALSE;
}

const idle_timer *idle_timer_nearest(const idle_timer_table *table, int64_t idle_us, unsigned kinds)
{
    const idle_timer *best = NULL;
    int64_t best_off = 0;
    if (!table || idle_us < 0)
        return NULL;
    for (unsigned i = 0; i < table->count; i++) {
        const idle_timer *t = &table->timer[i];
        int64_t timer_us = (int64_t)t->seconds * G_USEC_PER_SEC;
        int64_t off = idle_us > timer_us ? idle_us - timer_us : timer_us - idle_us;
        if ((t->kind & kinds) && off <= MAX(G_USEC_PER_SEC / 4, timer_us / 10) && (!best || off < best_off)) {
            best = t;
            best_off = off;
        }
    }
    return best;
}
