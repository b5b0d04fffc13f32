#!/usr/bin/env python3
"""Line coverage per module from the JSON that `swift test --enable-code-coverage` writes.

Generated code (CPexProto), tests and dependencies are excluded. With --gate MODULE, exits
non-zero when that module is below --min percent, so `make test` fails on a coverage drop.
"""
import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict


def codecov_path() -> str:
    out = subprocess.run(["swift", "test", "--show-codecov-path"], check=True,
                         capture_output=True, text=True).stdout.strip()
    return out.splitlines()[-1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--min", type=float, default=90.0)
    ap.add_argument("--gate", action="append", default=[], help="module that must reach --min")
    ap.add_argument("--json", help="codecov JSON (default: ask swift test)")
    args = ap.parse_args()

    path = args.json or codecov_path()
    if not os.path.exists(path):
        print(f"coverage: {path} not found; run the tests with --enable-code-coverage", file=sys.stderr)
        return 2
    root = os.path.abspath(".") + "/Sources/"
    covered, total = defaultdict(int), defaultdict(int)
    with open(path) as f:
        data = json.load(f)
    for entry in data["data"]:
        for file in entry["files"]:
            name = file["filename"]
            if not name.startswith(root):
                continue
            module = name[len(root):].split("/", 1)[0]
            if module.startswith("C"):  # C shims and generated protobuf-c code
                continue
            lines = file["summary"]["lines"]
            covered[module] += lines["covered"]
            total[module] += lines["count"]

    failed = False
    print(f"{'module':<16}{'lines':>8}{'covered':>9}{'percent':>9}")
    for module in sorted(total):
        pct = 100.0 * covered[module] / total[module] if total[module] else 100.0
        mark = ""
        if module in args.gate and pct < args.min:
            mark, failed = f"  < {args.min:.0f} % required", True
        print(f"{module:<16}{total[module]:>8}{covered[module]:>9}{pct:>8.1f}%{mark}")
    for module in args.gate:
        if module not in total:
            print(f"coverage: no data for gated module {module}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
