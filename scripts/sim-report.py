#!/usr/bin/env python3
"""Plots the simulator's JSON results (pexsim run ... --output FILE) as PNGs.

usage: sim-report.py RESULTS_DIR OUT_DIR

Reads every *.json under RESULTS_DIR (recursively), writes into OUT_DIR:
  sim-convergence.png  federation convergence rounds vs N, next to the push-pull bound and memberlist/Serf
  sim-coverage.png     coverage over time of every run that recorded it
  sim-bandwidth.png    steady-state bytes per link per interval, delta sync vs full lists
  sim-attacks.png      the largest share of the victim's table each attacker held
  sim-cost.png         wall time, CPU time and peak memory of the simulator (from `NAME.time`,
                       /usr/bin/time -v output written next to `NAME.json`)
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
    fig, ax = plt.subplots(figsize=(7, 6))
    for r in runs:
        pts = r["series"]["coverage"]
        # Runs of one scenario and size may differ in book size (growth-3000-book640/-book1280).
        book = r["metrics"].get("book_capacity")
        if book and book < r["nodes"]:
            label = f'{os.path.splitext(os.path.basename(r["_path"]))[0]} (book {int(book)})'
        else:
            label = f'{r["scenario"]} N={r["nodes"]}'
        ax.plot([p[0] / r["roundSeconds"] for p in pts], [p[1] for p in pts], label=label, lw=1)
    ax.set_xlabel("rounds since the phase started")
    ax.set_ylabel("coverage (share of current records held)")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.13))  # below: curves fill the axes
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


def attacks(results, out):
    """Largest attacker share of the victim's table per attack variant (full-size runs only)."""
    bars = []
    for r in sorted(results, key=lambda r: (r["scenario"], r["nodes"])):
        if r["scenario"] not in ("flood", "eclipse", "equivocate", "replay") or r["_path"].startswith("short"):
            continue
        for k, v in sorted(r["metrics"].items()):
            if "baseline" in k or not isinstance(v, (int, float)):
                continue
            if k.endswith("max_victim_attacker_share") or (k == "victim_attacker_share"
                                                          and "max_victim_attacker_share" not in r["metrics"]):
                variant = k.replace("max_victim_attacker_share", "").replace("victim_attacker_share", "").strip("_")
                bars.append((f'{r["scenario"]} {variant or "roster"}\nN={r["nodes"]}', 100 * v))
    if not bars:
        return None
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(bars)), 4))
    ax.bar(range(len(bars)), [b[1] for b in bars])
    ax.axhline(10, color="grey", lw=0.8, label="eclipse target 10 %")
    ax.set_xticks(range(len(bars)), [b[0] for b in bars], fontsize=7)
    ax.set_ylabel("attacker share of the victim's table (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = os.path.join(out, "sim-attacks.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def time_file(result_path):
    """Wall seconds, CPU seconds and max RSS (MB) from /usr/bin/time -v output, if present."""
    path = os.path.splitext(result_path)[0] + ".time"
    if not os.path.exists(path):
        return None
    fields = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.strip().rpartition(": ")
            fields[key] = value
    try:
        wall = 0.0
        for part in fields["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":"):
            wall = wall * 60 + float(part)
        cpu = float(fields["User time (seconds)"]) + float(fields["System time (seconds)"])
        return wall, cpu, float(fields["Maximum resident set size (kbytes)"]) / 1024
    except (KeyError, ValueError):
        return None


def cost(results, directory, out):
    pts = []
    for r in results:
        if r["scenario"] in ("federation", "scale", "growth") and r["crypto"] == "fake" and not r["_path"].startswith("short"):
            t = time_file(os.path.join(directory, r["_path"]))
            if t:
                pts.append((r["nodes"], r["scenario"], *t))
    if not pts:
        return None
    pts.sort()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 4))
    for scenario, marker in (("federation", "o"), ("scale", "s"), ("growth", "^")):
        sel = [p for p in pts if p[1] == scenario]
        if sel:
            a1.plot([p[0] for p in sel], [p[3] for p in sel], marker=marker, label=f"{scenario}: CPU s")
            a2.plot([p[0] for p in sel], [p[4] for p in sel], marker=marker, label=f"{scenario}: peak RSS MB")
    for ax in (a1, a2):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("nodes")
        ax.legend(fontsize=8)
    a1.set_title("simulator CPU time per run")
    a2.set_title("simulator peak memory")
    fig.tight_layout()
    path = os.path.join(out, "sim-cost.png")
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
    for made in (convergence(results, argv[2]), coverage(results, argv[2]), bandwidth(results, argv[2]),
                 attacks(results, argv[2]), cost(results, argv[1], argv[2])):
        if made:
            print(f"wrote {made}")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
