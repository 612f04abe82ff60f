#!/usr/bin/env bash
# CI's brief fuzz run: builds every target of fuzz/ (nightly, cargo-fuzz) and
# runs each for SECONDS (default 10) from the committed corpus, which alone
# replays every input ever found interesting. A crash fails the run and leaves
# the input in fuzz/artifacts/<target>/. The long runs are fuzz/run-all.sh
# (FUZZING.md).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECONDS_EACH=${1:-10}
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "fuzz smoke: cargo fuzz needs a nightly toolchain (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi
cargo +nightly fuzz build -O
for t in $(cargo +nightly fuzz list); do
    # -runs=0 would only replay the corpus; a few seconds of mutation on top
    # catches a decoder change that breaks near the known inputs. The
    # corpus is copied so CI never grows the committed one.
    work=$(mktemp -d)
    cp -r "corpus/$t/." "$work/"
    log=$(mktemp)
    rc=0
    cargo +nightly fuzz run -O "$t" "$work" -- -max_total_time="$SECONDS_EACH" -print_final_stats=1 >"$log" 2>&1 || rc=$?
    grep -E 'stat::number_of_executed_units' "$log" | sed "s/^/$t: /" || true
    rm -rf "$work"
    if [ "$rc" != 0 ]; then
        tail -40 "$log" >&2
        echo "fuzz smoke: target $t failed (exit $rc); the input is in fuzz/artifacts/$t/" >&2
        exit "$rc"
    fi
    rm -f "$log"
done
