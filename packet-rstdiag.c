/* packet-rstdiag.c - RSTDIAG post-dissector: registration, fields,
 * preferences, expert info and tree rendering.
 *
 * The diagnosis itself lives in conn_track.c (per-stream state) and
 * rst_classify.c (the rules); this file only feeds them and shows results.
 *
 * Cost: the post-dissector reads TCP/IP values from the "tcp", "ip" and
 * "ipv6" taps (fetch_tapped_data) instead of asking for fields, so Wireshark
 * does not have to build a protocol tree for every packet. Each frame is
 * processed once, in capture order, the first time it is dissected with taps
 * (tshark's single pass or second pass, the GUI's loading pass); the verdict
 * of a RST is stored with p_add_proto_data and every later pass only renders
 * it, so all passes show the same values.
 */
#include "packet-rstdiag.h"

#include <epan/expert.h>
#include <epan/prefs.h>
#include <epan/proto_data.h>
#include <epan/tap.h>
#include <epan/dissectors/packet-ip.h>
#include <epan/dissectors/packet-tcp.h>
#include <wsutil/report_message.h>

#include "conn_track.h"
#include "rst_classify.h"

static int proto_rstdiag = -1;

static int hf_sender = -1;
static int hf_phase = -1;
static int hf_cause = -1;
static int hf_confidence = -1;
static int hf_kernel_reason = -1;
static int hf_evidence = -1;
static int hf_shape = -1;
static int hf_acceptable = -1;
static int hf_trigger = -1;
static int hf_idle = -1;
static int hf_age = -1;
static int hf_bytes_client = -1;
static int hf_bytes_server = -1;

static gint ett_rstdiag = -1;

static expert_field ei_cause[CAUSE_COUNT];

static int tcp_tap_id = -1;
static int ip_tap_id = -1;
static int ipv6_tap_id = -1;

/* Preferences. */
#define RESPONSE_TIMEOUT_DEFAULT_MS 1000
#define RESPONSE_TIMEOUT_MAX_MS (3600 * 1000)
static rstdiag_pref_bool_t pref_info_column = TRUE;
static guint pref_response_timeout_ms = RESPONSE_TIMEOUT_DEFAULT_MS;
static rst_settings settings = { RESPONSE_TIMEOUT_DEFAULT_MS };

/* File-scope state: stream index -> conn_stream; emptied when a file closes. */
static wmem_map_t *streams;
/* Highest frame already fed to the tracker in this file. */
static guint32 last_tracked_frame;
/* Identifies our helper tap listener (any unique address will do). */
static int tap_helper_token;
static gboolean tap_helper_registered;

/* ---- reading the segment ------------------------------------------------ */

static const tcp_info_t *innermost_tcp_header(void)
{
    const tcp_info_t *found = NULL;
    const tcp_info_t *tcph;
    /* several entries when TCP is tunnelled; the last is the innermost */
    for (int idx = 0; (tcph = (const tcp_info_t *)fetch_tapped_data(tcp_tap_id, idx)) != NULL; idx++) {
        if (tcph->th_have_seglen)   /* not a header quoted in an ICMP error */
            found = tcph;
    }
    return found;
}

/* TTL or hop limit of the IP header that carried this TCP header. */
static guint8 carrier_ttl(const tcp_info_t *tcph)
{
    const ws_ip4 *ip4;
    const ws_ip6 *ip6;
    guint8 ttl = 0;

    for (int idx = 0; (ip4 = (const ws_ip4 *)fetch_tapped_data(ip_tap_id, idx)) != NULL; idx++) {
        if (addresses_equal(&ip4->ip_src, &tcph->ip_src) && addresses_equal(&ip4->ip_dst, &tcph->ip_dst))
            ttl = ip4->ip_ttl;
    }
    for (int idx = 0; (ip6 = (const ws_ip6 *)fetch_tapped_data(ipv6_tap_id, idx)) != NULL; idx++) {
        if (addresses_equal(&ip6->ip6_src, &tcph->ip_src) && addresses_equal(&ip6->ip6_dst, &tcph->ip_dst))
            ttl = ip6->ip6_hop;
    }
    return ttl;
}

static guint32 endpoint_key(const address *addr, guint16 port)
{
    guint hash = add_address_to_hash(0, addr);
    return (guint32)(hash * 65599u + port);
}

