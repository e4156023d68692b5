# SPDX-License-Identifier: GPL-2.0-or-later
# cmake -DPROFILE_DIR=<profiles/rstdiag> -P install_profile.cmake
# Copies the profile into the personal Wireshark configuration of whoever runs
# it, found as Wireshark finds it: $WIRESHARK_CONFIG_DIR, else
# $XDG_CONFIG_HOME/wireshark, else ~/.config/wireshark.
if(DEFINED ENV{WIRESHARK_CONFIG_DIR})
  set(config_dir "$ENV{WIRESHARK_CONFIG_DIR}")
elseif(DEFINED ENV{XDG_CONFIG_HOME})
  set(config_dir "$ENV{XDG_CONFIG_HOME}/wireshark")
else()
  set(config_dir "$ENV{HOME}/.config/wireshark")
endif()
file(GLOB files "${PROFILE_DIR}/*")
file(MAKE_DIRECTORY "${config_dir}/profiles/rstdiag")
file(COPY ${files} DESTINATION "${config_dir}/profiles/rstdiag")
message(STATUS "rstdiag profile installed in ${config_dir}/profiles/rstdiag")
