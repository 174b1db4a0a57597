#!/usr/bin/env bash
# Installs everything sipwall needs on a fresh Debian machine, then the npm
# dependencies (which builds the native addon). Idempotent.
#   --test  also what the test suite needs: a Prometheus server for the
#           end-to-end scrape test, and the attack lab's packages (Kamailio,
#           sipvicious, baresip, sipp, fail2ban, gnuplot: see
#           bench/attack-lab/setup.sh) for its quick run. Never installed on
#           a PBX otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then echo "setup-debian.sh: run as root (it installs Debian packages)" >&2; exit 77; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  iptables ipset iproute2 libnetfilter-queue-dev libmnl-dev libpcap-dev \
  make g++ python3 ca-certificates curl systemd >/dev/null
if [ "${1:-}" = "--test" ]; then
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  # The package starts its own server where systemd runs; the tests start theirs.
  if [ -d /run/systemd/system ]; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
  # The attack lab (test/bench/attack-lab.test.ts); it disables the kamailio and fail2ban services.
  bash bench/attack-lab/setup.sh
fi
# Node >= 20: the machine's own when it has one. Debian 12's nodejs is 18,
# too old (sipwall and lru-cache 11 need 20), so otherwise the official Node
# 20 binaries and headers are fetched from the npm registry (the packages
# node-linux-<arch>, and npm itself), checked against the digests pinned
# here, unpacked under /opt/sipwall-node and linked into /usr/local/bin.
NODE_VERSION=20.20.2
NPM_VERSION=10.8.2
NODE_SHA512_x64=3de1d033cc007661ed640d66068732819c6ce4b8945adb097b3413901774898f7cecaa46ac3d4edad544c9dbcc662b9771e45a9f1b7bae34e70c407038fba3a1
NODE_SHA512_arm64=2c25c99cd4c58b21ae601c36819488e4e04531b92300fb7cb2a0ff34aad6a04d90983812b9b4ea16783a19a349f4427c1e9c413067165a96db72ce15a3e0a71a
NPM_SHA512=c7f0088c520a46596b85c6f8f1da943400199748a0f7ea8cb8df75469668dc26f6fb3ba26df87e2884a5ebe91557292d0f3db7d0929cdb4f14910c3032ac81fb
node_ok() { command -v node >/dev/null && node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; }
# fetch NAME VERSION SHA512 DIR: a registry tarball, verified, unpacked into DIR.
fetch() {
  local url="https://registry.npmjs.org/$1/-/$1-$2.tgz" tgz
  tgz=$(mktemp)
  curl -fsSL --retry 3 -o "$tgz" "$url" || { rm -f "$tgz"; echo "setup-debian.sh: could not download $url" >&2; exit 1; }
  echo "$3  $tgz" | sha512sum -c --quiet - || { rm -f "$tgz"; echo "setup-debian.sh: $url does not match its pinned sha512" >&2; exit 1; }
  rm -rf "$4" && mkdir -p "$4" && tar -xzf "$tgz" -C "$4" --strip-components=1 --no-same-owner
  rm -f "$tgz"
}
if ! node_ok; then
  case "$(dpkg --print-architecture)" in
    amd64) arch=x64 ;;
    arm64) arch=arm64 ;;
    *) echo "setup-debian.sh: no Node >= 20 here and no pinned build for $(dpkg --print-architecture); install Node 20 first" >&2; exit 1 ;;
  esac
  sum=NODE_SHA512_$arch
  prefix=/opt/sipwall-node
  echo "setup-debian.sh: Node >= 20 not found; installing Node $NODE_VERSION and npm $NPM_VERSION under $prefix" >&2
  fetch "node-linux-$arch" "$NODE_VERSION" "${!sum}" "$prefix/node-$NODE_VERSION"
  fetch npm "$NPM_VERSION" "$NPM_SHA512" "$prefix/npm-$NPM_VERSION"
  ln -sfn "$prefix/node-$NODE_VERSION/bin/node" /usr/local/bin/node
  ln -sfn "$prefix/npm-$NPM_VERSION/bin/npm-cli.js" /usr/local/bin/npm
  ln -sfn "$prefix/npm-$NPM_VERSION/bin/npx-cli.js" /usr/local/bin/npx
  hash -r
  node_ok || { echo "setup-debian.sh: Node >= 20 needed, found $(node --version 2>&1)" >&2; exit 1; }
fi
# node-gyp builds the addons against the headers of the Node that runs them,
# found beside it (nodesource's and the one above ship them), not downloaded.
node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/node_api.h" ]; then export npm_config_nodedir="$node_prefix"; fi
npm ci --no-audit --no-fund
# The `sipwall` command of the README (npm ci builds dist/, executable).
ln -sfn "$PWD/dist/src/cli/main.js" /usr/local/bin/sipwall
