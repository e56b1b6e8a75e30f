#!/usr/bin/env bash
# Coverage-guided fuzzing of the decoders that read outside bytes (Sources/FuzzTargets):
# `agentic-fuzz` built with libFuzzer and AddressSanitizer (release, its own scratch path so
# the regular build is untouched), each target run for a bounded time from the corpus in
# Tests/FuzzTests/Corpus plus what earlier local runs kept (.build/fuzz-corpus).
#
#   ./deploy/fuzz.sh [--seconds N] [--target NAME]... [--jobs N]
#
# Prints one line per target (executions, executions per second, corpus size, new inputs)
# and exits 1 if any target broke a property or crashed; the input is saved under
# .build/fuzz-crashes/ with the command that replays it. A fixed crash's input belongs in
# Tests/FuzzTests/Corpus/TARGET/, which every `swift test` replays.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=60
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --target) targets+=("$2"); shift 2 ;;
        *) echo "usage: $0 [--seconds N] [--target NAME]..." >&2; exit 2 ;;
    esac
done
[ ${#targets[@]} -eq 0 ] && targets=(envelope wire topology request response)

scratch=.build/fuzz
swift build -c release --product agentic-fuzz --scratch-path "$scratch" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING >"$scratch.build.log" 2>&1 \
    || { tail -30 "$scratch.build.log" >&2; echo "fuzz: the build failed (log: $scratch.build.log)" >&2; exit 1; }
binary="$scratch/release/agentic-fuzz"
mkdir -p .build/fuzz-crashes
failed=0
printf '%-10s %12s %10s %8s %6s\n' target executions exec/s corpus new
for target in "${targets[@]}"; do
    work=".build/fuzz-corpus/$target"
    mkdir -p "$work"
    before=$(find "$work" -type f | wc -l)
    log=".build/fuzz-crashes/$target.log"
    # -rss_limit_mb: a leak or an allocation the size of a length field fails the run too.
    if AGENTIC_FUZZ_TARGET="$target" SWIFT_BACKTRACE=enable=no "$binary" "$work" "Tests/FuzzTests/Corpus/$target" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix=".build/fuzz-crashes/$target-" >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed=1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    after=$(find "$work" -type f | wc -l)
    printf '%-10s %12s %10s %8s %6s %s\n' "$target" "${runs:-?}" "$(( ${runs:-0} / seconds ))" "$after" "$(( after - before ))" "$status"
    if [ "$status" = FAILED ]; then
        grep -E 'Fatal error|ERROR: |SUMMARY|AGENTIC_FUZZ_TARGET' "$log" | head -5 >&2 || true
        for input in .build/fuzz-crashes/"$target"-*; do
            [ -f "$input" ] && echo "  replay: swift run agentic-fuzz $target $input" >&2
        done
        echo "  log: $log" >&2
    fi
done
exit $failed
