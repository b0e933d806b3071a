#!/usr/bin/env bash
# fabuild real-engine end-to-end suite.
#
# Usage:
#   bash tests/e2e/run.sh [options] EXAMPLE_DIR[=EXPECT_JSON] ...
#
#   EXAMPLE_DIR holds generated build files: Dockerfile, .dockerignore,
#   requirements-server.txt, fabuild-preflight.py, requirements.txt (or uv.lock and
#   requirements-uv.txt, or pdm.lock and requirements-app.txt), the app code, app.yaml. It is the
#   build context. EXPECT_JSON describes what the image must look like; when not
#   given, EXAMPLE_DIR/.e2e-expect.json is used, else the output of
#   $FABUILD_E2E_PLAN_CMD run inside EXAMPLE_DIR (e.g. "fabuild plan", which prints JSON).
#
# Options:
#   --no-setup   do not run setup.sh first (it is idempotent and takes < 1 s when done)
#   --no-cache   build with --no-cache (default: --layers cache is used)
#   --rmi        remove the built images at the end
#   -h, --help   this text
#
# Expectation JSON (one object per example):
#   {
#     "name": "orders-api",                      # required; image + container names
#     "uid": 10001, "gid": 10001,                # required; image User must be "uid:gid"
#     "port": 8443,                              # required; ExposedPorts "<port>/tcp", probe port
#     "tls_dir": "/opt/key",                     # null/absent => plain HTTP, no cert mount
#     "gunicorn_cmd_args": "--bind=... ",        # required; Env GUNICORN_CMD_ARGS, byte-equal
#     "interface": "asgi",                       # required; "asgi" | "wsgi"
#     "labels": ["org.opencontainers.image.title"]  # keys that must be present and non-empty,
#                                                   # or {"key": "value"|null} to check values
#     -- optional --
#     "tls_key": "/opt/key/k.pem", "tls_cert": "/opt/key/c.pem"
#                       # default: --keyfile/--certfile from gunicorn_cmd_args
#     "pins": {"gunicorn": "27.0.1", ...}
#                       # default asgi: gunicorn 27.0.1, uvicorn 0.54.0, uvicorn-worker 0.4.0
#                       #         wsgi: gunicorn 27.0.1
#     "absent": ["uvicorn"]   # default asgi: pip, setuptools, uv; wsgi: also uvicorn, uvicorn-worker
#     "graceful_timeout": 30  # default: --graceful-timeout from gunicorn_cmd_args, else 30
#     "workers": 3            # default: --workers from gunicorn_cmd_args (checks N+1 processes)
#     "slow_path": "/slow?seconds=3"   # must answer 200 after sleeping (graceful-stop test)
#     "image": "localhost/fabuild-e2e/<name>:e2e"
#     "env": {"KEY": "value"} or [["KEY", "value"], ...]   # each must be byte-equal in Env
#     "cmd": ["gunicorn", "main:app"]                      # Cmd must equal it
#   }
#   The output of `fabuild plan` is accepted as is: labels and env as
#   [key, value] pairs (values checked), server_pins [{name, version}] as the pins,
#   workers {count} as the worker count; other keys are ignored. ci.sh uses that.
#
# Steps per example (the first failing step is named loudly, then the next
# example runs; exit status is non-zero if any example failed):
#   files -> hadolint (must print nothing) -> build (buildah, chroot isolation,
#   host network, --pull=never, --layers, BASE_IMAGE build-arg, pip_ca secret)
#   -> build-no-layers (the same with --layers=false, buildah's default, tagged
#   <image>-no-layers) -> config (skopeo inspect --config vs expectations)
#   -> contents, on both images (installed versions via importlib.metadata, /app vs
#   .dockerignore, no secret left, /app 0:0 0755 and everything in it 0:0 and not
#   writable by uid:gid)
#   -> certs (self-signed, root:<gid> 0440) -> start (podman run --network=host,
#   poll until 200, time to first 200) -> procs (every process runs as uid:gid,
#   PID 1 gunicorn, worker count) -> access-log -> graceful-stop (slow request in
#   flight + podman stop: request gets 200, exit code 0, stopped within the
#   graceful timeout) -> logs (no Control server error / Traceback /
#   DeprecationWarning / worker boot failures).
#
# Environment:
#   FABUILD_E2E_STATE (default /var/tmp/fabuild-e2e), FABUILD_E2E_PLAN_CMD,
#   FABUILD_E2E_ARTIFACTS (dir: keep build logs, image configs, container logs),
#   FABUILD_E2E_KEY_MODE (default 0440; e.g. 0400 to see the unreadable-key failure),
#   FABUILD_E2E_START_TIMEOUT (s, default 60), FABUILD_E2E_PYTHONWARNINGS
#   (passed to the container as PYTHONWARNINGS so DeprecationWarnings hidden by
#   Python's default filters show up; default "default::DeprecationWarning,
#   ignore:ssl.PROTOCOL_TLS is deprecated:DeprecationWarning"; "" = image env as is).
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE_DIR=${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}
START_TIMEOUT=${FABUILD_E2E_START_TIMEOUT:-60}
# Python hides DeprecationWarnings raised outside __main__; show them in the container
# (later entries win). Known upstream one, not fixable from GUNICORN_CMD_ARGS: under
# UvicornWorker with TLS, gunicorn's default ssl_version (ssl.PROTOCOL_TLS) reaches
# ssl.SSLContext() in uvicorn/config.py and warns "ssl.PROTOCOL_TLS is deprecated".
PYWARN=${FABUILD_E2E_PYTHONWARNINGS-default::DeprecationWarning,ignore:ssl.PROTOCOL_TLS is deprecated:DeprecationWarning}
KEY_MODE=${FABUILD_E2E_KEY_MODE:-0440}   # mode of the mounted key/cert (owner root:<gid>)
RUN_ID=$$
FORBIDDEN_LOG_PATTERNS=(
  'Control server error'
  'Traceback'
  'DeprecationWarning'
  'option `'      # gunicorn: "option `ssl_version` is deprecated and it is ignored"
  'Worker failed to boot'
  'exited with code'
  'Exception in worker process'
  'WORKER TIMEOUT'
)

