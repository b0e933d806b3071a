#!/usr/bin/env python3
"""Image benchmark: fabuild's image (a) against the hand-written setup (b) and the
tiangolo uvicorn-gunicorn pattern (c), one FastAPI hello-world over TLS on 8443.

Usage: bench_images.py REPO FABUILD_BIN WORK_DIR OUT_JSON [--build-runs N] [--serve-runs N]
                       [--duration S] [--connections N] [--threads N]

Needs root, buildah, podman (private config from tests/e2e/setup.sh, sourced by the
caller), nsenter, taskset, wrk, openssl. Every container is named fabuild-bench-*,
runs with --network=none (its own loopback: nothing else on this shared host can answer
on its 127.0.0.1:8443) and --cpuset-cpus=SERVER_CPU; wrk and the probes join its network
namespace with nsenter and run pinned to CLIENT_CPU. Each run goes through the variants
in a rotated order so background load spreads over all of them; ratios are taken inside
each run, then the median over runs.
"""
import argparse
import atexit
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

BASE = os.environ.get("FABUILD_E2E_BASE_IMAGE", "localhost/fabuild-e2e/python-base:bookworm")
PIP_CA = "/etc/ssl/certs/ca-certificates.crt"
PORT = 8443
SERVER_CPU, CLIENT_CPU = "1", "0"
HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = ["a", "b", "c"]
# (a) is fabuild's defaults: examples/fastapi-tls's code and certificates with the smallest
# spec that serves it over TLS (DEFAULTS_SPEC); only the worker count is set, to the 3 that
# (b) and (c) run.
# Diagnostics, not alternatives: they say where (a)'s gaps come from.
#   a0 (served): the committed example's own app.yaml (max_requests 1000 with jitter,
#       timeout 120, a health check): what a team's tuned spec costs or saves;
#   a1 (served): (a) with `access_log: false` (gunicorn's own default, as in (b)).
BUILD_VARIANTS = ["a", "b", "c"]
SERVE_VARIANTS = ["a", "b", "c", "a0", "a1"]
LABEL = {"a": "fabuild (a)", "b": "hand-written (b)", "c": "tiangolo pattern (c)",
         "a0": "fabuild, the example's spec (a0)", "a1": "fabuild, no access log (a1)"}
DEFAULTS_SPEC = """version: 1
name: orders-api
app:
  module: main:app
  interface: asgi
server:
  workers: 3
tls:
  dir: /opt/key
  certfile: abc-cert.pem
  keyfile: abc-key.pem
"""
STARTED = []  # container names this run started: removed at exit, by name


