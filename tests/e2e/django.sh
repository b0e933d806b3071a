#!/usr/bin/env bash
# Django projects made at test time by the real `django-admin startproject` (Django pinned
# with hashes, in a throwaway venv), taken through `fabuild init` -> `fabuild gen` ->
# buildah build (with and without --layers) -> podman run as the numeric user with a
# read-only root -> an HTTP probe of /admin/login/, which renders without touching the
# database (no session cookie, no query). No hand edit of what init writes.
#
#   startproject   the project as generated: init must set DJANGO_SETTINGS_MODULE and give
#                  the SQLite database a writable directory.
#   settings-pkg   the same moved to src/ with a settings package (base.py + production.py)
#                  whose SECRET_KEY comes from the environment, no default, and a
#                  STATIC_ROOT: collectstatic runs at build time with a placeholder key
#                  that never reaches the image's environment; the collected files are
#                  root's; `fabuild build` refuses the spec.
#
# Usage: bash tests/e2e/django.sh FABUILD_BIN   (after setup.sh; needs root)
set -Eeuo pipefail
FAB=$1
case $FAB in /*) ;; *) FAB=$PWD/$FAB ;; esac
# shellcheck source=/dev/null
. "${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}/env.sh"
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BASE=$FABUILD_E2E_BASE_IMAGE
WORK=$(mktemp -d /tmp/fabuild-e2e-django.XXXXXX)
cname=fabuild-e2e-django-$$
trap 'podman rm -f "$cname" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
passed=0 failed=0

cat >"$WORK/django-requirements.txt" <<'EOF'
Django==5.2.19 --hash=sha256:5965d974a5218a2b68a11dd1276434707f23886525c23f0598eccedaf4f4ca00
asgiref==3.13.0 --hash=sha256:f9596a2434512686473d50f96ff6207fbba49ae1a785dfac614df4aeb085674d
sqlparse==0.6.1 --hash=sha256:3be5a72d04c873d690d7c6dedd33d6fae2ef82759881ceec02fc2efd0cba564f
EOF
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes \
  -r "$WORK/django-requirements.txt" >"$WORK/venv.log" 2>&1 \
  || { cat "$WORK/venv.log"; echo "!!! E2E FAILED: cannot install Django for django-admin" >&2; exit 1; }

startproject() {
  mkdir -p "$1"
  (cd "$1" && "$WORK/venv/bin/django-admin" startproject mysite .)
  # What a user writes: the framework, pinned; the image resolves the rest.
  echo "Django==5.2.19" >"$1/requirements.txt"
}

# startproject moved to src/, its settings split into a package for production.
settings_package() {
  local dir=$1
  mkdir -p "$dir/src/mysite/settings"
  mv "$dir/mysite"/* "$dir/src/mysite/" && rmdir "$dir/mysite"
  sed 's/\.parent\.parent/.parent.parent.parent.parent/' "$dir/src/mysite/settings.py" >"$dir/src/mysite/settings/base.py"
  rm "$dir/src/mysite/settings.py"
  : >"$dir/src/mysite/settings/__init__.py"
  cat >"$dir/src/mysite/settings/production.py" <<'EOF'
import os

from .base import *  # noqa: F403

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
STATIC_ROOT = BASE_DIR / "staticfiles"  # noqa: F405
EOF
  sed -i "s/'mysite.settings'/'mysite.settings.production'/" "$dir/manage.py" "$dir/src/mysite/wsgi.py" "$dir/src/mysite/asgi.py"
}

# get IMAGE PORT [podman run args...]: sets $code to the status of GET /admin/login/.
get() {
  local image=$1 port=$2
  shift 2
  podman run -d --name "$cname" --network=host "$@" "$image" >/dev/null
  code=000
  for _ in $(seq 1 40); do
    code=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/admin/login/" || true)
    [ "$code" != 000 ] && break
    sleep 0.5
  done
  podman logs "$cname" >"$WORK/serve.log" 2>&1 || true
  podman rm -f "$cname" >/dev/null
}

check() {
  local name=$1 why=$2
  if [ -n "$why" ]; then
    failed=$((failed + 1)); echo "    [FAIL] django $name: $why"
  else
    passed=$((passed + 1)); echo "    [ok  ] django $name"
  fi
}

for project in startproject settings-pkg; do
  dir=$WORK/$project
  startproject "$dir"
  [ "$project" = startproject ] || settings_package "$dir"
  why=""
  if ! (cd "$dir" && "$FAB" init . >"$WORK/$project.init.log" 2>&1 && "$FAB" gen --base-image "$BASE" app.yaml >"$WORK/$project.gen.log" 2>&1); then
    check "$project" "init/gen failed: $(tail -3 "$WORK/$project".*.log | tr '\n' ' ')"; continue
  fi
  grep -q '^  DJANGO_SETTINGS_MODULE: mysite.settings' "$dir/app.yaml" \
    || why="app.yaml sets no DJANGO_SETTINGS_MODULE"
  plan=$("$FAB" plan --base-image "$BASE" "$dir/app.yaml")
  port=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["port"])' <<<"$plan")
  writable=$(python3 -c 'import json,sys; [print("--tmpfs=%s:rw,mode=0750,U" % d["path"]) for d in json.load(sys.stdin)["writable"]]' <<<"$plan")
  tmpfs=()
  [ -z "$writable" ] || mapfile -t tmpfs <<<"$writable"
  for layers in --layers=true --layers=false; do
    image=localhost/fabuild-e2e-django/$project:${layers#--layers=}
    if [ -n "$why" ]; then break; fi
    if ! e2e_buildah_build "$WORK/$project.build.log" "$image" "$dir" "$layers"; then
      why="build $layers failed: $(tail -3 "$WORK/$project.build.log" | tr '\n' ' ')"; break
    fi
    owner=$(podman run --rm --entrypoint stat "$image" -c '%u:%g %a' /app)
    [ "$owner" = "0:0 755" ] || { why="$layers: /app is $owner, want 0:0 755"; break; }
    env_args=()
    [ "$project" = startproject ] || env_args=(-e DJANGO_SECRET_KEY=e2e-run-time-key)
    get "$image" "$port" --read-only --tmpfs=/tmp "${tmpfs[@]}" "${env_args[@]}"
    if [ "$code" != 200 ]; then
      why="$layers: GET /admin/login/ answered $code, want 200: $(grep -E 'Error|error' "$WORK/serve.log" | head -3 | tr '\n' ' ')"; break
    fi
    if grep -qE 'Traceback|Worker failed to boot|Control server error' "$WORK/serve.log"; then
      why="$layers: the logs show a failure: $(grep -E 'Traceback|Error' "$WORK/serve.log" | head -3 | tr '\n' ' ')"; break
    fi
  done
  if [ -z "$why" ] && [ "$project" = settings-pkg ]; then
    image=localhost/fabuild-e2e-django/$project:true
    grep -q '^  collectstatic: true' "$dir/app.yaml" || why="app.yaml has no collectstatic"
    env=$(podman image inspect --format '{{json .Config.Env}}' "$image")
    case $env in *SECRET_KEY*) why="the image's environment holds a secret key: $env" ;; esac
    static=$(podman run --rm --entrypoint stat "$image" -c '%u:%g %a' /app/staticfiles/admin/css/base.css 2>&1 || true)
    [ "$static" = "0:0 644" ] || why="${why:-collected admin/css/base.css is $static, want 0:0 644}"
    if podman run --rm --entrypoint /opt/venv/bin/python "$image" -c 'open("/app/staticfiles/x", "w")' >/dev/null 2>&1; then
      why="${why:-the user of the image can write STATIC_ROOT}"
    fi
    if out=$("$FAB" build "$dir/app.yaml" --base "$WORK/none" --out "$WORK/img" 2>&1) \
        || [[ $out != *"app.collectstatic runs the project's code"* ]]; then
      why="${why:-fabuild build did not refuse collectstatic: $out}"
    fi
  fi
  check "$project" "$why"
done
echo "django e2e: $passed passed, $failed failed"
((failed == 0))
