#!/usr/bin/env bash
# Short smoke of every fuzz target (not the campaign, see README.md): builds the targets, then
# runs each for a few seconds on its committed seeds. Exits non-zero on any crash, panic,
# timeout or out-of-memory. Installs cargo-fuzz when it is missing.
#
#   bash fuzz/smoke.sh            # 10 s per target
#   FUZZ_SMOKE_SECONDS=60 bash fuzz/smoke.sh
set -euo pipefail
cd "$(dirname "$0")"

# cargo fuzz passes nightly-only flags (-Zsanitizer, -Cpasses); the toolchain is stable.
export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SMOKE_SECONDS:-10}"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --version 0.13.2 --locked
fi

# The instrumented build takes minutes on 2 cores; CI keeps it outside the clone, so a fresh
# clone only rebuilds what changed. Elsewhere it stays in fuzz/target.
target_args=()
if [ "${CI:-}" = true ]; then
    target_dir=${FABUILD_FUZZ_TARGET_DIR:-/var/cache/fabuild-fuzz/target}
    mkdir -p "$target_dir"
    target_args=(--target-dir "$target_dir")
fi

echo "== cargo fuzz build"
cargo fuzz build "${target_args[@]}"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in $(cargo fuzz list); do
    echo "== fuzz $target (${seconds}s)"
    mkdir -p "$scratch/$target"
    # New inputs go to the scratch directory; the committed seeds are only read.
    log="$scratch/$target.log"
    if ! cargo fuzz run "${target_args[@]}" "$target" "$scratch/$target" "seeds/$target" -- \
        -dict="dicts/$target.dict" -max_total_time="$seconds" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        tail -n 80 "$log" >&2
        echo "fuzz/smoke.sh: $target failed; the input is under fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units)' "$log" || true
done
echo "fuzz/smoke.sh: all targets ran clean"
