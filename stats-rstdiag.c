/* stats-rstdiag.c - the "TCP RST Diagnosis" statistics tree: Statistics menu
 * in the GUI, `tshark -q -z rstdiag,tree[,filter]` on the command line.
 * Fed by the "rstdiag" tap, one record per RST (see packet-rstdiag.c). */
#include "packet-rstdiag.h"

#include <epan/to_str.h>
#include <epan/stats_tree.h>

static const char *const node_all = "All RSTs";
static const char *const node_cause = "By cause (phases beneath)";
static const char *const node_phase = "By phase";
static const char *const node_sender = "By sender role";
static const char *const node_origin = "By origin (endpoint or device in the path)";
static const char *const node_kernel = "By likely kernel reason";
static const char *const node_address = "By sender address";
static const char *const node_streams = "Streams reset";
static const char *const node_log = "Log correlation";
static const char *const node_with_line = "RSTs with a log line";
static const char *const node_without_line = "RSTs without a log line";
static const char *const node_unmatched = "Log reset lines with no RST";

static int id_cause, id_phase, id_sender, id_origin, id_kernel, id_address, id_log, id_unmatched;

static void stats_init(stats_tree *st)
{
    stats_tree_create_node(st, node_all, 0, STAT_DT_INT, FALSE);
    stats_tree_manip_node_int(MN_SET_FLAGS, st, node_all, 0, FALSE, ST_FLG_SORT_TOP);
    id_cause = stats_tree_create_node(st, node_cause, 0, STAT_DT_INT, TRUE);
    id_phase = stats_tree_create_node(st, node_phase, 0, STAT_DT_INT, TRUE);
    id_sender = stats_tree_create_node(st, node_sender, 0, STAT_DT_INT, TRUE);
    id_origin = stats_tree_create_node(st, node_origin, 0, STAT_DT_INT, TRUE);
    id_kernel = stats_tree_create_node(st, node_kernel, 0, STAT_DT_INT, TRUE);
    id_address = stats_tree_create_node(st, node_address, 0, STAT_DT_INT, TRUE);
    stats_tree_create_node(st, node_streams, 0, STAT_DT_INT, FALSE);
    id_log = stats_tree_create_node(st, node_log, 0, STAT_DT_INT, TRUE);
    stats_tree_create_node(st, node_with_line, id_log, STAT_DT_INT, FALSE);
    stats_tree_create_node(st, node_without_line, id_log, STAT_DT_INT, FALSE);
    id_unmatched = stats_tree_create_node(st, node_unmatched, id_log, STAT_DT_INT, TRUE);
}

static void add_unmatched_line(const char *path, guint lineno, void *data)
{
    stats_tree *st = (stats_tree *)data;
    char *name = g_strdup_printf("%s line %u", path, lineno);
    set_stat_node(st, name, id_unmatched, FALSE, 1);
    g_free(name);
}

/* told on stderr instead when the tree is built in tshark's only pass */
static void add_log_clock(const char *path, const char *clock, void *data)
{
    stats_tree *st = (stats_tree *)data;
    char *name = g_strdup_printf("%s: %s", path, clock);
    set_stat_node(st, name, id_log, FALSE, 1);
    g_free(name);
}

static tap_packet_status stats_packet(stats_tree *st, packet_info *pinfo, epan_dissect_t *edt _U_,
                                      const void *data, tap_flags_t flags _U_)
{
    const rstdiag_record *record = (const rstdiag_record *)data;
    const rst_diagnosis *diag = &record->diag;

    tick_stat_node(st, node_all, 0, FALSE);
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
        /* exact once the last RST has been matched, which is this call or a later one */
        set_stat_node(st, node_unmatched, id_log, TRUE, (gint)unmatched);
        if (record->first_in_capture) {
            if (rstdiag_matching_final(pinfo->num)) {
                rstdiag_foreach_log_clock(add_log_clock, st);
                rstdiag_foreach_unmatched_line(add_unmatched_line, st);
            }
            else
                rstdiag_report_unmatched_at_close();
        }
    }
    return TAP_PACKET_REDRAW;
}

void register_rstdiag_stats(void)
{
    /* largest counts first: the GUI otherwise sorts by name */
    guint sort_by_count = (ST_SORT_COL_COUNT << ST_FLG_SRTCOL_SHIFT) | ST_FLG_SORT_DESC;
    stats_tree_register_plugin("rstdiag", "rstdiag", "TCP RST Diagnosis", sort_by_count, stats_packet,
                               stats_init, NULL);
}
