#!/usr/bin/env bash
# Builds the `breakerbox` Python client (clients/python) as a wheel and an
# sdist with `python -m build`, and installs it into .tools/python-client-venv
# (git-ignored) with its test tools (pytest, pytest-asyncio, mypy, stubs) and
# the `langchain` extra's langchain-core, for
# test/e2e/client-python.test.ts. The sdist is installed first and then the
# wheel over it, so both artifacts are proven installable. Idempotent: does
# nothing when the venv was built from the same sources; otherwise rebuilds
# it from scratch. Needs Python >= 3.10 with venv, and PyPI (or a mirror).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
client="$root/clients/python"
venv="$root/.tools/python-client-venv"
dist="$root/.tools/python-client-dist"
stamp="$venv/.installed-from"

mkdir -p "$root/.tools"
# Test runs may start side by side: one builds, the others wait for it.
exec 9>"$root/.tools/python-client-venv.lock"
flock 9

# What the venv is built from: every file the artifacts are made of, and this script.
wanted="$(
  sha256sum "$0"
  cd "$client"
  find -L pyproject.toml README.md src -type f ! -path '*/__pycache__/*' ! -path '*.egg-info/*' | LC_ALL=C sort | xargs sha256sum
)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  exit 0
fi

if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "install-python-client: Python 3.10 or later is required as python3 (found: $(python3 --version 2>&1 || echo none))" >&2
  exit 1
fi
echo "building the breakerbox Python client and installing it into $venv"
rm -rf "$venv" "$dist"
python3 -m venv "$venv"
pip=("$venv/bin/pip" install --quiet --disable-pip-version-check)
# langchain-core: the `langchain` extra, for breakerbox.langchain's tests and
# mypy; pinned to a release whose dependencies the package index here serves.
# opentelemetry-sdk (with its api): trace context propagation's tests.
"${pip[@]}" build "pytest>=8" "pytest-asyncio>=0.24" "mypy>=1.10" grpc-stubs types-protobuf "langchain-core==1.6.5" "opentelemetry-sdk==1.45.2"
# A copy of the sources, so the build leaves nothing (build/, *.egg-info) in the checkout.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# -L: src/breakerbox/v1 is a link to gen/python; the copy holds the stubs themselves.
cp -RL "$client/pyproject.toml" "$client/README.md" "$client/src" "$work/"
"$venv/bin/python" -m build --outdir "$dist" "$work" >/dev/null
sdist=("$dist"/breakerbox-*.tar.gz)
wheel=("$dist"/breakerbox-*-py3-none-any.whl)
"${pip[@]}" "${sdist[0]}"
"${pip[@]}" --force-reinstall --no-deps "${wheel[0]}"
printf '%s\n' "$wanted" >"$stamp"
