#!/usr/bin/env bash
# The Debian 12 root the systemd guest boots (run.sh SERIES-systemd; debian-root.sh, built
# once): systemd as PID 1 with udev and kmod (the kernel loads unix_diag on the agent's first
# sock_diag request, as on a real host), the tools the package boot test uses (curl, jq,
# bpftool), and the packages the ipcwatch package Depends on, so that installing it in the
# guest needs no network. Prints the directory.
#
#   scripts/vm/systemd-root.sh DEB
set -euo pipefail
deb=${1:?usage: systemd-root.sh DEB}
here=$(dirname "$0")
# shellcheck disable=SC2046  # one package per word
exec "$here/debian-root.sh" systemd-root lib/systemd/systemd systemd systemd-sysv udev kmod curl \
  jq bpftool $("$here/../deb-depends.sh" "$deb")
