#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/run.py: rstdiag's cost next to stock tshark, measured side by side.

Usage (root; about 15 minutes on 2 cores, of which ~1 min making the capture once):
    bench/run.py                         # make (or reuse) the wrk/nginx capture, measure, write bench/RESULTS.md
    bench/run.py --capture FILE.pcap     # measure on a capture of your own instead
    bench/run.py --runs 7 --build build --out /tmp/results.md
Options: --requests N (size of the made capture, default 120000 wrk requests),
--cache DIR (default /var/tmp/rstdiag-bench; the capture, its cuts and the log live
there, never in git), --regen (make the capture again), --cases a,b (only some).

Each case runs stock tshark and tshark with the plugin side by side, both
pinned to CPU 0 with taskset so that they share it (one unmeasured warm-up each
first), --runs rounds (default 5), both through tools/tshark-with-plugin as user nobody
(RSTDIAG_TSHARK_STOCK=1 gives the stock run an empty plugin folder, nothing
else differs), stdout to /dev/null. /usr/bin/time gives the CPU time and the
peak RSS of tshark itself. The median of the rounds' CPU-time ratios, and a
control case (stock against stock: the method's own noise), go to RESULTS.md
with the machine, the load, the versions and bench/notes.md.

A benchmark, not a test: it asserts nothing about time; the goals are only
reported as met or not.
"""
import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WRAPPER = os.path.join(ROOT, "tools", "tshark-with-plugin")
CLIENT_IP = "198.18.100.1"   # bench/make_capture.py's client
LOG_LINES = 1000000
LOG_SPAN_S = 3600            # the log covers an hour around the capture
GOAL_TIME = 1.03
GOAL_RSS = 1.05
GOAL_INDEX_S = 0.5
RST_STOCK = ["-Y", "tcp.flags.reset==1"]
RST_PLUGIN = ["-Y", "rstdiag"]
CONTROL = "control"   # the case that runs stock on both sides
CALLGRIND_CASES = [("plain", "no filter, a summary line per packet", []),
                   ("unrelated", "-Y http.request", ["-Y", "http.request"])]


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, **kw).stdout


def say(msg):
    print(msg, flush=True)


# ------------------------------------------------------------------ set-up

def ensure_tools(need_capture):
    missing = [pkg for tool, pkg in (("tshark", "tshark"), ("editcap", "wireshark-common"),
                                     ("capinfos", "wireshark-common"), ("taskset", "util-linux"))
               if not shutil.which(tool)]
    if not os.path.exists("/usr/bin/time"):
        missing.append("time")
    if need_capture:
        missing += [pkg for tool, pkg in (("wrk", "wrk"), ("tcpdump", "tcpdump"))
                    if not shutil.which(tool)]
        if not os.path.exists("/usr/sbin/nginx"):
            missing.append("nginx-light")
    if missing:
        say("installing %s" % " ".join(sorted(set(missing))))
        subprocess.run(["apt-get", "update", "-q"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q"] + sorted(set(missing)), check=True,
                       stdout=subprocess.DEVNULL)


def build(build_dir):
    if not os.path.exists(os.path.join(build_dir, "CMakeCache.txt")):
        sh(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=RelWithDebInfo"])
    sh(["cmake", "--build", build_dir, "-j2", "--target", "rstdiag", "index_log"])


def readable_by_nobody(path):
    """nobody must read the log (a -o preference is read, not copied, by the wrapper)"""
    d = os.path.dirname(path)
    while d and d != "/":
        os.chmod(d, os.stat(d).st_mode | 0o005)
        d = os.path.dirname(d)
    os.chmod(path, 0o644)


def capinfo(pcap):
    """(packets, first time, last time) from capinfos"""
    f = sh(["capinfos", "-T", "-r", "-S", "-c", "-a", "-e", pcap]).strip().split("\t")
    return int(f[1]), float(f[2]), float(f[3])


def prepare(args):
    """the capture, its 1/4 and 1/2 cuts, the 1M-line log; returns a dict"""
    os.makedirs(args.cache, exist_ok=True)
    if args.capture:
        full = os.path.abspath(args.capture)
        work = os.path.join(args.cache, "given-" + hashlib.sha1(full.encode()).hexdigest()[:12])
        meta = dict(source="given on the command line: %s" % full)
    else:
        work = os.path.join(args.cache, "capture-%d" % args.requests)
        full = os.path.join(work, "capture.pcap")
        if args.regen or not os.path.exists(os.path.join(work, "capture.json")):
            say("making the capture (%d wrk requests)" % args.requests)
            shutil.rmtree(work, True)
            subprocess.run([sys.executable, os.path.join(HERE, "make_capture.py"), work,
                            "--requests", str(args.requests)], check=True)
        with open(os.path.join(work, "capture.json")) as f:
            meta = json.load(f)
        meta["source"] = "made by bench/make_capture.py"
    os.makedirs(work, exist_ok=True)
    packets, first, last = capinfo(full)
    meta.update(packets=packets, first=first, last=last, path=full)
    cuts = {}
    for name, part in (("sixteenth", 16), ("quarter", 4), ("half", 2)):
        cut = os.path.join(work, "%s.pcap" % name)
        if not os.path.exists(cut) or os.path.getmtime(cut) < os.path.getmtime(full):
            sh(["editcap", "-r", full, cut, "1-%d" % (packets // part)])
        cuts[name] = cut
    cuts["full"] = full
    sizes = {}   # cut -> (packets, streams, RSTs), counted once by stock tshark
    known = os.path.join(work, "sizes.json")
    if os.path.exists(known) and os.path.getmtime(known) > os.path.getmtime(full):
        with open(known) as f:
            sizes = json.load(f)
    if set(sizes) != set(cuts):
        say("counting streams and RSTs of each cut")
        sys.path.insert(0, HERE)
        from make_capture import summarize
        sizes = {name: summarize(cut) for name, cut in cuts.items()}
        with open(known, "w") as f:
            json.dump(sizes, f)
    meta.update(streams=sizes["full"][1], rsts=sizes["full"][2])
    log = os.path.join(work, "error-1M.log")
    if not os.path.exists(log) or os.path.getmtime(log) < os.path.getmtime(full):
        say("making a %d-line error log" % LOG_LINES)
        start = (first + last) / 2 - LOG_SPAN_S / 2
        with open(log, "w") as f:
            subprocess.run([sys.executable, os.path.join(HERE, "make_error_log.py"), str(LOG_LINES),
                            "100", "%.0f" % start, str(LOG_SPAN_S), CLIENT_IP], stdout=f, check=True)
    readable_by_nobody(log)
    return dict(meta=meta, cuts=cuts, sizes=sizes, log=log)


# ------------------------------------------------------------------ measuring

def start_tshark(build_dir, stock, targs, out=os.devnull):
    """one tshark run pinned to CPU 0, started; finish_tshark() reads its figures"""
    env = dict(os.environ, RSTDIAG_TSHARK_PREFIX="/usr/bin/time -f RDBENCH:%M:%U:%S")
    env.pop("RSTDIAG_TSHARK_STOCK", None)
    if stock:
        env["RSTDIAG_TSHARK_STOCK"] = "1"
    o = open(out, "w")
    p = subprocess.Popen(["taskset", "-c", "0", WRAPPER, build_dir] + targs, env=env, stdout=o,
                         stderr=subprocess.PIPE, text=True)
    return p, o, targs


def finish_tshark(run):
    """(peak RSS KiB, cpu s) of a started run"""
    p, o, targs = run
    _, err = p.communicate(timeout=1800)
    o.close()
    lines = [l for l in err.splitlines() if l.startswith("RDBENCH:")]
    if p.returncode != 0 or not lines:
        raise SystemExit("tshark failed (%d): %s\n%s" % (p.returncode, " ".join(targs), err[-2000:]))
    _, rss, user, system = lines[-1].split(":")
    return int(rss), float(user) + float(system)


def tshark_once(build_dir, stock, targs, out=os.devnull):
    return finish_tshark(start_tshark(build_dir, stock, targs, out))


def count_lines(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def measure_pair(build_dir, runs, stock_args, plugin_args, control=False):
    """stock and plugin run at the same time on one CPU, `runs` times; per
    round the ratio of their CPU times, and its median. control: the "plugin"
    side is stock too, which measures the method's own noise."""
    tmp = "/tmp/rdbench-out-%d" % os.getpid()
    plugin_is_stock = control
    tshark_once(build_dir, True, stock_args, tmp)        # warm-up, also the output check
    stock_lines = count_lines(tmp)
    tshark_once(build_dir, plugin_is_stock, plugin_args, tmp)
    plugin_lines = count_lines(tmp)
    os.unlink(tmp)
    # This machine's speed drifts by tens of per cent within seconds (a shared
    # virtual machine): runs taken one after the other differ by more than the
    # plugin costs. Run side by side on one CPU, the two share the scheduler's
    # time slices (milliseconds), so each meets the same speeds, and the CPU
    # time each needed compares their work. Who starts first alternates.
    res = {True: [], False: []}
    for i in range(runs):
        order = (True, False) if i % 2 == 0 else (False, True)
        started = {stock: start_tshark(build_dir, stock or plugin_is_stock, stock_args if stock else plugin_args)
                   for stock in order}
        for stock in order:
            res[stock].append(finish_tshark(started[stock]))

    def med(rows, k):
        return statistics.median(r[k] for r in rows)
    out = dict(stock_lines=stock_lines, plugin_lines=plugin_lines, runs=runs)
    for stock, key in ((True, "stock"), (False, "plugin")):
        out[key] = dict(rss=med(res[stock], 0), cpu=med(res[stock], 1),
                        cpus=[r[1] for r in res[stock]])
    out["cpu_ratios"] = [p[1] / s[1] for s, p in zip(res[True], res[False])]
    out["cpu_ratio"] = statistics.median(out["cpu_ratios"])
    out["rss_ratio"] = out["plugin"]["rss"] / out["stock"]["rss"]
    return out


def measure_index(build_dir, log, runs):
    rows = []
    for _ in range(runs):
        f = dict(kv.split("=") for kv in sh([os.path.join(build_dir, "index_log"), log]).split())
        rows.append((float(f["seconds"]), int(f["peak_rss_kb"]), int(f["lines"]), int(f["kept"])))
    return dict(seconds=statistics.median(r[0] for r in rows), rss=statistics.median(r[1] for r in rows),
                lines=rows[0][2], kept=rows[0][3], all=[r[0] for r in rows])


def conn_stream_size():
    """sizeof(conn_stream), from the static assertion in conn_track.h"""
    with open(os.path.join(ROOT, "conn_track.h")) as f:
        for line in f:
            if line.startswith("G_STATIC_ASSERT(sizeof(conn_stream) =="):
                return int(line.split("==")[1].strip(" );\n"))
    raise SystemExit("conn_track.h: no static assertion of sizeof(conn_stream)")


def callgrind_pair(build_dir, targs):
    """instructions (callgrind) of stock and plugin tshark, run side by side:
    the whole process and the per-packet part (epan_dissect_run_with_taps)"""
    tmp = "/tmp/rdbench-cg-%d" % os.getpid()
    os.makedirs(tmp, exist_ok=True)
    os.chmod(tmp, 0o777)
    procs = {}
    for stock in (True, False):
        out = os.path.join(tmp, "stock.out" if stock else "plugin.out")
        env = dict(os.environ, RSTDIAG_TSHARK_PREFIX="valgrind --tool=callgrind --callgrind-out-file=" + out)
        env.pop("RSTDIAG_TSHARK_STOCK", None)
        if stock:
            env["RSTDIAG_TSHARK_STOCK"] = "1"
        procs[stock] = (out, subprocess.Popen([WRAPPER, build_dir] + targs, env=env, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.PIPE, text=True))
    res = {}
    for stock, (out, p) in procs.items():
        _, err = p.communicate(timeout=3600)
        total = [l for l in err.splitlines() if "I   refs:" in l or "I refs:" in l]
        if p.returncode != 0 or not total:
            raise SystemExit("callgrind run failed: %s" % err[-2000:])
        ann = sh(["callgrind_annotate", "--inclusive=yes", "--threshold=100", out])
        per_packet = [l for l in ann.splitlines() if "epan_dissect_run_with_taps" in l]
        res["stock" if stock else "plugin"] = dict(
            total=int(total[-1].split()[-1].replace(",", "")),
            packets=int(per_packet[0].split()[0].replace(",", "")) if per_packet else 0)
    shutil.rmtree(tmp, True)
    return res


def cases(prep):
    full, log = prep["cuts"]["full"], prep["log"]
    return [
        ("rst", "Resets: `-Y tcp.flags.reset==1` (stock) vs `-Y rstdiag`", full,
         RST_STOCK, RST_PLUGIN),
        ("unrelated", "Unrelated filter `-Y http.request`, plugin installed or not", full,
         ["-Y", "http.request"], ["-Y", "http.request"]),
        ("plain", "No filter: a summary line per packet, plugin installed or not", full, [], []),
        ("twopass", "Two-pass `-2`: `-2 -Y tcp.flags.reset==1` vs `-2 -Y rstdiag`", full,
         ["-2"] + RST_STOCK, ["-2"] + RST_PLUGIN),
        ("log", "1M-line error log loaded: `-Y tcp.flags.reset==1` vs "
         "`-Y rstdiag -o rstdiag.log_file:LOG`", full,
         RST_STOCK, RST_PLUGIN + ["-o", "rstdiag.log_file:%s" % log]),
        ("quarter", "Size 1/4: resets as in the first row", prep["cuts"]["quarter"], RST_STOCK, RST_PLUGIN),
        ("half", "Size 1/2: resets as in the first row", prep["cuts"]["half"], RST_STOCK, RST_PLUGIN),
        (CONTROL, "Control: stock against stock, `-Y http.request` (the method's own noise; no goal)", full,
         ["-Y", "http.request"], ["-Y", "http.request"]),
    ]


# ------------------------------------------------------------------ report

def versions(build_dir):
    tshark = next((l for l in sh(["tshark", "--version"]).splitlines() if l.startswith("TShark")), "?")
    nginx = subprocess.run(["/usr/sbin/nginx", "-v"], stderr=subprocess.PIPE, text=True).stderr.strip() \
        if os.path.exists("/usr/sbin/nginx") else "nginx not installed"
    wrk = subprocess.run(["wrk", "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True).stdout.split("[")[0].strip() if shutil.which("wrk") else "wrk not installed"
    commit = sh(["git", "-C", ROOT, "log", "-1", "--format=%h %s"]).strip()
    dirty = sh(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"]).strip()
    return dict(tshark=tshark, nginx=nginx, wrk=wrk, commit=commit + (" (+ uncommitted changes)" if dirty else ""))


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / 1048576
    return "%s, %d cores, %.0f GiB, %s %s" % (cpu, os.cpu_count(), mem, platform.system(), platform.release())


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def ok(flag):
    return "met" if flag else "**not met**"


def report(args, prep, res, cg, index, info):
    meta = prep["meta"]
    L = []
    w = L.append
    w("# rstdiag benchmark: cost next to stock tshark")
    w("")
    w("Written by `bench/run.py` (%s); do not edit by hand: the analysis below the tables comes "
      "from `bench/notes.md`." % ("`" + " ".join(["bench/run.py"] + sys.argv[1:]) + "`"))
    w("")
    w("- Date: %s; the whole run took %.0f s" % (info["date"], info["seconds"]))
    w("- Machine: %s" % machine())
    w("- Load average (1, 5, 15 min): %s before, %s after (timed runs are pinned to CPU 0, stock and "
      "plugin alternate)" % (info["load_before"], load()))
    v = info["versions"]
    w("- Versions: %s; %s; %s; rstdiag at %s" % (v["tshark"], v["nginx"], v["wrk"], v["commit"]))
    w("- Capture: %s; %d packets, %s TCP streams, %s RSTs, %.1f MB, snaplen %s, %.1f s of traffic%s" % (
        meta["source"], meta["packets"], meta.get("streams", "?"), meta.get("rsts", "?"),
        os.path.getsize(meta["path"]) / 1e6, meta.get("snaplen", "?"), meta["last"] - meta["first"],
        "; wrk: %s" % "; ".join(meta["wrk_summary"]) if meta.get("wrk_summary") else ""))
    w("- Log: %d lines (bench/make_error_log.py), one in 100 a reset line naming the capture's client, "
      "spread over an hour around the capture; %s reset lines kept by the index" % (index["lines"], index["kept"]))
    w("- Each row: %d rounds; in each, stock and plugin tshark run at the same time on CPU 0 and share "
      "it, so both meet the same machine speed. CPU = user + system time of each, the ratio the median of "
      "the rounds' plugin / stock ratios (for one-threaded tshark reading a cached file, the CPU time is "
      "the wall time it takes alone); RSS = peak resident memory, medians" % args.runs)
    w("")
    w("| case | stock CPU s | plugin CPU s | time ratio | stock RSS MiB | plugin RSS MiB | RSS ratio "
      "| output lines stock / plugin |")
    w("|---|---|---|---|---|---|---|---|")
    for key, title, *_ in cases(prep):
        if key not in res:
            continue
        r = res[key]
        w("| %s | %.2f | %.2f | **%.3f** | %.1f | %.1f | **%.3f** | %d / %d |" % (
            title, r["stock"]["cpu"], r["plugin"]["cpu"], r["cpu_ratio"], r["stock"]["rss"] / 1024,
            r["plugin"]["rss"] / 1024, r["rss_ratio"], r["stock_lines"], r["plugin_lines"]))
    w("")
    w("Every round's CPU times (s) and ratio:")
    w("")
    for key, *_ in cases(prep):
        if key in res:
            w("- %s: stock %s; plugin %s; ratios %s" % (
                key, " ".join("%.2f" % x for x in res[key]["stock"]["cpus"]),
                " ".join("%.2f" % x for x in res[key]["plugin"]["cpus"]),
                " ".join("%.3f" % x for x in res[key]["cpu_ratios"])))
    w("")
    sz = prep["sizes"]
    growth = [(k, cut) for k, cut in (("quarter", "quarter"), ("half", "half"), ("rst", "full")) if k in res]
    if growth:
        w("Growth with capture size (resets case, the first 1/4, 1/2 and all of the capture): the plugin's "
          "extra time and memory should grow in proportion.")
        w("")
        w("| packets | streams | RSTs | stock CPU s | plugin CPU s | ratio | extra µs per packet "
          "| extra peak RSS MiB |")
        w("|---|---|---|---|---|---|---|---|")
        for k, cut in growth:
            r, (pk, streams, rsts) = res[k], sz[cut]
            w("| %d | %d | %d | %.2f | %.2f | %.3f | %.2f | %.1f |" % (
                pk, streams, rsts, r["stock"]["cpu"], r["plugin"]["cpu"], r["cpu_ratio"],
                (r["plugin"]["cpu"] - r["stock"]["cpu"]) * 1e6 / pk,
                (r["plugin"]["rss"] - r["stock"]["rss"]) / 1024))
        w("")
    if cg:
        cut = sz["sixteenth"]
        w("Instructions (callgrind, stock and plugin runs of the first %d packets, %d streams): counts do not "
          "depend on the load, so they show the plugin's own cost where the wall times are noisy. "
          "*Per-packet part* is Wireshark's epan_dissect_run_with_taps (dissection, post-dissectors, taps), "
          "without start-up, file reading and printing." % (cut[0], cut[1]))
        w("")
        w("| case | stock, M instr. | plugin, M instr. | ratio | per-packet part: stock, plugin, ratio "
          "| extra instructions per packet (per-packet part) |")
        w("|---|---|---|---|---|---|")
        for key, title, _ in CALLGRIND_CASES:
            if key not in cg:
                continue
            a, b = cg[key]["stock"], cg[key]["plugin"]
            w("| %s | %.1f | %.1f | %.4f | %.1f, %.1f, %.4f | %.0f |" % (
                title, a["total"] / 1e6, b["total"] / 1e6, b["total"] / a["total"], a["packets"] / 1e6,
                b["packets"] / 1e6, b["packets"] / a["packets"] if a["packets"] else 0,
                (b["packets"] - a["packets"]) / cut[0]))
        w("")
    w("Log indexing (`index_log` on the 1M-line log, %d runs): median **%.3f s**, peak RSS %.1f MiB "
      "(all: %s)" % (args.runs, index["seconds"], index["rss"] / 1024, " ".join("%.3f" % s for s in index["all"])))
    w("")
    w("## Goals")
    w("")
    times = {k: r["cpu_ratio"] for k, r in res.items() if k != CONTROL}
    rsss = {k: r["rss_ratio"] for k, r in res.items() if k != CONTROL}
    if times:
        worst = max(times, key=times.get)
        w("- Time ≤ %.2f× stock in every case: %s (worst: %s, %.3f×)" % (
            GOAL_TIME, ok(times[worst] <= GOAL_TIME), worst, times[worst]))
        for k in sorted(times):
            if times[k] > GOAL_TIME:
                w("  - over in %s: %.3f×" % (k, times[k]))
    if CONTROL in res:
        spread = res[CONTROL]["cpu_ratios"]
        w("- The control (stock against stock) measured %.3f×, its pairs %.3f to %.3f×: differences "
          "smaller than that are within this run's noise" % (res[CONTROL]["cpu_ratio"], min(spread),
                                                             max(spread)))
    if rsss:
        worst = max(rsss, key=rsss.get)
        w("- Peak memory ≤ %.2f× stock in every case: %s (worst: %s, %.3f×)" % (
            GOAL_RSS, ok(rsss[worst] <= GOAL_RSS), worst, rsss[worst]))
    if "rst" in res and "quarter" in res and sz["full"][1] > sz["quarter"][1]:
        extra = [(res[k]["plugin"]["rss"] - res[k]["stock"]["rss"]) * 1024 for k in ("quarter", "rst")]
        per = (extra[1] - extra[0]) / (sz["full"][1] - sz["quarter"][1])
        size = conn_stream_size()
        w("- Per-stream state ≤ 64 bytes: %s: `conn_stream` is %d bytes (static assertion in conn_track.h), kept "
          "in a table indexed by tcp.stream with one bit beside it (the stream had a RST); measured: the plugin's extra peak RSS "
          "grows by %.0f bytes per added stream from 1/4 to all of the capture (its RST verdicts "
          "included)" % (ok(size <= 64), size, per))
    if len(growth) == 3:
        per = [(res[k]["plugin"]["cpu"] - res[k]["stock"]["cpu"]) * 1e6 / sz[cut][0] for k, cut in growth]
        w("- Linear growth: the plugin's extra time per packet at 1/4, 1/2, 1/1 of the capture: "
          "%s µs" % ", ".join("%.2f" % x for x in per))
    w("- 1M-line log indexed in ≤ %.1f s: %s (%.3f s)" % (GOAL_INDEX_S, ok(index["seconds"] <= GOAL_INDEX_S),
                                                        index["seconds"]))
    w("")
    notes = os.path.join(HERE, "notes.md")
    if os.path.exists(notes):
        with open(notes) as f:
            w(f.read().rstrip())
        w("")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser(description="rstdiag's cost next to stock tshark (see the top of this file)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--capture")
    ap.add_argument("--cache", default="/var/tmp/rstdiag-bench")
    ap.add_argument("--requests", type=int, default=120000)
    ap.add_argument("--regen", action="store_true")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cases", help="comma-separated: rst,unrelated,plain,twopass,log,quarter,half,control")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--no-callgrind", action="store_true", help="skip the instruction counts")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (the capture needs network namespaces; tshark then runs as nobody)")
    if args.runs < 1 or args.runs > 50:
        raise SystemExit("--runs: 1 to 50")
    t0 = time.monotonic()
    info = dict(date=time.strftime("%Y-%m-%d %H:%M %Z"), load_before=load())
    ensure_tools(not args.capture)
    args.build = os.path.abspath(args.build)
    build(args.build)
    prep = prepare(args)
    info["versions"] = versions(args.build)
    wanted = set(args.cases.split(",")) if args.cases else None
    res = {}
    for key, title, pcap, stock_args, plugin_args in cases(prep):
        if wanted and key not in wanted:
            continue
        say("%s: %s" % (key, title))
        res[key] = measure_pair(args.build, args.runs, ["-n", "-r", pcap] + stock_args,
                                ["-n", "-r", pcap] + plugin_args, control=key == CONTROL)
        r = res[key]
        say("  cpu %.2f -> %.2f s (%.3fx; rounds %s), RSS %.0f -> %.0f MiB (%.3fx)" % (
            r["stock"]["cpu"], r["plugin"]["cpu"], r["cpu_ratio"], " ".join("%.3f" % x for x in r["cpu_ratios"]),
            r["stock"]["rss"] / 1024, r["plugin"]["rss"] / 1024, r["rss_ratio"]))
    cg = {}
    if not args.no_callgrind:
        for key, title, extra in CALLGRIND_CASES:
            say("callgrind: %s" % title)
            cg[key] = callgrind_pair(args.build, ["-n", "-r", prep["cuts"]["sixteenth"]] + extra)
            r = cg[key]
            say("  %.1f -> %.1f M instructions (%.4fx)" % (r["stock"]["total"] / 1e6, r["plugin"]["total"] / 1e6,
                                                          r["plugin"]["total"] / r["stock"]["total"]))
    say("log indexing")
    index = measure_index(args.build, prep["log"], args.runs)
    say("  %.3f s, %.1f MiB" % (index["seconds"], index["rss"] / 1024))
    info["seconds"] = time.monotonic() - t0
    text = report(args, prep, res, cg, index, info)
    with open(args.out, "w") as f:
        f.write(text + "\n")
    say("wrote %s (%.0f s)" % (args.out, info["seconds"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
