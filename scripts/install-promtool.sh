#!/usr/bin/env bash
# Installs Prometheus's promtool, pinned, into .tools/bin/promtool (repo-local,
# git-ignored). Optional: with it, test/metrics/alerts.test.ts also runs
# `promtool check rules` and the rule unit tests of
# deploy/prometheus/alerts.test.yml; without it that one test is skipped.
# Builds from source with `go install` through the Go module proxy, which
# takes a while (about 8 CPU-minutes: Prometheus is a large module). Idempotent.
#
# Usage: scripts/install-promtool.sh        (PROMTOOL_VERSION=3.Y.Z to override)
set -euo pipefail
# shellcheck source=lib/go.sh
source "$(dirname "$0")/lib/go.sh"

# Prometheus 3.x is published to Go as module versions v0.3YY.Z.
PROMTOOL_VERSION="${PROMTOOL_VERSION:-3.16.0}"
minor_patch="${PROMTOOL_VERSION#3.}"
module_version="v0.$(( 300 + ${minor_patch%%.*} )).${minor_patch#*.}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin_dir="$root/.tools/bin"
target="$bin_dir/promtool"

if [ -x "$target" ] && "$target" --version 2>&1 | head -n 1 | grep -q "version $PROMTOOL_VERSION "; then
  echo "promtool $PROMTOOL_VERSION already installed at $target"
  exit 0
fi

go_install install-promtool "$bin_dir" "github.com/prometheus/prometheus/cmd/promtool@$module_version" \
  "-X github.com/prometheus/common/version.Version=$PROMTOOL_VERSION"

installed="$("$target" --version 2>&1 | head -n 1)"
case "$installed" in
  *"version $PROMTOOL_VERSION "*) echo "installed $installed at $target" ;;
  *) echo "install-promtool: expected promtool version $PROMTOOL_VERSION, got '$installed'" >&2; exit 1 ;;
esac
