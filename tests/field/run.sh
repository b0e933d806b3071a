#!/usr/bin/env bash
# The field corpus: real projects nobody here wrote (tests/field/corpus.sh), each taken from
# `fabuild init` to a running image exactly as fabuild writes it, with no edit.
#
# Usage: bash tests/field/run.sh [FABUILD_BIN] [PROJECT...]
#   FABUILD_BIN  default target/release/fabuild
#   PROJECT      default: every project of the corpus
#
# Per project, in a temp copy (the repository is never written):
#   obtain (sdist by version + sha256, or the generators) -> init -> check -> gen --base-image
#   then two routes, each stopping at its first failure:
#     Dockerfile: buildah build --layers, buildah build --layers=false, and for each image:
#       podman run (host network) -> first 2xx on the probe path -> PID 1 is gunicorn as the
#       spec's uid:gid, /app root-owned -> SIGTERM (podman stop): exit code 0 within gunicorn's
#       graceful timeout -> no traceback or worker boot failure in the log
#     fabuild build: build -> verify -> skopeo into podman -> the same run, probe and stop
# Each stage's log is kept; report.py turns the results into $STATE/results/field.json and,
# with --out docs/field.md, into the committed report. Exit 1 if any project fails.
#
# Needs root (the e2e suite's setup.sh makes the engines' private state and the base image).
# Environment:
#   FABUILD_FIELD_SKIP=1     skip the corpus (prints why, exits 0)
#   FABUILD_FIELD_STATE      work and results (default /var/tmp/fabuild-field)
#   FABUILD_FIELD_CACHE      sdists, generator venv, uv/poetry/pdm caches
#                            (default /var/cache/fabuild-field)
#   FABUILD_E2E_STATE, FABUILD_E2E_CACHE, FABUILD_E2E_RUNDIR   as for tests/e2e/setup.sh
#   FABUILD_FIELD_START_TIMEOUT   seconds until the first 2xx (default 60)
set -Eeuo pipefail
umask 022

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

if [ "${FABUILD_FIELD_SKIP:-0}" = 1 ]; then
  echo "field: skipped (FABUILD_FIELD_SKIP=1)"; exit 0
fi
[ "$(id -u)" = 0 ] || { echo "!!! FIELD FAILED: tests/field needs root (buildah/podman with private storage)" >&2; exit 1; }

