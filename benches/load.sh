#!/usr/bin/env bash
# Mixed-load figures for BENCHMARKS.md, with their baselines from the same run.
#
#   benches/load.sh [SECONDS] [extra arguments for examples/load.rs]
#
# Builds release; measures the raw baselines (examples/baselines.rs) on the
# filesystem of the data directory; starts the daemon on a fresh temporary
# data directory with the default configuration (default argon2 cost, not
# the cheap one of the tests) except the login rate limits, raised so that
# logins measure the daemon and not the limiter; drives it with
# examples/load.rs for SECONDS (default 30); stops it, measures the
# baselines again, and prints the table and the ratios against both. The
# JSON of the three runs is kept in $LOAD_OUT if that is set; with PERF_OUT
# set, the daemon is profiled through the run (see below).
set -euo pipefail

seconds="${1:-30}"
shift || true
cd "$(dirname "$0")/.."

cargo build --release --bin bailiwick --example load --example baselines
bin=target/release/bailiwick

. scripts/lib/daemon.sh
bw_workdir load
bw_init "$bin" "$work" Load Load-Manager-pass-1

echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
# Baselines before and after the load: on a shared machine they drift, and
# the report gives the ratios against their mean with the range they span.
baselines() {
    target/release/examples/baselines --dir "$work" --seconds 5 --json >"$work/baselines-$1.json"
    cat "$work/baselines-$1.json"
}
echo "== baselines before (5 s each, in the data directory's filesystem)"
baselines before

bw_serve "$bin" "$work" "${RUST_LOG:-info}"

echo "== load for ${seconds}s against https://localhost:$port"
# PERF_OUT=DIR: sample the daemon's stacks through the run (cpu-clock works
# in virtual machines without hardware counters) into DIR/perf.data.
perf_pid=""
if [ -n "${PERF_OUT:-}" ]; then
    mkdir -p "$PERF_OUT"
    perf record -e cpu-clock -F 499 --call-graph dwarf,16384 -p "$daemon" \
        -o "$PERF_OUT/perf.data" 2>"$work/perf.log" &
    perf_pid=$!
fi
target/release/examples/load --url "$url" --cert "$cert" \
    --login admin --password-file "$work/pw" --data-dir "$data" --bin "$bin" --daemon-pid "$daemon" \
    --seconds "$seconds" "$@" --json >"$work/load.json"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid"
    wait "$perf_pid" || true
fi
kill -TERM "$daemon"
wait "$daemon" || true
daemon=""
echo "== baselines after"
baselines after
echo "== load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
target/release/examples/load --report "$work/load.json" \
    --baselines "$work/baselines-before.json" --baselines "$work/baselines-after.json"
if [ -n "${LOAD_OUT:-}" ]; then
    mkdir -p "$LOAD_OUT"
    cp "$work"/baselines-*.json "$work/load.json" "$LOAD_OUT/"
fi
