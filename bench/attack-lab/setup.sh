#!/usr/bin/env bash
# Installs the Debian packages of the attack lab (bench/attack-lab/): the
# PBX (kamailio), the attacker's tools (sipvicious), the phones (baresip,
# sip-tester = sipp), fail2ban for the classic setup, gnuplot for the chart.
# Idempotent. Services the packages would start on the host (kamailio,
# fail2ban) are stopped and disabled: the lab runs its own, inside network
# namespaces, with its own configuration.
#   --if-missing   do nothing when every tool is already installed
set -euo pipefail
PACKAGES=(kamailio sipvicious baresip sip-tester fail2ban gnuplot-nox
  python3 iptables ipset iproute2 curl coreutils util-linux gcc libc6-dev)
TOOLS=(kamailio svmap svwar svcrack baresip sipp fail2ban-server gnuplot python3 iptables ipset ss curl stdbuf taskset cc)

missing=()
for t in "${TOOLS[@]}"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
if [ "${1:-}" = "--if-missing" ] && [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "attack-lab setup: run as root (it installs Debian packages); missing: ${missing[*]:-none}" >&2
  exit 77
fi
echo "attack-lab setup: installing ${PACKAGES[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null

# The packages ship services; the lab never uses the host's.
for svc in kamailio fail2ban; do
  if [ -d /run/systemd/system ]; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  elif [ -x "/etc/init.d/$svc" ]; then
    "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
    update-rc.d "$svc" disable >/dev/null 2>&1 || true
  fi
done

for t in "${TOOLS[@]}"; do command -v "$t" >/dev/null 2>&1 || { echo "attack-lab setup: $t still missing" >&2; exit 1; }; done