FAB=${1:-$REPO/target/release/fabuild}
(($#)) && shift
case $FAB in /*) ;; *) FAB=$PWD/$FAB ;; esac
[ -x "$FAB" ] || { echo "!!! FIELD FAILED: fabuild binary not found at $FAB" >&2; exit 1; }

FIELD_STATE=${FABUILD_FIELD_STATE:-/var/tmp/fabuild-field}
FIELD_CACHE=${FABUILD_FIELD_CACHE:-/var/cache/fabuild-field}
START_TIMEOUT=${FABUILD_FIELD_START_TIMEOUT:-60}
# Resolutions as of one day, so reruns resolve the same versions: uv's, and fabuild init's
# python.exclude_newer for a pyproject.toml without a lock (init reads SOURCE_DATE_EPOCH).
FIELD_DATE=2026-12-01
export SOURCE_DATE_EPOCH
SOURCE_DATE_EPOCH=$(date -u -d "$FIELD_DATE" +%s)

# shellcheck source=tests/field/corpus.sh
. "$HERE/corpus.sh"

log() { printf '[field %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
exec </dev/null
mkdir -p "$FIELD_STATE" "$FIELD_CACHE"
# One run at a time per state dir: a second run waits (results, venv and caches are shared).
# The lock is held by a watcher that lives as long as this shell (killed with -9 too), not by
# a descriptor of this shell, which podman's conmon and slirp4netns would inherit and keep.
held=$FIELD_STATE/lock.held.$$
rm -f "$held"
flock "$FIELD_STATE/lock" sh -c 'touch "$1"; while kill -0 "$2" 2>/dev/null; do sleep 1; done' \
  sh "$held" $$ </dev/null >/dev/null 2>&1 &
waited=0
until [ -e "$held" ]; do
  ((++waited != 3)) || log "another field run holds $FIELD_STATE/lock: waiting"
  sleep 1
done
rm -f "$held"

suite_t0=$SECONDS
bash "$REPO/tests/e2e/setup.sh" || { echo "!!! FIELD FAILED in tests/e2e/setup.sh" >&2; exit 1; }
# shellcheck source=/dev/null
. "${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}/env.sh"
# shellcheck source=tests/e2e/lib.sh
. "$REPO/tests/e2e/lib.sh"
BASE=$FABUILD_E2E_BASE_IMAGE

# The generators, from hashed pins, in a venv outside the repository.
FIELD_VENV=$FIELD_CACHE/venv
stamp=$FIELD_VENV/.requirements
if [ ! -x "$FIELD_VENV/bin/python" ] || ! cmp -s "$stamp" "$HERE/requirements.txt"; then
  log "generator venv $FIELD_VENV (uv, poetry, pdm, django) from tests/field/requirements.txt"
  rm -rf "$FIELD_VENV"
  python3 -m venv "$FIELD_VENV"
  # pip installs uv from its hashed pin, and uv the rest: pip 23 in hash mode refuses an
  # extra (pdm's httpx[socks]) whose package is pinned below its latest release.
  awk '/^uv==/ { p = 1 } p { print } p && !/\\$/ { exit }' "$HERE/requirements.txt" >"$FIELD_VENV/uv-requirements.txt"
  "$FIELD_VENV/bin/pip" install --quiet --disable-pip-version-check --require-hashes --no-deps \
    -r "$FIELD_VENV/uv-requirements.txt"
  UV_CACHE_DIR=$FIELD_CACHE/uv UV_NATIVE_TLS=1 "$FIELD_VENV/bin/uv" pip install --quiet \
    --require-hashes --python "$FIELD_VENV/bin/python" -r "$HERE/requirements.txt"
  cp "$HERE/requirements.txt" "$stamp"
fi
export PATH=$FIELD_VENV/bin:$PATH
export UV_CACHE_DIR=$FIELD_CACHE/uv UV_PYTHON_DOWNLOADS=never UV_PYTHON=3.11 UV_NATIVE_TLS=1 \
  UV_EXCLUDE_NEWER=${FIELD_DATE}T00:00:00Z UV_NO_PROGRESS=1
export POETRY_CACHE_DIR=$FIELD_CACHE/poetry POETRY_VIRTUALENVS_IN_PROJECT=false \
  POETRY_CONFIG_DIR=$FIELD_STATE/poetry-config
export PDM_CACHE_DIR=$FIELD_CACHE/pdm PDM_CHECK_UPDATE=false PDM_CONFIG_FILE=$FIELD_STATE/pdm-config.toml \
  PDM_HOME=$FIELD_STATE/pdm-home PDM_NON_INTERACTIVE=1
export NO_COLOR=1 PYTHONDONTWRITEBYTECODE=1

# What a run killed before its cleanup left (its containers, its work dir) is removed now:
# under the lock no other run of this state dir is alive.
for c in $(podman ps -a --format '{{.Names}}' | grep '^fabuild-field-' || true); do
  podman rm -f -t 0 "$c" >/dev/null 2>&1 || true
done
RESULTS=$FIELD_STATE/results
rm -rf "$RESULTS" "$FIELD_STATE/work"
mkdir -p "$RESULTS" "$FIELD_STATE/work"
WORK=$(mktemp -d "$FIELD_STATE/work/run.XXXXXX")
CNAME=fabuild-field-$$
cleanup() {
  podman rm -f -i -t 0 "$CNAME" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "export $BASE as an OCI layout for fabuild build"
skopeo copy --quiet "containers-storage:$BASE" "oci:$WORK/base:base" >/dev/null

# Per project: $P (results dir), $D (the project), and what the plan says.
P="" D="" name="" probe="" uid="" gid="" port="" grace=""

meta() { printf '%s\t%s\n' "$1" "$2" >>"$P/meta.tsv"; }

# stage NAME CMD...: runs CMD with its output in $P/NAME.log and records the outcome and time.
stage() {
  local st=$1 t0 rc=0 s
  shift
  log "[$name] $st"
  t0=$(e2e_now)
  # In the background, so that errexit holds inside the stage's functions (it does not in
  # the left side of ||).
  (set -e; "$@") >"$P/$st.log" 2>&1 &
  wait $! || rc=$?
  s=$(e2e_secs "$t0" "$(e2e_now)")
  if ((rc == 0)); then
    printf '%s\tok\t%s\n' "$st" "$s" >>"$P/stages.tsv"
    return 0
  fi
  printf '%s\tfailed\t%s\n' "$st" "$s" >>"$P/stages.tsv"
  log "[$name] $st FAILED (exit $rc): $(tail -3 "$P/$st.log" | tr '\n' ' ')"
  return 1
}

# (Not on the left of &&: errexit must stop the recipe at its first failing command.)
obtain() {
  "make_$name" "$D"
  find "$D" -type f -not -path '*/.git/*' | sed "s|^$D/||" | sort
}

init_() {
  (cd "$D" && "$FAB" init . --format json) >"$P/init.json" || { cat "$P/init.json"; return 1; }
  cat "$P/init.json"
  cat "$D/app.yaml"
}

plan_() {
  (cd "$D" && "$FAB" plan --base-image "$BASE" app.yaml) >"$P/plan.json"
  python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))
if p["tls"]: sys.exit("the field harness probes over HTTP; this plan serves TLS")
print(p["uid"], p["gid"], p["port"], p["gunicorn_cmd_args"])' "$P/plan.json" >"$P/plan.vars"
  cat "$P/plan.vars"
}

# read_plan: the plan's uid, gid, port and graceful timeout, in this shell.
read_plan() {
  local args
  read -r uid gid port args <"$P/plan.vars"
  grace=$(e2e_graceful_timeout "$args")
}

buildah_() {
  local mode=$1 t0
  t0=$(e2e_now)
  e2e_buildah_build "$P/build-$mode.buildah.log" "localhost/fabuild-field/$name:$mode" "$D" \
    -f "$D/Dockerfile" "--layers=$([ "$mode" = layers ] && echo true || echo false)" \
    || { tail -40 "$P/build-$mode.buildah.log"; return 1; }
  meta "build_s_$mode" "$(e2e_secs "$t0" "$(e2e_now)")"
  meta "size_$mode" "$(podman image inspect --format '{{.Size}}' "localhost/fabuild-field/$name:$mode")"
}

# serve IMAGE KEY: run, first 2xx on the probe path, numeric user, /app owner, SIGTERM.
# The container gets its own network (slirp4netns) with the spec's port published on a
# loopback port podman picks: other jobs on the machine serve on 8000 too.
serve() {
  local image=$1 key=$2 t0 code first ids stop exit_code url
  t0=$(e2e_now)
  podman run -d --name "$CNAME" --network=slirp4netns:port_handler=slirp4netns \
    -p "127.0.0.1::$port" "$image" >/dev/null
  url="http://$(podman port "$CNAME" "$port/tcp" | head -1)$probe"
  if ! code=$(e2e_wait_2xx "$CNAME" "$url" "$START_TIMEOUT" "$P/$key.body"); then
    podman logs "$CNAME" >"$P/$key.container.log" 2>&1 || true
    podman rm -f -t 0 "$CNAME" >/dev/null
    tail -30 "$P/$key.container.log"
    # The cause, which a worker's traceback pushes out of the tail.
    echo "errors in the container log ($key.container.log):"
    grep -E '^[A-Za-z_.]*(Error|Exception)\b' "$P/$key.container.log" | sort -u | head -5 || true
    echo "no 2xx from GET $probe within ${START_TIMEOUT}s (last status $code)"
    return 1
  fi
  first=$(e2e_secs "$t0" "$(e2e_now)")
  meta "first_2xx_s_$key" "$first"
  echo "GET $probe -> $code after ${first}s: $(head -c 200 "$P/$key.body")"
  ids=$(podman exec "$CNAME" sh -c 'stat -c %u:%g /proc/1; tr "\0" " " </proc/1/cmdline; echo; stat -c "%u:%g %a" /app')
  echo "$ids"
  case $(sed -n 1p <<<"$ids") in "$uid:$gid") ;; *) podman rm -f -t 0 "$CNAME" >/dev/null; echo "PID 1 runs as $(sed -n 1p <<<"$ids"), the spec says $uid:$gid"; return 1 ;; esac
  case $(sed -n 2p <<<"$ids") in *gunicorn*) ;; *) podman rm -f -t 0 "$CNAME" >/dev/null; echo "PID 1 is not gunicorn"; return 1 ;; esac
  case $(sed -n 3p <<<"$ids") in "0:0 "*) ;; *) podman rm -f -t 0 "$CNAME" >/dev/null; echo "/app is not root-owned"; return 1 ;; esac
  read -r stop exit_code < <(e2e_stop "$CNAME" "$grace")
  podman logs "$CNAME" >"$P/$key.container.log" 2>&1
  podman rm -f -t 0 "$CNAME" >/dev/null
  meta "stop_s_$key" "$stop"
  echo "SIGTERM: stopped in ${stop}s, exit code $exit_code (graceful timeout ${grace}s)"
  [ "$exit_code" = 0 ] || { tail -20 "$P/$key.container.log"; echo "exit code $exit_code after SIGTERM, not 0"; return 1; }
  awk -v s="$stop" -v g="$grace" 'BEGIN { exit !(s < g) }' || { echo "SIGTERM took ${stop}s, not within ${grace}s"; return 1; }
  if grep -E 'Traceback|Worker failed to boot|Exception in worker process' "$P/$key.container.log"; then
    echo "the container log shows a failure (above)"; return 1
  fi
}

fab_build() {
  local t0
  t0=$(e2e_now)
  "$FAB" build "$D/app.yaml" --base "$WORK/base" --out "$WORK/$name.oci" --tag field \
    --base-image "$BASE" --cache-dir "$FIELD_CACHE/fabuild-build"
  meta build_s_fabuild "$(e2e_secs "$t0" "$(e2e_now)")"
}

fab_verify() { "$FAB" verify "$D/app.yaml" --image "$WORK/$name.oci" --base-image "$BASE"; }

fab_import() {
  skopeo copy --quiet "oci:$WORK/$name.oci:field" "containers-storage:localhost/fabuild-field/$name:build"
  meta size_fabuild "$(podman image inspect --format '{{.Size}}' "localhost/fabuild-field/$name:build")"
}

run_project() {
  local line framework layout source added
  line=$1
  IFS='|' read -r name framework layout probe source added <<<"$line"
  P=$RESULTS/$name
  D=$WORK/$name
  mkdir -p "$P"
  : >"$P/stages.tsv"
  : >"$P/meta.tsv"
  meta framework "$framework"; meta layout "$layout"; meta probe "$probe"
  meta source "$source"; meta added "$added"
  stage obtain obtain || return 0
  stage init init_ || return 0
  stage check "$FAB" check "$D/app.yaml" || return 0
  stage gen "$FAB" gen --base-image "$BASE" "$D/app.yaml" || return 0
  stage plan plan_ || return 0
  read_plan
  if stage build-layers buildah_ layers && stage run-layers serve "localhost/fabuild-field/$name:layers" layers \
    && stage build-no-layers buildah_ no-layers; then
    stage run-no-layers serve "localhost/fabuild-field/$name:no-layers" no-layers || true
  fi
  podman rmi -f "localhost/fabuild-field/$name:no-layers" >/dev/null 2>&1 || true
  if stage fabuild-build fab_build && stage verify fab_verify && stage import fab_import; then
    stage run-fabuild-build serve "localhost/fabuild-field/$name:build" fabuild || true
  fi
  podman rmi -f "localhost/fabuild-field/$name:build" >/dev/null 2>&1 || true
  rm -rf "$WORK/$name.oci"
}

want=("$@")
for line in "${CORPUS[@]}"; do
  n=${line%%|*}
  if ((${#want[@]})); then
    printf '%s\n' "${want[@]}" | grep -qx -- "$n" || continue
  fi
  run_project "$line"
done

printf '%s\n' "$((SECONDS - suite_t0))" >"$RESULTS/suite_s"
python3 "$HERE/report.py" "$RESULTS"
