#!/usr/bin/env bash
# Benchmark (not a test): `fabuild build` with a cold cache, today's route (`--pip-only`:
# one `pip download` process per part, every wheel through pip) against the default
# (hash-pinned wheels fetched from the index by fabuild, four at a time; pip only for what
# needs a resolver). Same binary, same base, same machine, one run, the two alternating
# which goes first round by round; each build with an empty cache and pip's HTTP cache
# off (PIP_NO_CACHE_DIR=1), from the real index.
#
#   locked    examples/fastapi-tls with its requirements hash-locked
#             (benches/build-cold/requirements-locked.txt: fastapi 0.165.0 and its 10
#             dependencies, every file's sha256): nothing needs a resolver.
#   unpinned  examples/fastapi-tls as it is (`fastapi==0.165.0`, no hashes): pip resolves
#             the app's requirements (beside the server stack's fetch, in the default).
#
# Usage: benches/build-cold/run.sh [FABUILD_BIN]     BENCH_ROUNDS (default 5)
# Needs root and the e2e state (tests/e2e/setup.sh), network to the index. Prints a
# markdown table and writes benches/results/build-cold.json.
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
FAB=${1:-$repo/target/release/fabuild}
case $FAB in /*) ;; *) FAB=$PWD/$FAB ;; esac
ROUNDS=${BENCH_ROUNDS:-5}
bash tests/e2e/setup.sh </dev/null >/dev/null
# shellcheck source=/dev/null
. "${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}/env.sh"
BASE=$FABUILD_E2E_BASE_IMAGE
export PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 SOURCE_DATE_EPOCH=1700000000

WORK=$(mktemp -d /var/tmp/fabuild-bench-cold.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
skopeo copy --quiet "containers-storage:$BASE" "oci:$WORK/base:base" >/dev/null
cp -a examples/fastapi-tls "$WORK/unpinned"
cp -a examples/fastapi-tls "$WORK/locked"
cp benches/build-cold/requirements-locked.txt "$WORK/locked/requirements.txt"

now() { date +%s.%N; }
: >"$WORK/times"
build() { # CASE ROUTE ROUND
  local t0 t1 args=()
  [ "$2" = pip-only ] && args=(--pip-only)
  rm -rf "$WORK/cache" "$WORK/out-$2"
  t0=$(now)
  "$FAB" build "$WORK/$1/app.yaml" --base "$WORK/base" --out "$WORK/out-$2" \
    --cache-dir "$WORK/cache" --base-image "$BASE" "${args[@]}" >"$WORK/last.log" 2>&1 ||
    { cat "$WORK/last.log" >&2; echo "!!! $1 $2 failed" >&2; exit 1; }
  t1=$(now)
  local manifest
  manifest=$(sed -n 's/^manifest //p' "$WORK/last.log")
  printf '%s %s %s %s %s\n' "$1" "$2" "$3" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" "$manifest" >>"$WORK/times"
}
for round in $(seq 1 "$ROUNDS"); do
  for case_ in locked unpinned; do
    if ((round % 2)); then
      build "$case_" pip-only "$round"; build "$case_" fetch "$round"
    else
      build "$case_" fetch "$round"; build "$case_" pip-only "$round"
    fi
  done
  echo "round $round done" >&2
done
python3 - "$WORK/times" "$repo/benches/results/build-cold.json" <<'PY'
import json, statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
out = {}
print("| case | today (`--pip-only`), s | fetch, s | ratio fetch/today (median of rounds) | same image |")
print("| --- | --- | --- | --- | --- |")
for case in ("locked", "unpinned"):
    t = {r: {int(x[2]): float(x[3]) for x in rows if x[0] == case and x[1] == r} for r in ("pip-only", "fetch")}
    m = {r: {x[4] for x in rows if x[0] == case and x[1] == r} for r in ("pip-only", "fetch")}
    ratios = [t["fetch"][k] / t["pip-only"][k] for k in t["fetch"]]
    same = m["pip-only"] == m["fetch"] and len(m["fetch"]) == 1
    out[case] = {"today_s": sorted(t["pip-only"].values()), "fetch_s": sorted(t["fetch"].values()),
                 "ratios": sorted(round(r, 3) for r in ratios), "same_manifest": same}
    print(f"| {case} | {statistics.median(t['pip-only'].values()):.2f} | {statistics.median(t['fetch'].values()):.2f} "
          f"| {statistics.median(ratios):.2f} (rounds {min(ratios):.2f}-{max(ratios):.2f}) | {'yes' if same else 'NO'} |")
json.dump(out, open(sys.argv[2], "w"), indent=1)
PY
