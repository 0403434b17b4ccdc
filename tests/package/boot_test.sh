#!/bin/bash
# Runs in the systemd guest (scripts/vm/run.sh 6.1-systemd): a fresh Debian 12 root booted
# with systemd as PID 1, this script started by a Type=simple unit once the boot is done. It
# installs the package `make deb` built the way the README says (apt install of the file,
# whose maintainer scripts enable and start the unit) and holds the agent, under the unit exactly
# as shipped, to exact effects: EPIPE counts for a process of this test, a configured FIFO
# endpoint up after `systemctl reload`, the same main process across the reload, and after
# `systemctl stop` a clean exit with none of its BPF programs left. `systemd-analyze security`
# is recorded. Results go to /mnt (the host's results directory): boot.log, boot.status,
# security.txt, journal.txt; then the guest powers off.
set -uo pipefail
out=/mnt
exec > "$out/boot.log" 2>&1
# shellcheck source=checks.sh
. "$(dirname "$0")/checks.sh"  # run.sh copies it beside this script
finish() {
  journalctl -u ipcwatch --no-pager -o short-monotonic > "$out/journal.txt"
  echo "$failures" > "$out/boot.status"
  sync
  systemctl --no-block poweroff 2> /dev/null  # no D-Bus in the guest: systemd itself does it
  exit 0
}
metrics=/tmp/metrics.txt
metrics_url=http://127.0.0.1:9863/metrics

uname -r > "$out/release"
echo "kernel $(uname -r), $(systemctl --version | head -n1)"
# This script's own unit is Type=simple, so its start does not hold the boot up.
systemctl is-system-running --wait > /dev/null  # running, or degraded: the boot has finished
echo "system: $(systemctl is-system-running)"
[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] || fail "the guest has no unified cgroup hierarchy"

# --- Install, as the README says: the unit is enabled and started by the package -------------
# apt resolves the package's Depends against what the root has; the guest has no network, and
# the root was built with exactly what Depends names, so a missing dependency fails here.
deb=$(ls /mnt/ipcwatch_*_amd64.deb)
apt-get install -y "$deb" || { fail "apt-get install $deb failed"; finish; }
[ "$(systemctl is-enabled ipcwatch)" = enabled ] || fail "the package did not enable ipcwatch.service"
poll 120 scrape || { fail "the agent the package started never served /metrics"; finish; }
[ "$(systemctl is-active ipcwatch)" = active ] || fail "ipcwatch.service is not active"
cmp -s <(systemctl cat ipcwatch | tail -n +2) /lib/systemd/system/ipcwatch.service ||
  fail "the running unit is not the one the package installed (a drop-in changed it)"
main_pid=$(systemctl show -P MainPID ipcwatch)
# Under the sandbox as shipped nothing may degrade quietly: every probe attached, every
# collector succeeding, no error in the journal.
cp "$metrics" "$out/metrics.txt"
attached=$(grep -c '^ipcwatch_probe_attached{.*} 1$' "$metrics")
echo "agent: pid $main_pid, $attached probes attached"
[ "$attached" -gt 0 ] || fail "no probe attached under the unit"
grep '^ipcwatch_probe_attached{.*} 0$' "$metrics" && fail "probes failed to attach under the unit"
grep '^ipcwatch_collector_success{.*} 0$' "$metrics" && fail "collectors fail under the unit"
grep -q '^ipcwatch_collector_success{' "$metrics" || fail "no ipcwatch_collector_success series"
# The agent's text log: "<time> <level> <message>".
journalctl -u ipcwatch --no-pager -o cat | grep -E '^[0-9T:.+-]+ (error|critical) ' &&
  fail "the agent logged errors under the unit"
# The agent's BPF links and programs: the ids its descriptors hold (/proc/PID/fdinfo).
agent_links=$(bpf_ids_held "$main_pid" link_id)
agent_programs=$(bpf_ids_held "$main_pid" prog_id)
[ -n "$agent_links" ] || fail "the agent (pid $main_pid) holds no BPF link"
echo "agent: $(echo "$agent_links" | wc -w) BPF links, $(echo "$agent_programs" | wc -w) programs"

