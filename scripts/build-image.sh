#!/usr/bin/env bash
# Builds the sipwall image without a daemon (podman/buildah from Debian) on a
# base made locally (scripts/make-base-image.sh), then smoke-tests it: the
# CLI runs, and `check` judges a real capture inside the container.
#   scripts/build-image.sh [TAG]        default TAG localhost/sipwall:dev
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-localhost/sipwall:dev}
base=localhost/sipwall-base:trixie
bash scripts/make-base-image.sh "$base"
cabundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
# --isolation chroot: no OCI runtime needed (crun refuses hybrid cgroups on some hosts).
podman build --isolation chroot --network host --build-arg "BASE=$base" \
  --secret "id=cabundle,src=$cabundle" -t "$tag" .
# Smoke test in a working container with chroot isolation (like the build):
# `podman run` needs an OCI runtime allowed to set rlimits and cgroups, which
# not every sandbox grants; on a normal host `podman run` works the same.
ctr=$(buildah from "$tag")
trap 'buildah rm "$ctr" >/dev/null' EXIT
run() { buildah run --isolation chroot -v "$PWD/test/fixtures:/fixtures:ro" "$ctr" -- "$@"; }
run node /opt/sipwall/dist/src/cli/main.js --version
run node --input-type=module -e "
  const m = await import('/opt/sipwall/dist/src/queue/native-addon.js'); m.loadNativeAddon();
  const { createRequire } = await import('node:module'); createRequire('/opt/sipwall/')('cap');
  console.log('native addons load: sipwall_nfq, cap');"
run node /opt/sipwall/dist/src/cli/main.js check --config /fixtures/config/corpus.yaml --summary /fixtures/corpus/svmap.pcap
run node /opt/sipwall/dist/src/cli/main.js rules --print --defaults | grep -c NFQUEUE
podman image inspect "$tag" --format 'image {{.Id}} size {{.Size}} bytes'
