#!/usr/bin/env bash
# Regenerates bpf/vmlinux.h from a kernel's BTF. The checked-in header lets CO-RE programs
# build on any host; libbpf relocates field offsets against the running kernel at load time.
# Usage: scripts/gen-vmlinux.sh [BTF_FILE]   (default: /sys/kernel/btf/vmlinux)
set -euo pipefail
btf=${1:-/sys/kernel/btf/vmlinux}
out="$(dirname "$0")/../bpf/vmlinux.h"
if [ "$(uname -m)" != x86_64 ] && [ $# -eq 0 ]; then
  echo "gen-vmlinux: the checked-in header is x86_64; pass an x86_64 BTF file" >&2
  exit 1
fi
bpftool btf dump file "$btf" format c > "$out.tmp"
mv "$out.tmp" "$out"
echo "gen-vmlinux: wrote $out from $btf ($(uname -r))"
