/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rst_vendor.c - reasons stacks and devices write into their RSTs (see rst_vendor.h). */
#include "rst_vendor.h"

#include <stdio.h>
#include <string.h>

static const char *const kind_tokens[VENDOR_COUNT] = {
    "none", "netscaler", "f5", "ietf", "text", "linux", "mptcp"
};

const char *rst_vendor_kind_token(rst_vendor_kind kind)
{
    return (unsigned)kind < VENDOR_COUNT ? kind_tokens[kind] : "none";
}

typedef struct {
    uint16_t code;
    rst_cause cause;
    const char *meaning;
} coded_reason;

/* Citrix ADC reset codes (Citrix article CTX200852), in our words. The code
 * replaces the window of the RSTs the appliance sends. */
static const coded_reason netscaler_codes[] = {
    { 8196, CAUSE_UNKNOWN, "bad SSL record" },
    { 8201, CAUSE_STALE_CONNECTION, "stray packet for a connection the appliance already closed" },
    { 8202, CAUSE_STALE_CONNECTION, "data for an unknown connection whose SYN cookie had expired" },
    { 8204, CAUSE_BAD_HANDSHAKE, "client resent its SYN with another sequence number" },
    { 8205, CAUSE_BAD_HANDSHAKE, "wrong acknowledgement number in the handshake's final ACK" },
    { 8206, CAUSE_BAD_HANDSHAKE, "unexpected segment while connecting (an old connection on a reused 4-tuple)" },
    { 8207, CAUSE_UNKNOWN, "SYN inside the window of an established connection" },
    { 8208, CAUSE_UNKNOWN, "more duplicate retransmissions than configured" },
    { 8209, CAUSE_UNKNOWN, "appliance out of memory for the packet" },
    { 8210, CAUSE_BLOCKED, "HTTP DoS protection rejected a bad client request" },
    { 8211, CAUSE_IDLE_TIMEOUT, "zombie (idle) connection cleanup" },
    { 8212, CAUSE_BLOCKED, "SYN for no listening service" },
    { 8213, CAUSE_UNKNOWN, "client sent a request on a closing connection (Sure Connect)" },
    { 8214, CAUSE_UNKNOWN, "MSS in the SYN larger than the interface MTU allows" },
    { 9100, CAUSE_IDLE_TIMEOUT, "orphan HTTP connection: the request never completed before the timeout" },
    { 9201, CAUSE_UNKNOWN, "connection multiplexing: server answered for an earlier transaction" },
    { 9202, CAUSE_UNKNOWN, "sequence mismatch in the first data of a reused server connection" },
    { 9203, CAUSE_UNKNOWN, "server sent a FIN meant for a previous client of a reused connection" },
    { 9205, CAUSE_UNKNOWN, "bad chunked encoding in the server's response" },
    { 9206, CAUSE_UNKNOWN, "invalid HTTP request or response header" },
    { 9300, CAUSE_IDLE_TIMEOUT, "idle (zombie) timeout, or the service went down" },
    { 9301, CAUSE_IDLE_TIMEOUT, "idle (zombie) timeout, or the service went down" },
    { 9302, CAUSE_IDLE_TIMEOUT, "idle (zombie) timeout, or the service went down" },
    { 9303, CAUSE_IDLE_TIMEOUT, "idle (zombie) timeout, or the service went down" },
    { 9304, CAUSE_UNKNOWN, "zero-window persist probes given up" },
    { 9305, CAUSE_BAD_HANDSHAKE, "server acknowledged the appliance's SYN with a wrong number" },
    { 9307, CAUSE_UNKNOWN, "small-window protection" },
    { 9308, CAUSE_UNKNOWN, "small-window protection" },
    { 9309, CAUSE_UNKNOWN, "small-window protection" },
    { 9310, CAUSE_KEEPALIVE_TIMEOUT, "TCP keepalive probes failed" },
    { 9400, CAUSE_UNKNOWN, "idle server connection in the reuse pool closed to make room" },
    { 9401, CAUSE_UNKNOWN, "connections flushed at capacity or after a configuration removal" },
    { 9600, CAUSE_UNKNOWN, "too many packets with mismatching sequence or acknowledgement numbers" },
    { 9601, CAUSE_UNKNOWN, "too many data packets with mismatching sequence or acknowledgement numbers" },
    { 9700, CAUSE_RELAYED, "reset received on the other side of the appliance, passed on" },
    { 9701, CAUSE_RELAYED, "reset with ACK received on the other side of the appliance, passed on" },
    { 9702, CAUSE_DATA_AFTER_CLOSE, "data received after a FIN" },
    { 9704, CAUSE_UNKNOWN, "buffer dropped (hold limit or transaction error)" },
    { 9800, CAUSE_UNKNOWN, "monitor probe connection timed out" },
    { 9811, CAUSE_UNKNOWN, "SSL fatal alert sent first (e.g. no cipher in common)" },
    { 9814, CAUSE_BLOCKED, "a policy whose action is RESET matched" },
    { 9816, CAUSE_UNKNOWN, "bad SSL record" },
    { 9829, CAUSE_UNKNOWN, "GSLB site down or unreachable" },
    { 9830, CAUSE_BLOCKED, "an ACL DENY rule matched" },
    { 9845, CAUSE_BLOCKED, "an application firewall policy matched" },
    { 9855, CAUSE_UNKNOWN, "surge queue overflow" },
    { 9857, CAUSE_UNKNOWN, "HTTP connection waiting for a server flushed" },
};

