/* SPDX-License-Identifier: GPL-2.0-or-later */
/* log_match.c - match TCP RSTs to log lines (see log_match.h). */
#include "log_match.h"

#include <stdio.h>
#include <string.h>

#define US_PER_SEC 1000000LL
#define DAY_US (86400 * US_PER_SEC)
#define QUARTER_HOUR_US (900 * US_PER_SEC)
#define ZONE_LIMIT_QUARTERS (14 * 4)                 /* zones run from -14:00 to +14:00 */
#define ZONE_BUCKETS (2 * ZONE_LIMIT_QUARTERS + 1)
#define ZONE_CANDIDATES 3                            /* zones whose skews are tried one by one */
#define MAX_SKEW_US (5 * US_PER_SEC)                 /* two hosts' clocks a few seconds apart */
#define SKEW_STEP_US (20 * 1000)
#define DEFAULT_WINDOW_US (US_PER_SEC)
#define MAX_RESOLUTION_US (US_PER_SEC)               /* the coarsest log time: whole seconds */
#define MAX_VOTERS 512                               /* lines one RST may vote with */
/* A program writes its line as soon as the failed call returns: within
 * PROMPT_US of the RST unless it is very busy. The line's clock may be read
 * a little before the RST is handed over (a cached time, a session end
 * computed from rounded timers): SLACK_US. */
#define PROMPT_US (100 * 1000)
#define SLACK_US (20 * 1000)
/* A line naming the peer's port names one connection: it may be written as
 * late as the program's next read or write of it (HAProxy writes its line
 * when the session ends, and notices a client's reset mid-response only when
 * it next sends). */
#define LATE_WITH_PORT_US (10 * US_PER_SEC)
/* Two offsets whose counts differ by less than 2 % explain the log about
 * equally well. */
#define CLOSE_CALL_PER_MILLE 980
/* While RSTs keep coming between questions (tshark's single pass), the clock
 * is estimated again each time they have doubled -- at each new RST while
 * fewer than WEAK_SUPPORT pairs back it and the RSTs are few; once a question
 * comes with no new RST (a later pass, the end), from all of them. */
#define REESTIMATE_GROWTH 2
/* A few RSTs rarely single out a clock: events at a steady pace fit offsets one
 * period apart about as well. Until the best guess leads every other by
 * LEAD_PAIRS, or FIRM_PAIRS back it, lines are tied only under a guess in
 * which the log host's clock agrees with the capture's but for its zone (skew
 * 0, the usual NTP-synced case) and no other zone does as well; otherwise they
 * wait -- no line is better than a wrong one. */
#define LEAD_PAIRS 2
#define FIRM_PAIRS 8
#define WEAK_SUPPORT 4
#define FEW_RSTS 64

static const char *const kind_tokens[LOG_MATCH_COUNT] = { "time", "address", "address+port" };

const char *log_match_kind_token(log_match_kind kind)
{
    return (unsigned)kind < LOG_MATCH_COUNT ? kind_tokens[kind] : "time";
}

typedef struct {
    int64_t time_us;   /* the line's written time, its year resolved */
    guint   entry;
} entry_ref;

/* One guess at the log's clock: lines without a zone are `zone` ahead of
 * UTC, and every line `skew` more. */
typedef struct {
    int64_t zone_us;
    int64_t skew_us;
} clock_guess;

/* A RST's sender's lines: all, those quoting its stream's request, those
 * quoting none (each NULL when there are none). */
typedef struct {
    const GArray *all, *quoting, *unquoted;
} rst_lines;

struct log_matcher {
    const log_index *index;
    log_match_settings settings;
    gboolean prepared;
    int64_t year_near_us;        /* the first RST's time: syslog lines take the year nearest to it */
    guint entry_count;           /* the index's entries the tables below hold */
    guint index_revision;        /* the index's revision they were built from */
    gboolean all_zoned;          /* every line carries its zone */
    GHashTable *by_address;      /* line_key of an address -> GArray of entry_ref, by time */
    GHashTable *by_request;      /* line_key of an address and "METHOD target" -> GArray of entry_ref, by time */
    GHashTable *unquoted_by_address;   /* line_key of an address -> GArray of entry_ref quoting no request, by time */
    GArray *without_address;     /* entry_ref, by time */
    GArray *ref_of_entry;        /* entry -> its resolved time */
    GArray *rsts;                /* log_rst_event, as added */
    GArray *rst_slot;            /* rst -> its stream's slot (0, 1, ... in order of first RST) */
    GArray *rst_lines;           /* rst -> rst_lines: the lines it may take, looked up once */
    GHashTable *slot_of_stream;  /* stream + 1 -> slot + 1 */
    guint solved_for;            /* rsts->len at the last assignment */
    guint estimated_for;         /* rsts->len at the last clock estimate */
    clock_guess clock;
    log_clock report;
    GArray *order;               /* rst numbers by time */
    gint64 *line_of_slot;        /* slot -> entry, -1: none */
    guint slots_allocated;
    /* pairing state, reset by bumping the generation instead of clearing */
    uint32_t generation;
    uint32_t *entry_taken;       /* entry -> generation that took it */
    uint32_t *entry_owner;       /* entry -> slot + 1 in the final assignment, 0: free */
    uint8_t *entry_round;        /* entry -> the final round (1, 2, ...) that gave it, where owned */
    GArray *claimed;             /* guint: the entries entry_owner gives a slot, cleared one by one */
    uint32_t *slot_taken;        /* slot -> generation that paired it */
};

