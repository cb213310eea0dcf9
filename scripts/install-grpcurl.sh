#!/usr/bin/env bash
# Installs grpcurl, pinned, into .tools/bin/grpcurl (repo-local, git-ignored),
# for the reflection checks in tests and CI. Idempotent: does nothing when the
# pinned version is already there. Builds from source with `go install`
# through the Go module proxy (checksums verified against sum.golang.org), so
# it needs Go >= 1.25 on PATH (grpcurl v1.9.4's go.mod).
#
# Usage: scripts/install-grpcurl.sh        (GRPCURL_VERSION=vX.Y.Z to override)
set -euo pipefail
# shellcheck source=lib/go.sh
source "$(dirname "$0")/lib/go.sh"

GRPCURL_VERSION="${GRPCURL_VERSION:-v1.9.4}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin_dir="$root/.tools/bin"
target="$bin_dir/grpcurl"

# `grpcurl -version` prints "grpcurl <version>" (to stderr) when built with the
# version stamped in, as below.
if [ -x "$target" ] && [ "$("$target" -version 2>&1)" = "grpcurl $GRPCURL_VERSION" ]; then
  echo "grpcurl $GRPCURL_VERSION already installed at $target"
  exit 0
fi

# Release builds stamp main.version; without it grpcurl reports "dev build"
# and the idempotency check above could not recognise the pinned version.
go_install install-grpcurl "$bin_dir" "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION" \
  "-X main.version=$GRPCURL_VERSION"

installed="$("$target" -version 2>&1)"
if [ "$installed" != "grpcurl $GRPCURL_VERSION" ]; then
  echo "install-grpcurl: expected 'grpcurl $GRPCURL_VERSION', got '$installed'" >&2
  exit 1
fi
echo "installed $installed at $target"
