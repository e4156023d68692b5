/* packet-rstdiag.h - shared by plugin.c and packet-rstdiag.c: Wireshark
 * headers and the few API differences between 4.0 and later releases. */
#ifndef PACKET_RSTDIAG_H
#define PACKET_RSTDIAG_H

#define WS_BUILD_DLL
#define WS_LOG_DOMAIN "rstdiag"

#include <wireshark.h>
#include <epan/packet.h>

#define RSTDIAG_WS_AT_LEAST(major, minor) \
    (WIRESHARK_VERSION_MAJOR > (major) || \
     (WIRESHARK_VERSION_MAJOR == (major) && WIRESHARK_VERSION_MINOR >= (minor)))

/* Wireshark's own boolean: gboolean up to 4.2, bool from 4.4 (bool
 * preferences, the UAT update callback's result). */
#if RSTDIAG_WS_AT_LEAST(4, 3)
typedef bool rstdiag_ws_bool_t;
#else
typedef gboolean rstdiag_ws_bool_t;
#endif

#include "log_match.h"
#include "rst_classify.h"
#include "rst_vendor.h"

/* One log line matched to a RST. */
typedef struct {
    guint8 source;
    log_match_result match;
} rstdiag_log_hit;

/* What is stored per RST frame, and what the "rstdiag" tap carries. */
typedef struct {
    rst_diagnosis diag;
    guint32 stream;
    gboolean first_in_stream;    /* no earlier RST in its stream */
    gboolean first_in_capture;   /* the capture's first RST */
    guint32 after_reset;         /* the stream's first RST when this is a later one; 0 otherwise */
    rst_vendor_info *vendor;     /* what the RST says about itself; NULL: nothing */
    guint32 log_rst;             /* its number in the log matchers + 1; 0: not given to them */
    guint8 hit_count;            /* its lines, as of the latest dissection */
    rstdiag_log_hit *hits;
} rstdiag_record;

void proto_register_rstdiag(void);
void proto_reg_handoff_rstdiag(void);
void register_rstdiag_stats(void);

/* Log reset lines (lines reporting a RST) in all sources, and how many of
 * them no RST has been matched to so far. */
void rstdiag_log_line_counts(guint *lines, guint *unmatched);

/* Calls fn for every log reset line no RST has been matched to. */
void rstdiag_foreach_unmatched_line(void (*fn)(const char *path, guint lineno, void *data), void *data);

/* Calls fn with each log's clock as a sentence ("clock offset +0.000 s from
 * 10 pairs"), for the logs that have seen a RST. */
void rstdiag_foreach_log_clock(void (*fn)(const char *path, const char *clock, void *data), void *data);

/* TRUE once every frame has been tracked and a later pass is running (frame
 * num is behind the last tracked one): log matches are then final. */
gboolean rstdiag_matching_final(guint32 num);

/* Asks for the unmatched log lines to be printed on stderr when the capture
 * file closes (tshark, where the stats tree is built during the only pass). */
void rstdiag_report_unmatched_at_close(void);

#endif /* PACKET_RSTDIAG_H */
