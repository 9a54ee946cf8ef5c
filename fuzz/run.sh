#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 30) and prints a summary
# line per target: runs, and whether it found a crash (which fails the script).
# Needs cargo-fuzz; works on stable Rust through RUSTC_BOOTSTRAP.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-30}"
export RUSTC_BOOTSTRAP=1
targets=$(cargo fuzz list)
cargo fuzz build --release
status=0
for t in $targets; do
  mkdir -p "corpus/$t"
  # Committed starting inputs (seeds/<target>/, read only) and a dictionary
  # (<target>.dict) where a target has them.
  extra=()
  if [ -d "seeds/$t" ]; then extra+=("seeds/$t"); fi
  flags=()
  if [ -f "$t.dict" ]; then flags+=("-dict=$t.dict"); fi
  log=$(mktemp)
  if cargo fuzz run --release "$t" "corpus/$t" ${extra[@]+"${extra[@]}"} -- ${flags[@]+"${flags[@]}"} -max_total_time="$secs" -rss_limit_mb=2048 >"$log" 2>&1; then
    runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | tail -1 | grep -Eo '[0-9]+' || echo "?")
    echo "fuzz $t: ${secs}s, ${runs} runs, 0 crashes"
  else
    echo "fuzz $t: FAILED"; tail -40 "$log"; status=1
  fi
  rm -f "$log"
done
exit $status
