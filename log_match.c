/* SPDX-License-Identifier: GPL-2.0-or-later */
/* log_match.c - match TCP RSTs to log lines (see log_match.h). */
#include "log_match.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define US_PER_SEC 1000000LL
#define DAY_US (86400 * US_PER_SEC)
#define QUARTER_HOUR_US (900 * US_PER_SEC)
#define ZONE_LIMIT_QUARTERS (14 * 4)                 /* zones run from -14:00 to +14:00 */
#define ZONE_BUCKETS (2 * ZONE_LIMIT_QUARTERS + 1)
#define MAX_SKEW_US (5 * US_PER_SEC)                 /* two hosts' clocks a few seconds apart */
#define DEFAULT_WINDOW_US (US_PER_SEC)
#define MAX_VOTERS 512                               /* lines one stream may vote with */
#define SKEW_BIN_US (100 * 1000)                     /* skew histogram resolution */
#define SKEW_BINS (2 * MAX_SKEW_US / SKEW_BIN_US + 1)
#define SKEW_SPAN_BINS 10                            /* a 1 s wide window of residuals */

static const char *const kind_tokens[LOG_MATCH_COUNT] = { "time", "address", "address+port" };

const char *log_match_kind_token(log_match_kind kind)
{
    return (unsigned)kind < LOG_MATCH_COUNT ? kind_tokens[kind] : "time";
}

typedef struct {
    int64_t time_us;   /* the line's written time, its year resolved */
    guint   entry;
} entry_ref;

typedef struct {
    gint64   matched_entry;   /* -1: none yet */
    gboolean voted;
} stream_state;

struct log_matcher {
    const log_index *index;
    log_match_settings settings;
    gboolean prepared;
    gboolean all_zoned;          /* every line carries its zone */
    GHashTable *by_address;      /* address text -> GArray of entry_ref, by time */
    GArray *without_address;     /* entry_ref, by time */
    GArray *ref_of_entry;        /* entry -> its resolved time */
    uint32_t votes[ZONE_BUCKETS];
    uint32_t residuals[ZONE_BUCKETS][SKEW_BINS];   /* per zone: how far from it each pair was */
    GHashTable *streams;         /* stream + 1 -> stream_state */
    uint32_t *claimed_by;        /* entry -> stream + 1, 0 = free */
    guint claimed_count;
};

static const log_entry *entry_at(const log_matcher *m, guint i)
{
    return &g_array_index(m->index->entries, log_entry, i);
}

static void address_key(uint8_t family, const uint8_t *addr, char key[INET6_ADDRSTRLEN + 2])
{
    key[0] = family == 6 ? '6' : '4';
    key[1] = '/';
    inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, key + 2, INET6_ADDRSTRLEN);
}

/* A syslog time was read with the year 1970; move it to the year that puts
 * it nearest to the capture. */
static int64_t in_year_near(int64_t time_1970, int64_t near_us)
{
    GDateTime *dt = g_date_time_new_from_unix_utc(near_us / US_PER_SEC);
    int year = dt ? g_date_time_get_year(dt) : 1970;
    if (dt)
        g_date_time_unref(dt);
    int64_t best = time_1970;
    for (int y = year - 1; y <= year + 1; y++) {
        gboolean leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        int64_t t = log_civil_to_us(y, 1, 1, 0, 0, 0) + time_1970
            + (leap && time_1970 >= log_civil_to_us(1970, 3, 1, 0, 0, 0) ? DAY_US : 0);
        if (y == year - 1 || llabs(t - near_us) < llabs(best - near_us))
            best = t;
    }
    return best;
}

static gint compare_refs(gconstpointer a, gconstpointer b)
{
    const entry_ref *x = a, *y = b;
    if (x->time_us != y->time_us)
        return x->time_us < y->time_us ? -1 : 1;
    return x->entry < y->entry ? -1 : x->entry > y->entry;
}

static void sort_refs(gpointer key G_GNUC_UNUSED, gpointer value, gpointer data G_GNUC_UNUSED)
{
    g_array_sort((GArray *)value, compare_refs);
}

static void free_refs(gpointer value)
{
    g_array_free((GArray *)value, TRUE);
}

