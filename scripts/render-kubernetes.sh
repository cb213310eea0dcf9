#!/usr/bin/env bash
# Renders deploy/kubernetes/breakerbox.yaml, the plain manifests, from the Helm
# chart with deploy/kubernetes/values.yaml (release "breakerbox", namespace
# "breakerbox"). test/deploy/helm-chart.test.ts fails when the committed file
# differs from a fresh render: after changing the chart, run this and commit.
#
# Usage: scripts/render-kubernetes.sh            write the file
#        scripts/render-kubernetes.sh --stdout   print it instead
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
helm="$root/.tools/bin/helm"
[ -x "$helm" ] || bash "$root/scripts/install-helm.sh" >&2
render() {
  echo "# Rendered from deploy/helm/breakerbox with deploy/kubernetes/values.yaml by"
  echo "# scripts/render-kubernetes.sh: edit the chart or the values, not this file."
  "$helm" template breakerbox "$root/deploy/helm/breakerbox" --namespace breakerbox \
    -f "$root/deploy/kubernetes/values.yaml"
}
if [ "${1:-}" = "--stdout" ]; then
  render
else
  render > "$root/deploy/kubernetes/breakerbox.yaml"
  echo "wrote deploy/kubernetes/breakerbox.yaml"
fi
