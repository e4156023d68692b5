/* SPDX-License-Identifier: GPL-2.0-or-later */
/* track-rstdiag.h - the first sight of each frame, in capture order: its
 * TCP/IP facts (segment.c) update its stream (conn_track.c) and the hosts;
 * a RST is diagnosed (rst_classify.c, rst_origin.c) and its verdict stored
 * with the packet, once. Later passes read back what was stored, so every
 * pass shows the same. Glue: libwireshark types, no rendering. */
#ifndef TRACK_RSTDIAG_H
#define TRACK_RSTDIAG_H

#include "packet-rstdiag.h"

/* Once, at registration: the protocol whose proto data holds the verdicts. */
void track_register(int proto);

/* Each file (the init and cleanup routines): the settings it is read with,
 * and whether a log is loaded (request lines are then worth noting). */
void track_file_init(const rst_settings *settings, gboolean logs_loaded);
void track_file_cleanup(void);

/* The highest frame tracked in this file: frames up to it were seen. */
guint32 track_last_frame(void);

/* The verdict of a RST frame (its own, or that of the RST it repeats). For
 * any other frame NULL, and *after_reset the first RST of its stream when
 * one came before it (else 0). */
rstdiag_record *track_record(tvbuff_t *tvb, packet_info *pinfo, gboolean later_pass, guint32 *after_reset);

#endif /* TRACK_RSTDIAG_H */
