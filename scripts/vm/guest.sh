#!/bin/bash
# Runs inside the test guest, in the host's root file system (read-only 9p under a tmpfs
# overlay), as its PID 1: sets up what a booted system has, runs the guest suite, writes the
# results to /mnt (the host's results directory) and powers the guest off.
set -u
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t bpf bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null || true
ip link set lo up
out=/mnt
# The SELinux guest (ipcwatch.selinux=1): Debian's reference policy loaded, permissive as its
# /etc/selinux/config says (the suite turns enforcing on around each denied access). Every task
# so far is then kernel_t, which the policy leaves unconfined. Files on the 9p root carry no
# label (unlabeled_t): the root directory gets root_t, so that the confined domains the suite
# enters may walk from it.
if grep -q ipcwatch.selinux=1 /proc/cmdline; then
  {
    ldconfig
    mount -t selinuxfs selinuxfs /sys/fs/selinux
    load_policy && chcon system_u:object_r:root_t:s0 / && getenforce && id -Z
  } > "$out/selinux.log" 2>&1 || echo "selinux: cannot load the policy (see selinux.log)" > "$out/error"
fi
uname -r > "$out/release"
params=$(cat /proc/cmdline)
build=$(sed -n 's/.*ipcwatch.build=\([^ ]*\).*/\1/p' <<<"$params")
filter=$(sed -n 's/.*ipcwatch.filter=\([^ ]*\).*/\1/p' <<<"$params")
bench=$(sed -n 's/.*ipcwatch.bench=\([^ ]*\).*/\1/p' <<<"$params")
cd "$build" || { echo "no build directory $build" > "$out/error"; echo o > /proc/sysrq-trigger; }
# The benchmark instead of the suite (run.sh with IPCWATCH_VM_BENCH): its arguments come
# comma-separated, as a kernel parameter holds no spaces.
if [ -n "$bench" ]; then
  # shellcheck disable=SC2046  # word splitting of the arguments is the point
  ./tests/ipcwatch_bench $(tr , ' ' <<<"$bench") > "$out/bench.txt" 2>&1
  echo $? > "$out/bench.status"
  sync
  echo o > /proc/sysrq-trigger
  sleep 60
fi
# The agent alone with its embedded default first: which probes attach on this kernel, and
# which host inventory backend it chose (the harness's summary line reads both).
./ipcwatch --web.listen-address 127.0.0.1:19863 > "$out/agent.log" 2>&1 &
agent=$!
for _ in $(seq 1 240); do
  if curl -sf http://127.0.0.1:19863/metrics > "$out/metrics.txt" &&
    grep -q '^ipcwatch_host_inventory_backend{' "$out/metrics.txt"; then
    break
  fi
  sleep 0.5
done
kill "$agent"
wait "$agent"
./tests/ipcwatch_e2e_tests --gtest_filter="$filter" --gtest_output="xml:$out/e2e.xml" \
  > "$out/e2e.log" 2>&1
echo $? > "$out/e2e.status"
# Where programs took BPF trampolines, the EPIPE, FIFO and unix suites run again on the tracepoints
# those programs fall back to elsewhere: both backends are held to the same exact counts.
if grep -q '^ipcwatch_probe_backend{backend="fexit"' "$out/metrics.txt"; then
  IPCWATCH_PROBE_BACKEND=tracepoint ./tests/ipcwatch_e2e_tests \
    --gtest_filter='BrokenPipeE2E.*:FifoUnixE2E.*:ProbeBackendE2E.*' \
    --gtest_output="xml:$out/e2e-tracepoint.xml" > "$out/e2e-tracepoint.log" 2>&1
  echo $? > "$out/e2e-tracepoint.status"
fi
# The image `make image` built, under podman with the DaemonSet's settings, where run.sh asks
# for it (ipcwatch.container=1).
if grep -q ipcwatch.container=1 /proc/cmdline; then
  "$(dirname "$0")/../../tests/package/container_test.sh" "$(realpath "$(dirname "$0")/../..")" \
    "$build" "$out"
fi
sync
echo o > /proc/sysrq-trigger
sleep 60