def log(msg):
    print(f"[images {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(*cmd, check=True, capture=True, **kw):
    p = subprocess.run(cmd, text=True, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE if capture else subprocess.DEVNULL, **kw)
    if check and p.returncode != 0:
        raise SystemExit(f"failed ({p.returncode}): {' '.join(cmd)}\n{(p.stdout or '')[-3000:]}{(p.stderr or '')[-3000:]}")
    return p


def rm_container(name):
    sh("podman", "rm", "-f", "-t", "0", name, check=False)


@atexit.register
def cleanup():
    for name in STARTED:
        rm_container(name)


# ------------------------------------------------------------------ contexts
def prepare(repo, fab, work):
    ctx = {}
    src_app = os.path.join(repo, "examples", "fastapi-tls")
    a = os.path.join(work, "ctx", "a")
    shutil.rmtree(os.path.join(work, "ctx"), ignore_errors=True)
    shutil.copytree(src_app, a)
    for name in os.listdir(a):  # the example's generated files and manifests go
        if name not in ("main.py", "requirements.txt"):
            os.remove(os.path.join(a, name))
    with open(os.path.join(a, "app.yaml"), "w") as f:
        f.write(DEFAULTS_SPEC)
    sh(fab, "gen", "--base-image", BASE, "app.yaml", cwd=a)
    ctx["a"] = a
    a0 = os.path.join(work, "ctx", "a0")
    shutil.copytree(src_app, a0)
    sh(fab, "gen", "--base-image", BASE, "app.yaml", cwd=a0)
    ctx["a0"] = a0
    a1 = os.path.join(work, "ctx", "a1")
    shutil.copytree(a, a1)
    text = open(os.path.join(a1, "app.yaml")).read().replace("\nserver:\n", "\nserver:\n  access_log: false\n", 1)
    with open(os.path.join(a1, "app.yaml"), "w") as f:
        f.write(text)
    sh(fab, "gen", "--base-image", BASE, "app.yaml", cwd=a1)
    assert "--access-logfile" not in open(os.path.join(a1, "Dockerfile")).read()
    ctx["a1"] = a1
    b = os.path.join(work, "ctx", "b")
    os.makedirs(b)
    shutil.copy(os.path.join(src_app, "main.py"), b)
    shutil.copy(os.path.join(HERE, "handwritten", "Dockerfile"), b)
    ctx["b"] = b
    c = os.path.join(work, "ctx", "c")
    shutil.copytree(os.path.join(HERE, "tiangolo-pattern"), c)
    shutil.copy(os.path.join(src_app, "main.py"), c)
    ctx["c"] = c
    return ctx


def image(v):
    return f"localhost/fabuild-bench/{v}:bench"


def build(ctx_dir, tag, no_cache):
    cmd = ["buildah", "build", "--isolation=chroot", "--network=host", "--pull=never", "--layers",
           "--force-rm", "--build-arg", f"BASE_IMAGE={BASE}", "--secret", f"id=pip_ca,src={PIP_CA}",
           "-f", os.path.join(ctx_dir, "Dockerfile"), "-t", tag]
    if no_cache:
        cmd.append("--no-cache")
    t0 = time.perf_counter()
    sh(*cmd, ctx_dir)
    return time.perf_counter() - t0


def image_size(tag):
    return int(sh("podman", "image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())


def package_sizes(v):
    """KiB of the installed Python packages, and of the build tools among them (pip,
    setuptools, pkg_resources): where the images' sizes differ."""
    site = "/usr/local/lib/python3.11/dist-packages" if v in ("b", "c") else "/opt/venv/lib/python3.11/site-packages"
    name = f"fabuild-bench-du-{v}-{os.getpid()}"
    STARTED.append(name)
    out = sh("podman", "run", "--rm", "--network=none", "--name", name, "--entrypoint", "sh", image(v), "-c",
             f"cd {site} && du -sk . && du -sk pip setuptools pkg_resources _distutils_hack 2>/dev/null; true").stdout
    sizes = {line.split()[1]: int(line.split()[0]) for line in out.splitlines() if line.strip()}
    return {"packages_kib": sizes.pop("."), "build_tools_kib": sum(sizes.values())}


def build_runs(ctx, runs):
    out = {v: {"full_s": [], "rebuild_s": []} for v in BUILD_VARIANTS}
    originals = {v: open(os.path.join(ctx[v], "main.py")).read() for v in BUILD_VARIANTS}
    n = len(BUILD_VARIANTS)
    for r in range(runs):
        order = BUILD_VARIANTS[r % n:] + BUILD_VARIANTS[:r % n]
        for v in order:
            main = os.path.join(ctx[v], "main.py")
            with open(main, "w") as f:
                f.write(originals[v])
            full = build(ctx[v], image(v), no_cache=True)
            with open(main, "w") as f:  # the one-line code change
                f.write(originals[v] + f"# rebuild marker {r}\n")
            rebuild = build(ctx[v], image(v), no_cache=False)
            out[v]["full_s"].append(full)
            out[v]["rebuild_s"].append(rebuild)
            log(f"build run {r + 1}/{runs} {v}: full {full:.1f}s, code-only rebuild {rebuild:.2f}s")
    for v in ("a0", "a1"):  # served only: built once, with the cache the builds above left
        build(ctx[v], image(v), no_cache=False)
    for v in BUILD_VARIANTS + ["a0", "a1"]:
        out.setdefault(v, {})["size_bytes"] = image_size(image(v))
        out[v].update(package_sizes(v))
    out["base_size_bytes"] = image_size(BASE)
    return out


# ------------------------------------------------------------------ serving
def make_certs(work):
    d = os.path.join(work, "certs")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
       "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
       "-keyout", os.path.join(d, "abc-key.pem"), "-out", os.path.join(d, "abc-cert.pem"))
    mounts = {}
    # (a) like a Kubernetes secret with fsGroup: root:<gid> 0440, read by uid 10001.
    # (b), (c) run as root, as they would be: root:root 0400.
    for v, (gid, mode) in {"a": (10001, 0o440), "a0": (10001, 0o440), "a1": (10001, 0o440),
                           "b": (0, 0o400), "c": (0, 0o400)}.items():
        m = os.path.join(d, v)
        os.makedirs(m)
        for f in ("abc-key.pem", "abc-cert.pem"):
            shutil.copy(os.path.join(d, f), m)
            os.chown(os.path.join(m, f), 0, gid)
            os.chmod(os.path.join(m, f), mode)
        os.chmod(m, 0o755)
        mounts[v] = m
    return os.path.join(d, "abc-cert.pem"), mounts


def run_args(v, mounts):
    args = ["-v", f"{mounts[v]}:/opt/key:ro"]
    if v == "c":  # the image's own knobs: port, the same 3 workers, TLS through GUNICORN_CMD_ARGS
        args += ["-e", f"PORT={PORT}", "-e", "WEB_CONCURRENCY=3",
                 "-e", "GUNICORN_CMD_ARGS=--keyfile=/opt/key/abc-key.pem --certfile=/opt/key/abc-cert.pem"]
    return args


UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_wrk(text):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    lat = {}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        lat[pct] = float(m.group(1)) * UNIT[m.group(2)]
    errors = re.search(r"Socket errors: (.*)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"rps": rps, "p50_ms": lat["50"], "p99_ms": lat["99"],
            "socket_errors": errors.group(1) if errors else "", "non2xx": int(non2xx.group(1)) if non2xx else 0}


def mem_bytes(name):
    """The container's memory as podman stats reports it (cgroup memory usage)."""
    out = sh("podman", "stats", "--no-stream", "--no-reset", "--format", "json", name).stdout
    data = json.loads(out)
    entry = data[0] if isinstance(data, list) else data
    raw = entry.get("mem_usage") or entry.get("MemUsage")
    num, unit = re.match(r"([\d.]+)\s*([kKMGT]?i?B)", raw.split("/")[0].strip()).groups()
    mult = {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1024, "MiB": 2**20, "GiB": 2**30}[unit]
    return float(num) * mult


def serve_once(v, r, cafile, mounts, opts, logdir):
    name = f"fabuild-bench-{v}-{os.getpid()}-{r}"
    STARTED.append(name)
    rm_container(name)
    t0 = time.time()
    sh("podman", "run", "-d", "--name", name, "--network=none", f"--cpuset-cpus={SERVER_CPU}",
       *run_args(v, mounts), image(v))
    pid = sh("podman", "inspect", "-f", "{{.State.Pid}}", name).stdout.strip()
    netns = f"--net=/proc/{pid}/ns/net"
    try:
        first = float(sh("taskset", "-c", CLIENT_CPU, "nsenter", netns, sys.executable,
                         os.path.join(HERE, "first200.py"), str(t0), str(PORT), cafile).stdout)
        time.sleep(1)
        mem_idle = mem_bytes(name)
        wrk = ["taskset", "-c", CLIENT_CPU, "nsenter", netns, "wrk", f"-t{opts.threads}",
               f"-c{opts.connections}", "--latency", f"https://127.0.0.1:{PORT}/"]
        sh(*wrk[:-2], "-d3s", *wrk[-2:])  # warm-up, discarded
        res = sh(*wrk[:-2], f"-d{opts.duration}s", *wrk[-2:]).stdout
        mem_load = mem_bytes(name)
        top = sh("podman", "top", name, "user", "pid", "args").stdout
        with open(os.path.join(logdir, f"{v}-{r}.wrk.txt"), "w") as f:
            f.write(res)
        with open(os.path.join(logdir, f"{v}-{r}.top.txt"), "w") as f:
            f.write(top)
    finally:
        logs = sh("podman", "logs", name, check=False)
        lines = ((logs.stdout or "") + (logs.stderr or "")).splitlines()
        access = [l for l in lines if '"GET / HTTP/1.1" 200' in l]
        with open(os.path.join(logdir, f"{v}-{r}.log"), "w") as f:  # without the access lines
            f.write("\n".join(l for l in lines if '"GET / HTTP/1.1" 200' not in l))
            f.write(f"\n[bench: {len(access)} access-log lines of GET / 200 left out]\n")
        rm_container(name)
    w = parse_wrk(res)
    workers = sum(1 for line in top.splitlines()[1:] if "gunicorn" in line) - 1
    users = sorted({line.split()[0] for line in top.splitlines()[1:] if line.strip()})
    row = dict(w, first200_s=first, mem_idle_bytes=mem_idle, mem_load_bytes=mem_load,
               gunicorn_workers=workers, users=users)
    log(f"serve run {r + 1} {v}: first 200 {first:.2f}s, {w['rps']:.0f} req/s, p50 {w['p50_ms']:.1f} ms, "
        f"p99 {w['p99_ms']:.1f} ms, mem {mem_load / 2**20:.0f} MiB, workers {workers}, users {users}")
    return row


def serve_runs(cafile, mounts, opts, logdir):
    out = {v: [] for v in SERVE_VARIANTS}
    n = len(SERVE_VARIANTS)
    for r in range(opts.serve_runs):
        order = SERVE_VARIANTS[r % n:] + SERVE_VARIANTS[:r % n]
        for v in order:
            out[v].append(serve_once(v, r, cafile, mounts, opts, logdir))
    return out


def median_table(builds, serves):
    med = {}
    for v in SERVE_VARIANTS:
        m = {k: builds[v][k] for k in ("size_bytes", "packages_kib", "build_tools_kib")}
        if v in BUILD_VARIANTS:
            m["full_build_s"] = statistics.median(builds[v]["full_s"])
            m["rebuild_s"] = statistics.median(builds[v]["rebuild_s"])
        if v not in SERVE_VARIANTS:
            med[v] = m
            continue
        for k in ("rps", "p50_ms", "p99_ms", "first200_s", "mem_idle_bytes", "mem_load_bytes"):
            m[k] = statistics.median(row[k] for row in serves[v])
        m["gunicorn_workers"] = sorted({row["gunicorn_workers"] for row in serves[v]})
        m["users"] = sorted({u for row in serves[v] for u in row["users"]})
        med[v] = m
    ratios = {}
    for other in ("b", "c", "a0", "a1"):
        ratios[f"rps_a_over_{other}"] = statistics.median(
            a["rps"] / o["rps"] for a, o in zip(serves["a"], serves[other]))
        ratios[f"p99_a_over_{other}"] = statistics.median(
            a["p99_ms"] / o["p99_ms"] for a, o in zip(serves["a"], serves[other]))
        ratios[f"p50_a_over_{other}"] = statistics.median(
            a["p50_ms"] / o["p50_ms"] for a, o in zip(serves["a"], serves[other]))
        ratios[f"first200_a_over_{other}"] = statistics.median(
            a["first200_s"] / o["first200_s"] for a, o in zip(serves["a"], serves[other]))
        ratios[f"mem_a_over_{other}"] = statistics.median(
            a["mem_load_bytes"] / o["mem_load_bytes"] for a, o in zip(serves["a"], serves[other]))
        if other in ("a0", "a1"):
            continue
        ratios[f"full_build_a_over_{other}"] = statistics.median(
            a / o for a, o in zip(builds["a"]["full_s"], builds[other]["full_s"]))
        ratios[f"rebuild_a_over_{other}"] = statistics.median(
            a / o for a, o in zip(builds["a"]["rebuild_s"], builds[other]["rebuild_s"]))
        ratios[f"size_a_over_{other}"] = builds["a"]["size_bytes"] / builds[other]["size_bytes"]
    return med, ratios


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("repo")
    ap.add_argument("fabuild")
    ap.add_argument("work")
    ap.add_argument("out")
    ap.add_argument("--build-runs", type=int, default=3)
    ap.add_argument("--serve-runs", type=int, default=5)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    opts = ap.parse_args()
    os.makedirs(opts.work, exist_ok=True)
    logdir = os.path.join(opts.work, "logs")
    shutil.rmtree(logdir, ignore_errors=True)
    os.makedirs(logdir)
    ctx = prepare(opts.repo, opts.fabuild, opts.work)
    builds = build_runs(ctx, opts.build_runs)
    cafile, mounts = make_certs(opts.work)
    serves = serve_runs(cafile, mounts, opts, logdir)
    med, ratios = median_table(builds, serves)
    json.dump({"params": {"build_runs": opts.build_runs, "serve_runs": opts.serve_runs,
                          "wrk": f"-t{opts.threads} -c{opts.connections} -d{opts.duration}s --latency (after a 3 s warm-up)",
                          "server_cpuset": SERVER_CPU, "client_cpuset": CLIENT_CPU, "base_image": BASE,
                          "labels": LABEL},
               "median": med, "ratios": ratios, "builds": builds, "serves": serves},
              open(opts.out, "w"), indent=1)


if __name__ == "__main__":
    main()
