"""Running the system tshark with the built plugin, for the test scripts."""
import os
import re
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


CLOCK_LINE = re.compile(r"^RSTDIAG: (.+): (clock offset .*)\n?", re.M)


def log_clocks(err):
    """{log path: its clock sentence}, as rstdiag tells it on stderr at the end."""
    return dict(CLOCK_LINE.findall(err))


def without_log_clocks(err):
    """stderr without the clock sentences: what else was said."""
    return CLOCK_LINE.sub("", err)
