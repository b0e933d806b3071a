#!/usr/bin/env bash
# `fabuild build` against real engines: an image made without any container engine runs
# under podman and serves like the Dockerfile route's, and two builds give one digest.
#
# Usage: bash tests/e2e/build.sh FABUILD_BIN [EXAMPLE_DIR...]
#   EXAMPLE_DIR default: every examples/*/ that has an app.yaml (as ci.sh)
#
# For each example (copied to a temp dir: the repo is never written):
#   1. export the e2e base (setup.sh's localhost/fabuild-e2e/python-base:bookworm) as an
#      OCI layout with skopeo: fabuild build takes a layout or archive, never an engine;
#   2. fabuild build twice: the second with another cache dir, umask and TZ, and
#      --check-reproducible (a third build inside); both manifest digests must be equal;
#   3. fabuild verify on the layout (every check must pass);
#   4. skopeo copy oci:DIR:e2e containers-storage:localhost/fabuild-build/<name>:e2e;
#   5. podman run (host network), the key and certificate root:<gid> 0440 mounted in the
#      TLS dir: the first request must answer 200 (over TLS when the spec has TLS) and
#      gunicorn must run as the spec's uid:gid, and (ASGI) uvloop's extension module must
#      have lost its debug information.
# Needs root and the e2e state (runs setup.sh). Exit 1 if any example fails.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
FAB=${1:?usage: build.sh FABUILD_BIN [EXAMPLE_DIR...]}
shift
case $FAB in /*) ;; *) FAB=$PWD/$FAB ;; esac
examples=("$@")
if ((${#examples[@]} == 0)); then
  for d in "$REPO"/examples/*/; do
    [ -f "$d/app.yaml" ] && examples+=("${d%/}")
  done
fi
START_TIMEOUT=${FABUILD_E2E_START_TIMEOUT:-60}

bash "$HERE/setup.sh" </dev/null >/dev/null || { echo "!!! E2E FAILED in setup.sh" >&2; exit 1; }
# shellcheck source=/dev/null
. "${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}/env.sh"
BASE=$FABUILD_E2E_BASE_IMAGE

WORK=$(mktemp -d /tmp/fabuild-e2e-build.XXXXXX)
CNAME=fabuild-e2e-build-$$
cleanup() {
  podman rm -f -t 0 "$CNAME" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { printf '[e2e-build %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
trap 'die "${name:-setup}" "command failed (exit $?): $BASH_COMMAND"' ERR
die() { trap - ERR; printf '\n!!!!!!!! E2E FAILED: [build %s] %s\n\n' "$1" "$2" >&2; exit 1; }
field() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print("" if v is None else v)' "$@"; }
digest() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]+"/index.json"))["manifests"][0]["digest"])' "$1"; }

log "export $BASE as an OCI layout"
skopeo copy --quiet "containers-storage:$BASE" "oci:$WORK/base:base" >/dev/null

