#!/usr/bin/env bash
# Issue 28 in one run: two fabuild binaries (BEFORE, AFTER), the same examples, the same
# engine and base. For the Dockerfile route: cold build, rebuild after one requirement
# changes, image size. For both routes (the Dockerfile and `fabuild build`): the .pyc
# files in the image, the time a worker takes to load the app, container start -> first
# 2xx, and the RSS of each worker. Before and after alternate run by run, and every figure
# is a median of runs taken here, so the ratios hold whatever the machine's load.
#
# Usage: bash benches/bytecode.sh BEFORE_BIN AFTER_BIN [OUT_JSON]   (as root, like tests/e2e)
# Knobs: BENCH_STATE (/var/tmp/fabuild-bench-bytecode)  BENCH_RUNS (5: start-up runs)
#        BENCH_BUILD_RUNS (3: cold and rebuild runs)  BENCH_PORT (18101: the app's port)
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BEFORE=$(realpath "$1") AFTER=$(realpath "$2")
OUT=${3:-$HERE/results/bytecode.json}
STATE=${BENCH_STATE:-/var/tmp/fabuild-bench-bytecode}
RUNS=${BENCH_RUNS:-5}
BUILD_RUNS=${BENCH_BUILD_RUNS:-3}
PORT=${BENCH_PORT:-18101}
NONCE=$(date +%s%N)
log() { printf '[bytecode %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
# shellcheck source=benches/e2e-state.sh
. "$HERE/e2e-state.sh" bytecode.sh buildah/podman
rm -rf "$STATE" && mkdir -p "$STATE"
RESULTS=$STATE/results.jsonl
: >"$RESULTS"
record() { printf '{"example":"%s","variant":"%s","metric":"%s","value":%s}\n' "$1" "$2" "$3" "$4" >>"$RESULTS"; }

# The cache mount lives under buildah's TMPDIR: one per variant, emptied for a cold build.
build() { # build VARIANT CTX TAG [buildah args]
  local variant=$1 ctx=$2 tag=$3
  shift 3
  TMPDIR=$STATE/tmp-$variant e2e_buildah_build "$STATE/build.log" "$tag" "$ctx" --layers "$@" \
    || { tail -40 "$STATE/build.log" >&2; exit 1; }
}
timed() { local t0; t0=$(e2e_now); "$@" >/dev/null 2>"$STATE/timed.err" || { cat "$STATE/timed.err" >&2; return 1; }; e2e_secs "$t0" "$(e2e_now)"; }

# What one worker does when it boots, in a fresh interpreter that has imported what the
# master had (gunicorn and the worker class): load the app. As the image's user, with a
# read-only root filesystem, as the manifests run it.
WORKER_BOOT='
import sys, time, importlib
import gunicorn.app.wsgiapp, gunicorn.util
importlib.import_module(sys.argv[2])
t = time.perf_counter()
gunicorn.util.import_app(sys.argv[1])
print(f"{time.perf_counter() - t:.4f}")
'


# sizes EXAMPLE VARIANT TAG: the image's size and its Python files.
sizes() {
  local example=$1 variant=$2 tag=$3
  record "$example" "$variant" image_bytes "$(podman image inspect --format '{{.Size}}' "$tag")"
  record "$example" "$variant" pyc_files "$(podman run --rm --network=host "$tag" sh -c \
    'find /opt/venv /app -name "*.pyc" | wc -l')"
  record "$example" "$variant" py_files "$(podman run --rm --network=host "$tag" sh -c \
    'find /opt/venv /app -name "*.py" | wc -l')"
}

# startup EXAMPLE VARIANT TAG CTX: one run of worker boot, start -> first 2xx, RSS per worker.
startup() {
  local example=$1 variant=$2 tag=$3 ctx=$4 module worker name code t0 t1
  module=$(sed -n -E 's/^  module: *//p' "$ctx/app.yaml")
  worker=gunicorn.workers.sync
  grep -q 'interface: asgi' "$ctx/app.yaml" && worker=uvicorn_worker
  record "$example" "$variant" worker_boot_s "$(podman run --rm --network=host --read-only \
    "$tag" /opt/venv/bin/python -c "$WORKER_BOOT" "$module" "$worker")"
  name=bench-bytecode-$example
  podman rm -f "$name" >/dev/null 2>&1 || true
  t0=$(e2e_now)
  podman run -d --name "$name" --network=host --read-only "$tag" >/dev/null
  code=$(e2e_wait_2xx "$name" "http://127.0.0.1:$PORT/" 60 "$STATE/body" || true)
  t1=$(e2e_now)
  case $code in 2??) ;; *) echo "$example $variant: no 2xx ($code)" >&2; podman logs "$name" | tail >&2; exit 1 ;; esac
  record "$example" "$variant" start_to_2xx_s "$(e2e_secs "$t0" "$t1")"
  sleep 1 # every worker booted
  # Workers: the master's children (the master is the container's pid 1).
  podman top "$name" pid ppid rss | awk 'NR > 1 && $2 == 1 { print $3 }' >"$STATE/rss"
  while read -r rss; do
    record "$example" "$variant" worker_rss_kib "$rss"   # podman top: KiB
  done <"$STATE/rss"
  podman rm -f "$name" >/dev/null
}

