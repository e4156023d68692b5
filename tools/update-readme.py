#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Regenerate (or, with --check, verify) the generated sections of README.md.

Sections sit between '<!-- BEGIN name -->' and '<!-- END name -->':
  fields     from `tshark -G fields` with the built plugin
  causes     from tools/cause_table (the classifier's own table)
  origin     from tools/origin_table (the signs rst_origin.c weighs)
  agreement  from tests/check_captures.py --all --table (kernel ground truth)
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def fields_table(build):
    out = run([os.path.join(ROOT, "tools", "tshark-with-plugin"), build, "-G", "fields"])
    rows = ["| Field | Type | Description |", "|---|---|---|"]
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) >= 8 and parts[0] == "F" and parts[4] == "rstdiag" and ".expert." not in parts[2]:
            description = parts[7].replace("|", "\\|")
            rows.append(f"| `{parts[2]}` | {parts[3]} | {description} |")
    return "\n".join(rows)


def causes_table(build):
    return run([os.path.join(build, "cause_table"), "markdown"]).strip()


def origin_table(build):
    return run([os.path.join(build, "origin_table")]).strip()


def agreement_table(build):
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "check_captures.py"),
                          "--build", build, "--all", "--table"], capture_output=True, text=True).stdout
    return "\n".join(line for line in out.splitlines() if line.startswith("|"))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", required=True)
    ap.add_argument("--check", action="store_true", help="fail if README.md is out of date")
    ap.add_argument("--sections", default="fields,causes,origin,agreement")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    makers = {"fields": fields_table, "causes": causes_table, "origin": origin_table,
              "agreement": agreement_table}

    with open(README) as f:
        text = f.read()
    updated = text
    for name in args.sections.split(","):
        pattern = re.compile(rf"(<!-- BEGIN {name} -->\n)(?:.*?\n)?(<!-- END {name} -->)", re.S)
        if not pattern.search(updated):
            sys.exit(f"README.md has no section {name}")
        body = makers[name](build)
        updated = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), updated)
    if args.check:
        if updated != text:
            sys.exit("README.md is out of date: run tools/update-readme.py --build " + args.build)
        print("README.md generated sections are up to date")
        return 0
    with open(README, "w") as f:
        f.write(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
