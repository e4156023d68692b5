/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rst_classify.h - diagnose one TCP RST from the stream state before it.
 *
 * Plain C + GLib, no libwireshark: the rules come from how Linux and other
 * stacks build resets (see README "Causes"), and every rule is unit tested.
 */
#ifndef RST_CLASSIFY_H
#define RST_CLASSIFY_H

#include "conn_track.h"
#include "rst_host.h"
#include "rst_timers.h"

typedef enum { SENDER_UNKNOWN, SENDER_CLIENT, SENDER_SERVER, SENDER_COUNT } rst_sender;

typedef enum {
    PHASE_UNKNOWN,      /* stream start not captured */
    PHASE_SYN,          /* answers a SYN, no SYN-ACK seen */
    PHASE_SYNACK,       /* after the SYN-ACK, before the final ACK */
    PHASE_ESTABLISHED,  /* handshake done, no payload either way */
    PHASE_DATA,         /* payload seen, no FIN */
    PHASE_CLOSING,      /* after one side's FIN */
    PHASE_CLOSED,       /* after both FINs or an earlier RST */
    PHASE_COUNT
} rst_phase;

typedef enum {
    SHAPE_ACTIVE,       /* RST|ACK from a live socket, seq = its next seq */
    SHAPE_PASSIVE,      /* answer to an unacceptable segment */
    SHAPE_NONSTANDARD,  /* anything else */
    SHAPE_COUNT
} rst_shape;

typedef enum {
    ACCEPT_UNKNOWN, ACCEPT_EXACT, ACCEPT_IN_WINDOW, ACCEPT_OUT_OF_WINDOW, ACCEPT_COUNT
} rst_acceptability;

typedef enum {
    CAUSE_UNKNOWN,
    CAUSE_REFUSED,
    CAUSE_ACCEPT_OVERFLOW,
    CAUSE_BAD_HANDSHAKE,
    CAUSE_CONNECT_ABANDONED,
    CAUSE_HANDSHAKE_ABORT,
    CAUSE_UNREAD_DATA,
    CAUSE_ABORTIVE_CLOSE,
    CAUSE_RESPONSE_TIMEOUT,
    CAUSE_DATA_AFTER_CLOSE,
    CAUSE_STALE_CONNECTION,
    CAUSE_KEEPALIVE_TIMEOUT,
    CAUSE_LATE_AFTER_CLOSE,
    CAUSE_BLOCKED,
    CAUSE_INJECTED,
    CAUSE_IDLE_TIMEOUT,
    CAUSE_RELAYED,
    CAUSE_KEEPALIVE_RACE,
    CAUSE_COUNT
} rst_cause;

/* Who put the RST on the wire: the host whose address it carries, or a
 * device in the path speaking in that host's name. */
typedef enum { ORIGIN_UNKNOWN, ORIGIN_ENDPOINT, ORIGIN_MIDDLEBOX, ORIGIN_COUNT } rst_origin;

/* Why the receiver evidently did not accept the RST. */
typedef enum {
    IGNORED_NO,               /* accepted, or nothing says otherwise */
    IGNORED_OUT_OF_WINDOW,    /* outside the receiver's window: dropped (RFC 9293) */
    IGNORED_CHALLENGE_ACK,    /* in window but not exact: answered by a challenge ACK (RFC 5961) */
    IGNORED_TRAFFIC_CONTINUED,/* the receiver kept sending new data well after it */
    IGNORED_COUNT
} rst_ignored;

typedef enum { CONFIDENCE_LOW, CONFIDENCE_MEDIUM, CONFIDENCE_HIGH, CONFIDENCE_COUNT } rst_confidence;

/* How loudly a cause is reported (the glue maps it to Expert Information's severity). */
typedef enum { SEVERITY_NOTE, SEVERITY_WARN, SEVERITY_ERROR } rst_severity;

/* Linux enum sk_rst_reason names (include/net/rstreason.h), plus NONE for
 * resets that no end host's stack would send. Appended after NONE: the MPTCP
 * reasons and ERROR that follow TCP_DISCONNECT_WITH_DATA in the kernel (the
 * kernel's numbers are in rst_vendor.c, which reads them off the wire), and
 * NOT_LINUX for resets of another stack, which has no such reasons. */
typedef enum {
    KR_NOT_SPECIFIED,
    KR_NO_SOCKET,
    KR_TCP_INVALID_ACK_SEQUENCE,
    KR_TCP_RFC7323_PAWS,
    KR_TCP_TOO_OLD_ACK,
    KR_TCP_ACK_UNSENT_DATA,
    KR_TCP_FLAGS,
    KR_TCP_OLD_ACK,
    KR_TCP_ABORT_ON_DATA,
    KR_TCP_TIMEWAIT_SOCKET,
    KR_INVALID_SYN,
    KR_TCP_ABORT_ON_CLOSE,
    KR_TCP_ABORT_ON_LINGER,
    KR_TCP_ABORT_ON_MEMORY,
    KR_TCP_STATE,
    KR_TCP_KEEPALIVE_TIMEOUT,
    KR_TCP_DISCONNECT_WITH_DATA,
    KR_NONE,
    KR_MPTCP_RST_EUNSPEC,
    KR_MPTCP_RST_EMPTCP,
    KR_MPTCP_RST_ERESOURCE,
    KR_MPTCP_RST_EPROHIBIT,
    KR_MPTCP_RST_EWQ2BIG,
    KR_MPTCP_RST_EBADPERF,
    KR_MPTCP_RST_EMIDDLEBOX,
    KR_ERROR,
    KR_NOT_LINUX,
    KR_COUNT
} rst_kernel_reason;

