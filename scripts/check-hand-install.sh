#!/usr/bin/env bash
# Runs README.md's install-by-hand steps, exactly as written, against a
# scratch root: each absolute path is moved under it, systemd-sysusers and
# systemd-tmpfiles get --root, and `systemctl enable --now` becomes
# `systemd-analyze verify` of the installed unit. Then checks the owners and
# modes an operator relies on. Needs root (chown). Usage:
# scripts/check-hand-install.sh (after `cargo build --release`).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "check-hand-install: run as root" >&2; exit 1; }
[ -x target/release/bailiwick ] || { echo "check-hand-install: build first (cargo build --release)" >&2; exit 1; }

fail() { echo "check-hand-install: $*" >&2; exit 1; }

# The fenced block after "Without the package".
steps=$(awk '/^Without the package/ { found = 1 } found && /^```sh/ { inside = 1; next }
             inside && /^```/ { exit } inside { print }' README.md)
[ -n "$steps" ] || fail "no install-by-hand block in README.md"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc" "$root/usr/bin" "$root/usr/lib/systemd/system" \
    "$root/usr/lib/sysusers.d" "$root/usr/lib/tmpfiles.d"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"

group_of() { awk -F: -v n="$1" '$1 == n { print $3 }' "$root/etc/group"; }
units=$(mktemp -d)
verify_unit() {
    sed "s|/usr/bin/bailiwick|$root/usr/bin/bailiwick|" \
        "$root/usr/lib/systemd/system/bailiwick.service" >"$units/bailiwick.service"
    systemd-analyze verify --man=no "$units/bailiwick.service"
}

# Each line of the block, with its paths moved under the scratch root.
while IFS= read -r line; do
    line=${line%%#*}
    [ -n "${line// /}" ] || continue
    case "$line" in
        "systemctl enable --now bailiwick"*) verify_unit || fail "the installed unit is refused"; continue ;;
    esac
    line=$(sed -e "s| /usr/| $root/usr/|g" -e "s| /etc/| $root/etc/|g" \
        -e "s|systemd-sysusers|systemd-sysusers --root=$root|" \
        -e "s|systemd-tmpfiles --create|systemd-tmpfiles --root=$root --create|" <<<"$line")
    # The group is the scratch root's, by number.
    if [[ "$line" == *"-g bailiwick"* ]]; then
        gid=$(group_of bailiwick)
        [ -n "$gid" ] || fail "no bailiwick group when this step runs: $line"
        line=${line//-g bailiwick/-g $gid}
    fi
    echo "+ $line"
    PATH="$root/usr/bin:$PATH" bash -c "$line" >/dev/null || fail "this step fails as written: $line"
done <<<"$steps"
rm -rf "$units"

uid=$(awk -F: '$1 == "bailiwick" { print $3 }' "$root/etc/passwd")
gid=$(group_of bailiwick)
[ -n "$uid" ] && [ "$uid" != 0 ] || fail "no bailiwick user"
expect() {
    local got
    got=$(stat -c '%u:%g %a' "$root$1")
    [ "$got" = "$2" ] || fail "$1 is $got, expected $2"
}
expect /usr/bin/bailiwick "0:0 755"
expect /etc/bailiwick "0:$gid 750"
expect /etc/bailiwick/bailiwick.toml "0:$gid 640"
expect /var/lib/bailiwick "$uid:$gid 700"
echo "check-hand-install: README's steps install, configure and verify as written"
