#!/bin/bash
# Runs in the test guests of 6.1 and 6.12 (scripts/vm/guest.sh, as root, cgroup v2, this
# machine's root under a tmpfs overlay), after the e2e suites: the image `make image` built
# (BUILD_DIR/ipcwatch_<version>.oci.tar) under a real OCI runtime (podman with crun) with the
# DaemonSet's exact settings, as deploy/kubernetes renders them (kubectl kustomize, turned into
# podman arguments by daemonset_to_podman.py, which refuses any setting it cannot apply):
# host PID and network, only its capabilities, a read-only root, the host mounts at the
# manifest's paths, the ConfigMap's configuration (with one FIFO endpoint added). Then, for
# things outside the container: exact EPIPE counts for a process of this test, the endpoint up,
# the unix sockets of a network namespace of the host; and a stop that exits 0 and leaves none
# of the agent's BPF links behind. Results: OUT/container.log and OUT/container.status.
#
#   tests/package/container_test.sh SOURCE_DIR BUILD_DIR OUT
set -uo pipefail
source=${1:?usage: container_test.sh SOURCE_DIR BUILD_DIR OUT}
build=${2:?build dir}
out=${3:?results dir}
exec > "$out/container.log" 2>&1
# shellcheck source=checks.sh
. "$(dirname "$0")/checks.sh"
work=/tmp/ipcw-container
podman_=(podman --root "$work/storage" --runroot "$work/run" --storage-driver vfs
  --cgroup-manager cgroupfs --events-backend none)
finish() {
  "${podman_[@]}" logs ipcwatch > "$out/container-agent.log" 2>&1
  "${podman_[@]}" rm -f ipcwatch > /dev/null 2>&1
  [ -z "${holder:-}" ] || kill "$holder" 2> /dev/null
  [ -z "${listener:-}" ] || kill "$listener" 2> /dev/null
  ip netns delete ipcw-ctr 2> /dev/null
  echo "$failures failure(s)"
  echo "$failures" > "$out/container.status"
  exit 0
}
metrics=$work/metrics.txt
mkdir -p "$work"
# Nothing is pulled or verified; the guest's overlay takes the policy podman insists on.
mkdir -p /etc/containers
[ -f /etc/containers/policy.json ] ||
  echo '{"default": [{"type": "insecureAcceptAnything"}]}' > /etc/containers/policy.json

