#!/usr/bin/env python3
"""Turn benches/bytecode.sh's JSON into the table and the plot BENCHMARKS.md shows.

Usage: bytecode_report.py BYTECODE_JSON PNG   (a Python with matplotlib; prints the table)
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {
    "worker_boot_s": ("worker loads the app", "s"),
    "start_to_2xx_s": ("container start -> first 2xx", "s"),
    "worker_rss_kib": ("RSS per worker", "MiB"),
    "cold_build_s": ("cold build", "s"),
    "rebuild_one_requirement_s": ("rebuild, one requirement changed", "s"),
    "image_bytes": ("image size", "MB"),
    "pyc_files": (".pyc files in /opt/venv and /app", ""),
    "py_files": (".py files there", ""),
}


def shown(metric, value):
    unit = LABELS[metric][1]
    if unit == "MiB":
        return f"{value / 1024:.1f} MiB"
    if unit == "MB":
        return f"{value / 1e6:.1f} MB"
    if unit == "s":
        return f"{value:.3f} s" if value < 1 else f"{value:.1f} s"
    return f"{value:.0f}"


def main():
    data = json.load(open(sys.argv[1]))
    rows = ["| example / route | measure | before | after | after / before |", "| --- | --- | --- | --- | --- |"]
    bars = []
    for example in sorted(data):
        for metric in LABELS:
            v = data[example].get(metric)
            if not v or "before" not in v or "after" not in v:
                continue
            ratio = v.get("ratio")
            rows.append(
                f"| {example} | {LABELS[metric][0]} | {shown(metric, v['before']['median'])} | "
                f"{shown(metric, v['after']['median'])} | {ratio if ratio is not None else '-'} |"
            )
            if ratio is not None and metric not in ("pyc_files", "py_files"):
                bars.append((f"{example}\n{LABELS[metric][0]}", ratio))
    print("\n".join(rows))
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(bars) + 1.2))
    names = [b[0].replace("\n", ": ") for b in bars]
    ax.barh(names, [b[1] for b in bars], color=["#3a7" if b[1] <= 1 else "#c54" for b in bars])
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xlabel("after / before (median of runs, one run of benches/bytecode.sh)")
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
