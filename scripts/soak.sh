#!/usr/bin/env bash
# Soak: a steady mixed load for HOURS, sampling once a minute what must not
# grow without bound: the daemon's resident memory, open file descriptors,
# threads, the activity and mail outboxes, and the minute's p99 latency
# (from the daemon's own histogram in /metrics, to a bucket's bound).
#
#   scripts/soak.sh HOURS [OUT_DIR]
#
# Writes OUT_DIR/soak.csv (default target/soak/) and, when gnuplot is
# installed, OUT_DIR/soak.png; prints the first and the last tenth of the
# run side by side. The load is examples/load.rs with a mix whose writes
# edit users rather than add them, so that the data itself stays the same
# size and any growth is the daemon's.
set -euo pipefail

hours="${1:?usage: scripts/soak.sh HOURS [OUT_DIR]}"
cd "$(dirname "$0")/.."
out="${2:-target/soak}"
mkdir -p "$out"
seconds="$(awk -v h="$hours" 'BEGIN { printf "%d", h * 3600 }')"
[ "$seconds" -ge 120 ] || { echo "soak: give at least 2 minutes (HOURS=0.034)" >&2; exit 2; }

cargo build --release --bin bailiwick --example load
bin=target/release/bailiwick

. scripts/lib/daemon.sh
bw_workdir soak
bw_init "$bin" "$work" Soak Soak-Manager-pass-1
bw_serve "$bin" "$work" warn

target/release/examples/load --url "$url" --cert "$cert" --login admin \
    --password-file "$work/pw" --seconds "$seconds" --workers 8 \
    --mix checks=60,batches=5,logins=5,reads=25,patches=5 \
    --active 40 --data-dir "$data" --bin "$bin" --json >"$work/load.json" 2>"$work/load.err" &
load=$!
bw_also_stop=$load


csv="$out/soak.csv"
echo "minute,rss_kib,fds,threads,activity_outbox,mail_outbox,requests,p99_le_seconds" >"$csv"
prev="$work/prev.metrics"
bw_metrics >"$prev"
echo "soak: $hours h against $url; samples in $csv"
minutes=$((seconds / 60))
for minute in $(seq 1 "$minutes"); do
    sleep 60
    kill -0 "$daemon" 2>/dev/null || { echo "soak: the daemon died" >&2; cat "$work/stderr" >&2; exit 1; }
    now="$work/now.metrics"
    bw_metrics >"$now"
    rss="$(awk '/^VmRSS:/ { print $2 }' "/proc/$daemon/status")"
    fds="$(find "/proc/$daemon/fd" -mindepth 1 -maxdepth 1 | wc -l)"
    threads="$(awk '/^Threads:/ { print $2 }' "/proc/$daemon/status")"
    gauge() { awk -v n="$1" '$1 == n { print $2 }' "$now"; }
    # The minute's requests and its p99: the first bucket whose count grew
    # by at least 99 % of all the minute's requests.
    p99="$(awk '
        FNR == NR && /^bailiwick_http_request_duration_seconds_bucket/ { before[$1] = $2; next }
        /^bailiwick_http_request_duration_seconds_bucket/ {
            split($1, a, "\""); le[++n] = a[2]; grew[n] = $2 - before[$1]
        }
        END {
            total = grew[n]
            for (i = 1; i <= n; i++) if (total > 0 && grew[i] >= 0.99 * total) { print total "," le[i]; exit }
            print total ",NaN"
        }' "$prev" "$now")"
    echo "$minute,$rss,$fds,$threads,$(gauge bailiwick_activity_outbox_depth),$(gauge bailiwick_mail_outbox_depth),$p99" >>"$csv"
    mv "$now" "$prev"
done
wait "$load" || { echo "soak: the load failed" >&2; cat "$work/load.err" >&2; exit 1; }
bw_also_stop=""

# The first tenth of the run beside the last: what grows shows here.
awk -F, -v n="$minutes" '
    NR == 1 { next }
    { tenth = int(n / 10); if (tenth < 1) tenth = 1 }
    $1 <= tenth { for (i = 2; i <= 6; i++) first[i] += $i; nf++ }
    $1 > n - tenth { for (i = 2; i <= 6; i++) last[i] += $i; nl++ }
    END {
        split("rss_kib fds threads activity_outbox mail_outbox", name, " ")
        printf "%-16s %12s %12s\n", "mean of", "first tenth", "last tenth"
        for (i = 2; i <= 6; i++) printf "%-16s %12.0f %12.0f\n", name[i - 1], first[i] / nf, last[i] / nl
    }' "$csv"

if command -v gnuplot >/dev/null 2>&1; then
    gnuplot <<PLOT
set terminal pngcairo size 1000,900 font ",10"
set output "$out/soak.png"
set datafile separator ","
set key autotitle columnhead left top
set multiplot layout 4,1 title "bailiwick soak, $hours h (one sample a minute)"
set ylabel "RSS MiB"; plot "$csv" using 1:(\$2/1024) with lines title "resident memory"
set ylabel "count"; plot "$csv" using 1:3 with lines title "open fds", "" using 1:4 with lines title "threads"
set ylabel "entries"; plot "$csv" using 1:5 with lines title "activity outbox", "" using 1:6 with lines title "mail outbox"
set ylabel "seconds"; set xlabel "minute"; plot "$csv" using 1:8 with steps title "p99 (bucket bound)"
unset multiplot
PLOT
    echo "soak: plot in $out/soak.png"
else
    echo "soak: install gnuplot for the plot (apt-get install gnuplot-nox); the CSV is in $csv"
fi
