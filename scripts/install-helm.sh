#!/usr/bin/env bash
# Installs helm, pinned, into .tools/bin/helm (repo-local, git-ignored), for
# the chart tests (test/deploy/helm-chart.test.ts: helm lint and helm template
# of deploy/helm/breakerbox), which run it themselves when helm is missing. Idempotent: does nothing when the pinned version
# is already there. Builds from source with `go install` through the Go module
# proxy, like grpcurl (no release download sites are reachable here).
#
# Usage: scripts/install-helm.sh        (HELM_VERSION=vX.Y.Z to override)
set -euo pipefail
# shellcheck source=lib/go.sh
source "$(dirname "$0")/lib/go.sh"

HELM_VERSION="${HELM_VERSION:-v4.3.2}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin_dir="$root/.tools/bin"
target="$bin_dir/helm"

# One build at a time: CI starts one in the background and the chart test
# calls this too; the second waits for the first and then finds helm there.
mkdir -p "$root/.tools"
exec 9>"$root/.tools/install-helm.lock"
flock 9

# `helm version --template '{{.Version}}'` prints the version stamped in below.
if [ -x "$target" ] && [ "$("$target" version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ]; then
  echo "helm $HELM_VERSION already installed at $target"
  exit 0
fi

major="${HELM_VERSION%%.*}"
go_install install-helm "$bin_dir" "helm.sh/helm/$major/cmd/helm@$HELM_VERSION" \
  "-s -w -X helm.sh/helm/$major/internal/version.version=$HELM_VERSION"

installed="$("$target" version --template '{{.Version}}' 2>/dev/null || true)"
if [ "$installed" != "$HELM_VERSION" ]; then
  echo "install-helm: expected '$HELM_VERSION', got '$installed'" >&2
  exit 1
fi
echo "installed helm $installed at $target"