/* "TCP Failure Causes" of draft-ietf-tcpm-rst-diagnostic-payload (section
 * 8.1, editor's copy of 2026); 8-14 may be sent by service functions (NAT,
 * firewall, proxy), 15-17 are RFC 8684's MPTCP reasons, sent by the endpoint
 * (17: it saw a middlebox tamper with MPTCP; the RST itself is its own). */
static const coded_reason ietf_codes[] = {
    { 1, CAUSE_UNKNOWN, "illegal option length" },
    { 2, CAUSE_UNKNOWN, "desynchronized state" },
    { 3, CAUSE_DATA_AFTER_CLOSE, "new data received after CLOSE" },
    { 4, CAUSE_ABORTIVE_CLOSE, "ABORT by the process" },
    { 5, CAUSE_UNKNOWN, "unexpected ACK while not synchronized" },
    { 6, CAUSE_UNKNOWN, "unexpected SYN in the window" },
    { 7, CAUSE_UNKNOWN, "unexpected security compartment" },
    { 8, CAUSE_UNKNOWN, "malformed message" },
    { 9, CAUSE_BLOCKED, "not authorized" },
    { 10, CAUSE_UNKNOWN, "resource exceeded" },
    { 11, CAUSE_UNKNOWN, "network failure" },
    { 12, CAUSE_RELAYED, "reset received from the peer" },
    { 13, CAUSE_UNKNOWN, "destination unreachable" },
    { 14, CAUSE_IDLE_TIMEOUT, "connection timeout" },
    { 15, CAUSE_UNKNOWN, "too much outstanding data" },
    { 16, CAUSE_UNKNOWN, "unacceptable performance" },
    { 17, CAUSE_UNKNOWN, "middlebox interference" },
};

#define IETF_DEVICE_CODE(code) ((code) >= 8 && (code) <= 14)

/* Linux enum sk_rst_reason by number, as the kernel writes it into the first
 * payload byte (include/net/rstreason.h of 6.16, the tree the draft's
 * Appendix A patch is built on), with the cause that reason implies when
 * the rules guessed another. */
