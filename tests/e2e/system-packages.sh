#!/usr/bin/env bash
# python.build_packages / python.system_packages with a real engine: an app whose
# dependencies PyPI publishes for Linux only as source (psycopg2, mysqlclient) builds from
# the generated two-stage Dockerfile, with and without --layers; as the numeric user it
# imports both and answers with the libpq version psycopg2 was built against; the compiler
# and the headers are not in the image. Then the same spec without system_packages: the
# build stops at the library check, naming the key, instead of shipping an image whose
# first import fails.
#
# Usage: bash tests/e2e/system-packages.sh FABUILD_BIN   (after setup.sh; needs root)
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FAB=${1:?usage: system-packages.sh FABUILD_BIN}
case $FAB in /*) ;; *) FAB=$PWD/$FAB ;; esac
STATE=${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}
# shellcheck source=/dev/null
. "$STATE/env.sh"
BASE=$FABUILD_E2E_BASE_IMAGE
WORK=$(mktemp -d /tmp/fabuild-e2e-syspkg.XXXXXX)
NAME=syspkg-e2e-$$
IMAGE=localhost/fabuild-e2e-syspkg/$NAME
PORT=$((20000 + RANDOM % 20000))
cleanup() {
  podman rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
  for tag in layers no-layers no-libs; do podman rmi -f "$IMAGE:$tag" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
die() { printf '\n!!!!!!!! E2E FAILED: [system-packages] %s\n\n' "$1" >&2; exit 1; }
log() { printf '[e2e-system-packages %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

proj=$WORK/project
mkdir -p "$proj"
# Both are published as sdists only for Linux: pip must compile them in the build stage.
printf 'psycopg2==2.9.10\nmysqlclient==2.2.7\n' >"$proj/requirements.txt"
cat >"$proj/wsgi.py" <<'PY'
import json
import os

import MySQLdb
import psycopg2


def application(environ, start_response):
    body = json.dumps(
        {
            "libpq": psycopg2.__libpq_version__,
            "mysqlclient": list(MySQLdb.version_info[:3]),
            "uid": os.getuid(),
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
PY
# The e2e base is Debian's python3 (not python:X.Y-slim, whose headers are in
# /usr/local): Python's own headers come from python3-dev, in the build stage only.
spec() {
  cat <<YAML
version: 1
name: $NAME
app:
  module: wsgi:application
  interface: wsgi
python:
  version: "3.11"
  build_packages: [gcc, python3-dev, libpq-dev, pkg-config, default-libmysqlclient-dev]
$1
server:
  port: $PORT
  cpus: 1
YAML
}
spec "  system_packages: [libpq5, libmariadb3]" >"$proj/app.yaml"

log "fabuild gen, hadolint"
(cd "$proj" && "$FAB" gen --base-image "$BASE" app.yaml) >"$WORK/gen.log" 2>&1 \
  || { cat "$WORK/gen.log" >&2; die "fabuild gen failed"; }
printf '{}\n' >"$WORK/hadolint.yaml"
hl=$("$STATE/venv/bin/hadolint" --config "$WORK/hadolint.yaml" --no-color "$proj/Dockerfile" 2>&1) \
  && [ -z "$hl" ] || die "hadolint reported: $hl"
[ "$(grep -c '^FROM ' "$proj/Dockerfile")" = 2 ] || die "the Dockerfile is not two stages"

build() { # build TAG LOG [buildah flags...]
  local tag=$1 logf=$2
  shift 2
  (cd "$proj" && timeout 1200 buildah build --isolation=chroot --network=host --pull=never "$@" \
    --secret "id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt" -t "$IMAGE:$tag" .) >"$logf" 2>&1
}

for mode in layers no-layers; do
  flag=--layers
  [ "$mode" = layers ] || flag=--layers=false
  log "buildah build $flag"
  build "$mode" "$WORK/build-$mode.log" "$flag" \
    || { tail -40 "$WORK/build-$mode.log" >&2; die "buildah build $flag failed"; }
  # pip builds a wheel, or (Debian 12's pip 23.0, for psycopg2's setup.py) installs with
  # setup.py; with --layers a rerun reuses the build stage, and its log says so instead.
  grep -qE 'Building wheel for psycopg2|Running setup.py install for psycopg2|Using cache' "$WORK/build-$mode.log" \
    || { grep -iE 'psycopg2|wheel' "$WORK/build-$mode.log" >&2; die "[$mode] psycopg2 was not built from source"; }

  # The build tools stayed in the build stage.
  left=$(podman run --rm --network=none "$IMAGE:$mode" python3 -c '
import os
for p in ("/usr/bin/gcc", "/usr/include/postgresql/libpq-fe.h", "/usr/include/mariadb/mysql.h", "/usr/bin/pkg-config", "/usr/include/python3.11/Python.h"):
    if os.path.exists(p):
        print(p)
') || die "[$mode] podman run python3 failed"
  [ -z "$left" ] || die "[$mode] build tools in the final image: $left"

  log "[$mode] serve as the numeric user, GET /"
  podman run -d --name "$NAME" --network=host "$IMAGE:$mode" >/dev/null
  body=
  for _ in $(seq 1 40); do
    body=$(curl -s --noproxy '*' --max-time 2 "http://127.0.0.1:$PORT/" || true)
    [ -n "$body" ] && break
    sleep 0.5
  done
  podman logs "$NAME" >"$WORK/serve-$mode.log" 2>&1 || true
  podman rm -f -t 0 "$NAME" >/dev/null
  log "[$mode] answered: $body"
  python3 - "$body" <<'PY' || { cat "$WORK/serve-$mode.log" >&2; die "[$mode] the app did not answer as expected: $body"; }
import json, sys
got = json.loads(sys.argv[1])
# Debian 12's libpq is PostgreSQL 15: psycopg2 reports it as 15xxxx.
assert 150000 <= got["libpq"] < 160000, got
assert got["mysqlclient"] == [2, 2, 7], got
assert got["uid"] == 10001, got
PY
done

log "the same spec without system_packages: the build must stop at the library check"
spec "" >"$proj/app.yaml"
(cd "$proj" && "$FAB" gen --base-image "$BASE" app.yaml) >"$WORK/gen-no-libs.log" 2>&1 \
  || { cat "$WORK/gen-no-libs.log" >&2; die "fabuild gen (no system_packages) failed"; }
if build no-libs "$WORK/build-no-libs.log" --layers; then
  die "the image built without libpq5 and libmariadb3"
fi
grep -q 'libpq.so.5 => not found' "$WORK/build-no-libs.log" \
  || { tail -20 "$WORK/build-no-libs.log" >&2; die "the failed build does not name libpq.so.5"; }
grep -q 'add its Debian package to python.system_packages' "$WORK/build-no-libs.log" \
  || { tail -20 "$WORK/build-no-libs.log" >&2; die "the failed build does not name python.system_packages"; }
log "passed"
