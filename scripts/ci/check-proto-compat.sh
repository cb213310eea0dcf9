#!/usr/bin/env bash
# Refuses a wire- or source-breaking change to the published API
# (docs/design.md, "API compatibility"). Compares proto/ as it is now with
# every commit since v1 was declared stable that changed proto/, newest first,
# with `buf breaking` (rules: buf.yaml `breaking`, category FILE): the last
# commit that changed proto/ before this one, and every earlier one, so a
# field removed in one commit and re-added with another type in the next is
# refused too. Runs in CI (.ci/run) and from the test suite
# (test/proto/compat.test.ts).
#
# Environment:
#   PROTO_STABLE_SINCE  the commit that declared breakerbox.v1 stable
#                       (default below); commits before it are not compared.
#   PROTO_COMPAT_LIMIT  compare with at most this many commits (default 50).
set -euo pipefail
cd "${PROTO_COMPAT_ROOT:-$(dirname "$0")/../..}"

# The commit that landed issue 10 (the v1 API): from here on breakerbox.v1
# only grows.
stable_since=${PROTO_STABLE_SINCE:-75dda2785659488388f7f3829f3db7bfdaa28916}
limit=${PROTO_COMPAT_LIMIT:-50}
buf=${BUF:-npx --no-install buf}

if ! git rev-parse --verify --quiet "${stable_since}^{commit}" >/dev/null; then
  echo "proto compatibility: commit $stable_since (v1 declared stable) is not in this clone;" >&2
  echo "fetch the history (git fetch --unshallow) so buf breaking has something to compare with" >&2
  exit 1
fi

# Commits that changed proto/, from the stable one on, newest first.
mapfile -t baselines < <(
  { git rev-list --max-count="$limit" "${stable_since}..HEAD" -- proto/; echo "$stable_since"; } | awk '!seen[$0]++'
)

failed=0
for commit in "${baselines[@]}"; do
  short=$(git rev-parse --short "$commit")
  if out=$($buf breaking --against ".git#ref=${commit}" 2>&1); then
    echo "proto compatible with $short ($(git log -1 --format=%s "$commit" | cut -c1-60))"
  else
    echo "proto/ breaks compatibility with $short ($(git log -1 --format=%s "$commit" | cut -c1-60)):" >&2
    echo "$out" >&2
    failed=1
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "breakerbox.v1 only grows: add a field, value or RPC instead (docs/design.md, API compatibility)" >&2
  exit 1
fi
