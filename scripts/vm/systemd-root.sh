#!/usr/bin/env bash
# Builds, once, the Debian 12 root file system the systemd guest boots (run.sh SERIES-systemd):
# systemd as PID 1 with udev and kmod (the kernel loads unix_diag on the agent's first
# sock_diag request, as on a real host), the tools the package boot test uses (curl, jq, bpftool), and the
# packages the ipcwatch package Depends on, so that `dpkg -i` of it in the guest needs no
# network. mmdebstrap builds it in a chroot from the Debian mirror, leaving this machine's apt
# alone. Prints the directory: <cache>/systemd-root/<key>, keyed by the suite and package list
# (delete it to refresh).
#
#   scripts/vm/systemd-root.sh DEB
set -euo pipefail

deb=${1:?usage: systemd-root.sh DEB}
cache=${IPCWATCH_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ipcwatch/vm}
mirror=${IPCWATCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
depends=$(dpkg-deb -f "$deb" Depends | sed 's/([^)]*)//g; s/ //g')
packages=(systemd systemd-sysv udev kmod curl jq bpftool "${depends//,/ }")
# shellcheck disable=SC2206  # the Depends list splits into package names on purpose
packages=(${packages[@]})

key=$(printf '%s\n' "$suite" "${packages[@]}" | sha256sum | cut -c1-16)
root=$cache/systemd-root/$suite-$key
if [ ! -f "$root.complete" ]; then
  command -v mmdebstrap > /dev/null ||
    { echo "systemd-root: mmdebstrap is not installed (scripts/install-deps.sh)" >&2; exit 1; }
  echo "systemd-root: building a Debian 12 root with ${packages[*]} (mmdebstrap)" >&2
  mkdir -p "$cache/systemd-root"
  rm -rf "$root" "$root.tmp"
  mmdebstrap --quiet --variant=apt --include="$(IFS=,; echo "${packages[*]}")" \
    "$suite" "$root.tmp" "$mirror" >&2
  [ -x "$root.tmp/lib/systemd/systemd" ] ||
    { echo "systemd-root: the built root has no systemd" >&2; exit 1; }
  mv "$root.tmp" "$root"
  touch "$root.complete"
fi
echo "$root"
