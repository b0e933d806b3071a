#!/usr/bin/env bash
# Benchmark (not a test): `fabuild build` against `buildah build` of the Dockerfile `fabuild
# gen` writes, same example, same base (the e2e suite's debootstrapped bookworm), same
# machine, in one run, alternating the two tools round by round.
#
#   cold      buildah: --no-cache (every RUN, pip included, runs again);
#             fabuild: an empty cache (pip downloads every wheel again).
#             Both download from PyPI with pip's own HTTP cache off (PIP_NO_CACHE_DIR=1).
#   warm      no change since the last build: buildah --layers cache / fabuild deps cache.
#   code      one line appended to main.py, then a warm build.
#   size      the image as podman stores it (podman image inspect .Size) and the sum of
#             the compressed layer blobs (what a registry stores; base layer included).
#   import    start-up cost of shipping no .pyc: `import fastapi, uvicorn, gunicorn...`
#             timed inside each image (buildah's image has the .pyc pip compiled).
# Prints one markdown table of medians and fabuild/buildah ratios.
#
# Usage: benches/build-vs-buildah.sh [FABUILD_BIN] [EXAMPLE_DIR]
#   BENCH_ROUNDS (default 3)
# Needs root and the e2e state (tests/e2e/setup.sh), network to PyPI.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
FAB=${1:-$repo/target/release/fabuild}
case $FAB in /*) ;; *) FAB=$PWD/$FAB ;; esac
SRC=${2:-$repo/examples/fastapi-tls}
ROUNDS=${BENCH_ROUNDS:-3}
bash tests/e2e/setup.sh </dev/null >/dev/null
# shellcheck source=/dev/null
. "${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}/env.sh"
BASE=$FABUILD_E2E_BASE_IMAGE
export PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORK=$(mktemp -d /tmp/fabuild-bench-build.XXXXXX)
B_IMG=localhost/fabuild-bench/buildah:bench
F_IMG=localhost/fabuild-bench/fabuild:bench
trap 'rm -rf "$WORK"; podman rmi -f "$B_IMG" "$F_IMG" >/dev/null 2>&1 || true' EXIT
skopeo copy --quiet "containers-storage:$BASE" "oci:$WORK/base:base" >/dev/null
ctx=$WORK/ctx
cp -a "$SRC" "$ctx"
(cd "$ctx" && "$FAB" gen --base-image "$BASE" app.yaml >/dev/null)

now() { date +%s.%N; }
declare -A T
record() { T[$1]+="$2 "; }
timed() { # NAME CMD...: runs CMD, records its wall time under NAME
  local name=$1 t0 t1
  shift
  t0=$(now)
  "$@" >"$WORK/last.log" 2>&1 || { tail -30 "$WORK/last.log" >&2; echo "!!! $name failed" >&2; exit 1; }
  t1=$(now)
  record "$name" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
}
buildah_build() {
  buildah build --isolation=chroot --network=host --pull=never --layers "$@" \
    --secret id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt \
    -f "$ctx/Dockerfile" -t "$B_IMG" "$ctx"
}
fabuild_build() {
  "$FAB" build "$ctx/app.yaml" --base "$WORK/base" --out "$WORK/fab" --tag bench \
    --base-image "$BASE" --cache-dir "$WORK/cache"
}

for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r/$ROUNDS" >&2
  timed buildah_cold buildah_build --no-cache
  rm -rf "$WORK/cache"
  timed fabuild_cold fabuild_build
  timed buildah_warm buildah_build
  timed fabuild_warm fabuild_build
  echo "# bench round $r" >>"$ctx/main.py"
  timed buildah_code buildah_build
  timed fabuild_code fabuild_build
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", b / a }'; }

skopeo copy --quiet "oci:$WORK/fab:bench" "containers-storage:$F_IMG" >/dev/null
b_size=$(podman image inspect --format '{{.Size}}' "$B_IMG")
f_size=$(podman image inspect --format '{{.Size}}' "$F_IMG")
skopeo copy --quiet "containers-storage:$B_IMG" "oci:$WORK/buildah-oci:bench" >/dev/null
blobs() { python3 -c 'import json,sys,os
d=sys.argv[1]; i=json.load(open(d+"/index.json"))["manifests"][0]["digest"].split(":")[1]
m=json.load(open(d+"/blobs/sha256/"+i)); print(sum(l["size"] for l in m["layers"]))' "$1"; }
b_blobs=$(blobs "$WORK/buildah-oci")
f_blobs=$(blobs "$WORK/fab")

# Start-up: the same imports in each image, 5 runs each (fresh container each time).
probe='import time; t = time.perf_counter(); import fastapi, uvicorn, pydantic, gunicorn.app.wsgiapp, uvicorn_worker; print(f"{time.perf_counter() - t:.3f}")'
for _ in 1 2 3 4 5; do
  record buildah_import "$(podman run --rm --network=host "$B_IMG" python -c "$probe")"
  record fabuild_import "$(podman run --rm --network=host "$F_IMG" python -c "$probe")"
done

mb() { awk -v s="$1" 'BEGIN { printf "%.1f MB", s / 1e6 }'; }
echo
echo "| measure | buildah build | fabuild build | buildah / fabuild |"
echo "| --- | --- | --- | --- |"
for m in cold warm code; do
  b=$(median <<<"${T[buildah_$m]}")
  f=$(median <<<"${T[fabuild_$m]}")
  echo "| $m (median of $ROUNDS, s) | $b | $f | $(ratio "$f" "$b") |"
done
echo "| image size (podman .Size) | $(mb "$b_size") | $(mb "$f_size") | $(ratio "$f_size" "$b_size") |"
echo "| compressed layers (registry) | $(mb "$b_blobs") | $(mb "$f_blobs") | $(ratio "$f_blobs" "$b_blobs") |"
bi=$(median <<<"${T[buildah_import]}")
fi_=$(median <<<"${T[fabuild_import]}")
echo "| import fastapi+uvicorn+gunicorn (median of 5, s) | $bi (.pyc) | $fi_ (no .pyc) | $(ratio "$fi_" "$bi") |"
echo
echo "raw (s): $(for k in "${!T[@]}"; do printf '%s=[%s] ' "$k" "${T[$k]% }"; done)"
