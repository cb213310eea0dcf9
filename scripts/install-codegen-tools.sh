#!/usr/bin/env bash
# Installs the pinned local code generators buf.gen.yaml runs, repo-local and
# git-ignored, so `npm run generate` gives the same gen/ on every machine:
#   .tools/bin/protoc-gen-go, .tools/bin/protoc-gen-go-grpc   (Go module proxy, `go install`)
#   .tools/venv with grpcio-tools                              (PyPI, scripts/codegen/requirements.txt)
# protoc-gen-es comes from node_modules (package.json). Idempotent: does
# nothing when the pinned versions are already installed. Needs Go >= 1.23 and
# Python >= 3.10 on PATH (grpcio 1.85 has no 3.9 wheels).
set -euo pipefail
# shellcheck source=lib/go.sh
source "$(dirname "$0")/lib/go.sh"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin_dir="$root/.tools/bin"
venv="$root/.tools/venv"

PROTOC_GEN_GO_VERSION="v1.36.12"
PROTOC_GEN_GO_GRPC_VERSION="v1.6.2"

# Installs a Go command at a pinned version unless `<cmd> --version` already
# prints that version (they print "<name> v1.2.3" or "<name> 1.2.3").
go_tool() {
  local name="$1" module="$2" version="$3"
  if [ -x "$bin_dir/$name" ] && "$bin_dir/$name" --version 2>&1 | grep -qE " v?${version#v}$"; then
    return 0
  fi
  go_install install-codegen-tools "$bin_dir" "$module@$version"
}

mkdir -p "$bin_dir"
go_tool protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION"
go_tool protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION"

# The venv is current when it was built from this exact requirements file.
stamp="$venv/.requirements.txt"
if [ ! -f "$stamp" ] || ! cmp -s "$stamp" "$root/scripts/codegen/requirements.txt"; then
  if ! command -v python3 >/dev/null 2>&1; then
    echo "install-codegen-tools: Python 3 is required for the Python code generators" >&2
    exit 1
  fi
  echo "installing Python code generators into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/scripts/codegen/requirements.txt"
  cp "$root/scripts/codegen/requirements.txt" "$stamp"
fi
