/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rst_vendor.h - reasons that stacks and devices write into their own RSTs.
 *
 * Plain C + GLib: decodes Citrix NetScaler reset codes (carried in the RST's
 * window field), F5 BIG-IP reset-cause text (tm.rstcause.pkt, in the
 * payload), the IETF "TCP RST Diagnostic Payload" (draft-boucadair-tcpm-rst-
 * diagnostic-payload: the CBOR form of -11 and the fixed 8-byte form of -17
 * and of draft-ietf-tcpm-rst-diagnostic-payload), the Linux sk_rst_reason in
 * the first byte of a 1000-byte payload (that draft's Appendix A), the
 * reason of the MPTCP MP_TCPRST option (RFC 8684 3.6), and shows any other
 * printable payload.
 */
#ifndef RST_VENDOR_H
#define RST_VENDOR_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "rst_classify.h"

typedef enum {
    VENDOR_NONE,
    VENDOR_NETSCALER,    /* code in the window field */
    VENDOR_F5,           /* BIG-IP reset cause text */
    VENDOR_IETF,         /* RST diagnostic payload */
    VENDOR_TEXT,         /* other printable payload */
    VENDOR_LINUX,        /* Linux sk_rst_reason number in a 1000-byte payload */
    VENDOR_MPTCP,        /* MP_TCPRST option reason */
    VENDOR_COUNT
} rst_vendor_kind;

#define RST_VENDOR_TEXT_MAX 200

typedef struct {
    rst_vendor_kind kind;
    gboolean has_code;
    uint32_t code;                    /* NetScaler or IETF reason code */
    rst_cause cause;                  /* what the reason means in our terms; CAUSE_UNKNOWN if nothing */
    gboolean from_device;             /* only a device (not an end host's stack) writes this */
    gboolean needs_corroboration;     /* a window value that an ordinary stack may send too (NetScaler) */
    gboolean payload_is_diagnostic;   /* the payload explains the RST: it is no data */
    gboolean has_kernel_reason;       /* the sender's stack named its own Linux reason */
    rst_kernel_reason kernel_reason;
    char text[RST_VENDOR_TEXT_MAX];   /* printable: "NetScaler 9300: idle timeout ..." */
} rst_vendor_info;

/* Decode what a RST says about itself. raw_window is the unscaled 16-bit
 * window field; payload may be NULL when len is 0. Returns FALSE (kind
 * VENDOR_NONE) when it says nothing. */
gboolean rst_vendor_decode(uint16_t raw_window, const uint8_t *payload, size_t len, rst_vendor_info *out);

/* The MPTCP MP_TCPRST option among a RST's TCP options (the bytes after its
 * 20-byte header). FALSE (kind VENDOR_NONE) when there is none. */
gboolean rst_vendor_decode_options(const uint8_t *options, size_t len, rst_vendor_info *out);

/* A RST that carries its stack's own Linux reason: make that the kernel
 * reason (confidence high) and say whether the rules had guessed the same;
 * when they had not and their cause cannot give that reason, take the cause
 * the reason implies. */
void rst_vendor_check_guess(const rst_vendor_info *v, rst_diagnosis *d);

const char *rst_vendor_kind_token(rst_vendor_kind kind);

#endif /* RST_VENDOR_H */