static void read_segment(const tcp_info_t *tcph, const packet_info *pinfo, tcp_segment *seg)
{
    seg->frame = pinfo->num;
    seg->time_us = (int64_t)pinfo->abs_ts.secs * 1000000 + pinfo->abs_ts.nsecs / 1000;
    seg->src_key = endpoint_key(&tcph->ip_src, tcph->th_sport);
    seg->src_port = tcph->th_sport;
    seg->dst_port = tcph->th_dport;
    seg->seq = tcph->th_rawseq;
    seg->ack = tcph->th_rawack;
    seg->payload_len = tcph->th_seglen;
    seg->window = tcph->th_win;
    seg->flags = tcph->th_flags;
    seg->ttl = carrier_ttl(tcph);
}

/* First sight of a frame with tap data: update its stream and, for a RST,
 * return the stored verdict. */
static rst_diagnosis *track_frame(packet_info *pinfo)
{
    const tcp_info_t *tcph = innermost_tcp_header();
    if (tcph == NULL)
        return NULL;
    last_tracked_frame = pinfo->num;

    tcp_segment seg;
    read_segment(tcph, pinfo, &seg);

    gpointer key = GUINT_TO_POINTER(tcph->th_stream + 1);
    conn_stream *st = (conn_stream *)wmem_map_lookup(streams, key);
    if (st == NULL) {
        st = wmem_new0(wmem_file_scope(), conn_stream);
        wmem_map_insert(streams, key, st);
    }

    rst_diagnosis *diag = NULL;
    if (seg.flags & TCP_FLAG_RST) {
        diag = wmem_new(wmem_file_scope(), rst_diagnosis);
        rst_classify(st, &seg, &settings, diag);
        p_add_proto_data(wmem_file_scope(), pinfo, proto_rstdiag, 0, diag);
    }
    conn_track_segment(st, &seg);
    return diag;
}

/* ---- rendering ------------------------------------------------------------ */

static proto_item *add_token(proto_tree *tree, int hf, tvbuff_t *tvb, const char *token)
{
    proto_item *item = proto_tree_add_string(tree, hf, tvb, 0, 0, token);
    proto_item_set_generated(item);
    return item;
}

static void add_duration(proto_tree *tree, int hf, tvbuff_t *tvb, int64_t us)
{
    if (us < 0)
        return;
    nstime_t t = { (time_t)(us / 1000000), (int)(us % 1000000) * 1000 };
    proto_item_set_generated(proto_tree_add_time(tree, hf, tvb, 0, 0, &t));
}

static void render(const rst_diagnosis *diag, tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree)
{
    const char *cause = rst_cause_token(diag->cause);

    if (pref_info_column)
        col_append_fstr(pinfo->cinfo, COL_INFO, " [RST: %s]", cause);

    proto_item *top = proto_tree_add_item(tree, proto_rstdiag, tvb, 0, 0, ENC_NA);
    proto_item_set_generated(top);
    proto_item_append_text(top, ": %s by %s, phase %s (%s confidence)", cause,
                           rst_sender_token(diag->sender), rst_phase_token(diag->phase),
                           rst_confidence_token(diag->confidence));

    proto_tree *sub = proto_item_add_subtree(top, ett_rstdiag);
    add_token(sub, hf_sender, tvb, rst_sender_token(diag->sender));
    add_token(sub, hf_phase, tvb, rst_phase_token(diag->phase));
    expert_add_info(pinfo, add_token(sub, hf_cause, tvb, cause), &ei_cause[diag->cause]);
    add_token(sub, hf_confidence, tvb, rst_confidence_token(diag->confidence));
    add_token(sub, hf_kernel_reason, tvb, rst_kernel_reason_token(diag->kernel_reason));
    add_token(sub, hf_evidence, tvb, diag->evidence);
    add_token(sub, hf_shape, tvb, rst_shape_token(diag->shape));
    add_token(sub, hf_acceptable, tvb, rst_acceptability_token(diag->acceptable));
    if (diag->trigger_frame)
        proto_item_set_generated(proto_tree_add_uint(sub, hf_trigger, tvb, 0, 0, diag->trigger_frame));
    add_duration(sub, hf_idle, tvb, diag->idle_us);
    add_duration(sub, hf_age, tvb, diag->age_us);
    proto_item_set_generated(proto_tree_add_uint(sub, hf_bytes_client, tvb, 0, 0, diag->bytes_client));
    proto_item_set_generated(proto_tree_add_uint(sub, hf_bytes_server, tvb, 0, 0, diag->bytes_server));
}

