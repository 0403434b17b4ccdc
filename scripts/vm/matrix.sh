#!/usr/bin/env bash
# `make vmtest`: the guest suite on each stock Debian kernel of KERNELS, one boot each, then
# one line per kernel. Exit status 0 only when every kernel passed. A SERIES-selinux entry
# (6.1-selinux) boots that kernel with SELinux and Debian's policy and runs the SELinux suite;
# a SERIES-systemd entry (6.1-systemd) boots it with systemd as PID 1 in a Debian root of its
# own and runs the package boot test (the .deb `make deb` left in BUILD_DIR).
#
#   scripts/vm/matrix.sh BUILD_DIR "5.10 6.1 6.12 6.1-selinux 6.1-systemd" [FILTER]
set -uo pipefail

build=${1:?usage: matrix.sh BUILD_DIR KERNELS [FILTER]}
kernels=${2:?kernel series, e.g. "6.1 6.12"}
# The end-to-end suites that exercise the kernel: the probes (broken pipes, SIGPIPE, FIFO opens,
# unix connect/bind errors), who failed (comm, unit, container and pod from cgroups the tests
# make: these guests are cgroup v2, the build machine v1), the inventory (unix sockets through
# unix_diag, SysV and POSIX IPC in new namespaces), the endpoint checks with diagnose, and the
# web process's confinement (an empty root from a detached tmpfs, no capability in any set); in
# the SELinux guest, the kernel's own AVC denials through every audit source, the endpoint
# selinux check and diagnose.
kernel_filter=${3:-BrokenPipeE2E.*:PipeLimitsE2E.*:ListEndpointsE2E.*:FifoUnixE2E.*:WorkloadE2E.*:UnixSocketsE2E.*:IpcInventoryE2E.*:EndpointsE2eTest.*:PrivilegesE2E.TheProcessThatServesHttpHoldsNoCapability:ProbeBackendE2E.*}
selinux_filter=${3:-SelinuxKernelE2E.*}
here=$(dirname "$(realpath "$0")")

if [ "$(id -u)" -ne 0 ]; then
  echo "vmtest: skipped: needs root (the guest shares this machine's root file system, and" \
    "the guest suite runs as root in it); CI runs it as root" >&2
  exit 0
fi
# Guests run side by side, as many as there are CPUs (IPCWATCH_VM_JOBS): single-threaded TCG
# keeps each on one host CPU, so this shortens the matrix without slowing any guest down.
jobs=${IPCWATCH_VM_JOBS:-$(nproc)}
lines=$(mktemp -d)
trap 'rm -rf "$lines"' EXIT
running=0
for series in $kernels; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  echo "vmtest: booting Debian's $series kernel" >&2
  (
    filter=$kernel_filter
    [[ $series == *-selinux ]] && filter=$selinux_filter
    if line=$("$here/run.sh" "$series" "$build" "$filter"); then
      echo "$line" > "$lines/$series.ok"
    else
      echo "${line:-vmtest $series: FAILED}" > "$lines/$series.failed"
    fi
  ) &
  running=$((running + 1))
done
wait
summary=()
failed=0
for series in $kernels; do
  if [ -f "$lines/$series.ok" ]; then
    summary+=("$(cat "$lines/$series.ok")")
  else
    summary+=("$(cat "$lines/$series.failed" 2>/dev/null || echo "vmtest $series: FAILED")")
    failed=1
  fi
done
echo
printf '%s\n' "${summary[@]}"

# The kernel table of docs/testing.md must say what this run saw, kernel by kernel: the probes attached
# with their backends, and the host inventory's backend and walk (test counts and exact
# releases change too often to be kept there by hand). The SELinux guest's row says "SELinux".
readme=$here/../../docs/testing.md
for line in "${summary[@]}"; do
  [[ $line =~ ^vmtest\ ([0-9.]+)(-selinux)?:\ kernel.*probes\ attached\ ([0-9]+/[0-9]+( \([^\)]*\))?)\;\ inventory\ ([a-z_]+)(\ \(([a-z_]+)\))? ]] ||
    continue
  series=${BASH_REMATCH[1]}
  selinux=${BASH_REMATCH[2]}
  probes=${BASH_REMATCH[3]}
  inventory="/proc walk"
  [ "${BASH_REMATCH[5]}" = bpf_iter ] && inventory="BPF iterators, \`${BASH_REMATCH[7]}\` walk"
  rows=$(grep -E "^\| ${series//./\\.}\.[^|]* \| [^|]* \| " "$readme")
  if [ -n "$selinux" ]; then
    row=$(grep -E '^\| [^|]*SELinux' <<<"$rows" | head -n1)
  else
    row=$(grep -vE '^\| [^|]*SELinux' <<<"$rows" | head -n1)
  fi
  series+=$selinux
  if [ -z "$row" ]; then
    echo "vmtest: docs/testing.md's kernel table has no row for $series" >&2
    failed=1
    continue
  fi
  IFS='|' read -r _ _ _ row_probes row_inventory _ <<<"$row"
  row_probes=$(sed 's/^ *//; s/ *$//' <<<"$row_probes")
  row_inventory=$(sed 's/^ *//; s/ *$//' <<<"$row_inventory")
  if [ "$row_probes" != "$probes" ] || [ "$row_inventory" != "$inventory" ]; then
    echo "vmtest: docs/testing.md's kernel table says '$row_probes' and '$row_inventory' for $series;" \
      "this run saw '$probes' and '$inventory': update the table" >&2
    failed=1
  fi
done
exit "$failed"
