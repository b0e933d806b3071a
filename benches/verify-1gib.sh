#!/usr/bin/env bash
# Benchmark (not a test): `fabuild verify` on a synthetic image whose largest layer holds
# 1 GiB, in gzip, zstd and uncompressed form. Records wall time, throughput over the
# uncompressed bytes and peak RSS (from /usr/bin/time -v). Memory must stay flat: the
# layer is streamed, never held.
#
# Usage: benches/verify-1gib.sh [WORKDIR]   (default: a fresh temp dir, removed at the end)
#   BENCH_MIB=64 benches/verify-1gib.sh    a smaller layer, to see that peak RSS does not move
# Needs: cargo, python3, GNU tar, gzip, zstd, /usr/bin/time. Uses about 3.5 GiB of disk.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=${1:-$(mktemp -d)}
[ -n "${1:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"

echo "== build (release)" >&2
cargo build --release --locked --quiet
bin=${CARGO_TARGET_DIR:-$repo/target}/release/fabuild
spec=$repo/examples/fastapi-tls/app.yaml
"$bin" plan "$spec" > "$work/plan.json"

mib=${BENCH_MIB:-1024}
echo "== rootfs: $mib MiB of data (half random, half base64 text), the app, the pinned dist-infos" >&2
root=$work/rootfs
rm -rf "$root" && mkdir -p "$root/app" "$root/data"
# Random bytes do not compress (gzip stores them); base64 text does, so the decoders do
# real work on half the layer, as they do on real layers of code and wheels.
head -c $((mib * 512 * 1024)) /dev/urandom > "$root/data/random.bin"
head -c $((mib * 384 * 1024)) /dev/urandom | base64 -w 76 > "$root/data/text.b64"
printf 'from fastapi import FastAPI\napp = FastAPI()\n' > "$root/app/main.py"
python3 - "$work/plan.json" "$root" <<'PY'
import json, os, sys
plan = json.load(open(sys.argv[1]))
site = os.path.join(sys.argv[2], "opt/venv/lib/python3.12/site-packages")
for pin in plan["server_pins"]:
    d = os.path.join(site, f'{pin["name"].replace("-", "_")}-{pin["version"]}.dist-info')
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "METADATA"), "w").write(f'Name: {pin["name"]}\nVersion: {pin["version"]}\n')
PY
chmod -R go-w "$root"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$work/layer.tar" .

# Writes an OCI layout at $1 whose one layer is $2 (already compressed as $3).
make_layout() {
  python3 - "$work/plan.json" "$1" "$2" "$3" "$work/layer.tar" <<'PY'
import hashlib, json, os, shutil, sys
plan_path, out, blob, media, tar = sys.argv[1:]
plan = json.load(open(plan_path))
def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
os.makedirs(f"{out}/blobs/sha256", exist_ok=True)
def put(data):
    h = hashlib.sha256(data).hexdigest()
    open(f"{out}/blobs/sha256/{h}", "wb").write(data)
    return {"digest": f"sha256:{h}", "size": len(data)}
layer = digest(blob)
os.replace(blob, f"{out}/blobs/sha256/{layer}")
config = {
    "architecture": "amd64", "os": "linux",
    "config": {
        "User": f'{plan["uid"]}:{plan["gid"]}',
        "Env": [f"{k}={v}" for k, v in plan["env"]],
        "Cmd": plan["cmd"],
        "ExposedPorts": {f'{plan["port"]}/tcp': {}},
        "Volumes": {plan["tls_dir"]: {}},
        "WorkingDir": "/app",
        "Labels": dict(plan["labels"]),
    },
    "rootfs": {"type": "layers", "diff_ids": [f"sha256:{digest(tar)}"]},
}
c = put(json.dumps(config).encode())
manifest = {
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **c},
    "layers": [{"mediaType": media, "digest": f"sha256:{layer}", "size": os.path.getsize(f"{out}/blobs/sha256/{layer}")}],
}
m = put(json.dumps(manifest).encode())
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", **m}]}, open(f"{out}/index.json", "w"))
open(f"{out}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
}

uncompressed=$(stat -c %s "$work/layer.tar")
printf '\n| layer | blob size | wall s | MB/s (uncompressed) | peak RSS |\n| --- | --- | --- | --- | --- |\n'
for kind in gzip zstd plain; do
  out=$work/image-$kind
  rm -rf "$out"
  case $kind in
    gzip) gzip -1 -c "$work/layer.tar" > "$work/blob"; media=application/vnd.oci.image.layer.v1.tar+gzip ;;
    zstd) zstd -q -1 -T0 -c "$work/layer.tar" > "$work/blob"; media=application/vnd.oci.image.layer.v1.tar+zstd ;;
    plain) cp "$work/layer.tar" "$work/blob"; media=application/vnd.oci.image.layer.v1.tar ;;
  esac
  blob_size=$(stat -c %s "$work/blob")
  make_layout "$out" "$work/blob" "$media"
  sync
  # Warm the page cache so the numbers measure fabuild, not the disk.
  cat "$out"/blobs/sha256/* > /dev/null
  /usr/bin/time -v -o "$work/time-$kind.txt" "$bin" verify "$spec" --image "$out" > "$work/report-$kind.txt" || {
    echo "verify failed on the $kind image:" >&2; cat "$work/report-$kind.txt" >&2; exit 1; }
  wall=$(python3 - "$work/time-$kind.txt" <<'PY'
import sys
for line in open(sys.argv[1]):
    if "Elapsed (wall clock)" in line:
        t = line.rsplit(" ", 1)[1].strip().split(":")
        print(sum(float(x) * 60 ** i for i, x in enumerate(reversed(t))))
PY
)
  rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time-$kind.txt")
  python3 -c "import sys; u,w,b,r=map(float,sys.argv[1:]); print(f'| $kind | {b/2**20:.0f} MiB | {w:.2f} | {u/1e6/w:.0f} | {r/1024:.1f} MiB |')" "$uncompressed" "$wall" "$blob_size" "$rss_kb"
  rm -rf "$out"
done
echo
echo "uncompressed layer: $uncompressed bytes ($mib MiB of data); $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
