#!/usr/bin/env bash
# The main job on a fresh Debian machine: install what is missing, fetch MovieLens-100K,
# build in release mode, evaluate the hand-built mesh offline on split P1, then measure
# the transport against raw C. Arguments go to the benchmark (e.g. --json).
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
./deploy/fetch-data.sh
swift build -c release
.build/release/agentic eval topology/movielens.yaml --out data/recs-p1-test.tsv
.build/release/agentic bench transport "$@"
