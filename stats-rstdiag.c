/* SPDX-License-Identifier: GPL-2.0-or-later */
/* stats-rstdiag.c - the "TCP RST diagnosis (rstdiag)" statistics tree: Statistics menu
 * in the GUI, `tshark -q -z rstdiag,tree[,filter]` on the command line.
 * Fed by the "rstdiag" tap, one record per RST (see packet-rstdiag.c). */
#include "packet-rstdiag.h"

#include <epan/to_str.h>
#include <epan/stats_tree.h>

/* tshark prints the top level in creation order and sorts inside the groups
 * by count, largest first (the flags given at registration). The GUI's
 * dialog ignores those flags (4.0 to 4.6): it opens sorted on the name
 * column, descending, with ST_FLG_SORT_TOP nodes first. So the groups are
 * created in the order a reader takes them -- cause (on top, and the total),
 * phase, sender, origin, kernel reason, keep-alive races, the log -- and
 * named so that reverse name order is that same order. Each names the field
 * its rows filter on: a row "refused" under "... (rstdiag.cause)" is
 * rstdiag.cause == "refused". */
static const char *const node_cause = "All RSTs by cause, phases beneath (rstdiag.cause)";
static const char *const node_phase = "When: connection phase (rstdiag.phase)";
static const char *const node_sender = "Sender role (rstdiag.sender)";
static const char *const node_address = "Sender address (ip.src, ipv6.src)";
static const char *const node_origin = "Origin: endpoint or device in the path (rstdiag.origin)";
static const char *const node_kernel = "Kernel reason, likely (rstdiag.kernel_reason)";
static const char *const node_races = "Idle gaps of keep-alive races (rstdiag.cause == \"keepalive-race\")";
static const char *const node_streams = "Connections reset (tcp.stream)";
static const char *const node_log = "Application log: RSTs with a line (rstdiag.log)";
static const char *const node_with_line = "with a log line";
static const char *const node_without_line = "without a log line";
/* log lines, not RSTs: a group of its own */
static const char *const node_unmatched = "Application log lines with no RST";
static const char *const node_inside = "In the capture's time";
static const char *const node_outside = "Outside the capture's time";

static int id_cause, id_phase, id_sender, id_origin, id_kernel, id_address, id_races, id_log, id_unmatched;
/* The unmatched lines are in this tree run already: listed with the first RST
 * it is given, whatever the filter (the GUI's dialog runs one tree at a time). */
static gboolean census_listed;

static void stats_init(stats_tree *st)
{
    id_cause = stats_tree_create_node(st, node_cause, 0, STAT_DT_INT, TRUE);
    stats_tree_manip_node_int(MN_SET_FLAGS, st, node_cause, 0, FALSE, ST_FLG_SORT_TOP);
    id_phase = stats_tree_create_node(st, node_phase, 0, STAT_DT_INT, TRUE);
    id_sender = stats_tree_create_node(st, node_sender, 0, STAT_DT_INT, TRUE);
    id_address = stats_tree_create_node(st, node_address, 0, STAT_DT_INT, TRUE);
    id_origin = stats_tree_create_node(st, node_origin, 0, STAT_DT_INT, TRUE);
    id_kernel = stats_tree_create_node(st, node_kernel, 0, STAT_DT_INT, TRUE);
    id_races = stats_tree_create_node(st, node_races, 0, STAT_DT_INT, TRUE);
    stats_tree_create_node(st, node_streams, 0, STAT_DT_INT, FALSE);
    id_log = stats_tree_create_node(st, node_log, 0, STAT_DT_INT, TRUE);
    stats_tree_create_node(st, node_with_line, id_log, STAT_DT_INT, FALSE);
    stats_tree_create_node(st, node_without_line, id_log, STAT_DT_INT, FALSE);
    id_unmatched = stats_tree_create_node(st, node_unmatched, 0, STAT_DT_INT, TRUE);
    census_listed = FALSE;
}

/* Each log's clock, found from all its RSTs: "clock offset +0.000 s from 10 pairs". */
static void add_clocks(stats_tree *st, const rstdiag_tap_data *tap)
{
    for (guint i = 0; i < tap->log_count; i++) {
        char *clock = log_clock_describe(&tap->logs[i].clock);
        char *name = g_strdup_printf("%s: %s", tap->logs[i].path, clock);
        set_stat_node(st, name, id_log, FALSE, 1);
        g_free(name);
        g_free(clock);
    }
}

