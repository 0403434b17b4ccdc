#!/usr/bin/env bash
# The Debian 12 root the SELinux guest lays under this machine's root (debian-root.sh, built
# once, about a minute): Debian's reference policy compiled and installed by its own
# maintainer scripts (selinux-policy-default), load_policy and setenforce (selinux-utils,
# policycoreutils), and auditd for a real audit.log. Prints the directory.
#
#   scripts/vm/selinux-root.sh
set -euo pipefail
exec "$(dirname "$0")/debian-root.sh" selinux-root 'etc/selinux/default/policy/policy.*' \
  selinux-policy-default selinux-utils policycoreutils auditd
