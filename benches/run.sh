#!/usr/bin/env bash
# Rerun every benchmark and regenerate benches/results/ (JSON, table.md, serving.png) and
# the results section of BENCHMARKS.md. Needs root (buildah/podman), like tests/e2e.
#
# Usage: bash benches/run.sh [gen|images|report|all]     (default all)
# Knobs: BENCH_GEN_RUNS (5)  BENCH_SPECS (1000)  BENCH_COLD_SPECS (100)
#        BENCH_BUILD_RUNS (3)  BENCH_SERVE_RUNS (5)  BENCH_WRK_SECONDS (10)
#        BENCH_STATE (/var/tmp/fabuild-bench: private venv, specs, build contexts, logs)
# Takes about 25 minutes with the defaults. Keep the machine otherwise idle if you can:
# every comparison is a ratio taken inside one run, and each figure a median of runs,
# because other work on the host moves absolute numbers.
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
STATE=${BENCH_STATE:-/var/tmp/fabuild-bench}
RESULTS=$HERE/results
what=${1:-all}
log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
[ "$(id -u)" = 0 ] || { echo "benches/run.sh needs root (buildah/podman with private storage)" >&2; exit 1; }
exec </dev/null
mkdir -p "$STATE" "$RESULTS"

# ---- tools: the e2e suite's engines and base image, wrk and GNU time, a private venv
bash "$REPO/tests/e2e/setup.sh"
# shellcheck source=/dev/null
. "${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}/env.sh"
need=()
command -v wrk >/dev/null || need+=(wrk)
[ -x /usr/bin/time ] || need+=(time)
command -v nsenter >/dev/null && command -v taskset >/dev/null || need+=(util-linux)
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${need[@]}" || { apt-get update -q && apt-get install -y -q "${need[@]}"; }
fi
VENV=$STATE/venv
if ! "$VENV/bin/python" -c 'import cookiecutter, matplotlib' 2>/dev/null; then
  rm -rf "$VENV"
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install --no-input -q -r "$HERE/requirements.txt"
fi
log "building fabuild (release)"
(cd "$REPO" && CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target} cargo build --release -q)
FAB=${CARGO_TARGET_DIR:-$REPO/target}/release/fabuild

# ---- the machine, as the results describe it
"$VENV/bin/python" - "$RESULTS/machine.json" <<'PY'
import json, os, re, subprocess, sys, time
def out(*c):
    return subprocess.run(c, capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
free = out("free", "-h").splitlines()[1].split()
tools = "; ".join([out("buildah", "--version"), out("podman", "--version"),
                   out("wrk", "-v").splitlines()[0].split(" Copyright")[0].strip() if out("wrk", "-v") else "wrk",
                   out("python3", "--version")])
json.dump({"date": time.strftime("%Y-%m-%d"), "cpu": cpu, "nproc": out("nproc"), "mem": free[1],
           "free": f"total {free[1]}, used {free[2]}, available {free[6]}", "kernel": out("uname", "-r"),
           "tools": tools}, open(sys.argv[1], "w"), indent=1)
PY

if [ "$what" = all ] || [ "$what" = gen ]; then
  log "generation benchmark"
  rm -rf "$STATE/gen"
  python3 "$HERE/gen/make_specs.py" "$STATE/gen" "${BENCH_SPECS:-1000}" 42 "$FAB"
  # the template must produce the same files as fabuild, or the comparison means nothing
  (cd "$STATE/gen/specs" && "$FAB" gen -- */app.yaml >/dev/null)
  "$VENV/bin/python" "$HERE/gen/render_cookiecutter.py" "$HERE/gen/template" "$STATE/gen/tpl-check" "$STATE"/gen/contexts/*.json
  python3 "$HERE/gen/compare_outputs.py" "$STATE/gen/specs" "$STATE/gen/tpl-check" | tee "$RESULTS/gen-equivalence.txt"
  rm -rf "$STATE/gen/tpl-check"
  (cd "$STATE/gen/specs" && rm -f -- */Dockerfile */.dockerignore */requirements-server.txt */fabuild-preflight.py */fabuild-strip.py)
  python3 "$HERE/gen/bench_gen.py" "$FAB" "$VENV/bin/python" "$STATE/gen" "$RESULTS/gen.json" \
    --runs "${BENCH_GEN_RUNS:-5}" --cold "${BENCH_COLD_SPECS:-100}"
fi

if [ "$what" = all ] || [ "$what" = images ]; then
  log "image benchmark"
  python3 "$HERE/images/bench_images.py" "$REPO" "$FAB" "$STATE/images" "$RESULTS/images.json" \
    --build-runs "${BENCH_BUILD_RUNS:-3}" --serve-runs "${BENCH_SERVE_RUNS:-5}" --duration "${BENCH_WRK_SECONDS:-10}"
  # keep the evidence: wrk output, process lists and container logs of every run
  rm -rf "$RESULTS/logs" && cp -a "$STATE/images/logs" "$RESULTS/logs"
fi

log "report"
"$VENV/bin/python" "$HERE/report.py" "$RESULTS" "$REPO/BENCHMARKS.md"
log "done: $RESULTS/table.md, $RESULTS/serving.png, BENCHMARKS.md"
