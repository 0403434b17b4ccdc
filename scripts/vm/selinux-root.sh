#!/usr/bin/env bash
# Builds, once, the Debian 12 root file system the SELinux guest lays under this machine's root:
# Debian's reference policy compiled and installed by its own maintainer scripts
# (selinux-policy-default), load_policy and setenforce (selinux-utils, policycoreutils), and
# auditd for a real audit.log. mmdebstrap builds it in a chroot (about a minute) from the
# Debian mirror, so the machine's apt setup and state are never touched. Prints the directory:
# <cache>/selinux-root/<key>, keyed by the suite and package list (delete it to refresh).
#
#   scripts/vm/selinux-root.sh
set -euo pipefail

cache=${IPCWATCH_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ipcwatch/vm}
mirror=${IPCWATCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
packages=(selinux-policy-default selinux-utils policycoreutils auditd)

key=$(printf '%s\n' "$suite" "${packages[@]}" | sha256sum | cut -c1-16)
root=$cache/selinux-root/$suite-$key
if [ ! -f "$root.complete" ]; then
  command -v mmdebstrap > /dev/null ||
    { echo "selinux-root: mmdebstrap is not installed (scripts/install-deps.sh)" >&2; exit 1; }
  echo "selinux-root: building a Debian 12 root with ${packages[*]} (mmdebstrap)" >&2
  mkdir -p "$cache/selinux-root"
  rm -rf "$root" "$root.tmp"
  mmdebstrap --quiet --variant=apt --include="$(IFS=,; echo "${packages[*]}")" \
    "$suite" "$root.tmp" "$mirror" >&2
  # The policy the guest loads: without it the build did not do what it is for.
  compgen -G "$root.tmp/etc/selinux/default/policy/policy.*" > /dev/null ||
    { echo "selinux-root: the built root has no compiled policy" >&2; exit 1; }
  mv "$root.tmp" "$root"
  touch "$root.complete"
fi
echo "$root"
