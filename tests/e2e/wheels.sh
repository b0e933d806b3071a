#!/usr/bin/env bash
# `fabuild build` (pip on the host) and the Dockerfile route (pip inside the base) resolve
# the same versions of the same requirements, on the real e2e base (Debian bookworm,
# glibc 2.36, Python 3.11).
#
# Usage: bash tests/e2e/wheels.sh FABUILD_BIN
#
# A find-links directory, used by both routes with no index, holds the pinned gunicorn
# wheel and small wheels made here:
#   onlynew 1.0   manylinux_2_28 only (no manylinux2014 wheel at all)
#   tiered  1.0   manylinux2014
#   tiered  2.0   manylinux_2_28
#   tiered  3.0   manylinux_2_99 (no glibc runs it yet)
# 1. fabuild build of a WSGI spec requiring `onlynew` and `tiered`, on the base exported as
#    an OCI layout; the image is run and lists the distributions in /opt/venv;
# 2. in the base itself (podman, no network), a virtualenv's pip resolves the same
#    requirements with `pip install --dry-run --report`, as the Dockerfile's pip would;
# 3. the two lists of (name, version) must be equal, and tiered must be 2.0.
# Needs root and the e2e state (runs setup.sh).
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FAB=${1:?usage: wheels.sh FABUILD_BIN}
case $FAB in /*) ;; *) FAB=$PWD/$FAB ;; esac

bash "$HERE/setup.sh" </dev/null >/dev/null || { echo "!!! E2E FAILED in setup.sh" >&2; exit 1; }
# shellcheck source=/dev/null
. "${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}/env.sh"
BASE=$FABUILD_E2E_BASE_IMAGE

WORK=$(mktemp -d /tmp/fabuild-e2e-wheels.XXXXXX)
REF=localhost/fabuild-wheels/e2e-$$:e2e
cleanup() {
  podman rmi -f "$REF" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { printf '[e2e-wheels %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { trap - ERR; printf '\n!!!!!!!! E2E FAILED: [wheels] %s\n\n' "$1" >&2; exit 1; }
trap 'die "command failed (exit $?): $BASH_COMMAND"' ERR

links=$WORK/links
mkdir -p "$links" "$WORK/project"
cat >"$WORK/project/app.yaml" <<'EOF'
version: 1
name: wheels
app:
  module: wsgi:app
  interface: wsgi
python:
  version: "3.11"
server:
  port: 8000
EOF
printf 'def app(environ, start_response):\n    start_response("200 OK", [])\n    return [b"ok"]\n' >"$WORK/project/wsgi.py"
printf 'onlynew\ntiered\n' >"$WORK/project/requirements.txt"
# The pinned gunicorn wheel, checked against its pin by the build.
gunicorn=$("$FAB" plan --base-image "$BASE" "$WORK/project/app.yaml" \
  | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["server_pins"] if p["name"] == "gunicorn"))')
pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --dest "$links" "gunicorn==$gunicorn"
python3 - "$links" <<'EOF'
import sys, zipfile
links = sys.argv[1]
for name, version, platform in [
    ("onlynew", "1.0", "manylinux_2_28_x86_64"),
    ("tiered", "1.0", "manylinux2014_x86_64"),
    ("tiered", "2.0", "manylinux_2_28_x86_64"),
    ("tiered", "3.0", "manylinux_2_99_x86_64"),
]:
    tag = f"py3-none-{platform}"
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(f"{links}/{name}-{version}-{tag}.whl", "w") as z:
        z.writestr(f"{name}/__init__.py", f"VERSION = {version!r}\n")
        z.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        z.writestr(f"{info}/WHEEL", f"Wheel-Version: 1.0\nGenerator: e2e\nRoot-Is-Purelib: false\nTag: {tag}\n")
        z.writestr(f"{info}/RECORD", f"{name}/__init__.py,,\n{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n")
EOF

log "export $BASE as an OCI layout"
skopeo copy --quiet "containers-storage:$BASE" "oci:$WORK/base:base" >/dev/null

log "fabuild build (pip on the host, find-links only)"
PIP_NO_INDEX=1 PIP_FIND_LINKS=$links "$FAB" build "$WORK/project/app.yaml" --base "$WORK/base" \
  --out "$WORK/image" --base-image "$BASE" --no-cache >"$WORK/build.log" 2>&1 \
  || { cat "$WORK/build.log" >&2; die "fabuild build failed"; }
grep -E '^built ' "$WORK/build.log" >&2
skopeo copy --quiet "oci:$WORK/image:latest" "containers-storage:$REF" >/dev/null
# What the image has: every distribution in the venv, as Python itself lists them.
podman run --rm --network=none --entrypoint /opt/venv/bin/python "$REF" -c '
import importlib.metadata as m
for d in sorted(m.distributions(), key=lambda d: d.metadata["Name"].lower()):
    print(d.metadata["Name"].lower(), d.version)' >"$WORK/built.txt"

log "pip inside $BASE resolves the same requirements (the Dockerfile route)"
podman run --rm --network=none -v "$links:/links:ro" -v "$WORK/project:/src:ro" \
  --entrypoint sh "$BASE" -c '
python3 -m venv /tmp/venv >/dev/null
/tmp/venv/bin/pip install --dry-run --ignore-installed --quiet --disable-pip-version-check \
  --no-index --find-links /links --only-binary=:all: --report /tmp/report.json \
  "gunicorn=='"$gunicorn"'" -r /src/requirements.txt >/dev/null
cat /tmp/report.json' >"$WORK/report.json"
python3 -c '
import json, sys
report = json.load(open(sys.argv[1]))
for name, version in sorted((i["metadata"]["name"].lower(), i["metadata"]["version"]) for i in report["install"]):
    print(name, version)' "$WORK/report.json" >"$WORK/resolved.txt"

log "built:    $(tr '\n' ' ' <"$WORK/built.txt")"
log "resolved: $(tr '\n' ' ' <"$WORK/resolved.txt")"
diff -u "$WORK/resolved.txt" "$WORK/built.txt" >&2 \
  || die "fabuild build installed other versions than pip inside the base resolves (diff above)"
grep -qx 'tiered 2.0' "$WORK/built.txt" || die "tiered is not 2.0 (the newest this glibc runs)"
echo "wheels: fabuild build and pip inside the base resolve the same versions"
