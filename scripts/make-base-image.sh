#!/usr/bin/env bash
# Builds the base image the Dockerfile starts from, locally, with debootstrap:
# no image registry is needed (or reachable). Debian trixie, because its
# nodejs is 20 (bookworm's is 18, too old for sipwall and lru-cache 11).
#   scripts/make-base-image.sh [TAG]     default TAG localhost/sipwall-base:trixie
set -euo pipefail
tag=${1:-localhost/sipwall-base:trixie}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
if podman image exists "$tag"; then echo "base image $tag already present"; exit 0; fi
root=$(mktemp -d /var/tmp/sipwall-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase trixie "$root" "$mirror" >/dev/null
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | podman import --change 'CMD ["/bin/bash"]' - "$tag" >/dev/null
echo "built base image $tag"
