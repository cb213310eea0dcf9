#!/usr/bin/env bash
# Installs the external tools the test suites drive: grpcurl into .tools/bin,
# and redis-server/redis-sentinel/redis-cli/redis-benchmark from the OS
# packages (scripts/install-redis.sh). Idempotent: tools already present are
# left alone. Called by .ci/run and by the test setup (test/global-setup.ts)
# when a tool is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-grpcurl.sh
bash scripts/install-redis.sh
