#!/usr/bin/env bash
# The Dockerfile route's two build-time targets of issue 28, in one run: a cold build and a
# rebuild after one requirement changes, for the Dockerfile two fabuild binaries (BEFORE,
# AFTER) generate for flask-http, built by buildah as the e2e suite builds (`--layers`,
# chroot isolation, the e2e base, the installer cache mount warm).
#
# A third variant, `floor`, is AFTER's Dockerfile with the app's dependency step replaced by
# `RUN true`: the same steps, an installer that takes no time. What it measures is what the
# engine alone costs for such a rebuild (starting, checking the cached steps, a new COPY,
# a new layer, and every step after it made again): no installer can make the rebuild
# faster than that on this engine.
#
# Each round runs the three variants in a rotating order (the load on a shared machine
# drifts; a drift then weighs on each alike), and appends a requirement no other build of
# the run used (an attrs version of its own, after a comment line no earlier run wrote), so
# no layer is reused for it.
#
# Usage: bash benches/dockerfile-rebuild.sh BEFORE_BIN AFTER_BIN [OUT_JSONL]  (as root)
# Knobs: BENCH_STATE (/var/tmp/fabuild-bench-dockerfile)  BENCH_ROUNDS (3)
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BEFORE=$(realpath "$1") AFTER=$(realpath "$2")
OUT=${3:-$HERE/results/dockerfile-rebuild.jsonl}
STATE=${BENCH_STATE:-/var/tmp/fabuild-bench-dockerfile}
ROUNDS=${BENCH_ROUNDS:-3}
NONCE=$(date +%s%N)
log() { printf '[dockerfile-rebuild %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
# shellcheck source=benches/e2e-state.sh
. "$HERE/e2e-state.sh" dockerfile-rebuild.sh buildah
rm -rf "$STATE" && mkdir -p "$STATE" "$(dirname "$OUT")"
: >"$OUT"
VARIANTS=(before after floor)
# One attrs version per build that adds a requirement: ROUNDS x 3 of them, all different.
ATTRS=(25.3.0 25.2.0 25.1.0 24.3.0 24.2.0 24.1.0 23.2.0 23.1.0 22.2.0 22.1.0 21.4.0 21.3.0)
[ $((ROUNDS * 3)) -le ${#ATTRS[@]} ] || { echo "at most $((${#ATTRS[@]} / 3)) rounds" >&2; exit 2; }

# build VARIANT TAG [buildah args]: the variant's context; its cache mount lives under a
# TMPDIR of its own, so each keeps its own warm installer cache.
build() {
  local variant=$1 tag=$2
  shift 2
  TMPDIR=$STATE/tmp-$variant e2e_buildah_build "$STATE/build.log" "$tag" "$STATE/$variant" --layers "$@" \
    || { tail -40 "$STATE/build.log" >&2; exit 1; }
}
timed() { local t0; t0=$(e2e_now); "$@"; awk -v a="$t0" -v b="$(e2e_now)" 'BEGIN { printf "%.2f", b - a }'; }
record() { printf '{"variant":"%s","metric":"%s","round":%s,"seconds":%s}\n' "$1" "$2" "$3" "$4" >>"$OUT"; }

for variant in "${VARIANTS[@]}"; do
  bin=$AFTER
  [ "$variant" = before ] && bin=$BEFORE
  ctx=$STATE/$variant
  cp -r "$REPO/examples/flask-http" "$ctx"
  "$bin" gen "$ctx/app.yaml" --base-image "$BASE" >/dev/null
  # A line no earlier run wrote: buildah keeps layers between runs, and an earlier run's
  # layer for the same file would be reused.
  { cat "$ctx/requirements.txt"; echo "# fabuild benchmark run $NONCE"; } >"$ctx/requirements.base"
  mkdir -p "$STATE/tmp-$variant"
done
# The floor: the app's dependency step (the RUN after the comment that names it) is
# `RUN true`; every other step stays as AFTER wrote it.
python3 - "$STATE/floor/Dockerfile" <<'PY'
import re, sys
path = sys.argv[1]
lines = open(path).read().split("\n")
start = next(i for i, l in enumerate(lines) if l.startswith("# The app's own dependencies"))
run = next(i for i in range(start, len(lines)) if lines[i].startswith("RUN "))
end = run
while lines[end].endswith("\\"):
    end += 1
lines[run:end + 1] = ["RUN true"]
open(path, "w").write("\n".join(lines))
PY
grep -q '^RUN true$' "$STATE/floor/Dockerfile"

# Warm each variant's installer cache and layers once, unmeasured.
for variant in "${VARIANTS[@]}"; do
  log "$variant: warm-up build"
  build "$variant" "localhost/bench-dockerfile/$variant"
done

n=0
for round in $(seq "$ROUNDS"); do
  order=("${VARIANTS[@]:$((round % 3))}" "${VARIANTS[@]:0:$((round % 3))}")
  for variant in "${order[@]}"; do
    tag=localhost/bench-dockerfile/$variant
    ctx=$STATE/$variant
    log "$variant: round $round, cold (--no-cache, the cache mount warm)"
    cp "$ctx/requirements.base" "$ctx/requirements.txt"
    record "$variant" cold "$round" "$(timed build "$variant" "$tag" --no-cache)"
    log "$variant: round $round, one requirement added (attrs==${ATTRS[$n]})"
    printf 'attrs==%s\n' "${ATTRS[$n]}" >>"$ctx/requirements.txt"
    n=$((n + 1))
    record "$variant" rebuild_one_requirement "$round" "$(timed build "$variant" "$tag")"
  done
done
python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def runs(v, m):
    return [r["seconds"] for r in rows if r["variant"] == v and r["metric"] == m]
for metric in ("rebuild_one_requirement", "cold"):
    med = {v: statistics.median(runs(v, metric)) for v in ("before", "after", "floor")}
    print(f"{metric}: before {med['before']:.2f} s, after {med['after']:.2f} s "
          f"({med['after'] / med['before']:.2f}x), floor {med['floor']:.2f} s "
          f"({med['floor'] / med['before']:.2f}x of before)")
    for v in ("before", "after", "floor"):
        print(f"  {v} raw: " + " / ".join(f"{s:.2f}" for s in runs(v, metric)))
PY
