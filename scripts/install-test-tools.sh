#!/usr/bin/env bash
# Installs the external tools the test suites drive: grpcurl into .tools/bin,
# redis-server/redis-sentinel/redis-cli/redis-benchmark from the OS packages
# (scripts/install-redis.sh), and Chromium for the dashboard's browser test
# (scripts/install-chromium.sh), Prometheus and promtool from the OS packages
# (scripts/install-prometheus.sh), and the Python example agent's virtualenv
# (scripts/install-python-example.sh). Idempotent: tools already present are
# left alone. Called by .ci/run and by the test setup (test/global-setup.ts)
# when a tool is missing. (helm, which takes minutes to build, is installed by
# the chart test itself: scripts/install-helm.sh.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-grpcurl.sh
bash scripts/install-redis.sh
bash scripts/install-chromium.sh
bash scripts/install-prometheus.sh
bash scripts/install-python-example.sh
