#!/usr/bin/env python3
"""Turn benches/results/{gen,images,machine}.json into the tables and the plot, and put
the tables into BENCHMARKS.md between its results markers.

Usage: report.py RESULTS_DIR BENCHMARKS_MD   (run with a Python that has matplotlib)
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

BEGIN, END = "<!-- results:begin (written by benches/report.py) -->", "<!-- results:end -->"


def mb(b):
    return f"{b / 1e6:.0f} MB"


def mib(b):
    return f"{b / 2**20:.0f} MiB"


def gen_table(g):
    m = g["median"]
    rows = [
        ("`fabuild gen`, one process for all specs", "gen_batch", g["specs"]),
        ("`fabuild check`, one process for all specs", "check_batch", g["specs"]),
        ("cookiecutter, one Python process for all specs", "tpl_batch", g["specs"]),
        ("`fabuild gen`, outputs on tmpfs (no fsync cost)", "gen_batch_tmpfs", g["specs"]),
        ("cookiecutter, outputs on tmpfs", "tpl_batch_tmpfs", g["specs"]),
        ("`fabuild gen`, one process per spec", "gen_cold", g["cold_specs"]),
        ("`fabuild check`, one process per spec", "check_cold", g["cold_specs"]),
        ("cookiecutter, one Python process per spec", "tpl_cold", g["cold_specs"]),
    ]
    out = ["| route | specs | ms per spec | peak RSS |", "| --- | ---: | ---: | ---: |"]
    for label, key, n in rows:
        out.append(f"| {label} | {n} | {m[key]['ms_per_spec']:.3f} | {m[key]['peak_rss_mib']:.1f} MiB |")
    def span(key):
        vals = [r[key] for r in g["raw"]]
        return f"{min(vals):.1f}x - {max(vals):.1f}x"

    out += ["", "| ratio (cookiecutter time / fabuild time per spec, taken inside each run) | median | range over runs |",
            "| --- | ---: | ---: |"]
    for key, name in [("ratio_gen_cold", "gen, one process per spec (what a developer or CI job runs)"),
                      ("ratio_gen_batch", "gen, one process for all specs, on disk"),
                      ("ratio_gen_batch_tmpfs", "gen, one process for all specs, on tmpfs"),
                      ("ratio_check_batch", "check (validation only) vs rendering, one process for all specs")]:
        out.append(f"| {name} | **{m[key]:.1f}x** | {span(key)} |")
    return "\n".join(out)


def image_table(im):
    med, lab = im["median"], im["params"]["labels"]
    cols = ["a", "b", "c", "a0", "a1"]
    out = ["| | " + " | ".join(lab[v] for v in cols) + " |", "| --- |" + " ---: |" * len(cols)]

    def row(name, fn):
        def cell(v):
            try:
                return fn(v)
            except KeyError:  # a diagnostic that is only built, or only served
                return "-"
        out.append(f"| {name} | " + " | ".join(cell(v) for v in cols) + " |")

    base = im["builds"]["base_size_bytes"]
    row("image size (base alone: " + mb(base) + ")", lambda v: mb(med[v]["size_bytes"]))
    row("added on top of the base", lambda v: mb(med[v]["size_bytes"] - base))
    row("installed Python packages (of which pip, setuptools)",
        lambda v: f"{med[v]['packages_kib'] / 1000:.0f} MB ({med[v]['build_tools_kib'] / 1000:.0f} MB)")
    row("full build, --no-cache (s)", lambda v: f"{med[v]['full_build_s']:.1f}")
    row("code-only rebuild, warm cache (s)", lambda v: f"{med[v]['rebuild_s']:.2f}")
    row("container start to first 200 over HTTPS (s)", lambda v: f"{med[v]['first200_s']:.2f}")
    row("requests/s (wrk)", lambda v: f"{med[v]['rps']:.0f}")
    row("latency p50 (ms)", lambda v: f"{med[v]['p50_ms']:.1f}")
    row("latency p99 (ms)", lambda v: f"{med[v]['p99_ms']:.1f}")
    row("memory, idle after first 200", lambda v: mib(med[v]["mem_idle_bytes"]))
    row("memory, right after load", lambda v: mib(med[v]["mem_load_bytes"]))
    row("gunicorn workers seen", lambda v: ",".join(map(str, med[v]["gunicorn_workers"])))
    row("process user", lambda v: ",".join(med[v]["users"]))
    r = im["ratios"]
    others = ("b", "c", "a0", "a1")
    out += ["", "| ratio, fabuild (a) over ... (same run, median of runs) | (b) | (c) | (a0) | (a1) |",
            "| --- | ---: | ---: | ---: | ---: |"]
    for key, name in [("size", "image size"), ("full_build", "full build time"), ("rebuild", "code-only rebuild time"),
                      ("first200", "time to first 200"), ("rps", "requests/s (higher is better)"),
                      ("p50", "p50 latency"), ("p99", "p99 latency"), ("mem", "memory after load")]:
        vals = [r.get(f"{key}_a_over_{o}") for o in others]
        out.append(f"| {name} | " + " | ".join("-" if x is None else f"{x:.2f}" for x in vals) + " |")
    # The diagnostics against the alternatives, paired by run like the ratios above.
    serves = im["serves"]

    def paired(x, y, key):
        vals = sorted(a[key] / b[key] for a, b in zip(serves[x], serves[y]))
        n = len(vals)
        return vals[n // 2] if n % 2 else (vals[n // 2 - 1] + vals[n // 2]) / 2

    out += ["", "| ratio, diagnostic over alternative (same run, median of runs) | (a0)/(b) | (a0)/(c) | (a1)/(b) | (a1)/(c) |",
            "| --- | ---: | ---: | ---: | ---: |"]
    for key, name in [("rps", "requests/s (higher is better)"), ("p50_ms", "p50 latency"), ("p99_ms", "p99 latency")]:
        out.append(f"| {name} | " + " | ".join(f"{paired(x, y, key):.2f}" for x in ("a0", "a1") for y in ("b", "c")) + " |")
    return "\n".join(out)


def plot(im, path):
    lab, serves = im["params"]["labels"], im["serves"]
    cols = ["a", "b", "c", "a0", "a1"]
    names = ["(a)\nfabuild", "(b)\nhand-\nwritten", "(c)\ntiangolo\npattern",
             "(a0)\nthe example's\nspec", "(a1)\n(a), no\naccess log"]
    colors = ["#1f77b4", "#7f7f7f", "#bcbd22", "#aec7e8", "#c6dbef"]
    fig, axes = plt.subplots(1, 4, figsize=(16, 5.2))
    metrics = [("rps", "requests/s (higher is better)", 1), ("p50_ms", "p50 latency, ms", 1),
               ("p99_ms", "p99 latency, ms", 1), ("first200_s", "start to first 200, s", 1)]
    for ax, (key, title, _) in zip(axes, metrics):
        meds = [im["median"][v][key] for v in cols]
        ax.bar(range(len(cols)), meds, color=colors)
        for i, v in enumerate(cols):  # every run as a dot, so the spread shows
            ys = [row[key] for row in serves[v]]
            ax.scatter([i] * len(ys), ys, color="black", s=10, zorder=3)
            ax.annotate(f"{meds[i]:.0f}" if key == "rps" else f"{meds[i]:.2f}", (i, meds[i]),
                        ha="center", va="bottom", fontsize=9, xytext=(0, 3), textcoords="offset points")
        ax.set_xticks(range(len(cols)))
        ax.set_xticklabels(names, fontsize=8)
        ax.axvline(2.5, color="black", lw=0.8, ls=":")  # right of it: diagnostics, not alternatives
        ax.set_title(title, fontsize=11)
        ax.grid(axis="y", alpha=0.3)
    p = im["params"]
    fig.suptitle(f"FastAPI hello-world over HTTPS, 3 gunicorn workers on 1 CPU (cpuset {p['server_cpuset']}), "
                 f"wrk {p['wrk']} on cpuset {p['client_cpuset']}\nbars: median of {p['serve_runs']} runs, dots: each run; "
                 "right of the dotted line: diagnostic variants of (a)",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    fig.savefig(path, dpi=110)


def main():
    res, md = sys.argv[1], sys.argv[2]
    g = json.load(open(os.path.join(res, "gen.json")))
    im = json.load(open(os.path.join(res, "images.json")))
    mach = json.load(open(os.path.join(res, "machine.json")))
    plot(im, os.path.join(res, "serving.png"))
    p = im["params"]
    text = "\n".join([
        BEGIN,
        f"Measured {mach['date']} on: {mach['cpu']}, `nproc` {mach['nproc']}, {mach['mem']} RAM "
        f"(`free -h`: {mach['free']}), kernel {mach['kernel']}; {mach['tools']}.",
        "",
        f"### Generation: {g['specs']} distinct specs, median of {g['runs']} runs",
        "",
        gen_table(g),
        "",
        f"### Images: median of {p['build_runs']} build runs and {p['serve_runs']} serving runs",
        "",
        "![serving comparison](benches/results/serving.png)",
        "",
        image_table(im),
        END,
    ])
    with open(os.path.join(res, "table.md"), "w") as f:
        f.write(text + "\n")
    doc = open(md).read()
    a, b = doc.index(BEGIN), doc.index(END) + len(END)
    with open(md, "w") as f:
        f.write(doc[:a] + text + doc[b:])


if __name__ == "__main__":
    main()
