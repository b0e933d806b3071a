#!/usr/bin/env bash
# The long fuzzing campaign (not the CI smoke): runs targets one after another, each for the
# given number of seconds, resuming from the corpus the last run left in corpus/<target>.
# Every run is logged to logs/<target>.<UTC time>.<pid>.log and summarised as one line in
# logs/campaign.tsv:
#   target  seconds  executions  cov  ft  corpus  result
# Stops at the first crash, timeout or OOM (the input is under artifacts/<target>/).
# One process per run, in the foreground: with -jobs libFuzzer would write its statistics to
# ./fuzz-<n>.log instead, and the next run would overwrite them.
#
#   bash fuzz/campaign.sh spec:3600 explain:1800
#
# FABUILD_FUZZ_TARGET_DIR builds elsewhere than fuzz/target: a second campaign on changed code
# then leaves the binaries of a running one alone.
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1

if [ "$#" -eq 0 ]; then
    echo "usage: bash fuzz/campaign.sh TARGET:SECONDS..." >&2
    exit 2
fi
mkdir -p logs
target_args=()
if [ -n "${FABUILD_FUZZ_TARGET_DIR:-}" ]; then
    target_args=(--target-dir "$FABUILD_FUZZ_TARGET_DIR")
fi
cargo fuzz build "${target_args[@]}" >/dev/null

for run in "$@"; do
    target="${run%%:*}"
    seconds="${run##*:}"
    mkdir -p "corpus/$target"
    # The pid keeps apart the logs of two campaigns started in the same second.
    log="logs/$target.$(date -u +%Y%m%dT%H%M%S).$$.log"
    echo "== $target for ${seconds}s -> $log"
    status=clean
    cargo fuzz run "${target_args[@]}" "$target" "corpus/$target" "seeds/$target" -- \
        -dict="dicts/$target.dict" -timeout=10 -rss_limit_mb=2048 \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1 || status=failed
    # The last status line libFuzzer printed, e.g. "#2160000 REDUCE cov: 16094 ft: 44893 corp: 5012/..."
    last="$(grep -E '^#[0-9]+' "$log" | tail -n 1)"
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
    cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
    ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
    corp="$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$seconds" "${execs:-?}" "${cov:-?}" \
        "${ft:-?}" "${corp:-?}" "$status" | tee -a logs/campaign.tsv
    if [ "$status" != clean ]; then
        tail -n 60 "$log" >&2
        exit 1
    fi
done