# --- Exact EPIPE counts for a process of this test -------------------------------------------
# `yes` with SIGPIPE ignored writes into a pipe whose reader exits at once: it stops at its
# first failed write, so each run is exactly one EPIPE, counted under its comm and under the
# systemd unit this test runs in (the agent reads it from the writer's cgroup).
own_unit=$(sed -n 's|^0::/.*/\([^/]*\.service\)$|\1|p' /proc/self/cgroup)
[ -n "$own_unit" ] || fail "this test runs in no systemd service: $(cat /proc/self/cgroup)"
cp /usr/bin/yes /tmp/ipcw-boot-epipe
for _ in 1 2 3; do
  (trap '' PIPE; /tmp/ipcw-boot-epipe | true)
done
epipe="ipc_epipe_total{comm=\"ipcw-boot-epipe\",kind=\"pipe\",unit=\"$own_unit\"}"
poll 30 series_is "$epipe" 3 || fail "$epipe is '$(value "$epipe")', expected 3"

# --- A FIFO endpoint, configured and applied with systemctl reload --------------------------
mkfifo -m 0620 /run/ipcw-boot.fifo
# The server holds it open read-write, so it is there for writers without waiting for one.
bash -c 'exec 3<> /run/ipcw-boot.fifo; exec sleep infinity' &
server=$!
config=/etc/ipcwatch/ipcwatch.yml
sed -i 's|^endpoints: \[\].*|endpoints:\n  - name: boot_fifo\n    path: /run/ipcw-boot.fifo\n    type: fifo\n    clients:\n      - name: root_writer\n        user: root\n        access: write|' "$config"
ipcwatch check-config "$config" || fail "check-config rejects the edited $config"
systemctl reload ipcwatch || fail "systemctl reload ipcwatch failed"
up='ipc_endpoint_up{client="root_writer",endpoint="boot_fifo"}'
poll 60 series_is "$up" 1 ||
  fail "$up is '$(value "$up")' after the reload, expected 1: $(grep '^ipc_endpoint' "$metrics")"
[ "$(value ipcwatch_config_last_reload_successful)" = 1 ] ||
  fail "ipcwatch_config_last_reload_successful is '$(value ipcwatch_config_last_reload_successful)'"
[ "$(systemctl show -P MainPID ipcwatch)" = "$main_pid" ] ||
  fail "the reload restarted the agent (MainPID $main_pid became $(systemctl show -P MainPID ipcwatch))"
# Counters survive the reload.
[ "$(value "$epipe")" = 3 ] || fail "$epipe is '$(value "$epipe")' after the reload, expected 3"
grep '^ipcwatch_collector_success{.*} 0$' "$metrics" && fail "collectors fail after the reload"
kill "$server"

# --- Stop: a clean exit, and nothing of the agent left in the kernel --------------------------
systemctl stop ipcwatch || fail "systemctl stop ipcwatch failed"
[ "$(systemctl is-active ipcwatch)" = inactive ] ||
  fail "ipcwatch.service is '$(systemctl is-active ipcwatch)' after stop"
[ "$(systemctl show -P Result ipcwatch)" = success ] ||
  fail "the stop ended with Result=$(systemctl show -P Result ipcwatch), expected success"
# shellcheck disable=SC2086  # one id per word
left=$(bpf_ids_left link $agent_links)
[ -z "$left" ] || fail "BPF links of the stopped agent are still there:$left"
# shellcheck disable=SC2086
left=$(bpf_ids_left prog $agent_programs)
[ -z "$left" ] || fail "BPF programs of the stopped agent are still loaded:$left"
scrape && fail "something still serves :9863 after the stop"

systemd-analyze security ipcwatch.service --no-pager > "$out/security.txt" 2>&1 ||
  fail "systemd-analyze security failed"
echo "security: $(grep -o 'Overall exposure level for ipcwatch.service: .*' "$out/security.txt")"
echo "$failures failure(s)"
finish
