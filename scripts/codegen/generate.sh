#!/usr/bin/env bash
# `npm run generate`: regenerates everything under gen/ from proto/.
#   gen/ts          TypeScript (server, SDK, dashboard)
#   gen/go          Go stubs (module github.com/breakerbox/breakerbox/gen/go)
#   gen/python      Python stubs (pip install ./gen/python)
#   clients/python/src/breakerbox/v1   the same Python stubs, shipped inside the
#                   `breakerbox` client package (a copy of gen/python/breakerbox/v1)
#   gen/descriptor  a buf image with source comments, served by reflection
# CI runs this and fails when the result differs from what is committed.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/install-codegen-tools.sh
rm -rf gen/ts gen/go/breakerbox gen/go/google gen/python/breakerbox gen/python/google
npx buf generate
# The Go and Python stubs import google.rpc and google.api from their own
# packages (genproto, googleapis-common-protos); buf also writes them because
# breakerbox.v1 depends on them, and a second copy would clash with those
# packages' registrations. TypeScript keeps its copy in gen/ts/google.
rm -rf gen/go/google gen/python/google
# PEP 561: lets type checkers use the generated .pyi files once installed.
touch gen/python/breakerbox/v1/py.typed
# The client package ships the stubs as its own breakerbox.v1; its wrapper test
# (test/e2e/client-python.test.ts) fails when this copy drifts from gen/python.
rm -rf clients/python/src/breakerbox/v1
cp -R gen/python/breakerbox/v1 clients/python/src/breakerbox/v1
npx buf build proto -o gen/descriptor/breakerbox.binpb
