#!/usr/bin/env bash
# Resident memory of the daemon (BENCHMARKS.md): idle at start, after
# LOGINS logins (default 10,000) and then after WRITES more user edits
# (default 100,000), on one daemon with the default configuration but the
# login rate limits. The logins are examples/login_load.rs on every core;
# the writes are examples/load.rs's `patches` (names and asset groups of a
# fixed set of users), so the data keeps its size and what grows is the
# daemon's. Each phase runs in rounds until its count, read from the
# daemon's /metrics, is reached.
#
#   benches/memory.sh [LOGINS] [WRITES]
set -euo pipefail
cd "$(dirname "$0")/.."
logins="${1:-10000}"
writes="${2:-100000}"

cargo build --release --bin bailiwick --example login_load --example load
bin=target/release/bailiwick
. scripts/lib/daemon.sh
bw_workdir memory
bw_init "$bin" "$work" Memory Memory-Manager-pass-1
bw_serve "$bin" "$work" warn
hashes() { bw_metrics | awk '$1 == "bailiwick_password_hashes_total" { print $2 }'; }
patches() {
    bw_metrics | awk '/^bailiwick_http_requests_total\{method="PATCH",route="\/api\/v1\/users\/\{id\}",status="2xx"\}/ { n += $2 } END { print n + 0 }'
}
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$daemon/status"; }
report() { printf '%-34s %8.1f MiB   %s\n' "$1" "$(awk -v k="$(rss)" 'BEGIN { print k / 1024 }')" "$2"; }

sleep 2
report "idle at start" ""
while [ "$(hashes)" -lt "$logins" ]; do
    target/release/examples/login_load --url "$url" --cert "$cert" --login admin \
        --password Memory-Manager-pass-1 --seconds 30 >"$work/logins.out" 2>&1
done
sleep 2
report "after logins" "$(hashes) password hashes"
while [ "$(patches)" -lt "$writes" ]; do
    target/release/examples/load --url "$url" --cert "$cert" --login admin \
        --password-file "$work/pw" --seconds 30 --workers 64 --mix patches=1 \
        --active 0 --users 400 >"$work/writes.out" 2>&1
done
sleep 2
report "after writes" "$(patches) user edits; database $(du -m "$data/bailiwick.redb" | cut -f1) MiB"
