#!/usr/bin/env bash
# The real-engine suite once more, with a refreshed pins file instead of the built-in table
# (python.pins, docs/pins.md): `fabuild pins refresh` writes the file from PyPI's JSON API
# with uvicorn moved past the built-in pin, every example points at it, and run.sh builds,
# serves and checks each image, including that the versions installed are the file's.
#
# Usage: bash tests/e2e/pins.sh FABUILD_BIN [EXAMPLE_DIR...]   (root; after setup.sh)
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
FAB=$1
shift
examples=("$@")
if ((${#examples[@]} == 0)); then
  for d in "$REPO"/examples/*/; do
    [ -f "$d/app.yaml" ] && examples+=("${d%/}")
  done
fi
# shellcheck source=/dev/null
. "${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}/env.sh"
BASE=$FABUILD_E2E_BASE_IMAGE
fail() { echo "!!! E2E FAILED (pins): $*" >&2; exit 1; }

WORK=$(mktemp -d /tmp/fabuild-e2e-pins.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/platform" "$WORK/ctx" "$WORK/meta"
PINS=$WORK/platform/pins.txt
# The newest uvicorn the rules assume, not the built-in 0.54.0: a stack the built-in table
# never tested.
UVICORN=${FABUILD_E2E_PINS_UVICORN:-0.55.0}
"$FAB" pins refresh --file "$PINS" "uvicorn==$UVICORN" || fail "fabuild pins refresh"
grep -q "^uvicorn  *$UVICORN " "$PINS" || fail "the refreshed file does not pin uvicorn $UVICORN"

args=()
for src in "${examples[@]}"; do
  name=$(basename "$src")
  dst=$WORK/ctx/$name
  cp -a "$src" "$dst"
  # Its own image name, so the images the main run built stay as they are.
  sed -i -e 's/^name: \(.*\)$/name: \1-pins/' -e "/^python:/a\\  pins: $PINS" "$dst/app.yaml"
  (cd "$dst" && "$FAB" gen --base-image "$BASE" app.yaml) >"$WORK/meta/$name.gen.log" 2>&1 \
    || { cat "$WORK/meta/$name.gen.log" >&2; fail "[$name] fabuild gen"; }
  (cd "$dst" && "$FAB" plan --base-image "$BASE" app.yaml) >"$WORK/meta/$name.plan.json" \
    || fail "[$name] fabuild plan"
  interface=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["interface"])' "$WORK/meta/$name.plan.json")
  if [ "$interface" = asgi ]; then
    python3 - "$WORK/meta/$name.plan.json" "$UVICORN" <<'PY' || fail "[$name] the plan does not install uvicorn $UVICORN"
import json, sys
pins = {p["name"]: p["version"] for p in json.load(open(sys.argv[1]))["server_pins"]}
sys.exit(0 if pins.get("uvicorn") == sys.argv[2] else 1)
PY
    grep -q "^uvicorn==$UVICORN " "$dst/requirements-server.txt" || fail "[$name] requirements-server.txt lacks uvicorn==$UVICORN"
  fi
  args+=("$dst=$WORK/meta/$name.plan.json")
done

# run.sh checks the installed versions against the plan's server_pins: the file's.
bash "$HERE/run.sh" --no-setup --rmi "${args[@]}"
echo "e2e (pins): ${#args[@]} examples built and served with $PINS (uvicorn $UVICORN)"
