#!/usr/bin/env bash
# Installs the headless browser the dashboard's browser test drives:
# Debian's `chromium` package (the test controls it with playwright-core,
# which downloads no browser of its own).
#
# Idempotent: when a chromium binary is already there (BREAKERBOX_CHROMIUM,
# on PATH, or /usr/bin/chromium) it prints the version and exits 0. Called by
# scripts/install-test-tools.sh (CI) and by the test setup
# (test/global-setup.ts) when the binary is missing.
#
# Usage: scripts/install-chromium.sh
set -euo pipefail
# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

find_chromium() {
  if [ -n "${BREAKERBOX_CHROMIUM:-}" ] && [ -x "$BREAKERBOX_CHROMIUM" ]; then
    echo "$BREAKERBOX_CHROMIUM"
    return 0
  fi
  for c in chromium chromium-browser; do
    if command -v "$c" >/dev/null 2>&1; then
      command -v "$c"
      return 0
    fi
  done
  if [ -x /usr/bin/chromium ]; then
    echo /usr/bin/chromium
    return 0
  fi
  return 1
}

if bin=$(find_chromium); then
  echo "chromium already installed: $("$bin" --version 2>/dev/null || echo "$bin")"
  exit 0
fi

packages=(chromium fonts-dejavu-core)
echo "install-chromium: chromium not found; installing OS packages: ${packages[*]}"

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: apt-get not found. Install Chromium yourself so that 'chromium'" >&2
  echo "  is on PATH, or set BREAKERBOX_CHROMIUM to its path (e.g. 'dnf install chromium')." >&2
  exit 1
fi

apt_install install-chromium "${packages[@]}"

if ! bin=$(find_chromium); then
  echo "install-chromium: chromium still missing after the install" >&2
  exit 1
fi
echo "installed: $("$bin" --version 2>/dev/null || echo "$bin")"
