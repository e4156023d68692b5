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

/* prefs_register_bool_preference() takes gboolean * up to 4.2, bool * from 4.4 */
#if RSTDIAG_WS_AT_LEAST(4, 3)
typedef bool rstdiag_pref_bool_t;
#else
typedef gboolean rstdiag_pref_bool_t;
#endif

void proto_register_rstdiag(void);
void proto_reg_handoff_rstdiag(void);

#endif /* PACKET_RSTDIAG_H */
