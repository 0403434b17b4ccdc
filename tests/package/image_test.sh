#!/bin/bash
# The OCI archive `make image` built (BUILD_DIR/ipcwatch_<version>.oci.tar), read as an OCI
# layout: one image named ipcwatch:<version>, its config (entrypoint, user, port, labels with the
# version), and its one layer: the agent, the libraries the agent needs and nothing to run
# anything else with (no shell, package manager, compiler or dpkg database), the nobody user for
# the web process, and every time at debian/changelog's date (reproducible).
#
#   tests/package/image_test.sh SOURCE_DIR BUILD_DIR VERSION
set -euo pipefail
source=$(realpath "${1:?usage: image_test.sh SOURCE_DIR BUILD_DIR VERSION}")
build=$(realpath "${2:?build dir}")
version=${3:?version}
archive=$build/ipcwatch_${version}.oci.tar
if [ ! -f "$archive" ]; then
  echo "FAIL: $archive does not exist: build it with 'make image' (make test does)" >&2
  exit 1
fi
work=$(mktemp -d /tmp/ipcwatch-image-XXXXXX)
trap 'rm -rf "$work"' EXIT
# shellcheck source=checks.sh
. "$(dirname "$0")/checks.sh"
blob() { echo "$work/layout/blobs/${1/://}"; }  # blob DIGEST: its file in the layout

mkdir -p "$work/layout" "$work/rootfs"
tar -xf "$archive" -C "$work/layout"
expect_eq "oci-layout" "$(jq -r .imageLayoutVersion "$work/layout/oci-layout")" 1.0.0
expect_eq "image names" "$(jq -r '[.manifests[].annotations["org.opencontainers.image.ref.name"]] | join(" ")' \
  "$work/layout/index.json")" "ipcwatch:$version"
manifest=$(blob "$(jq -r '.manifests[0].digest' "$work/layout/index.json")")
config=$(blob "$(jq -r .config.digest "$manifest")")
# Every blob is what its digest says.
for digest in $(jq -r '.manifests[].digest' "$work/layout/index.json") \
  $(jq -r '.config.digest, .layers[].digest' "$manifest"); do
  expect_eq "sha256 of $digest" "sha256:$(sha256sum < "$(blob "$digest")" | cut -d' ' -f1)" "$digest"
done

expect_eq "Entrypoint" "$(jq -c .config.Entrypoint "$config")" '["/usr/bin/ipcwatch"]'
expect_eq "User" "$(jq -r .config.User "$config")" "0:0"
expect_eq "ExposedPorts" "$(jq -c '.config.ExposedPorts | keys' "$config")" '["9863/tcp"]'
expect_eq "version label" "$(jq -r '.config.Labels["org.opencontainers.image.version"]' "$config")" \
  "$version"
epoch=$(dpkg-parsechangelog -l "$source/debian/changelog" -S Timestamp)
expect_eq "created" "$(jq -r .created "$config")" "$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)"
expect_eq "layers" "$(jq '.layers | length' "$manifest")" 1

layer=$(blob "$(jq -r '.layers[0].digest' "$manifest")")
tar -xzf "$layer" -C "$work/rootfs"
root=$work/rootfs
[ -x "$root/usr/bin/ipcwatch" ] || fail "the image has no executable /usr/bin/ipcwatch"
for path in bin/sh usr/bin/sh bin/bash usr/bin/bash bin/dash usr/bin/dash usr/bin/dpkg \
  usr/bin/apt usr/bin/apt-get usr/bin/gcc usr/bin/cc usr/bin/perl var/lib/dpkg lib/systemd; do
  [ ! -e "$root/$path" ] && [ ! -L "$root/$path" ] || fail "the image has /$path"
done
# Executables: the agent and the dynamic loader, nothing else to run.
executables=$(cd "$root" && find . -type f -perm -u+x ! -name '*.so*' | sort | tr '\n' ' ')
expect_eq "executables" "$executables" "./usr/bin/ipcwatch "
grep -qx 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' "$root/etc/passwd" ||
  fail "the image's /etc/passwd has no nobody user for the web process"
grep -qx 'nogroup:x:65534:' "$root/etc/group" || fail "the image's /etc/group has no nogroup"
# Every library the agent names is in the image.
for soname in $(objdump -p "$root/usr/bin/ipcwatch" | awk '$1 == "NEEDED" {print $2}'); do
  compgen -G "$root/usr/lib/x86_64-linux-gnu/$soname" > /dev/null ||
    compgen -G "$root/lib/x86_64-linux-gnu/$soname" > /dev/null ||
    fail "the image lacks $soname, which the agent needs"
done
cmp -s "$root/usr/bin/ipcwatch" <(dpkg-deb --fsys-tarfile "$build/ipcwatch_${version}_amd64.deb" |
  tar -xOf - ./usr/bin/ipcwatch) || fail "the image's agent is not the one in the Debian package"
# Reproducible: no time in the layer after the changelog's.
newer=$(tar -tvzf "$layer" --full-time | awk -v e="$(date -u -d "@$epoch" '+%Y-%m-%d %H:%M:%S')" \
  '($4 " " $5) > e {print $6}' | head -n 5)
[ -z "$newer" ] || fail "files in the layer are newer than debian/changelog's date: $newer"

report "$(basename "$archive"): ipcwatch:$version, $(du -sh "$root" | cut -f1) unpacked, no shell, reproducible times"
