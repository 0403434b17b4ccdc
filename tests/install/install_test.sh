#!/bin/bash
# The installed tree (`cmake --install`, as `make install` runs it) staged under DESTDIR: every
# file in its FHS place with its mode, the unit pointing at the installed binary and docs for
# the prefix, the configuration identical to the built-in default and kept on reinstall, and
# the installed binary running from there.
#
#   tests/install/install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(realpath "${1:?usage: install_test.sh BUILD_DIR SOURCE_DIR}")
source=$(realpath "${2:?source dir}")
stage=$(mktemp -d /tmp/ipcwatch-install-XXXXXX)
trap 'rm -rf "$stage"' EXIT
# shellcheck source=../package/checks.sh
. "$(dirname "$0")/../package/checks.sh"
# expect_mode PATH MODE: PATH exists with exactly MODE (octal), owned by the installing user.
expect_mode() {
  if [ ! -e "$1" ]; then
    fail "$1 is not installed"
    return
  fi
  local got want
  got=$(stat -c '%a %u:%g' "$1")
  want="$2 $(id -u):$(id -g)"  # root's when installed as root
  [ "$got" = "$want" ] || fail "$1: mode and owner $got, expected $want"
}
# expect_line FILE LINE: FILE has exactly LINE.
expect_line() {
  grep -qxF -- "$2" "$1" || fail "$1 has no line '$2'"
}

install_into() {  # install_into DESTDIR PREFIX
  DESTDIR=$1 cmake --install "$build" --prefix "$2" > "$1.log" 2>&1 ||
    { cat "$1.log" >&2; fail "cmake --install --prefix $2 failed"; }
}

# /usr/local, the default prefix.
root=$stage/local
install_into "$root" /usr/local
expect_mode "$root/usr/local/bin/ipcwatch" 755
expect_mode "$root/etc/ipcwatch" 755
expect_mode "$root/etc/ipcwatch/ipcwatch.yml" 644
cmp -s "$root/etc/ipcwatch/ipcwatch.yml" "$source/deploy/ipcwatch.yml" ||
  fail "/etc/ipcwatch/ipcwatch.yml differs from deploy/ipcwatch.yml"
unit=$root/usr/local/lib/systemd/system/ipcwatch.service
expect_mode "$unit" 644
expect_line "$unit" "ExecStart=/usr/local/bin/ipcwatch --config /etc/ipcwatch/ipcwatch.yml"
expect_line "$unit" "Documentation=file:///usr/local/share/doc/ipcwatch/README.md"
# The unit as shipped apart from those two lines.
diff <(grep -v '^ExecStart=\|^Documentation=' "$unit") \
  <(grep -v '^ExecStart=\|^Documentation=' "$source/deploy/systemd/ipcwatch.service") > /dev/null ||
  fail "the installed unit differs from deploy/systemd/ipcwatch.service beyond its paths"
doc=$root/usr/local/share/doc/ipcwatch
for file in README.md docs/runbook.md docs/security.md docs/configuration.md docs/metrics.md \
  examples/ipcwatch.yml examples/web-config.yml examples/scrape.yml examples/alerts.yml \
  examples/recording.yml examples/alertmanager.yml examples/ipcwatch.json; do
  expect_mode "$doc/$file" 644
done
cmp -s "$doc/README.md" "$source/README.md" || fail "the installed README differs"
# The README's links into docs/ resolve in the installed tree as in the source tree.
for page in $(grep -o '(docs/[a-z]*\.md' "$source/README.md" | sort -u | cut -c2-); do
  cmp -s "$doc/$page" "$source/$page" || fail "the README links $page, which is not installed as is"
done

# The installed binary runs from there, and accepts the installed configuration.
version=$("$root/usr/local/bin/ipcwatch" --version) || fail "ipcwatch --version failed"
[[ "$version" == "ipcwatch 0."* ]] || fail "ipcwatch --version printed '$version'"
"$root/usr/local/bin/ipcwatch" check-config "$root/etc/ipcwatch/ipcwatch.yml" > "$stage/check.log" 2>&1 ||
  { cat "$stage/check.log" >&2; fail "check-config of the installed configuration failed"; }

# A reinstall keeps the operator's configuration and says so.
echo "watch_paths: [/run/]" >> "$root/etc/ipcwatch/ipcwatch.yml"
edited=$(sha256sum < "$root/etc/ipcwatch/ipcwatch.yml")
install_into "$root" /usr/local
[ "$(sha256sum < "$root/etc/ipcwatch/ipcwatch.yml")" = "$edited" ] ||
  fail "a reinstall overwrote the edited /etc/ipcwatch/ipcwatch.yml"
grep -q "Keeping: $root/etc/ipcwatch/ipcwatch.yml" "$root.log" ||
  fail "a reinstall did not say it kept the configuration"

# /usr, a distribution's prefix: the unit follows it, the configuration stays in /etc.
root=$stage/usr
install_into "$root" /usr
expect_mode "$root/usr/bin/ipcwatch" 755
expect_mode "$root/etc/ipcwatch/ipcwatch.yml" 644
expect_line "$root/usr/lib/systemd/system/ipcwatch.service" \
  "ExecStart=/usr/bin/ipcwatch --config /etc/ipcwatch/ipcwatch.yml"
expect_line "$root/usr/lib/systemd/system/ipcwatch.service" \
  "Documentation=file:///usr/share/doc/ipcwatch/README.md"
[ ! -e "$root/usr/etc" ] || fail "the /usr prefix installed a /usr/etc"

report "installed tree: every file in place (prefixes /usr/local and /usr)"
