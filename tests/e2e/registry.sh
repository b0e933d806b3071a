#!/usr/bin/env bash
# Through a real registry end to end: Debian's docker-registry (distribution 2.8) on
# loopback with TLS (a CA made here) and htpasswd auth.
#
# Usage: bash tests/e2e/registry.sh FABUILD_BIN [EXAMPLE_DIR]   (default examples/flask-http)
#
#   1. skopeo pushes the e2e base (setup.sh's debootstrapped Python) to the registry;
#   2. fabuild build --base <that reference> --push <app reference>: the base is pulled by
#      reference, the image pushed, its base layers mounted rather than uploaded;
#   3. the printed REF@sha256 equals what skopeo inspect sees and what --digest-file holds;
#   4. fabuild verify --image <app reference> reads it back from the registry;
#   5. podman pulls it from the registry and runs it: the first request answers 200;
#   6. a code change pushed again uploads only the app layer and the config;
#   7. the password appears in nothing fabuild printed or wrote.
# Needs root and the e2e state (runs setup.sh). Ports: FABUILD_E2E_REGISTRY_PORT (18660) for
# the registry, FABUILD_E2E_APP_PORT (18661) for the app (the example's server.port is set to it).
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
FAB=${1:?usage: registry.sh FABUILD_BIN [EXAMPLE_DIR]}
case $FAB in /*) ;; *) FAB=$PWD/$FAB ;; esac
SRC=${2:-$REPO/examples/flask-http}
PORT=${FABUILD_E2E_REGISTRY_PORT:-18660}
START_TIMEOUT=${FABUILD_E2E_START_TIMEOUT:-60}

bash "$HERE/setup.sh" </dev/null >/dev/null || { echo "!!! E2E FAILED in setup.sh" >&2; exit 1; }
# shellcheck source=/dev/null
. "${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}/env.sh"
BASE=$FABUILD_E2E_BASE_IMAGE
for tool in docker-registry htpasswd; do
  command -v "$tool" >/dev/null || { echo "!!! E2E FAILED: $tool missing (apt-get install docker-registry apache2-utils)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/fabuild-e2e-registry.XXXXXX)
CNAME=fabuild-e2e-registry-$$
REG_PID=
cleanup() {
  trap - ERR
  podman rm -f -t 0 "$CNAME" >/dev/null 2>&1 || true
  if [ -n "$REG_PID" ]; then
    kill "$REG_PID" 2>/dev/null || true
    wait "$REG_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { printf '[e2e-registry %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
trap 'die "command failed (exit $?): $BASH_COMMAND"' ERR
die() { trap - ERR; printf '\n!!!!!!!! E2E FAILED: [registry] %s\n\n' "$1" >&2; exit 1; }
field() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print("" if v is None else v)' "$@"; }

USER_NAME=e2e-pusher
PASSWORD="e2e-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
HOST=127.0.0.1:$PORT
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then die "something already listens on $HOST"; fi

log "registry on $HOST (TLS, htpasswd)"
(
  cd "$WORK"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=fabuild-e2e-ca -keyout ca.key -out ca.pem 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout key.pem -out srv.csr 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' >ext
  openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext -out cert.pem 2>/dev/null
  mkdir certs && cp ca.pem certs/ca.crt
  htpasswd -Bbc htpasswd "$USER_NAME" "$PASSWORD" 2>/dev/null
  cat >config.yml <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/data
http:
  addr: $HOST
  tls:
    certificate: $WORK/cert.pem
    key: $WORK/key.pem
auth:
  htpasswd:
    realm: fabuild-e2e
    path: $WORK/htpasswd
YAML
)
docker-registry serve "$WORK/config.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
deadline=$(($(date +%s) + 15))
until (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do
  (($(date +%s) < deadline)) || { cat "$WORK/registry.log" >&2; die "the registry did not start"; }
  sleep 0.1
done
auth=$(printf '%s:%s' "$USER_NAME" "$PASSWORD" | base64 -w0)
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$HOST" "$auth" >"$WORK/auth.json"
export REGISTRY_AUTH_FILE=$WORK/auth.json
CREDS=(--creds "$USER_NAME:$PASSWORD")

BASE_REF=$HOST/base/python:bookworm
log "skopeo copy $BASE -> $BASE_REF"
skopeo copy --quiet --dest-cert-dir "$WORK/certs" --dest-creds "$USER_NAME:$PASSWORD" \
  "containers-storage:$BASE" "docker://$BASE_REF" >/dev/null

name=$(basename "$SRC")
ctx=$WORK/ctx/$name
mkdir -p "$WORK/ctx"
cp -a "$SRC" "$ctx"
# Served on a port of this suite's range, so that other suites' containers cannot collide.
sed -i "s/^  port: [0-9]*\$/  port: ${FABUILD_E2E_APP_PORT:-18661}/" "$ctx/app.yaml"
"$FAB" plan --base-image "$BASE_REF" "$ctx/app.yaml" >"$WORK/plan.json"
port=$(field "$WORK/plan.json" port)
[ -z "$(field "$WORK/plan.json" tls_dir)" ] || die "$name has TLS; give an example served over HTTP"
APP_REF=$HOST/e2e/$name:1
build_push() {
  "$FAB" build "$ctx/app.yaml" --base "$BASE_REF" --out "$WORK/$1" --cache-dir "$WORK/cache" \
    --push "$APP_REF" --digest-file "$WORK/$1.digest" --registry-ca "$WORK/ca.pem" \
    >"$WORK/$1.out" 2>"$WORK/$1.err" || { cat "$WORK/$1.out" "$WORK/$1.err" >&2; die "build --push failed"; }
  cat "$WORK/$1.out" "$WORK/$1.err" >&2
}

log "fabuild build --base $BASE_REF --push $APP_REF"
build_push one
printed=$(tail -n1 "$WORK/one.out")
digest=$(cat "$WORK/one.digest")
[ "$printed" = "$APP_REF@$digest" ] || die "printed '$printed', the digest file says $digest"
seen=$(skopeo inspect --cert-dir "$WORK/certs" "${CREDS[@]}" --format '{{.Digest}}' "docker://$APP_REF")
[ "$seen" = "$digest" ] || die "skopeo sees $seen for $APP_REF, fabuild pushed $digest"
grep -q 'mounted' "$WORK/one.err" || die "no push summary"
grep -Eq ', [1-9][0-9]* mounted' "$WORK/one.err" || die "the base's layers were not mounted from $BASE_REF"
log "pushed $printed (skopeo agrees)"

log "fabuild verify --image $APP_REF"
"$FAB" verify "$ctx/app.yaml" --image "$APP_REF" --base-image "$BASE_REF" --registry-ca "$WORK/ca.pem" \
  >"$WORK/verify.out" 2>&1 || { cat "$WORK/verify.out" >&2; die "verify --image $APP_REF failed"; }

log "podman pull + run $APP_REF"
podman pull --quiet --cert-dir "$WORK/certs" "${CREDS[@]}" "$APP_REF" >/dev/null
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then die "something already listens on 127.0.0.1:$port"; fi
podman run -d --name "$CNAME" --network=host "$APP_REF" >/dev/null
code="" deadline=$(($(date +%s) + START_TIMEOUT))
while :; do
  code=$(curl -sS --noproxy '*' -o "$WORK/body" -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/" 2>/dev/null || true)
  [ "$code" = 200 ] && break
  if [ "$(podman inspect -f '{{.State.Running}}' "$CNAME")" != true ] || (($(date +%s) >= deadline)); then
    podman logs "$CNAME" 2>&1 | tail -30 >&2
    die "no 200 from the pulled image (last code '$code')"
  fi
  sleep 0.2
done
podman rm -f -t 10 "$CNAME" >/dev/null
log "the image pulled from the registry served 200"

log "code change, build --push again"
printf '\n# changed by the e2e registry test\n' >>"$(find "$ctx" -maxdepth 2 -name '*.py' | sort | head -n1)"
build_push two
python3 - "$WORK/two.err" "$WORK/two/index.json" "$WORK/two" <<'PY' || die "the second push sent more than the app layer and the config"
import json, re, sys
note = next(l for l in open(sys.argv[1]) if l.startswith("note: pushed"))
uploaded, size = map(int, re.search(r": (\d+) blobs? uploaded \((\d+) bytes\)", note).groups())
index = json.load(open(sys.argv[2]))
digest = index["manifests"][0]["digest"].split(":")[1]
manifest = json.load(open(f"{sys.argv[3]}/blobs/sha256/{digest}"))
want = manifest["layers"][-1]["size"] + manifest["config"]["size"]
print(f"second push: {uploaded} blobs, {size} bytes (app layer + config = {want})", file=sys.stderr)
sys.exit(0 if (uploaded, size) == (2, want) else 1)
PY

log "the password is in nothing fabuild printed or wrote"
if grep -rlF --exclude=auth.json --exclude=htpasswd --exclude=registry.log -e "$PASSWORD" -e "$auth" \
    "$WORK"/*.out "$WORK"/*.err "$WORK/verify.out" "$WORK/one" "$WORK/two" "$WORK/cache"; then
  die "the password leaked into the files above"
fi
echo "registry: pulled the base by reference, pushed (mounting the base), verified and ran from the registry; a code change uploaded only the app layer"
