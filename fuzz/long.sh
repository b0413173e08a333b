#!/usr/bin/env bash
# The long run (docs/fuzzing.md): each target, one at a time, to FUZZ_LONG_RUNS
# executions (default 10,000,000) or FUZZ_LONG_SECONDS (default 2400) each,
# whichever comes first, keeping its corpus in fuzz/corpus/<target> and its log in
# fuzz/logs/long-<target>.log. Targets run in the order given (default: all).
# Crashes, timeouts and out-of-memory inputs go to fuzz/artifacts/<target>/.
set -uo pipefail
cd "$(dirname "$0")"
runs=${FUZZ_LONG_RUNS:-10000000}
seconds=${FUZZ_LONG_SECONDS:-2400}
flags=(-O -a -s none)
export RUSTC_BOOTSTRAP=1
cargo fuzz build "${flags[@]}" || exit 1
mkdir -p logs
status=0
for target in "${@:-$(cargo fuzz list)}"; do
    mkdir -p "corpus/$target"
    start=$(date +%s)
    cargo fuzz run "${flags[@]}" "$target" "corpus/$target" "seeds/$target" -- \
        -runs="$runs" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"logs/long-$target.log" 2>&1
    rc=$?
    ((rc == 0)) || status=1
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "logs/long-$target.log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "logs/long-$target.log")
    echo "$target: rc $rc, ${execs:-?} executions in $(($(date +%s) - start)) s (${rate:-?}/s)" | tee -a logs/long.summary
done
exit $status
