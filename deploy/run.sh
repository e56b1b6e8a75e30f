#!/usr/bin/env bash
# The main job on a fresh Debian machine: install what is missing, fetch MovieLens-100K,
# build in release mode, then run `agentic demo`: the MovieLens mesh as a live cluster,
# the held-out users of split P1 replayed through the gateway with their clicks, a report
# and pictures in the run directory. Arguments go to the demo (e.g. --duration 60 --json).
# With --eval first, the hand-built mesh is also evaluated offline on P1 (about 10 s)
# and the transport benchmarked against raw C before the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
extras=0
if [[ "${1:-}" == "--eval" ]]; then
    extras=1
    shift
fi
./deploy/install-deps.sh
./deploy/fetch-data.sh
swift build -c release
if ((extras)); then
    .build/release/agentic eval topology/movielens.yaml --out data/recs-p1-test.tsv
    .build/release/agentic bench transport
fi
exec .build/release/agentic demo "$@"
