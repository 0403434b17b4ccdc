#!/usr/bin/env bash
# Boots one stock Debian kernel (5.10, 6.1 or 6.12) in a QEMU guest that shares this machine's
# root read-only, runs the guest suite there once (the e2e tests matching FILTER, against the
# binaries in BUILD_DIR), and prints one line: the kernel, tests passed/failed, and where the
# results and the console log are. A guest that does not power off by the deadline is killed
# and reported as a failure with its console log. Exit status: 0 when every test passed.
# SERIES-selinux (6.1-selinux) boots that kernel with SELinux as its major LSM and lays a Debian
# 12 root with the reference policy and auditd (selinux-root.sh) under this machine's root; the
# guest loads the policy, permissive, before the suite starts. SERIES-systemd (6.1-systemd)
# boots a Debian 12 root of its own (systemd-root.sh) with systemd as PID 1 and runs the package
# boot test there (tests/package/boot_test.sh) on the package `make deb` left in BUILD_DIR;
# FILTER is not used.
# With IPCWATCH_VM_BENCH set (the benchmark's arguments, comma-separated: `--only,backends`), the
# guest runs ipcwatch_bench with them instead of the suite, and this prints its output.
#
#   scripts/vm/run.sh SERIES[-selinux] BUILD_DIR FILTER [RESULTS_DIR]
set -euo pipefail

name=${1:?usage: run.sh SERIES[-selinux] BUILD_DIR FILTER [RESULTS_DIR]}
series=${name%-selinux}
series=${series%-systemd}
build=$(realpath "${2:?build directory}")
filter=${3:?gtest filter}
here=$(dirname "$(realpath "$0")")
results=$(realpath -m "${4:-$build/vmtest/$name}")
deadline=${IPCWATCH_VM_DEADLINE:-1200}
memory=${IPCWATCH_VM_MEMORY:-4G}

kernel_dir=$("$here/fetch-kernel.sh" "$series")
release=$(ls "$kernel_dir/lib/modules")
rm -rf "$results"
mkdir -p "$results"

# The modules a stock kernel needs for the 9p root and the overlay, in load order,
# uncompressed (busybox's insmod reads plain .ko files only).
[ -f "$kernel_dir/lib/modules/$release/modules.dep" ] || depmod -b "$kernel_dir" "$release"
initrd_dir=$(mktemp -d)
trap 'rm -rf "$initrd_dir"' EXIT
mkdir -p "$initrd_dir"/{bin,dev,proc,sys,modules}
cp /bin/busybox "$initrd_dir/bin/busybox"
cp "$here/init" "$initrd_dir/init"
: > "$initrd_dir/modules.order"
for module in virtio_pci 9pnet_virtio 9p overlay; do
  modprobe -d "$kernel_dir" -S "$release" --show-depends "$module" | awk '$1 == "insmod" {print $2}'
done | awk '!seen[$0]++' | while read -r path; do
  name=$(basename "$path")
  case $name in
    *.ko.xz) xz -dc "$path" > "$initrd_dir/modules/${name%.xz}"; name=${name%.xz} ;;
    *.ko.zst) zstd -qdc "$path" > "$initrd_dir/modules/${name%.zst}"; name=${name%.zst} ;;
    *) cp "$path" "$initrd_dir/modules/$name" ;;
  esac
  echo "$name" >> "$initrd_dir/modules.order"
done
(cd "$initrd_dir" && find . | cpio -o -H newc --quiet | gzip -1) > "$results/initrd.gz"

# KVM where it works, TCG (software emulation) otherwise: single-threaded TCG, since with one
# host thread per vCPU the kernel's live code patching (static keys and tracepoints turned on
# and off as the agent attaches probes) raced QEMU and oopsed on int3 (6.12, seen here). /dev/kvm can be present and still
# fail (nested virtualisation without the MSRs QEMU sets): a kernel that starts to print
# under KVM within seconds says it works.
accel=(-accel tcg,thread=single)
if [ -w /dev/kvm ] && timeout 30 qemu-system-x86_64 -accel kvm -cpu max -m 256M -nographic \
    -no-reboot -kernel "$kernel_dir/vmlinuz" -append "console=ttyS0 panic=-1 init=/none" \
    2>/dev/null | grep -q -m1 "Linux version"; then
  accel=(-accel kvm)
