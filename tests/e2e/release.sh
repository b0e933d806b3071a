#!/usr/bin/env bash
# app.release with a real engine: the `podman run` line `fabuild plan` prints runs the
# release step once, as the image's numeric user, with a read-only root; the app, run with
# the same named volume, serves what the release wrote in its writable directory.
#
# Usage: bash tests/e2e/release.sh FABUILD_BIN   (after setup.sh; needs root)
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FAB=${1:?usage: release.sh FABUILD_BIN}
case $FAB in /*) ;; *) FAB=$PWD/$FAB ;; esac
# shellcheck source=/dev/null
. "${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}/env.sh"
BASE=$FABUILD_E2E_BASE_IMAGE
WORK=$(mktemp -d /tmp/fabuild-e2e-release.XXXXXX)
# Names private to this run: the volume is named after the spec, other runs share the engine.
NAME=release-e2e-$$
IMAGE=localhost/fabuild-e2e-release/$NAME:e2e
VOLUME=$NAME-writable-1
PORT=$((20000 + RANDOM % 20000))
cleanup() {
  podman rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
  podman volume rm -f "$VOLUME" >/dev/null 2>&1 || true
  podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
die() { printf '\n!!!!!!!! E2E FAILED: [release] %s\n\n' "$1" >&2; exit 1; }
log() { printf '[e2e-release %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

proj=$WORK/project
mkdir -p "$proj/instance"
# A local state file in the writable directory: it must not reach the image.
echo 'developer state' >"$proj/instance/release.txt"
: >"$proj/requirements.txt"
cat >"$proj/wsgi.py" <<'PY'
import pathlib

HERE = pathlib.Path(__file__).parent


def app(environ, start_response):
    body = (HERE / "instance" / "release.txt").read_bytes()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
PY
# The release step: records who ran it and whether the code was writable to it.
cat >"$proj/release.py" <<'PY'
import os
import pathlib

try:
    pathlib.Path("/app/written-by-release").write_text("x")
    code = "code-writable"
except OSError:
    code = "code-read-only"
pathlib.Path("instance/release.txt").write_text(
    f"released by {os.getuid()}:{os.getgid()} {code}\n"
)
PY
cat >"$proj/app.yaml" <<YAML
version: 1
name: $NAME
app:
  module: wsgi:app
  interface: wsgi
  writable: [instance]
  release: [python, -m, release]
python:
  version: "3.11"
server:
  port: $PORT
deploy:
  image: $IMAGE
  kubernetes: true
  compose: true
YAML

log "fabuild gen, buildah build"
(cd "$proj" && "$FAB" gen --base-image "$BASE" app.yaml) >"$WORK/gen.log" 2>&1 \
  || { cat "$WORK/gen.log" >&2; die "fabuild gen failed"; }
(cd "$proj" && timeout 900 buildah build --isolation=chroot --network=host --pull=never \
    --secret "id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt" -t "$IMAGE" .) >"$WORK/build.log" 2>&1 \
  || { tail -30 "$WORK/build.log" >&2; die "buildah build failed"; }

# The manifests gen wrote for it pass their real validators (the test venv's, when present:
# scripts/test makes it).
REPO=$(cd "$HERE/../.." && pwd)
venv=$REPO/target/pyenv/bin
if [ -x "$venv/kubernetes-validate" ] && [ -x "$venv/check-jsonschema" ]; then
  "$venv/kubernetes-validate" --strict --no-warn "$proj/kubernetes.yaml" >"$WORK/k8s.log" 2>&1 \
    || { cat "$WORK/k8s.log" >&2; die "kubernetes-validate refused kubernetes.yaml"; }
  [ "$(grep -c ' passed for resource ' "$WORK/k8s.log")" = 3 ] \
    || { cat "$WORK/k8s.log" >&2; die "kubernetes.yaml is not a Deployment, a Service and a Job"; }
  "$venv/check-jsonschema" --builtin-schema vendor.compose-spec "$proj/compose.yaml" >"$WORK/compose.log" 2>&1 \
    || { cat "$WORK/compose.log" >&2; die "compose.yaml fails the compose specification's schema"; }
else
  log "note: no $venv (run scripts/test once): manifests not validated here"
fi

release=$(cd "$proj" && "$FAB" plan --base-image "$BASE" app.yaml | python3 -c 'import json,sys; print(json.load(sys.stdin)["release"]["podman"])')
case $release in
  "podman run --rm --user=10001:10001 --read-only --tmpfs=/tmp --volume=$VOLUME:/app/instance --entrypoint=python $IMAGE -m release") ;;
  *) die "unexpected release line: $release" ;;
esac
log "release: $release"
# Exactly the line fabuild printed (the engine's network is the host's, set by setup.sh).
eval "$release" >"$WORK/release.log" 2>&1 || { cat "$WORK/release.log" >&2; die "the release step failed"; }
podman ps -a --format '{{.Names}}' | grep -q "^$NAME\$" && die "the release container was left behind"

log "the app, with the same volume"
podman run -d --name "$NAME" --user=10001:10001 --read-only --tmpfs=/tmp \
  --volume="$VOLUME:/app/instance" "$IMAGE" >/dev/null
body=""
for _ in $(seq 1 60); do
  body=$(curl -fsS --max-time 2 "http://127.0.0.1:$PORT/" 2>/dev/null) && break
  sleep 1
done
[ "$body" = "released by 10001:10001 code-read-only" ] \
  || { podman logs "$NAME" >&2 || true; die "the app served '$body', not what the release wrote as 10001:10001 with the code read-only"; }
echo "    [ok  ] release: \`$release\` ran once as 10001:10001 with /app read-only; the app served its file from the shared volume"
