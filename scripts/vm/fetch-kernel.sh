#!/usr/bin/env bash
# Fetches the newest stock Debian kernel of a series (5.10, 6.1 or 6.12) into the VM cache and
# unpacks it, through a private apt configuration: its own sources list, package lists and
# download directory under the cache, so the machine's apt setup and state are never touched.
# Prints the directory of the unpacked kernel: <cache>/kernels/<package version>/ with
# vmlinuz and lib/modules/<release>/. A kernel already unpacked is not fetched again.
#
#   scripts/vm/fetch-kernel.sh 6.1
set -euo pipefail

series=${1:?usage: fetch-kernel.sh SERIES (5.10, 6.1 or 6.12)}
cache=${IPCWATCH_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ipcwatch/vm}
apt_dir=$cache/apt
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
mirror=${IPCWATCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}

case $series in
  5.10) suite=bullseye ;;
  6.1) suite=bookworm ;;
  6.12) suite=trixie ;;
  *) echo "fetch-kernel: unknown kernel series '$series' (5.10, 6.1 or 6.12)" >&2; exit 2 ;;
esac

mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/etc" "$apt_dir/debs"
sources=$apt_dir/etc/$suite.list
echo "deb [signed-by=$keyring] $mirror $suite main" > "$sources"
apt_opts=(
  -o "Dir::Etc::SourceList=$sources" -o Dir::Etc::SourceParts=/nonexistent
  -o "Dir::State::Lists=$apt_dir/lists/$suite" -o "Dir::Cache::Archives=$apt_dir/archives"
  -o Dir::State::status=/dev/null -o APT::Architecture=amd64 -o APT::Sandbox::User=root
  -o Debug::NoLocking=1 -q
)
mkdir -p "$apt_dir/lists/$suite/partial"

# The package lists are refreshed at most once a day.
if [ -z "$(find "$apt_dir/lists/$suite" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n1)" ]; then
  echo "fetch-kernel: updating the $suite package lists" >&2
  apt-get "${apt_opts[@]}" update >&2
fi

# linux-image-6.1.0-50-amd64-unsigned, linux-image-6.12.117+deb13-amd64-unsigned: the generic
# flavour (the cloud one has no 9p), unsigned (a plain vmlinuz and modules).
package=$(apt-cache "${apt_opts[@]}" pkgnames linux-image- |
  grep -E "^linux-image-${series//./\\.}[.+0-9a-z-]*-amd64-unsigned$" | grep -v -e -cloud- -e -rt- |
  sort -V | tail -n1)
if [ -z "$package" ]; then
  echo "fetch-kernel: no linux-image-$series*-amd64-unsigned in $suite" >&2
  exit 1
fi
version=$(apt-cache "${apt_opts[@]}" show "$package" | sed -n 's/^Version: //p' | head -n1)
dest=$cache/kernels/$package-$version
if [ ! -f "$dest/.complete" ]; then
  echo "fetch-kernel: downloading $package $version" >&2
  (cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" download "$package" >&2)
  deb=$(ls "$apt_dir/debs/${package}_"*.deb | head -n1)
  rm -rf "$dest.tmp"
  mkdir -p "$dest.tmp"
  dpkg-deb -x "$deb" "$dest.tmp/root"
  cp "$dest.tmp/root/boot/vmlinuz-"* "$dest.tmp/vmlinuz"
  mkdir -p "$dest.tmp/lib"
  # Debian 13 ships its modules under /usr/lib (merged /usr), earlier ones under /lib.
  for modules in "$dest.tmp/root/lib/modules" "$dest.tmp/root/usr/lib/modules"; do
    [ -d "$modules" ] && mv "$modules" "$dest.tmp/lib/modules"
  done
  release=$(ls "$dest.tmp/lib/modules")
  depmod -b "$dest.tmp" "$release"
  rm -rf "$dest.tmp/root" "$deb"
  rm -rf "$dest"
  mv "$dest.tmp" "$dest"
  touch "$dest/.complete"
fi
echo "$dest"
