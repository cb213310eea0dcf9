#!/usr/bin/env bash
# Installs Prometheus and promtool from the OS packages (Debian/Ubuntu:
# `prometheus`, which ships both binaries): seconds, where building promtool
# from source took 16 minutes. test/metrics/alerts.test.ts runs promtool's
# rule checks and unit tests with it; the end-to-end alert test starts its own
# prometheus on a free port with a throwaway config and data directory.
#
# The package's system service is neither started (a temporary policy-rc.d)
# nor left enabled, as for Redis (scripts/install-redis.sh): nothing listens on
# 9090 that was not there before.
#
# Idempotent: when both binaries are on PATH it prints the version and exits 0.
# Usage: scripts/install-prometheus.sh
set -euo pipefail
# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  echo "prometheus already installed: $(prometheus --version 2>&1 | head -1)"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-prometheus: apt-get not found. Install Prometheus >= 2.37 yourself so that" >&2
  echo "  prometheus and promtool are on PATH (e.g. 'brew install prometheus')." >&2
  exit 1
fi

need_root install-prometheus "apt-get install prometheus"
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

apt_install install-prometheus prometheus

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  echo "+ systemctl disable --now prometheus (the tests start their own)"
  run_root systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi

for b in prometheus promtool; do
  command -v "$b" >/dev/null 2>&1 || { echo "install-prometheus: $b still missing after install" >&2; exit 1; }
done
echo "installed: $(prometheus --version 2>&1 | head -1)"
