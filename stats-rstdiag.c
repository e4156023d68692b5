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
 * phase, sender, origin, kernel reason, the log -- and named so that
 * reverse name order is that same order. Each names the field its rows
 * filter on: a row "refused" under "... (rstdiag.cause)" is
 * rstdiag.cause == "refused". */
static const char *const node_cause = "All RSTs by cause, phases beneath (rstdiag.cause)";
static const char *const node_phase = "When: connection phase (rstdiag.phase)";
static const char *const node_streams = "Connections reset (tcp.stream)";
static const char *const node_sender = "Sender role (rstdiag.sender)";
static const char *const node_address = "Sender address (ip.src, ipv6.src)";
static const char *const node_origin = "Origin: endpoint or device in the path (rstdiag.origin)";
static const char *const node_kernel = "Kernel reason, likely (rstdiag.kernel_reason)";
static const char *const node_log = "Application log: RSTs with a line (rstdiag.log)";
static const char *const node_with_line = "with a log line";
static const char *const node_without_line = "without a log line";
/* log lines, not RSTs: a group of its own */
static const char *const node_unmatched = "Application log lines with no RST";

static int id_cause, id_phase, id_sender, id_origin, id_kernel, id_address, id_log, id_unmatched;
/* The unmatched lines are in this tree run already (the GUI's dialog opens
 * one tree at a time). */
static gboolean unmatched_listed;

static void add_unmatched_line(const char *path, guint lineno, void *data)
{
    stats_tree *st = (stats_tree *)data;
    char *name = g_strdup_printf("%s line %u", path, lineno);
    set_stat_node(st, name, id_unmatched, FALSE, 1);
    g_free(name);
}

/* Once matching is final: the count and every line, whatever the filter. */
static void list_unmatched_lines(stats_tree *st)
{
    guint lines, unmatched;
    rstdiag_log_line_counts(&lines, &unmatched);
    if (lines) {
        set_stat_node(st, node_unmatched, 0, TRUE, (gint)unmatched);
        rstdiag_foreach_unmatched_line(add_unmatched_line, st);
    }
    unmatched_listed = TRUE;
}

static void stats_init(stats_tree *st)
{
    id_cause = stats_tree_create_node(st, node_cause, 0, STAT_DT_INT, TRUE);
    stats_tree_manip_node_int(MN_SET_FLAGS, st, node_cause, 0, FALSE, ST_FLG_SORT_TOP);
    id_phase = stats_tree_create_node(st, node_phase, 0, STAT_DT_INT, TRUE);
    id_sender = stats_tree_create_node(st, node_sender, 0, STAT_DT_INT, TRUE);
    id_address = stats_tree_create_node(st, node_address, 0, STAT_DT_INT, TRUE);
    id_origin = stats_tree_create_node(st, node_origin, 0, STAT_DT_INT, TRUE);
    id_kernel = stats_tree_create_node(st, node_kernel, 0, STAT_DT_INT, TRUE);
    stats_tree_create_node(st, node_streams, 0, STAT_DT_INT, FALSE);
    id_log = stats_tree_create_node(st, node_log, 0, STAT_DT_INT, TRUE);
    stats_tree_create_node(st, node_with_line, id_log, STAT_DT_INT, FALSE);
    stats_tree_create_node(st, node_without_line, id_log, STAT_DT_INT, FALSE);
    id_unmatched = stats_tree_create_node(st, node_unmatched, 0, STAT_DT_INT, TRUE);
    unmatched_listed = FALSE;
    if (rstdiag_matching_final(0))   /* the GUI's dialog: the capture was read before */
        list_unmatched_lines(st);
    else                             /* tshark's single pass: told on stderr at the end */
        rstdiag_report_unmatched_at_close();
}

static tap_packet_status stats_packet(stats_tree *st, packet_info *pinfo, epan_dissect_t *edt _U_,
                                      const void *data, tap_flags_t flags _U_)
{
    const rstdiag_record *record = (const rstdiag_record *)data;
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

    guint lines, unmatched;
    rstdiag_log_line_counts(&lines, &unmatched);
    if (lines) {
        tick_stat_node(st, node_log, 0, TRUE);
        tick_stat_node(st, record->hit_count ? node_with_line : node_without_line, id_log, FALSE);
        if (!unmatched_listed && rstdiag_matching_final(pinfo->num))   /* tshark -2: the second pass */
            list_unmatched_lines(st);
        else if (!unmatched_listed)   /* exact once the last RST has been matched */
            set_stat_node(st, node_unmatched, 0, TRUE, (gint)unmatched);
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
