#!/usr/bin/env bash
# Runs every cargo-fuzz target for FUZZ_SECONDS each (default 10: a smoke run for CI; the
# recorded runs in docs/fuzzing.md used 600 or more). Stable toolchain, no sanitizer
# (`-s none`); set RUSTC_BOOTSTRAP=1 and FUZZ_SANITIZER=address for the address sanitizer.
#
# New inputs go to a scratch corpus, so the committed seeds in fuzz/corpus change only
# when someone copies findings there on purpose. A crash leaves its input in
# fuzz/artifacts/<target>/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-10}"
sanitizer="${FUZZ_SANITIZER:-none}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(responses restore driver)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --version 0.13.2 --locked
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

for target in "${targets[@]}"; do
    mkdir -p "$scratch/$target" "fuzz/corpus/$target"
    echo "fuzzing $target for ${seconds}s"
    log="$scratch/$target.log"
    if ! cargo fuzz run -s "$sanitizer" "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        echo "fuzz target $target failed: its input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|INFO: seed corpus)' "$log" || true
    grep -E 'cov: [0-9]+' "$log" | tail -n 1 || true
done
