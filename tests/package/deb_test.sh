#!/bin/bash
# The Debian package `make deb` built (BUILD_DIR/ipcwatch_<version>_amd64.deb), checked the way
# an operator meets it: its control fields and Depends against the libraries the binary really
# loads, its files and conffile against the source tree, lintian without errors, and, as root,
# its whole life in a fresh Debian 12 root (mmdebstrap, cached): installed by dpkg, the unit
# enabled, the agent running from there with the libraries its Depends pulled in, an edited
# configuration kept across a reinstall, then removed (configuration kept) and purged (nothing
# left but dpkg's log).
#
#   tests/package/deb_test.sh SOURCE_DIR BUILD_DIR VERSION
set -euo pipefail
source=$(realpath "${1:?usage: deb_test.sh SOURCE_DIR BUILD_DIR VERSION}")
build=$(realpath "${2:?build dir}")
version=${3:?version}
deb=$build/ipcwatch_${version}_amd64.deb
if [ ! -f "$deb" ]; then
  echo "FAIL: $deb does not exist: build it with 'make deb' (make test does)" >&2
  exit 1
fi
stage=$(mktemp -d /tmp/ipcwatch-deb-XXXXXX)
trap 'rm -rf "$stage"' EXIT
# shellcheck source=checks.sh
. "$(dirname "$0")/checks.sh"

# --- The control fields ----------------------------------------------------------------------
expect_eq "Package" "$(dpkg-deb -f "$deb" Package)" ipcwatch
expect_eq "Version" "$(dpkg-deb -f "$deb" Version)" "$version"
expect_eq "Architecture" "$(dpkg-deb -f "$deb" Architecture)" amd64
expect_eq "debian/changelog's version" \
  "$(dpkg-parsechangelog -l "$source/debian/changelog" -S Version)" "$version"
depends=$(dpkg-deb -f "$deb" Depends)

# --- The files, as the source tree has them --------------------------------------------------
tree=$stage/tree
dpkg-deb -x "$deb" "$tree"
dpkg-deb -e "$deb" "$stage/control"
expect_eq "conffiles" "$(cat "$stage/control/conffiles")" /etc/ipcwatch/ipcwatch.yml
cmp -s "$tree/etc/ipcwatch/ipcwatch.yml" "$source/deploy/ipcwatch.yml" ||
  fail "/etc/ipcwatch/ipcwatch.yml differs from deploy/ipcwatch.yml"
unit=$tree/lib/systemd/system/ipcwatch.service
if [ -f "$unit" ]; then
  grep -qxF "ExecStart=/usr/bin/ipcwatch --config /etc/ipcwatch/ipcwatch.yml" "$unit" ||
    fail "the packaged unit does not start /usr/bin/ipcwatch with /etc/ipcwatch/ipcwatch.yml"
  diff <(grep -v '^ExecStart=' "$unit") \
    <(grep -v '^ExecStart=' "$source/deploy/systemd/ipcwatch.service") > /dev/null ||
    fail "the packaged unit differs from deploy/systemd/ipcwatch.service beyond ExecStart"
else
  fail "the package has no /lib/systemd/system/ipcwatch.service"
fi
doc=$tree/usr/share/doc/ipcwatch
[ -x "$tree/usr/bin/ipcwatch" ] || fail "the package has no executable /usr/bin/ipcwatch"
[ -f "$doc/copyright" ] || fail "the package has no copyright file"
# ipcwatch(8), made from --help: it names every command the help does.
man=$tree/usr/share/man/man8/ipcwatch.8.gz
if [ -f "$man" ]; then
  for command in check-config diagnose --config --web.listen-address --version; do
    zcat "$man" | grep -qF -- "$(sed 's/-/\\-/g' <<< "$command")" || fail "ipcwatch(8) does not mention $command"
  done
else
  fail "the package has no ipcwatch(8) manual page"
