#!/usr/bin/env bash
# Benchmark (not a test): the attack suite. Makes every hostile image of tests/it/attack.rs
# (plus a clean image and a base with a 1 GiB layer), runs `fabuild verify` or
# `fabuild build --base` on each (release build), and records the verdict, the wall time
# and the peak RSS (/usr/bin/time -v) as a Markdown table on stdout and in
# benches/results/attack.md. The target: peak RSS under 64 MiB on every input.
#
# Usage: benches/attack.sh [WORKDIR]     (default: a fresh temp dir, removed at the end)
#   FABUILD_ATTACK_MIB=64 benches/attack.sh    smaller big layers, to see that RSS does not move
#   FABUILD_ATTACK_REUSE=1 benches/attack.sh DIR   measure again the suite already made in DIR
# Needs: cargo, /usr/bin/time, timeout; about 2.5 GiB of disk for the 1 GiB cases.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=${1:-$(mktemp -d)}
[ -n "${1:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
target=${CARGO_TARGET_DIR:-$repo/target}

echo "== build (release) and make the suite" >&2
cargo build --release --locked --quiet
bin=$target/release/fabuild
if [ -z "${FABUILD_ATTACK_REUSE:-}" ] || [ ! -d "$work/suite" ]; then
  rm -rf "$work/suite"
  FABUILD_ATTACK_DIR=$work/suite cargo test --locked --quiet --test it -- --ignored --exact \
    attack::write_the_attack_suite >&2
fi
spec=$repo/examples/fastapi-tls/app.yaml

# The check whose verdict tells each verify case's story (the hostile images fail the
# config checks too: they are not builds of the spec).
declare -A check=(
  [blob-is-a-fifo]=integrity [blob-links-to-dev-zero]=integrity [layer-1gib]=layer-diff-ids
  [env-300k-entries]=env [gnu-long-name-1gib]=layer-diff-ids [pax-header-1gib]=layer-diff-ids
  [sparse-and-unknown-type-keys]=private-keys [zstd-bomb]=layer-diff-ids
)

# Runs a command under /usr/bin/time -v with a 300 s hang detector; prints one table row.
row() {
  local name=$1 what=$2; shift 2
  local log=$work/$name.out code
  set +e
  /usr/bin/time -v -o "$work/$name.time" timeout -s KILL 300 "$@" > "$log" 2>&1
  code=$?
  set -e
  local wall rss verdict detail
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; printf "%.2f", s}' "$work/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$work/$name.time")
  if [ -n "${check[$name]:-}" ]; then
    detail=$(grep -m1 -E "^(PASS|FAIL|SKIP) +${check[$name]} " "$log" | sed -E 's/ +/ /g')
  else
    detail=$(grep -m1 -E '^(error|note)' "$log" || true)
  fi
  # Paths and digests say nothing about the verdict.
  detail=$(printf '%s' "$detail" | sed -E "s#$work/suite/[^ :]*#...#g; s# \(blobs/sha256/[0-9a-f]{64}\)##g; s#\|#/#g" | cut -c1-150)
  case $code in
    137) verdict="killed at 300 s" ;;
    *) verdict="exit $code${detail:+: $detail}" ;;
  esac
  printf '| %s | %s | %s | %s | %s MiB |\n' "$name" "$what" "$verdict" "$wall" "$rss"
}

{
  printf '| case | command | verdict | wall s | peak RSS |\n| --- | --- | --- | --- | --- |\n'
  for dir in "$work"/suite/verify/*/; do
    name=$(basename "$dir")
    # Warm the page cache (regular files only: the suite holds a FIFO and a link to /dev/zero).
    find "$dir" -type f -exec cat {} + > /dev/null
    row "$name" verify "$bin" verify "$spec" --image "$dir/image"
  done
  for dir in "$work"/suite/build/*/; do
    name=$(basename "$dir")
    find "$dir" -type f -exec cat {} + > /dev/null
    (cd "$dir/project" && row "$name" "build --base" "$bin" build app.yaml --base "$dir/base" \
      --out "$work/out-$name" --wheels "$(cat "$dir/wheels")" --no-cache)
  done
} | tee "$repo/benches/results/attack.md"
echo
echo "$(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); big layers: ${FABUILD_ATTACK_MIB:-1024} MiB of data"
