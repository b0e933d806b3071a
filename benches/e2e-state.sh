# Sourced (at the top level) by the benches that build with the e2e suite's engine and
# base: `. "$HERE/e2e-state.sh" NAME ENGINES` with REPO set. As root, standard input
# closed, the e2e state made (tests/e2e/setup.sh) and sourced with tests/e2e/lib.sh;
# BASE is the e2e base image.
[ "$(id -u)" = 0 ] || { echo "benches/$1 needs root ($2)" >&2; exit 1; }
exec </dev/null
bash "$REPO/tests/e2e/setup.sh" >/dev/null 2>&1
# shellcheck source=/dev/null
. "${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}/env.sh"
# shellcheck source=tests/e2e/lib.sh
. "$REPO/tests/e2e/lib.sh"
BASE=$FABUILD_E2E_BASE_IMAGE
