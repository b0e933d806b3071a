#!/usr/bin/env bash
# Fail-fast behaviour of a built image, in a real container: a TLS key the non-root user
# cannot read, a key that does not belong to the certificate, and a non-integer
# WEB_CONCURRENCY must each stop the container within seconds with one clear line from
# fabuild's preflight, before gunicorn starts a single worker (no respawn loop).
#
# Usage: bash tests/e2e/failfast.sh IMAGE PLAN_JSON   (after run.sh built IMAGE; needs root)
set -Eeuo pipefail
image=$1 plan=$2
# shellcheck source=/dev/null
. "${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}/env.sh"
read -r name uid gid tls_dir cert key < <(python3 - "$plan" <<'PY'
import json, os, sys
p = json.load(open(sys.argv[1]))
t = p["tls"]
print(p["name"], p["uid"], p["gid"], t["dir"], os.path.basename(t["certfile"]), os.path.basename(t["keyfile"]))
PY
)
work=$(mktemp -d)
cname=fabuild-failfast-$$
trap 'podman rm -f "$cname" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
passed=0 failed=0

pair() { # DIR: a fresh self-signed certificate and key, mounted like a secret with fsGroup
  mkdir -p "$1" && chmod 0755 "$1"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -keyout "$1/$key" -out "$1/$cert" >/dev/null 2>&1
  chown "0:$gid" "$1/$key" "$1/$cert" && chmod 0440 "$1/$key" "$1/$cert"
}

expect_fast_failure() { # CASE EXPECTED-LINE PODMAN-ARGS...
  local case=$1 want=$2; shift 2
  local t0 t1 rc
  t0=$(date +%s.%N)
  set +e
  timeout 60 podman run --rm --name "$cname" --network=host "$@" "$image" >"$work/$case.log" 2>&1
  rc=$?
  set -e
  t1=$(date +%s.%N)
  local secs; secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  local why=()
  [ "$rc" = 78 ] || why+=("exit code $rc, want 78")
  awk -v s="$secs" 'BEGIN { exit !(s < 10) }' || why+=("took ${secs}s, want < 10s")
  grep -qF -- "$want" "$work/$case.log" || why+=("no line containing: $want")
  [ "$(grep -c . "$work/$case.log")" = 1 ] || why+=("more than one line of output")
  ! grep -qE 'Booting worker|Traceback' "$work/$case.log" || why+=("gunicorn started workers or printed a traceback")
  if ((${#why[@]})); then
    failed=$((failed + 1))
    echo "    [FAIL] $name: $case (${secs}s): ${why[*]}"
    sed 's/^/      | /' "$work/$case.log" | head -20
  else
    passed=$((passed + 1))
    echo "    [ok  ] $name: $case: exit 78 in ${secs}s: $(cat "$work/$case.log")"
  fi
}

# 1. The key as a default root-owned secret mount (0600): uid $uid cannot read it.
pair "$work/rootonly"
chown 0:0 "$work/rootonly/$key" && chmod 0600 "$work/rootonly/$key"
expect_fast_failure unreadable-key "TLS key $tls_dir/$key is not readable by uid $uid" \
  -v "$work/rootonly:$tls_dir:ro"

# 2. A key from another pair.
pair "$work/mismatch"
pair "$work/other"
cp -p "$work/other/$key" "$work/mismatch/$key"
expect_fast_failure mismatched-pair "cannot be used together" -v "$work/mismatch:$tls_dir:ro"

# 3. A good mount, but WEB_CONCURRENCY that gunicorn would crash on at import.
pair "$work/good"
expect_fast_failure web-concurrency "WEB_CONCURRENCY='auto' is not an integer" \
  -e WEB_CONCURRENCY=auto -v "$work/good:$tls_dir:ro"

echo "failfast: $passed passed, $failed failed"
((failed == 0))
