#!/usr/bin/env bash
# The test command: installs what is missing, builds everything (the tests start the
# real `agentic` executable as a separate process), then runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
# The data tests (split P1 equals shared/eval's) need MovieLens; fetched once, checked by SHA-256.
./deploy/fetch-data.sh
swift build --build-tests
swift test --skip-build "$@"
