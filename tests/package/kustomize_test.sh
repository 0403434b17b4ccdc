#!/bin/bash
# deploy/kubernetes as kubectl renders it: a DaemonSet the guests' container test can run as is
# (daemonset_to_podman.py refuses any setting it cannot apply), running the image `make image`
# builds (ipcwatch:VERSION, never pulled when the node has it), with the ConfigMap's
# configuration accepted by the agent's own check.
#
#   tests/package/kustomize_test.sh VERSION [IPCWATCH_BINARY]   (from the source directory)
set -euo pipefail
version=${1:?usage: kustomize_test.sh VERSION [IPCWATCH_BINARY]}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
kubectl kustomize deploy/kubernetes > "$work/rendered.yaml"
/usr/bin/python3 tests/package/daemonset_to_podman.py "$work/config" < "$work/rendered.yaml" \
  > "$work/run.json"
image=$(jq -r .image "$work/run.json")
[ "$image" = "ipcwatch:$version" ] ||
  { echo "FAIL: the DaemonSet runs $image, make image builds ipcwatch:$version" >&2; exit 1; }
grep -qE '^ +imagePullPolicy: IfNotPresent$' "$work/rendered.yaml" ||
  { echo "FAIL: the DaemonSet's imagePullPolicy is not IfNotPresent (an imported image would be pulled)" >&2; exit 1; }
[ -s "$work/config/ipcwatch.yml" ] ||
  { echo "FAIL: the ConfigMap mounted at /etc/ipcwatch has no ipcwatch.yml" >&2; exit 1; }
if [ -n "${2:-}" ]; then
  "$2" check-config "$work/config/ipcwatch.yml"
fi
echo "deploy/kubernetes renders a DaemonSet of ipcwatch:$version the container test runs as is"
