#!/usr/bin/env bash
# Smoke run of every fuzz target (docs/fuzzing.md), for CI: builds the targets,
# then runs each over its seed corpus and a fixed number of mutations from a
# fixed seed, so a green run stays green until the code changes. Any crash,
# timeout or out-of-memory fails the script; the input is left in
# fuzz/artifacts/<target>/ for `cargo fuzz tmin`.
#
# FUZZ_SMOKE_RUNS (default 20000) mutations per target, capped at
# FUZZ_SMOKE_SECONDS (default 60) each; FUZZ_SMOKE_SEED (default 1).
set -euo pipefail
cd "$(dirname "$0")"

runs=${FUZZ_SMOKE_RUNS:-20000}
seconds=${FUZZ_SMOKE_SECONDS:-60}
seed=${FUZZ_SMOKE_SEED:-1}
# The build flags of the long run too: optimised, overflow checks and debug
# assertions on, no sanitizer (the fuzzed code is safe Rust; docs/fuzzing.md).
flags=(-O -a -s none)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked --version 0.13.2
fi
# cargo-fuzz passes nightly-only flags (-Zsanitizer, -Cpasses=sancov); stable
# rustc accepts them with RUSTC_BOOTSTRAP=1.
export RUSTC_BOOTSTRAP=1

echo "== cargo fmt --check (fuzz/ is outside the workspace that .ci/run formats)"
cargo fmt --check

echo "== cargo fuzz build ${flags[*]}"
cargo fuzz build "${flags[@]}"

# A fresh corpus each time: the seeds plus what this run finds, then thrown away.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The claims target writes its throwaway repository under TMPDIR: here, $work.
export TMPDIR="$work"
failed=()
for target in $(cargo fuzz list); do
    mkdir -p "$work/$target"
    echo "== fuzz $target: $runs runs (at most ${seconds}s)"
    if ! cargo fuzz run "${flags[@]}" "$target" "$work/$target" "seeds/$target" -- \
        -runs="$runs" -max_total_time="$seconds" -seed="$seed" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>"$work/$target.log"; then
        failed+=("$target")
        tail -n 60 "$work/$target.log"
    fi
    grep -E '^stat::number_of_executed_units|^stat::average_exec_per_sec' "$work/$target.log" || true
done
if ((${#failed[@]})); then
    echo "fuzz smoke run: crashes in ${failed[*]} (inputs under fuzz/artifacts/; see docs/fuzzing.md)" >&2
    exit 1
fi
echo "fuzz smoke run: every target clean"
