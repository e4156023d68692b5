/* SPDX-License-Identifier: GPL-2.0-or-later */
/* plugin.c - the symbols Wireshark's plugin loader looks for: the dissector
 * (packet-rstdiag.c) and, apart from it, the statistics tree that listens to
 * its tap (stats-rstdiag.c), so that neither calls the other. */
#include "packet-rstdiag.h"

#include <epan/tap.h>

#if RSTDIAG_WS_AT_LEAST(4, 3)
#include <wsutil/plugins.h>
#endif

WS_DLL_PUBLIC_DEF const char plugin_version[] = RSTDIAG_VERSION;
WS_DLL_PUBLIC_DEF const int plugin_want_major = WIRESHARK_VERSION_MAJOR;
WS_DLL_PUBLIC_DEF const int plugin_want_minor = WIRESHARK_VERSION_MINOR;

WS_DLL_PUBLIC void plugin_register(void);

void plugin_register(void)
{
    static proto_plugin plugin;
    plugin.register_protoinfo = proto_register_rstdiag;
    plugin.register_handoff = proto_reg_handoff_rstdiag;
    proto_register_plugin(&plugin);
    static tap_plugin stats;
    stats.register_tap_listener = register_rstdiag_stats;
    tap_register_plugin(&stats);
}

#if RSTDIAG_WS_AT_LEAST(4, 3)
WS_DLL_PUBLIC uint32_t plugin_describe(void);

uint32_t plugin_describe(void)
{
    return WS_PLUGIN_DESC_DISSECTOR | WS_PLUGIN_DESC_TAP_LISTENER;
}
#endif
