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
# The machine's own Node (>= 20) is used when present; Debian's nodejs is only a fallback.
command -v node >/dev/null || apt-get install -y -qq nodejs npm >/dev/null
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || { echo "setup-debian.sh: Node >= 20 needed, found $(node --version)" >&2; exit 1; }
npm ci --no-audit --no-fund
