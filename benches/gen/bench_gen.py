#!/usr/bin/env python3
"""Generation benchmark: fabuild gen/check against the cookiecutter template route.

Usage: bench_gen.py FABUILD_BIN VENV_PYTHON WORK_DIR OUT_JSON [--runs N] [--specs N] [--cold N]

Every run, in the same run and alternating which goes first:
  batch:  `fabuild gen` over all specs in one process; `fabuild check` likewise;
          render_cookiecutter.py over the same specs in one Python process.
  tmpfs:  the batch pair again with every output on /dev/shm (no fsync cost).
  cold:   one process per spec (what a CI job or a developer does) over the first
          --cold specs: `fabuild gen SPEC` vs `python render_cookiecutter.py ... CTX`.
Time per spec = wall time / specs; peak memory = max RSS from /usr/bin/time -v (batch)
or the largest single-process max RSS (cold). Figures are medians over the runs; the
ratios are computed inside each run, then the median taken.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHM = "/dev/shm"


def timed(cmd, cwd=None):
    """Wall seconds and max RSS (KiB) of one command run under /usr/bin/time -v."""
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v", *cmd], cwd=cwd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd[:4])} ...\n{p.stderr[-2000:]}")
    rss = next(int(l.split(":")[1]) for l in p.stderr.splitlines() if "Maximum resident set size" in l)
    return wall, rss


def fresh_specs(work, names, root=None):
    """A pristine copy of the specs (no generated files), so every gen writes every file."""
    dst = os.path.join(root or work, "run-specs")
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(dst)
    for n in names:
        shutil.copytree(os.path.join(work, "specs", n), os.path.join(dst, n))
    return dst


def one_run(fab, py, work, names, cold_names, fab_first):
    tpl = os.path.join(HERE, "template")
    render = os.path.join(HERE, "render_cookiecutter.py")
    ctx = [os.path.join(work, "contexts", n + ".json") for n in names]
    r = {}

    def fab_batch():
        d = fresh_specs(work, names)
        r["gen_batch"] = timed([fab, "gen", *[n + "/app.yaml" for n in names]], cwd=d)
        r["check_batch"] = timed([fab, "check", *[n + "/app.yaml" for n in names]], cwd=d)

    def tpl_batch():
        out = os.path.join(work, "tpl-out")
        shutil.rmtree(out, ignore_errors=True)
        r["tpl_batch"] = timed([py, render, tpl, out, *ctx])

    def tmpfs_pair():
        # The same batch pair with outputs on tmpfs, where fsync costs nothing: shows how
        # much of gen's time is its durable (fsync + rename) writes.
        shm = os.path.join(SHM, "fabuild-bench-gen")
        shutil.rmtree(shm, ignore_errors=True)
        d = fresh_specs(work, names, root=shm)
        r["gen_batch_tmpfs"] = timed([fab, "gen", *[n + "/app.yaml" for n in names]], cwd=d)
        r["tpl_batch_tmpfs"] = timed([py, render, tpl, os.path.join(shm, "tpl-out"), *ctx])
        shutil.rmtree(shm, ignore_errors=True)

    def fab_cold():
        d = fresh_specs(work, cold_names)
        for key, sub in (("gen_cold", "gen"), ("check_cold", "check")):
            walls, rss = 0.0, 0
            for n in cold_names:
                w, m = timed([fab, sub, "app.yaml"], cwd=os.path.join(d, n))
                walls, rss = walls + w, max(rss, m)
            r[key] = (walls, rss)

    def tpl_cold():
        out = os.path.join(work, "tpl-out")
        shutil.rmtree(out, ignore_errors=True)
        walls, rss = 0.0, 0
        for n in cold_names:
            w, m = timed([py, render, tpl, out, os.path.join(work, "contexts", n + ".json")])
            walls, rss = walls + w, max(rss, m)
        r["tpl_cold"] = (walls, rss)

    order = [fab_batch, tpl_batch, fab_cold, tpl_cold] if fab_first else [tpl_batch, fab_batch, tpl_cold, fab_cold]
    order.append(tmpfs_pair)
    for step in order:
        step()
    per = {}
    for k, (wall, rss) in r.items():
        count = len(cold_names) if k.endswith("_cold") else len(names)
        per[k] = {"ms_per_spec": 1000 * wall / count, "peak_rss_mib": rss / 1024}
    per["ratio_gen_batch"] = per["tpl_batch"]["ms_per_spec"] / per["gen_batch"]["ms_per_spec"]
    per["ratio_gen_batch_tmpfs"] = per["tpl_batch_tmpfs"]["ms_per_spec"] / per["gen_batch_tmpfs"]["ms_per_spec"]
    per["ratio_check_batch"] = per["tpl_batch"]["ms_per_spec"] / per["check_batch"]["ms_per_spec"]
    per["ratio_gen_cold"] = per["tpl_cold"]["ms_per_spec"] / per["gen_cold"]["ms_per_spec"]
    return per


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fabuild")
    ap.add_argument("python")
    ap.add_argument("work")
    ap.add_argument("out")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cold", type=int, default=100)
    a = ap.parse_args()
    names = sorted(os.listdir(os.path.join(a.work, "specs")))
    cold_names = names[: a.cold]
    runs = []
    for i in range(a.runs):
        runs.append(one_run(a.fabuild, a.python, a.work, names, cold_names, fab_first=(i % 2 == 0)))
        print(f"[gen] run {i + 1}/{a.runs}: batch ratio {runs[-1]['ratio_gen_batch']:.0f}x, "
              f"cold ratio {runs[-1]['ratio_gen_cold']:.0f}x", file=sys.stderr)
    med = {}
    for k, v in runs[0].items():
        if isinstance(v, dict):
            med[k] = {m: statistics.median(r[k][m] for r in runs) for m in v}
        else:
            med[k] = statistics.median(r[k] for r in runs)
    json.dump({"specs": len(names), "cold_specs": len(cold_names), "runs": a.runs,
               "median": med, "raw": runs}, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
