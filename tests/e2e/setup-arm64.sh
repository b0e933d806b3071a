#!/usr/bin/env bash
# fabuild real-engine e2e suite: the arm64 base for the multi-platform tests (idempotent).
#
# Usage:  bash tests/e2e/setup-arm64.sh   # as root, after setup.sh; works with CI=true
#
# What it does (each step is skipped when already done):
#   1. qemu-user-static registered with binfmt_misc for aarch64 (the kernel then runs
#      arm64 binaries: podman runs the arm64 image). Registration goes through Debian's
#      update-binfmts only, which writes the kernel's entry whole or not at all. When it
#      cannot be done this script fails LOUDLY (exit 1): the multi-platform proof would
#      otherwise be skipped without anyone noticing.
#   2. An arm64 Debian bookworm root filesystem with python3, made WITHOUT running any
#      arm64 code: `mmdebstrap --variant=extract` downloads the packages and their
#      dependencies with apt (in parallel) and unpacks them; the only maintainer-script
#      effects the image needs are redone here from files in the packages:
#      /etc/passwd and /etc/group (base-passwd's masters), dpkg's status database (from
#      each package's control file, for the SBOM and `dpkg -l`), the CA bundle (the
#      concatenation update-ca-certificates would write). A few seconds on a warm apt
#      mirror instead of the ~37 min of debootstrap's second stage under qemu. Cached as
#      a tarball under $CACHE_DIR (key: suite, packages, mirror, this recipe's version).
#   3. `podman import --arch arm64 --variant v8` as localhost/fabuild-e2e/python-base:
#      bookworm-arm64, with the config setup.sh gives the amd64 base, and a smoke run
#      under qemu that must print aarch64.
# Exports nothing; multiarch.sh reads FABUILD_E2E_BASE_IMAGE_ARM64 from $STATE_DIR/env-arm64.sh.
set -Eeuo pipefail
umask 022