/* Where the lines with no RST were written, against the capture: counts, and
 * the first few lines within its time by name; one node per listed line. */
static void add_census(stats_tree *st, const rstdiag_tap_data *tap)
{
    guint inside = 0, outside = 0;
    for (guint i = 0; i < tap->log_count; i++) {
        inside += tap->logs[i].census.inside;
        outside += tap->logs[i].census.outside;
    }
    int id_inside = set_stat_node(st, node_inside, id_unmatched, TRUE, (gint)inside);
    set_stat_node(st, node_outside, id_unmatched, FALSE, (gint)outside);
    for (guint i = 0; i < tap->log_count; i++) {
        const rstdiag_log_summary *s = &tap->logs[i];
        for (guint n = 0; n < s->census.listed; n++) {
            char *name = g_strdup_printf("%s line %u", s->path, s->census.listed_lineno[n]);
            set_stat_node(st, name, id_inside, FALSE, 1);
            g_free(name);
        }
        if (s->census.listed < s->census.inside) {
            char *name = g_strdup_printf("%s: more lines, not listed", s->path);
            set_stat_node(st, name, id_inside, FALSE, (gint)(s->census.inside - s->census.listed));
            g_free(name);
        }
    }
}

static tap_packet_status stats_packet(stats_tree *st, packet_info *pinfo, epan_dissect_t *edt _U_,
                                      const void *data, tap_flags_t flags _U_)
{
    const rstdiag_tap_data *tap = (const rstdiag_tap_data *)data;
    const rstdiag_record *record = tap->record;
    const rst_diagnosis *diag = &record->diag;

    tick_stat_node(st, node_cause, 0, TRUE);
    int cause = tick_stat_node(st, rst_cause_token(diag->cause), id_cause, TRUE);
    tick_stat_node(st, rst_phase_token(diag->phase), cause, FALSE);
    tick_stat_node(st, node_phase, 0, TRUE);
    tick_stat_node(st, rst_phase_token(diag->phase), id_phase, FALSE);
    tick_stat_node(st, node_sender, 0, TRUE);
    tick_stat_node(st, rst_sender_token(diag->sender), id_sender, FALSE);
    tick_stat_node(st, node_origin, 0, TRUE);
    tick_stat_node(st, rst_origin_token(diag->origin), id_origin, FALSE);
    tick_stat_node(st, node_kernel, 0, TRUE);
    tick_stat_node(st, rst_kernel_reason_token(diag->kernel_reason), id_kernel, FALSE);
    tick_stat_node(st, node_address, 0, TRUE);
    tick_stat_node(st, address_to_str(pinfo->pool, &pinfo->src), id_address, FALSE);
    if (record->first_in_stream)
        tick_stat_node(st, node_streams, 0, FALSE);
    if (diag->cause == CAUSE_KEEPALIVE_RACE) {
        /* the idle gaps seen, to the second: a closing timer shows as one gap */
        char gap[48];
        g_snprintf(gap, sizeof gap, "idle %.0f s before the request", diag->keepalive_idle_us / 1e6);
        tick_stat_node(st, node_races, 0, TRUE);
        tick_stat_node(st, gap, id_races, FALSE);
    }

    guint lines = 0, unmatched = 0;
    for (guint i = 0; i < tap->log_count; i++) {
        lines += tap->logs[i].lines;
        unmatched += tap->logs[i].lines - tap->logs[i].census.explained;
    }
    if (lines) {
        tick_stat_node(st, node_log, 0, TRUE);
        tick_stat_node(st, record->hit_count ? node_with_line : node_without_line, id_log, FALSE);
        /* exact once the last RST has been matched, which is this call or a later one */
        set_stat_node(st, node_unmatched, 0, TRUE, (gint)unmatched);
        /* placed in a later pass only: in the only one they are told at the end, on stderr */
        if (!census_listed && tap->logs[0].placed) {
            add_clocks(st, tap);
            add_census(st, tap);
            census_listed = TRUE;
        }
    }
    return TAP_PACKET_REDRAW;
}

void register_rstdiag_stats(void)
{
    /* largest counts first: the GUI otherwise sorts by name */
    guint sort_by_count = (ST_SORT_COL_COUNT << ST_FLG_SRTCOL_SHIFT) | ST_FLG_SORT_DESC;
    stats_tree_register_plugin("rstdiag", "rstdiag", RSTDIAG_NAME, sort_by_count, stats_packet,
                               stats_init, NULL);
}
