#!/usr/bin/env bash
# CI entry point of the real-engine suite (called by .ci/run).
#
# Usage: bash tests/e2e/ci.sh [FABUILD_BIN] [EXAMPLE_DIR...]
#   FABUILD_BIN   default target/release/fabuild
#   EXAMPLE_DIR   default: every examples/*/ that has an app.yaml
#
# For each example: copy it to a temp dir (the repo is never written), regenerate
# its build files there with `fabuild gen --base-image <local e2e base>` (no
# registry here: the base is the debootstrapped image setup.sh makes), take the
# expectations from `fabuild plan --base-image <same>` (JSON), then hand
# all of them to run.sh (hadolint, buildah build with and without --layers, image config,
# /app root-owned, TLS/HTTP probe as the numeric user, graceful stop, pinned versions,
# logs).
# Needs root. FABUILD_E2E_SKIP=1 skips the suite (prints why, exits 0).
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

if [ "${FABUILD_E2E_SKIP:-0}" = 1 ]; then
  echo "e2e: skipped (FABUILD_E2E_SKIP=1)"; exit 0
fi
[ "$(id -u)" = 0 ] || { echo "!!! E2E FAILED: tests/e2e needs root (buildah/podman with private storage)" >&2; exit 1; }

FAB=${1:-$REPO/target/release/fabuild}
(($#)) && shift
case $FAB in /*) ;; *) FAB=$PWD/$FAB ;; esac
[ -x "$FAB" ] || { echo "!!! E2E FAILED: fabuild binary not found at $FAB (cargo build --release first)" >&2; exit 1; }

examples=("$@")
if ((${#examples[@]} == 0)); then
  for d in "$REPO"/examples/*/; do
    [ -f "$d/app.yaml" ] && examples+=("${d%/}")
  done
fi
((${#examples[@]})) || { echo "!!! E2E FAILED: no examples found" >&2; exit 1; }

bash "$HERE/setup.sh" </dev/null || { echo "!!! E2E FAILED in setup.sh" >&2; exit 1; }
# shellcheck source=/dev/null
. "${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}/env.sh"
BASE=$FABUILD_E2E_BASE_IMAGE

WORK=$(mktemp -d /tmp/fabuild-e2e-ci.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
args=()
for src in "${examples[@]}"; do
  name=$(basename "$src")
  dst=$WORK/ctx/$name
  mkdir -p "$WORK/ctx" "$WORK/meta"
  cp -a "$src" "$dst"
  if ! (cd "$dst" && "$FAB" gen --base-image "$BASE" app.yaml) >"$WORK/meta/$name.gen.log" 2>&1; then
    cat "$WORK/meta/$name.gen.log" >&2
    echo "!!! E2E FAILED: [$name] fabuild gen --base-image $BASE failed" >&2; exit 1
  fi
  if ! (cd "$dst" && "$FAB" plan --base-image "$BASE" app.yaml) >"$WORK/meta/$name.plan.json" 2>"$WORK/meta/$name.plan.err"; then
    cat "$WORK/meta/$name.plan.err" >&2
    echo "!!! E2E FAILED: [$name] fabuild plan --base-image $BASE failed" >&2; exit 1
  fi
  grep -q "^FROM $BASE" "$dst/Dockerfile" \
    || { echo "!!! E2E FAILED: [$name] regenerated Dockerfile does not build FROM $BASE" >&2; exit 1; }
  args+=("$dst=$WORK/meta/$name.plan.json")
done

bash "$HERE/run.sh" --no-setup "${args[@]}"

# Fail fast on bad runtime input, for every TLS example (the images run.sh just built).
for arg in "${args[@]}"; do
  plan=${arg#*=}
  if python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["tls"] else 1)' "$plan"; then
    name=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["name"])' "$plan")
    bash "$HERE/failfast.sh" "localhost/fabuild-e2e/$name:e2e" "$plan"
  fi
done

# The images run.sh built, exported as oci-archive and docker-archive, pass fabuild verify.
dirs=()
for arg in "${args[@]}"; do dirs+=("${arg%%=*}"); done
bash "$HERE/verify.sh" "$FAB" "${dirs[@]}"

# gen --out DIR, built from the project root with -f DIR/Dockerfile: the ignore file beside
# the Dockerfile keeps keys and .env files out of /app.
bash "$HERE/out.sh" "$FAB"

# app.release: the `podman run` line fabuild plan prints runs once as the numeric user; the
# app serves what it wrote through the shared named volume.
bash "$HERE/release.sh" "$FAB"

# python.build_packages / system_packages: psycopg2 and mysqlclient compiled in the build
# stage, imported as the numeric user, no compiler or header in the image, and a missing
# run-time library stopping the build.
bash "$HERE/system-packages.sh" "$FAB"

# fabuild init on fixture projects: what it writes must build and serve.
bash "$HERE/init.sh" "$FAB"

# Django projects made by the real django-admin startproject: init, gen, build, serve; the
# settings module, the SQLite directory, collectstatic at build time.
bash "$HERE/django.sh" "$FAB"

# .dockerignore: what buildah's `COPY . /ctx` copies is what fabuild build puts in the app
# layer, case by case (Docker's differences from buildah 1.28 are listed in the script).
python3 "$HERE/dockerignore.py" "$FAB"

# fabuild build: every example as an OCI image without an engine, twice with the same
# digest, verified, run with podman and answered over TLS/HTTP as the numeric user.
bash "$HERE/build.sh" "$FAB"

# fabuild build --sbom: valid CycloneDX 1.6, attached in the layout, and what pip and dpkg
# in the running image say is installed.
bash "$HERE/sbom.sh" "$FAB"

# The suite once more with a refreshed pins file (python.pins, uvicorn past the built-in pin).
bash "$HERE/pins.sh" "$FAB"

# build.index_url against a real authenticated index (pypiserver, htpasswd): the netrc
# secret is needed, and its password is in no layer and not in the build log.
bash "$HERE/private-index.sh" "$FAB"

# Through a real registry (distribution 2.8, TLS, htpasswd): the base pulled by reference,
# the image pushed (base layers mounted), verified from the registry, pulled and run by
# podman, and a code change uploading only the app layer.
bash "$HERE/registry.sh" "$FAB"

# fabuild build asks pip for every manylinux wheel the base's glibc runs: the versions it
# installs are the ones pip inside the base resolves.
bash "$HERE/wheels.sh" "$FAB"