/* Builds the per-address time index, once the first RST tells the year. */
static void prepare(log_matcher *m, int64_t first_rst_us)
{
    m->prepared = TRUE;
    m->all_zoned = m->index->entries->len > 0;
    for (guint i = 0; i < m->index->entries->len; i++) {
        const log_entry *e = entry_at(m, i);
        entry_ref ref = { e->has_year ? e->time_us : in_year_near(e->time_us, first_rst_us), i };
        m->all_zoned &= e->has_zone;
        g_array_append_val(m->ref_of_entry, ref);
        if (e->family == 0) {
            g_array_append_val(m->without_address, ref);
            continue;
        }
        char key[INET6_ADDRSTRLEN + 2];
        address_key(e->family, e->addr, key);
        GArray *refs = g_hash_table_lookup(m->by_address, key);
        if (!refs) {
            refs = g_array_new(FALSE, FALSE, sizeof(entry_ref));
            g_hash_table_insert(m->by_address, g_strdup(key), refs);
        }
        g_array_append_val(refs, ref);
    }
    g_array_sort(m->without_address, compare_refs);
    g_hash_table_foreach(m->by_address, sort_refs, NULL);
}

log_matcher *log_matcher_new(const log_index *index, const log_match_settings *settings)
{
    log_matcher *m = g_new0(log_matcher, 1);
    m->index = index;
    m->settings = *settings;
    m->by_address = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, free_refs);
    m->without_address = g_array_new(FALSE, FALSE, sizeof(entry_ref));
    m->ref_of_entry = g_array_new(FALSE, FALSE, sizeof(entry_ref));
    m->streams = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    m->claimed_by = g_new0(uint32_t, index->entries->len ? index->entries->len : 1);
    return m;
}

void log_matcher_free(log_matcher *m)
{
    if (!m)
        return;
    g_hash_table_destroy(m->by_address);
    g_array_free(m->without_address, TRUE);
    g_array_free(m->ref_of_entry, TRUE);
    g_hash_table_destroy(m->streams);
    g_free(m->claimed_by);
    g_free(m);
}

gboolean log_matcher_entry_used(const log_matcher *m, guint entry)
{
    return entry < m->index->entries->len && m->claimed_by[entry] != 0;
}

guint log_matcher_used_count(const log_matcher *m)
{
    return m->claimed_count;
}

/* ---- the clock --------------------------------------------------------------- */

static gboolean leg_fits(const log_entry *e, log_sender_role role)
{
    if (e->leg == LOG_LEG_CLIENT)
        return role != LOG_SENDER_SERVER;
    if (e->leg == LOG_LEG_UPSTREAM)
        return role != LOG_SENDER_CLIENT;
    return TRUE;
}

static gboolean port_fits(const log_entry *e, const log_endpoint *sender)
{
    return e->port == 0 || sender->port == 0 || e->port == sender->port;
}

/* The line's time is the start of its resolution step; the RST came just
 * before the logged event, so the expected log-minus-packet time is -res/2. */
static int64_t centred(int64_t log_minus_packet_us, const log_entry *e)
{
    return log_minus_packet_us + (int64_t)e->resolution_us / 2;
}

static const GArray *lines_of(const log_matcher *m, const log_endpoint *sender)
{
    char key[INET6_ADDRSTRLEN + 2];
    address_key(sender->family, sender->addr, key);
    return g_hash_table_lookup(m->by_address, key);
}

