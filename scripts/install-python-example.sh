#!/usr/bin/env bash
# Builds the Python example agent's virtualenv with the commands of its README
# (examples/python-agent/README.md: `python3 -m venv`, then `pip install -r
# requirements.txt` from that directory), but in .tools/python-agent-venv
# (git-ignored), for test/e2e/example-python.test.ts. Idempotent: does nothing
# when the venv was built from the same requirements.txt and the same
# generated stubs (gen/python); otherwise rebuilds it from scratch. Needs
# Python >= 3.10 with the venv module, and PyPI (or a pip mirror).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
example="$root/examples/python-agent"
venv="$root/.tools/python-agent-venv"
stamp="$venv/.installed-from"

mkdir -p "$root/.tools"
# Test runs may start side by side: one builds, the others wait for it.
exec 9>"$root/.tools/python-agent-venv.lock"
flock 9

reader_extra="grpcio-status==1.85.1"
# What the venv is built from: the requirements and the package pip builds
# (-L: src/breakerbox/v1 is a link to gen/python's stubs).
wanted="$(
  echo "$reader_extra"
  cat "$example/requirements.txt"
  cd "$root/clients/python"
  find -L pyproject.toml README.md src -type f ! -path '*/__pycache__/*' ! -path '*.egg-info/*' | LC_ALL=C sort | xargs sha256sum
)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  exit 0
fi

if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "install-python-example: Python 3.10 or later is required as python3 (found: $(python3 --version 2>&1 || echo none))" >&2
  exit 1
fi
echo "installing the Python example agent's dependencies into $venv"
rm -rf "$venv"
cd "$example"
python3 -m venv "$venv"
# shellcheck disable=SC1091
. "$venv/bin/activate"
pip install --quiet --disable-pip-version-check -r requirements.txt
# Not the example's: test/e2e/error-readers/python/read_errors.py reads error
# details with grpcio-status (rpc_status.from_call) from this venv.
pip install --quiet --disable-pip-version-check "$reader_extra"
printf '%s\n' "$wanted" >"$stamp"
