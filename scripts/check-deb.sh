#!/usr/bin/env bash
# Installs the Debian package into a scratch root (dpkg --root, maintainer
# scripts run with $DPKG_ROOT) and checks what an operator relies on: owners
# and modes, a configuration that refuses to start until public_url is set,
# the first start through to the first sign-in,
# man pages and completions, a unit systemd accepts, a purge that keeps the
# data. Needs root (dpkg). Usage: scripts/check-deb.sh [PACKAGE.deb]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "check-deb: run as root (dpkg installs into the scratch root)" >&2; exit 1; }

deb="${1:-$(scripts/package-deb.sh)}"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/etc"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
# The scratch root has no passwd of its own to start from.
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"

fail() { echo "check-deb: $*" >&2; exit 1; }
# owner:group and octal mode of a path in the scratch root, by number.
stat_of() { stat -c '%u:%g %a' "$root$1"; }

out=$(dpkg --root="$root" --force-script-chrootless --force-depends -i "$deb" 2>&1) \
    || fail "install failed: $out"
grep -q "set server.public_url" <<<"$out" || fail "postinst said nothing of public_url: $out"

uid=$(awk -F: '$1 == "bailiwick" { print $3 }' "$root/etc/passwd")
gid=$(awk -F: '$1 == "bailiwick" { print $3 }' "$root/etc/group")
[ -n "$uid" ] && [ -n "$gid" ] || fail "no bailiwick user and group after install"
[ "$uid" != 0 ] || fail "the bailiwick user is root"

expect() {
    local got
    got=$(stat_of "$1")
    [ "$got" = "$2" ] || fail "$1 is $got, expected $2"
}
expect /usr/bin/bailiwick "0:0 755"
expect /etc/bailiwick "0:$gid 750"
expect /etc/bailiwick/bailiwick.toml "0:$gid 640"
expect /var/lib/bailiwick "$uid:$gid 700"
expect /usr/lib/systemd/system/bailiwick.service "0:0 644"
for f in /usr/lib/sysusers.d/bailiwick.conf /usr/lib/tmpfiles.d/bailiwick.conf \
    /usr/share/bash-completion/completions/bailiwick \
    /usr/share/zsh/vendor-completions/_bailiwick \
    /usr/share/fish/vendor_completions.d/bailiwick.fish; do
    [ -s "$root$f" ] || fail "$f missing"
done
ls "$root"/usr/share/man/man1/bailiwick.1* >/dev/null 2>&1 || fail "no man page"
ls "$root"/usr/share/man/man1/bailiwick-ctl.1* >/dev/null 2>&1 || fail "no man page for ctl"
sections=$(readelf -SW "$root/usr/bin/bailiwick")
if grep -qE '\.debug_(info|line)' <<<"$sections"; then
    fail "the binary carries debug sections"
fi

# Unconfigured, the packaged configuration is refused, naming the key.
bin="$root/usr/bin/bailiwick"
conf="$root/etc/bailiwick/bailiwick.toml"
if msg=$("$bin" check-config --config "$conf" 2>&1); then
    fail "check-config accepted the unconfigured file"
fi
grep -q "server.public_url" <<<"$msg" || fail "the refusal does not name server.public_url: $msg"
# The one line to set, as the README says.
sed -i 's|^public_url = .*|public_url = "https://bailiwick.example:8443"|' "$conf"
"$bin" check-config --config "$conf" >/dev/null 2>&1 || fail "the configured file is refused"

# The installed unit, verified against this machine's systemd (the scratch
# root has no targets or /bin/kill); only ExecStart points into the root.
units=$(mktemp -d)
sed "s|/usr/bin/bailiwick|$root/usr/bin/bailiwick|" \
    "$root/usr/lib/systemd/system/bailiwick.service" >"$units/bailiwick.service"
verdict=$(systemd-analyze verify --man=no "$units/bailiwick.service" 2>&1) \
    || fail "systemd-analyze verify refused the installed unit: $verdict"
[ -z "$verdict" ] || fail "systemd-analyze verify warns: $verdict"
rm -rf "$units"

# The first start as README walks it, on the installed binary and
# configuration (by hand: the scratch root has no systemd; the flags keep
# it on loopback and in the scratch root): the activation link names
# public_url, the generated certificate names its host, the password the
# link gives signs in.
data="$root/var/lib/bailiwick"
log=$(mktemp)
"$bin" serve --config "$conf" --data-dir "$data" --listen 127.0.0.1:0 >"$log" 2>&1 &
serve_pid=$!
stop_serve() { kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; }
for _ in $(seq 300); do grep -q '^listening on' "$log" && break; sleep 0.1; done
port=$(sed -n 's|^listening on https://127.0.0.1:||p' "$log")
[ -n "$port" ] || { stop_serve; fail "the installed daemon did not start: $(cat "$log")"; }
link=$(grep -o 'https://bailiwick.example:8443/ui/activation/[A-Za-z0-9_-]*' "$log" | head -1)
[ -n "$link" ] || { stop_serve; fail "no first-run link naming public_url: $(cat "$log")"; }
https=(curl -sS --fail --max-time 20 --cacert "$data/tls/cert.pem"
    --connect-to "bailiwick.example:8443:127.0.0.1:$port")
api="https://bailiwick.example:8443/api/v1"
creds=$("${https[@]}" "$api/activation/${link##*/}") \
    || { stop_serve; fail "the first-run link does not open (certificate or link): $creds"; }
pw=$(sed -nE 's/.*"password":"([^"\\]*)".*/\1/p' <<<"$creds")
session=$("${https[@]}" -H 'content-type: application/json' \
    -d "{\"login\":\"admin\",\"password\":\"$pw\"}" "$api/session") \
    || { stop_serve; fail "the first sign-in failed: $session"; }
token=$(sed -nE 's/.*"token":"([^"]*)".*/\1/p' <<<"$session")
me=$("${https[@]}" -H "authorization: Bearer $token" "$api/me") \
    || { stop_serve; fail "the first session does not work: $me"; }
grep -q '"login":"admin"' <<<"$me" || { stop_serve; fail "signed in as someone else: $me"; }
stop_serve
rm -f "$log"

# Reinstall (an upgrade) keeps the operator's configuration.
dpkg --root="$root" --force-script-chrootless --force-depends -i "$deb" >/dev/null 2>&1 \
    || fail "reinstall failed"
grep -q '^public_url = "https://bailiwick.example:8443"' "$conf" \
    || fail "reinstall replaced the operator's configuration"

# Purge: configuration gone, data kept.
touch "$root/var/lib/bailiwick/bailiwick.redb"
dpkg --root="$root" --force-script-chrootless --force-depends -P bailiwick >/dev/null 2>&1 \
    || fail "purge failed"
[ ! -e "$conf" ] || fail "purge left the configuration"
[ ! -e "$root/usr/bin/bailiwick" ] || fail "purge left the binary"
[ -e "$root/var/lib/bailiwick/bailiwick.redb" ] || fail "purge removed the data"
echo "check-deb: $(basename "$deb") installs, configures, verifies and purges as expected"