static guint lower_bound(const GArray *refs, int64_t t)
{
    guint lo = 0, hi = refs->len;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        if (g_array_index(refs, entry_ref, mid).time_us < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Every line of the sender's address within any zone's reach votes for the
 * quarter-hour offset that puts it next to this RST. */
static void vote(log_matcher *m, const log_rst_event *ev)
{
    const GArray *refs = lines_of(m, &ev->sender);
    if (!refs)
        return;
    int64_t reach = ZONE_LIMIT_QUARTERS * QUARTER_HOUR_US + MAX_SKEW_US + US_PER_SEC;
    guint voters = 0;
    for (guint i = lower_bound(refs, ev->time_us - reach); i < refs->len && voters < MAX_VOTERS; i++) {
        const entry_ref *ref = &g_array_index(refs, entry_ref, i);
        if (ref->time_us > ev->time_us + reach)
            break;
        const log_entry *e = entry_at(m, ref->entry);
        if (!e->reports_rst || !leg_fits(e, ev->role) || !port_fits(e, &ev->sender))
            continue;
        int64_t c = centred(ref->time_us - ev->time_us, e);
        int64_t quarters = (c + (c >= 0 ? 1 : -1) * QUARTER_HOUR_US / 2) / QUARTER_HOUR_US;
        int64_t residual = c - quarters * QUARTER_HOUR_US;
        if (llabs(quarters) > ZONE_LIMIT_QUARTERS || llabs(residual) > MAX_SKEW_US)
            continue;
        m->votes[quarters + ZONE_LIMIT_QUARTERS]++;
        m->residuals[quarters + ZONE_LIMIT_QUARTERS][(residual + MAX_SKEW_US) / SKEW_BIN_US]++;
        voters++;
    }
}

/* The skew of a zone: the 1 s wide span of residuals that holds the most
 * pairs. Lines a few seconds from the true one (same client, next request)
 * scatter; the true pairs pile up. Returns the span's pair count. */
static uint32_t densest_skew(const log_matcher *m, int bucket, int64_t *skew_us)
{
    uint32_t best = 0, count = 0;
    int best_start = (SKEW_BINS - SKEW_SPAN_BINS) / 2;
    for (int bin = 0; bin < SKEW_BINS; bin++) {
        count += m->residuals[bucket][bin];
        if (bin >= SKEW_SPAN_BINS)
            count -= m->residuals[bucket][bin - SKEW_SPAN_BINS];
        int start = bin - SKEW_SPAN_BINS + 1;
        int centre = SKEW_BINS / 2 - SKEW_SPAN_BINS / 2;
        if (start >= 0 && (count > best || (count == best && abs(start - centre) < abs(best_start - centre)))) {
            best = count;
            best_start = start;
        }
    }
    *skew_us = (int64_t)best_start * SKEW_BIN_US - MAX_SKEW_US + SKEW_SPAN_BINS * SKEW_BIN_US / 2;
    return best;
}

static int best_bucket(const log_matcher *m)
{
    int best = -1;
    uint32_t best_support = 0;
    for (int b = 0; b < ZONE_BUCKETS; b++) {
        if (m->votes[b] == 0)
            continue;
        int64_t skew;
        uint32_t support = densest_skew(m, b, &skew);
        if (best < 0 || support > best_support)
            best = b, best_support = support;
    }
    return best;
}

static int64_t local_zone_us(int64_t at_us)
{
    GDateTime *utc = g_date_time_new_from_unix_utc(at_us / US_PER_SEC);
    if (!utc)
        return 0;
    GDateTime *local = g_date_time_to_local(utc);
    int64_t offset = local ? g_date_time_get_utc_offset(local) : 0;
    if (local)
        g_date_time_unref(local);
    g_date_time_unref(utc);
    return offset;
}

/* Zone offset for lines without a zone, and the skew; FALSE if unknown yet. */
static gboolean clock_at(const log_matcher *m, int64_t at_us, int64_t *zone_us, int64_t *skew_us)
{
    int bucket = best_bucket(m);
    switch (m->settings.zone_mode) {
    case LOG_ZONE_UTC:   *zone_us = 0; break;
    case LOG_ZONE_LOCAL: *zone_us = local_zone_us(at_us); break;
    case LOG_ZONE_FIXED: *zone_us = (int64_t)m->settings.fixed_offset_s * US_PER_SEC; break;
    default:
        if (bucket < 0 && !m->all_zoned)
            return FALSE;
        *zone_us = bucket < 0 ? 0 : (bucket - ZONE_LIMIT_QUARTERS) * QUARTER_HOUR_US;
        break;
    }
    if (m->settings.skew_given) {
        *skew_us = -m->settings.skew_us;
    } else {
        int zone_bucket = (int)(*zone_us / QUARTER_HOUR_US) + ZONE_LIMIT_QUARTERS;
        gboolean on_grid = *zone_us % QUARTER_HOUR_US == 0 && zone_bucket >= 0 && zone_bucket < ZONE_BUCKETS;
        *skew_us = 0;
        if (on_grid && m->votes[zone_bucket])
            densest_skew(m, zone_bucket, skew_us);
    }
    return TRUE;
}

gboolean log_matcher_offset(const log_matcher *m, int64_t *offset_us)
{
    int64_t zone, skew;
    if (!clock_at(m, 0, &zone, &skew))
        return FALSE;
    *offset_us = zone + skew;
    return TRUE;
}

/* ---- matching -------------------------------------------------------------- */

typedef struct {
    gint64  entry;
    int64_t distance;   /* from the expected time */
    int64_t delta_us;
    int64_t offset_us;
} candidate;

static void consider(const log_matcher *m, const log_rst_event *ev, const entry_ref *ref,
                     int64_t zone, int64_t skew, candidate *best)
{
    const log_entry *e = entry_at(m, ref->entry);
    uint32_t owner = m->claimed_by[ref->entry];
    if ((owner && owner != ev->stream + 1) || !e->reports_rst || !leg_fits(e, ev->role)
        || !port_fits(e, &ev->sender))
        return;
    int64_t offset = (e->has_zone ? 0 : zone) + skew;
    int64_t delta = ref->time_us - offset - ev->time_us;
    int64_t window = m->settings.window_us ? m->settings.window_us : DEFAULT_WINDOW_US;
    int64_t distance = llabs(centred(delta, e));
    if (distance > (int64_t)e->resolution_us / 2 + window)
        return;
    if (best->entry < 0 || distance < best->distance) {
        best->entry = ref->entry;
        best->distance = distance;
        best->delta_us = delta;
        best->offset_us = offset;
    }
}

static void search(const log_matcher *m, const GArray *refs, const log_rst_event *ev, int64_t zone,
                   int64_t skew, candidate *best)
{
    if (!refs)
        return;
    int64_t window = m->settings.window_us ? m->settings.window_us : DEFAULT_WINDOW_US;
    int64_t reach = 2 * window + 2 * US_PER_SEC;
    int64_t centre = ev->time_us + skew;
    /* lines without a zone sit `zone` away from the packet time, lines with one do not */
    int passes = zone == 0 ? 1 : 2;
    for (int pass = 0; pass < passes; pass++) {
        int64_t shift = pass == 0 ? zone : 0;
        for (guint i = lower_bound(refs, centre + shift - reach); i < refs->len; i++) {
            const entry_ref *ref = &g_array_index(refs, entry_ref, i);
            if (ref->time_us > centre + shift + reach)
                break;
            if (passes == 1 || entry_at(m, ref->entry)->has_zone == (pass == 1))
                consider(m, ev, ref, zone, skew, best);
        }
    }
}

static log_match_kind kind_of(const log_entry *e)
{
    return e->family == 0 ? LOG_MATCH_TIME : e->port ? LOG_MATCH_ADDRESS_PORT : LOG_MATCH_ADDRESS;
}

gboolean log_matcher_match(log_matcher *m, const log_rst_event *ev, log_match_result *out)
{
    if (!m->prepared)
        prepare(m, ev->time_us);
    gpointer key = GUINT_TO_POINTER(ev->stream + 1);
    stream_state *st = g_hash_table_lookup(m->streams, key);
    if (!st) {
        st = g_new0(stream_state, 1);
        st->matched_entry = -1;
        g_hash_table_insert(m->streams, key, st);
    }
    if (!st->voted && m->settings.zone_mode == LOG_ZONE_AUTO) {
        vote(m, ev);
        st->voted = TRUE;
    }
    int64_t zone, skew;
    if (!clock_at(m, ev->time_us, &zone, &skew))
        return FALSE;

    candidate best = { .entry = -1 };
    if (st->matched_entry >= 0) {
        /* one line for all RSTs of a stream */
        const log_entry *e = entry_at(m, (guint)st->matched_entry);
        best.entry = st->matched_entry;
        best.offset_us = (e->has_zone ? 0 : zone) + skew;
        best.delta_us = g_array_index(m->ref_of_entry, entry_ref, (guint)best.entry).time_us
            - best.offset_us - ev->time_us;
    } else {
        search(m, lines_of(m, &ev->sender), ev, zone, skew, &best);
        if (best.entry < 0)
            search(m, m->without_address, ev, zone, skew, &best);
        if (best.entry < 0)
            return FALSE;
        st->matched_entry = best.entry;
        m->claimed_by[best.entry] = ev->stream + 1;
        m->claimed_count++;
    }
    out->entry = (guint)best.entry;
    out->kind = kind_of(entry_at(m, out->entry));
    out->delta_us = best.delta_us;
    out->offset_us = best.offset_us;
    return TRUE;
}

/* ---- the lines no RST explains --------------------------------------------- */

static gint compare_linenos(gconstpointer a, gconstpointer b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void log_matcher_census(const log_matcher *m, int64_t first_us, int64_t last_us, log_census *out)
{
    memset(out, 0, sizeof *out);
    int64_t zone = 0, skew = 0;
    out->offset_known = clock_at(m, first_us, &zone, &skew);
    int64_t window = m->settings.window_us ? m->settings.window_us : DEFAULT_WINDOW_US;
    GArray *inside = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    for (guint i = 0; i < m->index->entries->len; i++) {
        const log_entry *e = entry_at(m, i);
        if (!e->reports_rst)
            continue;
        if (m->claimed_by[i]) {
            out->explained++;
            continue;
        }
        int64_t written = e->has_year ? e->time_us : in_year_near(e->time_us, first_us);
        int64_t t = written - (e->has_zone ? 0 : zone) - skew;   /* on the capture's clock */
        /* the reach a RST at either end of the capture has (see consider()) */
        if (t >= first_us - window - (int64_t)e->resolution_us && t <= last_us + window)
            g_array_append_val(inside, e->lineno);
        else
            out->outside++;
    }
    g_array_sort(inside, compare_linenos);   /* the index is in time order */
    out->inside = inside->len;
    out->listed = MIN(inside->len, LOG_LISTED_MAX);
    memcpy(out->listed_lineno, inside->data, out->listed * sizeof(uint32_t));
    g_array_free(inside, TRUE);
}

/* ---- settings ------------------------------------------------------------ */

static gboolean parse_zone(const char *text, log_match_settings *out)
{
    if (!text || !*text || g_ascii_strcasecmp(text, "auto") == 0) {
        out->zone_mode = LOG_ZONE_AUTO;
        return TRUE;
    }
    if (g_ascii_strcasecmp(text, "local") == 0) {
        out->zone_mode = LOG_ZONE_LOCAL;
        return TRUE;
    }
    if (g_ascii_strcasecmp(text, "UTC") == 0 || g_ascii_strcasecmp(text, "Z") == 0) {
        out->zone_mode = LOG_ZONE_UTC;
        return TRUE;
    }
    int hours = 0, minutes = 0;
    char sign = 0, extra = 0;
    int n = sscanf(text, "%c%2d:%2d%c", &sign, &hours, &minutes, &extra);
    if ((sign != '+' && sign != '-') || n < 2 || n > 3 || hours > 14 || minutes > 59)
        return FALSE;
    out->zone_mode = LOG_ZONE_FIXED;
    out->fixed_offset_s = (sign == '-' ? -1 : 1) * (hours * 3600 + minutes * 60);
    return TRUE;
}

/* Seconds in [low, high]; empty means "not given". */
static gboolean parse_seconds(const char *text, double low, double high, gboolean *given, int64_t *us)
{
    *given = text && *text;
    if (!*given)
        return TRUE;
    char *end = NULL;
    double v = g_ascii_strtod(text, &end);
    if (end == text || *end != '\0' || !(v >= low && v <= high)) {
        *given = FALSE;
        return FALSE;
    }
    *us = (int64_t)(v * US_PER_SEC);
    return TRUE;
}

gboolean log_match_settings_parse(const char *zone, const char *skew, const char *window,
                                  log_match_settings *out, char **error)
{
    GString *problems = g_string_new(NULL);
    gboolean window_given;
    memset(out, 0, sizeof *out);
    if (!parse_zone(zone, out)) {
        out->zone_mode = LOG_ZONE_AUTO;
        g_string_append_printf(problems, "log_timezone \"%s\" is not auto, local, UTC or +HH:MM; using auto. ", zone);
    }
    if (!parse_seconds(skew, -86400, 86400, &out->skew_given, &out->skew_us))
        g_string_append_printf(problems, "log_clock_skew \"%s\" is not a number of seconds within a day; "
                               "estimating it. ", skew);
    if (!parse_seconds(window, 0.001, 3600, &window_given, &out->window_us))
        g_string_append_printf(problems, "log_window \"%s\" is not 0.001 to 3600 seconds; using 1 s. ", window);
    if (!window_given)
        out->window_us = 0;
    if (problems->len == 0) {
        g_string_free(problems, TRUE);
        *error = NULL;
        return TRUE;
    }
    g_string_truncate(problems, problems->len - 1);
    *error = g_string_free(problems, FALSE);
    return FALSE;
}
