/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rst_timers.h - the idle timers that end quiet connections: application
 * servers closing idle keep-alive connections, proxies and load balancers
 * closing theirs, devices (NATs, L4 load balancers, firewalls) forgetting
 * flows. One table: the documented defaults, then the site's own timers from
 * the idle_timers preference. Plain C + GLib.
 */
#ifndef RST_TIMERS_H
#define RST_TIMERS_H

#include <glib.h>
#include <stdint.h>

/* Who runs a timer, and so what its expiry looks like on the wire. */
typedef enum {
    TIMER_SERVER = 1 << 0,  /* an application server: closes (FIN) its idle keep-alive connection */
    TIMER_PROXY  = 1 << 1,  /* a proxy or L7 load balancer ending a TCP connection of its own */
    TIMER_DEVICE = 1 << 2,  /* a NAT, L4 load balancer or firewall: forgets the flow */
    TIMER_SITE   = 1 << 3,  /* from the idle_timers preference: any of these */
} idle_timer_kind;

/* Timers that close an endpoint's own connection (a keep-alive race's closer). */
#define TIMERS_CLOSING (TIMER_SERVER | TIMER_PROXY | TIMER_SITE)
/* Timers of devices in the path (a middlebox's idle timeout). */
#define TIMERS_IN_PATH (TIMER_DEVICE | TIMER_SITE)

#define IDLE_TIMER_NAME_MAX 40
typedef struct {
    char name[IDLE_TIMER_NAME_MAX];
    uint32_t seconds;
    idle_timer_kind kind;
} idle_timer;

#define IDLE_TIMERS_MAX 32

typedef struct {
    idle_timer timer[IDLE_TIMERS_MAX];
    unsigned count;
} idle_timer_table;

/* The known timers followed by the site's own from spec: "name=seconds"
 * or bare seconds, separated by commas. FALSE with *error (g_free it) when
 * spec is bad; the table then holds the known timers only. */
gboolean idle_timers_parse(const char *spec, idle_timer_table *table, char **error);

/* The timer of one of `kinds` nearest to an idle time: within a tenth of
 * the timer (at least 250 ms) either way, since where the capture point sits
 * moves the quiet time seen by up to a round trip. NULL if none. */
const idle_timer *idle_timer_nearest(const idle_timer_table *table, int64_t idle_us, unsigned kinds);

#endif /* RST_TIMERS_H */
