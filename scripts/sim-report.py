#!/usr/bin/env python3
"""Plots the simulator's JSON results (pexsim run ... --output FILE) as PNGs.

usage: sim-report.py RESULTS_DIR OUT_DIR

Reads every *.json under RESULTS_DIR (recursively), writes into OUT_DIR:
  sim-convergence.png  federation convergence rounds vs N, next to the push-pull bound and memberlist/Serf
  sim-coverage.png     coverage over time of every run that recorded it
  sim-bandwidth.png    steady-state bytes per link per interval, delta sync vs full lists
and prints a Markdown table of every run's metrics and targets.
"""
import glob
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402


def load(directory):
    results = []
    for path in sorted(glob.glob(os.path.join(directory, "**", "*.json"), recursive=True)):
        with open(path) as f:
            data = json.load(f)
        if isinstance(data, dict) and "scenario" in data:
            data["_path"] = os.path.relpath(path, directory)
            results.append(data)
    return results


def convergence(results, out):
    runs = sorted((r for r in results if r["scenario"] == "federation" and r["metrics"].get("rounds", -1) >= 0
                   and "inbound32" not in r["_path"]), key=lambda r: (r["nodes"], r["crypto"]))
    if not runs:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for crypto, marker in (("fake", "o"), ("sodium", "s")):
        pts = [(r["nodes"], r["metrics"]["rounds"]) for r in runs if r["crypto"] == crypto]
        if pts:
            ax.plot(*zip(*pts), marker=marker, label=f"pex ({crypto} crypto)")
    ns = sorted({r["nodes"] for r in runs})
    ax.plot(ns, [runs[[x["nodes"] for x in runs].index(n)]["metrics"]["push_pull_bound_rounds"] for n in ns],
            "--", label="push-pull bound log3 N + ln ln N")
    ax.plot(ns, [runs[[x["nodes"] for x in runs].index(n)]["metrics"]["memberlist_rounds"] for n in ns],
            ":", label="memberlist/Serf (9–12)")
    ax.axhline(8, color="grey", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("nodes")
    ax.set_ylabel("rounds (sync intervals) to full convergence")
    ax.set_title("Federation convergence (roster, 8 outbound, 3 bootstraps)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = os.path.join(out, "sim-convergence.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def coverage(results, out):
    runs = [r for r in results if "coverage" in r.get("series", {}) and r["series"]["coverage"]]
    if not runs:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    for r in runs:
        pts = r["series"]["coverage"]
        ax.plot([p[0] / r["roundSeconds"] for p in pts], [p[1] for p in pts],
                label=f'{r["scenario"]} N={r["nodes"]}', lw=1)
    ax.set_xlabel("rounds since the phase started")
    ax.set_ylabel("coverage (share of current records held)")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path = os.path.join(out, "sim-coverage.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def bandwidth(results, out):
    runs = sorted((r for r in results if r["scenario"] == "steady"), key=lambda r: r["nodes"])
    if not runs:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    labels = [f'N={r["nodes"]}' for r in runs]
    delta = [r["metrics"].get("delta_bytes_per_link_per_interval", 0) for r in runs]
    full = [r["metrics"].get("full_bytes_per_link_per_interval", 0) for r in runs]
    xs = range(len(runs))
    ax.bar([x - 0.2 for x in xs], delta, 0.4, label="delta sync")
    ax.bar([x + 0.2 for x in xs], full, 0.4, label="full lists (offerDeltaSync false)")
    ax.axhline(256, color="grey", lw=0.8, label="target 256 B")
    ax.set_xticks(list(xs), labels)
    ax.set_yscale("log")
    ax.set_ylabel("bytes per link per sync interval")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = os.path.join(out, "sim-bandwidth.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def table(results):
    lines = ["| run | metric | value |", "|---|---|---|"]
    for r in results:
        for k, v in sorted(r["metrics"].items()):
            lines.append(f'| {r["_path"]} | {k} | {v:.3f} |' if isinstance(v, float) else f'| {r["_path"]} | {k} | {v} |')
        for t in r.get("targets", []):
            m = t.get("measured")
            met = m is not None and (m <= t["bound"] if t["atMost"] else m >= t["bound"])
            lines.append(f'| {r["_path"]} | target {t["name"]} | {m} vs {t["bound"]}: {"met" if met else "MISSED"} |')
    return "\n".join(lines)


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    results = load(argv[1])
    if not results:
        print(f"no results under {argv[1]}", file=sys.stderr)
        return 1
    os.makedirs(argv[2], exist_ok=True)
    for made in (convergence(results, argv[2]), coverage(results, argv[2]), bandwidth(results, argv[2])):
        if made:
            print(f"wrote {made}")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
