#!/usr/bin/env bash
# The transport's tests under AddressSanitizer: every target and the `agentic` executable the
# cross-process tests start are built with -sanitize=address in their own scratch path
# (.build/asan), then TransportTests and AgentProtocolTests run (NNG sockets, envelopes,
# req/rep, pub/sub, other processes). A heap overflow, use-after-free or leak of a buffer
# across the C boundary stops the test process with a report, which fails this script.
#
# UndefinedBehaviorSanitizer is not here: swiftc offers -sanitize=undefined only for C
# targets on Linux, and the only C under the transport is Debian's prebuilt libnng; Swift
# traps on overflow and out-of-bounds access in every build.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=.build/asan
swift build --build-tests --sanitize=address --scratch-path "$scratch" >"$scratch.build.log" 2>&1 \
    || { tail -30 "$scratch.build.log" >&2; echo "sanitize: the build failed (log: $scratch.build.log)" >&2; exit 1; }
# detect_leaks=0: the Swift runtime's own caches (metadata, conformances) are never freed and
# LeakSanitizer reports them at exit; the checks that matter (heap misuse) stay on.
ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:${ASAN_OPTIONS:-}" \
    swift test --skip-build --sanitize=address --scratch-path "$scratch" --filter 'TransportTests|AgentProtocolTests' "$@"