fi
cmdline="console=ttyS0 panic=-1 ipcwatch.kernel_dir=$kernel_dir ipcwatch.build=$build"
cmdline+=" ipcwatch.filter=$filter ipcwatch.guest=$here/guest.sh"
# The image's container test (container_test.sh) where `make image` built one, on the kernels
# of IPCWATCH_VM_CONTAINER_SERIES: not 5.10, where Debian 12's crun 1.8 cannot start any
# container in the guest (its self-clone at start fails: "Failed to re-execute libcrun via
# memory file descriptor").
container=0
if [ "$name" = "$series" ] && compgen -G "$build/ipcwatch_*.oci.tar" > /dev/null &&
  [[ " ${IPCWATCH_VM_CONTAINER_SERIES:-6.1 6.12} " == *" $series "* ]]; then
  container=1
  cmdline+=" ipcwatch.container=1"
fi
bench=${IPCWATCH_VM_BENCH:-}
[ -z "$bench" ] || cmdline+=" ipcwatch.bench=$bench"
shares=()
if [ "$name" = "$series-systemd" ]; then
  deb=$(ls "$build"/ipcwatch_*_amd64.deb 2> /dev/null | head -n1)
  [ -n "$deb" ] || { echo "vmtest $name: FAILED: no package in $build (make deb)"; exit 1; }
  cp "$deb" "$here/../../tests/package/boot_test.sh" "$here/../../tests/package/checks.sh" \
    "$results/"
  systemd_root=$("$here/systemd-root.sh" "$deb")
  cmdline+=" ipcwatch.systemd=1"
  shares=(-virtfs "local,path=$systemd_root,mount_tag=systemdroot,security_model=none,readonly=on,multidevs=remap")
elif [ "$name" != "$series" ]; then
  selinux_root=$("$here/selinux-root.sh")
  cmdline+=" security=selinux selinux=1 lsm=lockdown,capability,yama,selinux,bpf ipcwatch.selinux=1"
  shares=(-virtfs "local,path=$selinux_root,mount_tag=selinuxroot,security_model=none,readonly=on,multidevs=remap")
fi
start=$(date +%s)
status=0
timeout --signal=KILL "$deadline" qemu-system-x86_64 "${accel[@]}" -cpu max -smp 2 -m "$memory" \
  -nographic -no-reboot -kernel "$kernel_dir/vmlinuz" -initrd "$results/initrd.gz" \
  -append "$cmdline" \
  -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
  -virtfs "local,path=$results,mount_tag=results,security_model=none" "${shares[@]}" \
  > "$results/console.log" 2>&1 || status=$?
elapsed=$(( $(date +%s) - start ))
if [ "$status" -eq 137 ]; then
  echo "vmtest $name: FAILED: the guest did not finish in ${deadline}s (console: $results/console.log)"
  tail -n 20 "$results/console.log" >&2
  exit 1
fi
if [ -n "$bench" ]; then
  if [ ! -f "$results/bench.status" ]; then
    echo "vmbench $name: FAILED: the guest ended without results (console: $results/console.log)"
    tail -n 40 "$results/console.log" >&2
    exit 1
  fi
  echo "vmbench $name: kernel $(cat "$results/release") (${accel[1]}), ${elapsed}s:"
  cat "$results/bench.txt"
  exit "$(cat "$results/bench.status")"
fi
if [ "$name" = "$series-systemd" ]; then
  if [ ! -f "$results/boot.status" ]; then
    echo "vmtest $name: FAILED: the guest ended without results (console: $results/console.log)"
    tail -n 40 "$results/console.log" >&2
    exit 1
  fi
  failures=$(cat "$results/boot.status")
  exposure=$(sed -n 's/.*Overall exposure level for ipcwatch.service: \([0-9.]*\).*/\1/p' \
    "$results/security.txt" 2> /dev/null || true)
  verdict="package boot test passed"
  [ "$failures" -eq 0 ] || verdict="package boot test FAILED ($failures failures)"
  echo "vmtest $name: kernel $(cat "$results/release" 2> /dev/null || echo unknown) (${accel[1]}), systemd as PID 1: $verdict in ${elapsed}s; systemd-analyze security exposure ${exposure:-unknown} (log: $results/boot.log)"
  [ "$failures" -eq 0 ] || grep '^FAIL' "$results/boot.log" >&2
  exit "$([ "$failures" -eq 0 ] && echo 0 || echo 1)"
