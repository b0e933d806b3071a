#!/usr/bin/env bash
# `fabuild init` then `fabuild gen` on the init fixtures, built and run for real: the
# generated files must build with buildah, and the container must serve its app as the
# numeric user (an HTTP answer from the app on the planned port, no traceback, no worker
# boot failure). The fixtures are a few lines each, so each names the path to request.
#
# Usage: bash tests/e2e/init.sh FABUILD_BIN   (after setup.sh; needs root)
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
FAB=$1
case $FAB in /*) ;; *) FAB=$PWD/$FAB ;; esac
# shellcheck source=/dev/null
. "${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}/env.sh"
BASE=$FABUILD_E2E_BASE_IMAGE
WORK=$(mktemp -d /tmp/fabuild-e2e-init.XXXXXX)
cname=fabuild-e2e-init-$$
trap 'podman rm -f "$cname" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
passed=0 failed=0
mount=() curl_tls=()

# serve FIXTURE PORT PATH [podman run args...]: runs the fixture's image, sets $code to the
# HTTP status of GET PATH (000: no answer in 20 s) and leaves the logs in $WORK/FIXTURE.log.
# Over TLS when $curl_tls holds curl's arguments for it (set by tls_mount).
serve() {
  local fixture=$1 port=$2 path=$3 scheme=http
  shift 3
  [ "${#curl_tls[@]}" -eq 0 ] || scheme=https
  podman run -d --name "$cname" --network=host "$@" "localhost/fabuild-e2e-init/$fixture:e2e" >/dev/null
  code=000
  for _ in $(seq 1 40); do
    code=$(curl -s --noproxy '*' "${curl_tls[@]}" -o /dev/null -w '%{http_code}' --max-time 2 "$scheme://127.0.0.1:$port$path" || true)
    [ "$code" != 000 ] && break
    sleep 0.5
  done
  podman logs "$cname" >"$WORK/$fixture.log" 2>&1 || true
  podman rm -f "$cname" >/dev/null
}

# tls_mount PLAN_JSON FIXTURE: when the plan serves TLS, makes a key, a certificate for
# 127.0.0.1 and a CA bundle under the names the plan gives, owned as a Kubernetes secret
# volume with fsGroup would be (root, the app's gid, 0440), and sets $mount to mount them
# read-only at tls.dir and $curl_tls to trust the certificate. Otherwise clears both.
tls_mount() {
  mount=() curl_tls=()
  local tls
  tls=$(python3 -c 'import json,sys; t=json.load(sys.stdin)["tls"]; print(t and " ".join([t["dir"], t["keyfile"], t["certfile"], t["ca_certs"] or "-"]) or "")' <<<"$1")
  [ -n "$tls" ] || return 0
  local dir key cert ca certs=$WORK/$2.certs gid
  read -r dir key cert ca <<<"$tls"
  gid=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["gid"])' <<<"$1")
  mkdir -p "$certs"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
    -keyout "$certs/${key#"$dir"/}" -out "$certs/${cert#"$dir"/}" >"$WORK/$2.openssl.log" 2>&1
  [ "$ca" = - ] || cp "$certs/${cert#"$dir"/}" "$certs/${ca#"$dir"/}"
  chown "0:$gid" "$certs"/*.pem
  chmod 0440 "$certs"/*.pem
  chmod 0755 "$certs"
  mount=(-v "$certs:$dir:ro")
  curl_tls=(--cacert "$certs/${cert#"$dir"/}")
}

# fixture  path  status the app answers there  package==version the image must hold (or -)
# [init flags...]
cases=(
  "fastapi-main /healthz 200 -"
  "fastapi-app-main /docs 200 -"
  "flask-app / 200 -"
  # The Flask tutorial's factory creates app.instance_path at start: init must find it and
  # make it writable (app.writable), or every worker dies with PermissionError.
  "flask-factory /hello 200 -"
  "flask-factory-wsgi /hello 200 -"
  "django / 404 -"
  "starlette / 200 -"
  "bottle / 200 -"
  "falcon /healthz 200 -"
  "litestar / 200 -"
  "quart / 200 -"
  "src-layout /docs 200 -"
  # pyproject.toml without a lock (python.project): resolved as of --exclude-newer. Flask
  # 3.1.1 came out on 2025-05-13, so a resolution dated 2025-03-01 must give 3.1.0.
  "pep621 / 200 flask==3.1.0 --exclude-newer 2025-03-01"
  "poetry /docs 200 -"
  "uv-lock / 200 -"
  # gunicorn.conf.py: init carries its port (8080) into app.yaml; the image still loads the
  # file (its post_fork hook logs each worker), which is what FAB029 warns about.
  "gunicorn-conf /orders 200 -"
  # gunicorn.conf.py with TLS files in /opt/key: init makes that directory the tls mount;
  # the image serves HTTPS from the key and certificate mounted there (and the CA bundle
  # the file names, which gunicorn loads at start).
  "gunicorn-conf-tls /healthz 200 -"
)
# Fixtures whose container log must hold a line, and why.
declare -A log_shows=([gunicorn-conf]="forked")
for case in "${cases[@]}"; do
  read -r fixture path want holds flags <<<"$case"
  dir=$WORK/$fixture
  cp -a "$REPO/tests/fixtures/init/$fixture" "$dir"
  why=""
  if ! (cd "$dir" && "$FAB" init . ${flags:-} >"$WORK/$fixture.init.log" 2>&1 && "$FAB" gen --base-image "$BASE" app.yaml >"$WORK/$fixture.gen.log" 2>&1); then
    why="init/gen failed: $(tail -3 "$WORK/$fixture".*.log | tr '\n' ' ' || true)"
  elif ! buildah build --isolation=chroot --network=host --pull=never --layers \
      --secret id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt -t "localhost/fabuild-e2e-init/$fixture:e2e" "$dir" \
      >"$WORK/$fixture.build.log" 2>&1; then
    why="build failed: $(tail -3 "$WORK/$fixture.build.log" | tr '\n' ' ' || true)"
  else
    plan=$("$FAB" plan "$dir/app.yaml")
    port=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["port"])' <<<"$plan")
    tls_mount "$plan" "$fixture"
    serve "$fixture" "$port" "$path" "${mount[@]}"
    if [ "$code" != "$want" ]; then
      why="GET $path answered $code, want $want: $(grep -E 'Error|error' "$WORK/$fixture.log" | head -3 | tr '\n' ' ' || true)"
    elif grep -qE 'Traceback|Worker failed to boot|Control server error' "$WORK/$fixture.log"; then
      why="the logs show a failure: $(grep -E 'Traceback|Error' "$WORK/$fixture.log" | head -3 | tr '\n' ' ' || true)"
    fi
    if [ -z "$why" ] && [ -n "${log_shows[$fixture]:-}" ] && ! grep -q "${log_shows[$fixture]}" "$WORK/$fixture.log"; then
      why="the container log has no '${log_shows[$fixture]}': $(tail -3 "$WORK/$fixture.log" | tr '\n' ' ')"
    fi
    if [ -z "$why" ] && [ "$holds" != - ]; then
      have=$(podman run --rm --entrypoint /opt/venv/bin/python "localhost/fabuild-e2e-init/$fixture:e2e" \
        -c "import importlib.metadata as m; print('${holds%%==*}==' + m.version('${holds%%==*}'))" 2>&1 || true)
      [ "$have" = "$holds" ] || why="the image holds $have, want $holds"
    fi
    # app.writable: with a read-only root filesystem (as compose and Kubernetes run it), the
    # app works when each writable directory is a volume owned by its uid (podman's `U` does
    # what compose.yaml's uid=/gid= options do under Docker); without the volumes the
    # preflight stops it with one line.
    writable=$(python3 -c 'import json,sys; p=json.load(sys.stdin); [print("--tmpfs=%s:rw,mode=0750,U" % d["path"]) for d in p["writable"]]' <<<"$plan")
    tmpfs=()
    [ -z "$writable" ] || mapfile -t tmpfs <<<"$writable"
    if [ -z "$why" ] && [ "${#tmpfs[@]}" -gt 0 ]; then
      serve "$fixture" "$port" "$path" --read-only --tmpfs=/tmp "${tmpfs[@]}" "${mount[@]}"
      if [ "$code" != "$want" ]; then
        why="read-only with ${tmpfs[*]}: GET $path answered $code, want $want: $(grep -E 'Error' "$WORK/$fixture.log" | head -3 | tr '\n' ' ' || true)"
      else
        podman run --name "$cname" --network=host --read-only --tmpfs=/tmp "localhost/fabuild-e2e-init/$fixture:e2e" >"$WORK/$fixture.ro.log" 2>&1 && rc=0 || rc=$?
        podman rm -f "$cname" >/dev/null
        if [ "$rc" != 78 ] || ! grep -q '(app.writable) is on a read-only filesystem; mount a volume there' "$WORK/$fixture.ro.log"; then
          why="read-only without the volumes: exit $rc, want 78 from the preflight: $(head -3 "$WORK/$fixture.ro.log" | tr '\n' ' ')"
        else
          echo "    [ok  ] init $fixture: read-only root: serves with ${tmpfs[*]}; without: $(cat "$WORK/$fixture.ro.log")"
        fi
      fi
    fi
  fi
  if [ -n "$why" ]; then
    failed=$((failed + 1)); echo "    [FAIL] init $fixture: $why"
  else
    passed=$((passed + 1)); echo "    [ok  ] init $fixture: init, gen, build, GET $path -> $want${curl_tls:+ over TLS} as $(grep -o '^USER [0-9:]*' "$dir/Dockerfile")"
  fi
done
echo "init e2e: $passed passed, $failed failed"
((failed == 0))
