#!/usr/bin/env bash
# `fabuild build --sbom` against the running image: what the SBOM lists is what pip and
# dpkg inside the container say is installed, the SBOM passes CycloneDX's own validator,
# and it is attached to the image in the layout as an OCI 1.1 artifact about its manifest.
#
# Usage: bash tests/e2e/sbom.sh FABUILD_BIN [EXAMPLE_DIR...]
#   EXAMPLE_DIR default: examples/fastapi-uv (ASGI, uv.lock) and examples/flask-http (WSGI)
#
# For each example (copied to a temp dir):
#   1. the e2e base (setup.sh's debootstrapped bookworm) exported as an OCI layout;
#   2. fabuild build --sbom, twice (the second from the cache): the same SBOM bytes;
#   3. the SBOM validated by cyclonedx-python-lib's JsonStrictValidator (CycloneDX 1.6),
#      from the venv scripts/test sets up (FABUILD_PYTHON overrides);
#   4. index.json lists the image and an artifact of type application/vnd.cyclonedx+json
#      whose subject is the image manifest and whose payload is the SBOM file's bytes;
#   5. skopeo copy oci:DIR:e2e into podman's storage (the artifact does not disturb it);
#      in the running image, the base's pip (/usr/bin/python3 -m pip list) over
#      /opt/venv's site-packages (--path) and over the
#      system's, and `dpkg-query -W`, must give exactly the SBOM's PyPI and deb packages.
# Needs root and the e2e state (runs setup.sh). Exit 1 if anything differs.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
FAB=${1:?usage: sbom.sh FABUILD_BIN [EXAMPLE_DIR...]}
shift
case $FAB in /*) ;; *) FAB=$PWD/$FAB ;; esac
examples=("$@")
((${#examples[@]})) || examples=("$REPO/examples/fastapi-uv" "$REPO/examples/flask-http")
PY=${FABUILD_PYTHON:-$REPO/target/pyenv/bin/python}

bash "$HERE/setup.sh" </dev/null >/dev/null || { echo "!!! E2E FAILED in setup.sh" >&2; exit 1; }
# shellcheck source=/dev/null
. "${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}/env.sh"
BASE=$FABUILD_E2E_BASE_IMAGE

WORK=$(mktemp -d /tmp/fabuild-e2e-sbom.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
log() { printf '[e2e-sbom %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
trap 'die "${name:-setup}" "command failed (exit $?): $BASH_COMMAND"' ERR
die() { trap - ERR; printf '\n!!!!!!!! E2E FAILED: [sbom %s] %s\n\n' "$1" "$2" >&2; exit 1; }

if [ -z "${FABUILD_PYTHON:-}" ]; then
  "$REPO/scripts/test-env" || die setup "scripts/test-env could not set up target/pyenv"
fi
"$PY" -c 'import cyclonedx.validation.json' 2>/dev/null \
  || die setup "$PY has no cyclonedx-python-lib: run scripts/test-env (it installs scripts/test-requirements-hashed.txt)"

log "export $BASE as an OCI layout"
skopeo copy --quiet "containers-storage:$BASE" "oci:$WORK/base:base" >/dev/null

for src in "${examples[@]}"; do
  name=$(basename "$src")
  ctx=$WORK/ctx/$name
  mkdir -p "$WORK/ctx"
  cp -a "$src" "$ctx"
  img=$WORK/$name.img
  log "[$name] fabuild build --sbom (cold, then from the cache)"
  "$FAB" build "$ctx/app.yaml" --base "$WORK/base" --out "$img" --tag e2e \
      --base-image "$BASE" --cache-dir "$WORK/cache" --sbom "$WORK/$name.cold.json" >&2 \
    || die "$name" "fabuild build --sbom failed"
  "$FAB" build "$ctx/app.yaml" --base "$WORK/base" --out "$img" --tag e2e \
      --base-image "$BASE" --cache-dir "$WORK/cache" --sbom "$WORK/$name.sbom.json" >&2 \
    || die "$name" "fabuild build --sbom (cached) failed"
  cmp -s "$WORK/$name.cold.json" "$WORK/$name.sbom.json" \
    || die "$name" "the SBOM of a cached build differs from the cold build's"

  log "[$name] CycloneDX 1.6 validator (cyclonedx-python-lib)"
  "$PY" - "$WORK/$name.sbom.json" <<'EOF' || die "$name" "the SBOM is not valid CycloneDX 1.6"
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())
if error is not None:
    sys.exit(f"invalid: {error.data.message}")
EOF

  log "[$name] the artifact in index.json"
  python3 - "$img" "$WORK/$name.sbom.json" <<'EOF' || die "$name" "the SBOM is not attached as it should be"
import hashlib, json, sys
img, sbom = sys.argv[1], open(sys.argv[2], "rb").read()
blob = lambda d: open(f"{img}/blobs/sha256/{d.split(':')[1]}", "rb").read()
index = json.load(open(f"{img}/index.json"))
image = [m for m in index["manifests"] if "artifactType" not in m]
arts = [m for m in index["manifests"] if m.get("artifactType") == "application/vnd.cyclonedx+json"]
assert len(image) == 1 and len(arts) == 1, index
art = json.loads(blob(arts[0]["digest"]))
assert art["subject"]["digest"] == image[0]["digest"], art
assert art["subject"]["size"] == image[0]["size"], art
assert art["config"]["mediaType"] == "application/vnd.oci.empty.v1+json", art
(layer,) = art["layers"]
assert blob(layer["digest"]) == sbom and layer["size"] == len(sbom), layer
assert "sha256:" + hashlib.sha256(sbom).hexdigest() == layer["digest"]
EOF

  ref=localhost/fabuild-sbom/$name:e2e
  log "[$name] skopeo copy -> containers-storage:$ref"
  skopeo copy --quiet "oci:$img:e2e" "containers-storage:$ref" >/dev/null
  venv_site=$(podman run --rm --entrypoint sh "$ref" -c 'echo /opt/venv/lib/python3*/site-packages')
  podman run --rm --entrypoint /usr/bin/python3 "$ref" -m pip list --disable-pip-version-check \
      --format json --path "$venv_site" >"$WORK/$name.pip-venv.json"
  podman run --rm --entrypoint /usr/bin/python3 "$ref" -m pip list --disable-pip-version-check \
      --format json >"$WORK/$name.pip-system.json"
  podman run --rm --entrypoint dpkg-query "$ref" -W -f '${Package}\t${Version}\t${Architecture}\n' \
      >"$WORK/$name.dpkg.txt"
  python3 - "$WORK/$name.sbom.json" "$WORK/$name.pip-venv.json" "$WORK/$name.pip-system.json" \
      "$WORK/$name.dpkg.txt" "$venv_site" <<'EOF' || die "$name" "the SBOM does not list what the running image has"
