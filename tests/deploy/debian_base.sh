#!/usr/bin/env bash
# A Debian bookworm base image made here, without a registry: `debootstrap --variant=minbase`
# plus Debian's python3 (what python:3.11-slim-bookworm gives the Dockerfile), imported with
# `buildah from scratch` + `buildah add`. The tests build docker/Dockerfile on it
# (--build-arg BASE_IMAGE=...).
#
#   tests/deploy/debian_base.sh amd64|arm64 [TAG]     prints the image name it made or reused
#
# An image of the same recipe already in containers-storage is reused, so one CI run
# debootstraps each architecture once. arm64 runs debootstrap's second stage under
# qemu-user-static (binfmt_misc mounted, qemu-aarch64 enabled: see .ci/install-system-packages).
set -euo pipefail

arch=${1:?usage: debian_base.sh amd64|arm64 [TAG]}
tag=${2:-localhost/winkwatch-debian-base:bookworm-$arch}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# arm64 also gets python3-venv, which the slim image has built in: install.sh would otherwise
# run apt-get update and install it under emulation (minutes). amd64 leaves it out, so the
# amd64 image test goes through install.sh's apt path, as on a bare Raspberry Pi OS.
packages=python3
[ "$arch" = arm64 ] && packages=python3,python3-venv
# Bump when the recipe below changes, so a stale cached image is rebuilt.
recipe="bookworm minbase +$packages clean-apt v1"
label=org.winkwatch.base-recipe

# One builder per architecture at a time (CI starts them early; a test may ask meanwhile).
exec 9>"/var/tmp/winkwatch-debian-base-$arch.lock"
flock 9

if [ "$(buildah inspect --type image --format "{{index .OCIv1.Config.Labels \"$label\"}}" "$tag" 2>/dev/null)" = "$recipe" ]; then
    echo "$tag"
    exit 0
fi

work=$(mktemp -d /var/tmp/winkwatch-base-XXXXXX)
container=""
cleanup() {
    [ -n "$container" ] && buildah rm "$container" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    tail -n 30 "$work/debootstrap.log" >&2
    echo "debian_base.sh: debootstrap for $arch failed (log above)" >&2
    exit 1
}
# Two stages so that dpkg runs with force-unsafe-io (no fsync per file, as in Debian's own
# container images): under arm64 emulation that halves the second stage.
debootstrap --foreign --arch="$arch" --variant=minbase --include="$packages" bookworm \
    "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || fail
mkdir -p "$work/rootfs/etc/dpkg/dpkg.cfg.d"
echo force-unsafe-io >"$work/rootfs/etc/dpkg/dpkg.cfg.d/unsafe-io"
chroot "$work/rootfs" /debootstrap/debootstrap --second-stage >>"$work/debootstrap.log" 2>&1 || fail
# As Debian's own images: no package lists or downloaded .debs in the base.
rm -rf "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/var/cache/apt/archives/*.deb \
    "$work"/rootfs/var/cache/apt/*.bin "$work"/rootfs/var/log/*.log
tar --numeric-owner --xattrs -C "$work/rootfs" -cf "$work/rootfs.tar" .
rm -rf "$work/rootfs"

container=$(buildah from scratch)
buildah add --quiet "$container" "$work/rootfs.tar" / >/dev/null
buildah config --arch "$arch" --os linux --label "$label=$recipe" \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd /bin/bash "$container"
buildah commit --quiet --rm "$container" "$tag" >/dev/null
container=""
echo "$tag"
