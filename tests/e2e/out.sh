#!/usr/bin/env bash
# `fabuild gen --out DIR`, built the way its users build it: from the project root, with
# `buildah build -f DIR/Dockerfile .` (buildah's defaults, no --layers). Builders read the
# ignore file at the context root or beside the Dockerfile, never DIR/.dockerignore; the one
# gen writes beside the Dockerfile must keep key material and .env files out of /app.
#
# Usage: bash tests/e2e/out.sh FABUILD_BIN [EXAMPLE_DIR]   (after setup.sh; needs root)
#   EXAMPLE_DIR default: examples/flask-http. It is copied to a temp dir (the repo is never
#   written) without its generated files, so no ignore file is at the context root.
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
FAB=${1:?usage: out.sh FABUILD_BIN [EXAMPLE_DIR]}
case $FAB in /*) ;; *) FAB=$PWD/$FAB ;; esac
SRC=${2:-$REPO/examples/flask-http}
# shellcheck source=/dev/null
. "${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}/env.sh"
BASE=$FABUILD_E2E_BASE_IMAGE
WORK=$(mktemp -d /tmp/fabuild-e2e-out.XXXXXX)
IMAGE=localhost/fabuild-e2e-out/$(basename "$SRC"):e2e
trap 'rm -rf "$WORK"' EXIT
die() { printf '\n!!!!!!!! E2E FAILED: [out] %s\n\n' "$1" >&2; exit 1; }
log() { printf '[e2e-out %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

proj=$WORK/project
cp -a "$SRC" "$proj"
rm -f "$proj"/Dockerfile "$proj"/.dockerignore "$proj"/requirements-server.txt \
  "$proj"/requirements-uv.txt "$proj"/requirements-project.in "$proj"/fabuild-*.py
# What the generated ignore file excludes, at the top and nested, and one file it keeps.
mkdir -p "$proj/certs/dev"
echo 'not a real key' >"$proj/test-key.pem"
echo 'not a real key' >"$proj/certs/dev/tls.key"
echo 'SECRET=1' >"$proj/.env"
echo 'kept' >"$proj/NOTICE.txt"

log "fabuild gen --out build/container"
(cd "$proj" && "$FAB" gen --base-image "$BASE" --out build/container app.yaml) >"$WORK/gen.log" 2>&1 \
  || { cat "$WORK/gen.log" >&2; die "fabuild gen --out failed"; }
[ ! -e "$proj/.dockerignore" ] || die "an ignore file at the context root would hide what this tests"

log "buildah build -f build/container/Dockerfile . (no --layers)"
(cd "$proj" && timeout 900 buildah build --isolation=chroot --network=host --pull=never \
    --secret "id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt" \
    -f build/container/Dockerfile -t "$IMAGE" .) >"$WORK/build.log" 2>&1 \
  || { tail -30 "$WORK/build.log" >&2; die "buildah build -f build/container/Dockerfile . failed"; }

found=$(podman run --rm --network=host --user 0 "$IMAGE" \
  find /app \( -name '*.pem' -o -name '*.key' -o -name '.env' \) -print)
[ -z "$found" ] || die "excluded files reached /app: $(tr '\n' ' ' <<<"$found")"
podman run --rm --network=host "$IMAGE" test -f /app/NOTICE.txt \
  || die "/app/NOTICE.txt is missing: the build did not copy the project"
app=$(podman run --rm --network=host "$IMAGE" stat -c '%u:%g %a' /app)
[ "$app" = "0:0 755" ] || die "/app is $app, not 0:0 755"
podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
echo "    [ok  ] out: gen --out build/container; buildah build -f build/container/Dockerfile . left *.pem, *.key and .env out of /app (0:0 755)"
