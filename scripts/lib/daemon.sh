# Shared by benches/load.sh, benches/memory.sh and scripts/soak.sh (source
# it from the repository's root): a work directory removed on exit, a fresh
# data directory, and the daemon on it with the default configuration except
# the login rate limits, raised so that a load's logins reach argon2 as the
# busiest hour of an appliance would.

# bw_workdir NAME: a new temporary directory in $work. On exit the daemon
# ($daemon) and any pid in $bw_also_stop are stopped, and $work is removed.
bw_workdir() {
    work="$(mktemp -d "${TMPDIR:-/tmp}/bailiwick-$1.XXXXXX")"
    daemon=""
    bw_also_stop=""
    trap bw_cleanup EXIT
}

bw_cleanup() {
    for pid in $bw_also_stop $daemon; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}

# bw_init BIN WORK SUBSCRIPTION PASSWORD: `init` into WORK/data, with the
# Manager `admin` whose password is in WORK/pw. Sets $data.
bw_init() {
    data="$2/data"
    printf '%s\n' "$4" >"$2/pw"
    chmod 600 "$2/pw"
    "$1" init --data-dir "$data" --subscription "$3" --manager-login admin \
        --manager-email admin@example.com --password-file "$2/pw" >/dev/null
}

# bw_serve BIN WORK LOG_FILTER: `serve` on $data on a free port, its
# output in WORK/stdout and WORK/stderr. Sets $daemon (its pid), $port,
# $url and $cert (the daemon's certificate, for clients to pin); exits with
# the daemon's stderr if it does not start.
bw_serve() {
    env -u STATE_DIRECTORY -u NOTIFY_SOCKET \
        BAILIWICK_AUTH_RATE_PER_ADDRESS_PER_MINUTE=1000000 \
        BAILIWICK_AUTH_RATE_PER_LOGIN_PER_MINUTE=1000000 \
        RUST_LOG="$3" \
        "$1" serve --data-dir "$data" --listen 127.0.0.1:0 >"$2/stdout" 2>"$2/stderr" &
    daemon=$!
    port=""
    for _ in $(seq 600); do
        port="$(sed -n 's|^listening on https://127.0.0.1:\([0-9]*\).*|\1|p' "$2/stdout")"
        if [ -n "$port" ]; then
            url="https://localhost:$port"
            cert="$data/tls/cert.pem"
            return 0
        fi
        if ! kill -0 "$daemon" 2>/dev/null; then
            echo "the daemon exited:" >&2
            cat "$2/stderr" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "the daemon did not start within a minute" >&2
    exit 1
}

# bw_metrics: the running daemon's /metrics, over HTTPS with its certificate.
bw_metrics() {
    curl -sS --cacert "$cert" --resolve "localhost:$port:127.0.0.1" "$url/metrics"
}
