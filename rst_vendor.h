/* rst_vendor.h - reasons that devices write into their own RSTs.
 *
 * Plain C + GLib: decodes Citrix NetScaler reset codes (carried in the RST's
 * window field), F5 BIG-IP reset-cause text (tm.rstcause.pkt, in the
 * payload), the IETF "TCP RST Diagnostic Payload" (draft-boucadair-tcpm-rst-
 * diagnostic-payload: the CBOR form of -11 and the fixed 8-byte form of -17
 * and the working-group draft), and shows any other printable payload.
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
    VENDOR_COUNT
} rst_vendor_kind;

#define RST_VENDOR_TEXT_MAX 200

typedef struct {
    rst_vendor_kind kind;
    gboolean has_code;
    uint32_t code;                    /* NetScaler or IETF reason code */
    rst_cause cause;                  /* what the reason means in our terms; CAUSE_UNKNOWN if nothing */
    gboolean from_device;             /* only a device (not an end host's stack) writes this */
    char text[RST_VENDOR_TEXT_MAX];   /* printable: "NetScaler 9300: idle timeout ..." */
} rst_vendor_info;

/* Decode what a RST says about itself. raw_window is the unscaled 16-bit
 * window field; payload may be NULL when len is 0. Returns FALSE (kind
 * VENDOR_NONE) when it says nothing. */
gboolean rst_vendor_decode(uint16_t raw_window, const uint8_t *payload, size_t len, rst_vendor_info *out);

const char *rst_vendor_kind_token(rst_vendor_kind kind);

#endif /* RST_VENDOR_H */