static const struct {
    rst_kernel_reason reason;
    rst_cause cause;
} linux_reasons[] = {
    { KR_NOT_SPECIFIED, CAUSE_UNKNOWN },
    { KR_NO_SOCKET, CAUSE_STALE_CONNECTION },
    { KR_TCP_INVALID_ACK_SEQUENCE, CAUSE_BAD_HANDSHAKE },
    { KR_TCP_RFC7323_PAWS, CAUSE_BAD_HANDSHAKE },
    { KR_TCP_TOO_OLD_ACK, CAUSE_BAD_HANDSHAKE },
    { KR_TCP_ACK_UNSENT_DATA, CAUSE_BAD_HANDSHAKE },
    { KR_TCP_FLAGS, CAUSE_BAD_HANDSHAKE },
    { KR_TCP_OLD_ACK, CAUSE_BAD_HANDSHAKE },
    { KR_TCP_ABORT_ON_DATA, CAUSE_DATA_AFTER_CLOSE },
    { KR_TCP_TIMEWAIT_SOCKET, CAUSE_DATA_AFTER_CLOSE },
    { KR_INVALID_SYN, CAUSE_ACCEPT_OVERFLOW },
    { KR_TCP_ABORT_ON_CLOSE, CAUSE_UNREAD_DATA },
    { KR_TCP_ABORT_ON_LINGER, CAUSE_ABORTIVE_CLOSE },
    { KR_TCP_ABORT_ON_MEMORY, CAUSE_ABORTIVE_CLOSE },
    { KR_TCP_STATE, CAUSE_ABORTIVE_CLOSE },
    { KR_TCP_KEEPALIVE_TIMEOUT, CAUSE_KEEPALIVE_TIMEOUT },
    { KR_TCP_DISCONNECT_WITH_DATA, CAUSE_ABORTIVE_CLOSE },
    /* MPTCP_RST_E* in the order of the MP_TCPRST reason codes (RFC 8684 3.6) */
    { KR_MPTCP_RST_EUNSPEC, CAUSE_UNKNOWN },
    { KR_MPTCP_RST_EMPTCP, CAUSE_UNKNOWN },
    { KR_MPTCP_RST_ERESOURCE, CAUSE_UNKNOWN },
    { KR_MPTCP_RST_EPROHIBIT, CAUSE_UNKNOWN },
    { KR_MPTCP_RST_EWQ2BIG, CAUSE_UNKNOWN },
    { KR_MPTCP_RST_EBADPERF, CAUSE_UNKNOWN },
    { KR_MPTCP_RST_EMIDDLEBOX, CAUSE_UNKNOWN },
    { KR_ERROR, CAUSE_UNKNOWN },
};

#define LINUX_MPTCP_FIRST 17   /* kernel number of MPTCP_RST_EUNSPEC */

/* MP_TCPRST reasons (RFC 8684 3.6, IANA "MPTCP MP_TCPRST Reason Codes"). */
static const char *const mptcp_reasons[] = {
    "unspecified error", "MPTCP-specific error", "lack of resources", "administratively prohibited",
    "too much outstanding data", "unacceptable performance", "middlebox interference",
};
G_STATIC_ASSERT(G_N_ELEMENTS(linux_reasons) == LINUX_MPTCP_FIRST + G_N_ELEMENTS(mptcp_reasons) + 1);

static const coded_reason *find_code(const coded_reason *table, size_t n, uint32_t code)
{
    for (size_t i = 0; i < n; i++) {
        if (table[i].code == code)
            return &table[i];
    }
    return NULL;
}

/* F5 cause texts (tm.rstcause.pkt) that name one of our causes. */
static const struct {
    const char *phrase;
    rst_cause cause;
} f5_phrases[] = {
    { "no local listener", CAUSE_BLOCKED },
    { "port denied", CAUSE_BLOCKED },
    { "policy action", CAUSE_BLOCKED },
    { "dos attack", CAUSE_BLOCKED },
    { "tcp 3whs rejected", CAUSE_BLOCKED },
    { "flow expired", CAUSE_IDLE_TIMEOUT },
    { "idle timeout", CAUSE_IDLE_TIMEOUT },
    { "no flow found", CAUSE_STALE_CONNECTION },
    { "reset from peer", CAUSE_RELAYED },
};

/* Printable copy: control bytes and non-ASCII become '.', cut to fit. */
static void copy_printable(char *dst, size_t size, const uint8_t *src, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < size; i++)
        dst[n++] = (src[i] >= 0x20 && src[i] < 0x7f) ? (char)src[i] : '.';
    dst[n] = '\0';
}

