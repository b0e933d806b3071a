#!/usr/bin/env bash
# Coverage over time for one campaign log: cov at every STEP-minute mark and the gain since
# the mark before, which is how fuzz/README.md judges a plateau.
#
#   bash fuzz/curve.sh fuzz/logs/spec.20261127T001325.log 5
#
# libFuzzer's status lines carry no clock. Each has the execution count (#N) and exec/s,
# the average rate since the run started, so a line's time is N / (exec/s). The curve starts
# at INITED, once the kept corpus is loaded.
set -euo pipefail
log="${1:?usage: bash fuzz/curve.sh LOG [STEP_MINUTES]}"
step="${2:-5}"
awk -v step="$((step * 60))" '
    /\tINITED / { inited = 1 }
    inited && /^#[0-9]+/ && / cov: / && / exec\/s: / {
        n = substr($1, 2) + 0
        for (i = 2; i < NF; i++) {
            if ($i == "cov:") cov = $(i + 1) + 0
            if ($i == "exec/s:") rate = $(i + 1) + 0
        }
        if (rate == 0) next
        t = n / rate
        if (start == "") { start = cov; printf "%6s  %7s  %6s\n", "minute", "cov", "gain"; last = cov; mark = step }
        while (t >= mark) { printf "%6d  %7d  %+6d\n", mark / 60, cov, cov - last; last = cov; mark += step }
        final = cov; ft = t
    }
    END {
        if (start == "") { print "no status lines after INITED in the log" > "/dev/stderr"; exit 1 }
        printf "%6s  %7d  %+6d  (end, %d s; %+d since the start)\n", "end", final, final - last, ft, final - start
    }' "$log"
