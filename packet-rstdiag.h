/* SPDX-License-Identifier: GPL-2.0-or-later */
/* packet-rstdiag.h - shared by the glue files (plugin.c, packet-rstdiag.c,
 * segment.c, log_sources.c, stats-rstdiag.c): Wireshark headers, the few API
 * differences between 4.0 and later releases, and the record the "rstdiag"
 * tap carries. Types and declarations only. */
#ifndef PACKET_RSTDIAG_H
#define PACKET_RSTDIAG_H

#define WS_BUILD_DLL
#define WS_LOG_DOMAIN "rstdiag"

#include <wireshark.h>
#include <epan/packet.h>

/* The product's one name, as Wireshark shows it (protocol, preferences,
 * Expert Information, Statistics menu). */
#define RSTDIAG_NAME "TCP RST diagnosis (rstdiag)"

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
typedef struct rstdiag_record {
    rst_diagnosis diag;
    guint32 frame;               /* the RST's own frame (its copies show this record too) */
    guint32 seq;                 /* what tells its copies (repeated_rst) */
    guint32 ack;
    guint16 flags;
    gint32 ip_id;
    struct rstdiag_record *earlier;   /* the stream's RST before it, or NULL */
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

/* What the stats tree is told about one log source. */
typedef struct {
    const char *path;
    guint lines;          /* its reset lines (lines reporting a RST) */
    gboolean placed;      /* every RST has been matched: the census holds */
    log_census census;    /* explained: so far, also before it is placed */
    log_clock clock;      /* the log's clock, from the RSTs so far */
} rstdiag_log_summary;

/* What the "rstdiag" tap carries for each RST: the record, and a read-only
 * view of the logs (nothing for the stats tree to call back for). */
typedef struct {
    const rstdiag_record *record;
    guint log_count;                     /* log sources that could be read */
    const rstdiag_log_summary *logs;
} rstdiag_tap_data;

#endif /* PACKET_RSTDIAG_H */
