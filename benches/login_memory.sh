#!/usr/bin/env bash
# Resident memory of the daemon before and after a run of logins, for each
# binary given (e.g. the one before a change and the one after), in the same
# run: default argon2 parameters, login rate limits raised, logins on every
# core through examples/login_load.rs.
#   benches/login_memory.sh SECONDS BINARY...
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="$1"; shift
cargo build --release --example login_load -q
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
echo "| binary | RSS idle at start | RSS after | logins | growth |"
echo "|---|---|---|---|---|"
for bin in "$@"; do
    dir=$(mktemp -d)
    printf 'Bench-Password-42\n' >"$dir/pw"
    "$bin" init --data-dir "$dir/data" --subscription Bench --manager-login admin \
        --manager-email admin@example.com --password-file "$dir/pw" >/dev/null
    BAILIWICK_AUTH_RATE_PER_ADDRESS_PER_MINUTE=1000000 \
    BAILIWICK_AUTH_RATE_PER_LOGIN_PER_MINUTE=1000000 \
        "$bin" serve --data-dir "$dir/data" --listen 127.0.0.1:0 >"$dir/out" 2>/dev/null &
    pid=$!
    for _ in $(seq 300); do
        grep -q "^listening on" "$dir/out" && break
        kill -0 "$pid" 2>/dev/null || { echo "$bin did not start" >&2; exit 1; }
        sleep 0.2
    done
    port=$(sed -n 's|^listening on https://127.0.0.1:\([0-9]*\)/*$|\1|p' "$dir/out")
    sleep 2
    before=$(rss "$pid")
    target/release/examples/login_load --url "https://localhost:$port" \
        --cert "$dir/data/tls/cert.pem" --password Bench-Password-42 \
        --seconds "$seconds" >"$dir/load" 2>&1
    sleep 2
    after=$(rss "$pid")
    logins=$(curl -sk "https://127.0.0.1:$port/metrics" \
        | awk '/^bailiwick_password_hashes_total / { print $2 }')
    kill "$pid"; wait "$pid" || true
    awk -v b="$bin" -v s="$before" -v a="$after" -v n="$logins" 'BEGIN {
        printf "| %s | %.1f MB | %.1f MB | %d | %.1f MB |\n", b, s/1024, a/1024, n, (a-s)/1024 }'
    rm -rf "$dir"
done
