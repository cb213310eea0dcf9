#!/usr/bin/env bash
# `npm run generate`: regenerates everything under gen/ from proto/.
#   gen/ts          TypeScript (server, SDK, dashboard)
#   gen/go          Go stubs (module github.com/breakerbox/breakerbox/gen/go)
#   gen/python      Python stubs (pip install ./gen/python)
#   (clients/python/src/breakerbox/v1 is a symlink to gen/python/breakerbox/v1:
#   the `breakerbox` client package ships these stubs; its wheel and sdist hold
#   the files themselves)
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
npx buf build proto -o gen/descriptor/breakerbox.binpb