for src in "${examples[@]}"; do
  name=$(basename "$src")
  ctx=$WORK/ctx/$name
  mkdir -p "$WORK/ctx"
  cp -a "$src" "$ctx"
  "$FAB" plan --base-image "$BASE" "$ctx/app.yaml" >"$WORK/$name.plan.json"
  image_name=$(field "$WORK/$name.plan.json" name)
  uid=$(field "$WORK/$name.plan.json" uid)
  gid=$(field "$WORK/$name.plan.json" gid)
  port=$(field "$WORK/$name.plan.json" port)
  tls_dir=$(field "$WORK/$name.plan.json" tls_dir)

  log "[$name] fabuild build (1)"
  t0=$(date +%s.%N)
  "$FAB" build "$ctx/app.yaml" --base "$WORK/base" --out "$WORK/$name.one" --tag e2e \
      --base-image "$BASE" --cache-dir "$WORK/cache-one" \
    || die "$name" "fabuild build failed"
  t1=$(date +%s.%N)
  log "[$name] built in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
  log "[$name] fabuild build (2: other cache, umask 027, TZ=Asia/Kathmandu, --check-reproducible)"
  (umask 027; TZ=Asia/Kathmandu "$FAB" build "$ctx/app.yaml" --base "$WORK/base" --out "$WORK/$name.two" \
      --tag e2e --base-image "$BASE" --cache-dir "$WORK/cache-two" --check-reproducible) \
    || die "$name" "second build or its reproducibility check failed"
  one=$(digest "$WORK/$name.one")
  two=$(digest "$WORK/$name.two")
  [ "$one" = "$two" ] || die "$name" "two builds gave different digests: $one vs $two"
  log "[$name] both builds: $one"
  # Again with the first cache: the interpreter comes from the tree the first build kept
  # there (checked against its listing), and compiles the same bytes.
  "$FAB" build "$ctx/app.yaml" --base "$WORK/base" --out "$WORK/$name.three" --tag e2e \
      --base-image "$BASE" --cache-dir "$WORK/cache-one" \
    || die "$name" "the build from the kept interpreter tree failed"
  ls "$WORK"/cache-one/interpreters/*/listing >/dev/null 2>&1 || die "$name" "no interpreter tree was kept"
  three=$(digest "$WORK/$name.three")
  [ "$three" = "$one" ] || die "$name" "the kept interpreter tree gave $three, a fresh one $one"

  log "[$name] fabuild verify"
  "$FAB" verify "$ctx/app.yaml" --image "$WORK/$name.one" --base-image "$BASE" >"$WORK/$name.verify" \
    || { cat "$WORK/$name.verify" >&2; die "$name" "fabuild verify failed on the built layout"; }
  # The base's interpreter compiled every module of both layers (issue 28).
  row=$(grep -E '^PASS +bytecode ' "$WORK/$name.verify") || die "$name" "no bytecode row in verify's report"
  [[ $row =~ ([0-9]+)\ of\ ([0-9]+)\ Python\ sources ]] && [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] \
    && [ "${BASH_REMATCH[1]}" -gt 100 ] || die "$name" "not every module has bytecode: $row"
  log "[$name] $row"
  if [ "$src" = "${examples[0]}" ]; then
    # --no-bytecode runs nothing of the base: no .pyc in either layer, and the build says so.
    "$FAB" build "$ctx/app.yaml" --base "$WORK/base" --out "$WORK/$name.nopyc" --tag e2e \
        --base-image "$BASE" --cache-dir "$WORK/cache-one" --no-bytecode 2>"$WORK/$name.nopyc.err" \
      || { cat "$WORK/$name.nopyc.err" >&2; die "$name" "fabuild build --no-bytecode failed"; }
    grep -q 'no bytecode (--no-bytecode)' "$WORK/$name.nopyc.err" \
      || { cat "$WORK/$name.nopyc.err" >&2; die "$name" "--no-bytecode did not say so"; }
    "$FAB" verify "$ctx/app.yaml" --image "$WORK/$name.nopyc" --base-image "$BASE" >"$WORK/$name.nopyc.verify" \
      || { cat "$WORK/$name.nopyc.verify" >&2; die "$name" "verify failed on the --no-bytecode image"; }
    row=$(grep -E '^PASS +bytecode ' "$WORK/$name.nopyc.verify") || die "$name" "no bytecode row for --no-bytecode"
    [[ $row =~ ([0-9]+)\ of\ ([0-9]+)\ Python\ sources ]] && [ "${BASH_REMATCH[1]}" = 0 ] \
      || die "$name" "--no-bytecode image has bytecode: $row"
    [ "$(digest "$WORK/$name.nopyc")" != "$one" ] || die "$name" "--no-bytecode gave the same image"
    log "[$name] --no-bytecode: $row"
  fi

  ref=localhost/fabuild-build/$image_name:e2e
  log "[$name] skopeo copy -> containers-storage:$ref"
  skopeo copy --quiet "oci:$WORK/$name.one:e2e" "containers-storage:$ref" >/dev/null

  scheme=http curl_tls=() mount=()
  if [ -n "$tls_dir" ]; then
    scheme=https
    certfile=$(python3 -c 'import json,sys; import os; print(os.path.basename(json.load(open(sys.argv[1]))["tls"]["certfile"]))' "$WORK/$name.plan.json")
    keyfile=$(python3 -c 'import json,sys; import os; print(os.path.basename(json.load(open(sys.argv[1]))["tls"]["keyfile"]))' "$WORK/$name.plan.json")
    certs=$WORK/$name.certs
    mkdir -p "$certs"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
      -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
      -keyout "$certs/$keyfile" -out "$certs/$certfile" >/dev/null 2>&1
    chown "0:$gid" "$certs/$keyfile" "$certs/$certfile"
    chmod 0440 "$certs/$keyfile" "$certs/$certfile"
    chmod 0755 "$certs"
    cp "$certs/$certfile" "$WORK/$name.ca.pem"
    curl_tls=(--cacert "$WORK/$name.ca.pem")
    mount=(-v "$certs:$tls_dir:ro")
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "$name" "something already listens on 127.0.0.1:$port"
  fi
  log "[$name] podman run"
  podman run -d --name "$CNAME" --network=host "${mount[@]}" "$ref" >/dev/null
  code="" deadline=$(($(date +%s) + START_TIMEOUT))
  while :; do
    code=$(curl -sS --noproxy '*' "${curl_tls[@]}" -o "$WORK/$name.body" -w '%{http_code}' --max-time 2 \
      "$scheme://127.0.0.1:$port/" 2>/dev/null || true)
    [ "$code" = 200 ] && break
    if [ "$(podman inspect -f '{{.State.Running}}' "$CNAME")" != true ] || (($(date +%s) >= deadline)); then
      podman logs "$CNAME" 2>&1 | tail -30 >&2
      die "$name" "no 200 from $scheme://127.0.0.1:$port/ (last code '$code', logs above)"
    fi
    sleep 0.2
  done
  log "[$name] 200 over $scheme: $(head -c 200 "$WORK/$name.body")"
  # The image's Python loads that bytecode: importing the app compiles nothing (a source
  # without a usable .pyc would go through compile()), on a root filesystem nothing writes.
  compiled=$(podman exec "$CNAME" /opt/venv/bin/python -c 'import importlib._bootstrap_external as m, sys
calls = []
real = m.SourceLoader.source_to_code
def counted(self, data, path, *args, **kw):
    if str(path).startswith(("/opt/venv/", "/app/")):
        calls.append(str(path))
    return real(self, data, path, *args, **kw)
m.SourceLoader.source_to_code = counted
import gunicorn.util
gunicorn.util.import_app(sys.argv[1])
print(len(calls), " ".join(calls[:3]))' "$(field "$WORK/$name.plan.json" module)") \
    || die "$name" "importing the app in the image failed"
  [ "${compiled%% *}" = 0 ] || die "$name" "importing the app compiled modules from source: $compiled"
  log "[$name] importing the app compiled nothing: every module came from its .pyc"
  ids=$(podman exec "$CNAME" sh -c 'echo "$(id -u):$(id -g)"')
  [ "$ids" = "$uid:$gid" ] || die "$name" "the container runs as $ids, the spec says $uid:$gid"
  pid1=$(podman exec "$CNAME" sh -c 'stat -c %u:%g /proc/1 && tr "\0" " " </proc/1/cmdline')
  case $pid1 in "$uid:$gid"*gunicorn*) ;; *) die "$name" "PID 1 is not gunicorn as $uid:$gid: $pid1" ;; esac
  # As in the Dockerfile route, the server stack's extension modules lost their debug
  # information (uvloop's is 13.6 MB with it, under 2 MB without).
  read -r -a stripped <<<"$(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["strip_debug"]))' "$WORK/$name.plan.json")"
  if ((${#stripped[@]})); then
    sizes=$(podman exec "$CNAME" python -c 'import importlib.metadata as m, sys
for n in sys.argv[1:]:
    print(n, sum(f.locate().stat().st_size for f in m.distribution(n).files if str(f).endswith(".so")))' "${stripped[@]}")
    log "[$name] extension module bytes: $(tr '\n' ' ' <<<"$sizes")"
    awk '$1 == "uvloop" && $2 >= 3000000 { bad = 1 } END { exit bad }' <<<"$sizes" \
      || die "$name" "uvloop still carries its debug information: $sizes"
  fi
  podman rm -f -t 10 "$CNAME" >/dev/null
  log "[$name] ok: digest $one, runs as $uid:$gid, 200 over $scheme"
done
echo "build: every example built reproducibly, passed verify and served 200"
