#!/usr/bin/env bash
# Benchmark (not a test): `fabuild gen` over many specs in one process, a sync per spec
# (OLD_BIN, fabuild before batching) against one sync per batch (NEW_BIN); and `gen
# --check` over the same specs once written. Same specs (benches/gen/make_specs.py, seed
# 42), same disk, one run, the two binaries alternating which goes first round by round.
#
#   first write   every spec's files created (a fresh copy of the specs, no outputs)
#   check         `gen --check` over the specs just written (all unchanged: exit 0)
#
# Usage: benches/gen/batch.sh NEW_BIN OLD_BIN      BENCH_SPECS (500)  BENCH_ROUNDS (5)
# BENCH_DIR (default /var/tmp/fabuild-bench-gen-batch: on disk, not tmpfs, where a sync
# costs what it costs). Prints a markdown table; writes benches/results/gen-batch.json.
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
NEW=$(realpath "$1")
OLD=$(realpath "$2")
N=${BENCH_SPECS:-500}
ROUNDS=${BENCH_ROUNDS:-5}
WORK=${BENCH_DIR:-/var/tmp/fabuild-bench-gen-batch}
rm -rf "$WORK" && mkdir -p "$WORK"
python3 benches/gen/make_specs.py "$WORK/made" "$N" 42 "$NEW" >/dev/null
mapfile -t specs < <(cd "$WORK/made/specs" && ls -d -- */ | sed 's|/$|/app.yaml|')
: >"$WORK/times"
timed() { # NAME ROUND DIR CMD...
  local name=$1 round=$2 dir=$3 t0 t1
  shift 3
  t0=$(date +%s.%N)
  (cd "$dir" && "$@" >/dev/null 2>"$WORK/err") || { tail -5 "$WORK/err" >&2; echo "!!! $name failed" >&2; exit 1; }
  t1=$(date +%s.%N)
  printf '%s %s %s\n' "$name" "$round" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')" >>"$WORK/times"
}
one() { # WHICH BIN ROUND
  rm -rf "$WORK/run" && cp -a "$WORK/made/specs" "$WORK/run" && sync
  timed "$1-write" "$3" "$WORK/run" "$2" gen -- "${specs[@]}"
  timed "$1-check" "$3" "$WORK/run" "$2" gen --check -- "${specs[@]}"
}
for round in $(seq 1 "$ROUNDS"); do
  if ((round % 2)); then one old "$OLD" "$round"; one new "$NEW" "$round"
  else one new "$NEW" "$round"; one old "$OLD" "$round"; fi
done
rm -rf "$WORK/run"
python3 - "$WORK/times" "$repo/benches/results/gen-batch.json" "$N" <<'PY'
import json, statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
n = int(sys.argv[3])
t = {}
for name, rnd, s in rows:
    t.setdefault(name, {})[int(rnd)] = float(s)
out = {"specs": n}
print(f"| {n} specs, one process | sync per spec (before), s | one sync per batch, s | ratio new/before (median of rounds) |")
print("| --- | --- | --- | --- |")
for what in ("write", "check"):
    old, new = t[f"old-{what}"], t[f"new-{what}"]
    ratios = [new[k] / old[k] for k in new]
    out[what] = {"before_s": sorted(old.values()), "new_s": sorted(new.values()), "ratios": sorted(round(r, 3) for r in ratios)}
    label = "first write (`gen`)" if what == "write" else "`gen --check`"
    print(f"| {label} | {statistics.median(old.values()):.3f} | {statistics.median(new.values()):.3f} "
          f"| {statistics.median(ratios):.2f} (rounds {min(ratios):.2f}-{max(ratios):.2f}) |")
json.dump(out, open(sys.argv[2], "w"), indent=1)
PY