static gboolean mostly_printable(const uint8_t *p, size_t len)
{
    size_t printable = 0;
    for (size_t i = 0; i < len; i++) {
        if ((p[i] >= 0x20 && p[i] < 0x7f) || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')
            printable++;
    }
    return len >= 4 && printable * 10 >= len * 9;
}

static void set_coded(rst_vendor_info *out, rst_vendor_kind kind, const char *name, uint32_t code,
                      const coded_reason *reason, gboolean from_device)
{
    out->kind = kind;
    out->has_code = TRUE;
    out->code = code;
    out->cause = reason ? reason->cause : CAUSE_UNKNOWN;
    out->from_device = from_device;
    snprintf(out->text, sizeof out->text, "%s %u: %s", name, code, reason ? reason->meaning : "unassigned code");
}

/* ---- IETF RST diagnostic payload ---------------------------------------- */

/* A CBOR head (RFC 8949): major type and argument; FALSE if it does not fit. */
static gboolean cbor_head(const uint8_t *p, size_t len, size_t *pos, unsigned *major, uint64_t *arg)
{
    if (*pos >= len)
        return FALSE;
    uint8_t b = p[(*pos)++];
    unsigned info = b & 0x1f;
    *major = b >> 5;
    if (info < 24) {
        *arg = info;
        return TRUE;
    }
    if (info > 27)
        return FALSE;   /* indefinite lengths and reserved values are not used here */
    size_t bytes = (size_t)1 << (info - 24);
    if (len - *pos < bytes)
        return FALSE;
    *arg = 0;
    for (size_t i = 0; i < bytes; i++)
        *arg = (*arg << 8) | p[(*pos)++];
    return TRUE;
}

#define IETF_CBOR_COOKIE 12345      /* draft -11: a placeholder for the RFC number */
#define IETF_FIXED_COOKIE 0x33AA    /* draft -17 and the working-group draft */

/* draft -11: the CBOR sequence  cookie, {1: reason-code, 2: pen, 3: description}. */
static gboolean decode_ietf_cbor(const uint8_t *p, size_t len, rst_vendor_info *out)
{
    size_t pos = 0;
    unsigned major;
    uint64_t arg, pairs;
    if (!cbor_head(p, len, &pos, &major, &arg) || major != 0 || arg != IETF_CBOR_COOKIE)
        return FALSE;
    if (!cbor_head(p, len, &pos, &major, &pairs) || major != 5 || pairs > 8)
        return FALSE;
    gboolean have_code = FALSE;
    uint64_t code = 0, pen = 0;
    char description[120] = "";
    for (uint64_t i = 0; i < pairs; i++) {
        uint64_t key, value;
        unsigned key_major, value_major;
        if (!cbor_head(p, len, &pos, &key_major, &key) || key_major != 0
            || !cbor_head(p, len, &pos, &value_major, &value))
            return FALSE;
        if (value_major == 3) {
            if (value > len - pos)
                return FALSE;
            if (key == 3)
                copy_printable(description, sizeof description, p + pos, (size_t)value);
            pos += (size_t)value;
        } else if (value_major == 0) {
            if (key == 1) {
                code = value;
                have_code = TRUE;
            } else if (key == 2) {
                pen = value;
            }
        } else {
            return FALSE;   /* malformed: the draft says to ignore it */
        }
    }
    if (have_code && pen == 0 && code <= G_MAXUINT16) {
        set_coded(out, VENDOR_IETF, "RST diagnostic", (uint32_t)code,
                  find_code(ietf_codes, G_N_ELEMENTS(ietf_codes), (uint32_t)code), IETF_DEVICE_CODE(code));
    } else if (have_code) {
        out->kind = VENDOR_IETF;
        out->has_code = TRUE;
        out->code = (uint32_t)MIN(code, G_MAXUINT32);
        snprintf(out->text, sizeof out->text, "RST diagnostic: code %" G_GUINT64_FORMAT " of enterprise %"
                 G_GUINT64_FORMAT, code, pen);
    } else if (description[0]) {
        out->kind = VENDOR_IETF;
        snprintf(out->text, sizeof out->text, "RST diagnostic: %s", description);
    } else {
        return FALSE;
    }
    return TRUE;
}

/* draft -17 and the working-group draft (section 4.1): exactly 8 bytes,
 * 0x33AA, reason-code(16), pen(32); code 0 is reserved, and a malformed
 * payload with the magic number is ignored (section 4.2). */
static gboolean decode_ietf_fixed(const uint8_t *p, size_t len, rst_vendor_info *out)
{
    if (len != 8 || ((p[0] << 8) | p[1]) != IETF_FIXED_COOKIE)
        return FALSE;
    uint32_t code = (uint32_t)(p[2] << 8 | p[3]);
    uint32_t pen = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    if (code == 0)
        return FALSE;   /* reserved */
    if (pen == 0) {
        set_coded(out, VENDOR_IETF, "RST diagnostic", code,
                  find_code(ietf_codes, G_N_ELEMENTS(ietf_codes), code), IETF_DEVICE_CODE(code));
    } else {
        out->kind = VENDOR_IETF;
        out->has_code = TRUE;
        out->code = code;
        snprintf(out->text, sizeof out->text, "RST diagnostic: code %u of enterprise %u", code, pen);
    }
    return TRUE;
}

/* ---- F5 and plain text --------------------------------------------------- */

/* "BIG-IP: [0x2664c65:2574] No flow found for ACK" or the bracket alone. */
static gboolean looks_like_f5(const char *text)
{
    if (g_str_has_prefix(text, "BIG-IP: "))
        return TRUE;
    const char *open = strstr(text, "[0x");
    return open && open - text < 16 && strchr(open, ':') && strchr(open, ']');
}

static void decode_text(const uint8_t *p, size_t len, rst_vendor_info *out)
{
    char text[RST_VENDOR_TEXT_MAX - 16];
    copy_printable(text, sizeof text, p, len);
    g_strstrip(text);
    if (looks_like_f5(text)) {
        const char *cause_text = strchr(text, ']') ? strchr(text, ']') + 1 : text;
        while (*cause_text == ' ')
            cause_text++;
        char *lower = g_ascii_strdown(cause_text, -1);
        out->kind = VENDOR_F5;
        out->from_device = TRUE;
        for (size_t i = 0; i < G_N_ELEMENTS(f5_phrases); i++) {
            if (strstr(lower, f5_phrases[i].phrase)) {
                out->cause = f5_phrases[i].cause;
                break;
            }
        }
        g_free(lower);
        snprintf(out->text, sizeof out->text, "F5 BIG-IP: %s", cause_text);
    } else {
        out->kind = VENDOR_TEXT;
        snprintf(out->text, sizeof out->text, "payload text: %s", text);
    }
}

/* ---- reasons of the sender's own stack ------------------------------------ */

#define LINUX_REASON_PAYLOAD 1000

/* The Linux 6.16 patch of the draft's Appendix A: every RST carries 1000
 * bytes, zero but for the first, which is the sk_rst_reason number. */
static gboolean decode_linux_reason(const uint8_t *p, size_t len, rst_vendor_info *out)
{
    if (len != LINUX_REASON_PAYLOAD || p[0] >= G_N_ELEMENTS(linux_reasons))
        return FALSE;
    for (size_t i = 1; i < len; i++) {
        if (p[i] != 0)
            return FALSE;
    }
    out->kind = VENDOR_LINUX;
    out->has_code = TRUE;
    out->code = p[0];
    out->has_kernel_reason = TRUE;
    out->kernel_reason = linux_reasons[p[0]].reason;
    out->cause = CAUSE_UNKNOWN;   /* a check of the rules' guess, see rst_vendor_check_guess() */
    snprintf(out->text, sizeof out->text, "Linux reason %u (%s) in the RST's 1000-byte payload", p[0],
             rst_kernel_reason_token(out->kernel_reason));
    return TRUE;
}

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MPTCP 30
#define MPTCP_SUB_TCPRST 8

gboolean rst_vendor_decode_options(const uint8_t *options, size_t len, rst_vendor_info *out)
{
    memset(out, 0, sizeof *out);
    size_t pos = 0;
    while (options && pos < len && options[pos] != TCPOPT_EOL) {
        if (options[pos] == TCPOPT_NOP) {
            pos++;
            continue;
        }
        if (len - pos < 2 || options[pos + 1] < 2 || options[pos + 1] > len - pos)
            return FALSE;   /* a broken option list: Wireshark reports it */
        const uint8_t *opt = options + pos;
        /* kind 30, length 4, subtype 8 in the high nibble, flags U V W T, reason */
        if (opt[0] == TCPOPT_MPTCP && opt[1] == 4 && (opt[2] >> 4) == MPTCP_SUB_TCPRST) {
            uint8_t reason = opt[3];
            gboolean transient = (opt[2] & 0x1) != 0;
            out->kind = VENDOR_MPTCP;
            out->has_code = TRUE;
            out->code = reason;
            out->cause = CAUSE_UNKNOWN;
            if (reason < G_N_ELEMENTS(mptcp_reasons)) {
                out->has_kernel_reason = TRUE;
                out->kernel_reason = linux_reasons[LINUX_MPTCP_FIRST + reason].reason;
                snprintf(out->text, sizeof out->text, "MPTCP MP_TCPRST reason %u: %s%s", reason,
                         mptcp_reasons[reason], transient ? " (transient)" : "");
            } else {
                snprintf(out->text, sizeof out->text, "MPTCP MP_TCPRST reason %u: unassigned%s", reason,
                         transient ? " (transient)" : "");
            }
            return TRUE;
        }
        pos += opt[1];
    }
    return FALSE;
}

static gboolean cause_gives(rst_cause cause, rst_kernel_reason reason)
{
    for (const rst_kernel_reason *r = rst_cause_kernel_reasons(cause); *r != KR_COUNT; r++) {
        if (*r == reason)
            return TRUE;
    }
    return FALSE;
}

static rst_cause implied_cause(rst_kernel_reason reason)
{
    for (size_t i = 0; i < G_N_ELEMENTS(linux_reasons); i++) {
        if (linux_reasons[i].reason == reason)
            return linux_reasons[i].cause;
    }
    return CAUSE_UNKNOWN;
}

void rst_vendor_check_guess(const rst_vendor_info *v, rst_diagnosis *d)
{
    if (!v->has_kernel_reason)
        return;
    char *evidence;
    if (d->kernel_reason == v->kernel_reason) {
        evidence = g_strdup_printf("%s, as the rules guessed: %s", v->text, d->evidence);
    } else {
        evidence = g_strdup_printf("%s; the rules had guessed %s (%s): %s", v->text,
                                   rst_kernel_reason_token(d->kernel_reason), rst_cause_token(d->cause), d->evidence);
        if (!cause_gives(d->cause, v->kernel_reason) && implied_cause(v->kernel_reason) != CAUSE_UNKNOWN)
            d->cause = implied_cause(v->kernel_reason);
    }
    rst_set_cause(d, d->cause, v->kernel_reason, CONFIDENCE_HIGH, evidence);
    g_free(evidence);
}

gboolean rst_vendor_decode(uint16_t raw_window, const uint8_t *payload, size_t len, rst_vendor_info *out)
{
    memset(out, 0, sizeof *out);
    if (len > 0 && payload) {
        if (decode_linux_reason(payload, len, out) || decode_ietf_fixed(payload, len, out)
            || decode_ietf_cbor(payload, len, out)) {
            out->payload_is_diagnostic = TRUE;
            return TRUE;
        }
        if (mostly_printable(payload, len)) {
            decode_text(payload, len, out);
            return TRUE;
        }
    }
    /* Wireshark decodes these for any RST; an ordinary stack's window can hold the
     * same number, so the code counts only with another sign of the appliance
     * (rst_origin.c) */
    const coded_reason *ns = find_code(netscaler_codes, G_N_ELEMENTS(netscaler_codes), raw_window);
    if (ns) {
        set_coded(out, VENDOR_NETSCALER, "NetScaler", raw_window, ns, TRUE);
        out->needs_corroboration = TRUE;
        return TRUE;
    }
    return FALSE;
}
