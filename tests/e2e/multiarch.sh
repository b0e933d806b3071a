#!/usr/bin/env bash
# fabuild build --platform linux/amd64,linux/arm64 for real: one image index, the arm64
# image run by podman under qemu (binfmt_misc) as the numeric user and answering 200.
#
# Usage: bash tests/e2e/multiarch.sh FABUILD_BIN [EXAMPLE_DIR...]
#   EXAMPLE_DIR default: examples/flask-http (WSGI) and examples/asgi-proxy (ASGI)
#
#   1. setup.sh and setup-arm64.sh: the amd64 and arm64 bookworm bases (the arm64 one made
#      without running arm64 code), exported as OCI layouts with skopeo; a third layout
#      holds both as one multi-platform index, as `skopeo copy --all` of a registry base has;
#   2. per example: fabuild build --platform linux/amd64,linux/arm64 --sbom
#      --check-reproducible from the two single-platform bases, and again from the one
#      index base: the same index digest; index.json names an image index of two
#      manifests, both naming the same app layer, the arm64 config says arm64/v8, one SBOM
#      artifact per manifest; an arm64-only build whose bytecode the arm64 interpreter
#      compiled under qemu gives the very dependency layer the two-platform build compiled
#      natively (bytecode does not depend on the machine);
#   3. fabuild verify checks both images (machine: e_machine 62 and 183);
#   4. skopeo inspect --raw sees the index; the arm64 image is copied to podman's storage and
#      run with --platform linux/arm64: 200 on the first request, uname -m and
#      platform.machine() say aarch64, the workers run as the spec's uid:gid; the amd64
#      image the same, natively;
#   5. through a real registry (distribution, TLS): the two-platform base pushed with
#      `skopeo copy --all`, `fabuild build --base REF --platform ... --push REF`: both
#      platforms pulled by reference, the index pushed, skopeo inspect --raw on the
#      registry lists both platforms; the base pinned by its index's digest builds too.
# Needs root and the e2e state. Ports: 18611.. for the apps, 18620 for the registry.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
FAB=${1:?usage: multiarch.sh FABUILD_BIN [EXAMPLE_DIR...]}
shift
case $FAB in /*) ;; *) FAB=$PWD/$FAB ;; esac
examples=("$@")
((${#examples[@]})) || examples=("$REPO/examples/flask-http" "$REPO/examples/asgi-proxy")
START_TIMEOUT=${FABUILD_E2E_START_TIMEOUT:-60}
# Under qemu an interpreter starts about ten times slower.
EMULATED_TIMEOUT=${FABUILD_E2E_EMULATED_TIMEOUT:-240}
REG_PORT=${FABUILD_E2E_MULTIARCH_REGISTRY_PORT:-18620}

bash "$HERE/setup.sh" </dev/null >/dev/null || { echo "!!! E2E FAILED in setup.sh" >&2; exit 1; }
bash "$HERE/setup-arm64.sh" </dev/null || { echo "!!! E2E FAILED in setup-arm64.sh (see above)" >&2; exit 1; }
STATE=${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}
# shellcheck source=/dev/null
. "$STATE/env.sh"
# shellcheck source=/dev/null
. "$STATE/env-arm64.sh"
BASE=$FABUILD_E2E_BASE_IMAGE
BASE_ARM=$FABUILD_E2E_BASE_IMAGE_ARM64

WORK=$(mktemp -d /tmp/fabuild-e2e-multiarch.XXXXXX)
CNAME=fabuild-e2e-multiarch-$$
REG_PID=
cleanup() {
  podman rm -f -t 0 "$CNAME" >/dev/null 2>&1 || true
  [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { printf '[e2e-multiarch %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
trap 'die "${name:-setup}" "command failed (exit $?): $BASH_COMMAND"' ERR
die() { trap - ERR; printf '\n!!!!!!!! E2E FAILED: [multiarch %s] %s\n\n' "$1" "$2" >&2; exit 1; }
field() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print("" if v is None else v)' "$@"; }

log "export $BASE and $BASE_ARM as OCI layouts"
skopeo copy --quiet "containers-storage:$BASE" "oci:$WORK/base-amd64:base" >/dev/null
skopeo copy --quiet "containers-storage:$BASE_ARM" "oci:$WORK/base-arm64:base" >/dev/null
# One layout whose index lists both platforms (what a registry's multi-platform base is).
mkdir -p "$WORK/base-both/blobs/sha256"
cp -a "$WORK"/base-amd64/blobs/sha256/. "$WORK"/base-arm64/blobs/sha256/. "$WORK/base-both/blobs/sha256/"
cp "$WORK/base-amd64/oci-layout" "$WORK/base-both/"
python3 - "$WORK" <<'PY'
import hashlib, json, sys
work = sys.argv[1]
def entry(layout, platform):
    d = json.load(open(f"{work}/{layout}/index.json"))["manifests"][0]
    return {"mediaType": d["mediaType"], "digest": d["digest"], "size": d["size"], "platform": platform}
index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                    "manifests": [entry("base-amd64", {"os": "linux", "architecture": "amd64"}),
                                  entry("base-arm64", {"os": "linux", "architecture": "arm64", "variant": "v8"})]}).encode()
hex = hashlib.sha256(index).hexdigest()
open(f"{work}/base-both/blobs/sha256/{hex}", "wb").write(index)
json.dump({"schemaVersion": 2, "manifests": [{
    "mediaType": "application/vnd.oci.image.index.v1+json", "digest": f"sha256:{hex}", "size": len(index),
    "annotations": {"org.opencontainers.image.ref.name": "base"}}]},
    open(f"{work}/base-both/index.json", "w"))
PY

port=18610
for src in "${examples[@]}"; do
  name=$(basename "$src")
  port=$((port + 1))
  ctx=$WORK/ctx/$name
  mkdir -p "$WORK/ctx"
  cp -a "$src" "$ctx"
  sed -i "s/^  port: [0-9]*\$/  port: $port/" "$ctx/app.yaml"
  "$FAB" plan --base-image "$BASE" "$ctx/app.yaml" >"$WORK/$name.plan.json"
  uid=$(field "$WORK/$name.plan.json" uid)
  gid=$(field "$WORK/$name.plan.json" gid)
  [ "$(field "$WORK/$name.plan.json" port)" = "$port" ] || die "$name" "the plan does not serve on $port"

  # 2. Two platforms from the two single-platform bases, reproducibly.
  log "[$name] fabuild build --platform linux/amd64,linux/arm64 (two bases)"
  "$FAB" build "$ctx/app.yaml" --platform linux/amd64,linux/arm64 \
    --base "$WORK/base-amd64" --base "$WORK/base-arm64" --out "$WORK/$name.oci" --tag e2e \
    --base-image "$BASE" --cache-dir "$WORK/cache" --sbom "$WORK/$name.sbom.json" \
    --check-reproducible >"$WORK/$name.build" 2>"$WORK/$name.build.err" \
    || { cat "$WORK/$name.build" "$WORK/$name.build.err" >&2; die "$name" "the two-platform build failed"; }
  grep -q '^reproducible:' "$WORK/$name.build" || die "$name" "no reproducible: line"
  index=$(sed -n 's/^index //p' "$WORK/$name.build" | head -1)
  [ -n "$index" ] || { cat "$WORK/$name.build" >&2; die "$name" "no index digest printed"; }
  grep -q "linux/arm64/v8: bytecode compiled by the linux/amd64 base's Python" "$WORK/$name.build.err" \
    || { cat "$WORK/$name.build.err" >&2; die "$name" "the arm64 bytecode was not compiled natively"; }

  log "[$name] again from one base index"
  "$FAB" build "$ctx/app.yaml" --platform linux/amd64,linux/arm64 --base "$WORK/base-both" \
    --out "$WORK/$name.from-index.oci" --tag e2e --base-image "$BASE" --no-cache >"$WORK/$name.build2" 2>&1 \
    || { cat "$WORK/$name.build2" >&2; die "$name" "the build from the base index failed"; }
  again=$(sed -n 's/^index //p' "$WORK/$name.build2")
  [ "$again" = "$index" ] || die "$name" "from the base index: $again, from two bases: $index"

  python3 - "$WORK/$name.oci" "$index" <<'PY' || die "$name" "the layout is not one index of two platforms sharing the app layer"
import json, sys
out, index = sys.argv[1:]
blob = lambda d: json.load(open(f"{out}/blobs/sha256/{d.split(':', 1)[1]}"))
top = json.load(open(f"{out}/index.json"))["manifests"]
assert top[0]["mediaType"] == "application/vnd.oci.image.index.v1+json", top[0]
assert top[0]["digest"] == index, (top[0], index)
assert top[0]["annotations"]["org.opencontainers.image.ref.name"] == "e2e"
images = blob(index)["manifests"]
platforms = [m["platform"] for m in images]
assert platforms == [{"os": "linux", "architecture": "amd64"},
                     {"os": "linux", "architecture": "arm64", "variant": "v8"}], platforms
manifests = [blob(m["digest"]) for m in images]
apps = {m["layers"][-1]["digest"] for m in manifests}
assert len(apps) == 1, f"the app layers differ: {apps}"
deps = {m["layers"][-3]["digest"] for m in manifests}
assert len(deps) == 2, "one dependency layer for both machines"
configs = [blob(m["config"]["digest"]) for m in manifests]
assert (configs[0]["architecture"], configs[0].get("variant")) == ("amd64", None)
assert (configs[1]["architecture"], configs[1]["variant"]) == ("arm64", "v8")
subjects = sorted(blob(m["digest"])["subject"]["digest"] for m in top[1:])
assert subjects == sorted(m["digest"] for m in images), "one SBOM per manifest"
print(f"index {index}: amd64 {images[0]['digest'][:19]}, arm64 {images[1]['digest'][:19]}, app layer {apps.pop()[:19]} shared")
PY
  for arch in amd64 arm64; do
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["bomFormat"]=="CycloneDX"' \
      "$WORK/$name.sbom.$arch.json" || die "$name" "no CycloneDX SBOM at $name.sbom.$arch.json"
  done

  # Bytecode does not depend on the machine: the arm64 interpreter, run under qemu,
  # compiles the same bytes as the amd64 one did for the two-platform build.
  log "[$name] arm64 alone, its bytecode compiled by the arm64 interpreter under qemu"
  "$FAB" build "$ctx/app.yaml" --platform linux/arm64 --base "$WORK/base-arm64" \
    --out "$WORK/$name.arm64.oci" --tag e2e --base-image "$BASE" --no-cache >"$WORK/$name.build3" 2>&1 \
    || { cat "$WORK/$name.build3" >&2; die "$name" "the arm64-only build failed"; }
  grep -q "run through the kernel's binfmt_misc handler (emulated)" "$WORK/$name.build3" \
    || { cat "$WORK/$name.build3" >&2; die "$name" "the arm64-only build did not compile under emulation"; }
  emulated=$(awk '$1 == "dependencies" { print $2 }' "$WORK/$name.build3")
  native=$(awk '/^linux\/arm64/ { on = 1 } on && $1 == "dependencies" { print $2; exit }' "$WORK/$name.build")
  [ -n "$native" ] && [ "$emulated" = "$native" ] \
    || die "$name" "arm64 dependency layer: $emulated compiled emulated, $native compiled natively"
  log "[$name] arm64 dependency layer $native either way"

  # 3. verify: both images, each extension module for its machine.
  "$FAB" verify "$ctx/app.yaml" --image "$WORK/$name.oci" --base-image "$BASE" >"$WORK/$name.verify" \
    || { cat "$WORK/$name.verify" >&2; die "$name" "verify failed"; }
  grep -q "are x86_64 ELF (e_machine 62), as the image's architecture amd64" "$WORK/$name.verify" \
    && grep -q "are aarch64 ELF (e_machine 183), as the image's architecture arm64" "$WORK/$name.verify" \
    || { cat "$WORK/$name.verify" >&2; die "$name" "verify did not check both machines"; }

  # 4. skopeo sees the index; podman runs each platform.
  raw=$(skopeo inspect --raw "oci:$WORK/$name.oci:e2e")
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["mediaType"].endswith("image.index.v1+json"); print(" ".join(m["platform"]["architecture"] for m in d["manifests"]))' "$raw" \
    | grep -qx "amd64 arm64" || die "$name" "skopeo inspect --raw: $raw"
  for arch in arm64 amd64; do
    ref=localhost/fabuild-multiarch/$name:$arch
    variant=(); [ "$arch" = arm64 ] && variant=(--override-variant v8)
    skopeo copy --quiet --override-arch "$arch" "${variant[@]}" "oci:$WORK/$name.oci:e2e" \
      "containers-storage:$ref" >/dev/null
    [ "$(podman image inspect -f '{{.Architecture}}' "$ref")" = "$arch" ] || die "$name" "$ref is not $arch"
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      die "$name" "something already listens on 127.0.0.1:$port"
    fi
    log "[$name] podman run --platform linux/$arch"
    podman run -d --name "$CNAME" --platform "linux/$arch" --network=host "$ref" >/dev/null 2>"$WORK/run.err" \
      || { cat "$WORK/run.err" >&2; die "$name" "podman run $arch failed"; }
    limit=$START_TIMEOUT; [ "$arch" = arm64 ] && limit=$EMULATED_TIMEOUT
    code="" started=$(date +%s)
    while :; do
      code=$(curl -sS --noproxy '*' -o "$WORK/$name.body" -w '%{http_code}' --max-time 5 \
        "http://127.0.0.1:$port/" 2>/dev/null || true)
      [ "$code" = 200 ] && break
      if [ "$(podman inspect -f '{{.State.Running}}' "$CNAME")" != true ] || (($(date +%s) - started >= limit)); then
        podman logs "$CNAME" 2>&1 | tail -30 >&2
        die "$name" "$arch: no 200 from http://127.0.0.1:$port/ (last code '$code', logs above)"
      fi
      sleep 0.5
    done
    machine=$(podman exec "$CNAME" sh -c 'uname -m; /opt/venv/bin/python -c "import platform; print(platform.machine())"; echo "$(id -u):$(id -g)"' | tr '\n' ' ')
    want=x86_64; [ "$arch" = arm64 ] && want=aarch64
    [ "$machine" = "$want $want $uid:$gid " ] || die "$name" "$arch: uname -m, platform.machine(), id say '$machine', want '$want $want $uid:$gid'"
    pid1=$(podman exec "$CNAME" sh -c 'stat -c %u:%g /proc/1')
    [ "$pid1" = "$uid:$gid" ] || die "$name" "$arch: PID 1 runs as $pid1"
    log "[$name] $arch: 200 after $(($(date +%s) - started)) s; uname -m and platform.machine() $want; runs as $uid:$gid"
    podman rm -f -t 10 "$CNAME" >/dev/null
    podman rmi -f "$ref" >/dev/null 2>&1 || true
  done
done

# 5. Through a registry: the base index pulled by reference, the image index pushed.
HOST=127.0.0.1:$REG_PORT
if (exec 3<>"/dev/tcp/127.0.0.1/$REG_PORT") 2>/dev/null; then die registry "something already listens on $HOST"; fi
command -v docker-registry >/dev/null || apt-get -o DPkg::Lock::Timeout=900 install -y -q docker-registry >/dev/null
name=registry
(
  cd "$WORK"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=fabuild-e2e-ca -keyout ca.key -out ca.pem 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout key.pem -out srv.csr 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' >ext
  openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext -out cert.pem 2>/dev/null
  mkdir certs && cp ca.pem certs/ca.crt
  cat >config.yml <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/data
http:
  addr: $HOST
  tls:
    certificate: $WORK/cert.pem
    key: $WORK/key.pem
YAML
)
docker-registry serve "$WORK/config.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
deadline=$(($(date +%s) + 15))
until (exec 3<>"/dev/tcp/127.0.0.1/$REG_PORT") 2>/dev/null; do
  (($(date +%s) < deadline)) || { cat "$WORK/registry.log" >&2; die registry "the registry did not start"; }
  sleep 0.1
done
skopeo copy --quiet --all --dest-cert-dir "$WORK/certs" "oci:$WORK/base-both:base" "docker://$HOST/base/python:multi" >/dev/null
src=${examples[0]}
ctx=$WORK/ctx/$(basename "$src")
log "[registry] fabuild build --base $HOST/base/python:multi --platform linux/amd64,linux/arm64 --push"
"$FAB" build "$ctx/app.yaml" --platform linux/amd64,linux/arm64 --base "$HOST/base/python:multi" \
  --base-image "$BASE" --out "$WORK/pushed.oci" --cache-dir "$WORK/cache-reg" --registry-ca "$WORK/ca.pem" \
  --push "$HOST/apps/multi:e2e" --digest-file "$WORK/digest" >"$WORK/push.out" 2>"$WORK/push.err" \
  || { cat "$WORK/push.out" "$WORK/push.err" >&2; die registry "build --push failed"; }
grep -q "linux/amd64 manifest" "$WORK/push.out" && grep -q "linux/arm64 manifest" "$WORK/push.out" \
  || { cat "$WORK/push.out" >&2; die registry "the base was not pulled for both platforms"; }
pushed_index=$(sed -n 's/^index //p' "$WORK/push.out")
[ "$(cat "$WORK/digest")" = "$pushed_index" ] || die registry "--digest-file $(cat "$WORK/digest"), built index $pushed_index"
raw=$(skopeo inspect --raw --cert-dir "$WORK/certs" "docker://$HOST/apps/multi:e2e")
printf '%s' "$raw" | sha256sum | grep -q "^${pushed_index#sha256:} " || die registry "the registry serves other bytes than the index built"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert [m["platform"]["architecture"] for m in d["manifests"]] == ["amd64", "arm64"], d' "$raw" \
  || die registry "skopeo inspect --raw: $raw"
log "[registry] pushed index $pushed_index (amd64, arm64)"
# A base pinned by its index's digest (what `fabuild pin` writes) builds every platform.
base_index=sha256:$(skopeo inspect --raw --cert-dir "$WORK/certs" "docker://$HOST/base/python:multi" | sha256sum | cut -d' ' -f1)
"$FAB" build "$ctx/app.yaml" --platform linux/amd64,linux/arm64 --base "$HOST/base/python@$base_index" \
  --out "$WORK/pinned.oci" --cache-dir "$WORK/cache-reg" --registry-ca "$WORK/ca.pem" >"$WORK/pinned.out" 2>&1 \
  || { cat "$WORK/pinned.out" >&2; die registry "a base pinned by its index digest was refused"; }
log "[registry] a base pinned by its index digest $base_index: built"
echo "multiarch: every example built for linux/amd64 and linux/arm64 as one index, verified, and served 200 on both (arm64 under qemu)"