skopeo copy --quiet "containers-storage:$BASE" "oci:$STATE/base.oci:latest"

# Every measurement alternates before and after, run by run: on a shared machine the load
# drifts, and a drift then weighs on both sides alike.
for example in flask-http asgi-proxy; do
  for variant in before after; do
    bin=$BEFORE
    [ "$variant" = after ] && bin=$AFTER
    ctx=$STATE/$example-$variant
    rm -rf "$ctx" && cp -r "$REPO/examples/$example" "$ctx"
    sed -i -E "s/^  port: [0-9]+/  port: $PORT/" "$ctx/app.yaml"
    grep -q "^  port: $PORT" "$ctx/app.yaml" || sed -i -E "s/^server:/server:\n  port: $PORT/" "$ctx/app.yaml"
    "$bin" gen "$ctx/app.yaml" --base-image "$BASE" >/dev/null 2>&1
    cp "$ctx/requirements.txt" "$STATE/$example.requirements"
  done
  tag() { echo "localhost/bench-bytecode/$example:$1"; }

  for i in $(seq "$BUILD_RUNS"); do
    for variant in before after; do
      log "$example $variant: cold build $i"
      rm -rf "$STATE/tmp-$variant" && mkdir -p "$STATE/tmp-$variant"
      record "$example" "dockerfile-$variant" cold_build_s \
        "$(timed build "$variant" "$STATE/$example-$variant" "$(tag "$variant")" --no-cache)"
    done
  done
  for i in $(seq "$BUILD_RUNS"); do
    for variant in before after; do
      log "$example $variant: rebuild $i after one requirement changes"
      ctx=$STATE/$example-$variant
      cp "$STATE/$example.requirements" "$ctx/requirements.txt"
      build "$variant" "$ctx" "$(tag "$variant")-warm"   # layers and cache as the last build left them
      # One more requirement, a different one each run, and a line no earlier run of this
      # script wrote: no layer is reused, only the installer's cache.
      { cat "$STATE/$example.requirements"; echo "# $NONCE-$i"; sed -n "${i}p" <<'REQ'
six==1.17.0
idna==3.10
packaging==25.0
REQ
      } >"$ctx/requirements.txt"
      record "$example" "dockerfile-$variant" rebuild_one_requirement_s \
        "$(timed build "$variant" "$ctx" "$(tag "$variant")-warm")"
      cp "$STATE/$example.requirements" "$ctx/requirements.txt"
    done
  done
  for i in $(seq "$BUILD_RUNS"); do
    for variant in before after; do
      bin=$BEFORE
      [ "$variant" = after ] && bin=$AFTER
      log "$example $variant: fabuild build $i"
      rm -rf "$STATE/$example-$variant.oci"
      secs=$(cd "$STATE/$example-$variant" && timed "$bin" build app.yaml --base "$STATE/base.oci" \
        --out "$STATE/$example-$variant.oci" --base-image "$BASE" --no-cache)
      record "$example" "build-$variant" cold_build_s "$secs"
    done
  done
  for variant in before after; do
    skopeo copy --quiet "oci:$STATE/$example-$variant.oci:latest" "containers-storage:$(tag "$variant")-build" >/dev/null
    for route in dockerfile build; do
      t=$(tag "$variant")
      [ "$route" = build ] && t=$t-build
      sizes "$example" "$route-$variant" "$t"
    done
  done
  for i in $(seq "$RUNS"); do
    for route in dockerfile build; do
      for variant in before after; do
        t=$(tag "$variant")
        [ "$route" = build ] && t=$t-build
        log "$example $route $variant: start-up run $i"
        startup "$example" "$route-$variant" "$t" "$STATE/$example-$variant"
      done
    done
  done
done

python3 - "$RESULTS" "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
out = {}
for r in rows:
    # variant "build-before" -> (example "flask-http/build", variant "before")
    route, _, variant = r["variant"].rpartition("-")
    ex = f'{r["example"]}/{route}' if route else r["example"]
    out.setdefault(ex, {}).setdefault(variant, {}).setdefault(r["metric"], []).append(r["value"])
summary = {}
for ex, variants in out.items():
    for variant, metrics in variants.items():
        for metric, values in metrics.items():
            summary.setdefault(ex, {}).setdefault(metric, {})[variant] = {
                "median": statistics.median(values), "runs": values}
    for metric, v in summary[ex].items():
        if "before" in v and "after" in v and v["before"]["median"]:
            v["ratio"] = round(v["after"]["median"] / v["before"]["median"], 3)
json.dump(summary, open(sys.argv[2], "w"), indent=1, sort_keys=True)
for ex, metrics in summary.items():
    for metric, v in sorted(metrics.items()):
        print(f'{ex:22} {metric:26} before {v["before"]["median"]:>12} after {v["after"]["median"]:>12} ratio {v.get("ratio")}')
PY
