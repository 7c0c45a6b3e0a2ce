#!/usr/bin/env bash
# Installs, from Debian 12's packages, everything secretbroker needs to build,
# run and test. Safe to run again: apt-get skips what is already there.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang-format
  clang libclang-rt-14-dev
  libssl-dev libevent-dev libjansson-dev libiniparser-dev
  libsqlite3-dev sqlite3 libpq-dev libhiredis-dev libcmocka-dev
  postgresql redis-server
  keepalived nftables iproute2
  pacemaker corosync resource-agents pacemaker-cli-utils libxml2-utils
  libcurl4-openssl-dev
  python3 python3-cryptography
  softhsm2 opensc libp11-kit-dev
  nginx-light wrk curl jq socat procps util-linux passwd
  # issue 16: promtool (metrics and alert rules), systemd-analyze (the
  # unit), scdoc and man-db (man pages), and the Debian packaging
  prometheus systemd scdoc man-db
  debhelper devscripts lintian fakeroot dpkg-dev
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to install packages: ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian packages start no server here (no systemd as PID 1); the tests
# start their own PostgreSQL, Redis and keepalived instances in temporary
# directories (keepalived in network namespaces).
