#!/usr/bin/env bash
# `fabuild verify` on the real images the end-to-end suite built: each one is exported
# with skopeo as an oci-archive and as a docker-archive and must pass every check
# against its spec.
#
# Usage: bash tests/e2e/verify.sh FABUILD_BIN EXAMPLE_DIR...
#   EXAMPLE_DIR holds the app.yaml the images were built from; the images are
#   $FABUILD_E2E_IMAGE_PREFIX/<name>:e2e and :e2e-no-layers (default prefix
#   localhost/fabuild-e2e, as run.sh tags its builds with and without --layers), <name>
#   being the spec's name.
# Needs the e2e state (tests/e2e/setup.sh) and root. Exit 1 if any image fails.
set -Eeuo pipefail

FAB=${1:?usage: verify.sh FABUILD_BIN EXAMPLE_DIR...}
shift
(($#)) || { echo "usage: verify.sh FABUILD_BIN EXAMPLE_DIR..." >&2; exit 2; }
STATE_DIR=${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}
# shellcheck source=/dev/null
. "$STATE_DIR/env.sh"
PREFIX=${FABUILD_E2E_IMAGE_PREFIX:-localhost/fabuild-e2e}
WORK=$(mktemp -d /tmp/fabuild-e2e-verify.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

failed=()
for dir in "$@"; do
  spec=$dir/app.yaml
  name=$("$FAB" plan "$spec" | python3 -c 'import json, sys; print(json.load(sys.stdin)["name"])')
  for tag in e2e e2e-no-layers; do
    image=$PREFIX/$name:$tag
    for transport in oci-archive docker-archive; do
      archive=$WORK/$name.$transport.tar
      skopeo copy --quiet "containers-storage:$image" "$transport:$archive" >/dev/null
      echo "== $name:$tag ($transport)"
      if ! "$FAB" verify "$spec" --image "$archive" --base-image "$FABUILD_E2E_BASE_IMAGE"; then
        failed+=("$name:$tag ($transport)")
      fi
      rm -f "$archive"
    done
  done
done
if ((${#failed[@]})); then
  printf '!!! E2E FAILED: verify: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "verify: every image passed"