static int dissect_rstdiag(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    rst_diagnosis *diag = (rst_diagnosis *)p_get_proto_data(wmem_file_scope(), pinfo, proto_rstdiag, 0);
    if (diag == NULL && pinfo->num > last_tracked_frame)
        diag = track_frame(pinfo);
    if (diag == NULL)
        return 0;
    render(diag, tvb, pinfo, tree);
    return tvb_captured_length(tvb);
}

/* ---- life cycle ----------------------------------------------------------- */

static void rstdiag_init(void)
{
    last_tracked_frame = 0;
    if (!proto_is_protocol_enabled(find_protocol_by_id(proto_rstdiag)) || tap_helper_registered)
        return;
    /* A listener without callbacks: it only makes the tcp/ip taps queue their
     * data so fetch_tapped_data() works; it does not ask for a tree. */
    GString *error = register_tap_listener("tcp", &tap_helper_token, NULL, TL_IS_DISSECTOR_HELPER,
                                           NULL, NULL, NULL, NULL);
    if (error) {
        report_failure("RSTDIAG: cannot read TCP headers (tap listener: %s); resets will not be diagnosed",
                       error->str);
        g_string_free(error, TRUE);
        return;
    }
    tap_helper_registered = TRUE;
}

static void rstdiag_cleanup(void)
{
    if (tap_helper_registered) {
        remove_tap_listener(&tap_helper_token);
        tap_helper_registered = FALSE;
    }
}

static void rstdiag_prefs_changed(void)
{
    if (pref_response_timeout_ms == 0 || pref_response_timeout_ms > RESPONSE_TIMEOUT_MAX_MS) {
        report_failure("RSTDIAG: response_timeout %u ms is outside 1..%u ms; using %u ms",
                       pref_response_timeout_ms, RESPONSE_TIMEOUT_MAX_MS, RESPONSE_TIMEOUT_DEFAULT_MS);
        pref_response_timeout_ms = RESPONSE_TIMEOUT_DEFAULT_MS;
    }
    settings.response_timeout_ms = pref_response_timeout_ms;
}

static void register_expert_fields(void)
{
    static ei_register_info ei[CAUSE_COUNT];
    for (int i = 0; i < CAUSE_COUNT; i++) {
        const char *token = rst_cause_token((rst_cause)i);
        int severity = PI_WARN;
        if (i == CAUSE_LATE_AFTER_CLOSE || i == CAUSE_HANDSHAKE_ABORT || i == CAUSE_CONNECT_ABANDONED)
            severity = PI_NOTE;
        else if (i == CAUSE_ACCEPT_OVERFLOW)
            severity = PI_ERROR;
        char *name = g_strdup_printf("rstdiag.expert.%s", token);
        g_strdelimit(name, "-", '_');   /* field names: letters, digits, '_' and '.' */
        ei_cause[i] = (expert_field)EI_INIT;
        ei[i] = (ei_register_info){ &ei_cause[i],
            { name, PI_SEQUENCE, severity,
              g_strdup_printf("TCP reset, cause %s: %s", token, rst_cause_summary((rst_cause)i)),
              EXPFILL } };
    }
    expert_module_t *module = expert_register_protocol(proto_rstdiag);
    expert_register_field_array(module, ei, CAUSE_COUNT);
}

#define TOKEN_FIELD(var, name, abbrev, blurb) \
    { &var, { name, abbrev, FT_STRING, BASE_NONE, NULL, 0x0, blurb, HFILL } }

