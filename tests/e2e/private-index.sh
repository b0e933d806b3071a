#!/usr/bin/env bash
# build.index_url against a real authenticated index: pypiserver (pinned by hash) with an
# htpasswd file (passlib) serves a private package the app imports, built here as a wheel.
# The netrc holding the password is passed as the `index_netrc` build secret; the build must
# fail without it (the index refuses), succeed with it, serve, and leave the password
# nowhere: not in the build log, not in any layer (a byte scan of every layer), and
# `fabuild verify` passes (it flags anything under /run/secrets and any netrc file).
#
# Usage: bash tests/e2e/private-index.sh FABUILD_BIN   (root; after setup.sh)
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
FAB=$1
# shellcheck source=/dev/null
. "${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}/env.sh"
# shellcheck source=/dev/null
. "$HERE/lib.sh"
BASE=$FABUILD_E2E_BASE_IMAGE
PORT=${FABUILD_E2E_INDEX_PORT:-18500}
fail() { echo "!!! E2E FAILED (private-index): $*" >&2; exit 1; }
log() { echo "[private-index $(date +%T)] $*"; }

# no_password_in_blobs LAYOUT WHAT: fails when any blob of the OCI layout holds $PASSWORD.
no_password_in_blobs() {
  local blob
  for blob in "$1"/blobs/sha256/*; do
    if { gzip -dc "$blob" 2>/dev/null || cat "$blob"; } | grep -aq "$PASSWORD"; then
      fail "the password is in blob $(basename "$blob") of $2"
    fi
  done
}

# fabuild_build CTX NAME WHAT: `fabuild build` of CTX/app.yaml is refused by the index
# without credentials, builds with the netrc as NETRC into $WORK/NAME, leaves the password
# out of its output and every blob, and `fabuild verify` passes.
fabuild_build() {
  local ctx=$1 name=$2 what=$3
  if PIP_NO_INPUT=1 "$FAB" build "$ctx/app.yaml" --base "$WORK/base" --out "$WORK/$name-nosecret" \
    --base-image "$BASE" --cache-dir "$WORK/$name-cache" >"$WORK/$name-nosecret.log" 2>&1; then
    fail "fabuild build ($what) succeeded without the index's credentials"
  fi
  grep -qi "401\|No matching distribution\|could not find a version" "$WORK/$name-nosecret.log" \
    || { tail -20 "$WORK/$name-nosecret.log" >&2; fail "fabuild build ($what) without credentials failed for another reason"; }
  NETRC=$WORK/netrc PIP_NO_INPUT=1 "$FAB" build "$ctx/app.yaml" --base "$WORK/base" --out "$WORK/$name" \
    --base-image "$BASE" --cache-dir "$WORK/$name-cache" >"$WORK/$name.log" 2>&1 \
    || { tail -20 "$WORK/$name.log" >&2; fail "fabuild build ($what) with NETRC"; }
  if grep -q "$PASSWORD" "$WORK/$name.log"; then fail "the password is in fabuild build's output ($what)"; fi
  no_password_in_blobs "$WORK/$name" "fabuild build's image ($what)"
  (cd "$ctx" && "$FAB" verify --base-image "$BASE" app.yaml --image "$WORK/$name") >"$WORK/$name-verify.log" 2>&1 \
    || { cat "$WORK/$name-verify.log" >&2; fail "fabuild verify of fabuild build's image ($what)"; }
}

WORK=$(mktemp -d /tmp/fabuild-e2e-index.XXXXXX)
server=
cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  podman rmi -f localhost/fabuild-e2e/private-index:e2e localhost/fabuild-e2e/private-index-uv:e2e >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

VENV=${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}/pypiserver-venv
if [ ! -e "$VENV/.complete" ]; then
  log "installing pypiserver (hash-pinned) into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
    --no-deps -r "$HERE/private-index-requirements.txt"
  touch "$VENV/.complete"
fi
PY=$VENV/bin/python

# The private package: one module, built as a wheel by hand (zip with dist-info). Beside
# it, for `fabuild pins refresh --index`: fabuild-top 1.0 (needs fabuild-dep>=2) and 2.0,
# fabuild-dep 1.0 and 2.0.
# The private package's version is new each run: the install step's cache mount outlives
# the run (and the machine's other builds share it), and uv refuses a cached wheel of the
# same name and version whose hash is not the lock's.
PRIVATE_VERSION=0.1.$(date +%s)
mkdir -p "$WORK/packages"
"$PY" - "$WORK/packages" "$PRIVATE_VERSION" <<'PY'
import base64, hashlib, sys, zipfile
out, private_version = sys.argv[1], sys.argv[2]
def wheel(project, version, code, requires=()):
    name = project.replace("-", "_")
    dist = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {project}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{name}.py": code,
        f"{dist}/METADATA": metadata,
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: fabuild-e2e\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(f"{out}/{name}-{version}-py3-none-any.whl", "w") as z:
        for path, text in files.items():
            z.writestr(zipfile.ZipInfo(path, date_time=(2026, 1, 1, 0, 0, 0)), text)
wheel("fabuild-private-greeting", private_version, "GREETING = 'hello from the private index'\n")
wheel("fabuild-top", "1.0", "", ["fabuild-dep>=2"])
wheel("fabuild-top", "2.0", "")
wheel("fabuild-dep", "1.0", "")
wheel("fabuild-dep", "2.0", "")
PY

# The credentials: a random password, an htpasswd file by passlib, a netrc for the secret.
PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
"$PY" -c 'import sys; from passlib.apache import HtpasswdFile as H; h = H(sys.argv[1], new=True); h.set_password("ci", sys.argv[2]); h.save()' \
  "$WORK/htpasswd" "$PASSWORD"
printf 'machine 127.0.0.1\n  login ci\n  password %s\n' "$PASSWORD" >"$WORK/netrc"
chmod 600 "$WORK/netrc"

log "pypiserver on 127.0.0.1:$PORT (download and list need the password; others fall back to PyPI)"
"$VENV/bin/pypi-server" run -i 127.0.0.1 -p "$PORT" -P "$WORK/htpasswd" -a download,list,update \
  "$WORK/packages" >"$WORK/server.log" 2>&1 &
server=$!
for _ in $(seq 50); do
  curl -s -o /dev/null --noproxy '*' "http://127.0.0.1:$PORT/" && break
  sleep 0.2
done
code=$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' "http://127.0.0.1:$PORT/simple/fabuild-private-greeting/")
[ "$code" = 401 ] || fail "the index answers $code without credentials, not 401"
code=$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' --netrc-file "$WORK/netrc" "http://127.0.0.1:$PORT/simple/fabuild-private-greeting/")
[ "$code" = 200 ] || fail "the index answers $code with the netrc's credentials, not 200"

# The app: flask-http importing the private package.
ctx=$WORK/ctx
cp -a "$REPO/examples/flask-http" "$ctx"
echo "fabuild-private-greeting==$PRIVATE_VERSION" >>"$ctx/requirements.txt"
printf '\nimport fabuild_private_greeting  # noqa: E402  (the private index'"'"'s package)\n' >>"$ctx/wsgi.py"
sed -i -e 's/^name: .*/name: private-index/' "$ctx/app.yaml"
printf 'build:\n  index_url: http://127.0.0.1:%s/simple/\n' "$PORT" >>"$ctx/app.yaml"
(cd "$ctx" && "$FAB" gen --base-image "$BASE" app.yaml) >"$WORK/gen.log" 2>&1 || { cat "$WORK/gen.log" >&2; fail "fabuild gen"; }
grep -q -- "--mount=type=secret,id=index_netrc" "$ctx/Dockerfile" || fail "the Dockerfile does not mount the index_netrc secret"
if grep -rq "$PASSWORD" "$ctx"; then fail "the password is in the build context"; fi

TAG=localhost/fabuild-e2e/private-index:e2e
log "build without the secret: the index must refuse"
if e2e_buildah_build "$WORK/build-nosecret.log" "$TAG" "$ctx" --layers; then
  fail "the build succeeded without the index's credentials"
fi
grep -qi "401\|No matching distribution\|could not find a version" "$WORK/build-nosecret.log" \
  || { tail -20 "$WORK/build-nosecret.log" >&2; fail "the build without credentials failed for another reason"; }

log "build with the index_netrc secret"
e2e_buildah_build "$WORK/build.log" "$TAG" "$ctx" --layers --secret "id=index_netrc,src=$WORK/netrc" \
  || { tail -30 "$WORK/build.log" >&2; fail "buildah build with the secret"; }
if grep -q "$PASSWORD" "$WORK/build.log"; then fail "the password is in the build log"; fi

log "the private package is installed and imports as the numeric user"
out=$(podman run --rm --network=none --user 10001:10001 --entrypoint /opt/venv/bin/python "$TAG" \
  -c 'import fabuild_private_greeting as g; print(g.GREETING)')
[ "$out" = "hello from the private index" ] || fail "the image's private package says: $out"

log "layer scan and fabuild verify"
skopeo copy --quiet "containers-storage:$TAG" "oci:$WORK/oci:e2e" >/dev/null
no_password_in_blobs "$WORK/oci" "the image"
log "fabuild build: the same index, the netrc given to the host's pip as NETRC"
skopeo copy --quiet "containers-storage:$BASE" "oci:$WORK/base:base" >/dev/null
fabuild_build "$ctx" built "pip"

layers=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(len(m["manifests"]))' "$WORK/oci/index.json")
(cd "$ctx" && "$FAB" verify --base-image "$BASE" app.yaml --image "$WORK/oci") >"$WORK/verify.log" 2>&1 \
  || { cat "$WORK/verify.log" >&2; fail "fabuild verify"; }
grep -q "build-secrets" "$WORK/verify.log" || fail "verify did not run its build-secrets check"
pip_blobs=$(ls "$WORK"/oci/blobs/sha256 | wc -l)

# The same index on the uv route: an app whose dependencies are locked by uv (python.lock),
# the lock made here by the real uv fabuild pins against the authenticated index. In the
# image uv exports the lock and installs it from UV_DEFAULT_INDEX, reading the netrc the
# install step mounts (NETRC); without the secret the index refuses uv too.
log "uv route: a uv.lock naming the private package, locked by the pinned uv"
UVDIR=$WORK/uv
"$PY" -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps --only-binary=:all: \
  --target "$UVDIR" -r "$REPO/examples/fastapi-uv/requirements-uv.txt"
uvctx=$WORK/uvctx
mkdir -p "$uvctx"
cat >"$uvctx/pyproject.toml" <<TOML
[project]
name = "private-index-uv"
version = "1.0.0"
requires-python = ">=3.11"
dependencies = ["fabuild-private-greeting==$PRIVATE_VERSION"]
TOML
cat >"$uvctx/app.py" <<'APP'
import fabuild_private_greeting


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [fabuild_private_greeting.GREETING.encode()]
APP
cat >"$uvctx/app.yaml" <<YAML
version: 1
name: private-index-uv
app:
  module: app:app
  interface: wsgi
python:
  version: "3.11"
  lock: uv.lock
server:
  port: 8000
  cpus: 1
user:
  uid: 10001
  gid: 10001
build:
  index_url: http://127.0.0.1:$PORT/simple/
YAML
(cd "$uvctx" && NETRC=$WORK/netrc UV_CACHE_DIR=$WORK/uv-cache UV_PYTHON_DOWNLOADS=never UV_NATIVE_TLS=1 \
  "$UVDIR/bin/uv" lock --quiet --python python3 --default-index "http://127.0.0.1:$PORT/simple/") \
  >"$WORK/uv-lock.log" 2>&1 || { cat "$WORK/uv-lock.log" >&2; fail "uv lock against the private index"; }
grep -q 'name = "fabuild-private-greeting"' "$uvctx/uv.lock" || fail "uv.lock does not lock the private package"
if grep -q "$PASSWORD" "$uvctx/uv.lock" "$WORK/uv-lock.log"; then fail "the password is in uv.lock or uv's output"; fi
(cd "$uvctx" && "$FAB" gen --base-image "$BASE" app.yaml) >"$WORK/uvgen.log" 2>&1 || { cat "$WORK/uvgen.log" >&2; fail "fabuild gen (uv)"; }
grep -q '"$uv" export' "$uvctx/Dockerfile" || fail "the uv-locked app's Dockerfile does not install with uv"
grep -q -- "--mount=type=secret,id=index_netrc" "$uvctx/Dockerfile" || fail "the uv Dockerfile does not mount the index_netrc secret"
if grep -rq "$PASSWORD" "$uvctx"; then fail "the password is in the uv build context"; fi

UVTAG=localhost/fabuild-e2e/private-index-uv:e2e
log "uv route: build without the secret: the index must refuse uv"
if e2e_buildah_build "$WORK/uvbuild-nosecret.log" "$UVTAG" "$uvctx" --layers; then
  fail "the uv build succeeded without the index's credentials"
fi
# (pip, fetching uv itself from the same index, is the first to be refused)
grep -qi "401\|unauthorized\|could not find a version\|not found in the package registry" "$WORK/uvbuild-nosecret.log" \
  || { tail -20 "$WORK/uvbuild-nosecret.log" >&2; fail "the uv build without credentials failed for another reason"; }
log "uv route: build with the index_netrc secret"
e2e_buildah_build "$WORK/uvbuild.log" "$UVTAG" "$uvctx" --layers --secret "id=index_netrc,src=$WORK/netrc" \
  || { tail -30 "$WORK/uvbuild.log" >&2; fail "buildah build (uv) with the secret"; }
if grep -q "$PASSWORD" "$WORK/uvbuild.log"; then fail "the password is in the uv build log"; fi
grep -q "fabuild-private-greeting==$PRIVATE_VERSION" "$WORK/uvbuild.log" || fail "uv did not report installing the private package"
out=$(podman run --rm --network=none --user 10001:10001 --entrypoint /opt/venv/bin/python "$UVTAG" \
  -c 'import fabuild_private_greeting as g; print(g.GREETING)')
[ "$out" = "hello from the private index" ] || fail "the uv image's private package says: $out"
if podman run --rm --network=none --entrypoint /bin/sh "$UVTAG" -c 'test -e /opt/uv || test -n "$(ls -A /root/.cache/fabuild 2>/dev/null)" || find /opt/venv -name uv -type f | grep -q .'; then
  fail "uv stayed in the image"
fi
skopeo copy --quiet "containers-storage:$UVTAG" "oci:$WORK/uvoci:e2e" >/dev/null
no_password_in_blobs "$WORK/uvoci" "the uv image"
(cd "$uvctx" && "$FAB" verify --base-image "$BASE" app.yaml --image "$WORK/uvoci") >"$WORK/uvverify.log" 2>&1 \
  || { cat "$WORK/uvverify.log" >&2; fail "fabuild verify (uv)"; }
grep -q "build-secrets" "$WORK/uvverify.log" || fail "verify did not run its build-secrets check (uv)"
podman rmi -f "$UVTAG" >/dev/null 2>&1 || true

log "uv route, fabuild build: the uv.lock's closure from the same index, the netrc as NETRC"
fabuild_build "$uvctx" uvbuilt "uv.lock"

# pins refresh against the same index: pypiserver's JSON API names files by URL only, with
# no hashes and no dependencies, so fabuild downloads each wanted wheel (with the netrc's
# credentials), hashes it, and reads its METADATA; fabuild-top 1.0 is not the newest
# release, and its dependency is checked all the same.
log "pins refresh --index: hashes and dependencies from the wheels themselves"
pins=$WORK/pins
mkdir -p "$pins"
printf '# fabuild pins 1\nwant fabuild-top==1.0 tool\nwant fabuild-dep==1.0 tool\n' >"$pins/pins.txt"
if (cd "$pins" && "$FAB" pins refresh --file pins.txt --index "http://127.0.0.1:$PORT") >"$WORK/pins-noauth.log" 2>&1; then
  fail "pins refresh read the index without its credentials"
fi
grep -q "401" "$WORK/pins-noauth.log" || { cat "$WORK/pins-noauth.log" >&2; fail "pins refresh without credentials failed for another reason"; }
if (cd "$pins" && "$FAB" pins refresh --file pins.txt --index "http://127.0.0.1:$PORT" --netrc "$WORK/netrc") >"$WORK/pins-unmet.log" 2>&1; then
  fail "pins refresh accepted fabuild-top 1.0 with fabuild-dep 1.0"
fi
grep -q "fabuild-top 1.0 needs fabuild-dep>=2, but fabuild-dep 1.0 is wanted" "$WORK/pins-unmet.log" \
  || { cat "$WORK/pins-unmet.log" >&2; fail "pins refresh did not name the unmet dependency"; }
(cd "$pins" && "$FAB" pins refresh --file pins.txt --index "http://127.0.0.1:$PORT" --netrc "$WORK/netrc" fabuild-dep==2.0) \
  >"$WORK/pins.log" 2>&1 || { cat "$WORK/pins.log" >&2; fail "pins refresh with fabuild-dep 2.0"; }
for w in fabuild_top-1.0 fabuild_dep-2.0; do
  sum=$(sha256sum "$WORK/packages/$w-py3-none-any.whl" | cut -d' ' -f1)
  grep -q "$sum" "$pins/pins.txt" || { cat "$pins/pins.txt" >&2; fail "pins.txt lacks $w's sha256 $sum"; }
done
(cd "$pins" && "$FAB" pins check --file pins.txt --index "http://127.0.0.1:$PORT" --netrc "$WORK/netrc") \
  >"$WORK/pins-check.log" 2>&1 || { cat "$WORK/pins-check.log" >&2; fail "pins check of the refreshed file"; }
grep -q "OUTDATED  fabuild-top 1.0 (newest 2.0)" "$WORK/pins-check.log" \
  || { cat "$WORK/pins-check.log" >&2; fail "pins check did not find fabuild-top outdated"; }
grep -q "0 yanked or unknown" "$WORK/pins-check.log" \
  || { cat "$WORK/pins-check.log" >&2; fail "pins check found hashes it could not match"; }
if grep -q "$PASSWORD" "$WORK"/pins*.log "$pins/pins.txt"; then fail "the password is in pins refresh's output"; fi

log "ok: 401 without credentials (pip and uv, buildah and fabuild build), build with the secret / NETRC, password in no log or layer ($pip_blobs + $(ls "$WORK"/uvoci/blobs/sha256 | wc -l) blobs scanned, $layers manifest), verify passes; pins refresh hashes and checks the index's wheels"
