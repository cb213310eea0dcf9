#!/usr/bin/env bash
# `npm run generate`: regenerates everything under gen/ from proto/.
#   gen/ts          TypeScript (server, SDK, dashboard)
#   gen/go          Go stubs (module github.com/breakerbox/breakerbox/gen/go)
#   gen/python      Python stubs (pip install ./gen/python)
#   gen/descriptor  a buf image with source comments, served by reflection
# CI runs this and fails when the result differs from what is committed.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/install-codegen-tools.sh
rm -rf gen/ts gen/go/breakerbox gen/python/breakerbox
npx buf generate
# PEP 561: lets type checkers use the generated .pyi files once installed.
touch gen/python/breakerbox/v1/py.typed
npx buf build proto -o gen/descriptor/breakerbox.binpb
