#!/usr/bin/env bash
# What the agent's probes cost the rest of the host, measured in one run so the ratios compare
# like with like: a 1-byte pipe write+read loop with no agent, with the agent's default
# configuration, and with only the BTF-tracepoint probes (no syscall tracepoints).
# Usage: scripts/bench-syscall-cost.sh [BUILD_DIR] [ITERATIONS]    (as root)
set -euo pipefail
build=${1:-build}
iterations=${2:-1000000}
agent="$build/ipcwatch"
loop="$build/tests/ipcwatch_pipe_loop_bench"
[ "$(id -u)" -eq 0 ] || { echo "bench: needs root to load BPF programs" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT

# Starts the agent with config $1 and waits (polling its log) until every probe is attached.
start_agent() {
  "$agent" --config "$1" >"$tmp/agent.log" 2>&1 &
  local port=""
  for _ in $(seq 1 300); do
    port=$(sed -n 's/.*serving metrics on .* (port \([0-9]*\)).*/\1/p' "$tmp/agent.log")
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$tmp/agent.log"; exit 1; }
  if curl -s "http://127.0.0.1:$port/metrics" | grep -q '^ipcwatch_probe_attached.* 0$'; then
    echo "bench: a probe is not attached" >&2; exit 1
  fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
stop_agent() { kill %1; wait %1 || true; }

printf 'web: {listen_address: "127.0.0.1:0"}\n' > "$tmp/default.yml"
printf 'web: {listen_address: "127.0.0.1:0"}\nprobes: {broken_pipe: {enabled: false}}\n' > "$tmp/btf-only.yml"

base=$("$loop" "$iterations")
start_agent "$tmp/default.yml"; full=$("$loop" "$iterations"); stop_agent
start_agent "$tmp/btf-only.yml"; btf=$("$loop" "$iterations"); stop_agent

echo "pipe write+read round trip, ns (best of 5 x $iterations):"
printf '  no agent:                    %8s\n' "$base"
printf '  default config:              %8s  ratio %s\n' "$full" "$(ratio "$full" "$base")"
printf '  sigpipe probes only (tp_btf): %7s  ratio %s\n' "$btf" "$(ratio "$btf" "$base")"
