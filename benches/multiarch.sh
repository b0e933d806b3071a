#!/usr/bin/env bash
# Issue 27's target "two platforms cost at most 1.5x one platform", in one run: `fabuild
# build --platform linux/amd64` against `--platform linux/amd64,linux/arm64` of the same
# example on the same bases (tests/e2e's amd64 and arm64 bookworm bases, as OCI layouts).
# Cold: an empty cache each build (every wheel fetched, both dependency layers compiled and
# written). Warm: the cache filled by a first build (what a code change costs). Wall time
# and CPU time (user + system, children included: GNU time). One and two
# platforms alternate run by run; each figure is the median of BENCH_RUNS runs, so the
# ratio holds whatever the machine's load.
#
# Usage: bash benches/multiarch.sh FABUILD_BIN [OUT_JSON]   (as root, like tests/e2e)
# Knobs: BENCH_STATE (/var/tmp/fabuild-bench-multiarch)  BENCH_RUNS (5)
#        BENCH_EXAMPLES ("flask-http asgi-proxy")
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
FAB=$(realpath "$1")
OUT=${2:-$HERE/results/multiarch.json}
STATE=${BENCH_STATE:-/var/tmp/fabuild-bench-multiarch}
RUNS=${BENCH_RUNS:-5}
read -r -a EXAMPLES <<<"${BENCH_EXAMPLES:-flask-http asgi-proxy}"
log() { printf '[multiarch %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
[ "$(id -u)" = 0 ] || { echo "benches/multiarch.sh needs root (skopeo, podman storage)" >&2; exit 1; }
exec </dev/null
bash "$REPO/tests/e2e/setup.sh" >/dev/null 2>&1
bash "$REPO/tests/e2e/setup-arm64.sh" >/dev/null 2>&1
E2E=${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}
# shellcheck source=/dev/null
. "$E2E/env.sh"
# shellcheck source=/dev/null
. "$E2E/env-arm64.sh"
rm -rf "$STATE" && mkdir -p "$STATE"
skopeo copy --quiet "containers-storage:$FABUILD_E2E_BASE_IMAGE" "oci:$STATE/base-amd64:base" >/dev/null
skopeo copy --quiet "containers-storage:$FABUILD_E2E_BASE_IMAGE_ARM64" "oci:$STATE/base-arm64:base" >/dev/null
RESULTS=$STATE/results.jsonl
: >"$RESULTS"

# build EXAMPLE PLATFORMS CACHE: "WALL CPU" seconds of one build (CPU: user + system, its
# children's too: pip, the interpreter that compiles), by GNU time.
build() {
  local ctx=$STATE/ctx/$1 platforms=$2 cache=$3
  rm -rf "$STATE/out"
  /usr/bin/time -o "$STATE/time" -f '%e %U %S' "$FAB" build "$ctx/app.yaml" --platform "$platforms" \
    --base "$STATE/base-amd64" --base "$STATE/base-arm64" --out "$STATE/out" \
    --base-image "$FABUILD_E2E_BASE_IMAGE" --cache-dir "$cache" >/dev/null 2>"$STATE/build.err" \
    || { cat "$STATE/build.err" >&2; exit 1; }
  awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' "$STATE/time"
}

for example in "${EXAMPLES[@]}"; do
  mkdir -p "$STATE/ctx"
  cp -a "$REPO/examples/$example" "$STATE/ctx/$example"
  for platforms in linux/amd64 linux/amd64,linux/arm64; do
    build "$example" "$platforms" "$STATE/warm-${platforms//[\/,]/_}" >/dev/null # fill the warm cache
  done
  for run in $(seq "$RUNS"); do
    for platforms in linux/amd64 linux/amd64,linux/arm64; do
      n=$(tr ',' '\n' <<<"$platforms" | wc -l)
      rm -rf "$STATE/cold"
      read -r cold cold_cpu <<<"$(build "$example" "$platforms" "$STATE/cold")"
      read -r warm warm_cpu <<<"$(build "$example" "$platforms" "$STATE/warm-${platforms//[\/,]/_}")"
      printf '{"example":"%s","platforms":%d,"run":%d,"cold":%s,"cold_cpu":%s,"warm":%s,"warm_cpu":%s}\n' \
        "$example" "$n" "$run" "$cold" "$cold_cpu" "$warm" "$warm_cpu" >>"$RESULTS"
      log "$example, $n platform(s), run $run: cold ${cold}s (cpu ${cold_cpu}s), warm ${warm}s (cpu ${warm_cpu}s)"
    done
  done
done

python3 - "$RESULTS" "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
out = {"runs": rows, "medians": {}}
print("| example | | one platform | two platforms | ratio |")
print("| --- | --- | ---: | ---: | ---: |")
for example in dict.fromkeys(r["example"] for r in rows):
    for kind in ("cold", "cold_cpu", "warm", "warm_cpu"):
        med = {n: statistics.median(r[kind] for r in rows if r["example"] == example and r["platforms"] == n) for n in (1, 2)}
        ratio = med[2] / med[1]
        out["medians"][f"{example} {kind}"] = {"one": med[1], "two": med[2], "ratio": round(ratio, 2)}
        print(f"| {example} | {kind} | {med[1]:.2f} s | {med[2]:.2f} s | {ratio:.2f}x |")
json.dump(out, open(sys.argv[2], "w"), indent=1)
PY
