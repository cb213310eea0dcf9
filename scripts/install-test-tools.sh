#!/usr/bin/env bash
# Installs the external tools the test suites drive, into .tools/bin.
# Idempotent: tools already present are left alone. Called by .ci/run and by
# the test setup (test/global-setup.ts) when a tool is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-grpcurl.sh