archive=$(ls "$build"/ipcwatch_*.oci.tar)
version=$(basename "$archive" .oci.tar)
version=${version#ipcwatch_}
"${podman_[@]}" load -q -i "$archive" || { fail "podman load $archive failed"; finish; }
"${podman_[@]}" image exists "ipcwatch:$version" || fail "the archive has no ipcwatch:$version"

# The DaemonSet as rendered, as podman arguments; its ConfigMap's files in a directory.
kubectl kustomize "$source/deploy/kubernetes" > "$work/rendered.yaml" ||
  { fail "kubectl kustomize deploy/kubernetes failed"; finish; }
/usr/bin/python3 "$source/tests/package/daemonset_to_podman.py" "$work/config" \
  < "$work/rendered.yaml" > "$work/run.json" || { fail "the DaemonSet cannot be run as is"; finish; }
image=$(jq -r .image "$work/run.json")
[ "$image" = "ipcwatch:$version" ] || fail "the DaemonSet runs $image, make image builds ipcwatch:$version"
# (Through files: the guest's /dev has no /dev/fd for process substitution.)
jq -r '.podman_args[]' "$work/run.json" > "$work/podman_args"
jq -r '.args[]' "$work/run.json" > "$work/agent_args"
mapfile -t run_args < "$work/podman_args"
# What the kubelet makes for a DirectoryOrCreate hostPath (the pod log directories).
jq -r '.create[]' "$work/run.json" > "$work/create_dirs"
while read -r dir; do mkdir -p "$dir"; done < "$work/create_dirs"
mapfile -t agent_args < "$work/agent_args"
probe_port=$(jq -r .readiness.port "$work/run.json")
probe_path=$(jq -r .readiness.path "$work/run.json")
echo "podman run ${run_args[*]} $image ${agent_args[*]}"

# A FIFO endpoint on the host, under /run (mounted from the host, HostToContainer), added to
# the ConfigMap's configuration the way an operator would.
fifo=/run/ipcw-ctr.fifo
rm -f "$fifo"
mkfifo -m 0620 "$fifo"
bash -c "exec 3<> $fifo; exec sleep infinity" &
holder=$!
sed -i 's|^endpoints: \[\].*|endpoints:\n  - name: ctr_fifo\n    path: /run/ipcw-ctr.fifo\n    type: fifo\n    clients:\n      - name: root_writer\n        user: root\n        access: write|' \
  "$work/config/ipcwatch.yml"
grep -q 'name: ctr_fifo' "$work/config/ipcwatch.yml" || fail "the ConfigMap's configuration has no 'endpoints: []' line to extend"

# A network namespace of the host with exactly one listening unix socket in it.
ip netns add ipcw-ctr || fail "ip netns add failed"
ip netns exec ipcw-ctr /usr/bin/python3 -c '
import socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind("\0ipcw-ctr-listener")
s.listen(4)
time.sleep(3600)' &
listener=$!
netns=$(stat -L -c %i /run/netns/ipcw-ctr)

"${podman_[@]}" run -d --name ipcwatch "${run_args[@]}" "$image" "${agent_args[@]}" > /dev/null ||
  { fail "podman run failed"; finish; }
# The readiness probe, as the kubelet would ask it, on the host's network.
ready() { curl -sf --max-time 5 "http://127.0.0.1:$probe_port$probe_path" > /dev/null; }
poll 120 ready || { fail "the readiness probe $probe_path never answered"; finish; }
metrics_url=http://127.0.0.1:$probe_port/metrics
scrape || fail "no /metrics"
grep '^ipcwatch_probe_attached{.*} 0$' "$metrics" && fail "probes failed to attach in the container"
grep '^ipcwatch_collector_success{.*} 0$' "$metrics" && fail "collectors fail in the container"
# The ConfigMap's configuration works whole in the container: nothing it enables is refused.
"${podman_[@]}" logs ipcwatch > "$work/agent.log" 2>&1 || fail "podman logs failed"
grep -E '"level":"(error|critical)"|unavailable' "$work/agent.log" &&
  fail "the agent in the container logs errors or unavailable sources"
echo "container: $(grep -c '^ipcwatch_probe_attached{.*} 1$' "$metrics") probes attached"

# Exactly one EPIPE per run of `yes` into a pipe whose reader exits (boot_test.sh says why),
# from a process outside the container.
cp /usr/bin/yes /tmp/ipcw-ctr-epipe
for _ in 1 2 3; do
  (trap '' PIPE; /tmp/ipcw-ctr-epipe | true) 2> /dev/null
done
epipe='ipc_epipe_total{comm="ipcw-ctr-epipe",kind="pipe"}'
poll 30 series_is "$epipe" 3 || fail "$epipe is '$(value "$epipe")', expected 3"

up='ipc_endpoint_up{client="root_writer",endpoint="ctr_fifo"}'
poll 30 series_is "$up" 1 || fail "$up is '$(value "$up")', expected 1: $(grep '^ipc_endpoint' "$metrics")"

sockets="ipc_unix_sockets{netns=\"$netns\",socket_type=\"stream\",state=\"listening\"}"
poll 30 series_is "$sockets" 1 ||
  fail "$sockets is '$(value "$sockets")', expected 1: $(grep "netns=\"$netns\"" "$metrics")"

# Stop: exit status 0, and the BPF links the agent's descriptors held are gone.
pid=$("${podman_[@]}" inspect --format '{{.State.Pid}}' ipcwatch)
links=$(bpf_ids_held "$pid" link_id)
[ -n "$links" ] || fail "the containerised agent (pid $pid) holds no BPF link"
"${podman_[@]}" stop -t 10 ipcwatch > /dev/null || fail "podman stop failed"
code=$("${podman_[@]}" inspect --format '{{.State.ExitCode}}' ipcwatch)
[ "$code" = 0 ] || fail "the agent exited with status $code on stop"
# shellcheck disable=SC2086  # one id per word
left=$(bpf_ids_left link $links)
[ -z "$left" ] || fail "BPF links of the stopped container are still there:$left"
finish