void proto_register_rstdiag(void)
{
    static hf_register_info hf[] = {
        TOKEN_FIELD(hf_sender, "Sender", "rstdiag.sender",
            "Role of the endpoint whose address the RST carries: client (sent the SYN), server, "
            "or unknown; without a captured handshake the roles are guessed from the ports"),
        TOKEN_FIELD(hf_phase, "Phase", "rstdiag.phase",
            "Where in the connection the RST came: syn, synack, established (no data yet), data, "
            "closing (after one FIN), closed (after both FINs or an earlier RST), unknown (start not captured)"),
        TOKEN_FIELD(hf_cause, "Cause", "rstdiag.cause",
            "Likely cause: refused, accept-overflow, bad-handshake, connect-abandoned, handshake-abort, "
            "unread-data, abortive-close, response-timeout, data-after-close, stale-connection, "
            "keepalive-timeout, late-after-close or unknown"),
        TOKEN_FIELD(hf_confidence, "Confidence", "rstdiag.confidence",
            "How firmly the traffic supports the cause: high, medium or low"),
        TOKEN_FIELD(hf_kernel_reason, "Likely kernel reason", "rstdiag.kernel_reason",
            "The Linux sk_rst_reason the sender's kernel would most likely report for this RST "
            "(tcp:tcp_send_reset tracepoint), or NONE when no end host's stack would send it"),
        TOKEN_FIELD(hf_evidence, "Evidence", "rstdiag.evidence",
            "The observations and numbers that led to the cause, in plain words"),
        TOKEN_FIELD(hf_shape, "Shape", "rstdiag.shape",
            "active: RST|ACK with the sender's next sequence number, from a live socket; passive: "
            "answer to an unacceptable segment (seq copied from its ack, or seq 0 to a SYN); nonstandard: anything else"),
        TOKEN_FIELD(hf_acceptable, "Acceptable", "rstdiag.acceptable",
            "Whether the receiver's TCP would accept the RST (RFC 9293, RFC 5961): exact, in-window, "
            "out-of-window or unknown"),
        { &hf_trigger, { "Answers frame", "rstdiag.trigger", FT_FRAMENUM, BASE_NONE, NULL, 0x0,
            "The frame whose arrival this RST answers", HFILL } },
        { &hf_idle, { "Idle before RST", "rstdiag.idle", FT_RELATIVE_TIME, BASE_NONE, NULL, 0x0,
            "Time since the stream's previous segment", HFILL } },
        { &hf_age, { "Connection age", "rstdiag.age", FT_RELATIVE_TIME, BASE_NONE, NULL, 0x0,
            "Time since the stream's SYN (absent when the SYN was not captured)", HFILL } },
        { &hf_bytes_client, { "Client payload bytes", "rstdiag.bytes.client", FT_UINT32, BASE_DEC, NULL, 0x0,
            "New payload bytes the client sent before the RST (retransmissions not counted)", HFILL } },
        { &hf_bytes_server, { "Server payload bytes", "rstdiag.bytes.server", FT_UINT32, BASE_DEC, NULL, 0x0,
            "New payload bytes the server sent before the RST (retransmissions not counted)", HFILL } },
    };
    static gint *ett[] = { &ett_rstdiag };

    proto_rstdiag = proto_register_protocol("TCP RST diagnosis", "RSTDIAG", "rstdiag");
    proto_register_field_array(proto_rstdiag, hf, array_length(hf));
    proto_register_subtree_array(ett, array_length(ett));
    register_expert_fields();

    module_t *module = prefs_register_protocol(proto_rstdiag, rstdiag_prefs_changed);
    prefs_register_bool_preference(module, "info_column", "Show the cause in the Info column",
        "Append \"[RST: cause]\" to the Info column of every diagnosed RST", &pref_info_column);
    prefs_register_uint_preference(module, "response_timeout", "Response timeout (ms)",
        "A client that resets after waiting at least this long for an answer to its data is "
        "diagnosed as response-timeout (1 to 3600000 ms)", 10, &pref_response_timeout_ms);

    streams = wmem_map_new_autoreset(wmem_epan_scope(), wmem_file_scope(), g_direct_hash, g_direct_equal);
    register_init_routine(rstdiag_init);
    register_cleanup_routine(rstdiag_cleanup);
}

void proto_reg_handoff_rstdiag(void)
{
    tcp_tap_id = find_tap_id("tcp");
    ip_tap_id = find_tap_id("ip");
    ipv6_tap_id = find_tap_id("ipv6");
    register_postdissector(create_dissector_handle(dissect_rstdiag, proto_rstdiag));
}
