#!/usr/bin/env bash
# Benchmark (not a test): peak memory of `fabuild build` on a build context holding a
# 1 GiB file, and on wheels that are zip bombs or whose zip headers lie. Records exit code,
# wall time and peak RSS (from /usr/bin/time -v) per case. The target (issue 26): peak RSS
# under 256 MiB for a 1 GiB context; the hostile wheels refused, in flat memory.
#
# Usage: benches/build-1gib.sh [WORKDIR]     (default: a fresh temp dir, removed at the end)
#   BENCH_MIB=64        a smaller context file, to see that peak RSS does not move
#   FABUILD_BIN=PATH    measure this binary instead of a fresh release build
#   OLD_BIN=PATH        measure this one too, in the same run (an older commit's build)
# Needs: cargo, python3 with pip (the pinned gunicorn wheel is downloaded), base64,
# /usr/bin/time. Uses about 2.5 GiB of disk.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=${1:-$(mktemp -d)}
[ -n "${1:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
work=$(cd "$work" && pwd)

bin=${FABUILD_BIN:-}
if [ -z "$bin" ]; then
  echo "== build (release)" >&2
  cargo build --release --locked --quiet
  bin=${CARGO_TARGET_DIR:-$repo/target}/release/fabuild
fi

project=$work/project
rm -rf "$project" && mkdir -p "$project/data"
cat > "$project/app.yaml" <<'YAML'
version: 1
name: big-context
app:
  module: wsgi:app
  interface: wsgi
python:
  version: "3.11"
server:
  port: 8000
user:
  uid: 10001
  gid: 10001
YAML
printf 'def app(environ, start_response):\n    start_response("200 OK", [])\n    return [b"ok"]\n' > "$project/wsgi.py"

echo "== base image: account files and an interpreter's name, one gzip layer" >&2
python3 - "$work/base" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
out = sys.argv[1]
os.makedirs(f"{out}/blobs/sha256", exist_ok=True)
raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
    def add(name, data=None):
        info = tarfile.TarInfo(name)
        if data is None:
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        else:
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    for d in ["etc", "usr", "usr/bin"]:
        add(d)
    add("etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n")
    add("etc/group", b"root:x:0:\n")
    add("usr/bin/python3.11", b"not really python")
tar_bytes = raw.getvalue()
blob = gzip.compress(tar_bytes, mtime=0)
def put(data):
    h = hashlib.sha256(data).hexdigest()
    open(f"{out}/blobs/sha256/{h}", "wb").write(data)
    return {"digest": f"sha256:{h}", "size": len(data)}
layer = put(blob)
config = put(json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["python3"]},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar_bytes).hexdigest()]},
}).encode())
manifest = put(json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
}).encode())
json.dump({"schemaVersion": 2, "manifests": [{
    "mediaType": "application/vnd.oci.image.manifest.v1+json", **manifest,
    "platform": {"os": "linux", "architecture": "amd64"}}]}, open(f"{out}/index.json", "w"))
open(f"{out}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
PY

echo "== wheels: the pinned gunicorn, then the hostile ones" >&2
wheels=$work/wheels
mkdir -p "$wheels"
"$bin" plan "$project/app.yaml" > "$work/plan.json"
python3 - "$work/plan.json" > "$work/requirements.txt" <<'PY'
import json, sys
for pin in json.load(open(sys.argv[1]))["server_pins"]:
    print(f'{pin["name"]}=={pin["version"]} ' + " ".join(f"--hash=sha256:{h}" for h in pin["hashes"]))
PY
if [ -d "$repo/target/test-wheels/gunicorn" ]; then
  cp "$repo"/target/test-wheels/gunicorn/*.whl "$wheels/"
else
  python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
    --dest "$wheels" -r "$work/requirements.txt"
fi
hostile() { # NAME MEMBERS-JSON: a wheel dir with gunicorn and one hostile wheel
  mkdir -p "$work/wheels-$1"
  cp "$wheels"/*.whl "$work/wheels-$1/"
  python3 "$repo/tests/fixtures/hostile_wheel.py" "$work/wheels-$1/$1-1.0-py3-none-any.whl" "$2"
}
gib=$((1 << 30))
hostile bomb "[{\"name\": \"bomb/zeros.bin\", \"zeros\": $gib}]"
hostile claims4g '[{"name": "claims4g/a.py", "text": "x = 1\n", "claim": 4294967294}]'
hostile claimssmall "[{\"name\": \"claimssmall/zeros.bin\", \"zeros\": $gib, \"claim\": 10}]"

mib=${BENCH_MIB:-1024}
echo "== context: a $mib MiB file (half random bytes, half base64 text)" >&2
head -c $((mib * 512 * 1024)) /dev/urandom > "$project/data/big.bin"
head -c $((mib * 384 * 1024)) /dev/urandom | base64 -w 76 >> "$project/data/big.bin"
context_bytes=$(du -sb "$project" | cut -f1)

# Runs one case: LABEL BINARY WHEELS-DIR; prints a table row.
run_case() {
  local label=$1 exe=$2 wheel_dir=$3 out=$work/out
  rm -rf "$out" "$work/cache"
  local code=0
  ( cd "$project" && SOURCE_DATE_EPOCH=1700000000 /usr/bin/time -v -o "$work/time.txt" \
      "$exe" build app.yaml --base "$work/base" --out "$out" --wheels "$wheel_dir" --no-cache \
      > "$work/stdout.txt" 2> "$work/stderr.txt" ) || code=$?
  local wall rss verdict
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$work/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f MiB", $2/1024}' "$work/time.txt")
  if [ "$code" = 0 ]; then
    verdict="built, manifest $(grep -m1 -o 'manifest sha256:[0-9a-f]\{12\}' "$work/stdout.txt" | cut -d' ' -f2)"
  else
    verdict="exit $code: $(grep -v '^Command' "$work/stderr.txt" | grep -m1 . | cut -c1-150 | tr '|' '/')"
  fi
  printf '| %s | %s | %s | %s | %s |\n' "$label" "$(basename "$(dirname "$(dirname "$exe")")")/$(basename "$exe")" "$wall" "$rss" "$verdict"
}

printf '\n| case | binary | wall s | peak RSS | outcome |\n| --- | --- | --- | --- | --- |\n'
for exe in "$bin" ${OLD_BIN:+"$OLD_BIN"}; do
  run_case "context of $((context_bytes >> 20)) MiB ($mib MiB file)" "$exe" "$wheels"
  # The rest without the big file: what they cost is their own.
  mv "$project/data/big.bin" "$work/big.bin"
  run_case "context without the big file" "$exe" "$wheels"
  run_case "zip bomb: 1 MiB wheel, 1 GiB of zeros" "$exe" "$work/wheels-bomb"
  run_case "header claims 4 GiB, holds 6 bytes" "$exe" "$work/wheels-claims4g"
  run_case "header claims 10 bytes, holds 1 GiB" "$exe" "$work/wheels-claimssmall"
  mv "$work/big.bin" "$project/data/big.bin"
done
echo
echo "$(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u '+%Y-%m-%d %H:%M UTC')"
