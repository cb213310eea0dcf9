#!/usr/bin/env bash
# Installs the Redis binaries the Redis test suites and the bench drive:
# redis-server, redis-sentinel, redis-cli and redis-benchmark, from the OS
# packages (Debian/Ubuntu: redis-server, redis-sentinel, redis-tools).
#
# Idempotent: when all four are already on PATH it prints the version and
# exits 0. Called by scripts/install-test-tools.sh (CI) and by the test setup
# (test/global-setup.ts) when a binary is missing.
#
# The tests never use the packaged system service: they start their own
# redis-server/redis-sentinel processes on free ports with throwaway config.
# So the packages are installed without starting their services (a temporary
# policy-rc.d, the Debian mechanism for exactly this), and on a systemd machine
# the services this script just installed are disabled again, leaving nothing
# listening on 6379/26379 that was not there before.
#
# Usage: scripts/install-redis.sh
set -euo pipefail
# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

bins=(redis-server redis-sentinel redis-cli redis-benchmark)
packages=(redis-server redis-sentinel redis-tools)

missing=()
for b in "${bins[@]}"; do
  command -v "$b" >/dev/null 2>&1 || missing+=("$b")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "redis already installed: $(redis-server --version)"
  exit 0
fi

echo "install-redis: missing ${missing[*]}; installing OS packages: ${packages[*]}"

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-redis: apt-get not found. Install Redis >= 6.2 yourself so that" >&2
  echo "  ${bins[*]} are on PATH (e.g. 'brew install redis', 'dnf install redis')." >&2
  exit 1
fi

need_root install-redis "apt-get install ${packages[*]}"

# Keep the packages' init scripts from starting the system services during the
# install. policy-rc.d exit 101 = "action forbidden" (invoke-rc.d and
# deb-systemd-invoke honour it). An existing policy-rc.d (Docker images ship
# one) is left exactly as it is.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  run_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
  own_policy=1
fi
cleanup() {
  if [ "$own_policy" -eq 1 ]; then run_root rm -f "$policy"; fi
}
trap cleanup EXIT

apt_install install-redis "${packages[@]}"

# On a systemd machine, the package enables its units for the next boot:
# disable (and stop, should one have started) the services we just installed.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  echo "+ systemctl disable --now redis-server redis-sentinel (the tests start their own servers)"
  run_root systemctl disable --now redis-server.service redis-sentinel.service >/dev/null 2>&1 || true
fi

still_missing=()
for b in "${bins[@]}"; do
  command -v "$b" >/dev/null 2>&1 || still_missing+=("$b")
done
if [ "${#still_missing[@]}" -ne 0 ]; then
  echo "install-redis: still missing after install: ${still_missing[*]}" >&2
  exit 1
fi
echo "installed: $(redis-server --version)"