import json, re, sys, urllib.parse
sbom, venv, system, dpkg, venv_site = sys.argv[1:]
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
comps = json.load(open(sbom))["components"]
loc = lambda c: next(p["value"] for p in c["properties"] if p["name"] == "fabuild:location")
py = [c for c in comps if c.get("purl", "").startswith("pkg:pypi/")]
in_venv = {(norm(c["name"]), c["version"]) for c in py if loc(c) == venv_site}
in_base = {(norm(c["name"]), c["version"]) for c in py if loc(c) != venv_site}
pip_venv = {(norm(p["name"]), p["version"]) for p in json.load(open(venv))}
pip_system = {(norm(p["name"]), p["version"]) for p in json.load(open(system))}
debs = {tuple(c["purl"].split("?")[0][len("pkg:deb/"):].split("/", 1)[1].split("@")) for c in comps if c.get("purl", "").startswith("pkg:deb/")}
debs = {(urllib.parse.unquote(n), urllib.parse.unquote(v)) for n, v in debs}
dpkg_list = {tuple(l.split("\t")[:2]) for l in open(dpkg).read().splitlines() if l}
ok = True
for what, a, b in [("venv (pip list --path)", in_venv, pip_venv), ("system (pip list)", in_base, pip_system), ("dpkg-query -W", debs, dpkg_list)]:
    if a != b:
        ok = False
        print(f"{what}: only in the SBOM {sorted(a - b)}; only in the image {sorted(b - a)}", file=sys.stderr)
    else:
        print(f"{what}: {len(a)} packages, the same", file=sys.stderr)
for c in py:
    if loc(c) == venv_site and not any(h["alg"] == "SHA-256" and len(h["content"]) == 64 for h in c.get("hashes", [])):
        ok = False
        print(f"{c['name']}: no wheel sha256", file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
  podman rmi -f "$ref" >/dev/null 2>&1 || true
  log "[$name] ok"
done
log "all passed"
