#!/usr/bin/env bash
# Builds, once, a Debian 12 root file system with PACKAGES (mmdebstrap --variant=apt, in a
# chroot, from the Debian mirror, so this machine's apt setup and state are never touched) and
# prints its directory: <cache>/NAME/bookworm-<key>, keyed by the package list (delete it to
# refresh). The build counts only when GLOB (relative to the root) then matches: a root without
# what it was built for is an error, not a cache entry.
#
#   scripts/vm/debian-root.sh NAME GLOB PACKAGE...
set -euo pipefail
name=${1:?usage: debian-root.sh NAME GLOB PACKAGE...}
glob=${2:?glob the built root must match}
shift 2
[ $# -gt 0 ] || { echo "debian-root: no packages" >&2; exit 1; }
cache=${IPCWATCH_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ipcwatch/vm}
mirror=${IPCWATCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm

key=$(printf '%s\n' "$suite" "$@" | sha256sum | cut -c1-16)
root=$cache/$name/$suite-$key
if [ ! -f "$root.complete" ]; then
  command -v mmdebstrap > /dev/null ||
    { echo "$name: mmdebstrap is not installed (scripts/install-deps.sh)" >&2; exit 1; }
  echo "$name: building a Debian 12 root with $* (mmdebstrap)" >&2
  mkdir -p "$cache/$name"
  rm -rf "$root" "$root.tmp"
  mmdebstrap --quiet --variant=apt --include="$(IFS=,; echo "$*")" "$suite" "$root.tmp" \
    "$mirror" >&2
  compgen -G "$root.tmp/$glob" > /dev/null ||
    { echo "$name: the built root has no $glob" >&2; exit 1; }
  mv "$root.tmp" "$root"
  touch "$root.complete"
fi
echo "$root"