/* What other streams showed about the RST's sender (conn_listeners). */
typedef struct {
    gboolean listening;   /* a listener on the RST's source address and port */
    gboolean queue_burst; /* it has just aborted another connection it never answered */
} rst_host_facts;

/* Tunables (preferences). */
typedef struct {
    uint32_t response_timeout_ms;   /* a wait this long for an answer is a timeout */
    const idle_timer_table *timers; /* known and site idle timers; NULL = none */
} rst_settings;

#define RST_EVIDENCE_MAX 240
#define RST_ORIGIN_EVIDENCE_MAX 320

typedef struct {
    rst_sender        sender;
    rst_phase         phase;
    rst_shape         shape;
    rst_acceptability acceptable;
    rst_cause         cause;
    rst_confidence    confidence;
    rst_kernel_reason kernel_reason;
    /* readings the wire cannot rule out besides the best guess: bit (1 << value) */
    uint32_t          cause_alt;
    uint32_t          kernel_reason_alt;
    gboolean          roles_guessed;   /* no SYN/SYN-ACK: roles from ports */
    gboolean          capture_gap;     /* the capture missed some of the stream's segments: no verdict is high */
    unsigned          sender_side;     /* the sender's conn_stream side, found once here and passed on */
    uint32_t          trigger_frame;   /* frame this RST answers; 0 = none */
    int64_t           response_us;     /* since the segment it answers; -1 = none */
    int64_t           idle_us;         /* since the stream's previous segment; -1 = none */
    int64_t           age_us;          /* since the SYN; -1 = SYN not captured */
    uint32_t          bytes_client;    /* payload bytes sent by each role before the RST */
    uint32_t          bytes_server;
    char              evidence[RST_EVIDENCE_MAX];
    /* attribution (rst_origin.c) */
    rst_origin        origin;
    gboolean          ttl_delta_known;
    int               ttl_delta;       /* RST's TTL minus the claimed sender's usual TTL */
    rst_ignored       ignored;
    char              origin_evidence[RST_ORIGIN_EVIDENCE_MAX];
    rst_stack         stack;           /* the stack that sent it, when an end host did */
    char              stack_evidence[RST_EVIDENCE_MAX];
    int64_t           keepalive_idle_us; /* keep-alive race: idle time before the request */
} rst_diagnosis;

/* Diagnose rst (a segment with the RST flag) against the stream state
 * before it (an empty state is fine); host may be NULL (nothing known). */
void rst_classify(const conn_stream *st, const tcp_segment *rst, const rst_settings *settings,
                  const rst_host_facts *host, rst_diagnosis *out);

/* The alternatives as comma-separated tokens ("" when none). */
void rst_cause_alt_tokens(const rst_diagnosis *d, char *buf, size_t size);
void rst_kernel_reason_alt_tokens(const rst_diagnosis *d, char *buf, size_t size);

/* Tokens: the public values of the rstdiag.* string fields. */
const char *rst_sender_token(rst_sender v);
/* How evidence text names the sender and its peer: client and server, or
 * sender and peer when the roles are unknown (the one place for role names). */
const char *rst_role_name(rst_sender v);
const char *rst_peer_role_name(rst_sender v);
const char *rst_phase_token(rst_phase v);
const char *rst_shape_token(rst_shape v);
const char *rst_acceptability_token(rst_acceptability v);
const char *rst_cause_token(rst_cause v);
const char *rst_confidence_token(rst_confidence v);
const char *rst_kernel_reason_token(rst_kernel_reason v);
const char *rst_origin_token(rst_origin v);
const char *rst_ignored_token(rst_ignored v);

/* A reading the wire cannot rule out: another cause (CAUSE_COUNT: the same)
 * and kernel reason (KR_COUNT: the same). */
void rst_add_alternative(rst_diagnosis *d, rst_cause cause, rst_kernel_reason reason);

/* Replace the cause (attribution and vendor codes refine the stack rules);
 * the alternatives of the replaced verdict go with it. A capture gap caps the
 * confidence at medium. */
void rst_set_cause(rst_diagnosis *d, rst_cause cause, rst_kernel_reason reason, rst_confidence confidence,
                   const char *evidence);

/* Microseconds as "0.250 ms", "12 ms", "3.20 s", "412 s"; "?" when negative. */
void rst_format_duration(char *buf, size_t size, int64_t us);
/* The one way evidence text grows: separator (when text is not empty) and
 * the formatted note appended, cut at size. */
void rst_text_append(char *text, size_t size, const char *separator, const char *fmt, ...) G_GNUC_PRINTF(4, 5);

/* One-line meaning of a cause, for documentation and expert info. */
const char *rst_cause_summary(rst_cause v);

/* How loudly a cause is reported (a column of the cause table). */
rst_severity rst_cause_severity(rst_cause v);

/* Kernel reasons consistent with a cause (KR_COUNT-terminated list). */
const rst_kernel_reason *rst_cause_kernel_reasons(rst_cause v);

#endif /* RST_CLASSIFY_H */
