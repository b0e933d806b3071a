#!/usr/bin/env bash
# Benchmark (not a test): a fleet of N services (200 by default) under one platform file
# (tests/fixtures/fleet/platform.yaml), as tests/it/fleet.rs builds it: `fabuild check`,
# `gen` and `gen --check` over all of them in one process each. The target is under 1 s
# for 200. Beside it, the same fleet with every platform key written into each app.yaml
# (no `extends`), in the same run, so the ratio says what reading the platform file costs.
#
# Usage: benches/fleet.sh [WORKDIR]   (default: a fresh temp dir, removed at the end)
# Knobs: BENCH_FLEET (200)  BENCH_RUNS (7)  FABUILD_BIN (default: a release build)
# Needs: cargo (unless FABUILD_BIN), python3 (for the medians).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=${1:-$(mktemp -d)}
[ -n "${1:-}" ] || trap 'rm -rf "$work"' EXIT
n=${BENCH_FLEET:-200}
runs=${BENCH_RUNS:-7}
if [ -z "${FABUILD_BIN:-}" ]; then
  echo "== build (release)" >&2
  cargo build --release --locked --quiet
  FABUILD_BIN=${CARGO_TARGET_DIR:-$repo/target}/release/fabuild
fi
unset FABUILD_PLATFORM

platform=$repo/tests/fixtures/fleet/platform.yaml
# Its keys without the policy (a spec cannot hold one), for the inlined fleet.
platform_keys=$(sed -n '/^python:/,/^policy:/p' "$platform" | sed '$d')

# One service, as tests/it/fleet.rs writes it; $2 is what goes where `extends` would.
service() {
  local i=$1 head=$2 interface=wsgi
  ((i % 2)) || interface=asgi
  printf 'version: 1\n%sname: svc-%03d\napp:\n  module: svc%d.main:app\n  interface: %s\nlabels:\n  com.example.owner: owner-%d\nserver:\n  port: %d\n' \
    "$head" "$i" "$i" "$interface" "$i" $((8000 + i))
}

make_fleet() {
  local dir=$1 mode=$2 i
  rm -rf "$dir" && mkdir -p "$dir"
  cp "$platform" "$dir/platform.yaml"
  for ((i = 0; i < n; i++)); do
    mkdir -p "$dir/$(printf 'svc-%03d' "$i")"
    if [ "$mode" = extends ]; then
      service "$i" $'extends: ../platform.yaml\n'
    else
      # The platform's keys inlined (no policy: a spec cannot hold one). The service's own
      # labels and server keys come after, so its sections are merged by hand here.
      printf 'version: 1\nname: svc-%03d\napp:\n  module: svc%d.main:app\n  interface: %s\n' \
        "$i" "$i" "$([ $((i % 2)) = 0 ] && echo asgi || echo wsgi)"
      printf '%s\n' "$platform_keys" | sed "s/^  cpus: 1$/  cpus: 1\n  port: $((8000 + i))/; s/^  com.example.team: payments$/  com.example.team: payments\n  com.example.owner: owner-$i/"
    fi > "$dir/$(printf 'svc-%03d' "$i")/app.yaml"
  done
}

# Median wall seconds of $runs runs of: fabuild "$@" over every spec, in $dir.
time_it() {
  local dir=$1; shift
  (
    cd "$dir"
    specs=(svc-*/app.yaml)
    for ((r = 0; r < runs; r++)); do
      s=$(date +%s.%N)
      "$FABUILD_BIN" "$@" "${specs[@]}" > /dev/null 2>&1 || true
      e=$(date +%s.%N)
      echo "$s $e"
    done
  ) | python3 -c 'import sys, statistics; print(f"{statistics.median(float(e) - float(s) for s, e in (l.split() for l in sys.stdin)):.3f}")'
}

printf '| fleet of %d | check | gen (write) | gen --check |\n| --- | --- | --- | --- |\n' "$n"
for mode in extends inline; do
  dir=$work/$mode
  make_fleet "$dir" "$mode"
  # Every spec must check clean, or the timings measure error paths.
  (cd "$dir" && "$FABUILD_BIN" check svc-*/app.yaml > /dev/null)
  c=$(time_it "$dir" check)
  g=$(time_it "$dir" gen)
  k=$(time_it "$dir" gen --check)
  (cd "$dir" && "$FABUILD_BIN" gen --check svc-*/app.yaml > /dev/null)
  printf '| %s | %s s | %s s | %s s |\n' "$mode" "$c" "$g" "$k"
done
