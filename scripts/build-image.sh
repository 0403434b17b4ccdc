#!/usr/bin/env bash
# Builds the agent's OCI image from Debian packages alone, never from a registry image: the
# root file system is the Debian package `make deb` built (BUILD_DIR/ipcwatch_<version>_amd64.deb)
# over exactly the Debian 12 packages its Depends names, unpacked by mmdebstrap (no maintainer
# script runs, so no shell is needed), then stripped to what the agent loads — no shell, no
# package manager, no compiler — with the packages' copyright files kept. buildah commits it
# (storage of its own under BUILD_DIR/image/, vfs) as ipcwatch:<version>, also tagged latest,
# with every timestamp at the changelog's date so the same inputs give the same image, and
# saves ipcwatch:<version> as an OCI archive: BUILD_DIR/ipcwatch_<version>.oci.tar.
#
#   scripts/build-image.sh [BUILD_DIR]     (make image)
set -euo pipefail
source=$(realpath "$(dirname "$0")/..")
build=$(realpath -m "${1:-$source/build}")
version=$(dpkg-parsechangelog -l "$source/debian/changelog" -S Version)
deb=$build/ipcwatch_${version}_amd64.deb
[ -f "$deb" ] || { echo "build-image: $deb does not exist (make deb)" >&2; exit 1; }
mirror=${IPCWATCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
work=$build/image
rootfs=$work/rootfs
archive=$build/ipcwatch_${version}.oci.tar
# Reproducible: every time in the image is the changelog's.
SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l "$source/debian/changelog" -S Timestamp)
export SOURCE_DATE_EPOCH

rm -rf "$work" "$archive"
mkdir -p "$work"
depends=$("$source/scripts/deb-depends.sh" "$deb" | tr ' ' ,)
echo "build-image: unpacking $depends (mmdebstrap, variant extract)" >&2
mmdebstrap --quiet --variant=extract --include="$depends" bookworm "$rootfs" "$mirror" >&2
dpkg-deb -x "$deb" "$rootfs"

# What the agent does not use at run time: the package database and apt's and dpkg's state,
# the unit, docs (but each package's copyright), manuals, translations, the files mmdebstrap
# copied from this machine.
rm -rf "$rootfs"/var/lib/dpkg "$rootfs"/var/lib/apt "$rootfs"/var/cache "$rootfs"/var/log \
  "$rootfs"/etc/apt "$rootfs"/etc/dpkg "$rootfs"/lib/systemd "$rootfs"/usr/share/man \
  "$rootfs"/usr/share/locale "$rootfs"/usr/share/lintian "$rootfs"/usr/share/gdb \
  "$rootfs"/usr/share/doc-base "$rootfs"/usr/share/info "$rootfs"/usr/share/gcc
find "$rootfs"/usr/share/doc -mindepth 2 ! -name copyright ! -type d -delete
find "$rootfs"/usr/share/doc -mindepth 1 -type d -empty -delete
# The runtime mounts its own over these; empty, so nothing of this machine is in the image.
: > "$rootfs/etc/hostname"
: > "$rootfs/etc/resolv.conf"
: > "$rootfs/etc/hosts"
chmod 0644 "$rootfs/etc/hostname" "$rootfs/etc/resolv.conf" "$rootfs/etc/hosts"
# root, and the web process's user and group (web.user, default nobody), as base-passwd's
# master files name them, with no login shell: the image has none.
printf '%s\n' 'root:x:0:0:root:/root:/usr/sbin/nologin' \
  'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' > "$rootfs/etc/passwd"
printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' > "$rootfs/etc/group"
for forbidden in bin/sh usr/bin/sh usr/bin/dpkg usr/bin/apt usr/bin/gcc usr/bin/cc; do
  [ ! -e "$rootfs/$forbidden" ] || { echo "build-image: the image has /$forbidden" >&2; exit 1; }
done
"$rootfs/lib64/ld-linux-x86-64.so.2" --library-path "$rootfs/lib/x86_64-linux-gnu:$rootfs/usr/lib/x86_64-linux-gnu" \
  "$rootfs/usr/bin/ipcwatch" --version > /dev/null ||
  { echo "build-image: the agent does not run with the image's libraries" >&2; exit 1; }

revision=$(git -C "$source" rev-parse --short=12 HEAD 2> /dev/null || echo unknown)
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
storage=(--root "$work/storage" --runroot "$work/run" --storage-driver vfs)
# Nothing is pulled or verified: a policy of its own instead of the machine's (which a build
# machine need not have).
echo '{"default": [{"type": "insecureAcceptAnything"}]}' > "$work/policy.json"
policy=(--signature-policy "$work/policy.json")
ctr=$(buildah "${storage[@]}" from --quiet scratch)
buildah "${storage[@]}" copy --quiet "$ctr" "$rootfs" / > /dev/null
buildah "${storage[@]}" config --entrypoint '["/usr/bin/ipcwatch"]' --cmd '' --user 0:0 \
  --port 9863/tcp --workingdir / --env PATH=/usr/bin \
  --label org.opencontainers.image.title=ipcwatch \
  --label org.opencontainers.image.description="inter-process communication health exporter for Prometheus" \
  --label org.opencontainers.image.version="$version" \
  --label org.opencontainers.image.revision="$revision" \
  --label org.opencontainers.image.created="$created" "$ctr"
buildah "${storage[@]}" commit "${policy[@]}" --quiet --timestamp "$SOURCE_DATE_EPOCH" --omit-history \
  --format oci "$ctr" "localhost/ipcwatch:$version" > /dev/null
buildah "${storage[@]}" rm "$ctr" > /dev/null
buildah "${storage[@]}" tag "localhost/ipcwatch:$version" localhost/ipcwatch:latest
# The OCI layout of the versioned name, the one the DaemonSet runs: `podman load` takes an
# archive of one image name only (podman 4.3 refuses "more than one image"), so `latest` is a
# tag of buildah's storage here, for `buildah push` to a registry. The layout is archived with
# fixed times, order and owners, so the same inputs give the same archive byte for byte.
buildah "${storage[@]}" push "${policy[@]}" --quiet "localhost/ipcwatch:$version" \
  "oci:$work/oci:ipcwatch:$version"
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
  --format=gnu -C "$work/oci" -cf "$archive" .
echo "build-image: ipcwatch:$version (and latest), $(du -sh "$rootfs" | cut -f1) unpacked" >&2
echo "$archive"
