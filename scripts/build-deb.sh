#!/usr/bin/env bash
# Builds the Debian package the Debian way (debian/, dpkg-buildpackage, debhelper's CMake
# build), from a copy of the tree so the build leaves nothing in the checkout and its artifacts
# land in the build directory: BUILD_DIR/ipcwatch_<version>_amd64.deb, with its debug symbols,
# .buildinfo and .changes beside it and lintian's report in BUILD_DIR/deb/lintian.txt. Exits non-zero when
# lintian reports an error.
#
#   scripts/build-deb.sh [BUILD_DIR]     (make deb)
set -euo pipefail
source=$(realpath "$(dirname "$0")/..")
build=$(realpath -m "${1:-$source/build}")
version=$(dpkg-parsechangelog -l "$source/debian/changelog" -S Version)
work=$build/deb
tree=$work/ipcwatch-$version

# The files git knows (tracked, and new ones not ignored), as they are in the working tree.
rm -rf "$work"
mkdir -p "$tree"
# (A tracked file deleted in the working tree is left out, not an error.)
(cd "$source" && git ls-files -z --cached --others --exclude-standard |
  tar --null --ignore-failed-read -T - -cf - 2> /dev/null) | tar -xf - -C "$tree"

# debhelper points HOME at a scratch directory; keep the compiler cache the other builds use.
export CCACHE_DIR=${CCACHE_DIR:-$(ccache -k cache_dir 2>/dev/null || echo "$HOME/.cache/ccache")}
IPCWATCH_REVISION=$(git -C "$source" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
export IPCWATCH_REVISION
echo "build-deb: building ipcwatch $version ($IPCWATCH_REVISION) in $tree" >&2
(cd "$tree" && dpkg-buildpackage -b -us -uc -j"$(nproc)") > "$work/build.log" 2>&1 ||
  { tail -n 40 "$work/build.log" >&2; echo "build-deb: dpkg-buildpackage failed ($work/build.log)" >&2; exit 1; }

arch=$(dpkg-architecture -qDEB_HOST_ARCH)
# The package, its debug symbols (ipcwatch-dbgsym), the .buildinfo and the .changes.
rm -f "$build"/ipcwatch*_"${version}"_"$arch".*
mv "$work"/ipcwatch*_"${version}"_"$arch".* "$build/"
deb=$build/ipcwatch_${version}_$arch.deb

# lintian on the package and its .changes: warnings are reported, errors fail the build.
# lintian exits 0 (no error) or 1 (errors); anything else means it did not check.
status=0
lintian --tag-display-limit 0 "$build/ipcwatch_${version}_$arch.changes" > "$work/lintian.txt" 2>&1 ||
  status=$?
cat "$work/lintian.txt" >&2
[ "$status" -le 1 ] || { echo "build-deb: lintian did not run (status $status)" >&2; exit 1; }
if grep -q '^E: ' "$work/lintian.txt"; then
  echo "build-deb: lintian reports errors ($work/lintian.txt)" >&2
  exit 1
fi
echo "$deb"
