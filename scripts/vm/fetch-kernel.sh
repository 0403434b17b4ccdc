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

mkdir -p "$apt_dir/archives/partial" "$apt_dir/etc" "$apt_dir/debs"
# A release past its support moves from deb.debian.org to archive.debian.org, whose Release
# files are no longer re-signed with a fresh Valid-Until.
mirrors=("$mirror")
[ "$suite" = bullseye ] && mirrors+=(http://archive.debian.org/debian)
# linux-image-6.1.0-50-amd64-unsigned, linux-image-6.12.117+deb13-amd64-unsigned: the generic
# flavour (the cloud one has no 9p), unsigned (a plain vmlinuz and modules).
pattern="^linux-image-${series//./\\.}\\.[.+0-9a-z-]*-amd64-unsigned\$"
package=
for index in "${!mirrors[@]}"; do
  sources=$apt_dir/etc/$suite-$index.list
  lists=$apt_dir/lists/$suite-$index
  mkdir -p "$lists/partial"
  echo "deb [signed-by=$keyring] ${mirrors[$index]} $suite main" > "$sources"
  apt_opts=(
    -o "Dir::Etc::SourceList=$sources" -o Dir::Etc::SourceParts=/nonexistent
    -o "Dir::State::Lists=$lists" -o "Dir::Cache::Archives=$apt_dir/archives"
    -o Dir::State::status=/dev/null -o APT::Architecture=amd64 -o APT::Sandbox::User=root
    -o Debug::NoLocking=1 -o Acquire::Check-Valid-Until=false -q
  )
  # The package lists are refreshed at most once a day.
  if [ -z "$(find "$lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n1)" ]; then
    echo "fetch-kernel: updating the $suite package lists from ${mirrors[$index]}" >&2
    apt-get "${apt_opts[@]}" update >&2 ||
      echo "fetch-kernel: cannot update the $suite lists from ${mirrors[$index]}" >&2
  fi
  package=$(apt-cache "${apt_opts[@]}" pkgnames linux-image- 2>/dev/null | grep -E "$pattern" |
    grep -v -e -cloud- -e -rt- | sort -V | tail -n1 || true)
  [ -n "$package" ] && break
done
if [ -z "$package" ]; then
  # No package lists (no network): the newest kernel of the series fetched before, if any.
  cached=$(ls -d "$cache/kernels/"* 2>/dev/null |
    grep -E "/linux-image-${series//./\\.}\\.[^/]*-amd64-unsigned-[^/]*$" | sort -V | tail -n1 || true)
  if [ -n "$cached" ] && [ -f "$cached/.complete" ]; then
    echo "fetch-kernel: no $suite package lists; using the cached $(basename "$cached")" >&2
    echo "$cached"
    exit 0
  fi
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
