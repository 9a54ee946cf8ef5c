#!/bin/sh
# The crash campaign: N rounds of concurrent writes, logins, mail and
# backups, each ended by `kill -9` at a random moment and checked after
# (tests/integration/crash.rs). Rounds run in runs of PER_DIR (default 25)
# on one data directory each, so that a long campaign's data stays the size
# an appliance has and every round checks everything. Prints each run's
# seed; giving SEED back replays the same kill times.
#
#   scripts/crash-campaign.sh N [SEED]
set -eu
cd "$(dirname "$0")/.."
rounds=${1:?usage: scripts/crash-campaign.sh ROUNDS [SEED]}
seed=${2:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
per=${PER_DIR:-25}
echo "crash campaign: $rounds rounds, $per per data directory, seed $seed"
cargo test --release --test integration --no-run
left=$rounds
run=0
while [ "$left" -gt 0 ]; do
    n=$((left < per ? left : per))
    echo "== run $((run + 1)): $n rounds, CRASH_SEED=$((seed + run))"
    CRASH_ROUNDS=$n CRASH_SEED=$((seed + run)) cargo test --release --test integration -- \
        --exact --nocapture crash::never_lose_an_acknowledged_write_across_kill_9_r7_6_r11_3_r12_1
    left=$((left - n))
    run=$((run + 1))
done
echo "crash campaign: $rounds rounds passed (seed $seed)"