static const log_entry *entry_at(const log_matcher *m, guint i)
{
    return &g_array_index(m->index->entries, log_entry, i);
}

/* What the line tables are looked up by: an address, and the request its
 * lines quote (request_len 0: none asked). Binary, as the tables are built
 * from every line of the log. */
typedef struct {
    uint8_t family;
    uint8_t addr[16];            /* an IPv4 address in the first 4, the rest zero */
    uint16_t request_len;
    const char *request;         /* in a key the table holds: its own copy, after the key */
} line_key;

static line_key key_of(uint8_t family, const uint8_t *addr, const char *request, size_t request_len)
{
    line_key key = { .family = family, .request = request, .request_len = (uint16_t)request_len };
    memcpy(key.addr, addr, family == 6 ? 16 : 4);
    return key;
}

static guint line_key_hash(gconstpointer p)
{
    const line_key *k = p;
    guint32 h = 2166136261u ^ k->family;   /* FNV-1a */
    for (size_t i = 0; i < sizeof k->addr; i++)
        h = (h ^ k->addr[i]) * 16777619u;
    for (size_t i = 0; i < k->request_len; i++)
        h = (h ^ (uint8_t)k->request[i]) * 16777619u;
    return h;
}

static gboolean line_key_equal(gconstpointer a, gconstpointer b)
{
    const line_key *x = a, *y = b;
    return x->family == y->family && x->request_len == y->request_len && memcmp(x->addr, y->addr, sizeof x->addr) == 0
        && (x->request_len == 0 || memcmp(x->request, y->request, x->request_len) == 0);
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

/* Adds ref to the array of key in table (a copy of key, the first time). */
static void append_ref(GHashTable *table, const line_key *key, const entry_ref *ref)
{
    GArray *refs = g_hash_table_lookup(table, key);
    if (!refs) {
        line_key *kept = g_malloc(sizeof *kept + key->request_len);
        *kept = *key;
        kept->request = (const char *)(kept + 1);
        if (key->request_len)
            memcpy(kept + 1, key->request, key->request_len);
        refs = g_array_new(FALSE, FALSE, sizeof(entry_ref));
        g_hash_table_insert(table, kept, refs);
    }
    g_array_append_val(refs, *ref);
}

static rst_lines lines_for(const log_matcher *m, const log_rst_event *ev);

/* (Re)builds the time indexes (per address, per request, per address of the
 * lines quoting none) from every entry of the log, once the first RST tells
 * the year, and again when the log has grown. */
static void build_line_tables(log_matcher *m)
{
    g_hash_table_remove_all(m->by_address);
    g_hash_table_remove_all(m->by_request);
    g_hash_table_remove_all(m->unquoted_by_address);
    g_array_set_size(m->without_address, 0);
    g_array_set_size(m->ref_of_entry, 0);
    m->entry_count = m->index->entries->len;
    m->index_revision = m->index->revision;
    m->entry_taken = g_renew(uint32_t, m->entry_taken, MAX(m->entry_count, 1));
    m->entry_owner = g_renew(uint32_t, m->entry_owner, MAX(m->entry_count, 1));
    m->entry_round = g_renew(uint8_t, m->entry_round, MAX(m->entry_count, 1));
    memset(m->entry_taken, 0, sizeof(uint32_t) * MAX(m->entry_count, 1));
    memset(m->entry_owner, 0, sizeof(uint32_t) * MAX(m->entry_count, 1));
    g_array_set_size(m->claimed, 0);
    m->all_zoned = m->entry_count > 0;
    for (guint i = 0; i < m->entry_count; i++) {
        const log_entry *e = entry_at(m, i);
        entry_ref ref = { e->has_year ? e->time_us : in_year_near(e->time_us, m->year_near_us), i };
        m->all_zoned &= e->has_zone;
        g_array_append_val(m->ref_of_entry, ref);
        if (e->family == 0) {
            g_array_append_val(m->without_address, ref);
            continue;
        }
        line_key key = key_of(e->family, e->addr, NULL, 0);
        append_ref(m->by_address, &key, &ref);
        if (e->request) {
            const char *version = strchr(e->request, ' ') ? strchr(strchr(e->request, ' ') + 1, ' ') : NULL;
            line_key quoted = key_of(e->family, e->addr, e->request,
                                     version ? (size_t)(version - e->request) : strlen(e->request));
            append_ref(m->by_request, &quoted, &ref);
        } else
            append_ref(m->unquoted_by_address, &key, &ref);
    }
    g_array_sort(m->without_address, compare_refs);
    g_hash_table_foreach(m->by_address, sort_refs, NULL);
    g_hash_table_foreach(m->by_request, sort_refs, NULL);
    g_hash_table_foreach(m->unquoted_by_address, sort_refs, NULL);
    for (guint r = 0; r < m->rsts->len; r++)
        g_array_index(m->rst_lines, rst_lines, r) = lines_for(m, &g_array_index(m->rsts, log_rst_event, r));
}

void log_matcher_update(log_matcher *m)
{
    if (!m->prepared || m->index_revision == m->index->revision)
        return;
    build_line_tables(m);
    m->generation = 0;
    if (!m->report.known || m->report.undecided || m->report.pairs < FIRM_PAIRS)
        m->estimated_for = 0;         /* a weakly backed clock is estimated again with the new lines */
    m->solved_for = m->rsts->len + 1; /* the lines are assigned again */
}

log_matcher *log_matcher_new(const log_index *index, const log_match_settings *settings)
{
    log_matcher *m = g_new0(log_matcher, 1);
    m->index = index;
    m->settings = *settings;
    m->by_address = g_hash_table_new_full(line_key_hash, line_key_equal, g_free, free_refs);
    m->by_request = g_hash_table_new_full(line_key_hash, line_key_equal, g_free, free_refs);
    m->unquoted_by_address = g_hash_table_new_full(line_key_hash, line_key_equal, g_free, free_refs);
    m->without_address = g_array_new(FALSE, FALSE, sizeof(entry_ref));
    m->ref_of_entry = g_array_new(FALSE, FALSE, sizeof(entry_ref));
    m->rsts = g_array_new(FALSE, FALSE, sizeof(log_rst_event));
    m->rst_slot = g_array_new(FALSE, FALSE, sizeof(guint));
    m->rst_lines = g_array_new(FALSE, FALSE, sizeof(rst_lines));
    m->slot_of_stream = g_hash_table_new(g_direct_hash, g_direct_equal);
    m->order = g_array_new(FALSE, FALSE, sizeof(guint));
    m->claimed = g_array_new(FALSE, FALSE, sizeof(guint));
    return m;
}

void log_matcher_free(log_matcher *m)
{
    if (!m)
        return;
    g_hash_table_destroy(m->by_address);
    g_hash_table_destroy(m->by_request);
    g_hash_table_destroy(m->unquoted_by_address);
    g_array_free(m->without_address, TRUE);
    g_array_free(m->ref_of_entry, TRUE);
    g_array_free(m->rsts, TRUE);
    g_array_free(m->rst_slot, TRUE);
    g_array_free(m->rst_lines, TRUE);
    g_hash_table_destroy(m->slot_of_stream);
    g_array_free(m->order, TRUE);
    g_free(m->line_of_slot);
    g_free(m->entry_taken);
    g_free(m->entry_owner);
    g_free(m->entry_round);
    g_array_free(m->claimed, TRUE);
    g_free(m->slot_taken);
    g_free(m);
}

static const GArray *lines_in(GHashTable *table, const log_endpoint *sender)
{
    line_key key = key_of(sender->family, sender->addr, NULL, 0);
    return g_hash_table_lookup(table, &key);
}

/* The sender's lines quoting the request the RST's stream carried. */
static const GArray *lines_quoting(const log_matcher *m, const log_rst_event *ev)
{
    if (!ev->request)
        return NULL;
    line_key key = key_of(ev->sender.family, ev->sender.addr, ev->request, strlen(ev->request));
    return g_hash_table_lookup(m->by_request, &key);
}

/* The lines a RST may take, looked up once per build of the tables. */
static rst_lines lines_for(const log_matcher *m, const log_rst_event *ev)
{
    rst_lines lines = { lines_in(m->by_address, &ev->sender), lines_quoting(m, ev),
                        lines_in(m->unquoted_by_address, &ev->sender) };
    return lines;
}

guint log_matcher_add(log_matcher *m, const log_rst_event *ev)
{
    if (!m->prepared) {
        m->prepared = TRUE;
        m->year_near_us = ev->time_us;
        build_line_tables(m);
    }
    gpointer key = GUINT_TO_POINTER(ev->stream + 1);
    guint slot = GPOINTER_TO_UINT(g_hash_table_lookup(m->slot_of_stream, key));
    if (slot == 0) {
        slot = g_hash_table_size(m->slot_of_stream) + 1;
        g_hash_table_insert(m->slot_of_stream, key, GUINT_TO_POINTER(slot));
    }
    slot--;
    g_array_append_val(m->rsts, *ev);
    g_array_append_val(m->rst_slot, slot);
    rst_lines lines = lines_for(m, ev);
    g_array_append_val(m->rst_lines, lines);
    return m->rsts->len - 1;
}

/* ---- fitting a line to a RST ---------------------------------------------- */

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

/* Linux's tcp_reset() (net/ipv4/tcp_input.c) reports a RST to the program as
 * ECONNREFUSED (111) in SYN-SENT -- a RST answering our SYN -- and as
 * ECONNRESET (104) on a connection past the handshake. */
static gboolean errno_fits(const log_entry *e, const log_rst_event *ev)
{
    if (e->error_number == 111)
        return ev->answers_syn;
    if (e->error_number == 104)
        return !ev->answers_syn;
    return TRUE;
}

/* A request that crossed the peer's idle-close FIN (a keep-alive race) is
 * told by the program as the FIN it read before the RST came: nginx's
 * "upstream prematurely closed connection" (ngx_http_upstream.c, recv() = 0). */
static gboolean tells_this_close(const log_entry *e, const log_rst_event *ev)
{
    return e->reports_rst || (ev->crossed_fin && e->error_number == 0);
}

/* The line quotes the request the RST's stream carried last: the line's is
 * "METHOD target VERSION" (both cut alike at LOG_REQUEST_MAX bytes). */
static gboolean request_agrees(const log_entry *e, const log_rst_event *ev)
{
    if (!e->request || !ev->request)
        return FALSE;
    size_t n = strlen(ev->request);
    return strncmp(e->request, ev->request, n) == 0 && (e->request[n] == ' ' || e->request[n] == '\0');
}

static gboolean fits(const log_entry *e, const log_rst_event *ev)
{
    return tells_this_close(e, ev) && leg_fits(e, ev->role) && port_fits(e, &ev->sender) && errno_fits(e, ev);
}

gboolean log_request_read(const uint8_t *payload, size_t len, char *out)
{
    size_t method = 0;
    while (method < len && method < 16 && ((payload[method] >= 'A' && payload[method] <= 'Z') || payload[method] == '-'))
        method++;
    if (method == 0 || method >= len || payload[method] != ' ')
        return FALSE;
    size_t end = method + 1;
    while (end < len && payload[end] > ' ' && payload[end] < 0x7f)
        end++;
    static const char version[] = " HTTP/";
    if (end == method + 1 || end + sizeof version - 1 > len || memcmp(payload + end, version, sizeof version - 1) != 0)
        return FALSE;
    size_t n = MIN(end, (size_t)LOG_REQUEST_MAX);
    memcpy(out, payload, n);
    out[n] = '\0';
    return TRUE;
}

static int64_t offset_of(const log_entry *e, const clock_guess *clock)
{
    return (e->has_zone ? 0 : clock->zone_us) + clock->skew_us;
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

/* ---- pairing under one clock ------------------------------------------------ */

static void new_generation(log_matcher *m)
{
    if (++m->generation == 0) {   /* wrapped: forget every mark */
        memset(m->entry_taken, 0, sizeof(uint32_t) * MAX(m->entry_count, 1));
        memset(m->slot_taken, 0, sizeof(uint32_t) * m->slots_allocated);
        m->generation = 1;
    }
}

/* The lines a round considers: any; only those naming the peer's port; only
 * those quoting the request the RST's stream carried; or, for a RST whose
 * request some line of its sender quotes, only those quoting none (any line
 * for the others). */
typedef enum { ANY_LINE, LINE_NAMING_PORT, LINE_QUOTING_REQUEST, UNQUOTED_LINE_IF_QUOTED } line_filter;

static gboolean passes(line_filter filter, const log_entry *e, const log_rst_event *ev)
{
    switch (filter) {
    case LINE_NAMING_PORT:     return e->port != 0;
    case LINE_QUOTING_REQUEST: return request_agrees(e, ev);
    default:                   return TRUE;   /* UNQUOTED_LINE_IF_QUOTED: by the lines searched */
    }
}

/* Whether a RST took the line: in this generation's rounds, or (taken_by_round
 * > 0) in the final assignment's rounds up to that one. */
static gboolean taken(const log_matcher *m, guint entry, guint taken_by_round)
{
    if (taken_by_round)
        return m->entry_owner[entry] != 0 && m->entry_round[entry] <= taken_by_round;
    return m->entry_taken[entry] == m->generation;
}

/* The earliest line of refs no RST took (taken()) that fits the RST and was
 * written no more than the line's resolution before it and at most `after`
 * after it. */
static gint64 earliest_fit(const log_matcher *m, const GArray *refs, const log_rst_event *ev,
                           const clock_guess *clock, int64_t after, line_filter filter, guint taken_by_round)
{
    if (!refs)
        return -1;
    /* lines without a zone sit `zone` away from the packet time, lines with one do not */
    int shifts = clock->zone_us == 0 ? 1 : 2;
    gint64 best = -1;
    int64_t best_time = 0;
    for (int pass = 0; pass < shifts; pass++) {
        int64_t shift = (pass == 0 ? clock->zone_us : 0) + clock->skew_us;
        int64_t from = ev->time_us + shift - MAX_RESOLUTION_US - SLACK_US;
        for (guint i = lower_bound(refs, from); i < refs->len; i++) {
            const entry_ref *ref = &g_array_index(refs, entry_ref, i);
            if (ref->time_us > ev->time_us + shift + after)
                break;
            const log_entry *e = entry_at(m, ref->entry);
            if (taken(m, ref->entry, taken_by_round) || (shifts == 2 && e->has_zone != (pass == 1))
                || !fits(e, ev) || !passes(filter, e, ev))
                continue;
            int64_t delta = ref->time_us - offset_of(e, clock) - ev->time_us;
            if (delta <= -(int64_t)e->resolution_us - SLACK_US || delta > after)
                continue;
            if (best < 0 || delta < best_time)
                best = ref->entry, best_time = delta;
            break;   /* later refs of this pass are written later */
        }
    }
    return best;
}

/* A pairing round: the lines it searches (a RST's sender's when NULL), how
 * late after its RST a line may be written, which lines pass, and whether its
 * pairs back the clock (report.pairs). */
typedef struct {
    const GArray *refs;
    int64_t after;
    line_filter filter;
    gboolean counted;
} pairing_round;

#define FINAL_ROUNDS 7

/* The final assignment's rounds, in order: lines written promptly first, so
 * that a late line does not take a RST's own; lines quoting the RST's request
 * before the others; lines naming no address last. */
static void final_rounds(const log_matcher *m, pairing_round rounds[FINAL_ROUNDS])
{
    int64_t window = m->settings.window_us ? m->settings.window_us : DEFAULT_WINDOW_US;
    int64_t late = MAX(window, PROMPT_US);
    const pairing_round table[FINAL_ROUNDS] = {
        { NULL, PROMPT_US, LINE_QUOTING_REQUEST, TRUE },
        { NULL, late, LINE_QUOTING_REQUEST, TRUE },
        { NULL, PROMPT_US, ANY_LINE, TRUE },
        { NULL, late, ANY_LINE, TRUE },
        { NULL, MAX(window, LATE_WITH_PORT_US), LINE_NAMING_PORT, TRUE },
        { m->without_address, PROMPT_US, ANY_LINE, FALSE },
        { m->without_address, late, ANY_LINE, FALSE },
    };
    memcpy(rounds, table, sizeof table);
}

/* The lines RST r may take in a round. */
static const GArray *round_lines(const log_matcher *m, const pairing_round *round, guint r)
{
    const rst_lines *own = &g_array_index(m->rst_lines, rst_lines, r);
    return round->filter == LINE_QUOTING_REQUEST ? own->quoting
         : round->refs ? round->refs
         : round->filter == UNQUOTED_LINE_IF_QUOTED && own->quoting ? own->unquoted
         : own->all;
}

/* The final assignment gives entry to slot in round final_round. */
static void record_pair(log_matcher *m, guint slot, gint64 entry, guint final_round)
{
    guint claimed = (guint)entry;
    m->line_of_slot[slot] = entry;
    m->entry_owner[entry] = slot + 1;
    m->entry_round[entry] = (uint8_t)final_round;
    g_array_append_val(m->claimed, claimed);
}

/* One round: every RST of `order` (RST numbers in time order) whose stream
 * has no line yet takes the earliest free line that fits and passes the
 * filter. Returns how many it paired; records them when final_round (its
 * number) is not 0. */
static guint pair_round(log_matcher *m, const GArray *order, const pairing_round *round, const clock_guess *clock,
                        guint final_round)
{
    guint paired = 0;
    for (guint k = 0; k < order->len; k++) {
        guint r = g_array_index(order, guint, k);
        guint slot = g_array_index(m->rst_slot, guint, r);
        if (m->slot_taken[slot] == m->generation)
            continue;
        const log_rst_event *ev = &g_array_index(m->rsts, log_rst_event, r);
        gint64 entry = earliest_fit(m, round_lines(m, round, r), ev, clock, round->after, round->filter, 0);
        if (entry < 0)
            continue;
        m->entry_taken[entry] = m->generation;
        m->slot_taken[slot] = m->generation;
        paired++;
        if (final_round)
            record_pair(m, slot, entry, final_round);
    }
    return paired;
}

/* How many RSTs of `order` take a line through their address, written
 * promptly, under a guess of the clock: the measure of the guess. When
 * `strict`, a RST whose request a line of its sender quotes counts only with
 * such a line (taken first) or one quoting no request. */
static guint explained(log_matcher *m, const GArray *order, const clock_guess *clock, gboolean strict)
{
    static const pairing_round any = { NULL, PROMPT_US, ANY_LINE, FALSE };
    static const pairing_round quoting = { NULL, PROMPT_US, LINE_QUOTING_REQUEST, FALSE };
    static const pairing_round unquoted = { NULL, PROMPT_US, UNQUOTED_LINE_IF_QUOTED, FALSE };
    new_generation(m);
    if (!strict)
        return pair_round(m, order, &any, clock, 0);
    guint quoted = pair_round(m, order, &quoting, clock, 0);
    return quoted + pair_round(m, order, &unquoted, clock, 0);
}

/* ---- the clock ---------------------------------------------------------------- */

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

/* Every line of a RST's sender within any zone's reach votes for the
 * quarter-hour zone that puts it next to the RST; the zones with most votes
 * are then tried skew by skew. */
static guint candidate_zones(log_matcher *m, int64_t zones[ZONE_CANDIDATES])
{
    uint32_t votes[ZONE_BUCKETS] = { 0 };
    int64_t reach = ZONE_LIMIT_QUARTERS * QUARTER_HOUR_US + MAX_SKEW_US + MAX_RESOLUTION_US;
    for (guint r = 0; r < m->rsts->len; r++) {
        const log_rst_event *ev = &g_array_index(m->rsts, log_rst_event, r);
        const GArray *refs = g_array_index(m->rst_lines, rst_lines, r).all;
        guint voters = 0;
        for (guint i = refs ? lower_bound(refs, ev->time_us - reach) : 0; refs && i < refs->len
             && voters < MAX_VOTERS; i++) {
            const entry_ref *ref = &g_array_index(refs, entry_ref, i);
            if (ref->time_us > ev->time_us + reach)
                break;
            const log_entry *e = entry_at(m, ref->entry);
            if (e->has_zone || !fits(e, ev))
                continue;
            int64_t c = ref->time_us - ev->time_us;
            int64_t quarters = (c + (c >= 0 ? 1 : -1) * QUARTER_HOUR_US / 2) / QUARTER_HOUR_US;
            if (llabs(quarters) > ZONE_LIMIT_QUARTERS
                || llabs(c - quarters * QUARTER_HOUR_US) > MAX_SKEW_US + MAX_RESOLUTION_US)
                continue;
            votes[quarters + ZONE_LIMIT_QUARTERS]++;
            voters++;
        }
    }
    guint count = 0;
    for (guint n = 0; n < ZONE_CANDIDATES; n++) {
        int best = -1;
        for (int b = 0; b < ZONE_BUCKETS; b++) {
            gboolean chosen = FALSE;
            for (guint k = 0; k < count; k++)
                chosen |= zones[k] == (b - ZONE_LIMIT_QUARTERS) * QUARTER_HOUR_US;
            if (!chosen && votes[b] && (best < 0 || votes[b] > votes[best]))
                best = b;
        }
        if (best < 0)
            break;
        zones[count++] = (best - ZONE_LIMIT_QUARTERS) * QUARTER_HOUR_US;
    }
    return count;
}

typedef struct {
    clock_guess clock;
    guint count;
} scored_guess;

/* a before b: explains more lines, then has the smaller skew, then the smaller zone */
static gboolean better(const scored_guess *a, const scored_guess *b)
{
    if (a->count != b->count)
        return a->count > b->count;
    if (llabs(a->clock.skew_us) != llabs(b->clock.skew_us))
        return llabs(a->clock.skew_us) < llabs(b->clock.skew_us);
    return llabs(a->clock.zone_us) < llabs(b->clock.zone_us);
}

/* Tries every candidate zone with every skew (or the given ones) and keeps the
 * guess that explains most lines -- and, for the margin test, the best guess
 * that is another explanation: farther than one guess's span of fitting
 * offsets (a line's resolution, the slack and the prompt writing). */
static void estimate_clock(log_matcher *m)
{
    int64_t zones[ZONE_CANDIDATES];
    guint zone_count = 1;
    switch (m->settings.zone_mode) {
    case LOG_ZONE_UTC:   zones[0] = 0; break;
    case LOG_ZONE_LOCAL: zones[0] = local_zone_us(g_array_index(m->rsts, log_rst_event, 0).time_us); break;
    case LOG_ZONE_FIXED: zones[0] = (int64_t)m->settings.fixed_offset_s * US_PER_SEC; break;
    default:
        zones[0] = 0;
        zone_count = m->all_zoned ? 1 : candidate_zones(m, zones);
        break;
    }
    int64_t skew_from = -MAX_SKEW_US, skew_to = MAX_SKEW_US;
    if (m->settings.skew_given)
        skew_from = skew_to = -m->settings.skew_us;
    /* a guess explains only RSTs whose sender some line names: the others are left out of the trials */
    GArray *named = g_array_new(FALSE, FALSE, sizeof(guint));
    for (guint k = 0; k < m->order->len; k++) {
        guint r = g_array_index(m->order, guint, k);
        if (g_array_index(m->rst_lines, rst_lines, r).all)
            g_array_append_val(named, r);
    }
    /* In a dense log, lines of one peer are interchangeable by time: a clock
     * off by most of a second still pairs each RST with a neighbour's line,
     * and about as many. A line quoting a request is its RST's when the
     * stream carried it: measured strictly, such a RST takes no other
     * request's line. Where no pair passes, the lines are measured by time
     * alone. */
    GArray *guesses = g_array_new(FALSE, FALSE, sizeof(scored_guess));
    scored_guess best = { { zones[0], skew_from == skew_to ? skew_from : 0 }, 0 };
    for (int strict = 1; strict >= 0 && best.count == 0; strict--) {
        g_array_set_size(guesses, 0);
        for (guint z = 0; z < zone_count; z++) {
            for (int64_t skew = skew_from; skew <= skew_to; skew += SKEW_STEP_US) {
                scored_guess g = { { zones[z], skew }, explained(m, named, &(clock_guess){ zones[z], skew }, strict) };
                g_array_append_val(guesses, g);
                if (better(&g, &best))
                    best = g;
            }
        }
    }
    scored_guess other = { { 0, 0 }, 0 };
    for (guint i = 0; i < guesses->len; i++) {
        const scored_guess *g = &g_array_index(guesses, scored_guess, i);
        int64_t apart = llabs(g->clock.zone_us + g->clock.skew_us - best.clock.zone_us - best.clock.skew_us);
        if (apart > MAX_RESOLUTION_US + SLACK_US + PROMPT_US && better(g, &other))
            other = *g;
    }
    g_array_free(guesses, TRUE);
    g_array_free(named, TRUE);

    gboolean supported = best.count > 0 || m->settings.zone_mode != LOG_ZONE_AUTO || m->all_zoned;
    m->report = (log_clock){ .known = supported };
    m->report.close_call = other.count > 0 && other.count * 1000 >= best.count * CLOSE_CALL_PER_MILLE;
    if (m->report.close_call && llabs(other.clock.skew_us) < llabs(best.clock.skew_us)) {
        scored_guess swap = best;
        best = other;
        other = swap;
    }
    gboolean synced_clock_fits = best.clock.skew_us == 0 && (other.clock.skew_us != 0 || other.count < best.count);
    m->report.undecided = m->settings.zone_mode == LOG_ZONE_AUTO && !m->settings.skew_given && !m->all_zoned
        && !synced_clock_fits && best.count < FIRM_PAIRS && best.count < other.count + LEAD_PAIRS;
    m->clock = best.clock;
    m->report.other_offset_us = other.clock.zone_us + other.clock.skew_us;
    m->report.other_pairs = other.count;
    m->estimated_for = m->rsts->len;
}

/* ---- the assignment ----------------------------------------------------------- */

static gint compare_rst_times(gconstpointer a, gconstpointer b, gpointer data)
{
    const GArray *rsts = data;
    guint x = *(const guint *)a, y = *(const guint *)b;
    int64_t tx = g_array_index(rsts, log_rst_event, x).time_us, ty = g_array_index(rsts, log_rst_event, y).time_us;
    if (tx != ty)
        return tx < ty ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Gives RST r, the latest in time, the line the final rounds would give it,
 * without pairing the others again: the rounds run in order and r comes last
 * in each, so the others keep their lines unless r takes one that another RST
 * took in a later round, or pairs its stream before the round that paired
 * it. FALSE then: everything must be paired again. */
static gboolean assign_latest(log_matcher *m, guint r)
{
    if (!m->report.known || m->report.undecided)
        return TRUE;   /* no round runs */
    guint slot = g_array_index(m->rst_slot, guint, r);
    gint64 stream_line = m->line_of_slot[slot];
    guint stream_round = stream_line >= 0 ? m->entry_round[stream_line] : FINAL_ROUNDS + 1;
    pairing_round rounds[FINAL_ROUNDS];
    final_rounds(m, rounds);
    const log_rst_event *ev = &g_array_index(m->rsts, log_rst_event, r);
    for (guint k = 1; k < stream_round && k <= FINAL_ROUNDS; k++) {
        const pairing_round *round = &rounds[k - 1];
        gint64 entry = earliest_fit(m, round_lines(m, round, r), ev, &m->clock, round->after, round->filter, k);
        if (entry < 0)
            continue;
        if (stream_line >= 0 || m->entry_owner[entry] != 0)
            return FALSE;
        record_pair(m, slot, entry, k);
        m->report.pairs += round->counted;
        break;
    }
    return TRUE;
}

/* The RSTs added since the last assignment, one by one (assign_latest), when
 * each is the latest in time; FALSE when everything must be paired again. */
static gboolean assign_added(log_matcher *m)
{
    for (guint r = m->solved_for; r < m->rsts->len; r++) {
        if (g_array_index(m->order, guint, r) != r || !assign_latest(m, r))
            return FALSE;
    }
    return TRUE;
}

/* Pairs every RST added so far with the lines, under one clock for the file.
 * Asked after each new RST in a single pass, so a new RST is added to the
 * last assignment where that gives the same lines (assign_added). */
static void solve(log_matcher *m)
{
    gboolean settled = m->solved_for == m->rsts->len;
    if (settled && m->estimated_for == m->rsts->len)
        return;
    guint slots = g_hash_table_size(m->slot_of_stream);
    if (slots > m->slots_allocated) {
        guint before = m->slots_allocated;
        m->slots_allocated = MAX(slots, 2 * m->slots_allocated);
        m->line_of_slot = g_renew(gint64, m->line_of_slot, m->slots_allocated);
        for (guint s = before; s < m->slots_allocated; s++)
            m->line_of_slot[s] = -1;
        g_free(m->slot_taken);
        m->slot_taken = g_new0(uint32_t, m->slots_allocated);
        m->generation = 0;
        memset(m->entry_taken, 0, sizeof(uint32_t) * MAX(m->entry_count, 1));
    }
    /* the new RSTs into the time order: they come in capture order, nearly sorted */
    for (guint r = m->order->len; r < m->rsts->len; r++) {
        guint k = m->order->len;
        g_array_set_size(m->order, k + 1);
        for (; k > 0 && compare_rst_times(&g_array_index(m->order, guint, k - 1), &r, m->rsts) > 0; k--)
            g_array_index(m->order, guint, k) = g_array_index(m->order, guint, k - 1);
        g_array_index(m->order, guint, k) = r;
    }

    gboolean weak = m->report.pairs < WEAK_SUPPORT && m->rsts->len <= FEW_RSTS;
    if (settled || weak || m->estimated_for == 0 || m->rsts->len >= REESTIMATE_GROWTH * m->estimated_for)
        estimate_clock(m);
    else if (m->solved_for < m->rsts->len && assign_added(m)) {
        m->solved_for = m->rsts->len;
        return;
    }

    for (guint s = 0; s < m->slots_allocated; s++)
        m->line_of_slot[s] = -1;
    for (guint i = 0; i < m->claimed->len; i++)
        m->entry_owner[g_array_index(m->claimed, guint, i)] = 0;
    g_array_set_size(m->claimed, 0);
    new_generation(m);
    m->report.pairs = 0;
    if (m->report.known && !m->report.undecided) {
        pairing_round rounds[FINAL_ROUNDS];
        final_rounds(m, rounds);
        for (guint k = 0; k < FINAL_ROUNDS; k++) {
            guint paired = pair_round(m, m->order, &rounds[k], &m->clock, k + 1);
            if (rounds[k].counted)
                m->report.pairs += paired;
        }
    }
    m->report.offset_us = m->clock.zone_us + m->clock.skew_us;
    m->solved_for = m->rsts->len;
}

static log_match_kind kind_of(const log_entry *e)
{
    return e->family == 0 ? LOG_MATCH_TIME : e->port ? LOG_MATCH_ADDRESS_PORT : LOG_MATCH_ADDRESS;
}

gboolean log_matcher_result(log_matcher *m, guint rst, log_match_result *out)
{
    if (rst >= m->rsts->len)
        return FALSE;
    solve(m);
    gint64 entry = m->line_of_slot[g_array_index(m->rst_slot, guint, rst)];
    if (entry < 0)
        return FALSE;
    const log_entry *e = entry_at(m, (guint)entry);
    out->entry = (guint)entry;
    out->kind = kind_of(e);
    out->offset_us = offset_of(e, &m->clock);
    out->delta_us = g_array_index(m->ref_of_entry, entry_ref, (guint)entry).time_us - out->offset_us
        - g_array_index(m->rsts, log_rst_event, rst).time_us;
    return TRUE;
}

void log_matcher_clock(log_matcher *m, log_clock *out)
{
    if (m->rsts->len)
        solve(m);
    *out = m->report;
    out->rsts = m->rsts->len;
}

gboolean log_matcher_entry_used(log_matcher *m, guint entry)
{
    if (m->rsts->len)
        solve(m);
    return entry < m->entry_count && m->entry_owner[entry] != 0;
}

guint log_matcher_used_count(log_matcher *m)
{
    if (m->rsts->len)
        solve(m);
    return m->claimed->len;
}

/* An offset as "+0.250 s", or "+05:00 +3.000 s" beyond a quarter-hour. */
static void describe_offset(GString *out, int64_t offset_us)
{
    int64_t quarters = (offset_us + (offset_us >= 0 ? 1 : -1) * QUARTER_HOUR_US / 2) / QUARTER_HOUR_US;
    int64_t skew = offset_us - quarters * QUARTER_HOUR_US;
    if (quarters)
        g_string_append_printf(out, "%c%02d:%02d ", quarters < 0 ? '-' : '+', (int)(llabs(quarters) / 4),
                               (int)(llabs(quarters) % 4 * 15));
    g_string_append_printf(out, "%c%d.%03d s", skew < 0 ? '-' : '+', (int)(llabs(skew) / US_PER_SEC),
                           (int)(llabs(skew) % US_PER_SEC / 1000));
}

char *log_clock_describe(const log_clock *clock)
{
    GString *out = g_string_new("clock offset ");
    if (!clock->known) {
        g_string_append(out, "unknown: no RST fits a line");
        return g_string_free(out, FALSE);
    }
    if (clock->undecided) {
        g_string_append_printf(out, "not settled yet: %u RST%s fit several offsets about equally; no line tied",
                               clock->rsts, clock->rsts == 1 ? "" : "s");
        return g_string_free(out, FALSE);
    }
    describe_offset(out, clock->offset_us);
    g_string_append_printf(out, " from %u pair%s", clock->pairs, clock->pairs == 1 ? "" : "s");
    if (clock->close_call) {
        g_string_append(out, " (");
        describe_offset(out, clock->other_offset_us);
        g_string_append_printf(out, " explains %u lines about as well; the smaller skew is taken)", clock->other_pairs);
    }
    return g_string_free(out, FALSE);
}

/* ---- the lines no RST explains --------------------------------------------- */

static gint compare_linenos(gconstpointer a, gconstpointer b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void log_matcher_census(log_matcher *m, int64_t first_us, int64_t last_us, log_census *out)
{
    memset(out, 0, sizeof *out);
    if (m->rsts->len)
        solve(m);
    out->offset_known = m->report.known;
    int64_t zone = out->offset_known ? m->clock.zone_us : 0, skew = out->offset_known ? m->clock.skew_us : 0;
    int64_t window = m->settings.window_us ? m->settings.window_us : DEFAULT_WINDOW_US;
    GArray *inside = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    for (guint i = 0; i < m->entry_count; i++) {
        const log_entry *e = entry_at(m, i);
        if (!e->reports_rst)
            continue;
        if (m->entry_owner[i]) {
            out->explained++;
            continue;
        }
        int64_t written = e->has_year ? e->time_us : in_year_near(e->time_us, first_us);
        int64_t t = written - (e->has_zone ? 0 : zone) - skew;   /* on the capture's clock */
        /* the reach a RST at either end of the capture has (see earliest_fit()) */
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