STATE_DIR=${FABUILD_E2E_STATE:-/var/tmp/fabuild-e2e}
CACHE_DIR=${FABUILD_E2E_CACHE:-/var/cache/fabuild-e2e}
MIRROR=${FABUILD_E2E_MIRROR:-http://deb.debian.org/debian}
BASE_IMAGE=localhost/fabuild-e2e/python-base:bookworm-arm64
SUITE=bookworm
PACKAGES=base-files,base-passwd,bash,dash,coreutils,libc-bin,python3,python3-venv,python-is-python3,ca-certificates
APT=(apt-get -o DPkg::Lock::Timeout=900)

log() { printf '[setup-arm64 %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
  printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' >&2
  printf '!!! E2E ARM64 SETUP FAILED: %s\n' "$*" >&2
  printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n' >&2
  exit 1
}
trap 'die "command failed (line $LINENO): $BASH_COMMAND"' ERR

[ "$(id -u)" = 0 ] || die "must run as root"
export DEBIAN_FRONTEND=noninteractive
exec </dev/null
[ -f "$STATE_DIR/env.sh" ] || die "run tests/e2e/setup.sh first ($STATE_DIR/env.sh is missing)"
# shellcheck source=/dev/null
. "$STATE_DIR/env.sh"
mkdir -p "$CACHE_DIR"
TIMINGS=$STATE_DIR/setup-arm64-timings.txt
: >"$TIMINGS"
t_phase() { printf '%s %s\n' "$1" "$2" >>"$TIMINGS"; log "$1 took ${2}s"; }

# ---------------------------------------------------------------- 1. qemu + binfmt_misc
t0=$SECONDS
BINFMT=/proc/sys/fs/binfmt_misc
registered() { [ -e "$BINFMT/qemu-aarch64" ] && head -1 "$BINFMT/qemu-aarch64" | grep -qx enabled; }
if ! registered; then
  if ! command -v update-binfmts >/dev/null || [ ! -e /usr/share/binfmts/qemu-aarch64 ]; then
    log "installing qemu-user-static binfmt-support"
    "${APT[@]}" install -y -q qemu-user-static binfmt-support >/dev/null \
      || { "${APT[@]}" update -q && "${APT[@]}" install -y -q qemu-user-static binfmt-support >/dev/null; } \
      || die "cannot install qemu-user-static binfmt-support: arm64 images cannot run here"
  fi
  mountpoint -q "$BINFMT" || mount -t binfmt_misc binfmt_misc "$BINFMT" \
    || die "binfmt_misc is not mounted and cannot be (a container without it?): arm64 images cannot run here"
  update-binfmts --enable qemu-aarch64 >&2 || true
  registered || die "qemu-aarch64 is not registered in $BINFMT after update-binfmts --enable: arm64 images cannot run here"
fi
log "binfmt_misc: qemu-aarch64 $(sed -n 's/^flags: /flags /p' "$BINFMT/qemu-aarch64")"
t_phase binfmt $((SECONDS - t0))

# ---------------------------------------------------------------- 2. rootfs, no arm64 code run
command -v mmdebstrap >/dev/null || "${APT[@]}" install -y -q mmdebstrap >/dev/null \
  || die "cannot install mmdebstrap"
key=$(printf '%s|%s|%s|arm64|extract-v1' "$SUITE" "$PACKAGES" "$MIRROR" | sha256sum | cut -c1-12)
TARBALL=$CACHE_DIR/python-base-$SUITE-arm64-$key.tar
t0=$SECONDS
if [ ! -s "$TARBALL" ]; then
  root=$(mktemp -d "$STATE_DIR/rootfs-arm64.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$root'" EXIT
  log "mmdebstrap --variant=extract --architectures=arm64 $SUITE ($PACKAGES)"
  mmdebstrap --mode=root --variant=extract --architectures=arm64 --include="$PACKAGES" \
    --skip=cleanup/apt/cache "$SUITE" "$root" "$MIRROR" >"$STATE_DIR/mmdebstrap-arm64.log" 2>&1 \
    || { tail -30 "$STATE_DIR/mmdebstrap-arm64.log" >&2; die "mmdebstrap failed (log: $STATE_DIR/mmdebstrap-arm64.log)"; }
  debs=("$root"/var/cache/apt/archives/*.deb)
  ((${#debs[@]} > 20)) || die "mmdebstrap left ${#debs[@]} packages in the apt cache"
  # What the maintainer scripts would have made, from the packages' own files.
  cp "$root/usr/share/base-passwd/passwd.master" "$root/etc/passwd"
  cp "$root/usr/share/base-passwd/group.master" "$root/etc/group"
  status=$root/var/lib/dpkg/status
  : >"$status.new"
  for deb in "${debs[@]}"; do
    dpkg-deb -f "$deb" | awk 'NR == 1 { print; print "Status: install ok installed"; next } { print }' >>"$status.new"
    echo >>"$status.new"
  done
  mv "$status.new" "$status"
  mkdir -p "$root/etc/ssl/certs"
  find "$root/usr/share/ca-certificates" -name '*.crt' -print0 | sort -z | xargs -0 cat \
    >"$root/etc/ssl/certs/ca-certificates.crt"
  mkdir -p "$root/tmp" && chmod 1777 "$root/tmp"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/*
  : >"$root/etc/hostname"; rm -f "$root/etc/resolv.conf"
  for f in etc/passwd etc/group usr/bin/python3 lib/ld-linux-aarch64.so.1 bin/sh; do
    [ -e "$root/$f" ] || [ -L "$root/$f" ] || die "the arm64 rootfs lacks /$f"
  done
  tar --numeric-owner --xattrs -C "$root" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
  rm -rf "$root"; trap - EXIT
  log "arm64 rootfs: ${#debs[@]} packages, $(du -h "$TARBALL" | cut -f1)"
  t_phase rootfs $((SECONDS - t0))
  podman rmi -f "$BASE_IMAGE" >/dev/null 2>&1 || true
else
  log "arm64 base tarball cached: $TARBALL"
  t_phase rootfs 0
fi

# ---------------------------------------------------------------- 3. import + smoke under qemu
t0=$SECONDS
have_key=$(podman image inspect --format '{{index .Labels "fabuild.e2e.base-key"}}' "$BASE_IMAGE" 2>/dev/null || true)
if [ "$have_key" != "$key" ]; then
  log "podman import --arch arm64 $TARBALL -> $BASE_IMAGE"
  podman rmi -f "$BASE_IMAGE" >/dev/null 2>&1 || true
  podman import --os linux --arch arm64 --variant v8 \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL fabuild.e2e.base-key=$key" \
    --change 'CMD ["python3"]' \
    "$TARBALL" "$BASE_IMAGE" >/dev/null
fi
arch=$(podman image inspect --format '{{.Os}}/{{.Architecture}}' "$BASE_IMAGE")
[ "$arch" = linux/arm64 ] || die "$BASE_IMAGE is $arch, not linux/arm64"
out=$(podman run --rm --platform linux/arm64 --network=host "$BASE_IMAGE" \
      python3 -c 'import platform; print(platform.machine(), platform.python_version())' 2>/dev/null) \
  || die "the arm64 base does not run under qemu"
case $out in aarch64\ 3.*) ;; *) die "the arm64 base's python says '$out', not aarch64" ;; esac
log "smoke under qemu: $out"
t_phase import_smoke $((SECONDS - t0))
cat >"$STATE_DIR/env-arm64.sh" <<EOF
# generated by fabuild tests/e2e/setup-arm64.sh -- source me after env.sh
export FABUILD_E2E_BASE_IMAGE_ARM64="$BASE_IMAGE"
EOF
log "ready: $BASE_IMAGE"
