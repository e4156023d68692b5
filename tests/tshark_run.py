# SPDX-License-Identifier: GPL-2.0-or-later
"""Running the system tshark with the built plugin, for the test scripts."""
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tshark_result(build, *args, timeout=300):
    """The CompletedProcess (text) of tshark with the plugin from build, whatever its exit."""
    cmd = [os.path.join(ROOT, "tools", "tshark-with-plugin"), build, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def tshark(build, *args):
    """(stdout, stderr) of tshark with the plugin from build; fails on a non-zero exit."""
    result = tshark_result(build, *args)
    if result.returncode != 0:
        raise AssertionError(f"tshark failed ({result.returncode}): {' '.join(args)}\n{result.stderr}")
    return result.stdout, result.stderr
