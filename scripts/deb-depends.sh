#!/usr/bin/env bash
# The package names a .deb's Depends field lists, one per word, without versions: what a root
# must hold for the package to install and run (the Depends of our own package are single
# names, from dpkg-shlibdeps; an alternative would be refused rather than half read).
#
#   scripts/deb-depends.sh DEB
set -euo pipefail
depends=$(dpkg-deb -f "${1:?usage: deb-depends.sh DEB}" Depends)
if [[ $depends == *"|"* ]]; then
  echo "deb-depends: $1 has alternatives in Depends ($depends)" >&2
  exit 1
fi
sed 's/([^)]*)//g; s/,/ /g; s/  */ /g; s/^ //; s/ $//' <<< "$depends"
