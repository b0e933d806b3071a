#!/usr/bin/env bash
# Rebuilds src/pins.txt: downloads the server stack's wheels from PyPI for every
# supported Python (3.11 to 3.14) on both Linux platforms (x86_64, aarch64) and prints the
# pin table with each wheel's sha256: one row for a pure-Python wheel, one row per wheel for
# a compiled package (uvloop, httptools), so pip finds the one that matches the image.
# Review the diff, then run the tests.
#
#   UV=uv==0.13.9 scripts/refresh-pins.sh gunicorn==27.0.1 uvicorn==0.54.0 uvicorn-worker==0.4.0 \
#       uvloop==0.23.0 httptools==0.9.0 > src/pins.txt
#
# uv (role "tool": used while building, for python.lock and python.project, never left in
# the image) gets one row per Linux platform wheel likewise.
set -euo pipefail
[ $# -gt 0 ] || set -- gunicorn==27.0.1 uvicorn==0.54.0 uvicorn-worker==0.4.0 uvloop==0.23.0 httptools==0.9.0
UV=${UV:-uv==0.13.9}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for py in 3.11 3.12 3.13 3.14; do
  for platform in manylinux2014_x86_64 manylinux2014_aarch64; do
    pip download --quiet --no-cache-dir --only-binary=:all: --python-version "$py" --platform "$platform" \
      -d "$work/all" "$@" >&2
  done
done
pip download --quiet --no-cache-dir --only-binary=:all: --no-deps -d "$work/wsgi" "gunicorn==$(printf '%s\n' "$@" | sed -n 's/^gunicorn==//p')" >&2
echo "# The server stack fabuild installs, each package pinned by the sha256 of its wheels."
echo "# Regenerate with scripts/refresh-pins.sh (downloads the wheels from PyPI and hashes them)."
echo "# name            version  for   sha256 of a wheel (compiled packages: one row per Python and platform)"
for wheel in "$work"/all/*.whl; do
  file=$(basename "$wheel")
  case "$file" in
    *-py3-none-any.whl | *manylinux*_x86_64*.whl | *manylinux*_aarch64*.whl) ;;
    *) echo "neither pure-Python nor a manylinux wheel: $file" >&2; exit 1 ;;
  esac
  name=$(unzip -p "$wheel" '*.dist-info/METADATA' | sed -n 's/^Name: //p' | tr 'A-Z_' 'a-z-' | tr -d '\r')
  version=$(unzip -p "$wheel" '*.dist-info/METADATA' | sed -n 's/^Version: //p' | tr -d '\r')
  role=asgi
  [ -e "$work/wsgi/$file" ] && role=all
  printf '%-17s %-8s %-5s %s\n' "$name" "$version" "$role" "$(sha256sum "$wheel" | cut -d' ' -f1)"
done | sort
for platform in manylinux_2_17_x86_64 manylinux_2_17_aarch64; do
  pip download --quiet --no-cache-dir --only-binary=:all: --no-deps --platform "$platform" -d "$work/uv-$platform" "$UV" >&2
  wheel=$(ls "$work/uv-$platform"/*.whl)
  printf '%-17s %-8s %-5s %s\n' uv "${UV#uv==}" tool "$(sha256sum "$wheel" | cut -d' ' -f1)"
done
