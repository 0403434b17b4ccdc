#!/usr/bin/env bash
# Installs the Debian 12 packages ipcwatch needs to build, run and test.
# Idempotent and quiet when everything is already present.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config make
  clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
  libcpp-httplib-dev libssl-dev libcrypt-dev libspdlog-dev libfmt-dev
  libyaml-cpp-dev libcap-dev
  libgtest-dev libgmock-dev nlohmann-json3-dev liburing-dev
  curl prometheus prometheus-alertmanager prometheus-node-exporter iproute2 bpftrace acl ccache
  qemu-system-x86 busybox-static kmod cpio xz-utils zstd mmdebstrap
  debhelper dpkg-dev fakeroot lintian binutils help2man
  buildah podman crun jq python3-yaml
)

# kubectl renders deploy/kubernetes in the tests: Debian's kubernetes-client, unless the machine
# already has a kubectl (from another package that owns /usr/bin/kubectl).
command -v kubectl > /dev/null || PACKAGES+=(kubernetes-client)
missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or install them with apt-get) and retry" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists once if they are absent or older than a day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n1)" ]; then
  apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
