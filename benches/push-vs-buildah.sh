#!/usr/bin/env bash
# Benchmark (not a test): build + push through a real registry, `fabuild build --push`
# against `buildah build && buildah push` of the Dockerfile `fabuild gen` writes. Same
# example, same base, same registry (Debian's docker-registry, TLS, htpasswd, loopback), in
# one run, alternating the two tools round by round.
#
#   cold   buildah: --no-cache and an empty installer cache mount (buildah keeps cache
#          mounts under $TMPDIR/buildah-cache: a private TMPDIR, emptied), then push to a
#          new repository; the base is in local storage (--pull=never).
#          fabuild: an empty cache, the base pulled by reference from the registry (as a
#          CI job does), then push to a new repository. pip's HTTP cache is off
#          (PIP_NO_CACHE_DIR) for fabuild's pip; buildah's pip caches in the emptied mount.
#          Neither tool starts with a downloaded wheel, as on a fresh CI runner.
#   code   one line appended to main.py, warm caches, push to the same repository again.
#          fabuild's uploaded bytes are read from its push note.
# Prints one markdown table of medians and buildah/fabuild ratios.
#
# Usage: benches/push-vs-buildah.sh [FABUILD_BIN] [EXAMPLE_DIR]
#   BENCH_ROUNDS (default 3), BENCH_REGISTRY_PORT (default 18670)
#   BENCH_BEFORE=BIN: also a cold build + push by another fabuild each round (an earlier
#   commit's), with the sizes of both dependency layers, to compare in the same run.
# Needs root, the e2e state (tests/e2e/setup.sh), docker-registry, htpasswd, network to PyPI.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
FAB=${1:-$repo/target/release/fabuild}
case $FAB in /*) ;; *) FAB=$PWD/$FAB ;; esac
SRC=${2:-$repo/examples/fastapi-tls}
ROUNDS=${BENCH_ROUNDS:-3}
PORT=${BENCH_REGISTRY_PORT:-18670}
HOST=127.0.0.1:$PORT
bash tests/e2e/setup.sh </dev/null >/dev/null
# shellcheck source=/dev/null
. "${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}/env.sh"
BASE=$FABUILD_E2E_BASE_IMAGE
export PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORK=$(mktemp -d /tmp/fabuild-bench-push.XXXXXX)
B_IMG=localhost/fabuild-bench/buildah-push:bench
REG_PID=
cleanup() {
  if [ -n "$REG_PID" ]; then
    kill "$REG_PID" 2>/dev/null || true
    wait "$REG_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  podman rmi -f "$B_IMG" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# The registry: TLS from a CA made here, htpasswd auth.
(
  cd "$WORK"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench-ca -keyout ca.key -out ca.pem 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout key.pem -out srv.csr 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' >ext
  openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext -out cert.pem 2>/dev/null
  mkdir certs && cp ca.pem certs/ca.crt
  htpasswd -Bbc htpasswd bench bench-pass 2>/dev/null
  printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: %s\n  tls:\n    certificate: %s/cert.pem\n    key: %s/key.pem\nauth:\n  htpasswd:\n    realm: bench\n    path: %s/htpasswd\n' \
    "$WORK" "$HOST" "$WORK" "$WORK" "$WORK" >config.yml
)
docker-registry serve "$WORK/config.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
until (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do sleep 0.1; done
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$HOST" "$(printf 'bench:bench-pass' | base64 -w0)" >"$WORK/auth.json"
export REGISTRY_AUTH_FILE=$WORK/auth.json
BASE_REF=$HOST/base/python:bookworm
skopeo copy --quiet --dest-cert-dir "$WORK/certs" --dest-creds bench:bench-pass \
  "containers-storage:$BASE" "docker://$BASE_REF" >/dev/null

ctx=$WORK/ctx
cp -a "$SRC" "$ctx"
(cd "$ctx" && "$FAB" gen --base-image "$BASE" app.yaml >/dev/null)

now() { date +%s.%N; }
declare -A T
record() { T[$1]+="$2 "; }
timed() { # NAME CMD...: runs CMD, records its wall time under NAME
  local name=$1 t0 t1
  shift
  t0=$(now)
  "$@" >"$WORK/last.log" 2>&1 || { tail -30 "$WORK/last.log" >&2; echo "!!! $name failed" >&2; exit 1; }
  t1=$(now)
  record "$name" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
}
buildah_build_push() { # REPO [buildah build flags]
  local target=$1
  shift
  TMPDIR=$WORK/buildah-tmp buildah build --isolation=chroot --network=host --pull=never --layers "$@" \
    --secret id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt \
    -f "$ctx/Dockerfile" -t "$B_IMG" "$ctx" \
    && buildah push --cert-dir "$WORK/certs" --creds bench:bench-pass "$B_IMG" "docker://$target"
}
fabuild_build_push() { # REPO [BIN]
  "${2:-$FAB}" build "$ctx/app.yaml" --base "$BASE_REF" --base-image "$BASE" --out "$WORK/fab" \
    --cache-dir "$WORK/cache" --registry-ca "$WORK/ca.pem" --push "$1"
}

deps_size() { # the size of the layout's dependency layer (the first layer after the base's)
  python3 -c 'import json,sys
d=sys.argv[1]; i=json.load(open(d+"/index.json"))["manifests"][0]["digest"].split(":")[1]
m=json.load(open(d+"/blobs/sha256/"+i)); print(m["layers"][-3]["size"])' "$WORK/fab"
}

for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r/$ROUNDS" >&2
  rm -rf "$WORK/buildah-tmp" && mkdir "$WORK/buildah-tmp"
  timed buildah_cold buildah_build_push "$HOST/bench/buildah-$r:cold" --no-cache
  rm -rf "$WORK/cache"
  timed fabuild_cold fabuild_build_push "$HOST/bench/fabuild-$r:cold"
  record deps_layer_bytes "$(deps_size)"
  if [ -n "${BENCH_BEFORE:-}" ]; then
    rm -rf "$WORK/cache" "$WORK/fab"
    timed before_cold fabuild_build_push "$HOST/bench/before-$r:cold" "$BENCH_BEFORE"
    record before_deps_layer_bytes "$(deps_size)"
    # The rounds' code builds start from the binary under test's own output and cache.
    rm -rf "$WORK/cache" "$WORK/fab"
    fabuild_build_push "$HOST/bench/fabuild-$r:cold" >/dev/null 2>&1
  fi
  echo "# bench round $r" >>"$ctx/main.py"
  timed buildah_code buildah_build_push "$HOST/bench/buildah-$r:code"
  timed fabuild_code fabuild_build_push "$HOST/bench/fabuild-$r:code"
  record fabuild_code_bytes "$(sed -n 's/.*uploaded (\([0-9]*\) bytes).*/\1/p' "$WORK/last.log")"
  record fabuild_code_blobs "$(sed -n 's/.*: \([0-9]*\) blobs\{0,1\} uploaded.*/\1/p' "$WORK/last.log")"
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", b / a }'; }
app=$(python3 -c 'import json,sys
d=sys.argv[1]; i=json.load(open(d+"/index.json"))["manifests"][0]["digest"].split(":")[1]
m=json.load(open(d+"/blobs/sha256/"+i)); print(m["layers"][-1]["size"] + m["config"]["size"])' "$WORK/fab")
echo
echo "| measure | buildah build && buildah push | fabuild build --push | buildah / fabuild |"
echo "| --- | --- | --- | --- |"
for m in cold code; do
  b=$(median <<<"${T[buildah_$m]}")
  f=$(median <<<"${T[fabuild_$m]}")
  echo "| $m build + push (median of $ROUNDS, s) | $b | $f | $(ratio "$f" "$b") |"
done
if [ -n "${BENCH_BEFORE:-}" ]; then
  b=$(median <<<"${T[before_cold]}")
  f=$(median <<<"${T[fabuild_cold]}")
  echo "| cold build + push, $BENCH_BEFORE (median, s) | | $b | $(ratio "$b" "$(median <<<"${T[buildah_cold]}")") (this fabuild / that one: $(awk -v a="$f" -v b="$b" 'BEGIN { printf "%.2fx", a / b }')) |"
  echo "| dependency layer (bytes) | | $(median <<<"${T[deps_layer_bytes]}") (that one: $(median <<<"${T[before_deps_layer_bytes]}")) | |"
fi
echo "| code: fabuild uploaded (median) | | $(median <<<"${T[fabuild_code_blobs]}") blobs, $(median <<<"${T[fabuild_code_bytes]}") bytes (app layer + config: $app bytes) | |"
echo
echo "raw (s): $(for k in "${!T[@]}"; do printf '%s=[%s] ' "$k" "${T[$k]% }"; done)"
