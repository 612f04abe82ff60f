#!/usr/bin/env bash
# Runs every fuzz target for RUNS executions (default 10 million) or an hour,
# whichever comes first, growing the committed corpus; prints libFuzzer's
# final stats per target into logs/.
set -euo pipefail
cd "$(dirname "$0")"
RUNS=${RUNS:-10000000}
mkdir -p logs
for t in ${TARGETS:-$(cargo +nightly fuzz list)}; do
    cargo +nightly fuzz run -O "$t" "corpus/$t" -- \
        -runs="$RUNS" -max_total_time=3600 -print_final_stats=1 >"logs/$t.log" 2>&1
    echo "$t: $(grep -E 'stat::number_of_executed_units' "logs/$t.log")"
done