fi
if [ ! -f "$results/e2e.status" ]; then
  why="the guest ended without results"
  grep -q "Kernel panic" "$results/console.log" && why="the guest kernel panicked"
  echo "vmtest $name: FAILED: $why (console: $results/console.log)"
  tail -n 40 "$results/console.log" >&2
  exit 1
fi
# One line per test as it ends, "(N ms)" included (the summary repeats the names without it).
passed=$(grep -cE '^\[       OK \] .* \([0-9]+ ms\)$' "$results/e2e.log" || true)
failed=$(grep -cE '^\[  FAILED  \] .* \([0-9]+ ms\)$' "$results/e2e.log" || true)
skipped=$(grep -cE '^\[  SKIPPED \] .* \([0-9]+ ms\)$' "$results/e2e.log" || true)
# What the agent alone reported on this kernel: probes attached, and the inventory backend.
metrics=$results/metrics.txt
probes=$(grep -c '^ipcwatch_probe_attached{.*} 1$' "$metrics" 2>/dev/null || true)
all_probes=$(grep -c '^ipcwatch_probe_attached{' "$metrics" 2>/dev/null || true)
backend=$(sed -n 's/^ipcwatch_host_inventory_backend{backend="\([^"]*\)"} 1$/\1/p' "$metrics" 2>/dev/null)
# How many programs each attach backend carries: "tp_btf 3, tracepoint 12".
backends=$(sed -n 's/^ipcwatch_probe_backend{backend="\([^"]*\)",.*} 1$/\1/p' "$metrics" 2>/dev/null |
  sort | uniq -c | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1}')
walk=$(sed -n 's/.*descriptor tables walked by \([a-z_]*\).*/\1/p' "$results/agent.log" | head -n1)
summary="vmtest $name: kernel $(cat "$results/release") (${accel[1]}): $passed passed, $failed failed, $skipped skipped in ${elapsed}s; probes attached ${probes:-0}/${all_probes:-0}${backends:+ ($backends)}; inventory ${backend:-unknown}${walk:+ ($walk)} (log: $results/e2e.log)"
# The SELinux guest exists for its suite: a test skipped there (no policy loaded, no auditd) is a
# failure of the harness, not a pass.
if [ "$name" != "$series" ] && { [ "$skipped" -ne 0 ] || [ "$passed" -eq 0 ]; }; then
  echo "vmtest $name: FAILED: the SELinux suite did not run ($passed passed, $skipped skipped; see $results/selinux.log)"
  exit 1
fi
# The second pass on the tracepoints, where the first ran programs on trampolines.
status_file=$results/e2e-tracepoint.status
if [ -f "$status_file" ]; then
  again_passed=$(grep -cE '^\[       OK \] .* \([0-9]+ ms\)$' "$results/e2e-tracepoint.log" || true)
  again_failed=$(grep -cE '^\[  FAILED  \] .* \([0-9]+ ms\)$' "$results/e2e-tracepoint.log" || true)
  summary+="; again on tracepoints: $again_passed passed, $again_failed failed"
fi
# The image under podman with the DaemonSet's settings (container_test.sh), when `make image`
# built one.
container_ok=1
if [ "$container" -eq 1 ]; then
  if [ "$(cat "$results/container.status" 2> /dev/null)" = 0 ]; then
    summary+="; image under podman: passed"
  else
    summary+="; image under podman: FAILED (see $results/container.log)"
    grep '^FAIL' "$results/container.log" >&2 2> /dev/null
    container_ok=0
  fi
fi
echo "$summary"
[ "$container_ok" -eq 1 ] && [ "$(cat "$results/e2e.status")" -eq 0 ] &&
  { [ ! -f "$status_file" ] || [ "$(cat "$status_file")" -eq 0 ]; }