fi
cmp -s "$doc/README.md" "$source/README.md" || fail "the packaged README differs from README.md"
for page in "$source"/docs/*.md; do
  cmp -s "$doc/docs/${page##*/}" "$page" || fail "docs/${page##*/} is not packaged as is"
done
for example in deploy/ipcwatch.yml deploy/web-config.yml deploy/prometheus/scrape.yml \
  deploy/prometheus/alerts.yml deploy/prometheus/recording.yml \
  deploy/alertmanager/alertmanager.yml dashboards/ipcwatch.json; do
  cmp -s "$doc/examples/${example##*/}" "$source/$example" ||
    fail "$example is not packaged as is under examples/"
done

# --- Depends: every library the binary loads comes from a package it names --------------------
# Each library the binary names (NEEDED), at the path the loader resolves it to (ldd), belongs
# to a package Depends names, itself or through a name it Provides (libspdlog1.10 provides the
# libspdlog1.10-fmt9 its shlibs file asks for); either spelling of the merged /usr.
names() {  # names PACKAGE: the package and what it Provides, one per line
  echo "$1"
  dpkg-query -W -f='${Provides}' "$1" 2> /dev/null | tr ',' '\n' | sed 's/([^)]*)//; s/ //g'
}
resolved=$(ldd "$tree/usr/bin/ipcwatch")
for soname in $(objdump -p "$tree/usr/bin/ipcwatch" | awk '$1 == "NEEDED" {print $2}'); do
  path=$(awk -v so="$soname" '$1 == so && $2 == "=>" {print $3}' <<< "$resolved")
  owner=$( (dpkg -S "$path" || dpkg -S "/usr$path" || dpkg -S "${path#/usr}") 2> /dev/null |
    head -n1 | cut -d: -f1) || true
  if [ -z "$owner" ]; then
    fail "no installed package provides $soname ('$path')"
    continue
  fi
  named=no
  for name in $(names "$owner"); do
    [[ ", $depends," == *", $name "* || ", $depends," == *", $name,"* ]] && named=yes
  done
  [ "$named" = yes ] ||
    fail "the binary needs $soname from $owner, which Depends ($depends) does not name"
done
[ "$(ldd "$tree/usr/bin/ipcwatch" | grep -c 'not found')" -eq 0 ] ||
  fail "the packaged binary has libraries ldd cannot find"

# --- lintian: no errors ---------------------------------------------------------------------
# lintian exits 0 (no error) or 1 (errors); anything else means it did not check.
status=0
lintian --tag-display-limit 0 "$deb" > "$stage/lintian.txt" 2>&1 || status=$?
[ "$status" -le 1 ] || { cat "$stage/lintian.txt" >&2; fail "lintian did not run (status $status)"; }
if grep -q '^E: ' "$stage/lintian.txt"; then
  grep '^E: ' "$stage/lintian.txt" >&2
  fail "lintian reports errors"
fi

# --- Its life in a fresh Debian 12 root (root only) -------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
  echo "package files checked; the install, reinstall, removal and purge need root: skipped" >&2
  [ "$failures" -eq 0 ] || exit 1
  exit 77
fi
# The base: Debian 12 with exactly the packages Depends names (and deb-systemd-helper's), so
# the agent running there proves Depends is enough. Built once per Depends (about 10 s).
# shellcheck disable=SC2046  # one package per word
base=$("$source/scripts/vm/debian-root.sh" deb-root usr/bin/deb-systemd-helper \
  $("$source/scripts/deb-depends.sh" "$deb") init-system-helpers)
root=$stage/root
cp -a "$base" "$root"
listing() {  # every path of the root but the test's own /tmp, sorted
  (cd "$root" && find . -xdev -path ./tmp -prune -o -print | LC_ALL=C sort)
}
listing > "$stage/before.txt"
cp "$deb" "$root/tmp/"
in_root() { chroot "$root" "$@"; }
in_root dpkg -i "/tmp/${deb##*/}" > "$stage/dpkg.log" 2>&1 ||
  { cat "$stage/dpkg.log" >&2; fail "dpkg -i failed"; }
expect_eq "the enabled unit" "$(readlink "$root/etc/systemd/system/multi-user.target.wants/ipcwatch.service")" \
  /lib/systemd/system/ipcwatch.service
reported=$(in_root ipcwatch --version) || fail "ipcwatch --version failed in the installed root"
[[ "$reported" == "ipcwatch $version (revision "* ]] ||
  fail "ipcwatch --version printed '$reported', expected ipcwatch $version (revision ...)"
in_root ipcwatch check-config /etc/ipcwatch/ipcwatch.yml > "$stage/check.log" 2>&1 ||
  { cat "$stage/check.log" >&2; fail "check-config of the installed configuration failed"; }

# A reinstall (as an upgrade runs it) keeps an edited configuration.
echo "watch_paths: [/run/]" >> "$root/etc/ipcwatch/ipcwatch.yml"
edited=$(sha256sum < "$root/etc/ipcwatch/ipcwatch.yml")
in_root dpkg -i "/tmp/${deb##*/}" > "$stage/dpkg.log" 2>&1 ||
  { cat "$stage/dpkg.log" >&2; fail "reinstalling with dpkg -i failed"; }
expect_eq "the edited configuration after a reinstall" \
  "$(sha256sum < "$root/etc/ipcwatch/ipcwatch.yml")" "$edited"

# Removal keeps the configuration and takes the rest, purge takes the configuration and the
# unit's enablement: the root is as before but for dpkg's own log.
in_root dpkg --remove ipcwatch > "$stage/dpkg.log" 2>&1 ||
  { cat "$stage/dpkg.log" >&2; fail "dpkg --remove failed"; }
[ ! -e "$root/usr/bin/ipcwatch" ] || fail "dpkg --remove left /usr/bin/ipcwatch"
[ ! -e "$root/lib/systemd/system/ipcwatch.service" ] || fail "dpkg --remove left the unit"
expect_eq "the configuration after removal" \
  "$(sha256sum < "$root/etc/ipcwatch/ipcwatch.yml" 2> /dev/null)" "$edited"
in_root dpkg --purge ipcwatch > "$stage/dpkg.log" 2>&1 ||
  { cat "$stage/dpkg.log" >&2; fail "dpkg --purge failed"; }
listing > "$stage/after.txt"
left=$(diff "$stage/before.txt" "$stage/after.txt" | grep -v '^> ./var/log/dpkg.log$' |
  grep '^[<>]' || true)
[ -z "$left" ] || fail "after purge the root differs from before the install: $left"

report "$(basename "$deb"): fields, Depends, files, lintian, install, reinstall, remove and purge"
