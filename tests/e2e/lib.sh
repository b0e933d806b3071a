# Shell functions shared by the real-engine suites (tests/e2e, tests/field). Source it after
# the e2e state's env.sh (setup.sh writes it): every function uses podman with the suite's
# private storage and configuration.
# shellcheck shell=bash

E2E_PIP_CA=/etc/ssl/certs/ca-certificates.crt

# e2e_now: wall-clock seconds with a fraction, for durations that end up in reports.
e2e_now() { date +%s.%N; }

# e2e_secs T0 T1: T1 - T0 with one decimal.
e2e_secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# e2e_buildah_build LOG TAG CONTEXT [buildah args...]: buildah build as every suite runs it
# here (chroot isolation, host network, the local base only, the host's CA bundle as the
# pip_ca build secret). The output goes to LOG; the exit status is buildah's.
#
# One failure is retried: buildah failing to re-exec itself. Before a RUN step, buildah
# copies its own binary into a sealed memfd and executes that; the kernel refuses the seal
# (EBUSY) while another task briefly holds one of the copy's pages, which a busy shared
# machine does now and then. The failing step's command has not started then, so the build
# is tried once more; LOG holds both attempts, the second last.
e2e_buildah_build() {
  local log=$1 tag=$2 ctx=$3 rc=0
  shift 3
  e2e_buildah_once "$log" "$tag" "$ctx" "$@" || rc=$?
  if ((rc != 0)) && e2e_engine_reexec_failed "$log"; then
    echo "e2e: buildah could not re-exec itself; building again" >&2
    rc=0
    e2e_buildah_once "$log.again" "$tag" "$ctx" "$@" || rc=$?
    { echo "=== buildah could not re-exec itself (above); building again"; cat "$log.again"; } >>"$log"
    rm -f "$log.again"
  fi
  return "$rc"
}

e2e_buildah_once() {
  local log=$1 tag=$2 ctx=$3
  shift 3
  timeout 900 buildah build --isolation=chroot --network=host --pull=never \
    --secret "id=pip_ca,src=$E2E_PIP_CA" "$@" -t "$tag" "$ctx" >"$log" 2>&1
}

# e2e_engine_reexec_failed LOG: whether LOG holds the engine's own re-exec failure (the
# messages of containers/storage's re-exec into a memfd copy of the binary), which comes
# before any step of the build runs.
e2e_engine_reexec_failed() {
  grep -q -E 'sealing memfd copy: |Error during reexec\(' "$1"
}

# e2e_wait_2xx CONTAINER URL TIMEOUT BODY [curl args...]: polls URL until it answers 2xx and
# prints the HTTP status. Returns 1, printing the last status seen (000: no answer), when
# the container stops running or TIMEOUT seconds pass. The body of the last answer is in BODY.
e2e_wait_2xx() {
  local name=$1 url=$2 timeout=$3 body=$4 code=000 deadline
  shift 4
  deadline=$(($(date +%s) + timeout))
  while :; do
    code=$(curl -sS --noproxy '*' "$@" -o "$body" -w '%{http_code}' --max-time 2 "$url" 2>/dev/null || true)
    case $code in 2??) echo "$code"; return 0 ;; esac
    if [ "$(podman inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" != true ] \
      || (($(date +%s) >= deadline)); then
      echo "${code:-000}"; return 1
    fi
    sleep 0.2
  done
}

# e2e_graceful_timeout ARGS: gunicorn's --graceful-timeout in a GUNICORN_CMD_ARGS value
# (gunicorn's default, 30, when absent).
e2e_graceful_timeout() {
  local g
  g=$(grep -o -- '--graceful-timeout=[0-9]*' <<<"$1" | head -1 | cut -d= -f2)
  echo "${g:-30}"
}

# e2e_stop CONTAINER GRACE: sends SIGTERM (podman stop, SIGKILL only after GRACE + 10 s) and
# prints "SECONDS EXIT_CODE".
e2e_stop() {
  local name=$1 grace=$2 t0
  t0=$(e2e_now)
  podman stop --time $((grace + 10)) "$name" >/dev/null
  printf '%s %s\n' "$(e2e_secs "$t0" "$(e2e_now)")" "$(podman inspect -f '{{.State.ExitCode}}' "$name")"
}