usage() { sed -n '2,/^set -Eeuo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
log() { printf '[e2e %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

do_setup=1 no_cache=() rmi=0 targets=()
while (($#)); do
  case $1 in
    --no-setup) do_setup=0 ;;
    --no-cache) no_cache=(--no-cache) ;;
    --rmi) rmi=1 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
((${#targets[@]})) || { usage >&2; exit 2; }
exec </dev/null

if ((do_setup)); then
  bash "$HERE/setup.sh" || { echo "!!! E2E FAILED in setup.sh" >&2; exit 1; }
fi
[ -r "$STATE_DIR/env.sh" ] || { echo "!!! $STATE_DIR/env.sh missing: run tests/e2e/setup.sh" >&2; exit 1; }
# shellcheck source=/dev/null
. "$STATE_DIR/env.sh"
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
PY=$FABUILD_E2E_VENV/bin/python
export PYTHONDONTWRITEBYTECODE=1
EXPECT_PY=$HERE/expect.py

WORK=$(mktemp -d /tmp/fabuild-e2e-run.XXXXXX)
RESULTS=$WORK/results.tsv
: >"$RESULTS"
printf '{}\n' >"$WORK/hadolint.yaml"   # hermetic: ignore any ~/.config/hadolint.yaml

cleanup() {
  local names
  names=$(podman ps -a --format '{{.Names}}' 2>/dev/null | grep "^fabuild-e2e-$RUN_ID-" || true)
  for n in $names; do podman rm -f -t 0 "$n" >/dev/null 2>&1 || true; done
  if ((rmi)); then
    while IFS=$'\t' read -r _ img _; do podman rmi -f "$img" >/dev/null 2>&1 || true; done <"$WORK/images" 2>/dev/null || true
  fi
  if [ -n "${FABUILD_E2E_ARTIFACTS:-}" ]; then
    if mkdir -p "$FABUILD_E2E_ARTIFACTS"; then cp -a "$WORK"/. "$FABUILD_E2E_ARTIFACTS"/ || true; fi
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
: >"$WORK/images"

# ------------------------------------------------------------------ one example
# Runs in a subshell: `fail STEP MSG` or any failing command ends it, naming the step.
run_example() {
  local dir=$1 expect=$2 ex=$3
  STEP=init
  SLOW_PID=""
  fail() {
    trap - ERR
    [ -n "$SLOW_PID" ] && kill "$SLOW_PID" 2>/dev/null
    printf '\n!!!!!!!! E2E FAILED: [%s] step "%s": %s\n\n' "${EX_NAME:-$dir}" "$1" "$2" >&2
    echo "$1" >"$ex/failed-step"; exit 1
  }
  trap 'fail "$STEP" "command failed (exit $?): $BASH_COMMAND"' ERR
  step() { STEP=$1; log "[${EX_NAME:-$dir}] $1"; }

  step expectations
  local vars
  vars=$("$PY" "$EXPECT_PY" load "$expect") || fail expectations "bad expectation file $expect"
  eval "$vars"
  echo "$EX_NAME" >"$ex/name"
  local cname="fabuild-e2e-$RUN_ID-$EX_NAME" scheme=http curl_tls=() mount=()

  step files
  local f
  for f in Dockerfile .dockerignore requirements-server.txt fabuild-preflight.py; do
    [ -f "$dir/$f" ] || fail files "$dir/$f missing"
  done
  # The app's dependencies: a requirements file, a uv lock with the pinned uv to export it,
  # or a pdm lock with the hashed requirements gen reads from it.
  if [ -f "$dir/uv.lock" ]; then
    [ -f "$dir/requirements-uv.txt" ] || fail files "$dir/requirements-uv.txt missing next to uv.lock"
  elif [ -f "$dir/pdm.lock" ]; then
    [ -f "$dir/requirements-app.txt" ] || fail files "$dir/requirements-app.txt missing next to pdm.lock"
  else
    [ -f "$dir/requirements.txt" ] || fail files "$dir/requirements.txt missing"
  fi
  [ -f "$dir/app.yaml" ] || log "[$EX_NAME] note: no app.yaml in $dir"

  step hadolint
  local hl
  if ! hl=$(cd "$dir" && hadolint --config "$WORK/hadolint.yaml" --no-color Dockerfile 2>&1) || [ -n "$hl" ]; then
    fail hadolint "hadolint reported:"$'\n'"$hl"
  fi

  step build
  local t0 t1 build_s
  t0=$(now)
  if ! e2e_buildah_build "$ex/build.log" "$EX_IMAGE" "$dir" --layers --force-rm "${no_cache[@]}" \
      --build-arg "BASE_IMAGE=$FABUILD_E2E_BASE_IMAGE" -f "$dir/Dockerfile"; then
    tail -40 "$ex/build.log" >&2
    fail build "buildah build failed (log above)"
  fi
  t1=$(now); build_s=$(secs "$t0" "$t1")
  printf '%s\t%s\t%s\n' "$EX_NAME" "$EX_IMAGE" "$build_s" >>"$WORK/images"
  echo "$build_s" >"$ex/build_s"
  local size
  size=$(podman image inspect --format '{{.Size}}' "$EX_IMAGE")
  awk -v s="$size" 'BEGIN { printf "%.0f MB", s / 1e6 }' >"$ex/size"
  log "[$EX_NAME] built $EX_IMAGE in ${build_s}s, $(cat "$ex/size")"

  # buildah's default (and BuildKit's behaviour): no layer cache, and steps such as WORKDIR
  # run as the USER in force, so the image must not depend on --layers.
  step build-no-layers
  local flat_image=${EX_IMAGE}-no-layers
  t0=$(now)
  if ! e2e_buildah_build "$ex/build-no-layers.log" "$flat_image" "$dir" --layers=false \
      --build-arg "BASE_IMAGE=$FABUILD_E2E_BASE_IMAGE" -f "$dir/Dockerfile"; then
    tail -40 "$ex/build-no-layers.log" >&2
    fail build-no-layers "buildah build --layers=false failed (log above)"
  fi
  printf '%s\t%s\t%s\n' "$EX_NAME" "$flat_image" "-" >>"$WORK/images"
  log "[$EX_NAME] built $flat_image in $(secs "$t0" "$(now)")s"

  step config
  skopeo inspect --config "containers-storage:$EX_IMAGE" >"$ex/config.json"
  "$PY" "$EXPECT_PY" check-config "$expect" "$ex/config.json" >&2 || fail config "image config does not match expectations (see above)"

  step contents
  local dists image
  read -r -a dists <<<"$("$PY" "$EXPECT_PY" pins "$expect")"
  for image in "$EX_IMAGE" "$flat_image"; do
    log "[$EX_NAME] contents of $image"
    podman run --rm -i --network=host --name "$cname-probe" "$image" \
        python - probe "${dists[@]}" <"$EXPECT_PY" >"$ex/probe.json" \
      || fail contents "could not run python in $image"
    "$PY" "$EXPECT_PY" check-probe "$expect" "$ex/probe.json" "$dir/.dockerignore" >&2 \
      || fail contents "installed packages / contents of $image do not match (see above)"
  done

  step port-free
  if (exec 3<>"/dev/tcp/127.0.0.1/$EX_PORT") 2>/dev/null; then
    fail port-free "something already listens on 127.0.0.1:$EX_PORT (host network is shared)"
  fi

  if [ -n "$EX_TLS_DIR" ]; then
    step certs
    scheme=https
    local certs=$ex/certs
    mkdir -p "$certs"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
      -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
      -keyout "$certs/$EX_TLS_KEY" -out "$certs/$EX_TLS_CERT" >"$ex/openssl.log" 2>&1 \
      || { cat "$ex/openssl.log" >&2; fail certs "openssl failed"; }
    # Like a Kubernetes secret volume with fsGroup: root-owned, group = app gid, 0440.
    chown "0:$EX_GID" "$certs/$EX_TLS_KEY" "$certs/$EX_TLS_CERT"
    chmod "$KEY_MODE" "$certs/$EX_TLS_KEY" "$certs/$EX_TLS_CERT"
    chmod 0755 "$certs"
    cp "$certs/$EX_TLS_CERT" "$ex/ca.pem"
    curl_tls=(--cacert "$ex/ca.pem")
    mount=(-v "$certs:$EX_TLS_DIR:ro")
  fi
  local base="$scheme://127.0.0.1:$EX_PORT"
  curl_() { curl -sS --noproxy '*' "${curl_tls[@]}" "$@"; }

  step start
  local env_args=()
  [ -n "$PYWARN" ] && env_args=(-e "PYTHONWARNINGS=$PYWARN")
  t0=$(now)
  podman run -d --name "$cname" --network=host "${mount[@]}" "${env_args[@]}" "$EX_IMAGE" >"$ex/cid"
  local code="" i=0 deadline first_s
  deadline=$(awk -v t="$t0" -v d="$START_TIMEOUT" 'BEGIN { printf "%d", t + d }')
  while :; do
    # (a crash-looping TLS server accepts but never handshakes: keep --max-time short)
    code=$(curl_ -o "$ex/first.body" -w '%{http_code}' --max-time 2 "$base/" 2>/dev/null || true)
    [ "$code" = 200 ] && break
    if ((++i >= 3)); then
      if [ "$(podman inspect -f '{{.State.Running}}' "$cname")" != true ]; then
        podman logs "$cname" 2>&1 | tail -40 >&2
        fail start "container exited before answering 200 (logs above)"
      fi
      # gunicorn respawns crashing workers forever (e.g. unreadable key): fail fast
      { podman logs "$cname" 2>&1 || true; } | head -2000 >"$ex/container.log" || true
      if grep -q -E 'Exception in worker process|Worker failed to boot' "$ex/container.log"; then
        grep -v '^  ' "$ex/container.log" | head -30 >&2
        fail start "workers crash at boot and gunicorn keeps respawning them (logs above)"
      fi
    fi
    if (($(date +%s) >= deadline)); then
      podman logs "$cname" 2>&1 | tail -40 >&2
      fail start "no 200 from $base/ within ${START_TIMEOUT}s (last code '${code}', logs above)"
    fi
    sleep 0.2
  done
  t1=$(now); first_s=$(secs "$t0" "$t1"); echo "$first_s" >"$ex/first_s"
  log "[$EX_NAME] first 200 from $base/ after ${first_s}s: $(head -c 200 "$ex/first.body")"

  if [ -f "$dir/fabuild-healthcheck.py" ]; then
    # The image's own probe (what Docker's HEALTHCHECK runs), inside the running container.
    step healthcheck
    local hc
    hc=$(podman exec "$cname" /opt/fabuild/healthcheck.py 2>&1) \
      || fail healthcheck "/opt/fabuild/healthcheck.py failed inside the container: $hc"
    log "[$EX_NAME] /opt/fabuild/healthcheck.py exits 0 inside the container"
  fi

  step procs
  local snippet ok=0
  snippet=$("$PY" "$EXPECT_PY" procs-snippet)
  for i in $(seq 1 50); do   # workers boot concurrently: wait until all are up (<= 10 s)
    podman exec "$cname" python -c "$snippet" >"$ex/procs.json"
    if "$PY" "$EXPECT_PY" check-procs "$expect" "$ex/procs.json" >"$ex/procs.out" 2>&1; then ok=1; break; fi
    sleep 0.2
  done
  cat "$ex/procs.out" >&2
  ((ok)) || fail procs "process uid/gid, PID 1 or worker count wrong (see above)"

  step access-log
  for i in $(seq 1 25); do
    podman logs "$cname" >"$ex/container.log" 2>&1
    grep -q '"GET / HTTP/1.1" 200' "$ex/container.log" && break
    sleep 0.2
  done
  grep -q '"GET / HTTP/1.1" 200' "$ex/container.log" \
    || { tail -20 "$ex/container.log" >&2; fail access-log 'no access-log line "GET / HTTP/1.1" 200 in podman logs'; }

  step graceful-stop
  local slow_pid slow_code stop_s exit_code
  curl_ -o "$ex/slow.body" -w '%{http_code}' --max-time 60 "$base$EX_SLOW_PATH" >"$ex/slow.code" 2>"$ex/slow.err" &
  slow_pid=$!; SLOW_PID=$slow_pid
  sleep 1   # the request is now in flight (the app sleeps before answering)
  t0=$(now)
  podman stop --time $((EX_GRACEFUL + 10)) "$cname" >/dev/null
  t1=$(now); stop_s=$(secs "$t0" "$t1"); echo "$stop_s" >"$ex/stop_s"
  wait "$slow_pid" || true; SLOW_PID=""
  slow_code=$(cat "$ex/slow.code")
  exit_code=$(podman inspect -f '{{.State.ExitCode}}' "$cname")
  podman logs "$cname" >"$ex/container.log" 2>&1
  log "[$EX_NAME] stop took ${stop_s}s; in-flight $EX_SLOW_PATH -> '$slow_code' $(head -c 100 "$ex/slow.body" 2>/dev/null); exit code $exit_code"
  [ "$slow_code" = 200 ] || { cat "$ex/slow.err" >&2; tail -20 "$ex/container.log" >&2; fail graceful-stop "in-flight $EX_SLOW_PATH got '$slow_code', not 200"; }
  [ "$exit_code" = 0 ] || { tail -20 "$ex/container.log" >&2; fail graceful-stop "container exit code $exit_code, not 0"; }
  awk -v s="$stop_s" -v g="$EX_GRACEFUL" 'BEGIN { exit !(s < g) }' \
    || fail graceful-stop "stop took ${stop_s}s, not within --graceful-timeout ${EX_GRACEFUL}s"

  step logs
  local pat bad=""
  for pat in "${FORBIDDEN_LOG_PATTERNS[@]}"; do
    if grep -qF -- "$pat" "$ex/container.log"; then
      bad+="'$pat' "
      grep -n -F -- "$pat" "$ex/container.log" | head -5 >&2 || true
    fi
  done
  [ -z "$bad" ] || fail logs "container log contains: $bad"
  podman rm -f -t 0 "$cname" >/dev/null 2>&1 || true
  echo PASS >"$ex/result"
}

# ------------------------------------------------------------------ main loop
suite_t0=$SECONDS
n=0 failed=0
for t in "${targets[@]}"; do
  n=$((n + 1))
  dir=${t%%=*}; expect=""
  [ "$t" != "$dir" ] && expect=${t#*=}
  dir=$(cd "$dir" 2>/dev/null && pwd) || { echo "!!! E2E FAILED: no such example dir: ${t%%=*}" >&2; failed=$((failed + 1)); printf '%s\t-\t-\t-\t-\tFAIL(dir)\n' "$t" >>"$RESULTS"; continue; }
  ex=$WORK/ex$n; mkdir -p "$ex"
  if [ -z "$expect" ]; then
    if [ -f "$dir/.e2e-expect.json" ]; then
      expect=$dir/.e2e-expect.json
    elif [ -n "${FABUILD_E2E_PLAN_CMD:-}" ]; then
      expect=$ex/expect.json
      (cd "$dir" && eval "$FABUILD_E2E_PLAN_CMD") >"$expect" \
        || { echo "!!! E2E FAILED: [$dir] '$FABUILD_E2E_PLAN_CMD' failed" >&2; failed=$((failed + 1)); printf '%s\t-\t-\t-\t-\tFAIL(plan)\n' "$(basename "$dir")" >>"$RESULTS"; continue; }
    else
      echo "!!! E2E FAILED: [$dir] no expectations: give DIR=EXPECT.json, add .e2e-expect.json, or set FABUILD_E2E_PLAN_CMD" >&2
      failed=$((failed + 1)); printf '%s\t-\t-\t-\t-\tFAIL(expect)\n' "$(basename "$dir")" >>"$RESULTS"; continue
    fi
  fi
  expect=$(cd "$(dirname "$expect")" && pwd)/$(basename "$expect")
  log "=== example $n: $dir (expectations: $expect)"
  if (run_example "$dir" "$expect" "$ex"); then res=PASS; else res="FAIL($(cat "$ex/failed-step" 2>/dev/null || echo '?'))"; failed=$((failed + 1)); fi
  # make sure nothing of this example keeps running (by name)
  name=$(cat "$ex/name" 2>/dev/null || basename "$dir")
  podman rm -f -i -t 0 "fabuild-e2e-$RUN_ID-$name" "fabuild-e2e-$RUN_ID-$name-probe" >/dev/null 2>&1 || true
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$(cat "$ex/build_s" 2>/dev/null || echo -)" \
    "$(cat "$ex/size" 2>/dev/null || echo -)" "$(cat "$ex/first_s" 2>/dev/null || echo -)" \
    "$(cat "$ex/stop_s" 2>/dev/null || echo -)" "$res" >>"$RESULTS"
done

echo
fmt='%-22s %8s %11s %12s %7s  %s\n'
# shellcheck disable=SC2059
printf "$fmt" example build_s image_size first_200_s stop_s result
while IFS=$'\t' read -r a b c d e f; do
  # shellcheck disable=SC2059
  printf "$fmt" "$a" "$b" "$c" "$d" "$e" "$f"
done <"$RESULTS"
echo "suite time: $((SECONDS - suite_t0)) s"
echo "e2e: $((n - failed)) passed, $failed failed"
if ((failed)); then
  echo "!!!!!!!! E2E SUITE FAILED: $failed of $n example(s) failed (see the '!!!!!!!! E2E FAILED' lines above)" >&2
  exit 1
fi
